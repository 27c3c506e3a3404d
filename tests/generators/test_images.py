"""Learning image symmetries (symlie.generators.images): flows of the pixel grid, the feature-angle validity, the
task's seeded draws and loss, the comparison with Aff(2), the digits loader, the small CNN, input errors.

Ground truth: the flow of the rotation field (-y, x) for time t warps an image exactly as torch's affine_grid
rotation by t; the zero field leaves images unchanged (score arccos(1 - 1e-6)); the affine basis fields and any
mixture of them project onto Aff(2) with norm 1 and zero principal angles, a field like (xy, 0) with norm 0
(orthogonal under a centred symmetric weight map); the grid interpolant of the fields equals the network at the
pixels; the same seed gives the same draws, splits and training run.
"""
from __future__ import annotations

import math
import sys

import pytest
import torch
import torch.nn.functional as F

from symlie.generators import GeneratorMLP
from symlie.generators.images import (AFFINE_LABELS, ImageSymmetryTask, SmallCNN, accuracy, compare_to_affine,
                                      gaussian_weight_map, learn_image_symmetries, load_digits_images,
                                      train_classifier)
from symlie.generators.validity import pixel_grid
from symlie.utils.errors import SymlieError

DT = torch.float64
ROT = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=DT)          # v(z) = A z: the rotation (-y, x)


def _images(B=4, H=12, W=12, dtype=DT):
    g = torch.Generator().manual_seed(0)
    y = torch.linspace(-1, 1, H, dtype=DT)[:, None]
    x = torch.linspace(-1, 1, W, dtype=DT)[None, :]
    a = torch.rand(B, 1, 1, 1, 4, generator=g, dtype=DT)
    img = torch.exp(-((x - 0.4 * a[..., 0] + 0.2) ** 2 + (y - 0.4 * a[..., 1]) ** 2) / 0.3) \
        + 0.5 * torch.sin(3 * x * a[..., 2] + 2 * y + a[..., 3])
    return img.to(dtype)


def _features(C=1, H=12, W=12, F_=16):
    Wf = torch.randn(C * H * W, F_, generator=torch.Generator().manual_seed(1), dtype=DT)
    return lambda x: torch.tanh(x.flatten(1) @ Wf.to(x.dtype))


def _linear(A):
    """The autonomous field z (n, ..., 2) -> A z (the same A on every copy)."""
    return lambda z: z @ A.to(z.dtype).T


# ------------------------------------------------------------------------------------------------- flows, validity
@pytest.mark.parametrize("levels", [None, 3])
def test_rotation_flow_warps_like_affine_grid(levels):
    img = _images()
    task = ImageSymmetryTask(img, _features(), n_gen=1, n_draws=6, t_levels=levels, seed=2)
    idx, t = task.dataset()[:]
    assert bool((t.abs() > 0.01).all())
    x, y = task.transform(_linear(ROT), (idx, t), 1, dtype=DT)
    assert y.shape == (1, 6, 1, 12, 12) and torch.equal(x, img[idx])
    c, s = torch.cos(t), torch.sin(t)
    z = torch.zeros_like(t)
    theta = torch.stack([torch.stack([c, -s, z], -1), torch.stack([s, c, z], -1)], -2)      # (B, 2, 3)
    ref = F.grid_sample(img[idx], F.affine_grid(theta, list(x.shape), align_corners=True), align_corners=True)
    assert float((y[0] - ref).abs().max()) < 1e-6                  # RK4, 5 steps: the exact rotation
    grids = task.moved_grids(_linear(ROT), t, 1, dtype=DT)        # states: exp(tA) p
    R = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    exact = torch.einsum("bij,hwj->bhwi", R, pixel_grid(12, 12))
    assert float((grids[0] - exact).abs().max()) < 1e-7


