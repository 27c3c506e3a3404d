"""ENFORCE: equivariant linear maps and bases as the nullspace of the symmetry constraints."""
from .basis import (BasisBlock, EquivariantBasis, clear_basis_cache, constraint_matrix, equivariant_basis,
                    invariant_basis)

__all__ = ["EquivariantBasis", "BasisBlock", "equivariant_basis", "invariant_basis", "constraint_matrix",
           "clear_basis_cache"]
