"""Tests of symlie.nn.node (NeuralODE, ode_rollout, ode_rollout_mse, train_neural_ode).

Ground truth: a linear field x' = A x, whose flow is the matrix exponential (torch.linalg.matrix_exp), and the
rollout MSE written out by hand. Training is checked for what the Trainer promises (selection on validation with
the best state restored, seeded reproducibility, bit-for-bit resume from a checkpoint) with the ADMM promotion
hooked in (its update after every optimizer step, its Z / U buffers checkpointed), and an extra regularizer term
(the logged loss is the sum of the logged terms).
"""
from __future__ import annotations

import math

import pytest
import torch

import symlie as sl
from symlie.nn import NeuralODE, ode_rollout, ode_rollout_mse, train_neural_ode
from symlie.promote import ADMMPenalty, layer_operator
from symlie.utils.errors import DataError, SymlieError
from _helpers import DT, randn

TIMES = torch.tensor([0.0, 0.2, 0.4, 0.6, 0.8], dtype=DT)


class LinField(torch.nn.Module):
    """x' = W x on R^n, with the parameter-form operator of a vector field of a linear action (outputs transform
    like the inputs: L_xi W = W X - X W)."""

    def __init__(self, n=4, W=None):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(n, n, dtype=DT) if W is None else W.clone())

    def forward(self, x):
        return x @ self.weight.T

    def operator(self, candidates):
        G = sl.as_group(candidates)
        return layer_operator(self.weight, None, candidates, sl.V(G), sl.V(G))


def _A():
    """A rotation in the (x0, x1) plane plus a decay of x2, x3: equivariant under so(2) on (x0, x1) only."""
    A = torch.zeros(4, 4, dtype=DT)
    A[0, 1], A[1, 0] = -1.0, 1.0
    A[2, 2], A[3, 3], A[2, 3] = -0.5, -0.3, 0.4
    return A


def _chunks(A, n, seed):
    x0 = randn(n, 4, seed=seed)
    states = [x0 @ torch.linalg.matrix_exp(A * float(t)).T for t in TIMES]
    return torch.stack(states, 1)                                          # (n, 5, 4)


def test_neural_ode_of_a_linear_field_is_the_matrix_exponential():
    A = _A()
    chunks = _chunks(A, 6, seed=0)
    node = NeuralODE(LinField(4, A), step_size=0.01)
    pred = node(chunks[:, 0], TIMES)
    assert pred.shape == (6, 4, 4)
    assert torch.allclose(pred, chunks[:, 1:], atol=1e-9)
    # non-uniform times, the default step rule, and absolute times (only differences matter)
    t = torch.tensor([1.0, 1.05, 1.3, 1.9], dtype=DT)
    x0 = randn(3, 4, seed=1)
    exact = torch.stack([x0 @ torch.linalg.matrix_exp(A * float(s - t[0])).T for s in t[1:]], 1)
    assert torch.allclose(NeuralODE(LinField(4, A), step_size=0.005)(x0, t), exact, atol=1e-9)
    assert torch.allclose(NeuralODE(LinField(4, A))(x0, t), exact, atol=1e-4)
    # the rollout helper: no graph, model mode restored
    node.train()
    out = ode_rollout(node, chunks[:, 0], TIMES)
    assert not out.requires_grad and node.training and torch.equal(out, pred.detach())


def test_adaptive_torchdiffeq_method():
    pytest.importorskip("torchdiffeq")
    A = _A()
    chunks = _chunks(A, 4, seed=2)
    node = NeuralODE(LinField(4, A), method="dopri5", rtol=1e-10, atol=1e-12)
    assert torch.allclose(node(chunks[:, 0], TIMES), chunks[:, 1:], atol=1e-8)
    with pytest.raises(SymlieError, match="step_size"):
        NeuralODE(LinField(4, A), method="dopri5", step_size=0.1)(chunks[:, 0], TIMES)


