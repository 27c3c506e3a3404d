"""Matrix Lie groups: a Lie algebra (the identity component) plus discrete generators.

A :class:`Group` G is described by
  * its Lie algebra g (basis (q, d, d)); exp(g) generates the identity component G_0;
  * discrete generators h_1..h_k (k, d, d), one or more elements from the other connected components
    (e.g. a reflection for O(n); parity and time reversal for O(1,3)) or the generators of a finite group
    (permutations for S(n), a cyclic shift for Z(n)).

By the enforcement theorem, F is G-equivariant iff L_xi F = 0 for the algebra basis and K_h F = F for the
discrete generators. Affine groups (T(n), SE(n), E(n)) use homogeneous (n+1) x (n+1) matrices.
"""
from __future__ import annotations

import itertools
from typing import Sequence

import torch

from . import algebra as _alg
from ..utils.errors import ResourceError
from ..utils.resources import check_memory
from ..utils.validation import DEFAULT_DTYPE, SymlieError, as_matrix_stack, check_int, make_generator
from .algebra import LieAlgebra

__all__ = ["Group", "as_group", "SO", "O", "SE", "E", "T", "SL", "GL", "Sp", "Lorentz", "S", "Z",
           "direct_product", "minkowski_metric"]


class Group:
    """A matrix Lie group: ``algebra`` plus ``discrete`` generators (h, d, d), float64.

    Args:
        algebra: the Lie algebra of the identity component (may have dimension 0 for finite groups).
        discrete: (h, d, d) or (d, d) matrices; invertible, finite. For affine groups they must be
            homogeneous ``[[A, b], [0, 1]]``.
        name: label used in summaries.
        check: verify that each discrete generator normalises the algebra (h xi h^-1 stays in g), which any
            group element must do; ``normalize_tol`` is the relative tolerance of that check.
        invertible_rtol: a discrete generator whose condition number exceeds 1 / invertible_rtol is refused.
    """

    def __init__(self, algebra: LieAlgebra, discrete=None, *, name: str | None = None, check: bool = True,
                 normalize_tol: float = 1e-9, invertible_rtol: float = 1e-12):
        if not isinstance(algebra, LieAlgebra):
            raise TypeError(f"algebra: expected a LieAlgebra, got {type(algebra).__name__}")
        d = algebra.matrix_size
        if discrete is None:
            H = torch.zeros(0, d, d, dtype=DEFAULT_DTYPE)
        else:
            H = as_matrix_stack(discrete, "discrete", size=d)
        if H.shape[0]:
            sv = torch.linalg.svdvals(H)
            if bool((sv[:, -1] <= invertible_rtol * sv[:, 0]).any()):
                raise ValueError(f"discrete: generators must be invertible matrices (smallest/largest singular value "
                                 f"<= invertible_rtol={invertible_rtol:g})")
            if algebra.affine:
                last = H[:, -1, :]
                expect = torch.zeros_like(last)
                expect[:, -1] = 1.0
                if not torch.allclose(last, expect):
                    raise ValueError("discrete: affine group elements must be homogeneous [[A, b], [0, 1]]")
            if check and algebra.dim:
                h, q = H.shape[0], algebra.dim
                check_memory(8 * 4 * h * q * d * d, f"discrete: the normaliser check of {h} generator(s) against "
                             f"{q} algebra generators of {d}x{d}", hint="pass check=False, or fewer generators")
                Hinv = torch.linalg.inv(H)
                conj = H[:, None] @ algebra.basis[None] @ Hinv[:, None]
                _, res = algebra.coordinates(conj, return_residual=True)
                rel = res / torch.linalg.matrix_norm(conj).clamp(min=1e-300)
                if float(rel.max()) > normalize_tol:
                    raise SymlieError(f"discrete: generator conjugation h xi h^-1 leaves the algebra {algebra.name} "
                                      f"(relative residual {float(rel.max()):.3e}); these matrices do not form a group "
                                      f"with this identity component")
        self.algebra = algebra
        self.discrete = H.contiguous()
        self.name = name or algebra.name

    @property
    def matrix_size(self) -> int:
        return self.algebra.matrix_size

    @property
    def n(self) -> int:
        """Dimension of the space the group acts on."""
        return self.algebra.n

    @property
    def affine(self) -> bool:
        return self.algebra.affine

    @property
    def dim(self) -> int:
        """Dimension of the Lie algebra (0 for finite groups)."""
        return self.algebra.dim

    @property
    def num_discrete(self) -> int:
        return self.discrete.shape[0]

    def __repr__(self) -> str:
        return (f"{self.name} [algebra dim={self.dim}, {self.num_discrete} discrete generator(s), acts on R^{self.n}"
                f"{', affine' if self.affine else ''}]")

    def __eq__(self, other) -> bool:
        if not isinstance(other, Group):
            return NotImplemented
        return (self is other) or (self.algebra == other.algebra and self.discrete.shape == other.discrete.shape
                                   and bool(torch.equal(self.discrete, other.discrete)))

    def __hash__(self) -> int:
        return hash((hash(self.algebra), tuple(self.discrete.shape)))

    def __mul__(self, other: "Group") -> "Group":
        if not isinstance(other, Group):
            return NotImplemented
        return direct_product(self, other)

    def identity(self) -> torch.Tensor:
        return torch.eye(self.matrix_size, dtype=DEFAULT_DTYPE)

    def sample(self, num: int = 1, *, scale: float = 1.0, word_length: int = 3,
               generator: int | torch.Generator | None = None) -> torch.Tensor:
        """Random group elements (num, d, d): exp(random algebra element) times a random discrete word.

        The algebra coefficients are N(0, scale^2) in the (orthonormal) basis; the word has ``word_length``
        letters, each a discrete generator or the identity chosen uniformly, so every component is reached.
        Deterministic for a given seed / generator.
        """
        check_int(num, "num", 1)
        gen = make_generator(generator)
        d = self.matrix_size
        check_memory(8 * 8 * num * d * d, f"sample: {num} group elements of {d}x{d}",
                     hint="draw fewer elements at a time")
        if self.dim:
            g = self.algebra.exp(self.algebra.random_element(num, scale=scale, generator=gen))
        else:
            g = torch.eye(d, dtype=DEFAULT_DTYPE).expand(num, d, d).clone()
        h = self.num_discrete
        if h:
            letters = torch.cat([torch.eye(d, dtype=DEFAULT_DTYPE)[None], self.discrete])
            for _ in range(word_length):
                idx = torch.randint(0, h + 1, (num,), generator=gen)
                g = g @ letters[idx]
        return g

    def elements(self, max_size: int = 100000) -> torch.Tensor:
        """All elements of a finite group (algebra of dimension 0), by closure of the generators."""
        if self.dim:
            raise SymlieError(f"elements: {self.name} has a continuous part (algebra dimension {self.dim})")
        d = self.matrix_size
        found = {tuple(torch.eye(d, dtype=DEFAULT_DTYPE).round(decimals=9).flatten().tolist()):
                 torch.eye(d, dtype=DEFAULT_DTYPE)}
        frontier = list(found.values())
        per = 8 * d * d + 48 * d * d + 200       # the matrix and its key (a tuple of d^2 Python floats)
        next_check = 64
        while frontier:
            new = []
            for g, h in itertools.product(frontier, self.discrete):
                gh = g @ h
                key = tuple(gh.round(decimals=9).flatten().tolist())
                if key not in found:
                    found[key] = gh
                    new.append(gh)
                    if len(found) >= next_check:   # twice as many may follow: refuse before they are built
                        next_check *= 2
                        check_memory(per * min(next_check, max_size + 1), f"elements: {self.name} has at least "
                                     f"{len(found)} elements of {d}x{d} (up to max_size={max_size})",
                                     hint="pass a smaller max_size, or use the generators (Group.discrete) instead")
                    if len(found) > max_size:
                        raise SymlieError(f"elements: more than max_size={max_size} elements; is the group finite?")
            frontier = new
        return torch.stack(list(found.values()))


