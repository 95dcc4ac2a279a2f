"""The chain's FFTs: pyFFTW plans when pyFFTW is installed (≈1.7× faster than scipy's
pocketfft on this machine for the CPI's complex64 FFTs, measured by benches/bench_detect.py),
otherwise ``scipy.fft``. One thread per CPI (``workers=1`` / ``threads=1``); plans are
built once per shape and axis and reused, so their buffers are the chain's only cube-sized
arrays.

Plans use FFTW_ESTIMATE by default: FFTW_MEASURE times candidate algorithms at planning,
so two processes may pick different ones and round differently — a run would no longer be
bit-reproducible from its seed. ``XBAND_FFTW_PLANNER=measure`` trades that for speed.
``XBAND_FFT=scipy`` forces scipy.fft (e.g. to compare).
"""
from __future__ import annotations

import os

import numpy as np
import scipy.fft as sfft

try:                                             # optional: the "fast" extra
    import pyfftw
except ImportError:                              # pragma: no cover - depends on the env
    pyfftw = None


def backend() -> str:
    if pyfftw is not None and os.environ.get("XBAND_FFT", "").lower() != "scipy":
        return "pyfftw"
    return "scipy"


def _planner() -> str:
    mode = os.environ.get("XBAND_FFTW_PLANNER", "estimate").strip().lower()
    return "FFTW_MEASURE" if mode == "measure" else "FFTW_ESTIMATE"


class FFTPlan:
    """y = FFT/IFFT of a (rows, cols) complex64 array along ``axis`` with length ``n``
    (zero padding when n exceeds the input length along axis 0).

    ``__call__(x)`` returns a view of the plan's own output buffer: the caller must use it
    (or copy it) before the plan runs again."""

    def __init__(self, shape, axis: int, inverse: bool = False, n: int | None = None,
                 inp: np.ndarray | None = None):
        self.shape, self.axis, self.inverse = tuple(shape), axis, inverse
        self.n = n or shape[axis]
        self.kind = backend()
        if self.kind == "pyfftw":
            out_shape = list(shape)
            out_shape[axis] = self.n
            self.inp = inp if inp is not None else pyfftw.empty_aligned(tuple(out_shape),
                                                                        "complex64")
            self.out = pyfftw.empty_aligned(tuple(out_shape), "complex64")
            self.plan = pyfftw.FFTW(self.inp, self.out, axes=(axis,),
                                    direction="FFTW_BACKWARD" if inverse else "FFTW_FORWARD",
                                    flags=(_planner(),), threads=1)
            self.scale = np.float32(1.0 / self.n) if inverse else None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.kind == "scipy":
            f = sfft.ifft if self.inverse else sfft.fft
            return f(x, n=self.n, axis=self.axis, workers=1)
        if x.shape != self.inp.shape:           # zero-pad along axis 0
            self.inp[: x.shape[0]] = x
            self.inp[x.shape[0]:] = 0
            x = self.inp
        # FFTW reads x in place when its alignment matches the plan's (else pyFFTW copies
        # it into the plan's input array); chained plans pass the shared buffer itself
        return self.plan(x, normalise_idft=True)

    def input_buffer(self) -> np.ndarray | None:
        """The plan's input array (write into it directly to save a copy), or None."""
        return self.inp if self.kind == "pyfftw" else None

    def execute(self) -> np.ndarray:
        """Run on what was written into ``input_buffer()``."""
        return self.plan(self.inp, normalise_idft=True)


class Backward2D:
    """Unnormalised 2-D backward FFT, y[k, n] = Σ_q Σ_j b[q, j] e^{+j2π(kq/M + nj/N)}, of
    the plan's own (M, N) complex64 input buffer (``buf``; write into it, then
    ``execute()``). The chain's range IFFT and Doppler FFT in one transform: the pulses go
    in reversed modulo M, which turns the backward transform along them into the forward
    one (``xband.reference.pulse.spectrum_weight``), so there is no separate 1/N
    normalisation pass (the chain folds it into its filter) and no copy between plans.

    pyFFTW: two 1-D plans, along rows out of place (buf → out), then along columns in
    place in ``out`` — FFTW_ESTIMATE's own 2-D plan computes the same passes but was as
    fast at 128 × 2048 and 1.4× slower at 256 × 4096 here. The output rows are padded by
    ``PAD`` samples (``out`` is a view of the C-contiguous ``out_full``): with a power-of-two
    row stride the column FFT hits the same cache sets at every step (256 × 4096: 18 ms;
    padded: 6 ms). scipy: ``scipy.fft.ifft2``."""

    PAD = 8

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.kind = backend()
        if self.kind == "pyfftw":
            self.buf = pyfftw.empty_aligned(self.shape, "complex64")
            M, N = self.shape
            self.out_full = pyfftw.empty_aligned((M, N + self.PAD), "complex64")
            self.out_full[...] = 0
            self.out = self.out_full[:, :N]
            self.rows = pyfftw.FFTW(self.buf, self.out, axes=(1,), direction="FFTW_BACKWARD",
                                    flags=(_planner(),), threads=1)
            self.cols = pyfftw.FFTW(self.out, self.out, axes=(0,), direction="FFTW_BACKWARD",
                                    flags=(_planner(),), threads=1)
        else:
            self.buf = np.empty(self.shape, np.complex64)
        self.buf[...] = 0

    def execute(self) -> np.ndarray:
        """Transform of ``buf``: ``out``, the first N columns of the C-contiguous
        ``out_full``, valid until the next call. ``buf`` may be overwritten (scipy): the
        caller rewrites it, zero rows included, per call."""
        if self.kind == "pyfftw":
            self.rows.execute()
            self.cols.execute()
            return self.out
        self.out_full = self.out = sfft.ifft2(self.buf, norm="forward", workers=1,
                                              overwrite_x=True)
        return self.out


