"""A one-dimensional Fourier neural operator (Li et al. 2021) in the layout of LPSDA (Brandstetter et al. 2022).

* :class:`SpectralConv1d` -- the Fourier layer: rfft along x, a learned complex (in, out) matrix per retained
  mode for the lowest ``modes`` modes, irfft back to the grid (higher modes are dropped).
* :class:`FNO1d` -- a neural PDE solver u(t_{n-h+1..n}) -> u(t_{n+1..n+f}) on a periodic grid: the ``history``
  time steps are the input channels, x is the last axis.

Conventions: fields are real, sampled on a uniform periodic grid of ``nx`` points (x last); a batch of windows
has shape (B, time steps, nx). Parameters are float32 by default (``dtype=torch.float64`` works too); the input
must have the module's dtype (a mismatch is a ``TypeError`` saying how to convert). The network has no grid
features, so it commutes with cyclic shifts of x exactly (to round-off).
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from ..utils.errors import SymlieError
from ..utils.validation import check_int

__all__ = ["SpectralConv1d", "FNO1d"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _dtype(dtype) -> torch.dtype:
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    if dtype not in (torch.float32, torch.float64):
        raise TypeError(f"dtype: expected torch.float32 or torch.float64 (or 'float32' / 'float64'), got {dtype!r}")
    return dtype


def _dtype_name(dtype: torch.dtype) -> str:
    return "float64" if dtype == torch.float64 else "float32"


def _check_input(x, name: str, dtype: torch.dtype, channels: int, what: str) -> None:
    """``x`` a floating tensor of shape (B, channels, nx) and of the module's dtype (errors name ``name``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch tensor of shape (batch, {what}, nx), got {type(x).__name__}")
    if x.is_complex() or not x.is_floating_point():
        raise TypeError(f"{name}: expected a real floating tensor of dtype {dtype}, got {x.dtype}")
    if x.dtype != dtype:
        how = "x.double()" if dtype == torch.float64 else "x.float()"
        raise TypeError(f"{name}: has dtype {x.dtype} but the module's parameters are {dtype}; convert the input "
                        f"({how}) or the module (model.to({x.dtype}))")
    if x.ndim != 3 or x.shape[1] != channels:
        raise SymlieError(f"{name}: expected shape (batch, {what} = {channels}, nx), got {tuple(x.shape)}")


def _check_modes(nx: int, modes: int, name: str) -> None:
    if modes > nx // 2 + 1:
        raise SymlieError(f"{name}: a grid of nx = {nx} points has nx // 2 + 1 = {nx // 2 + 1} real Fourier modes, "
                          f"fewer than modes = {modes}; use nx >= {2 * (modes - 1)} or fewer modes")


