"""Benchmark: symlie's batched Lie derivative and structured tensor representations.

Run from the repository root:

    .venv/bin/python benchmarks/bench_lie_derivative.py            # full run (a few minutes)
    .venv/bin/python benchmarks/bench_lie_derivative.py --quick    # reduced run (< 20 s)

Writes benchmarks/results/lie_derivative.json (everything, including the raw timings) and
benchmarks/results/lie_derivative.md (a short table and a reading of the numbers).

Part 1, the Lie derivative of a torch MLP over all 9 generators of gl(3):
  * ``sl.lie_derivative``: one forward-mode pass (torch.func.jvp) over all (generator, point) pairs;
  * the per-sample reverse-mode loop of LieSD-style research scripts: for each sample one forward pass and
    one ``torch.autograd.grad`` per output component (what ``torch.autograd.functional.jacobian`` does with
    vectorize=False, minus its extra forward pass), then contraction of the Jacobian with every generator's
    vector field and subtraction of drho_out(A) F. Written in plain torch, independently of symlie.
  The loop is timed on a subset of the points and extrapolated linearly per sample when N is larger
  ("loop_extrapolated": true in the JSON). Both methods are timed in interleaved repeats, so that a burst of
  load from other processes hits both; speed-ups are medians of the per-repeat ratios.
  Peak memory: the peak resident set size (VmHWM, the kernel counter behind ru_maxrss) of a fresh child
  process, reset just before one call and compared with the RSS before it (tracemalloc would not see torch's
  C++ allocations; a plain ru_maxrss delta can be hidden by the parent's peak, which Linux carries over exec).

Part 2, drho of the 3 basis elements of so(3) on 64 vectors of TensorRep(SO(3), p, p), p = 1..4:
  structured ``rep.apply_drho(X, v)`` versus the dense matrices ``rep.drho(X)`` (3, s, s) and a batched
  matmul, timed with and without forming the matrices.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch

import symlie as sl

from _common import fmt_s, loadavg, med, proc_status_kib as _proc_status_kib, reset_peak_rss as _reset_peak_rss, summary  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DTYPE = torch.float64

# ---------------------------------------------------------------------------------------------- models


MODELS = {
    # name: (n_in, n_out, description)
    "invariant": (3, 1, "MLP 3->64->64->1 (tanh), rep_in = V (3-vector), invariant scalar output"),
    "vector": (6, 3, "MLP 6->64->64->3 (tanh), rep_in = V + V (two 3-vectors), rep_out = V"),
}


def make_model(name: str, seed: int = 0) -> torch.nn.Module:
    n_in, n_out, _ = MODELS[name]
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Linear(n_in, 64), torch.nn.Tanh(),
        torch.nn.Linear(64, 64), torch.nn.Tanh(),
        torch.nn.Linear(64, n_out),
    ).to(DTYPE)


def make_points(name: str, N: int, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, MODELS[name][0], generator=g, dtype=DTYPE)


def symlie_call(name: str, G: sl.Group):
    """A function (model, x, batch_size) -> (q, N, n_out) computing L_A F with sl.lie_derivative."""
    if name == "invariant":
        return lambda model, x, batch_size="auto": sl.lie_derivative(model, G, x, batch_size=batch_size)
    rep_in, rep_out = sl.V(G) + sl.V(G), sl.V(G)
    return lambda model, x, batch_size="auto": sl.lie_derivative(model, G, x, rep_in, rep_out, batch_size=batch_size)


def loop_lie_derivative(model: torch.nn.Module, A: torch.Tensor, x: torch.Tensor, vector_out: bool) -> torch.Tensor:
    """The per-sample reverse-mode reference, in plain torch: L[k, i] = J(x_i) v_k(x_i) - drho_out(A_k) F(x_i).

    A: (q, 3, 3) generators of gl(3) acting on each 3-vector block of the input. For the invariant model
    drho_out = 0; for the vector model the output is a 3-vector, drho_out(A_k) = A_k.
    """
    q, n = A.shape[0], x.shape[0]
    n_out = 3 if vector_out else 1
    out = torch.empty(q, n, n_out, dtype=x.dtype)
    for i in range(n):
        xi = x[i].detach().clone().requires_grad_(True)              # (n_in,)
        y = model(xi.unsqueeze(0))[0]                                 # (n_out,)
        rows = [torch.autograd.grad(y[j], xi, retain_graph=j < n_out - 1)[0] for j in range(n_out)]
        J = torch.stack(rows)                                         # (n_out, n_in) Jacobian
        blocks = xi.detach().reshape(-1, 3)                           # the input's 3-vectors
        v = torch.einsum("kab,pb->kpa", A, blocks).reshape(q, -1)     # (q, n_in): v_k(x_i) = A_k x per block
        Li = v @ J.T                                                  # (q, n_out): J v_k
        if vector_out:
            Li = Li - A @ y.detach()                                  # - drho_out(A_k) F(x_i)
        out[:, i] = Li
    return out


# ---------------------------------------------------------------------------------------------- timing


def _timed(fn, inner: int = 1) -> float:
    """Seconds per call of fn, averaged over `inner` back-to-back calls.

    Like timeit, the cyclic garbage collector is off while timing; a collection runs before (cheap, because
    main() freezes the objects that exist after importing torch).
    """
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        for _ in range(inner):
            res = fn()
        dt = (time.perf_counter() - t0) / inner
    finally:
        gc.enable()
    del res
    return dt


def time_interleaved(fns: dict, repeats: int, warmup: int = 1, min_sample_s: float = 0.0) -> dict:
    """Run each function warmup times, then `repeats` rounds in which every function runs once.

    Interleaving makes a transient burst of load from other processes affect all contenders alike. Functions
    faster than min_sample_s are called back to back enough times per sample to fill it (a single sub-ms call
    mostly measures waking up the thread pool). Returns {name: [seconds per call, one entry per repeat]}.
    """
    inner = {}
    for k, fn in fns.items():
        t = min(_timed(fn) for _ in range(max(warmup, 1))) if (warmup or min_sample_s) else 0.0
        inner[k] = max(1, int(min_sample_s / t)) if min_sample_s and t > 0 else 1
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k].append(_timed(fn, inner[k]))
    return times


def contention_probe(threads: int, n: int = 2**21, reps: int = 15) -> dict:
    """Is this process getting the CPUs it asks for? Times one parallel elementwise op (2^21 doubles).

    * ratio: median time with `threads` threads over the time with 1 thread. On an idle machine threads help
      (ratio < 1); when other processes occupy the cores every parallel region waits for a descheduled worker
      (a scheduler time slice, several ms) and the ratio jumps far above 1.
    * cpu_share: CPU time of this thread / wall time of the single-threaded op; well below 1 when the core
      is shared.
    Contended: ratio > 1.5 (multi-threaded runs) or cpu_share < 0.7. Then timings measure the neighbours.
    """
    a = torch.ones(n, dtype=DTYPE)
    med_s, share = {}, None
    for t in (threads, 1):
        torch.set_num_threads(t)
        a.mul_(1.0)
        ts = []
        c0 = time.thread_time()
        w0 = time.perf_counter()
        for _ in range(reps):
            t0 = time.perf_counter()
            a.mul_(1.0)
            ts.append(time.perf_counter() - t0)
        if t == 1:
            share = (time.thread_time() - c0) / (time.perf_counter() - w0)
        med_s[t] = med(ts)
    torch.set_num_threads(threads)
    ratio = med_s[threads] / med_s[1]
    return {"threads": threads, "median_ms_threads": med_s[threads] * 1e3, "median_ms_1_thread": med_s[1] * 1e3,
            "ratio": ratio, "cpu_share_1_thread": share, "loadavg": loadavg(),
            "contended": (threads > 1 and ratio > 1.5) or share < 0.7}


# ---------------------------------------------------------------------------------------------- part 1


def bench_lie_derivative(name: str, Ns, args) -> dict:
    G = sl.GL(3)
    A = G.algebra.basis.to(DTYPE)                                    # (9, 3, 3), orthonormal E_ij
    model = make_model(name)
    f_sl = symlie_call(name, G)
    vector_out = MODELS[name][1] > 1
    rows = []
    for N in Ns:
        x = make_points(name, N)
        n_loop = min(N, args.loop_samples)
        xs = x[:n_loop]
        # correctness on the common samples; this run doubles as the first warm-up of both methods
        L_sl = f_sl(model, x).detach()
        L_loop = loop_lie_derivative(model, A, xs, vector_out)
        diff = float((L_sl[:, :n_loop] - L_loop).abs().max())
        scale = float(L_loop.abs().max())
        del L_sl, L_loop
        times = time_interleaved({
            "symlie": lambda: f_sl(model, x),
            "loop": lambda: loop_lie_derivative(model, A, xs, vector_out),
        }, args.repeats, max(args.warmup - 1, 0))
        factor = N / n_loop
        loop_full = [t * factor for t in times["loop"]]
        ratios = [lt / st for lt, st in zip(loop_full, times["symlie"])]
        row = {
            "N": N, "q": A.shape[0], "rows_through_model": A.shape[0] * N,
            "symlie": summary(times["symlie"]),
            "loop_samples_timed": n_loop,
            "loop_extrapolated": n_loop < N,
            "loop_subset": summary(times["loop"]),
            "loop_per_sample_us": med(times["loop"]) / n_loop * 1e6,
            "loop": summary(loop_full),
            "speedup_median_of_ratios": med(ratios),
            "speedup_ratio_of_medians": med(loop_full) / med(times["symlie"]),
            "speedup_ratio_of_minima": min(loop_full) / min(times["symlie"]),
            "max_abs_diff": diff, "max_abs_value": scale, "probe_after": contention_probe(args.threads),
        }
        if n_loop < N <= args.loop_check_max:
            # one untimed-by-repeats run of the loop over all N points: checks the linear extrapolation and
            # the agreement on every point
            t0 = time.perf_counter()
            L_full = loop_lie_derivative(model, A, x, vector_out)
            t_full = time.perf_counter() - t0
            row["loop_full_check"] = {
                "N": N, "single_run_s": t_full, "extrapolated_median_s": row["loop"]["median_s"],
                "measured_over_extrapolated": t_full / row["loop"]["median_s"],
                "max_abs_diff_all_points": float((f_sl(model, x).detach() - L_full).abs().max())}
            del L_full
        rows.append(row)
        print(f"  [{name}] N={N:>7}: symlie {row['symlie']['median_s']:.4f} s, loop "
              f"{row['loop']['median_s']:.4f} s{' (extrapolated from %d samples)' % n_loop if n_loop < N else ''}, "
              f"speed-up x{row['speedup_median_of_ratios']:.1f}, max|diff| {diff:.1e}", flush=True)
        if "loop_full_check" in row:
            c = row["loop_full_check"]
            print(f"  [{name}] N={N:>7}: full loop run once {c['single_run_s']:.3f} s "
                  f"(x{c['measured_over_extrapolated']:.2f} of the extrapolation), max|diff| over all points "
                  f"{c['max_abs_diff_all_points']:.1e}", flush=True)

    out = {"model": name, "description": MODELS[name][2], "algebra": "gl(3)", "q": int(A.shape[0]),
           "by_N": rows}

    # chunked and gradient-free variants at the largest N (the auto-chunked default is the timing above)
    N = Ns[-1]
    x = make_points(name, N)
    B = args.chunk
    # (chunking with gradients enabled is only timed once, in the memory child: it is the slowest variant and
    # its point is memory)
    variants = {} if args.quick else {f"batch_size={B}, torch.no_grad()": lambda: _no_grad(f_sl, model, x, B)}
    times = time_interleaved(variants, args.repeats, args.warmup)
    timings = {"default (batch_size='auto')": rows[-1]["symlie"], **{k: summary(v) for k, v in times.items()}}
    out["variants_at_largest_N"] = {"N": N, "batch_size": B, "timings": timings}
    for k, v in times.items():
        print(f"  [{name}] N={N} {k}: {med(v):.4f} s", flush=True)
    return out


def _no_grad(f_sl, model, x, B):
    with torch.no_grad():
        return f_sl(model, x, B)


def memory_child(spec: dict) -> dict:
    """Run in a fresh process: the peak-RSS increase caused by one sl.lie_derivative call.

    Preferred measure: reset VmHWM (the peak RSS that ru_maxrss reports) to the current RSS, run the call, read
    VmHWM - VmRSS(before) from /proc/self/status. Plain ru_maxrss deltas are unreliable in a child started by a
    big parent: Linux carries the pre-exec peak across fork + exec, which can hide the whole call. Without
    /proc the fallback is the ru_maxrss delta.
    """
    torch.set_num_threads(spec["threads"])
    name, N, B, no_grad = spec["model"], spec["N"], spec["batch_size"], spec["no_grad"]
    G = sl.GL(3)
    model, f_sl = make_model(name), symlie_call(name, G)
    x = make_points(name, N)
    f_sl(model, x[:64])                           # load kernels, build the autograd machinery
    gc.collect()
    use_proc = _reset_peak_rss() and _proc_status_kib("VmHWM") is not None
    if use_proc:
        before = _proc_status_kib("VmRSS")
        method = "VmHWM after - VmRSS before (/proc/self/status, peak reset via /proc/self/clear_refs)"
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        method = "resource.getrusage(RUSAGE_SELF).ru_maxrss delta"
    ctx = torch.no_grad() if no_grad else contextlib.nullcontext()
    t0 = time.perf_counter()
    with ctx:
        L = f_sl(model, x, B)
    dt = time.perf_counter() - t0
    after = _proc_status_kib("VmHWM") if use_proc else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kib = 1 / 1024 if (sys.platform == "darwin" and not use_proc) else 1   # ru_maxrss is bytes on macOS
    return {**spec, "peak_rss_increase_MiB": (after - before) * kib / 1024, "baseline_rss_MiB": before * kib / 1024,
            "method": method, "result_MiB": L.numel() * L.element_size() / 2**20,
            "result_requires_grad": bool(L.requires_grad), "single_call_s": dt}


def bench_memory(name: str, N: int, configs, threads: int) -> list[dict]:
    out = []
    for B, no_grad in configs:
        spec = {"model": name, "N": N, "batch_size": B, "no_grad": no_grad, "threads": threads}
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_memory-child", json.dumps(spec)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            res = {**spec, "error": proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]}
        else:
            res = json.loads(proc.stdout.strip().splitlines()[-1])
        out.append(res)
        if "error" in res:
            print(f"  [{name}] memory N={N} batch_size={B} no_grad={no_grad}: FAILED {res['error']}", flush=True)
        else:
            print(f"  [{name}] memory N={N} batch_size={B} no_grad={no_grad}: +{res['peak_rss_increase_MiB']:.0f} MiB "
                  f"peak RSS (result {res['result_MiB']:.1f} MiB)", flush=True)
    return out


# ---------------------------------------------------------------------------------------------- part 2


def bench_reps(ps, args) -> list[dict]:
    G = sl.SO(3)
    X = G.algebra.basis.to(DTYPE)                                    # (3, 3, 3)
    rows = []
    for p in ps:
        rep = sl.TensorRep(G, p, p)
        s = rep.size
        v = torch.randn(3, args.rep_batch, s, generator=torch.Generator().manual_seed(p), dtype=DTYPE)
        dense_bytes_per_generator = s * s * 8
        row = {"p": p, "rep": f"TensorRep(SO(3), {p}, {p})", "size": s, "batch": args.rep_batch,
               "dense_MB_per_generator": dense_bytes_per_generator / 1e6}
        fns = {"structured": lambda: rep.apply_drho(X, v)}
        if dense_bytes_per_generator <= args.dense_limit_mb * 1e6:
            M = rep.drho(X)                                          # (3, s, s), formed once for "matmul only"
            fns["dense_form_and_matmul"] = lambda: v @ rep.drho(X).mT
            fns["dense_matmul_only"] = lambda: v @ M.mT
            row["max_abs_diff"] = float((rep.apply_drho(X, v) - v @ M.mT).abs().max())
            row["max_abs_value"] = float((v @ M.mT).abs().max())
        else:
            row["dense"] = "dense skipped: memory"
        times = time_interleaved(fns, args.repeats, args.warmup, min_sample_s=args.min_sample_s)
        row["timings"] = {k: summary(t) for k, t in times.items()}
        if "dense_form_and_matmul" in times:
            row["ratio_dense_total_over_structured"] = med(times["dense_form_and_matmul"]) / med(times["structured"])
            row["ratio_dense_matmul_over_structured"] = med(times["dense_matmul_only"]) / med(times["structured"])
            del M
        row["probe_after"] = contention_probe(args.threads)
        rows.append(row)
        msg = ", ".join(f"{k} {med(t) * 1e3:.3f} ms" for k, t in times.items())
        print(f"  p={p} size={s}: {msg}" + (f", max|diff| {row['max_abs_diff']:.1e}" if "max_abs_diff" in row
                                             else ", dense skipped: memory"), flush=True)
    return rows


# ---------------------------------------------------------------------------------------------- report


def _faster(r: float) -> str:
    return f"x{r:.1f} faster than" if r >= 1 else f"x{1 / r:.1f} slower than"


def reading(res: dict) -> str:
    """One paragraph interpreting the numbers of this run (generated, so it follows the data)."""
    inv = {r["N"]: r for r in res["lie_derivative"]["invariant"]["by_N"]}
    vec = {r["N"]: r for r in res["lie_derivative"]["vector"]["by_N"]}
    Ns = sorted(inv)
    lo, hi = Ns[0], Ns[-1]
    sp = lambda d, N: d[N]["speedup_median_of_ratios"]
    extrap = any(r["loop_extrapolated"] for r in list(inv.values()) + list(vec.values()))
    parts = [
        f"The single forward-mode pass of `sl.lie_derivative` is {_faster(sp(inv, lo))} the per-sample reverse-mode "
        f"loop for the invariant model and {_faster(sp(vec, lo))} it for the vector model at N={lo:,}; at "
        f"N={hi:,} the factors are x{sp(inv, hi):.1f} and x{sp(vec, hi):.1f}"
        + (" (loop times extrapolated linearly from a timed subset)." if extrap else ".")
        + f" The loop costs a fixed {inv[hi]['loop_per_sample_us']:.0f} us (invariant) / "
          f"{vec[hi]['loop_per_sample_us']:.0f} us (vector, one backward pass per output component) per sample, "
          "mostly Python and autograd overhead"
        + (", so the vector model gains most." if sp(vec, hi) > sp(inv, hi) and sp(vec, lo) > sp(inv, lo) else ".")
    ]
    checks = [r["loop_full_check"] for d in (inv, vec) for r in d.values() if "loop_full_check" in r]
    if checks:
        parts.append("Running the loop once over all N=" + "/".join(f"{c['N']:,}" for c in checks[:1])
                     + " points took " + " and ".join(f"x{c['measured_over_extrapolated']:.2f}" for c in checks)
                     + " of the extrapolated time (invariant, vector), so the linear extrapolation holds up to "
                       "noise.")
    per_row = lambda d, N: d[N]["symlie"]["median_s"] / N
    grow = {m: per_row(d, hi) / per_row(d, lo) for m, d in (("invariant", inv), ("vector", vec))}
    grown = [m for m, g in grow.items() if g > 1.5]
    if grown:
        parts.append("`sl.lie_derivative` is not linear in N: its time per point grows "
                     + " and ".join(f"x{grow[m]:.1f} ({m})" for m in grown)
                     + f" from N={lo:,} to N={hi:,}: with gradients enabled every chunk's activations and tangents "
                       "stay alive for a possible backward pass, so the working set leaves the cache"
                     + (", which is why the speed-up shrinks with N." if any(
                         sp(d, hi) < sp(d, lo) for m, d in (("invariant", inv), ("vector", vec)) if m in grown)
                        else "."))
    var = {m: res["lie_derivative"][m]["variants_at_largest_N"] for m in ("invariant", "vector")}
    B = var["invariant"]["batch_size"]
    tv = lambda m, k: var[m]["timings"][k]["median_s"]
    base = "default (batch_size='auto')"
    for key, what in ((f"batch_size={B}", "with gradients enabled"),
                      (f"batch_size={B}, torch.no_grad()", "under torch.no_grad()")):
        if key in var["invariant"]["timings"] and key in var["vector"]["timings"]:
            parts.append(
                f"Chunking with batch_size={B} {what} takes {fmt_s(tv('invariant', key))} / "
                f"{fmt_s(tv('vector', key))} (invariant / vector) at N={hi:,}, against "
                f"{fmt_s(tv('invariant', base))} / {fmt_s(tv('vector', base))} with the default (auto-chunked, "
                f"gradients enabled).")
    mem = [r for r in res.get("memory", {}).get("invariant", []) if "peak_rss_increase_MiB" in r]
    if mem:
        label = lambda r: ("default, auto-chunked" if r["batch_size"] == "auto" else f"batch_size={r['batch_size']}") + \
            (" under torch.no_grad()" if r["no_grad"] else " with gradients enabled")
        txt = ", ".join(f"+{r['peak_rss_increase_MiB']:.0f} MiB {label(r)}" for r in mem)
        parts.append(f"Peak memory of one call (invariant model, N={res['memory_N']:,}): {txt}.")
        g = {(r["batch_size"], r["no_grad"]): r["peak_rss_increase_MiB"] for r in mem}
        if ("auto", False) in g and (B, False) in g and g[(B, False)] > 0.5 * g[("auto", False)]:
            parts.append("Chunking does not bound memory while gradients are enabled: the result stays "
                         "differentiable in the model parameters, so the autograd graph keeps every chunk's "
                         "activations alive; it does under torch.no_grad() (or with parameters frozen).")
    reps = res["reps"]
    both = [r for r in reps if "ratio_dense_total_over_structured" in r]
    if both:
        rtxt = "; ".join(f"size {r['size']}: {_faster(r['ratio_dense_total_over_structured'])} form + matmul, "
                         f"{_faster(r['ratio_dense_matmul_over_structured'])} a precomputed matrix" for r in both)
        parts.append(f"For drho on TensorRep(SO(3), p, p), the structured `apply_drho` is ({rtxt})"
                     + "".join(f"; at size {r['size']} it takes {fmt_s(r['timings']['structured']['median_s'])} where "
                               f"the dense matrices would need {3 * r['dense_MB_per_generator']:.0f} MB"
                               for r in reps if "dense" in r) + ".")
    diffs = [r["max_abs_diff"] for d in (inv, vec) for r in d.values()] + [r["max_abs_diff"] for r in both]
    parts.append(f"All methods agree to {max(diffs):.1e} (max abs difference).")
    if res.get("contended"):
        parts.append("Caveat: the contention probe found other processes holding the CPUs during this run; "
                     "multi-threaded kernels then wait for scheduler time slices, which inflates the batched calls "
                     "and part 2 far more than the single-sample loop (whose tiny kernels run on one thread), so "
                     "these ratios probably understate symlie's advantage and the part-2 comparison is unreliable.")
    return " ".join(parts)


def write_markdown(res: dict, path: Path) -> None:
    env = res["environment"]
    L = []
    L.append("# Lie derivative benchmark\n")
    L.append(f"Command: `{res['command']}` (in `{env['cwd']}`)  ")
    L.append(f"Date: {res['date']}  ")
    L.append(f"torch {env['torch']}, Python {env['python']}, {env['cpu_count']} CPUs ({env['processor']}), "
             f"torch threads {env['torch_threads']}, float64  ")
    L.append(f"Repeats: {res['settings']['repeats']} after {res['settings']['warmup']} warm-up; medians reported. "
             "Load average (1, 5, 15 min) at start / end: "
             + " / ".join(", ".join(f"{v:.2f}" for v in la) if la else "n/a"
                          for la in (env["loadavg_start"], env["loadavg_end"])) + "  ")
    pr = res["contention_probes"]
    L.append("Contention probe (a parallel elementwise op: time with {} threads / with 1 thread, below 1 when the "
             "threads help; and CPU share = CPU time / wall time of the 1-thread op; contended if the ratio "
             "exceeds 1.5 or the share falls below 0.7): ".format(env["torch_threads"])
             + ", ".join(f"{k} x{v['ratio']:.2f} / {v['cpu_share_1_thread']:.2f}" for k, v in pr.items())
             + f"; contended in {res['contended_probes']} probes (also taken after every row).\n")
    if res["contended"]:
        L.append("**Warning: other processes were competing for the CPUs during (part of) this run** (see the probe "
                 "above): multi-threaded torch kernels then stall for scheduler time slices, so the timings "
                 "below, especially of the batched calls and of part 2, are inflated and noisy. Re-run on an idle "
                 "machine, or compare with `--threads 1`.\n")
    L.append("## 1. Lie derivative over all 9 generators of gl(3)\n")
    L.append("`sl.lie_derivative` (one forward-mode pass) vs the per-sample `torch.autograd.grad` loop. "
             "Loop times marked * are extrapolated linearly from the timed subset.\n")
    L.append("| model | N | sl.lie_derivative | per-sample loop | speed-up (median of ratios) | speed-up from minima "
             "| max abs diff |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for m in ("invariant", "vector"):
        for r in res["lie_derivative"][m]["by_N"]:
            star = f" * ({r['loop_samples_timed']} timed)" if r["loop_extrapolated"] else ""
            L.append(f"| {m} | {r['N']:,} | {fmt_s(r['symlie']['median_s'])} | {fmt_s(r['loop']['median_s'])}{star} | "
                     f"x{r['speedup_median_of_ratios']:.1f} | x{r['speedup_ratio_of_minima']:.1f} | "
                     f"{r['max_abs_diff']:.1e} |")
    L.append("")
    for m in ("invariant", "vector"):
        for r in res["lie_derivative"][m]["by_N"]:
            if "loop_full_check" in r:
                c = r["loop_full_check"]
                L.append(f"Extrapolation check ({m}, N = {c['N']:,}): one loop run over all points took "
                         f"{fmt_s(c['single_run_s'])} vs {fmt_s(c['extrapolated_median_s'])} extrapolated "
                         f"(x{c['measured_over_extrapolated']:.2f}); max abs diff over all points "
                         f"{c['max_abs_diff_all_points']:.1e}.  ")
    L.append("")
    L.append("Models: " + "; ".join(f"*{m}*: {MODELS[m][2]}" for m in MODELS) + ".\n")
    N = res["lie_derivative"]["invariant"]["variants_at_largest_N"]["N"]
    L.append(f"At N = {N:,}: time of `sl.lie_derivative` variants, and the peak-RSS increase of one call in a "
             "fresh process (VmHWM after minus VmRSS before, from /proc/self/status with the peak reset through "
             "/proc/self/clear_refs: the kernel counter behind `ru_maxrss`, which itself is unreliable in a child "
             "of a large parent; tracemalloc does not see torch's allocations):\n")
    L.append("| model | variant | time | peak RSS increase |")
    L.append("|---|---|---:|---:|")
    B = res["lie_derivative"]["invariant"]["variants_at_largest_N"]["batch_size"]
    keymap = {("auto", False): "default (batch_size='auto')", (B, False): f"batch_size={B}",
              (B, True): f"batch_size={B}, torch.no_grad()"}
    single = False
    for m in ("invariant", "vector"):
        var = res["lie_derivative"][m]["variants_at_largest_N"]
        mems = {(r.get("batch_size"), r.get("no_grad")): r for r in res.get("memory", {}).get(m, [])}
        for cfg, k in keymap.items():
            t, r = var["timings"].get(k), mems.get(cfg)
            if t is None and r is None:
                continue
            if t is not None:
                tt = fmt_s(t["median_s"])
            elif "single_call_s" in r:
                tt, single = fmt_s(r["single_call_s"]) + " †", True
            else:
                tt = "-"
            mem = "-" if r is None else (f"+{r['peak_rss_increase_MiB']:.0f} MiB" if "peak_rss_increase_MiB" in r
                                         else "failed")
            L.append(f"| {m} | {k} | {tt} | {mem} |")
    L.append("")
    if single:
        L.append("† a single call, timed in the memory child process (not repeated).\n")
    L.append("## 2. Structured vs dense drho for TensorRep(SO(3), p, p)\n")
    L.append(f"drho of the 3 so(3) basis elements applied to {res['settings']['rep_batch']} vectors each.\n")
    L.append("| p | size | apply_drho (structured) | dense: form + matmul | dense: matmul only | "
             "dense/structured (total, matmul only) | max abs diff |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|")
    for r in res["reps"]:
        st = fmt_s(r["timings"]["structured"]["median_s"])
        if "dense" in r:
            L.append(f"| {r['p']} | {r['size']:,} | {st} | {r['dense']} ({r['dense_MB_per_generator']:.0f} MB per "
                     f"generator) | - | - | - |")
        else:
            L.append(f"| {r['p']} | {r['size']:,} | {st} | {fmt_s(r['timings']['dense_form_and_matmul']['median_s'])} | "
                     f"{fmt_s(r['timings']['dense_matmul_only']['median_s'])} | "
                     f"x{r['ratio_dense_total_over_structured']:.2g}, x{r['ratio_dense_matmul_over_structured']:.2g} | "
                     f"{r['max_abs_diff']:.1e} |")
    L.append("")
    L.append("## Reading\n")
    L.append(reading(res) + "\n")
    path.write_text("\n".join(L))


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="reduced run (< 20 s): N up to 1e4, fewer repeats")
    ap.add_argument("--repeats", type=int, help="timed repeats per measurement (default 5, quick 3)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed warm-up runs per measurement (default 1)")
    ap.add_argument("--loop-samples", type=int, help="points timed for the per-sample loop (default 1000, quick 200)")
    ap.add_argument("--loop-check-max", type=int,
                    help="run the loop once over all N points (checking the extrapolation) for N up to this "
                         "(default 10000, quick 0: off)")
    ap.add_argument("--chunk", type=int, default=1000, help="batch_size for the chunked variants (default 1000)")
    ap.add_argument("--rep-batch", type=int, default=64, help="vectors per generator in part 2 (default 64)")
    ap.add_argument("--dense-limit-mb", type=float, default=50.0,
                    help="skip dense drho when one generator's matrix exceeds this (default 50 MB)")
    ap.add_argument("--min-sample-s", type=float,
                    help="part 2: repeat fast calls back to back to fill at least this long a sample "
                         "(default 0.05 s, quick 0.02 s)")
    ap.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    ap.add_argument("--out", type=Path, default=RESULTS, help="output folder (default benchmarks/results)")
    ap.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.loop_samples is None:
        args.loop_samples = 200 if args.quick else 1000
    if args.min_sample_s is None:
        args.min_sample_s = 0.02 if args.quick else 0.05
    if args.loop_check_max is None:
        args.loop_check_max = 0 if args.quick else 10_000
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(json.loads(args.memory_child))))
        return 0
    torch.set_num_threads(args.threads)
    gc.collect()
    gc.freeze()            # the ~10^5 objects of torch's import need not be traversed before every timing
    t_start = time.perf_counter()
    Ns = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    ps = [1, 2, 3, 4]
    env = {
        "torch": torch.__version__, "symlie": sl.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "cwd": os.getcwd(),
        "loadavg_start": loadavg(),
    }
    res = {
        "benchmark": "lie_derivative",
        "command": shlex.join([os.path.relpath(sys.executable) if not os.path.relpath(sys.executable).startswith("..")
                               else sys.executable] + sys.argv),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": {"quick": args.quick, "repeats": args.repeats, "warmup": args.warmup,
                     "loop_samples": args.loop_samples, "loop_check_max": args.loop_check_max,
                     "min_sample_s": args.min_sample_s, "threads": args.threads, "chunk": args.chunk,
                     "rep_batch": args.rep_batch, "dtype": "float64", "Ns": Ns, "ps": ps,
                     "timing": "time.perf_counter, interleaved repeats after warm-up (part 1: the correctness run "
                               "is the warm-up), gc off while timing; part 2 repeats sub-sample calls back to "
                               "back to fill min_sample_s and reports the time per call",
                     "memory_method": "peak resident set size increase across one call in a fresh child process: "
                                      "VmHWM after - VmRSS before from /proc/self/status, with the peak reset "
                                      "through /proc/self/clear_refs (the kernel value behind ru_maxrss; a plain "
                                      "ru_maxrss delta is unreliable in a child of a large parent); includes the "
                                      "result tensor"},
        "environment": env,
    }
    probes = res["contention_probes"] = {}

    def probe(when: str):
        pr = probes[when] = contention_probe(args.threads)
        print(f"contention probe ({when}): {args.threads} threads / 1 thread = x{pr['ratio']:.2f}, "
              f"CPU share {pr['cpu_share_1_thread']:.2f}"
              + ("  CONTENDED: other processes hold the cores; multi-threaded timings are unreliable"
                 if pr["contended"] else ""), flush=True)

    probe("start")
    print(f"Part 1: Lie derivative over gl(3), N = {Ns}", flush=True)
    res["lie_derivative"] = {}
    for m in MODELS:
        res["lie_derivative"][m] = bench_lie_derivative(m, Ns, args)
        probe(f"after part 1, {m}")
    if not args.no_memory:
        N = Ns[-1]
        B = args.chunk
        configs = {"invariant": [("auto", False), (B, False), (B, True)], "vector": [("auto", False), (B, True)]}
        if args.quick:                            # one child process (~3 s) keeps --quick short
            configs = {"invariant": [(B, True)]}
        print(f"Peak memory at N = {N}", flush=True)
        res["memory_N"] = N
        res["memory"] = {m: bench_memory(m, N, c, args.threads) for m, c in configs.items()}
    print(f"Part 2: structured vs dense drho, TensorRep(SO(3), p, p), p = {ps}", flush=True)
    res["reps"] = bench_reps(ps, args)
    probe("end")
    env["loadavg_end"] = loadavg()
    row_probes = [r["probe_after"] for m in res["lie_derivative"].values() for r in m["by_N"]] + \
        [r["probe_after"] for r in res["reps"]]
    res["contended"] = any(pr["contended"] for pr in list(probes.values()) + row_probes)
    res["contended_probes"] = f"{sum(pr['contended'] for pr in list(probes.values()) + row_probes)} of " \
                              f"{len(probes) + len(row_probes)}"
    res["total_wall_s"] = time.perf_counter() - t_start

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lie_derivative.json").write_text(json.dumps(res, indent=2))
    write_markdown(res, args.out / "lie_derivative.md")
    print(f"wrote {args.out / 'lie_derivative.json'} and {args.out / 'lie_derivative.md'} "
          f"({res['total_wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
