# cython: language_level=3
"""One whole GNN tracker scan per call: predict → gate → assign → update → confirm/delete →
initiate, over a packed bank of tracks. Twin: xband/reference/scan.py (the same steps
on the numpy twins of the kernels; the equations are those of xband.track.tracker).

The scan reuses the per-track routines of ext/kalman.pyx and ext/imm.pyx (their cdef
cores are included): `_imm_mix_predict` (IMM interaction and model-matched prediction;
with one model and Π = [[1]] it is the plain prediction), `_imm_combine`'s arithmetic
(`_combine1` here, per track: the combined estimate the gate, the track management and
the output use, formed only as far as each needs it), `_gate_pair` (the χ² gate of one pair,
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
    # a detection of the gate's grid, packed in the grid's order: z (4), the diagonal of
    # R (4), its gate γ, and 1.0 when all four components are usable (else 0.0)
    GPK = 10

cdef double NIS_BOUND_SLACK = 1e-6   # relative: far above the rounding of either NIS


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
    # inv[j * MAXD + c]: model j's component at combined component c, or −1
    cdef int inv[MAXR * MAXD]
    cdef long long window
    cdef double delete_sigma, init_speed_var
    # numpy scratch (grown with the GIL held, before the nogil body)
    cdef object _np
    cdef double[:, ::1] xcur
    cdef double[:, :, ::1] Pcur
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
    cdef double* gpk
    cdef Py_ssize_t cap_gpk
    cdef Py_ssize_t cap_cols, cap_cost, cap_work, cap_iwork, cap_rows, cap_r2c, cap_cand
    cdef Py_ssize_t cap_ccell, cap_cstart, cap_citems
    # the caller's double-buffered bank and its counts and F, Q, bound once (bind_buffers,
    # bind_matrices) so that a scan_bound call converts 4 arrays, not 17; ``bound`` and
    # ``bound_matrices`` are the caller's keys of what is bound (None: nothing; copies and
    # pickles start unbound)
    cdef public object bound, bound_matrices
    cdef double[::1] bx0, bx1, bP0, bP1
    cdef double[:, ::1] bmu0, bmu1, bcb0, bcb1
    cdef long long[:, ::1] bbk0, bbk1
    cdef long long[::1] bcounts
    cdef const double[::1] bF, bQ

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
        self.gpk = NULL
        self.cap_gpk = 0
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
        free(self.gpk)

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
        for j in range(self.r):
            for c in range(MAXD):
                self.inv[j * MAXD + c] = -1
            for c in range(dims_a[j]):
                self.inv[j * MAXD + pos_a[j, c]] = c
        self.confirm_m = <int>confirm_m
        self.confirm_n = <int>confirm_n
        self.window = (<long long>1 << confirm_n) - 1
        self.delete_misses = <int>delete_misses
        self.delete_sigma = delete_sigma
        self.init_speed_var = init_speed_sigma * init_speed_sigma
        self.cap_n = -1
        self.cap_k = -1
        self._reserve(16, 16)

    def bind_buffers(self, x0, P0, mu0, cbar0, book0, x1, P1, mu1, cbar1, book1, counts,
                     key=None):
        """Bind the two state buffers (slot 0 and 1: x (cap·Σd_j,), P (cap·Σd_j²,), mu,
        cbar (cap, r), book (5, cap)) and counts (6,) for ``scan_bound``; ``key`` is kept
        as ``self.bound`` for the caller to tell what is bound."""
        cdef long long[::1] c = counts
        if c.shape[0] < N_COUNTS:
            raise ValueError(f"GnnScan.bind_buffers: counts needs {N_COUNTS} entries")
        self.bound = None                        # unbound until every view is taken
        self.bx0, self.bP0, self.bmu0, self.bcb0, self.bbk0 = x0, P0, mu0, cbar0, book0
        self.bx1, self.bP1, self.bmu1, self.bcb1, self.bbk1 = x1, P1, mu1, cbar1, book1
        self.bcounts = c
        self.bound = key

    def bind_matrices(self, F, Q, key=None):
        """Bind the models' F, Q (packed as imm_mix_predict takes them) for ``scan_bound``;
        ``key`` is kept as ``self.bound_matrices``."""
        cdef const double[::1] f = F
        cdef const double[::1] q = Q
        if f.shape[0] != self.sumdd or q.shape[0] != self.sumdd:
            raise ValueError(f"GnnScan.bind_matrices: F and Q of {self.sumdd} entries expected")
        self.bF, self.bQ = f, q
        self.bound_matrices = key

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
                and _grow_p(<void**>&self.gpk, &self.cap_gpk, GPK * (k + 1), sizeof(double))
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


cdef inline void _solve_rows(const double* L, const double* B, double* X, int d,
                             int m) noexcept nogil:
    """X (d×m) = B S⁻¹ for S = L Lᵀ (m×m): chol_solve of every row of B, each row's
    forward and back substitution in chol_solve's order (so the same values), the d
    rows advanced together (column-major scratch) so their divisions overlap instead of
    forming one chain of 2·m·d dependent divisions."""
    cdef double Xt[MAXM * MAXD]
    cdef int a, k, i
    cdef double v
    for a in range(m):
        for i in range(d):
            Xt[a * d + i] = B[i * m + a]
    for a in range(m):                           # L z = b
        for k in range(a):
            v = L[a * m + k]
            for i in range(d):
                Xt[a * d + i] -= v * Xt[k * d + i]
        v = L[a * m + a]
        for i in range(d):
            Xt[a * d + i] = Xt[a * d + i] / v
    for a in range(m - 1, -1, -1):               # Lᵀ x = z
        for k in range(a + 1, m):
            v = L[k * m + a]
            for i in range(d):
                Xt[a * d + i] -= v * Xt[k * d + i]
        v = L[a * m + a]
        for i in range(d):
            Xt[a * d + i] = Xt[a * d + i] / v
    for i in range(d):
        for a in range(m):
            X[i * m + a] = Xt[a * d + i]


cdef inline int _sph_joseph(double* x, double* P, const double* y, const double* H,
                            const double* R, int d, int m, double* nis,
                            double* loglik, int h0, int h1, int h2, int h3) noexcept nogil:
    """kalman's `_joseph` for a Jacobian H (m×d) that is zero beyond the first six
    columns (position and velocity: the spherical measurement of every motion model),
    with the products by those zero columns left out: P Hᵀ and H P Hᵀ over six columns,
    K H only in its first six columns, (I − K H) P and ((I − K H) P)(I − K H)ᵀ as six
    products plus the identity's one term. Every remaining product and sum is the one
    `_joseph` forms, in its order (the left-out terms are exact zeros), so x, P, NIS and
    the log-likelihood are `_joseph`'s to the bit (only the sign of an exact-zero result
    could differ). h0..h3: H's row a is zero beyond its first h_a columns (6 for any
    row; with all four components measured, range and elevation depend on the position
    only (3) and azimuth on x, y (2)): P Hᵀ, H P Hᵀ and K H leave those zeros out too, each
    sum still taken in `_joseph`'s order."""
    cdef double PHt[MAXD * MAXM]
    cdef double S[MAXM * MAXM]
    cdef double L[MAXM * MAXM]
    cdef double K[MAXD * MAXM]
    cdef double A[MAXD * 6]
    cdef double At[6 * MAXD]
    cdef double T[MAXD * MAXD]
    cdef double KR[MAXD * MAXM]
    cdef double U[MAXD * MAXD]
    cdef double w[MAXM]
    cdef int hn[4]
    cdef int i, j, l, a
    cdef double s, v
    hn[0], hn[1], hn[2], hn[3] = h0, h1, h2, h3
    for i in range(d):                          # P Hᵀ (d×m), H's non-zero columns
        for a in range(m):
            s = 0.0
            for l in range(hn[a]):
                s += P[i * d + l] * H[a * d + l]
            PHt[i * m + a] = s
    for a in range(m):                          # S = H P Hᵀ + R
        for j in range(m):
            S[a * m + j] = 0.0
        for l in range(hn[a]):
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
    _solve_rows(L, PHt, K, d, m)                # K = P Hᵀ S⁻¹
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
            for l in range(hn[a]):
                A[i * 6 + l] += v * H[a * d + l]
        for l in range(6):
            A[i * 6 + l] = -A[i * 6 + l]
        if i < 6:
            A[i * 6 + i] += 1.0
        for l in range(6):                      # (Aᵀ too: U's loop reads it by rows)
            At[l * d + i] = A[i * 6 + l]
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
                U[i * d + j] += v * At[l * d + j]
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
        return _sph_joseph(x, P, y, H, R, 6, 4, nis, ll, 3, 2, 3, 6)
    return _sph_joseph(x, P, y, H, R, 6, m, nis, ll, 6, 6, 6, 6)


