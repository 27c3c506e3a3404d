"""The one constraint assembly: the Lie derivative of parametrised models, written once with one sign.

Every "enforce" constraint in symlie is the Lie derivative (L_xi F)(x) = DF(x) v_xi(x) - Out_xi F(x) of
:mod:`symlie.derivative` set to zero, plus K_h F - F = 0 for discrete generators h:

  * a constant model F = w in a representation R (invariant vectors, :func:`invariance_constraints`):
    L_xi F = -drho_R(xi) w, K_h F - F = (rho_R(h)^{-1} - I) w;
  * a linear map F_W(x) = W x between representations (equivariant bases and layers,
    :func:`linear_map_lie_derivative`): L_xi F_W = (W drho_in(xi) - drho_out(xi) W) x, i.e. vec(W) is an
    invariant vector of rep_out (x) rep_in* (row-major vec: -drho_{out (x) in*}(xi) vec(W));
  * a linear-in-parameter model F_W(x) = W Phi(x) (regression, SINDy, the promotion operator,
    :func:`linear_model_constraints`), evaluated at C(n + deg, deg) + 1 random points, which makes the
    sampled nullspace exact for polynomial libraries.

The promotion operator (:class:`symlie.LieOperator`), the layer operator of networks and the estimators all
assemble their rows here, so the sign and the row layout are the same everywhere.
"""
from __future__ import annotations

import math
import warnings

import torch

from ..library import Library
from ..lie.actions import Action, MatrixAction
from ..lie.groups import Group, as_group
from ..lie.reps import Rep, Trivial
from ..linalg import Nullspace, nullspace
from ..utils.errors import UnderdeterminedWarning
from ..utils.resources import check_memory
from ..utils.validation import SymlieError
from .linear import lie_derivative_linear

__all__ = ["invariance_constraints", "linear_map_lie_derivative", "linear_model_constraints", "linear_model_nullspace",
           "default_n_constraint_points", "constraint_points"]

DT = torch.float64


def invariance_constraints_bytes(rep: Rep) -> int:
    """Estimated peak bytes of :func:`invariance_constraints`: the dense drho / rho stacks with their Kronecker
    intermediates, the inverse-minus-identity blocks and the concatenated ((q + h) s, s) result."""
    G, s = rep.group, rep.size
    return 8 * s * s * (3 * (G.dim + G.num_discrete) + 1)


def invariance_constraints(rep: Rep, *, max_bytes: int | float | None = None) -> torch.Tensor:
    """The stacked dense constraint [-drho(xi_1); ...; -drho(xi_q); rho(h_1)^{-1} - I; ...] ((q + h) s, s) on
    invariant vectors w of ``rep``: the Lie derivative of the constant model F = w, then K_h F - F.

    Refused (:class:`symlie.utils.ResourceError`) when it would exceed ``max_bytes`` (``None``: the process-wide
    limit); the structured solvers of :func:`symlie.equivariant_basis` never form it."""
    G = rep.group
    q, h, s = G.dim, G.num_discrete, rep.size
    check_memory(invariance_constraints_bytes(rep), f"the dense constraint matrix ({(q + h) * s}, {s}) of {rep}",
                 hint="use equivariant_basis(..., method='kron') (structured, tensor products of a continuous "
                      "group) or method='sparse'", max_bytes=max_bytes)
    parts = []
    if G.dim:
        parts.append(-rep.drho(G.algebra.basis).reshape(-1, rep.size))
    if G.num_discrete:
        I = torch.eye(rep.size, dtype=DT)
        parts.append((rep.rho(torch.linalg.inv(G.discrete)) - I).reshape(-1, rep.size))
    if not parts:
        return torch.zeros(0, rep.size, dtype=DT)
    return torch.cat(parts)


