"""Tests of symlie.regression (SymmetricRegressor) and symlie.sindy (SymmetricSINDy).

Ground truth, computed independently of the constraint assembly where feasible:
  * dimensions of equivariant polynomial spaces from weight counting (SO(2), SO(3): characters of the torus
    on monomials), orbit counting (S(3)), and the fixed space of a few generic group elements acting on
    coefficients (O(2), T(2), translations along one axis), the latter by refitting polynomials with numpy;
  * recovery of known equivariant targets (coefficient error < 1e-8) from fewer samples than features;
  * every returned basis vector checked with sl.lie_derivative / sl.transform at fresh random points;
  * the Hopf normal form x' = (mu - |x|^2) x + J x for SymmetricSINDy.
"""
from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
import torch

import symlie as sl
import symlie.library.features
import symlie.models.regression
import symlie.models.sindy
from _helpers import DT, J2, rand


# ----------------------------------------------------------------------------- independent dimension counts
def weight_count_so2(degree, out_weights):
    """dim of SO(2)-equivariant polynomial maps of degree <= d into a rep with the given weights.

    Monomials z^a zbar^(k-a) have weight 2a - k; equivariant maps into a rep with weights w are invariants of
    Poly (x) rep*, i.e. pairs with (2a - k) - w = 0.
    """
    return sum(1 for k in range(degree + 1) for a in range(k + 1) for w in out_weights if 2 * a - k - w == 0)


def weight_count_so3_invariants(degree):
    """dim of SO(3)-invariant polynomials of degree <= d on R^3: sum_k m_k(0) - m_k(1), m_k = weight
    multiplicities of Sym^k(C^3) with weights {-1, 0, 1}."""
    total = 0
    for k in range(degree + 1):
        ws = [sum(c) for c in itertools.combinations_with_replacement((-1, 0, 1), k)]
        total += ws.count(0) - ws.count(1)
    return total


def fixed_space_dim(lib, n, n_out, maps, rho_out_inv):
    """Dimension of the common fixed space of W -> rho_out(g)^{-1} W T_g^T over the given elements, where
    Phi(g.x) = T_g^T Phi(x) comes from a least-squares refit (exact for polynomial libraries closed under the
    action)."""
    x = np.random.default_rng(0).uniform(-1, 1, size=(200, n))
    Phi = lib(torch.from_numpy(x)).numpy()
    D = Phi.shape[1]
    rows = []
    for act, Rinv in zip(maps, rho_out_inv):
        Phi_g = lib(torch.from_numpy(act(x))).numpy()
        T, *_ = np.linalg.lstsq(Phi, Phi_g, rcond=None)           # Phi_g = Phi T  -> Phi(gx) = T^T Phi(x)
        assert np.abs(Phi @ T - Phi_g).max() < 1e-10
        K = np.kron(Rinv, T)                                      # row-major vec(Rinv W T^T)
        rows.append(K - np.eye(n_out * D))
    s = np.linalg.svd(np.vstack(rows), compute_uv=False)
    return int((s <= 1e-9 * s[0]).sum()) + max(0, n_out * D - len(s))


def rot2(theta):
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s], [s, c]])


def test_independent_counts_agree_with_known_values():
    """The test's own counting methods reproduce the textbook numbers (so they can serve as ground truth)."""
    assert weight_count_so2(3, (1, -1)) == 4          # x, Jx, |x|^2 x, |x|^2 Jx
    assert weight_count_so2(4, (0,)) == 3             # 1, r^2, r^4
    assert weight_count_so3_invariants(4) == 3        # 1, r^2, r^4
    lib = sl.PolynomialLibrary(3, n_features=2)
    R = rot2(1.0)  # rotation by 1 rad generates a dense subgroup of SO(2)
    assert fixed_space_dim(lib, 2, 2, [lambda x: x @ R.T], [R.T]) == 4


