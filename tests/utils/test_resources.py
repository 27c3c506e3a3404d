"""Tests of symlie.utils.resources: the memory limit (a parameter at three levels), the refusal message, and
oom_guard turning allocator failures into ResourceError."""
from __future__ import annotations

import random
import threading

import pytest
import torch

from symlie.utils import ResourceError, SymlieError
from symlie.utils.resources import (call_limit, check_memory, format_bytes, get_memory_limit, memory_limit,
                                    oom_guard, set_memory_limit)


def test_format_bytes_covers_every_scale_and_huge_integers():
    assert format_bytes(12) == "12 B"
    assert format_bytes(5e9) == "5 GB"
    assert format_bytes(5748226965833910272) == "5.75 EB"
    assert format_bytes(3 ** 2000).startswith("about 10^954")      # too large for a float
    assert format_bytes(float("inf")) == "an unbounded amount"


def test_refusal_names_the_size_the_limit_and_the_hint():
    with pytest.raises(ResourceError) as ei:
        check_memory(5e9, "a thing", hint="do something smaller", max_bytes=1e9)
    msg = str(ei.value)
    assert "a thing needs about 5 GB" in msg and "memory limit of 1 GB" in msg and "do something smaller" in msg
    assert ei.value.nbytes == 5 * 10 ** 9 and ei.value.limit == 10 ** 9 and ei.value.what == "a thing"
    # a ResourceError is a SymlieError (so a ValueError, which the CLI prints) and a MemoryError
    assert isinstance(ei.value, SymlieError) and isinstance(ei.value, ValueError) and isinstance(ei.value, MemoryError)


def test_refusal_iff_above_the_limit_property():
    rng = random.Random(0)
    for _ in range(200):
        limit = rng.randint(1, 10 ** 12)
        n = rng.randint(0, 2 * 10 ** 12)
        if n > limit:
            with pytest.raises(ResourceError):
                check_memory(n, "x", max_bytes=limit)
        else:
            check_memory(n, "x", max_bytes=limit)
    check_memory(10 ** 400, "y", max_bytes=10 ** 401)               # exact integers of any size compare exactly
    with pytest.raises(ResourceError, match="about 10"):
        check_memory(10 ** 400, "y")


def test_the_limit_is_a_parameter_at_every_level(monkeypatch):
    monkeypatch.delenv("SYMLIE_MAX_BYTES", raising=False)
    default = get_memory_limit()
    assert default > 0
    monkeypatch.setenv("SYMLIE_MAX_BYTES", "1e6")
    assert get_memory_limit() == 10 ** 6
    with memory_limit(2000):
        assert get_memory_limit() == 2000
        with call_limit(5000):                                      # an entry point's max_bytes= wins inside it
            assert get_memory_limit() == 5000
        with call_limit(None):
            assert get_memory_limit() == 2000
    assert get_memory_limit() == 10 ** 6
    set_memory_limit(3000)
    try:
        assert get_memory_limit() == 3000
    finally:
        set_memory_limit(None)
    monkeypatch.setenv("SYMLIE_MAX_BYTES", "lots")
    with pytest.raises(ValueError, match="SYMLIE_MAX_BYTES"):
        get_memory_limit()
    monkeypatch.delenv("SYMLIE_MAX_BYTES")
    assert get_memory_limit() == default
    for bad in (0, -1, float("nan"), float("inf"), True, "1"):
        with pytest.raises(ValueError):
            set_memory_limit(bad)
        with pytest.raises(ValueError, match="max_bytes"):
            check_memory(1, "x", max_bytes=bad)


def test_call_limit_is_local_to_the_thread():
    seen = []
    with call_limit(1234):
        t = threading.Thread(target=lambda: seen.append(get_memory_limit()))
        t.start()
        t.join()
        assert get_memory_limit() == 1234
    assert seen and seen[0] != 1234


ALLOC = "DefaultCPUAllocator: not enough memory: you tried to allocate 5748226965833910272 bytes."


@pytest.mark.parametrize("make", [lambda: RuntimeError(ALLOC), lambda: MemoryError(),
                                  lambda: RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")]
                         + ([lambda: torch.OutOfMemoryError("CUDA out of memory")]
                            if hasattr(torch, "OutOfMemoryError") else []))
def test_oom_guard_turns_allocator_failures_into_resource_errors(make):
    exc = make()
    with pytest.raises(ResourceError) as ei:
        with oom_guard("the Jacobian", "pass a smaller batch_size="):
            raise exc
    msg = str(ei.value)
    assert "the Jacobian: ran out of memory" in msg and "batch_size" in msg
    assert ei.value.__cause__ is exc


@pytest.mark.parametrize("exc", [RuntimeError("shapes do not match"), ValueError("bad"), KeyError("k"),
                                 ResourceError("already refused")])
def test_oom_guard_lets_other_errors_through(exc):
    with pytest.raises(type(exc)) as ei:
        with oom_guard("x", "y"):
            raise exc
    assert ei.value is exc
