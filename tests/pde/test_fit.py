"""Equations fitted to data jets (symlie.pde.fit.fit_equation).

Ground truth, exact solutions on grids (jets by symlie.pde.grid.jets_from_grid):
* KdV u_t + u u_x + u_xxx = 0: the two-soliton u = 12 (log F)_xx, F = 1 + e^h1 + e^h2 + A12 e^(h1 + h2),
  h_i = k_i (x - x_i) - k_i^3 t, A12 = ((k1 - k2) / (k1 + k2))^2 (a single soliton also solves u_t = -c u_x, so
  it cannot identify the equation; the collision does);
* nKdV u_t = e^(t/t0) (-u u_x - u_xxx): the same solution at s = t0 (e^(t/t0) - 1);
* heat u_t = nu u_xx: Fourier modes; viscous Burgers u_t = -u u_x + nu u_xx: Cole-Hopf u = -2 nu theta_x / theta
  of a positive heat solution theta.
"""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest
import torch

import symlie as sl
from symlie.pde.fit import FittedEquation, default_features, fit_equation
from symlie.pde.grid import jets_from_grid
from symlie.pde.jets import JetSpace

JET3 = JetSpace(("t", "x"), ("u",), 3)
JET2 = JetSpace(("t", "x"), ("u",), 2)
MODES = ((1, 1.0, 0.3), (2, 0.5, 1.1), (3, 0.25, 2.0))


def _kdv2(t, x, k1=1.2, k2=0.8, x1=-12.0, x2=-2.0):
    """Two-soliton of u_t + u u_x + u_xxx = 0 on the grid (t, x): 12 (log F)_xx as 12 Var(slopes) under the
    softmax weights of the four exponentials of F (overflow-free)."""
    T, X = np.meshgrid(t, x, indexing="ij")
    e1, e2 = k1 * (X - x1) - k1 ** 3 * T, k2 * (X - x2) - k2 ** 3 * T
    E = np.stack([np.zeros_like(e1), e1, e2, e1 + e2 + 2 * math.log((k1 - k2) / (k1 + k2))])
    s = np.array([0.0, k1, k2, k1 + k2])[:, None, None]
    p = np.exp(E - E.max(0))
    p /= p.sum(0)
    return 12 * ((p * s ** 2).sum(0) - (p * s).sum(0) ** 2)


T_KDV = np.arange(121) * 0.1                       # the collision is at t ~ 12
X_KDV = -40 + np.arange(512) * 80 / 512


@pytest.fixture(scope="module")
def kdv_jets():
    return jets_from_grid(_kdv2(T_KDV, X_KDV), T_KDV, X_KDV, JET3, method="spectral", n_points=6000, seed=1)


def _heat(t, x, nu, derivative=False):
    T, X = np.meshgrid(t, x, indexing="ij")
    if derivative:
        return sum(a * k * np.exp(-nu * k * k * T) * np.cos(k * X + ph) for k, a, ph in MODES)
    return sum(a * np.exp(-nu * k * k * T) * np.sin(k * X + ph) for k, a, ph in MODES)


T_H, X_H = np.arange(81) * 0.0125, np.arange(128) * 2 * math.pi / 128


def test_stlsq_recovers_kdv_from_two_soliton_jets(kdv_jets):
    Z0 = kdv_jets.Z.clone()
    f = fit_equation(kdv_jets, JET3)
    assert isinstance(f, FittedEquation) and f.status == "ok" and f.status_reason == ""
    assert f.features == ("u", "u_x", "u_xx", "u_xxx")
    assert f.equations() == ["u_t = -1.000 u_xxx - 1.000 u u_x"]
    kept = dict(zip(np.array(f.feature_names)[f.support.numpy()], f.coef[f.support].tolist()))
    assert set(kept) == {"u u_x", "u_xxx"}
    assert all(abs(c + 1) < 1e-3 for c in kept.values()), kept
    assert f.r2_val > 1 - 1e-8 and f.rel_err_val < 1e-4 and f.n_val == 1200 and f.n_train == 4800
    assert torch.equal(kdv_jets.Z, Z0)                             # the data are not modified
    # degree 3 (84 -> 35 terms): the same sparse model
    f3 = fit_equation(kdv_jets, JET3, degree=3)
    assert f3.equations() == f.equations() and f3.status == "ok"


