"""Tests of symlie.promote.proximal (ADMMPenalty, svt, stacked_operator) and of the layer operators it consumes
(layer_operator with affine inputs, quadratic_form_operator).

Convention: (L_xi F)(x) = d/dt|_0 rho_out(exp(t xi))^{-1} F(rho_in(exp(t xi)) x); L_xi W = W drho_in - drho_out W.

Ground truth, independent of the code under test:
  * svt against the closed form U max(Sigma - tau, 0) V^T of a matrix built from a known SVD, and against the
    prox's optimality (the objective is larger at perturbed points);
  * the operators against central finite differences of the exact group action (matrix exponentials);
  * the ADMM fixed point against the closed-form prox: min 1/2 ||theta - M||^2 + gamma ||theta||_* is SVT_gamma(M),
    reached with exact theta-steps (SGD with step 1 / (1 + rho) on that quadratic is the exact minimiser);
  * polish against the Haar average over the kept one-parameter group (the orthogonal projection onto the maps
    that commute with it, computed by averaging R W R^T over equispaced angles, exact for these trigonometric
    polynomials of degree 2).
"""
from __future__ import annotations

import math
import warnings

import pytest
import torch

import symlie as sl
from symlie.promote import (ADMMPenalty, homogeneous_generators, layer_fields, layer_operator, quadratic_form_operator,
                            stacked_operator, svt)
from symlie.utils.errors import ConvergenceWarning, SymlieError
from _helpers import DT, randn


def _known_svd(m, n, s, seed):
    U = torch.linalg.qr(randn(m, n, seed=seed))[0]
    V = torch.linalg.qr(randn(n, n, seed=seed + 1))[0]
    s = torch.tensor(s, dtype=DT)
    return U, s, V, U @ torch.diag(s) @ V.T


# ------------------------------------------------------------------------------------------------- svt
def test_svt_is_the_closed_form_prox_and_optimal():
    U, s, V, M = _known_svd(20, 5, [5.0, 3.0, 1.0, 0.5, 0.1], seed=0)
    tau = 0.7
    Z = svt(M, tau)
    expect = U @ torch.diag((s - tau).clamp(min=0)) @ V.T
    assert torch.allclose(Z, expect, atol=1e-13)
    assert torch.linalg.matrix_rank(Z).item() == 3
    obj = lambda X: tau * torch.linalg.matrix_norm(X, "nuc") + 0.5 * ((X - M) ** 2).sum()
    f0 = obj(Z)
    for k in range(20):
        assert obj(Z + 1e-3 * randn(20, 5, seed=10 + k)) > f0
    # weighted (non-decreasing) thresholds: sigma_i - tau_i
    taus = torch.tensor([0.1, 0.2, 0.3, 0.6, 1.0], dtype=DT)
    Zw, r = svt(M, taus, return_rank=True)
    assert r == 3
    assert torch.allclose(Zw, U @ torch.diag((s - taus).clamp(min=0)) @ V.T, atol=1e-13)
    # dtype and shape kept; zero threshold is the identity
    assert svt(M.float(), 0.0).dtype == torch.float32
    assert torch.allclose(svt(M, 0.0), M, atol=1e-13)


def test_svt_errors_name_the_argument():
    M = randn(6, 3, seed=1)
    with pytest.raises(SymlieError, match="tau"):
        svt(M, -1.0)
    with pytest.raises(SymlieError, match="tau: a vector of thresholds must be non-decreasing"):
        svt(M, [0.3, 0.2, 0.1])
    bad = M.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(SymlieError, match="M: contains NaN"):
        svt(bad, 0.1)


# ------------------------------------------------------------------------------------------------- operators
def _fd(fun, h=1e-5):
    return (fun(h) - fun(-h)) / (2 * h)


