"""Validity scores of transformed data: how far a transformed datum is from being valid (Ko, Kim, Lee 2024).

A candidate symmetry moves a datum; the score S(transformed datum) is low when the move is a symmetry. Two
kinds of data:

**PDE solutions** (:func:`cloud_jets`, :func:`pde_validity`). A solution sampled on a grid is the point cloud
P[b, i, j] = (t, x, u) of its graph; a point transformation moves every point, so after the move the cloud is
irregular but keeps its grid structure (the neighbours of a point are known by grid index). At each centre c the
derivatives of u come from a weighted least-squares polynomial fit over the (2 w_t + 1) x (2 w_x + 1) grid
neighbours n, in the offsets of their *transformed* coordinates, dt_n = t_n - t_c and dx_n = x_n - x_c (with a
period L in x, dx_n wrapped into (-L/2, L/2]):

    u_n - u_c ~ sum_{a <= d_t, b <= d_x} c_ab dt_n^a dx_n^b,      u_{t^a x^b}(c) = a! b! c_ab,

a tensor-product basis of degrees (d_t, d_x) (``degree``; default (2 w_t, 2 w_x): interpolation on a regular
stencil, where it reproduces the central finite differences of that stencil). The fit is exact for every
polynomial of the basis, on any cloud where it is unisolvent: on a grid whose rows keep a common t and distinct
x (translations, Galilean boosts, any x-shear) a polynomial of the basis vanishing at the stencil vanishes on each
row, so the fit is always well-posed there. Derivatives u_{t^a x^b} with a <= d_t and b <= d_x are available,
mixed ones included (u_tx, u_txx, ...); asking for another (u_ttt with d_t = 2) raises, naming it.

Numerics: the offsets of each centre are scaled by their RMS (per direction); the normal matrix G = A^T W A is
assembled from the moments mu_pq = sum_n w_n dt_n^p dx_n^q (no (centres x points x monomials) array), ``ridge``
times its diagonal D is added (the same as ``ridge`` times I on the Jacobi-scaled, unit-diagonal matrix, to whose
scaling Cholesky is insensitive) and the system is solved by a batched Cholesky factorization. On the default
3 x 7 stencil the unit-diagonal matrix has smallest eigenvalue lambda = 2.7e-5 on a regular grid (condition
number 2e5); one step of iterative refinement, y <- y + (G + ridge D)^{-1} ridge D y, reduces the ridge's relative
bias from ridge / lambda to (ridge / lambda)^2 (on well-posed fits: below the rounding error, ~1e-11 for the
derivatives up to order 4), while directions with lambda << ridge stay regularized. The result is finite for
every cloud, degenerate ones included (coinciding points give large but finite derivatives, hence a bad score,
never NaN); a fit whose matrix is numerically singular is redone with the ridge 1e-8. Everything is batched over
all centres (no Python loop over points), runs in float64 and is differentiable with respect to P. The scalings
and the ridge are held fixed in the backward pass (without the ridge the fit does not depend on them, so this
changes the gradient by O(ridge^2) only).

Centres whose stencil leaves the patch along t, or along x without a period, are excluded (``mask``); x is
periodic only when the patch holds a whole period (``periodic_x = L``).

Compared with the WENO-style fit of the original code (square sub-stencil systems combined with smoothness
weights whose gradients are stopped), one least-squares fit per centre is exact on the same polynomials, smooth
in P (no weight switching) and cheaper; the stencil and degree are parameters.

:func:`pde_validity` turns an equation into a score: S(P)_b = mean over the valid centres of sample b of
log(max(|Delta(z)|, threshold)) (``log=False``: the mean of |Delta|), Delta the residual on the cloud jets z.

**Images** (:func:`pixel_grid`, :func:`warp_images`, :func:`feature_validity`). Pixel coordinates live in
[-1, 1]^2 with the convention of ``torch.nn.functional.grid_sample``: coordinate 0 is the width axis x
(-1 = left column, 1 = right column), coordinate 1 the height axis y (-1 = top row, 1 = bottom row), pixel
centres on the corners (``align_corners=True``), so one pixel is 2 / (W - 1) in x and 2 / (H - 1) in y. A
transformed image is the bilinear sample of the image at moved coordinates (zero outside), the pull-back
(T f)(p) = f(phi(p)). The score is the angle between the features of the image and of its transform.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch

from ..pde.equations import Equation
from ..pde.jets import JetSpace
from ..utils.errors import SymlieError
from ..utils.resources import check_memory
from ..utils.validation import as_tensor, check_int

__all__ = ["cloud_jets", "pde_validity", "PDEValidity", "pixel_grid", "warp_images", "rotate_images",
           "feature_validity", "FeatureValidity", "DEFAULT_STENCIL"]

DT = torch.float64
#: default half-widths (w_t, w_x) of the fitting stencil: 3 x 7 grid points, degrees (2, 6)
DEFAULT_STENCIL = (1, 3)
_COS_MAX = 1.0 - 1e-6


# ------------------------------------------------------------------------------------------------- validation
def _tensor(x: Any, name: str, **kw) -> torch.Tensor:
    try:
        return as_tensor(x, name, **kw)
    except SymlieError:
        raise
    except ValueError as exc:
        raise SymlieError(str(exc)) from None


def _int(value: Any, name: str, minimum: int) -> int:
    try:
        return check_int(value, name, minimum)
    except ValueError as exc:
        raise SymlieError(str(exc)) from None


def _pair(value: Any, name: str, minimum: int) -> tuple[int, int]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise SymlieError(f"{name}: expected a pair of ints (for t, x), got {value!r}")
    return _int(value[0], f"{name}[0]", minimum), _int(value[1], f"{name}[1]", minimum)


def _positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise SymlieError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def _check_jet(jet: Any, name: str = "jet") -> JetSpace:
    if not isinstance(jet, JetSpace):
        raise TypeError(f"{name}: expected a symlie.pde.JetSpace, got {type(jet).__name__}")
    if jet.p != 2 or jet.m != 1:
        raise SymlieError(f"{name}: the cloud holds (t, x, u), so the jet space needs 2 independent and 1 dependent "
                          f"variable, got {jet!r}")
    return jet


def _check_points(P: Any, name: str = "P") -> torch.Tensor:
    t = _tensor(P, name, ndim=4, finite=False)
    if t.shape[-1] != 3:
        raise SymlieError(f"{name}: expected points of shape (B, nt, nx, 3) holding (t, x, u), got shape "
                          f"{tuple(t.shape)} (last dimension {t.shape[-1]}, not 3)")
    if min(t.shape[:3]) == 0:
        raise SymlieError(f"{name}: got an empty cloud of shape {tuple(t.shape)}")
    with torch.no_grad():
        bad = int((~torch.isfinite(t)).sum())
    if bad:
        raise SymlieError(f"{name}: contains {bad} NaN or Inf entr{'y' if bad == 1 else 'ies'}")
    return t


# ------------------------------------------------------------------------------------------------- cloud jets
class _Plan:
    """What a fit computes: stencil, degrees, period and the derivative columns with their (a, b)."""

    def __init__(self, jet: JetSpace, stencil: Any, degree: Any, periodic_x: Any, columns: Any, taper: Any,
                 ridge: Any):
        self.jet = _check_jet(jet)
        self.wt, self.wx = _pair(stencil, "stencil", 0)
        if degree is None:
            self.dt, self.dx = 2 * self.wt, 2 * self.wx
        else:
            self.dt, self.dx = _pair(degree, "degree", 0)
            if self.dt > 2 * self.wt or self.dx > 2 * self.wx:
                raise SymlieError(f"degree: {(self.dt, self.dx)} needs more grid points than the stencil "
                                  f"{(self.wt, self.wx)} has (at most (2 w_t, 2 w_x) = {(2 * self.wt, 2 * self.wx)})")
        self.period = None if periodic_x is None else _positive(periodic_x, "periodic_x")
        self.taper = float(taper) if isinstance(taper, (int, float)) and not isinstance(taper, bool) else -1.0
        if not (math.isfinite(self.taper) and self.taper >= 0):
            raise SymlieError(f"taper: expected a finite number >= 0, got {taper!r}")
        self.ridge = float(ridge) if isinstance(ridge, (int, float)) and not isinstance(ridge, bool) else -1.0
        if not (math.isfinite(self.ridge) and self.ridge >= 0):
            raise SymlieError(f"ridge: expected a finite number >= 0, got {ridge!r}")
        base = set(jet.names[: jet.base_dim])
        if columns is None:
            names = [n for n in jet.names if n not in base]
        else:
            if isinstance(columns, str) or not isinstance(columns, Sequence):
                raise SymlieError(f"columns: expected a sequence of jet coordinate names, got {columns!r}")
            for n in columns:
                if not isinstance(n, str) or n not in jet.names:
                    raise SymlieError(f"columns: {n!r} is not a coordinate of {jet!r}; available: "
                                      f"{', '.join(jet.names)}")
            names = [n for n in jet.names if n in set(columns) and n not in base]
        J_of = {jet.index(0, J): J for J in _all_indices(jet)}
        self.cols = [jet.coordinate(n) for n in names]
        self.ab = [J_of[c] for c in self.cols]
        missing = [n for n, (a, b) in zip(names, self.ab) if a > self.dt or b > self.dx]
        if missing:
            raise SymlieError(
                f"jet: the fit of degrees (d_t, d_x) = {(self.dt, self.dx)} (stencil {(self.wt, self.wx)}) cannot "
                f"give {', '.join(missing)} (derivatives u_{{t^a x^b}} need a <= d_t and b <= d_x); widen stencil= "
                f"/ degree=, or pass columns= with the derivatives that are needed")
        self.basis = [(a, b) for a in range(self.dt + 1) for b in range(self.dx + 1)]

    def check_size(self, nt: int, nx: int) -> None:
        kt, kx = 2 * self.wt + 1, 2 * self.wx + 1
        if kt > nt or kx > nx:
            raise SymlieError(f"stencil: {(self.wt, self.wx)} spans {kt} x {kx} grid points, more than the patch of "
                              f"{nt} x {nx} (nt x nx) holds")


def _all_indices(jet: JetSpace) -> list[tuple[int, int]]:
    return [(a, k - a) for k in range(1, jet.order + 1) for a in range(k, -1, -1)]


def _interior_jets(P: torch.Tensor, plan: _Plan, max_bytes: int | float | None = None) -> torch.Tensor:
    """The fitted derivatives (B, nt', nx', len(plan.cols)) at the interior centres, float64."""
    B, nt, nx, _ = P.shape
    plan.check_size(nt, nx)
    wt, wx = plan.wt, plan.wx
    kt, kx = 2 * wt + 1, 2 * wx + 1
    K, M = kt * kx, len(plan.basis)
    ntp = nt - 2 * wt
    nxp = nx if plan.period is not None else nx - 2 * wx
    N = B * ntp * nxp
    check_memory(8.0 * N * (4 * M * M + K * (2 * (plan.dt + plan.dx) + 12)),
                 f"cloud_jets: least-squares fits at {N} centres of {K} points and {M} monomials",
                 hint="score smaller patches or batches, or a smaller stencil", max_bytes=max_bytes)
    Pd = P.to(DT)
    if plan.period is not None and wx:
        Pd = torch.cat([Pd[:, :, nx - wx:], Pd, Pd[:, :, :wx]], dim=2)      # neighbours by grid index, wrapped
    X = Pd.unfold(1, kt, 1).unfold(2, kx, 1)                               # (B, nt', nx', 3, kt, kx)
    X = X.reshape(N, 3, K)
    d = X - X[:, :, wt * kx + wx, None]                                    # offsets from the centre
    dt_, dx_, r = d[:, 0], d[:, 1], d[:, 2]
    if plan.period is not None:
        L = plan.period
        dx_ = dx_ - L * torch.ceil(dx_.detach() / L - 0.5)                 # into (-L/2, L/2]
    with torch.no_grad():                                                  # conditioning only (see docstring)
        st = dt_.pow(2).mean(1, keepdim=True).sqrt()
        sx = dx_.pow(2).mean(1, keepdim=True).sqrt()
        st = torch.where(st > 0, st, torch.ones_like(st))
        sx = torch.where(sx > 0, sx, torch.ones_like(sx))
    tau, xi = dt_ / st, dx_ / sx
    tpow = _powers(tau, 2 * plan.dt)                                      # (N, K, 2 d_t + 1)
    xpow = _powers(xi, 2 * plan.dx)                                       # (N, K, 2 d_x + 1)
    gi = torch.arange(-wt, wt + 1, dtype=DT)[:, None] / max(wt, 1)
    gj = torch.arange(-wx, wx + 1, dtype=DT)[None, :] / max(wx, 1)
    w = torch.exp(-plan.taper * (gi ** 2 + gj ** 2)).reshape(K).to(P.device)   # fit weights, by grid index
    # normal equations from the moments mu_pq = sum_k w_k tau_k^p xi_k^q: G_mn = mu_{a_m + a_n, b_m + b_n}
    mom = torch.bmm((tpow * w[:, None]).transpose(1, 2), xpow)            # (N, 2 d_t + 1, 2 d_x + 1)
    nq = 2 * plan.dx + 1
    flat = torch.tensor([(am + an) * nq + bm + bn for am, bm in plan.basis for an, bn in plan.basis],
                        device=P.device)
    G = mom.reshape(N, -1)[:, flat].reshape(N, M, M)
    rhs = torch.bmm((tpow[..., :plan.dt + 1] * (r * w)[..., None]).transpose(1, 2), xpow[..., :plan.dx + 1])
    rhs = rhs.reshape(N, M)                                               # basis order: (a, b), a-major
    # the ridge relative to the diagonal (Marquardt): the same as ridge * I on the unit-diagonal (Jacobi-scaled)
    # matrix, to which Cholesky is insensitive (van der Sluis), so no scaled copy of G is made
    with torch.no_grad():
        diag = torch.diagonal(G, dim1=1, dim2=2)
        diag = torch.where(diag > 0, diag, torch.ones_like(diag))
    lam = plan.ridge * diag                                               # (N, M), no gradient
    chol, info = torch.linalg.cholesky_ex(G + torch.diag_embed(lam))
    if bool((info > 0).any()):                                            # numerically singular: a larger ridge
        lam = lam + torch.where(info > 0, max(1e-8, 1e3 * plan.ridge), 0.0).to(DT)[:, None] * diag
        chol, info = torch.linalg.cholesky_ex(G + torch.diag_embed(lam))
        if bool((info > 0).any()):  # pragma: no cover - a unit-diagonal matrix plus 1e-8 I is positive definite
            raise SymlieError(f"cloud_jets: {int((info > 0).sum())} local fits are singular")
    y = torch.cholesky_solve(rhs[..., None], chol)
    y = y + torch.cholesky_solve(lam[..., None] * y, chol)              # one refinement step: bias (ridge/lambda)^2
    y = y[..., 0]
    want = torch.tensor([plan.basis.index(ab) for ab in plan.ab], dtype=torch.long, device=P.device)
    a_ = torch.tensor([a for a, _ in plan.ab], dtype=DT, device=P.device)
    b_ = torch.tensor([b for _, b in plan.ab], dtype=DT, device=P.device)
    fact = torch.tensor([math.factorial(a) * math.factorial(b) for a, b in plan.ab], dtype=DT, device=P.device)
    deriv = y[:, want] * fact / (st ** a_ * sx ** b_)                     # u_{t^a x^b} = a! b! c_ab
    return deriv.reshape(B, ntp, nxp, len(plan.cols))


def _powers(v: torch.Tensor, n: int) -> torch.Tensor:
    """(..., n + 1): v^0 .. v^n (repeated products)."""
    out = [torch.ones_like(v)]
    for _ in range(n):
        out.append(out[-1] * v)
    return torch.stack(out, -1)


def cloud_jets(P: Any, jet: JetSpace, *, periodic_x: float | None = None, stencil: Sequence[int] = DEFAULT_STENCIL,
               degree: Sequence[int] | None = None, columns: Sequence[str] | None = None, taper: float = 0.0,
               ridge: float = 1e-12, max_bytes: int | float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Jets of a grid-structured, irregular point cloud by local least-squares polynomial fits (module docstring).

    Args:
        P: (B, nt, nx, 3) points (t, x, u) (``jet.independent[0]``, ``jet.independent[1]``, ``jet.dependent[0]``);
            P[b, i, j] is the (transformed) point of grid node (i, j), neighbours are taken by grid index. The
            coordinates are those of the equation (physical units): a flow computed in normalized coordinates
            (x / L, (t - t0) / T, c u) is mapped back before scoring.
        jet: a :class:`symlie.pde.JetSpace` with 2 independent variables and 1 dependent variable.
        periodic_x: the period L of x when the patch holds a whole period (neighbours wrap around in j, offsets
            are wrapped into (-L/2, L/2]); None: x is not periodic and the first / last w_x columns are excluded.
        stencil: half-widths (w_t, w_x): (2 w_t + 1) x (2 w_x + 1) neighbours per centre.
        degree: the degrees (d_t, d_x) of the tensor-product basis, at most (2 w_t, 2 w_x) (the default).
        columns: the derivative columns to fit (names such as ``"u_t"``, ``"u_xxx"``); None: every derivative
            column of ``jet`` (each must be available: see the module docstring). Columns not asked for are 0.
        taper: fit weights exp(-taper ((i / w_t)^2 + (j / w_x)^2)) by grid offset (i, j); 0: uniform.
        ridge: relative ridge (times the normal matrix's diagonal), with one refinement step (module docstring);
            keeps degenerate fits finite.
        max_bytes: memory limit for this call.

    Returns:
        ``(jets, mask)``: ``jets`` (B, nt, nx, jet.dim) in the jet layout (t, x, u from P; the derivative columns
        from the fits, 0 at excluded centres and for columns not asked for), in P's floating dtype (fits in
        float64), differentiable w.r.t. P; ``mask`` (B, nt, nx) bool, True at the centres whose stencil lies in
        the patch.
    """
    P = _check_points(P)
    plan = _Plan(jet, stencil, degree, periodic_x, columns, taper, ridge)
    B, nt, nx, _ = P.shape
    plan.check_size(nt, nx)
    wt, wx = plan.wt, plan.wx
    xs = slice(None) if plan.period is not None else slice(wx, nx - wx)
    jets = torch.zeros(B, nt, nx, jet.dim, dtype=P.dtype, device=P.device)
    jets[..., :3] = P
    if plan.cols:
        deriv = _interior_jets(P, plan, max_bytes).to(P.dtype)
        inner = torch.zeros(B, nt - 2 * wt, deriv.shape[2], jet.dim, dtype=P.dtype, device=P.device)
        inner[..., plan.cols] = deriv
        jets[:, wt:nt - wt, xs, 3:] = inner[..., 3:]
    mask = torch.zeros(B, nt, nx, dtype=torch.bool, device=P.device)
    mask[:, wt:nt - wt, xs] = True
    return jets, mask


