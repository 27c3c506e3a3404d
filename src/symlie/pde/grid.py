"""Jet points from gridded solutions: u(t_i, x_j) on a uniform grid -> points z = (t, x, u, u_t, u_x, ...) of J^k.

:func:`jets_from_grid` differentiates sampled solutions u (B, nt, nx) of a 1+1 dimensional equation (independent
variables (t, x) = ``jet.independent``, one dependent variable u) in every combination D_t^a D_x^b u, a + b <= k,
that the :class:`JetSpace` has, and lays the values out in its coordinate order. Three differentiation methods:

  * ``"spectral"``: x-derivatives by FFT, exact for band-limited periodic data (x periodic with period
    L = nx dx: the grid holds x_0, ..., x_0 + L - dx, the endpoint excluded); t-derivatives by finite differences.
  * ``"fd"``: central finite differences of accuracy ``fd_order`` (an even order p: the error of an m-th
    derivative is O(h^p)) in both directions; x wraps around when ``periodic``.
  * ``"poly"``: local least-squares polynomials of total degree ``poly_degree`` in (t, x) over a window of
    (2 w_t + 1) x (2 w_x + 1) grid points (two-dimensional Savitzky-Golay filters): smooths noisy data; the
    derivatives are those of the fitted polynomial at the window's centre.

Mixed derivatives are D_t^a (D_x^b u): the x-derivative first (spectral or FD), then one t-stencil for the
order a (not a repeated first derivative). Near the ends of a non-periodic direction a centred stencil does
not fit: ``boundary="drop"`` (default) leaves those grid rows out (``GridJets.n_valid`` counts what is left),
``boundary="one-sided"`` uses shifted stencils of m + p points there (the same order p; larger error constants).
``"poly"`` always drops (its window must fit). Everything is float64.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..utils.errors import DataError, SymlieError
from ..utils.resources import check_memory
from ..utils.validation import as_tensor, check_int, make_generator
from .jets import JetSpace, multi_indices

__all__ = ["GridJets", "jets_from_grid", "finite_difference_weights", "METHODS"]

DT = torch.float64
#: the differentiation methods of :func:`jets_from_grid`
METHODS = ("auto", "spectral", "fd", "poly")
_BOUNDARIES = ("drop", "one-sided")


@dataclass
class GridJets:
    """Jet points of gridded solutions (the result of :func:`jets_from_grid`).

    Attributes:
        Z: (M, jet.dim) float64 jet points in the :class:`JetSpace` layout (t, x, u, u_t, u_x, u_tt, ...).
        index: (M, 3) int64 grid index (b, i, j) of each row: Z[r] is the jet of solution b at (t_i, x_j).
        jet: the jet space.
        method: the method used (``"spectral"``, ``"fd"`` or ``"poly"``; ``"auto"`` resolved).
        periodic: whether x was treated as periodic.
        boundary: ``"drop"`` or ``"one-sided"`` (how the ends of non-periodic directions were handled).
        n_valid: grid points with every derivative available (before subsampling); M <= n_valid.
        grid_shape: (B, nt, nx) of the input.
        dt, dx: the grid steps.
        options: the resolved numerical options (``fd_order``, or ``poly_degree`` and ``window``).
    """

    Z: torch.Tensor
    index: torch.Tensor
    jet: JetSpace
    method: str
    periodic: bool
    boundary: str
    n_valid: int
    grid_shape: tuple[int, int, int]
    dt: float
    dx: float
    options: dict

    def __len__(self) -> int:
        return int(self.Z.shape[0])

    @property
    def names(self) -> list[str]:
        """The coordinate names of the columns of Z."""
        return list(self.jet.names)

    def column(self, name: str) -> torch.Tensor:
        """The (M,) values of one coordinate (``"u_xx"``)."""
        return self.Z[:, self.jet.coordinate(name)]

    def __repr__(self) -> str:
        return (f"GridJets({len(self)} points of {self.n_valid} valid on a grid {self.grid_shape}, "
                f"method={self.method!r}, periodic={self.periodic}, {self.jet!r})")


# ------------------------------------------------------------------------------------------- stencils
def finite_difference_weights(offsets, order: int) -> np.ndarray:
    """Weights w (len(offsets),) with sum_k w_k f(x + s_k h) = h^order f^(order)(x) + O(h^n)
    for the n distinct offsets s_k (in steps; Fornberg's algorithm, exact for polynomials of degree < n).

    Example: ``finite_difference_weights([-1, 0, 1], 2)`` is [1, -2, 1].
    """
    s = np.asarray(offsets, dtype=np.float64).reshape(-1)
    m = check_int(order, "order", 0)
    n = s.shape[0]
    if n <= m:
        raise ValueError(f"offsets: a derivative of order {m} needs at least {m + 1} points, got {n}")
    if len(np.unique(s)) != n:
        raise ValueError(f"offsets: must be distinct, got {s.tolist()}")
    c = np.zeros((n, m + 1))
    c[0, 0] = 1.0
    c1, c4 = 1.0, s[0]
    for i in range(1, n):
        mn = min(i, m)
        c2, c5, c4 = 1.0, c4, s[i]
        for j in range(i):
            c3 = s[i] - s[j]
            c2 *= c3
            if j == i - 1:
                for k in range(mn, 0, -1):
                    c[i, k] = c1 * (k * c[i - 1, k - 1] - c5 * c[i - 1, k]) / c2
                c[i, 0] = -c1 * c5 * c[i - 1, 0] / c2
            for k in range(mn, 0, -1):
                c[j, k] = (c4 * c[j, k] - k * c[j, k - 1]) / c3
            c[j, 0] = c4 * c[j, 0] / c3
        c1 = c2
    return c[:, m]


def _half_width(m: int, p: int) -> int:
    """Half-width q of the centred stencil (2q + 1 points) of accuracy p (even) for the m-th derivative."""
    return (m + 1) // 2 - 1 + p // 2


def _fd_axis(a: np.ndarray, m: int, p: int, h: float, periodic: bool, boundary: str) -> tuple[np.ndarray, np.ndarray]:
    """m-th derivative of a (..., n) along the last axis, accuracy p; returns (d, valid (n,) bool). Rows where
    the derivative is not available (``boundary="drop"``) are NaN."""
    n = a.shape[-1]
    if m == 0:
        return a, np.ones(n, dtype=bool)
    q = _half_width(m, p)
    w = finite_difference_weights(np.arange(-q, q + 1), m) / h ** m
    if periodic:
        d = np.zeros_like(a)
        for k, wk in zip(range(-q, q + 1), w):
            if wk != 0.0:
                d += wk * np.roll(a, -k, axis=-1)
        return d, np.ones(n, dtype=bool)
    d = np.full_like(a, np.nan)
    valid = np.zeros(n, dtype=bool)
    if n > 2 * q:
        inner = np.zeros(a.shape[:-1] + (n - 2 * q,))
        for k, wk in zip(range(2 * q + 1), w):
            if wk != 0.0:
                inner += wk * a[..., k: n - 2 * q + k]
        d[..., q: n - q] = inner
        valid[q: n - q] = True
    if boundary == "one-sided":
        N1 = m + p
        for i in [*range(min(q, n)), *range(max(n - q, q), n)]:
            s0 = min(max(i - N1 // 2, 0), n - N1)
            wi = finite_difference_weights(np.arange(s0, s0 + N1) - i, m) / h ** m
            d[..., i] = a[..., s0: s0 + N1] @ wi
            valid[i] = True
    return d, valid


def _spectral_x(a: np.ndarray, m: int, dx: float) -> np.ndarray:
    """m-th x-derivative of periodic a (..., nx) by FFT (period nx dx); the Nyquist mode of odd orders is 0."""
    if m == 0:
        return a
    n = a.shape[-1]
    k = 2 * math.pi * np.fft.rfftfreq(n, d=dx)
    mult = (1j * k) ** m
    if m % 2 == 1 and n % 2 == 0:
        mult[-1] = 0.0
    return np.fft.irfft(np.fft.rfft(a, axis=-1) * mult, n=n, axis=-1)


def _poly_kernels(J_list, degree: int, wt: int, wx: int, dt: float, dx: float) -> dict:
    """2-D Savitzky-Golay kernels {J: (2wt+1, 2wx+1)}: the J-derivative at the centre of the least-squares
    polynomial of total degree ``degree`` through the window."""
    s, r = np.meshgrid(np.arange(-wt, wt + 1.0), np.arange(-wx, wx + 1.0), indexing="ij")
    s, r = s.reshape(-1), r.reshape(-1)
    monos = [(a, b) for d in range(degree + 1) for a in range(d, -1, -1) for b in [d - a]]
    V = np.stack([s ** a * r ** b for a, b in monos], 1)
    if np.linalg.matrix_rank(V) < len(monos):
        raise SymlieError(f"window: a ({2 * wt + 1} x {2 * wx + 1}) window cannot determine a polynomial of degree "
                          f"{degree} (needs at least {degree + 1} points in each direction)")
    P = np.linalg.pinv(V)
    out = {}
    for a, b in J_list:
        row = P[monos.index((a, b))] * math.factorial(a) * math.factorial(b) / (dt ** a * dx ** b)
        out[(a, b)] = row.reshape(2 * wt + 1, 2 * wx + 1)
    return out


def _poly_derivatives(U: np.ndarray, J_list, degree: int, wt: int, wx: int, dt: float, dx: float,
                      periodic: bool):
    """{J: D^J u} (B, nt, nx) by the 2-D kernels; returns (fields, valid_t, valid_x)."""
    B, nt, nx = U.shape
    K = _poly_kernels(J_list, degree, wt, wx, dt, dx)
    fields = {J: np.zeros((B, nt - 2 * wt, nx if periodic else nx - 2 * wx)) for J in J_list}
    for di in range(2 * wt + 1):
        Ut = U[:, di: nt - 2 * wt + di, :]
        for dj in range(2 * wx + 1):
            sh = np.roll(Ut, wx - dj, axis=-1) if periodic else Ut[:, :, dj: nx - 2 * wx + dj]
            for J in J_list:
                kk = K[J][di, dj]
                if kk != 0.0:
                    fields[J] += kk * sh
    vt = np.zeros(nt, dtype=bool)
    vt[wt: nt - wt] = True
    vx = np.ones(nx, dtype=bool)
    if not periodic:
        vx[:] = False
        vx[wx: nx - wx] = True
    full = {}
    for J, f in fields.items():
        g = np.full((B, nt, nx), np.nan)
        g[:, wt: nt - wt, :][:, :, vx] = f
        full[J] = g
    return full, vt, vx


# ------------------------------------------------------------------------------------------- validation
def _check_jet(jet) -> None:
    if not isinstance(jet, JetSpace):
        raise TypeError(f"jet: expected a symlie.pde.JetSpace, got {type(jet).__name__}")
    if jet.p != 2 or jet.m != 1:
        raise SymlieError(f"jet: jets_from_grid supports 1+1 dimensional equations (two independent variables such "
                          f"as (t, x) and one dependent variable) only so far; got {jet!r}")


def _check_u(u) -> tuple[np.ndarray, bool]:
    U = as_tensor(u, "u", dtype=DT, ndim=(2, 3), finite=False)
    single = U.ndim == 2
    if single:
        U = U.unsqueeze(0)
    if min(U.shape) == 0:
        raise DataError(f"u: expected solutions of shape (B, nt, nx) or (nt, nx) with no empty axis, got shape "
                        f"{tuple(U.shape)}")
    bad = int((~torch.isfinite(U)).sum())
    if bad:
        raise DataError(f"u: contains {bad} NaN or Inf value{'' if bad == 1 else 's'} (of {U.numel()}); jets need a "
                        f"finite solution everywhere (crop the grid or the blown-up trajectories)")
    return U.cpu().numpy(), single


def _uniform(v, name: str, n: int, rtol: float) -> tuple[np.ndarray, float]:
    a = as_tensor(v, name, dtype=DT, ndim=1).cpu().numpy()
    if a.shape[0] != n:
        raise DataError(f"{name}: expected {n} grid values (u has {n} points along this axis), got {a.shape[0]}")
    if n < 2:
        raise DataError(f"{name}: expected at least 2 grid points, got {n}")
    steps = np.diff(a)
    if not np.all(steps > 0):
        raise DataError(f"{name}: grid values must be strictly increasing")
    h = float(steps.mean())
    dev = float(np.abs(steps - h).max())
    if dev > rtol * h:
        raise DataError(f"{name}: the grid is not uniform (steps from {steps.min():.6g} to {steps.max():.6g}: max "
                        f"deviation {dev:.3g} from the mean step {h:.6g}, above uniform_rtol={rtol:g} relative); "
                        f"interpolate onto a uniform grid first")
    return a, h


def _resolve(method, periodic, boundary, fd_order):
    if method not in METHODS:
        raise ValueError(f"method: expected one of {METHODS}, got {method!r}")
    if periodic is not None and not isinstance(periodic, bool):
        raise TypeError(f"periodic: expected True, False or None, got {type(periodic).__name__}")
    if boundary not in _BOUNDARIES:
        raise ValueError(f"boundary: expected one of {_BOUNDARIES}, got {boundary!r}")
    p = check_int(fd_order, "fd_order", 2)
    if p % 2:
        raise ValueError(f"fd_order: expected an even accuracy order (central stencils), got {p}")
    if method == "auto":
        method = "spectral" if periodic else "fd"
    if periodic is None:
        periodic = method == "spectral"
    if method == "spectral" and not periodic:
        raise SymlieError("method, periodic: spectral x-derivatives need x periodic (periodic=True); use "
                          "method='fd' or 'poly' for a bounded domain")
    return method, periodic, p


def _need(name: str, what: str, n: int, need: int) -> None:
    if n < need:
        raise DataError(f"{name}: {what} needs at least {need} grid points along this axis, got {n}")


# ------------------------------------------------------------------------------------------- entry point
def jets_from_grid(u, t, x, jet: JetSpace, *, method: str = "auto", periodic: bool | None = None,
                   fd_order: int = 6, boundary: str = "drop", poly_degree: int | None = None,
                   window: int | tuple[int, int] | None = None, n_points: int | None = None, seed=0,
                   uniform_rtol: float = 1e-4) -> GridJets:
    """Jet points of J^k (k = ``jet.order``) from solutions sampled on a uniform (t, x) grid.

    Args:
        u: solutions (B, nt, nx) or one solution (nt, nx): u[b, i, j] = u_b(t_i, x_j) (t, x being
            ``jet.independent``); finite everywhere.
        t, x: the grid values (nt,), (nx,), strictly increasing and uniform (relative step deviation at most
            ``uniform_rtol``). For periodic x the grid holds one period without its endpoint.
        jet: a :class:`JetSpace` with two independent variables and one dependent variable.
        method: ``"spectral"`` (FFT in x, FD in t), ``"fd"`` (FD in both), ``"poly"`` (local polynomial fits) or
            ``"auto"`` (spectral when ``periodic`` is True, else FD).
        periodic: x periodic with period nx dx (default: True for ``"spectral"``, False otherwise).
        fd_order: even accuracy order p of the finite differences (t always, x for ``"fd"``).
        boundary: ``"drop"`` the grid rows where a centred stencil does not fit, or use ``"one-sided"`` stencils
            there (FD only; ``"poly"`` always drops).
        poly_degree: ``"poly"``: total degree of the local polynomials (default ``jet.order + 2``).
        window: ``"poly"``: half-widths (w_t, w_x) (or one int for both) of the fitting window (default
            ``poly_degree // 2 + 2`` each).
        n_points: keep a random subset of this many valid rows (seeded by ``seed``; all rows when None or when
            there are fewer valid rows); rows keep their (b, i, j) order.
        seed: int or ``torch.Generator`` of the subsampling.

    Returns:
        :class:`GridJets` with Z (M, jet.dim) float64 and the grid index (M, 3) of every row.

    Raises:
        DataError: non-uniform or non-increasing grids (naming the max deviation), NaN / Inf in u (counted),
            shapes that disagree, or too few grid points for the stencils.
        SymlieError: an unsupported jet space (not 1+1 dimensional), or spectral without periodic x.
    """
    _check_jet(jet)
    method, periodic, p = _resolve(method, periodic, boundary, fd_order)
    U, _ = _check_u(u)
    B, nt, nx = U.shape
    tt, dt = _uniform(t, "t", nt, uniform_rtol)
    xx, dx = _uniform(x, "x", nx, uniform_rtol)
    k = jet.order
    J_list = [(0, 0)] + [J for r in range(1, k + 1) for J in multi_indices(2, r)]   # (a_t, a_x) of every column
    n_fields = len(J_list)
    check_memory(8.0 * B * nt * nx * (n_fields + 4), f"jets_from_grid: {n_fields} derivative fields on a grid "
                 f"{(B, nt, nx)}", hint="pass fewer solutions (split u into batches) or crop the grid")
    if method == "poly":
        fields, vt, vx, options = _poly(U, J_list, k, poly_degree, window, dt, dx, periodic)
    else:
        fields, vt, vx = _fd_spectral(U, J_list, k, p, dt, dx, method, periodic, boundary)
        options = {"fd_order": p}
    valid = np.broadcast_to(vt[:, None] & vx[None, :], (B, nt, nx))
    idx = np.argwhere(valid)                                   # (n_valid, 3) in (b, i, j) order
    n_valid = idx.shape[0]
    if n_valid == 0:
        raise DataError(f"u: no grid point has every derivative (grid {(B, nt, nx)}, method {method!r}); use a "
                        f"larger grid or boundary='one-sided'")
    if n_points is not None:
        n_points = check_int(n_points, "n_points", 1)
        if n_points < n_valid:
            keep = torch.randperm(n_valid, generator=make_generator(seed))[:n_points].sort().values.numpy()
            idx = idx[keep]
    b, i, j = idx[:, 0], idx[:, 1], idx[:, 2]
    Z = np.empty((idx.shape[0], jet.dim))
    Z[:, 0], Z[:, 1] = tt[i], xx[j]
    for J in J_list:
        Z[:, jet.index(0, J)] = fields[J][b, i, j]
    return GridJets(torch.from_numpy(Z), torch.from_numpy(idx.astype(np.int64)), jet, method, periodic,
                    "drop" if method == "poly" else boundary, int(n_valid), (B, nt, nx), dt, dx, options)


def _fd_spectral(U, J_list, k, p, dt, dx, method, periodic, boundary):
    B, nt, nx = U.shape
    kt_max = max(J[0] for J in J_list)
    kx_max = max(J[1] for J in J_list)
    if kt_max:
        _need("t", f"a t-derivative of order {kt_max} with fd_order={p} ({boundary})", nt,
              kt_max + p if boundary == "one-sided" else 2 * _half_width(kt_max, p) + 1)
    if method == "fd" and kx_max:
        _need("x", f"an x-derivative of order {kx_max} with fd_order={p}", nx,
              2 * _half_width(kx_max, p) + 1 if periodic or boundary == "drop" else kx_max + p)
    elif kx_max:
        _need("x", "spectral differentiation", nx, 4)
    Dx, vx = {}, np.ones(nx, dtype=bool)
    for b_ in sorted({J[1] for J in J_list}):
        if method == "spectral":
            Dx[b_] = _spectral_x(U, b_, dx)
        else:
            Dx[b_], v = _fd_axis(U, b_, p, dx, periodic, boundary)
            vx &= v
    fields, vt = {}, np.ones(nt, dtype=bool)
    for a_, b_ in J_list:
        d, v = _fd_axis(np.swapaxes(Dx[b_], 1, 2), a_, p, dt, False, boundary)
        fields[(a_, b_)] = np.swapaxes(d, 1, 2)
        vt &= v
    return fields, vt, vx


def _poly(U, J_list, k, poly_degree, window, dt, dx, periodic):
    deg = k + 2 if poly_degree is None else check_int(poly_degree, "poly_degree", 1)
    if deg < k:
        raise ValueError(f"poly_degree: the jet has derivatives of order {k}; the polynomials need degree >= {k}, "
                         f"got {deg}")
    if window is None:
        wt = wx = deg // 2 + 2
    elif isinstance(window, int) and not isinstance(window, bool):
        wt = wx = check_int(window, "window", 1)
    else:
        try:
            wt, wx = (check_int(w, "window", 1) for w in window)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"window: expected an int >= 1 or a pair (w_t, w_x) of them, got {window!r}") from exc
    _, nt, nx = U.shape
    _need("t", f"a polynomial window of half-width {wt}", nt, 2 * wt + 1)
    _need("x", f"a polynomial window of half-width {wx}", nx, 2 * wx + 1)
    fields, vt, vx = _poly_derivatives(U, J_list, deg, wt, wx, dt, dx, periodic)
    return fields, vt, vx, {"poly_degree": deg, "window": (wt, wx)}
