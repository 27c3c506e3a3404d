"""Tests of symlie.groups: named matrix Lie groups, sampling, components, finite groups, products, validation.

Group membership is checked against the defining equations (orthogonality, determinant, metric or
symplectic form preservation, homogeneous affine form), computed independently of the library.
"""
from __future__ import annotations

import itertools
import math

import pytest
import torch

import symlie as sl
from _helpers import DT, J_form, eta_pq

NUM = 96  # samples per group


# ---------------------------------------------------------------------------- helpers (independent of symlie)
def rel_err(lhs: torch.Tensor, rhs: torch.Tensor, scale: torch.Tensor) -> float:
    """max over the batch of |lhs - rhs|_F / scale."""
    return float((torch.linalg.matrix_norm(lhs - rhs) / scale).max())


def preserves_form(g: torch.Tensor, M: torch.Tensor, tol: float = 1e-12) -> bool:
    """g^T M g = M, relative to |g|_F^2 (entries of non-compact group elements can be large)."""
    return rel_err(g.transpose(-1, -2) @ M @ g, M.expand_as(g), torch.linalg.matrix_norm(g) ** 2) < tol


def is_homogeneous(g: torch.Tensor) -> bool:
    d = g.shape[-1]
    last = torch.zeros(d, dtype=DT)
    last[-1] = 1.0
    return bool((g[..., -1, :] == last).all())


def det(g: torch.Tensor) -> torch.Tensor:
    return torch.linalg.det(g)


def check_orthogonal(g: torch.Tensor, special: bool) -> None:
    n = g.shape[-1]
    assert (g.transpose(-1, -2) @ g - torch.eye(n, dtype=DT)).abs().max() < 1e-12
    d = det(g)
    assert ((d.abs() - 1).abs() < 1e-12).all()
    if special:
        assert ((d - 1).abs() < 1e-12).all()


def perm_matrix(perm) -> torch.Tensor:
    n = len(perm)
    M = torch.zeros(n, n, dtype=DT)
    for i, j in enumerate(perm):
        M[j, i] = 1.0
    return M


def is_perm_matrix(g: torch.Tensor) -> bool:
    ok_vals = ((g == 0) | (g == 1)).all()
    return bool(ok_vals and (g.sum(-1) == 1).all() and (g.sum(-2) == 1).all())


# ---------------------------------------------------------------------------- membership predicates
def member_SO(n):
    return lambda g: check_orthogonal(g, special=True)


def member_O(n):
    return lambda g: check_orthogonal(g, special=False)


def member_SE(n, special=True):
    def f(g):
        assert g.shape[-1] == n + 1
        assert is_homogeneous(g)
        check_orthogonal(g[..., :n, :n], special=special)
    return f


def member_T(n):
    def f(g):
        assert is_homogeneous(g)
        assert (g[..., :n, :n] == torch.eye(n, dtype=DT)).all()
    return f


def member_SL(n):
    def f(g):
        assert ((det(g) - 1).abs() < 1e-10).all()
    return f


def member_GL(n):
    def f(g):
        # condition number finite and |det| bounded away from 0 (exp(tr X) > 0 times +-1)
        assert torch.isfinite(g).all()
        assert (det(g).abs() > 1e-8).all()
    return f


def member_Sp(n2):
    def f(g):
        assert preserves_form(g, J_form(n2))
    return f


def member_SOpq(p, q, special):
    def f(g):
        assert preserves_form(g, eta_pq(p, q))
        d = det(g)
        assert ((d.abs() - 1).abs() < 1e-9).all()
        if special:
            assert ((d - 1).abs() < 1e-9).all()
    return f


def member_perm(n):
    def f(g):
        for x in g:
            assert is_perm_matrix(x)
    return f


def member_cyclic(n):
    C = perm_matrix([(i + 1) % n for i in range(n)])
    powers = torch.stack([torch.linalg.matrix_power(C, k) for k in range(n)])

    def f(g):
        for x in g:
            assert any(torch.equal(x, P) for P in powers)
    return f


