"""Sparse identification of dynamics x' = f(x) with enforced symmetry (SINDy + framework section 2.3).

The model is f_W(x) = W Phi(x) with W of shape (n, D). A group acting on states by ``rep`` (e.g. ``Point(G)``)
acts on velocities by the tangent lift, so the output representation is ``rep.tangent()`` and the
continuous constraints are L_xi f = Df v_xi - A_xi f = [v_xi, f] (cf. :func:`symlie.lie_derivative_dynamics`);
they are assembled by :func:`symlie.lie_derivative_linear` with ``rep_out = rep.tangent()``, plus
K_h f - f = 0 for the discrete generators h (see :mod:`symlie.regression`).

Sparse regression: sequentially thresholded least squares (STLSQ, Brunton et al. 2016) carried out in the
reduced coordinates c of W = B c. Consequences (by design, review when comparing with plain SINDy):

  * sparsity is counted in the *equivariant basis*, not in the raw monomial coefficients: one retained
    coordinate c_j switches on a whole symmetric pattern of monomials (e.g. |x|^2 x = (x^3 + x y^2,
    x^2 y + y^3) for SO(2)); the raw coef_ of an equivariant model is typically not sparser than that.
  * thresholds are basis dependent. An orthonormal nullspace basis (what :func:`symlie.nullspace` returns)
    mixes patterns arbitrarily, so |c_j| would have no meaning. We therefore rotate the basis to *reduced
    column echelon form* before thresholding: B_e = B (B[p, :])^{-1} for k pivot coefficients p chosen
    left to right in vec(W) order (row-major W[b, f], i.e. output component, then feature in library
    order, so lower-degree monomials of the first component become pivots first), with partial pivoting.
    Each basis vector then has a 1 at its own pivot coefficient and 0 at the other pivots, it is as sparse
    as the span allows for that pivot set, and c_j *equals the raw coefficient W at pivot j*. The threshold
    is therefore in the same units as a plain-SINDy threshold on monomial coefficients. Entries of B_e
    below ``rtol`` (relative) are set to exactly 0 when that keeps the constraint residual below the rank
    threshold, so zero patterns in coef_ are exact.
  * with ``mode="none"`` the basis is the identity and this is ordinary STLSQ SINDy.

Derivatives: ``fit(X, Xdot)`` uses the given derivatives; ``fit(X, t=...)`` estimates them with
second-order finite differences (``numpy.gradient(X, t, axis=0, edge_order=2)``: central differences inside,
second-order one-sided differences at both ends; non-uniform t allowed). Noisy data need smoothing first.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from ..derivative.constraints import linear_model_constraints
from ..lie.groups import as_group
from ..lie.reps import Point, Rep
from ..linalg import echelon_basis
from ..library import Library
from ..utils.errors import BlowUpWarning
from ..utils.validation import SymlieError, as_tensor, check_int
from .regression import (DT, SymmetricRegressor, _as_data, _check_params, _like, _lstsq, design_status,
                         format_equations)

__all__ = ["SymmetricSINDy", "echelon_basis", "finite_difference"]


def finite_difference(X: torch.Tensor, t) -> torch.Tensor:
    """Second-order finite-difference derivative of samples X (N, n) at times t (scalar step or (N,) array)."""
    Xn = X.numpy()
    N = Xn.shape[0]
    if N < 3:
        raise ValueError(f"X: finite differences need at least 3 samples, got {N}")
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        if not (math.isfinite(t) and t > 0):
            raise ValueError(f"t: a scalar time step must be positive and finite, got {t!r}")
        return torch.from_numpy(np.gradient(Xn, float(t), axis=0, edge_order=2))
    tt = as_tensor(t, "t", dtype=DT, ndim=1).cpu().numpy()
    if tt.shape[0] != N:
        raise ValueError(f"t: expected {N} time stamps (one per row of X), got {tt.shape[0]}")
    if not np.all(np.diff(tt) > 0):
        raise ValueError("t: time stamps must be strictly increasing")
    return torch.from_numpy(np.gradient(Xn, tt, axis=0, edge_order=2))


class SymmetricSINDy(SymmetricRegressor):
    """SINDy for x' = f(x) = W Phi(x) with symmetry enforced through the tangent-lift action.

    Args:
        library: feature library (e.g. ``sl.PolynomialLibrary(3)``).
        group: the symmetry group (default ``rep.group``); required for ``"enforce"``.
        mode: ``"enforce"``, ``"none"`` (plain SINDy) or ``"promote"``: ``group`` is a candidate group and the
            convex fit 1/(2N) |Theta W^T - Xdot|^2 + lam |S(W)|_* + mu |W|_1 (:func:`symlie.solve_promote`, tangent-
            lift action) selects the symmetries the data allow (``symmetry_``); then STLSQ runs with that
            algebra enforced (see ``refit``).
        lam, mu: ``"promote"`` only: penalty weights (``lam=None``: exact interpolation of Xdot).
        solver_options: ``"promote"`` only: keyword arguments of :func:`symlie.solve_promote`.
        reweight: ``"promote"`` only: reweighting rounds of :func:`symlie.solve_promote` (default 1: with
            noisy derivatives the plain nuclear norm rarely zeroes a symmetry exactly; one reweighted round
            does, see benchmarks/results/promote_dynamics.md).
        refit: ``"promote"`` only: ``True`` (default): STLSQ with the kept algebra enforced (plain STLSQ when
            nothing is kept), free of the penalty's shrinkage; ``False``: the penalised coefficients with
            |c| < ``threshold`` zeroed. ``promotion_`` always holds the penalised solution.
        rep: action on states (default ``sl.Point(group)``); velocities transform by ``rep.tangent()``.
        threshold: STLSQ threshold on the reduced coordinates c (= raw coefficients at the pivots, see the
            module docstring).
        max_iter: maximal number of thresholding iterations.
        alpha: ridge penalty alpha |c|^2 in each least-squares solve.
        rtol, n_constraint_points, oversample, seed, box: constraint points and rank rule, as in
            :class:`symlie.SymmetricRegressor`.

    Fitted attributes: ``coef_`` (n, D), ``basis_`` (n * D, k) echelon basis used for thresholding,
    ``pivots_``, ``coefficients_reduced_`` (c), ``n_free_`` = k, ``support_`` (bool (k,)), ``n_iter_``,
    ``nullspace_``, ``singular_values_``, ``derivative_method_`` (``"given"`` or ``"finite differences
    (second order)"``), ``n_features_in_``.

    Example (Hopf normal form, SO(2)-equivariant):

        >>> import symlie as sl, torch
        >>> X = 3 * torch.rand(200, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) - 1.5
        >>> r2 = (X ** 2).sum(1, keepdim=True)
        >>> Xdot = (0.5 - r2) * X + torch.stack([-X[:, 1], X[:, 0]], 1)
        >>> model = sl.SymmetricSINDy(sl.PolynomialLibrary(3), sl.SO(2)).fit(X, Xdot)
        >>> model.n_free_
        4
        >>> model.equations(["x", "y"])
        ["x' = 0.500 x - 1.000 y - 1.000 x^3 - 1.000 x y^2", "y' = 1.000 x + 0.500 y - 1.000 x^2 y - 1.000 y^3"]
    """

    #: discovery treats the fitted model as a vector field (tangent-lift action on its outputs)
    is_dynamics = True

    def __init__(self, library: Library, group=None, mode: str = "enforce", rep: Rep | None = None,
                 threshold: float = 0.1, max_iter: int = 20, alpha: float = 0.0, rtol: float = 1e-10,
                 n_constraint_points: int | None = None, oversample: int = 1, seed: int = 0, box: float = 1.0,
                 lam: float | None = 1e-2, mu: float = 0.0, solver_options: dict | None = None,
                 refit: bool = True, reweight: int = 1):
        self.library = library
        self.group = group
        self.mode = mode
        self.rep = rep
        self.threshold = threshold
        self.max_iter = max_iter
        self.alpha = alpha
        self.rtol = rtol
        self.n_constraint_points = n_constraint_points
        self.oversample = oversample
        self.seed = seed
        self.box = box
        self.lam = lam
        self.mu = mu
        self.solver_options = solver_options
        self.refit = refit
        self.reweight = reweight

    def _check_sindy_params(self) -> None:
        th = self.threshold
        if isinstance(th, bool) or not isinstance(th, (int, float)) or not math.isfinite(th) or th < 0:
            raise ValueError(f"threshold: expected a finite number >= 0, got {th!r}")
        check_int(self.max_iter, "max_iter", 1)

    def fit(self, X, Xdot=None, *, t=None) -> "SymmetricSINDy":
        """Fit on states X (N, n) and derivatives Xdot (N, n), or on a trajectory X sampled at times ``t``
        (a scalar step or (N,) increasing times; derivatives by second-order finite differences)."""
        _check_params(self, mode=self.mode)
        self._check_sindy_params()
        if Xdot is None and t is None:
            raise ValueError("Xdot, t: pass the derivatives Xdot or the sample times t (finite differences)")
        if Xdot is not None and t is not None:
            raise ValueError("Xdot, t: pass either the derivatives Xdot or the sample times t, not both")
        if t is not None:
            Xt = _as_data(X, "X")
            if Xt.ndim != 2:
                raise ValueError(f"X: expected a 2-D array (N samples, n variables), got shape {tuple(Xt.shape)}")
            Xdot = finite_difference(Xt, t)
            method = "finite differences (second order)"
        else:
            method = "given"
        Xt, Yt, _ = self._prepare(X, Xdot, "X", "Xdot")
        n = Xt.shape[1]
        if Yt.shape[1] != n:
            raise ValueError(f"Xdot: expected shape {tuple(Xt.shape)} (one derivative per state), got "
                             f"{tuple(Yt.shape)}")
        rep = self.rep
        if rep is not None and not isinstance(rep, Rep):
            raise TypeError(f"rep: expected a Rep (e.g. sl.Point(G)), got {type(rep).__name__}")
        if rep is not None and rep.size != n:
            raise ValueError(f"rep: {rep} acts on R^{rep.size} but X has {n} columns")
        rep_out = None
        if self.mode in ("enforce", "promote"):
            if rep is None:
                if self.group is None:
                    raise ValueError("group: required for mode='enforce' (pass e.g. sl.SO(2), or rep=sl.Point(G)); "
                                     "use mode='none' for plain SINDy")
                try:
                    G = as_group(self.group)
                except TypeError as exc:
                    raise TypeError(f"group: {exc}") from None
                if G.n != n:
                    raise ValueError(f"group: {G.name} acts on R^{G.n} but X has {n} columns")
                rep = Point(G)
            rep_out = rep.tangent()
        if self.mode == "promote":
            return self._fit_promote(Xt, Yt, rep, rep_out, method)
        B = self._setup_basis(n, n, rep, rep_out, rep_out_name="rep.tangent()")
        if self.mode == "enforce":
            Be, piv = echelon_basis(B)
            Be = self._clean(Be, n)
        else:
            Be, piv = B, list(range(B.shape[1]))
        Phi = self.library_.transform(Xt)
        M = self._design(Phi, Be, n)
        y = Yt.reshape(-1)
        design_status(self, int(torch.linalg.matrix_rank(M)) if M.numel() else 0, M.shape[1], Xt.shape[0], n)
        c, support, n_iter = self._stlsq(M, y)
        self.basis_ = Be
        self.pivots_ = piv
        self.n_free_ = Be.shape[1]
        self.coefficients_reduced_ = c
        self.support_ = support
        self.n_iter_ = n_iter
        self.coef_ = (Be @ c).reshape(n, -1)
        self.n_features_in_ = n
        self.n_outputs_ = n
        self.derivative_method_ = method
        self._y1d = False
        return self

    def _fit_promote(self, Xt, Yt, rep, rep_out, method: str) -> "SymmetricSINDy":
        """Promoted SINDy in two stages. (1) The convex nuclear-norm fit on the whole library selects the kept
        symmetry algebra (``symmetry_``, ``promotion_``). (2) With ``refit=True``: sparse regression (STLSQ)
        with the kept algebra enforced, in the equivariant echelon coordinates, or plain STLSQ when nothing is
        kept; thresholding never acts on the shrunk penalised coefficients (zeroing one of the terms a symmetry
        ties together would break it). With ``refit=False``: the penalised coefficients, |c| < threshold zeroed."""
        n = Xt.shape[1]
        Phi = self.library_.transform(Xt)
        self._promote(Phi, Yt, rep, rep_out, n, n)
        if not self.refit:
            W = self.promotion_.coef
            support = W.abs() >= self.threshold
            self.coef_ = torch.where(support, W, torch.zeros_like(W))
            self.support_, self.n_iter_ = support.reshape(-1), 1
        else:
            G = self._kept_group()
            if G is not None:
                Be, _ = echelon_basis(self._kept_basis(G, n, n))
            else:
                Be = torch.eye(n * Phi.shape[1], dtype=DT)
            c, supp, n_iter = self._stlsq(self._design(Phi, Be, n), Yt.reshape(-1))
            self.refit_ = {"group": G, "basis": Be}
            self.coef_ = (Be @ c).reshape(n, -1)
            self.support_, self.n_iter_ = supp, n_iter
        self.pivots_ = list(range(self.coef_.numel()))
        self.coefficients_reduced_ = self.coef_.reshape(-1)
        self.n_features_in_ = n
        self.n_outputs_ = n
        self.derivative_method_ = method
        self._y1d = False
        return self

    def _clean(self, Be: torch.Tensor, n_out: int) -> torch.Tensor:
        """Zero the round-off entries of the echelon basis when the constraints stay satisfied."""
        scale = float(Be.abs().max())
        cleaned = torch.where(Be.abs() <= self.rtol * scale, torch.zeros_like(Be), Be)
        if torch.equal(cleaned, Be):
            return Be
        assert self.constraint_points_ is not None and self.nullspace_ is not None  # set by fit (mode != "none")
        A = linear_model_constraints(self.library_, self.group_, self.constraint_points_, self.rep_in_,
                                     self.rep_out_, n_out)
        res = torch.linalg.vector_norm(A @ cleaned, dim=0) / torch.linalg.vector_norm(cleaned, dim=0)
        return cleaned if float(res.max()) <= self.nullspace_.threshold else Be

    def _stlsq(self, M: torch.Tensor, y: torch.Tensor):
        """Sequentially thresholded least squares on the columns of M; returns (c, support, iterations)."""
        k = M.shape[1]
        alpha = float(self.alpha)
        support = torch.ones(k, dtype=torch.bool)
        c, _ = _lstsq(M, y, alpha)
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):   # noqa: B007 (its last value is returned)
            new = c.abs() >= self.threshold
            if torch.equal(new, support):
                break
            support = new
            c = torch.zeros(k, dtype=DT)
            if support.any():
                c[support], _ = _lstsq(M[:, support], y, alpha)
        c = torch.where(support, c, torch.zeros_like(c))
        return c, support, n_iter

    # -- using the model -----------------------------------------------------------------------------
    def predict(self, X):
        """x' = f(X) (N, n), same kind (numpy / torch) as X."""
        return super().predict(X)

    def score(self, X, Xdot=None, *, t=None) -> float:
        """R^2 of the predicted derivatives (given, or by finite differences from ``t``)."""
        self._check_fitted("score")
        if t is not None:
            Xdot = finite_difference(_as_data(X, "X"), t)
        if Xdot is None:
            raise ValueError("Xdot, t: pass the derivatives Xdot or the sample times t")
        return super().score(X, Xdot)

    def _rhs(self, x: torch.Tensor) -> torch.Tensor:
        return self.library_.transform(x) @ self.coef_.T

    #: ``simulate`` with a ``solve_ivp`` method reads a solver failure as a blow-up when the state has grown
    #: beyond this factor times (1 + max|x0|)
    BLOWUP_GROWTH = 1e10

    def simulate(self, x0, t, *, method: str = "rk4", substeps: int = 1, **solve_ivp_kwargs):
        """Integrate x' = f(x) from x0 (n,) over the times t (T,) (increasing); returns (T, n).

        ``method="rk4"``: classical fixed-step Runge-Kutta with ``substeps`` equal steps per interval of t
        (no scipy needed). Any other method name is passed to ``scipy.integrate.solve_ivp`` (e.g. ``"RK45"``,
        ``"LSODA"``) together with ``solve_ivp_kwargs`` (rtol, atol...). Returns the same kind as x0.

        Finite-time blow-up (e.g. x' = x^2 from x0 = 1, which leaves every bound at t = 1) is not an error:
        the trajectory stops at the last finite state, so the result has T' < T rows, the states at
        ``t[:T']``; a :class:`symlie.BlowUpWarning` names the time. The blow-up time is the end of the first
        RK4 (sub)step whose stages or result are not finite; for ``solve_ivp``, whose adaptive steps shrink to
        rounding near a singularity, a failure is a blow-up when the solver met a non-finite state or one
        beyond :attr:`BLOWUP_GROWTH` (1e10) times (1 + max|x0|), and the time is where the largest state was
        evaluated (an estimate of the singularity).
        Other solver failures raise :class:`symlie.SymlieError`.

        After each call ``simulation_`` is a dict: ``status`` (``"ok"`` or ``"blow-up"``), ``status_reason``
        (empty when ok), ``t_blowup`` (None when ok), ``n_times`` (T', the rows returned), ``t_end``
        (``t[T' - 1]``) and ``method``.
        """
        self._check_fitted("simulate")
        x0t = _as_data(x0, "x0").reshape(-1)
        n = self.n_features_in_
        if x0t.shape[0] != n:
            raise ValueError(f"x0: expected {n} values (one per state), got {x0t.shape[0]}")
        tt = as_tensor(t, "t", dtype=DT, ndim=1).cpu()
        if tt.shape[0] < 1:
            raise ValueError("t: expected at least one time")
        if tt.shape[0] > 1 and not bool((tt[1:] > tt[:-1]).all()):
            raise ValueError("t: times must be strictly increasing")
        check_int(substeps, "substeps", 1)
        t_blowup: float | None = None
        if method == "rk4":
            out = torch.empty(tt.shape[0], n, dtype=DT)
            x = x0t.reshape(1, n)
            out[0] = x[0]
            for i in range(tt.shape[0] - 1):
                h = float(tt[i + 1] - tt[i]) / substeps
                for j in range(substeps):
                    x_new = self._rk4_step(x, h)
                    if x_new is None:
                        t_blowup = float(tt[i]) + (j + 1) * h if j + 1 < substeps else float(tt[i + 1])
                        break
                    x = x_new
                if t_blowup is not None:
                    out = out[: i + 1]
                    break
                out[i + 1] = x[0]
        else:
            from scipy.integrate import solve_ivp

            reached = {"t": float(tt[0]), "peak": float(x0t.abs().max()), "nonfinite": False}

            def fun(tau, y):
                yt = torch.from_numpy(np.asarray(y, dtype=np.float64)).reshape(1, n)
                if not bool(torch.isfinite(yt).all()):
                    reached["nonfinite"] = True
                    return np.full(n, np.nan)        # the solver rejects the step and shrinks it
                dy = self._rhs(yt)[0].numpy()
                size = float(yt.abs().max())
                if size > reached["peak"]:
                    reached["peak"], reached["t"] = size, float(tau)
                if not np.isfinite(dy).all():
                    reached["nonfinite"] = True
                return dy

            sol = solve_ivp(fun, (float(tt[0]), float(tt[-1])), x0t.numpy(), method=method, t_eval=tt.numpy(),
                            **solve_ivp_kwargs)
            out = torch.from_numpy(sol.y.T.copy())
            if not sol.success:
                grown = reached["peak"] > self.BLOWUP_GROWTH * (1.0 + float(x0t.abs().max()))
                if not (reached["nonfinite"] or grown) or out.shape[0] == 0:
                    raise SymlieError(f"simulate: solve_ivp failed: {sol.message}")
                t_blowup = reached["t"]
                finite = torch.isfinite(out).all(1)
                if not bool(finite.all()):
                    out = out[: int(finite.long().argmin())]
        k = out.shape[0]
        status = {"status": "ok", "status_reason": "", "t_blowup": t_blowup, "n_times": k,
                  "t_end": float(tt[k - 1]), "method": method}
        if t_blowup is not None:
            status["status"] = "blow-up"
            status["status_reason"] = (f"the solution left the finite range at t = {t_blowup:.6g} (finite-time "
                                       f"blow-up); the trajectory stops at t = {float(tt[k - 1]):.6g}: {k} of "
                                       f"{tt.shape[0]} times")
            warnings.warn(BlowUpWarning(f"simulate: {status['status_reason']}"), stacklevel=2)
        self.simulation_ = status
        return _like(out, x0)

    def _rk4_step(self, x: torch.Tensor, h: float) -> torch.Tensor | None:
        """One classical RK4 step from x (1, n); None when a stage or the result is not finite (blow-up)."""
        k1 = self._rhs(x)
        z = x + 0.5 * h * k1
        if not bool(torch.isfinite(z).all()):
            return None
        k2 = self._rhs(z)
        z = x + 0.5 * h * k2
        if not bool(torch.isfinite(z).all()):
            return None
        k3 = self._rhs(z)
        z = x + h * k3
        if not bool(torch.isfinite(z).all()):
            return None
        k4 = self._rhs(z)
        x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        return x if bool(torch.isfinite(x).all()) else None

    def equations(self, input_names=None, precision: int = 3) -> list[str]:  # type: ignore[override]
        """Readable ``x0' = 0.500 x0 - 1.000 x1 ...`` strings, one per state."""
        self._check_fitted("equations")
        names = self.library_.feature_names(input_names)
        states = list(input_names) if input_names is not None else [f"x{i}" for i in range(self.n_features_in_)]
        return format_equations(self.coef_, names, [f"{s}'" for s in states], precision)
