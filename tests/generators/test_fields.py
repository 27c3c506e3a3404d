"""Learned generator fields (GeneratorMLP), their comparison with reference fields, and the regularisers.

Ground truth: per_head equals the diagonal of forward; periodic fields are exactly periodic; the Action view
feeds discover / principal angles; projections of fields inside / orthogonal to a span are 1 / 0; the
sequential orthogonality loss is zero for orthogonal fields and pi/2 - angle otherwise; the Lipschitz hinge
and the Sobolev term against hand computations.
"""
from __future__ import annotations

import math

import pytest
import torch

import symlie as sl
from symlie.generators.analysis import (affine_fields, gram_matrix, inner_products, projection_norms,
                                        span_angles)
from symlie.generators.fields import GeneratorMLP
from symlie.generators.losses import lipschitz_loss, orthonormality_loss, sobolev_loss


def test_per_head_is_the_diagonal_of_forward():
    gen = GeneratorMLP(3, 4, width=16, head=8, dtype=torch.float64, seed=1)
    z = torch.randn(4, 50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    own = gen.per_head(z)                                                   # (4, 50, 3)
    for i in range(4):
        assert torch.allclose(own[i], gen(z[i])[:, i], atol=1e-14)
    assert gen.per_head(z.reshape(4, 5, 10, 3)).shape == (4, 5, 10, 3)


def test_seed_fixes_the_fields_and_periodic_coordinates_are_exact():
    a, b = GeneratorMLP(3, 2, width=8, head=4, seed=3), GeneratorMLP(3, 2, width=8, head=4, seed=3)
    z = torch.rand(20, 3)
    assert torch.equal(a(z), b(z))
    assert not torch.equal(a(z), GeneratorMLP(3, 2, width=8, head=4, seed=4)(z))
    per = GeneratorMLP(3, 2, width=8, head=4, periodic={0: 2.5}, dtype=torch.float64)
    z = torch.rand(20, 3, dtype=torch.float64)
    shifted = z.clone()
    shifted[:, 0] += 2.5
    assert torch.allclose(per(z), per(shifted), atol=1e-12)
    z2 = z.clone()
    z2[:, 1] += 2.5                                                         # not periodic in coordinate 1
    assert not torch.allclose(per(z), per(z2), atol=1e-6)
    assert z[:, 0].max() <= 1.0                                              # the input is never wrapped in place


def test_scales_normalise_and_the_field_is_autonomous():
    gen = GeneratorMLP(2, 3, width=16, head=8, dtype=torch.float64)
    ref = torch.randn(200, 2, dtype=torch.float64)
    s = gen.scales(ref)
    v = gen.field(s)
    V = v(ref.expand(3, 200, 2))
    rms = (V ** 2).sum(-1).mean(1).sqrt()
    assert torch.allclose(rms, torch.ones(3, dtype=torch.float64), atol=1e-12)
    # the same field at other points: no renormalisation there
    other = torch.randn(3, 7, 2, dtype=torch.float64)
    assert torch.allclose(v(other), gen.per_head(other) / s[:, None, None])
    s.sum().backward()                                                       # differentiable
    assert gen.w2.grad is not None and float(gen.w2.grad.abs().sum()) > 0


def test_action_view_feeds_discovery_machinery():
    gen = GeneratorMLP(2, 3, width=8, head=4, dtype=torch.float64)
    act = gen.action()
    assert isinstance(act, sl.Action) and act.dim == 3 and act.n_in == 2
    x = torch.randn(30, 2, dtype=torch.float64)
    assert torch.allclose(act.vector_fields(x), gen(x).permute(1, 0, 2))
    # a rotation-invariant function: no learned field is its symmetry in general, but the operator is well formed
    res = sl.discover(lambda z: (z ** 2).sum(1), x, act, rule="rtol")
    assert res.singular_values.shape == (3,)


def test_projection_norms_and_angles():
    g = torch.Generator().manual_seed(0)
    P = torch.rand(300, 2, dtype=torch.float64, generator=g) * 2 - 1
    A = affine_fields(P)                                                    # (6, N, 2)
    rot = torch.stack([-P[:, 1], P[:, 0]], -1)[None]                         # in Aff(2)
    quad = torch.stack([P[:, 0] ** 2, torch.zeros(300, dtype=torch.float64)], -1)[None]
    M = A.reshape(6, -1).T
    resid = quad.reshape(-1) - M @ torch.linalg.lstsq(M, quad.reshape(-1, 1)).solution[:, 0]
    half = (quad.reshape(-1) + resid) / 2                                    # half in the span, half orthogonal
    pn = projection_norms(torch.stack([rot[0], resid.reshape(300, 2), half.reshape(300, 2)]), A)
    assert float(pn[0]) == pytest.approx(1.0, abs=1e-12)
    assert float(pn[1]) < 1e-12
    par, ort = (quad.reshape(-1) - resid) / 2, resid
    assert float(pn[2]) == pytest.approx(float(par.norm() / (par + ort).norm()), abs=1e-12)
    ang = span_angles(rot, A)
    assert float(ang[0]) < 1e-7
    G = gram_matrix(A[:2])
    assert torch.allclose(G, torch.eye(2, dtype=torch.float64))
    assert inner_products(A[:1], A[:1]).item() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="different points"):
        projection_norms(rot, A[:, :10])


