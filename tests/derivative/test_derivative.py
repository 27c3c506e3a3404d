"""Tests of symlie.derivative: the Lie derivative of models and of dynamical systems.

Convention under test (derivative.py docstring):
    (K_g F)(x) = rho_out(g)^{-1} F(rho_in(g) x),
    (L_xi F)(x) = d/dt|_0 K_{exp(t xi)} F(x) = DF(x) v_xi(x) - drho_out(xi) F(x),
    L_{[xi, eta]} = -[L_xi, L_eta].
Ground truth: central finite differences of the exactly transformed model (sl.transform), known
invariants / equivariants, closed-form derivatives of polynomial maps and analytic Lie brackets.
"""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import symlie as sl
from _helpers import DT, randn


# ----------------------------------------------------------------------------- helpers
def make_mlp(n_in, n_out, seed, hidden=16, flat=False):
    """A fixed random (non-equivariant) tanh MLP in float64, as a plain function of x (N, n_in)."""
    gen = torch.Generator().manual_seed(seed)
    W1 = torch.randn(n_in, hidden, generator=gen, dtype=DT) / math.sqrt(n_in)
    b1 = torch.randn(hidden, generator=gen, dtype=DT) * 0.3
    W2 = torch.randn(hidden, n_out, generator=gen, dtype=DT) / math.sqrt(hidden)
    b2 = torch.randn(n_out, generator=gen, dtype=DT) * 0.3

    def f(x):
        y = torch.tanh(x @ W1 + b1) @ W2 + b2
        return y[:, 0] if flat else y

    return f


def poly_map(n_in, n_out, seed):
    """A cubic polynomial map with random coefficients: y_k = c_k + B x + x^T Q_k x + (a . x)^3 e_k."""
    gen = torch.Generator().manual_seed(seed)
    c = torch.randn(n_out, generator=gen, dtype=DT)
    B = torch.randn(n_out, n_in, generator=gen, dtype=DT)
    Q = torch.randn(n_out, n_in, n_in, generator=gen, dtype=DT)
    a = torch.randn(n_out, n_in, generator=gen, dtype=DT) * 0.5

    def f(x):
        return c + x @ B.T + torch.einsum("ni,kij,nj->nk", x, Q, x) + (x @ a.T) ** 3

    return f


def fd_lie(f, xi, x, rep_in, rep_out, t):
    """Central difference (K_{exp(t xi)} F - K_{exp(-t xi)} F)(x) / (2t) of the exactly transformed model."""
    gp = torch.linalg.matrix_exp(t * xi)
    gm = torch.linalg.matrix_exp(-t * xi)
    return (sl.transform(f, gp, rep_in, rep_out)(x) - sl.transform(f, gm, rep_in, rep_out)(x)) / (2 * t)


def unit_element(alg, seed):
    X = alg.random_element(generator=seed)
    return X / torch.linalg.matrix_norm(X)


def _rel(a, b):
    return float((a - b).norm() / b.norm())


# ----------------------------------------------------------------------------- finite-difference ground truth
# name -> () -> (rep_in, rep_out, algebra, f)
FD_CASES = {
    "SO3:V->scalar(N,1)": lambda: (sl.V(sl.SO(3)), None, sl.so(3), make_mlp(3, 1, 1)),
    "SO3:V->scalar(N,)": lambda: (sl.V(sl.SO(3)), None, sl.so(3), make_mlp(3, 1, 2, flat=True)),
    "SO3:V->V": lambda: (sl.V(sl.SO(3)), sl.V(sl.SO(3)), sl.so(3), make_mlp(3, 3, 3)),
    "SO3:2V->V": lambda: (2 * sl.V(sl.SO(3)), sl.V(sl.SO(3)), sl.so(3), make_mlp(6, 3, 4)),
    "SO3:V->V*V": lambda: (sl.V(sl.SO(3)), sl.V(sl.SO(3)) ** 2, sl.so(3), make_mlp(3, 9, 5)),
    "GL3:V->V": lambda: (sl.V(sl.GL(3)), sl.V(sl.GL(3)), sl.gl(3), make_mlp(3, 3, 6)),
    "GL3:V->V*Vdual": lambda: (sl.V(sl.GL(3)), sl.TensorRep(sl.GL(3), 1, 1), sl.gl(3), make_mlp(3, 9, 7)),
    "GL3:V+Vdual->1+Vdual": lambda: (sl.V(sl.GL(3)) + sl.V(sl.GL(3)).dual(),
                                     sl.Scalar(sl.GL(3)) + sl.V(sl.GL(3)).dual(), sl.gl(3), make_mlp(6, 4, 8)),
    "Lorentz:V->V(poly)": lambda: (sl.V(sl.Lorentz()), sl.V(sl.Lorentz()), sl.lorentz(), poly_map(4, 4, 9)),
    "Lorentz:V->scalar(poly)": lambda: (sl.V(sl.Lorentz()), None, sl.lorentz(), poly_map(4, 1, 10)),
    "Sp4:V->Vdual": lambda: (sl.V(sl.Sp(4)), sl.V(sl.Sp(4)).dual(), sl.sp(4), make_mlp(4, 4, 11)),
    "SE3:P->V": lambda: (sl.Point(sl.SE(3)), sl.V(sl.SE(3)), sl.se(3), make_mlp(3, 3, 12)),
    "SE3:P->scalar": lambda: (sl.Point(sl.SE(3)), None, sl.se(3), make_mlp(3, 1, 13)),
    "SE3:P+V->V+1": lambda: (sl.Point(sl.SE(3)) + sl.V(sl.SE(3)), sl.V(sl.SE(3)) + sl.Scalar(sl.SE(3)),
                             sl.se(3), make_mlp(6, 4, 14)),
    "sim2:P->V": lambda: (sl.Point(sl.sim(2)), sl.Point(sl.sim(2)).tangent(), sl.sim(2), make_mlp(2, 2, 15)),
    "sim2:P->scalar(poly)": lambda: (sl.Point(sl.sim(2)), None, sl.sim(2), poly_map(2, 1, 16)),
    "SE2:2P->V": lambda: (2 * sl.Point(sl.SE(2)), sl.V(sl.SE(2)), sl.se(2), make_mlp(4, 2, 17)),
}


