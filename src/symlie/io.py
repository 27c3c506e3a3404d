"""Reading user data for the command line: CSV (with a header row), NPZ and HDF5 (optional ``h5py``).

:func:`load_table` returns the selected input and output columns as float64 tensors. Every problem a user
can fix is reported with what to do: a missing file, an unknown column or array (the available ones are
listed), rows with NaN/Inf (counted; refused unless ``drop_nan``), non-numeric data.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = ["Table", "load_table", "DataError"]


class DataError(ValueError):
    """A data file that cannot be used as asked (the message says why and what to do)."""


@dataclass
class Table:
    """Selected data: X (N, n_in), Y (N, n_out) or None, their column names, and the rows dropped."""

    X: torch.Tensor
    Y: torch.Tensor | None
    input_names: list[str]
    output_names: list[str]
    n_dropped: int = 0


def _split_names(spec: str | None) -> list[str] | None:
    if spec is None:
        return None
    names = [s.strip() for s in spec.split(",") if s.strip()]
    if not names:
        raise DataError(f"expected a comma-separated list of column names, got {spec!r}")
    return names


def _columns_csv(path: Path) -> dict[str, np.ndarray]:
    import csv
    with path.open(newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise DataError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    if len(set(header)) != len(header):
        raise DataError(f"{path}: the header has repeated column names: {header}")
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    if not body:
        raise DataError(f"{path}: no data rows after the header")
    cols: dict[str, list] = {h: [] for h in header}
    for i, r in enumerate(body, start=2):
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
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _columns_h5(path: Path) -> dict[str, np.ndarray]:
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise DataError("reading HDF5 files needs h5py: pip install 'symlie[io]'") from exc
    out: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as f:
        f.visit(lambda name: out.__setitem__(name, f[name][()]) if isinstance(f[name], h5py.Dataset) else None)
    return out


def _select(cols: dict[str, np.ndarray], names: list[str], path: Path, what: str) -> tuple[np.ndarray, list[str]]:
    missing = [n for n in names if n not in cols]
    if missing:
        raise DataError(f"{what}: {', '.join(repr(m) for m in missing)} not found in {path.name}; available: "
                        f"{', '.join(cols)}")
    parts, labels = [], []
    for n in names:
        a = cols[n]
        if a.dtype == object or a.dtype.kind in "USO":
            raise DataError(f"{what}: column {n!r} of {path.name} is not numeric")
        a = np.asarray(a, dtype=float)
        a = a[:, None] if a.ndim == 1 else a.reshape(a.shape[0], -1)
        parts.append(a)
        labels += [n] if a.shape[1] == 1 else [f"{n}[{j}]" for j in range(a.shape[1])]
    lengths = {p.shape[0] for p in parts}
    if len(lengths) != 1:
        raise DataError(f"{what}: the selected columns / arrays have different lengths {sorted(lengths)}")
    return np.concatenate(parts, 1), labels


def load_table(path, inputs: str | None = None, outputs: str | None = None, *, drop_nan: bool = False) -> Table:
    """Load the ``inputs`` (and ``outputs``) columns of a CSV, NPZ or HDF5 file.

    ``inputs`` / ``outputs`` are comma-separated column names (CSV header) or array / dataset names (NPZ,
    HDF5; a 2-D array contributes all its columns). Without ``inputs`` every column not listed in
    ``outputs`` is an input. ``outputs=None`` means no outputs (a point cloud).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"FILE: {str(path)!r} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        cols = _columns_csv(path)
    elif suffix == ".npz":
        cols = _columns_npz(path)
    elif suffix in (".h5", ".hdf5"):
        cols = _columns_h5(path)
    else:
        raise DataError(f"FILE: unsupported file type {suffix!r}; expected .csv, .npz, .h5 or .hdf5")
    out_names = _split_names(outputs) or []
    in_names = _split_names(inputs) or [c for c in cols if c not in out_names]
    if not in_names:
        raise DataError(f"--inputs: no input columns left in {path.name}; available: {', '.join(cols)}")
    X, xl = _select(cols, in_names, path, "--inputs")
    Y, yl = _select(cols, out_names, path, "--outputs") if out_names else (None, [])
    if Y is not None and Y.shape[0] != X.shape[0]:
        raise DataError(f"--inputs, --outputs: {X.shape[0]} input rows but {Y.shape[0]} output rows")
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
