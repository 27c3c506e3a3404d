"""Learned generators (Ko, Kim, Lee, NeurIPS 2024): neural vector fields whose flows keep data valid.

:mod:`.fields` (``GeneratorMLP``: n fields, shared trunk, one head each; an Action through ``action()``),
:mod:`.analysis` (inner products, Gram matrices, projections onto a reference span, principal angles),
:mod:`.losses` (sequential orthonormality, Lipschitz, Sobolev), :mod:`.flows` (``flow``: exp(sV) by our own
fixed-step solvers or torchdiffeq behind one interface; ``flow_matrix``: the exact flow of a linear field).
"""
from .analysis import affine_fields, field_values, gram_matrix, inner_products, projection_norms, span_angles
from .fields import GeneratorMLP
from .flows import FIXED_STEP_METHODS, available_methods, flow, flow_matrix
from .losses import DEFAULT_WEIGHTS, lipschitz_loss, orthonormality_loss, sobolev_loss

__all__ = ["GeneratorMLP", "field_values", "inner_products", "gram_matrix", "projection_norms", "span_angles",
           "affine_fields", "orthonormality_loss", "lipschitz_loss", "sobolev_loss", "DEFAULT_WEIGHTS", "flow",
           "flow_matrix", "available_methods", "FIXED_STEP_METHODS"]
