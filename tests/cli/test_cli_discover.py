"""`symlie discover FILE`: data files, algebra names, the JSON result, and the error paths with exit codes."""
import json
import subprocess
import sys

import numpy as np
import pytest

import symlie as sl
from symlie.lie.algebra import parse_algebra
from symlie.cli import main
from symlie.io import DataError, load_table


def _csv(path, header, rows):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join("" if (isinstance(v, float) and np.isnan(v)) else f"{v:.17g}" for v in r) + "\n")
    return path


@pytest.fixture
def sphere_csv(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    return _csv(tmp_path / "d.csv", ["x1", "x2", "x3", "y"], np.c_[X, (X ** 2).sum(1)])


def test_csv_with_norm_target_gives_so3_in_subprocess(sphere_csv):
    r = subprocess.run([sys.executable, "-m", "symlie", "discover", str(sphere_csv), "--inputs", "x1,x2,x3",
                        "--outputs", "y", "--candidates", "gl(3)", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["dim"] == 3 and d["name"] == "so(3)"
    assert len(d["singular_values"]) == 9 and d["inputs"] == ["x1", "x2", "x3"] and d["outputs"] == ["y"]


def test_point_cloud_npz_and_saved_result(tmp_path, capsys):
    rng = np.random.default_rng(1)
    P = rng.normal(size=(500, 3))
    P /= np.linalg.norm(P, axis=1, keepdims=True)
    np.savez(tmp_path / "p.npz", pts=P)
    assert main(["discover", str(tmp_path / "p.npz"), "--inputs", "pts", "--candidates", "gl(3)",
                 "--out", str(tmp_path / "rep")]) == 0
    assert "so(3)" in capsys.readouterr().out
    res = sl.SymmetryResult.load(tmp_path / "rep" / "symmetry.json")
    assert res.dim == 3 and res.kind == "manifold"


@pytest.mark.parametrize("args, code, msg", [
    (["--outputs", "z", "--candidates", "gl(3)"], 2, "'z' not found in d.csv; available: x1, x2, x3, y"),
    (["--outputs", "y", "--candidates", "foo(3)"], 2, "valid names: gl(n)"),
    (["--outputs", "y", "--candidates", "so(3)+t(4)"], 2, "different dimensions"),
    (["--outputs", "y", "--candidates", "gl(2)"], 2, "acts on R^2 but there are 3 input columns"),
    (["--outputs", "y", "--candidates", "gl(3)", "--model", "nonsense"], 2, "--model 'nonsense'"),
    (["--outputs", "y", "--candidates", "gl(3)", "--model", "poly:x"], 2, "expected poly:DEGREE"),
    (["--outputs", "y", "--candidates", "gl(3)", "--model", "poly:9"], 1, "too few for a degree-9 polynomial"),
])
def test_error_paths_and_exit_codes(sphere_csv, capsys, args, code, msg):
    assert main(["discover", str(sphere_csv)] + args) == code
    assert msg in capsys.readouterr().err


def test_missing_file_and_usage_errors(tmp_path, capsys):
    assert main(["discover", str(tmp_path / "nope.csv"), "--candidates", "gl(3)"]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:                                  # argparse: --candidates is required
        main(["discover", str(tmp_path / "nope.csv")])
    assert e.value.code == 2


def test_nan_rows_are_counted_and_refused_unless_dropped(tmp_path, capsys):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 3))
    rows = np.c_[X, (X ** 2).sum(1)]
    rows[[3, 50], 1] = np.nan
    path = _csv(tmp_path / "n.csv", ["a", "b", "c", "y"], rows)
    assert main(["discover", str(path), "--outputs", "y", "--candidates", "gl(3)"]) == 1          # a data problem: exit 1
    assert "2 of 120 rows contain NaN or Inf; pass --drop-nan" in capsys.readouterr().err
    assert main(["discover", str(path), "--outputs", "y", "--candidates", "gl(3)", "--drop-nan", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["rows_dropped"] == 2 and d["n_samples"] == 118 and d["dim"] == 3


def test_load_table_formats_and_errors(tmp_path):
    np.savez(tmp_path / "a.npz", X=np.ones((5, 2)), y=np.arange(5.0))
    t = load_table(tmp_path / "a.npz", "X", "y")
    assert t.X.shape == (5, 2) and t.Y.shape == (5, 1) and t.input_names == ["X[0]", "X[1]"]
    (tmp_path / "b.txt").write_text("1,2\n")
    with pytest.raises(DataError, match="unsupported file type '.txt'"):
        load_table(tmp_path / "b.txt")
    (tmp_path / "c.csv").write_text("a,b\n1,x\n2,y\n")
    with pytest.raises(DataError, match="column 'b' of c.csv is not numeric"):
        load_table(tmp_path / "c.csv", "a,b")
    (tmp_path / "e.csv").write_text("a,b\n1,2,3\n")
    with pytest.raises(DataError, match="line 2 has 3 fields but the header has 2"):
        load_table(tmp_path / "e.csv")


def test_parse_algebra_names_and_sums():
    assert parse_algebra("so(3)") == sl.so(3)
    assert parse_algebra("so(1,3)").dim == 6 and parse_algebra("lorentz").dim == 6
    a = parse_algebra("so(3)+t(3)")
    assert a.dim == 6 and a.affine and sl.metrics.subspace_distance(a, sl.se(3)) < 1e-10
    assert sl.identify_algebra(a)["name"] == "se(3)"
    with pytest.raises(ValueError, match="only so\\(p,q\\) takes two numbers"):
        parse_algebra("gl(3,1)")
    with pytest.raises(ValueError, match="valid names"):
        parse_algebra("so3")
    with pytest.raises(sl.NotClosedError, match="does not close"):
        parse_algebra("so(3)+so(1,2)")                  # rotations and boosts of R^3 generate more than their span


def test_enforce_command_saves_the_basis(tmp_path, capsys):
    out = tmp_path / "b.npz"
    assert main(["enforce", "--group", "SO(3)", "--rep-in", "V*V", "--rep-out", "V*V", "--out", str(out)]) == 0
    z = np.load(out)
    assert z["basis"].shape == (81, 3) and int(z["dim"]) == 3
    assert main(["enforce", "--group", "Lorentz", "--rep-in", "V", "--rep-out", "T(2,1)", "--out", str(out)]) == 0
    assert int(np.load(out)["dim"]) == 3
    assert main(["enforce", "--group", "SU(3)", "--rep-in", "V", "--rep-out", "V", "--out", str(out)]) == 2
    assert "valid names: SO(n)" in capsys.readouterr().err
    assert main(["enforce", "--group", "SO(3)", "--rep-in", "V", "--rep-out", "__import__('os')", "--out",
                 str(out)]) == 2
    assert "may only combine V, Scalar, Covector" in capsys.readouterr().err


def test_promote_command_regression_and_sindy(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = 2 * rng.random((30, 3)) - 1
    path = _csv(tmp_path / "r.csv", ["x", "y", "z", "f"], np.c_[X, X[:, 0] ** 2 + X[:, 1] ** 2])
    assert main(["promote", str(path), "--outputs", "f", "--candidates", "se(3)", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kept_dim"] == 2 and d["equations"] == ["f = 1.000 x^2 + 1.000 y^2"]   # rotation about z + shift along z
    X2 = 2 * rng.random((200, 3)) - 1
    x, y, z = X2.T
    r2 = x ** 2 + y ** 2
    D = np.c_[x * (1 - r2) - y, y * (1 - r2) + x, -0.5 * z] + 0.01 * rng.normal(size=(200, 3))
    path = _csv(tmp_path / "s.csv", ["x", "y", "z", "dx", "dy", "dz"], np.c_[X2, D])
    assert main(["promote", str(path), "--inputs", "x,y,z", "--outputs", "dx,dy,dz", "--candidates", "so(3)",
                 "--degree", "3", "--sindy", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["kept_dim"] == 1 and d["kept_name"] == "so(2)"
    assert main(["promote", str(path), "--outputs", "dx", "--candidates", "so(2)"]) == 2
    assert "acts on R^2 but there are 5 input columns" in capsys.readouterr().err


def test_report_folder_has_valid_png_plots(sphere_csv, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "report"
    assert main(["discover", str(sphere_csv), "--outputs", "y", "--candidates", "gl(3)", "--out", str(out)]) == 0
    assert f"report: {out / 'report.md'}" in capsys.readouterr().out
    for name in ("spectrum.png", "generators.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    md = (out / "report.md").read_text()
    assert "![spectrum](spectrum.png)" in md and "so(3)" in md and "inputs x1, x2, x3" in md


def test_write_report_without_symmetry_has_no_generator_plot(tmp_path):
    import torch
    pytest.importorskip("matplotlib")
    from symlie.report import write_report
    X = torch_randn(100, 3)
    res = sl.discover(lambda x: x[:, 0] ** 3 + x[:, 1] * x[:, 2] + torch.sin(x[:, 2]), X, sl.gl(3))
    rep = write_report(res, tmp_path / "r")
    assert res.dim == 0 and [p.name for p in rep["plots"]] == ["spectrum.png"]
    assert (tmp_path / "r" / "spectrum.png").read_bytes()[:4] == b"\x89PNG"


def torch_randn(n, d):
    import torch
    return torch.randn(n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(3))


def test_hdf5_input_with_a_nested_dataset(tmp_path, capsys):
    h5py = pytest.importorskip("h5py")
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 3))
    with h5py.File(tmp_path / "d.h5", "w") as f:
        f.create_dataset("inputs/x", data=X)
        f.create_dataset("y", data=(X ** 2).sum(1))
    assert main(["discover", str(tmp_path / "d.h5"), "--inputs", "inputs/x", "--outputs", "y", "--candidates", "gl(3)",
                 "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["dim"] == 3 and d["name"] == "so(3)" and d["inputs"] == ["inputs/x[0]", "inputs/x[1]", "inputs/x[2]"]
    assert main(["discover", str(tmp_path / "d.h5"), "--inputs", "x", "--candidates", "gl(3)"]) == 2
    assert "'x' not found in d.h5; available: inputs/x, y" in capsys.readouterr().err