#: Samples (pulses × Ns) per block of the block-wise map: a block's input, spectra and
#: weighted rows (≈ 3 · 32768 · 8 bytes = 768 kB: 8 pulses of 4096 samples, 4 of 8192) stay
#: in the L2 cache between the passes (4–8 pulses of 4096 were fastest here, 2 and 32 slower).
BLOCK_SAMPLES = 32768


class BlockMap:
    """pyFFTW plans of the chain's block-wise range-Doppler map (see
    ``xband.detect.chain.DetectionChain.range_doppler``): the (M, N) map buffer of
    ``Backward2D`` (rows padded), and per block of pulses a forward range FFT of its
    ``n_in`` input rows (``inp`` → ``spec``, out of place, sized for the cache), and a
    backward range FFT of its weighted rows (``wbuf``) written straight into the map rows
    that block owns; then the Doppler (column) FFT in place, over all columns
    (``rd.cols``), only over [c_lo, c_hi) (``cols_part``), or over the same columns in
    cache-sized blocks (``col_blocks``, for the chain's FFT + square law per block).

    ``segments``: per block (first input pulse j0, end of its input pulses, input view,
    forward plan, spectra view, slice of its output pulses, reversed?, weighted-rows view,
    backward plan); output pulse j goes to map row (M − j) mod M, so a block's rows are
    contiguous and reversed (row 0: pulse 0, a block of its own)."""

    def __init__(self, M: int, Ns: int, N: int, n_out: int, T: int, c_lo: int, c_hi: int,
                 block: int | None = None):
        self.rd = Backward2D((M, N))             # its map buffer and full column plan
        self.M, self.N, self.n_out, self.T = M, N, n_out, T
        b = max(1, min(block or BLOCK_SAMPLES // Ns, n_out))
        self.block = b
        self.inp = pyfftw.empty_aligned((b + T - 1, Ns), "complex64")
        self.spec = pyfftw.empty_aligned((b + T - 1, Ns), "complex64")
        self.wbuf = pyfftw.empty_aligned((b, N), "complex64")
        fl = (_planner(),)
        self.fwd = {}
        self.segments = []
        out = self.rd.out_full
        for j0, nb in [(0, 1)] + [(j, min(b, n_out - j)) for j in range(1, n_out, b)]:
            r = nb + T - 1
            if r not in self.fwd:
                self.fwd[r] = pyfftw.FFTW(self.inp[:r], self.spec[:r], axes=(1,),
                                          direction="FFTW_FORWARD", flags=fl, threads=1)
            row0 = 0 if j0 == 0 else M - j0 - nb + 1
            inv = pyfftw.FFTW(self.wbuf[:nb], out[row0:row0 + nb, :N], axes=(1,),
                              direction="FFTW_BACKWARD", flags=fl, threads=1)
            self.segments.append((j0, j0 + r, self.inp[:r], self.fwd[r], self.spec[:r],
                                  slice(j0, j0 + nb), j0 != 0, self.wbuf[:nb], inv))
        # rows of no pulse (zero padding to M): 1 … M − n_out
        self.pad_rows = slice(1, M - n_out + 1)
        # Doppler FFT over the needed columns only, widened to SIMD-aligned bounds
        a = max(1, pyfftw.simd_alignment // 8)
        self.c_lo, self.c_hi = (c_lo // a) * a, min(N, -(-c_hi // a) * a)
        view = out[:, self.c_lo:self.c_hi]
        self.cols_part = pyfftw.FFTW(view, view, axes=(0,), direction="FFTW_BACKWARD",
                                     flags=fl, threads=1)
        # the same columns in blocks of ≈ BLOCK_SAMPLES cells (aligned widths), each
        # squared right after its FFT while in cache: (c0, c1, plan)
        w = max(a, (BLOCK_SAMPLES // M) // a * a)
        self.col_blocks = []
        for c0 in range(self.c_lo, self.c_hi, w):
            c1 = min(self.c_hi, c0 + w)
            v = out[:, c0:c1]
            self.col_blocks.append((c0, c1, pyfftw.FFTW(v, v, axes=(0,),
                                                        direction="FFTW_BACKWARD",
                                                        flags=fl, threads=1)))
