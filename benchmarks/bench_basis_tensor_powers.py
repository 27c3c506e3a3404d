"""Benchmark: SO(3) / O(3) invariants of V^(x)n, n = 6..11, with the "cg" method beside "kron" and "auto".

Run from the repository root (one torch / BLAS thread by default):

    .venv/bin/python benchmarks/bench_basis_tensor_powers.py --threads 1            # full run (~6 min)
    .venv/bin/python benchmarks/bench_basis_tensor_powers.py --threads 1 --quick    # n = 6..8 only

Writes benchmarks/results/basis_tensor_powers.json and .md (``--quick``: basis_tensor_powers_quick.*).

For each group (SO(3), O(3)) and degree n, ``sl.invariant_basis(sl.V(G) ** n, method=..., cache=False)``:
  * ``cg`` (Clebsch-Gordan construction, verified against every generator): median of ``--repeats`` for
    n <= 10, one run for n = 11;
  * ``kron`` (the structured spectral solver) for n <= ``--kron-max`` (default 9): median of ``--repeats`` for
    n <= 8, one run for n = 9 (about a minute each); rank 10 took ~10 min in an earlier run and is not rerun;
  * ``auto`` once (it picks dense / kron / cg by the block size, see symlie.enforce.basis).
Each (group, n, method) runs in its own interpreter. Recorded per case: wall time, the count (against the Riordan
number r(n), or 0 for O(3) at odd n), the peak resident memory above the resident size before the call (Linux
VmHWM after resetting it; the largest over the repeats), the library's own estimate for cg, the time cg spends
constructing and verifying, the verification
residual cg records (max_j ||C q_j|| / sigma_max and ||C Q||_F) and an independent check with the library's
apply_drho / apply_rho on the first 16 basis vectors.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (early_threads, fmt_s, loadavg, loadavg_line, proc_status_kib, reset_peak_rss,  # noqa: E402
                     summary)

THREADS = early_threads(sys.argv)

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

import symlie as sl  # noqa: E402
from symlie.enforce import basis as eb  # noqa: E402
from symlie.enforce import coupling as cg  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
EARLIER_KRON = {10: "~10 min (SO(3), an earlier run on this machine; not rerun)",
                9: "~62 s (SO(3), an earlier run on this machine)"}


def expected(G, n: int) -> int:
    return 0 if (G.num_discrete and n % 2) else cg.riordan(n)


def check_residual(rep, Q: torch.Tensor, cols: int = 16) -> float:
    """max |drho(xi) q| and |rho(h) q - q| over the first ``cols`` columns, with the library's own actions."""
    if Q.shape[1] == 0:
        return 0.0
    V = Q[:, :cols].T.contiguous()
    G = rep.group
    r = max(float(rep.apply_drho(X, V).abs().max()) for X in G.algebra.basis)
    for h in G.discrete:
        r = max(r, float((rep.apply_rho(h, V) - V).abs().max()))
    return r


def run_once(rep, method: str):
    rss0 = proc_status_kib("VmRSS")
    ok = reset_peak_rss()
    t0 = time.perf_counter()
    B = sl.invariant_basis(rep, method=method, cache=False)
    dt = time.perf_counter() - t0
    hwm = proc_status_kib("VmHWM")
    peak = (hwm - rss0) * 1024 if ok and hwm is not None and rss0 is not None else None
    return B, dt, peak


def measure(G, n: int, method: str, repeats: int) -> dict:
    rep = sl.V(G) ** n
    ts, peaks = [], []
    B = None
    for _ in range(repeats):
        B = None                                   # free the previous basis before the next run
        B, dt, peak = run_once(rep, method)
        ts.append(dt)
        peaks.append(peak)
    assert B is not None
    ns = next(iter(B.spectra.values()))
    Q = B.blocks[0].Q if B.blocks else torch.zeros(rep.size, 0, dtype=torch.float64)
    out = {"method": method, "method_used": next(iter(B.method.values())), "count": B.dim,
           "expected": expected(G, n), "count_ok": B.dim == expected(G, n), **summary(ts), "repeats": repeats,
           "peak_bytes": max((p for p in peaks if p is not None), default=None),
           "check_residual_first16": check_residual(rep, Q)}
    if out["method_used"] == "cg":
        out.update(residual_max_rel=ns.rule["residual_max"], residual_frobenius=ns.rule["residual_frobenius"],
                   orthonormality=ns.rule["orthonormality"], gap_ratio=ns.gap_ratio,
                   seconds_construct=ns.rule.get("seconds_construct"), seconds_verify=ns.rule.get("seconds_verify"),
                   estimate_bytes=eb.cg_bytes(n, G.num_discrete) if out["expected"] else None, reason=ns.reason)
    elif out["method_used"] == "kron":
        out.update(restricted_unknowns=ns.rule.get("restricted_unknowns"), gap_ratio=ns.gap_ratio)
    del B, Q, ns
    return out


