"""Flows of vector fields (symlie.generators.flows) against closed forms."""
import math
import sys

import pytest
import torch
from torch import nn

from symlie.generators.flows import available_methods, flow, flow_matrix
from symlie.utils.errors import SymlieError

F64 = torch.float64
S_VALUES = (-0.7, 0.3, 1.5)


def rotation(z):
    return torch.stack([-z[..., 1], z[..., 0]], -1)


def rotation_exact(z, s):
    c, si = torch.cos(s), torch.sin(s)
    return torch.stack([z[..., 0] * c - z[..., 1] * si, z[..., 0] * si + z[..., 1] * c], -1)


def points(shape, dtype=F64, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64).to(dtype)


def per_point_s(n_gen, n, dtype=F64):
    """(n_gen, n): generator i gets S_VALUES[i], and point 0 of every generator gets the other values in turn."""
    s = torch.tensor(S_VALUES, dtype=dtype)[:n_gen, None].repeat(1, n)
    s[:, 0] = torch.tensor(S_VALUES[1:] + S_VALUES[:1], dtype=dtype)[:n_gen]
    return s


# 1. rotation --------------------------------------------------------------------------------------------------------

def test_rotation_rk4_per_point_s_float64():
    z0, s = points((3, 6, 2)), per_point_s(3, 6)
    exact = rotation_exact(z0, s)
    # RK4's global error for the rotation is ~ |s| h_s^4 / 120 |z| (h_s = |s| / steps): ~1e-6 at s = 1.5, 20 steps
    err20 = (flow(rotation, z0, s, steps=20) - exact).abs().max().item()
    assert err20 < 2e-6
    err64 = (flow(rotation, z0, s, steps=64) - exact).abs().max().item()
    assert err64 < 1e-8
    # |s| <= 0.7 (a step of at most 0.035 in s): ~1e-8
    small = s.abs() < 1
    assert (flow(rotation, z0, s, steps=20) - exact)[small].abs().max().item() < 5e-8


def test_rotation_rk4_float32_keeps_dtype():
    z0, s = points((3, 6, 2), torch.float32), per_point_s(3, 6, torch.float32)
    out = flow(rotation, z0, s, steps=20)
    assert out.dtype == torch.float32 and out.shape == z0.shape
    assert (out.double() - rotation_exact(z0.double(), s.double())).abs().max().item() < 1e-5
    # a float64 s is cast to the state's dtype
    out64s = flow(rotation, z0, s.double(), steps=20)
    assert out64s.dtype == torch.float32


def test_per_generator_s_and_scalar_s():
    z0 = points((3, 5, 2))
    s_gen = torch.tensor(S_VALUES, dtype=F64)[:, None]                      # (n_gen, 1)
    out = flow(rotation, z0, s_gen, steps=64)
    assert (out - rotation_exact(z0, s_gen.expand(3, 5))).abs().max().item() < 1e-8
    out = flow(rotation, z0, 0.3, steps=64)
    assert (out - rotation_exact(z0, torch.tensor(0.3, dtype=F64))).abs().max().item() < 1e-10
    # s = 0 is the identity, s and -s are inverse
    assert torch.equal(flow(rotation, z0, 0.0), z0)
    back = flow(rotation, flow(rotation, z0, s_gen, steps=64), -s_gen, steps=64)
    assert (back - z0).abs().max().item() < 1e-8


# 2. scaling and Galilean boost ------------------------------------------------------------------------------------

def test_scaling_flow():
    z0, s = points((2, 7, 3)), per_point_s(2, 7)
    out = flow(lambda z: z, z0, s, steps=20)
    exact = torch.exp(s)[..., None] * z0
    # RK4's relative error for exp: |s| h_s^4 / 120 = 3.7e-7 at s = 1.5, 20 steps
    assert ((out - exact).abs() / exact.abs()).max().item() < 5e-7
    assert ((flow(lambda z: z, z0, s, steps=64) - exact).abs() / exact.abs()).max().item() < 5e-9


