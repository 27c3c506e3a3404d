"""The FNO1d solver (symlie.nn.fno) and its training / evaluation (symlie.nn.solver): the spectral layer against
the DFT, shift equivariance, rollout, the NMSE protocols against exact and hand-computed cases, the bootstrap,
a tiny seeded training run, save / load and the error messages."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import Dataset

from symlie import DataError, SymlieError
from symlie.nn import (FNO1d, SpectralConv1d, UnrolledNMSE, bootstrap_interval, load_solver, rollout, save_solver,
                       single_time_nmse, train_solver, unrolled_nmse)

DT = torch.float64


# ------------------------------------------------------------------------------------------ fixtures
def waves(n: int, nt: int, nx: int, seed: int, dtype=torch.float32) -> torch.Tensor:
    """Travelling waves u(t, x) = f(x - c t), c one grid step per time step: u[:, t] = roll(f, t) (B, nt, nx);
    f a random trigonometric polynomial of modes 1..3 plus a constant offset (so no snapshot is zero)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.arange(nx, dtype=DT) * (2 * math.pi / nx)
    a, b = torch.randn(n, 3, 1, generator=g, dtype=DT), torch.randn(n, 3, 1, generator=g, dtype=DT)
    k = torch.arange(1, 4, dtype=DT)[None, :, None]
    f = (a * torch.cos(k * x) + b * torch.sin(k * x)).sum(1) + 0.5          # (n, nx)
    return torch.stack([torch.roll(f, t, dims=-1) for t in range(nt)], dim=1).to(dtype)


class Windows(Dataset):
    """All (x (history, nx), y (future, nx)) windows of trajectories u (B, nt, nx)."""

    def __init__(self, u: torch.Tensor, history: int, future: int):
        self.u, self.h, self.f = u, history, future
        self.per = u.shape[1] - history - future + 1
        self.n = u.shape[0] * self.per if self.per > 0 else 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        b, s = divmod(int(i), self.per)
        return self.u[b, s:s + self.h], self.u[b, s + self.h:s + self.h + self.f]


class RollSolver(nn.Module):
    """The exact solver of the travelling waves (one grid step per time step), times ``alpha``:
    output step k = alpha * roll(last input step, k). Declares ``history`` and ``future``."""

    def __init__(self, history: int, future: int, alpha: float = 1.0, lag: int = 0):
        super().__init__()
        self.history, self.future, self.alpha, self.lag = history, future, alpha, lag

    def forward(self, u):
        last = u[:, -1]
        return self.alpha * torch.stack([torch.roll(last, self.lag + k, dims=-1)
                                         for k in range(1, self.future + 1)], dim=1)


