"""Jet points from gridded solutions: u(t_i, x_j, ...) on a uniform grid -> points z = (t, x, ..., u, u_t, ...) of J^k.

:func:`jets_from_grid` differentiates sampled solutions of an equation whose jet space has p = s + 1 independent
variables, time t first (``jet.independent[0]``) and s >= 1 spatial variables x^1..x^s after it (e.g. (t, x) or
(t, x, y)), and m >= 1 dependent variables u^1..u^m (``jet.dependent``). Every component is sampled on one common
uniform grid, u^alpha[b, i, j_1, ..., j_s] = u^alpha_b(t_i, x^1_{j_1}, ..., x^s_{j_s}), and every derivative
D_t^a D_1^{c_1} ... D_s^{c_s} u^alpha (a + |c| <= k) that the :class:`JetSpace` has is laid out in its coordinate
order (t, x^1..x^s, u^1..u^m, then per order and per component the multi-indices in descending lexicographic
order: u_t, u_x, u_y, v_t, ..., u_tt, u_tx, ...). Three differentiation methods:

  * ``"spectral"``: spatial derivatives by FFT along every spatial axis, exact for band-limited periodic data (each
    axis periodic with period L = n h: its grid holds x_0, ..., x_0 + L - h, the endpoint excluded);
    t-derivatives by finite differences.
  * ``"fd"``: central finite differences of accuracy ``fd_order`` (an even order q: the error of a derivative of
    any order is O(h^q)) along every axis; the spatial axes wrap around when ``periodic``.
  * ``"poly"``: local least-squares polynomials of total degree ``poly_degree`` in (t, x^1..x^s) over a window of
    (2 w_t + 1) x (2 w_1 + 1) x ... x (2 w_s + 1) grid points (Savitzky-Golay filters in p dimensions, applied as
    FFT correlations): smooths noisy data; the derivatives are those of the fitted polynomial at the window's
    centre (exact for polynomials of degree <= ``poly_degree``).

Mixed derivatives are D_t^a (D_s^{c_s} ... (D_1^{c_1} u)): the spatial derivatives first, axis by axis in
``jet.independent`` order (each prefix D_1^{c_1} ... D_r^{c_r} u computed once and reused), then one t-stencil for
the order a (not a repeated first derivative). ``periodic`` applies to every spatial axis; t is never periodic.
Near the ends of a non-periodic axis a centred stencil does not fit: ``boundary="drop"`` (default) leaves those
grid points out (``GridJets.n_valid`` counts what is left), ``boundary="one-sided"`` uses shifted stencils of
m + q points there (the same order q; larger error constants). ``"poly"`` always drops (its window must fit).
Everything is float64.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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
    """Jet points of gridded solutions (the result of :func:`jets_from_grid`); s is the number of spatial
    variables (``jet.p - 1``).

    Attributes:
        Z: (M, jet.dim) float64 jet points in the :class:`JetSpace` layout (t, x, ..., u, ..., u_t, u_x, ...).
        index: (M, 2 + s) int64 grid index (b, i, j_1, ..., j_s) of each row: Z[r] is the jet of solution b at
            (t_i, x^1_{j_1}, ..., x^s_{j_s}); rows in that (lexicographic) order.
        jet: the jet space.
        method: the method used (``"spectral"``, ``"fd"`` or ``"poly"``; ``"auto"`` resolved).
        periodic: whether the spatial axes were treated as periodic.
        boundary: ``"drop"`` or ``"one-sided"`` (how the ends of non-periodic axes were handled).
        n_valid: grid points with every derivative available (before subsampling); M <= n_valid.
        grid_shape: (B, nt, n_1, ..., n_s) of the input (B = 1 for a single solution).
        dt: the t step.
        dx: the spatial step: a float when s == 1, else a tuple of s floats (one per spatial variable, in
            ``jet.independent[1:]`` order).
        options: the resolved numerical options (``fd_order``, or ``poly_degree`` and ``window``, the p
            half-widths (w_t, w_1, ..., w_s)).
    """

    Z: torch.Tensor
    index: torch.Tensor
    jet: JetSpace
    method: str
    periodic: bool
    boundary: str
    n_valid: int
    grid_shape: tuple[int, ...]
    dt: float
    dx: float | tuple[float, ...]
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


@dataclass
class _Axis:
    """One grid axis: ``label`` names its argument in messages (``"t"``, ``"x"`` or ``"x[1] (y)"``), ``var`` is
    the jet's variable, ``values`` (n,) the uniform grid of step ``h``."""

    label: str
    var: str
    values: np.ndarray
    h: float
    periodic: bool

    @property
    def n(self) -> int:
        return int(self.values.shape[0])


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


