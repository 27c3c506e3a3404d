"""DISCOVER on point clouds: the symmetries of a sub-manifold (or level set) from estimated normal spaces.

A group maps M to itself iff every generator field is tangent to M: P_normal(x) v_xi(x) = 0 on M, which is
linear in xi, so the symmetry algebra is again the nullspace of an operator streamed into a q x q factor.
"""
from __future__ import annotations

import time

import torch

from ..lie.actions import MatrixAction
from ..lie.reps import Rep
from ..linalg import StreamingFactor
from ..utils.validation import as_tensor, check_int
from .functional import DEFAULT_BATCH_SIZE, CLOSURE_POINTS, _discrete_elements, resolve_candidates, resolve_rule
from .result import SymmetryResult, symmetry_result

__all__ = ["discover_manifold"]


# --------------------------------------------------------------------------------- point clouds
def _neighbours(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N, k+1) indices of the k nearest neighbours of every point (the point itself first)."""
    from scipy.spatial import cKDTree
    pts = x.detach().cpu().numpy()
    _, idx = cKDTree(pts).query(pts, k=k + 1)
    return torch.from_numpy(idx)


def _local_pca(x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(eigenvalues (N, n) descending, eigenvectors (N, n, n) as columns) of the neighbourhood covariances."""
    nb = x[idx]                                                      # (N, k+1, n)
    nb = nb - nb.mean(1, keepdim=True)
    C = nb.transpose(1, 2) @ nb / (idx.shape[1] - 1)
    ev, U = torch.linalg.eigh(C)
    return ev.flip(-1).clamp(min=0), U.flip(-1)


def _quadratic_tangents(x: torch.Tensor, idx: torch.Tensor, U: torch.Tensor, m: int) -> torch.Tensor:
    """Second-order tangent spaces: in the local PCA frame (tangent coordinates u, normal coordinates w) fit
    w = a + B u + quadratic(u) over the neighbours by least squares; the tangent space at the point is the
    span of the graph's derivative, T0 + N0 B. PCA alone is biased by curvature to first order in the
    neighbourhood size when the neighbourhood is not centred on the point (boundaries, uneven sampling)."""
    N, n = x.shape
    T0, N0 = U[:, :, :m], U[:, :, m:]
    d = x[idx] - x[:, None, :]                                       # (N, k+1, n) offsets from the point
    u = torch.einsum("nki,nim->nkm", d, T0)
    w = torch.einsum("nki,nij->nkj", d, N0)
    iu, ju = torch.triu_indices(m, m)
    quad = u[:, :, iu] * u[:, :, ju]
    A = torch.cat([torch.ones_like(u[:, :, :1]), u, quad], -1)      # (N, k+1, 1 + m + m(m+1)/2)
    sc = u.abs().amax((1, 2)).clamp(min=1e-300)                     # column scaling for conditioning
    colscale = torch.cat([torch.ones_like(sc[:, None]), sc[:, None].expand(N, m),
                          (sc ** 2)[:, None].expand(N, quad.shape[-1])], -1)
    coef = torch.linalg.lstsq(A / colscale[:, None, :], w).solution / colscale[:, :, None]
    B = coef[:, 1:1 + m, :]                                          # (N, m, n - m): dw/du at u = 0
    T = T0 + torch.einsum("nij,nmj->nim", N0, B)
    return torch.linalg.qr(T)[0]


def _intrinsic_dim(ev: torch.Tensor, floor: float) -> tuple[int, float]:
    """Most common position of the largest consecutive eigenvalue ratio of local PCA, and its median ratio."""
    n = ev.shape[1]
    sc = ev.clamp(min=floor) if ev.numel() else ev
    sc = torch.maximum(sc, floor * sc[:, :1])
    ratios = sc[:, :-1] / sc[:, 1:]                                  # (N, n-1)
    pos = ratios.argmax(1) + 1                                       # dimension per point
    m = int(torch.mode(pos).values)
    return m, float(ratios[:, m - 1].median()) if n > 1 else float("nan")


