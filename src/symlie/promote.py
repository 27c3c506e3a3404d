"""PROMOTE: the nuclear norm of the Lie-derivative operator as a convex symmetry penalty, and its solver.

For a model F and a candidate algebra with Frobenius-orthonormal basis xi_1..xi_q, the matrix

    S_F[(n, a), j] = sqrt(w_n / sum w) (L_{xi_j} F)(x_n)[a]              (rows, q)

(the operator of :mod:`symlie.discovery`, convention (L_xi F)(x) = DF v_xi - drho_out(xi) F) has rank
q - dim sym(F). Its nuclear norm ||S_F||_* = sum_i sigma_i is the convex envelope of that rank: penalising it
drives the singular values of the symmetries the data allow exactly to zero and leaves the others free,
so the fit keeps the largest sub-algebra the data do not contradict (Otto et al.). The Frobenius norm
||S_F||_F^2 = sum_i sigma_i^2 is smooth, but it shrinks every value in proportion to its size and zeroes none
unless the data are consistent with the whole candidate group: it biases towards full symmetry instead of
selecting a sub-group. Both are available (``kind=``).

* :class:`NuclearNormPenalty`: a differentiable torch term for any model (batched autodiff through
  :func:`symlie.lie_derivative`), for layers in parameter form, or for stacks of several (one common
  sub-group for all of them).
* :class:`LieOperator`: the assembled, exactly compressed operator W -> S(W) of a linear-in-parameter model
  F_W(x) = W Phi(x). For polynomial libraries under linear or affine actions the Lie derivative maps the
  coefficient matrix to a coefficient matrix, C_j(W) = W M_j - drho_out(xi_j) W with M_j sparse
  (DPhi(x) v_j(x) = M_j Phi(x)), and evaluation at the sample points is a fixed matrix E = Phi(X_s) applied
  after it; with E = Q R (thin QR), ||S(W)||_* = ||[R C_j(W)^T]_j||_*, so the solver works with k <= D rows
  instead of N_s n_out and never forms the (N_s q) x D matrix.
* :func:`solve_promote`: min ||S(W)||_* s.t. Theta W^T = Y, or min 1/2 ||Theta W^T - Y||^2 + lam ||S(W)||_*
  (+ mu ||W||_1), by ADMM with singular-value soft-thresholding, in float64, with primal / dual residual
  stopping rules, residual balancing of the penalty parameter and warm starts; ``backend="cvxpy"`` solves
  the same program with cvxpy + SCS for cross-checking. The result carries the singular spectrum of S(W)
  and the kept symmetry algebra as a :class:`symlie.SymmetryResult`.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import torch

from ._validation import SymlieError, as_tensor, check_int
from .derivative import check_rep_out, lie_derivative, lie_derivative_linear
from .discovery import SymmetryResult, _finish, _resolve_candidates, _resolve_rep_in
from .library import Library, PolynomialLibrary

__all__ = ["LieOperator", "NuclearNormPenalty", "PromoteResult", "solve_promote", "InfeasibleError",
           "ConvergenceWarning", "layer_operator"]

DT = torch.float64


#: residual balancing: rho is multiplied (divided) by RHO_FACTOR when the primal residual exceeds RHO_BALANCE
#: times the dual one (or vice versa), checked with the stopping rule every ``check_every`` iterations
RHO_BALANCE = 3.0
RHO_FACTOR = 3.0


class InfeasibleError(SymlieError):
    """The interpolation constraints Theta W^T = Y have no solution (inconsistent data)."""


class ConvergenceWarning(UserWarning):
    """The solver stopped at ``max_iter`` before meeting its residual tolerances."""


# ------------------------------------------------------------------------------------------ operator
def _affine_field(rep_in, gens: torch.Tensor, n_in: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(A (q, n, n), b (q, n)) with v_j(x) = A_j x + b_j: the input vector fields of an affine action."""
    pts = torch.cat([torch.zeros(1, n_in, dtype=DT), torch.eye(n_in, dtype=DT)])
    v = rep_in.vector_field(gens, pts)                                   # (q, n + 1, n)
    b = v[:, 0]
    A = (v[:, 1:] - b[:, None, :]).transpose(1, 2)                       # A[:, :, i] = v(e_i) - v(0)
    return A, b


