"""Equation discovery with point symmetries enforced: u_t = sum_j W_j theta_j(features) whose symmetry group
contains given generators (the ENFORCE job of symlie, on equations).

For an evolution equation Delta_W = u_t - F_W, F_W = sum_j W_j theta_j(z'), the infinitesimal criterion of a
point symmetry v, pr v (Delta_W) = 0 on Delta_W = 0, reads at every jet point z' (the features' coordinates)

    phi^t(z', u_t = F_W(z')) - sum_j W_j  dtheta_j(z') . pr v(z')  = 0,

with phi^t the prolonged coefficient of u_t. For generators whose prolongation is affine in u_t and whose
components along the features do not involve u_t (tau = tau(t), xi = xi(t, x): every point symmetry of an
evolution equation), phi^t = a0 + a1 u_t, so each (generator, point) gives one linear row on W:

    sum_j W_j (a1 theta_j - dtheta_j . pr v) = -a0.

The rows are an identity in z', so they are imposed at random points of the data's box, not at the data:
the allowed equations are the affine space W = W_0 + N c (N the nullspace of the rows, by the one rank rule),
and only c is fitted by least squares on the data -- fewer unknowns, hence fewer samples needed.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from ..library import Library, PolynomialLibrary
from ..lie.actions import Action, LibraryAction
from ..linalg import RankRule, nullspace
from ..utils.errors import InfeasibleError, SymlieError
from ..utils.validation import check_int, make_generator
from .fit import EquationDesign, FittedEquation, equation_design
from .jets import JetSpace
from .prolong import prolong

__all__ = ["fit_symmetric_equation", "symmetry_constraints", "evolution_candidates", "box_points"]

DT = torch.float64


def symmetry_constraints(generators: Action, jet: JetSpace, target: str, features: Sequence[str], library: Library,
                         points: torch.Tensor, *, check_tol: float = 1e-9) -> tuple[torch.Tensor, torch.Tensor]:
    """The rows (C (q N, D), d (q N,)) with C W = d for every generator of ``generators`` (an Action on the base
    (x, u)) at jet points ``points`` (N, jet.dim) (the ``target`` column is ignored), for F_W = library(features)
    . W. Raises when a generator's prolongation is not affine in the target or moves the features with it."""
    t_col = jet.coordinate(target)
    f_cols = [jet.coordinate(n) for n in features]
    pr = prolong(generators, jet)
    q = pr.dim

    def at(value: float) -> torch.Tensor:
        z = points.clone()
        z[:, t_col] = value
        return pr.vector_fields(z)                                           # (q, N, dim)

    V0, V1, V2 = at(0.0), at(1.0), at(2.0)
    a0, a1 = V0[..., t_col], V1[..., t_col] - V0[..., t_col]
    scale = float(V0.abs().max()) + float(V1.abs().max()) + 1.0
    if float((V2[..., t_col] - (a0 + 2 * a1)).abs().max()) > check_tol * scale:
        raise SymlieError(f"generators: the prolonged coefficient of {target} is not affine in {target} (a field "
                          f"whose tau or xi depends on u); only such generators can be enforced linearly")
    if float((V1[..., f_cols] - V0[..., f_cols]).abs().max()) > check_tol * scale:
        raise SymlieError(f"generators: their prolongation moves the features {tuple(features)} by amounts that "
                          f"depend on {target} (tau depending on x or u); only fields with tau = tau(t) and "
                          f"xi = xi(t, x) can be enforced linearly")
    X = points[:, f_cols]
    theta = library.transform(X).to(DT)                                     # (N, D)
    dtheta = library.jacobian(X).to(DT)                                     # (N, D, nf)
    g = torch.einsum("ndf,knf->knd", dtheta, V0[..., f_cols])                # (q, N, D): dtheta_j . pr v
    C = a1[..., None] * theta[None] - g
    d = -a0
    return C.reshape(q * points.shape[0], -1), d.reshape(-1)


