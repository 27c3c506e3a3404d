"""Training and evaluating neural PDE solvers (:class:`symlie.nn.FNO1d` or any module of the same interface).

A *solver* maps a window of ``history`` time steps to the next ``future`` ones: (B, history, nx) -> (B, future,
nx). Trajectories are (B, nt, nx) tensors (time before space, a uniform periodic grid in x).

* :func:`rollout` -- autoregressive unrolling from an initial window.
* :func:`unrolled_nmse` -- the NMSE of Ko et al. / LPSDA: the solver is unrolled from
  u[:, start - history:start] over ``steps`` time steps and the normalised errors
  mean_x (pred - u)^2 / mean_x u^2 of every step are summed (per trajectory).
* :func:`single_time_nmse` -- one prediction u[:, target] from u[:, start - history:start] (a solver with
  future = 1): sum_x err^2 / sum_x u^2 per trajectory.
* :func:`bootstrap_interval` -- a seeded percentile-bootstrap confidence interval of a mean.
* :func:`train_solver` -- AdamW with a step schedule on (window, continuation) pairs, selected on the NMSE of
  validation trajectories, through :class:`symlie.utils.training.Trainer` (seeded, checkpoint / resume,
  torchrun / DistributedDataParallel).
* :func:`save_solver` / :func:`load_solver` -- a versioned ``.pt`` file of an :class:`FNO1d`.

Evaluation casts the trajectories to the model's dtype and device for the forward passes and accumulates the
errors in float64; the model is put in eval mode (and back) and no gradients are kept.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from ..utils.errors import DataError, SymlieError
from ..utils.files import atomic_file, check_out_file
from ..utils.serialization import load_torch_file
from ..utils.training import Trainer, TrainResult
from ..utils.validation import as_tensor, check_int, make_generator
from .fno import FNO1d

__all__ = ["rollout", "unrolled_nmse", "UnrolledNMSE", "single_time_nmse", "bootstrap_interval", "train_solver",
           "save_solver", "load_solver", "SOLVER_FORMAT", "SOLVER_FORMAT_VERSION"]

SOLVER_FORMAT = "symlie.FNO1d"
SOLVER_FORMAT_VERSION = 1
_SAVED_KEYS = ("config", "state_dict")


# ------------------------------------------------------------------------------------------ helpers
def _model_dtype_device(model: nn.Module, fallback: torch.Tensor) -> tuple[torch.dtype, torch.device]:
    """The floating dtype and the device of a module's parameters (else buffers); the fallback tensor's when it
    has none (a parameter-free reference solver)."""
    for t in list(model.parameters()) + list(model.buffers()):
        if t.is_floating_point():
            return t.dtype, t.device
    return fallback.dtype, fallback.device


def _check_model(model) -> None:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module (a solver (B, history, nx) -> (B, future, nx)), got "
                        f"{type(model).__name__}")


def _check_output(out, b: int, nx: int, future: int | None) -> None:
    if not isinstance(out, torch.Tensor):
        raise SymlieError(f"model: expected the solver to return a tensor of shape (batch, future, nx), got "
                          f"{type(out).__name__}")
    if out.ndim != 3 or out.shape[0] != b or out.shape[2] != nx or out.shape[1] < 1 or \
            (future is not None and out.shape[1] != future):
        want = f"({b}, {future if future is not None else 'future'}, {nx})"
        raise SymlieError(f"model: expected the solver to return shape {want} (batch, future, nx), got "
                          f"{tuple(out.shape)}")


def _declared(model: nn.Module, attr: str) -> int | None:
    v = getattr(model, attr, None)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _trajectories(u, name: str) -> torch.Tensor:
    """u as a finite floating (B, nt, nx) tensor; NaN / Inf or a wrong rank is a DataError naming ``name``."""
    if isinstance(u, torch.Tensor) and u.is_floating_point():
        t = u
    else:
        t = as_tensor(u, name, finite=False)
    if t.ndim != 3 or t.shape[0] == 0:
        raise DataError(f"{name}: expected trajectories of shape (B, nt, nx) with B >= 1, got {tuple(t.shape)}")
    bad = int((~torch.isfinite(t)).sum()) if not bool(torch.isfinite(t).all()) else 0
    if bad:
        raise DataError(f"{name}: contains {bad} NaN or Inf entr{'y' if bad == 1 else 'ies'}")
    return t


def _window(u: torch.Tensor, name: str, start: int, history: int, end: int, what: str) -> None:
    """Check that u[:, start - history:end] exists (end: one past the last target step)."""
    if start < history:
        raise SymlieError(f"start: the input window u[:, start - history:start] needs start >= history "
                          f"(start = {start}, history = {history})")
    nt = int(u.shape[1])
    if nt < end:
        raise DataError(f"{name}: has nt = {nt} time steps, but {what} needs nt >= {end}")


def _check_norms(y: torch.Tensor, name: str, offset: int, first: int) -> None:
    """Every target snapshot y[b, k] must be nonzero (it normalises the error); y (b, k, nx)."""
    zero = (y.to(torch.float64) ** 2).sum(-1) == 0
    if bool(zero.any()):
        b, k = (int(i) for i in torch.nonzero(zero)[0])
        raise DataError(f"{name}: trajectory {offset + b} is identically zero at time step {first + k}; its "
                        f"normalised error is undefined")


class _Eval:
    """Eval mode and no grad for the duration, the module's own mode restored after."""

    def __init__(self, model: nn.Module):
        self.model, self.was = model, model.training

    def __enter__(self):
        self.grad = torch.is_grad_enabled()
        torch.set_grad_enabled(False)
        self.model.eval()
        return self

    def __exit__(self, *exc):
        self.model.train(self.was)
        torch.set_grad_enabled(self.grad)
        return False


