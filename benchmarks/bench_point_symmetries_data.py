"""Lie point symmetries from data alone (the data route of issue 12), on LieNLSD's protocol.

Per equation: 10 trajectories generated in-house with LieNLSD's setting (L = 20, 100 points, dt 0.002, 1000
steps; ``symlie.datasets.generate(..., preset="lienlsd")``), optional Gaussian noise on u (a fraction of its
standard deviation), jets by ``pde.jets_from_grid`` (spectral in x and 6th-order finite differences in t
without noise; local polynomial fits with noise), an equation model u_t = F fitted by STLSQ on a degree-2 jet
library (nKdV: e^{t/50} times the KdV terms; cKdV: the KdV terms and u / (t + 1)), then
``pde.point_symmetries`` of the fitted equation on 1000 data jets (projected onto the fitted surface) over
fields with degree-2 polynomial coefficients (nKdV / cKdV: with their function features). Scored against the
exact algebra: count, largest principal angle in the library's coefficient space, gap at the cut; the whole
pipeline (jets, fit, discovery) is timed. Data generation is timed separately.

LieNLSD (peer; its research scripts do not install here, numbers from its committed generators, recomputed in
../shared/reference/point_symmetries.md): right counts; largest angle 0.006-0.011 rad on KdV, 0.013-0.020 on
Burgers; gap 16-24 on KdV; 6-12 s of discovery plus an MLP fit whose time is not logged; it cannot express
nKdV or cKdV.

    python benchmarks/bench_point_symmetries_data.py [--noise 0,0.001,0.01] [--out benchmarks/results]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

from _common import early_threads, fmt_s, loadavg

early_threads(sys.argv)

import torch  # noqa: E402

import symlie as sl  # noqa: E402
from symlie import pde  # noqa: E402
from symlie.datasets import generate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_point_symmetries import exp_library, sqrt_library  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
N_SAMPLES = 1000
#: a second cut with the rule's floor raised to this (relative singular value), reported beside the default
ALT_FLOOR = 1e-8


def nkdv_fit_library():
    return sl.CustomLibrary([lambda X: torch.exp(X[:, 0] / 50) * X[:, 1] * X[:, 2],
                             lambda X: torch.exp(X[:, 0] / 50) * X[:, 3]],
                            names=["e^{t/50} u u_x", "e^{t/50} u_xxx"]), ("t", "u", "u_x", "u_xxx")


def ckdv_fit_library():
    return sl.CustomLibrary([lambda X: X[:, 1] * X[:, 2], lambda X: X[:, 3], lambda X: X[:, 1] / (X[:, 0] + 1)],
                            names=["u u_x", "u_xxx", "u/(t+1)"]), ("t", "u", "u_x", "u_xxx")


#: nKdV over LieNLSD's T = 2 leaves e^{t/50} within 1e-5 of a quadratic in t: its features are then nearly
#: dependent on the polynomial ones (spurious symmetries, gap ~35). Its time window is stretched to T = 40 (dt
#: 0.04, the same 1000 steps): a protocol change, stated in the results.
NKDV_WINDOW = {"T": 40.0}

#: key, generator name, exact equation, fit library factory (or None: degree-2 jets), candidate library factory,
#: overrides of the LieNLSD preset
CASES = [("kdv", "kdv", pde.kdv, None, None, {}), ("burgers", "burgers", None, None, None, {}),
         ("heat", "heat", None, None, None, {}),
         ("nkdv", "nkdv", pde.nkdv, nkdv_fit_library, exp_library, NKDV_WINDOW),
         ("ckdv", "ckdv", pde.ckdv, ckdv_fit_library, sqrt_library, {}),
         ("kdv-ko", "kdv", pde.kdv, None, None, {"preset": "ko", "n_traj": 8}),
         ("ks-ko", "ks", pde.kuramoto_sivashinsky, None, None, {"preset": "ko", "n_traj": 8})]


def run(key: str, gen: str, make_eq, fit_lib, cand_lib, overrides: dict, noise: float, threshold: float) -> dict:
    t0 = time.perf_counter()
    kw = dict(overrides)
    preset, n_traj = kw.pop("preset", "lienlsd"), kw.pop("n_traj", 10)
    sol = generate(gen, n_traj, preset=preset, seed=0, **kw)
    t_gen = time.perf_counter() - t0
    nu = sol.params.get("nu")
    eq = make_eq() if make_eq is not None else (pde.burgers(nu) if gen == "burgers" else pde.heat(nu))
    u = sol.u
    if noise:
        g = torch.Generator().manual_seed(1)
        u = u + noise * float(u.std()) * torch.randn(u.shape, generator=g, dtype=u.dtype)
    t1 = time.perf_counter()
    gj = pde.jets_from_grid(u, sol.t, sol.x, eq.jet, method="poly" if noise else "spectral", periodic=True,
                            n_points=20000, seed=0)
    kw = {}
    if fit_lib is not None:
        lib, feats = fit_lib()
        kw = {"library": lib, "features": feats}
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        fit = pde.fit_equation(gj, eq.jet, target="u_t", threshold=threshold, **kw)
        feq = fit.to_equation(f"{eq.name} (fitted)", exact=eq.exact)
        cand = pde.point_symmetry_candidates(feq, cand_lib() if cand_lib else None)
        Zs = gj.Z[torch.randperm(gj.Z.shape[0], generator=torch.Generator().manual_seed(0))[:N_SAMPLES]]
        res = pde.point_symmetries(feq, candidates=cand, samples=Zs)
        t_pipe = time.perf_counter() - t1
        alt = pde.point_symmetries(feq, candidates=cand, samples=Zs, floor=ALT_FLOOR).dim
    known = len(eq.exact)
    try:
        angle = float(pde.angles_to_exact(res, eq, cand).max())
    except sl.SymlieError:
        angle = float("nan")
    return {"case": key, "equation": eq.name + ("" if preset == "lienlsd" else f" ({preset} data)"), "noise": noise,
            "overrides": overrides, "fitted": fit.equations(), "fit_status": fit.status,
            "r2_val": getattr(fit, "r2_val", None), "found": res.dim, "known": known, "max_angle_rad": angle,
            "gap": res.gap_ratio, "status": res.status, "found_alt_floor": alt, "alt_floor": ALT_FLOOR,
            "spectrum_tail": [float(v) for v in res.normalized_spectrum[-6:]], "generators": res.describe(),
            "seconds_pipeline": t_pipe, "seconds_data": t_gen,
            "warnings": sorted({type(w.message).__name__ for w in rec})}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--noise", default="0,0.001,0.01", help="noise levels on u, relative to its std")
    ap.add_argument("--threshold", type=float, default=0.05, help="STLSQ threshold (default 0.05)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    levels = [float(v) for v in args.noise.split(",")]
    rows = []
    for case in CASES:
        for noise in levels:
            r = run(*case, noise=noise, threshold=args.threshold)
            rows.append(r)
            print(f"{r['case']:8s} noise {noise:g}: found {r['found']}/{r['known']} angle {r['max_angle_rad']:.1e} "
                  f"gap {r['gap']:.1e} pipeline {fmt_s(r['seconds_pipeline'])}  {r['fitted'][0]}", flush=True)
    env = {"torch": torch.__version__, "symlie": sl.__version__, "threads": args.threads, "loadavg": loadavg(),
           "date": time.strftime("%Y-%m-%d")}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "point_symmetries_data.json").write_text(json.dumps({"env": env, "rows": rows}, indent=1))
    md = ["# Lie point symmetries from data (LieNLSD's protocol)", "",
          f"`python benchmarks/bench_point_symmetries_data.py` ({env['date']}, {args.threads} thread(s), load "
          f"average {env['loadavg']}). 10 trajectories (L = 20, 100 points, dt 0.002, 1000 steps, generated here), "
          f"noise on u relative to its std, jets (spectral / 6th-order FD; local polynomial fits with noise), "
          f"STLSQ fit (threshold {args.threshold}), point symmetries of the fitted equation on {N_SAMPLES} data "
          f"jets. Angle: largest principal angle to the exact algebra in coefficient space. Pipeline: jets + fit + "
          f"discovery.", "",
          "| equation | noise | fitted equation | found / known | largest angle (rad) | gap | found, floor 1e-8 | "
          "pipeline | data |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        ang = "-" if r["max_angle_rad"] != r["max_angle_rad"] else f"{r['max_angle_rad']:.1e}"
        fitted = r["fitted"][0] + ("" if r["fit_status"] == "ok" else f" ({r['fit_status']})")
        md.append(f"| {r['equation']} | {r['noise']:g} | `{fitted}` | {r['found']} / {r['known']} | {ang} | "
                  f"{r['gap']:.1e} | {r['found_alt_floor']} | {fmt_s(r['seconds_pipeline'])} | "
                  f"{fmt_s(r['seconds_data'])} |")
    md += ["", "LieNLSD (peer, not installable here; from its committed generators, recomputed in the reference): "
           "right counts, largest angle 0.006-0.011 rad on KdV and 0.013-0.020 on Burgers, gap 16-24 on KdV, 6-12 s "
           "of discovery plus an untimed MLP fit; no nKdV / cKdV (its equation model has no t input).", "",
           f"nKdV: over LieNLSD's T = 2, e^(t/50) is within 1e-5 of a quadratic in t, so its features are nearly "
           f"dependent on the polynomial ones and spurious directions appear (7 found, gap 35); its window is "
           f"stretched to T = 40 (dt 0.04, same 1000 steps): {NKDV_WINDOW}.", "",
           "cKdV with noise: the fitted damping coefficient (-0.496 at 0.1 %) is not exactly -1/2, and the boost "
           "sqrt(t+1) d/dx + (t+1)^(-1/2)/2 d/du is an exact symmetry only at -1/2: for the fitted equation it is a "
           "near-symmetry (relative singular value ~1e-9, see spectrum_tail in the JSON), below a gap of ~700 from "
           "the broken directions but above the round-off ones, and the default rule cuts at the larger gap under "
           "it. The column 'found, floor 1e-8' is the same spectrum cut with the floor raised: a missed target of "
           "the default rule on noisy data, not hidden.", "",
           "Ko et al.'s periodic data (kdv-ko, ks-ko: 8 trajectories, L = 128 / 64, nx 256, the last 140 saved steps, "
           "dt 0.40 / 0.20): the local algebra of the fitted equation (KdV 4 including the scaling, which does not "
           "preserve a fixed period; KS 3).", "",
           "Noise: third derivatives of noisy data are the weak link; where the fitted equation is wrong (a poor fit "
           "is flagged by its status), the symmetries found are those of the wrong equation."]
    (args.out / "point_symmetries_data.md").write_text("\n".join(md) + "\n")
    print(f"wrote {args.out / 'point_symmetries_data.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