def fit_symmetric_equation(Z, jet: JetSpace, generators: Action, *, target: str = "u_t",
                           library: Library | None = None, features: Sequence[str] | None = None, degree: int = 2,
                           n_constraint_points: int | None = None, rule="rtol", rtol: float = 1e-9,
                           val_fraction: float = 0.2, seed=0) -> FittedEquation:
    """Fit ``target = F_W(features)`` with every generator of ``generators`` a point symmetry of the result.

    Args:
        Z: jet points (M, jet.dim) of the data (or a :class:`GridJets`).
        jet, target, library, features, degree, val_fraction, seed: as in :func:`fit_equation` (the default
            library: polynomials of degree ``degree`` in the default features).
        generators: the symmetries to enforce, an :class:`symlie.Action` on the base (x, u) (e.g.
            ``sl.LibraryAction(...).restrict(coefficients)`` or a :class:`symlie.SymmetryResult`'s
            ``fields``); each must have tau = tau(t) and xi = xi(t, x).
        n_constraint_points: random points (in the data's box) where the constraints are imposed (default
            3 x the library size).
        rule, rtol: rank rule of the constraint nullspace (:func:`symlie.nullspace`).

    Returns:
        :class:`FittedEquation` with ``method="enforced"``; ``options["n_free"]`` is the dimension of the allowed
        family and ``options["constraint_spectrum"]`` the singular values of the constraints.

    Raises:
        InfeasibleError: no equation in the library has these symmetries (inconsistent constraints).
    """
    if not isinstance(generators, Action):
        raise TypeError(f"generators: expected a symlie Action on (x, u), got {type(generators).__name__}")
    des = equation_design(Z, jet, target=target, library=library, features=features, degree=degree,
                          val_fraction=val_fraction, seed=seed)
    lib, feats, D = des.library, des.features, des.n_features
    n_pts = 3 * D if n_constraint_points is None else check_int(n_constraint_points, "n_constraint_points", 1)
    P = box_points(des, n_pts, seed)
    C, d = symmetry_constraints(generators, jet, target, feats, lib, P)
    ns = nullspace(C, rule=rule, rtol=rtol) if not isinstance(rule, RankRule) else nullspace(C, rule=rule)
    W0 = torch.linalg.lstsq(C, d[:, None], driver="gelsd").solution[:, 0]
    res_c = float((C @ W0 - d).norm()) / max(float(d.norm()), float(C.norm()) * 1e-300, 1e-300)
    if res_c > math.sqrt(rtol):
        raise InfeasibleError(f"generators: no equation {target} = F(features) in this library has all of them as "
                              f"symmetries (constraint residual {res_c:.1e}); enlarge the library or check the "
                              f"generators")
    # W0 orthogonal to the nullspace: the particular solution of least norm
    N = ns.basis
    W0 = W0 - N @ (N.T @ W0)
    Theta, y = des.theta(), des.y()
    if N.shape[1]:
        c = torch.linalg.lstsq(Theta @ N, (y - Theta @ W0)[:, None], driver="gelsd").solution[:, 0]
        W = W0 + N @ c
    else:
        W = W0
    W = torch.where(W.abs() <= 1e-12 * float(W.abs().max()), torch.zeros_like(W), W)
    return des.result(W, "enforced", {"n_free": int(N.shape[1]), "n_constraint_points": n_pts,
                                      "constraint_spectrum": ns.singular_values.tolist(), "rule": ns.rule,
                                      "generators": generators.dim})


def box_points(design: EquationDesign, n: int, seed=0) -> torch.Tensor:
    """``n`` uniform random jet points (n, jet.dim) in the box of the design's rows (seeded): where the symmetry
    conditions, identities in the jet coordinates, are imposed."""
    lo, hi = design.box()
    g = make_generator(seed)
    return lo + (hi - lo) * torch.rand(check_int(n, "n", 1), design.jet.dim, generator=g, dtype=DT)


def evolution_candidates(jet: JetSpace, library: Library | None = None, *, time: str | None = None) -> Action:
    """The base fields tau d/dt + sum_i xi^i d/dx^i + sum_a phi^a d/du^a with coefficients in ``library``
    (default degree-2 polynomials of the base coordinates), restricted to tau = tau(t) and xi^i = xi^i(t, x):
    the form of every point symmetry of an evolution equation u_t = F(x, u, u_x, ...), and the fields whose
    conditions are affine in the equation's coefficients (:func:`symlie.promote.fit_promoted_equation`).

    A library feature counts as independent of a coordinate when its derivative along it vanishes (to 1e-12
    relative) at 64 random points of [0.1, 1.1]^(p+m). ``time``: the evolution variable (default the first
    independent one). Returns a :class:`symlie.Action` on (x, u) (a restriction of a :class:`LibraryAction`:
    ``describe`` prints its fields).
    """
    if not isinstance(jet, JetSpace):
        raise TypeError(f"jet: expected a symlie.pde.JetSpace, got {type(jet).__name__}")
    lib = PolynomialLibrary(2) if library is None else library
    if not isinstance(lib, Library):
        raise TypeError(f"library: expected a symlie Library, got {type(lib).__name__}")
    t_name = jet.independent[0] if time is None else time
    if t_name not in jet.independent:
        raise SymlieError(f"time: {t_name!r} is not an independent variable; available: {', '.join(jet.independent)}")
    ti = jet.independent.index(t_name)
    base = LibraryAction(lib, jet.base_dim, input_names=jet.names[: jet.base_dim])
    x = 0.1 + torch.rand(64, jet.base_dim, generator=make_generator(0), dtype=DT)
    J = base.library.jacobian(x).to(DT).abs().amax(0)                       # (D, p + m)
    top = max(float(J.max()), 1e-300)
    dep = J > 1e-12 * top
    D = base.n_features
    rows: list[int] = []
    for i in range(jet.base_dim):
        if i == ti:                                                          # tau(t)
            ok = ~dep[:, [j for j in range(jet.base_dim) if j != ti]].any(1)
        elif i < jet.p:                                                      # xi(t, x)
            ok = ~dep[:, jet.p:].any(1)
        else:                                                                # phi(t, x, u)
            ok = torch.ones(D, dtype=torch.bool)
        rows.extend(i * D + int(j) for j in torch.nonzero(ok).flatten())
    C = torch.zeros(len(rows), base.dim, dtype=DT)
    C[torch.arange(len(rows)), torch.tensor(rows)] = 1.0
    return base.restrict(C)
