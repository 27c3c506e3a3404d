"""Neural ODEs x' = f_theta(x) trained on trajectory chunks (Otto et al.'s E2 protocol, framework.md section 7.2).

* :class:`NeuralODE` -- integrates a vector field module f_theta (R^n -> R^n, e.g. :class:`symlie.nn.EPNN` or an
  MLP) from the first state of each chunk to the chunk's times t_1..t_k, through the library's one ODE interface
  :func:`symlie.generators.flow` (its fixed-step RK4 by default; any torchdiffeq method by name with the optional
  ``symlie[ode]`` extra, adjoint gradients included).
* :func:`ode_rollout` / :func:`ode_rollout_mse` -- the predicted states 1..k of chunks and their mean squared
  error per chunk (the validation and test metric).
* :func:`train_neural_ode` -- the MSE of the rolled-out states 1..k on the one :class:`symlie.utils.training.Trainer`
  (seeded, progress, checkpoints with exact resume, selection on the validation rollout MSE, CPU / CUDA,
  torchrun), with an optional :class:`symlie.promote.ADMMPenalty` hooked in: its penalty is added to the loss and
  its :meth:`~symlie.promote.ADMMPenalty.update` runs after every optimizer step; its Z, U buffers are saved in
  the checkpoints with the model. An optional ``regularizer`` (any differentiable scalar, e.g. a
  :class:`symlie.NuclearNormPenalty` of an MLP field) is added to the loss as well.

Chunks are tensors (N, k + 1, n): N trajectories, the states at the k + 1 common times t_0 < ... < t_k (relative
times; an autonomous field only sees the differences). Evaluation casts the chunks to the model's dtype and device
and accumulates the errors in float64.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn

from ..generators.flows import flow
from ..promote.proximal import ADMMPenalty
from ..utils.errors import DataError, SymlieError
from ..utils.training import Trainer, TrainResult
from ..utils.validation import as_tensor, check_int

__all__ = ["NeuralODE", "ode_rollout", "ode_rollout_mse", "train_neural_ode"]


def _check_times(times, what: str = "times") -> torch.Tensor:
    t = as_tensor(times, what, ndim=1, dtype=torch.float64, device=torch.device("cpu")).detach()
    if t.numel() < 2 or not bool((t[1:] > t[:-1]).all()):
        raise SymlieError(f"{what}: expected at least two strictly increasing times t_0 < t_1 < ... < t_k, got "
                          f"{t.tolist()}")
    return t


def _model_dtype_device(model: nn.Module) -> tuple[torch.dtype, torch.device]:
    for p in list(model.parameters()) + list(model.buffers()):
        if p.is_floating_point():
            return p.dtype, p.device
    return torch.get_default_dtype(), torch.device("cpu")


class NeuralODE(nn.Module):
    """The neural ODE x' = f(x) of a vector field module ``field`` (R^n -> R^n), integrated by
    :func:`symlie.generators.flow`.

    Args:
        field: a module mapping states (B, n) to velocities (B, n) of the same dtype.
        method: a :func:`symlie.generators.flow` method: ``"rk4"`` (default, fixed step, backpropagation through the
            solver), ``"euler"``, ``"midpoint"``, or a torchdiffeq name (``"dopri5"``, ...; optional dependency).
        step_size: fixed-step methods only: the largest step in time units (each interval t_{i-1}..t_i gets
            ceil((t_i - t_{i-1}) / step_size) equal steps); None: flow's default (10 steps over the span t_k - t_0,
            at least one per interval). An adaptive method refuses it (named).
        rtol, atol: tolerances of adaptive torchdiffeq methods.
        adjoint: torchdiffeq's adjoint gradients (``odeint_adjoint``) over the field's parameters.

    ``forward(z0 (B, n), times (k + 1,))`` returns the states (B, k, n) at t_1..t_k starting from z0 at t_0.
    """

    def __init__(self, field: nn.Module, *, method: str = "rk4", step_size: float | None = None, rtol: float = 1e-7,
                 atol: float = 1e-9, adjoint: bool = False):
        super().__init__()
        if not isinstance(field, nn.Module):
            raise TypeError(f"field: expected a torch.nn.Module (a vector field R^n -> R^n), got "
                            f"{type(field).__name__}")
        if step_size is not None and (isinstance(step_size, bool) or not isinstance(step_size, (int, float))
                                      or not (math.isfinite(step_size) and step_size > 0)):
            raise SymlieError(f"step_size: expected a finite number > 0 (time units) or None, got {step_size!r}")
        self.field = field
        self.method, self.step_size, self.rtol, self.atol, self.adjoint = method, step_size, rtol, atol, adjoint

    def forward(self, z0: torch.Tensor, times) -> torch.Tensor:
        if not isinstance(z0, torch.Tensor) or z0.ndim != 2:
            raise SymlieError(f"z0: expected initial states of shape (B, n), got "
                              f"{tuple(z0.shape) if isinstance(z0, torch.Tensor) else type(z0).__name__}")
        t = _check_times(times)
        T = float(t[-1] - t[0])
        fractions = ((t[1:] - t[0]) / T).tolist()
        fractions[-1] = 1.0
        kw: dict[str, Any] = {"method": self.method, "times": fractions, "rtol": self.rtol, "atol": self.atol,
                              "adjoint": self.adjoint}
        if self.step_size is not None:                                 # time units -> fractions of the chunk
            kw["step_size"] = self.step_size / T * (1 + 1e-9)          # ceil(0.25 / 0.0625) = 4, not 5 by rounding
        if self.adjoint:
            kw["params"] = tuple(self.field.parameters())
        out = flow(self.field, z0, T, **kw)                              # (k, B, n)
        return out.permute(1, 0, 2)

    def extra_repr(self) -> str:
        return f"method={self.method!r}, step_size={self.step_size}, adjoint={self.adjoint}"


def _as_node(model) -> NeuralODE:
    if isinstance(model, NeuralODE):
        return model
    if isinstance(model, nn.Module):
        return NeuralODE(model)
    raise TypeError(f"model: expected a NeuralODE or a vector field nn.Module, got {type(model).__name__}")


def _chunks(x, name: str, n: int | None = None) -> torch.Tensor:
    if isinstance(x, torch.Tensor) and x.is_floating_point():
        t = x
    else:
        t = as_tensor(x, name, finite=False)
    if t.ndim != 3 or t.shape[0] == 0 or t.shape[1] < 2:
        raise DataError(f"{name}: expected chunks of shape (N, k + 1, n) with N >= 1 and k >= 1, got {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise DataError(f"{name}: contains {bad} NaN or Inf entr{'y' if bad == 1 else 'ies'}")
    if n is not None and t.shape[2] != n:
        raise DataError(f"{name}: states have {t.shape[2]} components, the training chunks {n}")
    return t


def ode_rollout(model, z0: torch.Tensor, times) -> torch.Tensor:
    """The predicted states (B, k, n) at t_1..t_k from z0 (B, n) at t_0: ``model`` a :class:`NeuralODE` (or a
    field, integrated with the defaults), without gradients and in eval mode (the mode restored after); z0 is cast
    to the model's dtype and device."""
    node = _as_node(model)
    dtype, device = _model_dtype_device(node)
    was = node.training
    node.eval()
    try:
        with torch.no_grad():
            return node(z0.to(device=device, dtype=dtype), times)
    finally:
        node.train(was)


