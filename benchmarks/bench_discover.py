"""Benchmark: symmetry discovery with ``sl.discover`` (exactness, trained models, speed and memory).

Run from the repository root:

    .venv/bin/python benchmarks/bench_discover.py --threads 1            # full run (~5 min on 2 cores)
    .venv/bin/python benchmarks/bench_discover.py --threads 1 --quick    # reduced run (< 1 min)
    .venv/bin/python benchmarks/bench_discover.py --threads 1 --sections exact,speed
    .venv/bin/python benchmarks/bench_discover.py --threads 1 --sections speed --speed-parts vs_loop --update
        # only the speed comparison (loop, vmap(jacrev)), merged into the existing discover.json / .md (~1-2 min)
    .venv/bin/python benchmarks/bench_discover.py --render benchmarks/results/discover.json   # markdown only

Writes benchmarks/results/discover.json (every number, the machine, the settings, the command) and
benchmarks/results/discover.md (short tables and a reading); ``--quick`` writes discover_quick.json / .md
(git-ignored). Without ``--update`` the output holds only the sections run; with it, the sections / speed parts
run replace those of the existing file, the rest is kept, and ``refreshed`` (shown in the markdown header)
records what was refreshed, when and by which command.

Section ``exact``: functions with a known symmetry algebra, in float64 with the default rank rule
(``rule="rtol"``, rtol 1e-6). F(x) = phi(U^T x), U (m, r) with orthonormal columns and phi a polynomial of degree d
in r variables with every monomial and N(0, 1) coefficients: under se(m) the symmetry is se(m - r) (rotations
and translations of the orthogonal complement of span U), dim (m - r)(m - r + 1)/2; under t(m) it is t(m - r),
dim m - r. F(x) = phi(|x - c1|^2): so(m) about c1, dim m(m - 1)/2; F(x) = phi(|x - c1|^2, |x - c2|^2): so(m - 1)
(rotations fixing the line through c1 and c2), dim (m - 1)(m - 2)/2 -- except for d = 1, where
a |x - c1|^2 + b |x - c2|^2 is a single radial function about (a c1 + b c2)/(a + b), so the symmetry is so(m):
those cases are kept as a degenerate check with that expectation. Samples: N = max(200, 4 q) points
x ~ N(0, I_m), q = dim of the candidates. Every case is scored against the expected dimension and name.

Section ``trained``: MLPs (3 hidden layers of 128 SiLU units, float32, Adam lr 3e-3 with cosine decay, batch
min(500, N), 6000 steps, seeded) trained on the standardised data of ``sl.datasets.O5Synthetic`` and
``sl.datasets.ParticleInteraction`` (EMLP's split: first N for training, last 5000 for testing). Discovery runs on
the composite function of the RAW inputs, F(x_raw) = y_mean + y_std * net((x_raw - x_mean) / x_scale), over the
5000 raw test inputs, with candidates gl(5) acting on both 5-vectors (q = 25; truth so(5), dim 10) and gl(4)
acting on all four 4-momenta (q = 16; truth so(1,3), dim 6), ``rule="gap"`` with ``min_gap=10``. Reported: the
normalised spectrum, the found dimension, the largest gap, sigma_{q-k} / sigma_{q-k+1} (k = dim of the truth:
the ratio between the least broken and the most symmetric value), the Grassmann distance of the found algebra to
the truth, the distance of the k least-violated directions to the truth ("forced-k distance", meaningful even
when the rule finds nothing) and the identification. Both data sets standardise with x_mean = 0 and one scale
per vector block, which commutes with the gl(n) action; the JSON records this, and the spectrum on the
standardised inputs is compared with the raw one as a check.

Section ``speed`` (parts ``vs_loop``, ``modes``, ``memory``; ``--speed-parts``): ``sl.discover`` on 10^4 samples
against two plain-torch baselines. (1) The per-sample autograd loop of LieSD-style scripts: for each sample x_n
(requires_grad) y = f(x_n), one ``torch.autograd.grad`` per output component, rows
C_n[a, j] = g_a . (A_j x_n) - (A_j y)_a, C^T C accumulated over the samples, then ``torch.linalg.eigh``.
(2) ``vmap(jacrev)``: the per-sample Jacobians of all samples at once by
``torch.func.vmap(torch.func.jacrev(f_single))(X)`` (f_single: (n_in,) -> (n_out,), F(X) as its auxiliary
output), the same rows contracted with einsum, then eigh(C^T C / N). Same float64 model (random init, parameters
frozen) for all: the O5 MLP (10 -> 128 x 3 -> 1, SiLU; also width 256) under gl(5) on two 5-vectors (q = 25) and a
vector-output MLP (6 -> 128 x 3 -> 3) with rep_in = V + V, rep_out = V of GL(3) (q = 9). Repeats are interleaved (loop, symlie, vmap(jacrev), loop, ...) so a
burst of load from other processes hits all; speed-up = median of the per-repeat ratios baseline time / symlie time.
Spectra are compared value by value.
Then the time of each ``autodiff`` mode (tangent, jacfwd, jacrev, auto) and its cost in forward-pass equivalents
(time / one no-grad forward pass over the same N samples), next to the cost model of ``symlie.derivative``.
Peak memory: one ``sl.discover`` call at N = 10^4, 10^5, 10^6 in a fresh child process (this script re-run with
``--_memory-child``, started before any other section, while this process is small): the peak-RSS increase over
the RSS after imports, model and data creation and a warm-up call, read two ways: ru_maxrss (as asked) and the
kernel's VmHWM after resetting it through /proc/self/clear_refs (ru_maxrss also carries the peak of the process
image before exec, i.e. of the parent; the reset VmHWM does not).
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import itertools
import json
import math
import os
import platform
import resource
import shlex
import subprocess
import sys
import time
import zlib
from pathlib import Path

import torch

import symlie as sl

from _common import fmt_s, loadavg, render_markdown, loadavg_line, med, proc_status_kib as _proc_status_kib, reset_peak_rss as _reset_peak_rss, summary  # noqa: E402
from symlie.derivative.autodiff import autodiff_costs, resolve_autodiff as _autodiff_mode

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DTYPE = torch.float64
SECTIONS = ("exact", "trained", "speed")
SPEED_PARTS = ("vs_loop", "modes", "memory")   # parts of the speed section: --speed-parts
PART_TITLES = {"exact": "section 1 (exact symmetries)", "trained": "section 2 (trained MLPs)",
               "speed": "section 3 (speed and memory, all parts)",
               "speed.vs_loop": "section 3, the speed comparison (`sl.discover` vs the per-sample loop and "
                                "vmap(jacrev))",
               "speed.modes": "section 3, the `autodiff` modes table", "speed.memory": "section 3, the memory table"}


# ---------------------------------------------------------------------------------------------- helpers


def timed(fn):
    """(result, wall seconds, CPU share = process CPU time / wall time) of one call; gc off while timing."""
    gc.collect()
    gc.disable()
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        res = fn()
        dt = time.perf_counter() - t0
        share = (time.process_time() - c0) / dt if dt > 0 else float("nan")
    finally:
        gc.enable()
    return res, dt, share


def time_interleaved(fns: dict, repeats: dict | int, warmup: int = 1) -> tuple[dict, dict]:
    """Warm-up each function, then rounds in which every function (with repeats left) runs once.

    repeats: an int or {name: repeats}. Returns ({name: [seconds]}, {name: [cpu shares]})."""
    reps = repeats if isinstance(repeats, dict) else {k: repeats for k in fns}
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times = {k: [] for k in fns}
    shares = {k: [] for k in fns}
    for i in range(max(reps.values())):
        for k, fn in fns.items():
            if i < reps[k]:
                _, dt, sh = timed(fn)
                times[k].append(dt)
                shares[k].append(sh)
    return times, shares


def fmt_g(v, digits=3) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if math.isnan(v):
        return "-"
    if math.isinf(v):
        return "inf"
    return f"{v:.{digits}g}"


def jf(v):
    """JSON-safe float (ints kept)."""
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    v = float(v)
    return v if math.isfinite(v) else ("inf" if v > 0 else ("-inf" if v < 0 else "nan"))


def mlp(n_in: int, width: int, depth: int, n_out: int = 1) -> torch.nn.Sequential:
    layers, w = [], n_in
    for _ in range(depth):
        layers += [torch.nn.Linear(w, width), torch.nn.SiLU()]
        w = width
    layers.append(torch.nn.Linear(w, n_out))
    return torch.nn.Sequential(*layers)


def frozen(model: torch.nn.Module) -> torch.nn.Module:
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval()


def distance(res: sl.SymmetryResult, truth: sl.LieAlgebra) -> tuple[float, str | None]:
    """res.distance_to(truth), with a fallback when the library call fails (documented value for dim 0:
    pi/2 per missing direction, i.e. sqrt(k) pi/2)."""
    try:
        return float(res.distance_to(truth)), None
    except Exception as exc:  # noqa: BLE001 - recorded in the JSON and the report
        if res.dim == 0:
            return math.sqrt(truth.dim) * math.pi / 2, f"{type(exc).__name__}: {exc}"
        raise


def forced_distance(res: sl.SymmetryResult, truth: sl.LieAlgebra) -> float:
    """Grassmann distance between the span of the k least-violated directions (k = truth.dim) and the truth."""
    k = truth.dim
    V = torch.cat([res.broken_coefficients, res.coefficients])      # all right singular vectors, sigma descending
    low = V[-k:]
    gens = torch.einsum("kq,qij->kij", low, res.candidates.basis)
    return float(sl.metrics.subspace_distance(gens.reshape(k, -1).T, truth.basis.reshape(k, -1).T))


# ---------------------------------------------------------------------------------------------- exact


def poly_phi(r: int, d: int, gen: torch.Generator):
    """A generic polynomial of degree d in r variables (all monomials, N(0,1) coefficients)."""
    mons = [c for k in range(d + 1) for c in itertools.combinations_with_replacement(range(r), k)]
    coef = torch.randn(len(mons), generator=gen, dtype=DTYPE)

    def phi(z):                                                      # z (N, r) -> (N,)
        out = torch.zeros(z.shape[0], dtype=z.dtype)
        for c, mo in zip(coef, mons):
            t = torch.ones(z.shape[0], dtype=z.dtype)
            for i in mo:
                t = t * z[:, i]
            out = out + c * t
        return out

    return phi, len(mons)


def exact_case(family: str, group: str, m: int, r: int, d: int) -> dict:
    key = f"{family}|{group}|{m}|{r}|{d}"
    gen = torch.Generator().manual_seed(zlib.crc32(key.encode()))
    phi, n_mon = poly_phi(r, d, gen)
    if family == "phi(U^T x)":
        U, _ = torch.linalg.qr(torch.randn(m, r, generator=gen, dtype=DTYPE))

        def f(x):
            return phi(x @ U)

        if group == "SE":
            expected, name = (m - r) * (m - r + 1) // 2, f"se({m - r})"
        else:
            expected, name = m - r, f"t({m - r})"
        note = ""
    else:                                                            # radial families
        C = torch.randn(r, m, generator=gen, dtype=DTYPE)

        def f(x):
            return phi(((x[:, None, :] - C[None]) ** 2).sum(-1))

        if r == 1 or d == 1:
            expected, name = m * (m - 1) // 2, f"so({m})"
            note = "d = 1: one radial function about a combined centre" if r == 2 else ""
        else:
            expected, name = (m - 1) * (m - 2) // 2, f"so({m - 1})"
            note = ""
    cand = sl.se(m) if group == "SE" else sl.t(m)
    q = cand.dim
    N = max(200, 4 * q)
    X = torch.randn(N, m, generator=gen, dtype=DTYPE)
    return {"key": key, "family": family, "group": group, "m": m, "r": r, "d": d, "monomials": n_mon, "q": q,
            "N": N, "expected_dim": expected, "expected_name": name, "note": note, "_f": f, "_X": X, "_cand": cand}


def exact_grid(quick: bool) -> list[tuple]:
    ms = (5, 7) if quick else range(5, 11)
    cases = []
    for m in ms:
        for r in ((1, 2) if quick else (1, 2, 3)):
            for d in ((2,) if quick else (2, 3)):
                cases.append(("phi(U^T x)", "SE", m, r, d))
        for r in ((1, 3) if quick else (1, 2, 3)):
            d = 2 if (m + r) % 2 == 0 else 3                          # alternate degrees under T(m)
            cases.append(("phi(U^T x)", "T", m, r, d))
        for d in ((1, 3) if quick else (1, 2, 3)):
            cases.append(("phi(|x-c1|^2)", "SE", m, 1, d))
        for d in ((1, 2) if quick else (1, 2, 3)):
            cases.append(("phi(|x-c1|^2, |x-c2|^2)", "SE", m, 2, d))
    return cases


def bench_exact(args) -> dict:
    rows = []
    for spec in exact_grid(args.quick):
        c = exact_case(*spec)
        f, X, cand = c.pop("_f"), c.pop("_X"), c.pop("_cand")
        run = lambda: sl.discover(f, X, cand)                         # noqa: E731
        times, shares = time_interleaved({"discover": run}, args.exact_repeats, warmup=1)
        res = run()
        s = res.normalized_spectrum
        k = res.dim
        c.update({
            "found_dim": k, "match": k == c["expected_dim"],
            "name": res.identification.get("name"), "name_match": res.identification.get("name") == c["expected_name"],
            "aliases": res.identification.get("aliases", []),
            "gap_ratio": jf(res.gap_ratio), "largest_gap": {kk: jf(v) for kk, v in res.largest_gap.items()},
            "threshold": res.threshold, "closure_error": jf(res.closure_error),
            "smallest_broken_normalized": jf(s[res.rank - 1]) if res.rank > 0 else None,
            "largest_symmetric_normalized": jf(s[res.rank]) if res.rank < s.numel() else None,
            "seconds": summary(times["discover"]), "cpu_share": med(shares["discover"]),
        })
        rows.append(c)
        flag = "ok" if c["match"] else "MISMATCH"
        print(f"  {c['family']:<26} {c['group']:<2} m={c['m']:>2} r={c['r']} d={c['d']}: expected {c['expected_dim']:>2}, "
              f"found {k:>2} ({c['name']}) gap {fmt_g(res.gap_ratio)} closure {res.closure_error:.1e} "
              f"{fmt_s(c['seconds']['median_s'])} [{flag}]", flush=True)
    n_ok = sum(r["match"] for r in rows)
    n_name = sum(r["name_match"] for r in rows)
    return {"rule": "auto (the default: largest gap >= 10 above a 1e-12 floor, float64)", "n_cases": len(rows), "n_dim_match": n_ok,
            "n_name_match": n_name, "cases": rows}


# ---------------------------------------------------------------------------------------------- trained


class RawInputModel(torch.nn.Module):
    """F(x_raw) = y_mean + y_std * net((x_raw - x_mean) / x_scale): the trained net as a function of raw inputs."""

    def __init__(self, net: torch.nn.Module, stats):
        super().__init__()
        self.net = net
        for name, v in zip(("x_mean", "x_scale", "y_mean", "y_std"), stats):
            self.register_buffer(name, v.to(torch.float32).clone())

    def forward(self, x):
        return (self.y_mean + self.y_std * self.net((x - self.x_mean) / self.x_scale)).squeeze(-1)


class Squeeze(torch.nn.Module):
    """net(z)[:, 0]: the bare net on standardised inputs (a module, so discover evaluates a float64 copy)."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, z):
        return self.net(z).squeeze(-1)


