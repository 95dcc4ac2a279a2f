"""Block-wise range-Doppler map passes of the detection chain (numpy twin of ext/rdmap.pyx).

The chain (xband.detect.chain.DetectionChain.range_doppler) forms the map one block of a
few pulses at a time, so that a block's range spectra, weighted spectra and compressed
pulses stay in cache: range FFT of the block → ``weight_block`` → range IFFT into the rows
of the map; then the Doppler FFT along the columns it needs and ``square_law_cols``.

* ``weight_block(F, H, taps, w, reverse, out)``: F complex64 [nb + T − 1, Ns] range spectra
  of consecutive pulses (T = len(taps), the MTI canceller; taps = [1.0] for none), out
  complex64 [nb, Nd]:
      y[i, k]  = Σ_t taps[t] · F[i + T − 1 − t, k]     (T > 1: in double, left to right
                                                          from t = T − 1, rounded once to
                                                          complex64, as doppler.mti; T = 1:
                                                          y = F exactly)
      out[i', j] = y[i, k(j)] · (H[j] · w[i])          (complex64 arithmetic)
  with k(j) = j for j < Nd/2, j + Ns − Nd otherwise (the Nd lowest frequencies) and
  i' = nb − 1 − i if ``reverse`` else i. Per pulse this is exactly
  xband.reference.pulse.spectrum_weight (same float32 operations), block by block.
* ``BlockWeights(F, H, taps, w, reverse, out)``: ``weight_block`` planned for a fixed list
  of blocks (lists F, w, reverse, out; H and taps shared); ``run(k)`` is
  ``weight_block(F[k], H, taps, w[k], reverse[k], out[k])`` (the compiled class keeps raw
  pointers to the buffers, so a call does not convert six arrays to memoryviews).
* ``square_law_cols(X, c_lo, c_hi, out)``: out[:, c] = |X[:, c]|² (float32) for
  c_lo ≤ c < c_hi, the other columns untouched (the chain squares each block of columns
  right after its Doppler FFT, while it is in cache); X may be wider than out (padded
  rows).
"""
import numpy as np


def weight_block(F, H, taps, w, reverse, out):
    nb, Nd = out.shape
    Ns = F.shape[1]
    T = taps.shape[0]
    k = np.arange(Nd)
    k = np.where(k < Nd // 2, k, k + Ns - Nd)
    if T == 1:
        y = F[:nb, k]
    else:
        y = taps[T - 1] * F[:nb, k].astype(np.complex128)
        for t in range(T - 2, -1, -1):
            y = y + taps[t] * F[T - 1 - t:T - 1 - t + nb, k].astype(np.complex128)
        y = y.astype(np.complex64)
    res = y * (w[:nb, None] * H[None, :])
    out[...] = res[::-1] if reverse else res


class BlockWeights:
    def __init__(self, F, H, taps, w, reverse, out):
        n = len(F)
        if not (len(w) == len(reverse) == len(out) == n) or len(taps) < 1:
            raise ValueError(f"BlockWeights: {n} spectra, {len(w)} windows, "
                             f"{len(reverse)} orders, {len(out)} outputs, {len(taps)} taps")
        for k in range(n):
            if F[k].shape[1] != F[0].shape[1] or out[k].shape[1] != H.shape[0] \
                    or H.shape[0] > F[k].shape[1] \
                    or F[k].shape[0] != out[k].shape[0] + len(taps) - 1 \
                    or w[k].shape[0] < out[k].shape[0]:
                raise ValueError(f"BlockWeights: block {k}: bad shapes")
        self._blocks = list(zip(F, w, reverse, out))
        self._H, self._taps = H, taps

    def __len__(self):
        return len(self._blocks)

    def run(self, k):
        if not 0 <= k < len(self._blocks):
            raise IndexError(f"BlockWeights.run: block {k} of {len(self._blocks)}")
        F, w, reverse, out = self._blocks[k]
        weight_block(F, self._H, self._taps, w, reverse, out)


def square_law_cols(X, c_lo, c_hi, out):
    Xc = X[:out.shape[0], c_lo:c_hi]
    out[:, c_lo:c_hi] = (Xc.real.astype(np.float64) ** 2
                         + Xc.imag.astype(np.float64) ** 2).astype(np.float32)


def square_law_cols_sub(X, c_lo, c_hi, out, lo, hi, step, sub):
    """``square_law_cols``, and the cells of out[:, lo:hi][::step, ::step] inside
    [c_lo, c_hi) copied into ``sub`` at their positions in that subsample's row-major
    order (blocks of columns covering [lo, hi) fill all of it)."""
    if step < 1 or lo < 0 or hi > out.shape[1] or hi <= lo:
        raise ValueError(f"square_law_cols_sub: bad window [{lo}, {hi}) step {step}")
    rows, ncols = -(-out.shape[0] // step), -(-(hi - lo) // step)
    if sub.shape[0] < rows * ncols:
        raise ValueError(f"square_law_cols_sub: sub holds {sub.shape[0]} < {rows * ncols} "
                         f"cells")
    square_law_cols(X, c_lo, c_hi, out)
    cols = np.arange(lo, hi, step)
    j = np.nonzero((cols >= c_lo) & (cols < c_hi))[0]
    if j.size:
        grid = sub[:rows * ncols].reshape(rows, ncols)
        grid[:, j] = out[::step, cols[j]]
