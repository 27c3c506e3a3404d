"""The assembled Lie-derivative operator of linear-in-parameter models, W -> S(W) (apply / adjoint / gram).

For F_W(x) = W Phi(x) and generators xi_1..xi_q, column j of S(W) holds L_{xi_j} F_W at sample points (weighted
by sqrt(w_n / sum w)). For polynomial libraries under linear or affine matrix actions the Lie derivative maps
the coefficient matrix to a coefficient matrix, C_j(W) = W M_j - drho_out(xi_j) W with M_j sparse
(DPhi(x) v_j(x) = M_j Phi(x)), and evaluation at the points is a fixed matrix E = Phi(X_s) applied after it;
with E = Q R (thin QR), ||S(W)||_* = ||[R C_j(W)^T]_j||_*, so the operator works with k <= D rows instead of
N_s n_out. Every other library or action uses the dense rows of :func:`linear_model_constraints`.
"""
from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import scipy.sparse as sp
import torch

from ..library import Library, PolynomialLibrary
from ..lie.actions import MatrixAction, as_action
from ..lie.reps import Trivial
from ..utils.errors import UnderdeterminedWarning
from ..utils.resources import check_memory
from ..utils.validation import as_tensor, check_int, check_weights
from .constraints import constraint_points, default_n_constraint_points, linear_model_constraints

__all__ = ["LieOperator", "AffineOperator"]

DT = torch.float64


def _polynomial_maps(powers: np.ndarray, A: np.ndarray, b: np.ndarray) -> list[sp.csr_matrix] | None:
    """Sparse M_j (D, D) with DPhi(x) (A_j x + b_j) = M_j Phi(x) for the monomials with exponents ``powers``.

    d/dx_i x^alpha = alpha_i x^(alpha - e_i), so row f of M_j has alpha_i A_j[i, k] at alpha - e_i + e_k and
    alpha_i b_j[i] at alpha - e_i (degree-preserving and degree-lowering parts). Returns None when the
    library is not closed under the action (a derivative monomial is missing, e.g. the constant of a library
    without bias under translations)."""
    D, n = powers.shape
    base = int(powers.max()) + 2 if powers.size else 2
    codes = (powers.astype(np.int64) * (base ** np.arange(n, dtype=np.int64))).sum(1)
    order = np.argsort(codes)
    sorted_codes = codes[order]

    def lookup(p):
        c = (p.astype(np.int64) * (base ** np.arange(n, dtype=np.int64))).sum(1)
        pos = np.clip(np.searchsorted(sorted_codes, c), 0, D - 1)
        ok = sorted_codes[pos] == c
        return order[pos], ok

    pieces: dict[tuple, tuple] = {}              # per (i) and (i, k): fixed patterns, weighted by b_j[i], A_j[i, k]
    f_idx = np.arange(D)
    for i in range(n):
        a_i = powers[:, i]
        has = a_i > 0
        if not has.any():
            continue
        lowered = powers[has].copy()
        lowered[:, i] -= 1
        tgt, ok = lookup(lowered)
        pieces[("b", i)] = (f_idx[has][ok], tgt[ok], a_i[has][ok].astype(float), bool(ok.all()))
        for k in range(n):
            raised = lowered.copy()
            raised[:, k] += 1
            tgt, ok = lookup(raised)
            pieces[("A", i, k)] = (f_idx[has][ok], tgt[ok], a_i[has][ok].astype(float), bool(ok.all()))
    maps = []
    for j in range(A.shape[0]):
        rr, cc, vv = [], [], []
        for key, (r, c, v, closed) in pieces.items():
            coef = b[j, key[1]] if key[0] == "b" else A[j, key[1], key[2]]
            if coef != 0 and not closed:
                return None
            if coef != 0:
                rr.append(r)
                cc.append(c)
                vv.append(v * coef)
        if rr:
            M = sp.csr_matrix((np.concatenate(vv), (np.concatenate(rr), np.concatenate(cc))), shape=(D, D))
        else:
            M = sp.csr_matrix((D, D))
        M.sum_duplicates()
        maps.append(M)
    return maps


