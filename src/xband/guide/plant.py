"""The simulated plant: a batch of point-mass engagements (stage API over ext/engage.pyx).

Each run holds an interceptor (p, v, achieved a, behind a first-order lag τ) and a target
with constant acceleration between calls; ``advance`` integrates with RK4 and finds the
closest approach inside the step (see xband.reference.engage for the equations).
"""
from __future__ import annotations

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
