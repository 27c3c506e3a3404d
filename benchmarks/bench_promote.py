"""Benchmark: symmetry-promoting regression (nuclear-norm penalty), experiment E1 of Otto et al.

Run from the repository root:

    .venv/bin/python benchmarks/bench_promote.py --threads 1              # full run (E1 grid, reference, speed)
    .venv/bin/python benchmarks/bench_promote.py --threads 1 --quick      # reduced run (a few minutes)
    .venv/bin/python benchmarks/bench_promote.py --threads 1 --sections e1 --seeds 0-4 --budget-min 10
    .venv/bin/python benchmarks/bench_promote.py --render benchmarks/results/promote_e1.json   # markdown only

Writes benchmarks/results/promote_e1.json (every number, the machine, the settings, the command) and
benchmarks/results/promote_e1.md (tables and a reading); ``--quick`` writes promote_e1_quick.json / .md.

E1 (recovery dimension, framework reference section 6). Target F = phi_d(y(x)): R^m -> R, phi_d a polynomial in r
variables with every monomial of degree <= d (constant included) and coefficients ~ U[0, 1). "ortho" features
y = U^T x, U the first r left singular vectors of a Gaussian m x r matrix, library all monomials of degree <= d in m
variables (``sl.PolynomialLibrary(d)``); "quad" features y_k = |x - c_k|^2, c_k ~ U[-1, 1]^m, library degree 2d.
Candidates: se(m) (``sl.se(m)``, affine, default ``sl.Point`` action) or t(m) (``sl.t(m)``). Per (m, r, d, seed):
a seeded pool of n_lib + 1 training points ~ U[-1, 1]^m (``np.random.RandomState(seed)``, drawn after phi and
U / c; N points = the first N of the pool); the penalty points: N_s uniform points in [-1, 1]^m from a separate
stream (``np.random.default_rng(seed)``), N_s = C(m + deg, deg) + 1 for se(m) and C(m + deg - 1, deg - 1) + 1 for
t(m) (deg = library degree); the problem min ||S(w)||_* s.t. Theta(X_{1:N}) w = y_{1:N}; success iff
||w - w*||_inf / ||w*||_inf < 5e-3; binary search over N in [1, n_lib + 1] (lo = 0 fails, hi = n_lib + 1 is
taken as a success without a solve: with n_lib + 1 generic points the constraint alone fixes w = w*; at most 15
bisections); n_recover = the smallest successful N. Random streams differ from the official code (numpy + jax
keys), so per-seed values are not comparable with it, only the distribution over 10 seeds.

Ground truth w*: F expanded exactly as a polynomial (dictionary arithmetic on exponent tuples) and mapped to the
PolynomialLibrary feature order (``lib.powers``); checked against F evaluated directly (phi of the features) on the
pool and on fresh points (max residual recorded) and against least squares on 2 D random points.

Reference operator (independent of ``symlie.promote``): T = ``sl.lie_derivative_linear(lib, cand, Xs)[:, :, 0, 0, :]``
(q, N_s, D); S(w)[:, j] = T[j] @ w, i.e. the (N_s, q) matrix whose column j is L_{xi_j} F_w at the N_s points. The
cvxpy reference solves min normNuc(S(w)) s.t. Theta w == y with SCS (max_iters 2500, cvxpy's default eps 1e-5),
S(w) = reshape(T.reshape(q N_s, D) @ w, (N_s, q), order F) (checked equal to the hstack of the columns).
symlie's solver: ``sl.LieOperator(lib, cand, m, points=Xs)`` + ``sl.solve_promote(Theta, y, op)`` (lam=None:
interpolation), warm-started along the binary search when the API offers ``warm_start``.

Sections: ``e1`` (the E1 grid with symlie's solver; cvxpy when symlie.promote is missing or --solver cvxpy),
``reference`` (cvxpy+SCS and symlie on the same small cells and seeds: per-seed n_recover agreement, plus the check
that the singular values of op.apply(w) equal those of the reference S(w)), ``speed`` (one solve of each solver on
identical problems at N near the official n_recover: time ratio, coefficient difference, recovery of w*).
"""
from __future__ import annotations

import os
import sys

from _common import early_threads  # noqa: E402  (light: no numpy)

early_threads(sys.argv[1:])

import argparse  # noqa: E402
import datetime as _dt  # noqa: E402
import gc  # noqa: E402
import inspect  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shlex  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

import symlie as sl  # noqa: E402

from _common import loadavg, loadavg_line, med, render_markdown, run_environment, summary  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
SECTIONS = ("reference", "e1", "speed")
THRESH = 5e-3
MAX_BISECT = 15
STEP_KEYS = ("N", "rel_err", "success", "status", "iters", "seconds", "error")   # per-solve record kept in E1
MIN_SEEDS_Z = 5          # fewer seeds: no seed-noise verdict (the bootstrap SE of a median needs a few samples)

# ---------------------------------------------------------------------------------------------- official medians
# framework.md section 6.3 (median n_recover over 10 seeds [D]); min-max only where published.

_OFFICIAL_ROWS = {
    # (features, group, d): (ms, {r: medians})
    ("ortho", "T", 2): ((5, 10, 15, 20, 25, 30, 35, 40, 45, 50), {
        1: (13.5, 32, 49, 72, 95, 136, 145.5, 186.5, 211, 274.5),
        2: (17.5, 50, 76, 108.5, 142.5, 178, 224, 293, 327, 359.5),
        3: (20.5, 52.5, 86, 132, 186, 228, 291.5, 343, 437, 470.5)}),
    ("ortho", "T", 3): ((6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), {
        1: (42.5, 62, 74.5, 67.5, 79, 132, 104.5, 109.5, 142, 171, 157),
        2: (63, 83, 108, 117, 138.5, 155.5, 212, 230, 256, 285, 311.5),
        3: (71.5, 97.5, 126.5, 151.5, 179, 242, 270, 312.5, 360.5, 392.5, 457)}),
    ("ortho", "T", 4): ((5, 6, 7, 8, 9, 10), {
        1: (64, 88.5, 140, 185.5, 219, 295),
        2: (102, 147.5, 226.5, 290, 409, 507.5),
        3: (120, 184.5, 276, 371.5, 518, 679.5)}),
    ("ortho", "SE", 2): ((5, 10, 15, 20, 25, 30), {
        1: (15.5, 31.5, 46, 62.5, 86.5, 118),
        2: (19, 46.5, 78, 119, 142, 188.5),
        3: (21, 59, 102, 146.5, 208, 240.5)}),
    ("ortho", "SE", 3): ((6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16), {
        1: (46.5, 64.5, 74.5, 72, 79, 126.5, 118.5, 125.5, 142, 171.5, 167.5),
        2: (69.5, 82, 104.5, 143.5, 153.5, 170, 231, 267.5, 274.5, 331, 331.5),
        3: (78, 104.5, 137, 173, 208.5, 252, 291, 333.5, 392, 429.5, 500)}),
    ("ortho", "SE", 4): ((5, 6, 7, 8, 9, 10), {
        1: (71.5, 102, 135.5, 228, 232, 326),
        2: (101.5, 169, 244, 316, 426.5, 534),
        3: (122.5, 190.5, 286.5, 399.5, 557.5, 712.5)}),
    ("quad", "SE", 2): ((5, 6, 7, 8, 9, 10), {
        1: (84.5, 111.5, 144.5, 156, 177.5, 209.5),
        2: (111, 169.5, 233, 293.5, 370.5, 426)}),
    ("quad", "SE", 1): ((5, 10, 15, 20, 25, 30), {1: (16, 30, 42, 53, 60, 71.5)}),
}
_OFFICIAL_RANGE = {  # (features, group, d, r, m): (min, max)
    **{("ortho", "T", 2, 1, m): mm for m, mm in zip((5, 10, 15, 20, 25, 30, 35, 40, 45, 50), (
        (12, 19), (24, 37), (41, 58), (54, 98), (69, 133), (86, 166), (103, 197), (129, 243), (149, 306),
        (167, 299)))},
    ("quad", "SE", 1, 1, 5): (13, 19),
}


