"""Small helpers shared by the test modules: `from _helpers import DT, randn, ...` (tests/ is on the pytest
`pythonpath`, see pyproject.toml). Everything here is deterministic: each random draw uses its own seeded
generator, so moving a helper here never changes the numbers a test sees."""
from __future__ import annotations

import torch

DT = torch.float64

# rotation by +90 degrees in the plane (the generator of so(2))
J2 = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=DT)


def gen(seed: int) -> torch.Generator:
    """A fresh CPU generator seeded with `seed`."""
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def randn(*shape, seed=0, scale=1.0):
    """Standard normal float64 tensor from its own generator seeded with `seed`, times `scale`."""
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=DT) * scale


def rand(*shape, seed=0, scale=1.0):
    """Uniform float64 tensor on [-scale, scale) from its own generator seeded with `seed`."""
    return (2 * torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=DT) - 1) * scale


def E(n: int, i: int, j: int) -> torch.Tensor:
    """The (n, n) matrix unit with a single 1 at (i, j)."""
    M = torch.zeros(n, n, dtype=DT)
    M[i, j] = 1.0
    return M


def eta_pq(p: int, q: int) -> torch.Tensor:
    """The metric diag(1, ..., 1, -1, ..., -1) of signature (p, q)."""
    return torch.diag(torch.tensor([1.0] * p + [-1.0] * q, dtype=DT))


def J_form(n2: int) -> torch.Tensor:
    """The standard symplectic form [[0, I], [-I, 0]] of size n2 (even)."""
    n = n2 // 2
    J = torch.zeros(n2, n2, dtype=DT)
    J[:n, n:] = torch.eye(n, dtype=DT)
    J[n:, :n] = -torch.eye(n, dtype=DT)
    return J


def free_port() -> int:
    """A free TCP port on localhost (for the torch.distributed rendezvous of multi-process tests)."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gloo_available() -> bool:
    """Whether torch.distributed with the gloo backend can run here (multi-process tests skip otherwise)."""
    return torch.distributed.is_available() and torch.distributed.is_gloo_available()


def _gloo_worker(rank, world, port, fn, out_dir):
    import os

    from symlie.utils.training import init_distributed
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    assert init_distributed("gloo", timeout=120)
    try:
        fn(rank, out_dir)
    finally:
        torch.distributed.destroy_process_group()


def spawn_gloo(fn, out_dir, world: int = 2) -> None:
    """Run ``fn(rank, out_dir)`` in ``world`` processes joined in one gloo process group (as torchrun would:
    RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT set); ``fn`` must be a module-level function (it is pickled)."""
    import torch.multiprocessing as mp
    torch.set_num_threads(1)
    mp.spawn(_gloo_worker, args=(world, free_port(), fn, str(out_dir)), nprocs=world, join=True)
