"""The Lie derivative: one operator for enforcing, discovering and promoting symmetry.

Convention (used everywhere in symlie). For a model F: R^{n_in} -> R^{n_out}, a group acting on inputs by
x -> rho_in(g) x (linear or affine) and on outputs by the linear representation rho_out,

    (K_g F)(x) = rho_out(g)^{-1} F(rho_in(g) x)                       (the transformed model)
    (L_xi F)(x) = d/dt|_{t=0} K_{exp(t xi)} F (x) = DF(x) v_xi(x) - drho_out(xi) F(x)

where v_xi(x) = d/dt|_0 rho_in(exp(t xi)) x is the input vector field (A x, or A x + b for affine
actions). F is equivariant under the identity component iff L_xi F = 0 for every basis element xi.

Since K_g K_h = K_{hg} (K is an anti-homomorphism for this left action), the Lie derivative reverses brackets:

    L_{[xi, eta]} = -[L_xi, L_eta] = L_eta L_xi - L_xi L_eta.

The official code of Otto et al. uses the opposite overall sign (drho_out F - DF v); nullspaces, ranks and
nuclear norms are unaffected.

For a dynamical system x' = f(x) the group acts on the fibre by the tangent lift, rho_out = Dtheta_g,
and L_xi f = Df v_xi - Dv_xi f = [v_xi, f] is the Lie bracket of vector fields
(:func:`lie_derivative_dynamics`, :func:`lie_bracket`).
"""
from __future__ import annotations

from typing import Callable

import torch

from ._validation import SymlieError, as_tensor
from .algebra import LieAlgebra
from .groups import Group, as_group
from .reps import Point, Rep, Trivial

__all__ = ["lie_derivative", "lie_derivative_linear", "lie_derivative_dynamics", "lie_bracket", "transform",
           "resolve_generators"]


AUTO_CHUNK_ROWS = 2 ** 16  # rows (generators x points) per forward-mode pass for batch_size="auto"


def resolve_generators(xi, rep: Rep | None = None) -> tuple[torch.Tensor, bool, Group | None]:
    """Normalise the ``xi`` argument.

    ``xi`` may be a LieAlgebra (all basis elements), a Group (its algebra basis), a single (d, d) matrix or a
    stack (q, d, d). Returns (generators (q, d, d) float64, single, group-or-None).
    """
    if isinstance(xi, Group):
        return xi.algebra.basis, False, xi
    if isinstance(xi, LieAlgebra):
        return xi.basis, False, as_group(xi)
    X = as_tensor(xi, "xi", dtype=torch.float64)
    if X.ndim == 2:
        X, single = X.unsqueeze(0), True
    elif X.ndim == 3:
        single = False
    else:
        raise ValueError(f"xi: expected a LieAlgebra, a (d, d) matrix or a (q, d, d) stack, got shape {tuple(X.shape)}")
    if X.shape[-1] != X.shape[-2]:
        raise ValueError(f"xi: generators must be square matrices, got shape {tuple(X.shape)}")
    return X, single, None


def check_same_algebra(rep: Rep, group: Group, name: str) -> None:
    """Both actions must read the generators xi as the same matrices: refuse reps of another group's algebra."""
    if rep.group.algebra != group.algebra:
        raise SymlieError(f"{name}: {rep} is a representation of {rep.group.name} but the input action belongs to "
                          f"{group.name}; both must be built on the same group (or algebra)")


def _default_rep_in(group: Group | None, rep_in: Rep | None, n_in: int) -> Rep:
    if rep_in is not None:
        if not isinstance(rep_in, Rep):
            raise TypeError(f"rep_in: expected a Rep (e.g. sl.V(G) or sl.Point(G)), got {type(rep_in).__name__}")
        return rep_in
    if group is None:
        raise ValueError("rep_in: required when xi is given as matrices (pass e.g. sl.V(G) or sl.Point(G))")
    return Point(group)


