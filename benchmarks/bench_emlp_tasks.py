"""Benchmark: symlie's EquivariantMLP and a plain MLP on EMLP's three synthetic regression tasks.

Run from the repository root:

    .venv/bin/python benchmarks/bench_emlp_tasks.py            # full run (~15 min on 2 CPU cores)
    .venv/bin/python benchmarks/bench_emlp_tasks.py --quick    # smoke run (a few steps, one seed)

Writes benchmarks/results/emlp_tasks.json (rewritten after every run, so partial results survive) and
benchmarks/results/emlp_tasks.md.

Tasks (sl.datasets): O5Synthetic / O(5), Inertia / O(3), ParticleInteraction / O(1,3); N_train in {30, 100, 1000},
seeds {0, 1, 2}. Data: n_samples = 7000 (enough for N_train + 1000 validation + 5000 test), standardization
constants computed on the generated set as the datasets do (EMLP generates 36,000; same distribution).
Models: ``sl.nn.EquivariantMLP(rep_in, rep_out, hidden=CH, depth=3, seed=seed)`` and an MLP with 3 hidden layers
of CH units and SiLU. Training: Adam lr 3e-3, cosine decay to 0 over the run, batch min(500, N), float32,
MSE on the standardized targets. Steps: EMLP trains 1000 epochs for N <= 300 and 900 epochs at N = 1000 with 384
channels; that does not fit a 15-minute budget on 2 CPU cores, so each run gets min(EMLP epochs, --max-epochs)
epochs (recorded per run). No early stopping / model selection on the validation set (the final model is tested).

Metrics: test MSE on the 5000 test points reported on EMLP's scale, i.e. on RAW y: EMLP wraps the net in
``Standardize`` and computes the loss on un-standardized y, so raw MSE = mean(((pred - Y) * y_std)^2) (for
Inertia y_std = 1 and the two scales coincide; for O5Synthetic and ParticleInteraction they differ by y_std^2);
the standardized MSE is stored too. Equivariance error: ``sl.metrics.equivariance_error`` on 500 test points
(float32 model, float64 group transforms; EMLP's relative error definition), for both models.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

import symlie as sl
from symlie.datasets import Inertia, O5Synthetic, ParticleInteraction

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

TASKS = {"O5Synthetic": (O5Synthetic, "O(5)"), "Inertia": (Inertia, "O(3)"),
         "ParticleInteraction": (ParticleInteraction, "O(1,3)")}
# EMLP paper (Finzi et al. 2021), test MSE at N = 30 / 100 / 1000
PUBLISHED = {
    "O5Synthetic": {"EMLP": {30: 0.152, 100: 0.0408, 1000: 0.0170}, "EMLP_label": "EMLP-O(5)",
                    "MLP": {30: 28.1, 100: 2.83, 1000: 0.0892}},
    "Inertia": {"EMLP": {30: 4.11, 100: 1.44, 1000: 0.136}, "EMLP_label": "EMLP-O(3) (EMLP-SO(3): 0.0604 at 1000)",
                "MLP": {30: 13.4, 100: 7.91, 1000: 3.24}},
    "ParticleInteraction": {"EMLP": {30: 0.540, 100: 0.00888, 1000: 3.30e-4}, "EMLP_label": "EMLP-O(1,3)",
                            "MLP": {30: 0.733, 100: 0.733, 1000: 0.364}},
}
EMLP_EPOCHS = {30: 1000, 100: 1000, 1000: 900}


class Scaled(torch.nn.Module):
    """model(x) * scale: the model is trained on targets / scale (a scalar, so equivariance is unaffected)."""

    def __init__(self, inner, scale):
        super().__init__()
        self.inner, self.scale = inner, scale

    def forward(self, x):
        return self.inner(x) * self.scale


def mlp(n_in, n_out, ch, seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(n_in, ch), torch.nn.SiLU(), torch.nn.Linear(ch, ch), torch.nn.SiLU(),
                               torch.nn.Linear(ch, ch), torch.nn.SiLU(), torch.nn.Linear(ch, n_out))


def train(model, Xtr, Ytr, epochs, seed, lr=3e-3):
    N = Xtr.shape[0]
    bs = min(500, N)
    spe = math.ceil(N / bs)
    steps = epochs * spe
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    g = torch.Generator().manual_seed(1000 + seed)
    losses = []
    t0 = time.perf_counter()
    for ep in range(epochs):
        perm = torch.randperm(N, generator=g)
        for i in range(spe):
            idx = perm[i * bs:(i + 1) * bs]
            loss = torch.mean((model(Xtr[idx]) - Ytr[idx]) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if ep == 0 or ep == epochs - 1 or (ep + 1) % max(1, epochs // 10) == 0:
            losses.append((ep + 1, loss.item()))
    return {"steps": steps, "epochs": epochs, "batch": bs, "train_s": time.perf_counter() - t0, "loss_curve": losses}


def evaluate(model, ds, Xte, Yte):
    y_std = ds.stats.y_std.to(torch.float64)
    with torch.no_grad():
        P = torch.cat([model(Xte[i:i + 1000]) for i in range(0, Xte.shape[0], 1000)]).to(torch.float64)
    Y = Yte.to(torch.float64)
    mse_std = float(torch.mean((P - Y) ** 2))
    mse_raw = float(torch.mean(((P - Y) * y_std) ** 2))
    eq = sl.metrics.equivariance_error(model, ds.group, Xte[:500], ds.rep_in, ds.rep_out)
    return {"test_mse_raw": mse_raw, "test_mse_std": mse_std, "equivariance_error": eq,
            "finite": bool(math.isfinite(mse_raw))}


def agg(vals):
    v = [x for x in vals if x is not None and math.isfinite(x)]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def fmt(x):
    if x is None:
        return "-"
    return f"{x:.3g}"


def write(out, stem, final=False):
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=2))
    if not final:
        return
    m = out["meta"]
    L = ["# EMLP synthetic tasks: symlie EquivariantMLP vs MLP", "",
         f"Command: `{m['command']}`  ", f"Date: {m['date']}  ",
         f"Versions: python {m['python']}, torch {m['torch']}, symlie {m['symlie']}  ",
         f"Machine: {m['platform']}, {m['cpus']} CPUs, torch threads {m['torch_threads']}, float32  ",
         f"Protocol run here: channels {m['channels']}, depth 3, Adam lr 3e-3 with cosine decay, batch min(500, N), "
         f"epochs per N {m['epochs_per_N']} (steps per N {m['steps_per_N']}; EMLP: 1000 epochs for N <= 300, 900 "
         f"at N = 1000, 384 channels), seeds {m['seeds']}, n_samples {m['n_samples']} (test 5000, val 1000 unused), "
         f"final model tested (no early stopping), bilinear middle width {m.get('mid_channels', 24)}, target scaling "
         f"{m.get('y_scale', 'none')} (both models). Total wall {m.get('total_wall_s', 0):.0f} s.  ",
         "Test MSE is on EMLP's scale, RAW (un-standardized) y: standardized MSE * y_std^2 "
         "(Inertia: y_std = 1, same number). Median [min, max] over seeds. Equivariance error: "
         "`sl.metrics.equivariance_error` on 500 test points (relative, mean over 5 group elements).", "",
         "| task | N | symlie EMLP test MSE | MLP test MSE | published EMLP | published MLP | symlie EMLP equiv. err | "
         "MLP equiv. err | train s / run (EMLP, MLP) |", "|---|---|---|---|---|---|---|---|---|"]
    for key, s in out["summary"].items():
        task, N = key.rsplit("/N=", 1)
        N = int(N)
        pub = PUBLISHED[task]
        def cell(a):
            return "-" if a is None else f"{fmt(a['median'])} [{fmt(a['min'])}, {fmt(a['max'])}]"
        L.append(f"| {task} ({TASKS[task][1]}) | {N} | {cell(s['emlp_mse'])} | {cell(s['mlp_mse'])} | "
                 f"{pub['EMLP'][N]:.3g} | {pub['MLP'][N]:.3g} | {cell(s['emlp_eq'])} | {cell(s['mlp_eq'])} | "
                 f"{fmt(s['emlp_train_s'])}, {fmt(s['mlp_train_s'])} |")
    L += ["", "Published: " + "; ".join(f"{t}: {PUBLISHED[t]['EMLP_label']}" for t in PUBLISHED) + ".", "",
          "## Reading", "", "READING_PLACEHOLDER", ""]
    (RESULTS / f"{stem}.md").write_text("\n".join(L))
    print("\n".join(L))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--channels", type=int, default=128)
    ap.add_argument("--max-epochs", type=int, default=400, help="epochs per run: min(EMLP's epochs, this)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (use 1 when another process shares the "
                    "cores: every multi-threaded op then waits for a descheduled worker; measured 13-18x slower steps)")
    ap.add_argument("--n-samples", type=int, default=7000)
    ap.add_argument("--mid-channels", type=int, default=96,
                    help="width of the bilinear layer's middle representation (must hold at least as many vectors as "
                         "the task has input vectors to form all per-particle products; 24 gave Inertia 2.36 at N=1000)")
    ap.add_argument("--y-scale", choices=["rms", "none"], default="rms",
                    help="divide training targets by their RMS over the training set (one scalar, so equivariance is "
                         "kept) and multiply predictions back; applied to both models")
    ap.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset of tasks")
    ap.add_argument("--stem", default=None, help="results file stem (default emlp_tasks)")
    ap.add_argument("--merge", nargs="+", default=None, help="merge these results stems into --stem and exit")
    args = ap.parse_args()
    if args.merge:
        parts = [json.loads((RESULTS / f"{m}.json").read_text()) for m in args.merge]
        out = parts[0]
        for part in parts[1:]:
            out["runs"] += part["runs"]
            out["summary"].update(part["summary"])
        out["meta"]["merged_from"] = args.merge
        out["meta"]["total_wall_s"] = max(p["meta"].get("total_wall_s", 0) for p in parts)
        write(out, args.stem or "emlp_tasks", final=True)
        return
    torch.set_num_threads(args.threads)
    seeds = [0] if args.quick else [0, 1, 2]
    Ns = [30, 100, 1000]
    max_ep = 3 if args.quick else args.max_epochs
    ch = 32 if args.quick else args.channels
    epochs = {N: min(EMLP_EPOCHS[N], max_ep) for N in Ns}
    steps = {N: epochs[N] * math.ceil(N / min(500, N)) for N in Ns}
    stem = args.stem or ("emlp_tasks_quick" if args.quick else "emlp_tasks")
    cmd = "cd /work/main && .venv/bin/python " + " ".join(shlex.quote(a) for a in ["benchmarks/bench_emlp_tasks.py"] + sys.argv[1:])
    meta = {"command": cmd, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "torch": torch.__version__, "symlie": sl.__version__,
            "platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "loadavg_start": list(os.getloadavg()), "quick": args.quick, "channels": ch, "depth": 3,
            "epochs_per_N": {str(k): v for k, v in epochs.items()}, "steps_per_N": {str(k): v for k, v in steps.items()},
            "emlp_protocol_epochs": {str(k): v for k, v in EMLP_EPOCHS.items()}, "seeds": seeds,
            "n_samples": args.n_samples, "lr": 3e-3, "schedule": "cosine to 0", "dtype": "float32",
            "mse_scale": "raw y (standardized MSE * y_std^2), as EMLP reports",
            "mid_channels": args.mid_channels, "y_scale": args.y_scale}
    out = {"meta": meta, "published": {t: {k: (v if isinstance(v, str) else {str(a): b for a, b in v.items()})
                                           for k, v in p.items()} for t, p in PUBLISHED.items()},
           "runs": [], "summary": {}}
    T0 = time.perf_counter()
    for task, (cls, gname) in TASKS.items():
        if task not in args.tasks.split(","):
            continue
        ds = cls(n_samples=args.n_samples)
        for N in Ns:
            (Xtr, Ytr), _, (Xte, Yte) = ds.split(N)
            Xtr, Ytr, Xte, Yte = Xtr.float(), Ytr.float(), Xte.float(), Yte.float()
            for seed in seeds:
                for kind in ("EMLP", "MLP"):
                    t0 = time.perf_counter()
                    if kind == "EMLP":
                        model = sl.nn.EquivariantMLP(ds.rep_in, ds.rep_out, hidden=ch, depth=3, seed=seed,
                                                     mid_channels=args.mid_channels)
                    else:
                        model = mlp(ds.rep_in.size, ds.rep_out.size, ch, seed)
                    ys = float(Ytr.pow(2).mean().sqrt()) if args.y_scale == "rms" else 1.0
                    model = Scaled(model, ys)
                    build_s = time.perf_counter() - t0
                    tr = train(model.inner, Xtr, Ytr / ys, epochs[N], seed)
                    ev = evaluate(model, ds, Xte, Yte)
                    run = {"task": task, "group": gname, "N": N, "seed": seed, "model": kind, "build_s": build_s,
                           "params": sum(p.numel() for p in model.parameters()), **tr, **ev}
                    out["runs"].append(run)
                    print(f"{task:20s} N={N:5d} seed={seed} {kind:4s} mse_raw={ev['test_mse_raw']:.4g} "
                          f"eq={ev['equivariance_error']:.2e} train={tr['train_s']:.1f}s build={build_s:.1f}s "
                          f"[{time.perf_counter() - T0:.0f}s]", flush=True)
                    write(out, stem)
            rs = [r for r in out["runs"] if r["task"] == task and r["N"] == N]
            pick = lambda k, f: [r[f] for r in rs if r["model"] == k]
            out["summary"][f"{task}/N={N}"] = {
                "emlp_mse": agg(pick("EMLP", "test_mse_raw")), "mlp_mse": agg(pick("MLP", "test_mse_raw")),
                "emlp_mse_std": agg(pick("EMLP", "test_mse_std")), "mlp_mse_std": agg(pick("MLP", "test_mse_std")),
                "emlp_eq": agg(pick("EMLP", "equivariance_error")), "mlp_eq": agg(pick("MLP", "equivariance_error")),
                "emlp_train_s": statistics.median(pick("EMLP", "train_s")),
                "mlp_train_s": statistics.median(pick("MLP", "train_s")),
                "nonfinite_runs": sum(not r["finite"] for r in rs),
                "y_std": [float(v) for v in ds.stats.y_std.reshape(-1)[:9]]}
            write(out, stem)
    meta["total_wall_s"] = time.perf_counter() - T0
    meta["loadavg_end"] = list(os.getloadavg())
    write(out, stem, final=True)


if __name__ == "__main__":
    main()
