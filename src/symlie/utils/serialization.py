"""JSON helpers: exact float round trips, non-finite values as strings, tensors as nested lists."""
from __future__ import annotations

import math

import torch

__all__ = ["fmt_value", "json_float", "from_json", "jsonable", "check_saved"]


def fmt_value(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def json_float(v):
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return v
    v = float(v)
    return v if math.isfinite(v) else ("inf" if v > 0 else ("-inf" if v < 0 else "nan"))


def from_json(v):
    """Inverse of json_float / jsonable: "nan", "inf", "-inf" back to floats, recursively in dicts/lists."""
    if isinstance(v, str):
        return float(v) if v in ("nan", "inf", "-inf") else v
    if isinstance(v, dict):
        return {k: from_json(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_json(x) for x in v]
    return v


def jsonable(x):
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if isinstance(x, torch.Tensor):
        return x.tolist()
    if isinstance(x, float):
        return json_float(x)
    return x



def check_saved(d, path, *, kind: str, version: int, required: tuple[str, ...] = ()) -> int:
    """Validate a loaded save file's header and keys; return its format version.

    A symlie save file is self-describing: ``d["format"] == kind`` (e.g. ``"symlie.SymmetryResult"``) and
    ``d["version"]`` an int <= ``version`` (files from newer releases are refused with the versions named).
    Files written before formats were versioned have neither key and read as version 0. Every key in
    ``required`` must be present. Problems raise :class:`symlie.DataError` naming ``path``.
    """
    from .errors import DataError
    where = f"{str(path)!r}" if path is not None else "the saved data"
    if not isinstance(d, dict):
        raise DataError(f"{where}: expected a saved {kind} (a mapping of named fields), got {type(d).__name__}")
    fmt = d.get("format")
    if fmt is not None and fmt != kind:
        raise DataError(f"{where}: is a {fmt!r} file, expected {kind!r}")
    v = d.get("version", 0)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise DataError(f"{where}: the format version must be an int >= 0, got {v!r}")
    if v > version:
        raise DataError(f"{where}: written by a newer symlie (format version {v}; this release reads up to "
                        f"{version}); upgrade symlie to read it")
    missing = [k for k in required if k not in d]
    if missing:
        raise DataError(f"{where}: not a complete {kind} file: missing {', '.join(repr(k) for k in missing)}")
    return v


def load_torch_file(path, *, kind: str, version: int, required: tuple[str, ...] = (), what: str = "file") -> dict:
    """Read a versioned ``.pt`` save file (``torch.load`` with ``weights_only=True``, on the CPU) and validate its
    header (:func:`check_saved`); a missing, unreadable or foreign file is a :class:`symlie.DataError` naming
    ``path`` (``what`` says what it should have been, e.g. "symlie solver file")."""
    from pathlib import Path

    import torch

    from .errors import DataError
    p = Path(path)
    if not p.is_file():
        raise DataError(f"path {str(p)!r}: no such file")
    try:
        d = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:                                 # noqa: BLE001 - any unpickling failure
        why = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise DataError(f"path {str(p)!r}: not a readable {what} ({type(exc).__name__}"
                        f"{': ' + why if why else ''})") from None
    check_saved(d, p, kind=kind, version=version, required=required)
    return d
