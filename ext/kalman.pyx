# cython: language_level=3
"""Batched Kalman / EKF kernels over arrays of tracks. Twin: xband/reference/kalman.py
(equations, conventions and status codes are documented there).

Each `def` validates nothing (the stage modules do) and only releases the GIL around a
`cdef ... noexcept nogil` body over typed memoryviews; per-track work uses stack buffers.
The exception is `kf_step` (predict + update for one or a few tracks per call, issue 4):
acquiring its ten memoryviews would cost more than the arithmetic, so it takes ndarray
objects through numpy's C API, checks them itself and holds the GIL for small batches; it
runs the same pointer-level routines (`_kf_predict_p`, `_kf_update_p`) as the two.
"""
include "_kalman.pxi"


def kf_predict(double[:, ::1] x, double[:, :, ::1] P, const double[:, ::1] F,
               const double[:, ::1] Q):
    """x (n, d), P (n, d, d) ← prediction through F (d, d), Q (d, d), in place."""
    with nogil:
        _kf_predict(x, P, F, Q)


def ct_predict(double[:, ::1] x, double[:, :, ::1] P, double dt, const double[:, ::1] Q):
    """Coordinated-turn EKF prediction of x (n, 7), P (n, 7, 7) over dt, in place."""
    with nogil:
        _ct_predict(x, P, dt, Q)


def kf_update(double[:, ::1] x, double[:, :, ::1] P, const double[:, ::1] z,
              const double[:, ::1] H, const double[:, :, ::1] R, double[::1] nis,
              double[::1] loglik, signed char[::1] status):
    """Linear update of every row: z (n, m), H (m, d), R (n, m, m); x, P in place;
    nis (n,), loglik (n,), status (n,) int8 written."""
    with nogil:
        _kf_update(x, P, z, H, R, nis, loglik, status)


def kf_step(x, P, F, Q, z, H, R, nis, loglik, status):
    """kf_predict(x, P, F, Q) then kf_update(x, P, z, H, R, nis, loglik, status) in one
    call, bit-identical to the two (the same inner routines). Unlike the other kernels it
    takes the arrays as ndarray objects (numpy's C API: no memoryview acquisition, ≈ 1 µs
    less per call for one track) and checks them: dtype float64 (status int8), axes,
    C-contiguity, writability of x, P, nis, loglik, status, and the shapes x (n, d) with
    1 ≤ d ≤ 12, P (n, d, d), F, Q (d, d), z (n, m) with 1 ≤ m ≤ 4, H (m, d), R (n, m, m),
    nis, loglik, status (n,); a TypeError/ValueError names the first bad argument, and
    nothing is written then. nis, loglik, status given as None are allocated here (n,).
    Returns (nis, loglik, status). The GIL is released only from 16 tracks on."""
    cdef double* px = <double*>_arr(x, cnp.NPY_FLOAT64, 2, True, "x")
    cdef double* pP = <double*>_arr(P, cnp.NPY_FLOAT64, 3, True, "P")
    cdef const double* pF = <const double*>_arr(F, cnp.NPY_FLOAT64, 2, False, "F")
    cdef const double* pQ = <const double*>_arr(Q, cnp.NPY_FLOAT64, 2, False, "Q")
    cdef const double* pz = <const double*>_arr(z, cnp.NPY_FLOAT64, 2, False, "z")
    cdef const double* pH = <const double*>_arr(H, cnp.NPY_FLOAT64, 2, False, "H")
    cdef const double* pR = <const double*>_arr(R, cnp.NPY_FLOAT64, 3, False, "R")
    cdef Py_ssize_t n = _dim(x, 0), d = _dim(x, 1), m = _dim(z, 1)
    cdef cnp.npy_intp shape[1]
    shape[0] = n
    if nis is None:
        nis = cnp.PyArray_EMPTY(1, shape, cnp.NPY_FLOAT64, 0)
    if loglik is None:
        loglik = cnp.PyArray_EMPTY(1, shape, cnp.NPY_FLOAT64, 0)
    if status is None:
        status = cnp.PyArray_EMPTY(1, shape, cnp.NPY_INT8, 0)
    cdef double* pn = <double*>_arr(nis, cnp.NPY_FLOAT64, 1, True, "nis")
    cdef double* pl = <double*>_arr(loglik, cnp.NPY_FLOAT64, 1, True, "loglik")
    cdef signed char* ps = <signed char*>_arr(status, cnp.NPY_INT8, 1, True, "status")
    if not 1 <= d <= MAXD:
        raise ValueError(f"x: state dimension must be 1..{MAXD}, got shape {x.shape}")
    if _dim(P, 0) != n or _dim(P, 1) != d or _dim(P, 2) != d:
        raise ValueError(f"P: expected shape {(n, d, d)}, got {P.shape}")
    if _dim(F, 0) != d or _dim(F, 1) != d:
        raise ValueError(f"F: expected shape {(d, d)}, got {F.shape}")
    if _dim(Q, 0) != d or _dim(Q, 1) != d:
        raise ValueError(f"Q: expected shape {(d, d)}, got {Q.shape}")
    if _dim(z, 0) != n or not 1 <= m <= MAXM:
        raise ValueError(f"z: expected shape ({n}, m) with m in 1..{MAXM}, got {z.shape}")
    if _dim(H, 0) != m or _dim(H, 1) != d:
        raise ValueError(f"H: expected shape {(m, d)}, got {H.shape}")
    if _dim(R, 0) != n or _dim(R, 1) != m or _dim(R, 2) != m:
        raise ValueError(f"R: expected shape {(n, m, m)}, got {R.shape}")
    if _dim(nis, 0) != n:
        raise ValueError(f"nis: expected shape ({n},), got {nis.shape}")
    if _dim(loglik, 0) != n:
        raise ValueError(f"loglik: expected shape ({n},), got {loglik.shape}")
    if _dim(status, 0) != n:
        raise ValueError(f"status: expected shape ({n},), got {status.shape}")
    if n < STEP_NOGIL_MIN:
        _kf_predict_p(px, pP, n, <int>d, pF, pQ)
        _kf_update_p(px, pP, pz, pH, pR, n, <int>d, <int>m, pn, pl, ps)
    else:
        with nogil:
            _kf_step_chunks(px, pP, pF, pQ, pz, pH, pR, n, <int>d, <int>m, pn, pl, ps)
    return nis, loglik, status


