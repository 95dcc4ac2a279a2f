# cython: language_level=3
"""Fused per-sample passes of the detection chain. Twin: xband/reference/pulse.py
(equations and shapes documented there)."""
from libc.math cimport cos, sin
from libc.stdint cimport int64_t

cdef double TWO_PI = 6.283185307179586

cdef extern from *:
    """
    /* z[l] += sum_{q<4} u_q * x_q[l] (see _cmac4 below for the scalar definition): with
       AVX (the -mavx2 build) two complex values per 256-bit vector, as doubles. For each
       pulse q, c_q = addsub(u_qr * v, u_qi * swap(v)) = (u_qr a - u_qi b, u_qr b + u_qi a),
       the scalar code's two products and one add/sub, then ((c0 + c1) + (c2 + c3)) and
       z + that: the same operations in the same order, so the same bits (no FMA: the
       build has no -mfma and the intrinsics are separate multiplies and adds). */
    #if defined(__AVX__)
    #include <immintrin.h>
    static inline __m256d xb_cmul_pd(__m256d v, __m256d ur, __m256d ui) {
        return _mm256_addsub_pd(_mm256_mul_pd(ur, v),
                                _mm256_mul_pd(ui, _mm256_permute_pd(v, 0x5)));
    }
    static inline Py_ssize_t xb_cmac4_vec(double* z, const float* x0, Py_ssize_t Ns,
                                          const double* u, Py_ssize_t n) {
        const float* x1 = x0 + 2 * Ns;
        const float* x2 = x1 + 2 * Ns;
        const float* x3 = x2 + 2 * Ns;
        __m256d u0r = _mm256_set1_pd(u[0]), u0i = _mm256_set1_pd(u[1]);
        __m256d u1r = _mm256_set1_pd(u[2]), u1i = _mm256_set1_pd(u[3]);
        __m256d u2r = _mm256_set1_pd(u[4]), u2i = _mm256_set1_pd(u[5]);
        __m256d u3r = _mm256_set1_pd(u[6]), u3i = _mm256_set1_pd(u[7]);
        Py_ssize_t l = 0;
        for (; l + 2 <= n; l += 2) {
            __m256d c0 = xb_cmul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x0 + 2 * l)), u0r, u0i);
            __m256d c1 = xb_cmul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x1 + 2 * l)), u1r, u1i);
            __m256d c2 = xb_cmul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x2 + 2 * l)), u2r, u2i);
            __m256d c3 = xb_cmul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x3 + 2 * l)), u3r, u3i);
            __m256d t = _mm256_add_pd(_mm256_add_pd(c0, c1), _mm256_add_pd(c2, c3));
            _mm256_storeu_pd(z + 2 * l, _mm256_add_pd(_mm256_loadu_pd(z + 2 * l), t));
        }
        return l;
    }
    #else
    static inline Py_ssize_t xb_cmac4_vec(double* z, const float* x0, Py_ssize_t Ns,
                                          const double* u, Py_ssize_t n) {
        return 0;
    }
    #endif
    """
    Py_ssize_t xb_cmac4_vec(double* z, const float* x0, Py_ssize_t Ns, const double* u,
                            Py_ssize_t n) noexcept nogil

cdef enum:
    MAXP = 4096                           # pulses per CPI (checked by the stage module)
    MAXL = 16384                          # pulse samples (checked by the stage module)


