"""Promotion that actually promotes in training: an ADMM split of the nuclear norm usable with any torch optimizer.

Subgradient descent on loss + gamma ||S(theta)||_* (differentiating through the SVD, as Otto et al.'s networks
do) never puts a singular value exactly at zero: the iterates oscillate around the kink. The split

    min_theta,Z  loss(theta) + gamma ||Z||_*   subject to   S(theta) = Z

in scaled form (Boyd et al. 2011, section 3.1.1) alternates

    theta:  a step of any optimizer on  loss(theta) + (rho / 2) ||S(theta) - Z + U||_F^2      (:meth:`penalty`)
    Z:      Z <- SVT_{gamma / rho}(S(theta) + U)   (the prox of the nuclear norm: exact zeros)  (:meth:`update`)
    U:      U <- U + S(theta) - Z

so Z is exactly low rank and S(theta) is pulled onto it. :meth:`kept` cuts the spectrum of S(theta) with the one
rank rule (:class:`symlie.RankRule`), and :meth:`polish` projects the parameters onto exact symmetry under the
kept directions (float64 least squares on the Jacobian of theta -> S(theta) V0, by autograd), so that those
singular values end at round-off.

S(theta) (rows, q) is the stacked Lie-derivative operator of the model in the convention of
:mod:`symlie.derivative` (column j: L_{xi_j} of every layer, L_xi W = W drho_in(xi) - drho_out(xi) W,
:func:`symlie.layer_operator`), given by a callable; it must be *linear* in the listed parameters (true for
parameter-form layer operators such as :func:`layer_operator` and :func:`quadratic_form_operator`).
:func:`stacked_operator` stacks the operators of a sequence of layers along the rows (one common sub-algebra).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Iterable

import numpy as np
import torch

from ..linalg import DEFAULT_FLOOR, Nullspace, RankRule, nullspace, nullspace_from_spectrum, singular_spectrum
from ..utils.errors import ConvergenceWarning, SymlieError
from ..utils.resources import check_memory
from ..utils.validation import check_int
from .admm import _reweight, _svt

__all__ = ["ADMMPenalty", "PolishResult", "stacked_operator", "svt"]

DT = torch.float64


def svt(M: torch.Tensor, tau, *, return_rank: bool = False):
    """Singular-value soft thresholding, the prox of tau ||.||_*: argmin_Z tau ||Z||_* + 1/2 ||Z - M||_F^2 =
    U max(Sigma - tau, 0) V^T for M (m, n). ``tau``: a number >= 0, or a non-decreasing vector (one per singular
    value, largest first: the prox of the weighted nuclear norm sum_i w_i sigma_i). Computed in float64 (thin SVD
    through a QR for tall M); returns M's dtype and device (and the rank of the result with ``return_rank``)."""
    if not isinstance(M, torch.Tensor) or M.ndim != 2:
        got = tuple(M.shape) if isinstance(M, torch.Tensor) else type(M).__name__
        raise SymlieError(f"M: expected a 2-d tensor, got {got}")
    if not bool(torch.isfinite(M).all()):
        raise SymlieError("M: contains NaN or Inf")
    t = np.asarray(tau.detach().cpu().numpy() if isinstance(tau, torch.Tensor) else tau, dtype=np.float64)
    if not np.all(np.isfinite(t)) or np.any(t < 0):
        raise SymlieError(f"tau: expected finite thresholds >= 0, got {tau!r}")
    if t.ndim and np.any(np.diff(t) < 0):
        raise SymlieError("tau: a vector of thresholds must be non-decreasing (largest singular value first)")
    if min(M.shape) == 0:
        return (M.clone(), 0) if return_rank else M.clone()
    Z, r = _svt(M.detach().to("cpu", DT).numpy(), t if t.ndim else float(t), return_rank=True)
    Zt = torch.from_numpy(np.ascontiguousarray(Z)).to(device=M.device, dtype=M.dtype)
    return (Zt, r) if return_rank else Zt


