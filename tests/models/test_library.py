"""Tests of symlie.library: feature libraries with exact Jacobians.

Ground truth: explicit monomial / trigonometric formulas evaluated entry by entry, central finite differences
for every Jacobian, closed-form feature counts C(n + d, d), and the Lie-derivative operator of
``lie_derivative_linear`` against ``lie_derivative`` of the assembled model W Phi(x).
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import symlie as sl
from _helpers import DT, rand


def central_fd_jacobian(lib, X, h=1e-5):
    """(N, D, n) by central differences, one coordinate at a time."""
    cols = []
    for j in range(X.shape[1]):
        e = torch.zeros_like(X)
        e[:, j] = h
        cols.append((lib.transform(X + e) - lib.transform(X - e)) / (2 * h))
    return torch.stack(cols, -1)


# ----------------------------------------------------------------------------- polynomial library
@pytest.mark.parametrize("n,d", [(1, 0), (1, 5), (2, 3), (3, 4), (4, 2), (5, 3)])
def test_polynomial_feature_counts(n, d):
    lib = sl.PolynomialLibrary(d)
    X = rand(7, n, seed=n + d)
    assert lib.transform(X).shape == (7, math.comb(n + d, d))
    assert lib.n_output_features(n) == math.comb(n + d, d) == lib.n_features_out
    assert lib.powers.shape == (math.comb(n + d, d), n)
    # the exponent rows are exactly the distinct monomials of degree <= d, each once
    rows = {tuple(r) for r in lib.powers.tolist()}
    expect = {p for p in itertools.product(range(d + 1), repeat=n) if sum(p) <= d}
    assert rows == expect and len(rows) == lib.powers.shape[0]
    if d > 0:
        nb = sl.PolynomialLibrary(d, include_bias=False)
        assert nb.n_output_features(n) == math.comb(n + d, d) - 1
        assert nb.transform(X).shape == (7, math.comb(n + d, d) - 1)


def test_polynomial_order_and_names():
    lib = sl.PolynomialLibrary(3, n_features=2)
    assert lib.feature_names() == ["1", "x0", "x1", "x0^2", "x0 x1", "x1^2", "x0^3", "x0^2 x1", "x0 x1^2", "x1^3"]
    assert lib.feature_names(["x", "y"])[4] == "x y"
    degs = lib.powers.sum(1).tolist()
    assert degs == sorted(degs)  # ordered by degree
    lib3 = sl.PolynomialLibrary(2, include_bias=False, n_features=3)
    assert lib3.feature_names(["a", "b", "c"]) == ["a", "b", "c", "a^2", "a b", "a c", "b^2", "b c", "c^2"]


def test_polynomial_transform_matches_explicit_products():
    lib = sl.PolynomialLibrary(4)
    X = rand(5, 3, seed=1, scale=2.0)
    Phi = lib.transform(X)
    for i in range(5):
        for f, p in enumerate(lib.powers.tolist()):
            val = 1.0
            for xi, e in zip(X[i].tolist(), p):
                val *= xi ** e
            assert abs(float(Phi[i, f]) - val) <= 1e-13 * max(1.0, abs(val))
    # zero is handled exactly (0 ** 0 = 1, no NaN in the Jacobian)
    Z = torch.zeros(2, 3, dtype=DT)
    assert torch.equal(lib.transform(Z)[:, 0], torch.ones(2, dtype=DT))
    assert torch.isfinite(lib.jacobian(Z)).all()
    assert torch.equal(lib.jacobian(Z)[0, 1:4], torch.eye(3, dtype=DT))  # d x_i / d x_j at 0


@pytest.mark.parametrize("n,d", [(1, 4), (2, 3), (3, 4), (4, 3)])
def test_polynomial_jacobian_matches_finite_differences(n, d):
    lib = sl.PolynomialLibrary(d)
    X = rand(9, n, seed=10 + n)
    J = lib.jacobian(X)
    assert J.shape == (9, lib.n_output_features(n), n) and J.dtype == DT
    fd = central_fd_jacobian(lib, X)
    assert float((J - fd).abs().max()) < 1e-8


# ----------------------------------------------------------------------------- Fourier, custom, concat
def test_fourier_features_names_and_jacobian():
    lib = sl.FourierLibrary(3)
    X = rand(6, 2, seed=3, scale=3.0)
    Phi = lib.transform(X)
    assert Phi.shape == (6, 2 * 2 * 3 + 1) and lib.n_output_features(2) == 13
    names = lib.feature_names()
    assert names[:5] == ["1", "sin(x0)", "cos(x0)", "sin(x1)", "cos(x1)"] and names[5] == "sin(2 x0)"
    # every column is what its name says
    for f, nm in enumerate(names):
        if nm == "1":
            ref = torch.ones(6, dtype=DT)
        else:
            fn, arg = nm[:3], nm[4:-1].split(" ")
            k, var = (1, arg[0]) if len(arg) == 1 else (int(arg[0]), arg[1])
            ref = getattr(torch, fn)(k * X[:, int(var[1:])])
        torch.testing.assert_close(Phi[:, f], ref, rtol=0, atol=1e-14)
    assert float((lib.jacobian(X) - central_fd_jacobian(lib, X)).abs().max()) < 1e-8
    nb = sl.FourierLibrary(1, include_bias=False)
    assert nb.transform(X).shape == (6, 4)


def r2_feature(X):
    return (X ** 2).sum(1)


def test_custom_library_autodiff_and_given_jacobians():
    funcs = [r2_feature, lambda X: torch.sin(X[:, 0]) * X[:, 1], lambda X: torch.exp(0.3 * X[:, 2])]
    auto = sl.CustomLibrary(funcs)
    given = sl.CustomLibrary(funcs, jacobians=[lambda X: 2 * X, None,
                                                lambda X: torch.stack([0 * X[:, 0], 0 * X[:, 0],
                                                                       0.3 * torch.exp(0.3 * X[:, 2])], 1)])
    X = rand(8, 3, seed=4, scale=2.0)
    assert auto.transform(X).shape == (8, 3)
    Ja, Jg = auto.jacobian(X), given.jacobian(X)
    assert Ja.shape == (8, 3, 3)
    torch.testing.assert_close(Ja, Jg, rtol=0, atol=1e-13)
    assert float((Ja - central_fd_jacobian(auto, X)).abs().max()) < 1e-8
    assert auto.feature_names() == ["r2_feature", "f1", "f2"]
    named = sl.CustomLibrary(funcs, names=["r^2", lambda nm: f"sin({nm[0]}) {nm[1]}", "e"])
    named.fit(X)
    assert named.feature_names(["a", "b", "c"]) == ["r^2", "sin(a) b", "e"]


def test_custom_library_errors():
    X = rand(4, 2, seed=5)
    with pytest.raises(ValueError, match=r"functions\[0\]: expected output of shape \(4,\)"):
        sl.CustomLibrary([lambda X: X]).transform(X)
    with pytest.raises(TypeError, match=r"functions\[1\]: expected a callable"):
        sl.CustomLibrary([r2_feature, 3])
    with pytest.raises(ValueError, match=r"jacobians: expected 1 entries"):
        sl.CustomLibrary([r2_feature], jacobians=[None, None])
    not_torch = sl.CustomLibrary([lambda X: torch.from_numpy(np.sin(X.detach().numpy()[:, 0]))])
    with pytest.raises(sl.SymlieError, match=r"functions\[0\]: could not be differentiated"):
        not_torch.jacobian(X)


def test_concat_library():
    lib = sl.PolynomialLibrary(2) + sl.FourierLibrary(1, include_bias=False)
    assert isinstance(lib, sl.ConcatLibrary)
    X = rand(5, 2, seed=6)
    assert lib.transform(X).shape == (5, 6 + 4) and lib.n_output_features(2) == 10
    assert lib.feature_names()[5:] == ["x1^2", "sin(x0)", "cos(x0)", "sin(x1)", "cos(x1)"]
    assert float((lib.jacobian(X) - central_fd_jacobian(lib, X)).abs().max()) < 1e-8
    assert lib.polynomial_degree is None
    poly = sl.PolynomialLibrary(1) + sl.PolynomialLibrary(3, include_bias=False)
    assert poly.polynomial_degree == 3
    three = lib + sl.CustomLibrary([r2_feature])
    assert len(three.libraries) == 3 and three.n_output_features(2) == 11
    with pytest.raises(ValueError, match="different numbers of input variables"):
        sl.PolynomialLibrary(1, n_features=2) + sl.PolynomialLibrary(1, n_features=3)


# ----------------------------------------------------------------------------- validation
def test_library_input_validation():
    lib = sl.PolynomialLibrary(2)
    with pytest.raises(sl.NotFittedError, match="number of input variables is not known yet"):
        lib.feature_names()
    with pytest.raises(sl.NotFittedError):
        lib.powers  # noqa: B018 (the property access itself must raise)
    lib.transform(np.ones((3, 2)))  # numpy input fixes n = 2
    with pytest.raises(ValueError, match=r"X: expected 2 columns .* got shape \(3, 3\)"):
        lib.transform(torch.ones(3, 3))
    with pytest.raises(ValueError, match=r"X: expected 2 columns"):
        lib.jacobian(torch.ones(3, 3))
    bad = torch.ones(3, 2, dtype=DT)
    bad[1, 0] = float("nan")
    with pytest.raises(ValueError, match="X: contains 1 NaN or Inf entry"):
        lib.transform(bad)
    with pytest.raises(ValueError, match="X: expected a 2-D array"):
        lib.transform(torch.ones(3))
    with pytest.raises(ValueError, match="input_names: expected 2 strings"):
        lib.feature_names(["a"])
    with pytest.raises(ValueError, match="degree: expected an int >= 0"):
        sl.PolynomialLibrary(-1)
    with pytest.raises(ValueError, match="degree 0 without the bias"):
        sl.PolynomialLibrary(0, include_bias=False)
    with pytest.raises(ValueError, match="n_frequencies"):
        sl.FourierLibrary(0)
    # integer and float32 input become float64
    assert lib.transform(torch.ones(2, 2, dtype=torch.int64)).dtype == DT
    assert lib(torch.ones(2, 2, dtype=torch.float32)).dtype == DT


# ----------------------------------------------------------------------------- with the Lie-derivative operator
@pytest.mark.parametrize("case", ["SO3 scalar", "SO2 vector", "SE2 point->vector", "Fourier SO2"])
def test_lie_derivative_linear_with_libraries(case):
    """einsum(S, W) from lie_derivative_linear(library, ...) equals lie_derivative of x -> W Phi(x)."""
    if case == "SO3 scalar":
        G, lib, rep_in, rep_out, n_out = sl.SO(3), sl.PolynomialLibrary(3), sl.V(sl.SO(3)), None, 1
    elif case == "SO2 vector":
        G, lib, rep_in, rep_out, n_out = sl.SO(2), sl.PolynomialLibrary(3), sl.V(sl.SO(2)), sl.V(sl.SO(2)), 2
    elif case == "SE2 point->vector":
        G, lib, rep_in, rep_out, n_out = sl.SE(2), sl.PolynomialLibrary(2), sl.Point(sl.SE(2)), sl.V(sl.SE(2)), 2
    else:
        G, lib, rep_in, rep_out, n_out = sl.SO(2), sl.FourierLibrary(2), sl.V(sl.SO(2)), sl.V(sl.SO(2)), 2
    x = rand(11, rep_in.size, seed=7)
    S = sl.lie_derivative_linear(lib, G, x, rep_in, rep_out, n_out=n_out)
    D = lib.n_output_features(rep_in.size)
    assert S.shape == (G.dim, 11, n_out, n_out, D)
    W = torch.randn(n_out, D, generator=torch.Generator().manual_seed(8), dtype=DT)
    L = sl.lie_derivative(lambda z: lib(z) @ W.T, G, x, rep_in, rep_out)
    torch.testing.assert_close(torch.einsum("knabf,bf->kna", S, W), L, rtol=1e-12, atol=1e-12)
