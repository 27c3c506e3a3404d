"""A small seeded trainer for symlie's models: :class:`Trainer` and the :class:`TrainResult` it returns.

    trainer = Trainer(model, lambda m, b: ((m(b[0]) - b[1]) ** 2).mean(), lambda p: torch.optim.Adam(p, 1e-2),
                      epochs=50, batch_size=32, early_stopping=5, checkpoint="run.pt")
    result = trainer.fit((X, Y), val_data=(Xv, Yv))          # the best state by validation is restored
    result.status, result.best_epoch, result.history[-1]

One run is reproducible from ``seed`` alone: the batches come from a seeded generator and the global torch RNG
(dropout) is seeded inside :meth:`Trainer.fit` and restored on return, so the caller's random state is untouched.
A checkpoint holds everything the rest of the run depends on, so ``fit(..., resume_from=path)`` continues
bit-for-bit. The state is selected on validation (on the training loss when there is no validation data; the
result says which); there is no test argument. Under ``torchrun`` (:func:`init_distributed`) the model is wrapped
in ``DistributedDataParallel`` and each process trains on its shard of every epoch.
"""
from __future__ import annotations

import datetime
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from .errors import ConvergenceWarning, DataError, SymlieError, SymlieWarning
from .files import atomic_file, check_out_file
from .progress import Progress
from .serialization import check_saved
from .validation import check_int, make_generator

__all__ = ["Trainer", "TrainResult", "init_distributed", "CHECKPOINT_FORMAT", "CHECKPOINT_VERSION"]

CHECKPOINT_FORMAT = "symlie.TrainerCheckpoint"
CHECKPOINT_VERSION = 1
_KEYS = ("format", "version", "epoch", "step", "model", "optimizer", "scheduler", "rng", "best", "bad_validations",
         "history", "config")


