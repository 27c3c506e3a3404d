"""The synthetic regression benchmarks of EMLP (Finzi, Welling & Wilson, ICML 2021), regenerated locally.

Three data sets with an exactly known symmetry, each a small class with the same interface:

* :class:`O5Synthetic`: 2 vectors of R^5 -> scalar, O(5), standardized;
* :class:`Inertia`: 5 scalars (masses) + 5 vectors of R^3 -> T(2) (3x3 matrix), O(3), not standardized;
* :class:`ParticleInteraction`: 4 four-vectors -> scalar, O(1,3) (full Lorentz group), standardized.

The target functions and the standardization constants follow ``emlp/datasets.py`` of the EMLP
repository (github.com/mfinzi/equivariant-MLP). Nothing is downloaded: the inputs are drawn from
``numpy.random.default_rng(seed).standard_normal((n_samples, n_in))`` (row-major, so for one seed the
first rows do not depend on ``n_samples``), converted to float64 torch tensors, and every target is
computed by the torch function :meth:`raw_target`. EMLP draws from numpy's legacy global stream, which is
not reproduced: the data have the same distribution, not the same values.

Attributes of every data set:
    ``X`` (N, n_in), ``Y`` (N, n_out): the standardized data, float64;
    ``X_raw``, ``Y_raw``: the same samples before standardization (``Y_raw = raw_target(X_raw)``);
    ``stats``: a :class:`Stats` ``(x_mean, x_scale, y_mean, y_std)`` of per-coordinate constants with
        ``X = (X_raw - x_mean) / x_scale`` and ``Y = (Y_raw - y_mean) / y_std``;
    ``group``, ``rep_in``, ``rep_out``: the symmetry as symlie objects, so that
        ``raw_target(rep_in.act(g, x)) == rep_out.act(g, raw_target(x))`` for every g in ``group``.

Standardization keeps the symmetry: EMLP never centres the inputs (a mean offset does not commute with
the group) and scales each vector block by *one* number (a multiple of the identity commutes with every
linear representation), so the standardized target :meth:`target` is equivariant under the same
representations. Scalar outputs are centred and scaled freely (the group acts trivially on them). As in
EMLP, the constants are computed on the whole generated set (train, validation and test together).

EMLP applies the constants inside the model (``Standardize``: ``y = y_std * net((x - x_mean) / x_scale) +
y_mean``, loss on raw y); here ``X``, ``Y`` are stored standardized, which differs only by the constant
factor y_std^2 in a mean-squared-error loss.

Protocol (EMLP's data-efficiency experiments): 36,000 samples in all; the last 5,000 are the test set, the
1,000 before them the validation set, and the first N the training set, N in :data:`TRAIN_SIZES`. Because
the validation and test sets are taken from the end, they do not change with N (EMLP's training script
splits a fixed-seed random permutation instead; the samples are i.i.d., so a fixed order loses nothing).
"""
from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np
import torch

from ..utils.validation import as_tensor
from ..lie.groups import O, Group, Lorentz, minkowski_metric
from ..lie.reps import Rep, Scalar, V

__all__ = ["O5Synthetic", "Inertia", "ParticleInteraction", "Stats", "N_SAMPLES", "N_VAL", "N_TEST",
           "TRAIN_SIZES"]

#: EMLP's protocol: total samples, validation and test sizes, and the training-set sizes of the
#: data-efficiency curves (30,000 = 36,000 - 1,000 - 5,000 is the largest that fits).
N_SAMPLES = 36000
N_VAL = 1000
N_TEST = 5000
TRAIN_SIZES = (30, 100, 300, 1000, 3000, 10000, 30000)



def _count(val, name: str, lo: int) -> int:
    """An integer-like ``val`` (numpy ints accepted) >= lo: TypeError for bools and non-integers, else ValueError."""
    if isinstance(val, bool):
        raise TypeError(f"{name}: expected an int, got bool")
    try:
        val = operator.index(val)
    except TypeError:
        raise TypeError(f"{name}: expected an int, got {type(val).__name__}") from None
    if val < lo:
        raise ValueError(f"{name}: expected an int >= {lo}, got {val}")
    return val

class Stats(NamedTuple):
    """Standardization constants, each a float64 tensor over coordinates:
    ``X = (X_raw - x_mean) / x_scale`` (n_in,) and ``Y = (Y_raw - y_mean) / y_std`` (n_out,).
    The order matches EMLP's ``stats`` tuple ``(Xmean, Xscale, Ymean, Ystd)``."""

    x_mean: torch.Tensor
    x_scale: torch.Tensor
    y_mean: torch.Tensor
    y_std: torch.Tensor


def _block_constant(per_block: torch.Tensor, block: int) -> torch.Tensor:
    """Repeat one value per block over the block's coordinates: (k,) -> (k * block,)."""
    return per_block.repeat_interleave(block)