def _polynomial_maps(powers: np.ndarray, A: np.ndarray, b: np.ndarray) -> list[sp.csr_matrix] | None:
    """Sparse M_j (D, D) with DPhi(x) (A_j x + b_j) = M_j Phi(x) for the monomials with exponents ``powers``.

    d/dx_i x^alpha = alpha_i x^(alpha - e_i), so row f of M_j has alpha_i A_j[i, k] at alpha - e_i + e_k and
    alpha_i b_j[i] at alpha - e_i (degree-preserving and degree-lowering parts). Returns None when the
    library is not closed under the action (a derivative monomial is missing, e.g. the constant of a library
    without bias under translations)."""
    D, n = powers.shape
    base = int(powers.max()) + 2 if powers.size else 2
    codes = (powers.astype(np.int64) * (base ** np.arange(n, dtype=np.int64))).sum(1)
    order = np.argsort(codes)
    sorted_codes = codes[order]

    def lookup(p):
        c = (p.astype(np.int64) * (base ** np.arange(n, dtype=np.int64))).sum(1)
        pos = np.clip(np.searchsorted(sorted_codes, c), 0, D - 1)
        ok = sorted_codes[pos] == c
        return order[pos], ok

    pieces = {}                                  # per (i) and (i, k): fixed patterns, weighted by b_j[i], A_j[i, k]
    f_idx = np.arange(D)
    for i in range(n):
        a_i = powers[:, i]
        has = a_i > 0
        if not has.any():
            continue
        lowered = powers[has].copy()
        lowered[:, i] -= 1
        tgt, ok = lookup(lowered)
        pieces[("b", i)] = (f_idx[has][ok], tgt[ok], a_i[has][ok].astype(float), bool(ok.all()))
        for k in range(n):
            raised = lowered.copy()
            raised[:, k] += 1
            tgt, ok = lookup(raised)
            pieces[("A", i, k)] = (f_idx[has][ok], tgt[ok], a_i[has][ok].astype(float), bool(ok.all()))
    maps = []
    for j in range(A.shape[0]):
        rr, cc, vv = [], [], []
        for key, (r, c, v, closed) in pieces.items():
            coef = b[j, key[1]] if key[0] == "b" else A[j, key[1], key[2]]
            if coef != 0 and not closed:
                return None
            if coef != 0:
                rr.append(r)
                cc.append(c)
                vv.append(v * coef)
        if rr:
            M = sp.csr_matrix((np.concatenate(vv), (np.concatenate(rr), np.concatenate(cc))), shape=(D, D))
        else:
            M = sp.csr_matrix((D, D))
        M.sum_duplicates()
        maps.append(M)
    return maps


