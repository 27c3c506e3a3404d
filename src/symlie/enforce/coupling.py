"""SO(3)-invariant tensors of V^(x)n by Clebsch-Gordan coupling (the ``"cg"`` block method of
:mod:`symlie.enforce.basis`).

Conventions. V = R^3 with the library's coordinates (x, y, z) (index 0, 1, 2), on which so(3) acts by antisymmetric
matrices; the standard generators are (L_a)_{bc} = -eps_{abc} (L_z = E_yx - E_xy rotates x towards y) and the
angular momenta J_a = i L_a (Hermitian, [J_x, J_y] = i J_z). In the spherical basis

    f_{+1} = -(e_x + i e_y) / sqrt 2,    f_0 = e_z,    f_{-1} = (e_x - i e_y) / sqrt 2

V is the l = 1 irrep with Condon-Shortley phases (J_z f_m = m f_m, J_+ f_m = sqrt(2 - m(m+1)) f_{m+1}). Vectors
of V^(x)k are indexed row-major over the factors (the first factor most significant), as in
:class:`symlie.lie.reps.ProductRep`.

Construction. Every irreducible copy of type l inside V^(x)k is stored by a *real* orthonormal basis R_mu
(mu = -l..l), R = W_l psi, where psi_m (m = -l..l) is a standard basis of the copy (up to one global phase) and
W_l the unitary of the real spherical harmonics (rows: mu = 0 -> psi_0; mu = m > 0 -> (psi_m + (-1)^m psi_-m) /
sqrt 2; mu = -m < 0 -> i (psi_m - (-1)^m psi_-m) / sqrt 2). The copy gives copies of type L in {l-1, l, l+1} of
V^(x)(k+1):

    |L M> = sum_{m + mu = M} <l m; 1 mu | L M> psi_m (x) f_mu,    R'_nu = sum_M W_L[nu, M] |L M>,

i.e. R'_nu = sum_{mu, a} C_{l->L}[nu, mu, a] R_mu (x) e_a with a small coupling tensor C_{l->L}
((2L+1, 2l+1, 3)). Since conj(f_mu) = (-1)^mu f_-mu and <l -m; 1 -mu | L -M> = (-1)^(l+1-L) <l m; 1 mu | L M>,
C_{l->L} is real up to one global phase (1 or i), which is divided out: the construction runs in float64
throughout and each coupled copy is again a standard basis up to a global phase. CG is unitary and distinct
coupling paths give orthogonal copies, so the L = 0 copies at step n are an orthonormal basis of the invariants.
Copies that cannot reach L = 0 within the remaining factors are dropped as soon as they appear (type l with j
factors left survives iff l <= j and (l, j) != (0, 1)).

The factors are coupled from the last to the first: the new factor is *prepended*, R'_nu = sum C[nu, mu, a]
e_a (x) R_mu (the swap W (x) V -> V (x) W is an equivariant isomorphism, so the same C gives a copy of type L with
the same real matrices), which makes each step one matrix product (3(2L+1), 2l+1) @ (2l+1, 3^k) per source type,
written where it belongs in row-major order; the last step (l = 1 -> 0, as many values out as in) runs in place.

The number of invariants is the Riordan number r(n) (1, 0, 1, 1, 3, 6, 15, 36, 91, 232, 603, 1585, ...;
r(n) = (n - 1)(2 r(n-1) + 3 r(n-2)) / (n + 1)), the multiplicity of l = 0 in V^(x)n; :func:`riordan` computes it
independently of the construction as a check.

For V* the so(3) action is -X^T = X and an orthogonal h acts by h^{-T} = h, so products of V and V* factors of an
orthogonal group have the same invariants; O(3) = SO(3) x {+-I} and -I acts on V^(x)n by (-1)^n.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch

from ..lie.reps import Covector, Point, ProductRep, Rep, Vector
from ..utils.resources import check_memory

__all__ = ["riordan", "so3_multiplicities", "spherical_basis", "angular_momentum", "clebsch_gordan",
           "real_transform", "real_coupling", "so3_invariants", "so3_invariants_bytes", "so3_tensor_degree",
           "so3_algebra_coordinates", "kron_residuals"]


def riordan(n: int) -> int:
    """The number of SO(3)-invariant vectors of V^(x)n (the multiplicity of l = 0), exact integer:
    r(0) = 1, r(1) = 0, r(n) = (n - 1)(2 r(n-1) + 3 r(n-2)) / (n + 1)."""
    if n < 0:
        raise ValueError(f"n: expected a tensor degree >= 0, got {n}")
    a, b = 1, 0                       # r(0), r(1)
    if n == 0:
        return a
    for k in range(2, n + 1):
        num = (k - 1) * (2 * b + 3 * a)
        if num % (k + 1):             # pragma: no cover - the recurrence is integral
            raise ArithmeticError("riordan: non-integral recurrence step")
        a, b = b, num // (k + 1)
    return b


def so3_multiplicities(n: int, *, keep_reachable: bool = False) -> list[dict[int, int]]:
    """Multiplicities of the irreps in V^(x)k for k = 1..n: ``out[k - 1][l]`` copies of type l (exact integers).

    With ``keep_reachable`` only the copies the construction keeps (those that can still reach l = 0 at step n)."""
    if n < 1:
        raise ValueError(f"n: expected a tensor degree >= 1, got {n}")
    cur = {1: 1}
    out = []
    for k in range(1, n + 1):
        if k > 1:
            nxt: dict[int, int] = {}
            for l, c in cur.items():
                for L in (l - 1, l, l + 1):
                    if L < 0 or (l == 0 and L != 1):
                        continue
                    nxt[L] = nxt.get(L, 0) + c
            cur = nxt
        if keep_reachable:
            cur = {l: c for l, c in cur.items() if _reachable(l, n - k)}
        out.append(dict(sorted(cur.items())))
    return out


def _reachable(l: int, j: int) -> bool:
    """A copy of type l with j tensor factors still to couple can end in l = 0."""
    return l <= j and not (l == 0 and j == 1)


def spherical_basis() -> np.ndarray:
    """U (3, 3) complex: column m + 1 holds f_m (m = -1, 0, 1) in the library's (x, y, z) coordinates."""
    r = 1.0 / math.sqrt(2.0)
    U = np.zeros((3, 3), dtype=complex)
    U[:, 0] = [r, -1j * r, 0.0]           # f_-1 = (e_x - i e_y) / sqrt 2
    U[:, 1] = [0.0, 0.0, 1.0]             # f_0 = e_z
    U[:, 2] = [-r, -1j * r, 0.0]          # f_+1 = -(e_x + i e_y) / sqrt 2
    return U