class _SyntheticDataset:
    """Shared machinery: seeded inputs, targets, standardization, split."""

    n_in: int
    n_out: int

    def __init__(self, n_samples: int = N_SAMPLES, seed: int = 2021):
        n_samples = _count(n_samples, "n_samples", 2)
        seed = _count(seed, "seed", 0)
        self.n_samples = n_samples
        self.seed = seed
        self.group, self.rep_in, self.rep_out = self._symmetry()
        z = np.random.default_rng(seed).standard_normal((n_samples, self.n_in))
        self.X_raw = self._inputs(torch.from_numpy(z))
        self.Y_raw = self.raw_target(self.X_raw)
        self.stats = self._stats(self.X_raw, self.Y_raw)
        self.X = (self.X_raw - self.stats.x_mean) / self.stats.x_scale
        self.Y = (self.Y_raw - self.stats.y_mean) / self.stats.y_std

    # -- to be provided by each data set
    def _symmetry(self) -> tuple[Group, Rep, Rep]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _inputs(self, z: torch.Tensor) -> torch.Tensor:
        """Raw inputs from standard normal draws z (N, n_in)."""
        return z

    def _raw_target(self, X: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _stats(self, X: torch.Tensor, Y: torch.Tensor) -> Stats:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- public interface
    def raw_target(self, X) -> torch.Tensor:
        """The exact, un-standardized target on raw inputs: (N, n_in) -> (N, n_out), in torch (differentiable,
        usable with :func:`symlie.lie_derivative`). Keeps the dtype of floating input."""
        X = as_tensor(X, "X", ndim=2)
        if X.shape[1] != self.n_in:
            raise ValueError(f"X: expected shape (N, {self.n_in}) for {type(self).__name__}, got {tuple(X.shape)}")
        return self._raw_target(X)

    def target(self, X) -> torch.Tensor:
        """The target on *standardized* inputs, standardized: ``(raw_target(X * x_scale + x_mean) - y_mean) / y_std``.
        Equivariant under ``rep_in`` / ``rep_out`` like :meth:`raw_target`."""
        X = as_tensor(X, "X", ndim=2)
        s = self.stats
        raw = self.raw_target(X * s.x_scale.to(X.dtype) + s.x_mean.to(X.dtype))
        return (raw - s.y_mean.to(raw.dtype)) / s.y_std.to(raw.dtype)

    def split(self, n_train: int, n_val: int = N_VAL, n_test: int = N_TEST):
        """``(Xtr, Ytr), (Xva, Yva), (Xte, Yte)``: the first ``n_train`` samples, the ``n_val`` samples before
        the test set, and the last ``n_test`` samples (standardized data; views, not copies).

        Validation and test sets do not depend on ``n_train``; a ``ValueError`` is raised when the three
        would overlap (``n_train + n_val + n_test > len(self)``).
        """
        sizes = {}
        for name, val, lo in (("n_train", n_train, 1), ("n_val", n_val, 0), ("n_test", n_test, 0)):
            sizes[name] = _count(val, name, lo)
        n_train, n_val, n_test = sizes["n_train"], sizes["n_val"], sizes["n_test"]
        N = len(self)
        if n_train + n_val + n_test > N:
            raise ValueError(f"split: n_train + n_val + n_test = {n_train} + {n_val} + {n_test} = "
                             f"{n_train + n_val + n_test} exceeds the {N} samples of {type(self).__name__}; the "
                             f"largest training set with these validation/test sizes is {N - n_val - n_test}")
        te0 = N - n_test
        va0 = te0 - n_val
        return ((self.X[:n_train], self.Y[:n_train]), (self.X[va0:te0], self.Y[va0:te0]),
                (self.X[te0:], self.Y[te0:]))

    def __len__(self) -> int:
        return self.X.shape[0]

    def __getitem__(self, i):
        return self.X[i], self.Y[i]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_samples={self.n_samples}, seed={self.seed}, group={self.group.name}, "
                f"rep_in={self.rep_in}, rep_out={self.rep_out})")


class O5Synthetic(_SyntheticDataset):
    """O(5)-invariant regression: y = sin|x1| - |x2|^3 / 2 + <x1, x2> / (|x1| |x2|), x = (x1, x2) ~ N(0, I_10).

    ``rep_in = 2 V``, ``rep_out = Scalar`` of ``O(5)``. Standardization (EMLP): each input block x1, x2 is
    divided by its root mean square over all samples and its 5 coordinates (no centring); y is centred and
    divided by its standard deviation (ddof 0, as numpy's ``std``).
    """

    n_in, n_out, d = 10, 1, 5

    def _symmetry(self):
        G = O(self.d)
        return G, 2 * V(G), Scalar(G)

    def _raw_target(self, X):
        x1, x2 = X[:, :self.d], X[:, self.d:]
        n1 = (x1 * x1).sum(1).sqrt()
        n2 = (x2 * x2).sum(1).sqrt()
        y = torch.sin(n1) - 0.5 * n2 ** 3 + (x1 * x2).sum(1) / (n1 * n2)
        return y[:, None]

    def _stats(self, X, Y):
        rms = X.reshape(X.shape[0], 2, self.d).pow(2).mean((0, 2)).sqrt()
        return Stats(torch.zeros(self.n_in, dtype=X.dtype), _block_constant(rms, self.d),
                     Y.mean(0), Y.std(0, correction=0))