class _SampledOperator:
    """What both assembled operators share: the coefficient check and the spectrum of S(W)."""

    q: int
    P: int
    n_out: int
    D: int

    def apply(self, W) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError

    def _as_W(self, W) -> np.ndarray:
        W = W.detach().numpy() if isinstance(W, torch.Tensor) else np.asarray(W, dtype=float)
        if W.size != self.P:
            raise ValueError(f"W: expected {self.P} coefficients (n_out={self.n_out} x D={self.D}), "
                             f"got shape {W.shape}")
        return W.reshape(self.n_out, self.D)

    def singular_values(self, W) -> torch.Tensor:
        """(q,) singular values of S(W), descending (RMS over the points)."""
        s = np.linalg.svd(self.apply(W), compute_uv=False)
        return torch.from_numpy(np.concatenate([s, np.zeros(self.q - s.size)]))

    def nuclear_norm(self, W) -> float:
        return float(self.singular_values(W).sum())


class LieOperator(_SampledOperator):
    """The assembled Lie-derivative operator of linear-in-parameter models F_W(x) = W Phi(x).

    ``apply(W)`` returns S(W) (rows, q): column j holds L_{xi_j} F_W at the sample points (weighted by
    sqrt(w_n / sum w), compressed by an orthogonal transformation of the rows that leaves every singular value
    unchanged). ``adjoint(Z)`` is its transpose, ``gram()`` the (P, P) matrix K with ||S(W)||_F^2 = w^T K w
    (w = vec(W) row-major, P = n_out D).

    Args:
        library: a fitted or unfitted :class:`symlie.Library` (fitted here on the points when needed).
        candidates: the candidate algebra (or Group; its continuous part is used), orthonormalised, or any
            :class:`symlie.Action` (then ``rep_in`` / ``rep_out`` stay None; the dense path is used).
        n_in: number of input variables.
        rep_in: action on inputs (default ``sl.Point`` of the candidates).
        rep_out: linear representation on outputs (default invariant outputs); ``n_out`` outputs.
        points: (N_s, n_in) sample points; default ``n_points`` uniform points in [-box, box]^n_in (seeded),
            with ``n_points`` the exact count of
            :func:`symlie.derivative.constraints.default_n_constraint_points`.
        weights: non-negative weights of the points (default equal).
        structured: ``"auto"`` (default) uses the sparse coefficient maps for a :class:`symlie.PolynomialLibrary`
            closed under the action (exact) and the dense point-sampled operator otherwise; ``True`` / ``False``
            force either.
    """

    def __init__(self, library: Library, candidates, n_in: int, *, rep_in=None, rep_out=None,
                 n_out: int | None = None, points=None, n_points: int | None = None, box: float = 1.0,
                 seed: int = 0, weights=None, structured="auto"):
        if not isinstance(library, Library):
            raise TypeError(f"library: expected a symlie Library, got {type(library).__name__}")
        n_in = check_int(n_in, "n_in", 1)
        action = as_action(candidates, rep_in, rep_out, orthonormalize=True, name="candidates", matrices=False)
        if action.dim == 0:
            raise ValueError("candidates: the candidate family is empty")
        if action.n_in != n_in:
            raise ValueError(f"candidates: act on R^{action.n_in} but n_in = {n_in}")
        self.action = action
        self.candidates = action.algebra if isinstance(action, MatrixAction) else None
        if n_out is None:
            n_out = action.n_out if action.n_out is not None else 1
        n_out = check_int(n_out, "n_out", 1)
        action.check_outputs(n_out, outputs=f"n_out = {n_out}")
        self.n_out, self.n_in = n_out, n_in
        if isinstance(action, MatrixAction):
            self.rep_in = action.rep_in
            self.rep_out = action.rep_out if action.rep_out is not None else Trivial(action.group, n_out)
        if library.n_features_in is None:                   # fit a copy: the user's library is never changed
            library = copy.deepcopy(library).fit(torch.zeros(1, n_in, dtype=DT))
        if points is None:
            if n_points is None:
                n_points = default_n_constraint_points(library, action, None, None, n_in, n_out)
            points = constraint_points(check_int(n_points, "n_points", 1), n_in, box=box, seed=seed)
        X = as_tensor(points, "points", ndim=2, dtype=DT)
        if X.shape[1] != n_in or X.shape[0] == 0:
            raise ValueError(f"points: expected shape (N_s >= 1, {n_in}), got {tuple(X.shape)}")
        self.library = library
        self.points = X
        N = X.shape[0]
        w = check_weights(weights, N, normalize=True)
        assert w is not None
        self.weights = w
        if not self._points_determine(library, action, X, n_in, n_out):
            need = default_n_constraint_points(library, action, None, None, n_in, n_out)
            warnings.warn(UnderdeterminedWarning(
                f"points: {X.shape[0]} points are fewer than the {need} that make the sampled operator exact for "
                f"this library and candidate family: it can miss broken directions, and a promotion would keep "
                f"them as symmetries for free; pass at least {need} (n_points=None uses the exact rule)"),
                stacklevel=2)
        self.q = action.dim
        D = library.n_output_features(n_in)
        self.D, self.P = D, n_out * D
        Rout = action.output_matrices(X[:1], n_out) if isinstance(action, MatrixAction) else None
        self._Rout = (Rout[:, 0] if Rout is not None else torch.zeros(self.q, n_out, n_out, dtype=DT)).numpy()
        maps = None
        if structured in ("auto", True) and isinstance(library, PolynomialLibrary) and isinstance(action, MatrixAction):
            A, b = action.affine_parts()
            maps = _polynomial_maps(library.powers.numpy(), A.numpy(), b.numpy())
        if structured is True and maps is None:
            raise ValueError("structured: the sparse coefficient maps need a PolynomialLibrary closed under a "
                             "matrix action (with its constant term when translations act); use structured=False")
        if maps is not None:
            check_memory(8 * 3 * N * D, f"LieOperator: the ({N}, {D}) evaluation matrix of {library!r}",
                         hint="use fewer points or a smaller library")
            self._Mt = sp.vstack([M.T.tocsr() for M in maps]).tocsr()  # (q D, D): block j = M_j^T
            self._maps = maps
            E = library.transform(X).to(DT) * w.sqrt()[:, None]          # (N, D)
            self._R: np.ndarray = np.linalg.qr(E.numpy(), mode="r")  # type: ignore[assignment]  # (k, D), k = min(N, D)
            self.structured = True
            self.rows = self._R.shape[0] * n_out
        else:                                                            # the one constraint assembly, weighted
            T = linear_model_constraints(library, action, X, None, None, n_out, weights=w)
            self._T = T.reshape(self.q, N * n_out, self.P).numpy()
            self.structured = False
            self.rows = N * n_out
        self._K: np.ndarray | None = None
        self.offset: np.ndarray | None = None                            # S(W) is linear in W

    # -- the linear map ---------------------------------------------------------------------------

    @staticmethod
    def _points_determine(library: Library, action, X: torch.Tensor, n_in: int, n_out: int) -> bool:
        """Whether evaluation at X is injective on the space the Lie derivatives live in: polynomials of the
        degree of the exact rule (:func:`default_n_constraint_points`) for polynomial libraries under matrix
        actions (checked by the rank of their monomials at X), else at least the rule's count of points."""
        need = default_n_constraint_points(library, action, None, None, n_in, n_out)
        if X.shape[0] >= need:
            return True
        deg = library.polynomial_degree if isinstance(action, MatrixAction) else None
        if deg is None:
            return False
        deg_l = next((k for k in range(deg + 1) if math.comb(n_in + k, k) + 1 == need), None)
        if deg_l is None:
            return False
        M = PolynomialLibrary(deg_l).fit(X[:1]).transform(X)
        return int(torch.linalg.matrix_rank(M)) == math.comb(n_in + deg_l, deg_l)

    def apply(self, W) -> np.ndarray:
        """S(W) (rows, q) for W (n_out, D) (or its flattening)."""
        W = self._as_W(W)
        if not self.structured:
            return np.einsum("jrp,p->rj", self._T, W.reshape(-1))
        CW = (self._Mt @ W.T).reshape(self.q, self.D, self.n_out)        # (W M_j)^T
        if self._Rout.any():
            CW = CW - np.einsum("jab,bf->jfa", self._Rout, W)             # - (R_j W)^T
        S = self._R @ CW.transpose(1, 2, 0).reshape(self.D, -1)          # one GEMM: (k, n_out q)
        return S.reshape(-1, self.q)

    def adjoint(self, Z) -> np.ndarray:
        """S^T(Z) (n_out, D) for Z (rows, q): <S(W), Z> = <W, S^T(Z)>."""
        Z = np.asarray(Z, dtype=float)
        if not self.structured:
            return np.einsum("jrp,rj->p", self._T, Z).reshape(self.n_out, self.D)
        G = (self._R.T @ Z.reshape(-1, self.n_out * self.q))              # one GEMM: (D, n_out q)
        G = G.reshape(self.D, self.n_out, self.q).transpose(2, 0, 1)      # (q, D, n_out)
        WT = self._Mt.T @ np.ascontiguousarray(G).reshape(self.q * self.D, self.n_out)   # sum_j M_j G_j
        if self._Rout.any():
            WT = WT - np.einsum("jfa,jab->fb", G, self._Rout)             # - sum_j G_j R_j
        return WT.T

    def gram(self) -> np.ndarray:
        """K (P, P) with ||S(W)||_F^2 = vec(W)^T K vec(W) (cached)."""
        if self._K is not None:
            return self._K
        check_memory(8 * 3 * self.P * self.P, f"LieOperator.gram: a dense {self.P}x{self.P} matrix",
                     hint="use apply / adjoint (matrix-free) instead, or a smaller library")
        if self.structured and self.n_out == 1 and not self._Rout.any():
            G = self._R.T @ self._R
            K = np.zeros((self.D, self.D))
            for M in self._maps:                                         # S_j w = R M_j^T w
                MG = M @ G                                               # (D, D) dense
                K += (M @ MG.T).T if sp.issparse(M) else M @ MG.T
            K = 0.5 * (K + K.T)
        else:
            K = np.zeros((self.P, self.P))
            eye = np.eye(self.P)
            for p in range(self.P):
                K[:, p] = self.adjoint(self.apply(eye[p])).reshape(-1)
            K = 0.5 * (K + K.T)
        self._K = K
        return K

    def matrix(self) -> torch.Tensor:
        """Dense (q, rows, P) tensor T with S(W)[:, j] = T[j] @ vec(W) (memory q rows P: small problems)."""
        check_memory(8 * 2 * self.q * self.rows * self.P, f"LieOperator.matrix: a dense ({self.q}, {self.rows}, "
                     f"{self.P}) tensor", hint="use apply / adjoint (matrix-free) instead")
        if not self.structured:
            return torch.from_numpy(self._T.copy())
        out = np.zeros((self.q, self.rows, self.P))
        eye = np.eye(self.P)
        for p in range(self.P):
            out[:, :, p] = self.apply(eye[p]).T
        return torch.from_numpy(out)

    def scale(self, W) -> float:
        """RMS |F_W - mean F_W| over the points (the reference of the kept-algebra rank rule)."""
        Wm = self._as_W(W)
        F = self.library.transform(self.points).numpy() @ Wm.T
        w = self.weights.numpy()[:, None]
        mean = (w * F).sum(0)
        return float(math.sqrt(max(float((w * (F - mean) ** 2).sum()), 0.0)))

    def __repr__(self) -> str:
        return (f"LieOperator({self.library!r}, {self.action.name}, q={self.q}, rows={self.rows}, P={self.P}, "
                f"{'structured' if self.structured else 'dense'})")


