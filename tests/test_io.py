"""symlie.io: unreadable files become DataError naming the file; selections are checked; outputs are written
atomically (a temporary file / folder renamed into place)."""
import os

import numpy as np
import pytest

from symlie.io import (DataError, SelectionError, check_out_dir, check_out_file, is_report_dir, load_table,
                       staged_dir, write_npz)
from symlie.utils.errors import SymlieError


def _good_npz(path):
    np.savez(path, x=np.arange(3000.0).reshape(1000, 3), y=np.ones(1000))
    return path.read_bytes()


@pytest.mark.parametrize("corrupt", ["truncated", "bad_member", "garbage", "npy", "object"])
def test_corrupt_npz_is_a_data_error_naming_the_file(tmp_path, corrupt):
    p = tmp_path / "d.npz"
    raw = _good_npz(p)
    if corrupt == "truncated":
        p.write_bytes(raw[: len(raw) // 2])
    elif corrupt == "bad_member":                         # the zip directory is intact, the array bytes are not
        b = bytearray(raw)
        b[200:260] = b"\0" * 60
        p.write_bytes(bytes(b))
    elif corrupt == "garbage":
        p.write_bytes(b"not an archive at all" * 10)
    elif corrupt == "npy":
        with open(p, "wb") as fh:
            np.save(fh, np.ones((4, 3)))
    else:
        np.savez(p, x=np.array([{"a": 1}] * 4, dtype=object))
    with pytest.raises(DataError, match="d.npz") as e:
        load_table(p, "x")
    assert not isinstance(e.value, SelectionError)


@pytest.mark.parametrize("corrupt", ["truncated", "garbage"])
def test_corrupt_h5_is_a_data_error_naming_the_file(tmp_path, corrupt):
    h5py = pytest.importorskip("h5py")
    p = tmp_path / "d.h5"
    with h5py.File(p, "w") as f:
        f.create_dataset("x", data=np.arange(30000.0).reshape(10000, 3))
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2] if corrupt == "truncated" else b"\x89HDF\r\n\x1a\n" + b"\0" * 64)
    with pytest.raises(DataError, match="d.h5: not a readable HDF5 file"):
        load_table(p, "x")


@pytest.mark.parametrize("content, msg", [
    ("x1,x2\n1,2\n".encode("utf-16"), "not a UTF-8 text file"),
    ("a,b\n1,\xe9\n".encode("latin-1"), "not a UTF-8 text file"),
    (b"", "the file is empty"),
    (b"a,b\n", "no data rows after the header"),
    (b"a,b\n1,2\n3\n", "line 3 has 1 fields but the header has 2"),
    (b"a,,c\n1,2,3\n", "no name for column(s) 2"),
    (b"a\n" + b"1" * 200_000 + b"\n", "not a readable CSV file"),      # a field over the csv module's limit
])
def test_unusable_csv_is_a_data_error_naming_the_file(tmp_path, content, msg):
    p = tmp_path / "t.csv"
    p.write_bytes(content)
    with pytest.raises(DataError, match="t.csv") as e:
        load_table(p)
    assert msg in str(e.value)


