"""The command line on bad input: saved torch models that are not usable models, --out paths, exit codes
(2 usage, 1 data, 130 interrupted) and no traceback, repeated columns, the error guard in main()."""
import importlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from symlie.cli import main
from symlie.enforce.basis import EquivariantBasis
from symlie.utils.errors import ResourceError

climain = importlib.import_module("symlie.cli.main")


def _run(argv, capsys):
    """main(argv) -> (exit code, stdout, stderr); argparse's SystemExit is turned into its code."""
    try:
        code = main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.fixture
def csv3(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    p = tmp_path / "d.csv"
    with open(p, "w") as f:
        f.write("x1,x2,x3,y\n")
        for r in np.c_[X, (X ** 2).sum(1)]:
            f.write(",".join(f"{v:.17g}" for v in r) + "\n")
    return p


def _disc(csv, *extra):
    return ["discover", str(csv), "--inputs", "x1,x2,x3", "--outputs", "y", "--candidates", "gl(3)", *extra]


# ------------------------------------------------------------------------------------------- --model FILE
def test_saved_models_that_are_not_usable_models_are_refused_with_the_reason(tmp_path, csv3, capsys):
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    cases = {
        "sd.pt": (net.state_dict(), "is a state_dict (4 parameter tensors: 0.weight, 0.bias, 2.weight, 2.bias), "
                                    "not a model; save the module itself with torch.save(model, path)"),
        "ckpt.pt": ({"epoch": 3, "model": net.state_dict()}, "(keys: epoch, model; e.g. a training checkpoint)"),
        "list.pt": ([1, 2, 3], "holds a list, not a model"),
        "in4.pt": (torch.nn.Linear(4, 1).double(), "the model takes 4 inputs but there are 3 input columns (x1, x2, x3)"),
        "out2.pt": (torch.nn.Linear(3, 2).double(), "the model returns 2 outputs per row but there is 1 output column (y)"),
    }
    for name, (obj, msg) in cases.items():
        torch.save(obj, tmp_path / name)
        code, _, err = _run(_disc(csv3, "--model", str(tmp_path / name)), capsys)
        assert code == 1 and msg in err, (name, err)
        assert err.startswith(f"symlie discover: error: --model '{tmp_path / name}'")
    raw = (tmp_path / "in4.pt").read_bytes()
    for name, data in (("trunc.pt", raw[: len(raw) // 2]), ("junk.pt", b"\x80\x04junk" * 20)):
        (tmp_path / name).write_bytes(data)
        code, _, err = _run(_disc(csv3, "--model", str(tmp_path / name)), capsys)
        assert code == 1 and "cannot load the file" in err and len(err.splitlines()) == 1, err


def test_float32_module_is_converted_on_a_copy_with_a_note(tmp_path, csv3, capsys):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))   # float32 default
    torch.save(net, tmp_path / "f32.pt")
    code, out, err = _run(_disc(csv3, "--model", str(tmp_path / "f32.pt"), "--json"), capsys)
    assert code == 0, err
    assert "note: --model" in err and "float32 parameters are converted to float64 (on a copy)" in err
    assert json.loads(out)["fit"]["model"] == "given (Sequential)"
    assert next(torch.load(tmp_path / "f32.pt", weights_only=False).parameters()).dtype == torch.float32


# ------------------------------------------------------------------------------------------------ --out
def test_discover_out_folder_problems_exit_1_before_the_fit(tmp_path, csv3, capsys):
    (tmp_path / "file").write_text("x")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    for target, msg in ((tmp_path / "no" / "rep", "does not exist; create it first"),
                        (tmp_path / "file", "is an existing file, not a folder"),
                        (mine, "is an existing folder that is not a symlie report")):
        code, out, err = _run(_disc(csv3, "--out", str(target)), capsys)
        assert code == 1 and f"symlie discover: error: --out '{target}'" in err and msg in err, err
        assert out == ""                                  # refused before anything was computed
    assert os.listdir(mine) == ["notes.txt"]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_out_folder_exits_1(tmp_path, csv3, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = _run(_disc(csv3, "--out", str(ro / "rep")), capsys)
        assert code == 1 and "is not writable" in err
        code, _, err = _run(["enforce", "--group", "SO(3)", "--rep-in", "V", "--rep-out", "V", "--out",
                             str(ro / "b.npz")], capsys)
        assert code == 1 and "is not writable" in err
    finally:
        ro.chmod(0o755)


def test_rerun_replaces_the_report_folder_entirely(tmp_path, csv3, capsys):
    rep = tmp_path / "rep"
    assert _run(_disc(csv3, "--out", str(rep)), capsys)[0] == 0
    (rep / "stale.png").write_bytes(b"old")                # e.g. a plot of an earlier run
    (rep / "report.md").write_text("# old\n")
    assert _run(_disc(csv3, "--out", str(rep)), capsys)[0] == 0
    assert "stale.png" not in os.listdir(rep) and "# symlie discover: d.csv" in (rep / "report.md").read_text()
    assert json.loads((rep / "symmetry.json").read_text())["dim"] == 3
    assert sorted(os.listdir(tmp_path)) == ["d.csv", "rep"]  # no temporary or old folder left next to it


def test_enforce_out_prints_the_real_path_and_refuses_bad_paths(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = ["enforce", "--group", "SO(3)", "--rep-in", "V*V", "--rep-out", "V*V", "--out"]
    code, out, _ = _run(args + ["basis"], capsys)
    assert code == 0 and out.splitlines()[-1] == "saved the (81, 3) basis to basis.npz"
    assert EquivariantBasis.load("basis.npz").dim == 3
    code, out, _ = _run(args + ["basis.npz"], capsys)        # rerun: replaced, no temporary left
    assert code == 0 and sorted(os.listdir(tmp_path)) == ["basis.npz"]
    (tmp_path / "adir").mkdir()
    for target, msg in (("nope/b.npz", "the folder 'nope' does not exist"), ("adir", "is an existing folder")):
        code, out, err = _run(args + [target], capsys)
        assert code == 1 and err.startswith(f"symlie enforce: error: --out '{target}") and msg in err, err


# -------------------------------------------------------------------------------------------- exit codes
@pytest.mark.parametrize("extra, flag", [
    (["--min-gap", "0.5"], "--min-gap"), (["--min-gap", "inf"], "--min-gap"), (["--rtol", "-1"], "--rtol"),
    (["--rtol", "nan"], "--rtol"), (["--rule", "rtol", "--rtol", "1.5"], "--rtol"), (["--seed", "-1"], "--seed"),
    (["--rtol", "1e-3"], "--rtol: applies to --rule rtol only"),
    (["--rule", "rtol", "--min-gap", "5"], "--min-gap: applies to --rule auto / gap only"),
    (["--model", "poly:0"], "--model 'poly:0'"), (["--model", "poly:-1"], "--model 'poly:-1'"),
    (["--candidates", "gl(2)"], "acts on R^2 but there are 3 input columns"),
])
def test_discover_usage_errors_exit_2_naming_the_flag(csv3, capsys, extra, flag):
    code, out, err = _run(_disc(csv3, *extra), capsys)
    assert code == 2 and flag in err and out == "", err


@pytest.mark.parametrize("argv, flag", [
    (["demo", "--points", "3"], "--points"), (["demo", "--seed", "-1"], "--seed"),
    (["demo", "--json", "--out", "x"], "--out"),
    (["promote", "F", "--outputs", "y", "--candidates", "so(3)", "--degree", "0"], "--degree"),
    (["promote", "F", "--outputs", "y", "--candidates", "so(3)", "--degree", "-1"], "--degree"),
    (["promote", "F", "--outputs", "y", "--candidates", "so(3)", "--lam", "-1"], "--lam"),
    (["promote", "F", "--outputs", "y", "--candidates", "so(3)", "--sindy", "--threshold", "-1"], "--threshold"),
    (["promote", "F", "--outputs", "y", "--candidates", "so(3)", "--threshold", "0.1"], "--threshold: applies to --sindy"),
    (["discover", "F", "--inputs", "x1,x1,x1", "--outputs", "y", "--candidates", "gl(3)"], "'x1' given more than once"),
    (["discover", "F", "--inputs", "x1,x2,y", "--outputs", "y", "--candidates", "gl(3)"], "both an input and an output"),
    (["discover", "F", "--inputs", "x1,x2,x3", "--candidates", "gl(3)", "--model", "mlp"], "--model: a fitted model needs --outputs"),
])
def test_other_usage_errors_exit_2_naming_the_flag(csv3, capsys, argv, flag):
    argv = [str(csv3) if a == "F" else a for a in argv]
    code, out, err = _run(argv, capsys)
    assert code == 2 and flag in err, err


def test_data_problems_exit_1(tmp_path, csv3, capsys):
    (tmp_path / "l.csv").write_bytes("x1,x2,x3,y\n1,2,3,\xe9\n".encode("latin-1"))
    code, _, err = _run(["discover", str(tmp_path / "l.csv"), "--outputs", "y", "--candidates", "gl(3)"], capsys)
    assert code == 1 and "l.csv: not a UTF-8 text file" in err
    code, _, err = _run(_disc(csv3, "--model", "poly:9"), capsys)                    # too few rows for the fit
    assert code == 1 and "too few for a degree-9 polynomial" in err
    (tmp_path / "t.npz").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    code, _, err = _run(["promote", str(tmp_path / "t.npz"), "--outputs", "y", "--candidates", "so(3)"], capsys)
    assert code == 1 and "t.npz: not a readable .npz archive" in err


def test_main_guard_turns_symlie_errors_and_interrupts_into_one_line(capsys, monkeypatch):
    def resource(args):
        raise ResourceError("the basis needs 12.0 GiB, over the memory limit of 4.0 GiB", nbytes=12, limit=4)

    def interrupt(args):
        raise KeyboardInterrupt

    args = ["enforce", "--group", "SO(3)", "--rep-in", "V", "--rep-out", "V", "--out", "b.npz"]
    monkeypatch.setitem(climain._COMMANDS, "enforce", resource)
    assert _run(args, capsys)[0:3:2] == (1, "symlie enforce: error: the basis needs 12.0 GiB, over the memory limit "
                                            "of 4.0 GiB\n")
    monkeypatch.setitem(climain._COMMANDS, "enforce", interrupt)
    assert _run(args, capsys)[0:3:2] == (130, "symlie enforce: interrupted\n")


def test_subprocess_corrupt_file_exits_1_without_traceback(tmp_path):
    (tmp_path / "c.npz").write_bytes(b"garbage" * 30)
    r = subprocess.run([sys.executable, "-m", "symlie", "discover", str(tmp_path / "c.npz"), "--candidates", "gl(3)"],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("symlie discover: error: ") and "c.npz: not a readable .npz archive" in r.stderr


def test_max_bytes_flag_limits_every_request(tmp_path, capsys):
    argv = ["enforce", "--group", "SO(3)", "--rep-in", "V*V", "--rep-out", "V*V", "--out", str(tmp_path / "b")]
    assert main(["--max-bytes", "1000", *argv]) == 1
    err = capsys.readouterr().err
    assert "memory limit of 1 kB" in err and "Traceback" not in err
    assert main(argv) == 0 and (tmp_path / "b.npz").is_file()
    with pytest.raises(SystemExit) as exc:
        main(["--max-bytes", "-5", *argv])
    assert exc.value.code == 2
