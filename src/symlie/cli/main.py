"""The ``symlie`` command line.

Exit status: 0 success; 1 a problem with the data or a file (unreadable, corrupt, too few rows, a fit that
fails on the data, an output path that cannot be written); 2 a usage error (bad or inconsistent flags,
unknown names, a file or column that does not exist); 130 interrupted. Errors are one line on stderr,
``symlie COMMAND: error: MESSAGE``, never a traceback.
"""
from __future__ import annotations

import argparse
import math
import sys

from .. import __version__
from ..utils.errors import ResourceError, SymlieError

DEMO_OUT = "symlie-demo-report"
#: the built-in equations (symlie.pde.BUILTIN, which is not imported at parse time to keep --help fast)
PDE_EQUATIONS = ["kdv", "ks", "burgers", "heat", "nkdv", "ckdv"]
SEED_MAX = 2 ** 63 - 1


def _int_flag(lo: int, hi: int | None = None):
    def parse(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {s!r}") from None
        if v < lo or (hi is not None and v > hi):
            rng = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise argparse.ArgumentTypeError(f"expected an integer {rng}, got {s!r}")
        return v
    return parse


def _float_flag(lo: float, *, open_lo: bool = False, hi: float | None = None, what: str = ""):
    def parse(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {s!r}") from None
        ok = math.isfinite(v) and (v > lo if open_lo else v >= lo) and (hi is None or v < hi)
        if not ok:
            rng = (f"> {lo:g}" if open_lo else f">= {lo:g}") + ("" if hi is None else f" and < {hi:g}")
            raise argparse.ArgumentTypeError(f"expected a finite number {rng}{what}, got {s!r}")
        return v
    return parse


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="symlie", description="Enforce, discover and promote Lie group symmetry.",
                                epilog="exit status: 0 success, 1 a data or file problem, 2 a usage error")
    p.add_argument("--version", action="version", version=f"symlie {__version__}")
    p.add_argument("--max-bytes", type=_float_flag(0.0, open_lo=True), metavar="BYTES",
                   help="memory limit of any single request, e.g. 4e9 (default: $SYMLIE_MAX_BYTES, else half of the "
                        "physical memory); larger requests are refused before allocating")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    seed = _int_flag(0, SEED_MAX)
    d = sub.add_parser("demo", help="symmetry algebras of built-in models from their Lie-derivative spectra")
    d.add_argument("--points", type=_int_flag(20), default=200, help="random sample points per model (>= 20, "
                                                                      "default 200)")
    d.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    d.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    d.add_argument("--no-tour", action="store_true", help="only the spectra table (skip the enforce / discover / "
                                                          "promote tour and its report)")
    d.add_argument("--out", help=f"report folder of the tour (default {DEMO_OUT}); a previous demo report there "
                                 f"is replaced, any other existing folder is refused")
    c = sub.add_parser("discover", help="the symmetry algebra of a data set (CSV, NPZ or HDF5)",
                       description="Fit a model Y ~ F(X) and find its symmetries inside a candidate algebra, or "
                                   "(without --outputs) the symmetries of the point cloud X.")
    c.add_argument("file", metavar="FILE", help="data file: .csv (header row), .npz or .h5/.hdf5")
    c.add_argument("--inputs", help="comma-separated input columns (default: all columns not in --outputs)")
    c.add_argument("--outputs", help="comma-separated output columns; omit for a point cloud")
    c.add_argument("--candidates", required=True,
                   help="candidate algebra, e.g. 'gl(3)', 'so(3)', 'se(2)', 'so(1,3)', 'sl(2)', 't(3)', 'so(3)+t(3)'")
    c.add_argument("--model",
                   help="fitted model (needs --outputs): 'poly:DEGREE' (default poly:2), 'mlp', or a saved torch "
                        "model (.pt: torch.save of the module, not of its state_dict; loaded with pickle, so only "
                        "files you trust; used on the CPU in eval mode, float32 converted to float64 on a copy)")
    c.add_argument("--rule", default="auto", choices=["auto", "rtol", "gap"],
                   help="rank rule (default auto: the largest gap >= --min-gap above a floor set by the fit's "
                        "held-out error)")
    c.add_argument("--rtol", type=_float_flag(0.0, open_lo=True, hi=1.0),
                   help="relative tolerance of --rule rtol, in (0, 1)")
    c.add_argument("--min-gap", type=_float_flag(1.0, open_lo=True, what=" (a ratio of singular values)"),
                   help="smallest ratio counted as a gap by --rule auto / gap (> 1, default 10)")
    c.add_argument("--drop-nan", action="store_true", help="drop rows with NaN/Inf instead of refusing them")
    c.add_argument("--seed", type=seed, default=0, help="seed of the train/validation split and the MLP (default 0)")
    c.add_argument("--json", action="store_true", help="print the result as JSON")
    c.add_argument("--out", help="write a report to this folder: symmetry.json, report.md and PNG plots (spectrum, "
                                 "generators; plots need symlie[plot]); a previous report there is replaced "
                                 "entirely, any other existing folder is refused")
    e = sub.add_parser("enforce", help="the basis of equivariant linear maps between two representations",
                       description="Equivariant linear maps rep_in -> rep_out of a group, saved to a versioned .npz "
                                   "file (group, representations, basis (n_out * n_in, k), singular spectra, rank "
                                   "rule) that symlie.EquivariantBasis.load reads back.")
    e.add_argument("--group", required=True, help="group: SO(n), O(n), SO(p,q), O(p,q), SE(n), E(n), T(n), SL(n), "
                                                   "GL(n), Sp(2n), Lorentz, S(n), Z(n)")
    e.add_argument("--rep-in", required=True,
                   help="input representation, e.g. 'V', 'V*V', '2*V+Scalar', 'T(2,1)', 'V.dual()'")
    e.add_argument("--rep-out", required=True, help="output representation (same syntax)")
    e.add_argument("--out", required=True, help="output .npz file ('.npz' is appended when missing; an existing "
                                                "file is replaced)")
    p2 = sub.add_parser("promote", help="fit a regression or SINDy model with a promoted candidate group",
                        description="Nuclear-norm promotion of a candidate algebra in a polynomial regression "
                                    "(Y ~ W Phi(X)) or SINDy model (--sindy: outputs are time derivatives).")
    p2.add_argument("file", metavar="FILE", help="data file: .csv (header row), .npz or .h5/.hdf5")
    p2.add_argument("--inputs", help="comma-separated input columns (default: all columns not in --outputs)")
    p2.add_argument("--outputs", required=True, help="comma-separated output (or derivative) columns")
    p2.add_argument("--candidates", required=True, help="candidate algebra, e.g. 'so(3)', 'se(2)', 'gl(3)'")
    p2.add_argument("--degree", type=_int_flag(1), default=2, help="polynomial library degree (>= 1, default 2)")
    p2.add_argument("--lam", type=_float_flag(0.0), help="penalty weight >= 0 (default: exact interpolation for "
                                                         "regression, 1e-2 for --sindy)")
    p2.add_argument("--sindy", action="store_true", help="outputs are the time derivatives of the inputs")
    p2.add_argument("--threshold", type=_float_flag(0.0), help="SINDy threshold >= 0 (--sindy only; default 0.05)")
    p2.add_argument("--drop-nan", action="store_true", help="drop rows with NaN/Inf instead of refusing them")
    p2.add_argument("--json", action="store_true", help="print the result as JSON")
    _pde_parser(sub, seed)
    _augment_parser(sub, seed)
    _fno_parser(sub, seed)
    return p


def _augment_parser(sub, seed) -> None:
    a = sub.add_parser("augment", help="augmented copies of PDE solutions by point symmetries, saved to HDF5",
                       description="Move every graph point of each solution along sum_i a_i V_i (a_i ~ U(-sigma, "
                                   "sigma), generators orthonormalised on the data), resample onto the grid "
                                   "(Whittaker-Shannon in x, linear in t) and keep the rows with support > 0.8.")
    a.add_argument("file", metavar="FILE", help="solutions saved by 'symlie pde generate' (.h5)")
    a.add_argument("--generators", required=True, metavar="SPEC",
                   help="'exact' (the known generators of the file's equation), 'discovered' (the library route on "
                        "the file's solutions: jets, an equation fit, its point symmetries), or a learned-generator "
                        "file (.pt, saved by benchmarks/bench_generators.py with its coordinate scaling)")
    a.add_argument("--periodic", action="store_true",
                   help="keep only the generators compatible with the period in x (drops scalings)")
    a.add_argument("--slots", help="learned generators: comma-separated 1-based slots to use (default all)")
    a.add_argument("--copies", type=_int_flag(1), default=8, help="copies per solution, the original included "
                                                                   "(default 8)")
    a.add_argument("--sigma", type=_float_flag(0.0), default=0.1, help="coefficient range per generator "
                                                                      "(default 0.1)")
    a.add_argument("--kernel", choices=["dirichlet", "bilinear"], default="dirichlet", help="resampling in x")
    a.add_argument("--min-rows", type=_int_flag(1), default=60, help="fewest valid rows of an accepted copy "
                                                                      "(default 60)")
    a.add_argument("--steps", type=_int_flag(1), default=10, help="RK4 steps of the flow (default 10)")
    a.add_argument("--seed", type=seed, default=0, help="seed of the coefficients (default 0)")
    a.add_argument("--out", required=True, help="output .h5 file of the copies")


def _fno_parser(sub, seed) -> None:
    f = sub.add_parser("fno", help="train and evaluate a Fourier neural operator (FNO1d) on PDE solutions",
                       description="An FNO1d (LPSDA's layout: 20 steps in, 20 out) trained on (augmented) windows, "
                                   "selected on validation trajectories, scored by the unrolled NMSE.")
    fs = f.add_subparsers(dest="fno_command", metavar="FNO_COMMAND")
    t = fs.add_parser("train", help="train on solutions (or augmented copies) with a validation file")
    t.add_argument("file", metavar="FILE", help="training solutions (.h5 of 'symlie pde generate') or augmented "
                                                "copies (.h5 of 'symlie augment')")
    t.add_argument("--val", required=True, help="validation solutions (.h5); the model is selected on them")
    t.add_argument("--out", required=True, help="output model file (.pt)")
    t.add_argument("--epochs", type=_int_flag(1), default=10, help="epochs (default 10)")
    t.add_argument("--passes", type=_int_flag(1), default=10, help="windows per trajectory and epoch (default 10)")
    t.add_argument("--batch-size", type=_int_flag(1), default=16, help="windows per step (default 16)")
    t.add_argument("--lr", type=_float_flag(0.0, open_lo=True), default=1e-3, help="AdamW learning rate")
    t.add_argument("--width", type=_int_flag(1), default=64, help="channels (default 64)")
    t.add_argument("--modes", type=_int_flag(1), default=16, help="Fourier modes per layer (default 16)")
    t.add_argument("--depth", type=_int_flag(1), default=4, help="Fourier layers (default 4)")
    t.add_argument("--history", type=_int_flag(1), default=20, help="input time steps (default 20)")
    t.add_argument("--future", type=_int_flag(1), default=20, help="output time steps (default 20)")
    t.add_argument("--start", type=_int_flag(1), default=40, help="first predicted row of the validation "
                                                                   "rollout (default 40)")
    t.add_argument("--rollout", type=_int_flag(1), default=100, help="validation rollout steps (default 100)")
    t.add_argument("--p-original", type=_float_flag(0.0, hi=1.0000001), default=0.5,
                   help="probability of the original among augmented copies (default 0.5)")
    t.add_argument("--seed", type=seed, default=0, help="seed of the initialisation and the draws (default 0)")
    t.add_argument("--checkpoint", help="checkpoint file written every epoch (.pt)")
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    t.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    e = fs.add_parser("eval", help="the unrolled NMSE of a trained model on test solutions")
    e.add_argument("model", metavar="MODEL", help="a model file of 'symlie fno train' (.pt)")
    e.add_argument("file", metavar="FILE", help="test solutions (.h5)")
    e.add_argument("--start", type=_int_flag(1), default=40, help="first predicted row (default 40)")
    e.add_argument("--rollout", type=_int_flag(1), default=100, help="predicted steps (default 100)")
    e.add_argument("--json", action="store_true", help="print the result as JSON")
    e.add_argument("--out", help="write a report folder (nmse.json, report.md, per-step NMSE plot)")


def _pde_parser(sub, seed) -> None:
    q = sub.add_parser("pde", help="differential equations: generate solution data, find Lie point symmetries",
                       description="Lie point symmetries of PDEs as the nullspace of the prolonged Lie derivative.")
    qs = q.add_subparsers(dest="pde_command", metavar="PDE_COMMAND")
    g = qs.add_parser("generate", help="solutions of a built-in PDE (ETDRK4 / Cole-Hopf), saved to HDF5",
                      description="Solutions on a periodic grid, generated here (nothing is downloaded).")
    g.add_argument("equation", choices=PDE_EQUATIONS, help="the equation")
    g.add_argument("--trajectories", type=_int_flag(1), default=10, help="number of solutions (default 10)")
    g.add_argument("--preset", choices=["ko", "lienlsd"], default="lienlsd",
                   help="grid and initial conditions of Ko et al. or LieNLSD (default lienlsd)")
    g.add_argument("--seed", type=seed, default=0, help="seed of the initial conditions (default 0)")
    g.add_argument("--out", required=True, help="output .h5 file (float32 values, parameters as attributes)")
    y = qs.add_parser("symmetries", help="the Lie point symmetries of a built-in equation or of solution data",
                      description="Fields tau d/dt + xi d/dx + phi d/du with coefficients in a polynomial library, "
                                  "prolonged; from a built-in equation (--equation) or from data (FILE: jets, a "
                                  "sparse equation fit, then the symmetries of the fitted equation).")
    src = y.add_mutually_exclusive_group(required=True)
    src.add_argument("file", nargs="?", metavar="FILE", help="solutions saved by 'symlie pde generate' (.h5)")
    src.add_argument("--equation", choices=PDE_EQUATIONS,
                     help="a built-in equation instead of data")
    y.add_argument("--library", default="poly:2", help="coefficient library of the fields: poly:DEGREE (default "
                                                        "poly:2, 30 unknowns)")
    y.add_argument("--degree", type=_int_flag(1), default=2, help="degree of the jet library of the equation fit "
                                                                   "(data only; default 2)")
    y.add_argument("--threshold", type=_float_flag(0.0), default=0.05,
                   help="STLSQ threshold of the equation fit (data only; default 0.05)")
    y.add_argument("--samples", type=_int_flag(10), default=1000, help="jet points used (default 1000)")
    y.add_argument("--seed", type=seed, default=0, help="seed of the samples (default 0)")
    y.add_argument("--json", action="store_true", help="print the result as JSON")
    y.add_argument("--out", help="write a report folder (symmetry.json, report.md, spectrum plot)")


def _fail(cmd: str, msg, code: int) -> int:
    print(f"symlie {cmd}: error: {msg}", file=sys.stderr)
    return code


def _note(cmd: str, msg: str) -> None:
    print(f"symlie {cmd}: note: {msg}", file=sys.stderr)


def _load(cmd: str, args):
    """load_table for a command: (table, 0) or (None, exit code) after printing the error (2 for a file or
    column that does not exist / is repeated, 1 for a file or data that cannot be used)."""
    from ..io import DataError, SelectionError, load_table
    try:
        return load_table(args.file, args.inputs, args.outputs, drop_nan=args.drop_nan), 0
    except SelectionError as exc:
        return None, _fail(cmd, exc, 2)
    except DataError as exc:
        return None, _fail(cmd, exc, 1)


def _demo(args) -> int:
    if args.out is not None and (args.json or args.no_tour):
        return _fail("demo", "--out: the report is written by the tour, which --json / --no-tour skip", 2)
    out = DEMO_OUT if args.out is None else args.out
    tour = not args.json and not args.no_tour
    if tour:
        from ..io import check_out_dir
        check_out_dir(out, "--out")                       # before the demo runs, not after
    from .demo import run_demo
    results = run_demo(n_points=args.points, seed=args.seed, as_json=args.json)
    ok = all(r["found_dim"] == r["expected_dim"] for r in results)
    if tour:
        from .tour import run_tour
        run_tour(out, seed=args.seed)
    return 0 if ok else 1


def _enforce(args) -> int:
    from ..enforce.basis import equivariant_basis
    from ..io import check_out_file
    from ..lie.groups import parse_group
    from ..lie.reps import parse_rep
    try:
        G = parse_group(args.group)
        ri, ro = parse_rep(args.rep_in, G, "--rep-in"), parse_rep(args.rep_out, G, "--rep-out")
    except ResourceError:                                # too big to build: exit 1 like every refusal
        raise
    except ValueError as exc:
        return _fail("enforce", exc, 2)
    if not (ri.is_linear and ro.is_linear):
        return _fail("enforce", "--rep-in, --rep-out: equivariant linear maps need linear representations", 2)
    out = check_out_file(args.out, "--out")              # before the solve: a bad path fails fast
    B = equivariant_basis(ri, ro)
    path = B.save(out)
    print(B.summary().splitlines()[0])
    print(f"saved the ({ro.size * ri.size}, {B.dim}) basis to {path}")
    return 0


def _promote(args) -> int:
    import json

    from ..lie.algebra import parse_algebra
    from ..library.features import PolynomialLibrary
    from ..models.regression import SymmetricRegressor
    from ..models.sindy import SymmetricSINDy
    if args.threshold is not None and not args.sindy:
        return _fail("promote", "--threshold: applies to --sindy only (regression promotion has no threshold)", 2)
    try:
        cand = parse_algebra(args.candidates)
    except ResourceError:                                # too big to build: exit 1 like every refusal
        raise
    except ValueError as exc:
        return _fail("promote", f"--{exc}" if str(exc).startswith("candidates:") else exc, 2)
    table, code = _load("promote", args)
    if table is None:
        return code
    assert table.Y is not None
    if cand.n != table.X.shape[1]:
        return _fail("promote", f"--candidates {args.candidates} acts on R^{cand.n} but there are "
                                f"{table.X.shape[1]} input columns", 2)
    lib = PolynomialLibrary(args.degree)
    try:
        if args.sindy:
            model = SymmetricSINDy(lib, cand, mode="promote", threshold=0.05 if args.threshold is None else
                                   args.threshold, lam=1e-2 if args.lam is None else args.lam).fit(table.X, table.Y)
            eqs = model.equations(table.input_names)
        else:
            if cand.affine is False and table.Y.shape[1] != 1:
                return _fail("promote", "--outputs: regression promotion takes one output column here (an "
                                        "invariant target)", 2)
            model = SymmetricRegressor(lib, cand, mode="promote", lam=args.lam).fit(table.X, table.Y)
            eqs = model.equations(table.input_names, table.output_names)
    except ValueError as exc:                            # SymlieError / DataError included: the fit fails on the data
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


def _first_line(exc: BaseException, limit: int = 200) -> str:
    s = (str(exc).strip().splitlines() or [""])[0]
    return s if len(s) <= limit else s[:limit] + " ..."


def _load_model(path, X, n_out: int, input_names, output_names):
    """A saved torch model, checked on one row of X: a module (float32 converted to float64 on a copy, eval
    mode), a symlie estimator or another callable. Problems raise DataError naming the file."""
    import copy
    from collections.abc import Mapping

    import torch

    from ..discovery import is_linear_estimator
    from ..io import DataError
    where = f"--model {str(path)!r}"
    try:
        obj = torch.load(path, weights_only=False, map_location="cpu")
    except Exception as exc:  # noqa: BLE001 - unpickling a user's file can fail in any way; all mean "unreadable"
        hint = ""
        if isinstance(exc, (AttributeError, ImportError)):
            hint = ("; the model's class must be importable here (define it in a module on the Python path, not in "
                    "the __main__ script that saved it)")
        raise DataError(f"{where}: cannot load the file ({type(exc).__name__}: {_first_line(exc)}){hint}") from None
    if isinstance(obj, Mapping):
        keys = list(obj)
        shown = ", ".join(map(str, keys[:4])) + (", ..." if len(keys) > 4 else "")
        if keys and all(isinstance(v, torch.Tensor) for v in obj.values()):
            raise DataError(f"{where}: is a state_dict ({len(keys)} parameter tensors: {shown}), not a model; save "
                            f"the module itself with torch.save(model, path)")
        raise DataError(f"{where}: holds a {type(obj).__name__} (keys: {shown or 'none'}; e.g. a training "
                        f"checkpoint), not a model; save the module itself with torch.save(model, path)")
    if isinstance(obj, torch.nn.Module):
        dts = {t.dtype for t in list(obj.parameters()) + list(obj.buffers()) if t.is_floating_point()}
        if dts and dts != {torch.float64}:
            obj = copy.deepcopy(obj).double()
            names = ", ".join(sorted(str(t).replace("torch.", "") for t in dts))
            _note("discover", f"{where}: the model's {names} parameters are converted to float64 (on a copy)")
        obj.eval()
    elif not (is_linear_estimator(obj) or callable(obj)):
        raise DataError(f"{where}: holds a {type(obj).__name__}, not a model (save a torch.nn.Module with "
                        f"torch.save(model, path))")
    n_in = X.shape[1]
    first = next((m for m in obj.modules() if isinstance(getattr(m, "in_features", None), int)), None) \
        if isinstance(obj, torch.nn.Module) else None
    try:
        with torch.no_grad():
            y = obj.predict(X[:1]) if is_linear_estimator(obj) else obj(X[:1])
        y = torch.as_tensor(y)
    except Exception as exc:  # noqa: BLE001 - any failure of the user's model on a valid row is reported
        if first is not None and first.in_features != n_in:
            raise DataError(f"{where}: the model takes {first.in_features} inputs but there are {n_in} input "
                            f"columns ({', '.join(input_names)})") from None
        raise DataError(f"{where}: the model fails on one row of the {n_in} input columns ({', '.join(input_names)}): "
                        f"{type(exc).__name__}: {_first_line(exc)}") from None
    if y.ndim not in (1, 2) or y.shape[0] != 1:
        raise DataError(f"{where}: for one row of inputs the model returns shape {tuple(y.shape)}; expected (1, "
                        f"{n_out})" + (" or (1,)" if n_out == 1 else ""))
    k = 1 if y.ndim == 1 else y.shape[1]
    if k != n_out:
        raise DataError(f"{where}: the model returns {k} output{'s' if k != 1 else ''} per row but there "
                        f"{'are' if n_out != 1 else 'is'} {n_out} output column{'s' if n_out != 1 else ''} "
                        f"({', '.join(output_names)})")
    return obj


def _discover(args) -> int:
    import json
    from pathlib import Path

    from ..io import DataError, check_out_dir
    from ..lie.algebra import parse_algebra
    from ..lie.groups import as_group
    from ..lie.reps import Point, V
    from ..models import discover_data

    cmd = "discover"
    if args.rtol is not None and args.rule != "rtol":
        return _fail(cmd, f"--rtol: applies to --rule rtol only (got --rule {args.rule}; its cut is set by "
                          f"--min-gap)", 2)
    if args.min_gap is not None and args.rule == "rtol":
        return _fail(cmd, "--min-gap: applies to --rule auto / gap only (--rule rtol cuts at --rtol)", 2)
    if args.model is not None and args.outputs is None:
        return _fail(cmd, "--model: a fitted model needs --outputs (without --outputs the point cloud of the inputs "
                          "is analysed directly)", 2)
    spec = "poly:2" if args.model is None else args.model
    kw: dict = {}
    model_path = None
    if spec.startswith("poly"):
        head, _, deg = spec.partition(":")
        if head != "poly" or not deg.strip().isdigit() or int(deg) < 1:
            return _fail(cmd, f"--model {spec!r}: expected poly:DEGREE with an integer DEGREE >= 1, e.g. poly:2", 2)
        kw["degree"] = int(deg)
        model: object = "poly"
    elif spec == "mlp":
        model = "mlp"
    else:
        model_path = Path(spec)
        if not model_path.is_file():
            return _fail(cmd, f"--model {spec!r}: expected 'poly:DEGREE', 'mlp' or a saved torch model file "
                              f"(no such file)", 2)
    if args.out:
        check_out_dir(args.out, "--out")                 # before the fit: a bad folder fails fast
    try:
        cand = parse_algebra(args.candidates)
    except ResourceError:                                # too big to build: exit 1 like every refusal
        raise
    except ValueError as exc:                            # NotClosedError included
        return _fail(cmd, f"--{exc}" if str(exc).startswith("candidates:") else exc, 2)
    table, code = _load(cmd, args)
    if table is None:
        return code
    n_in = table.X.shape[1]
    n = cand.n
    if n_in % n:
        return _fail(cmd, f"--candidates {args.candidates} acts on R^{n} but there are {n_in} input columns (a "
                          f"multiple of {n} is needed: each block of {n} columns is one vector)", 2)
    G = as_group(cand)
    rep_in = Point(G) if cand.affine else V(G)
    for _ in range(n_in // n - 1):
        rep_in = rep_in + (Point(G) if cand.affine else V(G))
    if model_path is not None:
        assert table.Y is not None
        try:
            model = _load_model(model_path, table.X, table.Y.shape[1], table.input_names, table.output_names)
        except DataError as exc:
            return _fail(cmd, exc, 1)
    try:
        res = discover_data(table.X, table.Y, cand, model=model, rep_in=rep_in, rule=args.rule, rtol=args.rtol,
                            min_gap=args.min_gap, seed=args.seed, **kw)
    except ValueError as exc:                            # the fit or the discovery fails on this data
        return _fail(cmd, exc, 1)
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


def _pde(args) -> int:
    cmd = "pde"
    if args.pde_command is None:
        return _fail(cmd, "expected a PDE_COMMAND: generate or symmetries (symlie pde --help)", 2)
    if args.pde_command == "generate":
        from ..datasets import generate, save_h5
        from ..utils.files import check_out_file
        out = check_out_file(args.out, "--out", suffix=".h5")
        sol = generate(args.equation, args.trajectories, preset=args.preset, seed=args.seed)
        save_h5(sol, out)
        print(f"saved {args.trajectories} {args.equation} solution(s) {tuple(sol.u.shape)} to {out}")
        return 0
    return _pde_symmetries(args)


def _builtin_equation(sol):
    """The built-in equation a solution file was generated from (with its nu), or None."""
    from .. import pde
    if sol.equation not in pde.BUILTIN:
        return None
    nu = sol.params.get("nu")
    return pde.BUILTIN[sol.equation](nu) if sol.equation in ("burgers", "heat") and nu else pde.BUILTIN[sol.equation]()


def _data_route(sol, name: str, *, library, degree: int, threshold: float, n_points: int, samples: int, seed: int):
    """The library route on solution data: jets, a sparse equation fit, the point symmetries of the fitted
    equation on ``samples`` of its jets. Returns (fitted, equation, candidates, result)."""
    import torch

    from .. import pde
    ref = _builtin_equation(sol)
    jet = pde.JetSpace(("t", "x"), ("u",), ref.jet.order if ref is not None else 3)
    jets = pde.jets_from_grid(sol.u, sol.t, sol.x, jet, method="spectral", periodic=True, n_points=n_points,
                              seed=seed)
    fitted = pde.fit_equation(jets, jet, degree=degree, threshold=threshold, seed=seed)
    eq = fitted.to_equation(name)
    cand = pde.point_symmetry_candidates(eq, library)
    idx = torch.randperm(jets.Z.shape[0], generator=torch.Generator().manual_seed(seed))[:samples]
    return fitted, eq, cand, pde.point_symmetries(eq, candidates=cand, samples=jets.Z[idx])


def _pde_symmetries(args) -> int:
    import json


    from .. import pde
    from ..library import PolynomialLibrary
    cmd = "pde symmetries"
    lib_spec = args.library
    if not lib_spec.startswith("poly:") or not lib_spec[5:].isdigit() or int(lib_spec[5:]) < 0:
        return _fail(cmd, f"--library {lib_spec!r}: expected poly:DEGREE, e.g. poly:2", 2)
    library = PolynomialLibrary(int(lib_spec[5:]))
    if args.out:
        from ..io import check_out_dir
        check_out_dir(args.out, "--out")
    fitted = None
    sol = None
    if args.equation:
        eq = pde.BUILTIN[args.equation]()
        cand = pde.point_symmetry_candidates(eq, library)
        res = pde.point_symmetries(eq, candidates=cand, n_samples=args.samples, seed=args.seed)
        title = f"symlie pde symmetries: {eq.name}"
    else:
        from pathlib import Path

        from ..datasets import load_h5
        if not Path(args.file).is_file():
            return _fail(cmd, f"FILE: {args.file!r} does not exist", 2)
        sol = load_h5(args.file)
        fitted, eq, cand, res = _data_route(sol, f"fitted to {args.file}", library=library, degree=args.degree,
                                            threshold=args.threshold, n_points=max(20 * args.samples, 5000),
                                            samples=args.samples, seed=args.seed)
        title = f"symlie pde symmetries: {args.file}"
    gens = res.describe()
    reference = None
    if args.equation:
        reference = pde.BUILTIN[args.equation]()
    elif sol is not None:
        reference = _builtin_equation(sol)
    angle = None
    if reference is not None and reference.exact:
        try:
            angles = pde.angles_to_exact(res, reference, cand)
            angle = float(angles.max()) if angles.numel() else 0.0
        except SymlieError:                                   # a known generator outside this library
            angle = None
    angle_line = (f"largest principal angle to the known algebra of {reference.name} ({len(reference.exact)} "
                  f"generators): {angle:.2e} rad" if angle is not None and reference is not None else None)
    if args.out:
        from ..report import write_report
        notes = [f"equation: {fitted.equations()[0]} (fitted; validation R^2 {fitted.r2_val:.6f}, status "
                 f"{fitted.status})" if fitted is not None else f"equation: {eq.name}",
                 "generators (reduced row echelon basis): " + "; ".join(gens)] + ([angle_line] if angle_line else [])
        rep = write_report(res, args.out, title=title, notes=notes)
        if not args.json:
            print(f"report: {rep['markdown']}")
    if args.json:
        d = res.to_dict()
        d["equation"] = fitted.equations()[0] if fitted is not None else eq.name
        d["generators"] = gens
        d["max_angle_to_known_rad"] = angle
        print(json.dumps(d))
        return 0
    if fitted is not None:
        print(f"fitted: {fitted.equations()[0]}  (validation R^2 {fitted.r2_val:.6f}, {fitted.status})")
    print(res.summary())
    print("generators:")
    for g_ in gens:
        print(f"  {g_}")
    if angle_line:
        print(angle_line)
    return 0


def _h5_solutions(cmd: str, path: str, flag: str):
    from pathlib import Path

    from ..datasets import load_h5
    if not Path(path).is_file():
        raise _Usage(f"{flag}: {path!r} does not exist")
    return load_h5(path)


class _Usage(Exception):
    """A usage error (exit 2) found while running a command."""


def _augment(args) -> int:
    from pathlib import Path


    from .. import augment as A
    from ..utils.files import check_out_file
    cmd = "augment"
    try:
        sol = _h5_solutions(cmd, args.file, "FILE")
    except _Usage as exc:
        return _fail(cmd, exc, 2)
    out = check_out_file(args.out, "--out", suffix=".h5")
    spec = args.generators
    if spec == "exact":
        eq = _builtin_equation(sol)
        if eq is None:
            return _fail(cmd, f"--generators exact: the file's equation {sol.equation!r} has no known generators", 2)
        act = A.graph_fields(eq)
    elif spec == "discovered":
        fitted, _, _, res = _data_route(sol, "fitted", library=None, degree=2, threshold=0.01, n_points=20000,
                                        samples=2000, seed=args.seed)
        print(f"fitted: {fitted.equations()[0]}; {res.dim} point symmetries: " + "; ".join(res.describe()))
        act = A.graph_fields(res)
    elif spec.endswith(".pt"):
        from ..generators import GeneratorMLP, GraphScaling
        if not Path(spec).is_file():
            return _fail(cmd, f"--generators: {spec!r} does not exist", 2)
        g = GeneratorMLP.load(spec)
        extra = getattr(g, "saved_extra", {}) or {}
        if "scaling" not in extra:
            return _fail(cmd, f"--generators {spec}: the file holds no coordinate scaling (saved without "
                              f"extra={{'scaling': ...}}); cannot map its fields to the data", 1)
        slots = None
        if args.slots:
            try:
                slots = [int(v) - 1 for v in args.slots.split(",")]
            except ValueError:
                return _fail(cmd, f"--slots {args.slots!r}: expected comma-separated integers", 2)
            if any(not 0 <= i < g.n_gen for i in slots):
                return _fail(cmd, f"--slots {args.slots!r}: the file has slots 1..{g.n_gen}", 2)
        act = A.learned_fields(g, GraphScaling(**extra["scaling"]), extra.get("scales"), slots=slots)
    else:
        return _fail(cmd, f"--generators {spec!r}: expected 'exact', 'discovered' or a .pt file", 2)
    if args.periodic:
        P = A.reference_points(sol.u, sol.t, sol.x, 4000, seed=args.seed)
        act, ns = A.periodic_fields(act, P, float(sol.params.get("L", sol.x.shape[0] * float(sol.x[1] - sol.x[0]))))
        print(f"periodic: {act.dim} generator(s) (spectrum {', '.join(f'{v:.2e}' for v in ns.singular_values)})")
    aug = A.augment_solutions(sol.u, sol.t, sol.x, act, n_copies=args.copies, sigma=args.sigma, seed=args.seed,
                              kernel=args.kernel, min_rows=args.min_rows, steps=args.steps, progress=True)
    aug.info["source"] = str(args.file)
    aug.info["equation"] = sol.equation
    aug.save(out)
    print(f"saved {aug.n_solutions} x {aug.n_copies} copies to {out} ({act.dim} generators, rejection rate "
          f"{aug.rejection_rate:.1%})")
    return 0


def _fno(args) -> int:
    cmd = "fno"
    if args.fno_command is None:
        return _fail(cmd, "expected an FNO_COMMAND: train or eval (symlie fno --help)", 2)
    try:
        return _fno_train(args) if args.fno_command == "train" else _fno_eval(args)
    except _Usage as exc:
        return _fail(f"fno {args.fno_command}", exc, 2)


def _fno_train(args) -> int:
    from .. import augment as A
    from ..nn import FNO1d, save_solver, train_solver
    from ..utils.files import check_out_file
    cmd = "fno train"
    out = check_out_file(args.out, "--out", suffix=".pt")
    if args.resume and not args.checkpoint:
        return _fail(cmd, "--resume: needs --checkpoint", 2)
    try:
        import h5py
    except ImportError:
        return _fail(cmd, "HDF5 files need h5py: pip install 'symlie[io]'", 1)
    try:
        with h5py.File(args.file, "r") as f:
            fmt = f.attrs.get("format")
    except (OSError, FileNotFoundError):
        fmt = None
    data = (A.AugmentedSolutions.load(args.file) if fmt in (A.AUGMENTED_FORMAT, A.AUGMENTED_FORMAT.encode())
            else _h5_solutions(cmd, args.file, "FILE"))
    val = _h5_solutions(cmd, args.val, "--val")
    ds = A.AugmentedWindows(data, history=args.history, future=args.future, p_original=args.p_original,
                            passes=args.passes, seed=args.seed)
    model = FNO1d(history=args.history, future=args.future, width=args.width, modes=args.modes, depth=args.depth,
                  seed=args.seed)
    res = train_solver(model, ds, val.u.float(), epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                       seed=args.seed, device=args.device, checkpoint=args.checkpoint,
                       resume_from=args.checkpoint if args.resume else None,
                       val_kw={"start": args.start, "steps": args.rollout})
    save_solver(model.cpu(), out)
    print(f"{res.message}; saved {out}")
    return 0 if res.status != "diverged" else 1


def _fno_eval(args) -> int:
    import json

    from ..nn import bootstrap_interval, load_solver, unrolled_nmse
    cmd = "fno eval"
    from pathlib import Path
    if not Path(args.model).is_file():
        raise _Usage(f"MODEL: {args.model!r} does not exist")
    model = load_solver(args.model)
    sol = _h5_solutions(cmd, args.file, "FILE")
    if args.out:
        from ..io import check_out_dir
        check_out_dir(args.out, "--out")
    ev = unrolled_nmse(model, sol.u.float(), start=args.start, steps=args.rollout)
    m, lo, hi = bootstrap_interval(ev.nmse_sum)
    d = {"model": str(args.model), "file": str(args.file), "n_test": int(ev.nmse_sum.shape[0]), "start": args.start,
         "steps": args.rollout, "nmse_sum": m, "nmse_sum_ci95": [lo, hi], "nmse_mean": float(ev.nmse_mean.mean()),
         "per_step": ev.per_step.tolist()}
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "nmse.json").write_text(json.dumps(d, indent=1))
        lines = [f"# symlie fno eval: {args.model} on {args.file}", "",
                 f"Unrolled NMSE over {args.rollout} steps from row {args.start} (sum over steps, Ko / LPSDA's "
                 f"metric), {d['n_test']} trajectories: {m:.4g} (95 % bootstrap interval [{lo:.4g}, {hi:.4g}]); "
                 f"per-step mean {d['nmse_mean']:.4g}."]
        from ..report import plots_available
        if plots_available():
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
            fig, ax = plt.subplots(figsize=(5, 3.2))
            ax.semilogy(range(args.start, args.start + args.rollout), d["per_step"])
            ax.set_xlabel("predicted row")
            ax.set_ylabel("NMSE (mean over trajectories)")
            fig.tight_layout()
            fig.savefig(out / "nmse_per_step.png", dpi=120)
            plt.close(fig)
            lines += ["", "![per-step NMSE](nmse_per_step.png)"]
        (out / "report.md").write_text("\n".join(lines) + "\n")
    if args.json:
        print(json.dumps(d))
    else:
        print(f"unrolled NMSE (sum over {args.rollout} steps) on {d['n_test']} trajectories: {m:.4g} "
              f"[{lo:.4g}, {hi:.4g}]; per-step mean {d['nmse_mean']:.4g}")
    return 0


_COMMANDS = {"demo": _demo, "discover": _discover, "enforce": _enforce, "promote": _promote, "pde": _pde,
             "augment": _augment, "fno": _fno}


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    cmd = args.command
    from ..utils.resources import memory_limit
    try:
        with memory_limit(args.max_bytes):
            return _COMMANDS[cmd](args)
    except KeyboardInterrupt:
        print(f"symlie {cmd}: interrupted", file=sys.stderr)
        return 130
    except SymlieError as exc:                           # DataError, ResourceError (size and limit in the message), ...
        return _fail(cmd, exc, 1)
    except MemoryError as exc:                           # an allocation that failed outside symlie's own checks
        return _fail(cmd, f"out of memory{f' ({exc})' if str(exc) else ''}; use fewer samples or smaller "
                          f"representations", 1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
