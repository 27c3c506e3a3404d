"""Tests of symlie.discovery: the symmetry algebra of a model (or data set) as the nullspace of xi -> L_xi F.

Convention under test (discovery.py / derivative.py docstrings):
    (L_xi F)(x) = DF(x) v_xi(x) - drho_out(xi) F(x),
    sym(F) = {xi in candidates : L_xi F = 0 on the samples},
    singular values = RMS violations over the (weighted) samples.
Ground truth: models whose symmetry algebra is known in closed form (functions of a few projections, of
distances to fixed points, quadratic forms, equivariant maps, vector fields with known commutants), checked
against the exactly transformed model F(exp(t xi) x) and against direct numpy computations.
"""
from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

import symlie as sl
from symlie.discovery import SymmetryResult
from _helpers import DT, J2, randn


# ----------------------------------------------------------------------------- helpers
def orthonormal(m, r, seed):
    """(m, r) orthonormal columns: QR of a seeded Gaussian matrix."""
    return torch.linalg.qr(randn(m, r, seed=seed))[0]


def generic_poly(r, d, seed):
    """phi(y) = sum over ALL monomials y^alpha with |alpha| <= d of random coefficients, y (N, r) -> (N,)."""
    monos = [c for k in range(d + 1) for c in itertools.combinations_with_replacement(range(r), k)]
    coef = randn(len(monos), seed=seed)

    def phi(y):
        out = torch.zeros(y.shape[0], dtype=y.dtype)
        for c, idx in zip(coef, monos):
            term = torch.ones(y.shape[0], dtype=y.dtype)
            for i in idx:
                term = term * y[:, i]
            out = out + c * term
        return out

    return phi


def act(g, X, affine):
    """x -> g x (linear) or the affine action through the homogeneous form x_h = [x, 1]."""
    if affine:
        xh = torch.cat([X, torch.ones(X.shape[0], 1, dtype=X.dtype)], 1)
        return (xh @ g.T)[:, :-1]
    return X @ g.T


def transformed_violation(F, gens, X, affine, t):
    """max over generators of RMS|F(exp(t xi) x) - F(x)| / RMS|F(x)| over the samples."""
    f0 = F(X)
    rms = float(f0.pow(2).mean().sqrt())
    out = []
    for xi in gens:
        g = torch.linalg.matrix_exp(t * xi)
        out.append(float((F(act(g, X, affine)) - f0).pow(2).mean().sqrt()) / rms)
    return max(out) if out else 0.0


def fd_violation(F, gens, X, affine, t=1e-4):
    """max over generators of RMS of the central difference (F(e^{t xi} x) - F(e^{-t xi} x)) / 2t, over RMS|F|."""
    rms = float(F(X).pow(2).mean().sqrt())
    out = []
    for xi in gens:
        gp, gm = torch.linalg.matrix_exp(t * xi), torch.linalg.matrix_exp(-t * xi)
        d = (F(act(gp, X, affine)) - F(act(gm, X, affine))) / (2 * t)
        out.append(float(d.pow(2).mean().sqrt()) / rms)
    return max(out) if out else 0.0


def names_of(res):
    ident = res.identification
    return [ident.get("name")] + list(ident.get("aliases", []))


def sqnorm(x):
    return (x ** 2).sum(-1)


# ============================================================== 1. verified dimensions (exact models)
def _projection_model(m, r, d, seed):
    U = orthonormal(m, r, seed)
    phi = generic_poly(r, d, seed + 100)
    return lambda x: phi(x @ U)


def _distance_model(m, r, d, seed):
    C = randn(r, m, seed=seed + 7)
    phi = generic_poly(r, d, seed + 200)
    return lambda x: phi(torch.stack([sqnorm(x - c) for c in C], 1))


# (model builder, m, r, d, candidates, expected dim, expected name or None)
CASES = [
    ("proj", 5, 1, 2, "se", 10, "se(4)"),
    ("proj", 5, 2, 2, "se", 6, "se(3)"),
    ("proj", 5, 3, 2, "se", 3, "se(2)"),
    ("proj", 6, 2, 3, "se", 10, "se(4)"),
    ("proj", 8, 3, 2, "se", 15, "se(5)"),
    ("proj", 5, 1, 2, "t", 4, "t(4)"),
    ("proj", 5, 2, 2, "t", 3, "t(3)"),
    ("proj", 6, 2, 3, "t", 4, "t(4)"),
    ("proj", 8, 3, 2, "t", 5, "t(5)"),
    ("dist", 5, 1, 1, "se", 10, "so(5)"),
    ("dist", 6, 1, 2, "se", 15, "so(6)"),
    ("dist", 5, 2, 2, "se", 6, "so(4)"),
]


@pytest.mark.parametrize("kind,m,r,d,cand,dim,name", CASES,
                         ids=[f"{c[0]}-m{c[1]}-r{c[2]}-d{c[3]}-{c[4]}" for c in CASES])
def test_verified_dimensions(kind, m, r, d, cand, dim, name):
    seed = 10 * m + r + d
    F = (_projection_model if kind == "proj" else _distance_model)(m, r, d, seed)
    X = randn(300, m, seed=seed + 1)
    alg = sl.se(m) if cand == "se" else sl.t(m)
    res = sl.discover(F, X, alg)
    assert res.dim == dim, res.summary()
    assert res.rule["rule"] == "auto"   # the default rank rule (a gap above the float64 floor)
    assert res.closure_error < 1e-8
    assert res.gap_ratio > 1e6, res.summary()
    assert res.identification["name"] == name, res.summary()
    assert res.identification["dim"] == dim
    # the found generators really leave F invariant: exactly along the finite flow, and to first order
    gens = res.generators
    assert gens.shape == (dim, m + 1, m + 1)
    assert transformed_violation(F, gens, X[:100], True, t=0.7) < 1e-9
    assert fd_violation(F, gens, X[:100], True) < 1e-7
    # ... and the broken directions do not (the check is not vacuous)
    broken = res.broken_generators
    assert broken.shape[0] == alg.dim - dim
    viol = [transformed_violation(F, b[None], X[:100], True, t=0.7) for b in broken]
    assert min(viol) > 1e-4
    # orthonormal coefficients, generators inside the candidate algebra
    eye = torch.eye(dim, dtype=DT)
    assert torch.allclose(res.coefficients @ res.coefficients.T, eye, atol=1e-12)
    assert bool(alg.contains(gens).all())