class LieOperator:
    """The assembled Lie-derivative operator of linear-in-parameter models F_W(x) = W Phi(x).

    ``apply(W)`` returns S(W) (rows, q): column j holds L_{xi_j} F_W at the sample points (weighted by
    sqrt(w_n / sum w), compressed by an orthogonal transformation of the rows that leaves every singular value
    unchanged). ``adjoint(Z)`` is its transpose, ``gram()`` the (P, P) matrix K with ||S(W)||_F^2 = w^T K w
    (w = vec(W) row-major, P = n_out D).

    Args:
        library: a fitted or unfitted :class:`symlie.Library` (fitted here on the points when needed).
        candidates: the candidate algebra (or Group; its continuous part is used), orthonormalised.
        n_in: number of input variables.
        rep_in: action on inputs (default ``sl.Point`` of the candidates).
        rep_out: linear representation on outputs (default invariant outputs); ``n_out`` outputs.
        points: (N_s, n_in) sample points; default ``n_points`` uniform points in [-box, box]^n_in (seeded),
            with ``n_points`` the exact count of :func:`symlie.regression.default_n_constraint_points`.
        weights: non-negative weights of the points (default equal).
        structured: ``"auto"`` (default) uses the sparse coefficient maps for a :class:`symlie.PolynomialLibrary`
            closed under the action (exact) and the dense point-sampled operator otherwise; ``True`` / ``False``
            force either.
    """

    def __init__(self, library: Library, candidates, n_in: int, *, rep_in=None, rep_out=None,
                 n_out: int | None = None, points=None, n_points: int | None = None, box: float = 1.0,
                 seed: int = 0, weights=None, structured="auto"):
        from .regression import default_n_constraint_points
        if not isinstance(library, Library):
            raise TypeError(f"library: expected a symlie Library, got {type(library).__name__}")
        n_in = check_int(n_in, "n_in", 1)
        alg, group = _resolve_candidates(candidates)
        self.candidates = alg
        rep_in = _resolve_rep_in(rep_in, alg, group, n_in)
        grp = rep_in.group
        if rep_out is not None:
            n_out = rep_out.size if n_out is None else n_out
        n_out = 1 if n_out is None else check_int(n_out, "n_out", 1)
        ro = check_rep_out(rep_out, grp, n_out, outputs=f"n_out = {n_out}")
        self.rep_in, self.rep_out, self.n_out, self.n_in = rep_in, ro, n_out, n_in
        if points is None:
            if n_points is None:
                n_points = default_n_constraint_points(library, grp, rep_in, ro, n_in, n_out)
            n_points = check_int(n_points, "n_points", 1)
            g = torch.Generator().manual_seed(int(seed))
            points = (2 * torch.rand(n_points, n_in, generator=g, dtype=DT) - 1) * box
        X = as_tensor(points, "points", ndim=2, dtype=DT)
        if X.shape[1] != n_in or X.shape[0] == 0:
            raise ValueError(f"points: expected shape (N_s >= 1, {n_in}), got {tuple(X.shape)}")
        if library.n_features_in is None:
            library.fit(X)
        self.library = library
        self.points = X
        N = X.shape[0]
        if weights is None:
            w = torch.full((N,), 1.0 / N, dtype=DT)
        else:
            w = as_tensor(weights, "weights", ndim=1, dtype=DT)
            if w.shape[0] != N or bool((w < 0).any()) or float(w.sum()) <= 0:
                raise ValueError(f"weights: expected {N} non-negative weights with a positive sum")
            w = w / w.sum()
        self.weights = w
        gens = alg.basis
        self.q = alg.dim
        D = library.n_output_features(n_in)
        self.D, self.P = D, n_out * D
        Rout = ro.drho(gens).to(DT) if not _is_trivial(ro) else torch.zeros(self.q, n_out, n_out, dtype=DT)
        self._Rout = Rout.numpy()
        maps = None
        if structured in ("auto", True) and isinstance(library, PolynomialLibrary):
            A, b = _affine_field(rep_in, gens, n_in)
            maps = _polynomial_maps(library.powers.numpy(), A.numpy(), b.numpy())
        if structured is True and maps is None:
            raise ValueError("structured: the sparse coefficient maps need a PolynomialLibrary closed under the "
                             "action (with its constant term when translations act); use structured=False")
        if maps is not None:
            self._Mt = sp.vstack([M.T.tocsr() for M in maps]).tocsr()  # (q D, D): block j = M_j^T
            self._maps = maps
            E = library.transform(X).to(DT) * w.sqrt()[:, None]          # (N, D)
            self._R = np.linalg.qr(E.numpy(), mode="r")                  # (k, D), k = min(N, D)
            self.structured = True
            self.rows = self._R.shape[0] * n_out
        else:
            S5 = lie_derivative_linear(library, gens, X, rep_in, ro, n_out=n_out)      # (q, N, a, b, f)
            T = (S5 * w.sqrt()[None, :, None, None, None]).reshape(self.q, N * n_out, self.P)
            self._T = T.numpy()
            self.structured = False
            self.rows = N * n_out
        self._K = None

    # -- the linear map ---------------------------------------------------------------------------
    def _as_W(self, W) -> np.ndarray:
        W = W.detach().numpy() if isinstance(W, torch.Tensor) else np.asarray(W, dtype=float)
        if W.size != self.P:
            raise ValueError(f"W: expected {self.P} coefficients (n_out={self.n_out} x D={self.D}), got shape {W.shape}")
        return W.reshape(self.n_out, self.D)

    def apply(self, W) -> np.ndarray:
        """S(W) (rows, q) for W (n_out, D) (or its flattening)."""
        W = self._as_W(W)
        if not self.structured:
            return np.einsum("jrp,p->rj", self._T, W.reshape(-1))
        CW = (self._Mt @ W.T).reshape(self.q, self.D, self.n_out)        # (W M_j)^T
        if self._Rout.any():
            CW = CW - np.einsum("jab,bf->jfa", self._Rout, W)             # - (R_j W)^T
        S = self._R @ CW.transpose(1, 2, 0).reshape(self.D, -1)          # one GEMM: (k, n_out q)
        return S.reshape(-1, self.q)

    def adjoint(self, Z) -> np.ndarray:
        """S^T(Z) (n_out, D) for Z (rows, q): <S(W), Z> = <W, S^T(Z)>."""
        Z = np.asarray(Z, dtype=float)
        if not self.structured:
            return np.einsum("jrp,rj->p", self._T, Z).reshape(self.n_out, self.D)
        G = (self._R.T @ Z.reshape(-1, self.n_out * self.q))              # one GEMM: (D, n_out q)
        G = G.reshape(self.D, self.n_out, self.q).transpose(2, 0, 1)      # (q, D, n_out)
        WT = self._Mt.T @ np.ascontiguousarray(G).reshape(self.q * self.D, self.n_out)   # sum_j M_j G_j
        if self._Rout.any():
            WT = WT - np.einsum("jfa,jab->fb", G, self._Rout)             # - sum_j G_j R_j
        return WT.T

    def gram(self) -> np.ndarray:
        """K (P, P) with ||S(W)||_F^2 = vec(W)^T K vec(W) (cached)."""
        if self._K is not None:
            return self._K
        if self.structured and self.n_out == 1 and not self._Rout.any():
            G = self._R.T @ self._R
            K = np.zeros((self.D, self.D))
            for M in self._maps:                                         # S_j w = R M_j^T w
                MG = M @ G                                               # (D, D) dense
                K += (M @ MG.T).T if sp.issparse(M) else M @ MG.T
            K = 0.5 * (K + K.T)
        else:
            K = np.zeros((self.P, self.P))
            eye = np.eye(self.P)
            for p in range(self.P):
                K[:, p] = self.adjoint(self.apply(eye[p])).reshape(-1)
            K = 0.5 * (K + K.T)
        self._K = K
        return K

    def matrix(self) -> torch.Tensor:
        """Dense (q, rows, P) tensor T with S(W)[:, j] = T[j] @ vec(W) (memory q rows P: small problems)."""
        if not self.structured:
            return torch.from_numpy(self._T.copy())
        out = np.zeros((self.q, self.rows, self.P))
        eye = np.eye(self.P)
        for p in range(self.P):
            out[:, :, p] = self.apply(eye[p]).T
        return torch.from_numpy(out)

    def singular_values(self, W) -> torch.Tensor:
        """(q,) singular values of S(W), descending (RMS Lie derivatives over the points)."""
        s = np.linalg.svd(self.apply(W), compute_uv=False)
        return torch.from_numpy(np.concatenate([s, np.zeros(self.q - s.size)]))

    def nuclear_norm(self, W) -> float:
        return float(self.singular_values(W).sum())

    def scale(self, W) -> float:
        """RMS |F_W - mean F_W| over the points (the reference of the kept-algebra rank rule)."""
        Wm = self._as_W(W)
        F = self.library.transform(self.points).numpy() @ Wm.T
        w = self.weights.numpy()[:, None]
        mean = (w * F).sum(0)
        return float(math.sqrt(max(float((w * (F - mean) ** 2).sum()), 0.0)))

    def __repr__(self) -> str:
        return (f"LieOperator({self.library!r}, {self.candidates.name}, q={self.q}, rows={self.rows}, P={self.P}, "
                f"{'structured' if self.structured else 'dense'})")


