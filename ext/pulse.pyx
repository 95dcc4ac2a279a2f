# cython: language_level=3
"""Fused per-sample passes of the detection chain. Twin: xband/reference/pulse.py
(equations and shapes documented there)."""
from libc.math cimport cos, sin
from libc.stdint cimport int64_t

cdef double TWO_PI = 6.283185307179586

cdef enum:
    MAXP = 4096                           # pulses per CPI (checked by the stage module)
    MAXL = 16384                          # pulse samples (checked by the stage module)


cdef void _spectrum_weight(const float complex[:, ::1] X, const float complex[::1] H,
                           const float[::1] w, float complex[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t P = X.shape[0], Ns = X.shape[1], Nd = out.shape[1], p, j, half = Nd // 2
    cdef float wp, hr, hi, xr, xi
    cdef const float* xp
    cdef float* op
    cdef const float* hp = <const float*>&H[0]
    for p in range(P):
        wp = w[p]
        xp = <const float*>&X[p, 0]
        op = <float*>&out[p, 0]
        for j in range(half):
            hr = hp[2 * j] * wp
            hi = hp[2 * j + 1] * wp
            xr = xp[2 * j]
            xi = xp[2 * j + 1]
            op[2 * j] = xr * hr - xi * hi
            op[2 * j + 1] = xr * hi + xi * hr
        xp = xp + 2 * (Ns - Nd)                   # the negative frequencies
        for j in range(half, Nd):
            hr = hp[2 * j] * wp
            hi = hp[2 * j + 1] * wp
            xr = xp[2 * j]
            xi = xp[2 * j + 1]
            op[2 * j] = xr * hr - xi * hi
            op[2 * j + 1] = xr * hi + xi * hr


def spectrum_weight(const float complex[:, ::1] X, const float complex[::1] H,
                    const float[::1] w, float complex[:, ::1] out):
    """out[p, j] = X[p, k(j)]·H[j]·w[p] over the Nd kept bins (out may be X if Nd = Ns)."""
    with nogil:
        _spectrum_weight(X, H, w, out)


cdef void _square_law(const float complex[:, ::1] X, float[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t n = X.shape[0] * X.shape[1], i
    cdef const float* x = <const float*>&X[0, 0]
    cdef float* o = &out[0, 0]
    cdef float a, b
    for i in range(n):
        a = x[2 * i]
        b = x[2 * i + 1]
        o[i] = a * a + b * b


def square_law(const float complex[:, ::1] X, float[:, ::1] out):
    """out = |X|² (float32)."""
    with nogil:
        _square_law(X, out)


cdef void _gate_dft(const float complex[:, ::1] x, const double complex[::1] hc,
                    const double[::1] taps, const double[::1] wts,
                    const int64_t[::1] gates, const int64_t[::1] bins, Py_ssize_t n_bins,
                    double complex[::1] out) noexcept nogil:
    # Reordered sums: out = Σ_l hc[l] · z[l],  z[l] = Σ_p u[p] · x[p, g + l], where
    # u[p] = Σ_t taps[t] · wts[p−T+1+t] · e^{−j2π b (p−T+1+t)/n_bins} folds the MTI, window
    # and DFT into one weight per pulse; the inner loop runs along a contiguous row.
    cdef Py_ssize_t P = x.shape[0], Ns = x.shape[1], L = hc.shape[0], T = taps.shape[0]
    cdef Py_ssize_t i, p, l, j, t, g, n = P - T + 1, col
    cdef double ur, ui, ar, ai, ph, sr, si
    cdef const float* xp
    cdef const double* h = <const double*>&hc[0]
    cdef double u[2 * MAXP]
    cdef double zr[MAXL]
    cdef double zi[MAXL]
    for i in range(gates.shape[0]):
        g = gates[i]
        for p in range(P):
            u[2 * p] = 0.0
            u[2 * p + 1] = 0.0
        for j in range(n):
            ph = -TWO_PI * <double>((bins[i] * j) % n_bins) / <double>n_bins
            ar = cos(ph) * wts[j]
            ai = sin(ph) * wts[j]
            for t in range(T):                   # y'[j] uses y[j + T − 1 − t] with taps[t]
                p = j + T - 1 - t
                u[2 * p] += taps[t] * ar
                u[2 * p + 1] += taps[t] * ai
        for l in range(L):
            zr[l] = 0.0
            zi[l] = 0.0
        for p in range(P):
            ur = u[2 * p]
            ui = u[2 * p + 1]
            xp = <const float*>&x[p, 0]
            if g + L <= Ns:
                xp = xp + 2 * g
                for l in range(L):
                    ar = xp[2 * l]
                    ai = xp[2 * l + 1]
                    zr[l] += ur * ar - ui * ai
                    zi[l] += ur * ai + ui * ar
            else:
                for l in range(L):
                    col = (g + l) % Ns
                    ar = xp[2 * col]
                    ai = xp[2 * col + 1]
                    zr[l] += ur * ar - ui * ai
                    zi[l] += ur * ai + ui * ar
        sr = 0.0
        si = 0.0
        for l in range(L):
            sr += zr[l] * h[2 * l] - zi[l] * h[2 * l + 1]
            si += zr[l] * h[2 * l + 1] + zi[l] * h[2 * l]
        out[i] = sr + 1j * si


def gate_dft(const float complex[:, ::1] x, const double complex[::1] hc,
             const double[::1] taps, const double[::1] wts, const int64_t[::1] gates,
             const int64_t[::1] bins, Py_ssize_t n_bins, double complex[::1] out):
    """Compressed, MTI-filtered, windowed Doppler value at each (gate, bin) → out
    (P ≤ 4096 pulses, L ≤ 16384 pulse samples)."""
    with nogil:
        _gate_dft(x, hc, taps, wts, gates, bins, n_bins, out)
