"""Learned generators (Ko, Kim, Lee, NeurIPS 2024): neural vector fields whose flows keep data valid.

:mod:`.fields` (``GeneratorMLP``: n fields, shared trunk, one head each; an Action through ``action()``),
:mod:`.analysis` (inner products, Gram matrices, projections onto a reference span, principal angles),
:mod:`.losses` (sequential orthonormality, Lipschitz, Sobolev), :mod:`.flows` (``flow``: exp(sV) by our own
fixed-step solvers or torchdiffeq behind one interface; ``flow_matrix``: the exact flow of a linear field),
:mod:`.validity` (PDE residuals on transformed point clouds by local polynomial fits; image feature angles),
:mod:`.learn` (the PDE task: graph scaling, seeded draws, the loss, training, comparison with exact fields),
:mod:`.images` (the image task on pixel coordinates: digits, a small CNN as the frozen feature network,
comparison with Aff(2)).
"""
from .analysis import affine_fields, field_values, gram_matrix, inner_products, projection_norms, span_angles
from .fields import GeneratorMLP
from .flows import FIXED_STEP_METHODS, available_methods, flow, flow_matrix
from .images import (ImageSplits, ImageSymmetryTask, SmallCNN, accuracy, compare_to_affine, gaussian_weight_map,
                     learn_image_symmetries, load_digits_images, train_classifier)
from .learn import GeneratorObjective, GraphScaling, PDESymmetryTask, compare_to_exact, learn_pde_symmetries
from .losses import DEFAULT_WEIGHTS, lipschitz_loss, orthonormality_loss, sobolev_loss
from .validity import (FeatureValidity, PDEValidity, cloud_jets, feature_validity, pde_validity, pixel_grid,
                       rotate_images, warp_images)

__all__ = ["GeneratorMLP", "field_values", "inner_products", "gram_matrix", "projection_norms", "span_angles",
           "affine_fields", "orthonormality_loss", "lipschitz_loss", "sobolev_loss", "DEFAULT_WEIGHTS", "flow",
           "flow_matrix", "available_methods", "FIXED_STEP_METHODS", "cloud_jets", "pde_validity", "PDEValidity",
           "feature_validity", "FeatureValidity", "pixel_grid", "warp_images", "rotate_images", "GraphScaling",
           "PDESymmetryTask",
           "GeneratorObjective", "learn_pde_symmetries", "compare_to_exact", "ImageSplits", "load_digits_images",
           "SmallCNN", "train_classifier", "accuracy", "gaussian_weight_map", "ImageSymmetryTask",
           "learn_image_symmetries", "compare_to_affine"]
