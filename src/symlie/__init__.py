"""symlie: make symmetry a first-class, measurable part of machine learning.

One operator, the Lie derivative

    (L_xi F)(x) = DF(x) v_xi(x) - drho_out(xi) F(x),

serves enforcing, discovering and promoting symmetry. See :mod:`symlie.derivative` for the convention.
"""
from ._validation import NotClosedError, SymlieError
from .algebra import (LieAlgebra, aff, direct_sum, gl, lorentz, parse_algebra, scaling, se, sim, sl, so, so_pq, sp,
                      span, symplectic_form, t)
from .enforce import (BasisBlock, EquivariantBasis, clear_basis_cache, constraint_matrix, equivariant_basis,
                      invariant_basis)
from .derivative import lie_bracket, lie_derivative, lie_derivative_dynamics, lie_derivative_linear, transform
from .fields import grid_coordinates, grid_gradient, lie_derivative_grid
from .groups import (GL, SE, SL, E, Group, Lorentz, O, S, SO, Sp, T, Z, as_group, direct_product,
                     minkowski_metric)
from . import metrics, nn
from .linalg import Nullspace, nullspace, principal_angles, singular_spectrum
from .identify import identify_algebra
from .discovery import SymmetryResult, discover, discover_data, discover_manifold
from .reps import (Covector, Point, ProductRep, Rep, Scalar, SumRep, TensorRep, Trivial, V, Vector)
from . import datasets

__version__ = "0.1.0"

__all__ = [
    "__version__", "SymlieError", "NotClosedError",
    # algebras
    "LieAlgebra", "gl", "sl", "so", "so_pq", "lorentz", "sp", "t", "se", "sim", "aff", "scaling",
    "direct_sum", "span", "symplectic_form", "parse_algebra",
    # groups
    "Group", "as_group", "SO", "O", "SE", "E", "T", "SL", "GL", "Sp", "Lorentz", "S", "Z", "direct_product",
    "minkowski_metric",
    # representations
    "Rep", "V", "Vector", "Covector", "Scalar", "Trivial", "Point", "SumRep", "ProductRep", "TensorRep",
    # the Lie derivative
    "lie_derivative", "lie_derivative_linear", "lie_derivative_dynamics", "lie_bracket", "transform",
    "lie_derivative_grid", "grid_coordinates", "grid_gradient",
    # enforce
    "equivariant_basis", "invariant_basis", "EquivariantBasis", "BasisBlock", "constraint_matrix", "clear_basis_cache",
    # discover
    "discover", "discover_data", "discover_manifold", "SymmetryResult", "identify_algebra",
    # linear algebra
    "nullspace", "Nullspace", "singular_spectrum", "principal_angles",
    # submodules
    "nn", "metrics", "datasets",
]

# linear-in-parameter models with enforced symmetry
from .library import ConcatLibrary, CustomLibrary, FourierLibrary, Library, NotFittedError, PolynomialLibrary
from .regression import SymmetricRegressor
from .sindy import SymmetricSINDy
from .promote import (ConvergenceWarning, InfeasibleError, LieOperator, NuclearNormPenalty, PromoteResult,
                      layer_operator, solve_promote)

__all__ += [
    "NotFittedError", "Library", "PolynomialLibrary", "FourierLibrary", "CustomLibrary", "ConcatLibrary",
    "SymmetricRegressor", "SymmetricSINDy",
    # promote
    "NuclearNormPenalty", "LieOperator", "solve_promote", "PromoteResult", "InfeasibleError", "ConvergenceWarning",
    "layer_operator",
]
