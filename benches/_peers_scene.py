"""Shared by tests/oracle/test_stonesoup.py and benches/bench_peers.py: the scenes (truth and
one seeded set of xband Detections), the conversion of those detections to Stone Soup's
conventions, a Stone Soup EKF + GNN tracker set up like xband's tracker, scan-by-scan
runners for both and the mean GOSPA of a run.

Conventions (docs/conventions.md vs Stone Soup 1.9):

=================  =====================================  =========================================
                   xband                                  Stone Soup
=================  =====================================  =========================================
state              (x, y, z, vx, vy, vz), ENU             [x, vx, y, vy, z, vz]
measurement        (range, az, el, range_rate)            (elevation, bearing, range, range_rate)
horizontal angle   az = atan2(x, y): from north, cw       bearing = atan2(y, x): from x (east), ccw
=================  =====================================  =========================================

so bearing = π/2 − az (wrapped to (−π, π]), elevation and range rate are the same
quantities, and a measurement covariance maps as A R Aᵀ with A the (signed) permutation
below. Process noise: Stone Soup's ``ConstantVelocity(q)`` is the continuous white-noise
form q·[[dt³/3, dt²/2], [dt²/2, dt]] per axis, the same matrix as
``xband.track.models.cv_matrices(dt, q)`` (the test checks it).

The Stone Soup tracker mirrors ``xband.config.Tracker`` as far as Stone Soup's components
allow (the test's docstring lists the remaining differences):

* EKF: ``ExtendedKalmanPredictor`` on CV with q = ``process_noise``;
  ``ExtendedKalmanUpdater`` on ``CartesianToElevationBearingRangeRate`` with the same R,
  Joseph-form covariance (as xband's kernels);
* gate: ``DistanceHypothesiser`` with the Mahalanobis distance and ``missed_distance`` =
  √χ²₄(``gate_probability``), the square root of xband's χ² gate for a 4-component
  measurement; association ``GNNWith2DAssignment`` (optimal assignment, like xband's);
* initiation: ``MultiMeasurementInitiator`` (every unassociated detection starts a held
  track at the measured position with the radial velocity vector, velocity σ =
  ``init_speed_sigma_mps`` per axis, as xband), released as confirmed after ``confirm_m``
  updates, a held track dropped after ``confirm_n − confirm_m + 1`` consecutive misses
  (xband: M of the last N scans);
* deletion: ``UpdateTimeStepsDeleter(delete_misses)`` — a track dies after
  ``delete_misses`` consecutive misses, as xband's confirmed tracks.

For the 1 000-target bench the plain GNN (every track against every detection, one Python
object per pair) takes minutes per scan, so ``associator="kdtree"`` pre-selects
detections with Stone Soup's own ``DetectionKDTreeGNN2D`` (a kd-tree on the raw measurement
vectors, then the same hypothesiser and assignment). Its Euclidean radius of 300 mixes
units: the angles (< 2π) hardly count, so it acts as a ±300 m range / ±300 m/s
range-rate pre-gate, far wider than the χ² gate — on the 10 + 10 and 50 + 50 scenes it
gives the plain GNN's GOSPA exactly.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

from xband.config import Radar, Tracker as TrackerConfig
from xband.metrics import gospa
from xband.radar.measure import MeasurementModel
from xband.track.tracker import Tracker
from xband.types import Detections

EPOCH = _dt.datetime(2026, 1, 1)
#: xband state index of Stone Soup's [x, vx, y, vy, z, vz]
SS_FROM_XB = np.array([0, 3, 1, 4, 2, 5])
#: Stone Soup measurement (el, bearing, range, range_rate) = A @ xband (range, az, el, ṙ)
#: + (0, π/2, 0, 0), bearing wrapped
A_MEAS = np.array([[0.0, 0.0, 1.0, 0.0],
                   [0.0, -1.0, 0.0, 0.0],
                   [1.0, 0.0, 0.0, 0.0],
                   [0.0, 0.0, 0.0, 1.0]])
GOSPA = dict(c=100.0, p=2.0, alpha=2.0)


def wrap(a):
    """Angle(s) wrapped to (−π, π]."""
    return np.pi - np.mod(np.pi - np.asarray(a, float), 2.0 * np.pi)


def to_ss_meas(z: np.ndarray) -> np.ndarray:
    """xband measurements (k, 4) (range, az, el, ṙ) → Stone Soup's (k, 4)
    (el, bearing, range, ṙ)."""
    z = np.asarray(z, float).reshape(-1, 4)
    out = z @ A_MEAS.T
    out[:, 1] = wrap(np.pi / 2 - z[:, 1])
    return out


def to_ss_cov(R: np.ndarray) -> np.ndarray:
    """xband measurement covariance (4, 4) → Stone Soup's order and signs."""
    return A_MEAS @ np.asarray(R, float) @ A_MEAS.T