cdef int _sph_joseph_d7(double* x, double* P, const double* y, const double* H,
                        const double* R, int m, double* nis, double* ll) noexcept nogil:
    if m == 4:                                   # every component measured: the usual case
        return _sph_joseph(x, P, y, H, R, 7, 4, nis, ll, 3, 2, 3, 6)
    return _sph_joseph(x, P, y, H, R, 7, m, nis, ll, 6, 6, 6, 6)


cdef int _sph_joseph_d9(double* x, double* P, const double* y, const double* H,
                        const double* R, int m, double* nis, double* ll) noexcept nogil:
    if m == 4:                                   # every component measured: the usual case
        return _sph_joseph(x, P, y, H, R, 9, 4, nis, ll, 3, 2, 3, 6)
    return _sph_joseph(x, P, y, H, R, 9, m, nis, ll, 6, 6, 6, 6)


cdef inline Py_ssize_t _cell(double v, double lo, double inv_w, Py_ssize_t nc) noexcept nogil:
    """Grid cell of v (monotone in v, clamped to [0, nc)); NaN → 0."""
    cdef double f = (v - lo) * inv_w
    if not f > 0.0:
        return 0
    if f >= <double>nc:
        return nc - 1
    return <Py_ssize_t>f


cdef inline int _ident_prefix(GnnScan s, int j) noexcept nogil:
    """How many leading combined components model j holds as its own leading components
    (inv[c] == c for c < e): over them `_combine1` reads x̂_j and P̂_j's rows directly."""
    cdef int e = 0
    while e < s.D and s.inv[j * MAXD + e] == e:
        e += 1
    return e


