"""The result of a symmetry discovery: the nullspace of xi -> L_xi F with everything needed to judge it.

:func:`symmetry_result` turns a q x q factor R of the operator (R^T R = S^T S, from
:class:`symlie.linalg.StreamingFactor`) into a :class:`SymmetryResult`: the spectrum cut by the one
:class:`symlie.RankRule`, the closure of the found span under the bracket, and its identification. It serves
:func:`symlie.discover`, :func:`symlie.discover_manifold` and the kept algebra of promotion.
"""
from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import torch

from ..lie.actions import Action, MatrixAction
from ..lie.algebra import LieAlgebra
from ..lie.identify import Identification, identify_algebra, identify_structure
from ..linalg import (Nullspace, RankRule, echelon_basis, largest_gap, nullspace_from_spectrum, singular_spectrum,
                      subspace_distance)
from ..utils.errors import UnderdeterminedWarning
from ..utils.files import atomic_file
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

    def readable_coefficients(self, tol: float = 0.1) -> torch.Tensor:
        """(k, q) a sparse, readable basis of the found span: its reduced row echelon form (each generator has
        a pivot candidate with coefficient 1 that the others lack; threshold pivoting with ``tol``, see
        :func:`symlie.linalg.echelon_basis`), with entries below 1e-10 of the largest set to zero. The span is
        that of :attr:`coefficients`; the rows are not orthonormal."""
        C = self.coefficients
        if C.shape[0] == 0:
            return C.clone()
        E, _ = echelon_basis(C.T, tol)
        E = E.T.contiguous()
        E[E.abs() <= 1e-10 * float(E.abs().max())] = 0.0
        return E

    def describe(self, precision: int = 3, *, readable: bool = True) -> list[str]:
        """A readable form of every discovered generator (vector fields for library actions, matrices else):
        of the echelon basis (:meth:`readable_coefficients`) by default, of the orthonormal one with
        ``readable=False``."""
        C = self.readable_coefficients() if readable else self.coefficients
        if self.action is None:
            return [str(c.tolist()) for c in C]
        return [self.action.describe(c, precision) for c in C]

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

    # -- status ------------------------------------------------------------------------------------
    @property
    def status(self) -> str:
        """``"ok"``, or ``"underdetermined"`` when the samples cannot determine the answer (see
        :attr:`status_reason`; :func:`symlie.discovery.sample_sufficiency`)."""
        return str(self.info.get("status", "ok"))

    @property
    def status_reason(self) -> str:
        """Why the status is not ``"ok"`` (empty when it is)."""
        return str(self.info.get("status_reason", ""))

    def warn_status(self, stacklevel: int = 2) -> None:
        """Emit an :class:`symlie.UnderdeterminedWarning` when :attr:`status` is not ``"ok"``."""
        if self.status != "ok":
            warnings.warn(UnderdeterminedWarning(f"{self.status}: {self.status_reason}"), stacklevel=stacklevel + 1)

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
        if self.status != "ok":
            lines.insert(1, f"  STATUS         : {self.status}: {self.status_reason}")
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
        """JSON-serialisable dict with every field (tensors as nested lists, float64 round-trip exact).

        The dict is self-describing: ``format`` ``"symlie.SymmetryResult"`` and ``version``
        (:data:`SAVE_VERSION`); ``dim``, ``name``, ``normalized_spectrum`` and ``generators`` / ``fields``
        are derived views written for readers of the file (checked for consistency on reading). The
        candidate *action* of a non-matrix result (e.g. a library of vector fields) is described
        (``candidates`` name, kind, dim and the readable ``fields``) but not stored: a loaded result has
        ``action=None``.
        """
        cand = self.candidates
        if cand is not None:
            cdict = {"name": cand.name, "affine": cand.affine, "basis": cand.basis.tolist()}
        else:
            cdict = {"name": self.candidates_name, "kind": type(self.action).__name__, "dim": self.q}
        out = {
            "format": SAVE_FORMAT, "version": SAVE_VERSION,
            "dim": self.dim,
            "name": self.identification.get("name"),
            "candidates": cdict,
            "coefficients": self.coefficients.tolist(),
            "singular_values": self.singular_values.tolist(),
            "normalized_spectrum": self.normalized_spectrum.tolist(),
            "broken_coefficients": self.broken_coefficients.tolist(),
            "rank": self.rank, "threshold": json_float(self.threshold), "rule": jsonable(dict(self.rule)),
            "reason": self.reason,
            "gap_ratio": json_float(self.gap_ratio),
            "largest_gap": {k: json_float(v) for k, v in self.largest_gap.items()},
            "closure_error": json_float(self.closure_error),
            "identification": jsonable(self.identification.to_dict()),
            "discrete": {k: json_float(v) for k, v in self.discrete.items()},
            "n_samples": self.n_samples, "n_outputs": self.n_outputs, "kind": self.kind,
            "scale": json_float(self.scale),
            "fit": jsonable(self.fit), "info": jsonable(self.info),
        }
        if cand is not None:
            out["generators"] = self.generators.tolist()
        else:
            out["fields"] = self.describe()
        return out

    @classmethod
    def from_dict(cls, d: dict, *, path=None) -> "SymmetryResult":
        """Inverse of :meth:`to_dict`, validated: every key, type and shape is checked against the others
        (q candidates: q singular values, non-increasing and >= 0; rank <= q; (q - rank, q) coefficients and
        (rank, q) broken coefficients; the rank rule; the identification of a k-dimensional span; ...).
        Any problem raises :class:`symlie.DataError` naming the key (and ``path``, the file it came from,
        when given). Dicts without ``format`` / ``version`` read as version 0 (then ``reason``, ``scale``,
        ``fit`` and ``info`` may be missing). Keys that are not part of the format (e.g. those the CLI's
        ``--json`` output adds) are ignored.
        """
        r = _SavedResult(d, path)
        c = r.dict_("candidates", r.d["candidates"])
        if "basis" in c:
            name = r.str_("candidates.name", r.need(c, "candidates", "name"))
            affine = r.bool_("candidates.affine", r.need(c, "candidates", "affine"))
            B = r.floats("candidates.basis", c["basis"], (None, None, None))
            if B.shape[0] == 0:
                r.fail("candidates.basis", "expected at least one candidate generator", c["basis"])
            try:
                alg = LieAlgebra(B, name=name, affine=affine)
            except ValueError as exc:
                r.fail("candidates.basis", f"not a candidate algebra ({exc})", None)
            cand: LieAlgebra | None = alg
            q = alg.dim
        else:
            r.str_("candidates.name", r.need(c, "candidates", "name"))
            if "kind" in c:
                r.str_("candidates.kind", c["kind"])
            cand, q = None, r.int_("candidates.dim", r.need(c, "candidates", "dim"), 1)
        action = MatrixAction(cand) if cand is not None and cand.dim else None

        rank = r.int_("rank", r.d["rank"], 0, q, why=f" (q = {q} candidates)")
        k = q - rank
        coeffs = r.floats("coefficients", r.d["coefficients"], (k, q), why=f"q - rank = {q} - {rank} rows of q")
        broken = r.floats("broken_coefficients", r.d["broken_coefficients"], (rank, q), why="rank rows of q")
        s = r.floats("singular_values", r.d["singular_values"], (q,), why="one per candidate")
        if q and (bool((s < 0).any()) or bool((s[1:] > s[:-1]).any())):
            r.fail("singular_values", "expected non-negative values in non-increasing order", r.d["singular_values"])
        threshold = r.num("threshold", r.d["threshold"], minimum=0.0)
        rule = from_json(r.dict_("rule", r.d["rule"]))
        rule_kind = r.need(rule, "rule", "rule")
        from ..linalg.nullspace import RULE_KINDS
        if rule_kind not in RULE_KINDS:
            r.fail("rule.rule", f"expected one of {', '.join(map(repr, RULE_KINDS))}", rule_kind)
        for key in ("rtol", "atol", "min_gap", "floor", "reference"):
            if key in rule:
                r.num(f"rule.{key}", rule[key], minimum=0.0)
        try:
            rank_rule = RankRule.resolve(rule_kind, **{key: rule[key] for key in ("rtol", "atol", "min_gap", "floor")
                                                       if key in rule})
        except (TypeError, ValueError) as exc:
            r.fail("rule", f"not a valid rank rule ({exc})", None)
        reason = r.str_("reason", r.get("reason"))
        gap = r.num("gap_ratio", r.d["gap_ratio"], minimum=0.0, nonfinite=True)

        lg = r.dict_("largest_gap", r.d["largest_gap"])
        r.int_("largest_gap.dim", r.need(lg, "largest_gap", "dim"), 0, q)
        r.num("largest_gap.ratio", r.need(lg, "largest_gap", "ratio"), minimum=0.0, nonfinite=True)
        largest = from_json(lg)
        closure = r.num("closure_error", r.d["closure_error"], minimum=0.0, nonfinite=True)
        ident = r.identification(r.dict_("identification", r.d["identification"]), k)
        disc = r.dict_("discrete", r.d["discrete"])
        for key, v in disc.items():
            r.num(f"discrete[{key!r}]", v, minimum=0.0, nonfinite=True)
        discrete = from_json(disc)
        n_samples = r.int_("n_samples", r.d["n_samples"], 0)
        n_outputs = r.int_("n_outputs", r.d["n_outputs"], 0)
        kind = r.str_("kind", r.d["kind"])
        if kind not in RESULT_KINDS:
            r.fail("kind", f"expected one of {', '.join(map(repr, RESULT_KINDS))}", kind)
        scale = r.num("scale", r.get("scale"), minimum=0.0)
        fit = r.get("fit")
        if fit is not None:
            fit = from_json(r.dict_("fit", fit))
        info = from_json(r.dict_("info", r.get("info")))
        # the derived views, when present, must agree with what they are derived from
        if "dim" in r.d and r.int_("dim", r.d["dim"], 0) != k:
            r.fail("dim", f"expected {k} (q - rank = {q} - {rank})", r.d["dim"])
        if "name" in r.d and r.d["name"] != ident.name:
            r.fail("name", f"expected the identification's name {ident.name!r}", r.d["name"])
        if "normalized_spectrum" in r.d:
            r.floats("normalized_spectrum", r.d["normalized_spectrum"], (q,), why="one per candidate")
        if cand is not None and "generators" in r.d:
            m = cand.matrix_size
            r.floats("generators", r.d["generators"], (k, m, m), why="one matrix per found generator")
        if cand is None and "fields" in r.d:
            f = r.d["fields"]
            if not isinstance(f, list) or len(f) != k or not all(isinstance(v, str) for v in f):
                r.fail("fields", f"expected a list of {k} strings (one per found generator)", f)
        ns = Nullspace(basis=coeffs.T.contiguous(), singular_values=s, rank=rank, threshold=threshold, rule=rule,
                       gap_ratio=gap, complement=broken.T.contiguous(), reason=reason, rank_rule=rank_rule)
        return cls(candidates=cand, nullspace=ns, action=action, largest_gap=largest, closure_error=closure,
                   identification=ident, discrete=discrete, n_samples=n_samples, n_outputs=n_outputs, kind=kind,
                   fit=fit, info=info, scale=scale)

    def save(self, path) -> Path:
        """Write :meth:`to_dict` as JSON to ``path`` (through a temporary file renamed into place, so an
        interrupted save never leaves a truncated file; :func:`symlie.utils.files.atomic_file`); returns the
        path."""
        path = Path(path)
        text = json.dumps(self.to_dict(), indent=1)
        with atomic_file(path, "path") as tmp:
            tmp.write_text(text, encoding="utf-8")
        return path

    @classmethod
    def load(cls, path) -> "SymmetryResult":
        """Read a result written by :meth:`save` (any format version up to :data:`SAVE_VERSION`).

        Raises ``FileNotFoundError`` when there is no file at ``path``, and :class:`symlie.DataError` naming
        the file (and the key) when it is not a complete, consistent saved result: not UTF-8 text, invalid or
        truncated JSON, not a mapping, another format or a newer version, a missing key, a wrong type or
        inconsistent sizes (see :meth:`from_dict`).
        """
        from ..utils.errors import DataError

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"path: no such file {str(path)!r}")
        where = f"path: {str(path)!r}"
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(f"{where}: is not a saved SymmetryResult (not UTF-8 text: {exc})") from None
        if not text.strip():
            raise DataError(f"{where}: is not a saved SymmetryResult (the file is empty)")
        try:
            d = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{where}: is not a saved SymmetryResult (invalid or truncated JSON: {exc})") from None
        return cls.from_dict(d, path=path)


