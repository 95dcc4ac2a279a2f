"""Truth → radar measurements: the foundation's stand-in for the I/Q detection chain.

``MeasurementModel.measure`` turns target truth into one scan of ``Detections``: the
spherical measurement (range, azimuth, elevation, range rate) of each target plus
independent Gaussian errors of the configured σ, kept with probability P_d when inside the
instrumented range, and a Poisson number of false alarms spread uniformly over the
surveillance volume (range [0, R_max], azimuth (−π, π], elevation [0, π/4], range rate
±V_FA). The returned batch is shuffled so that target plots are not first.

SNR follows the radar equation's range dependence, SNR = SNR_ref · σ/1 m² · (10 km / R)⁴
(Skolnik, *Introduction to Radar Systems*, 3rd ed., eq. 2.1); false alarms get the SNR of a
threshold crossing, 13 dB plus an exponential excess.
"""
from __future__ import annotations

import numpy as np

from .. import _kernels
from ..config import Radar
from ..types import Detections

#: Range-rate span of false alarms (m/s).
V_FA = 1000.0
REF_RANGE_M = 1.0e4


def sph_of(pos: np.ndarray, vel: np.ndarray) -> np.ndarray:
    """(k, 3) positions and velocities (ENU) → (k, 4) (range, az, el, range_rate)."""
    pos = np.ascontiguousarray(pos, np.float64).reshape(-1, 3)
    vel = np.ascontiguousarray(vel, np.float64).reshape(-1, 3)
    out = np.empty((pos.shape[0], 4))
    _kernels.get("coords").cart_to_sph(pos, vel, out)
    return out


def cart_of(meas: np.ndarray) -> np.ndarray:
    """(k, 4) spherical measurements → (k, 6) position and radial velocity vector."""
    meas = np.ascontiguousarray(meas, np.float64).reshape(-1, 4)
    out = np.empty((meas.shape[0], 6))
    _kernels.get("coords").sph_to_cart(meas, out)
    return out


class MeasurementModel:
    """Truth plus noise, detection probability and clutter, per the ``[radar]`` table."""

    def __init__(self, radar: Radar):
        self.cfg = radar
        self.sigma = np.array([radar.sigma_range_m, radar.sigma_azimuth_rad,
                               radar.sigma_elevation_rad, radar.sigma_range_rate_mps])
        self.R = np.diag(self.sigma ** 2)

    def measure(self, t: float, pos: np.ndarray, vel: np.ndarray, rcs: np.ndarray,
                rng: np.random.Generator) -> Detections:
        """One scan at time ``t`` of targets at ``pos``, ``vel`` (k, 3) with RCS ``rcs`` (k,)."""
        cfg = self.cfg
        z = sph_of(pos, vel)
        noise = rng.standard_normal(z.shape) * self.sigma
        seen = (rng.random(z.shape[0]) < cfg.p_detection) & (z[:, 0] <= cfg.max_range_m)
        zt = z[seen] + noise[seen]
        zt[:, 1] = np.angle(np.exp(1j * zt[:, 1]))            # azimuth back to (−π, π]
        snr_t = (10 ** (cfg.snr_ref_db / 10) * np.asarray(rcs, float)[seen]
                 * (REF_RANGE_M / np.maximum(z[seen, 0], 1.0)) ** 4)
        nfa = rng.poisson(cfg.false_alarms_per_scan)
        zf = np.column_stack([
            rng.uniform(0.0, cfg.max_range_m, nfa),
            rng.uniform(-np.pi, np.pi, nfa),
            rng.uniform(0.0, np.pi / 4, nfa),
            rng.uniform(-V_FA, V_FA, nfa),
        ])
        snr_f = 10 ** 1.3 + rng.exponential(1.0, nfa)
        zz = np.concatenate([zt, zf])
        snr = np.concatenate([snr_t, snr_f])
        order = rng.permutation(zz.shape[0])
        zz, snr = zz[order], snr[order]
        n = zz.shape[0]
        return Detections(t=np.full(n, t), range=zz[:, 0], az=zz[:, 1], el=zz[:, 2],
                          range_rate=zz[:, 3], snr=snr, R=np.broadcast_to(self.R, (n, 4, 4)))
