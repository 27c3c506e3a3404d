"""Feature libraries: dictionaries of functions phi_j on an input space, with their Jacobians.

They are the columns of linear-in-parameter models (regression, SINDy) and the coefficient functions of
function-library generators (:class:`symlie.LibraryAction`).
"""
from .features import (ConcatLibrary, CustomLibrary, FourierLibrary, Library, NotFittedError, PolynomialLibrary,
                       format_equations)

__all__ = ["Library", "PolynomialLibrary", "FourierLibrary", "CustomLibrary", "ConcatLibrary", "NotFittedError",
           "format_equations"]
