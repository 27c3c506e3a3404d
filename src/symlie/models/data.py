"""Discovery from data alone: fit a model Y ~ F(X) (polynomial regression or a small MLP), then discover.

:func:`discover_data` composes the estimators of this package with :func:`symlie.discover`, so it lives above
both (``symlie.models`` imports ``symlie.discovery``, never the other way round).
"""
from __future__ import annotations

import math

import torch

from ..discovery import SymmetryResult, discover, discover_manifold, is_linear_estimator
from ..lie.reps import Rep
from ..linalg import RankRule
from ..library import PolynomialLibrary
from ..utils.validation import as_tensor, check_int
from .regression import SymmetricRegressor, r2_score

__all__ = ["discover_data", "fit_mlp", "FIT_TOL_FACTOR", "POOR_FIT_R2"]

#: discover_data's "auto" rule: the noise floor is FIT_TOL_FACTOR x the fit's relative RMS error (sqrt(1 - R^2))
FIT_TOL_FACTOR = 10.0
#: discover_data warns when the fit's R^2 is below this
POOR_FIT_R2 = 0.9


# ------------------------------------------------------------------------------- data -> model
class _StandardizedMLP(torch.nn.Module):
    """y = y_mean + y_std * net((x - x_mean) / x_std): the scalings are part of the model, so its Lie
    derivative is that of the composite function of the raw inputs."""

    def __init__(self, n_in: int, n_out: int, hidden: tuple[int, ...], stats):
        super().__init__()
        layers, w = [], n_in
        for h in hidden:
            layers += [torch.nn.Linear(w, h), torch.nn.SiLU()]
            w = h
        layers.append(torch.nn.Linear(w, n_out))
        self.net = torch.nn.Sequential(*layers)
        for name, v in zip(("x_mean", "x_std", "y_mean", "y_std"), stats):
            self.register_buffer(name, v)

    def forward(self, x):
        return self.y_mean + self.y_std * self.net((x - self.x_mean) / self.x_std)