def as_group(G) -> Group:
    """A :class:`Group` from a Group (returned as is) or a LieAlgebra (its connected group)."""
    if isinstance(G, Group):
        return G
    if isinstance(G, LieAlgebra):
        return Group(G)
    raise TypeError(f"expected a Group or LieAlgebra, got {type(G).__name__}")


def direct_product(*groups: Group, name: str | None = None) -> Group:
    """G_1 x ... x G_k acting block-diagonally on R^{n_1} x ... x R^{n_k}."""
    groups = [as_group(G) for G in groups]
    if not groups:
        raise ValueError("direct_product: expected at least one group")
    alg = _alg.direct_sum(*[G.algebra for G in groups])
    affine = alg.affine
    N = sum(G.n for G in groups)
    nh = sum(G.num_discrete for G in groups)
    check_memory(8 * 3 * nh * (N + 1) ** 2, f"direct_product: {nh} discrete generators of {N + 1}x{N + 1}",
                 hint="use fewer or smaller factors")
    disc = []
    off = 0
    for G in groups:
        for h in G.discrete:
            M = torch.eye(N + 1 if affine else N, dtype=DEFAULT_DTYPE)
            M[off:off + G.n, off:off + G.n] = h[:G.n, :G.n]
            if G.affine:
                M[off:off + G.n, -1] = h[:G.n, -1]
            disc.append(M)
        off += G.n
    return Group(alg, torch.stack(disc) if disc else None, name=name or " x ".join(G.name for G in groups))


