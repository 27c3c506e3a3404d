"""Tests of symlie.fields: Lie derivatives of fields sampled on periodic grids.

Ground truth: (L_xi u)(x) = d/dt|_0 rho(exp(t xi))^{-1} u(exp(t xi) . x) = Du(x) v_xi(x) - drho(xi) u(x), with
v_xi(x) = A x + b read off the homogeneous generator in this file, and Du(x) v computed by forward-mode
autodiff of the closed-form field at the grid coordinates.
"""
from __future__ import annotations

import math

import pytest
import torch

import symlie as sl
from _helpers import DT

TWO_PI = 2 * math.pi


# ----------------------------------------------------------------------------- closed-form fields
def u_scalar(p):
    """p (..., 2) -> (...): a band-limited trig polynomial, 2 pi periodic in both coordinates."""
    x, y = p[..., 0], p[..., 1]
    return torch.sin(x) * torch.cos(2 * y) + 0.3 * torch.cos(3 * x + y)


def u_vector(p):
    """p (..., 2) -> (..., 2): two channels."""
    x, y = p[..., 0], p[..., 1]
    return torch.stack([torch.sin(x) * torch.cos(y) - 0.4 * torch.sin(2 * y),
                        0.5 * torch.cos(2 * x) + torch.sin(x + y)], -1)


def u_3d(p):
    x, y, z = p[..., 0], p[..., 1], p[..., 2]
    return torch.sin(x) * torch.cos(y) * torch.sin(2 * z) + 0.2 * torch.cos(x + y - z)


def vfield(X, p):
    """v_X(p) = A p + b for homogeneous (q, n+1, n+1) generators, p (..., n) -> (q, ..., n)."""
    n = p.shape[-1]
    A, b = X[:, :n, :n], X[:, :n, n]
    return torch.einsum("qij,...j->q...i", A, p) + b.reshape(b.shape[0], *([1] * (p.ndim - 1)), n)


def analytic_lie(ufun, X, p, A_channels=None):
    """(q, *S, C) or (q, *S): Du(p) v_X(p) (- A u(p) for vector channels)."""
    v = vfield(X, p)
    out = []
    for k in range(X.shape[0]):
        val, Dv = torch.func.jvp(ufun, (p,), (v[k],))
        if A_channels is not None:
            Dv = Dv - val @ A_channels[k].T
        out.append(Dv)
    return torch.stack(out)


def _rel_err(a, b):
    return float((a - b).abs().max() / b.abs().max())


# ----------------------------------------------------------------------------- coordinates and gradients
def test_grid_coordinates_convention():
    c = sl.grid_coordinates((4, 6), lengths=(2.0, 3.0))
    assert c.shape == (4, 6, 2) and c.dtype == DT
    # x_k = i_k L_k / S_k - L_k / 2 (origin defaults to the centre), first axis = first coordinate
    torch.testing.assert_close(c[:, 0, 0], torch.tensor([-1.0, -0.5, 0.0, 0.5], dtype=DT))
    torch.testing.assert_close(c[0, :, 1], torch.tensor([-1.5, -1.0, -0.5, 0.0, 0.5, 1.0], dtype=DT))
    assert float(c[:, :, 0].std(1).max()) == 0.0  # x constant along the second axis
    # default lengths: unit spacing in pixel units
    d = sl.grid_coordinates((5, 4))
    torch.testing.assert_close(d[:, 0, 0], torch.arange(5, dtype=DT) - 2.5)
    torch.testing.assert_close(d[0, :, 1], torch.arange(4, dtype=DT) - 2.0)
    # an explicit origin
    e = sl.grid_coordinates((4,), lengths=TWO_PI, origin=[0.0])
    torch.testing.assert_close(e[:, 0], torch.arange(4, dtype=DT) * math.pi / 2)


@pytest.mark.parametrize("shape", [(32, 24), (33, 25)])
def test_grid_gradient_spectral_is_exact_for_trig_polynomials(shape):
    p = sl.grid_coordinates(shape, lengths=TWO_PI)
    u = u_scalar(p)[None]  # (C=1, H, W)
    g = sl.grid_gradient(u, 2, lengths=TWO_PI)
    assert g.shape == (2, 1, *shape)
    x, y = p[..., 0], p[..., 1]
    ux = torch.cos(x) * torch.cos(2 * y) - 0.9 * torch.sin(3 * x + y)
    uy = -2 * torch.sin(x) * torch.sin(2 * y) - 0.3 * torch.sin(3 * x + y)
    assert float((g[0, 0] - ux).abs().max()) < 1e-12
    assert float((g[1, 0] - uy).abs().max()) < 1e-12


