# cython: language_level=3
"""One whole GNN tracker scan per call: predict → gate → assign → update → confirm/delete →
initiate, over a packed bank of tracks. Twin: xband/reference/scan.py (the same steps
on the numpy twins of the kernels; the equations are those of xband.track.tracker).

The scan reuses the per-track routines of ext/kalman.pyx and ext/imm.pyx (their cdef
cores are included): `_imm_mix_predict` (IMM interaction and model-matched prediction;
with one model and Π = [[1]] it is the plain prediction), `_imm_combine` (the combined
estimate the gate and the track management use), `_gate_pair` (the χ² gate of one pair,
the arithmetic of `sph_gate`), `_select`/`_sph_measure`/`_gather` and `_sph_joseph`
(the spherical EKF update of `ekf_update_sph`: `_joseph`'s arithmetic without the products
by the Jacobian's zero columns), and the sparse optimal assignment of
ext/assign.pyx (`assign_sparse`). So a scan here computes what xband.track.tracker's
per-stage path computes, in one call instead of ≈ 60 numpy and kernel calls.

State layout (the tracker owns the arrays; see xband.track.tracker):

* x, P: the r models' states packed model-major for n tracks (xband.reference.imm);
  mu, cbar (n, r): mode probabilities and the predicted ones c̄; book (5, ≥ n) int64
  rows id, hits (bit 0 = this scan), age, misses, confirmed.
* The scan reads them (and updates x, P, mu, cbar in place by the prediction and the
  measurement updates), then writes the surviving tracks followed by the new ones into
  the output arrays xo, Po, muo, cbo (packed for n' tracks), booko (5, ≥ n'), and their
  combined estimates into xc (≥ n', D), Pc (≥ n', D, D). Returns n'.

Scratch (per-detection tables, the gated pairs, the assignment's workspace) is owned by
the ``GnnScan`` object and grown on demand — C memory for what the nogil body may have to
grow (the pairs), numpy arrays for the rest.
"""
include "_kalman.pxi"
include "_imm.pxi"
include "_assign.pxi"

from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy
from libc.math cimport exp, isnan

cimport cython


cdef enum:
    # counts[...] written by scan_step
    C_REJECTED = 0
    C_UPDATES = 1
    C_SKIPPED = 2
    C_CONFIRMED = 3
    C_DELETED = 4
    C_INITIATED = 5
    N_COUNTS = 6


