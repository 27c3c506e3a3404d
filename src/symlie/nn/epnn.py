"""Equivariance-promoting neural networks (EPNN, Otto et al. experiment E2): layers of basic symmetry blocks.

A *basic symmetry block* on an input x in R^m (framework.md section 7.4)::

    z = A x + b                       an affine map R^m -> R^n             (A (n, m), b (n,))
    s = [1, x]^T Q [1, x]             an invariant scalar quadratic         (Q symmetric (m + 1, m + 1))
    out = sigmoid(s) * z              a gated nonlinearity (Finzi et al.)

A layer of B blocks outputs their concatenation (B n values); the next layer's input is then B copies of the
base representation; the last layer is linear only (z). Q is stored as the coefficients of the monomials
y_i y_j, i <= j, of y = [1, x] (the degree-2 library with bias: C(m + 2, 2) values), so s = sum_{i<=j} q_ij y_i y_j
and Q = (T + T^T) / 2 for the upper-triangular T of the coefficients.

Candidate groups act on the state R^n through a matrix algebra: a linear one ((n, n) matrices, e.g.
``sl.so(3).copies(4)``: so(3) block-diagonally on four 3-vectors) or an affine one ((n + 1, n + 1) homogeneous
matrices, e.g. ``sl.se(3).copies(4, translate=[True, True, False, False])``: translations move x1 and x2 only).
The first layer's input transforms by ``sl.Point(G)`` (x -> A x + b); every block output, and so every hidden
input, by the linear part ``sl.V(G)`` (the tangent action: the state's velocity, which the network outputs as a
vector field, does not translate). The operators below use the one convention L_xi W = W drho_in(xi) -
drho_out(xi) W (:func:`symlie.layer_operator`) and L_xi Q = Q H_xi + H_xi^T Q for the quadratic
(:func:`symlie.promote.quadratic_form_operator`).

Modes:
  * ``"none"``: free parameters A, b, q (U[-init_scale, init_scale], seeded);
  * ``"promote"``: free parameters, and ``operator(candidates)`` (also available in the other modes) is the
    stacked per-block operator S(theta) (rows, q) that :class:`symlie.promote.ADMMPenalty` or
    :class:`symlie.NuclearNormPenalty` (as an operator matrix) promote; ``promotion(...)`` builds the ADMM split;
  * ``"enforce"``: (A, b) and q live in the float64 nullspace of the same operators for ``group`` (plus the
    discrete constraints K_h F = F of its discrete generators), the trainable coefficients in the model's dtype:
    the network is equivariant to round-off under ``group``.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ..lie.algebra import LieAlgebra
from ..lie.groups import Group, as_group
from ..lie.reps import Point, Rep, SumRep, V
from ..linalg import nullspace
from ..promote.penalty import LayerFields, layer_fields, layer_operator, quadratic_form_operator
from ..promote.proximal import ADMMPenalty, stacked_operator
from ..utils.validation import SymlieError, check_int, make_generator
from .layers import _check_input

__all__ = ["EPNN", "EPNNLayer", "EPNN_MODES"]

EPNN_MODES = ("none", "promote", "enforce")
DT = torch.float64


def _as_candidate_group(candidates, name: str) -> Group:
    if isinstance(candidates, (LieAlgebra, Group)):
        return as_group(candidates)
    raise TypeError(f"{name}: expected a LieAlgebra or Group acting on the state (e.g. sl.so(3).copies(4)), got "
                    f"{type(candidates).__name__}")


def _symmetric(qcoef: torch.Tensor, size: int, iu: torch.Tensor) -> torch.Tensor:
    """Q = (T + T^T) / 2 for the upper-triangular T holding the monomial coefficients (..., n_tri) -> (..., s, s)."""
    T = qcoef.new_zeros(*qcoef.shape[:-1], size, size)
    T[..., iu[0], iu[1]] = qcoef
    return 0.5 * (T + T.transpose(-1, -2))


def _affine_parts_of(rep: Rep, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(M, t) with rep.act(g, x) = M x + t for one group element g (float64)."""
    n = rep.size
    pts = torch.cat([torch.zeros(1, n, dtype=DT), torch.eye(n, dtype=DT)])
    y = rep.act(g.to(DT), pts)
    t = y[0]
    return (y[1:] - t).T, t