def linear_map_lie_derivative(W: torch.Tensor, drho_in: torch.Tensor, drho_out: torch.Tensor) -> torch.Tensor:
    """L_xi of the linear map x -> W x: W drho_in(xi_k) - drho_out(xi_k) W for every generator.

    W (o, i); drho_in (q, i, i); drho_out (q, o, o) -> (q, o, i). Differentiable in W (network layers).
    """
    return torch.einsum("oi,jik->jok", W, drho_in) - torch.einsum("jop,pi->joi", drho_out, W)


def constraint_points(n_points: int, n_in: int, *, box: float = 1.0, seed: int = 0) -> torch.Tensor:
    """Seeded uniform points in [-box, box]^n_in (n_points, n_in), float64: where constraints are sampled."""
    gen = torch.Generator().manual_seed(int(seed))
    return (2.0 * torch.rand(n_points, n_in, generator=gen, dtype=DT) - 1.0) * float(box)


def _is_translation_only(group: Group, rep_in: Rep, rep_out: Rep) -> bool:
    """True when every algebra generator moves inputs by a constant field and acts as zero on outputs."""
    if group.dim == 0:
        return False
    A, _ = MatrixAction(group, rep_in, None).affine_parts()
    if float(A.abs().max()) > 0:
        return False
    return isinstance(rep_out, Trivial) or float(rep_out.drho(group.algebra.basis).abs().max()) == 0


def default_n_constraint_points(library: Library, group, rep_in: Rep | None, rep_out: Rep | None, n_in: int,
                                n_out: int, oversample: int = 1) -> int:
    """Number of random constraint points that make the sampled nullspace exact (see the module docstring).

    Polynomial libraries of degree d under matrix actions: C(n_in + deg_L, deg_L) + 1 with deg_L = d - 1 for
    pure translations (no linear part on inputs or outputs, no discrete generators) and deg_L = d otherwise.
    Other libraries or non-matrix actions: n_out * D + 1 (the evaluation is then injective on the image of
    W -> L_xi F_W for analytic features). Multiplied by ``oversample``. ``group`` may be a Group / LieAlgebra
    (with ``rep_in``, ``rep_out``) or an :class:`symlie.Action`.
    """
    if isinstance(group, MatrixAction):
        group, rep_in, rep_out = group.group, group.rep_in, group.rep_out  # type: ignore[attr-defined]
        rep_out = rep_out if rep_out is not None else Trivial(group, n_out)
    deg = library.polynomial_degree if not isinstance(group, Action) else None
    if deg is not None:
        group = as_group(group)
        if group.num_discrete == 0 and _is_translation_only(group, rep_in, rep_out):  # type: ignore[arg-type]
            deg = max(deg - 1, 0)
        count = math.comb(n_in + deg, deg) + 1
    else:
        count = n_out * library.n_output_features(n_in) + 1
    return count * oversample