def test_galilean_boost_exact():
    # v(x, t, u) = (t, 0, 1): phi_s(x, t, u) = (x + s t, t, u + s), polynomial of degree 1 in s: RK4 is exact
    def boost(z):
        return torch.stack([z[..., 1], torch.zeros_like(z[..., 1]), torch.ones_like(z[..., 1])], -1)
    z0, s = points((3, 8, 3)), per_point_s(3, 8)
    exact = torch.stack([z0[..., 0] + s * z0[..., 1], z0[..., 1], z0[..., 2] + s], -1)
    for method, steps in (("rk4", 3), ("midpoint", 2), ("rk4", 1)):
        assert (flow(boost, z0, s, method=method, steps=steps) - exact).abs().max().item() < 1e-12


# 3. convergence order ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, order, lo, hi, n", [("rk4", 4, 12, 20, 8), ("midpoint", 2, 3.5, 4.5, 16),
                                                      ("euler", 1, 1.8, 2.2, 32)])
def test_convergence_order(method, order, lo, hi, n):
    z0, s = points((1, 4, 2)), torch.tensor(1.5, dtype=F64)
    exact = rotation_exact(z0, s)
    errs = [(flow(rotation, z0, s, method=method, steps=k) - exact).abs().max().item() for k in (n, 2 * n)]
    assert lo <= errs[0] / errs[1] <= hi, errs
    # step_size is the same grid as steps = 1 / step_size
    assert torch.equal(flow(rotation, z0, s, method=method, step_size=1 / n), flow(rotation, z0, s, method=method,
                                                                                      steps=n))


# 4. times ---------------------------------------------------------------------------------------------------------

def test_times_are_flows_with_fractions_of_s():
    z0, s = points((3, 5, 2)), torch.tensor(S_VALUES, dtype=F64)[:, None]
    states = flow(rotation, z0, s, steps=40, times=[0.25, 0.5, 0.75, 1.0])
    assert states.shape == (4, 3, 5, 2)
    for k in range(4):
        r = (k + 1) / 4
        # the same grid (10 steps per quarter): equal to rounding
        same = flow(rotation, z0, s * r, steps=10 * (k + 1))
        assert (states[k] - same).abs().max().item() < 1e-14
        assert (states[k] - rotation_exact(z0, s.expand(3, 5) * r)).abs().max().item() < 1e-7
    # the last state is the plain flow, and a tensor of times works too
    assert torch.equal(states[-1], flow(rotation, z0, s, steps=40))
    assert torch.equal(flow(rotation, z0, s, steps=40, times=torch.tensor([0.25, 0.5, 0.75, 1.0])), states)
    # a step count that does not divide: each quarter gets ceil(steps / 4) steps, the states stay on the quarters
    q = flow(rotation, z0, s, steps=10, times=[0.25, 0.5, 0.75, 1.0])
    assert (q[1] - flow(rotation, z0, s / 2, steps=6)).abs().max().item() < 1e-14


def test_times_ending_before_one():
    z0 = points((4, 2))
    states = flow(rotation, z0, 1.0, steps=40, times=[0.3, 0.6])
    exact = torch.stack([rotation_exact(z0, torch.tensor(r, dtype=F64)) for r in (0.3, 0.6)])
    assert (states - exact).abs().max().item() < 1e-8


# 5. gradients -----------------------------------------------------------------------------------------------------

def test_ds_flow_is_field_at_flow():
    z0 = points((3, 6, 2))
    s = per_point_s(3, 6).requires_grad_(True)
    out = flow(rotation, z0, s, steps=64)
    # each point depends only on its own s: d out[..., k] / d s = grad of out[..., k].sum()
    ds = torch.stack([torch.autograd.grad(out[..., k].sum(), s, retain_graph=True)[0] for k in range(2)], -1)
    assert (ds - rotation(out.detach())).abs().max().item() < 1e-7