cdef void _spectrum_weight(const float complex[:, ::1] X, const float complex[::1] H,
                           const float[::1] w, float complex[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t P = X.shape[0], Ns = X.shape[1], Nd = out.shape[1], p, j, half = Nd // 2
    cdef Py_ssize_t M = out.shape[0]
    cdef float wp, hr, hi, xr, xi
    cdef const float* xp
    cdef float* op
    cdef const float* hp = <const float*>&H[0]
    for p in range(P):
        wp = w[p]
        xp = <const float*>&X[p, 0]
        op = <float*>&out[(M - p) % M, 0]          # pulses reversed modulo M
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
    """out[(M − p) mod M, j] = X[p, k(j)]·H[j]·w[p] over the Nd kept bins, M = out.shape[0]
    ≥ P (other rows untouched; out must not overlap X)."""
    with nogil:
        _spectrum_weight(X, H, w, out)


cdef void _square_law(const float complex[:, ::1] X, float[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t M = out.shape[0], n = out.shape[1], d, i
    cdef const float* x
    cdef float* o
    cdef float a, b
    for d in range(M):
        x = <const float*>&X[d, 0]
        o = &out[d, 0]
        for i in range(n):
            a = x[2 * i]
            b = x[2 * i + 1]
            o[i] = a * a + b * b


def square_law(const float complex[:, ::1] X, float[:, ::1] out):
    """out = |X[:, :out.shape[1]]|² (float32; X may have padded rows)."""
    with nogil:
        _square_law(X, out)


cdef void _gate_dft(const float complex[:, ::1] x, const double complex[::1] hc,
                    const double[::1] taps, const double[::1] wts,
                    const int64_t[::1] gates, const int64_t[::1] bins, Py_ssize_t n_bins,
                    double complex[::1] out) noexcept nogil:
    # Reordered sums: out = Σ_l hc[l] · z[l],  z[l] = Σ_p u[p] · x[p, g + l], where
    # u[p] = Σ_t taps[t] · wts[p−T+1+t] · e^{−j2π b (p−T+1+t)/n_bins} folds the MTI, window
    # and DFT into one weight per pulse; the inner loop runs along a contiguous row, z kept
    # interleaved (re, im) like x so that one complex multiply-add is one SIMD pair.
    cdef Py_ssize_t P = x.shape[0], Ns = x.shape[1], L = hc.shape[0], T = taps.shape[0]
    cdef Py_ssize_t i, p, l, g, L1
    cdef const float* xp
    cdef const double* h = <const double*>&hc[0]
    cdef double u[2 * MAXP]
    cdef double z[2 * MAXL]
    for i in range(gates.shape[0]):
        g = gates[i]
        _pulse_weights(u, taps, wts, P, bins[i], n_bins)
        for l in range(2 * L):
            z[l] = 0.0
        L1 = Ns - g if g + L > Ns else L         # samples before the wrap to column 0
        p = 0
        while p + 4 <= P:                        # four pulses per pass over z
            _cmac4(z, <const float*>&x[p, 0] + 2 * g, Ns, u + 2 * p, L1)
            if L1 < L:
                _cmac4(z + 2 * L1, <const float*>&x[p, 0], Ns, u + 2 * p, L - L1)
            p += 4
        while p < P:
            xp = <const float*>&x[p, 0]
            _cmac(z, xp + 2 * g, u[2 * p], u[2 * p + 1], L1)
            if L1 < L:
                _cmac(z + 2 * L1, xp, u[2 * p], u[2 * p + 1], L - L1)
            p += 1
        out[i] = _hdot(z, h, L)


cdef inline void _pulse_weights(double* u, const double[::1] taps, const double[::1] wts,
                                Py_ssize_t P, int64_t b, Py_ssize_t n_bins) noexcept nogil:
    """u[p] = Σ_t taps[t] · wts[p−T+1+t] · e^{−j2π b (p−T+1+t)/n_bins}, interleaved."""
    cdef Py_ssize_t T = taps.shape[0], n = P - T + 1, p, j, t
    cdef double ar, ai, ph
    for p in range(P):
        u[2 * p] = 0.0
        u[2 * p + 1] = 0.0
    for j in range(n):
        ph = -TWO_PI * <double>((b * j) % n_bins) / <double>n_bins
        ar = cos(ph) * wts[j]
        ai = sin(ph) * wts[j]
        for t in range(T):                       # y'[j] uses y[j + T − 1 − t] with taps[t]
            p = j + T - 1 - t
            u[2 * p] += taps[t] * ar
            u[2 * p + 1] += taps[t] * ai


cdef inline double complex _hdot(const double* z, const double* h,
                                 Py_ssize_t L) noexcept nogil:
    """Σ_l hc[l] · z[l], both interleaved (re, im)."""
    cdef Py_ssize_t l
    cdef double sr = 0.0, si = 0.0
    for l in range(L):
        sr += z[2 * l] * h[2 * l] - z[2 * l + 1] * h[2 * l + 1]
        si += z[2 * l] * h[2 * l + 1] + z[2 * l + 1] * h[2 * l]
    return sr + 1j * si


cdef inline void _cmac4(double* z, const float* x0, Py_ssize_t Ns, const double* u,
                        Py_ssize_t n) noexcept nogil:
    """z[l] += Σ_{q<4} u_q · x_q[l], l < n, x_q = x0 + 2 q Ns (four consecutive pulses)."""
    cdef Py_ssize_t l
    cdef const float* x1 = x0 + 2 * Ns
    cdef const float* x2 = x1 + 2 * Ns
    cdef const float* x3 = x2 + 2 * Ns
    cdef double u0r = u[0], u0i = u[1], u1r = u[2], u1i = u[3]
    cdef double u2r = u[4], u2i = u[5], u3r = u[6], u3i = u[7]
    cdef double a0, b0, a1, b1, a2, b2, a3, b3
    for l in range(xb_cmac4_vec(z, x0, Ns, u, n), n):   # AVX: pairs of l; the rest here
        a0 = x0[2 * l]
        b0 = x0[2 * l + 1]
        a1 = x1[2 * l]
        b1 = x1[2 * l + 1]
        a2 = x2[2 * l]
        b2 = x2[2 * l + 1]
        a3 = x3[2 * l]
        b3 = x3[2 * l + 1]
        z[2 * l] += (((u0r * a0 - u0i * b0) + (u1r * a1 - u1i * b1))
                     + ((u2r * a2 - u2i * b2) + (u3r * a3 - u3i * b3)))
        z[2 * l + 1] += (((u0r * b0 + u0i * a0) + (u1r * b1 + u1i * a1))
                         + ((u2r * b2 + u2i * a2) + (u3r * b3 + u3i * a3)))


cdef inline void _cmac(double* z, const float* xp, double ur, double ui,
                       Py_ssize_t n) noexcept nogil:
    """z[l] += (ur + j ui) · x[l], l < n, both interleaved (re, im)."""
    cdef Py_ssize_t l
    cdef double ar, ai
    for l in range(n):
        ar = xp[2 * l]
        ai = xp[2 * l + 1]
        z[2 * l] += ur * ar - ui * ai
        z[2 * l + 1] += ur * ai + ui * ar


def gate_dft(const float complex[:, ::1] x, const double complex[::1] hc,
             const double[::1] taps, const double[::1] wts, const int64_t[::1] gates,
             const int64_t[::1] bins, Py_ssize_t n_bins, double complex[::1] out):
    """Compressed, MTI-filtered, windowed Doppler value at each (gate, bin) → out
    (P ≤ 4096 pulses, L ≤ 16384 pulse samples)."""
    with nogil:
        _gate_dft(x, hc, taps, wts, gates, bins, n_bins, out)


cdef void _gate_dft_channels(const float complex[:, :, ::1] x, const int64_t[::1] chans,
                             const double complex[::1] hc, const double[::1] taps,
                             const double[::1] wts, const int64_t[::1] gates,
                             const int64_t[::1] bins, Py_ssize_t n_bins, double[::1] work,
                             double complex[:, ::1] out) noexcept nogil:
    # _gate_dft of several channels of one cube: the pulse weights u once per cell, then
    # each block of four pulses of every channel in one pass (each channel's z summed in
    # the same order as _gate_dft, so the same bits), z of channel c at work[2 L c:].
    cdef Py_ssize_t P = x.shape[1], Ns = x.shape[2], L = hc.shape[0], m = chans.shape[0]
    cdef Py_ssize_t i, p, l, c, g, L1
    cdef const float* xp
    cdef double* z = &work[0]
    cdef double* zc
    cdef const double* h = <const double*>&hc[0]
    cdef double u[2 * MAXP]
    for i in range(gates.shape[0]):
        g = gates[i]
        _pulse_weights(u, taps, wts, P, bins[i], n_bins)
        for l in range(2 * L * m):
            z[l] = 0.0
        L1 = Ns - g if g + L > Ns else L         # samples before the wrap to column 0
        p = 0
        while p + 4 <= P:                        # four pulses of every channel per pass
            for c in range(m):
                zc = z + 2 * L * c
                xp = <const float*>&x[chans[c], p, 0]
                _cmac4(zc, xp + 2 * g, Ns, u + 2 * p, L1)
                if L1 < L:
                    _cmac4(zc + 2 * L1, xp, Ns, u + 2 * p, L - L1)
            p += 4
        while p < P:
            for c in range(m):
                zc = z + 2 * L * c
                xp = <const float*>&x[chans[c], p, 0]
                _cmac(zc, xp + 2 * g, u[2 * p], u[2 * p + 1], L1)
                if L1 < L:
                    _cmac(zc + 2 * L1, xp, u[2 * p], u[2 * p + 1], L - L1)
            p += 1
        for c in range(m):
            out[c, i] = _hdot(z + 2 * L * c, h, L)


def gate_dft_channels(const float complex[:, :, ::1] x, const int64_t[::1] chans,
                      const double complex[::1] hc, const double[::1] taps,
                      const double[::1] wts, const int64_t[::1] gates,
                      const int64_t[::1] bins, Py_ssize_t n_bins, double[::1] work,
                      double complex[:, ::1] out):
    """gate_dft of the channels x[chans[c]] of a cube (C, P, Ns) at the same cells, in one
    pass → out[c, i]; work: ≥ 2·L·len(chans) float64 scratch (the caller's), P ≤ 4096,
    L ≤ 16384. The same values as one gate_dft call per channel, bit for bit."""
    cdef Py_ssize_t c, m = chans.shape[0], k = gates.shape[0]
    if x.shape[1] > MAXP or hc.shape[0] > MAXL or hc.shape[0] > x.shape[2] \
            or taps.shape[0] < 1 or taps.shape[0] > x.shape[1] \
            or wts.shape[0] < x.shape[1] - taps.shape[0] + 1:
        raise ValueError(f"gate_dft_channels: bad sizes P={x.shape[1]} Ns={x.shape[2]} "
                         f"L={hc.shape[0]} T={taps.shape[0]} wts={wts.shape[0]}")
    if bins.shape[0] != k or out.shape[0] != m or out.shape[1] != k:
        raise ValueError(f"gate_dft_channels: {k} gates, {bins.shape[0]} bins, "
                         f"{m} channels, out {out.shape[0]}×{out.shape[1]}")
    if work.shape[0] < 2 * hc.shape[0] * m:
        raise ValueError(f"gate_dft_channels: work holds {work.shape[0]} < "
                         f"{2 * hc.shape[0] * m} values")
    for c in range(m):
        if chans[c] < 0 or chans[c] >= x.shape[0]:
            raise ValueError(f"gate_dft_channels: channel {chans[c]} outside 0…{x.shape[0] - 1}")
    for c in range(k):
        if gates[c] < 0 or gates[c] >= x.shape[2] or n_bins < 1:
            raise ValueError(f"gate_dft_channels: gate {gates[c]} outside 0…{x.shape[2] - 1}"
                             f" or n_bins {n_bins} < 1")
    if k == 0 or m == 0:
        return
    with nogil:
        _gate_dft_channels(x, chans, hc, taps, wts, gates, bins, n_bins, work, out)
