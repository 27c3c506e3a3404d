"""Progress reporting in one place: :func:`progress`.

On a terminal it draws a bar in place: with ``tqdm`` when that is installed (optional, imported lazily), else a
small built-in one. On anything else (a log file, CI, a ``StringIO``) it writes whole lines and few of them: one
per tenth of ``total`` (at most ``lines`` lines, plus one if the work stops early), or, with no ``total``, one
line at the start and one at the end. ``enabled=False`` (or ``SYMLIE_PROGRESS=0`` in the environment when
``enabled`` is left at None) writes nothing.

    for batch in progress(batches, desc="discover"):          # wraps an iterable
        ...
    with progress(total=steps, desc="training") as bar:      # or counts by hand
        for step in range(steps):
            ...
            bar.set_postfix(f"loss {loss:.2e}")
            bar.update()
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Iterable, Iterator

__all__ = ["progress", "Progress"]

_OFF = ("0", "false", "off", "no", "")


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):                     # no isatty, or a closed stream
        return False


def _fmt_time(s: float) -> str:
    return f"{s:.1f}s" if s < 60 else f"{int(s // 60)}m{int(s % 60):02d}s"


class Progress:
    """What :func:`progress` returns: an iterator (when given an iterable) and a context manager, with
    ``update(n=1)``, ``set_postfix(text=None, **values)`` and ``close()``. ``mode`` is ``"tqdm"``, ``"bar"``
    (built-in terminal bar), ``"lines"`` (non-terminal streams) or ``"off"``; ``n`` counts the steps done."""

    _BAR_WIDTH = 24
    _BAR_INTERVAL = 0.1                                      # seconds between redraws of the built-in bar

    def __init__(self, iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
                 enabled: bool | None = None, stream=None, unit: str = "it", lines: int = 10):
        if enabled is None:
            enabled = os.environ.get("SYMLIE_PROGRESS", "1").strip().lower() not in _OFF
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)                            # type: ignore[arg-type]
        self.iterable = iterable
        self.total = None if total is None else max(int(total), 0)
        self.desc, self.unit, self.lines = desc, unit, max(int(lines), 1)
        self.stream = sys.stderr if stream is None else stream
        self.n = 0
        self.postfix = ""
        self.closed = False
        self._t0 = time.perf_counter()
        self._next_line = 1                                  # next tenth (of `lines`) to report
        self._last_draw = -1.0
        self._tqdm: Any = None
        if not enabled:
            self.mode = "off"
        elif not _isatty(self.stream):
            self.mode = "lines"
        else:
            try:
                from tqdm.auto import tqdm                   # optional dependency
            except ImportError:
                self.mode = "bar"
            else:
                self.mode = "tqdm"
                self._tqdm = tqdm(iterable, total=self.total, desc=desc or None, file=self.stream, unit=unit,
                                  leave=True, dynamic_ncols=True)
        if self.mode == "lines" and self.total is None:
            self._write_line(f"  {self.desc or 'working'} ...")

    # ---------------------------------------------------------------------------------- iteration
    def __iter__(self) -> Iterator:
        if self.iterable is None:
            raise TypeError("progress(): nothing to iterate (pass an iterable, or use update())")
        try:
            if self.mode == "tqdm":
                for item in self._tqdm:
                    self.n += 1
                    yield item
            else:
                for item in self.iterable:
                    yield item
                    self.update()
        finally:
            self.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---------------------------------------------------------------------------------- updates
    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps done."""
        if self.closed:
            return
        self.n += n
        if self.mode == "tqdm":
            self._tqdm.update(n)
        elif self.mode == "bar":
            now = time.perf_counter()
            if now - self._last_draw >= self._BAR_INTERVAL or (self.total is not None and self.n >= self.total):
                self._draw_bar()
                self._last_draw = now
        elif self.mode == "lines" and self.total:
            reached = min(self.n * self.lines // self.total, self.lines)
            if reached >= self._next_line:
                self._next_line = reached + 1
                self._write_line(self._status())

    def set_postfix(self, text: str | None = None, **values) -> None:
        """Text shown after the count (e.g. ``"loss 1.2e-03"``); keyword values are joined as ``k=v``."""
        parts = ([text] if text else []) + [f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                                            for k, v in values.items()]
        self.postfix = ", ".join(parts)
        if self.mode == "tqdm":
            self._tqdm.set_postfix_str(self.postfix, refresh=False)

    def close(self) -> None:
        """Finish: the final state of the bar, or the end line (lines mode)."""
        if self.closed:
            return
        self.closed = True
        if self.mode == "tqdm":
            self._tqdm.close()
        elif self.mode == "bar":
            self._draw_bar()
            self.stream.write("\n")
            self.stream.flush()
        elif self.mode == "lines":
            if self.total is None:
                self._write_line(f"  {self.desc or 'working'}: done, {self.n} {self.unit} in "
                                 f"{_fmt_time(time.perf_counter() - self._t0)}"
                                 + (f" ({self.postfix})" if self.postfix else ""))
            elif self.n < self.total or self.total == 0:
                self._write_line(self._status() + " (stopped)" * (self.n < self.total))

    # ---------------------------------------------------------------------------------- output
    def _status(self) -> str:
        el = _fmt_time(time.perf_counter() - self._t0)
        if self.total:
            head = f"  {self.desc + ': ' if self.desc else ''}{100 * self.n // self.total:3d}% {self.n}/{self.total}"
        else:
            head = f"  {self.desc + ': ' if self.desc else ''}{self.n} {self.unit}"
        return f"{head} [{el}]" + (f" {self.postfix}" if self.postfix else "")

    def _draw_bar(self) -> None:
        w = self._BAR_WIDTH
        if self.total:
            done = min(w, w * self.n // self.total)
            body = f"[{'#' * done}{'.' * (w - done)}] {self.n}/{self.total}"
        else:
            body = f"{self.n} {self.unit}"
        label = f"{self.desc} " if self.desc else ""
        extra = f" {self.postfix}" if self.postfix else ""
        self.stream.write(f"\r  {label}{body}{extra}\033[K")
        self.stream.flush()

    def _write_line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "",
             enabled: bool | None = None, stream=None, unit: str = "it", lines: int = 10) -> Progress:
    """Report progress over ``iterable`` (or over ``total`` steps counted with ``update()``).

    Args:
        iterable: what to iterate (optional); ``total`` defaults to its ``len()`` when it has one.
        total: number of steps (None: unknown; the lines mode then writes only a start and an end line).
        desc: label of the bar / lines.
        enabled: False writes nothing; None (default) is True unless the environment sets
            ``SYMLIE_PROGRESS=0`` (or ``false`` / ``off`` / ``no``).
        stream: where to write (default ``sys.stderr``). A terminal gets a bar redrawn in place (``tqdm``
            when installed, else a built-in one); anything else gets at most ``lines`` whole lines (one per
            tenth of ``total`` by default, plus one if closed early).
        unit: name of a step in the output.
        lines: most progress lines on a non-terminal stream.

    Returns:
        a :class:`Progress`: iterate it (when given an iterable) or use it as a context manager with
        ``update(n=1)`` and ``set_postfix(text, **values)``; ``close()`` (automatic at the end of the loop or
        the ``with`` block) writes the final state.
    """
    return Progress(iterable, total=total, desc=desc, enabled=enabled, stream=stream, unit=unit, lines=lines)
