"""Learning the Lie point symmetries of PDE data as neural vector fields (Ko, Kim, Lee, NeurIPS 2024).

The fields act on the graph space in normalised coordinates (t^, x^, u^) = ((t - t_0) / T, (x - x_0) / L, c u),
with L the period in x (x^ periodic with period 1), T the time span and c = (1 / sqrt 12) / std(u), so every
coordinate has the spread of a uniform variable on [0, 1) (:class:`GraphScaling`; Ko et al.'s scaling). A
physical field tau d/dt + xi d/dx + phi d/du reads (tau / T, xi / L, c phi) there.

One training step (:meth:`PDESymmetryTask.loss`) on a batch of patches of the solutions:

1. the fields are normalised to unit RMS norm on a fixed reference set of grid points (once per step, held
   fixed during the integration: the flow is autonomous);
2. every patch is moved by the flow of each field for a random s = +-alpha, alpha ~ U(0, sigma), by fixed-step
   RK4 (:func:`symlie.generators.flow`), the states after each of ``intervals`` equal parts kept;
3. the validity of each transformed patch is the log-clamped residual of the equation on the irregular point
   cloud (:func:`symlie.generators.validity.pde_validity`, physical coordinates);
4. loss = w_validity mean_i S_i + w_ortho mean_i O_i + w_lipschitz mean_i Lip_i (+ w_sobolev mean_i Sob_i once
   ``sobolev`` is switched on, the last part of training), the regularisers of :mod:`.losses` on the reference
   points, on the patches' grids and on full rows in x.

Everything a step draws (the patches, alpha, the signs) is fixed in :meth:`PDESymmetryTask.dataset` by a seed,
so training is reproducible with any trainer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import TensorDataset

from ..pde import Equation
from ..utils.errors import DataError
from ..utils.validation import as_tensor, check_int, make_generator
from .fields import GeneratorMLP
from .flows import flow
from .losses import DEFAULT_WEIGHTS, lipschitz_loss, merge_weights, orthonormality_loss, sobolev_loss
from .validity import pde_validity

__all__ = ["GraphScaling", "PDESymmetryTask", "GeneratorObjective", "learn_pde_symmetries", "compare_to_exact"]

DT = torch.float64


@dataclass(frozen=True)
class GraphScaling:
    """The affine map (t, x, u) -> ((t - t0) / T, (x - x0) / L, c u) of the graph space (see the module
    docstring); ``L`` is the period in x."""

    t0: float
    T: float
    x0: float
    L: float
    c: float

    @classmethod
    def from_grid(cls, u, t, x, period: float | None = None) -> "GraphScaling":
        """From solutions u (B, nt, nx) on the uniform grids t (nt,), x (nx,): T = nt dt, L = ``period``
        (default nx dx, periodic data holding one period without its endpoint), c = (1 / sqrt 12) / std(u)."""
        U = as_tensor(u, "u", ndim=3, dtype=DT)
        tt, xx = as_tensor(t, "t", ndim=1, dtype=DT), as_tensor(x, "x", ndim=1, dtype=DT)
        if U.shape[1:] != (tt.shape[0], xx.shape[0]) or tt.shape[0] < 2 or xx.shape[0] < 2:
            raise DataError(f"u, t, x: expected u of shape (B, {tt.shape[0]}, {xx.shape[0]}) and grids of >= 2 "
                            f"points, got u {tuple(U.shape)}")
        dt = float(tt[1] - tt[0])
        dx = float(xx[1] - xx[0])
        L = xx.shape[0] * dx if period is None else float(period)
        sd = float(U.std())
        if not sd > 0:
            raise DataError("u: the solutions are constant (std 0); nothing to learn")
        return cls(float(tt[0]), tt.shape[0] * dt, float(xx[0]), L, (1.0 / math.sqrt(12.0)) / sd)

    def normalise(self, P: torch.Tensor) -> torch.Tensor:
        """Physical points (..., 3) (t, x, u) -> normalised."""
        return torch.stack([(P[..., 0] - self.t0) / self.T, (P[..., 1] - self.x0) / self.L, self.c * P[..., 2]], -1)

    def physical(self, Q: torch.Tensor) -> torch.Tensor:
        """Normalised points (..., 3) -> physical (t, x, u)."""
        return torch.stack([self.t0 + self.T * Q[..., 0], self.x0 + self.L * Q[..., 1], Q[..., 2] / self.c], -1)

    def push(self, V: torch.Tensor) -> torch.Tensor:
        """A physical field's values (..., 3) (tau, xi, phi) in normalised coordinates: (tau / T, xi / L, c phi)."""
        return torch.stack([V[..., 0] / self.T, V[..., 1] / self.L, self.c * V[..., 2]], -1)

    def pull(self, W: torch.Tensor) -> torch.Tensor:
        """A normalised field's values (..., 3) in physical coordinates (the inverse of :meth:`push`)."""
        return torch.stack([W[..., 0] * self.T, W[..., 1] * self.L, W[..., 2] / self.c], -1)


