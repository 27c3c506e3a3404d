"""Size estimates of equivariant_basis: each solver's working set is estimated before it is built; the limit is
the max_bytes= parameter (or the process-wide one); the benchmark sizes are not refused."""
from __future__ import annotations

import time

import pytest

import symlie as sl
from symlie.enforce import basis as eb
from symlie.utils import ResourceError
from symlie.utils.resources import memory_limit

V = sl.V(sl.SO(3))
GIB = 2 ** 30


def refused(fn, *words, limit=8 * 10 ** 9):
    t0 = time.perf_counter()
    with memory_limit(limit), pytest.raises(ResourceError) as ei:
        fn()
    assert time.perf_counter() - t0 < 1.5
    msg = str(ei.value)
    assert "needs about" in msg and "memory limit of" in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


def test_rank_6_tensors_in_and_out_are_refused_fast():
    msg = refused(lambda: sl.equivariant_basis(V ** 6, V ** 6, cache=False), "method='kron'", "531441 unknowns",
                  "smaller representation")
    assert "73789x73789" in msg


@pytest.mark.parametrize("method, words", [("dense", ["(177147, 59049) constraint matrix", "method='kron'",
                                                      "method='sparse'"]),
                                           ("gram", ["59049x59049 Gram matrix", "method='kron'"])])
def test_dense_solvers_name_the_structured_ones(method, words):
    refused(lambda: sl.invariant_basis(V ** 10, method=method, cache=False), *words)


def test_sparse_solver_estimates_its_lu_and_blocks():
    refused(lambda: sl.invariant_basis(V ** 8, method="sparse", cache=False), "method='sparse'", "method='kron'",
            limit=10 ** 7)


def test_max_bytes_is_a_parameter():
    with pytest.raises(ResourceError, match="memory limit of 100 kB"):
        sl.invariant_basis(V ** 4, max_bytes=1e5, cache=False)
    assert sl.invariant_basis(V ** 4, cache=False).dim == 3            # None: the process-wide limit
    with memory_limit(10 ** 5):
        with pytest.raises(ResourceError):
            sl.invariant_basis(V ** 4, cache=False)
        # a larger max_bytes overrides the process-wide limit for everything the call does
        assert sl.invariant_basis(V ** 4, max_bytes=10 ** 8, cache=False).dim == 3
    with pytest.raises(ValueError, match="max_bytes"):
        sl.invariant_basis(V ** 4, max_bytes=-1, cache=False)


def test_the_dense_basis_and_constraint_matrix_are_guarded():
    R = V ** 4
    B = sl.invariant_basis(R, cache=False)
    with memory_limit(100):
        with pytest.raises(ResourceError, match=r"\.blocks"):
            _ = B.basis
        with pytest.raises(ResourceError, match="method='kron'"):
            sl.constraint_matrix(R)
    assert B.basis.shape == (81, 3)


def test_benchmark_sizes_are_not_refused_at_half_of_24_gib(monkeypatch):
    # SO(3) invariants of V^(x)10 (59049 unknowns): kron restricts to 8953 coordinates (about 6.6 GB with its
    # eigensolver) and the 603-dimensional basis then needs about 5.2 GB; both pass the default limit of a 24 GiB
    # machine. The first estimate is checked in the solver itself (stopped right after it), the second by formula.
    class Passed(Exception):
        pass

    def stop(*a, **k):
        raise Passed

    monkeypatch.setattr(eb, "_kron_sum_sparse", stop)
    with memory_limit(12 * GIB), pytest.raises(Passed):
        sl.invariant_basis(V ** 10, cache=False, method="kron")
    assert eb.kron_bytes(59049, 8953, 30, 3) < 12 * GIB and eb.kron_basis_bytes(59049, 603, 0) < 12 * GIB
    monkeypatch.undo()
    # the other bench_basis problems (T(4,4) below) run at that limit with their expected counts
    with memory_limit(12 * GIB):
        for G, p, q, expect in [(sl.SO(3), 2, 2, 3), (sl.SO(3), 3, 3, 15), (sl.O(5), 2, 2, 3)]:
            assert sl.invariant_basis(sl.TensorRep(G, p, q), cache=False).dim == expect
        for G, expect in [(sl.SO(1, 3), 4), (sl.Lorentz(), 3)]:
            assert sl.equivariant_basis(sl.V(G), sl.TensorRep(G, 2, 1), cache=False).dim == expect


def test_kron_estimate_matches_the_solver_on_a_small_problem():
    # T(4,4) of SO(3): 6561 unknowns, 1107 restricted coordinates (benchmarks/results/basis.md), 91 invariants
    rep = sl.TensorRep(sl.SO(3), 4, 4)
    need = eb.kron_bytes(6561, 1107, 24, 3)
    with memory_limit(need + eb.kron_basis_bytes(6561, 91, 0)):      # exactly enough for both stages
        B = sl.invariant_basis(rep, cache=False)
    ns = next(iter(B.spectra.values()))
    assert B.dim == 91 and ns.rule["restricted_unknowns"] == 1107 and B.method == {"1->" + str(rep): "kron"}
    with memory_limit(need - 1), pytest.raises(ResourceError, match="1107x1107"):
        sl.invariant_basis(rep, cache=False)
