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
import torch

from ..derivative.operator import AffineOperator, LieOperator
from ..discovery import SymmetryResult, symmetry_result
from ..linalg import RankRule
from ..utils.errors import ConvergenceWarning, InfeasibleError, SymlieError
from ..utils.validation import as_tensor, check_int

__all__ = ["PromoteResult", "solve_promote", "InfeasibleError", "ConvergenceWarning"]

DT = torch.float64

#: the operators the solver takes: S(W) linear (LieOperator) or affine (AffineOperator, e.g. equations)
Operator = LieOperator | AffineOperator


#: residual balancing: rho is multiplied (divided) by RHO_FACTOR when the primal residual exceeds RHO_BALANCE
#: times the dual one (or vice versa), checked with the stopping rule every ``check_every`` iterations
RHO_BALANCE = 3.0
RHO_FACTOR = 3.0




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


def _svt(M: np.ndarray, tau, return_rank: bool = False):
    """Singular-value soft thresholding: argmin_Z tau ||Z||_* + 1/2 ||Z - M||_F^2. ``tau`` may be a vector of
    non-decreasing thresholds (one per singular value, largest value first): the prox of the weighted nuclear
    norm sum_i w_i sigma_i for non-decreasing weights. ``return_rank``: also return the rank of Z."""
    U, s, Vt = _svd_tall(M)
    if not np.isscalar(tau):
        tau = np.asarray(tau)[: s.size]
    s = np.maximum(s - tau, 0.0)
    r = int((s > 0).sum())
    Z = (U[:, :r] * s[:r]) @ Vt[:r]
    return (Z, r) if return_rank else Z


def _reweight(sv: np.ndarray, eps: float) -> np.ndarray:
    """Weights of the reweighted nuclear norm from a descending spectrum sv (sv[0] > 0): w_i = 1 / (sigma_i +
    eps sigma_1), scaled by (1 + eps) sigma_1 so the largest value keeps weight 1 (non-decreasing, so the prox
    is a weighted SVT, :func:`_svt`)."""
    return (sv[0] + eps * sv[0]) / (sv + eps * sv[0])


def _soft(x: np.ndarray, tau: float) -> np.ndarray:
    return np.sign(x) * np.maximum(np.abs(x) - tau, 0.0)


