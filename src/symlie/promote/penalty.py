"""The promotion penalty for torch models: ||S_F||_* (or ||S_F||_F^2) over a candidate family, differentiable."""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from ..derivative import lie_derivative
from ..derivative.constraints import linear_map_lie_derivative
from ..discovery import resolve_candidates, sample_sufficiency
from ..lie.actions import MatrixAction, as_action
from ..linalg import StreamingFactor
from ..utils.errors import SymlieError, UnderdeterminedWarning
from ..utils.validation import as_tensor, check_weights, count_distinct_rows

__all__ = ["NuclearNormPenalty", "layer_operator", "quadratic_form_operator", "homogeneous_generators", "LayerFields",
           "layer_fields"]

DT = torch.float64


def _layer_action(candidates, rep_in) -> MatrixAction:
    action = as_action(candidates, rep_in, None, orthonormalize=True, name="candidates", matrices=False)
    if not isinstance(action, MatrixAction):
        raise TypeError("candidates: layer operators need matrix candidates (a LieAlgebra or Group)")
    return action


@dataclass(frozen=True)
class LayerFields:
    """The candidates as they act on one layer, prepared once (:func:`layer_fields`) and reusable by
    :func:`layer_operator` and :func:`quadratic_form_operator` in place of (candidates, rep_in, rep_out).

    Attributes: ``M`` (q, in, in) and ``c`` (q, in) or None: the input field v_xi(x) = M_xi x + c_xi of rep_in
    (c None for a linear representation); ``Dout`` (q, out, out) or None: drho_out of every candidate;
    ``rep_in``, ``rep_out``: the representations (for messages). Orthonormalised candidates, float64 (cast to
    the parameters' dtype and device where used)."""

    M: torch.Tensor
    c: torch.Tensor | None
    Dout: torch.Tensor | None
    rep_in: object
    rep_out: object

    @property
    def q(self) -> int:
        return int(self.M.shape[0])

    def to(self, like: torch.Tensor) -> "LayerFields":
        """The same fields in the dtype and on the device of ``like`` (self when they already are)."""
        if self.M.dtype == like.dtype and self.M.device == like.device:
            return self
        cast = lambda t: None if t is None else t.to(device=like.device, dtype=like.dtype)
        return LayerFields(self.M.to(device=like.device, dtype=like.dtype), cast(self.c), cast(self.Dout),
                           self.rep_in, self.rep_out)


def layer_fields(candidates, rep_in, rep_out=None) -> LayerFields:
    """Prepare ``candidates`` (a LieAlgebra or Group, orthonormalised) for a layer with input action ``rep_in``
    (linear, or affine such as ``sl.Point(sl.SE(3))``) and linear output representation ``rep_out`` (None: only
    the input part, e.g. for :func:`quadratic_form_operator`)."""
    action = _layer_action(candidates, rep_in)
    if rep_out is not None and not getattr(rep_out, "is_linear", True):
        raise SymlieError(f"rep_out: {rep_out} is an affine action; a layer's outputs need a linear representation "
                          f"(for an affine group use rep_out.tangent(), the linear part)")
    if getattr(rep_in, "is_linear", True):
        M, c = rep_in.drho(action.generators).to(DT), None
    else:
        M, c = action.affine_parts()
    Dout = None if rep_out is None else rep_out.drho(action.generators).to(DT)
    return LayerFields(M, c, Dout, rep_in, rep_out)


def _fields(candidates, rep_in, rep_out, need_out: bool) -> LayerFields:
    if isinstance(candidates, LayerFields):
        if need_out and candidates.Dout is None:
            raise SymlieError("candidates: these LayerFields were prepared without rep_out (layer_fields(candidates, "
                              "rep_in, rep_out) gives the output part)")
        return candidates
    if rep_in is None or (need_out and rep_out is None):
        raise SymlieError("rep_in, rep_out: required unless candidates are prepared LayerFields")
    return layer_fields(candidates, rep_in, rep_out if need_out else None)


