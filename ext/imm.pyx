# cython: language_level=3
"""IMM mixing (interaction) and output combination over a batch of tracks.
Twin: xband/reference/imm.py (equations, layout and index maps are documented there).

The r models' states live in one packed buffer, model-major: model j's block is
x[n·xo_j : n·(xo_j + d_j)] viewed (n, d_j), its covariances P[n·po_j : …] viewed
(n, d_j, d_j), with xo_j = Σ_{i<j} d_i and po_j = Σ_{i<j} d_i². One call mixes (or
combines) every track; per-track work uses stack buffers.
"""
from _linalg cimport MAXD

cdef enum:
    MAXR = 8


cdef inline void _gather(const double* xi, const double* pi, int di, const double* xj,
                         const double* pj, int dj, const long long* mp, double* cx,
                         double* cP) noexcept nogil:
    """Model i's state and covariance in model j's space (unbiased mixing, see the twin)."""
    cdef int a, b, sa, sb
    for a in range(dj):
        sa = <int>mp[a]
        if sa >= 0:
            cx[a] = xi[sa]
            for b in range(dj):
                sb = <int>mp[b]
                cP[a * dj + b] = pi[sa * di + sb] if sb >= 0 else 0.0
        else:
            cx[a] = xj[a]
            for b in range(dj):
                cP[a * dj + b] = pj[a * dj + b] if mp[b] < 0 else 0.0


cdef void _imm_mix(const double* x, const double* P, const long long[::1] dims,
                   const long long[:, :, ::1] maps, const double[:, ::1] Pi,
                   const double[:, ::1] mu, double* xo, double* Po,
                   double[:, ::1] cbar) noexcept nogil:
    cdef Py_ssize_t n = mu.shape[0], t
    cdef int r = <int>dims.shape[0], i, j, a, b, dj, di, dd
    cdef Py_ssize_t xoff[MAXR]
    cdef Py_ssize_t poff[MAXR]
    cdef bint ident[MAXR * MAXR]
    cdef double w[MAXR]
    cdef double c, wi, da
    cdef double x0[MAXD]
    cdef double dv[MAXD]
    cdef double cxs[MAXR * MAXD]
    cdef double cPs[MAXR * MAXD * MAXD]
    cdef double P0[MAXD * MAXD]
    cdef const double* xi
    cdef const double* xj
    cdef const double* pi
    cdef const double* pj
    cdef const double* cx
    cdef const double* cP
    cdef double* xt
    cdef double* pt
    cdef double s
    xoff[0] = 0
    poff[0] = 0
    for j in range(1, r):
        xoff[j] = xoff[j - 1] + n * dims[j - 1]
        poff[j] = poff[j - 1] + n * dims[j - 1] * dims[j - 1]
    for i in range(r):                           # model i already in model j's space
        for j in range(r):
            ident[i * MAXR + j] = dims[i] == dims[j]
            for a in range(dims[j]):
                if maps[i, j, a] != a:
                    ident[i * MAXR + j] = False
    for t in range(n):
        for j in range(r):                       # c̄_j = Σ_i Π_ij μ_i
            c = 0.0
            for i in range(r):
                c += mu[t, i] * Pi[i, j]
            cbar[t, j] = c
        for j in range(r):
            dj = <int>dims[j]
            dd = dj * dj
            xj = x + xoff[j] + t * dj
            pj = P + poff[j] + t * dd
            for i in range(r):                   # μ_{i|j}; x̃_i, P̃_i in j's space
                w[i] = Pi[i, j] * mu[t, i] / cbar[t, j]
            for a in range(dj):
                x0[a] = 0.0
            for i in range(r):                   # x0_j = Σ_i μ_{i|j} x̃_i
                di = <int>dims[i]
                xi = x + xoff[i] + t * di
                if ident[i * MAXR + j]:
                    cx = xi
                else:
                    _gather(xi, P + poff[i] + t * di * di, di, xj, pj, dj, &maps[i, j, 0],
                            &cxs[i * MAXD], &cPs[i * MAXD * MAXD])
                    cx = &cxs[i * MAXD]
                wi = w[i]
                for a in range(dj):
                    x0[a] += wi * cx[a]
            for a in range(dd):
                P0[a] = 0.0
            for i in range(r):                   # P0_j = Σ_i μ_{i|j} [P̃_i + d dᵀ]
                di = <int>dims[i]
                if ident[i * MAXR + j]:
                    cx = x + xoff[i] + t * di
                    cP = P + poff[i] + t * di * di
                else:
                    cx = &cxs[i * MAXD]
                    cP = &cPs[i * MAXD * MAXD]
                wi = w[i]
                for a in range(dj):
                    dv[a] = cx[a] - x0[a]
                for a in range(dj):
                    da = dv[a]
                    for b in range(dj):
                        P0[a * dj + b] += wi * (cP[a * dj + b] + da * dv[b])
            xt = xo + xoff[j] + t * dj
            pt = Po + poff[j] + t * dd
            for a in range(dj):
                xt[a] = x0[a]
            for a in range(dj):
                for b in range(a, dj):
                    s = 0.5 * (P0[a * dj + b] + P0[b * dj + a])
                    pt[a * dj + b] = s
                    pt[b * dj + a] = s