GROUPS = [
    ("SO(2)", lambda: sl.SO(2), member_SO(2), 2, False),
    ("SO(3)", lambda: sl.SO(3), member_SO(3), 3, False),
    ("SO(4)", lambda: sl.SO(4), member_SO(4), 4, False),
    ("O(2)", lambda: sl.O(2), member_O(2), 2, False),
    ("O(3)", lambda: sl.O(3), member_O(3), 3, False),
    ("SE(2)", lambda: sl.SE(2), member_SE(2), 3, True),
    ("SE(3)", lambda: sl.SE(3), member_SE(3), 4, True),
    ("E(2)", lambda: sl.E(2), member_SE(2, special=False), 3, True),
    ("E(3)", lambda: sl.E(3), member_SE(3, special=False), 4, True),
    ("T(1)", lambda: sl.T(1), member_T(1), 2, True),
    ("T(3)", lambda: sl.T(3), member_T(3), 4, True),
    ("SL(2)", lambda: sl.SL(2), member_SL(2), 2, False),
    ("SL(3)", lambda: sl.SL(3), member_SL(3), 3, False),
    ("GL(2)", lambda: sl.GL(2), member_GL(2), 2, False),
    ("GL(3)", lambda: sl.GL(3), member_GL(3), 3, False),
    ("Sp(2)", lambda: sl.Sp(2), member_Sp(2), 2, False),
    ("Sp(4)", lambda: sl.Sp(4), member_Sp(4), 4, False),
    ("Sp(6)", lambda: sl.Sp(6), member_Sp(6), 6, False),
    ("SO(1,3)", lambda: sl.SO(1, 3), member_SOpq(1, 3, True), 4, False),
    ("SO(2,1)", lambda: sl.SO(2, 1), member_SOpq(2, 1, True), 3, False),
    ("SO(2,2)", lambda: sl.SO(2, 2), member_SOpq(2, 2, True), 4, False),
    ("O(1,3)", lambda: sl.O(1, 3), member_SOpq(1, 3, False), 4, False),
    ("O(2,1)", lambda: sl.O(2, 1), member_SOpq(2, 1, False), 3, False),
    ("O(0,3)", lambda: sl.O(0, 3), member_SOpq(0, 3, False), 3, False),
    ("O(3,0)", lambda: sl.O(3, 0), member_SOpq(3, 0, False), 3, False),
    ("Lorentz", lambda: sl.Lorentz(), member_SOpq(1, 3, False), 4, False),
    ("S(2)", lambda: sl.S(2), member_perm(2), 2, False),
    ("S(3)", lambda: sl.S(3), member_perm(3), 3, False),
    ("S(4)", lambda: sl.S(4), member_perm(4), 4, False),
    ("Z(2)", lambda: sl.Z(2), member_cyclic(2), 2, False),
    ("Z(5)", lambda: sl.Z(5), member_cyclic(5), 5, False),
]
GROUP_IDS = [g[0] for g in GROUPS]


@pytest.fixture(params=GROUPS, ids=GROUP_IDS)
def group_case(request):
    label, ctor, member, size, affine = request.param
    return label, ctor(), member, size, affine


def test_samples_are_group_elements(group_case):
    _, G, member, size, affine = group_case
    g = G.sample(NUM, generator=0)
    assert tuple(g.shape) == (NUM, size, size) and g.dtype == DT
    assert G.matrix_size == size and G.affine is affine
    member(g)
    # the identity, the discrete generators, and products/inverses of samples are members too
    member(G.identity()[None])
    if G.num_discrete:
        member(G.discrete)
    member(g[:-1] @ g[1:])
    member(torch.linalg.inv(g[:8]))


