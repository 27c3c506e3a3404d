"""Samples that cannot determine the answer are reported, never returned as a silent result.

Ground truth: for gl(n) acting on R^n, the fields v_xi(x) = xi x of all xi with xi U = 0 vanish on the span of
U, so samples confined to an r-dimensional subspace leave n (n - r) directions that act trivially on every
sample; k distinct samples of a scalar model give at most k independent rows. Either makes the nullspace
larger than the model's symmetry, whatever the model, so the result must carry ``status="underdetermined"``
and an UnderdeterminedWarning; generic samples must not. The same for the estimators' designs (rank below
the free coefficients), for point clouds without a lower-dimensional structure, and for models that are NaN
at some samples (a clear error naming the model).
"""
from __future__ import annotations

import warnings

import pytest
import torch

import symlie as sl
from _helpers import DT, randn

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PROPS = settings(max_examples=20, deadline=None, derandomize=True, database=None)


def sq_norm(x):
    return (x ** 2).sum(-1)


def quiet_discover(*args, **kw):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        res = sl.discover(*args, **kw)
    return res, [w for w in rec if issubclass(w.category, sl.UnderdeterminedWarning)]


@pytest.mark.parametrize("case", ["one sample", "two samples", "all at the origin", "one point repeated",
                                  "points on a line"])
def test_degenerate_samples_are_reported(case):
    X = randn(500, 3, seed=1)
    x = {"one sample": X[:1], "two samples": X[:2], "all at the origin": torch.zeros(50, 3, dtype=DT),
         "one point repeated": X[:1].repeat(500, 1),
         "points on a line": X[:1] * torch.linspace(-1, 1, 200, dtype=DT)[:, None]}[case]
    res, warned = quiet_discover(sq_norm, x, sl.gl(3))
    assert res.status == "underdetermined" and len(warned) == 1
    assert "cannot tell" in res.status_reason or "whatever the model" in res.status_reason
    assert "STATUS" in res.summary()
    assert res.dim > 3                       # the nullspace is larger than so(3): that is why it is flagged


def test_generic_samples_are_ok_without_warning():
    for N in (10, 500):
        res, warned = quiet_discover(sq_norm, randn(N, 3, seed=2), sl.gl(3))
        assert res.status == "ok" and not warned and res.dim == 3 and res.status_reason == ""
        assert res.info["sufficiency"]["trivial_directions"] == 0


@PROPS
@given(n=st.integers(2, 4), r=st.integers(0, 3), seed=st.integers(0, 2 ** 31 - 1),
       copies=st.integers(1, 3))
def test_samples_in_a_subspace_leave_exactly_the_predicted_trivial_directions(n, r, seed, copies):
    """Random degenerate designs: N points in a random r-dimensional subspace of R^n (r < n), each repeated
    ``copies`` times, leave exactly n (n - r) trivial directions of gl(n), flagged; r = n is generic."""
    r = min(r, n)
    g = torch.Generator().manual_seed(seed)
    U = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=DT))[0][:, :r]
    x = (torch.randn(40, r, generator=g, dtype=DT) @ U.T).repeat(copies, 1)
    res, warned = quiet_discover(sq_norm, x, sl.gl(n))
    suff = res.info["sufficiency"]
    assert suff["trivial_directions"] == n * (n - r)
    assert suff["distinct_samples"] == (40 if r else 1)
    assert (res.status == "underdetermined") == (r < n) and len(warned) == (r < n)


@PROPS
@given(k=st.integers(1, 12), seed=st.integers(0, 2 ** 31 - 1))
def test_too_few_distinct_samples_for_the_unknowns(k, seed):
    """k distinct generic samples of a scalar model give <= k rows: below q = 9 (gl(3)) it is flagged."""
    x = randn(k, 3, seed=seed % 1000).repeat(3, 1)
    res, _ = quiet_discover(sq_norm, x, sl.gl(3))
    assert res.info["sufficiency"]["max_rows"] == k
    assert (res.status == "underdetermined") == (k < 9 or res.info["sufficiency"]["trivial_directions"] > 0)


def test_zero_weight_samples_do_not_count():
    X = randn(30, 3, seed=3)
    w = torch.zeros(30, dtype=DT)
    w[:2] = 1.0
    res, warned = quiet_discover(sq_norm, X, sl.gl(3), weights=w)
    assert res.status == "underdetermined" and res.info["sufficiency"]["distinct_samples"] == 2 and warned