def _is_trivial(ro) -> bool:
    from .reps import Trivial
    return isinstance(ro, Trivial)


# ------------------------------------------------------------------------------------------- solver
@dataclass
class PromoteResult:
    """Solution of :func:`solve_promote`.

    Attributes:
        coef: (n_out, D) coefficients W.
        singular_values: (q,) singular values of S(W) (RMS Lie derivatives), descending.
        symmetry: the kept symmetry algebra (nullspace of S(W), rank rule ``kept_rtol`` relative to
            max(sigma_1, scale of F_W)) as a :class:`symlie.SymmetryResult`.
        objective: the objective value reached; nuclear_norm: ||S(W)||_*; data_residual: ||Theta W^T - Y||_F.
        n_iter, converged, status, primal_residual, dual_residual, rho: solver diagnostics (ADMM; for cvxpy
            the solver's status and iteration count).
        backend, seconds, problem: ``"admm"`` or ``"cvxpy"``; wall time; ``"interpolation"`` or ``"regularized"``.
    """

    coef: torch.Tensor
    singular_values: torch.Tensor
    symmetry: SymmetryResult
    objective: float
    nuclear_norm: float
    data_residual: float
    n_iter: int
    converged: bool
    status: str
    primal_residual: float
    dual_residual: float
    rho: float
    backend: str
    seconds: float
    problem: str
    history: dict = field(default_factory=dict, repr=False)


def _svd_tall(M: np.ndarray):
    """Thin SVD of a tall matrix through a QR first (LAPACK's SVD of a 1000 x 55 matrix is ~30x slower)."""
    if M.shape[0] > 2 * M.shape[1]:
        Q, R = np.linalg.qr(M)
        U, s, Vt = np.linalg.svd(R)
        return Q @ U, s, Vt
    return np.linalg.svd(M, full_matrices=False)


def _svt(M: np.ndarray, tau) -> np.ndarray:
    """Singular-value soft thresholding: argmin_Z tau ||Z||_* + 1/2 ||Z - M||_F^2. ``tau`` may be a vector of
    non-decreasing thresholds (one per singular value, largest value first): the prox of the weighted nuclear
    norm sum_i w_i sigma_i for non-decreasing weights."""
    U, s, Vt = _svd_tall(M)
    if not np.isscalar(tau):
        tau = np.asarray(tau)[: s.size]
    s = np.maximum(s - tau, 0.0)
    r = int((s > 0).sum())
    return (U[:, :r] * s[:r]) @ Vt[:r]


def _soft(x: np.ndarray, tau: float) -> np.ndarray:
    return np.sign(x) * np.maximum(np.abs(x) - tau, 0.0)