def linear_model_constraints(library: Library, group, x: torch.Tensor, rep_in: Rep | None, rep_out: Rep | None,
                             n_out: int, weights: torch.Tensor | None = None) -> torch.Tensor:
    """The one constraint assembly of linear-in-parameter models F_W = W Phi: the stacked linear rows on vec(W)
    (row-major, index b * D + f) at the points x (N, n_in).

    Rows: first the continuous ones, (L_xi_k F_W)(x_n) = DF_W v_k - Out_k F_W from
    :func:`lie_derivative_linear` (the convention of :mod:`symlie.derivative`), ordered (k, n, a) and
    reshaped to (q * N * n_out, n_out * D), then for each discrete generator h the rows of
    W -> K_h F_W - F_W at the points, (N * n_out, n_out * D). ``group`` is a Group / LieAlgebra (with
    ``rep_in``, ``rep_out``) or any :class:`symlie.Action` (continuous rows only). ``weights`` (N,) scale the
    rows of point n by sqrt(w_n) (the RMS normalisation of the promotion operator).
    """
    action = group if isinstance(group, Action) else None
    group = None if action is not None else as_group(group)
    D = library.n_output_features(x.shape[1])
    q = action.dim if action is not None else group.dim  # type: ignore[union-attr]
    h = 0 if group is None else group.num_discrete
    rows = (q + h) * x.shape[0] * n_out
    check_memory(8 * 2 * rows * n_out * D, f"the constraint matrix ({rows}, {n_out * D}) of {library!r} at "
                 f"{x.shape[0]} points", hint="use fewer constraint points (n_constraint_points=) or a smaller "
                 "library")
    sw = None if weights is None else weights.to(x.dtype).sqrt()
    blocks = []
    if action is not None or group.dim:  # type: ignore[union-attr]
        act = action if action is not None else MatrixAction(group, rep_in, rep_out)
        S = lie_derivative_linear(library, act, x, n_out=n_out)                            # (q, N, a, b, D)
        if S.ndim == 4:
            S = S.unsqueeze(0)
        if sw is not None:
            S = S * sw[None, :, None, None, None]
        blocks.append(S.reshape(-1, n_out * D))
    if group is None:
        return blocks[0]
    if group.num_discrete:
        Phi_x = library.transform(x)
        eye = torch.eye(n_out, dtype=DT)
        for h in group.discrete:
            Phi_y = library.transform(rep_in.act(h, x))  # type: ignore[union-attr]
            Rinv = torch.linalg.inv(rep_out.rho(h).to(DT))  # type: ignore[union-attr]  # rho_out(h)^{-1}, (n_out, n_out)
            M = Rinv[None, :, :, None] * Phi_y[:, None, None, :] - eye[None, :, :, None] * Phi_x[:, None, None, :]
            if sw is not None:
                M = M * sw[:, None, None, None]
            blocks.append(M.reshape(-1, n_out * D))
    if not blocks:
        return torch.zeros(0, n_out * D, dtype=DT)
    return torch.cat(blocks, 0)


def linear_model_nullspace(library: Library, group: Group, rep_in: Rep, rep_out: Rep, n_in: int, n_out: int, *,
                           n_constraint_points: int | None = None, oversample: int = 1, box: float = 1.0,
                           rtol: float = 1e-10, seed: int = 0) -> tuple[Nullspace, torch.Tensor]:
    """Nullspace of the stacked constraints at seeded uniform points in [-box, box]^n_in.

    Returns (Nullspace with basis (n_out * D, k), the points (N, n_in)). Raises :class:`SymlieError` when the
    nullspace is empty (no non-zero equivariant model in this library).
    """
    need = default_n_constraint_points(library, group, rep_in, rep_out, n_in, n_out, 1)
    N = n_constraint_points if n_constraint_points is not None else need * oversample
    x = constraint_points(N, n_in, box=box, seed=seed)
    A = linear_model_constraints(library, group, x, rep_in, rep_out, n_out)
    ns = nullspace(A, rule="rtol", rtol=rtol)
    if N < need and ns.dim:
        # fewer points than the exact rule: check the basis at fresh points, and say so if it is not equivariant
        A2 = linear_model_constraints(library, group, constraint_points(need, n_in, box=box, seed=seed + 1), rep_in,
                                      rep_out, n_out)
        worst = float(torch.linalg.matrix_norm(A2 @ ns.basis, 2)) / max(float(torch.linalg.matrix_norm(A, 2)), 1e-300)
        if worst > rtol:
            warnings.warn(UnderdeterminedWarning(
                f"n_constraint_points: {N} points are fewer than the {need} that make the sampled constraints exact "
                f"for this library and group, and the basis found is not equivariant at fresh points (relative "
                f"violation {worst:.2e}): it contains non-equivariant models; pass None (the exact rule) or at "
                f"least {need}"), stacklevel=3)
    if ns.dim == 0:
        s = ns.singular_values
        raise SymlieError(f"no non-zero equivariant model exists in this library: the {A.shape[0]} x {A.shape[1]} "
                          f"constraint matrix for {group.name} ({rep_in} -> {rep_out}) has full column rank "
                          f"(smallest singular value {float(s[-1]):.3e} > threshold {ns.threshold:.3e}); "
                          f"enlarge the library (e.g. a higher or other degree) or check the representations")
    return ns, x