def solve_promote(Theta, Y, op: Operator, *, lam: float | None = None, mu: float = 0.0,
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
        op: the :class:`LieOperator` (its library and n_out must match Theta and Y), or an
            :class:`symlie.derivative.AffineOperator` S(W) = T(W) - B (e.g. the symmetry criterion of an equation
            u_t = Theta W, :func:`symlie.promote.fit_promoted_equation`).
        lam, mu: penalty weights (>= 0). ``mu`` (sparsity) needs ``lam`` given.
        backend: ``"admm"`` (ours) or ``"cvxpy"`` (cvxpy + SCS, for cross-checking; options in
            ``solver_options``, e.g. ``{"max_iters": 2500}``).
        rho: initial ADMM penalty parameter (default: scaled to the problem); ``alpha``: over-relaxation in
            (0, 2); ``adapt_rho``: residual balancing (rho x or / RHO_FACTOR when one residual exceeds RHO_BALANCE
            times the other).
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
    if not isinstance(op, (LieOperator, AffineOperator)):
        raise TypeError(f"op: expected a LieOperator or AffineOperator, got {type(op).__name__}")
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
            w_ = _reweight(sv, reweight_eps)
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
    kind = "promoted (linear)" if isinstance(op, LieOperator) else "promoted (affine)"
    sym = symmetry_result(op.action, torch.from_numpy(np.ascontiguousarray(Rq)), 1.0, op.scale(W),
                          rule=RankRule("rtol", rtol=kept_rtol), n_samples=int(op.points.shape[0]),
                          n_outputs=op.n_out, kind=kind, info={"operator": repr(op)},
                          points=op.points[:256])
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


def _adjoint_shifted(op, M: np.ndarray) -> np.ndarray:
    """T^T(M + B): the adjoint of the linear part applied to M shifted by the operator's offset B, so that
    argmin_W ||S(W) - M||^2 = argmin ||T(W) - (M + B)||^2 (B = 0 for a LieOperator)."""
    return op.adjoint(M if op.offset is None else M + op.offset)


def _interpolation_plane(Th, Yn, op: Operator, mask, ridge):
    """Interpolation Theta W^T = Y eliminated once: W_a = W0_a + Nb_a c_a on each output's support (W0 the
    least-squares, i.e. exact, solution; Nb a basis of the null space of Theta restricted to the support).
    Returns (W0, w_update) with w_update(target) = argmin ||S(W) - target||^2 on that plane."""
    n_out, D, P = op.n_out, op.D, op.P
    K = op.gram()
    W0 = np.zeros((n_out, D))
    blocks = []
    for a in range(n_out):
        cols = np.flatnonzero(mask[a])
        Ta = Th[:, cols]
        if cols.size:
            W0[a, cols] = np.linalg.lstsq(Ta, Yn[:, a], rcond=None)[0]
            _, s_, Vt_ = np.linalg.svd(Ta, full_matrices=True)
            r = RankRule("rtol", rtol=max(Ta.shape) * float(np.finfo(float).eps)).cut(torch.from_numpy(s_))[0] \
                if s_.size else 0
            Nb = np.zeros((P, cols.size - r))
            Nb[a * D + cols, :] = Vt_[r:].T
            blocks.append(Nb)
    B = np.concatenate(blocks, 1) if blocks else np.zeros((P, 0))
    Kr = B.T @ K @ B
    if Kr.shape[0]:
        Kr = Kr + ridge * max(float(np.trace(Kr)) / Kr.shape[0], 1e-300) * np.eye(Kr.shape[0])
    chol = sla.cho_factor(Kr) if Kr.shape[0] else None
    KW0 = K @ W0.reshape(-1)

    def w_update(target):
        if chol is None:
            return W0.copy()
        theta = sla.cho_solve(chol, B.T @ (_adjoint_shifted(op, target).reshape(-1) - KW0))
        return W0 + (B @ theta).reshape(n_out, D)

    return W0, w_update


def _regularized_update(Th, Yn, op: Operator, mu, mask, ridge):
    """The W-update of the regularized problem, argmin 1/(2N) ||Theta W^T - Y||^2 + rho/2 ||S(W) - Z + U||^2
    (+ rho/2 ||W - v + u||^2 with the l1 term), with the Cholesky factor cached per rho."""
    n_out, D, P = op.n_out, op.D, op.P
    K = op.gram()
    sel = np.flatnonzero(mask.reshape(-1))                              # free coefficients (row-major vec W)
    Ns = Th.shape[0]
    H = np.kron(np.eye(n_out), Th.T @ Th) / Ns
    ThY = (Th.T @ Yn).T.reshape(-1) / Ns                                # vec(Y^T Theta) / N, row-major
    cache: dict = {}

    def factor(rho_):
        if rho_ not in cache:
            cache.clear()
            M = (H + rho_ * K + (rho_ if mu > 0 else 0.0) * np.eye(P))[np.ix_(sel, sel)]
            M = M + ridge * max(float(np.trace(M)) / max(len(sel), 1), 1e-300) * np.eye(len(sel))
            cache[rho_] = sla.cho_factor(M)
        return cache[rho_]

    def w_update(Z, U, v, u, rho_):
        rhs = ThY + rho_ * _adjoint_shifted(op, Z - U).reshape(-1) + (rho_ * (v - u).reshape(-1) if mu > 0 else 0.0)
        w = np.zeros(P)
        w[sel] = sla.cho_solve(factor(rho_), rhs[sel])
        return w.reshape(n_out, D)

    return w_update


def _initial_state(warm_start, op: Operator, Th, Yn, mask, W0, plane_update, rho):
    """(W, Z, U, v, u, rho) from a previous ADMM state (a PromoteResult's history, or the state dict of a
    reweighting round), from coefficients (a cvxpy result's, an array or a tensor), or from least squares."""
    n_out, D, P = op.n_out, op.D, op.P
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
        if plane_update is not None:
            W = plane_update(Z - U)
        return W, Z, U, v, u, rho
    if warm_start is not None:
        W = warm_start.reshape(n_out, D) * mask
    elif W0 is not None:
        W = W0.copy()
    else:
        W = np.zeros((n_out, D))
        for a in range(n_out):
            cols = np.flatnonzero(mask[a])
            if cols.size:
                W[a, cols] = np.linalg.lstsq(Th[:, cols], Yn[:, a], rcond=None)[0]
    Z = op.apply(W)
    return W, Z, np.zeros_like(Z), W.copy(), np.zeros_like(W), rho


def _residuals(op: Operator, SW, Z, Z_old, U, W, v, v_old, u, rho, mu, eps_abs, eps_rel):
    """Boyd's primal / dual residuals and tolerances (rp, sd, eps_pri, eps_dual) of the split."""
    rp2 = float(np.sum((SW - Z) ** 2))
    sd2 = float(np.sum(op.adjoint(Z - Z_old) ** 2)) * rho ** 2
    npri = op.rows * op.q
    pri_scale = max(float(np.linalg.norm(SW)), float(np.linalg.norm(Z)))
    dual_scale = rho * float(np.linalg.norm(op.adjoint(U)))
    if mu > 0:
        rp2 += float(np.sum((W - v) ** 2))
        sd2 += rho ** 2 * float(np.sum((v - v_old) ** 2))
        npri += op.P
        pri_scale = max(pri_scale, float(np.linalg.norm(W)), float(np.linalg.norm(v)))
        dual_scale = math.hypot(dual_scale, rho * float(np.linalg.norm(u)))
    eps_pri = math.sqrt(npri) * eps_abs + eps_rel * pri_scale
    eps_dual = math.sqrt(op.P) * eps_abs + eps_rel * dual_scale
    return math.sqrt(rp2), math.sqrt(sd2), eps_pri, eps_dual


def _admm(Th, Yn, op: Operator, lam, mu, *, rho, alpha, max_iter, eps_abs, eps_rel, warm_start, adapt_rho,
          ridge, mask, weights=None, check_every=5):
    """ADMM on (w, Z [, v]) with Z = S(W) (and v = w for the l1 term); scaled duals U, u."""
    interp = lam is None
    W0, plane = _interpolation_plane(Th, Yn, op, mask, ridge) if interp else (None, None)
    reg_update = None if interp else _regularized_update(Th, Yn, op, mu, mask, ridge)
    W, Z, U, v, u, rho = _initial_state(warm_start, op, Th, Yn, mask, W0, plane, rho)
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
        if plane is not None:
            W = plane(Z - U)
        else:
            assert reg_update is not None
            W = reg_update(Z, U, v, u, rho)
        SW = op.apply(W)
        SWh = alpha * SW + (1 - alpha) * Z
        Z_old = Z
        Z = _svt(SWh + U, tau)
        U = U + SWh - Z
        v_old = v
        if mu > 0:
            Wh = alpha * W + (1 - alpha) * v
            v = _soft(Wh + u, mu / rho)
            u = u + Wh - v
        if it % check_every and it != max_iter:
            continue
        # residuals (every check_every iterations: the adjoints cost as much as an iteration)
        rp, sd, eps_pri, eps_dual = _residuals(op, SW, Z, Z_old, U, W, v, v_old, u, rho, mu, eps_abs, eps_rel)
        if rp <= eps_pri and sd <= eps_dual:
            status, converged = "converged", True
            break
        if adapt_rho:
            scale = RHO_FACTOR if rp > RHO_BALANCE * sd else (1.0 / RHO_FACTOR if sd > RHO_BALANCE * rp else 1.0)
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


def _solve_cvxpy(Th, Yn, op: Operator, lam, mu, options: dict):
    try:
        import cvxpy as cp
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("backend='cvxpy' needs cvxpy: pip install 'symlie[convex]' (cvxpy with SCS)") from exc
    T = op.matrix().numpy()                                             # (q, rows, P)
    n_out, D = op.n_out, op.D
    w = cp.Variable(op.P)
    B = np.zeros((op.rows, op.q)) if op.offset is None else op.offset
    S = cp.hstack([cp.reshape(T[j] @ w - B[:, j], (op.rows, 1), order="C") for j in range(op.q)])
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