# ------------------------------------------------------------------------------------------ rollout
def rollout(model: nn.Module, u0: torch.Tensor, steps: int) -> torch.Tensor:
    """Autoregressive unrolling: u0 (B, history, nx) -> predictions (B, steps, nx).

    Each call of ``model`` maps the last ``history`` time steps (the true ones of u0 first, then predicted ones)
    to the next ``future`` (read off the output; checked against ``model.future`` when the model declares it).
    ``steps`` need not be a multiple of ``future``: ceil(steps / future) calls are made and the last window is
    truncated to the remaining steps. ``u0`` is used as given (dtype and device must suit the model); the
    graph is kept when grad is enabled (use ``torch.no_grad()`` for evaluation), and the model's train / eval
    mode is not changed.
    """
    _check_model(model)
    steps = check_int(steps, "steps", 1)
    if not isinstance(u0, torch.Tensor) or u0.ndim != 3:
        got = tuple(u0.shape) if isinstance(u0, torch.Tensor) else type(u0).__name__
        raise SymlieError(f"u0: expected a tensor of shape (batch, history, nx), got {got}")
    history = int(u0.shape[1])
    declared = _declared(model, "history")
    if declared is not None and declared != history:
        raise SymlieError(f"u0: has {history} time steps, but model.history = {declared} (expected shape "
                          f"(batch, {declared}, nx))")
    b, nx = int(u0.shape[0]), int(u0.shape[2])
    future = _declared(model, "future")
    window, preds, done = u0, [], 0
    while done < steps:
        out = model(window)
        _check_output(out, b, nx, future)
        k = int(out.shape[1])
        preds.append(out[:, : steps - done])
        done += k
        if done < steps:
            window = torch.cat([window, out], dim=1)[:, -history:]
    return torch.cat(preds, dim=1)