def official(features, group, m, r, d):
    """(median, (min, max) or None) from framework.md section 6.3, or (None, None)."""
    row = _OFFICIAL_ROWS.get((features, group, d))
    if row is None or r not in row[1] or m not in row[0]:
        return None, None
    return row[1][r][row[0].index(m)], _OFFICIAL_RANGE.get((features, group, d, r, m))


# ---------------------------------------------------------------------------------------------- grids


def cell(features, group, m, r, d):
    return {"features": features, "group": group, "m": m, "r": r, "d": d}


def full_grid() -> list[dict]:
    cells = []
    for group in ("T", "SE"):
        cells += [cell("ortho", group, m, r, 2) for m in (5, 10, 15, 20) for r in (1, 2, 3)]
        cells += [cell("ortho", group, m, r, 3) for m in (6, 7, 8) for r in (1, 2, 3)]
        cells += [cell("ortho", group, m, r, 4) for m in (5, 6) for r in (1, 2, 3)]
    cells += [cell("quad", "SE", m, 1, 1) for m in (5, 10)]
    cells.append(cell("ortho", "SE", 10, 1, 4))
    return cells


def quick_grid() -> list[dict]:
    return [cell("ortho", "T", 5, 1, 2), cell("ortho", "SE", 5, 2, 2), cell("quad", "SE", 5, 1, 1),
            cell("ortho", "T", 10, 1, 2), cell("ortho", "SE", 10, 1, 2)]


REFERENCE_CELLS = [cell("ortho", "T", 5, 1, 2), cell("ortho", "SE", 5, 2, 2), cell("quad", "SE", 5, 1, 1)]

# (features, group, m, r, d, N): N near the official median n_recover (rounded up)
SPEED_CASES = [("ortho", "SE", 5, 1, 2, 16), ("ortho", "SE", 6, 1, 3, 47), ("ortho", "SE", 10, 1, 2, 32),
               ("ortho", "SE", 6, 1, 4, 102), ("ortho", "T", 10, 1, 4, 295), ("ortho", "SE", 10, 1, 4, 326)]
SPEED_CASES_QUICK = [("ortho", "SE", 5, 1, 2, 16), ("ortho", "SE", 6, 1, 3, 47), ("ortho", "SE", 10, 1, 2, 32)]


# seconds of one seed-0 search with sl.solve_promote measured on the development machine (2 cores, 1 thread,
# shared); used only to order the work under a time budget (see bench_e1)
PRIOR_SEARCH_S = {
    "ortho|SE|m10|r1|d2": 3.7, "ortho|SE|m10|r2|d2": 3.2, "ortho|SE|m10|r3|d2": 2.4, "quad|SE|m10|r1|d1": 3.0,
    "ortho|SE|m15|r1|d2": 118, "ortho|SE|m15|r2|d2": 34, "ortho|SE|m15|r3|d2": 108,
    "ortho|SE|m20|r1|d2": 279, "ortho|SE|m20|r2|d2": 550, "ortho|SE|m20|r3|d2": 281,
    "ortho|SE|m10|r1|d4": 14, "ortho|T|m20|r1|d2": 4.1, "ortho|T|m20|r2|d2": 5.1, "ortho|T|m20|r3|d2": 2.9,
}


def cell_key(c) -> str:
    return f"{c['features']}|{c['group']}|m{c['m']}|r{c['r']}|d{c['d']}"


def cost_key(c) -> float:
    """Rough cost order (library size x generators) used to run cheap cells first."""
    deg = c["d"] * (2 if c["features"] == "quad" else 1)
    D = math.comb(c["m"] + deg, deg)
    q = c["m"] * (c["m"] + 1) // 2 if c["group"] == "SE" else c["m"]
    return D * D * q


# ---------------------------------------------------------------------------------------------- problem


def _monomials(r: int, d: int) -> list[tuple]:
    """Exponent tuples of all monomials of degree <= d in r variables (constant first)."""
    out = []
    for k in range(d + 1):
        for c in itertools.combinations_with_replacement(range(r), k):
            e = [0] * r
            for i in c:
                e[i] += 1
            out.append(tuple(e))
    return out


def _pmul(p: dict, q: dict) -> dict:
    out: dict = {}
    for ea, ca in p.items():
        for eb, cb in q.items():
            e = tuple(a + b for a, b in zip(ea, eb))
            out[e] = out.get(e, 0.0) + ca * cb
    return out


def make_problem(c: dict, seed: int) -> dict:
    """Target, ground truth, training pool, penalty points and library of one (cell, seed)."""
    features, group, m, r, d = c["features"], c["group"], c["m"], c["r"], c["d"]
    rs = np.random.RandomState(seed)
    mons = _monomials(r, d)
    coef = rs.rand(len(mons))
    zero = (0,) * m
    unit = [tuple(int(i == j) for j in range(m)) for i in range(m)]
    if features == "ortho":
        G = rs.randn(m, r)
        U = np.linalg.svd(G, full_matrices=False)[0][:, :r]
        feats = [{unit[i]: U[i, k] for i in range(m)} for k in range(r)]
        deg = d

        def yfun(X):
            return X @ U
        extra = {"U": U.tolist()}
    elif features == "quad":
        C = rs.uniform(-1, 1, (r, m))
        feats = []
        for k in range(r):
            p = {zero: float(C[k] @ C[k])}
            for i in range(m):
                p[tuple(2 * int(i == j) for j in range(m))] = 1.0
                p[unit[i]] = -2.0 * C[k, i]
            feats.append(p)
        deg = 2 * d

        def yfun(X):
            return ((X[:, None, :] - C[None]) ** 2).sum(-1)
        extra = {"centres": C.tolist()}
    else:
        raise ValueError(features)

    def F(X):
        Y = yfun(X)
        out = np.zeros(X.shape[0])
        for a, e in zip(coef, mons):
            t = np.ones(X.shape[0])
            for k, p in enumerate(e):
                if p:
                    t = t * Y[:, k] ** p
            out += a * t
        return out

    # exact expansion of F = sum_a coef_a prod_k y_k^{e_k}
    poly: dict = {}
    for a, e in zip(coef, mons):
        term = {zero: float(a)}
        for k, p in enumerate(e):
            for _ in range(p):
                term = _pmul(term, feats[k])
        for ee, cc in term.items():
            poly[ee] = poly.get(ee, 0.0) + cc
    lib = sl.PolynomialLibrary(deg, n_features=m)
    n_lib = lib.n_output_features(m)
    pool = rs.uniform(-1, 1, (n_lib + 1, m))
    if group == "SE":
        cand, n_s = sl.se(m), math.comb(m + deg, deg) + 1
    else:
        cand, n_s = sl.t(m), math.comb(m + deg - 1, deg - 1) + 1
    Xs = np.random.default_rng(seed).uniform(-1, 1, (n_s, m))
    powers = lib.powers.numpy()
    index = {tuple(int(v) for v in row): i for i, row in enumerate(powers)}
    w_star = np.zeros(n_lib)
    for e, cc in poly.items():
        w_star[index[e]] += cc                                       # KeyError would mean degree > deg
    Theta = lib.transform(torch.from_numpy(pool)).numpy()
    y = F(pool)
    Xc = rs.uniform(-1, 1, (2 * n_lib, m))
    Tc = lib.transform(torch.from_numpy(Xc)).numpy()
    yc = F(Xc)
    w_ls = np.linalg.lstsq(Tc, yc, rcond=None)[0]
    scale = np.abs(w_star).max()
    checks = {"residual_pool": float(np.abs(Theta @ w_star - y).max()),
              "residual_fresh": float(np.abs(Tc @ w_star - yc).max()),
              "lstsq_rel_diff": float(np.abs(w_ls - w_star).max() / scale),
              "lstsq_residual": float(np.abs(Tc @ w_ls - yc).max())}
    if max(checks["residual_pool"], checks["residual_fresh"]) > 1e-9 * max(1.0, np.abs(y).max()):
        raise RuntimeError(f"ground truth does not reproduce F: {checks}")
    return {"cell": c, "seed": seed, "deg": deg, "n_lib": n_lib, "n_s": n_s, "q": cand.dim, "lib": lib,
            "cand": cand, "pool": pool, "Theta_pool": Theta, "y_pool": y, "Xs": Xs, "w_star": w_star,
            "w_star_inf": float(scale), "checks": checks, **extra}