cdef inline void _combine_model(GnnScan s, const double* x, const double* P,
                                const Py_ssize_t* xoff, const Py_ssize_t* poff, Py_ssize_t t,
                                const double* mu, const double* xs, double* dv, double* Ps,
                                int D, int Dout, const int* dims, const int* ide, bint dense,
                                int j, bint first) noexcept nogil:
    """Model j's terms μ_j [P̂_j + d_j d_jᵀ] of `_combine_core`'s block, added to Ps's
    sums (first: to 0.0, the value of the sums before model 0)."""
    cdef int dj = dims[j], e = ide[j], eo, a, b, ia, ib
    cdef const double* xj = x + xoff[j] + t * dj
    cdef const double* pj = P + poff[j] + t * dj * dj
    cdef const int* inv = &s.inv[j * MAXD]
    cdef const double* prow
    cdef double* prs
    cdef double m = mu[j], da, pe
    eo = Dout if dense or e > Dout else e
    for a in range(eo):
        dv[a] = xj[a] - xs[a]
    for a in range(eo, Dout):
        ia = inv[a]
        dv[a] = xj[ia] - xs[a] if ia >= 0 else -xs[a]
    for a in range(Dout):
        ia = inv[a]
        da = dv[a]
        prs = Ps + a * D
        if ia >= 0:
            prow = pj + ia * dj
            for b in range(eo):                  # (the identity prefix: contiguous)
                prs[b] = (0.0 if first else prs[b]) + m * (prow[b] + da * dv[b])
            for b in range(eo, Dout):
                ib = inv[b]
                pe = prow[ib] if ib >= 0 else 0.0
                prs[b] = (0.0 if first else prs[b]) + m * (pe + da * dv[b])
        else:
            for b in range(Dout):
                prs[b] = (0.0 if first else prs[b]) + m * (0.0 + da * dv[b])


