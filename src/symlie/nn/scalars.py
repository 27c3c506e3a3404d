"""Networks on invariant scalars (Villar, Hogg, Storey-Fisher, Yao, Blum-Smith, NeurIPS 2021, "Scalars are
universal").

An invariant function of vectors v_1..v_n of O(d) (or of the Lorentz group O(1, d)) is a function of their inner
products <v_i, v_j>; an equivariant vector function is sum_t f_t(scalars) v_t, and a rank-2 one
f_0(scalars) g + sum_{t,u} f_tu(scalars) v_t v_u^T. This module builds both halves for any group the library
supports, from the one constraint assembly (:func:`symlie.equivariant_basis`):

* :class:`InvariantScalars` -- x (..., s_in) -> s (..., n_scalars): the invariant polynomials of degree 1 (the
  invariant linear functionals of rep_in), 2 (the symmetric invariant bilinear forms on each pair of non-scalar
  components: inner products, for the Lorentz group Minkowski products) and, with ``degree=3``, 3 (invariant
  trilinear forms on distinct triples: the determinants that SO(3) adds to O(3)).
* :class:`ScalarMLP` -- y(x) = sum_k f_k(s(x)) E_k(x): an MLP f on the scalars gives the coefficients of the
  equivariant polynomial features E_k (..., s_out) of degree 0 (the invariant vectors of rep_out), 1 (equivariant
  linear maps of x) and 2 (equivariant maps of x_i (x) x_j for pairs of non-scalar components). f is invariant and
  every E_k equivariant, so y is exactly equivariant (to float round-off) for every parameter value.

For O(d) and O(1, d) with outputs of rank <= 2 this is the universal form of Villar et al.; for SO(d) add
``degree=d`` (determinants) to the scalars; for other groups the scalars are the invariants up to ``degree``,
which need not generate all invariants (a :class:`symlie.nn.EquivariantMLP` has no such limit).

Scale: the MLP sees the scalars standardized by constants set with :meth:`ScalarMLP.calibrate` (mean and
standard deviation of each scalar over training inputs; identity until called). Shapes and dtypes of inputs follow
:mod:`symlie.nn.layers`: (..., s_in) of the module's floating dtype (float32 default), bases in float64 cast once.
"""
from __future__ import annotations

from itertools import combinations, combinations_with_replacement

import torch
from torch import nn

from ..enforce.basis import equivariant_basis, invariant_basis
from ..linalg.nullspace import Nullspace, nullspace
from ..lie.reps import ProductRep, Rep
from ..utils.validation import SymlieError, check_int
from .layers import _check_input, _check_reps, _components, _is_scalar

__all__ = ["InvariantScalars", "ScalarMLP"]


def _offsets(comps: list[Rep]) -> list[int]:
    offs = [0]
    for c in comps:
        offs.append(offs[-1] + c.size)
    return offs


def _outer(parts: list[torch.Tensor]) -> torch.Tensor:
    """Row-major flattened tensor product of the last axes: (..., a), (..., b), ... -> (..., a * b * ...)."""
    z = parts[0]
    for p in parts[1:]:
        z = (z[..., :, None] * p[..., None, :]).flatten(-2)
    return z


class _Terms(nn.Module):
    """Linear functionals of monomials x_{i1} (x) ... (x) x_{id} of components: one buffer (k, prod sizes) each."""

    def __init__(self, rep: Rep, dtype: torch.dtype):
        super().__init__()
        self.comps = _components(rep)
        self.offs = _offsets(self.comps)
        self.index: list[tuple[int, ...]] = []
        self.dtype_ = dtype

    def add(self, idx: tuple[int, ...], M: torch.Tensor) -> None:
        """M (k, prod sizes) or (k, s_out, prod sizes)."""
        if M.shape[0] == 0:
            return
        self.register_buffer(f"M{len(self.index)}", M.to(self.dtype_).contiguous(), persistent=False)
        self.index.append(idx)

    def monomial(self, x: torch.Tensor, idx: tuple[int, ...]) -> torch.Tensor:
        return _outer([x[..., self.offs[i]:self.offs[i + 1]] for i in idx])

    def count(self) -> int:
        return sum(getattr(self, f"M{t}").shape[0] for t in range(len(self.index)))


