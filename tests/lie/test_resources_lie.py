"""Size estimates of symlie.lie: algebras, groups, representations and parse_rep refuse requests that would not
fit in memory quickly (before allocating), with the size, the limit and what to do instead."""
from __future__ import annotations

import time

import pytest
import torch

import symlie as sl
from symlie.lie import algebra as alg
from symlie.lie.algebra import algebra_bytes, parse_algebra
from symlie.lie.groups import parse_group
from symlie.lie.reps import MAX_PARSE_INT, parse_rep
from symlie.utils import ResourceError, SymlieError
from symlie.utils.resources import memory_limit

LIMIT = 8 * 10 ** 9      # "a 16 GB machine": the refusals below do not depend on the machine the tests run on


def refused(fn, *words):
    """Call fn under LIMIT: it must raise a ResourceError within a second whose message has the size, the
    limit and the given hint words."""
    t0 = time.perf_counter()
    with memory_limit(LIMIT), pytest.raises(ResourceError) as ei:
        fn()
    assert time.perf_counter() - t0 < 1.0
    msg = str(ei.value)
    assert "needs " in msg and "memory limit of 8 GB" in msg, msg
    for w in words:
        assert w in msg, (w, msg)
    return ei.value


@pytest.mark.parametrize("make", [
    lambda: sl.gl(300), lambda: alg.sl(300), lambda: sl.so(2000), lambda: alg.so_pq(1000, 1000),
    lambda: alg.sp(600), lambda: alg.t(3000), lambda: alg.se(2000), lambda: alg.sim(2000), lambda: alg.aff(300),
    lambda: alg.scaling(10 ** 6), lambda: alg.symplectic_form(2 * 10 ** 5),
    lambda: sl.GL(300), lambda: sl.SL(300), lambda: sl.SO(2000), lambda: sl.O(2000), lambda: sl.SE(2000),
    lambda: sl.E(2000), lambda: sl.T(3000), lambda: sl.Sp(600), lambda: sl.S(10 ** 5), lambda: sl.Z(10 ** 5),
])
def test_named_algebras_and_groups_refuse_huge_sizes(make):
    refused(make, "use ")


def test_cli_names_refuse_with_the_argument_named():
    e = refused(lambda: parse_algebra("gl(300)"), "candidates: 'gl(300)'", "smaller n")
    assert e.nbytes > LIMIT and e.limit == LIMIT
    refused(lambda: parse_algebra("so(3)+gl(300)"), "candidates: 'gl(300)'")
    refused(lambda: parse_group("GL(300)"), "--group: 'GL(300)'")


def test_combinations_of_algebras_refuse_huge_sizes():
    g = sl.so(3)
    refused(lambda: g.copies(10 ** 5), "fewer copies")
    g4, g20, s20 = sl.gl(4), sl.gl(20), sl.so(20)
    with memory_limit(10 ** 6):
        with pytest.raises(ResourceError, match="direct_sum"):
            alg.direct_sum(*[g4] * 20)
        with pytest.raises(ResourceError, match="span"):
            alg.span(g20, s20)
        with pytest.raises(ResourceError, match="brackets"):
            sl.gl(6).closure_error()
        with pytest.raises(ResourceError, match="jacobi_error"):
            sl.gl(5).jacobi_error()


def test_the_limit_decides_exactly_where_gl_n_is_refused():
    # the estimate is arithmetic: just above it gl(n) is built, just below it is refused (property over n)
    for n in range(1, 9):
        need = algebra_bytes(n * n, n)
        with memory_limit(need):
            assert sl.gl(n).dim == n * n
        with memory_limit(need - 1), pytest.raises(ResourceError, match=rf"gl\({n}\)"):
            sl.gl(n)
    assert sl.gl(30).dim == 900                                   # normal sizes pass at the default limit


def test_group_sampling_and_enumeration_are_bounded():
    G = sl.S(5)
    assert G.elements().shape == (120, 5, 5)
    with memory_limit(10 ** 5), pytest.raises(ResourceError, match="elements: S\\(5\\)"):
        G.elements()
    with memory_limit(10 ** 5), pytest.raises(ResourceError, match="draw fewer"):
        sl.SO(3).sample(10 ** 4)


