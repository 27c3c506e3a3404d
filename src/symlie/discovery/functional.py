"""DISCOVER: the symmetry algebra of a model (or a data set) is the nullspace of xi -> L_xi F.

For a fixed model F the Lie derivative (L_xi F)(x) = DF(x) v_xi(x) - drho_out(xi) F(x) (the convention of
:mod:`symlie.derivative`) is linear in the generator xi. With a Frobenius-orthonormal basis xi_1..xi_q of
the candidate algebra and samples x_1..x_N with weights w_n, the operator

    S[(n, a), j] = sqrt(w_n / sum w) (L_{xi_j} F)(x_n)[a]          (N n_out, q)

has the symmetry algebra sym(F) = {xi : L_xi F = 0} as its nullspace; its singular values are root-mean-
square symmetry violations (in the empirical L2 norm over the samples) along the right singular vectors.

:func:`discover` never stores S: it streams the samples in batches and keeps only a q x q triangular
factor R with R^T R = S^T S (``accumulate="qr"``, the default: a tall-skinny QR that keeps the small
singular values accurate to machine precision) or the Gram matrix S^T S itself (``accumulate="gram"``:
cheaper, accurate to about sqrt(eps) relative for the small values). When ``torch.distributed`` is
initialised, every process streams its own samples and the partial factors are combined (all-gather of
the R factors, or all-reduce of the Gram matrices), so all processes return the same result.

The candidates are any :class:`symlie.Action`: a matrix algebra (``sl.gl(3)``, a Group), function-library
vector fields (``sl.LibraryAction``: nonlinear symmetries as coefficient vectors), or neural fields.

The model can be
  * any torch callable / ``nn.Module`` (batched automatic differentiation, see
    :func:`symlie.lie_derivative`; modules are evaluated on a float64 copy by default);
  * a fitted linear-in-parameter estimator (:class:`symlie.SymmetricRegressor`, :class:`symlie.SymmetricSINDy`),
    through the exact operator of :func:`symlie.lie_derivative_linear`;
  * a dynamical system x' = f(x) (``dynamics=True``; the tangent-lift action on the output).

Data without a model: :func:`discover_data` fits a model first (polynomial regression or a small MLP) and
reports the fit quality next to the symmetry; :func:`discover_manifold` finds the symmetries of a point
cloud (a sub-manifold or level set) from local-PCA normal spaces.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch

from ..derivative import lie_derivative, lie_derivative_linear
from ..derivative.autodiff import AUTODIFF_MODES, resolve_autodiff
from ..lie.actions import Action, MatrixAction, as_action
from ..lie.groups import Group
from ..lie.reps import Rep
from ..linalg import DEFAULT_FLOOR, RankRule, StreamingFactor, use_distributed
from ..utils.errors import SymlieError
from ..utils.resources import check_memory, oom_guard
from ..utils.validation import as_tensor, check_int, check_weights, count_distinct_rows
from .result import SymmetryResult, symmetry_result

__all__ = ["discover", "resolve_candidates", "resolve_rule", "is_linear_estimator", "sample_sufficiency",
           "DEFAULT_BATCH_SIZE", "CLOSURE_POINTS"]

#: samples per streamed batch (each batch is differentiated in one pass, see :func:`symlie.lie_derivative`)
DEFAULT_BATCH_SIZE = 4096
#: samples kept to check the closure of non-matrix fields under the bracket
CLOSURE_POINTS = 256
#: condition number of the candidates' stacked fields above which they count as nearly dependent
COND_LIMIT = 1e10
#: samples of the first, cheap sufficiency check (all samples are checked only when these do not suffice)
SUFFICIENCY_POINTS = 1024


def resolve_candidates(candidates, rep_in: Rep | None, rep_out: Rep | None, n_in: int, *,
                       dynamics: bool = False) -> tuple[Action, Group | None]:
    """The candidate family as an orthonormal :class:`symlie.Action` (and the Group whose discrete generators
    are tested, if any). Raw matrices are refused: candidates name an algebra, a group or an action."""
    group = candidates if isinstance(candidates, Group) else None
    action = as_action(candidates, rep_in, rep_out, dynamics=dynamics, orthonormalize=True, name="candidates",
                       matrices=False)
    if action.dim == 0:
        raise ValueError("candidates: the candidate family is empty; nothing to discover")
    if action.n_in != n_in:
        what = f"rep_in {action.rep_in}" if isinstance(action, MatrixAction) else f"the candidates ({action.name})"
        raise ValueError(f"X: has {n_in} columns but {what} acts on R^{action.n_in} (candidates act on the wrong "
                         f"dimension or X has the wrong shape)")
    return action, group


def resolve_rule(rule, rtol, atol, min_gap, floor, dtype: torch.dtype, noise: float | None = None) -> RankRule:
    """The rank rule of a discovery: ``rule`` a kind or a RankRule; for the ``auto`` and ``gap`` kinds the
    floor defaults to the dtype's rounding level (:data:`symlie.linalg.DEFAULT_FLOOR`) or to ``noise`` (a fit
    error or noise level, relative) when larger."""
    if floor is None and not isinstance(rule, RankRule):
        floor = max(DEFAULT_FLOOR.get(dtype, 1e-12), noise or 0.0)
    if rtol is None and not isinstance(rule, RankRule):
        rtol = 1e-6 if dtype == torch.float64 else 1e-3
    return RankRule.resolve(rule, rtol=rtol, atol=atol, min_gap=min_gap, floor=floor)


def discover(model, X, candidates, *, rep_in: Rep | None = None, rep_out: Rep | None = None,
             dynamics: bool = False, weights=None, rule="auto", rtol: float | None = None,
             atol: float | None = None, min_gap: float | None = None, floor: float | None = None,
             closure_tol: float | None = None, discrete=None, batch_size: int = DEFAULT_BATCH_SIZE,
             accumulate: str = "qr", autodiff: str = "auto", dtype: torch.dtype | None = torch.float64,
             distributed="auto", fit_info: dict | None = None, max_bytes: int | None = None) -> SymmetryResult:
    """The symmetry algebra of ``model`` inside ``candidates``: the nullspace of xi -> L_xi F over ``X``.

    Args:
        model: a torch callable (N, n_in) -> (N, n_out) or (N,) (e.g. a trained ``nn.Module``; rows must be
            independent), or a fitted :class:`symlie.SymmetricRegressor` / :class:`symlie.SymmetricSINDy`
            (exact operator from its library and coefficients).
        X: samples (N, n_in) where the symmetry is tested (float; NaN/Inf refused).
        candidates: a :class:`symlie.LieAlgebra` (e.g. ``sl.gl(3)``, ``sl.se(2)``), a :class:`symlie.Group`
            whose algebra is searched and whose discrete generators are tested (e.g. ``sl.O(3)``), or any
            :class:`symlie.Action` (e.g. ``sl.polynomial_vector_fields(2, 2)``: all vector fields with
            polynomial coefficients of degree <= 2, for nonlinear symmetries). A non-orthonormal algebra basis
            is orthonormalised first, so the spectrum does not depend on the basis.
        rep_in: action on the inputs (default ``sl.Point`` of the candidates: x -> A x (+ b)); e.g.
            ``sl.V(G) + sl.V(G)`` to act on two stacked vectors.
        rep_out: linear representation on the outputs (default: invariant outputs). Ignored with
            ``dynamics=True`` (the tangent lift ``rep_in.tangent()`` is used).
        dynamics: ``model`` is a vector field x' = f(x) (automatic for a fitted :class:`symlie.SymmetricSINDy`).
        weights: optional non-negative weights (N,) of the samples (quadrature / importance weights).
        rule, rtol, atol, min_gap, floor: the rank rule (:class:`symlie.RankRule`, or its kind with these
            fields) applied to the RMS spectrum relative to max(sigma_1, scale of F). The default ``"auto"``
            cuts at the largest gap of at least ``min_gap`` (10) above a floor (the evaluation dtype's
            rounding level, :data:`symlie.linalg.DEFAULT_FLOOR`): right for exact models and for trained ones,
            whose symmetric values sit at their fit error. ``"rtol"`` (``rtol=None``: 1e-6 in float64, 1e-3
            in float32) and ``"gap"`` are available; the result records the rule and the reason of the cut.
        closure_tol: relative closure residual above which the found span is reported as not closed (and not
            identified); ``None``: max(:data:`CLOSURE_TOL_FLOOR`, :data:`CLOSURE_NOISE_FACTOR` x noise level),
            where the noise level is the largest singular value counted as symmetric over the reference.
        discrete: group elements to test, as a dict {label: (d, d)} or a list / (k, d, d) stack; default: the
            discrete generators of ``candidates`` when it is a Group.
        batch_size: samples per streamed batch (memory is bounded by one batch, whatever N).
        accumulate: ``"qr"`` (streaming triangular factor, accurate small singular values) or ``"gram"``.
        autodiff: how DF v_xi is computed (see :func:`symlie.lie_derivative`); ``"auto"`` picks the cheapest.
        dtype: evaluation dtype: X is converted (losslessly upwards) and ``nn.Module`` models are evaluated on
            a float64 copy when ``torch.float64`` (default). ``None`` evaluates in X's and the model's own dtype.
        distributed: ``"auto"`` (default) combines the partial factors of all processes when
            ``torch.distributed`` is initialised; ``True`` requires it; ``False`` ignores it.
        max_bytes: memory limit of this call's own buffers, estimated before anything is allocated (``None``:
            the process-wide limit, :func:`symlie.set_memory_limit`); a larger request raises
            :class:`symlie.ResourceError`.

    Returns:
        :class:`SymmetryResult`. A model without symmetry in the candidates gives ``dim == 0`` (not an error);
        the spectrum and gap tell how clear-cut that is. When the samples cannot determine the answer (too few
        distinct samples for the candidates, samples at fixed points of the candidates), ``result.status`` is
        ``"underdetermined"``, ``result.status_reason`` says why, and an :class:`symlie.UnderdeterminedWarning`
        is emitted (see :func:`sample_sufficiency`).

    Raises:
        SymlieError: the model is NaN or Inf at some samples (the count and the first one are named).
    """
    t0 = time.perf_counter()
    if accumulate not in ("qr", "gram"):
        raise ValueError(f"accumulate: expected 'qr' or 'gram', got {accumulate!r}")
    if autodiff not in AUTODIFF_MODES:
        raise ValueError(f"autodiff: expected one of {AUTODIFF_MODES}, got {autodiff!r}")
    batch_size = check_int(batch_size, "batch_size", 1)
    x = _check_samples(X, dtype)
    N, n_in = x.shape
    w = check_weights(weights, N)
    use_dist = use_distributed(distributed)
    ev = _Evaluator.of(model, x, dtype, dynamics)
    action, group = resolve_candidates(candidates, rep_in, rep_out, n_in, dynamics=ev.dynamics)
    if ev.dynamics and action.n_out is not None and action.n_out != n_in:
        raise ValueError(f"dynamics: the tangent action has size {action.n_out} but states have {n_in} entries")
    q = action.dim
    elems = _discrete_elements(discrete, group, action)
    kfs = [action.transform(ev.F, g) for g in elems.values()]  # type: ignore[attr-defined]  # MatrixAction only
    n_out_probe = _probe(ev.F, x, n_in)
    if not ev.linear:
        autodiff = resolve_autodiff(autodiff, q, n_in, n_out_probe)
    check_memory(_stream_bytes(q, min(batch_size, N), n_in, n_out_probe, x.dtype),
                 f"discover: the streamed factors of {q} candidates over batches of {min(batch_size, N)} samples",
                 hint="pass a smaller batch_size or fewer candidates", max_bytes=max_bytes)
    acc = StreamingFactor(q, accumulate)
    with oom_guard("discover", f"pass a smaller batch_size (now {batch_size})"):
        sums, n_out_seen = _stream(ev, action, x, w, batch_size, kfs, acc, autodiff)
        R, sums, world = acc.reduce(sums, use_dist)
        suff = _sufficiency(ev, action, x, w, batch_size, int(n_out_seen or 0), use_dist)
    disc, tw, scale = _moments(sums, list(elems))
    kind = "linear" if ev.linear else ("dynamics" if ev.dynamics else "function")
    if ev.linear and ev.dynamics:
        kind = "dynamics (linear)"
    info = {"seconds": time.perf_counter() - t0, "batch_size": batch_size, "accumulate": accumulate,
            "autodiff": "exact (library)" if ev.linear else autodiff, "dtype": str(x.dtype).replace("torch.", ""),
            "processes": world}
    noise = (fit_info or {}).get("noise_floor")
    rr = resolve_rule(rule, rtol, atol, min_gap, floor, x.dtype, noise)
    info.update(suff)
    res = symmetry_result(action, R, tw, scale, rule=rr, closure_tol=closure_tol, discrete=disc,
                          n_samples=int(sums[0]), n_outputs=int(n_out_seen or 0), kind=kind, fit=fit_info,
                          info=info, points=x[:CLOSURE_POINTS])
    res.warn_status(stacklevel=3)
    return res


def _stream_bytes(q: int, b: int, n_in: int, n_out: int, dtype: torch.dtype) -> float:
    """Bytes of discover's own buffers: the q x q factors with their QR workspace and the (b n_out, q) rows of
    one batch (and the (b (n_in + n_out), q) rows of the sufficiency check), several copies each."""
    item = dtype.itemsize
    return 8.0 * 4 * q * q + item * 3.0 * b * (2 * n_out + n_in) * q


def _fields_factor(ev: "_Evaluator", action: Action, x: torch.Tensor, batch_size: int) -> StreamingFactor:
    """The candidates' fields and output terms on the model's values at x, stacked (rows (b (n_in + n_out), q))
    into a streamed factor: their common nullspace acts trivially on every sample."""
    q = action.dim
    fac = StreamingFactor(q, "qr")
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            xc = x[start:start + batch_size]
            out = action.output_term(xc, _as_2d(ev.F(xc))) if action.acts_on_outputs else None
            parts = [action.vector_fields(xc)] + ([out] if out is not None else [])
            blk = torch.cat([p.to(torch.float64) for p in parts], -1)         # (q, b, n_in [+ n_out])
            fac.add(blk.permute(1, 2, 0).reshape(-1, q))
    return fac


def _as_2d(y: torch.Tensor) -> torch.Tensor:
    return y.unsqueeze(-1) if y.ndim == 1 else y


def _sufficiency(ev: "_Evaluator", action: Action, x: torch.Tensor, w: torch.Tensor | None, batch_size: int,
                 n_out: int, use_dist: bool) -> dict:
    """:func:`sample_sufficiency` of the samples with positive weight. A strided subset of at most
    :data:`SUFFICIENCY_POINTS` samples is checked first: when it already determines the answer, so do all the
    samples (more rows only add rank and distinct points); otherwise every sample is checked (and, when
    distributed, every process's samples together)."""
    q = action.dim
    xs = x if w is None else x[w > 0]
    N = xs.shape[0]
    sub = xs[torch.linspace(0, N - 1, min(N, SUFFICIENCY_POINTS)).round().long().unique()] if N else xs
    R, _, _ = _fields_factor(ev, action, sub, batch_size).reduce(torch.zeros(1, dtype=torch.float64), False)
    res = sample_sufficiency(R, count_distinct_rows(sub), n_out, q, x.dtype, what=f"the {q} candidates")
    need_full = res["status"] != "ok" and (sub.shape[0] < N or use_dist)
    if use_dist:
        import torch.distributed as dist
        flag = torch.tensor([int(need_full or res["status"] != "ok")], dtype=torch.int64)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)                  # every process takes the same path
        need_full = bool(flag.item())
    if not need_full:
        return res
    R, _, _ = _fields_factor(ev, action, xs, batch_size).reduce(torch.zeros(1, dtype=torch.float64), use_dist)
    n = count_distinct_rows(xs)
    if use_dist:
        import torch.distributed as dist
        t = torch.tensor([n], dtype=torch.int64)
        dist.all_reduce(t)                        # an upper bound: a row repeated on two processes counts twice
        n = int(t.item())
    return sample_sufficiency(R, n, n_out, q, x.dtype, what=f"the {q} candidates")


