"""Tests of symlie.reps: representations of matrix groups and their Lie algebras.

Ground truth is an independent dense reference built in this file from the definitions
(V: A, V*: -A^T / g^{-T}, trivial: 0 / I, sums: block diagonal, products: Kronecker sum / product), plus the
defining identities of a representation: rho(exp(t xi)) = exp(t drho(xi)), rho(gh) = rho(g) rho(h),
drho([a, b]) = [drho(a), drho(b)].
"""
from __future__ import annotations

import math
import string

import pytest
import torch

import symlie as sl
from _helpers import DT


# ----------------------------------------------------------------------------- groups
GROUPS = {
    "SO3": lambda: sl.SO(3),
    "O3": lambda: sl.O(3),
    "Lorentz": lambda: sl.Lorentz(),
    "Sp4": lambda: sl.Sp(4),
    "GL3": lambda: sl.GL(3),
    "SE3": lambda: sl.SE(3),  # V(SE(3)) is the linear part
    "S4": lambda: sl.S(4),
}
CONTINUOUS = [k for k in GROUPS if k != "S4"]


# ----------------------------------------------------------------------------- independent dense reference
class Ref:
    """Dense reference: d(A) for one (dd, dd) algebra matrix, r(g) for one group matrix."""

    def __init__(self, d, r):
        self.d, self.r = d, r


def r_V(G):
    n = G.n
    return Ref(lambda A: A[:n, :n].clone(), lambda g: g[:n, :n].clone())


def r_Vd(G):
    n = G.n
    return Ref(lambda A: -A[:n, :n].T.clone(), lambda g: torch.linalg.inv(g[:n, :n]).T.clone())


def r_1(G, k=1):
    return Ref(lambda A: torch.zeros(k, k, dtype=DT), lambda g: torch.eye(k, dtype=DT))


def r_sum(*rs):
    return Ref(lambda A: torch.block_diag(*[r.d(A) for r in rs]), lambda g: torch.block_diag(*[r.r(g) for r in rs]))


def r_prod(*rs):
    def d(A):
        ms = [r.d(A) for r in rs]
        total = 0
        for i in range(len(ms)):
            term = torch.ones(1, 1, dtype=DT)
            for j, m in enumerate(ms):
                term = torch.kron(term, m.contiguous() if i == j else torch.eye(m.shape[0], dtype=DT))
            total = total + term
        return total

    def r(g):
        out = torch.ones(1, 1, dtype=DT)
        for rr in rs:
            out = torch.kron(out, rr.r(g).contiguous())
        return out

    return Ref(d, r)


def _tensor_ref(G, p, q):
    fs = [r_V(G)] * p + [r_Vd(G)] * q
    return r_prod(*fs) if fs else r_1(G)