@pytest.mark.parametrize("case", list(FD_CASES))
def test_lie_derivative_matches_finite_difference(case):
    rep_in, rep_out, alg, f = FD_CASES[case]()
    x = randn(12, rep_in.size, seed=20)
    basis = alg.basis
    L = sl.lie_derivative(f, basis, x, rep_in, rep_out)
    flat = f(x).ndim == 1
    n_out = 1 if flat else f(x).shape[1]
    assert L.shape == ((alg.dim, 12) if flat else (alg.dim, 12, n_out))
    # also through a LieAlgebra / Group argument (default rep_in would be Point; here pass rep_in explicitly)
    torch.testing.assert_close(sl.lie_derivative(f, alg, x, rep_in, rep_out), L, rtol=0, atol=0)
    for k in range(alg.dim):
        # truncation error ~ t^2 |d^3/dt^3| / 6 ~ 1e-8 relative, round-off ~ 1e-16 / t ~ 1e-12
        e1 = fd_lie(f, basis[k], x, rep_in, rep_out, 1e-4) - L[k]
        assert float(e1.norm()) < 1e-7 * float(L[k].norm()) + 1e-13, case
    # O(t^2): for a random unit generator, halving t divides the error by ~4
    xi = unit_element(alg, seed=21)
    Lx = sl.lie_derivative(f, xi, x, rep_in, rep_out)
    assert Lx.shape == L.shape[1:]
    t = 0.05
    err_t = float((fd_lie(f, xi, x, rep_in, rep_out, t) - Lx).norm())
    err_h = float((fd_lie(f, xi, x, rep_in, rep_out, t / 2) - Lx).norm())
    assert err_t > 1e-9 * float(Lx.norm())  # the model really is non-trivial along the orbit
    assert 3.0 < err_t / err_h < 5.0, (err_t, err_h)
    # at t = 1e-3 the error is small and is what the t^2 law predicts from t/2 = 0.025 (within 15%). The
    # constant is O(1) for a unit generator: e.g. gl(3) on V (x) V* gives about 1.03e-6 relative at t = 1e-3.
    err_s = float((fd_lie(f, xi, x, rep_in, rep_out, 1e-3) - Lx).norm())
    assert err_s < 2e-6 * float(Lx.norm())
    predicted = err_h * (1e-3 / (t / 2)) ** 2
    assert abs(err_s / predicted - 1) < 0.15, (err_s, predicted)


def test_lie_derivative_closed_form_linear_rep():
    """For F(x) = M x (any matrix) and linear reps, L_xi F = M A x - drho_out(xi) M x exactly."""
    G = sl.GL(3)
    rep_in = sl.V(G)
    rep_out = sl.V(G) * sl.V(G).dual()
    M = randn(9, 3, seed=30)
    x = randn(7, 3, seed=31)
    X = G.algebra.random_element(4, generator=32)
    L = sl.lie_derivative(lambda y: y @ M.T, X, x, rep_in, rep_out)
    expect = torch.einsum("ij,qjk,nk->qni", M, X, x) - torch.einsum("qij,jk,nk->qni", rep_out.drho(X), M, x)
    torch.testing.assert_close(L, expect, rtol=1e-13, atol=1e-13)


def test_lie_derivative_affine_closed_form():
    """F(x) = |x - c|^2 under se(2) with Point: L = 2 (x - c) . (A x + b)."""
    alg = sl.se(2)
    c = torch.tensor([0.3, -0.7], dtype=DT)
    x = randn(9, 2, seed=33)
    L = sl.lie_derivative(lambda y: ((y - c) ** 2).sum(-1), alg, x)  # default rep_in = Point(SE(2))
    A, b = alg.basis[:, :2, :2], alg.basis[:, :2, 2]
    expect = 2 * torch.einsum("ni,qni->qn", x - c, torch.einsum("qij,nj->qni", A, x) + b[:, None])
    torch.testing.assert_close(L, expect, rtol=1e-13, atol=1e-13)
    # the rotation (about the origin) annihilates |x|^2; the translations do not
    L0 = sl.lie_derivative(lambda y: (y ** 2).sum(-1), alg, x)
    assert float(L0[0].abs().max()) < 1e-14
    assert float(L0[1:].abs().max()) > 0.1


