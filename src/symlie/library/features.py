"""Feature libraries Phi: R^n -> R^D with exact Jacobians, for linear-in-parameter models F_W(x) = W Phi(x).

Every library provides

  * ``transform(X) -> (N, D)`` (also ``library(X)``) and ``jacobian(X) -> (N, D, n)`` with
    ``jacobian(X)[i, f, j] = d Phi_f / d x_j (X[i])``, both float64 torch tensors, vectorised over samples;
  * ``feature_names(input_names=None)`` and ``n_output_features(n)``;
  * ``polynomial_degree``: the total degree when every feature is a polynomial (``None`` otherwise). It
    gives the exact number of constraint points in :class:`symlie.SymmetricRegressor` (framework 3.3).

The number of input variables n is fixed by ``n_features=`` or at the first ``fit`` / ``transform`` /
``jacobian`` call; later calls with another width are refused. Inputs may be numpy arrays or torch tensors
(integer input is converted, NaN / Inf refused); outputs are always float64 torch tensors on the CPU or the
input's device. Libraries combine with ``+`` (:class:`ConcatLibrary`); :func:`symlie.lie_derivative_linear`
turns any of them into the Lie-derivative operator on the coefficients W.
"""
from __future__ import annotations

import itertools
import math
from typing import Callable, Sequence

import torch

from ..utils.errors import NotFittedError, SymlieError
from ..utils.resources import check_memory, get_memory_limit
from ..utils.validation import as_tensor, check_int

__all__ = ["format_equations", "Library", "PolynomialLibrary", "FourierLibrary", "CustomLibrary", "ConcatLibrary",
           "NotFittedError"]

DT = torch.float64


def _check_rows(what: str, N: int, per_row: int, hint: str) -> None:
    """Refuse an evaluation over N samples that needs ``per_row`` bytes per sample above the memory limit; the
    hint says how many rows would fit."""
    fit = get_memory_limit() // max(per_row, 1)
    h = f"evaluate at most about {fit} rows at a time (split X into batches)" if fit else "a single row does not fit"
    check_memory(N * per_row, what, hint=f"{h} {hint}" if hint else h)


def _default_names(n: int, input_names) -> list[str]:
    if input_names is None:
        return [f"x{i}" for i in range(n)]
    names = list(input_names)
    if len(names) != n or not all(isinstance(s, str) for s in names):
        raise ValueError(f"input_names: expected {n} strings (one per input variable), got {input_names!r}")
    return names


class Library:
    """Base class of feature libraries (see the module docstring for the interface)."""

    def __init__(self, n_features: int | None = None):
        self.n_features_in = None if n_features is None else check_int(n_features, "n_features", 1)

    # -- interface -----------------------------------------------------------------------------------
    def n_output_features(self, n: int) -> int:  # pragma: no cover - abstract
        """D, the number of features for n input variables."""
        raise NotImplementedError

    def _transform(self, X: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _jacobian(self, X: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _names(self, names: list[str]) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def polynomial_degree(self) -> int | None:
        """Total degree of the features when all are polynomials, else ``None``."""
        return None

    # -- shared machinery ----------------------------------------------------------------------------
    def _validate(self, X, name: str = "X") -> torch.Tensor:
        X = as_tensor(X, name, dtype=DT)
        if X.ndim == 1:
            raise ValueError(f"{name}: expected a 2-D array (N samples, n variables), got shape {tuple(X.shape)}; "
                             f"use X.reshape(-1, 1) for a single variable or X.reshape(1, -1) for a single sample")
        if X.ndim != 2:
            raise ValueError(f"{name}: expected a 2-D array (N samples, n variables), got shape {tuple(X.shape)}")
        if X.shape[1] == 0:
            raise ValueError(f"{name}: has no columns (0 input variables)")
        if self.n_features_in is None:
            self._set_n(X.shape[1])
        elif X.shape[1] != self.n_features_in:
            raise ValueError(f"{name}: expected {self.n_features_in} columns ({type(self).__name__} was fitted on "
                             f"{self.n_features_in} input variables), got shape {tuple(X.shape)}")
        return X

    def _set_n(self, n: int) -> None:
        self.n_features_in = n

    def _require_n(self, what: str) -> int:
        if self.n_features_in is None:
            raise NotFittedError(f"{type(self).__name__}.{what}: the number of input variables is not known yet; "
                                 f"call fit(X) or transform(X) first, or pass n_features=...")
        return self.n_features_in

    def fit(self, X, y=None) -> "Library":
        """Fix the number of input variables from X (N, n); returns self."""
        self._validate(X)
        return self

    def transform(self, X) -> torch.Tensor:
        """Features Phi(X): (N, n) -> (N, D), float64."""
        return self._transform(self._validate(X))

    __call__ = transform

    def fit_transform(self, X, y=None) -> torch.Tensor:
        return self.fit(X).transform(X)

    def jacobian(self, X) -> torch.Tensor:
        """Exact Jacobian (N, D, n): ``J[i, f, j] = d Phi_f / d x_j`` at X[i]."""
        return self._jacobian(self._validate(X))

    def feature_names(self, input_names: Sequence[str] | None = None) -> list[str]:
        """Readable names of the D features (input variables named ``x0, x1, ...`` unless given)."""
        return self._names(_default_names(self._require_n("feature_names"), input_names))

    @property
    def n_features_out(self) -> int:
        """D for the fitted number of inputs."""
        return self.n_output_features(self._require_n("n_features_out"))

    def __add__(self, other) -> "ConcatLibrary":
        if not isinstance(other, Library):
            return NotImplemented
        return ConcatLibrary([self, other])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._repr_args()})"

    def _repr_args(self) -> str:
        return ""