def ode_rollout_mse(model, chunks, times, *, batch_size: int = 500) -> torch.Tensor:
    """Per chunk, the mean over states 1..k and components of (predicted - true)^2: a float64 CPU tensor (N,).

    ``chunks`` (N, k + 1, n): the rollout starts from chunks[:, 0] at times[0]. Evaluated ``batch_size`` chunks at
    a time, in the model's dtype and on its device, without gradients and in eval mode."""
    u = _chunks(chunks, "chunks")
    t = _check_times(times)
    if t.numel() != u.shape[1]:
        raise DataError(f"times: {t.numel()} times for chunks of {u.shape[1]} states")
    batch_size = check_int(batch_size, "batch_size", 1)
    rows = []
    for i in range(0, u.shape[0], batch_size):
        c = u[i: i + batch_size]
        pred = ode_rollout(model, c[:, 0], t).to("cpu", torch.float64)
        rows.append(((pred - c[:, 1:].to("cpu", torch.float64)) ** 2).mean((1, 2)))
    return torch.cat(rows)


class _ODEObjective(nn.Module):
    """The module the Trainer sees: the neural ODE and, as a submodule, the promotion split (its Z, U buffers are
    then saved, restored and moved with the model)."""

    def __init__(self, node: NeuralODE, promotion: ADMMPenalty | None):
        super().__init__()
        self.node = node
        self.promotion = promotion

    def forward(self, z0: torch.Tensor, times) -> torch.Tensor:
        return self.node(z0, times)