class EPNNLayer(nn.Module):
    """One EPNN layer: ``blocks`` basic symmetry blocks R^in -> R^block_size (gated), or linear blocks.

    Args:
        in_features: m, the input size (block_size for the first layer, copies x block_size after it).
        block_size: n, the size of the state and of each block's output.
        blocks: B, the number of blocks (output size B n).
        gated: sigmoid(s) * z blocks (True) or linear z = A x + b (the last layer).
        first: the input is the state itself (transforms by ``sl.Point(G)``) rather than copies of block outputs
            (``sl.V(G)`` each).
        mode, group, dtype, generator, init_scale, enforce_rtol: see :class:`EPNN`.
        index: the layer's position (named in error messages).

    Parameters (modes ``"none"`` / ``"promote"``): ``weight`` (B, n, m), ``bias`` (B, n), ``quad`` (B, C(m + 2, 2))
    when gated, read as the properties ``A``, ``b``, ``q``.
    Mode ``"enforce"``: ``coef_ab`` (B, k_ab) and ``coef_q`` (B, k_q) with float64 buffers ``basis_ab``
    (n m + n, k_ab) and ``basis_q`` (C(m + 2, 2), k_q); ``A``, ``b``, ``q`` are then properties.
    """

    basis_ab: torch.Tensor
    basis_q: torch.Tensor
    iu: torch.Tensor

    def __init__(self, in_features: int, block_size: int, blocks: int, *, gated: bool = True, first: bool = False,
                 mode: str = "none", group=None, dtype: torch.dtype = torch.float32,
                 generator: torch.Generator | None = None, init_scale: float = 0.1, enforce_rtol: float = 1e-10,
                 index: int = 0):
        super().__init__()
        self.in_features = check_int(in_features, "in_features", 1)
        self.block_size = n = check_int(block_size, "block_size", 1)
        self.blocks = B = check_int(blocks, "blocks", 1)
        if self.in_features % n or (first and self.in_features != n):
            raise SymlieError(f"in_features: layer {index} has input {self.in_features}, expected "
                              f"{'the state size ' + str(n) if first else 'a multiple of block_size ' + str(n)}")
        if mode not in EPNN_MODES:
            raise SymlieError(f"mode: expected one of {', '.join(map(repr, EPNN_MODES))}, got {mode!r}")
        self.gated, self.first, self.mode, self.index = bool(gated), bool(first), mode, int(index)
        self._fields: tuple | None = None
        m = self.in_features
        self.n_ab = n * m + n
        self.n_tri = (m + 1) * (m + 2) // 2 if self.gated else 0
        self.register_buffer("iu", torch.triu_indices(m + 1, m + 1), persistent=False)
        gen = generator if generator is not None else make_generator(0)

        def uniform(*shape):
            return ((2 * torch.rand(*shape, generator=gen, dtype=DT) - 1) * init_scale).to(dtype)

        if mode == "enforce":
            if group is None:
                raise SymlieError("group: mode='enforce' needs the group whose equivariant nullspace the parameters "
                                  "live in (a LieAlgebra or Group acting on the state)")
            G = _as_candidate_group(group, "group")
            rep_in, rep_out = self.reps(G)
            self.register_buffer("basis_ab", self._basis_ab(G, rep_in, rep_out, enforce_rtol))
            self.register_buffer("basis_q", self._basis_q(G, rep_in, enforce_rtol) if self.gated
                                 else torch.zeros(0, 0, dtype=DT))
            self.coef_ab = nn.Parameter(uniform(B, self.basis_ab.shape[1]))
            self.coef_q = nn.Parameter(uniform(B, self.basis_q.shape[1])) if self.gated else None
        else:
            self.weight = nn.Parameter(uniform(B, n, m))
            self.bias = nn.Parameter(uniform(B, n))
            self.quad = nn.Parameter(uniform(B, self.n_tri)) if self.gated else None

    # ------------------------------------------------------------------------------------------ representations
    def reps(self, candidates, name: str = "candidates") -> tuple[Rep, Rep]:
        """(rep_in, rep_out) of one block under ``candidates``: ``sl.Point(G)`` for the first layer, else copies of
        ``sl.V(G)``; ``sl.V(G)`` for the block output. Candidates acting on another R^k than the blocks are
        refused, the layer and the sizes named."""
        G = _as_candidate_group(candidates, name)
        n, m = self.block_size, self.in_features
        if G.n != n:
            d = G.matrix_size
            raise SymlieError(f"{name}: {G.name} acts on R^{G.n} ({d}x{d}{' affine' if G.affine else ''} matrices), "
                              f"but layer {self.index} ({type(self).__name__}, input {m} = {m // n} x {n}, blocks of "
                              f"size {n}) needs candidates acting on R^{n} ({n}x{n} linear or {n + 1}x{n + 1} affine "
                              f"matrices)")
        rep_out = V(G)
        if self.first:
            return Point(G), rep_out
        k = m // n
        return (SumRep([V(G)] * k) if k > 1 else V(G)), rep_out

    # ------------------------------------------------------------------------------------------ enforce bases
    def _unpack_ab(self, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n, m = self.block_size, self.in_features
        return v[: n * m].reshape(n, m), v[n * m:]

    def _basis_ab(self, G: Group, rep_in: Rep, rep_out: Rep, rtol: float) -> torch.Tensor:
        f = layer_fields(G, rep_in, rep_out) if G.dim else None

        def rows(v):
            A, b = self._unpack_ab(v)
            return layer_operator(A, b, f).reshape(-1)

        eye = torch.eye(self.n_ab, dtype=DT)
        parts = [torch.func.vmap(rows)(eye).T] if G.dim else []     # column i = the operator of unit vector i
        for h in G.discrete:
            Mh, th = _affine_parts_of(rep_in, h)
            Nh_inv = torch.linalg.inv(rep_out.rho(h).to(DT))
            def disc(v, Mh=Mh, th=th, Nh_inv=Nh_inv):              # K_h F - F = N^-1 (A (M x + t) + b) - (A x + b)
                A, b = self._unpack_ab(v)
                return torch.cat([(Nh_inv @ A @ Mh - A).reshape(-1), Nh_inv @ (A @ th + b) - b])
            parts.append(torch.func.vmap(disc)(eye).T)
        return self._null(parts, self.n_ab, rtol)

    def _basis_q(self, G: Group, rep_in: Rep, rtol: float) -> torch.Tensor:
        s = self.in_features + 1
        f = layer_fields(G, rep_in) if G.dim else None

        def rows(v):
            return quadratic_form_operator(_symmetric(v, s, self.iu), f).reshape(-1)

        eye = torch.eye(self.n_tri, dtype=DT)
        parts = [torch.func.vmap(rows)(eye).T] if G.dim else []
        for h in G.discrete:
            Mh, th = _affine_parts_of(rep_in, h)
            Hh = torch.zeros(s, s, dtype=DT)                          # y = [1, x] -> [1, M x + t]
            Hh[0, 0] = 1.0
            Hh[1:, 0], Hh[1:, 1:] = th, Mh
            def disc(v, Hh=Hh):                                      # s(h x) - s(x) = y^T (Hh^T Q Hh - Q) y
                Q = _symmetric(v, s, self.iu)
                return (Hh.T @ Q @ Hh - Q).reshape(-1)
            parts.append(torch.func.vmap(disc)(eye).T)
        return self._null(parts, self.n_tri, rtol)

    @staticmethod
    def _null(parts: list[torch.Tensor], n: int, rtol: float) -> torch.Tensor:
        if not parts:
            return torch.eye(n, dtype=DT)
        return nullspace(torch.cat(parts, 0), rule="rtol", rtol=rtol).basis.contiguous()

    # ------------------------------------------------------------------------------------------ parameters
    @property
    def A(self) -> torch.Tensor:
        """(B, n, m) weights of the affine maps z = A x + b."""
        if self.mode == "enforce":
            return (self.coef_ab @ self.basis_ab.T.to(self.coef_ab.dtype))[:, : self.block_size * self.in_features] \
                .reshape(self.blocks, self.block_size, self.in_features)
        return self.weight

    @property
    def b(self) -> torch.Tensor:
        """(B, n) biases."""
        if self.mode == "enforce":
            return (self.coef_ab @ self.basis_ab.T.to(self.coef_ab.dtype))[:, self.block_size * self.in_features:]
        return self.bias

    @property
    def q(self) -> torch.Tensor | None:
        """(B, C(m + 2, 2)) monomial coefficients of the quadratics s (None for linear blocks)."""
        if not self.gated:
            return None
        if self.mode == "enforce":
            assert self.coef_q is not None
            return self.coef_q @ self.basis_q.T.to(self.coef_q.dtype)
        return self.quad

    def Q(self) -> torch.Tensor | None:
        """(B, m + 1, m + 1) the symmetric forms of the quadratics on [1, x] (None for linear blocks)."""
        q = self.q
        return None if q is None else _symmetric(q, self.in_features + 1, self.iu)

    # ------------------------------------------------------------------------------------------ forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., m) -> (..., B n): the concatenated block outputs sigmoid(s_k) z_k (z_k for linear blocks)."""
        lead = x.shape[:-1]
        xf = x.reshape(-1, self.in_features)
        z = torch.einsum("bnm,Nm->Nbn", self.A, xf) + self.b
        if self.gated:
            y = torch.cat([xf.new_ones(xf.shape[0], 1), xf], 1)
            mono = y[:, self.iu[0]] * y[:, self.iu[1]]                   # (N, n_tri): y_i y_j, i <= j
            q = self.q
            assert q is not None
            s = mono @ q.T                                               # (N, B)
            z = torch.sigmoid(s).unsqueeze(-1) * z
        return z.reshape(*lead, self.blocks * self.block_size)

    # ------------------------------------------------------------------------------------------ operator
    def operator(self, candidates) -> torch.Tensor:
        """The stacked parameter-form Lie derivatives of the blocks (rows, q), differentiable and linear in the
        parameters: :func:`symlie.layer_operator` of the stacked affine maps (A_1; ...; A_B) x + (b_1; ...; b_B)
        into B copies of ``sl.V(G)`` (B (n m + n) rows: every block's vec(L A_k) and L b_k, in a fixed order),
        then, when gated, :func:`symlie.promote.quadratic_form_operator` of each Q_k ((m + 1)^2 rows per block).
        Column j: generator j of the orthonormalised candidates; the parameters' dtype."""
        f = self.fields(candidates)
        B, n, m = self.blocks, self.block_size, self.in_features
        mats = [layer_operator(self.A.reshape(B * n, m), self.b.reshape(B * n), f)]
        Qs = self.Q()
        if Qs is not None:
            LQ = torch.func.vmap(lambda Qk: quadratic_form_operator(Qk, f))(Qs)   # (B, (m + 1)^2, q)
            mats.append(LQ.reshape(-1, LQ.shape[-1]))
        return torch.cat(mats, 0)

    def fields(self, candidates) -> LayerFields:
        """The candidates prepared for this layer (:func:`symlie.promote.layer_fields` with rep_in and B copies of
        the block output representation), cached for the last candidates object seen."""
        cached = self._fields
        if cached is not None and cached[0] is candidates:
            return cached[1]
        G = _as_candidate_group(candidates, "candidates")
        rep_in, rep_out = self.reps(G)
        outs = SumRep([rep_out] * self.blocks) if self.blocks > 1 else rep_out
        f = layer_fields(G, rep_in, outs)
        self._fields = (candidates, f)
        return f

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, block_size={self.block_size}, blocks={self.blocks}, "
                f"gated={self.gated}, mode={self.mode!r}")