def fit_mlp(X, Y, *, hidden=(64, 64), steps: int = 3000, lr: float = 3e-3, batch: int = 512,
            weight_decay: float = 0.0, seed: int = 0) -> torch.nn.Module:
    """Fit a small smooth (SiLU) MLP in float64 by Adam with cosine learning-rate decay; returns the module.

    Inputs and outputs are standardised inside the module. Used by :func:`discover_data` (``model="mlp"``).
    """
    x = as_tensor(X, "X", ndim=2, dtype=torch.float64)
    y = as_tensor(Y, "Y", ndim=(1, 2), dtype=torch.float64)
    y = y.unsqueeze(1) if y.ndim == 1 else y
    steps = check_int(steps, "steps", 1)
    batch = check_int(batch, "batch", 1)
    hidden = tuple(check_int(h, "hidden", 1) for h in hidden)
    g = torch.Generator().manual_seed(int(seed))
    xs = x.std(0).clamp(min=1e-12)
    ys = y.std(0).clamp(min=1e-12) if y.shape[0] > 1 else torch.ones(y.shape[1], dtype=torch.float64)
    stats = (x.mean(0), xs, y.mean(0), ys)
    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        net = _StandardizedMLP(x.shape[1], y.shape[1], hidden, stats).double()
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    N = x.shape[0]
    for _ in range(steps):
        idx = torch.randint(N, (min(batch, N),), generator=g) if batch < N else slice(None)
        loss = (((net(x[idx]) - y[idx]) / ys) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def discover_data(X, Y, candidates, *, model="poly", degree: int = 2, hidden=(64, 64), steps: int = 3000,
                  lr: float = 3e-3, alpha: float = 0.0, val_fraction: float = 0.2, seed: int = 0,
                  rep_in: Rep | None = None, rep_out: Rep | None = None, dynamics: bool = False,
                  rule="auto", rtol: float | None = None, min_gap: float | None = None, **kwargs) -> SymmetryResult:
    """Discover the symmetry of a data set: fit a model Y ~ F(X) first, then :func:`discover` on the fit.

    The fit quality (R^2 on the training samples and on a held-out fraction) is reported in ``result.fit``
    next to the symmetry: a symmetry of a poor fit says little about the data. ``Y=None`` treats X as a
    point cloud (:func:`discover_manifold`).

    Args:
        X: inputs (N, n_in); Y: targets (N,) or (N, n_out) (for ``dynamics=True``: the velocities x').
        candidates, rep_in, rep_out, dynamics: as in :func:`discover`.
        model: ``"poly"`` (least-squares polynomial regression of degree ``degree``, ridge ``alpha``; its
            symmetry is computed exactly from the library), ``"mlp"`` (a float64 SiLU MLP with layer widths
            ``hidden``, ``steps`` Adam steps at learning rate ``lr``), or an already fitted model (torch
            callable or estimator), which is only scored and analysed.
        val_fraction: fraction of samples held out to score the fit (0: none); the split is seeded.
        rule, rtol, min_gap: the rank rule (as :func:`symlie.discover`). With the default ``"auto"`` rule the
            noise floor is set by the fit: a fitted model is symmetric only up to its error, so values below
            floor = clip(:data:`FIT_TOL_FACTOR` x relative RMS error of the fit, 1e-12, 0.5) count as zero,
            the relative error being sqrt(1 - R^2) on the held-out samples (training samples when none are
            held out); the largest gap of at least ``min_gap`` above the floor is the cut. The same rule is
            used for point clouds (``Y=None``, :func:`discover_manifold`).
        kwargs: passed to :func:`discover` (or :func:`discover_manifold` when ``Y`` is None).

    A fit with R^2 below :data:`POOR_FIT_R2` adds a ``warning`` to ``result.fit``.
    """
    if not isinstance(rule, RankRule) and rule not in ("auto", "rtol", "gap"):
        raise ValueError(f"rule: expected 'auto', 'rtol', 'gap' or a RankRule, got {rule!r}")
    if Y is None:
        mkw = dict(kwargs, min_gap=min_gap) if min_gap is not None else kwargs
        return discover_manifold(X, candidates, rep_in=rep_in, rule=rule, rtol=rtol, **mkw)
    x = as_tensor(X, "X", ndim=2, dtype=torch.float64)
    y = as_tensor(Y, "Y", ndim=(1, 2), dtype=torch.float64)
    y2 = y.unsqueeze(1) if y.ndim == 1 else y
    N = x.shape[0]
    if N == 0:
        raise ValueError("X: got 0 samples")
    if y2.shape[0] != N:
        raise ValueError(f"X, Y: different numbers of samples: {N} and {y2.shape[0]}")
    if not (isinstance(val_fraction, (int, float)) and 0 <= val_fraction < 1):
        raise ValueError(f"val_fraction: expected a number in [0, 1), got {val_fraction!r}")
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(int(seed)))
    n_val = int(round(val_fraction * N))
    tr, va = perm[n_val:], perm[:n_val]
    if isinstance(model, str):
        if model in ("poly", "polynomial"):
            degree = check_int(degree, "degree", 0)
            n_feat = PolynomialLibrary(degree).n_output_features(x.shape[1])
            if len(tr) < n_feat:
                raise ValueError(f"X: {len(tr)} training samples are too few for a degree-{degree} polynomial in "
                                 f"{x.shape[1]} variables ({n_feat} coefficients per output); lower the degree or "
                                 f"pass more samples")
            fitted = SymmetricRegressor(PolynomialLibrary(degree), mode="none", alpha=alpha).fit(x[tr], y2[tr])
            desc = f"polynomial regression, degree {degree} ({n_feat} features)"
            predict = lambda a: fitted.predict(a)  # noqa: E731
        elif model == "mlp":
            fitted = fit_mlp(x[tr], y2[tr], hidden=hidden, steps=steps, lr=lr, seed=seed)
            desc = f"MLP {tuple(hidden)} SiLU, {steps} Adam steps"
            predict = fitted
        else:
            raise ValueError(f"model: expected 'poly', 'mlp', a torch callable or a fitted estimator, got {model!r}")
    else:
        fitted = model
        desc = f"given ({type(model).__name__})"
        predict = model.predict if is_linear_estimator(model) else model
    with torch.no_grad():
        def score(idx):
            P = torch.as_tensor(predict(x[idx]))
            P = P.unsqueeze(1) if P.ndim == 1 else P
            return r2_score(y2[idx], P.to(torch.float64))
        fit = {"model": desc, "r2_train": score(tr), "r2_val": score(va) if n_val > 1 else float("nan"),
               "n_train": int(len(tr)), "n_val": n_val}
    r2 = fit["r2_val"] if n_val > 1 else fit["r2_train"]
    fit["rel_error"] = math.sqrt(max(1.0 - r2, 0.0))
    if r2 < POOR_FIT_R2:
        fit["warning"] = (f"the fit explains little of Y (R^2 = {r2:.3f}); the symmetry of the fitted model says "
                          f"little about the data")
    fit["noise_floor"] = min(max(FIT_TOL_FACTOR * fit["rel_error"], 1e-12), 0.5)
    res = discover(fitted, x, candidates, rep_in=rep_in, rep_out=rep_out, dynamics=dynamics, rule=rule,
                   rtol=rtol, min_gap=min_gap, fit_info=fit, **kwargs)
    res.model = fitted
    return res
