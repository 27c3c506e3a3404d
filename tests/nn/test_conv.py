"""Field CNN layers: their Lie-derivative operators against the commutator L_out T - T L_in of the exact layer,
the discrete rotation-invariant kernel spaces, promotion of a hidden rotation symmetry, and bad input."""
import math

import pytest
import torch
import torch.nn.functional as F

import symlie as sl
from symlie.generators import accuracy, rotate_images, train_classifier
from symlie.nn import FieldCNN, FieldConv2d, FieldLinear, plane_generators
from symlie.utils.errors import SymlieError

DT = torch.float64
POINT = sl.Point(sl.SE(2))


def _grid(n):
    x = torch.arange(n, dtype=DT) - (n - 1) / 2
    return torch.meshgrid(x, x, indexing="ij")


def _field_L(u, H, method):
    n = u.shape[-1]
    return sl.lie_derivative_grid(u, H, rep_domain=POINT, method=method, origin=[(n - 1) / 2] * 2)


def test_plane_generators_shapes_and_refusals():
    H = plane_generators(sl.se(2))
    assert H.shape == (3, 3, 3) and H.dtype == DT
    assert plane_generators(sl.so(2)).shape == (1, 3, 3)                  # linear: homogeneous with b = 0
    assert plane_generators(sl.SE(2)).shape == (3, 3, 3)
    with pytest.raises(SymlieError, match="candidates.*R\\^3"):
        plane_generators(sl.so(3))
    with pytest.raises(TypeError, match="candidates"):
        plane_generators("se2")


@pytest.mark.parametrize("alg", ["se2", "sim2"])
def test_conv_operator_is_the_commutator(alg):
    """Conv with kernel L_xi kappa = L_out T u - T L_in u for smooth fields (the trace term matters for scaling)."""
    cands = sl.se(2) if alg == "se2" else sl.sim(2)
    N, K = 64, 25
    torch.manual_seed(0)
    conv = FieldConv2d(1, 1, K, bias=False).double()
    Z1, Z2 = _grid(K)
    with torch.no_grad():
        conv.weight.copy_(torch.exp(-((Z1 - 1.5) ** 2 + (Z2 + 1) ** 2 / 2) / 12).reshape(1, 1, K, K))
    X1, X2 = _grid(N)
    u = torch.exp(-((X1 - 3) ** 2 + 0.5 * (X2 + 2) ** 2) / 25).reshape(1, 1, N, N)
    H = plane_generators(cands)
    with torch.no_grad():
        comm = _field_L(conv(u), H, "spectral") - conv(_field_L(u, H, "spectral").reshape(-1, 1, N, N)).reshape(
            len(H), 1, 1, N, N)
        Lk = conv.kernel_lie_derivative(cands)                      # (q, 1, 1, K + 2, K + 2)
        p = (K + 1) // 2
        pred = torch.stack([F.conv2d(F.pad(u, (p,) * 4, mode="circular"), Lk[j]) for j in range(len(H))])
    for j in range(len(H)):
        scale = float(comm[j].abs().max())
        if scale < 1e-10:                                           # translations: exactly zero on both sides
            assert float(pred[j].abs().max()) == 0.0
        else:
            assert float((comm[j] - pred[j]).abs().max()) < 0.05 * scale


def test_conv_translation_columns_vanish_and_operator_layout():
    conv = FieldConv2d(3, 4, 5, seed=1)
    S = conv.operator(sl.se(2)).detach()
    assert S.shape == (4 * 3 * 7 * 7, 3)
    assert float(S[:, 1:].abs().max()) == 0.0 and float(S[:, 0].abs().max()) > 0
    # linear in the weight
    w = conv.weight.detach().clone()
    with torch.no_grad():
        conv.weight.mul_(2.5)
    assert torch.allclose(conv.operator(sl.se(2)).detach(), 2.5 * S, atol=1e-6)
    conv.weight.data.copy_(w)


