"""Resampling a moved point cloud of a solution back onto its grid (Ko et al.'s "Dirichlet resampling").

A transformed solution is known at the moved graph points (t~_p, x~_p, u~_p), one per original grid point, not on
the grid. In grid-index coordinates (i_t = (t~ - t_0) / dt, i_x = (x~ - x_0) / dx) every point is *splatted*
onto the grid:

    out[k_t, k_x]     = sum_p u~_p  w_t(i_t,p - k_t) K(i_x,p - k_x)
    support[k_t, k_x] = sum_p       w_t(i_t,p - k_t) K(i_x,p - k_x)

with w_t the linear (hat) weight in time, and in x (periodic, period nx grid steps) either

* ``"dirichlet"``: the periodic Dirichlet kernel D(v) = sin(pi v) / (nx tan(pi v / nx)) (D(0) = 1; nx even; the
  sin form for odd nx), the
  Whittaker-Shannon interpolant of a periodic band-limited signal. When the points of a row are the grid shifted
  by a constant, the splat is that row shifted exactly (for a signal with no content at the Nyquist mode; its
  Nyquist coefficient is the cosine part), the same as the spectral shift;
* ``"bilinear"``: the hat kernel in x as well (linear interpolation weights, splatted).

The output is not divided by the support (as the original; ``normalize=True`` divides where the support is
positive). Rows the moved points cover well have support near 1 (the kernels sum to one over shifts). The *valid
window* of a transformed solution is the longest run of consecutive rows whose support exceeds
``support_threshold`` at every x (:func:`valid_window`); a copy with fewer than ``min_rows`` valid rows is rejected
by the callers. A point between rows contributes to both with the linear weights; the part of its weight that
falls on a row outside [0, nt - 1] is dropped (the edge rows then have support below 1).
"""
from __future__ import annotations

import math

import torch

from ..utils.errors import DataError
from ..utils.resources import check_memory
from ..utils.validation import as_tensor, check_int

__all__ = ["dirichlet_kernel", "splat", "valid_window", "KERNELS"]

KERNELS = ("dirichlet", "bilinear")
_CHUNK_BYTES = 64 * 2 ** 20


def dirichlet_kernel(v: torch.Tensor, n: int) -> torch.Tensor:
    """The periodic Dirichlet kernel of period n (grid steps): D(v) = sin(pi v) / (n tan(pi v / n)) for even n (the
    Nyquist terms halved), sin(pi v) / (n sin(pi v / n)) for odd n; D(0) = 1.

    ``v`` any shape, floating; returns the same shape and dtype. sum_k D(v - k) = 1 for every v (k over one period),
    and D(j) = delta_{j0} at the integers."""
    n = check_int(n, "n", 1)
    w = torch.remainder(v + 0.5 * n, float(n)) - 0.5 * n                       # in [-n/2, n/2)
    a = math.pi * w
    small = w.abs() < 1e-7
    safe = torch.where(small, torch.ones_like(w), w)
    if n % 2 == 0:
        val = torch.sin(math.pi * safe) / (n * torch.tan(math.pi * safe / n))
        lim = 1.0 - a * a * (1.0 + 2.0 / n ** 2) / 6.0
    else:
        val = torch.sin(math.pi * safe) / (n * torch.sin(math.pi * safe / n))
        lim = 1.0 - a * a * (1.0 - 1.0 / n ** 2) / 6.0
    return torch.where(small, lim, val)        # near 0: the Taylor expansion


def _check_kernel(kernel: str) -> str:
    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
    return kernel


