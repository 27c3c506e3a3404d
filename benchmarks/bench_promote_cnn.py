"""Benchmark: promoting se(2) symmetry in a CNN on scikit-learn's handwritten digits (issue 15, part 5).

Run from the repository root:

    .venv/bin/python benchmarks/bench_promote_cnn.py              # full: 3 sizes x 3 seeds x 4 arms
    .venv/bin/python benchmarks/bench_promote_cnn.py --quick      # a smoke run (~1 min)
    .venv/bin/python benchmarks/bench_promote_cnn.py --render benchmarks/results/promote_cnn.json   # md only

Writes benchmarks/results/promote_cnn.json (settings, machine, command, every run; rewritten after every run) and
promote_cnn.md (``--quick``: promote_cnn_quick.*).

Data: ``symlie.generators.load_digits_images(17, seed=s)``: the 1797 bundled 8 x 8 digits upsampled bilinearly to
17 x 17 (``--image-size``; odd, so that central differences on the periodic grid annihilate only the constant
fields and the translation-invariant heads are exactly the constant ones), split 60 / 20 / 20 % (1078 / 359 / 360) by the run seed s; a run trains on the first n of its training
split (``--sizes``, default 100, 300 and all 1078), validates on the whole validation split and is tested once on
the test split, upright and rotated about the centre (``symlie.generators.rotate_images``, bilinear, zero fill)
by +-15, +-30, +-45, +-90 and 180 degrees (the mean of the two signs).

Model: ``symlie.nn.FieldCNN`` (two circular 5 x 5 convolutions 1 -> 8 -> 16 with ReLU at full resolution, and a
linear head over the 16 x 17 x 17 field; 49,674 parameters), seeded by the run seed. Arms:

  * plain:        no promotion (the baseline CNN);
  * promote g:    ``FieldCNN.promotion(sl.se(2), gamma=g, rho=1, update_every=10, reweight=True)``, the ADMM
                  split of the nuclear norm of the stacked Lie-derivative operator S(theta) over se(2) (rotation
                  about the grid centre, two translations), for each g in ``--gammas`` (0.03, 0.3, 3);
  * promote (val): per size and seed, the promoted arm with the best validation accuracy (the test split is never
                  used for a choice).

Training (``symlie.generators.train_classifier`` on the one Trainer): cross-entropy (+ the ADMM penalty), Adam lr
``--lr`` (3e-3) held for the first half of the epochs, then decayed exponentially to ``--lr-final`` (1e-3) times
lr (without the decay, Adam's steps of ~lr on the 40,960 head weights keep ||S(theta) - Z|| at ~5), batch 64, ``--steps`` (1000) optimizer steps (epochs = steps / batches per epoch), validation
accuracy about 50 times per run, the best validation state selected.

Measured per run: test accuracy (upright, rotated), the singular values of S(theta) at the selected state (relative
to sigma_1) with the coordinates of the right singular vectors in the basis (rotation, x-translation,
y-translation), the kept algebra by the rank rule of ``ADMMPenalty.kept`` ("auto", min_gap 10, the float32
floor), and, where something is kept, ``polish()`` (exact symmetry under it) and the test accuracy after it. The
plain arm's spectrum is measured too: what symmetry an unconstrained CNN ends with (discovery).
"""
from __future__ import annotations

import os
import sys

from _common import early_threads  # noqa: E402  (light: no numpy)

early_threads(sys.argv[1:])

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import symlie as sl  # noqa: E402
from symlie.generators import accuracy, load_digits_images, rotate_images, train_classifier  # noqa: E402
from symlie.nn import FieldCNN  # noqa: E402

from _common import clean, fmt, loadavg, loadavg_line, med, render_markdown, run_environment  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DT = torch.float64
ANGLES = (15, 30, 45, 90, 180)
BASIS_LABELS = ("rot", "tx", "ty")


def rotated_accuracies(net, X, y) -> dict:
    out = {}
    for a in ANGLES:
        accs = [accuracy(net, rotate_images(X, sgn * math.radians(a)), y) for sgn in ((1,) if a == 180 else (1, -1))]
        out[str(a)] = float(np.mean(accs))
    return out


