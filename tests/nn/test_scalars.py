"""Networks on invariant scalars (sl.nn.InvariantScalars, sl.nn.ScalarMLP) and the EMLP-style options of the
equivariant layers (projected initialisation, EMLP's channel allocation)."""
import pytest
import torch

import symlie as sl
from symlie.datasets import Inertia


def _x(n, size, seed=0, scale=1.0):
    return torch.randn(n, size, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale


@pytest.mark.parametrize("G,rep,count", [
    (sl.O(5), lambda G: 2 * sl.V(G), 3),                              # |x1|^2, <x1, x2>, |x2|^2
    (sl.Lorentz(), lambda G: 4 * sl.V(G), 10),                        # the Minkowski Gram matrix
    (sl.O(3), lambda G: 5 * sl.Scalar(G) + 5 * sl.V(G), 20),          # 5 masses + 15 inner products
    (sl.SO(2), lambda G: sl.V(G), 1),                                 # |v|^2; the form eps(v, v) = 0 is dropped
    (sl.SO(2), lambda G: 2 * sl.V(G), 4),                             # |v1|^2, |v2|^2, <v1, v2>, det(v1, v2)
])
def test_invariant_scalars_count_the_first_fundamental_theorem(G, rep, count):
    r = rep(G)
    s = sl.nn.InvariantScalars(r, dtype=torch.float64)
    assert s.n_scalars == count
    X = _x(40, r.size, scale=0.5)
    S = s(X)
    assert S.shape == (40, count)
    for g in G.sample(3, generator=0):
        assert torch.allclose(s(r.act(g, X)), S, atol=1e-10)
    # independent functions: the values over random inputs have full column rank
    assert torch.linalg.matrix_rank(S) == count


def test_degree_two_scalars_span_the_minkowski_products():
    G = sl.Lorentz()
    s = sl.nn.InvariantScalars(4 * sl.V(G), dtype=torch.float64)
    X = _x(60, 16, seed=3)
    P = X.reshape(60, 4, 4)
    eta = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=torch.float64))
    gram = torch.einsum("nia,ab,njb->nij", P, eta, P)
    iu = torch.triu_indices(4, 4)
    T = gram[:, iu[0], iu[1]]                                          # (60, 10)
    S = s(X)
    coef = torch.linalg.lstsq(S, T).solution
    assert torch.allclose(S @ coef, T, atol=1e-10)


def test_degree_three_adds_the_determinant_of_so3_only():
    V3 = lambda G: 3 * sl.V(G)
    assert sl.nn.InvariantScalars(V3(sl.SO(3)), degree=3).n_scalars == 7        # 6 inner products + det
    assert sl.nn.InvariantScalars(V3(sl.O(3)), degree=3).n_scalars == 6         # det is not O(3)-invariant
    G = sl.SO(3)
    s = sl.nn.InvariantScalars(V3(G), degree=3, dtype=torch.float64)
    X = _x(5, 9)
    det = torch.linalg.det(X.reshape(5, 3, 3))
    last = s(X)[:, -1]
    ratio = last / det
    assert torch.allclose(ratio, ratio[0].expand(5), atol=1e-10) and abs(float(ratio[0])) > 0.1


@pytest.mark.parametrize("G,rep_in,rep_out", [
    (sl.O(5), lambda G: 2 * sl.V(G), lambda G: sl.Scalar(G)),
    (sl.O(3), lambda G: 5 * sl.Scalar(G) + 5 * sl.V(G), lambda G: sl.V(G) * sl.V(G)),
    (sl.Lorentz(), lambda G: 4 * sl.V(G), lambda G: sl.Scalar(G) + sl.V(G)),
    (sl.SO(3), lambda G: 2 * sl.V(G), lambda G: sl.V(G)),
])
def test_scalar_mlp_is_exactly_equivariant(G, rep_in, rep_out):
    ri, ro = rep_in(G), rep_out(G)
    model = sl.nn.ScalarMLP(ri, ro, hidden=32, depth=2, seed=0, dtype=torch.float64)
    X = _x(64, ri.size, seed=1, scale=0.25 if G.name == "O(1,3)" else 1.0)
    model.calibrate(X)
    y = model(X)
    assert y.shape == (64, ro.size) and float(y.detach().std()) > 1e-3
    for g in G.sample(3, generator=2):
        assert torch.allclose(model(ri.act(g, X)), ro.act(g, y), atol=1e-9, rtol=1e-9)


def test_scalar_mlp_form_represents_the_inertia_tensor():
    """Villar et al.'s form: Y = sum_i m_i (|r_i|^2 I - r_i r_i^T) = sum_k c_k(s) E_k(x) with coefficients c_k
    linear in the scalars (here the masses): an exact least-squares fit over 80 samples (720 equations, 306
    unknowns); with constant coefficients the fit fails."""
    ds = Inertia(n_samples=80)
    model = sl.nn.ScalarMLP(ds.rep_in, ds.rep_out, hidden=8, dtype=torch.float64)
    X, Y = ds.X.double(), ds.Y.double()
    E = model.features(X)                                              # (80, K, 9)
    assert model.n_features == 1 + 5 + 15 * 3       # I; m_i I; v_i v_j^T, v_j v_i^T, <v_i, v_j> I per pair
    phi = torch.cat([torch.ones(80, 1, dtype=torch.float64), X[:, :5]], 1)          # (80, 6): 1, m_1..m_5
    A = torch.einsum("nj,nko->nokj", phi, E).reshape(80 * 9, -1)
    coef = torch.linalg.lstsq(A, Y.reshape(-1), driver="gelsd").solution
    assert float((A @ coef - Y.reshape(-1)).abs().max()) < 1e-9 * float(Y.abs().max())
    A0 = E.transpose(1, 2).reshape(80 * 9, -1)
    coef0 = torch.linalg.lstsq(A0, Y.reshape(-1), driver="gelsd").solution
    assert float((A0 @ coef0 - Y.reshape(-1)).abs().max()) > 1e-2 * float(Y.abs().max())


