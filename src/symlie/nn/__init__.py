"""Equivariant neural-network layers built from the enforce job's bases (``symlie.nn``)."""
from .layers import (EquivariantBilinear, EquivariantBlock, EquivariantLinear, EquivariantMLP, GatedNonlinearity,
                     gated, uniform_rep)

__all__ = ["EquivariantLinear", "GatedNonlinearity", "EquivariantBilinear", "EquivariantBlock", "EquivariantMLP",
           "gated", "uniform_rep"]
