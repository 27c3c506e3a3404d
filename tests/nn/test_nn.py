"""Equivariant layers and the equivariance-error metric."""
import pytest
import torch

import symlie as sl


def _mlp(n_in, n_out, width=64):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(n_in, width), torch.nn.SiLU(), torch.nn.Linear(width, n_out))


def test_equivariant_linear_weight_commutes_with_the_group():
    G = sl.O(3)
    rep_in, rep_out = 2 * sl.V(G) + sl.Scalar(G), sl.V(G) * sl.V(G) + sl.V(G)
    lin = sl.nn.EquivariantLinear(rep_in, rep_out, dtype=torch.float64)
    with torch.no_grad():
        for p in lin.parameters():
            p.normal_()
        W = lin.weight()
        b = lin.bias_basis @ lin.bias_coeffs
    for g in G.sample(3, generator=0):
        assert torch.allclose(rep_out.rho(g) @ W, W @ rep_in.rho(g), atol=1e-10)
        assert torch.allclose(rep_out.rho(g) @ b, b, atol=1e-12)
    assert lin.num_free == lin.basis_info.dim + lin.bias_basis.shape[1]


@pytest.mark.parametrize("G,rep_in,rep_out,tol", [
    (sl.O(5), lambda G: 2 * sl.V(G), lambda G: sl.Scalar(G), 1e-5),
    (sl.O(3), lambda G: 5 * sl.Scalar(G) + 5 * sl.V(G), lambda G: sl.V(G) * sl.V(G), 1e-5),
    (sl.Lorentz(), lambda G: 4 * sl.V(G), lambda G: sl.Scalar(G), 1e-4),
])
def test_equivariant_mlp_is_equivariant_and_the_metric_can_fail(G, rep_in, rep_out, tol):
    ri, ro = rep_in(G), rep_out(G)
    model = sl.nn.EquivariantMLP(ri, ro, hidden=48, depth=2, mid_channels=12, seed=0)
    with torch.no_grad():   # make the output non-trivial
        for p in model.parameters():
            p.mul_(3.0)
    X = torch.randn(64, ri.size, generator=torch.Generator().manual_seed(1)) * (0.25 if G.name == "O(1,3)" else 1)
    y = model(X)
    assert y.shape == (64, ro.size) and float(y.detach().std()) > 1e-4
    err = sl.metrics.equivariance_error(model, G, X, ri, ro, scale=0.5)
    assert err < tol
    assert sl.metrics.equivariance_error(_mlp(ri.size, ro.size), G, X, ri, ro, scale=0.5) > 1e-2


def test_gated_nonlinearity_is_equivariant():
    G = sl.SO(3)
    rep = 2 * sl.Scalar(G) + sl.V(G) + sl.V(G) * sl.V(G)
    gate = sl.nn.GatedNonlinearity(rep)
    grep = sl.nn.gated(rep)
    assert gate.in_size == grep.size == rep.size + 2
    x = torch.randn(10, grep.size, dtype=torch.float64)
    for g in G.sample(3, generator=0):
        assert torch.allclose(gate(grep.act(g, x)), rep.act(g, gate(x)), atol=1e-12)
    with pytest.raises(ValueError, match="x: expected last dimension"):
        gate(torch.randn(3, rep.size))


def test_equivariance_error_is_zero_for_exact_maps_and_large_otherwise():
    G = sl.O(3)
    rep = sl.V(G)
    X = torch.randn(50, 3, dtype=torch.float64)
    assert sl.metrics.equivariance_error(lambda x: 2 * x * (x ** 2).sum(-1, keepdim=True), G, X, rep, rep) < 1e-14
    assert sl.metrics.equivariance_error(lambda x: x ** 2, G, X, rep, rep) > 1e-2
    with pytest.raises(ValueError, match="X: expected width 3"):
        sl.metrics.equivariance_error(lambda x: x, G, X[:, :2], rep, rep)


def test_subspace_distance():
    assert sl.metrics.subspace_distance(sl.so(3), sl.so(3)) < 1e-12
    d = sl.metrics.subspace_distance(sl.so(3), sl.gl(3))
    assert abs(d - (6 ** 0.5) * torch.pi / 2) < 1e-9      # so(3) inside gl(3): 6 missing directions