def test_identity_scores_the_clamp_and_validity_grows_with_t():
    img = _images(B=6)
    task = ImageSymmetryTask(img, _features(), n_gen=2, t_levels=None, seed=0)
    zero = lambda z: 0.0 * z
    idx = torch.arange(6)
    S0 = task.field_validity(zero, (idx, torch.full((6,), 0.3, dtype=DT)), 2, dtype=DT)
    assert torch.allclose(S0, torch.full((2,), math.acos(1 - 1e-6), dtype=DT), rtol=1e-3, atol=0)   # ~1.414e-3
    field = lambda z: torch.stack([_linear(ROT)(z[0]), z[1] * 0 + torch.tensor([1.0, 0.0], dtype=DT)])  # rot, x-tsl
    S = torch.stack([task.field_validity(field, (idx, torch.full((6,), s, dtype=DT)), 2, dtype=DT)
                     for s in (0.05, 0.1, 0.2, 0.4)])              # (4 times, 2 fields)
    assert bool((S[0] > 10 * S0).all()) and bool((S.diff(dim=0) > 0).all())
    Sn = task.field_validity(field, (idx, torch.full((6,), -0.2, dtype=DT)), 2, dtype=DT)
    assert bool((Sn > S[0]).all())


def test_grid_interpolant_matches_the_network():
    img = _images()
    gen = GeneratorMLP(2, 3, width=16, head=8, dtype=DT, seed=4)
    grid = ImageSymmetryTask(img, _features(), n_gen=3, seed=0)
    mlp = ImageSymmetryTask(img, _features(), n_gen=3, field_eval="mlp", seed=0)
    sg, Vg, fg = grid.fields(gen)
    sm, Vm, fm = mlp.fields(gen)
    assert torch.allclose(sg, sm, rtol=1e-12) and torch.allclose(Vg, Vm, rtol=0, atol=1e-12)
    assert torch.allclose(sm, gen.scales(grid.points, grid.point_weights), rtol=1e-12)
    P = grid.points.unsqueeze(0).expand(3, -1, -1)
    assert torch.allclose(fg(P), fm(P), rtol=0, atol=1e-12)       # at the pixels: the network itself
    Q = 1.2 * (torch.rand(3, 50, 2, generator=torch.Generator().manual_seed(5), dtype=DT) * 2 - 1)
    with torch.no_grad():
        assert float((fg(Q) - fm(Q)).abs().max()) < 1e-2 * float(fm(Q).abs().max())   # in between: bilinear
    b = grid.dataset()[:3]
    assert torch.allclose(grid.validity_per_field(gen, b), mlp.validity_per_field(gen, b), rtol=2e-2)


# ------------------------------------------------------------------------------------------------- task
def test_loss_terms_and_gradients():
    img = _images().float()
    for mode in ("grid", "mlp"):
        task = ImageSymmetryTask(img, _features(), n_gen=3, field_eval=mode, seed=0)
        gen = GeneratorMLP(2, 3, width=16, head=8, seed=1)
        out = task.loss(gen, task.dataset()[:2])
        assert set(out) == {"loss", "validity", "ortho", "lipschitz"}
        assert all(v.ndim == 0 and math.isfinite(float(v.detach())) for v in out.values())
        w = task.weights
        assert w == {"validity": 1.0, "ortho": 10.0, "lipschitz": 10.0}
        total = sum(w[k] * out[k] for k in w)
        assert torch.allclose(out["loss"], total)
        out["loss"].backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() and float(p.grad.abs().sum()) > 0
                   for p in gen.parameters())
    steep = ImageSymmetryTask(img, _features(), n_gen=3, lipschitz_tau=0.0, seed=0)
    assert float(steep.loss(gen, steep.dataset()[:2])["lipschitz"].detach()) > 0


