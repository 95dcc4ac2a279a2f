# cython: language_level=3
"""Block-wise range-Doppler map passes of the detection chain. Twin: xband/reference/rdmap.py
(equations and shapes documented there)."""
from libc.stdlib cimport free, malloc


cdef extern from *:
    """
    /* AVX2 (the -mavx2 build, ext/isa/rdmap_avx2.pyx) row kernels, eight floats (four
       complex) per vector; each returns how many elements it did, the caller's scalar loop
       does the rest. The same float32 operations as the scalar code, so the same bits (no
       FMA: no -mfma, separate multiplies and adds):
       xb_mul_row: (hr, hi) = H * wp, then addsub(x * (hr, hr), swap(x) * (hi, hi))
                   = (xr hr - xi hi, xi hr + xr hi);
       xb_sq_row:  (a * a) + (b * b) per complex by a horizontal add of the squares,
                   put back in order by a 64-bit lane permutation. */
    #if defined(__AVX2__)
    #include <immintrin.h>
    static inline Py_ssize_t xb_mul_row(const float* xp, const float* hp, float wp,
                                        Py_ssize_t n, float* op) {
        __m256 w = _mm256_set1_ps(wp);
        Py_ssize_t j = 0;
        for (; j + 4 <= n; j += 4) {
            __m256 h = _mm256_mul_ps(_mm256_loadu_ps(hp + 2 * j), w);
            __m256 x = _mm256_loadu_ps(xp + 2 * j);
            __m256 a = _mm256_mul_ps(x, _mm256_moveldup_ps(h));
            __m256 b = _mm256_mul_ps(_mm256_permute_ps(x, 0xB1), _mm256_movehdup_ps(h));
            _mm256_storeu_ps(op + 2 * j, _mm256_addsub_ps(a, b));
        }
        return j;
    }
    static inline Py_ssize_t xb_sq_row(const float* x, Py_ssize_t n, float* o) {
        Py_ssize_t i = 0;
        for (; i + 8 <= n; i += 8) {
            __m256 a = _mm256_loadu_ps(x + 2 * i);
            __m256 b = _mm256_loadu_ps(x + 2 * i + 8);
            __m256 s = _mm256_hadd_ps(_mm256_mul_ps(a, a), _mm256_mul_ps(b, b));
            s = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(s), 0xD8));
            _mm256_storeu_ps(o + i, s);
        }
        return i;
    }
    #else
    static inline Py_ssize_t xb_mul_row(const float* xp, const float* hp, float wp,
                                        Py_ssize_t n, float* op) { return 0; }
    static inline Py_ssize_t xb_sq_row(const float* x, Py_ssize_t n, float* o) { return 0; }
    #endif
    """
    Py_ssize_t xb_mul_row(const float* xp, const float* hp, float wp, Py_ssize_t n,
                          float* op) noexcept nogil
    Py_ssize_t xb_sq_row(const float* x, Py_ssize_t n, float* o) noexcept nogil


cdef inline void _mul_row(const float* xp, const float* hp, float wp, Py_ssize_t n,
                          float* op) noexcept nogil:
    """op[j] = x[j]·(H[j]·wp), j < n, interleaved (re, im); the float32 operations of
    xband._ext.pulse.spectrum_weight in the same order."""
    cdef Py_ssize_t j
    cdef float hr, hi, xr, xi
    for j in range(xb_mul_row(xp, hp, wp, n, op), n):    # AVX2: 4 per step; the rest here
        hr = hp[2 * j] * wp
        hi = hp[2 * j + 1] * wp
        xr = xp[2 * j]
        xi = xp[2 * j + 1]
        op[2 * j] = xr * hr - xi * hi
        op[2 * j + 1] = xr * hi + xi * hr


cdef void _weight_rows(const float* F, Py_ssize_t Ns, const float* hp, Py_ssize_t Nd,
                       const double* taps, Py_ssize_t T, const float* w, bint reverse,
                       float* out, Py_ssize_t nb) noexcept nogil:
    """``weight_block`` on raw C-contiguous rows: F (nb + T − 1) × Ns, out nb × Nd."""
    cdef Py_ssize_t i, j, k, t, half = Nd // 2, row
    cdef double yr, yi
    cdef float wp, hr, hi, xr, xi
    cdef const float* xp
    cdef const float* xq
    cdef float* op
    for i in range(nb):
        row = nb - 1 - i if reverse else i
        op = out + 2 * Nd * row
        xp = F + 2 * Ns * i
        wp = w[i]
        if T == 1:
            _mul_row(xp, hp, wp, half, op)
            _mul_row(xp + 2 * (Ns - Nd + half), hp + 2 * half, wp, Nd - half, op + 2 * half)
            continue
        # the canceller in double, rounded once to float32 (as xband.detect.doppler.mti):
        # y = c[T−1]·x[i] + c[T−2]·x[i+1] + … (left to right), on the kept bins only
        for j in range(Nd):
            k = 2 * (j if j < half else j + Ns - Nd)
            yr = taps[T - 1] * <double>xp[k]
            yi = taps[T - 1] * <double>xp[k + 1]
            for t in range(T - 2, -1, -1):
                xq = F + 2 * Ns * (i + T - 1 - t)
                yr = yr + taps[t] * <double>xq[k]
                yi = yi + taps[t] * <double>xq[k + 1]
            xr = <float>yr
            xi = <float>yi
            hr = hp[2 * j] * wp
            hi = hp[2 * j + 1] * wp
            op[2 * j] = xr * hr - xi * hi
            op[2 * j + 1] = xr * hi + xi * hr