def test_grid_gradient_fd_is_second_order():
    errs = []
    for N in (32, 64, 128):
        p = sl.grid_coordinates((N, N), lengths=TWO_PI)
        g = sl.grid_gradient(u_scalar(p), 2, lengths=TWO_PI, method="fd")
        x, y = p[..., 0], p[..., 1]
        ux = torch.cos(x) * torch.cos(2 * y) - 0.9 * torch.sin(3 * x + y)
        errs.append(float((g[0] - ux).abs().max()))
    assert 3.8 < errs[0] / errs[1] < 4.2 and 3.9 < errs[1] / errs[2] < 4.1


# ----------------------------------------------------------------------------- scalar fields under se(2)
@pytest.mark.parametrize("origin", [None, (0.0, 0.0), (1.0, -0.5)])
@pytest.mark.parametrize("shape", [(48, 48), (40, 36), (41, 37)])
def test_scalar_field_spectral_matches_analytic(shape, origin):
    alg = sl.se(2)
    u = u_scalar(sl.grid_coordinates(shape, lengths=TWO_PI, origin=origin))[None]  # (1, H, W)
    L = sl.lie_derivative_grid(u, alg, lengths=TWO_PI, origin=origin)
    assert L.shape == (3, 1, *shape)
    p = sl.grid_coordinates(shape, lengths=TWO_PI, origin=origin)
    ref = analytic_lie(u_scalar, alg.basis, p)  # (3, H, W)
    assert float((L[:, 0] - ref).abs().max()) < 1e-10 * float(ref.abs().max())
    # a single generator drops the q axis; a random combination is linear in xi
    X = alg.random_element(generator=1)
    Ls = sl.lie_derivative_grid(u, X, sl.Point(sl.SE(2)), lengths=TWO_PI, origin=origin)
    assert Ls.shape == (1, *shape)
    assert float((Ls[0] - analytic_lie(u_scalar, X[None], p)[0]).abs().max()) < 1e-10 * float(ref.abs().max())


@pytest.mark.parametrize("gen", ["rotation", "translation", "random"])
def test_scalar_field_fd_converges_second_order(gen):
    alg = sl.se(2)
    X = {"rotation": alg.basis[0], "translation": alg.basis[1], "random": alg.random_element(generator=2)}[gen]
    errs = []
    for N in (32, 64):
        p = sl.grid_coordinates((N, N), lengths=TWO_PI)
        L = sl.lie_derivative_grid(u_scalar(p)[None], X, sl.Point(sl.SE(2)), lengths=TWO_PI, method="fd")
        errs.append(float((L[0] - analytic_lie(u_scalar, X[None], p)[0]).abs().max()))
        # central differences: |error| <= h^2 / 6 (max|u_xxx| |v_x| + max|u_yyy| |v_y|), |u_xxx| <= 1 + 8.1,
        # |u_yyy| <= 8 + 0.3
        h = TWO_PI / N
        v = vfield(X[None], p)[0]
        bound = h * h / 6 * float((9.1 * v[..., 0].abs() + 8.3 * v[..., 1].abs()).max())
        assert errs[-1] <= bound
    assert 3.5 < errs[0] / errs[1] < 4.5, errs


def test_scalar_field_sim2_dilation():
    """sim(2) includes the dilation x -> x: L_D u = x . grad u (no periodicity needed: v is pointwise)."""
    alg = sl.sim(2)
    shape = (40, 40)
    p = sl.grid_coordinates(shape, lengths=TWO_PI)
    L = sl.lie_derivative_grid(u_scalar(p)[None], alg, lengths=TWO_PI)
    ref = analytic_lie(u_scalar, alg.basis, p)
    assert L.shape == (4, 1, *shape)
    assert _rel_err(L[:, 0], ref) < 1e-10


# ----------------------------------------------------------------------------- vector fields
@pytest.mark.parametrize("method", ["spectral", "fd"])
def test_vector_field_channels(method):
    alg = sl.se(2)
    shape = (48, 40)
    p = sl.grid_coordinates(shape, lengths=TWO_PI)
    u = u_vector(p).movedim(-1, 0)  # (C=2, H, W)
    rep = sl.V(sl.SE(2))
    L = sl.lie_derivative_grid(u, alg, rep_channels=rep, lengths=TWO_PI, method=method)
    assert L.shape == (3, 2, *shape)
    ref = analytic_lie(u_vector, alg.basis, p, A_channels=alg.basis[:, :2, :2]).movedim(-1, 1)  # (3, 2, H, W)
    tol = 1e-10 if method == "spectral" else 3e-2
    assert _rel_err(L, ref) < tol
    # channels seen as two scalars differ exactly by the drho term A u (only for the rotation)
    Ls = sl.lie_derivative_grid(u, alg, lengths=TWO_PI, method=method)
    diff = Ls - L
    expect = torch.einsum("qij,jhw->qihw", alg.basis[:, :2, :2], u)
    assert float((diff - expect).abs().max()) < 1e-12
    assert float(expect[0].abs().max()) > 0.1 and float(expect[1:].abs().max()) == 0.0


