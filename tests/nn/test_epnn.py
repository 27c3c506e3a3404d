"""Tests of symlie.nn.EPNN (equivariance-promoting networks of basic symmetry blocks, Otto et al.'s E2).

Ground truth:
  * the parameter count of framework.md section 7.4 (4,626 for blocks [3, 3, 1] on R^12) and a hand-written block
    (sigmoid([1, x]^T Q [1, x]) (A x + b));
  * enforce mode against the group action itself (symlie.testing.assert_equivariant: F(rho_in(g) x) =
    rho_out(g) F(x) for sampled group elements, continuous and discrete);
  * the per-block operator against central finite differences of the exact action on one gated layer:
    L_xi [sigmoid(s) z] = sigmoid'(s) (L_xi s) z + sigmoid(s) (L_xi z), with L_xi z = (L A) x + L b and
    L_xi s = y^T (L Q) y read off the operator's rows;
  * the issue's test: data with a hidden so(2) (a teacher enforced under rotations about z), so(3) candidates,
    ADMM promotion in training; the kept algebra is one direction at the z axis, polished to round-off.
"""
from __future__ import annotations

import math

import pytest
import torch

import symlie as sl
from symlie.datasets import pendulum_candidates
from symlie.nn import EPNN, EPNNLayer
from symlie.utils.errors import SymlieError
from _helpers import DT, randn


def _central(fun, h=1e-5):
    return (fun(h) - fun(-h)) / (2 * h)


def _so2_in(alg: sl.LieAlgebra) -> sl.LieAlgebra:
    """The first generator of an orthonormalised so(3)-type algebra (rotations about z)."""
    return alg.orthonormalize().subalgebra(torch.eye(alg.dim, dtype=DT)[:1], name="so(2) about z")


def test_parameter_count_shapes_and_seeded_init():
    net = EPNN(12, [3, 3, 1])
    assert sum(p.numel() for p in net.parameters()) == 4626            # framework.md 7.4: 741 + 3441 + 444
    assert [sum(p.numel() for p in lay.parameters()) for lay in net.layers] == [741, 3441, 444]
    assert all(p.dtype == torch.float32 for p in net.parameters())
    assert all(float(p.detach().abs().max()) <= 0.1 for p in net.parameters())
    x = torch.randn(5, 12)
    assert net(x).shape == (5, 12) and net(x[None]).shape == (1, 5, 12)
    same, other = EPNN(12, [3, 3, 1]), EPNN(12, [3, 3, 1], seed=1)
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), same.parameters()))
    assert not torch.equal(net.layers[0].weight, other.layers[0].weight)
    wide = EPNN(12, [2, 3])
    assert wide(x).shape == (5, 36) and wide.out_features == 36


def test_block_matches_a_hand_computation():
    lay = EPNNLayer(3, 3, 2, gated=True, first=True, dtype=DT, generator=torch.Generator().manual_seed(3),
                    init_scale=1.0)
    x = randn(4, 3, seed=1)
    y = torch.cat([torch.ones(4, 1, dtype=DT), x], 1)
    out = lay(x)
    for k in range(2):
        A, b = lay.weight[k], lay.bias[k]
        Q = torch.zeros(4, 4, dtype=DT)
        iu = torch.triu_indices(4, 4)
        Q[iu[0], iu[1]] = lay.quad[k]                                # s = sum_{i<=j} q_ij y_i y_j
        s = torch.einsum("ni,ij,nj->n", y, Q, y)
        expect = torch.sigmoid(s)[:, None] * (x @ A.T + b)
        assert torch.allclose(out[:, 3 * k: 3 * k + 3], expect, atol=1e-14)
        assert torch.allclose(lay.Q()[k], 0.5 * (Q + Q.T), atol=1e-15)
    lin = EPNNLayer(6, 3, 1, gated=False, dtype=DT)
    z = randn(2, 6, seed=2)
    assert torch.allclose(lin(z), z @ lin.weight[0].T + lin.bias[0], atol=1e-15)