def test_gradcheck_through_rk4_linear_module():
    torch.manual_seed(0)
    lin = nn.Linear(2, 2).double()
    z0 = points((2, 3, 2)).requires_grad_(True)
    s = torch.tensor([[0.4], [-0.6]], dtype=F64, requires_grad=True)

    def f(w, b, z, s_):
        return flow(lambda z_: z_ @ w.T + b, z, s_, method="rk4", steps=3)

    params = tuple(p.detach().clone().requires_grad_(True) for p in (lin.weight, lin.bias))
    assert torch.autograd.gradcheck(f, params + (z0, s))
    # backprop reaches the module's own parameters, with the gradients of the explicit closure
    flow(lin, z0, s, steps=3).square().sum().backward()
    f(*params, z0, s).square().sum().backward()
    for p, q in zip((lin.weight, lin.bias), params):
        assert p.grad is not None and bool(p.grad.abs().sum() > 0)
        assert torch.allclose(p.grad, q.grad, rtol=1e-12, atol=1e-12)


# 6. flow_matrix ---------------------------------------------------------------------------------------------------

def test_flow_matrix_vs_flow():
    A = points((3, 3), seed=1) * 0.5
    z0 = points((2, 5, 3), seed=2)
    for s in (0.8, torch.tensor([[0.8], [-0.5]], dtype=F64), per_point_s(2, 5)):
        exact = flow_matrix(A, z0, s)
        num = flow(lambda z: z @ A.T, z0, s, steps=64)
        assert (exact - num).abs().max().item() < 1e-9
    # a stack of generators, generator i on copy i
    As = torch.stack([A, -A.T])
    s = per_point_s(2, 5)
    out = flow_matrix(As, z0, s)
    for i in range(2):
        assert (out[i] - flow_matrix(As[i], z0[i], s[i])).abs().max().item() < 1e-13
    # the rotation generator
    R = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=F64)
    z2 = points((3, 4, 2))
    s2 = per_point_s(3, 4)
    assert (flow_matrix(R, z2, s2) - rotation_exact(z2, s2)).abs().max().item() < 1e-13
    assert flow_matrix(R.float(), z2.float(), 0.3).dtype == torch.float32


def test_flow_matrix_bad_input():
    with pytest.raises(SymlieError, match="A: expected a \\(3, 3\\)"):
        flow_matrix(torch.eye(2), points((4, 3)), 0.1)
    with pytest.raises(SymlieError, match="A: the stack shape"):
        flow_matrix(torch.eye(3).repeat(3, 1, 1), points((2, 4, 3)), 0.1)
    with pytest.raises(SymlieError, match="s: expected"):
        flow_matrix(torch.eye(3), points((2, 4, 3)), torch.zeros(3))


# 7. torchdiffeq ---------------------------------------------------------------------------------------------------

def test_dopri5_rotation():
    pytest.importorskip("torchdiffeq")
    z0, s = points((3, 6, 2)), per_point_s(3, 6)
    out = flow(rotation, z0, s, method="dopri5")
    assert out.shape == z0.shape and out.dtype == F64
    assert (out - rotation_exact(z0, s)).abs().max().item() < 1e-7
    states = flow(rotation, z0, s, method="torchdiffeq-dopri5", times=[0.5, 1.0], rtol=1e-10, atol=1e-12)
    assert (states[0] - rotation_exact(z0, s / 2)).abs().max().item() < 1e-9
    # torchdiffeq's fixed-grid rk4 (3/8 rule) on our step grid: an O(h^4) method as well
    td = flow(rotation, z0, s, method="torchdiffeq-rk4", steps=64)
    assert (td - rotation_exact(z0, s)).abs().max().item() < 1e-8


def test_adjoint_matches_backprop():
    pytest.importorskip("torchdiffeq")
    torch.manual_seed(0)
    field = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2)).double()
    z0 = points((3, 4, 2))
    s = torch.tensor(S_VALUES, dtype=F64)[:, None]

    def grads(**kw):
        z = z0.clone().requires_grad_(True)
        s_ = s.clone().requires_grad_(True)
        field.zero_grad()
        loss = flow(field, z, s_, **kw).square().sum()
        loss.backward()
        return [z.grad, s_.grad] + [p.grad.clone() for p in field.parameters()], loss.item()

    ref, loss_ref = grads(method="rk4", steps=20)
    for kw in ({"method": "rk4", "steps": 20, "adjoint": True}, {"method": "dopri5", "adjoint": True},
               {"method": "rk4", "steps": 20, "adjoint": True, "params": list(field.parameters())}):
        got, loss = grads(**kw)
        assert abs(loss - loss_ref) < 1e-6
        for a, b in zip(got, ref):
            assert (a - b).abs().max().item() < 1e-6, kw


