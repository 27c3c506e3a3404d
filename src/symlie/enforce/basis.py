"""Enforce: equivariant linear maps as the nullspace of the stacked symmetry constraints.

A linear map W: rep_in -> rep_out is G-equivariant iff, for every algebra basis element xi_k and every
discrete generator h_j,

    W drho_in(xi_k) - drho_out(xi_k) W = 0,        rho_out(h_j)^{-1} W rho_in(h_j) - W = 0,

i.e. vec(W) (row-major, W[a, b] at index a * s_in + b) is an invariant vector of R = rep_out (x) rep_in*:
-drho_R(xi_k) w = 0 and (rho_R(h_j)^{-1} - I) w = 0. This is the Lie derivative of the linear model x -> W x
set to zero (the enforce half of the one operator), assembled in :mod:`symlie.derivative.constraints` with
the convention's sign. The structured solvers below use the Gram form C^T C and eigenvalue sums, in which
the overall sign of each generator's block does not appear.

Direct sums are solved block by block: Hom(sum_i A_i, sum_j B_j) = sum_{ij} Hom(A_i, B_j), and each distinct
block type is solved once and cached, so a layer between representations with hundreds of copies of a few
types costs a few small solves. Each block is solved by

  * ``"dense"``: SVD of the stacked constraint matrix (exact spectrum; small blocks);
  * ``"gram"``:  eigendecomposition of the Gram matrix C^T C = sum_k drho_k^T drho_k + sum_j (rho_j - I)^T
    (rho_j - I) (cheaper, singular values accurate to ~sqrt(eps) * sigma_max);
  * ``"sparse"``: the same Gram matrix assembled sparsely from the Kronecker structure, with its nullspace
    found by shift-invert Lanczos (scipy ``eigsh``) and the number of eigenpairs doubled until a non-null one
    appears (large tensor representations, thousands of unknowns);
  * ``"kron"``: structured for tensor products: in the eigenbasis of one random algebra element the
    Kronecker-sum constraint is diagonal, so its kernel is read off from eigenvalue sums; the remaining
    generators are solved on that (much smaller) subspace, discrete generators last; verified, else refused;
  * ``"cg"``: constructive, for tensor products of V and V* of SO(3) / O(3) (any basis of so(3), orthogonal
    discrete generators): the invariants of V^(x)n are built by Clebsch-Gordan coupling, factor by factor, in
    float64 (:mod:`symlie.enforce.coupling`), their number checked against the Riordan number r(n) of the SO(3)
    decomposition; -I in O(3) acts by (-1)^n, so O(3) has none for odd n. No spectrum is cut: the recorded
    spectrum is [sigma_max, smallest non-zero sigma] of the constraint from the decomposition (exact for a
    Frobenius-orthonormal so(3) basis without discrete generators, bounds otherwise) followed by the verified
    residual ||C Q||_F; every generator (and discrete generator) is applied to the basis through the rep's own
    factor matrices and a residual above ``residual_rtol`` sigma_max refuses the result;
  * ``"auto"``: dense up to ``dense_max`` unknowns; beyond, cg when it applies and the block has more than
    ``cg_min`` unknowns, then kron when it applies (both verified), otherwise gram up to ``gram_max`` and sparse
    beyond. (Up to ``cg_min`` unknowns kron is cheap and computes a restricted spectrum.)

Rank rule: a singular value sigma of a block's constraint counts as zero when sigma <= rtol * sigma_max
(``rtol`` is a parameter, recorded in the result with the spectrum and the gap).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..utils.errors import ResourceError
from ..utils.resources import call_limit, check_memory
from ..utils.validation import SymlieError
from ..derivative.constraints import invariance_constraints, invariance_constraints_bytes
from ..linalg import Nullspace, RankRule, gap_ratio, nullspace, nullspace_from_spectrum
from ..linalg.nullspace import spectrum_bytes
from ..lie.reps import ProductRep, Rep, SumRep, Trivial
from . import coupling

__all__ = ["EquivariantBasis", "BasisBlock", "equivariant_basis", "invariant_basis", "constraint_matrix",
           "clear_basis_cache"]

_CACHE: dict = {}


def clear_basis_cache() -> None:
    """Forget every cached block solution."""
    _CACHE.clear()


@dataclass
class BasisBlock:
    """One block of an equivariant basis: maps from the ``in_slice`` coordinates to the ``out_slice`` ones.

    ``Q`` (s_out_block * s_in_block, k) has orthonormal columns (row-major vec of the block matrix);
    ``spectrum`` is the :class:`Nullspace` of that block type's constraint (shared by equal block types).
    """

    out_slice: slice
    in_slice: slice
    Q: torch.Tensor
    spectrum: Nullspace
    key: str

    @property
    def dim(self) -> int:
        return self.Q.shape[1]


@dataclass
class EquivariantBasis:
    """The space of equivariant linear maps rep_in -> rep_out (or invariant vectors of one rep).

    Attributes:
        rep_in, rep_out: the representations (``rep_in`` is a trivial 1-dim rep for invariant vectors).
        blocks: the non-empty :class:`BasisBlock` s; the basis is their direct sum.
        method: the solver used per block type ({block key: method}).
        rtol: the rank rule's relative tolerance.
        seconds: wall time of the solve (cache hits are fast).
    """

    rep_in: Rep
    rep_out: Rep
    blocks: list
    spectra: dict
    method: dict
    rtol: float
    seconds: float = 0.0
    _dense: torch.Tensor | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        """Number of independent equivariant maps."""
        return sum(b.dim for b in self.blocks)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.rep_out.size, self.rep_in.size)

    @property
    def basis(self) -> torch.Tensor:
        """Dense orthonormal basis (s_out * s_in, dim), float64, row-major vec(W). Built on first use."""
        if self._dense is None:
            so, si = self.shape
            check_memory(8 * so * si * self.dim, f"EquivariantBasis.basis: a dense ({so * si}, {self.dim}) matrix",
                         hint="use .blocks (one small Q per block type and position) or .matrices(coeffs)")
            B = torch.zeros(so * si, self.dim, dtype=torch.float64)
            col = 0
            for b in self.blocks:
                rows = (torch.arange(b.out_slice.start, b.out_slice.stop)[:, None] * si
                        + torch.arange(b.in_slice.start, b.in_slice.stop)[None, :]).reshape(-1)
                B[rows, col:col + b.dim] = b.Q
                col += b.dim
            self._dense = B
        return self._dense

    def matrices(self, coeffs: torch.Tensor | None = None) -> torch.Tensor:
        """W = sum_k c_k Q_k as an (s_out, s_in) matrix for coefficients (dim,), or all basis maps
        (dim, s_out, s_in) when ``coeffs`` is None."""
        so, si = self.shape
        if coeffs is None:
            return self.basis.T.reshape(self.dim, so, si)
        c = torch.as_tensor(coeffs)
        if c.shape != (self.dim,):
            raise ValueError(f"coeffs: expected shape ({self.dim},), got {tuple(c.shape)}")
        W = torch.zeros(so, si, dtype=c.dtype)
        col = 0
        for b in self.blocks:
            blk = (b.Q.to(c.dtype) @ c[col:col + b.dim]).reshape(b.out_slice.stop - b.out_slice.start, -1)
            W[b.out_slice, b.in_slice] += blk
            col += b.dim
        return W

    @property
    def gap_ratio(self) -> float:
        """Smallest gap ratio (smallest kept / largest discarded singular value) over the block types."""
        gaps = [ns.gap_ratio for ns in self.spectra.values() if not np.isnan(ns.gap_ratio)]
        return min(gaps) if gaps else float("nan")

    def summary(self) -> str:
        lines = [f"equivariant maps {self.rep_in} -> {self.rep_out} of {self.rep_out.group.name}: "
                 f"dim {self.dim} (rank rule sigma <= {self.rtol:g} sigma_max; {len(self.spectra)} block type(s), "
                 f"{self.seconds:.3f} s)"]
        for key, ns in self.spectra.items():
            s = ns.normalized_spectrum
            small = ", ".join(f"{v:.1e}" for v in s[ns.rank:ns.rank + 3].tolist())
            kept = f"{float(s[ns.rank - 1]):.1e}" if ns.rank else "-"
            lines.append(f"  {key}: null dim {ns.dim}, smallest kept {kept}, null values [{small}], "
                         f"gap {ns.gap_ratio:.1e}, method {self.method[key]}")
        return "\n".join(lines)

    def save(self, path):
        """Write a versioned, self-describing ``.npz`` (``.npz`` appended if missing; written to a temporary file
        and renamed into place): ``format`` ("symlie.EquivariantBasis"), ``version``, the group (``group`` name,
        its algebra basis and discrete generators), ``rep_in`` / ``rep_out`` (expressions for
        :func:`symlie.lie.reps.parse_rep`), ``n_in``, ``n_out``, ``dim``, ``basis`` (n_out * n_in, dim), the
        singular ``spectrum`` of every block type (``spectrum_offsets``, ``block_types`` JSON: method, rank,
        threshold, gap, rule), the ``blocks`` layout and the ``rank_rule`` (JSON). Returns the path written."""
        return _save_basis(self, path)

    @classmethod
    def load(cls, path) -> "EquivariantBasis":
        """Read a file written by :meth:`save` (bitwise the same arrays); every key, shape and dtype is checked
        and problems raise :class:`symlie.DataError` naming the file."""
        return _load_basis(path)


def constraint_matrix(rep: Rep) -> torch.Tensor:
    """The stacked dense constraint [-drho(xi_1); ...; -drho(xi_q); rho(h_1)^{-1} - I; ...] ((q + h) s, s) on
    invariant vectors of ``rep``: the Lie derivative of the constant model in the convention of
    :mod:`symlie.derivative` (see :func:`symlie.derivative.constraints.invariance_constraints`)."""
    return invariance_constraints(rep)


def _gram_dense(rep: Rep) -> torch.Tensor:
    G = rep.group
    s = rep.size
    M = torch.zeros(s, s, dtype=torch.float64)
    for X in G.algebra.basis:
        D = rep.drho(X)
        M += D.T @ D
    I = torch.eye(s, dtype=torch.float64)
    for h in G.discrete:
        R = rep.rho(h) - I
        M += R.T @ R
    return M


_HINT_STRUCTURED = ("use method='kron' (structured: tensor products of a group with a continuous part) or "
                    "method='sparse' (sparse Gram matrix), which never form the dense constraint")


def _row_width(rep: Rep) -> int:
    """An upper bound on the nonzeros per row of drho(xi) (a Kronecker sum has at most sum_i s_i per row)."""
    if isinstance(rep, ProductRep):
        return sum(_row_width(r) for r in rep.reps)
    if isinstance(rep, SumRep):
        return max(_row_width(r) for r in rep.reps)
    return rep.size


def _lu_bytes(M) -> int:
    """Estimated bytes of the sparse LU of the s x s matrix M: 24 bytes per nonzero of twice the envelope of M in
    the reverse Cuthill-McKee order (the fill of a banded factorisation; SuperLU's own ordering does at least
    about as well on these Kronecker-structured matrices), plus the diagonal."""
    from scipy.sparse.csgraph import reverse_cuthill_mckee
    Mc = M.tocsr()
    s = Mc.shape[0]
    p = reverse_cuthill_mckee(Mc, symmetric_mode=True)
    Mp = Mc[p][:, p].tocsr()
    rows = np.arange(s)
    lengths = np.diff(Mp.indptr)
    first = rows.copy()
    nz = lengths > 0
    if nz.any():
        first[nz] = np.minimum.reduceat(Mp.indices, Mp.indptr[:-1][nz])
    env = int(np.clip(rows - first, 0, None).sum())
    return 24 * (2 * env + s)


def _gram_sparse(rep: Rep):
    import scipy.sparse as sp
    G = rep.group
    s = rep.size
    w = _row_width(rep)
    check_memory(3 * 16 * s * min(s, w * w), f"method='sparse': the sparse {s}x{s} Gram matrix of {rep}",
                 hint="use method='kron' (structured, for a group with a continuous part) or a smaller "
                      "representation")
    M = sp.csr_matrix((s, s))
    for X in G.algebra.basis:
        D = rep.drho_sparse(X)
        M = M + (D.T @ D)
    I = sp.identity(s, format="csr")
    for h in G.discrete:
        R = rep.rho_sparse(h) - I
        M = M + (R.T @ R)
    return M.tocsc()


def _solve_sparse(rep: Rep, rtol: float, k0: int = 32, iters: int = 4, shift_rtol: float = 1e-8,
                  seed: int = 0) -> Nullspace:
    """Nullspace of the sparse Gram matrix M by block shift-invert subspace iteration.

    M + delta I (delta = shift_rtol * lambda_max) is factorised once with a sparse LU; a block of k random
    vectors is pushed through the inverse ``iters`` times with Rayleigh-Ritz in between, and k is doubled until
    the block holds at least one non-null Ritz value (a block method is needed: single-vector Lanczos cannot
    resolve a highly degenerate null eigenvalue). Null directions converge by a factor
    delta / (lambda_1 + delta) per iteration, lambda_1 being the smallest non-zero eigenvalue.
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla
    M = _gram_sparse(rep)
    s = M.shape[0]
    lam_max = float(spla.eigsh(M, k=1, which="LA", return_eigenvectors=False, tol=1e-8)[0])
    if lam_max <= 0:
        return nullspace(torch.zeros(1, s, dtype=torch.float64), rule="rtol", rtol=rtol)
    smax = lam_max ** 0.5
    rule = RankRule("rtol", rtol=rtol)
    hint = ("use method='kron' (structured, for a group with a continuous part), or a smaller representation")
    lu_est = _lu_bytes(M)
    k = min(k0, s)
    check_memory(lu_est + 16 * M.nnz + 8 * 6 * s * k, f"method='sparse': the sparse LU of the {s}x{s} Gram matrix "
                 f"of {rep} ({M.nnz} nonzeros)", hint=hint)
    lu = spla.splu((M + shift_rtol * lam_max * sp.identity(s, format="csc")).tocsc())
    rng = np.random.default_rng(seed)
    while True:
        check_memory(lu_est + 16 * M.nnz + 8 * (6 * s * k + 3 * k * k), f"method='sparse': blocks of {k} vectors "
                     f"of length {s} (the null dimension of {rep} is at least {k // 2 if k > k0 else 0})", hint=hint)
        X = np.linalg.qr(rng.standard_normal((s, k)))[0]
        for _ in range(iters):
            X = np.linalg.qr(lu.solve(X))[0]
            lam, W = np.linalg.eigh(X.T @ (M @ X))
            X = X @ W
        sv_desc = torch.from_numpy(np.sqrt(np.clip(lam, 0, None))[::-1].copy())
        rank_k, thr, reason = rule.cut(sv_desc, reference=smax)     # the one rank rule, on the partial spectrum
        n_null = k - rank_k
        if n_null < k or k >= s:
            break
        k = min(2 * k, s)
    sv = np.sqrt(np.clip(lam, 0, None))
    spec = torch.tensor(np.concatenate([[smax], sv[::-1]]), dtype=torch.float64)
    gap = gap_ratio(sv[::-1], len(sv) - n_null)
    return Nullspace(basis=torch.tensor(X[:, :n_null], dtype=torch.float64), singular_values=spec,
                     rank=spec.numel() - n_null, threshold=float(thr),
                     rule=dict(rule.to_dict(), partial_spectrum=True, block=k, iters=iters), gap_ratio=gap,
                     complement=torch.tensor(X[:, n_null:], dtype=torch.float64), reason=reason, rank_rule=rule)