class AffineOperator(_SampledOperator):
    """An assembled affine operator W -> S(W) = T(vec W) - B (rows, q) with the interface of
    :class:`LieOperator` (``apply`` / ``adjoint`` / ``gram`` / ``matrix``), for constraints that are affine in the
    parameters: the symmetry condition of an equation u_t = F_W on its surface, column j the criterion
    pr v_j (u_t - F_W) at the points, has a part that does not involve W (the prolonged coefficient of u_t).

    ``adjoint`` is the transpose of the linear part T; ``offset`` is B.

    Args:
        T: (q, rows, P) float64, column j of the linear part is T[j] @ vec(W) (vec row-major, P = n_out D).
        offset: (rows, q) B, or None (a linear operator).
        action: the candidate family (q generators) whose coefficients the columns are.
        points: (N, n) points of the action's space the rows came from (closure checks of the kept algebra).
        n_out: outputs of the model (P = n_out D).
        reference: the scale the kept-algebra rank rule is relative to (with the largest singular value).
    """

    def __init__(self, T, offset, action, points, *, n_out: int = 1, reference: float = 0.0):
        Tt = as_tensor(T, "T", ndim=3, dtype=DT)
        q, rows, P = Tt.shape
        if q == 0 or rows == 0 or P == 0:
            raise ValueError(f"T: expected a non-empty (q, rows, P) tensor, got shape {tuple(Tt.shape)}")
        self.n_out = check_int(n_out, "n_out", 1)
        if P % self.n_out:
            raise ValueError(f"T: P = {P} parameters are not a multiple of n_out = {self.n_out}")
        if getattr(action, "dim", None) != q:
            raise ValueError(f"action: expected a family of q = {q} generators, got "
                             f"{getattr(action, 'dim', type(action).__name__)}")
        self._T = Tt.numpy()
        self.offset = None if offset is None else as_tensor(offset, "offset", ndim=2, dtype=DT).numpy()
        if self.offset is not None and self.offset.shape != (rows, q):
            raise ValueError(f"offset: expected shape ({rows}, {q}), got {self.offset.shape}")
        self.action = action
        self.points = as_tensor(points, "points", ndim=2, dtype=DT)
        self.q, self.rows, self.P, self.D = q, rows, P, P // self.n_out
        self.structured = False
        self.reference = float(reference)
        self._K: np.ndarray | None = None

    def apply(self, W) -> np.ndarray:
        """S(W) = T(W) - B (rows, q)."""
        S = np.einsum("jrp,p->rj", self._T, self._as_W(W).reshape(-1))
        return S if self.offset is None else S - self.offset

    def adjoint(self, Z) -> np.ndarray:
        """T^T(Z) (n_out, D), the transpose of the linear part."""
        return np.einsum("jrp,rj->p", self._T, np.asarray(Z, dtype=float)).reshape(self.n_out, self.D)

    def gram(self) -> np.ndarray:
        """K (P, P) = T^T T (cached)."""
        if self._K is None:
            T2 = self._T.reshape(-1, self.P)
            self._K = T2.T @ T2
        return self._K

    def matrix(self) -> torch.Tensor:
        """The linear part T (q, rows, P)."""
        return torch.from_numpy(self._T.copy())

    def scale(self, W) -> float:
        return self.reference

    def __repr__(self) -> str:
        return (f"AffineOperator({getattr(self.action, 'name', type(self.action).__name__)}, q={self.q}, "
                f"rows={self.rows}, P={self.P}{', affine' if self.offset is not None else ''})")