def layer_operator(weight: torch.Tensor, bias: torch.Tensor | None, candidates, rep_in=None,
                   rep_out=None) -> torch.Tensor:
    """Parameter-form Lie derivative of an affine layer x -> W x + b (differentiable in W, b).

    With the input field v_xi(x) = M_xi x + c_xi of ``rep_in`` (M_xi = drho_in(xi), c_xi = 0 for a linear
    representation; an affine input action such as ``sl.Point(sl.SE(3))`` has translations c_xi) and
    Out_xi = drho_out(xi): L_xi F(x) = W v_xi(x) - drho_out(xi) (W x + b), i.e.

        L_xi W = W M_xi - drho_out(xi) W          (:func:`linear_map_lie_derivative`, the one sign)
        L_xi b = W c_xi - drho_out(xi) b           (-drho_out(xi) b for linear inputs)

    (the action (W, b) -> (rho_out W rho_in^{-1}, rho_out b) of linear inputs). Returns the
    (out * in [+ out], q) matrix whose column j stacks both (row-major vec(L W), then L b; the constant part is
    present for affine inputs even when ``bias`` is None, since W c_xi is then nonzero). ``rep_out`` must be a
    linear representation (for outputs that move with the state under an affine group use its tangent,
    ``sl.V(G)``: the linear part). ``candidates`` may be :class:`LayerFields` prepared by :func:`layer_fields`
    (then ``rep_in`` / ``rep_out`` are not needed). dtype: W's; candidates orthonormalised (float64 bases cast
    to W's dtype).
    """
    f = _fields(candidates, rep_in, rep_out, True).to(weight)
    Din, cin, Dout = f.M, f.c, f.Dout
    assert Dout is not None
    if weight.shape != (Dout.shape[1], Din.shape[1]):
        raise ValueError(f"weight: expected shape ({Dout.shape[1]}, {Din.shape[1]}) for {f.rep_in} -> {f.rep_out}, "
                         f"got {tuple(weight.shape)}")
    if bias is not None and bias.shape != (Dout.shape[1],):
        raise ValueError(f"bias: expected shape ({Dout.shape[1]},) for {f.rep_out}, got {tuple(bias.shape)}")
    LW = linear_map_lie_derivative(weight, Din, Dout)                    # the one assembly's sign
    cols = [LW.reshape(f.q, -1)]
    if cin is not None:
        Lb = torch.einsum("oi,ji->jo", weight, cin)
        if bias is not None:
            Lb = Lb - torch.einsum("jop,p->jo", Dout, bias)
        cols.append(Lb)
    elif bias is not None:
        cols.append(-torch.einsum("jop,p->jo", Dout, bias))
    return torch.cat(cols, 1).T


def homogeneous_generators(candidates, rep_in=None, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The candidates' fields on y = [1, x]: H_xi (q, n + 1, n + 1) = [[0, 0], [c_xi, M_xi]] with
    v_xi(x) = M_xi x + c_xi the field of ``rep_in`` (so dy/dt = H_xi y along the flow of xi; the first
    coordinate, the constant 1, does not move). Orthonormalised candidates (or prepared :class:`LayerFields`),
    in ``dtype``."""
    f = _fields(candidates, rep_in, None, False)
    M = f.M.to(dtype)
    q, n = M.shape[0], M.shape[1]
    H = M.new_zeros(q, n + 1, n + 1)
    H[:, 1:, 1:] = M
    if f.c is not None:
        H[:, 1:, 0] = f.c.to(dtype)
    return H


def quadratic_form_operator(Q: torch.Tensor, candidates, rep_in=None) -> torch.Tensor:
    """Parameter-form Lie derivative of the invariant quadratic s(x) = [1, x]^T Q [1, x] (differentiable in Q).

    Q ((n + 1), (n + 1)) is a form on y = [1, x] (symmetrised: s only sees (Q + Q^T) / 2). Along the flow of
    xi the input field of ``rep_in`` moves y by dy/dt = H_xi y (:func:`homogeneous_generators`), and the
    output is invariant, so (L_xi s)(x) = d/dt s(exp(t xi) x)|_0 = y^T (L_xi Q) y with

        L_xi Q = Q H_xi + H_xi^T Q = :func:`linear_map_lie_derivative` (Q, H, -H^T)

    (Q maps the representation y to its dual, whose drho is -H^T: the one sign convention). Returns the
    ((n + 1)^2, q) matrix whose column j is the row-major vec of the symmetric L_{xi_j} Q, so the Euclidean
    norm of a column is the Frobenius norm of the form. ``candidates`` may be prepared :class:`LayerFields`.
    dtype: Q's.
    """
    if not isinstance(Q, torch.Tensor) or Q.ndim != 2 or Q.shape[0] != Q.shape[1]:
        got = tuple(Q.shape) if isinstance(Q, torch.Tensor) else type(Q).__name__
        raise ValueError(f"Q: expected a square ((n + 1), (n + 1)) form on [1, x], got {got}")
    f = _fields(candidates, rep_in, None, False).to(Q)
    H = homogeneous_generators(f, dtype=Q.dtype)
    if H.shape[1] != Q.shape[0]:
        raise ValueError(f"Q: expected shape ({H.shape[1]}, {H.shape[1]}) for inputs {f.rep_in} of size "
                         f"{H.shape[1] - 1} (a form on [1, x]), got {tuple(Q.shape)}")
    Qs = 0.5 * (Q + Q.T)
    LQ = linear_map_lie_derivative(Qs, H, -H.transpose(1, 2))
    return LQ.reshape(H.shape[0], -1).T


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
