"""Lie algebras, groups, representations, actions (generator families) and their identification."""
from .algebra import (LieAlgebra, aff, direct_sum, gl, lorentz, parse_algebra, scaling, se, sim, sl, so, so_pq, sp,
                      span, symplectic_form, t)
from .groups import (GL, SE, SL, E, Group, Lorentz, O, S, SO, Sp, T, Z, as_group, direct_product, minkowski_metric,
                     parse_group)
from .actions import Action, LibraryAction, MatrixAction, ModuleAction, as_action, polynomial_vector_fields
from .identify import Identification, identify_algebra, identify_structure
from .reps import Covector, Point, ProductRep, Rep, Scalar, SumRep, TensorRep, Trivial, V, Vector, parse_rep

__all__ = [
    "LieAlgebra", "gl", "sl", "so", "so_pq", "lorentz", "sp", "t", "se", "sim", "aff", "scaling", "direct_sum", "span",
    "symplectic_form", "parse_algebra",
    "Group", "as_group", "SO", "O", "SE", "E", "T", "SL", "GL", "Sp", "Lorentz", "S", "Z", "direct_product",
    "minkowski_metric", "parse_group",
    "Identification", "identify_algebra", "identify_structure",
    "Action", "MatrixAction", "LibraryAction", "ModuleAction", "as_action", "polynomial_vector_fields",
    "Rep", "V", "Vector", "Covector", "Scalar", "Trivial", "Point", "SumRep", "ProductRep", "TensorRep", "parse_rep",
]