def reference_T(prob: dict) -> np.ndarray:
    """(q, N_s, D) with S(w)[:, j] = T[j] @ w (the reference operator, from sl.lie_derivative_linear)."""
    if "_T" not in prob:
        S5 = sl.lie_derivative_linear(prob["lib"], prob["cand"], torch.from_numpy(prob["Xs"]))
        prob["_T"] = S5[:, :, 0, 0, :].contiguous().numpy()
        del S5
    return prob["_T"]


def rel_err(w, prob) -> float:
    if w is None or not np.all(np.isfinite(w)):
        return float("inf")
    return float(np.abs(w - prob["w_star"]).max() / prob["w_star_inf"])


# ---------------------------------------------------------------------------------------------- solvers


def _scs_info(stats, key):
    extra = getattr(stats, "extra_stats", None) if stats is not None else None
    if isinstance(extra, dict):
        info = extra.get("info", extra)
        if isinstance(info, dict) and key in info:
            return info[key]
    return None


def _scs_ms(stats, key):
    v = _scs_info(stats, key)
    return None if v is None else float(v) / 1000.0


class CvxpySolver:
    """The reference: cvxpy nuclear norm of S(w) with the interpolation constraint, SCS."""
    name = "cvxpy+SCS"

    def __init__(self, max_iters: int = 2500, time_limit_s: float | None = None):
        import cvxpy as cp
        import scs
        self.cp = cp
        self.max_iters = max_iters
        self.time_limit_s = time_limit_s
        self.versions = {"cvxpy": cp.__version__, "scs": scs.__version__}

    def settings(self) -> dict:
        return {"solver": "SCS", "max_iters": self.max_iters, "eps": "cvxpy default (1e-5)",
                "time_limit_s": self.time_limit_s, **self.versions}

    def prepare(self, prob):
        T = reference_T(prob)
        q, n_s, D = T.shape
        return {"Tf": T.reshape(q * n_s, D), "shape": (n_s, q)}

    def expression(self, state, w):
        cp = self.cp
        return cp.reshape(state["Tf"] @ w, state["shape"], order="F")

    def solve(self, state, Theta, y, w0=None):
        cp = self.cp
        D = Theta.shape[1]
        w = cp.Variable(D)
        S = self.expression(state, w)
        pb = cp.Problem(cp.Minimize(cp.normNuc(S)), [Theta @ w == y])
        opts = {"max_iters": self.max_iters}
        if self.time_limit_s:
            opts["time_limit_secs"] = float(self.time_limit_s)
        t0 = time.perf_counter()
        status, err = None, None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pb.solve(solver=cp.SCS, **opts)
            status = pb.status
        except Exception as exc:  # noqa: BLE001 - a solver failure counts as no recovery, recorded
            err = f"{type(exc).__name__}: {exc}"
        dt = time.perf_counter() - t0
        st = pb.solver_stats if err is None else None
        info = {"status": status, "error": err, "seconds": dt,
                "iters": int(st.num_iters) if st is not None and st.num_iters is not None else None,
                "solver_seconds": float(st.solve_time) if st is not None and st.solve_time is not None else None,
                "compile_seconds": float(getattr(pb, "compilation_time", None) or float("nan")),
                "scs_setup_seconds": _scs_ms(st, "setup_time"), "scs_iter_seconds": _scs_ms(st, "solve_time"),
                "scs_status": _scs_info(st, "status"),
                "objective": float(pb.value) if err is None and pb.value is not None else None}
        wv = None if w.value is None else np.asarray(w.value, dtype=float)
        return wv, info


class SymlieSolver:
    """symlie.promote: LieOperator (compressed exactly) + solve_promote (lam=None: interpolation, ADMM).

    Warm start along the binary search: the previous PromoteResult (W, Z, scaled dual, rho) when
    ``solve_promote`` takes ``warm_start``."""
    name = "symlie"

    def __init__(self, warm: bool = True, kwargs: dict | None = None):
        self.sig = inspect.signature(sl.solve_promote)
        self.warm = warm and "warm_start" in self.sig.parameters
        self.kwargs = kwargs or {}

    def settings(self) -> dict:
        defaults = {k: v.default for k, v in self.sig.parameters.items()
                    if v.default is not inspect.Parameter.empty and isinstance(v.default, (int, float, str))}
        return {"solver": "sl.solve_promote (backend admm)", "warm_start": self.warm, "kwargs": self.kwargs,
                "defaults": defaults}

    def prepare(self, prob):
        t0 = time.perf_counter()
        op = sl.LieOperator(prob["lib"], prob["cand"], prob["cell"]["m"], points=torch.from_numpy(prob["Xs"]))
        return {"op": op, "build_seconds": time.perf_counter() - t0, "last": None}

    def solve(self, state, Theta, y, w0=None):
        kw = dict(self.kwargs)
        if self.warm and state.get("last") is not None:
            kw["warm_start"] = state["last"]
        t0 = time.perf_counter()
        err, res = None, None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = sl.solve_promote(torch.from_numpy(Theta), torch.from_numpy(y), state["op"], **kw)
        except Exception as exc:  # noqa: BLE001 - a solver failure counts as no recovery, recorded
            err = f"{type(exc).__name__}: {exc}"
        dt = time.perf_counter() - t0
        if res is None:
            return None, {"status": None, "error": err, "seconds": dt, "iters": None}
        state["last"] = res
        w = res.coef.detach().double().reshape(-1).numpy()
        info = {"status": str(res.status), "converged": bool(res.converged), "error": None, "seconds": dt,
                "iters": int(res.n_iter), "solver_seconds": float(res.seconds), "objective": float(res.objective),
                "primal_residual": float(res.primal_residual), "dual_residual": float(res.dual_residual)}
        return w, info


def have_symlie_solver() -> bool:
    return hasattr(sl, "solve_promote") and hasattr(sl, "LieOperator")


# ---------------------------------------------------------------------------------------------- E1 run


