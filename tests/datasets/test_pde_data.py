"""PDE data generated in-house (symlie.datasets.pde): ETDRK4 against exact solutions (heat, KdV soliton), its
order of convergence (KS), the time-dependent equations (nKdV, cKdV) and Cole-Hopf Burgers against the residual of
the original equation, presets, seeding, HDF5 files and bad input."""
import math
import warnings

import h5py
import numpy as np
import pytest
import torch

from _helpers import DT
from symlie.datasets import EQUATIONS, PRESETS, PDESolution, generate, load_h5, pde_residual, save_h5, solve
from symlie.datasets import pde
from symlie.utils.errors import BlowUpWarning, DataError, ResourceError, SymlieError


def _grid(L, nx):
    return torch.arange(nx, dtype=DT) * (L / nx)


def _as_solution(u, t, L, equation, nu=None):
    params = {"L": L} if nu is None else {"L": L, "nu": nu}
    return PDESolution(u.reshape(1, *u.shape[-2:]), t, _grid(L, u.shape[-1]), equation, params)


# ------------------------------------------------------------------------------------------------- ETDRK4
def test_phi_coefficients_match_closed_forms():
    # the contour mean against the closed forms where these are accurate (|z| of order 1), real and complex L
    h = 0.3
    hL = torch.tensor([-2.0, -0.7 + 0.0j, 1.5j, -1.0 + 2.0j], dtype=torch.complex128)
    E, E2, Q, f1, f2, f3 = pde._phi_coefficients(hL, h, 32)
    z = hL
    ez = torch.exp(z)
    assert torch.allclose(E, ez, rtol=1e-14) and torch.allclose(E2, torch.exp(z / 2), rtol=1e-14)
    assert torch.allclose(Q, h * (torch.exp(z / 2) - 1) / z, rtol=1e-12)
    assert torch.allclose(f1, h * (-4 - z + ez * (4 - 3 * z + z ** 2)) / z ** 3, rtol=1e-12)
    assert torch.allclose(f2, h * (2 + z + ez * (z - 2)) / z ** 3, rtol=1e-12)
    assert torch.allclose(f3, h * (-4 - 3 * z - z ** 2 + ez * (4 - z)) / z ** 3, rtol=1e-12)
    # z -> 0: the limits h/2, h/6, h/6, h/6 without cancellation
    E, E2, Q, f1, f2, f3 = pde._phi_coefficients(torch.zeros(1, dtype=torch.complex128), h, 32)
    for c, v in ((Q, h / 2), (f1, h / 6), (f2, h / 6), (f3, h / 6)):
        assert abs(complex(c[0]) - v) < 1e-15


def test_heat_matches_the_exact_fourier_solution():
    L, nx, nu = 2 * math.pi, 64, 0.3
    x = _grid(L, nx)
    u0 = torch.stack([torch.sin(x) + 0.5 * torch.cos(3 * x), torch.cos(5 * x + 1.0)])
    t = torch.linspace(0.0, 2.0, 21, dtype=DT)
    u = solve("heat", u0, t, L, nu=nu)
    exact = torch.stack([torch.exp(-nu * t)[:, None] * torch.sin(x) + 0.5 * torch.exp(-9 * nu * t)[:, None]
                         * torch.cos(3 * x), torch.exp(-25 * nu * t)[:, None] * torch.cos(5 * x + 1.0)])
    assert u.shape == (2, 21, nx) and u.dtype == DT
    assert float((u - exact).abs().max()) < 1e-13
    # the generated heat data: exact in Fourier from its own first saved step
    s = generate("heat", 2, "lienlsd", seed=4, nt=41, keep=41)
    g = pde._Grid(s.params["nx"], s.params["L"], False)
    ex = torch.fft.irfft(torch.fft.rfft(s.u[:, :1]) * torch.exp(-s.params["nu"] * g.k ** 2 * s.t[:, None]),
                         n=s.params["nx"])
    assert float((s.u - ex).abs().max()) < 1e-13 * float(s.u.abs().max())


def test_kdv_one_soliton():
    # u = 3c sech^2(sqrt(c)/2 (x - c t - x0)) on a box where the tails are below rounding
    L, nx, c, x0, T = 64.0, 256, 1.0, 30.0, 4.0                       # tails e^{-30} at the edges
    x = _grid(L, nx)

    def exact(t):
        return 3 * c / torch.cosh(math.sqrt(c) / 2 * (x - c * t - x0)) ** 2

    t = torch.linspace(0.0, T, 21, dtype=DT)
    ex = torch.stack([exact(float(ti)) for ti in t])
    errs = [float((solve("kdv", exact(0.0), t, L, substeps=n) - ex).abs().max()) / (3 * c) for n in (10, 20)]
    assert errs[0] < 1e-6                                               # internal step 0.02
    assert 12 < errs[0] / errs[1] < 20                                  # fourth order
    fine = torch.linspace(0.0, 0.5, 101, dtype=DT)
    sol = _as_solution(solve("kdv", exact(0.0), fine, L), fine, L, "kdv")
    assert float(pde_residual(sol, dealiased=True)[0]) <= float(pde_residual(sol)[0]) < 1e-6