def test_distance_model_generators_fix_the_centre():
    """Rotations about c: the translation part of every generator (A, b) equals -A c."""
    m = 5
    c = randn(m, seed=3)
    F = lambda x: sqnorm(x - c) + 0.3 * sqnorm(x - c) ** 2  # noqa: E731
    res = sl.discover(F, randn(200, m, seed=4), sl.se(m))
    assert res.dim == 10
    A, b = res.generators[:, :m, :m], res.generators[:, :m, m]
    assert torch.allclose(b, -(A @ c), atol=1e-10)
    assert torch.allclose(A, -A.transpose(1, 2), atol=1e-12)


# ============================================================== 2. quadratic forms in gl(n)
@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_so_n_from_squared_norm(n):
    res = sl.discover(sqnorm, randn(200, n, seed=n), sl.gl(n))
    assert res.dim == n * (n - 1) // 2
    assert res.identification["name"] == f"so({n})"
    assert res.distance_to(sl.so(n)) < 1e-8
    assert res.closure_error < 1e-8
    assert res.gap_ratio > 1e6


def test_lorentz_from_minkowski_form():
    eta = sl.minkowski_metric(1, 3)
    F = lambda x: torch.einsum("ni,ij,nj->n", x, eta, x)  # noqa: E731
    res = sl.discover(F, randn(300, 4, seed=5), sl.gl(4))
    assert res.dim == 6
    assert res.identification["name"] == "so(1,3)"
    assert tuple(res.identification["killing_signature"]) == (3, 3, 0)
    assert res.distance_to(sl.lorentz()) < 1e-8
    assert res.distance_to(sl.so(1, 3)) < 1e-8
    assert res.distance_to(sl.so(4)) > 0.5   # a genuinely different subspace


def test_closure_tol_refuses_identification():
    X = randn(200, 3, seed=55)
    res = sl.discover(sqnorm, X, sl.gl(3))
    assert res.info["closure_tol"] == pytest.approx(1e-8)      # floor: the symmetric values are rounding
    assert res.info["noise_level"] < 1e-14
    strict = sl.discover(sqnorm, X, sl.gl(3), closure_tol=0.0)
    assert strict.dim == 3 and strict.closure_error > 0
    assert strict.identification["name"] is None
    assert "does not close" in strict.identification["description"]
    assert "unidentified" in strict.summary()


def test_numpy_and_list_inputs():
    X = randn(100, 3, seed=56)
    a = sl.discover(sqnorm, X.numpy(), sl.gl(3), weights=[1.0] * 100)
    b = sl.discover(sqnorm, X, sl.gl(3))
    assert a.dim == b.dim == 3
    torch.testing.assert_close(a.singular_values, b.singular_values, rtol=1e-12, atol=1e-14)


# ============================================================== 3. no symmetry / all symmetric
def test_no_symmetry_gives_dim_zero():
    F = lambda x: x[:, 0] ** 3 + x[:, 1] * x[:, 2] + torch.sin(x[:, 2])  # noqa: E731
    res = sl.discover(F, randn(300, 3, seed=6), sl.gl(3))
    assert res.dim == 0
    assert res.coefficients.shape == (0, 9)
    assert res.broken_coefficients.shape == (9, 9)
    assert res.identification["name"] == "0"
    assert res.closure_error == 0.0
    assert math.isnan(res.gap_ratio)
    assert set(res.largest_gap) == {"dim", "ratio"}
    s = res.summary()
    assert "spectrum" in s and "largest gap" in s
    assert res.singular_values[-1] > 1e-3 * res.reference


def test_symmetric_under_all_candidates():
    """|x|^2 with so(3) candidates: every singular value is rounding; the model scale is the reference."""
    res = sl.discover(sqnorm, randn(300, 3, seed=7), sl.so(3))
    assert res.dim == 3
    assert res.rank == 0
    assert res.identification["name"] == "so(3)"
    assert res.scale > 0.5
    assert res.reference == pytest.approx(res.scale)
    assert float(res.normalized_spectrum.max()) < 1e-12
    # same under the gap rule
    res_gap = sl.discover(sqnorm, randn(300, 3, seed=7), sl.so(3), rule="gap")
    assert res_gap.dim == 3


def test_constant_model_is_symmetric_under_everything():
    """F = const: L_xi F = 0 exactly and the model scale is 0; nothing is broken."""
    res = sl.discover(lambda x: torch.ones(x.shape[0], dtype=x.dtype), randn(100, 3, seed=28), sl.gl(3))
    assert res.dim == 9 and res.scale == 0.0 and res.reference == 0.0
    assert float(res.singular_values.abs().max()) == 0.0
    assert res.identification["name"] == "sl(3) + R"
    assert "spectrum" in res.summary()


def test_largest_gap_agrees_with_gap_rule_when_everything_is_symmetric():
    res = sl.discover(sqnorm, randn(300, 3, seed=7), sl.so(3), rule="gap")
    assert res.dim == 3
    assert res.largest_gap["dim"] == 3
    assert res.largest_gap["ratio"] > 1e10


def test_largest_gap_reports_the_clear_cut():
    res = sl.discover(sqnorm, randn(300, 3, seed=7), sl.gl(3))
    assert res.largest_gap["dim"] == 3 == res.dim
    assert res.largest_gap["ratio"] > 1e12 and res.gap_ratio > 1e12   # (largest_gap clamps at floor * sigma_1)
    # the gap rule gives the same answer here
    assert sl.discover(sqnorm, randn(300, 3, seed=7), sl.gl(3), rule="gap").dim == 3


# ============================================================== 4. equivariant (vector-output) models
def test_equivariant_vector_model():
    F = lambda x: sqnorm(x)[:, None] * x  # noqa: E731
    res = sl.discover(F, randn(300, 3, seed=8), sl.gl(3), rep_out=sl.V(sl.GL(3)))
    assert res.dim == 3 and res.n_outputs == 3
    assert res.identification["name"] == "so(3)"
    assert res.distance_to(sl.so(3)) < 1e-8
    # without the output representation the same model is only "invariant" under nothing
    res_inv = sl.discover(F, randn(300, 3, seed=8), sl.gl(3))
    assert res_inv.dim == 0