def stacked_operator(layers: Iterable[torch.nn.Module], candidates, *, name: str = "layers") -> torch.Tensor:
    """The operators ``layer.operator(candidates)`` (each (rows_l, q)) of a sequence of layers, stacked along the
    rows: (sum rows_l, q); the nullspace of the stack is the intersection of the layers' symmetry algebras (one
    common sub-group). Modules without parameters (activations) are skipped; a module with parameters but no
    ``operator`` method is refused (its class named): promotion needs the Lie derivative of every parametrised
    layer."""
    mats, q = [], None
    for i, layer in enumerate(layers):
        if not isinstance(layer, torch.nn.Module):
            raise TypeError(f"{name}[{i}]: expected a torch.nn.Module, got {type(layer).__name__}")
        if next(layer.parameters(), None) is None:
            continue
        op = getattr(layer, "operator", None)
        if not callable(op):
            raise TypeError(f"{name}[{i}]: a {type(layer).__name__} has no Lie-derivative operator (no method "
                            f"operator(candidates) -> (rows, q)); promotion needs one for every layer with parameters "
                            f"(e.g. symlie.nn.EPNNLayer, or symlie.layer_operator for an affine map)")
        M = op(candidates)
        if not isinstance(M, torch.Tensor) or M.ndim != 2:
            raise SymlieError(f"{name}[{i}]: {type(layer).__name__}.operator returned "
                              f"{tuple(M.shape) if isinstance(M, torch.Tensor) else type(M).__name__}, expected a "
                              f"(rows, q) tensor")
        if q is not None and M.shape[1] != q:
            raise SymlieError(f"{name}[{i}]: {type(layer).__name__}.operator has {M.shape[1]} columns (generators), "
                              f"the layers before it {q}")
        q = M.shape[1]
        mats.append(M)
    if not mats:
        raise SymlieError(f"{name}: no layer with parameters (nothing to promote)")
    return torch.cat(mats, 0) if len(mats) > 1 else mats[0]


@dataclass
class PolishResult:
    """What :meth:`ADMMPenalty.polish` returns (float64 CPU tensors).

    Attributes:
        kept: the :class:`symlie.Nullspace` whose basis V0 (q, k) was made exact.
        singular_values: (q,) the spectrum of S(theta) after polishing, descending.
        kept_singular_values: (k,) singular values of S(theta) V0 after polishing (round-off of the parameter
            dtype); ``kept_before``: the same before.
        relative: kept_singular_values / sigma_1 (0 when sigma_1 is 0).
        change: ||theta_new - theta|| / ||theta|| over the polished parameters.
        n_groups: independent least-squares problems the Jacobian split into (disjoint rows and columns);
        jacobian_shape: (rows k, parameters) of the Jacobian of theta -> vec(S(theta) V0); rtol: the rank rule's
        relative tolerance on each problem's singular values.
    """

    kept: Nullspace
    singular_values: torch.Tensor
    kept_singular_values: torch.Tensor
    kept_before: torch.Tensor
    relative: torch.Tensor
    change: float
    n_groups: int
    jacobian_shape: tuple[int, int]
    rtol: float