class PDESymmetryTask:
    """The data, draws and loss of learning the point symmetries of solutions of one equation.

    Args:
        u: solutions (B, nt, nx) on the uniform grids t (nt,), x (nx,) (periodic in x with period ``period``,
            default nx dx).
        equation: the :class:`symlie.pde.Equation` whose residual scores validity (known or fitted:
            ``FittedEquation.to_equation()``).
        patch: (pt, px) grid points per patch; n_patches: patches drawn for the dataset (with their alpha and
            signs), seeded by ``seed``.
        n_gen: number of fields (sets the number of signs drawn per patch).
        sigma: alpha ~ U(0, sigma); intervals: states kept along each flow (the flow time split equally);
            flow_steps: RK4 steps over the whole flow.
        n_ref: reference grid points for the normalisation and the orthonormality loss.
        weights: loss weights (keys of :data:`DEFAULT_WEIGHTS`); lipschitz_tau: the allowed slope.
        threshold, stencil: of the validity score (:func:`pde_validity`).
        sobolev_rows: time rows (full in x) for the Sobolev term; ``sobolev`` (attribute) switches it on.
        scaling: the normalised coordinates (default from these data, :meth:`GraphScaling.from_grid`); pass the
            scaling fields were trained in to evaluate them on other data (it is saved with them by
            ``benchmarks/bench_generators.py``).
    """

    def __init__(self, u, t, x, equation: Equation, *, period: float | None = None, patch=(32, 32),
                 n_patches: int = 1024, n_gen: int = 4, sigma: float = 0.4, intervals: int = 2, flow_steps: int = 5,
                 n_ref: int = 8192, weights: dict | None = None, lipschitz_tau: float = 3.0,
                 threshold: float = 1e-4, stencil: Any = None, sobolev_rows: int = 8,
                 scaling: GraphScaling | None = None, seed=0):
        if not isinstance(equation, Equation):
            raise TypeError(f"equation: expected a symlie.pde.Equation, got {type(equation).__name__}")
        self.U = as_tensor(u, "u", ndim=3, dtype=DT)
        self.t = as_tensor(t, "t", ndim=1, dtype=DT)
        self.x = as_tensor(x, "x", ndim=1, dtype=DT)
        if scaling is not None and not isinstance(scaling, GraphScaling):
            raise TypeError(f"scaling: expected a GraphScaling, got {type(scaling).__name__}")
        self.scaling = GraphScaling.from_grid(self.U, self.t, self.x, period) if scaling is None else scaling
        B, nt, nx = self.U.shape
        pt, px = (check_int(p, "patch", 2) for p in patch)
        if pt > nt or px > nx:
            raise DataError(f"patch: ({pt}, {px}) does not fit the grid ({nt}, {nx})")
        self.patch = (pt, px)
        self.n_gen = check_int(n_gen, "n_gen", 1)
        if not (isinstance(sigma, (int, float)) and sigma > 0):
            raise ValueError(f"sigma: expected a number > 0, got {sigma!r}")
        self.sigma = float(sigma)
        self.intervals = check_int(intervals, "intervals", 1)
        self.flow_steps = check_int(flow_steps, "flow_steps", 1)
        self.weights = merge_weights(DEFAULT_WEIGHTS, weights)
        self.lipschitz_tau = float(lipschitz_tau)
        self.sobolev = False
        self.equation = equation
        kw = {} if stencil is None else {"stencil": stencil}
        self.validity = pde_validity(equation, threshold=threshold, periodic_x=self.scaling.L, **kw)
        g = make_generator(seed)
        n_patches = check_int(n_patches, "n_patches", 1)
        self._draws = TensorDataset(torch.randint(B, (n_patches,), generator=g),
                                    torch.randint(nt - pt + 1, (n_patches,), generator=g),
                                    torch.randint(nx, (n_patches,), generator=g),
                                    self.sigma * torch.rand(n_patches, generator=g, dtype=DT),
                                    torch.randint(2, (n_patches, self.n_gen), generator=g).to(DT) * 2 - 1)
        n_ref = check_int(n_ref, "n_ref", 1)
        flat = torch.randint(B * nt * nx, (n_ref,), generator=g)
        b, rem = flat // (nt * nx), flat % (nt * nx)
        i, j = rem // nx, rem % nx
        self.reference = self.scaling.normalise(torch.stack([self.t[i], self.x[j], self.U[b, i, j]], -1))
        rows = torch.randint(nt, (check_int(sobolev_rows, "sobolev_rows", 1),), generator=g)
        b0 = int(torch.randint(B, (1,), generator=g))
        T_, X_ = torch.meshgrid(self.t[rows], self.x, indexing="ij")
        self.sobolev_grid = self.scaling.normalise(torch.stack([T_, X_, self.U[b0][rows]], -1))    # (rows, nx, 3)

    # -- data ----------------------------------------------------------------------------------------
    def dataset(self) -> TensorDataset:
        """The seeded draws (trajectory, t start, x start, alpha, signs (n_gen,)), one per patch."""
        return self._draws

    def patches(self, b: torch.Tensor, i0: torch.Tensor, j0: torch.Tensor) -> torch.Tensor:
        """Physical graph points (n, pt, px, 3) of the patches (x wrapped periodically: a patch may cross the
        end of the period, its x continuing past L)."""
        pt, px = self.patch
        nx = self.x.shape[0]
        ii = i0[:, None] + torch.arange(pt)                                     # (n, pt)
        jj = j0[:, None] + torch.arange(px)                                     # (n, px), unwrapped
        u = self.U[b[:, None, None], ii[:, :, None], (jj % nx)[:, None, :]]     # (n, pt, px)
        x = self.x[0] + (jj.to(DT) * (self.x[1] - self.x[0]))                   # continuous across the period
        T_ = self.t[ii][:, :, None].expand(-1, -1, px)
        X_ = x[:, None, :].expand(-1, pt, -1)
        return torch.stack([T_, X_, u], -1)

    # -- the loss ------------------------------------------------------------------------------------
    def _flowed_validity(self, model: GeneratorMLP, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor,
                                                                        torch.Tensor, Any]:
        """(validity per field (G,), the patches P0 (n, pt, px, 3) normalised, the fields at the reference points
        (G, N, 3), unnormalised, their scales (G,), the normalised field)."""
        b, i0, j0, alpha, signs = batch
        dev, dt = model.w1.device, model.dtype
        P0 = self.scaling.normalise(self.patches(b, i0, j0)).to(device=dev, dtype=dt)    # (n, pt, px, 3)
        n, pt, px, _ = P0.shape
        V = model(self.reference.to(device=dev, dtype=dt))                      # (N, G, 3): one pass serves both
        scale = (V ** 2).sum(-1).mean(0).sqrt()                                  # = model.scales(reference)
        Vref = V.permute(1, 0, 2)
        field = model.field(scale)
        G = model.n_gen
        z0 = P0.reshape(1, -1, 3).expand(G, -1, -1)                             # (G, n pt px, 3)
        s = (alpha[None, :] * signs.T).to(device=dev, dtype=dt)                 # (G, n)
        s = s[:, :, None].expand(-1, -1, pt * px).reshape(G, -1)                # one s per patch and field
        marks = [(k + 1) / self.intervals for k in range(self.intervals)]
        states = flow(field, z0, s, method="rk4", steps=self.flow_steps, times=marks)   # (K, G, n pt px, 3)
        clouds = self.scaling.physical(states.reshape(-1, pt, px, 3).to(DT))    # (K G n, pt, px, 3)
        S = self.validity(clouds).reshape(len(marks), G, n).mean((0, 2)).to(dt)  # (G,)
        return S, P0, Vref, scale, field

    def loss(self, model: GeneratorMLP, batch) -> dict[str, torch.Tensor]:
        """The weighted loss and its terms (each a mean over fields) for a batch of draws; see the module
        docstring. Returns {"loss", "validity", "ortho", "lipschitz", "sobolev"} (0-d tensors)."""
        S, P0, Vref, scale, field = self._flowed_validity(model, batch)
        dev, dt, G = P0.device, P0.dtype, model.n_gen
        n, pt, px, _ = P0.shape
        O = orthonormality_loss(Vref / scale[:, None, None])
        Vp = field(P0.reshape(1, n, pt, px, 3).expand(G, -1, -1, -1, -1))       # (G, n, pt, px, 3)
        Lip = lipschitz_loss(Vp, P0, axes=(2, 3), tau=self.lipschitz_tau)
        terms = {"validity": S.mean(), "ortho": O.mean(), "lipschitz": Lip.mean()}
        if self.sobolev:
            grid = self.sobolev_grid.to(device=dev, dtype=dt)
            Vs = field(grid[None].expand(G, -1, -1, -1))                         # (G, rows, nx, 3)
            terms["sobolev"] = sobolev_loss(Vs, axis=2, spacing=1.0 / grid.shape[1]).mean()
        else:
            terms["sobolev"] = torch.zeros((), dtype=dt, device=dev)
        total = torch.stack([self.weights[k] * v for k, v in terms.items()]).sum()
        return {"loss": total, **terms}

    def validity_per_field(self, model: GeneratorMLP, batch) -> torch.Tensor:
        """The mean validity score of each field (G,) on a batch of draws (no gradients)."""
        with torch.no_grad():
            return self._flowed_validity(model, batch)[0]