def _kron_sum_sparse(mats: list[np.ndarray]):
    """sum_i I (x) .. (x) M_i (x) .. (x) I as a sparse CSC matrix (complex allowed)."""
    import scipy.sparse as sp
    out = None
    for M in mats:
        Ms = sp.csr_matrix(M)
        if out is None:
            out = Ms
        else:
            out = sp.kron(out, sp.identity(Ms.shape[0]), format="csr") + sp.kron(sp.identity(out.shape[0]), Ms,
                                                                                 format="csr")
    assert out is not None
    return out.tocsc()


def kron_bytes(s: int, n_restricted: int, width: int, q: int) -> int:
    """Estimated peak bytes of the restricted problem of the ``"kron"`` solver for s unknowns: the complex
    Kronecker sums (24 B per nonzero, s * width of them, built one at a time), their ``n_restricted`` zero-weight
    columns for the q generators, then the dense n_restricted^2 Hermitian matrix (complex), its symmetrisation and
    the eigensolver (input copy, eigenvectors, workspace)."""
    return 24 * (3 * s * width + 2 * q * n_restricted * width) + 16 * 5 * n_restricted ** 2


def kron_basis_bytes(s: int, n_null: int, n_discrete: int) -> int:
    """Estimated peak bytes of the ``"kron"`` solver once the null dimension k is known: the complex (s, k) basis
    mapped back through the factors, its real and imaginary parts (s, 2k) and their SVD, the float64 basis and
    its residual check, and the discrete generators' (h s, k) constraint."""
    return 8 * s * n_null * (12 + 2 * n_discrete) + spectrum_bytes(s, 2 * n_null)