def test_sampling_is_deterministic(group_case):
    _, G, _, _, _ = group_case
    a = G.sample(12, generator=123)
    b = G.sample(12, generator=123)
    gen = torch.Generator()
    gen.manual_seed(123)
    c = G.sample(12, generator=gen)
    assert torch.equal(a, b) and torch.equal(a, c)
    # a different seed gives different elements (the groups here have more than one element)
    d = G.sample(12, generator=124)
    assert not torch.equal(a, d)


def test_sampling_is_independent_of_global_rng(group_case):
    _, G, _, _, _ = group_case
    torch.manual_seed(1)
    a = G.sample(4, generator=5)
    torch.manual_seed(2)
    torch.randn(10)
    b = G.sample(4, generator=5)
    assert torch.equal(a, b)


def test_algebra_is_tangent_to_group(group_case):
    """exp(t xi) is in the group for every basis element xi and several t (so the algebra is the right one)."""
    _, G, member, _, _ = group_case
    if G.dim == 0:
        assert tuple(G.algebra.basis.shape) == (0, G.matrix_size, G.matrix_size)
        return
    ts = torch.tensor([-1.3, 0.4, 2.0], dtype=DT)
    X = ts[:, None, None, None] * G.algebra.basis[None]
    member(torch.linalg.matrix_exp(X.reshape(-1, G.matrix_size, G.matrix_size)))


def test_discrete_generators_normalise_algebra(group_case):
    _, G, _, _, _ = group_case
    if G.dim == 0 or G.num_discrete == 0:
        return
    B = G.algebra.basis
    F = B.reshape(B.shape[0], -1)
    P = F.T @ torch.linalg.pinv(F.T)  # projector onto the algebra, computed independently
    for h in G.discrete:
        conj = (h @ B @ torch.linalg.inv(h)).reshape(B.shape[0], -1)
        assert (conj - conj @ P.T).abs().max() < 1e-12
        assert G.algebra.contains(h @ B @ torch.linalg.inv(h)).all()


# ---------------------------------------------------------------------------- components reached
def _signs(x: torch.Tensor) -> set:
    return set(torch.sign(x).to(torch.int64).tolist())


@pytest.mark.parametrize("n", [2, 3, 4])
def test_O_reaches_both_determinants(n):
    g = sl.O(n).sample(NUM, generator=n)
    assert _signs(det(g)) == {-1, 1}
    # SO(n) stays in the identity component
    assert _signs(det(sl.SO(n).sample(NUM, generator=n))) == {1}


@pytest.mark.parametrize("n", [2, 3])
def test_E_reaches_reflections(n):
    g = sl.E(n).sample(NUM, generator=n)
    assert _signs(det(g[:, :n, :n])) == {-1, 1}
    assert _signs(det(sl.SE(n).sample(NUM, generator=n)[:, :n, :n])) == {1}
    # translations are non-trivial
    assert g[:, :n, n].abs().max() > 0.5


@pytest.mark.parametrize("n", [2, 3])
def test_GL_reaches_negative_determinant(n):
    g = sl.GL(n).sample(NUM, generator=n)
    assert _signs(det(g)) == {-1, 1}
    # the identity component alone has positive determinant: det exp(X) = exp(tr X)
    X = sl.gl(n).random_element(8, generator=1)
    e = sl.gl(n).exp(X)
    assert torch.allclose(det(e), torch.exp(torch.diagonal(X, dim1=-2, dim2=-1).sum(-1)), rtol=1e-10, atol=0)


def test_lorentz_reaches_all_four_components():
    g = sl.Lorentz().sample(200, generator=0)
    eta = eta_pq(1, 3)
    assert preserves_form(g, eta)
    assert (g[:, 0, 0].abs() >= 1 - 1e-12).all()  # |g00| >= 1 for any Lorentz transformation
    comps = {(int(torch.sign(x[0, 0])), int(torch.sign(det(x)).round())) for x in g}
    assert comps == {(1, 1), (1, -1), (-1, 1), (-1, -1)}
    # both signs of g[0,0] (time reversal) and of det (parity)
    assert _signs(g[:, 0, 0]) == {-1, 1}
    assert _signs(det(g)) == {-1, 1}


