"""Neural vector fields: n learned generators V_1..V_n on R^d with a shared trunk and one head each.

V_i(z) = head_i(trunk(embed(z))), embed the identity on ordinary coordinates and (cos 2 pi z_k / L_k,
sin 2 pi z_k / L_k) on periodic ones, so a field is exactly periodic in those coordinates without wrapping
its input (the original blends duplicates near the edges and wraps in place, which mutates the solver state).
The heads are batched parameters (n, width, head) and (n, head, d), so

  * :meth:`GeneratorMLP.forward` evaluates every head at the same points, (N, d) -> (N, n, d): the
    :class:`symlie.ModuleAction` layout, so ``discover``, principal angles and penalties take the learned
    fields like any other generator family (:meth:`GeneratorMLP.action`);
  * :meth:`GeneratorMLP.per_head` evaluates head i only on its own copy of the points, (n, N, d) -> (n, N, d):
    the flows of n generators at once without the n-fold work of evaluating all heads on all copies.

Normalisation is separate from evaluation: :meth:`GeneratorMLP.scales` gives each field's RMS norm over a
reference set (computed once per training step, differentiable), and :meth:`GeneratorMLP.field` returns the
autonomous field V_i / scale_i that the flow integrates, so the flow is not made non-autonomous by
renormalising at the moving points. Sign convention: the flow of V is d z / d s = V(z).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from ..lie.actions import ModuleAction
from ..utils.errors import DataError
from ..utils.files import atomic_file, check_out_file
from ..utils.serialization import load_torch_file
from ..utils.validation import check_int

__all__ = ["GeneratorMLP", "FORMAT", "FORMAT_VERSION"]

FORMAT = "symlie.GeneratorMLP"
FORMAT_VERSION = 1
_ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {"silu": nn.SiLU, "tanh": nn.Tanh, "gelu": nn.GELU,
                                                     "softplus": nn.Softplus}


def _check_periodic(periodic, n_in: int) -> dict[int, float]:
    if periodic is None:
        return {}
    if not isinstance(periodic, dict):
        raise TypeError(f"periodic: expected a dict {{coordinate index: period}}, got {type(periodic).__name__}")
    out = {}
    for k, L in periodic.items():
        k = check_int(k, "periodic", 0)
        if k >= n_in:
            raise ValueError(f"periodic: coordinate {k} does not exist in R^{n_in}")
        if isinstance(L, bool) or not isinstance(L, (int, float)) or not (math.isfinite(L) and L > 0):
            raise ValueError(f"periodic: the period of coordinate {k} must be a finite number > 0, got {L!r}")
        out[k] = float(L)
    return dict(sorted(out.items()))


class GeneratorMLP(nn.Module):
    """n neural vector fields on R^d (a shared trunk, one head per field).

    Args:
        n_in: dimension d of the space the fields act on (3 for the graph (x, t, u) of a scalar 1+1 PDE;
            2 for pixel coordinates).
        n_gen: number n of fields (slots; set it above the expected number of symmetries).
        width: trunk width (Ko et al.: 256); depth: trunk layers (2).
        head: hidden width of each head (32).
        activation: ``"silu"`` (default, as the original), ``"tanh"``, ``"gelu"`` or ``"softplus"``.
        periodic: {coordinate index: period}: fields exactly periodic in those coordinates (embedded as cos / sin).
        dtype: float32 (default) or float64; seed: initialisation seed (None: torch's global state).

    Shapes: :meth:`forward` (N, d) -> (N, n, d); :meth:`per_head` (n, N, d) -> (n, N, d).
    """

    saved_extra: dict            # the ``extra`` dict of the file a model was loaded from (:meth:`load`)

    def __init__(self, n_in: int, n_gen: int, *, width: int = 256, depth: int = 2, head: int = 32,
                 activation: str = "silu", periodic: dict | None = None, dtype: torch.dtype = torch.float32,
                 seed: int | None = 0):
        super().__init__()
        self.n_in = check_int(n_in, "n_in", 1)
        self.n_gen = check_int(n_gen, "n_gen", 1)
        self.width, self.depth, self.head = check_int(width, "width", 1), check_int(depth, "depth", 1), \
            check_int(head, "head", 1)
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
        self.activation = activation
        self.periodic = _check_periodic(periodic, self.n_in)
        n_emb = self.n_in + len(self.periodic)
        g = None if seed is None else torch.Generator().manual_seed(check_int(seed, "seed", 0))
        layers: list[nn.Module] = []
        for i in range(self.depth):
            layers += [nn.Linear(n_emb if i == 0 else self.width, self.width, dtype=dtype), _ACTIVATIONS[activation]()]
        self.trunk = nn.Sequential(*layers)
        self.w1 = nn.Parameter(torch.empty(self.n_gen, self.width, self.head, dtype=dtype))
        self.b1 = nn.Parameter(torch.empty(self.n_gen, self.head, dtype=dtype))
        self.w2 = nn.Parameter(torch.empty(self.n_gen, self.head, self.n_in, dtype=dtype))
        self.b2 = nn.Parameter(torch.empty(self.n_gen, self.n_in, dtype=dtype))
        self.act = _ACTIVATIONS[activation]()
        self.saved_extra = {}
        self._init(g)

    def _init(self, g: torch.Generator | None) -> None:
        """PyTorch's default Linear initialisation (uniform in +-1/sqrt(fan_in) for weights and biases), drawn from
        ``g`` so that a seed fixes the fields."""
        def fill(t: torch.Tensor, fan_in: int) -> None:
            b = 1.0 / math.sqrt(fan_in)
            t.copy_((torch.rand(t.shape, generator=g, dtype=t.dtype) * 2 - 1) * b)

        with torch.no_grad():
            for m in self.trunk:
                if isinstance(m, nn.Linear):
                    fill(m.weight, m.in_features)
                    fill(m.bias, m.in_features)
            fill(self.w1, self.width)
            fill(self.b1, self.width)
            fill(self.w2, self.head)
            fill(self.b2, self.head)

    @property
    def dtype(self) -> torch.dtype:
        return self.w1.dtype

    # -- evaluation ------------------------------------------------------------------------------
    def _check(self, z: torch.Tensor, what: str) -> None:
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"{what}: expected a torch tensor, got {type(z).__name__}")
        if z.shape[-1] != self.n_in:
            raise ValueError(f"{what}: expected points of R^{self.n_in} (last dimension {self.n_in}), got shape "
                             f"{tuple(z.shape)}")

    def _features(self, z: torch.Tensor) -> torch.Tensor:
        if self.periodic:
            extra = []
            cols = []
            for k in range(self.n_in):
                if k in self.periodic:
                    a = (2 * math.pi / self.periodic[k]) * z[..., k]
                    cols.append(torch.cos(a))
                    extra.append(torch.sin(a))
                else:
                    cols.append(z[..., k])
            z = torch.stack(cols + extra, -1)
        return self.trunk(z.to(self.dtype))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """All n fields at the points z (N, d): (N, n, d)."""
        self._check(z, "z")
        h = self._features(z)                                                   # (N, width)
        a = self.act(torch.einsum("nw,gwh->ngh", h, self.w1) + self.b1)         # (N, n, head)
        return torch.einsum("ngh,ghd->ngd", a, self.w2) + self.b2

    def per_head(self, z: torch.Tensor) -> torch.Tensor:
        """Field i at its own points: z (n, ..., d) -> (n, ..., d) (copy i of the points through head i)."""
        self._check(z, "z")
        if z.ndim < 2 or z.shape[0] != self.n_gen:
            raise ValueError(f"z: expected one copy of the points per field, shape ({self.n_gen}, ..., {self.n_in}), "
                             f"got {tuple(z.shape)}")
        shape = z.shape
        h = self._features(z.reshape(self.n_gen, -1, self.n_in))                # (n, M, width)
        a = self.act(torch.einsum("gmw,gwh->gmh", h, self.w1) + self.b1[:, None])
        v = torch.einsum("gmh,ghd->gmd", a, self.w2) + self.b2[:, None]
        return v.reshape(shape)

    # -- normalisation and the field the flow integrates -----------------------------------------------
    def scales(self, ref: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
        """RMS norm of each field over the reference points ref (N, d): (n,), sqrt(sum_p w_p |V_i(p)|^2) with
        weights summing to 1 (default uniform); differentiable."""
        V = self.forward(ref)                                                   # (N, n, d)
        sq = (V ** 2).sum(-1)                                                   # (N, n)
        if weights is None:
            return sq.mean(0).sqrt()
        w = weights.to(sq.dtype)
        if w.shape != (ref.shape[0],):
            raise ValueError(f"weights: expected shape ({ref.shape[0]},), got {tuple(w.shape)}")
        return ((w[:, None] * sq).sum(0) / w.sum()).sqrt()

    def field(self, scale: torch.Tensor | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
        """The autonomous field z (n, ..., d) -> V_i(z_i) / scale_i that a flow integrates (``scale`` (n,) from
        :meth:`scales` on a reference set, held fixed during the integration; None: unnormalised)."""
        if scale is not None and scale.shape != (self.n_gen,):
            raise ValueError(f"scale: expected shape ({self.n_gen},), got {tuple(scale.shape)}")

        def v(z: torch.Tensor) -> torch.Tensor:
            out = self.per_head(z)
            if scale is None:
                return out
            return out / scale.reshape((self.n_gen,) + (1,) * (out.ndim - 1)).clamp_min(1e-12)

        return v

    def action(self, scale: torch.Tensor | None = None, name: str | None = None) -> ModuleAction:
        """The fields as a :class:`symlie.ModuleAction` (q = n generators on R^d), normalised by ``scale``."""
        s = None if scale is None else scale.detach()

        def fields(z: torch.Tensor) -> torch.Tensor:
            V = self.forward(z.to(self.dtype)).to(z.dtype)
            return V if s is None else V / s.to(z.dtype)[None, :, None].clamp_min(1e-12)

        return ModuleAction(fields, self.n_in, name=name or f"GeneratorMLP ({self.n_gen} learned fields on "
                                                            f"R^{self.n_in})")

    # -- files -------------------------------------------------------------------------------------
    def config(self) -> dict:
        return {"n_in": self.n_in, "n_gen": self.n_gen, "width": self.width, "depth": self.depth, "head": self.head,
                "activation": self.activation, "periodic": self.periodic,
                "dtype": "float64" if self.dtype == torch.float64 else "float32"}

    def save(self, path, *, extra: dict | None = None) -> Path:
        """Write the configuration and weights (plus ``extra``, e.g. reference scales or training metadata) to
        ``path`` atomically (a torch file with a format tag and version; ".pt" appended when missing)."""
        p = check_out_file(path, "path", suffix=".pt")
        payload = {"format": FORMAT, "version": FORMAT_VERSION, "config": self.config(),
                   "state": {k: v.detach().cpu() for k, v in self.state_dict().items()}, "extra": dict(extra or {})}
        with atomic_file(p, "path") as tmp:
            torch.save(payload, tmp)
        return p

    @classmethod
    def load(cls, path) -> "GeneratorMLP":
        """Read a file written by :meth:`save` (the ``extra`` dict is at ``model.saved_extra``); a missing,
        corrupt or foreign file is a :class:`symlie.DataError` naming it."""
        p = Path(path)
        d = load_torch_file(p, kind=FORMAT, version=FORMAT_VERSION, required=("config", "state"),
                            what="symlie generator file")
        cfg = dict(d["config"])
        try:
            dtype = {"float32": torch.float32, "float64": torch.float64}[cfg.pop("dtype", "float32")]
            periodic = {int(k): float(v) for k, v in (cfg.pop("periodic", None) or {}).items()}
            model = cls(**cfg, periodic=periodic or None, dtype=dtype, seed=None)
            model.load_state_dict(d["state"])
        except (TypeError, KeyError, RuntimeError, ValueError) as exc:
            raise DataError(f"path {str(p)!r}: the saved generator does not match its configuration ({exc})") from None
        model.saved_extra = dict(d.get("extra") or {})
        return model

    def extra_repr(self) -> str:
        per = f", periodic={self.periodic}" if self.periodic else ""
        return f"n_in={self.n_in}, n_gen={self.n_gen}, width={self.width}, depth={self.depth}, head={self.head}{per}"
