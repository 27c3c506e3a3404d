"""Data sets with a known symmetry, generated locally (no downloads).

:mod:`symlie.datasets.synthetic`: EMLP's synthetic benchmarks :class:`O5Synthetic`, :class:`Inertia` and
:class:`ParticleInteraction`.

:mod:`symlie.datasets.pde`: solutions of KdV, Kuramoto-Sivashinsky, heat, viscous Burgers, nKdV and cKdV on a
periodic grid (:func:`generate`, :func:`solve`, :class:`PDESolution`, :func:`save_h5` / :func:`load_h5`).

:mod:`symlie.datasets.pendulum`: EMLP's double spring pendulum (:class:`DoubleSpringPendulum`, the chunks of
experiment E2) and its candidate algebras (:func:`pendulum_candidates`).
"""
from .pendulum import PENDULUM_CANDIDATES, DoubleSpringPendulum, pendulum_candidates
from .pde import EQUATIONS, PRESETS, PDEDataset, PDESolution, generate, load_h5, pde_residual, save_h5, solve
from .synthetic import (N_SAMPLES, N_TEST, N_VAL, TRAIN_SIZES, Inertia, O5Synthetic, ParticleInteraction,
                        Stats)

__all__ = ["O5Synthetic", "Inertia", "ParticleInteraction", "Stats", "N_SAMPLES", "N_VAL", "N_TEST",
           "TRAIN_SIZES", "EQUATIONS", "PRESETS", "PDESolution", "PDEDataset", "generate", "solve", "pde_residual",
           "save_h5", "load_h5", "DoubleSpringPendulum", "pendulum_candidates", "PENDULUM_CANDIDATES"]
