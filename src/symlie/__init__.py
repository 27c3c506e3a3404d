"""symlie: make symmetry a first-class, measurable part of machine learning.

One operator, the Lie derivative

    (L_xi F)(x) = DF(x) v_xi(x) - Out_xi(x) F(x),

over a family of generators (an :class:`Action`: matrix algebras, function-library vector fields, neural
fields) serves enforcing, discovering and promoting symmetry. See :mod:`symlie.derivative` for the convention
and ``docs/design.md`` for the layout: ``utils`` -> ``linalg`` -> ``library`` -> ``lie`` -> ``derivative`` ->
``enforce`` -> ``discovery`` -> ``pde`` -> ``promote`` -> ``generators`` -> ``models`` -> ``nn`` -> ``datasets`` ->
``augment`` / ``metrics`` / ``io`` / ``report`` -> ``cli`` (imports flow left to right only).
"""
from ._version import __version__
from .utils.errors import (BlowUpWarning, ConvergenceWarning, DataError, InfeasibleError, NotClosedError,
                           NotFittedError, ResourceError, SymlieError, SymlieWarning, UnderdeterminedWarning)
from .utils.resources import memory_limit, set_memory_limit
from .linalg import Nullspace, RankRule, nullspace, principal_angles, singular_spectrum
from .library import ConcatLibrary, CustomLibrary, FourierLibrary, Library, PolynomialLibrary
from .lie import (GL, SE, SL, Action, Covector, E, Group, Identification, LibraryAction, LieAlgebra, Lorentz,
                  MatrixAction, ModuleAction, O, Point, ProductRep, Rep, S, Scalar, SO, Sp, SumRep, T, TensorRep,
                  Trivial, V, Vector, Z, aff, as_action, as_group, direct_product, direct_sum, gl, identify_algebra,
                  identify_structure, lorentz, minkowski_metric, parse_algebra, polynomial_vector_fields, scaling, se,
                  sim, sl, so, so_pq, sp, span, symplectic_form, t)
from .derivative import (LieOperator, grid_coordinates, grid_gradient, lie_bracket, lie_derivative,
                         lie_derivative_dynamics, lie_derivative_grid, lie_derivative_linear, transform)
from .enforce import (BasisBlock, EquivariantBasis, clear_basis_cache, constraint_matrix, equivariant_basis,
                      invariant_basis)
from .discovery import SymmetryResult, discover, discover_manifold
from .promote import (NuclearNormPenalty, PromoteResult, layer_operator,
                      solve_promote)
from .models import SymmetricRegressor, SymmetricSINDy, discover_data
from . import augment, datasets, generators, metrics, nn, pde, testing, utils

__all__ = [
    "__version__",
    # errors and warnings (docs/errors.md), resource limits
    "SymlieError", "NotClosedError", "DataError", "ResourceError", "NotFittedError", "InfeasibleError",
    "SymlieWarning", "UnderdeterminedWarning", "ConvergenceWarning", "BlowUpWarning", "set_memory_limit",
    "memory_limit",
    # algebras
    "LieAlgebra", "gl", "sl", "so", "so_pq", "lorentz", "sp", "t", "se", "sim", "aff", "scaling",
    "direct_sum", "span", "symplectic_form", "parse_algebra",
    # groups
    "Group", "as_group", "SO", "O", "SE", "E", "T", "SL", "GL", "Sp", "Lorentz", "S", "Z", "direct_product",
    "minkowski_metric",
    # representations
    "Rep", "V", "Vector", "Covector", "Scalar", "Trivial", "Point", "SumRep", "ProductRep", "TensorRep",
    # actions (generator families)
    "Action", "MatrixAction", "LibraryAction", "ModuleAction", "as_action", "polynomial_vector_fields",
    # the Lie derivative
    "lie_derivative", "lie_derivative_linear", "lie_derivative_dynamics", "lie_bracket", "transform",
    "lie_derivative_grid", "grid_coordinates", "grid_gradient", "LieOperator",
    # enforce
    "equivariant_basis", "invariant_basis", "EquivariantBasis", "BasisBlock", "constraint_matrix", "clear_basis_cache",
    # discover
    "discover", "discover_data", "discover_manifold", "SymmetryResult", "identify_algebra", "identify_structure",
    "Identification",
    # linear algebra
    "nullspace", "Nullspace", "RankRule", "singular_spectrum", "principal_angles",
    # linear-in-parameter models
    "NotFittedError", "Library", "PolynomialLibrary", "FourierLibrary", "CustomLibrary", "ConcatLibrary",
    "SymmetricRegressor", "SymmetricSINDy",
    # promote
    "NuclearNormPenalty", "solve_promote", "PromoteResult", "InfeasibleError", "ConvergenceWarning", "layer_operator",
    # submodules
    "nn", "pde", "generators", "augment", "metrics", "datasets", "utils", "testing",
]
