"""Equations u_t = F(t, x, u, u_x, ...) fitted to jet points of data (the data route to an :class:`Equation`).

:func:`fit_equation` regresses one jet coordinate (the ``target``, e.g. ``u_t``) on features of the others:

  * ``method="stlsq"``: a sparse linear model F = sum_f c_f Phi_f on a feature library (default: polynomials of
    degree <= ``degree`` in the jet coordinates of u, without t, x, the target and its derivatives), by
    sequentially thresholded least squares (STLSQ, as in SINDy / PDE-FIND). Columns are normalised before
    thresholding: each coefficient is measured as c_f rms(Phi_f) / rms(target), the share of the target's size that
    the term carries, so ``threshold`` is dimensionless (``normalize=False``: raw coefficients instead).
  * ``method="mlp"``: a small tanh network (inputs: the same feature coordinates, standardised; float64; Adam,
    seeded; as in LieNLSD) for right-hand sides outside any library; smooth, so its equation can be prolonged.

A seeded random ``val_fraction`` of the rows is held out; :class:`FittedEquation` reports train / validation R^2
and relative errors, readable equations, and :meth:`FittedEquation.to_equation` returns the
:class:`symlie.pde.Equation` Delta(z) = z[target] - F(z) that :func:`symlie.pde.point_symmetries` takes.
A validation R^2 below ``min_r2`` sets ``status="poor-fit"`` with a :class:`symlie.SymlieWarning`; a design
that does not determine the kept coefficients sets ``status="underdetermined"`` with a
:class:`symlie.UnderdeterminedWarning`. Inputs are never modified (a given library is copied before fitting).
"""
from __future__ import annotations

import copy
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch

from ..library import Library, PolynomialLibrary, format_equations
from ..utils.errors import DataError, SymlieError, SymlieWarning, UnderdeterminedWarning
from ..utils.validation import as_tensor, check_int, make_generator
from .equations import Equation
from .grid import GridJets
from .jets import JetSpace, multi_indices

__all__ = ["FittedEquation", "fit_equation", "default_features", "FIT_METHODS", "EquationDesign", "equation_design",
           "system_from_fits"]

DT = torch.float64
#: the regression methods of :func:`fit_equation`
FIT_METHODS = ("stlsq", "mlp")