@pytest.mark.parametrize("make, words", [
    (lambda: sl.V(sl.SO(3)) ** 20, ["V**20", "size 3486784401", "smaller tensor power"]),
    (lambda: sl.V(sl.SO(3)) ** (10 ** 9), ["about 2^", "smaller tensor power"]),
    (lambda: sl.TensorRep(sl.SO(3), 10, 10), ["TensorRep(SO(3), 10, 10)"]),
    (lambda: (10 ** 9) * sl.V(sl.SO(3)), ["1000000000*V", "smaller tensor power or multiplicity"]),
    (lambda: sl.Trivial(sl.SO(3), 10 ** 12), ["Trivial(k=1000000000000)"]),
    (lambda: sl.lie.reps.ProductRep([sl.V(sl.SO(3)) ** 10, sl.V(sl.SO(3)) ** 10]), ["tensor product of 20"]),
])
def test_representations_refuse_sizes_whose_vectors_do_not_fit(make, words):
    refused(make, *words)


def test_dense_matrices_of_large_representations_are_refused_but_structured_actions_work():
    V = sl.V(sl.SO(3))
    R = V ** 10                                                    # 59049: fine as a structured representation
    X = sl.so(3).basis
    v = torch.randn(2, R.size, dtype=torch.float64)
    assert R.apply_drho(X[0], v).shape == (2, R.size)
    for fn in (lambda: R.drho_basis, lambda: R.drho(X[0]), lambda: R.rho(torch.eye(3, dtype=torch.float64)),
               lambda: (R + V).drho(X), lambda: R.rho_sparse(torch.linalg.matrix_exp(X.sum(0)))):
        refused(fn, "apply_")
    with memory_limit(10 ** 5), pytest.raises(ResourceError, match="fewer points"):
        (V ** 4).vector_field(X, torch.zeros(100, 81, dtype=torch.float64))


def test_parse_rep_refuses_huge_integers_before_evaluating_them():
    G = sl.SO(3)
    for spec, txt in [("9**9**9*V", "9**9"), ("V**(2**100)", "2**100"), ("(10**7)*V", "10**7"),
                      ("T(10**7, 0)", "10**7"), (f"{MAX_PARSE_INT + 1}*V", str(MAX_PARSE_INT + 1)),
                      ("9" * 1000 + "*V", "bits")]:
        t0 = time.perf_counter()
        with pytest.raises(SymlieError) as ei:
            parse_rep(spec, G, "--rep-in")
        assert time.perf_counter() - t0 < 1.0
        msg = str(ei.value)
        assert msg.startswith("--rep-in: ") and txt in msg and "smaller representation" in msg, msg
    refused(lambda: parse_rep("V**20", G, "--rep-in"), "--rep-in: 'V**20'", "smaller tensor power")


def test_parse_rep_keeps_accepting_small_integer_expressions():
    G = sl.SO(3)
    for spec, size in [("2*V+Scalar", 7), ("(1+2)*V", 9), ("V**2**2", 81), ("T(2,1)", 27), ("2**3*Scalar", 8),
                       ("V*V+3*Covector", 18), (f"{MAX_PARSE_INT}*Scalar", MAX_PARSE_INT)]:
        assert parse_rep(spec, G).size == size


def test_actions_refuse_huge_jacobians_and_brackets():
    act = sl.LibraryAction(sl.PolynomialLibrary(2), 3)
    x = torch.zeros(1000, 3, dtype=torch.float64)
    with memory_limit(10 ** 6):
        with pytest.raises(ResourceError, match="fewer points"):
            act.jacobians(x)
        with pytest.raises(ResourceError, match="fewer points"):
            act.brackets(torch.eye(act.dim, dtype=torch.float64), x)
        with pytest.raises(ResourceError, match="library fields"):
            act.vector_fields(x)
    assert act.vector_fields(x).shape == (act.dim, 1000, 3)
