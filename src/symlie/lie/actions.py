"""Actions: families of generators, the one input of the Lie-derivative operator.

An :class:`Action` is a family of q generators acting on an input space R^n and on model outputs:

    v_xi(z) = sum_k xi_k V_k(z)                      (vector fields on the inputs, linear in xi)
    (L_xi F)(z) = DF(z) v_xi(z) - Out_xi(z) F(z)      (the convention of :mod:`symlie.derivative`)

where Out_xi(z) (n_out, n_out) is how the generator acts on the outputs: ``drho_out(xi)`` for a linear
representation, the tangent lift ``Dv_xi(z)`` for a dynamical system z' = F(z) (then L_xi F = [v_xi, F]),
or nothing for invariant outputs. The operator only ever needs :meth:`Action.vector_fields` and
:meth:`Action.output_term`; it is linear in xi for every action, so discovery of any symmetry family
(matrix, nonlinear, neural) is a nullspace of the same operator.

Implementations:
  * :class:`MatrixAction`: a matrix Lie algebra acting linearly or affinely through representations
    (``rep_in``: ``sl.V(G)``, ``sl.Point(G)``, sums of them; ``rep_out``: any linear representation);
    finite action exp(t xi) exact.
  * :class:`LibraryAction`: V_(i,j)(z) = phi_j(z) e_i for a feature library phi_1..phi_D on R^n
    (polynomials of any degree, user torch functions), q = n D generators, so a *nonlinear* vector field is a
    coefficient vector; outputs invariant or by the tangent lift.
  * :class:`ModuleAction`: q vector fields given by a torch module (neural generators).

Coefficients xi are coordinates in the action's own basis V_1..V_q; the Euclidean inner product of the
coefficients is the one nullspaces and nuclear norms use (named matrix algebras have Frobenius-orthonormal
bases, so it is the Frobenius inner product of the generators).
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch

from ..library import Library, PolynomialLibrary
from ..utils.resources import check_memory
from ..utils.validation import SymlieError, as_tensor, check_int
from .algebra import LieAlgebra
from .groups import Group, as_group
from .reps import Point, Rep, Trivial

__all__ = ["Action", "MatrixAction", "LibraryAction", "ModuleAction", "as_action", "check_rep_out",
           "check_same_algebra", "polynomial_vector_fields", "rk4_flow"]


def rk4_flow(field: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, t: float, steps: int) -> torch.Tensor:
    """exp(t v) x by ``steps`` fixed steps of the classical Runge-Kutta method; field: (N, n) -> (N, n)."""
    steps = check_int(steps, "steps", 1)
    h = float(t) / steps
    y = x
    for _ in range(steps):
        k1 = field(y)
        k2 = field(y + 0.5 * h * k1)
        k3 = field(y + 0.5 * h * k2)
        k4 = field(y + h * k3)
        y = y + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


class Action:
    """Base class: a family of q generators (see the module docstring).

    Subclasses provide :attr:`dim`, :attr:`n_in`, :meth:`vector_fields` and, when outputs transform,
    :meth:`output_term`. Everything else has a generic implementation.

    Attributes:
        dim: q, the number of generators.
        n_in: dimension n of the input space.
        n_out: size of the outputs the action is defined on; ``None`` when outputs are invariant (any width).
        name: a readable name.
    """

    dim: int
    n_in: int
    n_out: int | None = None
    name: str = "action"
    #: True when the outputs transform (otherwise L_xi F = DF v_xi)
    acts_on_outputs: bool = False

    # -- the two pieces the operator needs ---------------------------------------------------------
    def vector_fields(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """V_k(x) for every generator: x (N, n_in) -> (q, N, n_in), in x's dtype."""
        raise NotImplementedError

    def output_term(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        """Out_k(x) y for every generator: x (N, n_in), y = F(x) (N, n_out) -> (q, N, n_out); ``None`` when
        the outputs are invariant (nothing is subtracted)."""
        return None

    def output_matrices(self, x: torch.Tensor, n_out: int) -> torch.Tensor | None:
        """Out_k(x) as matrices (q, N, n_out, n_out) (``None`` for invariant outputs); by default read off
        :meth:`output_term` on the unit vectors."""
        if not self.acts_on_outputs:
            return None
        N = x.shape[0]
        check_memory(3 * x.element_size() * self.dim * N * n_out * n_out, f"output_matrices: {self.dim} generators "
                     f"x {N} points x {n_out}x{n_out}", hint="evaluate fewer points at a time")
        eye = torch.eye(n_out, dtype=x.dtype, device=x.device)
        xr = x.unsqueeze(0).expand(n_out, N, x.shape[1]).reshape(n_out * N, -1)
        yr = eye[:, None, :].expand(n_out, N, n_out).reshape(n_out * N, n_out)
        T = self.output_term(xr, yr)                                      # (q, n_out * N, n_out): column b
        assert T is not None
        return T.reshape(self.dim, n_out, N, n_out).permute(0, 2, 3, 1)  # (q, N, a, b)

    # -- generic machinery -------------------------------------------------------------------------
    def check_points(self, x, name: str = "x") -> torch.Tensor:
        """x as an (N, n_in) floating tensor (NaN/Inf refused, at least one point)."""
        x = as_tensor(x, name, ndim=2)
        if x.shape[0] == 0:
            raise ValueError(f"{name}: got 0 sample points")
        if x.shape[1] != self.n_in:
            raise ValueError(f"{name}: {self._acts_on()} acts on R^{self.n_in} but {name} has shape {tuple(x.shape)}")
        return x

    def _acts_on(self) -> str:
        return f"the action {self.name}"

    def check_outputs(self, n_out: int, name: str = "rep_out", outputs: str | None = None) -> None:
        """Refuse models whose output width does not match the action on outputs (``outputs`` says where
        n_out comes from in the message; default: the model's outputs)."""
        if self.n_out is not None and n_out != self.n_out:
            what = getattr(self, "declared_out", None)
            desc = f"representation {what}" if what is not None else "the action on outputs"
            raise ValueError(f"{name}: {desc} has size {self.n_out} but "
                             f"{outputs or f'the model returns {n_out} output(s)'}")

    def field(self, coeffs) -> Callable[[torch.Tensor], torch.Tensor]:
        """The single vector field v_xi = sum_k xi_k V_k as a callable (N, n_in) -> (N, n_in)."""
        c = as_tensor(coeffs, "coeffs", ndim=1, dtype=torch.float64)
        if c.shape[0] != self.dim:
            raise ValueError(f"coeffs: expected {self.dim} coefficients, got {c.shape[0]}")

        def v(x):
            return torch.einsum("k,kni->ni", c.to(x.dtype), self.vector_fields(x))

        return v

    def flow(self, coeffs, x, t: float = 1.0, *, steps: int = 32) -> torch.Tensor:
        """exp(t v_xi) x, the finite transformation of points x (N, n_in) (RK4 with ``steps`` steps unless the
        action has a closed form)."""
        x = self.check_points(x)
        return rk4_flow(self.field(coeffs), x, t, steps)

    def tangent(self) -> "Action":
        """The same vector fields acting on outputs by the tangent lift (dynamics x' = F(x)): L_xi F = [v_xi, F]."""
        return TangentLift(self)

    def restrict(self, coeffs) -> "Action":
        """The sub-family spanned by the rows of ``coeffs`` (k, q): generators W_i = sum_k coeffs[i, k] V_k."""
        return Combination(self, coeffs)

    def brackets(self, coeffs, x) -> torch.Tensor:
        """Lie brackets [v_a, v_b](x) = Dv_b(x) v_a(x) - Dv_a(x) v_b(x) of the fields v_a = coeffs[a] . V at the
        points x: (k, k, N, n_in), by forward-mode autodiff of :meth:`vector_fields`."""
        C = as_tensor(coeffs, "coeffs", ndim=2, dtype=torch.float64).to(x.dtype)
        k, (N, n) = C.shape[0], x.shape
        check_memory(x.element_size() * (3 * k * k * N * n + 3 * (self.dim + k) * N * n * n),
                     f"brackets: {k}x{k} brackets at {N} points of R^{n}", hint="evaluate fewer points at a time")
        v = torch.einsum("ak,kni->ani", C, self.vector_fields(x))             # (k, N, n)
        J = self.jacobians(x)                                                  # (q, N, n, n)
        Jc = torch.einsum("ak,knij->anij", C, J)                               # (k, N, n, n)
        Dvb_va = torch.einsum("bnij,anj->abni", Jc, v)
        return Dvb_va - Dvb_va.transpose(0, 1)

    def closure_view(self, points: torch.Tensor) -> tuple["Action", torch.Tensor]:
        """The family and points on which closure under the bracket is checked (the same q coefficients): itself
        by default; a prolonged family answers with its base fields (prolongation is a homomorphism)."""
        return self, points

    def jacobians(self, x: torch.Tensor) -> torch.Tensor:
        """DV_k(x): (q, N, n_in, n_in) with [k, n, i, j] = d V_k^i / d x_j, by forward-mode autodiff."""
        N, n = x.shape
        check_memory(3 * x.element_size() * self.dim * N * n * n, f"jacobians: {self.dim} generators x {N} points "
                     f"x {n}x{n}", hint="evaluate fewer points at a time")
        x = x.detach().contiguous()
        eye = torch.eye(n, dtype=x.dtype, device=x.device)
        cols = []
        for j in range(n):
            _, d = torch.func.jvp(self.vector_fields, (x,), (eye[j].expand(N, n).contiguous(),))  # type: ignore[misc]
            cols.append(d)                                                     # (q, N, n): d V / d x_j
        return torch.stack(cols, -1)

    def describe(self, coeffs, precision: int = 3) -> str:
        """A readable form of the generator sum_k coeffs[k] V_k."""
        c = as_tensor(coeffs, "coeffs", ndim=1, dtype=torch.float64)
        terms = [f"{float(v):+.{precision}g} V{k}" for k, v in enumerate(c) if abs(float(v)) > 10 ** -precision]
        return " ".join(terms) if terms else "0"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name}, q={self.dim}, n_in={self.n_in})"