def check_rep_out(rep_out: Rep | None, group: Group, n_out: int, *, name: str = "rep_out",
                  outputs: str | None = None) -> Rep:
    """Validate the output representation (``None``: ``n_out`` invariant outputs) against the input group.

    ``outputs`` describes where n_out comes from in error messages (default: the model's outputs).
    """
    if rep_out is None:
        return Trivial(group, n_out)
    if not isinstance(rep_out, Rep):
        raise TypeError(f"{name}: expected a Rep or None (invariant outputs), got {type(rep_out).__name__}")
    check_same_algebra(rep_out, group, name)
    if not rep_out.is_linear:
        raise SymlieError(f"{name}: {rep_out} is an affine action; outputs need a linear representation "
                          f"(use .tangent() for velocities)")
    if rep_out.size != n_out:
        what = outputs or f"the model returns {n_out} output(s)"
        raise ValueError(f"{name}: representation {rep_out} has size {rep_out.size} but {what}")
    return rep_out


def _prepare(xi, x, rep_in: Rep | None) -> tuple[torch.Tensor, bool, torch.Tensor, Rep]:
    """Shared validation of (xi, x, rep_in): generators (q, d, d), single flag, points (N, n_in), input action."""
    X, single, group = resolve_generators(xi)
    x = as_tensor(x, "x", ndim=2)
    if x.shape[0] == 0:
        raise ValueError("x: got 0 sample points")
    rep_in = _default_rep_in(group, rep_in, x.shape[1])
    d = rep_in.group.matrix_size
    if X.shape[-1] != d:
        raise ValueError(f"xi: generators are {X.shape[-1]}x{X.shape[-1]} but rep_in's group {rep_in.group.name} "
                         f"uses {d}x{d} matrices")
    if rep_in.size != x.shape[1]:
        raise ValueError(f"x: rep_in {rep_in} acts on R^{rep_in.size} but x has shape {tuple(x.shape)}")
    return X, single, x, rep_in


def _call_model(f: Callable, x: torch.Tensor, name: str = "f") -> torch.Tensor:
    y = f(x)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name}: must return a torch.Tensor, got {type(y).__name__}")
    if y.shape[0] != x.shape[0] or y.ndim not in (1, 2):
        raise ValueError(f"{name}: expected output of shape (N,) or (N, n_out) for input of shape {tuple(x.shape)}, "
                         f"got {tuple(y.shape)}")
    return y


AUTODIFF_MODES = ("auto", "tangent", "jacfwd", "jacrev")


def _autodiff_mode(mode: str, q: int, n_in: int, n_out: int | None) -> str:
    """Resolve ``autodiff="auto"``: the cheapest way to get DF v_xi for q generators.

    Cost model in no-grad forward-pass equivalents over the same samples, measured on SiLU MLPs of width 128
    in float64 on one thread (benchmarks/results/discover.md, "autodiff modes"): ``tangent`` ~ 7.5 q (one
    jvp per generator on the q-fold tiled input), ``jacfwd`` ~ 7 n_in (jvps along the coordinate axes, then
    contracted with every v_xi), ``jacrev`` ~ 1.5 + 1.5 n_out (one forward with graph, one backward per
    output). Only the ratios matter. ``n_out=None`` (unknown) rules out ``jacrev``.
    """
    if mode != "auto":
        return mode
    costs = autodiff_costs(q, n_in, n_out)
    return min(costs, key=costs.get)


def autodiff_costs(q: int, n_in: int, n_out: int | None) -> dict[str, float]:
    """The cost model of :func:`_autodiff_mode` (forward-pass equivalents per mode)."""
    costs = {"tangent": 7.5 * q, "jacfwd": 7.0 * n_in}
    if n_out is not None:
        costs["jacrev"] = 1.5 + 1.5 * n_out
    return costs


