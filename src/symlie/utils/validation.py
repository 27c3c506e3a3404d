"""Input validation shared by every public entry point.

Every check raises an exception that names the offending argument and says what was expected.
Conversions are explicit and lossless: integer and boolean arrays become float64, floating arrays keep
their dtype unless a dtype is requested, and complex arrays are refused.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .errors import NotClosedError, SymlieError  # noqa: F401 - re-exported: the classes live in utils.errors

DEFAULT_DTYPE = torch.float64

__all__ = ["as_tensor", "as_matrix_stack", "check_finite", "check_int", "check_weights", "make_generator",
           "SymlieError", "NotClosedError", "count_distinct_rows"]




def _describe(x: Any) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)} and dtype {x.dtype}"
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__}"


def as_tensor(x: Any, name: str, *, dtype: torch.dtype | None = None, ndim: int | Sequence[int] | None = None,
              finite: bool = True, device: torch.device | None = None) -> torch.Tensor:
    """Convert ``x`` to a floating torch tensor and validate it.

    Args:
        x: tensor, numpy array or nested sequence.
        name: the argument name used in error messages.
        dtype: requested floating dtype. ``None`` keeps a floating input's dtype and turns integer or
            boolean input into float64 (lossless).
        ndim: allowed number of dimensions (an int or a collection of ints).
        finite: refuse NaN and Inf entries.
        device: move to this device when given.
    """
    if isinstance(x, torch.Tensor):
        t = x
    else:
        try:
            arr = np.asarray(x)
        except Exception as exc:  # pragma: no cover - exotic objects
            raise TypeError(f"{name}: expected an array-like of numbers, got {_describe(x)}") from exc
        if arr.dtype == object:
            raise TypeError(f"{name}: expected a numeric array, got an object array (ragged or non-numeric entries)")
        if arr.dtype.kind in "US":
            raise TypeError(f"{name}: expected a numeric array, got strings")
        t = torch.from_numpy(np.ascontiguousarray(arr))
    if t.is_complex():
        raise TypeError(f"{name}: complex values are not supported (got {t.dtype}); pass real arrays")
    if not t.is_floating_point():
        t = t.to(torch.float64)
    if dtype is not None:
        if not dtype.is_floating_point:
            raise TypeError(f"dtype must be a floating torch dtype, got {dtype}")
        t = t.to(dtype)
    if device is not None:
        t = t.to(device)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if t.ndim not in allowed:
            want = " or ".join(str(a) for a in allowed)
            raise ValueError(f"{name}: expected {want} dimensions, got shape {tuple(t.shape)}")
    if finite:
        check_finite(t, name)
    return t


def check_finite(t: torch.Tensor, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` if ``t`` has NaN or Inf entries.

    A finite sum proves every entry finite without allocating a mask (large inputs stay at their own size);
    only when the sum is not finite (a bad entry, or an overflow of huge finite values) is the mask built.
    """
    t = t.detach()   # values only; also keeps the check out of torch.func transforms (no Python decompositions)
    if t.numel() and not bool(torch.isfinite(t.sum())) and not bool(torch.isfinite(t).all()):
        bad = (~torch.isfinite(t)).sum().item()
        raise ValueError(f"{name}: contains {bad} NaN or Inf entr{'y' if bad == 1 else 'ies'}")


def as_matrix_stack(x: Any, name: str, *, size: int | None = None, allow_single: bool = True,
                    dtype: torch.dtype | None = DEFAULT_DTYPE) -> torch.Tensor:
    """Validate a stack of square matrices, returning shape (k, d, d).

    A single (d, d) matrix is promoted to (1, d, d) when ``allow_single``.
    """
    t = as_tensor(x, name, dtype=dtype)
    if t.ndim == 2 and allow_single:
        t = t.unsqueeze(0)
    if t.ndim != 3:
        raise ValueError(f"{name}: expected a stack of square matrices of shape (k, d, d)"
                         f"{' or a single (d, d) matrix' if allow_single else ''}, got shape {tuple(t.shape)}")
    if t.shape[-1] != t.shape[-2]:
        raise ValueError(f"{name}: matrices must be square, got shape {tuple(t.shape)}")
    if size is not None and t.shape[-1] != size:
        raise ValueError(f"{name}: expected {size}x{size} matrices, got {t.shape[-2]}x{t.shape[-1]}")
    return t


def check_int(value, name: str, minimum: int | None = 0, *, allow_none: bool = False) -> int:
    """``value`` as an int >= ``minimum`` (``None``: any int); bools, floats and other types are refused with a
    ValueError naming ``name`` (the one integer validator of symlie). ``allow_none`` lets ``None`` through."""
    if value is None and allow_none:
        return value  # type: ignore[return-value]
    if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
        want = "an int" if minimum is None else f"an int >= {minimum}"
        raise ValueError(f"{name}: expected {want}{' or None' if allow_none else ''}, got {value!r}")
    return value


def make_generator(seed: int | torch.Generator | None) -> torch.Generator:
    """A ``torch.Generator`` from a seed, an existing generator, or ``None`` (seed 0, never global state)."""
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    g.manual_seed(0 if seed is None else int(seed))
    return g


def check_weights(weights, n: int, *, normalize: bool = False, dtype: torch.dtype = DEFAULT_DTYPE,
                  name: str = "weights") -> torch.Tensor | None:
    """Validate sample weights: (n,) finite, non-negative, with a positive sum.

    ``weights=None`` returns None, or uniform weights 1/n when ``normalize``; ``normalize`` divides by the sum.
    """
    if weights is None:
        return torch.full((n,), 1.0 / n, dtype=dtype) if normalize else None
    w = as_tensor(weights, name, ndim=1).to(dtype)
    if w.shape[0] != n:
        raise ValueError(f"{name}: expected one weight per sample ({n}), got {w.shape[0]}")
    if bool((w < 0).any()):
        raise ValueError(f"{name}: must be non-negative")
    total = float(w.sum())
    if not total > 0:
        raise ValueError(f"{name}: the total weight is zero (expected {n} non-negative weights with a positive sum)")
    return w / total if normalize else w


def count_distinct_rows(x: torch.Tensor) -> int:
    """Number of distinct rows of a 2-D tensor (repeated samples add no information), counted as the distinct
    values of a fixed generic projection of the rows: a 1-D sort, much cheaper than sorting rows; two distinct
    rows collide only if their projections agree to the last bit."""
    if x.shape[0] <= 1:
        return int(x.shape[0])
    u = torch.rand(x.shape[1], generator=torch.Generator().manual_seed(1234), dtype=torch.float64) + 0.5
    return int(torch.unique(x.to(torch.float64) @ u.to(x.device)).shape[0])