def discover_manifold(X, candidates, *, rep_in: Rep | None = None, manifold_dim: int | None = None,
                      n_neighbors: int | None = None, tangents: str = "quadratic", rule="auto",
                      rtol: float | None = None, atol: float | None = None, min_gap: float | None = 10.0,
                      floor: float | None = None, closure_tol: float | None = None,
                      discrete=None, batch_size: int = DEFAULT_BATCH_SIZE, accumulate: str = "qr") -> SymmetryResult:
    """Symmetries of a point cloud sampled from a sub-manifold (or level set) M of R^n.

    A group maps M to itself iff every generator field is tangent to M: P_normal(x) v_xi(x) = 0 on M. The
    normal projectors are estimated by local PCA over the ``n_neighbors`` nearest neighbours of every point
    (tangent space = the top ``manifold_dim`` principal directions), and the symmetry algebra is the
    nullspace of xi -> (P_normal(x_n) v_xi(x_n))_n, streamed like :func:`discover`. Singular values are RMS
    normal components of the generator fields (units of X).

    Args:
        X: points (N, n) on or near M (noise allowed: it sets the floor of the symmetric values).
        candidates, rep_in, discrete, batch_size, accumulate: as in :func:`discover`. Discrete elements g are
            scored by the mean distance of g x_n from the estimated tangent plane at its nearest cloud point,
            divided by the cloud's RMS radius (noise level and curvature x spacing^2 for a symmetry).
        manifold_dim: dimension of M; default: estimated as the most common position of the largest ratio of
            consecutive local-PCA eigenvalues (reported in ``result.fit``).
        n_neighbors: neighbours per local PCA (default max(10, 4 n)); more averages noise, fewer reduces the
            curvature bias.
        tangents: ``"quadratic"`` (default: local PCA refined by a local quadratic fit of the manifold as a
            graph over its tangent plane, accurate to second order; needs n_neighbors >= 2 + m + m(m+1)/2) or
            ``"pca"`` (the top principal directions of each neighbourhood).
        rule, rtol, atol, min_gap, floor: rank rule; the default is the gap rule with ``min_gap=10``: estimated
            normal spaces leave the symmetric values at the noise / curvature floor, not at zero.
        closure_tol: as in :func:`discover` (by default scaled with the noise level of the symmetric values).

    The point cloud is processed on one process (``torch.distributed`` is not used: neighbours need all points).
    """
    t0 = time.perf_counter()
    if accumulate not in ("qr", "gram"):
        raise ValueError(f"accumulate: expected 'qr' or 'gram', got {accumulate!r}")
    batch_size = check_int(batch_size, "batch_size", 1)
    x = as_tensor(X, "X", ndim=2, dtype=torch.float64)
    N, n = x.shape
    if N == 0:
        raise ValueError("X: got 0 points")
    action, group = resolve_candidates(candidates, rep_in, None, n)
    k = max(10, 4 * n) if n_neighbors is None else check_int(n_neighbors, "n_neighbors", 2)
    if N < k + 1:
        raise ValueError(f"X: {N} points are too few for local PCA with n_neighbors={k} (need at least {k + 1})")
    if tangents not in ("quadratic", "pca"):
        raise ValueError(f"tangents: expected 'quadratic' or 'pca', got {tangents!r}")
    idx = _neighbours(x, k)
    ev, U = _local_pca(x, idx)
    m_est, conf = _intrinsic_dim(ev, 1e-12)
    m = m_est if manifold_dim is None else check_int(manifold_dim, "manifold_dim", 0)
    if m >= n:
        raise ValueError(f"manifold_dim: the points {'seem to ' if manifold_dim is None else ''}fill R^{n} "
                         f"(dimension {m}); a point cloud constrains the symmetry only through its normal spaces")
    if tangents == "quadratic" and m > 0:
        need = 2 + m + m * (m + 1) // 2
        if k < need:
            raise ValueError(f"n_neighbors: tangents='quadratic' on a {m}-dimensional manifold needs at least {need} "
                             f"neighbours, got {k} (or pass tangents='pca')")
        T = _quadratic_tangents(x, idx, U, m)
    else:
        T = U[:, :, :m]                                              # (N, n, m) tangent bases
    q = action.dim
    acc = StreamingFactor(q, accumulate)
    for start in range(0, N, batch_size):
        xc = x[start:start + batch_size]
        Tc = T[start:start + batch_size]
        v = action.vector_fields(xc)                                 # (q, b, n)
        pv = v - torch.einsum("bim,bjm,kbj->kbi", Tc, Tc, v)         # normal components
        acc.add(pv.permute(1, 2, 0).reshape(-1, q))
    R, _, _ = acc.reduce(torch.zeros(1, dtype=torch.float64), False)
    elems = _discrete_elements(discrete, group, action)
    radius = float(((x - x.mean(0)) ** 2).sum(1).mean().sqrt())
    disc = {}
    if elems:
        from scipy.spatial import cKDTree
        tree = cKDTree(x.numpy())
        for key, g in elems.items():
            assert isinstance(action, MatrixAction)
            gx = action.rep_in.act(g, x)
            _, j = tree.query(gx.numpy(), k=1)
            j = torch.from_numpy(j)
            off = gx - x[j]                                          # to the nearest point of the cloud ...
            nrm = off - torch.einsum("nim,njm,nj->ni", T[j], T[j], off)   # ... off its tangent plane
            disc[key] = float(nrm.norm(dim=1).mean()) / radius if radius > 0 else float("inf")
    fit = {"model": f"point cloud ({'local quadratic' if tangents == 'quadratic' else 'local PCA'} tangent spaces)",
           "manifold_dim": m, "estimated_dim": m_est,
           "dim_gap_median": conf, "n_neighbors": k}
    info = {"seconds": time.perf_counter() - t0, "batch_size": batch_size, "accumulate": accumulate,
            "dtype": "float64", "processes": 1}
    rr = resolve_rule(rule, rtol, atol, min_gap, floor, torch.float64)
    return symmetry_result(action, R, float(N), radius, rule=rr, closure_tol=closure_tol, discrete=disc,
                           n_samples=N, n_outputs=n, kind="manifold", fit=fit, info=info, points=x[:CLOSURE_POINTS])