def test_lorentz_discrete_generators_are_parity_and_time_reversal():
    D = sl.Lorentz().discrete
    expected = {(1.0, -1.0, -1.0, -1.0), (-1.0, 1.0, 1.0, 1.0)}
    assert {tuple(torch.diagonal(h).tolist()) for h in D} == expected
    assert all(torch.equal(h, torch.diag(torch.diagonal(h))) for h in D)


def test_SO_1_3_has_two_components():
    g = sl.SO(1, 3).sample(200, generator=1)
    assert ((det(g) - 1).abs() < 1e-9).all()
    assert _signs(g[:, 0, 0]) == {-1, 1}  # the PT component is reached
    # the restricted Lorentz group (no discrete generators) never reverses time
    g0 = sl.Group(sl.lorentz()).sample(200, generator=1)
    assert (g0[:, 0, 0] >= 1 - 1e-12).all()


@pytest.mark.parametrize("p,q", [(2, 1), (2, 2), (1, 2)])
def test_SO_pq_components(p, q):
    # SO(p,q), p, q > 0: det 1 and two components told apart by the sign of det of the p x p block
    g = sl.SO(p, q).sample(200, generator=p + q)
    assert preserves_form(g, eta_pq(p, q))
    assert _signs(det(g[:, :p, :p])) == {-1, 1}
    assert ((det(g) - 1).abs() < 1e-9).all()


@pytest.mark.parametrize("p,q", [(1, 3), (2, 1), (2, 2)])
def test_O_pq_reaches_four_components(p, q):
    g = sl.O(p, q).sample(300, generator=7)
    assert preserves_form(g, eta_pq(p, q))
    comps = {(int(torch.sign(det(x[:p, :p]))), int(torch.sign(det(x[p:, p:])))) for x in g}
    assert comps == {(1, 1), (1, -1), (-1, 1), (-1, -1)}


def test_scale_zero_sample_is_discrete_word():
    R = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=DT))
    g = sl.O(3).sample(50, scale=0.0, generator=0)
    I = torch.eye(3, dtype=DT)
    is_I = torch.tensor([torch.equal(x, I) for x in g])
    is_R = torch.tensor([torch.equal(x, R) for x in g])
    assert (is_I | is_R).all() and is_I.any() and is_R.any()
    # connected group at scale 0: exactly the identity
    assert torch.equal(sl.SO(3).sample(5, scale=0.0, generator=0), I.expand(5, 3, 3))


def test_sample_scale_controls_distance_from_identity():
    G = sl.SO(3)
    small = G.sample(50, scale=1e-3, generator=0)
    big = G.sample(50, scale=1.0, generator=0)
    I = torch.eye(3, dtype=DT)
    d_small = torch.linalg.matrix_norm(small - I)
    d_big = torch.linalg.matrix_norm(big - I)
    assert d_small.max() < 1e-2
    assert d_big.mean() > 0.5


# ---------------------------------------------------------------------------- finite groups
@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_symmetric_group_elements(n):
    G = sl.S(n)
    assert G.dim == 0
    els = G.elements()
    assert els.shape[0] == math.factorial(n)
    expected = {tuple(perm_matrix(p).flatten().tolist()) for p in itertools.permutations(range(n))}
    got = {tuple(x.flatten().tolist()) for x in els}
    assert got == expected
    assert torch.equal(els[0], torch.eye(n, dtype=DT))


