"""The "cg" block method: SO(3) / O(3) invariants of tensor powers of V by Clebsch-Gordan coupling.

Counts against the Riordan numbers and the existing solvers, the same span as those solvers, constraint residuals at
round-off through the library's own apply_drho / apply_rho, orthonormality, O(3) parity, the recorded spectrum
and rule, the "auto" rule, and clear refusals."""
import math

import numpy as np
import pytest
import torch

import symlie as sl
from symlie.enforce import basis as eb
from symlie.enforce import coupling as cg
from symlie.utils import ResourceError
from symlie.utils.resources import memory_limit

DT = torch.float64
RIORDAN = [1, 0, 1, 1, 3, 6, 15, 36, 91, 232, 603, 1585, 4213]     # OEIS A005043
SO3, O3 = sl.SO(3), sl.O(3)


def _ns(B):
    assert len(B.spectra) == 1
    return next(iter(B.spectra.values()))


def _max_residual(rep, Q):
    """max |drho(xi_k) Q| over the algebra basis and |rho(h) Q - Q| over the discrete generators, through the
    library's own structured actions."""
    G = rep.group
    r = max(float(rep.apply_drho(X, Q.T).abs().max()) for X in G.algebra.basis)
    for h in G.discrete:
        r = max(r, float((rep.apply_rho(h, Q.T) - Q.T).abs().max()))
    return r


# ------------------------------------------------------------------------------------------ the coupling maths
def test_riordan_numbers_and_multiplicities():
    assert [cg.riordan(n) for n in range(len(RIORDAN))] == RIORDAN
    for n in range(1, 9):
        mult = cg.so3_multiplicities(n)[-1]
        assert sum(c * (2 * l + 1) for l, c in mult.items()) == 3 ** n      # the decomposition has all of V^n
        assert mult.get(0, 0) == RIORDAN[n]
        assert cg.so3_multiplicities(n, keep_reachable=True)[-1] == ({0: RIORDAN[n]} if RIORDAN[n] else {})


def test_clebsch_gordan_matches_sympy():
    from sympy import S
    from sympy.physics.quantum.cg import CG
    for l in range(0, 4):
        for L in (l - 1, l, l + 1):
            if L < 0 or (l == 0 and L != 1):
                continue
            C = cg.clebsch_gordan(l, L)
            for M in range(-L, L + 1):
                for mu in (-1, 0, 1):
                    m = M - mu
                    if abs(m) <= l:
                        want = float(CG(S(l), S(m), S(1), S(mu), S(L), S(M)).doit())
                        assert abs(C[M + L, m + l, mu + 1] - want) < 1e-14, (l, L, M, mu)
    with pytest.raises(ValueError, match="does not contain"):
        cg.clebsch_gordan(0, 0)


def test_spherical_basis_is_standard_for_the_library_generators():
    # the library's so(3) basis is (up to sign and 1/sqrt 2) the standard (L_a)_bc = -eps_abc
    A = cg.so3_algebra_coordinates(SO3.algebra.basis)
    assert np.allclose(np.abs(A), np.eye(3)[[2, 1, 0]] / math.sqrt(2), atol=1e-15) or \
        np.allclose(np.abs(A) @ np.abs(A).T, np.eye(3) / 2, atol=1e-15)
    eps = np.zeros((3, 3, 3))
    for (a, b, c), sgn in {(0, 1, 2): 1, (1, 2, 0): 1, (2, 0, 1): 1, (0, 2, 1): -1, (2, 1, 0): -1, (1, 0, 2): -1}.items():
        eps[a, b, c] = sgn
    L = -eps                                                   # L[a] = (L_a)_{bc}
    Jx, Jy, Jz = (1j * L[a] for a in range(3))
    U = cg.spherical_basis()
    assert np.allclose(U.conj().T @ U, np.eye(3), atol=1e-15)
    Jz1, Jp1 = cg.angular_momentum(1)
    assert np.allclose(Jz @ U, U @ Jz1, atol=1e-15)            # J_z f_m = m f_m
    assert np.allclose((Jx + 1j * Jy) @ U, U @ Jp1, atol=1e-15)  # J_+ f_m = sqrt(2 - m(m+1)) f_{m+1} (Condon-Shortley)