# ------------------------------------------------------------------------------------------------- PDE score
def _needed_columns(residual: Callable, jet: JetSpace) -> list[str]:
    """The derivative columns the residual depends on, found by perturbing each column at a few probe points
    (values in [0.5, 1], where the built-in equations are defined): no autodiff is needed of the residual."""
    g = torch.Generator().manual_seed(0)
    z = 0.5 + 0.5 * torch.rand(8, jet.dim, generator=g, dtype=DT)
    r0 = _call_residual(residual, z, jet)
    out = []
    for c in range(jet.base_dim, jet.dim):
        z2 = z.clone()
        z2[:, c] += 0.25 + torch.rand(8, generator=g, dtype=DT)
        if not torch.equal(_call_residual(residual, z2, jet), r0):
            out.append(jet.names[c])
    return out


def _call_residual(residual: Callable, z: torch.Tensor, jet: JetSpace) -> torch.Tensor:
    try:
        r = residual(z)
    except Exception as exc:  # noqa: BLE001 - a user callable can fail in any way; the message says where
        raise SymlieError(f"residual: could not be evaluated on jet points of shape {tuple(z.shape)} "
                          f"({', '.join(jet.names)}): {type(exc).__name__}: {exc}") from exc
    if not isinstance(r, torch.Tensor) or r.ndim not in (1, 2) or r.shape[0] != z.shape[0]:
        got = tuple(r.shape) if isinstance(r, torch.Tensor) else type(r).__name__
        raise SymlieError(f"residual: expected a tensor of shape (N,) or (N, r) for N = {z.shape[0]} jet points, "
                          f"got {got}")
    return r