def test_identity_map_is_equivariant_under_everything():
    res = sl.discover(lambda x: x, randn(200, 3, seed=9), sl.gl(3), rep_out=sl.V(sl.GL(3)))
    assert res.dim == 9
    assert res.identification["name"] == "sl(3) + R"
    assert res.distance_to(sl.gl(3)) < 1e-10


def test_equivariant_affine_candidates_read_linear_part():
    """F(x) = x - c with rep_out = V(SE(3)) (linear part only): equivariant exactly under rotations about c."""
    c = torch.tensor([0.5, -1.0, 2.0], dtype=DT)
    res = sl.discover(lambda x: x - c, randn(200, 3, seed=29), sl.se(3), rep_out=sl.V(sl.SE(3)))
    assert res.dim == 3 and res.identification["name"] == "so(3)"
    A, b = res.generators[:, :3, :3], res.generators[:, :3, 3]
    assert torch.allclose(b, -(A @ c), atol=1e-12)


def test_two_vector_inputs():
    """rep_in = V + V: the dot product is O(3)-invariant, the cross product SO(3)-equivariant (a pseudovector)."""
    G = sl.GL(3)
    Z = randn(200, 6, seed=50)
    dot = lambda z: (z[:, :3] * z[:, 3:]).sum(1)  # noqa: E731
    cross = lambda z: torch.linalg.cross(z[:, :3], z[:, 3:])  # noqa: E731
    r1 = sl.discover(dot, Z, sl.gl(3), rep_in=sl.V(G) + sl.V(G))
    assert r1.dim == 3 and r1.distance_to(sl.so(3)) < 1e-10
    r2 = sl.discover(cross, Z, G, rep_in=sl.V(G) + sl.V(G), rep_out=sl.V(G))
    assert r2.dim == 3 and r2.distance_to(sl.so(3)) < 1e-10
    # the reflection diag(-1, 1, 1) (det -1) flips the sign of the cross product: violation |-2F| / |F| = 2
    (v,) = r2.discrete.values()
    assert v == pytest.approx(2.0, rel=1e-12)


# ============================================================== 5. dynamics


def test_dynamics_linear_rotation_centraliser():
    """x' = J x: [v_A, f] = (J A - A J) x, so sym = centraliser of J = span{I, J}."""
    f = lambda x: x @ J2.T  # noqa: E731
    X = randn(200, 2, seed=10)
    res = sl.discover(f, X, sl.gl(2), dynamics=True)
    assert res.kind == "dynamics"
    assert res.dim == 2
    truth = torch.stack([torch.eye(2, dtype=DT), J2])
    assert res.distance_to(truth) < 1e-10
    assert res.identification["abelian"]
    # the operator is the tangent-lift Lie derivative of symlie.lie_derivative_dynamics
    L = sl.lie_derivative_dynamics(f, res.candidates, X)                # (q, N, 2)
    S = L.permute(1, 2, 0).reshape(-1, 4) / math.sqrt(X.shape[0])
    s_manual = torch.linalg.svdvals(S)
    assert torch.allclose(res.singular_values, s_manual, rtol=1e-10, atol=1e-14)


def hopf(x):
    r2 = sqnorm(x)[:, None]
    return (0.5 - r2) * x + x @ J2.T


def test_dynamics_hopf_normal_form():
    X = randn(300, 2, seed=11)
    res = sl.discover(hopf, X, sl.gl(2), dynamics=True)
    assert res.dim == 1
    assert res.identification["name"] == "so(2)"
    assert res.distance_to(sl.so(2)) < 1e-10
    # as a plain invariant map (no tangent lift) the vector field has no symmetry in gl(2)
    assert sl.discover(hopf, X, sl.gl(2)).dim == 0


def test_dynamics_affine_rotation_about_a_centre():
    """x' = J (x - c) in se(2): [v_xi, f] = 0 only for the rotation about c (generator b = -A c)."""
    c = torch.tensor([1.0, 2.0], dtype=DT)
    res = sl.discover(lambda x: (x - c) @ J2.T, randn(200, 2, seed=51), sl.se(2), dynamics=True)
    assert res.dim == 1 and res.identification["name"] == "so(2)"
    A, b = res.generators[0, :2, :2], res.generators[0, :2, 2]
    assert torch.allclose(b, -(A @ c), atol=1e-12)
    assert torch.allclose(A, -A.T, atol=1e-14)


def test_dynamics_discrete_uses_the_tangent_lift():
    """K_R f(x) = R^{-1} f(R x) for the reflection R of O(2): the Hopf rotation term flips sign, so
    K_R f - f = -2 J x and the violation is 2 RMS|x| / RMS|f|; the radial part alone is reflection symmetric."""
    X = randn(300, 2, seed=52)
    res = sl.discover(hopf, X, sl.O(2), dynamics=True)
    assert res.dim == 1
    (v,) = res.discrete.values()
    expected = 2 * float(X.pow(2).sum(1).mean().sqrt()) / float(hopf(X).pow(2).sum(1).mean().sqrt())
    assert v == pytest.approx(expected, rel=1e-12)
    radial = lambda x: (0.5 - sqnorm(x)[:, None]) * x  # noqa: E731
    (v0,) = sl.discover(radial, X, sl.O(2), dynamics=True).discrete.values()
    assert v0 < 1e-14


# ============================================================== 6. fitted linear estimators
def test_regressor_exact_path_matches_callable():
    X = randn(200, 3, seed=12)
    y = sqnorm(X)
    reg = sl.SymmetricRegressor(sl.PolynomialLibrary(2), mode="none").fit(X, y)
    res = sl.discover(reg, X, sl.gl(3))
    assert res.kind == "linear"
    assert res.info["autodiff"] == "exact (library)"
    assert res.dim == 3 and res.identification["name"] == "so(3)"
    W = reg.coef_.to(DT)
    ref = sl.discover(lambda x: (reg.library.transform(x) @ W.T).squeeze(-1), X, sl.gl(3))
    assert ref.dim == 3
    torch.testing.assert_close(res.singular_values, ref.singular_values, rtol=1e-10, atol=1e-10 * float(ref.singular_values[0]))
    assert res.scale == pytest.approx(ref.scale, rel=1e-12)


