"""EMLP's synthetic benchmarks (symlie.datasets): shapes, seeding, split, standardization, fidelity to EMLP's
definitions, and exact symmetry of the targets (finite group elements, discrete components, Lie derivative)."""
import inspect

import numpy as np
import pytest
import torch

import symlie as sl
from symlie.datasets import (N_SAMPLES, N_TEST, N_VAL, TRAIN_SIZES, Inertia, O5Synthetic, ParticleInteraction,
                             Stats)

CLASSES = [O5Synthetic, Inertia, ParticleInteraction]
SHAPES = {O5Synthetic: (10, 1), Inertia: (20, 9), ParticleInteraction: (16, 1)}
# the group, its matrix size, and the dimension of the symmetry algebra inside gl(n). The inertia tensor is
# quadratic in the positions and T(2) scales quadratically too, so it is equivariant under so(3) + scaling
# (the conformal group CO(3)), one dimension more than the O(3) EMLP declares.
SYMMETRY = {O5Synthetic: ("O(5)", 5, 10), Inertia: ("O(3)", 3, 4), ParticleInteraction: ("O(1,3)", 4, 6)}
N = 300


def _ids(c):
    return c.__name__


@pytest.fixture(scope="module")
def datasets():
    return {C: C(N, seed=7) for C in CLASSES}


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max().clamp(min=1e-300))


# ------------------------------------------------------------------ EMLP's definitions, transcribed in numpy
def _emlp_reference(C, z):
    """EMLP's emlp/datasets.py, transcribed line by line in numpy, on the same standard normal draws z.
    Returns (X, Y, (Xmean, Xscale, Ymean, Ystd))."""
    n = z.shape[0]
    if C is Inertia:
        k = 5
        X = z.copy()
        X[:, :k] = np.log(1 + np.exp(X[:, :k]))  # Masses
        mi = X[:, :k]
        ri = X[:, k:].reshape(-1, k, 3)
        I = np.eye(3)
        r2 = (ri ** 2).sum(-1)[..., None, None]
        inertia = (mi[:, :, None, None] * (r2 * I - ri[..., None] * ri[..., None, :])).sum(1)
        return X, inertia.reshape(-1, 9), (0, 1, 0, 1)
    if C is O5Synthetic:
        d = 5
        X = z.copy()
        ri = X.reshape(-1, 2, 5)
        r1, r2 = ri.transpose(1, 0, 2)  # EMLP: ri.transpose(0,1) in torch semantics
        n1, n2 = np.sqrt((r1 ** 2).sum(-1)), np.sqrt((r2 ** 2).sum(-1))
        Y = (np.sin(n1) - .5 * n2 ** 3 + (r1 * r2).sum(-1) / (n1 * n2))[..., None]
        Xscale = (np.sqrt((X.reshape(n, 2, d) ** 2).mean((0, 2)))[:, None] + 0 * ri[0]).reshape(2 * d)
        return X, Y, (0, Xscale, Y.mean(axis=0), Y.std(axis=0))
    X = z / 4
    P = X.reshape(n, 4, 4)
    p1, p2, p3, p4 = P.transpose(1, 0, 2)
    eta = np.diag(np.array([1., -1., -1., -1.]))

    def dot(v1, v2):
        return ((v1 @ eta) * v2).sum(-1)

    Le = (p1[:, :, None] * p3[:, None, :] - (dot(p1, p3) - dot(p1, p1))[:, None, None] * eta)
    Lmu = ((p2 @ eta)[:, :, None] * (p4 @ eta)[:, None, :] - (dot(p2, p4) - dot(p2, p2))[:, None, None] * eta)
    Y = (4 * (Le * Lmu).sum(-1).sum(-1))[..., None]
    Xscale = np.sqrt((np.abs((X.reshape(n, 4, 4) @ eta) * X.reshape(n, 4, 4)).mean(-1)).mean(0))
    Xscale = (Xscale[:, None] + np.zeros((4, 4))).reshape(-1)
    return X, Y, (0, Xscale, Y.mean(axis=0), Y.std(axis=0))


