"""Scene → I/Q: one CPI of a pulse-Doppler radar as a ``Cube`` (complex64 [channel, pulse,
sample]).

Model (DESIGN.md's signal convention; no stop-and-hop within the pulse). Pulse q is
transmitted at t_q = t + q/PRF; a point target at R(τ) = |p + v·τ| (τ from t) reflects its
leading edge at t_r, c·(t_r − t_q) = R(t_r) =: R_q, with range rate ṙ_q. A sample received
u seconds after that edge's echo (t' = t_q + 2R_q/c + u) was reflected at range
R_q + ṙ_q·u·c/(c + ṙ_q), so in every receiver channel c

    y_c(t') = a · g_c(θ) · ξ · s(u) · exp(−j 4π R_q / λ) · exp(j 2π f_d u),
    f_d = −(2ṙ_q/λ)·c/(c + ṙ_q),

i.e. the transmitted waveform delayed by 2R/c with the carrier phase −4πR/λ of the range
at each fast-time sample. Pulse to pulse this is the Doppler phase and the range walk
(R_q moves with q); within the pulse the Doppler progression, which for an LFM shifts the
compressed peak (range–Doppler coupling, docs/detection.md). Neglected: the envelope's
time scaling by (c − ṙ)/(c + ṙ) (a delay drift of 2|ṙ|τ/c across the pulse: 0.67 ns
for 1 km/s and 100 µs, 1/40 of a sample at 40 MHz) and the range acceleration within
one pulse. s is the waveform (band-limited, so the delay is fractional-sample exact),
g_c the two-way monopulse voltage pattern (:mod:`xband.radar.antenna`), a the
amplitude from the radar equation and ξ the Swerling fluctuation (0: 1; 1: complex
Gaussian, one draw per CPI; 3: χ²₄ power, one draw per CPI; 2 and 4: the same per pulse).
The echo of pulse q lands in whichever PRI and sample its delay puts it: targets beyond the
unambiguous range fold (earlier pulses, transmitted before the CPI, are included), echoes
that straddle a transmission are cut by the receiver blanking.

Scaling: the cube is in units of the thermal noise, i.e. complex white Gaussian noise of
unit power per sample (k·T_s·fs in watts) is added to every channel, so |a|² is the
per-sample SNR P_r / (k T_s fs). The receiver is blanked (zero) during the first
``pulse_samples`` samples of each PRI. Ground clutter (optional) is a zero-mean complex
Gaussian process in each range sample up to ``clutter.max_range_m``, with a Gaussian Doppler
spectrum of standard deviation ``sigma_v_mps``; it enters the sum channel only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, InputError
from ..types import Cube
from . import antenna, equation, waveform
from .params import C, RadarParams

CHANNELS = ("sum", "daz", "del")


@dataclass(frozen=True)
class Clutter:
    """Ground clutter: clutter-to-noise ratio per sample ``cnr_db`` at ``ref_range_m``,
    falling as R⁻³ (surface clutter, beam-limited), present from the blind range up to
    ``max_range_m``; Gaussian Doppler spectrum centred on 0 with std ``sigma_v_mps``."""

    cnr_db: float = 30.0
    ref_range_m: float = 5000.0
    max_range_m: float = 10000.0
    sigma_v_mps: float = 0.3


def _check_targets(pos, vel, rcs):
    pos = np.asarray(pos, dtype=np.float64).reshape(-1, 3)
    vel = np.asarray(vel, dtype=np.float64).reshape(-1, 3)
    rcs = np.asarray(rcs, dtype=np.float64).reshape(-1)
    if not (pos.shape[0] == vel.shape[0] == rcs.shape[0]):
        raise InputError(f"scene: pos {pos.shape}, vel {vel.shape}, rcs {rcs.shape} "
                         "disagree in the number of targets")
    for name, a in (("pos", pos), ("vel", vel), ("rcs", rcs)):
        if not np.all(np.isfinite(a)):
            raise InputError(f"scene: {name} has non-finite values")
    if np.any(rcs < 0):
        raise InputError("scene: rcs must be >= 0")
    return pos, vel, rcs


def _fluctuation(swerling, k, P, rng):
    """Complex voltage factors (k, P) with E|ξ|² = 1."""
    if swerling == 0:
        return np.ones((k, 1), complex)
    per_pulse = swerling in (2, 4)
    m = P if per_pulse else 1
    if swerling in (1, 2):
        pw = rng.exponential(1.0, (k, m))
    elif swerling in (3, 4):
        pw = rng.gamma(2.0, 0.5, (k, m))
    else:
        raise ConfigError(f"swerling: expected 0–4, got {swerling!r}")
    return np.sqrt(pw) * np.exp(2j * np.pi * rng.random((k, m)))


def echo_amplitude(params: RadarParams, range_m, rcs_m2) -> np.ndarray:
    """Per-sample voltage amplitude a = √(P_r / (k T_s fs)) of targets on boresight."""
    snr_pulse = equation.params_snr(params, np.maximum(range_m, 1.0), rcs_m2)
    return np.sqrt(snr_pulse / params.pulse_samples)


def _reflection(pos, vel, tq):
    """Reflection of the leading edge of pulses transmitted at ``tq`` (s after t): the
    time t_r with c·(t_r − t_q) = R(t_r), R(t) = |p + v t| (two fixed-point steps: the
    error is of order (ṙ/c)²·R); returns (position, range, range rate) at t_r."""
    tr = tq.copy()
    for _ in range(3):
        pk = pos + vel * tr[:, None]
        R = np.linalg.norm(pk, axis=1)
        tr = tq + R / C
    pk = pos + vel * tr[:, None]
    R = np.linalg.norm(pk, axis=1)
    return pk, R, (pk @ vel) / np.maximum(R, 1e-9)


def _phase_ramp(nu, x0, n):
    """exp(j2π ν_i (x0_i + j)), j = 0 … n − 1, per row i: complex (k, n), by a cumulative
    product (one complex multiply per sample instead of an exponential; the rounding grows
    like n·ε)."""
    r = np.empty((nu.size, n), complex)
    r[:, 0] = np.exp((2j * np.pi) * nu * x0)
    r[:, 1:] = np.exp((2j * np.pi) * nu)[:, None]
    return np.cumprod(r, axis=1, out=r)


def add_targets(data: np.ndarray, params: RadarParams, t: float, pos, vel, rcs,
                pointing, swerling: int, rng) -> None:
    """Add the echoes of point targets to ``data`` (channels, P, Ns) in place.

    Per pulse q and target: the leading edge reflects at t_r (``_reflection``), range R_q,
    range rate ṙ_q; the echo starts 2R_q/c after t_q (fractional-sample exact, band-limited:
    ``waveform.delayed``) and carries the carrier phase −4πR(t_r(u))/λ of every fast-time
    instant u after its start, R = R_q + ṙ_q·u·c/(c + ṙ_q): the starting phase −4πR_q/λ
    and, *within* the pulse, the Doppler progression e^{j2π f_d u}, f_d = −2ṙ_q/λ ·
    c/(c + ṙ_q) (no stop-and-hop inside the pulse; for an LFM this gives the
    range–Doppler coupling of docs/detection.md)."""
    pos, vel, rcs = _check_targets(pos, vel, rcs)
    nch, P, Ns = data.shape
    fs, prf, lam = params.sample_rate_hz, params.prf_hz, params.wavelength_m
    xi = _fluctuation(swerling, pos.shape[0], P, rng)
    nfft, lead = waveform.delay_grid(params)
    win = np.arange(nfft) - lead
    for k in range(pos.shape[0]):
        r_mid = np.linalg.norm(pos[k] + vel[k] * 0.5 * params.cpi_duration_s)
        M = int(np.floor(2.0 * r_mid / C * prf))
        p_rx = np.arange(P)
        for m in (M - 1, M, M + 1):
            if m < 0:
                continue
            q = p_rx - m                                     # transmitting pulse
            tq = q / prf                                     # relative to t
            pk, R, rdot = _reflection(pos[k], vel[k], tq)
            start = (2.0 * R / C - m / prf) * fs             # echo start in PRI p (samples)
            n0 = np.floor(start)
            n = n0[:, None].astype(np.int64) + win           # (P, nfft)
            ok = (n >= 0) & (n < Ns)
            rows = np.flatnonzero(ok.any(axis=1))            # pulses this echo reaches
            if rows.size == 0:
                continue
            n, ok, pk, R, rdot, q = n[rows], ok[rows], pk[rows], R[rows], rdot[rows], q[rows]
            mu = start[rows] - n0[rows]
            s = waveform.delayed(params, mu)                 # band-limited delay
            # intra-pulse Doppler: e^{j2π (f_d/fs)(j − lead − μ)} on the local grid
            nu = (-2.0 / lam) * rdot * (C / (C + rdot)) / fs  # cycles per sample
            s *= _phase_ramp(nu, -lead - mu, nfft)
            az = np.arctan2(pk[:, 0], pk[:, 1])
            el = np.arctan2(pk[:, 2], np.hypot(pk[:, 0], pk[:, 1]))
            th_az, th_el = antenna.off_boresight(params, az, el, pointing)
            g = antenna.patterns(params, th_az, th_el)[:nch]      # (nch, rows)
            amp = echo_amplitude(params, R, rcs[k])
            ph = np.exp(-1j * np.mod(4.0 * np.pi * R / lam, 2 * np.pi))
            fl = xi[k] if xi.shape[1] == 1 else xi[k, np.mod(q, P)]
            base = ((amp * ph * fl)[:, None] * s)[ok]        # sum-beam-free echo samples
            gk = np.broadcast_to(np.arange(rows.size)[:, None], ok.shape)[ok]
            flat = (rows[:, None] * Ns + n)[ok]              # unique within one m
            for c in range(nch):
                dc = data[c].reshape(-1)
                dc[flat] += (g[c][gk] * base).astype(np.complex64)


def add_clutter(data: np.ndarray, params: RadarParams, clutter: Clutter, rng) -> None:
    """Add ground clutter to the sum channel of ``data`` in place (see the module doc)."""
    _, P, Ns = data.shape
    L = params.pulse_samples
    fs = params.sample_rate_hz
    n_hi = min(Ns, int(clutter.max_range_m * 2 * fs / C))
    if n_hi <= 0:
        return
    n = np.arange(n_hi)
    r = np.maximum(n * C / (2 * fs), 1.0)
    cnr = 10 ** (clutter.cnr_db / 10) * (clutter.ref_range_m / r) ** 3
    # scatterer amplitude per sample, scaled so that after convolution with the unit-power
    # pulse of L samples the clutter power per sample is cnr (L overlapping scatterers)
    sig_f = 2.0 * clutter.sigma_v_mps / params.wavelength_m           # Doppler std (Hz)
    f = np.fft.fftfreq(P, 1.0 / params.prf_hz)
    shape = np.exp(-0.25 * (f / sig_f) ** 2) if sig_f > 0 else (f == 0).astype(float)
    shape /= np.sqrt(np.mean(shape ** 2))                             # unit mean power
    w = (rng.standard_normal((P, n_hi)) + 1j * rng.standard_normal((P, n_hi))) / np.sqrt(2)
    c = np.fft.ifft(np.fft.fft(w, axis=0) * shape[:, None], axis=0)   # Gaussian spectrum
    c *= np.sqrt(cnr / L)[None, :]
    s = waveform.replica(params)
    nfft = 1 << int(np.ceil(np.log2(n_hi + L)))
    conv = np.fft.ifft(np.fft.fft(c, nfft, axis=1) * np.fft.fft(s, nfft)[None, :], axis=1)
    m = min(Ns, n_hi + L)
    data[0, :, :m] += conv[:, :m].astype(np.complex64)


def synthesize(params: RadarParams, t: float, pos, vel, rcs, rng: np.random.Generator, *,
               pointing=None, swerling: int = 0, channels: int = 3,
               clutter: Clutter | None = None, noise: bool = True) -> Cube:
    """One CPI at time ``t`` of targets at ``pos``/``vel`` (k, 3) ENU with RCS ``rcs`` (k,).

    ``pointing`` = (az₀, el₀) of the beam (default: the first target's direction at t, or
    (0, 0) without targets); ``channels`` 1 (sum) or 3 (sum, daz, del). Returns a ``Cube``
    whose ``t`` is the transmission time of pulse 0.
    """
    if channels not in (1, 3):
        raise ConfigError(f"channels: expected 1 or 3, got {channels!r}")
    pos, vel, rcs = _check_targets(pos, vel, rcs)
    if pointing is None:
        pointing = direction_of(pos[0]) if pos.shape[0] else (0.0, 0.0)
    P, Ns = params.pulses_per_cpi, params.samples_per_pri
    shape = (channels, P, Ns)
    if noise:
        data = complex_noise(shape, rng)
    else:
        data = aligned_empty(shape)
        data[...] = 0
    if clutter is not None:
        add_clutter(data, params, clutter, rng)
    if pos.shape[0]:
        add_targets(data, params, t, pos, vel, rcs, pointing, swerling, rng)
    data[:, :, :params.pulse_samples] = 0                    # receiver blanked on transmit
    return Cube(data=data, t=t, channels=CHANNELS[:channels])


def complex_noise(shape, rng: np.random.Generator) -> np.ndarray:
    """Circular complex white Gaussian noise of unit power, complex64 of ``shape``.

    Polar form, one draw pair per complex sample: |w|² ~ Exp(1) (numpy's ziggurat
    ``standard_exponential``, whose tail is exact) and the phase 2π·u is uniform, which
    makes w exactly CN(0, 1) — about 2× faster here than two ``standard_normal`` draws."""
    n = int(np.prod(shape))
    r = rng.standard_exponential(n, dtype=np.float32)
    np.sqrt(r, out=r)
    ph = rng.random(n, dtype=np.float32)
    ph *= np.float32(2.0 * np.pi)
    out = aligned_empty((n,))
    v = out.view(np.float32)
    np.cos(ph, out=v[0::2])
    np.sin(ph, out=v[1::2])
    v[0::2] *= r
    v[1::2] *= r
    return out.reshape(shape)


ALIGN = 64


def aligned_empty(shape) -> np.ndarray:
    """An uninitialised complex64 array of ``shape`` starting on an ``ALIGN``-byte (cache
    line, AVX-512) boundary. The cubes are allocated so: the detection chain's FFTW plans
    then read the sum channel's rows in place instead of copying them into an aligned
    buffer first (numpy's own allocations are only 16-byte aligned)."""
    n = int(np.prod(shape))
    buf = np.empty(n * 8 + ALIGN, np.uint8)
    off = -buf.ctypes.data % ALIGN
    return buf[off:off + n * 8].view(np.complex64).reshape(shape)


def direction_of(p) -> tuple[float, float]:
    """(az, el) of an ENU position."""
    p = np.asarray(p, float)
    return (float(np.arctan2(p[0], p[1])), float(np.arctan2(p[2], np.hypot(p[0], p[1]))))