# --------------------------------------------------------------------------------------------------- polynomials
def check_polynomial_size(n: int, degree: int, include_bias: bool = True) -> int:
    """D = C(n + degree, degree) (one less without the bias); refuses (:class:`symlie.utils.ResourceError`) a
    library whose exponent table would not fit in the memory limit. Returns D."""
    D = math.comb(n + degree, degree) - (0 if include_bias else 1)
    # the table is built as D Python lists of n ints (56 + 8 n bytes each), then a (D, n) int64 tensor
    check_memory(D * (64 + 16 * n), f"PolynomialLibrary(degree={degree}) in {n} variables: {D} monomials",
                 hint="use a smaller degree or fewer variables")
    return D


def monomial_powers(n: int, degree: int, include_bias: bool = True) -> torch.Tensor:
    """Exponent matrix (D, n) of all monomials of total degree <= ``degree`` in n variables.

    Ordered by degree, then lexicographically in the variable indices (the order of
    ``itertools.combinations_with_replacement``, as in scikit-learn): 1, x0, x1, x0^2, x0 x1, x1^2, ...
    Refused before it is built when the table would not fit in the memory limit.
    """
    check_polynomial_size(n, degree, include_bias)
    rows = []
    for k in range(0 if include_bias else 1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(n), k):
            p = [0] * n
            for i in combo:
                p[i] += 1
            rows.append(p)
    return torch.tensor(rows, dtype=torch.long).reshape(len(rows), n)