@pytest.mark.parametrize("which", ["so2", "so3", "se3"])
def test_enforce_mode_is_equivariant_to_round_off(which):
    alg = pendulum_candidates(which)
    net = EPNN(12, [2, 1], mode="enforce", group=alg, dtype=DT, seed=0, init_scale=1.0)
    err = sl.testing.assert_equivariant(net, alg, atol=1e-12)          # rep_in Point(G), rep_out V(G) attributes
    assert err < 1e-12
    assert float(net.operator(alg).detach().abs().max()) < 1e-13        # S(theta) = 0 under the enforced group
    assert all(b.dtype == DT for lay in net.layers for b in (lay.basis_ab, lay.basis_q))
    if which == "so2":                                                  # not equivariant under rotations about x
        rot_x = pendulum_candidates("so3")
        with pytest.raises(AssertionError, match="not equivariant"):
            sl.testing.assert_equivariant(net, rot_x, sl.Point(sl.as_group(rot_x)), sl.V(sl.as_group(rot_x)))
    # float32 coefficients on the float64 basis: equivariant to float32 round-off
    net32 = EPNN(12, [2, 1], mode="enforce", group=alg, dtype=torch.float32, seed=0, init_scale=1.0)
    assert sl.testing.assert_equivariant(net32, alg, atol=1e-5) < 1e-5


def test_enforce_with_discrete_generators():
    """O(2)-like: rotations about z plus the reflection y -> -y on every 3-vector (it normalises so(2))."""
    alg = pendulum_candidates("so2")
    refl = torch.block_diag(*[torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=DT))] * 4)
    G = sl.Group(alg, discrete=refl[None], name="O(2) about z")
    net = EPNN(12, [1, 1], mode="enforce", group=G, dtype=DT, init_scale=1.0)
    assert sl.testing.assert_equivariant(net, G, atol=1e-12) < 1e-12
    only_rot = EPNN(12, [1, 1], mode="enforce", group=alg, dtype=DT)
    assert sum(p.numel() for p in net.parameters()) < sum(p.numel() for p in only_rot.parameters())


def test_operator_is_the_lie_derivative_of_a_gated_layer():
    """One gated layer under se(3) on the pendulum state (affine on x1, x2): the operator's rows give
    L_xi F_k(x) = sigmoid'(s_k) (y^T L Q_k y) z_k + sigmoid(s_k) ((L A_k) x + L b_k), compared with central
    finite differences of K_exp(t xi) F (x) = V(g)^{-1} F(Point(g) x)."""
    alg = pendulum_candidates("se3")
    G = sl.as_group(alg)
    net = EPNN(12, [2, 1], mode="promote", dtype=DT, seed=3, init_scale=0.5)
    lay = net.layers[0]
    S = lay.operator(alg)
    B, n, m = 2, 12, 12
    assert S.shape == (B * (n * m + n) + B * (m + 1) ** 2, alg.dim)
    x = randn(5, 12, seed=4)
    y = torch.cat([torch.ones(5, 1, dtype=DT), x], 1)
    A, b, Qs = lay.A, lay.b, lay.Q()
    rin, rout = sl.Point(G), sl.V(G)
    for j in range(alg.dim):
        col = S[:, j]
        LA = col[: B * n * m].reshape(B, n, m)
        Lb = col[B * n * m: B * (n * m + n)].reshape(B, n)
        LQ = col[B * (n * m + n):].reshape(B, m + 1, m + 1)
        pred = []
        for k in range(B):
            s = torch.einsum("ni,ij,nj->n", y, Qs[k], y)
            Ls = torch.einsum("ni,ij,nj->n", y, LQ[k], y)
            z = x @ A[k].T + b[k]
            Lz = x @ LA[k].T + Lb[k]
            sg = torch.sigmoid(s)
            pred.append((sg * (1 - sg) * Ls)[:, None] * z + sg[:, None] * Lz)
        pred = torch.cat(pred, 1).detach()

        def moved(t, j=j):
            g = torch.linalg.matrix_exp(t * alg.basis[j])
            out = lay(rin.act(g, x))
            return torch.cat([rout.act(torch.linalg.inv(g), out[:, 12 * k: 12 * k + 12]) for k in range(B)], 1)
        h = 1e-5
        with torch.no_grad():
            fd = (moved(h) - moved(-h)) / (2 * h)
        assert torch.allclose(pred, fd, atol=1e-8), j
    # the hidden (linear) layer: its input is 2 copies of the linear part V(G), its rows (L A) h + L b
    last = net.layers[1]
    S1 = last.operator(alg)
    h_in = randn(5, 24, seed=5)
    hid = sl.SumRep([rout, rout])
    for j in range(alg.dim):
        pred = (h_in @ S1[: 12 * 24, j].reshape(12, 24).T + S1[12 * 24:, j]).detach()
        with torch.no_grad():
            fd = _central(lambda t, j=j: rout.act(torch.linalg.inv(torch.linalg.matrix_exp(t * alg.basis[j])),
                                                  last(hid.act(torch.linalg.matrix_exp(t * alg.basis[j]), h_in))))
        assert torch.allclose(pred, fd, atol=1e-8), j
    # linear in the parameters, and the network's operator stacks its layers
    full = net.operator(alg)
    assert full.shape[0] == S.shape[0] + net.layers[1].operator(alg).shape[0]
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(-2.5)
    assert torch.allclose(net.layers[0].operator(alg), -2.5 * S, atol=1e-13)


