"""Flows of vector fields: the one-parameter groups phi_s = exp(sV) that a generator V generates.

A symmetry is the flow of a vector field V on the data space: d phi_s(z) / ds = V(phi_s(z)), phi_0 = id, so
phi_s phi_t = phi_{s+t} and phi_s^{-1} = phi_{-s} (the inverse is the flow with -s). Positive s moves along V.

:func:`flow` integrates an autonomous field v(z) from z0 up to the flow parameter s. The end time may differ per
generator or per point (a tensor s), so instead of integrating d z / ds = v(z) over [0, s] it integrates the
rescaled field over the unit interval,

    d z / d r = s v(z),   r in [0, 1],   z(0) = z0,   z(1) = phi_s(z0),

an exact reparametrisation (z(r) = phi_{r s}(z0)) that takes per-sample, negative and zero s with one step grid.
The state at an intermediate fraction r is phi_{r s}(z0) (``times=``; e.g. the 4 intervals of Ko et al. are the
states at r = 1/4, 1/2, 3/4, 1). A step of size h in r is a step of size |s| h in s: for a step of at most h_s in
the flow parameter, pass ``steps = ceil(max |s| / h_s)``.

Solvers: "euler", "midpoint" and "rk4" (the classical fourth-order Runge-Kutta) are fixed-step, written here in
plain torch operations, so gradients backpropagate through the solver to z0, s and every parameter the field
uses. The adaptive and other solvers of torchdiffeq (an optional dependency, ``pip install 'symlie[ode]'``), e.g.
"dopri5", "dopri8", "bosh3", "adaptive_heun", are used by name, and every torchdiffeq method also as
"torchdiffeq-<name>" ("torchdiffeq-rk4"). ``adjoint=True`` uses torchdiffeq's adjoint method (memory constant in the
number of steps, gradients from a backward solve).

:func:`flow_matrix` is the exact flow of a linear field v(z) = z A^T (v = A z for column vectors): z exp(sA)^T.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence

import torch

from ..utils.errors import SymlieError
from ..utils.resources import check_memory
from ..utils.validation import as_tensor, check_int

__all__ = ["flow", "flow_matrix", "available_methods", "FIXED_STEP_METHODS", "TORCHDIFFEQ_METHODS", "ODE_HINT"]

Field = Callable[[torch.Tensor], torch.Tensor]

#: the solvers of this module (fixed step, differentiable by backpropagation)
FIXED_STEP_METHODS = ("euler", "midpoint", "rk4")
#: torchdiffeq's fixed-grid solvers: they take the step grid of ``steps`` / ``step_size``
_TD_FIXED = ("euler", "midpoint", "rk4", "heun2", "heun3", "explicit_adams", "implicit_adams", "fixed_adams")
#: torchdiffeq's adaptive solvers: they take ``rtol`` / ``atol``
_TD_ADAPTIVE = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun", "scipy_solver")
#: every torchdiffeq method name (usable as is, or prefixed "torchdiffeq-")
TORCHDIFFEQ_METHODS = _TD_FIXED + _TD_ADAPTIVE
_PREFIX = "torchdiffeq-"
ODE_HINT = "pip install 'symlie[ode]'"
_DEFAULT_STEPS = 10


def available_methods() -> tuple[str, ...]:
    """The method names :func:`flow` accepts: the fixed-step solvers of this module, then the torchdiffeq names
    (without and with the "torchdiffeq-" prefix; they need torchdiffeq installed, ``pip install 'symlie[ode]'``)."""
    extra = tuple(m for m in _TD_ADAPTIVE + _TD_FIXED if m not in FIXED_STEP_METHODS)
    return FIXED_STEP_METHODS + extra + tuple(_PREFIX + m for m in TORCHDIFFEQ_METHODS)


def _resolve_method(method: Any) -> tuple[str, str]:
    """("ours" | "torchdiffeq", solver name)."""
    if isinstance(method, str):
        if method in FIXED_STEP_METHODS:
            return "ours", method
        name = method[len(_PREFIX):] if method.startswith(_PREFIX) else method
        if name in TORCHDIFFEQ_METHODS:
            return "torchdiffeq", name
    raise SymlieError(f"method: unknown ODE method {method!r}; expected one of {', '.join(available_methods())}")


def _import_torchdiffeq(what: str) -> Any:
    try:
        import torchdiffeq
    except ImportError as exc:
        raise ImportError(f"{what} needs torchdiffeq: {ODE_HINT}") from exc
    return torchdiffeq


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether a tensor of ``shape`` broadcasts to ``target`` (pure Python: ``torch.broadcast_shapes`` imports
    sympy on its first call, seconds of start-up)."""
    return len(shape) <= len(target) and all(a in (1, b) for a, b in zip(shape[::-1], target[::-1]))


