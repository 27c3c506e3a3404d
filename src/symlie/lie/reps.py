"""Representations of matrix groups and their Lie algebras.

A :class:`Rep` of a group G (matrix size d) maps
  * group elements g (..., d, d) to rho(g) (..., s, s), and
  * algebra elements xi (..., d, d) to drho(xi) (..., s, s),
consistently: rho(exp(t xi)) = exp(t drho(xi)).

Building blocks: ``V(G)`` (the defining action, linear part only for affine groups), ``V(G).dual()``,
``Scalar(G)``, sums ``R1 + R2``, multiplicities ``3 * V``, tensor products ``R1 * R2``, powers ``V ** 2`` and
``TensorRep(G, p, q)`` = V^{(x)p} (x) (V*)^{(x)q}. Products are kept structured: ``apply_drho`` /
``apply_rho`` act on vectors through the factors (a Kronecker sum / product) without forming the s x s
matrix, so big tensor representations stay cheap; ``drho`` / ``rho`` give the dense matrices when wanted.

``Point(G)`` is the (possibly affine) action of G on positions, x -> A x + b. It is an *action*, not a linear
representation: it supplies ``vector_field`` and ``act`` (used for model inputs) and its ``tangent()`` is the
linear representation V(G) felt by velocities and displacements.
"""
from __future__ import annotations

import math
from functools import cached_property
from typing import Sequence

import torch

from ..utils.errors import ResourceError
from ..utils.resources import check_memory
from ..utils.validation import SymlieError, as_tensor, check_int
from .groups import Group, as_group

__all__ = ["Rep", "V", "Vector", "Covector", "Scalar", "Point", "SumRep", "TensorRep", "ProductRep", "Trivial"]


_HINT_REP = "use a smaller tensor power or multiplicity, or split the representation into smaller pieces"
_HINT_DENSE = ("use apply_drho / apply_rho, which act through the factors without forming the s x s matrices, or "
               "equivariant_basis(method='kron' or 'sparse')")
#: bound on the integers of a parse_rep expression (multiplicities, powers, T(p, q) arguments)
MAX_PARSE_INT = 2 ** 20


def _size_text(log2_size: float, exact: int | None) -> str:
    return str(exact) if exact is not None and log2_size < 64 else f"about 2^{log2_size:.0f}"


def check_rep_size(what: str, log2_size: float, exact: int | None = None, n_parts: int = 1) -> None:
    """Refuse a representation one vector of which (size s, float64) would not fit in the memory limit, given
    log2(s) (so sizes such as 3^1000 are never formed); ``n_parts`` counts the factors / summands kept in lists."""
    nbytes = max(8.0 * 2.0 ** log2_size if log2_size < 1000 else float("inf"), 64.0 * n_parts)
    check_memory(nbytes, f"{what}: a representation of size {_size_text(log2_size, exact)}",
                 hint="one vector of it does not fit; " + _HINT_REP)


