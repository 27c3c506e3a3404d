"""Prolongation of point transformations to jet space (Olver, Applications of Lie Groups to Differential
Equations, Thm 2.36), as an :class:`symlie.Action`.

A vector field v = sum_i xi^i(x, u) d/dx^i + sum_alpha phi^alpha(x, u) d/du^alpha on the base space of
(x, u) prolongs to J^k as

    pr^(k) v = v + sum_{alpha, 1 <= |J| <= k} phi^alpha_J d/du^alpha_J,
    phi^alpha_{J + e_i} = D_i phi^alpha_J - sum_j (D_i xi^j) u^alpha_{J + e_j},   phi^alpha_0 = phi^alpha,

the recursive form of phi^alpha_J = D_J Q^alpha + sum_i xi^i u^alpha_{J + e_i} with the characteristic
Q^alpha = phi^alpha - sum_i xi^i u^alpha_i. Each phi^alpha_J depends on jets of order <= |J| only, so the
recursion stays inside J^k; the total derivatives D_i are exact there (:class:`JetSpace`) and computed by
nested forward-mode autodiff of the base fields, so any base Action works: polynomial libraries of any degree,
libraries of user torch functions (exp(t/50), sqrt(t + 1)), matrix algebras, neural fields. pr^(k) is linear
in the generator, so the prolonged family has the same q coefficients as the base one.

A point symmetry of an equation Delta(z) = 0 satisfies pr v (Delta) = 0 on Delta = 0 (the infinitesimal
criterion), i.e. the Lie derivative of Delta along the prolonged field vanishes on the equation surface:
exactly :func:`symlie.discover` with the model Delta, jet samples on the surface and this action.
"""
from __future__ import annotations

import torch

from ..lie.actions import Action
from ..utils.errors import SymlieError
from ..utils.resources import check_memory
from .jets import JetSpace, multi_indices

__all__ = ["ProlongedAction", "prolong"]


class ProlongedAction(Action):
    """pr^(k) of a family of base vector fields on (x, u): q generators on the jet space J^k.

    Args:
        base: an :class:`symlie.Action` on R^(p + m) (coordinates: the independent variables, then the
            dependent ones, in the order of ``jet``), with invariant outputs.
        jet: the :class:`JetSpace` (its order is the prolongation order k).

    ``vector_fields(z)`` (q, N, dim) are (xi, phi, phi_J) at jet points z; ``describe`` and the closure check
    of discovery use the base fields (prolongation is an injective Lie algebra homomorphism, so the prolonged
    span closes exactly when the base span does, with the same structure constants).
    """

    def __init__(self, base: Action, jet: JetSpace):
        if not isinstance(base, Action):
            raise TypeError(f"base: expected a symlie Action on (x, u), got {type(base).__name__}")
        if not isinstance(jet, JetSpace):
            raise TypeError(f"jet: expected a JetSpace, got {type(jet).__name__}")
        if base.n_in != jet.base_dim:
            raise ValueError(f"base: acts on R^{base.n_in} but the jet space has {jet.base_dim} base coordinates "
                             f"({', '.join(jet.names[: jet.base_dim])})")
        if base.acts_on_outputs:
            raise SymlieError("base: point transformations act on (x, u) only; pass an action with invariant "
                              "outputs (the equation is a function on the jet space)")
        self.base, self.jet = base, jet
        self.dim, self.n_in = base.dim, jet.dim
        self.name = f"pr^({jet.order}) {base.name}"
        order = [K for k in range(1, jet.order + 1) for K in multi_indices(jet.p, k)]
        self._plan = []                                   # (K, parent J, i) with K = J + e_i, i the last index of K
        for K in order:
            i = max(j for j in range(jet.p) if K[j] > 0)
            J = list(K)
            J[i] -= 1
            self._plan.append((K, tuple(J), i))
        # columns of u^alpha_{J + e_j} for every parent J (order < k), alpha and j: (m, p)
        self._next_cols = {J: torch.tensor([[jet.index(a, _plus(J, j)) for j in range(jet.p)] for a in range(jet.m)])
                           for J in [(0,) * jet.p] + order if sum(J) < jet.order}

    def _acts_on(self) -> str:
        return f"the prolongation {self.name}"

    def _base(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(phi (q, N, m), xi (q, N, p)) of the base fields at the base part of jet points z."""
        V = self.base.vector_fields(self.jet.base(z))
        return V[..., self.jet.p:], V[..., : self.jet.p]

    def vector_fields(self, z: torch.Tensor) -> torch.Tensor:
        jet = self.jet
        N = z.shape[0]
        check_memory(3 * z.element_size() * self.dim * N * jet.dim * (jet.order + 1),
                     f"{self.name}: {self.dim} prolonged fields at {N} jet points of dimension {jet.dim}",
                     hint="evaluate fewer points at a time")
        funcs = {(0,) * jet.p: self._base}
        for K, J, i in self._plan:
            funcs[K] = self._step(funcs[J], J, i)
        phi0, xi = self._base(z)
        out = z.new_zeros(self.dim, N, jet.dim)
        out[..., : jet.p] = xi
        out[..., jet.p: jet.base_dim] = phi0
        for K, _, _ in self._plan:
            phiK, _ = funcs[K](z)                                                             # (q, N, m)
            for a in range(jet.m):
                out[..., jet.index(a, K)] = phiK[..., a]
        return out

    def _step(self, gJ, J: tuple[int, ...], i: int):
        """z -> (phi_{J + e_i}, xi) from z -> (phi_J, xi): phi_{J + e_i} = D_i phi_J - sum_j (D_i xi^j) u_{J + e_j}
        (one forward-mode pass gives D_i of both)."""
        cols = self._next_cols[J]
        jet = self.jet

        def gK(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            (_, xi), (dphi, dxi) = torch.func.jvp(gJ, (z,), (jet.total_direction(z, i),))  # type: ignore[misc]
            uJ = z[:, cols.to(z.device)]                                                      # (N, m, p)
            return dphi - torch.einsum("qnj,naj->qna", dxi, uJ), xi

        return gK

    def closure_view(self, points: torch.Tensor) -> tuple[Action, torch.Tensor]:
        return self.base, self.jet.base(points)

    def describe(self, coeffs, precision: int = 3) -> str:
        return self.base.describe(coeffs, precision)

    def tangent(self) -> Action:
        raise SymlieError("tangent: a prolonged action acts on jets; the equation is an invariant function there")

    def __repr__(self) -> str:
        return f"ProlongedAction({self.base!r}, order={self.jet.order}, q={self.dim})"


def _plus(J: tuple[int, ...], j: int) -> tuple[int, ...]:
    K = list(J)
    K[j] += 1
    return tuple(K)


def prolong(action: Action, jet: JetSpace) -> ProlongedAction:
    """pr^(k) of ``action`` (fields on the base (x, u) of ``jet``) to the jet space ``jet`` of order k."""
    return ProlongedAction(action, jet)
