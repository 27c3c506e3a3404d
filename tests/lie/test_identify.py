"""Tests of symlie.identify_algebra: naming a matrix Lie algebra up to isomorphism.

Ground truth: the named constructors of symlie (so, so(p,q), sl, gl, sp, t, se, sim, aff) with their
textbook invariants (dimension, Killing signature = (positive, negative, zero) eigenvalues, radical,
Levi quotient), and the fact that all of them are basis- and coordinate-independent: conjugating every
generator by an invertible matrix, or recombining the basis, gives an isomorphic algebra.
"""
from __future__ import annotations

import pytest
import torch

import symlie as sl
from symlie.lie.identify import simple_algebra_table
from _helpers import DT, E, randn


def conjugate(alg, seed):
    """P X P^{-1} for every basis element X, P a well-conditioned random invertible matrix."""
    d = alg.matrix_size
    P = randn(d, d, seed=seed) + 2.0 * torch.eye(d, dtype=DT)
    return sl.LieAlgebra(P @ alg.basis @ torch.linalg.inv(P), affine=alg.affine, size=d)


def affine_conjugate(alg, seed):
    """Conjugation by an affine change of coordinates [[M, v], [0, 1]] (keeps the homogeneous form)."""
    d = alg.matrix_size
    P = torch.eye(d, dtype=DT)
    P[:-1, :-1] = randn(d - 1, d - 1, seed=seed) + 2.0 * torch.eye(d - 1, dtype=DT)
    P[:-1, -1] = randn(d - 1, seed=seed + 1)
    return sl.LieAlgebra(P @ alg.basis @ torch.linalg.inv(P), affine=True, size=d)


def recombine(alg, seed, orthogonal=False):
    """The same span with the basis mixed by a random invertible (or orthogonal) q x q matrix."""
    q = alg.dim
    Q = randn(q, q, seed=seed)
    Q = torch.linalg.qr(Q)[0] if orthogonal else Q + 2.0 * torch.eye(q, dtype=DT)
    return sl.LieAlgebra(torch.einsum("ij,jkl->ikl", Q, alg.basis), affine=alg.affine, size=alg.matrix_size)


def invariants(info):
    return {k: info[k] for k in ("name", "dim", "killing_signature", "abelian", "semisimple", "solvable",
                                 "radical_dim", "levi_signature")}


# (algebra, name, killing signature, an expected alias or None, semisimple, solvable)
NAMED = [
    ("so(3)", lambda: sl.so(3), "so(3)", (0, 3, 0), "su(2)", True, False),
    ("so(1,3)", lambda: sl.so(1, 3), "so(1,3)", (3, 3, 0), "sl(2,C)", True, False),
    ("lorentz", lambda: sl.lorentz(), "so(1,3)", (3, 3, 0), "lorentz", True, False),
    ("sl(2)", lambda: sl.sl(2), "sl(2)", (2, 1, 0), "so(1,2)", True, False),
    ("so(1,2)", lambda: sl.so(1, 2), "so(1,2)", (2, 1, 0), "sl(2)", True, False),
    ("t(2)", lambda: sl.t(2), "t(2)", (0, 0, 2), None, False, True),
    ("t(1)", lambda: sl.t(1), "t(1)", (0, 0, 1), None, False, True),
    ("se(2)", lambda: sl.se(2), "se(2)", (0, 1, 2), "so(2) x| t(2)", False, True),
    ("se(3)", lambda: sl.se(3), "se(3)", (0, 3, 3), "so(3) x| t(3)", False, False),
    ("se(4)", lambda: sl.se(4), "se(4)", (0, 6, 4), "so(4) x| t(4)", False, False),
    ("so(5)", lambda: sl.so(5), "so(5)", (0, 10, 0), None, True, False),
    ("sl(3)", lambda: sl.sl(3), "sl(3)", (5, 3, 0), None, True, False),
    ("gl(2)", lambda: sl.gl(2), "sl(2) + R", (2, 1, 1), None, False, False),
    ("gl(3)", lambda: sl.gl(3), "sl(3) + R", (5, 3, 1), None, False, False),
    ("sp(4)", lambda: sl.sp(4), "sp(4)", (6, 4, 0), "so(2,3)", True, False),
    ("so(4)", lambda: sl.so(4), "so(4)", (0, 6, 0), "so(3) + so(3)", True, False),
    ("so(2,2)", lambda: sl.so(2, 2), "so(2,2)", (4, 2, 0), "sl(2) + sl(2)", True, False),
    ("so(2)", lambda: sl.so(2), "so(2)", (0, 0, 1), "u(1)", False, True),
    ("sim(3)", lambda: sl.sim(3), "sim(3)", (1, 3, 3), None, False, False),
    ("aff(2)", lambda: sl.aff(2), "aff(2)", (3, 1, 2), "gl(2) x| t(2)", False, False),
    ("aff(3)", lambda: sl.aff(3), "aff(3)", (6, 3, 3), None, False, False),
    ("sl(4)", lambda: sl.sl(4), "sl(4)", (9, 6, 0), "so(3,3)", True, False),
    ("so(3,3)", lambda: sl.so(3, 3), "so(3,3)", (9, 6, 0), "sl(4)", True, False),
    ("scaling(3)", lambda: sl.scaling(3), "R", (0, 0, 1), None, False, True),
]
ABELIAN = ("t(1)", "t(2)", "so(2)", "scaling(3)")
NAMED_PARAMS = [pytest.param(*c, id=c[0]) for c in NAMED]