@pytest.mark.parametrize("n", [2, 3, 6])
def test_cyclic_group_elements(n):
    G = sl.Z(n)
    els = G.elements()
    assert els.shape[0] == n
    C = perm_matrix([(i + 1) % n for i in range(n)])
    expected = {tuple(torch.linalg.matrix_power(C, k).flatten().tolist()) for k in range(n)}
    assert {tuple(x.flatten().tolist()) for x in els} == expected
    # the generator is the shift e_i -> e_{i+1}: (C x)_{i+1} = x_i
    x = torch.arange(n, dtype=DT)
    assert torch.equal(G.discrete[0] @ x, torch.roll(x, 1))
    assert torch.equal(torch.linalg.matrix_power(G.discrete[0], n), torch.eye(n, dtype=DT))


def test_finite_group_elements_are_closed():
    els = sl.S(3).elements()
    keys = {tuple(x.flatten().tolist()) for x in els}
    for a, b in itertools.product(els, els):
        assert tuple((a @ b).flatten().tolist()) in keys


def test_finite_group_samples_reach_all_of_small_group():
    g = sl.Z(3).sample(100, generator=0)
    assert len({tuple(x.flatten().tolist()) for x in g}) == 3
    g = sl.S(3).sample(300, generator=0)
    assert len({tuple(x.flatten().tolist()) for x in g}) == 6


def test_elements_refuses_continuous_and_infinite_groups():
    with pytest.raises(sl.SymlieError, match="elements: SO\\(3\\) has a continuous part"):
        sl.SO(3).elements()
    zero = sl.LieAlgebra(torch.zeros(0, 2, 2), size=2)
    G = sl.Group(zero, torch.diag(torch.tensor([2.0, 1.0], dtype=DT)))  # infinite cyclic
    with pytest.raises(sl.SymlieError, match="max_size=50"):
        G.elements(max_size=50)


@pytest.mark.parametrize("ctor", [sl.S, sl.Z], ids=["S", "Z"])
@pytest.mark.parametrize("bad", [1, 0, -2, True, 2.5])
def test_finite_groups_reject_bad_n(ctor, bad):
    with pytest.raises(ValueError, match="n: expected an int >= 2"):
        ctor(bad)


# ---------------------------------------------------------------------------- direct products
def test_direct_product_linear_blocks():
    G = sl.O(2) * sl.SO(3)
    H = sl.direct_product(sl.O(2), sl.SO(3))
    assert G == H
    assert G.dim == 1 + 3 and G.matrix_size == 5 and G.num_discrete == 1
    g = G.sample(NUM, generator=3)
    assert (g[:, :2, 2:] == 0).all() and (g[:, 2:, :2] == 0).all()
    check_orthogonal(g[:, :2, :2], special=False)
    check_orthogonal(g[:, 2:, 2:], special=True)
    assert _signs(det(g[:, :2, :2])) == {-1, 1}
    # the discrete generator reflects only the first factor
    expected = torch.eye(5, dtype=DT)
    expected[0, 0] = -1
    assert torch.equal(G.discrete[0], expected)


def test_direct_product_components_independent():
    g = (sl.O(2) * sl.O(3)).sample(300, generator=0)
    comps = {(int(torch.sign(det(x[:2, :2]))), int(torch.sign(det(x[2:, 2:])))) for x in g}
    assert comps == {(1, 1), (1, -1), (-1, 1), (-1, -1)}


