"""Writing files safely: output paths checked before any work, atomic writes (a temporary file renamed over
the target, so a reader sees the old file or the new one, never a part)."""
from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path

import numpy as np

from .errors import SymlieError

__all__ = ["check_parent", "check_out_file", "write_npz"]


def check_parent(path: Path, name: str, shown=None) -> None:
    parent = path.parent
    shown = str(path) if shown is None else os.fspath(shown)
    if not parent.exists():
        raise SymlieError(f"{name} {shown!r}: the folder {str(parent)!r} does not exist; create it first")
    if not parent.is_dir():
        raise SymlieError(f"{name} {shown!r}: {str(parent)!r} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise SymlieError(f"{name} {shown!r}: the folder {str(parent)!r} is not writable")


def check_out_file(path, name: str = "path", suffix: str = ".npz") -> Path:
    """The file an output will be written to: ``path`` with ``suffix`` appended unless it already ends with it
    (as ``np.savez`` does). Raises :class:`SymlieError` naming ``name`` when its folder does not exist or is not
    writable, or when the path is an existing folder."""
    p = Path(os.fspath(path))
    if p.is_dir():
        raise SymlieError(f"{name} {str(p)!r}: is an existing folder; give a file name")
    if not p.name.lower().endswith(suffix):
        p = p.with_name(p.name + suffix)
    if p.is_dir():
        raise SymlieError(f"{name} {str(p)!r}: is an existing folder; give a file name")
    check_parent(p, name)
    return p


def write_npz(path, arrays: dict, *, name: str = "path") -> Path:
    """Write ``arrays`` to ``path`` (``.npz`` appended if missing) atomically: into a temporary file in the same
    folder, then renamed over the target, so a reader sees the old file or the new one, never a part.
    Returns the path written."""
    p = check_out_file(path, name)
    tmp = p.with_name(f".{p.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "xb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except OSError as exc:
        raise SymlieError(f"{name} {str(p)!r}: cannot write the file ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return p