class SpectralConv1d(nn.Module):
    """The 1-D Fourier layer: y = irfft(W . rfft(x)[:modes], n=nx).

    For input x of shape (B, in_ch, nx), with X_k = sum_j x_j exp(-2 pi i k j / nx) (``torch.fft.rfft``),

        Y_{b,o,k} = sum_i X_{b,i,k} W_{i,o,k}  for k < modes,   Y_k = 0 otherwise,
        y = irfft(Y, n=nx)                      (B, out_ch, nx), real.

    As in every rfft-based FNO, the imaginary part of Y_0 (and of Y_{nx/2} when nx is even and it is kept) is
    dropped by the inverse transform. The layer commutes with cyclic shifts of x.

    Args:
        in_ch, out_ch: channel counts; modes: number of retained modes (>= 1). ``modes`` must be at most
            nx // 2 + 1 for the grid it is called on (checked at call time).
        dtype: float32 (default) or float64: the real dtype of the weights and of the input.
        generator: a ``torch.Generator`` for the initialisation (None: torch's global state).

    The complex weights W (in_ch, out_ch, modes) are stored as a real parameter ``weight`` of shape
    (in_ch, out_ch, modes, 2) = (real, imaginary), so ``state_dict``, optimizers and DistributedDataParallel see
    ordinary real tensors. Initialisation as LPSDA: real and imaginary parts uniform in [0, 1 / (in_ch out_ch)).
    """

    weight: nn.Parameter

    def __init__(self, in_ch: int, out_ch: int, modes: int, *, dtype=torch.float32,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.in_ch = check_int(in_ch, "in_ch", 1)
        self.out_ch = check_int(out_ch, "out_ch", 1)
        self.modes = check_int(modes, "modes", 1)
        dt = _dtype(dtype)
        scale = 1.0 / (self.in_ch * self.out_ch)
        self.weight = nn.Parameter(scale * torch.rand(self.in_ch, self.out_ch, self.modes, 2, generator=generator,
                                                      dtype=dt))

    @property
    def dtype(self) -> torch.dtype:
        return self.weight.dtype

    def complex_weight(self) -> torch.Tensor:
        """W as a complex tensor (in_ch, out_ch, modes) (complex64 for float32 weights, complex128 for float64);
        a view of ``weight``, differentiable."""
        return torch.view_as_complex(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, in_ch, nx) real, the module's dtype -> (B, out_ch, nx), same dtype."""
        _check_input(x, "x", self.dtype, self.in_ch, "in_ch")
        nx = int(x.shape[-1])
        _check_modes(nx, self.modes, "x")
        x_ft = torch.fft.rfft(x, dim=-1)[..., : self.modes]                  # (B, in, modes) complex
        y_ft = torch.einsum("bik,iok->bok", x_ft, self.complex_weight())    # (B, out, modes)
        return torch.fft.irfft(y_ft, n=nx, dim=-1)                          # zero-padded to nx // 2 + 1 modes

    def extra_repr(self) -> str:
        return f"in_ch={self.in_ch}, out_ch={self.out_ch}, modes={self.modes}"


class FNO1d(nn.Module):
    """A Fourier neural operator PDE solver on a periodic 1-D grid, in LPSDA's layout.

    u (B, history, nx) -> (B, future, nx): the ``history`` past time steps are the channels, x is last.

        h = Linear(history, width)(u^T)                 lift, pointwise in x          (B, width, nx)
        h = act_l(SpectralConv1d(h) + Conv1d(h, 1))     l = 1..depth                  (B, width, nx)
        y = Linear(proj, future)(GELU(Linear(width, proj)(h^T)))                      (B, future, nx)

    ``act_l`` is GELU after every block, the last one included, as LPSDA's ``experiments/models_fno.py``
    (default); ``final_activation=False`` leaves the last block linear, as Li et al.'s FNO.
    Unlike LPSDA, dx and dt are not appended as input channels (the lift is Linear(history, width), not
    Linear(history + 2, width)), and there are no grid coordinates, so the model is exactly equivariant under
    cyclic shifts of x.

    Args:
        history: input time steps (20); future: output time steps (20).
        width: hidden channels (64); modes: retained Fourier modes per layer (16); depth: Fourier blocks (4);
            proj: hidden width of the projection head (128). The defaults are a reduced CPU budget; LPSDA's
            solver is width 256, modes 32, depth 5 (proj 128).
        final_activation: GELU after the last Fourier block too (True, as LPSDA's code; False as Li et al.).
        dtype: float32 (default) or float64 (a torch dtype or its name).
        seed: initialisation seed (0); the layers are initialised with PyTorch's defaults (the spectral weights as
            LPSDA) inside a forked RNG, so the caller's random state is untouched. None: torch's global state.

    The grid size nx is free at call time but needs modes <= nx // 2 + 1. ``config()`` gives the constructor
    arguments (``FNO1d(**model.config())`` rebuilds the architecture).
    """

    def __init__(self, history: int = 20, future: int = 20, width: int = 64, modes: int = 16, depth: int = 4,
                 proj: int = 128, *, final_activation: bool = True, dtype=torch.float32, seed: int | None = 0):
        super().__init__()
        self.history = check_int(history, "history", 1)
        self.future = check_int(future, "future", 1)
        self.width = check_int(width, "width", 1)
        self.modes = check_int(modes, "modes", 1)
        self.depth = check_int(depth, "depth", 1)
        self.proj = check_int(proj, "proj", 1)
        if not isinstance(final_activation, bool):
            raise TypeError(f"final_activation: expected a bool, got {type(final_activation).__name__}")
        self.final_activation = final_activation
        dt = _dtype(dtype)
        self.seed = check_int(seed, "seed", 0, allow_none=True)
        with torch.random.fork_rng(devices=[], enabled=self.seed is not None):
            if self.seed is not None:
                torch.manual_seed(self.seed)
            self.lift = nn.Linear(self.history, self.width, dtype=dt)
            self.spectral = nn.ModuleList(SpectralConv1d(self.width, self.width, self.modes, dtype=dt)
                                          for _ in range(self.depth))
            self.pointwise = nn.ModuleList(nn.Conv1d(self.width, self.width, 1, dtype=dt) for _ in range(self.depth))
            self.head1 = nn.Linear(self.width, self.proj, dtype=dt)
            self.head2 = nn.Linear(self.proj, self.future, dtype=dt)

    @property
    def dtype(self) -> torch.dtype:
        return self.lift.weight.dtype

    def config(self) -> dict:
        """The constructor arguments: history, future, width, modes, depth, proj, final_activation, dtype (its
        name) and seed."""
        return {"history": self.history, "future": self.future, "width": self.width, "modes": self.modes,
                "depth": self.depth, "proj": self.proj, "final_activation": self.final_activation,
                "dtype": _dtype_name(self.dtype), "seed": self.seed}

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """u (B, history, nx) of the module's dtype -> (B, future, nx)."""
        _check_input(u, "u", self.dtype, self.history, "history")
        _check_modes(int(u.shape[-1]), self.modes, "u")
        h = self.lift(u.transpose(1, 2)).transpose(1, 2)                     # (B, width, nx)
        for i, (spec, conv) in enumerate(zip(self.spectral, self.pointwise)):
            h = spec(h) + conv(h)
            if i < self.depth - 1 or self.final_activation:
                h = F.gelu(h)
        y = self.head2(F.gelu(self.head1(h.transpose(1, 2))))              # (B, nx, future)
        return y.transpose(1, 2)

    def num_parameters(self) -> int:
        """Number of trainable scalars (a complex weight counts as two)."""
        return sum(math.prod(p.shape) for p in self.parameters() if p.requires_grad)

    def extra_repr(self) -> str:
        fin = "" if self.final_activation else ", final_activation=False"
        return (f"history={self.history}, future={self.future}, width={self.width}, modes={self.modes}, "
                f"depth={self.depth}, proj={self.proj}{fin}")