def sample_sufficiency(R_fields: torch.Tensor, n_distinct: int, rows_per_sample: int, q: int,
                       dtype: torch.dtype, *, what: str = "the candidates", rtol: float | None = None) -> dict:
    """Whether the samples can determine which of q candidate directions are symmetries.

    Two counts, independent of the model:

    * **trivial directions**: the combinations of candidates whose fields vanish at every sample (and whose
      output term vanishes on the model's values there) are in the nullspace of *any* model's operator: the
      samples sit at their fixed points (all samples at the origin for gl(n), samples on a line, too few
      distinct points). Their number is the nullity of the stacked fields, factor ``R_fields`` (q, q), cut at
      ``rtol`` relative to its largest singular value (default: the dtype's rounding floor,
      :data:`symlie.linalg.DEFAULT_FLOOR`); the others must be well conditioned (condition number
      <= :data:`COND_LIMIT`), or near-dependences of the library would pass for symmetries.
    * **row count**: ``n_distinct`` distinct samples with ``rows_per_sample`` output components give at most
      n_distinct x rows_per_sample independent rows; with fewer rows than q unknowns, at least q - rows
      directions are in the nullspace whatever the model.

    Returns ``{"status": "ok" | "underdetermined", "status_reason": str, "sufficiency": {...}}`` (merged into
    the result's ``info``; :meth:`SymmetryResult.warn_status` turns it into an :class:`UnderdeterminedWarning`).
    """
    tol = DEFAULT_FLOOR.get(dtype, 1e-12) if rtol is None else float(rtol)
    s = torch.linalg.svdvals(R_fields.to(torch.float64)) if R_fields.numel() else torch.zeros(q, dtype=torch.float64)
    top = float(s[0]) if s.numel() else 0.0
    trivial = int((s <= tol * top).sum()) if top > 0 else q
    trivial += q - int(s.numel())
    max_rows = n_distinct * max(rows_per_sample, 0)
    live = s[s > tol * top] if top > 0 else s[:0]
    cond = top / float(live[-1]) if live.numel() else float("inf")
    reasons = []
    if live.numel() and cond > COND_LIMIT:
        reasons.append(f"the candidate fields are nearly dependent at the samples (condition number {cond:.1e} > "
                       f"{COND_LIMIT:.0e}): the rank rule cannot tell near-dependences from symmetries; "
                       f"orthogonalise the library or drop nearly collinear features")
    if trivial:
        reasons.append(f"{trivial} of {what}' directions act trivially on every sample (their fields vanish at all "
                       f"{n_distinct} distinct samples: fixed points of the candidates, or samples on a "
                       f"lower-dimensional set), so the samples cannot tell whether they are symmetries")
    if max_rows < q:
        reasons.append(f"{n_distinct} distinct sample(s) x {rows_per_sample} output(s) give at most {max_rows} "
                       f"independent rows for {q} unknowns: at least {q - max_rows} directions are in the nullspace "
                       f"whatever the model")
    status = "underdetermined" if reasons else "ok"
    if reasons:
        reasons.append("use more samples, spread over the domain (away from fixed points of the candidates)")
    return {"status": status, "status_reason": "; ".join(reasons),
            "sufficiency": {"trivial_directions": trivial, "distinct_samples": n_distinct, "max_rows": max_rows,
                            "unknowns": q, "rtol": tol, "fields_condition": cond}}