def test_draws_are_seeded():
    img = _images(B=5)
    a = ImageSymmetryTask(img, _features(), n_draws=12, seed=3)
    b = ImageSymmetryTask(img, _features(), n_draws=12, seed=3)
    c = ImageSymmetryTask(img, _features(), n_draws=12, seed=4)
    for x, y in zip(a.dataset().tensors, b.dataset().tensors):
        assert torch.equal(x, y)
    assert not torch.equal(a.dataset().tensors[1], c.dataset().tensors[1])
    idx, t = a.dataset().tensors
    assert idx.dtype == torch.int64 and t.dtype == DT
    assert sorted(idx[:5].tolist()) == list(range(5)) and sorted(idx[5:10].tolist()) == list(range(5))  # passes
    lev = a.levels()
    assert torch.allclose(lev, 0.4 * (torch.arange(1, 6, dtype=DT) - 0.5) / 5)
    assert all(bool((lev - abs(v)).abs().min() < 1e-12) for v in t.tolist())
    cont = ImageSymmetryTask(img, _features(), n_draws=50, t_levels=None, seed=0).dataset().tensors[1]
    assert float(cont.abs().max()) <= 0.4 and len(set(cont.tolist())) == 50
    w = gaussian_weight_map(12, 12)
    assert torch.allclose(a.weight_map, w) and abs(float(w.sum()) - 1) < 1e-12 and float(w[5:7, 5:7].min()) == \
        float(w.max())


def test_short_training_run_is_seeded(tmp_path):
    img = _images().float()
    task = ImageSymmetryTask(img, _features(), n_gen=2, n_draws=4, seed=0)
    val = ImageSymmetryTask(_images(B=2).float(), _features(), n_gen=2, n_draws=2, seed=1)
    runs = [learn_image_symmetries(task, val, width=16, head=8, epochs=2, batch_size=2, progress=False,
                                   checkpoint=tmp_path / f"r{k}.pt") for k in range(2)]
    (g1, s1, r1), (g2, s2, r2) = runs
    assert r1.status == "completed" and r1.selected_on == "val" and len(r1.history) == 2 and r1.steps == 4
    assert all(torch.equal(p, q) for p, q in zip(g1.parameters(), g2.parameters()))
    assert torch.equal(s1, s2) and s1.shape == (2,) and (tmp_path / "r0.pt").exists()
    assert set(r1.history[0]["terms"]) == {"validity", "ortho", "lipschitz"}


# ------------------------------------------------------------------------------------------------- Aff(2)
def test_compare_to_affine():
    task = ImageSymmetryTask(_images(), _features(), n_gen=6, seed=0)
    M = torch.tensor([[1.0, 0.5, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 2, 0, 0, 1], [0, 0, 0, 1, -1, 0],
                      [0.3, 0, 0, 0, 1, 0], [0, 0, 0, 0.2, 0, 3]], dtype=DT)

    def mixed(P):                                   # (N, 2) -> (N, 6, 2): mixtures of the affine basis
        x, y = P[:, 0], P[:, 1]
        o, z = torch.ones_like(x), torch.zeros_like(x)
        basis = torch.stack([torch.stack(v, -1) for v in [(o, z), (z, o), (x, z), (y, z), (z, x), (z, y)]], 1)
        return torch.einsum("ab,nbd->nad", M, basis)

    c = compare_to_affine(mixed, None, task)
    assert c["labels"] == list(AFFINE_LABELS)
    assert torch.allclose(c["projection"], torch.ones(6, dtype=DT), atol=1e-10)
    assert float(c["angles"].max()) < 1e-6 and c["gram"].shape == (6, 6)

    def pure_fields(P):                             # the x-translation and the rotation (-y, x)
        x, y = P[:, 0], P[:, 1]
        return torch.stack([torch.stack([torch.ones_like(x), 0 * x], -1), torch.stack([-y, x], -1)], 1)

    pure = compare_to_affine(pure_fields, None, task)
    assert torch.allclose(pure["components"][0], torch.tensor([1.0, 0, 0, 0, 0, 0], dtype=DT), atol=1e-10)
    r = 1 / math.sqrt(2)                            # (-y, x) = -(y, 0) + (0, x), both of norm 1 after scaling
    assert torch.allclose(pure["components"][1], torch.tensor([0, 0, 0, -r, r, 0], dtype=DT), atol=1e-10)
    assert torch.allclose(pure["rotation"], torch.tensor([0.0, 1.0], dtype=DT), atol=1e-10)
    assert torch.allclose(torch.diagonal(c["gram"]), torch.ones(6, dtype=DT))

    def orth(P):                                    # xy-type fields: orthogonal to Aff(2) under a symmetric w
        x, y = P[:, 0], P[:, 1]
        return torch.stack([torch.stack([x * y, 0 * x], -1), torch.stack([0 * x, x * y], -1),
                            torch.stack([x * x - y * y, 0 * x], -1)], 1)
    o = compare_to_affine(orth, torch.tensor([2.0, 3.0, 4.0]), task)
    assert float(o["projection"].max()) < 1e-10
    u = compare_to_affine(orth, None, task, weight_map="uniform")      # the uniform grid is symmetric too
    assert float(u["projection"].max()) < 1e-10
    assert torch.allclose(compare_to_affine(mixed, None, task, weight_map=torch.rand(12, 12, generator=torch.Generator().manual_seed(6)))["projection"],
                          torch.ones(6, dtype=DT), atol=1e-10)
    with pytest.raises(ValueError, match="weight_map: expected None, 'uniform'"):
        compare_to_affine(orth, None, task, weight_map="gauss")
    gen = GeneratorMLP(2, 6, width=16, head=8, seed=0)
    g = compare_to_affine(gen, gen.scales(task.points.float(), task.point_weights.float()), task)
    assert g["projection"].shape == (6,) and g["components"].shape == (6, 6) and g["angles"].shape == (6,)
    assert torch.allclose(compare_to_affine(gen(task.points.float()).permute(1, 0, 2), None, task)["projection"],
                          g["projection"], atol=1e-6)


