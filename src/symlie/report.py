"""Reports people can look at: a folder with the result (JSON), PNG plots and a markdown page.

:func:`write_report` turns a :class:`symlie.SymmetryResult` into ``symmetry.json``, ``spectrum.png`` (the
normalised singular spectrum on a log scale, the rank threshold and the cut marked), ``generators.png`` (heat
maps of the discovered generators) and ``report.md`` (the summary and the pictures). Plots need matplotlib
(``pip install 'symlie[plot]'``); :func:`plots_available` says whether it is installed.
"""
from __future__ import annotations

import math
from pathlib import Path

__all__ = ["write_report", "plot_spectrum", "plot_generators", "plots_available", "PLOT_HINT"]

PLOT_HINT = "plots need matplotlib: pip install 'symlie[plot]'"


def plots_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("matplotlib") is not None


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(PLOT_HINT) from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _save(plt, fig, path) -> Path:
    """Lay out, write and close a figure."""
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_spectrum(result, path) -> Path:
    """Bar plot of the normalised spectrum (log scale) with the threshold and the rank cut; saved as PNG."""
    plt = _pyplot()
    s = [max(float(v), 1e-18) for v in result.normalized_spectrum]
    q, rank = len(s), result.rank
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * q + 2), 3.2), dpi=110)
    colors = ["#c0504d" if i < rank else "#4f81bd" for i in range(q)]
    ax.bar(range(1, q + 1), s, color=colors)
    ax.set_yscale("log")
    ref = result.reference
    if result.threshold > 0 and ref > 0:
        ax.axhline(result.threshold / ref, color="k", ls="--", lw=1, label="threshold")
    if 0 < rank < q:
        ax.axvline(rank + 0.5, color="#555555", ls=":", lw=1.5, label=f"cut: {q - rank} symmetric")
    ax.set_xlabel("singular value index (broken: red, symmetric: blue)")
    ax.set_ylabel("sigma / reference")
    name = result.identification.get("name") or "unidentified"
    gap = result.gap_ratio
    gtxt = "-" if math.isnan(gap) else ("inf" if math.isinf(gap) else f"{gap:.3g}")
    ax.set_title(f"{result.candidates_name}: found {name} (dim {result.dim}), gap {gtxt}", fontsize=9)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="lower left")
    return _save(plt, fig, path)


def plot_generators(result, path, max_generators: int = 12) -> Path | None:
    """Heat maps of the discovered generators (up to ``max_generators``); None when nothing was found or the
    generators are not matrices (vector fields are listed in the report as formulas instead)."""
    if result.dim == 0 or result.candidates is None:
        return None
    plt = _pyplot()
    G = result.generators[:max_generators].numpy()
    k = G.shape[0]
    cols = min(k, 6)
    rows = (k + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols + 0.6, 1.8 * rows + 0.4), dpi=110, squeeze=False)
    vmax = float(abs(G).max()) or 1.0
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < k:
            ax.imshow(G[i], cmap="RdBu_r", vmin=-vmax, vmax=vmax)
            ax.set_title(f"xi'_{i + 1}", fontsize=8)
    fig.suptitle(f"discovered generators ({result.identification.get('name') or 'unidentified'})", fontsize=9)
    return _save(plt, fig, path)


