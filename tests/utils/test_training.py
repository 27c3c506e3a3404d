"""symlie.utils.training.Trainer: convergence and selection on validation, exact resume, seeding, divergence,
early stopping, two gloo processes equal one, bad input and bad checkpoints named in the errors."""
from __future__ import annotations

import math
import os
import sys
import warnings

import pytest
import torch
from torch import nn

from _helpers import DT, randn, free_port, gloo_available
from symlie.utils.errors import ConvergenceWarning, DataError, SymlieError
from symlie.utils.training import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, Trainer, init_distributed


def mse(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def _linear(d_in=1, d_out=1, bias=False, value=0.0):
    m = nn.Linear(d_in, d_out, bias=bias, dtype=DT)
    with torch.no_grad():
        for p in m.parameters():
            p.fill_(value)
    return m


def _net(seed=0):
    """A small MLP with dropout (uses the global RNG in training), deterministically initialised."""
    m = nn.Sequential(nn.Linear(3, 8, dtype=DT), nn.Tanh(), nn.Dropout(0.2), nn.Linear(8, 1, dtype=DT))
    with torch.no_grad():
        for i, p in enumerate(m.parameters()):
            p.copy_(randn(*p.shape, seed=100 * seed + i, scale=0.5))
    return m


def _params(model):
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _strip(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history]


# ---- the shifted-target problem: train on y = 2x, validate on y = x; full-batch gradient descent from w = 0 gives
# w_k = 2 (1 - r^k) with r = 1 - 2 lr mean(x^2) = 0.8, so the validation loss (w - 1)^2 mean(xv^2) falls until
# epoch 3 (w = 0.976) and rises after (1.181, 1.345, ...).
X1 = randn(32, 1, seed=1)
XV = randn(20, 1, seed=2)
TRAIN1, VAL1 = (X1, 2 * X1), (XV, XV)
LR1 = 0.1 / float((X1 ** 2).mean())


def _w(k):
    return 2 * (1 - 0.8 ** k)


def _shifted(epochs, **kw):
    model = _linear()
    kw.setdefault("progress", False)
    tr = Trainer(model, mse, lambda p: torch.optim.SGD(p, lr=LR1), epochs=epochs, batch_size=32, **kw)
    return model, tr


def test_linear_regression_converges_to_the_known_solution():
    X = randn(64, 3, seed=3)
    w_true, b_true = torch.tensor([[1.0, -2.0, 0.5]], dtype=DT), 0.3
    Y = X @ w_true.T + b_true
    model = _linear(3, 1, bias=True)
    res = Trainer(model, mse, lambda p: torch.optim.Adam(p, lr=0.05), epochs=150, batch_size=16,
                  progress=False).fit((X, Y), val_data=(X[:16], Y[:16]))
    assert res.status == "completed" and res.epochs_run == 150 and res.steps == 150 * 4
    assert res.selected_on == "val" and res.best_val < 1e-10
    torch.testing.assert_close(model.weight.detach(), w_true, atol=1e-5, rtol=0)
    assert abs(float(model.bias.detach()) - b_true) < 1e-5
    assert [r["epoch"] for r in res.history] == list(range(1, 151))
    assert all(r["lr"] == 0.05 and r["val"] is not None and r["seconds"] >= 0 for r in res.history)


def test_best_validation_epoch_is_selected_and_restored():
    model, tr = _shifted(10)
    res = tr.fit(TRAIN1, val_data=VAL1)
    assert res.status == "completed" and res.selected_on == "val" and res.epochs_run == 10
    vals = [r["val"] for r in res.history]
    assert min(range(10), key=lambda i: vals[i]) == 2 and all(vals[i + 1] > vals[i] for i in range(2, 9))
    assert res.best_epoch == 3 and res.best_val == vals[2]
    assert float(model.weight.detach()) == pytest.approx(_w(3), rel=1e-12)
    # exactly the parameters of a run stopped at epoch 3; without restore_best the last ones
    ref, tr3 = _shifted(3, restore_best=False)
    tr3.fit(TRAIN1, val_data=VAL1)
    assert torch.equal(model.weight, ref.weight)
    last, tr10 = _shifted(10, restore_best=False)
    assert tr10.fit(TRAIN1, val_data=VAL1).best_epoch == 3
    assert float(last.weight.detach()) == pytest.approx(_w(10), rel=1e-12)
    # without validation data the state is selected on the training loss, and the result says so
    model, tr = _shifted(10)
    res = tr.fit(TRAIN1)
    assert res.selected_on == "train_loss" and res.best_epoch == 10
    assert all(r["val"] is None for r in res.history)


def _mlp_setup(seed=0, init=0, **kw):
    X = randn(50, 3, seed=5)
    Y = torch.sin(X.sum(1, keepdim=True)) + 0.1 * randn(50, 1, seed=6)
    model = _net(init)

    def loss(m, b):
        data = mse(m, b)
        l2 = sum((p ** 2).sum() for p in m.parameters())
        return {"loss": data + 1e-3 * l2, "mse": data, "l2": l2}

    kw.setdefault("progress", False)
    tr = Trainer(model, loss, lambda p: torch.optim.Adam(p, lr=0.02), epochs=kw.pop("epochs", 4), batch_size=16,
                 scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=1, gamma=0.7), seed=seed, **kw)
    return model, tr, (X[:40], Y[:40]), (X[40:], Y[40:])


