"""SymmetryResult save / load / to_dict / from_dict: exact round trips, a versioned self-describing format,
and a DataError naming the file and the key for every corrupt, truncated or inconsistent file."""
from __future__ import annotations

import copy
import dataclasses
import json
import math

import pytest
import torch

import symlie as sl
from _helpers import DT, randn
from symlie import DataError, SymmetryResult
from symlie.lie.actions import MatrixAction


def sqnorm(x):
    return (x ** 2).sum(-1)


@pytest.fixture(scope="module")
def gl3():
    """|x|^2 over gl(3): so(3) found (q = 9, rank 6)."""
    res = sl.discover(sqnorm, randn(100, 3, seed=31), sl.gl(3))
    assert res.dim == 3 and res.q == 9 and res.rank == 6
    return res


@pytest.fixture(scope="module")
def fields():
    """|x|^2 over the affine vector fields on R^2 (a library action, q = 6): the rotation field."""
    res = sl.discover(sqnorm, randn(100, 2, seed=32), sl.polynomial_vector_fields(2, 1))
    assert res.candidates is None and res.q == 6 and res.dim == 1
    return res


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous().view(torch.int64)


def _same(a, b) -> bool:
    """Equal values of equal types (NaN equal to NaN; tuples and lists kept apart)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def _json_trip(v):
    return json.loads(json.dumps(v))


def _assert_exact(res: SymmetryResult, back: SymmetryResult) -> None:
    for name in ("coefficients", "broken_coefficients", "singular_values"):
        x, y = getattr(res, name), getattr(back, name)
        assert x.dtype == y.dtype == DT and x.shape == y.shape and torch.equal(_bits(x), _bits(y)), name
    assert torch.equal(_bits(res.nullspace.basis), _bits(back.nullspace.basis))
    assert torch.equal(_bits(res.nullspace.complement), _bits(back.nullspace.complement))
    for name in ("rank", "threshold", "rule", "gap_ratio", "reason"):
        assert _same(getattr(res.nullspace, name), getattr(back.nullspace, name)), name
    assert back.nullspace.rank_rule.to_dict() == res.nullspace.rank_rule.to_dict()   # the parameters that matter
    for f in dataclasses.fields(SymmetryResult):
        if f.name in ("candidates", "nullspace", "model", "action"):
            continue
        x, y = getattr(res, f.name), getattr(back, f.name)
        if f.name == "identification":
            x, y = x.to_dict(), y.to_dict()
        assert _same(x, y), f.name
    assert back.identification == res.identification


def test_matrix_round_trip_is_exact(gl3, tmp_path):
    back = SymmetryResult.load(gl3.save(tmp_path / "res.json"))
    _assert_exact(gl3, back)
    assert back.candidates.name == gl3.candidates.name and back.candidates.affine == gl3.candidates.affine
    assert torch.equal(_bits(back.candidates.basis), _bits(gl3.candidates.basis))
    assert isinstance(back.action, MatrixAction) and torch.equal(_bits(back.generators), _bits(gl3.generators))
    assert back.summary() == gl3.summary() and back.describe() == gl3.describe()
    assert json.dumps(back.to_dict()) == json.dumps(gl3.to_dict())        # a second trip writes the same file
    assert not list(tmp_path.glob("*.tmp*"))                                # the save went through a renamed file


def test_library_action_round_trip_keeps_every_saved_field(fields, tmp_path):
    back = SymmetryResult.load(fields.save(tmp_path / "fields.json"))
    _assert_exact(fields, back)
    assert back.candidates is None and back.action is None                  # the action itself is not stored
    d, d2 = fields.to_dict(), back.to_dict()
    assert d["candidates"]["kind"] == "LibraryAction" and d["fields"] == ["x1 d/dx0 - x0 d/dx1"]
    for key in set(d) - {"candidates", "fields"}:
        assert _same(_json_trip(d[key]), _json_trip(d2[key])), key


def test_nan_gap_empty_and_fit_round_trips(tmp_path):
    res0 = sl.discover(sqnorm, randn(100, 3, seed=33), sl.so(3))          # nothing broken: gap ratio NaN
    assert math.isnan(res0.gap_ratio)
    _assert_exact(res0, SymmetryResult.load(res0.save(tmp_path / "a.json")))
    none = sl.discover(lambda x: x[:, 0] + 0.3 * x[:, 1] ** 2, randn(100, 3, seed=3), sl.so(3))   # nothing found
    assert none.dim == 0 and none.coefficients.shape == (0, 3)
    back = SymmetryResult.load(none.save(tmp_path / "none.json"))
    _assert_exact(none, back)
    assert back.coefficients.shape == (0, 3) and back.generators.shape == (0, 3, 3)
    X = randn(200, 3, seed=34)
    res = sl.discover_data(X, sqnorm(X), sl.gl(3), model="poly", val_fraction=0.0)
    assert math.isnan(res.fit["r2_val"])
    _assert_exact(res, SymmetryResult.load(res.save(tmp_path / "b.json")))


def test_format_is_versioned_and_version_0_files_read(gl3, tmp_path):
    d = gl3.to_dict()
    assert d["format"] == "symlie.SymmetryResult" and d["version"] == 1
    v0 = {k: v for k, v in d.items() if k not in ("format", "version", "reason", "scale", "fit", "info")}
    back = SymmetryResult.from_dict(v0)
    assert back.reason == "" and back.scale == 0.0 and back.fit is None and back.info == {}
    assert torch.equal(back.coefficients, gl3.coefficients)
    p = tmp_path / "v0.json"
    p.write_text(json.dumps({k: v for k, v in d.items() if k not in ("format", "version")}))
    _assert_exact(gl3, SymmetryResult.load(p))
    extra = dict(d, inputs=["x", "y", "z"], rows_dropped=0)                # the CLI's --json output reads too
    _assert_exact(gl3, SymmetryResult.from_dict(extra))


def _mut(key, value):
    def f(d):
        d[key] = value
    return f


def _drop(key):
    def f(d):
        del d[key]
    return f


def _sub(key, sub, value):
    def f(d):
        d[key][sub] = value
    return f


BAD = [
    ("missing key", _drop("rank"), r"missing 'rank'"),
    ("missing v1 key", _drop("reason"), r"\(version 1\): missing 'reason'"),
    ("5 singular values for 9", lambda d: d.update(singular_values=d["singular_values"][:5]),
     r"key 'singular_values': expected shape \(9,\) \(one per candidate\), got shape \(5,\)"),
    ("increasing values", lambda d: d["singular_values"].reverse(), r"key 'singular_values': .*non-increasing"),
    ("negative value", lambda d: d["singular_values"].__setitem__(8, -1.0), r"key 'singular_values': .*non-negative"),
    ("rank > q", _mut("rank", 10), r"key 'rank': expected an int in \[0, 9\] \(q = 9 candidates\), got 10"),
    ("rank not an int", _mut("rank", "6"), r"key 'rank': expected an int"),
    ("rank a bool", _mut("rank", True), r"key 'rank': expected an int"),
    ("too few rows", lambda d: d["coefficients"].pop(), r"key 'coefficients': expected shape \(3, 9\)"),
    ("too few columns", lambda d: [row.pop() for row in d["coefficients"]], r"key 'coefficients': .*\(3, 8\)"),
    ("ragged", lambda d: d["coefficients"][0].pop(), r"key 'coefficients': .*ragged or non-numeric"),
    ("string entry", lambda d: d["coefficients"][0].__setitem__(0, "x"), r"key 'coefficients': .*non-numeric"),
    ("bool entries", lambda d: d.update(coefficients=[[True] * 9] * 3), r"key 'coefficients': .*non-numeric"),
    ("NaN entry", lambda d: d["coefficients"][0].__setitem__(0, "nan"), r"key 'coefficients': .*non-numeric"),
    ("not a list", _mut("coefficients", 3.0), r"key 'coefficients': expected a nested list"),
    ("broken shape", lambda d: d["broken_coefficients"].pop(), r"key 'broken_coefficients': expected shape \(6, 9\)"),
    ("threshold string", _mut("threshold", "abc"), r"key 'threshold': expected a number, got 'abc'"),
    ("threshold negative", _mut("threshold", -1.0), r"key 'threshold': expected a number >= 0"),
    ("threshold inf", _mut("threshold", "inf"), r"key 'threshold': expected a finite number"),
    ("rule not a dict", _mut("rule", "auto"), r"key 'rule': expected a mapping"),
    ("rule kind", _sub("rule", "rule", "foo"), r"key 'rule.rule': expected one of 'auto', 'gap', 'rtol'"),
    ("rule without kind", lambda d: d["rule"].pop("rule"), r"key 'rule': missing"),
    ("rule parameter", _sub("rule", "min_gap", 0.5), r"key 'rule': not a valid rank rule \(min_gap"),
    ("rule parameter type", _sub("rule", "floor", [1]), r"key 'rule.floor': expected a number"),
    ("gap ratio", _mut("gap_ratio", None), r"key 'gap_ratio': expected a number"),
    ("largest gap dim", _sub("largest_gap", "dim", 12), r"key 'largest_gap.dim': expected an int in \[0, 9\]"),
    ("largest gap", _mut("largest_gap", []), r"key 'largest_gap': expected a mapping"),
    ("closure", _mut("closure_error", "small"), r"key 'closure_error': expected a number"),
    ("identification dim", _sub("identification", "dim", 2), r"key 'identification.dim': expected 3"),
    ("killing signature", _sub("identification", "killing_signature", [0, 3]),
     r"key 'identification.killing_signature': expected 3 counts"),
    ("identification field", _sub("identification", "closed", "yes"), r"key 'identification.closed'"),
    ("identification extra", _sub("identification", "foo", 1), r"key 'identification': unknown field\(s\) 'foo'"),
    ("identification missing", lambda d: d["identification"].pop("name"), r"key 'identification.name': missing"),
    ("discrete value", _mut("discrete", {"P": "big"}), r"key \"discrete\['P'\]\": expected a number"),
    ("n_samples negative", _mut("n_samples", -1), r"key 'n_samples': expected an int >= 0"),
    ("n_outputs float", _mut("n_outputs", 1.5), r"key 'n_outputs': expected an int >= 0"),
    ("kind", _mut("kind", "other"), r"key 'kind': expected one of 'function'"),
    ("scale", _mut("scale", "nan"), r"key 'scale': expected a finite number"),
    ("fit", _mut("fit", [1]), r"key 'fit': expected a mapping"),
    ("info", _mut("info", None), r"key 'info': expected a mapping"),
    ("candidates", _mut("candidates", [1]), r"key 'candidates': expected a mapping"),
    ("candidates name", _sub("candidates", "name", 3), r"key 'candidates.name': expected a string"),
    ("candidates affine", lambda d: d["candidates"].pop("affine"), r"key 'candidates.affine': missing"),
    ("dependent basis", lambda d: d["candidates"]["basis"].__setitem__(1, d["candidates"]["basis"][0]),
     r"key 'candidates.basis': not a candidate algebra \(basis: the 9 generators are linearly dependent"),
    ("basis shape", lambda d: d["candidates"].update(basis=d["candidates"]["basis"][0]),
     r"key 'candidates.basis': expected shape \(\*, \*, \*\)"),
    ("derived dim", _mut("dim", 4), r"key 'dim': expected 3"),
    ("derived name", _mut("name", "so(4)"), r"key 'name': expected the identification's name 'so\(3\)'"),
    ("derived spectrum", lambda d: d["normalized_spectrum"].pop(), r"key 'normalized_spectrum': expected shape \(9,\)"),
    ("derived generators", lambda d: d["generators"].pop(), r"key 'generators': expected shape \(3, 3, 3\)"),
    ("other format", _mut("format", "symlie.Model"), r"is a 'symlie.Model' file, expected 'symlie.SymmetryResult'"),
    ("newer version", _mut("version", 2), r"format version 2; this release reads up to 1"),
    ("bad version", _mut("version", "1"), r"the format version must be an int >= 0"),
]


@pytest.mark.parametrize("name,mutate,match", BAD, ids=[b[0] for b in BAD])
def test_inconsistent_or_mistyped_files_raise_data_error_naming_file_and_key(gl3, tmp_path, name, mutate, match):
    d = copy.deepcopy(gl3.to_dict())
    mutate(d)
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(d))
    with pytest.raises(DataError, match=match) as info:
        SymmetryResult.load(p)
    assert str(info.value).startswith(f"path: {str(p)!r}: ")
    with pytest.raises(DataError, match=match) as info:
        SymmetryResult.from_dict(copy.deepcopy(d))
    assert str(info.value).startswith("the saved data: ")


def test_library_action_files_are_checked_too(fields):
    d = fields.to_dict()
    for mutate, match in [(_sub("candidates", "dim", 0), r"key 'candidates.dim': expected an int >= 1"),
                          (_mut("fields", ["a", "b"]), r"key 'fields': expected a list of 1 strings"),
                          (lambda d: d["coefficients"][0].pop(), r"key 'coefficients': expected shape \(1, 6\)")]:
        bad = copy.deepcopy(d)
        mutate(bad)
        with pytest.raises(DataError, match=match):
            SymmetryResult.from_dict(bad)


def test_unreadable_files(gl3, tmp_path):
    with pytest.raises(FileNotFoundError, match="path: no such file"):
        SymmetryResult.load(tmp_path / "missing.json")
    text = json.dumps(gl3.to_dict(), indent=1)
    cases = {"truncated.json": (text[: len(text) // 2], r"invalid or truncated JSON"),
             "corrupt.json": ("{not json", r"invalid or truncated JSON"),
             "empty.json": ("", r"the file is empty"),
             "list.json": ("[1, 2, 3]", r"expected a saved symlie.SymmetryResult \(a mapping of named fields\), got list"),
             "other.json": ('{"foo": [1, 2, 3]}', r"not a complete symlie.SymmetryResult file: missing 'candidates'")}
    for fname, (content, match) in cases.items():
        p = tmp_path / fname
        p.write_text(content)
        with pytest.raises(DataError, match=match) as info:
            SymmetryResult.load(p)
        assert str(p) in str(info.value) and isinstance(info.value, ValueError)
    p = tmp_path / "binary.json"
    p.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(DataError, match=r"not UTF-8 text"):
        SymmetryResult.load(p)
