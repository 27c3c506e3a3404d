"""EquivariantBasis.save / load: a versioned self-describing .npz, read back bitwise; damaged files refused."""
import json

import numpy as np
import pytest
import torch

import symlie as sl
from symlie.enforce.basis import BASIS_FORMAT, EquivariantBasis, equivariant_basis, invariant_basis
from symlie.lie.reps import parse_rep
from symlie.utils.errors import DataError, SymlieError

KEYS = {"format": "U", "version": "i", "group": "U", "algebra_name": "U", "group_affine": "b", "group_algebra": "f",
        "group_discrete": "f", "rep_in": "U", "rep_out": "U", "n_in": "i", "n_out": "i", "dim": "i", "rtol": "f",
        "seconds": "f", "basis": "f", "spectrum": "f", "spectrum_offsets": "i", "blocks": "i", "block_types": "U",
        "rank_rule": "U"}


def _cases():
    so3, o3 = sl.SO(3), sl.O(3)
    return {
        "SO(3) V*V": equivariant_basis(parse_rep("V*V", so3), parse_rep("V*V", so3)),
        "O(3) sums": equivariant_basis(parse_rep("2*V+Scalar", o3), parse_rep("V*V+Scalar", o3)),
        "Lorentz": equivariant_basis(parse_rep("V", sl.Lorentz()), parse_rep("T(2,1)", sl.Lorentz())),
        "invariant": invariant_basis(parse_rep("V*V", so3)),
    }


@pytest.mark.parametrize("name", list(_cases()))
def test_round_trip_is_bitwise_and_every_key_is_written(tmp_path, name):
    B = _cases()[name]
    path = B.save(tmp_path / "b")
    assert path == tmp_path / "b.npz"
    with np.load(path, allow_pickle=False) as z:
        assert set(z.files) == set(KEYS)
        for k, kind in KEYS.items():
            assert z[k].dtype.kind == kind, k
        assert str(z["format"]) == BASIS_FORMAT and int(z["version"]) == 1
        assert (int(z["n_in"]), int(z["n_out"]), int(z["dim"])) == (B.rep_in.size, B.rep_out.size, B.dim)
        assert str(z["group"]) == B.rep_out.group.name and json.loads(str(z["rank_rule"])) == {"rule": "rtol",
                                                                                             "rtol": B.rtol}
        assert z["basis"].shape == (B.rep_out.size * B.rep_in.size, B.dim)
    L = EquivariantBasis.load(path)
    assert torch.equal(L.basis, B.basis) and L.basis.dtype == torch.float64
    assert L.rep_in == B.rep_in and L.rep_out == B.rep_out and L.rep_out.group == B.rep_out.group
    assert (L.rtol, L.seconds, L.method, L.dim) == (B.rtol, B.seconds, B.method, B.dim)
    assert [(b.out_slice, b.in_slice, b.key) for b in L.blocks] == [(b.out_slice, b.in_slice, b.key) for b in B.blocks]
    assert all(torch.equal(a.Q, b.Q) for a, b in zip(L.blocks, B.blocks))
    assert list(L.spectra) == list(B.spectra)
    for k, ns in B.spectra.items():
        ls = L.spectra[k]
        assert torch.equal(ls.singular_values, ns.singular_values) and torch.equal(ls.basis, ns.basis)
        assert (ls.rank, ls.reason, ls.rule) == (ns.rank, ns.reason, ns.rule)
        for a, b in ((ls.threshold, ns.threshold), (ls.gap_ratio, ns.gap_ratio)):
            assert a == b or (np.isnan(a) and np.isnan(b))
    assert L.summary() == B.summary()
    W = torch.randn(B.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    assert torch.equal(L.matrices(W), B.matrices(W))


def _damage(tmp_path, change):
    B = _cases()["SO(3) V*V"]
    src = B.save(tmp_path / "good.npz")
    with np.load(src, allow_pickle=False) as z:
        d = {k: z[k] for k in z.files}
    change(d)
    np.savez(tmp_path / "bad.npz", **d)
    return tmp_path / "bad.npz"


@pytest.mark.parametrize("change, msg", [
    (lambda d: d.pop("basis"), "missing 'basis'"),
    (lambda d: d.update(basis=d["basis"].astype(np.float32)), "key 'basis': expected a float64 array of shape (81, 3)"),
    (lambda d: d.update(basis=d["basis"][:, :2]), "key 'basis': expected a float64 array of shape (81, 3)"),
    (lambda d: d.update(format=np.array("symlie.SymmetryResult")), "is a 'symlie.SymmetryResult' file"),
    (lambda d: d.update(version=np.array(2)), "newer symlie (format version 2"),
    (lambda d: d.update(n_in=np.array(-1)), "key 'n_in': expected an integer >= 1"),
    (lambda d: d.update(rtol=np.array("x")), "key 'rtol': expected a float"),
    (lambda d: d.update(block_types=np.array("{not json")), "not valid JSON"),
    (lambda d: d.update(block_types=np.array("[{}]")), "key 'block_types': expected a JSON list of block types"),
    (lambda d: d.update(blocks=d["blocks"] + 5), "key 'blocks'"),
    (lambda d: d.update(spectrum_offsets=d["spectrum_offsets"][::-1].copy()), "key 'spectrum_offsets'"),
    (lambda d: d.update(rep_in=np.array("V*V*V")), "key 'rep_in': 'V*V*V' has size 27"),
    (lambda d: d.update(rep_out=np.array("__import__('os')")), "key 'rep_out'"),
    (lambda d: d.update(group_discrete=np.zeros((1, 2, 2))), "key 'group_discrete'"),
    (lambda d: [d.pop(k) for k in ("format", "version", "group", "rep_in")], "no 'format' / 'version' header"),
])
def test_damaged_files_are_refused_naming_the_file_and_key(tmp_path, change, msg):
    bad = _damage(tmp_path, change)
    with pytest.raises(DataError, match="bad.npz") as e:
        EquivariantBasis.load(bad)
    assert msg in str(e.value)


def test_unreadable_files_are_refused(tmp_path):
    good = _cases()["SO(3) V*V"].save(tmp_path / "good.npz")
    raw = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(raw[: len(raw) // 2])
    np.savez(tmp_path / "obj.npz", basis=np.array([{"a": 1}], dtype=object))
    for name in ("trunc.npz", "obj.npz"):
        with pytest.raises(DataError, match=f"{name}': not a readable .npz file"):
            EquivariantBasis.load(tmp_path / name)
    with pytest.raises(DataError, match="does not exist"):
        EquivariantBasis.load(tmp_path / "missing.npz")
    with pytest.raises(SymlieError, match="does not exist; create it first"):
        _cases()["SO(3) V*V"].save(tmp_path / "nope" / "b.npz")
