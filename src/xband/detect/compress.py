"""Pulse compression: the FFT matched filter, aligned so that sample n ↔ delay n/fs.

y[p, n] = Σ_k x[p, n + k] · h*[k],   h = w ⊙ s / ‖w ⊙ s‖

(s the replica, w the window: ``none``, ``hamming`` or ``taylor`` (n̄ = 4, −30 dB)). The
peak of an echo that starts at sample n₀ is at y[n₀], i.e. range c·n₀/(2 fs). h has unit
energy, so white noise of unit power per sample stays unit power, and an echo of amplitude
a per sample peaks at |a|²·|⟨s, h⟩|² = |a|²·L (L = τ·fs samples) less the window's loss:
``PulseCompressor.gain``.

The correlation is circular over the PRI's Ns samples (one FFT of length Ns, a power of two
for the default radar). That is exact here because the receiver is blanked for the first
L = pulse_samples samples of every PRI: the wrapped samples are zeros. Gates n > Ns − L
see an echo only partly (eclipsed); the chain tests gates L ≤ n ≤ Ns − L.
"""
from __future__ import annotations

import numpy as np
import scipy.fft as sfft
from scipy.signal import windows as sw

from ..errors import ConfigError, InputError
from ..radar import waveform
from ..radar.params import RadarParams

WINDOWS = ("none", "hamming", "taylor")


def window(name: str, n: int) -> np.ndarray:
    """A real taper of length n: ``none`` (ones), ``hamming``, ``taylor`` (n̄=4, −30 dB)."""
    if name == "none":
        return np.ones(n)
    if name == "hamming":
        return sw.hamming(n, sym=True)
    if name == "taylor":
        return sw.taylor(n, nbar=4, sll=30, norm=True, sym=True)
    raise ConfigError(f"window: expected one of {WINDOWS}, got {name!r}")


class PulseCompressor:
    """Plan: the replica's spectrum for ``params`` and ``window``; ``apply`` per cube."""

    def __init__(self, params: RadarParams, window_name: str = "none"):
        self.params = params
        self.window_name = window_name
        s = waveform.replica(params)
        h = window(window_name, s.size) * s
        self.h = h / np.linalg.norm(h)                  # unit-energy filter
        self.Ns = params.samples_per_pri
        # y = IFFT(FFT(x) · conj(FFT(h)))  is the circular correlation Σ_k x[n+k] h*[k]
        self.H = np.conj(sfft.fft(self.h, self.Ns)).astype(np.complex64)
        self.gain = float(np.abs(np.sum(self.h.conj() * s)) ** 2)   # peak SNR / input SNR

    def apply(self, x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Compress every pulse of ``x`` (complex64 [..., Ns]); returns complex64."""
        if x.shape[-1] != self.Ns:
            raise InputError(f"pulse compression: {x.shape[-1]} samples per pulse, "
                             f"the radar has {self.Ns}")
        X = sfft.fft(x, axis=-1, workers=1, overwrite_x=False)
        X *= self.H
        return sfft.ifft(X, axis=-1, workers=1, overwrite_x=True)

    def at_gates(self, x: np.ndarray, gates: np.ndarray) -> np.ndarray:
        """Compressed samples of ``x`` (complex [P, Ns]) at the given gates only:
        (len(gates), P) — the direct correlation, O(P·L) per gate."""
        L = self.h.size
        cols = (np.asarray(gates)[:, None] + np.arange(L)[None, :]) % self.Ns
        seg = x[:, cols]                                   # (P, n, L)
        return np.einsum("pnl,l->np", seg, np.conj(self.h).astype(np.complex64))
