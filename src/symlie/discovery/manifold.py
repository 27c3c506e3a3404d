"""DISCOVER on point clouds: the symmetries of a sub-manifold (or level set) from estimated normal spaces.

A group maps M to itself iff every generator field is tangent to M: P_normal(x) v_xi(x) = 0 on M, which is
linear in xi, so the symmetry algebra is again the nullspace of an operator streamed into a q x q factor.

The tangent spaces come from the ``k`` nearest neighbours of every point. With a fixed ``k`` the neighbourhoods
shrink as the cloud gets denser while the noise stays, so the tangent estimates get *worse* with more data
(local fits over a ball of radius comparable to the noise). The default ``k`` is therefore chosen from the data
(:func:`_choose_neighbours`): large enough to average the noise down, small enough that curvature does not bias
the local fits.
"""
from __future__ import annotations

import math
import time

import torch

from ..lie.actions import MatrixAction
from ..lie.reps import Rep
from ..linalg import StreamingFactor
from ..utils.validation import as_tensor, check_int, count_distinct_rows
from ..utils.errors import DataError
from .functional import (DEFAULT_BATCH_SIZE, CLOSURE_POINTS, _discrete_elements, resolve_candidates, resolve_rule,
                         sample_sufficiency)
from .result import SymmetryResult, symmetry_result

__all__ = ["discover_manifold"]

# ------------------------------------------------------------------------ the default neighbourhood rule
#: the adaptive rule takes at most max(K_MAX, NEIGHBOUR_BUDGET // N) neighbours (the local fits cost ~ N k:
#: k = 419 at N = 20000 takes a few seconds)
K_MAX = 256
NEIGHBOUR_BUDGET = 1 << 23
#: predicted noise error of the tangent spaces (radians) at which k stops growing
TANGENT_TARGET = 1e-3
#: k is refused when its tangent spaces move from those of a smaller k by more than this x their noise band
BIAS_FACTOR = 2.0
#: a neighbourhood is resolved above the noise when its m-th local-PCA eigenvalue is this x the (m+1)-th
#: (median over the probes): the tangential spread is then ~3x the normal one and the local fits linear in
#: the noise; smaller neighbourhoods are balls of noise whose fits are not noisy but wrong
RESOLVED_RATIO = 10.0
#: ratio of consecutive candidate values of k
K_GROWTH = 1.5
#: points of the cloud (evenly spaced in its order) where the rule is evaluated
N_PROBES = 512
#: average over the probes of squared tangent errors (the symmetric singular values are RMS over the points)
_STAT = torch.mean
#: neighbour entries per chunk of the local fits (bounds the memory of the (points, k, n) gathers)
_CHUNK = 1 << 20
#: default of ``min_dim_ratio``: a cloud whose best local-PCA ratio lambda_m / lambda_{m+1} is below it shows
#: no m-dimensional structure (a uniform cloud filling R^3 gives ~1.9, a sphere with noise 0.15 x radius ~4.8)
MIN_DIM_RATIO = 3.0


# --------------------------------------------------------------------------------- point clouds
def _tree(x: torch.Tensor):
    from scipy.spatial import cKDTree
    return cKDTree(x.detach().cpu().numpy())


def _neighbours(tree, x: torch.Tensor, k: int) -> torch.Tensor:
    """(len(x), k+1) indices of the k nearest neighbours in ``tree`` of every point of ``x`` (itself first)."""
    _, idx = tree.query(x.detach().cpu().numpy(), k=k + 1, workers=max(1, torch.get_num_threads()))
    return torch.from_numpy(idx).reshape(x.shape[0], k + 1)


