"""Comparing vector fields through their values at points: inner products, Gram matrices, projections onto a
reference span (affine fields, exact Lie point symmetries, a discovered nullspace) and principal angles.

Fields are compared in the weighted L2 inner product over points p_1..p_N of R^d,

    <V, W>_w = sum_p w_p V(p) . W(p) / sum_p w_p        (uniform weights by default),

so a learned field and an analytic one are compared where the data live (Ko et al. evaluate on the grid
points of the data). Every function takes fields as values (k, N, d), or as anything that has them: a
:class:`symlie.Action` (``vector_fields``), a :class:`GeneratorMLP`, or a callable z (N, d) -> (N, k, d)
(the :class:`symlie.ModuleAction` layout). Computations are float64.
"""
from __future__ import annotations

import math
from typing import Any

import torch

from ..lie.actions import Action
from ..linalg import principal_angles
from ..utils.validation import as_tensor
from .fields import GeneratorMLP

__all__ = ["field_values", "inner_products", "gram_matrix", "projection_norms", "span_angles", "affine_fields"]

DT = torch.float64


def field_values(fields: Any, points=None, *, name: str = "fields") -> torch.Tensor:
    """Values (k, N, d) float64 of ``fields`` at ``points`` (N, d): a tensor (k, N, d) is returned as is
    (``points`` then unused), an Action through ``vector_fields``, a :class:`GeneratorMLP` through its forward,
    any other callable z -> (N, k, d)."""
    if isinstance(fields, torch.Tensor):
        V = fields
    else:
        if points is None:
            raise ValueError(f"points: needed to evaluate {name}")
        P = as_tensor(points, "points", ndim=2, dtype=DT)
        with torch.no_grad():
            if isinstance(fields, Action):
                V = fields.vector_fields(P)
            elif isinstance(fields, GeneratorMLP):
                V = fields(P.to(fields.dtype)).permute(1, 0, 2)
            elif callable(fields):
                out = fields(P)
                if not isinstance(out, torch.Tensor) or out.ndim != 3 or out.shape[0] != P.shape[0]:
                    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                    raise ValueError(f"{name}: a callable must map points (N, d) to fields (N, k, d), got {got}")
                V = out.permute(1, 0, 2)
            else:
                raise TypeError(f"{name}: expected values (k, N, d), an Action, a GeneratorMLP or a callable, got "
                                f"{type(fields).__name__}")
    V = V.detach().to(DT)
    if V.ndim != 3:
        raise ValueError(f"{name}: expected values of shape (k, N, d), got {tuple(V.shape)}")
    bad = int((~torch.isfinite(V)).sum())
    if bad:
        raise ValueError(f"{name}: {bad} field values are NaN or Inf")
    return V


def _weights(weights, N: int) -> torch.Tensor:
    if weights is None:
        return torch.full((N,), 1.0 / N, dtype=DT)
    w = as_tensor(weights, "weights", ndim=1, dtype=DT)
    if w.shape[0] != N or bool((w < 0).any()) or float(w.sum()) <= 0:
        raise ValueError(f"weights: expected {N} non-negative weights with a positive sum, got shape {tuple(w.shape)}")
    return w / w.sum()


def _flat(V: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """(N d, k) matrix whose Euclidean inner products are the weighted field inner products."""
    return (V * w.sqrt()[None, :, None]).reshape(V.shape[0], -1).T


def inner_products(A, B, points=None, weights=None) -> torch.Tensor:
    """<A_i, B_j>_w (ka, kb) for fields at the same points."""
    VA, VB = field_values(A, points, name="A"), field_values(B, points, name="B")
    if VA.shape[1:] != VB.shape[1:]:
        raise ValueError(f"A, B: values at different points, shapes {tuple(VA.shape)} and {tuple(VB.shape)}")
    w = _weights(weights, VA.shape[1])
    return _flat(VA, w).T @ _flat(VB, w)


def gram_matrix(fields, points=None, weights=None, *, normalize: bool = True) -> torch.Tensor:
    """Gram matrix (k, k) of the fields; ``normalize``: of the fields scaled to unit norm (cosines)."""
    G = inner_products(fields, fields, points, weights)
    if normalize:
        d = G.diagonal().clamp_min(1e-300).sqrt()
        G = G / d[:, None] / d[None, :]
    return G


def _basis(V: torch.Tensor, w: torch.Tensor, rtol: float) -> torch.Tensor:
    M = _flat(V, w)
    if M.shape[1] == 0:
        return M
    U, s, _ = torch.linalg.svd(M, full_matrices=False)
    r = int((s > rtol * float(s[0])).sum()) if float(s[0]) > 0 else 0
    return U[:, :r]


def projection_norms(fields, reference, points=None, weights=None, *, rtol: float = 1e-10) -> torch.Tensor:
    """For each field normalised to unit norm, the norm (in [0, 1]) of its orthogonal projection onto the span of
    ``reference`` (k,): 1 for a field inside the span, 0 for one orthogonal to it (Ko et al.'s "projection onto
    the LPS span"). ``rtol``: reference fields dependent below it (relative singular value) are dropped."""
    V, R = field_values(fields, points, name="fields"), field_values(reference, points, name="reference")
    if V.shape[1:] != R.shape[1:]:
        raise ValueError(f"fields, reference: values at different points, {tuple(V.shape)} and {tuple(R.shape)}")
    w = _weights(weights, V.shape[1])
    Q = _basis(R, w, rtol)
    M = _flat(V, w)
    norms = M.norm(dim=0).clamp_min(1e-300)
    return (Q.T @ M).norm(dim=0) / norms


def span_angles(fields, reference, points=None, weights=None, *, rtol: float = 1e-10) -> torch.Tensor:
    """Principal angles (radians, ascending) between the spans of ``fields`` and ``reference`` in the weighted
    inner product; min(k_fields, k_reference) angles."""
    V, R = field_values(fields, points, name="fields"), field_values(reference, points, name="reference")
    if V.shape[1:] != R.shape[1:]:
        raise ValueError(f"fields, reference: values at different points, {tuple(V.shape)} and {tuple(R.shape)}")
    w = _weights(weights, V.shape[1])
    QA, QB = _basis(V, w, rtol), _basis(R, w, rtol)
    if QA.shape[1] == 0 or QB.shape[1] == 0:
        return torch.full((min(V.shape[0], R.shape[0]),), math.pi / 2, dtype=DT)
    return principal_angles(QA, QB)


def affine_fields(points) -> torch.Tensor:
    """The d + d^2 affine fields e_i and z_j e_i at ``points`` (N, d): values (d + d^2, N, d) (the reference span
    of the image experiment: Aff(2) for d = 2), constants first."""
    P = as_tensor(points, "points", ndim=2, dtype=DT)
    N, d = P.shape
    out = []
    for i in range(d):
        e = torch.zeros(N, d, dtype=DT)
        e[:, i] = 1.0
        out.append(e)
    for i in range(d):
        for j in range(d):
            e = torch.zeros(N, d, dtype=DT)
            e[:, i] = P[:, j]
            out.append(e)
    return torch.stack(out)
