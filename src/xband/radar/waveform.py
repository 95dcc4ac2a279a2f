"""Transmit waveforms, as functions of continuous time so that any delay is exact.

* LFM: an up-chirp from −B/2 to +B/2 over the pulse width τ (the SigMF ``xband:waveform``
  ``"lfm"``): s(t) = exp(jπ (B/τ) (t − τ/2)²) for 0 ≤ t < τ, else 0.
* Barker-13: 13 rectangular chips of τ/13 with phases 0/π, code
  + + + + + − − + + − + − + (Levanon & Mozeson, *Radar Signals*, 2004, table 6.1).

Both have unit amplitude, so a pulse sampled at fs carries energy round(τ·fs) (unit power
per sample).

Fractional delays (``delayed``): the receiver sees the echo through its anti-aliasing
filter, i.e. band-limited to the sampled band. An echo delayed by n₀ + μ samples is the
sampled replica shifted by n₀ and by μ through the exact band-limited (DFT phase-ramp)
fractional delay  e = IFFT(FFT(s) · exp(−j2π f μ)),  on a local grid long enough for the
edge ringing. Its correlation with the replica is then the band-limited autocorrelation at
lag μ, symmetric in μ — which sampling the hard-edged pulse at shifted instants is not
(that biases the range by a few hundredths of a sample).
"""
from __future__ import annotations

import numpy as np

from ..errors import ConfigError
from .params import RadarParams

BARKER13 = np.array([1, 1, 1, 1, 1, -1, -1, 1, 1, -1, 1, -1, 1], dtype=np.float64)


def lfm(t, pulse_width_s: float, bandwidth_hz: float) -> np.ndarray:
    """Complex LFM up-chirp at times ``t`` (s, any shape), zero outside [0, τ)."""
    t = np.asarray(t, dtype=np.float64)
    inside = (t >= 0.0) & (t < pulse_width_s)
    tc = t - 0.5 * pulse_width_s
    ph = np.pi * (bandwidth_hz / pulse_width_s) * tc * tc
    return np.where(inside, np.exp(1j * ph), 0.0)


def barker13(t, pulse_width_s: float) -> np.ndarray:
    """Barker-13 phase code at times ``t`` (s), chips of τ/13, zero outside [0, τ)."""
    t = np.asarray(t, dtype=np.float64)
    chip = np.floor(t * (13.0 / pulse_width_s)).astype(np.int64)
    inside = (chip >= 0) & (chip < 13)
    return np.where(inside, BARKER13[np.clip(chip, 0, 12)], 0.0).astype(np.complex128)


def evaluate(params: RadarParams, t) -> np.ndarray:
    """The waveform of ``params`` at times ``t`` (s)."""
    if params.waveform == "lfm":
        return lfm(t, params.pulse_width_s, params.bandwidth_hz)
    if params.waveform == "barker13":
        return barker13(t, params.pulse_width_s)
    raise ConfigError(f"waveform: unknown {params.waveform!r}")


def replica(params: RadarParams) -> np.ndarray:
    """The transmitted pulse sampled at fs: complex128 of length ``params.pulse_samples``."""
    n = np.arange(params.pulse_samples)
    return evaluate(params, n / params.sample_rate_hz)


def delay_grid(params: RadarParams) -> tuple[int, int]:
    """(nfft, lead): the local grid of ``delayed`` — the pulse starts at index ``lead``."""
    from scipy.fft import next_fast_len

    L = params.pulse_samples
    lead = max(16, L // 4)
    return next_fast_len(L + 2 * lead), lead


_SPECTRA: dict = {}


def _spectrum(params: RadarParams) -> np.ndarray:
    """FFT of the replica placed at ``lead`` on the local grid (cached per waveform)."""
    key = (params.waveform, params.pulse_width_s, params.bandwidth_hz,
           params.sample_rate_hz)
    S = _SPECTRA.get(key)
    if S is None:
        nfft, lead = delay_grid(params)
        s = np.zeros(nfft, complex)
        s[lead:lead + params.pulse_samples] = replica(params)
        S = _SPECTRA[key] = np.fft.fft(s)
    return S


def delayed(params: RadarParams, mu) -> np.ndarray:
    """Band-limited replicas delayed by fractions ``mu`` (k,) of a sample: (k, nfft) complex
    on the grid of :func:`delay_grid` (pulse start at ``lead`` + mu)."""
    nfft, _ = delay_grid(params)
    S = _spectrum(params)
    mu = np.atleast_1d(np.asarray(mu, float))
    # the phase ramp exp(−j2π f μ), f = fftfreq(nfft): z^k for k < nfft/2 and
    # z^k · e^{j2πμ} above (negative frequencies), z = e^{−j2πμ/nfft}, by cumulative products
    z = np.exp(-2j * np.pi * mu / nfft)
    ramp = np.empty((mu.size, nfft), complex)
    ramp[:, 0] = 1.0
    ramp[:, 1:] = z[:, None]
    np.cumprod(ramp, axis=1, out=ramp)
    ramp[:, nfft // 2:] *= np.exp(2j * np.pi * mu)[:, None]
    ramp *= S[None, :]
    return np.fft.ifft(ramp, axis=1)
