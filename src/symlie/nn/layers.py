"""Equivariant neural networks built on :func:`symlie.equivariant_basis`.

* :class:`EquivariantLinear` -- W = sum of basis maps times trainable coefficients, bias in the invariant
  subspace of rep_out. Parameters are kept per block type, so layers between representations with many
  copies of a few types stay cheap (one cached basis per type pair).
* :class:`GatedNonlinearity` -- scalars pass through SiLU; every other irreducible-like component is multiplied
  by sigmoid of its own invariant gate scalar (Weiler et al., EMLP), which commutes with any group action
  that fixes scalars. Use :func:`gated` to append the gate scalars to a representation.
* :class:`EquivariantBilinear` -- two equivariant projections u, v of the input to a small representation,
  all pairwise tensor products u_i (x) v_j of their components, and an equivariant linear map back: products
  of features (e.g. inner products or outer products of vectors) that a linear layer cannot form.
* :class:`EquivariantMLP` -- EMLP-style blocks ``gate(lin(x) + bilinear(lin(x)))`` then a final linear layer.

Weights are float32 by default (``dtype`` argument); bases are solved in float64 and cast once.

Inputs (every module's ``forward``): a tensor, numpy array or nested sequence of shape (..., s_in).

* floating tensors and numpy arrays must have the module's floating dtype (that of its parameters): a
  mismatch is a ``TypeError`` naming ``x`` that says how to convert (``x.float()`` / ``x.to(dtype)``, or the
  module: ``model.double()``). Precision is never changed silently.
* integer and boolean input, and Python sequences (which have no dtype of their own), are converted to the
  module's dtype (``torch.get_default_dtype()`` for a module without floating tensors); numpy input is moved
  to the module's device. The output is always a tensor.
* a wrong last dimension is a ``ValueError`` naming ``x`` with the expected size; complex input is refused.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from itertools import chain

import numpy as np
import torch
from torch import nn

from ..utils.validation import SymlieError, as_tensor, check_int
from ..enforce.basis import equivariant_basis, invariant_basis
from ..lie.groups import as_group
from ..lie.reps import ProductRep, Rep, SumRep, Trivial, Vector

__all__ = ["EquivariantLinear", "GatedNonlinearity", "EquivariantBilinear", "EquivariantBlock", "EquivariantMLP",
           "gated", "uniform_rep"]


def _module_dtype(module: nn.Module) -> torch.dtype | None:
    """The floating dtype of a module's parameters (else its buffers); None when it has neither."""
    for t in chain(module.parameters(), module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return None


def _module_device(module: nn.Module) -> torch.device | None:
    for t in chain(module.parameters(), module.buffers()):
        return t.device
    return None


def _cast(dtype: torch.dtype) -> str:
    """The method call converting a tensor / module to ``dtype`` (``.float()``, ``.double()``, ...)."""
    short = {torch.float32: "float", torch.float64: "double", torch.float16: "half", torch.bfloat16: "bfloat16"}
    return f".{short[dtype]}()" if dtype in short else f".to({dtype})"


def _check_input(x, module: nn.Module, size: int, what: str) -> torch.Tensor:
    """``x`` as a tensor of the module's dtype with last dimension ``size`` (see the module docstring)."""
    dtype = _module_dtype(module)
    if isinstance(x, torch.Tensor):
        t, own_dtype = x, x.is_floating_point()
    elif isinstance(x, np.ndarray) and x.dtype.kind in "fiub":
        t, own_dtype = torch.from_numpy(np.ascontiguousarray(x)), x.dtype.kind == "f"
    else:   # sequences (no dtype of their own); complex, object and string arrays are refused here
        t, own_dtype = as_tensor(x, "x", finite=False), False
    if t.is_complex():
        raise TypeError(f"x: complex values are not supported (got {t.dtype}); pass real inputs")
    if own_dtype:
        if dtype is not None and t.dtype != dtype:
            raise TypeError(f"x: expected {dtype} input like the module's parameters, got {t.dtype}; convert the "
                            f"input (x{_cast(dtype)}) or the module (model{_cast(t.dtype)})")
    else:
        t = t.to(dtype if dtype is not None else torch.get_default_dtype())
    if not isinstance(x, torch.Tensor):
        device = _module_device(module)
        if device is not None:
            t = t.to(device)
    if t.ndim == 0 or t.shape[-1] != size:
        raise ValueError(f"x: expected last dimension {size} ({what}), got shape {tuple(t.shape)}")
    return t


def _check_reps(rep_in, rep_out) -> None:
    """Both arguments are Reps of one group (the input check of every network constructor)."""
    for name, r in (("rep_in", rep_in), ("rep_out", rep_out)):
        if not isinstance(r, Rep):
            raise TypeError(f"{name}: expected a Rep (e.g. sl.V(G)), got {type(r).__name__}")
    if rep_in.group != rep_out.group:
        raise SymlieError(f"rep_in, rep_out: representations of different groups ({rep_in.group.name} and "
                          f"{rep_out.group.name})")


def _components(rep: Rep) -> list[Rep]:
    return list(rep.reps) if isinstance(rep, SumRep) else [rep]


def _is_scalar(r: Rep) -> bool:
    return isinstance(r, Trivial)


def _rank(r: Rep) -> int:
    """Number of vector / covector factors of a component (0 for scalars)."""
    if isinstance(r, Trivial):
        return 0
    if isinstance(r, ProductRep):
        return sum(_rank(f) for f in r.reps)
    if isinstance(r, SumRep):
        return max(_rank(f) for f in r.reps)
    return 1


def uniform_rep(channels: int, group, max_rank: int = 2, allocation: str = "even") -> Rep:
    """A hidden representation of about ``channels`` dimensions made of tensors V^(x)r.

    ``allocation="even"``: scalars, vectors, ... up to rank ``max_rank``, each rank getting
    channels / (max_rank + 1) dimensions. ``allocation="emlp"``: EMLP's rule (``emlp.nn.uniform_rep``): repeatedly
    take the largest rank r with (r + 1) n^r <= the channels left and add n^(r - k) tensors of every rank k <= r
    (the same number of dimensions per rank), until all ``channels`` dimensions are used; ``max_rank`` is ignored
    (O(3) at 128 channels gets ranks 0-3). Rank-r tensors are V^(x)r for every group (EMLP splits them over
    T(p, q) with p + q = r, the same representation up to equivalence for orthogonal groups).
    """
    G = as_group(group)
    check_int(channels, "channels", 1)
    n = G.n
    if allocation == "emlp":
        counts: list[int] = []
        left = channels
        while left > 0:
            top = 0
            while (top + 2) * n ** (top + 1) <= left:
                top += 1
            counts += [0] * (top + 1 - len(counts))
            for k in range(top + 1):
                counts[k] += n ** (top - k)
            left -= (top + 1) * n ** top
        V = Vector(G)
        parts = [c * (V ** r) for r, c in enumerate(counts) if c]
        return sum(parts[1:], parts[0])
    if allocation != "even":
        raise ValueError(f"allocation: expected 'even' or 'emlp', got {allocation!r}")
    per = channels / (max_rank + 1)
    parts = []
    V = Vector(G)
    for r in range(max_rank + 1):
        mult = int(per // (n ** r))
        if mult >= 1:
            parts.append(mult * (V ** r))
    if not parts:
        raise ValueError(f"channels: {channels} is too small for group {G.name} (need at least {max_rank + 1})")
    return sum(parts[1:], parts[0])


def gated(rep: Rep) -> Rep:
    """``rep`` plus one gate scalar for every non-scalar component."""
    k = sum(not _is_scalar(c) for c in _components(rep))
    return rep + Trivial(rep.group, k) if k else rep


class EquivariantLinear(nn.Module):
    """y = W x + b with W in the equivariant basis of rep_in -> rep_out and b in the invariant subspace.

    Args:
        rep_in, rep_out: linear representations of the same group (sizes s_in, s_out).
        bias: include the invariant bias.
        dtype: parameter dtype (float32 default).
        init: ``"lecun"``: coefficients N(0, s_b / (k s_in)) for a block type with k maps on s_b entries, so that
            W has entries of variance 1 / s_in on average; zero bias. ``"projected"``: EMLP's rule, an orthogonal
            (s_out, s_in) matrix projected on the equivariant maps and a U(0, 1) / sqrt(s_out) vector projected on
            the invariant biases (much smaller weights when the equivariant maps are a small part of all maps).
        basis_kwargs: passed to :func:`equivariant_basis` (method, rtol, ...).
    Input (..., s_in) -> output (..., s_out).
    """

    bias_basis: torch.Tensor | None  # buffers (register_buffer)
    flat_index: torch.Tensor

    def __init__(self, rep_in: Rep, rep_out: Rep, bias: bool = True, dtype: torch.dtype = torch.float32,
                 generator: torch.Generator | None = None, init: str = "lecun", **basis_kwargs):
        super().__init__()
        self.rep_in, self.rep_out = rep_in, rep_out
        basis = equivariant_basis(rep_in, rep_out, **basis_kwargs)
        self.basis_info = basis
        si = rep_in.size
        groups: "OrderedDict[str, list]" = OrderedDict()
        for b in basis.blocks:
            groups.setdefault(b.key, []).append(b)
        self._keys = list(groups)
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        if init not in ("lecun", "projected"):
            raise ValueError(f"init: expected 'lecun' or 'projected', got {init!r}")
        if init == "projected":   # EMLP's rule: an orthogonal (s_out, s_in) matrix projected on the equivariant maps
            A = torch.randn(max(rep_out.size, si), min(rep_out.size, si), generator=gen, dtype=torch.float64)
            q, r = torch.linalg.qr(A)
            q = q * torch.sign(torch.diagonal(r))
            W0 = q if rep_out.size >= si else q.T                                                  # (s_out, s_in)
        self.coeffs = nn.ParameterList()
        flats: list[torch.Tensor] = []
        for i, (_key, blks) in enumerate(groups.items()):
            Q = blks[0].Q
            so_b = blks[0].out_slice.stop - blks[0].out_slice.start
            si_b = blks[0].in_slice.stop - blks[0].in_slice.start
            rows = torch.stack([torch.arange(b.out_slice.start, b.out_slice.stop) for b in blks])   # (m, so_b)
            cols = torch.stack([torch.arange(b.in_slice.start, b.in_slice.stop) for b in blks])     # (m, si_b)
            flat = (rows[:, :, None] * si + cols[:, None, :]).reshape(len(blks), -1)               # (m, so_b*si_b)
            self.register_buffer(f"Q{i}", Q.to(dtype).T.contiguous(), persistent=False)            # (k, so_b*si_b)
            flats.append(flat.reshape(-1))
            if init == "lecun":
                std = math.sqrt(so_b * si_b / (Q.shape[1] * si))
                c = torch.randn(len(blks), Q.shape[1], generator=gen, dtype=torch.float64) * std
            else:   # the projection of the orthogonal W0 onto the span of this block type: Q^T vec(W0[block])
                c = W0.reshape(-1)[flat] @ Q
            self.coeffs.append(nn.Parameter(c.to(dtype)))
        self.register_buffer("flat_index", torch.cat(flats) if flats else torch.zeros(0, dtype=torch.long),
                             persistent=False)                                  # vec(W) positions, type by type
        self.register_buffer("bias_basis", None, persistent=False)
        if bias:
            inv = invariant_basis(rep_out, **basis_kwargs)
            if inv.dim:
                self.register_buffer("bias_basis", inv.basis.to(dtype), persistent=False)  # (s_out, k_b)
                b0 = (torch.zeros(inv.dim, dtype=torch.float64) if init == "lecun" else
                      (torch.rand(rep_out.size, generator=gen, dtype=torch.float64) / math.sqrt(rep_out.size))
                      @ inv.basis)
                self.bias_coeffs = nn.Parameter(b0.to(dtype))

    @property
    def num_free(self) -> int:
        """Number of trainable coefficients (weights + bias)."""
        return sum(p.numel() for p in self.parameters())

    def weight(self) -> torch.Tensor:
        """The (s_out, s_in) weight matrix assembled from the coefficients."""
        so, si = self.rep_out.size, self.rep_in.size
        dtype = self.coeffs[0].dtype if len(self.coeffs) else (_module_dtype(self) or torch.get_default_dtype())
        W = torch.zeros(so * si, dtype=dtype, device=self.coeffs[0].device if len(self.coeffs) else None)
        if not len(self.coeffs):
            return W.reshape(so, si)
        # one scatter for all block types (the blocks never overlap): a functional index_put per type would copy
        # the whole (s_out * s_in) matrix once per type, which dominated the step of wide bilinear layers
        vals = torch.cat([(self.coeffs[i] @ getattr(self, f"Q{i}")).reshape(-1) for i in range(len(self.coeffs))])
        return W.index_put((self.flat_index,), vals).reshape(so, si)

    def forward(self, x) -> torch.Tensor:
        x = _check_input(x, self, self.rep_in.size, str(self.rep_in))
        y = x @ self.weight().to(x.dtype).T
        if self.bias_basis is not None:
            y = y + self.bias_basis @ self.bias_coeffs
        return y


class GatedNonlinearity(nn.Module):
    """Input (..., gated(rep).size) -> output (..., rep.size): SiLU on scalars, sigmoid(gate) * component
    for every non-scalar component (gates are the trailing scalars added by :func:`gated`)."""

    scalar_idx: torch.Tensor  # buffers (register_buffer)
    gated_idx: torch.Tensor
    gate_of: torch.Tensor

    def __init__(self, rep: Rep):
        super().__init__()
        self.rep = rep
        comps = _components(rep)
        scalar_idx, gated_idx, gate_of = [], [], []
        o = g = 0
        for c in comps:
            idx = list(range(o, o + c.size))
            if _is_scalar(c):
                scalar_idx += idx
            else:
                gated_idx += idx
                gate_of += [rep.size + g] * c.size
                g += 1
            o += c.size
        self.register_buffer("scalar_idx", torch.tensor(scalar_idx, dtype=torch.long), persistent=False)
        self.register_buffer("gated_idx", torch.tensor(gated_idx, dtype=torch.long), persistent=False)
        self.register_buffer("gate_of", torch.tensor(gate_of, dtype=torch.long), persistent=False)
        self.in_size = rep.size + g

    def forward(self, x) -> torch.Tensor:
        x = _check_input(x, self, self.in_size, f"gated {self.rep}")
        out = x[..., : self.rep.size].clone()
        if self.scalar_idx.numel():
            out[..., self.scalar_idx] = nn.functional.silu(x[..., self.scalar_idx])
        if self.gated_idx.numel():
            out[..., self.gated_idx] = x[..., self.gated_idx] * torch.sigmoid(x[..., self.gate_of])
        return out


class EquivariantBilinear(nn.Module):
    """Equivariant products of features: rep_in -> rep_out through pairwise tensor products.

    u = P_u x and v = P_v x (equivariant linear maps to ``rep_mid``), z = (u_i (x) v_j for every pair of
    components i, j of rep_mid), y = scale * L z with L equivariant. ``rep_mid`` defaults to a small
    :func:`uniform_rep` of ``mid_channels`` dimensions with scalars and vectors.
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, rep_mid: Rep | None = None, mid_channels: int = 24,
                 mid_rank: int = 1, max_pair_rank: int = 3, scale: float = 0.1, dtype: torch.dtype = torch.float32,
                 generator: torch.Generator | None = None, init: str = "lecun", **basis_kwargs):
        super().__init__()
        rep_mid = rep_mid if rep_mid is not None else uniform_rep(mid_channels, rep_in.group, max_rank=mid_rank)
        lin = dict(dtype=dtype, generator=generator, init=init, **basis_kwargs)
        self.pu = EquivariantLinear(rep_in, rep_mid, bias=True, **lin)
        self.pv = EquivariantLinear(rep_in, rep_mid, bias=True, **lin)
        comps = _components(rep_mid)
        offs = [0]
        for c in comps:
            offs.append(offs[-1] + c.size)
        s = rep_mid.size
        pair_reps, perm = [], []
        for i, ci in enumerate(comps):
            for j, cj in enumerate(comps):
                if _rank(ci) + _rank(cj) > max_pair_rank:
                    continue
                pair_reps.append(ProductRep([ci, cj]))
                ii = torch.arange(offs[i], offs[i + 1])
                jj = torch.arange(offs[j], offs[j + 1])
                perm.append((ii[:, None] * s + jj[None, :]).reshape(-1))
        self.register_buffer("perm", torch.cat(perm), persistent=False)
        rep_pairs = SumRep(pair_reps)
        self.out = EquivariantLinear(rep_pairs, rep_out, bias=False, **lin)
        self.scale = scale

    def forward(self, x) -> torch.Tensor:
        x = _check_input(x, self, self.pu.rep_in.size, str(self.pu.rep_in))
        u, v = self.pu(x), self.pv(x)
        z = (u[..., :, None] * v[..., None, :]).flatten(-2)[..., self.perm]
        return self.scale * self.out(z)


class EquivariantBlock(nn.Module):
    """gate(h + bilinear(h)) with h = linear(x): rep_in -> rep_out (EMLP's block structure)."""

    def __init__(self, rep_in: Rep, rep_out: Rep, dtype=torch.float32, generator=None, mid_channels: int = 24,
                 mid_rank: int = 1, init: str = "lecun", **basis_kwargs):
        super().__init__()
        g = gated(rep_out)
        self.linear = EquivariantLinear(rep_in, g, dtype=dtype, generator=generator, init=init, **basis_kwargs)
        self.bilinear = EquivariantBilinear(g, g, mid_channels=mid_channels, mid_rank=mid_rank, dtype=dtype,
                                            generator=generator, init=init, **basis_kwargs)
        self.gate = GatedNonlinearity(rep_out)

    def forward(self, x) -> torch.Tensor:
        h = self.linear(x)
        return self.gate(h + self.bilinear(h))


class EquivariantMLP(nn.Module):
    """An equivariant MLP rep_in -> rep_out (comparable to EMLP).

    Args:
        rep_in, rep_out: input / output representations of one group.
        hidden: hidden representation, or an int number of channels for :func:`uniform_rep`.
        depth: number of :class:`EquivariantBlock` s before the final :class:`EquivariantLinear`.
        mid_channels: size of the small representation inside each bilinear layer. It must hold at least as
            many vectors as the products the task needs (e.g. one per input particle): on EMLP's tasks 96 beat
            24 at N = 1000 on all three (Inertia 0.126 vs 2.36) but overfit more at N <= 100 on O5Synthetic,
            and trains slower (benchmarks/results/emlp_tasks_configB.md, emlp_tasks_mid24.md). On these tasks
            :class:`symlie.nn.ScalarMLP` is the more sample-efficient family (emlp_tasks.md).
        mid_rank: highest tensor rank in that representation (2 adds V (x) V components).
        dtype: parameter dtype; ``seed``: initialisation seed.
        init: as in :class:`EquivariantLinear` (``"projected"``: EMLP's rule; worse on O5Synthetic, see
            benchmarks/results/emlp_diagnosis.md).
        allocation: as in :func:`uniform_rep`, for an int ``hidden`` (``"emlp"``: EMLP's rule; better on
            O5Synthetic at N = 100, not measured on the other tasks).
    """

    def __init__(self, rep_in: Rep, rep_out: Rep, hidden: Rep | int = 384, depth: int = 3, mid_channels: int = 24,
                 mid_rank: int = 1, dtype: torch.dtype = torch.float32, seed: int = 0, init: str = "lecun",
                 allocation: str = "even", **basis_kwargs):
        super().__init__()
        _check_reps(rep_in, rep_out)
        check_int(depth, "depth", 1)
        if isinstance(hidden, bool) or not isinstance(hidden, (int, Rep)):
            raise TypeError(f"hidden: expected one Rep (used for every block, e.g. 16 * sl.V(G)) or an int number of "
                            f"channels, got {type(hidden).__name__}")
        if isinstance(hidden, Rep) and hidden.group != rep_in.group:
            raise SymlieError(f"hidden: a representation of {hidden.group.name}, but rep_in is of "
                              f"{rep_in.group.name}")
        hid = (uniform_rep(check_int(hidden, "hidden", 1), rep_in.group, allocation=allocation)
               if isinstance(hidden, int) else hidden)
        gen = torch.Generator().manual_seed(seed)
        reps = [rep_in] + [hid] * depth
        self.blocks = nn.Sequential(*[EquivariantBlock(a, b, dtype=dtype, generator=gen, mid_channels=mid_channels,
                                                       mid_rank=mid_rank, init=init, **basis_kwargs)
                                      for a, b in zip(reps[:-1], reps[1:])])
        self.head = EquivariantLinear(hid, rep_out, dtype=dtype, generator=gen, init=init, **basis_kwargs)
        self.rep_in, self.rep_out, self.hidden = rep_in, rep_out, hid

    def forward(self, x) -> torch.Tensor:
        x = _check_input(x, self, self.rep_in.size, str(self.rep_in))
        return self.head(self.blocks(x))
