"""Equivariant bases: exact known counts, constraints satisfied, solvers agree, clear errors."""
import pytest
import torch

import symlie as sl


def _residuals(rep_in, rep_out, B):
    """max |drho_out W - W drho_in| over algebra basis and |rho_out(h) W rho_in(h)^-1 - W| over discrete gens."""
    G = rep_out.group
    Ws = B.matrices()                                   # (k, s_out, s_in)
    r = 0.0
    for X in G.algebra.basis:
        r = max(r, float((rep_out.drho(X) @ Ws - Ws @ rep_in.drho(X)).abs().max()))
    for h in G.discrete:
        r = max(r, float((rep_out.rho(h) @ Ws @ torch.linalg.inv(rep_in.rho(h)) - Ws).abs().max()))
    return r


@pytest.mark.parametrize("method", ["dense", "gram", "kron", "sparse", "auto"])
@pytest.mark.parametrize("p,expected", [(1, 1), (2, 3), (3, 15)])
def test_isotropic_so3_tensors(method, p, expected):
    G = sl.SO(3)
    rep = sl.TensorRep(G, p, p)
    B = sl.invariant_basis(rep, method=method, cache=False)
    assert B.dim == expected
    Q = B.basis
    assert torch.allclose(Q.T @ Q, torch.eye(expected, dtype=torch.float64), atol=1e-10)
    for X in G.algebra.basis:
        assert float(rep.apply_drho(X, Q.T).abs().max()) < 1e-10


def test_so3_maps_T2_to_T2():
    G = sl.SO(3)
    B = sl.equivariant_basis(sl.V(G) * sl.V(G), sl.V(G) * sl.V(G))
    assert B.dim == 3 and B.basis.shape == (81, 3)
    assert _residuals(sl.V(G) * sl.V(G), sl.V(G) * sl.V(G), B) < 1e-10
    assert B.gap_ratio > 1e6


@pytest.mark.parametrize("G,expected", [(sl.SO(1, 3), 4), (sl.Lorentz(), 3)])
def test_lorentz_vector_to_T21(G, expected):
    # 3 metric contractions, plus the Levi-Civita map which parity / time reversal remove
    rep_in, rep_out = sl.V(G), sl.TensorRep(G, 2, 1)
    for method in ["dense", "kron"]:
        B = sl.equivariant_basis(rep_in, rep_out, method=method, cache=False)
        assert B.dim == expected, method
        assert _residuals(rep_in, rep_out, B) < 1e-9


def test_o5_quadratic_invariants_of_two_vectors():
    G = sl.O(5)
    W = 2 * sl.V(G)
    B = sl.invariant_basis(W * W)
    assert B.dim == 4                        # bilinear forms: x1.x1, x1.x2, x2.x1, x2.x2
    M = B.basis.T.reshape(4, 10, 10)
    # symmetric bilinear forms = quadratic invariants: x1.x1, x1.x2, x2.x2
    antisym = (M - M.transpose(1, 2)).reshape(4, -1).T
    assert 4 - int(torch.linalg.matrix_rank(antisym, rtol=1e-9)) == 3


@pytest.mark.parametrize("G,rep_fn,expected", [
    (sl.S(4), lambda G: sl.V(G) ** 3, 5),           # EMLP anchor
    (sl.Z(5), lambda G: sl.V(G) ** 2, 5),           # EMLP anchor
    (sl.Sp(2), lambda G: sl.V(G) ** 2, 1),          # the symplectic form
    (sl.SL(3), lambda G: sl.V(G) * sl.V(G).dual(), 1),   # the identity
    (sl.GL(3), lambda G: sl.V(G) ** 2, 0),
    (sl.O(3), lambda G: sl.V(G) ** 3, 0),           # the Levi-Civita symbol is SO(3)- but not O(3)-invariant
    (sl.SO(3), lambda G: sl.V(G) ** 3, 1),
])
def test_known_invariant_counts(G, rep_fn, expected):
    rep = rep_fn(G)
    B = sl.invariant_basis(rep, cache=False)
    assert B.dim == expected
    for h in G.discrete:
        assert torch.allclose(rep.rho(h) @ B.basis, B.basis, atol=1e-10)


def test_direct_sums_are_solved_blockwise_and_cached():
    G = sl.O(3)
    rep_in = 3 * sl.Scalar(G) + 2 * sl.V(G)
    rep_out = sl.V(G) + sl.V(G) * sl.V(G) + sl.Scalar(G)
    sl.clear_basis_cache()
    B = sl.equivariant_basis(rep_in, rep_out)
    # V->V: 1 each (2 copies); 1->1: 1 each (3 copies); V->VxV, 1->V: 0; 1 -> VxV: 1 (delta) x 3; V -> 1: 0
    assert B.dim == 2 + 3 + 3
    assert _residuals(rep_in, rep_out, B) < 1e-10
    # random equivariant W commutes with sampled group elements (both components of O(3))
    W = B.matrices(torch.randn(B.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0)))
    for g in G.sample(4, generator=1):
        assert torch.allclose(rep_out.rho(g) @ W, W @ rep_in.rho(g), atol=1e-10)
    B2 = sl.equivariant_basis(rep_in, rep_out)
    assert B2.dim == B.dim and all(torch.equal(a.Q, b.Q) for a, b in zip(B.blocks, B2.blocks))
    assert "V->V" in B.summary()


def test_solvers_agree_on_the_subspace():
    G = sl.O(3)
    rep = sl.TensorRep(G, 2, 2)
    Qs = [sl.invariant_basis(rep, method=m, cache=False).basis for m in ["dense", "gram", "kron", "sparse"]]
    for Q in Qs[1:]:
        assert float(sl.principal_angles(Qs[0], Q).max()) < 1e-7


def test_spectrum_is_exposed_with_the_rank_rule():
    B = sl.invariant_basis(sl.TensorRep(sl.SO(3), 2, 2), method="dense", rtol=1e-6)
    ns = next(iter(B.spectra.values()))
    assert ns.singular_values.shape == (81,)
    assert ns.rule["rtol"] == 1e-6 and ns.dim == 3
    assert float(ns.normalized_spectrum[ns.rank - 1]) > 1e-3 > 1e-12 > float(ns.normalized_spectrum[ns.rank])


def test_errors():
    with pytest.raises(sl.SymlieError, match="different groups"):
        sl.equivariant_basis(sl.V(sl.SO(3)), sl.V(sl.O(3)))
    with pytest.raises(sl.SymlieError, match="no non-zero equivariant map"):
        sl.equivariant_basis(sl.V(sl.SO(3)), sl.Scalar(sl.SO(3)), allow_empty=False)
    assert sl.equivariant_basis(sl.V(sl.SO(3)), sl.Scalar(sl.SO(3))).dim == 0   # empty is not a crash
    with pytest.raises(sl.SymlieError, match="affine Point"):
        sl.equivariant_basis(sl.Point(sl.SE(3)), sl.V(sl.SE(3)))
    with pytest.raises(ValueError, match="rtol"):
        sl.invariant_basis(sl.V(sl.SO(3)), rtol=0)
    with pytest.raises(ValueError, match="method"):
        sl.invariant_basis(sl.V(sl.SO(3)) * sl.V(sl.SO(3)), method="magic")
    with pytest.raises(sl.SymlieError, match="kron"):
        sl.invariant_basis(sl.V(sl.S(3)) ** 2, method="kron")