# name -> (builder G -> Rep, reference G -> Ref, size as a function of n)
CASES = {
    "V": (lambda G: sl.V(G), r_V, lambda n: n),
    "Vdual": (lambda G: sl.V(G).dual(), r_Vd, lambda n: n),
    "Covector": (lambda G: sl.Covector(G), r_Vd, lambda n: n),
    "Scalar": (lambda G: sl.Scalar(G), r_1, lambda n: 1),
    "Trivial2": (lambda G: sl.Trivial(G, 2), lambda G: r_1(G, 2), lambda n: 2),
    "V+Vdual": (lambda G: sl.V(G) + sl.V(G).dual(), lambda G: r_sum(r_V(G), r_Vd(G)), lambda n: 2 * n),
    "3V": (lambda G: 3 * sl.V(G), lambda G: r_sum(r_V(G), r_V(G), r_V(G)), lambda n: 3 * n),
    "V*V": (lambda G: sl.V(G) * sl.V(G), lambda G: r_prod(r_V(G), r_V(G)), lambda n: n * n),
    "V*Vdual": (lambda G: sl.V(G) * sl.V(G).dual(), lambda G: r_prod(r_V(G), r_Vd(G)), lambda n: n * n),
    "V**3": (lambda G: sl.V(G) ** 3, lambda G: r_prod(r_V(G), r_V(G), r_V(G)), lambda n: n ** 3),
    "T(0,2)": (lambda G: sl.TensorRep(G, 0, 2), lambda G: _tensor_ref(G, 0, 2), lambda n: n ** 2),
    "T(2,1)": (lambda G: sl.TensorRep(G, 2, 1), lambda G: _tensor_ref(G, 2, 1), lambda n: n ** 3),
    "T(1,2)": (lambda G: sl.TensorRep(G, 1, 2), lambda G: _tensor_ref(G, 1, 2), lambda n: n ** 3),
    "(V+1)*Vdual": (lambda G: (sl.V(G) + sl.Scalar(G)) * sl.V(G).dual(),
                    lambda G: r_prod(r_sum(r_V(G), r_1(G)), r_Vd(G)), lambda n: (n + 1) * n),
    "Vdual*(2V+1)": (lambda G: sl.V(G).dual() * (2 * sl.V(G) + sl.Scalar(G)),
                     lambda G: r_prod(r_Vd(G), r_sum(r_V(G), r_V(G), r_1(G))), lambda n: n * (2 * n + 1)),
    "V*V+Vdual+2": (lambda G: sl.V(G) * sl.V(G) + sl.V(G).dual() + sl.Trivial(G, 2),
                    lambda G: r_sum(r_prod(r_V(G), r_V(G)), r_Vd(G), r_1(G, 2)), lambda n: n * n + n + 2),
    "Trivial2*V": (lambda G: sl.Trivial(G, 2) * sl.V(G), lambda G: r_prod(r_1(G, 2), r_V(G)), lambda n: 2 * n),
}
# a smaller set for the (heavier) algebra / group identity checks
CORE = ["V", "Vdual", "Scalar", "V+Vdual", "3V", "V*V", "V*Vdual", "V**3", "T(0,2)", "T(2,1)", "(V+1)*Vdual",
        "Vdual*(2V+1)", "V*V+Vdual+2", "Trivial2*V"]


def _alg_elements(G, num, seed, scale=0.6):
    return G.algebra.random_element(num, scale=scale, generator=seed)


def _group_elements(G, num, seed, scale=0.6):
    return G.sample(num, scale=scale, generator=seed)


def _close(a, b, tol=1e-10):
    scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
    err = float((a - b).abs().max()) if b.numel() else 0.0
    assert a.shape == b.shape, (a.shape, b.shape)
    assert err <= tol * scale, f"max error {err:.3e} > {tol:g} * {scale:.3e}"


# ----------------------------------------------------------------------------- sizes and dense matrices
@pytest.mark.parametrize("gname", list(GROUPS))
@pytest.mark.parametrize("case", list(CASES))
def test_size(case, gname):
    G = GROUPS[gname]()
    build, _, size = CASES[case]
    rep = build(G)
    assert rep.size == size(G.n)
    assert rep.group == G


@pytest.mark.parametrize("gname", CONTINUOUS)
@pytest.mark.parametrize("case", list(CASES))
def test_drho_matches_reference(case, gname):
    G = GROUPS[gname]()
    build, ref_fn, _ = CASES[case]
    rep, ref = build(G), ref_fn(G)
    X = _alg_elements(G, 3, seed=1)
    D = rep.drho(X)
    s = rep.size
    assert D.shape == (3, s, s) and D.dtype == DT
    for k in range(3):
        _close(D[k], ref.d(X[k]), 1e-13)
    # a single (d, d) element gives a single matrix
    _close(rep.drho(X[0]), ref.d(X[0]), 1e-13)


@pytest.mark.parametrize("gname", list(GROUPS))
@pytest.mark.parametrize("case", list(CASES))
def test_rho_matches_reference(case, gname):
    G = GROUPS[gname]()
    build, ref_fn, _ = CASES[case]
    rep, ref = build(G), ref_fn(G)
    g = _group_elements(G, 3, seed=2)
    R = rep.rho(g)
    assert R.shape == (3, rep.size, rep.size)
    for k in range(3):
        _close(R[k], ref.r(g[k]), 1e-12)
    _close(rep.rho(G.identity()), torch.eye(rep.size, dtype=DT), 1e-14)


