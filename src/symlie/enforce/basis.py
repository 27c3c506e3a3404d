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
  * ``"auto"``: dense up to ``dense_max`` unknowns; beyond, kron when it applies (verified), otherwise gram
    up to ``gram_max`` and sparse beyond.

Rank rule: a singular value sigma of a block's constraint counts as zero when sigma <= rtol * sigma_max
(``rtol`` is a parameter, recorded in the result with the spectrum and the gap).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..utils.validation import SymlieError
from ..derivative.constraints import invariance_constraints
from ..linalg import Nullspace, RankRule, gap_ratio, nullspace, nullspace_from_spectrum
from ..lie.reps import ProductRep, Rep, SumRep, Trivial

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


def _gram_sparse(rep: Rep):
    import scipy.sparse as sp
    G = rep.group
    s = rep.size
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
    lu = spla.splu((M + shift_rtol * lam_max * sp.identity(s, format="csc")).tocsc())
    rng = np.random.default_rng(seed)
    k = min(k0, s)
    while True:
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
        blocks = []
        for X in G.algebra.basis:
            mats = [Pi @ f.drho(X).numpy() @ P for f, P, Pi in zip(factors, Ps, Pinvs)]
            blocks.append(_kron_sum_sparse(mats)[:, J])
        import scipy.sparse as sp
        A = sp.vstack(blocks).tocsc()
        H = (A.conj().T @ A).toarray()
        lamH, Y = (t.numpy() for t in torch.linalg.eigh(torch.from_numpy(0.5 * (H + H.conj().T))))
        sv = np.sqrt(np.clip(lamH, 0, None))[::-1]          # descending
        Y = Y[:, ::-1]
        smax = sv[0]
        n_null = len(sv) - RankRule("rtol", rtol=rtol).cut(torch.from_numpy(sv.copy()))[0] if smax > 0 else len(sv)
        Yn = Y[:, len(sv) - n_null:]
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


def _solve_block(rep: Rep, method: str, rtol: float, dense_max: int, gram_max: int) -> tuple[Nullspace, str]:
    s = rep.size
    if method == "auto":
        if s <= dense_max:
            method = "dense"
        else:
            ns = _solve_kron(rep, rtol) if rep.group.dim else None
            if ns is not None:
                return ns, "kron"
            method = "gram" if s <= gram_max else "sparse"
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
        ns = nullspace(constraint_matrix(rep), rule="rtol", rtol=rtol, method="svd")
    elif method == "gram":
        lam, U = torch.linalg.eigh(_gram_dense(rep))
        sv = lam.flip(0).clamp(min=0).sqrt()          # singular values of the constraint, descending
        U = U.flip(1)
        ns = nullspace_from_spectrum(sv, U, RankRule("rtol", rtol=rtol))
        ns.rule["via"] = "gram"
    elif method == "sparse":
        ns = _solve_sparse(rep, rtol)
    else:
        raise ValueError(f"method: expected 'auto', 'dense', 'gram', 'sparse' or 'kron', got {method!r}")
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
                      dense_max: int = 400, gram_max: int = 2500, cache: bool = True,
                      allow_empty: bool = True) -> EquivariantBasis:
    """Orthonormal float64 basis of the equivariant linear maps rep_in -> rep_out.

    With ``rep_out=None`` it returns the invariant vectors of ``rep_in`` (maps from the trivial rep into it,
    i.e. ``rep_out = rep_in`` and a 1-dim input) -- see :func:`invariant_basis`.

    Args:
        rep_in, rep_out: linear representations of the same group.
        method: ``"auto"``, ``"dense"``, ``"gram"`` or ``"sparse"`` (see the module docstring).
        rtol: rank rule, sigma <= rtol * sigma_max counts as zero (per block type).
        dense_max, gram_max: block sizes (unknowns) where ``"auto"`` switches solver.
        cache: reuse solutions of equal block types across calls (:func:`clear_basis_cache` empties it).
        allow_empty: if False, raise :class:`SymlieError` when no non-zero equivariant map exists.

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
    spectra: dict[str, Nullspace] = {}
    methods: dict[str, str] = {}
    blocks = []
    for osl, ro in _components(rep_out):
        for isl, ri in _components(rep_in):
            brep = ProductRep([ro, ri.dual()])
            key = f"{ri}->{ro}"
            ck = (brep, method, rtol, dense_max, gram_max)
            hit = _CACHE.get(ck) if cache else None
            if hit is None:
                hit = _solve_block(brep, method, rtol, dense_max, gram_max)
                if cache:
                    _CACHE[ck] = hit
            ns, used = hit
            spectra.setdefault(key, ns)
            methods.setdefault(key, used)
            if ns.dim:
                blocks.append(BasisBlock(osl, isl, ns.basis, ns, key))
    res = EquivariantBasis(rep_in, rep_out, blocks, spectra, methods, rtol, time.perf_counter() - t0)
    if not allow_empty and res.dim == 0:
        raise SymlieError(f"no non-zero equivariant map {rep_in} -> {rep_out} exists for {rep_out.group.name} "
                          f"(rank rule sigma <= {rtol:g} sigma_max); the smallest singular values per block are "
                          f"{ {k: float(v.normalized_spectrum[-1]) for k, v in spectra.items()} }")
    return res


def invariant_basis(rep: Rep, **kwargs) -> EquivariantBasis:
    """Orthonormal basis of the invariant vectors of ``rep`` (drho(xi) v = 0, rho(h) v = v).

    ``.basis`` has shape (rep.size, k). Keyword arguments as in :func:`equivariant_basis`.
    """
    return equivariant_basis(rep, None, **kwargs)