@pytest.mark.parametrize("l", [0, 1, 2, 3, 4])
def test_coupled_copies_are_standard_bases(l):
    Jz_l, Jp_l = cg.angular_momentum(l)
    Jz_1, Jp_1 = cg.angular_momentum(1)
    I_l, I_1 = np.eye(2 * l + 1), np.eye(3)
    Jz = np.kron(Jz_l, I_1) + np.kron(I_l, Jz_1)
    Jp = np.kron(Jp_l, I_1) + np.kron(I_l, Jp_1)
    for L in (l - 1, l, l + 1):
        if L < 0 or (l == 0 and L != 1):
            continue
        Psi = cg.clebsch_gordan(l, L).reshape(2 * L + 1, -1).T            # columns |L M> in |l m> (x) |1 mu>
        Jz_L, Jp_L = cg.angular_momentum(L)
        assert np.allclose(Psi.T @ Psi, np.eye(2 * L + 1), atol=1e-14)
        assert np.allclose(Jz @ Psi, Psi @ Jz_L, atol=1e-14)
        assert np.allclose(Jp @ Psi, Psi @ Jp_L, atol=1e-14)
        C = cg.real_coupling(l, L)                                          # real, an isometry
        assert C.dtype == np.float64 and C.shape == (2 * L + 1, 2 * l + 1, 3)
        Cm = C.reshape(2 * L + 1, -1).T
        assert np.allclose(Cm.T @ Cm, np.eye(2 * L + 1), atol=1e-14)


# ------------------------------------------------------------------------------------------ bases
@pytest.mark.parametrize("n", range(1, 9))
def test_counts_residual_and_orthonormality(n):
    rep = sl.V(SO3) ** n
    B = sl.invariant_basis(rep, method="cg", cache=False)
    assert B.dim == RIORDAN[n] == cg.riordan(n) and B.method == {f"1->{rep}": "cg"}
    Q = B.blocks[0].Q if B.blocks else torch.zeros(3 ** n, 0, dtype=DT)
    assert Q.dtype == DT and Q.shape == (3 ** n, RIORDAN[n])
    if n > 1:
        assert _max_residual(rep, Q) < 1e-12
        assert float((Q.T @ Q - torch.eye(Q.shape[1], dtype=DT)).abs().max()) < 1e-12
    assert torch.equal(cg.so3_invariants(n), cg.so3_invariants(n))         # deterministic


@pytest.mark.parametrize("n,method", [(2, "dense"), (3, "dense"), (4, "dense"), (5, "dense"), (6, "kron"),
                                      (7, "kron"), (8, "kron")])
def test_counts_match_the_existing_solvers(n, method):
    rep = sl.V(SO3) ** n
    assert sl.invariant_basis(rep, method=method, cache=False).dim == RIORDAN[n]
    assert sl.invariant_basis(rep, method="cg", cache=False).dim == RIORDAN[n]


@pytest.mark.parametrize("G", [SO3, O3], ids=["SO3", "O3"])
@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_span_equals_the_existing_solver(G, n):
    rep = sl.V(G) ** n
    ref = sl.invariant_basis(rep, method="dense" if n <= 5 else "kron", cache=False)
    got = sl.invariant_basis(rep, method="cg", cache=False)
    assert got.dim == ref.dim
    if ref.dim:
        assert float(sl.principal_angles(ref.basis, got.basis).max()) < 1e-10


@pytest.mark.parametrize("n", range(2, 9))
def test_o3_has_none_for_odd_degree_and_the_so3_ones_for_even(n):
    rep = sl.V(O3) ** n
    B = sl.invariant_basis(rep, method="cg", cache=False)
    ns = _ns(B)
    if n % 2:
        assert B.dim == 0 and ns.dim == 0 and "(-1)^" in ns.reason
        assert float(ns.singular_values[1]) == pytest.approx(1.0)         # min(1 for l >= 1, 2 for the l = 0 part)
    else:
        Bs = sl.invariant_basis(sl.V(SO3) ** n, method="cg", cache=False)
        assert B.dim == Bs.dim == RIORDAN[n]
        assert float(sl.principal_angles(B.basis, Bs.basis).max()) < 1e-12
        assert _max_residual(rep, B.basis) < 1e-12
        assert ns.rule["residual_max"] < 1e-14


def test_o3_odd_agrees_with_the_existing_solver():
    for n, method in [(3, "dense"), (5, "dense"), (7, "kron")]:
        assert sl.invariant_basis(sl.V(O3) ** n, method=method, cache=False).dim == 0