class PolynomialLibrary(Library):
    """All monomials of total degree <= ``degree`` in n variables: D = C(n + degree, degree) (one less without
    the bias).

    Args:
        degree: maximal total degree (>= 0).
        include_bias: include the constant monomial 1.
        n_features: number of input variables n (default: fixed at the first fit / transform).

    Features are ordered by degree, then lexicographically (``powers`` gives the (D, n) exponent matrix);
    names look like ``1, x0, x1, x0^2, x0 x1, x1^2``.

    Example:
        >>> import symlie as sl, torch
        >>> lib = sl.PolynomialLibrary(2, n_features=2)
        >>> lib.feature_names()
        ['1', 'x0', 'x1', 'x0^2', 'x0 x1', 'x1^2']
        >>> lib(torch.tensor([[2.0, 3.0]])).tolist()
        [[1.0, 2.0, 3.0, 4.0, 6.0, 9.0]]
    """

    def __init__(self, degree: int, include_bias: bool = True, n_features: int | None = None):
        self.degree = check_int(degree, "degree", 0)
        if not isinstance(include_bias, bool):
            raise TypeError(f"include_bias: expected a bool, got {type(include_bias).__name__}")
        if degree == 0 and not include_bias:
            raise ValueError("degree, include_bias: degree 0 without the bias leaves no features")
        self.include_bias = include_bias
        self._powers: torch.Tensor | None = None
        super().__init__(n_features)
        if self.n_features_in is not None:
            check_polynomial_size(self.n_features_in, self.degree, include_bias)

    def _set_n(self, n: int) -> None:
        check_polynomial_size(n, self.degree, self.include_bias)
        super()._set_n(n)

    def _repr_args(self) -> str:
        s = f"degree={self.degree}"
        if not self.include_bias:
            s += ", include_bias=False"
        if self.n_features_in is not None:
            s += f", n_features={self.n_features_in}"
        return s

    @property
    def polynomial_degree(self) -> int:
        return self.degree

    def n_output_features(self, n: int) -> int:
        check_int(n, "n", 1)
        return math.comb(n + self.degree, self.degree) - (0 if self.include_bias else 1)

    @property
    def powers(self) -> torch.Tensor:
        """(D, n) integer exponent matrix: feature f is prod_i x_i ** powers[f, i]."""
        n = self._require_n("powers")
        if self._powers is None or self._powers.shape[1] != n:
            self._powers = monomial_powers(n, self.degree, self.include_bias)
        return self._powers

    def _power_table(self, X: torch.Tensor) -> torch.Tensor:
        """(N, n, degree + 1) with [..., k] = x ** k, by repeated multiplication (exact integer powers; plain
        products, not cumprod, whose forward-mode derivative is much slower under nested autodiff)."""
        N, n = X.shape
        cols = [torch.ones(N, n, dtype=X.dtype, device=X.device)]
        for _ in range(self.degree):
            cols.append(cols[-1] * X)
        return torch.stack(cols, -1)

    @staticmethod
    def _monomials(pw: torch.Tensor, P: torch.Tensor) -> torch.Tensor:
        """prod_i pw[:, i, P[f, i]] for every feature f: (N, D), one product per variable (no reduction op: an
        elementwise product differentiates cheaply, also under nested forward-mode autodiff)."""
        out = pw[:, 0, P[:, 0]]
        for i in range(1, P.shape[1]):
            out = out * pw[:, i, P[:, i]]
        return out

    def _transform(self, X):
        P = self.powers.to(X.device)
        N, n = X.shape
        D = P.shape[0]
        _check_rows(f"{self!r}.transform: {N} samples x {D} features (x {n} factors)", N,
                    X.element_size() * (2 * D * n + D + n * (self.degree + 2)), "or use a smaller degree")
        return self._monomials(self._power_table(X), P)

    def _jacobian(self, X):
        P = self.powers.to(X.device)
        N, n = X.shape
        D = P.shape[0]
        _check_rows(f"{self!r}.jacobian: {N} samples x {D} features x {n} variables", N,
                    X.element_size() * (3 * D * n + D + n * (self.degree + 2)), "or use a smaller degree")
        pw = self._power_table(X)
        cols = []
        for j in range(n):  # a loop over variables, not samples
            Pj = P.clone()
            Pj[:, j] = (Pj[:, j] - 1).clamp(min=0)
            cols.append(P[:, j].to(X.dtype) * self._monomials(pw, Pj))
        return torch.stack(cols, -1)

    def _names(self, names):
        out = []
        for p in self.powers.tolist():
            terms = [names[i] if e == 1 else f"{names[i]}^{e}" for i, e in enumerate(p) if e]
            out.append(" ".join(terms) if terms else "1")
        return out


# --------------------------------------------------------------------------------------------------- Fourier
class FourierLibrary(Library):
    """Trigonometric features sin(k x_i), cos(k x_i) for k = 1..n_frequencies (and the constant 1 first).

    Ordered by frequency, then variable, sine before cosine (as in PySINDy):
    ``1, sin(x0), cos(x0), sin(x1), cos(x1), sin(2 x0), ...``; D = 2 n n_frequencies (+ 1).
    """

    def __init__(self, n_frequencies: int = 1, include_bias: bool = True, n_features: int | None = None):
        self.n_frequencies = check_int(n_frequencies, "n_frequencies", 1)
        if not isinstance(include_bias, bool):
            raise TypeError(f"include_bias: expected a bool, got {type(include_bias).__name__}")
        self.include_bias = include_bias
        super().__init__(n_features)

    def _repr_args(self) -> str:
        s = f"n_frequencies={self.n_frequencies}"
        if not self.include_bias:
            s += ", include_bias=False"
        return s

    def n_output_features(self, n: int) -> int:
        check_int(n, "n", 1)
        return 2 * n * self.n_frequencies + int(self.include_bias)

    def _kx(self, X):
        k = torch.arange(1, self.n_frequencies + 1, dtype=X.dtype, device=X.device)
        return k, X[:, None, :] * k[None, :, None]                   # (K,), (N, K, n)

    def _transform(self, X):
        N, n = X.shape
        _check_rows(f"{self!r}.transform: {N} samples x {self.n_output_features(n)} features", N,
                    X.element_size() * (6 * self.n_frequencies * n + 1), "or use fewer frequencies")
        _, kx = self._kx(X)
        F = torch.stack([torch.sin(kx), torch.cos(kx)], -1).reshape(X.shape[0], -1)
        if self.include_bias:
            F = torch.cat([torch.ones(X.shape[0], 1, dtype=X.dtype, device=X.device), F], 1)
        return F

    def _jacobian(self, X):
        N, n = X.shape
        _check_rows(f"{self!r}.jacobian: {N} samples x {self.n_output_features(n)} features x {n} variables", N,
                    X.element_size() * (self.n_frequencies * n * (6 + 4 * n) + 2 * n), "or use fewer frequencies")
        k, kx = self._kx(X)
        d = torch.stack([k[:, None] * torch.cos(kx), -k[:, None] * torch.sin(kx)], -1)   # (N, K, n, 2)
        eye = torch.eye(n, dtype=X.dtype, device=X.device)
        J = d[..., None] * eye[None, None, :, None, :]                                  # (N, K, n, 2, n)
        J = J.reshape(N, -1, n)
        if self.include_bias:
            J = torch.cat([X.new_zeros(N, 1, n), J], 1)
        return J

    def _names(self, names):
        out = ["1"] if self.include_bias else []
        for k in range(1, self.n_frequencies + 1):
            kk = "" if k == 1 else f"{k} "
            for nm in names:
                out += [f"sin({kk}{nm})", f"cos({kk}{nm})"]
        return out