@pytest.mark.parametrize("K,nullity", [(3, 2), (5, 3), (7, 4)])
def test_rotation_invariant_kernel_spaces(K, nullity):
    """The kernels the rotation operator annihilates: the discrete radial profiles (delta, rings)."""
    conv = FieldConv2d(1, 1, K, bias=False).double()
    cols = []
    for i in range(K * K):
        with torch.no_grad():
            conv.weight.zero_()
            conv.weight.view(-1)[i] = 1.0
        cols.append(conv.operator(sl.so(2))[:, 0].detach())
    ns = sl.nullspace(torch.stack(cols, 1), rule="rtol", rtol=1e-10)
    assert ns.basis.shape[1] == nullity
    # every annihilated kernel is invariant under the quarter turn (a consequence checked, not assumed)
    B = ns.basis.T.reshape(-1, K, K)
    assert float((torch.rot90(B, 1, (1, 2)) - B).abs().max()) < 1e-10


def test_head_operator_is_the_exact_adjoint():
    """L_xi phi(u) = -phi(L_xi u) = sum (L_xi w) . u exactly for se(2) on the periodic grid."""
    torch.manual_seed(0)
    head = FieldLinear(2, (12, 12), 3).double()
    u = torch.randn(4, 2, 12, 12, dtype=DT)
    H = plane_generators(sl.se(2))
    with torch.no_grad():
        Lu = _field_L(u, H, "fd")                                        # (q, 4, 2, 12, 12)
        lhs = -torch.stack([head(Lu[j]) - head.bias for j in range(3)])  # (q, 4, 3)
        Lw = head.weight_lie_derivative(sl.se(2))                       # (q, 3, 2, 12, 12)
        rhs = torch.einsum("qocij,ncij->qno", Lw, u)
    assert torch.allclose(lhs, rhs, atol=1e-12)
    # constant weights (global average pooling) are translation invariant, not rotation invariant at the torus
    with torch.no_grad():
        head.weight.fill_(0.3)
    S = head.operator(sl.se(2)).detach()
    assert float(S[:, 1:].abs().max()) < 1e-14


def test_field_cnn_forward_operator_and_exact_symmetry_after_projection():
    net = FieldCNN((9, 9), channels=(2, 2), kernel_size=3, n_classes=3, seed=0).double()
    x = torch.randn(5, 1, 9, 9, dtype=DT)
    assert net(x).shape == (5, 3) and net.features(x).shape == (5, 2, 9, 9)
    S = net.operator().detach()
    assert S.shape == (2 * 1 * 25 + 2 * 2 * 25 + 3 * 2 * 81, 3)
    # project every layer onto exact se(2) symmetry by the generic polish: then the network is invariant under
    # shifts and quarter turns of the torus (an odd grid: central differences annihilate only constant heads)
    prom = net.promotion(gamma=0.0)
    res = prom.polish(torch.eye(3, dtype=DT))
    assert float(res.kept_singular_values.max()) < 1e-12 * float(res.kept_before.max())
    y = net(x)
    assert torch.allclose(net(torch.roll(x, (2, 3), (2, 3))), y, atol=1e-10)
    assert torch.allclose(net(torch.rot90(x, 1, (2, 3))), y, atol=1e-10)
    assert torch.allclose(net(rotate_images(x, math.pi / 2)), y, atol=1e-10)


def test_even_grid_heads_keep_the_checkerboard():
    """On an even periodic grid central differences also annihilate the period-2 patterns (documented): the
    translation nullspace of the head has dimension 4 per map there, 1 on an odd grid."""
    for n, dim in ((8, 4), (9, 1)):
        head = FieldLinear(1, (n, n), 1).double()
        cols = []
        for i in range(n * n):
            with torch.no_grad():
                head.weight.zero_()
                head.weight.view(-1)[i] = 1.0
            cols.append(head.operator(sl.t(2)).detach().T.reshape(-1))
        assert sl.nullspace(torch.stack(cols, 1), rule="rtol", rtol=1e-10).basis.shape[1] == dim


def test_field_layers_bad_input():
    with pytest.raises(ValueError, match="kernel_size"):
        FieldConv2d(1, 2, 4)
    conv = FieldConv2d(1, 2, 3)
    with pytest.raises(ValueError, match="x: expected fields of shape \\(N, 1, H, W\\)"):
        conv(torch.zeros(2, 3, 8, 8))
    with pytest.raises(SymlieError, match="candidates"):
        conv.operator(sl.so(3))
    head = FieldLinear(2, (8, 8), 3)
    with pytest.raises(ValueError, match="8 x 8"):
        head(torch.zeros(1, 2, 6, 6))
    with pytest.raises(ValueError, match="grid"):
        FieldLinear(2, 8, 3)
    with pytest.raises(SymlieError, match="group"):
        FieldCNN(group=sl.so(3))
    with pytest.raises(SymlieError, match="candidates"):
        FieldCNN().promotion(sl.se(3), gamma=1.0)
    with pytest.raises(TypeError, match="promotion"):
        net = FieldCNN((8, 8), channels=(2,), kernel_size=3)
        X, y = torch.zeros(4, 1, 8, 8), torch.zeros(4, dtype=torch.int64)
        train_classifier(net, (X, y), (X, y), epochs=1, promotion="admm", progress=False)
    other = FieldCNN((8, 8), channels=(2,), kernel_size=3, seed=3)
    with pytest.raises(ValueError, match="promotion: its parameters"):
        train_classifier(net, (X, y), (X, y), epochs=1, promotion=other.promotion(gamma=1.0), progress=False)


