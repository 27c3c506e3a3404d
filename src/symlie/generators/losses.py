"""Regularisers of learned generators (Ko, Kim, Lee, NeurIPS 2024, with the defaults of their PDE runs).

* :func:`orthonormality_loss`: sequential orthogonality in the arccos form. For unit-norm fields V_1..V_n and
  i < j, ip_ij = <sg(V_i), V_j> (sg = stop-gradient) and o_ij = pi/2 - arccos(|ip_ij|); O_j = sum_{i<j} o_ij.
  V_1 is free and V_j is pushed away only from the earlier fields (Gram-Schmidt order), which orders the
  fields by validity. The arccos form is scale free: o_ij is the angle by which V_j misses orthogonality.
* :func:`lipschitz_loss`: the hinge mean max(|V(p) - V(q)| / |p - q| - tau, 0) over neighbouring points of a
  grid (graph-space distances: the u difference counts), tau = 3 for PDEs.
* :func:`sobolev_loss`: the H^k penalty along a periodic axis, mean of log(mean_k |V^_k|^2 ((1 + f_k^2)^k - 1)) with
  f_k the FFT sample frequencies (k = 2) over the other axes: it smooths the fields in x.

Every loss returns one value per field (n,), so the caller weights or averages them (the paper's weights:
``DEFAULT_WEIGHTS``).
"""
from __future__ import annotations

import math

import torch

from ..utils.validation import check_int

__all__ = ["orthonormality_loss", "lipschitz_loss", "sobolev_loss", "DEFAULT_WEIGHTS", "ARCCOS_CLAMP",
           "merge_weights"]

#: loss weights of the PDE runs of Ko et al.: validity 1, orthonormality 3, Lipschitz 1, Sobolev 1
DEFAULT_WEIGHTS = {"validity": 1.0, "ortho": 3.0, "lipschitz": 1.0, "sobolev": 1.0}
#: |ip| is clamped below 1 - ARCCOS_CLAMP before arccos (the derivative of arccos is infinite at 1)
ARCCOS_CLAMP = 1e-6


def merge_weights(defaults: dict, weights: dict | None) -> dict:
    """``defaults`` updated by ``weights`` (a dict of loss-term weights); an unknown term is an error naming the
    known ones, a weight must be a finite number >= 0."""
    w = dict(defaults)
    if weights:
        if not isinstance(weights, dict):
            raise TypeError(f"weights: expected a dict of term weights, got {type(weights).__name__}")
        unknown = set(weights) - set(w)
        if unknown:
            raise ValueError(f"weights: unknown terms {sorted(unknown)}; expected some of {sorted(w)}")
        for k, v in weights.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
                raise ValueError(f"weights: the weight of {k!r} must be a finite number >= 0, got {v!r}")
            w[k] = float(v)
    return w


def _check_fields(V: torch.Tensor, name: str = "V") -> torch.Tensor:
    if not isinstance(V, torch.Tensor):
        raise TypeError(f"{name}: expected a torch tensor of field values, got {type(V).__name__}")
    if V.ndim < 3:
        raise ValueError(f"{name}: expected field values of shape (n, ..., d) (n fields, points, d components), got "
                         f"{tuple(V.shape)}")
    return V


