"""The radar range equation and detection theory, in one small module.

Radar equation (monostatic, matched filter; Skolnik, *Radar Handbook* 3rd ed. §1.6,
Richards, *Fundamentals of Radar Signal Processing* 2nd ed. eq. 2.43; the same as MATLAB's
``radareqsnr``)::

    SNR = P_t · τ · G² · λ² · σ / ((4π)³ · k · T_s · R⁴ · L)          (one pulse)

P_t·τ is the pulse energy, so SNR is the matched-filter output SNR whatever the waveform's
bandwidth. Coherent integration of M pulses multiplies it by M.

Detection (square-law detector, noise-only cells exponential): for a threshold T on the
normalised power of one cell, Pfa = exp(−T). Exact Pd for a steady target (Swerling 0) is
Marcum's Q; Swerling 1 (Rayleigh amplitude, constant over the pulses) and 3 (χ² with 4 dof)
are integrated over the fluctuation; Swerling 2 and 4 fluctuate pulse to pulse. The
classical approximations are Albersheim's equation (Swerling 0) and Shnidman's equation
(Swerling 0–4), Richards §6.2.

Inputs in dB end in ``_db``; everything else is linear and SI.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import integrate, optimize, special   # scipy.stats only where used: ~1 s import

from ..errors import ConfigError
from .params import K_BOLTZMANN, RadarParams

FOUR_PI_CUBED = (4.0 * math.pi) ** 3


def db(x):
    """10·log10(x) (power ratio → dB)."""
    return 10.0 * np.log10(x)


def undb(x_db):
    """10^(x/10) (dB → power ratio)."""
    return 10.0 ** (np.asarray(x_db, dtype=float) / 10.0)


# ------------------------------------------------------------------ radar equation
def snr(range_m, wavelength_m, peak_power_w, pulse_width_s, *, rcs_m2=1.0, gain_db=20.0,
        system_temp_k=290.0, losses_db=0.0):
    """Single-pulse matched-filter SNR (linear) of a target at ``range_m`` (monostatic)."""
    g = undb(gain_db)
    num = peak_power_w * pulse_width_s * g * g * wavelength_m ** 2 * rcs_m2
    den = FOUR_PI_CUBED * K_BOLTZMANN * system_temp_k * np.asarray(range_m, float) ** 4 \
        * undb(losses_db)
    return num / den


def snr_db(range_m, wavelength_m, peak_power_w, pulse_width_s, **kw):
    """:func:`snr` in dB (MATLAB ``radareqsnr``)."""
    return db(snr(range_m, wavelength_m, peak_power_w, pulse_width_s, **kw))


def max_range(snr_db_req, wavelength_m, peak_power_w, pulse_width_s, **kw):
    """Range (m) at which the single-pulse SNR equals ``snr_db_req`` (MATLAB ``radareqrng``)."""
    s1 = snr(1.0, wavelength_m, peak_power_w, pulse_width_s, **kw)   # SNR at 1 m ∝ R⁻⁴
    return (s1 / undb(snr_db_req)) ** 0.25


def peak_power(range_m, snr_db_req, wavelength_m, pulse_width_s, **kw):
    """Peak power (W) that gives ``snr_db_req`` at ``range_m`` (MATLAB ``radareqpow``)."""
    s = snr(range_m, wavelength_m, 1.0, pulse_width_s, **kw)
    return undb(snr_db_req) / s


def params_snr(params: RadarParams, range_m, rcs_m2=1.0, *, integrated: bool = False):
    """SNR of a target on boresight for ``params``: one pulse or, with ``integrated``,
    after coherent integration of the CPI's pulses (× M). Uses T_s = params.system_temp_k."""
    s = snr(range_m, params.wavelength_m, params.peak_power_w, params.pulse_width_s,
            rcs_m2=rcs_m2, gain_db=params.antenna_gain_db,
            system_temp_k=params.system_temp_k, losses_db=params.losses_db)
    return s * params.pulses_per_cpi if integrated else s


# ------------------------------------------------------------------ detection theory
def _check_pd_pfa(pd, pfa):
    if not (0.0 < pfa < 1.0):
        raise ConfigError(f"pfa: must be in (0, 1), got {pfa!r}")
    if pd is not None and not (0.0 < pd < 1.0):
        raise ConfigError(f"pd: must be in (0, 1), got {pd!r}")


def threshold(pfa: float, n: int = 1) -> float:
    """Threshold T on the sum of ``n`` unit-mean exponential noise powers with P(sum > T)
    = pfa: the inverse regularised upper incomplete gamma function."""
    _check_pd_pfa(None, pfa)
    return float(special.gammainccinv(n, pfa))