def measure_isolated(group: str, n: int, method: str, repeats: int, threads: int) -> dict:
    """:func:`measure` in a fresh interpreter (so the peak memory is this case's own, not memory an earlier case
    left with the allocator); the child prints one JSON line."""
    code = (f"import sys; sys.argv = ['x', '--threads', '{threads}']; sys.path.insert(0, {str(HERE)!r}); "
            f"import bench_basis_tensor_powers as b, json, torch; from symlie.lie.groups import parse_group; torch.set_num_threads({threads}); "
            f"print('RESULT ' + json.dumps(b.measure(parse_group({group!r}), {n}, {method!r}, {repeats}), "
            f"default=float))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("RESULT ")]
    if p.returncode or not lines:
        raise RuntimeError(f"{group} n={n} {method}: the child failed (rc {p.returncode}): {p.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def split(c: dict) -> str:
    a, b = c.get("seconds_construct"), c.get("seconds_verify")
    return f" ({fmt_s(a)} + {fmt_s(b)})" if a is not None and b is not None else ""


def fmt_b(b) -> str:
    if b is None:
        return "-"
    return f"{b / 2 ** 30:.2f} GiB" if b >= 2 ** 30 else f"{b / 2 ** 20:.0f} MiB"


def reading(rows) -> list[str]:
    """A few generated sentences: the cg times at the largest degrees, the speed-up over kron, memory."""
    out = []
    by = {(r["group"], r["n"]): r for r in rows}
    for g in ("SO(3)", "O(3)"):
        parts = []
        for n in (9, 10, 11):
            r = by.get((g, n))
            if r is None:
                continue
            c = r["cg"]
            txt = f"n = {n}: {fmt_s(c['median_s'])}, {c['count']} invariants, peak {fmt_b(c['peak_bytes'])}"
            if "median_s" in r["kron"]:
                txt += f" (kron {fmt_s(r['kron']['median_s'])}, {r['kron']['median_s'] / c['median_s']:.0f}x slower)"
            elif n == 10:
                txt += " (kron ~10 min in an earlier run)"
            parts.append(txt)
        if parts:
            out.append(f"* **{g}** with cg: " + "; ".join(parts) + ".")
    big = by.get(("SO(3)", 11)) or by.get(("SO(3)", 10))
    share = ""
    if big and big["cg"].get("seconds_verify"):
        c = big["cg"]
        share = (f" (SO(3) n = {big['n']}, last run: {fmt_s(c['seconds_construct'])} constructing, "
                 f"{fmt_s(c['seconds_verify'])} verifying)")
    out += ["* cg builds the basis by Clebsch-Gordan coupling (no eigenproblem) and then applies every so(3) "
            "generator and discrete generator to all basis vectors through the rep's factor matrices (3 generators "
            f"x n factors, memory-bound){share}.",
            "* The spectrum cg records is not computed: [sigma_max, smallest non-zero sigma] come from the SO(3) "
            "decomposition (exact for SO(3)'s orthonormal basis; bounds when discrete generators are present) and "
            "the third value is the verified ||C Q||_F.",
            "* O(3) at odd n: no invariants (-I acts by (-1)^n), answered without a construction (so the kron / cg "
            "ratio there only says that kron had to solve a problem that cg never builds)."]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch / BLAS threads (default 1)")
    ap.add_argument("--repeats", type=int, default=3, help="repeats of the fast cases (medians)")
    ap.add_argument("--min-n", type=int, default=6)
    ap.add_argument("--max-n", type=int, default=11)
    ap.add_argument("--kron-max", type=int, default=9, help="largest degree run with method='kron'")
    ap.add_argument("--quick", action="store_true", help="n = 6..8 only")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    max_n = min(args.max_n, 8) if args.quick else args.max_n
    load0 = loadavg()
    t_start = time.perf_counter()
    rows = []
    for G in (sl.SO(3), sl.O(3)):
        for n in range(args.min_n, max_n + 1):
            row = {"group": G.name, "n": n, "unknowns": 3 ** n, "expected": expected(G, n)}
            print(f"[{G.name} n={n}] cg ...", flush=True)
            row["cg"] = measure_isolated(G.name, n, "cg", args.repeats if n <= 10 else 1, args.threads)
            print(f"   {fmt_s(row['cg']['median_s'])}, count {row['cg']['count']}, peak {fmt_b(row['cg']['peak_bytes'])}",
                  flush=True)
            if n <= args.kron_max:
                print(f"[{G.name} n={n}] kron ...", flush=True)
                row["kron"] = measure_isolated(G.name, n, "kron", args.repeats if n <= 8 else 1, args.threads)
                print(f"   {fmt_s(row['kron']['median_s'])}, count {row['kron']['count']}", flush=True)
            else:
                row["kron"] = {"skipped": EARLIER_KRON.get(n, "not run (beyond --kron-max)")}
            print(f"[{G.name} n={n}] auto ...", flush=True)
            row["auto"] = measure_isolated(G.name, n, "auto", 1, args.threads)
            print(f"   {row['auto']['method_used']} {fmt_s(row['auto']['median_s'])}", flush=True)
            rows.append(row)
    cmd = "cd /work/main && .venv/bin/python " + " ".join(
        shlex.quote(a) for a in ["benchmarks/bench_basis_tensor_powers.py"] + sys.argv[1:])
    meta = {"command": cmd, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "torch": torch.__version__, "symlie": sl.__version__,
            "platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "blas_threads_env": THREADS, "repeats": args.repeats, "loadavg_start": load0, "loadavg_end": loadavg(),
            "memory_limit_bytes": sl.utils.resources.get_memory_limit(), "total_wall_s": time.perf_counter() - t_start,
            "cg_min_default": 6561, "earlier_kron": EARLIER_KRON}
    all_ok = all(r["cg"]["count_ok"] and r["auto"]["count_ok"] and r["kron"].get("count_ok", True) for r in rows)
    targets = {}
    for r in rows:
        if r["n"] == 10:
            targets[f"{r['group']} n=10 cg <= 30 s"] = bool(r["cg"]["median_s"] <= 30 and r["cg"]["count_ok"])
        if r["n"] == 11:
            targets[f"{r['group']} n=11 cg within the memory limit, count checked"] = bool(r["cg"]["count_ok"])
    out = {"meta": meta, "all_counts_ok": all_ok, "targets": targets, "rows": rows}
    RESULTS.mkdir(exist_ok=True)
    stem = "basis_tensor_powers_quick" if args.quick else "basis_tensor_powers"
    (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=2, default=float))
    L = ["# Invariants of tensor powers V^(x)n of SO(3) / O(3): cg vs kron vs auto", "",
         f"Command: `{cmd}`  ", f"Date: {meta['date']}  ",
         f"Versions: python {meta['python']}, torch {meta['torch']}, symlie {meta['symlie']}  ",
         f"Machine: {meta['platform']}, {meta['cpus']} CPUs, torch threads {meta['torch_threads']}; memory limit "
         f"(half the physical memory) {fmt_b(meta['memory_limit_bytes'])}  ",
         loadavg_line(meta) + "  ",
         f"Times: medians of {args.repeats} runs for cg at n <= 10 and kron at n <= 8, one run otherwise (auto: one "
         f"run); cache off; each case in its own interpreter; construct + verify: the last run. Peak: resident memory above the level before the call "
         f"(VmHWM), the largest over the repeats; the estimate is the one cg checks against the memory limit.", "",
         "| group | n | unknowns | expected | cg count | cg time (construct + verify) | cg peak (estimate) | cg residual max_j "
         "\\|C q_j\\|/sigma_max, \\|C Q\\|_F | check \\|drho q\\| (16 vectors) | kron count | kron time | kron peak "
         "| auto method | auto time | kron / cg |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        c, k, a = r["cg"], r["kron"], r["auto"]
        ratio = f"{k['median_s'] / c['median_s']:.0f}x" if "median_s" in k else "-"
        L.append(f"| {r['group']} | {r['n']} | {r['unknowns']} | {r['expected']} | {c['count']} | "
                 f"{fmt_s(c['median_s'])}{split(c)} | {fmt_b(c['peak_bytes'])} ({fmt_b(c.get('estimate_bytes'))}) | "
                 f"{c.get('residual_max_rel', 0):.1e}, {c.get('residual_frobenius', 0):.1e} | "
                 f"{c['check_residual_first16']:.1e} | {k.get('count', '-')} | "
                 f"{fmt_s(k['median_s']) if 'median_s' in k else k['skipped']} | {fmt_b(k.get('peak_bytes'))} | "
                 f"{a['method_used']} | {fmt_s(a['median_s'])} | {ratio} |")
    L += ["", f"All counts as expected (Riordan numbers r(n); 0 for O(3) at odd n): {all_ok}.  ",
          ("Targets: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in targets.items()) + "."
           if targets else ""), "",
          "## Reading", ""] + reading(rows) + [""]
    (RESULTS / f"{stem}.md").write_text("\n".join(L))
    print("\n".join(L))


if __name__ == "__main__":
    main()