def test_direct_product_affine():
    G = sl.direct_product(sl.E(2), sl.SO(3))
    assert G.affine and G.n == 5 and G.matrix_size == 6 and G.dim == 3 + 3
    g = G.sample(NUM, generator=1)
    assert is_homogeneous(g)
    check_orthogonal(g[:, :2, :2], special=False)
    check_orthogonal(g[:, 2:5, 2:5], special=True)
    assert (g[:, :2, 2:5] == 0).all() and (g[:, 2:5, :2] == 0).all()
    assert (g[:, 2:5, 5] == 0).all()  # the SO(3) factor is not translated
    assert g[:, :2, 5].abs().max() > 0.5  # the E(2) factor is
    assert _signs(det(g[:, :2, :2])) == {-1, 1}
    # discrete generators of the factors are homogeneous and normalise the product algebra
    assert is_homogeneous(G.discrete)
    assert G.algebra.contains(G.discrete[0] @ G.algebra.basis @ torch.linalg.inv(G.discrete[0])).all()
    # a discrete generator with a translation keeps it, on its own block: (x, y) -> (R x + b, y)
    h = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=DT))
    h[:2, 2] = torch.tensor([3.0, -2.0], dtype=DT)
    P = sl.direct_product(sl.SO(2), sl.Group(sl.se(2), h))
    expected = torch.eye(5, dtype=DT)
    expected[2:4, 2:4] = h[:2, :2]
    expected[2:4, 4] = h[:2, 2]
    assert P.num_discrete == 1 and torch.equal(P.discrete[0], expected)


def test_direct_product_finite_with_continuous():
    G = sl.S(3) * sl.SO(2)
    assert G.dim == 1 and G.num_discrete == 2 and G.matrix_size == 5
    g = G.sample(NUM, generator=4)
    assert all(is_perm_matrix(x[:3, :3]) for x in g)
    check_orthogonal(g[:, 3:, 3:], special=True)
    # finite x finite: |S(3) x Z(2)| = 12
    assert (sl.S(3) * sl.Z(2)).elements().shape[0] == 12


def test_direct_product_with_algebra_and_errors():
    G = sl.direct_product(sl.so(2), sl.SO(2))  # a LieAlgebra is promoted to its connected group
    assert G.dim == 2 and G.num_discrete == 0
    with pytest.raises(ValueError, match="at least one"):
        sl.direct_product()
    with pytest.raises(TypeError, match="expected a Group or LieAlgebra"):
        sl.direct_product(sl.SO(2), torch.eye(2))
    assert sl.as_group(G) is G
    assert sl.as_group(sl.so(3)).algebra == sl.so(3)


# ---------------------------------------------------------------------------- properties and equality
def test_group_properties():
    G = sl.E(3)
    assert G.n == 3 and G.matrix_size == 4 and G.affine and G.dim == 6 and G.num_discrete == 1
    assert torch.equal(G.identity(), torch.eye(4, dtype=DT))
    L = sl.Lorentz()
    assert L.n == 4 and not L.affine and L.dim == 6 and L.num_discrete == 2
    assert torch.equal(sl.minkowski_metric(), eta_pq(1, 3))
    assert torch.equal(sl.minkowski_metric(2, 1), eta_pq(2, 1))


def test_group_equality_and_hash():
    assert sl.SO(3) == sl.SO(3) and hash(sl.SO(3)) == hash(sl.SO(3))
    assert sl.SO(3) != sl.O(3)
    G = sl.Group(sl.so(3), sl.O(3).discrete, name="renamed")
    assert G == sl.O(3) and hash(G) == hash(sl.O(3))


# ---------------------------------------------------------------------------- validation
def test_non_normalising_discrete_generator_raises():
    shear = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=DT)
    with pytest.raises(sl.SymlieError, match="discrete: generator conjugation"):
        sl.Group(sl.so(3), shear)
    # a non-uniform scaling does not normalise so(3) either
    with pytest.raises(sl.SymlieError, match="discrete"):
        sl.Group(sl.so(3), torch.diag(torch.tensor([1.0, 2.0, 1.0], dtype=DT)))
    # but it does normalise gl(3), and anything normalises when the check is switched off
    sl.Group(sl.gl(3), shear)
    sl.Group(sl.so(3), shear, check=False)
    # valid normalisers are accepted: -I, a uniform scaling, a permutation
    sl.Group(sl.so(3), -torch.eye(3, dtype=DT))
    sl.Group(sl.so(3), 2 * torch.eye(3, dtype=DT))
    sl.Group(sl.so(3), perm_matrix([1, 2, 0]))
    # rescaling time alone (not an isometry of eta) does not normalise so(1,3)
    with pytest.raises(sl.SymlieError):
        sl.Group(sl.lorentz(), torch.diag(torch.tensor([2.0, 1.0, 1.0, 1.0], dtype=DT)))


