"""Precomputed augmented copies of a training set (Ko et al.'s pipeline, without its sampling bugs).

:func:`augment_solutions` makes, for each of N solutions, ``n_copies`` versions: copy 0 the original, copies
1..n_copies-1 the transforms by sum_i a_i V_i with a_i ~ U(-1, 1) sigma_i drawn independently per copy and
generator (a seeded ``torch.Generator``, never the global state), the fields orthonormalised first in the
normalised RMS inner product on reference points of the data (so sigma_i is a size in units of the data's
spread; sigma_i = 0 switches slot i off). A copy whose valid window is shorter than ``min_rows`` is rejected
(marked, and replaced by the original when sampled); the rejection rate is reported, and a warning is raised when
it exceeds ``warn_rejection``: a transform scale that moves most points off the grid gets told, not silently
replaced by unaugmented data.
"""
from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..generators import GraphScaling
from ..utils.errors import DataError, SymlieWarning
from ..utils.files import atomic_file
from ..utils.progress import Progress
from ..utils.resources import check_memory
from ..utils.validation import as_tensor, check_int, make_generator
from .fields import graph_fields, orthonormal_fields
from .transforms import check_grid, transform_solutions

__all__ = ["AugmentedSolutions", "augment_solutions", "reference_points", "check_sigma", "draw_coefficients",
           "AUGMENTED_FORMAT",
           "AUGMENTED_VERSION"]

DT = torch.float64
AUGMENTED_FORMAT = "symlie.augmented"
AUGMENTED_VERSION = 1


@dataclass
class AugmentedSolutions:
    """N solutions with their augmented copies.

    ``u`` (N, C, nt, nx) float32 (copy 0 the original); ``window`` (N, C, 2) int64 [t_min, t_max) valid rows;
    ``accepted`` (N, C) bool (copy 0 always); ``coeffs`` (N, C, q) float64 the a_i of each copy (zeros for copy 0);
    ``sigma`` (q,); ``t`` (nt,), ``x`` (nx,) the grids; ``info`` how they were made (fields, kernel, seed, ...)."""
    u: torch.Tensor
    window: torch.Tensor
    accepted: torch.Tensor
    coeffs: torch.Tensor
    sigma: torch.Tensor
    t: torch.Tensor
    x: torch.Tensor
    info: dict = field(default_factory=dict)

    @property
    def n_solutions(self) -> int:
        return int(self.u.shape[0])

    @property
    def n_copies(self) -> int:
        return int(self.u.shape[1])

    @property
    def rejection_rate(self) -> float:
        """The fraction of transformed copies (1..C-1) that were rejected."""
        if self.n_copies < 2:
            return 0.0
        return float((~self.accepted[:, 1:]).double().mean())

    def save(self, path) -> Path:
        """Write an HDF5 file (``h5py``; written atomically): arrays u (float32), window, accepted, coeffs, sigma,
        t, x; ``info`` as a JSON attribute, with ``format`` and ``format_version``. Returns the path."""
        h5py = _h5py()
        p = Path(path)
        if p.is_dir():
            raise DataError(f"path {str(p)!r}: is a folder; expected a file name")
        with atomic_file(p, "path") as tmp, h5py.File(tmp, "w") as f:
            for k in _ARRAYS:
                f.create_dataset(k, data=getattr(self, k).detach().cpu().numpy())
            f.attrs["format"] = AUGMENTED_FORMAT
            f.attrs["format_version"] = AUGMENTED_VERSION
            f.attrs["info"] = json.dumps(self.info)
        return p

    @classmethod
    def load(cls, path) -> "AugmentedSolutions":
        """Read a file of :meth:`save`; a missing, foreign, newer, corrupt or inconsistent file is a
        :class:`symlie.DataError` naming it."""
        h5py = _h5py()
        p = Path(path)
        if not p.is_file():
            raise DataError(f"{p}: no such file")
        try:
            with h5py.File(p, "r") as f:
                fmt = f.attrs.get("format")
                fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
                if fmt != AUGMENTED_FORMAT:
                    raise DataError(f"{p}: not a symlie augmented-copies file (format = {fmt!r}, expected "
                                    f"{AUGMENTED_FORMAT!r})")
                ver = f.attrs.get("format_version")
                if not isinstance(ver, (int, np.integer)) or int(ver) > AUGMENTED_VERSION:
                    raise DataError(f"{p}: format_version {ver!r} is not supported (this symlie reads <= "
                                    f"{AUGMENTED_VERSION})")
                missing = [k for k in _ARRAYS if k not in f]
                if missing:
                    raise DataError(f"{p}: missing the array(s) {missing}")
                check_memory(8.0 * int(np.prod(f["u"].shape)), f"AugmentedSolutions.load({str(p)!r})")
                arr = {k: torch.from_numpy(np.asarray(f[k][()])) for k in _ARRAYS}
                info = json.loads(f.attrs.get("info", "{}"))
        except DataError:
            raise
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise DataError(f"{p}: not a readable HDF5 file ({exc})") from None
        u, w, a, c = arr["u"], arr["window"], arr["accepted"], arr["coeffs"]
        if (u.ndim != 4 or w.shape != (*u.shape[:2], 2) or a.shape != u.shape[:2] or c.ndim != 3
                or c.shape[:2] != u.shape[:2] or arr["t"].shape != (u.shape[2],) or arr["x"].shape != (u.shape[3],)
                or arr["sigma"].shape != (c.shape[2],)):
            raise DataError(f"{p}: inconsistent shapes (u {tuple(u.shape)}, window {tuple(w.shape)}, accepted "
                            f"{tuple(a.shape)}, coeffs {tuple(c.shape)}, t {tuple(arr['t'].shape)}, x "
                            f"{tuple(arr['x'].shape)})")
        if not bool(torch.isfinite(u).all()):
            raise DataError(f"{p}: u holds NaN or Inf")
        return cls(u.float(), w.long(), a.bool(), c.double(), arr["sigma"].double(), arr["t"].double(),
                   arr["x"].double(), info)