class PDEValidity:
    """The validity score of point clouds under a differential equation (made by :func:`pde_validity`).

    ``score(P)`` -> (B,): per sample, the mean over the valid centres of log(max(|Delta|, threshold)) (``log``) or
    of |Delta|, Delta the residual on :func:`cloud_jets` of P (|Delta| the Euclidean norm for several equations).

    Attributes: residual, jet, columns (the derivative columns fitted), threshold, log, stencil, degree,
    periodic_x, taper, ridge, name.
    """

    def __init__(self, residual: Callable, jet: JetSpace, *, threshold: float, log: bool, stencil: Sequence[int],
                 degree: Sequence[int] | None, periodic_x: float | None, taper: float, ridge: float,
                 columns: Sequence[str] | None, name: str):
        self.residual, self.jet, self.name = residual, jet, name
        self.threshold = _positive(threshold, "threshold")
        if not isinstance(log, bool):
            raise SymlieError(f"log: expected a bool, got {log!r}")
        self.log = log
        self.columns = _needed_columns(residual, jet) if columns is None else list(columns)
        self._plan = _Plan(jet, stencil, degree, periodic_x, self.columns, taper, ridge)
        self.columns = [jet.names[c] for c in self._plan.cols]
        self.stencil, self.degree = (self._plan.wt, self._plan.wx), (self._plan.dt, self._plan.dx)
        self.periodic_x, self.taper, self.ridge = self._plan.period, self._plan.taper, self._plan.ridge

    def jets(self, P: Any) -> torch.Tensor:
        """The jets (B, n_valid, jet.dim) float64 of the valid centres of each sample (row-major in (i, j))."""
        P = _check_points(P)
        B, nt, nx, _ = P.shape
        plan = self._plan
        plan.check_size(nt, nx)
        wt, wx = plan.wt, plan.wx
        xs = slice(None) if plan.period is not None else slice(wx, nx - wx)
        base = P[:, wt:nt - wt, xs].to(DT)
        z = torch.zeros(*base.shape[:3], self.jet.dim, dtype=DT, device=P.device)
        z[..., :3] = base
        if plan.cols:
            z[..., plan.cols] = _interior_jets(P, plan)
        return z.reshape(B, -1, self.jet.dim)

    def residuals(self, P: Any) -> torch.Tensor:
        """|Delta| (B, n_valid) float64 at the valid centres."""
        z = self.jets(P)
        B, n, dim = z.shape
        r = _call_residual(self.residual, z.reshape(B * n, dim), self.jet)
        a = r.abs() if r.ndim == 1 else r.pow(2).sum(1).sqrt()
        bad = int((~torch.isfinite(a.detach())).sum())
        if bad:
            raise SymlieError(f"residual: {bad} of {B * n} values are NaN or Inf on the cloud jets (the points left "
                              f"the domain of the equation, or the cloud is degenerate)")
        return a.reshape(B, n)

    def __call__(self, P: Any) -> torch.Tensor:
        dtype = P.dtype if isinstance(P, torch.Tensor) and P.is_floating_point() else DT
        a = self.residuals(P)
        s = a.clamp(min=self.threshold).log().mean(1) if self.log else a.mean(1)
        return s.to(dtype)

    def __repr__(self) -> str:
        return (f"PDEValidity({self.name!r}, columns={self.columns}, threshold={self.threshold:g}, log={self.log}, "
                f"stencil={self.stencil}, degree={self.degree}, periodic_x={self.periodic_x})")


