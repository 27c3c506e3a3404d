"""Size estimates of symlie.library: polynomial libraries whose exponent table would not fit are refused at
construction / fit, and evaluations that would not fit say how many rows do."""
from __future__ import annotations

import math
import time

import pytest
import torch

import symlie as sl
from symlie.library.features import check_polynomial_size
from symlie.utils import ResourceError
from symlie.utils.resources import memory_limit


def test_degree_30_in_10_variables_is_refused_at_construction_and_at_fit():
    for make in (lambda: sl.PolynomialLibrary(30, n_features=10),
                 lambda: sl.PolynomialLibrary(30).fit(torch.zeros(2, 10, dtype=torch.float64)),
                 lambda: sl.PolynomialLibrary(30) + sl.FourierLibrary(1, n_features=10),
                 lambda: sl.LibraryAction(sl.PolynomialLibrary(30), 10)):
        t0 = time.perf_counter()
        with memory_limit(8 * 10 ** 9), pytest.raises(ResourceError) as ei:
            make()
        assert time.perf_counter() - t0 < 1.0
        msg = str(ei.value)
        assert "847660528 monomials" in msg and "memory limit of 8 GB" in msg and "smaller degree" in msg, msg
    assert sl.PolynomialLibrary(30).n_output_features(10) == math.comb(40, 30)   # counting stays arithmetic


def test_the_refusal_threshold_is_the_table_size_property():
    for n in range(1, 6):
        for degree in range(0, 6):
            need = math.comb(n + degree, degree) * (64 + 16 * n)
            with memory_limit(need):
                assert sl.PolynomialLibrary(degree, n_features=n).powers.shape[1] == n
            with memory_limit(need - 1), pytest.raises(ResourceError):
                sl.PolynomialLibrary(degree, n_features=n)
            assert check_polynomial_size(n, degree) == math.comb(n + degree, degree)


def test_evaluations_that_do_not_fit_say_how_many_rows_do():
    X = torch.rand(1000, 10, dtype=torch.float64)
    lib = sl.PolynomialLibrary(3, n_features=10)
    with memory_limit(10 ** 6):
        for fn in (lib.transform, lib.jacobian):
            with pytest.raises(ResourceError, match=r"evaluate at most about \d+ rows at a time"):
                fn(X)
        rows = int(str(pytest.raises(ResourceError, lib.transform, X).value).split("about ")[-1].split()[0])
        assert lib.transform(X[:rows]).shape == (rows, 286)          # the number given does fit
        four = sl.FourierLibrary(50, n_features=10)
        with pytest.raises(ResourceError, match="fewer frequencies"):
            four.jacobian(X)
        cust = sl.CustomLibrary([lambda x: x[:, 0] * x[:, 1]] * 20, n_features=10)
        with pytest.raises(ResourceError, match="rows at a time"):
            cust.jacobian(X)
    assert lib.jacobian(X).shape == (1000, 286, 10)                  # the default limit lets normal work through