def test_orthonormality_loss_values_and_stop_gradient():
    P = 200
    e1 = torch.zeros(1, P, 2, dtype=torch.float64)
    e1[..., 0] = 1
    e2 = torch.zeros(1, P, 2, dtype=torch.float64)
    e2[..., 1] = 1
    o = orthonormality_loss(torch.cat([e1, e2]))
    assert torch.allclose(o, torch.zeros(2, dtype=torch.float64), atol=1e-12)
    th = 0.3                                                                 # V2 at angle 0.3 from V1
    v2 = math.cos(th) * e1 + math.sin(th) * e2
    V = torch.cat([e1, 3 * v2]).requires_grad_(True)                         # scale free
    o = orthonormality_loss(V)
    assert float(o[0].detach()) == 0.0
    assert float(o[1].detach()) == pytest.approx(math.pi / 2 - th, abs=1e-9)
    o[1].backward()
    assert float(V.grad[0].abs().max()) == 0.0                              # V1 is not pushed by V2 (stop-gradient)
    assert float(V.grad[1].abs().max()) > 0


def test_lipschitz_hinge_and_sobolev():
    x = torch.linspace(0, 1, 11, dtype=torch.float64)
    Z = torch.stack(torch.meshgrid(x, x, indexing="ij"), -1)                 # (11, 11, 2)
    V = torch.stack([5 * Z[..., 0], torch.zeros_like(Z[..., 0])], -1)[None]  # slope 5 along axis 1, 0 along axis 2
    lip = lipschitz_loss(V, Z, axes=(1, 2), tau=3.0)
    assert float(lip[0]) == pytest.approx((2.0 + 0.0) / 2, abs=1e-9)          # mean of the two axes' hinges
    n = 64
    xs = torch.arange(n, dtype=torch.float64) / n
    smooth = torch.stack([torch.sin(2 * math.pi * xs), torch.cos(2 * math.pi * xs)], -1)[None, None]
    rough = torch.stack([torch.sin(2 * math.pi * 10 * xs), torch.cos(2 * math.pi * 10 * xs)], -1)[None, None]
    s = sobolev_loss(torch.cat([smooth, rough]), axis=2, spacing=1.0 / n)
    # |V^_k|^2 = 1/4 at k = +-f: log(mean_k 1/4 * 2 ((1 + f^2)^2 - 1) / n) with f = 1 and 10
    for i, f in enumerate((1.0, 10.0)):
        assert float(s[i]) == pytest.approx(math.log(0.25 * 2 * ((1 + f * f) ** 2 - 1) / n), rel=1e-9)


def test_save_load_round_trip(tmp_path):
    gen = GeneratorMLP(3, 2, width=8, head=4, periodic={0: 1.0}, dtype=torch.float64)
    p = gen.save(tmp_path / "g.pt", extra={"scales": [1.0, 2.0]})
    back = GeneratorMLP.load(p)
    z = torch.rand(10, 3, dtype=torch.float64)
    assert torch.equal(back(z), gen(z)) and back.saved_extra == {"scales": [1.0, 2.0]}
    (tmp_path / "bad.pt").write_bytes(b"not a torch file")
    with pytest.raises(sl.DataError, match="bad.pt"):
        GeneratorMLP.load(tmp_path / "bad.pt")
    torch.save({"format": "symlie.Other", "version": 1}, tmp_path / "other.pt")
    with pytest.raises(sl.DataError, match="symlie.Other"):
        GeneratorMLP.load(tmp_path / "other.pt")


def test_bad_arguments():
    with pytest.raises(ValueError, match="activation"):
        GeneratorMLP(2, 2, activation="relu6")
    with pytest.raises(ValueError, match="periodic"):
        GeneratorMLP(2, 2, periodic={5: 1.0})
    gen = GeneratorMLP(2, 3, width=4, head=2)
    with pytest.raises(ValueError, match="R\\^2"):
        gen(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="one copy of the points per field"):
        gen.per_head(torch.zeros(2, 4, 2))