def pde_validity(equation_or_residual: Any, *, jet: JetSpace | None = None, threshold: float = 1e-4,
                 log: bool = True, stencil: Sequence[int] = DEFAULT_STENCIL, degree: Sequence[int] | None = None,
                 periodic_x: float | None = None, taper: float = 0.0, ridge: float = 1e-12,
                 columns: Sequence[str] | None = None) -> PDEValidity:
    """The validity score S(P) (B,) of transformed point clouds P (B, nt, nx, 3) under an equation.

    Args:
        equation_or_residual: a :class:`symlie.pde.Equation` (its ``residual`` and ``jet``; a fitted equation
            through ``FittedEquation.to_equation()``, or an object with ``to_equation()`` directly), or a callable
            residual(z (N, jet.dim)) -> (N,) (then ``jet`` is required).
        jet: the jet space of a bare residual (None with an Equation; if given it must match).
        threshold: |Delta| below it counts as ``threshold`` in the log (1e-4, as in the paper).
        log: mean of log(max(|Delta|, threshold)) (True) or of |Delta| (False).
        stencil, degree, periodic_x, taper, ridge: the fit (:func:`cloud_jets`).
        columns: the derivative columns to fit; None: those the residual depends on (found by probing it).
    """
    eq = equation_or_residual
    if not isinstance(eq, Equation) and hasattr(eq, "to_equation") and callable(eq.to_equation):
        eq = eq.to_equation()
    if isinstance(eq, Equation):
        if jet is not None and _check_jet(jet) != eq.jet:
            raise SymlieError(f"jet: {jet!r} does not match the equation's {eq.jet!r}")
        return PDEValidity(eq.residual, _check_jet(eq.jet, "equation_or_residual.jet"), threshold=threshold,
                           log=log, stencil=stencil, degree=degree, periodic_x=periodic_x, taper=taper, ridge=ridge,
                           columns=columns, name=eq.name)
    if not callable(eq):
        raise TypeError(f"equation_or_residual: expected a symlie.pde.Equation or a callable residual, got "
                        f"{type(eq).__name__}")
    if jet is None:
        raise SymlieError("jet: required with a bare residual callable (the JetSpace of its input columns)")
    return PDEValidity(eq, _check_jet(jet), threshold=threshold, log=log, stencil=stencil, degree=degree,
                       periodic_x=periodic_x, taper=taper, ridge=ridge, columns=columns,
                       name=getattr(eq, "__name__", "residual"))


