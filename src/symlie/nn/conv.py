"""Convolutional networks on scalar fields whose symmetry can be measured, promoted and polished: the layers'
Lie-derivative operators in parameter form, computed by the grid Lie derivative
(:func:`symlie.lie_derivative_grid`).

Fields are images u (N, C, H, W) on the periodic pixel grid (the torus: circular padding), every channel a scalar
field. A group acts on the domain R^2 by affine maps x -> exp(t xi) x, with the vector field v_xi(x) = A x + b
(A the linear part of xi, b its translation; ``sl.se(2)`` gives rotation about the grid centre and the two
translations). The Lie derivative of a field is (L_xi u)(x) = Du(x) v_xi(x) (framework.md 2.5) and that of an
operator T between fields is the commutator L_xi T = L_xi^out T - T L_xi^in (2.6). For the two layers here:

* :class:`FieldConv2d`, (T u)(x) = sum_y kappa(x - y) u(y) (a convolution; circular padding): integrating by parts,
  L_xi T is again a convolution, with the kernel

      (L_xi kappa)(z) = D kappa(z) A z + tr(A) kappa(z),

  the Lie derivative of kappa as a density under the linear part only (translations commute with every
  convolution: their columns are exactly zero). The kernel (K x K, K odd, offsets z centred on its middle pixel)
  is zero outside its support, so it is zero-padded by one pixel and differentiated by central differences
  (``method="fd"``); on that grid the rotation-invariant 3 x 3 / 5 x 5 / 7 x 7 kernels form a space of dimension
  2 / 3 / 4 (the discrete radial profiles).
* :class:`FieldLinear`, the head phi(u) = sum_x w(x) . u(x) + c (a linear functional per output, invariant
  outputs): L_xi phi = -phi o L_xi^in, and by parts that is the functional of the weight

      (L_xi w)(x) = Dw(x) v_xi(x) + tr(A) w(x)

  with v the whole affine field (translations included) on the periodic grid (central differences, the
  coordinates of the pixel grid with the origin at its centre). Its invariant weights are the constant ones
  (global average pooling) for translations; rotation makes them radial (up to the torus' corners, where the
  rotation field is not periodic: the discrete operator there is what is measured and made exact). Use odd grid
  sizes: on an even periodic grid central differences also annihilate the period-2 patterns (-1)^i, (-1)^j,
  (-1)^(i+j), so "translation-invariant" weights there may keep a checkerboard that a shift by one pixel flips.

Pointwise nonlinearities commute with the action on scalar channels, and biases of scalar channels are invariant,
so the stacked operator of the layers (:meth:`FieldCNN.operator`, (rows, q)) vanishes on a generator exactly when
every layer is equivariant under it: its nullspace is the network's symmetry algebra inside the candidates, the
object that :class:`symlie.promote.ADMMPenalty` makes low rank (:meth:`FieldCNN.promotion`). All operators are
linear in the parameters and returned in the parameters' dtype; column j belongs to the candidate generator j.
"""
from __future__ import annotations

import math
from typing import Sequence, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..derivative import lie_derivative_grid
from ..lie import SE, LieAlgebra, Point, as_group, se
from ..promote import ADMMPenalty, stacked_operator
from ..utils.errors import SymlieError
from ..utils.validation import check_int

__all__ = ["FieldConv2d", "FieldLinear", "FieldCNN", "plane_generators"]

_POINT = Point(SE(2))


def plane_generators(candidates, name: str = "candidates") -> torch.Tensor:
    """The candidate generators as homogeneous (q, 3, 3) float64 matrices [[A, b], [0, 0]] acting on R^2.

    ``candidates``: a LieAlgebra or Group acting on R^2, linear (2 x 2 generators: b = 0) or affine (3 x 3
    homogeneous, e.g. ``sl.se(2)``). Anything else (another dimension, not an algebra) is refused, naming
    ``name``."""
    if isinstance(candidates, LieAlgebra):
        alg = candidates
    else:
        try:
            alg = as_group(candidates).algebra
        except (TypeError, ValueError, SymlieError, AttributeError):
            raise TypeError(f"{name}: expected a LieAlgebra or Group acting on the image plane R^2 (e.g. sl.se(2)), "
                            f"got {type(candidates).__name__}") from None
    if alg.n != 2:
        raise SymlieError(f"{name}: {alg!r} acts on R^{alg.n}; a field layer's domain is the image plane R^2 "
                          f"(expected 2 x 2 or homogeneous 3 x 3 generators, e.g. sl.se(2))")
    return alg.to_affine().basis.to(torch.float64)