# ------------------------------------------------------------------------------------------ metrics
@dataclass
class UnrolledNMSE:
    """What :func:`unrolled_nmse` returns (float64 CPU tensors).

    ``nmse_sum`` (B,): per trajectory, sum over the predicted steps of mean_x (pred - u)^2 / mean_x u^2 (the
    "NMSE" of Ko et al. and LPSDA: a sum over ``steps`` steps); ``nmse_mean`` (B,): the same divided by
    ``steps`` (the per-step mean); ``per_step`` (steps,): the normalised error of each step, averaged over the
    trajectories. ``start``, ``history``, ``steps``: the protocol (input u[:, start - history:start], targets
    u[:, start:start + steps])."""
    nmse_sum: torch.Tensor
    nmse_mean: torch.Tensor
    per_step: torch.Tensor
    start: int
    history: int
    steps: int

    def mean(self) -> float:
        """The mean over trajectories of ``nmse_sum``."""
        return float(self.nmse_sum.mean())


def _protocol(model, u, name: str, start, history, batch_size) -> tuple[torch.Tensor, int, int, int]:
    _check_model(model)
    u = _trajectories(u, name)
    start = check_int(start, "start", 0)
    declared = _declared(model, "history")
    if history is None:
        history = 20 if declared is None else declared
    history = check_int(history, "history", 1)
    if declared is not None and declared != history:
        raise SymlieError(f"history: is {history}, but model.history = {declared}")
    return u, start, history, check_int(batch_size, "batch_size", 1)


def unrolled_nmse(model: nn.Module, u, *, start: int = 40, history: int | None = None, steps: int = 100,
                  batch_size: int = 64) -> UnrolledNMSE:
    """The unrolled normalised MSE of a solver on test trajectories u (B, nt, nx).

    The solver is unrolled (:func:`rollout`) from u[:, start - history:start] and its predictions compared with
    u[:, start:start + steps]: per trajectory b and predicted step s, e_{b,s} = mean_x (pred - u)^2 / mean_x u^2;
    ``nmse_sum`` = sum_s e_{b,s} (Ko et al. / LPSDA's NMSE over 100 steps), ``nmse_mean`` = its mean over s,
    ``per_step`` = the mean of e over b. The defaults are LPSDA's test: u[:, 20:40] in, 100 steps u[:, 40:140]
    predicted (5 windows of 20). ``history`` None: ``model.history`` (20 when the model does not declare
    it). Trajectories are evaluated ``batch_size`` at a time, in the model's dtype and on its device, without
    gradients and in eval mode. Needs start >= history and nt >= start + steps; a target snapshot that is
    identically zero (undefined normalisation) or NaN / Inf in u is a :class:`symlie.DataError`.
    """
    u, start, history, batch_size = _protocol(model, u, "u", start, history, batch_size)
    steps = check_int(steps, "steps", 1)
    _window(u, "u", start, history, start + steps, f"start = {start} + steps = {steps}")
    dtype, device = _model_dtype_device(model, u)
    rows = []
    with _Eval(model):
        for i in range(0, int(u.shape[0]), batch_size):
            y = u[i: i + batch_size, start: start + steps]
            _check_norms(y, "u", i, start)
            x = u[i: i + batch_size, start - history: start].to(device=device, dtype=dtype)
            pred = rollout(model, x, steps).to(device="cpu", dtype=torch.float64)
            y64 = y.to(device="cpu", dtype=torch.float64)
            rows.append(((pred - y64) ** 2).mean(-1) / (y64 ** 2).mean(-1))          # (b, steps)
    e = torch.cat(rows)
    return UnrolledNMSE(nmse_sum=e.sum(1), nmse_mean=e.mean(1), per_step=e.mean(0), start=start, history=history,
                        steps=steps)


