"""Linear-in-parameter regression with enforced symmetry (framework sections 3.2-3.4).

A model F_W(x) = W Phi(x), with W of shape (n_out, D) and a feature library Phi (see
:mod:`symlie.library`), is G-equivariant iff (enforcement theorem)

  * L_xi F_W = 0 for every basis element xi of the Lie algebra (continuous rows), and
  * K_h F_W - F_W = 0 for every discrete generator h, K_h F(x) = rho_out(h)^{-1} F(rho_in(h) x).

Both conditions are linear in vec(W) (row-major: W[b, f] sits at index b * D + f, the layout of
:func:`symlie.lie_derivative_linear`, which supplies the continuous rows). Evaluated at enough random points
they are *exact* (framework 3.3): for a polynomial library of degree d the constraint functions are
polynomials of degree deg_L (d for linear / affine actions, d - 1 for pure translations), and
C(n + deg_L, deg_L) points in general position are unisolvent for that space, so the sampled nullspace
equals the true one. One extra point is added (as in the reference code) and ``oversample`` multiplies
the count. For libraries that are not polynomial (Fourier, custom) every constraint function lies in a
space of analytic functions of dimension <= n_out * D, and n_out * D generic points are enough to make
the evaluation injective on it, so the default is n_out * D + 1 points (analytic features assumed).

The equivariant models are W = reshape(B c) with B an orthonormal nullspace basis (:func:`symlie.nullspace`,
rule ``"rtol"``); fitting is least squares in c. Because B has orthonormal columns, |c| = |W|_F, so ridge
regularisation in c equals ridge on W restricted to the equivariant subspace.
"""
from __future__ import annotations

import copy
import inspect
import math
import warnings

import torch

from ..derivative.constraints import default_n_constraint_points, linear_model_nullspace
from ..lie.actions import MatrixAction, as_action, check_rep_out
from ..lie.groups import as_group
from ..lie.reps import Rep
from ..library import Library, NotFittedError, format_equations  # noqa: F401 - format_equations re-exported
from ..promote import LieOperator, solve_promote
from ..utils.errors import UnderdeterminedWarning
from ..utils.validation import SymlieError, as_tensor, check_int

__all__ = ["SymmetricRegressor", "r2_score", "format_equations"]

DT = torch.float64
VALID_MODES = ("none", "enforce", "promote")
#: the enforced refit after promotion is accepted when its training residual is at most (1 + REFIT_TOL) times
#: the penalised solution's
REFIT_TOL = 1e-6
#: the refit enforces the kept algebra up to this relative tolerance of the constraint spectrum: the kept
#: generators are estimated from data and slightly tilted, and an exact nullspace of tilted constraints can
#: collapse (a rotation tilted into a screw motion leaves almost no invariant polynomials), while the models
#: that are symmetric under the true sub-group violate the tilted constraints only at the tilt's level
REFIT_RTOL = 1e-2


def _resolve_group_reps(group, rep_in, rep_out, n_in: int, n_out: int, *, rep_out_name: str = "rep_out"):
    """Validate group / representations against the data widths; returns (group, rep_in, rep_out).

    The estimator's own rules (``group`` defaults to ``rep_in.group``; one of them is required) come first, then
    the one resolver of generator arguments (:func:`symlie.as_action`) checks and defaults the input action.
    """
    if rep_in is not None and not isinstance(rep_in, Rep):
        raise TypeError(f"rep_in: expected a Rep (e.g. sl.V(G) or sl.Point(G)), got {type(rep_in).__name__}")
    if group is None:
        if rep_in is None:
            raise ValueError("group: required for mode='enforce' (pass e.g. sl.SO(2), or rep_in=sl.V(G)); "
                             "use mode='none' for an unconstrained fit")
        group = rep_in.group
    try:
        group = as_group(group)
    except TypeError as exc:
        raise TypeError(f"group: {exc}") from None
    if rep_in is not None and rep_in.group.algebra != group.algebra:
        raise SymlieError(f"rep_in: {rep_in} is a representation of {rep_in.group.name}, not of {group.name}")
    action = as_action(group, rep_in, name="group")
    assert isinstance(action, MatrixAction)
    rep_in = action.rep_in
    if rep_in.size != n_in:
        raise ValueError(f"rep_in: {rep_in} acts on R^{rep_in.size} but X has {n_in} columns")
    rep_out = check_rep_out(rep_out, group, n_out, name=rep_out_name,
                            outputs=f"the targets have {n_out} column(s)")
    return group, rep_in, rep_out


