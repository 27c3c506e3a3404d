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
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
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


MODELS = {"scalar": "symlie ScalarMLP", "equivariant24": "symlie EquivariantMLP-24",
          "equivariant96": "symlie EquivariantMLP-96", "peer": "EMLP (its code, here)", "mlp": "MLP"}


def peer_python():
    for p in (HERE.parent / ".venv-emlp/bin/python",):
        if p.exists():
            return str(p)
    return None


def run_peer(task, N, ds, Xtr, Ytr, Xte, Yte, seeds, epochs, ch, workdir):
    """EMLP's own objax EMLP on the same standardized data, in its environment (benchmarks/peer_emlp_train.py)."""
    import numpy as np
    job = dict(task=task, model="EMLP", seeds=seeds, epochs=epochs, channels=ch, lr=3e-3)
    jp, op = workdir / f"{task}_{N}.npz", workdir / f"{task}_{N}.json"
    np.savez(jp, Xtr=Xtr.numpy().astype(np.float32), Ytr=Ytr.numpy().astype(np.float32),
             Xte=Xte.numpy().astype(np.float32), Yte=Yte.numpy().astype(np.float64),
             y_std=ds.stats.y_std.numpy().astype(np.float64), job=json.dumps(job))
    env = dict(os.environ, XLA_FLAGS="--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
               TQDM_DISABLE="1", JAX_PLATFORMS="cpu")
    r = subprocess.run([peer_python(), str(HERE / "peer_emlp_train.py"), str(jp), str(op)], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"EMLP peer failed on {task} N={N}:\n{r.stderr[-3000:]}")
    print(r.stdout.strip(), flush=True)
    return json.loads(op.read_text())


def run_ours(kind, ds, Xtr, Ytr, Xte, Yte, seed, epochs, ch, args):
    t0 = time.perf_counter()
    if kind == "scalar":
        model = sl.nn.ScalarMLP(ds.rep_in, ds.rep_out, hidden=ch, depth=3, seed=seed).calibrate(Xtr)
    elif kind.startswith("equivariant"):
        width, *opts = kind[len("equivariant"):].split("+")
        extra = {"projected": {"init": "projected"}, "emlp-alloc": {"allocation": "emlp"}}
        kw = {k: v for o in opts for k, v in extra[o].items()}
        model = sl.nn.EquivariantMLP(ds.rep_in, ds.rep_out, hidden=ch, depth=3, seed=seed, mid_channels=int(width),
                                     **kw)
    else:
        model = mlp(ds.rep_in.size, ds.rep_out.size, ch, seed)
    ys = float(Ytr.pow(2).mean().sqrt()) if args.y_scale == "rms" else 1.0
    model = Scaled(model, ys)
    build_s = time.perf_counter() - t0
    tr = train(model.inner, Xtr, Ytr / ys, epochs, seed)
    ev = evaluate(model, ds, Xte, Yte)
    return {"build_s": build_s, "params": sum(p.numel() for p in model.parameters()),
            "epoch_s": tr["train_s"] / epochs, **tr, **ev}


def short(kind):
    return "EMLP" if kind == "peer" else MODELS[kind].replace("symlie ", "")


def write(out, stem, final=False):
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{stem}.json").write_text(json.dumps(out, indent=2))
    if not final:
        return
    m = out["meta"]
    kinds = [k for k in m["models"] if k in MODELS]
    L = ["# EMLP's synthetic tasks: symlie's equivariant networks and EMLP's own code, same data, same budget", "",
         f"Command: `{m['command']}`  ", f"Date: {m['date']}  ",
         f"Versions: python {m['python']}, torch {m['torch']}, symlie {m['symlie']}; peer: {m.get('peer_versions')}  ",
         f"Machine: {m['platform']}, {m['cpus']} CPUs; one thread per process (symlie and the peer run side by side "
         f"on the two cores)  ",
         f"Protocol: {m['channels']} channels, depth 3 (EMLP: 384 channels), Adam lr 3e-3 with cosine decay to 0, "
         f"batch min(500, N), epochs per N {m['epochs_per_N']} (EMLP's protocol: 1000 for N <= 300, 900 at 1000), "
         f"seeds {m['seeds']}, {m['n_samples']} generated samples (train N, test 5000), final model tested. "
         f"EquivariantMLP-k: bilinear middle width k; targets divided by their training RMS (symlie models and "
         f"MLP). Wall {m.get('total_wall_s', 0):.0f} s.  ",
         "Test MSE on EMLP's raw scale; median [min, max] over seeds. Equivariance error: relative, 5 group "
         "elements, 500 test points (symlie: `sl.metrics.equivariance_error`; EMLP: its reps' rho_dense). "
         "Seconds per epoch: median over seeds (EMLP: after its jit compile, which is listed in the JSON).", "",
         "| task | N | " + " | ".join(MODELS[k] for k in kinds) + " | EMLP published | s / epoch (" +
         ", ".join(short(k) for k in kinds) + ") | equiv. err (" + ", ".join(short(k) for k in kinds) + ") |",
         "|---|---|" + "---|" * len(kinds) + "---|---|---|"]
    for key, s in out["summary"].items():
        task, N = key.rsplit("/N=", 1)
        N = int(N)
        def cell(a):
            return "-" if a is None else f"{fmt(a['median'])} [{fmt(a['min'])}, {fmt(a['max'])}]"
        best = min((s[k]["mse"]["median"], k) for k in kinds if s.get(k) and s[k]["mse"])[1]
        cells = []
        for k in kinds:
            c = cell(s[k]["mse"]) if s.get(k) else "-"
            cells.append(f"**{c}**" if k == best else c)
        L.append(f"| {task} ({TASKS[task][1]}) | {N} | " + " | ".join(cells) + f" | {PUBLISHED[task]['EMLP'][N]:.3g} | "
                 + ", ".join(fmt(s[k]["epoch_s"]) if s.get(k) else "-" for k in kinds) + " | "
                 + ", ".join(fmt(s[k]["eq"]["median"]) if s.get(k) and s[k]["eq"] else "-" for k in kinds) + " |")
    L += ["", "Published: " + "; ".join(f"{t}: {PUBLISHED[t]['EMLP_label']}" for t in PUBLISHED) + ".", "",
          "## Reading", "", "READING_PLACEHOLDER", ""]
    (RESULTS / f"{stem}.md").write_text("\n".join(L))
    print("\n".join(L))


