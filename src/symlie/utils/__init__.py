"""Shared helpers below every other sub-package: the error and warning classes, validation of arguments,
resource estimates, seeded random generators, JSON serialisation, progress, and the one trainer of the
training code (seeds, progress, checkpoints and resume, selection on validation, data-parallel under
torchrun). (Equivariance test utilities are in :mod:`symlie.testing`, above ``lie``.)"""
from .errors import (BlowUpWarning, ConvergenceWarning, DataError, InfeasibleError, NotClosedError, NotFittedError,
                     ResourceError, SymlieError, SymlieWarning, UnderdeterminedWarning)
from .progress import Progress, progress
from .resources import (call_limit, check_memory, format_bytes, get_memory_limit, memory_limit, oom_guard,
                        set_memory_limit)
from .training import TrainResult, Trainer, init_distributed
from .validation import as_matrix_stack, as_tensor, check_finite

__all__ = ["progress", "Progress", "SymlieError", "NotClosedError", "DataError", "ResourceError", "NotFittedError",
           "InfeasibleError", "SymlieWarning", "UnderdeterminedWarning", "ConvergenceWarning", "BlowUpWarning",
           "check_memory", "get_memory_limit", "set_memory_limit", "memory_limit", "call_limit", "oom_guard",
           "format_bytes", "as_tensor", "as_matrix_stack",
           "check_finite", "Trainer", "TrainResult", "init_distributed"]
