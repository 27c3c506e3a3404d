"""Name a (discovered) Lie algebra up to isomorphism: dimension, Killing form, radical and Levi quotient.

:func:`identify_algebra` answers "which well-known algebra is this?" for the algebras symmetry discovery
returns, e.g. ``so(3)``, ``so(1,3)``, ``sl(2)``, ``t(2)``, ``se(3)``, ``sl(2) + R``. It uses only invariants
computed from the structure constants (and, for affine algebras, the translation ideal):

* the Killing form K(x, y) = tr(ad_x ad_y) and its signature (positive, negative, zero eigenvalues);
* the radical rad(g) = [g, g]^perp (orthogonal complement of the derived algebra under K; Cartan), and
  the Killing signature of the semisimple Levi quotient g / rad(g), looked up in a table of the classical
  real simple (and small semisimple) algebras by (dimension, signature);
* whether the radical is central (reductive algebras such as gl(n) = sl(n) + R) or a translation ideal
  (Euclidean-type algebras so(k) x| t(k) = se(k)).

Isomorphism classes with the same dimension and Killing signature are not separated beyond the table
(e.g. so(4) and so(3) + so(3) are isomorphic anyway; the aliases list the classical coincidences). When no
name applies, the description still reports the invariants.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import torch

from ..linalg import RankRule
from ..utils.validation import NotClosedError
from .algebra import LieAlgebra

__all__ = ["Identification", "identify_algebra", "identify_structure", "simple_algebra_table"]


_ALIASES = {
    "so(3)": ("su(2)",), "so(1,2)": ("su(1,1)",), "so(4)": ("so(3) + so(3)",), "so(1,3)": ("sl(2,C)", "lorentz"),
    "so(2,2)": ("sl(2) + sl(2)",), "so(5)": ("sp(4) compact",), "so(6)": ("su(4)",), "so(2,4)": ("su(2,2)",),
}


def _natural_size(name: str) -> int:
    """Matrix size of the defining realisation: so(p,q) -> p+q, sl(n)/su(n)/so(n) -> n, sp(2n) -> 2n."""
    inner = name[name.index("(") + 1:-1]
    return sum(int(v) for v in inner.split(","))


def simple_algebra_table(max_n: int = 16) -> dict[tuple[int, int, int], list[str]]:
    """{(dim, n_positive, n_negative): [names]} for the real forms used in symmetry work.

    so(n) (compact), so(p,q), sl(n), sp(2n) (symplectic, matrix size 2n), su(n), up to matrix size ``max_n``.
    Killing signatures: so(p,q) has the p*q boosts positive and so(p) + so(q) negative; sl(n) has the
    symmetric traceless part positive and so(n) negative; sp(2n) has u(n) negative. Names sharing a key are
    isomorphic (e.g. so(1,2) = sl(2) = sp(2), so(2,3) = sp(4), so(3,3) = sl(4)).
    """
    table: dict = {}

    def add(key, name):
        table.setdefault(key, [])
        if name not in table[key]:
            table[key].append(name)

    for n in range(3, max_n + 1):
        dim = n * (n - 1) // 2
        add((dim, 0, dim), f"so({n})")
        for p in range(1, n // 2 + 1):
            qq = n - p
            add((dim, p * qq, p * (p - 1) // 2 + qq * (qq - 1) // 2), f"so({p},{qq})")
    for n in range(2, max_n + 1):
        dim = n * n - 1
        add((dim, n * (n + 1) // 2 - 1, n * (n - 1) // 2), f"sl({n})")
        add((dim, 0, dim), f"su({n})")
    for k in range(1, max_n // 2 + 1):
        add((k * (2 * k + 1), k * (k + 1), k * k), f"sp({2 * k})")
    return table


_TABLE = simple_algebra_table()


def _lookup(dim: int, sig: tuple[int, int, int], size: int) -> tuple[str | None, list[str]]:
    """(name, aliases) of a semisimple algebra: the isomorphic name whose matrix size is ``size`` first."""
    names = _TABLE.get((dim, sig[0], sig[1]), [])
    if not names:
        return None, []
    best = next((nm for nm in names if _natural_size(nm) == size), names[0])
    aliases = [nm for nm in names if nm != best]
    for nm in names:
        aliases += [a for a in _ALIASES.get(nm, ()) if a not in aliases and a != best]
    return best, aliases


# Ranks and signatures below go through the one rank rule (RankRule "rtol", reference 1), i.e. they are decided
# against max(largest value, 1): the structure constants are
# normalised to max |C| = 1 first, so an object that is zero up to rounding (the Killing form of a nilpotent
# algebra) is recognised as zero instead of having its rounding noise ranked relative to itself.
def _span_basis(M: torch.Tensor, rtol: float) -> torch.Tensor:
    """Orthonormal columns spanning the column space of M (rank: values > rtol * max(sigma_1, 1))."""
    if M.numel() == 0 or M.shape[1] == 0:
        return M.new_zeros(M.shape[0], 0)
    U, s, _ = torch.linalg.svd(M, full_matrices=False)
    if s.numel() == 0:
        return M.new_zeros(M.shape[0], 0)
    rank, _, _ = RankRule("rtol", rtol=rtol).cut(s, reference=1.0)
    return U[:, :rank]


def _null_basis(M: torch.Tensor, rtol: float) -> torch.Tensor:
    """Orthonormal columns spanning the nullspace of M (m, n) (zero: values <= rtol * max(sigma_1, 1))."""
    n = M.shape[1]
    if M.shape[0] == 0:
        return torch.eye(n, dtype=M.dtype)
    _, s, Vh = torch.linalg.svd(M, full_matrices=True)
    rank, _, _ = RankRule("rtol", rtol=rtol).cut(s, reference=1.0) if s.numel() else (0, 0.0, "")
    return Vh[rank:].T


def _signature(K: torch.Tensor, rtol: float) -> tuple[int, int, int]:
    if K.numel() == 0:
        return (0, 0, 0)
    ev = torch.linalg.eigvalsh(0.5 * (K + K.T))
    _, tol, _ = RankRule("rtol", rtol=rtol).cut(ev.abs().sort(descending=True).values, reference=1.0)
    return (int((ev > tol).sum()), int((ev < -tol).sum()), int((ev.abs() <= tol).sum()))


def _killing(C: torch.Tensor) -> torch.Tensor:
    """Killing form from structure constants C[i, j, k] ([e_i, e_j] = sum_k C_ijk e_k)."""
    ad = C.transpose(1, 2)                                   # ad_i[k, j] = C[i, j, k]
    return torch.einsum("iab,jba->ij", ad, ad)


def _abelian_name(k: int, A: torch.Tensor | None, translations: bool,
                  rtol: float = 1e-9) -> tuple[str, tuple[str, ...]]:
    if translations:
        return f"t({k})", ()
    if k == 1 and A is None:
        return "R", ("abelian(1)",)
    if k == 1:
        assert A is not None
        ev = torch.linalg.eigvals(A[0])
        if float(ev.real.abs().max()) <= rtol * max(float(ev.abs().max()), 1e-300) and float(ev.abs().max()) > 0:
            return "so(2)", ("u(1)",)
        return "R", ("abelian(1)",)
    return (f"R^{k}", (f"abelian({k})",))


@dataclass(frozen=True)
class Identification(Mapping):
    """What :func:`identify_algebra` found; read as attributes (``ident.name``) or, for compatibility, as a
    read-only mapping (``ident["name"]``, ``ident.get("name")``, ``dict(ident)``).

    Attributes:
        name: e.g. ``"so(3)"``; ``None`` when no name applies (or the span does not close).
        aliases: isomorphic names. dim: the dimension.
        killing_signature: (positive, negative, zero) eigenvalues of the Killing form.
        abelian, semisimple, solvable: structure flags. radical_dim: dimension of the radical.
        levi_signature: Killing signature of the Levi quotient g / rad g.
        description: one line.
        closed: whether the span closed under the bracket (identification was attempted).
    """

    name: str | None = None
    aliases: tuple = ()
    dim: int = 0
    killing_signature: tuple = (0, 0, 0)
    abelian: bool = True
    semisimple: bool = False
    solvable: bool = True
    radical_dim: int = 0
    levi_signature: tuple = (0, 0, 0)
    description: str = ""
    closed: bool = True

    def _fields(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def __getitem__(self, key):
        if key not in self._fields():
            raise KeyError(key)
        v = getattr(self, key)
        return list(v) if key == "aliases" else v

    def __iter__(self):
        return iter(self._fields())

    def __len__(self) -> int:
        return len(self._fields())

    def to_dict(self) -> dict:
        d = self._fields()
        d["aliases"] = list(self.aliases)
        return d

    @classmethod
    def from_dict(cls, d) -> "Identification":
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in dict(d).items() if k in names}
        for k in ("killing_signature", "levi_signature", "aliases"):
            if k in kw and kw[k] is not None:
                kw[k] = tuple(kw[k])
        return cls(**kw)

    @classmethod
    def not_closed(cls, dim: int, closure: float, closure_tol: float) -> "Identification":
        """The found span does not close: nothing is named."""
        return cls(name=None, dim=dim, closed=False,
                   description=f"the found span does not close (relative residual {closure:.2e} > closure_tol="
                               f"{closure_tol:g}); the rank cut is probably inside the noise: inspect the spectrum")


def identify_algebra(alg: LieAlgebra, *, rtol: float = 1e-8, closure_tol: float = 1e-8) -> Identification:
    """Identify a matrix Lie algebra up to isomorphism (see the module docstring).

    Args:
        alg: the algebra (any basis; closure is required).
        rtol: relative tolerance for ranks and for zero Killing eigenvalues.
        closure_tol: relative closure residual above which identification is refused.

    Returns an :class:`Identification` (``name``, e.g. ``"so(3)"``, ``None`` when no name applies;
    ``aliases``, ``dim``, ``killing_signature``, ``abelian``, ``semisimple``, ``solvable``, ``radical_dim``,
    ``levi_signature``, ``description``). Raises :class:`symlie.NotClosedError` for non-closed generator sets.
    """
    if not isinstance(alg, LieAlgebra):
        raise TypeError(f"alg: expected a LieAlgebra, got {type(alg).__name__}")
    q = alg.dim
    if q == 0:
        return _classify(torch.zeros(0, 0, 0, dtype=torch.float64), rtol, closure_tol)
    err = alg.closure_error()
    if err > closure_tol:
        raise NotClosedError(f"alg: the generators do not close (relative residual {err:.3e} > closure_tol="
                             f"{closure_tol:g}); only Lie algebras can be identified")
    B = alg.orthonormalize().basis
    alg = LieAlgebra(B, affine=alg.affine, name=alg.name)
    return _classify(alg.structure_constants(), rtol, closure_tol, alg)


def identify_structure(C, *, rtol: float = 1e-8) -> Identification:
    """Identify a Lie algebra from its structure constants C (k, k, k), [e_a, e_b] = sum_c C[a, b, c] e_c, in
    an orthonormal basis (e.g. of vector fields found by discovery): abelian algebras, semisimple ones from the
    table, and the invariants otherwise (names that need a matrix realisation, such as se(k), are not given)."""
    C = torch.as_tensor(C, dtype=torch.float64)
    if C.ndim != 3 or not (C.shape[0] == C.shape[1] == C.shape[2]):
        raise ValueError(f"C: expected structure constants of shape (k, k, k), got {tuple(C.shape)}")
    return _classify(C, rtol, rtol)


def _classify(C: torch.Tensor, rtol: float, closure_tol: float, alg: LieAlgebra | None = None) -> Identification:
    """The invariants of the algebra with structure constants C; ``alg`` (orthonormal basis) adds the names
    that depend on the matrix realisation (so(2), t(k), the affine split, the preferred matrix size)."""
    q = C.shape[0]
    info: dict = {"name": None, "aliases": [], "dim": q, "killing_signature": (0, 0, 0), "abelian": True,
                  "semisimple": False, "solvable": True, "radical_dim": q, "levi_signature": (0, 0, 0)}
    if q == 0:
        info.update(name="0", description="the zero algebra (no continuous symmetry)")
        return Identification.from_dict(info)
    cscale = float(C.abs().max()) if C.numel() else 0.0
    B = alg.basis if alg is not None else None
    affine = alg is not None and alg.affine
    size = (alg.matrix_size - alg.affine) if alg is not None else 0
    is_translation = affine and bool(
        (alg.linear_part().reshape(q, -1).abs().max(1).values <= rtol * B.abs().max()).all())  # type: ignore[union-attr]
    if cscale <= rtol:
        mats = (alg.linear_part() if affine else B) if alg is not None else None
        name, al = _abelian_name(q, mats, is_translation, max(rtol, 1e-9))
        info.update(name=name, aliases=list(al), description=f"abelian, dim {q}", killing_signature=(0, 0, q))
        return Identification.from_dict(info)
    info["abelian"] = False
    C = C / cscale                                               # see the note above _span_basis
    K = _killing(C)
    sig = _signature(K, rtol)
    info["killing_signature"] = sig
    if affine:
        assert alg is not None
        named = _affine_split(alg, rtol, closure_tol)
        if named is not None:
            info.update(named)
    # derived algebra [g, g] (coordinates) and radical = [g, g]^perp under K (Cartan)
    r_basis = K.new_zeros(q, 0)
    if sig[2]:
        D = _span_basis(C.reshape(q * q, q).T, rtol)             # (q, dim [g,g])
        r_basis = _null_basis(D.T @ K, rtol)
    r = r_basis.shape[1]
    info["radical_dim"] = r
    if r == 0:                                                   # semisimple
        info.update(semisimple=True, solvable=False, levi_signature=sig)
        name, al = _lookup(q, sig, size)
        if info["name"] is None:
            info.update(name=name, aliases=list(al))
        info["description"] = f"semisimple, dim {q}, Killing signature {sig}" + (f": {name}" if name else "")
        return Identification.from_dict(info)
    comp = _null_basis(r_basis.T, rtol)                          # complement of the radical
    s_dim = comp.shape[1]
    levi_name = None
    if s_dim:
        Q = torch.cat([comp, r_basis], 1)                        # orthogonal change of basis
        Cn = torch.einsum("ijk,ia,jb,kc->abc", C, Q, Q, Q)
        lsig = _signature(_killing(Cn[:s_dim, :s_dim, :s_dim]), rtol)   # brackets mod the radical
        info.update(levi_signature=lsig, solvable=False)
        levi_name, _ = _lookup(s_dim, lsig, size)
    rad_central = bool(torch.einsum("ijk,jr->irk", C, r_basis).abs().max() <= rtol)
    if info["name"] is None and levi_name is not None and rad_central:
        if alg is not None:
            rad_elems = torch.einsum("qk,qij->kij", r_basis, B)
            rn, _ = _abelian_name(r, rad_elems[:, :-1, :-1] if affine else rad_elems, False, max(rtol, 1e-9))
        else:
            rn, _ = _abelian_name(r, None, False)
        info["name"] = f"{levi_name} + {rn}"
    kind = "solvable" if s_dim == 0 else (f"Levi part {levi_name or 'unnamed'} {info['levi_signature']}")
    info["description"] = (f"dim {q}, Killing signature {sig}, {kind}, "
                           f"{'central' if rad_central else 'non-central'} radical of dim {r}")
    return Identification.from_dict(info)


def _affine_split(alg: LieAlgebra, rtol: float, closure_tol: float) -> dict | None:
    """Name affine algebras L x| t(z) from their translation ideal T = {(0, b)} and linear-part algebra L."""
    q = alg.dim
    lin = alg.linear_part().reshape(q, -1)
    T = _null_basis(lin.T, rtol)                                   # coordinates of pure translations
    z = T.shape[1]
    if z == 0 or z == q:
        return None
    Lspan = _span_basis(lin.T, rtol)                             # linear parts span a subalgebra of gl(n)
    n = alg.matrix_size - 1
    dimL = Lspan.shape[1]
    eye = torch.eye(n, dtype=Lspan.dtype).reshape(-1) / n ** 0.5
    has_scaling = float((eye - Lspan @ (Lspan.T @ eye)).norm()) <= max(rtol, 1e-9)
    if z == n and dimL == n * n:
        return {"name": f"aff({n})", "aliases": [f"gl({n}) x| t({n})"]}
    if z == n and has_scaling and dimL == n * (n - 1) // 2 + 1:
        skew = Lspan - (eye[:, None] * (eye @ Lspan)[None, :])   # traceless parts must be antisymmetric
        Ls = skew.T.reshape(-1, n, n)
        if float((Ls + Ls.transpose(1, 2)).abs().max()) <= max(rtol, 1e-9):
            return {"name": f"sim({n})", "aliases": [f"(so({n}) + R) x| t({n})"]}
    L = LieAlgebra(Lspan.T.reshape(-1, n, n), name="linear part")
    try:
        lname = identify_algebra(L, rtol=rtol, closure_tol=closure_tol).name
    except NotClosedError:
        return None
    if lname is None:
        return None
    if lname == f"so({z})":
        return {"name": f"se({z})", "aliases": [f"so({z}) x| t({z})"]}
    if lname == f"so({z}) + R":
        return {"name": f"sim({z})", "aliases": [f"(so({z}) + R) x| t({z})"]}
    if lname == f"sl({z}) + R":
        return {"name": f"aff({z})", "aliases": [f"gl({z}) x| t({z})"]}
    return {"name": f"{lname} x| t({z})", "aliases": []}