def _reflection(n: int, homogeneous: bool = False) -> torch.Tensor:
    R = torch.eye(n + 1 if homogeneous else n, dtype=DEFAULT_DTYPE)
    R[0, 0] = -1.0
    return R


def SO(p: int, q: int | None = None) -> Group:
    """SO(n) (connected), or SO(p, q) = {det 1, preserves eta}: two components when p, q > 0, so the
    discrete generator diag(-1 at 0, -1 at p) (a 'PT' element) is included."""
    if q is None:
        return Group(_alg.so(p), name=f"SO({p})")
    alg = _alg.so_pq(p, q)
    disc = None
    if p > 0 and q > 0:
        M = torch.eye(p + q, dtype=DEFAULT_DTYPE)
        M[0, 0] = M[p, p] = -1.0
        disc = M
    return Group(alg, disc, name=f"SO({p},{q})")


def O(p: int, q: int | None = None) -> Group:   # noqa: E743 (public API: the orthogonal group O(n))
    """O(n) = SO(n) plus the reflection diag(-1, 1, ..., 1); or O(p, q) with the reflections of each sign block."""
    if q is None:
        return Group(_alg.so(p), _reflection(p), name=f"O({p})")
    alg = _alg.so_pq(p, q)
    disc = []
    for k in ([0] if p else []) + ([p] if q else []):
        M = torch.eye(p + q, dtype=DEFAULT_DTYPE)
        M[k, k] = -1.0
        disc.append(M)
    return Group(alg, torch.stack(disc), name=f"O({p},{q})")


def minkowski_metric(p: int = 1, q: int = 3) -> torch.Tensor:
    """eta = diag(+1 x p, -1 x q) (float64); the Lorentz metric for the default (1, 3)."""
    return torch.diag(torch.tensor([1.0] * p + [-1.0] * q, dtype=DEFAULT_DTYPE))


def Lorentz() -> Group:
    """The full Lorentz group O(1,3): so(1,3) plus parity P = diag(1,-1,-1,-1) and time reversal T = diag(-1,1,1,1)."""
    P = torch.diag(torch.tensor([1.0, -1.0, -1.0, -1.0], dtype=DEFAULT_DTYPE))
    Tr = torch.diag(torch.tensor([-1.0, 1.0, 1.0, 1.0], dtype=DEFAULT_DTYPE))
    return Group(_alg.lorentz(), torch.stack([P, Tr]), name="O(1,3)")


def SE(n: int) -> Group:
    """SE(n): rotations and translations of R^n (homogeneous matrices)."""
    return Group(_alg.se(n), name=f"SE({n})")


def E(n: int) -> Group:
    """E(n): the Euclidean group, SE(n) plus a reflection."""
    return Group(_alg.se(n), _reflection(n, homogeneous=True), name=f"E({n})")


