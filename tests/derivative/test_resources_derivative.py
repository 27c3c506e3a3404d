"""Size estimates of the Lie derivative: the result and one batch's Jacobian are estimated before computing,
the refusal names a batch_size that fits, and an allocator failure becomes a ResourceError about batch_size."""
from __future__ import annotations

import re
import time

import pytest
import torch

import symlie as sl
from symlie.derivative.core import chunk_bytes
from symlie.utils import ResourceError
from symlie.utils.resources import memory_limit

from _helpers import randn

G = sl.SO(3)


def model(x):
    return torch.stack([x.pow(2).sum(1), x[:, 0], torch.sin(x[:, 1])], 1)


def test_unbatched_jacobians_are_refused_with_a_batch_size_that_fits():
    x = randn(4000, 3, seed=1)
    for mode in ("tangent", "jacfwd", "jacrev"):
        t0 = time.perf_counter()
        with pytest.raises(ResourceError) as ei:
            sl.lie_derivative(model, G, x, batch_size=None, autodiff=mode, max_bytes=1_000_000)
        assert time.perf_counter() - t0 < 1.0
        msg = str(ei.value)
        assert "batches of 4000 points" in msg and "memory limit of 1 MB" in msg and "batch_size=" in msg, msg
        fit = int(re.search(r"about (\d+) points per batch fit", msg).group(1))
        assert fit >= 1
        # the batch size named does fit (property of the estimate), and gives the same values
        L = sl.lie_derivative(model, G, x, batch_size=fit, autodiff=mode, max_bytes=1_000_000)
        ref = sl.lie_derivative(model, G, x, autodiff=mode)
        assert torch.allclose(L, ref, atol=1e-12)
        assert chunk_bytes(mode, fit, 3, 3, 3) + 8 * 3 * 4000 * 3 * 2 <= 1_000_000


def test_the_result_itself_is_refused_with_advice():
    x = randn(4000, 3, seed=2)
    with pytest.raises(ResourceError, match="the result .* evaluate fewer points or generators"):
        sl.lie_derivative(model, G, x, max_bytes=10_000)
    with memory_limit(10_000), pytest.raises(ResourceError, match="result"):
        sl.lie_derivative_dynamics(lambda z: z, G, x)
    assert sl.lie_derivative(model, G, x).shape == (3, 4000, 3)       # default limit: normal work passes


def test_allocator_failures_become_resource_errors_about_batch_size():
    def hungry(x):
        raise RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate 5748226965833910272 bytes.")

    x = randn(10, 3, seed=3)
    with pytest.raises(ResourceError, match="ran out of memory.*batch_size") as ei:
        sl.lie_derivative(hungry, G, x, autodiff="tangent", batch_size=None)
    assert "pass batch_size=" in str(ei.value)
    with pytest.raises(ResourceError, match="smaller batch_size"):
        sl.lie_derivative(hungry, G, x, autodiff="jacrev", batch_size=4)

    def broken(x):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")

    with pytest.raises(RuntimeError, match="shapes cannot be multiplied"):
        sl.lie_derivative(broken, G, x, autodiff="tangent")


def test_linear_models_grids_and_constraints_are_guarded():
    lib = sl.PolynomialLibrary(3)
    x = randn(2000, 3, seed=4)
    with pytest.raises(ResourceError, match="pass coef="):
        sl.lie_derivative_linear(lib, G, x, rep_out=sl.V(G), max_bytes=10 ** 7)
    W = randn(3, 20, seed=5)
    assert sl.lie_derivative_linear(lib, G, x, rep_out=sl.V(G), coef=W, max_bytes=10 ** 7).shape == (3, 2000, 3)
    u = randn(4, 1, 64, 64, seed=6)
    with pytest.raises(ResourceError, match="lie_derivative_grid"):
        sl.lie_derivative_grid(u, sl.SE(2), max_bytes=10 ** 5)
    assert sl.lie_derivative_grid(u, sl.SE(2)).shape == (3, 4, 1, 64, 64)
    R = sl.V(G) ** 3
    with memory_limit(10 ** 4), pytest.raises(ResourceError, match="method='kron'"):
        sl.derivative.invariance_constraints(R)
    op = sl.LieOperator(sl.PolynomialLibrary(3), sl.so(3), 3)
    with memory_limit(10 ** 3), pytest.raises(ResourceError, match="matrix-free"):
        op.gram()
    assert op.gram().shape == (20, 20)
