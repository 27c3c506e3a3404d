"""Promotion for equation discovery: the affine symmetry criterion S(W) of u_t = Theta W over candidate point
symmetries, the one ADMM on it, and the evolution-form candidate family.

Ground truth: KdV's exact coefficients make S(W) vanish on its four symmetries (singular values at round-off)
and every autonomous equation keeps d/dt, d/dx; lam = 0 is least squares; adjoint identity of the operator.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

import symlie as sl
from symlie import pde
from symlie.datasets import generate
from symlie.derivative import AffineOperator
from symlie.promote import equation_operator, fit_promoted_equation, solve_promote


@pytest.fixture(scope="module")
def kdv():
    eq = pde.kdv()
    sol = generate("kdv", 2, preset="lienlsd", seed=0)
    gj = pde.jets_from_grid(sol.u, sol.t, sol.x, eq.jet, method="spectral", periodic=True, n_points=3000, seed=0)
    return eq, gj


def test_evolution_candidates_count_and_form(kdv):
    eq, _ = kdv
    cand = pde.evolution_candidates(eq.jet)
    assert cand.dim == 3 + 6 + 10                        # tau(t), xi(t, x), phi(t, x, u) of degree <= 2
    x = torch.rand(40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    J = cand.jacobians(x)                                  # (q, N, 3, 3)
    assert float(J[:, :, 0, 1:].abs().max()) == 0.0        # tau = tau(t)
    assert float(J[:, :, 1, 2].abs().max()) == 0.0         # xi = xi(t, x)
    # KdV's four symmetries lie in this family
    full = pde.point_symmetry_candidates(eq)
    E = pde.exact_coefficients(eq, full)                   # (4, 30)
    C = cand.C                                             # (19, 30) selection
    assert float((E - (E @ C.T) @ C).abs().max()) < 1e-12
    lib = sl.CustomLibrary([lambda z: torch.exp(z[:, 0] / 50), lambda z: z[:, 1] * z[:, 2]], names=["e^(t/50)", "x u"])
    assert pde.evolution_candidates(eq.jet, lib).dim == 1 + 1 + 2
    with pytest.raises(sl.SymlieError, match="time"):
        pde.evolution_candidates(eq.jet, time="y")


def test_affine_operator_adjoint_and_offset():
    g = torch.Generator().manual_seed(1)
    T = torch.randn(4, 7, 6, dtype=torch.float64, generator=g)
    B = torch.randn(7, 4, dtype=torch.float64, generator=g)
    act = sl.LibraryAction(sl.PolynomialLibrary(1), 2).restrict(torch.eye(6, dtype=torch.float64)[:4])
    op = AffineOperator(T, B, act, torch.zeros(3, 2, dtype=torch.float64), n_out=2)
    W = np.random.default_rng(0).standard_normal((2, 3))
    Zm = np.random.default_rng(1).standard_normal((7, 4))
    lin = op.apply(W) + B.numpy()
    assert np.allclose(lin[:, 2], T[2].numpy() @ W.reshape(-1))
    assert np.isclose(np.sum(lin * Zm), np.sum(W * op.adjoint(Zm)))
    assert np.allclose(op.gram(), T.reshape(-1, 6).numpy().T @ T.reshape(-1, 6).numpy())
    with pytest.raises(ValueError, match="offset"):
        AffineOperator(T, B[:, :3], act, torch.zeros(3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="action"):
        AffineOperator(T, B, sl.LibraryAction(sl.PolynomialLibrary(1), 2), torch.zeros(3, 2, dtype=torch.float64))


def test_kdv_coefficients_annihilate_its_four_symmetries(kdv):
    eq, gj = kdv
    des = pde.equation_design(gj.Z, eq.jet, val_fraction=0.0)
    cand = pde.evolution_candidates(eq.jet)
    op = equation_operator(cand, eq.jet, "u_t", des.features, des.library, pde.box_points(des, 60))
    W = torch.zeros(des.n_features, dtype=torch.float64)
    names = des.feature_names
    W[names.index("u u_x")], W[names.index("u_xxx")] = -1.0, -1.0
    s = op.singular_values(W.numpy())
    assert float(s[-4:].max()) < 1e-12 * float(s[0])
    assert float(s[-5]) > 1e-3 * float(s[0])          # the fifth is broken (orthonormal candidates)
    W[names.index("u")] = 0.5                              # a growth term breaks the boost and the scaling
    s = op.singular_values(W.numpy())
    assert float(s[-2:].max()) < 1e-12 * float(s[0]) and float(s[-3]) > 1e-4 * float(s[0])


def test_lam_zero_is_least_squares_and_keeps_translations(kdv):
    eq, gj = kdv
    Z = gj.Z[:300]
    fit = fit_promoted_equation(Z, eq.jet, lam=0.0, reweight=0, val_fraction=0.0)
    des = pde.equation_design(Z, eq.jet, val_fraction=0.0)
    ls = torch.linalg.lstsq(des.theta(), des.y()[:, None]).solution[:, 0]
    assert float((fit.coef - ls).abs().max()) < 1e-6
    assert fit.method == "promoted" and fit.symmetry is not None
    assert fit.symmetry.dim == 4                           # least squares on clean data is KdV itself
    assert fit.r2_train > 1 - 1e-9
    assert len(fit.symmetry.singular_values) == pde.evolution_candidates(eq.jet).dim


def test_solver_accepts_the_affine_operator_and_shrinks_the_criterion(kdv):
    eq, gj = kdv
    des = pde.equation_design(gj.Z[:300], eq.jet, val_fraction=0.0)
    op = equation_operator(pde.evolution_candidates(eq.jet), eq.jet, "u_t", des.features, des.library,
                           pde.box_points(des, 60))
    small = solve_promote(des.theta(), des.y(), op, lam=1e-9)
    big = solve_promote(des.theta(), des.y(), op, lam=1e-3)
    assert big.nuclear_norm < small.nuclear_norm
    assert big.data_residual > small.data_residual
    assert big.symmetry.kind == "promoted (affine)"


def test_bad_candidates(kdv):
    eq, gj = kdv
    with pytest.raises(TypeError, match="candidates"):
        fit_promoted_equation(gj.Z[:50], eq.jet, candidates="poly:2")
    full = pde.point_symmetry_candidates(eq).base                  # includes u d/dt: not affine in u_t
    with pytest.raises(sl.SymlieError, match="affine|depend"):
        fit_promoted_equation(gj.Z[:50], eq.jet, candidates=full)
