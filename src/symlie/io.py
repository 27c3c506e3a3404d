"""Reading user data for the command line (CSV with a header row, NPZ, HDF5 with the optional ``h5py``) and
writing its outputs safely.

:func:`load_table` returns the selected input and output columns as float64 tensors. Every problem a user
can fix is reported with what to do: a missing file, an unknown or repeated column or array (the available
ones are listed), rows with NaN/Inf (counted; refused unless ``drop_nan``), non-numeric data, and files that
cannot be read (corrupt or truncated archives, text that is not UTF-8, ragged rows): the message names the
file. Problems with the selection (the file or a column asked for does not exist, a column repeated) raise
:class:`SelectionError`; problems with the data itself raise :class:`DataError` (its base class).

Outputs are written so that a reader never sees a half-written one: :func:`write_npz` writes a temporary file
next to the target and renames it into place; :func:`staged_dir` builds a report folder next to the target
and swaps it in, replacing a previous report entirely (a folder that is not a previous report is refused).
"""
from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .utils.errors import DataError, SymlieError
from .utils.files import check_out_file, check_parent, temporary_name, write_npz  # noqa: F401 - re-exported

__all__ = ["Table", "load_table", "DataError", "SelectionError", "check_out_file", "write_npz", "check_out_dir",
           "staged_dir", "is_report_dir"]


class SelectionError(DataError):
    """The file, or a column / array asked for, does not exist or is asked for twice (a usage error: the
    command line exits with status 2 for it, and 1 for other data errors)."""


@dataclass
class Table:
    """Selected data: X (N, n_in), Y (N, n_out) or None, their column names, and the rows dropped."""

    X: torch.Tensor
    Y: torch.Tensor | None
    input_names: list[str]
    output_names: list[str]
    n_dropped: int = 0


def _split_names(spec: str | None, what: str) -> list[str] | None:
    if spec is None:
        return None
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise SelectionError(f"{what}: expected a comma-separated list of column names, got {spec!r}")
    dup = [n for n in dict.fromkeys(names) if names.count(n) > 1]
    if dup:
        raise SelectionError(f"{what}: {', '.join(repr(d) for d in dup)} given more than once in {spec!r}; name "
                             f"each column once")
    return names


def _columns_csv(path: Path) -> dict[str, np.ndarray]:
    import csv
    try:
        # utf-8-sig: a byte-order mark (spreadsheet exports) is not part of the first column's name
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not a UTF-8 text file (undecodable byte {exc.object[exc.start]:#04x} at offset "
                        f"{exc.start}); save the CSV as UTF-8") from None
    except csv.Error as exc:
        raise DataError(f"{path}: not a readable CSV file ({exc})") from None
    if not rows:
        raise DataError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    unnamed = [str(j + 1) for j, h in enumerate(header) if not h]
    if unnamed:
        raise DataError(f"{path}: the header row has no name for column(s) {', '.join(unnamed)} (of {len(header)}); "
                        f"the first row must name every column")
    if len(set(header)) != len(header):
        raise DataError(f"{path}: the header has repeated column names: {header}")
    body = [(i, r) for i, r in enumerate(rows[1:], start=2) if any(c.strip() for c in r)]
    if not body:
        raise DataError(f"{path}: no data rows after the header")
    cols: dict[str, list] = {h: [] for h in header}
    for i, r in body:
        if len(r) != len(header):
            raise DataError(f"{path}: line {i} has {len(r)} fields but the header has {len(header)}")
        for h, v in zip(header, r):
            cols[h].append(v.strip())
    out = {}
    for h, vals in cols.items():
        try:
            out[h] = np.array([float(v) if v not in ("", "nan", "NaN", "NA") else np.nan for v in vals])
        except ValueError:
            out[h] = np.array(vals, dtype=object)                       # non-numeric: refused if selected
    return out


def _columns_npz(path: Path) -> dict[str, np.ndarray]:
    import zipfile
    import zlib
    try:
        z = np.load(path, allow_pickle=False)
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error) as exc:
        raise DataError(f"{path}: not a readable .npz archive ({type(exc).__name__}: {exc}); the file is corrupt, "
                        f"truncated or of another format") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise DataError(f"{path}: holds a single array (.npy format), not a .npz archive of named arrays; save it "
                        f"with np.savez(path, name=array)")
    out = {}
    with z:
        for k in z.files:
            try:
                out[k] = z[k]
            except (zipfile.BadZipFile, EOFError, ValueError, OSError, zlib.error, KeyError,
                    NotImplementedError) as exc:
                raise DataError(f"{path}: array {k!r} cannot be read ({type(exc).__name__}: {exc}); the file is "
                                f"corrupt or truncated, or the array holds Python objects (not loaded: pickled "
                                f"data can run code)") from None
    return out