def solve_promote(Theta, Y, op: LieOperator, *, lam: float | None = None, mu: float = 0.0,
                  backend: str = "admm", rho: float | None = None, alpha: float = 1.7, max_iter: int = 20000,
                  eps_abs: float = 1e-10, eps_rel: float = 1e-7, warm_start=None, adapt_rho: bool = True,
                  feasibility_rtol: float = 1e-9, ridge: float = 1e-12, kept_rtol: float = 1e-5,
                  support=None, reweight: int = 0, reweight_eps: float = 1e-3,
                  solver_options: dict | None = None) -> PromoteResult:
    """Fit W with the nuclear-norm symmetry penalty (float64).

    Problems:
        ``lam=None``:   min ||S(W)||_*  s.t.  Theta W^T = Y      (exact interpolation, experiment E1)
        ``lam >= 0``:   min 1/(2N) ||Theta W^T - Y||_F^2 + lam ||S(W)||_* + mu ||W||_1

    Both terms are means over samples (S holds RMS Lie derivatives over the operator's points), so ``lam``
    keeps its meaning when N changes.

    Args:
        Theta: (N, D) design matrix (``library.transform(X)``); Y: (N,) or (N, n_out) targets.
        op: the :class:`LieOperator` (its library and n_out must match Theta and Y).
        lam, mu: penalty weights (>= 0). ``mu`` (sparsity) needs ``lam`` given.
        backend: ``"admm"`` (ours) or ``"cvxpy"`` (cvxpy + SCS, for cross-checking; options in
            ``solver_options``, e.g. ``{"max_iters": 2500}``).
        rho: initial ADMM penalty parameter (default: scaled to the problem); ``alpha``: over-relaxation in
            (0, 2); ``adapt_rho``: residual balancing (rho x or / RHO_FACTOR when one residual exceeds RHO_BALANCE times the other).
        max_iter, eps_abs, eps_rel: stopping rule ||r_primal|| <= sqrt(n) eps_abs + eps_rel max(||S W||, ||Z||)
            and ||r_dual|| <= sqrt(P) eps_abs + eps_rel ||rho S^T U|| (Boyd et al. 2011, section 3.3).
            Reaching ``max_iter`` returns the iterate with ``converged=False`` and a :class:`ConvergenceWarning`
            that states the residuals reached.
        warm_start: initial W (n_out, D), or a previous :class:`PromoteResult` (W, Z and the scaled dual).
        feasibility_rtol: for ``lam=None``, ||Theta W0^T - Y|| > feasibility_rtol ||Y|| for the least-squares W0
            raises :class:`InfeasibleError` (inconsistent interpolation constraints).
        ridge: tiny Tikhonov term (relative to the trace) that makes the W-update unique when the data and
            the penalty leave directions free (e.g. fully symmetric functions vanishing at every sample).
        kept_rtol: rank rule of the reported kept algebra.
        support: optional boolean mask (n_out, D): coefficients outside it are fixed at zero; ADMM backend only.
        reweight: rounds of reweighting (ADMM only): each round re-solves with the weighted nuclear norm
            sum_i w_i sigma_i, w_i = (1 + eps) sigma_1 / (sigma_i + eps sigma_1) from the previous solution
            (``eps = reweight_eps``), warm-started. Large (broken) values are then barely shrunk and small ones
            are pushed to exactly zero: the selection of the kept sub-group sharpens when noise keeps the
            plain nuclear norm from zeroing a symmetry. 0: the plain convex problem.
    """
    t0 = time.perf_counter()
    if not isinstance(op, LieOperator):
        raise TypeError(f"op: expected a LieOperator, got {type(op).__name__}")
    Th = as_tensor(Theta, "Theta", ndim=2, dtype=DT).numpy()
    Yt = as_tensor(Y, "Y", ndim=(1, 2), dtype=DT)
    Yn = (Yt.unsqueeze(1) if Yt.ndim == 1 else Yt).numpy()
    N, D = Th.shape
    if N == 0:
        raise ValueError("Theta: got 0 samples")
    if D != op.D:
        raise ValueError(f"Theta: has {D} columns but the operator's library has {op.D} features")
    if Yn.shape != (N, op.n_out):
        raise ValueError(f"Y: expected shape ({N},) or ({N}, {op.n_out}), got {tuple(Yt.shape)}")
    if lam is not None and (isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0
                            or not math.isfinite(lam)):
        raise ValueError(f"lam: expected a finite number >= 0 or None (interpolation), got {lam!r}")
    if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not mu >= 0 or not math.isfinite(mu):
        raise ValueError(f"mu: expected a finite number >= 0, got {mu!r}")
    if mu > 0 and lam is None:
        raise ValueError("mu: the l1 term needs the regularized problem (give lam)")
    if not 0 < alpha < 2:
        raise ValueError(f"alpha: expected 0 < alpha < 2, got {alpha}")
    max_iter = check_int(max_iter, "max_iter", 1)
    if backend not in ("admm", "cvxpy"):
        raise ValueError(f"backend: expected 'admm' or 'cvxpy', got {backend!r}")
    problem = "interpolation" if lam is None else "regularized"
    if support is None:
        mask = np.ones((op.n_out, D), dtype=bool)
    else:
        mask = np.asarray(support.detach().numpy() if isinstance(support, torch.Tensor) else support, dtype=bool)
        if mask.shape != (op.n_out, D):
            raise ValueError(f"support: expected a boolean mask of shape ({op.n_out}, {D}), got {mask.shape}")
        if backend != "admm":
            raise ValueError("support: only the 'admm' backend takes a support mask")
    if problem == "interpolation":
        res0 = 0.0
        for a in range(op.n_out):
            Ta = Th[:, mask[a]]
            wa = np.linalg.lstsq(Ta, Yn[:, a], rcond=None)[0] if Ta.shape[1] else np.zeros(0)
            res0 = math.hypot(res0, float(np.linalg.norm(Ta @ wa - Yn[:, a])))
        if res0 > feasibility_rtol * max(float(np.linalg.norm(Yn)), 1e-300):
            raise InfeasibleError(f"Theta, Y: the interpolation constraints Theta W^T = Y are inconsistent (least-"
                                  f"squares residual {res0:.3e} > feasibility_rtol * |Y| = "
                                  f"{feasibility_rtol * float(np.linalg.norm(Yn)):.3e}); use lam >= 0 for noisy data")
    if backend == "cvxpy":
        W, info = _solve_cvxpy(Th, Yn, op, lam, mu, solver_options or {})
    else:
        W, info = _admm(Th, Yn, op, lam, mu, rho=rho, alpha=alpha, max_iter=max_iter, eps_abs=eps_abs,
                        eps_rel=eps_rel, warm_start=warm_start, adapt_rho=adapt_rho, ridge=ridge, mask=mask)
        n_iter = info["n_iter"]
        for _ in range(reweight):
            # weights 1 / (sigma_i + eps sigma_1), scaled so the largest value keeps weight ~1: broken directions
            # are shrunk less, nearly-kept ones are pushed to exactly zero (log-det heuristic, Fazel et al.)
            sv = np.linalg.svd(op.apply(W), compute_uv=False)
            sv = np.concatenate([sv, np.zeros(op.q - sv.size)])
            if sv[0] <= 0:
                break
            w_ = (sv[0] + reweight_eps * sv[0]) / (sv + reweight_eps * sv[0])
            W, info = _admm(Th, Yn, op, lam, mu, rho=None, alpha=alpha, max_iter=max_iter, eps_abs=eps_abs,
                            eps_rel=eps_rel, warm_start=info["state"], adapt_rho=adapt_rho, ridge=ridge, mask=mask,
                            weights=w_)
            n_iter += info["n_iter"]
        info["n_iter"] = n_iter
    S = op.apply(W)
    sv = np.linalg.svd(S, compute_uv=False)
    nuc = float(sv.sum())
    resid = float(np.linalg.norm(Th @ W.T - Yn))
    obj = nuc if lam is None else 0.5 * resid ** 2 / N + lam * nuc + mu * float(np.abs(W).sum())
    Rq = np.linalg.qr(S, mode="r") if S.shape[0] >= S.shape[1] else S
    sym = _finish(op.candidates, torch.from_numpy(np.ascontiguousarray(Rq)), 1.0, op.scale(W), rule="rtol",
                  rtol=kept_rtol, atol=0.0, min_gap=1e3, floor=1e-15, closure_tol=None, discrete={},
                  n_samples=int(op.points.shape[0]), n_outputs=op.n_out, kind="promoted (linear)", fit=None,
                  info={"operator": repr(op)})
    if not info["converged"] and backend == "admm":
        warnings.warn(f"solve_promote: ADMM stopped at max_iter={max_iter} before convergence (primal residual "
                      f"{info['primal_residual']:.3e} vs tolerance {info['eps_pri']:.3e}, dual residual "
                      f"{info['dual_residual']:.3e} vs {info['eps_dual']:.3e}); raise max_iter or loosen eps_rel",
                      ConvergenceWarning, stacklevel=2)
    return PromoteResult(coef=torch.from_numpy(W.copy()), singular_values=torch.from_numpy(sv.copy()), symmetry=sym,
                         objective=float(obj), nuclear_norm=nuc, data_residual=resid, n_iter=info["n_iter"],
                         converged=info["converged"], status=info["status"],
                         primal_residual=info.get("primal_residual", float("nan")),
                         dual_residual=info.get("dual_residual", float("nan")), rho=info.get("rho", float("nan")),
                         backend=backend, seconds=time.perf_counter() - t0, problem=problem,
                         history=info.get("state", {}))


