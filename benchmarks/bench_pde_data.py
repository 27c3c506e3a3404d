"""Benchmark: generating the PDE data sets of symlie.datasets.pde in the Ko et al. and LieNLSD presets.

Run from the repository root:

    .venv/bin/python benchmarks/bench_pde_data.py            # full run: Ko 16 / LieNLSD 10 trajectories, 3 repeats
    .venv/bin/python benchmarks/bench_pde_data.py --quick    # one repeat, Ko 4 / LieNLSD 2 trajectories

Writes benchmarks/results/pde_data.json and pde_data.md (``--quick``: pde_data_quick.json / .md).

For every equation (kdv, ks, heat, burgers, nkdv, ckdv) and preset (ko, lienlsd):
  * time: wall time of ``generate(equation, n_traj, preset, seed=0)`` (median over the repeats), and per trajectory;
  * residual: ``pde_residual`` (max over x and the interior times of |u_t - rhs| / max |u_t|, u_t by a 4th-order
    central difference in t, rhs by spectral x-derivatives, the equation's time factors included) of the first 2
    trajectories re-generated with the same seed and internal step but saved at every internal step (``nt`` and
    ``keep`` multiplied, ``substeps`` divided by the same factor; for the exact heat / Burgers solutions 8 times
    finer saves); it includes the t-difference error ~ step^4 and, for data whose fronts are barely resolved on the
    grid (Burgers at nu = 0.01 on 256 points), the error of spectral differentiation;
  * step error: max |u - u'| / max |u| of the first 2 trajectories against a run with twice the substeps (an
    estimate of the time-stepping error of the data; 0 by construction for the exact heat / Burgers evaluations).
Timings are single-process wall times with torch.set_num_threads(--threads, default 1).
"""
from __future__ import annotations

import sys

from _common import early_threads, fmt_s, loadavg, loadavg_line, summary

early_threads(sys.argv)

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

import symlie as sl  # noqa: E402
from symlie.datasets import EQUATIONS, PRESETS, generate, pde_residual  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
EXACT = ("heat", "burgers")


def residual_run(eq: str, preset: str) -> tuple[float, float, int]:
    """Residuals (full, dealiased) of the first 2 trajectories saved at every internal step (exact solutions: 8x
    finer saves)."""
    p = PRESETS[preset][eq]
    sub = int(p.get("substeps", 1))
    f = 8 if eq in EXACT else sub
    kw = dict(nt=(p["nt"] - 1) * f + 1, keep=(p["keep"] - 1) * f + 1)
    if eq not in EXACT:
        kw["substeps"] = sub // f
    s = generate(eq, 2, preset, seed=0, progress=False, **kw)
    return float(pde_residual(s).max()), float(pde_residual(s, dealiased=True).max()), f


def step_error(eq: str, preset: str, u: torch.Tensor) -> tuple[float | None, float | None]:
    """(over the kept window, at its first time) max |u - u'| / max |u| against twice the substeps."""
    if eq in EXACT:
        return None, None
    sub = int(PRESETS[preset][eq].get("substeps", 1))
    v = generate(eq, 2, preset, seed=0, progress=False, substeps=2 * sub).u
    d = (u[:2] - v).abs()
    return (float((d.amax((1, 2)) / v.abs().amax((1, 2))).max()),
            float((d[:, 0].amax(1) / v[:, 0].abs().amax(1)).max()))