def test_vector_field_rotation_equivariant_field_is_annihilated():
    """u(x) = phi(|x|^2) x is rotation equivariant as a vector field (V channels): L_rot u = 0, but not as
    two scalar channels. phi is a narrow Gaussian so that u is periodic to ~1e-14."""
    s = 0.35
    shape = (64, 64)
    p = sl.grid_coordinates(shape, lengths=TWO_PI)
    r2 = (p ** 2).sum(-1)
    u = (torch.exp(-r2 / (2 * s * s))[..., None] * p).movedim(-1, 0)
    alg = sl.se(2)
    L = sl.lie_derivative_grid(u, alg, rep_channels=sl.V(sl.SE(2)), lengths=TWO_PI)
    assert float(L[0].abs().max()) < 1e-8 * float(L[1:].abs().max())
    Ls = sl.lie_derivative_grid(u, alg.basis[0], sl.Point(sl.SE(2)), lengths=TWO_PI)
    assert float(Ls.abs().max()) > 0.1


# ----------------------------------------------------------------------------- radially symmetric field
def test_radial_bump_rotation_invariant():
    """exp(-r^2 / (2 s^2)) centred in the box: periodic up to exp(-pi^2 / (2 s^2)) ~ 4e-14 for s = 0.4 and
    band-limited up to exp(-k^2 s^2 / 2) ~ 1e-36 at the Nyquist wavenumber 32, so the spectral rotation Lie
    derivative vanishes to ~1e-12; translations give d u / d x_k = -x_k / s^2 u."""
    s = 0.4
    shape = (64, 64)
    p = sl.grid_coordinates(shape, lengths=TWO_PI)
    u = torch.exp(-(p ** 2).sum(-1) / (2 * s * s))[None]
    alg = sl.se(2)
    L = sl.lie_derivative_grid(u, alg, lengths=TWO_PI)
    scale = float(L[1:].abs().max())
    assert scale > 1.0  # max |d u / dx| = e^{-1/2} / s ~ 1.5 (times the unit translation norm)
    assert float(L[0].abs().max()) < 1e-8 * scale
    b = alg.basis[1:, :2, 2]  # the unit translations
    grad = -p / (s * s) * u[0, ..., None]
    ref = torch.einsum("kj,hwj->khw", b, grad)
    assert float((L[1:, 0] - ref).abs().max()) < 1e-10 * scale
    # a C4-but-not-SO(2)-symmetric field is not annihilated by the rotation
    c4 = (torch.cos(p[..., 0]) + torch.cos(p[..., 1]))[None]
    assert float(sl.lie_derivative_grid(c4, alg.basis[0], sl.Point(sl.SE(2)), lengths=TWO_PI).abs().max()) > 0.1


# ----------------------------------------------------------------------------- batch dimensions
def test_batch_dimensions():
    alg = sl.se(2)
    shape = (32, 30)
    p = sl.grid_coordinates(shape, lengths=TWO_PI)
    gen = torch.Generator().manual_seed(3)
    coef = torch.randn(3, 4, 2, generator=gen, dtype=DT)  # (B1, B2, C)
    base = torch.stack([u_scalar(p), u_vector(p)[..., 0]])  # (2, H, W)
    u = torch.einsum("abc,chw->abchw", coef, base)  # (3, 4, C=2, H, W): scalar channels
    L = sl.lie_derivative_grid(u, alg, lengths=TWO_PI)
    assert L.shape == (3, 3, 4, 2, *shape)
    Lb = sl.lie_derivative_grid(base, alg, lengths=TWO_PI)  # (3, 2, H, W)
    torch.testing.assert_close(L, torch.einsum("abc,qchw->qabchw", coef, Lb), rtol=1e-12, atol=1e-12)
    # vector channels with a batch: the same as each batch element on its own
    cv = torch.randn(2, generator=gen, dtype=DT)
    uv = cv[:, None, None, None] * u_vector(p).movedim(-1, 0)  # (B=2, C=2, H, W)
    rep = sl.V(sl.SE(2))
    Lv = sl.lie_derivative_grid(uv, alg, rep_channels=rep, lengths=TWO_PI)
    assert Lv.shape == (3, 2, 2, *shape)
    ref = analytic_lie(u_vector, alg.basis, p, A_channels=alg.basis[:, :2, :2]).movedim(-1, 1)  # (3, 2, H, W)
    for bi in range(2):
        torch.testing.assert_close(Lv[:, bi], sl.lie_derivative_grid(uv[bi], alg, rep_channels=rep, lengths=TWO_PI),
                                   rtol=1e-13, atol=1e-13)
        assert float((Lv[:, bi] - cv[bi] * ref).abs().max()) < 1e-10 * float(ref.abs().max())


