"""Matrix Lie algebras.

A :class:`LieAlgebra` is a real vector space of d x d matrices closed under the commutator
``[A, B] = AB - BA``, stored as a basis tensor of shape (q, d, d) in float64.

Linear algebras act on R^d by ``x -> A x``. *Affine* algebras (t(n), se(n), sim(n), aff(n)) are stored in
homogeneous form: each element is an (n+1) x (n+1) matrix ``[[A, b], [0, 0]]`` that acts on points
x in R^n by the vector field ``v(x) = A x + b``; ``d = n + 1`` and ``n = d - 1``.

Every named constructor returns a Frobenius-orthonormal basis (``normalize=True``), so that inner products
on the algebra, and with them nuclear norms and spectra, do not depend on arbitrary generator scales.
"""
from __future__ import annotations

from functools import cached_property
from typing import Iterable, Sequence

import torch

from ..linalg import RankRule
from ..utils.errors import ResourceError
from ..utils.resources import check_memory
from ..utils.validation import DEFAULT_DTYPE, NotClosedError, as_tensor, check_int, make_generator

__all__ = [
    "LieAlgebra", "gl", "sl", "so", "so_pq", "lorentz", "sp", "t", "se", "sim", "aff", "scaling",
    "direct_sum", "span", "symplectic_form",
]


def _frob(x: torch.Tensor) -> torch.Tensor:
    return torch.linalg.matrix_norm(x, ord="fro")


_HINT_SMALLER = ("use a smaller n, an algebra acting on fewer coordinates, or only the generators you need (a "
                 "LieAlgebra of those matrices, or an Action such as sl.LibraryAction)")


def algebra_bytes(q: int, d: int) -> int:
    """Estimated peak bytes of building an algebra of q generators of size d x d (float64): the generator list,
    the stacked basis, the independence SVD of the (q, d^2) matrix and the orthonormalised copy."""
    return 8 * (4 * q * d * d + 3 * min(q, d * d) ** 2)


def check_algebra_size(what: str, q: int, d: int, hint: str = _HINT_SMALLER) -> None:
    """Refuse (:class:`symlie.utils.ResourceError`) an algebra of q generators of d x d whose construction would
    exceed the memory limit, before anything is allocated."""
    check_memory(algebra_bytes(q, d), f"{what}: {q} generators of {d}x{d}", hint=hint)