cdef inline void _combine_core(GnnScan s, const double* x, const double* P,
                               const Py_ssize_t* xoff, const Py_ssize_t* poff, Py_ssize_t t,
                               const double* mu, double* xo, double* Po, int D, int Dout,
                               const int* dims, const int* ide, bint dense) noexcept nogil:
    """`_imm_combine` of track t alone (models at x + xoff[j] + t d_j, P + poff[j] +
    t d_j², mode probabilities mu (r,)): the combined state into xo (D) and the leading
    Dout×Dout block of the combined covariance into Po (row stride D). Every entry is
    `_imm_combine`'s sum, in its order: x = Σ_j μ_j x̂_j (0 where j lacks a component),
    P = Σ_j μ_j [P̂_j + d_j d_jᵀ] with P̂_j's entry 0.0 where j lacks either component
    (added as the literal 0.0, as the zero-filled scatter buffer adds it), then
    symmetrized; only the scatter buffers are not built and only the block is
    formed (its entries do not depend on the others). dims (r,): d_j; ide (r,): model
    j's identity prefix (`_ident_prefix`): over it the entries are read without the
    inverse map, in contiguous runs the compiler vectorizes (the same operations per
    entry, so the same bits). D: s.D; dense: every ide[j] ≥ Dout (no inverse map within
    the block). `_combine1` calls it with constant D, Dout, dense where it can, so that
    the compiler unrolls and vectorizes the fixed-size loops."""
    cdef int r = s.r, j, a, b, dj, ia, e
    cdef double xs[MAXD]
    cdef double dv[MAXD]
    cdef double Ps[MAXD * MAXD]
    cdef double m, v
    cdef const double* xj
    cdef const int* inv
    # (x̂_j's entries are read through the inverse map, not scattered into a buffer
    # first: a vector load of entries just stored one by one stalls)
    for a in range(D):                           # x = Σ_j μ_j x̂_j
        xs[a] = 0.0
    for j in range(r):
        dj = dims[j]
        e = ide[j]
        xj = x + xoff[j] + t * dj
        inv = &s.inv[j * MAXD]
        m = mu[j]
        for a in range(e):
            xs[a] += m * xj[a]
        for a in range(e, D):
            ia = inv[a]
            xs[a] += m * (xj[ia] if ia >= 0 else 0.0)
    # P = Σ_j μ_j [P̂_j + (x̂_j − x)(x̂_j − x)ᵀ]: model 0's terms added to 0.0 (the
    # zeroed sums' first step, without zeroing them first)
    _combine_model(s, x, P, xoff, poff, t, mu, xs, dv, Ps, D, Dout, dims, ide, dense, 0, True)
    for j in range(1, r):
        _combine_model(s, x, P, xoff, poff, t, mu, xs, dv, Ps, D, Dout, dims, ide, dense, j,
                       False)
    for a in range(D):
        xo[a] = xs[a]
    for a in range(Dout):
        for b in range(a, Dout):
            v = 0.5 * (Ps[a * D + b] + Ps[b * D + a])
            Po[a * D + b] = v
            Po[b * D + a] = v


cdef void _combine1(GnnScan s, const double* x, const double* P, const Py_ssize_t* xoff,
                    const Py_ssize_t* poff, Py_ssize_t t, const double* mu, double* xo,
                    double* Po, int Dout, const int* dims, const int* ide,
                    bint dense) noexcept nogil:
    """`_combine_core` of track t (see there); dense: every ide[j] ≥ Dout. The common
    shapes (the gate's 6×6 block of a bank whose models share the position and velocity
    as their leading components; the 10-component union of CV/CA/CT) with their sizes as
    constants: the same operations, the loops unrolled."""
    if dense and Dout == 6:
        _combine_core(s, x, P, xoff, poff, t, mu, xo, Po, s.D, 6, dims, ide, True)
    elif Dout == 10 and s.D == 10:
        _combine_core(s, x, P, xoff, poff, t, mu, xo, Po, 10, 10, dims, ide, False)
    else:
        _combine_core(s, x, P, xoff, poff, t, mu, xo, Po, s.D, Dout, dims, ide, dense)