# ----------------------------------------------------------------------------- 3-D
def test_3d_grid_se3():
    alg = sl.se(3)
    shape = (16, 14, 12)
    p = sl.grid_coordinates(shape, lengths=TWO_PI)
    u = u_3d(p)[None]
    L = sl.lie_derivative_grid(u, alg, lengths=TWO_PI)
    assert L.shape == (6, 1, *shape)
    ref = analytic_lie(u_3d, alg.basis, p)
    assert _rel_err(L[:, 0], ref) < 1e-10
    # vector channels (V of SE(3), i.e. the rotation part acts on the 3 channels)
    uv = torch.stack([u_3d(p), u_3d(p.flip(-1)), u_3d(p.roll(1, -1))])
    Lv = sl.lie_derivative_grid(uv, alg, rep_channels=sl.V(sl.SE(3)), lengths=TWO_PI)
    Ls = sl.lie_derivative_grid(uv, alg, lengths=TWO_PI)
    torch.testing.assert_close(Ls - Lv, torch.einsum("qij,jxyz->qixyz", alg.basis[:, :3, :3], uv),
                               rtol=1e-12, atol=1e-12)


def test_linear_domain_action():
    """The domain action may be a linear group given by matrices with an explicit rep_domain (rotations of
    R^2 via SO(2), no translations): same as the se(2) rotation."""
    shape = (40, 40)
    p = sl.grid_coordinates(shape, lengths=TWO_PI)
    u = u_scalar(p)[None]
    R = sl.so(2).basis[0]
    L = sl.lie_derivative_grid(u, R, sl.V(sl.SO(2)), lengths=TWO_PI)
    L_se = sl.lie_derivative_grid(u, sl.se(2).basis[0], sl.Point(sl.SE(2)), lengths=TWO_PI)
    torch.testing.assert_close(L, L_se, rtol=1e-13, atol=1e-13)
    R3 = torch.zeros(1, 3, 3, dtype=DT)
    R3[0, :2, :2] = R
    ref = analytic_lie(u_scalar, R3, p)
    assert _rel_err(L[0], ref[0]) < 1e-10


# ----------------------------------------------------------------------------- errors
def test_errors():
    alg = sl.se(2)
    p = sl.grid_coordinates((16, 16), lengths=TWO_PI)
    u = u_scalar(p)[None]
    with pytest.raises(ValueError, match="channel axis"):
        sl.lie_derivative_grid(u[0], alg, lengths=TWO_PI)
    with pytest.raises(ValueError, match=r"rep_channels: .*size 2 but u has 3 channels"):
        sl.lie_derivative_grid(u.expand(3, 16, 16), alg, rep_channels=sl.V(sl.SE(2)), lengths=TWO_PI)
    with pytest.raises(sl.SymlieError, match="rep_channels"):
        sl.lie_derivative_grid(u.expand(2, 16, 16), alg, rep_channels=sl.Point(sl.SE(2)), lengths=TWO_PI)
    with pytest.raises(ValueError, match="method"):
        sl.lie_derivative_grid(u, alg, lengths=TWO_PI, method="fft")
    with pytest.raises(ValueError, match="method"):
        sl.grid_gradient(u, 2, method="central")
    for bad in (-1.0, 0.0, [1.0, 2.0, 3.0], [1.0, float("inf")], [TWO_PI, -TWO_PI]):
        with pytest.raises(ValueError, match="lengths"):
            sl.lie_derivative_grid(u, alg, lengths=bad)
    with pytest.raises(ValueError, match="origin"):
        sl.lie_derivative_grid(u, alg, lengths=TWO_PI, origin=[0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="rep_domain: required"):
        sl.lie_derivative_grid(u, alg.basis)
    with pytest.raises(ValueError, match=r"xi: generators are 4x4"):
        sl.lie_derivative_grid(u, sl.se(3).basis, sl.Point(sl.SE(2)))
    with pytest.raises(ValueError, match="NaN"):
        sl.lie_derivative_grid(torch.full((1, 8, 8), float("nan"), dtype=DT), alg)