class LieAlgebra:
    """A real matrix Lie algebra given by a basis of shape (q, d, d), float64.

    Args:
        basis: (q, d, d) or a single (d, d) matrix; any real array-like. Integer input is converted to
            float64 (lossless); NaN/Inf, complex or non-square input is refused.
        name: a label used in summaries (e.g. ``"so(3)"``).
        affine: the matrices are homogeneous (n+1) x (n+1) affine generators ``[[A, b], [0, 0]]``.
        check_closure: raise :class:`NotClosedError` when brackets leave the span by more than
            ``closure_tol`` (relative, see :meth:`closure_error`).
        closure_tol: tolerance of that check.
        independence_rtol: generators whose flattened matrices have a singular value below
            ``independence_rtol * sigma_max`` are rejected as linearly dependent.
        size: the matrix size d; required only for the zero-dimensional algebra (``q = 0``).
    """

    def __init__(self, basis, *, name: str | None = None, affine: bool = False, check_closure: bool = False,
                 closure_tol: float = 1e-10, independence_rtol: float = 1e-10, size: int | None = None):
        B = as_tensor(basis, "basis", dtype=DEFAULT_DTYPE)
        if B.ndim == 2 and B.shape[0] == B.shape[1] and B.numel() > 0:
            B = B.unsqueeze(0)
        if B.ndim == 3 and B.shape[0] == 0 and size is not None:
            B = B.reshape(0, size, size)
        if B.ndim != 3:
            raise ValueError(f"basis: expected shape (q, d, d), got {tuple(B.shape)}")
        if B.shape[1] != B.shape[2]:
            raise ValueError(f"basis: generators must be square matrices, got shape {tuple(B.shape)}")
        if size is not None and B.shape[1] != size:
            raise ValueError(f"basis: expected {size}x{size} matrices, got {B.shape[1]}x{B.shape[2]}")
        if B.shape[1] == 0:
            raise ValueError("basis: matrices must be at least 1x1")
        if affine:
            if B.shape[1] < 2:
                raise ValueError("basis: affine generators are homogeneous (n+1)x(n+1) matrices with n >= 1")
            last = B[:, -1, :]
            if last.numel() and last.abs().max() > 0:
                raise ValueError("basis: affine generators must have a zero last row (homogeneous form "
                                 "[[A, b], [0, 0]])")
        q = B.shape[0]
        if q:
            d = B.shape[1]
            check_memory(8 * (2 * q * d * d + 3 * min(q, d * d) ** 2),
                         f"basis: the independence check (SVD) of {q} generators of {d}x{d}",
                         hint="pass fewer generators, or smaller matrices")
            s = torch.linalg.svdvals(B.reshape(q, -1))
            if s[0] == 0 or s[-1] <= independence_rtol * s[0]:
                raise ValueError(f"basis: the {q} generators are linearly dependent (smallest/largest singular "
                                 f"value {float(s[-1] / s[0]) if s[0] > 0 else 0.0:.3e} <= independence_rtol="
                                 f"{independence_rtol:g}); pass an independent set or use span(...)")
        self._basis = B.contiguous()
        self.name = name or f"LieAlgebra(dim={q}, d={B.shape[1]}{', affine' if affine else ''})"
        self.affine = bool(affine)
        if check_closure:
            err = self.closure_error()
            if err > closure_tol:
                raise NotClosedError(f"basis: the generators do not close under the bracket (relative residual "
                                     f"{err:.3e} > closure_tol={closure_tol:g}); add the missing brackets or "
                                     f"pass check_closure=False")

    # ------------------------------------------------------------------ basic properties
    @property
    def basis(self) -> torch.Tensor:
        """(q, d, d) float64 generator matrices (a read-only view; copy before modifying)."""
        return self._basis

    @property
    def dim(self) -> int:
        """q, the dimension of the algebra."""
        return self._basis.shape[0]

    def __len__(self) -> int:
        return self.dim

    @property
    def matrix_size(self) -> int:
        """d, the size of the generator matrices (n + 1 for affine algebras)."""
        return self._basis.shape[1]

    @property
    def n(self) -> int:
        """Dimension of the space the algebra acts on (d, or d - 1 for affine algebras)."""
        return self.matrix_size - 1 if self.affine else self.matrix_size

    def __repr__(self) -> str:
        return f"{self.name} [dim={self.dim}, acts on R^{self.n}{', affine' if self.affine else ''}]"

    def __eq__(self, other) -> bool:
        if not isinstance(other, LieAlgebra):
            return NotImplemented
        return (self.affine == other.affine and self._basis.shape == other._basis.shape
                and bool(torch.equal(self._basis, other._basis)))

    def __hash__(self) -> int:
        return hash((self.affine, tuple(self._basis.shape)))

    # ------------------------------------------------------------------ linear structure
    def element(self, coeffs) -> torch.Tensor:
        """Matrices sum_k c_k xi_k for coefficients of shape (..., q); returns (..., d, d)."""
        c = as_tensor(coeffs, "coeffs", dtype=self._basis.dtype)
        if c.shape[-1:] != (self.dim,):
            raise ValueError(f"coeffs: expected last dimension {self.dim} (the algebra dimension), "
                             f"got shape {tuple(c.shape)}")
        return torch.einsum("...k,kij->...ij", c, self._basis)

    @cached_property
    def _pinv(self) -> torch.Tensor:
        q, d = self.dim, self.matrix_size
        check_memory(8 * (4 * q * d * d + 3 * min(q, d * d) ** 2), f"{self.name}: the pseudo-inverse of the "
                     f"{q} x {d * d} basis (coordinates)", hint="use a smaller algebra")
        return torch.linalg.pinv(self._basis.reshape(self.dim, self.matrix_size ** 2))  # (d*d, q)

    def coordinates(self, X, *, return_residual: bool = False):
        """Least-squares coordinates (..., q) of matrices X (..., d, d) in this basis.

        With ``return_residual`` also returns the Frobenius norm of the part of X outside the span.
        """
        X = as_tensor(X, "X", dtype=self._basis.dtype)
        d = self.matrix_size
        if X.shape[-2:] != (d, d):
            raise ValueError(f"X: expected matrices of shape (..., {d}, {d}), got {tuple(X.shape)}")
        flat = X.reshape(*X.shape[:-2], d * d)
        c = flat @ self._pinv
        if not return_residual:
            return c
        res = flat - c @ self._basis.reshape(self.dim, d * d)
        return c, torch.linalg.vector_norm(res, dim=-1)

    def contains(self, X, tol: float = 1e-10) -> torch.Tensor:
        """True where the matrices X (..., d, d) lie in the algebra: |X - proj(X)|_F <= tol |X|_F (relative)."""
        X = as_tensor(X, "X", dtype=self._basis.dtype)
        _, res = self.coordinates(X, return_residual=True)
        return res <= tol * _frob(X)

    # ------------------------------------------------------------------ bracket structure
    @staticmethod
    def bracket(a, b) -> torch.Tensor:
        """The commutator [a, b] = a b - b a, broadcast over leading dimensions."""
        a = as_tensor(a, "a")
        b = as_tensor(b, "b")
        if a.shape[-2:] != b.shape[-2:] or a.shape[-1] != a.shape[-2]:
            raise ValueError(f"a, b: expected square matrices of equal size, got {tuple(a.shape)} and {tuple(b.shape)}")
        return a @ b - b @ a

    @cached_property
    def _brackets(self) -> torch.Tensor:
        B = self._basis
        q, d = self.dim, self.matrix_size
        # two products and their difference (q, q, d, d), then the coordinates (q^2, q) and the residual
        check_memory(8 * (4 * q * q * d * d + q ** 3), f"{self.name}: the {q}x{q} brackets of {d}x{d} generators",
                     hint="closure checks and structure constants need all q^2 brackets; use a smaller algebra, or "
                          "pass check_closure=False")
        return B[:, None] @ B[None, :] - B[None, :] @ B[:, None]  # (q, q, d, d)

    def structure_constants(self) -> torch.Tensor:
        """C of shape (q, q, q) with [xi_i, xi_j] = sum_k C[i, j, k] xi_k (least squares for non-closed sets)."""
        return self.coordinates(self._brackets)

    def closure_residuals(self) -> torch.Tensor:
        """(q, q) Frobenius norms of the parts of [xi_i, xi_j] outside the span, divided by |xi_i| |xi_j|."""
        if self.dim == 0:
            return torch.zeros(0, 0, dtype=self._basis.dtype)
        _, res = self.coordinates(self._brackets, return_residual=True)
        norms = _frob(self._basis)
        return res / (norms[:, None] * norms[None, :])

    def closure_error(self) -> float:
        """Largest relative closure residual (0 for a Lie algebra, up to round-off)."""
        r = self.closure_residuals()
        return float(r.max()) if r.numel() else 0.0

    def is_closed(self, tol: float = 1e-10) -> bool:
        """Whether every bracket of basis elements lies in the span, up to ``tol`` (relative)."""
        return self.closure_error() <= tol

    def jacobi_error(self) -> float:
        """Largest |[x,[y,z]] + [y,[z,x]] + [z,[x,y]]| over basis triples, from the structure constants."""
        q = self.dim
        check_memory(8 * (4 * q ** 4 + 4 * q * q * self.matrix_size ** 2), f"jacobi_error: {q}^4 triple brackets of "
                     f"{self.name}", hint="the Jacobi identity holds for every matrix algebra; check closure_error() "
                     "instead, or use a smaller algebra")
        C = self.structure_constants()
        # [e_i, [e_j, e_k]] = C_jkl [e_i, e_l] = C_jkl C_ilm e_m
        t1 = torch.einsum("jkl,ilm->ijkm", C, C)
        J = t1 + t1.permute(1, 2, 0, 3) + t1.permute(2, 0, 1, 3)
        return float(J.abs().max()) if J.numel() else 0.0

    def adjoint(self) -> torch.Tensor:
        """(q, q, q) matrices ad(xi_i) in the basis coordinates: ad_i[k, j] = C[i, j, k]."""
        return self.structure_constants().transpose(1, 2)

    def killing_form(self, closure_tol: float = 1e-8) -> torch.Tensor:
        """(q, q) Killing form K_ij = tr(ad_i ad_j); refuses non-closed generator sets."""
        err = self.closure_error()
        if err > closure_tol:
            raise NotClosedError(f"killing_form: the generators do not close (relative residual {err:.3e} > "
                                 f"closure_tol={closure_tol:g}); the Killing form is undefined")
        ad = self.adjoint()
        return torch.einsum("iab,jba->ij", ad, ad)

    def killing_signature(self, rtol: float = 1e-9) -> tuple[int, int, int]:
        """(n_positive, n_negative, n_zero) eigenvalues of the Killing form.

        Zero means |lambda| <= rtol * max(max |lambda|, max |C|^2), C the structure constants: a Killing form
        that vanishes up to rounding (nilpotent algebras, in any basis) has only zero eigenvalues.
        """
        K = self.killing_form()
        if K.numel() == 0:
            return (0, 0, 0)
        ev = torch.linalg.eigvalsh(0.5 * (K + K.T))
        C = self.structure_constants()
        scale = max(float(ev.abs().max()), float(C.abs().max()) ** 2)
        tol = rtol * scale
        return (int((ev > tol).sum()), int((ev < -tol).sum()), int((ev.abs() <= tol).sum()))

    # ------------------------------------------------------------------ constructions
    def orthonormalize(self) -> "LieAlgebra":
        """The same span with a Frobenius-orthonormal basis (Gram-Schmidt, so the flag of spans is kept)."""
        if self.dim == 0:
            return self
        Q, R = torch.linalg.qr(self._basis.reshape(self.dim, -1).T)
        sign = torch.sign(torch.diagonal(R))
        sign[sign == 0] = 1
        Q = Q * sign
        return LieAlgebra(Q.T.reshape(self._basis.shape), name=self.name, affine=self.affine)

    def is_orthonormal(self, tol: float = 1e-12) -> bool:
        F = self._basis.reshape(self.dim, self.matrix_size ** 2)
        return bool((F @ F.T - torch.eye(self.dim, dtype=F.dtype)).abs().max() <= tol) if self.dim else True

    def subalgebra(self, coeffs, *, name: str | None = None, check_closure: bool = True,
                   closure_tol: float = 1e-8) -> "LieAlgebra":
        """The span of the elements coeffs @ basis, for coeffs of shape (k, q).

        Closure is checked by default (a sub-algebra must close); ``closure_tol`` is relative.
        """
        c = as_tensor(coeffs, "coeffs", dtype=self._basis.dtype)
        if c.ndim == 1:
            c = c.unsqueeze(0)
        if c.ndim != 2 or c.shape[1] != self.dim:
            raise ValueError(f"coeffs: expected shape (k, {self.dim}), got {tuple(c.shape)}")
        return LieAlgebra(self.element(c), name=name or f"sub({self.name})", affine=self.affine,
                          check_closure=check_closure, closure_tol=closure_tol, size=self.matrix_size)

    def to_affine(self) -> "LieAlgebra":
        """Embed a linear algebra on R^n in homogeneous form ((n+1) x (n+1), zero translation)."""
        if self.affine:
            return self
        d = self.matrix_size
        check_algebra_size(f"{self.name}.to_affine()", self.dim, d + 1)
        H = self._basis.new_zeros(self.dim, d + 1, d + 1)
        H[:, :d, :d] = self._basis
        return LieAlgebra(H, name=self.name, affine=True, size=d + 1)

    def linear_part(self, X: torch.Tensor | None = None) -> torch.Tensor:
        """The n x n linear part A of elements X (default: the basis)."""
        X = self._basis if X is None else X
        return X[..., : self.n, : self.n]

    def translation_part(self, X: torch.Tensor | None = None) -> torch.Tensor:
        """The translation vector b of affine elements X (default: the basis); zeros for linear algebras."""
        X = self._basis if X is None else X
        if not self.affine:
            return X.new_zeros(*X.shape[:-2], self.n)
        return X[..., : self.n, self.n]

    def copies(self, k: int, *, translate: Sequence[bool] | None = None, name: str | None = None) -> "LieAlgebra":
        """The diagonal action of the same algebra on k copies of R^n (block-diagonal generators).

        The dimension stays q. For affine algebras ``translate`` (length k) says which copies are translated
        (positions) and which are not (e.g. velocities or momenta, which see only the linear part).
        """
        check_int(k, "k", 1)
        n = self.n
        check_algebra_size(f"{self.name}.copies({k})", self.dim, k * n + 1, hint="use fewer copies, or act on the "
                           "copies one at a time")
        A = self.linear_part()
        blocks = torch.zeros(self.dim, k * n, k * n, dtype=self._basis.dtype)
        for i in range(k):
            blocks[:, i * n:(i + 1) * n, i * n:(i + 1) * n] = A
        nm = name or f"{self.name}^({k})"
        if not self.affine:
            if translate is not None:
                raise ValueError("translate: only meaningful for affine algebras")
            return LieAlgebra(blocks, name=nm, size=k * n)
        translate = [True] * k if translate is None else list(translate)
        if len(translate) != k:
            raise ValueError(f"translate: expected {k} booleans, got {len(translate)}")
        if not any(translate) and bool((A.reshape(self.dim, -1).abs().sum(1) == 0).any()):
            raise ValueError("translate: with no copy translated, the pure translations of "
                             f"{self.name} act as zero; use .linear_part() generators (a linear algebra) instead")
        H = torch.zeros(self.dim, k * n + 1, k * n + 1, dtype=self._basis.dtype)
        H[:, :k * n, :k * n] = blocks
        b = self.translation_part()
        for i, tr in enumerate(translate):
            if tr:
                H[:, i * n:(i + 1) * n, -1] = b
        return LieAlgebra(H, name=nm, affine=True, size=k * n + 1)

    def __add__(self, other: "LieAlgebra") -> "LieAlgebra":
        """Sum of sub-spaces of the same ambient algebra (e.g. ``so(3) + t(3)`` = se(3)); see :func:`span`."""
        if not isinstance(other, LieAlgebra):
            return NotImplemented
        return span(self, other)

    # ------------------------------------------------------------------ group-level maps and actions
    def exp(self, X) -> torch.Tensor:
        """Matrix exponential of elements X (..., d, d)."""
        X = as_tensor(X, "X", dtype=self._basis.dtype)
        d = self.matrix_size
        if X.shape[-2:] != (d, d):
            raise ValueError(f"X: expected matrices of shape (..., {d}, {d}), got {tuple(X.shape)}")
        check_memory(8 * 6 * X.numel(), f"exp: {X.numel() // (d * d)} matrix exponentials of {d}x{d}",
                     hint="exponentiate fewer elements at a time")
        return torch.linalg.matrix_exp(X)

    def random_element(self, num: int | None = None, *, scale: float = 1.0,
                       generator: int | torch.Generator | None = None) -> torch.Tensor:
        """Random elements sum_k c_k xi_k with c ~ N(0, scale^2): shape (num, d, d), or (d, d) if num is None."""
        gen = make_generator(generator)
        if num is not None:
            check_int(num, "num", 1)
            check_memory(8 * num * (self.dim + 2 * self.matrix_size ** 2), f"random_element: {num} elements of "
                         f"{self.matrix_size}x{self.matrix_size}", hint="draw fewer elements at a time")
        shape = (1 if num is None else num, self.dim)
        c = torch.randn(*shape, generator=gen, dtype=self._basis.dtype) * scale
        X = self.element(c)
        return X[0] if num is None else X

    def vector_field(self, x, X=None) -> torch.Tensor:
        """v_X(x) = A x (+ b): the infinitesimal action of elements X on points x (N, n).

        X defaults to the basis. Returns (q, N, n) for a stack X of shape (q, d, d), (N, n) for one (d, d).
        """
        x = as_tensor(x, "x", ndim=2, finite=False)
        if x.shape[1] != self.n:
            raise ValueError(f"x: expected points of dimension {self.n}, got shape {tuple(x.shape)}")
        X = self._basis if X is None else as_tensor(X, "X")
        X = X.to(x.dtype)
        nb = X[..., 0, 0].numel()
        check_memory(x.element_size() * 2 * nb * x.shape[0] * self.n, f"vector_field: {nb} field(s) at "
                     f"{x.shape[0]} points of R^{self.n}", hint="evaluate fewer points or generators at a time")
        v = torch.einsum("...ij,nj->...ni", self.linear_part(X), x)
        if self.affine:
            v = v + self.translation_part(X).unsqueeze(-2)
        return v

    def act(self, g, x) -> torch.Tensor:
        """The group action of matrices g (d, d) (or (k, d, d)) on points x (N, n): g x, or A x + b if affine."""
        x = as_tensor(x, "x", ndim=2, finite=False)
        g = as_tensor(g, "g").to(x.dtype)
        y = torch.einsum("...ij,nj->...ni", self.linear_part(g), x)
        if self.affine:
            y = y + self.translation_part(g).unsqueeze(-2)
        return y