def _local_pca(x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(eigenvalues (b, n) descending, eigenvectors (b, n, n) as columns) of the neighbourhood covariances."""
    nb = x[idx]                                                      # (b, k+1, n)
    nb = nb - nb.mean(1, keepdim=True)
    C = nb.transpose(1, 2) @ nb / (idx.shape[1] - 1)
    ev, U = torch.linalg.eigh(C)
    return ev.flip(-1).clamp(min=0), U.flip(-1)


def _n_coef(m: int, quadratic: bool) -> int:
    """Coefficients per normal coordinate of the local graph fit: 1 + m (+ m(m+1)/2)."""
    return 1 + m + (m * (m + 1) // 2 if quadratic else 0)


def _graph_fit(x: torch.Tensor, idx: torch.Tensor, U: torch.Tensor, m: int, quadratic: bool = True,
               stats: bool = False):
    """Fit the manifold as a graph over the local PCA frame: w = a + B u (+ quadratic(u)) over the neighbours
    (tangent coordinates u, normal coordinates w, offsets from the point itself) by least squares.

    Returns the tangent bases (b, n, m) = span of the graph's derivative T0 + N0 B, and with ``stats`` also the
    residual variance per normal coordinate (b,) and the slope variance factor (b,): the sum of the slope
    diagonal of (A^T A)^-1, so that sigma^2 (n - m) x factor is the expected squared error of B (the tangent
    space, in radians^2) from noise of level sigma. PCA alone is biased by curvature to first order in the
    neighbourhood size when the neighbourhood is not centred on the point (boundaries, uneven sampling)."""
    n = x.shape[1]
    T0, N0 = U[:, :, :m], U[:, :, m:]
    c = (x[idx] - x[idx[:, :1]]) @ U                                 # offsets from the point in the PCA frame
    u, w = c[:, :, :m], c[:, :, m:]                                  # (b, k+1, m) tangent coordinates, ...
    sc = u.abs().amax((1, 2)).clamp(min=1e-300)                      # ... scaled to [-1, 1] for conditioning
    u = u / sc[:, None, None]                                        # (normal coordinates w: (b, k+1, n-m))
    cols = [torch.ones_like(u[:, :, :1]), u]
    if quadratic:
        iu, ju = torch.triu_indices(m, m)
        cols.append(u[:, :, iu] * u[:, :, ju])
    A = torch.cat(cols, -1)                                          # (b, k+1, p)
    coef = torch.linalg.lstsq(A, w).solution                         # (b, p, n-m)
    B = coef[:, 1:1 + m, :] / sc[:, None, None]                      # dw/du at u = 0
    T = torch.linalg.qr(T0 + N0 @ B.transpose(1, 2))[0]
    if not stats:
        return T
    p = A.shape[-1]
    res = w - A @ coef
    dof = max(idx.shape[1] - p, 1) * max(n - m, 1)
    s2 = (res ** 2).sum((1, 2)) / dof
    Ginv = torch.linalg.pinv(A.transpose(1, 2) @ A)                  # (b, p, p)
    vs = torch.diagonal(Ginv, dim1=1, dim2=2)[:, 1:1 + m].sum(1) / sc ** 2
    return T, s2, vs


def _pca_all(x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`_local_pca` of every neighbourhood in ``idx``, in chunks (bounded memory)."""
    chunk = max(1, _CHUNK // idx.shape[1])
    out = [_local_pca(x, idx[s:s + chunk]) for s in range(0, idx.shape[0], chunk)]
    return torch.cat([e for e, _ in out]), torch.cat([U for _, U in out])


def _tangents(x: torch.Tensor, idx: torch.Tensor, U: torch.Tensor, m: int, tangents: str) -> torch.Tensor:
    """Tangent bases (b, n, m) of the neighbourhoods ``idx`` with local PCA frames ``U``, in chunks."""
    if m == 0 or tangents == "pca":
        return U[:, :, :m]
    chunk = max(1, _CHUNK // idx.shape[1])
    return torch.cat([_graph_fit(x, idx[s:s + chunk], U[s:s + chunk], m, True)
                      for s in range(0, idx.shape[0], chunk)])


def _grid(k_lo: int, k_hi: int) -> list[int]:
    ks = [k_lo]
    while ks[-1] < k_hi:
        ks.append(min(k_hi, max(ks[-1] + 1, int(math.ceil(ks[-1] * K_GROWTH)))))
    return ks


def _choose_neighbours(x: torch.Tensor, tree, m: int | None, tangents: str, k0: int,
                       k_hi: int) -> tuple[int, int, dict]:
    """The default neighbourhood size (and the intrinsic dimension when ``m`` is None), evaluated at
    ``N_PROBES`` points; returns (k, m, record for ``result.fit``).

    1. For k = k0, 1.5 k0, ... <= k_hi: local PCA at the probes. Unless given, m is the intrinsic dimension
       (:func:`_intrinsic_dim`) at the smallest k whose eigenvalue gap is resolved (median ratio >=
       ``RESOLVED_RATIO``; the clearest gap when none is): smaller neighbourhoods are balls of noise, larger
       ones can see a curve coiled on a surface (a helix on its cylinder) as two-dimensional.
    2. The search starts at the first k >= k_lo = max(k0, 2 x the coefficients of the quadratic fit) whose
       neighbourhoods are resolved above the noise (median lambda_m / lambda_{m+1} >= ``RESOLVED_RATIO``; the
       most resolved k when none is). The noise level sigma is the RMS residual of the local quadratic fits
       there (the resolved neighbourhood least affected by curvature).
    3. Lepski's rule: for each k from there, fit the tangent spaces T_k as the final fit does and predict their
       noise error E_k = sigma sqrt((n - m) x slope variance factor of the least-squares design) (RMS over the
       probes). k grows while E_k > ``TANGENT_TARGET`` (a noiseless cloud stops at once) and while T_k agrees
       with every T_j of a smaller k within the noise: RMS ||T_j T_j^T - T_k T_k^T||_F / sqrt(2) <=
       ``BIAS_FACTOR`` x sqrt(E_j^2 + E_k^2) (pure noise moves by ~sqrt(E_j^2 - E_k^2) between nested
       neighbourhoods); a larger move is curvature bias and the previous k is kept. RMS, not medians: the
       symmetric singular values are RMS over the points, so biased minorities (boundaries) count.

    With noise sigma, a neighbourhood of radius r ~ (k / N)^(1/m) has a noise error ~ sigma / (r sqrt(k)), so
    at fixed noise k grows with N until curvature (or the cap k_hi) stops it.
    """
    N, n = x.shape
    quadratic = tangents == "quadratic"
    P = min(N, N_PROBES)
    probes = torch.unique(torch.linspace(0, N - 1, P, dtype=torch.float64).round().long())
    nb = _neighbours(tree, x[probes], k_hi)
    grid = _grid(k0, k_hi)
    pca = {k: _local_pca(x, nb[:, :k + 1]) for k in grid}
    if m is None:
        dims = {k: _intrinsic_dim(ev, 1e-12) for k, (ev, _) in pca.items()}
        m = next((dims[k][0] for k in grid if dims[k][1] >= RESOLVED_RATIO),
                 dims[max(grid, key=lambda k: (dims[k][1], -k))][0])
    info: dict = {}
    if m == 0:
        return k0, m, {"n_neighbors_rule": "manifold_dim=0"}
    k_lo = min(max(k0, 2 * _n_coef(m, True)), k_hi)
    cand = sorted({k for k in grid if k >= k_lo} | {k_lo})
    for k in cand:
        if k not in pca:
            pca[k] = _local_pca(x, nb[:, :k + 1])

    ratios = {k: _gap(pca[k][0], m) for k in cand}
    info["best_dim_ratio"] = max(ratios.values())
    start = next((k for k in cand if ratios[k] >= RESOLVED_RATIO), None)
    if start is None:
        start = max(cand, key=lambda k: ratios[k])
        info["unresolved"] = (f"no k <= {k_hi} resolves the manifold above the noise "
                              f"(best lambda ratio {ratios[start]:.3g})")
    cand = [k for k in cand if k >= start]
    # noise level from the quadratic fit at the start (the linear one when too few neighbours for it)
    idx0 = nb[:, :start + 1]
    _, s2, _ = _graph_fit(x, idx0, pca[start][1], m, start + 1 > _n_coef(m, True), stats=True)
    sigma = float(s2.median().clamp(min=0).sqrt())
    info["noise_level"] = sigma
    hist: list[tuple[int, torch.Tensor, float]] = []
    chosen, reason = None, None
    for k in cand:
        idx = nb[:, :k + 1]
        U = pca[k][1]
        if quadratic:
            T, _, vs = _graph_fit(x, idx, U, m, True, stats=True)
        else:
            _, _, vs = _graph_fit(x, idx, U, m, False, stats=True)
            T = U[:, :, :m]
        E = sigma * math.sqrt(max(n - m, 1) * float(_STAT(vs)))
        Pk = T @ T.transpose(1, 2)
        for kj, Pj, Ej in hist:
            move = math.sqrt(float(_STAT(((Pj - Pk) ** 2).sum((1, 2)) / 2)))
            if move > BIAS_FACTOR * math.hypot(Ej, E):
                reason = (f"curvature: the tangents move by {move:.2g} from k={kj} to k={k}, more than "
                          f"{BIAS_FACTOR:g} x the noise band {math.hypot(Ej, E):.2g}")
                break
        if reason is not None:
            break
        hist.append((k, Pk, E))
        chosen = k
        if E <= TANGENT_TARGET:
            reason = f"noise averaged down: predicted tangent error {E:.2g} <= {TANGENT_TARGET:g}"
            break
    if reason is None:
        reason = f"cap: k <= {k_hi}{' = N - 1' if k_hi == N - 1 else ''} (predicted tangent error {hist[-1][2]:.2g})"
    info["tangent_error"] = hist[-1][2]                              # the chosen k is the last one accepted
    info["n_neighbors_rule"] = reason
    assert chosen is not None  # the first candidate k is always accepted
    return chosen, m, info


def _eig_ratios(ev: torch.Tensor, floor: float = 1e-12) -> torch.Tensor:
    """(b, n-1) consecutive ratios lambda_i / lambda_{i+1} of local-PCA eigenvalues (floored: absolute and
    relative to the largest)."""
    sc = ev.clamp(min=floor) if ev.numel() else ev
    sc = torch.maximum(sc, floor * sc[:, :1])
    return sc[:, :-1] / sc[:, 1:]


def _intrinsic_dim(ev: torch.Tensor, floor: float) -> tuple[int, float]:
    """Most common position of the largest consecutive eigenvalue ratio of local PCA, and its median ratio."""
    n = ev.shape[1]
    ratios = _eig_ratios(ev, floor)                                  # (N, n-1)
    pos = ratios.argmax(1) + 1                                       # dimension per point
    m = int(torch.mode(pos).values)
    return m, float(ratios[:, m - 1].median()) if n > 1 else float("nan")


def _gap(ev: torch.Tensor, m: int, floor: float = 1e-12) -> float:
    """Median lambda_m / lambda_{m+1} of local PCA (NaN for m = 0 or m = n)."""
    return float(_eig_ratios(ev, floor)[:, m - 1].median()) if 0 < m < ev.shape[1] else float("nan")


def discover_manifold(X, candidates, *, rep_in: Rep | None = None, manifold_dim: int | None = None,
                      n_neighbors: int | None = None, tangents: str = "quadratic", rule="auto",
                      rtol: float | None = None, atol: float | None = None, min_gap: float | None = 10.0,
                      floor: float | None = None, closure_tol: float | None = None,
                      discrete=None, batch_size: int = DEFAULT_BATCH_SIZE, accumulate: str = "qr",
                      min_dim_ratio: float = MIN_DIM_RATIO) -> SymmetryResult:
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
        n_neighbors: neighbours per local fit; default: chosen from the data, reported in ``result.fit`` as
            ``n_neighbors`` with the reason ``n_neighbors_rule``, the estimated ``noise_level`` (units of X) and
            the predicted noise error of the tangents ``tangent_error`` (radians). More neighbours average the
            noise down, fewer reduce the curvature bias; with a fixed number the neighbourhoods would shrink as
            the cloud gets denser while the noise stays, and the tangents get worse with more data. The rule
            (details in :func:`_choose_neighbours`), evaluated at 512 probe points for k = k0, 1.5 k0, ... with
            k0 = max(10, 4 n), up to k_hi = min(N - 1, max(256, 2^23 / N)) (cost ~ N k): start at the first k
            whose neighbourhoods are resolved above the noise (local-PCA eigenvalue ratio lambda_m / lambda_{m+1}
            >= 10) and at least twice the coefficients of the quadratic fit; estimate the noise sigma there
            (residual of the local quadratic fits); then grow k (Lepski's method) until the predicted noise
            error of the tangents, E_k ~ sigma / (r_k sqrt(k)) for a neighbourhood radius r_k, is <= 1e-3, or
            until the tangents at k move (RMS) from those at a smaller k_j by more than 2 sqrt(E_j^2 + E_k^2):
            curvature bias, the previous k is kept. A noiseless cloud keeps the smallest k; at fixed noise, k
            grows with N (r_k ~ (k / N)^(1/m)) until curvature or the cap stops it. An integer overrides the rule
            (the intrinsic dimension is then estimated with it, as before).
        min_dim_ratio: the smallest median local-PCA eigenvalue ratio lambda_m / lambda_{m+1} (the best over the
            neighbourhood sizes tried) accepted as evidence of an m-dimensional manifold. A cloud that fills R^n
            (or whose noise hides its manifold) has ratios near 1: without ``manifold_dim`` it is refused with a
            :class:`symlie.DataError`; with ``manifold_dim`` the result's ``status`` is ``"underdetermined"``
            and an :class:`symlie.UnderdeterminedWarning` is emitted.
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
    k0 = max(10, 4 * n) if n_neighbors is None else check_int(n_neighbors, "n_neighbors", 2)
    if N < k0 + 1:
        raise ValueError(f"X: {N} points are too few for local PCA with n_neighbors={k0} (need at least {k0 + 1})")
    if tangents not in ("quadratic", "pca"):
        raise ValueError(f"tangents: expected 'quadratic' or 'pca', got {tangents!r}")
    tree = _tree(x)
    m_given = None if manifold_dim is None else check_int(manifold_dim, "manifold_dim", 0)
    if m_given is not None and m_given >= n:
        raise ValueError(f"manifold_dim: the points fill R^{n} (dimension {m_given}); a point cloud constrains "
                         f"the symmetry only through its normal spaces")
    if n_neighbors is None:                                          # adaptive (see _choose_neighbours)
        k_hi = min(N - 1, max(K_MAX, k0, NEIGHBOUR_BUDGET // N))
        k, m_est, rule_info = _choose_neighbours(x, tree, m_given, tangents, k0, k_hi)
        idx = _neighbours(tree, x, k)
        ev, U = _pca_all(x, idx)
        if m_given is not None:
            m_est = _intrinsic_dim(ev, 1e-12)[0]
    else:
        k, rule_info = k0, {"n_neighbors_rule": "given"}
        idx = _neighbours(tree, x, k)
        ev, U = _pca_all(x, idx)
        m_est = _intrinsic_dim(ev, 1e-12)[0]
    m = m_est if m_given is None else m_given
    conf = _gap(ev, m)
    if not (isinstance(min_dim_ratio, (int, float)) and not isinstance(min_dim_ratio, bool)
            and math.isfinite(min_dim_ratio) and min_dim_ratio >= 1):
        raise ValueError(f"min_dim_ratio: expected a number >= 1, got {min_dim_ratio!r}")
    best_ratio = float(rule_info.get("best_dim_ratio", conf))
    no_manifold = m > 0 and not best_ratio >= min_dim_ratio
    if no_manifold and m_given is None:
        raise DataError(f"X: the point cloud shows no lower-dimensional structure: the best local-PCA eigenvalue "
                        f"ratio is {best_ratio:.3g} < min_dim_ratio={min_dim_ratio:g} at every neighbourhood size "
                        f"tried, so it fills R^{n} (or its noise hides the manifold) and its symmetries are not "
                        f"defined; pass manifold_dim to impose a dimension, or use less noisy samples")
    if tangents == "quadratic" and m > 0:
        need = 2 + m + m * (m + 1) // 2
        if k < need:
            raise ValueError(f"n_neighbors: tangents='quadratic' on a {m}-dimensional manifold needs at least "
                             f"{need} neighbours, got {k} (or pass tangents='pca')")
    T = _tangents(x, idx, U, m, tangents)                            # (N, n, m) tangent bases
    q = action.dim
    acc = StreamingFactor(q, accumulate)
    for start in range(0, N, batch_size):
        xc = x[start:start + batch_size]
        Tc = T[start:start + batch_size]
        v = action.vector_fields(xc)                                 # (q, b, n)
        pv = v - torch.einsum("bim,bjm,kbj->kbi", Tc, Tc, v)         # normal components
        acc.add(pv.permute(1, 2, 0).reshape(-1, q))
    R, _, _ = acc.reduce(torch.zeros(1, dtype=torch.float64), False)
    fields = StreamingFactor(q, "qr")
    for start in range(0, N, batch_size):
        fields.add(action.vector_fields(x[start:start + batch_size]).permute(1, 2, 0).reshape(-1, q))
    R_fields, _, _ = fields.reduce(torch.zeros(1, dtype=torch.float64), False)
    elems = _discrete_elements(discrete, group, action)
    radius = float(((x - x.mean(0)) ** 2).sum(1).mean().sqrt())
    disc = {}
    if elems:
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
           "dim_gap_median": conf, "n_neighbors": k, **rule_info}
    info = {"seconds": time.perf_counter() - t0, "batch_size": batch_size, "accumulate": accumulate,
            "dtype": "float64", "processes": 1}
    rr = resolve_rule(rule, rtol, atol, min_gap, floor, torch.float64)
    n_distinct = count_distinct_rows(x)
    info.update(sample_sufficiency(R_fields, n_distinct, n - m, q, torch.float64, what=f"the {q} candidates"))
    if no_manifold:
        why = (f"the cloud shows no {m}-dimensional structure (best local-PCA eigenvalue ratio {best_ratio:.3g} < "
               f"min_dim_ratio={min_dim_ratio:g}): the normal spaces are noise")
        info["status"] = "underdetermined"
        info["status_reason"] = why + (f"; {info['status_reason']}" if info["status_reason"] else "")
    res = symmetry_result(action, R, float(N), radius, rule=rr, closure_tol=closure_tol, discrete=disc,
                           n_samples=N, n_outputs=n, kind="manifold", fit=fit, info=info, points=x[:CLOSURE_POINTS])
    res.warn_status(stacklevel=3)
    return res