def test_resume_equals_an_uninterrupted_run(tmp_path):
    ref, tr, train, val = _mlp_setup(restore_best=False)
    full = tr.fit(train, val_data=val)
    ckpt = tmp_path / "run.pt"
    _, tr, _, _ = _mlp_setup(epochs=2, checkpoint=ckpt)
    first = tr.fit(train, val_data=val)
    assert first.epochs_run == 2 and ckpt.exists()
    saved = torch.load(ckpt, weights_only=True)
    assert saved["format"] == CHECKPOINT_FORMAT and saved["version"] == CHECKPOINT_VERSION and saved["epoch"] == 2
    # a fresh model (other initial weights) and optimizer: everything comes from the checkpoint
    model, tr, _, _ = _mlp_setup(init=7, epochs=4, checkpoint=ckpt, restore_best=False)
    res = tr.fit(train, val_data=val, resume_from=ckpt)
    assert res.start_epoch == 2 and res.epochs_run == 4 and res.steps == full.steps == 4 * 3
    assert torch.equal(_params(model), _params(ref))
    assert _strip(res.history) == _strip(full.history)
    assert (res.best_epoch, res.best_val, res.status) == (full.best_epoch, full.best_val, full.status)
    assert set(res.history[0]["terms"]) == {"mse", "l2"}
    assert [r["lr"] for r in res.history] == pytest.approx([0.02 * 0.7 ** k for k in range(4)], rel=1e-12)
    assert torch.load(ckpt, weights_only=True)["epoch"] == 4
    # resuming a finished run trains nothing and returns its best state
    model, tr, _, _ = _mlp_setup(init=7, epochs=4)
    again = tr.fit(train, val_data=val, resume_from=ckpt)
    assert again.steps == 12 and again.best_epoch == full.best_epoch and again.history == res.history


def test_seed_decides_the_run_and_the_global_rng_is_untouched():
    runs = []
    for seed in (0, 0, 1):
        model, tr, train, val = _mlp_setup(seed=seed)
        state = torch.get_rng_state()
        tr.fit(train, val_data=val)
        assert torch.equal(torch.get_rng_state(), state)            # dropout drew from a forked, seeded RNG
        runs.append(_params(model))
    assert torch.equal(runs[0], runs[1]) and not torch.allclose(runs[0], runs[2])


