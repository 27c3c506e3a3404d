"""DISCOVER: the symmetry algebra of a model or a point cloud as the nullspace of xi -> L_xi F.

(The package is ``discovery``, not ``discover``: the function ``symlie.discover`` would shadow it.)
``discover_data`` (fit a model first, then discover) lives in :mod:`symlie.models`, above the estimators.
"""
from .functional import (DEFAULT_BATCH_SIZE, discover, is_linear_estimator, resolve_candidates, resolve_rule,
                         sample_sufficiency)
from .manifold import discover_manifold
from .result import SymmetryResult, symmetry_result

__all__ = ["SymmetryResult", "symmetry_result", "discover", "discover_manifold", "resolve_candidates",
           "resolve_rule", "is_linear_estimator", "sample_sufficiency", "DEFAULT_BATCH_SIZE"]
