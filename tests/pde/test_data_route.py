"""The data route end to end: solutions generated in-house -> jets -> fitted equation -> point symmetries.

Ground truth: KdV's 4-dimensional algebra inside the degree-2 fields, recovered from 2 trajectories of
LieNLSD's setting with the largest principal angle to the exact algebra below 1e-6; with 0.1 % noise on u the
fitted equation keeps its two terms and, because the criterion is evaluated on the fitted surface (the data
jets are projected onto it), the scaling survives: still 4, angle below 5e-3 (LieNLSD: 0.006-0.011 rad).
"""
from __future__ import annotations

import warnings

import torch

from symlie import pde
from symlie.datasets import generate


def _route(noise: float):
    sol = generate("kdv", 2, preset="lienlsd", seed=0)
    u = sol.u
    if noise:
        u = u + noise * float(u.std()) * torch.randn(u.shape, generator=torch.Generator().manual_seed(1), dtype=u.dtype)
    eq = pde.kdv()
    gj = pde.jets_from_grid(u, sol.t, sol.x, eq.jet, method="poly" if noise else "spectral", periodic=True,
                            n_points=6000, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                  # a noisy fit below min_r2 warns; its status is checked
        fit = pde.fit_equation(gj, eq.jet, threshold=0.05)
    feq = fit.to_equation("KdV (fitted)", exact=eq.exact)
    cand = pde.point_symmetry_candidates(feq)
    res = pde.point_symmetries(feq, candidates=cand, samples=gj.Z[:600])
    return fit, res, float(pde.angles_to_exact(res, eq, cand).max())


def test_kdv_symmetries_from_clean_data():
    fit, res, angle = _route(0.0)
    assert fit.equations() == ["u_t = -1.000 u_xxx - 1.000 u u_x"]
    assert res.dim == 4 and angle < 1e-6 and res.gap_ratio > 1e6


def test_kdv_symmetries_from_noisy_data_on_the_fitted_surface():
    fit, res, angle = _route(1e-3)
    assert int(fit.support.sum()) == 2                        # two terms: u_xxx and u u_x (e.g. -0.994, -0.990)
    assert res.dim == 4 and angle < 5e-3


def test_projection_onto_the_surface():
    eq = pde.kdv()
    Z = eq.sample(20, seed=2)
    Zn = Z.clone()
    Zn[:, eq.jet.coordinate("u_t")] += 0.1
    P = eq.project(Zn)
    assert torch.allclose(P, Z) and not torch.equal(Zn, Z)