@pytest.mark.parametrize("gname", CONTINUOUS)
@pytest.mark.parametrize("case", CORE)
def test_rho_of_exp_is_exp_of_drho(case, gname):
    G = GROUPS[gname]()
    rep = CASES[case][0](G)
    X = _alg_elements(G, 2, seed=3, scale=0.8)
    for t in (0.3, 1.0, -1.7):
        lhs = rep.rho(torch.linalg.matrix_exp(t * X))
        rhs = torch.linalg.matrix_exp(t * rep.drho(X))
        _close(lhs, rhs, 1e-10)


@pytest.mark.parametrize("gname", list(GROUPS))
@pytest.mark.parametrize("case", CORE)
def test_rho_is_homomorphism(case, gname):
    G = GROUPS[gname]()
    rep = CASES[case][0](G)
    g = _group_elements(G, 4, seed=4)
    h = _group_elements(G, 4, seed=5)
    _close(rep.rho(g @ h), rep.rho(g) @ rep.rho(h), 1e-10)
    # inverses map to inverses
    _close(rep.rho(torch.linalg.inv(g)) @ rep.rho(g), torch.eye(rep.size, dtype=DT).expand(4, -1, -1), 1e-10)


@pytest.mark.parametrize("gname", ["O3", "Lorentz", "GL3", "S4"])
@pytest.mark.parametrize("case", ["V", "V*Vdual", "(V+1)*Vdual", "T(2,1)"])
def test_rho_on_discrete_generators(case, gname):
    """Discrete generators (reflections, P, T, permutations) are represented like any other element."""
    G = GROUPS[gname]()
    build, ref_fn, _ = CASES[case]
    rep, ref = build(G), ref_fn(G)
    H = G.discrete
    RD = rep.rho_discrete
    assert RD.shape == (G.num_discrete, rep.size, rep.size)
    for k in range(G.num_discrete):
        _close(RD[k], ref.r(H[k]), 1e-13)
    # products of two generators
    _close(rep.rho(H[:, None] @ H[None]), RD[:, None] @ RD[None], 1e-12)


def test_permutation_representation_of_S4_on_tensors():
    """For S(4), rho on V (x) V permutes the 16 index pairs: rho(P) e_i (x) e_j = e_pi(i) (x) e_pi(j)."""
    G = sl.S(4)
    els = G.elements()
    assert els.shape[0] == 24
    rep = sl.V(G) * sl.V(G)
    R = rep.rho(els)
    for P, RP in zip(els, R):
        perm = P.argmax(0)  # column i has its 1 in row perm[i]: e_i -> e_perm(i)
        expect = torch.zeros(16, 16, dtype=DT)
        for i in range(4):
            for j in range(4):
                expect[4 * int(perm[i]) + int(perm[j]), 4 * i + j] = 1.0
        assert torch.equal(RP, expect)


@pytest.mark.parametrize("gname", CONTINUOUS)
@pytest.mark.parametrize("case", CORE)
def test_drho_preserves_brackets(case, gname):
    G = GROUPS[gname]()
    rep = CASES[case][0](G)
    a = _alg_elements(G, 3, seed=6)
    b = _alg_elements(G, 3, seed=7)
    Da, Db = rep.drho(a), rep.drho(b)
    _close(rep.drho(a @ b - b @ a), Da @ Db - Db @ Da, 1e-12)
    # and is linear
    _close(rep.drho(2.0 * a - 0.5 * b), 2.0 * Da - 0.5 * Db, 1e-13)


# ----------------------------------------------------------------------------- structured application
def _dense_apply(M, v, nb):
    """M (*B, s, s), v (*B, *P, s) -> (*B, *P, s)."""
    P = v.shape[nb:-1]
    Mb = M.reshape(*M.shape[:-2], *([1] * len(P)), *M.shape[-2:])
    return (Mb @ v.unsqueeze(-1)).squeeze(-1)