def test_layer_operator_affine_input_matches_finite_differences_of_the_action():
    """F(x) = W x + b under SE(3) acting on inputs by Point (x -> R x + t) and on outputs by V (the linear part):
    L_xi F(x) = d/dt V(g_t)^{-1} F(Point(g_t) x), assembled from the operator's columns as (L W) x + L b."""
    G = sl.SE(3)
    rep_in, rep_out = sl.Point(G), sl.V(G)
    W, b = randn(3, 3, seed=2), randn(3, seed=3)
    x = randn(7, 3, seed=4)
    S = layer_operator(W, b, G, rep_in, rep_out)                       # (9 + 3, 6)
    assert S.shape == (12, 6)
    gens = G.algebra.orthonormalize().basis
    F = lambda y: y @ W.T + b
    for j in range(6):
        LW, Lb = S[:9, j].reshape(3, 3), S[9:, j]
        pred = x @ LW.T + Lb

        def moved(t, j=j):
            g = torch.linalg.matrix_exp(t * gens[j])
            return rep_out.act(torch.linalg.inv(g), F(rep_in.act(g, x)))
        assert torch.allclose(pred, _fd(moved), atol=1e-8), j
    # without a bias the constant part W c_xi is still there (translations move the input)
    S0 = layer_operator(W, None, G, rep_in, rep_out)
    assert S0.shape == (12, 6)
    assert torch.allclose(S0[9:], S[9:] + torch.einsum("jop,p->oj", rep_out.drho(gens), b), atol=1e-14)
    # prepared fields give the same matrix; a linear input rep keeps the old layout (no constant column)
    assert torch.equal(layer_operator(W, b, layer_fields(G, rep_in, rep_out)), S)
    assert layer_operator(W, None, sl.so(3), sl.V(sl.SO(3)), sl.V(sl.SO(3))).shape == (9, 3)


def test_layer_operator_refuses_affine_outputs_and_bad_bias():
    G = sl.SE(3)
    with pytest.raises(SymlieError, match="rep_out: .* affine"):
        layer_operator(torch.zeros(3, 3, dtype=DT), None, G, sl.Point(G), sl.Point(G))
    with pytest.raises(ValueError, match="bias: expected shape"):
        layer_operator(torch.zeros(3, 3, dtype=DT), torch.zeros(4, dtype=DT), G, sl.Point(G), sl.V(G))


@pytest.mark.parametrize("which", ["so3", "se3"])
def test_quadratic_form_operator_matches_finite_differences(which):
    """d/dt s(exp(t xi) x) at t = 0 equals y^T (L_xi Q) y, y = [1, x], for the pendulum's so(3) (linear, 12x12)
    and se(3) (affine, translations of x1 and x2) candidates."""
    alg = sl.datasets.pendulum_candidates(which)
    G = sl.as_group(alg)
    rep_in = sl.Point(G)
    Q = randn(13, 13, seed=5)                                          # not symmetric: only its symmetric part counts
    x = randn(6, 12, seed=6)
    S = quadratic_form_operator(Q, alg, rep_in)
    assert S.shape == (169, alg.dim)
    s_of = lambda z: torch.einsum("ni,ij,nj->n", torch.cat([torch.ones(len(z), 1, dtype=DT), z], 1), Q,
                                  torch.cat([torch.ones(len(z), 1, dtype=DT), z], 1))
    y = torch.cat([torch.ones(6, 1, dtype=DT), x], 1)
    for j in range(alg.dim):
        LQ = S[:, j].reshape(13, 13)
        assert torch.allclose(LQ, LQ.T, atol=1e-15)
        pred = torch.einsum("ni,ij,nj->n", y, LQ, y)
        fd = _fd(lambda t, j=j: s_of(rep_in.act(torch.linalg.matrix_exp(t * alg.basis[j]), x)))
        assert torch.allclose(pred, fd, atol=1e-7), j
    # the homogeneous generators move [1, x] as the action moves x, with the constant fixed
    H = homogeneous_generators(alg, rep_in)
    assert float(H[:, 0].abs().max()) == 0.0
    if which == "so3":                                                  # s = 2 + |x|^2 is so(3)-invariant
        Qi = torch.eye(13, dtype=DT)
        Qi[0, 0] = 2.0
        assert float(quadratic_form_operator(Qi, alg, rep_in).abs().max()) < 1e-15
    with pytest.raises(ValueError, match=r"Q: expected shape \(13, 13\)"):
        quadratic_form_operator(torch.zeros(4, 4, dtype=DT), alg, rep_in)