def test_sindy_hopf_exact_path():
    X = 3 * torch.rand(200, 2, dtype=DT, generator=torch.Generator().manual_seed(0)) - 1.5
    Xdot = hopf(X)
    model = sl.SymmetricSINDy(sl.PolynomialLibrary(3), mode="none", threshold=0.05).fit(X, Xdot)
    res = sl.discover(model, X, sl.gl(2))
    assert "dynamics" in res.kind and "linear" in res.kind
    assert res.dim == 1
    assert res.identification["name"] == "so(2)"
    assert res.distance_to(sl.so(2)) < 1e-8


# ============================================================== 7. options agree
def _mlp(n_in, n_out, seed, hidden=12):
    gen = torch.Generator().manual_seed(seed)
    W1 = torch.randn(n_in, hidden, generator=gen, dtype=DT) / math.sqrt(n_in)
    b1 = torch.randn(hidden, generator=gen, dtype=DT) * 0.3
    W2 = torch.randn(hidden, n_out, generator=gen, dtype=DT) / math.sqrt(hidden)

    def f(x):
        y = torch.tanh(x @ W1 + b1) @ W2
        return y[:, 0] if n_out == 1 else y

    return f


@pytest.mark.parametrize("with_rep_out", [False, True])
def test_autodiff_modes_agree(with_rep_out):
    X = randn(200, 3, seed=13)
    if with_rep_out:
        base = _mlp(3, 3, seed=1)
        F = lambda x: base(x) + sqnorm(x)[:, None] * x  # noqa: E731
        kw = {"rep_out": sl.V(sl.GL(3))}
    else:
        base = _mlp(3, 1, seed=2)
        F = lambda x: base(x) + sqnorm(x)  # noqa: E731
        kw = {}
    results = {m: sl.discover(F, X, sl.gl(3), autodiff=m, **kw) for m in ("tangent", "jacfwd", "jacrev", "auto")}
    s0 = results["tangent"].singular_values
    for mode, r in results.items():
        # info records the mode actually used: "auto" resolves to jacrev here (n_out <= 3 < q = 9)
        assert r.info["autodiff"] == (mode if mode != "auto" else "jacrev")
        torch.testing.assert_close(r.singular_values, s0, rtol=1e-10, atol=1e-10 * float(s0[0]))
        assert r.dim == results["tangent"].dim


def test_accumulate_qr_and_gram_agree():
    F = lambda x: sqnorm(x) + 0.5 * x[:, 0] ** 3  # noqa: E731  (rotations of the (x1, x2) plane only)
    X = randn(400, 3, seed=14)
    a = sl.discover(F, X, sl.gl(3), accumulate="qr")
    b = sl.discover(F, X, sl.gl(3), accumulate="gram")
    assert a.dim == b.dim == 1
    assert a.info["accumulate"] == "qr" and b.info["accumulate"] == "gram"
    k = a.rank
    torch.testing.assert_close(b.singular_values[:k], a.singular_values[:k], rtol=1e-8, atol=0)
    # the small (symmetric) values: qr keeps them at rounding, gram at about sqrt(eps)
    assert float(a.normalized_spectrum[k:].max()) < 1e-13
    assert float(b.normalized_spectrum[k:].max()) < 1e-6
    assert a.distance_to(b.generators) < 1e-6
    truth = torch.zeros(1, 3, 3, dtype=DT)
    truth[0, 1, 2], truth[0, 2, 1] = -1.0, 1.0
    assert a.distance_to(truth) < 1e-10 and b.distance_to(truth) < 1e-6


def test_batch_size_does_not_change_the_result():
    F = lambda x: sqnorm(x) * x[:, 2] + x[:, 0]  # noqa: E731
    X = randn(300, 3, seed=15)
    a = sl.discover(F, X, sl.gl(3))
    b = sl.discover(F, X, sl.gl(3), batch_size=7)
    assert b.info["batch_size"] == 7
    assert a.dim == b.dim
    torch.testing.assert_close(a.singular_values, b.singular_values, rtol=1e-12, atol=1e-12 * float(a.singular_values[0]))
    assert a.scale == pytest.approx(b.scale, rel=1e-12)
    assert a.n_samples == b.n_samples == 300


def test_zero_weights_drop_samples():
    F = lambda x: sqnorm(x) + 0.5 * x[:, 0] ** 3  # noqa: E731
    X = randn(400, 3, seed=16)
    w = torch.zeros(400, dtype=DT)
    w[::2] = 1.0
    a = sl.discover(F, X, sl.gl(3), weights=w)
    b = sl.discover(F, X[::2], sl.gl(3))
    assert a.dim == b.dim == 1
    torch.testing.assert_close(a.singular_values, b.singular_values, rtol=1e-12, atol=1e-13 * float(b.singular_values[0]))
    assert a.scale == pytest.approx(b.scale, rel=1e-12)
    assert a.distance_to(b.generators) < 1e-10
    # the scale of the weights does not matter (weights are normalised)
    c = sl.discover(F, X, sl.gl(3), weights=3.5 * w)
    torch.testing.assert_close(c.singular_values, a.singular_values, rtol=1e-12, atol=1e-13 * float(b.singular_values[0]))


def test_integer_weights_equal_duplicated_samples():
    F = lambda x: sqnorm(x) + 0.5 * x[:, 0] ** 3  # noqa: E731
    X = randn(300, 3, seed=17)
    w = torch.ones(300, dtype=torch.int64)
    w[:100] = 2
    a = sl.discover(F, X, sl.gl(3), weights=w)
    b = sl.discover(F, torch.cat([X, X[:100]]), sl.gl(3))
    assert a.dim == b.dim
    torch.testing.assert_close(a.singular_values, b.singular_values, rtol=1e-12, atol=1e-13 * float(b.singular_values[0]))
    assert a.scale == pytest.approx(b.scale, rel=1e-12)


class _Float32SquaredNorm(nn.Module):
    """|x|^2 through torch ops, with float32 buffers and parameters."""

    def __init__(self):
        super().__init__()
        self.register_buffer("w", torch.ones(3, dtype=torch.float32))
        self.lin = nn.Linear(3, 3, bias=False)
        with torch.no_grad():
            self.lin.weight.copy_(torch.eye(3))

    def forward(self, x):
        return (self.w * self.lin(x) ** 2).sum(-1)