def binary_search(prob: dict, solver, state) -> dict:
    """n_recover by bisection over N in [1, n_lib + 1] (lo = 0 fails; hi = n_lib + 1 taken as success)."""
    lo, hi = 0, prob["n_lib"] + 1
    steps, w_prev = [], None
    t0, c0 = time.perf_counter(), time.process_time()
    while hi - lo > 1 and len(steps) < MAX_BISECT:
        mid = (lo + hi) // 2
        w, info = solver.solve(state, prob["Theta_pool"][:mid], prob["y_pool"][:mid], w0=w_prev)
        e = rel_err(w, prob)
        ok = e < THRESH
        steps.append({"N": mid, "rel_err": e, "success": ok, **info})
        if w is not None and np.all(np.isfinite(w)):
            w_prev = w
        if ok:
            hi = mid
        else:
            lo = mid
    wall = time.perf_counter() - t0
    return {"n_recover": hi, "steps": steps, "seconds": wall,
            "cpu_share": (time.process_time() - c0) / wall if wall > 0 else float("nan"),
            "solve_seconds": sum(s["seconds"] for s in steps),
            "tot_iters": sum(s["iters"] or 0 for s in steps),
            "failures": [s for s in steps if s["error"]]}


def run_one(c: dict, seed: int, solver) -> dict:
    t0 = time.perf_counter()
    prob = make_problem(c, seed)
    t_prob = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = solver.prepare(prob)
    t_prep = time.perf_counter() - t0
    bs = binary_search(prob, solver, state)
    steps = bs.pop("steps")
    return {"seed": seed, "n_recover": bs["n_recover"], "n_lib": prob["n_lib"], "N_s": prob["n_s"], "q": prob["q"],
            "seconds_problem": t_prob, "seconds_prepare": t_prep, "seconds_search": bs["seconds"],
            "cpu_share": bs["cpu_share"],
            "solve_seconds": bs["solve_seconds"], "tot_iters": bs["tot_iters"],
            "n_solves": len(steps), "n_failures": len(bs["failures"]),
            "statuses": sorted({str(s["status"]) for s in steps}),
            "errors": [s["error"] for s in bs["failures"]],
            "truth_checks": prob["checks"],
            "steps": [{k: (jf(s.get(k)) if isinstance(s.get(k), float) else s.get(k)) for k in STEP_KEYS}
                      for s in steps]}


def bootstrap_se_median(xs, n=2000, seed=0) -> float:
    if len(xs) < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    a = np.asarray(xs, dtype=float)
    meds = np.median(a[rng.integers(0, len(a), (n, len(a)))], axis=1)
    return float(meds.std())


def summarize_cell(c: dict, runs: list[dict]) -> dict:
    ns = [r["n_recover"] for r in runs]
    off, off_range = official(c["features"], c["group"], c["m"], c["r"], c["d"])
    out = {**c, "key": cell_key(c), "n_lib": runs[0]["n_lib"], "N_s": runs[0]["N_s"], "q": runs[0]["q"],
           "seeds": [r["seed"] for r in runs], "n_seeds": len(runs), "n_recover": ns,
           "median": med(ns), "min": min(ns), "max": max(ns), "official_median": off,
           "official_range": list(off_range) if off_range else None,
           "median_solve_seconds_per_search": med([r["solve_seconds"] for r in runs]),
           "median_search_seconds": med([r["seconds_search"] for r in runs]),
           "median_tot_iters": med([r["tot_iters"] for r in runs]),
           "n_failures": sum(r["n_failures"] for r in runs),
           "statuses": sorted({s for r in runs for s in r["statuses"]})}
    if off is not None:
        se = bootstrap_se_median(ns)
        se_eff = max(se if math.isfinite(se) else 0.0, 0.5)
        z = (out["median"] - off) / (math.sqrt(2) * se_eff)
        out.update({"ratio_to_official": out["median"] / off, "boot_se_median": se,
                    "z": z if len(ns) >= MIN_SEEDS_Z else None,
                    "official_in_our_range": out["min"] <= off <= out["max"],
                    "match": (abs(z) <= 2.0) if len(ns) >= MIN_SEEDS_Z else None})
    return out


