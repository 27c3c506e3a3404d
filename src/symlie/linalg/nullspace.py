"""Nullspaces and singular spectra with explicit, recorded rank rules (float64 by default).

Every symmetry computation in symlie ends in a nullspace: of the stacked constraints (enforce), of the
Lie-derivative operator xi -> L_xi F (discover), or of the promoted solution (promote). :func:`nullspace`
returns the basis together with the full singular spectrum, the threshold used, and the gap ratio, so that
a user can always see how clear-cut the answer is.

Every cut of a spectrum in symlie goes through one object, :class:`RankRule` (kinds ``"auto"``, ``"gap"``,
``"rtol"``), and every result records it (``Nullspace.rule``, ``Nullspace.reason``):
  * ``"rtol"``: singular values <= rtol * sigma_max (+ atol) count as zero;
  * ``"gap"``: cut at the largest ratio sigma_i / sigma_{i+1} among consecutive values (values below
    ``floor * sigma_max`` are clamped to that floor so exact zeros do not give infinite ratios); a gap
    counts only if its ratio is at least ``min_gap``, otherwise the full-rank answer (empty nullspace) is
    returned;
  * ``"auto"``: the gap rule with a noise floor, falling back to the floor when there is no gap.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch

from ..utils.resources import check_memory
from ..utils.validation import as_tensor

__all__ = ["Nullspace", "RankRule", "nullspace", "nullspace_from_spectrum", "singular_spectrum",
           "gap_ratio", "largest_gap", "DEFAULT_FLOOR", "spectrum_bytes"]


@dataclass
class Nullspace:
    """Result of :func:`nullspace`.

    Attributes:
        basis: (n, k) orthonormal columns spanning the numerical nullspace.
        singular_values: (n,) all singular values, descending (zeros appended when the matrix has fewer rows
            than columns).
        rank: number of singular values above the threshold (n - k).
        threshold: the absolute cut used.
        rule: the rank rule (``"rtol"`` or ``"gap"``) and its parameters.
        gap_ratio: sigma_{rank} / sigma_{rank+1} (1-based: smallest kept over largest discarded); ``inf`` when
            the discarded value is exactly zero, ``nan`` when nothing is kept or nothing discarded.
        complement: (n, rank) orthonormal columns spanning the broken (non-null) directions.
        reason: why the spectrum was cut where it was (the gap found, or the threshold applied).
        rank_rule: the :class:`RankRule` object used (``rule`` is its dict form plus the reference).
    """

    basis: torch.Tensor
    singular_values: torch.Tensor
    rank: int
    threshold: float
    rule: dict = field(default_factory=dict)
    gap_ratio: float = float("nan")
    complement: torch.Tensor | None = None
    reason: str = ""
    rank_rule: "RankRule | None" = field(default=None, compare=False)

    @property
    def dim(self) -> int:
        return self.basis.shape[1]

    @property
    def normalized_spectrum(self) -> torch.Tensor:
        s = self.singular_values
        return s / s[0] if s.numel() and s[0] > 0 else s


def gap_ratio(s, rank: int) -> float:
    """sigma_rank / sigma_{rank+1} (1-based) of descending values s: smallest kept over largest discarded.

    ``inf`` when the discarded value is exactly zero, ``nan`` when nothing is kept or nothing discarded.
    """
    n = len(s)
    if not 0 < rank < n:
        return float("nan")
    return float(s[rank - 1] / s[rank]) if s[rank] > 0 else float("inf")


def spectrum_bytes(m: int, n: int, method: str = "svd", itemsize: int = 8) -> int:
    """Estimated workspace bytes of :func:`singular_spectrum` on an (m, n) matrix (the matrix itself not counted):
    LAPACK's copy of A, U, V and the divide-and-conquer workspace for ``"svd"``; A^T A and the eigensolver for
    ``"gram"``."""
    k = min(m, n)
    if method == "gram":
        return itemsize * 5 * n * n
    return itemsize * (2 * m * n + n * n + m * k + 5 * k * k)


def singular_spectrum(A, *, method: str = "svd") -> tuple[torch.Tensor, torch.Tensor]:
    """(singular values (n,) descending, right singular vectors (n, n) as columns) of A (m, n).

    ``method="svd"``: dense SVD of A; ``"gram"``: eigendecomposition of A^T A (cheaper when m >> n, accurate
    to about sqrt(machine epsilon) relative for the small values).
    """
    A = as_tensor(A, "A", ndim=2)
    m, n = A.shape
    if n == 0:
        raise ValueError("A: has no columns")
    if method in ("svd", "gram"):
        check_memory(spectrum_bytes(m, n, method, A.element_size()), f"{method}: the singular spectrum of a "
                     f"{m} x {n} matrix", hint=("method='gram' (an n x n eigenproblem) or a structured solver"
                                                if method == "svd" and m > 2 * n else "a structured solver (e.g. "
                                                "equivariant_basis(method='kron' or 'sparse')) or a smaller problem"))
    if method == "svd":
        if m == 0:
            return A.new_zeros(n), torch.eye(n, dtype=A.dtype)
        # the full V is needed for the nullspace; the full U only when m < n (never used: skip it otherwise)
        _, S, Vh = torch.linalg.svd(A, full_matrices=m < n)
        s = torch.cat([S, A.new_zeros(n - S.numel())]) if S.numel() < n else S
        return s, Vh.T
    if method == "gram":
        G = A.T @ A
        ev, U = torch.linalg.eigh(0.5 * (G + G.T))
        ev, U = ev.flip(0), U.flip(1)
        return ev.clamp(min=0).sqrt(), U
    raise ValueError(f"method: expected 'svd' or 'gram', got {method!r}")


#: relative level below which a singular value is treated as zero by default, by dtype of the operator's
#: evaluation (float64 rounding of Lie derivatives computed by autodiff sits near 1e-15 relative)
DEFAULT_FLOOR = {torch.float64: 1e-12, torch.float32: 1e-5}
RULE_KINDS = ("auto", "gap", "rtol")


def _check_number(value, name: str, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    v = float(value)
    if minimum is not None and v < minimum:
        raise ValueError(f"{name}: expected a number >= {minimum:g}, got {value!r}")
    return v


def largest_gap(s: torch.Tensor, ref: float, floor: float) -> tuple[int, float, torch.Tensor]:
    """The largest consecutive ratio of [ref, s_1, ..., s_n] (values clamped at ``floor * ref``): (its position
    = the rank it gives, the ratio, the clamped spectrum (n + 1,)). ``ref`` > 0."""
    lo = floor * ref
    sc = torch.cat([s.new_tensor([ref]), s])
    if lo > 0:
        sc = sc.clamp(min=lo)
    ratios = sc[:-1] / sc[1:].clamp(min=torch.finfo(s.dtype).tiny)
    best = int(torch.argmax(ratios))
    return best, float(ratios[best]), sc


@dataclass(frozen=True)
class RankRule:
    """The one rank rule of symlie: how a descending spectrum sigma_1 >= ... >= sigma_n is cut.

    Every value is measured relative to ``ref = max(sigma_1, reference)`` (``reference``: an external scale of
    the problem, e.g. the RMS size of the model, so that "everything is zero" is detectable).

    kinds:
      * ``"auto"`` (default): a relative gap with a floor. Values at or below ``floor`` (relative) are zero
        (the noise level: rounding for exact models, the fit error of a trained model, the data's noise). The
        spectrum [ref, sigma_1, ..., sigma_n], clamped at the floor, is cut at its largest consecutive ratio
        if that ratio is at least ``min_gap``; otherwise at the floor. Right for exact models (a gap of 1e10
        or more) and for trained or noisy ones (symmetric values at the noise, broken ones far above).
      * ``"gap"``: the largest ratio (clamped at ``floor``) if at least ``min_gap``, else full rank.
      * ``"rtol"``: sigma <= rtol * ref + atol is zero.

    Attributes:
        kind, rtol, atol, min_gap, floor: as above (``min_gap`` > 1, ``floor``, ``rtol``, ``atol`` >= 0).
    """

    kind: str = "auto"
    rtol: float = 1e-8
    atol: float = 0.0
    min_gap: float = 10.0
    floor: float = 1e-12

    def __post_init__(self):
        if self.kind not in RULE_KINDS:
            raise ValueError(f"rule: expected one of {', '.join(map(repr, RULE_KINDS))} or a RankRule, "
                             f"got {self.kind!r}")
        object.__setattr__(self, "rtol", _check_number(self.rtol, "rtol", minimum=0.0))
        object.__setattr__(self, "atol", _check_number(self.atol, "atol", minimum=0.0))
        mg = _check_number(self.min_gap, "min_gap")
        if not mg > 1:
            raise ValueError(f"min_gap: expected a ratio > 1 (a gap between consecutive singular values), got "
                             f"{self.min_gap!r}")
        object.__setattr__(self, "min_gap", mg)
        fl = _check_number(self.floor, "floor", minimum=0.0)
        if fl >= 1:
            raise ValueError(f"floor: expected a relative level in [0, 1), got {self.floor!r}")
        object.__setattr__(self, "floor", fl)

    @classmethod
    def resolve(cls, rule="auto", *, rtol=None, atol=None, min_gap=None, floor=None) -> "RankRule":
        """A RankRule from the keyword forms the entry points accept (``rule`` a kind or a RankRule; the other
        arguments override its fields when not None)."""
        base = rule if isinstance(rule, RankRule) else None
        if base is None:
            if not isinstance(rule, str):
                raise TypeError(f"rule: expected one of {', '.join(map(repr, RULE_KINDS))} or a RankRule, got "
                                f"{type(rule).__name__}")
            base = cls(kind=rule)
        upd = {k: v for k, v in {"rtol": rtol, "atol": atol, "min_gap": min_gap, "floor": floor}.items()
               if v is not None}
        return replace(base, **upd) if upd else base

    def to_dict(self) -> dict:
        """The parameters that matter for this kind, with ``rule`` naming the kind."""
        if self.kind == "rtol":
            return {"rule": "rtol", "rtol": self.rtol, "atol": self.atol}
        return {"rule": self.kind, "min_gap": self.min_gap, "floor": self.floor}

    def cut(self, s: torch.Tensor, reference: float | None = None) -> tuple[int, float, str]:
        """(rank, absolute threshold, reason) for descending values ``s`` (n,)."""
        n = s.numel()
        smax = float(s[0]) if n else 0.0
        if reference is not None:
            reference = _check_number(reference, "reference", minimum=0.0)
        ref = max(smax, reference) if reference is not None else smax
        if self.kind == "rtol":
            thr = self.rtol * ref + self.atol
            rank = int((s > thr).sum())
            return rank, thr, f"values <= rtol x ref + atol = {thr:.3e} are zero"
        if ref == 0 or n == 0:
            return 0, 0.0, "every value is zero"
        lo = self.floor * ref
        best, r, sc = largest_gap(s, ref, self.floor)
        if r >= self.min_gap:
            thr = float(s[best]) if best < n else 0.0
            return best, thr, (f"largest gap {r:.3g} >= min_gap {self.min_gap:g} between values {best} and "
                               f"{best + 1} (relative {float(sc[best]) / ref:.2e} -> {float(sc[best + 1]) / ref:.2e})")
        if self.kind == "gap":
            return n, 0.0, f"no gap >= min_gap {self.min_gap:g} (largest {r:.3g}): full rank"
        rank = int((s > lo).sum())
        return rank, lo, (f"no gap >= min_gap {self.min_gap:g} (largest {r:.3g}); values <= floor {self.floor:.1e} "
                          f"x ref are zero")


def nullspace(A, *, rule="rtol", rtol: float | None = None, atol: float | None = None, min_gap: float | None = None,
              floor: float | None = None, method: str = "svd", reference: float | None = None) -> Nullspace:
    """Numerical nullspace of A (m, n) with the rank rule recorded (see :class:`RankRule`).

    Args:
        A: matrix (m, n); float64 recommended.
        rule: a :class:`RankRule` or its kind (``"rtol"``, ``"gap"``, ``"auto"``); the keyword arguments below
            override its fields. Defaults: rtol 1e-8, atol 0, min_gap 1e3 for the gap kind (10 for auto),
            floor 1e-15 for the gap kind (1e-12 for auto).
        method: ``"svd"`` or ``"gram"`` (see :func:`singular_spectrum`).
        reference: an external scale of the problem; ``ref = max(sigma_max, reference)`` (default
            ``ref = sigma_max``). It makes "everything is zero" detectable: without it a matrix that is zero
            up to rounding has sigma_max at rounding level and its relative spectrum looks full rank. With the
            gap rules, ``ref`` is prepended to the spectrum, so a gap between ``ref`` and sigma_1 means rank 0.
    """
    if isinstance(rule, str) and rule == "gap":
        rule = RankRule(kind="gap", min_gap=1e3, floor=1e-15)
    rr = RankRule.resolve(rule, rtol=rtol, atol=atol, min_gap=min_gap, floor=floor)
    s, Vt = singular_spectrum(A, method=method)
    return nullspace_from_spectrum(s, Vt, rr, reference=reference)


def nullspace_from_spectrum(s: torch.Tensor, V: torch.Tensor, rule: RankRule,
                            reference: float | None = None) -> Nullspace:
    """The :class:`Nullspace` of a computed spectrum: values ``s`` (n,) descending and right singular vectors
    ``V`` (n, n) as columns, cut by ``rule``."""
    rank, thr, reason = rule.cut(s, reference)
    info = rule.to_dict()
    if reference is not None:
        info["reference"] = max(float(s[0]) if s.numel() else 0.0, float(reference))
    return Nullspace(basis=V[:, rank:], singular_values=s, rank=rank, threshold=float(thr), rule=info,
                     gap_ratio=gap_ratio(s, rank), complement=V[:, :rank], reason=reason, rank_rule=rule)