# ------------------------------------------------------------------------------------------------- helpers
class _Affine(torch.nn.Module):
    """A linear layer x -> W x + b on V(G) with its parameter-form operator (what EPNN layers provide)."""

    def __init__(self, G, seed=0, scale=1.0):
        super().__init__()
        self.G = G
        self.W = torch.nn.Parameter(randn(3, 3, seed=seed, scale=scale))
        self.b = torch.nn.Parameter(randn(3, seed=seed + 1, scale=scale))

    def forward(self, x):
        return x @ self.W.T + self.b

    def operator(self, candidates):
        return layer_operator(self.W, self.b, candidates, sl.V(sl.as_group(candidates)), sl.V(sl.as_group(candidates)))


def _haar_z(W, b, n_angles=16):
    """The average over rotations R about z of (R W R^T, R b): the projection onto z-equivariant (W, b)."""
    Ws, bs = torch.zeros_like(W), torch.zeros_like(b)
    for k in range(n_angles):
        a = 2 * math.pi * k / n_angles
        R = torch.tensor([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]], dtype=DT)
        Ws += R @ W @ R.T
        bs += R @ b
    return Ws / n_angles, bs / n_angles


# ------------------------------------------------------------------------------------------------- ADMM
def test_admm_fixed_point_is_the_prox_of_the_nuclear_norm():
    """S(theta) = theta, loss 1/2 ||theta - M||^2: the minimiser of loss + gamma ||theta||_* is SVT_gamma(M). SGD
    with lr 1 / (1 + rho) is the exact theta-step of this quadratic, so the split is exact ADMM here."""
    U, s, V, M = _known_svd(8, 3, [3.0, 1.0, 0.05], seed=7)
    gamma, rho = 0.2, 1.0
    theta = torch.nn.Parameter(torch.zeros(8, 3, dtype=DT))
    admm = ADMMPenalty(lambda: theta * 1.0, [theta], gamma=gamma, rho=rho)
    opt = torch.optim.SGD([theta], lr=1.0 / (1.0 + rho))
    for _ in range(300):
        loss = 0.5 * ((theta - M) ** 2).sum() + admm.penalty()
        opt.zero_grad()
        loss.backward()
        opt.step()
        admm.update()
    expect = svt(M, gamma)
    assert torch.allclose(theta.detach(), expect, atol=1e-9)
    assert torch.allclose(admm.Z, expect, atol=1e-9)
    rec = admm.history[-1]
    assert rec["primal"] < 1e-9 and rec["dual"] < 1e-9 and rec["rank_Z"] == 2
    assert set(rec) == {"update", "primal", "dual", "nuclear", "rank_Z", "threshold"}
    ns = admm.kept()                                                   # one exact zero of SVT: kept 1 direction
    assert ns.dim == 1 and ns.rank == 2 and ns.rank_rule.kind == "auto"
    assert float(torch.linalg.svdvals(ns.basis.T @ V[:, 2:])[0]) > 1 - 1e-8


def test_admm_update_every_and_reweighting_thresholds():
    theta = torch.nn.Parameter(torch.diag(torch.tensor([2.0, 1.0, 0.01], dtype=DT)))
    admm = ADMMPenalty(lambda: theta * 1.0, [theta], gamma=0.1, rho=1.0, update_every=3, reweight=True,
                       reweight_eps=1e-3)
    assert admm.update() is None and admm.update() is None
    rec = admm.update()
    assert rec is not None and rec["update"] == 1 and int(admm.n_calls) == 3
    # weights (1 + eps) s1 / (s + eps s1) of Z's spectrum (Z = S at construction, before this update)
    s = torch.tensor([2.0, 1.0, 0.01], dtype=DT)
    # the thresholds of the next update come from the current Z (after the first update)
    sz = torch.linalg.svdvals(admm.Z)
    w = (1 + 1e-3) * sz[0] / (sz + 1e-3 * sz[0])
    assert torch.allclose(torch.as_tensor(admm.thresholds()), 0.1 * w, rtol=1e-12)
    # the small value was thresholded by 0.1 * w_3 ~ 0.1 * 2 / 0.012 >> 0.01: Z has rank 2, the large ones kept
    assert rec["rank_Z"] == 2
    assert torch.allclose(sz[:2], s[:2] - 0.1 * torch.tensor([1.0, (1 + 1e-3) * 2 / (1 + 2e-3)], dtype=DT),
                          atol=1e-12)


