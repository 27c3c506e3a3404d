"""EMLP's double spring pendulum (Finzi, Welling & Wilson 2021), the data of Otto et al.'s experiment E2, made here.

Two unit masses at x1, x2 in R^3 hang from the origin on springs (rest length 1; stiffness 1 for the first, 2 for
the second: the second term of EMLP's Hamiltonian has no factor 1/2) under gravity g = 1 along -z:

    H(z) = 1/2 |p1|^2 + 1/2 |p2|^2 + 1/2 (|x1| - 1)^2 + (|x1 - x2| - 1)^2 + x1_z + x2_z,

with the state z = (x1, x2, p1, p2) in R^12 and Hamilton's equations x' = dH/dp = p, p' = -dH/dx
(:meth:`DoubleSpringPendulum.vector_field`, exact, in torch). The field is equivariant under rotations about the
z axis acting on the four 3-vectors at once (``pendulum_candidates("so2")``), and under nothing more of so(3) or
se(3): gravity breaks the other rotations and the spring to the origin breaks translations.

Generation (EMLP's ``DoubleSpringPendulum`` with (n_systems, chunk_len, dt, integration_time) = (1500, 5, 0.2, 30)):
initial conditions x1 = (0, 0, -1.5) + 0.2 N(0, I3), x2 = (0, 0, -3) + 0.2 N(0, I3), p = 0.4 N(0, I6) drawn from
``numpy.random.default_rng(seed)``; every system integrated on [0, integration_time) at the dt grid (150 states) by
scipy's DOP853 (all systems as one vectorised ODE; EMLP used an adaptive solver at tolerance 1e-4, here rtol and
atol default to 1e-10, so the data are the exact flow to about 1e-9); the trajectory is cut into 30 chunks of 5
consecutive states and one chunk per system is kept at random (the same generator). Nothing is downloaded.

The split (:meth:`DoubleSpringPendulum.split`): a permutation from ``numpy.random.default_rng(42 + seed)`` (EMLP's
``PRNGKey(42 + seed)`` with numpy's generator), then 500 train / 500 validation / 500 test chunks; E2 trains on the
first n_traj of the training part.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..lie.algebra import LieAlgebra, se, so
from ..lie.groups import Group, as_group
from ..lie.reps import Rep, V
from ..utils.errors import DataError, SymlieError
from ..utils.validation import as_tensor, check_int

__all__ = ["DoubleSpringPendulum", "pendulum_candidates", "PENDULUM_CANDIDATES"]

DT = torch.float64
#: the candidate groups of E2 (framework.md section 7.3)
PENDULUM_CANDIDATES = ("so3", "se3", "so2")


def pendulum_candidates(name: str) -> LieAlgebra:
    """A candidate algebra of E2 acting on the state z = (x1, x2, p1, p2) in R^12, Frobenius-orthonormal:

    * ``"so3"``: so(3) block-diagonally on the four 3-vectors (3 generators, 12 x 12);
    * ``"se3"``: so(3) as above plus translations of x1 and x2 together (momenta do not translate): an affine
      algebra of 6 homogeneous 13 x 13 generators (acting by ``sl.Point``; its linear part ``sl.V`` on velocities);
    * ``"so2"``: the first so(3) generator only, E_01 - E_10 on each 3-vector: rotations about z, the true symmetry.
    """
    if name == "so3":
        return so(3).copies(4, name="so(3) on 4 three-vectors").orthonormalize()
    if name == "se3":
        return se(3).copies(4, translate=[True, True, False, False],
                            name="se(3) on (x1, x2), so(3) on (p1, p2)").orthonormalize()
    if name == "so2":
        base = so(3).copies(4).orthonormalize()
        return base.subalgebra(torch.eye(3, dtype=DT)[:1], name="so(2) about z on 4 three-vectors")
    raise SymlieError(f"name: expected one of {', '.join(map(repr, PENDULUM_CANDIDATES))}, got {name!r}")


class DoubleSpringPendulum:
    """The E2 data set: one chunk of ``chunk_len`` states per system (see the module docstring).

    Args:
        n_systems: number of systems (chunks), default 1500.
        chunk_len, dt, integration_time: chunk length in states, the sampling step and the horizon: each system is
            sampled at t = 0, dt, ..., below integration_time (round(integration_time / dt) states) and cut into
            that many // chunk_len chunks.
        seed: the initial conditions and the chunk choice (``numpy.random.default_rng(seed)``).
        rtol, atol: DOP853's tolerances (all systems integrated as one vectorised system).

    Attributes:
        chunks: (n_systems, chunk_len, 12) float64 states; times: (chunk_len,) the chunk's relative times
            0, dt, ...; t0: (n_systems,) the absolute start time of each kept chunk; chunk_index: (n_systems,)
            which chunk was kept; z0: (n_systems, 12) the initial conditions at t = 0.
        group, rep: the true symmetry, rotations about z (``pendulum_candidates("so2")``) acting by ``rep`` on
            states and velocities alike: ``vector_field(rep.act(g, z)) = rep.act(g, vector_field(z))``.
    """

    n_state = 12

    def __init__(self, n_systems: int = 1500, *, chunk_len: int = 5, dt: float = 0.2, integration_time: float = 30.0,
                 seed: int = 0, rtol: float = 1e-10, atol: float = 1e-10):
        from scipy.integrate import solve_ivp

        self.n_systems = check_int(n_systems, "n_systems", 1)
        self.chunk_len = check_int(chunk_len, "chunk_len", 2)
        for name, v in (("dt", dt), ("integration_time", integration_time), ("rtol", rtol), ("atol", atol)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v > 0):
                raise SymlieError(f"{name}: expected a finite number > 0, got {v!r}")
        self.dt, self.integration_time, self.seed = float(dt), float(integration_time), check_int(seed, "seed", 0)
        n_states = int(round(self.integration_time / self.dt))
        n_chunks = n_states // self.chunk_len
        if n_chunks < 1:
            raise SymlieError(f"chunk_len: {self.chunk_len} states do not fit in integration_time / dt = {n_states} "
                              f"states")
        self.n_chunks = n_chunks
        rng = np.random.default_rng(self.seed)
        N = self.n_systems
        x1 = np.array([0.0, 0.0, -1.5]) + 0.2 * rng.standard_normal((N, 3))
        x2 = np.array([0.0, 0.0, -3.0]) + 0.2 * rng.standard_normal((N, 3))
        p = 0.4 * rng.standard_normal((N, 6))
        z0 = np.concatenate([x1, x2, p], axis=1)
        pick = rng.integers(n_chunks, size=N)
        t_eval = self.dt * np.arange(n_states)

        def rhs(_t, y):
            return self.vector_field(torch.from_numpy(y.reshape(N, 12))).numpy().reshape(-1)

        sol = solve_ivp(rhs, (0.0, float(t_eval[-1])), z0.reshape(-1), method="DOP853", t_eval=t_eval, rtol=rtol,
                        atol=atol)
        if not sol.success or sol.y.shape[1] != n_states or not np.all(np.isfinite(sol.y)):
            raise DataError(f"DoubleSpringPendulum: the integration failed ({sol.message})")
        traj = sol.y.reshape(N, 12, n_states).transpose(0, 2, 1)           # (N, n_states, 12)
        idx = pick[:, None] * self.chunk_len + np.arange(self.chunk_len)[None, :]
        self.chunks = torch.from_numpy(np.ascontiguousarray(np.take_along_axis(traj, idx[:, :, None], axis=1)))
        self.times = torch.arange(self.chunk_len, dtype=DT) * self.dt
        self.t0 = torch.from_numpy(t_eval[pick * self.chunk_len].copy())
        self.chunk_index = torch.from_numpy(pick.astype(np.int64))
        self.z0 = torch.from_numpy(z0)
        self.group: Group = as_group(pendulum_candidates("so2"))
        self.rep: Rep = V(self.group)

    # ------------------------------------------------------------------------------------------ the physics
    @staticmethod
    def _state(z, name: str = "z") -> torch.Tensor:
        t = as_tensor(z, name)
        if t.ndim < 1 or t.shape[-1] != 12:
            raise SymlieError(f"{name}: expected states (..., 12) = (x1, x2, p1, p2), got shape {tuple(t.shape)}")
        return t

    @classmethod
    def hamiltonian(cls, z) -> torch.Tensor:
        """H(z) (...,) for states z (..., 12) (differentiable, z's dtype)."""
        z = cls._state(z)
        x1, x2, p1, p2 = z[..., 0:3], z[..., 3:6], z[..., 6:9], z[..., 9:12]
        r1 = torch.linalg.vector_norm(x1, dim=-1)
        r12 = torch.linalg.vector_norm(x1 - x2, dim=-1)
        return (0.5 * (p1 ** 2).sum(-1) + 0.5 * (p2 ** 2).sum(-1) + 0.5 * (r1 - 1) ** 2 + (r12 - 1) ** 2
                + x1[..., 2] + x2[..., 2])

    @classmethod
    def vector_field(cls, z) -> torch.Tensor:
        """Hamilton's equations z' = (p1, p2, -dH/dx1, -dH/dx2) (..., 12), exact and differentiable (z's dtype)."""
        z = cls._state(z)
        x1, x2, p = z[..., 0:3], z[..., 3:6], z[..., 6:12]
        d = x1 - x2
        r1 = torch.linalg.vector_norm(x1, dim=-1, keepdim=True)
        r12 = torch.linalg.vector_norm(d, dim=-1, keepdim=True)
        ez = torch.zeros_like(x1)
        ez[..., 2] = 1.0
        spring = 2.0 * (r12 - 1) * d / r12
        dH1 = (r1 - 1) * x1 / r1 + spring + ez
        dH2 = -spring + ez
        return torch.cat([p, -dH1, -dH2], -1)

    # ------------------------------------------------------------------------------------------ the protocol
    def split(self, seed: int = 0, sizes: tuple[int, int, int] = (500, 500, 500)
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(train, val, test) chunks (n_i, chunk_len, 12) from the permutation of
        ``numpy.random.default_rng(42 + seed)``; ``sizes`` must fit in n_systems."""
        seed = check_int(seed, "seed", 0)
        if not (isinstance(sizes, (tuple, list)) and len(sizes) == 3):
            raise SymlieError(f"sizes: expected three sizes (train, val, test), got {sizes!r}")
        n = [check_int(s, "sizes", 1) for s in sizes]
        if sum(n) > self.n_systems:
            raise SymlieError(f"sizes: {n} need {sum(n)} chunks, the data set has {self.n_systems}")
        perm = torch.from_numpy(np.random.default_rng(42 + seed).permutation(self.n_systems))
        a, b = n[0], n[0] + n[1]
        return self.chunks[perm[:a]], self.chunks[perm[a:b]], self.chunks[perm[b:b + n[2]]]

    def __len__(self) -> int:
        return self.n_systems

    def __repr__(self) -> str:
        return (f"DoubleSpringPendulum(n_systems={self.n_systems}, chunk_len={self.chunk_len}, dt={self.dt}, "
                f"integration_time={self.integration_time}, seed={self.seed})")
