"""Jet spaces J^k of p independent and m dependent variables, and their total derivatives.

A point of J^k is z = (x^1..x^p, u^1..u^m, u^alpha_J for 1 <= |J| <= k), J a multi-index of counts
(j_1, ..., j_p) (u_J = d^|J| u / dx_1^j_1 ... dx_p^j_p). The coordinates are laid out as: the p independent
variables, the m dependent ones, then for each order 1..k, for each dependent variable, the multi-indices of
that order in descending lexicographic order (for (t, x): u_t, u_x; u_tt, u_tx, u_xx; u_ttt, ...).

The total derivative of a function g on J^k is D_i g = dg/dx^i + sum_{alpha, J} u^alpha_{J + e_i} dg/du^alpha_J.
On J^k it is exact for functions of jets of order < k (the top-order jets have no successors here), which is
all that prolongation needs: :meth:`JetSpace.total_direction` is the vector field (N, dim) whose directional
derivative is D_i, so D_i g = jvp(g, z, T_i(z)) by forward-mode autodiff (nested for higher total derivatives).
"""
from __future__ import annotations

import itertools
from typing import Sequence

import torch

from ..utils.errors import SymlieError
from ..utils.validation import as_tensor, check_int

__all__ = ["JetSpace", "multi_indices"]


def multi_indices(p: int, order: int) -> list[tuple[int, ...]]:
    """Multi-indices J in N^p with |J| = order, in descending lexicographic order ((2,0), (1,1), (0,2))."""
    return sorted((J for J in itertools.product(range(order + 1), repeat=p) if sum(J) == order), reverse=True)