def test_mlp_errors():
    with pytest.raises(sl.SymlieError, match="different groups"):
        sl.nn.EquivariantMLP(sl.V(sl.SO(3)), sl.Scalar(sl.O(3)))
    lin = sl.nn.EquivariantLinear(sl.V(sl.SO(3)), sl.V(sl.SO(3)))
    with pytest.raises(ValueError, match="x: expected last dimension 3"):
        lin(torch.randn(2, 4))


# ----------------------------------------------------------------------------- input policy
def _modules():
    """One small instance of every nn module (float32) with its input size."""
    G = sl.SO(3)
    V, S = sl.V(G), sl.Scalar(G)
    rep = S + V
    return [
        (sl.nn.EquivariantLinear(2 * V, rep), 6),
        (sl.nn.GatedNonlinearity(rep), sl.nn.gated(rep).size),
        (sl.nn.EquivariantBilinear(2 * V, rep, mid_channels=8), 6),
        (sl.nn.EquivariantBlock(2 * V, rep, mid_channels=8), 6),
        (sl.nn.EquivariantMLP(2 * V, S, hidden=rep, depth=1, mid_channels=8), 6),
    ]


@pytest.mark.parametrize("i", range(5))
def test_numpy_sequences_and_integers_are_converted_to_the_module_dtype(i):
    module, size = _modules()[i]
    x = torch.randn(4, size, generator=torch.Generator().manual_seed(2))
    y = module(x)
    assert y.dtype == torch.float32
    assert torch.equal(module(x.numpy()), y) and torch.equal(module(x.tolist()), y)
    xi = torch.arange(4 * size).reshape(4, size) % 5 - 2
    ref = module(xi.float())
    for xin in (xi, xi.numpy(), xi.tolist(), xi > 0):
        out = module(xin)
        assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    assert torch.equal(module(xi), ref) and torch.equal(module(xi.numpy()), ref)
    assert torch.equal(module(xi > 0), module((xi > 0).float()))


@pytest.mark.parametrize("i", [0, 2, 3, 4])
def test_floating_dtype_mismatch_is_a_clear_error(i):
    module, size = _modules()[i]
    x = torch.randn(3, size, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    msg = r"x: expected torch.float32 input .* got torch.float64; convert the input \(x.float\(\)\) or the module " \
          r"\(model.double\(\)\)"
    with pytest.raises(TypeError, match=msg):
        module(x)
    with pytest.raises(TypeError, match=msg):
        module(x.numpy())
    module.double()
    assert module(x).dtype == torch.float64 and torch.equal(module(x.numpy()), module(x))
    with pytest.raises(TypeError, match=r"x: expected torch.float64 .* \(x.double\(\)\) or the module \(model.float"):
        module(x.float())


def test_gate_without_parameters_keeps_the_floating_dtype():
    module, size = _modules()[1]
    x = torch.randn(3, size, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    assert module(x).dtype == torch.float64 and module(x.float()).dtype == torch.float32


@pytest.mark.parametrize("i", range(5))
def test_wrong_last_dimension_and_complex_input_are_refused(i):
    module, size = _modules()[i]
    with pytest.raises(ValueError, match=rf"x: expected last dimension {size} \(.*\), got shape \(2, {size + 1}\)"):
        module(torch.zeros(2, size + 1))
    with pytest.raises(ValueError, match=rf"x: expected last dimension {size}"):
        module(torch.tensor(1.0))
    with pytest.raises(TypeError, match="x: complex values are not supported"):
        module(torch.zeros(2, size, dtype=torch.complex64))
    with pytest.raises(TypeError, match="x: expected a numeric array"):
        module([["a"] * size])


@pytest.mark.parametrize("kw, match", [({"hidden": "V"}, "hidden: expected one Rep"), ({"hidden": 0}, "hidden"),
                                       ({"rep_in": "V"}, "rep_in: expected a Rep")])
def test_mlp_arguments_are_checked(kw, match):
    G = sl.SO(3)
    args = {"rep_in": sl.V(G), "rep_out": sl.Scalar(G), "hidden": 8, **kw}
    with pytest.raises((TypeError, ValueError), match=match):
        sl.nn.EquivariantMLP(args.pop("rep_in"), args.pop("rep_out"), **args)