def test_scalar_mlp_is_seeded_and_calibration_standardizes():
    G = sl.O(3)
    ri, ro = 2 * sl.V(G), sl.V(G)
    X = _x(100, 6).float() * 3 + 1
    a = sl.nn.ScalarMLP(ri, ro, hidden=16, seed=4)
    b = sl.nn.ScalarMLP(ri, ro, hidden=16, seed=4)
    assert torch.equal(a(X[:5]), b(X[:5]))
    assert not torch.equal(a(X[:5]), sl.nn.ScalarMLP(ri, ro, hidden=16, seed=5)(X[:5]))
    a.calibrate(X)
    z = (a.scalars(X) - a.mean) / a.std
    assert torch.allclose(z.mean(0), torch.zeros(3), atol=1e-4)
    assert torch.allclose(z.std(0), torch.ones(3), atol=1e-4)
    assert torch.equal(X, _x(100, 6).float() * 3 + 1)                  # calibrate does not touch its input


def test_scalar_mlp_bad_input():
    G = sl.O(3)
    with pytest.raises(ValueError, match="degree: expected 1, 2 or 3"):
        sl.nn.InvariantScalars(sl.V(G), degree=4)
    with pytest.raises(ValueError, match="out_degree"):
        sl.nn.ScalarMLP(sl.V(G), sl.V(G), out_degree=3)
    with pytest.raises(TypeError, match="rep_in: expected a Rep"):
        sl.nn.ScalarMLP("V", sl.V(G))
    with pytest.raises(sl.SymlieError, match="different groups"):
        sl.nn.ScalarMLP(sl.V(G), sl.V(sl.O(2)))
    with pytest.raises(sl.SymlieError, match="no equivariant features"):
        sl.nn.ScalarMLP(sl.V(G), sl.V(G), out_degree=0)                 # a vector output needs degree >= 1
    model = sl.nn.ScalarMLP(sl.V(G), sl.Scalar(G), hidden=8)
    with pytest.raises(ValueError, match="x: expected last dimension 3"):
        model(torch.randn(4, 2))
    with pytest.raises(TypeError, match="x: expected torch.float32"):
        model(torch.randn(4, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="not finite"):
        model.calibrate(torch.tensor([[1.0, float("nan"), 0.0], [0.0, 1.0, 0.0]]))
    with pytest.raises(ValueError, match="at least 2 inputs"):
        model.calibrate(torch.randn(1, 3))


def test_uniform_rep_emlp_allocation_matches_emlps_rule():
    # EMLP's uniform_rep(128, O(5)): 53 scalars, 10 vectors, one rank-2 tensor; O(3): ranks 0-3 (38, 12, 3, 1)
    r5 = sl.nn.uniform_rep(128, sl.O(5), allocation="emlp")
    assert r5.size == 128 and str(r5) == "53x1+10V+(V⊗V)"
    r3 = sl.nn.uniform_rep(128, sl.O(3), allocation="emlp")
    assert r3.size == 128 and str(r3) == "38x1+12V+3(V⊗V)+(V⊗V⊗V)"
    with pytest.raises(ValueError, match="allocation: expected 'even' or 'emlp'"):
        sl.nn.uniform_rep(128, sl.O(3), allocation="binomial")


def test_projected_initialisation_is_emlps_orthogonal_projection():
    G = sl.O(3)
    # every map between scalars is equivariant: the projection of an orthogonal matrix is itself
    lin = sl.nn.EquivariantLinear(7 * sl.Scalar(G), 4 * sl.Scalar(G), init="projected", dtype=torch.float64)
    W = lin.weight().detach()
    assert torch.allclose(W @ W.T, torch.eye(4, dtype=torch.float64), atol=1e-12)
    # a small equivariant space shrinks the weights: V(x)V -> V(x)V has 3 of 81 maps
    rep = sl.V(G) * sl.V(G)
    proj = sl.nn.EquivariantLinear(rep, rep, init="projected", dtype=torch.float64).weight().detach()
    lecun = sl.nn.EquivariantLinear(rep, rep, dtype=torch.float64).weight().detach()
    for g in G.sample(2, generator=0):
        assert torch.allclose(rep.rho(g) @ proj, proj @ rep.rho(g), atol=1e-12)
    assert float(proj.norm()) < 3 ** 0.5 + 1e-9 < float(lecun.norm()) * 10
    with pytest.raises(ValueError, match="init: expected 'lecun' or 'projected'"):
        sl.nn.EquivariantLinear(rep, rep, init="xavier")