def _fd_axis(a: np.ndarray, m: int, p: int, h: float, periodic: bool, boundary: str,
             axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """m-th derivative of a along ``axis`` (n points), accuracy p; returns (d, valid (n,) bool). Points where the
    derivative is not available (``boundary="drop"``) are NaN."""
    n = a.shape[axis]
    if m == 0:
        return a, np.ones(n, dtype=bool)
    a = np.moveaxis(a, axis, -1)
    q = _half_width(m, p)
    w = finite_difference_weights(np.arange(-q, q + 1), m) / h ** m
    if periodic:
        d = np.zeros_like(a)
        for k, wk in zip(range(-q, q + 1), w):
            if wk != 0.0:
                d += wk * np.roll(a, -k, axis=-1)
        return np.moveaxis(d, -1, axis), np.ones(n, dtype=bool)
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
    return np.moveaxis(d, -1, axis), valid


def _spectral_axis(a: np.ndarray, m: int, h: float, axis: int) -> np.ndarray:
    """m-th derivative of a along a periodic ``axis`` (n points, period n h) by FFT; the Nyquist mode of odd orders
    is 0."""
    if m == 0:
        return a
    n = a.shape[axis]
    mult = (1j * 2 * math.pi * np.fft.rfftfreq(n, d=h)) ** m
    if m % 2 == 1 and n % 2 == 0:
        mult[-1] = 0.0
    shape = [1] * a.ndim
    shape[axis] = mult.shape[0]
    return np.fft.irfft(np.fft.rfft(a, axis=axis) * mult.reshape(shape), n=n, axis=axis)


def _poly_kernels(J_list, degree: int, ws: tuple[int, ...], hs: tuple[float, ...]) -> dict:
    """Savitzky-Golay kernels {J: (2 w_0 + 1, ..., 2 w_{p-1} + 1)} in p dimensions: the J-derivative at the
    centre of the least-squares polynomial of total degree ``degree`` through the window (steps ``hs``)."""
    p = len(ws)
    offsets = [g.reshape(-1) for g in np.meshgrid(*[np.arange(-w, w + 1.0) for w in ws], indexing="ij")]
    monos = [e for d in range(degree + 1) for e in multi_indices(p, d)]
    V = np.stack([np.prod([o ** k for o, k in zip(offsets, e)], axis=0) for e in monos], 1)
    if np.linalg.matrix_rank(V) < len(monos):
        raise SymlieError(f"window: a ({' x '.join(str(2 * w + 1) for w in ws)}) window cannot determine a "
                          f"polynomial of degree {degree} (needs at least {degree + 1} points in each direction)")
    P = np.linalg.pinv(V)
    shape = tuple(2 * w + 1 for w in ws)
    return {J: (P[monos.index(J)] * math.prod(math.factorial(j) / h ** j for j, h in zip(J, hs))).reshape(shape)
            for J in J_list}


# ------------------------------------------------------------------------------------------- validation
def _check_jet(jet) -> None:
    if not isinstance(jet, JetSpace):
        raise TypeError(f"jet: expected a symlie.pde.JetSpace, got {type(jet).__name__}")
    if jet.p < 2:
        raise SymlieError(f"jet: jets_from_grid needs time and at least one spatial variable (independent "
                          f"variables such as (t, x) or (t, x, y), time first); got {jet!r}")


def _article(var: str) -> str:
    """``"an"`` before a variable name read as starting with a vowel sound (``"an x-derivative"``), else ``"a"``."""
    return "an" if var[0] in "aeiou" or var in ("f", "h", "l", "m", "n", "r", "s", "x") else "a"


def _layouts(jet: JetSpace) -> tuple[str, str]:
    """The shapes of a batch and of one solution in words: ``"(B, nt, nx, ny)"``, ``"(nt, nx, ny)"``."""
    one = ", ".join(f"n{v}" for v in jet.independent)
    return f"(B, {one})", f"({one})"


def _spatial_grids(x, jet: JetSpace) -> list[tuple[str, Any]]:
    """(label, grid) of every spatial variable: one grid when s == 1 (or a sequence holding it), else a
    tuple / list of s grids in ``jet.independent[1:]`` order."""
    names = jet.independent[1:]
    s = len(names)
    if s == 1:
        if isinstance(x, (list, tuple)) and len(x) == 1 and np.ndim(x[0]) == 1:
            x = x[0]                                               # a sequence holding the one grid
        return [("x", x)]
    if not isinstance(x, (list, tuple)) or len(x) != s:
        got = (f"{len(x)} grids" if isinstance(x, (list, tuple)) else
               f"one {type(x).__name__} of shape {tuple(np.shape(x))}")
        raise DataError(f"x: the jet has {s} spatial variables ({', '.join(names)}); expected a tuple or list of {s} "
                        f"grids, one per variable in that order, got {got}")
    return [(f"x[{k}] ({v})", g) for k, (v, g) in enumerate(zip(names, x))]


def _components(u, jet: JetSpace) -> list[tuple[str, Any]]:
    """(label, array) of every dependent variable in ``jet.dependent`` order, from an array (m == 1), a list /
    tuple of m arrays or a dict {name: array}."""
    names, m = jet.dependent, jet.m
    if isinstance(u, dict):
        missing = [n for n in names if n not in u]
        unknown = [k for k in u if k not in names]
        if missing or unknown:
            what = "; ".join(f"{w}: {', '.join(map(repr, v))}" for w, v in (("missing", missing),
                                                                             ("unknown", unknown)) if v)
            raise DataError(f"u: expected a dict with exactly the dependent variables ({', '.join(names)}) as keys; "
                            f"{what}")
        return [("u" if m == 1 else f"u[{n!r}]", u[n]) for n in names]
    if m == 1:
        return [("u", u)]
    if not isinstance(u, (list, tuple)):
        raise DataError(f"u: the jet has {m} dependent variables ({', '.join(names)}); expected a list or tuple of "
                        f"{m} arrays (one per variable, in that order) or a dict {{name: array}}, got one "
                        f"{type(u).__name__}")
    if len(u) != m:
        raise DataError(f"u: expected {m} arrays, one per dependent variable ({', '.join(names)}), got {len(u)}")
    return [(f"u[{a}] ({n})", c) for a, (n, c) in enumerate(zip(names, u))]


def _check_u(u, jet: JetSpace) -> list[np.ndarray]:
    """The m components as float64 arrays (B, nt, n_1, ..., n_s) of one shape (a single solution gets B = 1)."""
    s = jet.p - 1
    batch, one = _layouts(jet)
    labels: list[str] = []
    arrays: list[np.ndarray] = []
    for label, c in _components(u, jet):
        U = as_tensor(c, label, dtype=DT, finite=False)
        if U.ndim not in (s + 1, s + 2):
            raise ValueError(f"{label}: expected {s + 1} or {s + 2} dimensions (one solution {one} or a batch "
                             f"{batch}), got shape {tuple(U.shape)}")
        if U.ndim == s + 1:
            U = U.unsqueeze(0)
        if min(U.shape) == 0:
            raise DataError(f"{label}: expected solutions of shape {batch} or {one} with no empty axis, got shape "
                            f"{tuple(U.shape)}")
        if arrays and tuple(U.shape) != arrays[0].shape:
            raise DataError(f"u: the components must share one grid, but {labels[0]} has shape {arrays[0].shape} and "
                            f"{label} has shape {tuple(U.shape)} (one solution counted as a batch of B = 1)")
        bad = int((~torch.isfinite(U)).sum())
        if bad:
            raise DataError(f"{label}: contains {bad} NaN or Inf value{'' if bad == 1 else 's'} (of {U.numel()}); "
                            f"jets need a finite solution everywhere (crop the grid or the blown-up trajectories)")
        labels.append(label)
        arrays.append(U.cpu().numpy())
    return arrays


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


def _resolve(method, periodic, boundary, fd_order, s: int):
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
        what = "x-derivatives need x periodic" if s == 1 else "spatial derivatives need every spatial axis periodic"
        raise SymlieError(f"method, periodic: spectral {what} (periodic=True); use method='fd' or 'poly' for a "
                          f"bounded domain")
    return method, periodic, p


def _need(name: str, what: str, n: int, need: int) -> None:
    if n < need:
        raise DataError(f"{name}: {what} needs at least {need} grid points along this axis, got {n}")


# ------------------------------------------------------------------------------------------- entry point
def jets_from_grid(u, t, x, jet: JetSpace, *, method: str = "auto", periodic: bool | None = None,
                   fd_order: int = 6, boundary: str = "drop", poly_degree: int | None = None,
                   window: int | tuple[int, ...] | None = None, n_points: int | None = None, seed=0,
                   uniform_rtol: float = 1e-4) -> GridJets:
    """Jet points of J^k (k = ``jet.order``) from solutions sampled on a uniform (t, x^1, ..., x^s) grid.

    The jet's first independent variable is time, the s = ``jet.p - 1`` others are spatial; write n_1..n_s for
    the grid sizes of the spatial variables (``jet.independent[1:]``) and m = ``jet.m``.

    Args:
        u: the solutions, float64 after conversion (numpy arrays or torch tensors): for m == 1 one array of
            shape (B, nt, n_1, ..., n_s) (B solutions) or (nt, n_1, ..., n_s) (one solution; told apart by the
            number of dimensions, s + 1 or s + 2), u[b, i, j_1, ..., j_s] = u_b(t_i, x^1_{j_1}, ...); for any m
            a list / tuple of m such arrays of one shape (``jet.dependent`` order) or a dict {name: array} with
            exactly the dependent names. Finite everywhere.
        t: the time grid (nt,).
        x: the spatial grid (n_1,) when s == 1, else a tuple / list of s grids (n_1,), ..., (n_s,) in
            ``jet.independent[1:]`` order. Every grid strictly increasing and uniform (relative step deviation at
            most ``uniform_rtol``); a periodic grid holds one period without its endpoint.
        jet: a :class:`JetSpace` (time first, then s >= 1 spatial variables; any number of dependent ones).
        method: ``"spectral"`` (FFT in space, FD in t), ``"fd"`` (FD along every axis), ``"poly"`` (local
            polynomial fits) or ``"auto"`` (spectral when ``periodic`` is True, else FD).
        periodic: every spatial axis periodic with period n_r h_r (default: True for ``"spectral"``, False
            otherwise).
        fd_order: even accuracy order q of the finite differences (t always, space for ``"fd"``).
        boundary: ``"drop"`` the grid points where a centred stencil does not fit, or use ``"one-sided"`` stencils
            there (FD only; ``"poly"`` always drops).
        poly_degree: ``"poly"``: total degree of the local polynomials in (t, x^1..x^s) (default
            ``jet.order + 2``).
        window: ``"poly"``: one half-width for every axis or a tuple of p = s + 1 half-widths
            (w_t, w_1, ..., w_s) of the fitting window (default ``poly_degree // 2 + 2`` each).
        n_points: keep a random subset of this many valid rows (seeded by ``seed``; all rows when None or when
            there are fewer valid rows); rows keep their grid order.
        seed: int or ``torch.Generator`` of the subsampling.

    Returns:
        :class:`GridJets` with Z (M, jet.dim) float64 in the :class:`JetSpace` layout (Z[:, jet.index(alpha, J)]
        = D^J u^alpha) and the grid index (M, 2 + s) (b, i, j_1, ..., j_s) of every row.

    Raises:
        DataError: non-uniform or non-increasing grids (naming the grid and the max deviation), NaN / Inf in a
            component (counted), shapes that disagree (components, grids, number of spatial grids), a dict with
            missing or unknown names, or too few grid points for the stencils.
        SymlieError: a jet without a spatial variable, or spectral without periodic space.
    """
    _check_jet(jet)
    s, m, k = jet.p - 1, jet.m, jet.order
    method, periodic, q = _resolve(method, periodic, boundary, fd_order, s)
    grids = _spatial_grids(x, jet)
    comps = _check_u(u, jet)
    grid_shape = comps[0].shape                                   # (B, nt, n_1, ..., n_s)
    B, nt = grid_shape[:2]
    axes = [_Axis("t", jet.independent[0], *_uniform(t, "t", nt, uniform_rtol), False)]
    axes += [_Axis(label, var, *_uniform(g, label, n, uniform_rtol), periodic)
             for (label, g), var, n in zip(grids, jet.independent[1:], grid_shape[2:])]
    J_list = [(0,) * jet.p] + [J for r in range(1, k + 1) for J in multi_indices(jet.p, r)]   # every column's J
    n_fields = m * len(J_list)
    n_cached = len(_spatial_prefixes(J_list)) if method != "poly" else 2
    check_memory(8.0 * math.prod(grid_shape) * (n_fields + m * (n_cached + 4)),
                 f"jets_from_grid: {n_fields} derivative fields on a grid {grid_shape}",
                 hint="pass fewer solutions (split u into batches) or crop the grid")
    U = np.stack(comps).reshape((m * B,) + grid_shape[1:])       # components as more solutions: (m B, nt, ...)
    del comps
    if method == "poly":
        fields, valid_axes, options = _poly(U, J_list, axes, k, poly_degree, window)
    else:
        fields, valid_axes = _fd_spectral(U, J_list, axes, q, method, boundary)
        options = {"fd_order": q}
    valid = np.ones(grid_shape, dtype=bool)
    for d, v in enumerate(valid_axes):                             # the product of the per-axis masks
        valid &= v.reshape((-1,) + (1,) * (jet.p - 1 - d))
    idx = np.argwhere(valid)                                       # (n_valid, 2 + s) in (b, i, j_1, ...) order
    n_valid = idx.shape[0]
    if n_valid == 0:
        raise DataError(f"u: no grid point has every derivative (grid {grid_shape}, method {method!r}); use a "
                        f"larger grid or boundary='one-sided'")
    if n_points is not None:
        n_points = check_int(n_points, "n_points", 1)
        if n_points < n_valid:
            keep = torch.randperm(n_valid, generator=make_generator(seed))[:n_points].sort().values.numpy()
            idx = idx[keep]
    at = tuple(idx.T)
    Z = np.empty((idx.shape[0], jet.dim))
    for d, ax in enumerate(axes):
        Z[:, d] = ax.values[idx[:, 1 + d]]
    for J in J_list:
        F = fields[J].reshape((m,) + grid_shape)
        for alpha in range(m):
            Z[:, jet.index(alpha, J)] = F[alpha][at]
    steps = [ax.h for ax in axes[1:]]
    return GridJets(torch.from_numpy(Z), torch.from_numpy(idx.astype(np.int64)), jet, method, periodic,
                    "drop" if method == "poly" else boundary, int(n_valid), tuple(grid_shape), axes[0].h,
                    steps[0] if s == 1 else tuple(steps), options)


def _spatial_prefixes(J_list) -> set[tuple[int, ...]]:
    """The spatial prefixes (c_1, ..., c_r), c_r > 0, that the mixed derivatives pass through (one stored field
    each)."""
    return {J[1: 1 + r] for J in J_list for r in range(1, len(J)) if J[r] > 0}


def _fd_spectral(U: np.ndarray, J_list: list, axes: list, q: int, method: str, boundary: str) -> tuple:
    """{J: D^J U} for U (C, nt, n_1, ..., n_s) (spatial derivatives by FFT or FD of accuracy q, then t by FD) and
    the (n,) bool validity mask of every axis."""
    for d, ax in enumerate(axes):
        top = max(J[d] for J in J_list)
        if not top:
            continue
        if d and method == "spectral":
            _need(ax.label, "spectral differentiation", ax.n, 4)
        else:
            fits = ax.periodic or boundary == "drop"
            _need(ax.label, f"{_article(ax.var)} {ax.var}-derivative of order {top} with fd_order={q}"
                  f"{'' if ax.periodic else f' ({boundary})'}", ax.n, 2 * _half_width(top, q) + 1 if fits else top + q)
    valid = [np.ones(ax.n, dtype=bool) for ax in axes]

    def along(a: np.ndarray, order: int, d: int) -> np.ndarray:
        ax = axes[d]
        if d and method == "spectral":
            return _spectral_axis(a, order, ax.h, 1 + d)
        out, v = _fd_axis(a, order, q, ax.h, ax.periodic, boundary, axis=1 + d)
        valid[d] &= v
        return out

    cache: dict[tuple[int, ...], np.ndarray] = {(): U}                 # spatial prefix (c_1..c_r) -> field
    for c in sorted({J[1:] for J in J_list}):
        for r in range(1, len(c) + 1):
            if c[:r] not in cache:
                cache[c[:r]] = along(cache[c[: r - 1]], c[r - 1], r)
    fields = {J: along(cache[J[1:]], J[0], 0) for J in J_list}
    return fields, valid


def _poly(U, J_list, axes, k, poly_degree, window):
    """{J: D^J U} of the local polynomial fits (U (C, nt, n_1, ..., n_s)), the per-axis validity masks and the
    resolved options."""
    deg = k + 2 if poly_degree is None else check_int(poly_degree, "poly_degree", 1)
    if deg < k:
        raise ValueError(f"poly_degree: the jet has derivatives of order {k}; the polynomials need degree >= {k}, "
                         f"got {deg}")
    ws = _window(window, deg, axes)
    for ax, w in zip(axes, ws):
        _need(ax.label, f"a polynomial window of half-width {w}", ax.n, 2 * w + 1)
    kernels = _poly_kernels(J_list, deg, ws, tuple(ax.h for ax in axes))
    shape, fft_axes = U.shape[1:], tuple(range(1, U.ndim))
    U_hat = np.fft.rfftn(U, axes=fft_axes)
    fields = {}
    for J, K in kernels.items():
        # the correlation sum_e K[e] U[i + e - w] as a circular convolution with g[-e'] = K[e' + w]; it wraps
        # around only within w of the ends of an axis: exactly the margins that non-periodic axes drop
        g = np.zeros(shape)
        g[tuple(slice(0, 2 * w + 1) for w in ws)] = np.flip(K)
        g = np.roll(g, tuple(-w for w in ws), axis=tuple(range(len(ws))))
        fields[J] = np.fft.irfftn(U_hat * np.fft.rfftn(g), s=shape, axes=fft_axes)
    valid = []
    for ax, w in zip(axes, ws):
        v = np.ones(ax.n, dtype=bool)
        if not ax.periodic:
            v[:w] = v[ax.n - w:] = False
        valid.append(v)
    return fields, valid, {"poly_degree": deg, "window": ws}


def _window(window, deg: int, axes) -> tuple[int, ...]:
    """The half-widths (w_t, w_1, ..., w_s) from None (default), one int or a tuple of p ints."""
    p = len(axes)
    if window is None:
        return (deg // 2 + 2,) * p
    if isinstance(window, int) and not isinstance(window, bool):
        return (check_int(window, "window", 1),) * p
    want = (f"an int >= 1 or a {'pair' if p == 2 else 'tuple'} ({', '.join('w_' + ax.var for ax in axes)}) of "
            f"them")
    try:
        ws = tuple(check_int(w, "window", 1) for w in window)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"window: expected {want}, got {window!r}") from exc
    if len(ws) != p:
        raise ValueError(f"window: expected {want}, got {window!r}")
    return ws
