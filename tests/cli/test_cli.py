"""The command line and the demo."""
import io
import json
import subprocess
import sys

import pytest

from symlie.cli import main
from symlie.cli.demo import run_demo


def test_demo_recovers_every_known_algebra():
    buf = io.StringIO()
    results = run_demo(n_points=60, seed=1, stream=buf)
    assert len(results) >= 8
    for r in results:
        assert r["found_dim"] == r["expected_dim"], r["case"]
        assert r["distance_to_truth"] < 1e-6, r["case"]
        assert len(r["spectrum"]) == r["q"]
        assert r["closure_error"] < 1e-8, r["case"]
    assert "recover the known symmetry algebra" in buf.getvalue()


def test_demo_json_is_machine_readable(capsys):
    assert main(["demo", "--json", "--points", "40"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"case", "found_dim", "expected_dim", "spectrum", "rank_rule", "gap_ratio"} <= set(data[0])


def test_cli_usage_errors():
    with pytest.raises(SystemExit) as e:
        main(["demo", "--points", "3"])
    assert e.value.code == 2
    assert main([]) == 2


def test_module_entry_point_version():
    out = subprocess.run([sys.executable, "-m", "symlie", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("symlie ")


def test_tour_enforces_discovers_promotes_and_writes_a_report(tmp_path):
    from symlie.cli.tour import run_tour
    buf = io.StringIO()
    res = run_tour(tmp_path / "rep", steps=400, stream=buf)
    assert res["enforce"]["basis_dim"] == 3 and res["enforce"]["n_free"] == 2 and res["enforce"]["max_error"] < 1e-10
    assert res["promote_regression"]["kept_dim"] == 4 and res["promote_regression"]["error_promoted"] < 1e-5
    assert res["promote_regression"]["error_plain"] > 1e-2
    assert res["promote_dynamics"]["kept_dim"] == 1 and res["promote_dynamics"]["distance_to_z"] < 5e-3
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## 4. promote (dynamics)" in md and f"report: {(tmp_path / 'rep' / 'report.md').resolve()}" in buf.getvalue()
    pytest.importorskip("matplotlib")
    for name in ("discover_spectrum.png", "promote_regression_spectrum.png", "promote_dynamics_spectrum.png",
                 "promote_recovery.png", "promote_dynamics_field.png"):
        assert (tmp_path / "rep" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