@pytest.mark.parametrize("gname", CONTINUOUS)
@pytest.mark.parametrize("case", CORE)
def test_apply_drho_and_apply_rho_equal_dense(case, gname):
    """Structured application (factor by factor) equals the dense matrix applied, for generator batch
    shapes (), (2,), (2, 3) and point shapes (5,), (4, 3)."""
    G = GROUPS[gname]()
    rep = CASES[case][0](G)
    gen = torch.Generator().manual_seed(8)
    d = G.matrix_size
    for batch in [(), (2,), (2, 3)]:
        for points in [(5,), (4, 3)]:
            nb = len(batch)
            num = math.prod(batch) if batch else 1
            X = _alg_elements(G, num, seed=9).reshape(*batch, d, d)
            g = _group_elements(G, num, seed=10).reshape(*batch, d, d)
            v = torch.randn(*batch, *points, rep.size, generator=gen, dtype=DT)
            out_d = rep.apply_drho(X, v)
            out_r = rep.apply_rho(g, v)
            assert out_d.shape == v.shape and out_r.shape == v.shape
            _close(out_d, _dense_apply(rep.drho(X), v, nb), 1e-12)
            _close(out_r, _dense_apply(rep.rho(g), v, nb), 1e-11)


@pytest.mark.parametrize("case", ["V", "V*V", "(V+1)*Vdual", "T(2,1)"])
def test_apply_rho_discrete_group(case):
    G = sl.S(4)
    rep = CASES[case][0](G)
    g = G.elements()[:6].reshape(2, 3, 4, 4)
    v = torch.randn(2, 3, 7, rep.size, generator=torch.Generator().manual_seed(11), dtype=DT)
    _close(rep.apply_rho(g, v), _dense_apply(rep.rho(g), v, 2), 1e-13)


@pytest.mark.parametrize("gname", CONTINUOUS)
@pytest.mark.parametrize("case", ["V", "V*V", "(V+1)*Vdual", "V*V+Vdual+2"])
def test_vector_field_and_act_of_linear_reps(case, gname):
    """For a linear representation, vector_field is drho(X) x and act is rho(g) x, on points (N, s)."""
    G = GROUPS[gname]()
    rep = CASES[case][0](G)
    x = torch.randn(6, rep.size, generator=torch.Generator().manual_seed(12), dtype=DT)
    X = _alg_elements(G, 3, seed=13)
    g = _group_elements(G, 3, seed=14)
    _close(rep.vector_field(X, x), torch.einsum("qij,nj->qni", rep.drho(X), x), 1e-12)
    _close(rep.act(g, x), torch.einsum("qij,nj->qni", rep.rho(g), x), 1e-12)
    _close(rep.vector_field(X[0], x), x @ rep.drho(X[0]).T, 1e-12)


@pytest.mark.parametrize("gname", ["SE3", "SE2", "sim2"])
def test_point_action_is_affine(gname):
    G = {"SE3": sl.SE(3), "SE2": sl.SE(2), "sim2": sl.as_group(sl.sim(2))}[gname]
    n = G.n
    P = sl.Point(G)
    assert not P.is_linear and P.size == n
    assert P.tangent() == sl.V(G)
    x = torch.randn(7, n, generator=torch.Generator().manual_seed(15), dtype=DT)
    X = _alg_elements(G, 3, seed=16)
    g = _group_elements(G, 3, seed=17)
    xh = torch.cat([x, torch.ones(7, 1, dtype=DT)], 1)
    _close(P.act(g, x), torch.einsum("qij,nj->qni", g, xh)[..., :n], 1e-13)
    _close(P.vector_field(X, x), torch.einsum("qij,nj->qni", X, xh)[..., :n], 1e-13)
    # the action is a left action: act(g, act(h, x)) = act(g h, x)
    _close(P.act(g[0], P.act(g[1], x)), P.act(g[0] @ g[1], x), 1e-12)
    # sums of affine Point actions act blockwise; velocities (the tangent) see only the linear part
    R = sl.Point(G) + sl.Point(G).tangent()
    y = torch.randn(7, 2 * n, generator=torch.Generator().manual_seed(18), dtype=DT)
    got = R.act(g, y)
    _close(got[..., :n], P.act(g, y[:, :n]), 1e-13)
    _close(got[..., n:], torch.einsum("qij,nj->qni", g[:, :n, :n], y[:, n:]), 1e-13)
    assert not R.is_linear and R.tangent() == sl.V(G) + sl.V(G)


def test_point_of_linear_group_is_linear():
    G = sl.SO(3)
    P = sl.Point(G)
    assert P.is_linear
    X = _alg_elements(G, 2, seed=19)
    _close(P.drho(X), X, 0)
    _close(P.dual().drho(X), -X.transpose(-1, -2), 0)
    # as a linear rep it can be used in tensor products
    assert (P * sl.V(G)).size == 9


