"""Benchmark: symlie's batched Lie derivative and structured tensor representations.

Run from the repository root:

    .venv/bin/python benchmarks/bench_lie_derivative.py --threads 1            # full run (~5-9 min on 2 cores)
    .venv/bin/python benchmarks/bench_lie_derivative.py --threads 1 --quick    # reduced run (< 1 min)
    .venv/bin/python benchmarks/bench_lie_derivative.py --render benchmarks/results/lie_derivative.json   # markdown only

Writes benchmarks/results/lie_derivative.json (everything, including the raw timings) and
benchmarks/results/lie_derivative.md (tables and a reading of the numbers); ``--quick`` writes
lie_derivative_quick.json / .md instead (git-ignored).

Part 1, the Lie derivative of a torch MLP over all 9 generators of gl(3), in float64:
  * ``sl.lie_derivative(..., autodiff=mode)`` for every mode: ``tangent`` (one forward-mode pass along each
    generator's vector field, q jvps), ``jacfwd`` (the Jacobian by n_in jvps, then contracted), ``jacrev``
    (the Jacobian by n_out vjps of one forward pass, then contracted) and ``auto`` (the default: the cheapest by
    symlie's cost model);
  * baseline 1, the per-sample reverse-mode loop of LieSD-style research scripts: for each sample one forward
    pass and one ``torch.autograd.grad`` per output component (what ``torch.autograd.functional.jacobian`` does
    with vectorize=False, minus its extra forward pass), then contraction of the Jacobian with every
    generator's vector field and subtraction of drho_out(A) F. Plain torch, independent of symlie;
  * baseline 2, the idiomatic batched torch.func version, also plain torch:
    J = torch.func.vmap(torch.func.jacrev(f_single))(x) with f_single: (n_in,) -> (n_out,) (F(x) comes back
    as the auxiliary output of the same pass), then L[k] = einsum('nai,ni->na', J, v_k(x)) - drho_out(A_k) F(x).
  Every mode is checked against baseline 2 to 1e-10 relative (max |difference| / max |value|), and the loop
  against both on its subset. The loop is timed on a subset of the points and extrapolated linearly per sample
  when N is larger ("loop_extrapolated": true in the JSON). All contenders are timed in interleaved repeats, so
  that a burst of load from other processes hits them alike; speed-ups are medians of the per-repeat ratios
  baseline time / symlie time (> 1: symlie is faster). The slow modes (tangent, jacfwd) get --slow-repeats
  repeats at the largest N.
  Peak memory: the peak resident set size (VmHWM, the kernel counter behind ru_maxrss) of a fresh child
  process, reset just before one call and compared with the RSS before it (tracemalloc would not see torch's
  C++ allocations; a plain ru_maxrss delta can be hidden by the parent's peak, which Linux carries over exec),
  for every autodiff mode and for baseline 2, with gradients enabled (the default), and for chunked variants.

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

from _common import fmt_s, loadavg, render_markdown, med, proc_status_kib as _proc_status_kib, reset_peak_rss as _reset_peak_rss, summary  # noqa: E402

try:                                         # public since the derivative/ package split; only used for labels
    from symlie.derivative.autodiff import resolve_autodiff
except ImportError:  # pragma: no cover - older layouts
    resolve_autodiff = None

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DTYPE = torch.float64
MODES = ("auto", "tangent", "jacfwd", "jacrev")
SLOW_MODES = ("tangent", "jacfwd")
CHECK_RTOL = 1e-10                           # every mode vs vmap(jacrev): max |diff| / max |value|
VMAP = "vmap(jacrev)"

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
    """A function (model, x, batch_size, autodiff) -> (q, N, n_out) computing L_A F with sl.lie_derivative."""
    if name == "invariant":
        return lambda model, x, batch_size="auto", autodiff="auto": sl.lie_derivative(
            model, G, x, batch_size=batch_size, autodiff=autodiff)
    rep_in, rep_out = sl.V(G) + sl.V(G), sl.V(G)
    return lambda model, x, batch_size="auto", autodiff="auto": sl.lie_derivative(
        model, G, x, rep_in, rep_out, batch_size=batch_size, autodiff=autodiff)


def resolved_mode(name: str, q: int) -> str | None:
    """What autodiff='auto' resolves to for this model (symlie's cost model), or None if unavailable."""
    if resolve_autodiff is None:
        return None
    n_in, n_out, _ = MODELS[name]
    try:
        return resolve_autodiff("auto", q, n_in, n_out)
    except Exception:  # noqa: BLE001 - a label only
        return None


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


def vmap_jacrev_lie_derivative(model: torch.nn.Module, A: torch.Tensor, x: torch.Tensor,
                               vector_out: bool) -> torch.Tensor:
    """The idiomatic torch.func baseline, in plain torch: per-sample Jacobians by vmap(jacrev), then contracted.

    L[k] = einsum('nai,ni->na', J, v_k(x)) - drho_out(A_k) F(x), all k at once; F(x) is the auxiliary output of
    the same forward pass. Like sl.lie_derivative's default, the result stays differentiable in the parameters.
    """
    n, n_in = x.shape

    def f_single(z):                                                  # one sample (n_in,) -> (n_out,)
        y = model(z.unsqueeze(0))[0]
        return y, y

    J, y = torch.func.vmap(torch.func.jacrev(f_single, has_aux=True))(x)          # (n, n_out, n_in), (n, n_out)
    v = torch.einsum("kab,npb->knpa", A, x.reshape(n, -1, 3)).reshape(A.shape[0], n, n_in)   # v_k(x) = A_k x
    L = torch.einsum("nai,kni->kna", J, v)
    if vector_out:
        L = L - torch.einsum("kab,nb->kna", A, y)                    # - drho_out(A_k) F(x)
    return L


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


def time_interleaved(fns: dict, repeats: int | dict, warmup: int = 1, min_sample_s: float = 0.0) -> dict:
    """Run each function warmup times, then rounds in which every function (with repeats left) runs once.

    repeats: an int or {name: repeats}. Interleaving makes a transient burst of load from other processes
    affect all contenders alike; the order rotates from round to round. Functions faster than min_sample_s are called back to back enough times per
    sample to fill it (a single sub-ms call mostly measures waking up the thread pool). Returns
    {name: [seconds per call, one entry per repeat]}.
    """
    reps = repeats if isinstance(repeats, dict) else {k: repeats for k in fns}
    inner = {}
    for k, fn in fns.items():
        t = min(_timed(fn) for _ in range(max(warmup, 1))) if (warmup or min_sample_s) else 0.0
        inner[k] = max(1, int(min_sample_s / t)) if min_sample_s and t > 0 else 1
    times = {k: [] for k in fns}
    keys = list(fns)
    for i in range(max(reps.values(), default=0)):
        for k in keys[i % len(keys):] + keys[:i % len(keys)]:    # rotate the order: no contender always follows
            if i < reps[k]:                                      # the same one (caches, allocator state)
                times[k].append(_timed(fns[k], inner[k]))
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


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b| (0 when both vanish)."""
    scale = float(b.abs().max())
    d = float((a - b).abs().max())
    return d / scale if scale > 0 else d


def _speedups(base: list, sym: list) -> dict:
    """Per-repeat ratios base / symlie (rounds paired by index; > 1: symlie faster)."""
    n = min(len(base), len(sym))
    ratios = [b / s for b, s in zip(base[:n], sym[:n])]
    return {"median_of_ratios": med(ratios), "ratio_of_medians": med(base) / med(sym),
            "ratio_of_minima": min(base) / min(sym), "ratios": ratios}


def bench_lie_derivative(name: str, Ns, args) -> dict:
    G = sl.GL(3)
    A = G.algebra.basis.to(DTYPE)                                    # (9, 3, 3), orthonormal E_ij
    model = make_model(name)
    f_sl = symlie_call(name, G)
    vector_out = MODELS[name][1] > 1
    auto_to = resolved_mode(name, A.shape[0])
    rows = []
    for N in Ns:
        x = make_points(name, N)
        n_loop = min(N, args.loop_samples)
        xs = x[:n_loop]
        # correctness on the common samples; this run doubles as the first warm-up of every contender
        L_vm = vmap_jacrev_lie_derivative(model, A, x, vector_out).detach()
        L_loop = loop_lie_derivative(model, A, xs, vector_out)
        checks = {}
        for mode in MODES:
            L_sl = f_sl(model, x, autodiff=mode).detach()
            checks[mode] = {"max_rel_diff_vs_vmap_jacrev": _rel(L_sl, L_vm),
                            "max_abs_diff_vs_vmap_jacrev": float((L_sl - L_vm).abs().max()),
                            "max_abs_diff_vs_loop": float((L_sl[:, :n_loop] - L_loop).abs().max())}
            del L_sl
        vm_vs_loop = float((L_vm[:, :n_loop] - L_loop).abs().max())
        scale = float(L_vm.abs().max())
        del L_vm, L_loop
        fns = {f"symlie[{mode}]": (lambda mode=mode: f_sl(model, x, autodiff=mode)) for mode in MODES}
        fns["loop"] = lambda: loop_lie_derivative(model, A, xs, vector_out)
        fns[VMAP] = lambda: vmap_jacrev_lie_derivative(model, A, x, vector_out)
        reps = {k: args.repeats for k in fns}
        if N == Ns[-1]:
            for mode in SLOW_MODES:
                reps[f"symlie[{mode}]"] = min(args.repeats, args.slow_repeats)
        times = time_interleaved(fns, reps, max(args.warmup - 1, 0))
        factor = N / n_loop
        loop_full = [t * factor for t in times["loop"]]
        vm = times[VMAP]
        modes = {}
        for mode in MODES:
            ts = times[f"symlie[{mode}]"]
            vs_loop, vs_vm = _speedups(loop_full, ts), _speedups(vm, ts)
            modes[mode] = {
                "resolves_to": auto_to if mode == "auto" else mode, "repeats": len(ts), "time": summary(ts),
                "speedup_vs_loop_median_of_ratios": vs_loop["median_of_ratios"],
                "speedup_vs_loop_ratio_of_minima": vs_loop["ratio_of_minima"],
                "speedup_vs_vmap_jacrev_median_of_ratios": vs_vm["median_of_ratios"],
                "speedup_vs_vmap_jacrev_ratio_of_minima": vs_vm["ratio_of_minima"],
                **checks[mode], "check_passed": checks[mode]["max_rel_diff_vs_vmap_jacrev"] <= CHECK_RTOL}
        vm_vs_loop_sp = _speedups(loop_full, vm)
        row = {
            "N": N, "q": A.shape[0], "modes": modes,
            "symlie": modes["auto"]["time"],                          # the default call (autodiff="auto")
            "loop_samples_timed": n_loop,
            "loop_extrapolated": n_loop < N,
            "loop_subset": summary(times["loop"]),
            "loop_per_sample_us": med(times["loop"]) / n_loop * 1e6,
            "loop": summary(loop_full),
            "vmap_jacrev": summary(vm),
            "vmap_jacrev_speedup_vs_loop_median_of_ratios": vm_vs_loop_sp["median_of_ratios"],
            "vmap_jacrev_max_abs_diff_vs_loop": vm_vs_loop,
            "max_abs_value": scale, "check_rtol": CHECK_RTOL,
            "check_passed": all(m["check_passed"] for m in modes.values()),
            "probe_after": contention_probe(args.threads),
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
        ex = f" (extrapolated from {n_loop} samples)" if n_loop < N else ""
        print(f"  [{name}] N={N:>7}: loop {fmt_s(row['loop']['median_s'])}{ex}, {VMAP} "
              f"{fmt_s(row['vmap_jacrev']['median_s'])}", flush=True)
        for mode, r in modes.items():
            print(f"  [{name}] N={N:>7}   {mode:<7}{'(-> ' + str(auto_to) + ')' if mode == 'auto' else '':<12} "
                  f"{fmt_s(r['time']['median_s']):>9}: vs loop x{r['speedup_vs_loop_median_of_ratios']:.2f}, vs "
                  f"{VMAP} x{r['speedup_vs_vmap_jacrev_median_of_ratios']:.2f}, rel diff vs {VMAP} "
                  f"{r['max_rel_diff_vs_vmap_jacrev']:.1e}{'' if r['check_passed'] else '  CHECK FAILED'}", flush=True)
        if "loop_full_check" in row:
            c = row["loop_full_check"]
            print(f"  [{name}] N={N:>7}: full loop run once {c['single_run_s']:.3f} s "
                  f"(x{c['measured_over_extrapolated']:.2f} of the extrapolation), max|diff| over all points "
                  f"{c['max_abs_diff_all_points']:.1e}", flush=True)

    out = {"model": name, "description": MODELS[name][2], "algebra": "gl(3)", "q": int(A.shape[0]),
           "auto_resolves_to": auto_to, "by_N": rows}

    # chunked, gradient-free variant at the largest N (the auto-chunked default is the timing above)
    N = Ns[-1]
    x = make_points(name, N)
    B = args.chunk
    # (chunking with gradients enabled is only timed once, in the memory child: its point is memory)
    variants = {} if args.quick else {f"batch_size={B}, torch.no_grad()": lambda: _no_grad(f_sl, model, x, B)}
    times = time_interleaved(variants, args.repeats, args.warmup)
    timings = {"default (batch_size='auto')": rows[-1]["symlie"], **{k: summary(v) for k, v in times.items()}}
    out["variants_at_largest_N"] = {"N": N, "batch_size": B, "timings": timings}
    for k, v in times.items():
        print(f"  [{name}] N={N} {k}: {fmt_s(med(v))}", flush=True)
    return out


def _no_grad(f_sl, model, x, B):
    with torch.no_grad():
        return f_sl(model, x, B)


def memory_child(spec: dict) -> dict:
    """Run in a fresh process: the peak-RSS increase caused by one Lie-derivative call.

    spec["method"]: "symlie" (sl.lie_derivative with spec["autodiff"], spec["batch_size"]) or "vmap_jacrev"
    (baseline 2). Preferred measure: reset VmHWM (the peak RSS that ru_maxrss reports) to the current RSS, run
    the call, read VmHWM - VmRSS(before) from /proc/self/status. Plain ru_maxrss deltas are unreliable in a
    child started by a big parent: Linux carries the pre-exec peak across fork + exec, which can hide the whole
    call. Without /proc the fallback is the ru_maxrss delta.
    """
    torch.set_num_threads(spec["threads"])
    name, N, no_grad = spec["model"], spec["N"], spec["no_grad"]
    method = spec.get("method", "symlie")
    G = sl.GL(3)
    model, f_sl = make_model(name), symlie_call(name, G)
    A = G.algebra.basis.to(DTYPE)
    vector_out = MODELS[name][1] > 1
    x = make_points(name, N)
    if method == "vmap_jacrev":
        call = lambda z: vmap_jacrev_lie_derivative(model, A, z, vector_out)       # noqa: E731
    else:
        call = lambda z: f_sl(model, z, spec["batch_size"], spec.get("autodiff", "auto"))  # noqa: E731
    call(x[:64])                                  # load kernels, build the autograd machinery
    gc.collect()
    use_proc = _reset_peak_rss() and _proc_status_kib("VmHWM") is not None
    if use_proc:
        before = _proc_status_kib("VmRSS")
        how = "VmHWM after - VmRSS before (/proc/self/status, peak reset via /proc/self/clear_refs)"
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        how = "resource.getrusage(RUSAGE_SELF).ru_maxrss delta"
    ctx = torch.no_grad() if no_grad else contextlib.nullcontext()
    t0 = time.perf_counter()
    with ctx:
        L = call(x)
    dt = time.perf_counter() - t0
    after = _proc_status_kib("VmHWM") if use_proc else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kib = 1 / 1024 if (sys.platform == "darwin" and not use_proc) else 1   # ru_maxrss is bytes on macOS
    return {**spec, "peak_rss_increase_MiB": (after - before) * kib / 1024, "baseline_rss_MiB": before * kib / 1024,
            "method_of_measurement": how, "result_MiB": L.numel() * L.element_size() / 2**20,
            "result_requires_grad": bool(L.requires_grad), "single_call_s": dt}


def mem_label(r: dict) -> str:
    """A row label for one memory configuration."""
    if r.get("method") == "vmap_jacrev":
        s = f"{VMAP} baseline"
    else:
        s = f"sl.lie_derivative autodiff='{r.get('autodiff', 'auto')}'" + (
            "" if r.get("batch_size") == "auto" else f", batch_size={r['batch_size']}")
    return s + (", torch.no_grad()" if r.get("no_grad") else "")


def bench_memory(name: str, N: int, configs, threads: int) -> list[dict]:
    """configs: dicts with method, autodiff, batch_size, no_grad."""
    out = []
    for cfg in configs:
        spec = {"model": name, "N": N, **cfg, "threads": threads}
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_memory-child", json.dumps(spec)],
                              capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            res = {**spec, "error": proc.stderr.strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]}
        else:
            res = json.loads(proc.stdout.strip().splitlines()[-1])
        out.append(res)
        if "error" in res:
            print(f"  [{name}] memory N={N} {mem_label(spec)}: FAILED {res['error']}", flush=True)
        else:
            print(f"  [{name}] memory N={N} {mem_label(spec)}: +{res['peak_rss_increase_MiB']:.0f} MiB peak RSS "
                  f"(result {res['result_MiB']:.1f} MiB, one call {fmt_s(res['single_call_s'])})", flush=True)
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


def _x(v: float) -> str:
    return f"x{v:.2f}" if v < 10 else f"x{v:.0f}" if v >= 100 else f"x{v:.1f}"


def _rng(vals) -> str:
    lo, hi = min(vals), max(vals)
    return _x(lo) if _x(lo) == _x(hi) else f"{_x(lo)}-{_x(hi)}"


def machine_loaded(res: dict) -> bool:
    env = res["environment"]
    cpus = env.get("cpu_count") or 1
    las = [la[0] for la in (env.get("loadavg_start"), env.get("loadavg_end")) if la]
    return bool(res.get("contended")) or any(la > 0.5 * cpus for la in las)


def _sp(d: dict, N: int, mode: str, vs: str) -> float:
    return d[N]["modes"][mode][f"speedup_vs_{vs}_median_of_ratios"]


def reading(res: dict) -> str:
    """One paragraph interpreting the numbers of this run (generated, so it follows the data)."""
    ld = res["lie_derivative"]
    inv = {r["N"]: r for r in ld["invariant"]["by_N"]}
    vec = {r["N"]: r for r in ld["vector"]["by_N"]}
    both = (("invariant", inv), ("vector", vec))
    Ns = sorted(inv)
    lo, hi = Ns[0], Ns[-1]
    extrap = any(r["loop_extrapolated"] for r in list(inv.values()) + list(vec.values()))
    auto_to = {m: ld[m].get("auto_resolves_to") for m in ("invariant", "vector")}
    to = (f"resolves to '{auto_to['invariant']}' for both models" if auto_to["invariant"] == auto_to["vector"]
          else f"resolves to '{auto_to['invariant']}' (invariant) and '{auto_to['vector']}' (vector)")
    parts = [
        f"The default `autodiff='auto'` {to} (q = 9 generators, n_in = 3 or 6 inputs, n_out = 1 or 3 outputs). "
        f"It is {_faster(_sp(inv, lo, 'auto', 'loop'))} the per-sample loop for the invariant model "
        f"and {_faster(_sp(vec, lo, 'auto', 'loop'))} it for the vector model at N={lo:,}, and "
        f"{_x(_sp(inv, hi, 'auto', 'loop'))} / {_x(_sp(vec, hi, 'auto', 'loop'))} at N={hi:,}"
        + (" (loop times extrapolated linearly from a timed subset)." if extrap else ".")
        + f" The loop costs a fixed {inv[hi]['loop_per_sample_us']:.0f} us (invariant) / "
          f"{vec[hi]['loop_per_sample_us']:.0f} us (vector, one backward pass per output component) per sample, "
          "mostly Python and autograd overhead."]
    vv = [_sp(d, N, "auto", "vmap_jacrev") for _, d in both for N in Ns]
    verdict = ("on par with it up to noise" if 0.8 <= min(vv) and max(vv) <= 1.25 else
               "faster" if min(vv) > 1 else "slower" if max(vv) < 1 else "faster in some configurations and "
                                                                           "slower in others")
    same = 0.8 <= min(vv) and max(vv) <= 1.25
    parts.append(
        f"The fair batched baseline is `{VMAP}`, which gets the same per-sample Jacobians from one batched reverse "
        f"pass without the loop's per-sample overhead: against it the default is {_rng(vv)} (median {_x(med(vv))}) "
        f"over the {len(vv)} configurations (baseline time / symlie time; below 1: slower), i.e. {verdict}"
        + ("; so the advantage over the loop comes from batching, which a five-line torch.func version has too, "
           "not from a cheaper derivative." if same else ".")
        + f" `{VMAP}` itself is "
        f"{_rng([d[N]['vmap_jacrev_speedup_vs_loop_median_of_ratios'] for _, d in both for N in Ns])} faster "
        "than the loop.")
    other = [mo for mo in MODES if mo != "auto" and mo != auto_to["invariant"]]
    slow = [f"'{mo}' {_rng([_sp(d, hi, mo, 'vmap_jacrev') for _, d in both])} "
            f"({_rng([_sp(d, hi, mo, 'loop') for _, d in both])} vs the loop)" for mo in other]
    fwd_slower = all(_sp(d, hi, mo, "vmap_jacrev") < 1 for mo in SLOW_MODES for _, d in both)
    parts.append(f"At N={hi:,} the other modes' speed-ups over `{VMAP}` (invariant-vector range) are "
                 + ", ".join(slow) + "."
                 + (" The forward-mode paths lose because they push q = 9 tangents (or n_in = 3-6 Jacobian "
                    "columns) through the model where reverse mode needs n_out = 1-3 backward passes."
                    if fwd_slower else ""))
    checks = [r["loop_full_check"] for _, d in both for r in d.values() if "loop_full_check" in r]
    if checks:
        parts.append("Running the loop once over all N=" + "/".join(f"{c['N']:,}" for c in checks[:1])
                     + " points took " + " and ".join(f"x{c['measured_over_extrapolated']:.2f}" for c in checks)
                     + " of the extrapolated time (invariant, vector), so the linear extrapolation holds up to "
                       "noise.")
    var = {m: ld[m]["variants_at_largest_N"] for m in ("invariant", "vector")}
    B = var["invariant"]["batch_size"]
    key, base = f"batch_size={B}, torch.no_grad()", "default (batch_size='auto')"
    tv = lambda m, k: var[m]["timings"][k]["median_s"]  # noqa: E731
    if key in var["invariant"]["timings"] and key in var["vector"]["timings"]:
        parts.append(f"Chunking with batch_size={B} under torch.no_grad() takes {fmt_s(tv('invariant', key))} / "
                     f"{fmt_s(tv('vector', key))} (invariant / vector) at N={hi:,}, against "
                     f"{fmt_s(tv('invariant', base))} / {fmt_s(tv('vector', base))} with the default (auto-chunked, "
                     "gradients enabled).")
    for m in ("invariant", "vector"):
        mem = [r for r in res.get("memory", {}).get(m, []) if "peak_rss_increase_MiB" in r]
        if mem:
            txt = ", ".join(f"+{r['peak_rss_increase_MiB']:.0f} MiB {mem_label(r)}" for r in mem)
            parts.append(f"Peak memory of one call ({m} model, N={res['memory_N']:,}): {txt}.")
    mem = {(r.get("method", "symlie"), r.get("autodiff", "auto"), r.get("batch_size"), r.get("no_grad")):
           r["peak_rss_increase_MiB"] for r in res.get("memory", {}).get("invariant", [])
           if "peak_rss_increase_MiB" in r}
    d_auto, d_chunk = mem.get(("symlie", "auto", "auto", False)), mem.get(("symlie", "auto", B, False))
    if d_auto is not None and d_chunk is not None and d_chunk > 0.5 * d_auto:
        parts.append("Chunking does not bound memory while gradients are enabled: the result stays "
                     "differentiable in the model parameters, so the autograd graph keeps every chunk's "
                     "activations alive; it does under torch.no_grad() (or with parameters frozen).")
    reps = res["reps"]
    dense = [r for r in reps if "ratio_dense_total_over_structured" in r]
    if dense:
        rtxt = "; ".join(f"size {r['size']}: {_faster(r['ratio_dense_total_over_structured'])} form + matmul, "
                         f"{_faster(r['ratio_dense_matmul_over_structured'])} a precomputed matrix" for r in dense)
        parts.append(f"For drho on TensorRep(SO(3), p, p), the structured `apply_drho` is ({rtxt})"
                     + "".join(f"; at size {r['size']} it takes {fmt_s(r['timings']['structured']['median_s'])} where "
                               f"the dense matrices would need {3 * r['dense_MB_per_generator']:.0f} MB"
                               for r in reps if "dense" in r) + ".")
    rel = max(r["modes"][mo]["max_rel_diff_vs_vmap_jacrev"] for _, d in both for r in d.values() for mo in MODES)
    absl = max([r["modes"][mo]["max_abs_diff_vs_loop"] for _, d in both for r in d.values() for mo in MODES]
               + [r["vmap_jacrev_max_abs_diff_vs_loop"] for _, d in both for r in d.values()])
    ok = all(r["check_passed"] for _, d in both for r in d.values())
    parts.append(f"Every autodiff mode agrees with `{VMAP}` to {rel:.1e} relative (max |difference| / max |value|; "
                 f"check <= {CHECK_RTOL:.0e}: {'passed' if ok else 'FAILED'}) and the baselines and modes agree with "
                 f"the loop to {absl:.1e} absolute; the drho methods agree to "
                 f"{max([r['max_abs_diff'] for r in dense], default=0.0):.1e}.")
    if machine_loaded(res):
        parts.append("Caveat: the machine was shared with other work during this run (see the load average "
                     "above); the timings are inflated and noisy, which is why only medians and ratios of "
                     "interleaved repeats are reported, and small ratio differences (~10-20%) are within noise. "
                     "The Python-bound per-sample loop tends to slow down more than the batched calls on shared "
                     "CPUs, so speed-ups vs the loop can be inflated; the ratios vs vmap(jacrev) compare batched "
                     "with batched.")
    return " ".join(parts)


def write_markdown(res: dict, path: Path) -> None:
    env = res["environment"]
    st = res["settings"]
    L = []
    L.append("# Lie derivative benchmark\n")
    L.append(f"Command: `{res['command']}` (in `{env['cwd']}`)  ")
    L.append(f"Date: {res['date']}; total wall time {res.get('total_wall_s', float('nan')):.0f} s  ")
    L.append(f"torch {env['torch']}, symlie {env.get('symlie')}, Python {env['python']}, {env['cpu_count']} CPUs "
             f"({env['processor']}), torch threads {env['torch_threads']}, float64  ")
    L.append(f"Repeats: {st['repeats']} after {st['warmup']} warm-up ({st['slow_repeats']} for the slow modes "
             f"{', '.join(SLOW_MODES)} at the largest N); medians reported. "
             "Load average (1, 5, 15 min) at start / end: "
             + " / ".join(", ".join(f"{v:.2f}" for v in la) if la else "n/a"
                          for la in (env["loadavg_start"], env["loadavg_end"])) + "  ")
    pr = res["contention_probes"]
    L.append("Contention probe (a parallel elementwise op: time with {} threads / with 1 thread, below 1 when the "
             "threads help; and CPU share = CPU time / wall time of the 1-thread op; contended if the ratio "
             "exceeds 1.5 or the share falls below 0.7): ".format(env["torch_threads"])
             + ", ".join(f"{k} x{v['ratio']:.2f} / {v['cpu_share_1_thread']:.2f}" for k, v in pr.items())
             + f"; contended in {res['contended_probes']} probes (also taken after every row).\n")
    if machine_loaded(res):
        te = ", ".join(f"{k}={v}" for k, v in (env.get("thread_env") or {}).items() if v is not None)
        how = ", ".join(x for x in (f"niceness {env['niceness']}" if env.get("niceness") else "", te) if x)
        L.append(f"**The machine was loaded**: other work shared the {env['cpu_count']} CPUs during this run (load "
                 f"average above{'; run with ' + how if how else ''}). Absolute times are inflated and noisy; "
                 "compare the ratios (medians of per-repeat ratios of interleaved calls), not single timings.\n")
    if st.get("note"):
        L.append(st["note"] + "\n")
    if not all(r["check_passed"] for m in res["lie_derivative"].values() for r in m["by_N"]):
        L.append(f"**Check FAILED**: some autodiff mode differs from `{VMAP}` by more than {CHECK_RTOL:.0e} "
                 "relative; see the table.\n")
    L.append("## 1. Lie derivative over all 9 generators of gl(3)\n")
    L.append(f"`sl.lie_derivative(f, G, x[, rep_in, rep_out], autodiff=mode)` against two plain-torch baselines: "
             "the per-sample `torch.autograd.grad` loop of LieSD-style scripts, and "
             f"`{VMAP}`: `J = torch.func.vmap(torch.func.jacrev(f_single))(x)` (f_single: one sample (n_in,) -> "
             "(n_out,)), then `L[k] = einsum('nai,ni->na', J, v_k(x)) - drho_out(A_k) f(x)`. Speed-up = median over "
             "the interleaved repeats of baseline time / symlie time (> 1: symlie is faster). Loop times marked * "
             "are extrapolated linearly from the timed subset. rel diff = max |L_symlie - L_vmap(jacrev)| / "
             f"max |L_vmap(jacrev)| (checked <= {CHECK_RTOL:.0e}).\n")
    L.append(f"| model | N | autodiff | sl.lie_derivative | per-sample loop | {VMAP} | speed-up vs loop | "
             f"speed-up vs {VMAP} | rel diff vs {VMAP} |")
    L.append("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for m in ("invariant", "vector"):
        for r in res["lie_derivative"][m]["by_N"]:
            star = f" * ({r['loop_samples_timed']} timed)" if r["loop_extrapolated"] else ""
            for mode, s in r["modes"].items():
                lab = f"{mode} (-> {s['resolves_to']})" if mode == "auto" and s.get("resolves_to") else mode
                L.append(f"| {m} | {r['N']:,} | {lab} | {fmt_s(s['time']['median_s'])} | "
                         f"{fmt_s(r['loop']['median_s'])}{star} | {fmt_s(r['vmap_jacrev']['median_s'])} | "
                         f"{_x(s['speedup_vs_loop_median_of_ratios'])} | "
                         f"{_x(s['speedup_vs_vmap_jacrev_median_of_ratios'])} | "
                         f"{s['max_rel_diff_vs_vmap_jacrev']:.1e}{'' if s['check_passed'] else ' FAILED'} |")
    L.append("")
    rows = [r for m in res["lie_derivative"].values() for r in m["by_N"]]
    L.append(f"Summary over the {len(rows)} configurations (2 models x {len(rows) // 2} N): range (median) of the "
             "per-configuration speed-ups.\n")
    L.append(f"| autodiff | speed-up vs loop | speed-up vs {VMAP} |")
    L.append("|---|---:|---:|")
    for mode in MODES:
        a = [r["modes"][mode]["speedup_vs_loop_median_of_ratios"] for r in rows]
        b = [r["modes"][mode]["speedup_vs_vmap_jacrev_median_of_ratios"] for r in rows]
        L.append(f"| {mode} | {_rng(a)} ({_x(med(a))}) | {_rng(b)} ({_x(med(b))}) |")
    vl = [r["vmap_jacrev_speedup_vs_loop_median_of_ratios"] for r in rows]
    L.append(f"| ({VMAP} itself) | {_rng(vl)} ({_x(med(vl))}) | - |")
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
    L.append(f"At N = {N:,}: time and the peak-RSS increase of one call in a fresh process (VmHWM after minus "
             "VmRSS before, from /proc/self/status with the peak reset through /proc/self/clear_refs: the kernel "
             "counter behind `ru_maxrss`, which itself is unreliable in a child of a large parent; tracemalloc does "
             "not see torch's allocations). Gradients are enabled unless the row says torch.no_grad() (the result "
             "then stays differentiable in the parameters, for symlie and the baseline alike).\n")
    L.append("| model | call | time | peak RSS increase |")
    L.append("|---|---|---:|---:|")
    single = False
    for m in ("invariant", "vector"):
        ldm = res["lie_derivative"][m]
        last = ldm["by_N"][-1]
        var = ldm["variants_at_largest_N"]
        B = var["batch_size"]
        for r in res.get("memory", {}).get(m, []):
            meth, mode, bs, ng = r.get("method", "symlie"), r.get("autodiff", "auto"), r.get("batch_size"), r.get("no_grad")
            t = None
            if last["N"] == N and not ng and meth == "vmap_jacrev":
                t = last["vmap_jacrev"]
            elif last["N"] == N and not ng and bs == "auto" and mode in last["modes"]:
                t = last["modes"][mode]["time"]
            elif ng and bs == B and mode == "auto":
                t = var["timings"].get(f"batch_size={B}, torch.no_grad()")
            if t is not None:
                tt = fmt_s(t["median_s"])
            elif "single_call_s" in r:
                tt, single = fmt_s(r["single_call_s"]) + " †", True
            else:
                tt = "-"
            mem = f"+{r['peak_rss_increase_MiB']:.0f} MiB" if "peak_rss_increase_MiB" in r else "failed"
            lab = mem_label(r)
            if meth == "symlie" and mode == "auto" and ldm.get("auto_resolves_to"):
                lab = lab.replace("'auto'", f"'auto' (-> {ldm['auto_resolves_to']})")
            L.append(f"| {m} | {lab} | {tt} | {mem} |")
    L.append("")
    if single:
        L.append("† a single call, timed in the memory child process (not repeated).\n")
    L.append("## 2. Structured vs dense drho for TensorRep(SO(3), p, p)\n")
    L.append(f"drho of the 3 so(3) basis elements applied to {res['settings']['rep_batch']} vectors each.\n")
    L.append("| p | size | apply_drho (structured) | dense: form + matmul | dense: matmul only | "
             "dense/structured (total, matmul only) | max abs diff |")
    L.append("|---:|---:|---:|---:|---:|---:|---:|")
    for r in res["reps"]:
        st_ = fmt_s(r["timings"]["structured"]["median_s"])
        if "dense" in r:
            L.append(f"| {r['p']} | {r['size']:,} | {st_} | {r['dense']} ({r['dense_MB_per_generator']:.0f} MB per "
                     f"generator) | - | - | - |")
        else:
            L.append(f"| {r['p']} | {r['size']:,} | {st_} | {fmt_s(r['timings']['dense_form_and_matmul']['median_s'])} | "
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
    ap.add_argument("--quick", action="store_true",
                    help="reduced run (< 1 min): N up to 1e4, fewer repeats; writes lie_derivative_quick.json/.md")
    ap.add_argument("--Ns", type=str, help="comma-separated N for part 1 (default 1e3,1e4,1e5; quick 1e3,1e4)")
    ap.add_argument("--repeats", type=int, help="timed repeats per measurement (default 5, quick 3)")
    ap.add_argument("--slow-repeats", type=int,
                    help="timed repeats of the slow modes (tangent, jacfwd) at the largest N (default 3, quick 2)")
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
    ap.add_argument("--note", type=str, default="", help="a sentence added to the markdown header")
    ap.add_argument("--out", type=Path, default=RESULTS, help="output folder (default benchmarks/results)")
    ap.add_argument("--render", type=Path, help="only re-write the markdown next to this JSON result file")
    ap.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.repeats is None:
        args.repeats = 3 if args.quick else 5
    if args.slow_repeats is None:
        args.slow_repeats = 2 if args.quick else 3
    if args.loop_samples is None:
        args.loop_samples = 200 if args.quick else 1000
    if args.min_sample_s is None:
        args.min_sample_s = 0.02 if args.quick else 0.05
    if args.loop_check_max is None:
        args.loop_check_max = 0 if args.quick else 10_000
    args.Ns = sorted(int(float(v)) for v in (args.Ns or ("1e3,1e4" if args.quick else "1e3,1e4,1e5")).split(",")
                     if v.strip())
    return args


def memory_configs(args) -> dict:
    B = args.chunk
    if args.quick:                            # two child processes keep --quick short
        return {"invariant": [{"method": "symlie", "autodiff": "auto", "batch_size": "auto", "no_grad": False},
                              {"method": "vmap_jacrev", "no_grad": False}]}
    out = {}
    for m in MODELS:
        cfg = [{"method": "symlie", "autodiff": mode, "batch_size": "auto", "no_grad": False} for mode in MODES]
        cfg.append({"method": "vmap_jacrev", "no_grad": False})
        if m == "invariant":
            cfg.append({"method": "symlie", "autodiff": "auto", "batch_size": B, "no_grad": False})
        cfg.append({"method": "symlie", "autodiff": "auto", "batch_size": B, "no_grad": True})
        out[m] = cfg
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(json.loads(args.memory_child))))
        return 0
    if args.render:
        return render_markdown(args.render, write_markdown)
    torch.set_num_threads(args.threads)
    gc.collect()
    gc.freeze()            # the ~10^5 objects of torch's import need not be traversed before every timing
    t_start = time.perf_counter()
    Ns = args.Ns
    ps = [1, 2, 3, 4]
    env = {
        "torch": torch.__version__, "symlie": sl.__version__, "python": platform.python_version(),
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "cwd": os.getcwd(),
        "loadavg_start": loadavg(),
        "thread_env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")},
        "niceness": os.nice(0) if hasattr(os, "nice") else None,
    }
    res = {
        "benchmark": "lie_derivative",
        "command": shlex.join([os.path.relpath(sys.executable) if not os.path.relpath(sys.executable).startswith("..")
                               else sys.executable] + sys.argv),
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "settings": {"quick": args.quick, "repeats": args.repeats, "slow_repeats": args.slow_repeats,
                     "warmup": args.warmup, "loop_samples": args.loop_samples, "loop_check_max": args.loop_check_max,
                     "min_sample_s": args.min_sample_s, "threads": args.threads, "chunk": args.chunk,
                     "rep_batch": args.rep_batch, "dtype": "float64", "Ns": Ns, "ps": ps, "modes": list(MODES),
                     "check_rtol": CHECK_RTOL, "note": args.note,
                     "speedup": "median over interleaved repeats of baseline time / symlie time (> 1: symlie "
                                "faster); baselines: the per-sample autograd loop (extrapolated linearly from "
                                "loop_samples points) and vmap(jacrev) over all N points",
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
    print(f"Part 1: Lie derivative over gl(3), N = {Ns}, autodiff modes {MODES}", flush=True)
    res["lie_derivative"] = {}
    for m in MODELS:
        res["lie_derivative"][m] = bench_lie_derivative(m, Ns, args)
        probe(f"after part 1, {m}")
    if not args.no_memory:
        N = Ns[-1]
        print(f"Peak memory at N = {N}", flush=True)
        res["memory_N"] = N
        res["memory"] = {m: bench_memory(m, N, c, args.threads) for m, c in memory_configs(args).items()}
    print(f"Part 2: structured vs dense drho, TensorRep(SO(3), p, p), p = {ps}", flush=True)
    res["reps"] = bench_reps(ps, args)
    probe("end")
    env["loadavg_end"] = loadavg()
    row_probes = [r["probe_after"] for m in res["lie_derivative"].values() for r in m["by_N"]] + \
        [r["probe_after"] for r in res["reps"]]
    res["contended"] = any(pr["contended"] for pr in list(probes.values()) + row_probes)
    res["contended_probes"] = f"{sum(pr['contended'] for pr in list(probes.values()) + row_probes)} of " \
                              f"{len(probes) + len(row_probes)}"
    res["machine_loaded"] = machine_loaded(res)
    res["checks_passed"] = all(r["check_passed"] for m in res["lie_derivative"].values() for r in m["by_N"])
    res["total_wall_s"] = time.perf_counter() - t_start

    args.out.mkdir(parents=True, exist_ok=True)
    stem = "lie_derivative_quick" if args.quick else "lie_derivative"
    (args.out / f"{stem}.json").write_text(json.dumps(res, indent=2))
    write_markdown(res, args.out / f"{stem}.md")
    print(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.md')} ({res['total_wall_s']:.0f} s)")
    if not res["checks_passed"]:
        print(f"CHECK FAILED: an autodiff mode differs from {VMAP} by more than {CHECK_RTOL:.0e} relative",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