EQUIVARIANT_CASES = {
    # name: (group, rep_out or None, degree, n, expected dimension computed independently)
    "SO(2) vector fields deg<=3": (lambda: sl.SO(2), "V", 3, 2, lambda: weight_count_so2(3, (1, -1))),
    "SO(2) invariants deg<=4": (lambda: sl.SO(2), None, 4, 2, lambda: weight_count_so2(4, (0,))),
    "SO(3) invariants deg<=4": (lambda: sl.SO(3), None, 4, 3, lambda: weight_count_so3_invariants(4)),
    "O(2) vector fields deg<=3": (
        lambda: sl.O(2), "V", 3, 2,
        lambda: fixed_space_dim(sl.PolynomialLibrary(3, n_features=2), 2, 2,
                                [lambda x: x @ rot2(1.0).T, lambda x: x * np.array([-1.0, 1.0])],
                                [rot2(1.0).T, np.diag([-1.0, 1.0])])),
    "T(2) invariants deg<=3": (
        lambda: sl.T(2), None, 3, 2,
        lambda: fixed_space_dim(sl.PolynomialLibrary(3, n_features=2), 2, 1,
                                [lambda x: x + np.array([0.7, 0.0]), lambda x: x + np.array([0.0, 0.3])],
                                [np.eye(1), np.eye(1)])),
    "x-translations invariants deg<=3": (
        lambda: sl.Group(sl.t(2).subalgebra([[1.0, 0.0]], name="t_x")), None, 3, 2,
        lambda: fixed_space_dim(sl.PolynomialLibrary(3, n_features=2), 2, 1,
                                [lambda x: x + np.array([0.7, 0.0])], [np.eye(1)])),
    "S(3) invariants deg<=2": (
        lambda: sl.S(3), None, 2, 3,
        lambda: len({tuple(sorted(p)) for p in itertools.product(range(3), repeat=3) if sum(p) <= 2})),
}


@pytest.mark.parametrize("case", list(EQUIVARIANT_CASES))
def test_n_free_equals_dimension_of_equivariant_space(case):
    make_group, out, degree, n, expected = EQUIVARIANT_CASES[case]
    G = make_group()
    rep_out = sl.V(G) if out == "V" else None
    n_out = n if out == "V" else 1
    known = {"SO(2) vector fields deg<=3": 4, "SO(2) invariants deg<=4": 3, "SO(3) invariants deg<=4": 3,
             "O(2) vector fields deg<=3": 2, "T(2) invariants deg<=3": 1, "x-translations invariants deg<=3": 4,
             "S(3) invariants deg<=2": 4}[case]
    assert expected() == known
    X, Y = rand(30, n, seed=1), rand(30, n_out, seed=2)
    reg = sl.SymmetricRegressor(sl.PolynomialLibrary(degree), G, rep_out=rep_out).fit(X, Y)
    assert reg.n_free_ == known
    assert reg.basis_.shape == (n_out * math.comb(n + degree, degree), known)
    assert reg.nullspace_.dim == known and reg.nullspace_.gap_ratio > 1e8  # clear-cut rank decision
    # oversampling and another seed do not change the answer (the default count is already exact)
    reg2 = sl.SymmetricRegressor(sl.PolynomialLibrary(degree), G, rep_out=rep_out, oversample=3, seed=5).fit(X, Y)
    assert reg2.n_free_ == known
    ang = sl.principal_angles(reg.basis_, reg2.basis_)
    assert float(ang.max()) < 1e-9


def test_default_constraint_point_counts():
    """C(n + deg_L, deg_L) + 1 with deg_L = d for linear / affine actions and d - 1 for pure translations."""
    X, Y = rand(10, 2, seed=3), rand(10, 1, seed=4)
    for G, expect in [(sl.SO(2), math.comb(2 + 3, 3) + 1), (sl.SE(2), math.comb(2 + 3, 3) + 1),
                      (sl.T(2), math.comb(2 + 2, 2) + 1)]:
        reg = sl.SymmetricRegressor(sl.PolynomialLibrary(3), G).fit(X, Y)
        assert reg.constraint_points_.shape == (expect, 2)
        assert float(reg.constraint_points_.abs().max()) <= 1.0
    reg = sl.SymmetricRegressor(sl.PolynomialLibrary(3), sl.T(2), oversample=2, box=3.0).fit(X, Y)
    assert reg.constraint_points_.shape == (2 * 7, 2) and float(reg.constraint_points_.abs().max()) > 1.0
    reg = sl.SymmetricRegressor(sl.FourierLibrary(2), sl.SO(2)).fit(X, Y)   # generic rule n_out * D + 1
    assert reg.constraint_points_.shape == (9 + 1, 2)
    reg = sl.SymmetricRegressor(sl.PolynomialLibrary(3), sl.SO(2), n_constraint_points=40).fit(X, Y)
    assert reg.constraint_points_.shape == (40, 2)