def _check_named(label, make, name, alias, semisimple, solvable):
    alg = make()
    info = sl.identify_algebra(alg)
    assert info["name"] == name
    assert info["dim"] == alg.dim
    if alias is not None:
        assert alias in info["aliases"]
    assert name not in info["aliases"]
    assert info["semisimple"] is semisimple
    assert info["solvable"] is solvable
    assert info["abelian"] is (label in ABELIAN)
    if semisimple:
        assert info["radical_dim"] == 0
    assert isinstance(info["description"], str) and info["description"]
    return alg, info


@pytest.mark.parametrize("label,make,name,sig,alias,semisimple,solvable", NAMED, ids=[c[0] for c in NAMED])
def test_named_algebras(label, make, name, sig, alias, semisimple, solvable):
    """Name, aliases and structure flags (the Killing signature is checked separately below)."""
    _check_named(label, make, name, alias, semisimple, solvable)


@pytest.mark.parametrize("label,make,name,sig,alias,semisimple,solvable", NAMED_PARAMS)
def test_named_algebras_killing_signature(label, make, name, sig, alias, semisimple, solvable):
    alg, info = _check_named(label, make, name, alias, semisimple, solvable)
    assert sum(sig) == alg.dim
    assert tuple(info["killing_signature"]) == sig
    assert tuple(info["killing_signature"]) == alg.killing_signature()
    if semisimple:
        assert tuple(info["levi_signature"]) == sig


def test_killing_signature_matches_algebra_method():
    for alg in (sl.so(3), sl.so(1, 3), sl.sl(3), sl.sp(4), sl.gl(2)):
        assert tuple(sl.identify_algebra(alg)["killing_signature"]) == alg.killing_signature()


def test_levi_and_radical_of_reductive_and_affine_algebras():
    gl3 = sl.identify_algebra(sl.gl(3))
    assert gl3["radical_dim"] == 1 and tuple(gl3["levi_signature"]) == (5, 3, 0)
    se3 = sl.identify_algebra(sl.se(3))
    assert se3["radical_dim"] == 3 and tuple(se3["levi_signature"]) == (0, 3, 0)
    aff2 = sl.identify_algebra(sl.aff(2))
    assert aff2["radical_dim"] == 3 and tuple(aff2["levi_signature"]) == (2, 1, 0)
    # so(3) (+) R as block-diagonal matrices: central radical named by its eigenvalues
    assert sl.identify_algebra(sl.direct_sum(sl.so(3), sl.scaling(1)))["name"] == "so(3) + R"
    assert sl.identify_algebra(sl.direct_sum(sl.so(3), sl.so(2)))["name"] == "so(3) + so(2)"
    two = sl.identify_algebra(sl.direct_sum(sl.so(2), sl.so(2)))
    assert two["name"] == "R^2" and two["abelian"]


