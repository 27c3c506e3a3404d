"""Differential equations Delta(z) = 0 on a jet space, their solution surfaces, and built-in equations with
their exact point-symmetry algebras (KdV, Kuramoto-Sivashinsky, viscous Burgers, heat, nKdV, cKdV).

An :class:`Equation` is a residual Delta: J^k -> R^r (a torch callable of jet points (N, dim) -> (N,) or
(N, r)) solved for one coordinate per component (e.g. ``u_t``). Points of its surface are sampled by drawing
every other jet coordinate at random and solving for that one: in closed form when the equation is given as
``u_t = rhs(z)``, else by Newton's method on the residual (autodiff), with non-converged samples reported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from ..utils.errors import SymlieError
from ..utils.validation import check_int, make_generator
from .jets import JetSpace

__all__ = ["Equation", "kdv", "kuramoto_sivashinsky", "burgers", "heat", "nkdv", "ckdv", "BUILTIN"]

DT = torch.float64


@dataclass
class Equation:
    """A differential equation Delta(z) = 0 on ``jet``.

    Attributes:
        name: readable name.
        jet: the :class:`JetSpace` (its order must reach the equation's highest derivative).
        residual: Delta, a torch callable (N, dim) -> (N,) (one equation) or (N, r).
        solve_for: the coordinate names (one per equation) the surface is solved for, e.g. ``("u_t",)``.
        rhs: optional closed form of those coordinates on the surface, (N, dim) -> (N,) or (N, r) (evolution
            equations u_t = rhs); without it the surface is found by Newton's method on ``residual``.
        domain: sampling ranges {coordinate name: (low, high)}; coordinates not listed are drawn from
            ``default_range``.
        exact: the known point symmetries as {label: field}, each field a torch callable of base points
            (N, p + m) -> (N, p + m) (components along the independent, then the dependent variables).
    """

    name: str
    jet: JetSpace
    residual: Callable[[torch.Tensor], torch.Tensor]
    solve_for: tuple[str, ...]
    rhs: Callable[[torch.Tensor], torch.Tensor] | None = None
    domain: dict = field(default_factory=dict)
    default_range: tuple[float, float] = (-1.0, 1.0)
    exact: dict = field(default_factory=dict)

    def __post_init__(self):
        if not isinstance(self.jet, JetSpace):
            raise TypeError(f"jet: expected a JetSpace, got {type(self.jet).__name__}")
        if not callable(self.residual):
            raise TypeError(f"residual: expected a torch callable of jet points, got {type(self.residual).__name__}")
        if isinstance(self.solve_for, str):
            self.solve_for = (self.solve_for,)
        self.solve_for = tuple(self.solve_for)
        self._solve_cols = [self.jet.coordinate(n) for n in self.solve_for]
        for k, (lo, hi) in self.domain.items():
            self.jet.coordinate(k)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
                raise ValueError(f"domain[{k!r}]: expected a finite range low < high, got {(lo, hi)!r}")
        # the signature and the shape of the residual, checked once on a sample point
        z = torch.zeros(1, self.jet.dim, dtype=DT)
        try:
            r = self.residual(z)
        except Exception as exc:  # noqa: BLE001 - a user callable can fail in any way; the message says where
            raise SymlieError(f"residual: could not be evaluated on a jet point of shape (1, {self.jet.dim}) "
                              f"({', '.join(self.jet.names)}): {type(exc).__name__}: {exc}") from exc
        if not isinstance(r, torch.Tensor) or r.ndim not in (1, 2) or r.shape[0] != 1:
            raise SymlieError(f"residual: expected a tensor of shape (N,) or (N, r) for N jet points, got "
                              f"{tuple(r.shape) if isinstance(r, torch.Tensor) else type(r).__name__}")
        n_eq = 1 if r.ndim == 1 else r.shape[1]
        if n_eq != len(self.solve_for):
            raise ValueError(f"solve_for: the residual has {n_eq} component(s) but {len(self.solve_for)} "
                             f"coordinate(s) are named {self.solve_for}")

    @property
    def n_equations(self) -> int:
        return len(self.solve_for)

    def sample(self, n: int, seed: int | torch.Generator | None = 0, *, newton_steps: int = 50,
               tol: float = 1e-12) -> torch.Tensor:
        """n points (n, dim) float64 of the surface Delta = 0: random jets (``domain`` / ``default_range``)
        with the ``solve_for`` coordinates solved. Newton's method (no ``rhs``) must reach |Delta| <= tol
        (relative to 1 + |z|) at every point; a point where it does not is an error naming the count."""
        n = check_int(n, "n", 1)
        g = make_generator(seed)
        lo = torch.full((self.jet.dim,), self.default_range[0], dtype=DT)
        hi = torch.full((self.jet.dim,), self.default_range[1], dtype=DT)
        for k, (a, b) in self.domain.items():
            c = self.jet.coordinate(k)
            lo[c], hi[c] = a, b
        z = lo + (hi - lo) * torch.rand(n, self.jet.dim, generator=g, dtype=DT)
        cols = self._solve_cols
        if self.rhs is not None:
            v = self.rhs(z)
            z[:, cols] = (v if v.ndim == 2 else v[:, None]).to(DT)
        else:
            z = self._newton(z, cols, newton_steps, tol)
        res = self.residual(z)
        if not bool(torch.isfinite(res).all()):
            raise SymlieError(f"{self.name}: the residual is NaN / Inf at sampled surface points; restrict the "
                              f"domain (domain=...) to where the equation is defined")
        return z

    def project(self, z: torch.Tensor, *, newton_steps: int = 50, tol: float = 1e-12) -> torch.Tensor:
        """Jet points moved onto the surface along the ``solve_for`` coordinates (a copy): those coordinates
        replaced by ``rhs(z)``, or solved by Newton's method from their current values."""
        z = self.jet.check(z, "z").to(DT)
        if self.rhs is not None:
            z = z.clone()
            v = self.rhs(z)
            z[:, self._solve_cols] = (v if v.ndim == 2 else v[:, None]).to(DT)
            return z
        return self._newton(z, self._solve_cols, newton_steps, tol)

    def _newton(self, z: torch.Tensor, cols: list[int], steps: int, tol: float) -> torch.Tensor:
        z = z.clone()
        r_n = self.n_equations
        for _ in range(steps):
            zz = z.detach().requires_grad_(True)
            r = self.residual(zz)
            r = r[:, None] if r.ndim == 1 else r
            if float(r.detach().abs().max()) <= tol * (1 + float(z.abs().max())):
                return z
            J = torch.stack([torch.autograd.grad(r[:, a].sum(), zz, retain_graph=a < r_n - 1)[0][:, cols]
                             for a in range(r_n)], 1)                                   # (N, r, r)
            try:
                step = torch.linalg.solve(J, r.detach().unsqueeze(-1))[..., 0]
            except RuntimeError as exc:
                raise SymlieError(f"{self.name}: the residual does not depend on {self.solve_for} at some points "
                                  f"(singular Jacobian); solve for other coordinates") from exc
            z[:, cols] = z[:, cols] - step
        r = self.residual(z)
        r = r[:, None] if r.ndim == 1 else r
        bad = int((r.abs() > tol * (1 + z.abs().max(1, keepdim=True).values)).any(1).sum())
        if bad:
            raise SymlieError(f"{self.name}: Newton's method did not reach the surface at {bad} of {z.shape[0]} "
                              f"points in {steps} steps (newton_steps=); pass rhs= for a closed form")
        return z

    def exact_fields(self, labels: Sequence[str] | None = None) -> list[Callable]:
        """The known generators (base fields), all or those named."""
        if labels is None:
            return list(self.exact.values())
        missing = [k for k in labels if k not in self.exact]
        if missing:
            raise ValueError(f"labels: {missing} not among the known generators {list(self.exact)}")
        return [self.exact[k] for k in labels]

    def __repr__(self) -> str:
        return f"Equation({self.name!r}, solve_for={self.solve_for}, {self.jet!r})"


# ------------------------------------------------------------------------------------------- built-ins
def _evolution(name: str, order: int, rhs_of: Callable, exact: dict, domain: dict | None = None) -> Equation:
    """u_t = rhs(t, x, jets) for one dependent variable u(t, x)."""
    jet = JetSpace(("t", "x"), ("u",), order)
    col = {nm: jet.coordinate(nm) for nm in jet.names}

    def get(z):
        return {nm: z[:, c] for nm, c in col.items()}

    def rhs(z):
        return rhs_of(get(z))

    def residual(z):
        return z[:, col["u_t"]] - rhs_of(get(z))

    return Equation(name, jet, residual, ("u_t",), rhs=rhs, domain=domain or {}, exact=exact)


def _field(ft, fx, fu):
    """A base field (t, x, u) -> (tau, xi, phi) from three functions of the columns."""
    def v(b):
        t, x, u = b[:, 0], b[:, 1], b[:, 2]
        return torch.stack([ft(t, x, u) + 0 * t, fx(t, x, u) + 0 * t, fu(t, x, u) + 0 * t], -1)
    return v


def _one(t, x, u):
    return torch.ones_like(t)


def _zero(t, x, u):
    return torch.zeros_like(t)


def kdv() -> Equation:
    """KdV u_t + u u_x + u_xxx = 0; point symmetries d/dx, d/dt, t d/dx + d/du, x d/dx + 3t d/dt - 2u d/du."""
    return _evolution("KdV", 3, lambda j: -j["u"] * j["u_x"] - j["u_xxx"], {
        "d/dx": _field(_zero, _one, _zero),
        "d/dt": _field(_one, _zero, _zero),
        "t d/dx + d/du": _field(_zero, lambda t, x, u: t, _one),
        "x d/dx + 3t d/dt - 2u d/du": _field(lambda t, x, u: 3 * t, lambda t, x, u: x, lambda t, x, u: -2 * u)})


def kuramoto_sivashinsky() -> Equation:
    """KS u_t + u u_x + u_xx + u_xxxx = 0; point symmetries d/dx, d/dt, t d/dx + d/du."""
    return _evolution("Kuramoto-Sivashinsky", 4, lambda j: -j["u"] * j["u_x"] - j["u_xx"] - j["u_xxxx"], {
        "d/dx": _field(_zero, _one, _zero),
        "d/dt": _field(_one, _zero, _zero),
        "t d/dx + d/du": _field(_zero, lambda t, x, u: t, _one)})


def burgers(nu: float = 0.01) -> Equation:
    """Viscous Burgers u_t + u u_x = nu u_xx; 5 point symmetries (translations, Galilean boost, scaling
    x d/dx + 2t d/dt - u d/du, projective t^2 d/dt + t x d/dx + (x - t u) d/du)."""
    nu = _positive(nu, "nu")
    return _evolution(f"viscous Burgers (nu={nu:g})", 2, lambda j: -j["u"] * j["u_x"] + nu * j["u_xx"], {
        "d/dx": _field(_zero, _one, _zero),
        "d/dt": _field(_one, _zero, _zero),
        "t d/dx + d/du": _field(_zero, lambda t, x, u: t, _one),
        "x d/dx + 2t d/dt - u d/du": _field(lambda t, x, u: 2 * t, lambda t, x, u: x, lambda t, x, u: -u),
        "t^2 d/dt + t x d/dx + (x - t u) d/du": _field(lambda t, x, u: t * t, lambda t, x, u: t * x,
                                                        lambda t, x, u: x - t * u)})


def heat(nu: float = 1.0) -> Equation:
    """Heat u_t = nu u_xx. Its algebra is infinite-dimensional (u -> u + beta for every solution beta); the
    generators with coefficients of degree <= 2 in (t, x, u) are d/dx, d/dt, u d/du, x d/dx + 2t d/dt,
    2 nu t d/dx - x u d/du and beta d/du for the solutions beta = 1, x, x^2 + 2 nu t: 8."""
    nu = _positive(nu, "nu")
    return _evolution(f"heat (nu={nu:g})", 2, lambda j: nu * j["u_xx"], {
        "d/dx": _field(_zero, _one, _zero),
        "d/dt": _field(_one, _zero, _zero),
        "u d/du": _field(_zero, _zero, lambda t, x, u: u),
        "x d/dx + 2t d/dt": _field(lambda t, x, u: 2 * t, lambda t, x, u: x, _zero),
        "2 nu t d/dx - x u d/du": _field(_zero, lambda t, x, u: 2 * nu * t, lambda t, x, u: -x * u),
        "d/du": _field(_zero, _zero, _one),
        "x d/du": _field(_zero, _zero, lambda t, x, u: x),
        "(x^2 + 2 nu t) d/du": _field(_zero, _zero, lambda t, x, u: x * x + 2 * nu * t)})


def nkdv(t0: float = 50.0) -> Equation:
    """nKdV u_t = e^{t/t0} (-u u_x - u_xxx) (t absolute, sampled in [0.1, 5]); point symmetries d/dx,
    e^{-t/t0} d/dt, t0 (e^{t/t0} - 1) d/dx + d/du, d/dt + (x d/dx - 2u d/du) / (3 t0): KdV in
    s = t0 (e^{t/t0} - 1)."""
    t0 = _positive(t0, "t0")
    return _evolution(f"nKdV (t0={t0:g})", 3, lambda j: torch.exp(j["t"] / t0) * (-j["u"] * j["u_x"] - j["u_xxx"]), {
        "d/dx": _field(_zero, _one, _zero),
        "e^{-t/t0} d/dt": _field(lambda t, x, u: torch.exp(-t / t0), _zero, _zero),
        "t0 (e^{t/t0} - 1) d/dx + d/du": _field(_zero, lambda t, x, u: t0 * (torch.exp(t / t0) - 1), _one),
        "d/dt + (x d/dx - 2u d/du) / (3 t0)": _field(_one, lambda t, x, u: x / (3 * t0),
                                                      lambda t, x, u: -2 * u / (3 * t0))},
        domain={"t": (0.1, 5.0)})


def ckdv() -> Equation:
    """cKdV u_t = -u u_x - u_xxx - u / (2 (t + 1)) (t absolute, sampled in [0.1, 5]); point symmetries d/dx,
    sqrt(t+1) d/dx + (1/2) (t+1)^{-1/2} d/du, 3 (t+1) d/dt + x d/dx - 2u d/du."""
    return _evolution("cKdV", 3, lambda j: -j["u"] * j["u_x"] - j["u_xxx"] - j["u"] / (2 * (j["t"] + 1)), {
        "d/dx": _field(_zero, _one, _zero),
        "sqrt(t+1) d/dx + (t+1)^{-1/2}/2 d/du": _field(_zero, lambda t, x, u: torch.sqrt(t + 1),
                                                        lambda t, x, u: 0.5 / torch.sqrt(t + 1)),
        "3(t+1) d/dt + x d/dx - 2u d/du": _field(lambda t, x, u: 3 * (t + 1), lambda t, x, u: x,
                                                  lambda t, x, u: -2 * u)},
        domain={"t": (0.1, 5.0)})


def _positive(v, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {v!r}")
    return float(v)


#: the built-in equations by name
BUILTIN: dict[str, Callable[..., Equation]] = {"kdv": kdv, "ks": kuramoto_sivashinsky, "burgers": burgers,
                                               "heat": heat, "nkdv": nkdv, "ckdv": ckdv}

