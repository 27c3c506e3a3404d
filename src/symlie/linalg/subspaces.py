"""Angles and distances between subspaces (column spans), the one measure of how close two algebras are."""
from __future__ import annotations

import torch

from ..utils.validation import as_tensor

__all__ = ["principal_angles", "subspace_distance"]


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
