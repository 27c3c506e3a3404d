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
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ._validation import SymlieError, as_tensor, check_int
from .algebra import LieAlgebra
from .derivative import AUTODIFF_MODES, _autodiff_mode, lie_derivative, lie_derivative_linear, transform
from .groups import Group, as_group
from .identify import identify_algebra
from .linalg import nullspace
from .regression import _r2 as r2_score
from .reps import Point, Rep

__all__ = ["SymmetryResult", "discover", "discover_data", "discover_manifold", "fit_mlp", "DEFAULT_RTOL",
           "DEFAULT_BATCH_SIZE", "CLOSURE_TOL_FLOOR", "CLOSURE_NOISE_FACTOR", "FIT_TOL_FACTOR", "POOR_FIT_R2"]

#: default relative tolerance of the ``"rtol"`` rank rule, by the dtype the model is evaluated in
DEFAULT_RTOL = {torch.float64: 1e-6, torch.float32: 1e-3}
#: ``closure_tol=None`` accepts a found span as closed when its relative bracket residual is at most
#: max(CLOSURE_TOL_FLOOR, CLOSURE_NOISE_FACTOR * noise), noise = largest symmetric singular value / reference
#: (a span estimated from a noisy or fitted model is only as closed as it is symmetric)
CLOSURE_TOL_FLOOR = 1e-8
CLOSURE_NOISE_FACTOR = 10.0
#: identification of a noisy result uses the noise-scaled closure tolerance as its rank tolerance, capped here
#: (beyond it structure constants themselves would count as zero and e.g. so(3) would read as abelian)
IDENTIFY_RTOL_MAX = 1e-2
#: discover_data's "auto" rule: rtol = FIT_TOL_FACTOR x the fit's relative RMS error (sqrt(1 - R^2))
FIT_TOL_FACTOR = 10.0
#: discover_data warns when the fit's R^2 is below this
POOR_FIT_R2 = 0.9
#: samples per streamed batch (each batch is differentiated in one pass, see :func:`symlie.lie_derivative`)
DEFAULT_BATCH_SIZE = 4096


