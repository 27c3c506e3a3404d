"""Tests of symlie.lie.actions: generator families (matrix, function-library, module) as the operator's input.

Ground truth: the old call forms (algebra + reps) for matrix actions, closed-form flows (rotation, scaling),
finite differences of the exact action, and the Lie bracket of vector fields computed by hand.
"""
from __future__ import annotations

import math

import pytest
import torch

import symlie as sl
from _helpers import DT, randn



def mlp(n_in, n_out, seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(n_in, 16), torch.nn.Tanh(), torch.nn.Linear(16, n_out)).double()


# ------------------------------------------------------------------------------------------- matrix actions
def test_matrix_action_equals_the_old_call_form():
    G = sl.SO(3)
    V = sl.V(G)
    f = mlp(3, 3, 1)
    x = randn(20, 3, seed=2)
    act = sl.MatrixAction(G, V, V)
    assert act.dim == 3 and act.n_in == 3 and act.n_out == 3
    a = sl.lie_derivative(f, act, x)
    b = sl.lie_derivative(f, G, x, V, V)
    assert torch.allclose(a, b, atol=1e-14)
    # affine action of SE(2) on positions, invariant outputs
    g = lambda y: (y ** 2).sum(-1)  # noqa: E731
    assert torch.allclose(sl.lie_derivative(g, sl.MatrixAction(sl.se(2)), randn(7, 2)),
                          sl.lie_derivative(g, sl.se(2), randn(7, 2)), atol=1e-14)


def test_matrix_action_with_rep_in_is_refused_twice():
    act = sl.MatrixAction(sl.so(3))
    with pytest.raises(ValueError, match="rep_in, rep_out"):
        sl.lie_derivative(lambda y: y.sum(-1), act, randn(4, 3), sl.V(sl.SO(3)))


def test_matrix_flow_is_the_exact_exponential():
    act = sl.MatrixAction(sl.so(2), sl.V(sl.SO(2)))
    x = randn(5, 2, seed=3)
    c = torch.tensor([0.7], dtype=DT)
    y = act.flow(c, x, t=2.0)
    th = 2.0 * 0.7 * float(torch.linalg.matrix_norm(act.generators[0])) / math.sqrt(2)
    R = torch.linalg.matrix_exp(2.0 * 0.7 * act.generators[0])
    assert torch.allclose(y, x @ R.T, atol=1e-14)
    assert abs(float(R[0, 0]) - math.cos(th)) < 1e-12


def test_tangent_lift_of_a_matrix_action_is_the_bracket():
    """For dynamics, Out_k = A_k: L_xi f = Df A x - A f = [v_xi, f] (sl.lie_bracket)."""
    alg = sl.gl(2)
    act = sl.MatrixAction(alg, sl.V(sl.GL(2))).tangent()
    f = mlp(2, 2, 4)
    x = randn(9, 2, seed=5)
    L = sl.lie_derivative(f, act, x)
    for k in range(alg.dim):
        A = alg.basis[k]
        ref = sl.lie_bracket(lambda y, A=A: y @ A.T, f, x)
        assert torch.allclose(L[k], ref, atol=1e-13)


# ----------------------------------------------------------------------------------------- library actions
def test_library_fields_match_their_definition():
    act = sl.polynomial_vector_fields(2, 2, input_names=["x", "y"])
    assert act.dim == 12                                  # 2 components x 6 monomials of degree <= 2
    x = randn(11, 2, seed=6)
    V = act.vector_fields(x)                              # (12, N, 2)
    Phi = act.library.transform(x)
    for c in range(2):
        for j in range(6):
            v = V[c * 6 + j]
            assert torch.allclose(v[:, c], Phi[:, j]) and torch.allclose(v[:, 1 - c], torch.zeros(11, dtype=DT))


def test_library_action_does_not_change_the_users_library():
    lib = sl.PolynomialLibrary(2)
    sl.LibraryAction(lib, 3)
    assert lib.n_features_in is None


