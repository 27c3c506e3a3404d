"""Linear algebra with recorded decisions: nullspaces and the one rank rule, streaming factors, subspaces."""
from .nullspace import (DEFAULT_FLOOR, Nullspace, RankRule, gap_ratio, largest_gap, nullspace, nullspace_from_spectrum,
                        singular_spectrum)
from .streaming import StreamingFactor, use_distributed
from .subspaces import echelon_basis, principal_angles, subspace_distance

__all__ = ["Nullspace", "RankRule", "nullspace", "nullspace_from_spectrum", "singular_spectrum", "principal_angles",
           "gap_ratio", "largest_gap", "DEFAULT_FLOOR", "StreamingFactor", "use_distributed", "subspace_distance",
           "echelon_basis"]