# ------------------------------------------------------------------------------------------------- digits, CNN
def test_digits_loader():
    pytest.importorskip("sklearn")
    d = load_digits_images(16, seed=1)
    n = [t[0].shape[0] for t in (d.train, d.val, d.test)]
    assert n == [1078, 360, 359]
    for X, y in (d.train, d.val, d.test):
        assert X.shape[1:] == (1, 16, 16) and X.dtype == torch.float32 and y.dtype == torch.int64
        assert float(X.min()) >= 0 and float(X.max()) <= 1 and set(y.tolist()) <= set(range(10))
    allidx = torch.cat([d.indices[k] for k in ("train", "val", "test")])
    assert sorted(allidx.tolist()) == list(range(1797))             # disjoint and complete
    e = load_digits_images(16, seed=1)
    assert torch.equal(d.train[0], e.train[0]) and torch.equal(d.test[1], e.test[1])
    assert not torch.equal(load_digits_images(16, seed=2).indices["train"], d.indices["train"])
    raw = load_digits_images(8, seed=1, split=(0.5, 0.5, 0.0))
    assert raw.test[0].shape[0] == 0 and raw.train[0].shape[0] == 898
    big = load_digits_images(32, seed=1).train[0]
    small = load_digits_images(8, seed=1).train[0]
    assert torch.allclose(big[..., ::31, ::31], small[..., ::7, ::7], atol=1e-6)    # corners stay on the corners


def test_digits_loader_without_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(ImportError, match=r"pip install 'symlie\[images\]'"):
        load_digits_images(16)


def test_small_cnn_trains_one_epoch():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(64, 1, 16, 16, generator=g)
    y = torch.randint(10, (64,), generator=g)
    cnn = SmallCNN(10, (8, 16), seed=0)
    assert cnn.features(X).shape == (64, 16) and cnn(X).shape == (64, 10)
    assert all(torch.equal(p, q) for p, q in zip(cnn.parameters(), SmallCNN(10, (8, 16), seed=0).parameters()))
    res = train_classifier(cnn, (X[:48], y[:48]), (X[48:], y[48:]), epochs=1, batch_size=16, progress=False)
    assert res.status == "completed" and res.selected_on == "val" and len(res.history) == 1
    assert math.isfinite(res.history[0]["train_loss"]) and 0 <= res.best_val <= 1
    assert not cnn.training and 0 <= accuracy(cnn, X, y) <= 1
    res2 = train_classifier(SmallCNN(10, (8, 16)), (X[:48], y[:48]), (X[48:], y[48:]), epochs=1, batch_size=16,
                            select="loss", progress=False)
    assert res2.best_val > 1.0                                       # a cross-entropy, not an error rate