cdef inline void _gate_hph(const double* Hf, const double* P, int D,
                           double* HPH) noexcept nogil:
    """H P Hᵀ (4×4) of the gate, H = Hf (4×6, `_sph_measure`'s at d = 6) and P the
    leading 6×6 block of P (D×D): mat_mul then mat_mul_bt (their sums, in their order)
    without the products by H's structural zeros (range and elevation rows: columns 3–5;
    azimuth row: columns 2–5), so the same values."""
    cdef double HP[24]
    cdef int hn[4]
    cdef int i, j, l
    cdef double a, t
    hn[0], hn[1], hn[2], hn[3] = 3, 2, 3, 6
    for i in range(4):
        for j in range(6):
            HP[i * 6 + j] = 0.0
        for l in range(hn[i]):
            a = Hf[i * 6 + l]
            for j in range(6):
                HP[i * 6 + j] += a * P[l * D + j]
    for i in range(4):
        for j in range(4):
            t = 0.0
            for l in range(hn[j]):
                t += HP[i * 6 + l] * Hf[j * 6 + l]
            HPH[i * 4 + j] = t


cdef bint _r_bound(GnnScan s, Py_ssize_t na, const double[:, :, ::1] R,
                   double* rbar) noexcept nogil:
    """A diagonal R̄ ⪰ R_k (Loewner order) for every detection k of the grid with all four
    components usable: R̄ = ρ·diag(max_k R_k,aa) with ρ ≥ λ_max(D⁻¹ sym(R_k) D⁻¹),
    D = diag(√max_k R_k,aa), by Gershgorin's row sums (R_k ⪯ λ_max(D⁻¹R_kD⁻¹)·D², a
    congruence), widened by 1e-9 against rounding. False when there is no such detection
    or a maximum variance is not positive and finite."""
    cdef Py_ssize_t p, j
    cdef int a, b
    cdef double dmax[4]
    cdef double iscale[16]
    cdef double rho = 0.0, t
    cdef bint any = False
    for a in range(4):
        dmax[a] = 0.0
    for p in range(na):
        j = s.citems[p]
        if s.dm[j] != 4:
            continue
        any = True
        for a in range(4):
            if R[j, a, a] > dmax[a]:
                dmax[a] = R[j, a, a]
    if not any:
        return False
    for a in range(4):
        if not (dmax[a] > 0.0 and isfinite(dmax[a])):
            return False
    for a in range(4):
        for b in range(4):
            iscale[a * 4 + b] = 0.5 / sqrt(dmax[a] * dmax[b])
    for p in range(na):
        j = s.citems[p]
        if s.dm[j] != 4:
            continue
        for a in range(4):
            t = 0.0
            for b in range(4):
                t += (fabs(R[j, a, b]) + fabs(R[j, b, a])) * iscale[a * 4 + b]
            if t > rho:
                rho = t
    if not isfinite(rho):
        return False
    for a in range(4):
        rbar[a] = rho * dmax[a] * (1.0 + 1e-9)
    return True