def test_rollout_mse_is_the_hand_computation():
    A = _A()
    chunks = _chunks(A, 7, seed=3)
    exact = NeuralODE(LinField(4, A), step_size=0.005)
    assert float(ode_rollout_mse(exact, chunks, TIMES).max()) < 1e-18
    wrong = NeuralODE(LinField(4, 0.5 * A), step_size=0.01)
    mse = ode_rollout_mse(wrong, chunks, TIMES, batch_size=3)
    pred = wrong(chunks[:, 0], TIMES).detach()
    assert mse.dtype == DT and mse.shape == (7,)
    assert torch.allclose(mse, ((pred - chunks[:, 1:]) ** 2).mean((1, 2)), rtol=1e-12)


def _setup(gamma=1e-3):
    field = LinField(4)
    node = NeuralODE(field, step_size=0.1)
    so2 = _so2_on_4()
    admm = ADMMPenalty(lambda: field.operator(so2), field.parameters(), gamma=gamma)
    return field, node, admm


def _so2_on_4():
    """so(2) rotating (x0, x1) inside gl(4)."""
    X = torch.zeros(4, 4, dtype=DT)
    X[0, 1], X[1, 0] = -1.0, 1.0
    return sl.LieAlgebra(X / math.sqrt(2), name="so(2) on (x0, x1)")


def test_training_selects_on_validation_with_the_promotion_hooked_in():
    A = _A()
    train, val = _chunks(A, 32, seed=4), _chunks(A, 16, seed=5)
    field, node, admm = _setup()
    before = float(ode_rollout_mse(node, val, TIMES).mean())
    res = train_neural_ode(node, train, val, times=TIMES, epochs=4, batch_size=8, lr=5e-2, promotion=admm,
                           progress=False, seed=0)
    assert res.status == "completed" and res.selected_on == "val" and res.steps == 16
    assert res.best_val < 0.2 * before
    assert math.isclose(res.best_val, float(ode_rollout_mse(node, val, TIMES).mean()), rel_tol=1e-10)
    assert set(res.history[-1]["terms"]) == {"mse", "penalty"}
    assert int(admm.n_calls) == res.steps == len(admm.history)           # update() after every step
    assert all(math.isfinite(h["terms"]["penalty"]) and h["terms"]["penalty"] >= 0 for h in res.history)
    # reproducible from the seed; without promotion the loss is the plain MSE
    field2, node2, admm2 = _setup()
    res2 = train_neural_ode(node2, train, val, times=TIMES, epochs=4, batch_size=8, lr=5e-2, promotion=admm2,
                            progress=False, seed=0)
    assert torch.equal(field.weight, field2.weight) and [h["val"] for h in res.history] == \
        [h["val"] for h in res2.history]
    plain = train_neural_ode(LinField(4), train, None, times=TIMES, epochs=1, batch_size=16, progress=False)
    assert plain.selected_on == "train_loss" and plain.history[0]["terms"] == {}


def test_resume_with_promotion_is_bit_for_bit(tmp_path):
    A = _A()
    train, val = _chunks(A, 24, seed=6), _chunks(A, 8, seed=7)
    kw = dict(times=TIMES, batch_size=8, lr=5e-2, progress=False, seed=1)
    f_full, n_full, a_full = _setup()
    train_neural_ode(n_full, train, val, epochs=3, promotion=a_full, **kw)
    f1, n1, a1 = _setup()
    ck = tmp_path / "node.pt"
    train_neural_ode(n1, train, val, epochs=1, promotion=a1, checkpoint=ck, **kw)
    f2, n2, a2 = _setup()
    res = train_neural_ode(n2, train, val, epochs=3, promotion=a2, resume_from=ck, **kw)
    assert res.start_epoch == 1 and res.epochs_run == 3
    assert torch.equal(f_full.weight, f2.weight)
    assert torch.equal(a_full.Z, a2.Z) and torch.equal(a_full.U, a2.U) and int(a_full.n_calls) == int(a2.n_calls)


