"""Equation discovery with point symmetries enforced (pde.fit_symmetric_equation).

Ground truth: with KdV's four point symmetries imposed, the degree-2 jet library allows exactly the one-
parameter family u_t = -u u_x + b u_xxx (the Galilean boost fixes the u u_x coefficient, the scaling kills
every term of the wrong weight), so 5 clean data rows give KdV exactly, where sparse regression without the
symmetries cannot even choose the terms; the rows are an identity, so the constraints hold at fresh points.
"""
from __future__ import annotations

import pytest
import torch

import symlie as sl
from symlie import pde
from symlie.datasets import generate


@pytest.fixture(scope="module")
def kdv_jets():
    eq = pde.kdv()
    sol = generate("kdv", 2, preset="lienlsd", seed=0)
    gj = pde.jets_from_grid(sol.u, sol.t, sol.x, eq.jet, method="spectral", periodic=True, n_points=4000, seed=0)
    cand = pde.point_symmetry_candidates(eq)
    return eq, gj, cand, cand.base.restrict(pde.exact_coefficients(eq, cand))


def test_kdv_from_five_rows_with_its_symmetries(kdv_jets):
    eq, gj, cand, gens = kdv_jets
    fit = pde.fit_symmetric_equation(gj.Z[:5], eq.jet, gens, val_fraction=0.0)
    assert fit.options["n_free"] == 1
    assert fit.equations() == ["u_t = -1.000 u_xxx - 1.000 u u_x"]
    names = fit.feature_names
    assert abs(float(fit.coef[names.index("u_xxx")]) + 1) < 1e-6
    assert float(fit.coef[names.index("u u_x")]) == pytest.approx(-1.0, abs=1e-10)
    # the fitted equation really has the four symmetries
    res = pde.point_symmetries(fit.to_equation("enforced KdV"), candidates=cand, samples=gj.Z[:400])
    assert res.dim == 4


def test_constraints_hold_for_the_true_equation_at_fresh_points(kdv_jets):
    eq, gj, cand, gens = kdv_jets
    feats = pde.default_features(eq.jet, "u_t")
    lib = sl.PolynomialLibrary(2).fit(torch.zeros(1, len(feats), dtype=torch.float64))
    names = lib.feature_names(list(feats))
    W = torch.zeros(len(names), dtype=torch.float64)
    W[names.index("u u_x")], W[names.index("u_xxx")] = -1.0, -1.0
    P = eq.sample(50, seed=7)
    C, d = pde.symmetry_constraints(gens, eq.jet, "u_t", feats, lib, P)
    assert float((C @ W - d).norm()) < 1e-10 * float(d.norm())
    W[names.index("u u_x")] = -2.0                         # u_t = -2 u u_x - u_xxx: the boost t d/dx + d/du fails
    assert float((C @ W - d).norm()) > 1e-2 * float(d.norm())


def test_generators_that_cannot_be_enforced_linearly_are_refused(kdv_jets):
    eq, gj, cand, _ = kdv_jets
    lib = cand.base
    c = torch.zeros(1, lib.dim, dtype=torch.float64)
    c[0, 0 * lib.n_features + lib.feature_names().index("u")] = 1.0      # u d/dt: tau depends on u
    with pytest.raises(sl.SymlieError, match="not affine|depend"):
        pde.fit_symmetric_equation(gj.Z[:50], eq.jet, lib.restrict(c))


def test_inconsistent_symmetries_are_infeasible(kdv_jets):
    """The boost t d/dx + d/du needs dF/du = -u_x (a u u_x term); the scaling u d/du needs F linear in the jets:
    no F in the library has both."""
    eq, gj, cand, _ = kdv_jets
    boost = pde.exact_coefficients(eq, cand, labels=["t d/dx + d/du"])
    heat = pde.heat()
    scale_u = pde.exact_coefficients(heat, pde.point_symmetry_candidates(heat), labels=["u d/du"])
    gens = cand.base.restrict(torch.cat([boost, scale_u]))
    with pytest.raises(sl.InfeasibleError, match="no equation"):
        pde.fit_symmetric_equation(gj.Z[:50], eq.jet, gens)
    assert pde.fit_symmetric_equation(gj.Z[:50], eq.jet, cand.base.restrict(boost)).options["n_free"] > 1