def test_equivariant_maps_and_dual_factors():
    V = sl.V(SO3)
    B = sl.equivariant_basis(V ** 3, V ** 3, method="cg", cache=False)    # Hom(V^3, V^3) = invariants of V^6
    assert B.dim == 15
    Ws = B.matrices()
    for X in SO3.algebra.basis:
        D = (V ** 3).drho(X)
        assert float((D @ Ws - Ws @ D).abs().max()) < 1e-12
    ref = sl.equivariant_basis(V ** 3, V ** 3, method="kron", cache=False)
    assert float(sl.principal_angles(ref.basis, B.basis).max()) < 1e-10
    for G in (SO3, O3):                                                    # T(2,2) = V (x) V (x) V* (x) V*
        rep = sl.TensorRep(G, 2, 2)
        got = sl.invariant_basis(rep, method="cg", cache=False)
        ref = sl.invariant_basis(rep, method="dense", cache=False)
        assert got.dim == ref.dim == 3
        assert float(sl.principal_angles(ref.basis, got.basis).max()) < 1e-10
    M = sl.invariant_basis(sl.Point(SO3) * V, method="cg", cache=False)   # the linear Point action is V
    assert M.dim == 1


def _skewed_group(with_reflection: bool):
    """so(3) in a non-orthonormal basis, with a rotoreflection (det -1, not a signed permutation)."""
    L = torch.zeros(3, 3, 3, dtype=DT)
    L[0, 2, 1], L[0, 1, 2] = 1, -1
    L[1, 0, 2], L[1, 2, 0] = 1, -1
    L[2, 1, 0], L[2, 0, 1] = 1, -1
    basis = torch.stack([L[0], L[0] + 2 * L[1], 0.5 * L[1] - 3 * L[2]])
    alg = sl.LieAlgebra(basis, name="so(3) skewed")
    h = None
    if with_reflection:
        c, s = math.cos(0.7), math.sin(0.7)
        h = -torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1]], dtype=DT) @ torch.linalg.matrix_exp(0.3 * L[0])
    return sl.Group(alg, h, name="skewed")


@pytest.mark.parametrize("refl", [False, True])
def test_any_so3_basis_and_a_general_reflection(refl):
    G = _skewed_group(refl)
    for n in (2, 3, 4, 5):
        rep = sl.V(G) ** n
        got = sl.invariant_basis(rep, method="cg", cache=False)
        ref = sl.invariant_basis(rep, method="dense", cache=False)
        assert got.dim == ref.dim == (0 if refl and n % 2 else RIORDAN[n])
        if got.dim:
            assert float(sl.principal_angles(ref.basis, got.basis).max()) < 1e-10
            assert _max_residual(rep, got.basis) < 1e-11
        # the recorded values bound the true spectrum: sigma_max <= s[0], smallest non-zero >= s[1]
        s_true = _ns(ref).singular_values
        s_cg = _ns(got).singular_values
        nonzero = s_true[s_true > 1e-8 * s_true[0]]
        assert float(s_true[0]) <= float(s_cg[0]) * (1 + 1e-12)
        assert float(nonzero[-1]) >= float(s_cg[1]) * (1 - 1e-12)
        assert _ns(got).rule["sigma_exact"] is False


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_recorded_spectrum_is_exact_for_the_library_so3(n):
    rep = sl.V(SO3) ** n
    ns = _ns(sl.invariant_basis(rep, method="cg", cache=False))
    s_true = _ns(sl.invariant_basis(rep, method="dense", cache=False)).singular_values
    nonzero = s_true[s_true > 1e-8 * s_true[0]]
    assert ns.rule["sigma_exact"] is True and ns.rule["via"] == "cg" and ns.rule["constructed"] is True
    assert float(ns.singular_values[0]) == pytest.approx(float(s_true[0]), rel=1e-12)   # sqrt(n(n+1)/2)
    assert float(ns.singular_values[1]) == pytest.approx(float(nonzero[-1]), rel=1e-12)  # 1 (the l = 1 copies)
    assert ns.rank == 2 and ns.singular_values.numel() == 3 and float(ns.singular_values[2]) < 1e-13
    assert ns.threshold == pytest.approx(1e-6 * float(ns.singular_values[0]))
    assert ns.gap_ratio > 1e12 and "constructed by Clebsch-Gordan coupling" in ns.reason and "verified" in ns.reason
    assert ns.rule["residual_frobenius"] == float(ns.singular_values[2])
    assert ns.rule["orthonormality"] < 1e-13 and ns.rule["expected_count"] == RIORDAN[n]