def train_neural_ode(model, train_chunks, val_chunks, *, times, epochs: int, batch_size: int = 500,
                     lr: float = 3e-4, optimizer: Callable | None = None, scheduler: Any = None,
                     promotion: ADMMPenalty | None = None, regularizer: Callable[[], torch.Tensor] | None = None,
                     seed: int = 0, device: Any = "cpu", checkpoint=None,
                     resume_from=None, progress: bool = True, val_every: int = 1, early_stopping: int | None = None,
                     grad_clip: float | None = None, val_batch_size: int = 500, log_fn: Callable | None = None
                     ) -> TrainResult:
    """Train a neural ODE on chunks by the MSE of its rolled-out states 1..k, selected on the validation rollout MSE.

    Args:
        model: a :class:`NeuralODE`, or a vector field module (then integrated with NeuralODE's defaults: RK4, one
            step per interval); trained in place (moved to ``device``), ending in the best validation state.
        train_chunks, val_chunks: (N, k + 1, n) states at the common ``times`` (k + 1,) (floating; cast to the
            model's dtype per batch). ``val_chunks`` None: selection on the training loss.
        epochs, batch_size: passes over the training chunks and chunks per step (per process under torchrun).
        lr, optimizer: Adam(lr) by default (Otto et al.: lr 3e-4), or ``params -> optimizer``; scheduler: as the
            Trainer's.
        promotion: an :class:`symlie.promote.ADMMPenalty` over the model's parameters (e.g.
            ``EPNN.promotion(candidates, gamma=...)``): the loss becomes MSE + penalty() (both logged as terms) and
            update() runs after every optimizer step (``step_fn`` of the Trainer).
        regularizer: a callable () -> scalar tensor added to the loss of every step (logged as the term
            ``"regularizer"``), e.g. ``lambda: gamma * NuclearNormPenalty(cands, X, dynamics=True)(field)``: the
            subgradient promotion of a network that has no parameter-form operator (an MLP). It must depend on the
            model's parameters only (state it keeps is not checkpointed); a non-scalar value is an error (named), a
            non-finite one ends the run as ``"diverged"`` with the term named (the Trainer's rule).
        seed, device, checkpoint, resume_from, progress, val_every, early_stopping, grad_clip, log_fn: the
            Trainer's (seeded batches, atomic checkpoints with exact resume, ...).
        val_batch_size: chunks per validation forward pass.

    Returns the Trainer's :class:`symlie.utils.training.TrainResult` (``best_val``: the selected validation rollout
    MSE). Errors: chunks of the wrong shape or with NaN / Inf (DataError naming the argument), times that do not
    match the chunks, a promotion over parameters that are not the model's (named).
    """
    node = _as_node(model)
    t = _check_times(times)
    tr = _chunks(train_chunks, "train_chunks")
    if t.numel() != tr.shape[1]:
        raise DataError(f"times: {t.numel()} times for train_chunks of {tr.shape[1]} states")
    va = None
    if val_chunks is not None:
        va = _chunks(val_chunks, "val_chunks", tr.shape[2])
        if va.shape[1] != tr.shape[1]:
            raise DataError(f"val_chunks: chunks of {va.shape[1]} states, the training chunks {tr.shape[1]}")
    if promotion is not None:
        ADMMPenalty.for_model(promotion, node)
    if regularizer is not None and not callable(regularizer):
        raise TypeError(f"regularizer: expected a callable () -> scalar tensor, got {type(regularizer).__name__}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
        raise SymlieError(f"lr: expected a finite number > 0, got {lr!r}")
    objective = _ODEObjective(node, promotion)
    tt = t.clone()

    def loss_fn(net, batch):
        dtype = next((p.dtype for p in objective.parameters() if p.is_floating_point()), batch.dtype)
        b = batch.to(dtype)
        # the penalty's graph first: it may be the one update() built after the last step (then reused), and
        # building it before the rollout in every case keeps the order of gradient accumulation, so a resumed
        # run (no such graph yet) continues bit-for-bit
        pen = promotion.penalty() if promotion is not None else None
        pred = net(b[:, 0], tt)
        mse = ((pred - b[:, 1:]) ** 2).mean()
        if pen is None and regularizer is None:
            return mse
        out = {"mse": mse.detach()}
        loss = mse
        if pen is not None:
            loss = loss + pen
            out["penalty"] = pen.detach()
        if regularizer is not None:
            reg = regularizer()
            if not isinstance(reg, torch.Tensor) or reg.numel() != 1:
                raise SymlieError(f"regularizer: expected a scalar tensor, got "
                                  f"{tuple(reg.shape) if isinstance(reg, torch.Tensor) else type(reg).__name__}")
            reg = reg.reshape(())
            loss = loss + reg.to(mse.dtype)
            out["regularizer"] = reg.detach()
        out["loss"] = loss
        return out

    def val_fn(module, data) -> float:
        return float(ode_rollout_mse(module.node, data, tt, batch_size=val_batch_size).mean())

    step_fn = (lambda step: promotion.update()) if promotion is not None else None
    opt = optimizer if optimizer is not None else (lambda p: torch.optim.Adam(p, lr=float(lr)))
    trainer = Trainer(objective, loss_fn, opt, epochs=epochs, batch_size=check_int(batch_size, "batch_size", 1),
                      scheduler=scheduler, val_fn=val_fn if va is not None else None, device=device, seed=seed,
                      val_every=val_every, early_stopping=early_stopping, grad_clip=grad_clip,
                      checkpoint=checkpoint, progress=progress, log_fn=log_fn, step_fn=step_fn)
    return trainer.fit(tr, va, resume_from=resume_from)