@pytest.mark.parametrize("C", CLASSES, ids=_ids)
def test_matches_emlp_definition(C, datasets):
    ds = datasets[C]
    z = np.random.default_rng(7).standard_normal((N, SHAPES[C][0]))  # the documented random stream
    X, Y, (xm, xs, ym, ys) = _emlp_reference(C, z)
    n_in, n_out = SHAPES[C]
    assert _rel(ds.X_raw, torch.from_numpy(X)) < 1e-14
    assert _rel(ds.Y_raw, torch.from_numpy(Y)) < 1e-12
    for ours, theirs, size in ((ds.stats.x_mean, xm, n_in), (ds.stats.x_scale, xs, n_in),
                               (ds.stats.y_mean, ym, n_out), (ds.stats.y_std, ys, n_out)):
        ref = torch.as_tensor(np.broadcast_to(np.asarray(theirs, dtype=np.float64), (size,)).copy())
        torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------ basic interface
@pytest.mark.parametrize("C", CLASSES, ids=_ids)
def test_shapes_dtypes_and_interface(C, datasets):
    ds = datasets[C]
    n_in, n_out = SHAPES[C]
    for t, shape in ((ds.X, (N, n_in)), (ds.Y, (N, n_out)), (ds.X_raw, (N, n_in)), (ds.Y_raw, (N, n_out))):
        assert t.shape == shape and t.dtype == torch.float64 and bool(torch.isfinite(t).all())
    assert isinstance(ds.stats, Stats)
    assert [s.shape for s in ds.stats] == [(n_in,), (n_in,), (n_out,), (n_out,)]
    assert all(s.dtype == torch.float64 for s in ds.stats)
    assert isinstance(ds.group, sl.Group) and ds.group.name == SYMMETRY[C][0]
    assert ds.rep_in.size == n_in and ds.rep_out.size == n_out
    assert ds.rep_in.group == ds.group and ds.rep_out.group == ds.group
    assert len(ds) == N
    x, y = ds[3]
    assert torch.equal(x, ds.X[3]) and torch.equal(y, ds.Y[3])
    r = repr(ds)
    assert C.__name__ in r and f"n_samples={N}" in r and "seed=7" in r and ds.group.name in r
    assert ds.raw_target(ds.X_raw[:5]).shape == (5, n_out)


@pytest.mark.parametrize("C", CLASSES, ids=_ids)
def test_seeded_deterministic_and_seed_dependent(C, datasets):
    a, b, c = datasets[C], C(N, seed=7), C(N, seed=8)
    assert torch.equal(a.X, b.X) and torch.equal(a.Y, b.Y) and all(torch.equal(s, t) for s, t in zip(a.stats, b.stats))
    assert not torch.equal(a.X_raw, c.X_raw) and not torch.equal(a.Y_raw, c.Y_raw)
    # row-major draws: for one seed the raw samples are a prefix of a longer run
    assert torch.equal(C(50, seed=7).X_raw, a.X_raw[:50])


def test_protocol_constants_and_defaults():
    assert (N_SAMPLES, N_VAL, N_TEST) == (36000, 1000, 5000)
    assert TRAIN_SIZES[:5] == (30, 100, 300, 1000, 3000)
    assert max(TRAIN_SIZES) + N_VAL + N_TEST <= N_SAMPLES
    for C in CLASSES:
        p = inspect.signature(C.__init__).parameters
        assert p["n_samples"].default == 36000 and p["seed"].default == 2021
        s = inspect.signature(C.split).parameters
        assert s["n_val"].default == 1000 and s["n_test"].default == 5000