def test_float32_module_evaluated_in_float64_and_left_untouched():
    model = _Float32SquaredNorm()
    X = randn(200, 3, seed=18).float()
    res = sl.discover(model, X, sl.gl(3))
    assert model.w.dtype == torch.float32 and model.lin.weight.dtype == torch.float32
    assert res.info["dtype"] == "float64"
    assert res.singular_values.dtype == DT
    assert res.dim == 3 and res.identification["name"] == "so(3)"
    assert float(res.normalized_spectrum[-3:].max()) < 1e-12     # float64 rounding, not float32
    # the module still works on float32 input afterwards
    assert model(X).dtype == torch.float32


def test_float32_evaluation_with_dtype_none():
    model = _Float32SquaredNorm()
    X = randn(200, 3, seed=18).float()
    res = sl.discover(model, X, sl.gl(3), dtype=None)
    assert res.info["dtype"] == "float32"
    assert res.rule["floor"] == pytest.approx(sl.linalg.DEFAULT_FLOOR[torch.float32])   # default rule: float32 floor
    assert res.dim == 3 and res.identification["name"] == "so(3)"


# ============================================================== 8. discrete elements
def test_group_candidates_test_discrete_generators():
    res = sl.discover(sqnorm, randn(200, 3, seed=19), sl.O(3))
    assert res.dim == 3
    assert len(res.discrete) == 1
    (label, v), = res.discrete.items()
    assert "O(3)" in label
    assert v < 1e-12


def test_discrete_violation_matches_direct_computation():
    X = randn(300, 3, seed=20)
    F = lambda x: x[:, 0] ** 3 + sqnorm(x)  # noqa: E731
    P = -torch.eye(3, dtype=DT)
    res = sl.discover(F, X, sl.gl(3), discrete={"P": P})
    Xn = X.numpy()
    f = Xn[:, 0] ** 3 + (Xn ** 2).sum(1)
    fm = (-Xn[:, 0]) ** 3 + (Xn ** 2).sum(1)
    expected = np.sqrt(np.mean((fm - f) ** 2)) / np.sqrt(np.mean(f ** 2))
    assert set(res.discrete) == {"P"}
    assert res.discrete["P"] == pytest.approx(expected, rel=1e-12)
    # with weights the violation is the weighted RMS ratio
    w = np.linspace(0.5, 2.0, 300)
    resw = sl.discover(F, X, sl.gl(3), discrete={"P": P}, weights=torch.from_numpy(w))
    expw = np.sqrt(np.sum(w * (fm - f) ** 2) / np.sum(w * f ** 2))
    assert resw.discrete["P"] == pytest.approx(expw, rel=1e-12)


def test_discrete_as_list_and_stack():
    X = randn(200, 3, seed=21)
    F = lambda x: x[:, 0] ** 3 + sqnorm(x)  # noqa: E731
    P = -torch.eye(3, dtype=DT)
    R = torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=DT))        # x1 -> -x1: a symmetry
    a = sl.discover(F, X, sl.gl(3), discrete=[P, R])
    b = sl.discover(F, X, sl.gl(3), discrete=torch.stack([P, R]))
    c = sl.discover(F, X, sl.gl(3), discrete=R)                       # a single matrix
    assert list(a.discrete) == list(b.discrete) == ["g0", "g1"]
    assert a.discrete["g0"] == pytest.approx(b.discrete["g0"], rel=1e-14) and a.discrete["g0"] > 0.1
    assert a.discrete["g1"] < 1e-14 and b.discrete["g1"] < 1e-14
    assert list(c.discrete) == ["g0"] and c.discrete["g0"] < 1e-14
    with pytest.raises(ValueError, match="singular"):
        sl.discover(F, X, sl.gl(3), discrete={"bad": torch.diag(torch.tensor([1.0, 0.0, 1.0], dtype=DT))})
    with pytest.raises(ValueError, match="discrete"):
        sl.discover(F, X, sl.gl(3), discrete={"wrong": torch.eye(4, dtype=DT)})


def test_discrete_with_equivariant_output():
    """K_g F = rho_out(g)^{-1} F(g x): x -> |x|^2 x is odd-equivariant under -I, so the violation is 0."""
    F = lambda x: sqnorm(x)[:, None] * x  # noqa: E731
    res = sl.discover(F, randn(100, 3, seed=22), sl.gl(3), rep_out=sl.V(sl.GL(3)),
                      discrete={"P": -torch.eye(3, dtype=DT)})
    assert res.discrete["P"] < 1e-14


# ============================================================== 9. SymmetryResult I/O and reporting
def _example_result():
    X = randn(200, 3, seed=23)
    return sl.discover(lambda x: x[:, 0] ** 3 + sqnorm(x), X, sl.O(3), discrete={"P": -torch.eye(3, dtype=DT)})


def test_save_load_round_trip(tmp_path):
    res = _example_result()
    assert res.dim == 1
    path = res.save(tmp_path / "res.json")
    assert path.is_file()
    back = SymmetryResult.load(path)
    assert back.dim == res.dim
    assert torch.equal(back.singular_values, res.singular_values)
    assert torch.equal(back.coefficients, res.coefficients)
    assert torch.equal(back.broken_coefficients, res.broken_coefficients)
    assert torch.allclose(back.generators, res.generators, atol=1e-15)
    assert back.identification["name"] == res.identification["name"]
    assert back.identification["killing_signature"] == tuple(res.identification["killing_signature"])
    assert back.discrete == res.discrete
    assert back.candidates.name == res.candidates.name
    assert back.rank == res.rank and back.threshold == res.threshold and back.rule == res.rule
    assert back.n_samples == res.n_samples and back.kind == res.kind and back.scale == res.scale
    assert back.gap_ratio == res.gap_ratio or (math.isnan(back.gap_ratio) and math.isnan(res.gap_ratio))
    assert back.summary() == res.summary()


def test_to_dict_is_json_serialisable_with_nonfinite_values():
    res = sl.discover(sqnorm, randn(100, 3, seed=24), sl.gl(3))
    d = res.to_dict()
    text = json.dumps(d)
    assert json.loads(text)["dim"] == 3
    # a result with nan gap ratio (nothing broken) also serialises
    res0 = sl.discover(sqnorm, randn(100, 3, seed=24), sl.so(3))
    assert math.isnan(res0.gap_ratio)
    back = SymmetryResult.from_dict(json.loads(json.dumps(res0.to_dict())))
    assert math.isnan(back.gap_ratio) and back.dim == 3


