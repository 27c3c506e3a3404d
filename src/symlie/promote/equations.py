"""PROMOTE for equation discovery: sparse regression u_t = Theta W with the nuclear norm of the symmetry
criterion over a candidate family of point symmetries.

For the equation Delta_W = u_t - F_W, F_W = sum_j W_j theta_j(features), and candidate generators v_1..v_q
(with tau = tau(t), xi = xi(t, x): :func:`symlie.pde.evolution_candidates`), the criterion of v = sum_k c_k v_k
at N jet points is S(W) c = 0 with the (N, q) matrix

    S(W)[n, k] = N^(-1/2) (pr v_k (Delta_W))(z_n) on Delta_W = 0 = N^(-1/2) (C_k(z_n) . W - d_k(z_n)),

the rows of :func:`symlie.pde.symmetry_constraints` -- affine in W (the prolonged coefficient of u_t does not
involve W). Its nullspace is the symmetry algebra of the equation inside the candidates, so its rank counts the
broken directions, and the nuclear norm is the convex envelope of that rank: the fit

    min_W 1/(2 n) ||Theta W - u_t||^2 + lam ||S(W)||_* + mu ||W||_1

keeps every candidate symmetry the data do not contradict (exactly: its singular value is zero at the solution)
without being told which, and the symmetric equations it prefers have fewer free coefficients. It is solved by
the ADMM of :func:`symlie.promote.solve_promote` (singular-value soft-thresholding, residual balancing,
optional reweighting) on an :class:`symlie.derivative.AffineOperator`.
"""
from __future__ import annotations

import math
from typing import Sequence

import torch

from ..derivative.operator import AffineOperator
from ..library import Library, PolynomialLibrary
from ..lie.actions import Action
from ..pde import FittedEquation, JetSpace, box_points, equation_design, evolution_candidates, symmetry_constraints
from ..utils.errors import SymlieError
from ..utils.validation import check_int
from .admm import solve_promote

__all__ = ["fit_promoted_equation", "equation_operator"]

DT = torch.float64


def equation_operator(candidates: Action, jet: JetSpace, target: str, features: Sequence[str], library: Library,
                      points: torch.Tensor, *, orthonormalize: bool = True) -> AffineOperator:
    """S(W) (N, q) of the module docstring for the candidates at jet points ``points`` (N, jet.dim), rows scaled
    by N^(-1/2) (singular values are RMS criteria).

    ``orthonormalize``: the candidate basis is first made orthonormal in the RMS inner product of the base
    fields over the points (as discovery does), so that no field dominates the nuclear norm by its size
    (x^2 d/dx on a long domain); the operator's ``action`` is that basis (a restriction of ``candidates``).
    """
    base = points[:, : jet.base_dim]
    cand = candidates
    if orthonormalize:
        V = candidates.vector_fields(base).reshape(candidates.dim, -1) / math.sqrt(base.shape[0])   # (q, N n)
        U, s, _ = torch.linalg.svd(V @ V.T)
        keep = s > s[0] * 1e-13
        if not bool(keep.all()):
            raise SymlieError(f"candidates: {int((~keep).sum())} of the {candidates.dim} fields are linearly "
                              f"dependent on the points; pass independent fields")
        cand = candidates.restrict((U / s.sqrt()).T)          # rows: orthonormal combinations
    C, d = symmetry_constraints(cand, jet, target, features, library, points)
    q, N = cand.dim, points.shape[0]
    T = C.reshape(q, N, -1) / math.sqrt(N)
    B = d.reshape(q, N).T / math.sqrt(N)
    return AffineOperator(T, B, cand, base)


def _time_of(jet: JetSpace, target: str) -> str | None:
    """``"t"`` for the target ``"u_t"`` when t is an independent variable (else the default: the first one)."""
    tail = target.rsplit("_", 1)[-1]
    return tail if tail in jet.independent else None


def fit_promoted_equation(Z, jet: JetSpace, candidates: Action | None = None, *, target: str = "u_t",
                          library: Library | None = None, features: Sequence[str] | None = None, degree: int = 2,
                          candidate_library: Library | None = None, lam: float = 1e-3, mu: float = 0.0,
                          reweight: int = 2, n_constraint_points: int | None = None, kept_rtol: float = 1e-6,
                          val_fraction: float = 0.2, seed=0, **solver_options) -> FittedEquation:
    """Fit ``target = Theta(features) . W`` with the nuclear-norm symmetry penalty over ``candidates``.

    Args:
        Z: jet points (M, jet.dim) of the data (or a :class:`symlie.pde.GridJets`).
        jet, target, library, features, degree, val_fraction, seed: as in :func:`symlie.pde.fit_equation`.
        candidates: an Action on the base (x, u) whose fields have tau = tau(t), xi = xi(t, x); default
            :func:`symlie.pde.evolution_candidates` of ``candidate_library`` (default degree-2 polynomials:
            19 fields on (t, x, u)).
        lam: weight of the nuclear norm (>= 0); the data term is the mean squared residual / 2 and the singular
            values are RMS criteria over the points, so ``lam`` does not change meaning with the number of rows.
        mu: weight of the l1 term on W (sparsity).
        reweight: rounds of reweighted nuclear norm (:func:`solve_promote`): the broken directions are shrunk
            less, the nearly kept ones pushed to exactly zero.
        n_constraint_points: random jet points in the data's box where the criterion is evaluated (default
            3 x max(library size, number of candidates)).
        kept_rtol: rank rule of the kept algebra (relative to the largest singular value).
        solver_options: further options of :func:`solve_promote` (``max_iter``, ``eps_rel``, ``rho``, ...).

    Returns:
        :class:`symlie.pde.FittedEquation` with ``method="promoted"``; ``symmetry`` is the kept algebra (a
        :class:`symlie.SymmetryResult` over the candidates, with its singular spectrum and rule), and
        ``options["promote"]`` the solver's :class:`PromoteResult`.
    """
    des = equation_design(Z, jet, target=target, library=library, features=features, degree=degree,
                          val_fraction=val_fraction, seed=seed)
    if candidates is None:
        cand = evolution_candidates(jet, PolynomialLibrary(2) if candidate_library is None else candidate_library,
                                    time=_time_of(jet, target))
    elif isinstance(candidates, Action):
        cand = candidates
    else:
        raise TypeError(f"candidates: expected a symlie Action on (x, u), got {type(candidates).__name__}")
    n = 3 * max(des.n_features, cand.dim) if n_constraint_points is None else \
        check_int(n_constraint_points, "n_constraint_points", 1)
    op = equation_operator(cand, jet, target, des.features, des.library, box_points(des, n, seed))
    res = solve_promote(des.theta(), des.y(), op, lam=lam, mu=mu, reweight=reweight, kept_rtol=kept_rtol,
                        **solver_options)
    W = res.coef[0].clone()
    out = des.result(W, "promoted", {"lam": lam, "mu": mu, "reweight": reweight, "n_constraint_points": n,
                                     "candidates": cand.dim, "promote": res})
    out.symmetry = res.symmetry
    return out