def test_non_polynomial_libraries():
    """Fourier features: only the constant is rotation invariant; a custom r^2 feature is picked up."""
    X, Y = rand(20, 2, seed=5), rand(20, 1, seed=6)
    reg = sl.SymmetricRegressor(sl.FourierLibrary(2), sl.SO(2)).fit(X, Y)
    assert reg.n_free_ == 1
    lib = sl.CustomLibrary([lambda x: (x ** 2).sum(1), lambda x: x[:, 0], lambda x: x[:, 0] * x[:, 1]])
    reg = sl.SymmetricRegressor(lib, sl.SO(2)).fit(X, 3 * (X ** 2).sum(1))
    assert reg.n_free_ == 1
    torch.testing.assert_close(reg.coef_, torch.tensor([[3.0, 0.0, 0.0]], dtype=DT), rtol=0, atol=1e-10)


# ----------------------------------------------------------------------------- every basis vector is symmetric
BASIS_CASES = {
    "SO(2) V->V deg3": (lambda: sl.SO(2), lambda G: sl.V(G), lambda G: sl.V(G), 3),
    "O(2) V->V deg3": (lambda: sl.O(2), lambda G: sl.V(G), lambda G: sl.V(G), 3),
    "SO(3) V->scalar deg4": (lambda: sl.SO(3), lambda G: sl.V(G), lambda G: None, 4),
    "SO(3) V->V deg3": (lambda: sl.SO(3), lambda G: sl.V(G), lambda G: sl.V(G), 3),
    "O(1,3) V->scalar deg4": (lambda: sl.Lorentz(), lambda G: sl.V(G), lambda G: None, 4),
    "SL(2) V->V deg3": (lambda: sl.SL(2), lambda G: sl.V(G), lambda G: sl.V(G), 3),
    "SE(2) P->scalar deg4": (lambda: sl.SE(2), lambda G: sl.Point(G), lambda G: None, 4),
    "E(2) 2P->scalar deg2": (lambda: sl.E(2), lambda G: 2 * sl.Point(G), lambda G: None, 2),
    "SO(2) V->V*V deg2": (lambda: sl.SO(2), lambda G: sl.V(G), lambda G: sl.V(G) ** 2, 2),
    "S(3) V->V deg2": (lambda: sl.S(3), lambda G: sl.V(G), lambda G: sl.V(G), 2),
}


@pytest.mark.parametrize("case", list(BASIS_CASES))
def test_every_basis_vector_satisfies_the_constraints(case):
    make_group, make_in, make_out, degree = BASIS_CASES[case]
    G = make_group()
    rep_in, rep_out = make_in(G), make_out(G)
    n = rep_in.size
    n_out = 1 if rep_out is None else rep_out.size
    lib = sl.PolynomialLibrary(degree)
    reg = sl.SymmetricRegressor(lib, G, rep_in=rep_in, rep_out=rep_out).fit(rand(5, n, seed=7),
                                                                          rand(5, n_out, seed=8))
    D = lib.n_output_features(n)
    assert reg.n_free_ >= 1
    x = rand(25, n, seed=99)  # fresh points, not the constraint points
    for j in range(reg.n_free_):
        W = reg.basis_[:, j].reshape(n_out, D)

        def F(z, W=W):
            return lib(z) @ W.T

        if G.dim:
            L = sl.lie_derivative(F, G, x, rep_in, rep_out)
            assert float(L.abs().max()) < 1e-10, (case, j)
        for h in G.discrete:
            diff = sl.transform(F, h, rep_in, rep_out)(x) - F(x)
            assert float(diff.abs().max()) < 1e-10, (case, j)