def single_time_nmse(model: nn.Module, u, *, start: int = 40, history: int | None = None, target: int = 90,
                     batch_size: int = 64) -> torch.Tensor:
    """The single-time normalised error: one call of a solver with one output step predicts u[:, target] from
    u[:, start - history:start]; returns sum_x (pred - u[:, target])^2 / sum_x u[:, target]^2 per trajectory,
    a float64 tensor (B,).

    The defaults are Ko et al.'s single-time protocol (u[:, 20:40] in, u[:, 90] out). The model must return
    shape (batch, 1, nx) (an FNO1d with future = 1 trained on that gap). ``history``
    None: ``model.history`` (20 when undeclared). Needs start >= history, target >= start and nt > target;
    evaluation as :func:`unrolled_nmse` (batches, the model's dtype and device, no grad, eval mode).
    """
    u, start, history, batch_size = _protocol(model, u, "u", start, history, batch_size)
    target = check_int(target, "target", 0)
    if target < start:
        raise SymlieError(f"target: the predicted time step must not precede the input window's end (target = "
                          f"{target} < start = {start})")
    _window(u, "u", start, history, target + 1, f"target = {target}")
    dtype, device = _model_dtype_device(model, u)
    out_rows = []
    with _Eval(model):
        for i in range(0, int(u.shape[0]), batch_size):
            y = u[i: i + batch_size, target: target + 1]
            _check_norms(y, "u", i, target)
            x = u[i: i + batch_size, start - history: start].to(device=device, dtype=dtype)
            pred = model(x)
            _check_output(pred, int(x.shape[0]), int(x.shape[2]), 1)
            p64, y64 = pred.to(device="cpu", dtype=torch.float64)[:, 0], y.to(torch.float64)[:, 0]
            out_rows.append(((p64 - y64) ** 2).sum(-1) / (y64 ** 2).sum(-1))
    return torch.cat(out_rows)