# ------------------------------------------------------------------------------------------------- bad input
def test_bad_inputs_are_named():
    img = _images()
    fe = _features()
    with pytest.raises(ValueError, match="images: expected 4 dimensions"):
        ImageSymmetryTask(img[0], fe)
    with pytest.raises(TypeError, match="feature_fn"):
        ImageSymmetryTask(img, "resnet")
    with pytest.raises(ValueError, match="weights: unknown"):
        ImageSymmetryTask(img, fe, weights={"sobolev": 1.0})
    with pytest.raises(ValueError, match=r"weight_map: expected shape \(12, 12\)"):
        ImageSymmetryTask(img, fe, weight_map=torch.ones(10, 12))
    with pytest.raises(ValueError, match="weight_map: expected non-negative"):
        ImageSymmetryTask(img, fe, weight_map=-torch.ones(12, 12))
    with pytest.raises(ValueError, match="field_eval"):
        ImageSymmetryTask(img, fe, field_eval="adjoint")
    with pytest.raises(ValueError, match="t_levels"):
        ImageSymmetryTask(img, fe, t_levels=0)
    with pytest.raises(ValueError, match="sigma"):
        ImageSymmetryTask(img, fe, sigma=-1)
    with pytest.raises(ValueError, match="lipschitz_tau"):
        ImageSymmetryTask(img, fe, lipschitz_tau=float("nan"))
    task = ImageSymmetryTask(img, fe, n_gen=3)
    with pytest.raises(ValueError, match=r"model: expected 3 fields on R\^2"):
        task.loss(GeneratorMLP(2, 4, width=8, head=4), task.dataset()[:2])
    with pytest.raises(TypeError, match="model: expected a symlie.generators.GeneratorMLP"):
        task.loss(lambda z: z, task.dataset()[:2])
    with pytest.raises(ValueError, match="t: with t_levels=5"):
        task.moved_grids(_linear(ROT), torch.tensor([0.1]), 1)
    with pytest.raises(ValueError, match="batch: flow times must satisfy"):
        task.transform(_linear(ROT), (torch.tensor([0]), torch.tensor([0.9])), 1)
    with pytest.raises(ValueError, match=r"batch: image indices must lie in \[0, 4\)"):
        task.transform(_linear(ROT), (torch.tensor([7]), torch.tensor([0.04])), 1)
    with pytest.raises(ValueError, match="generators: a callable must map pixel points"):
        compare_to_affine(lambda P: P, None, task)
    with pytest.raises(ValueError, match="scales: expected 2 values"):
        compare_to_affine(lambda P: torch.stack([P, P], 1), torch.ones(3), task)
    with pytest.raises(TypeError, match="task: expected an ImageSymmetryTask"):
        compare_to_affine(lambda P: torch.stack([P, P], 1), None, "task")
    with pytest.raises(ValueError, match="x: images of 4 x 4 are too small"):
        SmallCNN()(torch.zeros(2, 1, 4, 4))
    with pytest.raises(ValueError, match="channels"):
        SmallCNN(channels=())
    with pytest.raises(ValueError, match="train: expected int64 labels"):
        train_classifier(SmallCNN(), (torch.zeros(4, 1, 16, 16), torch.zeros(4)), (torch.zeros(4, 1, 16, 16),
                                                                                 torch.zeros(4, dtype=torch.int64)),
                         epochs=1)
    with pytest.raises(ValueError, match="select"):
        train_classifier(SmallCNN(), (torch.zeros(4, 1, 16, 16), torch.zeros(4, dtype=torch.int64)),
                         (torch.zeros(4, 1, 16, 16), torch.zeros(4, dtype=torch.int64)), epochs=1, select="f1")
    with pytest.raises(ValueError, match="size: expected an int >= 4"):
        load_digits_images(2)
    with pytest.raises(ValueError, match="split: the fractions must sum to 1"):
        load_digits_images(8, split=(0.5, 0.5, 0.5))
    with pytest.raises(SymlieError, match="feature_fn: expected features of shape"):
        ImageSymmetryTask(img, lambda x: x.sum()).field_validity(_linear(ROT), (torch.tensor([0]),
                                                                                 torch.tensor([0.04])), 1, dtype=DT)
    with pytest.raises(TypeError, match="val_task"):
        learn_image_symmetries(task, "val", epochs=1)