def bench_e1(args, solver, cells, seeds, label, budget_s=None, save=None) -> dict:
    """Run every (cell, seed). Scheduler (it matters only under a time budget): always the next seed of the cell
    with the smallest (time spent on it + expected time of its next search), where the expected time is the
    mean of its searches so far, or before the first one the seed-0 time measured on the development machine
    (PRIOR_SEARCH_S). Cheap cells thus get all their seeds, and the expensive ones share the rest of the budget
    about equally. No search starts after the budget is spent (a running one finishes)."""
    cells = sorted(cells, key=cost_key)
    keys = [cell_key(c) for c in cells]
    runs = {k: [] for k in keys}
    spent = {k: 0.0 for k in keys}
    t0 = time.perf_counter()
    stopped = None
    while True:
        todo = [i for i, k in enumerate(keys) if len(runs[k]) < len(seeds)]
        if not todo:
            break
        if budget_s is not None and time.perf_counter() - t0 > budget_s:
            stopped = {"elapsed_s": time.perf_counter() - t0,
                       "left": {keys[i]: len(seeds) - len(runs[keys[i]]) for i in todo}}
            break
        def expected(i):
            k = keys[i]
            if runs[k]:
                return spent[k] / len(runs[k])
            return PRIOR_SEARCH_S.get(k, 1e-7 * cost_key(cells[i]))
        i = min(todo, key=lambda i: (spent[keys[i]] + expected(i), i))
        c, k = cells[i], keys[i]
        seed = seeds[len(runs[k])]
        t1 = time.perf_counter()
        r = run_one(c, seed, solver)
        spent[k] += time.perf_counter() - t1
        runs[k].append(r)
        print(f"  [{label}] {k:<24} seed {seed}: n_recover {r['n_recover']:>4} / n_lib {r['n_lib']:>4}"
              f"  {r['n_solves']} solves {r['solve_seconds']:.2f} s ({r['tot_iters']} it, cpu {r['cpu_share']:.2f})"
              + (f"  FAILURES {r['n_failures']}" if r["n_failures"] else "")
              + f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
        if save:
            save()
    cells_out = [summarize_cell(c, runs[cell_key(c)]) for c in cells if runs[cell_key(c)]]
    for cs in cells_out:
        cs["runs"] = runs[cs["key"]]
        cs["seconds_spent"] = spent[cs["key"]]
    return {"solver": solver.name, "solver_settings": solver.settings(), "seeds_requested": list(seeds),
            "budget_s": budget_s, "stopped_early": stopped, "wall_s": time.perf_counter() - t0,
            "scheduler": "least (time spent + expected next search) first, i.e. about equal time per cell (bench_e1)",
            "cells": cells_out, "cells_not_run": [k for k in keys if not runs[k]]}


# ---------------------------------------------------------------------------------------------- operator check


def operator_check(prob: dict, n_w: int = 3) -> dict:
    """Singular values of op.apply(w) vs the reference S(w) (random w and w*), and the cvxpy expression vs hstack."""
    T = reference_T(prob)
    q, n_s, D = T.shape
    rng = np.random.default_rng(1234)
    ws = [prob["w_star"]] + [rng.standard_normal(D) for _ in range(n_w)]
    out = {"q": q, "N_s": n_s, "D": D}
    if have_symlie_solver():
        t0 = time.perf_counter()
        op = sl.LieOperator(prob["lib"], prob["cand"], prob["cell"]["m"], points=torch.from_numpy(prob["Xs"]))
        out["build_seconds"] = time.perf_counter() - t0
        out["op"] = repr(op)
        raw, scaled, ratios, shapes = [], [], [], None
        for w in ws:
            S_ref = np.stack([T[j] @ w for j in range(q)], axis=1)           # (N_s, q)
            s_ref = np.linalg.svd(S_ref, compute_uv=False)
            S_op = op.apply(torch.from_numpy(w).reshape(1, -1))
            S_op = S_op.detach().double().numpy() if torch.is_tensor(S_op) else np.asarray(S_op, dtype=float)
            shapes = list(S_op.shape)
            s_op = np.linalg.svd(S_op, compute_uv=False)
            k = max(len(s_ref), len(s_op))
            a_, b_ = np.zeros(k), np.zeros(k)
            a_[:len(s_ref)] = s_ref
            b_[:len(s_op)] = s_op
            top = max(s_ref.max(), 1e-300)
            raw.append(float(np.abs(a_ - b_).max() / top))
            # LieOperator weights the points by sqrt(w_n / sum w) = 1 / sqrt(N_s) (documented)
            scaled.append(float(np.abs(a_ - math.sqrt(n_s) * b_).max() / top))
            ratios.append(float(a_[0] / b_[0]) if b_[0] > 0 else float("nan"))
        out.update({"op_apply_shape": shapes, "sv_max_rel_diff_raw": max(raw),
                    "sv_ratio_ref_over_op": ratios, "sqrt_N_s": math.sqrt(n_s),
                    "sv_max_rel_diff": max(scaled), "match_up_to_sqrt_N_s": max(scaled) < 1e-8})
        # Gram form: sum_j T_j^T T_j / N_s vs op.gram()
        try:
            K_ref = np.einsum("jnd,jne->de", T, T) / n_s
            K = np.asarray(op.gram())
            out["gram_max_rel_diff"] = float(np.abs(K - K_ref).max() / np.abs(K_ref).max())
        except Exception as exc:  # noqa: BLE001
            out["gram_error"] = f"{type(exc).__name__}: {exc}"
        if D * q * max(op.rows, n_s) <= 5e6:
            try:
                M = op.matrix()
                M = M.numpy() if torch.is_tensor(M) else np.asarray(M)
                out["op_matrix_shape"] = list(M.shape)
                # same operator up to an orthogonal change of rows: compare the (qD... ) Gram over generators
                G_ref = np.einsum("jnd,kne->jdke", T, T).reshape(q * D, q * D) / n_s
                G_op = np.einsum("jnd,kne->jdke", M, M).reshape(q * D, q * D)
                out["matrix_gram_max_rel_diff"] = float(np.abs(G_op - G_ref).max() / np.abs(G_ref).max())
            except Exception as exc:  # noqa: BLE001
                out["op_matrix_error"] = f"{type(exc).__name__}: {exc}"
    # cvxpy single-matrix expression vs hstack of columns
    try:
        import cvxpy as cp
        cs = CvxpySolver()
        st = cs.prepare(prob)
        w = cp.Variable(D)
        w.value = ws[1]
        e1 = cs.expression(st, w).value
        e2 = cp.hstack([cp.reshape(T[j] @ w, (n_s, 1), order="F") for j in range(q)]).value
        out["cvxpy_expr_vs_hstack_max_abs"] = float(np.abs(e1 - e2).max())
    except Exception as exc:  # noqa: BLE001
        out["cvxpy_expr_error"] = f"{type(exc).__name__}: {exc}"
    return out


# ---------------------------------------------------------------------------------------------- speed


def seed_n_recover(res_e1: dict | None, c: dict, seed: int) -> int | None:
    """n_recover of (cell, seed) from this run's E1 section, if it ran there."""
    if not res_e1:
        return None
    for cs in res_e1["cells"]:
        if cs["key"] == cell_key(c):
            for r in cs["runs"]:
                if r["seed"] == seed:
                    return r["n_recover"]
    return None


def bench_speed(args, solvers: dict, res_e1: dict | None = None) -> dict:
    """One solve of each solver on identical problems (seed ``--speed-seed``). N: the official median rounded up
    and, when the seed's own n_recover (symlie's E1 search in this run, or a fresh symlie search) is larger,
    that value too, so that one problem per size is recovered; for the largest case only max of the two
    (one capped SCS solve)."""
    rows = []
    cases = SPEED_CASES_QUICK if args.quick else SPEED_CASES
    for features, group, m, r, d, N_off in cases:
        c = cell(features, group, m, r, d)
        prob = make_problem(c, args.speed_seed)
        n_rec, src = seed_n_recover(res_e1, c, args.speed_seed), "E1 section of this run"
        if n_rec is None and "symlie" in solvers:
            n_rec, src = binary_search(prob, solvers["symlie"], solvers["symlie"].prepare(prob))["n_recover"], \
                "symlie binary search in the speed section"
        big = (features, group, m, d) == ("ortho", "SE", 10, 4)
        Ns = [min(N_off, prob["n_lib"] + 1)]
        if n_rec is not None and n_rec > Ns[0]:
            Ns = [n_rec] if big else Ns + [n_rec]
        for N in Ns:
            Theta, y = prob["Theta_pool"][:N], prob["y_pool"][:N]
            row = {**c, "key": cell_key(c), "seed": args.speed_seed, "N": N, "n_lib": prob["n_lib"],
                   "N_s": prob["n_s"], "q": prob["q"], "official_median": official(features, group, m, r, d)[0],
                   "seed_n_recover": n_rec, "seed_n_recover_from": src,
                   "N_is": ("official median (rounded up)" if N == N_off else "this seed's n_recover"),
                   "solvers": {}}
            print(f"  speed {cell_key(c)} N={N} ({row['N_is']}; n_lib {prob['n_lib']}, N_s {prob['n_s']}, "
                  f"q {prob['q']})", flush=True)
            ws = {}
            for name, solver in solvers.items():
                t0 = time.perf_counter()
                state = solver.prepare(prob)
                prep = time.perf_counter() - t0
                reps = 1 if name == "cvxpy+SCS" else args.speed_repeats
                times, w, info = [], None, None
                for _ in range(reps):
                    gc.collect()
                    if isinstance(state, dict):
                        state["last"] = None                              # cold start every repeat
                    w, info = solver.solve(state, Theta, y)
                    times.append(info["seconds"])
                ws[name] = w
                e = rel_err(w, prob)
                row["solvers"][name] = {"prepare_seconds": prep, "seconds": summary(times), "info": info,
                                        "rel_err": e, "recovers": e < THRESH}
                print(f"    {name:<10} prepare {prep:.2f} s, solve {med(times):.3g} s ({info.get('status')}, "
                      f"{info.get('iters')} it), rel err {e:.2e}", flush=True)
                del state
            if "symlie" in ws and "cvxpy+SCS" in ws:
                a_, b_ = ws["symlie"], ws["cvxpy+SCS"]
                row["coef_rel_diff"] = (float(np.abs(a_ - b_).max() / prob["w_star_inf"])
                                        if a_ is not None and b_ is not None else None)
                ts = row["solvers"]["symlie"]["seconds"]["median_s"]
                tc = row["solvers"]["cvxpy+SCS"]["seconds"]["median_s"]
                row["speedup"] = tc / ts if ts > 0 else None
            T = reference_T(prob)
            for name, w in ws.items():                                 # the same objective for both solutions
                if w is not None:
                    S = np.stack([T[j] @ w for j in range(T.shape[0])], 1)
                    row["solvers"][name]["nuclear_norm_ref"] = float(np.linalg.svd(S, compute_uv=False).sum())
                    row["solvers"][name]["constraint_residual"] = float(np.abs(Theta @ w - y).max())
            rows.append(row)
        prob.pop("_T", None)
    return {"seed": args.speed_seed, "cases": rows, "cvxpy_time_limit_s": args.scs_time_limit,
            "timing": "one cvxpy solve (wall time incl. canonicalization; SCS setup and iterations separately); "
                      f"symlie: median of {args.speed_repeats} cold-start solves; operator construction "
                      "('prepare') separately"}


# ---------------------------------------------------------------------------------------------- output


def jf(v):
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    v = float(v)
    return v if math.isfinite(v) else ("inf" if v > 0 else ("-inf" if v < 0 else "nan"))


def _clean(o):
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (float, np.floating, np.integer, np.bool_)):
        return jf(o)
    return o