class Inertia(_SyntheticDataset):
    """O(3)-equivariant moment of inertia of 5 point masses: Y = sum_i m_i (|r_i|^2 I_3 - r_i r_i^T), flattened
    row-major to 9 entries (``rep_out = V (x) V``, whose row-major order matches symlie's ``ProductRep``).

    Inputs (as in EMLP, where ``X[:, :k]`` is overwritten by the masses): ``X = (m_1..m_5, r_1, ..., r_5)`` with
    m_i = softplus(z_i) = log(1 + e^{z_i}) > 0 and r_i ~ N(0, I_3), z_i ~ N(0, 1); ``rep_in = 5 Scalar + 5 V``.
    The model therefore sees the masses themselves, and :meth:`raw_target` reads them from ``X[:, :5]``
    (no softplus inside). No standardization (EMLP's ``stats = 0, 1, 0, 1``): ``X = X_raw``, ``Y = Y_raw``.
    """

    k = 5
    n_in, n_out = 20, 9

    def _symmetry(self):
        G = O(3)
        return G, self.k * Scalar(G) + self.k * V(G), V(G) * V(G)

    def _inputs(self, z):
        # log(1 + e^z), computed stably; torch.nn.functional.softplus(z) is the same function.
        return torch.cat([torch.logaddexp(torch.zeros_like(z[:, :self.k]), z[:, :self.k]), z[:, self.k:]], 1)

    def _raw_target(self, X):
        m = X[:, :self.k]
        r = X[:, self.k:].reshape(X.shape[0], self.k, 3)
        r2 = (r * r).sum(-1)
        eye = torch.eye(3, dtype=X.dtype)
        inertia = (m[:, :, None, None] * (r2[:, :, None, None] * eye - r[:, :, :, None] * r[:, :, None, :])).sum(1)
        return inertia.reshape(X.shape[0], 9)

    def _stats(self, X, Y):
        return Stats(torch.zeros(self.n_in, dtype=X.dtype), torch.ones(self.n_in, dtype=X.dtype),
                     torch.zeros(self.n_out, dtype=X.dtype), torch.ones(self.n_out, dtype=X.dtype))


class ParticleInteraction(_SyntheticDataset):
    """Lorentz-invariant electron-muon scattering amplitude (EMLP's "e^4 interaction").

    Inputs: four 4-momenta p1..p4 (time component first), X ~ N(0, I_16) / 4. With eta = diag(1, -1, -1, -1)
    and <a, b> = a^T eta b:

        L_e  = p1 p3^T - (<p1, p3> - <p1, p1>) eta
        L_mu = (eta p2)(eta p4)^T - (<p2, p4> - <p2, p2>) eta
        y    = 4 sum_{a,b} (L_e)_{ab} (L_mu)_{ab}

    (L_e carries upper indices and L_mu lower ones, so the full contraction is invariant.) ``rep_in = 4 V``,
    ``rep_out = Scalar`` of the full Lorentz group O(1,3) (``symlie.Lorentz()``, with parity and time reversal).

    Standardization, transcribing EMLP's ``sqrt((abs((P @ eta) * P).mean(-1)).mean(0))`` literally: particle j
    is divided by ``sqrt(mean_{n, mu} |eta_{mu mu} p_{n, mu}^2|)`` -- the absolute value is taken per
    component, so this is the plain (Euclidean) root mean square of the block, *not* sqrt(mean_n |<p_n, p_n>|).
    Either is one number per block and keeps the symmetry. y is centred and divided by its std (ddof 0).
    """

    n_in, n_out = 16, 1

    def _symmetry(self):
        G = Lorentz()
        return G, 4 * V(G), Scalar(G)

    def _inputs(self, z):
        return z / 4

    def _raw_target(self, X):
        eta = minkowski_metric(1, 3).to(X.dtype)
        s = eta.diagonal()                      # eta is diagonal: a @ eta == a * s
        P = X.reshape(X.shape[0], 4, 4)
        p1, p2, p3, p4 = P.unbind(1)

        def dot(a, b):
            return (a * s * b).sum(-1)

        Le = p1[:, :, None] * p3[:, None, :] - (dot(p1, p3) - dot(p1, p1))[:, None, None] * eta
        Lmu = (p2 * s)[:, :, None] * (p4 * s)[:, None, :] - (dot(p2, p4) - dot(p2, p2))[:, None, None] * eta
        return (4 * (Le * Lmu).sum((-1, -2)))[:, None]

    def _stats(self, X, Y):
        eta = minkowski_metric(1, 3).to(X.dtype)
        P = X.reshape(X.shape[0], 4, 4)
        scale = ((P @ eta) * P).abs().mean(-1).mean(0).sqrt()
        return Stats(torch.zeros(self.n_in, dtype=X.dtype), _block_constant(scale, 4),
                     Y.mean(0), Y.std(0, correction=0))