def test_zero_algebra():
    info = sl.identify_algebra(sl.LieAlgebra(torch.zeros(0, 3, 3, dtype=DT), size=3))
    assert info["name"] == "0" and info["dim"] == 0
    assert tuple(info["killing_signature"]) == (0, 0, 0)


# ----------------------------------------------------------------------------- basis / coordinate independence
LINEAR = ["so(3)", "so(1,3)", "sl(2)", "so(1,2)", "so(5)", "sl(3)", "gl(2)", "gl(3)", "sp(4)", "so(4)", "so(2,2)",
          "so(2)", "scaling(3)"]
AFFINE = ["t(2)", "se(2)", "se(3)", "se(4)", "sim(3)", "aff(2)"]
BY_LABEL = {c[0]: c for c in NAMED}


@pytest.mark.parametrize("label", LINEAR)
@pytest.mark.parametrize("seed", [0, 1])
def test_invariant_under_conjugation(label, seed):
    _, make, name, sig, *_ = BY_LABEL[label]
    alg = make()
    info = sl.identify_algebra(conjugate(alg, seed))
    assert info["name"] == name
    assert tuple(info["killing_signature"]) == tuple(sl.identify_algebra(alg)["killing_signature"])
    assert invariants(info) == invariants(sl.identify_algebra(alg))


@pytest.mark.parametrize("label", LINEAR + AFFINE)
def test_invariant_under_basis_recombination(label):
    _, make, name, sig, *_ = BY_LABEL[label]
    alg = make()
    for orthogonal in (True, False):
        info = sl.identify_algebra(recombine(alg, seed=3, orthogonal=orthogonal))
        assert info["name"] == name
        assert tuple(info["killing_signature"]) == tuple(sl.identify_algebra(alg)["killing_signature"])


@pytest.mark.parametrize("label", ["t(2)", "se(3)", "se(4)", "sim(3)", "aff(2)"])
def test_affine_invariant_under_affine_change_of_coordinates(label):
    _, make, name, sig, *_ = BY_LABEL[label]
    alg = make()
    info = sl.identify_algebra(affine_conjugate(alg, seed=5))
    assert invariants(info) == invariants(sl.identify_algebra(alg))


# The next tests pin down a basis dependence of the radical and of the Killing signature: identify_algebra
# decides ranks (of D^T K in the radical, of K in _signature) relative to the largest value of the matrix
# itself, so a matrix that is zero up to rounding (K restricted to a nilpotent ideal, the whole Killing form
# of a nilpotent algebra) is read as having rank >= 1 in any basis where its entries are not exactly zero.


def test_se2_solvable_in_any_basis():
    ref = sl.identify_algebra(sl.se(2))
    assert ref["solvable"] and ref["radical_dim"] == 3
    for alg in (recombine(sl.se(2), seed=3, orthogonal=True), affine_conjugate(sl.se(2), seed=5)):
        assert invariants(sl.identify_algebra(alg)) == invariants(ref)


def test_two_dim_nonabelian_solvable_in_any_basis():
    B = torch.stack([torch.diag(torch.tensor([1.0, 0.0], dtype=DT)), E(2, 0, 1)])
    ref = sl.identify_algebra(sl.LieAlgebra(B))
    assert ref["solvable"] and ref["radical_dim"] == 2
    assert invariants(sl.identify_algebra(conjugate(sl.LieAlgebra(B), seed=1))) == invariants(ref)