def rn(*shape, dtype=torch.float32, seed=0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def tiny(**kw) -> FNO1d:
    cfg = dict(history=4, future=4, width=12, modes=6, depth=2, proj=16)
    cfg.update(kw)
    return FNO1d(**cfg)


# ------------------------------------------------------------------------------------------ the layers
def test_shapes_config_and_dtypes():
    m = FNO1d()
    assert (m.history, m.future, m.width, m.modes, m.depth, m.proj) == (20, 20, 64, 16, 4, 128)
    assert m(torch.zeros(2, 20, 64)).shape == (2, 20, 64)
    small = tiny(future=3)
    for nx in (10, 33):                                  # nx is free as long as modes <= nx // 2 + 1
        assert small(rn(5, 4, nx)).shape == (5, 3, nx)
    again = FNO1d(**small.config())
    assert all(torch.equal(a, b) for a, b in zip(small.state_dict().values(), again.state_dict().values()))
    d = tiny(dtype=torch.float64)
    y = d(rn(2, 4, 16, dtype=DT))
    assert y.dtype == DT and d.config()["dtype"] == "float64"
    sc = SpectralConv1d(3, 5, 4)
    assert sc.weight.shape == (3, 5, 4, 2) and sc(rn(2, 3, 8)).shape == (2, 5, 8)
    assert "spectral.0.weight" in small.state_dict()
    state = torch.get_rng_state()
    tiny(seed=3)
    assert torch.equal(state, torch.get_rng_state())     # seeded initialisation leaves the global RNG alone


def test_spectral_conv_single_mode_is_the_analytic_multiplier():
    """One retained mode k with weight a + ib maps cos(2 pi k j / N) to a cos - b sin (the complex multiplier),
    and the DC mode maps a constant c to a c (the imaginary part of mode 0 is dropped by irfft)."""
    N, k, a, b = 16, 3, 0.7, -1.3
    sc = SpectralConv1d(1, 1, k + 1, dtype=DT)
    with torch.no_grad():
        sc.weight.zero_()
        sc.weight[0, 0, k] = torch.tensor([a, b], dtype=DT)
    theta = 2 * math.pi * k * torch.arange(N, dtype=DT) / N
    y = sc(torch.cos(theta)[None, None])[0, 0]
    assert torch.allclose(y, a * torch.cos(theta) - b * torch.sin(theta), atol=1e-14)
    y2 = sc(torch.sin(theta)[None, None])[0, 0]           # sin = Re(-i e^{i theta}) -> Re(-i w e^{i theta})
    assert torch.allclose(y2, a * torch.sin(theta) + b * torch.cos(theta), atol=1e-14)
    assert sc(torch.cos(2 * theta)[None, None]).abs().max() < 1e-14     # other modes are dropped
    with torch.no_grad():
        sc.weight.zero_()
        sc.weight[0, 0, 0] = torch.tensor([a, b], dtype=DT)
    assert torch.allclose(sc(torch.full((1, 1, N), 2.0, dtype=DT)), torch.full((1, 1, N), 2.0 * a, dtype=DT),
                          atol=1e-14)


@pytest.mark.parametrize("N", [12, 15])
def test_spectral_conv_equals_the_direct_dft(N):
    """y_o = (1/N) sum_{m=-(M-1)}^{M-1} e^{2 pi i m j / N} Y_m with Y_m = sum_i X_{i,m} W_{i,o,m} for 0 <= m < M,
    Y_{-m} = conj(Y_m), X the explicit DFT sum; the imaginary part of Y_0 (and of the Nyquist mode) is dropped."""
    cin, cout, M = 3, 2, N // 2 + 1                       # all modes, including Nyquist for even N
    g = torch.Generator().manual_seed(0)
    sc = SpectralConv1d(cin, cout, M, dtype=DT, generator=g)
    x = torch.randn(4, cin, N, generator=g, dtype=DT)
    j = torch.arange(N, dtype=DT)
    m = torch.arange(M, dtype=DT)
    F = torch.exp(-2j * math.pi * m[:, None] * j[None, :] / N)           # (M, N) DFT rows
    X = torch.einsum("bij,mj->bim", x.to(torch.complex128), F)
    W = torch.complex(sc.weight[..., 0], sc.weight[..., 1]).detach()
    Y = torch.einsum("bim,iom->bom", X, W)
    y = torch.zeros(4, cout, N, dtype=DT)
    for mm in range(M):
        phase = torch.exp(2j * math.pi * mm * j / N)
        if mm == 0 or (N % 2 == 0 and mm == N // 2):
            y += (Y[:, :, mm].real[..., None] * phase.real) / N
        else:
            y += 2 * (Y[:, :, mm][..., None] * phase).real / N
    assert torch.allclose(sc(x), y, atol=1e-12)


def test_fno_commutes_with_cyclic_shifts():
    g = torch.Generator().manual_seed(1)
    m = tiny(dtype=DT, seed=1)
    u = torch.randn(3, 4, 24, generator=g, dtype=DT)
    y = m(u)
    for s in (1, 5, 17):
        assert torch.allclose(m(torch.roll(u, s, dims=-1)), torch.roll(y, s, dims=-1), atol=1e-12)
    m32 = tiny()
    assert torch.allclose(m32(torch.roll(u.float(), 3, -1)), torch.roll(m32(u.float()), 3, -1), atol=1e-5)


# ------------------------------------------------------------------------------------------ rollout, metrics
def test_rollout_is_repeated_calls_and_truncates_the_last_window():
    m = tiny(history=4, future=3, dtype=DT, seed=2)
    u0 = torch.randn(2, 4, 16, generator=torch.Generator().manual_seed(2), dtype=DT)
    with torch.no_grad():
        p1 = m(u0)
        p2 = m(torch.cat([u0, p1], 1)[:, -4:])
        out = rollout(m, u0, 6)
        assert torch.equal(out, torch.cat([p1, p2], 1))
        assert torch.equal(rollout(m, u0, 5), out[:, :5])  # 5 = 3 + 2: the second window is truncated
        assert torch.equal(rollout(m, u0, 2), p1[:, :2])


def test_unrolled_nmse_is_zero_for_the_exact_solver():
    u = waves(5, 40, 32, seed=3, dtype=DT)
    r = unrolled_nmse(RollSolver(4, 4), u, start=4, steps=36, batch_size=2)
    assert isinstance(r, UnrolledNMSE) and r.nmse_sum.shape == (5,) and r.per_step.shape == (36,)
    assert r.nmse_sum.abs().max() < 1e-24 and r.steps == 36 and r.history == 4
    r2 = unrolled_nmse(RollSolver(3, 5), u, start=10, history=3, steps=23)    # history != future, truncation
    assert r2.nmse_sum.abs().max() < 1e-24


def test_unrolled_nmse_equals_the_hand_computation():
    """alpha * exact with history = future: window w predicts alpha^w u, so every step of window w has the
    normalised error (alpha^w - 1)^2 whatever u is; nmse_sum = F sum_w (alpha^w - 1)^2."""
    alpha, F, windows = 1.1, 4, 3
    u = waves(6, 4 + F * windows, 16, seed=4, dtype=DT)
    r = unrolled_nmse(RollSolver(4, F, alpha=alpha), u, start=4, steps=F * windows, batch_size=4)
    per_window = torch.tensor([(alpha ** w - 1) ** 2 for w in range(1, windows + 1)], dtype=DT)
    assert torch.allclose(r.per_step, per_window.repeat_interleave(F), rtol=1e-12)
    assert torch.allclose(r.nmse_sum, torch.full((6,), F * float(per_window.sum()), dtype=DT), rtol=1e-12)
    assert torch.allclose(r.nmse_mean, r.nmse_sum / (F * windows), rtol=1e-14)
    assert math.isclose(r.mean(), F * float(per_window.sum()), rel_tol=1e-12)


def test_single_time_nmse():
    u = waves(5, 40, 16, seed=5, dtype=DT)
    # predict u[:, 30] from u[:, 10:20]: a roll by 30 - 19 = 11 steps from the last input step
    exact = RollSolver(10, 1, lag=10)
    e = single_time_nmse(exact, u, start=20, history=10, target=30)
    assert e.shape == (5,) and e.abs().max() < 1e-24
    e2 = single_time_nmse(RollSolver(10, 1, alpha=0.8, lag=10), u, start=20, target=30, batch_size=2)
    assert torch.allclose(e2, torch.full((5,), 0.04, dtype=DT), rtol=1e-12)
    with pytest.raises(SymlieError, match="model"):
        single_time_nmse(RollSolver(10, 2), u, start=20, target=30)


def test_bootstrap_interval_contains_the_mean_and_is_seeded():
    v = torch.randn(200, generator=torch.Generator().manual_seed(6), dtype=DT) + 3.0
    state = torch.get_rng_state()
    mean, lo, hi = bootstrap_interval(v)
    assert torch.equal(state, torch.get_rng_state())
    assert math.isclose(mean, float(v.mean()), rel_tol=1e-15) and lo < mean < hi
    assert 0.1 < hi - lo < 0.4                              # ~ 2 * 1.96 / sqrt(200) = 0.28
    assert bootstrap_interval(v) == (mean, lo, hi)
    assert bootstrap_interval(v, seed=1) != (mean, lo, hi)
    _, lo90, hi90 = bootstrap_interval(v, level=0.9)
    assert lo < lo90 < hi90 < hi
    assert bootstrap_interval([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    with pytest.raises(SymlieError, match="level"):
        bootstrap_interval(v, level=1.0)
    with pytest.raises(SymlieError, match="values"):
        bootstrap_interval([])


# ------------------------------------------------------------------------------------------ training
def _data():
    train = Windows(waves(8, 16, 32, seed=7), 4, 4)        # 8 trajectories x 9 windows = 72
    val = waves(4, 12, 32, seed=8)
    return train, val


VAL_KW = {"start": 4, "steps": 8}


def test_tiny_training_improves_validation_and_is_reproducible(tmp_path):
    train, val = _data()
    assert len(train) == 72
    before = unrolled_nmse(tiny(), val, **VAL_KW).mean()
    runs = []
    for _ in range(2):
        m = tiny()
        res = train_solver(m, train, val, epochs=2, batch_size=8, lr=1e-2, progress=False, val_kw=VAL_KW)
        runs.append((m, res))
    (m1, r1), (m2, r2) = runs
    assert r1.status == "completed" and r1.selected_on == "val" and r1.epochs_run == 2 and r1.steps == 18
    assert r1.best_val < 0.25 * before and r1.history[1]["val"] < r1.history[0]["val"]
    assert math.isclose(r1.best_val, unrolled_nmse(m1, val, **VAL_KW).mean(), rel_tol=1e-6)   # best state restored
    assert [h["lr"] for h in r1.history] == pytest.approx([1e-2, 1e-2 * 0.4])   # default milestones: [1] of 2
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert [h["val"] for h in r1.history] == [h["val"] for h in r2.history]
    # a single-time validation protocol and the (X, Y) tensor form of the data
    X = torch.stack([train[i][0] for i in range(len(train))])
    Y = torch.stack([train[i][1][:1] for i in range(len(train))])
    r3 = train_solver(tiny(future=1), (X, Y), val, epochs=1, batch_size=16, progress=False, val_protocol="single",
                      val_kw={"start": 4, "target": 4})
    assert r3.status == "completed" and math.isfinite(r3.best_val)


class EpochWindows(Windows):
    """Windows that record the epochs announced by the trainer (``set_epoch``, as augmented datasets have)."""

    def __init__(self, *args):
        super().__init__(*args)
        self.epochs = []

    def set_epoch(self, epoch):
        self.epochs.append(epoch)


def test_resume_continues_bit_for_bit_and_datasets_see_the_epoch(tmp_path):
    train, val = _data()
    full = tiny()
    train = EpochWindows(train.u, 4, 4)
    train_solver(full, train, val, epochs=2, batch_size=16, progress=False, val_kw=VAL_KW)
    assert train.epochs == [1, 2]
    first = tiny()
    ck = tmp_path / "ck.pt"
    train_solver(first, train, val, epochs=1, batch_size=16, progress=False, val_kw=VAL_KW, checkpoint=ck,
                 milestones=[1])
    resumed = tiny()
    train.epochs.clear()
    res = train_solver(resumed, train, val, epochs=2, batch_size=16, progress=False, val_kw=VAL_KW,
                       resume_from=ck, milestones=[1])
    assert res.start_epoch == 1 and res.epochs_run == 2 and train.epochs == [2]
    assert all(torch.equal(a, b) for a, b in zip(full.state_dict().values(), resumed.state_dict().values()))


def test_training_input_errors_name_the_argument():
    train, val = _data()
    with pytest.raises(DataError, match="train_data"):
        train_solver(tiny(), Windows(val[:, :5], 4, 4), val, epochs=1, progress=False, val_kw=VAL_KW)
    bad = val.clone()
    bad[1, 3, 7] = float("nan")
    with pytest.raises(DataError, match="val_u.*NaN"):
        train_solver(tiny(), train, bad, epochs=1, progress=False, val_kw=VAL_KW)
    with pytest.raises(DataError, match=r"val_u: has nt = 12.*start = 20 \+ steps = 100.*nt >= 120"):
        train_solver(tiny(), train, val, epochs=1, progress=False)           # default protocol: 100 steps
    with pytest.raises(DataError, match=r"train_data.*model.future = 3"):
        train_solver(tiny(future=3), train, val, epochs=1, progress=False, val_kw=VAL_KW)

    class Wrong(nn.Module):                                   # declares nothing, returns too few steps
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(4, 4)

        def forward(self, u):
            return self.lin(u.transpose(1, 2)).transpose(1, 2)[:, :2]

    with pytest.raises(SymlieError, match=r"model: .*\(8, 2, 32\).*targets y \(8, 4, 32\)"):
        train_solver(Wrong(), train, val, epochs=1, batch_size=8, progress=False, val_kw={"start": 4, "steps": 4})
    with pytest.raises(SymlieError, match="milestones"):
        train_solver(tiny(), train, val, epochs=3, milestones=[0, 2], progress=False, val_kw=VAL_KW)
    with pytest.raises(SymlieError, match="val_kw.*target"):
        train_solver(tiny(), train, val, epochs=1, progress=False, val_kw={"target": 5})
    with pytest.raises(SymlieError, match="val_protocol"):
        train_solver(tiny(), train, val, epochs=1, progress=False, val_protocol="mean")


def test_forward_and_metric_input_errors_name_the_argument():
    m = tiny()
    with pytest.raises(SymlieError, match=r"u: expected shape \(batch, history = 4, nx\), got \(2, 5, 16\)"):
        m(torch.zeros(2, 5, 16))
    with pytest.raises(SymlieError, match=r"u: expected shape"):
        m(torch.zeros(4, 16))
    with pytest.raises(TypeError, match=r"u: has dtype torch.float64.*float32"):
        m(torch.zeros(2, 4, 16, dtype=DT))
    with pytest.raises(SymlieError, match=r"u: a grid of nx = 8 .* modes = 6"):
        m(torch.zeros(2, 4, 8))
    with pytest.raises(SymlieError, match=r"x: a grid of nx = 4"):
        SpectralConv1d(2, 2, 4)(torch.zeros(1, 2, 4))
    u = waves(3, 10, 16, seed=9)
    with pytest.raises(DataError, match=r"u: has nt = 10.*nt >= 24"):
        unrolled_nmse(m, u, start=4, steps=20)
    with pytest.raises(SymlieError, match="history: is 5, but model.history = 4"):
        unrolled_nmse(m, u, start=5, history=5, steps=2)
    with pytest.raises(SymlieError, match="start"):
        unrolled_nmse(m, u, start=2, steps=2)
    z = u.clone()
    z[1, 6] = 0.0
    with pytest.raises(DataError, match="u: trajectory 1 is identically zero at time step 6"):
        unrolled_nmse(m, z, start=4, steps=4)
    with pytest.raises(SymlieError, match="u0"):
        rollout(m, torch.zeros(2, 3, 16), 4)


# ------------------------------------------------------------------------------------------ files
def test_save_load_round_trip(tmp_path):
    for dtype in (torch.float32, DT):
        m = tiny(dtype=dtype, seed=4, final_activation=True)
        with torch.no_grad():
            m.spectral[0].weight.add_(0.5)                     # a state that differs from the initialisation
        p = save_solver(m, tmp_path / f"fno_{dtype}")
        assert p.suffix == ".pt" and p.is_file()
        back = load_solver(p)
        assert back.config() == m.config() and back.dtype == dtype
        u = rn(2, 4, 16, dtype=dtype)
        assert torch.equal(back(u), m(u))
    unseeded = tiny(seed=None)
    p = save_solver(unseeded, tmp_path / "unseeded.pt")
    state = torch.get_rng_state()
    back = load_solver(p)
    assert torch.equal(state, torch.get_rng_state()) and back.config() == unseeded.config()


def test_load_refuses_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_solver(tmp_path / "absent.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torch file")
    with pytest.raises(DataError, match=r"junk\.pt.*not a readable"):
        load_solver(junk)
    good = save_solver(tiny(), tmp_path / "good.pt")
    cut = tmp_path / "cut.pt"
    cut.write_bytes(good.read_bytes()[:200])
    with pytest.raises(DataError, match=r"cut\.pt"):
        load_solver(cut)
    d = torch.load(good, weights_only=True)
    for name, change, msg in [("gen", {"format": "symlie.GeneratorMLP"}, "expected 'symlie.FNO1d'"),
                              ("new", {"version": 99}, "newer symlie"),
                              ("wrongcfg", {"config": {**d["config"], "width": 13}}, "does not match"),
                              ("badkey", {"config": {**d["config"], "layers": 3}}, "does not match")]:
        f = tmp_path / f"{name}.pt"
        torch.save({**d, **change}, f)
        with pytest.raises(DataError, match=rf"{name}\.pt.*{msg}"):
            load_solver(f)
    f = tmp_path / "nostate.pt"
    torch.save({k: v for k, v in d.items() if k != "state_dict"}, f)
    with pytest.raises(DataError, match=r"nostate\.pt.*missing 'state_dict'"):
        load_solver(f)
    f = tmp_path / "headerless.pt"
    torch.save({"config": d["config"], "state_dict": d["state_dict"]}, f)
    with pytest.raises(DataError, match=r"headerless\.pt.*no format tag"):
        load_solver(f)
    with pytest.raises(TypeError, match="model"):
        save_solver(RollSolver(4, 4), tmp_path / "roll.pt")