def test_candidates_of_the_wrong_size_and_other_bad_input_are_named():
    net = EPNN(12, [3, 1], mode="promote")
    with pytest.raises(SymlieError, match=r"candidates: so\(3\) acts on R\^3 \(3x3 matrices\), but layer 0 "
                                          r"\(EPNNLayer, input 12 = 1 x 12, blocks of size 12\)"):
        net.operator(sl.so(3))
    with pytest.raises(SymlieError, match=r"layer 1 \(EPNNLayer, input 36 = 3 x 12"):
        net.layers[1].operator(sl.so(3))
    with pytest.raises(TypeError, match="candidates: expected a LieAlgebra or Group"):
        net.operator(torch.zeros(3, 12, 12))
    with pytest.raises(SymlieError, match="candidates: not given"):
        net.operator()
    with pytest.raises(SymlieError, match="mode"):
        EPNN(12, [1], mode="promoted")
    with pytest.raises(SymlieError, match="group: mode='enforce' needs"):
        EPNN(12, [1], mode="enforce")
    with pytest.raises(SymlieError, match="blocks"):
        EPNN(12, [])
    with pytest.raises(SymlieError, match="dtype"):
        EPNN(12, [1], dtype=torch.float16)
    with pytest.raises(TypeError, match="x: expected torch.float32"):
        net(torch.zeros(2, 12, dtype=DT))
    with pytest.raises(ValueError, match="x: expected last dimension 12"):
        net(torch.zeros(2, 3))
    wrapped = torch.nn.Sequential(torch.nn.Linear(12, 12))
    with pytest.raises(TypeError, match="a Linear has no Lie-derivative operator"):
        sl.promote.stacked_operator(wrapped, pendulum_candidates("so3"))


def test_promotion_finds_the_hidden_so2_inside_so3():
    """The issue's test. Data: a teacher EPNN enforced under rotations about z (so it is so(2)- but not
    so(3)-equivariant). A free student trained with the ADMM split over so(3) ends, after polish, with exactly
    one singular value at round-off whose singular vector is the z axis, the two others clearly nonzero."""
    so3 = sl.so(3)
    teacher = EPNN(3, [2, 1], mode="enforce", group=_so2_in(so3), dtype=DT, seed=1, init_scale=1.0)
    X = torch.randn(128, 3, generator=torch.Generator().manual_seed(0), dtype=DT)
    with torch.no_grad():
        Y = teacher(X)
    student = EPNN(3, [2, 1], mode="promote", dtype=DT, seed=2)
    admm = student.promotion(so3, gamma=1e-2, rho=1.0, reweight=True, update_every=10)
    steps = 400
    opt = torch.optim.Adam(student.parameters(), lr=2e-2)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, 1e-2 ** (1 / steps))
    for _ in range(steps):
        loss = ((student(X) - Y) ** 2).mean() + admm.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        admm.update()
    assert float(((student(X) - Y) ** 2).mean().detach()) < 0.2 * float(Y.var())  # it fits the data
    kept = admm.kept()
    assert kept.dim == 1, kept.reason
    res = admm.polish(kept)
    s = res.singular_values
    assert float(s[-1] / s[0]) < 1e-13                                 # exactly one at round-off
    assert float(res.relative[0]) < 1e-13
    assert float(s[1] / s[0]) > 0.1                                    # the others clearly nonzero
    angle = float(sl.linalg.principal_angles(kept.basis, torch.eye(3, dtype=DT)[:, :1])[0])
    assert angle < 0.06                                                # the z axis (first so(3) generator)
    # the polished network is exactly equivariant under the kept one-parameter group, and still fits
    found = so3.subalgebra(kept.basis.T, name="kept")
    Gk = sl.as_group(found)
    assert sl.testing.equivariance_violation(student, found, sl.Point(Gk), sl.V(Gk)) < 1e-12
    assert float(((student(X) - Y) ** 2).mean().detach()) < 0.2 * float(Y.var())
    assert math.isfinite(res.change) and res.change < 0.1