def _radius_task(n, seed, size=12):
    """One Gaussian spot at radius 1.5 (class 0) or 4 (class 1) from the centre, at a uniform angle: the labels are
    rotation invariant and not translation invariant."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    th = torch.rand(n, generator=g) * 2 * math.pi
    r = torch.where(y == 0, 1.5, 4.0)
    c = (size - 1) / 2
    i = torch.arange(size, dtype=torch.float32)
    I, J = torch.meshgrid(i, i, indexing="ij")
    ci, cj = c + r * torch.cos(th), c + r * torch.sin(th)
    X = torch.exp(-((I - ci[:, None, None]) ** 2 + (J - cj[:, None, None]) ** 2) / 2)
    return X[:, None], y


@pytest.mark.slow
def test_promotion_keeps_the_hidden_rotation_of_a_cnn():
    """Trained with ADMM over se(2) on rotation-invariant labels, the CNN keeps exactly the rotation (after polish:
    one singular value at float32 round-off, about the rotation generator) and breaks both translations."""
    torch.manual_seed(0)
    train, val = _radius_task(256, 0), _radius_task(256, 1)
    net = FieldCNN((12, 12), channels=(2,), kernel_size=3, n_classes=2, seed=0)
    prom = net.promotion(gamma=0.07, update_every=10, reweight=False)
    steps, hold = 600, 300

    def factor(e):
        return 1.0 if e < hold else 1e-3 ** ((e - hold) / (steps - 1 - hold))

    train_classifier(net, train, val, epochs=steps, batch_size=256, lr=1e-2, promotion=prom, select="loss",
                     scheduler=lambda o: torch.optim.lr_scheduler.LambdaLR(o, factor), val_every=steps,
                     progress=False)
    kept = prom.kept()
    assert kept.basis.shape[1] == 1
    assert abs(float(kept.basis[0, 0])) > 0.999                      # the rotation, not a translation
    res = prom.polish()
    assert float(res.relative.max()) < 1e-5
    s = res.singular_values / res.singular_values[0]
    assert float(s[1]) > 0.3                                          # the translations stay broken
    assert accuracy(net, *val) > 0.95


def test_train_classifier_with_promotion_logs_and_resumes_exactly(tmp_path):
    """The ADMM split runs after every step, its terms are logged, and Z / U are checkpointed: a run stopped after
    2 epochs and resumed to 4 ends with the same parameters and Z as a straight 4-epoch run."""
    X, y = _radius_task(48, 2, size=9)
    tr, va = (X[:32], y[:32]), (X[32:], y[32:])

    def run(epochs, ckpt=None, resume=None):
        net = FieldCNN((9, 9), channels=(2,), kernel_size=3, n_classes=2, seed=0)
        prom = net.promotion(gamma=0.05, update_every=2)
        res = train_classifier(net, tr, va, epochs=epochs, batch_size=8, lr=1e-2, promotion=prom, seed=1,
                               checkpoint=ckpt, resume_from=resume, progress=False)
        return net, prom, res

    net, prom, res = run(4)
    assert {"penalty", "cross_entropy"} <= set(res.history[-1]["terms"]) and res.history[-1]["step"] == 16
    assert int(prom.n_calls) == 4 * res.best_epoch               # the selected state, its split included
    ck = tmp_path / "c.pt"
    run(2, ckpt=ck)
    net2, prom2, _ = run(4, resume=ck)
    assert all(torch.equal(a, b) for a, b in zip(net.parameters(), net2.parameters()))
    assert torch.equal(prom.Z, prom2.Z) and torch.equal(prom.U, prom2.U)
