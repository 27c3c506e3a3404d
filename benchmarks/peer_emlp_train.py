"""Train EMLP's own objax models on data handed over by a symlie benchmark (run inside ``.venv-emlp``).

Never imported by symlie or its tests: ``benchmarks/bench_emlp_tasks.py --peer`` writes the standardized data
of one (task, N) to an ``.npz`` file and runs

    .venv-emlp/bin/python benchmarks/peer_emlp_train.py JOB.npz OUT.json

where the job file holds ``Xtr, Ytr, Xte, Yte`` (float32, standardized as by ``symlie.datasets``), ``y_std``,
and the JSON-encoded settings ``task, group, model, seeds, epochs, channels, lr``. The model is EMLP 1.0.3's
``emlp.nn.EMLP`` (or ``emlp.nn.MLP``), 3 layers, trained as in EMLP's ``train_regression.py``: objax Adam, lr with
cosine decay (evaluated per step here, per epoch there), batch min(500, N), the loss on EMLP's raw scale
(mean of ((pred - y) * y_std)^2, as with its ``Standardize`` wrapper). One JSON record per seed: test MSE (raw
scale), the relative equivariance error of EMLP's own reps over 5 sampled group elements, the jit compile time
of the first step and the median time per epoch after it.
"""
from __future__ import annotations

import json
import math
import os
import statistics
import sys
import time

os.environ.setdefault("TQDM_DISABLE", "1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import objax  # noqa: E402
import objax.util.check as _objax_check  # noqa: E402

# objax 1.8.0 tests ``jax.sharding.PmapSharding``, which jax 0.10.2 removed; nothing here is pmapped, so every
# array is a single-device one (the patch changes no numbers, only lets objax's variable assignment run).
_objax_check.split_shape_and_device = lambda array: (None, array.shape)
from emlp.groups import O, Lorentz  # noqa: E402
from emlp.nn import EMLP, MLP  # noqa: E402
from emlp.reps import Scalar, Vector  # noqa: E402

TASKS = {
    "O5Synthetic": (lambda: O(5), 2 * Vector, Scalar),
    "Inertia": (lambda: O(3), 5 * Scalar + 5 * Vector, Vector ** 2),
    "ParticleInteraction": (lambda: Lorentz(), 4 * Vector, Scalar),
}


def run(job: dict, data: dict, seed: int) -> dict:
    G, rin, rout = TASKS[job["task"]]
    G = G()
    np.random.seed(seed)                      # uniform_rep's binomial allocation and BiLinear's index choice
    objax.random.DEFAULT_GENERATOR.seed(seed)
    t0 = time.perf_counter()
    cls = EMLP if job["model"] == "EMLP" else MLP
    model = cls(rin, rout, group=G, ch=job["channels"], num_layers=3)
    build_s = time.perf_counter() - t0
    Xtr, Ytr = jnp.asarray(data["Xtr"]), jnp.asarray(data["Ytr"])
    ys2 = jnp.asarray(data["y_std"]) ** 2
    opt = objax.optimizer.Adam(model.vars())

    @objax.Function.with_vars(model.vars())
    def loss(x, y):
        return (((model(x) - y) ** 2) * ys2).mean()

    gv = objax.GradValues(loss, model.vars())

    @objax.Function.with_vars(model.vars() + gv.vars() + opt.vars())
    def step(x, y, lr):
        g, v = gv(x, y)
        opt(lr, g)
        return v[0]

    step = objax.Jit(step)
    predict = objax.Jit(lambda x: model(x), model.vars())
    N = Xtr.shape[0]
    bs = min(500, N)
    spe = math.ceil(N / bs)
    epochs = job["epochs"]
    total = epochs * spe
    rng = np.random.default_rng(1000 + seed)
    k = 0
    epoch_s, compile_s, losses = [], None, []
    for ep in range(epochs):
        te = time.perf_counter()
        perm = rng.permutation(N)
        for i in range(spe):
            idx = perm[i * bs:(i + 1) * bs]
            lr = job["lr"] * 0.5 * (1 + math.cos(math.pi * k / total))
            tl = time.perf_counter()
            v = step(Xtr[idx], Ytr[idx], lr)
            if compile_s is None:
                v.block_until_ready()
                compile_s = time.perf_counter() - tl
            k += 1
        v.block_until_ready()
        if ep > 0:
            epoch_s.append(time.perf_counter() - te)
        if ep == 0 or ep == epochs - 1 or (ep + 1) % max(1, epochs // 10) == 0:
            losses.append((ep + 1, float(v)))
    train_s = sum(epoch_s) + (compile_s or 0.0)
    Xte, Yte = np.asarray(data["Xte"]), np.asarray(data["Yte"])
    P = np.concatenate([np.asarray(predict(jnp.asarray(Xte[i:i + 1000]))) for i in range(0, len(Xte), 1000)])
    y_std = np.asarray(data["y_std"], dtype=np.float64)
    mse_raw = float(np.mean(((P.astype(np.float64) - Yte) * y_std) ** 2))
    mse_std = float(np.mean((P.astype(np.float64) - Yte) ** 2))
    # EMLP's equivariance error: rel_err(f(rho_in(g) x), rho_out(g) f(x)), mean over 5 group elements
    x = Xte[:500]
    errs = []
    for g in np.asarray(G.samples(5)):
        ri, ro = np.asarray(model.rep_in.rho_dense(g)), np.asarray(model.rep_out.rho_dense(g))
        a = np.asarray(predict(jnp.asarray((x @ ri.T).astype(np.float32))), dtype=np.float64)
        b = np.asarray(predict(jnp.asarray(x)), dtype=np.float64) @ ro.T
        errs.append(float(np.sqrt(((a - b) ** 2).mean()) / (np.sqrt((a ** 2).mean()) + np.sqrt((b ** 2).mean()))))
    n_params = int(sum(np.prod(v.value.shape) for v in model.vars().values()))
    return {"seed": seed, "model": job["model"], "test_mse_raw": mse_raw, "test_mse_std": mse_std,
            "equivariance_error": float(np.mean(errs)), "finite": bool(math.isfinite(mse_raw)),
            "build_s": build_s, "compile_s": compile_s, "epoch_s": statistics.median(epoch_s) if epoch_s else None,
            "train_s": train_s, "steps": total, "epochs": epochs, "batch": bs, "params": n_params,
            "loss_curve": losses}


def main():
    job_path, out_path = sys.argv[1], sys.argv[2]
    data = dict(np.load(job_path))
    job = json.loads(str(data.pop("job")))
    out = {"peer": "emlp", "emlp_version": __import__("emlp").__version__, "jax": jax.__version__,
           "objax": objax.__version__, "job": job, "runs": []}
    for seed in job["seeds"]:
        out["runs"].append(run(job, data, seed))
        r = out["runs"][-1]
        print(f"[emlp peer] {job['task']} N={len(data['Xtr'])} seed={seed} {job['model']} "
              f"mse_raw={r['test_mse_raw']:.4g} eq={r['equivariance_error']:.2e} epoch={r['epoch_s']:.3g}s "
              f"compile={r['compile_s']:.1f}s", flush=True)
        with open(out_path, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