def test_equivariant_output_term_counts_as_acting():
    """A generator whose field vanishes at the samples but acts on the outputs is measured (not trivial)."""
    x = torch.zeros(20, 3, dtype=DT)
    G = sl.gl(3)
    res, _ = quiet_discover(lambda z: z + torch.tensor([1.0, 2.0, 3.0], dtype=DT), x, G, rep_out=sl.V(G))
    assert res.info["sufficiency"]["trivial_directions"] == 6     # xi with xi (1, 2, 3)^T = 0


def test_nan_from_the_model_is_an_error_naming_the_model():
    X = randn(500, 3, seed=4)

    def half_nan(x):
        y = sq_norm(x).clone()
        y[::2] = float("nan")
        return y

    with pytest.raises(sl.SymlieError, match=r"model: returned NaN or Inf at 250 of 500 samples \(first at sample 0"):
        sl.discover(half_nan, X, sl.gl(3), batch_size=64)

    def inf_grad(x):                                       # finite values, infinite derivative at x0 = 0
        return x[:, 0].abs().sqrt()

    x = X.clone()
    x[7, 0] = 0.0
    with pytest.raises(sl.SymlieError, match="at 1 of 500 samples"):
        sl.discover(inf_grad, x, sl.gl(3))


def test_discover_memory_limit_is_a_parameter():
    with pytest.raises(sl.ResourceError, match="batch_size"):
        sl.discover(sq_norm, randn(100, 3, seed=5), sl.gl(3), max_bytes=1000)
    assert sl.discover(sq_norm, randn(100, 3, seed=5), sl.gl(3), max_bytes=10 ** 8).dim == 3


