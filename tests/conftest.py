"""Shared test settings: one torch thread per worker (the suite runs under pytest-xdist on small matrices,
where extra threads only contend for the two cores)."""
import torch

torch.set_num_threads(1)
