"""Helpers shared by the benchmark scripts (run as ``python benchmarks/NAME.py``, so this directory is on
sys.path): thread pinning, medians and summaries of timings, time formatting, the load average, and Linux
peak-RSS bookkeeping. Imports nothing heavy, so scripts may use it before numpy is imported."""
from __future__ import annotations

import math
import os
import statistics


def early_threads(argv) -> str:
    """Pin BLAS / OpenMP threads to the value of ``--threads`` (default 1) before numpy is imported."""
    n = "1"
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            n = argv[i + 1]
        elif a.startswith("--threads="):
            n = a.split("=", 1)[1]
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, n)
    return n


def fmt_s(t: float) -> str:
    """A duration in us / ms / s with three significant digits."""
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def loadavg_line(env: dict) -> str:
    """The markdown line with the load averages at the start and end of a run."""
    return "Load average (1, 5, 15 min) at start / end: " + " / ".join(
        ", ".join(f"{v:.2f}" for v in la) if la else "n/a" for la in (env.get("loadavg_start"), env.get("loadavg_end")))


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


def jf(v):
    """JSON-safe scalar: None, bool and str kept, integers as int, non-finite floats as "inf" / "-inf" / "nan"."""
    import numpy as np   # lazily: this module is imported before numpy by the thread pinning
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    return v if math.isfinite(v) else ("inf" if v > 0 else ("-inf" if v < 0 else "nan"))


def clean(o):
    """JSON-safe copy of nested dicts / lists / tuples with floats rounded to 6 significant digits."""
    import numpy as np
    if isinstance(o, dict):
        return {k: clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [clean(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return jf(float(f"{float(o):.6g}")) if math.isfinite(float(o)) else jf(o)
    return jf(o) if isinstance(o, (int, np.integer)) and not isinstance(o, bool) else o


def fmt(v, digits: int = 3) -> str:
    """A number with ``digits`` significant digits; "-" for None or NaN."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.{digits}g}"


def render_markdown(json_path, write_markdown) -> int:
    """The ``--render`` branch of a script: re-write the markdown next to a JSON result file; returns 0."""
    import json
    write_markdown(json.loads(json_path.read_text()), json_path.with_suffix(".md"))
    print(f"wrote {json_path.with_suffix('.md')}")
    return 0


def run_environment(**extra) -> dict:
    """The machine and versions a result file records (torch, numpy, symlie, Python, platform, CPUs, threads,
    working directory, load average at the start), plus ``extra``. Imports torch and numpy here, lazily."""
    import platform

    import numpy as np
    import torch

    import symlie as sl
    env = {"torch": torch.__version__, "numpy": np.__version__, "symlie": sl.__version__,
           "python": platform.python_version(), "platform": platform.platform(),
           "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
           "torch_threads": torch.get_num_threads(), "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS"),
           "cwd": os.getcwd(), "loadavg_start": loadavg()}
    env.update(extra)
    return env