# ----------------------------------------------------------------------------- recovery from few samples
def so2_target(x):
    """f(x) = (1 - |x|^2) x + J x: SO(2)-equivariant, degree 3."""
    return (1 - (x ** 2).sum(1, keepdim=True)) * x + x @ J2.T


def so2_target_coef():
    lib = sl.PolynomialLibrary(3, n_features=2)
    names = lib.feature_names(["x", "y"])
    W = torch.zeros(2, 10, dtype=DT)
    for a, terms in enumerate([{"x": 1, "y": -1, "x^3": -1, "x y^2": -1}, {"x": 1, "y": 1, "x^2 y": -1, "y^3": -1}]):
        for nm, v in terms.items():
            W[a, names.index(nm)] = v
    return W


def test_enforced_regression_recovers_so2_vector_field_from_few_samples():
    X = rand(3, 2, seed=11, scale=1.5)          # 3 samples < D = 10 features (6 equations, 20 unknowns)
    Y = so2_target(X)
    W = so2_target_coef()
    G = sl.SO(2)
    reg = sl.SymmetricRegressor(sl.PolynomialLibrary(3), G, rep_out=sl.V(G)).fit(X, Y)
    assert reg.n_free_ == 4 and reg.design_rank_ == 4
    assert float((reg.coef_ - W).abs().max()) < 1e-8
    Xf = rand(50, 2, seed=12, scale=2.0)
    assert float((reg.predict(Xf) - so2_target(Xf)).abs().max()) < 1e-8
    # the unconstrained fit is underdetermined here and misses the model
    with pytest.warns(sl.UnderdeterminedWarning, match="rank 6 < 20 free coefficients"):
        free = sl.SymmetricRegressor(sl.PolynomialLibrary(3), mode="none").fit(X, Y)
    assert free.n_free_ == 20 and free.design_rank_ == 6 and free.status_ == "underdetermined"
    assert reg.status_ == "ok"
    assert float((free.coef_ - W).abs().max()) > 0.1
    assert free.score(Xf, so2_target(Xf)) < reg.score(Xf, so2_target(Xf)) == pytest.approx(1.0, abs=1e-12)
    # ... and finds it with enough data
    Xm = rand(40, 2, seed=13, scale=1.5)
    free.fit(Xm, so2_target(Xm))
    assert float((free.coef_ - W).abs().max()) < 1e-8


def test_enforced_regression_recovers_so3_invariant_from_few_samples():
    X = rand(5, 3, seed=14, scale=1.5)          # 5 samples < D = 35
    r2 = (X ** 2).sum(1)
    y = 2 - r2 + 0.5 * r2 ** 2
    reg = sl.SymmetricRegressor(sl.PolynomialLibrary(4), sl.SO(3)).fit(X, y)
    lib = sl.PolynomialLibrary(4, n_features=3)
    names = lib.feature_names(["x", "y", "z"])
    W = torch.zeros(1, 35, dtype=DT)
    W[0, names.index("1")] = 2
    for v in "xyz":
        W[0, names.index(f"{v}^2")] = -1
        W[0, names.index(f"{v}^4")] = 0.5
    for u, v in itertools.combinations("xyz", 2):
        W[0, names.index(f"{u}^2 {v}^2")] = 1.0
    assert reg.n_free_ == 3
    assert float((reg.coef_ - W).abs().max()) < 1e-8
    pred = reg.predict(X)
    assert pred.shape == (5,)                   # 1-D targets give 1-D predictions
    with pytest.warns(sl.UnderdeterminedWarning):
        free = sl.SymmetricRegressor(sl.PolynomialLibrary(4), mode="none").fit(X, y)
    assert free.status_ == "underdetermined" and "data do not determine" in free.status_reason_
    assert float((free.coef_ - W).abs().max()) > 0.1


