"""Benchmark: equivariant / invariant bases with symlie versus a dense SVD and EMLP 1.0.3.

Run from the repository root:

    .venv/bin/python benchmarks/bench_basis.py            # full run (~5 min; EMLP's SO(3) T(4,4) alone ~90 s)
    .venv/bin/python benchmarks/bench_basis.py --quick    # reduced run (small problems only)

Writes benchmarks/results/basis.json and benchmarks/results/basis.md.

For each problem three solvers:
  * symlie ``sl.equivariant_basis`` / ``sl.invariant_basis`` (method "auto"), the cache cleared before each
    timed repeat (``sl.clear_basis_cache``); the solver chosen per block is recorded (``B.method``), and the
    residual max |drho(xi_k) Q| (and max |rho(h_j) Q - Q| for discrete generators) of the returned basis;
  * a dense SVD of the stacked constraint ``sl.constraint_matrix(rep)`` (torch.linalg.svd, rank rule
    sigma > 1e-6 sigma_max), skipped above DENSE_MAX unknowns (SO(3) T(4,4): 6561 unknowns, a
    (19683, 6561) matrix; ~194 s measured earlier on this machine);
  * EMLP 1.0.3 in the separate venv /work/emlp-venv, run in a subprocess with TQDM_DISABLE=1 (without it,
    EMLP's Krylov solver crashes on current tqdm with "TypeError: ... numpy.float32" from its progress bar).
    EMLP's class-level cache ``emlp.reps.representation.Rep.solcache`` is cleared before each timed repeat;
    one untimed warm-up solve (SO(3) T(2,2)) runs first so JAX start-up / compilation of the common kernels
    is not charged to the first problem.
Timings are single-process wall times with torch.set_num_threads(--threads, default 2); medians over repeats.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

import symlie as sl

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# The peer lives in its own virtual environment (its jax/objax stack is ~0.9 GB): `make peers` creates .venv-emlp.
# SYMLIE_EMLP_PYTHON overrides the interpreter.
_ROOT = Path(__file__).resolve().parents[1]
EMLP_PY = os.environ.get("SYMLIE_EMLP_PYTHON") or next(
    (str(p) for p in (_ROOT / ".venv-emlp/bin/python", Path("/work/emlp-venv/bin/python")) if p.exists()),
    str(_ROOT / ".venv-emlp/bin/python"))
DENSE_MAX = 3000  # unknowns; above this the dense SVD is skipped (T(4,4): 6561 unknowns, ~194 s measured)
RTOL = 1e-6

# name: (symlie builder -> (rep_in or None, rep), emlp expression, expected count, symmetric-part flag)
PROBLEMS = {
    "SO(3) T(2,2)": dict(G=lambda: sl.SO(3), kind="inv", p=(2, 2), emlp="T(2,2)(SO(3))", expect=3),
    "SO(3) T(3,3)": dict(G=lambda: sl.SO(3), kind="inv", p=(3, 3), emlp="T(3,3)(SO(3))", expect=15),
    "SO(3) T(4,4)": dict(G=lambda: sl.SO(3), kind="inv", p=(4, 4), emlp="T(4,4)(SO(3))", expect=91),
    "SO(1,3) V -> T(2,1)": dict(G=lambda: sl.SO(1, 3), kind="map", p=(2, 1), emlp="(V>>T(2,1))(SO13())", expect=4),
    "O(1,3) V -> T(2,1)": dict(G=lambda: sl.Lorentz(), kind="map", p=(2, 1), emlp="(V>>T(2,1))(Lorentz())",
                               expect=3),
    "O(5) T(2,2)": dict(G=lambda: sl.O(5), kind="inv", p=(2, 2), emlp="T(2,2)(O(5))", expect=3),
    "O(5) invariants of 2 vectors": dict(G=lambda: sl.O(5), kind="sym2", p=None,
                                         emlp="((2*V)*(2*V))(O(5))", expect=3),
}
QUICK = ["SO(3) T(2,2)", "SO(3) T(3,3)", "SO(1,3) V -> T(2,1)", "O(1,3) V -> T(2,1)", "O(5) invariants of 2 vectors"]


def build(prob):
    """(rep_in or None, rep_out_or_rep, constraint rep)."""
    G = prob["G"]()
    if prob["kind"] == "inv":
        rep = sl.TensorRep(G, *prob["p"])
        return None, rep, rep
    if prob["kind"] == "map":
        rin, rout = sl.V(G), sl.TensorRep(G, *prob["p"])
        return rin, rout, rout * rin.dual()
    v2 = sl.V(G) + sl.V(G)
    rep = v2 * v2
    return None, rep, rep


def sym_dim(Q: torch.Tensor, n: int) -> int:
    """Dimension of the span of the symmetric parts of the bilinear forms in Q (n*n, k)."""
    M = Q.T.reshape(-1, n, n)
    S = (M + M.transpose(1, 2)).reshape(M.shape[0], -1) / 2
    if S.shape[0] == 0:
        return 0
    s = torch.linalg.svdvals(S.double())
    return int((s > RTOL * s[0]).sum()) if s[0] > 0 else 0


def residual(rep, Q: torch.Tensor) -> float:
    G = rep.group
    r = 0.0
    V = Q.T.contiguous()  # (k, s)
    if V.shape[0] == 0:
        return 0.0
    for A in G.algebra.basis.to(torch.float64):
        r = max(r, float(rep.apply_drho(A, V).abs().max()))
    for h in G.discrete:
        r = max(r, float((rep.apply_rho(h, V) - V).abs().max()))
    return r


def time_symlie(prob, repeats):
    rin, rout, crep = build(prob)
    ts = []
    for _ in range(repeats):
        sl.clear_basis_cache()
        t0 = time.perf_counter()
        B = sl.equivariant_basis(rin, rout) if rin is not None else sl.invariant_basis(rout)
        ts.append(time.perf_counter() - t0)
    Q = B.basis if rin is None else None
    if rin is None:
        res = residual(crep, Q)
    else:
        res = residual(crep, B.basis)  # vec(W) row-major is an invariant vector of rep_out (x) rep_in*
    out = {"count": B.dim, "times_s": ts, "median_s": statistics.median(ts), "method": sorted(set(B.method.values())),
           "residual_max": res, "unknowns": crep.size, "gap_ratio": B.gap_ratio}
    if prob["kind"] == "sym2":
        out["bilinear_forms"] = B.dim
        out["count"] = sym_dim(B.basis, int(round(crep.size ** 0.5)))
    return out


def time_dense(prob, repeats):
    _, _, crep = build(prob)
    if crep.size > DENSE_MAX:
        return {"skipped": f"{crep.size} unknowns > {DENSE_MAX}: the ({crep.size * 3}, {crep.size}) SVD would take "
                           f"> 60 s (~194 s measured earlier for SO(3) T(4,4))"}
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        C = sl.constraint_matrix(crep)
        _, s, Vh = torch.linalg.svd(C, full_matrices=False)  # C is tall: Vh is (s, s)
        rank = int((s > RTOL * s[0]).sum())
        null = Vh[rank:].T
        ts.append(time.perf_counter() - t0)
    out = {"count": null.shape[1], "times_s": ts, "median_s": statistics.median(ts)}
    if prob["kind"] == "sym2":
        out["bilinear_forms"] = null.shape[1]
        out["count"] = sym_dim(null, int(round(crep.size ** 0.5)))
    return out


EMLP_WORKER = r"""
import json, sys, time, os
import numpy as np
from emlp.reps import V, T
from emlp.groups import SO, O, Lorentz, SO13
import emlp.reps.representation as R
import emlp
probs = json.loads(sys.argv[1])
def sym_dim(Q, n):
    M = np.asarray(Q).T.reshape(-1, n, n)
    S = ((M + M.transpose(0, 2, 1)) / 2).reshape(M.shape[0], -1)
    s = np.linalg.svd(S, compute_uv=False)
    return int((s > 1e-6 * s[0]).sum())