def write_report(result, out_dir, *, title: str = "symlie symmetry report", notes: list[str] | None = None) -> dict:
    """Write ``symmetry.json``, the PNG plots (when matplotlib is installed) and ``report.md`` to ``out_dir``.

    The folder is built next to ``out_dir`` and renamed into place when complete, so it never mixes the files
    of two runs: a previous report in ``out_dir`` is replaced entirely. ``out_dir`` must not be a file or an
    existing folder that is not a symlie report (:func:`symlie.io.check_out_dir`; :class:`symlie.SymlieError`
    otherwise), and its parent folder must exist.

    Returns {"dir", "json", "markdown", "plots": [paths], "plots_skipped": reason or None}.
    """
    from .io import staged_dir
    with staged_dir(out_dir, "out_dir") as out:
        js = result.save(out / "symmetry.json")
        plots, skipped = [], None
        if plots_available():
            plots.append(plot_spectrum(result, out / "spectrum.png"))
            g = plot_generators(result, out / "generators.png")
            if g is not None:
                plots.append(g)
        else:
            skipped = PLOT_HINT
        lines = [f"# {title}", "", "```", result.summary(), "```", ""]
        lines += [f"- {n}" for n in (notes or [])]
        if notes:
            lines.append("")
        for p in plots:
            lines += [f"![{p.stem}]({p.name})", ""]
        if skipped:
            lines += [f"(no plots: {skipped})", ""]
        (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    dest = Path(out_dir)
    return {"dir": dest, "json": dest / Path(js).name, "markdown": dest / "report.md",
            "plots": [dest / p.name for p in plots], "plots_skipped": skipped}


def plot_recovery(ns, errors: dict, path, *, title: str = "coefficient recovery") -> Path:
    """Recovery curves: error versus number of samples, one line per method (log scale); saved as PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.6, 3.2), dpi=110)
    for label, errs in errors.items():
        ax.plot(list(ns), [max(float(e), 1e-16) for e in errs], marker="o", label=label)
    ax.set_yscale("log")
    ax.set_xlabel("number of samples N")
    ax.set_ylabel("max error on held-out points")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    return _save(plt, fig, path)


def plot_vector_field(fields: dict, path, *, lim: float = 1.2, n: int = 15, title: str = "vector field") -> Path:
    """Quiver plots of planar fields (z = 0 slices of R^3 -> R^3 fields, or R^2 fields), side by side."""
    import torch
    plt = _pyplot()
    g = torch.linspace(-lim, lim, n, dtype=torch.float64)
    X, Y = torch.meshgrid(g, g, indexing="xy")
    fig, axes = plt.subplots(1, len(fields), figsize=(3.2 * len(fields), 3.2), dpi=110, squeeze=False)
    for ax, (label, f) in zip(axes[0], fields.items()):
        pts = torch.stack([X.reshape(-1), Y.reshape(-1)], 1)
        try:
            V = f(torch.cat([pts, torch.zeros(pts.shape[0], 1, dtype=pts.dtype)], 1))
        except (RuntimeError, ValueError):
            V = f(pts)
        V = torch.as_tensor(V).detach()
        ax.quiver(X.numpy(), Y.numpy(), V[:, 0].reshape(n, n).numpy(), V[:, 1].reshape(n, n).numpy(), color="#4f81bd")
        ax.set_title(label, fontsize=9)
        ax.set_aspect("equal")
    fig.suptitle(title, fontsize=9)
    return _save(plt, fig, path)


def plot_graph_fields(fields: dict, path, *, u_level: float = 0.0, n: int = 17,
                      title: str = "fields on (t, x) at fixed u") -> Path:
    """Fields on the graph space (t, x, u) of a scalar 1+1 PDE, in normalised coordinates: for each entry
    {label: callable (N, 3) -> (N, 3)}, a quiver of the (t, x) components over [0, 1]^2 at u = ``u_level``,
    coloured by the u component."""
    import torch
    plt = _pyplot()
    g = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    T, X = torch.meshgrid(g, g, indexing="xy")
    pts = torch.stack([T.reshape(-1), X.reshape(-1), torch.full((n * n,), float(u_level), dtype=torch.float64)], 1)
    fig, axes = plt.subplots(1, len(fields), figsize=(3.0 * len(fields), 3.1), dpi=110, squeeze=False)
    for ax, (label, f) in zip(axes[0], fields.items()):
        V = torch.as_tensor(f(pts)).detach().to(torch.float64)
        q = ax.quiver(T.numpy(), X.numpy(), V[:, 0].reshape(n, n).numpy(), V[:, 1].reshape(n, n).numpy(),
                      V[:, 2].reshape(n, n).numpy(), cmap="coolwarm")
        fig.colorbar(q, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("t (normalised)", fontsize=7)
        ax.set_ylabel("x (normalised)", fontsize=7)
        ax.set_aspect("equal")
    fig.suptitle(title + " (arrows: d/dt, d/dx parts; colour: d/du part)", fontsize=8)
    return _save(plt, fig, path)


def plot_transformed_patches(clouds: dict, path, *, title: str = "a patch and its transforms") -> Path:
    """Point clouds (pt, px, 3) of (t, x, u), e.g. a data patch and its images under learned flows, each drawn as
    u over the moved (x, t) positions."""
    import torch
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(clouds), figsize=(2.8 * len(clouds), 2.9), dpi=110, squeeze=False)
    for ax, (label, P) in zip(axes[0], clouds.items()):
        P = torch.as_tensor(P).detach().to(torch.float64)
        ax.scatter(P[..., 1].reshape(-1).numpy(), P[..., 0].reshape(-1).numpy(), c=P[..., 2].reshape(-1).numpy(),
                   s=3, cmap="viridis")
        ax.set_title(label, fontsize=8)
        ax.set_xlabel("x", fontsize=7)
        ax.set_ylabel("t", fontsize=7)
    fig.suptitle(title, fontsize=8)
    return _save(plt, fig, path)
