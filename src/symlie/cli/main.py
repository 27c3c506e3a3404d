"""The ``symlie`` command line."""
from __future__ import annotations

import argparse
import sys

from .. import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="symlie", description="Enforce, discover and promote Lie group symmetry.")
    p.add_argument("--version", action="version", version=f"symlie {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="symmetry algebras of built-in models from their Lie-derivative spectra")
    d.add_argument("--points", type=int, default=200, help="random sample points per model (default 200)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    d.add_argument("--no-tour", action="store_true", help="only the spectra table (skip the enforce / discover / "
                                                          "promote tour and its report)")
    d.add_argument("--out", default="symlie-demo-report", help="report folder of the tour (default "
                                                                "symlie-demo-report)")
    c = sub.add_parser("discover", help="the symmetry algebra of a data set (CSV, NPZ or HDF5)",
                       description="Fit a model Y ~ F(X) and find its symmetries inside a candidate algebra, or "
                                   "(without --outputs) the symmetries of the point cloud X.")
    c.add_argument("file", metavar="FILE", help="data file: .csv (header row), .npz or .h5/.hdf5")
    c.add_argument("--inputs", help="comma-separated input columns (default: all columns not in --outputs)")
    c.add_argument("--outputs", help="comma-separated output columns; omit for a point cloud")
    c.add_argument("--candidates", required=True,
                   help="candidate algebra, e.g. 'gl(3)', 'so(3)', 'se(2)', 'so(1,3)', 'sl(2)', 't(3)', 'so(3)+t(3)'")
    c.add_argument("--model", default="poly:2",
                   help="fitted model: 'poly:DEGREE' (default poly:2), 'mlp', or a saved torch model (.pt, "
                        "torch.save of a module)")
    c.add_argument("--rule", default="auto", choices=["auto", "rtol", "gap"],
                   help="rank rule (default auto: the largest gap >= --min-gap above a floor set by the fit's "
                        "held-out error)")
    c.add_argument("--rtol", type=float, help="relative tolerance of the rtol rule")
    c.add_argument("--min-gap", type=float, default=10.0, help="smallest ratio counted as a gap (default 10)")
    c.add_argument("--drop-nan", action="store_true", help="drop rows with NaN/Inf instead of refusing them")
    c.add_argument("--seed", type=int, default=0, help="seed of the train/validation split and the MLP (default 0)")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.add_argument("--out", help="write a report to this folder: symmetry.json, report.md and PNG plots (spectrum, "
                                 "generators; plots need symlie[plot])")
    e = sub.add_parser("enforce", help="the basis of equivariant linear maps between two representations",
                       description="Equivariant linear maps rep_in -> rep_out of a group, saved to a .npz file "
                                   "(basis (n_out * n_in, k), singular spectra, rank rule).")
    e.add_argument("--group", required=True, help="group: SO(n), O(n), SO(p,q), O(p,q), SE(n), E(n), T(n), SL(n), "
                                                   "GL(n), Sp(2n), Lorentz, S(n), Z(n)")
    e.add_argument("--rep-in", required=True,
                   help="input representation, e.g. 'V', 'V*V', '2*V+Scalar', 'T(2,1)', 'V.dual()'")
    e.add_argument("--rep-out", required=True, help="output representation (same syntax)")
    e.add_argument("--out", required=True, help="output .npz file")
    p2 = sub.add_parser("promote", help="fit a regression or SINDy model with a promoted candidate group",
                        description="Nuclear-norm promotion of a candidate algebra in a polynomial regression "
                                    "(Y ~ W Phi(X)) or SINDy model (--sindy: outputs are time derivatives).")
    p2.add_argument("file", metavar="FILE", help="data file: .csv (header row), .npz or .h5/.hdf5")
    p2.add_argument("--inputs", help="comma-separated input columns (default: all columns not in --outputs)")
    p2.add_argument("--outputs", required=True, help="comma-separated output (or derivative) columns")
    p2.add_argument("--candidates", required=True, help="candidate algebra, e.g. 'so(3)', 'se(2)', 'gl(3)'")
    p2.add_argument("--degree", type=int, default=2, help="polynomial library degree (default 2)")
    p2.add_argument("--lam", type=float, help="penalty weight (default: exact interpolation for regression, 1e-2 "
                                              "for --sindy)")
    p2.add_argument("--sindy", action="store_true", help="outputs are the time derivatives of the inputs")
    p2.add_argument("--threshold", type=float, default=0.05, help="SINDy threshold (default 0.05)")
    p2.add_argument("--drop-nan", action="store_true", help="drop rows with NaN/Inf instead of refusing them")
    p2.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def _fail(cmd: str, msg, code: int) -> int:
    print(f"symlie {cmd}: error: {msg}", file=sys.stderr)
    return code


def _enforce(args) -> int:
    import numpy as np

    from ..enforce.basis import equivariant_basis
    from ..lie.groups import parse_group
    from ..lie.reps import parse_rep
    try:
        G = parse_group(args.group)
        ri, ro = parse_rep(args.rep_in, G, "--rep-in"), parse_rep(args.rep_out, G, "--rep-out")
    except ValueError as exc:
        return _fail("enforce", exc, 2)
    B = equivariant_basis(ri, ro)
    np.savez(args.out, basis=B.basis.numpy(), n_in=ri.size, n_out=ro.size, dim=B.dim)
    print(B.summary().splitlines()[0])
    print(f"saved the ({ro.size * ri.size}, {B.dim}) basis to {args.out}")
    return 0


def _promote(args) -> int:
    import json

    from ..lie.algebra import parse_algebra
    from ..io import DataError, load_table
    from ..library.features import PolynomialLibrary
    from ..models.regression import SymmetricRegressor
    from ..models.sindy import SymmetricSINDy
    try:
        table = load_table(args.file, args.inputs, args.outputs, drop_nan=args.drop_nan)
        cand = parse_algebra(args.candidates)
    except ValueError as exc:
        return _fail("promote", exc, 2)
    if cand.n != table.X.shape[1]:
        return _fail("promote", f"--candidates {args.candidates} acts on R^{cand.n} but there are "
                                f"{table.X.shape[1]} input columns", 2)
    lib = PolynomialLibrary(args.degree)
    try:
        if args.sindy:
            model = SymmetricSINDy(lib, cand, mode="promote", threshold=args.threshold,
                                   lam=1e-2 if args.lam is None else args.lam).fit(table.X, table.Y)
            eqs = model.equations(table.input_names)
        else:
            if cand.affine is False and table.Y.shape[1] != 1:  # type: ignore[union-attr]
                return _fail("promote", "regression promotion takes one output column here (invariant target)", 2)
            model = SymmetricRegressor(lib, cand, mode="promote", lam=args.lam).fit(table.X, table.Y)
            eqs = model.equations(table.input_names, table.output_names)
    except (DataError, ValueError) as exc:
        return _fail("promote", exc, 1)
    sym = model.symmetry_
    if args.json:
        print(json.dumps({"kept_dim": sym.dim, "kept_name": sym.identification.get("name"),
                          "singular_values": sym.singular_values.tolist(), "equations": eqs,
                          "coef": model.coef_.tolist(), "converged": model.promotion_.converged}))
    else:
        print(sym.summary())
        print("\n".join(eqs))
    return 0


def _discover(args, parser) -> int:
    import json
    from pathlib import Path

    import torch

    from ..lie.algebra import parse_algebra
    from ..models import discover_data
    from ..lie.groups import as_group
    from ..io import DataError, load_table
    from ..lie.reps import Point, V

    try:
        table = load_table(args.file, args.inputs, args.outputs, drop_nan=args.drop_nan)
        cand = parse_algebra(args.candidates)
    except (DataError, ValueError) as exc:
        print(f"symlie discover: error: {exc}", file=sys.stderr)
        return 2
    n_in = table.X.shape[1]
    n = cand.n
    if n_in % n:
        print(f"symlie discover: error: --candidates {args.candidates} acts on R^{n} but there are {n_in} input "
              f"columns (a multiple of {n} is needed: each block of {n} columns is one vector)", file=sys.stderr)
        return 2
    G = as_group(cand)
    rep_in = Point(G) if cand.affine else V(G)
    for _ in range(n_in // n - 1):
        rep_in = rep_in + (Point(G) if cand.affine else V(G))
    model = args.model
    kw: dict = {}
    if model.startswith("poly"):
        try:
            kw["degree"] = int(model.split(":", 1)[1]) if ":" in model else 2
        except ValueError:
            print(f"symlie discover: error: --model {model!r}: expected poly:DEGREE, e.g. poly:2", file=sys.stderr)
            return 2
        model = "poly"
    elif model != "mlp":
        path = Path(model)
        if not path.is_file():
            print(f"symlie discover: error: --model {model!r}: expected 'poly:DEGREE', 'mlp' or a saved torch model "
                  f"file", file=sys.stderr)
            return 2
        model = torch.load(path, weights_only=False)
    try:
        res = discover_data(table.X, table.Y, cand, model=model, rep_in=rep_in, rule=args.rule, rtol=args.rtol,
                            min_gap=args.min_gap, seed=args.seed, **kw)
    except ValueError as exc:
        print(f"symlie discover: error: {exc}", file=sys.stderr)
        return 1
    if args.out:
        from ..report import write_report
        notes = [f"data: {args.file}; inputs {', '.join(table.input_names)}"
                 + (f"; outputs {', '.join(table.output_names)}" if table.output_names else " (point cloud)")]
        if table.n_dropped:
            notes.append(f"{table.n_dropped} rows with NaN/Inf dropped")
        rep = write_report(res, args.out, title=f"symlie discover: {Path(args.file).name}", notes=notes)
        if rep["plots_skipped"]:
            print(f"symlie discover: warning: {rep['plots_skipped']} (wrote {rep['json']} and {rep['markdown']})",
                  file=sys.stderr)
        elif not args.json:
            print(f"report: {rep['markdown']}")
    if args.json:
        d = res.to_dict()
        d["inputs"], d["outputs"], d["rows_dropped"] = table.input_names, table.output_names, table.n_dropped
        print(json.dumps(d))
    else:
        print(res.summary())
        if table.n_dropped:
            print(f"  ({table.n_dropped} rows with NaN/Inf dropped)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "demo":
        if args.points < 20:
            parser.error("--points: expected at least 20 sample points")
        from .demo import run_demo
        results = run_demo(n_points=args.points, seed=args.seed, as_json=args.json)
        ok = all(r["found_dim"] == r["expected_dim"] for r in results)
        if not args.json and not args.no_tour:
            from .tour import run_tour
            run_tour(args.out, seed=args.seed)
        return 0 if ok else 1
    if args.command == "discover":
        return _discover(args, parser)
    if args.command == "enforce":
        return _enforce(args)
    if args.command == "promote":
        return _promote(args)
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