cdef class GnnScan:
    """Constants of a tracker's scan (the bank's models, the management parameters) and
    the scan's scratch. ``dims`` (r,), ``maps`` (r, r, MAXD), ``Pi`` (r, r), ``kinds``
    (r,), ``pos`` (r, MAXD): as xband.track.imm.IMM holds them; ``mu0`` (r,) the mode
    probabilities of a new track; ``init_var`` (Σ d_j,) the initial variance of every
    model component a new track cannot observe (0 for position and velocity); ``gates``
    (5,) the χ² gate by degrees of freedom; then M, N, the misses and the position σ that
    delete a confirmed track, and the velocity σ of a new track."""
    cdef readonly object args
    cdef const long long[::1] dims
    cdef const long long[:, :, ::1] maps
    cdef const double[:, ::1] Pi
    cdef const long long[::1] kinds
    cdef const long long[:, ::1] pos
    cdef const double[::1] mu0
    cdef const double[::1] init_var
    cdef const double[::1] gates
    cdef int r, D, sumd, sumdd, confirm_m, confirm_n, delete_misses
    cdef long long window
    cdef double delete_sigma, init_speed_var
    # numpy scratch (grown with the GIL held, before the nogil body)
    cdef object _np
    cdef double[:, ::1] xcur
    cdef double[:, :, ::1] Pcur
    cdef double[::1] tx
    cdef double[::1] tP
    cdef double[:, ::1] tmu
    cdef long long[::1] dsel
    cdef long long[::1] dm
    cdef double[::1] dgate
    cdef long long[::1] dflag
    cdef long long[::1] order
    cdef long long[::1] r2c
    cdef long long[::1] hit
    cdef long long[::1] keep
    cdef double[::1] miss
    cdef Py_ssize_t cap_n, cap_k
    # C scratch grown inside the nogil body (the gated pairs, the assignment workspace)
    cdef Py_ssize_t* row_ptr
    cdef Py_ssize_t* cols
    cdef double* cost
    cdef Py_ssize_t* r2c_p
    cdef double* work
    cdef Py_ssize_t* iwork
    cdef Py_ssize_t* cand
    cdef Py_ssize_t* ccell
    cdef Py_ssize_t* cstart
    cdef Py_ssize_t* citems
    cdef Py_ssize_t cap_cols, cap_cost, cap_work, cap_iwork, cap_rows, cap_r2c, cap_cand
    cdef Py_ssize_t cap_ccell, cap_cstart, cap_citems

    def __cinit__(self):
        self.row_ptr = NULL
        self.cols = NULL
        self.cost = NULL
        self.r2c_p = NULL
        self.work = NULL
        self.iwork = NULL
        self.cand = NULL
        self.ccell = NULL
        self.cstart = NULL
        self.citems = NULL
        self.cap_cols = self.cap_cost = self.cap_work = self.cap_iwork = 0
        self.cap_rows = self.cap_r2c = self.cap_cand = 0
        self.cap_ccell = self.cap_cstart = self.cap_citems = 0

    def __dealloc__(self):
        free(self.row_ptr)
        free(self.cols)
        free(self.cost)
        free(self.r2c_p)
        free(self.work)
        free(self.iwork)
        free(self.cand)
        free(self.ccell)
        free(self.cstart)
        free(self.citems)

    def __init__(self, dims, maps, Pi, kinds, pos, mu0, init_var, gates, long long confirm_m,
                 long long confirm_n, long long delete_misses, double delete_sigma,
                 double init_speed_sigma):
        import numpy as np
        self._np = np
        self.args = (dims, maps, Pi, kinds, pos, mu0, init_var, gates, confirm_m, confirm_n,
                     delete_misses, delete_sigma, init_speed_sigma)
        self.dims = np.ascontiguousarray(dims, np.int64)
        self.maps = np.ascontiguousarray(maps, np.int64)
        self.Pi = np.ascontiguousarray(Pi, np.float64)
        self.kinds = np.ascontiguousarray(kinds, np.int64)
        self.pos = np.ascontiguousarray(pos, np.int64)
        self.mu0 = np.ascontiguousarray(mu0, np.float64)
        self.init_var = np.ascontiguousarray(init_var, np.float64)
        self.gates = np.ascontiguousarray(gates, np.float64)
        self.r = <int>self.dims.shape[0]
        if not 1 <= self.r <= MAXR:
            raise ValueError(f"GnnScan: 1 to {MAXR} models, got {self.r}")
        r = self.r
        if (self.maps.shape[0] != r or self.maps.shape[1] != r or self.maps.shape[2] != MAXD
                or self.Pi.shape[0] != r or self.Pi.shape[1] != r or self.kinds.shape[0] != r
                or self.pos.shape[0] != r or self.pos.shape[1] != MAXD):
            raise ValueError(f"GnnScan: maps (r, r, {MAXD}), Pi (r, r), kinds (r,) and pos "
                             f"(r, {MAXD}) expected for r = {r}")
        for j in range(r):
            if not 6 <= self.dims[j] <= MAXD:
                raise ValueError(f"GnnScan: model state sizes 6 to {MAXD}, got {self.dims[j]}")
        if not 1 <= confirm_m <= confirm_n <= 62:
            raise ValueError(f"GnnScan: 1 <= confirm_m <= confirm_n <= 62 expected, got "
                             f"{confirm_m}, {confirm_n}")
        self.sumd = 0
        self.sumdd = 0
        for j in range(self.r):
            self.sumd += <int>self.dims[j]
            self.sumdd += <int>(self.dims[j] * self.dims[j])
        dims_a = np.asarray(self.dims)
        pos_a = np.asarray(self.pos)
        self.D = 1 + int(max(pos_a[j, :dims_a[j]].max() for j in range(self.r)))
        if self.D > MAXD:
            raise ValueError(f"GnnScan: a combined state of at most {MAXD} components")
        if self.init_var.shape[0] != self.sumd or self.gates.shape[0] != 5 \
                or self.mu0.shape[0] != self.r:
            raise ValueError("GnnScan: init_var (Σ d_j,), gates (5,) and mu0 (r,) expected")
        self.confirm_m = <int>confirm_m
        self.confirm_n = <int>confirm_n
        self.window = (<long long>1 << confirm_n) - 1
        self.delete_misses = <int>delete_misses
        self.delete_sigma = delete_sigma
        self.init_speed_var = init_speed_sigma * init_speed_sigma
        self.cap_n = -1
        self.cap_k = -1
        self._reserve(16, 16)

    def __reduce__(self):
        # a copy gets scratch of the same capacity (a deep-copied tracker's next scan
        # then allocates nothing)
        return (GnnScan, self.args, (self.cap_n, self.cap_k, self.cap_cols))

    def __setstate__(self, state):
        cdef Py_ssize_t n, k, pairs, nw, niw
        n, k, pairs = state
        self._reserve(n, k)
        n, k = self.cap_n, self.cap_k
        assign_work_sizes(n, k, pairs, &nw, &niw)
        if not (_grow_p(<void**>&self.row_ptr, &self.cap_rows, n + 1, sizeof(Py_ssize_t))
                and _grow_p(<void**>&self.r2c_p, &self.cap_r2c, n, sizeof(Py_ssize_t))
                and _grow_p(<void**>&self.cand, &self.cap_cand, k, sizeof(Py_ssize_t))
                and _grow_p(<void**>&self.ccell, &self.cap_ccell, k, sizeof(Py_ssize_t))
                and _grow_p(<void**>&self.cstart, &self.cap_cstart,
                            k + 2 * <Py_ssize_t>(k ** 0.5) + 2, sizeof(Py_ssize_t))
                and _grow_p(<void**>&self.citems, &self.cap_citems, k + 1, sizeof(Py_ssize_t))
                and _grow_p(<void**>&self.cols, &self.cap_cols, pairs, sizeof(Py_ssize_t))
                and _grow_p(<void**>&self.cost, &self.cap_cost, pairs, sizeof(double))
                and _grow_p(<void**>&self.work, &self.cap_work, nw, sizeof(double))
                and _grow_p(<void**>&self.iwork, &self.cap_iwork, niw, sizeof(Py_ssize_t))):
            raise MemoryError("GnnScan: out of memory for the scratch")

    @property
    def dim(self):
        """Dimension of the combined (union) state."""
        return self.D

    cdef _reserve(self, Py_ssize_t n, Py_ssize_t k):
        np = self._np
        if n > self.cap_n:
            n = max(n, 2 * self.cap_n)
            self.xcur = np.empty((n, self.D))
            self.Pcur = np.empty((n, self.D, self.D))
            self.r2c = np.empty(n, np.int64)
            self.hit = np.empty(n, np.int64)
            self.keep = np.empty(n, np.int64)
            self.miss = np.ones(n)
            self.cap_n = n
        if k > self.cap_k:
            k = max(k, 2 * self.cap_k)
            self.tx = np.empty(k * self.sumd)
            self.tP = np.empty(k * self.sumdd)
            self.tmu = np.empty((k, self.r))
            self.dsel = np.empty(4 * k, np.int64)
            self.dm = np.empty(k, np.int64)
            self.dgate = np.empty(k)
            self.dflag = np.empty(k, np.int64)
            self.order = np.empty(k, np.int64)
            self.cap_k = k