def test_ridge_and_input_kinds():
    X, G = rand(30, 2, seed=15), sl.SO(2)
    Y = so2_target(X)
    base = sl.SymmetricRegressor(sl.PolynomialLibrary(3), G, rep_out=sl.V(G)).fit(X, Y)
    ridge = sl.SymmetricRegressor(sl.PolynomialLibrary(3), G, rep_out=sl.V(G), alpha=1.0).fit(X, Y)
    assert float(ridge.coef_.norm()) < float(base.coef_.norm())
    # ridge in c is ridge on W: compare with the closed form on the reduced design
    B = base.basis_
    M = torch.einsum("if,afk->iak", base.library(X), B.reshape(2, 10, -1)).reshape(60, -1)
    c = torch.linalg.solve(M.T @ M + torch.eye(4, dtype=DT), M.T @ Y.reshape(-1))
    torch.testing.assert_close(ridge.coef_, (B @ c).reshape(2, 10), rtol=1e-10, atol=1e-12)
    # numpy in -> numpy out; torch in -> torch out (input dtype kept)
    reg = sl.SymmetricRegressor(sl.PolynomialLibrary(3), G, rep_out=sl.V(G)).fit(X.numpy(), Y.numpy())
    out_np = reg.predict(X.numpy())
    assert isinstance(out_np, np.ndarray) and out_np.dtype == np.float64
    out_32 = reg.predict(X.float())
    assert isinstance(out_32, torch.Tensor) and out_32.dtype == torch.float32
    np.testing.assert_allclose(out_np, Y.numpy(), atol=1e-10)
    assert reg.equations(["x", "y"])[0] == "y0 = 1.000 x - 1.000 y - 1.000 x^3 - 1.000 x y^2"


def test_params_interface():
    reg = sl.SymmetricRegressor(sl.PolynomialLibrary(2), sl.SO(2), alpha=0.5)
    p = reg.get_params()
    assert p["alpha"] == 0.5 and p["mode"] == "enforce" and p["rtol"] == 1e-10 and set(p) == {
        "library", "group", "mode", "rep_in", "rep_out", "n_constraint_points", "oversample", "box", "rtol",
        "seed", "alpha", "lam", "mu", "solver_options", "refit", "reweight"}
    assert reg.set_params(alpha=0.0, mode="none") is reg and reg.mode == "none"
    clone = type(reg)(**reg.get_params())
    assert clone.get_params() == reg.get_params()
    with pytest.raises(ValueError, match="set_params: invalid parameter 'beta'"):
        reg.set_params(beta=1)
    assert "alpha" not in repr(reg) and "mode='none'" in repr(reg)
    sp = sl.SymmetricSINDy(sl.PolynomialLibrary(3), sl.SO(2)).get_params()
    assert sp["threshold"] == 0.1 and sp["max_iter"] == 20 and "rep" in sp


