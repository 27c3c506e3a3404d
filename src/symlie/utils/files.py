"""Writing files safely: output paths checked before any work, atomic writes (a temporary file renamed over
the target, so a reader sees the old file or the new one, never a part)."""
from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import SymlieError

__all__ = ["check_parent", "check_out_file", "temporary_name", "atomic_file", "write_npz"]


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


def temporary_name(target: Path, kind: str = "tmp") -> Path:
    """A hidden sibling of ``target`` unique to this process and call: ``.NAME.tmp-PID-XXXXXXXX``."""
    return target.with_name(f".{target.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextlib.contextmanager
def atomic_file(target, name: str = "path") -> Iterator[Path]:
    """Context manager for writing one file atomically: yields a temporary path next to ``target`` to write to;
    on success it is renamed over ``target`` (a reader sees the old file or the new one, never a part), on any
    error it is deleted. An ``OSError`` (missing or read-only folder, full disk) becomes a :class:`SymlieError`
    naming ``name`` and the file."""
    target = Path(target)
    tmp = temporary_name(target)
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        raise SymlieError(f"{name} {str(target)!r}: cannot write the file ({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_npz(path, arrays: dict, *, name: str = "path") -> Path:
    """Write ``arrays`` to ``path`` (``.npz`` appended if missing) atomically (:func:`atomic_file`). Returns the
    path written."""
    p = check_out_file(path, name)
    with atomic_file(p, name) as tmp, open(tmp, "xb") as fh:
        np.savez(fh, **arrays)
        fh.flush()
        os.fsync(fh.fileno())
    return p