def test_ks_fourth_order_convergence():
    L, nx, T = 22.0, 32, 2.0
    x = _grid(L, nx)
    u0 = torch.cos(2 * math.pi * x / L) * (1 + torch.sin(2 * math.pi * x / L))
    t = torch.tensor([0.0, T], dtype=DT)
    ref = solve("ks", u0, t, L, substeps=2048)[-1]
    errs = [float((solve("ks", u0, t, L, substeps=n)[-1] - ref).abs().max() / ref.abs().max())
            for n in (80, 160, 320)]                                    # h = 0.025, 0.0125, 0.00625
    ratios = [a / b for a, b in zip(errs[:-1], errs[1:])]
    # halving the step divides the error by ~16 (Cox-Matthews' mild stiff order reduction: ~12-15 here)
    assert all(10 < r < 20 for r in ratios), ratios
    assert 3.5 < math.log2(errs[0] / errs[-1]) / 2 < 4.3
    assert errs[-1] > 1e-13                                             # above rounding


# ------------------------------------------------------------------------------------------------- nKdV, cKdV
def _smooth_u0(L, nx):
    x = _grid(L, nx)
    return 0.4 * torch.sin(2 * math.pi * x / L) + 0.25 * torch.cos(4 * math.pi * x / L + 1.0)


def test_nkdv_satisfies_the_original_equation():
    # start at t = 40 (absolute), where the factor e^{t/50} is 2.2: the residual of u_t = e^{t/50} (-u u_x - u_xxx)
    L, nx = 32.0, 64
    t = torch.linspace(40.0, 40.5, 201, dtype=DT)
    u = solve("nkdv", _smooth_u0(L, nx), t, L)
    r = float(pde_residual(_as_solution(u, t, L, "nkdv"))[0])
    assert r < 1e-7
    # the same data do not solve KdV (without the factor): the test sees the time dependence
    assert float(pde_residual(_as_solution(u, t, L, "kdv"))[0]) > 0.3


def test_ckdv_satisfies_the_original_equation():
    L, nx = 32.0, 64
    t = torch.linspace(0.0, 1.0, 201, dtype=DT)
    u = solve("ckdv", _smooth_u0(L, nx), t, L)
    assert float(pde_residual(_as_solution(u, t, L, "ckdv"))[0]) < 1e-7
    assert float(pde_residual(_as_solution(u, t, L, "kdv"))[0]) > 0.3  # without the damping -u / (2 (t + 1))
    # generated (random initial data, the preset's grid), started at t = 0 as the presets are
    s = generate("ckdv", 1, "lienlsd", seed=2, nt=201, keep=201, T=0.4)
    assert float(pde_residual(s)[0]) < 1e-7


# ------------------------------------------------------------------------------------------------- Burgers
def test_burgers_cole_hopf_solves_burgers_at_small_viscosity():
    # the Ko et al. viscosity nu = 0.01: psi spans ~e^90, the Hopf (log-space) evaluation is chosen; finely saved
    # steps and a finer grid so that spectral x-derivatives and the 4th-order t-difference resolve the fronts
    s = generate("burgers", 2, "ko", seed=0, nx=1024, T=4.025, nt=1611, keep=11)
    assert s.params["cole_hopf"] == "hopf" and s.params["nu"] == 0.01
    assert float(pde_residual(s).max()) < 1e-5
    assert float(s.u.abs().max()) > 0.1


def test_burgers_hopf_and_fourier_evaluations_agree():
    kw = dict(nu=0.05, nx=128, nt=19, keep=10)
    a = generate("burgers", 3, "ko", seed=3, cole_hopf="fourier", **kw)
    b = generate("burgers", 3, "ko", seed=3, cole_hopf="hopf", **kw)
    assert float((a.u - b.u).abs().max()) < 1e-12 * float(a.u.abs().max())
    s = generate("burgers", 2, "lienlsd", seed=1, T=0.2, nt=101, keep=101)  # nu = 1: the Fourier evaluation
    assert s.params["cole_hopf"] == "fourier"
    assert float(pde_residual(s).max()) < 1e-7


def test_burgers_refuses_nonzero_mean():
    x = _grid(2 * math.pi, 32)
    with pytest.raises(SymlieError, match="u0.*zero-mean"):
        solve("burgers", 0.5 + torch.sin(x), torch.tensor([0.0, 1.0]), 2 * math.pi, nu=0.1)