def summarize(out, task, N, kinds):
    rs = [r for r in out["runs"] if r["task"] == task and r["N"] == N]
    summ = {}
    for k in kinds:
        mine = [r for r in rs if r["model"] == k]
        if mine:
            summ[k] = {"mse": agg([r["test_mse_raw"] for r in mine]), "eq": agg([r["equivariance_error"] for r in mine]),
                       "epoch_s": statistics.median(r["epoch_s"] for r in mine),
                       "nonfinite_runs": sum(not r["finite"] for r in mine)}
    out["summary"][f"{task}/N={N}"] = summ


def merge(args):
    """One results file from parts run as separate processes (e.g. the peer of one task on the second core)."""
    out, sources = None, []
    for m in args.merge:
        if m.endswith(".json"):       # a peer_emlp_train.py output: {"job": ..., "runs": [...]}
            res = json.loads(Path(m).read_text())
            task = res["job"]["task"]
            N = int(Path(m).stem.rsplit("_", 1)[1])
            runs = [{"task": task, "group": TASKS[task][1], "N": N, **r, "model": "peer"} for r in res["runs"]]
            peer_versions = {k: res[k] for k in ("emlp_version", "jax", "objax")}
        else:
            part = json.loads((RESULTS / f"{m}.json").read_text())
            runs = part["runs"]
            peer_versions = part["meta"].get("peer_versions")
            if out is None:
                out = part
                out["runs"] = []
        sources.append(m)
        if peer_versions:
            out["meta"]["peer_versions"] = peer_versions
        seen = {(r["task"], r["N"], r["seed"], r["model"]) for r in out["runs"]}
        out["runs"] += [r for r in runs if (r["task"], r["N"], r["seed"], r["model"]) not in seen]
    kinds = sorted({r["model"] for r in out["runs"]}, key=lambda k: list(MODELS).index(k) if k in MODELS else 99)
    out["meta"]["models"] = kinds
    out["meta"]["merged_from"] = sources
    out["summary"] = {}
    for task in TASKS:
        for N in sorted({r["N"] for r in out["runs"] if r["task"] == task}):
            summarize(out, task, N, kinds)
    write(out, args.stem or "emlp_tasks", final=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--models", default="scalar,equivariant24,equivariant96,peer,mlp",
                    help="comma-separated subset of scalar (sl.nn.ScalarMLP), equivariant24 / equivariant96 "
                         "(sl.nn.EquivariantMLP with a bilinear middle width of 24 / 96), peer (EMLP's own code in "
                         ".venv-emlp, from `make peers`), mlp; an equivariant model may carry +projected (EMLP's "
                         "initialisation) and/or +emlp-alloc (EMLP's channel allocation over tensor ranks)")
    ap.add_argument("--channels", type=int, default=128)
    ap.add_argument("--epochs", default="30:1000,100:1000,1000:150",
                    help="epochs per N as N:epochs pairs (EMLP's protocol: 1000 for N <= 300, 900 at N = 1000)")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--n-samples", type=int, default=7000)
    ap.add_argument("--y-scale", choices=["rms", "none"], default="rms",
                    help="divide symlie's training targets by their RMS over the training set (one scalar, so "
                         "equivariance is kept) and multiply predictions back")
    ap.add_argument("--tasks", default=",".join(TASKS), help="comma-separated subset of tasks")
    ap.add_argument("--stem", default=None, help="results file stem (default emlp_tasks)")
    ap.add_argument("--merge", nargs="+", default=None, metavar="STEM_OR_PEER_JSON",
                    help="merge the runs of these results stems (and of peer_emlp_train.py outputs given as .json "
                         "paths) into --stem, summarize and exit; the first stem's meta is kept")
    args = ap.parse_args()
    if args.merge:
        merge(args)
        return
    torch.set_num_threads(1)
    kinds = args.models.split(",")
    for k in kinds:
        base, *opts = k.split("+")
        if base not in MODELS or any(o not in ("projected", "emlp-alloc") for o in opts) or (opts and
                                                                                          "equivariant" not in base):
            ap.error(f"--models: unknown model {k!r}; expected some of {', '.join(MODELS)}, an equivariant model "
                     f"optionally with +projected (EMLP's initialisation) and/or +emlp-alloc (EMLP's channel "
                     f"allocation)")
        if opts:
            MODELS[k] = MODELS[base] + " " + "+".join(opts)
    if "peer" in kinds and peer_python() is None:
        ap.error("--models peer: EMLP's environment .venv-emlp is missing; run `make peers` (or drop 'peer')")
    epochs = {int(a): int(b) for a, b in (p.split(":") for p in args.epochs.split(","))}
    seeds = [0] if args.quick else [int(v) for v in args.seeds.split(",")]
    if args.quick:
        epochs = {N: 3 for N in epochs}
    Ns = sorted(epochs)
    ch = 32 if args.quick else args.channels
    stem = args.stem or ("emlp_tasks_quick" if args.quick else "emlp_tasks")
    cmd = "make peers && .venv/bin/python " + " ".join(shlex.quote(a) for a in ["benchmarks/bench_emlp_tasks.py"] + sys.argv[1:])
    meta = {"command": cmd, "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "torch": torch.__version__, "symlie": sl.__version__,
            "platform": platform.platform(), "cpus": os.cpu_count(), "loadavg_start": list(os.getloadavg()),
            "quick": args.quick, "models": kinds, "channels": ch, "depth": 3,
            "epochs_per_N": {str(k): v for k, v in epochs.items()},
            "emlp_protocol_epochs": {str(k): v for k, v in EMLP_EPOCHS.items()}, "seeds": seeds,
            "n_samples": args.n_samples, "lr": 3e-3, "schedule": "cosine to 0", "dtype": "float32",
            "mse_scale": "raw y (standardized MSE * y_std^2), as EMLP reports",
            "y_scale": args.y_scale}
    out = {"meta": meta, "published": {t: {k: (v if isinstance(v, str) else {str(a): b for a, b in v.items()})
                                           for k, v in p.items()} for t, p in PUBLISHED.items()},
           "runs": [], "summary": {}}
    T0 = time.perf_counter()
    jobs = []
    for task in TASKS:
        if task in args.tasks.split(","):
            ds = TASKS[task][0](n_samples=args.n_samples)
            for N in Ns:
                (Xtr, Ytr), _, (Xte, Yte) = ds.split(N)
                jobs.append((task, N, ds, Xtr.float(), Ytr.float(), Xte.float(), Yte.float()))
    # the peer runs in its own process on one core while symlie's models train here on the other
    pool = ThreadPoolExecutor(max_workers=1)
    tmp = Path(tempfile.mkdtemp(prefix="symlie_emlp_peer_"))
    futures = {}
    if "peer" in kinds:
        for task, N, ds, Xtr, Ytr, Xte, Yte in jobs:
            futures[(task, N)] = pool.submit(run_peer, task, N, ds, Xtr, Ytr, Xte, Yte, seeds, epochs[N], ch, tmp)
    for task, N, ds, Xtr, Ytr, Xte, Yte in jobs:
        for seed in seeds:
            for kind in (k for k in kinds if k != "peer"):
                r = run_ours(kind, ds, Xtr, Ytr, Xte, Yte, seed, epochs[N], ch, args)
                out["runs"].append({"task": task, "group": TASKS[task][1], "N": N, "seed": seed, "model": kind, **r})
                print(f"{task:20s} N={N:5d} seed={seed} {kind:11s} mse_raw={r['test_mse_raw']:.4g} "
                      f"eq={r['equivariance_error']:.2e} epoch={r['epoch_s']:.3g}s [{time.perf_counter() - T0:.0f}s]",
                      flush=True)
                write(out, stem)
    for task, N, *_ in jobs:
        if (task, N) in futures:
            res = futures[(task, N)].result()
            meta["peer_versions"] = {k: res[k] for k in ("emlp_version", "jax", "objax")}
            for r in res["runs"]:
                out["runs"].append({"task": task, "group": TASKS[task][1], "N": N, **r, "model": "peer"})
        summarize(out, task, N, kinds)
        write(out, stem)
    pool.shutdown()
    meta["total_wall_s"] = time.perf_counter() - T0
    meta["loadavg_end"] = list(os.getloadavg())
    write(out, stem, final=True)


if __name__ == "__main__":
    main()