# ------------------------------------------------------------------------------------------------ matrices
def check_same_algebra(rep: Rep, group: Group, name: str) -> None:
    """Both actions must read the generators xi as the same matrices: refuse reps of another group's algebra."""
    if rep.group.algebra != group.algebra:
        raise SymlieError(f"{name}: {rep} is a representation of {rep.group.name} but the input action belongs to "
                          f"{group.name}; both must be built on the same group (or algebra)")


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


class MatrixAction(Action):
    """A matrix Lie algebra acting on inputs through ``rep_in`` and on outputs through ``rep_out``.

    V_k(x) = rep_in's vector field of the basis matrix X_k (A_k x, or A_k x + b_k for affine actions such as
    ``sl.Point(sl.SE(3))``); Out_k = drho_out(X_k), constant in x.

    Args:
        generators: a :class:`symlie.LieAlgebra` or :class:`symlie.Group` (its algebra basis, its discrete
            generators recorded in :attr:`group`), or raw matrices (q, d, d) / (d, d) (then ``rep_in`` is
            required).
        rep_in: the action on inputs (default ``sl.Point`` of the group: x -> A x (+ b)).
        rep_out: a linear representation on the outputs, or ``None`` for invariant outputs of any width.
        orthonormalize: replace a non-orthonormal algebra basis by a Frobenius-orthonormal one (so that
            spectra do not depend on the basis chosen); raw matrices are never changed.
    """

    def __init__(self, generators, rep_in: Rep | None = None, rep_out: Rep | None = None, *,
                 orthonormalize: bool = False, argname: str = "xi"):
        self.single = False
        if isinstance(generators, Group):
            group: Group | None = generators
            alg: LieAlgebra | None = generators.algebra
        elif isinstance(generators, LieAlgebra):
            group, alg = None, generators
        else:
            X = as_tensor(generators, argname, dtype=torch.float64)
            if X.ndim == 2:
                X, self.single = X.unsqueeze(0), True
            elif X.ndim != 3:
                raise ValueError(f"{argname}: expected a LieAlgebra, a (d, d) matrix or a (q, d, d) stack, got shape "
                                 f"{tuple(X.shape)}")
            if X.shape[-1] != X.shape[-2]:
                raise ValueError(f"{argname}: generators must be square matrices, got shape {tuple(X.shape)}")
            group, alg = None, None
            self._X = X
        if alg is not None:
            if orthonormalize and alg.dim and not alg.is_orthonormal(1e-10):
                alg = alg.orthonormalize()
            self._X = alg.basis
        if rep_in is None:
            if alg is None:
                raise ValueError("rep_in: required when xi is given as matrices (pass e.g. sl.V(G) or sl.Point(G))")
            rep_in = Point(group if group is not None else as_group(alg))
        elif not isinstance(rep_in, Rep):
            raise TypeError(f"rep_in: expected a Rep (e.g. sl.V(G) or sl.Point(G)), got {type(rep_in).__name__}")
        d = rep_in.group.matrix_size
        if self._X.shape[-1] != d:
            raise ValueError(f"{argname}: generators are {self._X.shape[-1]}x{self._X.shape[-1]} but rep_in {rep_in} "
                             f"acts through {d}x{d} matrices (of {rep_in.group.name})")
        if rep_out is not None:
            check_rep_out(rep_out, rep_in.group, getattr(rep_out, "size", 0))
        self.declared_out = rep_out                                           # as given (a Trivial rep fixes n_out)
        if isinstance(rep_out, Trivial):
            rep_out = None
        self.algebra = alg
        self.group = group if group is not None else rep_in.group
        self.rep_in, self.rep_out = rep_in, rep_out
        self.dim = int(self._X.shape[0])
        self.n_in = rep_in.size
        self.n_out = self.declared_out.size if self.declared_out is not None else None
        self.acts_on_outputs = rep_out is not None
        self.name = alg.name if alg is not None else f"{self.dim} generator(s) of {rep_in.group.name}"

    @property
    def generators(self) -> torch.Tensor:
        """The basis matrices X_k (q, d, d), float64."""
        return self._X

    def _acts_on(self) -> str:
        return f"rep_in {self.rep_in}"

    def vector_fields(self, x: torch.Tensor) -> torch.Tensor:
        return self.rep_in.vector_field(self._X.to(x.dtype), x)

    def output_term(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        if self.rep_out is None:
            return None
        self.check_outputs(y.shape[-1])
        q = self.dim
        return self.rep_out.apply_drho(self._X.to(y.dtype), y.unsqueeze(0).expand(q, *y.shape))

    def output_matrices(self, x: torch.Tensor, n_out: int) -> torch.Tensor | None:
        if self.rep_out is None:
            return None
        self.check_outputs(n_out)
        R = self.rep_out.drho(self._X).to(x.dtype)                          # (q, a, b)
        return R[:, None].expand(self.dim, x.shape[0], n_out, n_out)

    def affine_parts(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(A (q, n, n), b (q, n)) with V_k(x) = A_k x + b_k (every matrix action is affine in x)."""
        n = self.n_in
        pts = torch.cat([torch.zeros(1, n, dtype=torch.float64), torch.eye(n, dtype=torch.float64)])
        v = self.vector_fields(pts)                                         # (q, n + 1, n)
        b = v[:, 0]
        A = (v[:, 1:] - b[:, None, :]).transpose(1, 2)                      # A[:, :, i] = v(e_i) - v(0)
        return A, b

    def jacobians(self, x: torch.Tensor) -> torch.Tensor:
        A, _ = self.affine_parts()
        return A.to(x.dtype)[:, None].expand(self.dim, x.shape[0], self.n_in, self.n_in)

    def flow(self, coeffs, x, t: float = 1.0, *, steps: int = 32) -> torch.Tensor:
        """exp(t xi) acting on x (exact, through the matrix exponential)."""
        x = self.check_points(x)
        c = as_tensor(coeffs, "coeffs", ndim=1, dtype=torch.float64)
        if c.shape[0] != self.dim:
            raise ValueError(f"coeffs: expected {self.dim} coefficients, got {c.shape[0]}")
        g = torch.linalg.matrix_exp(float(t) * torch.einsum("k,kij->ij", c, self._X))
        return self.rep_in.act(g, x)

    def tangent(self) -> "MatrixAction":
        """Outputs transform like velocities: rep_out = rep_in.tangent() (the tangent lift of a matrix action)."""
        new = copy.copy(self)
        ro = self.rep_in.tangent()
        new.rep_out = new.declared_out = ro
        new.n_out, new.acts_on_outputs = ro.size, True
        return new

    def restrict(self, coeffs) -> "MatrixAction":
        C = as_tensor(coeffs, "coeffs", ndim=2, dtype=torch.float64)
        return MatrixAction(torch.einsum("ak,kij->aij", C, self._X), self.rep_in, self.rep_out)

    def transform(self, f: Callable, g: torch.Tensor) -> Callable:
        """K_g F: x -> rho_out(g)^{-1} F(rho_in(g) x) for one group element g (d, d)."""
        ginv = torch.linalg.inv(g)
        ro = self.rep_out

        def Kf(x):
            y = f(self.rep_in.act(g, x))
            if ro is None:
                return y
            return ro.apply_rho(ginv.to(y.dtype), y)

        return Kf

    def describe(self, coeffs, precision: int = 3) -> str:
        c = as_tensor(coeffs, "coeffs", ndim=1, dtype=torch.float64)
        M = torch.einsum("k,kij->ij", c, self._X)
        return str([[round(float(v), precision) for v in row] for row in M])

    def __repr__(self) -> str:
        ro = self.rep_out if self.rep_out is not None else "invariant"
        return f"MatrixAction({self.name}, q={self.dim}, rep_in={self.rep_in}, rep_out={ro})"


# ------------------------------------------------------------------------------------------- libraries
class LibraryAction(Action):
    """Function-library generators: V_(i,j)(z) = phi_j(z) e_i for a feature library phi_1..phi_D on R^n.

    Every vector field with coefficients in the library's span is v_xi = sum_{i,j} xi_(i,j) phi_j e_i, a
    coefficient vector xi of length q = len(components) * D (index k = c * D + j for the c-th entry of
    ``components`` and feature j), so a nonlinear symmetry is found by the same nullspace as a matrix one.

    Args:
        library: a :class:`symlie.Library` (e.g. ``sl.PolynomialLibrary(2)``, a ``CustomLibrary`` of torch
            functions such as exp(t/50), or sums of libraries). It is copied and fitted on R^n; the user's
            object is never changed.
        n_in: dimension n of the input space.
        components: which coordinate directions e_i carry fields (default all n); e.g. ``[0]`` for fields
            along the first coordinate only.
        outputs: ``"invariant"`` (default: L_xi F = DF v_xi, for scalar or invariant models) or
            ``"tangent"`` (dynamics z' = F(z): L_xi F = DF v_xi - Dv_xi F = [v_xi, F]).
        input_names: names of the coordinates for :meth:`describe` (default x0, x1, ...).
    """

    def __init__(self, library: Library, n_in: int, *, components=None, outputs: str = "invariant",
                 input_names=None):
        if not isinstance(library, Library):
            raise TypeError(f"library: expected a symlie Library (e.g. sl.PolynomialLibrary(2)), got "
                            f"{type(library).__name__}")
        n_in = check_int(n_in, "n_in", 1)
        if outputs not in ("invariant", "tangent"):
            raise ValueError(f"outputs: expected 'invariant' or 'tangent', got {outputs!r}")
        if components is None:
            components = list(range(n_in))
        components = [check_int(c, "components", 0) for c in components]
        if not components or any(c >= n_in for c in components) or len(set(components)) != len(components):
            raise ValueError(f"components: expected distinct coordinate indices in [0, {n_in}), got {components!r}")
        lib = copy.deepcopy(library)
        if lib.n_features_in is None:
            lib.fit(torch.zeros(1, n_in, dtype=torch.float64))
        elif lib.n_features_in != n_in:
            raise ValueError(f"library: is fitted on {lib.n_features_in} inputs but n_in = {n_in}")
        self.library = lib
        self.components = components
        self.n_in = n_in
        self.n_features = lib.n_output_features(n_in)
        self.dim = len(components) * self.n_features
        self.outputs = outputs
        self.acts_on_outputs = outputs == "tangent"
        self.n_out = n_in if outputs == "tangent" else None
        self.input_names = list(input_names) if input_names is not None else [f"x{i}" for i in range(n_in)]
        if len(self.input_names) != n_in:
            raise ValueError(f"input_names: expected {n_in} names, got {len(self.input_names)}")
        self.name = f"fields {lib!r} on R^{n_in}"

    def _along_components(self, vals: torch.Tensor) -> torch.Tensor:
        """Per-feature values (D, N, *rest) placed along the components: (q, N, n, *rest), generator
        k = c * D + j holding vals[j] in coordinate components[c] and zeros elsewhere."""
        D, N, *rest = vals.shape
        check_memory(2 * vals.element_size() * self.dim * N * self.n_in * math.prod(rest),
                     f"{self.name}: {self.dim} library fields at {N} points of R^{self.n_in}",
                     hint="evaluate fewer points at a time, or use a smaller library")
        out = vals.new_zeros(len(self.components), D, N, self.n_in, *rest)
        for c, i in enumerate(self.components):
            out[c, :, :, i] = vals
        return out.reshape(self.dim, N, self.n_in, *rest)

    def vector_fields(self, x: torch.Tensor) -> torch.Tensor:
        return self._along_components(self.library.transform(x).to(x.dtype).T)           # phi_j(x) e_i

    def jacobians(self, x: torch.Tensor) -> torch.Tensor:
        DPhi = self.library.jacobian(x).to(x.dtype)                                      # (N, D, n)
        return self._along_components(DPhi.permute(1, 0, 2))                             # e_i Dphi_j(x)^T

    def output_term(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        if not self.acts_on_outputs:
            return None
        self.check_outputs(y.shape[-1], "model")
        DPhi = self.library.jacobian(x).to(y.dtype)                                      # (N, D, n)
        return self._along_components(torch.einsum("njm,nm->jn", DPhi, y))              # (Dphi_j(x) . y) e_i

    def tangent(self) -> "LibraryAction":
        return LibraryAction(self.library, self.n_in, components=self.components, outputs="tangent",
                             input_names=self.input_names)

    def feature_names(self) -> list[str]:
        return self.library.feature_names(self.input_names)

    def describe(self, coeffs, precision: int = 3) -> str:
        """E.g. ``'2 x0 x1 d/dx0 + 1 d/dx1'`` (coefficients relative to the largest, |c| below 10^-precision
        dropped)."""
        c = as_tensor(coeffs, "coeffs", ndim=1, dtype=torch.float64)
        if c.shape[0] != self.dim:
            raise ValueError(f"coeffs: expected {self.dim} coefficients, got {c.shape[0]}")
        names = self.feature_names()
        D = self.n_features
        top = float(c.abs().max()) if c.numel() else 0.0
        parts = []
        for ci, i in enumerate(self.components):
            terms = []
            for j in range(D):
                v = float(c[ci * D + j])
                if top == 0 or abs(v) <= top * 10 ** -precision:
                    continue
                f = names[j]
                if f in ("1", ""):
                    terms.append(f"{v:.{precision}g}")
                elif f"{abs(v):.{precision}g}" == "1":
                    terms.append(f if v > 0 else f"-{f}")             # unit coefficients: "t d/dx", not "1 t d/dx"
                else:
                    terms.append(f"{v:.{precision}g} {f}")
            if terms:
                body = terms[0] if len(terms) == 1 else "(" + " + ".join(terms) + ")"
                body = {"1": "", "-1": "-"}.get(body, body + " ")
                parts.append(f"{body}d/d{self.input_names[i]}")
        return " + ".join(parts).replace("+ -", "- ") if parts else "0"


def polynomial_vector_fields(n_in: int, degree: int, *, outputs: str = "invariant", input_names=None,
                             components=None) -> LibraryAction:
    """All vector fields on R^n with polynomial coefficients of degree <= ``degree``: n C(n + degree, degree)
    generators (e.g. 12 on R^2 at degree 2). A shortcut for ``LibraryAction(PolynomialLibrary(degree), n)``."""
    return LibraryAction(PolynomialLibrary(check_int(degree, "degree", 0)), n_in, outputs=outputs,
                         input_names=input_names, components=components)


# ---------------------------------------------------------------------------------------------- modules
class ModuleAction(Action):
    """q vector fields given by a torch module (neural generators).

    Args:
        module: a callable / ``nn.Module`` mapping x (N, n) to the fields (N, q, n), row by row.
        n_in: the input dimension n; q is read off one evaluation.
        outputs: ``"invariant"`` or ``"tangent"`` (as :class:`LibraryAction`; the Jacobians of the fields by
            forward-mode autodiff).
        name: a readable name.
    """

    def __init__(self, module: Callable[[torch.Tensor], torch.Tensor], n_in: int, *, outputs: str = "invariant",
                 name: str | None = None):
        if not callable(module):
            raise TypeError(f"module: expected a torch module or callable, got {type(module).__name__}")
        if outputs not in ("invariant", "tangent"):
            raise ValueError(f"outputs: expected 'invariant' or 'tangent', got {outputs!r}")
        self.module = module
        self.n_in = check_int(n_in, "n_in", 1)
        dt = torch.float64
        if isinstance(module, torch.nn.Module):
            ps = [p for p in module.parameters() if p.is_floating_point()]
            dt = ps[0].dtype if ps else dt
        with torch.no_grad():
            v = module(torch.zeros(1, self.n_in, dtype=dt))
        if not isinstance(v, torch.Tensor) or v.ndim != 3 or v.shape[0] != 1 or v.shape[2] != self.n_in:
            got = tuple(v.shape) if isinstance(v, torch.Tensor) else type(v).__name__
            raise ValueError(f"module: expected fields of shape (N, q, {self.n_in}) for input (N, {self.n_in}), "
                             f"got {got}")
        self.dim = int(v.shape[1])
        self.outputs = outputs
        self.acts_on_outputs = outputs == "tangent"
        self.n_out = self.n_in if self.acts_on_outputs else None
        self.name = name or f"{type(module).__name__} ({self.dim} fields)"

    def vector_fields(self, x: torch.Tensor) -> torch.Tensor:
        v = self.module(x)
        if v.shape != (x.shape[0], self.dim, self.n_in):
            raise ValueError(f"module: expected fields of shape {(x.shape[0], self.dim, self.n_in)}, got "
                             f"{tuple(v.shape)}")
        return v.permute(1, 0, 2)

    def output_term(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
        if not self.acts_on_outputs:
            return None
        self.check_outputs(y.shape[-1], "model")
        _, d = torch.func.jvp(self.vector_fields,  # type: ignore[misc]
                              (x.detach().contiguous(),), (y.detach().contiguous(),))
        return d                                                              # DV_k(x) y, (q, N, n)

    def tangent(self) -> "ModuleAction":
        return ModuleAction(self.module, self.n_in, outputs="tangent", name=self.name)


# ------------------------------------------------------------------------------------------- combinators
class TangentLift(Action):
    """The fields of ``base`` acting on outputs by their Jacobians: Out_k(x) = DV_k(x)."""

    def __init__(self, base: Action):
        self.base = base
        self.dim, self.n_in, self.n_out = base.dim, base.n_in, base.n_in
        self.acts_on_outputs = True
        self.name = f"tangent lift of {base.name}"

    def vector_fields(self, x):
        return self.base.vector_fields(x)

    def jacobians(self, x):
        return self.base.jacobians(x)

    def output_term(self, x, y):
        self.check_outputs(y.shape[-1], "model")
        return torch.einsum("knij,nj->kni", self.base.jacobians(x).to(y.dtype), y)


class Combination(Action):
    """Generators W_a = sum_k C[a, k] V_k of a base action (a sub-family, e.g. a discovered symmetry)."""

    def __init__(self, base: Action, coeffs):
        C = as_tensor(coeffs, "coeffs", ndim=2, dtype=torch.float64)
        if C.shape[1] != base.dim:
            raise ValueError(f"coeffs: expected rows of length {base.dim} (the base action's q), got {tuple(C.shape)}")
        self.base, self.C = base, C
        self.dim, self.n_in, self.n_out = C.shape[0], base.n_in, base.n_out
        self.acts_on_outputs = base.acts_on_outputs
        self.name = f"{self.dim} combination(s) of {base.name}"

    def vector_fields(self, x):
        return torch.einsum("ak,kni->ani", self.C.to(x.dtype), self.base.vector_fields(x))

    def jacobians(self, x):
        return torch.einsum("ak,knij->anij", self.C.to(x.dtype), self.base.jacobians(x))

    def output_term(self, x, y):
        T = self.base.output_term(x, y)
        return None if T is None else torch.einsum("ak,kni->ani", self.C.to(y.dtype), T)

    def describe(self, coeffs, precision: int = 3) -> str:
        c = as_tensor(coeffs, "coeffs", ndim=1, dtype=torch.float64)
        return self.base.describe(c @ self.C, precision)


# ----------------------------------------------------------------------------------------------- resolver
def as_action(xi, rep_in: Rep | None = None, rep_out: Rep | None = None, *, dynamics: bool = False,
              orthonormalize: bool = False, name: str = "xi", matrices: bool = True) -> Action:
    """The one resolver of generator arguments: an :class:`Action` from any accepted form.

    ``xi`` may be an :class:`Action` (then ``rep_in`` / ``rep_out`` must be None), a LieAlgebra or Group (all
    basis elements), a (q, d, d) stack or one (d, d) matrix (``rep_in`` required). ``dynamics=True`` returns
    the tangent lift (outputs transform like velocities). ``orthonormalize`` gives named algebras a
    Frobenius-orthonormal basis (discovery and promotion, whose spectra must not depend on the basis).
    """
    if isinstance(xi, Action):
        if rep_in is not None or (rep_out is not None and not dynamics):
            raise ValueError(f"rep_in, rep_out: {name} is an Action, which already says how it acts on inputs and "
                             f"outputs; pass rep_in/rep_out only with a LieAlgebra, Group or matrices")
        act = xi
    elif isinstance(xi, (LieAlgebra, Group)) or (matrices and (isinstance(xi, torch.Tensor) or hasattr(xi, "__array__")
                                                               or isinstance(xi, (list, tuple)))):
        act = MatrixAction(xi, rep_in, None if dynamics else rep_out, orthonormalize=orthonormalize, argname=name)
    else:
        what = "generator matrices" if matrices else "an Action"
        raise TypeError(f"{name}: expected a LieAlgebra (e.g. sl.gl(3)), a Group or {what} (e.g. "
                        f"sl.LibraryAction), got {type(xi).__name__}")
    if dynamics:
        act = act.tangent()
    return act