# ------------------------------------------------------------------ split
@pytest.mark.parametrize("C", CLASSES, ids=_ids)
def test_split_disjoint_and_fixed(C, datasets):
    ds = datasets[C]
    nv, nt = 40, 60
    (Xtr, Ytr), (Xva, Yva), (Xte, Yte) = ds.split(30, nv, nt)
    assert (Xtr.shape[0], Xva.shape[0], Xte.shape[0]) == (30, nv, nt)
    assert Ytr.shape[0] == 30 and Yva.shape[0] == nv and Yte.shape[0] == nt
    assert torch.equal(Xtr, ds.X[:30]) and torch.equal(Ytr, ds.Y[:30])
    assert torch.equal(Xte, ds.X[N - nt:]) and torch.equal(Yte, ds.Y[N - nt:])
    assert torch.equal(Xva, ds.X[N - nt - nv:N - nt]) and torch.equal(Yva, ds.Y[N - nt - nv:N - nt])
    # disjoint: no sample (row) appears in two parts
    rows = [tuple(r) for r in torch.cat([Xtr, Xva, Xte]).tolist()]
    assert len(set(rows)) == len(rows)
    # validation and test do not depend on the training size
    for n_train in (1, 100, N - nv - nt):
        (Xtr2, _), (Xva2, Yva2), (Xte2, Yte2) = ds.split(n_train, nv, nt)
        assert Xtr2.shape[0] == n_train and torch.equal(Xtr2[:30 if n_train >= 30 else n_train],
                                                        Xtr[:30 if n_train >= 30 else n_train])
        assert torch.equal(Xva2, Xva) and torch.equal(Yva2, Yva) and torch.equal(Xte2, Xte) and torch.equal(Yte2, Yte)
    # the largest training set makes the three parts tile the data
    (Xtr3, _), _, _ = ds.split(N - nv - nt, nv, nt)
    assert torch.equal(torch.cat([Xtr3, Xva, Xte]), ds.X)


def test_split_errors(datasets):
    ds = datasets[O5Synthetic]
    with pytest.raises(ValueError, match="exceeds"):
        ds.split(N - 99, 40, 60)
    with pytest.raises(ValueError, match="exceeds"):
        ds.split(30)  # the default 1000 / 5000 do not fit in 300 samples
    with pytest.raises(ValueError, match="n_train"):
        ds.split(0, 10, 10)
    with pytest.raises(ValueError, match="n_val"):
        ds.split(10, -1, 10)
    with pytest.raises(TypeError, match="n_test"):
        ds.split(10, 10, 2.5)
    with pytest.raises(TypeError, match="n_train"):
        ds.split(True, 10, 10)
    _, (Xva, _), (Xte, _) = ds.split(10, 0, 0)
    assert Xva.shape == (0, 10) and Xte.shape == (0, 10)


def test_constructor_and_input_validation(datasets):
    with pytest.raises(ValueError, match="n_samples"):
        O5Synthetic(1)
    with pytest.raises(TypeError, match="n_samples"):
        O5Synthetic(100.0)
    with pytest.raises(ValueError, match="seed"):
        O5Synthetic(10, seed=-1)
    with pytest.raises(TypeError, match="seed"):
        O5Synthetic(10, seed="a")
    with pytest.raises(ValueError, match=r"\(N, 10\)"):
        datasets[O5Synthetic].raw_target(torch.zeros(3, 9, dtype=torch.float64))


# ------------------------------------------------------------------ standardization
@pytest.mark.parametrize("C", [O5Synthetic, ParticleInteraction], ids=_ids)
def test_standardized_targets_have_zero_mean_unit_std(C, datasets):
    Y = datasets[C].Y
    assert abs(float(Y.mean())) < 1e-12
    assert abs(float(Y.std(correction=0)) - 1) < 1e-12
    assert not bool(torch.isclose(datasets[C].stats.y_std, torch.ones(1, dtype=torch.float64)).all())


@pytest.mark.parametrize("C", CLASSES, ids=_ids)
def test_standardized_data_are_the_documented_transform(C, datasets):
    ds = datasets[C]
    xm, xs, ym, ys = ds.stats
    torch.testing.assert_close(ds.X, (ds.X_raw - xm) / xs, rtol=0, atol=0)
    torch.testing.assert_close(ds.Y, (ds.Y_raw - ym) / ys, rtol=0, atol=0)
    torch.testing.assert_close(ds.Y_raw, ds.raw_target(ds.X_raw), rtol=0, atol=0)
    torch.testing.assert_close(ds.X * xs + xm, ds.X_raw, rtol=1e-15, atol=1e-15)
    torch.testing.assert_close(ds.target(ds.X), ds.Y, rtol=1e-12, atol=1e-12)
    # inputs are never centred, and the scale is one number per block of the input representation
    assert bool((xm == 0).all())
    sizes = [r.size for r in ds.rep_in.reps]
    for block in torch.split(xs, sizes):
        assert bool((block == block[0]).all()) and float(block[0]) > 0