@dataclass
class FittedEquation:
    """An equation ``target = F(features)`` fitted to jet points (the result of :func:`fit_equation`).

    Attributes:
        jet: the jet space of the data.
        target: the fitted coordinate (``"u_t"``).
        features: the coordinate names F takes, in the order the library / network sees them.
        method: ``"stlsq"`` or ``"mlp"``.
        coef: (D,) float64 coefficients on ``feature_names`` (``"stlsq"``; None for ``"mlp"``).
        support: (D,) bool, the terms kept by thresholding (``"stlsq"``).
        feature_names: readable names of the library features (``"u u_x"``).
        library: the fitted copy of the library (``"stlsq"``).
        model: the trained network (``"mlp"``), a float64 ``torch.nn.Module`` of (N, len(features)) -> (N,).
        r2_train, r2_val, rel_err_train, rel_err_val: R^2 and |y - F| / |y| on the two parts (validation: NaN
            when ``val_fraction=0``).
        n_train, n_val: rows in each part.
        status: ``"ok"``, ``"poor-fit"`` (validation R^2 below ``min_r2``) or ``"underdetermined"``.
        status_reason: empty when ok, else what was wrong and what to do.
        ranges: {coordinate: (min, max)} over the data (the default sampling domain of :meth:`to_equation`).
        options: the fitting options (threshold, alpha, iterations, ...).
        symmetry: the point-symmetry algebra the fit kept (``"promoted"`` fits: a :class:`symlie.SymmetryResult`
            over the candidate fields), else None.
    """

    jet: JetSpace
    target: str
    features: tuple[str, ...]
    method: str
    coef: torch.Tensor | None
    support: torch.Tensor | None
    feature_names: list[str]
    library: Library | None
    model: torch.nn.Module | None
    r2_train: float
    r2_val: float
    rel_err_train: float
    rel_err_val: float
    n_train: int
    n_val: int
    status: str = "ok"
    status_reason: str = ""
    ranges: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    symmetry: Any = None

    # -- the model ----------------------------------------------------------------------------------
    def rhs(self, z: torch.Tensor) -> torch.Tensor:
        """F(z) (N,) for jet points z (N, jet.dim): a differentiable torch function (autograd, torch.func)."""
        X = z[:, [self.jet.coordinate(n) for n in self.features]]
        if self.model is not None:
            return self.model(X)
        assert self.library is not None and self.coef is not None
        return self.library.transform(X) @ self.coef.to(X.device)

    def predict(self, Z) -> torch.Tensor:
        """F on jet points Z (M, jet.dim) (or :class:`GridJets`): (M,) float64."""
        return self.rhs(_check_Z(Z, self.jet))

    def score(self, Z) -> float:
        """R^2 of F against the target column of Z."""
        Zt = _check_Z(Z, self.jet)
        return _r2(Zt[:, self.jet.coordinate(self.target)], self.rhs(Zt))

    def equations(self, precision: int = 3) -> list[str]:
        """``["u_t = -1.000 u u_x - 1.000 u_xxx"]`` (``"mlp"``: ``["u_t = MLP(u, u_x, ...)"]``)."""
        if self.coef is None:
            return [f"{self.target} = MLP({', '.join(self.features)})"]
        prec = check_int(precision, "precision")
        return format_equations(self.coef[None, :], self.feature_names, [self.target], prec)

    def to_equation(self, name: str | None = None, *, domain: dict | None = None,
                    exact: dict | None = None) -> Equation:
        """The :class:`Equation` Delta(z) = z[target] - F(z) (solve_for = (target,), rhs = F), sampled by default
        on the ranges the data covered (``domain``: {coordinate: (low, high)} overrides)."""
        col = self.jet.coordinate(self.target)
        rhs = self.rhs

        def residual(z: torch.Tensor) -> torch.Tensor:
            return z[:, col] - rhs(z)

        dom = {k: v for k, v in self.ranges.items() if k != self.target} if domain is None else dict(domain)
        return Equation(name or f"fitted {self.equations()[0]}", self.jet, residual, (self.target,), rhs=rhs,
                        domain=dom, exact=dict(exact or {}))

    def __repr__(self) -> str:
        return (f"FittedEquation({self.equations()[0]!r}, method={self.method!r}, r2_val={self.r2_val:.4g}, "
                f"status={self.status!r})")


# ------------------------------------------------------------------------------------------- validation
def _check_Z(Z, jet: JetSpace) -> torch.Tensor:
    if isinstance(Z, GridJets):
        if Z.jet != jet:
            raise ValueError(f"Z, jet: the jets were computed on {Z.jet!r}, not on {jet!r}")
        Z = Z.Z
    Zt = as_tensor(Z, "Z", dtype=DT, ndim=2, finite=False)
    if Zt.shape[1] != jet.dim:
        raise DataError(f"Z: expected {jet.dim} jet coordinates ({', '.join(jet.names)}), got shape {tuple(Zt.shape)}")
    if Zt.shape[0] == 0:
        raise DataError("Z: got 0 jet points")
    bad = int((~torch.isfinite(Zt)).sum())
    if bad:
        raise DataError(f"Z: contains {bad} NaN or Inf value{'' if bad == 1 else 's'} (in "
                        f"{int((~torch.isfinite(Zt)).any(1).sum())} of {Zt.shape[0]} rows); drop those rows")
    return Zt


def _jet_of(jet: JetSpace, name: str) -> tuple[int, tuple[int, ...]] | None:
    """(alpha, J) of a dependent coordinate, None for an independent variable."""
    c = jet.coordinate(name)
    for a in range(jet.m):
        for r in range(jet.order + 1):
            for J in multi_indices(jet.p, r):
                if jet.index(a, J) == c:
                    return a, J
    return None


