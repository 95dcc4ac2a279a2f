"""2-D CFAR: thresholds from the requested Pfa, and the detector plan over a power map.

Noise-only cells of a square-law map are exponential with mean μ; with a noise estimate Z
from N training cells and a threshold α·Z, the false-alarm probabilities are (Gandhi &
Kassam, IEEE T-AES 24(4), 1988; Rohling, IEEE T-AES 19(4), 1983; Richards §7.3–7.4):

* CA, Z the mean of N cells:               Pfa = (1 + α/N)^(−N)   →  α = N (Pfa^(−1/N) − 1)
* GO / SO, Z the larger / smaller of the means of two halves of n = N/2 cells; with
  T = α/n the multiplier on the half *sums*:
      Pfa_SO = 2 Σ_{k=0}^{n−1} C(n−1+k, k) (2+T)^(−(n+k))
      Pfa_GO = 2 (1+T)^(−n) − Pfa_SO                       (α solved numerically)
* OS, Z the k-th smallest of N cells:       Pfa = Π_{i=0}^{k−1} (N−i) / (N−i+α)   (solved)

The window geometry, the halves of GO/SO and the edge policy (Doppler circular, range
cells whose window leaves the map are not tested) are documented in
``xband.reference.cfar``; the kernel is ``xband._ext.cfar.cfar_2d`` (CA/GO/SO by running
sums, O(1) per cell; OS by a histogram of quantised levels slid along range, O(T_d + G_d)
per cell, exact selection only where a crossing is possible — identical to the
definition; docs/detection.md).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

from .. import _kernels
from ..errors import ConfigError, InputError

KINDS = {"ca": 0, "go": 1, "so": 2, "os": 3}


def n_training(guard_r: int, guard_d: int, train_r: int, train_d: int) -> int:
    wr, wd = guard_r + train_r, guard_d + train_d
    return (2 * wr + 1) * (2 * wd + 1) - (2 * guard_r + 1) * (2 * guard_d + 1)


def pfa_ca(alpha, N):
    return (1.0 + np.asarray(alpha, float) / N) ** (-N)


def _pfa_so_sum(T, n):
    k = np.arange(n)
    c = special.comb(n - 1 + k, k)
    return 2.0 * np.sum(c * (2.0 + T) ** (-(n + k)))


def pfa_so(alpha, N):
    n = N // 2
    return _pfa_so_sum(alpha / n, n)


def pfa_go(alpha, N):
    n = N // 2
    T = alpha / n
    return 2.0 * (1.0 + T) ** (-n) - _pfa_so_sum(T, n)


def pfa_os(alpha, N, rank):
    i = np.arange(rank)
    return float(np.exp(np.sum(np.log(N - i) - np.log(N - i + alpha))))


def alpha_for(kind: str, pfa: float, N: int, rank: int | None = None) -> float:
    """Threshold multiplier α on the noise estimate Z that gives ``pfa`` (see module doc)."""
    if not (0.0 < pfa < 1.0):
        raise ConfigError(f"cfar pfa: must be in (0, 1), got {pfa!r}")
    if kind == "ca":
        return float(N * (pfa ** (-1.0 / N) - 1.0))
    if kind in ("go", "so"):
        f = pfa_go if kind == "go" else pfa_so
        hi = 1.0
        while f(hi, N) > pfa:
            hi *= 2.0
        return float(optimize.brentq(lambda a: np.log(f(a, N)) - np.log(pfa), 1e-12, hi,
                                     xtol=1e-12, rtol=1e-14))
    if kind == "os":
        if rank is None or not (1 <= rank <= N):
            raise ConfigError(f"cfar os rank: must be in 1…{N}, got {rank!r}")
        hi = 1.0
        while pfa_os(hi, N, rank) > pfa:
            hi *= 2.0
        return float(optimize.brentq(lambda a: np.log(pfa_os(a, N, rank)) - np.log(pfa),
                                     1e-12, hi, xtol=1e-12, rtol=1e-14))
    raise ConfigError(f"cfar kind: expected one of {sorted(KINDS)}, got {kind!r}")


@dataclass
class CFAR:
    """A 2-D CFAR plan: window, kind and Pfa → α, fixed; ``detect(power)`` per map.

    ``rank`` (OS only) defaults to ⌈3N/4⌉. ``max_crossings`` bounds the crossings kept per
    map (more raise ``InputError``: the map is not noise-like, e.g. saturated clutter).
    """

    kind: str = "ca"
    pfa: float = 1e-6
    guard_r: int = 2
    guard_d: int = 1
    train_r: int = 8
    train_d: int = 2
    rank: int | None = None
    max_crossings: int = 100_000
    n_eff: float | None = None

    # n_eff: the number of *independent* training cells the threshold is designed for
    # (CA/GO/SO; default N). Oversampled range gates and windowed Doppler bins are
    # correlated, which widens the spread of Z; xband.detect.chain passes
    # N_eff = N² / Σ_ij |ρ_ij|² (the Gamma law with Z's mean and variance).

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ConfigError(f"cfar kind: expected one of {sorted(KINDS)}, got {self.kind!r}")
        for name in ("guard_r", "guard_d", "train_r", "train_d"):
            v = getattr(self, name)
            if not (isinstance(v, (int, np.integer)) and v >= 0):
                raise ConfigError(f"cfar {name}: must be an int >= 0, got {v!r}")
        if self.train_r + self.train_d == 0:
            raise ConfigError("cfar: train_r and train_d are both 0 (no training cells)")
        if self.kind in ("go", "so") and self.train_r == 0:
            raise ConfigError("cfar go/so: train_r must be > 0 (the halves split in range)")
        self.N = n_training(self.guard_r, self.guard_d, self.train_r, self.train_d)
        if self.kind == "os" and self.rank is None:
            self.rank = int(np.ceil(0.75 * self.N))
        if self.kind == "os" or self.n_eff is None:
            self.alpha = alpha_for(self.kind, self.pfa, self.N, self.rank)
        elif self.kind == "ca":
            self.alpha = alpha_for("ca", self.pfa, float(self.n_eff))
        else:           # GO/SO: the closed form for halves of round(n_eff/2) cells, as means
            ne = max(2, 2 * int(round(self.n_eff / 2)))
            self.alpha = alpha_for(self.kind, self.pfa, ne)
        self._work = None
        self._idx = np.empty(self.max_crossings, np.int64)
        self._noise = np.empty(self.max_crossings, np.float64)

    def detect(self, power: np.ndarray, r_lo: int = 0, r_hi: int | None = None):
        """Crossings of ``power`` (float32 [doppler, range]) tested on range gates
        [r_lo, r_hi): (flat indices int64, noise estimates float64), row-major order."""
        if power.ndim != 2 or power.dtype != np.float32 or not power.flags.c_contiguous:
            raise InputError(f"cfar power: expected C-contiguous float32 [doppler, range], "
                             f"got {power.dtype} {power.shape}")
        M, Nr = power.shape
        if 2 * (self.guard_d + self.train_d) + 1 > M:
            raise InputError(f"cfar: Doppler window {2 * (self.guard_d + self.train_d) + 1} "
                             f"exceeds the {M} Doppler bins")
        width = max(Nr + 1, self.N)
        if self._work is None or self._work.shape[1] < width:
            self._work = np.empty((5, width), np.float64)
        r_hi = Nr if r_hi is None else r_hi
        n = _kernels.get("cfar").cfar_2d(power, self.guard_r, self.guard_d, self.train_r,
                                         self.train_d, KINDS[self.kind], self.alpha,
                                         int(self.rank or 1), int(r_lo), int(r_hi),
                                         self._work, self._idx, self._noise)
        if n > self.max_crossings:
            raise InputError(f"cfar: {n} crossings exceed max_crossings={self.max_crossings}")
        return self._idx[:n].copy(), self._noise[:n].copy()