def _solve_kron(rep: Rep, rtol: float, seed: int = 0, cond_max: float = 1e8,
                zero_rtol: float = 1e-8, residual_rtol: float = 1e-9) -> Nullspace | None:
    """Structured nullspace for tensor-product representations (returns None when not applicable).

    1. Pick a random algebra element xi_0 (seeded). Its Kronecker-sum action is diagonal in the product of the
       factors' eigenbases, so ker drho(xi_0) is spanned by the index tuples whose eigenvalues sum to zero.
    2. Restrict every basis constraint (still a Kronecker sum in that basis, sparse) to those coordinates and
       take the nullspace of the small Hermitian Gram matrix.
    3. Map back through the factors' eigenvectors, take a real orthonormal basis of the (conjugation-closed)
       result, then impose the discrete generators on that small subspace.
    The result is verified against every constraint; any failure (defective or ill-conditioned eigenvectors,
    residual above ``residual_rtol``) returns None so the caller falls back to a general solver.
    """
    G = rep.group
    if G.dim == 0:
        return None
    factors = rep.reps if isinstance(rep, ProductRep) else [rep]
    sizes = [f.size for f in factors]
    s = rep.size
    gen = torch.Generator().manual_seed(seed)
    xi0 = G.algebra.element(torch.randn(G.dim, generator=gen, dtype=torch.float64))
    Ps, Pinvs, lams = [], [], []
    for f in factors:
        D = f.drho(xi0).numpy()
        lam, P = np.linalg.eig(D)
        if not np.all(np.isfinite(P)) or np.linalg.cond(P) > cond_max:
            return None
        Ps.append(P)
        Pinvs.append(np.linalg.inv(P))
        lams.append(lam)
    tot = np.zeros(1, dtype=complex)
    for lam in lams:
        tot = np.add.outer(tot, lam).reshape(-1)
    scale = sum(float(np.abs(lam).max()) for lam in lams) or 1.0
    J = np.nonzero(np.abs(tot) <= zero_rtol * scale)[0]
    if len(J) == 0:
        Q = np.zeros((s, 0))
        sv = np.array([1.0])
    else:
        nJ = len(J)
        check_memory(kron_bytes(s, nJ, sum(sizes), G.dim),
                     f"method='kron': the {nJ}x{nJ} Hermitian problem on the zero-weight coordinates of {rep} "
                     f"({s} unknowns)", hint="kron is already the structured solver; use a smaller representation "
                     "(fewer tensor factors), or method='sparse' when the null space is small")
        blocks = []
        for X in G.algebra.basis:
            mats = [Pi @ f.drho(X).numpy() @ P for f, P, Pi in zip(factors, Ps, Pinvs)]
            blocks.append(_kron_sum_sparse(mats)[:, J])
        import scipy.sparse as sp
        A = sp.vstack(blocks).tocsc()
        del blocks
        H = (A.conj().T @ A).toarray()
        del A
        H += H.conj().T                                       # 0.5 (H + H^H), in place (the same values)
        H *= 0.5
        lamH, Y = (t.numpy() for t in torch.linalg.eigh(torch.from_numpy(H)))
        del H
        sv = np.sqrt(np.clip(lamH, 0, None))[::-1]          # descending
        Y = Y[:, ::-1]
        smax = sv[0]
        n_null = len(sv) - RankRule("rtol", rtol=rtol).cut(torch.from_numpy(sv.copy()))[0] if smax > 0 else len(sv)
        Yn = Y[:, len(sv) - n_null:]
        check_memory(kron_basis_bytes(s, n_null, G.num_discrete),
                     f"method='kron': the {s}x{n_null} basis of {rep} (complex, then its real orthonormal span)",
                     hint="the answer itself is large: use a smaller representation (fewer tensor factors)")
        Z = np.zeros((s, n_null), dtype=complex)
        Z[J] = Yn
        Z = Z.reshape(*sizes, n_null)
        for ax, P in enumerate(Ps):
            Z = np.moveaxis(np.tensordot(P, Z, axes=([1], [ax])), 0, ax)
        Z = Z.reshape(s, n_null)
        R = np.concatenate([Z.real, Z.imag], 1)
        U, S, _ = np.linalg.svd(R, full_matrices=False)
        if n_null and (S[n_null - 1] <= 1e-6 * S[0] or (len(S) > n_null and S[n_null] > 1e-6 * S[0])):
            return None  # the real span does not have the expected dimension: numerically unreliable
        Q = U[:, :n_null]
    Qt = torch.tensor(Q, dtype=torch.float64)
    ref = float(sv[0]) if len(sv) else 1.0
    if Qt.shape[1]:
        res = max(float(rep.apply_drho(X, Qt.T).abs().max()) for X in G.algebra.basis)
        if res > residual_rtol * max(ref, 1.0):
            return None
    info = {"rule": "rtol", "rtol": rtol, "atol": 0.0, "via": "kron", "restricted_unknowns": int(len(J)),
            "partial_spectrum": True}
    if G.num_discrete and Qt.shape[1]:
        C = torch.cat([(rep.apply_rho(h, Qt.T) - Qt.T).T for h in G.discrete])
        nd = nullspace(C, rule="rtol", rtol=rtol, atol=rtol * ref) if C.abs().max() > 0 else None
        if nd is not None:
            Qt = Qt @ nd.basis
            info["discrete_singular_values"] = [float(v) for v in nd.singular_values]
    spec = torch.tensor(sv.copy(), dtype=torch.float64)
    # rank and gap refer to the continuous spectrum; discrete generators may remove further directions
    rule = RankRule("rtol", rtol=rtol)
    rank_c, thr, reason = rule.cut(spec, reference=ref)
    k_cont = spec.numel() - rank_c if len(J) else 0
    rank = spec.numel() - k_cont
    gap = gap_ratio(spec, rank)
    return Nullspace(basis=Qt, singular_values=spec, rank=rank, threshold=thr, rule=info, gap_ratio=gap,
                     complement=None, reason=reason, rank_rule=rule)