class InvariantScalars(nn.Module):
    """x (..., rep_in.size) -> the invariant polynomials s (..., n_scalars) of degree <= ``degree``.

    Args:
        rep_in: a linear representation (components as in ``rep_in.reps`` for a sum).
        degree: 1, 2 or 3 (see the module docstring).
        rtol: relative cut of the nullspace that keeps the symmetric forms of a component with itself (the
            library's rank rule; None for its default).
        dtype: dtype of the stored forms and of the input.
        basis_kwargs: passed to :func:`symlie.equivariant_basis`.
    Attributes: ``terms`` (the component indices of each polynomial family), ``n_scalars``, ``spectra`` (for
    each component paired with itself, the :class:`symlie.linalg.Nullspace` that kept its symmetric forms: the
    spectrum and the rule that cut it).
    """

    L: torch.Tensor | None  # buffer (register_buffer)

    def __init__(self, rep_in: Rep, degree: int = 2, rtol: float | None = None, dtype: torch.dtype = torch.float32,
                 **basis_kwargs):
        super().__init__()
        if not isinstance(rep_in, Rep):
            raise TypeError(f"rep_in: expected a Rep (e.g. 2 * sl.V(G)), got {type(rep_in).__name__}")
        check_int(degree, "degree", 1)
        if degree > 3:
            raise ValueError(f"degree: expected 1, 2 or 3, got {degree}")
        self.rep_in, self.degree = rep_in, degree
        self._terms = _Terms(rep_in, dtype)
        comps = self._terms.comps
        lin = invariant_basis(rep_in, **basis_kwargs)
        self.register_buffer("L", lin.basis.T.to(dtype).contiguous() if lin.dim else None,
                             persistent=False)                                              # (k1, s_in)
        vec = [i for i, c in enumerate(comps) if not _is_scalar(c)]
        self.spectra: dict[tuple[int, int], Nullspace] = {}
        if degree >= 2:
            for i, j in combinations_with_replacement(vec, 2):
                M = invariant_basis(ProductRep([comps[i], comps[j]]), **basis_kwargs).basis     # (a*b, k)
                if i == j and M.shape[1]:   # keep the symmetric forms: the others vanish on x_i (x) x_i
                    a = comps[i].size
                    swap = M.reshape(a, a, -1).transpose(0, 1).reshape(a * a, -1)
                    ns = nullspace(M - swap, rtol=rtol, reference=1.0)   # M has orthonormal columns
                    self.spectra[(i, i)] = ns
                    M = M @ ns.basis
                self._terms.add((i, j), M.T)
        if degree >= 3:
            for t in combinations(vec, 3):
                M = invariant_basis(ProductRep([comps[k] for k in t]), **basis_kwargs).basis
                self._terms.add(t, M.T)
        self.n_scalars = (lin.dim if lin.dim else 0) + self._terms.count()

    @property
    def terms(self) -> list[tuple[int, ...]]:
        return list(self._terms.index)

    def forward(self, x) -> torch.Tensor:
        x = _check_input(x, self, self.rep_in.size, str(self.rep_in))
        out = [x @ self.L.T] if self.L is not None else []
        for t, idx in enumerate(self._terms.index):
            out.append(self._terms.monomial(x, idx) @ getattr(self._terms, f"M{t}").T)
        if not out:
            return x.new_zeros(x.shape[:-1] + (0,))
        return torch.cat(out, dim=-1)


def _uniform(shape, fan_in: int, gen: torch.Generator) -> torch.Tensor:
    """torch's default law for linear layers, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), drawn from a seeded generator."""
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) / fan_in ** 0.5