cdef void _weight_block(const float complex[:, ::1] F, const float complex[::1] H,
                        const double[::1] taps, const float[::1] w, bint reverse,
                        float complex[:, ::1] out) noexcept nogil:
    if out.shape[0] == 0 or out.shape[1] == 0:
        return
    _weight_rows(<const float*>&F[0, 0], F.shape[1], <const float*>&H[0], out.shape[1],
                 &taps[0], taps.shape[0], &w[0], reverse, <float*>&out[0, 0], out.shape[0])


def weight_block(const float complex[:, ::1] F, const float complex[::1] H,
                 const double[::1] taps, const float[::1] w, bint reverse,
                 float complex[:, ::1] out):
    """out[i'] = mti(F)[i, k(j)]·H[j]·w[i], i' = nb−1−i if ``reverse`` else i (F has
    nb + len(taps) − 1 rows, out nb; shapes checked by the caller)."""
    with nogil:
        _weight_block(F, H, taps, w, reverse, out)


cdef class BlockWeights:
    """``weight_block`` planned once for a fixed list of blocks (the chain's block-wise map:
    its spectra and weighted-row buffers, the filter, the canceller, each block's slice of
    the Doppler window and row order): ``run(k)`` weights block k, the same bits as
    ``weight_block(F[k], H, taps, w[k], reverse[k], out[k])``, without converting six
    arrays to memoryviews per call (≈ 1.5 µs each time, 17 times per CPI). The arrays are
    referenced here for the plan's life; their contents may change, not their buffers."""
    cdef list _keep
    cdef Py_ssize_t n, Ns, Nd, T
    cdef const float* hp
    cdef const double* tp
    cdef const float** fp
    cdef const float** wp
    cdef float** op
    cdef Py_ssize_t* nb
    cdef char* rev

    def __cinit__(self):
        self.n = 0
        self.fp = self.wp = NULL
        self.op = NULL
        self.nb = NULL
        self.rev = NULL

    def __init__(self, F, H, taps, w, reverse, out):
        cdef const float complex[:, ::1] f
        cdef const float complex[::1] h = H
        cdef const double[::1] t = taps
        cdef const float[::1] ww
        cdef float complex[:, ::1] o
        cdef Py_ssize_t k, n = len(F)
        if self.fp != NULL:     # planned once: a second __init__ would orphan the tables
            raise TypeError("BlockWeights: already planned; make a new one for new blocks")
        if not (len(w) == len(reverse) == len(out) == n) or t.shape[0] < 1:
            raise ValueError(f"BlockWeights: {n} spectra, {len(w)} windows, "
                             f"{len(reverse)} orders, {len(out)} outputs, {t.shape[0]} taps")
        self.fp = <const float**>malloc(max(n, 1) * sizeof(float*))
        self.wp = <const float**>malloc(max(n, 1) * sizeof(float*))
        self.op = <float**>malloc(max(n, 1) * sizeof(float*))
        self.nb = <Py_ssize_t*>malloc(max(n, 1) * sizeof(Py_ssize_t))
        self.rev = <char*>malloc(max(n, 1))
        if not (self.fp and self.wp and self.op and self.nb and self.rev):
            raise MemoryError()
        self._keep = [H, taps]
        self.Nd, self.T = h.shape[0], t.shape[0]
        self.hp = <const float*>&h[0] if self.Nd else NULL
        self.tp = &t[0]
        self.Ns = -1
        for k in range(n):
            fk, wk, ok = F[k], w[k], out[k]      # fetched once: the objects kept are the
            f, ww, o = fk, wk, ok                # ones whose buffers are pointed to
            if self.Ns < 0:
                self.Ns = f.shape[1]
            if f.shape[1] != self.Ns or o.shape[1] != self.Nd or self.Nd > self.Ns \
                    or f.shape[0] != o.shape[0] + self.T - 1 or ww.shape[0] < o.shape[0]:
                raise ValueError(f"BlockWeights: block {k}: spectra {f.shape[0]}×{f.shape[1]}"
                                 f", window {ww.shape[0]}, output {o.shape[0]}×{o.shape[1]}"
                                 f", filter {self.Nd}, {self.T} taps")
            self._keep += [fk, wk, ok]
            self.nb[k] = o.shape[0]
            self.fp[k] = <const float*>&f[0, 0] if f.shape[0] else NULL
            self.wp[k] = &ww[0] if ww.shape[0] else NULL
            self.op[k] = <float*>&o[0, 0] if o.shape[0] and self.Nd else NULL
            self.rev[k] = 1 if reverse[k] else 0
        self.n = n

    def __dealloc__(self):
        free(self.fp)
        free(self.wp)
        free(self.op)
        free(self.nb)
        free(self.rev)

    def __len__(self):
        return self.n

    def run(self, Py_ssize_t k):
        """Weight block k (0 ≤ k < len(self))."""
        if k < 0 or k >= self.n:
            raise IndexError(f"BlockWeights.run: block {k} of {self.n}")
        if self.nb[k] == 0 or self.Nd == 0:
            return
        with nogil:
            _weight_rows(self.fp[k], self.Ns, self.hp, self.Nd, self.tp, self.T, self.wp[k],
                         self.rev[k], self.op[k], self.nb[k])