def angular_momentum(l: int) -> tuple[np.ndarray, np.ndarray]:
    """(J_z, J_+) of the irrep l in its standard basis (index m + l, m = -l..l), (2l+1, 2l+1) float64:
    J_z = diag(m), J_+ e_m = sqrt(l(l+1) - m(m+1)) e_{m+1} (Condon-Shortley)."""
    m = np.arange(-l, l + 1, dtype=float)
    Jz = np.diag(m)
    Jp = np.zeros((2 * l + 1, 2 * l + 1))
    for i in range(2 * l):
        Jp[i + 1, i] = math.sqrt(l * (l + 1) - m[i] * (m[i] + 1))
    return Jz, Jp


@lru_cache(maxsize=None)
def _cg_cached(l: int, L: int) -> np.ndarray:
    out = np.zeros((2 * L + 1, 2 * l + 1, 3))
    for M in range(-L, L + 1):
        for mu in (-1, 0, 1):
            m = M - mu
            if abs(m) > l:
                continue
            if L == l + 1:
                v = {1: math.sqrt((l + M) * (l + M + 1) / ((2 * l + 1) * (2 * l + 2))),
                     0: math.sqrt((l - M + 1) * (l + M + 1) / ((2 * l + 1) * (l + 1))),
                     -1: math.sqrt((l - M) * (l - M + 1) / ((2 * l + 1) * (2 * l + 2)))}[mu]
            elif L == l:
                v = {1: -math.sqrt((l + M) * (l - M + 1) / (2 * l * (l + 1))),
                     0: M / math.sqrt(l * (l + 1)),
                     -1: math.sqrt((l - M) * (l + M + 1) / (2 * l * (l + 1)))}[mu]
            else:
                v = {1: math.sqrt((l - M) * (l - M + 1) / (2 * l * (2 * l + 1))),
                     0: -math.sqrt((l - M) * (l + M) / (l * (2 * l + 1))),
                     -1: math.sqrt((l + M + 1) * (l + M) / (2 * l * (2 * l + 1)))}[mu]
            out[M + L, m + l, mu + 1] = v
    out.setflags(write=False)
    return out


