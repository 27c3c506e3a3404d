"""symlie.augment: transforms of whole solutions, Dirichlet resampling, augmented copies and windows."""
import math
import warnings

import pytest
import torch

import symlie as sl
from symlie import augment as A
from symlie.datasets import pde as D
from symlie.utils.errors import DataError, SymlieError, SymlieWarning

DT = torch.float64


@pytest.fixture(scope="module")
def kdv():
    sol = D.generate("kdv", 2, preset="ko", seed=3)
    return sol


def _bandlimited(B, nt, nx, modes, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(nx, dtype=DT) / nx
    u = torch.zeros(B, nt, nx, dtype=DT)
    for m in range(1, modes + 1):
        a, b = torch.randn(2, B, nt, 1, generator=g, dtype=DT)
        u += a * torch.cos(2 * math.pi * m * x) + b * torch.sin(2 * math.pi * m * x)
    return u


# ----------------------------------------------------------------------------------------- the kernel
@pytest.mark.parametrize("n", [16, 17])
def test_dirichlet_kernel_is_the_bandlimited_interpolant(n):
    k = torch.arange(n, dtype=DT)
    assert torch.allclose(A.dirichlet_kernel(k, n), (k == 0).to(DT), atol=1e-14)
    v = torch.tensor([0.3, -2.7, 5.5, 1e-9, 11.2], dtype=DT)
    # partition of unity over the shifts of one period
    assert torch.allclose(A.dirichlet_kernel(v[:, None] - k[None, :], n).sum(1), torch.ones(5, dtype=DT), atol=1e-12)
    # the Fourier sum over |m| <= n / 2 (Nyquist terms halved for even n)
    m = torch.arange(-(n // 2), n // 2 + 1, dtype=DT)
    w = torch.ones_like(m)
    if n % 2 == 0:
        w[0] = w[-1] = 0.5
    ref = (w * torch.cos(2 * math.pi * m * v[:, None] / n)).sum(1) / n
    assert torch.allclose(A.dirichlet_kernel(v, n), ref, atol=1e-13)
    # periodic with period n
    assert torch.allclose(A.dirichlet_kernel(v + n, n), A.dirichlet_kernel(v, n), atol=1e-12)


@pytest.mark.parametrize("nx", [32, 33])
def test_dirichlet_splat_is_exact_for_bandlimited_shifts(nx):
    B, nt = 2, 5
    u = _bandlimited(B, nt, nx, modes=(nx - 1) // 2 - 1)
    delta = torch.tensor([0.37, -4.81], dtype=DT)
    it = torch.arange(nt, dtype=DT)[None, :, None].expand(B, nt, nx).reshape(B, -1)
    ix = (torch.arange(nx, dtype=DT)[None, None, :] + delta[:, None, None]).expand(B, nt, nx).reshape(B, -1)
    out, sup = A.splat(it, ix, u.reshape(B, -1), nt, nx)
    ref = A.translate_x(u, delta, period=float(nx)).u
    assert torch.allclose(out, ref, atol=1e-11)
    assert torch.allclose(sup, torch.ones_like(sup), atol=1e-12)
    # the bilinear alternative is only first-order accurate in the sub-grid shift
    outb, supb = A.splat(it, ix, u.reshape(B, -1), nt, nx, kernel="bilinear")
    assert torch.allclose(supb, torch.ones_like(supb), atol=1e-12)
    assert (outb - ref).abs().max() > 100 * (out - ref).abs().max()


def test_splat_linear_in_time_and_the_valid_window():
    nt, nx = 4, 8
    it = torch.tensor([[1.25, 3.5, -0.5]], dtype=DT)
    ix = torch.tensor([[2.0, 2.0, 2.0]], dtype=DT)
    out, sup = A.splat(it, ix, torch.tensor([[2.0, 5.0, 7.0]], dtype=DT), nt, nx)
    assert torch.allclose(out[0, :, 2], torch.tensor([3.5, 1.5, 0.5, 2.5], dtype=DT), atol=1e-14)
    assert torch.allclose(sup[0, :, 2], torch.tensor([0.5, 0.75, 0.25, 0.5], dtype=DT), atol=1e-14)
    w = A.valid_window(torch.tensor([[[0.9, 0.9], [0.5, 1.0], [1.0, 1.0], [0.85, 0.95], [1.0, 1.0], [0.1, 1.0]]]))
    assert w.tolist() == [[2, 5]]
    with pytest.raises(ValueError, match="kernel"):
        A.splat(it, ix, it, nt, nx, kernel="cubic")
    with pytest.raises(DataError, match="it, ix, values"):
        A.splat(it, ix[:, :2], it, nt, nx)


# ------------------------------------------------------------------------------------ flows vs closed forms
def test_flow_transforms_equal_the_closed_forms(kdv):
    u, t, x = kdv.u, kdv.t, kdv.x
    eq = sl.pde.kdv()
    dx = float(x[1] - x[0])
    # a translation by a whole grid step is a roll
    tr = A.transform_solutions(u, t, x, A.graph_fields(eq, ["d/dx"]), torch.full((2, 1), dx))
    assert torch.allclose(tr.u, torch.roll(u, 1, dims=-1), atol=1e-11)
    assert bool(tr.accepted.all()) and tr.window.tolist() == [[0, 140]] * 2
    s = torch.tensor([[3.3], [-7.25]], dtype=DT)
    tr = A.transform_solutions(u, t, x, A.graph_fields(eq, ["d/dx"]), s)
    assert torch.allclose(tr.u, A.translate_x(u, s[:, 0], x=x).u, atol=1e-11)
    a = torch.tensor([[0.07], [-0.2]], dtype=DT)
    tr = A.transform_solutions(u, t, x, A.graph_fields(eq, ["t d/dx + d/du"]), a)
    assert torch.allclose(tr.u, A.galilean_boost(u, a[:, 0], t, x=x).u, atol=1e-10)
    a = torch.tensor([[1.1], [-2.5]], dtype=DT)
    tr = A.transform_solutions(u, t, x, A.graph_fields(eq, ["d/dt"]), a)
    ref = A.translate_t(u, a[:, 0], t)
    assert tr.window.tolist() == ref.window.tolist() == [[3, 140], [0, 133]]
    for b in range(2):
        lo, hi = tr.window[b].tolist()
        assert torch.allclose(tr.u[b, lo:hi], ref.u[b, lo:hi], atol=1e-10)


def test_transformed_solution_satisfies_the_pde_and_a_non_symmetry_does_not(kdv):
    eq = sl.pde.kdv()
    u, t, x = kdv.u, kdv.t, kdv.x
    base = D.pde_residual(kdv)
    fields = A.graph_fields(eq, ["d/dx", "d/dt", "t d/dx + d/du"])
    dt = float(t[1] - t[0])
    # time shifts of whole steps (the time resampling is linear: exact only there), any x shift and boost
    a = torch.tensor([[2.3, 2 * dt, 0.05], [-1.7, -dt, -0.08]], dtype=DT)
    tr = A.transform_solutions(u, t, x, fields, a)
    lo = int(tr.window[:, 0].max())
    hi = int(tr.window[:, 1].min())
    sub = D.PDESolution(tr.u[:, lo:hi], t[lo:hi], x, "kdv", kdv.params)
    res = D.pde_residual(sub)
    assert bool((res < 1.25 * base + 1e-6).all()), (res, base)
    # u d/du (not a KdV symmetry) at the same size breaks the equation
    bad = A.transform_solutions(u, t, x, [lambda P: torch.stack([0 * P[:, 0], 0 * P[:, 0], P[:, 2]], -1)],
                                torch.tensor([[0.3], [0.3]], dtype=DT))
    res_bad = D.pde_residual(D.PDESolution(bad.u, t, x, "kdv", kdv.params))
    assert bool((res_bad > 20 * base).all()), (res_bad, base)


def test_scale_u_and_the_flow_of_u_du():
    u = _bandlimited(2, 6, 16, 3)
    t, x = torch.arange(6, dtype=DT), torch.arange(16, dtype=DT)
    field = [lambda P: torch.stack([0 * P[:, 0], 0 * P[:, 0], P[:, 2]], -1)]
    tr = A.transform_solutions(u, t, x, field, torch.tensor([[0.2], [-0.1]], dtype=DT), min_rows=2)
    assert torch.allclose(tr.u, A.scale_u(u, torch.tensor([0.2, -0.1])).u, atol=1e-6)   # RK4, 10 steps


# ------------------------------------------------------------------------------------------ fields
def test_graph_fields_sources_and_orthonormalisation(kdv):
    eq = sl.pde.kdv()
    res = sl.pde.point_symmetries(eq)
    act = A.graph_fields(res)
    assert act.n_in == 3 and act.dim == 4
    P = A.reference_points(kdv.u, kdv.t, kdv.x, 2000, seed=1)
    assert P.shape == (2000, 3)
    sc = sl.generators.GraphScaling.from_grid(kdv.u, kdv.t, kdv.x)
    W = A.orthonormal_fields(act, P, sc)
    assert torch.allclose(A.field_gram(W, P, sc), torch.eye(4, dtype=DT), atol=1e-10)
    # discovered fields span the exact ones (the same 4-dimensional space of base fields)
    E = A.graph_fields(eq)
    G = torch.cat([W.vector_fields(P), E.vector_fields(P)]).reshape(8, -1)
    assert torch.linalg.matrix_rank(G, rtol=1e-8) == 4
    with pytest.raises(SymlieError, match="span of the earlier"):
        A.orthonormal_fields(A.graph_fields(eq, ["d/dx", "d/dx"]), P, sc)
    with pytest.raises(DataError, match="n_in = 3"):
        A.graph_fields(sl.as_action(sl.so(2), sl.V(sl.SO(2))))
    with pytest.raises(TypeError, match="fields"):
        A.graph_fields("d/dx")


def test_learned_fields_map_back_to_physical_coordinates(kdv):
    sc = sl.generators.GraphScaling.from_grid(kdv.u, kdv.t, kdv.x)
    net = sl.generators.GeneratorMLP(3, 3, width=16, head=8, dtype=DT, seed=0)
    scales = torch.tensor([2.0, 0.5, 1.0], dtype=DT)
    act = A.learned_fields(net, sc, scales, slots=[0, 2])
    P = A.reference_points(kdv.u, kdv.t, kdv.x, 50)
    V = act.vector_fields(P)
    W = net(sc.normalise(P))
    assert V.shape == (2, 50, 3)
    assert torch.allclose(sc.push(V[1]), W[:, 2] / 1.0, atol=1e-12)
    assert torch.allclose(sc.push(V[0]), W[:, 0] / 2.0, atol=1e-12)
    with pytest.raises(ValueError, match="slots"):
        A.learned_fields(net, sc, scales, slots=[3])
    with pytest.raises(TypeError, match="scaling"):
        A.learned_fields(net, None)


# ------------------------------------------------------------------------------------------- copies
def test_augment_solutions_copies_rejections_and_files(kdv, tmp_path):
    eq = sl.pde.kdv()
    fields = A.graph_fields(eq, ["d/dx", "d/dt", "t d/dx + d/du"])
    aug = A.augment_solutions(kdv.u, kdv.t, kdv.x, fields, n_copies=3, sigma=[0.1, 0.1, 0.0], seed=5)
    assert aug.u.shape == (2, 3, 140, 256) and aug.u.dtype == torch.float32
    assert torch.equal(aug.u[:, 0], kdv.u.float())
    assert bool(aug.accepted.all()) and aug.rejection_rate == 0.0
    assert bool((aug.coeffs[:, 0] == 0).all()) and bool((aug.coeffs[..., 2] == 0).all())
    assert bool((aug.coeffs[:, 1:, :2].abs() <= 0.1).all()) and float(aug.coeffs[:, 1:, :2].abs().min()) > 0
    again = A.augment_solutions(kdv.u, kdv.t, kdv.x, fields, n_copies=3, sigma=[0.1, 0.1, 0.0], seed=5)
    assert torch.equal(aug.u, again.u)
    assert not torch.allclose(aug.u[:, 1], aug.u[:, 0])
    path = aug.save(tmp_path / "aug.h5")
    back = A.AugmentedSolutions.load(path)
    assert torch.equal(back.u, aug.u) and torch.equal(back.window, aug.window) and back.info == aug.info
    (tmp_path / "bad.h5").write_bytes(b"not hdf5")
    with pytest.raises(DataError, match="bad.h5"):
        A.AugmentedSolutions.load(tmp_path / "bad.h5")
    # a time translation of half the time span moves most rows off the grid: rejected, reported, warned
    with pytest.warns(SymlieWarning, match="rejected"):
        far = A.augment_solutions(kdv.u, kdv.t, kdv.x, A.graph_fields(eq, ["d/dt"]), n_copies=3, sigma=3.0,
                                  seed=0, orthonormalize=True)
    assert far.rejection_rate > 0.5 and far.info["rejection_rate"] == far.rejection_rate
    bad = kdv.u.clone()
    bad[0, 3, 4] = float("nan")
    with pytest.raises(ValueError, match="u: contains 1 NaN"):
        A.augment_solutions(bad, kdv.t, kdv.x, fields)
    with pytest.raises(DataError, match="sigma"):
        A.augment_solutions(kdv.u, kdv.t, kdv.x, fields, sigma=[0.1, 0.1])
    with pytest.raises(DataError, match="coeffs"):
        A.transform_solutions(kdv.u, kdv.t, kdv.x, fields, torch.zeros(2, 2))


# ------------------------------------------------------------------------------------------- windows
def test_augmented_windows(kdv):
    fields = A.graph_fields(sl.pde.kdv(), ["d/dx"])
    aug = A.augment_solutions(kdv.u[:, :60], kdv.t[:60], kdv.x, fields, n_copies=2, sigma=5.0, seed=1,
                              min_rows=50)
    ds = A.AugmentedWindows(aug, history=20, future=20, p_original=0.0, passes=3, seed=0)
    assert len(ds) == 6
    xb, yb = ds[4]
    assert xb.shape == (20, 256) and yb.shape == (20, 256) and xb.dtype == torch.float32
    items = [ds[i] for i in range(6)]
    again = A.AugmentedWindows(aug, history=20, future=20, p_original=0.0, passes=3, seed=0)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(items, (again[i] for i in range(6))))
    ds.set_epoch(1)
    assert any(not torch.equal(a[0], ds[i][0]) for i, a in enumerate(items))
    # each window is a contiguous piece of one copy: x then y continue one another
    c0 = torch.cat([aug.u[:, c] for c in range(2)])
    for xw, yw in items:
        full = torch.cat([xw, yw])
        assert any(torch.equal(full, c0[j, k:k + 40]) for j in range(4) for k in range(21))
    orig = A.AugmentedWindows(aug, p_original=1.0, passes=2)
    for i in range(4):
        xw, yw = orig[i]
        assert any(torch.equal(torch.cat([xw, yw]), kdv.u[i % 2, k:k + 40].float()) for k in range(21))
    single = A.AugmentedWindows(kdv.u, history=20, start=20, targets=(30,))
    xs, ys = single[1]
    assert torch.equal(xs, kdv.u[1, 20:40].float()) and torch.equal(ys, kdv.u[1, 50:51].float())
    with pytest.raises(DataError, match="empty"):
        A.AugmentedWindows(kdv.u[:0])
    with pytest.raises(DataError, match="rows"):
        A.AugmentedWindows(kdv.u, history=100, future=50)
    with pytest.raises(ValueError, match="p_original"):
        A.AugmentedWindows(kdv.u, p_original=1.5)


def test_rejected_copies_fall_back_to_the_original(kdv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SymlieWarning)
        far = A.augment_solutions(kdv.u, kdv.t, kdv.x, A.graph_fields(sl.pde.kdv(), ["d/dt"]), n_copies=2,
                                  sigma=100.0, seed=0, orthonormalize=False)
    assert not bool(far.accepted[:, 1].any())
    ds = A.AugmentedWindows(far, p_original=0.0, passes=8)
    for i in range(len(ds)):
        xw, yw = ds[i]
        assert any(torch.equal(torch.cat([xw, yw]), kdv.u[i % 2, k:k + 40].float()) for k in range(101))
    assert ds.fallbacks > 0 and ds.fallback_rate == 1.0


def test_on_the_fly_windows(kdv):
    ds = A.AugmentedWindows.on_the_fly(kdv.u[:, :50], kdv.t[:50], kdv.x,
                                       A.graph_fields(sl.pde.kdv(), ["d/dx", "t d/dx + d/du"]), sigma=0.05,
                                       p_original=0.0, transform_kw={"min_rows": 45}, history=10, future=10, seed=2)
    xw, yw = ds[0]
    assert xw.shape == (10, 256) and yw.shape == (10, 256)
    assert torch.equal(ds[0][0], xw)                 # seeded per item
    assert not any(torch.equal(torch.cat([xw, yw]), kdv.u[0, k:k + 20].float()) for k in range(31))


def test_periodic_fields_drop_the_scaling_of_kdv(kdv):
    act = A.graph_fields(sl.pde.point_symmetries(sl.pde.kdv()))          # 4 fields, the scaling included
    P = A.reference_points(kdv.u, kdv.t, kdv.x, 1000)
    sub, ns = A.periodic_fields(act, P, 128.0)
    assert sub.dim == 3 and ns.gap_ratio > 1e8 and ns.singular_values.shape == (4,)
    E = A.graph_fields(sl.pde.kdv(), ["d/dx", "d/dt", "t d/dx + d/du"])
    both = torch.cat([sub.vector_fields(P), E.vector_fields(P)]).reshape(6, -1)
    s = torch.linalg.svdvals(both)
    assert s[3] < 1e-8 * s[0]                      # the same 3-dimensional span as the exact periodic fields
    with pytest.raises(SymlieError, match="none of the 1 fields is periodic"):
        A.periodic_fields(A.graph_fields(sl.pde.kdv(), ["x d/dx + 3t d/dt - 2u d/du"]), P, 128.0)
