"""MTI cancellers and Doppler processing across the pulses of a CPI.

MTI (Richards §5.2): the 2-pulse canceller y_p = (x_p − x_{p−1})/√2 and the 3-pulse
y_p = (x_p − 2x_{p−1} + x_{p−2})/√6, p = order … P−1 (unit noise gain, so noise stays unit
power). Their power response at Doppler f is 2 sin²(πf/PRF) and (8/3) sin⁴(πf/PRF).

Doppler: X[k] = Σ_p w_p (−1)^p y_p e^{−j2πkp/M}, M = P bins, window w normalised to unit
energy. The (−1)^p factor is the fftshift (for even M), fused into the window: bin k holds
the Doppler frequency f_k = (k − M/2)·PRF/M, i.e. range rate ṙ_k = −λ f_k / 2 (positive
Doppler for a closing target, DESIGN.md). Velocities are observed folded into
(−v_ua, v_ua], v_ua = λ·PRF/4.
"""
from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from ..errors import ConfigError
from .compress import window

MTI_TAPS = {0: np.array([1.0]), 2: np.array([1.0, -1.0]) / np.sqrt(2.0),
            3: np.array([1.0, -2.0, 1.0]) / np.sqrt(6.0)}


def mti(x: np.ndarray, order: int, axis: int = 0) -> np.ndarray:
    """The ``order``-pulse canceller (0: none, 2, 3) along ``axis`` (taps in the module
    doc); returns P − (order − 1) pulses (order 0 returns x itself)."""
    if order not in MTI_TAPS:
        raise ConfigError(f"mti: order must be 0, 2 or 3, got {order!r}")
    if order == 0:
        return x
    c = MTI_TAPS[order]
    x = np.moveaxis(x, axis, 0)
    n = x.shape[0] - (c.size - 1)
    y = c[-1] * x[0:n]
    for i in range(c.size - 2, -1, -1):                 # y_p = Σ_i c_i x_{p−i}
        y = y + c[i] * x[c.size - 1 - i: c.size - 1 - i + n]
    return np.moveaxis(y.astype(x.dtype, copy=False), 0, axis)


def mti_matrix(P: int, order: int) -> np.ndarray:
    """The canceller as a (P − order + 1, P) matrix (order 0: identity)."""
    c = MTI_TAPS[order]
    n = P - (c.size - 1)
    D = np.zeros((n, P))
    for p in range(n):
        for i in range(c.size):
            D[p, p + c.size - 1 - i] = c[i]
    return D


class DopplerProcessor:
    """Plan for P pulses (after MTI) into M = ``n_bins`` shifted Doppler bins."""

    def __init__(self, n_pulses: int, n_bins: int, window_name: str = "hamming"):
        if n_bins % 2 or n_bins < n_pulses:
            raise ConfigError(f"doppler: n_bins must be even and >= pulses, got {n_bins}")
        w = window(window_name, n_pulses)
        w = w / np.linalg.norm(w)
        self.w = w
        self.M = n_bins
        shift = np.where(np.arange(n_pulses) % 2, -1.0, 1.0)        # fftshift (M even)
        self.real_weights = w * shift                                # float64
        self.weights = self.real_weights.astype(np.complex64)

    def apply(self, y: np.ndarray) -> np.ndarray:
        """y complex64 [P, Nr] → X complex64 [M, Nr] (shifted Doppler axis)."""
        yw = y * self.weights[:, None]
        return sfft.fft(yw, n=self.M, axis=0, workers=1, overwrite_x=True)

    def at_bins(self, y: np.ndarray, bins: np.ndarray) -> np.ndarray:
        """y (n, P) per detection → X (n,) at shifted bins ``bins`` (n,)."""
        p = np.arange(y.shape[-1])
        e = np.exp(-2j * np.pi * np.outer(bins, p) / self.M) * self.weights[None, :]
        return np.sum(y * e, axis=-1)