def clebsch_gordan(l: int, L: int) -> np.ndarray:
    """<l m; 1 mu | L M> (Condon-Shortley) as a float64 array (2L+1, 2l+1, 3) indexed [M + L, m + l, mu + 1]
    (zero unless m + mu = M), for L in {l - 1, l, l + 1}, L >= 0 (L = l needs l >= 1). Read-only, cached."""
    if l < 0 or L not in (l - 1, l, l + 1) or L < 0 or (l == 0 and L != 1):
        raise ValueError(f"clebsch_gordan: l (x) 1 does not contain L = {L} for l = {l}")
    return _cg_cached(int(l), int(L))


def real_transform(l: int) -> np.ndarray:
    """W_l (2l+1, 2l+1) complex unitary, rows mu = -l..l (index mu + l), columns m + l: the real basis
    R = W_l psi of a copy whose standard basis psi satisfies conj(psi_m) = (-1)^m psi_-m (see the module docstring)."""
    r = 1.0 / math.sqrt(2.0)
    W = np.zeros((2 * l + 1, 2 * l + 1), dtype=complex)
    W[l, l] = 1.0
    for m in range(1, l + 1):
        s = (-1.0) ** m
        W[l + m, l + m], W[l + m, l - m] = r, s * r                 # (psi_m + (-1)^m psi_-m) / sqrt 2
        W[l - m, l + m], W[l - m, l - m] = 1j * r, -1j * s * r      # i (psi_m - (-1)^m psi_-m) / sqrt 2
    return W


@lru_cache(maxsize=None)
def _real_coupling_cached(l: int, L: int, imag_tol: float) -> np.ndarray:
    U = spherical_basis()
    C = np.einsum("nM,Mmu,pm,au->npa", real_transform(L), clebsch_gordan(l, L), real_transform(l).conj(), U)
    flat = C.reshape(-1)
    i = int(np.argmax(np.abs(flat)))
    C = C * (abs(flat[i]) / flat[i])                       # divide out the global phase (1 or i)
    scale = float(np.abs(C).max())
    if float(np.abs(C.imag).max()) > imag_tol * scale:    # pragma: no cover - guaranteed by the conjugation symmetry
        raise ArithmeticError(f"real_coupling({l}, {L}): not real up to a global phase "
                              f"(imaginary part {float(np.abs(C.imag).max()):.1e})")
    out = np.ascontiguousarray(C.real)
    out.setflags(write=False)
    return out


def real_coupling(l: int, L: int, imag_tol: float = 1e-12) -> np.ndarray:
    """The real coupling tensor C_{l->L} (2L+1, 2l+1, 3) float64: the real basis of the coupled copy is
    R'_nu = sum_{mu, a} C[nu, mu, a] R_mu (x) e_a (see the module docstring); its (2l+1)*3 x (2L+1) matrix has
    orthonormal columns. ``imag_tol``: the largest imaginary part allowed after the global phase is divided out
    (relative). Read-only, cached."""
    if l < 0 or L not in (l - 1, l, l + 1) or L < 0 or (l == 0 and L != 1):
        raise ValueError(f"real_coupling: l (x) 1 does not contain L = {L} for l = {l}")
    return _real_coupling_cached(int(l), int(L), float(imag_tol))


