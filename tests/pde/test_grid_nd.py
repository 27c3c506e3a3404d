"""Jets from grids with several spatial variables and several components (symlie.pde.grid.jets_from_grid).

Ground truth:
* the 2+1-D heat equation u_t = u_xx + u_yy on [0, 2 pi)^2, u = sum_k a_k exp(-|k|^2 t) cos(k . x + phi_k):
  D_t^a D_x^b D_y^c u = sum_k a_k (-|k|^2)^a kx^b ky^c exp(-|k|^2 t) cos(k . x + phi_k + (b + c) pi / 2) for
  every column of J^3. Spectral in space: round-off; 8th-order FD in t with dt = 0.005: ~ 1e-9 relative.
  Periodic FD of accuracy q in space: the error of D^J u is its leading truncation term, bounded by
  sum_k |a_k| |k|^(2a) (c_b h_x^q |kx|^(b+q) |ky|^c + c_c h_y^q |kx|^b |ky|^(c+q)), c_m = |sum_j w_j j^(m+q)| / (m+q)!
  the first non-vanishing moment of the stencil; the measured errors are 0.84-0.87 of that bound;
* polynomials of total degree <= 4 in (t, x, y): local polynomial fits of degree 4 and finite differences of
  accuracy 6 (centred and one-sided, non-periodic) are exact to round-off;
* the two-component system u_t = v_x, v_t = u_x, solved by u = sum A cos(k x + a) cos(k t + b),
  v = -sum A sin(k x + a) sin(k t + b);
* the data route: the fitted equations are u_t = u_xx + u_yy (coefficients within 1e-10; measured 2e-14) and
  u_t = v_x, v_t = u_x, and their point symmetries inside degree-1 fields are the analytic ones: the heat algebra
  of dimension 9 (d/dt, d/dx, d/dy, y d/dx - x d/dy, 2t d/dt + x d/dx + y d/dy, u d/du, (1, x, y) d/du; the count
  of test_prolong's analytic test) with principal angles ~ 0 to it (gap ratio 7.5e14), and for the system the
  dimension that the analytic system has in the same library (12).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import symlie as sl
from symlie import pde
from symlie.pde.grid import GridJets, _half_width, finite_difference_weights, jets_from_grid

HEAT_JET = pde.JetSpace(("t", "x", "y"), ("u",), 3)
# (a_k, (kx, ky), phi_k) of the heat solution
MODES = [(1.0, (1, 0), 0.3), (0.7, (0, 1), -1.1), (0.5, (1, 1), 2.0), (0.4, (1, -2), 0.7), (0.3, (2, 1), -0.4)]
NT, DT_, NX, NY = 41, 0.005, 24, 26                      # different sizes along x and y catch swapped axes
T_H = np.arange(NT) * DT_
X_H = np.arange(NX) * 2 * math.pi / NX
Y_H = np.arange(NY) * 2 * math.pi / NY


def _heat(t, x, y):
    T, X, Y = np.meshgrid(t, x, y, indexing="ij")
    return sum(a * np.exp(-(kx * kx + ky * ky) * T) * np.cos(kx * X + ky * Y + ph) for a, (kx, ky), ph in MODES)


def _heat_exact(g: GridJets) -> torch.Tensor:
    """The exact jets of the heat solution at the rows of g."""
    jet = g.jet
    t, x, y = (g.Z[:, d] for d in range(3))
    out = g.Z.clone()
    for r in range(jet.order + 1):
        for J in pde.multi_indices(3, r):
            a_, b, c = J
            out[:, jet.index(0, J)] = sum(
                a * (-(kx * kx + ky * ky)) ** a_ * kx ** b * ky ** c * torch.exp(-(kx * kx + ky * ky) * t)
                * torch.cos(kx * x + ky * y + ph + (b + c) * math.pi / 2) for a, (kx, ky), ph in MODES)
    return out


def _rel_errors(g: GridJets, exact: torch.Tensor) -> dict[str, float]:
    """max |error| / max |exact| per dependent column."""
    rel = (g.Z - exact).abs().max(0).values / exact.abs().max(0).values
    return {n: float(r) for n, r in zip(g.names[g.jet.p:], rel[g.jet.p:])}


def test_heat_2d_spectral_jets_match_the_exact_derivatives():
    g = jets_from_grid(_heat(T_H, X_H, Y_H), T_H, (X_H, Y_H), HEAT_JET, method="spectral", fd_order=8)
    assert g.grid_shape == (1, NT, NX, NY) and g.index.shape == (len(g), 4) and g.Z.dtype == torch.float64
    assert g.dt == pytest.approx(DT_) and g.dx == pytest.approx((2 * math.pi / NX, 2 * math.pi / NY))
    # 8th-order t-stencils of up to 11 points (u_ttt): 5 rows dropped at each end of t, none in space
    assert g.n_valid == len(g) == (NT - 10) * NX * NY
    b, i, j, k = g.index.T
    assert torch.equal(g.Z[:, :3], torch.stack([torch.as_tensor(T_H)[i], torch.as_tensor(X_H)[j],
                                                torch.as_tensor(Y_H)[k]], 1))
    rel = _rel_errors(g, _heat_exact(g))
    space = [n for n in rel if "t" not in n]
    assert max(rel[n] for n in space) < 1e-11, rel          # spectral in x and y: round-off (measured 3e-13)
    assert max(rel.values()) < 1e-8, rel                    # t by 8th-order FD (measured 5e-10, u_ttt)
    c = g.column
    assert float((c("u_t") - c("u_xx") - c("u_yy")).abs().max()) < 1e-11 * float(c("u_t").abs().max())


def _fd_bound(m: int, q: int) -> float:
    """|c_m|: the leading error constant of the centred accuracy-q stencil of the m-th derivative."""
    if m == 0:
        return 0.0
    h = _half_width(m, q)
    s = np.arange(-h, h + 1)
    return abs(float((finite_difference_weights(s, m) * s.astype(float) ** (m + q)).sum())) / math.factorial(m + q)


def test_heat_2d_fd_errors_are_the_leading_truncation_terms():
    q = 6
    g = jets_from_grid(_heat(T_H, X_H, Y_H), T_H, (X_H, Y_H), HEAT_JET, method="fd", periodic=True, fd_order=q)
    assert g.n_valid == (NT - 8) * NX * NY                 # x, y wrap around; t drops 4 rows at each end
    err = (g.Z - _heat_exact(g)).abs().max(0).values
    hx, hy = g.dx
    for r in range(1, 4):
        for J in pde.multi_indices(3, r):
            a_, b, c = J
            col = HEAT_JET.index(0, J)
            bound = sum(A * (kx * kx + ky * ky) ** a_ * (_fd_bound(b, q) * hx ** q * abs(kx) ** (b + q) * abs(ky) ** c
                                                         + _fd_bound(c, q) * hy ** q * abs(kx) ** b * abs(ky) ** (c + q))
                        for A, (kx, ky), _ in MODES)
            if b + c == 0:                                   # pure t-derivatives: 6th-order FD with dt = 0.005
                assert float(err[col]) < 1e-7, (HEAT_JET.names[col], float(err[col]))
            else:                                            # measured 0.84-0.87 of the bound
                assert 0.5 * bound < float(err[col]) < 1.05 * bound, (HEAT_JET.names[col], float(err[col]), bound)


def _poly_field(seed: int = 0):
    """A random polynomial of total degree 4 in (t, x, y): (coefficients {e: c}, evaluator)."""
    gen = np.random.default_rng(seed)
    coef = {e: float(gen.normal()) for d in range(5) for e in pde.multi_indices(3, d)}

    def derivative(J, t, x, y):
        out = 0.0
        for e, cf in coef.items():
            if all(ei >= ji for ei, ji in zip(e, J)):
                f = cf * math.prod(math.factorial(ei) / math.factorial(ei - ji) for ei, ji in zip(e, J))
                out = out + f * t ** (e[0] - J[0]) * x ** (e[1] - J[1]) * y ** (e[2] - J[2])
        return out

    return derivative


def test_poly_and_fd_are_exact_for_polynomials_in_2d():
    D = _poly_field()
    t, x, y = np.linspace(0, 1, 15), np.linspace(-1, 0.5, 16), np.linspace(0.2, 1.0, 17)
    u = D((0, 0, 0), *np.meshgrid(t, x, y, indexing="ij"))
    runs = {"poly": dict(method="poly", poly_degree=4, window=(3, 2, 3)),
            "fd": dict(method="fd", fd_order=6),
            "fd one-sided": dict(method="fd", fd_order=6, boundary="one-sided")}
    for name, kw in runs.items():
        g = jets_from_grid(u, t, [x, y], HEAT_JET, **kw)
        exact = g.Z.clone()
        for r in range(4):
            for J in pde.multi_indices(3, r):
                exact[:, HEAT_JET.index(0, J)] = D(J, g.Z[:, 0], g.Z[:, 1], g.Z[:, 2])
        rel = _rel_errors(g, exact)
        assert max(rel.values()) < 1e-8, (name, rel)
        n_valid = {"poly": (15 - 6) * (16 - 4) * (17 - 6), "fd": (15 - 8) * (16 - 8) * (17 - 8),
                   "fd one-sided": 15 * 16 * 17}[name]
        assert g.n_valid == n_valid and not g.periodic, name
    assert g.options == {"fd_order": 6}
    gp = jets_from_grid(u, t, [x, y], HEAT_JET, **runs["poly"])
    assert gp.options == {"poly_degree": 4, "window": (3, 2, 3)} and gp.boundary == "drop"


def test_periodic_poly_wraps_every_spatial_axis():
    """On a periodic grid the window wraps around: the jets at the edge points equal the non-periodic jets of the
    grid rolled by the half-widths, where those points are interior."""
    u = _heat(T_H[:12], X_H, Y_H)
    w = (2, 3, 3)
    gp = jets_from_grid(u, T_H[:12], (X_H, Y_H), HEAT_JET, method="poly", periodic=True, poly_degree=4, window=w)
    assert gp.n_valid == (12 - 4) * NX * NY
    rolled = np.roll(u, (w[1], w[2]), axis=(1, 2))
    gn = jets_from_grid(rolled, T_H[:12], (X_H, Y_H), HEAT_JET, method="poly", poly_degree=4, window=w)
    b, i, j, k = gn.index.T
    at = (b * 8 + (i - 2)) * NX * NY + ((j - w[1]) % NX) * NY + (k - w[2]) % NY   # row of gp: same point of u
    diff = (gp.Z[at, 3:] - gn.Z[:, 3:]).abs().max(0).values
    assert bool((diff <= 1e-9 * gn.Z[:, 3:].abs().max(0).values).all()), diff     # round-off (u_ttt: 1e-10)


def test_batches_index_and_subsampling_in_2d():
    u = _heat(T_H[:20], X_H, Y_H)
    full = jets_from_grid(np.stack([u, -0.5 * u]), T_H[:20], (X_H, Y_H), HEAT_JET, method="spectral")
    b, i, j, k = full.index.T
    assert full.grid_shape == (2, 20, NX, NY)
    assert torch.equal(full.Z[:, 3], torch.as_tensor(np.stack([u, -0.5 * u]))[b, i, j, k])
    assert torch.allclose(full.Z[b == 1, 3:], -0.5 * full.Z[b == 0, 3:])
    one = jets_from_grid(torch.as_tensor(u), T_H[:20], [X_H, Y_H], HEAT_JET, method="spectral")
    assert one.grid_shape == (1, 20, NX, NY) and torch.equal(one.Z, full.Z[b == 0])
    sub = jets_from_grid(u, T_H[:20], (X_H, Y_H), HEAT_JET, method="spectral", n_points=300, seed=4)
    assert len(sub) == 300 and bool((sub.index[1:] >= sub.index[:-1]).any(1).all())
    assert torch.equal(sub.Z, one.Z[_rows(one, sub)])                  # rows of the full set, in grid order


def _rows(full: GridJets, sub: GridJets) -> torch.Tensor:
    """Rows of ``full`` at the grid points of ``sub`` (both in grid order)."""
    dims = torch.tensor(full.grid_shape[1:])
    strides = torch.tensor([int(torch.prod(dims[d + 1:])) for d in range(len(dims))])
    return torch.searchsorted(full.index[:, 1:] @ strides, sub.index[:, 1:] @ strides)


# --------------------------------------------------------------------------------------- two components
SYS_JET = pde.JetSpace(("t", "x"), ("u", "v"), 2)
TERMS = [(1.0, 1, 0.0, 0.0), (0.5, 2, 0.3, 0.0), (0.3, 3, -0.8, 0.5)]      # (A, k, a, b)
T_S = np.arange(81) * 0.01
X_S = np.arange(32) * 2 * math.pi / 32


def _system():
    T, X = np.meshgrid(T_S, X_S, indexing="ij")
    u = sum(A * np.cos(k * X + a) * np.cos(k * T + b) for A, k, a, b in TERMS)
    v = sum(-A * np.sin(k * X + a) * np.sin(k * T + b) for A, k, a, b in TERMS)
    return u, v


def _system_exact(g: GridJets) -> torch.Tensor:
    t, x = g.Z[:, 0], g.Z[:, 1]
    out = g.Z.clone()
    for r in range(SYS_JET.order + 1):
        for i, j in pde.multi_indices(2, r):
            out[:, SYS_JET.index("u", (i, j))] = sum(A * k ** (i + j) * torch.cos(k * x + a + j * math.pi / 2)
                                                     * torch.cos(k * t + b + i * math.pi / 2) for A, k, a, b in TERMS)
            # -sin(p) sin(q) = -cos(p - pi/2) cos(q - pi/2)
            out[:, SYS_JET.index("v", (i, j))] = sum(-A * k ** (i + j) * torch.cos(k * x + a - math.pi / 2 + j * math.pi / 2)
                                                     * torch.cos(k * t + b - math.pi / 2 + i * math.pi / 2)
                                                     for A, k, a, b in TERMS)
    return out


def test_two_components_match_the_exact_jets_in_list_and_dict_form():
    u, v = _system()
    g = jets_from_grid([u, v], T_S, X_S, SYS_JET, method="spectral", fd_order=8)
    assert g.names == SYS_JET.names and g.index.shape == (len(g), 3) and g.grid_shape == (1, 81, 32)
    assert g.n_valid == (81 - 8) * 32 and isinstance(g.dx, float)
    rel = _rel_errors(g, _system_exact(g))
    assert max(r for n, r in rel.items() if "t" not in n) < 1e-12, rel     # spectral in x
    assert max(rel.values()) < 1e-9, rel                                  # 8th-order FD in t, dt = 0.01
    for other in ({"v": v, "u": u}, (torch.as_tensor(u), torch.as_tensor(v))):
        assert torch.equal(jets_from_grid(other, T_S, X_S, SYS_JET, method="spectral", fd_order=8).Z, g.Z)
    c = g.column
    assert float((c("u_t") - c("v_x")).abs().max()) < 1e-12 and float((c("v_t") - c("u_x")).abs().max()) < 1e-12
    fd = jets_from_grid([u, v], T_S, X_S, SYS_JET, method="fd", periodic=True, fd_order=8)
    assert max(_rel_errors(fd, _system_exact(fd)).values()) < 1e-3      # 8th order in x with k dx <= 0.6


# --------------------------------------------------------------------------------------- the data route
def _heat_exact_fields():
    """The 9 generators on (t, x, y, u) of the heat equation inside degree-1 fields."""
    def field(f):
        return lambda b: torch.stack(f(b[:, 0], b[:, 1], b[:, 2], b[:, 3], torch.zeros_like(b[:, 0])), 1)

    return {"d/dt": field(lambda t, x, y, u, o: (o + 1, o, o, o)), "d/dx": field(lambda t, x, y, u, o: (o, o + 1, o, o)),
            "d/dy": field(lambda t, x, y, u, o: (o, o, o + 1, o)),
            "rotation": field(lambda t, x, y, u, o: (o, y, -x, o)),
            "scaling": field(lambda t, x, y, u, o: (2 * t, x, y, o)), "u d/du": field(lambda t, x, y, u, o: (o, o, o, u)),
            "d/du": field(lambda t, x, y, u, o: (o, o, o, o + 1)), "x d/du": field(lambda t, x, y, u, o: (o, o, o, x)),
            "y d/du": field(lambda t, x, y, u, o: (o, o, o, y))}


def test_heat_2d_data_route_recovers_the_equation_and_its_nine_symmetries():
    jet = pde.JetSpace(("t", "x", "y"), ("u",), 2)
    gj = jets_from_grid(_heat(T_H, X_H, Y_H), T_H, (X_H, Y_H), jet, method="spectral", fd_order=8)
    fit = pde.fit_equation(gj, jet, target="u_t", features=("u", "u_x", "u_y", "u_xx", "u_xy", "u_yy"), degree=1,
                           val_fraction=0.0)
    assert fit.equations() == ["u_t = 1.000 u_xx + 1.000 u_yy"] and fit.status == "ok"
    assert fit.coef is not None and fit.feature_names == ["1", "u", "u_x", "u_y", "u_xx", "u_xy", "u_yy"]
    assert float((fit.coef - torch.tensor([0, 0, 0, 0, 1.0, 0, 1.0], dtype=torch.float64)).abs().max()) < 1e-10   # 2e-14
    feq = fit.to_equation(exact=_heat_exact_fields())
    cand = pde.point_symmetry_candidates(feq, sl.PolynomialLibrary(1))
    samples = gj.Z[:: len(gj) // 400][:400]                          # spread over the grid
    res = pde.point_symmetries(feq, candidates=cand, samples=samples)
    assert res.dim == 9 and res.status == "ok" and res.gap_ratio > 1e10     # measured gap ratio 7.5e14
    assert float(pde.angles_to_exact(res, feq, cand).max()) < 1e-6
    # the first 400 rows lie on one time slice t = t_5; the prolonged fields still separate the 9
    assert pde.point_symmetries(feq, candidates=cand, samples=gj.Z[:400]).dim == 9


def test_two_component_data_route_fits_both_equations():
    u, v = _system()
    g = jets_from_grid({"u": u, "v": v}, T_S, X_S, SYS_JET, method="spectral", fd_order=8, n_points=1500, seed=0)
    feats = ("u", "v", "u_x", "v_x", "u_xx", "v_xx")
    fu = pde.fit_equation(g, SYS_JET, target="u_t", features=feats, degree=1, val_fraction=0.0)
    fv = pde.fit_equation(g, SYS_JET, target="v_t", features=feats, degree=1, val_fraction=0.0)
    assert fu.equations() == ["u_t = 1.000 v_x"] and fv.equations() == ["v_t = 1.000 u_x"]
    for f, term in ((fu, "v_x"), (fv, "u_x")):
        assert f.coef is not None
        want = torch.tensor([float(n == term) for n in f.feature_names], dtype=torch.float64)
        assert float((f.coef - want).abs().max()) < 1e-9
    # one Equation of the two fits; the default features leave out every t-derivative (evolution form)
    assert pde.default_features(SYS_JET, "u_t") == feats
    fitted = pde.system_from_fits([fu, fv], "fitted system")
    assert fitted.solve_for == ("u_t", "v_t") and "u_t" not in fitted.domain
    s = SYS_JET.coordinate
    exact = pde.Equation("u_t = v_x, v_t = u_x", SYS_JET,
                         lambda z: torch.stack([z[:, s("u_t")] - z[:, s("v_x")], z[:, s("v_t")] - z[:, s("u_x")]], 1),
                         ("u_t", "v_t"), rhs=lambda z: torch.stack([z[:, s("v_x")], z[:, s("u_x")]], 1))
    res = pde.point_symmetries(fitted, sl.PolynomialLibrary(1), samples=g.Z[::3][:400])
    ref = pde.point_symmetries(exact, sl.PolynomialLibrary(1))
    assert res.dim == ref.dim == 12 and res.status == "ok"


# --------------------------------------------------------------------------------------- bad input
def test_bad_nd_input_is_refused_with_clear_messages():
    u = _heat(T_H[:12], X_H, Y_H)
    t = T_H[:12]
    with pytest.raises(sl.DataError, match=r"x: the jet has 2 spatial variables \(x, y\); expected a tuple or list "
                                           r"of 2 grids.*got one ndarray of shape \(24,\)"):
        jets_from_grid(u, t, X_H, HEAT_JET)
    with pytest.raises(sl.DataError, match="x: the jet has 2 spatial variables .* got 3 grids"):
        jets_from_grid(u, t, (X_H, Y_H, Y_H), HEAT_JET)
    bent = Y_H.copy()
    bent[5] += 0.01
    with pytest.raises(sl.DataError, match=r"x\[1\] \(y\): the grid is not uniform.*max deviation 0\.01"):
        jets_from_grid(u, t, (X_H, bent), HEAT_JET)
    with pytest.raises(sl.DataError, match=r"x\[1\] \(y\): expected 26 grid values"):
        jets_from_grid(u, t, (X_H, Y_H[:-1]), HEAT_JET)
    with pytest.raises(ValueError, match=r"u: expected 3 or 4 dimensions \(one solution \(nt, nx, ny\) or a batch "
                                         r"\(B, nt, nx, ny\)\), got shape \(24, 26\)"):
        jets_from_grid(u[0], t, (X_H, Y_H), HEAT_JET)
    with pytest.raises(sl.DataError, match=r"x\[1\] \(y\): a y-derivative of order 3 with fd_order=6 \(drop\) needs "
                                           r"at least 9 grid points"):
        jets_from_grid(u[:, :, :8], t, (X_H, Y_H[:8]), HEAT_JET, method="fd")
    with pytest.raises(sl.SymlieError, match="spectral spatial derivatives need every spatial axis periodic"):
        jets_from_grid(u, t, (X_H, Y_H), HEAT_JET, method="spectral", periodic=False)
    with pytest.raises(ValueError, match=r"window: expected an int >= 1 or a tuple \(w_t, w_x, w_y\) of them"):
        jets_from_grid(u, t, (X_H, Y_H), HEAT_JET, method="poly", window=(3, 3))
    with pytest.raises(sl.SymlieError, match=r"window: a \(3 x 3 x 3\) window cannot determine"):
        jets_from_grid(u, t, (X_H, Y_H), HEAT_JET, method="poly", poly_degree=3, window=1)
    with pytest.raises(sl.SymlieError, match="jet: jets_from_grid needs time and at least one spatial variable"):
        jets_from_grid(u[:, 0, 0], t, (), pde.JetSpace(("t",), ("u",), 1))
    # several components
    us, vs = _system()
    with pytest.raises(sl.DataError, match=r"u: the components must share one grid, but u\[0\] \(u\) has shape "
                                           r"\(1, 81, 32\) and u\[1\] \(v\) has shape \(1, 81, 31\)"):
        jets_from_grid([us, vs[:, :-1]], T_S, X_S, SYS_JET)
    with pytest.raises(sl.DataError, match=r"u: expected a dict with exactly the dependent variables \(u, v\) as "
                                           r"keys; missing: 'v'; unknown: 'w'"):
        jets_from_grid({"u": us, "w": vs}, T_S, X_S, SYS_JET)
    with pytest.raises(sl.DataError, match=r"u: the jet has 2 dependent variables \(u, v\); expected a list or tuple "
                                           r"of 2 arrays"):
        jets_from_grid(us, T_S, X_S, SYS_JET)
    with pytest.raises(sl.DataError, match=r"u: expected 2 arrays, one per dependent variable \(u, v\), got 3"):
        jets_from_grid([us, vs, vs], T_S, X_S, SYS_JET)
    bad = vs.copy()
    bad[7, 3] = np.nan
    with pytest.raises(sl.DataError, match=r"u\[1\] \(v\): contains 1 NaN or Inf value \(of 2592\)"):
        jets_from_grid([us, bad], T_S, X_S, SYS_JET)
    with pytest.raises(sl.DataError, match=r"u\['v'\]: contains 1 NaN or Inf value"):
        jets_from_grid({"u": us, "v": bad}, T_S, X_S, SYS_JET)
