"""Test utilities for users and for symlie's own tests (in the spirit of e3nn's ``assert_equivariant``)."""
from __future__ import annotations

from typing import Callable

import torch

from .lie.groups import Group, as_group
from .lie.reps import Rep, Trivial

__all__ = ["assert_equivariant", "equivariance_violation"]

#: default tolerances of :func:`assert_equivariant` by dtype of the inputs (relative to the output size)
TOLERANCES = {torch.float64: 1e-9, torch.float32: 1e-4}


def equivariance_violation(model: Callable[[torch.Tensor], torch.Tensor], group, rep_in: Rep,
                           rep_out: Rep | None = None, x: torch.Tensor | None = None, *, n_samples: int = 16,
                           n_elements: int = 4, dtype: torch.dtype = torch.float64, seed: int = 0) -> float:
    """Largest relative violation max |F(rho_in(g) x) - rho_out(g) F(x)| / (|F(x)| + tiny) over random group
    elements g (continuous and discrete parts) and random inputs x (N, rep_in.size) drawn from a seeded
    normal law when not given. Transforms are computed in float64 and cast to ``dtype`` for the model."""
    G: Group = as_group(group)
    gen = torch.Generator().manual_seed(int(seed))
    if x is None:
        x = torch.randn(n_samples, rep_in.size, generator=gen, dtype=torch.float64)
    x64 = x.to(torch.float64)
    worst = 0.0
    with torch.no_grad():
        fx = model(x64.to(dtype)).to(torch.float64)
        fx = fx[:, None] if fx.ndim == 1 else fx
        scale = float(fx.abs().max()) + torch.finfo(torch.float64).tiny
        for g in G.sample(n_elements, generator=gen):
            a = model(rep_in.act(g, x64).to(dtype)).to(torch.float64)
            a = a[:, None] if a.ndim == 1 else a
            b = fx if rep_out is None or isinstance(rep_out, Trivial) else rep_out.act(g, fx)
            worst = max(worst, float((a - b).abs().max()) / scale)
    return worst


def assert_equivariant(model, group=None, rep_in: Rep | None = None, rep_out: Rep | None = None, *,
                       x: torch.Tensor | None = None, atol: float | None = None, dtype: torch.dtype | None = None,
                       n_samples: int = 16, n_elements: int = 4, seed: int = 0) -> float:
    """Assert that ``model`` is equivariant; returns the violation measured.

    ``rep_in`` / ``rep_out`` default to the model's own attributes of those names (every symlie module carries
    them), ``group`` to ``rep_in.group``, ``dtype`` to the dtype of the model's parameters (float64 without
    any), ``atol`` to :data:`TOLERANCES` of that dtype. Raises ``AssertionError`` with the violation, the
    tolerance and the representations.
    """
    __tracebackhide__ = True
    rep_in = rep_in if rep_in is not None else getattr(model, "rep_in", None)
    rep_out = rep_out if rep_out is not None else getattr(model, "rep_out", None)
    if rep_in is None:
        raise ValueError("rep_in: not given and the model has no rep_in attribute")
    group = group if group is not None else rep_in.group
    if dtype is None:
        ps = [p for p in model.parameters()] if isinstance(model, torch.nn.Module) else []
        dtype = ps[0].dtype if ps else torch.float64
    tol = TOLERANCES.get(dtype, 1e-4) if atol is None else float(atol)
    err = equivariance_violation(model, group, rep_in, rep_out, x, n_samples=n_samples, n_elements=n_elements,
                                 dtype=dtype, seed=seed)
    if not err <= tol:
        raise AssertionError(f"model is not equivariant: relative violation {err:.3e} > atol {tol:.1e} for "
                             f"{rep_in} -> {rep_out if rep_out is not None else 'invariant'} "
                             f"under {as_group(group).name}")
    return err