# ---------------------------------------------------------------------- combinations
def _decompose(alg: LieAlgebra) -> tuple[torch.Tensor, torch.Tensor]:
    return alg.linear_part(), alg.translation_part()


def _assemble(A: torch.Tensor, b: torch.Tensor, affine: bool) -> torch.Tensor:
    q, n, _ = A.shape
    if not affine:
        return A
    H = A.new_zeros(q, n + 1, n + 1)
    H[:, :n, :n] = A
    H[:, :n, n] = b
    return H


def direct_sum(*algebras: LieAlgebra, name: str | None = None) -> LieAlgebra:
    """g_1 + ... + g_k acting block-diagonally on R^{n_1} x ... x R^{n_k}; dimension sum of the q_i.

    Affine summands keep their translations on their own block; the result is affine if any summand is.
    """
    if not algebras:
        raise ValueError("direct_sum: expected at least one LieAlgebra")
    for i, a in enumerate(algebras):
        if not isinstance(a, LieAlgebra):
            raise TypeError(f"direct_sum: argument {i} is {type(a).__name__}, expected LieAlgebra")
    ns = [a.n for a in algebras]
    N, Q = sum(ns), sum(a.dim for a in algebras)
    affine = any(a.affine for a in algebras)
    check_algebra_size(f"direct_sum of {len(algebras)} algebras", Q, N + 1 if affine else N,
                       hint="use fewer or smaller summands")
    A = torch.zeros(Q, N, N, dtype=DEFAULT_DTYPE)
    b = torch.zeros(Q, N, dtype=DEFAULT_DTYPE)
    qo = no = 0
    for a in algebras:
        Ai, bi = _decompose(a)
        A[qo:qo + a.dim, no:no + a.n, no:no + a.n] = Ai
        b[qo:qo + a.dim, no:no + a.n] = bi
        qo += a.dim
        no += a.n
    nm = name or " (+) ".join(a.name for a in algebras)
    return LieAlgebra(_assemble(A, b, affine), name=nm, affine=affine, size=N + 1 if affine else N)


