"""train_neural_ode under torch.distributed: two gloo processes (DistributedDataParallel around the neural ODE,
each process on its shard of the chunks, the ADMM promotion updated on every process) end with identical
parameters, identical Z / U buffers and the same validation history, and only rank 0 writes the checkpoint."""
from __future__ import annotations

import os

import pytest
import torch
from _helpers import gloo_available, spawn_gloo

WORLD = 2


def _work(rank, out_dir):
    from tests.nn.test_node import TIMES, _A, _chunks, _setup

    from symlie.nn import train_neural_ode
    A = _A()
    train, val = _chunks(A, 32, seed=4), _chunks(A, 8, seed=5)
    field, node, admm = _setup()
    res = train_neural_ode(node, train, val, times=TIMES, epochs=2, batch_size=8, lr=5e-2, promotion=admm,
                           progress=False, checkpoint=os.path.join(out_dir, f"ck{rank}.pt"))
    torch.save({"W": field.weight.detach(), "Z": admm.Z, "U": admm.U, "status": res.status, "steps": res.steps,
                "vals": [h["val"] for h in res.history], "calls": int(admm.n_calls)},
               os.path.join(out_dir, f"rank{rank}.pt"))


@pytest.mark.skipif(not gloo_available(), reason="torch.distributed with the gloo backend is not available")
@pytest.mark.slow  # two processes, each importing torch and symlie
def test_two_processes_train_the_same_neural_ode(tmp_path):
    spawn_gloo(_work, tmp_path, WORLD)
    outs = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    assert all(o["status"] == "completed" for o in outs)
    assert outs[0]["steps"] == outs[1]["steps"] == 4 == outs[0]["calls"]   # 32 chunks: 16 per rank, 2 batches of 8
    for k in ("W", "Z", "U"):
        assert torch.equal(outs[0][k], outs[1][k]), k
    assert outs[0]["vals"] == outs[1]["vals"]
    assert (tmp_path / "ck0.pt").exists() and not (tmp_path / "ck1.pt").exists()