# --------------------------------------------------------------------------------------------------- custom
class CustomLibrary(Library):
    """Features given as torch functions, each mapping X (N, n) to (N,) row by row.

    Args:
        functions: sequence of callables ``f(X) -> (N,)``; they must act row-wise (row i of the output
            depends only on X[i]) and be written in torch so they can be differentiated.
        jacobians: optional sequence (same length) of callables ``df(X) -> (N, n)`` (the gradient of each
            feature), or ``None`` entries; missing ones are computed by forward-mode autodiff
            (``torch.func.jvp`` along the n coordinate directions, vectorised with ``torch.func.vmap``).
        names: optional feature names: strings, or callables ``names(input_names) -> str``. Default: the
            function's ``__name__`` (``f0, f1, ...`` for lambdas).
        n_features: number of input variables n (default: fixed at the first fit / transform).

    ``polynomial_degree`` is ``None``: :class:`symlie.SymmetricRegressor` then uses the generic point rule.
    """

    def __init__(self, functions: Sequence[Callable], jacobians: Sequence[Callable | None] | None = None,
                 names: Sequence | None = None, n_features: int | None = None):
        if callable(functions):
            functions = [functions]
        functions = list(functions)
        if not functions:
            raise ValueError("functions: expected at least one feature function")
        for i, f in enumerate(functions):
            if not callable(f):
                raise TypeError(f"functions[{i}]: expected a callable, got {type(f).__name__}")
        if jacobians is None:
            jacobians = [None] * len(functions)
        jacobians = list(jacobians)
        if len(jacobians) != len(functions):
            raise ValueError(f"jacobians: expected {len(functions)} entries (one per function), got {len(jacobians)}")
        for i, j in enumerate(jacobians):
            if j is not None and not callable(j):
                raise TypeError(f"jacobians[{i}]: expected a callable or None, got {type(j).__name__}")
        if names is not None:
            names = list(names)
            if len(names) != len(functions):
                raise ValueError(f"names: expected {len(functions)} entries (one per function), got {len(names)}")
            for i, s in enumerate(names):
                if not (isinstance(s, str) or callable(s)):
                    raise TypeError(f"names[{i}]: expected a str or a callable, got {type(s).__name__}")
        self.functions = functions
        self.jacobians = jacobians
        self.names = names
        super().__init__(n_features)

    def _repr_args(self) -> str:
        return f"<{len(self.functions)} functions>"

    def n_output_features(self, n: int) -> int:
        check_int(n, "n", 1)
        return len(self.functions)

    def _eval(self, i: int, f: Callable, X: torch.Tensor) -> torch.Tensor:
        y = f(X)
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"functions[{i}]: must return a torch.Tensor, got {type(y).__name__}")
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.shape != (X.shape[0],):
            raise ValueError(f"functions[{i}]: expected output of shape ({X.shape[0]},) for input of shape "
                             f"{tuple(X.shape)}, got {tuple(y.shape)}")
        return y.to(DT)

    def _transform(self, X):
        return torch.stack([self._eval(i, f, X) for i, f in enumerate(self.functions)], 1)

    @staticmethod
    def _autodiff_gradient(f: Callable, X: torch.Tensor) -> torch.Tensor:
        N, n = X.shape
        X = X.contiguous()
        E = torch.eye(n, dtype=X.dtype, device=X.device)[:, None, :].expand(n, N, n).contiguous()

        def directional(v):
            return torch.func.jvp(f, (X,), (v,))[1]

        try:
            d = torch.func.vmap(directional)(E)                         # (n, N)
        except Exception:  # functions vmap cannot batch (data-dependent control flow...): one jvp per variable
            d = torch.stack([directional(E[j]) for j in range(n)])
        if d.ndim == 3 and d.shape[2] == 1:
            d = d[..., 0]
        return d.T

    def _jacobian(self, X):
        N, n = X.shape
        _check_rows(f"{self!r}.jacobian: {N} samples x {len(self.functions)} features x {n} variables", N,
                    X.element_size() * (2 * len(self.functions) * n + 3 * n * n), "")
        cols = []
        for i, (f, jf) in enumerate(zip(self.functions, self.jacobians)):
            if jf is None:
                try:
                    g = self._autodiff_gradient(f, X)
                except Exception as exc:
                    raise SymlieError(f"functions[{i}]: could not be differentiated with torch.func ({exc}); "
                                      f"write it with torch operations or pass jacobians=[...]") from exc
            else:
                g = jf(X)
                if not isinstance(g, torch.Tensor):
                    raise TypeError(f"jacobians[{i}]: must return a torch.Tensor, got {type(g).__name__}")
            if g.shape != X.shape:
                raise ValueError(f"jacobians[{i}]: expected a gradient of shape {tuple(X.shape)}, got {tuple(g.shape)}")
            cols.append(g.to(DT))
        return torch.stack(cols, 1)

    def _names(self, names):
        out = []
        for i, f in enumerate(self.functions):
            if self.names is not None:
                s = self.names[i]
                out.append(s if isinstance(s, str) else str(s(names)))
            else:
                nm = getattr(f, "__name__", "")
                out.append(nm if nm and nm != "<lambda>" else f"f{i}")
        return out