def test_admm_state_is_buffers_and_survives_state_dict():
    layer = _Affine(sl.SO(3), seed=3)
    admm = ADMMPenalty(lambda: layer.operator(sl.so(3)), layer.parameters(), gamma=0.5)
    for _ in range(3):
        admm.update()
    sd = admm.state_dict()
    assert set(sd) == {"Z", "U", "n_calls"}
    other = ADMMPenalty(lambda: layer.operator(sl.so(3)), layer.parameters(), gamma=0.5)
    other.load_state_dict(sd)
    assert torch.equal(other.Z, admm.Z) and torch.equal(other.U, admm.U) and int(other.n_calls) == 3
    assert admm.shape == (12, 3) and admm.q == 3


def test_cached_operator_is_reused_only_for_unchanged_parameters():
    calls = []
    layer = _Affine(sl.SO(3), seed=4)

    def op():
        calls.append(1)
        return layer.operator(sl.so(3))

    admm = ADMMPenalty(op, layer.parameters(), gamma=0.1)
    n0 = len(calls)
    admm.update()
    p1 = admm.penalty()                     # same parameters: the update's S is reused
    assert len(calls) == n0 + 1
    with torch.no_grad():
        layer.W.add_(1.0)
    p2 = admm.penalty()                     # changed: evaluated again
    assert len(calls) == n0 + 2
    assert p1.requires_grad and p2.requires_grad and not torch.equal(p1, p2)


def test_polish_equals_the_haar_projection_and_ends_at_round_off():
    """Kept direction: rotations about z inside so(3). Polish gives the nearest (W, b) commuting with them: the
    average over the rotation group of (R W R^T, R b); the kept singular value goes to round-off, the others
    stay as they are up to the projection."""
    layer = _Affine(sl.SO(3), seed=5)
    W0, b0 = layer.W.detach().clone(), layer.b.detach().clone()
    alg = sl.so(3)
    admm = ADMMPenalty(lambda: layer.operator(alg), layer.parameters(), gamma=0.0)
    V0 = torch.eye(3, dtype=DT)[:, :1]                                  # the first basis element: rotation about z
    res = admm.polish(V0)
    Wz, bz = _haar_z(W0, b0)
    assert torch.allclose(layer.W.detach(), Wz, atol=1e-13)
    assert torch.allclose(layer.b.detach(), bz, atol=1e-13)
    assert res.kept_singular_values.shape == (1,) and float(res.relative[0]) < 1e-14
    assert float(res.kept_before[0]) > 0.1
    assert float(res.singular_values[1]) > 0.1                          # x, y rotations stay broken
    expect_change = math.sqrt(float(((W0 - Wz) ** 2).sum() + ((b0 - bz) ** 2).sum())) / math.sqrt(
        float((W0 ** 2).sum() + (b0 ** 2).sum()))
    assert abs(res.change - expect_change) < 1e-12
    assert res.n_groups >= 1 and res.jacobian_shape == (12, 12)
    assert torch.allclose(admm.Z @ V0, torch.zeros(12, 1, dtype=DT), atol=1e-14) and float(admm.U.abs().max()) == 0


def test_polish_in_float32_parameters_reaches_float32_round_off():
    layer = _Affine(sl.SO(3), seed=6).float()
    admm = ADMMPenalty(lambda: layer.operator(sl.so(3)), layer.parameters(), gamma=0.0)
    res = admm.polish(torch.eye(3, dtype=DT)[:, :1])
    assert layer.W.dtype == torch.float32
    assert float(res.relative[0]) < 1e-6