def fmt_s(t) -> str:
    if t is None or (isinstance(t, float) and not math.isfinite(t)):
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def fmt_e(v) -> str:
    return "-" if not isinstance(v, (int, float)) else f"{v:.1e}"


def fmt_n(v) -> str:
    if v is None:
        return "-"
    return f"{v:g}"


def md_e1(e1: dict, title: str) -> list[str]:
    L = [f"## {title}\n", f"Solver: `{e1['solver']}` ({e1['solver_settings']}). Wall {e1['wall_s']:.0f} s."
         + (f" Time budget {e1['budget_s']:.0f} s, spent with {e1.get('scheduler', '')}; seeds left undone: "
            + ", ".join(f"{k} {v}" for k, v in e1["stopped_early"]["left"].items()) + "."
            if e1.get("stopped_early") else "")
         + "\n"]
    if e1.get("cells_not_run"):
        L.append("Cells not run (budget): " + ", ".join(e1["cells_not_run"]) + "\n")
    L.append("| features | group | d | m | r | n_lib | N_s | q | seeds | ours median [min-max] | official median "
             "[min-max] | ours/official | z | match | search time (median) | failures |")
    L.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|---:|---:|")
    order = {("ortho", "T"): 0, ("ortho", "SE"): 1, ("quad", "SE"): 2}
    for c in sorted(e1["cells"], key=lambda c: (order[(c["features"], c["group"])], c["d"], c["m"], c["r"])):
        off = c["official_median"]
        orng = f" [{c['official_range'][0]}-{c['official_range'][1]}]" if c.get("official_range") else ""
        L.append(f"| {c['features']} | {c['group']} | {c['d']} | {c['m']} | {c['r']} | {c['n_lib']} | {c['N_s']} | "
                 f"{c['q']} | {c['n_seeds']} | {fmt_n(c['median'])} [{c['min']}-{c['max']}] | "
                 f"{fmt_n(off)}{orng} | "
                 + (f"{c['ratio_to_official']:.2f} | "
                    + (f"{c['z']:+.1f} | {'yes' if c['match'] else '**no**'} | " if c["z"] is not None
                       else f"- | n/a ({c['n_seeds']} seed{'s' if c['n_seeds'] > 1 else ''}) | ")
                    if off is not None else "- | - | - | ")
                 + f"{fmt_s(c['median_search_seconds'])} | {c['n_failures']} |")
    L.append("\nz = (ours - official) / (sqrt(2) * bootstrap SE of our median, floored at 0.5); match: |z| <= 2 "
             f"(no verdict with fewer than {MIN_SEEDS_Z} seeds). "
             "Statuses seen: " + ", ".join(sorted({s for c in e1["cells"] for s in c["statuses"]})) + ".\n")
    return L


def md_reference(ref: dict) -> list[str]:
    L = ["## Reference: cvxpy+SCS and symlie on the same seeds\n"]
    if ref.get("per_seed"):
        L.append("| cell | seeds | cvxpy n_recover | symlie n_recover | equal | cvxpy median | symlie median | "
                 "official |")
        L.append("|---|---:|---|---|---:|---:|---:|---:|")
        for k, v in ref["per_seed"].items():
            L.append(f"| {k} | {len(v['seeds'])} | {v['cvxpy']} | {v['symlie']} | {v['n_equal']}/{len(v['seeds'])} | "
                     f"{fmt_n(v['cvxpy_median'])} | {fmt_n(v['symlie_median'])} | {fmt_n(v['official'])} |")
        L.append("")
    if ref.get("operator_checks"):
        L.append("Operator check: singular values of `op.apply(w)` vs the reference S(w) (w = w* and 3 random w). "
                 "`LieOperator` weights each point by sqrt(w_n / sum w) = 1/sqrt(N_s), so its values are the "
                 "reference ones divided by sqrt(N_s) (the minimiser of the interpolation problem is unchanged); "
                 "the difference column is after multiplying by sqrt(N_s). Gram: `op.gram()` vs "
                 "sum_j T_j^T T_j / N_s.\n")
        L.append("| problem | q | N_s | D | op.apply shape | op.matrix shape | sigma_ref / sigma_op | sqrt(N_s) | "
                 "max rel. diff of singular values (scaled) | Gram rel. diff | cvxpy expr vs hstack |")
        L.append("|---|---:|---:|---:|---|---|---:|---:|---:|---:|---:|")
        for k, v in ref["operator_checks"].items():
            sv = v.get("sv_max_rel_diff")
            rat = v.get("sv_ratio_ref_over_op")
            g = v.get("gram_max_rel_diff")
            L.append(f"| {k} | {v['q']} | {v['N_s']} | {v['D']} | {v.get('op_apply_shape', '-')} | "
                     f"{v.get('op_matrix_shape', v.get('op_matrix_error', '-'))} | "
                     f"{'-' if not rat else f'{rat[0]:.6g}'} | {v.get('sqrt_N_s', float('nan')):.6g} | "
                     f"{'-' if sv is None else f'{sv:.1e}'} | {'-' if g is None else f'{g:.1e}'} | "
                     f"{fmt_e(v.get('cvxpy_expr_vs_hstack_max_abs'))} |")
        L.append("")
    if ref.get("cvxpy_e1"):
        L += md_e1(ref["cvxpy_e1"], "Reference E1 cells with cvxpy+SCS")
    return L


def md_speed(sp: dict) -> list[str]:
    L = ["## Speed: one solve on identical problems\n", f"{sp['timing']}; seed {sp['seed']}; SCS time limit "
         f"{sp['cvxpy_time_limit_s']} s (SCS's own limit on its iterations; cvxpy compilation and SCS setup come "
         "on top). Coefficient difference: max |w_symlie - w_cvxpy| / max |w*|.\n",
         "| problem | N | N is | n_lib = D | N_s | q | symlie solve | symlie prepare | symlie it | cvxpy+SCS total "
         "| of which compile / SCS setup / SCS iterations | SCS status / it | speed-up | coef diff | "
         "symlie recovers | cvxpy recovers |",
         "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|---|---|"]
    for r in sp["cases"]:
        s = r["solvers"].get("symlie")
        c = r["solvers"].get("cvxpy+SCS")
        parts = ""
        if c:
            ci = c["info"]
            parts = " / ".join(fmt_s(ci.get(k)) for k in ("compile_seconds", "scs_setup_seconds", "scs_iter_seconds"))
        L.append(f"| {r['key']} | {r['N']} | {r.get('N_is', '-')} | {r['n_lib']} | {r['N_s']} | {r['q']} | "
                 + (f"{fmt_s(s['seconds']['median_s'])} | {fmt_s(s['prepare_seconds'])} | {s['info'].get('iters')} | "
                    if s else "- | - | - | ")
                 + (f"{fmt_s(c['seconds']['median_s'])} | {parts} | "
                    f"{c['info'].get('scs_status') or c['info'].get('status')} / {c['info'].get('iters')} | "
                    if c else "- | - | - | ")
                 + (f"{r['speedup']:.0f}x | " if r.get("speedup") else "- | ")
                 + (f"{r['coef_rel_diff']:.1e} | " if r.get("coef_rel_diff") is not None else "- | ")
                 + f"{'-' if not s else ('yes' if s['recovers'] else 'no (%.1e)' % s['rel_err'])} | "
                 + f"{'-' if not c else ('yes' if c['recovers'] else 'no (%.1e)' % c['rel_err'])} |")
    return L + [""]


