"""Fused per-sample passes of the detection chain (numpy twin of ext/pulse.pyx).

* ``spectrum_weight(X, H, w, out)``: out[(M − p) mod M, j] = X[p, k(j)] · H[j] · w[p] — the
  matched filter (H = conj(FFT(h)) on the kept bins) and the Doppler window with its
  fftshift sign (w) in one pass over the range spectra of the CPI (complex64), keeping only
  the Nd = out.shape[1] lowest frequencies: k(j) = j for j < Nd/2, j + Ns − Nd otherwise
  (the band of the compressed signal; Nd = Ns keeps all). The P pulses are written in
  reversed order modulo M = out.shape[0] ≥ P (row 0 stays, row p goes to M − p), so that
  one 2-D *backward* FFT of ``out`` gives the backward range transform and the *forward*
  Doppler transform at once (Σ_q out[q] e^{+j2πkq/M} = Σ_p y[p] e^{−j2πkp/M}); the other
  M − P rows are left untouched (the caller keeps them zero). ``out`` must not overlap X.
* ``square_law(X, out)``: out[d, r] = |X[d, r]|² (float32), the square-law detector, for
  r < out.shape[1] (X may be wider: rows padded for the FFT's sake; the rest is ignored).
* ``gate_dft(x, hc, taps, wts, gates, bins, n_bins, out)``: the compressed, MTI-filtered,
  windowed Doppler value of one channel at selected cells only, for monopulse:
      y[p]   = Σ_l x[p, (g + l) mod Ns] · hc[l]                      (hc = conj(h))
      y'[j]  = Σ_i taps[i] · y[j + T − 1 − i],  j = 0 … P − T       (T = len(taps))
      out[i] = Σ_j wts[j] · y'[j] · exp(−j 2π b j / n_bins)
  for each (g, b) = (gates[i], bins[i]); O(P·L) per cell instead of the whole cube.
* ``gate_dft_channels(x, chans, hc, taps, wts, gates, bins, n_bins, work, out)``: the same
  for several channels of a cube x (C, P, Ns) at once (the monopulse Σ, Δaz, Δel):
      out[c, i] = gate_dft of x[chans[c]] at (gates[i], bins[i])
  with ``work`` ≥ 2·L·len(chans) float64 values of scratch owned by the caller (the kernel
  keeps each channel's partial sums there; unused here). The kernel reads each pulse of all
  the channels in one pass and gives the same bits as one gate_dft call per channel.
"""
import numpy as np


def spectrum_weight(X, H, w, out):
    Ns, Nd = X.shape[1], out.shape[1]
    k = np.arange(Nd)
    k = np.where(k < Nd // 2, k, k + Ns - Nd)
    M, P = out.shape[0], X.shape[0]
    out[(M - np.arange(P)) % M] = (X[:, k] * (w[:, None] * H[None, :])).astype(out.dtype)


def square_law(X, out):
    X = X[:, :out.shape[1]]
    out[...] = (X.real.astype(np.float64) ** 2 + X.imag.astype(np.float64) ** 2).astype(np.float32)


def gate_dft(x, hc, taps, wts, gates, bins, n_bins, out):
    P, Ns = x.shape
    L = hc.shape[0]
    T = taps.shape[0]
    for i in range(gates.shape[0]):
        cols = (gates[i] + np.arange(L)) % Ns
        y = x[:, cols].astype(np.complex128) @ hc                 # (P,)
        n = P - T + 1
        ym = np.zeros(n, np.complex128)
        for t in range(T):
            ym += taps[t] * y[T - 1 - t:T - 1 - t + n]
        j = np.arange(n)
        out[i] = np.sum(wts[:n] * ym * np.exp(-2j * np.pi * bins[i] * j / n_bins))


def gate_dft_channels(x, chans, hc, taps, wts, gates, bins, n_bins, work, out):
    if x.ndim != 3 or out.shape != (chans.shape[0], gates.shape[0]) \
            or bins.shape[0] != gates.shape[0] or work.shape[0] < 2 * hc.shape[0] * chans.shape[0]:
        raise ValueError("gate_dft_channels: bad shapes")
    if np.any((chans < 0) | (chans >= x.shape[0])) or np.any((gates < 0) | (gates >= x.shape[2])):
        raise ValueError("gate_dft_channels: channel or gate out of range")
    for c in range(chans.shape[0]):
        gate_dft(x[chans[c]], hc, taps, wts, gates, bins, n_bins, out[c])