# ------------------------------------------------------------------------------------------------- images
def pixel_grid(H: int, W: int, *, dtype: torch.dtype = DT, device: torch.device | None = None) -> torch.Tensor:
    """The reference pixel coordinates (H, W, 2) in [-1, 1]^2: [..., 0] = x (width axis, -1 left to 1 right),
    [..., 1] = y (height axis, -1 top to 1 bottom), pixel centres on the corners (``align_corners=True``)."""
    H, W = _int(H, "H", 2), _int(W, "W", 2)
    y = torch.linspace(-1.0, 1.0, H, dtype=dtype, device=device)
    x = torch.linspace(-1.0, 1.0, W, dtype=dtype, device=device)
    yy, xx = torch.meshgrid(y, x, indexing="ij")
    return torch.stack([xx, yy], -1)


def warp_images(images: Any, coords: Any) -> torch.Tensor:
    """Images sampled bilinearly at moved pixel coordinates (zero outside [-1, 1]^2), the pull-back f o phi.

    Args:
        images: (B, C, H, W) floating tensor.
        coords: (B, H', W', 2) or (H', W', 2) (shared by the batch) coordinates in [-1, 1]^2, x (width axis)
            first (:func:`pixel_grid` is the identity); converted to the images' dtype.

    Returns:
        (B, C, H', W'): out[b, :, i, j] = images[b] sampled at coords[b, i, j]; differentiable in both.
    """
    img = _tensor(images, "images", ndim=4)
    if not img.is_floating_point():  # pragma: no cover - as_tensor always returns floating tensors
        img = img.to(DT)
    grid = _tensor(coords, "coords", ndim=(3, 4)).to(dtype=img.dtype, device=img.device)
    if grid.shape[-1] != 2:
        raise SymlieError(f"coords: expected (B, H, W, 2) coordinates (x, y), got shape {tuple(grid.shape)}")
    if grid.ndim == 3:
        grid = grid.expand(img.shape[0], *grid.shape)
    if grid.shape[0] != img.shape[0]:
        raise SymlieError(f"coords: {grid.shape[0]} coordinate grids for {img.shape[0]} images")
    return torch.nn.functional.grid_sample(img, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


def rotate_images(images: Any, angle: Any) -> torch.Tensor:
    """Images rotated about their centre by ``angle`` (radians; a number, or (B,) one per image), bilinear with
    zero fill: out(p) = f(R(angle) p) in the coordinates of :func:`pixel_grid` (the pull-back by the rotation;
    a positive angle turns the content from the y axis towards the x axis). Images (B, C, H, W) floating;
    returns their dtype (computed in float64 for float32 input, as :func:`warp_images`)."""
    img = _tensor(images, "images", ndim=4)
    th = torch.as_tensor(angle, dtype=DT)
    if not bool(torch.isfinite(th).all()):
        raise SymlieError("angle: contains NaN or Inf")
    if th.ndim > 1 or (th.ndim == 1 and th.shape[0] != img.shape[0]):
        raise SymlieError(f"angle: expected a number or one angle per image ({img.shape[0]},), got shape "
                          f"{tuple(th.shape)}")
    th = th.expand(img.shape[0]) if th.ndim == 0 else th
    c, s = torch.cos(th), torch.sin(th)
    R = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)          # (B, 2, 2)
    coords = torch.einsum("bij,hwj->bhwi", R, pixel_grid(img.shape[2], img.shape[3]))
    out = warp_images(img.to(DT), coords)
    return out.to(img.dtype)