cdef inline bint _grow_p(void** p, Py_ssize_t* cap, Py_ssize_t need,
                         size_t item) noexcept nogil:
    """Grow a malloc'ed buffer to at least ``need`` items (doubling); False when out of
    memory (the old buffer is kept)."""
    cdef Py_ssize_t c
    cdef void* q
    if need <= cap[0]:
        return True
    c = 2 * cap[0] if 2 * cap[0] > need else need
    if c < 64:
        c = 64
    q = realloc(p[0], <size_t>c * item)
    if q == NULL:
        return False
    p[0] = q
    cap[0] = c
    return True


cdef inline void _sort_by_range(const double[:, ::1] z, long long* idx,
                                Py_ssize_t m) noexcept nogil:
    """Sort detection indices idx[:m] by range (insertion into runs, then merge-free
    shell sort: m is at most a few thousand and this runs once per scan)."""
    cdef Py_ssize_t gap = 1, i, j
    cdef long long v
    cdef double rv
    while gap < m // 3:
        gap = 3 * gap + 1
    while gap >= 1:
        for i in range(gap, m):
            v = idx[i]
            rv = z[v, 0]
            j = i
            while j >= gap and (z[idx[j - gap], 0] > rv
                                or (z[idx[j - gap], 0] == rv and idx[j - gap] > v)):
                idx[j] = idx[j - gap]
                j -= gap
            idx[j] = v
        gap //= 3


cdef inline Py_ssize_t _first_ge(const double[:, ::1] z, const long long* idx, Py_ssize_t m,
                                 double v) noexcept nogil:
    cdef Py_ssize_t lo = 0, hi = m, mid
    while lo < hi:
        mid = (lo + hi) // 2
        if z[idx[mid], 0] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline bint _take_pair(GnnScan s, Py_ssize_t j, double nis, double g,
                           Py_ssize_t* npairs) noexcept nogil:
    """Append pair (·, j) of NIS ≤ g when worth taking (cost NIS/γ < the miss cost 1)."""
    if nis / g < 1.0:
        s.cols[npairs[0]] = j
        s.cost[npairs[0]] = nis / g
        npairs[0] += 1
    return True