def test_csv_with_a_byte_order_mark_reads_its_first_column(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_text("x1,x2,y\n1,2,3\n4,5,6\n", encoding="utf-8-sig")
    assert p.read_bytes()[:3] == b"\xef\xbb\xbf"
    t = load_table(p, "x1,x2", "y")
    assert t.input_names == ["x1", "x2"] and t.X.tolist() == [[1.0, 2.0], [4.0, 5.0]] and t.Y.tolist() == [[3.0], [6.0]]


@pytest.mark.parametrize("inputs, outputs, msg", [
    ("x1,x1,x1", "y", "--inputs: 'x1' given more than once"),
    ("x1,x2", "y,y", "--outputs: 'y' given more than once"),
    ("x1,y", "y", "'y' given as both an input and an output"),
    ("x1,zz", "y", "'zz' not found in s.csv; available: x1, x2, y"),
])
def test_selection_errors_name_the_columns(tmp_path, inputs, outputs, msg):
    p = tmp_path / "s.csv"
    p.write_text("x1,x2,y\n1,2,3\n4,5,6\n")
    with pytest.raises(SelectionError, match=msg):
        load_table(p, inputs, outputs)


def test_complex_and_scalar_arrays_are_refused_not_coerced(tmp_path):
    np.savez(tmp_path / "c.npz", z=np.ones(4) + 1j, s=np.float64(3.0), x=np.ones(4))
    with pytest.raises(DataError, match="'z' of c.npz is complex"):
        load_table(tmp_path / "c.npz", "z")
    with pytest.raises(DataError, match="'s' in c.npz is a single number"):
        load_table(tmp_path / "c.npz", "s")


def test_write_npz_appends_the_suffix_replaces_atomically_and_checks_the_folder(tmp_path):
    p = write_npz(tmp_path / "basis", {"a": np.arange(3)}, name="--out")
    assert p == tmp_path / "basis.npz" and np.load(p)["a"].tolist() == [0, 1, 2]
    write_npz(p, {"a": np.arange(2)})
    assert np.load(p)["a"].tolist() == [0, 1] and os.listdir(tmp_path) == ["basis.npz"]   # no temporary left
    with pytest.raises(SymlieError, match="--out .*the folder .*nope' does not exist"):
        write_npz(tmp_path / "nope" / "b.npz", {"a": np.arange(2)}, name="--out")
    (tmp_path / "d.npz").mkdir()
    for target in (tmp_path / "d.npz", tmp_path / "d"):
        with pytest.raises(SymlieError, match="is an existing folder"):
            check_out_file(target, "--out")


def test_staged_dir_replaces_a_previous_report_entirely_and_never_mixes_two_writers(tmp_path):
    t = tmp_path / "rep"
    with staged_dir(t) as a:
        (a / "symmetry.json").write_text("A")
        (a / "report.md").write_text("A")
        with staged_dir(t) as b:                          # a second writer finishing first
            (b / "symmetry.json").write_text("B")
            (b / "spectrum.png").write_bytes(b"B")
        assert sorted(os.listdir(t)) == ["spectrum.png", "symmetry.json"]
    assert sorted(os.listdir(t)) == ["report.md", "symmetry.json"] and (t / "symmetry.json").read_text() == "A"
    with pytest.raises(RuntimeError):                     # a failed write leaves the previous report as it was
        with staged_dir(t) as c:
            (c / "symmetry.json").write_text("C")
            raise RuntimeError("boom")
    assert (t / "symmetry.json").read_text() == "A" and os.listdir(tmp_path) == ["rep"]


def test_check_out_dir_refuses_files_foreign_folders_and_missing_parents(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(SymlieError, match="'.*f': is an existing file"):
        check_out_dir(tmp_path / "f", "--out")
    user = tmp_path / "mine"
    user.mkdir()
    (user / "notes.txt").write_text("keep")
    (user / "symmetry.json").write_text("{}")
    assert not is_report_dir(user)                        # a report folder holds nothing else
    with pytest.raises(SymlieError, match="not a symlie report"):
        check_out_dir(user, "--out")
    assert (user / "notes.txt").read_text() == "keep"
    with pytest.raises(SymlieError, match="does not exist; create it first"):
        check_out_dir(tmp_path / "a" / "b", "--out")
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / "report.md").write_text("# symlie demo report\n")
    (demo / "x.png").write_bytes(b"")
    assert is_report_dir(demo) and check_out_dir(demo) == demo.resolve()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_folder_is_refused(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(SymlieError, match="is not writable"):
            check_out_dir(ro / "rep", "--out")
        with pytest.raises(SymlieError, match="is not writable"):
            write_npz(ro / "b.npz", {"a": np.arange(2)}, name="--out")
    finally:
        ro.chmod(0o755)


def test_unwritable_folder_is_refused_even_when_running_as_root(tmp_path, monkeypatch):
    import symlie.io as sio
    monkeypatch.setattr(sio.os, "access", lambda path, mode: False)
    with pytest.raises(SymlieError, match="--out .*is not writable"):
        check_out_dir(tmp_path / "rep", "--out")
    with pytest.raises(SymlieError, match="--out .*is not writable"):
        check_out_file(tmp_path / "b.npz", "--out")