def spectrum_record(S: torch.Tensor) -> dict:
    S = S.detach().to("cpu", DT)
    _, s, Vh = torch.linalg.svd(S, full_matrices=False)
    rel = (s / s[0]).tolist() if float(s[0]) > 0 else [0.0] * s.numel()
    return {"sv": s.tolist(), "sv_rel": rel, "directions": Vh.tolist(),
            "column_norms": S.norm(dim=0).tolist()}


def kept_record(prom) -> dict:
    ns = prom.kept()
    k = int(ns.basis.shape[1])
    s = ns.singular_values.tolist()
    gap = None
    if 0 < k < len(s):
        r = len(s) - k
        gap = s[r - 1] / s[r] if s[r] > 0 else float("inf")
    return {"kept_dim": k, "basis": ns.basis.T.tolist(), "reason": ns.reason, "gap": gap}


def one_run(arm: str, n: int, seed: int, data, args) -> dict:
    gamma = None if arm == "plain" else float(arm.split("_", 1)[1])
    Xtr, ytr = data.train[0][:n], data.train[1][:n]
    net = FieldCNN((args.image_size,) * 2, seed=seed)
    prom = None
    if gamma is not None:
        prom = net.promotion(sl.se(2), gamma=gamma, rho=args.rho, update_every=args.update_every, reweight=True)
    batches = math.ceil(n / args.batch)
    epochs = max(1, math.ceil(args.steps / batches))
    t0 = time.perf_counter()
    hold = int(args.lr_hold * epochs)

    def factor(e: int) -> float:      # held, then exponential decay to lr_final x lr at the last epoch
        return 1.0 if e < hold else args.lr_final ** ((e - hold) / max(1, epochs - 1 - hold))

    res = train_classifier(net, (Xtr, ytr), data.val, epochs=epochs, lr=args.lr, batch_size=args.batch,
                           seed=seed, promotion=prom, progress=False, val_every=max(1, epochs // args.n_val),
                           scheduler=lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, factor))
    wall = time.perf_counter() - t0
    info = {"arm": arm, "n": n, "seed": seed, "gamma": gamma, "epochs": epochs, "steps": epochs * batches,
            "best_epoch": res.best_epoch, "val_acc": 1.0 - float(res.best_val), "status": res.status,
            "train_seconds": wall, "seconds_per_step": wall / (epochs * batches)}
    info["test_acc"] = accuracy(net, *data.test)
    info["rotated_acc"] = rotated_accuracies(net, *data.test)
    info["spectrum"] = spectrum_record(net.operator(sl.se(2)))
    if prom is not None:
        info["kept"] = kept_record(prom)
        info["admm_status"] = prom.status
        if info["kept"]["kept_dim"]:
            pr = prom.polish()
            info["polish"] = {"relative": pr.relative.tolist(), "change": pr.change}
            info["test_acc_polished"] = accuracy(net, *data.test)
            info["rotated_acc_polished"] = rotated_accuracies(net, *data.test)
    return info


# ------------------------------------------------------------------------------------------------ markdown
def _cell(vals) -> str:
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    m = med(vals)
    return f"{m:.3f}" if len(vals) == 1 else f"{m:.3f} [{min(vals):.3f}, {max(vals):.3f}]"


def selected_runs(runs: list[dict]) -> list[dict]:
    """Per (n, seed): the promoted run with the best validation accuracy (ties: the smaller gamma)."""
    best: dict = {}
    for r in runs:
        if r["gamma"] is None:
            continue
        key = (r["n"], r["seed"])
        if key not in best or (r["val_acc"], -r["gamma"]) > (best[key]["val_acc"], -best[key]["gamma"]):
            best[key] = r
    return list(best.values())