def test_a_dataset_gives_the_same_run_as_tensors():
    class Pairs(torch.utils.data.Dataset):
        def __init__(self, x, y):
            self.x, self.y = x, y

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return {"x": self.x[i], "y": self.y[i]}

    X = randn(30, 3, seed=8)
    Y = X.sum(1, keepdim=True)
    a, b = _linear(3, 1, bias=True), _linear(3, 1, bias=True)
    Trainer(a, mse, lambda p: torch.optim.SGD(p, lr=0.05), epochs=3, batch_size=7, progress=False).fit((X, Y))
    Trainer(b, lambda m, bt: mse(m, (bt["x"], bt["y"])), lambda p: torch.optim.SGD(p, lr=0.05), epochs=3,
            batch_size=7, progress=False).fit(Pairs(X, Y))
    assert torch.equal(_params(a), _params(b))


def test_divergence_stops_restores_the_best_finite_state_and_warns():
    # the learning rate jumps 1000-fold after epoch 3: the iterates blow up until the loss overflows
    boost = lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1.0 if e < 3 else 1e3)
    model = _linear()
    tr = Trainer(model, mse, lambda p: torch.optim.SGD(p, lr=LR1), epochs=1000, batch_size=32, scheduler=boost,
                 progress=False)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        res = tr.fit(TRAIN1, val_data=(X1, 2 * X1))
    # the validation after the step that overflows comes first; that epoch's training itself completed
    assert res.status == "diverged" and res.diverged_at["what"] == "validation"
    assert 4 < res.diverged_at["epoch"] < 1000 and res.epochs_run == res.diverged_at["epoch"]
    assert not math.isfinite(res.history[-1]["val"]) and "validation at epoch" in res.message
    assert res.best_epoch == 3 and math.isfinite(float(model.weight.detach()))
    assert float(model.weight.detach()) == pytest.approx(_w(3), rel=1e-12)
    # a NaN gradient (no validation data): stopped at that step, the best state by training loss restored
    model = _linear()
    calls = []
    model.weight.register_hook(lambda g: g * math.nan if len(calls) > 5 else g)
    counting = lambda m, b: calls.append(1) or mse(m, b)
    with pytest.warns(ConvergenceWarning, match="gradient at epoch 6, step 6"):
        res = Trainer(model, counting, lambda p: torch.optim.SGD(p, lr=LR1), epochs=50, batch_size=32,
                      progress=False).fit(TRAIN1)
    assert res.status == "diverged" and res.diverged_at == {"epoch": 6, "step": 6, "batch": 1, "what": "gradient",
                                                            "terms": []}
    assert res.selected_on == "train_loss" and res.best_epoch == 5 and res.steps == 5
    assert float(model.weight.detach()) == pytest.approx(_w(5), rel=1e-12)
    # a NaN in one named term of a loss dict: the term is named
    model = _linear()
    steps = []

    def with_terms(m, b):
        steps.append(1)
        bad = torch.tensor(math.nan if len(steps) > 2 else 0.0, dtype=torch.float64)
        return {"loss": mse(m, b) + bad, "fit": mse(m, b), "penalty": bad}

    with pytest.warns(ConvergenceWarning, match=r"loss \(terms penalty\) at epoch 3"):
        res = Trainer(model, with_terms, lambda p: torch.optim.SGD(p, lr=LR1), epochs=50, batch_size=32,
                      progress=False).fit(TRAIN1)
    assert res.diverged_at["what"] == "loss" and res.diverged_at["terms"] == ["penalty"]


def test_early_stopping_counts_validations_without_improvement():
    model, tr = _shifted(50, early_stopping=2)
    res = tr.fit(TRAIN1, val_data=VAL1)
    assert res.status == "early-stopped" and res.best_epoch == 3 and res.epochs_run == 5
    assert float(model.weight.detach()) == pytest.approx(_w(3), rel=1e-12)
    # patience in validations: with val_every=2 the validations are at 2, 4, 6, 8
    model, tr = _shifted(50, early_stopping=2, val_every=2)
    res = tr.fit(TRAIN1, val_data=VAL1)
    assert res.status == "early-stopped" and res.best_epoch == 4 and res.epochs_run == 8
    assert [r["val"] is not None for r in res.history] == [False, True] * 4