def span(*algebras: LieAlgebra, name: str | None = None, rtol: float = 1e-10) -> LieAlgebra:
    """The linear span of algebras acting on the same R^n (linear ones are embedded in affine form if needed).

    Overlapping inputs are allowed: the result has an orthonormal basis of the span, whose dimension is the
    numerical rank (singular values above ``rtol * sigma_max``). Closure is not imposed (a sum of
    sub-algebras need not close); check it with :meth:`LieAlgebra.is_closed`.
    """
    if not algebras:
        raise ValueError("span: expected at least one LieAlgebra")
    ns = {a.n for a in algebras}
    if len(ns) != 1:
        raise ValueError(f"span: the algebras act on spaces of different dimensions {sorted(ns)}")
    affine = any(a.affine for a in algebras)
    check_algebra_size(f"span of {len(algebras)} algebras", sum(a.dim for a in algebras),
                       ns.pop() + (1 if affine else 0), hint="use fewer or smaller algebras")
    mats = [(a.to_affine() if affine else a).basis for a in algebras]
    B = torch.cat(mats, 0)
    d = B.shape[1]
    nm = name or " + ".join(a.name for a in algebras)
    if B.shape[0] == 0:
        return LieAlgebra(B, name=nm, affine=affine, size=d)
    U, S, Vh = torch.linalg.svd(B.reshape(B.shape[0], -1), full_matrices=False)
    r = RankRule("rtol", rtol=rtol).cut(S)[0] if S[0] > 0 else 0
    if r == B.shape[0]:  # independent: keep the given generators, orthonormalised in order
        return LieAlgebra(B, name=nm, affine=affine, size=d).orthonormalize()
    return LieAlgebra(Vh[:r].reshape(r, d, d), name=nm, affine=affine, size=d)