def _admm(Th, Yn, op: LieOperator, lam, mu, *, rho, alpha, max_iter, eps_abs, eps_rel, warm_start, adapt_rho,
          ridge, mask, weights=None, check_every=5):
    """ADMM on (w, Z [, v]) with Z = S(W) (and v = w for the l1 term); scaled duals U, u."""
    n_out, D, P = op.n_out, op.D, op.P
    K = op.gram()
    interp = lam is None
    sel = np.flatnonzero(mask.reshape(-1))                              # free coefficients (row-major vec W)
    if interp:
        # each output a: W_a = W0_a + Nb_a c_a on its support, W0_a the least-squares (= exact) solution and
        # Nb_a a basis of the null space of Theta restricted to the support: the constraints are eliminated once
        W0 = np.zeros((n_out, D))
        blocks = []
        for a in range(n_out):
            cols = np.flatnonzero(mask[a])
            Ta = Th[:, cols]
            if cols.size:
                W0[a, cols] = np.linalg.lstsq(Ta, Yn[:, a], rcond=None)[0]
                _, s_, Vt_ = np.linalg.svd(Ta, full_matrices=True)
                r = int((s_ > max(Ta.shape) * np.finfo(float).eps * (s_[0] if s_.size else 0)).sum())
                Nb = np.zeros((P, cols.size - r))
                Nb[a * D + cols, :] = Vt_[r:].T
                blocks.append(Nb)
        B = np.concatenate(blocks, 1) if blocks else np.zeros((P, 0))
        Kr = B.T @ K @ B
        if Kr.shape[0]:
            Kr = Kr + ridge * max(float(np.trace(Kr)) / Kr.shape[0], 1e-300) * np.eye(Kr.shape[0])
        chol = sla.cho_factor(Kr) if Kr.shape[0] else None
        KW0 = K @ W0.reshape(-1)

        def w_update(target):                                          # argmin ||S(W) - target||^2 on the plane
            if chol is None:
                return W0.copy()
            theta = sla.cho_solve(chol, B.T @ (op.adjoint(target).reshape(-1) - KW0))
            return W0 + (B @ theta).reshape(n_out, D)
    else:
        Ns = Th.shape[0]
        H = np.kron(np.eye(n_out), Th.T @ Th) / Ns
        ThY = (Th.T @ Yn).T.reshape(-1) / Ns                            # vec(Y^T Theta) / N, row-major
        cache = {}

        def factor(rho_):
            if rho_ not in cache:
                cache.clear()
                M = (H + rho_ * K + (rho_ if mu > 0 else 0.0) * np.eye(P))[np.ix_(sel, sel)]
                M = M + ridge * max(float(np.trace(M)) / max(len(sel), 1), 1e-300) * np.eye(len(sel))
                cache[rho_] = sla.cho_factor(M)
            return cache[rho_]

    # initial point: a previous ADMM state (a PromoteResult's history, or the state dict of a reweighting
    # round), or coefficients (a cvxpy result's, an array or a tensor)
    state = None
    if isinstance(warm_start, PromoteResult):
        state, warm_start = (warm_start.history, None) if warm_start.history else (None, warm_start.coef)
    elif isinstance(warm_start, dict):
        state, warm_start = warm_start, None
    if warm_start is not None:
        ws = warm_start.detach().numpy() if isinstance(warm_start, torch.Tensor) else np.asarray(warm_start, float)
        if ws.size != P:
            raise ValueError(f"warm_start: expected {P} coefficients (n_out={n_out} x D={D}), got shape {ws.shape}")
        warm_start = ws
    if state is not None:
        W, Z, U = state["W"].copy(), state["Z"].copy(), state["U"].copy()
        v, u = state.get("v", W.copy()), state.get("u", np.zeros_like(W))
        rho = state.get("rho", rho)
        if Z.shape != (op.rows, op.q) or W.shape != (n_out, D):
            raise ValueError("warm_start: the previous result belongs to a problem of another size")
        if interp:
            W = w_update(Z - U)
    else:
        if warm_start is not None:
            W = warm_start.reshape(n_out, D) * mask
        elif interp:
            W = W0.copy()
        else:
            W = np.zeros((n_out, D))
            for a in range(n_out):
                cols = np.flatnonzero(mask[a])
                if cols.size:
                    W[a, cols] = np.linalg.lstsq(Th[:, cols], Yn[:, a], rcond=None)[0]
        Z = op.apply(W)
        U = np.zeros_like(Z)
        v, u = W.copy(), np.zeros_like(W)
    if rho is None:
        # balance the two terms at the start: rho ~ size of the nuclear-norm gradient over the data scale
        sv = np.linalg.svd(op.apply(W), compute_uv=False)
        rho = 1.0 / max(float(sv[0]) if sv.size and sv[0] > 0 else 1.0, 1e-12)
        if not interp:
            rho = max(rho * (lam if lam > 0 else 1.0), 1e-8)
    wts = np.ones(op.q) if weights is None else weights
    tau = (1.0 / rho if interp else lam / rho) * wts
    status, converged = "max_iter", False
    rp = sd = eps_pri = eps_dual = float("nan")
    it = 0
    for it in range(1, max_iter + 1):
        if interp:
            W = w_update(Z - U)
        else:
            rhs = ThY + rho * op.adjoint(Z - U).reshape(-1) + (rho * (v - u).reshape(-1) if mu > 0 else 0.0)
            w = np.zeros(P)
            w[sel] = sla.cho_solve(factor(rho), rhs[sel])
            W = w.reshape(n_out, D)
        SW = op.apply(W)
        SWh = alpha * SW + (1 - alpha) * Z
        Z_old = Z
        Z = _svt(SWh + U, tau)
        U = U + SWh - Z
        if mu > 0:
            Wh = alpha * W + (1 - alpha) * v
            v_old = v
            v = _soft(Wh + u, mu / rho)
            u = u + Wh - v
        if it % check_every and it != max_iter:
            continue
        # residuals (every check_every iterations: the adjoints cost as much as an iteration)
        rp2 = float(np.sum((SW - Z) ** 2))
        dZ = op.adjoint(Z - Z_old)
        sd2 = float(np.sum(dZ ** 2)) * rho ** 2
        npri = op.rows * op.q
        pri_scale = max(float(np.linalg.norm(SW)), float(np.linalg.norm(Z)))
        dual_scale = rho * float(np.linalg.norm(op.adjoint(U)))
        if mu > 0:
            rp2 += float(np.sum((W - v) ** 2))
            sd2 += rho ** 2 * float(np.sum((v - v_old) ** 2))
            npri += P
            pri_scale = max(pri_scale, float(np.linalg.norm(W)), float(np.linalg.norm(v)))
            dual_scale = math.hypot(dual_scale, rho * float(np.linalg.norm(u)))
        rp, sd = math.sqrt(rp2), math.sqrt(sd2)
        eps_pri = math.sqrt(npri) * eps_abs + eps_rel * pri_scale
        eps_dual = math.sqrt(P) * eps_abs + eps_rel * dual_scale
        if rp <= eps_pri and sd <= eps_dual:
            status, converged = "converged", True
            break
        if adapt_rho:
            scale = 1.0
            if rp > RHO_BALANCE * sd:
                scale = RHO_FACTOR
            elif sd > RHO_BALANCE * rp:
                scale = 1.0 / RHO_FACTOR
            if scale != 1.0:
                rho *= scale
                U /= scale
                u /= scale
                tau = (1.0 / rho if interp else lam / rho) * wts
    if mu > 0 and converged:
        W = v                                                           # the exactly sparse copy
    state = {"W": W, "Z": Z, "U": U, "v": v, "u": u, "rho": rho}
    return W, {"n_iter": it, "converged": converged, "status": status, "primal_residual": rp, "dual_residual": sd,
               "eps_pri": eps_pri, "eps_dual": eps_dual, "rho": rho, "state": state}