def test_progress_log_fn_grad_clip_and_plateau(capsys, monkeypatch):
    monkeypatch.delenv("SYMLIE_PROGRESS", raising=False)
    records = []
    model, tr = _shifted(5, progress=True, log_fn=records.append)
    tr.fit(TRAIN1, val_data=VAL1)
    err = capsys.readouterr().err
    assert "train" in err and "loss=" in err and "val=" in err and len(err.splitlines()) <= 11
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5]
    _shifted(5)[1].fit(TRAIN1, val_data=VAL1)
    assert capsys.readouterr().err == ""
    # one step of SGD with lr 1 moves the parameters by at most the clipped gradient norm
    model = _linear(value=5.0)
    Trainer(model, mse, lambda p: torch.optim.SGD(p, lr=1.0), epochs=1, batch_size=32, grad_clip=1e-3,
            progress=False).fit(TRAIN1)
    assert abs(float(model.weight.detach()) - 5.0) == pytest.approx(1e-3, rel=1e-6)
    # ReduceLROnPlateau gets the validation metric: it rises after epoch 3, so the rate drops
    plateau = lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=0.5, patience=0)
    res = _shifted(6, scheduler=plateau)[1].fit(TRAIN1, val_data=VAL1)
    assert [r["lr"] for r in res.history] == pytest.approx([LR1] * 4 + [LR1 / 2, LR1 / 4], rel=1e-12)


# ------------------------------------------------------------------------------------------ distributed
WORLD = 2
XD = randn(64, 4, seed=10)                      # 64 samples: 32 per process, one full batch each
YD = XD @ randn(4, 2, seed=11) + 0.1 * randn(64, 2, seed=12)
XDV = randn(31, 4, seed=13)                     # odd: the processes validate 16 and 15 samples
YDV = XDV @ randn(4, 2, seed=14)


def _ddp_trainer(**kw):
    model = nn.Linear(4, 2, dtype=DT)
    with torch.no_grad():
        model.weight.copy_(randn(2, 4, seed=15))
        model.bias.zero_()
    kw.setdefault("progress", False)
    tr = Trainer(model, mse, lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9), epochs=12, batch_size=64, **kw)
    return model, tr


