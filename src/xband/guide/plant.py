"""The simulated plant: a batch of point-mass engagements (stage API over ext/engage.pyx).

Each run holds an interceptor (p, v, achieved a, behind a first-order lag τ) and a target
with constant acceleration between calls; ``advance`` integrates with RK4 and finds the
closest approach inside the step (see xband.reference.engage for the equations).
"""
from __future__ import annotations

import math

import numpy as np

from .. import _kernels
from ..errors import InputError


def collision_course(p_m, p_t, v_t, speed: float) -> np.ndarray:
    """Unit vector along which an interceptor at p_m flying at ``speed`` meets a target at
    p_t with constant velocity v_t: the smallest t > 0 with |p_t + v_t t − p_m| = speed·t.
    Falls back to the line of sight when no intercept exists (target too fast)."""
    r = np.asarray(p_t, float) - np.asarray(p_m, float)
    v = np.asarray(v_t, float)
    a = v @ v - speed * speed
    b = 2.0 * (r @ v)
    c = r @ r
    t = None
    if abs(a) < 1e-12:
        t = -c / b if b < 0 else None
    else:
        disc = b * b - 4 * a * c
        if disc >= 0:
            roots = sorted(((-b - np.sqrt(disc)) / (2 * a), (-b + np.sqrt(disc)) / (2 * a)))
            pos = [x for x in roots if x > 0]
            t = pos[0] if pos else None
    aim = r + v * t if t is not None else r
    nrm = np.linalg.norm(aim)
    if nrm == 0:
        raise InputError("collision_course: interceptor and target start at the same point")
    return aim / nrm


