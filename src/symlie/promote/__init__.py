"""PROMOTE: the nuclear norm of the Lie-derivative operator as a penalty (torch) and a convex program (ADMM)."""
from ..derivative.operator import LieOperator
from .admm import ConvergenceWarning, InfeasibleError, PromoteResult, solve_promote
from .equations import equation_operator, fit_promoted_equation
from .penalty import NuclearNormPenalty, layer_operator

__all__ = ["LieOperator", "NuclearNormPenalty", "PromoteResult", "solve_promote", "InfeasibleError",
           "ConvergenceWarning", "layer_operator", "fit_promoted_equation", "equation_operator"]