def test_adjoint_needs_params_for_plain_callables():
    pytest.importorskip("torchdiffeq")
    with pytest.raises(SymlieError, match="params"):
        flow(rotation, points((4, 2)), 0.3, adjoint=True)
    z = points((4, 2)).requires_grad_(True)
    flow(rotation, z, 0.3, adjoint=True, params=()).sum().backward()
    assert z.grad is not None


def test_torchdiffeq_missing_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchdiffeq", None)        # import torchdiffeq now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'symlie\[ode\]'"):
        flow(rotation, points((4, 2)), 0.3, method="dopri5")
    with pytest.raises(ImportError, match=r"pip install 'symlie\[ode\]'"):
        flow(rotation, points((4, 2)), 0.3, adjoint=True, params=())
    # the fixed-step solvers do not need it
    assert flow(rotation, points((4, 2)), 0.3).shape == (4, 2)


# 8. bad input -----------------------------------------------------------------------------------------------------

def test_bad_input():
    z0 = points((3, 4, 2))
    with pytest.raises(SymlieError, match="field: returned a velocity of shape \\(3, 4\\)"):
        flow(lambda z: z[..., 0], z0, 0.3)
    with pytest.raises(SymlieError, match="field: returned dtype"):
        flow(lambda z: z.float(), z0, 0.3)
    with pytest.raises(SymlieError, match="field: expected a callable"):
        flow(lambda z: z.numpy(), z0, 0.3)
    bad = z0.clone()
    bad[1, 2, 0] = math.nan
    with pytest.raises(ValueError, match="z0: contains 1 NaN"):
        flow(rotation, bad, 0.3)
    with pytest.raises(SymlieError, match="method: unknown ODE method 'rk5'.*rk4.*dopri5"):
        flow(rotation, z0, 0.3, method="rk5")
    with pytest.raises(ValueError, match="steps: expected an int >= 1"):
        flow(rotation, z0, 0.3, steps=0)
    with pytest.raises(SymlieError, match="steps, step_size: pass one"):
        flow(rotation, z0, 0.3, steps=4, step_size=0.25)
    with pytest.raises(SymlieError, match="step_size"):
        flow(rotation, z0, 0.3, step_size=0.0)
    for times in ([0.5, 0.25], [0.0, 1.0], [0.5, 1.5], [0.5, 0.5], []):
        with pytest.raises(SymlieError, match="times: expected"):
            flow(rotation, z0, 0.3, times=times)
    with pytest.raises(SymlieError, match="s: expected a number or a tensor broadcastable"):
        flow(rotation, z0, torch.zeros(4, 3))
    with pytest.raises(SymlieError, match="steps, step_size: only for fixed-step"):
        flow(rotation, z0, 0.3, method="dopri5", steps=10)
    assert "rk4" in available_methods() and "torchdiffeq-dopri5" in available_methods()


def test_blow_up_names_the_step():
    # dz/ds = z^2 from z0 = 1 blows up at s = 1; Euler overflows to inf after a few steps at s = 1e3
    with pytest.raises(SymlieError, match=r"non-finite .* at step \d+ of 20"):
        flow(lambda z: z * z, torch.ones(2, 1, dtype=F64), 1e3, method="euler", steps=20)


def test_dopri5_blow_up_is_an_error():
    pytest.importorskip("torchdiffeq")
    with pytest.raises(SymlieError, match="torchdiffeq method 'dopri5' stopped"):
        flow(lambda z: z * math.nan, torch.ones(2, 1, dtype=F64), 1.0, method="dopri5")