def imm_mix(const double[::1] x, const double[::1] P, const long long[::1] dims,
            const long long[:, :, ::1] maps, const double[:, ::1] Pi,
            const double[:, ::1] mu, double[::1] x_out, double[::1] P_out,
            double[:, ::1] cbar):
    """IMM interaction of every track: packed model states x, P (see the module doc),
    dims (r,), maps (r, r, MAXD), Π (r, r), μ (n, r) → mixed x_out, P_out (packed alike)
    and c̄ (n, r)."""
    if x.shape[0] == 0 or mu.shape[0] == 0:
        return
    with nogil:
        _imm_mix(&x[0], &P[0], dims, maps, Pi, mu, &x_out[0], &P_out[0], cbar)


cdef void _imm_combine(const double* x, const double* P, const long long[::1] dims,
                       const long long[:, ::1] pos, const double[:, ::1] mu,
                       double[:, ::1] xc, double[:, :, ::1] Pc) noexcept nogil:
    cdef Py_ssize_t n = mu.shape[0], t
    cdef int r = <int>dims.shape[0], D = <int>xc.shape[1], j, a, b, dj
    cdef Py_ssize_t xoff[MAXR]
    cdef Py_ssize_t poff[MAXR]
    cdef double xs[MAXD]
    cdef double dv[MAXD]
    cdef double Ps[MAXD * MAXD]
    cdef double Pe[MAXD * MAXD]
    cdef double m, s
    cdef const double* xj
    cdef const double* pj
    cdef const long long* p
    xoff[0] = 0
    poff[0] = 0
    for j in range(1, r):
        xoff[j] = xoff[j - 1] + n * dims[j - 1]
        poff[j] = poff[j - 1] + n * dims[j - 1] * dims[j - 1]
    for t in range(n):
        for a in range(D):                       # x = Σ_j μ_j x̂_j (0 where j lacks a)
            xs[a] = 0.0
        for j in range(r):
            dj = <int>dims[j]
            xj = x + xoff[j] + t * dj
            p = &pos[j, 0]
            m = mu[t, j]
            for a in range(D):
                dv[a] = 0.0
            for a in range(dj):
                dv[p[a]] = xj[a]
            for a in range(D):
                xs[a] += m * dv[a]
        for a in range(D * D):
            Ps[a] = 0.0
        for j in range(r):                       # P = Σ_j μ_j [P̂_j + (x̂_j − x)(x̂_j − x)ᵀ]
            dj = <int>dims[j]
            xj = x + xoff[j] + t * dj
            pj = P + poff[j] + t * dj * dj
            p = &pos[j, 0]
            m = mu[t, j]
            for a in range(D):
                dv[a] = -xs[a]
            for a in range(dj):
                dv[p[a]] = xj[a] - xs[p[a]]
            for a in range(D * D):
                Pe[a] = 0.0
            for a in range(dj):
                for b in range(dj):
                    Pe[p[a] * D + p[b]] = pj[a * dj + b]
            for a in range(D):
                for b in range(D):
                    Ps[a * D + b] += m * (Pe[a * D + b] + dv[a] * dv[b])
        for a in range(D):
            xc[t, a] = xs[a]
            for b in range(a, D):
                s = 0.5 * (Ps[a * D + b] + Ps[b * D + a])
                Pc[t, a, b] = s
                Pc[t, b, a] = s


def imm_combine(const double[::1] x, const double[::1] P, const long long[::1] dims,
                const long long[:, ::1] pos, const double[:, ::1] mu, double[:, ::1] x_out,
                double[:, :, ::1] P_out):
    """IMM output of every track: packed model states x, P, dims (r,), pos (r, MAXD)
    (model j's components in the union space), μ (n, r) → x_out (n, D), P_out (n, D, D)."""
    if x.shape[0] == 0 or mu.shape[0] == 0:
        return
    with nogil:
        _imm_combine(&x[0], &P[0], dims, pos, mu, x_out, P_out)