def _err(r) -> str:
    if r["step_error_vs_2x_substeps"] is None:
        return "- (exact)"
    return f"{r['step_error_vs_2x_substeps']:.1e} ({r['step_error_first_kept_time']:.1e})"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ko-traj", type=int, default=None, help="trajectories per Ko run (default 16; quick 4)")
    ap.add_argument("--lienlsd-traj", type=int, default=None, help="per LieNLSD run (default 10; quick 2)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    reps = 1 if args.quick else args.repeats
    n_traj = {"ko": args.ko_traj or (4 if args.quick else 16),
              "lienlsd": args.lienlsd_traj or (2 if args.quick else 10)}
    load0 = loadavg()
    t_start = time.perf_counter()
    rows = []
    for preset in ("ko", "lienlsd"):
        for eq in EQUATIONS:
            B = n_traj[preset]
            times = []
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for _ in range(reps):
                    t0 = time.perf_counter()
                    s = generate(eq, B, preset, seed=0, progress=False)
                    times.append(time.perf_counter() - t0)
            res, res_d, f = residual_run(eq, preset)
            err, err0 = step_error(eq, preset, s.u)
            p = s.params
            row = {"preset": preset, "equation": eq, "rhs": EQUATIONS[eq], "n_traj": B, "shape": list(s.u.shape),
                   "t_kept": [float(s.t[0]), float(s.t[-1])], "dt": p["dt"], "method": p["method"],
                   "substeps": p.get("substeps"), "step": p.get("step"), "nu": p.get("nu"),
                   "time": summary(times), "s_per_traj": summary(times)["median_s"] / B,
                   "max_abs_u": float(s.u.abs().max()), "finite": bool(torch.isfinite(s.u).all()),
                   "blowup_traj": p["blowup_traj"], "warnings": [str(w.message) for w in caught],
                   "residual": res, "residual_dealiased": res_d, "residual_save_factor": f, "step_error_vs_2x_substeps": err,
                   "step_error_first_kept_time": err0}
            rows.append(row)
            print(f"[{preset}] {eq:8s} {tuple(s.u.shape)} {fmt_s(row['time']['median_s'])} "
                  f"({fmt_s(row['s_per_traj'])}/traj) residual {res:.2e} / {res_d:.2e} step error "
                  f"{'-' if err is None else f'{err:.1e}'}", flush=True)
    cmd = "cd /work/main && .venv/bin/python " + " ".join(shlex.quote(a) for a in ["benchmarks/bench_pde_data.py"]
                                                           + sys.argv[1:])
    meta = {"command": cmd, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "torch": torch.__version__, "symlie": sl.__version__,
            "platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "quick": args.quick, "repeats": reps, "n_traj": n_traj, "loadavg_start": load0, "loadavg_end": loadavg(),
            "total_wall_s": time.perf_counter() - t_start}
    out = {"benchmark": "pde_data", "meta": meta, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    stem = "pde_data_quick" if args.quick else "pde_data"
    (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=2))
    L = ["# PDE data generation (symlie.datasets.pde)", "",
         f"Command: `{cmd}`  ", f"Date: {meta['date']}; total wall time {meta['total_wall_s']:.0f} s  ",
         f"python {meta['python']}, torch {meta['torch']}, symlie {meta['symlie']}; {meta['platform']}, "
         f"{meta['cpus']} CPUs, torch threads {meta['torch_threads']}, float64  ",
         f"Repeats: {reps} (median). {loadavg_line(meta)}", "",
         "time: `generate(equation, n_traj, preset, seed=0)`. residual: max |u_t - rhs| / max |u_t| of 2 "
         "trajectories saved at every internal step (4th-order central difference in t, spectral in x; exact "
         "heat / Burgers: 8x finer saves); \"2/3 modes\": only the modes the 2/3-rule solver evolves "
         "(`pde_residual(s, dealiased=True)`), which checks the solver; the full residual also measures how well "
         "the preset's grid resolves the solution. step error: max |u - u'| / max |u| against twice the "
         "substeps.", "",
         "| preset | equation | u shape | kept t | method | internal step | time | per trajectory | max abs u "
         "| residual | residual, 2/3 modes | step error (first kept t) | blow-ups |",
         "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        step = "exact" if r["step"] is None else f"{r['step']:.4g}"
        if r["equation"] == "nkdv" and r["step"] is not None:
            step += " (in s)"
        L.append(f"| {r['preset']} | {r['equation']} | {tuple(r['shape'])} | [{r['t_kept'][0]:.4g}, "
                 f"{r['t_kept'][1]:.4g}] | {r['method']} | {step} | {fmt_s(r['time']['median_s'])} | "
                 f"{fmt_s(r['s_per_traj'])} | {r['max_abs_u']:.3g} | {r['residual']:.1e} | {r['residual_dealiased']:.1e} | "
                 f"{_err(r)} | {len(r['blowup_traj'])} |")
    L += ["", "Where the full residual is large and the 2/3-mode one small, the preset's grid under-resolves the "
          "solution, not the solver: KdV / nKdV in the Ko setting (256 points on L = 128; the solitons' u u_x has "
          "content beyond the 2/3 cutoff; on 512 points the full KdV residual drops ~25x), and Burgers at nu = 0.01 "
          "on 256 points, whose values are exact (Cole-Hopf, Hopf formula in log space) but whose fronts are a few "
          "grid points wide (on 1024 points the residual is ~1e-8, tests/datasets/test_pde_data.py). KS is "
          "chaotic: its step error grows along the run (the value at the first kept time in parentheses).", ""]
    (RESULTS / f"{stem}.md").write_text("\n".join(L))
    print("\n".join(L))


if __name__ == "__main__":
    main()