# ------------------------------------------------------------------------------------------------- presets, seeds
def test_ko_preset_shapes_and_times():
    s = generate("kdv", 2, "ko", seed=0)
    assert s.u.shape == (2, 140, 256) and s.u.dtype == DT and s.t.dtype == DT and s.x.dtype == DT
    assert s.t[0].item() == pytest.approx(100 * 110 / 249) and round(s.t[0].item(), 2) == 44.18
    assert s.t[-1].item() == pytest.approx(100.0)
    assert s.params["dt"] == pytest.approx(0.4016, abs=1e-4) and s.params["L"] == 128.0
    assert float(s.x[1] - s.x[0]) == 0.5 and s.params["preset"] == "ko" and s.params["seed"] == 0
    assert bool(torch.isfinite(s.u).all()) and s.params["blowup_traj"] == []
    # the other Ko settings (parameters only: the runs are the benchmark's)
    ks, bu = PRESETS["ko"]["ks"], PRESETS["ko"]["burgers"]
    assert (ks["L"], ks["T"], ks["nt"], ks["keep"]) == (64.0, 100.0, 500, 140)
    assert ks["T"] / (ks["nt"] - 1) == pytest.approx(0.2004, abs=1e-4)
    assert (bu["L"], bu["nu"], bu["T"], bu["nt"], bu["keep"], bu["n_terms"]) == (2 * math.pi, 0.01, 18.0, 180,
                                                                                 140, 20)
    assert (PRESETS["ko"]["nkdv"]["lmin"], PRESETS["ko"]["nkdv"]["lmax"]) == (1, 2)
    assert set(PRESETS["ko"]) == set(PRESETS["lienlsd"]) == set(EQUATIONS)


def test_lienlsd_preset_shapes():
    s = generate("kdv", 3, "lienlsd", seed=0, nt=101, keep=101)
    assert s.u.shape == (3, 101, 100) and s.params["L"] == 20.0
    p = PRESETS["lienlsd"]["kdv"]
    assert (p["nx"], p["T"] / (p["nt"] - 1), p["nt"] - 1, p["n_terms"]) == (100, 0.002, 1000, 5)
    assert PRESETS["lienlsd"]["heat"]["n_terms"] == PRESETS["lienlsd"]["burgers"]["n_terms"] == 10


def test_seeded_and_prefix_stable():
    kw = dict(nt=41, keep=20)
    a = generate("ks", 3, "lienlsd", seed=5, **kw)
    b = generate("ks", 3, "lienlsd", seed=5, **kw)
    c = generate("ks", 2, "lienlsd", seed=5, **kw)
    d = generate("ks", 3, "lienlsd", seed=6, **kw)
    assert torch.equal(a.u, b.u)
    assert torch.allclose(a.u[:2], c.u, rtol=0, atol=1e-13)           # first trajectories do not depend on n_traj
    assert float((a.u - d.u).abs().max()) > 1e-2
    state = torch.random.get_rng_state()
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    generate("kdv", 1, "lienlsd", seed=0, nt=5, keep=5)
    assert torch.equal(torch.random.get_rng_state(), before)           # the global generator is not used
    torch.random.set_rng_state(state)


def test_dataset_windows_and_select():
    s = generate("heat", 3, "lienlsd", seed=0, nt=11, keep=11)
    ds = s.dataset()
    assert len(ds) == 3 and ds[1][0].shape == (11, 100) and torch.equal(ds[2][0], s.u[2])
    w = s.dataset(window=4, stride=3)                                  # starts 0, 3, 6
    assert len(w) == 9
    u, t = w[4]                                                        # trajectory 1, start 3
    assert torch.equal(u, s.u[1, 3:7]) and torch.equal(t, s.t[3:7])
    assert torch.equal(s.select([2, 0]).u, s.u[[2, 0]])
    with pytest.raises(SymlieError, match="window"):
        s.dataset(window=12)


def test_blowup_is_reported_with_the_trajectory():
    L, nx = 2 * math.pi, 32
    x = _grid(L, nx)
    u0 = torch.stack([0.01 * torch.sin(x), 200.0 * torch.sin(x)])      # the second is far too large for the step
    t = torch.linspace(0.0, 5.0, 6, dtype=DT)
    with pytest.warns(BlowUpWarning, match="trajectory 1 between"):
        u = solve("kdv", u0, t, L, substeps=1)
    assert bool(torch.isfinite(u[0]).all()) and bool(torch.isnan(u[1, -1]).all())
    sol = PDESolution(u, t, x, "kdv", {"L": L, "blowup_traj": [1], "blowup_t": [1.0]})
    with pytest.raises(DataError, match=r"\[1\]"):
        sol.dataset()
    assert len(sol.select([0]).dataset()) == 1 and sol.select([1, 0]).params["blowup_traj"] == [0]


