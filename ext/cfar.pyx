# cython: language_level=3
"""2-D CFAR (CA, GO, SO in O(1) per cell; OS by a slid histogram, exact selection at the
candidates only). Twin: xband/reference/cfar.py
(window geometry, edge policy, noise estimates and outputs are documented there).

CA/GO/SO keep their Doppler box sums only on the columns the tested gates' windows read,
[max(r_lo, wr) − wr, min(r_hi, Nr − wr) + wr) (the chain's map is 0 and never
Doppler-processed outside them), CA without the half sums it does not use, and test the
crossings branch-free while sliding (the ordered scan runs only for a row with one):
the same additions in the same order as before, so the same Z bits.
Also built with -mavx2 (ext/isa/cfar_avx2.pyx), same bits."""
from libc.stdint cimport int64_t
from libc.string cimport memcpy, memset

cdef extern from *:
    """
    /* The CA pass of _row_noise_ca with the four range segments as the four lanes of
       one AVX vector (the -mavx2 build; 0 steps elsewhere), four steps i … i+3 at a time:
       each segment's steps DT[r] = (SW[r+wr+1] − SW[r−wr]) − (SG[r+gr+1] − SG[r−gr])
       computed for r = st_s + i … (four contiguous loads per term, the same operations as
       the scalar pass), transposed 4 × 4 so that lane s holds segment s; then per step
       z = T·inv_n and T += DT, lane by lane the scalar operations in the same order (so
       the same bits); the four z vectors transposed back, stored to Z[st_s + i …] and
       tested against the row, prow > alpha·z (ordered: NaN never crosses), into a mask.
       All in registers: no DT array, no interleaved copy. T (the four running sums) is
       read and updated; returns the number of steps done (a multiple of 4, ≤ m);
       *hit = 1 when a cell crossed. */
    #if defined(__AVX__)
    #include <immintrin.h>
    static inline void xb_tr4(__m256d a, __m256d b, __m256d c, __m256d d, __m256d* o) {
        __m256d t0 = _mm256_unpacklo_pd(a, b), t1 = _mm256_unpackhi_pd(a, b);
        __m256d t2 = _mm256_unpacklo_pd(c, d), t3 = _mm256_unpackhi_pd(c, d);
        o[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
        o[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
        o[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
        o[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
    }
    static inline __m256d xb_dt4(const double* SW, const double* SG, Py_ssize_t r,
                                 Py_ssize_t wr, Py_ssize_t gr) {
        return _mm256_sub_pd(
            _mm256_sub_pd(_mm256_loadu_pd(SW + r + wr + 1), _mm256_loadu_pd(SW + r - wr)),
            _mm256_sub_pd(_mm256_loadu_pd(SG + r + gr + 1), _mm256_loadu_pd(SG + r - gr)));
    }
    static Py_ssize_t xb_ca_lanes(const double* SW, const double* SG, Py_ssize_t wr,
                                  Py_ssize_t gr, const float* prow, double* Z,
                                  Py_ssize_t st0, Py_ssize_t m, double inv_n,
                                  double alpha, double* T, int* hit) {
        __m256d t = _mm256_loadu_pd(T), vn = _mm256_set1_pd(inv_n);
        __m256d va = _mm256_set1_pd(alpha), any = _mm256_setzero_pd();
        __m256d s[4], z[4], zs[4];
        Py_ssize_t i = 0, q, k;
        for (; i + 4 <= m; i += 4) {
            xb_tr4(xb_dt4(SW, SG, st0 + i, wr, gr), xb_dt4(SW, SG, st0 + m + i, wr, gr),
                   xb_dt4(SW, SG, st0 + 2 * m + i, wr, gr),
                   xb_dt4(SW, SG, st0 + 3 * m + i, wr, gr), s);
            for (k = 0; k < 4; k++) {
                z[k] = _mm256_mul_pd(t, vn);
                t = _mm256_add_pd(t, s[k]);
            }
            xb_tr4(z[0], z[1], z[2], z[3], zs);
            for (q = 0; q < 4; q++) {
                Py_ssize_t r = st0 + q * m + i;
                __m256d pv = _mm256_cvtps_pd(_mm_loadu_ps(prow + r));
                _mm256_storeu_pd(Z + r, zs[q]);
                any = _mm256_or_pd(any, _mm256_cmp_pd(pv, _mm256_mul_pd(va, zs[q]),
                                                      _CMP_GT_OQ));
            }
        }
        _mm256_storeu_pd(T, t);
        if (_mm256_movemask_pd(any))
            *hit = 1;
        return i;
    }
    /* _update_rows' CA loop (td = 0) over [c0, c1): SW += aw − sw, SG += ag − sg with
       the float rows converted straight from memory (cvtps2pd m128: one shuffle-port
       uop per four floats; the compiler's own vectorisation loaded eight floats and
       split them, one more); the same double operations, so the same bits. Returns the
       end of the columns done. */
    static Py_ssize_t xb_update_ca(const float* aw, const float* sw, const float* ag,
                                   const float* sg, Py_ssize_t c0, Py_ssize_t c1,
                                   double* SW, double* SG) {
        Py_ssize_t r = c0;
        for (; r + 4 <= c1; r += 4) {
            __m256d w = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(aw + r)),
                                      _mm256_cvtps_pd(_mm_loadu_ps(sw + r)));
            __m256d g = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(ag + r)),
                                      _mm256_cvtps_pd(_mm_loadu_ps(sg + r)));
            _mm256_storeu_pd(SW + r, _mm256_add_pd(_mm256_loadu_pd(SW + r), w));
            _mm256_storeu_pd(SG + r, _mm256_add_pd(_mm256_loadu_pd(SG + r), g));
        }
        return r;
    }
    #else
    static Py_ssize_t xb_update_ca(const float* aw, const float* sw, const float* ag,
                                   const float* sg, Py_ssize_t c0, Py_ssize_t c1,
                                   double* SW, double* SG) { return c0; }
    static Py_ssize_t xb_ca_lanes(const double* SW, const double* SG, Py_ssize_t wr,
                                  Py_ssize_t gr, const float* prow, double* Z,
                                  Py_ssize_t st0, Py_ssize_t m, double inv_n,
                                  double alpha, double* T, int* hit) { return 0; }
    #endif
    """
    Py_ssize_t xb_ca_lanes(const double* SW, const double* SG, Py_ssize_t wr, Py_ssize_t gr,
                           const float* prow, double* Z, Py_ssize_t st0, Py_ssize_t m,
                           double inv_n, double alpha, double* T, int* hit) noexcept nogil
    Py_ssize_t xb_update_ca(const float* aw, const float* sw, const float* ag, const float* sg,
                            Py_ssize_t c0, Py_ssize_t c1, double* SW, double* SG) noexcept nogil