def _finite_number(value, name: str, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)) or \
            (value <= 0 if positive else value < 0):
        raise SymlieError(f"{name}: expected a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


class ADMMPenalty(torch.nn.Module):
    """The ADMM split of gamma ||S(theta)||_* for training with any torch optimizer (see the module docstring).

    Usage (any optimizer, any loss)::

        admm = ADMMPenalty(lambda: model.operator(candidates), model.parameters(), gamma=1e-3, rho=1.0)
        for batch in data:
            loss = mse(model, batch) + admm.penalty()
            opt.zero_grad(); loss.backward(); opt.step()
            admm.update()                      # Z, U (every ``update_every`` calls)
        admm.kept()                            # the kept algebra (a Nullspace of S's spectrum)
        admm.polish()                          # exact symmetry under it (singular values at round-off)

    Args:
        operator: a callable () -> S(theta) (rows, q), differentiable and linear in ``params``; its dtype and
            device are those of the parameters. Evaluated once here (shape, finiteness) to initialise Z = S(theta_0)
            and U = 0 (buffers, so they move with ``.to()`` and are saved in ``state_dict``: a Trainer checkpoint of
            a module holding this one resumes the split exactly).
        params: the parameters S is linear in (those :meth:`polish` projects), each a tensor.
        gamma: the weight of the nuclear norm (>= 0; 0: no promotion, Z follows S).
        rho: the penalty parameter of the split (> 0); the threshold is gamma / rho.
        update_every: :meth:`update` acts on every ``update_every``-th call (1: after every optimizer step).
        reweight: use the reweighted nuclear norm sum_i w_i sigma_i with w_i proportional to 1 / (sigma_i + eps
            sigma_1) of the previous Z (scaled so w_1 = 1; ``reweight_eps`` = eps): broken directions are barely
            shrunk, nearly kept ones go to zero (a weighted SVT; the weights of :func:`solve_promote`).
        rule, rtol, atol, min_gap, floor: the rank rule of :meth:`kept` (:class:`symlie.RankRule`; default the
            ``"auto"`` kind with the floor of the parameters' dtype, ``DEFAULT_FLOOR``).
        polish_rtol: the ``rtol`` rank rule on each least-squares problem of :meth:`polish` (singular values of the
            Jacobian block below polish_rtol * its largest are its nullspace).
        collapse_rtol: the split reports ``status = "collapsed"`` (and warns, naming ``gamma``) when Z = 0 and both
            ||S(theta)|| and ||theta|| have fallen below collapse_rtol times their initial values: gamma is so large
            that every parameter is being driven to zero.

    Attributes:
        Z, U: (rows, q) buffers; status: ``"ok"``, ``"all-thresholded"`` (Z = 0: the whole candidate algebra is
        being promoted) or ``"collapsed"``; history: one dict per acting :meth:`update` (``update``, ``primal``
        = ||S - Z||_F, ``dual`` = rho ||Z - Z_old||_F, ``nuclear`` = ||S||_*, ``rank_Z``, ``threshold``). Only Z,
        U and the call count are state (``state_dict``); ``history`` and ``status`` start anew in a resumed run.

    The theta-step is one step of the caller's optimizer, not an exact minimisation: with stochastic or adaptive
    optimizers several steps per Z / U update (``update_every`` 5-20) and a decaying learning rate let S(theta)
    follow Z; with the exact theta-step of a quadratic loss it is ADMM proper and converges to the prox solution.

    Errors (each names the argument): a non-callable operator, no parameters, gamma < 0 or rho <= 0, an operator
    that is not a 2-d tensor or contains NaN / Inf (at construction, in :meth:`penalty` or :meth:`update`), a
    change of its shape, a non-finite loss given to :meth:`objective`.
    """

    Z: torch.Tensor
    U: torch.Tensor
    n_calls: torch.Tensor
    _operator: Callable[[], torch.Tensor]

    def __init__(self, operator: Callable[[], torch.Tensor], params: Iterable[torch.Tensor], *, gamma: float,
                 rho: float = 1.0, update_every: int = 1, reweight: bool = False, reweight_eps: float = 1e-3,
                 rule="auto", rtol: float | None = None, atol: float | None = None, min_gap: float | None = None,
                 floor: float | None = None, polish_rtol: float = 1e-10, collapse_rtol: float = 1e-3):
        super().__init__()
        if not callable(operator):
            raise TypeError(f"operator: expected a callable () -> S(theta) (rows, q), got {type(operator).__name__}")
        plist = list(params)
        if not plist or not all(isinstance(p, torch.Tensor) for p in plist):
            raise SymlieError("params: expected a non-empty iterable of tensors (the parameters S is linear in)")
        object.__setattr__(self, "_operator", operator)   # never registered as a submodule
        self._params: list[torch.Tensor] = plist          # a plain list: not registered (they belong to the model)
        self.gamma = _finite_number(gamma, "gamma")
        self.rho = _finite_number(rho, "rho", positive=True)
        self.update_every = check_int(update_every, "update_every", 1)
        if not isinstance(reweight, bool):
            raise SymlieError(f"reweight: expected True or False, got {reweight!r}")
        self.reweight = reweight
        self.reweight_eps = _finite_number(reweight_eps, "reweight_eps", positive=True)
        self.polish_rtol = _finite_number(polish_rtol, "polish_rtol", positive=True)
        self.collapse_rtol = _finite_number(collapse_rtol, "collapse_rtol", positive=True)
        dtype = plist[0].dtype
        if floor is None and not isinstance(rule, RankRule):
            floor = DEFAULT_FLOOR.get(dtype, DEFAULT_FLOOR[torch.float32])
        self.rule = RankRule.resolve(rule, rtol=rtol, atol=atol, min_gap=min_gap, floor=floor)
        with torch.no_grad():
            S0 = self._evaluate("operator")
        self.shape = tuple(S0.shape)
        self.register_buffer("Z", S0.detach().clone())
        self.register_buffer("U", torch.zeros_like(S0))
        self.register_buffer("n_calls", torch.zeros((), dtype=torch.long))
        self._S0_norm = float(torch.linalg.matrix_norm(S0.detach().to(DT)))
        self._theta0_norm = self._theta_norm()
        self.status = "ok"
        self.history: list[dict] = []
        self._cache: tuple | None = None

    # ------------------------------------------------------------------------------------------ helpers
    @staticmethod
    def for_model(promotion, model: torch.nn.Module, name: str = "promotion") -> "ADMMPenalty":
        """Check that ``promotion`` is an ADMMPenalty over parameters of ``model`` (the trainers' argument check):
        a TypeError for another type, a SymlieError (naming ``name``) when its parameters are not the model's."""
        if not isinstance(promotion, ADMMPenalty):
            raise TypeError(f"{name}: expected a symlie.promote.ADMMPenalty, got {type(promotion).__name__}")
        own = {id(p) for p in model.parameters()}
        if any(id(p) not in own for p in promotion.params):
            raise SymlieError(f"{name}: its parameters are not (all) the model's; build it on the model being "
                              f"trained (e.g. model.promotion(candidates, ...))")
        return promotion

    @property
    def q(self) -> int:
        """The number of candidate generators (columns of S)."""
        return int(self.shape[1])

    @property
    def params(self) -> list[torch.Tensor]:
        return list(self._params)

    def _theta_norm(self) -> float:
        return math.sqrt(sum(float((p.detach().to(DT) ** 2).sum()) for p in self._params))

    def _evaluate(self, what: str) -> torch.Tensor:
        S = self._operator()
        if not isinstance(S, torch.Tensor) or S.ndim != 2:
            got = tuple(S.shape) if isinstance(S, torch.Tensor) else type(S).__name__
            raise SymlieError(f"operator: expected S(theta) as a (rows, q) tensor, got {got}")
        if hasattr(self, "shape") and tuple(S.shape) != self.shape:
            raise SymlieError(f"operator: S(theta) changed shape from {self.shape} to {tuple(S.shape)}")
        if not bool(torch.isfinite(S).all()):
            bad = int((~torch.isfinite(S)).sum())
            raise SymlieError(f"operator: S(theta) contains {bad} NaN / Inf entr{'y' if bad == 1 else 'ies'} (in "
                              f"{what}): the parameters are no longer finite (the loss or the optimizer diverged: "
                              f"lower the learning rate, or rho)")
        return S

    # ------------------------------------------------------------------------------------------ the split
    def _versions(self) -> tuple:
        return tuple(getattr(p, "_version", None) for p in self._params)

    def penalty(self) -> torch.Tensor:
        """(rho / 2) ||S(theta) - Z + U||_F^2, a differentiable scalar to add to the loss (S's dtype).

        S(theta) is evaluated here, or taken from the last :meth:`update` when no parameter has changed since
        (the in-place version counters of the parameters; each cached S serves one penalty). Call it before the
        data term's forward pass: the reused graph is then older than the data term's in every step, including the
        first one after a resume (built here), so gradients accumulate in the same order and a resumed run
        continues bit-for-bit (:func:`symlie.nn.train_neural_ode` does)."""
        cached, self._cache = self._cache, None
        if cached is not None and cached[0] == self._versions() and torch.is_grad_enabled() and \
                cached[1].device == self._params[0].device and cached[1].dtype == self._params[0].dtype:
            S = cached[1]
        else:
            S = self._evaluate("penalty")
        D = S - self.Z.to(S) + self.U.to(S)
        return 0.5 * self.rho * (D ** 2).sum()

    def objective(self, loss: torch.Tensor) -> torch.Tensor:
        """loss + :meth:`penalty`; a NaN / Inf ``loss`` is an error (named) rather than a silent step."""
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise SymlieError(f"loss: expected a scalar tensor, got "
                              f"{tuple(loss.shape) if isinstance(loss, torch.Tensor) else type(loss).__name__}")
        if not bool(torch.isfinite(loss.detach()).all()):
            raise SymlieError(f"loss: is {float(loss.detach())} (not finite) at update {int(self.n_calls)}: the data "
                              f"term diverged before the penalty was added; lower the learning rate")
        return loss.reshape(()) + self.penalty()

    def thresholds(self, Z: torch.Tensor | None = None) -> np.ndarray | float:
        """The SVT threshold(s) gamma / rho (times the reweighting weights of Z's spectrum when ``reweight``)."""
        tau = self.gamma / self.rho
        if not self.reweight:
            return tau
        Zc = self.Z if Z is None else Z
        sv = torch.linalg.svdvals(Zc.detach().to("cpu", DT)).numpy()
        sv = np.concatenate([sv, np.zeros(self.q - sv.size)])
        if sv[0] <= 0:
            return tau
        return tau * _reweight(sv, self.reweight_eps)

    def update(self) -> dict | None:
        """The Z and U steps after an optimizer step: Z <- SVT_{gamma / rho}(S + U), U <- U + S - Z. Acts on every
        ``update_every``-th call (returns None otherwise); returns the history record (residuals) when it acts.
        S(theta) is evaluated with its graph and kept for the next :meth:`penalty` (the same parameters)."""
        with torch.no_grad():
            self.n_calls += 1
        if int(self.n_calls) % self.update_every:
            return None
        S_graph = self._evaluate("update")
        self._cache = (self._versions(), S_graph) if S_graph.requires_grad else None
        with torch.no_grad():
            return self._step(S_graph.detach())

    def _step(self, S: torch.Tensor) -> dict:
        Z_old = self.Z.to(S).clone()
        U = self.U.to(S)
        tau = self.thresholds()
        Z, rank_Z = svt(S + U, tau, return_rank=True)
        U = U + S - Z
        self.Z.copy_(Z)
        self.U.copy_(U)
        S64, Z64 = S.to(DT), Z.to(DT)
        sv = torch.linalg.svdvals(S64)
        rec = {"update": int(self.n_calls) // self.update_every, "primal": float(torch.linalg.matrix_norm(S64 - Z64)),
               "dual": self.rho * float(torch.linalg.matrix_norm(Z64 - Z_old.to(DT))), "nuclear": float(sv.sum()),
               "rank_Z": rank_Z, "threshold": float(np.min(tau)) if np.ndim(tau) else float(tau)}
        self.history.append(rec)
        self._check_collapse(rank_Z, float(torch.linalg.matrix_norm(S64)))
        return rec

    def _check_collapse(self, rank_Z: int, s_norm: float) -> None:
        if rank_Z > 0:
            self.status = "ok"
            return
        theta = self._theta_norm()
        collapsed = (s_norm <= self.collapse_rtol * self._S0_norm and self._theta0_norm > 0
                     and theta <= self.collapse_rtol * self._theta0_norm)
        if collapsed and self.status != "collapsed":
            warnings.warn(ConvergenceWarning(
                f"gamma: {self.gamma:g} is so large that every parameter is being driven to zero (Z = 0, ||S|| "
                f"{s_norm:.2e} and ||theta|| {theta:.2e} below {self.collapse_rtol:g} x their initial "
                f"{self._S0_norm:.2e}, {self._theta0_norm:.2e}); lower gamma (status 'collapsed')"), stacklevel=3)
        self.status = "collapsed" if collapsed else "all-thresholded"

    # ------------------------------------------------------------------------------------------ results
    @torch.no_grad()
    def spectrum(self) -> torch.Tensor:
        """The singular values (q,) of S(theta), descending, float64 (zeros appended when rows < q)."""
        s, _ = singular_spectrum(self._evaluate("spectrum").to(DT).cpu())
        return s

    @torch.no_grad()
    def kept(self, rule=None, *, rtol: float | None = None, atol: float | None = None,
             min_gap: float | None = None, floor: float | None = None) -> Nullspace:
        """The kept algebra: the :class:`symlie.Nullspace` of S(theta) (float64) cut by the rank rule (this
        object's, with any of the arguments overriding it). ``basis`` (q, k): the kept directions as coefficients
        of the candidate basis; ``singular_values``: the whole spectrum; ``rule`` / ``reason``: the cut."""
        base = self.rule if rule is None else rule
        rr = RankRule.resolve(base, rtol=rtol, atol=atol, min_gap=min_gap, floor=floor)
        S = self._evaluate("kept").to(DT).cpu()
        s, V = singular_spectrum(S)
        return nullspace_from_spectrum(s, V, rr)

    def _jacobian_coo(self, V0: torch.Tensor, chunk: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
        """Nonzero entries (rows, cols, values) of J = d vec(S(theta) V0) / d theta (float64) by batched vjps."""
        with torch.enable_grad():
            S = self._evaluate("polish")
            if not S.requires_grad:
                raise SymlieError("operator: S(theta) does not depend on params (no autograd graph); pass the "
                                  "parameters S is built from")
            out = (S @ V0.to(device=S.device, dtype=S.dtype)).reshape(-1)
            R = int(out.numel())
            sizes = [p.numel() for p in self._params]
            P = sum(sizes)
            rows, cols, vals = [], [], []
            for start in range(0, R, chunk):
                c = min(chunk, R - start)
                E = torch.zeros(c, R, dtype=out.dtype, device=out.device)
                E[torch.arange(c), torch.arange(start, start + c)] = 1.0
                grads = torch.autograd.grad(out, self._params, grad_outputs=E, retain_graph=True, allow_unused=True,
                                            is_grads_batched=True)
                Jc = torch.cat([(g.reshape(c, -1) if g is not None else out.new_zeros(c, n))
                                for g, n in zip(grads, sizes)], 1).to("cpu", DT)
                nz = torch.nonzero(Jc)
                rows.append((nz[:, 0] + start).numpy())
                cols.append(nz[:, 1].numpy())
                vals.append(Jc[nz[:, 0], nz[:, 1]].numpy())
        return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), R, P

    def polish(self, kept: Nullspace | torch.Tensor | None = None, *, chunk: int = 64) -> PolishResult:
        """Project the parameters onto exact symmetry under the kept directions V0 (q, k).

        theta -> S(theta) V0 is linear, with Jacobian J (rows k, P) obtained by autograd (batched vjps, the
        parameters temporarily in float64); the new parameters are the nearest (Euclidean) with J theta = 0:
        theta - C C^T theta, C the row space of J (the complement of :func:`symlie.nullspace` with the ``rtol``
        rule ``polish_rtol``). J is split into independent blocks (connected components of its nonzero pattern:
        for layer operators, one per block of parameters), each solved densely in float64. The parameters are
        written back in their dtype (so S(theta) V0 ends at that dtype's round-off), Z is set to
        S(theta) (I - V0 V0^T) and U to 0.

        ``kept``: a Nullspace (default: :meth:`kept`) or a (q, k) matrix of directions (orthonormalised here).
        ``chunk``: rows of J per batched backward pass (memory chunk x P). Cost: one reverse pass per row of
        S(theta) V0 (batched), e.g. about 6 s on one core for the 6,858 x 4,626 Jacobian of an EPNN [3, 3, 1] on
        R^12 and one kept direction; the blocks are small (3,080 there).
        """
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        chunk = check_int(chunk, "chunk", 1)
        self._cache = None
        ns = self.kept() if kept is None else kept
        if isinstance(ns, Nullspace):
            V0 = ns.basis.to(DT)
        elif isinstance(ns, torch.Tensor) and ns.ndim == 2 and ns.shape[0] == self.q:
            V0 = torch.linalg.qr(ns.detach().to("cpu", DT))[0] if ns.shape[1] else ns.detach().to("cpu", DT)
            ns = Nullspace(basis=V0, singular_values=self.spectrum(), rank=self.q - V0.shape[1],
                           threshold=float("nan"), rule={"rule": "given"}, reason="directions given to polish")
        else:
            raise SymlieError(f"kept: expected a Nullspace or a ({self.q}, k) matrix of directions, got "
                              f"{tuple(ns.shape) if isinstance(ns, torch.Tensor) else type(ns).__name__}")
        k = V0.shape[1]
        with torch.no_grad():
            S_before = self._evaluate("polish").detach().to("cpu", DT)
            before = torch.linalg.svdvals(S_before @ V0) if k else V0.new_zeros(0)
        dtypes = [p.dtype for p in self._params]
        theta_old = [p.detach().clone() for p in self._params]
        n_groups, shape = 0, (0, sum(p.numel() for p in self._params))
        if k:
            for p in self._params:                                  # float64 for the Jacobian and the projection
                p.data = p.data.to(DT)
            try:
                r, c, v, R, P = self._jacobian_coo(V0, chunk)
                shape = (R, P)
                theta = torch.cat([p.detach().reshape(-1).to("cpu", DT) for p in self._params])
                J = sp.coo_matrix((v, (r, c)), shape=(R, P)).tocsr()
                graph = sp.bmat([[None, J], [J.T, None]], format="csr")
                _, labels = connected_components(graph, directed=False)
                row_lab, col_lab = labels[:R], labels[R:]
                # permuted by component, J is block diagonal: each block is a contiguous slice
                rperm, cperm = np.argsort(row_lab, kind="stable"), np.argsort(col_lab, kind="stable")
                rl, cl = row_lab[rperm], col_lab[cperm]
                Jp = J[rperm][:, cperm].tocsr()
                for lab in np.unique(rl):
                    r0, r1 = np.searchsorted(rl, lab), np.searchsorted(rl, lab, side="right")
                    c0, c1 = np.searchsorted(cl, lab), np.searchsorted(cl, lab, side="right")
                    if c1 == c0:
                        continue
                    check_memory(8 * 4 * (r1 - r0) * (c1 - c0), f"polish: a {r1 - r0} x {c1 - c0} block of the "
                                 f"Jacobian", hint="polish fewer directions at a time")
                    Jg = torch.from_numpy(Jp[r0:r1, c0:c1].toarray())
                    comp = nullspace(Jg, rule="rtol", rtol=self.polish_rtol).complement
                    assert comp is not None
                    idx = torch.from_numpy(cperm[c0:c1])
                    tg = theta[idx]
                    theta[idx] = tg - comp @ (comp.T @ tg)
                    n_groups += 1
                off = 0
                for p in self._params:
                    n = p.numel()
                    p.data = theta[off:off + n].reshape(p.shape).to(p.device)
                    off += n
            finally:
                for p, dt in zip(self._params, dtypes):
                    p.data = p.data.to(dt)
        with torch.no_grad():
            S = self._evaluate("polish")
            S64 = S.detach().to("cpu", DT)
            s, _ = singular_spectrum(S64)
            after = torch.linalg.svdvals(S64 @ V0) if k else V0.new_zeros(0)
            Zn = S64 - (S64 @ V0) @ V0.T
            self.Z.copy_(Zn.to(self.Z))
            self.U.zero_()
        num = math.sqrt(sum(float(((p.detach().to(DT) - t.to(DT)) ** 2).sum())
                            for p, t in zip(self._params, theta_old)))
        den = math.sqrt(sum(float((t.to(DT) ** 2).sum()) for t in theta_old))
        rel = after / s[0] if s.numel() and float(s[0]) > 0 else torch.zeros_like(after)
        return PolishResult(kept=ns, singular_values=s, kept_singular_values=after, kept_before=before, relative=rel,
                            change=num / den if den > 0 else 0.0, n_groups=n_groups, jacobian_shape=shape,
                            rtol=self.polish_rtol)

    def extra_repr(self) -> str:
        return (f"shape={self.shape}, gamma={self.gamma:g}, rho={self.rho:g}, update_every={self.update_every}, "
                f"reweight={self.reweight}, status={self.status!r}")