def test_auto_rule_and_cache():
    V = sl.V(SO3)
    B = sl.invariant_basis(V ** 9, cache=False)                                          # 19683 > cg_min = 6561
    assert B.method == {f"1->{V ** 9}": "cg"} and B.dim == 232
    assert sl.invariant_basis(V ** 7, cg_min=2187, cache=False).method == {f"1->{V ** 7}": "kron"}   # not above
    assert sl.invariant_basis(V ** 7, cg_min=2186, cache=False).method == {f"1->{V ** 7}": "cg"}
    assert sl.invariant_basis(V ** 5, cg_min=10, cache=False).method == {f"1->{V ** 5}": "dense"}  # <= dense_max
    # blocks it does not apply to keep their solvers
    R = sl.V(sl.SO(4)) ** 4
    assert sl.invariant_basis(R, dense_max=100, cg_min=10, cache=False).method == {f"1->{R}": "kron"}
    sl.clear_basis_cache()
    B1 = sl.invariant_basis(V ** 6, method="cg")
    B2 = sl.invariant_basis(V ** 6, method="cg")
    assert B2.blocks[0].Q is B1.blocks[0].Q
    sl.clear_basis_cache()


def test_save_and_load_keep_the_record(tmp_path):
    B = sl.invariant_basis(sl.V(O3) ** 4, method="cg", cache=False)
    path = B.save(tmp_path / "b")
    L = sl.EquivariantBasis.load(path)
    a, b = _ns(B), _ns(L)
    assert torch.equal(L.basis, B.basis) and L.method == B.method
    assert torch.equal(a.singular_values, b.singular_values)
    assert (a.rank, a.reason, a.rule) == (b.rank, b.reason, b.rule)


def test_cg_refuses_what_it_does_not_apply_to():
    cases = [(sl.V(sl.S(3)) ** 2, "S(3)"), (sl.V(sl.SO(4)) ** 2, "SO(4)"), (sl.V(sl.SE(3)).tangent() ** 2, "SE(3)"),
             ((sl.V(SO3) + sl.Scalar(SO3)) * sl.V(SO3), "factor"), (sl.V(sl.GL(3)) ** 2, "not SO(3) or O(3)"),
             (sl.V(sl.SO(2, 1)) ** 2, "antisymmetric")]
    for rep, word in cases:
        with pytest.raises(sl.SymlieError, match="method='cg'") as ei:
            sl.invariant_basis(rep, method="cg", cache=False)
        msg = str(ei.value)
        assert str(rep) in msg and word in msg, msg
    with pytest.raises(sl.SymlieError, match="method='cg'.*rtol=0.5"):
        sl.invariant_basis(sl.V(SO3) ** 6, method="cg", rtol=0.5, cache=False)
    # with such an rtol "auto" falls back to a spectral solver (which then cuts by that rule)
    assert sl.invariant_basis(sl.V(SO3) ** 6, cg_min=100, rtol=0.5, cache=False).method[f"1->{sl.V(SO3) ** 6}"] \
        in ("kron", "gram")
    with pytest.raises(ValueError, match="'cg'"):
        sl.invariant_basis(sl.V(SO3) ** 2, method="magic")


def test_memory_is_estimated_before_allocating():
    V = sl.V(SO3)
    with memory_limit(10 ** 8), pytest.raises(ResourceError, match="method='cg'.*59049 unknowns"):
        sl.invariant_basis(V ** 10, method="cg", cache=False)
    # V^(x)12 (the test of rank-6 maps in and out): cg needs ~25 GB, kron more; both named, refused at once
    msg = ""
    with memory_limit(8 * 10 ** 9), pytest.raises(ResourceError) as ei:
        sl.equivariant_basis(V ** 6, V ** 6, cache=False)
    msg = str(ei.value)
    assert "method='kron'" in msg and "method='cg' was refused too" in msg and "531441 unknowns" in msg
    assert eb.cg_bytes(11) < 4 * 2 ** 30 and eb.cg_bytes(10) < 2 ** 30       # the benchmark sizes fit easily


@pytest.mark.slow
@pytest.mark.parametrize("G", [SO3, O3], ids=["SO3", "O3"])
def test_rank_10_and_11(G):
    for n, want in [(10, 603), (11, 0 if G is O3 else 1585)]:
        B = sl.invariant_basis(sl.V(G) ** n, cache=False)
        ns = _ns(B)
        assert B.dim == want and B.method == {f"1->{sl.V(G) ** n}": "cg"}
        assert ns.rule["residual_max"] < 1e-14 and ns.rule["orthonormality"] < 1e-12
        if want:
            Q = B.blocks[0].Q
            rep = sl.V(G) ** n
            assert _max_residual(rep, Q[:, :8]) < 1e-13