class GeneratorObjective(torch.nn.Module):
    """The fields and a task's loss (any object with ``loss(generators, batch)``: :class:`PDESymmetryTask`,
    :class:`symlie.generators.images.ImageSymmetryTask`) as one module: ``forward(*batch)`` returns the loss
    dict, so a trainer (and ``DistributedDataParallel``, which needs the forward to run through the wrapper) sees
    one model."""

    def __init__(self, generators: GeneratorMLP, task: Any):
        super().__init__()
        self.generators = generators
        self.task = task

    def forward(self, *batch) -> dict[str, torch.Tensor]:
        return self.task.loss(self.generators, batch)


def learn_pde_symmetries(task: PDESymmetryTask, val_task: PDESymmetryTask | None = None, *, width: int = 128,
                         head: int = 32, epochs: int = 20, batch_size: int = 2, lr: float = 3e-4,
                         lr_drop: float = 0.5, sobolev_from: float = 0.8, device="cpu", dtype=torch.float32, seed=0,
                         checkpoint=None, resume_from=None, progress: bool = True, log_fn=None):
    """Train ``task.n_gen`` fields on ``task`` (Adam, the learning rate x 0.1 after ``lr_drop`` of the epochs, the
    Sobolev term from ``sobolev_from`` of the epochs on), selected on ``val_task`` (draws from other
    trajectories: validity + orthonormality + Lipschitz, without the Sobolev term so that epochs compare), with
    :class:`symlie.utils.training.Trainer` (seeded, progress, checkpoints, resume, data-parallel under torchrun).

    Returns (generators, scales (n_gen,) on the task's reference set, TrainResult).
    """
    from ..utils.training import Trainer

    epochs = check_int(epochs, "epochs", 1)
    gen = GeneratorMLP(3, task.n_gen, width=width, head=head, periodic={1: 1.0}, dtype=dtype, seed=seed)
    obj = GeneratorObjective(gen, task)
    start_sob = int(math.ceil(sobolev_from * epochs))

    def loss_fn(model, batch):
        return model(*batch)

    def val_fn(model, data) -> float:
        vt = val_task if val_task is not None else task
        core = model.module.generators if hasattr(model, "module") else model.generators
        was, vt.sobolev = vt.sobolev, False
        try:
            with torch.no_grad():
                n = len(data)
                tot = 0.0
                for k in range(0, n, batch_size):
                    out = vt.loss(core, data[k:k + batch_size])
                    m = min(batch_size, n - k)
                    tot += float(out["loss"]) * m
        finally:
            vt.sobolev = was
        return tot / max(n, 1)

    def on_epoch(epoch: int) -> None:
        task.sobolev = epoch > start_sob

    trainer = Trainer(obj, loss_fn, lambda p: torch.optim.Adam(p, lr=lr), epochs=epochs, batch_size=batch_size,
                      scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, max(1, int(lr_drop * epochs)), 0.1),
                      val_fn=val_fn, device=device, seed=seed, checkpoint=checkpoint, progress=progress,
                      log_fn=log_fn, epoch_fn=on_epoch)
    val = (val_task if val_task is not None else task).dataset()
    result = trainer.fit(task.dataset(), val_data=val, resume_from=resume_from)
    with torch.no_grad():
        scales = gen.scales(task.reference.to(device=gen.w1.device, dtype=gen.dtype))
    return gen, scales, result


