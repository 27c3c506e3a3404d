"""The dense SVD / Gram eigenproblem of singular_spectrum is estimated and refused above the memory limit."""
from __future__ import annotations

import pytest
import torch

from symlie.linalg import nullspace, singular_spectrum
from symlie.linalg.nullspace import spectrum_bytes
from symlie.utils import ResourceError
from symlie.utils.resources import memory_limit


def test_dense_svd_is_refused_above_the_limit_with_a_cheaper_method_named():
    A = torch.zeros(3000, 100, dtype=torch.float64)
    need = spectrum_bytes(3000, 100)
    with memory_limit(need - 1), pytest.raises(ResourceError, match="method='gram'"):
        nullspace(A)
    with memory_limit(need):
        assert singular_spectrum(A)[0].shape == (100,)
    with memory_limit(spectrum_bytes(3000, 100, "gram")):
        assert nullspace(A, method="gram").dim == 100
    with memory_limit(100), pytest.raises(ResourceError, match="structured solver"):
        nullspace(A, method="gram")
