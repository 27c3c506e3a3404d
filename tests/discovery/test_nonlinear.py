"""Nonlinear symmetries through the same `discover` call: function-library Actions, and the default rank
rule on trained models."""
from __future__ import annotations

import pytest
import torch

import symlie as sl
from _helpers import DT, randn



def test_x_exp_minus_y2_has_exactly_the_nonlinear_symmetry():
    """f(x, y) = x exp(-y^2): L_v f = exp(-y^2) (v_x - 2 x y v_y), so among all vector fields with polynomial
    coefficients of degree <= 2 (12 generators) the only symmetry is 2 x y d/dx + d/dy."""
    act = sl.polynomial_vector_fields(2, 2, input_names=["x", "y"])
    assert act.dim == 12
    res = sl.discover(lambda z: z[:, 0] * torch.exp(-z[:, 1] ** 2), randn(400, 2, seed=1), act)
    assert res.dim == 1, res.summary()
    assert res.gap_ratio > 1e10
    names = act.feature_names()
    truth = torch.zeros(12, dtype=DT)
    truth[0 * 6 + names.index("x y")] = 2.0                # 2 x y d/dx
    truth[1 * 6 + names.index("1")] = 1.0                  # d/dy
    truth = truth / truth.norm()
    c = res.coefficients[0]
    assert abs(abs(float(c @ truth)) - 1.0) < 1e-12
    assert res.closure_error == 0.0 and res.identification["name"] == "R"
    d = res.describe()[0]
    assert "x y d/dx" in d and "d/dy" in d
    # the field really leaves f invariant along its flow (RK4 of the exact field)
    x = randn(50, 2, seed=2)
    y = act.flow(c, x, t=0.3, steps=200)
    f = lambda z: z[:, 0] * torch.exp(-z[:, 1] ** 2)  # noqa: E731
    assert torch.allclose(f(y), f(x), atol=1e-9)


def test_linear_fields_recover_so3_identified_from_structure_constants():
    """|x|^2 with all linear vector fields on R^3 (a LibraryAction, not matrices): so(3), named from the
    Killing form of the numerically computed brackets of vector fields."""
    act = sl.LibraryAction(sl.PolynomialLibrary(1, include_bias=False), 3)
    res = sl.discover(lambda x: (x ** 2).sum(-1), randn(300, 3, seed=3), act)
    assert res.dim == 3 and res.identification["name"] == "so(3)"
    assert res.closure_error < 1e-12


def test_dynamics_with_library_fields():
    """The rotation x' = -y, y' = x commutes with the affine fields I and J only (translations do not)."""
    act = sl.polynomial_vector_fields(2, 1)                # 6 affine fields
    f = lambda x: torch.stack([-x[:, 1], x[:, 0]], -1)  # noqa: E731
    res = sl.discover(f, randn(100, 2, seed=4), act, dynamics=True)
    assert res.dim == 2 and res.identification["abelian"]


@pytest.mark.slow
def test_default_rule_finds_so22_in_a_trained_mlp():
    """The issue's case: an MLP fitted to x0^2 + x1^2 - x2^2 - x3^2 (candidates gl(4)) has its symmetric
    values at the fit error, ~1e-2 relative: the old default (rtol 1e-6) found nothing, the auto rule finds so(2,2)."""
    from symlie.models import fit_mlp
    X = randn(2000, 4, seed=0)
    Y = X[:, 0] ** 2 + X[:, 1] ** 2 - X[:, 2] ** 2 - X[:, 3] ** 2
    net = fit_mlp(X, Y, hidden=(64, 64), steps=2000, seed=0)
    res = sl.discover(net, randn(1000, 4, seed=5), sl.gl(4))
    assert res.dim == 6 and res.identification["name"] == "so(2,2)", res.summary()
    assert sl.discover(net, randn(1000, 4, seed=5), sl.gl(4), rule="rtol").dim == 0
