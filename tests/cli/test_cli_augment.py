"""symlie augment / symlie fno train / eval: the augmentation pipeline from the command line."""
import json

import pytest

from symlie.cli.main import main


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("aug")
    for name, n, seed in (("train", 3, 0), ("val", 2, 1), ("test", 2, 2)):
        assert main(["pde", "generate", "kdv", "--trajectories", str(n), "--preset", "ko", "--seed", str(seed),
                     "--out", str(d / f"{name}.h5")]) == 0
    return d


def test_augment_train_eval(files, capsys):
    d = files
    assert main(["augment", str(d / "train.h5"), "--generators", "discovered", "--periodic", "--copies", "2",
                 "--steps", "4", "--out", str(d / "aug.h5")]) == 0
    out = capsys.readouterr().out
    assert "periodic: 3 generator(s)" in out and "rejection rate 0.0%" in out
    assert main(["fno", "train", str(d / "aug.h5"), "--val", str(d / "val.h5"), "--out", str(d / "m.pt"),
                 "--epochs", "1", "--passes", "2", "--width", "8", "--modes", "4", "--depth", "1"]) == 0
    assert main(["fno", "eval", str(d / "m.pt"), str(d / "test.h5"), "--json", "--out", str(d / "rep")]) == 0
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["n_test"] == 2 and res["steps"] == 100 and len(res["per_step"]) == 100
    assert res["nmse_sum_ci95"][0] <= res["nmse_sum"] <= res["nmse_sum_ci95"][1]
    assert (d / "rep" / "report.md").is_file()
    # plain solutions train too (no augmentation)
    assert main(["fno", "train", str(d / "train.h5"), "--val", str(d / "val.h5"), "--out", str(d / "m2.pt"),
                 "--epochs", "1", "--passes", "1", "--width", "8", "--modes", "4", "--depth", "1"]) == 0


def test_augment_and_fno_errors(files, capsys):
    d = files
    assert main(["augment", str(d / "nope.h5"), "--generators", "exact", "--out", str(d / "a.h5")]) == 2
    assert "FILE" in capsys.readouterr().err
    assert main(["augment", str(d / "train.h5"), "--generators", "magic", "--out", str(d / "a.h5")]) == 2
    assert "--generators 'magic'" in capsys.readouterr().err
    assert main(["fno"]) == 2
    assert main(["fno", "eval", str(d / "nope.pt"), str(d / "test.h5")]) == 2
    assert "MODEL" in capsys.readouterr().err
    (d / "bad.pt").write_bytes(b"junk")
    assert main(["fno", "eval", str(d / "bad.pt"), str(d / "test.h5")]) == 1
    assert "bad.pt" in capsys.readouterr().err
    assert main(["fno", "train", str(d / "train.h5"), "--val", str(d / "val.h5"), "--out", str(d / "m3.pt"),
                 "--resume"]) == 2
