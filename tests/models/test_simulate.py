"""SymmetricSINDy.simulate: finite-time blow-up is a reported status with a BlowUpWarning and a shortened
trajectory; normal trajectories are unchanged (bitwise against a hand-written RK4 loop)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import symlie as sl
from _helpers import DT


def _square_model():
    """x' = x^2 (exact fit on a grid), which blows up at t = 1 / x0 from x0 > 0."""
    X = torch.linspace(-1.5, 1.5, 40, dtype=DT).reshape(-1, 1)
    model = sl.SymmetricSINDy(sl.PolynomialLibrary(2), mode="none").fit(X, X ** 2)
    assert torch.equal(model.coef_, torch.tensor([[0.0, 0.0, 1.0]], dtype=DT))
    return model


def test_rk4_blowup_stops_at_the_last_finite_state_and_reports_the_time():
    model = _square_model()
    t = np.linspace(0, 2, 201)
    with pytest.warns(sl.BlowUpWarning, match=r"left the finite range at t = 1\.03 .* stops at t = 1\.02: 103 of 201"):
        traj = model.simulate(np.array([1.0]), t)
    assert isinstance(traj, np.ndarray) and traj.shape == (103, 1) and np.isfinite(traj).all()
    info = model.simulation_
    assert info["status"] == "blow-up" and "finite-time blow-up" in info["status_reason"]
    assert info["n_times"] == 103 and info["t_end"] == t[102] and info["method"] == "rk4"
    assert 1.0 < info["t_blowup"] <= 1.1 and info["t_blowup"] == pytest.approx(t[103])
    # the rows returned are exactly those of a run that stops before the blow-up
    with warnings.catch_warnings():
        warnings.simplefilter("error", sl.BlowUpWarning)
        head = model.simulate(np.array([1.0]), t[:103])
    assert np.array_equal(head, traj) and model.simulation_["status"] == "ok"
    # before the singularity RK4 follows x = 1 / (1 - t)
    assert np.abs(traj[:81, 0] - 1 / (1 - t[:81])).max() < 1e-3


def test_rk4_blowup_time_resolves_substeps_and_keeps_torch_output():
    model = _square_model()
    t = torch.linspace(0, 2, 201, dtype=DT)
    with pytest.warns(sl.BlowUpWarning):
        traj = model.simulate(torch.tensor([1.0], dtype=DT), t, substeps=4)
    assert isinstance(traj, torch.Tensor) and traj.dtype == DT and bool(torch.isfinite(traj).all())
    info = model.simulation_
    k = info["n_times"]
    assert traj.shape == (k, 1) and k < 201 and info["t_end"] == float(t[k - 1])
    h = 0.01 / 4
    assert info["t_end"] < info["t_blowup"] <= info["t_end"] + 0.01 + 1e-12
    steps = (info["t_blowup"] - info["t_end"]) / h                 # a whole number of substeps
    assert abs(steps - round(steps)) < 1e-6 and 1 <= round(steps) <= 4
    assert 1.0 < info["t_blowup"] < 1.03                            # finer steps overshoot less


def test_solve_ivp_blowup_is_reported_near_the_singularity():
    model = _square_model()
    t = np.linspace(0, 2, 201)
    with pytest.warns(sl.BlowUpWarning, match="finite-time blow-up"):
        traj = model.simulate([1.0], t, method="RK45", rtol=1e-10, atol=1e-12)
    info = model.simulation_
    k = info["n_times"]
    assert traj.shape == (k, 1) and 95 <= k <= 101 and np.isfinite(traj).all()
    assert info["status"] == "blow-up" and info["method"] == "RK45" and info["t_end"] == t[k - 1]
    assert abs(info["t_blowup"] - 1.0) < 1e-2
    assert np.abs(traj[:91, 0] - 1 / (1 - t[:91])).max() < 1e-6


@pytest.mark.parametrize("method", ["rk4", "RK45"])
def test_normal_trajectories_are_unchanged_and_report_ok(method):
    model = _square_model()
    t = np.linspace(0, 2, 41)
    with warnings.catch_warnings():
        warnings.simplefilter("error", sl.BlowUpWarning)
        kw = {"substeps": 3} if method == "rk4" else {"rtol": 1e-10, "atol": 1e-12}
        traj = model.simulate(torch.tensor([-1.0], dtype=DT), t, method=method, **kw)
    assert model.simulation_ == {"status": "ok", "status_reason": "", "t_blowup": None, "n_times": 41,
                                 "t_end": 2.0, "method": method}
    assert traj.shape == (41, 1)
    if method == "rk4":    # bitwise the classical RK4 loop
        x = torch.tensor([[-1.0]], dtype=DT)
        ref = [x[0]]
        for i in range(40):
            h = float(t[i + 1] - t[i]) / 3
            for _ in range(3):
                k1 = model._rhs(x)
                k2 = model._rhs(x + 0.5 * h * k1)
                k3 = model._rhs(x + 0.5 * h * k2)
                k4 = model._rhs(x + h * k3)
                x = x + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
            ref.append(x[0])
        assert torch.equal(traj, torch.stack(ref))
    assert float((traj[:, 0] + 1 / (1 + torch.from_numpy(t))).abs().max()) < 1e-5   # x = -1 / (1 + t)


def test_a_single_time_returns_x0():
    model = _square_model()
    out = model.simulate([2.0], [0.5])
    assert out.shape == (1, 1) and out[0, 0] == 2.0 and model.simulation_["t_end"] == 0.5
