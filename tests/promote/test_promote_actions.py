"""Promotion over any Action: the penalty and the assembled operator take function-library generators too."""
from __future__ import annotations

import numpy as np
import torch

import symlie as sl
from _helpers import randn


def test_penalty_over_library_fields_is_the_nuclear_norm_of_the_discovery_operator():
    act = sl.polynomial_vector_fields(2, 1)
    X = randn(64, 2, seed=1)
    f = lambda z: z[:, 0] * torch.exp(-z[:, 1] ** 2)  # noqa: E731
    pen = sl.NuclearNormPenalty(act, X)
    L = sl.lie_derivative(f, act, X)                    # (q, N)
    S = (L / X.shape[0] ** 0.5).T
    assert torch.allclose(pen(f), torch.linalg.matrix_norm(S, ord="nuc"), atol=1e-12)


def test_lie_operator_with_a_library_action_matches_the_constraint_rows():
    lib = sl.PolynomialLibrary(2)
    act = sl.polynomial_vector_fields(2, 1)
    op = sl.LieOperator(lib, act, 2)
    assert op.candidates is None and not op.structured and "fields" in repr(op)
    assert lib.n_features_in is None                   # the user's library is not fitted in place
    W = randn(1, op.D, seed=2)
    x = op.points
    L = sl.lie_derivative(lambda z: op.library.transform(z) @ W.T, act, x)     # (q, N, 1)
    ref = (L[..., 0] * op.weights.sqrt()[None, :]).T.numpy()                   # (N, q)
    assert np.allclose(op.apply(W), ref, atol=1e-12)
    Z = randn(op.rows, op.q, seed=3).numpy()
    assert abs(float((op.apply(W) * Z).sum()) - float((W.numpy() * op.adjoint(Z)).sum())) < 1e-10


def test_structured_and_dense_operators_agree_for_matrix_actions():
    lib = sl.PolynomialLibrary(3)
    a = sl.LieOperator(lib, sl.se(2), 2, structured=True)
    b = sl.LieOperator(lib, sl.se(2), 2, structured=False, points=a.points)
    W = randn(1, a.D, seed=4).numpy()
    sa = np.linalg.svd(a.apply(W), compute_uv=False)
    sb = np.linalg.svd(b.apply(W), compute_uv=False)
    assert np.allclose(sa, sb[: sa.size], atol=1e-10)
    assert np.allclose(a.gram(), b.gram(), atol=1e-9)