# ----------------------------------------------------------------------------- errors
def test_regressor_errors():
    G = sl.SO(2)
    lib = sl.PolynomialLibrary(3)
    X, Y = rand(10, 2, seed=16), rand(10, 2, seed=17)
    bad = X.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="X: contains 1 NaN"):
        sl.SymmetricRegressor(lib, G, rep_out=sl.V(G)).fit(bad, Y)
    with pytest.raises(ValueError, match="Y: contains 1 NaN"):
        sl.SymmetricRegressor(lib, G, rep_out=sl.V(G)).fit(X, bad)
    with pytest.raises(ValueError, match=r"X, Y: different numbers of rows \(samples\): 10 and 9"):
        sl.SymmetricRegressor(lib, G, rep_out=sl.V(G)).fit(X, Y[:9])
    with pytest.raises(ValueError, match=r"rep_in: .* acts on R\^3 but X has 2 columns"):
        sl.SymmetricRegressor(lib, sl.SO(3), rep_in=sl.V(sl.SO(3))).fit(X, Y[:, 0])
    with pytest.raises(ValueError, match=r"rep_out: representation V has size 2 but the targets have 1 column"):
        sl.SymmetricRegressor(lib, G, rep_out=sl.V(G)).fit(X, Y[:, 0])
    with pytest.raises(sl.SymlieError, match="no non-zero equivariant model exists in this library"):
        sl.SymmetricRegressor(sl.PolynomialLibrary(3), sl.SE(2), rep_out=sl.V(sl.SE(2))).fit(X, Y)
    with pytest.raises(sl.SymlieError, match="no non-zero equivariant model exists in this library"):
        sl.SymmetricRegressor(sl.PolynomialLibrary(0), G, rep_out=sl.V(G)).fit(X, Y)  # constant fields
    with pytest.raises(sl.NotFittedError, match="not fitted yet"):
        sl.SymmetricRegressor(lib, G).predict(X)
    with pytest.raises(ValueError, match=r"group: mode='promote' needs the candidate group"):
        sl.SymmetricRegressor(lib, None, mode="promote").fit(X, Y)
    with pytest.raises(ValueError, match=r"lam: expected a finite number >= 0 or None"):
        sl.SymmetricRegressor(lib, G, mode="promote", lam=-1.0).fit(X, Y)
    with pytest.raises(ValueError, match=r"mode: expected one of 'none', 'enforce', 'promote', got 'both'"):
        sl.SymmetricRegressor(lib, G, mode="both").fit(X, Y)
    with pytest.raises(ValueError, match="group: required for mode='enforce'"):
        sl.SymmetricRegressor(lib).fit(X, Y)
    with pytest.raises(TypeError, match="library: expected a symlie Library"):
        sl.SymmetricRegressor(lambda x: x, G).fit(X, Y)
    with pytest.raises(ValueError, match="oversample: expected an int >= 1"):
        sl.SymmetricRegressor(lib, G, oversample=0).fit(X, Y)
    with pytest.raises(sl.SymlieError, match="rep_out: .* affine action"):
        sl.SymmetricRegressor(lib, sl.SE(2), rep_out=sl.Point(sl.SE(2))).fit(X, Y)
    reg = sl.SymmetricRegressor(lib, G, rep_out=sl.V(G)).fit(X, Y)
    with pytest.raises(ValueError, match=r"X: expected shape \(N, 2\)"):
        reg.predict(torch.ones(4, 3))
    with pytest.raises(ValueError, match="X: contains"):
        reg.predict(bad)


# ----------------------------------------------------------------------------- SINDy: Hopf normal form
MU = 0.5


def hopf(x):
    r2 = (x ** 2).sum(1, keepdim=True)
    return (MU - r2) * x + x @ J2.T


def hopf_coef():
    W = so2_target_coef()
    W[0, 1] = W[1, 2] = MU  # mu x, mu y
    return W


def test_sindy_recovers_hopf_exactly_from_noise_free_data():
    X = rand(200, 2, seed=20, scale=1.5)
    model = sl.SymmetricSINDy(sl.PolynomialLibrary(3), sl.SO(2), threshold=0.1).fit(X, hopf(X))
    W = hopf_coef()
    assert model.n_free_ == 4 and model.derivative_method_ == "given"
    assert float((model.coef_ - W).abs().max()) < 1e-10
    assert torch.equal(model.coef_ != 0, W != 0)              # exact support in the raw coefficients
    assert model.equations(["x", "y"]) == ["x' = 0.500 x - 1.000 y - 1.000 x^3 - 1.000 x y^2",
                                           "y' = 1.000 x + 0.500 y - 1.000 x^2 y - 1.000 y^3"]
    # the echelon basis is the sparse symmetric patterns x, -Jx, |x|^2 x, -|x|^2 Jx (pivots: first component)
    lib = sl.PolynomialLibrary(3, n_features=2)
    nm = lib.feature_names(["x", "y"])
    idx = {f"{a}:{f}": a_i * 10 + nm.index(f) for a_i, a in enumerate("xy") for f in nm}
    expect = torch.zeros(20, 4, dtype=DT)
    for j, terms in enumerate([{"x:x": 1, "y:y": 1}, {"x:y": 1, "y:x": -1},
                               {"x:x^3": 1, "x:x y^2": 1, "y:x^2 y": 1, "y:y^3": 1},
                               {"x:x^2 y": 1, "x:y^3": 1, "y:x^3": -1, "y:x y^2": -1}]):
        for k, v in terms.items():
            expect[idx[k], j] = v
    torch.testing.assert_close(model.basis_, expect, rtol=0, atol=1e-14)
    assert torch.equal(model.basis_ == 0, expect == 0)        # round-off entries are exact zeros
    # reduced coordinates are raw coefficients at the pivots: (mu, -1, -1, 0)
    torch.testing.assert_close(model.coefficients_reduced_, torch.tensor([MU, -1.0, -1.0, 0.0], dtype=DT),
                               rtol=0, atol=1e-10)
    assert model.support_.tolist() == [True, True, True, False]
    # plain SINDy (mode="none") also gets it from this much clean data, in 20 free coefficients
    plain = sl.SymmetricSINDy(sl.PolynomialLibrary(3), mode="none").fit(X, hopf(X))
    assert plain.n_free_ == 20 and float((plain.coef_ - W).abs().max()) < 1e-10


