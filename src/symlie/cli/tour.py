"""The guided tour behind ``symlie demo``: enforce, discover and promote on built-in data, with a report.

Four steps, each printed as a short table and written to a report folder (``report.md`` plus PNG plots when
matplotlib is installed):

1. enforce: the equivariant basis of SO(3) maps T2 -> T2 (3 maps) and an SO(3)-equivariant polynomial
   regression that interpolates |x|^2 x from 3 samples;
2. discover: a small MLP trained on an O(3)-invariant function of two 3-vectors; its symmetry inside gl(3)
   acting on both vectors (expected so(3));
3. promote (regression): phi(u . x) in 5 variables from 16 samples with the candidate group t(5) (the
   quadratic library has 21 coefficients): the promoted fit keeps the 4 translations orthogonal to u and
   recovers phi; minimum-norm least squares does not;
4. promote (dynamics): noisy derivatives of a field symmetric under rotations about z, candidates so(3):
   the promoted SINDy model keeps so(2) about z.
"""
from __future__ import annotations

import warnings

import sys
import time
from pathlib import Path

import torch

from ..utils.progress import progress

__all__ = ["run_tour"]


def run_tour(out_dir="symlie-demo-report", *, seed: int = 0, steps: int = 1500, stream=None) -> dict:
    """Run the four steps, print their tables, write the report folder; returns a dict of the results.

    The folder is built next to ``out_dir`` and renamed into place at the end, replacing a previous demo
    report entirely (:func:`symlie.io.staged_dir`; any other existing folder is refused)."""
    from ..io import staged_dir
    from ..report import PLOT_HINT, plots_available

    out = stream or sys.stdout
    t0 = time.perf_counter()
    with staged_dir(out_dir, "out_dir") as folder:
        results = _steps(folder, seed=seed, steps=steps, out=out)
    report = Path(out_dir) / "report.md"
    results["report"] = str(report)
    results["seconds"] = time.perf_counter() - t0
    print(f"\nreport: {report.resolve()}" + ("" if plots_available() else f" ({PLOT_HINT})"), file=out)
    return results


