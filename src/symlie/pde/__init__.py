"""Differential equations: jet spaces, prolongation of point transformations, and Lie point symmetries
found as the nullspace of the same Lie-derivative operator, taken on the equation surface in jet space.

:class:`JetSpace` (coordinates and total derivatives), :func:`prolong` / :class:`ProlongedAction` (Olver's
prolongation formula for any base :class:`symlie.Action`), :mod:`symlie.pde.equations` (built-in equations
with their exact algebras) and :func:`point_symmetries`.
"""
from .jets import JetSpace, multi_indices
from .prolong import ProlongedAction, prolong
from .equations import BUILTIN, Equation, burgers, ckdv, heat, kdv, kuramoto_sivashinsky, nkdv
from .symmetries import angles_to_exact, exact_coefficients, point_symmetries, point_symmetry_candidates
from .grid import GridJets, finite_difference_weights, jets_from_grid
from .fit import (EquationDesign, FittedEquation, default_features, equation_design, fit_equation,
                  system_from_fits)
from .constrained import box_points, evolution_candidates, fit_symmetric_equation, symmetry_constraints

__all__ = ["JetSpace", "multi_indices", "ProlongedAction", "prolong", "Equation", "BUILTIN", "kdv",
           "kuramoto_sivashinsky", "burgers", "heat", "nkdv", "ckdv", "point_symmetries",
           "point_symmetry_candidates", "exact_coefficients", "angles_to_exact", "GridJets", "jets_from_grid",
           "finite_difference_weights", "FittedEquation", "fit_equation", "default_features",
           "fit_symmetric_equation", "symmetry_constraints", "EquationDesign", "equation_design",
           "evolution_candidates", "box_points", "system_from_fits"]
