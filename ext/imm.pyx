# cython: language_level=3
"""IMM mixing (interaction) and output combination over a batch of tracks.
Twin: xband/reference/imm.py (equations, layout and index maps are documented there).

The r models' states live in one packed buffer, model-major: model j's block is
x[n·xo_j : n·(xo_j + d_j)] viewed (n, d_j), its covariances P[n·po_j : …] viewed
(n, d_j, d_j), with xo_j = Σ_{i<j} d_i and po_j = Σ_{i<j} d_i². One call mixes (or
combines, or updates) every track; per-track work uses stack buffers. The linear update
(imm_update_sel) runs kalman.pyx's update routines, included here (_kalman.pxi).
"""
include "_kalman.pxi"
include "_imm.pxi"


cdef void _imm_update_sel(double* x, double* P, const long long[::1] dims,
                          const long long[::1] sel, const double[:, ::1] z,
                          const double[:, :, ::1] R, double[:, ::1] nis,
                          double[:, ::1] loglik, signed char[:, ::1] status) noexcept nogil:
    # Model by model, kalman.pyx's kf_update with the selection H (the same routine,
    # _kf_update_sel_rows, with a compile-time d for position measurements of CV/CT/CA):
    # the same bits as one kf_update per model.
    cdef Py_ssize_t n = z.shape[0], xo = 0, po = 0
    cdef int m = <int>z.shape[1], r = <int>dims.shape[0], a, j, dj
    cdef int sl[MAXM]
    cdef bint pos3
    for a in range(m):
        sl[a] = <int>sel[a]
    pos3 = m == 3 and sl[0] == 0 and sl[1] == 1 and sl[2] == 2
    for j in range(r):
        dj = <int>dims[j]
        if XB_SOA and pos3 and (dj == 6 or dj == 7 or dj == 9):     # blocks of NL
            _kf_pos3_rows(x + xo, P + po, &z[0, 0], &R[0, 0, 0], n, dj, 0, NULL, NULL,
                          &nis[j, 0], &loglik[j, 0], &status[j, 0])
        elif pos3 and dj == 6:
            _kf_update_sel_rows(x + xo, P + po, &z[0, 0], &R[0, 0, 0], n, 6, 3, XB_LEAD,
                                &nis[j, 0], &loglik[j, 0], &status[j, 0])
        elif pos3 and dj == 7:
            _kf_update_sel_rows(x + xo, P + po, &z[0, 0], &R[0, 0, 0], n, 7, 3, XB_LEAD,
                                &nis[j, 0], &loglik[j, 0], &status[j, 0])
        elif pos3 and dj == 9:
            _kf_update_sel_rows(x + xo, P + po, &z[0, 0], &R[0, 0, 0], n, 9, 3, XB_LEAD,
                                &nis[j, 0], &loglik[j, 0], &status[j, 0])
        else:
            _kf_update_sel_rows(x + xo, P + po, &z[0, 0], &R[0, 0, 0], n, dj, m, sl,
                                &nis[j, 0], &loglik[j, 0], &status[j, 0])
        xo += n * dj
        po += n * dj * dj


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


def imm_combine(const double[::1] x, const double[::1] P, const long long[::1] dims,
                const long long[:, ::1] pos, const double[:, ::1] mu, double[:, ::1] x_out,
                double[:, :, ::1] P_out):
    """IMM output of every track: packed model states x, P, dims (r,), pos (r, MAXD)
    (model j's components in the union space), μ (n, r) → x_out (n, D), P_out (n, D, D)."""
    if x.shape[0] == 0 or mu.shape[0] == 0:
        return
    with nogil:
        _imm_combine(&x[0], &P[0], dims, pos, mu, x_out, P_out)


def imm_mix_predict(double[::1] x, double[::1] P, const long long[::1] dims,
                    const long long[:, :, ::1] maps, const double[:, ::1] Pi,
                    const double[:, ::1] mu, double[:, ::1] cbar,
                    const long long[::1] kinds, const double[::1] F,
                    const double[::1] Q, double dt):
    """IMM interaction and model-matched prediction of every track, in place: packed model
    states x, P (see the module doc), dims (r,), maps (r, r, MAXD), Π (r, r), μ (n, r);
    kinds (r,): 0 linear (F, Q), 1 coordinated turn (EKF over dt with Q); F, Q packed per
    model (model j's d_j × d_j at Σ_{i<j} d_i²; F unused for CT) → c̄ (n, r)."""
    if x.shape[0] == 0 or mu.shape[0] == 0:
        return
    with nogil:
        _imm_mix_predict(&x[0], &P[0], dims, maps, Pi, mu, cbar, kinds, &F[0], &Q[0], dt)


def imm_update_sel(double[::1] x, double[::1] P, const long long[::1] dims,
                   const long long[::1] sel, const double[:, ::1] z,
                   const double[:, :, ::1] R, double[:, ::1] nis, double[:, ::1] loglik,
                   signed char[:, ::1] status):
    """Linear update of every model of every track, in place, with z (n, m) = x[sel] +
    noise, R (n, m, m): packed model states x, P (see the module doc), dims (r,), sel (m,)
    the measured state components (the same index in every model, e.g. 0, 1, 2 for
    position) → nis, loglik, status (r, n) (status int8; kalman.kf_update's codes and
    arithmetic, model by model: the same bits)."""
    if x.shape[0] == 0 or z.shape[0] == 0:
        return
    with nogil:
        _imm_update_sel(&x[0], &P[0], dims, sel, z, R, nis, loglik, status)