def test_sindy_with_small_noise():
    """Derivative noise of standard deviation 1e-3: coefficients within 5e-3, support exact."""
    X = rand(200, 2, seed=21, scale=1.5)
    gen = torch.Generator().manual_seed(22)
    Xdot = hopf(X) + 1e-3 * torch.randn(200, 2, generator=gen, dtype=DT)
    model = sl.SymmetricSINDy(sl.PolynomialLibrary(3), sl.SO(2)).fit(X, Xdot)
    W = hopf_coef()
    assert float((model.coef_ - W).abs().max()) < 5e-3
    assert torch.equal(model.coef_ != 0, W != 0)


def test_sindy_basis_is_equivariant_and_simulate():
    X = rand(200, 2, seed=23, scale=1.5)
    model = sl.SymmetricSINDy(sl.PolynomialLibrary(3), sl.SO(2)).fit(X, hopf(X))
    lib = model.library
    for j in range(model.n_free_):
        W = model.basis_[:, j].reshape(2, 10)
        L = sl.lie_derivative_dynamics(lambda z, W=W: lib(z) @ W.T, sl.SO(2), rand(20, 2, seed=24))
        assert float(L.abs().max()) < 1e-10 * float(W.abs().max())
    # simulate: fixed-step RK4 against scipy's solve_ivp on the true right-hand side
    from scipy.integrate import solve_ivp

    t = np.linspace(0, 10, 1001)
    traj = model.simulate(np.array([1.5, 0.0]), t, substeps=2)
    ref = solve_ivp(lambda _, y: hopf(torch.from_numpy(y).reshape(1, 2))[0].numpy(), (0, 10), [1.5, 0.0],
                    t_eval=t, rtol=1e-12, atol=1e-12, method="DOP853").y.T
    assert isinstance(traj, np.ndarray) and traj.shape == (1001, 2)
    assert np.abs(traj - ref).max() < 1e-8
    assert abs(np.hypot(*traj[-1]) - math.sqrt(MU)) < 1e-4     # near the limit cycle |x| = sqrt(mu) (rate e^-t)
    traj2 = model.simulate(torch.tensor([1.5, 0.0], dtype=DT), t[:50], method="RK45", rtol=1e-10, atol=1e-12)
    assert isinstance(traj2, torch.Tensor) and float((traj2 - torch.from_numpy(ref[:50])).abs().max()) < 1e-8
    # fit from the trajectory alone (finite differences, dt = 0.01): O(dt^2) error, support exact
    fd = sl.SymmetricSINDy(sl.PolynomialLibrary(3), sl.SO(2)).fit(traj, t=t)
    assert fd.derivative_method_.startswith("finite differences")
    W = hopf_coef()
    assert float((fd.coef_ - W).abs().max()) < 1e-3
    assert torch.equal(fd.coef_ != 0, W != 0)
    assert fd.score(traj, t=t) > 0.999999


