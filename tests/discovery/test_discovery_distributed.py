"""symlie.discover under torch.distributed: two gloo processes on localhost, each with half of the samples,
must both return exactly what one process returns on all samples (partial R factors are all-gathered and
re-factored for accumulate="qr", Gram matrices all-reduced for "gram"; sample counts, weights, model scale and
discrete violations are all-reduced).
"""
from __future__ import annotations

import datetime
import math
import os
import socket

import pytest
import torch

import symlie as sl
from _helpers import DT

WORLD = 2
N = 601                # odd: the two processes get 301 and 300 samples
MODES = ("qr", "gram")

dist = pytest.importorskip("torch.distributed")
pytestmark = pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()),
                                reason="torch.distributed with the gloo backend is not available")


def _samples():
    return torch.randn(N, 3, dtype=DT, generator=torch.Generator().manual_seed(0))


def _weights():
    return 0.5 + torch.rand(N, dtype=DT, generator=torch.Generator().manual_seed(1))


def _model(x):
    # rotations of the (x1, x2) plane are the only symmetry in gl(3); odd under x0 -> -x0 through x0^3
    return (x ** 2).sum(1) + 0.3 * x[:, 0] ** 3 + 0.1 * x[:, 0]


DISCRETE = {"P": -torch.eye(3, dtype=DT), "R1": torch.diag(torch.tensor([1.0, -1.0, 1.0], dtype=DT))}


def _run(X, acc, weights=None, **kw):
    return sl.discover(_model, X, sl.gl(3), accumulate=acc, discrete=DISCRETE, weights=weights, **kw)


def _summary(res):
    return {"s": res.singular_values, "coef": res.coefficients, "dim": res.dim, "n": res.n_samples,
            "disc": dict(res.discrete), "proc": res.info["processes"], "scale": res.scale,
            "name": res.identification["name"]}


def _worker(rank, world, port, out_dir):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=120))
    try:
        X, w = _samples(), _weights()
        part, wpart = X[rank::world], w[rank::world]
        out = {}
        for acc in MODES:
            out[acc] = _summary(_run(part, acc, batch_size=64))
            out[acc + "-weighted"] = _summary(_run(part, acc, weights=wpart, batch_size=50))
            # distributed=False ignores the process group: the local half only
            out[acc + "-local"] = _summary(_run(part, acc, distributed=False))
        torch.save(out, os.path.join(out_dir, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _assert_same(got, ref, acc, what):
    msg = f"{what} ({acc})"
    assert got["dim"] == ref.dim, msg
    assert got["n"] == ref.n_samples, msg
    assert got["proc"] == WORLD, msg
    assert got["name"] == ref.identification["name"], msg
    s_ref, s_got, k = ref.singular_values, got["s"], ref.rank
    # broken directions: the same RMS violations to rounding, whatever the accumulation
    torch.testing.assert_close(s_got[:k], s_ref[:k], rtol=1e-10, atol=0, msg=msg)
    # symmetric directions: rounding level; qr keeps them at ~eps, gram only at ~sqrt(eps) (documented)
    floor = 1e-13 if acc == "qr" else 3e-8
    assert float(s_got[k:].max()) < floor * float(s_ref[0]), msg
    assert float(s_ref[k:].max()) < floor * float(s_ref[0]), msg
    assert got["scale"] == pytest.approx(ref.scale, rel=1e-12), msg
    assert set(got["disc"]) == set(ref.discrete), msg
    for key, v in ref.discrete.items():
        assert got["disc"][key] == pytest.approx(v, rel=1e-12, abs=1e-15), (msg, key)
    # the same symmetry subspace (the sign / basis of the null vectors may differ)
    G = got["coef"] @ ref.coefficients.T
    assert torch.allclose(torch.linalg.svdvals(G), torch.ones(ref.dim, dtype=DT), atol=1e-7), msg


@pytest.mark.slow  # spawns two processes (each imports torch and symlie)
def test_two_gloo_processes_equal_one_process(tmp_path):
    """One spawn of two gloo processes (both accumulation modes inside): each process's result on its half of
    the samples (X[rank::2]; 301 and 300 samples, streamed in small batches) equals the single-process result
    on all samples, with and without sample weights; distributed=False inside the group uses the local half."""
    import torch.multiprocessing as mp
    mp.spawn(_worker, args=(WORLD, _free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    results = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    X, w = _samples(), _weights()
    for acc in MODES:
        ref = _run(X, acc)
        assert ref.info["processes"] == 1
        assert ref.dim == 1 and ref.identification["name"] == "so(2)"
        assert ref.discrete["R1"] < 1e-14 and ref.discrete["P"] > 0.1
        ref_w = _run(X, acc, weights=w)
        for rank in range(WORLD):
            _assert_same(results[rank][acc], ref, acc, f"rank {rank}")
            _assert_same(results[rank][acc + "-weighted"], ref_w, acc, f"rank {rank}, weighted")
            local = results[rank][acc + "-local"]
            ref_local = _run(X[rank::WORLD], acc, distributed=False)
            assert local["proc"] == 1
            assert local["n"] == ref_local.n_samples == math.ceil((N - rank) / WORLD)
            torch.testing.assert_close(local["s"], ref_local.singular_values, rtol=1e-12, atol=1e-14)
        # both processes hold bit-for-bit the same answer
        a, b = results[0][acc], results[1][acc]
        assert torch.equal(a["s"], b["s"]) and a["disc"] == b["disc"] and a["scale"] == b["scale"]
