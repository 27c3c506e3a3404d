"""train_solver under torch.distributed: two gloo processes (DistributedDataParallel around an FNO1d, each
process on its shard of the windows) end with identical parameters and the same validation history, and only
rank 0 writes the checkpoint."""
from __future__ import annotations

import os

import pytest
import torch
from _helpers import gloo_available, spawn_gloo

WORLD = 2


def _train(checkpoint=None):
    from tests.nn.test_fno import VAL_KW, _data, tiny    # the same windows, trajectories and model as test_fno

    from symlie.nn import train_solver
    train, val = _data()
    model = tiny()
    res = train_solver(model, train, val, epochs=2, batch_size=8, lr=1e-2, progress=False, val_kw=VAL_KW,
                       checkpoint=checkpoint)
    return model, res


def _work(rank, out_dir):
    model, res = _train(checkpoint=os.path.join(out_dir, f"ck{rank}.pt"))
    torch.save({"state": model.state_dict(), "status": res.status, "vals": [h["val"] for h in res.history],
                "steps": res.steps}, os.path.join(out_dir, f"rank{rank}.pt"))


@pytest.mark.skipif(not gloo_available(), reason="torch.distributed with the gloo backend is not available")
@pytest.mark.slow  # two processes, each importing torch and symlie
def test_two_processes_train_the_same_solver(tmp_path):
    spawn_gloo(_work, tmp_path, WORLD)
    outs = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    assert all(o["status"] == "completed" for o in outs)
    assert outs[0]["steps"] == outs[1]["steps"] == 10          # 72 windows: 36 per rank, 5 batches of 8 per epoch
    assert outs[0]["state"].keys() == outs[1]["state"].keys()
    for k in outs[0]["state"]:
        assert torch.equal(outs[0]["state"][k], outs[1]["state"][k]), k
    assert outs[0]["vals"] == outs[1]["vals"] and outs[0]["vals"][-1] < outs[0]["vals"][0]
    assert (tmp_path / "ck0.pt").exists() and not (tmp_path / "ck1.pt").exists()   # only rank 0 writes