def test_the_fitted_equation_is_an_equation_with_zero_residual_on_the_data(kdv_jets):
    f = fit_equation(kdv_jets, JET3)
    eq = f.to_equation("KdV from data")
    assert isinstance(eq, sl.pde.Equation) and eq.solve_for == ("u_t",) and eq.name == "KdV from data"
    Z = kdv_jets.Z
    scale = float(Z[:, JET3.coordinate("u_t")].abs().max())
    assert float(eq.residual(Z).abs().max()) < 1e-4 * scale
    assert torch.allclose(eq.rhs(Z), f.predict(Z)) and abs(f.score(kdv_jets) - 1) < 1e-8
    # sampled surface points: the built-in KdV residual vanishes there too, inside the data ranges
    S = eq.sample(50, seed=2)
    assert float(sl.pde.kdv().residual(S).abs().max()) < 1e-3 * float(S[:, 3].abs().max())
    lo, hi = eq.domain["u"]
    assert float(S[:, 2].min()) >= lo and float(S[:, 2].max()) <= hi and "u_t" not in eq.domain
    z = Z[:200].clone().requires_grad_(True)
    grad = torch.autograd.grad(eq.residual(z).sum(), z)[0]
    assert float(grad[:, 1].abs().max()) < 1e-12                  # autonomous in x, differentiable


def test_point_symmetries_of_the_equation_fitted_from_data(kdv_jets):
    """The data route end to end: the 4 KdV symmetries (d/dt, d/dx, Galilean boost, scaling) of the fitted
    equation, at principal angles ~1e-6 from the exact algebra (the fitted coefficients are exact to ~1e-6)."""
    eq = fit_equation(kdv_jets, JET3).to_equation()
    cand = sl.pde.point_symmetry_candidates(eq)
    res = sl.pde.point_symmetries(eq, candidates=cand)
    assert res.dim == 4
    assert float(sl.pde.angles_to_exact(res, sl.pde.kdv(), cand).max()) < 1e-4


def test_stlsq_recovers_heat_and_burgers():
    nu = 0.5
    g = jets_from_grid(_heat(T_H, X_H, nu), T_H, X_H, JET2, method="spectral", n_points=3000)
    f = fit_equation(g, JET2)
    assert f.equations() == ["u_t = 0.500 u_xx"]
    assert abs(float(f.coef[f.support][0]) - nu) < 1e-8 * nu
    nub = 0.1
    theta, theta_x = 2.0 + _heat(T_H, X_H, nub), _heat(T_H, X_H, nub, derivative=True)
    gb = jets_from_grid(-2 * nub * theta_x / theta, T_H, X_H, JET2, method="spectral", n_points=3000)
    fb = fit_equation(gb, JET2)
    assert fb.equations() == ["u_t = 0.100 u_xx - 1.000 u u_x"]
    c = dict(zip(fb.feature_names, fb.coef.tolist()))
    assert abs(c["u_xx"] - nub) < 1e-6 and abs(c["u u_x"] + 1) < 1e-6


def test_nkdv_with_a_custom_time_dependent_library():
    t0 = 50.0
    t = np.arange(121) * 0.1
    s = t0 * (np.exp(t / t0) - 1)                                  # KdV time of the nKdV solution
    u = np.stack([_kdv2(np.array([si]), X_KDV)[0] for si in s])
    g = jets_from_grid(u, t, X_KDV, JET3, method="spectral", n_points=5000)
    lib = sl.CustomLibrary([lambda X: torch.exp(X[:, 0] / t0) * X[:, 1] * X[:, 2],
                            lambda X: torch.exp(X[:, 0] / t0) * X[:, 3],
                            lambda X: X[:, 1] * X[:, 2], lambda X: X[:, 3]],
                           names=["e^(t/50) u u_x", "e^(t/50) u_xxx", "u u_x", "u_xxx"])
    f = fit_equation(g, JET3, library=lib, features=("t", "u", "u_x", "u_xxx"))
    assert lib.n_features_in is None                               # the given library is not fitted in place
    assert f.equations() == ["u_t = -1.000 e^(t/50) u u_x - 1.000 e^(t/50) u_xxx"]
    assert torch.allclose(f.coef, torch.tensor([-1.0, -1.0, 0, 0], dtype=torch.float64), atol=1e-3)
    assert float(f.to_equation().residual(g.Z).abs().max()) < 1e-3


def test_noise_degrades_gracefully():
    """Small noise with smoothed (local polynomial) jets: the right terms within 10%; large noise on raw
    spectral jets: a lower R^2 and a poor-fit status with a warning, no exception."""
    u = _kdv2(T_KDV, X_KDV)
    noise = np.random.default_rng(0).standard_normal(u.shape) * u.std()
    g = jets_from_grid(u + 3e-4 * noise, T_KDV, X_KDV, JET3, method="poly", periodic=True, poly_degree=6,
                       window=(3, 6), n_points=5000)
    f = fit_equation(g, JET3, threshold=0.1)
    c = dict(zip(f.feature_names, f.coef.tolist()))
    assert f.status == "ok" and set(np.array(f.feature_names)[f.support.numpy()]) == {"u u_x", "u_xxx"}
    assert abs(c["u u_x"] + 1) < 0.1 and abs(c["u_xxx"] + 1) < 0.1
    r2 = []
    for level in (1e-4, 1e-2):
        gn = jets_from_grid(u + level * noise, T_KDV, X_KDV, JET3, method="spectral", n_points=5000)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fn = fit_equation(gn, JET3, threshold=0.05, min_r2=0.95)
        r2.append(fn.r2_val)
    assert r2[0] > r2[1]
    assert fn.status == "poor-fit" and "below min_r2=0.95" in fn.status_reason
    assert any(issubclass(w.category, sl.SymlieWarning) for w in caught)


