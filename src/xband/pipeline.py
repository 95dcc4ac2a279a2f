"""The closed loop: scene → measurements → tracker → guidance → plant, at three rates.

``run(scenario)`` simulates one engagement on an integer clock of plant steps
(1/plant_hz): a radar scan every plant_hz/radar_hz steps, a guidance command every
plant_hz/guidance_hz steps, a target maneuver at its start time (rounded to the plant
grid); between events the plant integrates with the command held. Every stage is timed
(``RunResult.stages``) and, if a recorder is given, every record crossing a stage boundary
is written to it (detections, tracks, commands, plant state), flushed once per scan.

The loop is two separable halves that exchange only wire records, so that the pure
simulation and the hardware-in-the-loop run (``xband.hil.loop``, with the plant half in
the device emulator ``xband.hil.emulator`` on the far end of a serial link) drive the very
same code:

* :class:`Engagement` — the **plant side**: target truth, the interceptor plant, the
  radar's measurement model and the event clock. At each event it yields the scan's
  ``Detections`` (when a scan is due) and the bodies' ``PlantState`` (body 0 the
  interceptor, 1 the engaged target); it takes the command and advances to the next event.
* :class:`Host` — the **host side**: tracker, designation, guidance. ``on_scan`` takes a
  scan's detections and the target truth (the operator's cue for designation),
  ``on_guidance`` the bodies' state and returns the acceleration command; it keeps the
  history, the recording and the summary.

What guidance sees (``[guidance] on``):
* ``truth`` — the designated target's true position, velocity and acceleration;
* ``noisy`` — the latest radar measurement of it converted to Cartesian position, with the
  true velocity plus N(0, σ_ṙ²) per axis, extrapolated at constant velocity between scans;
* ``track`` — the designated confirmed track, extrapolated at constant velocity between
  scans, with the track's acceleration estimate (IMM with a CA model) for apn and ogl.
  The designation is made once a track is confirmed: the confirmed track nearest
  the designated target (an operator's cue); it is repeated if that track is deleted.
Until guidance has an estimate the interceptor coasts (zero command).

The radar observes the targets (not the cooperative interceptor). End status:
``intercept`` (closest approach passed), ``timeout`` (duration reached first),
``receding`` (the geometry never closes), ``target_lost`` (the engaged target's recorded
trajectory ended or has a gap).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _kernels
from .config import Scenario
from .guide import laws
from .guide.plant import LagPlant, Plant, collision_course, rotate_about_z
from .radar.measure import MeasurementModel, cart_of
from .timing import StageTimer
from .track.tracker import Tracker
from .types import Commands, Detections, PlantState, Tracks

__all__ = ["RunResult", "Engagement", "Host", "Clock", "rngs", "run"]


@dataclass
class RunResult:
    status: str
    miss_distance_m: float
    t_closest_s: float
    backend: str
    stages: dict
    summary: dict
    history: dict = field(repr=False)
    timer: StageTimer = field(repr=False)

    def to_json(self) -> dict:
        return {"status": self.status, "miss_distance_m": self.miss_distance_m,
                "t_closest_s": self.t_closest_s, "backend": self.backend,
                "stages": self.stages, **self.summary}


def make_sensor(radar):
    """The scan sensor of a ``[radar]`` table: the I/Q chain (``model = "iq"``, an
    xband.radar.sensor.IQSensor) or truth plus noise (``"truth"``, MeasurementModel)."""
    if radar.model == "truth":
        return MeasurementModel(radar)
    from .detect.chain import DetectConfig
    from .radar.params import RadarParams
    from .radar.sensor import IQSensor

    params = {"demo": RadarParams.demo, "small": RadarParams.small,
              "full": RadarParams}[radar.cpi]()
    return IQSensor(params, DetectConfig(v_min_mps=radar.v_min_mps), pointing="first",
                    swerling=radar.swerling, velocity_gate=radar.velocity_gate)


@dataclass(frozen=True)
class Clock:
    """The integer event clock of a scenario: plant step ``dt``, scan every ``step_r``
    steps, guidance every ``step_g`` steps, ``k_end`` steps in all."""

    dt: float
    step_r: int
    step_g: int
    k_end: int

    @classmethod
    def of(cls, sc: Scenario) -> "Clock":
        r = sc.rates
        return cls(1.0 / r.plant_hz, int(round(r.plant_hz / r.radar_hz)),
                   int(round(r.plant_hz / r.guidance_hz)),
                   int(np.ceil(sc.scenario.duration_s * r.plant_hz)))

    def time_of(self, k: int) -> float:
        """The time (s) of plant step k, rounded to whole nanoseconds so that it survives
        the wire and recordings (int64 ns) bit for bit: a replay sees the very same times."""
        return round(k * self.dt * 1e9) / 1e9

    def step_of(self, t: float) -> int:
        """The plant step of an event time (s), e.g. a wire ``t_ns / 1e9``."""
        return int(round(t / self.dt))

    def is_scan(self, k: int) -> bool:
        return k % self.step_r == 0

    def is_guidance(self, k: int) -> bool:
        return k % self.step_g == 0


def rngs(sc: Scenario) -> tuple[np.random.Generator, np.random.Generator]:
    """(measurement noise, noisy guidance) generators, independent, from the scenario seed."""
    ss = np.random.SeedSequence(sc.scenario.seed)
    return tuple(np.random.default_rng(s) for s in ss.spawn(2))


class _TargetTruth:
    """Exact constant-acceleration kinematics of every target, or its recorded trajectory
    (``[[targets]] trajectory``: Hermite interpolation of a truth CSV, NaN — unseen —
    outside its coverage and across its gaps). The engaged target's truth is taken from
    the plant at every scan."""

    def __init__(self, sc: Scenario):
        self.traj = {i: _trajectory(i, t, sc.source) for i, t in enumerate(sc.targets)
                     if t.trajectory}
        self.p = np.array([t.position_m for t in sc.targets], float)
        self.v = np.array([t.velocity_mps for t in sc.targets], float)
        for i, tj in self.traj.items():
            self.p[i], self.v[i] = tj.position_velocity(0.0)
        self.a = np.zeros_like(self.p)
        self.rcs = np.array([t.rcs_m2 for t in sc.targets], float)
        # weaving targets: exact kinematics from their initial state (closed form)
        self.weave = {i: (self.p[i].copy(), self.v[i].copy(), weave_params(t))
                      for i, t in enumerate(sc.targets)
                      if t.maneuver == "weave" and not t.trajectory}

    def advance(self, h: float, nsteps: int, t_new: float) -> None:
        T = h * nsteps                     # exact for constant acceleration
        self.p = self.p + T * self.v + 0.5 * T * T * self.a
        self.v = self.v + T * self.a
        for i, tj in self.traj.items():
            self.p[i], self.v[i] = tj.position_velocity(t_new)
        for i, (p0, v0, w) in self.weave.items():
            self.p[i], self.v[i], self.a[i] = weave_state(p0, v0, w, t_new)


def weave_params(tgt) -> np.ndarray:
    """(A (3,), t_start, ω, φ) of a ``[[targets]]`` weave: a = A·sin(ω(t − t_start) + φ)."""
    return np.r_[tgt.maneuver_accel_mps2, tgt.maneuver_start_s,
                 2 * np.pi / tgt.maneuver_period_s, tgt.maneuver_phase_rad]


def weave_state(p0, v0, w, t: float):
    """Exact position, velocity and acceleration at t of a body at (p0, v0) at t = 0 that
    weaves with ``w`` = (A, t_start, ω, φ) (constant velocity before t_start)."""
    A, ts, om, ph = np.asarray(w[0:3], float), float(w[3]), float(w[4]), float(w[5])
    p0, v0 = np.asarray(p0, float), np.asarray(v0, float)
    if t < ts:
        return p0 + v0 * t, v0.copy(), np.zeros(3)
    tau = t - ts
    ps = p0 + v0 * ts
    c0, s0 = np.cos(ph), np.sin(ph)
    v = v0 + A / om * (c0 - np.cos(om * tau + ph))
    p = ps + v0 * tau + A / om * (tau * c0 - (np.sin(om * tau + ph) - s0) / om)
    return p, v, A * np.sin(om * tau + ph)


def _trajectory(i: int, tgt, source: str = "<scenario>"):
    """The Trajectory of target i, checked to cover t = 0; errors name the scenario
    ``source``, the target and the key."""
    from .errors import ConfigError, InputError
    from .io.adsb import Trajectory, read_truth

    try:
        table = read_truth(tgt.trajectory)
        tid = tgt.trajectory_id or (table.ids()[0] if len(table) else 0)
        tj = Trajectory.from_truth(table, tid, max_gap_s=tgt.max_gap_s)
    except (InputError, OSError) as exc:
        raise ConfigError(f"{source}: [[targets]] #{i} trajectory: {exc}") from None
    if not np.all(np.isfinite(tj.position_velocity(0.0)[0])):
        raise ConfigError(f"{source}: [[targets]] #{i} trajectory: {tgt.trajectory} (target_id {tid}) "
                          f"does not cover t = 0 (it spans {tj.t0:g} … {tj.t1:g} s)")
    return tj


def _initial_interceptor(sc: Scenario, p_t=None, v_t=None) -> np.ndarray:
    """The interceptor's launch state: on the collision course with the engaged target
    (at p_t, v_t if given, else the scenario's initial state), turned by the heading
    error."""
    ic, tgt = sc.interceptor, sc.targets[sc.interceptor.target]
    p_t = tgt.position_m if p_t is None else p_t
    v_t = tgt.velocity_mps if v_t is None else v_t
    u = collision_course(ic.position_m, p_t, v_t, ic.speed_mps)
    u = rotate_about_z(u, ic.heading_error_rad)
    return np.concatenate([ic.position_m, ic.speed_mps * u, np.zeros(3)])


class Engagement:
    """The plant side: target truth, the interceptor, the radar and the event clock.

    Drive it as ``while not e.finished: e.begin_event(); [dets = e.scan()]; state =
    e.state(); ...; e.advance(a_cmd)``. ``rng_meas`` draws the measurement noise.

    The interceptor plant is the first-order one of ext/engage.pyx (``Plant``) when
    ``[interceptor] lag_order`` is 1, ``gravity`` off and the engaged target does not weave
    (the defaults: unchanged results); otherwise the batched stepper's plant without its
    guidance (``LagPlant`` over ``flyout.hold``): binomial lag of any order, gravity
    compensated by the autopilot, a weaving engaged target.
    """

    def __init__(self, sc: Scenario, rng_meas: np.random.Generator,
                 timer: StageTimer | None = None):
        self.sc = sc
        self.clock = Clock.of(sc)
        self.rng = rng_meas
        self.timer = timer if timer is not None else StageTimer()
        self.truth = _TargetTruth(sc)
        self.ti = ti = sc.interceptor.target
        self.man_steps: dict[int, list[int]] = {}
        for i, t in enumerate(sc.targets):
            if t.maneuver == "step" and any(t.maneuver_accel_mps2):
                self.man_steps.setdefault(int(round(t.maneuver_start_s * sc.rates.plant_hz)),
                                          []).append(i)
        tr = self.truth
        ic, tgt = sc.interceptor, sc.targets[ti]
        weave = tgt.maneuver == "weave" and not tgt.trajectory
        m0 = _initial_interceptor(sc, tr.p[ti], tr.v[ti])
        tg0 = np.concatenate([tr.p[ti], tr.v[ti], tr.a[ti]])
        if ic.lag_order == 1 and not ic.gravity and not weave:
            self.plant = Plant(m0, tg0, ic.time_constant_s)       # first-order lag (engage.pyx)
        else:
            # n-th-order lag, gravity or a weaving engaged target: the batched stepper's
            # plant (flyout.hold)
            self.plant = LagPlant(m0, tg0, ic.time_constant_s, self.clock.dt,
                                  order=ic.lag_order, gravity=ic.gravity,
                                  weave=weave_params(tgt) if weave else None)
        self.sensor = make_sensor(sc.radar)
        self.k = 0
        self.k_end = self.clock.k_end
        self.status = "timeout"
        self.last_range = float("nan")   # range at the last guidance event
        if not self.plant.closing[0]:
            self.status = "receding"
            self.k_end = 0

    @property
    def t(self) -> float:
        return self.clock.time_of(self.k)

    @property
    def finished(self) -> bool:
        return self.k >= self.k_end or self.status == "intercept"

    @property
    def scan_due(self) -> bool:
        return self.clock.is_scan(self.k)

    @property
    def guidance_due(self) -> bool:
        return self.clock.is_guidance(self.k)

    def begin_event(self) -> None:
        """Apply the target maneuvers that start at this step; a target on a recorded
        trajectory is put on it and given the constant acceleration that reaches the
        trajectory's velocity at the next event."""
        if self.k in self.man_steps:
            for i in self.man_steps[self.k]:
                self.truth.a[i] = self.sc.targets[i].maneuver_accel_mps2
            self.plant.tg[0, 6:9] = self.truth.a[self.ti]
        tj = self.truth.traj.get(self.ti)
        if tj is not None and not self.finished:
            t_next = self.clock.time_of(self.next_event())
            p, v = tj.position_velocity(self.t)
            _, v1 = tj.position_velocity(t_next)
            if not (np.all(np.isfinite(p)) and np.all(np.isfinite(v1))):
                self.status = "target_lost"          # the trajectory ends or has a gap
                self.k_end = self.k
                return
            self.plant.tg[0, 0:3], self.plant.tg[0, 3:6] = p, v
            self.plant.tg[0, 6:9] = (v1 - v) / max(t_next - self.t, 1e-12)

    def scan(self) -> Detections:
        """One radar scan of every target at this step (syncs the engaged target's truth
        from the plant first)."""
        tr, ti = self.truth, self.ti
        tr.p[ti], tr.v[ti] = self.plant.tg[0, 0:3], self.plant.tg[0, 3:6]
        # the I/Q sensor points its beam at the first target: the engaged one; targets off
        # their recorded trajectory (NaN) are not there to be seen
        order = np.r_[ti, np.delete(np.arange(len(tr.p)), ti)]
        order = order[np.all(np.isfinite(tr.p[order]), axis=1)]
        with self.timer("measure"):
            if isinstance(self.sensor, MeasurementModel):
                return self.sensor.measure(self.t, tr.p[order], tr.v[order], tr.rcs[order],
                                           self.rng)
            return self.sensor.scan(self.t, tr.p[order], tr.v[order], tr.rcs[order], self.rng)

    def state(self) -> PlantState:
        """Truth of body 0 (the interceptor) and body 1 (the engaged target) now."""
        m, tg = self.plant.m[0], self.plant.tg[0]
        if self.guidance_due:
            self.last_range = float(np.linalg.norm(tg[0:3] - m[0:3]))
        return PlantState(t=[self.t, self.t], body_id=[0, 1], pos=[m[0:3], tg[0:3]],
                          vel=[m[3:6], tg[3:6]], acc=[m[6:9], tg[6:9]])

    def next_event(self) -> int:
        k, c = self.k, self.clock
        return min(self.k_end, (k // c.step_r + 1) * c.step_r, (k // c.step_g + 1) * c.step_g,
                   *[s for s in self.man_steps if s > k])

    def advance(self, a_cmd: np.ndarray) -> None:
        """Hold ``a_cmd`` (1, 3) up to the next event (scan, guidance, maneuver or end)."""
        k_next = self.next_event()
        n = k_next - self.k
        with self.timer("plant"):
            self.plant.advance(a_cmd, self.clock.dt, n, self.t)
        self.truth.advance(self.clock.dt, n, self.clock.time_of(k_next))
        self.k = k_next
        if self.plant.done[0]:
            self.status = "intercept"

    def result(self) -> dict:
        """status, miss_distance_m, t_closest_s (closest approach inside the step when the
        engagement intercepted, else the range at the last guidance event)."""
        done = bool(self.plant.done[0])
        return {"status": self.status,
                "miss_distance_m": float(self.plant.cpa[0, 1]) if done else self.last_range,
                "t_closest_s": float(self.plant.cpa[0, 0]) if done else self.t}


class Host:
    """The host side: tracker, designation, guidance, history, recording and summary.

    ``on_scan(t, dets, tg_pos, tg_vel)`` once per scan, ``on_guidance(t, state)`` once per
    guidance event; the latter returns the command (1, 3) to hold until the next one.
    ``rng_guid`` draws the noise of ``[guidance] on = "noisy"``.
    """

    def __init__(self, sc: Scenario, rng_guid: np.random.Generator,
                 timer: StageTimer | None = None, recorder=None, progress=None):
        self.sc = sc
        self.clock = Clock.of(sc)
        self.rng = rng_guid
        self.timer = timer if timer is not None else StageTimer()
        self.recorder = recorder
        self.progress = progress
        self.sensor = MeasurementModel(sc.radar)
        self.tracker = Tracker(sc.tracker)
        self.hist = {k: [] for k in ("t", "m_pos", "t_pos", "a_cmd", "a_ach", "range",
                                     "saturated")}
        self.scans = {"t": [], "tracks": [], "dets": []}
        self.estimate = None     # (t, pos, vel, acc) of the designated target, as guidance sees it
        self.designated = None
        self.n_designations = 0
        self.a_cmd = np.zeros((1, 3))
        self.sat_count = 0
        self.max_cmd = 0.0
        self.n_commands = 0

    def on_scan(self, t: float, dets: Detections, tg_pos, tg_vel):
        """Track one scan; designate; update the estimate. Returns the tracks."""
        g, timer = self.sc.guidance, self.timer
        tg_pos, tg_vel = np.asarray(tg_pos, float), np.asarray(tg_vel, float)
        with timer("track"):
            tracks = self.tracker.step(dets, t)
        conf = tracks.take(tracks.confirmed)
        if g.on == "track":
            self.on_tracks(t, conf, tg_pos)
        elif g.on == "noisy":
            ti = self.sc.interceptor.target
            z = self.sensor.measure(t, tg_pos[None, :], tg_vel[None, :],
                                    np.array([self.sc.targets[ti].rcs_m2]), self.rng)
            if len(z):
                # the measurement nearest in range is the target's (clutter is sparse)
                j = int(np.argmin(np.abs(z.range - np.linalg.norm(tg_pos))))
                pos = cart_of(z.z[j])[0, 0:3]
                vel = tg_vel + self.rng.standard_normal(3) * self.sc.radar.sigma_range_rate_mps
                self.estimate = (t, pos, vel, np.zeros(3))
        self.scans["t"].append(t)
        self.scans["tracks"].append(conf)
        self.scans["dets"].append(dets)
        if self.recorder is not None:
            with timer("record"):
                self.recorder.write_detections(dets, t)
                self.recorder.write_tracks(tracks, t)
                self.recorder.flush()
        if self.progress is not None:
            k_end = self.clock.k_end
            self.progress(min(1.0, self.clock.step_of(t) / max(k_end, 1)))
        return tracks

    def on_tracks(self, t: float, conf: Tracks, tg_pos) -> None:
        """Designation and guidance estimate from one scan's confirmed tracks (``on =
        "track"``); ``tg_pos`` is the engaged target's truth, the operator's cue. Also used by
        ``xband replay --through guide`` on recorded tracks."""
        if self.designated is None or self.designated not in conf.id:
            self.designated = None
            if len(conf):
                d2 = np.sum((conf.x[:, 0:3] - np.asarray(tg_pos, float)) ** 2, axis=1)
                self.designated = int(conf.id[np.argmin(d2)])
                self.n_designations += 1
        if self.designated is not None:
            row = conf.x[np.flatnonzero(conf.id == self.designated)[0]]
            # the acceleration estimate, where the filter has one (IMM with CA)
            acc = row[6:9].copy() if row.shape[0] >= 9 else np.zeros(3)
            self.estimate = (t, row[0:3].copy(), row[3:6].copy(), acc)

    def on_guidance(self, t: float, state: PlantState) -> Commands:
        """The command at a guidance event from the bodies' truth (row of body 0: the
        interceptor, body 1: the engaged target). Also returned when there is no estimate
        yet (zero, ``t_go`` NaN)."""
        g, timer = self.sc.guidance, self.timer
        bid = list(state.body_id)
        i0, i1 = bid.index(0), bid.index(1)
        m = np.concatenate([state.pos[i0], state.vel[i0], state.acc[i0]])
        tg = np.concatenate([state.pos[i1], state.vel[i1], state.acc[i1]])
        if g.on == "truth":
            self.estimate = (t, tg[0:3].copy(), tg[3:6].copy(), tg[6:9].copy())
        with timer("guide"):
            if self.estimate is not None:
                te, pe, ve, ae = self.estimate
                pe = pe + ve * (t - te)
                a_cmd, t_go, sat = laws.command(pe - m[0:3], ve - m[3:6], m[3:6],
                                                g.law, g.nav_ratio,
                                                self.sc.interceptor.accel_limit_mps2,
                                                t_acc=ae[None], m_acc=m[6:9][None],
                                                tau=self.sc.interceptor.time_constant_s)
            else:
                a_cmd, t_go, sat = np.zeros((1, 3)), np.array([np.nan]), np.zeros(1, bool)
        cmd = Commands(t=[t], a_cmd=a_cmd, t_go=t_go, saturated=sat)
        if self.estimate is not None:
            self.n_commands += 1
            self.sat_count += int(sat[0])
            self.max_cmd = max(self.max_cmd, float(np.linalg.norm(a_cmd[0])))
            if self.recorder is not None:
                with timer("record"):
                    self.recorder.write_commands(cmd, t)
                    self.recorder.write_state(state, t)
        h = self.hist
        h["t"].append(t)
        h["m_pos"].append(m[0:3].copy())
        h["t_pos"].append(tg[0:3].copy())
        h["a_cmd"].append(a_cmd[0].copy())
        h["a_ach"].append(m[6:9].copy())
        h["range"].append(float(np.linalg.norm(tg[0:3] - m[0:3])))
        h["saturated"].append(bool(sat[0]))
        self.a_cmd = a_cmd
        return cmd

    def summary(self) -> dict:
        g, tr = self.sc.guidance, self.tracker
        return {
            "scenario": self.sc.scenario.name, "seed": self.sc.scenario.seed,
            "guidance_on": g.on, "law": g.law, "nav_ratio": g.nav_ratio,
            "scans": tr.stats["scans"], "tracks_confirmed": tr.stats["confirmed"],
            "tracks_deleted": tr.stats["deleted"], "designations": self.n_designations,
            "designated_track": self.designated,
            "detections": int(sum(len(d) for d in self.scans["dets"])),
            "commands": self.n_commands, "saturated_commands": self.sat_count,
            "max_accel_cmd": self.max_cmd, "saturated": self.sat_count > 0,
            "tracker": dict(tr.stats),
        }

    def result(self, outcome: dict, backend: str | None = None) -> RunResult:
        """The :class:`RunResult` from the plant side's ``Engagement.result()``."""
        history = {key: np.array(v) for key, v in self.hist.items()}
        history["scans"] = self.scans
        return RunResult(status=outcome["status"],
                         miss_distance_m=float(outcome["miss_distance_m"]),
                         t_closest_s=float(outcome["t_closest_s"]),
                         backend=backend or _kernels.backend(), stages=self.timer.as_dict(),
                         summary=self.summary(), history=history, timer=self.timer)


def step_event(eng: Engagement, host: Host) -> None:
    """One event of the simulated loop: the plant side and the host side in turn, in the
    order the HIL exchange follows (DETECTIONS, STATE → COMMAND), then the plant advances."""
    eng.begin_event()
    t = eng.t
    if eng.scan_due:
        dets = eng.scan()
        tg = eng.plant.tg[0]
        host.on_scan(t, dets, tg[0:3].copy(), tg[3:6].copy())
    if eng.guidance_due:
        host.on_guidance(t, eng.state())
    eng.advance(host.a_cmd)


def run(sc: Scenario, recorder=None, progress=None) -> RunResult:
    """Simulate the scenario; see the module documentation. ``progress(fraction)`` is
    called after each scan when given."""
    backend = _kernels.backend()
    timer = StageTimer()
    rng_meas, rng_guid = rngs(sc)
    eng = Engagement(sc, rng_meas, timer)
    host = Host(sc, rng_guid, timer, recorder, progress)
    while not eng.finished:
        step_event(eng, host)
    return host.result(eng.result(), backend)