# ----------------------------------------------------------------------------- scenes
@dataclass
class Scene:
    """Truth and one realisation of the detections: ``times`` (S,), ``pos``/``vel``
    (S, N, 3) and ``scans`` (S Detections)."""

    times: np.ndarray
    pos: np.ndarray
    vel: np.ndarray
    scans: list
    radar: Radar

    @property
    def n_targets(self) -> int:
        return self.pos.shape[1]


def _measure(radar: Radar, times, pos, vel, seed: int) -> list:
    sensor = MeasurementModel(radar)
    rng = np.random.default_rng(seed)
    rcs = np.ones(pos.shape[1])
    return [sensor.measure(float(t), pos[k], vel[k], rcs, rng) for k, t in enumerate(times)]


def crossing_scene(seed: int = 4, scans: int = 100, dt: float = 0.5, p_d: float = 0.9,
                   clutter: float = 8.0, turn_accel: float = 0.0,
                   turn_window: tuple = (30.0, 40.0)) -> Scene:
    """Four targets at about 3 km altitude whose paths all cross near one point (6 km east,
    10 km north) within ±1 s of mid-run, under P_d and Poisson clutter over the whole
    surveillance volume. Constant velocity, except that with ``turn_accel`` > 0 (m/s²)
    the fourth target flies a level coordinated turn (left, ω = a/v) during
    ``turn_window`` (s) — after the crossing, so the trackers must hold it through both."""
    t = np.arange(scans) * dt
    centre = np.array([6000.0, 10000.0, 3000.0])
    heading = np.deg2rad([100.0, 150.0, 205.0, 260.0])            # from north, clockwise
    speed = np.array([220.0, 180.0, 250.0, 200.0])
    climb = np.array([0.0, 2.0, -2.0, 0.0])
    v = np.column_stack([speed * np.sin(heading), speed * np.cos(heading), climb])
    offset = np.array([[0.0, 0.0, 0.0], [40.0, -30.0, 20.0], [-30.0, 20.0, -20.0],
                       [20.0, 40.0, 10.0]])
    t_cross = t[scans // 2] + np.array([0.0, 0.5, -0.5, 1.0])
    p = centre + offset - v * t_cross[:, None]
    omega = np.zeros(4)
    omega[3] = turn_accel / speed[3]
    pos, vel = np.empty((scans, 4, 3)), np.empty((scans, 4, 3))
    for k in range(scans):
        pos[k], vel[k] = p, v
        w = np.where((turn_window[0] <= t[k]) & (t[k] < turn_window[1]), omega, 0.0)
        p, v = _ct_step(p, v, w, dt)
    radar = Radar(p_detection=p_d, false_alarms_per_scan=clutter)
    return Scene(t, pos, vel, _measure(radar, t, pos, vel, seed), radar)


def _ct_step(p, v, w, dt):
    """Exact step of dt of a level coordinated turn at rate w (rad/s, counter-clockwise
    seen from above; 0 = straight) for positions and velocities (n, 3)."""
    p, v = p.copy(), v.copy()
    turn = w != 0.0
    ws = np.where(turn, w, 1.0)
    s, c = np.sin(w * dt), np.cos(w * dt)
    vx, vy = v[:, 0].copy(), v[:, 1].copy()
    p[:, 0] += np.where(turn, (vx * s - vy * (1.0 - c)) / ws, vx * dt)
    p[:, 1] += np.where(turn, (vy * s + vx * (1.0 - c)) / ws, vy * dt)
    p[:, 2] += v[:, 2] * dt
    v[:, 0], v[:, 1] = vx * c - vy * s, vx * s + vy * c
    return p, v


def random_scene(n: int, clutter: float, scans: int, seed: int = 7, dt: float = 1.0,
                 p_d: float = 0.9) -> Scene:
    """n constant-velocity targets spread over 5–25 km ground range, all azimuths, 0.5–8 km
    altitude, 100–300 m/s in random horizontal headings; Poisson clutter of mean
    ``clutter`` per scan."""
    rng = np.random.default_rng(seed)
    rho = rng.uniform(5e3, 25e3, n)
    az = rng.uniform(-np.pi, np.pi, n)
    p0 = np.column_stack([rho * np.sin(az), rho * np.cos(az), rng.uniform(500.0, 8000.0, n)])
    sp, hd = rng.uniform(100.0, 300.0, n), rng.uniform(-np.pi, np.pi, n)
    v = np.column_stack([sp * np.sin(hd), sp * np.cos(hd), np.zeros(n)])
    t = np.arange(scans) * dt
    pos = p0[None] + v[None] * t[:, None, None]
    vel = np.broadcast_to(v, pos.shape).copy()
    radar = Radar(p_detection=p_d, false_alarms_per_scan=clutter)
    return Scene(t, pos, vel, _measure(radar, t, pos, vel, seed + 1), radar)


# ----------------------------------------------------------------------------- xband
def xband_tracker(filter: str = "imm", **overrides) -> Tracker:
    """xband's Tracker with the default ``[tracker]`` table (``filter`` and overrides)."""
    return Tracker(TrackerConfig(filter=filter, **overrides))


def xband_positions(tracks) -> np.ndarray:
    """Confirmed-track positions (k, 3) of a Tracks batch."""
    return tracks.x[tracks.confirmed, :3]


# ----------------------------------------------------------------------------- Stone Soup
class _Feed:
    """A detection 'reader' the tracker pulls one pushed scan from per ``next``."""

    def __init__(self):
        self._next = None

    def push(self, time, detections):
        self._next = (time, detections)

    def __iter__(self):
        return self

    def __next__(self):
        if self._next is None:
            raise StopIteration
        out, self._next = self._next, None
        return out


class StoneSoupTracker:
    """Stone Soup's ``MultiTargetTracker`` (EKF + GNN) configured like ``cfg`` (module docs);
    ``step(scan)`` takes the already-converted scan of ``convert`` and returns the
    confirmed-track positions (k, 3) in ENU."""

    def __init__(self, cfg: TrackerConfig, radar: Radar, associator: str = "gnn",
                 kdtree_max_distance: float = 300.0):
        from stonesoup.dataassociator.neighbour import GNNWith2DAssignment
        from stonesoup.dataassociator.tree import DetectionKDTreeGNN2D
        from stonesoup.deleter.time import UpdateTimeStepsDeleter
        from stonesoup.hypothesiser.distance import DistanceHypothesiser
        from stonesoup.initiator.simple import MultiMeasurementInitiator
        from stonesoup.measures import Mahalanobis
        from stonesoup.models.measurement.nonlinear import CartesianToElevationBearingRangeRate
        from stonesoup.models.transition.linear import (CombinedLinearGaussianTransitionModel,
                                                        ConstantVelocity)
        from stonesoup.predictor.kalman import ExtendedKalmanPredictor
        from stonesoup.tracker.simple import MultiTargetTracker
        from stonesoup.types.state import GaussianState
        from stonesoup.updater.kalman import ExtendedKalmanUpdater

        self.cfg = cfg
        q = cfg.process_noise
        self.transition = CombinedLinearGaussianTransitionModel([ConstantVelocity(q)] * 3)
        R = MeasurementModel(radar).R
        self.measurement = CartesianToElevationBearingRangeRate(
            ndim_state=6, mapping=(0, 2, 4), velocity_mapping=(1, 3, 5),
            noise_covar=to_ss_cov(R))
        self.predictor = ExtendedKalmanPredictor(self.transition)
        self.updater = ExtendedKalmanUpdater(self.measurement, use_joseph_cov=True,
                                             force_symmetric_covariance=True)
        self.gate = float(np.sqrt(chi2.ppf(cfg.gate_probability, 4)))
        hyp = DistanceHypothesiser(self.predictor, self.updater, measure=Mahalanobis(),
                                   missed_distance=self.gate)

        def associator_():
            if associator == "gnn":
                return GNNWith2DAssignment(hyp)
            if associator == "kdtree":
                return DetectionKDTreeGNN2D(hypothesiser=hyp, predictor=self.predictor,
                                            updater=self.updater,
                                            max_distance=kdtree_max_distance)
            raise ValueError(f"associator: expected gnn or kdtree, got {associator!r}")

        sv = cfg.init_speed_sigma_mps ** 2
        prior = GaussianState(np.zeros((6, 1)), np.diag([0.0, sv, 0.0, sv, 0.0, sv]))
        self.initiator = MultiMeasurementInitiator(
            prior_state=prior, measurement_model=self.measurement,
            deleter=UpdateTimeStepsDeleter(cfg.confirm_n - cfg.confirm_m + 1),
            data_associator=associator_(), updater=self.updater, min_points=cfg.confirm_m)
        self.feed = _Feed()
        self.tracker = MultiTargetTracker(
            initiator=self.initiator, deleter=UpdateTimeStepsDeleter(cfg.delete_misses),
            detector=self.feed, data_associator=associator_(), updater=self.updater)
        iter(self.tracker)

    def convert(self, dets: Detections, t: float):
        """One xband scan → (timestamp, set of Stone Soup Detections) in its conventions."""
        ts = EPOCH + _dt.timedelta(seconds=float(t))
        return ts, self.convert_z(to_ss_meas(dets.z), ts)

    def convert_z(self, z_ss: np.ndarray, ts=EPOCH) -> set:
        """Stone Soup measurements (k, 4) (el, bearing, range, ṙ) → set of Detections."""
        from stonesoup.types.angle import Bearing, Elevation
        from stonesoup.types.array import StateVector
        from stonesoup.types.detection import Detection

        return {Detection(StateVector([Elevation(z[0]), Bearing(z[1]), z[2], z[3]]),
                          timestamp=ts, measurement_model=self.measurement)
                for z in np.asarray(z_ss, float).reshape(-1, 4)}

    def step(self, converted) -> np.ndarray:
        self.feed.push(*converted)
        _, tracks = next(self.tracker)
        return self.positions(tracks)

    @staticmethod
    def positions(tracks) -> np.ndarray:
        if not tracks:
            return np.zeros((0, 3))
        return np.array([np.asarray(tr.state_vector, float)[[0, 2, 4], 0] for tr in tracks])


# ----------------------------------------------------------------------------- runs
def run_xband(scene: Scene, tracker: Tracker, first: int = 0, last: int | None = None) -> list:
    """Scans [first, last) through an xband tracker; confirmed positions per scan."""
    out = []
    for k in range(first, len(scene.times) if last is None else last):
        out.append(xband_positions(tracker.step(scene.scans[k], float(scene.times[k]))))
    return out


def run_stonesoup(scene: Scene, tracker: StoneSoupTracker, converted=None, first: int = 0,
                  last: int | None = None) -> list:
    """Scans [first, last) through a Stone Soup tracker; confirmed positions per scan."""
    if converted is None:
        converted = [tracker.convert(d, t) for d, t in zip(scene.scans, scene.times)]
    return [tracker.step(converted[k])
            for k in range(first, len(scene.times) if last is None else last)]


def mean_gospa(scene: Scene, positions: list, first: int = 0) -> dict:
    """Mean over scans of GOSPA (c, p, α of ``GOSPA``) between truth and confirmed-track
    positions, with its mean localisation, missed and false parts."""
    rows = [gospa(scene.pos[first + k], y, **GOSPA) for k, y in enumerate(positions)]
    return {"gospa": float(np.mean([r["gospa"] for r in rows])),
            "missed": float(np.mean([r["missed"] for r in rows])),
            "false": float(np.mean([r["false"] for r in rows])),
            "rms_loc": float(np.sqrt(sum(r["localisation"] for r in rows)
                                     / max(sum(r["assigned"] for r in rows), 1)))}


class StoneSoupJPDATracker(StoneSoupTracker):
    """Stone Soup's JPDA with EHM (``JPDAwithEHM``: exact marginal association
    probabilities per cluster by Efficient Hypothesis Management, Maskell et al. 2004) over
    ``PDAHypothesiser`` (P_D, P_G = ``gate_probability`` and the clutter density of ``cfg``,
    the values xband's JPDA uses), each track's posterior the moment-matched mixture of its
    hypotheses' EKF updates (``gm_reduce_single``, as Stone Soup's JPDA tutorial), the
    same M-of-N initiator (GNN over the tentative tracks, as StoneSoupTracker) fed with the
    detections inside no track's gate, and deletion after ``delete_misses`` scans without a
    detection in the gate. Stone Soup's MultiTargetTracker takes single hypotheses only, so
    this loop replaces it."""

    def __init__(self, cfg: TrackerConfig, radar: Radar):
        from stonesoup.dataassociator.probability import JPDAwithEHM
        from stonesoup.deleter.time import UpdateTimeStepsDeleter
        from stonesoup.hypothesiser.probability import PDAHypothesiser

        super().__init__(cfg, radar, associator="gnn")
        hyp = PDAHypothesiser(self.predictor, self.updater,
                              clutter_spatial_density=cfg.clutter_density,
                              prob_detect=cfg.p_detection, prob_gate=cfg.gate_probability)
        self.jpda = JPDAwithEHM(hyp)
        self.deleter = UpdateTimeStepsDeleter(cfg.delete_misses)
        self.tracks = set()

    def step(self, converted) -> np.ndarray:
        from stonesoup.functions import gm_reduce_single
        from stonesoup.types.array import StateVectors
        from stonesoup.types.update import GaussianStateUpdate

        ts, dets = converted
        assoc = self.jpda.associate(self.tracks, dets, ts)
        gated = set()
        for track, mh in assoc.items():
            states, ws = [], []
            for h in mh:
                if not h:
                    states.append(h.prediction)
                else:
                    states.append(self.updater.update(h))
                    gated.add(h.measurement)
                ws.append(float(h.probability))
            if len(states) == 1:                     # nothing in the gate: a miss
                track.append(states[0])
                continue
            means = StateVectors([s.state_vector for s in states])
            covs = np.stack([s.covar for s in states], axis=2)
            mean, cov = gm_reduce_single(means, covs, np.asarray(ws))
            track.append(GaussianStateUpdate(mean, cov, mh, ts))
        self.tracks -= self.deleter.delete_tracks(self.tracks)
        self.tracks |= self.initiator.initiate(dets - gated, ts)
        return self.positions(self.tracks)
