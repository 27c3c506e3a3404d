"""The generators an augmentation uses: vector fields tau d/dt + xi d/dx + phi d/du on the graph space.

Every source resolves to one :class:`symlie.Action` with ``n_in = 3`` acting on physical graph points
(t, x, u) (:func:`graph_fields`): an Action (library, matrix or neural), a discovered
:class:`symlie.SymmetryResult` of :func:`symlie.pde.point_symmetries` (its fields on the jet space restricted to the
base (t, x, u)), an :class:`symlie.pde.Equation` with the labels of its known generators, a list of callables
(N, 3) -> (N, 3), or a learned :class:`symlie.generators.GeneratorMLP` through :func:`learned_fields` (the net acts
on the normalised coordinates it was trained in; the wrapper maps it back to physical ones).

The size of a transformation is only meaningful for normalised fields: :func:`orthonormal_fields` makes the
family orthonormal in the RMS inner product of the normalised coordinates (:class:`symlie.generators.GraphScaling`)
on reference points, <V, W> = mean_p V^(p) . W^(p), by Gram-Schmidt in the given order (Ko et al.'s convention for
the ground-truth sets, so sigma = 0.1 per generator means the same for exact, discovered and learned fields).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch

from ..discovery import SymmetryResult
from ..generators import GeneratorMLP, GraphScaling
from ..lie import Action, ModuleAction
from ..linalg import Nullspace, RankRule, nullspace
from ..pde import Equation, ProlongedAction
from ..utils.errors import DataError, SymlieError
from ..utils.validation import as_tensor

__all__ = ["graph_fields", "learned_fields", "orthonormal_fields", "field_gram", "periodic_fields"]

DT = torch.float64


def _stacked(fns: Sequence[Callable], name: str) -> ModuleAction:
    fns = list(fns)
    if not fns or not all(callable(f) for f in fns):
        raise TypeError(f"fields: expected a non-empty list of callables (N, 3) -> (N, 3), got {fns!r}")

    def module(P: torch.Tensor) -> torch.Tensor:
        out = [f(P) for f in fns]
        for k, v in enumerate(out):
            if not isinstance(v, torch.Tensor) or v.shape != P.shape:
                raise DataError(f"fields[{k}]: expected values of shape {tuple(P.shape)} (tau, xi, phi at every "
                                f"point), got {getattr(v, 'shape', type(v).__name__)}")
        return torch.stack(out, 1)

    return ModuleAction(module, 3, name=name)


def _base_of(action: Action) -> Action:
    """A family on the jet space of a scalar 1+1 equation, restricted to its base (t, x, u)."""
    if isinstance(action, ProlongedAction):
        return action.base
    base = getattr(action, "base", None)
    C = getattr(action, "C", None)
    if isinstance(base, ProlongedAction) and isinstance(C, torch.Tensor):
        return base.base.restrict(C)
    return action


def graph_fields(fields: Any, labels: Sequence[str] | None = None) -> Action:
    """Resolve ``fields`` to an Action of q vector fields on physical graph points (t, x, u): (N, 3) -> (q, N, 3).

    Accepts an :class:`Action` with ``n_in = 3`` (a prolonged one is restricted to its base), a
    :class:`SymmetryResult` (its discovered fields; from the analytic or the data route), an :class:`Equation`
    (its known generators, all or ``labels``), or a list of callables (N, 3) -> (N, 3)."""
    if isinstance(fields, SymmetryResult):
        if fields.dim == 0:
            raise SymlieError("fields: the SymmetryResult found no symmetry (dim 0); nothing to augment with")
        act = _base_of(fields.fields)
    elif isinstance(fields, Equation):
        names = list(fields.exact) if labels is None else list(labels)
        act = _stacked(fields.exact_fields(names), f"{fields.name}: " + ", ".join(names))
    elif isinstance(fields, Action):
        act = _base_of(fields)
    elif isinstance(fields, (list, tuple)):
        act = _stacked(fields, f"{len(fields)} fields")
    else:
        raise TypeError(f"fields: expected an Action, a SymmetryResult, an Equation or a list of callables, got "
                        f"{type(fields).__name__}")
    if act.n_in != 3:
        raise DataError(f"fields: expected vector fields on the graph (t, x, u) of a scalar 1+1 solution (n_in = 3), "
                        f"got an action on R^{act.n_in} ({getattr(act, 'name', type(act).__name__)})")
    return act


def learned_fields(model: GeneratorMLP, scaling: GraphScaling, scales: Any = None,
                   slots: Sequence[int] | None = None) -> Action:
    """A learned :class:`GeneratorMLP` (trained on normalised coordinates ``scaling``, per-slot normalisation
    ``scales`` (n_gen,) or None) as physical fields: V_i(P) = scaling.pull(W_i(scaling.normalise(P))) / scales_i,
    for the slots ``slots`` (default all)."""
    if not isinstance(model, GeneratorMLP):
        raise TypeError(f"model: expected a GeneratorMLP, got {type(model).__name__}")
    if not isinstance(scaling, GraphScaling):
        raise TypeError(f"scaling: expected a GraphScaling (the coordinates the model was trained in), got "
                        f"{type(scaling).__name__}")
    if model.n_in != 3:
        raise DataError(f"model: expected fields on the graph (t, x, u) (n_in = 3), got n_in = {model.n_in}")
    idx = list(range(model.n_gen)) if slots is None else [int(i) for i in slots]
    if not idx or any(not 0 <= i < model.n_gen for i in idx):
        raise ValueError(f"slots: expected indices in [0, {model.n_gen}), got {slots!r}")
    s = torch.ones(model.n_gen, dtype=DT) if scales is None else as_tensor(scales, "scales", ndim=1, dtype=DT)
    if s.shape[0] != model.n_gen or not bool((s > 0).all()):
        raise DataError(f"scales: expected {model.n_gen} positive numbers, got {tuple(s.shape)}")

    def module(P: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            W = model(scaling.normalise(P.to(DT)).to(model.dtype)).to(DT)[:, idx]   # (N, k, 3)
        return (scaling.pull(W) / s[idx][None, :, None]).to(P.dtype)

    return ModuleAction(module, 3, name=f"learned slots {[i + 1 for i in idx]}")


def field_gram(action: Action, points: Any, scaling: GraphScaling) -> torch.Tensor:
    """The Gram matrix G_ij = mean_p V^_i(p) . V^_j(p) (q, q) of the fields in normalised coordinates at physical
    graph points ``points`` (N, 3)."""
    P = as_tensor(points, "points", ndim=2, dtype=DT)
    if P.shape[1] != 3:
        raise DataError(f"points: expected graph points (N, 3) (t, x, u), got {tuple(P.shape)}")
    V = scaling.push(action.vector_fields(P).to(DT))                           # (q, N, 3)
    return torch.einsum("inc,jnc->ij", V, V) / P.shape[0]


def orthonormal_fields(action: Action, points: Any, scaling: GraphScaling, *, rtol: float = 1e-8) -> Action:
    """Gram-Schmidt of the fields, in their order, in the normalised RMS inner product at ``points`` (N, 3): an
    Action of the same size whose fields are orthonormal (W = C V with C lower triangular, from the Cholesky factor
    of the Gram matrix). A field within ``rtol`` (relative) of the span of the earlier ones is an error, not
    silently dropped."""
    G = field_gram(action, points, scaling)
    q = G.shape[0]
    d = torch.diagonal(G)
    if not bool((d > 0).all()):
        raise SymlieError(f"fields: field(s) {[i + 1 for i in range(q) if not d[i] > 0]} vanish at the reference "
                          f"points; nothing to normalise")
    Ls = torch.linalg.cholesky_ex(G)
    Lm = Ls.L
    rel = torch.diagonal(Lm) ** 2 / d
    if int(Ls.info) != 0 or bool((rel < rtol).any()):
        bad = [i + 1 for i in range(q) if not rel[i] >= rtol] if int(Ls.info) == 0 else [int(Ls.info)]
        raise SymlieError(f"fields: field(s) {bad} are (within rtol={rtol}) in the span of the earlier ones at the "
                          f"reference points; pass independent fields")
    C = torch.linalg.solve_triangular(Lm, torch.eye(q, dtype=DT), upper=False)
    return action.restrict(C)


def periodic_fields(action: Action, points: Any, period: float, *, coordinate: int = 1,
                    rule: RankRule | str = "auto") -> tuple[Action, Nullspace]:
    """The sub-family of fields compatible with a period: the combinations V = sum_i c_i V_i with
    V(p + period e_c) = V(p) at the graph points ``points`` (N, 3) (coordinate ``c``: 1 for x in (t, x, u)).

    On a periodic domain only these generate transformations of periodic solutions (a library route finds the
    scaling x d/dx + 3t d/dt - 2u d/du of KdV from local jets; it changes the period and is dropped here). The
    coefficients c span the nullspace of the difference matrix [V_i(p + period e_c) - V_i(p)] (3N, q), its columns
    scaled to the RMS of each field, cut by ``rule`` (the one rank rule, :func:`symlie.nullspace`). Returns the
    restricted Action (k fields) and the :class:`symlie.Nullspace` (spectrum, threshold and rule).
    """
    P = as_tensor(points, "points", ndim=2, dtype=DT)
    if P.shape[1] != action.n_in:
        raise DataError(f"points: expected (N, {action.n_in}), got {tuple(P.shape)}")
    if not (isinstance(period, (int, float)) and 0 < period < float("inf")):
        raise ValueError(f"period: expected a finite number > 0, got {period!r}")
    if not 0 <= coordinate < action.n_in:
        raise ValueError(f"coordinate: expected an index in [0, {action.n_in}), got {coordinate!r}")
    shift = torch.zeros(action.n_in, dtype=DT)
    shift[coordinate] = float(period)
    V0 = action.vector_fields(P).to(DT)
    V1 = action.vector_fields(P + shift).to(DT)
    rms = V0.pow(2).sum(-1).mean(1).sqrt().clamp(min=1e-300)
    D = ((V1 - V0) / rms[:, None, None]).reshape(action.dim, -1).T / P.shape[0] ** 0.5
    ns = nullspace(D, rule=rule, reference=1.0)
    if ns.basis.shape[1] == 0:
        raise SymlieError(f"fields: none of the {action.dim} fields is periodic with period {period} in coordinate "
                          f"{coordinate} (spectrum {ns.singular_values.tolist()})")
    return action.restrict(ns.basis.T), ns