cdef enum:
    CA = 0
    GO = 1
    SO = 2
    OS = 3
    MAXROWS = 8193                        # Doppler rows of the window, OS fast path


cdef inline Py_ssize_t _mod(Py_ssize_t a, Py_ssize_t M) noexcept nogil:
    a = a % M
    return a + M if a < 0 else a


cdef double _select(double* a, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """k-th smallest (0-based) of a[0:n], in place (Wirth's selection)."""
    cdef Py_ssize_t l = 0, m = n - 1, i, j
    cdef double x, t
    while l < m:
        x = a[k]
        i = l
        j = m
        while True:
            while a[i] < x:
                i += 1
            while x < a[j]:
                j -= 1
            if i <= j:
                t = a[i]; a[i] = a[j]; a[j] = t
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            l = i
        if k < i:
            m = j
    return a[k]


cdef Py_ssize_t _cfar_2d(const float[:, ::1] power, int gr, int gd, int tr, int td, int mode,
                         double alpha, int rank, Py_ssize_t r_lo, Py_ssize_t r_hi,
                         double[:, ::1] work, int64_t[::1] out_idx,
                         double[::1] out_noise) noexcept nogil:
    cdef Py_ssize_t M = power.shape[0], Nr = power.shape[1], cap = out_idx.shape[0]
    cdef int wr = gr + tr, wd = gd + td
    cdef Py_ssize_t N = (2 * wr + 1) * (2 * wd + 1) - (2 * gr + 1) * (2 * gd + 1)
    cdef Py_ssize_t half = N // 2
    cdef Py_ssize_t lo = r_lo if r_lo > wr else wr
    cdef Py_ssize_t hi = r_hi if r_hi < Nr - wr else Nr - wr
    cdef Py_ssize_t d, r, dd, k, cnt = 0, c0, c1
    cdef double* SW = &work[0, 0]
    cdef double* SG = &work[1, 0]
    cdef double* HL = &work[2, 0]
    cdef double* A = &work[3, 0]                 # the row's noise estimates Z[r]
    cdef double* DT = &work[4, 0]                # CA: the row's range-sum steps
    cdef double* buf = &work[0, 0]
    cdef double Z, pv, inv_n = 1.0 / N, inv_h
    cdef const float* prow
    cdef const float* pa
    cdef Py_ssize_t dr, q
    if hi <= lo:
        return 0
    inv_h = 1.0 / half if half > 0 else 0.0
    if mode == OS:
        if alpha > 0.0 and 2 * wd + 1 <= MAXROWS:
            return _os_hist(power, gr, gd, tr, td, alpha, rank, lo, hi, buf, out_idx,
                            out_noise)
        for d in range(M):
            prow = &power[d, 0]
            for r in range(lo, hi):
                Z = _os_exact(power, d, r, gr, gd, wr, wd, buf, N, rank)
                pv = prow[r]
                if pv > alpha * Z:
                    if cnt < cap:
                        out_idx[cnt] = d * Nr + r
                        out_noise[cnt] = Z
                    cnt += 1
        return cnt
    # ---- CA / GO / SO: Doppler box sums for row 0, then incremental updates, only over
    # the columns the tested gates' windows read, [c0, c1) = [lo − wr, hi + wr) (hi ≤
    # Nr − wr); SW/SG[c1], read by the last (unused) slide step, stay 0
    c0 = lo - wr
    c1 = hi + wr
    for r in range(c0, c1 + 1):
        SW[r] = 0.0
        SG[r] = 0.0
        HL[r] = 0.0
    for dd in range(-wd, wd + 1):
        q = dd % M
        if q < 0:
            q += M
        pa = &power[q, 0]
        for r in range(c0, c1):
            SW[r] += pa[r]
        if -gd <= dd <= gd:
            for r in range(c0, c1):
                SG[r] += pa[r]
        if dd < -gd:
            for r in range(c0, c1):
                HL[r] += pa[r]
    for d in range(M):
        if d > 0:
            _update_rows(power, d, M, c0, c1, wd, gd, td if mode != CA else 0, SW, SG, HL)
        prow = &power[d, 0]
        # Z[r] → A, and whether any cell of the row crosses (rare): only then the scan
        # that writes the crossings in order
        if mode == CA:
            k = _row_noise_ca(SW, SG, A, DT, lo, hi, wr, gr, inv_n, prow, alpha)
        else:
            k = _row_noise(SW, SG, HL, A, lo, hi, wr, gr, mode, inv_n, inv_h, prow, alpha)
        if k:
            for r in range(lo, hi):
                if prow[r] > alpha * A[r]:
                    if cnt < cap:
                        out_idx[cnt] = d * Nr + r
                        out_noise[cnt] = A[r]
                    cnt += 1
    return cnt


cdef double _os_exact(const float[:, ::1] power, Py_ssize_t d, Py_ssize_t r, int gr, int gd,
                      int wr, int wd, double* buf, Py_ssize_t N, int rank) noexcept nogil:
    """The rank-th smallest training cell of the CUT (d, r), by gathering and selection."""
    cdef Py_ssize_t M = power.shape[0], k = 0, q
    cdef int dd, dr
    cdef const float* pa
    for dd in range(-wd, wd + 1):
        q = _mod(d + dd, M)
        pa = &power[q, 0]
        for dr in range(-wr, wr + 1):
            if -gd <= dd <= gd and -gr <= dr <= gr:
                continue
            buf[k] = pa[r + dr]
            k += 1
    return _select(buf, N, rank - 1)


# ---- OS by a histogram of quantised levels, slid along range ---------------------------
# key(v) = the top 13 bits below the sign of the float32 v ≥ 0 (8 exponent bits, 5 mantissa
# bits), monotone in v: a bucket spans a relative width ≤ 2^-5. Negative values (and −0)
# go to key 0 (below every positive bucket), NaN above +inf.
cdef enum:
    KEY_SHIFT = 18
    NKEYS = 8192


cdef inline unsigned int _key(float v) noexcept nogil:
    cdef unsigned int b
    memcpy(&b, &v, 4)
    if b & 0x80000000u:
        return 0
    return b >> KEY_SHIFT


cdef Py_ssize_t _os_hist(const float[:, ::1] power, int gr, int gd, int tr, int td,
                         double alpha, int rank, Py_ssize_t lo, Py_ssize_t hi, double* buf,
                         int64_t[::1] out_idx, double[::1] out_noise) noexcept nogil:
    """OS-CFAR (alpha > 0), per Doppler row: the training cells of the CUT are kept as
    counts per key, ``cnt``, updated as the window slides by one gate (2·2Td cells of the
    rows outside the guard band and 4·(2Gd + 1) of the guard rows change: O(Td + Gd) work
    per cell instead of gathering and selecting N). Alongside, the key ks of the rank-th
    smallest cell (Z's bucket) and below = #{cells with key ≤ ks}, kept so that
    below − cnt[ks] < rank ≤ below: each update adjusts ``below`` when its key ≤ ks, then ks
    steps to the neighbouring occupied buckets (Z moves little from one gate to the next).
    A cell can only cross when Z < CUT/α; with t = CUT/α·(1 + 1e-6) (a margin larger than
    every rounding on the way) Z > t for sure when key(t) < ks: one comparison per cell.
    The rest (the crossings and the rare cells whose Z shares t's bucket) are decided
    exactly as the reference does: Z by selection, then power > α·Z."""
    cdef Py_ssize_t M = power.shape[0], Nr = power.shape[1], cap = out_idx.shape[0]
    cdef int wr = gr + tr, wd = gd + td
    cdef Py_ssize_t N = (2 * wr + 1) * (2 * wd + 1) - (2 * gr + 1) * (2 * gd + 1)
    cdef Py_ssize_t d, r, cnt = 0
    cdef int dd, c
    cdef int hist[NKEYS]
    cdef const float* rows[MAXROWS]
    cdef const float* pa
    cdef const float* prow
    cdef int nrow = 2 * wd + 1, g0 = td, g1 = td + 2 * gd
    cdef unsigned int k, ks
    cdef long below
    cdef double Z, pv
    cdef float th
    cdef double scale = (1.0 + 1e-6) / alpha
    for d in range(M):
        memset(hist, 0, sizeof(hist))
        for dd in range(nrow):
            rows[dd] = &power[_mod(d + dd - wd, M), 0]
        r = lo                                              # the window of the first CUT
        for dd in range(nrow):
            pa = rows[dd]
            if dd < g0 or dd > g1:                          # outside the guard band
                for c in range(-wr, wr + 1):
                    hist[_key(pa[r + c])] += 1
            else:
                for c in range(-wr, -gr):
                    hist[_key(pa[r + c])] += 1
                for c in range(gr + 1, wr + 1):
                    hist[_key(pa[r + c])] += 1
        ks = 0
        below = hist[0]
        while below < rank:
            ks += 1
            below += hist[ks]
        prow = rows[wd]
        while True:
            pv = prow[r]
            th = <float>(pv * scale)                        # CUT/α·(1 + 1e-6)
            if not (th >= 0.0) or _key(th) >= ks:           # a candidate: decide exactly
                Z = _os_exact(power, d, r, gr, gd, wr, wd, buf, N, rank)
                if pv > alpha * Z:
                    if cnt < cap:
                        out_idx[cnt] = d * Nr + r
                        out_noise[cnt] = Z
                    cnt += 1
            if r + 1 >= hi:
                break
            # slide to r + 1: column r − wr leaves, r + wr + 1 enters; in the guard rows
            # column r − gr leaves the guard (enters training), r + gr + 1 enters the guard
            for dd in range(nrow):
                pa = rows[dd]
                k = _key(pa[r - wr])
                hist[k] -= 1
                below -= k <= ks
                k = _key(pa[r + wr + 1])
                hist[k] += 1
                below += k <= ks
            for dd in range(g0, g1 + 1):
                pa = rows[dd]
                k = _key(pa[r - gr])
                hist[k] += 1
                below += k <= ks
                k = _key(pa[r + gr + 1])
                hist[k] -= 1
                below -= k <= ks
            while below < rank:                             # Z's bucket moved up
                ks += 1
                below += hist[ks]
            while below - hist[ks] >= rank:                 # or down
                below -= hist[ks]
                ks -= 1
            r += 1
    return cnt


cdef void _update_rows(const float[:, ::1] power, Py_ssize_t d, Py_ssize_t M, Py_ssize_t c0,
                       Py_ssize_t c1, int wd, int gd, int td, double* SW, double* SG,
                       double* HL) noexcept nogil:
    """Doppler box sums of row d from row d − 1 on columns [c0, c1), one pass over the five
    rows involved: SW spans [d − wd, d + wd], SG [d − gd, d + gd], HL [d − wd, d − gd − 1]
    (HL only when td > 0: CA passes 0, it does not use HL)."""
    cdef const float* aw = &power[_mod(d + wd, M), 0]
    cdef const float* sw = &power[_mod(d - 1 - wd, M), 0]
    cdef const float* ag = &power[_mod(d + gd, M), 0]
    cdef const float* sg = &power[_mod(d - 1 - gd, M), 0]
    cdef const float* ah = &power[_mod(d - gd - 1, M), 0]
    cdef Py_ssize_t r
    cdef double s
    if td > 0:
        for r in range(c0, c1):
            s = <double>sw[r]
            SW[r] += <double>aw[r] - s
            SG[r] += <double>ag[r] - <double>sg[r]
            HL[r] += <double>ah[r] - s
    else:                                   # AVX build: 4 columns per step, then the rest
        for r in range(xb_update_ca(aw, sw, ag, sg, c0, c1, SW, SG), c1):
            SW[r] += <double>aw[r] - <double>sw[r]
            SG[r] += <double>ag[r] - <double>sg[r]


cdef int _row_noise_ca(const double* SW, const double* SG, double* Z, double* DT,
                       Py_ssize_t lo, Py_ssize_t hi, int wr, int gr, double inv_n,
                       const float* prow, double alpha) noexcept nogil:
    """CA: the same Z[r] as ``_row_noise`` (the same four segments, the same additions in
    the same order, so the same bits): the steps
    DT[r] = (SW[r + wr + 1] − SW[r − wr]) − (SG[r + gr + 1] − SG[r − gr]) and the four
    running sums T side by side (one addition per cell on the serial chain) with Z and
    the branch-free crossing test. Returns 1 when some cell of the row crosses.
    AVX build: ``xb_ca_lanes`` does it with the segments as the lanes of one vector, the
    steps computed and transposed in registers (4 × 4 blocks), no DT pass (with
    ``xb_update_ca``: the whole CFAR 1.5× faster on the default CPI here); an earlier
    attempt, interleaving DT and Z through memory in extra passes, was slower. The scalar
    loops below finish the steps it left (m mod 4 per segment, the last segment's tail),
    or do all of them in the baseline build."""
    cdef Py_ssize_t n = hi - lo, m = n // 4, i, i0, r
    cdef Py_ssize_t st0, st1, st2, st3
    cdef double T0, T1, T2, T3, z0, z1, z2, z3
    cdef double T4[4]
    cdef int hit = 0
    if n <= 0:
        return 0
    st0 = lo
    st1 = lo + m
    st2 = lo + 2 * m
    st3 = lo + 3 * m
    T4[0] = _direct_sum(SW, SG, st0, wr, gr)
    T4[1] = _direct_sum(SW, SG, st1, wr, gr)
    T4[2] = _direct_sum(SW, SG, st2, wr, gr)
    T4[3] = _direct_sum(SW, SG, st3, wr, gr)
    # the AVX build: the four segments as vector lanes, four steps at a time, their steps
    # computed on the way (same bits); DT then only for the steps left to the loops below
    i0 = xb_ca_lanes(SW, SG, wr, gr, prow, Z, st0, m, inv_n, alpha, T4, &hit)
    T0 = T4[0]
    T1 = T4[1]
    T2 = T4[2]
    T3 = T4[3]
    for i in range(4):
        for r in range(lo + i * m + i0, hi if i == 3 else lo + (i + 1) * m):
            DT[r] = (SW[r + wr + 1] - SW[r - wr]) - (SG[r + gr + 1] - SG[r - gr])
    for i in range(i0, m):
        z0 = T0 * inv_n
        z1 = T1 * inv_n
        z2 = T2 * inv_n
        z3 = T3 * inv_n
        Z[st0 + i] = z0
        Z[st1 + i] = z1
        Z[st2 + i] = z2
        Z[st3 + i] = z3
        hit |= (((prow[st0 + i] > alpha * z0) | (prow[st1 + i] > alpha * z1))
                | ((prow[st2 + i] > alpha * z2) | (prow[st3 + i] > alpha * z3)))
        T0 += DT[st0 + i]
        T1 += DT[st1 + i]
        T2 += DT[st2 + i]
        T3 += DT[st3 + i]
    for r in range(st3 + m, hi):
        z0 = T3 * inv_n
        Z[r] = z0
        hit |= prow[r] > alpha * z0
        T3 += DT[r]
    return hit != 0


cdef inline double _direct_sum(const double* SW, const double* SG, Py_ssize_t r, int wr,
                               int gr) noexcept nogil:
    """Σ_{|dr|≤wr} SW[r + dr] − Σ_{|dr|≤gr} SG[r + dr], left to right (a segment's start)."""
    cdef double t = 0.0
    cdef Py_ssize_t k
    for k in range(r - wr, r + wr + 1):
        t += SW[k]
    for k in range(r - gr, r + gr + 1):
        t -= SG[k]
    return t


cdef int _row_noise(const double* SW, const double* SG, const double* HL, double* Z,
                    Py_ssize_t lo, Py_ssize_t hi, int wr, int gr, int mode, double inv_n,
                    double inv_h, const float* prow, double alpha) noexcept nogil:
    """Z[r] for r in [lo, hi) by sliding range sums of the Doppler box sums:
    T = Σ_{|dr|≤wr} SW − Σ_{|dr|≤gr} SG (all training cells) and, for GO/SO,
    Lo = Σ_{dr∈[−wr,−1]} SW − Σ_{dr∈[−gr,−1]} SG (lower half without its dr = 0 column,
    HL). The range is cut into four segments slid side by side (independent dependency
    chains; each segment starts from a direct sum). Returns 1 when some cell of the row
    crosses, prow[r] > alpha·Z[r] (tested branch-free on the way), else 0."""
    cdef Py_ssize_t n = hi - lo, m = n // 4, s, i, r, k
    cdef Py_ssize_t st[4]
    cdef double T[4]
    cdef double Lo[4]
    cdef double lower, upper, z
    cdef int hit = 0
    if n <= 0:
        return 0
    for s in range(4):
        st[s] = lo + s * m
    # segment s covers [st[s], st[s] + m) (the last one up to hi; all of it when m = 0)
    for s in range(4):
        r = st[s]
        T[s] = 0.0
        Lo[s] = 0.0
        for k in range(r - wr, r + wr + 1):
            T[s] += SW[k]
        for k in range(r - gr, r + gr + 1):
            T[s] -= SG[k]
        for k in range(r - wr, r):
            Lo[s] += SW[k]
        for k in range(r - gr, r):
            Lo[s] -= SG[k]
    if mode == CA:
        for i in range(m):
            for s in range(4):
                r = st[s] + i
                z = T[s] * inv_n
                Z[r] = z
                hit |= prow[r] > alpha * z
                T[s] += (SW[r + wr + 1] - SW[r - wr]) - (SG[r + gr + 1] - SG[r - gr])
        s = 3
        for r in range(st[3] + m, hi):
            z = T[s] * inv_n
            Z[r] = z
            hit |= prow[r] > alpha * z
            T[s] += (SW[r + wr + 1] - SW[r - wr]) - (SG[r + gr + 1] - SG[r - gr])
        return hit
    for i in range(m):
        for s in range(4):
            r = st[s] + i
            lower = Lo[s] + HL[r]
            upper = T[s] - lower
            if mode == GO:
                z = (lower if lower > upper else upper) * inv_h
            else:
                z = (lower if lower < upper else upper) * inv_h
            Z[r] = z
            hit |= prow[r] > alpha * z
            T[s] += (SW[r + wr + 1] - SW[r - wr]) - (SG[r + gr + 1] - SG[r - gr])
            Lo[s] += (SW[r] - SW[r - wr]) - (SG[r] - SG[r - gr])
    s = 3
    for r in range(st[3] + m, hi):
        lower = Lo[s] + HL[r]
        upper = T[s] - lower
        if mode == GO:
            z = (lower if lower > upper else upper) * inv_h
        else:
            z = (lower if lower < upper else upper) * inv_h
        Z[r] = z
        hit |= prow[r] > alpha * z
        T[s] += (SW[r + wr + 1] - SW[r - wr]) - (SG[r + gr + 1] - SG[r - gr])
        Lo[s] += (SW[r] - SW[r - wr]) - (SG[r] - SG[r - gr])
    return hit


def cfar_2d(const float[:, ::1] power, int guard_r, int guard_d, int train_r, int train_d,
            int mode, double alpha, int rank, Py_ssize_t r_lo, Py_ssize_t r_hi,
            double[:, ::1] work, int64_t[::1] out_idx, double[::1] out_noise):
    """Crossings of the 2-D CFAR → out_idx, out_noise; returns their total count."""
    cdef Py_ssize_t n
    with nogil:
        n = _cfar_2d(power, guard_r, guard_d, train_r, train_d, mode, alpha, rank, r_lo,
                     r_hi, work, out_idx, out_noise)
    return n
