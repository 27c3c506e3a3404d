"""Learning point symmetries of PDE data: the graph scaling, the task's seeded draws and loss, comparison with
the exact generators, and a short seeded training run.

Ground truth: the scaling maps grid data to unit-spread coordinates and fields transform as (tau / T, xi / L,
c phi); the exact KdV generators compared with themselves give zero angles and unit projections; the loss has
finite terms and gradients for every parameter; the same seed gives the same run.
"""
from __future__ import annotations

import math

import pytest
import torch

from symlie import pde
from symlie.datasets import generate
from symlie.generators import GeneratorMLP
from symlie.generators.learn import GraphScaling, PDESymmetryTask, compare_to_exact, learn_pde_symmetries

LABELS = ["d/dx", "d/dt", "t d/dx + d/du"]


@pytest.fixture(scope="module")
def kdv():
    sol = generate("kdv", 3, preset="ko", seed=0, progress=False)
    return sol, pde.kdv()


def test_graph_scaling(kdv):
    sol, _ = kdv
    sc = GraphScaling.from_grid(sol.u, sol.t, sol.x)
    assert sc.L == pytest.approx(128.0) and sc.x0 == 0.0
    P = torch.stack([sol.t[[0, 5, 9]], sol.x[[0, 3, 7]], sol.u[0, [0, 5, 9], [0, 3, 7]]], -1)
    assert torch.allclose(sc.physical(sc.normalise(P)), P, atol=1e-12)
    Q = sc.normalise(torch.stack(torch.meshgrid(sol.t, sol.x, indexing="ij") + (sol.u[0],), -1))
    assert float(Q[..., 1].min()) == 0.0 and float(Q[..., 1].max()) < 1.0
    assert float((sc.c * sol.u).std()) == pytest.approx(1 / math.sqrt(12), rel=1e-9)
    V = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]], dtype=torch.float64)
    assert torch.allclose(sc.push(V), torch.tensor([[0, 1 / sc.L, 0], [2 / sc.T, 0, 3 * sc.c]], dtype=torch.float64))


def test_exact_generators_compare_perfectly(kdv):
    sol, eq = kdv
    task = PDESymmetryTask(sol.u, sol.t, sol.x, eq, n_patches=4, n_ref=500, seed=0)
    sc = task.scaling
    fields = eq.exact_fields(LABELS)

    def exact(Q):                                          # normalised points -> (N, 3, 3) exact fields, mixed
        V = torch.stack([sc.push(f(sc.physical(Q))) for f in fields], 1)
        M = torch.tensor([[1.0, 0.5, 0.0], [0.0, 1.0, -2.0], [0.3, 0.0, 1.0]], dtype=torch.float64)
        return torch.einsum("ab,nbd->nad", M, V)

    c = compare_to_exact(exact, None, task, LABELS)
    assert float(c["angles"].max()) < 1e-7
    assert torch.allclose(c["projection"], torch.ones(3, dtype=torch.float64), atol=1e-10)


def test_task_draws_are_seeded_and_the_loss_is_differentiable(kdv):
    sol, eq = kdv
    a = PDESymmetryTask(sol.u, sol.t, sol.x, eq, n_patches=6, n_ref=400, patch=(16, 16), seed=3)
    b = PDESymmetryTask(sol.u, sol.t, sol.x, eq, n_patches=6, n_ref=400, patch=(16, 16), seed=3)
    for x, y in zip(a.dataset().tensors, b.dataset().tensors):
        assert torch.equal(x, y)
    P = a.patches(*a.dataset()[:2][:3])
    assert P.shape == (2, 16, 16, 3)
    dx = P[..., 1].diff(dim=2)
    assert torch.allclose(dx, torch.full_like(dx, 0.5))  # x continues across the period, never wraps back
    gen = GeneratorMLP(3, 4, width=16, head=8, periodic={1: 1.0}, dtype=torch.float64)
    out = a.loss(gen, a.dataset()[:2])
    assert set(out) == {"loss", "validity", "ortho", "lipschitz", "sobolev"}
    assert all(math.isfinite(float(v.detach())) for v in out.values())
    out["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in gen.parameters())
    a.sobolev = True
    assert float(a.loss(gen, a.dataset()[:2])["sobolev"].detach()) != 0.0


def test_short_training_run_is_seeded_and_selected_on_validation(kdv, tmp_path):
    sol, eq = kdv
    task = PDESymmetryTask(sol.u[:2], sol.t, sol.x, eq, n_patches=4, n_ref=400, patch=(16, 16), seed=0)
    val = PDESymmetryTask(sol.u[2:], sol.t, sol.x, eq, n_patches=2, n_ref=400, patch=(16, 16), seed=1)
    runs = [learn_pde_symmetries(task, val, epochs=2, width=16, head=8, progress=False,
                                 checkpoint=tmp_path / f"r{k}.pt") for k in range(2)]
    (g1, s1, r1), (g2, s2, r2) = runs
    assert r1.status == "completed" and r1.selected_on == "val" and len(r1.history) == 2
    assert all(torch.equal(p, q) for p, q in zip(g1.parameters(), g2.parameters()))
    assert torch.equal(s1, s2) and (tmp_path / "r0.pt").exists()


def test_bad_task_arguments(kdv):
    sol, eq = kdv
    with pytest.raises(TypeError, match="equation"):
        PDESymmetryTask(sol.u, sol.t, sol.x, "kdv")
    with pytest.raises(ValueError, match="weights: unknown"):
        PDESymmetryTask(sol.u, sol.t, sol.x, eq, weights={"symmetry": 1.0})
    with pytest.raises(Exception, match="patch"):
        PDESymmetryTask(sol.u, sol.t, sol.x, eq, patch=(500, 16))