def test_documented_scales():
    ds = O5Synthetic(N, seed=3)
    blocks = ds.X_raw.reshape(N, 2, 5)
    torch.testing.assert_close(ds.stats.x_scale[[0, 5]], blocks.pow(2).mean((0, 2)).sqrt())
    pi = ParticleInteraction(N, seed=3)
    P = pi.X_raw.reshape(N, 4, 4)
    # EMLP's abs is per component: the plain RMS of each particle block, not sqrt(mean |<p, p>|)
    torch.testing.assert_close(pi.stats.x_scale[::4], P.pow(2).mean((0, 2)).sqrt())
    eta = sl.minkowski_metric()
    minkowski = torch.einsum("npi,ij,npj->np", P, eta, P).abs().mean(0).sqrt()
    assert float((pi.stats.x_scale[::4] - minkowski).abs().max()) > 1e-2


def test_inertia_inputs_are_masses_and_positions():
    ds = Inertia(N, seed=5)
    z = torch.from_numpy(np.random.default_rng(5).standard_normal((N, 20)))
    torch.testing.assert_close(ds.X[:, :5], torch.nn.functional.softplus(z[:, :5]), rtol=1e-14, atol=0)
    assert bool((ds.X[:, :5] > 0).all())
    assert torch.equal(ds.X[:, 5:], z[:, 5:])
    assert torch.equal(ds.X, ds.X_raw) and torch.equal(ds.Y, ds.Y_raw)


def test_inertia_tensor_symmetric_psd_and_explicit():
    ds = Inertia(64, seed=1)
    M = ds.Y.reshape(-1, 3, 3)
    assert torch.equal(M, M.transpose(1, 2))
    ev = torch.linalg.eigvalsh(M)
    assert float(ev.min()) > -1e-12 * float(ev.max())
    # one sample by hand: sum_i m_i (|r_i|^2 I - r_i r_i^T)
    m, r = ds.X[0, :5], ds.X[0, 5:].reshape(5, 3)
    ref = sum(m[i] * (r[i] @ r[i] * torch.eye(3, dtype=torch.float64) - torch.outer(r[i], r[i])) for i in range(5))
    torch.testing.assert_close(M[0], ref, rtol=1e-14, atol=1e-14)
    # the trace is 2 sum_i m_i |r_i|^2
    torch.testing.assert_close(M.diagonal(dim1=1, dim2=2).sum(1),
                               2 * (ds.X[:, :5] * ds.X[:, 5:].reshape(-1, 5, 3).pow(2).sum(-1)).sum(1))


# ------------------------------------------------------------------ exact symmetry
def _group_elements(G, seed):
    """Random elements of every component: G.sample words plus each discrete generator and their product."""
    gs = [G.sample(24, generator=seed)]
    h = G.discrete
    gs.append(h)
    if h.shape[0] > 1:
        gs.append((h[0] @ h[1])[None])
    return torch.cat(gs)


def _check_equivariance(f, rep_in, rep_out, gs, X):
    B, n = gs.shape[0], X.shape[0]
    lhs = f(rep_in.act(gs, X).reshape(B * n, -1)).reshape(B, n, -1)
    rhs = rep_out.act(gs, f(X))
    return _rel(lhs, rhs)