def test_heisenberg_nilpotent_in_any_basis():
    H = sl.LieAlgebra(torch.stack([E(3, 0, 1), E(3, 1, 2), E(3, 0, 2)]))
    ref = sl.identify_algebra(H)
    assert tuple(ref["killing_signature"]) == (0, 0, 3) and ref["solvable"] and not ref["semisimple"]
    for seed in range(3):
        info = sl.identify_algebra(conjugate(H, seed))
        assert not info["semisimple"], info
        assert tuple(info["killing_signature"]) == (0, 0, 3), info


# ----------------------------------------------------------------------------- unnamed, limits and errors
def test_unnamed_two_dim_solvable_algebra():
    """span{diag(1, 0), E_12}: the non-abelian 2-dimensional algebra ([h, e] = e); no name in the table."""
    B = torch.stack([torch.diag(torch.tensor([1.0, 0.0], dtype=DT)), E(2, 0, 1)])
    info = sl.identify_algebra(sl.LieAlgebra(B))
    assert info["name"] is None
    assert info["dim"] == 2
    assert not info["abelian"] and not info["semisimple"] and info["solvable"]
    assert info["radical_dim"] == 2
    assert tuple(info["killing_signature"]) == (1, 0, 1)
    assert "solvable" in info["description"]


def test_heisenberg_is_unnamed_and_nilpotent():
    info = sl.identify_algebra(sl.LieAlgebra(torch.stack([E(3, 0, 1), E(3, 1, 2), E(3, 0, 2)])))
    assert info["name"] is None
    assert tuple(info["killing_signature"]) == (0, 0, 3)
    assert info["solvable"] and not info["semisimple"] and not info["abelian"]


def test_sim2_and_aff1_names():
    assert sl.identify_algebra(sl.sim(2))["name"] == "sim(2)"
    assert sl.identify_algebra(sl.aff(1))["name"] == "aff(1)"


def test_sim_and_se_in_larger_dimensions():
    assert sl.identify_algebra(sl.sim(4))["name"] == "sim(4)"
    assert sl.identify_algebra(sl.se(5))["name"] == "se(5)"


def test_not_closed_raises():
    with pytest.raises(sl.NotClosedError, match="close"):
        sl.identify_algebra(sl.LieAlgebra(torch.stack([E(2, 0, 1), E(2, 1, 0)])))
    # NotClosedError is a SymlieError and a ValueError
    with pytest.raises(ValueError):
        sl.identify_algebra(sl.LieAlgebra(torch.stack([E(3, 0, 1), E(3, 1, 2)])))


def test_closure_tol_and_rtol():
    """A slightly perturbed so(3) is refused at the default tolerance but named with looser ones."""
    alg = sl.LieAlgebra(sl.so(3).basis + 1e-6 * randn(3, 3, 3, seed=7))
    assert alg.closure_error() > 1e-7
    with pytest.raises(sl.NotClosedError):
        sl.identify_algebra(alg)
    info = sl.identify_algebra(alg, rtol=1e-4, closure_tol=1e-4)
    assert info["name"] == "so(3)" and tuple(info["killing_signature"]) == (0, 3, 0)


def test_type_error():
    with pytest.raises(TypeError, match="LieAlgebra"):
        sl.identify_algebra(sl.so(3).basis)
    with pytest.raises(TypeError):
        sl.identify_algebra("so(3)")


def test_simple_algebra_table():
    table = simple_algebra_table()
    assert "so(3)" in table[(3, 0, 3)] and "su(2)" in table[(3, 0, 3)]
    assert set(table[(3, 2, 1)]) >= {"so(1,2)", "sl(2)", "sp(2)"}
    assert set(table[(15, 9, 6)]) >= {"so(3,3)", "sl(4)"}
    assert set(table[(10, 6, 4)]) >= {"so(2,3)", "sp(4)"}
    for (dim, p, n), names in table.items():
        assert p + n == dim   # simple algebras: non-degenerate Killing form
        assert names
