"""PROMOTE: the nuclear norm of the Lie-derivative operator as a penalty (torch) and a convex program (ADMM)."""
from ..derivative.operator import LieOperator
from .admm import ConvergenceWarning, InfeasibleError, PromoteResult, solve_promote
from .equations import equation_operator, fit_promoted_equation
from .penalty import (LayerFields, NuclearNormPenalty, homogeneous_generators, layer_fields, layer_operator,
                      quadratic_form_operator)
from .proximal import ADMMPenalty, PolishResult, stacked_operator, svt

__all__ = ["LieOperator", "NuclearNormPenalty", "PromoteResult", "solve_promote", "InfeasibleError",
           "ConvergenceWarning", "layer_operator", "fit_promoted_equation", "equation_operator",
           "quadratic_form_operator", "homogeneous_generators", "LayerFields", "layer_fields", "ADMMPenalty",
           "PolishResult", "stacked_operator", "svt"]
