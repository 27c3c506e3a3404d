"""Symmetry transformations of whole solutions u(t, x) on a periodic grid.

A point symmetry with generator V = tau d/dt + xi d/dx + phi d/du maps a solution to a solution: move every graph
point (t_k, x_j, u_kj) along the flow exp(V), then read the moved graph back as a function on the grid.

Closed forms (exact, no resampling error beyond the spectral shift), for a batch u (B, nt, nx):

* :func:`translate_x`: the flow of d/dx by s, u~(t, x) = u(t, x - s) (spectral shift, any real s);
* :func:`galilean_boost`: the flow of t d/dx + d/du by s (KdV, KS, Burgers, with t the absolute time of the
  grid), u~(t, x) = u(t, x - s t) + s;
* :func:`scale_u`: the flow of u d/du by s (linear equations), u~ = e^s u;
* :func:`translate_t`: the flow of d/dt by s, u~(t, x) = u(t - s, x), linear in time; rows whose t - s leaves
  the grid are outside the returned valid window.

Any generators (library, exact, discovered, learned; :func:`symlie.augment.graph_fields`):
:func:`transform_solutions` moves the points along the combined field sum_i a_i V_i (coefficients per solution)
for unit flow time by a fixed-step solver (:func:`symlie.generators.flow`) in the normalised coordinates of a
:class:`symlie.generators.GraphScaling`, then splats them back (:func:`symlie.augment.splat`: Whittaker-Shannon in x
and linear in t, or bilinear) and keeps the longest run of rows with support above the threshold. The sign
convention is the flow's: positive a_i moves points along V_i (translate_x(u, s) equals the transform by the field
d/dx with coefficient s).

Shapes: u (B, nt, nx); grids t (nt,), x (nx,) uniform, x holding one period without its endpoint (period
nx dx). Results are float64.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from ..generators import GraphScaling, flow
from ..utils.errors import DataError
from ..utils.resources import check_memory
from ..utils.validation import as_tensor, check_int
from .fields import graph_fields
from .resample import KERNELS, splat, valid_window

__all__ = ["Transformed", "translate_x", "galilean_boost", "scale_u", "translate_t", "transform_solutions",
           "check_grid"]

DT = torch.float64


@dataclass
class Transformed:
    """Transformed solutions: ``u`` (B, nt, nx) float64 on the original grid; ``window`` (B, 2) int64 [t_min,
    t_max) the rows that hold the transformed solution (support above the threshold at every x); ``accepted`` (B,)
    bool: at least ``min_rows`` valid rows (a rejected copy should be replaced by the original); ``min_support``
    (B,) the smallest support inside the window (1 for the closed forms)."""
    u: torch.Tensor
    window: torch.Tensor
    accepted: torch.Tensor
    min_support: torch.Tensor

    @property
    def rejection_rate(self) -> float:
        """The fraction of solutions rejected (too few valid rows)."""
        return float((~self.accepted).double().mean()) if self.accepted.numel() else 0.0


def check_grid(u: Any, t: Any = None, x: Any = None, *, name: str = "u") -> tuple[Any, ...]:
    """Validate solutions (B, nt, nx) (finite, B >= 1) and their uniform grids; returns float64 tensors."""
    U = as_tensor(u, name, ndim=3, dtype=DT)
    if U.shape[0] == 0 or U.shape[1] < 2 or U.shape[2] < 2:
        raise DataError(f"{name}: expected solutions (B, nt, nx) with B >= 1 and nt, nx >= 2, got {tuple(U.shape)}")
    out: list[Any] = [U]
    for g, nm, n in ((t, "t", U.shape[1]), (x, "x", U.shape[2])):
        if g is None:
            out.append(None)
            continue
        G = as_tensor(g, nm, ndim=1, dtype=DT)
        if G.shape[0] != n:
            raise DataError(f"{nm}: expected {n} grid points (the {name} axis), got {G.shape[0]}")
        d = torch.diff(G)
        if not bool((d > 0).all()) or float((d - d.mean()).abs().max()) > 1e-6 * float(d.mean()):
            raise DataError(f"{nm}: expected a uniform increasing grid")
        out.append(G)
    return tuple(out)


def _per_solution(s: Any, B: int, name: str) -> torch.Tensor:
    S = as_tensor(s, name, ndim=(0, 1), dtype=DT)
    if S.ndim == 0:
        S = S.expand(B)
    if S.shape[0] != B:
        raise DataError(f"{name}: expected a number or one value per solution ({B}), got {tuple(S.shape)}")
    return S


def _spectral_shift(U: torch.Tensor, shift: torch.Tensor, period: float) -> torch.Tensor:
    """u(x - shift) per row: U (B, nt, nx), shift (B, nt)."""
    nx = U.shape[-1]
    Uh = torch.fft.rfft(U, dim=-1)
    k = 2 * math.pi * torch.arange(Uh.shape[-1], dtype=DT) / period
    ph = torch.exp(-1j * k * shift[..., None])
    if nx % 2 == 0:                   # the Nyquist mode shifts as its cosine part (the Dirichlet convention)
        ph[..., -1] = torch.cos(k[-1] * shift)
    return torch.fft.irfft(Uh * ph, n=nx, dim=-1)


def _closed(U: torch.Tensor) -> Transformed:
    B, nt = U.shape[0], U.shape[1]
    return Transformed(U, torch.tensor([[0, nt]] * B, dtype=torch.long), torch.ones(B, dtype=torch.bool),
                       torch.ones(B, dtype=DT))


def _period(x: torch.Tensor | None, period: float | None, nx: int) -> float:
    if period is not None:
        if not (isinstance(period, (int, float)) and 0 < period < math.inf):
            raise ValueError(f"period: expected a finite number > 0, got {period!r}")
        return float(period)
    if x is None:
        raise ValueError("period: pass the period in x, or the grid x (period nx dx)")
    return nx * float(x[1] - x[0])


def translate_x(u: Any, s: Any, *, x: Any = None, period: float | None = None) -> Transformed:
    """u~(t, x) = u(t, x - s): the flow of d/dx by ``s`` (a number or (B,)), by a spectral shift; ``period``
    (default nx dx from ``x``)."""
    U, _, X = check_grid(u, None, x)
    S = _per_solution(s, U.shape[0], "s")
    return _closed(_spectral_shift(U, S[:, None].expand(-1, U.shape[1]), _period(X, period, U.shape[2])))


def galilean_boost(u: Any, s: Any, t: Any, *, x: Any = None, period: float | None = None) -> Transformed:
    """u~(t, x) = u(t, x - s t) + s: the flow of t d/dx + d/du by ``s`` (a number or (B,)) with ``t`` (nt,) the
    absolute times of the rows (the boost of KdV, KS and Burgers)."""
    U, T, X = check_grid(u, t, x)
    S = _per_solution(s, U.shape[0], "s")
    return _closed(_spectral_shift(U, S[:, None] * T[None, :], _period(X, period, U.shape[2])) + S[:, None, None])


def scale_u(u: Any, s: Any) -> Transformed:
    """u~ = e^s u: the flow of u d/du by ``s`` (a number or (B,)), a symmetry of linear equations."""
    U = check_grid(u)[0]
    S = _per_solution(s, U.shape[0], "s")
    return _closed(U * torch.exp(S)[:, None, None])


def translate_t(u: Any, s: Any, t: Any) -> Transformed:
    """u~(t_k, x) = u(t_k - s, x), linear interpolation in time: the flow of d/dt by ``s`` (a number or (B,)).
    Rows whose t_k - s falls outside [t_0, t_end] are zero and outside the returned window."""
    U, T, _ = check_grid(u, t)
    B, nt, _ = U.shape
    S = _per_solution(s, B, "s")
    dt = float(T[1] - T[0])
    pos = (torch.arange(nt, dtype=DT)[None, :] - S[:, None] / dt)            # (B, nt) source row, fractional
    ok = (pos >= -1e-9) & (pos <= nt - 1 + 1e-9)
    p = pos.clamp(0, nt - 1)
    i0 = torch.floor(p).long().clamp(max=nt - 2)
    f = (p - i0)[..., None]
    g = lambda idx: torch.gather(U, 1, idx[..., None].expand(-1, -1, U.shape[2]))   # noqa: E731
    out = torch.where(ok[..., None], (1 - f) * g(i0) + f * g(i0 + 1), torch.zeros_like(U))
    lo = torch.argmax(ok.long(), 1)
    hi = nt - torch.argmax(ok.flip(1).long(), 1)
    win = torch.stack([lo, hi], 1)
    win[~ok.any(1)] = 0
    return Transformed(out, win, (win[:, 1] - win[:, 0]) > 0, torch.ones(B, dtype=DT))


def transform_solutions(u: Any, t: Any, x: Any, fields: Any, coeffs: Any, *, scaling: GraphScaling | None = None,
                        method: str = "rk4", steps: int = 10, kernel: str = "dirichlet", normalize: bool = False,
                        support_threshold: float = 0.8, min_rows: int = 60, batch_size: int = 4) -> Transformed:
    """Move each solution's graph along its own combined field and resample it onto the grid.

    Args:
        u: solutions (B, nt, nx) on the uniform grids ``t`` (nt,) and ``x`` (nx,) (periodic, period nx dx).
        fields: q generators on (t, x, u) (anything :func:`symlie.augment.graph_fields` takes; an
            :class:`symlie.Action` as is).
        coeffs: (B, q) the coefficients a_i of the combined field sum_i a_i V_i of each solution, flowed for unit
            time (so a_i is the flow parameter along V_i when q = 1).
        scaling: the coordinates the flow is integrated in (default :meth:`GraphScaling.from_grid` of ``u``); it
            matters only through the step size and must be the one the fields were normalised in (for
            :func:`symlie.augment.orthonormal_fields`).
        method, steps: the solver of :func:`symlie.generators.flow` (RK4 with 10 steps: Ko et al.'s step 0.1).
        kernel: ``"dirichlet"`` (Whittaker-Shannon in x, linear in t) or ``"bilinear"``; normalize: divide by the
            support (default off, as the original).
        support_threshold, min_rows: the valid-window rule (rows with support above the threshold at every x; a
            solution with fewer than ``min_rows`` valid rows is not accepted).
        batch_size: solutions flowed at once (memory: about 60 nt nx batch_size q bytes).

    Returns:
        :class:`Transformed` (float64).
    """
    U, T, X = check_grid(u, t, x)
    B, nt, nx = U.shape
    act = graph_fields(fields)
    A = as_tensor(coeffs, "coeffs", ndim=2, dtype=DT)
    if A.shape != (B, act.dim):
        raise DataError(f"coeffs: expected ({B}, {act.dim}) (one coefficient per solution and generator), got "
                        f"{tuple(A.shape)}")
    if kernel not in KERNELS:
        raise ValueError(f"kernel: expected one of {KERNELS}, got {kernel!r}")
    steps = check_int(steps, "steps", 1)
    min_rows = check_int(min_rows, "min_rows", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    sc = GraphScaling.from_grid(U, T, X) if scaling is None else scaling
    if not isinstance(sc, GraphScaling):
        raise TypeError(f"scaling: expected a GraphScaling, got {type(sc).__name__}")
    dt, dx = float(T[1] - T[0]), float(X[1] - X[0])
    tt, xx = torch.meshgrid(T, X, indexing="ij")
    check_memory(60 * nt * nx * min(batch_size, B) * max(act.dim, 1), "transform_solutions")
    outs, supports = [], []
    for s in range(0, B, batch_size):
        Ub, Ab = U[s:s + batch_size], A[s:s + batch_size]
        b = Ub.shape[0]
        P = torch.stack([tt.expand(b, -1, -1), xx.expand(b, -1, -1), Ub], -1).reshape(b, nt * nx, 3)
        Q0 = sc.normalise(P)

        def v(Q: torch.Tensor, Ab=Ab, b=b) -> torch.Tensor:
            W = sc.push(act.vector_fields(sc.physical(Q).reshape(-1, 3)).to(DT))      # (q, b P, 3)
            return torch.einsum("bq,qbpc->bpc", Ab, W.reshape(act.dim, b, -1, 3))

        with torch.no_grad():
            Q1 = flow(v, Q0, 1.0, method=method, steps=steps)
        P1 = sc.physical(Q1)
        if not bool(torch.isfinite(P1).all()):
            raise DataError("fields: the flow produced non-finite points (a field blows up along the flow); "
                            "reduce the coefficients or check the fields")
        out, sup = splat((P1[..., 0] - float(T[0])) / dt, (P1[..., 1] - float(X[0])) / dx, P1[..., 2], nt, nx,
                         kernel=kernel, normalize=normalize)
        outs.append(out)
        supports.append(sup)
    out, sup = torch.cat(outs), torch.cat(supports)
    win = valid_window(sup, support_threshold)
    accepted = (win[:, 1] - win[:, 0]) >= min_rows
    mins = torch.stack([sup[i, int(w[0]):int(w[1])].min() if w[1] > w[0] else torch.zeros((), dtype=DT)
                        for i, w in enumerate(win)])
    return Transformed(out, win, accepted, mins)
