"""Lie derivatives of fields sampled on periodic grids (images, PDE states).

A field u: Omega -> R^C on a periodic box Omega = [0, L_1) x ... x [0, L_n) is stored as a tensor of shape
(..., C, S_1, ..., S_n) (channels first, as in torch convolutions; any leading batch dimensions). A group
acts on the domain by theta_g (e.g. SE(2) rotating about ``origin``) and on the channels by rho
(trivial for scalar images, V for vector fields). With the symlie convention,

    (K_g u)(x) = rho(g)^{-1} u(theta_g x),    (L_xi u)(x) = Du(x) v_xi(x) - drho(xi) u(x).

Spatial derivatives are spectral (exact for band-limited periodic fields) or second-order central
differences. Coordinates are x_k = i_k h_k - origin_k with h_k = L_k / S_k.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from ..utils.resources import call_limit, check_memory
from ..utils.validation import SymlieError, as_tensor
from ..lie.actions import Action, MatrixAction, check_same_algebra
from ..lie.algebra import LieAlgebra
from ..lie.groups import Group
from ..lie.reps import Rep

__all__ = ["grid_coordinates", "grid_gradient", "lie_derivative_grid"]


def _lengths(shape: Sequence[int], lengths) -> list[float]:
    if lengths is None:
        return [float(s) for s in shape]  # unit spacing (pixel units)
    if isinstance(lengths, (int, float)):
        lengths = [float(lengths)] * len(shape)
    lengths = [float(v) for v in lengths]
    if len(lengths) != len(shape) or any(not math.isfinite(v) or v <= 0 for v in lengths):
        raise ValueError(f"lengths: expected {len(shape)} positive finite side lengths, got {lengths}")
    return lengths


def grid_coordinates(shape: Sequence[int], lengths=None, origin=None, dtype=torch.float64) -> torch.Tensor:
    """Coordinates (*shape, n) of a periodic grid: x_k = i_k L_k / S_k - origin_k.

    ``lengths`` defaults to the shape (unit spacing); ``origin`` defaults to the box centre L / 2.
    """
    shape = [int(s) for s in shape]
    L = _lengths(shape, lengths)
    o = [v / 2 for v in L] if origin is None else [float(v) for v in as_tensor(origin, "origin", ndim=1)]
    if len(o) != len(shape):
        raise ValueError(f"origin: expected {len(shape)} coordinates, got {len(o)}")
    axes = [torch.arange(s, dtype=dtype) * (Lk / s) - ok for s, Lk, ok in zip(shape, L, o)]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), -1)


def grid_gradient(u: torch.Tensor, n: int, lengths=None, method: str = "spectral") -> torch.Tensor:
    """Partial derivatives of a periodic field along its last n axes: returns (n, *u.shape).

    ``method="spectral"`` (FFT; the Nyquist mode of even sizes is dropped so real fields stay real) or
    ``"fd"`` (periodic second-order central differences).
    """
    shape = u.shape[-n:]
    L = _lengths(shape, lengths)
    grads = []
    for k in range(n):
        axis = u.ndim - n + k
        S, h = shape[k], L[k] / shape[k]
        if method == "spectral":
            freq = torch.fft.fftfreq(S, d=h, dtype=u.dtype) * (2 * math.pi)
            if S % 2 == 0:
                freq[S // 2] = 0.0
            view = [1] * u.ndim
            view[axis] = S
            du = torch.fft.ifft(torch.fft.fft(u, dim=axis) * (1j * freq).reshape(view), dim=axis).real
        elif method == "fd":
            du = (torch.roll(u, -1, axis) - torch.roll(u, 1, axis)) / (2 * h)
        else:
            raise ValueError(f"method: expected 'spectral' or 'fd', got {method!r}")
        grads.append(du)
    return torch.stack(grads)


def lie_derivative_grid(u, xi, rep_domain: Rep | None = None, rep_channels: Rep | None = None, *,
                        lengths=None, origin=None, method: str = "spectral",
                        max_bytes: int | float | None = None) -> torch.Tensor:
    """(L_xi u)(x) = Du(x) v_xi(x) - drho(xi) u(x) on a periodic grid, for every generator.

    Args:
        u: field of shape (..., C, S_1, ..., S_n), float (n = dimension of the domain the group acts on).
        xi: LieAlgebra / Group, a (d, d) generator or a (q, d, d) stack acting on the domain R^n.
        rep_domain: action on the domain (default ``Point`` of the algebra: rotations about ``origin`` and
            translations for SE(2)).
        rep_channels: linear representation on the C channels; ``None``: every channel is a scalar.
        lengths: side lengths of the periodic box (default: the grid shape, i.e. unit spacing).
        origin: where the domain coordinates are zero (default: the box centre).
        method: ``"spectral"`` or ``"fd"`` spatial derivatives.
        max_bytes: memory limit of this call in bytes (``None``: the process-wide limit,
            :func:`symlie.utils.set_memory_limit`): the gradients (n, *u.shape), their products with the fields
            (n, q, *u.shape) and the result are estimated first; a :class:`symlie.utils.ResourceError` refuses a
            request above it.

    Returns:
        (q, ..., C, S_1, ..., S_n), or without the leading q for a single (d, d) xi.
    """
    with call_limit(max_bytes):
        return _lie_derivative_grid(u, xi, rep_domain, rep_channels, lengths, origin, method, max_bytes)


def _lie_derivative_grid(u, xi, rep_domain, rep_channels, lengths, origin, method, max_bytes) -> torch.Tensor:
    u = as_tensor(u, "u")
    if isinstance(xi, Action):
        if rep_domain is not None or rep_channels is not None:
            raise ValueError("rep_domain, rep_channels: xi is an Action, which already says how it acts")
        action = xi
    else:
        if rep_domain is None and not isinstance(xi, (LieAlgebra, Group)):
            raise ValueError("rep_domain: required when xi is given as matrices")
        if rep_channels is not None and (not isinstance(rep_channels, Rep) or not rep_channels.is_linear):
            raise SymlieError("rep_channels: expected a linear Rep on the channels (or None for scalars)")
        if rep_channels is not None and rep_domain is not None:
            check_same_algebra(rep_channels, rep_domain.group, "rep_channels")
        action = MatrixAction(xi, rep_domain, None)
        if rep_channels is not None:
            check_same_algebra(rep_channels, action.group, "rep_channels")
            action = MatrixAction(xi, action.rep_in, rep_channels)
    single = getattr(action, "single", False)
    n = action.n_in
    if u.ndim < n + 1:
        raise ValueError(f"u: expected shape (..., C, S_1, ..., S_{n}) with a channel axis for a field on R^{n}, "
                         f"got {tuple(u.shape)}")
    C = u.shape[-n - 1]
    if action.n_out is not None and action.n_out != C:
        raise ValueError(f"rep_channels: {getattr(action, 'declared_out', 'the action on channels')} has size "
                         f"{action.n_out} but u has {C} channels (axis {-n - 1} of shape {tuple(u.shape)})")
    spatial = u.shape[-n:]
    q = action.dim
    U = u.numel()
    check_memory(u.element_size() * (U * (2 * n + n * q + 3 * q) + 2 * q * math.prod(spatial) * n),
                 f"lie_derivative_grid: {q} generators on a field of shape {tuple(u.shape)}",
                 hint="pass fewer generators, or fewer fields along the leading (batch) axes, per call",
                 max_bytes=max_bytes)
    coords = grid_coordinates(spatial, lengths, origin, dtype=u.dtype).reshape(-1, n)
    v = action.vector_fields(coords).to(u.dtype).reshape(q, *spatial, n)      # (q, *S, n)
    grads = grid_gradient(u, n, lengths, method)                               # (n, ..., C, *S)
    vk = v.movedim(-1, 0).reshape(n, q, *([1] * (u.ndim - n)), *spatial)       # (n, q, 1.., *S)
    L = (vk * grads.unsqueeze(1)).sum(0)                                       # (q, ..., C, *S)
    if action.acts_on_outputs:
        w = u.movedim(-n - 1, -1)                                              # (..., *S, C)
        shp = w.shape
        w = w.reshape(-1, C)
        xs = coords.repeat(w.shape[0] // coords.shape[0], 1)
        Du = action.output_term(xs, w).reshape(q, *shp).movedim(-1, -n - 1)  # type: ignore[union-attr]
        L = L - Du
    return L[0] if single else L