def reading(res: dict) -> str:
    P = []
    e1 = res.get("e1")
    if e1:
        cs = [c for c in e1["cells"] if c["official_median"] is not None]
        few_z = [c for c in cs if c["match"] is None]
        good = [c for c in cs if c["match"]]
        bad = [c for c in cs if c["match"] is False]
        few = [c for c in e1["cells"] if c["n_seeds"] < len(e1["seeds_requested"])]
        P.append(f"E1 with `{e1['solver']}`: {len(good)} of {len(cs) - len(few_z)} cells with >= {MIN_SEEDS_Z} seeds "
                 f"match the official median within seed noise (|z| <= 2)" + (", not: " + "; ".join(
                     f"{c['key']} {fmt_n(c['median'])} vs {fmt_n(c['official_median'])} (z {c['z']:+.1f})"
                     for c in bad) if bad else "") + ".")
        if few_z:
            P.append(f"Cells with fewer than {MIN_SEEDS_Z} seeds (no verdict): " + "; ".join(
                f"{c['key']} {fmt_n(c['median'])} vs {fmt_n(c['official_median'])} ({c['n_seeds']} seeds, official "
                f"median {'inside' if c['official_in_our_range'] else 'outside'} our min-max)" for c in few_z) + ".")
        hi = [c for c in cs if c["ratio_to_official"] > 1]
        P.append(f"Our median is above the official one in {len(hi)} of {len(cs)} cells; mean ratio "
                 f"{np.mean([c['ratio_to_official'] for c in cs]):.2f}." if cs else "")
        if few:
            P.append("Cells with fewer seeds than requested (time budget): "
                     + ", ".join(f"{c['key']} ({c['n_seeds']})" for c in few) + ".")
        if e1.get("cells_not_run"):
            P.append("Cells not run: " + ", ".join(e1["cells_not_run"]) + ".")
        nf = sum(c["n_failures"] for c in e1["cells"])
        if nf:
            P.append(f"{nf} solver calls raised an error (counted as failures to recover).")
        if len(cs) - len(few_z) >= 10:
            P.append(f"(With independent seeds about 5% of cells, i.e. ~{0.05 * (len(cs) - len(few_z)):.1f} here, "
                     "are expected outside |z| <= 2 by chance.)")
        steps = [(c["key"], s) for c in e1["cells"] for r in c["runs"] for s in r["steps"]]
        unconv = [(k, s) for k, s in steps if s.get("status") not in ("converged", "optimal", "solved", None)]
        if unconv:
            ok = [s for _, s in unconv if s["success"]]
            worst = max((s["rel_err"] for s in ok), default=None)
            P.append(f"{len(unconv)} of {len(steps)} solves stopped at the iteration limit without meeting the "
                     f"solver's tolerance ({', '.join(sorted({str(s['status']) for _, s in unconv}))}); "
                     f"{len(ok)} of them still recovered w*" + (f" (rel. error <= {worst:.1e})" if ok else "")
                     + (f", {len(unconv) - len(ok)} did not (N below the cell's n_recover: "
                        + ", ".join(f"{k} N={s['N']}" for k, s in unconv if not s["success"]) + ")"
                        if len(unconv) > len(ok) else "") + ".")
        tot = sum(s["seconds"] for _, s in steps)
        P.append(f"E1 solve time {tot:.0f} s over {len(steps)} solves; "
                 + ", ".join(f"{c['key']} {c['seconds_spent']:.0f} s for {c['n_seeds']} seeds"
                             for c in sorted(e1["cells"], key=lambda c: -c.get("seconds_spent", 0))[:4]) + ".")
    ref = res.get("reference")
    if ref and ref.get("per_seed"):
        tot = sum(len(v["seeds"]) for v in ref["per_seed"].values())
        eq = sum(v["n_equal"] for v in ref["per_seed"].values())
        P.append(f"Same seeds, cvxpy+SCS vs symlie: identical n_recover in {eq} of {tot} searches.")
    if ref and ref.get("operator_checks"):
        mx = [v["sv_max_rel_diff"] for v in ref["operator_checks"].values() if v.get("sv_max_rel_diff") is not None]
        if mx:
            P.append(f"Singular values of `op.apply(w)` times sqrt(N_s) equal those of the reference S(w) to "
                     f"{max(mx):.1e} (relative to the largest) over {len(mx)} problems; unscaled they are "
                     "smaller by exactly sqrt(N_s) (the 1/N_s point weights of `LieOperator`).")
    sp = res.get("speed")
    if sp:
        parts = []
        for r in sp["cases"]:
            if r.get("speedup"):
                c = r["solvers"]["cvxpy+SCS"]
                parts.append(f"{r['key']} {r['speedup']:.0f}x (coef diff {r['coef_rel_diff']:.1e}, SCS "
                             f"{c['info'].get('status')})")
        if parts:
            P.append("Speed-up over cvxpy+SCS: " + "; ".join(parts) + ".")
        big = [r for r in sp["cases"] if r.get("speedup") and r["n_lib"] >= 1000 and r["group"] == "SE"]
        for r in big:
            c, y = r["solvers"]["cvxpy+SCS"], r["solvers"]["symlie"]
            ci = c["info"]
            P.append(f"At {r['key']} (N = {r['N']}), cvxpy+SCS takes {fmt_s(c['seconds']['median_s'])}: compilation "
                     f"{fmt_s(ci.get('compile_seconds'))}, SCS setup {fmt_s(ci.get('scs_setup_seconds'))} (its "
                     f"sparse factorisation holds the dense (q N_s) x D operator), {ci.get('iters')} SCS iterations "
                     f"{fmt_s(ci.get('scs_iter_seconds'))}; symlie {fmt_s(y['seconds']['median_s'])} "
                     f"({y['info'].get('iters')} ADMM iterations) plus {fmt_s(y['prepare_seconds'])} to build the "
                     f"operator. Both recover w* ({'yes' if y['recovers'] else 'no'}/{'yes' if c['recovers'] else 'no'}"
                     f"), nuclear norms of the reference S: {y.get('nuclear_norm_ref', float('nan')):.9g} (symlie) "
                     f"and {c.get('nuclear_norm_ref', float('nan')):.9g} (SCS).")
        P.append("The speed problems are single solves at one N; inside a binary search, solves just below "
                 "n_recover can need many more iterations (E1 above: up to the 20000-iteration limit of ADMM).")
    return " ".join(p for p in P if p)


