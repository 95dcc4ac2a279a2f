"""Point-mass engagements flown in batches by the closed-loop stepper (ext/flyout.pyx).

``Salvo`` is the plan object: it validates the configuration, precomputes the one-step
propagation of the flight-control lag for the chosen integrator (``lag_matrices``), holds
n engagements as structure of arrays and advances them in one kernel call per chunk of
steps. ``simulate(Engagement(...))`` flies one engagement (with history, for plots and
the CLI); Monte Carlo (xband.guide.montecarlo) flies thousands per call.

End status of a run (``STATUS``): ``intercept`` (closest approach passed; miss and time
interpolated inside the step), ``receding`` (range opening at the start: target behind or
flying away faster), ``no_closing`` (zero closing velocity at the start, r·v = 0),
``timeout`` (time limit reached first; the miss is then the range at the limit). Nothing
hangs and no result is NaN.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .. import _kernels
from ..errors import ConfigError, InputError
from .laws import check_law
from .plant import collision_course, rotate_about_z

G0 = 9.80665
STATUS = {0: "flying", 1: "intercept", 2: "receding", 3: "timeout", 4: "no_closing"}
MANEUVERS = {"none": 0, "step": 1, "weave": 2}
INTEGRATORS = {"euler": 0, "rk4": 1}
MAX_LAG_ORDER = 8


def lag_matrices(tau: float, order: int, dt: float, integrator: str = "rk4"):
    """One-step propagation (Φ, Γ, Γ_g) of s = (p, v, a_1..a_n) on one axis under the
    binomial lag 1/(1 + sτ/n)^n with the command held: RK4 is exactly the 4th-order Taylor
    polynomial of the linear system, Euler the first-order one (see xband.reference.flyout).
    τ = 0 (order 1 only): no lag, a = a_c."""
    if integrator not in INTEGRATORS:
        raise ConfigError(f"integrator: expected one of {', '.join(INTEGRATORS)}, "
                          f"got {integrator!r}")
    if not (isinstance(order, (int, np.integer)) and 1 <= order <= MAX_LAG_ORDER):
        raise ConfigError(f"lag_order: expected an integer in [1, {MAX_LAG_ORDER}], got {order!r}")
    if not (tau >= 0 and math.isfinite(tau)):
        raise ConfigError(f"lag: time constant must be finite and >= 0, got {tau!r}")
    if not (dt > 0 and math.isfinite(dt)):
        raise ConfigError(f"dt: must be > 0, got {dt!r}")
    d = order + 2
    A = np.zeros((d, d))
    B = np.zeros(d)
    Bg = np.zeros(d)
    A[0, 1] = 1.0
    A[1, d - 1] = 1.0
    Bg[1] = 1.0
    if tau == 0.0:
        if order != 1:
            raise ConfigError("lag_order: must be 1 when the lag time constant is 0")
        phi = np.eye(d)
        phi[0, 1] = dt
        phi[2, 2] = 0.0
        q = 0.5 * dt * dt if integrator == "rk4" else 0.0   # RK4 is exact here
        return phi, np.array([q, dt, 1.0]), np.array([q, dt, 0.0])
    w = order / tau
    for k in range(order):
        A[2 + k, 2 + k] = -w
        if k:
            A[2 + k, 1 + k] = w
    B[2] = w
    hA = dt * A
    terms = 5 if integrator == "rk4" else 2
    phi = np.eye(d)
    P = np.eye(d)
    S = np.zeros((d, d))               # Σ h^k A^{k−1}/k!
    fact = 1.0
    for k in range(1, terms):
        fact *= k
        S = S + dt * P / fact          # P = (hA)^{k−1}
        P = P @ hA
        phi = phi + P / fact
    return phi, np.ascontiguousarray(S @ B), np.ascontiguousarray(S @ Bg)


@dataclass(frozen=True)
class Guidance:
    """What every run of a salvo shares: law, gains, limits, lag, rates, integrator."""

    law: str = "tpn"
    nav_ratio: float = 4.0
    accel_limit: float = 300.0
    lag: float = 0.0
    lag_order: int = 1
    integrator: str = "rk4"
    gravity: bool = False
    plant_hz: float = 1000.0
    guidance_hz: float = 1000.0
    maneuver: str = "none"

    def __post_init__(self):
        check_law(self.law, self.nav_ratio, self.accel_limit, self.lag)
        lag_matrices(self.lag, self.lag_order, 1.0 / self.plant_hz if self.plant_hz > 0 else
                     float("nan"), self.integrator)
        if self.maneuver not in MANEUVERS:
            raise ConfigError(f"maneuver: expected one of {', '.join(MANEUVERS)}, "
                              f"got {self.maneuver!r}")
        ratio = self.plant_hz / self.guidance_hz if self.guidance_hz > 0 else 0.0
        if not (ratio >= 1 and abs(ratio - round(ratio)) < 1e-9):
            raise ConfigError(f"guidance_hz: plant_hz ({self.plant_hz}) must be an integer "
                              f"multiple of it, got {self.guidance_hz}")

    @property
    def dt(self) -> float:
        return 1.0 / self.plant_hz

    @property
    def g_every(self) -> int:
        return int(round(self.plant_hz / self.guidance_hz))


class Salvo:
    """n engagements under one ``Guidance``. Initial states (n, 3) each (with gravity the
    lag starts trimmed: its stages hold +g on z); ``man`` (n, 6)
    the target maneuver (amplitude vector, start time, ω, phase; see
    xband.reference.flyout). ``run`` advances them; results in ``status``, ``t_cpa``,
    ``miss``, ``stats`` (peak |a_c|, saturated commands, ∫|a_c|² dt)."""

    def __init__(self, g: Guidance, m_pos, m_vel, t_pos, t_vel, man=None):
        self.g = g
        arrs = []
        for name, a in (("m_pos", m_pos), ("m_vel", m_vel), ("t_pos", t_pos), ("t_vel", t_vel)):
            a = np.asarray(a, np.float64).reshape(-1, 3)
            if not np.all(np.isfinite(a)):
                raise InputError(f"{name}: non-finite values")
            arrs.append(a)
        n = arrs[0].shape[0]
        if any(a.shape[0] != n for a in arrs):
            raise InputError(f"Salvo: state arrays differ in length {[a.shape for a in arrs]}")
        man = np.zeros((n, 6)) if man is None else np.asarray(man, np.float64).reshape(n, 6)
        if not np.all(np.isfinite(man)):
            raise InputError("man: non-finite maneuver parameters")
        self.n = n
        self.phi, self.gam, self.gg = lag_matrices(g.lag, g.lag_order, g.dt, g.integrator)
        self.M = np.zeros((6 + 3 * g.lag_order, n))
        self.M[0:3], self.M[3:6] = arrs[0].T, arrs[1].T
        if g.gravity:
            # launched trimmed: every lag stage already holds the autopilot's +g on z
            self.M[8::3] = G0
        self.T = np.ascontiguousarray(np.concatenate([arrs[2].T, arrs[3].T]))
        self.AC = np.zeros((3, n))
        self.MAN = np.ascontiguousarray(man.T)
        self.status = np.zeros(n, np.uint8)
        self.t_cpa = np.zeros(n)
        self.miss = np.zeros(n)
        self.stats = np.zeros((3, n))
        self.k = 0
        r = self.T[0:3] - self.M[0:3]
        v = self.T[3:6] - self.M[3:6]
        f = np.einsum("ij,ij->j", r, v)
        rng = np.sqrt(np.einsum("ij,ij->j", r, r))
        self.status[f > 0.0] = 2
        self.status[f == 0.0] = 4
        self.miss[f >= 0.0] = rng[f >= 0.0]

    @property
    def t(self) -> float:
        return self.k * self.g.dt

    @property
    def a_ach(self) -> np.ndarray:
        o = 6 + 3 * (self.g.lag_order - 1)
        a = self.M[o:o + 3].T.copy()
        if self.g.gravity:                 # kinematic: less the autopilot's +g
            a[:, 2] -= G0
        return a

    def run(self, nsteps: int) -> None:
        """Advance the flying runs by nsteps plant steps (fewer if all end first)."""
        g = self.g
        _kernels.get("flyout").fly(
            self.M, self.T, self.AC, self.MAN, self.phi, self.gam, self.gg,
            check_law(g.law, g.nav_ratio, g.accel_limit, g.lag), float(g.nav_ratio),
            float(g.lag), float(g.accel_limit), G0 if g.gravity else 0.0,
            MANEUVERS[g.maneuver], INTEGRATORS[g.integrator], g.g_every, g.dt, int(self.k),
            int(nsteps), self.status, self.t_cpa, self.miss, self.stats)
        self.k += int(nsteps)

    def finish(self, duration: float) -> None:
        """Run to the time limit; runs still flying then end as ``timeout``."""
        k_end = int(math.ceil(duration * self.g.plant_hz - 1e-9))
        if self.k < k_end:
            self.run(k_end - self.k)
        self.timeout()

    def timeout(self) -> None:
        fl = self.status == 0
        if fl.any():
            r = self.T[0:3, fl] - self.M[0:3, fl]
            self.miss[fl] = np.sqrt(np.einsum("ij,ij->j", r, r))
            self.t_cpa[fl] = self.t
            self.status[fl] = 3


@dataclass(frozen=True)
class Engagement:
    """One study case (the ``xband engage`` flags): interceptor at the origin, target at
    ``range`` due north flying head-on toward it at ``target_speed``; the interceptor is
    launched on the collision course turned by ``heading_error`` (rad, about the vertical);
    the target maneuver ``target_accel`` (m/s²) is normal to the initial line of sight
    (east), a step from ``maneuver_start`` or a weave of period ``weave_period``.
    Alternatively give explicit states ``m_pos, m_vel, t_pos, t_vel`` and ``target_accel_vec``."""

    guidance: Guidance = field(default_factory=Guidance)
    speed: float = 900.0
    target_speed: float = 300.0
    range: float = 12000.0
    heading_error: float = 0.0
    target_accel: float = 0.0
    maneuver_start: float = 0.0
    weave_period: float = 4.0
    weave_phase: float = 0.0
    duration: float = 60.0
    states: tuple | None = None          # (m_pos, m_vel, t_pos, t_vel) overrides the geometry
    target_accel_vec: tuple | None = None

    def initial(self):
        """(m_pos, m_vel, t_pos, t_vel, man) arrays of this engagement."""
        for name in ("speed", "range", "duration", "weave_period"):
            v = getattr(self, name)
            if not (v > 0 and math.isfinite(v)):
                raise ConfigError(f"{name}: must be > 0, got {v!r}")
        if not (self.target_speed >= 0 and math.isfinite(self.target_speed)):
            raise ConfigError(f"target_speed: must be >= 0, got {self.target_speed!r}")
        if not (abs(self.heading_error) <= math.pi and math.isfinite(self.heading_error)):
            raise ConfigError(f"heading_error: must be in [-pi, pi] rad, got {self.heading_error!r}")
        if not math.isfinite(self.target_accel):
            raise ConfigError(f"target_accel: must be finite, got {self.target_accel!r}")
        if self.states is not None:
            m_pos, m_vel, t_pos, t_vel = (np.asarray(s, float) for s in self.states)
        else:
            m_pos, t_pos = np.zeros(3), np.array([0.0, self.range, 0.0])
            t_vel = np.array([0.0, -self.target_speed, 0.0])
            u = collision_course(m_pos, t_pos, t_vel, self.speed)
            m_vel = self.speed * rotate_about_z(u, self.heading_error)
        amp = (np.asarray(self.target_accel_vec, float) if self.target_accel_vec is not None
               else np.array([self.target_accel, 0.0, 0.0]))
        w = 2 * math.pi / self.weave_period
        man = np.r_[amp, self.maneuver_start, w, self.weave_phase]
        return m_pos, m_vel, t_pos, t_vel, man


@dataclass
class EngagementResult:
    status: str
    miss_distance_m: float
    t_closest_s: float
    max_accel_cmd: float
    saturated: bool
    saturated_commands: int
    control_effort: float
    history: dict = field(repr=False)

    def to_json(self) -> dict:
        return {"status": self.status, "miss_distance_m": self.miss_distance_m,
                "t_closest_s": self.t_closest_s, "max_accel_cmd": self.max_accel_cmd,
                "saturated": self.saturated, "saturated_commands": self.saturated_commands,
                "control_effort": self.control_effort}


def simulate(eng: Engagement, record_every: int | None = None) -> EngagementResult:
    """Fly one engagement on truth; the history holds a sample every ``record_every``
    plant steps (default: every guidance command, at most ~5000 samples)."""
    g = eng.guidance
    m_pos, m_vel, t_pos, t_vel, man = eng.initial()
    s = Salvo(g, m_pos, m_vel, t_pos, t_vel, man)
    k_end = int(math.ceil(eng.duration * g.plant_hz - 1e-9))
    if record_every is None:
        record_every = g.g_every * max(1, k_end // g.g_every // 5000)
    hist = {k: [] for k in ("t", "m_pos", "t_pos", "m_vel", "t_vel", "a_cmd", "a_ach",
                            "range")}

    def rec_state():
        hist["t"].append(s.t)
        hist["m_pos"].append(s.M[0:3, 0].copy())
        hist["t_pos"].append(s.T[0:3, 0].copy())
        hist["m_vel"].append(s.M[3:6, 0].copy())
        hist["t_vel"].append(s.T[3:6, 0].copy())
        hist["a_ach"].append(s.a_ach[0].copy())
        hist["range"].append(float(np.linalg.norm(s.T[0:3, 0] - s.M[0:3, 0])))

    def rec_cmd():                      # the command held from the last recorded time on
        a = s.AC[:, 0].copy()
        if g.gravity:
            a[2] -= G0
        hist["a_cmd"].append(a)

    while s.status[0] == 0 and s.k < k_end:
        rec_state()
        s.run(min(record_every, k_end - s.k))
        rec_cmd()
    if not hist["t"] or s.status[0] == 0:
        rec_state()
        hist["a_cmd"].append(hist["a_cmd"][-1] if hist["a_cmd"] else np.zeros(3))
    s.timeout()
    history = {k: np.array(v) for k, v in hist.items()}
    return EngagementResult(
        status=STATUS[int(s.status[0])], miss_distance_m=float(s.miss[0]),
        t_closest_s=float(s.t_cpa[0]), max_accel_cmd=float(s.stats[0, 0]),
        saturated=bool(s.stats[1, 0] > 0), saturated_commands=int(s.stats[1, 0]),
        control_effort=float(s.stats[2, 0]), history=history)