def rotate_about_z(u: np.ndarray, angle: float) -> np.ndarray:
    """Rotate vector u by ``angle`` (rad) about the vertical, clockwise seen from above
    (the sense in which azimuth grows)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([c * u[0] + s * u[1], -s * u[0] + c * u[1], u[2]])


class Plant:
    """n engagements: ``m`` (n, 9) interceptor (p, v, a), ``tg`` (n, 9) target (p, v, a)."""

    def __init__(self, m: np.ndarray, tg: np.ndarray, tau: float):
        self.m = np.ascontiguousarray(m, np.float64).reshape(-1, 9).copy()
        self.tg = np.ascontiguousarray(tg, np.float64).reshape(-1, 9).copy()
        if self.m.shape != self.tg.shape:
            raise InputError(f"Plant: interceptor {self.m.shape} and target {self.tg.shape} "
                             "batches differ")
        if not np.all(np.isfinite(self.m)) or not np.all(np.isfinite(self.tg)):
            raise InputError("Plant: non-finite initial state")
        if not tau >= 0:
            raise InputError(f"Plant: time constant must be >= 0, got {tau!r}")
        n = self.m.shape[0]
        self.tau = float(tau)
        self.done = np.zeros(n, np.uint8)
        self.cpa = np.full((n, 2), np.nan)

    @property
    def closing(self) -> np.ndarray:
        """True where the range is decreasing (r·ṙ < 0)."""
        r = self.tg[:, 0:3] - self.m[:, 0:3]
        v = self.tg[:, 3:6] - self.m[:, 3:6]
        return np.einsum("ij,ij->i", r, v) < 0.0

    def advance(self, a_cmd: np.ndarray, dt: float, nsteps: int, t0: float) -> None:
        """Hold a_cmd (n, 3) for nsteps steps of dt seconds starting at t0."""
        a_cmd = np.ascontiguousarray(np.broadcast_to(a_cmd, self.m[:, 6:9].shape), np.float64)
        if not np.all(np.isfinite(a_cmd)):
            raise InputError("Plant.advance: non-finite acceleration command")
        _kernels.get("engage").propagate(self.m, self.tg, a_cmd, self.tau, float(dt),
                                         int(nsteps), float(t0), self.done, self.cpa)


class LagPlant:
    """One engagement's plant with an n-th-order binomial flight-control lag, optional
    gravity and a weaving (or constant-acceleration) target: the plant of the batched
    stepper (``flyout.hold``, RK4) behind the interface of :class:`Plant` (n = 1).

    ``m`` (1, 9) is the interceptor (p, v, a) with ``a`` its kinematic achieved
    acceleration (the lag's output less the gravity compensation); ``tg`` (1, 9) the target
    (p, v, a). Between calls the target flies ``weave`` = (A (3,), t_start, ω, φ) when given
    (a_T = A·sin(ω(t − t_start) + φ) from t_start on), else the constant acceleration
    ``tg[0, 6:9]``, which the caller may change between calls. With ``gravity`` the command
    gets +g on z (the autopilot compensates it) and the body −g."""

    def __init__(self, m: np.ndarray, tg: np.ndarray, tau: float, dt: float, order: int = 1,
                 gravity: bool = False, weave=None):
        from .engagement import G0, lag_matrices

        self.m = np.ascontiguousarray(m, np.float64).reshape(1, 9).copy()
        self.tg = np.ascontiguousarray(tg, np.float64).reshape(1, 9).copy()
        if not np.all(np.isfinite(self.m)) or not np.all(np.isfinite(self.tg)):
            raise InputError("LagPlant: non-finite initial state")
        self.tau, self.order, self.dt = float(tau), int(order), float(dt)
        self.grav = G0 if gravity else 0.0
        self.phi, self.gam, self.gg = lag_matrices(self.tau, self.order, self.dt, "rk4")
        self.M = np.zeros((6 + 3 * self.order, 1))
        self.M[0:6, 0] = self.m[0, 0:6]
        for k in range(self.order):                   # every lag stage at the initial a
            self.M[6 + 3 * k:9 + 3 * k, 0] = self.m[0, 6:9] + [0.0, 0.0, self.grav]
        self.T = np.zeros((6, 1))
        self.AC = np.zeros((3, 1))
        self.MAN = np.zeros((6, 1))
        self.weave = None
        if weave is not None:
            w = np.asarray(weave, np.float64).reshape(6)
            if not np.all(np.isfinite(w)):
                raise InputError("LagPlant: non-finite weave parameters")
            self.weave = w
            self.MAN[:, 0] = w
            self.tg[0, 6:9] = self._weave_acc(0.0)
        self.status = np.zeros(1, np.uint8)
        self.t_cpa = np.zeros(1)
        self.miss = np.zeros(1)
        self.stats = np.zeros((3, 1))
        self.done = np.zeros(1, np.uint8)
        self.cpa = np.full((1, 2), np.nan)

    def _weave_acc(self, t: float) -> np.ndarray:
        A, ts, w, ph = self.weave[0:3], self.weave[3], self.weave[4], self.weave[5]
        return A * math.sin(w * (t - ts) + ph) if t - ts >= -1e-6 * self.dt else np.zeros(3)

    @property
    def closing(self) -> np.ndarray:
        r = self.tg[:, 0:3] - self.m[:, 0:3]
        v = self.tg[:, 3:6] - self.m[:, 3:6]
        return np.einsum("ij,ij->i", r, v) < 0.0

    def advance(self, a_cmd: np.ndarray, dt: float, nsteps: int, t0: float) -> None:
        """Hold a_cmd (1, 3) for nsteps steps of dt seconds starting at t0 (on the grid)."""
        a_cmd = np.asarray(a_cmd, np.float64).reshape(3)
        if not np.all(np.isfinite(a_cmd)):
            raise InputError("LagPlant.advance: non-finite acceleration command")
        if abs(dt - self.dt) > 1e-12 * self.dt:
            raise InputError(f"LagPlant.advance: dt {dt} differs from the plant's {self.dt}")
        if self.done[0] or nsteps <= 0:
            return
        k0 = int(round(t0 / self.dt))
        self.T[:, 0] = self.tg[0, 0:6]
        if self.weave is None:
            # constant acceleration over the call: a step that started before it
            self.MAN[0:3, 0] = self.tg[0, 6:9]
            self.MAN[3:6, 0] = (k0 * self.dt - 1.0, 0.0, 0.0)
            kind = 1 if np.any(self.tg[0, 6:9]) else 0
        else:
            kind = 2
        self.AC[:, 0] = a_cmd
        self.AC[2, 0] += self.grav
        _kernels.get("flyout").hold(self.M, self.T, self.AC, self.MAN, self.phi, self.gam,
                                    self.gg, self.grav, kind, 1, self.dt, k0, int(nsteps),
                                    self.status, self.t_cpa, self.miss, self.stats)
        ach = 6 + 3 * (self.order - 1)
        self.m[0, 0:6] = self.M[0:6, 0]
        self.m[0, 6:9] = self.M[ach:ach + 3, 0]
        self.m[0, 8] -= self.grav
        self.tg[0, 0:6] = self.T[:, 0]
        if self.weave is not None:
            self.tg[0, 6:9] = self._weave_acc((k0 + nsteps) * self.dt)
        if self.status[0] == 1:
            self.done[0] = 1
            self.cpa[0] = (self.t_cpa[0], self.miss[0])
