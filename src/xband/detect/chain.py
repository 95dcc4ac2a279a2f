"""The detection chain of one CPI: I/Q cube → Detections.

    sum channel: pulse compression → (MTI) → Doppler FFT → |·|² → 2-D CFAR → clusters
    per cluster: log-parabolic interpolation in range and Doppler; Δ channels compressed
                 and Doppler-filtered at the peak cell only → monopulse angles; covariance

Only the sum channel is processed over the whole cube; the two difference channels are
needed at the detections alone, where a direct correlation (P·L multiply-adds per channel
and detection) and a single-bin DFT give the same numbers as the full chain would.

Reported measurement (``Detections``; t = the CPI's start time ``cube.t``):

* range: c·(n + δ)/(2 fs) at the CPI's centre less the LFM range–Doppler coupling
  ΔR = c·τ·ṙ/(λ·B) of the measured range rate (xband.detect.estimate; 0 for Barker-13, and
  its variance term (c·τ/(λ·B))²·σ_ṙ² is added), referred to t with the measured range
  rate (R(t) = R̂ − ṙ·(P−1)/(2 PRF)), which removes the range walk during the CPI;
* range_rate: −λ f/2, f = (k − M/2 + δ)·PRF/M, folded into [v_min, v_min + 2 v_ua)
  (``DetectConfig.v_min_mps``; default −v_ua, i.e. (−v_ua, v_ua]);
* az, el: boresight + monopulse offsets (NaN without difference channels);
* snr: the linear SNR of the peak cell, P/Z − 1 (Z the CFAR noise estimate);
* R: diag of the variances of xband.detect.estimate.

Sidelobe blanking (``DetectConfig.sidelobe_blanking``): a strong target's range sidelobes
(−13 dB unwindowed LFM, ≈ −30 dB Taylor) and Doppler sidelobes cross the CFAR threshold
once its SNR exceeds threshold + PSL; a cluster weaker than a neighbour's peak × PSL × the
margin, within the pulse length in the same Doppler bin (or the same gate), is dropped.
It can mask a genuinely weaker target in those cells (the classic sidelobe-blanker cost).

Gates tested: L ≤ n ≤ Ns − L (the blind range while transmitting, and eclipsed echoes at
the end of the PRI, are excluded), further limited by the CFAR's range window.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import _kernels
from ..errors import ConfigError, InputError
from ..radar.antenna import wrap
from ..radar.params import C, RadarParams
from ..types import Cube, Detections
from . import estimate
from .cfar import CFAR
from .compress import PulseCompressor
from .doppler import MTI_TAPS, DopplerProcessor, mti
from .fft import Backward2D, BlockMap, FFTPlan, backend


@dataclass(frozen=True)
class DetectConfig:
    """Processing choices of the chain (radar parameters live in ``RadarParams``)."""

    range_window: str = "taylor"
    doppler_window: str = "hamming"
    mti_order: int = 0
    cfar: str = "ca"
    pfa: float = 1e-6
    guard_r: int | None = None          # None: ⌈1.5 fs/B⌉, the compressed main lobe
    guard_d: int = 2                    # a Hamming main lobe is ±2 bins
    train_r: int | None = None          # None: max(8, guard_r)
    train_d: int = 2
    os_rank: int | None = None
    range_decimation: int | None = None  # None: the largest power of 2 keeping fs/D ≥ 2B
    v_min_mps: float | None = None
    min_snr: float = 0.0
    sidelobe_blanking: bool = True      # drop detections explained as a stronger one's
    sidelobe_margin_db: float = 6.0     # sidelobes (range or Doppler), see process()
    max_crossings: int = 100_000


@dataclass
class ChainOutput:
    """What one CPI produced: the detections and, for plots and tests, the internals."""

    detections: Detections
    power: np.ndarray                      # float32 [doppler, range] sum-channel map;
                                           # 0 outside columns [col_lo, col_hi) (never read)
    noise: float                           # median CFAR noise estimate (map units)
    extra: dict = field(default_factory=dict)


class DetectionChain:
    """Plan for one radar and config; ``process(cube, pointing)`` per CPI."""

    def __init__(self, params: RadarParams, config: DetectConfig = DetectConfig()):
        self.params, self.config = params, config
        if config.mti_order not in (0, 2, 3):
            raise ConfigError(f"mti_order: expected 0, 2 or 3, got {config.mti_order!r}")
        self.comp = PulseCompressor(params, config.range_window)
        P = params.pulses_per_cpi
        self.n_mti = P - (config.mti_order - 1 if config.mti_order else 0)
        self.M = P if P % 2 == 0 else P + 1
        self.dop = DopplerProcessor(self.n_mti, self.M, config.doppler_window)
        L, Ns = params.pulse_samples, params.samples_per_pri
        ovs = params.sample_rate_hz / params.effective_bandwidth_hz
        D = config.range_decimation
        if D is None:
            D = 1
            while ovs / (2 * D) >= 2.0 and Ns % (2 * D) == 0:
                D *= 2
        if not (isinstance(D, int) and D >= 1 and Ns % D == 0 and ovs / D >= 1.0):
            raise ConfigError(f"range_decimation: {D!r} must divide {Ns} samples and keep "
                              f"fs/D ≥ B (oversampling {ovs:.2f})")
        self.D, self.Nd = D, Ns // D
        ovs /= D
        gr = int(np.ceil(1.5 * ovs)) if config.guard_r is None else config.guard_r
        tr = max(8, gr) if config.train_r is None else config.train_r
        n_eff = estimate.effective_cells(self.comp.h, D, self.dop.w, self.M, gr,
                                         config.guard_d, tr, config.train_d)
        self.cfar = CFAR(config.cfar, config.pfa, gr, config.guard_d, tr, config.train_d,
                         config.os_rank, config.max_crossings, n_eff=n_eff)
        # full-sensitivity samples L … Ns − L, in decimated gates
        self.gate_lo, self.gate_hi = -(-L // D), (Ns - L) // D + 1
        vua = params.unambiguous_velocity_mps
        self.v_min = -vua if config.v_min_mps is None else float(config.v_min_mps)
        self.kr, self.br = estimate.range_stats(params, self.comp.h, D)
        self.kd, self.bd = estimate.doppler_stats(P, config.mti_order, self.dop.w, self.M)
        m = 10 ** (config.sidelobe_margin_db / 10)
        self.psl_r = m * estimate.range_psl(params, self.comp.h, D)
        self.psl_d = m * estimate.doppler_psl(P, config.mti_order, self.dop.w, self.M)
        self.gate_m = D * C / (2.0 * params.sample_rate_hz)        # per decimated gate
        self.vbin = params.wavelength_m * params.prf_hz / (2.0 * self.M)
        self.t_mid = (P - 1) / (2.0 * params.prf_hz)
        # LFM range–Doppler coupling (xband.detect.estimate, module doc): the compressed
        # peak reads ΔR = c·τ·ṙ/(λ·B) off the true range; 0 for a phase code
        self.couple = (C * params.pulse_width_s / (params.wavelength_m * params.bandwidth_hz)
                       if params.waveform == "lfm" else 0.0)
        self._w32 = self.dop.real_weights.astype(np.float32)
        self._clu = self._peak_bufs = self._sub = self._gd_work = None
        self._fwd_on_cube = False
        self._wplan = None                  # (rdmap module, its BlockWeights): _rows
        self._hc = np.conj(self.comp.h).astype(np.complex128)
        self._taps = np.ascontiguousarray(MTI_TAPS[config.mti_order], dtype=np.float64)
        if P > 4096 or L > 16384:
            raise ConfigError(f"detect: at most 4096 pulses per CPI and 16384 samples per "
                              f"pulse, got {P} and {L}")
        # the matched filter on the kept bins, with the 1/Ns of the decimated inverse FFT
        # (1/D for the shorter transform × its own 1/Nd, which the 2-D plan does not apply)
        H, h2 = self.comp.H.astype(np.complex128), self.Nd // 2
        self._Hd = (np.concatenate([H[:h2], H[Ns - (self.Nd - h2):]]) / Ns).astype(np.complex64)
        # the map columns the detector reads: the tested gates ± the CFAR window (+1 for
        # the interpolation's neighbours); the Doppler FFT and |·|² skip the others
        wr = self.cfar.guard_r + self.cfar.train_r + 1
        self.col_lo, self.col_hi = max(0, self.gate_lo - wr), min(self.Nd, self.gate_hi + wr)
        if backend() == "pyfftw":
            self._blk = BlockMap(self.M, Ns, self.Nd, self.n_mti, self._taps.size,
                                 self.col_lo, self.col_hi)
            self._rd = self._blk.rd
            self.col_lo, self.col_hi = self._blk.c_lo, self._blk.c_hi
            self._fwd = None
        else:
            self._blk = None
            self._fwd = FFTPlan((P, Ns), axis=1)
            # range IFFT + Doppler FFT as one 2-D backward FFT (pulses reversed modulo M)
            self._rd = Backward2D((self.M, self.Nd))

    # -------------------------------------------------------------- stages
    def range_doppler(self, x: np.ndarray, full: bool = True) -> np.ndarray:
        """Sum channel [P, Ns] → complex range-Doppler map [M, Nd], a view of a plan
        buffer (rows padded) valid until the next call.

        Per block of a few pulses (``fft.BLOCK_SAMPLES``), in cache (pyFFTW): range FFT →
        (MTI across pulses, which commutes with the range filter) → one pass multiplying
        the Nd kept bins by the matched filter H[k] and the Doppler window with its
        fftshift sign w[p] (``rdmap.weight_block``, planned once per segment as
        ``rdmap.BlockWeights``) → range IFFT straight into the block's map rows, pulses
        reversed modulo M (zero rows pad to M); then the backward FFT along the columns,
        which over reversed pulses is the forward Doppler FFT. No cube-sized temporary:
        a block's spectra stay in cache and the map is written once.
        Bit-identical to the whole-cube path (the same FFTW codelets per row and column).
        ``full=False`` (the chain's own call) transforms only columns [col_lo, col_hi),
        the gates the detector reads; the others stay range-compressed, not
        Doppler-processed.

        scipy.fft fallback: range FFT of the whole pulse block, MTI, ``pulse.spectrum_weight``
        and one 2-D backward FFT (the same equations)."""
        P, Ns = self.params.pulses_per_cpi, self.params.samples_per_pri
        if np.shape(x) != (P, Ns):
            raise InputError(f"range_doppler: expected the sum channel [{P}, {Ns}], got "
                             f"shape {np.shape(x)}")
        blk = self._blk
        if blk is None:
            Xf = self._fwd(x)
            if self.config.mti_order:
                Xf = np.ascontiguousarray(mti(Xf, self.config.mti_order, axis=0))
            buf = self._rd.buf
            if self.n_mti < self.M:                 # the padding rows 1 … M − n_mti
                buf[1:self.M - self.n_mti + 1] = 0
            _kernels.get("pulse").spectrum_weight(Xf, self._Hd, self._w32, buf)
            return self._rd.execute()
        self._rows(x)
        (self._rd.cols if full else blk.cols_part).execute()
        return self._rd.out

    def _rows(self, x: np.ndarray) -> None:
        """The block-wise row passes of ``range_doppler`` (pyFFTW): every map row
        range-compressed, not yet Doppler-processed."""
        blk = self._blk
        if self.n_mti < self.M:                     # the padding rows 1 … M − n_mti
            self._rd.out_full[blk.pad_rows] = 0
        weight = self._block_weights().run
        if self._reads_in_place(x):
            # the forward plans read the cube's rows where they are (same plan, same
            # codelets: the same bits; out of place, so the cube is not changed): no copy.
            # They keep a reference to this cube until the next call re-points them.
            self._fwd_on_cube = True
            for k, (j0, j1, inp, fwd, spec, ws, rev, wbuf, inv) in enumerate(blk.segments):
                fwd.update_arrays(x[j0:j1], spec)
                fwd.execute()
                weight(k)
                inv.execute()
            return
        if self._fwd_on_cube:                       # back to the plans' own input buffer
            for j0, j1, inp, fwd, spec, *_ in blk.segments:
                fwd.update_arrays(inp, spec)
            self._fwd_on_cube = False
        for k, (j0, j1, inp, fwd, spec, ws, rev, wbuf, inv) in enumerate(blk.segments):
            np.copyto(inp, x[j0:j1])
            fwd.execute()
            weight(k)
            inv.execute()

    def _block_weights(self):
        """``rdmap.BlockWeights`` of the block-wise map's segments (their spectra, window
        slices, row orders and weighted-row buffers with the filter and the canceller),
        made once per kernel module in use (``weight_block`` per segment, the same bits)."""
        rd = _kernels.get("rdmap")
        if self._wplan is None or self._wplan[0] is not rd:
            segs = self._blk.segments
            self._wplan = (rd, rd.BlockWeights(
                [s[4] for s in segs], self._Hd, self._taps, [self._w32[s[5]] for s in segs],
                [s[6] for s in segs], [s[7] for s in segs]))
        return self._wplan[1]

    def _reads_in_place(self, x) -> bool:
        """Whether the forward plans can read the sum channel ``x`` in place: complex64,
        C-contiguous, and its rows aligned as the plans' input (``radar.scene`` allocates
        its cubes 64-byte aligned for this; otherwise each block is copied, as before)."""
        if not (isinstance(x, np.ndarray) and x.dtype == np.complex64
                and x.flags.c_contiguous):
            return False
        a = self._blk.segments[0][3].input_alignment
        return x.ctypes.data % a == 0 and x.strides[0] % a == 0

    def power_map(self, x: np.ndarray) -> np.ndarray:
        """Sum channel [P, Ns] → |range-Doppler map|² (float32 [M, Nd], a new array) on
        the columns the detector reads, [col_lo, col_hi); 0 elsewhere. pyFFTW: the row
        passes, then per cache-sized block of columns its Doppler FFT and square law
        (``rdmap.square_law_cols``) while the block is in cache."""
        return self._power_map(x, False)

    def _power_map(self, x: np.ndarray, sub: bool) -> np.ndarray:
        """``power_map``; with ``sub`` the square law also gathers the noise level's
        subsample into ``self._sub`` (``rdmap.square_law_cols_sub``, while each row is in
        cache; see ``noise_level``)."""
        power = np.empty((self.M, self.Nd), np.float32)
        power[:, :self.col_lo] = 0
        power[:, self.col_hi:] = 0
        rd = _kernels.get("rdmap")
        if sub:
            lo, hi, step, n = self._sub_geometry(power)
            buf = self._sub
            sq = lambda X, c0, c1, out: rd.square_law_cols_sub(   # noqa: E731
                X, c0, c1, out, lo, hi, step, buf)
        else:
            sq = rd.square_law_cols
        if self._blk is None:
            self.range_doppler(x)
            sq(self._rd.out_full, self.col_lo, self.col_hi, power)
            return power
        if np.shape(x) != (self.params.pulses_per_cpi, self.params.samples_per_pri):
            self.range_doppler(x)                   # raises the InputError
        self._rows(x)
        out = self._rd.out_full
        for c0, c1, plan in self._blk.col_blocks:
            plan.execute()
            sq(out, c0, c1, power)
        return power

    def _sidelobes(self, d, r, pw) -> np.ndarray:
        """Mask of clusters explained as sidelobes of a stronger one: within the pulse's
        range extent in the same Doppler bin (±1) and weaker than its peak × the range peak
        sidelobe level (PSL, computed from the waveform and window) × the margin; or in the
        same range gate (±1) and weaker than its peak × the Doppler PSL × the margin."""
        M = self.M
        dd = np.abs(d[:, None] - d[None, :])
        dd = np.minimum(dd, M - dd)
        dr = np.abs(r[:, None] - r[None, :])
        ratio = pw[:, None] / pw[None, :]                 # row i weaker than column j
        ext = self.params.pulse_samples // self.D + 1
        rng_sl = (dd <= 1) & (dr > 0) & (dr <= ext) & (ratio < self.psl_r)
        dop_sl = (dr <= 1) & (dd > 0) & (ratio < self.psl_d)
        return np.any(rng_sl | dop_sl, axis=1)

    def noise_level(self, power: np.ndarray) -> float:
        """Mean noise power per cell: median/ln 2 of an exponential (noise-like) map,
        over a regular subsample of ~16 k cells of the tested gates,
        power[:, gate_lo:gate_hi][::step, ::step] with step = ⌊√(cells/16384)⌋ (≥ 1);
        the median is its element size//2 (np.partition, in place in a chain buffer; of
        the float32 bit patterns as uint32 when none is negative: the same element).
        ``process`` gathers the subsample during the square law instead."""
        if power.ndim != 2 or power.dtype != np.float32 or not power.flags.c_contiguous \
                or power.shape[1] < self.gate_hi:
            raise InputError(f"noise_level: expected a C-contiguous float32 map with at "
                             f"least {self.gate_hi} gates, got {power.dtype} {power.shape}")
        lo, hi, step, n = self._sub_geometry(power)
        _kernels.get("cluster").sub_gather(power, lo, hi, step, self._sub)
        return self._sub_noise(n)

    def _sub_geometry(self, power: np.ndarray):
        """(lo, hi, step, n) of the noise subsample of ``power``; sizes ``self._sub``."""
        lo, hi = self.gate_lo, self.gate_hi
        step = max(1, int(np.sqrt(power.shape[0] * (hi - lo) / 16384)))
        n = -(-power.shape[0] // step) * -(-(hi - lo) // step)
        if self._sub is None or self._sub.size < n:
            self._sub = np.empty(n, np.float32)
        return lo, hi, step, n

    def _sub_noise(self, n: int) -> float:
        s = self._sub[:n]
        # the element of rank n//2, in place. With no sign bit set anywhere (a square-law
        # map: +0, positives, +inf, +NaN) the bit patterns as uint32 sort like the floats
        # (NaN last), and numpy's integer selection is ~2× faster than its float one:
        # the same element, the same bits; otherwise (negative values) the float selection
        if s.view(np.int32).min() >= 0:
            s.view(np.uint32).partition(n // 2)
        else:
            s.partition(n // 2)
        return float(s[n // 2]) / np.log(2.0)

    @staticmethod
    def square_law(X: np.ndarray) -> np.ndarray:
        """|X|² as a new float32 map (kernel ``pulse.square_law``)."""
        pw = np.empty(X.shape, np.float32)
        _kernels.get("pulse").square_law(np.ascontiguousarray(X), pw)
        return pw

    def _cluster_bufs(self, n: int):
        """Clustering outputs with room for n crossings (owned by the chain, grown on
        demand; only the peak work reads them, the returned arrays are copies)."""
        if self._clu is None or self._clu[0].size < n:
            m = max(n, 256)
            self._clu = (np.empty(m, np.int64), np.empty(m, np.int64),
                         np.empty(m, np.int64), np.empty((m, 3)))
            self._peak_bufs = (np.empty(m, np.int64), np.empty(m, np.int64),
                               np.empty(m, np.int64), np.empty(m), np.empty(6 * m, np.float32),
                               np.empty(6 * m, np.float32))
        return self._clu

    def process(self, cube: Cube, pointing=(0.0, 0.0)) -> ChainOutput:
        p = self.params
        if not isinstance(cube, Cube):
            raise InputError(f"detect: expected a Cube, got {type(cube).__name__}")
        nch, P, Ns = cube.data.shape
        if (P, Ns) != (p.pulses_per_cpi, p.samples_per_pri):
            raise InputError(f"detect: cube has {P} pulses × {Ns} samples, the radar "
                             f"{p.pulses_per_cpi} × {p.samples_per_pri}")
        ch = list(cube.channels)
        if "sum" not in ch:
            raise InputError(f"detect: cube channels {cube.channels} lack 'sum'")
        power = self._power_map(cube.data[ch.index("sum")], True)   # + noise subsample
        # SNR against the map's robust noise level (the local CFAR estimate Z is inflated
        # by a strong target's own window sidelobes, which would understate its SNR);
        # its subsample is still in cache here
        noise = self._sub_noise(self._sub_geometry(power)[3])
        idx, Z = self.cfar.detect(power, self.gate_lo, self.gate_hi)
        n = idx.size
        label, peak, size, cen = self._cluster_bufs(n)
        clu = _kernels.get("cluster")
        nc = clu.cluster_peaks(power, idx, label[:n], peak[:n], size[:n], cen[:n])
        # kept peaks (SNR ≥ min_snr, not a stronger cluster's sidelobe: _sidelobes) with
        # their interpolation neighbours, then their logs (numpy's float32 log, one call)
        # and the estimates in one kernel call each (reference/cluster.py: the same
        # operations in the same order as the numpy code, tests/detect/test_glue.py)
        sel, dk, rk, sk, nb, lg = self._peak_bufs
        k = clu.peak_cells(power, peak[:nc], noise, self.config.min_snr,
                           self.config.sidelobe_blanking,
                           self.params.pulse_samples // self.D + 1, self.psl_r, self.psl_d,
                           sel, dk, rk, sk, nb)
        d, r, snr = dk[:k].copy(), rk[:k].copy(), sk[:k].copy()
        M = self.M
        est = np.empty((4, k))
        if k:
            np.log(nb[:6 * k], out=lg[:6 * k])
            # scalars computed exactly as the numpy expressions they replace, per call
            # (v_min may be moved between CPIs: IQSensor's slaved velocity gate)
            clu.peak_estimates(lg, d, r, snr, M, p.prf_hz, -0.5 * p.wavelength_m, self.v_min,
                               2.0 * p.unambiguous_velocity_mps, self.gate_m, self.couple,
                               self.t_mid, self.kd, self.bd, self.vbin ** 2, self.kr,
                               self.br, self.gate_m ** 2, self.couple ** 2, est)
        rng_t, rr, var_r, var_v = est[0], est[1], est[2], est[3]
        k = d.size
        az = np.full(k, np.nan)
        el = np.full(k, np.nan)
        var_az = np.full(k, np.nan)
        var_el = np.full(k, np.nan)
        if k and "daz" in ch and "del" in ch:
            gates = np.ascontiguousarray(r * self.D, np.int64)
            bins = np.ascontiguousarray(d, np.int64)
            # Σ (by the same direct filter as Δ), Δaz, Δel in one kernel call: each pulse of
            # the three channels read in one pass (the same bits as one call per channel)
            SD = np.empty((3, k), np.complex128)
            chans = np.array([ch.index("sum"), ch.index("daz"), ch.index("del")], np.int64)
            L = self._hc.shape[0]
            if self._gd_work is None or self._gd_work.size < 6 * L:
                self._gd_work = np.empty(6 * L)
            _kernels.get("pulse").gate_dft_channels(cube.data, chans, self._hc, self._taps,
                                                    self.dop.real_weights, gates, bins, M,
                                                    self._gd_work, SD)
            S = SD[0]
            for D, bw, out, var, base in (
                    (SD[1], p.beamwidth_az_rad, az, var_az, pointing[0]),
                    (SD[2], p.beamwidth_el_rad, el, var_el, pointing[1])):
                th = estimate.angle_from_ratio(D / S, bw, p.monopulse_slope)
                out[:] = base + th
                var[:] = estimate.angle_var(th, snr, bw, p.monopulse_slope)
            az[:] = wrap(az)
        R = np.zeros((k, 4, 4))
        R[:, 0, 0], R[:, 1, 1], R[:, 2, 2], R[:, 3, 3] = var_r, var_az, var_el, var_v
        det = Detections.trusted(t=np.full(k, cube.t), range=rng_t, az=az, el=el,
                                 range_rate=rr, snr=snr, R=R)
        return ChainOutput(det, power, noise,
                           extra={"crossings": int(n), "clusters": int(nc), "d": d, "r": r,
                                  "channels": tuple(ch),
                                  "size": size[sel[:k]]})