def _initial_copy() -> np.ndarray:
    """The real basis R_mu (3, 3) of V itself (rows mu = -1, 0, 1, cartesian components): W_1 U^T."""
    R = real_transform(1) @ spherical_basis().T
    if float(np.abs(R.imag).max()) > 1e-14:                 # pragma: no cover - fixed small matrices
        raise ArithmeticError("the real basis of V is not real")
    return np.ascontiguousarray(R.real)


#: size of the buffer of the last (in-place) coupling step
_COUPLE_CHUNK_BYTES = 2 ** 23


def so3_invariants_bytes(n: int, contiguous: bool = True) -> int:
    """Estimated peak bytes of :func:`so3_invariants` (n): two consecutive steps of kept copies (float64,
    sum_l m_l (2l+1) 3^k values at step k; the last step is done in place), and, with ``contiguous``, the
    (r(n), 3^n) result and its transposed copy."""
    if n < 3:
        return 8 * 3 ** max(n, 1) * 4 + 2 * _COUPLE_CHUNK_BYTES
    mult = so3_multiplicities(n, keep_reachable=True)
    sizes = [8 * sum(c * (2 * l + 1) for l, c in mult[k - 1].items()) * 3 ** k for k in range(1, n)]
    steps = max(a + b for a, b in zip(sizes[:-1], sizes[1:]))
    return max(steps, 2 * sizes[-1] if contiguous else 0) + 2 * _COUPLE_CHUNK_BYTES