# ----------------------------------------------------------------------------- bracket (anti-)homomorphism
BRACKET_CASES = {
    "SO3 scalar": lambda: (sl.V(sl.SO(3)), None, sl.so(3), make_mlp(3, 1, 40)),
    "SO3 V->V": lambda: (sl.V(sl.SO(3)), sl.V(sl.SO(3)), sl.so(3), make_mlp(3, 3, 41)),
    "GL3 V->V*Vdual": lambda: (sl.V(sl.GL(3)), sl.TensorRep(sl.GL(3), 1, 1), sl.gl(3), make_mlp(3, 9, 42)),
    "Lorentz V->V": lambda: (sl.V(sl.Lorentz()), sl.V(sl.Lorentz()), sl.lorentz(), poly_map(4, 4, 43)),
    "SE3 P->V": lambda: (sl.Point(sl.SE(3)), sl.V(sl.SE(3)), sl.se(3), make_mlp(3, 3, 44)),
    "sim2 P->scalar": lambda: (sl.Point(sl.sim(2)), None, sl.sim(2), make_mlp(2, 1, 45, flat=True)),
}


@pytest.mark.parametrize("case", list(BRACKET_CASES))
def test_bracket_reverses(case):
    rep_in, rep_out, alg, f = BRACKET_CASES[case]()
    x = randn(8, rep_in.size, seed=46)
    xi, eta = unit_element(alg, 47), unit_element(alg, 48)

    def L(F, X):
        return lambda y: sl.lie_derivative(F, X, y, rep_in, rep_out)

    lhs = sl.lie_derivative(f, xi @ eta - eta @ xi, x, rep_in, rep_out)
    comm = L(L(f, eta), xi)(x) - L(L(f, xi), eta)(x)  # [L_xi, L_eta] F = L_xi(L_eta F) - L_eta(L_xi F)
    assert float(lhs.norm()) > 1e-3
    torch.testing.assert_close(lhs, -comm, rtol=1e-10, atol=1e-12 * float(lhs.norm()))
    # and the opposite sign is wrong (the check has teeth)
    assert float((lhs - comm).norm()) > 0.5 * float(lhs.norm())