def default_features(jet: JetSpace, target: str) -> tuple[str, ...]:
    """The jet coordinates of the dependent variables except the target's kind of derivative (no t, x): for
    ``u_t`` every coordinate with a t-derivative of any component is left out (u_t, v_t, u_tx, ...), the
    evolution form u_t = F(x, u, v, u_x, v_x, ...) (for a system, v_t = u_x on the data would make the
    columns collinear)."""
    key = _jet_of(jet, target)
    if key is None:
        raise ValueError(f"target: {target!r} is an independent variable; expected a jet coordinate such as 'u_t'")
    _, J = key

    def derived(n: str) -> bool:
        k = _jet_of(jet, n)
        return k is not None and all(i >= j for i, j in zip(k[1], J))

    return tuple(n for n in jet.names[jet.p:] if not derived(n))


def _check_features(jet: JetSpace, target: str, features) -> tuple[str, ...]:
    if not isinstance(target, str):
        raise TypeError(f"target: expected a coordinate name such as 'u_t', got {type(target).__name__}")
    if target not in jet.names:
        raise SymlieError(f"target: {target!r} is not a coordinate of the jet space; available: {', '.join(jet.names)}")
    if features is None:
        feats = default_features(jet, target)
    else:
        feats = (features,) if isinstance(features, str) else tuple(features)
        for n in feats:
            if not isinstance(n, str):
                raise TypeError(f"features: expected coordinate names, got {n!r}")
            if n not in jet.names:
                raise SymlieError(f"features: {n!r} is not a coordinate of the jet space; available: "
                                  f"{', '.join(jet.names)}")
        if len(set(feats)) != len(feats):
            raise ValueError(f"features: repeated names in {feats}")
        if target in feats:
            raise ValueError(f"features: the target {target!r} cannot also be a feature")
    if not feats:
        raise ValueError(f"features: no coordinate is left to fit {target!r} on; name them (features=...)")
    return feats


def _check_number(v, name: str, low: float, high: float | None = None, *, open_low: bool = False) -> float:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ok = ok and (v > low if open_low else v >= low) and (high is None or v < high)
    if not ok:
        rng = f"{'>' if open_low else '>='} {low:g}" + ("" if high is None else f" and < {high:g}")
        raise ValueError(f"{name}: expected a finite number {rng}, got {v!r}")
    return float(v)


def _split(n: int, val_fraction: float, seed) -> tuple[torch.Tensor, torch.Tensor]:
    n_val = int(round(val_fraction * n)) if val_fraction > 0 else 0
    if val_fraction > 0 and n >= 2:
        n_val = min(max(n_val, 1), n - 1)
    perm = torch.randperm(n, generator=make_generator(seed))
    return perm[n_val:].sort().values, perm[:n_val].sort().values


def _r2(y: torch.Tensor, p: torch.Tensor) -> float:
    ss_res = float(((y - p) ** 2).sum())
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if ss_tot == 0:
        return 1.0 if ss_res == 0 else 0.0
    return 1.0 - ss_res / ss_tot


def _rel(y: torch.Tensor, p: torch.Tensor) -> float:
    ny = float(torch.linalg.vector_norm(y))
    nr = float(torch.linalg.vector_norm(y - p))
    return nr / ny if ny > 0 else (0.0 if nr == 0 else math.inf)


# ------------------------------------------------------------------------------------------- STLSQ
def _ridge(M: torch.Tensor, y: torch.Tensor, alpha: float) -> torch.Tensor:
    """argmin |M c - y|^2 / N + alpha |c|^2 (minimum norm when rank deficient)."""
    N, k = M.shape
    if k == 0:
        return M.new_zeros(0)
    A, b = M / math.sqrt(N), y / math.sqrt(N)
    if alpha > 0:
        A = torch.cat([A, math.sqrt(alpha) * torch.eye(k, dtype=M.dtype)])
        b = torch.cat([b, b.new_zeros(k)])
    return torch.linalg.lstsq(A, b[:, None], driver="gelsd").solution[:, 0]