def _steps(folder: Path, *, seed: int, steps: int, out) -> dict:
    import symlie as sl
    from ..report import PLOT_HINT, plot_generators, plot_recovery, plot_spectrum, plot_vector_field, plots_available

    plots = plots_available()
    md = ["# symlie demo report", ""]
    results: dict = {}

    # 1. enforce ------------------------------------------------------------------------------------------
    print("\n[1/4] enforce: equivariant bases and an equivariant regression", file=out)
    G = sl.SO(3)
    B = sl.equivariant_basis(sl.V(G) * sl.V(G), sl.V(G) * sl.V(G))
    g = torch.Generator().manual_seed(seed)
    Xe = torch.randn(3, 3, generator=g, dtype=torch.float64)
    f = lambda x: (x ** 2).sum(1, keepdim=True) * x                        # noqa: E731 - |x|^2 x
    reg = sl.SymmetricRegressor(sl.PolynomialLibrary(3), G, rep_out=sl.V(G)).fit(Xe, f(Xe))
    Xt = torch.randn(200, 3, generator=g, dtype=torch.float64)
    err = float((reg.predict(Xt) - f(Xt)).abs().max())
    print(f"  {'SO(3) maps T2 -> T2':40s} {B.dim} (EMLP and the dense SVD agree: 3)", file=out)
    print(f"  {'equivariant cubic fields |x|^2 x':40s} {reg.n_free_} free of {reg.coef_.numel()} coefficients; "
          f"fit on 3 samples, max error on 200 new points {err:.1e}", file=out)
    results["enforce"] = {"basis_dim": B.dim, "n_free": reg.n_free_, "max_error": err}
    md += ["## 1. enforce", "", f"- SO(3) equivariant maps T2 -> T2: {B.dim}",
           f"- |x|^2 x from 3 samples: {reg.n_free_} free coefficients, max error {err:.1e}", ""]

    # 2. discover a trained network --------------------------------------------------------------------------
    print("\n[2/4] discover: the symmetry of a trained MLP (two 3-vectors, candidates gl(3) on both)", file=out)
    torch.manual_seed(seed)
    X = torch.randn(2000, 6, dtype=torch.float64, generator=g)
    y = (X[:, :3] ** 2).sum(1) - (X[:, 3:] ** 2).sum(1) + (X[:, :3] * X[:, 3:]).sum(1)
    net = torch.nn.Sequential(torch.nn.Linear(6, 64), torch.nn.SiLU(), torch.nn.Linear(64, 64), torch.nn.SiLU(),
                              torch.nn.Linear(64, 1)).double()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    with progress(total=steps, desc="training", stream=out, unit="step") as bar:
        for step in range(1, steps + 1):
            loss = ((net(X)[:, 0] - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step % max(1, steps // 24) == 0 or step == steps:
                bar.set_postfix(f"loss {loss.item():.2e}")
            bar.update()
    G3 = sl.GL(3)
    res = sl.discover(net, X, sl.gl(3), rep_in=sl.V(G3) + sl.V(G3), rule="gap", min_gap=10)
    dist = res.distance_to(sl.so(3)) if res.dim == 3 else float("nan")
    print(f"  found {res.dim} generators: {res.identification.get('name')}, gap {res.gap_ratio:.3g}, "
          f"distance to so(3) {dist:.2g}, training MSE {loss.item():.2e}", file=out)
    results["discover"] = {"dim": res.dim, "name": res.identification.get("name"), "gap": res.gap_ratio,
                           "distance_to_so3": dist}
    md += ["## 2. discover (trained MLP)", "", "```", res.summary(), "```", ""]
    if plots:
        p = plot_spectrum(res, folder / "discover_spectrum.png")
        q = plot_generators(res, folder / "discover_generators.png")
        md += [f"![spectrum]({p.name})", ""] + ([f"![generators]({q.name})", ""] if q else [])

    # 3. promote a regression --------------------------------------------------------------------------------
    print("\n[3/4] promote: phi(u . x) in 5 variables from 16 samples, candidates t(5)", file=out)
    u = torch.linalg.qr(torch.randn(5, 1, generator=g, dtype=torch.float64))[0][:, 0]
    f5 = lambda x: 0.3 + 0.8 * (x @ u) + 0.5 * (x @ u) ** 2                # noqa: E731
    Xtr = 2 * torch.rand(16, 5, generator=g, dtype=torch.float64) - 1
    Xte = 2 * torch.rand(200, 5, generator=g, dtype=torch.float64) - 1
    prom = sl.SymmetricRegressor(sl.PolynomialLibrary(2), sl.t(5), mode="promote").fit(Xtr, f5(Xtr))
    with warnings.catch_warnings():          # underdetermined on purpose: the comparison shows what that costs
        warnings.simplefilter("ignore", sl.UnderdeterminedWarning)
        plain = sl.SymmetricRegressor(sl.PolynomialLibrary(2), mode="none").fit(Xtr, f5(Xtr))
    ep = float((prom.predict(Xte) - f5(Xte)).abs().max())
    e0 = float((plain.predict(Xte) - f5(Xte)).abs().max())
    print(f"  {'method':28s} {'kept':>10s} {'max error':>10s}", file=out)
    print(f"  {'promoted (nuclear norm)':28s} {str(prom.symmetry_.identification.get('name')):>10s} {ep:10.1e}",
          file=out)
    print(f"  {'minimum-norm least squares':28s} {'-':>10s} {e0:10.1e}  ({plain.status_}: rank "
          f"{plain.design_rank_} < {plain.n_free_} coefficients)", file=out)
    results["promote_regression"] = {"kept_dim": prom.symmetry_.dim, "error_promoted": ep, "error_plain": e0}
    md += ["## 3. promote (regression)", "", f"- promoted: kept {prom.symmetry_.identification.get('name')}, "
           f"max error {ep:.1e}", f"- minimum-norm least squares: max error {e0:.1e}", ""]
    if plots:
        p = plot_spectrum(prom.symmetry_, folder / "promote_regression_spectrum.png")
        ns, ep_n, e0_n = [6, 10, 14, 16, 18, 21], [], []
        Xpool = 2 * torch.rand(21, 5, generator=g, dtype=torch.float64) - 1
        for n in ns:                                   # recovery curve on a nested pool of samples
            a = sl.SymmetricRegressor(sl.PolynomialLibrary(2), sl.t(5), mode="promote").fit(Xpool[:n], f5(Xpool[:n]))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sl.UnderdeterminedWarning)
                b = sl.SymmetricRegressor(sl.PolynomialLibrary(2), mode="none").fit(Xpool[:n], f5(Xpool[:n]))
            ep_n.append(float((a.predict(Xte) - f5(Xte)).abs().max()))
            e0_n.append(float((b.predict(Xte) - f5(Xte)).abs().max()))
        r = plot_recovery(ns, {"promoted t(5)": ep_n, "least squares": e0_n}, folder / "promote_recovery.png",
                          title="phi(u . x), 21 coefficients: error vs samples")
        md += [f"![kept spectrum]({p.name})", "", f"![recovery]({r.name})", ""]

    # 4. promote dynamics ------------------------------------------------------------------------------------
    print("\n[4/4] promote: SINDy with candidates so(3) for a field symmetric about z only (noise 0.01)", file=out)

    def field(Z):
        a, b, c = Z[:, 0], Z[:, 1], Z[:, 2]
        r2 = a ** 2 + b ** 2
        return torch.stack([a * (1 - r2) - b, b * (1 - r2) + a, -0.5 * c], 1)

    Xs = 2 * torch.rand(200, 3, generator=g, dtype=torch.float64) - 1
    Xdot = field(Xs) + 0.01 * torch.randn(200, 3, generator=g, dtype=torch.float64)
    sindy = sl.SymmetricSINDy(sl.PolynomialLibrary(3), sl.so(3), mode="promote", threshold=0.05).fit(Xs, Xdot)
    rz = torch.zeros(1, 3, 3, dtype=torch.float64)
    rz[0, 0, 1], rz[0, 1, 0] = -1.0, 1.0
    dz = sindy.symmetry_.distance_to(rz) if sindy.symmetry_.dim == 1 else float("nan")
    print(f"  kept {sindy.symmetry_.identification.get('name')} (distance to the z rotation {dz:.1g} rad)", file=out)
    for eq in sindy.equations(["x", "y", "z"]):
        print(f"  {eq}", file=out)
    results["promote_dynamics"] = {"kept_dim": sindy.symmetry_.dim, "distance_to_z": dz}
    md += ["## 4. promote (dynamics)", "", f"- kept {sindy.symmetry_.identification.get('name')} "
           f"(distance to the z rotation {dz:.1g} rad)", "", "```", *sindy.equations(["x", "y", "z"]), "```", ""]
    if plots:
        p = plot_spectrum(sindy.symmetry_, folder / "promote_dynamics_spectrum.png")
        v = plot_vector_field({"true field (z = 0)": field, "promoted SINDy (z = 0)": sindy.predict},
                              folder / "promote_dynamics_field.png", title="x' = f(x) in the plane z = 0")
        md += [f"![kept spectrum]({p.name})", "", f"![vector field]({v.name})", ""]
    if not plots:
        md += [f"(no plots: {PLOT_HINT})", ""]
    (folder / "report.md").write_text("\n".join(md), encoding="utf-8")
    return results