def test_library_jacobians_and_brackets_by_finite_differences():
    act = sl.polynomial_vector_fields(2, 2)
    x = randn(6, 2, seed=7)
    J = act.jacobians(x)                                  # (q, N, n, n)
    h = 1e-6
    for j in range(2):
        e = torch.zeros(2, dtype=DT)
        e[j] = h
        fd = (act.vector_fields(x + e) - act.vector_fields(x - e)) / (2 * h)
        assert torch.allclose(J[..., j], fd, atol=1e-8)
    # [d/dx, x d/dy] = d/dy (bracket [a, b] = Db a - Da b)
    names = act.feature_names()
    one, xx = names.index("1"), names.index("x0")
    C = torch.zeros(2, 12, dtype=DT)
    C[0, 0 * 6 + one] = 1.0                               # d/dx0
    C[1, 1 * 6 + xx] = 1.0                                # x0 d/dx1
    B = act.brackets(C, x)                                # (2, 2, N, n)
    assert torch.allclose(B[0, 1], torch.tensor([0.0, 1.0], dtype=DT).expand(6, 2), atol=1e-14)
    assert torch.allclose(B[1, 0], -B[0, 1])


def test_library_flow_by_rk4_matches_the_rotation():
    act = sl.LibraryAction(sl.PolynomialLibrary(1, include_bias=False), 2)   # linear fields: gl(2)
    c = torch.zeros(4, dtype=DT)
    c[0 * 2 + 1], c[1 * 2 + 0] = -1.0, 1.0                # v = -y d/dx + x d/dy
    x = randn(5, 2, seed=8)
    y = act.flow(c, x, t=1.3, steps=64)
    R = torch.tensor([[math.cos(1.3), -math.sin(1.3)], [math.sin(1.3), math.cos(1.3)]], dtype=DT)
    assert torch.allclose(y, x @ R.T, atol=1e-9)


def test_library_tangent_lift_is_the_bracket():
    act = sl.polynomial_vector_fields(2, 2).tangent()
    f = mlp(2, 2, 9)
    x = randn(7, 2, seed=10)
    L = sl.lie_derivative(f, act, x)
    C = torch.eye(12, dtype=DT)
    for k in (0, 4, 7, 11):
        ref = sl.lie_bracket(act.field(C[k]), f, x)
        assert torch.allclose(L[k], ref, atol=1e-12)


def test_linear_operator_with_a_library_action_matches_autodiff():
    lib = sl.PolynomialLibrary(2).fit(torch.zeros(1, 2, dtype=DT))
    act = sl.polynomial_vector_fields(2, 1).tangent()
    W = randn(2, lib.n_output_features(2), seed=11)
    x = randn(8, 2, seed=12)
    S = sl.lie_derivative_linear(lib, act, x, n_out=2)
    L = torch.einsum("knabf,bf->kna", S, W)
    ref = sl.lie_derivative(lambda y: lib.transform(y) @ W.T, act, x)
    assert torch.allclose(L, ref, atol=1e-12)
    assert torch.allclose(sl.lie_derivative_linear(lib, act, x, n_out=2, coef=W), ref, atol=1e-12)


def test_library_action_errors():
    with pytest.raises(TypeError, match="library"):
        sl.LibraryAction("poly", 2)
    with pytest.raises(ValueError, match="components"):
        sl.LibraryAction(sl.PolynomialLibrary(1), 2, components=[0, 2])
    with pytest.raises(ValueError, match="outputs"):
        sl.LibraryAction(sl.PolynomialLibrary(1), 2, outputs="vector")
    act = sl.polynomial_vector_fields(2, 1)
    with pytest.raises(ValueError, match="acts on R\\^2"):
        sl.lie_derivative(lambda y: y.sum(-1), act, randn(4, 3))
    with pytest.raises(ValueError, match="discrete"):
        sl.discover(lambda y: y.sum(-1), randn(40, 2), act, discrete=[torch.eye(3, dtype=DT)])


# ------------------------------------------------------------------------------------------ module actions
class _RotScale(torch.nn.Module):
    """Two fields on R^2: the rotation -y d/dx + x d/dy and the scaling x d/dx + y d/dy."""

    def forward(self, x):
        rot = torch.stack([-x[:, 1], x[:, 0]], -1)
        return torch.stack([rot, x], 1)                   # (N, 2, 2)


def test_module_action_in_discover():
    act = sl.ModuleAction(_RotScale().double(), 2)
    res = sl.discover(lambda y: (y ** 2).sum(-1), randn(200, 2, seed=13), act)
    assert res.dim == 1
    c = res.coefficients[0]
    assert abs(abs(float(c[0])) - 1.0) < 1e-10            # the rotation, not the scaling
    assert res.closure_error < 1e-10 and res.identification["name"] == "R"


def test_module_action_errors():
    with pytest.raises(ValueError, match="module: expected fields of shape"):
        sl.ModuleAction(lambda x: x, 2)
    with pytest.raises(TypeError, match="module"):
        sl.ModuleAction(3, 2)