def write_markdown(res: dict, path: Path) -> None:
    runs = res["runs"]
    st = res["settings"]
    env = res["environment"]
    sizes = sorted({r["n"] for r in runs})
    arms = list(dict.fromkeys(r["arm"] for r in runs))
    sel = selected_runs(runs)
    L = ["# Promoting se(2) in a CNN on handwritten digits (issue 15, part 5)", "",
         f"Command: `{res['command']}` (in `{env['cwd']}`)  ",
         f"Date: {res['date']}; wall time so far {res.get('total_wall_s', 0):.0f} s; runs {len(runs)}/"
         f"{res['planned_runs']}{' (complete)' if len(runs) == res['planned_runs'] else ' (partial)'}  ",
         f"torch {env['torch']}, numpy {env['numpy']}, symlie {env['symlie']}, Python {env['python']}, "
         f"{env['cpu_count']} CPUs, torch threads {env['torch_threads']}  ", loadavg_line(env), ""]
    if st.get("quick"):
        L += ["**Quick run** (a smoke test: few steps, one seed; the numbers mean nothing).", ""]
    L += [f"Data: scikit-learn's digits upsampled to {st['image_size']} x {st['image_size']}, split 1078 / 359 / 360 by seed; seeds {st['seeds']}. "
          f"Model: FieldCNN (circular 5 x 5 convs 1 -> 8 -> 16, ReLU, linear head over the 16-channel field). "
          f"Training: Adam lr {st['lr']} (held for {st['lr_hold']:.0%} of the epochs, then decayed to "
          f"{st['lr_final']:g} x), batch {st['batch']}, {st['steps']} steps, best validation accuracy "
          f"selected. Promotion: ADMM over se(2) (rotation about the centre, x and y translation), rho "
          f"{st['rho']}, Z/U update every {st['update_every']} steps, reweighted. \"promote (val)\": the gamma "
          f"with the best validation accuracy per size and seed.", "",
          "## Test accuracy (upright), median [min, max] over seeds", "",
          "| arm | " + " | ".join(f"n = {n}" for n in sizes) + " |", "|---" * (len(sizes) + 1) + "|"]
    rows = [(a, [r for r in runs if r["arm"] == a]) for a in arms] + [("promote (val)", sel)]
    for name, rs in rows:
        L.append(f"| {name} | " + " | ".join(_cell([r["test_acc"] for r in rs if r["n"] == n]) for n in sizes)
                 + " |")
    pol = [r for r in runs if "test_acc_polished" in r]
    if pol:
        L.append("| promoted and polished (where kept) | " + " | ".join(
            _cell([r["test_acc_polished"] for r in pol if r["n"] == n]) for n in sizes) + " |")
    L += ["", "## Accuracy on rotated test images (median over seeds; the mean of +- angle)", ""]
    L += ["| arm | n | " + " | ".join(f"{a} deg" for a in (0,) + ANGLES) + " |", "|---" * (len(ANGLES) + 3) + "|"]
    for name, rs in rows:
        for n in sizes:
            rr = [r for r in rs if r["n"] == n]
            if not rr:
                continue
            cells = [med([r["test_acc"] for r in rr])] + [med([r["rotated_acc"][str(a)] for r in rr]) for a in ANGLES]
            L.append(f"| {name} | {n} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    L += ["", "## The symmetry each model ends with (selected state)", "",
          "Singular values of S(theta) over se(2) relative to sigma_1; `dir_min`: the least-broken direction (the "
          "right singular vector of the smallest singular value) in the basis (rot, tx, ty); kept: the dimension by "
          "the rank rule (\"auto\", gap >= 10 at the cut); after polish: the kept singular values / sigma_1.", "",
          "| arm | n | seed | best epoch | sv / sigma_1 | dir_min | kept | after polish |", "|---" * 8 + "|"]
    for r in sorted(runs, key=lambda r: (arms.index(r["arm"]), r["n"], r["seed"])):
        sp = r["spectrum"]
        dmin = sp["directions"][-1]
        k = r.get("kept")
        L.append(f"| {r['arm']} | {r['n']} | {r['seed']} | {r['best_epoch']} | "
                 f"{', '.join(fmt(v, 2) for v in sp['sv_rel'])} | "
                 f"({', '.join(f'{v:+.2f}' for v in dmin)}) | {'-' if k is None else k['kept_dim']} | "
                 f"{', '.join(fmt(v, 2) for v in r['polish']['relative']) if 'polish' in r else '-'} |")
    L += ["", "## Cost", "", "| arm | n | ms per step (median) | training s (median) |", "|---|---|---|---|"]
    for a in arms:
        for n in sizes:
            rr = [r for r in runs if r["arm"] == a and r["n"] == n]
            if rr:
                L.append(f"| {a} | {n} | {1e3 * med([r['seconds_per_step'] for r in rr]):.0f} | "
                         f"{med([r['train_seconds'] for r in rr]):.0f} |")
    L += ["", res.get("reading", ""), ""]
    path.write_text("\n".join(L))