# ----------------------------------------------------------------------------- invariants and equivariants
def _dfv_scale(f, X, x, rep_in):
    """max over generators and points of |DF(x)| |v_xi(x)| (Frobenius norm of the Jacobian)."""
    J = torch.func.vmap(torch.func.jacrev(lambda y: f(y[None])[0]))(x)  # (N, n_out, n_in) or (N, n_in)
    Jn = J.reshape(J.shape[0], -1).norm(dim=1)
    v = rep_in.vector_field(X, x)
    return float((Jn * v.norm(dim=-1)).max())


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_norm_squared_invariant_under_so_n(n):
    G = sl.SO(n)
    f = lambda y: (y ** 2).sum(-1)
    x = randn(10, n, seed=50 + n)
    L = sl.lie_derivative(f, G, x, sl.V(G))
    assert L.shape == (n * (n - 1) // 2, 10)
    assert float(L.abs().max()) <= 1e-12 * _dfv_scale(f, G.algebra.basis, x, sl.V(G))
    # dilation is not a symmetry: L_I |x|^2 = 2 |x|^2 exactly; a generic gl(n) element gives x^T (xi + xi^T) x
    H = sl.GL(n)
    Ld = sl.lie_derivative(f, torch.eye(n, dtype=DT), x, sl.V(H))
    torch.testing.assert_close(Ld, 2 * (x ** 2).sum(-1), rtol=1e-13, atol=0)
    X = H.algebra.random_element(3, generator=n)
    torch.testing.assert_close(sl.lie_derivative(f, X, x, sl.V(H)),
                               torch.einsum("ni,qij,nj->qn", x, X + X.transpose(1, 2), x), rtol=1e-12, atol=1e-12)


def test_minkowski_form_invariant_under_lorentz():
    eta = sl.minkowski_metric()
    f = lambda y: torch.einsum("ni,ij,nj->n", y, eta, y)
    x = randn(10, 4, seed=55)
    G = sl.Lorentz()
    L = sl.lie_derivative(f, G, x, sl.V(G))
    assert L.shape == (6, 10)
    assert float(L.abs().max()) <= 1e-12 * _dfv_scale(f, G.algebra.basis, x, sl.V(G))
    # a generic gl(4) element: L = x^T (xi^T eta + eta xi) x (non-zero, e.g. for a Euclidean t-x rotation)
    H = sl.GL(4)
    X = H.algebra.random_element(4, generator=56)
    expect = torch.einsum("ni,qij,nj->qn", x, X.transpose(1, 2) @ eta + eta @ X, x)
    torch.testing.assert_close(sl.lie_derivative(f, X, x, sl.V(H)), expect, rtol=1e-12, atol=1e-12)
    R = torch.zeros(4, 4, dtype=DT)
    R[0, 1], R[1, 0] = -1.0, 1.0
    assert float(sl.lie_derivative(f, R, x, sl.V(H)).abs().max()) > 0.1


@pytest.mark.parametrize("n2", [2, 4, 6])
def test_symplectic_form_invariant_under_sp(n2):
    J = sl.symplectic_form(n2)
    f = lambda y: torch.einsum("ni,ij,nj->n", y[:, :n2], J, y[:, n2:])
    G = sl.Sp(n2)
    rep = 2 * sl.V(G)
    x = randn(10, 2 * n2, seed=57)
    L = sl.lie_derivative(f, G, x, rep)
    assert L.shape == (n2 // 2 * (n2 + 1), 10)
    assert float(L.abs().max()) <= 1e-12 * _dfv_scale(f, G.algebra.basis, x, rep)
    H = sl.GL(n2)
    X = H.algebra.random_element(3, generator=58)
    expect = torch.einsum("ni,qij,nj->qn", x[:, :n2], X.transpose(1, 2) @ J + J @ X, x[:, n2:])
    torch.testing.assert_close(sl.lie_derivative(f, X, x, 2 * sl.V(H)), expect, rtol=1e-12, atol=1e-12)
    assert float(expect.abs().max()) > 0.1


def test_cross_product_equivariant_under_so3():
    f = lambda y: torch.linalg.cross(y[:, :3], y[:, 3:])
    G = sl.SO(3)
    rep_in, rep_out = 2 * sl.V(G), sl.V(G)
    x = randn(10, 6, seed=59)
    L = sl.lie_derivative(f, G, x, rep_in, rep_out)
    assert L.shape == (3, 10, 3)
    assert float(L.abs().max()) <= 1e-12 * _dfv_scale(f, G.algebra.basis, x, rep_in)
    # under GL(3): (g a) x (g b) = det(g) g^{-T} (a x b), so with rep_out = V* the Lie derivative is tr(xi) (a x b)
    H = sl.GL(3)
    X = H.algebra.random_element(4, generator=60)
    Lg = sl.lie_derivative(f, X, x, 2 * sl.V(H), sl.V(H).dual())
    torch.testing.assert_close(Lg, torch.einsum("q,ni->qni", torch.einsum("qii->q", X), f(x)), rtol=1e-12, atol=1e-12)
    # and with rep_out = V it is not equivariant under GL(3)
    assert float(sl.lie_derivative(f, X, x, 2 * sl.V(H), sl.V(H)).abs().max()) > 0.1


@pytest.mark.parametrize("n", [2, 3])
def test_determinant_invariant_under_sl(n):
    """det of the matrix whose columns are the n input vectors; gl(n) acts on every column."""
    f = lambda y: torch.linalg.det(y.reshape(-1, n, n).transpose(1, 2))
    H = sl.GL(n)
    rep = n * sl.V(H)
    x = randn(10, n * n, seed=61)
    Xs = sl.sl(n).basis
    L = sl.lie_derivative(f, Xs, x, rep)
    assert L.shape == (n * n - 1, 10)
    assert float(L.abs().max()) <= 1e-12 * _dfv_scale(f, Xs, x, rep)
    # gl(n): det(g M) = det(g) det(M), so L_xi det = tr(xi) det
    X = H.algebra.random_element(3, generator=62)
    torch.testing.assert_close(sl.lie_derivative(f, X, x, rep), torch.einsum("qii->q", X)[:, None] * f(x),
                               rtol=1e-11, atol=1e-12)
    Ld = sl.lie_derivative(f, torch.eye(n, dtype=DT), x, rep)
    torch.testing.assert_close(Ld, n * f(x), rtol=1e-12, atol=1e-13)


def test_equivariant_tensor_output():
    """F(x) = x x^T (V (x) V) and F(x) = |x|^2 x (V) are SO(3)-equivariant; x x^T is GL(3)-equivariant too."""
    x = randn(10, 3, seed=63)
    outer = lambda y: (y[:, :, None] * y[:, None, :]).reshape(-1, 9)
    G = sl.SO(3)
    L = sl.lie_derivative(outer, G, x, sl.V(G), sl.V(G) * sl.V(G))
    assert float(L.abs().max()) < 1e-13
    H = sl.GL(3)
    L = sl.lie_derivative(outer, H, x, sl.V(H), sl.V(H) * sl.V(H))
    assert float(L.abs().max()) < 1e-13
    # ... but not into V (x) V* under GL(3)
    L = sl.lie_derivative(outer, H, x, sl.V(H), sl.V(H) * sl.V(H).dual())
    assert float(L.abs().max()) > 0.1
    cubic = lambda y: (y ** 2).sum(-1, keepdim=True) * y
    assert float(sl.lie_derivative(cubic, G, x, sl.V(G), sl.V(G)).abs().max()) < 1e-13


# ----------------------------------------------------------------------------- discovery via nullspace
def _projector(M):
    """Orthogonal projector onto the span of the rows of M (k, m)."""
    Q, _ = torch.linalg.qr(M.T)
    return Q @ Q.T


@pytest.mark.parametrize("case", ["norm", "minkowski"])
def test_discovery_nullspace(case):
    if case == "norm":
        n, metric, sub = 3, torch.eye(3, dtype=DT), sl.so(3)
    else:
        n, metric, sub = 4, sl.minkowski_metric(), sl.lorentz()
    f = lambda y: torch.einsum("ni,ij,nj->n", y, metric, y)
    alg = sl.gl(n)
    x = randn(40, n, seed=64)
    L = sl.lie_derivative(f, alg, x, sl.V(sl.GL(n)))  # (q, N)
    A = L.reshape(alg.dim, -1).T  # (N * n_out, q)
    ns = sl.nullspace(A)
    assert ns.dim == sub.dim
    found = torch.einsum("qk,qij->kij", ns.basis, alg.basis).reshape(ns.dim, -1)
    P1, P2 = _projector(found), _projector(sub.basis.reshape(sub.dim, -1))
    assert float((P1 - P2).abs().max()) < 1e-10
    assert ns.gap_ratio > 1e6


def test_discovery_nullspace_vector_output():
    """The cross product on 2V -> V over gl(3): the symmetry algebra found is so(3) (sl(3) is broken since V is
    the wrong output representation; the full answer would need the det twist)."""
    f = lambda y: torch.linalg.cross(y[:, :3], y[:, 3:])
    alg = sl.gl(3)
    H = sl.GL(3)
    x = randn(30, 6, seed=65)
    L = sl.lie_derivative(f, alg, x, 2 * sl.V(H), sl.V(H))  # (9, N, 3)
    A = L.reshape(alg.dim, -1).T
    ns = sl.nullspace(A)
    assert ns.dim == 3
    found = torch.einsum("qk,qij->kij", ns.basis, alg.basis).reshape(3, -1)
    assert float((_projector(found) - _projector(sl.so(3).basis.reshape(3, -1))).abs().max()) < 1e-10


# ----------------------------------------------------------------------------- dynamics
def _nl_field(n, seed):
    f = make_mlp(n, n, seed)
    return lambda y: f(y) + 0.3 * y ** 2


DYN_CASES = {
    "SE2 Point": lambda: (sl.Point(sl.SE(2)), sl.se(2)),
    "SE3 Point": lambda: (sl.Point(sl.SE(3)), sl.se(3)),
    "GL2 V": lambda: (sl.V(sl.GL(2)), sl.gl(2)),
    "SO3 V": lambda: (sl.V(sl.SO(3)), sl.so(3)),
    "sim2 Point": lambda: (sl.Point(sl.sim(2)), sl.sim(2)),
}


@pytest.mark.parametrize("case", list(DYN_CASES))
def test_lie_derivative_dynamics_matches_finite_difference(case):
    rep, alg = DYN_CASES[case]()
    n = rep.size
    f = _nl_field(n, 70)
    x = randn(10, n, seed=71)
    L = sl.lie_derivative_dynamics(f, alg, x, rep)
    assert L.shape == (alg.dim, 10, n)
    for k in range(alg.dim):
        fd = fd_lie(f, alg.basis[k], x, rep, rep.tangent(), 1e-3)
        assert float((fd - L[k]).norm()) < 1e-6 * float(L[k].norm()) + 1e-13
    # equals lie_derivative with the tangent lift, and Df v - A f
    torch.testing.assert_close(L, sl.lie_derivative(f, alg, x, rep, rep.tangent()), rtol=0, atol=0)
    xi = unit_element(alg, 72)
    Ls = sl.lie_derivative_dynamics(f, xi, x, rep)
    assert Ls.shape == (10, n)
    A = xi[:n, :n]
    v = rep.vector_field(xi, x)
    _, Dfv = torch.func.jvp(f, (x,), (v,))
    torch.testing.assert_close(Ls, Dfv - f(x) @ A.T, rtol=1e-12, atol=1e-12)
    # it is the Lie bracket of vector fields [v_xi, f]
    torch.testing.assert_close(Ls, sl.lie_bracket(lambda y: rep.vector_field(xi, y), f, x), rtol=1e-12, atol=1e-12)


def test_hopf_normal_form_is_rotation_equivariant():
    """f(x) = (1 - |x|^2) x + J x commutes with rotations: L = 0 under so(2), not under translations or shears."""
    Jr = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=DT)
    f = lambda y: (1 - (y ** 2).sum(-1, keepdim=True)) * y + y @ Jr.T
    x = randn(20, 2, seed=73, scale=1.5)
    L = sl.lie_derivative_dynamics(f, sl.so(2), x, sl.V(sl.SO(2)))
    assert L.shape == (1, 20, 2)
    assert float(L.abs().max()) < 1e-13
    # the same generator as an se(2) rotation about the origin
    Lse = sl.lie_derivative_dynamics(f, sl.se(2), x)
    assert float(Lse[0].abs().max()) < 1e-13
    # translations: A = 0 so L_b f = Df b (non-zero)
    b = sl.se(2).basis[1:, :2, 2]
    for k in range(2):
        _, Dfb = torch.func.jvp(f, (x,), (b[k].expand_as(x),))
        torch.testing.assert_close(Lse[1 + k], Dfb, rtol=1e-13, atol=1e-13)
    assert float(Lse[1:].abs().max()) > 0.5
    # over gl(2) the symmetry is exactly so(2): for A = a I + b J + S, L = Df A x - A f has the cubic part
    # -2 (x^T A x) x, which vanishes only for antisymmetric A
    Lgl = sl.lie_derivative_dynamics(f, sl.gl(2), x, sl.V(sl.GL(2)))
    ns = sl.nullspace(Lgl.reshape(4, -1).T)
    assert ns.dim == 1
    found = torch.einsum("q,qij->ij", ns.basis[:, 0], sl.gl(2).basis)
    torch.testing.assert_close(found.abs(), Jr.abs() / math.sqrt(2), rtol=0, atol=1e-12)


def test_lie_bracket_linear_field_equals_dynamics_derivative():
    n = 3
    A = randn(n, n, seed=74)
    f = _nl_field(n, 75)
    x = randn(12, n, seed=76)
    lb = sl.lie_bracket(lambda y: y @ A.T, f, x)
    ld = sl.lie_derivative_dynamics(f, A, x, sl.V(sl.GL(n)))
    torch.testing.assert_close(lb, ld, rtol=1e-13, atol=1e-13)
    # antisymmetry of the bracket
    torch.testing.assert_close(sl.lie_bracket(f, lambda y: y @ A.T, x), -lb, rtol=1e-13, atol=1e-13)
    # a single point, and an expanded (overlapping-memory) batch of one point
    torch.testing.assert_close(sl.lie_bracket(lambda y: y @ A.T, f, x[:1]), lb[:1], rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(sl.lie_bracket(lambda y: y @ A.T, f, x[2:3].expand(4, n)), lb[2:3].expand(4, n),
                               rtol=1e-13, atol=1e-13)


def test_lie_bracket_of_nonlinear_fields_analytic():
    v = lambda y: torch.stack([y[:, 1] ** 2, torch.sin(y[:, 0])], 1)
    f = lambda y: torch.stack([y[:, 0] * y[:, 1], y[:, 0] ** 3], 1)
    x = randn(15, 2, seed=77)
    x0, x1 = x[:, 0], x[:, 1]
    # [v, f] = Df v - Dv f with Df = [[x1, x0], [3 x0^2, 0]], Dv = [[0, 2 x1], [cos x0, 0]]
    expect = torch.stack([x1 ** 3 + x0 * torch.sin(x0) - 2 * x1 * x0 ** 3,
                          3 * x0 ** 2 * x1 ** 2 - torch.cos(x0) * x0 * x1], 1)
    torch.testing.assert_close(sl.lie_bracket(v, f, x), expect, rtol=1e-13, atol=1e-13)
    # Jacobi identity for three fields
    w = lambda y: torch.stack([torch.exp(0.3 * y[:, 0]), y[:, 0] * y[:, 1]], 1)

    def br(a, b):
        return lambda y: sl.lie_bracket(a, b, y)

    jac = br(v, br(f, w))(x) + br(f, br(w, v))(x) + br(w, br(v, f))(x)
    assert float(jac.abs().max()) < 1e-12


# ----------------------------------------------------------------------------- gradients
class MLP(nn.Module):
    def __init__(self, n_in, n_out, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.net = nn.Sequential(nn.Linear(n_in, 12), nn.Tanh(), nn.Linear(12, n_out)).double()

    def forward(self, x):
        return self.net(x)


@pytest.mark.parametrize("case", ["SO3 V->V", "SE2 P->scalar"])
def test_lie_derivative_is_differentiable_in_parameters(case):
    if case == "SO3 V->V":
        model, rep_in, rep_out, alg, n = MLP(3, 3, 80), sl.V(sl.SO(3)), sl.V(sl.SO(3)), sl.so(3), 3
    else:
        model, rep_in, rep_out, alg, n = MLP(2, 1, 81), sl.Point(sl.SE(2)), None, sl.se(2), 2
    x = randn(16, n, seed=82)

    def loss_fn():
        return (sl.lie_derivative(model, alg, x, rep_in, rep_out) ** 2).sum()

    loss = loss_fn()
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    if rep_out is None:
        # invariant outputs: L = DF v does not see the output bias at all
        assert grads[-1] is None or float(grads[-1].abs().max()) == 0.0
        grads = grads[:-1] + (torch.zeros_like(params[-1]),)
    assert all(float(g.abs().max()) > 0 for g in grads[:-1])
    gen = torch.Generator().manual_seed(83)
    dirs = [torch.randn(p.shape, generator=gen, dtype=DT) for p in params]
    analytic = sum(float((g * d).sum()) for g, d in zip(grads, dirs))
    eps = 1e-5
    with torch.no_grad():
        for p, d in zip(params, dirs):
            p.add_(eps * d)
        lp = float(loss_fn())
        for p, d in zip(params, dirs):
            p.sub_(2 * eps * d)
        lm = float(loss_fn())
        for p, d in zip(params, dirs):
            p.add_(eps * d)
    fd = (lp - lm) / (2 * eps)
    assert abs(fd - analytic) < 1e-6 * abs(analytic)
    # training on the Lie derivative reduces it
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    l0 = float(loss_fn().detach())
    for _ in range(5):
        opt.zero_grad()
        loss_fn().backward()
        opt.step()
    assert float(loss_fn().detach()) < l0


# ----------------------------------------------------------------------------- shapes and chunking
def test_batch_size_chunking_and_shapes():
    G = sl.SO(3)
    f = make_mlp(3, 3, 90)
    x = randn(23, 3, seed=91)
    full = sl.lie_derivative(f, G, x, sl.V(G), sl.V(G))
    assert full.shape == (3, 23, 3)
    for bs in (1, 5, 11, 22, 23, 100):  # 11 and 22 leave a last chunk of a single point
        torch.testing.assert_close(sl.lie_derivative(f, G, x, sl.V(G), sl.V(G), batch_size=bs), full,
                                   rtol=1e-14, atol=1e-15)
    # a single sample point (also with an affine action)
    torch.testing.assert_close(sl.lie_derivative(f, G, x[:1], sl.V(G), sl.V(G)), full[:, :1], rtol=1e-14, atol=1e-15)
    Lse = sl.lie_derivative(f, sl.se(3), x, sl.Point(sl.SE(3)), sl.V(sl.SE(3)))
    torch.testing.assert_close(sl.lie_derivative(f, sl.se(3), x[5:6], sl.Point(sl.SE(3)), sl.V(sl.SE(3))),
                               Lse[:, 5:6], rtol=1e-14, atol=1e-15)
    # a non-contiguous / overlapping x (one point repeated by expand) gives the repeated answer
    xe = x[3:4].expand(4, 3)
    torch.testing.assert_close(sl.lie_derivative(f, G, xe, sl.V(G), sl.V(G)), full[:, 3:4].expand(3, 4, 3),
                               rtol=1e-14, atol=1e-15)
    # single generator: (N, n_out)
    single = sl.lie_derivative(f, G.algebra.basis[1], x, sl.V(G), sl.V(G))
    assert single.shape == (23, 3)
    torch.testing.assert_close(single, full[1], rtol=1e-14, atol=1e-15)
    # (N,)-shaped model: (q, N); chunked too
    g = make_mlp(3, 1, 92, flat=True)
    Lg = sl.lie_derivative(g, G, x, sl.V(G))
    assert Lg.shape == (3, 23)
    torch.testing.assert_close(sl.lie_derivative(g, G, x, sl.V(G), batch_size=4), Lg, rtol=1e-14, atol=1e-15)
    assert sl.lie_derivative(g, G.algebra.basis[0], x, sl.V(G)).shape == (23,)
    # (N, 1)-shaped scalar model: (q, N, 1)
    assert sl.lie_derivative(make_mlp(3, 1, 93), G, x, sl.V(G)).shape == (3, 23, 1)
    # dynamics chunking
    torch.testing.assert_close(sl.lie_derivative_dynamics(f, G, x, sl.V(G), batch_size=7),
                               sl.lie_derivative_dynamics(f, G, x, sl.V(G)), rtol=1e-14, atol=1e-15)
    # a Group and its algebra give the same default rep_in (Point) and result
    torch.testing.assert_close(sl.lie_derivative(g, sl.so(3), x), Lg, rtol=0, atol=0)


def test_integer_and_list_inputs_are_accepted():
    G = sl.SO(3)
    f = lambda y: (y ** 2).sum(-1)
    xi = [[0, -1, 0], [1, 0, 0], [0, 0, 0]]
    x = [[1, 2, 3], [0, 1, 0]]
    L = sl.lie_derivative(f, xi, x, sl.V(G))
    assert L.dtype == DT and L.shape == (2,)
    assert float(L.abs().max()) == 0.0


# ----------------------------------------------------------------------------- errors
def test_errors_have_clear_messages():
    G = sl.SO(3)
    V = sl.V(G)
    f = make_mlp(3, 3, 95)
    x = randn(5, 3, seed=96)
    with pytest.raises(ValueError, match=r"x: rep_in .* acts on R\^3"):
        sl.lie_derivative(f, G, randn(5, 4), V, V)
    with pytest.raises(ValueError, match=r"x: .*dimension"):
        sl.lie_derivative(f, G, randn(5), V, V)
    with pytest.raises(ValueError, match=r"rep_out: representation .* has size 9 but the model returns 3"):
        sl.lie_derivative(f, G, x, V, V * V)
    with pytest.raises(ValueError, match=r"rep_out: .*size 1 .*returns 3"):
        sl.lie_derivative(f, G, x, V, sl.Scalar(G))
    bad = x.clone()
    bad[2, 1] = float("nan")
    with pytest.raises(ValueError, match=r"x: contains 1 NaN"):
        sl.lie_derivative(f, G, bad, V, V)
    with pytest.raises(ValueError, match=r"xi: generators are 4x4 .* 3x3"):
        sl.lie_derivative(f, sl.gl(4).basis, x, V, V)
    with pytest.raises(ValueError, match=r"xi: generators are 4x4"):
        sl.lie_derivative(f, sl.se(3), x, V, V)  # se(3) is 4x4 homogeneous, V(SO(3)) uses 3x3
    with pytest.raises(ValueError, match=r"xi: generators must be square"):
        sl.lie_derivative(f, torch.zeros(2, 3, 4, dtype=DT), x, V, V)
    with pytest.raises(ValueError, match=r"xi: expected .*\(d, d\)"):
        sl.lie_derivative(f, torch.zeros(3, dtype=DT), x, V, V)
    with pytest.raises(ValueError, match=r"f: expected output of shape"):
        sl.lie_derivative(lambda y: y[:-1], G, x, V, V)
    with pytest.raises(ValueError, match=r"f: expected output of shape"):
        sl.lie_derivative(lambda y: y[:, :, None], G, x, V, V)
    with pytest.raises(sl.SymlieError, match=r"rep_out: .*affine"):
        sl.lie_derivative(make_mlp(3, 3, 97), sl.se(3), x, sl.Point(sl.SE(3)), sl.Point(sl.SE(3)))
    with pytest.raises(ValueError, match=r"x: got 0 sample points"):
        sl.lie_derivative(f, G, torch.zeros(0, 3, dtype=DT), V, V)
    with pytest.raises(ValueError, match=r"rep_in: required when xi is given as matrices"):
        sl.lie_derivative(f, G.algebra.basis, x)
    with pytest.raises(ValueError, match=r"rep_in: required"):
        sl.lie_derivative_dynamics(f, G.algebra.basis[0], x)
    with pytest.raises(TypeError, match=r"rep_in: expected a Rep"):
        sl.lie_derivative(f, G, x, "V")
    with pytest.raises(TypeError, match=r"rep_out: expected a Rep"):
        sl.lie_derivative(f, G, x, V, 3)
    with pytest.raises(ValueError, match=r"batch_size"):
        sl.lie_derivative(f, G, x, V, V, batch_size=0)
    with pytest.raises(TypeError, match="complex"):
        sl.lie_derivative(f, G, x.to(torch.complex128), V, V)


def test_transform_and_bracket_errors():
    G = sl.SE(3)
    f = make_mlp(3, 3, 98)
    with pytest.raises(ValueError, match=r"g: expected a \(4, 4\) group element"):
        sl.transform(f, torch.eye(3, dtype=DT), sl.Point(G), sl.V(G))
    with pytest.raises(sl.SymlieError, match="affine"):
        sl.transform(f, torch.eye(4, dtype=DT), sl.Point(G), sl.Point(G))
    with pytest.raises(TypeError, match="rep_in"):
        sl.transform(f, torch.eye(4, dtype=DT), None)
    x = randn(4, 3, seed=99)
    with pytest.raises(ValueError, match=r"v, f: vector fields must map"):
        sl.lie_bracket(lambda y: y, lambda y: y[:, :2], x)
    with pytest.raises(ValueError, match=r"v: expected output"):
        sl.lie_bracket(lambda y: y[:2], lambda y: y, x)


def test_transform_is_exact_group_action():
    """K_g K_h F = K_{hg} F (anti-homomorphism), and K_g of an equivariant model is itself."""
    G = sl.SE(3)
    rep_in, rep_out = sl.Point(G), sl.V(G)
    f = make_mlp(3, 3, 100)
    g, h = G.sample(2, generator=101)
    x = randn(6, 3, seed=102)
    Kg = lambda F: sl.transform(F, g, rep_in, rep_out)
    Kh = lambda F: sl.transform(F, h, rep_in, rep_out)
    torch.testing.assert_close(Kg(Kh(f))(x), sl.transform(f, h @ g, rep_in, rep_out)(x), rtol=1e-12, atol=1e-12)
    # closed form of K_g: A^{-1} f(A x + b)
    A, b = g[:3, :3], g[:3, 3]
    torch.testing.assert_close(Kg(f)(x), f(x @ A.T + b) @ torch.linalg.inv(A).T, rtol=1e-12, atol=1e-12)
    # K_k of an SO(3)-equivariant field is the field itself
    H = sl.SO(3)
    cubic = lambda y: (y ** 2).sum(-1, keepdim=True) * y
    k = H.sample(1, generator=103)[0]
    torch.testing.assert_close(sl.transform(cubic, k, sl.V(H), sl.V(H))(x), cubic(x), rtol=1e-12, atol=1e-12)


def test_rep_out_of_another_group_is_refused():
    G, H = sl.SO(3), sl.GL(3)
    x = torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(sl.SymlieError, match="rep_out: .* representation of GL\\(3\\)"):
        sl.lie_derivative(lambda z: z, G, x, sl.V(G), sl.V(H))
    # a group and its identity component share the algebra: allowed
    L = sl.lie_derivative(lambda z: z, sl.so(3), x, sl.V(sl.SO(3)), sl.V(sl.O(3)))
    assert L.abs().max() < 1e-12


def test_auto_chunking_matches_one_pass():
    G = sl.GL(3)
    x = torch.randn(9000, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    f = lambda z: torch.tanh(z) * z.sum(-1, keepdim=True)
    auto = sl.lie_derivative(f, G, x, sl.V(G), sl.V(G))            # 9 generators: chunks of 7281 points
    one = sl.lie_derivative(f, G, x, sl.V(G), sl.V(G), batch_size=None)
    torch.testing.assert_close(auto, one, rtol=1e-14, atol=1e-15)
    with pytest.raises(ValueError, match="batch_size"):
        sl.lie_derivative(f, G, x[:5], sl.V(G), sl.V(G), batch_size="big")
