"""Learned generators train data-parallel: two gloo processes (DistributedDataParallel around the fields and
the loss, one module) give the parameters of one process on the same full batches (float64)."""
from __future__ import annotations

import os

import pytest
import torch
from _helpers import gloo_available, spawn_gloo

from symlie import pde
from symlie.datasets import generate
from symlie.generators.learn import PDESymmetryTask, learn_pde_symmetries

WORLD = 2


def _tasks():
    sol = generate("kdv", 3, preset="ko", seed=0, progress=False)
    eq = pde.kdv()
    task = PDESymmetryTask(sol.u[:2], sol.t, sol.x, eq, n_patches=4, n_ref=256, patch=(12, 12), seed=0)
    val = PDESymmetryTask(sol.u[2:], sol.t, sol.x, eq, n_patches=2, n_ref=256, patch=(12, 12), seed=1)
    return task, val


def _run(batch_size, checkpoint=None):
    task, val = _tasks()
    gen, scales, res = learn_pde_symmetries(task, val, epochs=2, batch_size=batch_size, width=8, head=4,
                                            dtype=torch.float64, progress=False, checkpoint=checkpoint)
    return [p.detach().clone() for p in gen.parameters()], res


def _work(rank, out_dir):
    params, res = _run(2, checkpoint=os.path.join(out_dir, f"ck{rank}.pt"))
    torch.save({"params": params, "status": res.status}, os.path.join(out_dir, f"rank{rank}.pt"))


@pytest.mark.skipif(not gloo_available(), reason="torch.distributed with the gloo backend is not available")
@pytest.mark.slow  # two processes, each importing torch and symlie
def test_two_processes_learn_the_same_fields_as_one(tmp_path):
    single, res = _run(4)                                  # one process, the full batch of 4 draws per step
    spawn_gloo(_work, tmp_path, WORLD)
    outs = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    assert res.status == "completed" and all(o["status"] == "completed" for o in outs)
    for p, q0, q1 in zip(single, outs[0]["params"], outs[1]["params"]):
        assert torch.equal(q0, q1)                          # ranks stay in sync
        assert torch.allclose(p, q0, atol=1e-10, rtol=1e-8)  # 2 x 2 draws == 1 x 4 draws
    assert (tmp_path / "ck0.pt").exists() and not (tmp_path / "ck1.pt").exists()   # only rank 0 writes