TASKS = {
    # name: (dataset class, matrix size n, number of vector blocks, truth builder, truth label)
    "O5Synthetic": (sl.datasets.O5Synthetic, 5, 2, lambda: sl.so(5), "so(5)"),
    "ParticleInteraction": (sl.datasets.ParticleInteraction, 4, 4, lambda: sl.so(1, 3), "so(1,3)"),
}


def train_mlp(Xtr, Ytr, args, seed: int) -> tuple[torch.nn.Module, float]:
    torch.manual_seed(seed)
    net = mlp(Xtr.shape[1], args.width, args.depth, Ytr.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    g = torch.Generator().manual_seed(seed + 1000)
    x, y = Xtr.float(), Ytr.float()
    N = x.shape[0]
    B = min(args.batch, N)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        idx = torch.randint(N, (B,), generator=g) if B < N else slice(None)
        loss = ((net(x[idx]) - y[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    return frozen(net), time.perf_counter() - t0


def bench_trained(args) -> dict:
    out = {"architecture": f"MLP n_in -> {args.width} x {args.depth} (SiLU) -> 1, float32 training, discovery on a "
                           f"float64 copy", "steps": args.steps, "lr": args.lr, "batch": args.batch,
           "optimizer": "Adam, cosine decay to 0", "loss": "MSE on standardised targets", "rule": "gap",
           "min_gap": args.min_gap, "discovery_samples": "the 5000 raw test inputs (X_raw of the test split)",
           "runs": []}
    for task, sizes in (("O5Synthetic", args.o5_sizes), ("ParticleInteraction", args.pi_sizes)):
        cls, n, blocks, truth_fn, truth_name = TASKS[task]
        ds = cls()                                                   # EMLP's 36,000 samples, seed 2021
        truth = truth_fn()
        st = ds.stats
        per_block = st.x_scale.reshape(blocks, n)
        std_info = {"x_mean_max_abs": float(st.x_mean.abs().max()),
                    "x_scale_per_block": [float(v) for v in per_block[:, 0]],
                    "x_scale_constant_within_blocks": bool((per_block == per_block[:, :1]).all()),
                    "y_mean": float(st.y_mean[0]), "y_std": float(st.y_std[0])}
        out.setdefault("standardisation", {})[task] = std_info
        G = sl.GL(n)
        rep_in = sl.V(G)
        for _ in range(blocks - 1):
            rep_in = rep_in + sl.V(G)
        cand = sl.gl(n)
        q, k = cand.dim, truth.dim
        for N in sizes:
            for seed in args.seeds:
                (Xtr, Ytr), _, (Xte, Yte) = ds.split(N)
                net, t_train = train_mlp(Xtr, Ytr, args, seed)
                with torch.no_grad():
                    mse_te = float(((net(Xte.float()).double() - Yte) ** 2).mean())
                    mse_tr = float(((net(Xtr.float()).double() - Ytr) ** 2).mean())
                F = RawInputModel(net, st)
                Xraw = ds.X_raw[-Yte.shape[0]:]
                t0 = time.perf_counter()
                res = sl.discover(F, Xraw, cand, rep_in=rep_in, rule="gap", min_gap=args.min_gap)
                t_disc = time.perf_counter() - t0
                # the same on the standardised inputs with the bare net (x_scale per block commutes with gl(n))
                res_std = sl.discover(Squeeze(net), Xte, cand, rep_in=rep_in, rule="gap",
                                      min_gap=args.min_gap)
                s = res.normalized_spectrum
                s_std = res_std.normalized_spectrum
                dist, dist_err = distance(res, truth)
                sv = res.singular_values
                row = {
                    "task": task, "truth": truth_name, "N_train": N, "seed": seed, "q": q, "truth_dim": k,
                    "train_s": t_train, "test_mse_standardised": mse_te, "train_mse_standardised": mse_tr,
                    "test_mse_raw": mse_te * std_info["y_std"] ** 2,
                    "normalized_spectrum": [float(v) for v in s],
                    "found_dim": res.dim, "gap_ratio": jf(res.gap_ratio),
                    "largest_gap": {kk: jf(v) for kk, v in res.largest_gap.items()},
                    f"sigma_{q - k}/sigma_{q - k + 1}": float(sv[q - k - 1] / sv[q - k]),
                    "ratio_at_truth_dim": float(sv[q - k - 1] / sv[q - k]),
                    "distance_to_truth": dist, "distance_to_error": dist_err,
                    "forced_k_distance": forced_distance(res, truth),
                    "identification": res.identification.get("name"),
                    "identification_description": res.identification.get("description"),
                    "closure_error": jf(res.closure_error), "discover_s": t_disc,
                    "standardised_inputs_check_max_rel_diff": float(((s_std - s).abs() / s).max()),
                    "standardised_inputs_found_dim": res_std.dim,
                }
                out["runs"].append(row)
                print(f"  {task} N={N} seed={seed}: train {t_train:.1f} s, test MSE {mse_te:.4g} (std) / "
                      f"{row['test_mse_raw']:.4g} (raw); found dim {res.dim} ({row['identification']}), largest gap "
                      f"{fmt_g(res.largest_gap['ratio'])} -> dim {res.largest_gap['dim']}, sigma_{q - k}/sigma_"
                      f"{q - k + 1} = {row['ratio_at_truth_dim']:.3g}, dist {dist:.3g}, forced-{k} dist "
                      f"{row['forced_k_distance']:.3g}", flush=True)
                if dist_err:
                    print(f"    distance_to raised {dist_err}; using sqrt(k) pi/2", flush=True)
    return out


# ---------------------------------------------------------------------------------------------- speed


SPEED_MODELS = {
    # name: (n_in, n_out, width, n (matrix size), blocks, description)
    "scalar-128": (10, 1, 128, 5, 2, "O5 MLP 10 -> 128 x 3 -> 1 (SiLU), gl(5) on two 5-vectors, q = 25"),
    "scalar-256": (10, 1, 256, 5, 2, "O5 MLP 10 -> 256 x 3 -> 1 (SiLU), gl(5) on two 5-vectors, q = 25"),
    "vector-128": (6, 3, 128, 3, 2, "MLP 6 -> 128 x 3 -> 3 (SiLU), rep_in = V + V, rep_out = V of GL(3), q = 9"),
    # float32 models (as trained networks usually are): the loop and sl.discover(..., dtype=None) both in float32
    "scalar-128-f32": (10, 1, 128, 5, 2, "float32: O5 MLP 10 -> 128 x 3 -> 1 (SiLU), q = 25, discover(dtype=None)"),
    "vector-128-f32": (6, 3, 128, 3, 2, "float32: MLP 6 -> 128 x 3 -> 3 (SiLU), V + V -> V, q = 9, discover(dtype=None)"),
}


def speed_dtype(name: str) -> torch.dtype:
    return torch.float32 if name.endswith("-f32") else DTYPE


def speed_setup(name: str, N: int, seed: int = 0):
    n_in, n_out, width, n, blocks, _ = SPEED_MODELS[name]
    torch.manual_seed(seed)
    dt = speed_dtype(name)
    model = frozen(mlp(n_in, width, 3, n_out).to(dt))
    G = sl.GL(n)
    rep_in = sl.V(G)
    for _ in range(blocks - 1):
        rep_in = rep_in + sl.V(G)
    rep_out = sl.V(G) if n_out > 1 else None
    X = torch.randn(N, n_in, generator=torch.Generator().manual_seed(seed + 1), dtype=DTYPE).to(dt)
    return model, X, sl.gl(n), rep_in, rep_out


def call_model(model, n_out):
    """The model as discover sees it: (N, n_in) -> (N,) for scalar outputs, (N, n_out) otherwise."""
    return (lambda z: model(z).squeeze(-1)) if n_out == 1 else model


def loop_spectrum(model, X: torch.Tensor, A: torch.Tensor, n: int, vector_out: bool) -> torch.Tensor:
    """LieSD-style per-sample reference in plain torch: RMS singular values of the (N n_out, q) operator.

    For each sample: y = f(x_n), g_a = d y_a / d x_n by torch.autograd.grad (one call per output component),
    row[j] = g_a . (A_j x_n) - (A_j y)_a, C^T C += row row^T; finally eigh(C^T C / N)."""
    q = A.shape[0]
    CtC = torch.zeros(q, q, dtype=X.dtype)
    N = X.shape[0]
    for i in range(N):
        xn = X[i].detach().clone().requires_grad_(True)
        y = model(xn)                                                 # (n_out,)
        v = torch.einsum("kab,pb->kpa", A, xn.detach().reshape(-1, n)).reshape(q, -1)   # (q, n_in): A_j x_n
        n_out = y.shape[0]
        Ay = A @ y.detach() if vector_out else None                   # (q, n_out)
        for a in range(n_out):
            (g,) = torch.autograd.grad(y[a], xn, retain_graph=a < n_out - 1)
            row = v @ g
            if vector_out:
                row = row - Ay[:, a]
            CtC.addr_(row, row)
    ev = torch.linalg.eigh(CtC / N).eigenvalues
    return ev.clamp(min=0).sqrt().flip(0)


def vmap_jacrev_spectrum(model, X: torch.Tensor, A: torch.Tensor, n: int, vector_out: bool) -> torch.Tensor:
    """The idiomatic batched torch.func baseline, in plain torch: the same RMS singular values as loop_spectrum.

    J = torch.func.vmap(torch.func.jacrev(f_single))(X) (f_single: one sample (n_in,) -> (n_out,); F(X) comes
    back as the auxiliary output of the same pass), rows C[n, a, j] = J[n, a] . (A_j x_n) - (A_j F(x_n))_a for
    all samples at once, then eigh(C^T C / N). No chunking (N = 10^4 fits easily)."""
    N, n_in = X.shape
    q = A.shape[0]

    def f_single(z):
        y = model(z.unsqueeze(0))[0]
        return y, y

    J, Y = torch.func.vmap(torch.func.jacrev(f_single, has_aux=True))(X)              # (N, n_out, n_in), (N, n_out)
    V = torch.einsum("kab,npb->knpa", A, X.reshape(N, -1, n)).reshape(q, N, n_in)     # v_j(x_n) = A_j x_n per block
    C = torch.einsum("nai,kni->nak", J, V)                                            # (N, n_out, q)
    if vector_out:
        C = C - torch.einsum("kab,nb->nak", A, Y)                                     # - (A_j F(x_n))_a
    C = C.reshape(-1, q)
    ev = torch.linalg.eigh(C.T @ C / N).eigenvalues
    return ev.clamp(min=0).sqrt().flip(0)


def bench_speed_vs_loop(name: str, args) -> dict:
    n_in, n_out, width, n, blocks, desc = SPEED_MODELS[name]
    N = args.speed_n
    model, X, cand, rep_in, rep_out = speed_setup(name, N)
    dt = speed_dtype(name)
    A = cand.basis.to(dt)
    f = call_model(model, n_out)
    kw = {"dtype": None} if dt == torch.float32 else {}
    fns = {"loop": lambda: loop_spectrum(model, X, A, n, n_out > 1),
           "symlie": lambda: sl.discover(f, X, cand, rep_in=rep_in, rep_out=rep_out, **kw),
           "vmap_jacrev": lambda: vmap_jacrev_spectrum(model, X, A, n, n_out > 1)}
    s_loop = fns["loop"]()
    res = fns["symlie"]()
    s_vm = fns["vmap_jacrev"]().to(torch.float64)
    s_sym = res.singular_values
    s_loop = s_loop.to(torch.float64)
    rel = (s_sym - s_loop).abs() / s_loop
    rel_vm = (s_sym - s_vm).abs() / s_vm
    times, shares = time_interleaved(
        fns, {"loop": args.loop_repeats, "symlie": args.repeats, "vmap_jacrev": args.repeats}, warmup=0)
    ratios = [lt / st for lt, st in zip(times["loop"], times["symlie"])]
    ratios_vm = [vt / st for vt, st in zip(times["vmap_jacrev"], times["symlie"])]
    row = {"model": name, "description": desc, "N": N, "q": cand.dim, "n_out": n_out,
           "autodiff_auto_resolves_to": _autodiff_mode("auto", cand.dim, n_in, n_out),
           "symlie": summary(times["symlie"]), "loop": summary(times["loop"]),
           "cpu_share": {k: med(v) for k, v in shares.items()},
           "loop_per_sample_us": med(times["loop"]) / N * 1e6,
           "speedup_median_of_ratios": med(ratios), "speedup_ratio_of_medians": med(times["loop"]) / med(times["symlie"]),
           "speedup_ratio_of_minima": min(times["loop"]) / min(times["symlie"]),
           "target_20x_met": med(ratios) >= 20,
           "vmap_jacrev": summary(times["vmap_jacrev"]),
           "speedup_vs_vmap_jacrev_median_of_ratios": med(ratios_vm),
           "speedup_vs_vmap_jacrev_ratio_of_medians": med(times["vmap_jacrev"]) / med(times["symlie"]),
           "speedup_vs_vmap_jacrev_ratio_of_minima": min(times["vmap_jacrev"]) / min(times["symlie"]),
           "vmap_jacrev_speedup_vs_loop_ratio_of_medians": med(times["loop"]) / med(times["vmap_jacrev"]),
           "spectrum_max_rel_diff": float(rel.max()),
           "vmap_jacrev_spectrum_max_rel_diff": float(rel_vm.max()),
           "spectrum_max_diff_over_sigma1": float((s_sym - s_loop).abs().max() / s_loop[0]),
           "singular_values_symlie": [float(v) for v in s_sym], "singular_values_loop": [float(v) for v in s_loop]}
    print(f"  [{name}] N={N}: symlie {fmt_s(row['symlie']['median_s'])}, loop {fmt_s(row['loop']['median_s'])} "
          f"({row['loop_per_sample_us']:.0f} us/sample), vmap(jacrev) {fmt_s(row['vmap_jacrev']['median_s'])}; "
          f"speed-up vs loop x{row['speedup_median_of_ratios']:.1f}, vs vmap(jacrev) "
          f"x{row['speedup_vs_vmap_jacrev_median_of_ratios']:.2f}; spectrum max rel diff "
          f"{row['spectrum_max_rel_diff']:.1e} (loop), {row['vmap_jacrev_spectrum_max_rel_diff']:.1e} (vmap(jacrev))",
          flush=True)
    return row


def bench_modes(name: str, args) -> dict:
    n_in, n_out, width, n, blocks, desc = SPEED_MODELS[name]
    N = args.speed_n
    model, X, cand, rep_in, rep_out = speed_setup(name, N)
    f = call_model(model, n_out)
    q = cand.dim

    def fwd():
        with torch.no_grad():
            return f(X)

    fns = {"forward (no grad)": fwd}
    for mode in ("auto", "tangent", "jacfwd", "jacrev"):
        fns[mode] = (lambda mode=mode: sl.discover(f, X, cand, rep_in=rep_in, rep_out=rep_out, autodiff=mode))
    reps = {k: args.repeats for k in fns}
    reps["tangent"] = args.tangent_repeats
    times, shares = time_interleaved(fns, reps, warmup=0 if args.quick else 1)
    t_fwd = med(times["forward (no grad)"])
    spectra = {m: fns[m]().singular_values for m in ("tangent", "jacfwd", "jacrev")}
    agree = max(float(((spectra[m] - spectra["jacrev"]).abs() / spectra["jacrev"]).max()) for m in spectra)
    model_cost = autodiff_costs(q, n_in, n_out)
    rows = []
    for k, ts in times.items():
        r = {"mode": k, **summary(ts), "cpu_share": med(shares[k]), "forward_equivalents": med(ts) / t_fwd}
        if k in model_cost:
            r["cost_model_forward_equivalents"] = model_cost[k]
        rows.append(r)
    out = {"model": name, "description": desc, "N": N, "q": q, "n_in": n_in, "n_out": n_out,
           "auto_resolves_to": _autodiff_mode("auto", q, n_in, n_out), "modes": rows,
           "spectra_max_rel_diff_between_modes": agree}
    print(f"  [{name}] modes: " + ", ".join(f"{r['mode']} {fmt_s(r['median_s'])} ({r['forward_equivalents']:.1f} fwd)"
                                            for r in rows) + f"; spectra agree to {agree:.1e}", flush=True)
    return out


# ---------------------------------------------------------------------------------------------- memory


def _maxrss_kib() -> float:
    v = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return v / 1024 if sys.platform == "darwin" else v


def memory_child(spec: dict) -> dict:
    """In a fresh process: peak-RSS increase of one sl.discover call over the state after imports, model, data."""
    torch.set_num_threads(spec["threads"])
    rss_import = _proc_status_kib("VmRSS")
    name, N = spec["model"], spec["N"]
    n_in, n_out, width, n, blocks, _ = SPEED_MODELS[name]
    torch.manual_seed(0)
    model = frozen(mlp(n_in, width, 3, n_out).to(DTYPE))
    G = sl.GL(n)
    rep_in = sl.V(G) + sl.V(G)
    X = torch.randn(N, n_in, generator=torch.Generator().manual_seed(1), dtype=DTYPE)   # one allocation
    f = call_model(model, n_out)
    sl.discover(f, X[:512], sl.gl(n), rep_in=rep_in)                  # warm-up: kernels, lazy initialisation
    gc.collect()
    rss_before = _proc_status_kib("VmRSS")
    maxrss_before = _maxrss_kib()
    reset = _reset_peak_rss()
    t0 = time.perf_counter()
    if spec.get("what", "discover") == "discover":
        res = sl.discover(f, X, sl.gl(n), rep_in=rep_in)
        extra = {"batch_size": res.info["batch_size"], "found_dim": res.dim}
    else:   # attribution: only the NaN/Inf validation that sl.discover runs on the whole X before streaming
        from symlie.utils.validation import check_finite
        check_finite(X, "X")
        extra = {}
    dt = time.perf_counter() - t0
    hwm = _proc_status_kib("VmHWM")
    maxrss_after = _maxrss_kib()
    return {**spec, "data_MiB": X.numel() * X.element_size() / 2**20, "rss_after_import_MiB": (rss_import or 0) / 1024,
            "rss_before_call_MiB": rss_before / 1024, "ru_maxrss_before_call_MiB": maxrss_before / 1024,
            "ru_maxrss_after_call_MiB": maxrss_after / 1024,
            "extra_peak_ru_maxrss_MiB": (maxrss_after - rss_before) / 1024,
            "ru_maxrss_delta_MiB": (maxrss_after - maxrss_before) / 1024,
            "extra_peak_vmhwm_MiB": (hwm - rss_before) / 1024 if reset and hwm is not None else None,
            "vmhwm_reset": reset, "seconds": dt, "us_per_sample": dt / N * 1e6, **extra}


def _run_child(spec: dict) -> dict:
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--_memory-child", json.dumps(spec)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {**spec, "error": (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_memory(args) -> list[dict]:
    out = []
    for N in args.memory_ns:
        spec = {"model": "scalar-128", "N": N, "threads": args.threads}
        res = _run_child({**spec, "what": "discover"})
        if "error" in res:
            print(f"  memory N={N}: FAILED {res['error']}", flush=True)
        else:
            chk = _run_child({**spec, "what": "nan_check"})
            res["nan_check_peak_MiB"] = chk.get("extra_peak_vmhwm_MiB")
            res["nan_check_child"] = chk
            print(f"  memory N={N:>8,}: data {res['data_MiB']:.1f} MiB, extra peak {res['extra_peak_vmhwm_MiB']:.1f} MiB "
                  f"(VmHWM) / {res['extra_peak_ru_maxrss_MiB']:.1f} MiB (ru_maxrss - RSS before), "
                  f"{res['seconds']:.2f} s ({res['us_per_sample']:.1f} us/sample); NaN check alone "
                  f"{res['nan_check_peak_MiB']:.1f} MiB", flush=True)
        out.append(res)
    return out


VS_LOOP_KEYS = ("N", "repeats_symlie", "repeats_loop", "repeats_vmap_jacrev", "loop_description",
                "vmap_jacrev_description", "symlie_call", "vs_loop")


def bench_speed(args, memory: list | None) -> dict:
    out = {"N": args.speed_n}
    if "vs_loop" in args.speed_parts:
        out.update({
            "repeats_symlie": args.repeats, "repeats_loop": args.loop_repeats, "repeats_vmap_jacrev": args.repeats,
            "loop_description": "per sample: x_n.requires_grad_(), y = f(x_n), torch.autograd.grad per output "
                                "component, rows g_a . (A_j x_n) - (A_j y)_a, C^T C += row row^T; eigh at the end",
            "vmap_jacrev_description": "all samples at once: J = torch.func.vmap(torch.func.jacrev(f_single))(X) "
                                       "(f_single: (n_in,) -> (n_out,), F(X) as its auxiliary output), rows "
                                       "C[n, a, j] = J[n, a] . (A_j x_n) - (A_j F(x_n))_a, eigh(C^T C / N)",
            "symlie_call": "sl.discover(f, X, sl.gl(n), rep_in=..., rep_out=...) with defaults (autodiff='auto', "
                           "accumulate='qr', batch_size=4096, rule='rtol')",
            "vs_loop": []})
        names = (["scalar-128", "vector-128", "scalar-128-f32"] if args.quick else
                 ["scalar-128", "scalar-256", "vector-128", "scalar-128-f32", "vector-128-f32"])
        for name in names:
            out["vs_loop"].append(bench_speed_vs_loop(name, args))
    if "modes" in args.speed_parts:
        out["modes"] = [bench_modes(name, args) for name in ("scalar-128", "vector-128")]
    if memory is not None:
        out["memory"] = memory
    return out


def merge_results(old: dict, new: dict, args) -> dict:
    """``--update``: the refreshed sections / parts of ``new`` replace those of ``old``; everything else, and the
    top-level command, date and environment of the original run, is kept. ``refreshed`` records what changed."""
    parts = []
    res = dict(old)
    for sec in args.sections:
        if sec != "speed":
            res[sec] = new[sec]
            parts.append(sec)
            continue
        if set(args.speed_parts) == set(SPEED_PARTS) or "speed" not in old:
            res["speed"] = new["speed"]
            parts.append("speed")
            continue
        sp = dict(old["speed"])
        if sp.get("N") != new["speed"]["N"] and any(p in args.speed_parts for p in ("vs_loop", "modes")) and \
                set(args.speed_parts) != set(SPEED_PARTS):
            raise SystemExit(f"--update: the stored speed section has N = {sp.get('N')}, this run "
                             f"{new['speed']['N']}; refresh all parts or use the same --speed-n")
        for p in args.speed_parts:
            keys = VS_LOOP_KEYS if p == "vs_loop" else (p,)
            for k in keys:
                if k in new["speed"]:
                    sp[k] = new["speed"][k]
            parts.append(f"speed.{p}")
        res["speed"] = sp
    res["refreshed"] = list(old.get("refreshed", [])) + [{
        "parts": parts, "date": new["date"], "command": new["command"], "environment": new["environment"],
        "settings": new["settings"], "wall_s": new["total_wall_s"],
        "wall_s_by_section": {s: new[s].get("wall_s") for s in args.sections if s in new}}]
    return res


# ---------------------------------------------------------------------------------------------- report


def md_exact(ex: dict) -> list[str]:
    L = ["## 1. Exact symmetries (known algebra)\n",
         f"Rank rule: {ex['rule']}; N = max(200, 4 q) samples x ~ N(0, I_m); seconds = median of "
         f"the timed calls. **{ex['n_dim_match']} of {ex['n_cases']} dimensions match** the expected value; "
         f"{ex['n_name_match']} of {ex['n_cases']} identifications give the expected name.\n",
         "| family | group | m | r | d | expected | found | name | gap at cut | closure | seconds | N |",
         "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for c in ex["cases"]:
        found = f"{c['found_dim']}" if c["match"] else f"**{c['found_dim']} (MISMATCH)**"
        name = c["name"] if c["name_match"] else f"{c['name']} (expected {c['expected_name']})"
        if c["note"]:
            name += " †"
        fam = c["family"].replace("|", "\\|")                       # a pipe would end the table cell
        L.append(f"| {fam} | {c['group']}({c['m']}) | {c['m']} | {c['r']} | {c['d']} | {c['expected_dim']} | "
                 f"{found} | {name} | {fmt_g(c['gap_ratio'])} | {c['closure_error']:.1e} | "
                 f"{fmt_s(c['seconds']['median_s'])} | {c['N']} |")
    if any(c["note"] for c in ex["cases"]):
        L.append("\n† d = 1 with two centres: a |x - c1|^2 + b |x - c2|^2 is one radial function about "
                 "(a c1 + b c2)/(a + b), so the expected symmetry is so(m), not so(m - 1).")
    gaps = [c["gap_ratio"] for c in ex["cases"] if isinstance(c["gap_ratio"], float)]
    sym = [c["largest_symmetric_normalized"] for c in ex["cases"] if c["largest_symmetric_normalized"] is not None]
    brk = [c["smallest_broken_normalized"] for c in ex["cases"] if c["smallest_broken_normalized"] is not None]
    if gaps:
        L.append(f"\nGap at the cut: min {min(gaps):.2g}, median {med(gaps):.2g}. Largest symmetric value / reference: "
                 f"max {max(sym) if sym else float('nan'):.1e}; smallest broken value / reference: min "
                 f"{min(brk) if brk else float('nan'):.1e} (the auto rule cuts at the largest gap >= 10 above the 1e-12 floor; the earlier default rtol 1e-6 lies inside the same gap).\n")
    return L


def md_trained(tr: dict) -> list[str]:
    L = ["## 2. Trained MLPs (EMLP synthetic tasks)\n",
         f"{tr['architecture']}; Adam lr {tr['lr']} ({tr['optimizer']}), batch min({tr['batch']}, N), {tr['steps']} "
         f"steps; discovery over {tr['discovery_samples']} with rule='gap', min_gap={tr['min_gap']}, on "
         "F(x_raw) = y_mean + y_std net((x_raw - x_mean)/x_scale). Test MSE on the 5000 test points, standardised "
         "targets (raw = standardised x y_std^2; published MLP at N = 1000 on the raw scale: O5 0.0892, "
         "ParticleInteraction 0.364). ratio = sigma_{q-k}/sigma_{q-k+1} (k = dim of the truth); dist = Grassmann "
         "distance (radians) of the found algebra to the truth; forced-k dist = same for the k least-violated "
         "directions.\n"]
    std = tr.get("standardisation", {})
    if std:
        L.append("Standardisation: " + "; ".join(
            f"{t}: x_mean = 0 (max |x_mean| {v['x_mean_max_abs']:.1g}), x_scale one value per block "
            f"({', '.join(f'{s:.4g}' for s in v['x_scale_per_block'])}; constant within blocks: "
            f"{v['x_scale_constant_within_blocks']}), y_std {v['y_std']:.4g}" for t, v in std.items())
                 + ". A per-block scalar commutes with gl(n) acting on every block, so standardisation keeps the "
                   "symmetry here; the std-input check column is the max relative difference between the normalised spectrum "
                   "of the bare net on standardised inputs and that of the composite function on raw inputs.\n")
    L.append("| task | N | seed | test MSE (std / raw) | train MSE | found dim (gap>=10) | name | largest gap -> dim "
             "| ratio | dist | forced-k dist | closure | std-input check | train s |")
    L.append("|---|---:|---:|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|")
    for r in tr["runs"]:
        lg = r["largest_gap"]
        L.append(f"| {r['task']} ({r['truth']}, q={r['q']}) | {r['N_train']:,} | {r['seed']} | "
                 f"{r['test_mse_standardised']:.3g} / {r['test_mse_raw']:.3g} | {r['train_mse_standardised']:.2g} | "
                 f"{r['found_dim']} | {r['identification']} | {fmt_g(lg['ratio'])} -> {int(lg['dim'])} | "
                 f"{r['ratio_at_truth_dim']:.3g} | {r['distance_to_truth']:.3g}{' ‡' if r['distance_to_error'] else ''} | "
                 f"{r['forced_k_distance']:.3g} | {fmt_g(r['closure_error'], 2)} | "
                 f"{r['standardised_inputs_check_max_rel_diff']:.0e} | {r['train_s']:.0f} |")
    if any(r["distance_to_error"] for r in tr["runs"]):
        err = next(r["distance_to_error"] for r in tr["runs"] if r["distance_to_error"])
        L.append(f"\n‡ dim 0: `SymmetryResult.distance_to` raised `{err}`; shown is the documented value for a "
                 "missing dimension, sqrt(k) pi/2.")
    L.append("\nNormalised spectra (sigma_i / reference, descending):\n")
    L.append("```")
    for r in tr["runs"]:
        L.append(f"{r['task'][:6]} N={r['N_train']:<6} seed={r['seed']}: " + " ".join(f"{v:.2e}" for v in r["normalized_spectrum"]))
    L.append("```\n")
    return L


def md_speed(sp: dict) -> list[str]:
    L = ["## 3. Speed and memory\n"]
    if sp.get("vs_loop"):
        vm = any("vmap_jacrev" in r for r in sp["vs_loop"])
        L.append(f"`sl.discover` vs the per-sample autograd loop ({sp['loop_description']})"
                 + (f" and vs `vmap(jacrev)` ({sp['vmap_jacrev_description']})" if vm else "")
                 + f", N = {sp['N']:,}, float64 unless the "
                 "row says float32 (then the model, X and the baselines are float32 and `sl.discover(..., dtype=None)` "
                 "evaluates the model in float32; the spectrum is still accumulated in float64), same "
                 f"model (random init, parameters frozen), {sp['repeats_symlie']} repeats of symlie"
                 + (f", {sp.get('repeats_vmap_jacrev', sp['repeats_symlie'])} of vmap(jacrev)" if vm else "")
                 + f" and {sp['repeats_loop']} of the loop, interleaved; speed-up = median of per-repeat ratios "
                 "baseline time / symlie time (> 1: symlie is faster).\n")
        if vm:
            L += ["| model | q | n_out | sl.discover | loop | loop us/sample | vmap(jacrev) | speed-up vs loop | >= 20x | "
                  "speed-up vs vmap(jacrev) | spectrum max rel diff (loop, vmap(jacrev)) | CPU share (symlie, loop, "
                  "vmap(jacrev)) |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---|"]
        else:
            L += ["| model | q | n_out | sl.discover | loop | loop us/sample | speed-up | >= 20x | spectrum max rel diff | "
                  "CPU share (symlie, loop) |",
                  "|---|---:|---:|---:|---:|---:|---:|---|---:|---|"]
        for r in sp["vs_loop"]:
            head = (f"| {r['description']} | {r['q']} | {r['n_out']} | {fmt_s(r['symlie']['median_s'])} | "
                    f"{fmt_s(r['loop']['median_s'])} | {r['loop_per_sample_us']:.0f} | ")
            met = "yes" if r["target_20x_met"] else "no"
            if vm:
                L.append(head + f"{fmt_s(r['vmap_jacrev']['median_s'])} | x{r['speedup_median_of_ratios']:.1f} | {met} | "
                         f"x{r['speedup_vs_vmap_jacrev_median_of_ratios']:.2f} | {r['spectrum_max_rel_diff']:.1e}, "
                         f"{r['vmap_jacrev_spectrum_max_rel_diff']:.1e} | {r['cpu_share']['symlie']:.2f}, "
                         f"{r['cpu_share']['loop']:.2f}, {r['cpu_share']['vmap_jacrev']:.2f} |")
            else:
                L.append(head + f"x{r['speedup_median_of_ratios']:.1f} | {met} | {r['spectrum_max_rel_diff']:.1e} | "
                         f"{r['cpu_share']['symlie']:.2f}, {r['cpu_share']['loop']:.2f} |")
        met = [r for r in sp["vs_loop"] if r["target_20x_met"]]
        miss = [r for r in sp["vs_loop"] if not r["target_20x_met"]]
        sent = "The 20x target is " + ("met for every model" if not miss else
                                       ("met for " + ", ".join(r["model"] for r in met) + " and missed for " if met
                                        else "missed for ") + ", ".join(
                                           f"{r['model']} (x{r['speedup_median_of_ratios']:.1f})" for r in miss)) + "."
        txt = ("\n" + sent + " The loop's cost per sample is mostly fixed Python/autograd overhead, while "
               "`sl.discover` is bound by the arithmetic of the batched passes, so the factor shrinks as the model "
               "grows (compare widths 128 and 256).")
        if vm:
            sv = [r["speedup_vs_vmap_jacrev_median_of_ratios"] for r in sp["vs_loop"]]
            vl = [r["vmap_jacrev_speedup_vs_loop_ratio_of_medians"] for r in sp["vs_loop"]]
            txt += (f" Against `vmap(jacrev)`, which batches the same reverse-mode Jacobians without symlie, the "
                    f"speed-up is only x{min(sv):.2f}-x{max(sv):.2f} (" + ", ".join(
                        f"{r['model']} x{r['speedup_vs_vmap_jacrev_median_of_ratios']:.2f}" for r in sp["vs_loop"])
                    + f"); `vmap(jacrev)` itself is x{min(vl):.1f}-x{max(vl):.1f} faster than the loop. Most of the "
                    "gain over the loop is batching, not something specific to `sl.discover`; what `sl.discover` adds "
                    "is streaming in batches of 4096 (bounded memory, see below), the rank decision and the "
                    "identification.")
        L.append(txt + "\n")
    if sp.get("modes"):
        L += md_modes(sp)
    L += md_memory(sp)
    return L


def md_modes(sp: dict) -> list[str]:
    L = []
    L.append("`autodiff` modes of `sl.discover` (same N); forward equivalents = time / one no-grad forward pass over "
             "the N samples; cost model = the estimate `autodiff='auto'` uses "
             "(`symlie.derivative.autodiff.resolve_autodiff`).\n")
    L.append("| model | mode | time | forward equivalents | cost model |")
    L.append("|---|---|---:|---:|---:|")
    for m in sp["modes"]:
        for r in m["modes"]:
            mode = r["mode"] + (f" (-> {m['auto_resolves_to']})" if r["mode"] == "auto" else "")
            L.append(f"| {m['model']} (q={m['q']}, n_in={m['n_in']}, n_out={m['n_out']}) | {mode} | {fmt_s(r['median_s'])} | "
                     f"{r['forward_equivalents']:.1f} | {fmt_g(r.get('cost_model_forward_equivalents'))} |")
    L.append("\nThe three modes agree: " + ", ".join(f"{m['model']} max rel diff {m['spectra_max_rel_diff_between_modes']:.1e}"
                                                   for m in sp["modes"]) + ".\n")
    return L


def md_memory(sp: dict) -> list[str]:
    L = []
    mem = sp.get("memory")
    if mem:
        L.append("Peak memory of one `sl.discover` call (scalar-128 model, default batch_size 4096) in a fresh process: "
                 "extra peak RSS over the RSS after imports, model, data and a warm-up call. VmHWM: the kernel's peak "
                 "reset just before the call; ru_maxrss: `getrusage(RUSAGE_SELF).ru_maxrss` minus the RSS before the "
                 "call (an upper bound: it keeps earlier peaks). The data X itself is listed separately.\n")
        L.append("| N | data X | RSS before call | extra peak (VmHWM) | extra peak (ru_maxrss) | NaN check of X alone "
                 "(separate process) | time | us/sample |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in mem:
            if "error" in r:
                L.append(f"| {r['N']:,} | failed: {r['error']} | | | | | | |")
                continue
            vm = r["extra_peak_vmhwm_MiB"]
            L.append(f"| {r['N']:,} | {r['data_MiB']:.1f} MiB | {r['rss_before_call_MiB']:.0f} MiB | "
                     f"{'-' if vm is None else f'{vm:.1f} MiB'} | {r['extra_peak_ru_maxrss_MiB']:.1f} MiB | "
                     f"{fmt_g(r['nan_check_peak_MiB'])} MiB | {fmt_s(r['seconds'])} | {r['us_per_sample']:.1f} |")
        ok = [r for r in mem if "error" not in r and r["extra_peak_vmhwm_MiB"] is not None]
        if ok:
            big = ok[-1]
            small = ok[0]
            grow = big["extra_peak_vmhwm_MiB"] - small["extra_peak_vmhwm_MiB"]
            txt = (f"\nAt N = {big['N']:,} the call needs {big['extra_peak_vmhwm_MiB']:.1f} MiB beyond the "
                   f"{big['data_MiB']:.0f} MiB of data, against {small['extra_peak_vmhwm_MiB']:.1f} MiB at N = "
                   f"{small['N']:,} ({big['N'] // small['N']}x fewer samples): {'+' if grow >= 0 else ''}{grow:.0f} MiB, "
                   f"while the data grew by {big['data_MiB'] - small['data_MiB']:.0f} MiB.")
            nc = big.get("nan_check_peak_MiB")
            if nc is not None:
                txt += (f" The NaN/Inf validation of the whole X that `sl.discover` runs before streaming "
                        f"(`symlie.utils.validation.check_finite`: a finite sum proves every entry finite, a mask is built "
                        f"only when it is not) alone peaks at {nc:.0f} MiB "
                        f"at N = {big['N']:,} ({nc / big['data_MiB']:.1f}x the data)")
                txt += (", so at large N it, not the streamed batches, sets the peak: the extra memory is not "
                        "strictly bounded by one batch." if nc > 0.5 * big["extra_peak_vmhwm_MiB"] else ".")
            L.append(txt + "\n")
    return L


def reading(res: dict) -> str:
    """A paragraph interpreting this run's numbers (generated, so it follows the data)."""
    P = []
    paras = []
    ex = res.get("exact")
    if ex:
        bad = [c for c in ex["cases"] if not c["match"]]
        P.append(f"Exact: {ex['n_dim_match']} of {ex['n_cases']} discovered dimensions equal the expected ones"
                 + ("" if not bad else " (mismatches: " + ", ".join(c["key"] for c in bad) + ")") + ".")
        unnamed = [c for c in ex["cases"] if not c["name_match"]]
        if unnamed:
            exp = sorted({c["expected_name"] for c in unnamed}, key=lambda n: (len(n), n))
            got = sorted({str(c["name"]) for c in unnamed})
            P.append(f"{len(unnamed)} identifications differ from the expected name: expected {', '.join(exp)}, got "
                     f"{', '.join(got)}; `sl.identify_algebra` names simple algebras from a table of matrix size "
                     "<= 8 (`symlie.identify.simple_algebra_table(max_n=8)`), so so(9), so(10) and se(9) (Levi part "
                     "so(9)) are left unnamed even though their dimension and Killing signature are found.")
    paras.append(P)
    P = []
    tr = res.get("trained")
    if tr:
        for task in ("O5Synthetic", "ParticleInteraction"):
            runs = [r for r in tr["runs"] if r["task"] == task]
            if not runs:
                continue
            k = runs[0]["truth_dim"]
            parts = []
            for N in sorted({r["N_train"] for r in runs}):
                rs = [r for r in runs if r["N_train"] == N]
                found = "/".join(str(d) for d in sorted({r["found_dim"] for r in rs}))
                mse = ", ".join("%.2g" % r["test_mse_standardised"] for r in rs)
                ratio = ", ".join("%.3g" % r["ratio_at_truth_dim"] for r in rs)
                fdist = ", ".join("%.2g" % r["forced_k_distance"] for r in rs)
                parts.append(f"N = {N:,}: test MSE {mse} (standardised), found dim {found}, ratio at dim {k} "
                             f"{ratio}, forced-{k} distance {fdist}")
            P.append(f"{task} (truth {runs[0]['truth']}, dim {k}, over seeds {sorted({r['seed'] for r in runs})}): "
                     + "; ".join(parts) + ".")
        unclear = [r for r in tr["runs"] if r["found_dim"] != r["truth_dim"]]
        if unclear:
            P.append("Runs where the gap rule (min_gap 10) does not return the truth: "
                     + "; ".join(f"{r['task']} N = {r['N_train']:,} seed {r['seed']}: largest ratio "
                                 f"{fmt_g(r['largest_gap']['ratio'])} (at dim {int(r['largest_gap']['dim'])})"
                                 for r in unclear)
                     + ". The k least-violated directions are still close to the truth when the fit is good "
                       "(forced-k distance above), so a lower min_gap would recover the algebra there, at the risk "
                       "of false positives.")
    paras.append(P)
    P = []
    sp = res.get("speed")
    if sp:
        v = {r["model"]: r for r in sp.get("vs_loop", [])}
        if v:
            speedups = ", ".join("%s x%.1f" % (m, r["speedup_median_of_ratios"]) for m, r in v.items())
            missed = [m for m, r in v.items() if not r["target_20x_met"]]
            verdict = "met for every model" if not missed else "not met for " + ", ".join(missed)
            agree = max(r["spectrum_max_rel_diff"] for r in v.values())
            P.append(f"Speed at N = {sp['N']:,}: {speedups} faster than the per-sample loop (target 20x: {verdict}); "
                     f"spectra agree to {agree:.0e} relative.")
            if all("vmap_jacrev" in r for r in v.values()):
                svm = ", ".join("%s x%.2f" % (m, r["speedup_vs_vmap_jacrev_median_of_ratios"]) for m, r in v.items())
                agree_vm = max(r["vmap_jacrev_spectrum_max_rel_diff"] for r in v.values())
                P.append(f"Against the five-line `vmap(jacrev)` baseline the speed-ups are {svm} (spectra agree to "
                         f"{agree_vm:.0e}): the large factors over the loop measure batching, which torch.func "
                         "gives any script.")
        for m in sp.get("modes", []):
            fe = {r["mode"]: r["forward_equivalents"] for r in m["modes"]}
            P.append(f"{m['model']}: 'auto' picks {m['auto_resolves_to']}; measured cost in forward passes: tangent "
                     f"{fe['tangent']:.0f}, jacfwd {fe['jacfwd']:.0f}, jacrev {fe['jacrev']:.1f} (cost model "
                     + ", ".join(f"{v:.1f}" for v in autodiff_costs(m['q'], m['n_in'], m['n_out']).values()) + ").")
        if any(r["mode"] == "tangent" and r["forward_equivalents"] > 2 * r["cost_model_forward_equivalents"]
               for m in sp.get("modes", []) for r in m["modes"]):
            P.append("The forward-mode paths (tangent, jacfwd) cost several times more than the cost model "
                     "assumes; the ranking, hence the choice of 'auto', is unchanged here, but the model understates "
                     "how much slower forward mode is.")
        mem = [r for r in sp.get("memory", []) if "error" not in r]
        if mem:
            extra = ", ".join("%.0f MiB" % r["extra_peak_vmhwm_MiB"] for r in mem)
            ns = ", ".join("%.0e" % r["N"] for r in mem)
            data = ", ".join("%.1f MiB" % r["data_MiB"] for r in mem)
            P.append(f"Memory: extra peak {extra} at N = {ns} (data {data}).")
    paras.append(P)
    return "\n\n".join(" ".join(p) for p in paras if p)


def write_markdown(res: dict, path: Path) -> None:
    env = res["environment"]
    L = ["# Symmetry discovery benchmark (`sl.discover`)\n",
         f"Command: `{res['command']}` (in `{env['cwd']}`)  ",
         f"Date: {res['date']}; total wall time {res['total_wall_s']:.0f} s  ",
         f"torch {env['torch']}, symlie {env['symlie']}, Python {env['python']}, {env['cpu_count']} CPUs "
         f"({env['processor']}), torch threads {env['torch_threads']}  ",
         loadavg_line(env) + "\n"]
    if res["settings"]["quick"]:
        L.append("**Quick run** (reduced grid, sizes and repeats).\n")
    for rf in res.get("refreshed", []):
        e = rf["environment"]
        what = "; ".join(PART_TITLES.get(p, p) for p in rf["parts"])
        loaded = any(la and la[0] > 0.5 * (e.get("cpu_count") or 1) for la in (e.get("loadavg_start"), e.get("loadavg_end")))
        L.append(f"**Refreshed on {rf['date'][:10]}**: {what}, by `{rf['command']}` ({rf['date']}, "
                 f"{rf['wall_s']:.0f} s; torch {e['torch']}, symlie {e['symlie']}, torch threads {e['torch_threads']}; "
                 + loadavg_line(e).replace("Load average", "load average")
                 + ("; **the machine was loaded**: other work shared the CPUs, so absolute times are inflated and "
                    "noisy, compare the ratios of interleaved repeats; the Python-bound per-sample loop tends to slow "
                    "down more than the batched calls on shared CPUs, so speed-ups vs the loop can be inflated, "
                    "while the ratio vs vmap(jacrev) compares batched with batched" if loaded else "")
                 + "). Everything else is from the run above.\n")
    if "exact" in res:
        L += md_exact(res["exact"])
    if "trained" in res:
        L += md_trained(res["trained"])
    if "speed" in res:
        L += md_speed(res["speed"])
    L += ["## Reading\n", reading(res) + "\n"]
    path.write_text("\n".join(L) + "\n")


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="reduced run (~1 min): smaller grid, sizes and repeats")
    ap.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated subset of exact,trained,speed")
    ap.add_argument("--speed-parts", default=",".join(SPEED_PARTS),
                    help="comma-separated parts of the speed section to run: vs_loop (the comparison with the loop "
                         "and vmap(jacrev)), modes (autodiff modes), memory (default: all)")
    ap.add_argument("--update", action="store_true",
                    help="merge the sections / parts run into the existing discover.json (discover_quick.json with "
                         "--quick) instead of replacing it; the file records what was refreshed when")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--repeats", type=int, help="timed repeats of sl.discover (default 5, quick 3)")
    ap.add_argument("--loop-repeats", type=int, help="timed repeats of the per-sample loop (default 3, quick 1)")
    ap.add_argument("--tangent-repeats", type=int, help="timed repeats of autodiff='tangent' (slow; default 3, quick 1)")
    ap.add_argument("--exact-repeats", type=int, help="timed repeats per exact case (default 3, quick 1)")
    ap.add_argument("--speed-n", type=int, help="samples for the speed comparison (default 10000, quick 2000)")
    ap.add_argument("--memory-ns", type=str, help="comma-separated N for the memory children (default 1e4,1e5,1e6; "
                                                  "quick 1e4,1e5; empty: skip)")
    ap.add_argument("--o5-sizes", type=str, help="training sizes for O5Synthetic (default 1000,10000; quick 1000)")
    ap.add_argument("--pi-sizes", type=str, help="training sizes for ParticleInteraction (default 1000,10000,30000; "
                                                 "quick 1000)")
    ap.add_argument("--seeds", type=str, help="training seeds (default 0,1; quick 0)")
    ap.add_argument("--steps", type=int, help="Adam steps per model (default 6000, quick 300)")
    ap.add_argument("--width", type=int, default=128, help="hidden width of the trained MLPs (default 128)")
    ap.add_argument("--depth", type=int, default=3, help="hidden layers of the trained MLPs (default 3)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--min-gap", type=float, default=10.0, help="min_gap of the gap rule for trained models")
    ap.add_argument("--out", type=Path, default=RESULTS, help="output folder (default benchmarks/results)")
    ap.add_argument("--render", type=Path, help="only re-write the markdown next to this JSON result file")
    ap.add_argument("--_memory-child", dest="memory_child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    q = args.quick
    ints = lambda s: [int(float(v)) for v in s.split(",") if v.strip()]  # noqa: E731
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [s for s in args.sections if s not in SECTIONS]
    if bad:
        ap.error(f"--sections: unknown {bad}; choose from {SECTIONS}")
    args.speed_parts = [s.strip() for s in args.speed_parts.split(",") if s.strip()]
    bad = [s for s in args.speed_parts if s not in SPEED_PARTS]
    if bad:
        ap.error(f"--speed-parts: unknown {bad}; choose from {SPEED_PARTS}")
    args.repeats = args.repeats or (3 if q else 5)
    args.loop_repeats = args.loop_repeats or (1 if q else 3)
    args.tangent_repeats = args.tangent_repeats or (1 if q else 3)
    args.exact_repeats = args.exact_repeats or (1 if q else 3)
    args.speed_n = args.speed_n or (2000 if q else 10_000)
    args.memory_ns = ints(args.memory_ns if args.memory_ns is not None else ("1e4,1e5" if q else "1e4,1e5,1e6"))
    args.o5_sizes = ints(args.o5_sizes or ("1000" if q else "1000,10000"))
    args.pi_sizes = ints(args.pi_sizes or ("1000" if q else "1000,10000,30000"))
    args.seeds = ints(args.seeds or ("0" if q else "0,1"))
    args.steps = args.steps or (300 if q else 6000)
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        print(json.dumps(memory_child(json.loads(args.memory_child))))
        return 0
    if args.render:
        return render_markdown(args.render, write_markdown)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    exe = os.path.relpath(sys.executable)
    env = {"torch": torch.__version__, "symlie": sl.__version__, "python": platform.python_version(),
           "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
           "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(), "cwd": os.getcwd(),
           "loadavg_start": loadavg()}
    res = {"benchmark": "discover",
           "command": shlex.join([exe if not exe.startswith("..") else sys.executable] + sys.argv),
           "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "memory_child"},
           "environment": env}
    res["settings"]["timing"] = ("time.perf_counter around one call, gc off; medians of repeats; cpu_share = process "
                                 "CPU time / wall time of the call (below ~0.9 with 1 thread: another process held "
                                 "the core)")
    memory = None
    if "speed" in args.sections and "memory" in args.speed_parts and args.memory_ns:
        # first, while this process is small (ru_maxrss of a child carries the parent's peak across exec)
        print(f"Memory: sl.discover in fresh processes, N = {args.memory_ns}", flush=True)
        memory = bench_memory(args)
    if "exact" in args.sections:
        print("Section 1: exact symmetries", flush=True)
        t0 = time.perf_counter()
        res["exact"] = bench_exact(args)
        res["exact"]["wall_s"] = time.perf_counter() - t0
    if "trained" in args.sections:
        print("Section 2: trained MLPs", flush=True)
        t0 = time.perf_counter()
        res["trained"] = bench_trained(args)
        res["trained"]["wall_s"] = time.perf_counter() - t0
    if "speed" in args.sections:
        print("Section 3: speed", flush=True)
        t0 = time.perf_counter()
        res["speed"] = bench_speed(args, memory)
        res["speed"]["wall_s"] = time.perf_counter() - t0
    env["loadavg_end"] = loadavg()
    res["total_wall_s"] = time.perf_counter() - t_start
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "discover_quick" if args.quick else "discover"
    if args.update and (args.out / f"{stem}.json").exists():
        res = merge_results(json.loads((args.out / f"{stem}.json").read_text()), res, args)
        print(f"merged {res['refreshed'][-1]['parts']} into {args.out / (stem + '.json')}")
    (args.out / f"{stem}.json").write_text(json.dumps(res, indent=1))
    write_markdown(res, args.out / f"{stem}.md")
    print(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.md')} "
          f"({time.perf_counter() - t_start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
