"""The Lie derivative (L_xi F)(x) = DF(x) v_xi(x) - Out_xi(x) F(x) and its back-ends.

* :mod:`.core`: batched autodiff over any :class:`symlie.Action` (``lie_derivative``, dynamics, brackets,
  finite transforms); :mod:`.autodiff`: the tangent / jacfwd / jacrev modes and their cost model;
* :mod:`.linear`: the exact operator of linear-in-parameter models; :mod:`.constraints`: the one constraint
  assembly (one sign) for bases, estimators, layers and promotion; :mod:`.operator`: ``LieOperator``
  (apply / adjoint / gram / matrix);
* :mod:`.fields`: fields sampled on grids (spectral or finite-difference derivatives).
"""
from .constraints import (default_n_constraint_points, invariance_constraints, linear_map_lie_derivative,
                          linear_model_constraints, linear_model_nullspace)
from .core import lie_bracket, lie_derivative, lie_derivative_dynamics, transform
from .fields import grid_coordinates, grid_gradient, lie_derivative_grid
from .linear import lie_derivative_linear
from .operator import AffineOperator, LieOperator

__all__ = ["lie_derivative", "lie_derivative_linear", "lie_derivative_dynamics", "lie_bracket", "transform",
           "lie_derivative_grid", "grid_coordinates", "grid_gradient", "LieOperator", "AffineOperator",
           "invariance_constraints", "linear_map_lie_derivative", "linear_model_constraints", "linear_model_nullspace",
           "default_n_constraint_points"]
