"""The monopulse antenna: a documented, idealised amplitude-comparison pattern.

Angles off boresight are measured in the radar's (azimuth, elevation) coordinates:
θ_az = wrap(az − az₀), θ_el = el − el₀ for a beam pointed at (az₀, el₀). With the one-way
3 dB beamwidths θ₃,az and θ₃,el, the one-way *voltage* patterns are

    Σ(θ)   = exp(−2 ln 2 · (θ_az²/θ₃,az² + θ_el²/θ₃,el²))      (power −3 dB at θ = θ₃/2)
    Δ_az(θ) = k_m · (θ_az / θ₃,az) · Σ(θ),   Δ_el(θ) = k_m · (θ_el / θ₃,el) · Σ(θ)

with the monopulse slope k_m (``RadarParams.monopulse_slope``, 1.6 by default; Sherman &
Barton, *Monopulse Principles and Techniques*, 2nd ed., 2011, §2). The transmission is on
the sum beam, so the two-way voltage of channel c is Σ(θ)·c(θ) and the ratio Δ/Σ = k_m·θ/θ₃
is real and linear — the estimator ``θ̂ = θ₃ · Re(Δ/Σ) / k_m`` is unbiased. Real patterns
bend away from linear beyond about ±θ₃/2; detections further off boresight than θ₃ are
reported with their (honest, large) angle variance but should not be trusted.
"""
from __future__ import annotations

import numpy as np

from .params import RadarParams

LN2 = float(np.log(2.0))


def wrap(a):
    """Angle(s) wrapped to (−π, π]."""
    return np.angle(np.exp(1j * np.asarray(a, dtype=np.float64)))


def off_boresight(params: RadarParams, az, el, pointing) -> tuple[np.ndarray, np.ndarray]:
    """(θ_az, θ_el) of directions (az, el) for a beam pointed at ``pointing`` = (az₀, el₀)."""
    return wrap(np.asarray(az) - pointing[0]), np.asarray(el) - pointing[1]


def patterns(params: RadarParams, th_az, th_el) -> np.ndarray:
    """Two-way voltage gains (3, k) of the (sum, daz, del) channels at offsets (θ_az, θ_el)."""
    ua = np.asarray(th_az, float) / params.beamwidth_az_rad
    ue = np.asarray(th_el, float) / params.beamwidth_el_rad
    s = np.exp(-2.0 * LN2 * (ua * ua + ue * ue))
    km = params.monopulse_slope
    return np.stack([s * s, km * ua * s * s, km * ue * s * s])