def _ddp_worker(rank, world, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    os.environ["SYMLIE_PROGRESS"] = "1"
    assert init_distributed("gloo", timeout=120)
    logged = []
    try:
        with open(os.path.join(out_dir, f"stderr{rank}.txt"), "w") as err:
            sys.stderr = err                                # the progress bar writes to sys.stderr
            model, tr = _ddp_trainer(checkpoint=os.path.join(out_dir, f"ckpt-rank{rank}.pt"), progress=True,
                                     log_fn=logged.append)
            res = tr.fit((XD, YD), val_data=(XDV, YDV))
        torch.save({"params": _params(model), "history": _strip(res.history), "best": res.best_epoch,
                    "status": res.status, "logged": len(logged)}, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        sys.stderr = sys.__stderr__
        torch.distributed.destroy_process_group()


@pytest.mark.skipif(not gloo_available(), reason="torch.distributed with the gloo backend is not available")
@pytest.mark.slow  # spawns two processes (each imports torch and symlie): over 10 s on two cores
def test_two_gloo_processes_equal_one_process(tmp_path):
    import torch.multiprocessing as mp
    mp.spawn(_ddp_worker, args=(WORLD, free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    out = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    model, tr = _ddp_trainer()
    ref = tr.fit((XD, YD), val_data=(XDV, YDV))
    assert torch.equal(out[0]["params"], out[1]["params"]) and out[0]["history"] == out[1]["history"]
    torch.testing.assert_close(out[0]["params"], _params(model), rtol=1e-10, atol=1e-10)
    for key in ("train_loss", "val"):
        assert [r[key] for r in out[0]["history"]] == pytest.approx([r[key] for r in ref.history], rel=1e-10)
    assert out[0]["best"] == ref.best_epoch and out[0]["status"] == ref.status == "completed"
    # only rank 0 wrote the checkpoint, printed progress and logged
    assert (tmp_path / "ckpt-rank0.pt").exists() and not (tmp_path / "ckpt-rank1.pt").exists()
    assert "loss=" in (tmp_path / "stderr0.txt").read_text() and (tmp_path / "stderr1.txt").read_text() == ""
    assert out[0]["logged"] == 12 and out[1]["logged"] == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_run_matches_cpu():
    """CPU tensors in, batches moved to the GPU: the full-batch least squares run agrees with the CPU one."""
    runs = []
    for device in ("cpu", "cuda"):
        model, tr = _ddp_trainer(device=device)
        assert model.weight.device.type == device
        res = tr.fit((XD, YD), val_data=(XDV, YDV))
        runs.append((_params(model).cpu(), res.best_val))
    torch.testing.assert_close(runs[1][0], runs[0][0], rtol=1e-10, atol=1e-10)
    assert runs[1][1] == pytest.approx(runs[0][1], rel=1e-10)


# ------------------------------------------------------------------------------------------ bad input
def _ok(**kw):
    model = kw.pop("model", _linear())
    opt = kw.pop("optimizer", lambda p: torch.optim.SGD(p, lr=0.1))
    kw.setdefault("progress", False)
    return Trainer(model, kw.pop("loss_fn", mse), opt, epochs=kw.pop("epochs", 2), batch_size=kw.pop("batch_size", 8),
                   **kw)


@pytest.mark.parametrize("kw, match", [
    ({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size"), ({"batch_size": 2.5}, "batch_size"),
    ({"early_stopping": 0}, "early_stopping"), ({"val_every": 0}, "val_every"), ({"grad_clip": -1.0}, "grad_clip"),
    ({"min_delta": math.nan}, "min_delta"), ({"device": "bogus"}, "device"), ({"seed": 1.5}, "seed"),
    ({"optimizer": torch.optim.SGD(_linear().parameters(), lr=0.1)}, "optimizer"),
    ({"optimizer": "adam"}, "optimizer"), ({"model": "net"}, "model"), ({"loss_fn": None}, "loss_fn"),
    ({"scheduler": 3}, "scheduler"),
])
def test_bad_arguments_are_named(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):        # SymlieError is a ValueError
        _ok(**kw)


def test_bad_checkpoint_folder_and_device(tmp_path):
    with pytest.raises(SymlieError, match="checkpoint .*does not exist"):
        _ok(checkpoint=tmp_path / "missing" / "run.pt")
    assert _ok(checkpoint=tmp_path / "run").checkpoint == tmp_path / "run.pt"
    if not torch.cuda.is_available():
        with pytest.raises(SymlieError, match="device 'cuda': CUDA is not available"):
            _ok(device="cuda")


@pytest.mark.parametrize("loss_fn, match", [
    (lambda m, b: (m(b[0]) - b[1]) ** 2, r"loss_fn: expected a scalar tensor .*shape \(8, 1\)"),
    (lambda m, b: 1.0, "loss_fn: expected a scalar torch tensor, got float"),
    (lambda m, b: {"mse": mse(m, b)}, "loss_fn: returned a dict without a 'loss' entry"),
    (lambda m, b: mse(m, b).detach(), "loss_fn: the loss does not depend on the trainable parameters"),
    (lambda m, b: {"loss": mse(m, b), "l1": torch.ones(2)}, "loss_fn: the term 'l1'"),
])
def test_bad_loss_fn_is_named(loss_fn, match):
    with pytest.raises(SymlieError, match=match):
        _ok(loss_fn=loss_fn).fit(TRAIN1)


def test_bad_data_is_named():
    with pytest.raises(SymlieError, match="train_data: is empty"):
        _ok().fit((X1[:0], X1[:0]))
    with pytest.raises(SymlieError, match="val_data: is empty"):
        _ok().fit(TRAIN1, val_data=(XV[:0], XV[:0]))
    with pytest.raises(SymlieError, match=r"train_data: the tensors have different numbers of samples \[20, 32\]"):
        _ok().fit((X1, XV))
    with pytest.raises(TypeError, match="train_data: pass the Dataset or tensors, not a DataLoader"):
        _ok().fit(torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X1)))
    with pytest.raises(TypeError, match="train_data: expected a tensor"):
        _ok().fit([1.0, 2.0])
    with pytest.raises(TypeError, match="val_fn: expected a number"):
        _ok(val_fn=lambda m, v: "good").fit(TRAIN1, val_data=VAL1)


def test_corrupt_foreign_and_mismatched_checkpoints_name_the_file(tmp_path):
    good = tmp_path / "good.pt"
    _ok(checkpoint=good).fit(TRAIN1)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(good.read_bytes()[:200])
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint at all")
    foreign = tmp_path / "foreign.pt"
    torch.save({"weight": torch.zeros(3)}, foreign)
    other = tmp_path / "other.pt"
    torch.save({**torch.load(good, weights_only=True), "format": "symlie.SymmetryResult"}, other)
    newer = tmp_path / "newer.pt"
    torch.save({**torch.load(good, weights_only=True), "version": CHECKPOINT_VERSION + 1}, newer)
    for path, match in [(corrupt, "not a readable trainer checkpoint"), (junk, "not a readable trainer checkpoint"),
                        (foreign, "missing 'format'"), (other, "is a 'symlie.SymmetryResult' file"),
                        (newer, "written by a newer symlie"), (tmp_path / "absent.pt", "no such file")]:
        with pytest.raises(DataError, match=match) as info:
            _ok().fit(TRAIN1, resume_from=path)
        assert str(path) in str(info.value)
    # a checkpoint of another model names the file and the mismatch
    with pytest.raises(DataError, match="good.pt.*does not fit this trainer"):
        _ok(model=_linear(2, 1)).fit((X1.repeat(1, 2), X1), resume_from=good)
    # resuming with another batch size is allowed, with a warning that the run will differ
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _ok(batch_size=4, epochs=3).fit(TRAIN1, resume_from=good)
    assert any("batch_size differ" in str(w.message) for w in caught)


def test_init_distributed_without_torchrun_environment(monkeypatch):
    for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(k, raising=False)
    assert init_distributed() is False
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    with pytest.raises(SymlieError, match="MASTER_ADDR"):
        init_distributed()


def test_step_fn_runs_after_every_optimizer_step_on_the_new_parameters():
    """step_fn(step) sees the parameters after each step: here w_k = 2 (1 - 0.8^k) of the shifted-target problem."""
    model = _linear()
    seen = []
    trainer = Trainer(model, mse, lambda p: torch.optim.SGD(p, lr=LR1), epochs=3, batch_size=32, shuffle=False,
                      progress=False, restore_best=False,
                      step_fn=lambda step: seen.append((step, float(model.weight.detach()))))
    res = trainer.fit(TRAIN1)
    assert [s for s, _ in seen] == [1, 2, 3] and res.steps == 3
    assert all(math.isclose(w, _w(k), rel_tol=1e-12) for k, (_, w) in enumerate(seen, 1))
    with pytest.raises(TypeError, match="step_fn: expected a callable"):
        Trainer(model, mse, lambda p: torch.optim.SGD(p, lr=0.1), epochs=1, batch_size=4, step_fn=3)
