"""Training windows of (augmented) solutions for a neural PDE solver: a torch ``Dataset``.

Each item is one window of one solution: ``x`` the ``history`` rows from a start row k (history, nx) and ``y``
the rows k + targets (len(targets), nx); by default targets = history .. history + future - 1 (the next
``future`` rows; LPSDA's 20 in, 20 out), or any offsets (the single-time protocol: u[20:40] in, u[90] out is
``start=20, targets=(70,)``).

For item i (solution i mod N; ``passes`` items per solution and epoch), drawn from a generator seeded by
(seed, epoch, i), so a run is reproducible and the draws change with :meth:`AugmentedWindows.set_epoch`:

* the copy: the original with probability ``p_original``, else one of the C copies uniformly (the original
  included, as Ko et al.); a rejected copy, or one whose valid window cannot hold the window, falls back to the
  original (counted in ``fallbacks``);
  (``fallbacks`` / ``augmented_draws``: :attr:`fallback_rate`, nothing falls back silently);
* the start row: ``start`` if given, else uniform among the starts whose rows all lie in the copy's valid window.

``on_the_fly``: instead of precomputed copies, each item transforms its solution with fresh coefficients
(:func:`symlie.augment.transform_solutions`; slower, unlimited copies).
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch.utils.data import Dataset

from ..datasets import PDESolution
from ..utils.errors import DataError
from ..utils.validation import as_tensor, check_int
from ..generators import GraphScaling
from .copies import AugmentedSolutions, check_sigma, draw_coefficients, reference_points
from .fields import graph_fields, orthonormal_fields
from .transforms import check_grid, transform_solutions

__all__ = ["AugmentedWindows"]


class AugmentedWindows(Dataset):
    """Windows (x (history, nx), y (len(targets), nx)) float32 of solutions and their copies.

    Args:
        data: :class:`symlie.augment.AugmentedSolutions` (precomputed copies), or plain solutions (N, nt, nx) /
            a :class:`symlie.datasets.PDESolution` (no augmentation).
        history, future: rows in and out; targets: offsets of the output rows from the start row instead of
            history .. history + future - 1; start: a fixed start row (default random).
        p_original: probability of taking the original (0 <= p <= 1; with precomputed copies).
        passes: items per solution and epoch.
        seed: of the draws; :meth:`set_epoch` changes them per epoch.
    """

    def __init__(self, data: Any, *, history: int = 20, future: int = 20, targets: Sequence[int] | None = None,
                 start: int | None = None, p_original: float = 0.5, passes: int = 1, seed: int = 0,
                 _fly: dict | None = None):
        if isinstance(data, AugmentedSolutions):
            self.u, self.window, self.accepted = data.u, data.window, data.accepted
        else:
            U = data.u if isinstance(data, PDESolution) else data
            U = as_tensor(U, "data", ndim=3).float()
            self.u = U[:, None]
            self.window = torch.tensor([0, U.shape[1]]).expand(U.shape[0], 1, 2).clone()
            self.accepted = torch.ones(U.shape[0], 1, dtype=torch.bool)
        if self.u.shape[0] == 0:
            raise DataError("data: the training split is empty (0 solutions)")
        self.history = check_int(history, "history", 1)
        nt = self.u.shape[2]
        if targets is None:
            future = check_int(future, "future", 1)
            self.targets = torch.arange(self.history, self.history + future)
        else:
            tg = [check_int(k, "targets[i]", 0) for k in targets]
            if not tg:
                raise ValueError("targets: expected at least one offset")
            self.targets = torch.tensor(tg)
        self.span = max(self.history, int(self.targets.max()) + 1)
        if self.span > nt:
            raise DataError(f"history/targets: a window needs {self.span} rows, the solutions have {nt}")
        self.start = check_int(start, "start", 0, allow_none=True)
        if self.start is not None and self.start + self.span > nt:
            raise DataError(f"start: a window from row {self.start} needs rows up to {self.start + self.span - 1}; "
                            f"the solutions have {nt}")
        if not (isinstance(p_original, (int, float)) and 0 <= p_original <= 1):
            raise ValueError(f"p_original: expected a probability in [0, 1], got {p_original!r}")
        self.p_original = float(p_original)
        self.passes = check_int(passes, "passes", 1)
        self.seed = check_int(seed, "seed", None)
        self.epoch = 0
        self.fallbacks = 0
        self.augmented_draws = 0
        self._fly = _fly

    @classmethod
    def on_the_fly(cls, u: Any, t: Any, x: Any, fields: Any, *, sigma: Any = 0.1, p_original: float = 0.5,
                   n_reference: int = 8192, transform_kw: dict | None = None, **kw) -> "AugmentedWindows":
        """Windows whose copies are transformed per item (fresh coefficients every draw): ``fields`` and ``sigma``
        as :func:`symlie.augment.augment_solutions` (orthonormalised on the data once), ``transform_kw`` for
        :func:`symlie.augment.transform_solutions`."""
        U, T, X = check_grid(u, t, x)
        act = graph_fields(fields)
        sc = GraphScaling.from_grid(U, T, X)
        ortho = orthonormal_fields(act, reference_points(U, T, X, n_reference, 0), sc)
        fly = {"T": T, "X": X, "fields": ortho, "sigma": check_sigma(sigma, act.dim), "scaling": sc,
               "kw": dict(transform_kw or {})}
        return cls(U, p_original=p_original, _fly=fly, **kw)

    @property
    def fallback_rate(self) -> float:
        """The fraction of draws of a transformed copy that fell back to the original (rejected, or its valid
        rows too few for the window), counted in this process since construction."""
        return self.fallbacks / self.augmented_draws if self.augmented_draws else 0.0

    def set_epoch(self, epoch: int) -> None:
        """Change the draws (call at the start of every epoch, e.g. from the trainer's ``epoch_fn``)."""
        self.epoch = check_int(epoch, "epoch", 0)

    def __len__(self) -> int:
        return self.u.shape[0] * self.passes

    def _generator(self, i: int) -> torch.Generator:
        g = torch.Generator()
        g.manual_seed(((self.seed * 1_000_003 + self.epoch) * 10_000_019 + i) % (2 ** 63 - 1))
        return g

    def _fits(self, w: torch.Tensor) -> bool:
        lo, hi = int(w[0]), int(w[1])
        if self.start is not None:
            return lo <= self.start and self.start + self.span <= hi
        return hi - lo >= self.span

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} windows")
        n = i % self.u.shape[0]
        g = self._generator(i)
        row, w = self.u[n, 0], self.window[n, 0]
        if self._fly is not None:
            if float(torch.rand((), generator=g)) >= self.p_original:
                self.augmented_draws += 1
                row, w = self._transform(n, g)
        else:
            C = self.u.shape[1]
            c = 0
            if C > 1 and float(torch.rand((), generator=g)) >= self.p_original:
                c = int(torch.randint(C, (), generator=g))
                self.augmented_draws += bool(c)
            if c and not (bool(self.accepted[n, c]) and self._fits(self.window[n, c])):
                self.fallbacks += 1
                c = 0
            row, w = self.u[n, c], self.window[n, c]
        if self.start is not None:
            k = self.start
        else:
            lo, hi = int(w[0]), int(w[1])
            k = lo + int(torch.randint(hi - lo - self.span + 1, (), generator=g))
        return row[k:k + self.history].clone(), row[k + self.targets].clone()

    def _transform(self, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        f = self._fly
        assert f is not None
        S = f["sigma"]
        a = draw_coefficients((1,), S, g)
        tr = transform_solutions(self.u[n, 0][None].double(), f["T"], f["X"], f["fields"], a, scaling=f["scaling"],
                                 **f["kw"])
        if bool(tr.accepted[0]) and self._fits(tr.window[0]):
            return tr.u[0].float(), tr.window[0]
        self.fallbacks += 1
        return self.u[n, 0], self.window[n, 0]