def test_mlp_fits_heat_and_is_seeded():
    g = jets_from_grid(_heat(T_H, X_H, 0.5), T_H, X_H, JET2, method="spectral", n_points=800)
    f = fit_equation(g, JET2, method="mlp", hidden=(16, 16), epochs=150, lr=1e-2)
    assert f.status == "ok" and f.r2_val > 0.99 and f.coef is None
    assert f.equations() == ["u_t = MLP(u, u_x, u_xx)"]
    short = [fit_equation(g, JET2, method="mlp", hidden=(8,), epochs=5, seed=4, min_r2=-math.inf) for _ in range(2)]
    assert torch.equal(short[0].predict(g.Z), short[1].predict(g.Z))
    eq = f.to_equation()
    scale = float(g.column("u_t").abs().max())
    assert float(eq.residual(g.Z).abs().max()) < 0.2 * scale
    z = g.Z[:5].clone().requires_grad_(True)                        # differentiable, for prolongation
    assert torch.isfinite(torch.autograd.grad(eq.residual(z).sum(), z)[0]).all()


def test_default_features_and_underdetermined_designs(kdv_jets):
    assert default_features(JET3, "u_t") == ("u", "u_x", "u_xx", "u_xxx")
    assert default_features(JET3, "u_tt") == ("u", "u_t", "u_x", "u_tx", "u_xx", "u_txx", "u_xxx")
    lib = sl.CustomLibrary([lambda X: X[:, 0], lambda X: 2 * X[:, 0]], names=["u_x", "2 u_x"])
    with pytest.warns(sl.UnderdeterminedWarning, match="rank 1"):
        f = fit_equation(kdv_jets, JET3, library=lib, features=("u_x",))
    assert f.status == "underdetermined"


def test_bad_input_is_refused_with_clear_messages(kdv_jets):
    Z = kdv_jets.Z[:100]
    with pytest.raises(sl.SymlieError, match="target: 'u_y' is not a coordinate.*available: t, x, u"):
        fit_equation(Z, JET3, target="u_y")
    with pytest.raises(ValueError, match="target: 't' is an independent variable"):
        fit_equation(Z, JET3, target="t")
    with pytest.raises(sl.DataError, match="Z: got 0 jet points"):
        fit_equation(Z[:0], JET3)
    bad = Z.clone()
    bad[3, 4] = math.nan
    bad[7, 2] = math.inf
    with pytest.raises(sl.DataError, match="Z: contains 2 NaN or Inf values \\(in 2 of 100 rows\\)"):
        fit_equation(bad, JET3)
    with pytest.raises(sl.DataError, match="Z: expected 8 jet coordinates"):
        fit_equation(Z, JET2)
    with pytest.raises(ValueError, match="Z, jet: the jets were computed on"):
        fit_equation(kdv_jets, JET2)
    with pytest.raises(sl.SymlieError, match="features: 'v' is not a coordinate"):
        fit_equation(Z, JET3, features=("u", "v"))
    with pytest.raises(ValueError, match="features: the target 'u_t' cannot also be a feature"):
        fit_equation(Z, JET3, features=("u", "u_t"))
    with pytest.raises(ValueError, match="method: expected one of"):
        fit_equation(Z, JET3, method="lasso")
    with pytest.raises(ValueError, match="threshold: expected a finite number >= 0"):
        fit_equation(Z, JET3, threshold=-1.0)
    with pytest.raises(ValueError, match="val_fraction: expected a finite number >= 0 and < 1"):
        fit_equation(Z, JET3, val_fraction=1.0)
    with pytest.raises(TypeError, match="library: expected a symlie Library"):
        fit_equation(Z, JET3, library="poly")
    with pytest.raises(sl.DataError, match="leave 1 for training"):
        fit_equation(Z[:2], JET3)
    f = fit_equation(Z, JET3, val_fraction=0.0)
    assert f.n_val == 0 and math.isnan(f.r2_val) and f.n_train == 100
    assert copy.deepcopy(f).equations() == f.equations()