# ---------------------------------------------------------------------------------------------- result
@dataclass
class SymmetryResult:
    """The symmetry algebra found inside a candidate algebra, with everything needed to judge it.

    Attributes:
        candidates: the candidate algebra with the Frobenius-orthonormal basis xi_1..xi_q used (q, d, d).
        coefficients: (k, q) orthonormal rows: the found generators are ``coefficients @ candidates.basis``.
        singular_values: (q,) root-mean-square violations sigma_1 >= ... >= sigma_q of the operator
            xi -> L_xi F over the samples (``normalized_spectrum`` divides by sigma_1).
        broken_coefficients: (q - k, q) rows spanning the broken directions (right singular vectors with
            the q - k largest values, in that order).
        rank, threshold, rule, gap_ratio: the rank rule used (see :func:`symlie.nullspace`): ``rank = q - k``
            values above ``threshold``; gap_ratio = sigma_rank / sigma_{rank+1} (1-based).
        largest_gap: ``{"dim": k', "ratio": r}``: the dimension the largest consecutive ratio of the
            spectrum would give, whatever the rule, so that a user can see whether both agree.
        closure_error: relative residual of the brackets of the found generators outside their span.
        identification: the output of :func:`symlie.identify_algebra` (``name``, ``aliases``, Killing
            signature, ...), or ``{"name": None, "description": "..."}`` when the found span does not close.
        discrete: {label: relative violation} of the tested discrete elements g: RMS |K_g F - F| / RMS |F|
            over the samples (for point clouds: the mean distance of g x_n from the tangent plane of its nearest
            cloud point, over the cloud's RMS radius).
        n_samples, n_outputs: numbers of samples and output components used.
        scale: the model's own scale, RMS |F(x) - mean F| over the samples (for point clouds: the RMS radius
            about the centroid). L_xi F has the units of F, so broken directions give values of this order;
            the rank rules measure against ``reference = max(sigma_1, scale)``, which lets a model that is
            symmetric under all candidates be recognised (its sigma_1 is rounding noise).
        kind: ``"function"``, ``"dynamics"``, ``"linear"`` (exact operator of a fitted estimator) or
            ``"manifold"`` (point cloud).
        fit: for :func:`discover_data`, the fitted model's description and quality (R^2 on the training
            and held-out samples); for :func:`discover_manifold`, the intrinsic dimension and neighbours.
        info: timings and settings (batch size, accumulation, autodiff mode, processes).
    """

    candidates: LieAlgebra
    coefficients: torch.Tensor
    singular_values: torch.Tensor
    broken_coefficients: torch.Tensor
    rank: int
    threshold: float
    rule: dict
    gap_ratio: float
    largest_gap: dict
    closure_error: float
    identification: dict
    discrete: dict = field(default_factory=dict)
    n_samples: int = 0
    n_outputs: int = 0
    kind: str = "function"
    fit: dict | None = None
    info: dict = field(default_factory=dict)
    scale: float = 0.0
    model: object = field(default=None, repr=False, compare=False)

    # -- derived views -----------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Dimension of the discovered symmetry algebra."""
        return int(self.coefficients.shape[0])

    @property
    def generators(self) -> torch.Tensor:
        """(k, d, d) orthonormal generator matrices of the discovered algebra."""
        return torch.einsum("kq,qij->kij", self.coefficients, self.candidates.basis)

    @property
    def algebra(self) -> LieAlgebra:
        """The discovered algebra as a :class:`symlie.LieAlgebra` (named by the identification)."""
        name = self.identification.get("name") or f"sym(F) in {self.candidates.name}"
        return LieAlgebra(self.generators, name=name, affine=self.candidates.affine,
                          size=self.candidates.matrix_size)

    @property
    def broken_generators(self) -> torch.Tensor:
        """(q - k, d, d) generators of the broken directions, most broken first."""
        return torch.einsum("kq,qij->kij", self.broken_coefficients, self.candidates.basis)

    @property
    def reference(self) -> float:
        """max(sigma_1, scale): the value the relative rank rule and :attr:`normalized_spectrum` divide by."""
        return max(float(self.singular_values[0]) if self.singular_values.numel() else 0.0, self.scale)

    @property
    def normalized_spectrum(self) -> torch.Tensor:
        """singular_values / reference (a model symmetric under every candidate shows only rounding here)."""
        ref = self.reference
        return self.singular_values / ref if ref > 0 else self.singular_values

    def distance_to(self, truth) -> float:
        """Grassmann distance (sqrt of the summed squared principal angles, radians) between the discovered
        algebra and ``truth`` (a LieAlgebra of the same matrix size, or (k, d, d) generators); a dimension
        mismatch adds pi/2 per missing direction. Linear ``truth`` is embedded when the candidates are affine."""
        from .metrics import subspace_distance
        if isinstance(truth, LieAlgebra):
            if self.candidates.affine and not truth.affine:
                truth = truth.to_affine()
            T = truth.basis
        else:
            T = as_tensor(truth, "truth", dtype=torch.float64)
            T = T.unsqueeze(0) if T.ndim == 2 else T
        d = self.candidates.matrix_size
        if T.ndim != 3 or T.shape[1:] != (d, d):
            raise ValueError(f"truth: expected generators of shape (k, {d}, {d}), got {tuple(T.shape)}")
        return subspace_distance(self.generators.reshape(self.dim, d * d).T, T.reshape(T.shape[0], d * d).T)

    # -- reporting ---------------------------------------------------------------------------------
    def summary(self, max_values: int = 12) -> str:
        """A readable multi-line report: dimension, name, rule, gap, closure, spectrum, discrete tests."""
        q = self.candidates.dim
        ident = self.identification
        name = ident.get("name") or "unidentified"
        al = f" (= {', '.join(ident['aliases'])})" if ident.get("aliases") else ""
        lines = [f"symmetry discovery ({self.kind}): {self.dim} of {q} generators of {self.candidates.name} "
                 f"are symmetries; {self.n_samples} samples x {self.n_outputs} output(s)",
                 f"  algebra        : {name}{al}; {ident.get('description', '')}"]
        rule = ", ".join(f"{k}={v}" for k, v in self.rule.items())
        lines.append(f"  rank rule      : {rule}; threshold {self.threshold:.3e} (rms violation)")
        gap = "-" if math.isnan(self.gap_ratio) else ("inf" if math.isinf(self.gap_ratio) else f"{self.gap_ratio:.3g}")
        lg = self.largest_gap
        lgr = "inf" if math.isinf(lg.get("ratio", float("nan"))) else f"{lg.get('ratio', float('nan')):.3g}"
        lines.append(f"  gap at the cut : {gap}; largest gap {lgr} would give dim {lg.get('dim')}")
        lines.append(f"  closure error  : {self.closure_error:.2e}")
        s = [float(v) for v in self.normalized_spectrum]
        shown = s if len(s) <= max_values else s[: max_values // 2] + [float("nan")] + s[-max_values // 2:]
        txt = " ".join("..." if math.isnan(v) else f"{v:.2e}" for v in shown)
        lines.append(f"  spectrum / ref : {txt}  (cut after {self.rank}; ref = max(sigma_1, scale of F) = "
                     f"{self.reference:.3e})")
        if self.discrete:
            lines.append("  discrete       : " + ", ".join(f"{k}: {v:.2e}" for k, v in self.discrete.items()))
        if self.fit:
            lines.append("  fit            : " + ", ".join(f"{k}={_fmt_val(v)}" for k, v in self.fit.items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        name = self.identification.get("name") or "unidentified"
        return f"SymmetryResult(dim={self.dim}, algebra={name!r}, candidates={self.candidates.name!r}, gap_ratio={self.gap_ratio:.3g})"

    def to_dict(self) -> dict:
        """JSON-serialisable dict with every field (tensors as nested lists, float64 round-trip exact)."""
        cand = self.candidates
        return {
            "dim": self.dim,
            "name": self.identification.get("name"),
            "candidates": {"name": cand.name, "affine": cand.affine, "basis": cand.basis.tolist()},
            "coefficients": self.coefficients.tolist(),
            "generators": self.generators.tolist(),
            "singular_values": self.singular_values.tolist(),
            "normalized_spectrum": self.normalized_spectrum.tolist(),
            "broken_coefficients": self.broken_coefficients.tolist(),
            "rank": self.rank, "threshold": self.threshold, "rule": dict(self.rule),
            "gap_ratio": _json_float(self.gap_ratio),
            "largest_gap": {k: _json_float(v) for k, v in self.largest_gap.items()},
            "closure_error": _json_float(self.closure_error),
            "identification": _jsonable(self.identification),
            "discrete": {k: _json_float(v) for k, v in self.discrete.items()},
            "n_samples": self.n_samples, "n_outputs": self.n_outputs, "kind": self.kind, "scale": self.scale,
            "fit": _jsonable(self.fit), "info": _jsonable(self.info),
        }

    @classmethod
    def from_dict(cls, d: dict) -> "SymmetryResult":
        """Inverse of :meth:`to_dict`."""
        c = d["candidates"]
        cand = LieAlgebra(torch.tensor(c["basis"], dtype=torch.float64), name=c["name"], affine=c["affine"])
        q = cand.dim

        def mat(v):
            return torch.tensor(v, dtype=torch.float64).reshape(-1, q)

        ident = dict(d["identification"])
        if "killing_signature" in ident:
            ident["killing_signature"] = tuple(ident["killing_signature"])
        if "levi_signature" in ident:
            ident["levi_signature"] = tuple(ident["levi_signature"])
        return cls(candidates=cand, coefficients=mat(d["coefficients"]),
                   singular_values=torch.tensor(d["singular_values"], dtype=torch.float64),
                   broken_coefficients=mat(d["broken_coefficients"]), rank=int(d["rank"]),
                   threshold=float(d["threshold"]), rule=dict(d["rule"]), gap_ratio=_from_json(d["gap_ratio"]),
                   largest_gap={k: _from_json(v) for k, v in d["largest_gap"].items()},
                   closure_error=_from_json(d["closure_error"]), identification=ident,
                   discrete={k: _from_json(v) for k, v in d["discrete"].items()}, n_samples=int(d["n_samples"]),
                   n_outputs=int(d["n_outputs"]), kind=d["kind"], fit=_from_json(d.get("fit")),
                   info=_from_json(d.get("info") or {}),
                   scale=float(d.get("scale", 0.0)))

    def save(self, path) -> Path:
        """Write :meth:`to_dict` as JSON to ``path``; returns the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path

    @classmethod
    def load(cls, path) -> "SymmetryResult":
        """Read a result written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"path: no such file {str(path)!r}")
        try:
            d = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"path: {str(path)!r} is not a saved SymmetryResult (invalid JSON: {exc})") from exc
        if not isinstance(d, dict) or "candidates" not in d or "singular_values" not in d:
            raise ValueError(f"path: {str(path)!r} is not a saved SymmetryResult")
        return cls.from_dict(d)


def _fmt_val(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _json_float(v):
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return v
    v = float(v)
    return v if math.isfinite(v) else ("inf" if v > 0 else ("-inf" if v < 0 else "nan"))


def _from_json(v):
    """Inverse of _json_float / _jsonable: "nan", "inf", "-inf" back to floats, recursively in dicts/lists."""
    if isinstance(v, str):
        return float(v) if v in ("nan", "inf", "-inf") else v
    if isinstance(v, dict):
        return {k: _from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_from_json(x) for x in v]
    return v


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if isinstance(x, float):
        return _json_float(x)
    return x


# ----------------------------------------------------------------------------------- accumulation
class _Accumulator:
    """Streams blocks S_b (rows, q) into a q x q factor: R (TSQR) or the Gram matrix, plus scalar sums."""

    def __init__(self, q: int, method: str):
        self.q, self.method = q, method
        self.M = torch.zeros(q, q, dtype=torch.float64)
        self.weight = 0.0
        self.n = 0

    def add(self, block: torch.Tensor) -> None:
        block = block.to(torch.float64)
        if not bool(torch.isfinite(block).all()):
            raise SymlieError("model: the Lie derivative has NaN or Inf entries on some samples (the model or its "
                              "derivative is not finite there)")
        if self.method == "qr":
            self.M = torch.linalg.qr(torch.cat([self.M, block]), mode="r")[1][: self.q]
        else:
            self.M += block.T @ block

    def reduce(self, extras: torch.Tensor, distributed: bool) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Combine across processes; returns (R with R^T R = S^T S, summed extras, world size)."""
        world = 1
        if distributed:
            import torch.distributed as dist
            world = dist.get_world_size()
            if self.method == "qr":
                parts = [torch.zeros_like(self.M) for _ in range(world)]
                dist.all_gather(parts, self.M.contiguous())
                self.M = torch.linalg.qr(torch.cat(parts), mode="r")[1][: self.q]
            else:
                dist.all_reduce(self.M)
            dist.all_reduce(extras)
        if self.method == "qr":
            return self.M, extras, world
        ev, U = torch.linalg.eigh(0.5 * (self.M + self.M.T))
        return ev.clamp(min=0).sqrt()[:, None] * U.T, extras, world


def _use_distributed(distributed) -> bool:
    if distributed not in ("auto", True, False):
        raise ValueError(f"distributed: expected 'auto', True or False, got {distributed!r}")
    avail = torch.distributed.is_available() and torch.distributed.is_initialized()
    if distributed is True and not avail:
        raise SymlieError("distributed=True but torch.distributed is not initialised (call "
                          "torch.distributed.init_process_group first)")
    return bool(avail) if distributed == "auto" else bool(distributed)


# --------------------------------------------------------------------------------------- helpers
def _resolve_candidates(candidates) -> tuple[LieAlgebra, Group | None]:
    if isinstance(candidates, Group):
        group, alg = candidates, candidates.algebra
    elif isinstance(candidates, LieAlgebra):
        group, alg = None, candidates
    else:
        raise TypeError(f"candidates: expected a LieAlgebra (e.g. sl.gl(3)) or a Group, got "
                        f"{type(candidates).__name__}")
    if alg.dim == 0:
        raise ValueError("candidates: the candidate algebra is zero-dimensional; nothing to discover")
    if not alg.is_orthonormal(1e-10):
        alg = alg.orthonormalize()
    return alg, group


def _resolve_rep_in(rep_in, alg: LieAlgebra, group: Group | None, n_in: int) -> Rep:
    if rep_in is None:
        rep_in = Point(group if group is not None else as_group(alg))
    elif not isinstance(rep_in, Rep):
        raise TypeError(f"rep_in: expected a Rep (e.g. sl.V(G) or sl.V(G) + sl.V(G)), got {type(rep_in).__name__}")
    d = rep_in.group.matrix_size
    if d != alg.matrix_size:
        raise ValueError(f"candidates: generators are {alg.matrix_size}x{alg.matrix_size} but rep_in {rep_in} "
                         f"acts through {d}x{d} matrices")
    if rep_in.size != n_in:
        raise ValueError(f"X: has {n_in} columns but rep_in {rep_in} acts on R^{rep_in.size} (candidates act on "
                         f"the wrong dimension or X has the wrong shape)")
    return rep_in


def _resolve_rtol(rtol, dtype: torch.dtype) -> float:
    if rtol is None:
        return DEFAULT_RTOL.get(dtype, 1e-6)
    if not isinstance(rtol, (int, float)) or isinstance(rtol, bool) or not rtol >= 0:
        raise ValueError(f"rtol: expected a number >= 0 or None, got {rtol!r}")
    return float(rtol)


def _discrete_elements(discrete, group: Group | None, d: int) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
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


def _largest_gap(s: torch.Tensor, floor: float, ref: float) -> dict:
    """The dimension the largest consecutive ratio of [ref, s_1, ..., s_q] (floored at floor * ref) gives."""
    q = s.numel()
    if ref <= 0:
        return {"dim": q, "ratio": float("nan")}
    sc = torch.clamp(torch.cat([s.new_tensor([ref]), s]), min=floor * ref)
    r = sc[:-1] / sc[1:]
    i = int(torch.argmax(r))
    return {"dim": q - i, "ratio": float(r[i])}


def _finish(alg: LieAlgebra, R: torch.Tensor, total_weight: float, scale: float, *, rule: str, rtol: float, atol: float,
            min_gap: float, floor: float, closure_tol: float | None, discrete: dict, n_samples: int, n_outputs: int,
            kind: str, fit: dict | None, info: dict) -> SymmetryResult:
    if total_weight <= 0:
        raise ValueError("weights: the total weight is zero")
    ns = nullspace(R / math.sqrt(total_weight), rule=rule, rtol=rtol, atol=atol, min_gap=min_gap, floor=floor,
                   reference=scale)
    coeffs = ns.basis.T.contiguous()
    found = alg.subalgebra(coeffs, check_closure=False) if coeffs.shape[0] else None
    closure = found.closure_error() if found is not None else 0.0
    s = ns.singular_values
    ref = max(float(s[0]), scale) if s.numel() else scale
    noise = float(s[ns.rank]) / ref if ns.rank < s.numel() and ref > 0 else 0.0   # largest symmetric value
    if closure_tol is None:
        closure_tol = max(CLOSURE_TOL_FLOOR, CLOSURE_NOISE_FACTOR * noise)
    info = dict(info, closure_tol=closure_tol, noise_level=noise)
    if found is None:
        ident = identify_algebra(LieAlgebra(alg.basis.new_zeros(0, alg.matrix_size, alg.matrix_size),
                                            size=alg.matrix_size))
    elif closure <= closure_tol:
        ident = identify_algebra(found, rtol=min(max(closure_tol, 1e-8), IDENTIFY_RTOL_MAX), closure_tol=closure_tol)
    else:
        ident = {"name": None, "aliases": [], "dim": coeffs.shape[0],
                 "description": f"the found span does not close (relative residual {closure:.2e} > closure_tol="
                                f"{closure_tol:g}); the rank cut is probably inside the noise: inspect the spectrum"}
    return SymmetryResult(candidates=alg, coefficients=coeffs, singular_values=ns.singular_values,
                          broken_coefficients=ns.complement.T.contiguous(), rank=ns.rank, threshold=ns.threshold,
                          rule=ns.rule, gap_ratio=ns.gap_ratio, largest_gap=_largest_gap(ns.singular_values, floor, ref),
                          closure_error=closure, identification=ident, discrete=discrete, n_samples=n_samples,
                          n_outputs=n_outputs, kind=kind, fit=fit, info=info, scale=scale)


def _check_weights(weights, n: int) -> torch.Tensor | None:
    if weights is None:
        return None
    w = as_tensor(weights, "weights", dtype=torch.float64, ndim=1)
    if w.shape[0] != n:
        raise ValueError(f"weights: expected one weight per sample ({n}), got {w.shape[0]}")
    if bool((w < 0).any()):
        raise ValueError("weights: must be non-negative")
    return w


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


def _is_linear_estimator(model) -> bool:
    return hasattr(model, "library") and hasattr(model, "fit") and not isinstance(model, torch.nn.Module)


def _float64_model(model):
    """A float64 copy of an nn.Module (the user's model is left untouched); callables are returned as is."""
    if isinstance(model, torch.nn.Module):
        dts = {p.dtype for p in list(model.parameters()) + list(model.buffers()) if p.is_floating_point()}
        if dts and dts != {torch.float64}:
            return copy.deepcopy(model).to(torch.float64)
    return model


# ------------------------------------------------------------------------------------------ discover
def discover(model, X, candidates, *, rep_in: Rep | None = None, rep_out: Rep | None = None,
             dynamics: bool = False, weights=None, rule: str = "rtol", rtol: float | None = None,
             atol: float = 0.0, min_gap: float = 1e3, floor: float = 1e-15, closure_tol: float | None = None,
             discrete=None, batch_size: int = DEFAULT_BATCH_SIZE, accumulate: str = "qr", autodiff: str = "auto",
             dtype: torch.dtype | None = torch.float64, distributed="auto", _fit: dict | None = None) -> SymmetryResult:
    """The symmetry algebra of ``model`` inside ``candidates``: the nullspace of xi -> L_xi F over ``X``.

    Args:
        model: a torch callable (N, n_in) -> (N, n_out) or (N,) (e.g. a trained ``nn.Module``; rows must be
            independent), or a fitted :class:`symlie.SymmetricRegressor` / :class:`symlie.SymmetricSINDy`
            (exact operator from its library and coefficients).
        X: samples (N, n_in) where the symmetry is tested (float; NaN/Inf refused).
        candidates: a :class:`symlie.LieAlgebra` (e.g. ``sl.gl(3)``, ``sl.se(2)``), or a :class:`symlie.Group`
            whose algebra is searched and whose discrete generators are tested (e.g. ``sl.O(3)``). A
            non-orthonormal basis is orthonormalised first, so the spectrum does not depend on the basis.
        rep_in: action on the inputs (default ``sl.Point`` of the candidates: x -> A x (+ b)); e.g.
            ``sl.V(G) + sl.V(G)`` to act on two stacked vectors.
        rep_out: linear representation on the outputs (default: invariant outputs). Ignored with
            ``dynamics=True`` (the tangent lift ``rep_in.tangent()`` is used).
        dynamics: ``model`` is a vector field x' = f(x) (automatic for a fitted :class:`symlie.SymmetricSINDy`).
        weights: optional non-negative weights (N,) of the samples (quadrature / importance weights).
        rule, rtol, atol, min_gap, floor: the rank rule of :func:`symlie.nullspace` applied to the RMS spectrum.
            ``rtol=None`` uses :data:`DEFAULT_RTOL` for the evaluation dtype (1e-6 in float64, 1e-3 in
            float32). For trained or noisy models use ``rule="gap"`` with a ``min_gap`` (e.g. 10) that
            matches the gap you expect; ``largest_gap`` in the result shows what the gap rule would give.
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

    Returns:
        :class:`SymmetryResult`. A model without symmetry in the candidates gives ``dim == 0`` (not an error);
        the spectrum and gap tell how clear-cut that is.
    """
    t0 = time.perf_counter()
    alg, group = _resolve_candidates(candidates)
    if accumulate not in ("qr", "gram"):
        raise ValueError(f"accumulate: expected 'qr' or 'gram', got {accumulate!r}")
    if autodiff not in AUTODIFF_MODES:
        raise ValueError(f"autodiff: expected one of {AUTODIFF_MODES}, got {autodiff!r}")
    batch_size = check_int(batch_size, "batch_size", 1)
    if dtype is not None and dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float64, torch.float32 or None, got {dtype}")
    x = as_tensor(X, "X", ndim=2)
    if x.shape[0] == 0:
        raise ValueError("X: got 0 samples")
    if dtype is not None and x.dtype != dtype:
        if x.dtype == torch.float64 and dtype == torch.float32:
            raise TypeError("X: is float64 but dtype=torch.float32 was requested; convert X explicitly")
        x = x.to(dtype)
    N, n_in = x.shape
    w = _check_weights(weights, N)
    use_dist = _use_distributed(distributed)
    rep_in = _resolve_rep_in(rep_in, alg, group, n_in)
    linear = _is_linear_estimator(model)
    if linear:
        from .sindy import SymmetricSINDy
        if getattr(model, "coef_", None) is None or not hasattr(model, "n_outputs_"):
            raise ValueError("model: the estimator is not fitted (call fit first)")
        dynamics = dynamics or isinstance(model, SymmetricSINDy)
        n_out = int(model.n_outputs_)
        W = model.coef_.to(x.dtype)
        library = model.library
        if model.n_features_in_ != n_in:
            raise ValueError(f"X: has {n_in} columns but the model was fitted on {model.n_features_in_} inputs")

        def F(xc):
            return library.transform(xc).to(xc.dtype) @ W.T
    elif callable(model):
        F = _float64_model(model) if dtype == torch.float64 else model
        n_out = None
    else:
        raise TypeError(f"model: expected a torch callable, an nn.Module or a fitted SymmetricRegressor / "
                        f"SymmetricSINDy, got {type(model).__name__}")
    if dynamics:
        ro = rep_in.tangent()
        if ro.size != n_in:
            raise ValueError(f"dynamics: the tangent action has size {ro.size} but states have {n_in} entries")
    else:
        ro = rep_out

    gens = alg.basis.to(x.dtype)
    q = alg.dim
    acc = _Accumulator(q, accumulate)
    elems = _discrete_elements(discrete, group, alg.matrix_size)
    kfs = {k: transform(F, g, rep_in, ro if ro is not None else None) for k, g in elems.items()}
    sq = torch.zeros(3 + 2 * len(elems), dtype=torch.float64)  # [N, sum w, sum w|f|^2, (|Kf - f|^2, |f|^2)...]
    n_out_probe = _probe(F, x, n_in)
    if not linear:
        autodiff = _autodiff_mode(autodiff, q, n_in, n_out_probe)
    n_out_seen = None
    sum_f = None
    with torch.no_grad():
        for start in range(0, N, batch_size):
            xc = x[start:start + batch_size]
            if linear:
                L = lie_derivative_linear(library, gens, xc, rep_in, ro, n_out=n_out, coef=W)
                fx = F(xc)
            else:
                L, fx = lie_derivative(F, gens, xc, rep_in, ro, batch_size=None, autodiff=autodiff,
                                       return_values=True)
                if L.ndim == 2:
                    L, fx = L.unsqueeze(-1), fx.unsqueeze(-1)
            n_out_seen = L.shape[-1]
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
            for i, kf in enumerate(kfs.values()):
                gx = kf(xc)
                gx = gx.unsqueeze(-1) if gx.ndim == 1 else gx
                sq[3 + 2 * i] += float(((gx.to(torch.float64) - f64) ** 2 * ww).sum())
                sq[4 + 2 * i] += float((f64 ** 2 * ww).sum())
    sq = torch.cat([sq, sum_f])
    R, sq, world = acc.reduce(sq, use_dist)
    disc = {k: math.sqrt(float(sq[3 + 2 * i]) / float(sq[4 + 2 * i])) if float(sq[4 + 2 * i]) > 0 else float("inf")
            for i, k in enumerate(elems)}
    tw = float(sq[1])
    mean_f = sq[3 + 2 * len(elems):] / tw if tw > 0 else sq[3 + 2 * len(elems):]
    scale = math.sqrt(max(float(sq[2]) / tw - float((mean_f ** 2).sum()), 0.0)) if tw > 0 else 0.0
    kind = "linear" if linear else ("dynamics" if dynamics else "function")
    if linear and dynamics:
        kind = "dynamics (linear)"
    info = {"seconds": time.perf_counter() - t0, "batch_size": batch_size, "accumulate": accumulate,
            "autodiff": "exact (library)" if linear else autodiff, "dtype": str(x.dtype).replace("torch.", ""),
            "processes": world}
    return _finish(alg, R, tw, scale, rule=rule, rtol=_resolve_rtol(rtol, x.dtype), atol=atol, min_gap=min_gap,
                   floor=floor, closure_tol=closure_tol, discrete=disc, n_samples=int(sq[0]),
                   n_outputs=int(n_out_seen or 0), kind=kind, fit=_fit, info=info)


# --------------------------------------------------------------------------------- point clouds
def _neighbours(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N, k+1) indices of the k nearest neighbours of every point (the point itself first)."""
    from scipy.spatial import cKDTree
    pts = x.detach().cpu().numpy()
    _, idx = cKDTree(pts).query(pts, k=k + 1)
    return torch.from_numpy(idx)


def _local_pca(x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(eigenvalues (N, n) descending, eigenvectors (N, n, n) as columns) of the neighbourhood covariances."""
    nb = x[idx]                                                      # (N, k+1, n)
    nb = nb - nb.mean(1, keepdim=True)
    C = nb.transpose(1, 2) @ nb / (idx.shape[1] - 1)
    ev, U = torch.linalg.eigh(C)
    return ev.flip(-1).clamp(min=0), U.flip(-1)


def _quadratic_tangents(x: torch.Tensor, idx: torch.Tensor, U: torch.Tensor, m: int) -> torch.Tensor:
    """Second-order tangent spaces: in the local PCA frame (tangent coordinates u, normal coordinates w) fit
    w = a + B u + quadratic(u) over the neighbours by least squares; the tangent space at the point is the
    span of the graph's derivative, T0 + N0 B. PCA alone is biased by curvature to first order in the
    neighbourhood size when the neighbourhood is not centred on the point (boundaries, uneven sampling)."""
    N, n = x.shape
    T0, N0 = U[:, :, :m], U[:, :, m:]
    d = x[idx] - x[:, None, :]                                       # (N, k+1, n) offsets from the point
    u = torch.einsum("nki,nim->nkm", d, T0)
    w = torch.einsum("nki,nij->nkj", d, N0)
    iu, ju = torch.triu_indices(m, m)
    quad = u[:, :, iu] * u[:, :, ju]
    A = torch.cat([torch.ones_like(u[:, :, :1]), u, quad], -1)      # (N, k+1, 1 + m + m(m+1)/2)
    sc = u.abs().amax((1, 2)).clamp(min=1e-300)                     # column scaling for conditioning
    colscale = torch.cat([torch.ones_like(sc[:, None]), sc[:, None].expand(N, m),
                          (sc ** 2)[:, None].expand(N, quad.shape[-1])], -1)
    coef = torch.linalg.lstsq(A / colscale[:, None, :], w).solution / colscale[:, :, None]
    B = coef[:, 1:1 + m, :]                                          # (N, m, n - m): dw/du at u = 0
    T = T0 + torch.einsum("nij,nmj->nim", N0, B)
    return torch.linalg.qr(T)[0]


def _intrinsic_dim(ev: torch.Tensor, floor: float) -> tuple[int, float]:
    """Most common position of the largest consecutive eigenvalue ratio of local PCA, and its median ratio."""
    n = ev.shape[1]
    sc = ev.clamp(min=floor) if ev.numel() else ev
    sc = torch.maximum(sc, floor * sc[:, :1])
    ratios = sc[:, :-1] / sc[:, 1:]                                  # (N, n-1)
    pos = ratios.argmax(1) + 1                                       # dimension per point
    m = int(torch.mode(pos).values)
    return m, float(ratios[:, m - 1].median()) if n > 1 else float("nan")


def discover_manifold(X, candidates, *, rep_in: Rep | None = None, manifold_dim: int | None = None,
                      n_neighbors: int | None = None, tangents: str = "quadratic", rule: str = "gap", rtol: float | None = None,
                      atol: float = 0.0, min_gap: float = 10.0, floor: float = 1e-15, closure_tol: float | None = None,
                      discrete=None, batch_size: int = DEFAULT_BATCH_SIZE, accumulate: str = "qr") -> SymmetryResult:
    """Symmetries of a point cloud sampled from a sub-manifold (or level set) M of R^n.

    A group maps M to itself iff every generator field is tangent to M: P_normal(x) v_xi(x) = 0 on M. The
    normal projectors are estimated by local PCA over the ``n_neighbors`` nearest neighbours of every point
    (tangent space = the top ``manifold_dim`` principal directions), and the symmetry algebra is the
    nullspace of xi -> (P_normal(x_n) v_xi(x_n))_n, streamed like :func:`discover`. Singular values are RMS
    normal components of the generator fields (units of X).

    Args:
        X: points (N, n) on or near M (noise allowed: it sets the floor of the symmetric values).
        candidates, rep_in, discrete, batch_size, accumulate: as in :func:`discover`. Discrete elements g are
            scored by the mean distance of g x_n from the estimated tangent plane at its nearest cloud point,
            divided by the cloud's RMS radius (noise level and curvature x spacing^2 for a symmetry).
        manifold_dim: dimension of M; default: estimated as the most common position of the largest ratio of
            consecutive local-PCA eigenvalues (reported in ``result.fit``).
        n_neighbors: neighbours per local PCA (default max(10, 4 n)); more averages noise, fewer reduces the
            curvature bias.
        tangents: ``"quadratic"`` (default: local PCA refined by a local quadratic fit of the manifold as a
            graph over its tangent plane, accurate to second order; needs n_neighbors >= 2 + m + m(m+1)/2) or
            ``"pca"`` (the top principal directions of each neighbourhood).
        rule, rtol, atol, min_gap, floor: rank rule; the default is the gap rule with ``min_gap=10``: estimated
            normal spaces leave the symmetric values at the noise / curvature floor, not at zero.
        closure_tol: as in :func:`discover` (by default scaled with the noise level of the symmetric values).

    The point cloud is processed on one process (``torch.distributed`` is not used: neighbours need all points).
    """
    t0 = time.perf_counter()
    alg, group = _resolve_candidates(candidates)
    if accumulate not in ("qr", "gram"):
        raise ValueError(f"accumulate: expected 'qr' or 'gram', got {accumulate!r}")
    batch_size = check_int(batch_size, "batch_size", 1)
    x = as_tensor(X, "X", ndim=2, dtype=torch.float64)
    N, n = x.shape
    if N == 0:
        raise ValueError("X: got 0 points")
    rep_in = _resolve_rep_in(rep_in, alg, group, n)
    k = max(10, 4 * n) if n_neighbors is None else check_int(n_neighbors, "n_neighbors", 2)
    if N < k + 1:
        raise ValueError(f"X: {N} points are too few for local PCA with n_neighbors={k} (need at least {k + 1})")
    if tangents not in ("quadratic", "pca"):
        raise ValueError(f"tangents: expected 'quadratic' or 'pca', got {tangents!r}")
    idx = _neighbours(x, k)
    ev, U = _local_pca(x, idx)
    m_est, conf = _intrinsic_dim(ev, 1e-12)
    m = m_est if manifold_dim is None else check_int(manifold_dim, "manifold_dim", 0)
    if m >= n:
        raise ValueError(f"manifold_dim: the points {'seem to ' if manifold_dim is None else ''}fill R^{n} "
                         f"(dimension {m}); a point cloud constrains the symmetry only through its normal spaces")
    if tangents == "quadratic" and m > 0:
        need = 2 + m + m * (m + 1) // 2
        if k < need:
            raise ValueError(f"n_neighbors: tangents='quadratic' on a {m}-dimensional manifold needs at least {need} "
                             f"neighbours, got {k} (or pass tangents='pca')")
        T = _quadratic_tangents(x, idx, U, m)
    else:
        T = U[:, :, :m]                                              # (N, n, m) tangent bases
    gens = alg.basis
    q = alg.dim
    acc = _Accumulator(q, accumulate)
    for start in range(0, N, batch_size):
        xc = x[start:start + batch_size]
        Tc = T[start:start + batch_size]
        v = rep_in.vector_field(gens, xc)                            # (q, b, n)
        pv = v - torch.einsum("bim,bjm,kbj->kbi", Tc, Tc, v)         # normal components
        acc.add(pv.permute(1, 2, 0).reshape(-1, q))
    R, _, _ = acc.reduce(torch.zeros(1, dtype=torch.float64), False)
    elems = _discrete_elements(discrete, group, alg.matrix_size)
    radius = float(((x - x.mean(0)) ** 2).sum(1).mean().sqrt())
    disc = {}
    if elems:
        from scipy.spatial import cKDTree
        tree = cKDTree(x.numpy())
        for key, g in elems.items():
            gx = rep_in.act(g, x)
            _, j = tree.query(gx.numpy(), k=1)
            j = torch.from_numpy(j)
            off = gx - x[j]                                          # to the nearest point of the cloud ...
            nrm = off - torch.einsum("nim,njm,nj->ni", T[j], T[j], off)   # ... off its tangent plane
            disc[key] = float(nrm.norm(dim=1).mean()) / radius if radius > 0 else float("inf")
    fit = {"model": f"point cloud ({'local quadratic' if tangents == 'quadratic' else 'local PCA'} tangent spaces)",
           "manifold_dim": m, "estimated_dim": m_est,
           "dim_gap_median": conf, "n_neighbors": k}
    info = {"seconds": time.perf_counter() - t0, "batch_size": batch_size, "accumulate": accumulate,
            "dtype": "float64", "processes": 1}
    return _finish(alg, R, float(N), radius, rule=rule, rtol=_resolve_rtol(rtol, torch.float64), atol=atol,
                   min_gap=min_gap, floor=floor, closure_tol=closure_tol, discrete=disc, n_samples=N,
                   n_outputs=n, kind="manifold", fit=fit, info=info)


# ------------------------------------------------------------------------------- data -> model
class _StandardizedMLP(torch.nn.Module):
    """y = y_mean + y_std * net((x - x_mean) / x_std): the scalings are part of the model, so its Lie
    derivative is that of the composite function of the raw inputs."""

    def __init__(self, n_in: int, n_out: int, hidden: tuple[int, ...], stats):
        super().__init__()
        layers, w = [], n_in
        for h in hidden:
            layers += [torch.nn.Linear(w, h), torch.nn.SiLU()]
            w = h
        layers.append(torch.nn.Linear(w, n_out))
        self.net = torch.nn.Sequential(*layers)
        for name, v in zip(("x_mean", "x_std", "y_mean", "y_std"), stats):
            self.register_buffer(name, v)

    def forward(self, x):
        return self.y_mean + self.y_std * self.net((x - self.x_mean) / self.x_std)


def fit_mlp(X, Y, *, hidden=(64, 64), steps: int = 3000, lr: float = 3e-3, batch: int = 512,
            weight_decay: float = 0.0, seed: int = 0) -> torch.nn.Module:
    """Fit a small smooth (SiLU) MLP in float64 by Adam with cosine learning-rate decay; returns the module.

    Inputs and outputs are standardised inside the module. Used by :func:`discover_data` (``model="mlp"``).
    """
    x = as_tensor(X, "X", ndim=2, dtype=torch.float64)
    y = as_tensor(Y, "Y", ndim=(1, 2), dtype=torch.float64)
    y = y.unsqueeze(1) if y.ndim == 1 else y
    steps = check_int(steps, "steps", 1)
    batch = check_int(batch, "batch", 1)
    hidden = tuple(check_int(h, "hidden", 1) for h in hidden)
    g = torch.Generator().manual_seed(int(seed))
    xs = x.std(0).clamp(min=1e-12)
    ys = y.std(0).clamp(min=1e-12) if y.shape[0] > 1 else torch.ones(y.shape[1], dtype=torch.float64)
    stats = (x.mean(0), xs, y.mean(0), ys)
    with torch.random.fork_rng():
        torch.manual_seed(int(seed))
        net = _StandardizedMLP(x.shape[1], y.shape[1], hidden, stats).double()
    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    N = x.shape[0]
    for _ in range(steps):
        idx = torch.randint(N, (min(batch, N),), generator=g) if batch < N else slice(None)
        loss = (((net(x[idx]) - y[idx]) / ys) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def discover_data(X, Y, candidates, *, model="poly", degree: int = 2, hidden=(64, 64), steps: int = 3000,
                  lr: float = 3e-3, alpha: float = 0.0, val_fraction: float = 0.2, seed: int = 0,
                  rep_in: Rep | None = None, rep_out: Rep | None = None, dynamics: bool = False,
                  rule: str = "auto", rtol: float | None = None, min_gap: float = 10.0, **kwargs) -> SymmetryResult:
    """Discover the symmetry of a data set: fit a model Y ~ F(X) first, then :func:`discover` on the fit.

    The fit quality (R^2 on the training samples and on a held-out fraction) is reported in ``result.fit``
    next to the symmetry: a symmetry of a poor fit says little about the data. ``Y=None`` treats X as a
    point cloud (:func:`discover_manifold`).

    Args:
        X: inputs (N, n_in); Y: targets (N,) or (N, n_out) (for ``dynamics=True``: the velocities x').
        candidates, rep_in, rep_out, dynamics: as in :func:`discover`.
        model: ``"poly"`` (least-squares polynomial regression of degree ``degree``, ridge ``alpha``; its
            symmetry is computed exactly from the library), ``"mlp"`` (a float64 SiLU MLP with layer widths
            ``hidden``, ``steps`` Adam steps at learning rate ``lr``), or an already fitted model (torch
            callable or estimator), which is only scored and analysed.
        val_fraction: fraction of samples held out to score the fit (0: none); the split is seeded.
        rule, rtol, min_gap: the rank rule. ``"auto"`` (default) is the ``"rtol"`` rule with a tolerance set
            by the fit: a fitted model is symmetric only up to its error, so
            rtol = clip(:data:`FIT_TOL_FACTOR` x relative RMS error of the fit, :data:`DEFAULT_RTOL`, 0.5),
            the relative error being sqrt(1 - R^2) on the held-out samples (training samples when none are
            held out). ``"rtol"`` / ``"gap"`` as in :func:`discover`. For point clouds (``Y=None``) ``"auto"``
            means the gap rule of :func:`discover_manifold`.
        kwargs: passed to :func:`discover` (or :func:`discover_manifold` when ``Y`` is None).

    A fit with R^2 below :data:`POOR_FIT_R2` adds a ``warning`` to ``result.fit``.
    """
    if rule not in ("auto", "rtol", "gap"):
        raise ValueError(f"rule: expected 'auto', 'rtol' or 'gap', got {rule!r}")
    if Y is None:
        return discover_manifold(X, candidates, rep_in=rep_in, rule="gap" if rule == "auto" else rule, rtol=rtol,
                                 min_gap=min_gap, **kwargs)
    x = as_tensor(X, "X", ndim=2, dtype=torch.float64)
    y = as_tensor(Y, "Y", ndim=(1, 2), dtype=torch.float64)
    y2 = y.unsqueeze(1) if y.ndim == 1 else y
    N = x.shape[0]
    if N == 0:
        raise ValueError("X: got 0 samples")
    if y2.shape[0] != N:
        raise ValueError(f"X, Y: different numbers of samples: {N} and {y2.shape[0]}")
    if not (isinstance(val_fraction, (int, float)) and 0 <= val_fraction < 1):
        raise ValueError(f"val_fraction: expected a number in [0, 1), got {val_fraction!r}")
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(int(seed)))
    n_val = int(round(val_fraction * N))
    tr, va = perm[n_val:], perm[:n_val]
    if isinstance(model, str):
        if model in ("poly", "polynomial"):
            from .library import PolynomialLibrary
            from .regression import SymmetricRegressor
            degree = check_int(degree, "degree", 0)
            n_feat = PolynomialLibrary(degree).n_output_features(x.shape[1])
            if len(tr) < n_feat:
                raise ValueError(f"X: {len(tr)} training samples are too few for a degree-{degree} polynomial in "
                                 f"{x.shape[1]} variables ({n_feat} coefficients per output); lower the degree or "
                                 f"pass more samples")
            fitted = SymmetricRegressor(PolynomialLibrary(degree), mode="none", alpha=alpha).fit(x[tr], y2[tr])
            desc = f"polynomial regression, degree {degree} ({n_feat} features)"
            predict = lambda a: fitted.predict(a)  # noqa: E731
        elif model == "mlp":
            fitted = fit_mlp(x[tr], y2[tr], hidden=hidden, steps=steps, lr=lr, seed=seed)
            desc = f"MLP {tuple(hidden)} SiLU, {steps} Adam steps"
            predict = fitted
        else:
            raise ValueError(f"model: expected 'poly', 'mlp', a torch callable or a fitted estimator, got {model!r}")
    else:
        fitted = model
        desc = f"given ({type(model).__name__})"
        predict = model.predict if _is_linear_estimator(model) else model
    with torch.no_grad():
        def score(idx):
            P = torch.as_tensor(predict(x[idx]))
            P = P.unsqueeze(1) if P.ndim == 1 else P
            return r2_score(y2[idx], P.to(torch.float64))
        fit = {"model": desc, "r2_train": score(tr), "r2_val": score(va) if n_val > 1 else float("nan"),
               "n_train": int(len(tr)), "n_val": n_val}
    r2 = fit["r2_val"] if n_val > 1 else fit["r2_train"]
    fit["rel_error"] = math.sqrt(max(1.0 - r2, 0.0))
    if r2 < POOR_FIT_R2:
        fit["warning"] = (f"the fit explains little of Y (R^2 = {r2:.3f}); the symmetry of the fitted model says "
                          f"little about the data")
    if rule == "auto":
        rule = "rtol"
        if rtol is None:
            rtol = min(max(FIT_TOL_FACTOR * fit["rel_error"], DEFAULT_RTOL[torch.float64]), 0.5)
        fit["rtol_from_fit"] = rtol
    res = discover(fitted, x, candidates, rep_in=rep_in, rep_out=rep_out, dynamics=dynamics, rule=rule,
                   rtol=rtol, min_gap=min_gap, _fit=fit, **kwargs)
    res.model = fitted
    return res
