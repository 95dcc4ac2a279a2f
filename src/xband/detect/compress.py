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

from ..errors import ConfigError, InputError
from ..radar import waveform
from ..radar.params import RadarParams

WINDOWS = ("none", "hamming", "taylor")


def hamming(n: int) -> np.ndarray:
    """Symmetric Hamming taper 0.54 − 0.46·cos(2πk/(n−1)), k = 0 … n−1, written as the
    cosine sum over φ = −π … π that scipy.signal.windows.hamming evaluates (the same bits).
    Here rather than from scipy.signal, whose import costs about a second per process."""
    if n <= 1:
        return np.ones(n)
    phi = np.linspace(-np.pi, np.pi, n)
    w = np.zeros(n)
    for k, a in enumerate((0.54, 1.0 - 0.54)):
        w += a * np.cos(k * phi)
    return w


def taylor(n: int, nbar: int = 4, sll: float = 30.0) -> np.ndarray:
    """Symmetric Taylor taper with ``nbar`` nearly constant sidelobes at −``sll`` dB,
    normalised to 1 at the centre (Doerry, "Catalog of window taper functions for sidelobe
    control", Sandia SAND2017-4042, eqs. for the Taylor weighting):
    w(k) = 1 + 2 Σ_{m<n̄} F_m cos(2πm(k − n/2 + ½)/n), with
    F_m = (−1)^{m+1} Π_i (1 − m²/(σ²(A² + (i − ½)²))) / (2 Π_{i≠m} (1 − m²/i²)),
    A = acosh(10^{sll/20})/π, σ² = n̄²/(A² + (n̄ − ½)²). Evaluated in the order of
    scipy.signal.windows.taylor (tests/detect compare the two)."""
    if n <= 1:
        return np.ones(n)
    B = np.float64(10 ** (sll / 20))
    A = np.arccosh(B) / np.pi
    s2 = nbar ** 2 / (A ** 2 + (nbar - 0.5) ** 2)
    ma = np.arange(1, nbar, dtype=np.float64)
    signs = np.empty_like(ma)
    signs[::2], signs[1::2] = 1, -1
    m2 = ma * ma
    Fm = np.empty(nbar - 1)
    for i in range(nbar - 1):
        numer = signs[i] * np.prod(1 - m2[i] / s2 / (A ** 2 + (ma - 0.5) ** 2))
        denom = 2 * np.prod(1 - m2[i] / m2[:i]) * np.prod(1 - m2[i] / m2[i + 1:])
        Fm[i] = numer / denom

    def W(k):
        return 1 + 2 * np.matmul(Fm, np.cos(2 * np.pi * ma[:, np.newaxis] * (k - n / 2. + 0.5) / n))

    w = W(np.arange(n, dtype=np.float64))
    w *= 1.0 / W((n - 1) / 2)
    return w


def window(name: str, n: int) -> np.ndarray:
    """A real taper of length n: ``none`` (ones), ``hamming``, ``taylor`` (n̄=4, −30 dB)."""
    if name == "none":
        return np.ones(n)
    if name == "hamming":
        return hamming(n)
    if name == "taylor":
        return taylor(n, nbar=4, sll=30.0)
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
