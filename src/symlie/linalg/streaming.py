"""Streaming factors of tall operators: TSQR or Gram accumulation, combined across torch.distributed processes."""
from __future__ import annotations

import torch

from ..utils.validation import SymlieError

__all__ = ["StreamingFactor", "use_distributed"]


# ----------------------------------------------------------------------------------- accumulation
class StreamingFactor:
    """Streams blocks S_b (rows, q) into a q x q factor: R (TSQR) or the Gram matrix, plus scalar sums."""

    def __init__(self, q: int, method: str):
        self.q, self.method = q, method
        self.M = torch.zeros(q, q, dtype=torch.float64)
        self.weight = 0.0
        self.n = 0

    def add(self, block: torch.Tensor) -> None:
        block = block.to(torch.float64)
        if not bool(torch.isfinite(block).all()):
            raise SymlieError("model: the Lie derivative has NaN or Inf entries on some samples (the model or its "
                              "derivative is not finite there)")
        if self.method == "qr":
            self.M = torch.linalg.qr(torch.cat([self.M, block]), mode="r")[1][: self.q]
        else:
            self.M += block.T @ block

    def reduce(self, extras: torch.Tensor, distributed: bool) -> tuple[torch.Tensor, torch.Tensor, int]:
        """Combine across processes; returns (R with R^T R = S^T S, summed extras, world size)."""
        world = 1
        if distributed:
            import torch.distributed as dist
            world = dist.get_world_size()
            if self.method == "qr":
                parts = [torch.zeros_like(self.M) for _ in range(world)]
                dist.all_gather(parts, self.M.contiguous())
                self.M = torch.linalg.qr(torch.cat(parts), mode="r")[1][: self.q]
            else:
                dist.all_reduce(self.M)
            dist.all_reduce(extras)
        if self.method == "qr":
            return self.M, extras, world
        ev, U = torch.linalg.eigh(0.5 * (self.M + self.M.T))
        return ev.clamp(min=0).sqrt()[:, None] * U.T, extras, world


def use_distributed(distributed) -> bool:
    if distributed not in ("auto", True, False):
        raise ValueError(f"distributed: expected 'auto', True or False, got {distributed!r}")
    avail = torch.distributed.is_available() and torch.distributed.is_initialized()
    if distributed is True and not avail:
        raise SymlieError("distributed=True but torch.distributed is not initialised (call "
                          "torch.distributed.init_process_group first)")
    return bool(avail) if distributed == "auto" else bool(distributed)