# ----------------------------------------------------------------------------- duals
@pytest.mark.parametrize("gname", CONTINUOUS)
@pytest.mark.parametrize("case", CORE)
def test_dual(case, gname):
    G = GROUPS[gname]()
    rep = CASES[case][0](G)
    D = rep.dual()
    assert D.size == rep.size
    X = _alg_elements(G, 3, seed=20)
    g = _group_elements(G, 3, seed=21)
    _close(D.drho(X), -rep.drho(X).transpose(-1, -2), 1e-13)
    _close(D.rho(g), torch.linalg.inv(rep.rho(g)).transpose(-1, -2), 1e-10)
    # dual of dual is the representation itself
    _close(D.dual().drho(X), rep.drho(X), 1e-14)
    # the natural pairing <w, v> of V* and V is invariant: (rho*(g) w) . (rho(g) v) = w . v
    gen = torch.Generator().manual_seed(22)
    v = torch.randn(3, 4, rep.size, generator=gen, dtype=DT)
    w = torch.randn(3, 4, rep.size, generator=gen, dtype=DT)
    lhs = (D.apply_rho(g, w) * rep.apply_rho(g, v)).sum(-1)
    _close(lhs, (w * v).sum(-1), 1e-10)


def test_dual_of_orthogonal_vector_is_equivalent():
    """For SO(3), V* = V as matrices (A antisymmetric, -A^T = A)."""
    G = sl.SO(3)
    X = _alg_elements(G, 4, seed=23)
    _close(sl.V(G).dual().drho(X), sl.V(G).drho(X), 1e-15)
    # but not for GL(3)
    H = sl.GL(3)
    Y = _alg_elements(H, 4, seed=24)
    assert float((sl.V(H).dual().drho(Y) - sl.V(H).drho(Y)).abs().max()) > 0.1


# ----------------------------------------------------------------------------- TensorRep
@pytest.mark.parametrize("pq", [(0, 0), (1, 0), (0, 1), (2, 0), (1, 1), (0, 3), (2, 2), (3, 1)])
@pytest.mark.parametrize("gname", ["SO3", "Lorentz", "GL3", "SE3"])
def test_tensor_rep_size_and_structure(pq, gname):
    p, q = pq
    G = GROUPS[gname]()
    n = G.n
    T = sl.TensorRep(G, p, q)
    assert T.size == n ** (p + q)
    if p + q == 0:
        assert T == sl.Scalar(G)
    X = _alg_elements(G, 1, seed=25)[0]
    # drho on a (p, q) tensor: sum_k xi on each upper index, -xi^T on each lower index (einsum ground truth)
    t = torch.randn([n] * (p + q), generator=torch.Generator().manual_seed(26), dtype=DT)
    A = X[:n, :n]
    ref = _tensor_drho_einsum(A, t, p, q)
    got = T.apply_drho(X, t.reshape(1, -1)).reshape(t.shape) if p + q else T.apply_drho(X, t.reshape(1, 1))
    _close(got.reshape(ref.shape), ref, 1e-12)
    if p + q:
        _close(T.drho(X) @ t.reshape(-1), ref.reshape(-1), 1e-12)


def _tensor_drho_einsum(A, t, p, q):
    """Reference (drho(A) t) for t with p upper then q lower indices, one einsum per index."""
    k = p + q
    if k == 0:
        return torch.zeros_like(t)
    letters = string.ascii_lowercase[:k]
    out = torch.zeros_like(t)
    for i in range(k):
        M = A if i < p else -A.T
        src = letters[:i] + "z" + letters[i + 1:]
        out = out + torch.einsum(f"{letters[i]}z,{src}->{letters}", M, t)
    return out


def _tensor_rho_einsum(g, t, p, q):
    k = p + q
    letters = string.ascii_lowercase[:k]
    ginvT = torch.linalg.inv(g).T
    for i in range(k):
        M = g if i < p else ginvT
        src = letters[:i] + "z" + letters[i + 1:]
        t = torch.einsum(f"{letters[i]}z,{src}->{letters}", M, t)
    return t


