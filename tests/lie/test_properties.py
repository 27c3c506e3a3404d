"""Property-based tests (hypothesis) of three identities of symlie's public API, on generated inputs:

a. rho(exp(t X)) = exp(t drho(X)) for representations built from V, Scalar, duals, sums, tensor products and
   integer multiplicities (sizes <= 27), for several groups, random algebra elements X and t in [-1, 1];
b. the Lie derivative reverses brackets: L_[a,b] F = L_b L_a F - L_a L_b F (K is an anti-homomorphism,
   see symlie/derivative/core.py), the second derivatives obtained by nesting ``sl.lie_derivative``;
c. discovery does not depend on the basis of the candidates: an orthogonal change of basis of gl(3) gives the
   same dimension, the same singular values and the same symmetry subspace.

The examples are derandomized (the same ones on every run) and no example database is written.
"""
from __future__ import annotations

import math

import pytest
import torch

import symlie as sl
from _helpers import DT, randn

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PROPS = settings(max_examples=25, deadline=None, derandomize=True, database=None)
SEEDS = st.integers(min_value=0, max_value=2 ** 31 - 1)
TIMES = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False, allow_infinity=False)
MAX_SIZE = 27


def with_examples(examples):
    """Explicit @example cases (run before the generated ones): every group / case / model at least once."""
    def deco(fn):
        for kw in examples:
            fn = example(**kw)(fn)
        return fn
    return deco


# ============================================================== a. rho(exp(t X)) == exp(t drho(X))
GROUPS = {
    "SO(3)": lambda: sl.SO(3),
    "O(2)": lambda: sl.O(2),
    "SO(4)": lambda: sl.SO(4),
    "Lorentz": lambda: sl.Lorentz(),
    "Sp(4)": lambda: sl.Sp(4),
    "GL(2)": lambda: sl.GL(2),
}


