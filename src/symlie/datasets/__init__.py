"""Data sets with a known symmetry, generated locally (no downloads).

:mod:`symlie.datasets.synthetic`: EMLP's synthetic benchmarks :class:`O5Synthetic`, :class:`Inertia` and
:class:`ParticleInteraction`.
"""
from .synthetic import (N_SAMPLES, N_TEST, N_VAL, TRAIN_SIZES, Inertia, O5Synthetic, ParticleInteraction,
                        Stats)

__all__ = ["O5Synthetic", "Inertia", "ParticleInteraction", "Stats", "N_SAMPLES", "N_VAL", "N_TEST",
           "TRAIN_SIZES"]