def test_large_tensor_rep_is_structured(monkeypatch):
    """TensorRep(SO(3), 4, 4) has size 3^8 = 6561; apply_drho / apply_rho must not form the dense 6561^2 matrix
    (about 344 MB) and must agree with an einsum over the 8 tensor indices."""
    G = sl.SO(3)
    T = sl.TensorRep(G, 4, 4)
    assert T.size == 6561
    gen = torch.Generator().manual_seed(27)
    X = _alg_elements(G, 1, seed=28)[0]
    g = torch.linalg.matrix_exp(X)
    t = torch.randn(*([3] * 8), generator=gen, dtype=DT)
    ref_d = _tensor_drho_einsum(X, t, 4, 4).reshape(-1)
    ref_r = _tensor_rho_einsum(g, t, 4, 4).reshape(-1)

    def forbidden(*a, **k):
        raise AssertionError("dense matrix formed")

    monkeypatch.setattr(sl.ProductRep, "drho", forbidden)
    monkeypatch.setattr(sl.ProductRep, "rho", forbidden)
    got_d = T.apply_drho(X, t.reshape(1, -1))[0]
    got_r = T.apply_rho(g, t.reshape(1, -1))[0]
    _close(got_d, ref_d, 1e-12)
    _close(got_r, ref_r, 1e-12)
    # with a batch of generators and several point dimensions
    Xb = _alg_elements(G, 2, seed=29)
    vb = torch.randn(2, 2, 6561, generator=gen, dtype=DT)
    got_b = T.apply_drho(Xb, vb)
    for b in range(2):
        for j in range(2):
            ref = _tensor_drho_einsum(Xb[b], vb[b, j].reshape([3] * 8), 4, 4).reshape(-1)
            _close(got_b[b, j], ref, 1e-12)
    monkeypatch.undo()
    # the small case agrees with the dense matrix
    T11 = sl.TensorRep(G, 1, 1)
    v = torch.randn(4, 9, generator=gen, dtype=DT)
    _close(T11.apply_drho(X, v), v @ T11.drho(X).T, 1e-13)
    _close(T11.drho(X), torch.kron(X, torch.eye(3, dtype=DT)) + torch.kron(torch.eye(3, dtype=DT), -X.T.contiguous()), 1e-14)


# ----------------------------------------------------------------------------- drho_basis / rho_discrete
@pytest.mark.parametrize("gname", list(GROUPS))
@pytest.mark.parametrize("case", ["V", "V*Vdual", "V+Vdual", "Scalar"])
def test_drho_basis_and_rho_discrete_shapes(case, gname):
    G = GROUPS[gname]()
    rep = CASES[case][0](G)
    s = rep.size
    Db = rep.drho_basis
    assert Db.shape == (G.dim, s, s) and Db.dtype == DT
    Rd = rep.rho_discrete
    assert Rd.shape == (G.num_discrete, s, s) and Rd.dtype == DT
    if G.dim:
        _close(Db, rep.drho(G.algebra.basis), 0)
    if G.num_discrete:
        _close(Rd, rep.rho(G.discrete), 0)


def test_known_shapes_of_bases():
    assert sl.V(sl.SO(3)).drho_basis.shape == (3, 3, 3)
    assert (sl.V(sl.Lorentz()) * sl.V(sl.Lorentz())).drho_basis.shape == (6, 16, 16)
    assert sl.V(sl.Lorentz()).rho_discrete.shape == (2, 4, 4)
    assert sl.V(sl.SE(3)).drho_basis.shape == (6, 3, 3)
    assert sl.V(sl.S(4)).drho_basis.shape == (0, 4, 4)
    assert sl.TensorRep(sl.O(3), 1, 1).rho_discrete.shape == (1, 9, 9)
    # SE(3): rotations act on V, translations act trivially on the linear part
    Db = sl.V(sl.SE(3)).drho_basis
    assert float(Db[:3].abs().max()) > 0.5 and float(Db[3:].abs().max()) == 0.0