def _check_s(s: Any, z0: torch.Tensor) -> torch.Tensor:
    """s as a tensor of z0's dtype and device, broadcastable to z0.shape[:-1] (gradients kept)."""
    st = as_tensor(s, "s", dtype=z0.dtype, device=z0.device)
    batch = tuple(z0.shape[:-1])
    if not _broadcasts_to(tuple(st.shape), batch):
        raise SymlieError(f"s: expected a number or a tensor broadcastable to z0.shape[:-1] = {batch} (one flow "
                          f"parameter per generator or per point), got shape {tuple(st.shape)}")
    return st


def _check_times(times: Any) -> list[float]:
    t = as_tensor(times, "times", ndim=1, dtype=torch.float64, device=torch.device("cpu")).detach()
    r = [float(x) for x in t.tolist()]
    if not r:
        raise SymlieError("times: expected at least one fraction in (0, 1], got an empty sequence")
    if not (r[0] > 0 and r[-1] <= 1 and all(b > a for a, b in zip(r[:-1], r[1:]))):
        raise SymlieError(f"times: expected strictly increasing fractions 0 < r_1 < ... <= 1 of the flow "
                          f"parameter, got {r}")
    return r


def _step_rate(steps: Any, step_size: Any) -> float:
    """Steps per unit of r."""
    if steps is not None and step_size is not None:
        raise SymlieError(f"steps, step_size: pass one of them, got steps={steps!r} and step_size={step_size!r}")
    if step_size is not None:
        if isinstance(step_size, bool) or not isinstance(step_size, (int, float)) or \
                not (math.isfinite(step_size) and step_size > 0):
            raise SymlieError(f"step_size: expected a finite number > 0 (a step in r in [0, 1]), got {step_size!r}")
        return 1.0 / float(step_size)
    return float(check_int(_DEFAULT_STEPS if steps is None else steps, "steps", 1))


def _n_steps(length: float, rate: float) -> int:
    return max(1, math.ceil(length * rate - 1e-9))


def _tolerance(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (math.isfinite(value) and value > 0):
        raise SymlieError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)


def _velocity(field: Field, z: torch.Tensor) -> torch.Tensor:
    v = field(z)
    if not isinstance(v, torch.Tensor):
        raise SymlieError(f"field: expected a callable returning a torch.Tensor velocity, got {type(v).__name__}")
    if v.shape != z.shape:
        raise SymlieError(f"field: returned a velocity of shape {tuple(v.shape)} for a state of shape "
                          f"{tuple(z.shape)}; expected the state's shape (an autonomous field v(z), one velocity "
                          f"per point)")
    if v.dtype != z.dtype:
        raise SymlieError(f"field: returned dtype {v.dtype} for a {z.dtype} state; expected the state's dtype")
    return v


def _rk_step(method: str, rhs: Field, z: torch.Tensor, h: float) -> torch.Tensor:
    if method == "euler":
        return z + h * rhs(z)
    if method == "midpoint":
        return z + h * rhs(z + (0.5 * h) * rhs(z))
    k1 = rhs(z)
    k2 = rhs(z + (0.5 * h) * k1)
    k3 = rhs(z + (0.5 * h) * k2)
    k4 = rhs(z + h * k3)
    return z + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