def _jacobian_chunk(f: Callable, xc: torch.Tensor, mode: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(F(xc) (n, n_out), DF(xc) (n, n_out, n_in), flat) for a chunk of samples, by forward or reverse mode."""
    n, n_in = xc.shape
    if mode == "jacfwd":
        eye = torch.eye(n_in, dtype=xc.dtype, device=xc.device)
        xr = xc.unsqueeze(0).expand(n_in, n, n_in).reshape(n_in * n, n_in).contiguous()
        tr = eye[:, None, :].expand(n_in, n, n_in).reshape(n_in * n, n_in)
        y, dy = torch.func.jvp(f, (xr,), (tr,))
        _check_output(y, n_in * n, n_in)
        flat = y.ndim == 1
        if flat:
            y, dy = y.unsqueeze(-1), dy.unsqueeze(-1)
        y = y.reshape(n_in, n, -1)[0]
        J = dy.reshape(n_in, n, -1).permute(1, 2, 0)                   # (n, n_out, n_in)
        return y, J, flat
    y, vjp_fn = torch.func.vjp(f, xc.contiguous())
    _check_output(y, n, n_in)
    flat = y.ndim == 1
    if flat:
        (g,) = vjp_fn(torch.ones_like(y))
        return y.unsqueeze(-1), g.unsqueeze(1), True
    rows = []
    for a in range(y.shape[1]):
        ct = torch.zeros_like(y)
        ct[:, a] = 1.0
        rows.append(vjp_fn(ct)[0])
    return y, torch.stack(rows, 1), False


def _check_output(y, rows: int, n_in: int) -> None:
    if not isinstance(y, torch.Tensor) or y.shape[0] != rows or y.ndim not in (1, 2):
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"f: expected output of shape (N,) or (N, n_out) for input of shape {(rows, n_in)}, got {got}")


def _probe_n_out(f: Callable, x: torch.Tensor) -> int:
    with torch.no_grad():
        y = f(x[:1])
    _check_output(y, 1, x.shape[1])
    return 1 if y.ndim == 1 else y.shape[1]


def lie_derivative(f: Callable[[torch.Tensor], torch.Tensor], xi, x, rep_in: Rep | None = None,
                   rep_out: Rep | None = None, *, batch_size: int | str | None = "auto",
                   autodiff: str = "auto", return_values: bool = False):
    """(L_xi F)(x) = DF(x) v_xi(x) - drho_out(xi) F(x) for every generator at every point.

    Batched automatic differentiation over all points at once: no Python loop over samples or generators.
    The result stays differentiable with respect to any parameters of ``f`` (so it can be used inside a
    training loss); wrap the call in ``torch.no_grad()`` when it is not needed (discovery does), which keeps
    memory bounded by one chunk.

    Args:
        f: torch callable (N, n_in) -> (N, n_out) or (N,), batched over rows (e.g. an ``nn.Module``); rows
            must not interact (no batch statistics).
        xi: a LieAlgebra / Group (all basis elements), one (d, d) generator, or a (q, d, d) stack.
        x: sample points (N, n_in). Their dtype is used throughout (generators are cast to it); float64 is
            recommended for linear algebra. Integer input is converted to float64.
        rep_in: the action on inputs, size n_in (default: ``Point(G)`` of the algebra when xi is one).
        rep_out: a linear representation on outputs, size n_out; ``None`` means invariant outputs.
        batch_size: process this many points at a time; ``"auto"`` (default) keeps the number of
            differentiated rows per pass near ``2**16``; ``None``: all at once.
        autodiff: how DF v_xi is obtained. ``"tangent"``: one forward-mode pass along v_xi per generator
            (q jvps); ``"jacfwd"``: the Jacobian DF by n_in forward-mode passes, then contracted with every
            v_xi; ``"jacrev"``: the Jacobian by one reverse pass per output (n_out vjps), then contracted;
            ``"auto"`` (default) picks the cheapest from q, n_in and n_out (one extra call of f on a single
            sample finds n_out). All give the same values to rounding.

    Returns:
        (q, N, n_out) (or (q, N) for an (N,)-shaped model), or without the leading q for a single (d, d) xi.
    """
    X, single, x, rep_in = _prepare(xi, x, rep_in)
    group = rep_in.group
    if autodiff not in AUTODIFF_MODES:
        raise ValueError(f"autodiff: expected one of {AUTODIFF_MODES}, got {autodiff!r}")
    if isinstance(f, torch.nn.Module):
        dts = {p.dtype for p in f.parameters() if p.is_floating_point()}
        if dts and x.dtype not in dts:
            raise TypeError(f"x: has dtype {x.dtype} but the module's parameters are {sorted(map(str, dts))}; "
                            f"convert one of them explicitly (e.g. model.double() or x.float())")
    q, n_in = X.shape[0], x.shape[1]
    if autodiff == "auto":
        n_out = _probe_n_out(f, x) if min(q, n_in) > 2 else None
        autodiff = _autodiff_mode("auto", q, n_in, n_out)
    if batch_size == "auto":
        per_sample = {"tangent": q, "jacfwd": n_in, "jacrev": 1}[autodiff]
        batch_size = max(1, AUTO_CHUNK_ROWS // max(1, per_sample))
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size: expected a positive int, 'auto' or None, got {batch_size!r}")

    X = X.to(x.dtype)
    chunks = [x] if batch_size is None else list(torch.split(x, batch_size))
    outs, vals = [], []
    flat_out = None
    for xc in chunks:
        n = xc.shape[0]
        v = rep_in.vector_field(X, xc)                       # (q, n, n_in)
        if autodiff == "tangent":
            xr = xc.unsqueeze(0).expand(q, n, n_in).reshape(q * n, -1).contiguous()  # n = 1: stride-0 view
            y, dy = torch.func.jvp(f, (xr,), (v.reshape(q * n, -1),))
            _check_output(y, q * n, n_in)
            flat_out = y.ndim == 1
            if flat_out:
                y, dy = y.unsqueeze(-1), dy.unsqueeze(-1)
            y = y.reshape(q, n, -1)[0]
            L = dy.reshape(q, n, -1)
        else:
            y, J, flat_out = _jacobian_chunk(f, xc, autodiff)
            L = torch.einsum("nai,kni->kna", J, v)
        ro = check_rep_out(rep_out, group, y.shape[-1])
        if not isinstance(ro, Trivial):
            L = L - ro.apply_drho(X, y.unsqueeze(0).expand(q, n, y.shape[-1]))
        outs.append(L)
        if return_values:
            vals.append(y)
    L = torch.cat(outs, 1) if len(outs) > 1 else outs[0]
    if flat_out:
        L = L.squeeze(-1)
    L = L[0] if single else L
    if not return_values:
        return L
    y = torch.cat(vals, 0) if len(vals) > 1 else vals[0]
    return L, (y.squeeze(-1) if flat_out else y)


def lie_derivative_dynamics(f: Callable[[torch.Tensor], torch.Tensor], xi, x, rep: Rep | None = None, *,
                            batch_size: int | str | None = "auto", autodiff: str = "auto") -> torch.Tensor:
    """Lie derivative of a vector field x' = f(x) under the tangent-lift action: L_xi f = [v_xi, f].

    Equals ``lie_derivative(f, xi, x, rep, rep.tangent())``: Df v_xi - A f, with A the linear part of xi.
    Returns (q, N, n) (or (N, n) for a single generator).
    """
    X, single, group = resolve_generators(xi)
    x = as_tensor(x, "x", ndim=2)
    rep = _default_rep_in(group, rep, x.shape[1])
    return lie_derivative(f, X[0] if single else X, x, rep, rep.tangent(), batch_size=batch_size, autodiff=autodiff)


def lie_bracket(v: Callable[[torch.Tensor], torch.Tensor], f: Callable[[torch.Tensor], torch.Tensor], x) -> torch.Tensor:
    """The Lie bracket of vector fields [v, f](x) = Df(x) v(x) - Dv(x) f(x), both (N, n) -> (N, n).

    With v = v_xi this is L_xi f for the tangent-lift action; it also serves nonlinear generators.
    """
    x = as_tensor(x, "x", ndim=2).contiguous()  # jvp refuses primals with overlapping memory (expanded views)
    vx = _call_model(v, x, "v")
    fx, Dfv = torch.func.jvp(f, (x,), (vx,))
    if vx.shape != x.shape or fx.shape != x.shape:
        raise ValueError(f"v, f: vector fields must map (N, n) to (N, n); got {tuple(vx.shape)} and {tuple(fx.shape)}")
    _, Dvf = torch.func.jvp(v, (x,), (fx,))
    return Dfv - Dvf


def transform(f: Callable[[torch.Tensor], torch.Tensor], g, rep_in: Rep, rep_out: Rep | None = None) -> Callable:
    """The transformed model K_g F: x -> rho_out(g)^{-1} F(rho_in(g) x), for one group element g (d, d).

    ``rep_out=None`` means invariant outputs. For dynamics use ``rep_out = rep_in.tangent()``.
    """
    g = as_tensor(g, "g", ndim=2)
    if not isinstance(rep_in, Rep):
        raise TypeError(f"rep_in: expected a Rep, got {type(rep_in).__name__}")
    d = rep_in.group.matrix_size
    if g.shape != (d, d):
        raise ValueError(f"g: expected a ({d}, {d}) group element for {rep_in.group.name}, got {tuple(g.shape)}")
    if rep_out is not None and not rep_out.is_linear:
        raise SymlieError(f"rep_out: {rep_out} is affine; outputs need a linear representation")
    ginv = torch.linalg.inv(g)

    def Kf(x):
        y = f(rep_in.act(g, x))
        if rep_out is None:
            return y
        return rep_out.apply_rho(ginv.to(y.dtype), y)

    return Kf


def lie_derivative_linear(library, xi, x, rep_in: Rep | None = None, rep_out: Rep | None = None,
                          n_out: int | None = None, coef=None) -> torch.Tensor:
    """The Lie derivative of linear-in-parameter models F_W(x) = W Phi(x) as a tensor acting on W.

    For W of shape (n_out, D) and a feature library Phi: R^{n_in} -> R^D with Jacobian DPhi (D, n_in),

        (L_xi F_W)(x_n)[a] = sum_{b,f} S[k, n, a, b, f] W[b, f]
        S[k, n, a, b, f] = delta_ab (DPhi(x_n) v_k(x_n))_f - drho_out(xi_k)[a, b] Phi_f(x_n),

    the same convention as :func:`lie_derivative` (DF v - drho_out F), so
    ``einsum('knabf,bf->kna', S, W)`` equals ``lie_derivative(lambda x: library(x) @ W.T, xi, x, ...)``.

    Args:
        library: an object with ``transform(x) -> (N, D)`` and ``jacobian(x) -> (N, D, n_in)`` (e.g.
            :class:`symlie.PolynomialLibrary`).
        xi, x, rep_in: as in :func:`lie_derivative`.
        rep_out: linear representation on the n_out outputs; ``None`` means invariant outputs, in which case
            ``n_out`` (default 1) gives their number.
        coef: optional coefficients W (n_out, D): return the contraction L_xi F_W = einsum(S, W) directly,
            without forming S (memory q N D instead of q N n_out^2 D).
    Returns:
        S of shape (q, N, n_out, n_out, D), or with ``coef`` the values (q, N, n_out) (without q for a single
        (d, d) xi).
    """
    X, single, x, rep_in = _prepare(xi, x, rep_in)
    group = rep_in.group
    if rep_out is None:
        n_out = 1 if n_out is None else n_out
    else:
        n_out = rep_out.size if n_out is None else n_out
    ro = check_rep_out(rep_out, group, n_out)
    Phi = as_tensor(library.transform(x), "library.transform(x)", ndim=2)
    DPhi = as_tensor(library.jacobian(x), "library.jacobian(x)", ndim=3)
    N, D = Phi.shape
    if Phi.shape[0] != x.shape[0] or DPhi.shape != (N, D, x.shape[1]):
        raise ValueError(f"library: transform gave {tuple(Phi.shape)} and jacobian {tuple(DPhi.shape)} for x of "
                         f"shape {tuple(x.shape)}; expected (N, D) and (N, D, n_in)")
    X = X.to(x.dtype)
    v = rep_in.vector_field(X, x)                                  # (q, N, n_in)
    dphi_v = torch.einsum("nfi,kni->knf", DPhi.to(x.dtype), v)      # (q, N, D)
    if coef is not None:
        W = as_tensor(coef, "coef", ndim=2).to(x.dtype)
        if W.shape != (n_out, D):
            raise ValueError(f"coef: expected shape ({n_out}, {D}) (n_out, library features), got {tuple(W.shape)}")
        L = torch.einsum("knf,af->kna", dphi_v, W)
        if not isinstance(ro, Trivial):
            L = L - ro.apply_drho(X, (Phi.to(x.dtype) @ W.T).unsqueeze(0).expand(X.shape[0], N, n_out))
        return L[0] if single else L
    eye = torch.eye(n_out, dtype=x.dtype)
    S = eye[None, None, :, :, None] * dphi_v[:, :, None, None, :]
    if not isinstance(ro, Trivial):
        R = ro.drho(X).to(x.dtype)                                  # (q, n_out, n_out)
        S = S - R[:, None, :, :, None] * Phi.to(x.dtype)[None, :, None, None, :]
    return S[0] if single else S