# ------------------------------------------------------------------------------------------------ helpers
def _check_params(est, *, mode: str) -> None:
    if mode not in VALID_MODES:
        raise ValueError(f"mode: expected one of {', '.join(repr(m) for m in VALID_MODES)}, got {mode!r}")
    if not isinstance(est.library, Library):
        raise TypeError(f"library: expected a symlie Library (e.g. sl.PolynomialLibrary(3)), got "
                        f"{type(est.library).__name__}")
    for nm in ("rtol", "alpha", "box"):
        v = getattr(est, nm)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or \
                (nm == "box" and v == 0):
            raise ValueError(f"{nm}: expected a finite number {'> 0' if nm == 'box' else '>= 0'}, got {v!r}")
    check_int(est.oversample, "oversample", 1)
    ncp = est.n_constraint_points
    check_int(ncp, "n_constraint_points", 1, allow_none=True)
    check_int(est.seed, "seed", None)
    lam, mu = getattr(est, "lam", None), getattr(est, "mu", 0.0)
    if lam is not None and (isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam)
                            or lam < 0):
        raise ValueError(f"lam: expected a finite number >= 0 or None (exact interpolation), got {lam!r}")
    if isinstance(mu, bool) or not isinstance(mu, (int, float)) or not math.isfinite(mu) or mu < 0:
        raise ValueError(f"mu: expected a finite number >= 0, got {mu!r}")
    if hasattr(est, "reweight"):
        check_int(est.reweight, "reweight", 0)
    if mode == "promote" and est.group is None:
        raise ValueError("group: mode='promote' needs the candidate group or algebra (e.g. sl.se(3), sl.GL(3))")


def _as_data(A, name: str) -> torch.Tensor:
    return as_tensor(A, name, dtype=DT).cpu()


def _like(out: torch.Tensor, ref):
    """Return ``out`` as the same kind as ``ref``: a tensor (ref's device and floating dtype) or a numpy array."""
    if isinstance(ref, torch.Tensor):
        dt = ref.dtype if ref.is_floating_point() else DT
        return out.to(device=ref.device, dtype=dt)
    return out.numpy()


def _lstsq(M: torch.Tensor, y: torch.Tensor, alpha: float) -> tuple[torch.Tensor, int]:
    """argmin |M c - y|^2 + alpha |c|^2 (minimum-norm when rank deficient); returns (c, rank of M)."""
    k = M.shape[1]
    if k == 0:
        return M.new_zeros(0), 0
    rank = int(torch.linalg.matrix_rank(M)) if M.shape[0] else 0
    if alpha > 0:
        M = torch.cat([M, math.sqrt(alpha) * torch.eye(k, dtype=M.dtype)])
        y = torch.cat([y, y.new_zeros(k)])
    if M.shape[0] == 0:
        return y.new_zeros(k), 0
    c = torch.linalg.lstsq(M, y.unsqueeze(-1), driver="gelsd").solution[:, 0]
    return c, rank


def design_status(est, rank: int, n_free: int, n_samples: int, n_out: int) -> None:
    """Set ``status_`` / ``status_reason_`` of a fitted estimator from the rank of its design and warn
    (:class:`symlie.UnderdeterminedWarning`) when the samples do not determine the free coefficients: rank
    r < k means a (k - r)-dimensional family of models fits the data equally well, and the one returned is the
    minimum-norm (or ridge) choice, not something the data selected."""
    if rank < n_free:
        est.status_ = "underdetermined"
        est.status_reason_ = (f"the design of {n_samples} samples x {n_out} output(s) has rank {rank} < {n_free} free "
                              f"coefficients: the data do not determine the model ({n_free - rank} directions are "
                              f"free; the fit is the minimum-norm one); use more samples, a smaller library or "
                              f"enforce a symmetry")
        warnings.warn(UnderdeterminedWarning(f"{type(est).__name__}.fit: {est.status_reason_}"), stacklevel=3)
    else:
        est.status_, est.status_reason_ = "ok", ""


