"""Solutions of 1-D evolution PDEs on a periodic grid, generated in-house (nothing is downloaded).

Equations (``u = u(t, x)``, ``x`` in ``[0, L)`` periodic, subscripts are partial derivatives):

====================  =========================================================  ==============================
name                  equation                                                   method
====================  =========================================================  ==============================
``"kdv"``             u_t = -u u_x - u_xxx                                       ETDRK4, L = i k^3
``"ks"``              u_t = -u u_x - u_xx - u_xxxx  (Kuramoto-Sivashinsky)       ETDRK4, L = k^2 - k^4
``"heat"``            u_t = nu u_xx                                              ETDRK4, L = -nu k^2 (N = 0)
``"burgers"``         u_t = -u u_x + nu u_xx  (viscous Burgers)                  Cole-Hopf, exact
``"nkdv"``            u_t = exp(t/50) (-u u_x - u_xxx)  (t absolute)             KdV in s = 50 (e^{t/50} - 1)
``"ckdv"``            u_t = -u u_x - u_xxx - u / (2 (t + 1))  (t absolute)       ETDRK4 on v = sqrt(t + 1) u
====================  =========================================================  ==============================

Conventions. The grid is ``x_j = j L / nx``, ``j = 0 .. nx-1``; Fourier coefficients are those of
``torch.fft.rfft`` (``u_hat_k = sum_j u_j exp(-i k x_j)``, wavenumbers ``k = 2 pi n / L``, ``n = 0 .. nx/2``), so
``d/dx`` is multiplication by ``+i k``; in odd derivatives the Nyquist mode (``n = nx/2``, ``nx`` even) is set to
zero. Every array is float64 (complex128 in Fourier space); times are absolute (``t = 0`` is the initial time of
the presets, which matters for nKdV and cKdV).

Time stepping (``kdv``, ``ks``, ``heat``, ``nkdv``, ``ckdv``): pseudo-spectral in x, ETDRK4 of Cox & Matthews
(J. Comput. Phys. 176, 2002) for ``v_hat' = L v_hat + N(v_hat, t)`` with the stiff linear part ``L`` integrated
exactly and the phi functions evaluated by the contour integral of Kassam & Trefethen (SIAM J. Sci. Comput. 26,
2005): the mean over ``M`` points (``contour_points``, 32 or 64) of a circle of radius 1 around each ``h L_k``, the
full circle (``L`` is complex for KdV). The nonlinear part is ``N(u) = -(1/2) d/dx (u^2)``; with ``dealias=True``
(default) the 2/3 rule keeps only the modes ``|n| <= (nx - 1) // 3`` of ``u`` in the product and of the product
itself. The internal step is fixed: each interval between saved times is cut into equal steps no longer than
``min(diff(t)) / substeps`` (for saved times on a uniform grid: exactly ``substeps`` steps per interval).

* nKdV: with ``s = 50 (e^{t/50} - 1)`` (``ds/dt = e^{t/50}``, ``s = 0`` at ``t = 0``) the equation becomes KdV in
  ``s``: ``u_s = -u u_x - u_xxx``. It is integrated in ``s`` (ETDRK4 as KdV) up to the images ``s_i`` of the saved
  times ``t_i``: the time dependence is exact, and only the internal step in ``s`` (``<= min(diff(t)) /
  substeps``) changes across the run, so an interval of the saved ``t`` grid gets about ``substeps e^{t/50}`` steps.
* cKdV: ``u = v / sqrt(t + 1)`` absorbs the damping exactly: ``v_t = -(t + 1)^{-1/2} v v_x - v_xxx``; ETDRK4 with
  the linear part ``i k^3`` exact and the time-dependent factor ``(t + 1)^{-1/2}`` in ``N`` (the scheme evaluates
  it at ``t``, ``t + h/2``, ``t + h``, which keeps it fourth order).
* Burgers: the Cole-Hopf transform ``u = -2 nu psi_x / psi`` with ``psi_t = nu psi_xx``, and
  ``psi0 = exp(-F / (2 nu))``, ``F`` the zero-mean antiderivative of ``u0`` computed spectrally (``u0`` must have
  zero mean, so that ``F`` is periodic; the constant of integration only scales ``psi`` and cancels in ``u``). The
  heat equation is solved exactly, so ``u`` has no time-stepping error, by one of two evaluations
  (``cole_hopf=``): ``"fourier"`` evolves ``psi_hat`` by ``exp(-nu k^2 t)`` on an oversampled grid; it is exact
  only while ``psi`` spans a modest range, since ``psi`` is known to ``1e-16 max|psi|`` and ``u`` is lost where
  ``psi`` is smaller: the range is ``exp((max F - min F) / (2 nu))``, about ``e^90`` for the Ko et al. setting
  (``nu = 0.01``). ``"hopf"`` evaluates the same exact solution in log space, as the Hopf formula
  ``u(x, t) = <z> / t`` with weights ``exp(-(F(x - z) + z^2 / (2 t)) / (2 nu))`` (the heat kernel convolution,
  periodic images included), by the trapezoid rule in ``z`` on a grid finer than the narrowest weight (spectral
  accuracy) and a softmax (no overflow at any ``nu``). ``"auto"`` (default) takes ``"fourier"`` when the range is
  at most ``e^12`` and ``psi0`` is resolved, else ``"hopf"``.

Initial conditions (``generate``): ``u0(x) = sum_{j=1}^{N} A_j sin(2 pi l_j x / L + phi_j)``, ``A_j ~ U(-a, a)``
(``a = amplitude``, 0.5), ``phi_j ~ U(0, 2 pi)``, ``l_j`` an integer uniform in ``[lmin, lmax)``. The draws come from
one ``torch.Generator`` seeded with ``seed`` (never the global state), as one ``(n_traj, N, 3)`` uniform tensor,
so for a seed the first trajectories do not depend on ``n_traj``.

Presets (``PRESETS``; every entry can be overridden by keyword):

* ``"ko"`` (Ko et al., the setting of Brandstetter et al.'s Lie point symmetry data augmentation): ``nx = 256``,
  ``nt`` saved times ``t = linspace(0, T, nt)`` of which the last ``keep = 140`` are kept. KdV / nKdV / cKdV:
  ``L = 128``, ``T = 100``, ``nt = 250`` (dt 0.4016, kept ``t`` in ``[44.18, 100]``), ``N = 10``, ``l in {1, 2}``
  (nKdV ``l = 1``); KS: ``L = 64``, ``T = 100``, ``nt = 500`` (dt 0.2004), ``N = 10``, ``l in {1, 2}``; Burgers:
  ``L = 2 pi``, ``nu = 0.01``, ``T = 18``, ``nt = 180``, ``N = 20``, ``l in {1..6}``. Heat is not part of that
  setting; it gets the Burgers grid (our choice). Internal steps (``substeps`` per saved step): KdV / cKdV 8
  (step 0.05), KS 16 (0.0125), nKdV 32 (0.0125 in ``s``), chosen so that doubling them changes the data by about
  1e-5 (KS, chaotic, 2e-4 at t = 100). The Ko grid under-resolves some of these solutions (the solitons' ``u u_x``
  has content beyond the 2/3 cutoff; Burgers fronts at ``nu = 0.01`` are a few points wide): the values are what
  the setting defines, but derivatives taken on that grid are not accurate (``pde_residual`` measures it).
* ``"lienlsd"`` (LieNLSD): ``L = 20``, ``nx = 100``, dt 0.002, 1000 steps (``nt = 1001``, ``T = 2``, all kept),
  ``N = 5`` terms (KdV, KS, nKdV, cKdV) or 10 (heat, Burgers); ``l in {1, 2, 3}``, ``a = 0.5`` and ``nu = 1`` (the
  canonical ``u_t = u_xx``) are our choices where the setting does not fix them. Its 10 training trajectories are
  ``n_traj = 10``.

Files (``save_h5`` / ``load_h5``): HDF5 (``h5py``) with ``u`` stored as float32 ``(B, nt, nx)``, ``t`` and ``x``
as float64, and every entry of ``params`` as a root attribute, with ``format = "symlie.pde"`` and
``format_version``.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..utils.errors import BlowUpWarning, DataError, SymlieError
from ..utils.files import atomic_file
from ..utils.progress import progress
from ..utils.resources import call_limit, check_memory
from ..utils.validation import as_tensor, check_int, make_generator

__all__ = ["EQUATIONS", "PRESETS", "PDESolution", "PDEDataset", "generate", "solve", "pde_residual", "save_h5",
           "load_h5"]

DT = torch.float64
CT = torch.complex128

#: the equations, each with its right-hand side in the sign convention used throughout
EQUATIONS: dict[str, str] = {
    "kdv": "u_t = -u u_x - u_xxx",
    "ks": "u_t = -u u_x - u_xx - u_xxxx",
    "heat": "u_t = nu u_xx",
    "burgers": "u_t = -u u_x + nu u_xx",
    "nkdv": "u_t = exp(t/50) (-u u_x - u_xxx)",
    "ckdv": "u_t = -u u_x - u_xxx - u / (2 (t + 1))",
}
_NEEDS_NU = ("heat", "burgers")

_KO_KDV = dict(L=128.0, nx=256, T=100.0, nt=250, keep=140, n_terms=10, lmin=1, lmax=3, amplitude=0.5, substeps=8)
_KO_BURGERS = dict(L=2 * math.pi, nx=256, T=18.0, nt=180, keep=140, nu=0.01, n_terms=20, lmin=1, lmax=7,
                   amplitude=0.5, substeps=1)
_LIE = dict(L=20.0, nx=100, T=2.0, nt=1001, keep=1001, n_terms=5, lmin=1, lmax=4, amplitude=0.5, substeps=1)

#: named settings: ``PRESETS[preset][equation]`` -> parameters (see the module docstring)
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "ko": {
        "kdv": dict(_KO_KDV),
        "ks": dict(_KO_KDV, L=64.0, nt=500, substeps=16),
        "burgers": dict(_KO_BURGERS),
        "heat": dict(_KO_BURGERS),
        "nkdv": dict(_KO_KDV, lmax=2, substeps=32),
        "ckdv": dict(_KO_KDV),
    },
    "lienlsd": {
        "kdv": dict(_LIE),
        "ks": dict(_LIE),
        "heat": dict(_LIE, n_terms=10, nu=1.0),
        "burgers": dict(_LIE, n_terms=10, nu=1.0),
        "nkdv": dict(_LIE),
        "ckdv": dict(_LIE),
    },
}
_OVERRIDES = ("L", "nx", "T", "nt", "keep", "nu", "n_terms", "lmin", "lmax", "amplitude", "substeps", "dealias",
              "contour_points", "cole_hopf")
#: a trajectory whose values exceed this factor times (1 + max |u0|) counts as blown up (as non-finite ones)
BLOWUP_GROWTH = 1e10
_FORMAT, _FORMAT_VERSION = "symlie.pde", 1
_HOPF_RANGE = 12.0          # "auto": Fourier Cole-Hopf when (max F - min F) / (2 nu) <= this
_HOPF_CUT = 40.0            # Hopf weights below exp(-_HOPF_CUT) of the largest are dropped


# ------------------------------------------------------------------------------------------------- validation
def _int(value, name: str, minimum: int) -> int:
    try:
        return check_int(value, name, minimum)
    except ValueError as exc:
        raise SymlieError(str(exc)) from None


def _tensor(value, name: str, **kw) -> torch.Tensor:
    try:
        return as_tensor(value, name, **kw)
    except SymlieError:
        raise
    except ValueError as exc:
        raise SymlieError(str(exc)) from None


def _pos(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)) \
            or not math.isfinite(float(value)) or not float(value) > 0:
        raise SymlieError(f"{name}: expected a positive finite number, got {value!r}")
    return float(value)


def _equation(equation) -> str:
    if not isinstance(equation, str) or equation.lower() not in EQUATIONS:
        raise SymlieError(f"equation: unknown equation {equation!r}; expected one of {', '.join(EQUATIONS)}")
    return equation.lower()


def _cole_hopf_method(value) -> str:
    if value not in ("auto", "fourier", "hopf"):
        raise SymlieError(f"cole_hopf: expected 'auto', 'fourier' or 'hopf', got {value!r}")
    return value


def _contour(value) -> int:
    return _int(value, "contour_points", 8)


# ------------------------------------------------------------------------------------------------- results
@dataclass
class PDESolution:
    """Solutions of one equation: ``u[b, i, j] = u_b(t[i], x[j])``.

    Attributes:
        u: (B, nt, nx) float64 tensor (NaN after a blow-up, see ``params["blowup_traj"]``).
        t: (nt,) float64 saved times, absolute (``t = 0`` is the initial time of the run).
        x: (nx,) float64 grid ``j L / nx``.
        equation: a key of :data:`EQUATIONS`.
        params: every setting (``L``, ``nx``, ``T``, ``nt`` (saved steps in the run), ``keep``, ``dt`` (saved step),
            ``substeps``, ``step`` (internal step), ``nu`` for heat / Burgers, the initial-condition parameters,
            ``seed``, ``preset``, ``method``, ``blowup_traj`` / ``blowup_t``, ...): numbers, strings, booleans and
            lists of numbers, so that it round-trips through HDF5 attributes.
    """

    u: torch.Tensor
    t: torch.Tensor
    x: torch.Tensor
    equation: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.u.ndim != 3 or self.u.shape[1] != self.t.shape[0] or self.u.shape[2] != self.x.shape[0]:
            raise SymlieError(f"PDESolution: u must be (B, nt, nx) with nt = len(t) = {self.t.shape[0]} and "
                              f"nx = len(x) = {self.x.shape[0]}, got {tuple(self.u.shape)}")

    @property
    def n_traj(self) -> int:
        return int(self.u.shape[0])

    def select(self, index) -> "PDESolution":
        """The solution restricted to some trajectories (an int, a slice, a list of ints or a boolean mask); the
        blow-up record is re-indexed."""
        idx = torch.arange(self.n_traj)[index].reshape(-1)
        params = dict(self.params)
        pos = {b: j for j, b in reversed(list(enumerate(idx.tolist())))}   # old index -> first new position
        kept = [(pos[b], tb) for b, tb in zip(params.get("blowup_traj", []), params.get("blowup_t", [])) if b in pos]
        params["blowup_traj"] = [j for j, _ in kept]
        params["blowup_t"] = [tb for _, tb in kept]
        params["n_traj"] = int(idx.numel())
        return PDESolution(self.u[idx], self.t, self.x, self.equation, params)

    def dataset(self, window: int | None = None, stride: int = 1) -> "PDEDataset":
        """A ``torch.utils.data.Dataset`` of trajectories (``window=None``) or of windows of ``window`` consecutive
        saved times starting every ``stride`` steps; items are ``(u (w, nx), t (w,))`` float64."""
        return PDEDataset(self, window=window, stride=stride)

    def __repr__(self) -> str:
        return (f"PDESolution({self.equation!r}, u={tuple(self.u.shape)}, t=[{float(self.t[0]):.6g}, "
                f"{float(self.t[-1]):.6g}], L={self.params.get('L')}, preset={self.params.get('preset')!r})")


class PDEDataset(torch.utils.data.Dataset):
    """Trajectories or time windows of a :class:`PDESolution`: item ``i`` is ``(u, t)`` with ``u`` of shape
    (w, nx) and ``t`` (w,), float64 (``w = nt`` for whole trajectories). Windows of trajectory ``b`` come in order
    of their start ``0, stride, 2 stride, ...`` (those ending past ``nt`` are not made); trajectory-major order.
    Refuses a solution with non-finite values (a blow-up): ``solution.select(...)`` the others first."""

    def __init__(self, solution: PDESolution, window: int | None = None, stride: int = 1):
        nt = solution.u.shape[1]
        self.window = nt if window is None else _int(window, "window", 1)
        if self.window > nt:
            raise SymlieError(f"window: expected at most nt = {nt} saved times, got {self.window}")
        self.stride = _int(stride, "stride", 1)
        bad = (~torch.isfinite(solution.u)).flatten(1).any(1).nonzero().flatten().tolist()
        if bad:
            raise DataError(f"solution: trajectories {bad[:10]} are not finite (blow-up); use "
                            f"solution.select(...) to keep the others")
        self.solution = solution
        self.starts = list(range(0, nt - self.window + 1, self.stride))

    def __len__(self) -> int:
        return self.solution.n_traj * len(self.starts)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} items")
        b, w = divmod(i % n, len(self.starts))
        s = self.starts[w]
        return self.solution.u[b, s:s + self.window], self.solution.t[s:s + self.window]


# ------------------------------------------------------------------------------------------------- spectral tools
class _Grid:
    """Wavenumbers and multipliers of an rfft grid of nx points on [0, L)."""

    def __init__(self, nx: int, L: float, dealias: bool):
        self.nx, self.L = nx, L
        n = torch.arange(nx // 2 + 1, dtype=DT)
        self.k = 2 * math.pi / L * n
        k_odd = self.k.clone()
        if nx % 2 == 0:
            k_odd[-1] = 0.0                               # Nyquist: zero in odd derivatives
        self.ik = (1j * k_odd).to(CT)
        self.mask = (n <= (nx - 1) // 3).to(DT) if dealias else torch.ones_like(n)

    def deriv(self, u: torch.Tensor, order: int) -> torch.Tensor:
        """d^order u / dx^order of real u (..., nx), spectrally (Nyquist zeroed in odd orders)."""
        mult = (1j * self.k).to(CT) ** order if order % 2 == 0 else self.ik ** order
        return torch.fft.irfft(torch.fft.rfft(u) * mult, n=self.nx)


def _phi_coefficients(hL: torch.Tensor, h: float, M: int) -> tuple[torch.Tensor, ...]:
    """ETDRK4 coefficients (E, E2, Q, f1, f2, f3) for h L (complex, (nk,)), Kassam-Trefethen contour mean over M
    points of the circle |z - h L_k| = 1 (full circle: valid for complex L)."""
    r = torch.exp(2j * math.pi * (torch.arange(1, M + 1, dtype=DT) - 0.5) / M).to(CT)
    LR = hL[:, None] + r[None, :]
    eLR = torch.exp(LR)
    Q = h * ((torch.exp(LR / 2) - 1) / LR).mean(1)
    f1 = h * ((-4 - LR + eLR * (4 - 3 * LR + LR ** 2)) / LR ** 3).mean(1)
    f2 = h * ((2 + LR + eLR * (LR - 2)) / LR ** 3).mean(1)
    f3 = h * ((-4 - 3 * LR - LR ** 2 + eLR * (4 - LR)) / LR ** 3).mean(1)
    out = [torch.exp(hL), torch.exp(hL / 2), Q, f1, f2, f3]
    if bool((hL.imag == 0).all()):                         # real L: the exact values are real
        out = [c.real.to(CT) for c in out]
    return tuple(out)


def _linear_part(equation: str, grid: _Grid, nu: float | None) -> torch.Tensor:
    if equation in ("kdv", "nkdv", "ckdv"):
        return -(grid.ik ** 3)                             # -d^3/dx^3 -> -(ik)^3 = i k^3, Nyquist zero
    if equation == "ks":
        return (grid.k ** 2 - grid.k ** 4).to(CT)
    return (-float(nu or 0.0) * grid.k ** 2).to(CT)       # heat (nu checked by the caller)


def _etdrk4(equation: str, u0: torch.Tensor, t: torch.Tensor, L: float, *, nu: float | None, substeps: int,
            dealias: bool, contour_points: int, start: int, bar) -> tuple[torch.Tensor, dict[int, tuple]]:
    """Integrate from t[0] and return u at t[start:] (B, nt - start, nx) plus {traj: (t_before, t_after)} of the
    trajectories that blew up (their values NaN from t_after on)."""
    B, nx = u0.shape
    grid = _Grid(nx, L, dealias)
    Lk = _linear_part(equation, grid, nu)
    tt = t.tolist()
    if equation == "nkdv":                                 # integrate KdV in s = 50 (e^{t/50} - 1)
        tau = [50.0 * math.expm1(ti / 50.0) for ti in tt]
    else:
        tau = tt
    h_max = min(b - a for a, b in zip(tt[:-1], tt[1:])) / substeps
    if equation == "ckdv":                                 # u = v / sqrt(t + 1)
        def factor(s: float) -> float:
            return 1.0 / math.sqrt(s + 1.0)
        to_v, to_u = (lambda ti: math.sqrt(ti + 1.0)), (lambda ti: 1.0 / math.sqrt(ti + 1.0))
    else:
        factor = None                                      # type: ignore[assignment]
        to_v = to_u = (lambda ti: 1.0)
    nl_mult = -0.5 * grid.ik * grid.mask                   # N(u)_hat = -(1/2) (ik) (u^2)_hat, dealiased
    mask = grid.mask

    def N(vh: torch.Tensor, s: float) -> torch.Tensor:
        w = torch.fft.irfft(vh * mask, n=nx)
        out = nl_mult * torch.fft.rfft(w * w)
        return out if factor is None else out * factor(s)

    linear_only = equation == "heat"
    out = torch.empty(B, len(tt) - start, nx, dtype=DT)
    vh = torch.fft.rfft(u0 * to_v(tt[0]))
    bound = BLOWUP_GROWTH * (1.0 + float(u0.abs().amax()))
    alive = torch.ones(B, dtype=torch.bool)
    blown: dict[int, tuple] = {}
    if start == 0:
        out[:, 0] = u0
    cache: dict[str, tuple[torch.Tensor, ...]] = {}
    for i in range(1, len(tt)):
        delta = tau[i] - tau[i - 1]
        m = max(1, math.ceil(delta / h_max - 1e-9))
        h = delta / m
        key = f"{h:.12e}"
        if key not in cache:
            if len(cache) > 64:
                cache.clear()
            cache[key] = _phi_coefficients(h * Lk, h, contour_points)
        E, E2, Q, f1, f2, f3 = cache[key]
        s = tau[i - 1]
        for _ in range(m):
            if linear_only:
                vh = E * vh
            else:
                Nv = N(vh, s)
                a = E2 * vh + Q * Nv
                Na = N(a, s + h / 2)
                b = E2 * vh + Q * Na
                Nb = N(b, s + h / 2)
                c = E2 * a + Q * (2 * Nb - Nv)
                Nc = N(c, s + h)
                vh = E * vh + f1 * Nv + 2 * f2 * (Na + Nb) + f3 * Nc
            s += h
        u = torch.fft.irfft(vh, n=nx) * to_u(tt[i])
        bad = alive & ~(torch.isfinite(u).all(1) & (u.abs().amax(1) <= bound))
        if bool(bad.any()):
            for b_ in bad.nonzero().flatten().tolist():
                blown[b_] = (tt[i - 1], tt[i])
            alive &= ~bad
            vh = torch.where(alive[:, None], vh, torch.zeros((), dtype=CT))
        if i >= start:
            out[:, i - start] = torch.where(alive[:, None], u, torch.full((), float("nan"), dtype=DT))
        if bar is not None:
            bar.update()
    return out, blown


# ------------------------------------------------------------------------------------------------- Burgers
def _antiderivative_hat(u0: torch.Tensor, L: float, name: str) -> torch.Tensor:
    """rfft coefficients of F, the zero-mean antiderivative of u0 (B, nx); refuses u0 with a nonzero mean."""
    B, nx = u0.shape
    mean = u0.mean(1)
    scale = u0.abs().amax(1).clamp(min=1e-300)
    if bool((mean.abs() > 1e-10 * scale).any()):
        b = int((mean.abs() / scale).argmax())
        raise SymlieError(f"{name}: Burgers by Cole-Hopf needs zero-mean initial data (the antiderivative must be "
                          f"periodic); trajectory {b} has mean {float(mean[b]):.3g}. Subtract the mean m and use "
                          f"Galilean invariance: u(t, x) = m + w(t, x - m t)")
    grid = _Grid(nx, L, False)
    uh = torch.fft.rfft(u0)
    Fh = torch.zeros_like(uh)
    Fh[:, 1:] = uh[:, 1:] / grid.ik[1:].masked_fill(grid.ik[1:] == 0, 1.0)
    if nx % 2 == 0:
        Fh[:, -1] = 0.0                                    # the Nyquist mode has no periodic antiderivative
    return Fh


def _fine(Fh: torch.Tensor, nx: int, q: int, order: int = 0, L: float = 1.0) -> torch.Tensor:
    """The trigonometric interpolant of the coarse coefficients Fh (B, nx//2+1) (or its derivative) on nx*q points."""
    n = nx * q
    c = Fh * q
    if order:
        k = 2 * math.pi / L * torch.arange(Fh.shape[1], dtype=DT)
        c = c * (1j * k).to(CT) ** order
    return torch.fft.irfft(c, n=n)


def _cole_hopf(u0: torch.Tensor, t: torch.Tensor, L: float, nu: float, method: str, start: int,
               bar) -> tuple[torch.Tensor, str]:
    """Exact viscous Burgers solution at t[start:] via Cole-Hopf; returns (u (B, n, nx), method used)."""
    B, nx = u0.shape
    Fh = _antiderivative_hat(u0, L, "u0")
    q0 = 8
    F8 = _fine(Fh, nx, q0)
    spread = float((F8.amax(1) - F8.amin(1)).amax()) / (2 * nu)       # log of the dynamic range of psi0
    qf = 0
    if method in ("auto", "fourier"):
        for q in (1, 2, 4, 8, 16):                      # oversampling that resolves psi0 to rounding
            Fq = _fine(Fh, nx, q)
            psi0 = torch.exp(-(Fq - Fq.amax(1, keepdim=True)) / (2 * nu))
            ph = torch.fft.rfft(psi0)
            n_tail = max(1, ph.shape[1] // 8)
            if float((ph[:, -n_tail:].abs().amax(1) / ph[:, 0].abs()).amax()) < 1e-15:
                qf = q
                break
        if method == "auto":
            method = "fourier" if qf and spread <= _HOPF_RANGE else "hopf"
        elif not qf:
            raise SymlieError(f"cole_hopf='fourier': psi0 = exp(-F / (2 nu)) is not resolved on {16 * nx} points "
                              f"(nu = {nu:g} is too small for the data); use cole_hopf='hopf'")
    tt = [ti - float(t[0]) for ti in t.tolist()]                        # elapsed times (the equation is autonomous)
    out = torch.empty(B, len(tt) - start, nx, dtype=DT)
    if method == "fourier":
        Fq = _fine(Fh, nx, qf)
        ph = torch.fft.rfft(torch.exp(-(Fq - Fq.amax(1, keepdim=True)) / (2 * nu)))
        g = _Grid(nx * qf, L, False)
        for i in range(start, len(tt)):
            pt = ph * torch.exp(-nu * g.k ** 2 * tt[i]).to(CT)
            psi = torch.fft.irfft(pt, n=nx * qf)[:, ::qf]
            psix = torch.fft.irfft(pt * g.ik, n=nx * qf)[:, ::qf]
            out[:, i - start] = -2 * nu * psix / psi
            if bar is not None:
                bar.update()
        return out, method
    # Hopf formula in log space: u(x, t) = <z> / t under the weights exp(-(F(x - z) + z^2 / (2 t)) / (2 nu))
    d2 = float(_fine(Fh, nx, q0, order=2, L=L).amax().clamp(min=0.0))   # max F'' = max u0'
    dF = float((F8.amax(1) - F8.amin(1)).amax())
    dx = L / nx
    chunk_bytes = 32 * 2 ** 20
    for i in range(start, len(tt)):
        ti = tt[i]
        if ti <= 0.0:                                                   # the initial time
            out[:, i - start] = u0
            if bar is not None:
                bar.update()
            continue
        sigma = math.sqrt(2 * nu * ti / (1.0 + ti * d2))               # narrowest weight (Laplace estimate)
        q = max(1, math.ceil(3 * dx / sigma))
        h = dx / q
        J = math.ceil(math.sqrt(2 * ti * (dF + 2 * nu * _HOPF_CUT)) / h)
        n = nx * q
        check_memory(8.0 * (B * n + 2 * nx * (2 * J + 1)), f"Burgers (Hopf formula) at t = {ti:.4g}",
                     hint="use fewer grid points or a larger nu")
        Fz = _fine(Fh, nx, q)                                           # F on the fine grid, (B, n)
        j = torch.arange(-J, J + 1)
        z = j.to(DT) * h
        idx = (torch.arange(nx)[:, None] * q - j[None, :]) % n           # index of x_i - z_j, (nx, 2J+1)
        zz = z * z / (2 * ti)
        bc = max(1, int(chunk_bytes // (8 * nx * (2 * J + 1))))
        for b0 in range(0, B, bc):
            w = Fz[b0:b0 + bc][:, idx]                                  # (b, nx, 2J+1), then in place:
            w.add_(zz).mul_(-1.0 / (2 * nu))                            # log weights
            w.sub_(w.amax(-1, keepdim=True)).exp_()                     # weights / their largest (softmax)
            out[b0:b0 + bc, i - start] = (w @ z) / (w.sum(-1) * ti)
        if bar is not None:
            bar.update()
    return out, method


# ------------------------------------------------------------------------------------------------- solver
def _check_times(t, name: str = "t") -> torch.Tensor:
    t = _tensor(t, name, dtype=DT, ndim=1)
    if t.shape[0] < 2:
        raise SymlieError(f"{name}: expected at least 2 saved times, got {t.shape[0]}")
    if bool((t[1:] <= t[:-1]).any()):
        raise SymlieError(f"{name}: saved times must be strictly increasing")
    return t


def _run(equation, u0, t, L, nu, substeps, dealias, contour_points, cole_hopf, start, show):
    B, nx = u0.shape
    n_work = len(t) - (start if equation == "burgers" else 1)
    with progress(total=n_work, desc=f"{equation}", enabled=show, unit="step") as bar:
        if equation == "burgers":
            u, method = _cole_hopf(u0, t, L, float(nu), cole_hopf, start, bar)
            return u, {}, f"cole-hopf ({method})"
        u, blown = _etdrk4(equation, u0, t, L, nu=nu, substeps=substeps, dealias=dealias,
                           contour_points=contour_points, start=start, bar=bar)
    method = {"nkdv": "etdrk4 (KdV in s = 50 (exp(t/50) - 1))", "ckdv": "etdrk4 (v = sqrt(t + 1) u)"}
    return u, blown, method.get(equation, "etdrk4")


def _warn_blowup(equation: str, blown: dict[int, tuple], B: int) -> None:
    if not blown:
        return
    items = sorted(blown.items())
    desc = "; ".join(f"trajectory {b} between t = {a:.6g} and t = {c:.6g}" for b, (a, c) in items[:5])
    more = f" (and {len(items) - 5} more)" if len(items) > 5 else ""
    warnings.warn(BlowUpWarning(f"{equation}: {len(items)} of {B} trajectories left the finite range: {desc}{more}; "
                                f"their values are NaN from then on (a smaller step: more substeps)"), stacklevel=3)


def _estimate(B: int, n_out: int, nx: int) -> float:
    return 8.0 * B * n_out * nx + 16.0 * B * (nx // 2 + 1) * 14 + 8.0 * B * nx * 6


def solve(equation: str, u0, t, L: float, *, nu: float | None = None, substeps: int = 1, dealias: bool = True,
          contour_points: int = 32, cole_hopf: str = "auto", progress: bool = False,
          max_bytes: int | float | None = None) -> torch.Tensor:
    """Solve one of :data:`EQUATIONS` from ``u0`` at ``t[0]`` and return ``u`` at every ``t``.

    Args:
        equation: a key of :data:`EQUATIONS` (sign convention there, e.g. KdV ``u_t = -u u_x - u_xxx``).
        u0: (B, nx) or (nx,) real initial values on the grid ``x_j = j L / nx``.
        t: (nt,) strictly increasing saved times (absolute; nt >= 2), ``u0`` is the solution at ``t[0]``.
        L: period (> 0).
        nu: viscosity / diffusivity (> 0), for ``heat`` and ``burgers`` only.
        substeps: ETDRK4 steps per shortest saved interval (the internal step is ``min(diff(t)) / substeps``).
        dealias: the 2/3 rule in the nonlinear term.
        contour_points: points M of the Kassam-Trefethen contour (32 or 64).
        cole_hopf: Burgers only: ``"auto"``, ``"fourier"`` or ``"hopf"`` (module docstring).
        progress: show a progress bar (:func:`symlie.utils.progress`).
        max_bytes: memory limit for this call (default: the process-wide limit).

    Returns:
        (B, nt, nx) float64 (``(nt, nx)`` for 1-D ``u0``); a :class:`symlie.BlowUpWarning` names the trajectories
        that left the finite range (NaN from the first saved time after it).
    """
    equation = _equation(equation)
    x = _tensor(u0, "u0", dtype=DT, ndim=(1, 2))
    single = x.ndim == 1
    x = x.reshape(1, -1) if single else x
    if x.shape[1] < 4:
        raise SymlieError(f"u0: expected at least 4 grid points, got {x.shape[1]}")
    tt = _check_times(t)
    L = _pos(L, "L")
    if equation in _NEEDS_NU:
        nu = _pos(nu, "nu")
    substeps = _int(substeps, "substeps", 1)
    contour_points = _contour(contour_points)
    cole_hopf = _cole_hopf_method(cole_hopf)
    if equation in ("nkdv", "ckdv") and float(tt[0]) < (0.0 if equation == "nkdv" else -1.0 + 1e-12):
        raise SymlieError(f"t: {equation} uses absolute times (t >= 0), got t[0] = {float(tt[0])}")
    with call_limit(max_bytes):
        check_memory(_estimate(x.shape[0], tt.shape[0], x.shape[1]),
                     f"solve({equation!r}): u of shape ({x.shape[0]}, {tt.shape[0]}, {x.shape[1]})",
                     hint="fewer trajectories or saved times per call")
        u, blown, _ = _run(equation, x, tt, L, nu, substeps, bool(dealias), contour_points, cole_hopf, 0,
                           bool(progress))
    _warn_blowup(equation, blown, x.shape[0])
    return u[0] if single else u


def _random_ic(n_traj: int, nx: int, L: float, n_terms: int, lmin: int, lmax: int, amplitude: float,
               seed: int) -> torch.Tensor:
    g = make_generator(seed)
    r = torch.rand(n_traj, n_terms, 3, generator=g, dtype=DT)
    A = amplitude * (2 * r[..., 0] - 1)
    phi = 2 * math.pi * r[..., 1]
    lk = (lmin + torch.floor(r[..., 2] * (lmax - lmin))).clamp(max=lmax - 1)
    x = torch.arange(nx, dtype=DT) * (L / nx)
    return (A[..., None] * torch.sin(2 * math.pi * lk[..., None] * x / L + phi[..., None])).sum(1)


def generate(equation: str, n_traj: int, preset: str = "ko", seed: int = 0, *, progress: bool | None = None,
             max_bytes: int | float | None = None, **overrides) -> PDESolution:
    """Generate ``n_traj`` random trajectories of ``equation`` in a named setting.

    Args:
        equation: a key of :data:`EQUATIONS` (``"kdv"``, ``"ks"``, ``"heat"``, ``"burgers"``, ``"nkdv"``, ``"ckdv"``).
        n_traj: number of trajectories B (>= 1).
        preset: ``"ko"`` or ``"lienlsd"`` (:data:`PRESETS`, module docstring).
        seed: seeds the initial conditions (int >= 0; never the global generator).
        progress: progress bar; None (default) shows it for runs of more than ~1e8 grid-point updates.
        max_bytes: memory limit for this call.
        **overrides: any of ``L, nx, T, nt, keep, nu, n_terms, lmin, lmax, amplitude, substeps, dealias,
            contour_points, cole_hopf``. The run saves ``nt`` times ``linspace(0, T, nt)`` and keeps the last
            ``keep``.

    Returns:
        a :class:`PDESolution` with ``u`` (n_traj, keep, nx) float64.
    """
    equation = _equation(equation)
    if not isinstance(preset, str) or preset.lower() not in PRESETS:
        raise SymlieError(f"preset: unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    preset = preset.lower()
    n_traj = _int(n_traj, "n_traj", 1)
    seed = _int(seed, "seed", 0)
    unknown = [k for k in overrides if k not in _OVERRIDES]
    if unknown:
        raise SymlieError(f"{unknown[0]}: unknown setting; expected one of {', '.join(_OVERRIDES)}")
    cfg: dict[str, Any] = dict(substeps=1, dealias=True, contour_points=32, cole_hopf="auto")
    cfg.update(PRESETS[preset][equation])
    cfg.update(overrides)
    if "nu" in overrides and equation not in _NEEDS_NU:
        raise SymlieError(f"nu: {equation} has no viscosity parameter (nu is for {', '.join(_NEEDS_NU)})")
    L, T = _pos(cfg["L"], "L"), _pos(cfg["T"], "T")
    nx = _int(cfg["nx"], "nx", 4)
    nt = _int(cfg["nt"], "nt", 2)
    keep = _int(cfg["keep"], "keep", 1)
    if keep > nt:
        raise SymlieError(f"keep: expected at most nt = {nt} saved steps, got {keep}")
    n_terms = _int(cfg["n_terms"], "n_terms", 1)
    lmin = _int(cfg["lmin"], "lmin", 1)
    lmax = _int(cfg["lmax"], "lmax", lmin + 1)
    if lmax - 1 > (nx - 1) // 3:
        raise SymlieError(f"lmax: wavenumbers up to lmax - 1 = {lmax - 1} are not resolved by nx = {nx} points "
                          f"(at most (nx - 1) // 3 = {(nx - 1) // 3} with the 2/3 rule); raise nx or lower lmax")
    amplitude = float(cfg["amplitude"])
    if not (math.isfinite(amplitude) and amplitude >= 0):
        raise SymlieError(f"amplitude: expected a finite number >= 0, got {cfg['amplitude']!r}")
    substeps = _int(cfg["substeps"], "substeps", 1)
    contour_points = _contour(cfg["contour_points"])
    cole_hopf = _cole_hopf_method(cfg["cole_hopf"])
    if not isinstance(cfg["dealias"], bool):
        raise SymlieError(f"dealias: expected True or False, got {cfg['dealias']!r}")
    nu = _pos(cfg["nu"], "nu") if equation in _NEEDS_NU else None
    t_all = torch.linspace(0.0, T, nt, dtype=DT)
    start = nt - keep
    dt = T / (nt - 1)
    with call_limit(max_bytes):
        check_memory(_estimate(n_traj, keep, nx),
                     f"generate({equation!r}, n_traj={n_traj}): u of shape ({n_traj}, {keep}, {nx})",
                     hint="generate fewer trajectories per call (other seeds) or keep fewer saved steps (keep=)")
        u0 = _random_ic(n_traj, nx, L, n_terms, lmin, lmax, amplitude, seed)
        if progress is None:
            growth = 50.0 * (math.exp(T / 50.0) - 1.0) / T if equation == "nkdv" else 1.0
            work = n_traj * nx * (nt - 1) * (1 if equation in ("heat", "burgers") else substeps * growth)
            progress = work > 1e8
        u, blown, method = _run(equation, u0, t_all, L, nu, substeps, cfg["dealias"], contour_points, cole_hopf,
                                start, bool(progress))
    _warn_blowup(equation, blown, n_traj)
    items = sorted(blown.items())
    params: dict[str, Any] = dict(equation=equation, rhs=EQUATIONS[equation], preset=preset, seed=seed,
                                  n_traj=n_traj, L=L, nx=nx, T=T, nt=nt, keep=keep, dt=dt, t_start=float(t_all[start]))
    if nu is not None:
        params["nu"] = nu
    params.update(n_terms=n_terms, lmin=lmin, lmax=lmax, amplitude=amplitude,
                  ic="sum_j A_j sin(2 pi l_j x / L + phi_j), A ~ U(-amplitude, amplitude), phi ~ U(0, 2 pi), "
                     "l integer uniform in [lmin, lmax)",
                  method=method, substeps=substeps, step=dt / substeps, dealias=cfg["dealias"],
                  contour_points=contour_points,
                  blowup_traj=[b for b, _ in items], blowup_t=[c for _, (_, c) in items])
    if equation == "burgers":
        params.update(cole_hopf=method.split("(")[1].rstrip(")"))
        for k in ("substeps", "step", "dealias", "contour_points"):
            params.pop(k)
    if equation == "heat":
        params.pop("dealias")
    x = torch.arange(nx, dtype=DT) * (L / nx)
    return PDESolution(u, t_all[start:].clone(), x, equation, params)


# ------------------------------------------------------------------------------------------------- residual
def _rhs(equation: str, u: torch.Tensor, t: torch.Tensor, L: float, nu: float | None) -> torch.Tensor:
    """The right-hand side of ``equation`` at u (..., nt, nx), times t (nt,), by spectral x-derivatives."""
    g = _Grid(u.shape[-1], L, False)
    ux = g.deriv(u, 1)
    if equation == "heat":
        return float(nu) * g.deriv(u, 2)                  # type: ignore[arg-type]
    if equation == "burgers":
        return -u * ux + float(nu) * g.deriv(u, 2)        # type: ignore[arg-type]
    kdv = -u * ux - g.deriv(u, 3)
    if equation == "kdv":
        return kdv
    if equation == "ks":
        return -u * ux - g.deriv(u, 2) - g.deriv(u, 4)
    if equation == "nkdv":
        return torch.exp(t / 50.0)[:, None] * kdv
    return kdv - u / (2 * (t[:, None] + 1.0))             # ckdv


def pde_residual(solution: PDESolution, *, dealiased: bool = False) -> torch.Tensor:
    """Relative residual of the equation on the saved data, per trajectory: ``max |u_t - rhs(u)| / max |u_t|``
    over the interior times ``t[2:-2]`` and the grid, with ``u_t`` the 4th-order central difference
    ``(-u[i+2] + 8 u[i+1] - 8 u[i-1] + u[i-2]) / (12 dt)`` and ``rhs`` by spectral x-derivatives (the equation's
    time factors at the absolute time). Needs nt >= 5 uniformly spaced times; meaningful when dt resolves the
    dynamics (the difference has error ~ dt^4).

    ``dealiased=True`` compares only the modes ``|n| <= (nx - 1) // 3`` of ``u_t - rhs`` (the equations the 2/3-rule
    solver integrates); the default, the full residual, adds the part of the nonlinear term beyond that cutoff, a
    measure of how well the grid resolves the solution. Returns (B,) float64 (NaN for blown-up trajectories)."""
    u, t = solution.u, solution.t
    if t.shape[0] < 5:
        raise SymlieError(f"solution: the residual needs at least 5 saved times, got {t.shape[0]}")
    d = t[1:] - t[:-1]
    if float((d - d.mean()).abs().max()) > 1e-9 * float(d.mean()):
        raise SymlieError("solution: the residual needs uniformly spaced saved times")
    dt = float(d.mean())
    ut = (-u[:, 4:] + 8 * u[:, 3:-1] - 8 * u[:, 1:-3] + u[:, :-4]) / (12 * dt)
    rhs = _rhs(solution.equation, u[:, 2:-2], t[2:-2], float(solution.params["L"]), solution.params.get("nu"))
    r = ut - rhs
    if dealiased:
        nx = u.shape[-1]
        r = torch.fft.irfft(torch.fft.rfft(r) * _Grid(nx, 1.0, True).mask, n=nx)
    return r.abs().flatten(1).amax(1) / ut.abs().flatten(1).amax(1).clamp(min=1e-300)


# ------------------------------------------------------------------------------------------------- files
def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is in the dev extras
        raise DataError("HDF5 files need h5py: pip install 'symlie[io]'") from exc
    return h5py


def save_h5(solution: PDESolution, path) -> Path:
    """Write ``solution`` to ``path`` (HDF5): ``u`` as float32 (B, nt, nx), ``t`` and ``x`` float64, every entry of
    ``params`` plus ``equation``, ``format = "symlie.pde"`` and ``format_version`` as root attributes. Written to a
    temporary file next to the target and renamed into place. Returns the path."""
    h5py = _h5py()
    if not isinstance(solution, PDESolution):
        raise SymlieError(f"solution: expected a PDESolution, got {type(solution).__name__}")
    p = Path(path)
    if p.is_dir():
        raise SymlieError(f"path {str(p)!r}: is a folder; expected a file name")
    with atomic_file(p, "path") as tmp, h5py.File(tmp, "w") as f:
        f.create_dataset("u", data=solution.u.detach().cpu().numpy().astype(np.float32))
        f.create_dataset("t", data=solution.t.detach().cpu().numpy().astype(np.float64))
        f.create_dataset("x", data=solution.x.detach().cpu().numpy().astype(np.float64))
        f.attrs["format"] = _FORMAT
        f.attrs["format_version"] = _FORMAT_VERSION
        f.attrs["equation"] = solution.equation
        names = []
        for k, v in solution.params.items():
            if k in ("format", "format_version", "param_names"):
                continue
            try:
                if not isinstance(v, (bool, int, float, str, list, tuple, np.generic)):
                    raise TypeError(type(v).__name__)
                f.attrs[k] = np.asarray(v, dtype=np.float64) if isinstance(v, (list, tuple)) else v
            except (TypeError, ValueError) as exc:
                raise SymlieError(f"solution: params[{k!r}] = {v!r} cannot be stored as an HDF5 attribute "
                                  f"({exc}); use numbers, strings, booleans or lists of numbers") from None
            names.append(k)
        f.attrs["param_names"] = np.array(names, dtype=h5py.string_dtype())
        f.attrs["equation"] = solution.equation
    return p


def _py(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return [_py(e) for e in v.tolist()]
    if isinstance(v, np.bool_):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


_INT_LISTS = ("blowup_traj",)


def load_h5(path) -> PDESolution:
    """Read a file written by :func:`save_h5`; ``u`` comes back as float64 (of the stored float32 values).

    Raises :class:`symlie.DataError` naming the file when it is missing, not HDF5, not of this format (or of a newer
    version), or inconsistent (missing arrays or attributes, shapes that disagree, a grid that does not match
    ``L`` / ``nx``, non-increasing times)."""
    h5py = _h5py()
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")

    def bad(msg: str) -> DataError:
        return DataError(f"{p}: {msg}")

    try:
        with h5py.File(p, "r") as f:
            if _py(f.attrs.get("format")) != _FORMAT:
                raise bad(f"not a symlie PDE file (attribute format = {_py(f.attrs.get('format'))!r}, expected "
                          f"{_FORMAT!r})")
            version = _py(f.attrs.get("format_version"))
            if not isinstance(version, int) or version > _FORMAT_VERSION:
                raise bad(f"format_version {version!r} is not supported (this symlie reads <= {_FORMAT_VERSION})")
            for key in ("u", "t", "x"):
                if key not in f or not isinstance(f[key], h5py.Dataset):
                    raise bad(f"missing the array {key!r}")
            ds = f["u"]
            if ds.ndim != 3:
                raise bad(f"u: expected 3 dimensions (B, nt, nx), got shape {ds.shape}")
            check_memory(8.0 * int(np.prod(ds.shape)), f"load_h5({str(p)!r}): u of shape {ds.shape} in float64")
            u = np.asarray(ds[()])
            t, x = np.asarray(f["t"][()]), np.asarray(f["x"][()])
            equation = _py(f.attrs.get("equation"))
            names = _py(f.attrs.get("param_names"))
            if names is None:
                raise bad("missing the attribute 'param_names'")
            params: dict[str, Any] = {}
            for k in names:
                if k not in f.attrs:
                    raise bad(f"missing the attribute {k!r} (listed in param_names)")
                v = _py(f.attrs[k])
                params[k] = [int(e) for e in v] if k in _INT_LISTS else v
    except DataError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as exc:
        raise bad(f"not a readable HDF5 file ({exc})") from None
    if equation not in EQUATIONS:
        raise bad(f"unknown equation {equation!r} (expected one of {', '.join(EQUATIONS)})")
    if u.dtype.kind != "f" or t.ndim != 1 or x.ndim != 1 or u.shape[1:] != (t.shape[0], x.shape[0]):
        raise bad(f"u {u.shape} ({u.dtype}), t {t.shape}, x {x.shape}: expected u (B, nt, nx) floating with "
                  f"nt = len(t), nx = len(x)")
    if t.shape[0] >= 2 and not bool(np.all(np.diff(t) > 0)):
        raise bad("t: saved times are not strictly increasing")
    if not isinstance(params.get("L"), float) or not params["L"] > 0 or not isinstance(params.get("nx"), int):
        raise bad("missing or invalid attribute 'L' (a positive float) or 'nx' (an int)")
    if params["nx"] != x.shape[0] or not np.allclose(x, np.arange(x.shape[0]) * params["L"] / x.shape[0],
                                                      rtol=0, atol=1e-12 * params["L"]):
        raise bad(f"x does not match the grid j L / nx of L = {params['L']}, nx = {params['nx']}")
    if "n_traj" in params and params["n_traj"] != u.shape[0]:
        raise bad(f"u has {u.shape[0]} trajectories, the attribute n_traj says {params['n_traj']}")
    if not bool(np.isfinite(u).all()) and not params.get("blowup_traj"):
        raise bad("u has NaN or Inf entries but no trajectory is recorded as blown up")
    return PDESolution(torch.from_numpy(u.astype(np.float64)), torch.from_numpy(t.astype(np.float64)),
                       torch.from_numpy(x.astype(np.float64)), equation, params)

