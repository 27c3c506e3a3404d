"""symlie.utils.progress: bounded output on logs, silence when disabled, a bar on terminals."""
import io
import sys

import pytest

from symlie.utils.progress import Progress, progress


class _TTY(io.StringIO):
    def isatty(self):
        return True


def test_non_tty_stream_writes_at_most_ten_lines_for_1000_steps():
    buf = io.StringIO()
    with progress(total=1000, desc="training", stream=buf) as bar:
        assert bar.mode == "lines"
        for i in range(1000):
            bar.set_postfix(f"loss {1.0 / (i + 1):.2e}")
            bar.update()
    out = buf.getvalue()
    lines = out.splitlines()
    assert 1 <= len(lines) <= 10 and "\r" not in out
    assert lines[-1].lstrip().startswith("training: 100% 1000/1000") and "loss 1.00e-03" in lines[-1]


def test_non_tty_iterable_with_len_and_without():
    buf = io.StringIO()
    assert list(progress(range(1000), desc="fit", stream=buf)) == list(range(1000))
    assert 1 <= len(buf.getvalue().splitlines()) <= 10
    buf = io.StringIO()
    assert sum(progress((i for i in range(1000)), desc="stream", stream=buf, unit="batch")) == 499500
    lines = buf.getvalue().splitlines()
    assert len(lines) == 2 and "stream" in lines[0] and "done, 1000 batch" in lines[1]


def test_stopped_early_says_so():
    buf = io.StringIO()
    with progress(total=1000, stream=buf) as bar:
        bar.update(250)
    lines = buf.getvalue().splitlines()
    assert len(lines) <= 3 and lines[-1].endswith("(stopped)") and "250/1000" in lines[-1]


def test_disabled_writes_nothing(monkeypatch):
    buf = io.StringIO()
    assert list(progress(range(1000), stream=buf, enabled=False)) == list(range(1000))
    with progress(total=10, stream=_TTY(), enabled=False) as bar:
        bar.update(10)
        assert bar.mode == "off"
    assert buf.getvalue() == ""
    monkeypatch.setenv("SYMLIE_PROGRESS", "0")
    with progress(total=1000, stream=buf) as bar:
        bar.update(1000)
    assert bar.mode == "off" and buf.getvalue() == ""
    with progress(total=1000, stream=buf, enabled=True) as bar:     # explicit beats the environment
        bar.update(1000)
    assert buf.getvalue()


def test_terminal_without_tqdm_draws_a_bar_in_place(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)                  # import tqdm -> ImportError
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    tty = _TTY()
    with progress(total=1000, desc="training", stream=tty) as bar:
        assert bar.mode == "bar"
        for _ in range(1000):
            bar.update()
    out = tty.getvalue()
    assert out.count("\n") == 1 and out.endswith("\n")
    assert out.count("\r") <= 20                                  # redraws are throttled
    assert "[########################] 1000/1000" in out


def test_terminal_with_tqdm():
    pytest.importorskip("tqdm")
    tty = _TTY()
    with progress(total=10, desc="t", stream=tty) as bar:
        assert bar.mode == "tqdm"
        bar.update(10)
    assert "10/10" in tty.getvalue()


def test_nothing_to_iterate():
    with pytest.raises(TypeError, match="nothing to iterate"):
        iter(Progress(total=3, stream=io.StringIO(), enabled=False)).__next__()