def _solve_cvxpy(Th, Yn, op: LieOperator, lam, mu, options: dict):
    try:
        import cvxpy as cp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("backend='cvxpy' needs cvxpy: pip install 'symlie[convex]' (cvxpy with SCS)") from exc
    T = op.matrix().numpy()                                             # (q, rows, P)
    n_out, D = op.n_out, op.D
    w = cp.Variable(op.P)
    S = cp.hstack([cp.reshape(T[j] @ w, (op.rows, 1), order="C") for j in range(op.q)])
    Wm = cp.reshape(w, (n_out, D), order="C")
    nuc = cp.normNuc(S)
    if lam is None:
        prob = cp.Problem(cp.Minimize(nuc), [Th @ Wm.T == Yn])
    else:
        obj = 0.5 / Th.shape[0] * cp.sum_squares(Th @ Wm.T - Yn) + lam * nuc + (mu * cp.norm1(w) if mu > 0 else 0)
        prob = cp.Problem(cp.Minimize(obj))
    opts = {"solver": "SCS"}
    opts.update(options)
    prob.solve(**opts)
    if w.value is None:
        raise SymlieError(f"backend='cvxpy': the solver returned no solution (status {prob.status})")
    stats = prob.solver_stats
    n_iter = int(getattr(stats, "num_iters", 0) or 0)
    return np.asarray(w.value, dtype=float).reshape(n_out, D), {
        "n_iter": n_iter, "converged": prob.status in ("optimal",), "status": str(prob.status)}