_ARRAYS = ("u", "window", "accepted", "coeffs", "sigma", "t", "x")


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is in the dev extras
        raise DataError("HDF5 files need h5py: pip install 'symlie[io]'") from exc
    return h5py


def check_sigma(sigma: Any, q: int) -> torch.Tensor:
    """sigma as (q,) float64: a number >= 0 for every generator, or one per generator."""
    S = as_tensor(sigma, "sigma", ndim=(0, 1), dtype=DT)
    S = S.reshape(()).expand(q).clone() if S.numel() == 1 and q != 1 else S.reshape(-1)
    if S.shape != (q,) or not bool((S >= 0).all()):
        raise DataError(f"sigma: expected a number >= 0 or {q} of them (one per generator), got {tuple(S.shape)}")
    return S


def draw_coefficients(shape: tuple[int, ...], sigma: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Coefficients a_i ~ U(-sigma_i, sigma_i) of shape (*shape, q) float64 (sigma (q,), from ``generator``)."""
    return (2 * torch.rand(*shape, sigma.shape[0], generator=generator, dtype=DT) - 1) * sigma


def reference_points(u: torch.Tensor, t: torch.Tensor, x: torch.Tensor, n: int = 8192,
                     seed: int | torch.Generator | None = 0) -> torch.Tensor:
    """``n`` graph points (t, x, u) (n, 3) float64 drawn uniformly without replacement from the grid points of
    all solutions u (B, nt, nx) (all of them when there are fewer)."""
    U, T, X = check_grid(u, t, x)
    B, nt, nx = U.shape
    n = check_int(n, "n", 1)
    total = B * nt * nx
    g = make_generator(seed)
    idx = torch.randperm(total, generator=g)[:n] if total > n else torch.arange(total)
    b, r = idx // (nt * nx), idx % (nt * nx)
    k, j = r // nx, r % nx
    return torch.stack([T[k], X[j], U[b, k, j]], -1)


def augment_solutions(u: Any, t: Any, x: Any, fields: Any, *, n_copies: int = 8, sigma: Any = 0.1, seed: int = 0,
                      scaling: GraphScaling | None = None, orthonormalize: bool = True, n_reference: int = 8192,
                      method: str = "rk4", steps: int = 10, kernel: str = "dirichlet", normalize: bool = False,
                      support_threshold: float = 0.8, min_rows: int = 60, batch_size: int = 4,
                      warn_rejection: float = 0.5, progress: bool = False) -> AugmentedSolutions:
    """Precompute ``n_copies`` versions of every solution (copy 0 the original), see the module docstring.

    Args:
        u: training solutions (N, nt, nx) on the uniform grids ``t`` (nt,), ``x`` (nx,) (periodic, period nx dx).
        fields: the q generators (anything :func:`symlie.augment.graph_fields` takes).
        n_copies: copies per solution, the original included (>= 1); sigma: a number or (q,) per generator.
        seed: of the coefficient draws and the reference points.
        scaling: normalised coordinates (default :meth:`GraphScaling.from_grid` of ``u``).
        orthonormalize: Gram-Schmidt the fields on ``n_reference`` grid points first (Ko et al.; turn off only for
            fields already normalised in these coordinates).
        method, steps, kernel, normalize, support_threshold, min_rows, batch_size: of
            :func:`symlie.augment.transform_solutions`.
        warn_rejection: warn (``SymlieWarning``) when more than this fraction of the copies is rejected.
    """
    U, T, X = check_grid(u, t, x)
    N, nt, nx = U.shape
    n_copies = check_int(n_copies, "n_copies", 1)
    act = graph_fields(fields)
    q = act.dim
    S = check_sigma(sigma, q)
    if not (isinstance(warn_rejection, (int, float)) and 0 <= warn_rejection <= 1):
        raise ValueError(f"warn_rejection: expected a fraction in [0, 1], got {warn_rejection!r}")
    check_memory(4 * N * n_copies * nt * nx, f"augment_solutions: {N} solutions x {n_copies} copies")
    sc = GraphScaling.from_grid(U, T, X) if scaling is None else scaling
    g = make_generator(seed)
    if orthonormalize:
        act = orthonormal_fields(act, reference_points(U, T, X, n_reference, g), sc)
    A = torch.zeros(N, n_copies, q, dtype=DT)
    if n_copies > 1:
        A[:, 1:] = draw_coefficients((N, n_copies - 1), S, g)
    out = torch.zeros(N, n_copies, nt, nx, dtype=torch.float32)
    win = torch.zeros(N, n_copies, 2, dtype=torch.long)
    acc = torch.ones(N, n_copies, dtype=torch.bool)
    out[:, 0] = U.float()
    win[:, 0, 1] = nt
    jobs = [(i, c) for i in range(N) for c in range(1, n_copies)]
    bar = Progress(total=len(jobs), desc="augment", enabled=progress, unit="copy")
    for s in range(0, len(jobs), batch_size):
        chunk = jobs[s:s + batch_size]
        ii = torch.tensor([i for i, _ in chunk])
        cc = torch.tensor([c for _, c in chunk])
        tr = transform_solutions(U[ii], T, X, act, A[ii, cc], scaling=sc, method=method, steps=steps, kernel=kernel,
                                 normalize=normalize, support_threshold=support_threshold, min_rows=min_rows,
                                 batch_size=batch_size)
        out[ii, cc] = tr.u.float()
        win[ii, cc] = tr.window
        acc[ii, cc] = tr.accepted
        bar.update(len(chunk))
    bar.close()
    res = AugmentedSolutions(out, win, acc, A, S, T, X, {
        "fields": getattr(act, "name", type(act).__name__), "q": q, "n_copies": n_copies, "seed": seed,
        "method": method, "steps": steps, "kernel": kernel, "normalize": normalize,
        "support_threshold": support_threshold, "min_rows": min_rows, "orthonormalize": orthonormalize,
        "scaling": {k: float(v) for k, v in vars(sc).items()}})
    rate = res.rejection_rate
    res.info["rejection_rate"] = rate
    if n_copies > 1 and rate > warn_rejection:
        warnings.warn(f"augment_solutions: {rate:.0%} of the transformed copies were rejected (fewer than "
                      f"{min_rows} rows with support > {support_threshold}); the transform scale sigma is too large "
                      f"for this grid", SymlieWarning, stacklevel=2)
    return res
