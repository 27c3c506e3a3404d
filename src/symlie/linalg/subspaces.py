"""Angles and distances between subspaces (column spans), the one measure of how close two algebras are."""
from __future__ import annotations

import torch

from ..utils.validation import as_tensor

__all__ = ["echelon_basis", "principal_angles", "subspace_distance"]


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


def subspace_distance(A, B) -> float:
    """Grassmann distance sqrt(sum theta_i^2) between column spans of A (n, a) and B (n, b); the difference in
    dimension counts as angles of pi/2. Objects with a ``basis`` of shape (k, ...) (e.g. LieAlgebras) are
    compared through their flattened bases."""
    if hasattr(A, "basis") and hasattr(A, "dim") and not isinstance(A, torch.Tensor):
        A = A.basis.reshape(A.dim, -1).T
    if hasattr(B, "basis") and hasattr(B, "dim") and not isinstance(B, torch.Tensor):
        B = B.basis.reshape(B.dim, -1).T
    A = as_tensor(A, "A", ndim=2)
    B = as_tensor(B, "B", ndim=2)
    th = principal_angles(A, B)
    extra = abs(A.shape[1] - B.shape[1]) * (torch.pi / 2) ** 2
    return float(torch.sqrt((th ** 2).sum() + extra))


def echelon_basis(B: torch.Tensor, tol: float = 0.1) -> tuple[torch.Tensor, list[int]]:
    """Rotate the columns of B (m, k), full column rank, to reduced column echelon form.

    Returns (B_e (m, k) with the same span, pivots (k row indices)) such that B_e[pivots] = I_k, pivots chosen
    left to right: the first row index where a not-yet-pivoted direction has an entry larger than ``tol`` times
    the largest entry still available (threshold pivoting: an entry that is small only because the span is
    slightly tilted, e.g. a symmetry estimated from data, is never a pivot, so the entries of B_e stay bounded
    by about 1 / tol per step, as in threshold partial pivoting). Falls back to column-pivoted QR pivots if
    fewer than k are found.
    """
    A = B.T.clone().to(torch.float64)                                            # (k, m): Gauss-Jordan on the rows
    k, m = A.shape
    if k == 0:
        return B.clone(), []
    pivots: list[int] = []
    r = 0
    for col in range(m):
        if r == k:
            break
        i = r + int(torch.argmax(A[r:, col].abs()))
        if float(A[i, col].abs()) <= tol * float(A[r:, col:].abs().max()):
            continue
        if i != r:
            A[[r, i]] = A[[i, r]]
        A[r] = A[r] / A[r, col]
        others = torch.ones(k, dtype=torch.bool)
        others[r] = False
        A[others] -= A[others, col:col + 1] * A[r]
        pivots.append(col)
        r += 1
    if r < k:  # numerically awkward span: pivots from column-pivoted QR instead
        import scipy.linalg

        _, _, perm = scipy.linalg.qr(B.T.numpy(), pivoting=True, mode="economic")
        pivots = sorted(int(p) for p in perm[:k])
        Be = B @ torch.linalg.inv(B[pivots])
        return Be, pivots
    return A.T.contiguous(), pivots
