"""Jet points from gridded solutions (symlie.pde.grid.jets_from_grid).

Ground truth:
* u = sin(k x + a) cos(w t + b): D_t^i D_x^j u = w^i k^j sin(k x + a + j pi/2) cos(w t + b + i pi/2) for every
  column of J^3; spectral x-derivatives to round-off, 6th-order FD in t to its truncation error;
* the KdV soliton u = 3c sech^2(sqrt(c)/2 (x - c t - x0)) = f(xi): D_t^i D_x^j u = (-c)^i f^(i+j)(xi) (nested
  autograd in xi), and its jets solve u_t + u u_x + u_xxx = 0;
* finite differences of accuracy p converge as h^p when the step is halved (p = 2, 4, 6; centred and
  one-sided); Fornberg weights reproduce the textbook stencils.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import symlie as sl
from symlie.pde.grid import GridJets, finite_difference_weights, jets_from_grid
from symlie.pde.jets import JetSpace

JET3 = JetSpace(("t", "x"), ("u",), 3)
K, A, W, B = 2.0, 0.4, 1.5, 0.3


def _grid(nt, dt, nx, dx, x0=0.0):
    return np.arange(nt) * dt, x0 + np.arange(nx) * dx


def _sincos(t, x):
    T, X = np.meshgrid(t, x, indexing="ij")
    return np.sin(K * X + A) * np.cos(W * T + B)


def _sincos_exact(g: GridJets) -> torch.Tensor:
    """Exact jets at the rows of g."""
    t, x = g.Z[:, 0], g.Z[:, 1]
    cols = [t, x]
    for r in range(JET3.order + 1):
        for J in sl.pde.multi_indices(2, r):
            i, j = J
            cols.append(W ** i * K ** j * torch.sin(K * x + A + j * math.pi / 2) * torch.cos(W * t + B + i * math.pi / 2))
    return torch.stack(cols, 1)


def _soliton(t, x, c=1.0, x0=0.0):
    T, X = np.meshgrid(t, x, indexing="ij")
    return 3 * c / np.cosh(math.sqrt(c) / 2 * (X - c * T - x0)) ** 2


def _soliton_exact(g: GridJets, c=1.0, x0=0.0) -> torch.Tensor:
    xi = (g.Z[:, 1] - c * g.Z[:, 0] - x0).clone().requires_grad_(True)
    f = 3 * c / torch.cosh(math.sqrt(c) / 2 * xi) ** 2
    ders = [f]
    for _ in range(JET3.order):
        ders.append(torch.autograd.grad(ders[-1].sum(), xi, create_graph=True)[0])
    cols = [g.Z[:, 0], g.Z[:, 1]]
    for r in range(JET3.order + 1):
        for i, j in sl.pde.multi_indices(2, r):
            cols.append((-c) ** i * ders[i + j].detach())
    return torch.stack(cols, 1)


def test_fornberg_weights_are_the_textbook_stencils():
    assert np.allclose(finite_difference_weights([-1, 0, 1], 2), [1, -2, 1])
    assert np.allclose(finite_difference_weights(range(-2, 3), 1) * 12, [1, -8, 0, 8, -1])
    assert np.allclose(finite_difference_weights([0, 1, 2], 1), [-1.5, 2, -0.5])          # one-sided
    with pytest.raises(ValueError, match="at least 3 points"):
        finite_difference_weights([0, 1], 2)


def test_spectral_and_fd_jets_of_a_sine_product_match_the_exact_ones():
    t, x = _grid(121, 0.01, 64, 2 * math.pi / 64)
    u = _sincos(t, x)
    sp = jets_from_grid(u, t, x, JET3, method="spectral")
    assert isinstance(sp, GridJets) and sp.names == JET3.names and sp.Z.dtype == torch.float64
    assert sp.periodic and sp.boundary == "drop" and sp.grid_shape == (1, 121, 64)
    ex = _sincos_exact(sp)
    err = (sp.Z - ex).abs().max(0).values
    x_only = [JET3.coordinate(n) for n in ("u_x", "u_xx", "u_xxx")]
    assert float(err[x_only].max()) < 1e-10                      # spectral in x: round-off
    assert float(err.max()) < 1e-8                               # 6th-order FD in t, dt = 0.01
    # 6th-order t-stencils of up to 9 points: 4 rows dropped at each end
    assert sp.n_valid == len(sp) == (121 - 8) * 64
    fd = jets_from_grid(u, t, x, JET3, method="fd", periodic=True)
    err_fd = (fd.Z - _sincos_exact(fd)).abs().max()
    assert 1e-9 < float(err_fd) < 1e-4                            # 6th order in x with k dx = 0.2


def test_soliton_jets_match_autograd_derivatives_and_solve_kdv():
    t, x = _grid(41, 0.05, 256, 60 / 256, x0=-30.0)
    u = _soliton(t, x, c=1.0, x0=-1.0)
    g = jets_from_grid(u, t, x, JET3, method="spectral")
    ex = _soliton_exact(g, 1.0, -1.0)
    scale = ex.abs().max(0).values[2:]
    rel = ((g.Z - ex).abs().max(0).values[2:] / scale)
    assert float(rel.max()) < 1e-6, rel
    res = g.column("u_t") + g.column("u") * g.column("u_x") + g.column("u_xxx")
    assert float(res.abs().max()) < 1e-6 * float(g.column("u_t").abs().max())


@pytest.mark.parametrize("p", [2, 4, 6])
@pytest.mark.parametrize("boundary", ["drop", "one-sided"])
def test_finite_differences_converge_at_their_order(p, boundary):
    """Halving both steps divides the error of every derivative by about 2^p (x not periodic here)."""
    errs = []
    for n in (32, 64):
        t, x = _grid(n + 1, 2.0 / n, n + 1, 2.0 / n)
        g = jets_from_grid(_sincos(t, x), t, x, JET3, method="fd", fd_order=p, boundary=boundary)
        errs.append((g.Z - _sincos_exact(g)).abs().max(0).values[3:])
    order = torch.log2(errs[0] / errs[1])
    assert float(order.min()) > p - 0.4 and float(order.max()) < p + 0.6, order
    if boundary == "one-sided":
        assert g.n_valid == 65 * 65


def test_poly_jets_are_accurate_and_drop_the_window_margin():
    t, x = _grid(81, 0.02, 81, 0.02)
    u = _sincos(t, x)
    g = jets_from_grid(u, t, x, JET3, method="poly", poly_degree=6, window=(4, 4))
    assert g.options == {"poly_degree": 6, "window": (4, 4)} and g.boundary == "drop"
    assert g.n_valid == (81 - 8) * (81 - 8)
    rel = (g.Z - _sincos_exact(g)).abs().max(0).values[2:] / 1.5 ** 3 / K ** 3
    assert float(rel.max()) < 1e-4
    gp = jets_from_grid(u[:, :-1], t, x[:-1], JET3, method="poly", periodic=True, poly_degree=5, window=3)
    assert gp.n_valid == (81 - 6) * 80                             # x wraps around: no x margin


def test_batches_index_and_seeded_subsampling():
    t, x = _grid(30, 0.05, 32, 2 * math.pi / 32)
    u = np.stack([_sincos(t, x), 2 * _sincos(t, x)])
    full = jets_from_grid(u, t, x, JET3, method="spectral")
    b, i, j = full.index.T
    assert torch.equal(full.Z[:, 2], torch.as_tensor(u)[b, i, j])
    assert torch.allclose(full.Z[b == 1, 3:], 2 * full.Z[b == 0, 3:])
    sub = jets_from_grid(u, t, x, JET3, method="spectral", n_points=100, seed=3)
    again = jets_from_grid(u, t, x, JET3, method="spectral", n_points=100, seed=3)
    assert len(sub) == 100 and sub.n_valid == len(full) and torch.equal(sub.Z, again.Z)
    flat = full.index[:, 0] * 30 * 32 + full.index[:, 1] * 32 + full.index[:, 2]
    pos = torch.searchsorted(flat, sub.index[:, 0] * 30 * 32 + sub.index[:, 1] * 32 + sub.index[:, 2])
    assert torch.equal(full.Z[pos], sub.Z)                          # rows of the full set, in grid order
    assert len(jets_from_grid(u, t, x, JET3, method="spectral", n_points=10 ** 6)) == len(full)
    one = jets_from_grid(u[0], t, x, JET3, method="spectral")
    assert one.grid_shape == (1, 30, 32) and torch.equal(one.Z, full.Z[b == 0])
    assert full.index.shape == (len(full), 3) and full.dx == pytest.approx(2 * math.pi / 32)
    assert torch.equal(jets_from_grid(u, t, [x], JET3, method="spectral").Z, full.Z)     # x as a list of one grid


def test_bad_input_is_refused_with_clear_messages():
    t, x = _grid(30, 0.05, 32, 0.2)
    u = _sincos(t, x)
    bent = t.copy()
    bent[10] += 0.01
    with pytest.raises(sl.DataError, match=r"t: the grid is not uniform.*max deviation 0\.01"):
        jets_from_grid(u, bent, x, JET3)
    with pytest.raises(sl.DataError, match="x: grid values must be strictly increasing"):
        jets_from_grid(u, t, x[::-1].copy(), JET3)
    bad = u.copy()
    bad[3, 4] = np.nan
    bad[5, 6] = np.inf
    with pytest.raises(sl.DataError, match="u: contains 2 NaN or Inf values"):
        jets_from_grid(bad, t, x, JET3)
    with pytest.raises(sl.DataError, match="t: expected 30 grid values"):
        jets_from_grid(u, t[:-1], x, JET3)
    with pytest.raises(ValueError, match="u: expected 2 or 3 dimensions"):
        jets_from_grid(u[0], t, x, JET3)
    with pytest.raises(sl.DataError, match="t: a t-derivative of order 3 .* needs at least 9 grid points"):
        jets_from_grid(u[:8], t[:8], x, JET3)
    with pytest.raises(sl.DataError, match=r"x: the jet has 2 spatial variables \(x, y\); expected a tuple or list of "
                                           r"2 grids, one per variable in that order, got one ndarray of shape \(32,\)"):
        jets_from_grid(u, t, x, JetSpace(("t", "x", "y"), ("u",), 1))
    with pytest.raises(sl.DataError, match=r"u: the jet has 2 dependent variables \(u, v\); expected a list or tuple "
                                           r"of 2 arrays"):
        jets_from_grid(u, t, x, JetSpace(("t", "x"), ("u", "v"), 1))
    with pytest.raises(sl.DataError, match=r"u: the components must share one grid, but u\[0\] \(u\) has shape "
                                           r"\(1, 30, 32\) and u\[1\] \(v\) has shape \(1, 30, 31\)"):
        jets_from_grid([u, u[:, :-1]], t, x, JetSpace(("t", "x"), ("u", "v"), 1))
    with pytest.raises(sl.SymlieError, match="spectral x-derivatives need x periodic"):
        jets_from_grid(u, t, x, JET3, method="spectral", periodic=False)
    with pytest.raises(ValueError, match="method: expected one of"):
        jets_from_grid(u, t, x, JET3, method="chebyshev")
    with pytest.raises(ValueError, match="fd_order: expected an even"):
        jets_from_grid(u, t, x, JET3, fd_order=5)
    with pytest.raises(ValueError, match="poly_degree: .* degree >= 3"):
        jets_from_grid(u, t, x, JET3, method="poly", poly_degree=2)
    with pytest.raises(sl.SymlieError, match="window: a \\(3 x 3\\) window cannot determine"):
        jets_from_grid(u, t, x, JET3, method="poly", poly_degree=3, window=1)
    with pytest.raises(TypeError, match="jet: expected a symlie.pde.JetSpace"):
        jets_from_grid(u, t, x, "kdv")