# ------------------------------------------------------------------------------------- torch penalty
def layer_operator(weight: torch.Tensor, bias: torch.Tensor | None, candidates, rep_in, rep_out) -> torch.Tensor:
    """Parameter-form Lie derivative of an affine layer x -> W x + b (differentiable in W, b).

    L_xi W = W drho_in(xi) - drho_out(xi) W and L_xi b = -drho_out(xi) b (the action (W, b) ->
    (rho_out W rho_in^{-1}, rho_out b)); returns the (out * in [+ out], q) matrix whose column j stacks both.
    """
    alg, _ = _resolve_candidates(candidates)
    gens = alg.basis
    Din = rep_in.drho(gens).to(weight.dtype)                             # (q, in, in)
    Dout = rep_out.drho(gens).to(weight.dtype)                           # (q, out, out)
    if weight.shape != (Dout.shape[1], Din.shape[1]):
        raise ValueError(f"weight: expected shape ({Dout.shape[1]}, {Din.shape[1]}) for {rep_in} -> {rep_out}, got "
                         f"{tuple(weight.shape)}")
    LW = torch.einsum("oi,jik->jok", weight, Din) - torch.einsum("jop,pi->joi", Dout, weight)
    cols = [LW.reshape(alg.dim, -1)]
    if bias is not None:
        cols.append(-torch.einsum("jop,p->jo", Dout, bias))
    return torch.cat(cols, 1).T


class NuclearNormPenalty(torch.nn.Module):
    """R(F) = ||S_F||_* (or ||S_F||_F^2): a differentiable symmetry penalty over a candidate algebra.

    ``penalty(model)`` evaluates S_F = [L_{xi_j} F at the stored points]_j (rows scaled by sqrt(w_n / sum w))
    with :func:`symlie.lie_derivative`, differentiable in the model's parameters, and returns its nuclear
    norm. ``penalty(model_1, model_2, ...)`` or matrices (rows, q) (e.g. from :func:`layer_operator`) stack the
    operators along the rows before the norm: one common symmetry sub-algebra for all of them.

    Args:
        candidates: the candidate algebra (or Group), orthonormalised (the nuclear norm depends on the inner
            product of the algebra, not on which orthonormal basis is used).
        X: (N, n_in) points where the Lie derivatives are evaluated (their dtype is used).
        rep_in, rep_out, dynamics: as in :func:`symlie.discover`.
        weights: optional non-negative weights of the points.
        kind: ``"nuclear"`` (selects a sub-group: the values the data allow go exactly to zero) or
            ``"frobenius"`` (sum of squared Lie derivatives: smooth, but shrinks every value proportionally and
            zeroes none unless the whole candidate group fits the data).
        autodiff: as in :func:`symlie.lie_derivative` (must stay differentiable: all modes are).
    """

    def __init__(self, candidates, X, *, rep_in=None, rep_out=None, dynamics: bool = False, weights=None,
                 kind: str = "nuclear", autodiff: str = "auto"):
        super().__init__()
        if kind not in ("nuclear", "frobenius"):
            raise ValueError(f"kind: expected 'nuclear' or 'frobenius', got {kind!r}")
        alg, group = _resolve_candidates(candidates)
        x = as_tensor(X, "X", ndim=2)
        if x.shape[0] == 0:
            raise ValueError("X: got 0 points")
        self.candidates = alg
        self.rep_in = _resolve_rep_in(rep_in, alg, group, x.shape[1])
        self.rep_out = self.rep_in.tangent() if dynamics else rep_out
        self.kind, self.autodiff = kind, autodiff
        self.register_buffer("X", x)
        self.register_buffer("generators", alg.basis.to(x.dtype))
        if weights is None:
            w = torch.full((x.shape[0],), 1.0 / x.shape[0], dtype=x.dtype)
        else:
            w = as_tensor(weights, "weights", ndim=1).to(x.dtype)
            if w.shape[0] != x.shape[0] or bool((w < 0).any()) or float(w.sum()) <= 0:
                raise ValueError(f"weights: expected {x.shape[0]} non-negative weights with a positive sum")
            w = w / w.sum()
        self.register_buffer("sqrt_w", w.sqrt())

    def operator(self, model) -> torch.Tensor:
        """S_F (N n_out, q), differentiable in the parameters of ``model``."""
        L = lie_derivative(model, self.generators, self.X, self.rep_in, self.rep_out, autodiff=self.autodiff)
        if L.ndim == 2:
            L = L.unsqueeze(-1)
        L = L * self.sqrt_w[None, :, None]
        return L.permute(1, 2, 0).reshape(-1, L.shape[0])

    def forward(self, *terms) -> torch.Tensor:
        if not terms:
            raise ValueError("NuclearNormPenalty: give at least one model or operator matrix")
        mats = []
        for t in terms:
            if isinstance(t, torch.Tensor):
                if t.ndim != 2 or t.shape[1] != self.candidates.dim:
                    raise ValueError(f"terms: an operator matrix must have shape (rows, {self.candidates.dim}), got "
                                     f"{tuple(t.shape)}")
                mats.append(t)
            else:
                mats.append(self.operator(t))
        S = torch.cat(mats, 0) if len(mats) > 1 else mats[0]
        if self.kind == "frobenius":
            return (S ** 2).sum()
        return torch.linalg.matrix_norm(S, ord="nuc")