def _fixed_step(method: str, rhs: Field, z0: torch.Tensor, marks: list[float], rate: float) -> list[torch.Tensor]:
    """The states at the fractions ``marks``; each interval between them is split into equal steps."""
    starts = [0.0] + marks[:-1]
    counts = [_n_steps(b - a, rate) for a, b in zip(starts, marks)]
    total, done, out = sum(counts), 0, []
    z = z0
    for a, b, n in zip(starts, marks, counts):
        h = (b - a) / n
        for j in range(n):
            z = _rk_step(method, rhs, z, h)
            done += 1
            if not bool(torch.isfinite(z.sum())) and not bool(torch.isfinite(z).all()):
                raise SymlieError(f"flow: the state became non-finite (NaN or Inf) at step {done} of {total} "
                                  f"(r = {a + (j + 1) * h:.6g}, method={method!r}): the field returned non-finite "
                                  f"values or the flow left the finite range; reduce |s| or take more steps")
        out.append(z)
    return out


def _grid_constructor(rate: float) -> Callable[..., torch.Tensor]:
    """torchdiffeq fixed-grid option: between consecutive output times, ceil(|b - a| * rate) equal steps (the same
    grid as the fixed-step solvers here; also used, reversed, by the adjoint's backward solve)."""
    def build(func: Any, y0: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        pieces = [t[:1]]
        for a, b in zip(t[:-1], t[1:]):
            n = _n_steps(abs(float(b - a)), rate)
            inner = a + (b - a) * torch.arange(1, n, dtype=t.dtype, device=t.device) / n
            pieces += [inner, b.reshape(1)]
        return torch.cat(pieces)
    return build


def _torchdiffeq(name: str, rhs: Field, z0: torch.Tensor, s: torch.Tensor, marks: list[float], rate: float | None,
                 rtol: float, atol: float, adjoint: bool, adjoint_params: tuple[torch.Tensor, ...] | None
                 ) -> torch.Tensor:
    td = _import_torchdiffeq(f"method={name!r}" if not adjoint else "adjoint=True")
    solvers = getattr(getattr(getattr(td, "_impl", None), "odeint", None), "SOLVERS", None)
    if isinstance(solvers, dict) and name not in solvers:
        raise SymlieError(f"method: {name!r} is not available in the installed torchdiffeq "
                          f"{getattr(td, '__version__', '')}; it has {', '.join(solvers)}")
    t = torch.tensor([0.0] + marks, dtype=z0.dtype, device=z0.device)
    options = {"grid_constructor": _grid_constructor(rate)} if rate is not None else None
    func = lambda r, z: rhs(z)
    try:
        if adjoint:
            params = tuple(adjoint_params or ()) + ((s,) if s.requires_grad else ())
            sol = td.odeint_adjoint(func, z0, t, rtol=rtol, atol=atol, method=name, options=options,
                                    adjoint_params=params)
        else:
            sol = td.odeint(func, z0, t, rtol=rtol, atol=atol, method=name, options=options)
    except AssertionError as exc:  # torchdiffeq signals a NaN / vanishing step this way
        if "underflow" not in str(exc):
            raise
        raise SymlieError(f"flow: torchdiffeq method {name!r} stopped ({exc}): the state or the field became "
                          f"non-finite or too stiff; reduce |s| or use a fixed-step method") from exc
    if not bool(torch.isfinite(sol).all()):
        raise SymlieError(f"flow: the state became non-finite (NaN or Inf) with method {name!r}: the field returned "
                          f"non-finite values or the flow left the finite range; reduce |s|")
    return sol[1:]


def flow(field: Field, z0: Any, s: Any, *, method: str = "rk4", steps: int | None = None,
         step_size: float | None = None, times: Sequence[float] | torch.Tensor | None = None, adjoint: bool = False,
         rtol: float = 1e-7, atol: float = 1e-9, params: Iterable[torch.Tensor] | None = None) -> torch.Tensor:
    """The flow phi_s(z0) = exp(sV) z0 of an autonomous vector field: the solution at r = 1 of d z / d r = s v(z).

    Args:
        field: a callable v(z) -> velocity of z's shape and dtype (evaluated on the whole batch at once; e.g. head
            i on copy i of a (n_gen, N, d) state is the field's business). Positive s moves along v.
        z0: the initial points, shape (..., N, d) (any shape (..., d)), floating; its dtype (float32 or float64)
            and device are kept; must be finite.
        s: the flow parameter: a number, or a tensor broadcastable to z0.shape[:-1] (e.g. (n_gen, 1): one per
            generator; (n_gen, N): one per point), cast to z0's dtype; negative and zero values are allowed, and
            the result is differentiable in s. ``flow(field, flow(field, z0, s), -s)`` inverts (up to the solver's
            error).
        method: "rk4" (classical Runge-Kutta, default), "midpoint", "euler": fixed step, here, differentiable by
            backpropagation; any torchdiffeq method ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun",
            "heun2", "heun3", "explicit_adams", "implicit_adams", "fixed_adams", "scipy_solver"), also as
            "torchdiffeq-<name>" (e.g. "torchdiffeq-rk4", torchdiffeq's own 3/8-rule RK4), which needs
            ``pip install 'symlie[ode]'``. See :func:`available_methods`.
        steps: fixed-step methods: the number of equal steps over r in [0, 1] (default 10; a step of |s| / steps
            in the flow parameter). With ``times``, each interval between consecutive output fractions gets
            ceil(length * steps) equal steps, so the states land on the requested fractions exactly.
        step_size: instead of ``steps``: the largest step in r (ceil(length / step_size) steps per interval).
        times: optional increasing fractions 0 < r_1 < ... <= 1 at which to return the states phi_{r_k s}(z0).
        adjoint: use torchdiffeq's ``odeint_adjoint`` (gradients by a backward solve, memory independent of the
            number of steps). With "euler", "midpoint", "rk4" it runs torchdiffeq's solver of the same name on the
            same step grid; torchdiffeq's "rk4" is the 3/8-rule variant, so values agree with ``adjoint=False`` to
            the solver's O(h^4), not bitwise. Needs ``params`` or an ``nn.Module`` field; gradients also reach z0
            and s.
        rtol, atol: tolerances of the adaptive torchdiffeq methods (ignored by the fixed-step ones).
        params: with ``adjoint=True``: the tensors the backward solve differentiates (default: the field's
            parameters when it is an ``nn.Module``; pass ``()`` for gradients in z0 and s only). A parameter the
            field uses but that is missing here gets no gradient. Unused without ``adjoint`` (backpropagation
            reaches every parameter).

    Returns:
        phi_s(z0) of z0's shape and dtype, or with ``times`` the stack (len(times), *z0.shape) of phi_{r_k s}(z0).

    Raises:
        SymlieError: bad arguments (named in the message): a field output of another shape or dtype, non-finite
            z0, an unknown method, steps < 1, times not increasing in (0, 1], steps/step_size with an adaptive
            method; a state that becomes non-finite during integration (an error, not a warning: the step and r
            where it happened are named, nothing is returned).
        ImportError: a torchdiffeq method or ``adjoint=True`` without torchdiffeq installed.
    """
    if not callable(field):
        raise SymlieError(f"field: expected a callable v(z) -> velocity, got {type(field).__name__}")
    kind, name = _resolve_method(method)
    z0 = as_tensor(z0, "z0")
    if z0.ndim < 1:
        raise SymlieError("z0: expected points of shape (..., N, d), got a 0-dimensional tensor")
    st = _check_s(s, z0)
    marks = [1.0] if times is None else _check_times(times)
    rtol, atol = _tolerance(rtol, "rtol"), _tolerance(atol, "atol")
    if not isinstance(adjoint, bool):
        raise SymlieError(f"adjoint: expected True or False, got {adjoint!r}")
    fixed = kind == "ours" or name in _TD_FIXED
    if not fixed and (steps is not None or step_size is not None):
        raise SymlieError(f"steps, step_size: only for fixed-step methods; method {method!r} is adaptive "
                          f"(its accuracy is set by rtol and atol)")
    rate = _step_rate(steps, step_size) if fixed else None
    check_memory(z0.numel() * z0.element_size() * (len(marks) + 6),
                 f"flow of a state of shape {tuple(z0.shape)} with {len(marks)} stored states",
                 hint="pass fewer times, or integrate the batch in chunks")

    s_col = st.unsqueeze(-1)
    rhs = lambda z: s_col * _velocity(field, z)

    if adjoint:
        if params is not None:
            adjoint_params = tuple(params)
            if not all(isinstance(p, torch.Tensor) for p in adjoint_params):
                raise SymlieError("params: expected an iterable of tensors (the parameters to differentiate)")
        elif isinstance(field, torch.nn.Module):
            adjoint_params = tuple(field.parameters())
        else:
            raise SymlieError("params: adjoint=True needs the parameters to differentiate: pass params= (e.g. "
                              "model.parameters()), or params=() for gradients in z0 and s only, or make field an "
                              "nn.Module")
        out = _torchdiffeq(name, rhs, z0, st, marks, rate, rtol, atol, True, adjoint_params)
    elif kind == "torchdiffeq":
        out = _torchdiffeq(name, rhs, z0, st, marks, rate, rtol, atol, False, None)
    else:
        assert rate is not None
        states = _fixed_step(name, rhs, z0, marks, rate)
        return states[-1] if times is None else torch.stack(states)
    return out[-1] if times is None else out


def flow_matrix(A: Any, z0: Any, s: Any) -> torch.Tensor:
    """The exact flow of the linear field v(z) = z A^T (v = A z for column vectors): z0 exp(sA)^T.

    Args:
        A: the generator, (d, d), or a stack (..., d, d) broadcastable against z0.shape[:-2] (e.g. (n_gen, d, d)
            for z0 of shape (n_gen, N, d): generator i acts on copy i); cast to z0's dtype and device.
        z0: the points, shape (..., N, d), floating (dtype and device kept).
        s: a number or a tensor broadcastable to z0.shape[:-1], as in :func:`flow` (one matrix exponential per
            distinct value: per-point s costs one d x d exponential per point).

    Returns:
        phi_s(z0) = exp(sA) z0 per point, z0's shape and dtype, differentiable in A, z0 and s.
    """
    z0 = as_tensor(z0, "z0")
    if z0.ndim < 2:
        raise SymlieError(f"z0: expected points of shape (..., N, d), got shape {tuple(z0.shape)}")
    d = z0.shape[-1]
    At = as_tensor(A, "A", dtype=z0.dtype, device=z0.device)
    if At.ndim < 2 or At.shape[-1] != At.shape[-2] or At.shape[-1] != d:
        raise SymlieError(f"A: expected a ({d}, {d}) matrix or a stack (..., {d}, {d}) for points in R^{d}, got "
                          f"shape {tuple(At.shape)}")
    a_batch, z_batch = tuple(At.shape[:-2]), tuple(z0.shape[:-2])
    if not all(a == b or a == 1 or b == 1 for a, b in zip(a_batch[::-1], z_batch[::-1])):
        raise SymlieError(f"A: the stack shape {a_batch} does not broadcast against z0.shape[:-2] = {z_batch}")
    st = _check_s(s, z0)
    if st.ndim == 0 or st.shape[-1] == 1:       # one s per matrix: exponentials of (..., d, d)
        sm = st if st.ndim == 0 else st.squeeze(-1)
        M = torch.linalg.matrix_exp(sm[..., None, None] * At)
        out = z0 @ M.mT
    else:                                       # one s per point: exponentials of (..., N, d, d)
        M = torch.linalg.matrix_exp(st[..., None, None] * At.unsqueeze(-3))
        out = (M @ z0.unsqueeze(-1)).squeeze(-1)
    if out.shape != z0.shape:
        raise SymlieError(f"A, s: the flow has shape {tuple(out.shape)}, not z0's {tuple(z0.shape)}; the stack of A "
                          f"must broadcast into z0's batch dimensions")
    return out
