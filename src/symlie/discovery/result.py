"""The result of a symmetry discovery: the nullspace of xi -> L_xi F with everything needed to judge it.

:func:`symmetry_result` turns a q x q factor R of the operator (R^T R = S^T S, from
:class:`symlie.linalg.StreamingFactor`) into a :class:`SymmetryResult`: the spectrum cut by the one
:class:`symlie.RankRule`, the closure of the found span under the bracket, and its identification. It serves
:func:`symlie.discover`, :func:`symlie.discover_manifold` and the kept algebra of promotion.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..lie.actions import Action, MatrixAction
from ..lie.algebra import LieAlgebra
from ..lie.identify import Identification, identify_algebra, identify_structure
from ..linalg import Nullspace, RankRule, largest_gap, nullspace_from_spectrum, singular_spectrum, subspace_distance
from ..utils.serialization import fmt_value, from_json, json_float, jsonable
from ..utils.validation import SymlieError, as_tensor

__all__ = ["SymmetryResult", "symmetry_result", "CLOSURE_TOL_FLOOR", "CLOSURE_NOISE_FACTOR", "IDENTIFY_RTOL_MAX"]

#: ``closure_tol=None`` accepts a found span as closed when its relative bracket residual is at most
#: max(CLOSURE_TOL_FLOOR, CLOSURE_NOISE_FACTOR * noise), noise = largest symmetric singular value / reference
#: (a span estimated from a noisy or fitted model is only as closed as it is symmetric)
CLOSURE_TOL_FLOOR = 1e-8
CLOSURE_NOISE_FACTOR = 10.0
#: identification of a noisy result uses the noise-scaled closure tolerance as its rank tolerance, capped here
#: (beyond it structure constants themselves would count as zero and e.g. so(3) would read as abelian)
IDENTIFY_RTOL_MAX = 1e-2
#: ``largest_gap`` (a diagnostic beside whatever rule cut the spectrum) clamps values at this relative level
LARGEST_GAP_FLOOR = 1e-15


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

    candidates: LieAlgebra | None
    nullspace: Nullspace
    largest_gap: dict
    closure_error: float
    identification: Identification
    discrete: dict = field(default_factory=dict)
    n_samples: int = 0
    n_outputs: int = 0
    kind: str = "function"
    fit: dict | None = None
    info: dict = field(default_factory=dict)
    scale: float = 0.0
    model: object = field(default=None, repr=False, compare=False)
    action: Action | None = field(default=None, repr=False, compare=False)

    # -- the nullspace's fields --------------------------------------------------------------------
    @property
    def coefficients(self) -> torch.Tensor:
        """(k, q) orthonormal rows: the found generators in the candidates' basis."""
        return self.nullspace.basis.T.contiguous()

    @property
    def broken_coefficients(self) -> torch.Tensor:
        """(q - k, q) rows spanning the broken directions, most broken first."""
        C = self.nullspace.complement
        return C.T.contiguous() if C is not None else self.nullspace.basis.new_zeros(0, self.q)

    @property
    def singular_values(self) -> torch.Tensor:
        return self.nullspace.singular_values

    @property
    def rank(self) -> int:
        return self.nullspace.rank

    @property
    def threshold(self) -> float:
        return self.nullspace.threshold

    @property
    def rule(self) -> dict:
        return self.nullspace.rule

    @property
    def gap_ratio(self) -> float:
        return self.nullspace.gap_ratio

    @property
    def reason(self) -> str:
        """Why the spectrum was cut where it was (see :class:`symlie.RankRule`)."""
        return self.nullspace.reason

    @property
    def q(self) -> int:
        """Number of candidate generators."""
        return int(self.nullspace.singular_values.numel())

    @property
    def candidates_name(self) -> str:
        if self.candidates is not None:
            return self.candidates.name
        return self.action.name if self.action is not None else "candidates"

    @property
    def fields(self) -> Action:
        """The discovered generators as an :class:`symlie.Action` (k fields of the candidate family)."""
        if self.action is None:
            raise SymlieError("fields: this result was loaded from a file without its candidate action")
        return self.action.restrict(self.coefficients)

    def describe(self, precision: int = 3) -> list[str]:
        """A readable form of every discovered generator (vector fields for library actions, matrices else)."""
        if self.action is None:
            return [str(c.tolist()) for c in self.coefficients]
        return [self.action.describe(c, precision) for c in self.coefficients]

    # -- derived views -----------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Dimension of the discovered symmetry algebra."""
        return int(self.coefficients.shape[0])

    def _matrix_candidates(self, what: str) -> LieAlgebra:
        if self.candidates is None:
            raise SymlieError(f"{what}: the candidates are not matrices ({self.candidates_name}); use "
                              f"result.coefficients, result.fields or result.describe()")
        return self.candidates

    @property
    def generators(self) -> torch.Tensor:
        """(k, d, d) orthonormal generator matrices of the discovered algebra (matrix candidates)."""
        self._matrix_candidates("generators")
        assert self.candidates is not None
        return torch.einsum("kq,qij->kij", self.coefficients, self.candidates.basis)

    @property
    def algebra(self) -> LieAlgebra:
        """The discovered algebra as a :class:`symlie.LieAlgebra` (named by the identification)."""
        self._matrix_candidates("algebra")
        assert self.candidates is not None
        name = self.identification.get("name") or f"sym(F) in {self.candidates.name}"
        return LieAlgebra(self.generators, name=name, affine=self.candidates.affine,
                          size=self.candidates.matrix_size)

    @property
    def broken_generators(self) -> torch.Tensor:
        """(q - k, d, d) generators of the broken directions, most broken first."""
        self._matrix_candidates("broken_generators")
        assert self.candidates is not None
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
        cand = self._matrix_candidates("distance_to")
        if isinstance(truth, LieAlgebra):
            if cand.affine and not truth.affine:
                truth = truth.to_affine()
            T = truth.basis
        else:
            T = as_tensor(truth, "truth", dtype=torch.float64)
            T = T.unsqueeze(0) if T.ndim == 2 else T
        d = self.candidates.matrix_size  # type: ignore[union-attr]
        if T.ndim != 3 or T.shape[1:] != (d, d):
            raise ValueError(f"truth: expected generators of shape (k, {d}, {d}), got {tuple(T.shape)}")
        return subspace_distance(self.generators.reshape(self.dim, d * d).T, T.reshape(T.shape[0], d * d).T)

    # -- reporting ---------------------------------------------------------------------------------
    def summary(self, max_values: int = 12) -> str:
        """A readable multi-line report: dimension, name, rule, gap, closure, spectrum, discrete tests."""
        q = self.q
        ident = self.identification
        name = ident.get("name") or "unidentified"
        al = f" (= {', '.join(ident['aliases'])})" if ident.get("aliases") else ""
        lines = [f"symmetry discovery ({self.kind}): {self.dim} of {q} generators of {self.candidates_name} "
                 f"are symmetries; {self.n_samples} samples x {self.n_outputs} output(s)",
                 f"  algebra        : {name}{al}; {ident.get('description', '')}"]
        rule = ", ".join(f"{k}={v}" for k, v in self.rule.items())
        lines.append(f"  rank rule      : {rule}; threshold {self.threshold:.3e} (rms violation)")
        if self.reason:
            lines.append(f"  cut            : {self.reason}")
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
            lines.append("  fit            : " + ", ".join(f"{k}={fmt_value(v)}" for k, v in self.fit.items()))
        return "\n".join(lines)

    def __repr__(self) -> str:
        name = self.identification.get("name") or "unidentified"
        return (f"SymmetryResult(dim={self.dim}, algebra={name!r}, candidates={self.candidates_name!r}, "
                f"gap_ratio={self.gap_ratio:.3g})")

    def to_dict(self) -> dict:
        """JSON-serialisable dict with every field (tensors as nested lists, float64 round-trip exact)."""
        cand = self.candidates
        if cand is not None:
            cdict = {"name": cand.name, "affine": cand.affine, "basis": cand.basis.tolist()}
        else:
            cdict = {"name": self.candidates_name, "kind": type(self.action).__name__, "dim": self.q}
        out = {
            "dim": self.dim,
            "name": self.identification.get("name"),
            "candidates": cdict,
            "coefficients": self.coefficients.tolist(),
            "singular_values": self.singular_values.tolist(),
            "normalized_spectrum": self.normalized_spectrum.tolist(),
            "broken_coefficients": self.broken_coefficients.tolist(),
            "rank": self.rank, "threshold": self.threshold, "rule": dict(self.rule), "reason": self.reason,
            "gap_ratio": json_float(self.gap_ratio),
            "largest_gap": {k: json_float(v) for k, v in self.largest_gap.items()},
            "closure_error": json_float(self.closure_error),
            "identification": jsonable(self.identification.to_dict()),
            "discrete": {k: json_float(v) for k, v in self.discrete.items()},
            "n_samples": self.n_samples, "n_outputs": self.n_outputs, "kind": self.kind, "scale": self.scale,
            "fit": jsonable(self.fit), "info": jsonable(self.info),
        }
        if cand is not None:
            out["generators"] = self.generators.tolist()
        else:
            out["fields"] = self.describe()
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "SymmetryResult":
        """Inverse of :meth:`to_dict`."""
        c = d["candidates"]
        if "basis" in c:
            cand = LieAlgebra(torch.tensor(c["basis"], dtype=torch.float64), name=c["name"], affine=c["affine"])
            q = cand.dim
        else:
            cand, q = None, int(c["dim"])
        action = MatrixAction(cand) if cand is not None and cand.dim else None

        def mat(v):
            return torch.tensor(v, dtype=torch.float64).reshape(-1, q)

        rule = dict(d["rule"])
        kw = {k: rule[k] for k in ("rtol", "atol", "min_gap", "floor") if k in rule}
        ns = Nullspace(basis=mat(d["coefficients"]).T.contiguous(),
                       singular_values=torch.tensor(d["singular_values"], dtype=torch.float64), rank=int(d["rank"]),
                       threshold=float(d["threshold"]), rule=rule, gap_ratio=from_json(d["gap_ratio"]),
                       complement=mat(d["broken_coefficients"]).T.contiguous(), reason=d.get("reason", ""),
                       rank_rule=RankRule.resolve(rule.get("rule", "rtol"), **kw))
        return cls(candidates=cand, nullspace=ns, action=action,
                   largest_gap={k: from_json(v) for k, v in d["largest_gap"].items()},
                   closure_error=from_json(d["closure_error"]),
                   identification=Identification.from_dict(d["identification"]),
                   discrete={k: from_json(v) for k, v in d["discrete"].items()}, n_samples=int(d["n_samples"]),
                   n_outputs=int(d["n_outputs"]), kind=d["kind"], fit=from_json(d.get("fit")),
                   info=from_json(d.get("info") or {}),
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


# --------------------------------------------------------------------------------------- helpers


def _largest_gap(s: torch.Tensor, floor: float, ref: float) -> dict:
    """The dimension the largest consecutive ratio of [ref, s_1, ..., s_q] (floored at floor * ref) gives."""
    if ref <= 0:
        return {"dim": s.numel(), "ratio": float("nan")}
    rank, ratio, _ = largest_gap(s, ref, floor)
    return {"dim": s.numel() - rank, "ratio": ratio}


def _field_closure(action: Action, coeffs: torch.Tensor, points: torch.Tensor) -> tuple[float, torch.Tensor]:
    """Closure of the span of the fields coeffs @ V under the bracket of vector fields, at sample points:
    (relative residual of the brackets outside the span, structure constants C[a, b, c])."""
    k = coeffs.shape[0]
    x = points.to(torch.float64)
    F = torch.einsum("ak,kni->ani", coeffs, action.vector_fields(x)).reshape(k, -1)       # (k, N n)
    B = action.brackets(coeffs, x).reshape(k * k, -1)                                      # (k k, N n)
    sol = torch.linalg.lstsq(F.T, B.T).solution                                           # (k, k k)
    res = B - sol.T @ F
    scale = float(F.norm(dim=1).max()) ** 2 if k else 0.0
    err = float(res.norm()) / (scale * k * k) ** 0.5 if scale > 0 else 0.0
    return err, sol.T.reshape(k, k, k)


def symmetry_result(action: Action, R: torch.Tensor, total_weight: float, scale: float, *, rule: RankRule,
                    closure_tol: float | None = None, discrete: dict | None = None, n_samples: int = 0,
                    n_outputs: int = 0, kind: str = "function", fit: dict | None = None, info: dict | None = None,
                    points: torch.Tensor | None = None) -> SymmetryResult:
    """Cut the spectrum of the operator with factor R (q, q) (R^T R = S^T S, rows weighted to sum
    ``total_weight``) and build the :class:`SymmetryResult`.

    ``scale`` is the model's RMS size (the reference of the rank rule); ``points`` (a few hundred samples) are
    needed to check the closure of non-matrix actions under the bracket of vector fields.
    """
    if total_weight <= 0:
        raise ValueError("weights: the total weight is zero")
    s, V = singular_spectrum(R / math.sqrt(total_weight))
    ns = nullspace_from_spectrum(s, V, rule, reference=scale)
    coeffs = ns.basis.T.contiguous()
    ref = ns.rule["reference"]
    noise = float(s[ns.rank]) / ref if ns.rank < s.numel() and ref > 0 else 0.0   # largest symmetric value
    if closure_tol is None:
        closure_tol = max(CLOSURE_TOL_FLOOR, CLOSURE_NOISE_FACTOR * noise)
    info = dict(info or {}, closure_tol=closure_tol, noise_level=noise)
    alg = action.algebra if isinstance(action, MatrixAction) else None
    k = coeffs.shape[0]
    id_rtol = min(max(closure_tol, 1e-8), IDENTIFY_RTOL_MAX)
    if k == 0:
        closure, ident = 0.0, identify_structure(torch.zeros(0, 0, 0, dtype=torch.float64))   # the zero algebra
    elif alg is not None:
        found = alg.subalgebra(coeffs, check_closure=False)
        closure = found.closure_error()
        ident = identify_algebra(found, rtol=id_rtol, closure_tol=closure_tol) if closure <= closure_tol \
            else Identification.not_closed(k, closure, closure_tol)
    else:
        if points is None:
            raise ValueError("points: needed to check the closure of the fields of a non-matrix action")
        closure, C = _field_closure(action, coeffs, points)
        ident = identify_structure(C, rtol=id_rtol) if closure <= closure_tol \
            else Identification.not_closed(k, closure, closure_tol)
    return SymmetryResult(candidates=alg, nullspace=ns, largest_gap=_largest_gap(s, LARGEST_GAP_FLOOR, ref),
                          closure_error=closure, identification=ident, discrete=discrete or {}, n_samples=n_samples,
                          n_outputs=n_outputs, kind=kind, fit=fit, info=info, scale=scale, action=action)

