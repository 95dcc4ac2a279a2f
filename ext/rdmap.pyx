# cython: language_level=3
"""Block-wise range-Doppler map passes of the detection chain. Twin: xband/reference/rdmap.py
(equations and shapes documented there)."""


cdef inline void _mul_row(const float* xp, const float* hp, float wp, Py_ssize_t n,
                          float* op) noexcept nogil:
    """op[j] = x[j]·(H[j]·wp), j < n, interleaved (re, im); the float32 operations of
    xband._ext.pulse.spectrum_weight in the same order."""
    cdef Py_ssize_t j
    cdef float hr, hi, xr, xi
    for j in range(n):
        hr = hp[2 * j] * wp
        hi = hp[2 * j + 1] * wp
        xr = xp[2 * j]
        xi = xp[2 * j + 1]
        op[2 * j] = xr * hr - xi * hi
        op[2 * j + 1] = xr * hi + xi * hr


cdef void _weight_block(const float complex[:, ::1] F, const float complex[::1] H,
                        const double[::1] taps, const float[::1] w, bint reverse,
                        float complex[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t nb = out.shape[0], Nd = out.shape[1], Ns = F.shape[1]
    cdef Py_ssize_t T = taps.shape[0], i, j, k, t, half = Nd // 2, row
    cdef double yr, yi
    cdef float wp, hr, hi, xr, xi
    cdef const float* hp = <const float*>&H[0]
    cdef const float* xp
    cdef const float* xq
    cdef float* op
    for i in range(nb):
        row = nb - 1 - i if reverse else i
        op = <float*>&out[row, 0]
        xp = <const float*>&F[i, 0]
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
                xq = <const float*>&F[i + T - 1 - t, 0]
                yr = yr + taps[t] * <double>xq[k]
                yi = yi + taps[t] * <double>xq[k + 1]
            xr = <float>yr
            xi = <float>yi
            hr = hp[2 * j] * wp
            hi = hp[2 * j + 1] * wp
            op[2 * j] = xr * hr - xi * hi
            op[2 * j + 1] = xr * hi + xi * hr


def weight_block(const float complex[:, ::1] F, const float complex[::1] H,
                 const double[::1] taps, const float[::1] w, bint reverse,
                 float complex[:, ::1] out):
    """out[i'] = mti(F)[i, k(j)]·H[j]·w[i], i' = nb−1−i if ``reverse`` else i (F has
    nb + len(taps) − 1 rows, out nb; shapes checked by the caller)."""
    with nogil:
        _weight_block(F, H, taps, w, reverse, out)


cdef void _square_law_cols(const float complex[:, ::1] X, Py_ssize_t c_lo, Py_ssize_t c_hi,
                           float[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t M = out.shape[0], d, i
    cdef const float* x
    cdef float* o
    cdef float a, b
    for d in range(M):
        x = <const float*>&X[d, 0]
        o = &out[d, 0]
        for i in range(c_lo, c_hi):
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
        for i in range(c_lo, c_hi):
            u = x[2 * i]
            v = x[2 * i + 1]
            o[i] = u * u + v * v
        if d == q * step:                    # a subsampled row: its cells, still in L1
            dst = sub + q * ncols
            c = c0
            while c < b:
                dst[(c - lo) // step] = o[c]
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