def _check_samples(X, dtype: torch.dtype | None) -> torch.Tensor:
    """X as (N >= 1, n_in) in the evaluation dtype (upward conversion only)."""
    if dtype is not None and dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float64, torch.float32 or None, got {dtype}")
    x = as_tensor(X, "X", ndim=2)
    if x.shape[0] == 0:
        raise ValueError("X: got 0 samples")
    if dtype is not None and x.dtype != dtype:
        if x.dtype == torch.float64 and dtype == torch.float32:
            raise TypeError("X: is float64 but dtype=torch.float32 was requested; convert X explicitly")
        x = x.to(dtype)
    return x


@dataclass
class _Evaluator:
    """How the model is evaluated and differentiated: a torch callable by autodiff, or a fitted
    linear-in-parameter estimator through the exact operator of its library and coefficients."""

    F: Callable
    linear: bool
    dynamics: bool
    library: object = None
    W: torch.Tensor | None = None
    n_out: int | None = None

    @classmethod
    def of(cls, model, x: torch.Tensor, dtype: torch.dtype | None, dynamics: bool) -> "_Evaluator":
        if is_linear_estimator(model):
            if getattr(model, "coef_", None) is None or not hasattr(model, "n_outputs_"):
                raise ValueError("model: the estimator is not fitted (call fit first)")
            if model.n_features_in_ != x.shape[1]:
                raise ValueError(f"X: has {x.shape[1]} columns but the model was fitted on {model.n_features_in_} "
                                 f"inputs")
            W = model.coef_.to(x.dtype)
            library = getattr(model, "library_", None) or model.library        # the fitted copy when there is one

            def F(xc):
                return library.transform(xc).to(xc.dtype) @ W.T

            return cls(F, True, dynamics or bool(getattr(model, "is_dynamics", False)), library, W,
                       int(model.n_outputs_))
        if callable(model):
            return cls(_float64_model(model) if dtype == torch.float64 else model, False, dynamics)
        raise TypeError(f"model: expected a torch callable, an nn.Module or a fitted SymmetricRegressor / "
                        f"SymmetricSINDy, got {type(model).__name__}")

    def derivative(self, action: Action, xc: torch.Tensor, autodiff: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(L (q, n, n_out), F(xc) (n, n_out)) for one batch, without gradients."""
        if self.linear:
            return lie_derivative_linear(self.library, action, xc, n_out=self.n_out, coef=self.W), self.F(xc)
        L, fx = lie_derivative(self.F, action, xc, batch_size=None, autodiff=autodiff, return_values=True,
                               check_finite=False)                # counted over all batches by _stream
        if L.ndim == 2:
            L, fx = L.unsqueeze(-1), fx.unsqueeze(-1)
        return L, fx


def _stream(ev: _Evaluator, action: Action, x: torch.Tensor, w: torch.Tensor | None, batch_size: int, kfs: list,
            acc: StreamingFactor, autodiff: str) -> tuple[torch.Tensor, int | None]:
    """Fold the weighted rows of every batch into ``acc``; returns the sums [N, sum w, sum w |F|^2,
    (sum w |K_g F - F|^2, sum w |F|^2) per discrete element, sum w F (n_out)] and n_out.

    Samples where the model or its Lie derivative is NaN / Inf are counted over all batches and refused with
    one error naming the model (a NaN value would otherwise vanish from DF v, or surface in the rank rule)."""
    q = action.dim
    sq = torch.zeros(3 + 2 * len(kfs), dtype=torch.float64)
    sum_f = None
    n_out = None
    bad, first_bad = 0, -1
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            xc = x[start:start + batch_size]
            L, fx = ev.derivative(action, xc, autodiff)
            n_out = L.shape[-1]
            ok = torch.isfinite(fx).all(-1) & torch.isfinite(L).all(-1).all(0)
            if not bool(ok.all()):
                if first_bad < 0:
                    first_bad = start + int((~ok).nonzero()[0, 0])
                bad += int((~ok).sum())
            if bad:
                continue
            wc = w[start:start + batch_size] if w is not None else None
            blk = L.permute(1, 2, 0)                                     # (n, n_out, q)
            if wc is not None:
                blk = blk * wc.to(blk.dtype).sqrt()[:, None, None]
            acc.add(blk.reshape(-1, q))
            ww = wc[:, None] if wc is not None else torch.ones(xc.shape[0], 1, dtype=torch.float64)
            f64 = fx.to(torch.float64)
            sum_f = (f64 * ww).sum(0) if sum_f is None else sum_f + (f64 * ww).sum(0)
            sq[0] += xc.shape[0]
            sq[1] += float(ww.sum())
            sq[2] += float((f64 ** 2 * ww).sum())
            for i, kf in enumerate(kfs):
                gx = kf(xc)
                gx = gx.unsqueeze(-1) if gx.ndim == 1 else gx
                sq[3 + 2 * i] += float(((gx.to(torch.float64) - f64) ** 2 * ww).sum())
                sq[4 + 2 * i] += float((f64 ** 2 * ww).sum())
    if bad:
        raise SymlieError(f"model: returned NaN or Inf at {bad} of {x.shape[0]} samples (first at sample {first_bad}, "
                          f"X[{first_bad}] = {x[first_bad].tolist()}); the Lie derivative is not defined there: "
                          f"restrict X to the model's domain, or fix the model")
    assert sum_f is not None
    return torch.cat([sq, sum_f]), n_out


def _moments(sq: torch.Tensor, labels: list) -> tuple[dict, float, float]:
    """(discrete violations {label: RMS |K_g F - F| / RMS |F|}, total weight, RMS |F - mean F|)."""
    m = len(labels)
    disc = {k: math.sqrt(float(sq[3 + 2 * i]) / float(sq[4 + 2 * i])) if float(sq[4 + 2 * i]) > 0 else float("inf")
            for i, k in enumerate(labels)}
    tw = float(sq[1])
    mean_f = sq[3 + 2 * m:] / tw if tw > 0 else sq[3 + 2 * m:]
    scale = math.sqrt(max(float(sq[2]) / tw - float((mean_f ** 2).sum()), 0.0)) if tw > 0 else 0.0
    return disc, tw, scale


def _discrete_elements(discrete, group: Group | None, action: Action) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    if discrete is not None and not isinstance(action, MatrixAction):
        raise ValueError("discrete: group elements can only be tested with matrix candidates (a LieAlgebra or Group)")
    if not isinstance(action, MatrixAction):
        return out
    d = action.group.matrix_size
    if discrete is None:
        if group is not None:
            for i, g in enumerate(group.discrete):
                out[f"{group.name} discrete generator {i}"] = g
        return out
    items = discrete.items() if isinstance(discrete, dict) else (
        (f"g{i}", g) for i, g in enumerate(discrete if not isinstance(discrete, torch.Tensor) or discrete.ndim == 3
                                           else [discrete]))
    for k, g in items:
        g = as_tensor(g, f"discrete[{k!r}]", dtype=torch.float64)
        if g.shape != (d, d):
            raise ValueError(f"discrete[{k!r}]: expected a ({d}, {d}) group element, got {tuple(g.shape)}")
        if abs(float(torch.linalg.det(g))) < 1e-12:
            raise ValueError(f"discrete[{k!r}]: the matrix is singular, not a group element")
        out[str(k)] = g
    return out


def _probe(F, x: torch.Tensor, n_in: int) -> int:
    """Evaluate the model on one sample so that shape errors name X and the model, not torch internals;
    returns n_out."""
    try:
        with torch.no_grad():
            y = F(x[:1])
    except (RuntimeError, ValueError, IndexError) as exc:
        raise ValueError(f"model: could not be evaluated on samples of X with {n_in} columns (does the model take "
                         f"{n_in} inputs?): {exc}") from exc
    if not isinstance(y, torch.Tensor) or y.ndim not in (1, 2) or y.shape[0] != 1:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"model: expected output of shape (N,) or (N, n_out) for input of shape (N, {n_in}), "
                         f"got {got} for N = 1")
    return 1 if y.ndim == 1 else int(y.shape[1])


def is_linear_estimator(model) -> bool:
    """A fitted or unfitted linear-in-parameter estimator (``library``, ``fit``; not a torch module)."""
    return hasattr(model, "library") and hasattr(model, "fit") and not isinstance(model, torch.nn.Module)


def _float64_model(model):
    """A float64 copy of an nn.Module (the user's model is left untouched); callables are returned as is."""
    if isinstance(model, torch.nn.Module):
        dts = {p.dtype for p in list(model.parameters()) + list(model.buffers()) if p.is_floating_point()}
        if dts and dts != {torch.float64}:
            return copy.deepcopy(model).to(torch.float64)
    return model
