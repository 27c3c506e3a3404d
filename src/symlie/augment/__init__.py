"""Symmetry augmentation of PDE solutions: transform whole solutions by point symmetries and train on them.

* :mod:`.fields`: the generators (:func:`graph_fields` resolves library, exact, discovered and learned fields to
  one Action on (t, x, u); :func:`orthonormal_fields` normalises them in the data's coordinates);
* :mod:`.resample`: splatting a moved graph back onto the grid (Whittaker-Shannon / Dirichlet in x and linear in
  t, or bilinear) and the valid-window rule;
* :mod:`.transforms`: closed-form transforms (translations, Galilean boost, scaling of u) and the flow of any
  generators (:func:`transform_solutions`);
* :mod:`.copies`: precomputed augmented copies of a training set (:func:`augment_solutions`, HDF5 files);
* :mod:`.dataset`: :class:`AugmentedWindows`, the torch Dataset of (history, future) windows for a neural solver.
"""
from .copies import (AUGMENTED_FORMAT, AUGMENTED_VERSION, AugmentedSolutions, augment_solutions, check_sigma,
                     draw_coefficients, reference_points)
from .dataset import AugmentedWindows
from .fields import field_gram, graph_fields, learned_fields, orthonormal_fields, periodic_fields
from .resample import KERNELS, dirichlet_kernel, splat, valid_window
from .transforms import (Transformed, check_grid, galilean_boost, scale_u, transform_solutions, translate_t,
                         translate_x)

__all__ = ["graph_fields", "learned_fields", "orthonormal_fields", "field_gram", "periodic_fields",
           "dirichlet_kernel", "splat",
           "valid_window", "KERNELS", "Transformed", "translate_x", "galilean_boost", "scale_u", "translate_t",
           "transform_solutions", "check_grid", "AugmentedSolutions", "augment_solutions", "reference_points",
           "check_sigma", "draw_coefficients", "AUGMENTED_FORMAT", "AUGMENTED_VERSION", "AugmentedWindows"]