def bootstrap_interval(values, *, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """(mean, lo, hi): the sample mean of ``values`` (n,) and the percentile-bootstrap interval of the mean at
    confidence ``level``: the (1 - level) / 2 and (1 + level) / 2 quantiles of the means of ``n_boot``
    resamples with replacement. The resamples come from a ``torch.Generator`` seeded with ``seed`` (the global
    RNG is never used), so the interval is a function of the values and the seed. Computed in float64.
    (LPSDA reports the mean and standard deviation of 64 bootstrap means instead.)"""
    v = as_tensor(values, "values", dtype=torch.float64, ndim=1).detach().cpu()
    n = int(v.numel())
    if n == 0:
        raise SymlieError("values: is empty; the bootstrap needs at least one value")
    n_boot = check_int(n_boot, "n_boot", 1)
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
        raise SymlieError(f"level: expected a confidence level strictly between 0 and 1, got {level!r}")
    seed = check_int(seed, "seed", None)
    g = make_generator(seed)
    rows_per_chunk = max(1, (1 << 22) // n)                    # bounded memory for large n * n_boot
    means = []
    for s in range(0, n_boot, rows_per_chunk):
        m = min(rows_per_chunk, n_boot - s)
        idx = torch.randint(n, (m, n), generator=g)
        means.append(v[idx].mean(1))
    boots = torch.cat(means)
    q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    lo, hi = torch.quantile(boots, q).tolist()
    return float(v.mean()), float(lo), float(hi)


# ------------------------------------------------------------------------------------------ training
_VAL_KEYS = {"unrolled": ("start", "history", "steps", "batch_size"),
             "single": ("start", "history", "target", "batch_size")}


def _default_milestones(epochs: int) -> list[int]:
    return sorted({m for m in (math.floor(i * epochs / 4 + 0.5) for i in (1, 2, 3)) if 1 <= m < epochs})


def _check_number(v, name: str, *, positive: bool) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or \
            (v <= 0 if positive else v < 0):
        raise SymlieError(f"{name}: expected a finite number {'> 0' if positive else '>= 0'}, got {v!r}")
    return float(v)


def _first_item(train_data) -> tuple[Any, Any]:
    """The first (x, y) pair of a Dataset or of a (X, Y) tuple of tensors; emptiness is a DataError."""
    if isinstance(train_data, (tuple, list)) and len(train_data) == 2 and \
            all(isinstance(t, torch.Tensor) for t in train_data):
        X, Y = train_data
        if X.ndim != 3 or Y.ndim != 3 or X.shape[0] != Y.shape[0]:
            raise DataError(f"train_data: expected tensors X (N, history, nx) and Y (N, future, nx), got shapes "
                            f"{tuple(X.shape)} and {tuple(Y.shape)}")
        if X.shape[0] == 0:
            raise DataError("train_data: is empty (0 windows)")
        return X[0], Y[0]
    if not isinstance(train_data, Dataset) or not hasattr(train_data, "__len__"):
        raise TypeError(f"train_data: expected a map-style torch Dataset of (x (history, nx), y (future, nx)) pairs "
                        f"or a tuple (X, Y) of tensors, got {type(train_data).__name__}")
    if len(train_data) == 0:  # type: ignore[arg-type]
        raise DataError("train_data: is empty (0 windows)")
    item = train_data[0]
    if not (isinstance(item, (tuple, list)) and len(item) == 2 and all(isinstance(t, torch.Tensor) for t in item)):
        raise DataError(f"train_data: expected items (x, y) of two tensors, got {type(item).__name__}"
                        f"{' of length ' + str(len(item)) if isinstance(item, (tuple, list)) else ''}")
    return item[0], item[1]


def _check_pair(x: torch.Tensor, y: torch.Tensor, model: nn.Module) -> None:
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise DataError(f"train_data: expected items x (history, nx) and y (future, nx) on the same grid, got shapes "
                        f"{tuple(x.shape)} and {tuple(y.shape)}")
    if not (x.is_floating_point() and y.is_floating_point()):
        raise DataError(f"train_data: expected floating tensors, got {x.dtype} and {y.dtype}")
    for attr, t, what in (("history", x, "x"), ("future", y, "y")):
        k = _declared(model, attr)
        if k is not None and int(t.shape[0]) != k:
            raise DataError(f"train_data: the items' {what} have {int(t.shape[0])} time steps but model.{attr} = {k} "
                            f"(expected {what} of shape ({k}, nx))")


def _loss(model: nn.Module, batch) -> torch.Tensor:
    x, y = batch
    dtype = next((p.dtype for p in model.parameters() if p.is_floating_point()), x.dtype)
    x, y = x.to(dtype), y.to(dtype)
    pred = model(x)
    if not isinstance(pred, torch.Tensor) or pred.shape != y.shape:
        got = tuple(pred.shape) if isinstance(pred, torch.Tensor) else type(pred).__name__
        raise SymlieError(f"model: the output {got} does not match the targets y {tuple(y.shape)} (expected "
                          f"(batch, future, nx))")
    return ((pred - y) ** 2).mean()


def train_solver(model: nn.Module, train_data, val_u, *, epochs: int, batch_size: int = 16, lr: float = 1e-3,
                 weight_decay: float = 1e-2, milestones: list[int] | None = None, gamma: float = 0.4, seed: int = 0,
                 device: Any = "cpu", checkpoint=None, resume_from=None, progress: bool = True,
                 val_protocol: str = "unrolled", val_kw: dict | None = None,
                 grad_clip: float | None = None) -> TrainResult:
    """Train a solver on (window, continuation) pairs and select it on the NMSE of validation trajectories.

    Args:
        model: a module (B, history, nx) -> (B, future, nx), e.g. :class:`FNO1d`; trained in place (moved to
            ``device``), ending in the state of the best validation.
        train_data: a map-style Dataset whose items are (x (history, nx), y (future, nx)) float tensors (for
            instance augmented windows of trajectories), or a tuple (X (N, history, nx), Y (N, future, nx)).
            Batches are cast to the model's dtype. A dataset with a ``set_epoch(epoch)`` method (e.g.
            :class:`symlie.augment.AugmentedWindows`, whose draws depend on the epoch) has it called with the
            1-based epoch on every process before each epoch (also for the epoch a resumed run continues).
        val_u: validation trajectories (B_val, nt, nx).
        epochs: passes over ``train_data``; batch_size: windows per step (per process under torchrun).
        lr, weight_decay: AdamW's; milestones: epochs after which the learning rate is multiplied by ``gamma``
            (MultiStepLR stepped once per epoch: milestone m changes the rate from epoch m + 1 on). None: at
            1/4, 2/4 and 3/4 of ``epochs`` (rounded; [5, 10, 15] for 20 epochs). A milestone 0 is refused:
            LPSDA's ``train.py`` passes ``[unrolling = 0, 5, 10, 15]``, whose 0 multiplies the rate by gamma
            before the first epoch (an effective lr of gamma * lr throughout); pass that lr instead.
        seed: batches and the global RNG inside training (:class:`symlie.utils.training.Trainer`); the model's
            initialisation is its own (``FNO1d(seed=...)``).
        device, checkpoint, resume_from, progress, grad_clip: as the Trainer (atomic checkpoints every epoch,
            bit-for-bit resume, a progress bar, gradient-norm clipping).
        val_protocol: ``"unrolled"`` (default): the mean over ``val_u`` of :func:`unrolled_nmse`'s ``nmse_sum``;
            ``"single"``: the mean of :func:`single_time_nmse`. ``val_kw``: their keyword arguments (start,
            history, steps / target, batch_size); the defaults are those functions', except that ``history``
            defaults to the windows' when the model does not declare ``model.history``.

    Loss: per sample the MSE mean over (future, nx), averaged over the batch (LPSDA sums the squared errors over
    batch, time and x; with Adam-type optimisers that is mostly a rescaling, but it changes the relative weight
    of weight decay and eps). Validation runs after every epoch, without grad and in eval mode, on every process
    on all of ``val_u``.

    Returns the Trainer's :class:`symlie.utils.training.TrainResult` (``best_val`` is the selected validation
    NMSE, ``history`` the per-epoch records). Errors: empty ``train_data``, NaN / Inf in ``val_u`` or
    trajectories too short for the protocol are :class:`symlie.DataError`; items whose sizes disagree with
    ``model.history`` / ``model.future`` likewise; a model output that does not match y is a SymlieError.
    """
    _check_model(model)
    epochs = check_int(epochs, "epochs", 1)
    lr = _check_number(lr, "lr", positive=True)
    weight_decay = _check_number(weight_decay, "weight_decay", positive=False)
    gamma = _check_number(gamma, "gamma", positive=True)
    if milestones is None:
        miles = _default_milestones(epochs)
    else:
        if not isinstance(milestones, (list, tuple)):
            raise TypeError(f"milestones: expected a list of epochs or None, got {type(milestones).__name__}")
        if any(isinstance(m, int) and not isinstance(m, bool) and m == 0 for m in milestones):
            raise SymlieError("milestones: a milestone 0 would decay the learning rate before the first epoch "
                              "(LPSDA's quirk); give epochs >= 1 and a smaller lr instead")
        miles = sorted({check_int(m, "milestones", 1) for m in milestones})
    if val_protocol not in _VAL_KEYS:
        raise SymlieError(f"val_protocol: expected 'unrolled' or 'single', got {val_protocol!r}")
    kw = dict(val_kw or {})
    unknown = sorted(set(kw) - set(_VAL_KEYS[val_protocol]))
    if unknown:
        raise SymlieError(f"val_kw: unknown key(s) {', '.join(map(repr, unknown))} for val_protocol "
                          f"{val_protocol!r} (allowed: {', '.join(_VAL_KEYS[val_protocol])})")

    x0, y0 = _first_item(train_data)
    _check_pair(x0, y0, model)
    if kw.get("history") is None and _declared(model, "history") is None:
        kw["history"] = int(x0.shape[0])                  # an undeclared model: the windows' history
    val = _trajectories(val_u, "val_u")
    metric = unrolled_nmse if val_protocol == "unrolled" else single_time_nmse
    # the protocol and the targets are checked now rather than after the first epoch
    u_, start, history, _ = _protocol(model, val, "val_u", kw.get("start", 20), kw.get("history"),
                                      kw.get("batch_size", 64))
    if val_protocol == "unrolled":
        steps = check_int(kw.get("steps", 100), "steps", 1)
        first, end, what = start, start + steps, f"val_protocol 'unrolled' (start = {start} + steps = {steps})"
    else:
        target = check_int(kw.get("target", 90), "target", 0)
        if target < start:
            raise SymlieError(f"target: must not precede the input window's end (target = {target} < start = "
                              f"{start})")
        first, end, what = target, target + 1, f"val_protocol 'single' (target = {target})"
    _window(u_, "val_u", start, history, end, what)
    _check_norms(u_[:, first:end], "val_u", 0, first)

    def val_fn(module: nn.Module, data: torch.Tensor) -> float:
        r = metric(module, data, **kw)
        return float(r.nmse_sum.mean()) if isinstance(r, UnrolledNMSE) else float(r.mean())

    set_epoch = getattr(train_data, "set_epoch", None)
    epoch_fn = set_epoch if callable(set_epoch) else None
    trainer = Trainer(model, _loss, lambda p: torch.optim.AdamW(p, lr=lr, weight_decay=weight_decay),
                      epochs=epochs, batch_size=check_int(batch_size, "batch_size", 1),
                      scheduler=lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, miles, gamma=gamma),
                      val_fn=val_fn, device=device, seed=seed, grad_clip=grad_clip, checkpoint=checkpoint,
                      progress=progress, epoch_fn=epoch_fn)
    return trainer.fit(train_data, val, resume_from=resume_from)


# ------------------------------------------------------------------------------------------ files
def save_solver(model: FNO1d, path) -> Path:
    """Write an :class:`FNO1d` to ``path`` (".pt" appended when missing) atomically: a torch file
    ``{"format": "symlie.FNO1d", "version": 1, "config": model.config(), "state_dict": CPU tensors}``. Returns
    the path written."""
    if not isinstance(model, FNO1d):
        raise TypeError(f"model: expected a symlie.nn.FNO1d, got {type(model).__name__} (for a "
                        f"DistributedDataParallel wrapper pass its .module)")
    p = check_out_file(path, "path", suffix=".pt")
    payload = {"format": SOLVER_FORMAT, "version": SOLVER_FORMAT_VERSION, "config": model.config(),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    with atomic_file(p, "path") as tmp:
        torch.save(payload, tmp)
    return p


def load_solver(path) -> FNO1d:
    """Read a file written by :func:`save_solver` into a new :class:`FNO1d` (on the CPU, in the saved dtype).
    A missing, corrupt or foreign file (another format, a newer version, a state that does not fit the saved
    configuration) is a :class:`symlie.DataError` naming it."""
    p = Path(path)
    d = load_torch_file(p, kind=SOLVER_FORMAT, version=SOLVER_FORMAT_VERSION, required=_SAVED_KEYS,
                        what="symlie solver file")
    if d.get("format") != SOLVER_FORMAT:      # check_saved reads a file without a header as an old version
        raise DataError(f"path {str(p)!r}: has no format tag; expected a {SOLVER_FORMAT!r} file")
    try:
        cfg = dict(d["config"])
        seed = cfg.pop("seed", None)
        model = FNO1d(**cfg, seed=0 if seed is None else seed)   # never draws from the global RNG
        model.seed = seed
        model.load_state_dict(d["state_dict"])
    except (TypeError, KeyError, RuntimeError, ValueError) as exc:
        why = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise DataError(f"path {str(p)!r}: the saved solver does not match its configuration ({why})") from None
    return model
