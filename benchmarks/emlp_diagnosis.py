"""The diagnosis of the gap to EMLP on its synthetic tasks: one table from the results files of
``bench_emlp_tasks.py`` (no training here).

    .venv/bin/python benchmarks/emlp_diagnosis.py

Reads benchmarks/results/ (each file names the command that wrote it):

* emlp_tasks_mid24.json, emlp_tasks_configB.json: symlie's EquivariantMLP with a bilinear middle width of 24 /
  96 at the reduced budget (128 channels, 400 epochs), written at commit d3a199e by the script of that time;
* emlp_peer_400ep.json: EMLP's own code at the same reduced budget, same data and seeds;
* emlp_ablation.json: EquivariantMLP with EMLP's initialisation and with EMLP's channel allocation, same budget
  (O5Synthetic only: the run was stopped there to free the cores for the peer);
* emlp_tasks.json: the benchmark at 1000 epochs (N <= 100): ScalarMLP, EquivariantMLP, EMLP here.

Writes benchmarks/results/emlp_diagnosis.{json,md}: median test MSE (EMLP's raw scale) over 3 seeds per cell, and
the hand-written reading of results/emlp_diagnosis_reading.md under it.
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
PUBLISHED = {"O5Synthetic": {30: 0.152, 100: 0.0408}, "Inertia": {30: 4.11, 100: 1.44},
             "ParticleInteraction": {30: 0.540, 100: 0.00888}}


def load(stem):
    p = RESULTS / f"{stem}.json"
    return json.loads(p.read_text()) if p.exists() else None


def med(d, task, N, model):
    if d is None:
        return None
    v = [r["test_mse_raw"] for r in d["runs"] if r["task"] == task and r["N"] == N and r["model"] == model]
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)} if v else None


COLUMNS = [  # (label, stem, model key in that file)
    ("EMLP, its code, 128 ch / 400 ep", "emlp_peer_400ep", "peer"),
    ("EquivariantMLP-24, 400 ep", "emlp_tasks_mid24", "EMLP"),
    ("EquivariantMLP-96, 400 ep", "emlp_tasks_configB", "EMLP"),
    ("EquivariantMLP-24 + EMLP's init, 400 ep", "emlp_ablation", "equivariant24+projected"),
    ("EquivariantMLP-24 + EMLP's allocation, 400 ep", "emlp_ablation", "equivariant24+emlp-alloc"),
    ("EquivariantMLP-96 + EMLP's allocation, 400 ep", "emlp_ablation", "equivariant96+emlp-alloc"),
    ("EMLP, its code, 128 ch / 1000 ep", "emlp_tasks", "peer"),
    ("EquivariantMLP-24, 1000 ep", "emlp_tasks", "equivariant24"),
    ("ScalarMLP, 1000 ep", "emlp_tasks", "scalar"),
]


def fmt(c):
    if c is None:
        return "-"
    if c["n"] == 1:
        return f"{c['median']:.3g} (1 seed)"
    return f"{c['median']:.3g} [{c['min']:.3g}, {c['max']:.3g}]" + ("" if c["n"] >= 3 else f" ({c['n']} seeds)")


def main():
    files = {stem: load(stem) for _, stem, _ in COLUMNS}
    table = {}
    for task, pub in PUBLISHED.items():
        for N in (30, 100):
            table[f"{task}/N={N}"] = {"EMLP published (384 ch, 1000 ep)": pub[N],
                                      **{label: med(files[stem], task, N, key) for label, stem, key in COLUMNS}}
    out = {"sources": {stem: (d["meta"]["command"] if d else None) for stem, d in files.items()}, "table": table}
    (RESULTS / "emlp_diagnosis.json").write_text(json.dumps(out, indent=2))
    labels = ["EMLP published (384 ch, 1000 ep)"] + [c[0] for c in COLUMNS]
    L = ["# Diagnosis: where the gap to EMLP's published numbers comes from", "",
         "Command: `.venv/bin/python benchmarks/emlp_diagnosis.py` (a table from the results files below; no "
         "training).  ", "Test MSE on EMLP's raw scale, median [min, max] over 3 seeds; 128 channels, depth 3, Adam "
         "3e-3 with cosine decay, batch min(500, N), same data and seeds in every column.", "",
         "| task | N | " + " | ".join(labels) + " |", "|---|---|" + "---|" * len(labels)]
    for key, row in table.items():
        task, N = key.split("/N=")
        L.append(f"| {task} | {N} | {row[labels[0]]:.3g} | " + " | ".join(fmt(row[lab]) for lab in labels[1:]) + " |")
    L += ["", "Sources:", ""] + [f"* `{stem}`: `{cmd}`" for stem, cmd in out["sources"].items()]
    reading = RESULTS / "emlp_diagnosis_reading.md"
    L += ["", "## Reading", "", reading.read_text().strip() if reading.exists() else "(no reading yet)", ""]
    (RESULTS / "emlp_diagnosis.md").write_text("\n".join(L))
    print("\n".join(L))


if __name__ == "__main__":
    main()