def test_sindy_o2_group_and_errors():
    X = rand(100, 2, seed=25, scale=1.5)
    # O(2) forbids the rotation term J x: only (a + b |x|^2) x remain
    o2 = sl.SymmetricSINDy(sl.PolynomialLibrary(3), sl.O(2), threshold=0.0).fit(X, hopf(X))
    assert o2.n_free_ == 2
    W = hopf_coef()
    W[0, 2] = W[1, 1] = 0.0                                     # the projection drops J x exactly
    assert float((o2.coef_ - W).abs().max()) < 1e-10
    model = sl.SymmetricSINDy(sl.PolynomialLibrary(3), sl.SO(2))
    with pytest.raises(ValueError, match="Xdot, t: pass the derivatives Xdot or the sample times t"):
        model.fit(X)
    with pytest.raises(ValueError, match="not both"):
        model.fit(X, hopf(X), t=0.1)
    with pytest.raises(ValueError, match=r"Xdot: expected shape \(100, 2\)"):
        model.fit(X, hopf(X)[:, :1])
    with pytest.raises(ValueError, match="t: expected 100 time stamps"):
        model.fit(X, t=np.linspace(0, 1, 50))
    with pytest.raises(ValueError, match=r"rep: .* acts on R\^3 but X has 2 columns"):
        sl.SymmetricSINDy(sl.PolynomialLibrary(3), rep=sl.V(sl.SO(3))).fit(X, hopf(X))
    with pytest.raises(ValueError, match="mu: expected a finite number >= 0"):
        sl.SymmetricSINDy(sl.PolynomialLibrary(3), sl.SO(2), mode="promote", mu=-1.0).fit(X, hopf(X))
    with pytest.raises(ValueError, match="threshold: expected a finite number"):
        sl.SymmetricSINDy(sl.PolynomialLibrary(3), sl.SO(2), threshold=-1).fit(X, hopf(X))
    with pytest.raises(sl.NotFittedError, match="not fitted yet"):
        model.simulate([0.1, 0.0], np.linspace(0, 1, 5))
    with pytest.raises(sl.SymlieError, match="no non-zero equivariant model"):
        sl.SymmetricSINDy(sl.PolynomialLibrary(2), sl.SE(2)).fit(X, hopf(X))


# ----------------------------------------------------------------------------- docstring examples
@pytest.mark.parametrize("module", [symlie.library.features, symlie.models.regression, symlie.models.sindy])
def test_docstring_examples(module):
    """The docstring examples run (among them: n_free_ = 4 = dim of SO(2)-equivariant cubic vector fields)."""
    res = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0 and res.attempted > 0


def test_sindy_enforce_with_slightly_tilted_generator_stays_accurate():
    """Threshold pivoting in echelon_basis: a symmetry tilted by 1e-6 (as estimated from data) must not make the
    echelon basis ill-conditioned (left-to-right pivots on tilt-sized entries gave errors of order 1)."""
    g = torch.Generator().manual_seed(0)

    def field(X):
        x, y, z = X[:, 0], X[:, 1], X[:, 2]
        r2 = x ** 2 + y ** 2
        return torch.stack([x * (1 - r2) - y + x * z / 2, y * (1 - r2) + x + y * z / 2, -z + r2 / 2], 1)

    X = 3 * torch.rand(200, 3, generator=g, dtype=DT) - 1.5
    lib = sl.PolynomialLibrary(3)
    lib.fit(X)
    Wt = torch.linalg.lstsq(lib.transform(X), field(X)).solution.T
    J = torch.zeros(3, 3, dtype=DT)
    J[0, 1], J[1, 0] = -1.0, 1.0
    K = torch.zeros(3, 3, dtype=DT)
    K[0, 2], K[2, 0] = -1.0, 1.0
    for tilt in (0.0, 1e-6, 1e-4):
        A = torch.linalg.matrix_exp(tilt * K) @ J @ torch.linalg.matrix_exp(-tilt * K)
        G = sl.as_group(sl.LieAlgebra(A[None], name="so(2) tilted"))
        m = sl.SymmetricSINDy(lib, G, mode="enforce", threshold=0.05).fit(X, field(X))
        err = float((m.coef_ - Wt).norm() / Wt.norm())
        assert err < 10 * tilt + 1e-12, (tilt, err)
