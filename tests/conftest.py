"""Shared test settings: one torch thread per worker (the suite runs under pytest-xdist on small matrices,
where extra threads only contend for the two cores).

Helpers shared by several test modules (DT, seeded `randn` / `rand` / `gen`, matrix units `E`, the forms
`eta_pq` / `J_form`, the so(2) generator `J2`) live in tests/_helpers.py: `from _helpers import DT, randn`
works from every test folder because tests/ is on the pytest `pythonpath` (pyproject.toml)."""
import torch

torch.set_num_threads(1)