# ------------------------------------------------------------------------------------------------- files
def test_h5_round_trip(tmp_path):
    s = generate("nkdv", 2, "lienlsd", seed=3, nt=21, keep=11)
    p = save_h5(s, tmp_path / "nkdv.h5")
    with h5py.File(p, "r") as f:
        assert f["u"].dtype == np.float32 and f.attrs["format"] == "symlie.pde" and f.attrs["format_version"] == 1
        assert f.attrs["L"] == 20.0 and f.attrs["equation"] == "nkdv"
    r = load_h5(p)
    assert r.equation == "nkdv" and r.u.dtype == DT
    assert torch.equal(r.u, s.u.float().double())                      # float32 storage
    assert float((r.u - s.u).abs().max()) <= 1e-7 * float(s.u.abs().max())
    assert torch.equal(r.t, s.t) and torch.equal(r.x, s.x)
    assert r.params == s.params
    assert all(type(r.params[k]) is type(v) for k, v in s.params.items())


def test_corrupt_or_mismatched_h5_raises_data_error(tmp_path):
    s = generate("heat", 1, "lienlsd", seed=0, nt=6, keep=6)
    good = save_h5(s, tmp_path / "good.h5")
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not an hdf5 file at all" * 10)
    trunc = tmp_path / "trunc.h5"
    trunc.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f.create_dataset("u", data=np.zeros((1, 2, 3)))
    mism = tmp_path / "mism.h5"
    mism.write_bytes(good.read_bytes())
    with h5py.File(mism, "a") as f:
        del f["t"]
        f.create_dataset("t", data=np.arange(3.0))
    for path, msg in ((junk, "not a readable HDF5"), (trunc, "not a readable HDF5"), (other, "not a symlie PDE"),
                      (mism, "nt = len"), (tmp_path / "missing.h5", "no such file")):
        with pytest.raises(DataError, match=msg) as exc:
            load_h5(path)
        assert str(path) in str(exc.value)


# ------------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, name", [
    (dict(equation="kdv2"), "equation"), (dict(n_traj=0), "n_traj"), (dict(n_traj=1.5), "n_traj"),
    (dict(L=-1.0), "L"), (dict(T=0.0), "T"), (dict(equation="burgers", nu=0.0), "nu"), (dict(nt=1), "nt"),
    (dict(keep=300), "keep"), (dict(preset="nope"), "preset"), (dict(seed=-1), "seed"), (dict(lmax=200), "lmax"),
    (dict(substeps=0), "substeps"), (dict(nu=0.1), "nu"), (dict(bogus=1), "bogus"), (dict(L=float("nan")), "L"),
    (dict(contour_points=2), "contour_points"), (dict(equation="burgers", cole_hopf="x"), "cole_hopf"),
])
def test_bad_arguments_name_the_argument(kwargs, name):
    kw = dict(equation="kdv", n_traj=1)
    kw.update(kwargs)
    with pytest.raises(SymlieError, match=name) as exc:
        generate(kw.pop("equation"), kw.pop("n_traj"), **kw)
    if name == "equation":
        assert all(e in str(exc.value) for e in EQUATIONS)               # lists the valid names


def test_memory_estimate_over_the_limit():
    with pytest.raises(ResourceError, match="n_traj=100000"):
        generate("kdv", 100000, "ko", max_bytes=10 ** 8)
    with pytest.raises(SymlieError, match="u0"):
        solve("kdv", torch.zeros(2, 2, 2), torch.tensor([0.0, 1.0]), 1.0)
    with pytest.raises(SymlieError, match="t: saved times"):
        solve("kdv", torch.zeros(8), torch.tensor([0.0, 0.0]), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        solve("kdv", torch.zeros(8), torch.tensor([0.0, 1.0]), 1.0)     # no warning for a quiet run


def test_autonomous_equations_do_not_depend_on_the_start_time():
    # kdv / ks / heat / burgers are autonomous: starting the clock at t0 only shifts the times
    L, nx = 2 * math.pi, 64
    u0 = torch.sin(_grid(L, nx)) - 0.3 * torch.cos(2 * _grid(L, nx))
    t = torch.linspace(0.0, 1.0, 6, dtype=DT)
    for eq, kw in (("kdv", {}), ("ks", {}), ("heat", {"nu": 0.1}), ("burgers", {"nu": 0.1})):
        a, b = solve(eq, u0, t, L, **kw), solve(eq, u0, t + 7.0, L, **kw)
        assert float((a - b).abs().max()) < 1e-12, eq
    a, b = solve("nkdv", u0, t, L), solve("nkdv", u0, t + 7.0, L)      # nKdV is not
    assert float((a - b).abs().max()) > 1e-3