@st.composite
def rep_specs(draw, n, budget=MAX_SIZE, depth=3):
    """A representation expression as a nested tuple, with its size (<= budget) for a defining dimension n."""
    kinds = (["V", "Vd"] if n <= budget else []) + ["S"]
    if depth > 0:  # compound expressions twice as likely as leaves, products most of all
        kinds += ["prod", "sum", "prod", "mult", "dual", "sum"] if budget >= 2 else ["dual"]
    kind = draw(st.sampled_from(kinds))
    if kind in ("S", "V", "Vd"):
        return (kind,), 1 if kind == "S" else n
    if kind == "dual":
        a, sa = draw(rep_specs(n, budget, depth - 1))
        return ("dual", a), sa
    if kind == "mult":
        k = draw(st.integers(min_value=2, max_value=min(3, budget)))
        a, sa = draw(rep_specs(n, budget // k, depth - 1))
        return ("mult", k, a), k * sa
    if kind == "sum":
        a, sa = draw(rep_specs(n, budget - 1, depth - 1))
        b, sb = draw(rep_specs(n, budget - sa, depth - 1))
        return ("sum", a, b), sa + sb
    a, sa = draw(rep_specs(n, budget, depth - 1))
    b, sb = draw(rep_specs(n, budget // sa, depth - 1))
    return ("prod", a, b), sa * sb


def build_rep(spec, G):
    kind = spec[0]
    if kind == "S":
        return sl.Scalar(G)
    if kind == "V":
        return sl.V(G)
    if kind == "Vd":
        return sl.V(G).dual()
    if kind == "dual":
        return build_rep(spec[1], G).dual()
    if kind == "mult":
        return spec[1] * build_rep(spec[2], G)
    if kind == "sum":
        return build_rep(spec[1], G) + build_rep(spec[2], G)
    return build_rep(spec[1], G) * build_rep(spec[2], G)


@st.composite
def rep_cases(draw):
    gname = draw(st.sampled_from(list(GROUPS)))
    G = GROUPS[gname]()
    spec, size = draw(rep_specs(G.algebra.n))
    return gname, G, spec, size


def _largest_spec(n):
    """V x V x V* (size n^3) when it fits in MAX_SIZE, else (V + 1) x (V* + 1)."""
    if n ** 3 <= MAX_SIZE:
        return ("prod", ("prod", ("V",), ("V",)), ("Vd",)), n ** 3
    return ("prod", ("sum", ("V",), ("S",)), ("sum", ("Vd",), ("S",))), (n + 1) ** 2


def _rep_example(gname):
    G = GROUPS[gname]()
    return (gname, G) + _largest_spec(G.algebra.n)


@PROPS
@given(case=rep_cases(), seed=SEEDS, t=TIMES)
@with_examples([dict(case=_rep_example(g), seed=7, t=-0.8) for g in GROUPS])
def test_rho_of_exp_is_exp_of_drho(case, seed, t):
    gname, G, spec, size = case
    rep = build_rep(spec, G)
    assert rep.size == size <= MAX_SIZE
    X = G.algebra.random_element(generator=torch.Generator().manual_seed(seed))
    assert X.dtype == DT
    lhs = rep.rho(torch.linalg.matrix_exp(t * X))
    rhs = torch.linalg.matrix_exp(t * rep.drho(X))
    assert lhs.shape == rhs.shape == (size, size)
    assert torch.allclose(lhs, rhs, rtol=1e-9, atol=1e-9), (gname, spec, float((lhs - rhs).abs().max()))


# ============================================================== b. L_[a,b] F = L_b L_a F - L_a L_b F
def smooth_model(n_in, n_out, seed, flat=False):
    """A fixed smooth (non-equivariant) map (N, n_in) -> (N, n_out): tanh features plus a quadratic term."""
    W1 = randn(n_in, 5, seed=seed) / math.sqrt(n_in)
    W2 = randn(5, n_out, seed=seed + 1) / math.sqrt(5)
    Q = randn(n_out, n_in, n_in, seed=seed + 2) * 0.3
    c = randn(n_out, seed=seed + 3) * 0.3

    def f(x):
        y = torch.tanh(x @ W1 + 0.1) @ W2 + torch.einsum("ni,kij,nj->nk", x, Q, x) + c
        return y[:, 0] if flat else y

    return f


BRACKET_CASES = {
    "SO(3) V->scalar(N,)": lambda: (sl.V(sl.SO(3)), None, sl.so(3), smooth_model(3, 1, 10, flat=True)),
    "SO(3) V->V": lambda: (sl.V(sl.SO(3)), sl.V(sl.SO(3)), sl.so(3), smooth_model(3, 3, 20)),
    "GL(3) V->Vdual": lambda: (sl.V(sl.GL(3)), sl.V(sl.GL(3)).dual(), sl.gl(3), smooth_model(3, 3, 30)),
    "Sp(4) V->V+1": lambda: (sl.V(sl.Sp(4)), sl.V(sl.Sp(4)) + sl.Scalar(sl.Sp(4)), sl.sp(4), smooth_model(4, 5, 40)),
    "SE(3) P->V": lambda: (sl.Point(sl.SE(3)), sl.V(sl.SE(3)), sl.se(3), smooth_model(3, 3, 50)),
}


@st.composite
def bracket_cases(draw):
    name = draw(st.sampled_from(list(BRACKET_CASES)))
    rep_in, rep_out, alg, f = BRACKET_CASES[name]()
    a = alg.random_element(generator=torch.Generator().manual_seed(draw(SEEDS)))
    b = alg.random_element(generator=torch.Generator().manual_seed(draw(SEEDS)))
    return name, rep_in, rep_out, f, a, b


def _bracket_example(name):
    rep_in, rep_out, alg, f = BRACKET_CASES[name]()
    a = alg.random_element(generator=torch.Generator().manual_seed(1))
    b = alg.random_element(generator=torch.Generator().manual_seed(2))
    return name, rep_in, rep_out, f, a, b


@PROPS
@given(case=bracket_cases(), seed=SEEDS)
@with_examples([dict(case=_bracket_example(name), seed=3) for name in BRACKET_CASES])
def test_lie_derivative_reverses_brackets(case, seed):
    name, rep_in, rep_out, f, A, B = case
    x = randn(6, rep_in.size, seed=seed)

    def L(F, xi):
        """L_xi F as a function of the points (one (d, d) generator: (N, n_out) or (N,))."""
        return lambda y: sl.lie_derivative(F, xi, y, rep_in, rep_out)

    lhs = sl.lie_derivative(f, A @ B - B @ A, x, rep_in, rep_out)
    rhs = L(L(f, A), B)(x) - L(L(f, B), A)(x)  # L_b (L_a F) - L_a (L_b F)
    assert lhs.shape == rhs.shape == ((6,) if rep_out is None else (6, rep_out.size))
    torch.testing.assert_close(lhs, rhs, rtol=1e-8, atol=1e-8, msg=name)


# ============================================================== c. discovery is basis independent
DISCOVERY_MODELS = {
    "|x|^2 (so(3))": (lambda x: (x ** 2).sum(1), 3),
    "x0^2 - x1^2 - x2^2 (so(1,2))": (lambda x: x[:, 0] ** 2 - x[:, 1] ** 2 - x[:, 2] ** 2, 3),
    "x0^2 + x1^2 + x2 (so(2))": (lambda x: x[:, 0] ** 2 + x[:, 1] ** 2 + x[:, 2], 1),
}


@PROPS
@given(model=st.sampled_from(list(DISCOVERY_MODELS)), q_seed=SEEDS, x_seed=SEEDS)
@with_examples([dict(model=m, q_seed=1, x_seed=2) for m in DISCOVERY_MODELS])
def test_discovery_is_invariant_under_orthogonal_change_of_candidate_basis(model, q_seed, x_seed):
    f, dim = DISCOVERY_MODELS[model]
    alg = sl.gl(3)
    Q = torch.linalg.qr(randn(alg.dim, alg.dim, seed=q_seed))[0]
    rotated = sl.LieAlgebra(torch.einsum("ij,jab->iab", Q, alg.basis))
    X = randn(120, 3, seed=x_seed)
    res = sl.discover(f, X, alg, rule="rtol")
    res_q = sl.discover(f, X, rotated, rule="rtol")
    assert res.rule["rule"] == res_q.rule["rule"] == "rtol"
    assert res.dim == res_q.dim == dim
    torch.testing.assert_close(res_q.singular_values, res.singular_values, rtol=1e-10, atol=1e-10)
    # the same symmetry subspace, whatever basis the candidates were given in
    assert res.distance_to(res_q.generators) < 1e-8
    angles = sl.principal_angles(res.generators.reshape(dim, -1).T, res_q.generators.reshape(dim, -1).T)
    assert angles.shape == (dim,) and float(angles.max()) < 1e-8
