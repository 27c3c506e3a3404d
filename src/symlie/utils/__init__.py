"""Shared helpers below every other sub-package: validation of arguments, seeded random generators, JSON
serialisation, progress. (Equivariance test utilities are in :mod:`symlie.testing`, above ``lie``.)"""
from .progress import Progress, progress
from .validation import NotClosedError, SymlieError, as_matrix_stack, as_tensor, check_finite

__all__ = ["progress", "Progress", "SymlieError", "NotClosedError", "as_tensor", "as_matrix_stack", "check_finite"]
