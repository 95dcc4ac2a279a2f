"""The closed loop: scene → measurements → tracker → guidance → plant, at three rates.

``run(scenario)`` simulates one engagement on an integer clock of plant steps
(1/plant_hz): a radar scan every plant_hz/radar_hz steps, a guidance command every
plant_hz/guidance_hz steps, a target maneuver at its start time (rounded to the plant
grid); between events the plant integrates with the command held. Every stage is timed
(``RunResult.stages``) and, if a recorder is given, every record crossing a stage boundary
is written to it (detections, tracks, commands, plant state), flushed once per scan.

What guidance sees (``[guidance] on``):
* ``truth`` — the designated target's true position and velocity;
* ``noisy`` — the latest radar measurement of it converted to Cartesian position, with the
  true velocity plus N(0, σ_ṙ²) per axis, extrapolated at constant velocity between scans;
* ``track`` — the designated confirmed track, extrapolated at constant velocity between
  scans. The designation is made once a track is confirmed: the confirmed track nearest
  the designated target (an operator's cue); it is repeated if that track is deleted.
Until guidance has an estimate the interceptor coasts (zero command).

The radar observes the targets (not the cooperative interceptor). End status:
``intercept`` (closest approach passed), ``timeout`` (duration reached first),
``receding`` (the geometry never closes).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _kernels
from .config import Scenario
from .guide import laws
from .guide.plant import Plant, collision_course, rotate_about_z
from .radar.measure import MeasurementModel, cart_of
from .timing import StageTimer
from .track.tracker import Tracker
from .types import Commands, Detections, PlantState, Tracks


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


class _TargetTruth:
    """Exact constant-acceleration kinematics of every target. The engaged target's truth
    is taken from the plant (which integrates it exactly too) at every scan."""

    def __init__(self, sc: Scenario):
        self.p = np.array([t.position_m for t in sc.targets], float)
        self.v = np.array([t.velocity_mps for t in sc.targets], float)
        self.a = np.zeros_like(self.p)
        self.rcs = np.array([t.rcs_m2 for t in sc.targets], float)

    def advance(self, h: float, nsteps: int) -> None:
        T = h * nsteps                     # exact for constant acceleration
        self.p = self.p + T * self.v + 0.5 * T * T * self.a
        self.v = self.v + T * self.a


def _initial_interceptor(sc: Scenario) -> np.ndarray:
    ic, tgt = sc.interceptor, sc.targets[sc.interceptor.target]
    u = collision_course(ic.position_m, tgt.position_m, tgt.velocity_mps, ic.speed_mps)
    u = rotate_about_z(u, ic.heading_error_rad)
    return np.concatenate([ic.position_m, ic.speed_mps * u, np.zeros(3)])


def run(sc: Scenario, recorder=None, progress=None) -> RunResult:
    """Simulate the scenario; see the module documentation. ``progress(fraction)`` is
    called after each scan when given."""
    backend = _kernels.backend()
    timer = StageTimer()
    rates = sc.rates
    dt = 1.0 / rates.plant_hz
    step_r = int(round(rates.plant_hz / rates.radar_hz))
    step_g = int(round(rates.plant_hz / rates.guidance_hz))
    k_end = int(np.ceil(sc.scenario.duration_s * rates.plant_hz))
    ss = np.random.SeedSequence(sc.scenario.seed)
    rng_meas, rng_guid = (np.random.default_rng(s) for s in ss.spawn(2))

    truth = _TargetTruth(sc)
    ti = sc.interceptor.target
    man_steps = {}
    for i, t in enumerate(sc.targets):
        if any(t.maneuver_accel_mps2):
            man_steps.setdefault(int(round(t.maneuver_start_s * rates.plant_hz)), []).append(i)
    plant = Plant(_initial_interceptor(sc), np.concatenate([truth.p[ti], truth.v[ti], truth.a[ti]]),
                  sc.interceptor.time_constant_s)
    sensor = MeasurementModel(sc.radar)
    tracker = Tracker(sc.tracker)
    g = sc.guidance
    a_max = sc.interceptor.accel_limit_mps2

    hist = {k: [] for k in ("t", "m_pos", "t_pos", "a_cmd", "a_ach", "range", "saturated")}
    scans = {"t": [], "tracks": [], "dets": []}
    estimate = None          # (t, pos, vel) of the designated target as guidance sees it
    designated = None
    n_designations = 0
    a_cmd = np.zeros((1, 3))
    sat_count = 0
    max_cmd = 0.0
    n_commands = 0
    status = "timeout"

    k = 0
    if not plant.closing[0]:
        status = "receding"
        k_end = 0
    while k < k_end:
        t = k * dt
        if k in man_steps:
            for i in man_steps[k]:
                truth.a[i] = sc.targets[i].maneuver_accel_mps2
            plant.tg[0, 6:9] = truth.a[ti]
        if k % step_r == 0:
            truth.p[ti], truth.v[ti] = plant.tg[0, 0:3], plant.tg[0, 3:6]
            with timer("measure"):
                dets = sensor.measure(t, truth.p, truth.v, truth.rcs, rng_meas)
            with timer("track"):
                tracks = tracker.step(dets, t)
            conf = tracks.take(tracks.confirmed)
            if g.on == "track":
                if designated is None or designated not in conf.id:
                    designated = None
                    if len(conf):
                        d2 = np.sum((conf.x[:, 0:3] - truth.p[ti]) ** 2, axis=1)
                        designated = int(conf.id[np.argmin(d2)])
                        n_designations += 1
                if designated is not None:
                    row = conf.x[np.flatnonzero(conf.id == designated)[0]]
                    estimate = (t, row[0:3].copy(), row[3:6].copy())
            elif g.on == "noisy":
                z = sensor.measure(t, truth.p[ti:ti + 1], truth.v[ti:ti + 1],
                                   truth.rcs[ti:ti + 1], rng_guid)
                if len(z):
                    # the measurement nearest in range is the target's (clutter is sparse)
                    j = int(np.argmin(np.abs(z.range - np.linalg.norm(truth.p[ti]))))
                    pos = cart_of(z.z[j])[0, 0:3]
                    vel = truth.v[ti] + rng_guid.standard_normal(3) * sc.radar.sigma_range_rate_mps
                    estimate = (t, pos, vel)
            scans["t"].append(t)
            scans["tracks"].append(conf)
            scans["dets"].append(dets)
            if recorder is not None:
                with timer("record"):
                    recorder.write_detections(dets, t)
                    recorder.write_tracks(tracks, t)
                    recorder.flush()
            if progress is not None:
                progress(min(1.0, k / max(k_end, 1)))
        if k % step_g == 0:
            m = plant.m[0]
            if g.on == "truth":
                estimate = (t, plant.tg[0, 0:3].copy(), plant.tg[0, 3:6].copy())
            with timer("guide"):
                if estimate is not None:
                    te, pe, ve = estimate
                    pe = pe + ve * (t - te)
                    a_cmd, t_go, sat = laws.command(pe - m[0:3], ve - m[3:6], m[3:6],
                                                    g.law, g.nav_ratio, a_max)
                else:
                    a_cmd, t_go, sat = np.zeros((1, 3)), np.array([np.nan]), np.zeros(1, bool)
            if estimate is not None:
                n_commands += 1
                sat_count += int(sat[0])
                max_cmd = max(max_cmd, float(np.linalg.norm(a_cmd[0])))
                if recorder is not None:
                    with timer("record"):
                        recorder.write_commands(Commands(t=[t], a_cmd=a_cmd, t_go=t_go,
                                                         saturated=sat), t)
                        recorder.write_state(PlantState(
                            t=[t, t], body_id=[0, 1], pos=[m[0:3], plant.tg[0, 0:3]],
                            vel=[m[3:6], plant.tg[0, 3:6]], acc=[m[6:9], plant.tg[0, 6:9]]), t)
            hist["t"].append(t)
            hist["m_pos"].append(m[0:3].copy())
            hist["t_pos"].append(plant.tg[0, 0:3].copy())
            hist["a_cmd"].append(a_cmd[0].copy())
            hist["a_ach"].append(m[6:9].copy())
            hist["range"].append(float(np.linalg.norm(plant.tg[0, 0:3] - m[0:3])))
            hist["saturated"].append(bool(sat[0]))
        k_next = min(k_end, (k // step_r + 1) * step_r, (k // step_g + 1) * step_g,
                     *[s for s in man_steps if s > k])
        n = k_next - k
        with timer("plant"):
            plant.advance(a_cmd, dt, n, t)
        truth.advance(dt, n)
        k = k_next
        if plant.done[0]:
            status = "intercept"
            break

    miss = float(plant.cpa[0, 1]) if plant.done[0] else float(hist["range"][-1]) if hist["range"] else float("nan")
    t_cpa = float(plant.cpa[0, 0]) if plant.done[0] else k * dt
    history = {key: np.array(v) for key, v in hist.items()}
    history["scans"] = scans
    summary = {
        "scenario": sc.scenario.name, "seed": sc.scenario.seed, "guidance_on": g.on,
        "law": g.law, "nav_ratio": g.nav_ratio,
        "scans": tracker.stats["scans"], "tracks_confirmed": tracker.stats["confirmed"],
        "tracks_deleted": tracker.stats["deleted"], "designations": n_designations,
        "designated_track": designated,
        "detections": int(sum(len(d) for d in scans["dets"])),
        "commands": n_commands, "saturated_commands": sat_count,
        "max_accel_cmd": max_cmd, "saturated": sat_count > 0,
        "tracker": dict(tracker.stats),
    }
    return RunResult(status=status, miss_distance_m=miss, t_closest_s=t_cpa, backend=backend,
                     stages=timer.as_dict(), summary=summary, history=history, timer=timer)
