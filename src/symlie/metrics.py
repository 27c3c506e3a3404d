"""Measurements of symmetry: equivariance errors and distances between sub-spaces / algebras."""
from __future__ import annotations

from typing import Callable

import torch

from .utils.validation import as_tensor
from .lie.groups import Group, as_group
from .linalg import subspace_distance
from .lie.reps import Rep, Trivial

__all__ = ["equivariance_error", "subspace_distance"]


def equivariance_error(model: Callable[[torch.Tensor], torch.Tensor], group: Group, X, rep_in: Rep,
                       rep_out: Rep | None = None, *, n_elements: int = 5, scale: float = 1.0,
                       seed: int = 0, reduction: str = "mean") -> float:
    """Scale-adjusted relative equivariance error of ``model`` over random group elements.

    For g_1..g_k sampled by ``group.sample`` (exp of a random algebra element of size ``scale`` times a random
    word in the discrete generators, so every component is visited), the error at a point is

        |f(rho_in(g) x) - rho_out(g) f(x)| / (|f(rho_in(g) x)| + |rho_out(g) f(x)|)

    (EMLP's definition). The group transforms are done in float64 and the transformed inputs are cast to the
    dtype of ``X`` for the model, so the test itself is not the error source (as in e3nn).

    Args:
        model: callable (N, s_in) -> (N, s_out) (or (N,) for invariant scalars).
        group: the group whose elements are sampled (may be larger than the reps' group only if the reps
            accept its matrices).
        X: points (N, s_in); their dtype is the model's input dtype.
        rep_in, rep_out: representations (``rep_out=None``: invariant outputs).
        reduction: ``"mean"`` or ``"max"`` over points and elements.
    """
    G = as_group(group)
    X = as_tensor(X, "X", ndim=2)
    if X.shape[1] != rep_in.size:
        raise ValueError(f"X: expected width {rep_in.size} for {rep_in}, got {tuple(X.shape)}")
    if reduction not in ("mean", "max"):
        raise ValueError(f"reduction: expected 'mean' or 'max', got {reduction!r}")
    gs = G.sample(n_elements, scale=scale, generator=seed)
    X64 = X.to(torch.float64)
    with torch.no_grad():
        fx = model(X).to(torch.float64)
        if fx.ndim == 1:
            fx = fx[:, None]
        errs = []
        for g in gs:
            gx = rep_in.act(g, X64).to(X.dtype)
            a = model(gx).to(torch.float64)
            if a.ndim == 1:
                a = a[:, None]
            b = fx if rep_out is None or isinstance(rep_out, Trivial) else rep_out.act(g, fx)
            num = torch.linalg.vector_norm(a - b, dim=-1)
            den = torch.linalg.vector_norm(a, dim=-1) + torch.linalg.vector_norm(b, dim=-1)
            errs.append(num / den.clamp(min=torch.finfo(torch.float64).tiny))
        e = torch.stack(errs)
    return float(e.mean() if reduction == "mean" else e.max())