R.Rep.solcache.clear()
t0 = time.perf_counter(); T(2,2)(SO(3)).equivariant_basis(); warm = time.perf_counter() - t0
out = {"version": emlp.__version__, "warmup_s": warm, "problems": {}}
for name, expr, reps, sym in probs:
    ts = []
    for _ in range(reps):
        R.Rep.solcache.clear()
        t0 = time.perf_counter()
        rep = eval(expr)
        Q = rep.equivariant_basis()
        Q = np.asarray(Q.to_dense() if hasattr(Q, "to_dense") else Q)  # SumReps return a lazy operator
        ts.append(time.perf_counter() - t0)
    d = {"count": int(Q.shape[1]), "times_s": ts, "median_s": float(np.median(ts))}
    if sym:
        d["bilinear_forms"] = d["count"]; d["count"] = sym_dim(Q, int(round(Q.shape[0] ** 0.5)))
    out["problems"][name] = d
    print(json.dumps(out), flush=True)
"""


def run_emlp(items):
    if not Path(EMLP_PY).exists():
        print(f"   EMLP not found at {EMLP_PY}: run `make peers` (or set SYMLIE_EMLP_PYTHON); EMLP columns skipped",
              flush=True)
        return {"problems": {}, "returncode": None, "wall_s": 0.0, "skipped": f"no interpreter at {EMLP_PY}"}
    env = dict(os.environ, TQDM_DISABLE="1", JAX_PLATFORMS="cpu")
    t0 = time.perf_counter()
    p = subprocess.run([EMLP_PY, "-c", EMLP_WORKER, json.dumps(items)], env=env, capture_output=True, text=True)
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    res = json.loads(lines[-1]) if lines else {"problems": {}}
    res["returncode"] = p.returncode
    res["wall_s"] = time.perf_counter() - t0
    if p.returncode:
        res["stderr_tail"] = p.stderr[-2000:]
    return res


def fmt_t(x):
    if x is None:
        return "-"
    return f"{x * 1e3:.1f} ms" if x < 1 else f"{x:.2f} s"


LOAD0 = list(os.getloadavg())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--big-repeats", type=int, default=2, help="symlie repeats for SO(3) T(4,4)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (1 is far less sensitive to another "
                    "process sharing the cores)")
    ap.add_argument("--reuse-emlp", metavar="JSON", help="take the EMLP results from an earlier results JSON "
                    "instead of re-running EMLP (recorded in the output)")
    ap.add_argument("--emlp-big-repeats", type=int, default=1, help="EMLP repeats for SO(3) T(4,4)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    names = QUICK if args.quick else list(PROBLEMS)
    reps = 1 if args.quick else args.repeats
    big = lambda n: PROBLEMS[n]["p"] == (4, 4)
    rows = {}
    t_start = time.perf_counter()
    for n in names:
        prob = PROBLEMS[n]
        r = args.big_repeats if big(n) else reps
        print(f"[symlie] {n} ...", flush=True)
        rows[n] = {"expected": prob["expect"], "emlp_expr": prob["emlp"], "symlie": time_symlie(prob, r)}
        print(f"   {rows[n]['symlie']}", flush=True)
        rows[n]["dense_svd"] = time_dense(prob, reps)
        print(f"   dense {rows[n]['dense_svd']}", flush=True)
    items = [[n, PROBLEMS[n]["emlp"], args.emlp_big_repeats if big(n) else reps, PROBLEMS[n]["kind"] == "sym2"]
             for n in names]
    print("[emlp] running ...", flush=True)
    if args.reuse_emlp:
        prev = json.loads(Path(args.reuse_emlp).read_text())
        em = {"problems": {n: r["emlp"] for n, r in prev["problems"].items()}, "version": prev["meta"]["emlp"],
              "warmup_s": prev["meta"]["emlp_warmup_s"], "returncode": prev["meta"]["emlp_returncode"],
              "wall_s": 0.0, "reused_from": {"file": args.reuse_emlp, "date": prev["meta"]["date"]}}
    else:
        em = run_emlp(items)
    print(f"   emlp rc={em['returncode']} wall={em['wall_s']:.1f}s", flush=True)
    for n in names:
        e = em["problems"].get(n, {"missing": True})
        rows[n]["emlp"] = e
        s = rows[n]["symlie"]["median_s"]
        rows[n]["ratio_emlp_over_symlie"] = e["median_s"] / s if "median_s" in e else None
        d = rows[n]["dense_svd"]
        rows[n]["ratio_dense_over_symlie"] = d["median_s"] / s if "median_s" in d else None
    target = rows.get("SO(3) T(4,4)")
    target_met = None
    if target and target["ratio_emlp_over_symlie"] is not None:
        target_met = bool(target["ratio_emlp_over_symlie"] >= 10 and target["symlie"]["count"] == 91)
    cmd = "cd /work/main && .venv/bin/python " + " ".join(shlex.quote(a) for a in ["benchmarks/bench_basis.py"] + sys.argv[1:])
    meta = {"command": cmd, "loadavg_end": list(os.getloadavg()), "loadavg_start": LOAD0, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "torch": torch.__version__, "symlie": sl.__version__,
            "emlp": em.get("version"), "emlp_warmup_s": em.get("warmup_s"), "emlp_returncode": em["returncode"],
            "emlp_stderr_tail": em.get("stderr_tail"), "emlp_reused_from": em.get("reused_from"), "platform": platform.platform(), "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "quick": args.quick, "repeats": reps,
            "big_repeats_symlie": args.big_repeats, "big_repeats_emlp": args.emlp_big_repeats, "rtol": RTOL,
            "dense_max_unknowns": DENSE_MAX, "total_wall_s": time.perf_counter() - t_start,
            "note_tqdm": "EMLP run with TQDM_DISABLE=1: without it EMLP 1.0.3's Krylov path crashes with a "
                         "TypeError (tqdm formatting a numpy.float32) on current tqdm."}
    out = {"meta": meta, "target_SO3_T44_10x_with_91": target_met, "problems": rows}
    RESULTS.mkdir(exist_ok=True)
    stem = "basis_quick" if args.quick else "basis"
    (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=2))
    L = [f"# Equivariant bases: symlie vs dense SVD vs EMLP {meta['emlp']}", "",
         f"Command: `{cmd}`  ", f"Date: {meta['date']}  ",
         f"Versions: python {meta['python']}, torch {meta['torch']}, symlie {meta['symlie']}, emlp {meta['emlp']}  ",
         f"Machine: {meta['platform']}, {meta['cpus']} CPUs, torch threads {meta['torch_threads']}  ",
         f"Repeats: {reps} (SO(3) T(4,4): symlie {args.big_repeats}, EMLP {args.emlp_big_repeats}); medians. "
         f"Caches cleared before every timed repeat (symlie `clear_basis_cache`, EMLP `Rep.solcache.clear()`); "
         + (f"EMLP numbers reused from the run of {em['reused_from']['date']} (same machine, same script). "
          if em.get("reused_from") else "") +
         f"EMLP got one untimed warm-up solve ({fmt_t(meta['emlp_warmup_s']) if meta['emlp_warmup_s'] else '-'}).  ",
         "EMLP was run with `TQDM_DISABLE=1` (its Krylov path otherwise crashes on current tqdm with a "
         "tqdm/numpy.float32 TypeError).", "",
         "| problem | unknowns | expected | symlie | dense SVD | EMLP | symlie time | method | dense time | EMLP time "
         "| EMLP/symlie | dense/symlie | residual max\\|drho Q\\| |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for n, r in rows.items():
        s, d, e = r["symlie"], r["dense_svd"], r["emlp"]
        rat = lambda x: f"{x:.1f}x" if x is not None else "-"
        L.append(f"| {n} | {s['unknowns']} | {r['expected']} | {s['count']} | {d.get('count', 'skipped')} | "
                 f"{e.get('count', 'failed')} | {fmt_t(s['median_s'])} | {'/'.join(s['method'])} | "
                 f"{fmt_t(d.get('median_s'))} | {fmt_t(e.get('median_s'))} | {rat(r['ratio_emlp_over_symlie'])} | "
                 f"{rat(r['ratio_dense_over_symlie'])} | {s['residual_max']:.1e} |")
    L += ["", "For \"O(5) invariants of 2 vectors\" the solvers return the 4 invariant bilinear forms of 2V (x) 2V; "
          "the count shown is the dimension of their symmetric parts (the quadratic invariants |x|^2, |y|^2, x.y)."]
    for n, r in rows.items():
        if "skipped" in r["dense_svd"]:
            L.append(f"\nDense SVD skipped for {n}: {r['dense_svd']['skipped']}.")
    L += ["", "## Reading", "", "READING_PLACEHOLDER", ""]
    (RESULTS / f"{stem}.md").write_text("\n".join(L))
    print("\n".join(L))


if __name__ == "__main__":
    main()
