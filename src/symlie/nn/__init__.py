"""Neural networks (``symlie.nn``): equivariant layers built from the enforce job's bases (``layers``), networks
on invariant scalars (``scalars``), and a Fourier neural operator PDE solver with its training and evaluation
(``fno``, ``solver``)."""
from .layers import (EquivariantBilinear, EquivariantBlock, EquivariantLinear, EquivariantMLP, GatedNonlinearity,
                     gated, uniform_rep)
from .scalars import InvariantScalars, ScalarMLP
from .fno import FNO1d, SpectralConv1d
from .epnn import EPNN, EPNN_MODES, EPNNLayer
from .conv import FieldCNN, FieldConv2d, FieldLinear, plane_generators
from .node import NeuralODE, ode_rollout, ode_rollout_mse, train_neural_ode
from .solver import (SOLVER_FORMAT, SOLVER_FORMAT_VERSION, UnrolledNMSE, bootstrap_interval, load_solver, rollout,
                     save_solver, single_time_nmse, train_solver, unrolled_nmse)

__all__ = ["EquivariantLinear", "GatedNonlinearity", "EquivariantBilinear", "EquivariantBlock", "EquivariantMLP",
           "gated", "uniform_rep", "InvariantScalars", "ScalarMLP", "SpectralConv1d", "FNO1d", "rollout",
           "unrolled_nmse", "UnrolledNMSE", "single_time_nmse", "bootstrap_interval", "train_solver", "save_solver",
           "load_solver", "SOLVER_FORMAT", "SOLVER_FORMAT_VERSION", "EPNN", "EPNNLayer", "EPNN_MODES", "NeuralODE",
           "ode_rollout", "ode_rollout_mse", "train_neural_ode", "FieldConv2d", "FieldLinear", "FieldCNN",
           "plane_generators"]
