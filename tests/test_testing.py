"""symlie.testing.assert_equivariant: passes on equivariant modules, fails on broken ones."""
from __future__ import annotations

import pytest
import torch

import symlie as sl
from symlie.testing import assert_equivariant


def test_equivariant_mlp_passes_and_reads_its_own_reps():
    G = sl.O(3)
    V = sl.V(G)
    torch.manual_seed(0)
    net = sl.nn.EquivariantMLP(2 * V, V, hidden=3 * V + 2 * sl.Scalar(G), depth=2, mid_channels=4).double()
    err = assert_equivariant(net)
    assert err < 1e-10


def test_broken_model_fails_with_the_violation_in_the_message():
    G = sl.SO(3)
    V = sl.V(G)
    lin = torch.nn.Linear(3, 3).double()
    with pytest.raises(AssertionError, match="not equivariant: relative violation"):
        assert_equivariant(lin, G, V, V)
    # an invariant function passes with rep_out None
    assert assert_equivariant(lambda x: (x ** 2).sum(-1), G, V, None) < 1e-12