def ekf_update_sph(double[:, ::1] x, double[:, :, ::1] P, const long long[::1] idx,
                   const double[:, ::1] z, const double[:, :, ::1] R, double[::1] nis,
                   double[::1] loglik, signed char[::1] status):
    """EKF update of rows x[idx[k]] with spherical z[k] (4,), R[k] (4, 4); in place;
    nis (k,), loglik (k,), status (k,) int8 written. See the reference for conventions."""
    with nogil:
        _ekf_update_sph(x, P, idx, z, R, nis, loglik, status)


def ukf_update_sph(double[:, ::1] x, double[:, :, ::1] P, const long long[::1] idx,
                   const double[:, ::1] z, const double[:, :, ::1] R, double alpha,
                   double beta, double kappa, double[::1] nis, double[::1] loglik,
                   signed char[::1] status):
    """Unscented update of rows x[idx[k]] with spherical z[k], R[k]; in place. Scaled sigma
    points (alpha, beta, kappa); see the reference for the equations."""
    with nogil:
        _ukf_update_sph(x, P, idx, z, R, alpha, beta, kappa, nis, loglik, status)


def sph_gate(const double[:, ::1] x, const double[:, :, ::1] P, const double[:, ::1] z,
             const double[:, :, ::1] R, const double[::1] gate, double[:, ::1] out,
             double[:, ::1] loglik):
    """out (n_tracks, n_dets) ← NIS of every track/detection pair inside detection k's gate
    ``gate[k]`` (+inf beyond it or where unusable); loglik ← log N(y; 0, S) of the gated
    pairs (−inf elsewhere)."""
    with nogil:
        _sph_gate(x, P, z, R, gate, out, loglik)


def sph_gate_pairs(const double[:, ::1] x, const double[:, :, ::1] P, const double[:, ::1] z,
                   const double[:, :, ::1] R, const double[::1] gate,
                   const long long[::1] order, Py_ssize_t nr, const long long[::1] order_az,
                   Py_ssize_t na, long long[::1] ti, long long[::1] dj, double[::1] nis,
                   double[::1] loglik):
    """The pairs of ``sph_gate`` inside the gate, without the dense matrices: track ti[p],
    detection dj[p], their NIS nis[p] and log-likelihood loglik[p], for p < the returned
    count (written while they fit; order of the pairs unspecified). ``order`` (n_dets,)
    lists the detections with finite range and R_rr by increasing range (the first
    ``nr``), then the others; ``order_az`` those with finite azimuth and R_az,az, their
    azimuths wrapped to [−π, π] (z[:, 1] as given must already be so), by increasing
    azimuth (the first ``na``), then the others."""
    cdef Py_ssize_t cnt
    with nogil:
        cnt = _sph_gate_pairs(x, P, z, R, gate, order, nr, order_az, na, ti, dj, nis, loglik)
    return cnt
