"""Tests of symlie.datasets.pendulum (DoubleSpringPendulum, pendulum_candidates): the data of experiment E2.

Ground truth: Hamilton's equations from autograd of the Hamiltonian (independent of the hand-written field); the
energy H conserved along every generated chunk; consecutive states related by the exact flow (our RK4 with small
steps through symlie.generators.flow); the field's symmetry checked against explicit rotation matrices and with
symlie's Lie derivative (tangent lift): rotations about z are exact symmetries, rotations about x / y and the
translations of se(3) are not.
"""
from __future__ import annotations

import math

import pytest
import torch

import symlie as sl
from symlie.datasets import DoubleSpringPendulum, pendulum_candidates
from symlie.generators import flow
from symlie.nn import NeuralODE, ode_rollout_mse
from symlie.utils.errors import SymlieError
from _helpers import DT, randn


@pytest.fixture(scope="module")
def data():
    return DoubleSpringPendulum(24, seed=3)


def _rot(axis: int, a: float) -> torch.Tensor:
    """Rotation by a about coordinate axis ``axis`` on R^3, repeated block-diagonally on the four 3-vectors."""
    c, s = math.cos(a), math.sin(a)
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R = torch.eye(3, dtype=DT)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return torch.block_diag(R, R, R, R)


def _states(n, seed):
    z = randn(n, 12, seed=seed, scale=0.3)
    z[:, 2] -= 1.5
    z[:, 5] -= 3.0
    return z


def test_vector_field_is_hamiltons_equations():
    z = _states(16, 0).requires_grad_(True)
    H = DoubleSpringPendulum.hamiltonian(z).sum()
    (g,) = torch.autograd.grad(H, z)
    expect = torch.cat([g[:, 6:], -g[:, :6]], 1)                        # x' = dH/dp, p' = -dH/dx
    assert torch.allclose(DoubleSpringPendulum.vector_field(z.detach()), expect, atol=1e-14)
    # the Hamiltonian as written: second spring without 1/2, g = 1
    x1 = torch.tensor([[0.0, 0.0, -2.0]], dtype=DT)
    x2 = torch.tensor([[0.0, 0.0, -5.0]], dtype=DT)
    p = torch.tensor([[1.0, 0, 0, 0, 2.0, 0]], dtype=DT)
    zz = torch.cat([x1, x2, p], 1)
    assert float(DoubleSpringPendulum.hamiltonian(zz)) == pytest.approx(0.5 + 2.0 + 0.5 * 1 + 2.0 ** 2 - 2 - 5)


def test_chunks_follow_the_exact_flow_and_conserve_energy(data):
    assert data.chunks.shape == (24, 5, 12) and data.chunks.dtype == DT
    assert torch.allclose(data.times, torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8], dtype=DT))
    H = DoubleSpringPendulum.hamiltonian(data.chunks)
    assert float((H - H[:, :1]).abs().max()) < 1e-7
    # one step of the exact flow (RK4, step 1e-3) maps each state to the next
    nxt = flow(DoubleSpringPendulum.vector_field, data.chunks[:, 0], 0.2, method="rk4", steps=200)
    assert torch.allclose(nxt, data.chunks[:, 1], atol=1e-8)
    # a neural ODE with the exact field has (numerically) zero rollout error
    class Exact(torch.nn.Module):
        def forward(self, z):
            return DoubleSpringPendulum.vector_field(z)
    assert float(ode_rollout_mse(NeuralODE(Exact(), step_size=0.01), data.chunks, data.times).max()) < 1e-11


