"""Automatic-differentiation back-ends of the Lie derivative: how DF(x) v_xi(x) is obtained.

``tangent``: one forward-mode pass along v_xi per generator (q jvps on the q-fold tiled input); ``jacfwd``: the
Jacobian DF by n_in forward-mode passes, then contracted with every v_xi; ``jacrev``: the Jacobian by one
reverse pass per output (n_out vjps of one forward pass). :func:`resolve_autodiff` picks the cheapest.
"""
from __future__ import annotations

from typing import Callable

import torch

__all__ = ["AUTODIFF_MODES", "resolve_autodiff", "autodiff_costs", "jacobian_chunk", "check_output", "probe_n_out"]


AUTODIFF_MODES = ("auto", "tangent", "jacfwd", "jacrev")


def resolve_autodiff(mode: str, q: int, n_in: int, n_out: int | None) -> str:
    """Resolve ``autodiff="auto"``: the cheapest way to get DF v_xi for q generators.

    Cost model in no-grad forward-pass equivalents over the same samples, measured on SiLU MLPs of width 128
    in float64 on one thread (benchmarks/results/discover.md, "autodiff modes"): ``tangent`` ~ 7.5 q (one
    jvp per generator on the q-fold tiled input), ``jacfwd`` ~ 7 n_in (jvps along the coordinate axes, then
    contracted with every v_xi), ``jacrev`` ~ 1.5 + 1.5 n_out (one forward with graph, one backward per
    output). Only the ratios matter. ``n_out=None`` (unknown) rules out ``jacrev``.
    """
    if mode != "auto":
        return mode
    costs = autodiff_costs(q, n_in, n_out)
    return min(costs, key=costs.get)  # type: ignore[arg-type]


def autodiff_costs(q: int, n_in: int, n_out: int | None) -> dict[str, float]:
    """The cost model of :func:`resolve_autodiff` (forward-pass equivalents per mode)."""
    costs = {"tangent": 7.5 * q, "jacfwd": 7.0 * n_in}
    if n_out is not None:
        costs["jacrev"] = 1.5 + 1.5 * n_out
    return costs


def jacobian_chunk(f: Callable, xc: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(F(xc) (n, n_out), DF(xc) (n, n_out, n_in), flat) for a chunk of samples, by forward or reverse mode."""
    n, n_in = xc.shape
    if mode == "jacfwd":
        eye = torch.eye(n_in, dtype=xc.dtype, device=xc.device)
        xr = xc.unsqueeze(0).expand(n_in, n, n_in).reshape(n_in * n, n_in).contiguous()
        tr = eye[:, None, :].expand(n_in, n, n_in).reshape(n_in * n, n_in)
        y, dy = torch.func.jvp(f, (xr,), (tr,))  # type: ignore[misc]
        check_output(y, n_in * n, n_in)
        flat = y.ndim == 1
        if flat:
            y, dy = y.unsqueeze(-1), dy.unsqueeze(-1)
        y = y.reshape(n_in, n, -1)[0]
        J = dy.reshape(n_in, n, -1).permute(1, 2, 0)                   # (n, n_out, n_in)
        return y, J, flat
    y, vjp_fn = torch.func.vjp(f, xc.contiguous())  # type: ignore[misc]
    check_output(y, n, n_in)
    flat = y.ndim == 1
    if flat:
        (g,) = vjp_fn(torch.ones_like(y))
        return y.unsqueeze(-1), g.unsqueeze(1), True
    rows = []
    for a in range(y.shape[1]):
        ct = torch.zeros_like(y)
        ct[:, a] = 1.0
        rows.append(vjp_fn(ct)[0])
    return y, torch.stack(rows, 1), False


def check_output(y, rows: int, n_in: int) -> None:
    if not isinstance(y, torch.Tensor) or y.shape[0] != rows or y.ndim not in (1, 2):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"f: expected output of shape (N,) or (N, n_out) for input of shape {(rows, n_in)}, got {got}")


def probe_n_out(f: Callable, x: torch.Tensor) -> int:
    with torch.no_grad():
        y = f(x[:1])
    check_output(y, 1, x.shape[1])
    return 1 if y.ndim == 1 else y.shape[1]
