"""Shared helpers below every other sub-package: validation of arguments, seeded random generators, JSON
serialisation, progress. (Equivariance test utilities are in :mod:`symlie.testing`, above ``lie``.)"""
from .validation import NotClosedError, SymlieError, as_matrix_stack, as_tensor, check_finite

__all__ = ["SymlieError", "NotClosedError", "as_tensor", "as_matrix_stack", "check_finite"]
