"""The Lie derivative of linear-in-parameter models F_W(x) = W Phi(x), as a tensor acting on W."""
from __future__ import annotations

import torch

from ..lie.actions import as_action
from ..lie.reps import Rep
from ..utils.resources import call_limit, check_memory
from ..utils.validation import as_tensor

__all__ = ["lie_derivative_linear"]


def lie_derivative_linear(library, xi, x, rep_in: Rep | None = None, rep_out: Rep | None = None,
                          n_out: int | None = None, coef=None, *, max_bytes: int | float | None = None) -> torch.Tensor:
    """The Lie derivative of linear-in-parameter models F_W(x) = W Phi(x) as a tensor acting on W.

    For W of shape (n_out, D) and a feature library Phi: R^{n_in} -> R^D with Jacobian DPhi (D, n_in),

        (L_xi F_W)(x_n)[a] = sum_{b,f} S[k, n, a, b, f] W[b, f]
        S[k, n, a, b, f] = delta_ab (DPhi(x_n) v_k(x_n))_f - Out_k(x_n)[a, b] Phi_f(x_n),

    the same convention as :func:`symlie.lie_derivative` (DF v - Out F, Out = drho_out for a linear
    representation), so ``einsum('knabf,bf->kna', S, W)`` equals
    ``lie_derivative(lambda x: library(x) @ W.T, xi, x, ...)``.

    Args:
        library: an object with ``transform(x) -> (N, D)`` and ``jacobian(x) -> (N, D, n_in)`` (e.g.
            :class:`symlie.PolynomialLibrary`).
        xi, x, rep_in: as in :func:`symlie.lie_derivative` (xi may be any :class:`symlie.Action`).
        rep_out: linear representation on the n_out outputs; ``None`` means invariant outputs, in which case
            ``n_out`` (default 1) gives their number.
        coef: optional coefficients W (n_out, D): return the contraction L_xi F_W = einsum(S, W) directly,
            without forming S (memory q N D instead of q N n_out^2 D).
        max_bytes: memory limit of this call in bytes (``None``: the process-wide limit,
            :func:`symlie.utils.set_memory_limit`); S, the features, their Jacobian (N, D, n_in) and the
            fields are estimated first and a :class:`symlie.utils.ResourceError` says what to do instead.
    Returns:
        S of shape (q, N, n_out, n_out, D), or with ``coef`` the values (q, N, n_out) (without q for a single
        (d, d) xi).
    """
    with call_limit(max_bytes):
        return _lie_derivative_linear(library, xi, x, rep_in, rep_out, n_out, coef, max_bytes)


def _lie_derivative_linear(library, xi, x, rep_in, rep_out, n_out, coef, max_bytes) -> torch.Tensor:
    action = as_action(xi, rep_in, rep_out)
    single = getattr(action, "single", False)
    x = action.check_points(x)
    if n_out is None:
        n_out = action.n_out if action.n_out is not None else 1
    action.check_outputs(n_out)
    count = getattr(library, "n_output_features", None)
    if callable(count):
        _check_linear_memory(count(x.shape[1]), action.dim, x.shape[0], x.shape[1], n_out, coef is not None,
                             x.element_size(), max_bytes)
    Phi = as_tensor(library.transform(x), "library.transform(x)", ndim=2).to(x.dtype)
    DPhi = as_tensor(library.jacobian(x), "library.jacobian(x)", ndim=3).to(x.dtype)
    N, D = Phi.shape
    if Phi.shape[0] != x.shape[0] or DPhi.shape != (N, D, x.shape[1]):
        raise ValueError(f"library: transform gave {tuple(Phi.shape)} and jacobian {tuple(DPhi.shape)} for x of "
                         f"shape {tuple(x.shape)}; expected (N, D) and (N, D, n_in)")
    q = action.dim
    v = action.vector_fields(x).to(x.dtype)                         # (q, N, n_in)
    dphi_v = torch.einsum("nfi,kni->knf", DPhi, v)                  # (q, N, D)
    if coef is not None:
        W = as_tensor(coef, "coef", ndim=2).to(x.dtype)
        if W.shape != (n_out, D):
            raise ValueError(f"coef: expected shape ({n_out}, {D}) (n_out, library features), got {tuple(W.shape)}")
        L = torch.einsum("knf,af->kna", dphi_v, W)
        T = action.output_term(x, Phi @ W.T)
        if T is not None:
            L = L - T
        return L[0] if single else L
    eye = torch.eye(n_out, dtype=x.dtype)
    S = eye[None, None, :, :, None] * dphi_v[:, :, None, None, :]
    R = action.output_matrices(x, n_out)                            # (q, N, a, b) or None
    if R is not None:
        S = S - R[..., None] * Phi[None, :, None, None, :]
    return S[0] if single and q else S


def _check_linear_memory(D: int, q: int, N: int, n_in: int, n_out: int, contracted: bool, item: int,
                         max_bytes) -> None:
    base = N * D * (1 + n_in) + q * N * (n_in + D)                  # Phi, DPhi, the fields, DPhi v
    if contracted:
        check_memory(item * (base + 3 * q * N * n_out), f"lie_derivative_linear: {q} generators x {N} points x "
                     f"{D} features", hint="evaluate fewer points per call, or use a smaller library",
                     max_bytes=max_bytes)
        return
    check_memory(item * (base + 3 * q * N * n_out * n_out * D), f"lie_derivative_linear: S of shape ({q}, {N}, "
                 f"{n_out}, {n_out}, {D})", hint="pass coef= to get L_xi F_W without forming S (memory q N n_out), "
                 "or evaluate fewer points per call", max_bytes=max_bytes)