def test_admm_errors_name_the_argument():
    layer = _Affine(sl.SO(3), seed=7)
    op = lambda: layer.operator(sl.so(3))
    with pytest.raises(TypeError, match="operator: expected a callable"):
        ADMMPenalty(3, layer.parameters(), gamma=1.0)
    with pytest.raises(SymlieError, match="params"):
        ADMMPenalty(op, [], gamma=1.0)
    for bad in (-1.0, float("nan"), True):
        with pytest.raises(SymlieError, match="gamma"):
            ADMMPenalty(op, layer.parameters(), gamma=bad)
    with pytest.raises(SymlieError, match="rho"):
        ADMMPenalty(op, layer.parameters(), gamma=1.0, rho=0.0)
    with pytest.raises(ValueError, match="update_every"):
        ADMMPenalty(op, layer.parameters(), gamma=1.0, update_every=0)
    with pytest.raises(SymlieError, match="operator: expected S"):
        ADMMPenalty(lambda: torch.zeros(3, dtype=DT), layer.parameters(), gamma=1.0)
    admm = ADMMPenalty(op, layer.parameters(), gamma=1.0)
    with pytest.raises(SymlieError, match="loss: is nan"):
        admm.objective(torch.tensor(float("nan"), dtype=DT))
    with torch.no_grad():
        layer.W[0, 0] = float("nan")
    with pytest.raises(SymlieError, match="operator: S.theta. contains .* NaN"):
        admm.penalty()
    with pytest.raises(SymlieError, match="operator: S.theta. contains"):
        admm.update()
    with pytest.raises(SymlieError, match="kept: expected"):
        ADMMPenalty(lambda: _Affine(sl.SO(3)).operator(sl.so(3)), layer.parameters(), gamma=1.0).polish("x")


def test_gamma_so_large_that_everything_collapses_is_reported():
    """Hom(V, R) has no so(3)-invariant map, so S(W) = 0 only at W = 0: a huge gamma drives every parameter to
    zero; the split says so (status 'collapsed', a ConvergenceWarning naming gamma)."""
    W = torch.nn.Parameter(randn(1, 3, seed=8))
    G = sl.SO(3)
    op = lambda: layer_operator(W, None, G, sl.V(G), sl.Trivial(G, 1))
    admm = ADMMPenalty(op, [W], gamma=1e3, rho=1.0)
    opt = torch.optim.SGD([W], lr=0.5)
    x, y = randn(20, 3, seed=9), randn(20, 1, seed=10)
    with pytest.warns(ConvergenceWarning, match="gamma: 1000 is so large"):
        for _ in range(60):
            loss = 1e-3 * ((x @ W.T - y) ** 2).mean() + admm.penalty()
            opt.zero_grad()
            loss.backward()
            opt.step()
            admm.update()
    assert admm.status == "collapsed"
    # a moderate gamma never collapses
    W2 = torch.nn.Parameter(randn(1, 3, seed=8))
    admm2 = ADMMPenalty(lambda: layer_operator(W2, None, G, sl.V(G), sl.Trivial(G, 1)), [W2], gamma=1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        admm2.update()
    assert admm2.status == "ok"


def test_stacked_operator_names_layers_without_an_operator():
    G = sl.SO(3)
    a, b = _Affine(G, seed=1), _Affine(G, seed=2)
    S = stacked_operator([a, torch.nn.Tanh(), b], sl.so(3))
    assert torch.equal(S, torch.cat([a.operator(sl.so(3)), b.operator(sl.so(3))]))
    with pytest.raises(TypeError, match=r"layers\[1\]: a Linear has no Lie-derivative operator"):
        stacked_operator([a, torch.nn.Linear(3, 3)], sl.so(3))
    with pytest.raises(SymlieError, match="no layer with parameters"):
        stacked_operator([torch.nn.Tanh()], sl.so(3))


def test_rank_rule_of_kept_is_a_parameter():
    theta = torch.nn.Parameter(torch.diag(torch.tensor([1.0, 0.5, 1e-4], dtype=DT)))
    admm = ADMMPenalty(lambda: theta * 1.0, [theta], gamma=0.0, rule="rtol", rtol=1e-3)
    ns = admm.kept()
    assert ns.dim == 1 and ns.rule["rule"] == "rtol" and ns.rule["rtol"] == 1e-3
    assert admm.kept(rtol=1e-5).dim == 0                                # an override
    assert admm.kept("auto").dim == 1                                   # the gap 5000 between 0.5 and 1e-4
    assert torch.allclose(ns.singular_values, torch.tensor([1.0, 0.5, 1e-4], dtype=DT))