cdef inline bint _bound_factor(const double* HPH, const double* rbar, double* Lb,
                               double* il) noexcept nogil:
    """Cholesky factor Lb of S̄ = sym(H P Hᵀ) + R̄ (the track's innovation covariance
    bounded above for every detection of the grid: S_k ⪯ S̄, so NIS_k = yᵀS_k⁻¹y ≥
    yᵀS̄⁻¹y) and the reciprocals il of its diagonal; False when S̄ is not finite and
    positive definite."""
    cdef double Sb[16]
    cdef int a, b
    for a in range(4):
        for b in range(4):
            Sb[a * 4 + b] = 0.5 * (HPH[a * 4 + b] + HPH[b * 4 + a])
            if not isfinite(Sb[a * 4 + b]):
                return False
        Sb[a * 4 + a] += rbar[a]
    if cholesky(Sb, Lb, 4) != 0:
        return False
    for a in range(4):
        il[a] = 1.0 / Lb[a * 5]
    return True


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
    returns the pair count, or −1 when out of memory.

    The grid's detections are packed in cell order (GPK doubles each: a track's candidates
    are read as one stream, not gathered from z, R and the tables). A candidate with all
    four components usable first gets _gate_pair's own per-component tests (the same
    expressions), then a lower bound of its NIS: with S̄ = sym(H P Hᵀ) + R̄ ⪰ S_k
    (_r_bound, _bound_factor; one Cholesky factor per track), yᵀS̄⁻¹y ≤ NIS_k, a forward
    substitution without a factorisation; a pair whose bound exceeds γ by more than a
    relative NIS_BOUND_SLACK (far above the rounding of either quadratic form) is outside
    the gate for _gate_pair too. Only the rest pay _gate_pair's 4×4 factorisation, so the
    pairs and their NIS are unchanged."""
    cdef Py_ssize_t i, j, p, q, lo, hi, m, npairs = 0, nz = 0, na = 0, nR, nA, nc, c
    cdef Py_ssize_t ir0, ir1, ia, ib, a0, a1, a2, a3, ir
    cdef long long* order = &s.order[0]
    cdef double gmax = 0.0, rmax = 0.0, amax = 0.0, half, ha, nis, ll, v
    cdef double r_lo = INFINITY, r_hi = -INFINITY, inv_r, inv_a, PI = 0.5 * TWO_PI
    cdef double g, y0, y1, y2, y3, w0, w1, w2, w3
    cdef int a, b
    cdef int have_rbar, bound
    cdef int sel[4]
    cdef double h[4]
    cdef double Hf[4 * MAXD]
    cdef double HPH[16]
    cdef double rbar[4]
    cdef double Lb[16]
    cdef double il[4]
    cdef Py_ssize_t* start
    cdef Py_ssize_t* items
    cdef double* pk
    cdef const double* d
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
            and _grow_p(<void**>&s.citems, &s.cap_citems, na + 1, sizeof(Py_ssize_t))
            and _grow_p(<void**>&s.gpk, &s.cap_gpk, GPK * (na + 1), sizeof(double))):
        return -1
    start = s.cstart
    items = s.citems
    pk = s.gpk
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
        j = s.cand[p]
        q = start[c]
        items[q] = j
        for a in range(4):
            pk[q * GPK + a] = z[j, a]
            pk[q * GPK + 4 + a] = R[j, a, a]
        pk[q * GPK + 8] = s.dgate[j]
        pk[q * GPK + 9] = 1.0 if s.dm[j] == 4 else 0.0
        start[c] += 1
    for c in range(nc, 0, -1):
        start[c] = start[c - 1]
    start[0] = 0
    have_rbar = -1                               # R̄: formed at the first need
    s.row_ptr[0] = 0
    for i in range(n):
        _sph_measure(&s.xcur[i, 0], 6, h, Hf)
        _gate_hph(Hf, &s.Pcur[i, 0, 0], s.D, HPH)
        bound = -1                               # factored at the first need
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
                    d = pk + p * GPK
                    if d[9] != 0.0:              # all four usable: the cheap tests first
                        g = d[8]
                        y0 = d[0] - h[0]
                        if y0 * y0 > g * (HPH[0] + d[4]):
                            continue
                        y1 = wrap_angle(d[1] - h[1])
                        if y1 * y1 > g * (HPH[5] + d[5]):
                            continue
                        y2 = d[2] - h[2]
                        if y2 * y2 > g * (HPH[10] + d[6]):
                            continue
                        y3 = d[3] - h[3]
                        if y3 * y3 > g * (HPH[15] + d[7]):
                            continue
                        if bound < 0:
                            if have_rbar < 0:
                                have_rbar = _r_bound(s, na, R, rbar)
                            bound = have_rbar and _bound_factor(HPH, rbar, Lb, il)
                        if bound:                # yᵀS̄⁻¹y = |Lb⁻¹y|² ≤ NIS
                            w0 = y0 * il[0]
                            w1 = (y1 - Lb[4] * w0) * il[1]
                            w2 = (y2 - Lb[8] * w0 - Lb[9] * w1) * il[2]
                            w3 = (y3 - Lb[12] * w0 - Lb[13] * w1 - Lb[14] * w2) * il[3]
                            if (w0 * w0 + w1 * w1) + (w2 * w2 + w3 * w3) \
                                    > g * (1.0 + NIS_BOUND_SLACK):
                                continue
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
    cdef int dims[MAXR]
    cdef int ide[MAXR]
    cdef bint dense6 = True, dense3 = True

    for j in range(r):                           # (for _combine1)
        dims[j] = <int>s.dims[j]
        ide[j] = _ident_prefix(s, <int>j)
        dense6 = dense6 and ide[j] >= 6
        dense3 = dense3 and ide[j] >= 3
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
    for i in range(n):                           # (the gate reads x[:6] and P[:6, :6])
        _combine1(s, x, P, xoff, poff, i, &mu[i, 0], &s.xcur[i, 0], &s.Pcur[i, 0, 0], 6,
                  dims, ide, dense6)
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
                st = _sph_joseph(xm, pm, y, Hs, Rs, dj, m, &nis, &ll[jm], 6, 6, 6, 6)
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

    # ---- the updated combined position covariance (of the updated tracks; the others'
    # is the one the gate used); confirmation and deletion. The whole combined estimate
    # of a surviving track is formed where it is written out.
    for i in range(n):
        if s.r2c[i] >= 0:
            _combine1(s, x, P, xoff, poff, i, &mu[i, 0], &s.xcur[i, 0], &s.Pcur[i, 0, 0], 3,
                      dims, ide, dense3)
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
    for jm in range(1, r):
        xoff2[jm] = xoff2[jm - 1] + n2 * s.dims[jm - 1]
        poff2[jm] = poff2[jm - 1] + n2 * s.dims[jm - 1] * s.dims[jm - 1]

    # the surviving tracks, compacted: each run of consecutive survivors (they keep their
    # order) moved with one copy per model
    i = 0
    while i < n:
        if s.keep[i] < 0:
            i += 1
            continue
        a = i                                    # the run [a, i)
        while i < n and s.keep[i] >= 0:
            i += 1
        t = s.keep[a]
        for jm in range(r):
            dj = <int>s.dims[jm]
            memcpy(xo + xoff2[jm] + t * dj, x + xoff[jm] + a * dj,
                   (i - a) * dj * sizeof(double))
            memcpy(Po + poff2[jm] + t * dj * dj, P + poff[jm] + a * dj * dj,
                   (i - a) * dj * dj * sizeof(double))
    for i in range(n):
        t = s.keep[i]
        if t < 0:
            continue
        for jm in range(r):
            muo[t, jm] = mu[i, jm]
            cbo[t, jm] = cbar[i, jm]
        _combine1(s, x, P, xoff, poff, i, &mu[i, 0], &xc[t, 0], &Pc[t, 0, 0], D, dims, ide,
                  False)

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
            xm = xo + xoff2[jm] + (kept + t) * dj
            pm = Po + poff2[jm] + (kept + t) * dj * dj
            for a in range(6):                   # (x6, P6) and zeros; the variances
                xm[a] = x6[a]                    # of the components beyond
                for b in range(6):
                    pm[a * dj + b] = P6[a * 6 + b]
                for b in range(6, dj):
                    pm[a * dj + b] = 0.0
            for a in range(6, dj):
                xm[a] = 0.0
                for b in range(dj):
                    pm[a * dj + b] = 0.0
                pm[a * dj + a] = s.init_var[o + a]
            o += dj
        booko[0, kept + t] = next_id + t
        booko[1, kept + t] = 1
        booko[2, kept + t] = 0
        booko[3, kept + t] = 0
        booko[4, kept + t] = 0
        t += 1
    for t in range(kept, n2):                    # (new tracks: μ = c̄ = μ0)
        for jm in range(r):
            muo[t, jm] = s.mu0[jm]
            cbo[t, jm] = s.mu0[jm]
        _combine1(s, xo, Po, xoff2, poff2, t, &muo[t, 0], &xc[t, 0], &Pc[t, 0, 0], D,
                  dims, ide, False)
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
    return _checked(s, x, P, mu, cbar, book, z, R, F, Q, dt, xo, Po, muo, cbo, booko, xc, Pc,
                    next_id, counts)


cdef Py_ssize_t _checked(GnnScan s, double[::1] x, double[::1] P, double[:, ::1] mu,
                         double[:, ::1] cbar, const long long[:, ::1] book,
                         const double[:, ::1] z, const double[:, :, ::1] R,
                         const double[::1] F, const double[::1] Q, double dt, double[::1] xo,
                         double[::1] Po, double[:, ::1] muo, double[:, ::1] cbo,
                         long long[:, ::1] booko, double[:, ::1] xc, double[:, :, ::1] Pc,
                         long long next_id, long long[::1] counts) except -2:
    """scan_step's shape checks, then the scan."""
    cdef Py_ssize_t n = mu.shape[0], k = z.shape[0], cap = n + k
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
    return _run(s, x, P, mu, cbar, book, z, R, F, Q, dt, xo, Po, muo, cbo, booko, xc, Pc,
                next_id, counts)