def test_save_load_round_trip_of_fit_and_info(tmp_path):
    X = randn(200, 3, seed=27)
    res = sl.discover_data(X, sqnorm(X), sl.gl(3), model="poly")
    back = SymmetryResult.load(res.save(tmp_path / "fit.json"))
    assert back.fit == res.fit
    assert back.info == res.info
    assert back.kind == "linear" and back.dim == 3


def test_save_load_round_trip_of_nan_in_fit(tmp_path):
    X = randn(200, 3, seed=27)
    res = sl.discover_data(X, sqnorm(X), sl.gl(3), model="poly", val_fraction=0.0)
    assert math.isnan(res.fit["r2_val"])
    back = SymmetryResult.load(res.save(tmp_path / "fit.json"))
    assert isinstance(back.fit["r2_val"], float) and math.isnan(back.fit["r2_val"])


def test_summary_and_repr():
    res = _example_result()
    s = res.summary()
    assert "spectrum" in s
    assert res.identification["name"] in s
    assert "P" in s
    assert "dim=1" in repr(res)


def test_distance_to_validation():
    res = sl.discover(sqnorm, randn(100, 3, seed=25), sl.gl(3))
    assert res.distance_to(sl.so(3)) < 1e-10
    assert res.distance_to(sl.so(3).basis) < 1e-10
    with pytest.raises(ValueError, match="truth"):
        res.distance_to(torch.zeros(2, 4, 4, dtype=DT))
    with pytest.raises(ValueError, match="truth"):
        res.distance_to(sl.so(4))
    # a dimension mismatch costs pi/2 per missing direction
    assert res.distance_to(sl.so(3).basis[:2]) == pytest.approx(math.pi / 2, abs=1e-8)


def test_distance_to_embeds_linear_truth_in_affine_candidates():
    res = sl.discover(sqnorm, randn(100, 3, seed=26), sl.se(3))
    assert res.dim == 3 and res.identification["name"] == "so(3)"
    assert res.distance_to(sl.so(3)) < 1e-10


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        SymmetryResult.load(tmp_path / "missing.json")
    p = tmp_path / "other.json"
    p.write_text(json.dumps({"foo": [1, 2, 3]}))
    with pytest.raises(ValueError, match="path"):
        SymmetryResult.load(p)
    p2 = tmp_path / "broken.json"
    p2.write_text("{not json")
    with pytest.raises(ValueError, match="path"):
        SymmetryResult.load(p2)


# ============================================================== 10. data-only discovery
def _uniform(n, d, seed, low=-1.0, high=1.0):
    return low + (high - low) * torch.rand(n, d, dtype=DT, generator=torch.Generator().manual_seed(seed))


def test_manifold_circle_noise_1e_3():
    th = 2 * math.pi * _uniform(400, 1, 30, 0.0, 1.0)[:, 0]
    X = torch.stack([th.cos(), th.sin()], 1) + randn(400, 2, seed=31, scale=1e-3)
    res = sl.discover_manifold(X, sl.gl(2))
    assert res.kind == "manifold"
    assert res.fit["estimated_dim"] == 1 and res.fit["manifold_dim"] == 1
    assert res.dim == 1 and res.identification["name"] == "so(2)"
    assert res.distance_to(sl.so(2)) < 1e-2


def test_manifold_sphere_noise_1e_3():
    X = randn(800, 3, seed=32)
    X = X / X.norm(dim=1, keepdim=True) + randn(800, 3, seed=33, scale=1e-3)
    res = sl.discover_manifold(X, sl.gl(3))
    assert res.fit["estimated_dim"] == 2
    assert res.dim == 3 and res.identification["name"] == "so(3)"
    assert res.distance_to(sl.so(3)) < 1e-2


def _hyperboloid(n, seed, noise=0.0):
    yz = _uniform(n, 2, seed, -1.5, 1.5)
    x0 = (1 + sqnorm(yz)).sqrt()
    X = torch.cat([x0[:, None], yz], 1)
    return X + randn(n, 3, seed=seed + 1, scale=noise) if noise else X


@pytest.mark.parametrize("noise", [0.0, 1e-3], ids=["noise0", "noise1e-3"])
def test_manifold_hyperboloid_sheet(noise):
    """x0 = sqrt(1 + x1^2 + x2^2): the orbit of the Lorentz group SO(1,2) (eta = diag(+,-,-))."""
    X = _hyperboloid(800, 34, noise)
    res = sl.discover_manifold(X, sl.gl(3))
    assert res.fit["estimated_dim"] == 2
    assert res.dim == 3, res.summary()
    assert "so(1,2)" in names_of(res), res.summary()
    # estimated tangent spaces leave a floor of ~1e-3 (noise 0: curvature) or ~5e-3 (noise 1e-3)
    assert float(res.normalized_spectrum[-3:].max()) < (3e-3 if noise == 0 else 1e-2)
    assert res.gap_ratio > 10
    assert res.distance_to(sl.so(1, 2)) < (1e-2 if noise == 0 else 3e-2)


def test_manifold_shifted_sphere_in_se3():
    c = torch.tensor([0.7, -1.2, 2.0], dtype=DT)
    X = randn(800, 3, seed=35)
    X = X / X.norm(dim=1, keepdim=True) + c
    res = sl.discover_manifold(X, sl.se(3))
    assert res.dim == 3, res.summary()
    assert res.identification["name"] == "so(3)"
    A, b = res.generators[:, :3, :3], res.generators[:, :3, 3]
    # every generator field vanishes at the centre: A c + b = 0
    assert float((A @ c + b).norm(dim=1).max()) < 1e-3
    assert float((A + A.transpose(1, 2)).abs().max()) < 1e-3


def test_manifold_discrete_and_explicit_dim():
    th = 2 * math.pi * _uniform(300, 1, 36, 0.0, 1.0)[:, 0]
    X = torch.stack([th.cos(), th.sin()], 1)
    res = sl.discover_manifold(X, sl.O(2), manifold_dim=1, tangents="pca")
    assert res.fit["manifold_dim"] == 1
    assert res.dim == 1
    (v,) = res.discrete.values()
    assert v < 0.05     # reflected points lie on the circle (distance to the nearest sample point)
    res2 = sl.discover_manifold(X, sl.gl(2), discrete={"stretch": torch.diag(torch.tensor([2.0, 1.0], dtype=DT))})
    assert res2.discrete["stretch"] > 0.2