cdef void _square_law_cols(const float complex[:, ::1] X, Py_ssize_t c_lo, Py_ssize_t c_hi,
                           float[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t M = out.shape[0], d, i
    cdef const float* x
    cdef float* o
    cdef float a, b
    for d in range(M):
        x = <const float*>&X[d, 0]
        o = &out[d, 0]
        for i in range(c_lo + xb_sq_row(x + 2 * c_lo, c_hi - c_lo, o + c_lo), c_hi):
            a = x[2 * i]
            b = x[2 * i + 1]
            o[i] = a * a + b * b


def square_law_cols(const float complex[:, ::1] X, Py_ssize_t c_lo, Py_ssize_t c_hi,
                    float[:, ::1] out):
    """out[:, c] = |X[:, c]|² for c_lo ≤ c < c_hi, other columns untouched (0 ≤ c_lo ≤
    c_hi ≤ out.shape[1] ≤ X.shape[1], X.shape[0] ≥ out.shape[0], checked by the caller)."""
    with nogil:
        _square_law_cols(X, c_lo, c_hi, out)


cdef void _square_law_cols_sub(const float complex[:, ::1] X, Py_ssize_t c_lo,
                               Py_ssize_t c_hi, float[:, ::1] out, Py_ssize_t lo,
                               Py_ssize_t hi, Py_ssize_t step, float* sub) noexcept nogil:
    cdef Py_ssize_t M = out.shape[0], d, i, c, c0, a, b, q = 0
    cdef Py_ssize_t ncols = (hi - lo + step - 1) // step
    cdef const float* x
    cdef float* o
    cdef float* dst
    cdef float u, v
    a = c_lo if c_lo > lo else lo
    b = c_hi if c_hi < hi else hi
    c0 = lo + ((a - lo + step - 1) // step) * step if a > lo else lo
    for d in range(M):
        x = <const float*>&X[d, 0]
        o = &out[d, 0]
        for i in range(c_lo + xb_sq_row(x + 2 * c_lo, c_hi - c_lo, o + c_lo), c_hi):
            u = x[2 * i]
            v = x[2 * i + 1]
            o[i] = u * u + v * v
        if d == q * step:                    # a subsampled row: its cells, still in L1
            dst = sub + q * ncols + (c0 - lo) // step     # one division per row (one per
            c = c0                                        # cell cost more than the squares)
            while c < b:
                dst[0] = o[c]
                dst += 1
                c += step
            q += 1


def square_law_cols_sub(const float complex[:, ::1] X, Py_ssize_t c_lo, Py_ssize_t c_hi,
                        float[:, ::1] out, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t step,
                        float[::1] sub):
    """``square_law_cols``, and on the way the cells of out[:, lo:hi][::step, ::step]
    inside [c_lo, c_hi) into ``sub`` at their row-major positions (the chain's noise-level
    subsample, gathered while the rows are in cache; calls over column blocks that cover
    [lo, hi) fill all of it)."""
    cdef Py_ssize_t n
    if step < 1 or lo < 0 or hi > out.shape[1] or hi <= lo:
        raise ValueError(f"square_law_cols_sub: bad window [{lo}, {hi}) step {step}")
    n = ((out.shape[0] + step - 1) // step) * ((hi - lo + step - 1) // step)
    if sub.shape[0] < n:
        raise ValueError(f"square_law_cols_sub: sub holds {sub.shape[0]} < {n} cells")
    with nogil:
        _square_law_cols_sub(X, c_lo, c_hi, out, lo, hi, step, &sub[0])
