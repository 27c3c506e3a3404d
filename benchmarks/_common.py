"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``, so this directory is on
sys.path): medians and summaries of timings, the load average, and Linux peak-RSS bookkeeping."""
from __future__ import annotations

import os
import statistics


def med(xs) -> float:
    return float(statistics.median(xs))


def summary(xs) -> dict:
    return {"median_s": med(xs), "min_s": float(min(xs)), "max_s": float(max(xs)), "all_s": [float(t) for t in xs]}


def loadavg() -> list[float] | None:
    try:
        return [float(v) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - non-POSIX
        return None


def proc_status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False
