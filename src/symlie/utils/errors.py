"""The error and warning classes of symlie, in one place (documented in ``docs/errors.md``).

Every error symlie raises for something the caller can fix is a :class:`SymlieError` (a ``ValueError``), and
its message names the argument (or file) and says what was expected. Conditions that are not errors but make
an answer untrustworthy (too few informative samples, a solver stopped early, a simulation that blew up) are
reported as a status on the result together with a :class:`SymlieWarning`.
"""
from __future__ import annotations

__all__ = ["SymlieError", "NotClosedError", "DataError", "ResourceError", "NotFittedError", "InfeasibleError",
           "SymlieWarning", "UnderdeterminedWarning", "ConvergenceWarning", "BlowUpWarning"]


class SymlieError(ValueError):
    """Base class for symlie's input and consistency errors (a ``ValueError``)."""


class NotClosedError(SymlieError):
    """A set of generators that must span a Lie algebra is not closed under the bracket."""


class DataError(SymlieError):
    """A data set or file that cannot be used as asked: unreadable, corrupt, truncated, missing a key,
    inconsistent with itself or with the data it is applied to. The message names the file and what was wrong."""


class ResourceError(SymlieError, MemoryError):
    """A request whose estimated memory exceeds the limit (:func:`symlie.utils.set_memory_limit`), refused before
    anything is allocated, or an allocation that failed; also a ``MemoryError``.

    Attributes: ``nbytes`` (the estimate, or None when an allocation failed), ``limit`` (bytes), ``what``.
    """

    def __init__(self, message: str, *, nbytes: int | None = None, limit: int | None = None, what: str = ""):
        super().__init__(message)
        self.nbytes, self.limit, self.what = nbytes, limit, what


class NotFittedError(SymlieError, AttributeError):
    """An object used before it knows its input size / coefficients (call ``fit`` first)."""


class InfeasibleError(SymlieError):
    """The interpolation constraints Theta W^T = Y have no solution (inconsistent data)."""


class SymlieWarning(UserWarning):
    """Base class of symlie's warnings: the answer was computed but carries a status that qualifies it."""


class UnderdeterminedWarning(SymlieWarning):
    """The samples cannot determine the answer (too few informative samples or rows for the unknowns, samples
    at fixed points of the candidates, a point cloud of the wrong dimension); the result's ``status`` says so."""


class ConvergenceWarning(SymlieWarning):
    """An iterative solver stopped at its iteration limit before meeting its tolerances, or a training run
    diverged (a NaN / Inf loss or gradient: ``TrainResult.status == "diverged"``, the best state restored)."""


class BlowUpWarning(SymlieWarning):
    """A simulation left the finite range (finite-time blow-up); the trajectory stops where it happened."""