class JetSpace:
    """The jet space J^order of ``independent`` and ``dependent`` variables (names, e.g. ("t", "x"), ("u",)).

    Attributes:
        p, m, order: numbers of independent and dependent variables, highest derivative order.
        dim: number of coordinates p + m * C(p + order, order).
        names: coordinate names (``t``, ``x``, ``u``, ``u_t``, ``u_x``, ``u_tt``, ``u_tx``, ...).
        base_dim: p + m, the coordinates (x, u) on which point symmetries act.
    """

    def __init__(self, independent: Sequence[str], dependent: Sequence[str], order: int):
        self.independent = _names(independent, "independent")
        self.dependent = _names(dependent, "dependent")
        if set(self.independent) & set(self.dependent):
            raise ValueError(f"independent, dependent: a name is used twice: {self.independent} and {self.dependent}")
        self.order = check_int(order, "order", 1)
        self.p, self.m = len(self.independent), len(self.dependent)
        self.base_dim = self.p + self.m
        self._index: dict[tuple[int, tuple[int, ...]], int] = {}
        names = list(self.independent) + list(self.dependent)
        zero = (0,) * self.p
        for a in range(self.m):
            self._index[(a, zero)] = self.p + a
        for k in range(1, self.order + 1):
            for a, u in enumerate(self.dependent):
                for J in multi_indices(self.p, k):
                    self._index[(a, J)] = len(names)
                    names.append(self.jet_name(u, J))
        self.names = names
        self.dim = len(names)
        self._by_name = {n: i for i, n in enumerate(names)}
        self._succ = self._successors()

    # -- coordinates -------------------------------------------------------------------------------
    def jet_name(self, u: str, J: tuple[int, ...]) -> str:
        """``u_txx`` for J = (1, 2) on (t, x); ``u`` for J = 0."""
        if sum(J) == 0:
            return u
        seq = [v for v, j in zip(self.independent, J) for _ in range(j)]
        return u + "_" + ("".join(seq) if all(len(v) == 1 for v in self.independent) else ",".join(seq))

    def index(self, alpha: int | str, J: Sequence[int] = ()) -> int:
        """Column of u^alpha_J (``J`` counts per independent variable; () or all zeros: u^alpha itself)."""
        a = self.dependent.index(alpha) if isinstance(alpha, str) else alpha
        JJ = tuple(J) if len(J) else (0,) * self.p
        if len(JJ) != self.p or any(j < 0 for j in JJ):
            raise ValueError(f"J: expected {self.p} non-negative counts, got {J!r}")
        if sum(JJ) > self.order:
            raise ValueError(f"J: order {sum(JJ)} is above the jet order {self.order}")
        if not 0 <= a < self.m:
            raise ValueError(f"alpha: expected a dependent variable in {self.dependent}, got {alpha!r}")
        return self._index[(a, JJ)]

    def coordinate(self, name: str) -> int:
        """Column of a coordinate by name (``"u_xx"``); a clear error lists the names otherwise."""
        if name not in self._by_name:
            raise ValueError(f"name: {name!r} is not a coordinate of this jet space; available: "
                             f"{', '.join(self.names)}")
        return self._by_name[name]

    def _successors(self) -> torch.Tensor:
        """(p, dim) indices: succ[i, c] = column of u^alpha_{J+e_i} for c = u^alpha_J of order < k; -1 for the
        independent variables (their total derivative is e_i) and for top-order jets (truncated)."""
        succ = torch.full((self.p, self.dim), -1, dtype=torch.long)
        for (a, J), c in self._index.items():
            if sum(J) < self.order:
                for i in range(self.p):
                    K = list(J)
                    K[i] += 1
                    succ[i, c] = self._index[(a, tuple(K))]
        return succ

    def check(self, z, name: str = "z") -> torch.Tensor:
        """z as an (N, dim) floating tensor (NaN / Inf refused)."""
        t = as_tensor(z, name, ndim=2)
        if t.shape[1] != self.dim:
            raise ValueError(f"{name}: expected {self.dim} jet coordinates ({', '.join(self.names)}), got shape "
                             f"{tuple(t.shape)}")
        if t.shape[0] == 0:
            raise ValueError(f"{name}: got 0 jet points")
        return t

    def base(self, z: torch.Tensor) -> torch.Tensor:
        """The (x, u) part (N, p + m) of jet points z (N, dim)."""
        return z[:, : self.base_dim]

    # -- total derivatives -------------------------------------------------------------------------
    def total_direction(self, z: torch.Tensor, i: int) -> torch.Tensor:
        """T_i(z) (N, dim): the truncated total derivative D_i as a vector field on J^k (see the module
        docstring); D_i g (z) = dg(z) . T_i(z)."""
        succ = self._succ[i].to(z.device)
        T = torch.where(succ >= 0, z[:, succ.clamp(min=0)], torch.zeros((), dtype=z.dtype, device=z.device))
        e = torch.zeros(self.dim, dtype=z.dtype, device=z.device)
        e[i] = 1.0
        return T + e

    def total_derivative(self, g, z: torch.Tensor, i: int) -> torch.Tensor:
        """D_i g at z, for a function g of jets of order < ``order`` (exact there)."""
        _, d = torch.func.jvp(g, (z,), (self.total_direction(z, i),))  # type: ignore[misc]
        return d

    def __repr__(self) -> str:
        return (f"JetSpace(independent={self.independent}, dependent={self.dependent}, order={self.order}, "
                f"dim={self.dim})")

    def __eq__(self, other) -> bool:
        return (isinstance(other, JetSpace) and other.independent == self.independent
                and other.dependent == self.dependent and other.order == self.order)

    def __hash__(self) -> int:
        return hash((self.independent, self.dependent, self.order))


def _names(v, what: str) -> tuple[str, ...]:
    if isinstance(v, str):
        v = (v,)
    names = tuple(v)
    if not names or not all(isinstance(s, str) and s.isidentifier() for s in names):
        raise ValueError(f"{what}: expected one or more variable names such as ('t', 'x'), got {v!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"{what}: repeated names in {names}")
    if any("_" in s for s in names):
        raise SymlieError(f"{what}: names may not contain '_' (it separates a variable from its derivatives): "
                          f"{names}")
    return names