# ----------------------------------------------------------------------------- algebra of rep construction
def test_combinators_equalities_and_flattening():
    G = sl.SO(3)
    V = sl.V(G)
    assert 3 * V == V + V + V
    assert V * 3 == 3 * V
    assert 1 * V is V
    assert V ** 1 is V
    assert V ** 0 == sl.Scalar(G)
    assert sum([V, V]) == 2 * V
    assert V * sl.Scalar(G) == V * sl.Scalar(G)
    assert sl.TensorRep(G, 2, 0) == V * V == V ** 2
    assert sl.TensorRep(G, 1, 1) == V * V.dual()
    assert len((V + (V + V.dual())).reps) == 3  # sums flatten
    assert len(((V * V) * V).reps) == 3  # products flatten
    assert (V * sl.Scalar(G)).size == 3  # trivial factor dropped
    assert sl.V(sl.SO(3)) == sl.V(sl.SO(3))  # equal groups built twice
    assert V != V.dual()
    # the same group built twice combines
    assert (sl.V(sl.SO(3)) + sl.V(sl.SO(3))).size == 6


# ----------------------------------------------------------------------------- errors
def test_different_groups_refuse_to_combine():
    A, B = sl.V(sl.SO(3)), sl.V(sl.GL(3))
    for op in (lambda: A + B, lambda: A * B, lambda: sl.SumRep([A, B]), lambda: sl.ProductRep([A, B.dual()]),
               lambda: (A + A) * B):
        with pytest.raises(sl.SymlieError, match="different groups"):
            op()
    # O(3) and SO(3) share the algebra but not the discrete part
    with pytest.raises(sl.SymlieError, match="different groups"):
        sl.V(sl.SO(3)) + sl.V(sl.O(3))


@pytest.mark.parametrize("k", [0, -1, 1.5, True, False, "2"])
def test_invalid_multiplicity(k):
    V = sl.V(sl.SO(3))
    with pytest.raises((ValueError, TypeError)):
        k * V
    if not isinstance(k, str):
        with pytest.raises(ValueError, match="multiplicity"):
            V.__rmul__(k)


@pytest.mark.parametrize("k", [-1, 1.5, True])
def test_invalid_power(k):
    with pytest.raises(ValueError, match="tensor power"):
        sl.V(sl.SO(3)) ** k


@pytest.mark.parametrize("pq", [(-1, 0), (0, -2), (1.0, 1), (True, 0)])
def test_invalid_tensor_rep(pq):
    with pytest.raises(ValueError):
        sl.TensorRep(sl.SO(3), *pq)


def test_invalid_trivial():
    for k in (0, -3, 2.0, True):
        with pytest.raises(ValueError, match="k"):
            sl.Trivial(sl.SO(3), k)


def test_affine_point_refuses_linear_operations():
    G = sl.SE(3)
    P = sl.Point(G)
    V = sl.V(G)
    for op in (lambda: V * P, lambda: P * V, lambda: P ** 2, lambda: sl.TensorRep(G, 1) * (P + V)):
        with pytest.raises(sl.SymlieError):
            op()
    X = G.algebra.basis
    with pytest.raises(sl.SymlieError, match=r"tangent\(\)"):
        P.drho(X)
    with pytest.raises(sl.SymlieError, match=r"tangent\(\)"):
        P.rho(G.identity())
    with pytest.raises(sl.SymlieError, match=r"tangent\(\)"):
        P.dual()
    with pytest.raises(sl.SymlieError, match=r"tangent\(\)"):
        (P + V).drho(X)
    with pytest.raises(sl.SymlieError):
        (P + V).apply_drho(X, torch.zeros(6, 5, 6, dtype=DT))


@pytest.mark.parametrize("case", ["V", "Vdual", "Scalar", "V+Vdual", "V*V", "(V+1)*Vdual"])
def test_wrong_matrix_size(case):
    G = sl.SO(3)
    rep = CASES[case][0](G)
    with pytest.raises(ValueError, match="3, 3"):
        rep.drho(torch.zeros(4, 4, dtype=DT))
    with pytest.raises(ValueError, match="3, 3"):
        rep.rho(torch.eye(2, dtype=DT))
    with pytest.raises(ValueError):
        rep.drho(torch.zeros(5, 3, 4, dtype=DT))
    with pytest.raises(ValueError):
        rep.vector_field(G.algebra.basis, torch.zeros(4, rep.size + 1, dtype=DT))
