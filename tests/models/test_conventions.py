"""scikit-learn conventions of the estimators: fit never mutates the user's inputs or library."""
from __future__ import annotations

import torch

import symlie as sl
from _helpers import DT, randn


def test_fit_leaves_library_and_data_untouched():
    lib = sl.PolynomialLibrary(2)
    X = randn(40, 2, seed=1)
    Y = (X ** 2).sum(1)
    X0, Y0 = X.clone(), Y.clone()
    est = sl.SymmetricRegressor(lib, sl.SO(2)).fit(X, Y)
    assert lib.n_features_in is None                     # the user's library object is not fitted in place
    assert est.library is lib and est.library_ is not lib and est.library_.n_features_in == 2
    assert torch.equal(X, X0) and torch.equal(Y, Y0)
    assert float((est.predict(X) - Y).abs().max()) < 1e-10


def test_sindy_fit_leaves_library_untouched():
    lib = sl.PolynomialLibrary(3)
    J = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=DT)
    X = randn(200, 2, seed=2)
    Xdot = (1.0 - (X ** 2).sum(1, keepdim=True)) * X + X @ J.T
    est = sl.SymmetricSINDy(lib, sl.SO(2)).fit(X, Xdot)
    assert lib.n_features_in is None and est.library_.n_features_in == 2
    res = sl.discover(est, X, sl.gl(2))
    assert res.dim == 1 and "dynamics" in res.kind