def _batched_kron(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    a, b = A.shape[-1], B.shape[-1]
    K = torch.einsum("...ik,...jl->...ijkl", A, B)
    return K.reshape(*K.shape[:-4], a * b, a * b)


def _batched_block_diag(mats: Sequence[torch.Tensor]) -> torch.Tensor:
    batch = torch.broadcast_shapes(*[m.shape[:-2] for m in mats])
    s = sum(m.shape[-1] for m in mats)
    out = mats[0].new_zeros(*batch, s, s)
    o = 0
    for m in mats:
        k = m.shape[-1]
        out[..., o:o + k, o:o + k] = m
        o += k
    return out


class Rep:
    """Base class. Subclasses define ``size``, ``drho``, ``rho``, ``apply_drho``, ``apply_rho`` and ``dual``."""

    group: Group
    is_linear: bool = True

    # -- to be provided by subclasses
    @property
    def size(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def drho(self, X: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Dense drho(X): (..., d, d) -> (..., s, s)."""
        raise NotImplementedError

    def rho(self, g: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """Dense rho(g): (..., d, d) -> (..., s, s)."""
        raise NotImplementedError

    def apply_drho(self, X: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """drho(X) v without forming drho(X): X (*B, d, d), v (*B, *P, s) -> (*B, *P, s), where *B is the batch
        of algebra elements (possibly empty) and *P any number of point dimensions."""
        return self._apply_dense(self.drho(X), X, v)

    def apply_rho(self, g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """rho(g) v without forming rho(g); shapes as :meth:`apply_drho`."""
        return self._apply_dense(self.rho(g), g, v)

    def dual(self) -> "Rep":  # pragma: no cover - abstract
        raise NotImplementedError

    def drho_sparse(self, X):
        """drho(X) for one (d, d) element as a scipy.sparse CSR matrix (s, s), float64, built factor by factor."""
        import scipy.sparse as sp
        return sp.csr_matrix(self.drho(self._check_X(as_tensor(X, "X"))).numpy())

    def rho_sparse(self, g):
        """rho(g) for one (d, d) element as a scipy.sparse CSR matrix (s, s), float64."""
        import scipy.sparse as sp
        return sp.csr_matrix(self.rho(self._check_X(as_tensor(g, "g"), "g")).numpy())

    # -- shared machinery
    def _check_dense(self, X: torch.Tensor, what: str, copies: int = 3) -> None:
        """Refuse dense (..., s, s) matrices of this representation that would not fit in the memory limit."""
        nb = math.prod(X.shape[:-2])
        s = self.size
        check_memory(8 * copies * nb * s * s, f"{what}: {nb} dense {s}x{s} matri{'x' if nb == 1 else 'ces'} of {self}",
                     hint=_HINT_DENSE)

    @staticmethod
    def _apply_dense(M: torch.Tensor, X: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        nb = X.ndim - 2
        if v.ndim < nb + 1:
            raise ValueError(f"v: expected at least {nb + 1} dimensions for {nb} batch dimension(s), "
                             f"got {tuple(v.shape)}")
        P = v.shape[nb:-1]
        # flatten the point dimensions and multiply once (broadcasting M over them would copy it per point)
        flat = v.reshape(*v.shape[:nb], -1, v.shape[-1])
        return (flat @ M.to(v.dtype).transpose(-1, -2)).reshape(*v.shape[:nb], *P, M.shape[-2])

    def _check_X(self, X, name: str = "X") -> torch.Tensor:
        d = self.group.matrix_size
        X = X if isinstance(X, torch.Tensor) else as_tensor(X, name)
        if X.shape[-2:] != (d, d):
            raise ValueError(f"{name}: expected matrices of shape (..., {d}, {d}) for group {self.group.name}, "
                             f"got {tuple(X.shape)}")
        return X

    def __repr__(self) -> str:
        return self._str()

    def _str(self) -> str:  # pragma: no cover - abstract
        raise NotImplementedError

    # Representations over the same group compose; over different groups they refuse.
    def _same_group(self, other: "Rep") -> None:
        if not isinstance(other, Rep):
            raise TypeError(f"expected a Rep, got {type(other).__name__}")
        if self.group != other.group:
            raise SymlieError(f"representations of different groups cannot be combined: {self.group.name} and "
                              f"{other.group.name}")

    def __add__(self, other) -> "Rep":
        if isinstance(other, int) and other == 0:
            return self
        self._same_group(other)
        return SumRep([self, other])

    def __radd__(self, other) -> "Rep":
        if isinstance(other, int) and other == 0:  # sum([...])
            return self
        return NotImplemented

    def __mul__(self, other) -> "Rep":
        if isinstance(other, int):
            return self.__rmul__(other)
        self._same_group(other)
        return ProductRep([self, other])

    def __rmul__(self, k) -> "Rep":
        check_int(k, "multiplicity", 1)
        s = self.size
        check_rep_size(f"{k}*{self._short(True)}", math.log2(k * s) if s else 0.0,
                       k * s, n_parts=k)
        return self if k == 1 else SumRep([self] * k)

    def __pow__(self, k: int) -> "Rep":
        check_int(k, "tensor power", 0)
        if k == 0:
            return Scalar(self.group)
        s = self.size
        check_rep_size(f"{self._short(True)}**{k}", k * math.log2(s) if s > 1 else 0.0,
                       s ** k if s <= 1 or k * math.log2(s) < 64 else None, n_parts=k)
        return self if k == 1 else ProductRep([self] * k)

    def _short(self, wrap: bool = False) -> str:
        txt = str(self)
        txt = txt if len(txt) <= 60 else txt[:57] + "..."
        return f"({txt})" if wrap and any(c in txt for c in "+⊗x") else txt

    def __eq__(self, other) -> bool:
        return isinstance(other, Rep) and type(self) is type(other) and self.group == other.group and \
            self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def _key(self):
        return ()

    # -- helpers on the group's algebra
    @cached_property
    def drho_basis(self) -> torch.Tensor:
        """drho of every algebra basis element: (q, s, s), float64 (dense; avoid for very large s: refused with a
        :class:`symlie.utils.ResourceError` above the memory limit)."""
        return self.drho(self.group.algebra.basis)

    @cached_property
    def rho_discrete(self) -> torch.Tensor:
        """rho of every discrete generator: (h, s, s), float64."""
        return self.rho(self.group.discrete)

    def tangent(self) -> "Rep":
        """The linear representation felt by tangent vectors (itself for linear representations)."""
        return self

    def vector_field(self, X, x) -> torch.Tensor:
        """The infinitesimal action v_X(x) = drho(X) x on points x (N, s): returns (*B, N, s) for X (*B, d, d)."""
        X = self._check_X(as_tensor(X, "X"))
        x = self._check_points(x)
        self._check_points_memory(X, x, "vector_field")
        return self.apply_drho(X.to(x.dtype), x.expand(*X.shape[:-2], *x.shape))

    def act(self, g, x) -> torch.Tensor:
        """The group action rho(g) x on points x (N, s): returns (*B, N, s) for g (*B, d, d)."""
        g = self._check_X(as_tensor(g, "g"), "g")
        x = self._check_points(x)
        self._check_points_memory(g, x, "act")
        return self.apply_rho(g.to(x.dtype), x.expand(*g.shape[:-2], *x.shape))

    def _check_points_memory(self, X: torch.Tensor, x: torch.Tensor, what: str) -> None:
        nb = math.prod(X.shape[:-2])
        check_memory(3 * x.element_size() * nb * x.numel(), f"{what}: {nb} element(s) at {x.shape[0]} points of "
                     f"{self._short()}", hint="evaluate fewer points or generators at a time")

    def _check_points(self, x) -> torch.Tensor:
        x = x if isinstance(x, torch.Tensor) else as_tensor(x, "x")
        if x.ndim != 2 or x.shape[1] != self.size:
            raise ValueError(f"x: expected points of shape (N, {self.size}) for representation {self}, "
                             f"got {tuple(x.shape)}")
        return x


# ---------------------------------------------------------------------- leaves
class _OnRn(Rep):
    """A representation on R^n, n the size of the group's (linear part of its) matrices."""

    def __init__(self, G):
        self.group = as_group(G)

    @property
    def size(self) -> int:
        return self.group.n


class Vector(_OnRn):
    """The defining representation V of G on R^n: drho(xi) = xi (its linear part A for affine groups)."""

    def drho(self, X):
        X = self._check_X(X)
        n = self.group.n
        return X[..., :n, :n]

    def rho(self, g):
        return self.drho(g)

    def dual(self) -> "Rep":
        return Covector(self.group)

    def _str(self) -> str:
        return "V"


def V(G) -> Vector:
    """The defining (vector) representation of a group or algebra."""
    return Vector(G)


class Covector(_OnRn):
    """The dual V*: drho(xi) = -xi^T, rho(g) = g^{-T}."""

    def drho(self, X):
        X = self._check_X(X)
        n = self.group.n
        return -X[..., :n, :n].transpose(-1, -2)

    def rho(self, g):
        g = self._check_X(g, "g")
        n = self.group.n
        return torch.linalg.inv(g[..., :n, :n]).transpose(-1, -2)

    def dual(self) -> "Rep":
        return Vector(self.group)

    def _str(self) -> str:
        return "V*"


class Trivial(Rep):
    """The trivial representation on R^k (k invariant scalars): drho = 0, rho = I."""

    def __init__(self, G, k: int = 1):
        self.group = as_group(G)
        check_int(k, "k", 1)
        check_rep_size(f"Trivial(k={k})", math.log2(k), k)
        self.k = k

    @property
    def size(self) -> int:
        return self.k

    def drho(self, X):
        X = self._check_X(X)
        self._check_dense(X, "drho", 1)
        return X.new_zeros(*X.shape[:-2], self.k, self.k)

    def rho(self, g):
        g = self._check_X(g, "g")
        self._check_dense(g, "rho", 2)
        return torch.eye(self.k, dtype=g.dtype).expand(*g.shape[:-2], self.k, self.k).clone()

    def apply_drho(self, X, v):
        self._check_X(X)
        return torch.zeros_like(v)

    def apply_rho(self, g, v):
        self._check_X(g, "g")
        return v

    def dual(self) -> "Rep":
        return self

    def _key(self):
        return (self.k,)

    def _str(self) -> str:
        return "1" if self.k == 1 else f"{self.k}"


def Scalar(G) -> Trivial:
    """One invariant scalar (the trivial one-dimensional representation)."""
    return Trivial(G, 1)


# ---------------------------------------------------------------------- combinations
class SumRep(Rep):
    """Direct sum R_1 + ... + R_k acting block-diagonally on concatenated coordinates."""

    def __init__(self, reps: Sequence[Rep]):
        flat: list[Rep] = []
        for r in reps:
            flat.extend(r.reps if isinstance(r, SumRep) else [r])
        if not flat:
            raise ValueError("SumRep: expected at least one representation")
        for r in flat[1:]:
            flat[0]._same_group(r)
        self.reps: list[Rep] = flat
        self.group = flat[0].group
        self.is_linear = all(r.is_linear for r in flat)
        self._sizes = [r.size for r in flat]
        tot = sum(self._sizes)
        check_rep_size(f"direct sum of {len(flat)} representations", math.log2(tot) if tot else 0.0, tot,
                       n_parts=len(flat))

    @property
    def size(self) -> int:
        return sum(self._sizes)

    def _require_linear(self, what: str):
        if not self.is_linear:
            raise SymlieError(f"{what}: {self} contains an affine Point action, which has no matrix; use "
                              f"vector_field/act, or .tangent() for the linear part")

    def drho(self, X):
        self._require_linear("drho")
        self._check_dense(X, "drho", 2)
        return _batched_block_diag([r.drho(X) for r in self.reps])

    def rho(self, g):
        self._require_linear("rho")
        self._check_dense(g, "rho", 2)
        return _batched_block_diag([r.rho(g) for r in self.reps])

    def drho_sparse(self, X):
        import scipy.sparse as sp
        self._require_linear("drho_sparse")
        return sp.block_diag([r.drho_sparse(X) for r in self.reps], format="csr")

    def rho_sparse(self, g):
        import scipy.sparse as sp
        self._require_linear("rho_sparse")
        return sp.block_diag([r.rho_sparse(g) for r in self.reps], format="csr")

    def apply_drho(self, X, v):
        self._require_linear("apply_drho")
        parts = torch.split(v, self._sizes, dim=-1)
        return torch.cat([r.apply_drho(X, p) for r, p in zip(self.reps, parts)], -1)

    def apply_rho(self, g, v):
        self._require_linear("apply_rho")
        parts = torch.split(v, self._sizes, dim=-1)
        return torch.cat([r.apply_rho(g, p) for r, p in zip(self.reps, parts)], -1)

    def vector_field(self, X, x):
        x = self._check_points(x)
        parts = torch.split(x, self._sizes, dim=-1)
        return torch.cat([r.vector_field(X, p) for r, p in zip(self.reps, parts)], -1)

    def act(self, g, x):
        x = self._check_points(x)
        parts = torch.split(x, self._sizes, dim=-1)
        return torch.cat([r.act(g, p) for r, p in zip(self.reps, parts)], -1)

    def tangent(self) -> Rep:
        return SumRep([r.tangent() for r in self.reps])

    def dual(self) -> Rep:
        return SumRep([r.dual() for r in self.reps])

    def _key(self):
        return tuple((type(r).__name__, r._key()) for r in self.reps)

    def _str(self) -> str:
        out, i = [], 0
        while i < len(self.reps):
            j = i
            while j < len(self.reps) and self.reps[j] == self.reps[i]:
                j += 1
            s = self.reps[i]._str()
            if isinstance(self.reps[i], (SumRep, ProductRep)):
                s = f"({s})"
            out.append(s if j - i == 1 else (f"{j - i}x{s}" if s[0].isdigit() else f"{j - i}{s}"))
            i = j
        return "+".join(out)


class ProductRep(Rep):
    """Tensor product R_1 (x) ... (x) R_k, kept factored.

    drho = sum_i I (x) .. (x) drho_i (x) .. (x) I (a Kronecker sum) and rho = rho_1 (x) ... (x) rho_k. Vectors
    are indexed in row-major (C) order over the factors, matching ``torch.kron``.
    """

    def __init__(self, reps: Sequence[Rep]):
        flat: list[Rep] = []
        for r in reps:
            flat.extend(r.reps if isinstance(r, ProductRep) else [r])
        for r in flat[1:]:
            flat[0]._same_group(r)
        for r in flat:
            if not r.is_linear:
                raise SymlieError(f"tensor product: {r} is an affine Point action, not a linear representation")
        # one-dimensional trivial factors are identities and are dropped
        kept = [r for r in flat if not (isinstance(r, Trivial) and r.k == 1)]
        self.group = flat[0].group
        sizes = [r.size for r in kept]
        log2 = sum(math.log2(z) for z in sizes if z > 1)
        check_rep_size(f"tensor product of {len(flat)} factors", log2,
                       math.prod(sizes) if log2 < 64 else None, n_parts=len(flat))
        self.reps: list[Rep] = kept if kept else [Trivial(self.group, 1)]
        self._sizes = [r.size for r in self.reps]

    @property
    def size(self) -> int:
        return math.prod(self._sizes)

    def drho(self, X):
        self._check_dense(self._check_X(X), "drho")
        mats = [r.drho(X) for r in self.reps]
        eyes = [torch.eye(r.size, dtype=m.dtype) for r, m in zip(self.reps, mats)]
        total = None
        for i in range(len(mats)):
            term = None
            for j in range(len(mats)):
                f = mats[j] if i == j else eyes[j].expand(*mats[i].shape[:-2], *eyes[j].shape)
                term = f if term is None else _batched_kron(term, f)
            total = term if total is None else total + term
        return total

    def rho(self, g):
        self._check_dense(self._check_X(g, "g"), "rho")
        out = None
        for r in self.reps:
            m = r.rho(g)
            out = m if out is None else _batched_kron(out, m)
        return out

    def drho_sparse(self, X):
        """The Kronecker sum sum_i I (x) .. (x) drho_i (x) .. (x) I as a sparse CSR matrix."""
        import scipy.sparse as sp
        mats = [r.drho_sparse(X) for r in self.reps]
        s = self.size
        nnz = sum(D.nnz * (s // D.shape[0]) for D in mats)       # nonzeros of the Kronecker sum (at most)
        check_memory(3 * 16 * nnz, f"drho_sparse: a sparse {s}x{s} Kronecker sum with up to {nnz} nonzeros of {self}",
                     hint="use apply_drho (structured, never forms the matrix) or equivariant_basis(method='kron')")
        out = None
        for D in mats:
            if out is None:
                out = D
            else:
                out = sp.kron(out, sp.identity(D.shape[0]), format="csr") + \
                    sp.kron(sp.identity(out.shape[0]), D, format="csr")
        return out.tocsr()

    def rho_sparse(self, g):
        import scipy.sparse as sp
        mats = [r.rho_sparse(g) for r in self.reps]
        nnz = math.prod(R.nnz for R in mats)                      # nonzeros of the Kronecker product
        check_memory(2 * 16 * nnz, f"rho_sparse: a sparse {self.size}x{self.size} Kronecker product with {nnz} "
                     f"nonzeros of {self}", hint="use apply_rho (structured, never forms the matrix)")
        out = None
        for R in mats:
            out = R if out is None else sp.kron(out, R, format="csr")
        return out.tocsr()

    def _apply_factor(self, op: str, X: torch.Tensor, v: torch.Tensor, i: int) -> torch.Tensor:
        """Apply factor i's drho / rho along its axis of v (*B, *P, s1, ..., sk)."""
        k = len(self.reps)
        nb = X.ndim - 2
        axis = v.ndim - k + i
        w = v.movedim(axis, -1)  # (*B, *P, other factors..., s_i)
        # flatten the non-batch, non-factor dims so the factor sees (*B, M, s_i)
        shp = w.shape
        w = w.reshape(*shp[:nb], -1, shp[-1])
        r = self.reps[i]
        w = r.apply_drho(X, w) if op == "d" else r.apply_rho(X, w)
        return w.reshape(shp).movedim(-1, axis)

    def apply_drho(self, X, v):
        lead = v.shape[:-1]
        t = v.reshape(*lead, *self._sizes)
        out = sum(self._apply_factor("d", X, t, i) for i in range(len(self.reps)))
        return out.reshape(*lead, self.size)

    def apply_rho(self, g, v):
        lead = v.shape[:-1]
        t = v.reshape(*lead, *self._sizes)
        for i in range(len(self.reps)):
            t = self._apply_factor("r", g, t, i)
        return t.reshape(*lead, self.size)

    def dual(self) -> Rep:
        return ProductRep([r.dual() for r in self.reps])

    def _key(self):
        return tuple((type(r).__name__, r._key()) for r in self.reps)

    def _str(self) -> str:
        parts = []
        for r in self.reps:
            s = r._str()
            parts.append(f"({s})" if isinstance(r, SumRep) else s)
        return "⊗".join(parts)


def TensorRep(G, p: int, q: int = 0) -> Rep:
    """T(p, q) = V^{(x)p} (x) (V*)^{(x)q}: p contravariant and q covariant indices (Scalar when p = q = 0)."""
    check_int(p, "p", 0)
    check_int(q, "q", 0)
    G = as_group(G)
    n = G.n
    check_rep_size(f"TensorRep({G.name}, {p}, {q})", (p + q) * math.log2(n) if n > 1 else 0.0,
                   n ** (p + q) if n <= 1 or (p + q) * math.log2(n) < 64 else None, n_parts=p + q)
    factors = [Vector(G)] * p + [Covector(G)] * q
    if not factors:
        return Scalar(G)
    return factors[0] if len(factors) == 1 else ProductRep(factors)


# ---------------------------------------------------------------------- affine action on positions
class Point(Rep):
    """The action of G on positions in R^n: x -> A x + b (affine groups) or x -> g x (linear groups).

    Not a linear representation: use it for model *inputs*; ``tangent()`` gives V(G) for velocities.
    """

    is_linear = False

    def __init__(self, G):
        self.group = as_group(G)
        if not self.group.affine:
            self.is_linear = True

    @property
    def size(self) -> int:
        return self.group.n

    def _require_linear(self, what):
        if not self.is_linear:
            raise SymlieError(f"{what}: Point({self.group.name}) is an affine action, not a linear representation; "
                              f"use vector_field/act, or .tangent() for the linear part")

    def drho(self, X):
        self._require_linear("drho")
        return Vector(self.group).drho(X)

    def rho(self, g):
        self._require_linear("rho")
        return Vector(self.group).rho(g)

    def vector_field(self, X, x):
        X = self._check_X(as_tensor(X, "X"))
        x = self._check_points(x)
        return self.group.algebra.vector_field(x, X.to(x.dtype))

    def act(self, g, x):
        g = self._check_X(as_tensor(g, "g"), "g")
        x = self._check_points(x)
        return self.group.algebra.act(g.to(x.dtype), x)

    def tangent(self) -> Rep:
        return Vector(self.group)

    def dual(self) -> Rep:
        self._require_linear("dual")
        return Covector(self.group)

    def _str(self) -> str:
        return "P" if not self.is_linear else "V"


def _check_parse_ints(tree, spec: str, name: str) -> None:
    """Refuse integers above :data:`MAX_PARSE_INT` in a parse_rep expression, including integer sub-expressions
    such as ``9**9**9``, before anything is evaluated (Python would compute the huge integer first)."""
    import ast
    bound = MAX_PARSE_INT

    def too_big(text: str):
        shown = spec if len(spec) <= 80 else spec[:77] + "..."
        raise SymlieError(f"{name}: {shown!r}: the integer {text} is above {bound} (the bound on multiplicities, "
                          f"tensor powers and T(p, q) arguments); write a smaller representation")

    def value(node) -> int | None:
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, int) and not isinstance(v, bool):
                if v > bound:
                    too_big(str(v) if v.bit_length() < 200 else f"of {v.bit_length()} bits")
                return v
            return None
        if not isinstance(node, ast.BinOp):
            return None
        a, b = value(node.left), value(node.right)
        if a is None or b is None:
            return None
        if isinstance(node.op, ast.Pow):
            if a > 1 and b * math.log2(a) > math.log2(bound):
                too_big(f"{a}**{b}")
            r = a ** b
        elif isinstance(node.op, ast.Mult):
            r = a * b
        elif isinstance(node.op, ast.Add):
            r = a + b
        else:  # pragma: no cover - other operators are refused above
            return None
        if r > bound:
            too_big(f"{r}")
        return r

    for node in ast.walk(tree):
        value(node)


def parse_rep(spec: str, G, name: str = "rep") -> Rep:
    """A representation of G from an expression in ``V``, ``Scalar``, ``Covector``, ``T(p, q)`` with ``+``,
    ``*`` (tensor product), ``**`` and integer multiplicities, e.g. ``"V*V"``, ``"2*V+Scalar"``, ``"T(2,1)"``,
    ``"V.dual()"``. Only these names are available to the expression (no Python builtins)."""
    import ast
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"{name}: expected a representation expression such as 'V*V', got {spec!r}")
    allowed = (ast.Expression, ast.BinOp, ast.Add, ast.Mult, ast.Pow, ast.Name, ast.Load, ast.Constant, ast.Call,
               ast.Attribute)
    try:
        tree = ast.parse(spec, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"{name}: cannot parse {spec!r}: {exc.msg}") from None
    names = {"V", "Scalar", "Covector", "T"}
    for node in ast.walk(tree):
        if not isinstance(node, allowed) or (isinstance(node, ast.Attribute) and node.attr != "dual") or \
                (isinstance(node, ast.Name) and node.id not in names):
            raise ValueError(f"{name}: {spec!r} may only combine V, Scalar, Covector, T(p,q) with +, *, ** and "
                             f"integers (and .dual())")
    _check_parse_ints(tree, spec, name)
    env = {"V": V(G), "Scalar": Scalar(G), "Covector": Covector(G), "T": lambda p, q: TensorRep(G, p, q)}
    try:
        rep = eval(compile(tree, name, "eval"), {"__builtins__": {}}, env)  # noqa: S307 - checked AST, no builtins
    except NameError as exc:
        raise ValueError(f"{name}: {exc}; available: V, Scalar, Covector, T(p, q)") from None
    except ResourceError as exc:
        raise ResourceError(f"{name}: {spec!r}: {exc}", nbytes=exc.nbytes, limit=exc.limit, what=exc.what) from None
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {spec!r}: {exc}") from None
    if not isinstance(rep, Rep):
        raise ValueError(f"{name}: {spec!r} is not a representation")
    return rep