def orthonormality_loss(V: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Sequential arccos orthogonality (n,) of fields V (n, ..., d) at the same points (each normalised to unit
    weighted norm here; ``weights`` over the points, shape V.shape[1:-1], summing to anything positive)."""
    V = _check_fields(V)
    n = V.shape[0]
    F = V.reshape(n, -1, V.shape[-1])                                       # (n, P, d)
    if weights is None:
        w = torch.full((F.shape[1],), 1.0 / F.shape[1], dtype=F.dtype, device=F.device)
    else:
        w = weights.reshape(-1).to(F.dtype)
        if w.shape[0] != F.shape[1]:
            raise ValueError(f"weights: expected {F.shape[1]} point weights, got {tuple(weights.shape)}")
        w = w / w.sum()
    norms = ((F ** 2).sum(-1) * w).sum(-1).clamp_min(1e-24).sqrt()           # (n,)
    U = F / norms[:, None, None]
    ip = torch.einsum("ipd,jpd,p->ij", U.detach(), U, w)                   # <sg(U_i), U_j>
    o = math.pi / 2 - torch.arccos(ip.abs().clamp(max=1 - ARCCOS_CLAMP))
    mask = torch.triu(torch.ones(n, n, dtype=torch.bool, device=F.device), diagonal=1)   # i < j
    return (o * mask).sum(0)


def lipschitz_loss(V: torch.Tensor, Z: torch.Tensor, *, axes=(1, 2), tau: float = 3.0,
                   periodic: dict | None = None) -> torch.Tensor:
    """Lipschitz hinge (n,): mean over grid neighbours along ``axes`` of max(|dV| / |dZ| - tau, 0).

    Args:
        V: field values (n, *grid, d) on a grid of points.
        Z: the points (*grid, d) (broadcast over fields) or (n, *grid, d).
        axes: axes of V (>= 1) along which neighbours are taken.
        tau: the allowed slope.
        periodic: {axis of V: (coordinate index, period)}: along that axis the last point neighbours the first,
            and the coordinate difference is wrapped into (-period/2, period/2].
    """
    V = _check_fields(V)
    if Z.ndim == V.ndim - 1:
        Z = Z.unsqueeze(0).expand(V.shape[0], *Z.shape)
    if Z.shape[:-1] != V.shape[:-1]:
        raise ValueError(f"Z: expected points of shape {tuple(V.shape[1:-1])} + (dim,), got {tuple(Z.shape)}")
    per = dict(periodic or {})
    terms = []
    for ax in axes:
        ax = check_int(ax, "axes", 1)
        if ax >= V.ndim - 1:
            raise ValueError(f"axes: {ax} is not a grid axis of V with shape {tuple(V.shape)}")
        if ax in per:
            c, L = per[ax]
            dV = torch.roll(V, -1, ax) - V
            dZ = torch.roll(Z, -1, ax) - Z
            dZc = dZ[..., c]
            dZ = dZ.clone()
            dZ[..., c] = dZc - L * torch.round(dZc / L)
        else:
            n_ax = V.shape[ax]
            dV = V.narrow(ax, 1, n_ax - 1) - V.narrow(ax, 0, n_ax - 1)
            dZ = Z.narrow(ax, 1, n_ax - 1) - Z.narrow(ax, 0, n_ax - 1)
        slope = dV.norm(dim=-1) / dZ.norm(dim=-1).clamp_min(1e-12)
        terms.append(torch.relu(slope - tau).reshape(V.shape[0], -1).mean(1))
    return torch.stack(terms).mean(0)


def sobolev_loss(V: torch.Tensor, *, axis: int = 2, spacing: float = 1.0, order: int = 2) -> torch.Tensor:
    """H^order penalty (n,) along the periodic grid ``axis`` of V (n, *grid, d) with grid ``spacing``:
    mean over the other axes and components of log(mean_k |V^_k|^2 ((1 + f_k^2)^order - 1)) (f_k: FFT sample
    frequencies of the axis, cycles per unit length)."""
    V = _check_fields(V)
    axis = check_int(axis, "axis", 1)
    order = check_int(order, "order", 1)
    if axis >= V.ndim - 1:
        raise ValueError(f"axis: {axis} is not a grid axis of V with shape {tuple(V.shape)}")
    if not (isinstance(spacing, (int, float)) and spacing > 0):
        raise ValueError(f"spacing: expected a number > 0, got {spacing!r}")
    m = V.shape[axis]
    Vh = torch.fft.fft(V, dim=axis, norm="forward")
    f = torch.fft.fftfreq(m, d=float(spacing), dtype=V.dtype, device=V.device)
    mult = (1 + f ** 2) ** order - 1
    shape = [1] * V.ndim
    shape[axis] = m
    e = (Vh.abs() ** 2 * mult.reshape(shape)).mean(axis)                     # over frequencies
    return torch.log(e.clamp_min(1e-30)).reshape(V.shape[0], -1).mean(1)    # log, then the mean (as the original)