class ScalarMLP(nn.Module):
    """y = sum_k f_k(s(x)) E_k(x): an MLP on the invariant scalars weighting equivariant polynomial features.

    Args:
        rep_in, rep_out: representations of one group (sizes s_in, s_out).
        hidden: width of the MLP f; ``depth``: its number of hidden layers (SiLU).
        degree: degree of the invariant scalars (:class:`InvariantScalars`).
        out_degree: highest degree of the equivariant features E_k (0, 1 or 2).
        dtype: parameter dtype (float32 default); ``seed``: initialisation seed.
        rtol, basis_kwargs: as in :class:`InvariantScalars`.
    Input (..., s_in) -> output (..., s_out). Attributes ``n_scalars``, ``n_features``.
    """

    mean: torch.Tensor  # buffers (register_buffer)
    std: torch.Tensor
    E0: torch.Tensor | None
    E1: torch.Tensor

    def __init__(self, rep_in: Rep, rep_out: Rep, hidden: int = 128, depth: int = 3, degree: int = 2,
                 out_degree: int = 2, dtype: torch.dtype = torch.float32, seed: int = 0, rtol: float | None = None,
                 **basis_kwargs):
        super().__init__()
        _check_reps(rep_in, rep_out)
        check_int(hidden, "hidden", 1)
        check_int(depth, "depth", 1)
        check_int(out_degree, "out_degree", 0)
        if out_degree > 2:
            raise ValueError(f"out_degree: expected 0, 1 or 2, got {out_degree}")
        self.rep_in, self.rep_out = rep_in, rep_out
        self.scalars = InvariantScalars(rep_in, degree=degree, rtol=rtol, dtype=dtype, **basis_kwargs)
        self._features = _Terms(rep_in, dtype)
        comps = self._features.comps
        so = rep_out.size
        const = invariant_basis(rep_out, **basis_kwargs)
        self.register_buffer("E0", const.basis.T.to(dtype).contiguous() if const.dim else None,
                             persistent=False)                                              # (k0, s_out)
        self.register_buffer("E1", torch.zeros(0, so, rep_in.size, dtype=dtype), persistent=False)
        if out_degree >= 1:
            lin = equivariant_basis(rep_in, rep_out, **basis_kwargs)
            if lin.dim:
                self.E1 = lin.matrices().to(dtype).contiguous()                                   # (k1, s_out, s_in)
        if out_degree >= 2:
            vec = [i for i, c in enumerate(comps) if not _is_scalar(c)]
            for i, j in combinations_with_replacement(vec, 2):
                b = equivariant_basis(ProductRep([comps[i], comps[j]]), rep_out, **basis_kwargs)
                if b.dim:
                    self._features.add((i, j), b.matrices())                                      # (k, s_out, a*b)
        n0 = const.dim if const.dim else 0
        self.n_features = n0 + self.E1.shape[0] + self._features.count()
        if self.n_features == 0:
            raise SymlieError(f"rep_out: no equivariant features of degree <= {out_degree} map {rep_in} to "
                              f"{rep_out}; raise out_degree or change the representations")
        self.n_scalars = self.scalars.n_scalars
        n_s = max(self.n_scalars, 1)
        self.register_buffer("mean", torch.zeros(n_s, dtype=dtype))
        self.register_buffer("std", torch.ones(n_s, dtype=dtype))
        gen = torch.Generator().manual_seed(seed)
        layers: list[nn.Module] = []
        width = [n_s] + [hidden] * depth + [self.n_features]
        for a, b in zip(width[:-1], width[1:]):
            lin = nn.Linear(a, b, dtype=dtype)
            with torch.no_grad():
                lin.weight.copy_(_uniform(lin.weight.shape, a, gen))
                lin.bias.copy_(_uniform(lin.bias.shape, a, gen))
            layers += [lin, nn.SiLU()]
        self.f = nn.Sequential(*layers[:-1])

    def _s(self, x: torch.Tensor) -> torch.Tensor:
        s = self.scalars(x)
        if s.shape[-1] == 0:
            s = x.new_ones(x.shape[:-1] + (1,))
        return s

    @torch.no_grad()
    def calibrate(self, X) -> "ScalarMLP":
        """Set the standardization of the scalars to their mean and standard deviation over inputs X (n, s_in)
        (computed in float64; a scalar constant over X keeps std 1). Returns self."""
        x = _check_input(X, self, self.rep_in.size, str(self.rep_in))
        if x.ndim != 2 or x.shape[0] < 2:
            raise ValueError(f"X: expected at least 2 inputs of shape (n, {self.rep_in.size}), got {tuple(x.shape)}")
        s = self._s(x).double()
        if not torch.isfinite(s).all():
            raise ValueError("X: the scalars of these inputs are not finite (NaN or Inf in X?)")
        sd = s.std(0)
        self.mean.copy_(s.mean(0))
        self.std.copy_(torch.where(sd > 0, sd, torch.ones_like(sd)))
        return self

    def features(self, x) -> torch.Tensor:
        """The equivariant features E (..., n_features, s_out) of inputs x (..., s_in)."""
        x = _check_input(x, self, self.rep_in.size, str(self.rep_in))
        parts = []
        if self.E0 is not None:
            parts.append(self.E0.expand(x.shape[:-1] + self.E0.shape))
        if self.E1.shape[0]:
            parts.append(torch.einsum("koi,...i->...ko", self.E1, x))
        for t, idx in enumerate(self._features.index):
            parts.append(torch.einsum("koi,...i->...ko", getattr(self._features, f"M{t}"),
                                      self._features.monomial(x, idx)))
        return torch.cat(parts, dim=-2)

    def forward(self, x) -> torch.Tensor:
        x = _check_input(x, self, self.rep_in.size, str(self.rep_in))
        c = self.f((self._s(x) - self.mean) / self.std)                     # (..., n_features), invariant
        return torch.einsum("...k,...ko->...o", c, self.features(x))