cdef inline void _sort_row(GnnScan s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """Sort the pairs [a, b) of one track by detection (shell sort: usually a handful,
    thousands for a track whose window covers the scene; the columns are distinct)."""
    cdef Py_ssize_t gap = 1, i, q, c, m = b - a
    cdef double v
    while gap < m // 3:
        gap = 3 * gap + 1
    while gap >= 1:
        for i in range(a + gap, b):
            c = s.cols[i]
            v = s.cost[i]
            q = i
            while q - gap >= a and s.cols[q - gap] > c:
                s.cols[q] = s.cols[q - gap]
                s.cost[q] = s.cost[q - gap]
                q -= gap
            s.cols[q] = c
            s.cost[q] = v
        gap //= 3


cdef inline int _sph_joseph(double* x, double* P, const double* y, const double* H,
                            const double* R, int d, int m, double* nis,
                            double* loglik) noexcept nogil:
    """kalman's `_joseph` for a Jacobian H (m×d) that is zero beyond the first six
    columns (position and velocity: the spherical measurement of every motion model),
    with the products by those zero columns left out: P Hᵀ and H P Hᵀ over six columns,
    K H only in its first six columns, (I − K H) P and ((I − K H) P)(I − K H)ᵀ as six
    products plus the identity's one term. Every remaining product and sum is the one
    `_joseph` forms, in its order (the left-out terms are exact zeros), so x, P, NIS and
    the log-likelihood are `_joseph`'s to the bit (only the sign of an exact-zero result
    could differ)."""
    cdef double PHt[MAXD * MAXM]
    cdef double S[MAXM * MAXM]
    cdef double L[MAXM * MAXM]
    cdef double K[MAXD * MAXM]
    cdef double A[MAXD * 6]
    cdef double T[MAXD * MAXD]
    cdef double KR[MAXD * MAXM]
    cdef double U[MAXD * MAXD]
    cdef double w[MAXM]
    cdef double row[MAXM]
    cdef int i, j, l, a
    cdef double s, v
    for i in range(d):                          # P Hᵀ (d×m), six columns of H
        for a in range(m):
            PHt[i * m + a] = 0.0
        for l in range(6):
            v = P[i * d + l]
            for a in range(m):
                PHt[i * m + a] += v * H[a * d + l]
    for a in range(m):                          # S = H P Hᵀ + R
        for j in range(m):
            S[a * m + j] = 0.0
        for l in range(6):
            v = H[a * d + l]
            for j in range(m):
                S[a * m + j] += v * PHt[l * m + j]
    for i in range(m * m):
        S[i] += R[i]
    symmetrize(S, m)
    if cholesky(S, L, m) != 0:
        return SKIP_SINGULAR
    for i in range(m):
        w[i] = y[i]
    chol_solve(L, w, m)
    s = 0.0
    for i in range(m):
        s += y[i] * w[i]
    nis[0] = s
    s = 0.0
    for i in range(m):
        s += log(L[i * m + i])
    loglik[0] = -0.5 * (nis[0] + 2.0 * s + m * LOG_2PI)
    for i in range(d):                          # K = P Hᵀ S⁻¹, row by row
        for j in range(m):
            row[j] = PHt[i * m + j]
        chol_solve(L, row, m)
        for j in range(m):
            K[i * m + j] = row[j]
    for i in range(d):                          # x ← x + K y
        s = 0.0
        for j in range(m):
            s += K[i * m + j] * y[j]
        x[i] += s
    for i in range(d):                          # A = −(K H) in its six columns, + I
        for l in range(6):
            A[i * 6 + l] = 0.0
        for a in range(m):
            v = K[i * m + a]
            for l in range(6):
                A[i * 6 + l] += v * H[a * d + l]
        for l in range(6):
            A[i * 6 + l] = -A[i * 6 + l]
        if i < 6:
            A[i * 6 + i] += 1.0
    for i in range(d):                          # T = (I − K H) P
        for j in range(d):
            T[i * d + j] = 0.0
        for l in range(6):
            v = A[i * 6 + l]
            for j in range(d):
                T[i * d + j] += v * P[l * d + j]
        if i >= 6:
            for j in range(d):
                T[i * d + j] += P[i * d + j]
    for i in range(d):                          # K R
        for j in range(m):
            KR[i * m + j] = 0.0
        for a in range(m):
            v = K[i * m + a]
            for j in range(m):
                KR[i * m + j] += v * R[a * m + j]
    for i in range(d):                          # U = T (I − K H)ᵀ, then + K R Kᵀ
        for j in range(d):
            U[i * d + j] = 0.0
        for l in range(6):
            v = T[i * d + l]
            for j in range(d):
                U[i * d + j] += v * A[j * 6 + l]
        for j in range(6, d):
            U[i * d + j] += T[i * d + j]
    for i in range(d):                          # P = sym(TI + KRK), KRK in _joseph's order
        for j in range(i, d):
            s = 0.0
            v = 0.0
            for a in range(m):
                s += KR[i * m + a] * K[j * m + a]
                v += KR[j * m + a] * K[i * m + a]
            s = 0.5 * ((U[i * d + j] + s) + (U[j * d + i] + v))
            P[i * d + j] = s
            P[j * d + i] = s
    return UPDATED


cdef int _sph_joseph_d6(double* x, double* P, const double* y, const double* H,
                        const double* R, int m, double* nis, double* ll) noexcept nogil:
    if m == 4:                                   # every component measured: the usual case
        return _sph_joseph(x, P, y, H, R, 6, 4, nis, ll)
    return _sph_joseph(x, P, y, H, R, 6, m, nis, ll)


cdef int _sph_joseph_d7(double* x, double* P, const double* y, const double* H,
                        const double* R, int m, double* nis, double* ll) noexcept nogil:
    if m == 4:                                   # every component measured: the usual case
        return _sph_joseph(x, P, y, H, R, 7, 4, nis, ll)
    return _sph_joseph(x, P, y, H, R, 7, m, nis, ll)


cdef int _sph_joseph_d9(double* x, double* P, const double* y, const double* H,
                        const double* R, int m, double* nis, double* ll) noexcept nogil:
    if m == 4:                                   # every component measured: the usual case
        return _sph_joseph(x, P, y, H, R, 9, 4, nis, ll)
    return _sph_joseph(x, P, y, H, R, 9, m, nis, ll)


cdef inline Py_ssize_t _cell(double v, double lo, double inv_w, Py_ssize_t nc) noexcept nogil:
    """Grid cell of v (monotone in v, clamped to [0, nc)); NaN → 0."""
    cdef double f = (v - lo) * inv_w
    if not f > 0.0:
        return 0
    if f >= <double>nc:
        return nc - 1
    return <Py_ssize_t>f


cdef Py_ssize_t _gate_grid(GnnScan s, Py_ssize_t n, Py_ssize_t nv,
                           const double[:, ::1] z, const double[:, :, ::1] R) noexcept nogil:
    """The gated pairs of the n tracks (combined estimates s.xcur, s.Pcur) and the nv
    usable detections s.order[:nv], with the same pairs and NIS as the dense gate
    (kalman's sph_gate: the pair arithmetic is `_gate_pair`'s).

    A pair can only be inside the gate if |y_r| ≤ √(γ (H P Hᵀ_rr + R_rr)) and
    |wrap(y_az)| ≤ √(γ (H P Hᵀ_az,az + R_az,az)) (the bounds _gate_pair tests first), so
    with γ, R_rr and R_az,az replaced by their maxima over the detections each track only
    tries the detections in a range × azimuth rectangle (widened by a relative 1e-9 and
    1e-9 against rounding; the azimuth interval split where it crosses ±π). The
    detections are binned once per scan in a grid of about nv cells (range between the
    smallest and the largest detection range, azimuth wrapped to [−π, π]); those without
    a usable azimuth (a sum-only receiver's NaN) are tried on the range bound alone, from
    a list sorted by range. The candidates of a track are sorted by detection index so
    the pairs come out in the dense gate's order. Writes s.row_ptr, s.cols, s.cost;
    returns the pair count, or −1 when out of memory."""
    cdef Py_ssize_t i, j, p, q, lo, hi, m, npairs = 0, nz = 0, na = 0, nR, nA, nc, c
    cdef Py_ssize_t ir0, ir1, ia, ib, a0, a1, a2, a3, ir
    cdef long long* order = &s.order[0]
    cdef double gmax = 0.0, rmax = 0.0, amax = 0.0, half, ha, nis, ll, v
    cdef double r_lo = INFINITY, r_hi = -INFINITY, inv_r, inv_a, PI = 0.5 * TWO_PI
    cdef int a, b
    cdef int sel[4]
    cdef double h[4]
    cdef double Hf[4 * MAXD]
    cdef double HP[4 * MAXD]
    cdef double HPH[16]
    cdef double P6[36]
    cdef Py_ssize_t* start
    cdef Py_ssize_t* items
    # the detections: with a usable azimuth into the grid, the others into order[:nz]
    for p in range(nv):
        j = order[p]
        if s.dgate[j] > gmax:
            gmax = s.dgate[j]
        if R[j, 0, 0] > rmax:
            rmax = R[j, 0, 0]
        if z[j, 0] < r_lo:
            r_lo = z[j, 0]
        if z[j, 0] > r_hi:
            r_hi = z[j, 0]
    for p in range(nv):                          # usable azimuth: selected component 1
        j = order[p]
        a = 0
        for b in range(<int>s.dm[j]):
            if s.dsel[4 * j + b] == 1:
                a = 1
        if a:
            if R[j, 1, 1] > amax:
                amax = R[j, 1, 1]
            s.cand[na] = j
            na += 1
        else:
            order[nz] = j
            nz += 1
    _sort_by_range(z, order, nz)
    nA = 1
    while nA * nA < na:
        nA += 1
    nR = nA
    nc = nR * nA
    inv_r = nR / (r_hi - r_lo) if r_hi > r_lo else 0.0
    inv_a = nA / TWO_PI
    if not (_grow_p(<void**>&s.cstart, &s.cap_cstart, nc + 1, sizeof(Py_ssize_t))
            and _grow_p(<void**>&s.citems, &s.cap_citems, na + 1, sizeof(Py_ssize_t))):
        return -1
    start = s.cstart
    items = s.citems
    for c in range(nc + 1):
        start[c] = 0
    for p in range(na):                          # counting sort into the cells
        j = s.cand[p]
        c = _cell(z[j, 0], r_lo, inv_r, nR) * nA + _cell(wrap_angle(z[j, 1]) + PI, 0.0,
                                                         inv_a, nA)
        s.ccell[p] = c
        start[c + 1] += 1
    for c in range(nc):
        start[c + 1] += start[c]
    for p in range(na):
        c = s.ccell[p]
        items[start[c]] = s.cand[p]
        start[c] += 1
    for c in range(nc, 0, -1):
        start[c] = start[c - 1]
    start[0] = 0
    s.row_ptr[0] = 0
    for i in range(n):
        _sph_measure(&s.xcur[i, 0], 6, h, Hf)
        for a in range(6):
            for b in range(6):
                P6[a * 6 + b] = s.Pcur[i, a, b]
        mat_mul(Hf, P6, HP, 4, 6, 6)
        mat_mul_bt(HP, Hf, HPH, 4, 6, 4)
        half = sqrt(gmax * (HPH[0] + rmax)) * (1.0 + 1e-9) + 1e-9
        ha = sqrt(gmax * (HPH[5] + amax)) * (1.0 + 1e-9) + 1e-9
        if isfinite(half) and isfinite(h[0]):
            ir0 = _cell(h[0] - half, r_lo, inv_r, nR)
            ir1 = _cell(h[0] + half, r_lo, inv_r, nR)
            lo = _first_ge(z, order, nz, h[0] - half)
            hi = _first_ge(z, order, nz, h[0] + half)
            while hi < nz and z[order[hi], 0] <= h[0] + half:
                hi += 1
        else:
            ir0, ir1, lo, hi = 0, nR - 1, 0, nz
        # azimuth cells [a0, a1] and [a2, a3] (the second empty unless wrapped)
        a2, a3 = 0, -1
        if isfinite(ha) and isfinite(h[1]) and ha < PI:
            v = h[1] - ha
            if v < -PI:
                a0 = _cell(v + TWO_PI + PI, 0.0, inv_a, nA)
                a1 = nA - 1
                a2 = 0
                a3 = _cell(h[1] + ha + PI, 0.0, inv_a, nA)
            elif h[1] + ha > PI:
                a0 = _cell(v + PI, 0.0, inv_a, nA)
                a1 = nA - 1
                a2 = 0
                a3 = _cell(h[1] + ha - TWO_PI + PI, 0.0, inv_a, nA)
            else:
                a0 = _cell(v + PI, 0.0, inv_a, nA)
                a1 = _cell(h[1] + ha + PI, 0.0, inv_a, nA)
            if a2 <= a3 and a3 >= a0:            # the two pieces overlap: one sweep
                a0, a1, a2, a3 = 0, nA - 1, 0, -1
        else:
            a0, a1 = 0, nA - 1
        m = hi - lo
        for ir in range(ir0, ir1 + 1):
            m += start[ir * nA + a1 + 1] - start[ir * nA + a0]
            if a2 <= a3:
                m += start[ir * nA + a3 + 1] - start[ir * nA + a2]
        if not (_grow_p(<void**>&s.cols, &s.cap_cols, npairs + m, sizeof(Py_ssize_t))
                and _grow_p(<void**>&s.cost, &s.cap_cost, npairs + m, sizeof(double))):
            return -1
        for p in range(lo, hi):
            j = order[p]
            for a in range(4):
                sel[a] = <int>s.dsel[4 * j + a]
            if _gate_pair(z, R, j, sel, <int>s.dm[j], h, HPH, s.dgate[j], &nis, &ll):
                _take_pair(s, j, nis, s.dgate[j], &npairs)
        for ir in range(ir0, ir1 + 1):
            for q in range(2):
                if q == 0:
                    ia, ib = ir * nA + a0, ir * nA + a1
                elif a2 <= a3:
                    ia, ib = ir * nA + a2, ir * nA + a3
                else:
                    break
                for p in range(start[ia], start[ib + 1]):
                    j = items[p]
                    for a in range(4):
                        sel[a] = <int>s.dsel[4 * j + a]
                    if _gate_pair(z, R, j, sel, <int>s.dm[j], h, HPH, s.dgate[j], &nis,
                                  &ll):
                        _take_pair(s, j, nis, s.dgate[j], &npairs)
        _sort_row(s, s.row_ptr[i], npairs)
        s.row_ptr[i + 1] = npairs
    return npairs


cdef Py_ssize_t _scan(GnnScan s, double* x, double* P, double[:, ::1] mu,
                      double[:, ::1] cbar, const long long[:, ::1] book,
                      const double[:, ::1] z, const double[:, :, ::1] R, const double* F,
                      const double* Q, double dt, double* xo, double* Po,
                      double[:, ::1] muo, double[:, ::1] cbo, long long[:, ::1] booko,
                      double[:, ::1] xc, double[:, :, ::1] Pc, long long next_id,
                      long long[::1] counts) noexcept nogil:
    cdef Py_ssize_t n = mu.shape[0], k = z.shape[0], i, j, a, b, c, p, nv, npairs
    cdef Py_ssize_t kept, nfree, n2, t, o
    cdef int r = s.r, D = s.D, m, dj, jm, dof, st, stmax
    cdef Py_ssize_t xoff[MAXR]
    cdef Py_ssize_t poff[MAXR]
    cdef Py_ssize_t xoff2[MAXR]
    cdef Py_ssize_t poff2[MAXR]
    cdef Py_ssize_t toff[MAXR]
    cdef Py_ssize_t tpoff[MAXR]
    cdef int sel[4]
    cdef double h[4]
    cdef double Hf[4 * MAXD]
    cdef double HP[4 * MAXD]
    cdef double HPH[16]
    cdef double P6[36]
    cdef double Hs[4 * MAXD]
    cdef double Rs[16]
    cdef double y[4]
    cdef double ll[MAXR]
    cdef double x6[6]
    cdef double J[9]
    cdef double JR[9]
    cdef double nis, lw, mx, tot, g, gmax, rmax, half, sig2, ca, sa, ce, se, rce, nrse
    cdef double rr, ux, uy, uz, rng
    cdef long long hits, conf, score, left
    cdef bint drop, ok, comp, var_ok, valid
    cdef double* xm
    cdef double* pm
    cdef long long* dsel = &s.dsel[0]
    cdef long long* order = &s.order[0]

    for c in range(N_COUNTS):
        counts[c] = 0
    xoff[0] = 0
    poff[0] = 0
    for j in range(1, r):
        xoff[j] = xoff[j - 1] + n * s.dims[j - 1]
        poff[j] = poff[j - 1] + n * s.dims[j - 1] * s.dims[j - 1]

    # ---- the detections: usable components, gate by degrees of freedom. Range must be
    # there; angles and range rate may be NaN (left out); ±inf anywhere, or a non-finite
    # entry of R between present components (a variance or a covariance), rejects the
    # detection (counted, never used).
    nv = 0
    for j in range(k):
        valid = isfinite(z[j, 0])
        dof = 0
        for a in range(4):
            comp = isfinite(z[j, a])
            if not (comp or isnan(z[j, a])):
                valid = False
            if comp:
                dof += 1
                for b in range(4):
                    if isfinite(z[j, b]) and not isfinite(R[j, a, b]):
                        valid = False
        if not valid:
            counts[C_REJECTED] += 1
            s.dflag[j] = 0
            s.dm[j] = 0
            continue
        s.dflag[j] = 1                           # 1 usable, 2 assigned
        s.dgate[j] = s.gates[dof if dof > 1 else 1]
        for a in range(4):
            sel[a] = 0
        s.dm[j] = _select(z, R, j, sel)
        for a in range(4):
            dsel[4 * j + a] = sel[a]
        if s.dm[j] > 0:
            order[nv] = j
            nv += 1

    # ---- predict every track to the scan time (IMM interaction + model prediction)
    if n > 0 and dt > 0.0:
        _imm_mix_predict(x, P, s.dims, s.maps, s.Pi, mu, cbar, s.kinds, F, Q, dt)
        for i in range(n):
            for j in range(r):
                mu[i, j] = cbar[i, j]

    # ---- gate on the combined estimate, the gated pairs worth taking as CSR
    npairs = 0
    if n > 0:
        _imm_combine(x, P, s.dims, s.pos, mu, s.xcur, s.Pcur)
    if n > 0 and nv > 0:
        if not _grow_p(<void**>&s.row_ptr, &s.cap_rows, n + 1, sizeof(Py_ssize_t)):
            return -1
        if not (_grow_p(<void**>&s.cand, &s.cap_cand, nv, sizeof(Py_ssize_t))
                and _grow_p(<void**>&s.ccell, &s.cap_ccell, nv, sizeof(Py_ssize_t))):
            return -1
        npairs = _gate_grid(s, n, nv, z, R)
        if npairs < 0:
            return -1

    # ---- optimal assignment: Σ NIS/γ over the pairs + 1 per track left without one
    for i in range(n):
        s.r2c[i] = -1
        s.hit[i] = 0
    if npairs > 0:
        assign_work_sizes(n, k, npairs, &a, &b)
        if not _grow_p(<void**>&s.work, &s.cap_work, a, sizeof(double)):
            return -1
        if not _grow_p(<void**>&s.iwork, &s.cap_iwork, b, sizeof(Py_ssize_t)):
            return -1
        if not _grow_p(<void**>&s.r2c_p, &s.cap_r2c, n, sizeof(Py_ssize_t)):
            return -1
        if assign_sparse(n, k, s.row_ptr, s.cols, s.cost, &s.miss[0], s.r2c_p, s.work,
                         s.iwork) < 0:
            return -2                            # an invalid pair list: a bug here
        for i in range(n):
            s.r2c[i] = s.r2c_p[i]

    # ---- update every model of the assigned tracks; mode probabilities
    for i in range(n):
        j = s.r2c[i]
        if j < 0:
            continue
        s.dflag[j] = 2
        m = <int>s.dm[j]
        for a in range(4):
            sel[a] = <int>dsel[4 * j + a]
        stmax = UPDATED
        for jm in range(r):
            dj = <int>s.dims[jm]
            xm = x + xoff[jm] + i * dj
            pm = P + poff[jm] + i * dj * dj
            _sph_measure(xm, dj, h, Hf)
            _gather(z, R, j, sel, m, h, Hf, dj, y, Hs, Rs)
            if dj == 6:
                st = _sph_joseph_d6(xm, pm, y, Hs, Rs, m, &nis, &ll[jm])
            elif dj == 7:
                st = _sph_joseph_d7(xm, pm, y, Hs, Rs, m, &nis, &ll[jm])
            elif dj == 9:
                st = _sph_joseph_d9(xm, pm, y, Hs, Rs, m, &nis, &ll[jm])
            else:
                st = _sph_joseph(xm, pm, y, Hs, Rs, dj, m, &nis, &ll[jm])
            if st > stmax:
                stmax = st
        if stmax == UPDATED:
            counts[C_UPDATES] += 1
            s.hit[i] = 1
            if r > 1:
                mx = -INFINITY
                for jm in range(r):
                    lw = cbar[i, jm]
                    ll[jm] = log(lw if lw > 1e-300 else 1e-300) + ll[jm]
                    if ll[jm] > mx:
                        mx = ll[jm]
                tot = 0.0
                for jm in range(r):
                    ll[jm] = exp(ll[jm] - mx)
                    tot += ll[jm]
                for jm in range(r):
                    mu[i, jm] = ll[jm] / tot
        else:
            counts[C_SKIPPED] += 1

    # ---- the updated combined estimate (of the updated tracks; the others' is the one
    # the gate used); confirmation and deletion
    for i in range(n):
        if s.r2c[i] < 0:
            continue
        o = 0
        c = 0
        for jm in range(r):                      # the track's models as a packed bank of 1
            dj = <int>s.dims[jm]
            memcpy(&s.tx[o], x + xoff[jm] + i * dj, dj * sizeof(double))
            memcpy(&s.tP[c], P + poff[jm] + i * dj * dj, dj * dj * sizeof(double))
            o += dj
            c += dj * dj
        _imm_combine(&s.tx[0], &s.tP[0], s.dims, s.pos, mu[i:i + 1], s.xcur[i:i + 1],
                     s.Pcur[i:i + 1])
    kept = 0
    for i in range(n):
        hits = ((book[1, i] << 1) | s.hit[i]) & s.window
        score = 0
        c = <Py_ssize_t>hits
        while c:
            score += c & 1
            c >>= 1
        conf = book[4, i]
        if score >= s.confirm_m and conf == 0:
            conf = 1
            counts[C_CONFIRMED] += 1
        left = s.confirm_n - 1 - (book[2, i] + 1)
        if left < 0:
            left = 0
        left += score
        drop = left < s.confirm_m and conf == 0          # hopeless tentative track
        if conf:
            sig2 = s.Pcur[i, 0, 0] + s.Pcur[i, 1, 1] + s.Pcur[i, 2, 2]
            if (0 if s.hit[i] else book[3, i] + 1) >= s.delete_misses \
                    or sqrt(sig2) > s.delete_sigma:
                drop = True
        if drop:
            counts[C_DELETED] += 1
            s.keep[i] = -1
        else:
            s.keep[i] = kept
            booko[0, kept] = book[0, i]
            booko[1, kept] = hits
            booko[2, kept] = book[2, i] + 1
            booko[3, kept] = 0 if s.hit[i] else book[3, i] + 1
            booko[4, kept] = conf
            kept += 1

    # ---- new tracks from the free detections with a usable position
    nfree = 0
    for j in range(k):
        if s.dflag[j] == 1 and isfinite(z[j, 1]) and isfinite(z[j, 2]):
            nfree += 1
    n2 = kept + nfree
    counts[C_INITIATED] = nfree
    xoff2[0] = 0
    poff2[0] = 0
    toff[0] = 0
    tpoff[0] = 0
    for jm in range(1, r):
        xoff2[jm] = xoff2[jm - 1] + n2 * s.dims[jm - 1]
        poff2[jm] = poff2[jm - 1] + n2 * s.dims[jm - 1] * s.dims[jm - 1]
        toff[jm] = toff[jm - 1] + nfree * s.dims[jm - 1]
        tpoff[jm] = tpoff[jm - 1] + nfree * s.dims[jm - 1] * s.dims[jm - 1]

    # the surviving tracks, compacted
    for i in range(n):
        t = s.keep[i]
        if t < 0:
            continue
        for jm in range(r):
            dj = <int>s.dims[jm]
            memcpy(xo + xoff2[jm] + t * dj, x + xoff[jm] + i * dj, dj * sizeof(double))
            memcpy(Po + poff2[jm] + t * dj * dj, P + poff[jm] + i * dj * dj,
                   dj * dj * sizeof(double))
            muo[t, jm] = mu[i, jm]
            cbo[t, jm] = cbar[i, jm]
        memcpy(&xc[t, 0], &s.xcur[i, 0], D * sizeof(double))
        memcpy(&Pc[t, 0, 0], &s.Pcur[i, 0, 0], D * D * sizeof(double))

    # the new ones: position from the measurement with its converted covariance J R Jᵀ,
    # velocity = the radial velocity vector (0 without a range rate), σ_v per axis
    t = 0
    for j in range(k):
        if not (s.dflag[j] == 1 and isfinite(z[j, 1]) and isfinite(z[j, 2])):
            continue
        rng = z[j, 0]
        rr = z[j, 3]
        ce = cos(z[j, 2])
        ux = ce * sin(z[j, 1])
        uy = ce * cos(z[j, 1])
        uz = sin(z[j, 2])
        x6[0] = rng * ux
        x6[1] = rng * uy
        x6[2] = rng * uz
        if isnan(rr):
            x6[3] = 0.0
            x6[4] = 0.0
            x6[5] = 0.0
        else:
            x6[3] = rr * ux
            x6[4] = rr * uy
            x6[5] = rr * uz
        ca = cos(z[j, 1])
        sa = sin(z[j, 1])
        se = sin(z[j, 2])
        rce = rng * ce
        nrse = -rng * se
        J[0] = ce * sa
        J[1] = rce * ca
        J[2] = nrse * sa
        J[3] = ce * ca
        J[4] = -rce * sa
        J[5] = nrse * ca
        J[6] = se
        J[7] = 0.0
        J[8] = rce
        for a in range(3):                       # JR = J R_pos
            for b in range(3):
                JR[a * 3 + b] = (J[a * 3] * R[j, 0, b] + J[a * 3 + 1] * R[j, 1, b]) \
                    + J[a * 3 + 2] * R[j, 2, b]
        for a in range(6):
            for b in range(6):
                P6[a * 6 + b] = 0.0
        for a in range(3):                       # J R Jᵀ
            for b in range(3):
                P6[a * 6 + b] = (JR[a * 3] * J[b * 3] + JR[a * 3 + 1] * J[b * 3 + 1]) \
                    + JR[a * 3 + 2] * J[b * 3 + 2]
            P6[(a + 3) * 6 + a + 3] = s.init_speed_var
        o = 0
        for jm in range(r):
            dj = <int>s.dims[jm]
            xm = &s.tx[toff[jm] + t * dj]
            pm = &s.tP[tpoff[jm] + t * dj * dj]
            for a in range(dj):
                xm[a] = x6[a] if a < 6 else 0.0
                for b in range(dj):
                    pm[a * dj + b] = P6[a * 6 + b] if a < 6 and b < 6 else 0.0
                if a >= 6:
                    pm[a * dj + a] = s.init_var[o + a]
            o += dj
            s.tmu[t, jm] = s.mu0[jm]
        booko[0, kept + t] = next_id + t
        booko[1, kept + t] = 1
        booko[2, kept + t] = 0
        booko[3, kept + t] = 0
        booko[4, kept + t] = 0
        t += 1
    if nfree > 0:
        _imm_combine(&s.tx[0], &s.tP[0], s.dims, s.pos, s.tmu[:nfree], xc[kept:n2],
                     Pc[kept:n2])
        for jm in range(r):
            dj = <int>s.dims[jm]
            memcpy(xo + xoff2[jm] + kept * dj, &s.tx[toff[jm]], nfree * dj * sizeof(double))
            memcpy(Po + poff2[jm] + kept * dj * dj, &s.tP[tpoff[jm]],
                   nfree * dj * dj * sizeof(double))
            for t in range(nfree):
                muo[kept + t, jm] = s.mu0[jm]
                cbo[kept + t, jm] = s.mu0[jm]
    return n2


@cython.boundscheck(True)
def scan_step(GnnScan s, double[::1] x, double[::1] P, double[:, ::1] mu, double[:, ::1] cbar,
              const long long[:, ::1] book, const double[:, ::1] z, const double[:, :, ::1] R,
              const double[::1] F, const double[::1] Q, double dt, double[::1] xo,
              double[::1] Po, double[:, ::1] muo, double[:, ::1] cbo, long long[:, ::1] booko,
              double[:, ::1] xc, double[:, :, ::1] Pc, long long next_id,
              long long[::1] counts):
    """One GNN scan (see the module doc): the bank of n = mu.shape[0] tracks in x, P, mu,
    cbar, book; detections z (k, 4), R (k, 4, 4); the models' F, Q packed as
    imm_mix_predict takes them and the interval dt (no prediction when dt ≤ 0); the next
    state into xo, Po, muo, cbo, booko (room for n + k tracks) and the combined estimates
    into xc, Pc; new tracks get ids next_id, next_id + 1, …; counts (6,) ← rejected
    detections, updates, skipped updates, confirmed, deleted, initiated. Returns n'."""
    cdef Py_ssize_t n = mu.shape[0], k = z.shape[0], cap = n + k, got
    cdef int r = s.r
    if (mu.shape[1] != r or cbar.shape[0] != n or cbar.shape[1] != r
            or x.shape[0] != n * s.sumd or P.shape[0] != n * s.sumdd
            or book.shape[0] != 5 or book.shape[1] < n or R.shape[0] != k
            or z.shape[1] != 4 or R.shape[1] != 4 or R.shape[2] != 4
            or F.shape[0] != s.sumdd or Q.shape[0] != s.sumdd
            or xo.shape[0] < cap * s.sumd or Po.shape[0] < cap * s.sumdd
            or muo.shape[0] < cap or muo.shape[1] != r or cbo.shape[0] < cap
            or cbo.shape[1] != r or booko.shape[0] != 5 or booko.shape[1] < cap
            or xc.shape[0] < cap or xc.shape[1] != s.D or Pc.shape[0] < cap
            or Pc.shape[1] != s.D or Pc.shape[2] != s.D or counts.shape[0] < N_COUNTS):
        raise ValueError("scan_step: array shapes do not match the bank (see the docstring)")
    s._reserve(n, k)
    cdef double dummy = 0.0
    cdef double* px = &x[0] if n else &dummy
    cdef double* pP = &P[0] if n else &dummy
    cdef double* pxo = &xo[0] if cap else &dummy
    cdef double* pPo = &Po[0] if cap else &dummy
    with nogil:
        got = _scan(s, px, pP, mu, cbar, book, z, R, &F[0], &Q[0], dt, pxo, pPo, muo, cbo,
                    booko, xc, Pc, next_id, counts)
    if got == -1:
        raise MemoryError("scan_step: out of memory for the gated pairs")
    if got < 0:
        raise RuntimeError("scan_step: the assignment rejected the gated pairs (a bug)")
    return got