cdef Py_ssize_t _run(GnnScan s, double[::1] x, double[::1] P, double[:, ::1] mu,
                     double[:, ::1] cbar, const long long[:, ::1] book,
                     const double[:, ::1] z, const double[:, :, ::1] R, const double[::1] F,
                     const double[::1] Q, double dt, double[::1] xo, double[::1] Po,
                     double[:, ::1] muo, double[:, ::1] cbo, long long[:, ::1] booko,
                     double[:, ::1] xc, double[:, :, ::1] Pc, long long next_id,
                     long long[::1] counts) except -2:
    """scan_step's body on checked arrays."""
    cdef Py_ssize_t n = mu.shape[0], k = z.shape[0], cap = n + k, got
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


@cython.boundscheck(True)
def scan_bound(GnnScan s, int cur, Py_ssize_t n, const double[:, ::1] z,
               const double[:, :, ::1] R, double dt, double[:, ::1] xc, double[:, :, ::1] Pc,
               long long next_id):
    """scan_step on the buffers bound by ``s.bind_buffers`` and ``s.bind_matrices``: the
    bank of n tracks in slot ``cur`` (0 or 1), the next state into the other slot; the
    counts into the bound counts. The same checks and results as scan_step."""
    if s.bound is None or s.bound_matrices is None:
        raise ValueError("scan_bound: bind_buffers and bind_matrices first")
    if cur != 0 and cur != 1:
        raise ValueError(f"scan_bound: slot 0 or 1, got {cur}")
    cdef Py_ssize_t cap = n + z.shape[0]
    if (n < 0 or (s.bx0 if cur == 0 else s.bx1).shape[0] < n * s.sumd
            or (s.bP0 if cur == 0 else s.bP1).shape[0] < n * s.sumdd
            or (s.bmu0 if cur == 0 else s.bmu1).shape[0] < n
            or (s.bcb0 if cur == 0 else s.bcb1).shape[0] < n):
        raise ValueError(f"scan_bound: slot {cur} holds fewer than {n} tracks")
    if cur == 0:
        return _checked(s, s.bx0[:n * s.sumd], s.bP0[:n * s.sumdd], s.bmu0[:n], s.bcb0[:n],
                        s.bbk0, z, R, s.bF, s.bQ, dt, s.bx1, s.bP1, s.bmu1, s.bcb1, s.bbk1,
                        xc, Pc, next_id, s.bcounts)
    return _checked(s, s.bx1[:n * s.sumd], s.bP1[:n * s.sumdd], s.bmu1[:n], s.bcb1[:n],
                    s.bbk1, z, R, s.bF, s.bQ, dt, s.bx0, s.bP0, s.bmu0, s.bcb0, s.bbk0,
                    xc, Pc, next_id, s.bcounts)