# ------------------------------------------------------------------------------------------------ main
def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: 40 steps, one seed, sizes 100")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    ap.add_argument("--seeds", type=str, default=None, help="N (seeds 0..N-1) or a comma list (default 3)")
    ap.add_argument("--sizes", type=str, default=None, help="training-set sizes (default 100,300,1078)")
    ap.add_argument("--gammas", type=str, default="0.03,0.3,3", help="ADMM gammas of the promoted arms")
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps per run (default 1000; quick 40)")
    ap.add_argument("--image-size", type=int, default=17,
                    help="digits upsampled to this size (default 17: odd, see symlie.nn.conv on even grids)")
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--lr-hold", type=float, default=0.5, help="fraction of epochs at constant lr (default 0.5)")
    ap.add_argument("--lr-final", type=float, default=1e-3, help="lr factor reached at the last epoch (1e-3)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--rho", type=float, default=1.0)
    ap.add_argument("--update-every", type=int, default=10)
    ap.add_argument("--n-val", type=int, default=50, help="validations per run (about; default 50)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--out-stem", type=str, default=None)
    ap.add_argument("--render", type=Path, help="only re-write the markdown next to this JSON result file")
    args = ap.parse_args(argv)
    q = args.quick
    s = args.seeds or ("1" if q else "3")
    args.seeds = list(range(int(s))) if s.strip().isdigit() else [int(v) for v in s.split(",")]
    args.sizes = [int(v) for v in (args.sizes or ("100" if q else "100,300,1078")).split(",")]
    if any(n < 1 or n > 1078 for n in args.sizes):
        ap.error("--sizes: each value must be in 1..1078 (the training split)")
    args.gammas = [float(v) for v in args.gammas.split(",") if v.strip()]
    if any(not (g > 0 and math.isfinite(g)) for g in args.gammas):
        ap.error("--gammas: each must be a finite number > 0")
    args.steps = args.steps or (40 if q else 1000)
    args.out_stem = args.out_stem or ("promote_cnn_quick" if q else "promote_cnn")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.render:
        return render_markdown(args.render, write_markdown)
    torch.set_num_threads(args.threads)
    os.environ.setdefault("SYMLIE_PROGRESS", "0")
    t_start = time.perf_counter()
    exe = os.path.relpath(sys.executable)
    env = run_environment()
    arms = ["plain"] + [f"promote_{g:g}" for g in args.gammas]
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    args.out.mkdir(parents=True, exist_ok=True)
    jpath, mpath = args.out / f"{args.out_stem}.json", args.out / f"{args.out_stem}.md"
    res = {"benchmark": "promote_cnn",
           "command": shlex.join([exe if not exe.startswith("..") else sys.executable] + sys.argv),
           "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "settings": settings,
           "environment": env, "runs": [], "planned_runs": len(args.seeds) * len(args.sizes) * len(arms)}

    def save():
        env["loadavg_end"] = loadavg()
        res["total_wall_s"] = time.perf_counter() - t_start
        jpath.write_text(json.dumps(clean(res), indent=1))
        write_markdown(json.loads(jpath.read_text()), mpath)

    for seed in args.seeds:
        data = load_digits_images(args.image_size, seed=seed)
        for n in args.sizes:
            for arm in arms:
                info = one_run(arm, n, seed, data, args)
                res["runs"].append(info)
                k = info.get("kept")
                print(f"[{len(res['runs'])}/{res['planned_runs']}] seed {seed} n {n:4d} {arm:14s} val "
                      f"{info['val_acc']:.3f} test {info['test_acc']:.3f} rot45 {info['rotated_acc']['45']:.3f} "
                      f"sv/s1 {', '.join(fmt(v, 2) for v in info['spectrum']['sv_rel'])}"
                      f"{'' if k is None else ' kept ' + str(k['kept_dim'])} ({info['train_seconds']:.0f} s)",
                      flush=True)
                save()
    save()
    print(f"wrote {jpath} and {mpath} ({res['total_wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