class EPNN(nn.Module):
    """An equivariance-promoting network R^n -> R^(n B_last) (a vector field for a neural ODE when B_last = 1).

    Args:
        n: the state size (12 for the double spring pendulum: x1, x2, p1, p2).
        blocks: blocks per layer (default [3, 3, 1]: 4,626 parameters at n = 12); every layer but the last is
            gated, the last linear.
        mode: ``"none"``, ``"promote"`` or ``"enforce"`` (see the module docstring).
        group: ``"enforce"``: the group (LieAlgebra or Group on R^n) whose equivariant nullspace the parameters live
            in (``rep_in`` = ``sl.Point(G)``, ``rep_out`` = ``sl.V(G)`` copies are then attributes, for
            :func:`symlie.testing.assert_equivariant`); ``"promote"`` / ``"none"``: optional default candidates of
            :meth:`operator`.
        dtype: of the trainable parameters (float32 or float64; bases are float64 buffers).
        seed: the initialisation U[-init_scale, init_scale] (a generator of its own; the global RNG is untouched).
        enforce_rtol: the ``rtol`` rank rule of the enforce nullspaces.
    """

    def __init__(self, n: int = 12, blocks: Sequence[int] = (3, 3, 1), *, mode: str = "none", group=None,
                 dtype: torch.dtype = torch.float32, seed: int = 0, init_scale: float = 0.1,
                 enforce_rtol: float = 1e-10):
        super().__init__()
        self.n = check_int(n, "n", 1)
        if not isinstance(blocks, (list, tuple)) or not blocks:
            raise SymlieError(f"blocks: expected a non-empty list of block counts per layer, got {blocks!r}")
        self.block_counts = [check_int(b, "blocks", 1) for b in blocks]
        if mode not in EPNN_MODES:
            raise SymlieError(f"mode: expected one of {', '.join(map(repr, EPNN_MODES))}, got {mode!r}")
        if dtype not in (torch.float32, torch.float64):
            raise SymlieError(f"dtype: expected torch.float32 or torch.float64, got {dtype}")
        if isinstance(init_scale, bool) or not isinstance(init_scale, (int, float)) or not 0 <= init_scale < math.inf:
            raise SymlieError(f"init_scale: expected a finite number >= 0, got {init_scale!r}")
        if group is not None:
            _as_candidate_group(group, "group")
        self.mode, self.group, self.seed = mode, group, int(seed)
        gen = make_generator(check_int(seed, "seed", None))
        layers, m = [], self.n
        L = len(self.block_counts)
        for i, B in enumerate(self.block_counts):
            layers.append(EPNNLayer(m, self.n, B, gated=i < L - 1, first=i == 0, mode=mode,
                                    group=group if mode == "enforce" else None, dtype=dtype, generator=gen,
                                    init_scale=float(init_scale), enforce_rtol=enforce_rtol, index=i))
            m = B * self.n
        self.layers = nn.ModuleList(layers)
        self.out_features = m
        if mode == "enforce":
            G = as_group(group)
            self.rep_in: Rep | None = Point(G)
            self.rep_out: Rep | None = V(G) if self.block_counts[-1] == 1 else SumRep([V(G)] * self.block_counts[-1])
        else:
            self.rep_in = self.rep_out = None

    def forward(self, x) -> torch.Tensor:
        """x (..., n) -> (..., n B_last)."""
        h = _check_input(x, self, self.n, "the state size n")
        for layer in self.layers:
            h = layer(h)
        return h

    def operator(self, candidates=None) -> torch.Tensor:
        """S(theta) (rows, q): the operators of all layers stacked along the rows (:func:`symlie.promote.
        stacked_operator`; one common sub-algebra), differentiable and linear in the parameters. ``candidates``
        default: ``group``."""
        cands = candidates if candidates is not None else self.group
        if cands is None:
            raise SymlieError("candidates: not given and the network has no default group")
        return stacked_operator(self.layers, cands)

    def promotion(self, candidates=None, **kwargs) -> ADMMPenalty:
        """The ADMM split (:class:`symlie.promote.ADMMPenalty`) of gamma ||operator(candidates)||_* over this
        network's parameters; ``kwargs``: gamma, rho, update_every, reweight, the rank rule, ..."""
        cands = candidates if candidates is not None else self.group
        if cands is None:
            raise SymlieError("candidates: not given and the network has no default group")
        _as_candidate_group(cands, "candidates")
        return ADMMPenalty(lambda: self.operator(cands), list(self.parameters()), **kwargs)

    def extra_repr(self) -> str:
        return f"n={self.n}, blocks={self.block_counts}, mode={self.mode!r}"