def test_protocol_seed_chunks_and_split(data):
    assert data.n_chunks == 30 and int(data.chunk_index.min()) >= 0 and int(data.chunk_index.max()) < 30
    assert torch.allclose(data.t0, 5 * 0.2 * data.chunk_index.to(DT))
    a, b, c = (DoubleSpringPendulum(6, integration_time=2.0, seed=s) for s in (3, 3, 4))
    assert torch.equal(a.chunks, b.chunks) and not torch.equal(a.z0, c.z0)
    # initial conditions: x1 near (0, 0, -1.5), x2 near (0, 0, -3), spread 0.2; momenta spread 0.4
    big = DoubleSpringPendulum(400, integration_time=1.0, seed=0)
    z0 = big.z0
    assert torch.allclose(z0[:, :6].mean(0), torch.tensor([0, 0, -1.5, 0, 0, -3.0], dtype=DT), atol=0.05)
    assert torch.allclose(z0.std(0), torch.tensor([0.2] * 6 + [0.4] * 6, dtype=DT), rtol=0.15)
    tr, va, te = data.split(seed=0, sizes=(8, 8, 8))
    rows = torch.cat([tr, va, te]).reshape(24, -1)
    assert torch.unique(rows, dim=0).shape[0] == 24                     # a permutation: disjoint, complete
    tr2, _, _ = data.split(seed=0, sizes=(8, 8, 8))
    tr3, _, _ = data.split(seed=1, sizes=(8, 8, 8))
    assert torch.equal(tr, tr2) and not torch.equal(tr, tr3)


def test_field_is_equivariant_under_z_rotations_only():
    z = _states(32, 1)
    f = DoubleSpringPendulum.vector_field
    for a in (0.3, 1.7, -2.4):
        R = _rot(2, a)
        assert torch.allclose(f(z @ R.T), f(z) @ R.T, atol=1e-14)
        Rx = _rot(0, a)
        assert float((f(z @ Rx.T) - f(z) @ Rx.T).abs().max()) > 0.1
    # the same with symlie's operator: L_xi f = [v_xi, f] vanishes for so(2) only
    so3 = pendulum_candidates("so3")
    L = sl.lie_derivative_dynamics(f, so3, z, sl.V(sl.as_group(so3)))      # (3, N, 12)
    rms = L.pow(2).mean((1, 2)).sqrt()
    assert float(rms[0]) < 1e-14 and float(rms[1:].min()) > 0.1
    se3 = pendulum_candidates("se3")
    Ls = sl.lie_derivative_dynamics(f, se3, z, sl.Point(sl.as_group(se3)))
    assert float(Ls[3:].pow(2).mean().sqrt()) > 0.1                    # translations are broken (spring to 0)
    data_rep = DoubleSpringPendulum(2, integration_time=1.0)
    g = data_rep.group.sample(1, generator=torch.Generator().manual_seed(0))[0]
    assert torch.allclose(f(data_rep.rep.act(g, z)), data_rep.rep.act(g, f(z)), atol=1e-13)


def test_candidates():
    so3, se3, so2 = (pendulum_candidates(k) for k in ("so3", "se3", "so2"))
    assert (so3.dim, so3.matrix_size, se3.dim, se3.matrix_size, so2.dim) == (3, 12, 6, 13, 1)
    assert so3.is_orthonormal() and se3.is_orthonormal() and so2.is_orthonormal()
    assert se3.affine and not so3.affine
    # so(2): E_01 - E_10 on each 3-vector
    expect = torch.block_diag(*[torch.tensor([[0, 1.0, 0], [-1.0, 0, 0], [0, 0, 0]], dtype=DT)] * 4) / math.sqrt(8)
    assert torch.allclose(so2.basis[0].abs(), expect.abs(), atol=1e-15)
    # se(3) translations move x1 and x2 together, never the momenta
    t = se3.translation_part()
    assert float(t[:, 6:].abs().max()) == 0 and torch.allclose(t[:, :3], t[:, 3:6])


def test_bad_input_is_named(data):
    with pytest.raises(SymlieError, match="name: expected one of"):
        pendulum_candidates("so4")
    with pytest.raises(SymlieError, match="sizes"):
        data.split(sizes=(20, 20, 20))
    with pytest.raises(SymlieError, match="dt"):
        DoubleSpringPendulum(2, dt=0.0)
    with pytest.raises(SymlieError, match="chunk_len"):
        DoubleSpringPendulum(2, chunk_len=10, integration_time=1.0)
    with pytest.raises(ValueError, match="n_systems"):
        DoubleSpringPendulum(0)
    with pytest.raises(SymlieError, match=r"z: expected states \(\.\.\., 12\)"):
        DoubleSpringPendulum.vector_field(torch.zeros(3, 6, dtype=DT))