def _pd_steady(snr_lin, T, n):
    # Sum of n powers |s + w|² with |s|² = snr, E|w|² = 1: 2·sum ~ χ'²(2n, 2n·snr)
    from scipy import stats

    return stats.ncx2.sf(2.0 * T, 2 * n, 2.0 * n * np.asarray(snr_lin, float))


def pd_exact(snr_lin, pfa: float, n: int = 1, swerling: int = 0):
    """Exact Pd of a square-law detector with noncoherent integration of ``n`` pulses at
    per-pulse average SNR ``snr_lin``, for Swerling case 0–4 (Richards §6.2; Swerling 1/3
    by quadrature over the fluctuation; 2 by the closed form; 4 by quadrature of the
    per-pulse χ²₄ fluctuation's characteristic function is not implemented → Shnidman)."""
    _check_pd_pfa(None, pfa)
    T = threshold(pfa, n)
    s = np.asarray(snr_lin, float)
    if swerling == 0:
        return _pd_steady(s, T, n)
    if swerling == 2:                       # each pulse exponential with mean 1 + snr
        return special.gammaincc(n, T / (1.0 + s))
    if swerling in (1, 3):
        from scipy import stats

        k = 1.0 if swerling == 1 else 2.0   # χ² with 2k dof, unit mean: Gamma(k, 1/k)

        def one(si):
            f = lambda x: _pd_steady(si * x, T, n) * stats.gamma.pdf(x, k, scale=1.0 / k)
            return integrate.quad(f, 0.0, np.inf, limit=200, epsabs=1e-12)[0]

        return np.vectorize(one)(s)
    raise ConfigError(f"swerling: exact Pd implemented for cases 0–3, got {swerling!r}")


def required_snr_db(pd: float, pfa: float, n: int = 1, swerling: int = 0) -> float:
    """Per-pulse SNR (dB) at which :func:`pd_exact` reaches ``pd`` (root of the exact Pd)."""
    _check_pd_pfa(pd, pfa)
    f = lambda x_db: float(pd_exact(undb(x_db), pfa, n, swerling)) - pd
    return float(optimize.brentq(f, -30.0, 80.0, xtol=1e-6))


def albersheim_snr_db(pd: float, pfa: float, n: int = 1) -> float:
    """Albersheim's equation: per-pulse SNR (dB) for a steady target, ``n`` pulses
    noncoherently integrated (valid 0.1 ≤ pd ≤ 0.9, 1e−7 ≤ pfa ≤ 1e−3, 1 ≤ n ≤ 8096)."""
    _check_pd_pfa(pd, pfa)
    A = math.log(0.62 / pfa)
    B = math.log(pd / (1.0 - pd))
    return (-5.0 * math.log10(n)
            + (6.2 + 4.54 / math.sqrt(n + 0.44)) * math.log10(A + 0.12 * A * B + 1.7 * B))


def shnidman_snr_db(pd: float, pfa: float, n: int = 1, swerling: int = 0) -> float:
    """Shnidman's equation (Richards, *Fundamentals*, 2nd ed. §6.2.5): per-pulse SNR (dB)
    for Swerling 0–4, ``n`` pulses noncoherently integrated (0.1 ≤ pd ≤ 0.99)."""
    _check_pd_pfa(pd, pfa)
    K = {0: math.inf, 1: 1.0, 2: float(n), 3: 2.0, 4: 2.0 * n}.get(swerling)
    if K is None:
        raise ConfigError(f"swerling: expected 0–4, got {swerling!r}")
    alpha = 0.0 if n < 40 else 0.25
    eta = (math.sqrt(-0.8 * math.log(4.0 * pfa * (1.0 - pfa)))
           + math.copysign(1.0, pd - 0.5) * math.sqrt(-0.8 * math.log(4.0 * pd * (1.0 - pd))))
    x_inf = eta * (eta + 2.0 * math.sqrt(n / 2.0 + (alpha - 0.25)))
    if math.isinf(K):
        c_db = 0.0
    else:
        c1 = (((17.7006 * pd - 18.4496) * pd + 14.5339) * pd - 3.525) / K
        c2 = (math.exp(27.31 * pd - 25.14)
              + (pd - 0.8) * (0.7 * math.log(1e-5 / pfa) + (2 * n - 20) / 80.0)) / K
        c_db = c1 if pd <= 0.872 else c1 + c2
    return c_db + 10.0 * math.log10(x_inf / n)
