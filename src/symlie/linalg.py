"""Nullspaces and singular spectra with explicit, recorded rank rules (float64 by default).

Every symmetry computation in symlie ends in a nullspace: of the stacked constraints (enforce), of the
Lie-derivative operator xi -> L_xi F (discover), or of the promoted solution (promote). :func:`nullspace`
returns the basis together with the full singular spectrum, the threshold used, and the gap ratio, so that
a user can always see how clear-cut the answer is.

Rank rules (``rule``):
  * ``"rtol"``: singular values <= rtol * sigma_max (+ atol) count as zero;
  * ``"gap"``: cut at the largest ratio sigma_i / sigma_{i+1} among consecutive values (values below
    ``floor * sigma_max`` are clamped to that floor so exact zeros do not give infinite ratios); a gap
    counts only if its ratio is at least ``min_gap``, otherwise the full-rank answer (empty nullspace) is
    returned.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ._validation import as_tensor

__all__ = ["Nullspace", "nullspace", "singular_spectrum", "principal_angles", "gap_ratio"]


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
    """

    basis: torch.Tensor
    singular_values: torch.Tensor
    rank: int
    threshold: float
    rule: dict = field(default_factory=dict)
    gap_ratio: float = float("nan")
    complement: torch.Tensor | None = None

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


def singular_spectrum(A, *, method: str = "svd") -> tuple[torch.Tensor, torch.Tensor]:
    """(singular values (n,) descending, right singular vectors (n, n) as columns) of A (m, n).

    ``method="svd"``: dense SVD of A; ``"gram"``: eigendecomposition of A^T A (cheaper when m >> n, accurate
    to about sqrt(machine epsilon) relative for the small values).
    """
    A = as_tensor(A, "A", ndim=2)
    m, n = A.shape
    if n == 0:
        raise ValueError("A: has no columns")
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


def nullspace(A, *, rule: str = "rtol", rtol: float = 1e-8, atol: float = 0.0, min_gap: float = 1e3,
              floor: float = 1e-15, method: str = "svd", reference: float | None = None) -> Nullspace:
    """Numerical nullspace of A (m, n) with the rank rule recorded (see module docstring).

    Args:
        A: matrix (m, n); float64 recommended.
        rule: ``"rtol"`` or ``"gap"``.
        rtol, atol: for ``"rtol"``: zero means sigma <= rtol * ref + atol.
        min_gap: for ``"gap"``: smallest ratio accepted as a gap.
        floor: for ``"gap"``: values below ``floor * ref`` are clamped to it before taking ratios.
        method: ``"svd"`` or ``"gram"`` (see :func:`singular_spectrum`).
        reference: an external scale of the problem; ``ref = max(sigma_max, reference)`` (default
            ``ref = sigma_max``). It makes "everything is zero" detectable: without it a matrix that is zero
            up to rounding has sigma_max at rounding level and its relative spectrum looks full rank. With the
            gap rule, ``ref`` is prepended to the spectrum, so a gap between ``ref`` and sigma_1 means rank 0.
    """
    s, Vt = singular_spectrum(A, method=method)
    n = s.numel()
    smax = float(s[0])
    if reference is not None and not (isinstance(reference, (int, float)) and reference >= 0):
        raise ValueError(f"reference: expected a number >= 0 or None, got {reference!r}")
    ref = max(smax, float(reference)) if reference is not None else smax
    if rule == "rtol":
        if rtol < 0 or atol < 0:
            raise ValueError(f"rtol, atol: must be >= 0, got {rtol}, {atol}")
        thr = rtol * ref + atol
        rank = int((s > thr).sum())
        info = {"rule": "rtol", "rtol": rtol, "atol": atol}
    elif rule == "gap":
        if ref == 0:
            rank, thr = 0, 0.0
        else:
            sc = torch.clamp(torch.cat([s.new_tensor([ref]), s]), min=floor * ref)
            ratios = sc[:-1] / sc[1:]
            if ratios.numel() and float(ratios.max()) >= min_gap:
                rank = int(torch.argmax(ratios))
            else:
                rank = n
            thr = float(s[rank]) if rank < n else 0.0
        info = {"rule": "gap", "min_gap": min_gap, "floor": floor}
    else:
        raise ValueError(f"rule: expected 'rtol' or 'gap', got {rule!r}")
    if reference is not None:
        info["reference"] = ref
    gap = gap_ratio(s, rank)
    return Nullspace(basis=Vt[:, rank:], singular_values=s, rank=rank, threshold=float(thr), rule=info,
                     gap_ratio=gap, complement=Vt[:, :rank])


def principal_angles(A, B) -> torch.Tensor:
    """Principal angles (radians, ascending) between the column spans of A (n, a) and B (n, b).

    Computed from the sines (singular values of (I - Q_A Q_A^T) Q_B, accurate for small angles) and the
    cosines (singular values of Q_A^T Q_B), taking whichever is better conditioned. Returns min(a, b) angles.
    """
    A = as_tensor(A, "A", ndim=2)
    B = as_tensor(B, "B", ndim=2)
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"A, B: expected the same number of rows, got {tuple(A.shape)} and {tuple(B.shape)}")
    k = min(A.shape[1], B.shape[1])
    if k == 0:
        return A.new_zeros(0)
    Qa, _ = torch.linalg.qr(A)
    Qb, _ = torch.linalg.qr(B)
    if A.shape[1] < B.shape[1]:
        Qa, Qb = Qb, Qa
    ang_c = torch.arccos(torch.linalg.svdvals(Qa.T @ Qb).clamp(max=1.0))               # ascending angles
    sin = torch.linalg.svdvals(Qb - Qa @ (Qa.T @ Qb)).clamp(max=1.0).flip(0)   # ascending sines
    ang_s = torch.arcsin(sin)
    return torch.where(sin < 0.7, ang_s, ang_c)