def r2_score(Y: torch.Tensor, P: torch.Tensor) -> float:
    """Coefficient of determination, averaged uniformly over output columns (scikit-learn's default)."""
    ss_res = ((Y - P) ** 2).sum(0)
    ss_tot = ((Y - Y.mean(0)) ** 2).sum(0)
    ok = ss_tot > 0
    r2 = torch.where(ok, 1 - ss_res / torch.where(ok, ss_tot, torch.ones_like(ss_tot)),
                     torch.where(ss_res == 0, torch.ones_like(ss_res), torch.zeros_like(ss_res)))
    return float(r2.mean())


class _Estimator:
    """scikit-learn style parameter handling: constructor arguments are stored unchanged and validated in fit."""

    # set by the subclasses (constructor argument / fit)
    library: Library
    library_: Library
    n_features_in_: int

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor parameters (``deep`` is accepted for scikit-learn compatibility)."""
        return {p: getattr(self, p) for p in self._param_names()}

    def set_params(self, **params):
        """Set constructor parameters; returns self. Refit afterwards."""
        valid = self._param_names()
        for k, v in params.items():
            if k not in valid:
                raise ValueError(f"set_params: invalid parameter {k!r} for {type(self).__name__}; valid parameters "
                                 f"are {', '.join(valid)}")
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        defaults = {p.name: p.default for p in inspect.signature(type(self).__init__).parameters.values()}
        args = []
        for k in self._param_names():
            v = getattr(self, k)
            if defaults.get(k, inspect.Parameter.empty) is inspect.Parameter.empty or v is not defaults[k]:
                if not (isinstance(v, (int, float, str)) and v == defaults.get(k)):
                    args.append(f"{k}={v!r}")
        return f"{type(self).__name__}({', '.join(args)})"

    def _check_fitted(self, what: str) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError(f"{type(self).__name__}.{what}: this model is not fitted yet; call fit(...) first")

    def _features_for_predict(self, X, name: str = "X") -> torch.Tensor:
        Xt = _as_data(X, name)
        if Xt.ndim != 2 or Xt.shape[1] != self.n_features_in_:
            raise ValueError(f"{name}: expected shape (N, {self.n_features_in_}) (the model was fitted on "
                             f"{self.n_features_in_} input variables), got {tuple(Xt.shape)}")
        return self.library_.transform(Xt)


# ------------------------------------------------------------------------------------------------ the regressor
class SymmetricRegressor(_Estimator):
    """Least-squares regression Y ~ W Phi(X) with the symmetry of ``group`` enforced exactly.

    Args:
        library: a :class:`symlie.Library` (e.g. ``sl.PolynomialLibrary(3)``).
        group: a :class:`symlie.Group` or LieAlgebra (default: ``rep_in.group``); required for ``"enforce"``.
        mode: ``"enforce"`` (fit in the equivariant subspace), ``"none"`` (ordinary least squares in the full
            coefficient space) or ``"promote"`` (``group`` is a *candidate* group: the nuclear-norm penalty of
            :func:`symlie.solve_promote` keeps every symmetry of it that the data do not contradict; the kept
            algebra is reported in ``symmetry_``).
        rep_in: action on the inputs (default ``sl.Point(group)``), size n_in.
        rep_out: linear representation on the outputs (default: invariant outputs, ``Trivial``), size n_out.
        n_constraint_points: number of random constraint points (default: the exact rule, see
            :func:`symlie.derivative.constraints.default_n_constraint_points`; ``oversample`` is not applied to an
            explicit count).
        oversample: multiplies the default number of constraint points.
        box: constraint points are uniform in [-box, box]^n_in.
        rtol: rank rule of :func:`symlie.nullspace` (``"rtol"``): singular values <= rtol * sigma_max are zero.
        seed: seed of the constraint points.
        alpha: ridge penalty alpha |W|^2 (0: plain least squares; minimum-norm solution when underdetermined).
        lam: ``"promote"`` only: weight of the nuclear-norm penalty in 1/(2N) |Theta W^T - Y|^2 + lam |S(W)|_*;
            ``None`` (default) fits the data exactly (min |S(W)|_* s.t. Theta W^T = Y, for noise-free data).
        mu: ``"promote"`` only: weight of an l1 term mu |W|_1 (needs ``lam``).
        solver_options: ``"promote"`` only: keyword arguments of :func:`symlie.solve_promote` (e.g.
            ``{"max_iter": 50000}`` or ``{"backend": "cvxpy"}``).
        reweight: ``"promote"`` only: reweighting rounds of :func:`symlie.solve_promote` (0: the plain convex
            problem; 1-2 sharpen the selection of the kept sub-group on noisy data).
        refit: ``"promote"`` with ``lam`` given: refit by least squares with the kept algebra *enforced*
            (when it is non-zero and closed), removing the shrinkage bias of the penalty on the coefficients
            it keeps (like the relaxed lasso). The refit is kept only if its training residual is not larger
            than the penalised solution's (``refit_["accepted"]``); ``promotion_.coef`` is the penalised solution.

    Fitted attributes: ``coef_`` (n_out, D), ``basis_`` (n_out * D, k) orthonormal (identity in modes
    ``"none"`` and ``"promote"``), ``symmetry_`` (mode ``"promote"``: the kept symmetry algebra, a
    :class:`symlie.SymmetryResult`; ``promotion_``: the solver's :class:`symlie.PromoteResult`), ``n_free_`` = k,
    ``nullspace_`` (the :class:`symlie.Nullspace`, ``None`` in mode
    ``"none"``), ``singular_values_`` (of the constraint matrix, descending; ``None`` in mode ``"none"``),
    ``constraint_points_``, ``design_rank_`` (rank of the reduced design matrix; < n_free_ means the data do
    not determine the model: then ``status_ == "underdetermined"``, ``status_reason_`` says why and ``fit``
    emits an :class:`symlie.UnderdeterminedWarning`; else ``status_ == "ok"``), ``n_features_in_``,
    ``n_outputs_``, ``group_``, ``rep_in_``, ``rep_out_``.

    Example (the number of free coefficients is the dimension of the equivariant polynomial space: the
    SO(2)-equivariant vector fields of degree <= 3 on R^2 are a(|x|^2) x + b(|x|^2) J x with a, b affine):

        >>> import symlie as sl, torch
        >>> G = sl.SO(2)
        >>> X = torch.randn(50, 2, dtype=torch.float64)
        >>> Y = X * (1 - (X ** 2).sum(1, keepdim=True))
        >>> reg = sl.SymmetricRegressor(sl.PolynomialLibrary(3), G, rep_out=sl.V(G)).fit(X, Y)
        >>> reg.n_free_, reg.coef_.shape
        (4, torch.Size([2, 10]))
    """

    def __init__(self, library: Library, group=None, mode: str = "enforce", rep_in: Rep | None = None,
                 rep_out: Rep | None = None, n_constraint_points: int | None = None, oversample: int = 1,
                 box: float = 1.0, rtol: float = 1e-10, seed: int = 0, alpha: float = 0.0,
                 lam: float | None = None, mu: float = 0.0, solver_options: dict | None = None,
                 refit: bool = True, reweight: int = 0):
        self.library = library
        self.group = group
        self.mode = mode
        self.rep_in = rep_in
        self.rep_out = rep_out
        self.n_constraint_points = n_constraint_points
        self.oversample = oversample
        self.box = box
        self.rtol = rtol
        self.seed = seed
        self.alpha = alpha
        self.lam = lam
        self.mu = mu
        self.solver_options = solver_options
        self.refit = refit
        self.reweight = reweight

    # -- fitting -------------------------------------------------------------------------------------
    def _setup_basis(self, n_in: int, n_out: int, rep_in, rep_out, rep_out_name: str = "rep_out") -> torch.Tensor:
        """Sets the constraint attributes; returns the orthonormal basis (n_out * D, k)."""
        D = self.library_.n_output_features(n_in)
        if self.mode == "none":
            self.group_, self.rep_in_, self.rep_out_ = self.group, rep_in, rep_out
            self.nullspace_ = None
            self.singular_values_ = None
            self.constraint_points_ = None
            return torch.eye(n_out * D, dtype=DT)
        group, rep_in, rep_out = _resolve_group_reps(self.group, rep_in, rep_out, n_in, n_out,
                                                     rep_out_name=rep_out_name)
        ns, pts = linear_model_nullspace(self.library_, group, rep_in, rep_out, n_in, n_out,
                                        n_constraint_points=self.n_constraint_points, oversample=self.oversample,
                                        box=self.box, rtol=self.rtol, seed=self.seed)
        self.group_, self.rep_in_, self.rep_out_ = group, rep_in, rep_out
        self.nullspace_ = ns
        self.singular_values_ = ns.singular_values
        self.constraint_points_ = pts
        return ns.basis

    def _prepare(self, X, Y, xname: str = "X", yname: str = "Y"):
        _check_params(self, mode=self.mode)
        Xt = _as_data(X, xname)
        if Xt.ndim != 2:
            raise ValueError(f"{xname}: expected a 2-D array (N samples, n variables), got shape {tuple(Xt.shape)}")
        Yt = _as_data(Y, yname)
        y1d = Yt.ndim == 1
        if y1d:
            Yt = Yt.unsqueeze(1)
        if Yt.ndim != 2:
            raise ValueError(f"{yname}: expected shape (N,) or (N, n_out), got {tuple(Yt.shape)}")
        if Xt.shape[0] != Yt.shape[0]:
            raise ValueError(f"{xname}, {yname}: different numbers of rows (samples): {Xt.shape[0]} and "
                             f"{Yt.shape[0]}")
        if Xt.shape[0] == 0:
            raise ValueError(f"{xname}: got 0 samples")
        if self.library.n_features_in is not None and self.library.n_features_in != Xt.shape[1]:
            raise ValueError(f"{xname}: has {Xt.shape[1]} columns but the library was fitted on "
                             f"{self.library.n_features_in} input variables")
        self.library_ = copy.deepcopy(self.library).fit(Xt)   # the user's library is never changed
        return Xt, Yt, y1d

    def _design(self, Phi: torch.Tensor, B: torch.Tensor, n_out: int) -> torch.Tensor:
        """M[(i, a), k] = sum_f Phi[i, f] B[a * D + f, k]: the model outputs as a linear map of c."""
        N, D = Phi.shape
        return torch.einsum("if,afk->iak", Phi, B.reshape(n_out, D, -1)).reshape(N * n_out, -1)

    def _promote(self, Phi: torch.Tensor, Yt: torch.Tensor, rep_in, rep_out, n_in: int, n_out: int) -> None:
        """Mode "promote": the convex nuclear-norm fit; sets coef_, promotion_, symmetry_ and the bookkeeping."""
        group, rep_in, rep_out = _resolve_group_reps(self.group, rep_in, rep_out, n_in, n_out)
        n_pts = self.n_constraint_points
        if n_pts is None:
            n_pts = default_n_constraint_points(self.library_, group, rep_in, rep_out, n_in, n_out, self.oversample)
        op = LieOperator(self.library_, group, n_in, rep_in=rep_in, rep_out=rep_out, n_out=n_out, n_points=n_pts,
                         box=self.box, seed=self.seed)
        res = solve_promote(Phi, Yt, op, lam=self.lam, mu=self.mu,
                            **{"reweight": check_int(self.reweight, "reweight", 0), **(self.solver_options or {})})
        self.group_, self.rep_in_, self.rep_out_ = group, rep_in, rep_out
        self.nullspace_, self.singular_values_ = None, None
        self.constraint_points_ = op.points
        self.operator_ = op
        self.promotion_ = res
        self.symmetry_ = res.symmetry
        P = n_out * Phi.shape[1]
        self.basis_ = torch.eye(P, dtype=DT)
        self.n_free_ = P
        self.coefficients_reduced_ = res.coef.reshape(-1)
        self.design_rank_ = int(torch.linalg.matrix_rank(Phi))
        self.status_, self.status_reason_ = "ok", ""   # promotion chooses among the interpolants on purpose
        self.coef_ = res.coef.clone()
        self.refit_: dict | None = None

    def _kept_group(self):
        """The kept symmetry as a Group (for the enforced refit), or None when there is nothing usable to enforce."""
        sym = self.symmetry_
        if self.lam is None or not self.refit or sym.dim == 0 or sym.identification.get("name") is None:
            return None
        return as_group(sym.algebra)

    def _kept_basis(self, G, n_in: int, n_out: int) -> torch.Tensor:
        """Orthonormal basis (n_out D, k) of the models with the kept algebra G enforced (candidate reps)."""
        ns, _ = linear_model_nullspace(self.library_, G, self.rep_in_, self.rep_out_, n_in, n_out,
                                       n_constraint_points=self.n_constraint_points, oversample=self.oversample,
                                       box=self.box, rtol=max(self.rtol, REFIT_RTOL), seed=self.seed)
        return ns.basis

    def _refit_kept(self, Xt: torch.Tensor, Yt: torch.Tensor) -> None:
        """Least squares with the kept algebra enforced (see ``refit``); sets coef_ and refit_ (the basis)."""
        G = self._kept_group()
        if G is None:
            return
        n_in, n_out = Xt.shape[1], Yt.shape[1]
        B = self._kept_basis(G, n_in, n_out)
        Phi = self.library_.transform(Xt)
        c, _ = _lstsq(self._design(Phi, B, n_out), Yt.reshape(-1), float(self.alpha))
        W = (B @ c).reshape(n_out, -1)
        self.refit_ = self._accept_refit(Phi, Yt, W, G, B)

    def _accept_refit(self, Phi, Yt, W, G, B) -> dict:
        """Keep the enforced refit only if it fits the training data at least as well as the penalised solution
        (it must, when the penalised solution lies in the enforced space; when the kept algebra is only
        approximately right, enforcing it exactly can remove needed terms). Sets coef_; returns refit_."""
        r_new = float(torch.linalg.norm(Phi @ W.T - Yt))
        r_pen = float(torch.linalg.norm(Phi @ self.coef_.T - Yt))
        accepted = r_new <= r_pen * (1 + REFIT_TOL) + 1e-12 * float(torch.linalg.norm(Yt))
        if accepted:
            self.coef_ = W
        return {"group": G, "basis": B, "accepted": accepted, "residual_refit": r_new, "residual_penalised": r_pen}

    def fit(self, X, Y) -> "SymmetricRegressor":
        """Fit on inputs X (N, n_in) and targets Y (N,) or (N, n_out); returns self."""
        Xt, Yt, y1d = self._prepare(X, Y)
        n_in, n_out = Xt.shape[1], Yt.shape[1]
        if self.mode == "promote":
            self._promote(self.library_.transform(Xt), Yt, self.rep_in, self.rep_out, n_in, n_out)
            self._refit_kept(Xt, Yt)
            self.n_features_in_, self.n_outputs_, self._y1d = n_in, n_out, y1d
            return self
        B = self._setup_basis(n_in, n_out, self.rep_in, self.rep_out)
        Phi = self.library_.transform(Xt)
        M = self._design(Phi, B, n_out)
        c, rank = _lstsq(M, Yt.reshape(-1), float(self.alpha))
        self.basis_ = B
        self.n_free_ = B.shape[1]
        self.coefficients_reduced_ = c
        self.design_rank_ = rank
        design_status(self, rank, B.shape[1], Xt.shape[0], n_out)
        self.coef_ = (B @ c).reshape(n_out, -1)
        self.n_features_in_ = n_in
        self.n_outputs_ = n_out
        self._y1d = y1d
        return self

    # -- using the model -----------------------------------------------------------------------------
    def predict(self, X):
        """Predictions (N, n_out) (or (N,) when fitted on 1-D targets), same kind (numpy / torch) as X."""
        self._check_fitted("predict")
        P = self._features_for_predict(X) @ self.coef_.T
        if self._y1d:
            P = P[:, 0]
        return _like(P, X)

    def score(self, X, Y) -> float:
        """R^2 of the predictions, averaged over output columns."""
        self._check_fitted("score")
        P = self._features_for_predict(X) @ self.coef_.T
        Yt = _as_data(Y, "Y")
        if Yt.ndim == 1:
            Yt = Yt.unsqueeze(1)
        if Yt.shape != P.shape:
            raise ValueError(f"Y: expected shape {tuple(P.shape)} (or ({P.shape[0]},) for one output), got "
                             f"{tuple(_as_data(Y, 'Y').shape)}")
        return r2_score(Yt, P)

    def equations(self, input_names=None, output_names=None, precision: int = 3) -> list[str]:
        """Readable ``y0 = 1.000 x0 - 2.000 x0 x1^2 ...`` strings, one per output."""
        self._check_fitted("equations")
        names = self.library_.feature_names(input_names)
        lhs = list(output_names) if output_names is not None else [f"y{a}" for a in range(self.n_outputs_)]
        if len(lhs) != self.n_outputs_:
            raise ValueError(f"output_names: expected {self.n_outputs_} names, got {len(lhs)}")
        return format_equations(self.coef_, names, lhs, precision)