# --------------------------------------------------------------------------------------------------- concat
class ConcatLibrary(Library):
    """Features of several libraries side by side (also ``lib1 + lib2``); all share the same inputs.

    Duplicate features (e.g. two constant columns) are kept; least squares and nullspaces handle them.
    """

    def __init__(self, libraries: Sequence[Library]):
        flat: list[Library] = []
        for i, lib in enumerate(libraries):
            if not isinstance(lib, Library):
                raise TypeError(f"libraries[{i}]: expected a symlie Library, got {type(lib).__name__}")
            flat.extend(lib.libraries if isinstance(lib, ConcatLibrary) else [lib])
        if not flat:
            raise ValueError("libraries: expected at least one library")
        ns = {lib.n_features_in for lib in flat if lib.n_features_in is not None}
        if len(ns) > 1:
            raise ValueError(f"libraries: fitted on different numbers of input variables {sorted(ns)}")
        self.libraries: list[Library] = flat
        super().__init__(ns.pop() if ns else None)
        if self.n_features_in is not None:
            self._set_n(self.n_features_in)

    def _repr_args(self) -> str:
        return ", ".join(repr(lib) for lib in self.libraries)

    def __repr__(self) -> str:
        return " + ".join(repr(lib) for lib in self.libraries)

    def _set_n(self, n: int) -> None:
        self.n_features_in = n
        for lib in self.libraries:
            if lib.n_features_in is None:
                lib._set_n(n)

    @property
    def polynomial_degree(self) -> int | None:
        degs = [lib.polynomial_degree for lib in self.libraries]
        return None if any(d is None for d in degs) else max(degs)  # type: ignore[type-var]

    def n_output_features(self, n: int) -> int:
        return sum(lib.n_output_features(n) for lib in self.libraries)

    def _transform(self, X):
        return torch.cat([lib.transform(X) for lib in self.libraries], 1)

    def _jacobian(self, X):
        return torch.cat([lib.jacobian(X) for lib in self.libraries], 1)

    def _names(self, names):
        return [s for lib in self.libraries for s in lib._names(names)]


def format_equations(coef: torch.Tensor, feature_names: list[str], lhs: list[str], precision: int = 3) -> list[str]:
    """``lhs[a] = c1 f1 + c2 f2 ...`` for each row of coef (n_out, D); terms that round to 0 are left out."""
    out = []
    cutoff = 0.5 * 10.0 ** (-precision)
    for a, row in enumerate(coef.tolist()):
        terms: list[str] = []
        for c, nm in zip(row, feature_names):
            if abs(c) < cutoff:
                continue
            mag = f"{abs(c):.{precision}f}"
            body = mag if nm == "1" else f"{mag} {nm}"
            if not terms:
                terms.append(f"-{body}" if c < 0 else body)
            else:
                terms.append(f"- {body}" if c < 0 else f"+ {body}")
        out.append(f"{lhs[a]} = {' '.join(terms) if terms else '0'}")
    return out