def write_markdown(res: dict, path: Path) -> None:
    env = res["environment"]
    L = ["# Symmetry promotion benchmark: E1 recovery dimension (`sl.solve_promote`)\n",
         f"Command: `{res['command']}` (in `{env['cwd']}`)  ",
         f"Date: {res['date']}; total wall time {res['total_wall_s']:.0f} s  ",
         f"torch {env['torch']}, numpy {env['numpy']}, symlie {env['symlie']}, cvxpy {env.get('cvxpy')}, "
         f"SCS {env.get('scs')}, Python {env['python']}, {env['cpu_count']} CPUs ({env['processor']}), torch threads "
         f"{env['torch_threads']}, BLAS threads {env['blas_threads']}  ",
         loadavg_line(env) + "\n"]
    if res["settings"]["quick"]:
        L.append("**Quick run** (reduced grid, seeds and sizes).\n")
    L.append("Protocol: framework reference section 6.2 (see the module docstring of `benchmarks/bench_promote.py`). "
             "Random streams differ from the official code, so only the distribution over seeds is comparable.\n")
    if "e1" in res:
        L += md_e1(res["e1"], "E1: median n_recover, ours vs official")
    if "reference" in res:
        L += md_reference(res["reference"])
    if "speed" in res:
        L += md_speed(res["speed"])
    L += ["## Reading\n", reading(res) + "\n"]
    path.write_text("\n".join(L) + "\n")


# ---------------------------------------------------------------------------------------------- main


def parse_seeds(s: str) -> list[int]:
    out = []
    for part in s.split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-")
            out += list(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="reduced run: small cells, 3 seeds, small speed cases")
    ap.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated subset of reference,e1,speed")
    ap.add_argument("--threads", type=int, default=1, help="torch threads and BLAS threads (default 1)")
    ap.add_argument("--seeds", type=str, help="E1 seeds, e.g. 0-9 or 0,1,2 (default 0-9; quick 0-2)")
    ap.add_argument("--ref-seeds", type=str, help="seeds of the reference section (default 0-9; quick 0-2)")
    ap.add_argument("--cells", type=str, help="only E1 cells whose key contains one of these comma-separated "
                                              "substrings (keys look like ortho|SE|m10|r1|d4)")
    ap.add_argument("--solver", choices=("auto", "symlie", "cvxpy"), default="auto",
                    help="E1 solver (auto: symlie when symlie.promote exists, else cvxpy)")
    ap.add_argument("--no-warm", action="store_true", help="do not warm-start symlie along the binary search")
    ap.add_argument("--budget-min", type=float, default=25.0, help="time budget of the E1 sweep in minutes "
                                                                  "(0: none); seeds run round-robin over cells")
    ap.add_argument("--scs-time-limit", type=float, default=300.0,
                    help="SCS time limit (s) on its iterations in the speed section (default 300: with cvxpy "
                         "compilation and SCS setup, about 10 min at (m=10, d=4, SE))")
    ap.add_argument("--speed-seed", type=int, default=0)
    ap.add_argument("--speed-repeats", type=int, default=3, help="timed symlie solves per speed case")
    ap.add_argument("--out", type=Path, default=RESULTS, help="output folder (default benchmarks/results)")
    ap.add_argument("--render", type=Path, help="only re-write the markdown next to this JSON result file")
    args = ap.parse_args(argv)
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    bad = [s for s in args.sections if s not in SECTIONS]
    if bad:
        ap.error(f"--sections: unknown {bad}; choose from {SECTIONS}")
    args.seeds = parse_seeds(args.seeds or ("0-2" if args.quick else "0-9"))
    args.ref_seeds = parse_seeds(args.ref_seeds or ("0-2" if args.quick else "0-9"))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.render:
        return render_markdown(args.render, write_markdown)
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    exe = os.path.relpath(sys.executable)
    env = run_environment(symlie_promote_available=have_symlie_solver())
    try:
        import cvxpy
        import scs
        env["cvxpy"], env["scs"] = cvxpy.__version__, scs.__version__
    except ImportError:
        pass
    res = {"benchmark": "promote_e1",
           "command": shlex.join([exe if not exe.startswith("..") else sys.executable] + sys.argv),
           "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
           "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
           "environment": env,
           "protocol": {"threshold": THRESH, "max_bisections": MAX_BISECT,
                        "pool": "np.random.RandomState(seed): phi coefficients, then U (or centres), then the pool",
                        "penalty_points": "np.random.default_rng(seed).uniform(-1, 1, (N_s, m))",
                        "search": "lo = 0, hi = n_lib + 1 (not solved), mid = (lo + hi) // 2"}}
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "promote_e1_quick" if args.quick else "promote_e1"

    def save():
        env["loadavg_end"] = loadavg()
        res["total_wall_s"] = time.perf_counter() - t_start
        (args.out / f"{stem}.json").write_text(json.dumps(_clean(res), indent=1))

    use_symlie = have_symlie_solver() and args.solver in ("auto", "symlie")
    if args.solver == "symlie" and not have_symlie_solver():
        raise SystemExit("--solver symlie: symlie.promote (sl.solve_promote, sl.LieOperator) is not available")
    if "reference" in args.sections:
        print("Section: reference (cvxpy+SCS vs symlie on the same seeds; operator check)", flush=True)
        t0 = time.perf_counter()
        ref = {"operator_checks": {}}
        res["reference"] = ref
        for c in REFERENCE_CELLS + ([] if args.quick else [cell("ortho", "SE", 6, 1, 4), cell("quad", "SE", 10, 1, 1),
                                                           cell("ortho", "SE", 10, 2, 2)]):
            prob = make_problem(c, 0)
            ref["operator_checks"][cell_key(c)] = oc = operator_check(prob)
            print(f"  operator check {cell_key(c)}: {oc}", flush=True)
        cvx = CvxpySolver()
        ref["cvxpy_e1"] = bench_e1(args, cvx, REFERENCE_CELLS, args.ref_seeds, "cvxpy", save=save)
        if use_symlie:
            sym = SymlieSolver(warm=not args.no_warm)
            ref["symlie_e1"] = bench_e1(args, sym, REFERENCE_CELLS, args.ref_seeds, "symlie", save=save)
            per = {}
            for cc in ref["cvxpy_e1"]["cells"]:
                cs = next(x for x in ref["symlie_e1"]["cells"] if x["key"] == cc["key"])
                per[cc["key"]] = {"seeds": cc["seeds"], "cvxpy": cc["n_recover"], "symlie": cs["n_recover"],
                                  "n_equal": sum(a == b for a, b in zip(cc["n_recover"], cs["n_recover"])),
                                  "cvxpy_median": cc["median"], "symlie_median": cs["median"],
                                  "official": cc["official_median"]}
            ref["per_seed"] = per
        ref["wall_s"] = time.perf_counter() - t0
        save()
    if "e1" in args.sections:
        cells = quick_grid() if args.quick else full_grid()
        if args.cells:
            pats = [p.strip() for p in args.cells.split(",") if p.strip()]
            cells = [c for c in cells if any(p in cell_key(c) for p in pats)]
        solver = SymlieSolver(warm=not args.no_warm) if use_symlie else CvxpySolver()
        print(f"Section: E1 with {solver.name}: {len(cells)} cells x {len(args.seeds)} seeds", flush=True)
        budget = args.budget_min * 60 if args.budget_min and args.budget_min > 0 else None
        res["e1"] = bench_e1(args, solver, cells, args.seeds, solver.name, budget_s=budget, save=save)
        save()
    if "speed" in args.sections:
        solvers = {}
        if have_symlie_solver():
            solvers["symlie"] = SymlieSolver(warm=False)
        solvers["cvxpy+SCS"] = CvxpySolver(time_limit_s=args.scs_time_limit)
        print(f"Section: speed ({', '.join(solvers)})", flush=True)
        t0 = time.perf_counter()
        res["speed"] = bench_speed(args, solvers, res.get("e1"))
        res["speed"]["wall_s"] = time.perf_counter() - t0
        save()
    save()
    write_markdown(_clean(res), args.out / f"{stem}.md")
    print(f"wrote {args.out / (stem + '.json')} and {args.out / (stem + '.md')} ({res['total_wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