def _stlsq(M: torch.Tensor, y: torch.Tensor, threshold: float, alpha: float = 0.0, max_iter: int = 25,
           active: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Sequentially thresholded least squares: c (k,), support (k,) bool, iterations, for M (N, k), y (N,).
    Coefficients below ``threshold`` in absolute value are zeroed and the rest refitted until the support is
    stable; ``active`` restricts the starting support."""
    k = M.shape[1]
    support = torch.ones(k, dtype=torch.bool) if active is None else active.clone()
    c = torch.zeros(k, dtype=DT)
    c[support] = _ridge(M[:, support], y, alpha)
    it = 0
    for it in range(1, max_iter + 1):   # noqa: B007 (its last value is returned)
        new = support & (c.abs() >= threshold)
        if torch.equal(new, support):
            break
        support = new
        c = torch.zeros(k, dtype=DT)
        if support.any():
            c[support] = _ridge(M[:, support], y, alpha)
    return torch.where(support, c, torch.zeros_like(c)), support, it


def _fit_stlsq(X, y, lib: Library, threshold, alpha, max_iter, normalize):
    Theta = lib.fit(X).transform(X)
    N = Theta.shape[0]
    scale = torch.linalg.vector_norm(Theta, dim=0) / math.sqrt(N) if normalize else torch.ones(Theta.shape[1], dtype=DT)
    ys = float(torch.linalg.vector_norm(y)) / math.sqrt(N) if normalize else 1.0
    ys = ys if ys > 0 else 1.0
    active = scale > 0
    M = Theta / torch.where(active, scale, torch.ones_like(scale))
    c, support, it = _stlsq(M, y / ys, threshold, alpha, max_iter, active)
    coef = torch.where(support, c * ys / torch.where(active, scale, torch.ones_like(scale)), torch.zeros_like(c))
    rank = int(torch.linalg.matrix_rank(M[:, support])) if support.any() else 0
    return coef, support, it, rank


# ------------------------------------------------------------------------------------------- MLP
class _MLP(torch.nn.Module):
    """x -> standardised tanh network -> y, with the standardisation built in (float64)."""

    mu: torch.Tensor
    sd: torch.Tensor
    y_mu: torch.Tensor
    y_sd: torch.Tensor

    def __init__(self, n_in: int, hidden: Sequence[int], mu, sd, y_mu, y_sd):
        super().__init__()
        layers: list[torch.nn.Module] = []
        d = n_in
        for h in hidden:
            layers += [torch.nn.Linear(d, h, dtype=DT), torch.nn.Tanh()]
            d = h
        layers.append(torch.nn.Linear(d, 1, dtype=DT))
        self.net = torch.nn.Sequential(*layers)
        self.register_buffer("mu", mu)
        self.register_buffer("sd", sd)
        self.register_buffer("y_mu", y_mu)
        self.register_buffer("y_sd", y_sd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net((x - self.mu) / self.sd)[:, 0] * self.y_sd + self.y_mu


def _fit_mlp(X, y, *, hidden, epochs, lr, batch_size, weight_decay, seed) -> _MLP:
    sd = X.std(0) if X.shape[0] > 1 else torch.ones(X.shape[1], dtype=DT)
    sd = torch.where(sd > 0, sd, torch.ones_like(sd))
    y_sd = y.std() if y.shape[0] > 1 else torch.ones((), dtype=DT)
    y_sd = y_sd if float(y_sd) > 0 else torch.ones((), dtype=DT)
    g = make_generator(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(0, 2 ** 31 - 1, (1,), generator=g)))
        net = _MLP(X.shape[1], hidden, X.mean(0), sd, y.mean(), y_sd)
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    N = X.shape[0]
    bs = N if batch_size is None else min(batch_size, N)
    yn = (y - y.mean()) / y_sd
    for _ in range(epochs):
        perm = torch.randperm(N, generator=g) if bs < N else torch.arange(N)
        for s in range(0, N, bs):
            idx = perm[s: s + bs]
            opt.zero_grad()
            loss = (((net(X[idx]) - net.y_mu) / net.y_sd - yn[idx]) ** 2).mean()
            loss.backward()
            opt.step()
    net.eval()
    for prm in net.parameters():
        prm.requires_grad_(False)
    return net


# ------------------------------------------------------------------------------------------- entry point
def fit_equation(Z, jet: JetSpace, *, target: str = "u_t", library: Library | None = None,
                 features: Sequence[str] | None = None, degree: int = 2, method: str = "stlsq",
                 threshold: float = 0.01, alpha: float = 0.0, max_iter: int = 25, normalize: bool = True,
                 val_fraction: float = 0.2, min_r2: float = 0.9, seed=0, hidden: Sequence[int] = (32, 32),
                 epochs: int = 500, lr: float = 1e-2, batch_size: int | None = None,
                 weight_decay: float = 0.0) -> FittedEquation:
    """Fit ``target = F(features)`` to jet points.

    Args:
        Z: jet points (M, jet.dim) in the :class:`JetSpace` layout (e.g. ``jets_from_grid(...).Z``) or a
            :class:`GridJets`; finite.
        jet: their jet space.
        target: the coordinate on the left-hand side (``"u_t"``).
        library: ``"stlsq"``: the feature library, applied to ``Z[:, features]`` (columns in the order of
            ``features``, named by them; e.g. a :class:`symlie.CustomLibrary` with exp(t / 50) u u_x for nKdV
            with ``features=("t", "u", "u_x", "u_xxx")``). Default: ``PolynomialLibrary(degree)``. Not modified
            (a copy is fitted).
        features: coordinate names F depends on (default :func:`default_features`: those of u except the
            target and its derivatives; t and x only when named).
        degree: degree of the default polynomial library.
        method: ``"stlsq"`` (sparse linear) or ``"mlp"`` (small network; see the module docstring).
        threshold: STLSQ threshold: terms with |c_f| rms(Phi_f) / rms(target) below it are dropped
            (``normalize=False``: |c_f| below it).
        alpha: ridge penalty of the least-squares steps (on the normalised columns).
        max_iter: STLSQ iterations at most.
        val_fraction: share of rows held out for validation (seeded by ``seed``); 0 validates on nothing.
        min_r2: a validation R^2 (train R^2 without validation rows) below it sets ``status="poor-fit"``
            (``-inf``: no check).
        seed: int or ``torch.Generator``: the split and, for ``"mlp"``, the initialisation and batches.
        hidden, epochs, lr, batch_size, weight_decay: ``"mlp"``: hidden widths, Adam epochs, learning rate,
            batch size (None: full batch) and weight decay.

    Returns:
        :class:`FittedEquation`.

    Raises:
        DataError: Z empty, of the wrong width, or with NaN / Inf (counted).
        SymlieError: a target or feature that is not a coordinate of ``jet`` (the message lists them).
    """
    if not isinstance(jet, JetSpace):
        raise TypeError(f"jet: expected a symlie.pde.JetSpace, got {type(jet).__name__}")
    if method not in FIT_METHODS:
        raise ValueError(f"method: expected one of {FIT_METHODS}, got {method!r}")
    feats = _check_features(jet, target, features)
    Zt = _check_Z(Z, jet)
    threshold = _check_number(threshold, "threshold", 0.0)
    alpha = _check_number(alpha, "alpha", 0.0)
    val_fraction = _check_number(val_fraction, "val_fraction", 0.0, 1.0)
    if isinstance(min_r2, bool) or not isinstance(min_r2, (int, float)) or not -math.inf <= min_r2 <= 1:
        raise ValueError(f"min_r2: expected a number <= 1 (-inf: no check), got {min_r2!r}")
    max_iter = check_int(max_iter, "max_iter", 1)
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize: expected a bool, got {type(normalize).__name__}")
    if library is not None and not isinstance(library, Library):
        raise TypeError(f"library: expected a symlie Library, got {type(library).__name__}")
    tr, va = _split(Zt.shape[0], val_fraction, seed)
    if tr.shape[0] < 2:
        raise DataError(f"Z: {Zt.shape[0]} jet points leave {tr.shape[0]} for training; pass more points")
    cols = [jet.coordinate(n) for n in feats]
    ycol = jet.coordinate(target)
    X, y = Zt[tr][:, cols], Zt[tr, ycol]
    rank = n_free = 0
    coef = support = None
    lib: Library | None = None
    net: torch.nn.Module | None = None
    names: list[str] = []
    if method == "stlsq":
        lib = PolynomialLibrary(check_int(degree, "degree", 1)) if library is None else copy.deepcopy(library)
        coef, support, it, rank = _fit_stlsq(X, y, lib, threshold, alpha, max_iter, normalize)
        n_free, names = int(support.sum()), lib.feature_names(list(feats))
        options: dict = dict(threshold=threshold, alpha=alpha, normalize=normalize, n_iter=it)
    else:
        hidden = [check_int(h, "hidden", 1) for h in hidden]
        options = dict(hidden=tuple(hidden), epochs=check_int(epochs, "epochs", 1),
                       lr=_check_number(lr, "lr", 0.0, open_low=True),
                       batch_size=check_int(batch_size, "batch_size", 1, allow_none=True),
                       weight_decay=_check_number(weight_decay, "weight_decay", 0.0))
        net = _fit_mlp(X, y, seed=seed, **options)
    res = FittedEquation(jet, target, feats, method, coef, support, names, lib, net, r2_train=0.0,
                         r2_val=math.nan, rel_err_train=0.0, rel_err_val=math.nan, n_train=int(tr.shape[0]),
                         n_val=int(va.shape[0]), options=options)
    _score(res, Zt, tr, va)
    _status(res, rank, n_free, min_r2)
    return res


def _score(res: FittedEquation, Zt: torch.Tensor, tr: torch.Tensor, va: torch.Tensor) -> None:
    """Fill in the train / validation R^2 and relative errors of ``res`` on the rows ``tr`` / ``va`` of the jet
    points Zt, and the data ranges (the default sampling domain of :meth:`FittedEquation.to_equation`)."""
    ycol = res.jet.coordinate(res.target)
    with torch.no_grad():
        y, p = Zt[tr, ycol], res.rhs(Zt[tr])
        res.r2_train, res.rel_err_train = _r2(y, p), _rel(y, p)
        if va.shape[0]:
            yv, pv = Zt[va, ycol], res.rhs(Zt[va])
            res.r2_val, res.rel_err_val = _r2(yv, pv), _rel(yv, pv)
    lo, hi = Zt.min(0).values, Zt.max(0).values
    res.ranges = {n: (float(lo[c]), float(hi[c])) for c, n in enumerate(res.jet.names) if float(hi[c]) > float(lo[c])}


def system_from_fits(fits: Sequence[FittedEquation], name: str | None = None, *,
                     exact: dict | None = None) -> Equation:
    """One :class:`Equation` of several fits on the same jet space, one per target (e.g. ``u_t`` and ``v_t`` of a
    two-component system): residuals and right-hand sides stacked in the order of ``fits`` ((N, k)),
    ``solve_for`` their targets, sampled by default on the ranges all fits covered (targets excluded)."""
    fs = list(fits)
    if not fs or not all(isinstance(f, FittedEquation) for f in fs):
        raise TypeError("fits: expected a non-empty sequence of FittedEquation (the results of fit_equation)")
    jet = fs[0].jet
    if any(f.jet != jet for f in fs):
        raise ValueError(f"fits: fitted on different jet spaces ({', '.join(repr(f.jet) for f in fs)})")
    targets = tuple(f.target for f in fs)
    if len(set(targets)) != len(targets):
        raise ValueError(f"fits: each must have its own target, got {targets}")
    cols = [jet.coordinate(t) for t in targets]
    rhss = [f.rhs for f in fs]

    def rhs(z: torch.Tensor) -> torch.Tensor:
        return torch.stack([r(z) for r in rhss], 1)

    def residual(z: torch.Tensor) -> torch.Tensor:
        return z[:, cols] - rhs(z)

    lo: dict = {}
    for f in fs:
        for k, (a, b) in f.ranges.items():
            lo[k] = (min(a, lo[k][0]), max(b, lo[k][1])) if k in lo else (a, b)
    dom = {k: v for k, v in lo.items() if k not in targets}
    label = name or "fitted system " + "; ".join(f.equations()[0] for f in fs)
    return Equation(label, jet, residual, targets, rhs=rhs, domain=dom, exact=dict(exact or {}))


@dataclass
class EquationDesign:
    """Jet points prepared for fitting ``target = library(features) . W``: the checked points, a seeded
    train / validation split and a fitted copy of the library (the common first step of the linear fits:
    :func:`symlie.pde.fit_symmetric_equation`, :func:`symlie.promote.fit_promoted_equation`).

    Attributes:
        jet, target, features: as in :func:`fit_equation`.
        library: the fitted copy of the feature library (D features).
        Z: (M, jet.dim) float64 jet points (finite); train, val: row indices of the two parts.
    """

    jet: JetSpace
    target: str
    features: tuple[str, ...]
    library: Library
    Z: torch.Tensor
    train: torch.Tensor
    val: torch.Tensor

    @property
    def n_features(self) -> int:
        return self.library.n_output_features(len(self.features))

    @property
    def feature_names(self) -> list[str]:
        return self.library.feature_names(list(self.features))

    def theta(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """Theta (n, D) float64: the library at the feature columns of the rows (default: the training rows)."""
        cols = [self.jet.coordinate(n) for n in self.features]
        return self.library.transform(self.Z[self.train if rows is None else rows][:, cols]).to(DT)

    def y(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """The target column (n,) of the rows (default: the training rows)."""
        return self.Z[self.train if rows is None else rows, self.jet.coordinate(self.target)]

    def box(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(low, high) (jet.dim,) over all rows."""
        return self.Z.min(0).values, self.Z.max(0).values

    def result(self, coef: torch.Tensor, method: str, options: dict) -> FittedEquation:
        """The :class:`FittedEquation` of coefficients ``coef`` (D,), scored on both parts (R^2, relative
        errors, data ranges)."""
        res = FittedEquation(self.jet, self.target, self.features, method, coef, coef != 0, self.feature_names,
                             self.library, None, r2_train=0.0, r2_val=math.nan, rel_err_train=0.0,
                             rel_err_val=math.nan, n_train=int(self.train.shape[0]), n_val=int(self.val.shape[0]),
                             options=options)
        _score(res, self.Z, self.train, self.val)
        return res


def equation_design(Z, jet: JetSpace, *, target: str = "u_t", library: Library | None = None,
                    features: Sequence[str] | None = None, degree: int = 2, val_fraction: float = 0.2,
                    seed=0) -> EquationDesign:
    """Check the jet points and options of a linear equation fit and split the rows (arguments as in
    :func:`fit_equation`); the library is copied and fitted, never modified."""
    if not isinstance(jet, JetSpace):
        raise TypeError(f"jet: expected a symlie.pde.JetSpace, got {type(jet).__name__}")
    feats = _check_features(jet, target, features)
    Zt = _check_Z(Z, jet)
    val_fraction = _check_number(val_fraction, "val_fraction", 0.0, 1.0)
    lib = PolynomialLibrary(check_int(degree, "degree", 1)) if library is None else copy.deepcopy(library)
    if not isinstance(lib, Library):
        raise TypeError(f"library: expected a symlie Library, got {type(lib).__name__}")
    lib.fit(Zt[:1, [jet.coordinate(n) for n in feats]])
    tr, va = _split(Zt.shape[0], val_fraction, seed)
    if tr.shape[0] < 1:
        raise DataError(f"Z: {Zt.shape[0]} jet points leave none for training")
    return EquationDesign(jet, target, feats, lib, Zt, tr, va)


def _status(res: FittedEquation, rank: int, n_free: int, min_r2: float) -> None:
    r2 = res.r2_val if res.n_val else res.r2_train
    if rank < n_free:
        res.status = "underdetermined"
        res.status_reason = (f"the {n_free} kept terms have a design of rank {rank} on {res.n_train} rows: the data "
                             f"do not determine their coefficients (the minimum-norm ones are returned); use more "
                             f"varied data (several solutions) or a smaller library")
        warnings.warn(UnderdeterminedWarning(f"fit_equation: {res.status_reason}"), stacklevel=3)
    elif not r2 >= min_r2:
        part = "validation" if res.n_val else "training"
        res.status = "poor-fit"
        res.status_reason = (f"{part} R^2 = {r2:.4g} is below min_r2={min_r2:g} ({res.equations()[0]}): the library "
                             f"does not describe the data (or the derivatives are too noisy); try a larger library, "
                             f"other features, smoothed derivatives (jets_from_grid(method='poly')) or "
                             f"method='mlp'")
        warnings.warn(SymlieWarning(f"fit_equation: {res.status_reason}"), stacklevel=3)