def splat(it: torch.Tensor, ix: torch.Tensor, values: torch.Tensor, nt: int, nx: int, *, kernel: str = "dirichlet",
          normalize: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Splat moved points onto the (nt, nx) grid.

    Args:
        it, ix: the points' time and x positions in grid-index units (i_t = (t - t_0) / dt, i_x = (x - x_0) / dx;
            x periodic with period nx), shape (B, P); ``values`` (B, P) the solution at the points. Float32 or
            float64 (the computation runs in float64).
        kernel: ``"dirichlet"`` (Whittaker-Shannon in x) or ``"bilinear"``; linear in time either way.
        normalize: divide the output by the support where the support is positive.

    Returns:
        (out, support), each (B, nt, nx) float64.
    """
    nt, nx = check_int(nt, "nt", 1), check_int(nx, "nx", 1)
    _check_kernel(kernel)
    it = as_tensor(it, "it", ndim=2, dtype=torch.float64)
    ix = as_tensor(ix, "ix", ndim=2, dtype=torch.float64)
    u = as_tensor(values, "values", ndim=2, dtype=torch.float64)
    if not (it.shape == ix.shape == u.shape):
        raise DataError(f"it, ix, values: expected three arrays of one shape (B, P), got {tuple(it.shape)}, "
                        f"{tuple(ix.shape)}, {tuple(u.shape)}")
    B, P = u.shape
    if kernel == "dirichlet":
        acc = _splat_dirichlet(it, ix, u, nt, nx)
    else:
        acc = _splat_bilinear(it, ix, u, nt, nx)
    acc = acc.reshape(B, nt, 2, nx)
    out, support = acc[:, :, 0], acc[:, :, 1]
    if normalize:
        out = torch.where(support > 0, out / torch.where(support > 0, support, torch.ones_like(support)),
                          torch.zeros_like(out))
    return out.contiguous(), support.contiguous()


def _time_rows(it: torch.Tensor, nt: int):
    """Flattened (row index in [0, B nt), weight) pairs of the linear time weights, out-of-grid rows dropped."""
    B, P = it.shape
    r0 = torch.floor(it)
    f = (it - r0).reshape(-1)
    r0 = r0.long().reshape(-1)
    b = (torch.arange(B) * nt).repeat_interleave(P)
    pts = torch.arange(B * P)
    out = []
    for row, w in ((r0, 1 - f), (r0 + 1, f)):
        ok = (row >= 0) & (row < nt) & (w != 0)
        out.append((pts[ok], b[ok] + row[ok], w[ok]))
    return out


def _splat_dirichlet(it, ix, u, nt, nx):
    """The Dirichlet splat in Fourier space: with D(v) = (1/nx) sum_m w_m e^{2 pi i m v / nx} (|m| <= nx/2, the
    Nyquist terms halved), out[row, k] = sum_p c_p D(ix_p - k) is the inverse real FFT of the conjugate of
    F[row, m] = sum_p c_p e^{2 pi i m ix_p / nx}, m = 0..nx/2: no kernel is evaluated per (point, column)."""
    B, P = u.shape
    M = nx // 2 + 1
    check_memory(B * nt * 4 * M * 8 + _CHUNK_BYTES, "splat")
    F = torch.zeros(B * nt, 4, M, dtype=torch.float64)           # (Re, Im) of the value and support sums
    theta = (2 * torch.pi / nx) * torch.remainder(ix.reshape(-1), float(nx))
    c = u.reshape(-1)
    r0 = torch.floor(it).reshape(-1)
    f = it.reshape(-1) - r0
    r0 = r0.long()
    base = (torch.arange(B) * nt).repeat_interleave(P)
    # e^{i m theta} = e^{i (q j + r) theta} = (e^{i q theta})^j e^{i r theta}: 2 (q + M / q) sines per point
    q = max(1, int(math.isqrt(M)))
    lo = torch.arange(q, dtype=torch.float64)
    hi = torch.arange((M + q - 1) // q, dtype=torch.float64) * q
    chunk = 4096
    for s in range(0, c.shape[0], chunk):
        th = theta[s:s + chunk]
        E = (torch.polar(torch.ones((), dtype=torch.float64), th[:, None] * hi[None, :])[:, :, None]
             * torch.polar(torch.ones((), dtype=torch.float64), th[:, None] * lo[None, :])[:, None, :])
        E = E.reshape(th.shape[0], -1)[:, :M]
        CS = torch.cat([E.real, E.imag], 1)                      # (p, 2M)
        cc, rr, ff, bb = c[s:s + chunk], r0[s:s + chunk], f[s:s + chunk], base[s:s + chunk]
        rows = torch.cat([rr, rr + 1])
        ws = torch.cat([1 - ff, ff])
        ok = (rows >= 0) & (rows < nt) & (ws != 0)
        g = torch.cat([bb, bb])[ok] + rows[ok]                   # global row of each contribution
        pts = torch.arange(th.shape[0]).repeat(2)[ok]
        ws = ws[ok]
        if g.numel() == 0:
            continue
        g0, g1 = int(g.min()), int(g.max()) + 1
        if g1 - g0 <= 64:
            # the points of a chunk land on a few rows: one dense (rows, p) weight matrix and a matmul
            Wt = torch.zeros(g1 - g0, th.shape[0], dtype=torch.float64)
            Wt.index_put_((g - g0, pts), ws, accumulate=True)
            F[g0:g1, 0:2] += (Wt * cc[None, :] @ CS).reshape(g1 - g0, 2, M)
            F[g0:g1, 2:4] += (Wt @ CS).reshape(g1 - g0, 2, M)
        else:
            X = CS[pts]
            F.index_add_(0, g, torch.cat([(ws * cc[pts])[:, None] * X, ws[:, None] * X], 1).reshape(-1, 4, M))
    Z = torch.complex(F[:, 0::2], -F[:, 1::2])                    # conj(F): (B nt, 2, M)
    out = torch.fft.irfft(Z, n=nx, dim=-1)                        # (B nt, 2, nx)
    return out


def _splat_bilinear(it, ix, u, nt, nx):
    """The bilinear splat: linear weights in t and in x (periodic), four grid points per point."""
    B, P = u.shape
    acc = torch.zeros(B * nt * nx, 2, dtype=torch.float64)
    j0f = torch.floor(ix).reshape(-1)
    fx = ix.reshape(-1) - j0f
    j0 = torch.remainder(j0f.long(), nx)
    c = u.reshape(-1)
    for pts, rows, w in _time_rows(it, nt):
        for col, wx in ((j0[pts], 1 - fx[pts]), (torch.remainder(j0[pts] + 1, nx), fx[pts])):
            ww = w * wx
            acc.index_add_(0, rows * nx + col, torch.stack([ww * c[pts], ww], 1))
    return acc.reshape(B * nt, nx, 2).permute(0, 2, 1)


def valid_window(support: torch.Tensor, support_threshold: float = 0.8) -> torch.Tensor:
    """The longest run of consecutive rows whose support exceeds ``support_threshold`` at every x.

    ``support`` (B, nt, nx); returns (B, 2) int64 [t_min, t_max) row indices (t_min = t_max = 0 when no row is
    valid; the first run wins a tie)."""
    S = as_tensor(support, "support", ndim=3, dtype=torch.float64)
    if not (isinstance(support_threshold, (int, float)) and math.isfinite(support_threshold)):
        raise ValueError(f"support_threshold: expected a finite number, got {support_threshold!r}")
    ok = (S > support_threshold).all(-1)                                       # (B, nt)
    out = torch.zeros(S.shape[0], 2, dtype=torch.long)
    for b in range(S.shape[0]):
        best, start = (0, 0), None
        row = ok[b].tolist()
        for k, good in enumerate(row + [False]):
            if good and start is None:
                start = k
            elif not good and start is not None:
                if k - start > best[1] - best[0]:
                    best = (start, k)
                start = None
        out[b, 0], out[b, 1] = best
    return out