def test_discover_data_poly_noisy():
    X = randn(400, 3, seed=37)
    Y = sqnorm(X) + 0.01 * randn(400, seed=38)
    res = sl.discover_data(X, Y, sl.gl(3), model="poly")
    assert res.fit["r2_val"] > 0.99
    assert res.fit["n_val"] == 80 and res.fit["n_train"] == 320
    assert "warning" not in res.fit
    assert res.kind == "linear"
    assert res.dim == 3 and res.identification["name"] == "so(3)"
    assert res.model is not None


def test_discover_data_mlp_deterministic():
    """Small MLP (32, 32), 800 Adam steps on |x|^2 (N=300, no noise): the fit is good enough for the auto rule."""
    X = randn(300, 3, seed=39)
    Y = sqnorm(X)
    kw = dict(model="mlp", hidden=(32, 32), steps=800)
    res = sl.discover_data(X, Y, sl.gl(3), **kw)
    assert res.fit["r2_val"] > 0.99, res.summary()
    assert res.dim == 3, res.summary()
    assert res.distance_to(sl.so(3)) < 0.1
    res2 = sl.discover_data(X, Y, sl.gl(3), **kw)
    assert torch.equal(res.singular_values, res2.singular_values)


def test_discover_data_dynamics_poly():
    X = randn(300, 2, seed=53)
    res = sl.discover_data(X, hopf(X), sl.gl(2), degree=3, dynamics=True)
    assert res.kind == "dynamics (linear)"
    assert res.fit["r2_val"] > 1 - 1e-12
    assert res.dim == 1 and res.identification["name"] == "so(2)"


def test_discover_data_with_a_given_model():
    X = randn(200, 3, seed=54)
    res = sl.discover_data(X, sqnorm(X), sl.gl(3), model=sqnorm)
    assert res.fit["model"].startswith("given")
    assert res.fit["r2_val"] == pytest.approx(1.0) and res.fit["noise_floor"] == pytest.approx(1e-12)
    assert res.dim == 3 and res.kind == "function"


def test_discover_data_without_targets_is_manifold():
    X = randn(300, 3, seed=40)
    X = X / X.norm(dim=1, keepdim=True)
    res = sl.discover_data(X, None, sl.gl(3))
    assert res.kind == "manifold" and res.dim == 3


def test_discover_data_poor_fit_warns():
    X = randn(200, 3, seed=41)
    Y = torch.sin(5 * X[:, 0]) * torch.cos(4 * X[:, 1])
    res = sl.discover_data(X, Y, sl.gl(3), model="poly", degree=1)
    assert "warning" in res.fit


# ============================================================== 11. bad input
def _F3(x):
    return sqnorm(x)


class TestBadInput:
    X = randn(50, 3, seed=42)

    def test_nan_in_X(self):
        X = self.X.clone()
        X[3, 1] = float("nan")
        with pytest.raises(ValueError, match="X"):
            sl.discover(_F3, X, sl.gl(3))

    def test_model_with_wrong_input_size(self):
        w = torch.ones(4, dtype=DT)
        with pytest.raises(ValueError, match="model"):
            sl.discover(lambda x: x @ w, self.X, sl.gl(3))

    def test_candidates_on_wrong_dimension(self):
        with pytest.raises(ValueError, match="X|candidates"):
            sl.discover(_F3, self.X, sl.gl(4))

    def test_rep_in_size_mismatch(self):
        G = sl.GL(3)
        with pytest.raises(ValueError, match="rep_in"):
            sl.discover(_F3, self.X, sl.gl(3), rep_in=sl.V(G) + sl.V(G))
        with pytest.raises(ValueError, match="candidates"):
            sl.discover(_F3, self.X, sl.gl(3), rep_in=sl.V(sl.GL(4)))
        with pytest.raises(TypeError, match="rep_in"):
            sl.discover(_F3, self.X, sl.gl(3), rep_in="V")

    def test_candidates_type(self):
        with pytest.raises(TypeError, match="candidates"):
            sl.discover(_F3, self.X, sl.gl(3).basis)

    def test_zero_dim_candidates(self):
        zero = sl.LieAlgebra(torch.zeros(0, 3, 3, dtype=DT), size=3)
        with pytest.raises(ValueError, match="candidates"):
            sl.discover(_F3, self.X, zero)
        with pytest.raises(ValueError, match="candidates"):
            sl.discover_manifold(self.X, zero)

    def test_empty_X(self):
        with pytest.raises(ValueError, match="X"):
            sl.discover(_F3, torch.zeros(0, 3, dtype=DT), sl.gl(3))
        with pytest.raises(ValueError, match="X"):
            sl.discover(_F3, torch.zeros(3, dtype=DT), sl.gl(3))

    def test_weights(self):
        with pytest.raises(ValueError, match="weights"):
            sl.discover(_F3, self.X, sl.gl(3), weights=torch.ones(49, dtype=DT))
        w = torch.ones(50, dtype=DT)
        w[0] = -1
        with pytest.raises(ValueError, match="weights"):
            sl.discover(_F3, self.X, sl.gl(3), weights=w)
        with pytest.raises(ValueError, match="weights"):
            sl.discover(_F3, self.X, sl.gl(3), weights=torch.zeros(50, dtype=DT))

    def test_options(self):
        with pytest.raises(ValueError, match="accumulate"):
            sl.discover(_F3, self.X, sl.gl(3), accumulate="foo")
        with pytest.raises(ValueError, match="autodiff"):
            sl.discover(_F3, self.X, sl.gl(3), autodiff="foo")
        with pytest.raises(ValueError, match="batch_size"):
            sl.discover(_F3, self.X, sl.gl(3), batch_size=0)
        with pytest.raises(ValueError, match="rule"):
            sl.discover(_F3, self.X, sl.gl(3), rule="foo")
        with pytest.raises(ValueError, match="rtol"):
            sl.discover(_F3, self.X, sl.gl(3), rtol=-1.0)
        with pytest.raises(ValueError, match="distributed"):
            sl.discover(_F3, self.X, sl.gl(3), distributed="maybe")
        with pytest.raises(TypeError, match="dtype"):
            sl.discover(_F3, self.X, sl.gl(3), dtype=torch.float16)
        with pytest.raises(TypeError, match="X"):
            sl.discover(_F3, self.X, sl.gl(3), dtype=torch.float32)   # float64 X is not downcast silently
        with pytest.raises(ValueError, match="accumulate"):
            sl.discover_manifold(self.X, sl.gl(3), accumulate="foo")
        with pytest.raises(ValueError, match="tangents"):
            sl.discover_manifold(self.X, sl.gl(3), tangents="foo")
        with pytest.raises(ValueError, match="rule"):
            sl.discover_data(self.X, _F3(self.X), sl.gl(3), rule="foo")

    def test_distributed_true_without_init(self):
        assert not (torch.distributed.is_available() and torch.distributed.is_initialized())
        with pytest.raises(sl.SymlieError, match="distributed"):
            sl.discover(_F3, self.X, sl.gl(3), distributed=True)

    def test_model_type_and_output(self):
        with pytest.raises(TypeError, match="model"):
            sl.discover("not a model", self.X, sl.gl(3))
        with pytest.raises(ValueError, match="model"):
            sl.discover(lambda x: x[:, :, None], self.X, sl.gl(3))       # (N, 3, 1): too many dimensions
        with pytest.raises(ValueError, match="model"):
            sl.discover(sl.SymmetricRegressor(sl.PolynomialLibrary(2), mode="none"), self.X, sl.gl(3))

    def test_model_returning_a_scalar(self):
        with pytest.raises(ValueError, match="model"):
            sl.discover(lambda x: x.sum(), self.X, sl.gl(3))

    def test_model_not_finite(self):
        with pytest.raises(sl.SymlieError, match="model"):
            sl.discover(lambda x: torch.sqrt(sqnorm(x) - 1.0), self.X, sl.gl(3))

    def test_fitted_estimator_on_wrong_inputs(self):
        X4 = randn(50, 4, seed=43)
        reg = sl.SymmetricRegressor(sl.PolynomialLibrary(2), mode="none").fit(X4, sqnorm(X4))
        with pytest.raises(ValueError, match="X"):
            sl.discover(reg, self.X, sl.gl(3))

    def test_manifold_too_few_points(self):
        with pytest.raises(ValueError, match="X"):
            sl.discover_manifold(self.X[:5], sl.gl(3))
        with pytest.raises(ValueError, match="X"):
            sl.discover_manifold(torch.zeros(0, 3, dtype=DT), sl.gl(3))

    def test_manifold_fills_space(self):
        with pytest.raises(ValueError, match="manifold_dim"):
            sl.discover_manifold(self.X, sl.gl(3), manifold_dim=3)

    def test_discover_data_inputs(self):
        with pytest.raises(ValueError, match="X, Y"):
            sl.discover_data(self.X, torch.ones(49, dtype=DT), sl.gl(3))
        with pytest.raises(ValueError, match="val_fraction"):
            sl.discover_data(self.X, _F3(self.X), sl.gl(3), val_fraction=1.0)
        with pytest.raises(ValueError, match="model"):
            sl.discover_data(self.X, _F3(self.X), sl.gl(3), model="forest")
        with pytest.raises(ValueError, match="X"):
            sl.discover_data(self.X[:5], _F3(self.X[:5]), sl.gl(3), model="poly", degree=3)