# ------------------------------------------------------------------------------------- point clouds
def sphere(N, noise=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    S = torch.randn(N, 3, generator=g, dtype=DT)
    S = S / S.norm(dim=1, keepdim=True)
    return S + noise * torch.randn(N, 3, generator=g, dtype=DT)


@pytest.mark.parametrize("cloud", ["uniform cube", "gaussian"])
def test_a_cloud_that_fills_space_is_refused(cloud):
    g = torch.Generator().manual_seed(6)
    X = torch.rand(1500, 3, generator=g, dtype=DT) if cloud == "uniform cube" else torch.randn(1500, 3, generator=g,
                                                                                                 dtype=DT)
    with pytest.raises(sl.DataError, match="no lower-dimensional structure.*fills R\\^3"):
        sl.discover_manifold(X, sl.se(3))
    with pytest.warns(sl.UnderdeterminedWarning, match="no 2-dimensional structure"):
        res = sl.discover_manifold(X, sl.se(3), manifold_dim=2)
    assert res.status == "underdetermined"


def test_a_noisy_sphere_is_still_a_manifold():
    with warnings.catch_warnings():
        warnings.simplefilter("error", sl.UnderdeterminedWarning)
        res = sl.discover_manifold(sphere(1500, 0.1, seed=7), sl.se(3))
    assert res.status == "ok" and res.dim == 3


def test_manifold_parameters_are_checked():
    with pytest.raises(ValueError, match="min_dim_ratio"):
        sl.discover_manifold(sphere(300), sl.se(3), min_dim_ratio=0.5)


# ----------------------------------------------------------------------------------------- estimators
@PROPS
@given(N=st.integers(1, 30), degree=st.integers(1, 3), seed=st.integers(0, 2 ** 31 - 1))
def test_estimator_designs_below_the_free_coefficients_are_flagged(N, degree, seed):
    """Random designs: the fit is flagged exactly when the rank of the design is below the free coefficients."""
    X = randn(N, 3, seed=seed % 1000)
    y = sq_norm(X)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        reg = sl.SymmetricRegressor(sl.PolynomialLibrary(degree), mode="none").fit(X, y)
    under = reg.design_rank_ < reg.n_free_
    assert (reg.status_ == "underdetermined") == under
    assert sum(issubclass(w.category, sl.UnderdeterminedWarning) for w in rec) == int(under)
    assert under == (N < reg.n_free_)                       # generic samples: the rank is min(N, D)


def test_sindy_design_status():
    X = randn(3, 2, seed=8)
    with pytest.warns(sl.UnderdeterminedWarning, match="SymmetricSINDy.fit"):
        m = sl.SymmetricSINDy(sl.PolynomialLibrary(2), mode="none", threshold=0.0).fit(X, -X)
    assert m.status_ == "underdetermined"
    m = sl.SymmetricSINDy(sl.PolynomialLibrary(2), mode="none", threshold=0.0).fit(randn(50, 2, seed=9), -randn(50, 2, seed=9))
    assert m.status_ == "ok"


def test_too_few_constraint_points_are_reported_only_when_the_basis_is_wrong():
    """SO(3)-invariant quadratics on R^3: 2 free coefficients (1, |x|^2). One constraint point leaves 8."""
    X = randn(100, 3, seed=10)
    y = sq_norm(X)
    with pytest.warns(sl.UnderdeterminedWarning, match="not equivariant at fresh points"):
        bad = sl.SymmetricRegressor(sl.PolynomialLibrary(2), sl.SO(3), n_constraint_points=1).fit(X, y)
    assert bad.n_free_ > 2
    with warnings.catch_warnings():
        warnings.simplefilter("error", sl.UnderdeterminedWarning)
        ok = sl.SymmetricRegressor(sl.PolynomialLibrary(2), sl.SO(3), n_constraint_points=5).fit(X, y)
    assert ok.n_free_ == 2


@pytest.mark.parametrize("bad", [-1.0, float("nan"), "1e-3", True])
def test_closure_tol_is_checked(bad):
    with pytest.raises(ValueError, match="closure_tol"):
        sl.discover(sq_norm, randn(50, 3, seed=11), sl.gl(3), closure_tol=bad)


def test_promotion_reweight_is_checked():
    with pytest.raises(ValueError, match="reweight"):
        sl.SymmetricRegressor(sl.PolynomialLibrary(2), sl.SO(3), mode="promote", reweight=-1).fit(
            randn(60, 3, seed=12), sq_norm(randn(60, 3, seed=12)))


def test_lie_derivative_refuses_points_where_the_model_is_undefined():
    X = randn(10, 3, seed=13)

    def half_nan(x):
        y = sq_norm(x).clone()
        y[::2] = float("nan")                        # zero derivative there: DF v alone would look finite
        return y

    with pytest.raises(sl.SymlieError, match=r"f: returned NaN or Inf .* at 5 of 10 points \(first at point 0"):
        sl.lie_derivative(half_nan, sl.gl(3), X, batch_size=None)
    L = sl.lie_derivative(half_nan, sl.gl(3), X, check_finite=False)
    assert L.shape == (9, 10) and bool(torch.isfinite(L).all())


def test_penalty_points_at_fixed_points_are_reported():
    """A penalty evaluated only on the z axis cannot see rotations about z (their fields vanish there)."""
    z = torch.zeros(50, 3, dtype=DT)
    z[:, 2] = torch.linspace(-1, 1, 50, dtype=DT)
    with pytest.warns(sl.UnderdeterminedWarning, match="NuclearNormPenalty: X: 1 of the 3 candidates"):
        pen = sl.NuclearNormPenalty(sl.so(3), z)
    assert pen.status == "underdetermined"
    with warnings.catch_warnings():
        warnings.simplefilter("error", sl.UnderdeterminedWarning)
        assert sl.NuclearNormPenalty(sl.so(3), randn(50, 3, seed=14)).status == "ok"


def test_lie_operator_points_are_checked_by_the_rank_of_the_monomials():
    """Quadratic models under so(3): the points must determine the quadratics their Lie derivatives live in (rank
    of the monomials at the points); 5 points cannot, C(5, 2) = 10 generic points can (the rule asks 11)."""
    lib = sl.PolynomialLibrary(2)
    with pytest.warns(sl.UnderdeterminedWarning, match="fewer than the"):
        sl.LieOperator(lib, sl.so(3), 3, points=randn(5, 3, seed=15))
    with warnings.catch_warnings():
        warnings.simplefilter("error", sl.UnderdeterminedWarning)
        need = sl.LieOperator(lib, sl.so(3), 3).points.shape[0]
        sl.LieOperator(lib, sl.so(3), 3, points=randn(need - 1, 3, seed=16))    # generic: rank is full already


def test_nearly_dependent_candidate_fields_are_reported():
    """Features 1, x and 1e5 sin(1e-5 x) = x - x^3 / 6e10 + ... are nearly dependent (condition ~4e10): no rank
    rule can separate that from a symmetry, so the result is flagged (the condition number is reported)."""
    lib = sl.CustomLibrary([lambda z: z[:, 0] * 0 + 1, lambda z: z[:, 0], lambda z: 1e5 * torch.sin(1e-5 * z[:, 0])],
                           names=["1", "x", "1e5 sin(1e-5 x)"])
    fields = sl.LibraryAction(lib, 2, input_names=["x", "y"])
    res, warned = quiet_discover(lambda z: z[:, 0] + z[:, 1] ** 2, randn(200, 2, seed=17), fields)
    assert res.status == "underdetermined" and warned and "nearly dependent" in res.status_reason
    ok, _ = quiet_discover(lambda z: z[:, 0] + z[:, 1] ** 2, randn(200, 2, seed=17), sl.polynomial_vector_fields(2, 2))
    assert ok.status == "ok" and ok.info["sufficiency"]["fields_condition"] < 1e3
