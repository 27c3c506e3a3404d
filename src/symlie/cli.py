"""The ``symlie`` command line."""
from __future__ import annotations

import argparse
import sys

from . import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="symlie", description="Enforce, discover and promote Lie group symmetry.")
    p.add_argument("--version", action="version", version=f"symlie {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="symmetry algebras of built-in models from their Lie-derivative spectra")
    d.add_argument("--points", type=int, default=200, help="random sample points per model (default 200)")
    d.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    d.add_argument("--json", action="store_true", help="print machine-readable JSON instead of a table")
    return p


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
        return 0 if ok else 1
    parser.error(f"unknown command {args.command!r}")  # pragma: no cover
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