@pytest.mark.parametrize("C", CLASSES, ids=_ids)
def test_raw_target_exactly_equivariant(C, datasets):
    ds = datasets[C]
    G = ds.group
    gs = _group_elements(G, seed=11)
    # all components are reached: O(n) needs det < 0; O(1,3) needs parity, time reversal and both
    det = torch.linalg.det(gs)
    assert bool((det < 0).any()) and bool((det > 0).any())
    if C is ParticleInteraction:
        t_flip = gs[:, 0, 0] < 0
        assert bool((t_flip & (det < 0)).any()) and bool((t_flip & (det > 0)).any()) and bool((~t_flip & (det < 0)).any())
    X = ds.X_raw[:64]
    assert _check_equivariance(ds.raw_target, ds.rep_in, ds.rep_out, gs, X) < 1e-10


@pytest.mark.parametrize("C", CLASSES, ids=_ids)
def test_equivariance_check_detects_wrong_action(C, datasets):
    """The same check fails for general linear maps (the targets are not GL(n)-equivariant)."""
    ds = datasets[C]
    n = ds.group.n
    gen = torch.Generator().manual_seed(0)
    A = torch.eye(n, dtype=torch.float64) + 0.3 * torch.randn(4, n, n, generator=gen, dtype=torch.float64)
    assert _check_equivariance(ds.raw_target, ds.rep_in, ds.rep_out, A, ds.X_raw[:64]) > 1e-3


@pytest.mark.parametrize("C", CLASSES, ids=_ids)
def test_lie_derivative_vanishes_exactly_on_the_symmetry(C, datasets):
    ds = datasets[C]
    X = ds.X_raw[:64]
    L = sl.lie_derivative(ds.raw_target, ds.group, X, ds.rep_in, ds.rep_out)
    assert L.shape == (ds.group.dim, 64, ds.rep_out.size)
    # the reference scale: the same operator along all of gl(n), which is far from zero
    name, n, sym_dim = SYMMETRY[C]
    Lgl = sl.lie_derivative(ds.raw_target, sl.gl(n).basis, X, ds.rep_in, ds.rep_out)
    scale = float(Lgl.abs().max())
    assert scale > 1e-1
    assert float(L.abs().max()) < 1e-10 * scale
    # discovery: inside gl(n) the nullspace is exactly the symmetry algebra (so(5), so(3) + scaling, so(1,3))
    s = torch.linalg.svdvals(Lgl.reshape(Lgl.shape[0], -1).T)
    assert int((s < 1e-10 * s[0]).sum()) == sym_dim
    assert float(s[-sym_dim - 1]) > 1e-4 * float(s[0])
    # ... and it is the declared algebra (plus the identity, i.e. scaling, for the inertia tensor)
    ns = sl.nullspace(Lgl.reshape(Lgl.shape[0], -1).T, rtol=1e-10)
    expected = ds.group.algebra.basis
    if C is Inertia:
        expected = torch.cat([expected, torch.eye(n, dtype=torch.float64)[None]])
    angles = sl.principal_angles(ns.basis, sl.gl(n).coordinates(expected).T)
    assert angles.numel() == sym_dim and float(angles.max()) < 1e-8


@pytest.mark.parametrize("C", [O5Synthetic, ParticleInteraction], ids=_ids)
def test_standardization_preserves_equivariance(C, datasets):
    ds = datasets[C]
    gs = _group_elements(ds.group, seed=12)
    X = ds.X[:64]
    xs = ds.stats.x_scale
    # one scalar per block commutes with the group ...
    torch.testing.assert_close(ds.rep_in.act(gs, ds.X_raw[:64] / xs), ds.rep_in.act(gs, ds.X_raw[:64]) / xs,
                               rtol=1e-13, atol=1e-13)
    # ... so the standardized target is invariant too (finite elements and Lie derivative)
    assert _check_equivariance(ds.target, ds.rep_in, ds.rep_out, gs, X) < 1e-10
    L = sl.lie_derivative(ds.target, ds.group, X, ds.rep_in, ds.rep_out)
    assert float(L.abs().max()) < 1e-10 * float(ds.Y.abs().max())
    # whereas per-coordinate standardization (what EMLP warns against) would not commute
    per_coord = ds.X_raw.std(0)
    bad = (ds.rep_in.act(gs, ds.X_raw[:64] / per_coord) - ds.rep_in.act(gs, ds.X_raw[:64]) / per_coord).abs().max()
    assert float(bad) > 1e-3