def test_regularizer_is_added_to_the_loss_and_logged():
    """An extra loss term (e.g. NuclearNormPenalty on a network without a parameter-form operator): added to the
    MSE of every step and logged; a strong weight decay through it ends with smaller weights than without."""
    A = _A()
    train, val = _chunks(A, 16, seed=12), _chunks(A, 8, seed=13)
    kw = dict(times=TIMES, epochs=3, batch_size=8, lr=5e-2, progress=False, seed=0)
    free = LinField(4)
    train_neural_ode(NeuralODE(free, step_size=0.1), train, val, **kw)
    field = LinField(4)
    reg = lambda: 10.0 * (field.weight ** 2).sum()  # noqa: E731
    res = train_neural_ode(NeuralODE(field, step_size=0.1), train, val, regularizer=reg, **kw)
    assert set(res.history[-1]["terms"]) == {"mse", "regularizer"}
    for h in res.history:
        assert math.isclose(h["train_loss"], h["terms"]["mse"] + h["terms"]["regularizer"], rel_tol=1e-9)
    assert float(field.weight.detach().norm()) < 0.5 * float(free.weight.detach().norm())
    # with the promotion as well: three terms
    f2, n2, a2 = _setup()
    res2 = train_neural_ode(n2, train, val, promotion=a2, regularizer=lambda: (f2.weight ** 2).sum(), **kw)
    assert set(res2.history[-1]["terms"]) == {"mse", "penalty", "regularizer"}
    with pytest.raises(TypeError, match="regularizer: expected a callable"):
        train_neural_ode(NeuralODE(LinField(4)), train, val, regularizer=1.0, **kw)
    bad = LinField(4)
    with pytest.raises(SymlieError, match=r"regularizer: expected a scalar tensor, got \(4, 4\)"):
        train_neural_ode(NeuralODE(bad), train, val, regularizer=lambda: bad.weight, **kw)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_training_on_cuda():
    A = _A()
    train, val = _chunks(A, 16, seed=8), _chunks(A, 8, seed=9)
    field, node, admm = _setup()
    res = train_neural_ode(node, train, val, times=TIMES, epochs=2, batch_size=8, lr=5e-2, promotion=admm,
                           progress=False, device="cuda")
    assert res.status == "completed" and field.weight.device.type == "cuda" and admm.Z.device.type == "cuda"


def test_bad_input_is_named():
    A = _A()
    train, val = _chunks(A, 8, seed=10), _chunks(A, 4, seed=11)
    node = NeuralODE(LinField(4), step_size=0.1)
    with pytest.raises(DataError, match="train_chunks: expected chunks of shape"):
        train_neural_ode(node, train[:, 0], val, times=TIMES, epochs=1, progress=False)
    with pytest.raises(DataError, match="times: 4 times for train_chunks of 5 states"):
        train_neural_ode(node, train, val, times=TIMES[:4], epochs=1, progress=False)
    bad = train.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(DataError, match="train_chunks: contains 1 NaN"):
        train_neural_ode(node, bad, val, times=TIMES, epochs=1, progress=False)
    with pytest.raises(DataError, match="val_chunks: states have 3 components"):
        train_neural_ode(node, train, val[..., :3], times=TIMES, epochs=1, progress=False)
    other = LinField(4)
    foreign = ADMMPenalty(lambda: other.operator(_so2_on_4()), other.parameters(), gamma=1.0)
    with pytest.raises(SymlieError, match="promotion: its parameters are not"):
        train_neural_ode(node, train, val, times=TIMES, epochs=1, progress=False, promotion=foreign)
    with pytest.raises(TypeError, match="promotion: expected"):
        train_neural_ode(node, train, val, times=TIMES, epochs=1, progress=False, promotion=object())
    with pytest.raises(SymlieError, match="lr"):
        train_neural_ode(node, train, val, times=TIMES, epochs=1, progress=False, lr=-1.0)
    with pytest.raises(SymlieError, match="times: expected at least two strictly increasing"):
        node(train[:, 0], torch.tensor([0.0, 0.2, 0.1], dtype=DT))
    with pytest.raises(SymlieError, match="z0: expected initial states"):
        node(train[0, 0], TIMES)
    with pytest.raises(SymlieError, match="step_size"):
        NeuralODE(LinField(4), step_size=0.0)
    with pytest.raises(TypeError, match="model: expected a NeuralODE"):
        train_neural_ode("field", train, val, times=TIMES, epochs=1, progress=False)