def init_distributed(backend: str | None = None, *, timeout: float = 1800.0) -> bool:
    """Join the process group ``torchrun`` describes in the environment (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``,
    ``MASTER_PORT``, ``LOCAL_RANK``). ``backend`` None: ``"nccl"`` when CUDA is available (the process then uses GPU
    ``LOCAL_RANK``), else ``"gloo"``; pass ``"gloo"`` to train on the CPU of a GPU machine. Returns True when a group
    is initialised (already, or now), False when the environment describes none (a plain ``python`` run)."""
    import torch.distributed as dist
    if not dist.is_available():
        return False
    if dist.is_initialized():
        return True
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return False
    missing = [k for k in ("MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
    if missing:
        raise SymlieError(f"init_distributed: RANK and WORLD_SIZE are set but {', '.join(missing)} not (start the "
                          f"processes with torchrun, or set all four)")
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() and dist.is_nccl_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout))
    return True


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns.

    ``status``: ``"completed"``, ``"early-stopped"`` or ``"diverged"`` (a NaN/Inf loss, gradient or validation
    metric; ``diverged_at`` then says ``{"epoch", "step", "batch", "what"}`` and, for a loss dict, ``"terms"``: the
    named terms that were not finite on this process). ``best_epoch`` (1-based; 0: the
    initial parameters, when no epoch finished with a finite metric) and ``best_val`` are the selected state and its
    metric, which ``selected_on`` names (``"val"``, or ``"train_loss"`` when fit had no validation data).
    ``history``: one dict per completed epoch with ``epoch``, ``step``, ``train_loss``, ``terms`` (the other named
    entries of a dict loss, epoch means), ``val`` (None where not validated), ``lr`` and ``seconds``; it includes
    the epochs of a resumed run. ``epochs_run``: the last completed epoch; ``start_epoch``: where this call began
    (0, or the checkpoint's epoch); ``steps``: optimizer steps in all; ``seconds``: the wall time of this call."""
    status: str
    best_epoch: int
    best_val: float
    selected_on: str
    epochs_run: int
    steps: int
    seconds: float
    history: list[dict] = field(repr=False)
    diverged_at: dict | None = None
    start_epoch: int = 0
    message: str = ""


class _Tensors(Dataset):
    """Rows of one tensor (batches are tensors) or of several (batches are tuples), fetched a batch at a time."""

    def __init__(self, tensors: tuple[torch.Tensor, ...], single: bool):
        self.tensors, self.single = tensors, single

    def __len__(self) -> int:
        return int(self.tensors[0].shape[0])

    def __getitem__(self, i):
        return self.__getitems__([i])

    def __getitems__(self, idx):
        idx = torch.as_tensor(idx, dtype=torch.long)
        out = tuple(t[idx] for t in self.tensors)
        return out[0] if self.single else out


def _as_is(batch):
    return batch


def _as_data(data, name: str) -> tuple[Dataset, Callable | None]:
    """A map-style dataset and the collate function for it (None: torch's default)."""
    if isinstance(data, DataLoader):
        raise TypeError(f"{name}: pass the Dataset or tensors, not a DataLoader (the Trainer builds its own seeded "
                        f"loader from batch_size and seed)")
    if isinstance(data, torch.Tensor) or (isinstance(data, (tuple, list)) and len(data) > 0
                                          and all(isinstance(t, torch.Tensor) for t in data)):
        tensors = (data,) if isinstance(data, torch.Tensor) else tuple(data)
        if any(t.ndim == 0 for t in tensors):
            raise SymlieError(f"{name}: tensors need a leading sample dimension, got a 0-d tensor")
        lengths = sorted({int(t.shape[0]) for t in tensors})
        if len(lengths) > 1:
            raise SymlieError(f"{name}: the tensors have different numbers of samples {lengths}")
        ds, collate = _Tensors(tensors, isinstance(data, torch.Tensor)), _as_is
    elif isinstance(data, Dataset) and hasattr(data, "__len__"):
        ds, collate = data, (_as_is if isinstance(data, _Tensors) else None)
    else:
        raise TypeError(f"{name}: expected a tensor, a tuple of tensors or a map-style torch Dataset (with len()), "
                        f"got {type(data).__name__}")
    if len(ds) == 0:  # type: ignore[arg-type]
        raise SymlieError(f"{name}: is empty (0 samples)")
    return ds, collate


def _to(batch, device: torch.device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to(b, device) for b in batch)
    if isinstance(batch, Mapping):
        return {k: _to(v, device) for k, v in batch.items()}
    return batch


def _scalar(v, what: str) -> torch.Tensor:
    if not isinstance(v, torch.Tensor):
        raise SymlieError(f"{what}: expected a scalar torch tensor, got {type(v).__name__}")
    if v.numel() != 1:
        raise SymlieError(f"{what}: expected a scalar tensor (a mean over the batch), got shape {tuple(v.shape)}")
    return v.reshape(())


def _device(device, distributed: bool) -> torch.device:
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError):
        raise SymlieError(f"device: expected 'cpu', 'cuda', 'cuda:N' or a torch.device, got {device!r}") from None
    if d.type == "cuda":
        if not torch.cuda.is_available():
            raise SymlieError(f"device {device!r}: CUDA is not available in this torch ({torch.__version__}); "
                              f"use device='cpu'")
        if d.index is None:
            d = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")) if distributed
                             else torch.cuda.current_device())
        if d.index >= torch.cuda.device_count():
            raise SymlieError(f"device {device!r}: there are only {torch.cuda.device_count()} CUDA devices")
    return d