# ============================================================== 12. lie_derivative autodiff modes
@pytest.mark.parametrize("scalar", [False, True], ids=["vector-out", "scalar-out"])
def test_lie_derivative_autodiff_modes(scalar):
    G = sl.GL(3)
    rep_in = sl.V(G) + sl.V(G)
    rep_out = None if scalar else sl.V(G)
    f = _mlp(6, 1 if scalar else 3, seed=44, hidden=10)
    x = randn(40, 6, seed=45)
    outs = {m: sl.lie_derivative(f, G, x, rep_in, rep_out, autodiff=m) for m in ("auto", "tangent", "jacfwd", "jacrev")}
    ref = outs["tangent"]
    assert ref.shape == ((9, 40) if scalar else (9, 40, 3))
    for _m, L in outs.items():
        torch.testing.assert_close(L, ref, rtol=1e-12, atol=1e-12)
    for m in ("auto", "tangent", "jacfwd", "jacrev"):
        L, y = sl.lie_derivative(f, G, x, rep_in, rep_out, autodiff=m, return_values=True)
        torch.testing.assert_close(L, ref, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(y, f(x), rtol=1e-14, atol=1e-14)
    # single generator: no leading axis, values still returned
    L1, y1 = sl.lie_derivative(f, G.algebra.basis[4], x, rep_in, rep_out, autodiff="jacrev", return_values=True)
    torch.testing.assert_close(L1, ref[4], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(y1, f(x))
    with pytest.raises(ValueError, match="autodiff"):
        sl.lie_derivative(f, G, x, rep_in, rep_out, autodiff="foo")


# ============================================================== 13. nullspace with a reference scale
def test_nullspace_reference_detects_all_zero():
    A = randn(20, 5, seed=46, scale=1e-17)
    for rule in ("rtol", "gap"):
        ns = sl.nullspace(A, rule=rule, reference=1.0)
        assert ns.rank == 0 and ns.dim == 5, rule
        assert ns.rule["reference"] == 1.0
        assert ns.rule["rule"] == rule
    # without a reference the relative spectrum looks full rank (old behaviour)
    ns = sl.nullspace(A)
    assert ns.rank == 5 and ns.dim == 0
    assert "reference" not in ns.rule
    ns_gap = sl.nullspace(A, rule="gap")
    assert ns_gap.rank == 5
    # a reference below sigma_max changes nothing
    B = randn(20, 5, seed=47)
    a, b = sl.nullspace(B), sl.nullspace(B, reference=1e-3)
    assert a.rank == b.rank == 5 and b.rule["reference"] == pytest.approx(float(a.singular_values[0]))
    with pytest.raises(ValueError, match="reference"):
        sl.nullspace(B, reference=-1.0)


def test_nullspace_reference_with_genuine_gap():
    U = orthonormal(20, 5, seed=48)
    V = orthonormal(5, 5, seed=49)
    s = torch.tensor([3.0, 2.0, 1e-14, 1e-15, 0.0], dtype=DT)
    A = U @ torch.diag(s) @ V.T
    for rule in ("rtol", "gap"):
        assert sl.nullspace(A, rule=rule).rank == 2
        assert sl.nullspace(A, rule=rule, reference=1.0).rank == 2
        # a huge reference swamps everything: rank 0
        assert sl.nullspace(A, rule=rule, reference=1e12).rank == 0
