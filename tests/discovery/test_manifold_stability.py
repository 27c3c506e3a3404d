"""discover_manifold must not get worse with more data: the default neighbourhood size adapts to N and noise.

With the old fixed default (n_neighbors = max(10, 4 n) = 12 in R^3) a unit sphere with noise 0.01 gave so(3)
up to N ~ 800 and nothing from N ~ 2000 on: the neighbourhoods shrank to the noise level while the noise stayed.
"""
import math

import pytest
import torch

import symlie as sl
from _helpers import DT, gen

NOISE = 0.01


def _sphere(N, noise, seed):
    g = gen(seed)
    X = torch.randn(N, 3, generator=g, dtype=DT)
    return X / X.norm(dim=1, keepdim=True) + noise * torch.randn(N, 3, generator=g, dtype=DT)


def _cylinder(N, noise, seed):
    """x^2 + y^2 = 1, |z| <= 1."""
    g = gen(seed)
    th = 2 * math.pi * torch.rand(N, generator=g, dtype=DT)
    z = 2 * torch.rand(N, generator=g, dtype=DT) - 1
    return torch.stack([th.cos(), th.sin(), z], 1) + noise * torch.randn(N, 3, generator=g, dtype=DT)


@pytest.mark.parametrize("N", [500, 2000, 5000, 20000])
def test_noisy_sphere_same_answer_for_every_N(N):
    res = sl.discover_manifold(_sphere(N, NOISE, seed=N), sl.gl(3))
    assert res.dim == 3 and res.identification["name"] == "so(3)", res.summary()
    assert res.distance_to(sl.so(3)) < 0.05
    fit = res.fit
    assert fit["manifold_dim"] == 2 and fit["estimated_dim"] == 2
    assert fit["n_neighbors"] > 12                       # the noise asked for more than the old default ...
    assert abs(fit["noise_level"] / NOISE - 1) < 0.2     # ... and was estimated from the local fits
    assert fit["tangent_error"] < 0.01
    assert fit["n_neighbors_rule"].split(":")[0] in ("curvature", "noise averaged down", "cap")


def test_old_fixed_neighbourhood_fails_on_a_dense_noisy_sphere():
    """The reproduction: 20000 points, 12 neighbours (radius ~0.05, noise 0.01) leave a floor ~0.12."""
    X = _sphere(20000, NOISE, seed=1)
    fixed = sl.discover_manifold(X, sl.gl(3), n_neighbors=12)
    assert fixed.fit["n_neighbors"] == 12 and fixed.fit["n_neighbors_rule"] == "given"
    assert fixed.dim != 3
    assert float(fixed.normalized_spectrum[-3:].min()) > 0.05
    # so(3) candidates too: every candidate is a symmetry, but the floor is too high to say so
    assert sl.discover_manifold(X, sl.so(3), n_neighbors=12).dim == 0
    assert sl.discover_manifold(X, sl.so(3)).dim == 3


def test_noiseless_sphere_keeps_the_smallest_neighbourhood():
    res = sl.discover_manifold(_sphere(2000, 0.0, seed=2), sl.gl(3))
    assert res.dim == 3 and res.identification["name"] == "so(3)"
    assert res.fit["n_neighbors"] == 12 and res.fit["n_neighbors_rule"].startswith("noise averaged down")
    assert res.fit["noise_level"] < 1e-4
    assert float(res.normalized_spectrum[-3:].max()) < 1e-3


def test_override_is_kept():
    res = sl.discover_manifold(_sphere(2000, NOISE, seed=3), sl.gl(3), n_neighbors=30)
    assert res.fit["n_neighbors"] == 30 and res.fit["n_neighbors_rule"] == "given"
    assert res.dim == 3


@pytest.mark.parametrize("N,noise", [(2000, 0.0), (2000, NOISE), (5000, NOISE)])
def test_cylinder_in_se3(N, noise):
    """x^2 + y^2 = 1 under se(3): rotations about z and translations along z (abelian, dim 2)."""
    res = sl.discover_manifold(_cylinder(N, noise, seed=4), sl.se(3))
    assert res.dim == 2, res.summary()
    assert res.identification["name"] == "R^2"
    ref = torch.zeros(2, 4, 4, dtype=DT)
    ref[0, 0, 1], ref[0, 1, 0] = -1.0, 1.0              # rotation about z
    ref[1, 2, 3] = 1.0                                   # translation along z
    assert res.distance_to(ref) < (1e-3 if noise == 0 else 0.05)
