"""Lie point symmetries of a differential equation through :func:`symlie.discover`.

The generators v = sum_k c_k V_k of a base family on (x, u) (a function library: every coefficient of
d/dt, d/dx, d/du in the library's span) whose prolongation annihilates the equation on its surface,
pr v (Delta) = 0 on Delta = 0, are the nullspace of c -> (DDelta(z_n) pr V_k(z_n))_{n, k}: the same operator,
rank rule and :class:`symlie.SymmetryResult` as every other discovery.
"""
from __future__ import annotations

import math

import torch

from ..discovery import SymmetryResult, discover
from ..library import Library, PolynomialLibrary
from ..lie.actions import Action, LibraryAction
from ..linalg import principal_angles
from ..utils.errors import SymlieError
from ..utils.validation import check_int
from .equations import Equation
from .prolong import ProlongedAction, prolong

__all__ = ["point_symmetries", "point_symmetry_candidates", "exact_coefficients", "angles_to_exact"]

#: default number of surface samples per candidate generator
SAMPLES_PER_CANDIDATE = 10


def point_symmetry_candidates(equation: Equation, library: Library | None = None) -> ProlongedAction:
    """pr^(k) of every field tau d/dt + xi d/dx + phi d/du (one per base coordinate) with coefficients in
    ``library`` (default: polynomials of degree <= 2 in the base coordinates: 30 unknowns for (t, x, u))."""
    if not isinstance(equation, Equation):
        raise TypeError(f"equation: expected a symlie.pde.Equation, got {type(equation).__name__}")
    lib = PolynomialLibrary(2) if library is None else library
    if not isinstance(lib, Library):
        raise TypeError(f"library: expected a symlie Library, got {type(lib).__name__}")
    jet = equation.jet
    base = LibraryAction(lib, jet.base_dim, input_names=jet.names[: jet.base_dim])
    return prolong(base, jet)


def point_symmetries(equation: Equation, library: Library | None = None, *, candidates: Action | None = None,
                     samples=None, n_samples: int | None = None, seed=0, rule="auto",
                     **discover_kwargs) -> SymmetryResult:
    """The Lie point symmetries of ``equation`` inside the fields with coefficients in ``library``.

    Args:
        equation: an :class:`Equation` (built-ins in :mod:`symlie.pde.equations`).
        library: coefficient library of the base fields (default degree-2 polynomials); ignored when
            ``candidates`` (an Action on the base (x, u), prolonged here, or an already prolonged one) is given.
        samples: jet points (N, dim) where the criterion is tested, e.g. the jets of solution data
            (:func:`symlie.pde.jets_from_grid`) for an equation fitted to that data; they are first projected
            onto the equation's surface (:meth:`Equation.project`: the ``solve_for`` coordinates replaced by
            their value on the surface), because the criterion pr v (Delta) = 0 holds on Delta = 0 only and
            noisy jets are off it (a scaling gives pr v (Delta) = c Delta there). Default: ``n_samples``
            random points of the equation surface (:meth:`Equation.sample`).
        n_samples: points of the equation surface (default 10 per candidate generator, at least 200).
        seed: seed of the surface samples.
        rule, discover_kwargs: the rank rule and options of :func:`symlie.discover`.

    Returns:
        :class:`symlie.SymmetryResult` over the prolonged family (``kind="function"``); ``describe`` /
        :meth:`SymmetryResult.describe` print the generators as fields on (x, u), e.g. ``1 d/dx``.
    """
    if candidates is None:
        cand = point_symmetry_candidates(equation, library)
    elif isinstance(candidates, ProlongedAction):
        if candidates.jet != equation.jet:
            raise ValueError(f"candidates: prolonged to {candidates.jet!r}, but the equation lives on {equation.jet!r}")
        cand = candidates
    elif isinstance(candidates, Action):
        cand = prolong(candidates, equation.jet)
    else:
        raise TypeError(f"candidates: expected a symlie Action, got {type(candidates).__name__}")
    if samples is not None:
        Z = equation.project(equation.jet.check(samples, "samples"))
    else:
        n = max(200, SAMPLES_PER_CANDIDATE * cand.dim) if n_samples is None else check_int(n_samples, "n_samples", 1)
        Z = equation.sample(n, seed)
    return discover(equation.residual, Z, cand, rule=rule, **discover_kwargs)


def exact_coefficients(equation: Equation, candidates: ProlongedAction, *, labels=None, n_points: int = 500,
                       seed: int = 0, rtol: float = 1e-8) -> torch.Tensor:
    """The known generators of ``equation`` in the coefficient space of ``candidates`` (k, q), by least squares
    of their fields on the candidates' base fields at random base points; a generator outside the span
    (relative residual > ``rtol``) is an error naming it."""
    fields = equation.exact_fields(labels)
    names = list(equation.exact) if labels is None else list(labels)
    Z = equation.sample(check_int(n_points, "n_points", 1), seed)
    base, B = candidates.closure_view(Z)
    V = base.vector_fields(B).reshape(base.dim, -1).T                                  # (N (p+m), q)
    rows = []
    for nm, f in zip(names, fields):
        y = f(B).reshape(-1)
        c = torch.linalg.lstsq(V, y[:, None]).solution[:, 0]
        res = float((V @ c - y).norm()) / max(float(y.norm()), 1e-300)
        if res > rtol:
            raise SymlieError(f"labels: the generator {nm!r} is not in the span of the candidate fields (relative "
                              f"residual {res:.1e}); enlarge the library")
        rows.append(c)
    return torch.stack(rows) if rows else torch.zeros(0, candidates.dim, dtype=torch.float64)


def angles_to_exact(result: SymmetryResult, equation: Equation, candidates: ProlongedAction, **kw) -> torch.Tensor:
    """Principal angles (radians) between the found span and the exact algebra, in coefficient space (the
    candidates' basis is orthonormalised by discovery, so this is the library's coefficient inner product)."""
    E = exact_coefficients(equation, candidates, **kw)
    if result.dim != E.shape[0]:
        return torch.full((max(result.dim, E.shape[0]),), math.pi / 2, dtype=torch.float64)
    return principal_angles(result.coefficients.T, E.T)