def T(n: int) -> Group:
    """T(n): translations of R^n (homogeneous matrices)."""
    return Group(_alg.t(n), name=f"T({n})")


def SL(n: int) -> Group:
    """SL(n): unimodular matrices (connected)."""
    return Group(_alg.sl(n), name=f"SL({n})")


def GL(n: int) -> Group:
    """GL(n): invertible matrices; the reflection diag(-1, 1, ..., 1) reaches det < 0."""
    return Group(_alg.gl(n), _reflection(n), name=f"GL({n})")


def Sp(n2: int) -> Group:
    """Sp(2n) acting on R^{2n} (argument: the matrix size 2n); connected."""
    return Group(_alg.sp(n2), name=f"Sp({n2})")


def _check_perm_group(name: str, n: int, k: int) -> None:
    check_memory(8 * 4 * k * n * n, f"{name}: {k} permutation matrices of {n}x{n}",
                 hint="permutation groups are stored as dense n x n matrices; use fewer coordinates")


def _perm_matrix(perm: Sequence[int]) -> torch.Tensor:
    n = len(perm)
    M = torch.zeros(n, n, dtype=DEFAULT_DTYPE)
    for i, j in enumerate(perm):
        M[j, i] = 1.0  # e_i -> e_perm(i)
    return M


def S(n: int) -> Group:
    """The symmetric group S(n) permuting coordinates, generated by the transposition (0 1) and the n-cycle."""
    check_int(n, "n", 2)
    _check_perm_group(f"S({n})", n, 2)
    swap = list(range(n))
    swap[0], swap[1] = 1, 0
    cyc = [(i + 1) % n for i in range(n)]
    gens = [_perm_matrix(swap)] + ([_perm_matrix(cyc)] if n > 2 else [])
    return Group(LieAlgebra(torch.zeros(0, n, n), size=n, name="0"), torch.stack(gens), name=f"S({n})")


def Z(n: int) -> Group:
    """The cyclic group Z(n) acting on R^n by cyclic shifts of the coordinates."""
    check_int(n, "n", 2)
    _check_perm_group(f"Z({n})", n, 1)
    cyc = [(i + 1) % n for i in range(n)]
    return Group(LieAlgebra(torch.zeros(0, n, n), size=n, name="0"), _perm_matrix(cyc), name=f"Z({n})")


def parse_group(spec: str) -> Group:
    """A group from its name: ``SO(n)``, ``O(n)``, ``SO(p,q)``, ``O(p,q)``, ``SE(n)``, ``E(n)``, ``T(n)``,
    ``SL(n)``, ``GL(n)``, ``Sp(2n)``, ``Lorentz``, ``S(n)``, ``Z(n)``; a ``ValueError`` lists them otherwise."""
    import re
    valid = "SO(n), O(n), SO(p,q), O(p,q), SE(n), E(n), T(n), SL(n), GL(n), Sp(2n), Lorentz, S(n), Z(n)"
    if not isinstance(spec, str):
        raise ValueError(f"--group: expected a group name ({valid}), got {spec!r}")
    s = spec.replace(" ", "")
    if s.lower() == "lorentz":
        return Lorentz()
    m = re.fullmatch(r"(SO|O|SE|E|T|SL|GL|Sp|S|Z)\((\d+)(?:,(\d+))?\)", s)
    if not m:
        raise ValueError(f"--group: cannot read {spec!r}; valid names: {valid}")
    kind, a, b = m.group(1), int(m.group(2)), m.group(3)
    if b is not None and kind not in ("SO", "O"):
        raise ValueError(f"--group: {spec!r}: only SO(p,q) and O(p,q) take two numbers; valid names: {valid}")
    fn = {"SO": SO, "O": O, "SE": SE, "E": E, "T": T, "SL": SL, "GL": GL, "Sp": Sp, "S": S, "Z": Z}[kind]
    try:
        return fn(a, int(b)) if b is not None else fn(a)  # type: ignore[operator]
    except ResourceError as exc:
        raise ResourceError(f"--group: {spec!r}: {exc}", nbytes=exc.nbytes, limit=exc.limit, what=exc.what) from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--group: {spec!r}: {exc}") from None