# ------------------------------------------------------------------------------------- save files
#: the save format of :meth:`SymmetryResult.save` / :meth:`SymmetryResult.to_dict` and its current version
#: (1: ``format`` / ``version`` keys; files without them read as version 0)
SAVE_FORMAT = "symlie.SymmetryResult"
SAVE_VERSION = 1
#: the values of :attr:`SymmetryResult.kind`
RESULT_KINDS = ("function", "dynamics", "linear", "manifold")
_REQUIRED = ("candidates", "coefficients", "singular_values", "broken_coefficients", "rank", "threshold", "rule",
             "gap_ratio", "largest_gap", "closure_error", "identification", "discrete", "n_samples", "n_outputs",
             "kind")
#: keys a version-0 file may lack, read with these defaults (required from version 1)
_V0_DEFAULTS: dict = {"reason": "", "scale": 0.0, "fit": None, "info": {}}
_IDENT_TYPES: dict = {"name": (str, type(None)), "aliases": list, "dim": int, "killing_signature": list,
                      "abelian": bool, "semisimple": bool, "solvable": bool, "radical_dim": int,
                      "levi_signature": list, "description": str, "closed": bool}
_TYPE_NAMES = {str: "a string", list: "a list", int: "an int", bool: "true or false"}


def _short(v) -> str:
    s = repr(v)
    return s if len(s) <= 80 else s[:77] + "..."


