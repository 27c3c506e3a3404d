"""Tests of symlie.RankRule: the one rank rule, its validation, and its recorded reason."""
from __future__ import annotations

import pytest
import torch

import symlie as sl
from _helpers import DT



def spectrum(*vals):
    return torch.tensor(vals, dtype=DT)


def test_auto_cuts_at_the_largest_gap_above_the_floor():
    rr = sl.RankRule()
    assert rr.kind == "auto" and rr.min_gap == 10.0
    rank, thr, why = rr.cut(spectrum(1.0, 0.6, 0.5, 1e-2, 8e-3), reference=1.0)
    assert rank == 3 and "largest gap" in why and thr == pytest.approx(1e-2)
    # exact zeros and rounding below the floor: a gap to the floor
    rank, _, _ = rr.cut(spectrum(1.0, 0.3, 1e-17, 0.0), reference=1.0)
    assert rank == 2
    # no gap at all: values above the floor are broken
    rank, _, why = rr.cut(spectrum(1.0, 0.5, 0.25, 0.125), reference=1.0)
    assert rank == 4 and "no gap" in why
    # gaps inside the noise floor do not count
    rank, _, _ = sl.RankRule(floor=1e-3).cut(spectrum(1.0, 0.8, 1e-5, 1e-12), reference=1.0)
    assert rank == 2


def test_everything_symmetric_is_detected_through_the_reference():
    rank, _, _ = sl.RankRule().cut(spectrum(1e-16, 1e-17), reference=2.0)
    assert rank == 0


@pytest.mark.parametrize("kw,match", [
    ({"min_gap": 0}, "min_gap"), ({"min_gap": -5}, "min_gap"), ({"min_gap": 1.0}, "min_gap"),
    ({"rtol": "1e-6"}, "rtol"), ({"rtol": -1.0}, "rtol"), ({"floor": 1.5}, "floor"), ({"atol": float("nan")}, "atol"),
    ({"kind": "largest"}, "rule"),
])
def test_parameters_are_checked(kw, match):
    with pytest.raises(ValueError, match=match):
        sl.RankRule(**kw)


def test_entry_points_check_the_rule_parameters():
    X = torch.randn(50, 3, generator=torch.Generator().manual_seed(0), dtype=DT)
    f = lambda x: (x ** 2).sum(-1)  # noqa: E731
    with pytest.raises(ValueError, match="min_gap"):
        sl.discover(f, X, sl.gl(3), min_gap=0)
    with pytest.raises(ValueError, match="rtol"):
        sl.discover(f, X, sl.gl(3), rule="rtol", rtol="1e-6")
    with pytest.raises(ValueError, match="min_gap"):
        sl.nullspace(torch.eye(3, dtype=DT), rule="gap", min_gap=-5)
    with pytest.raises(ValueError, match="floor"):
        sl.discover(f, X, sl.gl(3), floor=1.5)           # refused, not clamped


def test_nullspace_records_rule_object_and_reason():
    A = torch.diag(spectrum(3.0, 2.0, 1e-14))
    ns = sl.nullspace(A, rule=sl.RankRule("auto"))
    assert ns.dim == 1 and isinstance(ns.rank_rule, sl.RankRule) and ns.rule["rule"] == "auto"
    assert "gap" in ns.reason
    ns = sl.nullspace(A, rule="rtol", rtol=1e-10)
    assert ns.dim == 1 and ns.rule == {"rule": "rtol", "rtol": 1e-10, "atol": 0.0} and "rtol" in ns.reason


def test_result_records_rule_and_reason():
    X = torch.randn(100, 3, generator=torch.Generator().manual_seed(1), dtype=DT)
    res = sl.discover(lambda x: (x ** 2).sum(-1), X, sl.gl(3))
    assert res.dim == 3 and res.rule["rule"] == "auto" and "largest gap" in res.reason
    assert "cut" in res.summary()
    back = sl.SymmetryResult.from_dict(res.to_dict())
    assert back.reason == res.reason and back.nullspace.rank_rule.kind == "auto"