def compare_to_exact(generators, scales: torch.Tensor | None, task: PDESymmetryTask,
                     labels=None, *, n_points: int | None = None) -> dict:
    """The learned fields (a :class:`GeneratorMLP`, or any callable of normalised points (N, 3) -> (N, G, 3);
    ``scales`` (G,) or None) against the equation's known generators (``labels``: a subset of
    ``task.equation.exact``, e.g. the three periodic ones of KdV), in the normalised graph coordinates on the
    task's reference points: ``inner`` (G, k) inner products of the unit-norm fields, ``projection`` (G,) the
    norm of each learned field's projection onto the exact span, ``angles`` the principal angles between the
    span of the first k learned fields and the exact span (k = number of exact fields)."""
    from .analysis import inner_products, projection_norms, span_angles

    ref = task.reference if n_points is None else task.reference[: check_int(n_points, "n_points", 1)]
    phys = task.scaling.physical(ref)
    names = list(task.equation.exact) if labels is None else list(labels)
    E = torch.stack([task.scaling.push(f(phys)) for f in task.equation.exact_fields(names)])      # (k, N, 3)
    with torch.no_grad():
        if isinstance(generators, GeneratorMLP):
            L = generators(ref.to(generators.dtype)).permute(1, 0, 2).to(DT)
        elif callable(generators):
            L = generators(ref).permute(1, 0, 2).to(DT)                        # (N, G, 3) -> (G, N, 3)
        else:
            raise TypeError(f"generators: expected a GeneratorMLP or a callable of normalised points, got "
                            f"{type(generators).__name__}")
        if scales is not None:
            L = L / scales.to(DT)[:, None, None]
    En = E / E.pow(2).sum(-1).mean(1).sqrt()[:, None, None]
    Ln = L / L.pow(2).sum(-1).mean(1).sqrt()[:, None, None]
    k = E.shape[0]
    return {"labels": names, "inner": inner_products(Ln, En), "projection": projection_norms(Ln, En),
            "angles": span_angles(Ln[:k], En)}
