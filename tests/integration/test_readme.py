"""The README's Python examples run as written."""
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs every example end to end (tens of seconds)

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_python_examples():
    assert len(_blocks()) >= 3


def test_readme_examples_run(capsys):
    ns: dict = {}
    for i, code in enumerate(_blocks()):  # blocks build on each other, as a reader would run them
        try:
            exec(compile(code, f"README.md[python block {i}]", "exec"), ns)
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"README python block {i} failed: {exc!r}")
    out = capsys.readouterr().out
    assert "3 (3, 3, 3) True (0, 3, 0)" in out
    assert "(3, 3, 0) (2, 1, 0)" in out
    assert "x' = 1.000 x - 1.000 y - 1.000 x^3 - 1.000 x y^2" in out     # SINDy recovers the Hopf field
    assert "3 so(3) True True" in out                                  # discover: exact model
    assert "\n3 so(3) True\n" in out                                   # discover: trained MLP
    assert "\n1 so(2)\n" in out                                        # discover: dynamics
    assert "3 so(3) {'O(3) discrete generator 0'" in out               # discover_manifold
    assert "3 so(3) 1.0" in out                                        # discover_data
    assert "4 t(4) True True" in out                                   # promote: regression (E1-like)
    assert "\n1 so(2)\nz' = " in out                                   # promote: SINDy keeps so(2) about z
    assert "True 4 True" in out                                        # promote: solver on its own
    assert "completed val (3,)" in out                                  # learned generators: a toy run
    assert "\n3 0.0 completed val\n" in out                            # augment: periodic fields, FNO run
    assert "\nunderdetermined\n" in out                                # plain least squares on 16 samples
    assert "underdetermined 6\n" in out                                # discover: one repeated point
    assert "gl(300): 90000 generators of 300x300 needs about 454 GB" in out   # refused before allocating
    assert "4 ['d/dt', 't d/dt + 0.333 x d/dx - 0.667 u d/du', 'd/dx', 't d/dx + d/du']" in out   # pde: KdV
    assert "\n8\n" in out                                                                        # pde: y'' = 0
    assert "['u_t = -1.000 u_xxx - 1.000 u u_x'] 1" in out                                      # pde: enforced fit
