"""Resource estimates: refuse a request before allocating more memory than the limit allows.

Every entry point that can be asked for an object whose size grows fast with its arguments (``gl(n)``
generators, polynomial libraries, tensor representations, dense constraint matrices, unbatched Jacobians)
estimates the bytes first and calls :func:`check_memory`, which raises :class:`ResourceError` with the size,
the limit and what to do instead. The limit is a parameter: ``max_bytes=`` where an entry point takes it, else
the process-wide limit of :func:`set_memory_limit` / the :func:`memory_limit` context manager / the
``SYMLIE_MAX_BYTES`` environment variable, else half of the machine's physical memory.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import os
from typing import Iterator

import torch

from .errors import ResourceError

__all__ = ["check_memory", "get_memory_limit", "set_memory_limit", "memory_limit", "format_bytes", "dtype_bytes",
           "oom_guard", "call_limit"]

_LIMIT: int | None = None
# the limit of the entry point being run (its max_bytes=), for the checks of everything it calls; per thread / task
_CALL_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar("symlie_call_limit", default=None)


def format_bytes(n: float) -> str:
    """``n`` bytes as a short human-readable string (``'65.6 GB'``); exact integers of any size are accepted."""
    if isinstance(n, int) and n.bit_length() > 1000:      # too large for a float: an order of magnitude
        return f"about 10^{int(n.bit_length() * math.log10(2))} B"
    if not math.isfinite(n):
        return "an unbounded amount"
    if n >= 1e21:
        return f"{n:.3g} B"
    for unit, scale in (("EB", 1e18), ("PB", 1e15), ("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


@functools.lru_cache(maxsize=1)
def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 10 ** 9


def _parse_limit(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0 or \
            (isinstance(value, float) and not math.isfinite(value)):
        raise ValueError(f"{name}: expected a positive number of bytes, got {value!r}")
    return int(value)


def get_memory_limit() -> int:
    """The memory limit in bytes: the ``max_bytes=`` of the entry point being run (:func:`call_limit`), else the
    process-wide limit (see the module docstring for the order of precedence)."""
    call = _CALL_LIMIT.get()
    if call is not None:
        return call
    if _LIMIT is not None:
        return _LIMIT
    env = os.environ.get("SYMLIE_MAX_BYTES")
    if env:
        try:
            return _parse_limit(float(env), "SYMLIE_MAX_BYTES")
        except ValueError:
            raise ValueError(f"SYMLIE_MAX_BYTES: expected a positive number of bytes, got {env!r}") from None
    return _physical_memory() // 2


def set_memory_limit(nbytes: int | float | None) -> None:
    """Set the process-wide limit in bytes (``None`` restores the default)."""
    global _LIMIT
    _LIMIT = None if nbytes is None else _parse_limit(nbytes, "nbytes")


@contextlib.contextmanager
def memory_limit(nbytes: int | float | None) -> Iterator[None]:
    """Context manager: the process-wide limit is ``nbytes`` inside the block."""
    global _LIMIT
    old = _LIMIT
    set_memory_limit(nbytes)
    try:
        yield
    finally:
        _LIMIT = old


@contextlib.contextmanager
def call_limit(max_bytes: int | float | None) -> Iterator[None]:
    """Context manager used by entry points with a ``max_bytes=`` argument: inside the block (this thread or task
    only) every estimate, including those of the functions the entry point calls, is checked against
    ``max_bytes``; ``None`` changes nothing (the process-wide limit applies)."""
    if max_bytes is None:
        yield
        return
    token = _CALL_LIMIT.set(_parse_limit(max_bytes, "max_bytes"))
    try:
        yield
    finally:
        _CALL_LIMIT.reset(token)


def dtype_bytes(dtype: torch.dtype | None = None) -> int:
    """Bytes per element of a torch dtype (float64 when ``None``)."""
    return (dtype or torch.float64).itemsize


def check_memory(nbytes: float, what: str, *, hint: str = "", max_bytes: int | float | None = None) -> None:
    """Raise :class:`ResourceError` when ``nbytes`` (an estimate, may be a float or inf) exceeds the limit.

    Args:
        nbytes: the estimated size of the allocation(s) about to be made.
        what: what would be allocated, e.g. ``"gl(300): 90000 generators of 300x300"``.
        hint: what to do instead (a structured or sparse method, a smaller degree, a batch size).
        max_bytes: this call's limit; ``None`` uses :func:`get_memory_limit`.
    """
    limit = get_memory_limit() if max_bytes is None else _parse_limit(max_bytes, "max_bytes")
    if nbytes > limit:
        size = format_bytes(nbytes)
        if not size.startswith(("about ", "an ")):
            size = "about " + size
        msg = (f"{what} needs {size}, above the memory limit of {format_bytes(limit)} "
               f"(max_bytes=, symlie.utils.set_memory_limit or SYMLIE_MAX_BYTES)")
        if hint:
            msg += f"; {hint}"
        raise ResourceError(msg, nbytes=int(min(nbytes, 2 ** 63 - 1)), limit=limit, what=what)


def _is_oom(exc: BaseException) -> bool:
    if isinstance(exc, ResourceError):
        return False
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    msg = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in msg or "tried to allocate" in msg
                                              or "DefaultCPUAllocator" in msg or "not enough memory" in msg)


@contextlib.contextmanager
def oom_guard(what: str, hint: str) -> Iterator[None]:
    """Turn an allocator failure inside the block (``MemoryError``, torch's ``OutOfMemoryError`` or its CPU
    allocator's ``RuntimeError``) into a :class:`ResourceError` that says what failed and what to do (``hint``,
    e.g. a smaller ``batch_size``)."""
    try:
        yield
    except BaseException as exc:
        if not _is_oom(exc):
            raise
        first = (str(exc).splitlines() or [type(exc).__name__])[0][:160]
        raise ResourceError(f"{what}: ran out of memory ({first}); {hint}",
                            what=what) from exc