# ---------------------------------------------------------------------- named constructors
def _E(n: int, i: int, j: int) -> torch.Tensor:
    M = torch.zeros(n, n, dtype=DEFAULT_DTYPE)
    M[i, j] = 1.0
    return M


def _finish(mats: Iterable[torch.Tensor], name: str, normalize: bool, n: int, affine: bool = False) -> LieAlgebra:
    mats = list(mats)
    d = n + 1 if affine else n
    B = torch.stack(mats) if mats else torch.zeros(0, d, d, dtype=DEFAULT_DTYPE)
    alg = LieAlgebra(B, name=name, affine=affine, size=d)
    return alg.orthonormalize() if normalize else alg


def gl(n: int, *, normalize: bool = True) -> LieAlgebra:
    """gl(n): all n x n matrices, basis E_ij; dim n^2."""
    check_int(n, "n", 1)
    check_algebra_size(f"gl({n})", n * n, n)
    return _finish((_E(n, i, j) for i in range(n) for j in range(n)), f"gl({n})", normalize, n)


def sl(n: int, *, normalize: bool = True) -> LieAlgebra:
    """sl(n): traceless n x n matrices; dim n^2 - 1. Basis: E_ij (i != j), then E_ii - E_{i+1,i+1}."""
    check_int(n, "n", 2)
    check_algebra_size(f"sl({n})", n * n - 1, n)
    off = [_E(n, i, j) for i in range(n) for j in range(n) if i != j]
    diag = [_E(n, i, i) - _E(n, i + 1, i + 1) for i in range(n - 1)]
    return _finish(off + diag, f"sl({n})", normalize, n)