def so3_invariants(n: int, *, contiguous: bool = True, max_bytes: int | float | None = None) -> torch.Tensor:
    """An orthonormal basis of the SO(3)-invariant vectors of V^(x)n by Clebsch-Gordan coupling.

    Args:
        n: the tensor degree (>= 1).
        contiguous: return a contiguous (3^n, r(n)) tensor; with False, the transposed view of the contiguous
            (r(n), 3^n) array the construction writes (no copy: one vector per row of ``Q.T``).
        max_bytes: memory limit for the estimate (:func:`symlie.utils.resources.check_memory`); None: the current
            limit.

    Returns:
        Q (3^n, r(n)) float64 with orthonormal columns (up to rounding), rows indexed row-major over the n factors
        in the library's (x, y, z) coordinates of each factor; r(n) = :func:`riordan` (n). Deterministic; the
        columns are grouped by coupling path (the intermediate types), not ordered by any spectrum.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n: expected a tensor degree >= 1, got {n!r}")
    s = 3 ** n
    check_memory(so3_invariants_bytes(n, contiguous),
                 f"method='cg': the Clebsch-Gordan copies of V^(x){n} ({s} unknowns, {riordan(n)} invariants)",
                 hint="the invariants themselves are large: use a smaller representation (fewer tensor factors)",
                 max_bytes=max_bytes)
    if n == 1:
        return torch.zeros(3, 0, dtype=torch.float64)
    # copies of the last k factors (n-k+1, ..., n), (count, 2l+1, 3^k); the next factor is prepended (the most
    # significant index), so that coupling is one matrix product per source type, written in place
    states: dict[int, torch.Tensor] = {1: torch.from_numpy(_initial_copy()).reshape(1, 3, 3)}
    for k in range(2, n):
        P = 3 ** (k - 1)
        j = n - k
        targets = sorted({L for l in states for L in (l - 1, l, l + 1) if L >= 0 and not (l == 0 and L != 1)})
        new: dict[int, torch.Tensor] = {}
        for L in targets:
            if not _reachable(L, j):
                continue
            srcs = [l for l in (L - 1, L, L + 1) if l in states and not (l == 0 and L != 1)]
            count = sum(states[l].shape[0] for l in srcs)
            out = torch.empty(count, (2 * L + 1) * 3, P, dtype=torch.float64)
            o = 0
            for l in srcs:
                X = states[l]                                                   # (m, 2l+1, P)
                C = torch.tensor(real_coupling(l, L))                           # (2L+1, 2l+1, 3)
                Cm = C.permute(0, 2, 1).reshape((2 * L + 1) * 3, 2 * l + 1)    # [nu * 3 + a, mu]
                torch.matmul(Cm, X, out=out[o:o + X.shape[0]])                   # R'_nu[a, p] = C[nu, mu, a] R_mu[p]
                o += X.shape[0]
            new[L] = out.view(count, 2 * L + 1, 3 * P)
        del states
        states = new
    # the last factor: only l = 1 copies reach L = 0 (one component of 3 * 3^(n-1) values, as many as the
    # copy's 3 components): coupled in place, chunk by chunk through one small buffer
    X = states.pop(1)                                                           # (r(n), 3, 3^(n-1))
    del states
    P = 3 ** (n - 1)
    Cm = torch.tensor(real_coupling(1, 0)).permute(0, 2, 1).reshape(3, 3)       # [a, mu]
    per = max(1, _COUPLE_CHUNK_BYTES // (8 * 3 * P))
    buf = torch.empty(min(per, X.shape[0]), 3, P, dtype=torch.float64)
    for c0 in range(0, X.shape[0], per):
        Xc = X[c0:c0 + per]
        torch.matmul(Cm, Xc, out=buf[:Xc.shape[0]])
        Xc.copy_(buf[:Xc.shape[0]])
    del buf
    out = X.view(-1, s)                                                         # (r(n), s)
    return out.T.contiguous() if contiguous else out.T


# ------------------------------------------------------------------------------------------ applicability
def so3_algebra_coordinates(basis: torch.Tensor) -> np.ndarray:
    """A (q, 3) float64: the coordinates xi_k = sum_a A[k, a] L_a of antisymmetric 3x3 matrices ``basis`` (q, 3, 3)
    in the standard generators (L_a)_{bc} = -eps_{abc} (a = x, y, z)."""
    B = basis.detach().to(torch.float64).cpu().numpy()
    return np.stack([B[:, 2, 1], B[:, 0, 2], B[:, 1, 0]], axis=1)


def so3_tensor_degree(rep: Rep, tol: float = 1e-12) -> tuple[int, str]:
    """(n, "") when ``rep`` is a tensor product of n >= 1 factors V, V* (or the linear Point action) of a group
    whose Lie algebra is so(3) (three antisymmetric 3x3 generators, any basis) and whose discrete generators are
    orthogonal, within ``tol`` (relative); else (0, the reason it is not)."""
    G = rep.group
    if G.affine:
        return 0, f"the group {G.name} is affine (homogeneous {G.matrix_size}x{G.matrix_size} matrices)"
    if G.matrix_size != 3 or G.dim != 3:
        return 0, (f"the group {G.name} is not SO(3) or O(3) (algebra of dimension {G.dim} on R^{G.matrix_size}; "
                   f"cg needs so(3) on R^3)")
    X = G.algebra.basis
    asym = float((X + X.transpose(-1, -2)).abs().max())
    if asym > tol * float(X.abs().max()):
        return 0, f"the algebra {G.algebra.name} of {G.name} is not so(3) (generators not antisymmetric: {asym:.1e})"
    H = G.discrete
    if H.shape[0]:
        I = torch.eye(3, dtype=H.dtype)
        orth = float((H.transpose(-1, -2) @ H - I).abs().max())
        if orth > tol:
            return 0, f"the discrete generators of {G.name} are not orthogonal (|h^T h - I| = {orth:.1e})"
    factors = rep.reps if isinstance(rep, ProductRep) else [rep]
    for f in factors:
        if not (isinstance(f, (Vector, Covector)) or (isinstance(f, Point) and f.is_linear)):
            return 0, (f"{rep} is not a tensor product of V and V* factors (it has the factor {f}, "
                       f"{type(f).__name__})")
    return len(factors), ""




# ------------------------------------------------------------------------------------------ verification
#: default size of one chunk of basis vectors in the residual check (kept small: the factor passes then run in cache)
CHECK_CHUNK_BYTES = 2 ** 21


def _apply_factor(src: torch.Tensor, M: np.ndarray, i: int, sizes: list[int], out: torch.Tensor) -> None:
    """out += (I (x) .. (x) M (x) .. (x) I) applied to each row of src, for src / out (c, s) contiguous (each row a
    vector indexed row-major over the factors); zero entries of M are skipped (a signed permutation costs one
    pass over the row per non-zero)."""
    A = math.prod(sizes[:i])
    d = sizes[i]
    B = math.prod(sizes[i + 1:])
    c = src.shape[0]
    sv = src.view(c, A, d, B)
    ov = out.view(c, A, d, B)
    for b in range(d):
        for a in range(d):
            v = float(M[b, a])
            if v != 0.0:
                ov[:, :, b].add_(sv[:, :, a], alpha=v)


def _monomial(mats: list[np.ndarray], sizes: list[int]) -> tuple[torch.Tensor | None, torch.Tensor] | None:
    """For factors that are all signed permutation matrices (one non-zero +-1 per row), the Kronecker product
    R_1 (x) ... (x) R_n as (Rq)[i] = sign[i] q[perm[i]] (perm None when it is the identity); else None."""
    perm = np.zeros(1, dtype=np.int64)
    sign = np.ones(1)
    for R, d in zip(mats, sizes):
        nz = R != 0
        if not (nz.sum(1) == 1).all() or not np.isin(R[nz], (-1.0, 1.0)).all():
            return None
        cols = nz.argmax(1)
        perm = (perm[:, None] * d + cols[None, :]).reshape(-1)
        sign = (sign[:, None] * R[np.arange(d), cols][None, :]).reshape(-1)
    ident = bool((perm == np.arange(perm.size)).all())
    return (None if ident else torch.from_numpy(perm)), torch.from_numpy(sign)


def kron_residuals(Qt: torch.Tensor, sizes: list[int], sums: list[list[np.ndarray]],
                   products: list[list[np.ndarray]], chunk_bytes: int = CHECK_CHUNK_BYTES
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Squared residual norms of basis vectors under Kronecker sums and products, without forming s x s matrices.

    Args:
        Qt: (k, s) float64, one vector per row (contiguous rows; e.g. ``Q.T`` of a column basis stored
            transposed), s = prod(sizes), indexed row-major over the factors.
        sizes: the factor sizes.
        sums: for each operator its factor matrices [D_1, ..., D_n]: sum_i I (x) D_i (x) I (the derivative of a
            tensor representation); residual ||D q||^2.
        products: for each operator [R_1, ..., R_n]: R_1 (x) ... (x) R_n; residual ||R q - q||^2.
        chunk_bytes: rows are processed in chunks of about this many bytes (small: the passes stay in cache).

    Returns:
        (sum over ``sums`` of ||D q_j||^2, sum over ``products`` of ||R q_j - q_j||^2), each (k,) float64.
    """
    k, s = Qt.shape
    check_memory(16 * s * len(products) + 4 * chunk_bytes + 3 * 8 * s, f"the residual check of {k} vectors of "
                 f"length {s}", hint="use a smaller representation (fewer tensor factors)")
    monomial = [_monomial(m, sizes) for m in products]
    rs = np.zeros(k)
    rp = np.zeros(k)
    per = max(1, chunk_bytes // (8 * max(s, 1)))
    buf = torch.empty(min(per, k), s, dtype=torch.float64)
    for c0 in range(0, k, per):
        Qc = Qt[c0:c0 + per].contiguous()
        c = Qc.shape[0]
        for mats in sums:
            r = buf[:c].zero_()
            for i, D in enumerate(mats):
                _apply_factor(Qc, D, i, sizes, r)
            rs[c0:c0 + c] += (r * r).sum(1).numpy()
        for mats, mono in zip(products, monomial):
            if mono is not None:                          # a signed permutation of the entries: one gather
                perm, sign = mono
                if perm is None:                          # diagonal: only the entries with sign != 1 contribute
                    idx = torch.nonzero(sign != 1).reshape(-1)
                    t = Qc[:, idx] * (sign[idx] - 1)
                else:
                    t = Qc[:, perm] * sign - Qc
            else:
                t = Qc
                for i, R in enumerate(mats):
                    nxt = torch.zeros(c, s, dtype=torch.float64)
                    _apply_factor(t, R, i, sizes, nxt)
                    t = nxt
                t = t - Qc
            rp[c0:c0 + c] += (t * t).sum(1).numpy()
    return rs, rp
