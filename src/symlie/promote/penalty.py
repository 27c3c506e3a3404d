"""The promotion penalty for torch models: ||S_F||_* (or ||S_F||_F^2) over a candidate family, differentiable."""
from __future__ import annotations

import warnings

import torch

from ..derivative import lie_derivative
from ..derivative.constraints import linear_map_lie_derivative
from ..discovery import resolve_candidates, sample_sufficiency
from ..lie.actions import MatrixAction, as_action
from ..linalg import StreamingFactor
from ..utils.errors import UnderdeterminedWarning
from ..utils.validation import as_tensor, check_weights, count_distinct_rows

__all__ = ["NuclearNormPenalty", "layer_operator"]


def layer_operator(weight: torch.Tensor, bias: torch.Tensor | None, candidates, rep_in, rep_out) -> torch.Tensor:
    """Parameter-form Lie derivative of an affine layer x -> W x + b (differentiable in W, b).

    L_xi W = W drho_in(xi) - drho_out(xi) W and L_xi b = -drho_out(xi) b (the action (W, b) ->
    (rho_out W rho_in^{-1}, rho_out b)); returns the (out * in [+ out], q) matrix whose column j stacks both.
    """
    action = as_action(candidates, rep_in, None, orthonormalize=True, name="candidates", matrices=False)
    if not isinstance(action, MatrixAction):
        raise TypeError("candidates: layer operators need matrix candidates (a LieAlgebra or Group)")
    gens = action.generators
    Din = rep_in.drho(gens).to(weight.dtype)                             # (q, in, in)
    Dout = rep_out.drho(gens).to(weight.dtype)                           # (q, out, out)
    if weight.shape != (Dout.shape[1], Din.shape[1]):
        raise ValueError(f"weight: expected shape ({Dout.shape[1]}, {Din.shape[1]}) for {rep_in} -> {rep_out}, got "
                         f"{tuple(weight.shape)}")
    LW = linear_map_lie_derivative(weight, Din, Dout)                    # the one assembly's sign
    cols = [LW.reshape(action.dim, -1)]
    if bias is not None:
        cols.append(-torch.einsum("jop,p->jo", Dout, bias))
    return torch.cat(cols, 1).T


class NuclearNormPenalty(torch.nn.Module):
    """R(F) = ||S_F||_* (or ||S_F||_F^2): a differentiable symmetry penalty over a candidate algebra.

    ``penalty(model)`` evaluates S_F = [L_{xi_j} F at the stored points]_j (rows scaled by sqrt(w_n / sum w))
    with :func:`symlie.lie_derivative`, differentiable in the model's parameters, and returns its nuclear
    norm. ``penalty(model_1, model_2, ...)`` or matrices (rows, q) (e.g. from :func:`layer_operator`) stack the
    operators along the rows before the norm: one common symmetry sub-algebra for all of them.

    Args:
        candidates: the candidate algebra (or Group), orthonormalised (the nuclear norm depends on the inner
            product of the algebra, not on which orthonormal basis is used).
        X: (N, n_in) points where the Lie derivatives are evaluated (their dtype is used).
        rep_in, rep_out, dynamics: as in :func:`symlie.discover`.
        weights: optional non-negative weights of the points.
        kind: ``"nuclear"`` (selects a sub-group: the values the data allow go exactly to zero) or
            ``"frobenius"`` (sum of squared Lie derivatives: smooth, but shrinks every value proportionally and
            zeroes none unless the whole candidate group fits the data).
        autodiff: as in :func:`symlie.lie_derivative` (must stay differentiable: all modes are).
    """

    X: torch.Tensor  # buffers (register_buffer)
    sqrt_w: torch.Tensor

    def __init__(self, candidates, X, *, rep_in=None, rep_out=None, dynamics: bool = False, weights=None,
                 kind: str = "nuclear", autodiff: str = "auto"):
        super().__init__()
        if kind not in ("nuclear", "frobenius"):
            raise ValueError(f"kind: expected 'nuclear' or 'frobenius', got {kind!r}")
        x = as_tensor(X, "X", ndim=2)
        if x.shape[0] == 0:
            raise ValueError("X: got 0 points")
        self.action, _ = resolve_candidates(candidates, rep_in, rep_out, x.shape[1], dynamics=dynamics)
        self.candidates = self.action.algebra if isinstance(self.action, MatrixAction) else None
        if isinstance(self.action, MatrixAction):
            self.rep_in, self.rep_out = self.action.rep_in, self.action.rep_out
        self.kind, self.autodiff = kind, autodiff
        self.register_buffer("X", x)
        w = check_weights(weights, x.shape[0], normalize=True, dtype=x.dtype)
        assert w is not None  # normalize=True never returns None
        self.register_buffer("sqrt_w", w.sqrt())
        self._check_points(x, w)

    def _check_points(self, x: torch.Tensor, w: torch.Tensor) -> None:
        """The model-free sufficiency check of :func:`symlie.discovery.sample_sufficiency` on the stored points:
        candidates acting trivially on all of them (fixed points) get no penalty whatever the model, so the
        penalty would keep them as symmetries for free. Sets ``status`` / ``status_reason``; warns."""
        a = self.action
        xs = x[w > 0]
        parts = [a.vector_fields(xs).to(torch.float64)]
        n_out = a.n_out or a.dim      # outputs unknown until a model is given: only the trivial directions count
        if a.acts_on_outputs and a.n_out:
            om = a.output_matrices(xs, a.n_out)
            if om is not None:
                parts.append(om.reshape(a.dim, xs.shape[0], -1).to(torch.float64))
        fac = StreamingFactor(a.dim, "qr")
        fac.add(torch.cat(parts, -1).permute(1, 2, 0).reshape(-1, a.dim))
        R, _, _ = fac.reduce(torch.zeros(1, dtype=torch.float64), False)
        res = sample_sufficiency(R, count_distinct_rows(xs), n_out, a.dim, x.dtype, what=f"the {a.dim} candidates")
        self.status, self.status_reason = res["status"], res["status_reason"]
        if self.status != "ok":
            warnings.warn(UnderdeterminedWarning(f"NuclearNormPenalty: X: {self.status_reason}"), stacklevel=3)

    def operator(self, model) -> torch.Tensor:
        """S_F (N n_out, q), differentiable in the parameters of ``model``."""
        L = lie_derivative(model, self.action, self.X, autodiff=self.autodiff)
        if L.ndim == 2:
            L = L.unsqueeze(-1)
        L = L * self.sqrt_w[None, :, None]
        return L.permute(1, 2, 0).reshape(-1, L.shape[0])

    def forward(self, *terms) -> torch.Tensor:
        if not terms:
            raise ValueError("NuclearNormPenalty: give at least one model or operator matrix")
        mats = []
        for t in terms:
            if isinstance(t, torch.Tensor):
                if t.ndim != 2 or t.shape[1] != self.action.dim:
                    raise ValueError(f"terms: an operator matrix must have shape (rows, {self.action.dim}), got "
                                     f"{tuple(t.shape)}")
                mats.append(t)
            else:
                mats.append(self.operator(t))
        S = torch.cat(mats, 0) if len(mats) > 1 else mats[0]
        if self.kind == "frobenius":
            return (S ** 2).sum()
        return torch.linalg.matrix_norm(S, ord="nuc")