def _trace_terms(H: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """tr(A_j) for the generators H (q, 3, 3), shaped to broadcast against (q, *like.shape)."""
    tr = (H[:, 0, 0] + H[:, 1, 1]).to(like)
    return tr.reshape(-1, *([1] * like.ndim))


def _check_field_input(x, C: int, name: str, shape: tuple[int, int] | None = None) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != C:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name}: expected fields of shape (N, {C}, H, W), got {got}")
    if shape is not None and tuple(x.shape[-2:]) != shape:
        raise ValueError(f"{name}: expected fields on a {shape[0]} x {shape[1]} grid, got {tuple(x.shape[-2:])}")


class FieldConv2d(nn.Module):
    """A convolution of scalar fields on the periodic grid: (N, C_in, H, W) -> (N, C_out, H, W), kernel K x K
    (K odd), circular padding, stride 1, optional bias; with its Lie-derivative operator.

    Attributes: ``weight`` (C_out, C_in, K, K), ``bias`` (C_out,) or None. ``seed`` fixes the initialisation (torch's
    default for Conv2d; None: the global generator)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, *, bias: bool = True,
                 seed: int | None = None):
        super().__init__()
        self.in_channels = check_int(in_channels, "in_channels", 1)
        self.out_channels = check_int(out_channels, "out_channels", 1)
        self.kernel_size = check_int(kernel_size, "kernel_size", 1)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size: expected an odd size (a kernel centred on a pixel), got {kernel_size}")
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(check_int(seed, "seed", 0))
            conv = nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, bias=bias)
        self.weight = nn.Parameter(conv.weight.detach().clone())
        self.bias = nn.Parameter(conv.bias.detach().clone()) if conv.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_field_input(x, self.in_channels, "x")
        p = self.kernel_size // 2
        return F.conv2d(F.pad(x, (p, p, p, p), mode="circular") if p else x, self.weight, self.bias)

    def kernel_lie_derivative(self, candidates) -> torch.Tensor:
        """(q, C_out, C_in, K + 2, K + 2): L_xi kappa = D kappa(z) A z + tr(A) kappa(z) on the kernel zero-padded by
        one pixel (central differences), per candidate generator; zero for translations."""
        H = plane_generators(candidates).clone()
        H[:, :2, 2] = 0.0                                  # only the linear part acts on the offsets z = x - y
        kp = F.pad(self.weight, (1, 1, 1, 1))
        c = (self.kernel_size + 1) / 2
        L = lie_derivative_grid(kp, H.to(kp.dtype), rep_domain=_POINT, method="fd", origin=[c, c])
        return L + _trace_terms(H, kp) * kp.unsqueeze(0)

    def operator(self, candidates) -> torch.Tensor:
        """The layer's Lie-derivative operator in parameter form, (C_out C_in (K + 2)^2, q), linear in the weight
        (the bias of scalar channels is invariant: no rows)."""
        L = self.kernel_lie_derivative(candidates)
        return L.reshape(L.shape[0], -1).T

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"bias={self.bias is not None}, padding=circular")


class FieldLinear(nn.Module):
    """A linear functional per output of a field on a fixed grid: (N, C, H, W) -> (N, n_out),
    y_o = sum_{c, x} w_o,c(x) u_c(x) + b_o (the flattened linear head of a CNN), with its Lie-derivative operator.

    Attributes: ``weight`` (n_out, C, H, W), ``bias`` (n_out,). ``seed`` fixes the initialisation (that of
    ``nn.Linear`` on the flattened field)."""

    def __init__(self, channels: int, grid: Sequence[int], n_out: int, *, seed: int | None = None):
        super().__init__()
        self.channels = check_int(channels, "channels", 1)
        if isinstance(grid, (str, bytes)) or not isinstance(grid, Sequence) or len(grid) != 2:
            raise ValueError(f"grid: expected (H, W), got {grid!r}")
        self.grid = (check_int(grid[0], "grid", 2), check_int(grid[1], "grid", 2))
        self.n_out = check_int(n_out, "n_out", 1)
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(check_int(seed, "seed", 0))
            lin = nn.Linear(self.channels * math.prod(self.grid), self.n_out)
        self.weight = nn.Parameter(lin.weight.detach().reshape(self.n_out, self.channels, *self.grid).clone())
        self.bias = nn.Parameter(lin.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_field_input(x, self.channels, "x", self.grid)
        return x.flatten(1) @ self.weight.flatten(1).T + self.bias

    def weight_lie_derivative(self, candidates) -> torch.Tensor:
        """(q, n_out, C, H, W): L_xi w = Dw v_xi + tr(A) w on the periodic grid (central differences, origin at
        the grid centre), per candidate generator."""
        H = plane_generators(candidates)
        w = self.weight
        origin = [(s - 1) / 2 for s in self.grid]
        L = lie_derivative_grid(w, H.to(w.dtype), rep_domain=_POINT, method="fd", origin=origin)
        return L + _trace_terms(H, w) * w.unsqueeze(0)

    def operator(self, candidates) -> torch.Tensor:
        """The head's Lie-derivative operator in parameter form, (n_out C H W, q), linear in the weight."""
        L = self.weight_lie_derivative(candidates)
        return L.reshape(L.shape[0], -1).T

    def extra_repr(self) -> str:
        return f"channels={self.channels}, grid={self.grid}, n_out={self.n_out}"


