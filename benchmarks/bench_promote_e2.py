"""Benchmark: Otto et al.'s experiment E2 (equivariance-promoting networks on the double spring pendulum), here.

Run from the repository root:

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_promote_e2.py              # full
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_promote_e2.py --quick      # ~1-2 min
    .venv/bin/python benchmarks/bench_promote_e2.py --n-traj 25,100 --seeds 0 --arms epnn_so3,epnn_so2   # a part
    .venv/bin/python benchmarks/bench_promote_e2.py --render benchmarks/results/promote_e2.json           # md only
    .venv/bin/python benchmarks/bench_promote_e2.py --merge PART_A.json PART_B.json   # parts run side by side

Writes benchmarks/results/promote_e2.json (settings, machine, command, every run; rewritten after every run so a
stopped run keeps what it finished, and ``--resume`` skips the runs already there with the same settings) and
promote_e2.md (tables and the targets); ``--quick`` writes promote_e2_quick.json / .md (``--out-stem`` renames).

Data (framework.md section 7.1, made in-house: ``symlie.datasets.DoubleSpringPendulum``): 1500 systems, one chunk
of 5 states each (dt 0.2, t = 0..0.8), data seed 0; per run seed s the split ``split(s)`` (the permutation of
``numpy.random.default_rng(42 + s)``, EMLP's PRNGKey(42 + seed)) into 500 train / 500 validation / 500 test chunks;
a run trains on the first n_traj training chunks (full batch: one optimizer step per epoch).

Arms (all neural ODEs x' = f(x) integrated by ``symlie.nn.NeuralODE``, RK4 with ``--ode-step`` 0.2 = one step per
0.2 interval, float32):
  * mlp           MLP [12, 42, 42, 42, 12], tanh, weights and biases N(0, 1e-2^2) (the original's initialisation);
  * mlp_penalty   the same + gamma ||S_F||_* with ``symlie.promote.NuclearNormPenalty(so(3), X, dynamics=True)``:
                  the Lie derivatives of the field at ``--penalty-points`` points uniform in [-M, M]^12 (M = max |x|
                  over the run's training chunks; drawn once per run from the seed), gamma ``--mlp-gamma`` (1e-4,
                  the original's), added to the loss as a subgradient term (``train_neural_ode(regularizer=...)``).
                  The original used 1e5 points (4.4 s per step here, 1000 points: 0.05 s).
  * epnn_none     ``symlie.nn.EPNN`` blocks ``--blocks`` [3, 3, 1] (4,626 parameters), mode "none", U[-0.1, 0.1];
  * epnn_so3      mode "promote", ``pendulum_candidates("so3")``, ``EPNN.promotion`` = ``symlie.promote.ADMMPenalty``
                  (the nuclear-norm split, update after every optimizer step) with the arm's gamma / rho / reweight;
  * epnn_se3      the same with ``pendulum_candidates("se3")`` (translations of x1 and x2; affine);
  * epnn_so2      mode "enforce" under ``pendulum_candidates("so2")`` (rotations about z: the true symmetry).

Training (``symlie.nn.train_neural_ode`` on the one Trainer): MSE of the rolled-out states 1..4, Adam lr ``--lr``
(3e-3) held for the first ``--lr-hold`` (half) of the ``--steps`` (1000) steps, then decayed exponentially to
``--lr-final`` (1e-3) times lr at the last step; the same schedule for every arm. The original: Adam lr 3e-4
constant for 1e4 steps (10x the steps; too slow for this machine: see the md for times). Validation rollout MSE
(500 chunks) every ``--val-every`` (20) steps and after the last; the state with the best validation MSE is
selected (the Trainer restores it; the test set is never used for any choice). Promotion settings (gamma, rho,
reweight) per candidate group were chosen on VALIDATION MSE (and the spectrum) of pilot runs (seed 0, n_traj 25
and 100, 500-900 steps; the test set was not looked at): so(3) gamma 1e-2 reweighted (plain gamma 3e-3 or 1e-2: no
gap in the spectrum; reweighted 2e-2 or 3e-2: the fit collapsed, every parameter shrunk), se(3) gamma 3e-3 plain
(reweighted 1e-3 kept the three translations, which reach only the first layer's operator, and lost the spring to
the origin: 2x worse validation MSE; reweighted 1e-2 collapsed). Selection and promotion interact: the best
validation state can come before S(theta) has settled onto its low-rank Z (the spectrum at the last step is
recorded as well).

Cost (measured here with 1 thread, the machine partly loaded): ms per step including the validation share, for
n_traj 5 / 25 / 100 / 500: MLP 16 / 16 / 18 / 32, MLP + penalty ~65, EPNN none 43 / 38 / 77 / 193, promote so(3)
50 / 58 / 86 / 208, promote se(3) 56 / 68 / 82 / 265, enforce so(2) 81 / 72 / 105 / 271; polish 4-25 s. The full
default run (1000 steps, 7 n_traj, 6 arms) is about 1 h per seed, 3 h for the default 3 seeds.

Measured per run: the test rollout MSE (mean over the 500 test chunks of the mean squared error of states 1..4);
for the promoted arms, at the selected state: the singular spectrum of the stacked operator S(theta)
(``ADMMPenalty.spectrum``), the kept algebra by the rank rule (``ADMMPenalty.kept``: "auto", min_gap 10, float32
floor), the gap ratio at the cut, the principal angle between the kept directions and the z rotation (its
coordinates in the candidate basis), and the angle of the least-broken direction to it (meaningful when nothing is
kept); then ``polish()`` (exact symmetry under the kept directions) and the spectrum and test MSE after it. For
mlp_penalty: the spectrum of its penalty operator at the selected state (no polish: an MLP is not linear in its
parameters). Wall times per run and per step.
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
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

import symlie as sl  # noqa: E402
from symlie.datasets import DoubleSpringPendulum, pendulum_candidates  # noqa: E402
from symlie.linalg import RankRule, nullspace_from_spectrum, principal_angles, singular_spectrum  # noqa: E402
from symlie.nn import EPNN, NeuralODE, ode_rollout_mse, train_neural_ode  # noqa: E402

from _common import clean, fmt, loadavg, loadavg_line, med, render_markdown, run_environment  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DT = torch.float64
ARMS = ("mlp", "mlp_penalty", "epnn_none", "epnn_so3", "epnn_se3", "epnn_so2")
LABELS = {"mlp": "MLP", "mlp_penalty": "MLP + penalty so(3)", "epnn_none": "EPNN none",
          "epnn_so3": "EPNN promote so(3)", "epnn_se3": "EPNN promote se(3)", "epnn_so2": "EPNN enforce so(2)"}
PROMOTED = {"epnn_so3": "so3", "epnn_se3": "se3"}
N_TRAJ = (5, 10, 25, 50, 100, 250, 500)
ANGLE_TOL = 0.05          # rad: "the kept direction is the z rotation"
GAP_TARGET = 10.0
EMLP = {"EMLP-O(2)": (0.012, 0.002), "EMLP-SO(2)": (0.015, 0.003), "MLP": (0.028, None)}


# ---------------------------------------------------------------------------------------------- helpers



def fnum(v):
    """A JSON value back to float (the strings 'inf' / 'nan' included)."""
    return float(v) if v is not None else float("nan")


def ints(s: str) -> list[int]:
    out = []
    for part in s.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def z_direction(cands: sl.LieAlgebra) -> torch.Tensor:
    """(q, 1): the rotation about z in the coordinates of the candidate basis (unit)."""
    g = pendulum_candidates("so2").basis[0]
    if cands.affine:
        X = torch.zeros(13, 13, dtype=DT)
        X[:12, :12] = g
        g = X
    c, res = cands.coordinates(g, return_residual=True)
    assert float(res) < 1e-12, "the z rotation is not in the candidate algebra"
    return (c / c.norm()).reshape(-1, 1)


def angle(basis: torch.Tensor, z: torch.Tensor) -> float:
    return float(principal_angles(basis.to(DT), z)[0]) if basis.shape[1] else float("nan")


def spectrum_info(s: torch.Tensor, V: torch.Tensor, z: torch.Tensor, rule: RankRule) -> dict:
    """Kept algebra of a spectrum s (descending) with right singular vectors V (columns)."""
    ns = nullspace_from_spectrum(s, V, rule)
    rel = (s / s[0]).tolist() if float(s[0]) > 0 else s.tolist()
    return {"sv": s.tolist(), "sv_rel": rel, "kept_dim": ns.dim, "gap": ns.gap_ratio, "reason": ns.reason,
            "angle_kept_z": angle(ns.basis, z), "angle_least_z": angle(V[:, -1:], z)}


# ---------------------------------------------------------------------------------------------- models


def make_mlp(seed: int) -> torch.nn.Module:
    net = torch.nn.Sequential(torch.nn.Linear(12, 42), torch.nn.Tanh(), torch.nn.Linear(42, 42), torch.nn.Tanh(),
                              torch.nn.Linear(42, 42), torch.nn.Tanh(), torch.nn.Linear(42, 12))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():                     # N(0, 1e-2^2), weights and biases (the original)
            p.copy_(1e-2 * torch.randn(p.shape, generator=g))
    return net


def promote_settings(args, cand: str) -> dict:
    return {"gamma": getattr(args, f"gamma_{cand}"), "rho": args.rho,
            "reweight": bool(getattr(args, f"reweight_{cand}"))}


def one_run(arm: str, n: int, seed: int, split, times, args) -> dict:
    train_all, val, test = split
    train = train_all[:n].float()
    blocks = args.blocks
    promotion, regularizer, pen, z, cands = None, None, None, None, None
    info: dict = {"arm": arm, "n_traj": n, "seed": seed}
    if arm in ("mlp", "mlp_penalty"):
        field = make_mlp(seed)
        if arm == "mlp_penalty":
            cands = pendulum_candidates("so3")
            M = float(train.abs().max())
            g = torch.Generator().manual_seed(1000 + seed)
            X = (2 * torch.rand(args.penalty_points, 12, generator=g) - 1) * M
            with warnings.catch_warnings(record=True) as wl:
                warnings.simplefilter("always")
                pen = sl.NuclearNormPenalty(cands, X, dynamics=True)
            info["penalty_status"] = pen.status
            info["penalty_warnings"] = [str(w.message) for w in wl]
            gamma = args.mlp_gamma
            regularizer = lambda: gamma * pen(field)  # noqa: E731
            info["settings"] = {"gamma": gamma, "points": args.penalty_points, "box": M, "candidates": "so3"}
            z = z_direction(cands)
    elif arm == "epnn_none":
        field = EPNN(12, blocks, mode="none", seed=seed)
    elif arm == "epnn_so2":
        field = EPNN(12, blocks, mode="enforce", group=pendulum_candidates("so2"), seed=seed)
    else:
        cand = PROMOTED[arm]
        cands = pendulum_candidates(cand)
        field = EPNN(12, blocks, mode="promote", seed=seed)
        kw = promote_settings(args, cand)
        promotion = field.promotion(cands, **kw)
        info["settings"] = {**kw, "candidates": cand}
        z = z_direction(cands)
    info["n_params"] = sum(p.numel() for p in field.parameters())
    node = NeuralODE(field, step_size=args.ode_step)
    steps = args.steps
    hold = int(round(args.lr_hold * steps))
    final = args.lr_final

    def lr_factor(e: int) -> float:
        return final ** (max(0, e - hold) / max(1, steps - hold))

    final_state: dict = {}

    def log(rec):
        if rec["epoch"] == steps and promotion is not None:     # before the Trainer restores the selected state
            sv = promotion.spectrum()
            final_state["sv_rel"] = (sv / sv[0]).tolist()
            final_state["val"] = rec["val"]

    t0 = time.perf_counter()
    res = train_neural_ode(node, train, val, times=times, epochs=steps, batch_size=500, lr=args.lr,
                           scheduler=lambda o: torch.optim.lr_scheduler.LambdaLR(o, lr_factor),
                           promotion=promotion, regularizer=regularizer, seed=seed, progress=False,
                           val_every=args.val_every, val_batch_size=500, log_fn=log)
    t_train = time.perf_counter() - t0
    n_val = sum(1 for h in res.history if h["val"] is not None)
    info.update({"status": res.status, "best_step": res.best_epoch, "val": res.best_val, "train_seconds": t_train,
                 "steps": res.steps, "n_validations": n_val,
                 "final_train_mse": res.history[-1]["terms"].get("mse", res.history[-1]["train_loss"]),
                 "terms_last": res.history[-1]["terms"]})
    t0 = time.perf_counter()
    info["test"] = float(ode_rollout_mse(node, test, times).mean())
    info["test_seconds"] = time.perf_counter() - t0
    if promotion is not None:
        kept = promotion.kept()
        assert kept.complement is not None and kept.rank_rule is not None
        V = torch.cat([kept.complement, kept.basis], 1)
        info["kept"] = spectrum_info(kept.singular_values, V, z, kept.rank_rule)
        info["final_state"] = final_state
        info["admm_status"] = promotion.status
        if kept.dim:
            t0 = time.perf_counter()
            pol = promotion.polish(kept)
            info["polish"] = {"seconds": time.perf_counter() - t0, "sv_rel": (pol.singular_values /
                              pol.singular_values[0]).tolist(), "kept_rel": pol.relative.tolist(),
                              "change": pol.change, "n_groups": pol.n_groups}
            info["test_polished"] = float(ode_rollout_mse(node, test, times).mean())
            info["val_polished"] = float(ode_rollout_mse(node, val, times).mean())
        else:
            info["polish"] = None
            info["test_polished"] = info["test"]
            info["val_polished"] = info["val"]
    if pen is not None:
        with torch.no_grad():
            S = pen.operator(field).detach().to("cpu", DT)
        s, V = singular_spectrum(S)
        info["kept"] = spectrum_info(s, V, z, RankRule.resolve("auto", floor=1e-5))
    info["seconds_per_step"] = t_train / max(1, res.steps)
    return info


# ---------------------------------------------------------------------------------------------- tables


def rows_of(res, arm, n, key="test"):
    return [fnum(r[key]) for r in res["runs"] if r["arm"] == arm and r["n_traj"] == n and key in r]


def cell(xs) -> str:
    xs = [x for x in xs if math.isfinite(x)]
    if not xs:
        return "-"
    if len(xs) == 1:
        return fmt(xs[0])
    return f"{fmt(med(xs))} [{fmt(min(xs))}, {fmt(max(xs))}]"


def targets(res) -> list[str]:
    st = res["settings"]
    ns = st["n_traj"]
    L = []
    for arm in ("epnn_so3", "epnn_se3"):
        if arm not in st["arms"]:
            continue
        rs = [r for r in res["runs"] if r["arm"] == arm]
        if not rs:
            continue
        ok = [r for r in rs if r["kept"]["kept_dim"] == 1 and fnum(r["kept"]["gap"]) >= GAP_TARGET
              and fnum(r["kept"]["angle_kept_z"]) <= ANGLE_TOL]
        per_n = ", ".join(f"{n}: {sum(1 for r in ok if r['n_traj'] == n)}/{sum(1 for r in rs if r['n_traj'] == n)}"
                          for n in ns if any(r["n_traj"] == n for r in rs))
        L.append(f"- {LABELS[arm]} keeps exactly the z rotation (kept dimension 1, gap >= {GAP_TARGET:g} at the cut, "
                 f"angle <= {ANGLE_TOL:g} rad): **{len(ok)}/{len(rs)} runs** {'met' if len(ok) == len(rs) else 'NOT met'}"
                 f" (per n_traj: {per_n}).")
        for ref, cond, what in (("epnn_so2", lambda n: n >= 25, "within 1.3x of the enforced model (n_traj >= 25)"),
                                ("mlp", lambda n: n <= 25, "beats the MLP by >= 2x (n_traj <= 25)")):
            parts, allok, any_n = [], True, False
            for n in ns:
                if not cond(n):
                    continue
                a, b = rows_of(res, arm, n, "test_polished"), rows_of(res, ref, n)
                if not a or not b:
                    continue
                any_n = True
                ratio = med(a) / med(b) if ref == "epnn_so2" else med(b) / med(a)
                good = ratio <= 1.3 if ref == "epnn_so2" else ratio >= 2.0
                allok &= good
                parts.append(f"{n}: {ratio:.2f}{'' if good else ' (fails)'}")
            if any_n:
                num, den = (arm, ref) if ref == "epnn_so2" else (ref, arm)
                L.append(f"- {LABELS[arm]} {what}: median test MSE ratio {LABELS[num]} / {LABELS[den]} (polished "
                         f"promoted models) at n_traj {'; '.join(parts)}: **{'met' if allok else 'NOT met'}**.")
            else:
                L.append(f"- {LABELS[arm]} {what}: not measured (arm or n_traj missing).")
    return L


def write_markdown(res: dict, path: Path) -> None:
    env, st = res["environment"], res["settings"]
    ns = st["n_traj"]
    arms = [a for a in ARMS if a in st["arms"]]
    L = ["# E2: equivariance-promoting networks on the double spring pendulum (Otto et al.)\n",
         f"Command: `{res['command']}` (in `{env['cwd']}`)  ",
         f"Date: {res['date']}; wall time so far {res.get('total_wall_s', 0):.0f} s; runs {len(res['runs'])}/"
         f"{res['planned_runs']}{' (complete)' if len(res['runs']) >= res['planned_runs'] else ' (PARTIAL)'}  ",
         f"torch {env['torch']}, numpy {env['numpy']}, symlie {env['symlie']}, Python {env['python']}, "
         f"{env['cpu_count']} CPUs ({env['processor']}), torch threads {env['torch_threads']}, BLAS threads "
         f"{env['blas_threads']}  ", loadavg_line(env) + "\n"]
    if st["quick"]:
        L.append("**Quick run** (a smoke test: a few steps, one seed; the numbers mean nothing).\n")
    L.append(f"Data: 1500 double-spring-pendulum chunks of 5 states (dt 0.2) made in-house, split 500/500/500 by "
             f"seed; training on the first n_traj chunks. Seeds {st['seeds']}. Training: {st['steps']} full-batch Adam "
             f"steps, lr {st['lr']:g} held for {st['lr_hold']:.0%} of them then decayed to {st['lr_final']:g} x lr; "
             f"RK4 step {st['ode_step']:g}; validation every {st['val_every']} steps, the best validation state "
             f"selected. The original: Adam lr 3e-4 constant for 1e4 steps ({10000 / st['steps']:g}x these steps). "
             f"Promotion: so(3) {promote_settings_str(st, 'so3')}; se(3) {promote_settings_str(st, 'se3')}; "
             f"MLP penalty gamma {st['mlp_gamma']:g} at {st['penalty_points']} points. See the script's docstring.\n")
    per_n = {n: sorted({r["seed"] for r in res["runs"] if r["n_traj"] == n}) for n in ns}
    if len({tuple(v) for v in per_n.values()}) > 1 or res.get("dropped_incomplete"):
        L.append("Seeds per n_traj: " + ", ".join(f"{n}: {per_n[n]}" for n in ns) + ". " + (
            f"Merged from parts run side by side; {len(res['dropped_incomplete'])} runs of (n_traj, seed) cells "
            f"that not every arm finished were dropped (listed in the JSON, ``dropped_incomplete``), so that each "
            f"median compares the arms on the same seeds.\n" if res.get("dropped_incomplete") else "\n"))
    L.append("## Test rollout MSE (states 1..4), median [min, max] over seeds\n")
    L.append("| arm | " + " | ".join(f"n_traj {n}" for n in ns) + " |")
    L.append("|---|" + "---|" * len(ns))
    for arm in arms:
        L.append(f"| {LABELS[arm]} | " + " | ".join(cell(rows_of(res, arm, n)) for n in ns) + " |")
        if arm in PROMOTED:
            L.append(f"| {LABELS[arm]}, polished | " + " | ".join(cell(rows_of(res, arm, n, "test_polished"))
                                                                for n in ns) + " |")
    L.append("\nPolished: after ``ADMMPenalty.polish()`` of the kept algebra (unchanged where nothing was kept).\n")
    L.append("## Kept algebras (selected state, before polish)\n")
    L.append("Per run: kept dimension by the rank rule, gap ratio at the cut, singular values / sigma_1 of the stacked "
             "operator, angle (rad) of the kept direction to the z rotation (of the least-broken direction when "
             "nothing is kept, in parentheses), and the largest kept singular value / sigma_1 after polish.\n")
    L.append("| arm | n_traj | seed | best step | kept dim | gap | sv / sigma_1 | angle to z | after polish |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in sorted((r for r in res["runs"] if "kept" in r), key=lambda r: (ARMS.index(r["arm"]), r["n_traj"],
                                                                           r["seed"])):
        k = r["kept"]
        ang = fmt(fnum(k["angle_kept_z"]), 2) if k["kept_dim"] else f"({fmt(fnum(k['angle_least_z']), 2)})"
        pol = r.get("polish")
        after = fmt(max(pol["kept_rel"]), 2) if pol else ("-" if r["arm"] in PROMOTED else "no polish")
        L.append(f"| {LABELS[r['arm']]} | {r['n_traj']} | {r['seed']} | {r['best_step']} | {k['kept_dim']} | "
                 f"{fmt(fnum(k['gap']), 3)} | {', '.join(fmt(fnum(v), 2) for v in k['sv_rel'])} | {ang} | {after} |")
    fs = [r for r in res["runs"] if r.get("final_state", {}).get("sv_rel")]
    if fs:
        L.append("\nSpectrum at the last step (before the Trainer restores the selected state), for comparison: "
                 + "; ".join(f"{LABELS[r['arm']]} n={r['n_traj']} s={r['seed']}: "
                             + ", ".join(fmt(fnum(v), 2) for v in r["final_state"]["sv_rel"]) for r in fs) + ".\n")
    L.append("## Targets of the issue\n")
    L += targets(res) or ["- no promoted runs yet."]
    L.append("")
    L.append("## Beside EMLP's published double-pendulum numbers\n")
    L.append("EMLP (Finzi et al. 2021, ScalarEMLP README table): " + ", ".join(
        f"{k} {v[0]:g}" + (f" +- {v[1]:g}" if v[1] else "") for k, v in EMLP.items())
        + ". A different protocol and metric: Hamiltonian networks (HNN) trained on 5000 systems (500 chunks), "
          "2000 epochs, and the geometric mean over test initial conditions and time of the relative error "
          "RMS(a - b) / (RMS(a) + RMS(b)) along 30 s rollouts at dt 0.2. Ours: neural ODEs (vector fields, not "
          "Hamiltonians) trained on n_traj <= 500 chunks, and the mean squared error of the first 0.8 s (4 states) "
          "of each test chunk. The two are not comparable number to number; only the ordering (symmetric models "
          "better than the MLP) is.\n")
    L.append("## Wall time\n")
    L.append("| arm | " + " | ".join(f"n_traj {n}" for n in ns) + " |")
    L.append("|---|" + "---|" * len(ns))
    for arm in arms:
        L.append(f"| {LABELS[arm]} | " + " | ".join(
            fmt(med(rows_of(res, arm, n, "train_seconds")), 3) + " s" if rows_of(res, arm, n, "train_seconds")
            else "-" for n in ns) + " |")
    L.append("\nMedian training seconds per run (validation included, polish excluded). Milliseconds per step:\n")
    L.append("| arm | " + " | ".join(f"n_traj {n}" for n in ns) + " |")
    L.append("|---|" + "---|" * len(ns))
    for arm in arms:
        L.append(f"| {LABELS[arm]} | " + " | ".join(
            fmt(1e3 * med(rows_of(res, arm, n, "seconds_per_step")), 3) if rows_of(res, arm, n, "seconds_per_step")
            else "-" for n in ns) + " |")
    pol = [r["polish"]["seconds"] for r in res["runs"] if r.get("polish")]
    if pol:
        L.append(f"\npolish: median {med(pol):.1f} s ({len(pol)} runs).")
    if res.get("reading"):
        L.append("\n" + res["reading"])
    path.write_text("\n".join(L) + "\n")


def promote_settings_str(st, cand) -> str:
    return (f"gamma {st[f'gamma_{cand}']:g}, rho {st['rho']:g}, "
            f"{'reweighted' if st[f'reweight_{cand}'] else 'plain'} nuclear norm")


# ---------------------------------------------------------------------------------------------- main


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a smoke run: 10 steps, one seed, n_traj 10,50")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads and BLAS threads (default 1)")
    ap.add_argument("--seeds", type=str, default=None,
                    help="a count N (seeds 0..N-1; default 3) or a list / range (0,3,4; 0-4; 1-1 for seed 1 "
                         "alone); quick: 1")
    ap.add_argument("--n-traj", type=str, default=None, help="training chunks, default 5,10,25,50,100,250,500")
    ap.add_argument("--arms", type=str, default=",".join(ARMS), help=f"comma list of {', '.join(ARMS)}")
    ap.add_argument("--steps", type=int, default=None, help="optimizer steps (default 1000; quick 10; original 1e4)")
    ap.add_argument("--lr", type=float, default=3e-3, help="Adam learning rate (default 3e-3)")
    ap.add_argument("--lr-hold", type=float, default=0.5, help="fraction of steps at constant lr (default 0.5)")
    ap.add_argument("--lr-final", type=float, default=1e-3, help="lr factor reached at the last step (default 1e-3)")
    ap.add_argument("--val-every", type=int, default=None, help="validate every so many steps (default 20)")
    ap.add_argument("--ode-step", type=float, default=0.2, help="RK4 step in time units (default 0.2)")
    ap.add_argument("--blocks", type=str, default="3,3,1", help="EPNN blocks per layer (default 3,3,1)")
    ap.add_argument("--gamma-so3", type=float, default=1e-2, help="ADMM gamma, so(3) candidates (default 1e-2)")
    ap.add_argument("--gamma-se3", type=float, default=3e-3, help="ADMM gamma, se(3) candidates (default 3e-3)")
    ap.add_argument("--reweight-so3", type=int, default=1, choices=(0, 1), help="reweighted nuclear norm (so3)")
    ap.add_argument("--reweight-se3", type=int, default=0, choices=(0, 1), help="reweighted nuclear norm (se3)")
    ap.add_argument("--rho", type=float, default=1.0, help="ADMM rho (default 1)")
    ap.add_argument("--mlp-gamma", type=float, default=1e-4, help="gamma of the MLP penalty (default 1e-4)")
    ap.add_argument("--penalty-points", type=int, default=1000, help="points of the MLP penalty (default 1000)")
    ap.add_argument("--out", type=Path, default=RESULTS, help="output folder (default benchmarks/results)")
    ap.add_argument("--out-stem", type=str, default=None, help="file stem (default promote_e2, quick promote_e2_quick)")
    ap.add_argument("--resume", action="store_true", help="skip the runs already in the JSON (same settings)")
    ap.add_argument("--render", type=Path, help="only re-write the markdown next to this JSON result file")
    ap.add_argument("--merge", nargs="+", type=Path, default=None, metavar="PART_JSON",
                    help="merge the runs of these part files (same settings; e.g. parts run on the two cores) into "
                         "--out / --out-stem (default benchmarks/results/promote_e2.json and .md)")
    args = ap.parse_args(argv)
    q = args.quick
    s = args.seeds or ("1" if q else "3")
    args.seeds = list(range(int(s))) if s.strip().isdigit() else ints(s)
    args.n_traj = ints(args.n_traj) if args.n_traj else ([10, 50] if q else list(N_TRAJ))
    if any(n < 1 or n > 500 for n in args.n_traj):
        ap.error("--n-traj: each value must be in 1..500")
    args.arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    bad = [a for a in args.arms if a not in ARMS]
    if bad:
        ap.error(f"--arms: unknown {bad}; choose from {', '.join(ARMS)}")
    args.steps = args.steps or (10 if q else 1000)
    args.val_every = args.val_every or (5 if q else 20)
    args.blocks = ints(args.blocks)
    args.out_stem = args.out_stem or ("promote_e2_quick" if q else "promote_e2")
    return args


SETTING_KEYS = ("steps", "lr", "lr_hold", "lr_final", "val_every", "ode_step", "blocks", "gamma_so3", "gamma_se3",
                "reweight_so3", "reweight_se3", "rho", "mlp_gamma", "penalty_points")


def merge(args) -> int:
    """One results file from part files run with the same settings (their commands, machines and load kept)."""
    parts = [json.loads(p.read_text()) for p in args.merge]
    ref = parts[0]["settings"]
    for p, r in zip(args.merge, parts):
        bad = [k for k in SETTING_KEYS if r["settings"].get(k) != ref.get(k)]
        if bad:
            raise SystemExit(f"--merge: {p} has other settings ({', '.join(bad)}) than {args.merge[0]}")
    runs, seen = [], set()
    for r in (r for part in parts for r in part["runs"]):
        key = (r["arm"], r["n_traj"], r["seed"])
        if key in seen:
            raise SystemExit(f"--merge: the run {key} is in more than one part")
        seen.add(key)
        runs.append(r)
    # a (n_traj, seed) cell that lacks some arm (a part stopped mid-seed) is dropped, so every median over seeds
    # compares the arms on the same seeds; the dropped runs are listed in the result
    arms_all = {r["arm"] for r in runs}
    cells: dict = {}
    for r in runs:
        cells.setdefault((r["n_traj"], r["seed"]), set()).add(r["arm"])
    dropped = [r for r in runs if cells[(r["n_traj"], r["seed"])] != arms_all]
    runs = [r for r in runs if cells[(r["n_traj"], r["seed"])] == arms_all]
    settings = dict(ref)
    settings["seeds"] = sorted({r["seed"] for r in runs})
    settings["n_traj"] = sorted({r["n_traj"] for r in runs})
    settings["arms"] = [a for a in ARMS if any(r["arm"] == a for r in runs)]
    planned = len({(a, n, sd) for p in parts for a in p["settings"]["arms"] for n in p["settings"]["n_traj"]
                   for sd in p["settings"]["seeds"]})
    env = dict(parts[0]["environment"])
    env["loadavg_end"] = parts[-1]["environment"].get("loadavg_end")
    res = {"benchmark": "promote_e2", "command": " ; ".join(p["command"] for p in parts) + " ; then "
           + shlex.join(["python", "benchmarks/bench_promote_e2.py", "--merge", *map(str, args.merge)]),
           "date": max(p["date"] for p in parts), "settings": settings, "environment": env, "runs": runs,
           "planned_runs": planned, "total_wall_s": max(p.get("total_wall_s", 0) for p in parts),
           "merged_from": [{"file": str(f), "command": p["command"], "runs": len(p["runs"]),
                            "planned_runs": p["planned_runs"], "total_wall_s": p.get("total_wall_s"),
                            "loadavg": [p["environment"].get("loadavg_start"), p["environment"].get("loadavg_end")]}
                           for f, p in zip(args.merge, parts)],
           "dropped_incomplete": [{"arm": r["arm"], "n_traj": r["n_traj"], "seed": r["seed"], "test": r["test"]}
                                  for r in dropped]}
    args.out.mkdir(parents=True, exist_ok=True)
    jpath = args.out / f"{args.out_stem}.json"
    jpath.write_text(json.dumps(clean(res), indent=1))
    write_markdown(json.loads(jpath.read_text()), jpath.with_suffix(".md"))
    print(f"merged {len(runs)} runs ({planned} planned; {len(dropped)} dropped from incomplete (n_traj, seed) cells) "
          f"from {len(parts)} parts into {jpath} and its .md")
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.merge:
        return merge(args)
    if args.render:
        return render_markdown(args.render, write_markdown)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    exe = os.path.relpath(sys.executable)
    env = run_environment()
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    args.out.mkdir(parents=True, exist_ok=True)
    jpath, mpath = args.out / f"{args.out_stem}.json", args.out / f"{args.out_stem}.md"
    runs: list[dict] = []
    if args.resume and jpath.exists():
        old = json.loads(jpath.read_text())
        if all(old["settings"].get(k) == settings[k] for k in SETTING_KEYS):
            runs = old["runs"]
            print(f"resuming: {len(runs)} runs from {jpath}", flush=True)
        else:
            print(f"--resume: {jpath} has other settings; starting anew", flush=True)
    res = {"benchmark": "promote_e2",
           "command": shlex.join([exe if not exe.startswith("..") else sys.executable] + sys.argv),
           "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), "settings": settings,
           "environment": env, "runs": runs,
           "planned_runs": len(args.seeds) * len(args.n_traj) * len(args.arms)}

    def save():
        env["loadavg_end"] = loadavg()
        res["total_wall_s"] = time.perf_counter() - t_start
        jpath.write_text(json.dumps(clean(res), indent=1))
        write_markdown(json.loads(jpath.read_text()), mpath)

    t0 = time.perf_counter()
    data = DoubleSpringPendulum(1500, seed=0)
    res["data"] = {"n_systems": 1500, "chunk_len": 5, "dt": 0.2, "seed": 0, "seconds": time.perf_counter() - t0,
                   "max_abs": float(data.chunks.abs().max())}
    print(f"data: 1500 chunks in {res['data']['seconds']:.1f} s; arms {args.arms}; n_traj {args.n_traj}; seeds "
          f"{args.seeds}; {args.steps} steps", flush=True)
    done = {(r["arm"], r["n_traj"], r["seed"]) for r in runs}
    for seed in args.seeds:
        split = data.split(seed)
        for n in args.n_traj:
            for arm in args.arms:
                if (arm, n, seed) in done:
                    continue
                t1 = time.perf_counter()
                info = one_run(arm, n, seed, split, data.times, args)
                info["wall_seconds"] = time.perf_counter() - t1
                runs.append(info)
                k = info.get("kept")
                extra = ""
                if k is not None:
                    extra = (f" | kept {k['kept_dim']} gap {fmt(fnum(k['gap']), 3)} sv/s1 "
                             f"{', '.join(fmt(v, 2) for v in k['sv_rel'])} angle "
                             f"{fmt(k['angle_kept_z'] if k['kept_dim'] else k['angle_least_z'], 2)}")
                    if "test_polished" in info:
                        extra += f" | polished test {info['test_polished']:.3e}"
                print(f"[{len(runs)}/{res['planned_runs']}] seed {seed} n_traj {n:3d} {LABELS[arm]:22s} val "
                      f"{info['val']:.3e} (step {info['best_step']}) test {info['test']:.3e}{extra} "
                      f"({info['wall_seconds']:.1f} s, {1e3 * info['seconds_per_step']:.0f} ms/step)", flush=True)
                save()
    save()
    print(f"wrote {jpath} and {mpath} ({res['total_wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