def _columns_h5(path: Path) -> dict[str, np.ndarray]:
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DataError("reading HDF5 files needs h5py: pip install 'symlie[io]'") from exc
    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            f.visit(lambda name: out.__setitem__(name, f[name][()]) if isinstance(f[name], h5py.Dataset) else None)
    except (OSError, KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise DataError(f"{path}: not a readable HDF5 file ({type(exc).__name__}: {exc}); the file is corrupt, "
                        f"truncated or of another format") from None
    return out


def _select(cols: dict[str, np.ndarray], names: list[str], path: Path, what: str) -> tuple[np.ndarray, list[str]]:
    missing = [n for n in names if n not in cols]
    if missing:
        raise SelectionError(f"{what}: {', '.join(repr(m) for m in missing)} not found in {path.name}; available: "
                             f"{', '.join(cols)}")
    parts, labels = [], []
    for n in names:
        a = np.asarray(cols[n])
        if a.dtype == object or a.dtype.kind not in "biuf":
            kind = "complex" if a.dtype.kind == "c" else "not numeric"
            raise DataError(f"{what}: column {n!r} of {path.name} is {kind} (dtype {a.dtype}); expected real numbers")
        if a.ndim == 0:
            raise DataError(f"{what}: {n!r} in {path.name} is a single number, not a column of samples")
        a = np.asarray(a, dtype=float)
        a = a[:, None] if a.ndim == 1 else a.reshape(a.shape[0], -1)
        parts.append(a)
        labels += [n] if a.shape[1] == 1 else [f"{n}[{j}]" for j in range(a.shape[1])]
    lengths = {p.shape[0] for p in parts}
    if len(lengths) != 1:
        raise DataError(f"{what}: the selected columns / arrays of {path.name} have different lengths "
                        f"{sorted(lengths)}")
    return np.concatenate(parts, 1), labels


def load_table(path, inputs: str | None = None, outputs: str | None = None, *, drop_nan: bool = False) -> Table:
    """Load the ``inputs`` (and ``outputs``) columns of a CSV, NPZ or HDF5 file.

    ``inputs`` / ``outputs`` are comma-separated column names (CSV header) or array / dataset names (NPZ,
    HDF5; a 2-D array contributes all its columns); each column may be named once, and not as both an input
    and an output. Without ``inputs`` every column not listed in ``outputs`` is an input. ``outputs=None``
    means no outputs (a point cloud).

    Raises :class:`SelectionError` for a missing file, an unsupported file type or an unknown / repeated
    column, and :class:`DataError` for a file that cannot be read or data that cannot be used.
    """
    path = Path(path)
    if not path.is_file():
        raise SelectionError(f"FILE: {str(path)!r} " + ("is a folder, not a data file" if path.is_dir()
                                                         else "does not exist"))
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".npz", ".h5", ".hdf5"):
        raise SelectionError(f"FILE: unsupported file type {suffix!r}; expected .csv, .npz, .h5 or .hdf5")
    out_names = _split_names(outputs, "--outputs") or []
    in_given = _split_names(inputs, "--inputs")
    both = [n for n in (in_given or []) if n in out_names]
    if both:
        raise SelectionError(f"--inputs, --outputs: {', '.join(repr(b) for b in both)} given as both an input and "
                             f"an output column")
    if not os.access(path, os.R_OK):
        raise DataError(f"{path}: permission denied (the file is not readable)")
    if suffix == ".csv":
        cols = _columns_csv(path)
    elif suffix == ".npz":
        cols = _columns_npz(path)
    else:
        cols = _columns_h5(path)
    if not cols:
        raise DataError(f"{path}: holds no arrays / datasets")
    in_names = in_given or [c for c in cols if c not in out_names]
    if not in_names:
        raise SelectionError(f"--inputs: no input columns left in {path.name}; available: {', '.join(cols)}")
    X, xl = _select(cols, in_names, path, "--inputs")
    Y, yl = _select(cols, out_names, path, "--outputs") if out_names else (None, [])
    if Y is not None and Y.shape[0] != X.shape[0]:
        raise DataError(f"--inputs, --outputs: {X.shape[0]} input rows but {Y.shape[0]} output rows in {path.name}")
    bad = ~np.isfinite(X).all(1)
    if Y is not None:
        bad |= ~np.isfinite(Y).all(1)
    n_bad = int(bad.sum())
    if n_bad and not drop_nan:
        raise DataError(f"{path.name}: {n_bad} of {X.shape[0]} rows contain NaN or Inf; pass --drop-nan to drop them")
    if n_bad:
        X = X[~bad]
        Y = Y[~bad] if Y is not None else None
    if X.shape[0] == 0:
        raise DataError(f"{path.name}: no rows left")
    return Table(torch.from_numpy(np.ascontiguousarray(X)), None if Y is None else torch.from_numpy(
        np.ascontiguousarray(Y)), xl, yl, n_bad)


