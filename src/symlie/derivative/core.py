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

The generators enter only through an :class:`symlie.Action`: the input vector fields V_k(x) and the output
term Out_k(x) y (``drho_out(xi_k) y`` for a linear representation, ``DV_k(x) y`` for the tangent lift), so
matrix algebras, function-library fields and neural fields all go through the same code.

For a dynamical system x' = f(x) the group acts on the fibre by the tangent lift, rho_out = Dtheta_g,
and L_xi f = Df v_xi - Dv_xi f = [v_xi, f] is the Lie bracket of vector fields
(:func:`lie_derivative_dynamics`, :func:`lie_bracket`).
"""
from __future__ import annotations

from typing import Callable

import torch

from ..lie.actions import Action, MatrixAction, as_action
from ..lie.reps import Rep
from ..utils.errors import ResourceError
from ..utils.resources import call_limit, check_memory, get_memory_limit, oom_guard
from ..utils.validation import SymlieError, as_tensor
from .autodiff import AUTODIFF_MODES, check_output, jacobian_chunk, probe_n_out, resolve_autodiff

__all__ = ["lie_derivative", "lie_derivative_dynamics", "lie_bracket", "transform", "AUTO_CHUNK_ROWS"]


AUTO_CHUNK_ROWS = 2 ** 16  # rows (generators x points) per forward-mode pass for batch_size="auto"


def _call_model(f: Callable, x: torch.Tensor, name: str = "f") -> torch.Tensor:
    y = f(x)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name}: must return a torch.Tensor, got {type(y).__name__}")
    if y.shape[0] != x.shape[0] or y.ndim not in (1, 2):
        raise ValueError(f"{name}: expected output of shape (N,) or (N, n_out) for input of shape {tuple(x.shape)}, "
                         f"got {tuple(y.shape)}")
    return y


def check_batch_size(batch_size) -> None:
    if batch_size is not None and batch_size != "auto" and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size: expected a positive int, 'auto' or None, got {batch_size!r}")


def chunk_bytes(mode: str, b: int, q: int, n_in: int, n_out: int, itemsize: int = 8) -> int:
    """Estimated bytes of one batch of b points of :func:`lie_derivative` (the tiled inputs, tangents, Jacobian
    (b, n_out, n_in) and the (q, b, n_out) values; the model's own intermediate activations are not counted)."""
    if mode == "tangent":
        elems = 3 * q * b * n_in + 4 * q * b * n_out
    elif mode == "jacfwd":
        elems = 2 * n_in * n_in * b + 3 * n_in * b * n_out + q * b * n_in + 2 * q * b * n_out
    else:
        elems = 2 * b * n_out * n_in + 2 * b * n_out + q * b * n_in + 2 * q * b * n_out
    return itemsize * elems


def _check_lie_memory(mode: str, N: int, batch: int, q: int, n_in: int, n_out: int, itemsize: int,
                      max_bytes, chunks: int) -> None:
    """Refuse a Lie-derivative evaluation whose result or per-batch working set exceeds the limit."""
    result = itemsize * q * N * n_out * (2 if chunks > 1 else 1)
    check_memory(result, f"lie_derivative: the result ({q} generators x {N} points x {n_out} outputs)",
                 hint="evaluate fewer points or generators per call", max_bytes=max_bytes)
    per = chunk_bytes(mode, batch, q, n_in, n_out, itemsize)
    limit = get_memory_limit() if max_bytes is None else max_bytes
    batched = itemsize * q * N * n_out * 2                          # the pieces and their concatenation
    fit = max(0, int(limit - batched)) // max(1, chunk_bytes(mode, 1, q, n_in, n_out, itemsize))
    check_memory(result + per, f"lie_derivative: batches of {batch} points ({mode} mode, {q} generators, "
                 f"Jacobian ({batch}, {n_out}, {n_in}))",
                 hint=(f"pass a smaller batch_size= (about {fit} points per batch fit)" if fit else
                       "even one point per batch does not fit: evaluate fewer generators per call"),
                 max_bytes=max_bytes)


def lie_derivative(f: Callable[[torch.Tensor], torch.Tensor], xi, x, rep_in: Rep | None = None,
                   rep_out: Rep | None = None, *, batch_size: int | str | None = "auto",
                   autodiff: str = "auto", return_values: bool = False, max_bytes: int | float | None = None,
                   check_finite: bool = True):
    """(L_xi F)(x) = DF(x) v_xi(x) - Out_xi(x) F(x) for every generator at every point.

    Batched automatic differentiation over all points at once: no Python loop over samples or generators.
    The result stays differentiable with respect to any parameters of ``f`` (so it can be used inside a
    training loss); wrap the call in ``torch.no_grad()`` when it is not needed (discovery does), which keeps
    memory bounded by one chunk.

    Args:
        f: torch callable (N, n_in) -> (N, n_out) or (N,), batched over rows (e.g. an ``nn.Module``); rows
            must not interact (no batch statistics).
        xi: the generators: an :class:`symlie.Action` (matrix, function-library or module fields with their
            action on outputs), a LieAlgebra / Group (all basis elements), one (d, d) generator, or a
            (q, d, d) stack.
        x: sample points (N, n_in). Their dtype is used throughout (generators are cast to it); float64 is
            recommended for linear algebra. Integer input is converted to float64.
        rep_in: for matrix generators, the action on inputs (default ``Point(G)`` of the algebra).
        rep_out: for matrix generators, a linear representation on outputs; ``None`` means invariant outputs.
        batch_size: process this many points at a time; ``"auto"`` (default) keeps the number of
            differentiated rows per pass near ``2**16``; ``None``: all at once.
        autodiff: how DF v_xi is obtained. ``"tangent"``: one forward-mode pass along v_xi per generator
            (q jvps); ``"jacfwd"``: the Jacobian DF by n_in forward-mode passes, then contracted with every
            v_xi; ``"jacrev"``: the Jacobian by one reverse pass per output (n_out vjps), then contracted;
            ``"auto"`` (default) picks the cheapest from q, n_in and n_out (one extra call of f on a single
            sample finds n_out). All give the same values to rounding.
        max_bytes: memory limit of this call in bytes; ``None`` uses the process-wide limit
            (:func:`symlie.utils.set_memory_limit`). The result (q, N, n_out) and one batch's inputs, tangents
            and Jacobian are estimated before anything is computed and a :class:`symlie.utils.ResourceError`
            names a ``batch_size`` that fits (when n_out is unknown and the request is large, one call of f
            on a single sample finds it); an allocation that fails anyway (the model's own activations are not
            in the estimate) is also turned into a ``ResourceError`` that mentions ``batch_size``.
        check_finite: refuse (``SymlieError``) points where F or its Lie derivative is NaN / Inf: a NaN value
            of F does not reach DF v (an assignment of NaN has a zero derivative), so it would otherwise give
            a finite answer at points where the model is undefined.

    Returns:
        (q, N, n_out) (or (q, N) for an (N,)-shaped model), or without the leading q for a single (d, d) xi.
    """
    with call_limit(max_bytes):
        return _lie_derivative(f, xi, x, rep_in, rep_out, batch_size, autodiff, return_values, max_bytes,
                               check_finite)


def _lie_derivative(f, xi, x, rep_in, rep_out, batch_size, autodiff, return_values, max_bytes, check_finite):
    action = as_action(xi, rep_in, rep_out)
    x = action.check_points(x)
    if autodiff not in AUTODIFF_MODES:
        raise ValueError(f"autodiff: expected one of {AUTODIFF_MODES}, got {autodiff!r}")
    check_batch_size(batch_size)
    if isinstance(f, torch.nn.Module):
        dts = {p.dtype for p in f.parameters() if p.is_floating_point()}
        if dts and x.dtype not in dts:
            raise TypeError(f"x: has dtype {x.dtype} but the module's parameters are {sorted(map(str, dts))}; "
                            f"convert one of them explicitly (e.g. model.double() or x.float())")
    q, n_in = action.dim, x.shape[1]
    known_out = action.n_out
    if autodiff == "auto":
        n_out = probe_n_out(f, x) if min(q, n_in) > 2 else None
        autodiff = resolve_autodiff("auto", q, n_in, n_out)
        known_out = n_out if n_out is not None else known_out
    if batch_size == "auto":
        per_sample = {"tangent": q, "jacfwd": n_in, "jacrev": 1}[autodiff]
        batch_size = max(1, AUTO_CHUNK_ROWS // max(1, per_sample))
    chunks = [x] if batch_size is None else list(torch.split(x, batch_size))  # type: ignore[arg-type]  # "auto" resolved
    N, item = x.shape[0], x.element_size()
    biggest = chunks[0].shape[0]
    if known_out is None:
        # n_out unknown: a large request (a sixteenth of the limit with one output) finds it on one sample first
        try:
            with call_limit(get_memory_limit() // 16):
                _check_lie_memory(autodiff, N, biggest, q, n_in, 1, item, None, len(chunks))
        except ResourceError:
            known_out = probe_n_out(f, x)
    _check_lie_memory(autodiff, N, biggest, q, n_in, known_out or 1, item, max_bytes, len(chunks))
    hint = (f"pass a smaller batch_size= (this call used batches of {biggest} points)" if len(chunks) > 1 or
            batch_size is not None else "pass batch_size= to evaluate the points in batches")
    outs, vals = [], []
    flat_out = None
    bad, first_bad, done = 0, -1, 0
    for i, xc in enumerate(chunks):
        with oom_guard(f"lie_derivative ({autodiff} mode, {q} generators, batch of {xc.shape[0]} points)", hint):
            L, y, flat_out = _chunk(f, action, xc, autodiff)
        if i == 0 and known_out is None and L.shape[-1] > 1:      # n_out is known now: check the rest
            _check_lie_memory(autodiff, N, biggest, q, n_in, L.shape[-1], item, max_bytes, len(chunks))
        if check_finite:
            with torch.no_grad():
                ok = torch.isfinite(y.reshape(y.shape[0], -1)).all(-1) & torch.isfinite(L).flatten(2).all(-1).all(0)
            if not bool(ok.all()):
                bad += int((~ok).sum())
                first_bad = first_bad if first_bad >= 0 else done + int((~ok).nonzero()[0, 0])
        done += xc.shape[0]
        outs.append(L)
        if return_values:
            vals.append(y)
    if bad:
        raise SymlieError(f"f: returned NaN or Inf (or an infinite derivative) at {bad} of {N} points (first at point "
                          f"{first_bad}, x[{first_bad}] = {x[first_bad].tolist()}); the Lie derivative is not defined "
                          f"there: restrict x to the model's domain (check_finite=False skips this check)")
    L = torch.cat(outs, 1) if len(outs) > 1 else outs[0]
    if flat_out:
        L = L.squeeze(-1)
    L = L[0] if getattr(action, "single", False) else L
    if not return_values:
        return L
    y = torch.cat(vals, 0) if len(vals) > 1 else vals[0]
    return L, (y.squeeze(-1) if flat_out else y)


def _chunk(f: Callable, action: Action, xc: torch.Tensor, autodiff: str) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """(L (q, n, n_out), F(xc) (n, n_out), flat) for one chunk of points."""
    q = action.dim
    n, n_in = xc.shape
    v = action.vector_fields(xc)                                        # (q, n, n_in)
    if autodiff == "tangent":
        xr = xc.unsqueeze(0).expand(q, n, n_in).reshape(q * n, -1).contiguous()  # n = 1: stride-0 view
        y, dy = torch.func.jvp(f, (xr,), (v.reshape(q * n, -1).to(xc.dtype),))  # type: ignore[misc]
        check_output(y, q * n, n_in)
        flat = y.ndim == 1
        if flat:
            y, dy = y.unsqueeze(-1), dy.unsqueeze(-1)
        y = y.reshape(q, n, -1)[0]
        L = dy.reshape(q, n, -1)
    else:
        y, J, flat = jacobian_chunk(f, xc, autodiff)
        L = torch.einsum("nai,kni->kna", J, v.to(J.dtype))
    action.check_outputs(y.shape[-1])
    T = action.output_term(xc, y)
    if T is not None:
        L = L - T
    return L, y, flat


def lie_derivative_dynamics(f: Callable[[torch.Tensor], torch.Tensor], xi, x, rep: Rep | None = None, *,
                            batch_size: int | str | None = "auto", autodiff: str = "auto",
                            max_bytes: int | float | None = None) -> torch.Tensor:
    """Lie derivative of a vector field x' = f(x) under the tangent-lift action: L_xi f = [v_xi, f].

    Equals ``lie_derivative(f, xi, x, rep, rep.tangent())`` for matrix generators (Df v_xi - A f, A the linear
    part of xi) and ``lie_derivative(f, action.tangent(), x)`` for any :class:`symlie.Action`.
    Returns (q, N, n) (or (N, n) for a single generator). ``max_bytes`` as in :func:`lie_derivative`.
    """
    return lie_derivative(f, as_action(xi, rep, dynamics=True), x, batch_size=batch_size, autodiff=autodiff,
                          max_bytes=max_bytes)


def lie_bracket(v: Callable[[torch.Tensor], torch.Tensor], f: Callable[[torch.Tensor], torch.Tensor],
                x) -> torch.Tensor:
    """The Lie bracket of vector fields [v, f](x) = Df(x) v(x) - Dv(x) f(x), both (N, n) -> (N, n).

    With v = v_xi this is L_xi f for the tangent-lift action; it also serves nonlinear generators.
    """
    x = as_tensor(x, "x", ndim=2).contiguous()  # jvp refuses primals with overlapping memory (expanded views)
    vx = _call_model(v, x, "v")
    fx, Dfv = torch.func.jvp(f, (x,), (vx,))  # type: ignore[misc]
    if vx.shape != x.shape or fx.shape != x.shape:
        raise ValueError(f"v, f: vector fields must map (N, n) to (N, n); got {tuple(vx.shape)} and {tuple(fx.shape)}")
    _, Dvf = torch.func.jvp(v, (x,), (fx,))  # type: ignore[misc]
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
    return MatrixAction(rep_in.group, rep_in, rep_out).transform(f, g)