class FieldCNN(nn.Module):
    """A small CNN of scalar fields whose symmetry over a candidate algebra on the plane is measured and promoted:
    ``FieldConv2d`` blocks (conv -> ReLU, full resolution, circular padding) and a :class:`FieldLinear` head.

    Args:
        image_size: (H, W) of the input grid (default 17 x 17; odd sizes, see the module docstring); in_channels:
            input channels (1 for grey images).
        channels: output channels per convolution (default (8, 16)); kernel_size: odd (default 5).
        n_classes: outputs (logits).
        group: the default candidate algebra of :meth:`operator` / :meth:`promotion` (default ``sl.se(2)``:
            rotation about the grid centre and the two translations).
        seed: the initialisation (each layer forked from it); None: torch's global generator.

    Input (N, in_channels, H, W) -> logits (N, n_classes). With no promotion it is a plain CNN (the baseline).
    """

    def __init__(self, image_size: Sequence[int] = (17, 17), *, in_channels: int = 1,
                 channels: Sequence[int] = (8, 16), kernel_size: int = 5, n_classes: int = 10, group=None,
                 seed: int | None = 0):
        super().__init__()
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or len(channels) == 0:
            raise ValueError(f"channels: expected a non-empty sequence of ints, got {channels!r}")
        self.channels = tuple(check_int(c, "channels", 1) for c in channels)
        self.in_channels = check_int(in_channels, "in_channels", 1)
        if isinstance(image_size, (str, bytes)) or not isinstance(image_size, Sequence) or len(image_size) != 2:
            raise ValueError(f"image_size: expected (H, W), got {image_size!r}")
        self.image_size = (check_int(image_size[0], "image_size", 2), check_int(image_size[1], "image_size", 2))
        self.group = se(2) if group is None else group
        plane_generators(self.group, "group")
        s = None if seed is None else check_int(seed, "seed", 0)
        convs, c_in = [], self.in_channels
        for i, c in enumerate(self.channels):
            convs.append(FieldConv2d(c_in, c, kernel_size, seed=None if s is None else s + i))
            c_in = c
        self.convs = nn.ModuleList(convs)
        self.head = FieldLinear(c_in, self.image_size, check_int(n_classes, "n_classes", 2),
                                seed=None if s is None else s + len(convs))

    def layers(self) -> list[nn.Module]:
        """The parametrised layers in order (convolutions, then the head)."""
        return [*self.convs, self.head]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolution's fields (N, channels[-1], H, W)."""
        _check_field_input(x, self.in_channels, "x", self.image_size)
        for conv in self.convs:
            x = torch.relu(conv(x))
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def operator(self, candidates=None) -> torch.Tensor:
        """The stacked Lie-derivative operator S(theta) (rows, q) of all layers over ``candidates`` (default
        :attr:`group`): its nullspace is the network's symmetry algebra inside the candidates."""
        return stacked_operator(self.layers(), self.group if candidates is None else candidates)

    def promotion(self, candidates=None, **kwargs) -> ADMMPenalty:
        """The ADMM split (:class:`symlie.promote.ADMMPenalty`) of gamma ||operator(candidates)||_* over the
        layers' weights (the biases do not enter the operator); ``kwargs``: gamma, rho, update_every, reweight,
        the rank rule, ..."""
        cands = self.group if candidates is None else candidates
        weights = [cast(torch.Tensor, m.weight) for m in self.layers()]
        return ADMMPenalty(lambda: self.operator(cands), weights, **kwargs)

    def extra_repr(self) -> str:
        return f"image_size={self.image_size}, channels={self.channels}, group={self.group!r}"