def _snapshot(module: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


class Trainer:
    """Train ``model`` by minimising ``loss_fn(model, batch)`` (a scalar tensor, or a dict of scalars with a
    ``"loss"`` entry whose other entries are logged) with ``optimizer`` (an optimizer on the model's parameters,
    or ``params -> optimizer``) and optional ``scheduler`` (an LR scheduler, or ``optimizer -> scheduler``;
    stepped once per epoch, ``ReduceLROnPlateau`` with the selection metric).

    ``epochs``: total epochs (a resumed run continues up to it); ``batch_size``: per process; ``shuffle`` the
    training samples every epoch from ``seed``. ``val_fn(model, val_data) -> float`` (lower is better; default:
    the sample mean of ``loss_fn`` over the validation batches) runs every ``val_every`` epochs and after the last,
    without grad and in eval mode. ``early_stopping``: stop after that many validations without an improvement
    of more than ``min_delta``; ``grad_clip``: clip the gradient norm; ``restore_best``: end with the best
    state (a diverged run always does). ``checkpoint``: a path (``.pt`` appended if missing) written atomically
    every ``checkpoint_every`` epochs and at the end; ``progress``: a bar with the loss and validation metric
    (``SYMLIE_PROGRESS=0`` also silences it); ``log_fn(record)``: called with each epoch's history record;
    ``epoch_fn(epoch)``: called on every process before each epoch's batches (e.g. a loss term that switches on
    late in training; also on resume, for the epoch that continues); ``step_fn(step)``: called on every process
    after each optimizer step with the global step count (1-based; e.g. the Z / U update of a splitting method,
    :class:`symlie.promote.ADMMPenalty`; state it keeps must live in buffers of ``model`` to be checkpointed).
    Under torch.distributed only rank 0 prints, logs, warns and writes checkpoints, and ``loss_fn`` must call
    ``model(...)`` (the DistributedDataParallel wrapper; the unwrapped module is ``trainer.model``)."""

    def __init__(self, model: nn.Module, loss_fn: Callable, optimizer: Any, *, epochs: int, batch_size: int,
                 scheduler: Any = None, val_fn: Callable | None = None, device: Any = "cpu", seed: int = 0,
                 shuffle: bool = True, val_every: int = 1, early_stopping: int | None = None,
                 min_delta: float = 0.0, grad_clip: float | None = None, restore_best: bool = True,
                 checkpoint: Any = None, checkpoint_every: int = 1, progress: bool = True,
                 log_fn: Callable | None = None, epoch_fn: Callable | None = None, step_fn: Callable | None = None):
        import torch.distributed as dist
        if not isinstance(model, nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
        for name, fn in (("loss_fn", loss_fn), ("val_fn", val_fn), ("log_fn", log_fn), ("epoch_fn", epoch_fn),
                         ("step_fn", step_fn)):
            if not callable(fn) and (fn is not None or name == "loss_fn"):
                raise TypeError(f"{name}: expected a callable, got {type(fn).__name__}")
        self.epochs = check_int(epochs, "epochs", 1)
        self.batch_size = check_int(batch_size, "batch_size", 1)
        self.val_every = check_int(val_every, "val_every", 1)
        self.checkpoint_every = check_int(checkpoint_every, "checkpoint_every", 1)
        self.early_stopping = check_int(early_stopping, "early_stopping", 1, allow_none=True)
        self.seed = check_int(seed, "seed", None)
        if grad_clip is not None and not (isinstance(grad_clip, (int, float)) and 0 < grad_clip < math.inf):
            raise SymlieError(f"grad_clip: expected a finite number > 0 or None, got {grad_clip!r}")
        if not (isinstance(min_delta, (int, float)) and 0 <= min_delta < math.inf):
            raise SymlieError(f"min_delta: expected a finite number >= 0, got {min_delta!r}")
        self.grad_clip, self.min_delta = grad_clip, float(min_delta)
        self.device = _device(device, dist.is_available() and dist.is_initialized())
        self.model = model.to(self.device)
        self.loss_fn, self.val_fn, self.log_fn, self.epoch_fn = loss_fn, val_fn, log_fn, epoch_fn
        self.step_fn = step_fn
        self.shuffle, self.restore_best, self.progress = bool(shuffle), bool(restore_best), bool(progress)
        self.checkpoint = None if checkpoint is None else check_out_file(checkpoint, "checkpoint", suffix=".pt")

        if isinstance(optimizer, torch.optim.Optimizer):
            self.optimizer = optimizer
        elif callable(optimizer):
            self.optimizer = optimizer(self.model.parameters())
            if not isinstance(self.optimizer, torch.optim.Optimizer):
                raise TypeError(f"optimizer: the factory returned {type(self.optimizer).__name__}, not a "
                                f"torch.optim.Optimizer")
        else:
            raise TypeError(f"optimizer: expected a torch.optim.Optimizer or params -> optimizer, got "
                            f"{type(optimizer).__name__}")
        own = {id(p) for p in self.model.parameters()}
        if any(id(p) not in own for g in self.optimizer.param_groups for p in g["params"]):
            raise SymlieError("optimizer: holds parameters that are not the model's (build it on model.parameters())")
        if callable(scheduler):                              # a factory (scheduler instances are not callable)
            scheduler = scheduler(self.optimizer)
        if scheduler is not None and not (hasattr(scheduler, "step") and hasattr(scheduler, "state_dict")):
            raise TypeError(f"scheduler: expected an LR scheduler or optimizer -> scheduler, got "
                            f"{type(scheduler).__name__}")
        if scheduler is not None and getattr(scheduler, "optimizer", self.optimizer) is not self.optimizer:
            raise SymlieError("scheduler: was built on a different optimizer than the trainer's")
        self.scheduler = scheduler

    # ------------------------------------------------------------------------------------------ helpers
    def _loss(self, model, batch) -> tuple[torch.Tensor, dict[str, float]]:
        out = self.loss_fn(model, batch)
        terms: dict[str, float] = {}
        if isinstance(out, Mapping):
            if "loss" not in out:
                raise SymlieError(f"loss_fn: returned a dict without a 'loss' entry (keys {sorted(map(str, out))})")
            for k, v in out.items():
                if k != "loss":
                    v = v if isinstance(v, (int, float)) else _scalar(v, f"loss_fn: the term {k!r}").detach()
                    terms[str(k)] = float(v)
            out = out["loss"]
        return _scalar(out, "loss_fn"), terms

    def _reduce(self, values: list[float]) -> list[float]:
        """Sums over the processes (identity in one process)."""
        if not self._dist:
            return values
        import torch.distributed as dist
        on = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
        t = torch.tensor(values, dtype=torch.float64, device=on)
        dist.all_reduce(t)
        return t.tolist()

    def _validate(self, val_data, val_ds, collate) -> float:
        module = self.model
        module.eval()
        try:
            with torch.no_grad():
                if self.val_fn is not None:
                    v = self.val_fn(module, val_data)
                    try:
                        total, count = float(v), 1.0
                    except (TypeError, ValueError):
                        raise TypeError(f"val_fn: expected a number, got {type(v).__name__}") from None
                else:
                    sub = Subset(val_ds, range(self._rank, len(val_ds), self._world)) if self._dist else val_ds
                    total, count = 0.0, 0.0
                    loader = DataLoader(sub, batch_size=self.batch_size, collate_fn=collate,
                                        generator=torch.Generator())
                    for batch in loader:
                        nb = min(self.batch_size, len(sub) - int(count))  # type: ignore[arg-type]
                        total += float(self._loss(module, _to(batch, self.device))[0]) * nb
                        count += nb
        finally:
            module.train()
        total, count = self._reduce([total, count])
        return total / count

    def _save(self, state: dict) -> None:
        assert self.checkpoint is not None
        with atomic_file(self.checkpoint, "checkpoint") as tmp, open(tmp, "xb") as fh:
            torch.save(state, fh)
            fh.flush()
            os.fsync(fh.fileno())

    def _load(self, path) -> dict:
        p = Path(os.fspath(path))
        if not p.is_file():
            raise DataError(f"resume_from {str(p)!r}: no such file")
        try:
            d = torch.load(p, map_location=self.device, weights_only=True)
        except Exception as exc:  # a truncated or foreign file fails in many ways (pickle, zip, torch)
            why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            raise DataError(f"resume_from {str(p)!r}: not a readable trainer checkpoint ({type(exc).__name__}"
                            f"{': ' + why if why else ''})") from None
        check_saved(d, p, kind=CHECKPOINT_FORMAT, version=CHECKPOINT_VERSION, required=_KEYS)
        before = _snapshot(self.model)
        try:
            self.model.load_state_dict(d["model"])
            self.optimizer.load_state_dict(d["optimizer"])
            if self.scheduler is not None and d["scheduler"] is not None:
                self.scheduler.load_state_dict(d["scheduler"])
            torch.set_rng_state(d["rng"]["torch"].cpu())
            if self.device.type == "cuda" and d["rng"].get("cuda") is not None:
                torch.cuda.set_rng_state(d["rng"]["cuda"].cpu(), self.device)
            self._gen.set_state(d["rng"]["data"].cpu())
        except (KeyError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
            self.model.load_state_dict(before)               # a failed resume leaves the model as it was
            why = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise DataError(f"resume_from {str(p)!r}: the checkpoint does not fit this trainer ({why})") from None
        if (self.scheduler is None) != (d["scheduler"] is None) and self._rank == 0:
            had = "with" if d["scheduler"] is not None else "without"
            warnings.warn(f"resume_from {str(p)!r}: the checkpoint was written {had} a scheduler, this trainer has "
                          f"{'one' if self.scheduler is not None else 'none'}", SymlieWarning, stacklevel=4)
        changed = [k for k, v in self._config().items() if d["config"].get(k) != v]
        if changed and self._rank == 0:
            warnings.warn(f"resume_from {str(p)!r}: {', '.join(changed)} differ from the checkpoint's; the run will "
                          f"not equal an uninterrupted one", SymlieWarning, stacklevel=4)
        return d

    def _config(self) -> dict:
        return {"seed": self.seed, "batch_size": self.batch_size, "shuffle": self.shuffle, "world_size": self._world}

    # ------------------------------------------------------------------------------------------ fit
    def fit(self, train_data, val_data=None, *, resume_from=None) -> TrainResult:
        """Train on ``train_data`` (a tensor, a tuple of tensors with a common first dimension, or a map-style
        Dataset; batches are then a tensor, a tuple of tensors, or what the Dataset's collation gives), select on
        ``val_data`` (same forms; optional), optionally continuing the checkpoint ``resume_from``."""
        import torch.distributed as dist
        t_start = time.perf_counter()
        train_ds, collate = _as_data(train_data, "train_data")
        val_ds, val_collate = (None, None) if val_data is None or self.val_fn is not None \
            else _as_data(val_data, "val_data")
        self._dist = dist.is_available() and dist.is_initialized()
        self._world = dist.get_world_size() if self._dist else 1
        self._rank = dist.get_rank() if self._dist else 0
        if self._dist and self.device.type == "cpu" and dist.get_backend() == "nccl":
            raise SymlieError("device 'cpu': the process group uses nccl, which cannot reduce CPU tensors; "
                              "initialise it with backend='gloo' (init_distributed('gloo'))")
        has_val = val_data is not None
        self._gen = make_generator(self.seed)
        cuda = [self.device.index] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(self.seed)
            return self._fit(train_ds, collate, val_data, val_ds, val_collate, has_val, resume_from, t_start)

    def _fit(self, train_ds, collate, val_data, val_ds, val_collate, has_val, resume_from, t_start) -> TrainResult:
        from torch.nn.parallel import DistributedDataParallel
        from torch.utils.data.distributed import DistributedSampler
        module, opt, sched = self.model, self.optimizer, self.scheduler
        start, step, history, bad = 0, 0, [], 0
        best: dict[str, Any] = {"epoch": 0, "val": math.inf, "state": _snapshot(module)}
        if resume_from is not None:
            d = self._load(resume_from)
            start, step, history, best, bad = d["epoch"], d["step"], d["history"], d["best"], d["bad_validations"]
        sampler: DistributedSampler | None = None
        if self._dist:
            sampler = DistributedSampler(train_ds, num_replicas=self._world, rank=self._rank, shuffle=self.shuffle,
                                         seed=self.seed)
        loader = DataLoader(train_ds, batch_size=self.batch_size, shuffle=self.shuffle and sampler is None,
                            sampler=sampler, generator=self._gen, collate_fn=collate)
        n_local, per_epoch = (len(sampler) if sampler is not None else len(train_ds)), len(loader)
        net = (DistributedDataParallel(module, device_ids=[self.device.index] if self.device.type == "cuda" else None)
               if self._dist else module)
        params = [p for p in module.parameters() if p.requires_grad]
        status, last_val = "completed", None
        diverged_at: dict[str, Any] | None = None
        bar = Progress(total=self.epochs * per_epoch, desc="train", unit="step",
                       enabled=None if self.progress and self._rank == 0 else False)
        bar.update(start * per_epoch)
        net.train()
        for epoch in range(start + 1, self.epochs + 1):
            t0 = time.perf_counter()
            if sampler is not None:
                sampler.set_epoch(epoch)
            if self.epoch_fn is not None:
                self.epoch_fn(epoch)
            lr = float(opt.param_groups[0]["lr"])
            sums: dict[str, float] = {}
            seen = 0
            for i, batch in enumerate(loader):
                nb = min(self.batch_size, n_local - seen)
                seen += nb
                loss, terms = self._loss(net, _to(batch, self.device))
                if not loss.requires_grad:
                    raise SymlieError("loss_fn: the loss does not depend on the trainable parameters (requires_grad "
                                      "is False: computed under no_grad, or detached)")
                opt.zero_grad(set_to_none=True)
                loss.backward()
                grads = [p.grad for p in params if p.grad is not None]
                if self.grad_clip is not None:
                    gnorm = float(torch.nn.utils.clip_grad_norm_(params, self.grad_clip))
                else:
                    gnorm = float(torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.detach())
                                                                        for g in grads]))) if grads else 0.0
                lv = float(loss.detach())
                flags = self._reduce([float(not math.isfinite(lv)), float(not math.isfinite(gnorm))])
                if any(flags):
                    bad_terms = [k for k, v in terms.items() if not math.isfinite(v)]
                    diverged_at = {"epoch": epoch, "step": step + 1, "batch": i + 1,
                                   "what": "loss" if flags[0] else "gradient", "terms": bad_terms}
                    break
                opt.step()
                step += 1
                if self.step_fn is not None:
                    self.step_fn(step)
                for k, v in (("loss", lv), *terms.items()):
                    sums[k] = sums.get(k, 0.0) + v * nb
                bar.update()
                bar.set_postfix(None, loss=lv, **({} if last_val is None else {"val": last_val}))
            if diverged_at is not None:
                break
            names = list(sums)
            totals = self._reduce([sums[k] for k in names] + [float(seen)])
            means = {k: s / totals[-1] for k, s in zip(names, totals)}
            train_loss = means.pop("loss")
            validated = has_val and (epoch % self.val_every == 0 or epoch == self.epochs)
            val = self._validate(val_data, val_ds, val_collate) if validated else None
            last_val = val if val is not None else last_val
            metric = val if has_val else train_loss
            record = {"epoch": epoch, "step": step, "train_loss": train_loss, "terms": means, "val": val, "lr": lr,
                      "seconds": time.perf_counter() - t0}
            history.append(record)
            if metric is not None and not math.isfinite(metric):
                diverged_at = {"epoch": epoch, "step": step, "batch": None, "what": "validation" if has_val else "loss"}
                break
            if metric is not None:
                if metric < best["val"] - self.min_delta:
                    best, bad = {"epoch": epoch, "val": metric, "state": _snapshot(module)}, 0
                else:
                    bad += 1
            if sched is not None:
                if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                    if metric is not None:
                        sched.step(metric)
                else:
                    sched.step()
            stop = self.early_stopping is not None and bad >= self.early_stopping
            if self.checkpoint is not None and self._rank == 0 and (
                    epoch % self.checkpoint_every == 0 or epoch == self.epochs or stop):
                rng = {"torch": torch.get_rng_state(), "data": self._gen.get_state(),
                       "cuda": torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None}
                self._save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "epoch": epoch, "step": step,
                            "model": module.state_dict(), "optimizer": opt.state_dict(),
                            "scheduler": None if sched is None else sched.state_dict(), "rng": rng, "best": best,
                            "bad_validations": bad, "history": history, "config": self._config()})
            if self.log_fn is not None and self._rank == 0:
                self.log_fn(record)
            if stop:
                status = "early-stopped"
                break
        bar.close()
        del net
        selected = "val" if has_val else "train_loss"
        epochs_run = history[-1]["epoch"] if history else start
        if diverged_at is not None:
            status = "diverged"
            where = "the initial parameters" if best["epoch"] == 0 else f"epoch {best['epoch']}"
            named = f" (terms {', '.join(diverged_at['terms'])})" if diverged_at.get("terms") else ""
            message = (f"training diverged: a non-finite {diverged_at['what']}{named} at epoch {diverged_at['epoch']}, "
                       f"step {diverged_at['step']}; restored {where} (best {selected} {best['val']:.4g})")
            if self._rank == 0:
                warnings.warn(message, ConvergenceWarning, stacklevel=3)
        else:
            message = f"{status} after {epochs_run} epochs; best {selected} {best['val']:.4g} at epoch {best['epoch']}"
        if diverged_at is not None or self.restore_best:
            module.load_state_dict(best["state"])
        if self._dist:
            import torch.distributed as dist
            dist.barrier()                                   # the checkpoint exists for every rank on return
        return TrainResult(status=status, best_epoch=int(best["epoch"]), best_val=float(best["val"]),
                           selected_on=selected, epochs_run=epochs_run, steps=step,
                           seconds=time.perf_counter() - t_start, history=history, diverged_at=diverged_at,
                           start_epoch=start, message=message)