def test_non_invertible_discrete_generator_raises():
    singular = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]], dtype=DT)
    with pytest.raises(ValueError, match="discrete: generators must be invertible"):
        sl.Group(sl.so(3), singular)
    with pytest.raises(ValueError, match="discrete: generators must be invertible"):
        sl.Group(sl.so(2), torch.stack([torch.eye(2, dtype=DT), torch.ones(2, 2, dtype=DT)]))


def test_affine_discrete_generator_must_be_homogeneous():
    bad = torch.eye(3, dtype=DT)
    bad[2, 0] = 1.0
    with pytest.raises(ValueError, match="discrete: affine group elements must be homogeneous"):
        sl.Group(sl.se(2), bad)
    bad = 2 * torch.eye(3, dtype=DT)
    with pytest.raises(ValueError, match="homogeneous"):
        sl.Group(sl.se(2), bad)
    # a homogeneous reflection with a translation is fine
    good = torch.diag(torch.tensor([-1.0, 1.0, 1.0], dtype=DT))
    good[1, 2] = 3.0
    G = sl.Group(sl.se(2), good)
    assert is_homogeneous(G.sample(10, generator=0))


@pytest.mark.parametrize("disc, exc, match", [
    (torch.eye(2, dtype=DT), ValueError, "discrete: expected 3x3 matrices"),
    (torch.full((3, 3), float("nan"), dtype=DT), ValueError, "discrete: contains 9 NaN or Inf"),
    (torch.eye(3, dtype=torch.complex128), TypeError, "discrete: complex values"),
    (torch.zeros(1, 1, 3, 3, dtype=DT), ValueError, "discrete: expected a stack of square matrices"),
    (torch.zeros(3, 4, dtype=DT), ValueError, "discrete: matrices must be square"),
], ids=["size", "nan", "complex", "4d", "nonsquare"])
def test_discrete_bad_input(disc, exc, match):
    with pytest.raises(exc, match=match):
        sl.Group(sl.so(3), disc)


def test_group_bad_algebra_and_num():
    with pytest.raises(TypeError, match="algebra: expected a LieAlgebra"):
        sl.Group(torch.eye(3))
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError, match="num: expected an int >= 1"):
            sl.SO(3).sample(bad)


@pytest.mark.parametrize("ctor, arg, match", [
    (sl.SO, 1, "n: expected an int >= 2"), (sl.O, 0, "n: expected an int >= 2"), (sl.SE, 1, "n: expected"),
    (sl.E, True, "n: expected"), (sl.T, 0, "n: expected an int >= 1"), (sl.SL, 1, "n: expected an int >= 2"),
    (sl.GL, -1, "n: expected an int >= 1"), (sl.Sp, 3, "n2: the symplectic form needs an even size"),
    (sl.Sp, 0, "n2: expected an int >= 2"),
])
def test_named_groups_reject_bad_size(ctor, arg, match):
    with pytest.raises(ValueError, match=match):
        ctor(arg)


def test_small_but_well_conditioned_discrete_generator_is_accepted():
    import torch
    import symlie as sl
    G = sl.Group(sl.gl(3), 1e-3 * torch.eye(3, dtype=torch.float64))
    assert G.num_discrete == 1
    with pytest.raises(ValueError, match="discrete: generators must be invertible"):
        sl.Group(sl.gl(3), torch.diag(torch.tensor([1.0, 1.0, 1e-14], dtype=torch.float64)))


def test_copies_without_translation_explains_itself():
    import symlie as sl
    with pytest.raises(ValueError, match="translate: with no copy translated"):
        sl.t(2).copies(3, translate=[False, False, False])