# ---------------------------------------------------------------------------------------------- outputs
def is_report_dir(path) -> bool:
    """Whether ``path`` is a folder symlie may replace: empty, or a previous report (only ``symmetry.json``,
    ``report.md`` and ``.png`` files, with ``symmetry.json`` -- ``symlie discover`` -- or a ``report.md``
    starting ``# symlie demo report`` -- ``symlie demo``). Anything else in it (another file, a subfolder)
    means it is not, so no user file is ever deleted."""
    p = Path(path)
    if not p.is_dir() or p.is_symlink():
        return False
    entries = list(p.iterdir())
    if not entries:
        return True
    if not all(e.is_file() and not e.is_symlink() and (e.name in ("symmetry.json", "report.md")
                                                       or e.suffix.lower() == ".png") for e in entries):
        return False
    if (p / "symmetry.json").is_file():
        return True
    try:
        with open(p / "report.md", encoding="utf-8") as fh:
            return fh.readline().startswith("# symlie demo report")
    except (OSError, UnicodeDecodeError):
        return False


def check_out_dir(path, name: str = "out_dir") -> Path:
    """The (resolved) report folder an output will replace. Raises :class:`SymlieError` naming ``name`` when
    its parent folder does not exist or is not writable, when the path is a file, or when it is an existing
    folder that is not a previous symlie report (which would be deleted)."""
    p = Path(os.fspath(path)).expanduser().resolve()
    cwd = Path.cwd().resolve()
    if p == cwd or p in cwd.parents:
        raise SymlieError(f"{name} {str(path)!r}: is the current folder (or holds it); give a new folder name")
    if p.exists() and not p.is_dir():
        raise SymlieError(f"{name} {str(path)!r}: is an existing file, not a folder; give a folder name")
    if p.is_dir() and not is_report_dir(p):
        raise SymlieError(f"{name} {str(path)!r}: is an existing folder that is not a symlie report (a report "
                          f"holds only symmetry.json, report.md and PNG plots); it is not replaced: give a new "
                          f"folder name or remove it")
    check_parent(p, name, path)
    return p


def _swap_in(tmp: Path, target: Path, name: str) -> None:
    """Rename the finished folder ``tmp`` to ``target``; a previous ``target`` is moved aside first and deleted
    after. A concurrent writer that puts its folder in place in between is replaced in turn (last one wins;
    folders are never mixed)."""
    for _ in range(10):
        old = None
        if target.exists() or target.is_symlink():
            old = temporary_name(target, "old")
            try:
                os.rename(target, old)
            except FileNotFoundError:                    # another writer moved it away just now
                old = None
        try:
            os.rename(tmp, target)
        except OSError:
            if target.exists():                          # another writer's folder arrived first: move it aside
                if old is not None:
                    shutil.rmtree(old, ignore_errors=True)
                continue
            if old is not None:                          # put the previous report back
                with contextlib.suppress(OSError):
                    os.rename(old, target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return
    raise SymlieError(f"{name} {str(target)!r}: could not be replaced (other processes keep writing it)")


@contextlib.contextmanager
def staged_dir(path, name: str = "out_dir") -> Iterator[Path]:
    """Context manager for writing a report folder atomically: yields an empty temporary folder next to
    ``path`` (checked with :func:`check_out_dir`); on success the temporary folder replaces ``path`` entirely
    (no stale files of a previous report remain), on an error it is deleted and ``path`` is left as it was."""
    target = check_out_dir(path, name)
    tmp = temporary_name(target)
    try:
        os.mkdir(tmp)
    except OSError as exc:
        raise SymlieError(f"{name} {str(path)!r}: cannot create a folder next to it ({exc.strerror or exc})") from None
    try:
        yield tmp
        try:
            _swap_in(tmp, target, name)
        except OSError as exc:
            raise SymlieError(f"{name} {str(path)!r}: cannot put the report in place ({exc.strerror or exc})") \
                from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