def cg_bytes(n: int, n_discrete: int = 0) -> int:
    """Estimated peak bytes of the ``"cg"`` solver for V^(x)n: the coupling (two consecutive steps of copies, or
    the last one, coupled in place into the (r(n), 3^n) basis), then the residual check (the basis, the signed
    permutations of the discrete generators, chunks). The basis is returned as the transposed view of those rows
    (no copy)."""
    s = 3 ** n
    build = coupling.so3_invariants_bytes(n, contiguous=False)
    check = 8 * s * coupling.riordan(n) + 16 * s * n_discrete + 4 * coupling.CHECK_CHUNK_BYTES + 24 * s
    return max(build, check)


def _cg_not_applicable(rep: Rep) -> str:
    """Why the ``"cg"`` solver does not apply to ``rep`` ("" when it does)."""
    n, why = coupling.so3_tensor_degree(rep)
    return why if not n else ""


def _solve_cg(rep: Rep, rtol: float, residual_rtol: float = 1e-10, orth_rtol: float = 1e-10,
              chunk_bytes: int = coupling.CHECK_CHUNK_BYTES, seed: int = 0) -> Nullspace | str:
    """Constructed nullspace of SO(3) / O(3) tensor products of V and V* (the ``"cg"`` method).

    The basis Q (s, k) float64 is built by :func:`symlie.enforce.coupling.so3_invariants` (orthonormal by
    construction; its column count checked against the Riordan number r(n)); for O(3)-like groups, a discrete
    generator h with det h = -1 acts on the SO(3)-invariants by (-1)^n, so odd n has none. It is then verified
    with the rep's own factor matrices: ||drho(xi_k) q_j||^2 summed over the algebra basis and
    ||rho(h) q_j - q_j||^2 over the discrete generators (the same norms as the constraint rows rho(h)^-1 - I for
    orthogonal rho(h)), both through Kronecker sums / products, never the s x s matrices; orthonormality by a
    seeded randomised estimate of ||Q^T Q - I||_F / sqrt(k).

    Returns the :class:`Nullspace`, or a string saying why the result was refused (a residual above
    ``residual_rtol`` times sigma_max, an orthonormality error above ``orth_rtol``, a rank rule ``rtol`` that
    would count non-invariant directions as zero): the caller falls back or raises.
    """
    G = rep.group
    n, why = coupling.so3_tensor_degree(rep)
    if not n:
        return why
    factors = rep.reps if isinstance(rep, ProductRep) else [rep]
    sizes = [f.size for f in factors]
    s = rep.size
    A = coupling.so3_algebra_coordinates(G.algebra.basis)
    lam = np.linalg.eigvalsh(A.T @ A)                       # sum_k drho_k^T drho_k = sum_ab (A^T A)_ab J_a J_b
    lam_min, lam_max = float(lam[0]), float(lam[-1])
    dets = [float(np.sign(np.linalg.det(h.numpy()))) for h in G.discrete]
    n_neg = sum(d < 0 for d in dets)
    odd_removed = bool(n % 2 and n_neg)
    sig_hi = float(np.sqrt(lam_max * n * (n + 1) + 4.0 * len(dets)))
    sig_lo = float(np.sqrt(2.0 * lam_min))
    if odd_removed:
        sig_lo = min(sig_lo, float(2.0 * np.sqrt(n_neg)))
    exact = not dets and lam_max - lam_min <= 1e-12 * lam_max
    if sig_lo <= rtol * sig_hi:
        return (f"rtol={rtol:g} would count non-invariant directions as zero (their singular values are at least "
                f"{sig_lo:.3g} = {sig_lo / sig_hi:.3g} sigma_max), so the rank rule does not give the invariants")
    expected = 0 if odd_removed else coupling.riordan(n)
    info: dict = {"rule": "rtol", "rtol": rtol, "atol": 0.0, "via": "cg", "constructed": True,
                  "partial_spectrum": True, "degree": n, "expected_count": expected,
                  "spectrum": "[sigma_max, smallest non-zero sigma] of the constraint from the SO(3) decomposition "
                              "(exact)" if exact else
                              "[upper bound of sigma_max, lower bound of the smallest non-zero sigma] of the "
                              "constraint from the SO(3) decomposition",
                  "sigma_exact": exact, "residual_rtol": residual_rtol}
    if odd_removed:
        Q = torch.zeros(s, 0, dtype=torch.float64)
        info.update(residual_max=0.0, residual_frobenius=0.0, orthonormality=0.0)
        reason = (f"constructed, not a spectral cut: no invariants, since a discrete generator with det -1 acts on "
                  f"the {coupling.riordan(n)} SO(3)-invariants of this degree-{n} tensor by (-1)^{n} = -1 (the "
                  f"constraint's singular value there is 2 sqrt({n_neg}), from the {n_neg} such generator(s)); the "
                  f"other singular values are >= {float(np.sqrt(2.0 * lam_min)):.3g}")
        spec = torch.tensor([sig_hi, sig_lo], dtype=torch.float64)
        return Nullspace(basis=Q, singular_values=spec, rank=2, threshold=rtol * sig_hi, rule=info,
                         gap_ratio=float("nan"), complement=None, reason=reason,
                         rank_rule=RankRule("rtol", rtol=rtol))
    check_memory(cg_bytes(n, G.num_discrete),
                 f"method='cg': the {expected} Clebsch-Gordan invariants of {rep} ({s} unknowns) and their check",
                 hint="the invariants themselves are large: use a smaller representation (fewer tensor factors)")
    t0 = time.perf_counter()
    Qv = coupling.so3_invariants(n, contiguous=False)        # (s, k), a view of the (k, s) rows it wrote
    t1 = time.perf_counter()
    if Qv.shape[1] != expected:                              # pragma: no cover - a bug in the construction
        return f"the construction gave {Qv.shape[1]} vectors, but the SO(3) decomposition has {expected}"
    k = Qv.shape[1]
    sums = [[f.drho(X).numpy() for f in factors] for X in G.algebra.basis]
    prods = [[f.rho(h).numpy() for f in factors] for h in G.discrete]
    rs, rp = coupling.kron_residuals(Qv.T, sizes, sums, prods, chunk_bytes=chunk_bytes)
    per_col = np.sqrt(rs + rp)
    res_max = float(per_col.max()) / sig_hi if k else 0.0
    res_fro = float(np.sqrt((rs + rp).sum()))
    if k:
        g = torch.randn(k, 4, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        Qt = Qv.T                                            # (k, s) contiguous
        orth = float(torch.linalg.norm(Qt @ (g.T @ Qt).T - g) / torch.linalg.norm(g))
    else:
        orth = 0.0
    info.update(residual_max=res_max, residual_frobenius=res_fro, orthonormality=orth,
                seconds_construct=t1 - t0, seconds_verify=time.perf_counter() - t1)
    if not res_max <= residual_rtol:
        return (f"the constructed basis fails its check: max_j ||C q_j|| = {res_max:.2e} sigma_max > "
                f"residual_rtol={residual_rtol:g}")
    if not orth <= orth_rtol:
        return f"the constructed basis is not orthonormal: ||Q^T Q - I||_F / sqrt(k) ~ {orth:.2e} > {orth_rtol:g}"
    Q = Qv                                                   # (s, k), stored as the transpose of (k, s) rows
    spec = torch.tensor([sig_hi, sig_lo] + ([res_fro] if k else []), dtype=torch.float64)
    gap = (sig_lo / res_fro if res_fro > 0 else float("inf")) if k else float("nan")
    disc = (f"; the {len(dets)} discrete generator(s) (det {', '.join(f'{d:+.0f}' for d in dets)}) act trivially "
            f"on them" if dets else "")
    reason = (f"constructed by Clebsch-Gordan coupling, not a spectral cut: {k} invariants = r({n}), the l = 0 "
              f"multiplicity of V^(x){n}{disc}; verified: max_j ||C q_j|| = {res_max:.1e} sigma_max <= "
              f"{residual_rtol:g}, ||C Q||_F = {res_fro:.1e} bounds every singular value of C on the span; the "
              f"singular values off the span are >= {sig_lo:.3g}")
    return Nullspace(basis=Q, singular_values=spec, rank=2, threshold=rtol * sig_hi, rule=info, gap_ratio=gap,
                     complement=None, reason=reason, rank_rule=RankRule("rtol", rtol=rtol))


def _solve_block(rep: Rep, method: str, rtol: float, dense_max: int, gram_max: int,
                 cg_min: int = 6561) -> tuple[Nullspace, str]:
    s = rep.size
    if method == "auto":
        if s <= dense_max:
            method = "dense"
        else:
            cg_err: ResourceError | None = None
            if s > cg_min and not _cg_not_applicable(rep):
                try:
                    got = _solve_cg(rep, rtol)
                except ResourceError as exc:
                    got, cg_err = "", exc
                if isinstance(got, Nullspace):
                    return got, "cg"
            try:
                ns = _solve_kron(rep, rtol) if rep.group.dim else None
            except ResourceError as exc:
                if cg_err is None:
                    raise
                raise ResourceError(f"{exc}; method='cg' was refused too: {cg_err}", nbytes=exc.nbytes,
                                    limit=exc.limit, what=exc.what) from None
            if ns is not None:
                return ns, "kron"
            method = "gram" if s <= gram_max else "sparse"
    if method == "cg":
        why = _cg_not_applicable(rep)
        if why:
            raise SymlieError(f"method='cg': does not apply to {rep} of {rep.group.name}: {why}; it needs a tensor "
                              f"product of V and V* factors of SO(3) or O(3); use method='auto'")
        got = _solve_cg(rep, rtol)
        if not isinstance(got, Nullspace):
            raise SymlieError(f"method='cg': refused for {rep} of {rep.group.name}: {got}; use method='kron' or "
                              f"'auto'")
        return got, "cg"
    if method == "kron":
        ns = _solve_kron(rep, rtol)
        if ns is None:
            raise SymlieError(f"method='kron': the structured solver does not apply to {rep} (no continuous part, "
                              f"or a defective / ill-conditioned generator); use method='auto'")
        return ns, "kron"
    if method == "sparse" and s <= 64:
        method = "gram"  # ARPACK needs k < s - 1; tiny blocks are solved exactly instead
    G = rep.group
    if G.dim == 0 and G.num_discrete == 0:  # no constraints at all: everything is invariant
        ns = nullspace(torch.zeros(1, s, dtype=torch.float64), rule="rtol", rtol=rtol)
        return ns, method
    if method == "dense":
        m = (G.dim + G.num_discrete) * s
        check_memory(invariance_constraints_bytes(rep) + spectrum_bytes(m, s), f"method='dense': the ({m}, {s}) "
                     f"constraint matrix of {rep} and its SVD", hint=_HINT_STRUCTURED)
        ns = nullspace(constraint_matrix(rep), rule="rtol", rtol=rtol, method="svd")
    elif method == "gram":
        # M, one dense drho / rho with its Kronecker intermediates, D^T D, I, then eigh (vectors, workspace)
        check_memory(8 * 9 * s * s, f"method='gram': the dense {s}x{s} Gram matrix of {rep} and its eigenvectors",
                     hint=_HINT_STRUCTURED)
        lam, U = torch.linalg.eigh(_gram_dense(rep))
        sv = lam.flip(0).clamp(min=0).sqrt()          # singular values of the constraint, descending
        U = U.flip(1)
        ns = nullspace_from_spectrum(sv, U, RankRule("rtol", rtol=rtol))
        ns.rule["via"] = "gram"
    elif method == "sparse":
        ns = _solve_sparse(rep, rtol)
    else:
        raise ValueError(f"method: expected 'auto', 'dense', 'gram', 'sparse', 'kron' or 'cg', got {method!r}")
    return ns, method


def _components(rep: Rep) -> list[tuple[slice, Rep]]:
    reps = rep.reps if isinstance(rep, SumRep) else [rep]
    out, o = [], 0
    for r in reps:
        out.append((slice(o, o + r.size), r))
        o += r.size
    return out


def _check_rep(rep, name: str) -> Rep:
    if not isinstance(rep, Rep):
        raise TypeError(f"{name}: expected a symlie Rep, got {type(rep).__name__}")
    if not rep.is_linear:
        raise SymlieError(f"{name}: {rep} is an affine Point action; equivariant linear maps need linear "
                          f"representations (use .tangent())")
    return rep


def equivariant_basis(rep_in: Rep, rep_out: Rep | None = None, *, method: str = "auto", rtol: float = 1e-6,
                      dense_max: int = 400, gram_max: int = 2500, cg_min: int = 6561, cache: bool = True,
                      allow_empty: bool = True, max_bytes: int | float | None = None) -> EquivariantBasis:
    """Orthonormal float64 basis of the equivariant linear maps rep_in -> rep_out.

    With ``rep_out=None`` it returns the invariant vectors of ``rep_in`` (maps from the trivial rep into it,
    i.e. ``rep_out = rep_in`` and a 1-dim input) -- see :func:`invariant_basis`.

    Args:
        rep_in, rep_out: linear representations of the same group.
        method: ``"auto"``, ``"dense"``, ``"gram"``, ``"sparse"``, ``"kron"`` or ``"cg"`` (see the module
            docstring; ``"cg"`` only for tensor products of V and V* of SO(3) / O(3), else a SymlieError).
        rtol: rank rule, sigma <= rtol * sigma_max counts as zero (per block type).
        dense_max, gram_max: block sizes (unknowns) where ``"auto"`` switches solver.
        cg_min: ``"auto"`` uses ``"cg"`` (where it applies) for blocks with more than this many unknowns
            (default 3^8: V^(x)9 and up).
        cache: reuse solutions of equal block types across calls (:func:`clear_basis_cache` empties it).
        allow_empty: if False, raise :class:`SymlieError` when no non-zero equivariant map exists.
        max_bytes: memory limit of this call in bytes; ``None`` uses the process-wide limit
            (:func:`symlie.utils.set_memory_limit`, ``SYMLIE_MAX_BYTES``, default half the physical memory).
            Each solver's working set (the dense constraint and its SVD, the dense Gram matrix, the sparse LU and
            vector blocks, kron's restricted Hermitian problem and the basis) is estimated before it is built,
            and a :class:`symlie.utils.ResourceError` names the structured solver to use instead.

    Returns:
        :class:`EquivariantBasis` (``.basis`` dense (s_out*s_in, k); ``.blocks``; ``.spectra``; ``.summary()``).
    """
    t0 = time.perf_counter()
    if rep_out is None:
        rep = _check_rep(rep_in, "rep_in")
        rep_in, rep_out = Trivial(rep.group, 1), rep
    _check_rep(rep_in, "rep_in")
    _check_rep(rep_out, "rep_out")
    if rep_in.group != rep_out.group:
        raise SymlieError(f"rep_in, rep_out: representations of different groups ({rep_in.group.name} and "
                          f"{rep_out.group.name})")
    if rtol <= 0 or rtol >= 1:
        raise ValueError(f"rtol: expected a relative tolerance in (0, 1), got {rtol}")
    with call_limit(max_bytes):
        res = _solve_all(rep_in, rep_out, method, rtol, dense_max, gram_max, cache, t0, cg_min)
    if not allow_empty and res.dim == 0:
        raise SymlieError(f"no non-zero equivariant map {rep_in} -> {rep_out} exists for {rep_out.group.name} "
                          f"(rank rule sigma <= {rtol:g} sigma_max); the smallest singular values per block are "
                          f"{ {k: float(v.normalized_spectrum[-1]) for k, v in res.spectra.items()} }")
    return res


def _solve_all(rep_in: Rep, rep_out: Rep, method: str, rtol: float, dense_max: int, gram_max: int, cache: bool,
               t0: float, cg_min: int = 6561) -> EquivariantBasis:
    """Solve every block of Hom(rep_in, rep_out) (cached by block type)."""
    spectra: dict[str, Nullspace] = {}
    methods: dict[str, str] = {}
    blocks = []
    for osl, ro in _components(rep_out):
        for isl, ri in _components(rep_in):
            brep = ProductRep([ro, ri.dual()])
            key = f"{ri}->{ro}"
            ck = (brep, method, rtol, dense_max, gram_max, cg_min)
            hit = _CACHE.get(ck) if cache else None
            if hit is None:
                hit = _solve_block(brep, method, rtol, dense_max, gram_max, cg_min)
                if cache:
                    _CACHE[ck] = hit
            ns, used = hit
            spectra.setdefault(key, ns)
            methods.setdefault(key, used)
            if ns.dim:
                blocks.append(BasisBlock(osl, isl, ns.basis, ns, key))
    return EquivariantBasis(rep_in, rep_out, blocks, spectra, methods, rtol, time.perf_counter() - t0)


def invariant_basis(rep: Rep, **kwargs) -> EquivariantBasis:
    """Orthonormal basis of the invariant vectors of ``rep`` (drho(xi) v = 0, rho(h) v = v).

    ``.basis`` has shape (rep.size, k). Keyword arguments as in :func:`equivariant_basis`.
    """
    return equivariant_basis(rep, None, **kwargs)


# ------------------------------------------------------------------------------------------ save / load
BASIS_FORMAT = "symlie.EquivariantBasis"
BASIS_VERSION = 1
_BASIS_KEYS = ("format", "version", "group", "algebra_name", "group_affine", "group_algebra", "group_discrete",
               "rep_in", "rep_out", "n_in", "n_out", "dim", "rtol", "seconds", "basis", "spectrum",
               "spectrum_offsets", "blocks", "block_types", "rank_rule")


def _rep_spec(rep: Rep, name: str) -> str:
    """``rep`` as a :func:`symlie.lie.reps.parse_rep` expression (``V``, ``Covector``, ``Scalar``, ``+``, ``*``)."""
    from ..lie.reps import Covector, Point, Vector
    if isinstance(rep, Vector) or (isinstance(rep, Point) and rep.is_linear):
        return "V"
    if isinstance(rep, Covector):
        return "Covector"
    if isinstance(rep, Trivial):
        return "Scalar" if rep.k == 1 else f"{rep.k}*Scalar"
    if isinstance(rep, SumRep):
        return "+".join(_rep_spec(r, name) for r in rep.reps)
    if isinstance(rep, ProductRep):
        return "*".join(f"({_rep_spec(r, name)})" if isinstance(r, SumRep) or (isinstance(r, Trivial) and r.k > 1)
                        else _rep_spec(r, name) for r in rep.reps)
    raise SymlieError(f"{name}: cannot write {rep} ({type(rep).__name__}) as a representation expression")


def _save_basis(B: "EquivariantBasis", path):
    import json

    from ..utils.files import write_npz
    from ..utils.serialization import jsonable
    G = B.rep_out.group
    keys = list(B.spectra)
    svs = [B.spectra[k].singular_values.detach().to(torch.float64).cpu().numpy() for k in keys]
    offsets = np.cumsum([0] + [len(s) for s in svs]).astype(np.int64)
    types = []
    for k in keys:
        ns = B.spectra[k]
        types.append({"key": k, "method": B.method[k], "size": int(ns.basis.shape[0]), "dim": ns.dim,
                      "rank": int(ns.rank), "threshold": float(ns.threshold), "gap_ratio": float(ns.gap_ratio),
                      "reason": ns.reason, "rule": ns.rule})
    blocks = np.array([[b.out_slice.start, b.out_slice.stop, b.in_slice.start, b.in_slice.stop, keys.index(b.key),
                        b.dim] for b in B.blocks], dtype=np.int64).reshape(-1, 6)
    arrays = {
        "format": np.array(BASIS_FORMAT), "version": np.array(BASIS_VERSION, dtype=np.int64),
        "group": np.array(G.name), "algebra_name": np.array(G.algebra.name), "group_affine": np.array(G.affine),
        "group_algebra": G.algebra.basis.detach().cpu().numpy(), "group_discrete": G.discrete.detach().cpu().numpy(),
        "rep_in": np.array(_rep_spec(B.rep_in, "rep_in")), "rep_out": np.array(_rep_spec(B.rep_out, "rep_out")),
        "n_in": np.array(B.rep_in.size, dtype=np.int64), "n_out": np.array(B.rep_out.size, dtype=np.int64),
        "dim": np.array(B.dim, dtype=np.int64), "rtol": np.array(float(B.rtol)),
        "seconds": np.array(float(B.seconds)), "basis": B.basis.detach().cpu().numpy(),
        "spectrum": np.concatenate(svs) if svs else np.zeros(0), "spectrum_offsets": offsets, "blocks": blocks,
        "block_types": np.array(json.dumps(jsonable(types))),
        "rank_rule": np.array(json.dumps({"rule": "rtol", "rtol": float(B.rtol)})),
    }
    return write_npz(path, arrays, name="path")


def _load_basis(path) -> "EquivariantBasis":
    import json
    import zipfile
    import zlib
    from pathlib import Path
    from typing import Any

    from ..lie.algebra import LieAlgebra
    from ..lie.groups import Group, parse_group
    from ..lie.reps import parse_rep
    from ..utils.errors import DataError
    from ..utils.serialization import check_saved, from_json
    p = Path(path)
    where = repr(str(p))
    if not p.is_file():
        raise DataError(f"{where}: " + ("is a folder, not a basis file" if p.is_dir() else "does not exist"))
    errs = (zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error, KeyError, NotImplementedError)
    try:
        z = np.load(p, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise DataError(f"{where}: holds a single array, not a saved {BASIS_FORMAT} (.npz)")
        with z:
            raw = {k: z[k] for k in z.files}
    except errs as exc:
        raise DataError(f"{where}: not a readable .npz file ({type(exc).__name__}: {exc}); it is corrupt, truncated "
                        f"or of another format") from None
    d: dict[str, Any] = {k: (v.item() if v.ndim == 0 and v.dtype.kind in "USbiuf" else v) for k, v in raw.items()}
    if check_saved(d, p, kind=BASIS_FORMAT, version=BASIS_VERSION) == 0:
        raise DataError(f"{where}: not a saved {BASIS_FORMAT} (no 'format' / 'version' header): files of "
                        f"earlier releases held only the matrix; write it again with EquivariantBasis.save or "
                        f"symlie enforce")
    check_saved(d, p, kind=BASIS_FORMAT, version=BASIS_VERSION, required=_BASIS_KEYS)

    def bad(key, expected, got=None):
        got = d.get(key) if got is None else got
        desc = (f"an array of shape {got.shape} and dtype {got.dtype}" if isinstance(got, np.ndarray)
                else f"{type(got).__name__} {got!r}"[:200])
        return DataError(f"{where}: key {key!r}: expected {expected}, got {desc}")

    for k in ("group", "algebra_name", "rep_in", "rep_out", "block_types", "rank_rule"):
        if not isinstance(d[k], str):
            raise bad(k, "a string")
    for k in ("n_in", "n_out", "dim"):
        if isinstance(d[k], bool) or not isinstance(d[k], int) or d[k] < (1 if k != "dim" else 0):
            raise bad(k, "an integer >= " + ("1" if k != "dim" else "0"))
    for k in ("rtol", "seconds"):
        if not isinstance(d[k], float):
            raise bad(k, "a float")
    if not isinstance(d["group_affine"], bool):
        raise bad("group_affine", "a bool")
    n_in, n_out, dim = d["n_in"], d["n_out"], d["dim"]

    def arr(key, dtype, shape):
        a = d[key]
        if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.ndim == len(shape)
                and all(s is None or s == t for s, t in zip(shape, a.shape))):
            want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
            raise bad(key, f"a {np.dtype(dtype).name} array of shape {want}")
        return a

    A = arr("group_algebra", np.float64, (None, None, None))
    arr("group_discrete", np.float64, (None, A.shape[1], A.shape[1]))
    basis = arr("basis", np.float64, (n_out * n_in, dim))
    spec = arr("spectrum", np.float64, (None,))
    blocks = arr("blocks", np.int64, (None, 6))
    try:
        types = from_json(json.loads(d["block_types"]))
        rank_rule = json.loads(d["rank_rule"])
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: key 'block_types' / 'rank_rule': not valid JSON ({exc})") from None
    tkeys = {"key": str, "method": str, "size": int, "dim": int, "rank": int, "threshold": float,
             "gap_ratio": float, "reason": str, "rule": dict}
    if not (isinstance(types, list) and all(isinstance(t, dict) and all(isinstance(t.get(f), c) and not (
            c is int and isinstance(t.get(f), bool)) for f, c in tkeys.items()) for t in types)):
        raise bad("block_types", "a JSON list of block types with fields " + ", ".join(tkeys),
                  got=d["block_types"])
    if not (isinstance(rank_rule, dict) and rank_rule.get("rule") == "rtol" and rank_rule.get("rtol") == d["rtol"]):
        raise bad("rank_rule", "a JSON object {'rule': 'rtol', 'rtol': <rtol>}", got=d["rank_rule"])
    offsets = arr("spectrum_offsets", np.int64, (len(types) + 1,))
    if offsets[0] != 0 or offsets[-1] != spec.shape[0] or bool((np.diff(offsets) < 0).any()):
        raise bad("spectrum_offsets", f"non-decreasing offsets from 0 to {spec.shape[0]}")
    col = 0
    for o0, o1, i0, i1, t, k in blocks.tolist():
        if not (0 <= o0 < o1 <= n_out and 0 <= i0 < i1 <= n_in and 0 <= t < len(types) and k >= 1
                and types[t]["dim"] == k and types[t]["size"] == (o1 - o0) * (i1 - i0)):
            raise bad("blocks", f"rows [out_start, out_stop, in_start, in_stop, type, dim] inside ({n_out}, {n_in}) "
                                f"consistent with 'block_types'")
        col += k
    if col != dim:
        raise bad("blocks", f"blocks whose dimensions add up to dim = {dim}")
    try:
        alg = LieAlgebra(torch.from_numpy(A.copy()), affine=d["group_affine"], name=d["algebra_name"],
                         size=A.shape[1])
        G = Group(alg, torch.from_numpy(d["group_discrete"].copy()), name=d["group"], check=False)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{where}: keys 'group_algebra' / 'group_discrete' do not define a group: {exc}") from None
    try:
        named = parse_group(d["group"])
        if named == G and named.name == G.name:
            G = named                                     # the library's own object for a named group
    except ValueError:
        pass
    reps = []
    for key, size in (("rep_in", n_in), ("rep_out", n_out)):
        try:
            r = parse_rep(d[key], G, key)
        except (ValueError, TypeError) as exc:
            raise DataError(f"{where}: key {key!r}: {exc}") from None
        if r.size != size:
            raise DataError(f"{where}: key {key!r}: {d[key]!r} has size {r.size} for {G.name}, but the file says "
                            f"{size}")
        reps.append(r)
    Bt = torch.from_numpy(basis.copy())
    nss: dict[str, Nullspace] = {}
    qs: dict[int, torch.Tensor] = {}
    out_blocks = []
    col = 0
    for o0, o1, i0, i1, t, k in blocks.tolist():
        rows = (torch.arange(o0, o1)[:, None] * n_in + torch.arange(i0, i1)[None, :]).reshape(-1)
        Q = qs.setdefault(t, Bt[rows, col:col + k].clone())
        out_blocks.append((slice(o0, o1), slice(i0, i1), Q, t))
        col += k
    methods: dict[str, str] = {}
    for t, info in enumerate(types):
        rule = info["rule"]
        try:
            rr = RankRule.resolve(rule.get("rule", "rtol"), rtol=rule.get("rtol"), atol=rule.get("atol"),
                                  min_gap=rule.get("min_gap"), floor=rule.get("floor"))
        except (ValueError, TypeError):
            rr = None
        sv = torch.from_numpy(spec[offsets[t]:offsets[t + 1]].copy())
        nss[info["key"]] = Nullspace(basis=qs.get(t, torch.zeros(info["size"], 0, dtype=torch.float64)),
                                     singular_values=sv, rank=info["rank"], threshold=info["threshold"], rule=rule,
                                     gap_ratio=info["gap_ratio"], complement=None, reason=info["reason"],
                                     rank_rule=rr)
        methods[info["key"]] = info["method"]
    keys = [t["key"] for t in types]
    bl = [BasisBlock(osl, isl, Q, nss[keys[t]], keys[t]) for osl, isl, Q, t in out_blocks]
    return EquivariantBasis(reps[0], reps[1], bl, nss, methods, d["rtol"], d["seconds"], _dense=Bt)
