"""Tests of symlie.algebra: named matrix Lie algebras, their structure, constructions and validation.

Every check compares against a mathematical ground truth (dimension formulas, defining identities,
known Killing forms, closed-form exponentials), computed independently of the library where possible.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

import symlie as sl
from _helpers import DT, E, J_form, eta_pq, gen

TOL = 1e-12


# ---------------------------------------------------------------------------- helpers (independent of symlie)
def projector(B: torch.Tensor) -> torch.Tensor:
    """Orthogonal projector onto the span of the flattened matrices B (q, d, d), via an independent SVD."""
    F = B.reshape(B.shape[0], -1)
    U, S, Vh = torch.linalg.svd(F, full_matrices=False)
    r = int((S > 1e-10 * S[0]).sum())
    V = Vh[:r]
    return V.T @ V


def comm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return a @ b - b @ a


# ---------------------------------------------------------------------------- the catalogue of named algebras
# (id, constructor, expected dimension, expected matrix size, affine)
def _catalogue():
    cases = []
    for n in (1, 2, 3, 4):
        cases.append((f"gl({n})", lambda n=n: sl.gl(n), n * n, n, False))
        cases.append((f"t({n})", lambda n=n: sl.t(n), n, n + 1, True))
        cases.append((f"aff({n})", lambda n=n: sl.aff(n), n * n + n, n + 1, True))
        cases.append((f"scaling({n})", lambda n=n: sl.scaling(n), 1, n, False))
    for n in (2, 3, 4, 5):
        cases.append((f"sl({n})", lambda n=n: sl.sl(n), n * n - 1, n, False))
        cases.append((f"so({n})", lambda n=n: sl.so(n), n * (n - 1) // 2, n, False))
    for n in (2, 3, 4):
        cases.append((f"se({n})", lambda n=n: sl.se(n), n * (n + 1) // 2, n + 1, True))
        cases.append((f"sim({n})", lambda n=n: sl.sim(n), n * (n + 1) // 2 + 1, n + 1, True))
    for p, q in ((1, 1), (1, 2), (2, 1), (1, 3), (2, 2), (3, 1), (0, 3), (2, 3)):
        N = p + q
        cases.append((f"so({p},{q})", lambda p=p, q=q: sl.so(p, q), N * (N - 1) // 2, N, False))
        if (p, q) in ((1, 2), (2, 2)):
            cases.append((f"so_pq({p},{q})", lambda p=p, q=q: sl.so_pq(p, q), N * (N - 1) // 2, N, False))
    cases.append(("lorentz", lambda: sl.lorentz(), 6, 4, False))
    for n in (1, 2, 3):
        cases.append((f"sp({2 * n})", lambda n=n: sl.sp(2 * n), n * (2 * n + 1), 2 * n, False))
    return cases


CATALOGUE = _catalogue()
CAT_IDS = [c[0] for c in CATALOGUE]


@pytest.fixture(params=CATALOGUE, ids=CAT_IDS)
def named(request):
    label, ctor, dim, size, affine = request.param
    return label, ctor(), dim, size, affine


def test_dimension_and_shape(named):
    label, alg, dim, size, affine = named
    assert alg.dim == dim == len(alg)
    assert alg.matrix_size == size
    assert tuple(alg.basis.shape) == (dim, size, size)
    assert alg.basis.dtype == torch.float64
    assert alg.affine is affine
    assert alg.n == (size - 1 if affine else size)


def test_basis_is_frobenius_orthonormal(named):
    _, alg, dim, _, _ = named
    F = alg.basis.reshape(dim, -1)
    G = F @ F.T
    assert torch.allclose(G, torch.eye(dim, dtype=DT), atol=TOL, rtol=0)
    assert alg.is_orthonormal()


def test_closure(named):
    _, alg, _, _, _ = named
    assert alg.closure_error() < TOL
    assert alg.is_closed()
    # independent: every bracket of basis elements projects into the span with no residual
    P = projector(alg.basis)
    B = alg.basis
    br = (B[:, None] @ B[None] - B[None] @ B[:, None]).reshape(-1, B.shape[-1] ** 2)
    assert (br - br @ P).abs().max() < 1e-11


def test_structure_constants_reproduce_brackets_and_are_antisymmetric(named):
    _, alg, dim, _, _ = named
    C = alg.structure_constants()
    assert tuple(C.shape) == (dim, dim, dim)
    assert (C + C.transpose(0, 1)).abs().max() < TOL
    B = alg.basis
    lhs = B[:, None] @ B[None] - B[None] @ B[:, None]
    rhs = torch.einsum("ijk,kab->ijab", C, B)
    assert (lhs - rhs).abs().max() < 1e-11
    # orthonormal basis: C[i,j,k] = <[e_i, e_j], e_k>_F
    assert torch.allclose(C, torch.einsum("ijab,kab->ijk", lhs, B), atol=1e-12, rtol=0)


def test_jacobi(named):
    _, alg, dim, _, _ = named
    assert alg.jacobi_error() < TOL
    # independent check on random triples: in coordinates, using C, and in matrices
    C = alg.structure_constants()
    g = gen(11)
    x, y, z = (torch.randn(5, dim, generator=g, dtype=DT) for _ in range(3))

    def br(a, b):  # coordinate bracket
        return torch.einsum("ni,nj,ijk->nk", a, b, C)

    jac = br(x, br(y, z)) + br(y, br(z, x)) + br(z, br(x, y))
    assert jac.abs().max() < 1e-11
    X, Y, Z = alg.element(x), alg.element(y), alg.element(z)
    # the coordinate bracket is the matrix commutator
    assert (alg.element(br(x, y)) - comm(X, Y)).abs().max() < 1e-11
    jm = comm(X, comm(Y, Z)) + comm(Y, comm(Z, X)) + comm(Z, comm(X, Y))
    assert jm.abs().max() < 1e-11


def test_defining_property(named):
    label, alg, _, size, affine = named
    X = alg.random_element(6, generator=3)
    B = torch.cat([alg.basis, X])
    if label.startswith("gl"):
        assert not affine
    elif label.startswith("sl("):
        assert torch.diagonal(B, dim1=-2, dim2=-1).sum(-1).abs().max() < TOL
    elif label.startswith("so") or label == "lorentz":
        if label == "lorentz":
            p, q = 1, 3
        elif "," in label:
            p, q = (int(v) for v in label[label.index("(") + 1:-1].split(","))
        else:
            p, q = size, 0
        eta = eta_pq(p, q)
        assert (B.transpose(-1, -2) @ eta + eta @ B).abs().max() < TOL
    elif label.startswith("sp"):
        J = J_form(size)
        assert (B.transpose(-1, -2) @ J + J @ B).abs().max() < TOL
    elif label.startswith("scaling"):
        # every element is a multiple of the identity
        c = torch.diagonal(B, dim1=-2, dim2=-1).mean(-1)
        assert (B - c[:, None, None] * torch.eye(size, dtype=DT)).abs().max() < TOL
        assert torch.allclose(alg.basis[0], torch.eye(size, dtype=DT) / math.sqrt(size), atol=TOL)
    if affine:
        n = size - 1
        assert (B[:, -1, :] == 0).all()  # exactly zero last row
        A = B[:, :n, :n]
        if label.startswith("t("):
            assert (A == 0).all()
        elif label.startswith("se("):
            assert (A + A.transpose(-1, -2)).abs().max() < TOL
        elif label.startswith("sim("):
            # linear part = antisymmetric + multiple of the identity
            S = 0.5 * (A + A.transpose(-1, -2))
            c = torch.diagonal(S, dim1=-2, dim2=-1).mean(-1)
            assert (S - c[:, None, None] * torch.eye(n, dtype=DT)).abs().max() < TOL


def test_so_one_and_two_arguments_agree():
    assert torch.equal(sl.so(1, 3).basis, sl.lorentz().basis)
    assert torch.equal(sl.so(2, 1).basis, sl.so_pq(2, 1).basis)
    # so(n, 0) is so(n) as a span
    assert torch.allclose(projector(sl.so(4, 0).basis), projector(sl.so(4).basis), atol=1e-12)
    # so(0, n) (eta = -I) has the same algebra as so(n)
    assert torch.allclose(projector(sl.so(0, 3).basis), projector(sl.so(3).basis), atol=1e-12)


def test_named_algebras_span_the_full_defining_space():
    """Beyond membership: the span is the whole solution space of the defining linear equations."""
    def solution_space_dim(constraint, d):
        # constraint: linear map on d x d matrices; dim of its kernel
        rows = torch.stack([constraint(E(d, i, j)).flatten() for i in range(d) for j in range(d)])
        return d * d - int(torch.linalg.matrix_rank(rows))

    for p, q in ((1, 3), (2, 2), (3, 0)):
        eta = eta_pq(p, q)
        assert sl.so(p, q).dim == solution_space_dim(lambda X: X.T @ eta + eta @ X, p + q)
    for n2 in (2, 4, 6):
        J = J_form(n2)
        assert sl.sp(n2).dim == solution_space_dim(lambda X: X.T @ J + J @ X, n2)
    for n in (2, 3):
        assert sl.sl(n).dim == solution_space_dim(lambda X: torch.trace(X).reshape(1), n)


def test_symplectic_form():
    for n2 in (2, 4, 6):
        J = sl.symplectic_form(n2)
        assert torch.equal(J, J_form(n2))
        assert torch.equal(J.T, -J)
        assert torch.equal(J @ J, -torch.eye(n2, dtype=DT))


# ---------------------------------------------------------------------------- closure error ground truth
def test_closure_error_value_for_non_closed_pair():
    # {E01, E10}: [E01, E10] = E00 - E11, orthogonal to both, norm sqrt(2)
    alg = sl.LieAlgebra(torch.stack([E(2, 0, 1), E(2, 1, 0)]))
    assert abs(alg.closure_error() - math.sqrt(2)) < 1e-12
    assert not alg.is_closed()
    R = alg.closure_residuals()
    expected = torch.tensor([[0.0, math.sqrt(2)], [math.sqrt(2), 0.0]], dtype=DT)
    assert torch.allclose(R, expected, atol=1e-12)
    with pytest.raises(sl.NotClosedError, match="killing_form"):
        alg.killing_form()


def test_jacobi_error_detects_violation(monkeypatch):
    """jacobi_error is not identically zero: a random antisymmetric tensor violates Jacobi."""
    alg = sl.so(3)
    g = gen(5)
    C = torch.randn(3, 3, 3, generator=g, dtype=DT)
    C = C - C.transpose(0, 1)
    # compute the Jacobiator independently
    t1 = torch.einsum("jkl,ilm->ijkm", C, C)
    J = t1 + torch.einsum("jkim->ijkm", t1) + torch.einsum("kijm->ijkm", t1)
    expected = float(J.abs().max())
    assert expected > 1e-2
    monkeypatch.setattr(sl.LieAlgebra, "structure_constants", lambda self: C)
    assert abs(alg.jacobi_error() - expected) < 1e-12


def test_so3_structure_constants_are_levi_civita():
    # unnormalized basis (L_i)_{jk} = -eps_ijk, with [L_i, L_j] = eps_ijk L_k
    eps = torch.zeros(3, 3, 3, dtype=DT)
    for i, j, k in itertools.permutations(range(3)):
        eps[i, j, k] = float(np.sign((j - i) * (k - j) * (k - i)))
    L = -eps
    assert torch.equal(L[0], torch.tensor([[0.0, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=DT))
    alg = sl.LieAlgebra(L, check_closure=True)
    C = alg.structure_constants()
    assert torch.allclose(C, eps, atol=1e-12)
    assert torch.allclose(alg.adjoint(), L, atol=1e-12)  # so(3) adjoint rep = defining rep


# ---------------------------------------------------------------------------- Killing form
@pytest.mark.parametrize("alg_fn, expected", [
    (lambda: sl.so(3), (0, 3, 0)),
    (lambda: sl.so(4), (0, 6, 0)),
    (lambda: sl.so(1, 3), (3, 3, 0)),
    (lambda: sl.lorentz(), (3, 3, 0)),
    (lambda: sl.so(2, 1), (2, 1, 0)),
    (lambda: sl.sl(2), (2, 1, 0)),
    (lambda: sl.sl(3), (5, 3, 0)),
    (lambda: sl.sp(2), (2, 1, 0)),       # sp(2) = sl(2)
    (lambda: sl.se(3), (0, 3, 3)),       # translations form an abelian ideal: degenerate
    (lambda: sl.gl(2), (2, 1, 1)),       # the centre (identity) is null
    (lambda: sl.t(3), (0, 0, 3)),
    (lambda: sl.scaling(3), (0, 0, 1)),
], ids=["so3", "so4", "so13", "lorentz", "so21", "sl2", "sl3", "sp2", "se3", "gl2", "t3", "scaling3"])
def test_killing_signature(alg_fn, expected):
    assert alg_fn().killing_signature() == expected


def _killing_from_matrices(B: torch.Tensor) -> torch.Tensor:
    """tr(ad_i ad_j) from the matrices of an orthonormal basis (coordinates = Frobenius inner products)."""
    ad = torch.einsum("ijab,kab->ikj", B[:, None] @ B[None] - B[None] @ B[:, None], B)  # ad_i[k, j]
    return torch.einsum("iab,jba->ij", ad, ad)


@pytest.mark.parametrize("p,q", [(3, 0), (4, 0), (5, 0), (1, 3), (2, 1), (2, 2)])
def test_killing_form_so(p, q):
    alg = sl.so(p) if q == 0 else sl.so(p, q)
    n = p + q
    B = alg.basis
    expected = (n - 2) * torch.einsum("iab,jba->ij", B, B)  # (n - 2) tr(X_i X_j)
    K = alg.killing_form()
    assert torch.allclose(K, expected, atol=1e-11, rtol=0)
    assert torch.allclose(K, _killing_from_matrices(B), atol=1e-11, rtol=0)
    if q == 0:  # orthonormal antisymmetric basis: tr(X_i X_j) = -delta_ij
        assert torch.allclose(K, -(n - 2) * torch.eye(alg.dim, dtype=DT), atol=1e-11)


@pytest.mark.parametrize("n", [2, 3, 4])
def test_killing_form_sl(n):
    alg = sl.sl(n)
    B = alg.basis
    expected = 2 * n * torch.einsum("iab,jba->ij", B, B)
    K = alg.killing_form()
    assert torch.allclose(K, expected, atol=1e-10, rtol=0)
    assert torch.allclose(K, _killing_from_matrices(B), atol=1e-10, rtol=0)


@pytest.mark.parametrize("n", [2, 3])
def test_killing_form_gl(n):
    # K(X, Y) = 2n tr(XY) - 2 tr(X) tr(Y) on gl(n)
    alg = sl.gl(n)
    B = alg.basis
    tr = torch.diagonal(B, dim1=-2, dim2=-1).sum(-1)
    expected = 2 * n * torch.einsum("iab,jba->ij", B, B) - 2 * tr[:, None] * tr[None]
    assert torch.allclose(alg.killing_form(), expected, atol=1e-10, rtol=0)


def test_killing_form_invariance():
    # ad-invariance: K([Z,X],Y) + K(X,[Z,Y]) = 0, i.e. ad_z^T K + K ad_z = 0
    alg = sl.so(1, 3)
    K = alg.killing_form()
    for adz in alg.adjoint():
        assert (adz.T @ K + K @ adz).abs().max() < 1e-10


# ---------------------------------------------------------------------------- exponential map
def _rand(alg, num=8, seed=0, scale=1.0):
    return alg.random_element(num, scale=scale, generator=seed)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_exp_so_is_special_orthogonal(n):
    alg = sl.so(n)
    g = alg.exp(_rand(alg, seed=n))
    I = torch.eye(n, dtype=DT)
    assert (g.transpose(-1, -2) @ g - I).abs().max() < 1e-12
    assert (torch.linalg.det(g) - 1).abs().max() < 1e-12


def test_exp_so2_is_rotation():
    alg = sl.so(2)
    theta = 0.7
    Rgen = torch.tensor([[0.0, -1.0], [1.0, 0.0]], dtype=DT)
    g = alg.exp(theta * Rgen)
    expected = torch.tensor([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]], dtype=DT)
    assert torch.allclose(g, expected, atol=1e-14)
    assert torch.allclose(alg.exp(2 * math.pi * Rgen), torch.eye(2, dtype=DT), atol=1e-13)


@pytest.mark.parametrize("n2", [2, 4, 6])
def test_exp_sp_is_symplectic(n2):
    alg = sl.sp(n2)
    g = alg.exp(_rand(alg, seed=n2, scale=0.5))
    J = J_form(n2)
    assert (g.transpose(-1, -2) @ J @ g - J).abs().max() < 1e-11
    assert (torch.linalg.det(g) - 1).abs().max() < 1e-10


@pytest.mark.parametrize("p,q", [(1, 3), (2, 1), (2, 2)])
def test_exp_so_pq_preserves_metric(p, q):
    alg = sl.lorentz() if (p, q) == (1, 3) else sl.so(p, q)
    g = alg.exp(_rand(alg, seed=p + 10 * q, scale=0.7))
    eta = eta_pq(p, q)
    assert (g.transpose(-1, -2) @ eta @ g - eta).abs().max() < 1e-11
    assert (torch.linalg.det(g) - 1).abs().max() < 1e-11
    # identity component: the time-time block of g keeps its orientation
    assert (torch.linalg.det(g[:, :p, :p]) > 0).all()


@pytest.mark.parametrize("n", [2, 3, 4])
def test_exp_sl_has_det_one(n):
    alg = sl.sl(n)
    g = alg.exp(_rand(alg, seed=n))
    assert (torch.linalg.det(g) - 1).abs().max() < 1e-11


@pytest.mark.parametrize("n", [2, 3])
def test_exp_se_is_homogeneous_rigid_motion(n):
    alg = sl.se(n)
    g = alg.exp(_rand(alg, seed=n))
    last = torch.zeros(n + 1, dtype=DT)
    last[-1] = 1
    assert torch.allclose(g[:, -1, :], last.expand(g.shape[0], -1), atol=0, rtol=0)
    R = g[:, :n, :n]
    assert (R.transpose(-1, -2) @ R - torch.eye(n, dtype=DT)).abs().max() < 1e-12
    assert (torch.linalg.det(R) - 1).abs().max() < 1e-12


def test_exp_translation_closed_form():
    alg = sl.t(3)
    b = torch.tensor([0.3, -1.2, 2.0], dtype=DT)
    X = torch.zeros(4, 4, dtype=DT)
    X[:3, 3] = b
    g = alg.exp(X)
    expected = torch.eye(4, dtype=DT)
    expected[:3, 3] = b
    assert torch.allclose(g, expected, atol=1e-15)
    x = torch.randn(5, 3, generator=gen(0), dtype=DT)
    assert torch.allclose(alg.act(g, x), x + b, atol=1e-14)


@pytest.mark.parametrize("alg_fn", [lambda: sl.so(3), lambda: sl.se(2), lambda: sl.sl(3), lambda: sl.sp(4),
                                    lambda: sl.lorentz(), lambda: sl.aff(2)],
                         ids=["so3", "se2", "sl3", "sp4", "lorentz", "aff2"])
def test_exp_one_parameter_subgroup(alg_fn):
    alg = alg_fn()
    X = _rand(alg, num=4, seed=7, scale=0.6)
    for s, t_ in ((0.3, 0.5), (-1.1, 0.4), (0.0, 1.0)):
        lhs = alg.exp(s * X) @ alg.exp(t_ * X)
        rhs = alg.exp((s + t_) * X)
        assert (lhs - rhs).abs().max() < 1e-12
    assert torch.allclose(alg.exp(0 * X), torch.eye(alg.matrix_size, dtype=DT).expand_as(X), atol=0)
    # inverse: exp(X) exp(-X) = I
    assert (alg.exp(X) @ alg.exp(-X) - torch.eye(alg.matrix_size, dtype=DT)).abs().max() < 1e-12


def test_exp_rejects_wrong_shape():
    with pytest.raises(ValueError, match="X: expected matrices"):
        sl.so(3).exp(torch.zeros(4, 4, dtype=DT))


# ---------------------------------------------------------------------------- infinitesimal and group actions
@pytest.mark.parametrize("alg_fn", [lambda: sl.se(3), lambda: sl.so(3), lambda: sl.aff(2)], ids=["se3", "so3", "aff2"])
def test_vector_field_is_derivative_of_action(alg_fn):
    alg = alg_fn()
    x = torch.randn(7, alg.n, generator=gen(2), dtype=DT)
    X = _rand(alg, num=1, seed=4)[0]
    h = 1e-6
    fd = (alg.act(alg.exp(h * X), x) - alg.act(alg.exp(-h * X), x)) / (2 * h)
    v = alg.vector_field(x, X)
    assert (fd - v).abs().max() < 1e-8
    # closed form A x + b
    A, b = X[:alg.n, :alg.n], (X[:alg.n, alg.n] if alg.affine else torch.zeros(alg.n, dtype=DT))
    assert torch.allclose(v, x @ A.T + b, atol=1e-14)
    # the basis default has shape (q, N, n)
    assert tuple(alg.vector_field(x).shape) == (alg.dim, 7, alg.n)


# ---------------------------------------------------------------------------- coordinates / element / contains
@pytest.mark.parametrize("alg_fn", [lambda: sl.so(4), lambda: sl.se(3), lambda: sl.sp(4), lambda: sl.gl(2),
                                    lambda: sl.so(3).copies(2)],
                         ids=["so4", "se3", "sp4", "gl2", "so3x2"])
def test_coordinates_inverts_element(alg_fn):
    alg = alg_fn()
    c = torch.randn(2, 5, alg.dim, generator=gen(9), dtype=DT)
    X = alg.element(c)
    assert tuple(X.shape) == (2, 5, alg.matrix_size, alg.matrix_size)
    assert torch.allclose(alg.element(c[0, 0]), torch.einsum("k,kab->ab", c[0, 0], alg.basis), atol=1e-14)
    c2, res = alg.coordinates(X, return_residual=True)
    assert (c2 - c).abs().max() < 1e-12
    assert res.abs().max() < 1e-12
    assert alg.contains(X).all()


def test_coordinates_residual_and_contains():
    alg = sl.so(3)
    I = torch.eye(3, dtype=DT)
    c, res = alg.coordinates(I, return_residual=True)
    assert c.abs().max() < 1e-14  # identity is orthogonal to antisymmetric matrices
    assert abs(float(res) - math.sqrt(3)) < 1e-12
    A = alg.random_element(generator=1)
    S = torch.tensor([[1.0, 2.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, -1.0]], dtype=DT)  # symmetric
    c, res = alg.coordinates(A + S, return_residual=True)
    assert torch.allclose(alg.element(c), A, atol=1e-13)  # projection drops the symmetric part
    assert abs(float(res) - float(torch.linalg.matrix_norm(S))) < 1e-12
    mask = alg.contains(torch.stack([A, A + S, S, 2 * A, torch.zeros(3, 3, dtype=DT)]))
    assert mask.tolist() == [True, False, False, True, True]
    # a tiny perturbation outside is still detected at the default tolerance only if above it
    assert not bool(alg.contains(A + 1e-6 * S))
    assert bool(alg.contains(A + 1e-14 * S))
    # affine: a translation is in se(2) but a shear is not
    se2 = sl.se(2)
    Tr = torch.zeros(3, 3, dtype=DT)
    Tr[0, 2] = 1.0
    Sh = torch.zeros(3, 3, dtype=DT)
    Sh[0, 1] = 1.0
    assert se2.contains(torch.stack([Tr, Sh])).tolist() == [True, False]


def test_element_rejects_wrong_coeffs():
    with pytest.raises(ValueError, match="coeffs: expected last dimension 3"):
        sl.so(3).element(torch.zeros(4, dtype=DT))


def test_random_element_deterministic_and_in_algebra():
    alg = sl.sp(4)
    a = alg.random_element(5, generator=3)
    b = alg.random_element(5, generator=3)
    c = alg.random_element(5, generator=4)
    g = gen(3)
    d = alg.random_element(5, generator=g)
    assert torch.equal(a, b) and torch.equal(a, d)
    assert not torch.allclose(a, c)
    assert alg.contains(a).all()
    assert tuple(alg.random_element(generator=0).shape) == (4, 4)


# ---------------------------------------------------------------------------- orthonormalize / span
@pytest.mark.parametrize("alg_fn", [lambda: sl.so(3), lambda: sl.se(2), lambda: sl.sl(3)], ids=["so3", "se2", "sl3"])
def test_orthonormalize_preserves_span(alg_fn):
    base = alg_fn()
    q = base.dim
    M = torch.randn(q, q, generator=gen(q), dtype=DT) + 3 * torch.eye(q, dtype=DT)
    skew = sl.LieAlgebra(torch.einsum("ij,jab->iab", M, base.basis), affine=base.affine)
    assert not skew.is_orthonormal()
    on = skew.orthonormalize()
    F = on.basis.reshape(q, -1)
    assert torch.allclose(F @ F.T, torch.eye(q, dtype=DT), atol=1e-12)
    assert torch.allclose(projector(on.basis), projector(base.basis), atol=1e-12)
    assert on.affine == base.affine
    # Gram-Schmidt: the first element is the normalised first generator (same direction and sign)
    first = skew.basis[0] / torch.linalg.matrix_norm(skew.basis[0])
    assert torch.allclose(on.basis[0], first, atol=1e-12)
    # the flag of spans is kept: span(on[:k]) = span(skew[:k])
    for k in range(1, q):
        assert torch.allclose(projector(on.basis[:k]), projector(skew.basis[:k]), atol=1e-10)


def test_span_so3_t3_is_se3():
    s = sl.span(sl.so(3), sl.t(3))
    se3 = sl.se(3)
    assert s.dim == 6 and s.affine and s.matrix_size == 4
    assert s.is_orthonormal()
    assert torch.allclose(projector(s.basis), projector(se3.basis), atol=1e-12)
    assert s.is_closed()
    # the operator form
    s2 = sl.so(3) + sl.t(3)
    assert torch.allclose(projector(s2.basis), projector(se3.basis), atol=1e-12)


def test_span_overlapping_inputs():
    # so(3) + se(3) + t(3) overlaps: the span is still se(3), dimension 6
    s = sl.span(sl.so(3), sl.se(3), sl.t(3))
    assert s.dim == 6
    assert s.is_orthonormal()
    assert torch.allclose(projector(s.basis), projector(sl.se(3).basis), atol=1e-12)
    # so(3) + scaling(3) is the linear part of sim(3)
    s = sl.span(sl.so(3), sl.scaling(3))
    assert s.dim == 4 and not s.affine and s.is_closed()


def test_span_need_not_close():
    # so(3) + the symmetric matrix diag(1,-1,0): the span is not closed, and span does not pretend it is
    D = sl.LieAlgebra(torch.diag(torch.tensor([1.0, -1.0, 0.0], dtype=DT)))
    s = sl.span(sl.so(3), D)
    assert s.dim == 4
    assert not s.is_closed()


def test_span_rejects_different_spaces():
    with pytest.raises(ValueError, match="different dimensions"):
        sl.span(sl.so(3), sl.so(2))


# ---------------------------------------------------------------------------- subalgebras and user algebras
def test_subalgebra_of_so3_one_generator():
    alg = sl.so(3)
    sub = alg.subalgebra(torch.tensor([0.3, -1.0, 2.0], dtype=DT))
    assert sub.dim == 1
    assert sub.closure_error() < TOL
    assert torch.allclose(sub.basis[0], alg.element(torch.tensor([0.3, -1.0, 2.0], dtype=DT)), atol=1e-15)
    # the rotation axis: exp of the generator fixes the kernel vector of the antisymmetric matrix
    g = alg.exp(sub.basis[0])
    w = torch.linalg.svd(sub.basis[0])[2][-1]
    assert torch.allclose(g @ w, w, atol=1e-12)


def test_subalgebra_closed_two_dimensional():
    # the Borel of sl(2): {H, E} closes since [H, E] = 2E
    alg = sl.sl(2)
    H = torch.diag(torch.tensor([1.0, -1.0], dtype=DT))
    Ep = E(2, 0, 1)
    coeffs = alg.coordinates(torch.stack([H, Ep]))
    sub = alg.subalgebra(coeffs)
    assert sub.dim == 2 and sub.is_closed()


def test_subalgebra_not_closed_raises():
    alg = sl.gl(2)
    coeffs = alg.coordinates(torch.stack([E(2, 0, 1), E(2, 1, 0)]))
    with pytest.raises(sl.NotClosedError, match="do not close"):
        alg.subalgebra(coeffs)
    # two rotations of so(3) generate all of so(3): not closed on their own
    with pytest.raises(sl.NotClosedError):
        sl.so(3).subalgebra(torch.tensor([[1.0, 0, 0], [0, 1.0, 0]], dtype=DT))
    # allowed when the check is switched off
    sub = alg.subalgebra(coeffs, check_closure=False)
    assert sub.dim == 2 and not sub.is_closed()


@pytest.mark.parametrize("coeffs", [torch.zeros(2, 4, dtype=DT), torch.zeros(4, dtype=DT),
                                    torch.zeros(1, 2, 3, dtype=DT)], ids=["2x4", "len4", "3d"])
def test_subalgebra_bad_coeff_shape(coeffs):
    with pytest.raises(ValueError, match="coeffs: expected shape"):
        sl.so(3).subalgebra(coeffs)


def test_user_algebra_check_closure():
    # sl(2) in the Chevalley basis, given as integers
    H = [[1, 0], [0, -1]]
    Ep = [[0, 1], [0, 0]]
    Em = [[0, 0], [1, 0]]
    alg = sl.LieAlgebra([H, Ep, Em], check_closure=True, name="sl2")
    assert alg.basis.dtype == torch.float64 and alg.dim == 3
    C = alg.structure_constants()
    # [H, E] = 2E, [H, F] = -2F, [E, F] = H
    expected = torch.zeros(3, 3, 3, dtype=DT)
    expected[0, 1, 1], expected[1, 0, 1] = 2, -2
    expected[0, 2, 2], expected[2, 0, 2] = -2, 2
    expected[1, 2, 0], expected[2, 1, 0] = 1, -1
    assert torch.allclose(C, expected, atol=1e-13)
    assert alg.killing_signature() == (2, 1, 0)
    # {E, F} alone does not close
    with pytest.raises(sl.NotClosedError, match="basis: the generators do not close"):
        sl.LieAlgebra([Ep, Em], check_closure=True)
    # a numpy input works equally
    alg2 = sl.LieAlgebra(np.array([H, Ep, Em], dtype=np.float64), check_closure=True)
    assert torch.equal(alg2.basis, alg.basis)


def test_single_matrix_is_promoted():
    alg = sl.LieAlgebra(torch.diag(torch.tensor([1.0, 2.0], dtype=DT)))
    assert alg.dim == 1 and alg.matrix_size == 2


def test_zero_dimensional_algebra():
    alg = sl.LieAlgebra(torch.zeros(0, 3, 3), size=3)
    assert alg.dim == 0 and alg.matrix_size == 3
    assert alg.closure_error() == 0.0 and alg.is_orthonormal()
    assert tuple(alg.structure_constants().shape) == (0, 0, 0)
    assert alg.jacobi_error() == 0.0 and alg.killing_signature() == (0, 0, 0)
    # nothing but 0 lies in the zero algebra: the residual of I is all of |I|_F = sqrt(3)
    c, res = alg.coordinates(torch.eye(3, dtype=DT), return_residual=True)
    assert c.numel() == 0 and abs(float(res) - math.sqrt(3)) < 1e-14
    assert alg.contains(torch.stack([torch.zeros(3, 3, dtype=DT), torch.eye(3, dtype=DT)])).tolist() == [True, False]


# ---------------------------------------------------------------------------- direct sums and copies
def _is_block_diagonal(B: torch.Tensor, sizes) -> bool:
    offs = np.cumsum([0] + list(sizes))
    mask = torch.ones(B.shape[-2:], dtype=torch.bool)
    for a, b in zip(offs[:-1], offs[1:]):
        mask[a:b, a:b] = False
    return bool((B[..., mask] == 0).all())


def test_direct_sum_linear():
    a, b = sl.so(3), sl.sl(2)
    ds = sl.direct_sum(a, b)
    assert ds.dim == 6 and ds.matrix_size == 5 and not ds.affine
    assert _is_block_diagonal(ds.basis, [3, 2])
    assert torch.equal(ds.basis[:3, :3, :3], a.basis)
    assert torch.equal(ds.basis[3:, 3:, 3:], b.basis)
    assert (ds.basis[:3, 3:, 3:] == 0).all() and (ds.basis[3:, :3, :3] == 0).all()
    assert ds.closure_error() < TOL and ds.jacobi_error() < TOL
    C = ds.structure_constants()
    assert C[:3, 3:].abs().max() < TOL  # the summands commute
    assert torch.allclose(C[:3, :3, :3], a.structure_constants(), atol=1e-13)
    assert torch.allclose(C[3:, 3:, 3:], b.structure_constants(), atol=1e-13)
    # Killing form of a direct sum is the block sum
    assert ds.killing_signature() == (2, 4, 0)


def test_direct_sum_affine():
    a, b = sl.se(2), sl.so(3)
    ds = sl.direct_sum(a, b)
    assert ds.affine and ds.n == 5 and ds.matrix_size == 6 and ds.dim == 6
    B = ds.basis
    assert (B[:, -1, :] == 0).all()
    # linear parts block diagonal, translations only on the se(2) block
    assert _is_block_diagonal(B[:, :5, :5], [2, 3])
    assert torch.equal(B[:3, :2, :2], a.linear_part())
    assert torch.equal(B[:3, :2, 5], a.translation_part())
    assert (B[:, 2:5, 5] == 0).all()
    assert torch.equal(B[3:, 2:5, 2:5], b.basis)
    assert ds.closure_error() < TOL
    # the group acts on (x, y) in R^2 x R^3 as (R x + b, Q y)
    X = ds.random_element(generator=0)
    g = ds.exp(X)
    x = torch.randn(4, 5, generator=gen(1), dtype=DT)
    y = ds.act(g, x)
    ga = a.exp(X[[0, 1, 5]][:, [0, 1, 5]])
    assert torch.allclose(y[:, :2], a.act(ga, x[:, :2]), atol=1e-12)
    assert torch.allclose(y[:, 2:], x[:, 2:] @ b.exp(X[2:5, 2:5]).T, atol=1e-12)


def test_direct_sum_errors():
    with pytest.raises(ValueError, match="at least one"):
        sl.direct_sum()
    with pytest.raises(TypeError, match="argument 1"):
        sl.direct_sum(sl.so(3), torch.eye(3))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_copies_linear(k):
    a = sl.so(3)
    c = a.copies(k)
    assert c.dim == 3 and c.matrix_size == 3 * k and not c.affine
    assert _is_block_diagonal(c.basis, [3] * k)
    for i in range(k):
        assert torch.equal(c.basis[:, 3 * i:3 * i + 3, 3 * i:3 * i + 3], a.basis)
    assert c.closure_error() < TOL
    # copies is a faithful representation: the same structure constants
    assert torch.allclose(c.structure_constants(), a.structure_constants(), atol=1e-13)


def test_copies_affine_translate():
    a = sl.se(2)
    c = a.copies(2, translate=[True, False])  # positions and velocities
    assert c.affine and c.dim == a.dim and c.matrix_size == 5 and c.n == 4
    B = c.basis
    assert (B[:, -1, :] == 0).all()
    assert _is_block_diagonal(B[:, :4, :4], [2, 2])
    assert torch.equal(B[:, :2, :2], a.linear_part()) and torch.equal(B[:, 2:4, 2:4], a.linear_part())
    assert torch.equal(B[:, :2, 4], a.translation_part())
    assert (B[:, 2:4, 4] == 0).all()
    assert c.closure_error() < TOL
    assert torch.allclose(c.structure_constants(), a.structure_constants(), atol=1e-13)
    # group action: positions are moved rigidly, velocities only rotated
    X = a.random_element(generator=2)
    coeffs = a.coordinates(X)
    g = c.exp(c.element(coeffs))
    ga = a.exp(X)
    pts = torch.randn(6, 4, generator=gen(3), dtype=DT)
    out = c.act(g, pts)
    assert torch.allclose(out[:, :2], a.act(ga, pts[:, :2]), atol=1e-12)
    assert torch.allclose(out[:, 2:], pts[:, 2:] @ ga[:2, :2].T, atol=1e-12)
    # default: every copy translated
    c2 = a.copies(3)
    for i in range(3):
        assert torch.equal(c2.basis[:, 2 * i:2 * i + 2, 6], a.translation_part())


def test_copies_errors():
    with pytest.raises(ValueError, match="k: expected an int >= 1"):
        sl.so(3).copies(0)
    with pytest.raises(ValueError, match="translate: only meaningful"):
        sl.so(3).copies(2, translate=[True, False])
    with pytest.raises(ValueError, match="translate: expected 2 booleans"):
        sl.se(2).copies(2, translate=[True])


# ---------------------------------------------------------------------------- equality / hashing
def test_equality_and_hash_consistency():
    a = sl.so(3)
    b = sl.LieAlgebra(a.basis.clone(), name="another name")
    assert a == b
    assert hash(a) == hash(b)  # equal objects must hash equally
    assert a != sl.so(3, normalize=False)  # same span, different (unnormalised) basis
    assert a != sl.se(3)


def test_unnormalized_constructors_same_span():
    for fn in (lambda **k: sl.so(1, 3, **k), lambda **k: sl.sp(4, **k), lambda **k: sl.sim(3, **k),
               lambda **k: sl.sl(3, **k), lambda **k: sl.aff(2, **k)):
        a, b = fn(), fn(normalize=False)
        assert a.dim == b.dim
        assert torch.allclose(projector(a.basis), projector(b.basis), atol=1e-12)
        assert b.closure_error() < 1e-12


# ---------------------------------------------------------------------------- input validation
@pytest.mark.parametrize("basis, exc, match", [
    (torch.zeros(2, 2, 3, dtype=DT), ValueError, "basis: generators must be square"),
    (torch.zeros(2, 3, dtype=DT), ValueError, r"basis: expected shape \(q, d, d\)"),
    (torch.zeros(3, dtype=DT), ValueError, r"basis: expected shape \(q, d, d\)"),
    (torch.zeros(1, 2, 2, 2, dtype=DT), ValueError, r"basis: expected shape \(q, d, d\)"),
    (torch.tensor([[[0.0, float("nan")], [0.0, 0.0]]], dtype=DT), ValueError, "basis: contains 1 NaN or Inf"),
    (torch.tensor([[[0.0, float("inf")], [-float("inf"), 0.0]]], dtype=DT), ValueError, "basis: contains 2 NaN or Inf"),
    (torch.zeros(1, 2, 2, dtype=torch.complex128), TypeError, "basis: complex values are not supported"),
    (np.zeros((1, 2, 2), dtype=np.complex128), TypeError, "basis: complex values are not supported"),
    (torch.stack([E(2, 0, 1), 2 * E(2, 0, 1)]), ValueError, "basis: the 2 generators are linearly dependent"),
    (torch.stack([E(2, 0, 1), E(2, 1, 0), E(2, 0, 1) + 3 * E(2, 1, 0)]), ValueError, "linearly dependent"),
    (torch.zeros(1, 2, 2, dtype=DT), ValueError, "linearly dependent"),
    ([["a", "b"], ["c", "d"]], TypeError, "basis: expected a numeric array"),
], ids=["nonsquare", "2d-nonsquare", "1d", "4d", "nan", "inf", "complex-torch", "complex-numpy", "dependent2",
        "dependent3", "zero", "strings"])
def test_lie_algebra_bad_basis(basis, exc, match):
    with pytest.raises(exc, match=match):
        sl.LieAlgebra(basis)


def test_affine_basis_nonzero_last_row():
    H = torch.zeros(1, 3, 3, dtype=DT)
    H[0, 0, 2] = 1.0
    sl.LieAlgebra(H, affine=True)  # translation: accepted
    H[0, 2, 0] = 1e-3
    with pytest.raises(ValueError, match="basis: affine generators must have a zero last row"):
        sl.LieAlgebra(H, affine=True)
    with pytest.raises(ValueError, match="basis: affine generators are homogeneous"):
        sl.LieAlgebra(torch.ones(1, 1, 1, dtype=DT), affine=True)


def test_size_mismatch():
    with pytest.raises(ValueError, match="basis: expected 4x4 matrices"):
        sl.LieAlgebra(sl.so(3).basis, size=4)


@pytest.mark.parametrize("ctor, minimum", [(sl.gl, 1), (sl.t, 1), (sl.aff, 1), (sl.scaling, 1), (sl.sl, 2),
                                           (sl.so, 2), (sl.se, 2), (sl.sim, 2)],
                         ids=["gl", "t", "aff", "scaling", "sl", "so", "se", "sim"])
@pytest.mark.parametrize("bad", [0, -1, True, False, 2.0, "3", None], ids=["0", "neg", "True", "False", "float",
                                                                          "str", "None"])
def test_named_constructors_reject_bad_n(ctor, minimum, bad):
    with pytest.raises(ValueError, match=r"n: expected an int >= " + str(minimum)):
        ctor(bad)


@pytest.mark.parametrize("ctor", [sl.sl, sl.so, sl.se, sl.sim], ids=["sl", "so", "se", "sim"])
def test_constructors_reject_n_one_when_minimum_two(ctor):
    with pytest.raises(ValueError, match=r"n: expected an int >= 2, got 1"):
        ctor(1)


@pytest.mark.parametrize("bad, match", [(3, "n2: the symplectic form needs an even size, got 3"),
                                        (5, "even size"), (0, "n2: expected an int >= 2"),
                                        (-2, "n2: expected an int >= 2"), (True, "n2: expected an int"),
                                        (4.0, "n2: expected an int")])
def test_sp_rejects_bad_size(bad, match):
    with pytest.raises(ValueError, match=match):
        sl.sp(bad)
    with pytest.raises(ValueError, match=match):
        sl.symplectic_form(bad)


@pytest.mark.parametrize("p, q, match", [(-1, 3, "p: expected an int >= 0"), (1, -3, "q: expected an int >= 0"),
                                         (True, 3, "p: expected an int"), (1, 0, "expected p \\+ q >= 2"),
                                         (0, 1, "expected p \\+ q >= 2"), (1.0, 2, "p: expected an int")])
def test_so_pq_rejects_bad_signature(p, q, match):
    with pytest.raises(ValueError, match=match):
        sl.so_pq(p, q)
    with pytest.raises(ValueError, match=match):
        sl.so(p, q)