class _SavedResult:
    """Typed access to the keys of a saved :class:`SymmetryResult`; every problem raises a DataError that
    names the file (or "the saved data") and the key."""

    def __init__(self, d, path):
        from ..utils.errors import DataError
        from ..utils.serialization import check_saved

        self.where = f"path: {str(path)!r}" if path is not None else "the saved data"
        try:
            self.version = check_saved(d, path, kind=SAVE_FORMAT, version=SAVE_VERSION, required=_REQUIRED)
        except DataError as exc:
            raise DataError(f"path: {exc}" if path is not None else str(exc)) from None
        self.d = d
        if self.version >= 1:
            missing = [key for key in _V0_DEFAULTS if key not in d]
            if missing:
                raise DataError(f"{self.where}: not a complete {SAVE_FORMAT} file (version {self.version}): "
                                f"missing {', '.join(repr(key) for key in missing)}")

    def fail(self, key: str, what: str, got, *, show: bool = True) -> NoReturn:
        from ..utils.errors import DataError
        raise DataError(f"{self.where}: key {key!r}: {what}" + (f", got {_short(got)}" if show and got is not None
                                                                 else ""))

    def get(self, key: str):
        """An optional key of version 0 (required from version 1, checked in __init__)."""
        return self.d.get(key, _V0_DEFAULTS[key])

    def need(self, d: dict, parent: str, key: str):
        if key not in d:
            self.fail(f"{parent}.{key}" if parent != key else key, "missing", None)
        return d[key]

    def dict_(self, key: str, v) -> dict:
        if not isinstance(v, dict):
            self.fail(key, "expected a mapping", type(v).__name__)
        return v

    def str_(self, key: str, v) -> str:
        if not isinstance(v, str):
            self.fail(key, "expected a string", v)
        return v

    def bool_(self, key: str, v) -> bool:
        if not isinstance(v, bool):
            self.fail(key, "expected true or false", v)
        return v

    def int_(self, key: str, v, lo: int = 0, hi: int | None = None, why: str = "") -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
            want = f"an int >= {lo}" if hi is None else f"an int in [{lo}, {hi}]"
            self.fail(key, f"expected {want}{why}", v)
        return v

    def num(self, key: str, v, *, minimum: float | None = None, nonfinite: bool = False) -> float:
        """A number (``"nan"`` / ``"inf"`` / ``"-inf"`` as written by json_float, only when ``nonfinite``)."""
        x = from_json(v)
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            self.fail(key, "expected a number", v)
        x = float(x)
        if not nonfinite and not math.isfinite(x):
            self.fail(key, "expected a finite number", v)
        if minimum is not None and x < minimum:
            self.fail(key, f"expected a number >= {minimum:g}", v)
        return x

    def floats(self, key: str, v, shape: tuple, why: str = "") -> torch.Tensor:
        """A finite float64 tensor of ``shape`` (None: any size) from nested lists (exact: JSON floats are
        the shortest repr of the float64 written)."""
        import numpy as np

        want = "(" + ", ".join("*" if n is None else str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"
        how = f" ({why})" if why else ""
        if not isinstance(v, list):
            self.fail(key, f"expected a nested list of numbers of shape {want}{how}", type(v).__name__)
        try:
            arr = np.asarray(v)
        except ValueError:
            arr = None
        if arr is None or arr.dtype.kind not in "if":
            self.fail(key, f"expected a nested list of numbers of shape {want}{how} (ragged or non-numeric "
                           f"entries)", None)
        if arr.size == 0 and arr.ndim == 1 and len(shape) > 1 and shape[0] in (0, None) and \
                all(n is not None for n in shape[1:]):
            arr = arr.reshape((0,) + tuple(shape[1:]))                # an empty list of rows
        if arr.ndim != len(shape) or any(n is not None and a != n for a, n in zip(arr.shape, shape)):
            self.fail(key, f"expected shape {want}{how}, got shape {tuple(arr.shape)}", None)
        t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64))
        if not bool(torch.isfinite(t).all()):
            self.fail(key, "expected finite numbers", None)
        return t

    def identification(self, v: dict, k: int) -> Identification:
        names = set(_IDENT_TYPES)
        extra = sorted(set(v) - names)
        if extra and self.version >= 1:
            self.fail("identification", f"unknown field(s) {', '.join(map(repr, extra))}", None)
        for key, typ in _IDENT_TYPES.items():
            if key not in v:
                if self.version >= 1:
                    self.fail(f"identification.{key}", "missing", None)
                continue
            x = v[key]
            if not isinstance(x, typ) or (typ is int and isinstance(x, bool)):
                self.fail(f"identification.{key}", f"expected {_TYPE_NAMES.get(typ, 'a string or null')}", x)
            if key in ("killing_signature", "levi_signature") and (
                    len(x) != 3 or any(isinstance(e, bool) or not isinstance(e, int) or e < 0 for e in x)):
                self.fail(f"identification.{key}", "expected 3 counts (positive, negative, zero)", x)
            if key == "aliases" and not all(isinstance(e, str) for e in x):
                self.fail("identification.aliases", "expected a list of strings", x)
        if "dim" in v and v["dim"] != k:
            self.fail("identification.dim", f"expected {k} (the found generators)", v["dim"])
        return Identification.from_dict({key: v[key] for key in names if key in v})


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
    action, x = action.closure_view(points.to(torch.float64))
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
    if closure_tol is not None and (isinstance(closure_tol, bool) or not isinstance(closure_tol, (int, float))
                                    or not math.isfinite(closure_tol) or closure_tol < 0):
        raise ValueError(f"closure_tol: expected a finite number >= 0 or None, got {closure_tol!r}")
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