class FeatureValidity:
    """The feature-angle score of transformed images (made by :func:`feature_validity`).

    ``score(images, transformed)`` -> (B,): arccos(clamp(cos(f(x), f(Tx)), -1 + 1e-6, 1 - 1e-6)), the angle in
    radians between the features (so identical images score arccos(1 - 1e-6) ~ 1.414e-3, not 0; the clamp keeps
    the gradient finite). f(x) of the untransformed images is computed without gradients unless they require one;
the cosine is taken in float64 (in float32, 1 - 1e-6 is not representable) and returned in the features' dtype.
    """

    def __init__(self, feature_fn: Callable[[torch.Tensor], torch.Tensor]):
        if not callable(feature_fn):
            raise TypeError(f"feature_fn: expected a torch callable (N, C, H, W) -> (N, F), got "
                            f"{type(feature_fn).__name__}")
        self.feature_fn = feature_fn

    def features(self, images: torch.Tensor, name: str) -> torch.Tensor:
        try:
            f = self.feature_fn(images)
        except Exception as exc:  # noqa: BLE001 - a user callable can fail in any way; the message says where
            raise SymlieError(f"feature_fn: failed on {name} of shape {tuple(images.shape)}: "
                              f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(f, torch.Tensor) or f.ndim < 2 or f.shape[0] != images.shape[0]:
            got = tuple(f.shape) if isinstance(f, torch.Tensor) else type(f).__name__
            raise SymlieError(f"feature_fn: expected features of shape (N, F) for N = {images.shape[0]} images, "
                              f"got {got}")
        f = f.flatten(1)
        bad = int((~torch.isfinite(f.detach())).sum())
        if bad:
            raise SymlieError(f"feature_fn: {bad} NaN or Inf feature values on {name}")
        return f

    def __call__(self, images: Any, transformed: Any) -> torch.Tensor:
        x = _tensor(images, "images", ndim=4)
        y = _tensor(transformed, "transformed", ndim=4)
        if x.shape[0] != y.shape[0]:
            raise SymlieError(f"transformed: {y.shape[0]} images for {x.shape[0]} originals")
        if x.requires_grad:
            fx = self.features(x, "images")
        else:
            with torch.no_grad():
                fx = self.features(x, "images")
        fy = self.features(y, "transformed")
        if fx.shape[1] != fy.shape[1]:
            raise SymlieError(f"feature_fn: {fx.shape[1]} features of the images but {fy.shape[1]} of the "
                              f"transformed images")
        cos = torch.nn.functional.cosine_similarity(fx.to(DT), fy.to(DT), dim=1)     # float64: the clamp at 1e-6
        return torch.arccos(cos.clamp(min=-_COS_MAX, max=_COS_MAX)).to(fy.dtype)

    def __repr__(self) -> str:
        return f"FeatureValidity({getattr(self.feature_fn, '__name__', type(self.feature_fn).__name__)})"


def feature_validity(feature_fn: Callable[[torch.Tensor], torch.Tensor]) -> FeatureValidity:
    """The image validity score score(images, transformed) -> (B,): the angle (radians) between the features
    f(images) and f(transformed), f a frozen torch callable (N, C, H, W) -> (N, F) (:class:`FeatureValidity`)."""
    return FeatureValidity(feature_fn)