def _so_metric(n: int, eta: torch.Tensor) -> list[torch.Tensor]:
    # xi = eta (E_ij - E_ji): eta xi is antisymmetric, so xi^T eta + eta xi = 0.
    return [eta @ (_E(n, i, j) - _E(n, j, i)) for i in range(n) for j in range(i + 1, n)]


def so(p: int, q: int | None = None, *, normalize: bool = True) -> LieAlgebra:
    """so(n) (one argument) or so(p, q) (two arguments).

    so(n): antisymmetric matrices E_ij - E_ji (i < j, upper-triangle order); dim n(n-1)/2.
    so(p, q): matrices with xi^T eta + eta xi = 0 for eta = diag(+1 x p, -1 x q), so so(1, 3) is the
    Lorentz algebra with time first and signature (+, -, -, -); dim n(n-1)/2 with n = p + q.
    """
    if q is None:
        n = check_int(p, "n", 2)
        check_algebra_size(f"so({n})", n * (n - 1) // 2, n)
        return _finish(_so_metric(n, torch.eye(n, dtype=DEFAULT_DTYPE)), f"so({n})", normalize, n)
    return so_pq(p, q, normalize=normalize)


def so_pq(p: int, q: int, *, normalize: bool = True) -> LieAlgebra:
    """so(p, q), the algebra preserving eta = diag(+1 x p, -1 x q). See :func:`so`."""
    check_int(p, "p", 0)
    check_int(q, "q", 0)
    n = p + q
    if n < 2:
        raise ValueError(f"so(p, q): expected p + q >= 2, got p={p}, q={q}")
    check_algebra_size(f"so({p},{q})", n * (n - 1) // 2, n)
    eta = torch.diag(torch.tensor([1.0] * p + [-1.0] * q, dtype=DEFAULT_DTYPE))
    return _finish(_so_metric(n, eta), f"so({p},{q})", normalize, n)


def lorentz(*, normalize: bool = True) -> LieAlgebra:
    """The Lorentz algebra so(1, 3) (signature +, -, -, -; 3 rotations and 3 boosts)."""
    return so_pq(1, 3, normalize=normalize)


def symplectic_form(n2: int) -> torch.Tensor:
    """J = [[0, I], [-I, 0]] of size n2 = 2n (float64)."""
    check_int(n2, "n2", 2)
    if n2 % 2:
        raise ValueError(f"n2: the symplectic form needs an even size, got {n2}")
    check_memory(8 * 3 * n2 * n2, f"symplectic_form({n2}): a {n2}x{n2} matrix", hint="use a smaller size")
    n = n2 // 2
    J = torch.zeros(n2, n2, dtype=DEFAULT_DTYPE)
    J[:n, n:] = torch.eye(n, dtype=DEFAULT_DTYPE)
    J[n:, :n] = -torch.eye(n, dtype=DEFAULT_DTYPE)
    return J


def sp(n2: int, *, normalize: bool = True) -> LieAlgebra:
    """sp(2n) acting on R^{2n} (argument: the matrix size 2n): xi^T J + J xi = 0; dim n(2n+1)."""
    check_int(n2, "n2", 2)
    check_algebra_size(f"sp({n2})", (n2 // 2) * (n2 + 1), n2)
    J = symplectic_form(n2)
    # xi = -J S with S symmetric: J xi = S is symmetric.
    mats = [-J @ (_E(n2, i, j) + _E(n2, j, i)) if i != j else -J @ _E(n2, i, i)
            for i in range(n2) for j in range(i, n2)]
    return _finish(mats, f"sp({n2})", normalize, n2)


def _affine(A_list, b_list, n: int) -> list[torch.Tensor]:
    out = []
    for A, b in zip(A_list, b_list):
        H = torch.zeros(n + 1, n + 1, dtype=DEFAULT_DTYPE)
        H[:n, :n] = A
        H[:n, n] = b
        out.append(H)
    return out


def t(n: int, *, normalize: bool = True) -> LieAlgebra:
    """t(n): translations of R^n, affine (homogeneous (n+1) x (n+1)); dim n."""
    check_int(n, "n", 1)
    check_algebra_size(f"t({n})", n, n + 1)
    Z = torch.zeros(n, n, dtype=DEFAULT_DTYPE)
    return _finish(_affine([Z] * n, list(torch.eye(n, dtype=DEFAULT_DTYPE)), n), f"t({n})", normalize, n, True)


def se(n: int, *, normalize: bool = True) -> LieAlgebra:
    """se(n) = so(n) (+) t(n): rotations (first n(n-1)/2) then translations (last n); affine; dim n(n+1)/2."""
    check_int(n, "n", 2)
    check_algebra_size(f"se({n})", n * (n + 1) // 2, n + 1)
    rot = _so_metric(n, torch.eye(n, dtype=DEFAULT_DTYPE))
    Z = torch.zeros(n, n, dtype=DEFAULT_DTYPE)
    zb = torch.zeros(n, dtype=DEFAULT_DTYPE)
    mats = _affine(rot, [zb] * len(rot), n) + _affine([Z] * n, list(torch.eye(n, dtype=DEFAULT_DTYPE)), n)
    return _finish(mats, f"se({n})", normalize, n, True)


def sim(n: int, *, normalize: bool = True) -> LieAlgebra:
    """sim(n): similitudes = rotations, translations and the dilation x -> x (last); affine; dim n(n+1)/2 + 1."""
    check_int(n, "n", 2)
    check_algebra_size(f"sim({n})", n * (n + 1) // 2 + 1, n + 1)
    base = se(n, normalize=False).basis
    D = torch.zeros(1, n + 1, n + 1, dtype=DEFAULT_DTYPE)
    D[0, :n, :n] = torch.eye(n, dtype=DEFAULT_DTYPE)
    return _finish(torch.cat([base, D]), f"sim({n})", normalize, n, True)


def aff(n: int, *, normalize: bool = True) -> LieAlgebra:
    """aff(n) = gl(n) (+) t(n): the full affine algebra of R^n; affine; dim n^2 + n."""
    check_int(n, "n", 1)
    check_algebra_size(f"aff({n})", n * n + n, n + 1)
    Z = torch.zeros(n, dtype=DEFAULT_DTYPE)
    lin = _affine([_E(n, i, j) for i in range(n) for j in range(n)], [Z] * (n * n), n)
    tr = _affine([torch.zeros(n, n, dtype=DEFAULT_DTYPE)] * n, list(torch.eye(n, dtype=DEFAULT_DTYPE)), n)
    return _finish(lin + tr, f"aff({n})", normalize, n, True)


def scaling(n: int, *, normalize: bool = True) -> LieAlgebra:
    """The dilation algebra of R^n: the single generator I (I / sqrt(n) when normalized); dim 1."""
    check_int(n, "n", 1)
    check_algebra_size(f"scaling({n})", 1, n)
    return _finish([torch.eye(n, dtype=DEFAULT_DTYPE)], f"scaling({n})", normalize, n)


# ---------------------------------------------------------------------- names on the command line
_NAMED = {"gl": "gl(n)", "sl": "sl(n)", "so": "so(n) or so(p,q)", "sp": "sp(2n)", "t": "t(n)", "se": "se(n)",
          "sim": "sim(n)", "aff": "aff(n)", "scaling": "scaling(n)", "lorentz": "lorentz"}


def parse_algebra(spec: str) -> LieAlgebra:
    """A candidate algebra from its name: ``"so(3)"``, ``"gl(4)"``, ``"se(2)"``, ``"so(1,3)"``, ``"sl(2)"``,
    ``"t(3)"``, ``"sp(4)"``, ``"sim(2)"``, ``"aff(2)"``, ``"scaling(3)"``, ``"lorentz"``, and sums such as
    ``"so(3)+t(3)"``, which mean the :func:`span` on the same space (here se(3)); the span is checked to close.

    Raises ``ValueError`` listing the valid names for anything else.
    """
    import re
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"candidates: expected an algebra name such as 'so(3)', got {spec!r}")
    valid = ", ".join(_NAMED.values())
    parts = [p.strip() for p in spec.replace(" ", "").split("+")]
    algs = []
    for part in parts:
        if part == "lorentz":
            algs.append(lorentz())
            continue
        m = re.fullmatch(r"([a-z]+)\((\d+)(?:,(\d+))?\)", part)
        if not m or m.group(1) not in _NAMED or m.group(1) == "lorentz":
            raise ValueError(f"candidates: cannot read {part!r} in {spec!r}; valid names: {valid}, and sums such "
                             f"as 'so(3)+t(3)'")
        kind, a, b = m.group(1), int(m.group(2)), m.group(3)
        if b is not None and kind != "so":
            raise ValueError(f"candidates: {part!r}: only so(p,q) takes two numbers; valid names: {valid}")
        fn = {"gl": gl, "sl": sl, "sp": sp, "t": t, "se": se, "sim": sim, "aff": aff, "scaling": scaling}.get(kind)
        try:
            algs.append(so(a, int(b)) if kind == "so" and b is not None else (so(a) if kind == "so" else fn(a)))  # type: ignore[misc]
        except ResourceError as exc:
            raise ResourceError(f"candidates: {part!r}: {exc}", nbytes=exc.nbytes, limit=exc.limit,
                                what=exc.what) from None
        except (ValueError, TypeError) as exc:
            raise ValueError(f"candidates: {part!r}: {exc}") from None
    if len(algs) == 1:
        return algs[0]
    try:
        out = span(*algs, name=spec.replace(" ", ""))
    except ResourceError as exc:
        raise ResourceError(f"candidates: {spec!r}: {exc}", nbytes=exc.nbytes, limit=exc.limit,
                            what=exc.what) from None
    except ValueError as exc:
        raise ValueError(f"candidates: {spec!r}: {exc}") from None
    if not out.is_closed(1e-10):
        raise NotClosedError(f"candidates: {spec!r} does not close under the bracket (relative residual "
                             f"{out.closure_error():.2e}); add the missing generators")
    return out
