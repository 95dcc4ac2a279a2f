# The cdef core of ext/kalman.pyx (included there and by ext/scan.pyx): no `def`.
from libc.math cimport atan2, sqrt, isfinite, nearbyint, log, sin, cos, fabs, INFINITY, NAN

from _linalg cimport MAXD, mat_mul, mat_mul_bt, symmetrize, cholesky, chol_solve
from _ctturn cimport ct_f
from _linalg cimport _kf_kron_phi, _kf_kron_predict1

cimport numpy as cnp

cnp.import_array()

cdef double TWO_PI = 6.283185307179586
cdef double LOG_2PI = 1.8378770664093453

cdef enum:
    MAXM = 4
    UPDATED = 0
    SKIP_NONFINITE = 1
    SKIP_SINGULAR = 2


cdef inline double wrap_angle(double a) noexcept nogil:
    return a - TWO_PI * nearbyint(a / TWO_PI)


# ---------------------------------------------------------------- predict
cdef inline void _kf_predict_rows(double* x, double* P, Py_ssize_t n, int d, int nnz,
                                  const int* nz_i, const int* nz_l, const double* nz_v,
                                  const double* q) noexcept nogil:
    # F is shared by the batch: its non-zeros are listed once, and F P Fᵀ costs
    # 2·nnz(F)·d multiply-adds instead of 2·d³ (CV: 9 non-zeros of 36). Called with a
    # literal d for the common state sizes (see _kf_predict), so that gcc unrolls and
    # vectorises the rows of length d; the arithmetic (and its order) is the same for
    # every d, so the specialised paths give bit-identical results.
    cdef Py_ssize_t t
    cdef int i, j, l, k
    cdef double xs[MAXD]
    cdef double FP[MAXD * MAXD]
    cdef double FPF[MAXD * MAXD]
    cdef double* xt
    cdef double* pt
    cdef double s, v
    for t in range(n):
        xt = x + t * d
        pt = P + t * d * d
        for i in range(d):
            xs[i] = 0.0
        for i in range(d * d):
            FP[i] = 0.0
            FPF[i] = 0.0
        for k in range(nnz):                        # x ← F x,  FP = F P
            i = nz_i[k]; l = nz_l[k]; v = nz_v[k]
            xs[i] += v * xt[l]
            for j in range(d):
                FP[i * d + j] += v * pt[l * d + j]
        for i in range(d):
            xt[i] = xs[i]
        for k in range(nnz):                        # FPF = FP Fᵀ: column j += F[j,l]·FP[:,l]
            j = nz_i[k]; l = nz_l[k]; v = nz_v[k]
            for i in range(d):
                FPF[i * d + j] += v * FP[i * d + l]
        for i in range(d):                          # P = sym(F P Fᵀ + Q)
            for j in range(i, d):
                s = 0.5 * ((FPF[i * d + j] + q[i * d + j]) + (FPF[j * d + i] + q[j * d + i]))
                pt[i * d + j] = s
                pt[j * d + i] = s


cdef void _kf_predict_p(double* x, double* P, Py_ssize_t n, int d, const double* F,
                        const double* Q) noexcept nogil:
    # x (n, d), P (n, d, d), F, Q (d, d) as row-major buffers
    cdef int i, l, nnz = 0
    cdef int nz_i[MAXD * MAXD]
    cdef int nz_l[MAXD * MAXD]
    cdef double nz_v[MAXD * MAXD]
    cdef double phi[9]
    cdef Py_ssize_t t
    if n == 0:
        return
    # kinematic F = Φ ⊗ I₃ (CV, CA, Singer): the same sums with the structure known at
    # compile time (_linalg.pxd, bit-identical to the rows below)
    i = _kf_kron_phi(F, d, phi)
    if i == 2:
        for t in range(n):
            _kf_kron_predict1(x + t * 6, P + t * 36, 2, phi, Q, x + t * 6, P + t * 36)
        return
    if i == 3:
        for t in range(n):
            _kf_kron_predict1(x + t * 9, P + t * 81, 3, phi, Q, x + t * 9, P + t * 81)
        return
    for i in range(d):
        for l in range(d):
            if F[i * d + l] != 0.0:
                nz_i[nnz] = i
                nz_l[nnz] = l
                nz_v[nnz] = F[i * d + l]
                nnz += 1
    # compile-time state sizes: CV 6, CT 7, CA/Singer 9
    if d == 6:
        _kf_predict_rows(x, P, n, 6, nnz, nz_i, nz_l, nz_v, Q)
    elif d == 7:
        _kf_predict_rows(x, P, n, 7, nnz, nz_i, nz_l, nz_v, Q)
    elif d == 9:
        _kf_predict_rows(x, P, n, 9, nnz, nz_i, nz_l, nz_v, Q)
    else:
        _kf_predict_rows(x, P, n, d, nnz, nz_i, nz_l, nz_v, Q)


cdef void _kf_predict(double[:, ::1] x, double[:, :, ::1] P, const double[:, ::1] F,
                      const double[:, ::1] Q) noexcept nogil:
    if x.shape[0] == 0:
        return
    _kf_predict_p(&x[0, 0], &P[0, 0, 0], x.shape[0], <int>x.shape[1], &F[0, 0], &Q[0, 0])


# ---------------------------------------------------------------- coordinated turn
cdef void _ct_predict(double[:, ::1] x, double[:, :, ::1] P, double dt,
                      const double[:, ::1] Q) noexcept nogil:
    cdef Py_ssize_t t
    cdef int i, j
    cdef double xo[7]
    cdef double F[49]
    cdef double FP[49]
    cdef double FPF[49]
    cdef double* pt
    cdef const double* q = &Q[0, 0]
    cdef double s
    for t in range(x.shape[0]):
        ct_f(&x[t, 0], dt, xo, F)
        for i in range(7):
            x[t, i] = xo[i]
        pt = &P[t, 0, 0]
        mat_mul(F, pt, FP, 7, 7, 7)
        mat_mul_bt(FP, F, FPF, 7, 7, 7)
        for i in range(7):
            for j in range(i, 7):
                s = 0.5 * ((FPF[i * 7 + j] + q[i * 7 + j]) + (FPF[j * 7 + i] + q[j * 7 + i]))
                pt[i * 7 + j] = s
                pt[j * 7 + i] = s


# ---------------------------------------------------------------- update core
cdef int _joseph(double* x, double* P, const double* y, const double* H, const double* R,
                 int d, int m, double* nis, double* loglik) noexcept nogil:
    """One Joseph-form update on row buffers; returns UPDATED or SKIP_SINGULAR."""
    cdef double PHt[MAXD * MAXM]
    cdef double S[MAXM * MAXM]
    cdef double L[MAXM * MAXM]
    cdef double K[MAXD * MAXM]
    cdef double w[MAXM]
    cdef double row[MAXM]
    cdef double IKH[MAXD * MAXD]
    cdef double T[MAXD * MAXD]
    cdef double KR[MAXD * MAXM]
    cdef double TI[MAXD * MAXD]
    cdef double KRK[MAXD * MAXD]
    cdef int i, j, l
    cdef double s
    mat_mul_bt(P, H, PHt, d, d, m)              # PHt = P Hᵀ   (d×m)
    mat_mul(H, PHt, S, m, d, m)                 # S = H P Hᵀ
    for i in range(m * m):
        S[i] += R[i]                            # + R
    symmetrize(S, m)
    if cholesky(S, L, m) != 0:
        return SKIP_SINGULAR
    for i in range(m):
        w[i] = y[i]
    chol_solve(L, w, m)                         # w = S⁻¹ y
    s = 0.0
    for i in range(m):
        s += y[i] * w[i]
    nis[0] = s
    s = 0.0
    for i in range(m):                          # log det S = 2 Σ log Lᵢᵢ
        s += log(L[i * m + i])
    loglik[0] = -0.5 * (nis[0] + 2.0 * s + m * LOG_2PI)
    for i in range(d):                          # K = P Hᵀ S⁻¹, row by row (S symmetric)
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
    mat_mul(K, H, IKH, d, m, d)                 # IKH = I − K H
    for i in range(d * d):
        IKH[i] = -IKH[i]
    for i in range(d):
        IKH[i * d + i] += 1.0
    mat_mul(IKH, P, T, d, d, d)                 # T = (I − KH) P
    mat_mul(K, R, KR, d, m, m)                  # KR = K R
    mat_mul_bt(T, IKH, TI, d, d, d)             # TI = (I − KH) P (I − KH)ᵀ
    mat_mul_bt(KR, K, KRK, d, m, d)             # KRK = K R Kᵀ
    for i in range(d):                          # P = sym(TI + KRK)
        for j in range(i, d):
            s = 0.5 * ((TI[i * d + j] + KRK[i * d + j]) + (TI[j * d + i] + KRK[j * d + i]))
            P[i * d + j] = s
            P[j * d + i] = s
    return UPDATED


# ---------------------------------------------------------------- linear update
cdef inline int _joseph_sel(double* x, double* P, const double* y, const int* sel,
                            const double* R, int d, int m, double* nis,
                            double* loglik) noexcept nogil:
    """Joseph update when H selects state components (H[a, sel[a]] = 1, else 0): the same
    equations as _joseph with every product by H replaced by indexing — P Hᵀ is m columns of
    P, H P Hᵀ a sub-block — which removes most of the multiply-adds."""
    cdef double PHt[MAXD * MAXM]
    cdef double S[MAXM * MAXM]
    cdef double L[MAXM * MAXM]
    cdef double K[MAXD * MAXM]
    cdef double w[MAXM]
    cdef double row[MAXM]
    cdef double T[MAXD * MAXD]
    cdef double KR[MAXD * MAXM]
    cdef int i, j, a
    cdef double s
    for i in range(d):                          # PHt = P Hᵀ: the selected columns
        for a in range(m):
            PHt[i * m + a] = P[i * d + sel[a]]
    for a in range(m):                          # S = H P Hᵀ + R
        for j in range(m):
            S[a * m + j] = P[sel[a] * d + sel[j]] + R[a * m + j]
    symmetrize(S, m)
    if cholesky(S, L, m) != 0:
        return SKIP_SINGULAR
    for a in range(m):
        w[a] = y[a]
    chol_solve(L, w, m)
    s = 0.0
    for a in range(m):
        s += y[a] * w[a]
    nis[0] = s
    s = 0.0
    for a in range(m):
        s += log(L[a * m + a])
    loglik[0] = -0.5 * (nis[0] + 2.0 * s + m * LOG_2PI)
    for i in range(d):                          # K = P Hᵀ S⁻¹
        for a in range(m):
            row[a] = PHt[i * m + a]
        chol_solve(L, row, m)
        for a in range(m):
            K[i * m + a] = row[a]
    for i in range(d):                          # x ← x + K y
        s = 0.0
        for a in range(m):
            s += K[i * m + a] * y[a]
        x[i] += s
    for i in range(d):                          # T = (I − KH) P = P − K P[sel, :]
        for j in range(d):
            s = P[i * d + j]
            for a in range(m):
                s -= K[i * m + a] * P[sel[a] * d + j]
            T[i * d + j] = s
    mat_mul(K, R, KR, d, m, m)                  # KR = K R
    for i in range(d):                          # P = T (I − KH)ᵀ + K R Kᵀ, upper then mirror
        for j in range(i, d):
            s = T[i * d + j]
            for a in range(m):
                s += KR[i * m + a] * K[j * m + a] - T[i * d + sel[a]] * K[j * m + a]
            P[i * d + j] = s
    for i in range(d):                          # symmetric by construction up to rounding:
        for j in range(i + 1, d):               # average with the lower triangle's value
            s = T[j * d + i]
            for a in range(m):
                s += KR[j * m + a] * K[i * m + a] - T[j * d + sel[a]] * K[i * m + a]
            s = 0.5 * (P[i * d + j] + s)
            P[i * d + j] = s
            P[j * d + i] = s
    return UPDATED


cdef inline void _chol3_solve(const double* L, double* b) noexcept nogil:
    """chol_solve(L, b, 3) written out (same operations in the same order)."""
    b[0] = b[0] / L[0]
    b[1] = (b[1] - L[3] * b[0]) / L[4]
    b[2] = ((b[2] - L[6] * b[0]) - L[7] * b[1]) / L[8]
    b[2] = b[2] / L[8]
    b[1] = (b[1] - L[7] * b[2]) / L[4]
    b[0] = ((b[0] - L[3] * b[1]) - L[6] * b[2]) / L[0]


cdef extern from *:
    """
    /* _joseph_pos3 is always inlined, so that each fixed-size caller (_joseph_pos3_d6,
       _kf_joseph_pos3_d7, _kf_joseph_pos3_d9) compiles its own copy with d a constant,
       whatever the compiler's cloning heuristics decide for the including module. */
    static inline int xb_kf_joseph_pos3(double *, double *, double const *, double const *,
                                        int, double *, double *) __attribute__((always_inline));
    """


cdef inline int _joseph_pos3 "xb_kf_joseph_pos3"(double* x, double* P, const double* y,
                                                 const double* R, int d, double* nis,
                                                 double* loglik) noexcept nogil:
    """_joseph_sel for the position measurement H = [I₃ 0] (sel = 0, 1, 2) with m = 3
    written out: the 3×3 Cholesky and the m-loops unrolled by hand; the gain is kept by
    columns (K0, K1, K2, each of length d) so that the solve for all d rows of K and every
    remaining loop run along contiguous length-d rows, which gcc vectorises (two lanes on
    SSE2). Every element sees the same operations in the same order as in _joseph_sel, so
    the result is bit-identical (tests/kernels/test_twins.py checks it against the general
    selection path)."""
    cdef double S[9]
    cdef double L[9]
    cdef double K0[MAXD]
    cdef double K1[MAXD]
    cdef double K2[MAXD]
    cdef double R0[MAXD]
    cdef double R1[MAXD]
    cdef double R2[MAXD]
    cdef double T[MAXD * MAXD]
    cdef double U[MAXD * MAXD]
    cdef double w[3]
    cdef int i, j
    cdef double s, t0, t1, t2, r0, r1, r2
    for i in range(3):                          # S = P[:3, :3] + R, symmetrised
        for j in range(3):
            S[i * 3 + j] = P[i * d + j] + R[i * 3 + j]
    symmetrize(S, 3)
    s = S[0]                                    # cholesky(S, L, 3)
    if not (s > 0.0):
        return SKIP_SINGULAR
    L[0] = sqrt(s)
    L[3] = S[3] / L[0]
    L[6] = S[6] / L[0]
    s = S[4] - L[3] * L[3]
    if not (s > 0.0):
        return SKIP_SINGULAR
    L[4] = sqrt(s)
    L[7] = (S[7] - L[6] * L[3]) / L[4]
    s = S[8]
    s -= L[6] * L[6]
    s -= L[7] * L[7]
    if not (s > 0.0):
        return SKIP_SINGULAR
    L[8] = sqrt(s)
    w[0] = y[0]; w[1] = y[1]; w[2] = y[2]
    _chol3_solve(L, w)
    s = 0.0
    s += y[0] * w[0]
    s += y[1] * w[1]
    s += y[2] * w[2]
    nis[0] = s
    s = 0.0
    s += log(L[0])
    s += log(L[4])
    s += log(L[8])
    loglik[0] = -0.5 * (nis[0] + 2.0 * s + 3 * LOG_2PI)
    for i in range(d):                          # K = P Hᵀ S⁻¹: _chol3_solve on every row
        K0[i] = P[i * d] / L[0]                 # at once, step by step
    for i in range(d):
        K1[i] = (P[i * d + 1] - L[3] * K0[i]) / L[4]
    for i in range(d):
        K2[i] = ((P[i * d + 2] - L[6] * K0[i]) - L[7] * K1[i]) / L[8]
    for i in range(d):
        K2[i] = K2[i] / L[8]
    for i in range(d):
        K1[i] = (K1[i] - L[7] * K2[i]) / L[4]
    for i in range(d):
        K0[i] = ((K0[i] - L[3] * K1[i]) - L[6] * K2[i]) / L[0]
    for i in range(d):                          # x ← x + K y
        x[i] += ((0.0 + K0[i] * y[0]) + K1[i] * y[1]) + K2[i] * y[2]
    for i in range(d):                          # KR = K R (mat_mul order), by columns
        R0[i] = ((0.0 + K0[i] * R[0]) + K1[i] * R[3]) + K2[i] * R[6]
        R1[i] = ((0.0 + K0[i] * R[1]) + K1[i] * R[4]) + K2[i] * R[7]
        R2[i] = ((0.0 + K0[i] * R[2]) + K1[i] * R[5]) + K2[i] * R[8]
    for i in range(d):                          # T = P − K P[:3, :]
        t0 = K0[i]; t1 = K1[i]; t2 = K2[i]
        for j in range(d):
            T[i * d + j] = ((P[i * d + j] - t0 * P[j]) - t1 * P[d + j]) - t2 * P[2 * d + j]
    for i in range(d):                          # U = T (I − KH)ᵀ + K R Kᵀ, every element
        t0 = T[i * d]; t1 = T[i * d + 1]; t2 = T[i * d + 2]
        r0 = R0[i]; r1 = R1[i]; r2 = R2[i]
        for j in range(d):
            U[i * d + j] = (((T[i * d + j] + (r0 * K0[j] - t0 * K0[j]))
                             + (r1 * K1[j] - t1 * K1[j])) + (r2 * K2[j] - t2 * K2[j]))
    for i in range(d):                          # P = the upper triangle averaged with the
        for j in range(d):                      # lower one (as _joseph_sel), every element
            P[i * d + j] = 0.5 * (U[i * d + j] + U[j * d + i])     # (the sum commutes),
    for i in range(d):                          # the diagonal as it is
        P[i * d + i] = U[i * d + i]
    return UPDATED


cdef int _joseph_pos3_d6(double* x, double* P, const double* y, const double* R,
                         double* nis, double* loglik) noexcept nogil:
    """_joseph_pos3 with the CV state size d = 6 known at compile time."""
    return _joseph_pos3(x, P, y, R, 6, nis, loglik)


cdef int _kf_joseph_pos3_d7(double* x, double* P, const double* y, const double* R,
                            double* nis, double* loglik) noexcept nogil:
    """_joseph_pos3 with the CT state size d = 7 known at compile time."""
    return _joseph_pos3(x, P, y, R, 7, nis, loglik)


cdef int _kf_joseph_pos3_d9(double* x, double* P, const double* y, const double* R,
                            double* nis, double* loglik) noexcept nogil:
    """_joseph_pos3 with the CA/Singer state size d = 9 known at compile time."""
    return _joseph_pos3(x, P, y, R, 9, nis, loglik)


cdef int _selection(const double* H, int m, int d, int* sel) noexcept nogil:
    """1 and sel[a] when every row a of H (m×d, row-major) is a unit row e_sel[a]
    (distinct), else 0."""
    cdef int a, j, c
    for a in range(m):
        c = -1
        for j in range(d):
            if H[a * d + j] == 1.0 and c < 0:
                c = j
            elif H[a * d + j] != 0.0:
                return 0
        if c < 0:
            return 0
        sel[a] = c
        for j in range(a):
            if sel[j] == c:
                return 0
    return 1


cdef extern from *:
    """
    static const int XB_LEAD[4] = {0, 1, 2, 3};
    """
    const int XB_LEAD[4]


cdef inline void _kf_update_sel_rows(double* x, double* P, const double* z, const double* R,
                                     Py_ssize_t n, int d, int m, const int* sel, double* nis,
                                     double* loglik, signed char* status) noexcept nogil:
    # The selection-H rows of _kf_update. Called with literal d, m (and the constant
    # XB_LEAD as sel for position-first measurements) so that gcc unrolls the ≤4-long
    # loops and vectorises the rows of length d: the same arithmetic in the same order as
    # the run-time-size call, hence bit-identical results.
    cdef Py_ssize_t t
    cdef int i, j
    cdef double y[MAXM]
    cdef bint ok
    for t in range(n):
        ok = True
        for i in range(m):
            if not isfinite(z[t * m + i]):
                ok = False
            for j in range(m):
                if not isfinite(R[t * m * m + i * m + j]):
                    ok = False
        if not ok:
            nis[t] = NAN
            loglik[t] = NAN
            status[t] = SKIP_NONFINITE
            continue
        for i in range(m):
            y[i] = z[t * m + i] - x[t * d + sel[i]]
        if m == 3 and sel[0] == 0 and sel[1] == 1 and sel[2] == 2:
            if d == 6:
                status[t] = _joseph_pos3_d6(x + t * 6, P + t * 36, y, R + t * 9,
                                            &nis[t], &loglik[t])
            elif d == 7:
                status[t] = _kf_joseph_pos3_d7(x + t * 7, P + t * 49, y, R + t * 9,
                                               &nis[t], &loglik[t])
            elif d == 9:
                status[t] = _kf_joseph_pos3_d9(x + t * 9, P + t * 81, y, R + t * 9,
                                               &nis[t], &loglik[t])
            else:
                status[t] = _joseph_pos3(x + t * d, P + t * d * d, y, R + t * 9, d,
                                         &nis[t], &loglik[t])
        else:
            status[t] = _joseph_sel(x + t * d, P + t * d * d, y, sel, R + t * m * m, d, m,
                                    &nis[t], &loglik[t])
        if status[t] != UPDATED:
            nis[t] = NAN
            loglik[t] = NAN


# ---------------------------------------------------------------- four tracks at a time
# Structure-of-arrays blocks of NL tracks: element e of lane (track) l at [e * NL + l], so
# that every step of the scalar routines above becomes a loop over the NL lanes that the
# compiler turns into one AVX vector instruction (taken in the AVX builds only, XB_SOA
# below: ext/isa/kalman_avx2.pyx, imm_avx2.pyx; kf_step's CV/CA position cycle, position
# updates of 6/7/9-state models, IMM mixing + prediction of CV/CA/Singer/CT banks).
# Each lane sees exactly the scalar operations in the scalar order (no reassociation, no
# FMA contraction: no -mfma), so results are bit-identical to the one-track routines
# (tests/kernels/test_kalman_soa.py checks it; a NaN result may differ in its sign bit,
# as the compiler may swap a commutative operation's operands); a lane whose measurement is not finite or
# whose S is not positive definite gets the scalar routine's outcome (status, NaN NIS and
# log-likelihood, state left as it was before the update).

cdef enum:
    NL = 4                      # tracks per block (xb_soa_in / xb_soa_out assume 4)

cdef extern from *:
    """
    #if defined(__AVX__)
    #include <immintrin.h>
    #define XB_SOA 1
    #elif defined(__SSE2__)
    #include <emmintrin.h>
    #define XB_SOA 0
    #else
    #define XB_SOA 0
    #endif
    /* Transposes between 4 rows of m doubles (row l at src + l*stride) and the lane
       layout dst[4*e + l], in 4×4 (AVX) or 2×2 (SSE2) register tiles; pure data movement
       (the same bits), the loops a compiler does not find on its own. */
    static inline void xb_soa_in(double const *src, Py_ssize_t stride, int m, double *dst) {
        const double *s0 = src, *s1 = src + stride, *s2 = src + 2 * stride,
                     *s3 = src + 3 * stride;
        int e = 0;
    #if defined(__AVX__)
        for (; e + 4 <= m; e += 4) {
            __m256d r0 = _mm256_loadu_pd(s0 + e), r1 = _mm256_loadu_pd(s1 + e);
            __m256d r2 = _mm256_loadu_pd(s2 + e), r3 = _mm256_loadu_pd(s3 + e);
            __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
            __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
            _mm256_storeu_pd(dst + 4 * e, _mm256_permute2f128_pd(t0, t2, 0x20));
            _mm256_storeu_pd(dst + 4 * e + 4, _mm256_permute2f128_pd(t1, t3, 0x20));
            _mm256_storeu_pd(dst + 4 * e + 8, _mm256_permute2f128_pd(t0, t2, 0x31));
            _mm256_storeu_pd(dst + 4 * e + 12, _mm256_permute2f128_pd(t1, t3, 0x31));
        }
    #elif defined(__SSE2__)
        for (; e + 2 <= m; e += 2) {
            __m128d a = _mm_loadu_pd(s0 + e), b = _mm_loadu_pd(s1 + e);
            __m128d c = _mm_loadu_pd(s2 + e), d = _mm_loadu_pd(s3 + e);
            _mm_storeu_pd(dst + 4 * e, _mm_unpacklo_pd(a, b));
            _mm_storeu_pd(dst + 4 * e + 2, _mm_unpacklo_pd(c, d));
            _mm_storeu_pd(dst + 4 * e + 4, _mm_unpackhi_pd(a, b));
            _mm_storeu_pd(dst + 4 * e + 6, _mm_unpackhi_pd(c, d));
        }
    #endif
        for (; e < m; e++) {
            dst[4 * e] = s0[e]; dst[4 * e + 1] = s1[e];
            dst[4 * e + 2] = s2[e]; dst[4 * e + 3] = s3[e];
        }
    }
    static inline void xb_soa_out(double const *src, int m, double *dst, Py_ssize_t stride) {
        double *d0 = dst, *d1 = dst + stride, *d2 = dst + 2 * stride, *d3 = dst + 3 * stride;
        int e = 0;
    #if defined(__AVX__)
        for (; e + 4 <= m; e += 4) {
            __m256d r0 = _mm256_loadu_pd(src + 4 * e), r1 = _mm256_loadu_pd(src + 4 * e + 4);
            __m256d r2 = _mm256_loadu_pd(src + 4 * e + 8);
            __m256d r3 = _mm256_loadu_pd(src + 4 * e + 12);
            __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
            __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
            _mm256_storeu_pd(d0 + e, _mm256_permute2f128_pd(t0, t2, 0x20));
            _mm256_storeu_pd(d1 + e, _mm256_permute2f128_pd(t1, t3, 0x20));
            _mm256_storeu_pd(d2 + e, _mm256_permute2f128_pd(t0, t2, 0x31));
            _mm256_storeu_pd(d3 + e, _mm256_permute2f128_pd(t1, t3, 0x31));
        }
    #elif defined(__SSE2__)
        for (; e + 2 <= m; e += 2) {
            __m128d a = _mm_loadu_pd(src + 4 * e), c = _mm_loadu_pd(src + 4 * e + 2);
            __m128d b = _mm_loadu_pd(src + 4 * e + 4), d = _mm_loadu_pd(src + 4 * e + 6);
            _mm_storeu_pd(d0 + e, _mm_unpacklo_pd(a, b));
            _mm_storeu_pd(d1 + e, _mm_unpackhi_pd(a, b));
            _mm_storeu_pd(d2 + e, _mm_unpacklo_pd(c, d));
            _mm_storeu_pd(d3 + e, _mm_unpackhi_pd(c, d));
        }
    #endif
        for (; e < m; e++) {
            d0[e] = src[4 * e]; d1[e] = src[4 * e + 1];
            d2[e] = src[4 * e + 2]; d3[e] = src[4 * e + 3];
        }
    }
    """
    # the blocks are taken in AVX builds only (ext/isa/*_avx2.pyx): with SSE2's two lanes
    # per register they measured no faster than the one-track routines
    const int XB_SOA
    void _soa_in "xb_soa_in"(const double* src, Py_ssize_t stride, int m,
                             double* dst) noexcept nogil
    void _soa_out "xb_soa_out"(const double* src, int m, double* dst,
                               Py_ssize_t stride) noexcept nogil

# whether this build takes the four-track blocks (tests assert it: on in the AVX2 builds)
_SOA_BLOCKS = bool(XB_SOA)

cdef extern from *:
    """
    /* always inlined, so that every caller compiles its own copy with d (k) a constant */
    static inline void xb_kf_pos3_soa(double const *, double const *, double const *,
                                      double const *, int, double *, double *, double *,
                                      double *, signed char *) __attribute__((always_inline));
    static inline void xb_kf_kron_soa(double *, double *, int, double const *,
                                      double const *) __attribute__((always_inline));
    static inline void xb_kf_pos3_block(double *, double *, double const *, double const *,
                                        int, int, double const *, double const *, double *,
                                        double *, signed char *)
                                        __attribute__((always_inline));
    """


cdef inline void _kf_kron_soa "xb_kf_kron_soa"(double* xv, double* Pv, int k,
                                              const double* phi,
                                              const double* q) noexcept nogil:
    """_kf_kron_predict1 on the NL lanes of a block, in place (xv (d·NL), Pv (d·d·NL),
    d = 3k): the same sums in the same order. Call with a literal k."""
    cdef int d = 3 * k, a, b, c, i, j, e, l
    cdef double xs[9 * NL]
    cdef double FP[81 * NL]
    cdef double FPF[81 * NL]
    cdef double v
    for a in range(k):                           # x ← F x,  FP = F P (rows of d·NL)
        for c in range(3):
            i = 3 * a + c
            v = phi[a * k + a]
            for l in range(NL):
                xs[i * NL + l] = 0.0 + v * xv[i * NL + l]
            for e in range(d * NL):
                FP[i * d * NL + e] = 0.0 + v * Pv[i * d * NL + e]
            for b in range(a + 1, k):
                v = phi[a * k + b]
                for l in range(NL):
                    xs[i * NL + l] += v * xv[(3 * b + c) * NL + l]
                for e in range(d * NL):
                    FP[i * d * NL + e] += v * Pv[(3 * b + c) * d * NL + e]
    for e in range(d * NL):
        xv[e] = xs[e]
    for i in range(d):                           # FPF = FP Fᵀ, row by row in blocks of 3
        for a in range(k):
            v = phi[a * k + a]
            for e in range(3 * NL):
                FPF[(i * d + 3 * a) * NL + e] = 0.0 + v * FP[(i * d + 3 * a) * NL + e]
            for b in range(a + 1, k):
                v = phi[a * k + b]
                for e in range(3 * NL):
                    FPF[(i * d + 3 * a) * NL + e] += v * FP[(i * d + 3 * b) * NL + e]
    for i in range(d):                           # P = sym(F P Fᵀ + Q): ½((FPFᵀ + Q)ᵢⱼ
        for j in range(d):                       # + (FPFᵀ + Q)ⱼᵢ), the scalar sums
            for l in range(NL):
                Pv[(i * d + j) * NL + l] = 0.5 * ((FPF[(i * d + j) * NL + l] + q[i * d + j])
                                                  + (FPF[(j * d + i) * NL + l] + q[j * d + i]))


cdef inline void _kf_pos3_soa "xb_kf_pos3_soa"(const double* xv, const double* Pv,
                                              const double* yv, const double* Rv, int d,
                                              double* xo, double* Po, double* nis,
                                              double* ll, signed char* ok) noexcept nogil:
    """_joseph_pos3 on the NL lanes of a block: xv (d·NL), Pv (d·d·NL), y (3·NL), R (9·NL)
    → xo, Po, nis, ll (NL) (meaningful where ok) and ok[l] = 1 where the Cholesky factor
    of S exists (the scalar routine's test), else 0. Call with a literal d."""
    cdef double S[9 * NL]
    cdef double L0[NL]
    cdef double L3[NL]
    cdef double L4[NL]
    cdef double L6[NL]
    cdef double L7[NL]
    cdef double L8[NL]
    cdef double c4[NL]
    cdef double c8[NL]
    cdef double K0[9 * NL]
    cdef double K1[9 * NL]
    cdef double K2[9 * NL]
    cdef double R0[9 * NL]
    cdef double R1[9 * NL]
    cdef double R2[9 * NL]
    cdef double Tr[9 * NL]
    cdef double U[81 * NL]
    cdef int i, j, l, e
    cdef double s, w0, w1, w2, k0, k1, k2
    for i in range(3):                           # S = P[:3, :3] + R, symmetrised
        for j in range(3):
            for l in range(NL):
                S[(i * 3 + j) * NL + l] = Pv[(i * d + j) * NL + l] + Rv[(i * 3 + j) * NL + l]
    for i in range(3):
        for j in range(i + 1, 3):
            for l in range(NL):
                s = 0.5 * (S[(i * 3 + j) * NL + l] + S[(j * 3 + i) * NL + l])
                S[(i * 3 + j) * NL + l] = s
                S[(j * 3 + i) * NL + l] = s
    for l in range(NL):                          # 3×3 Cholesky (NaN where not SPD)
        L0[l] = sqrt(S[l])
        L3[l] = S[3 * NL + l] / L0[l]
        L6[l] = S[6 * NL + l] / L0[l]
        c4[l] = S[4 * NL + l] - L3[l] * L3[l]
        L4[l] = sqrt(c4[l])
        L7[l] = (S[7 * NL + l] - L6[l] * L3[l]) / L4[l]
        c8[l] = (S[8 * NL + l] - L6[l] * L6[l]) - L7[l] * L7[l]
        L8[l] = sqrt(c8[l])
    for l in range(NL):                          # w = S⁻¹ y (_chol3_solve), NIS = yᵀ w
        w0 = yv[l] / L0[l]
        w1 = (yv[NL + l] - L3[l] * w0) / L4[l]
        w2 = ((yv[2 * NL + l] - L6[l] * w0) - L7[l] * w1) / L8[l]
        w2 = w2 / L8[l]
        w1 = (w1 - L7[l] * w2) / L4[l]
        w0 = ((w0 - L3[l] * w1) - L6[l] * w2) / L0[l]
        nis[l] = ((0.0 + yv[l] * w0) + yv[NL + l] * w1) + yv[2 * NL + l] * w2
    for l in range(NL):                          # log det S = 2 Σ log Lᵢᵢ (not vectorised)
        ok[l] = (S[l] > 0.0) & (c4[l] > 0.0) & (c8[l] > 0.0)
        if ok[l]:
            s = 0.0
            s += log(L0[l])
            s += log(L4[l])
            s += log(L8[l])
            ll[l] = -0.5 * (nis[l] + 2.0 * s + 3 * LOG_2PI)
    for i in range(d):                           # K = P Hᵀ S⁻¹ row by row; x + K y; K R
        for l in range(NL):
            k0 = Pv[(i * d) * NL + l] / L0[l]
            k1 = (Pv[(i * d + 1) * NL + l] - L3[l] * k0) / L4[l]
            k2 = ((Pv[(i * d + 2) * NL + l] - L6[l] * k0) - L7[l] * k1) / L8[l]
            k2 = k2 / L8[l]
            k1 = (k1 - L7[l] * k2) / L4[l]
            k0 = ((k0 - L3[l] * k1) - L6[l] * k2) / L0[l]
            K0[i * NL + l] = k0
            K1[i * NL + l] = k1
            K2[i * NL + l] = k2
            xo[i * NL + l] = xv[i * NL + l] + (((0.0 + k0 * yv[l]) + k1 * yv[NL + l])
                                               + k2 * yv[2 * NL + l])
            R0[i * NL + l] = ((0.0 + k0 * Rv[l]) + k1 * Rv[3 * NL + l]) + k2 * Rv[6 * NL + l]
            R1[i * NL + l] = ((0.0 + k0 * Rv[NL + l]) + k1 * Rv[4 * NL + l]) \
                + k2 * Rv[7 * NL + l]
            R2[i * NL + l] = ((0.0 + k0 * Rv[2 * NL + l]) + k1 * Rv[5 * NL + l]) \
                + k2 * Rv[8 * NL + l]
    for i in range(d):                           # row i of T = P − K P[:3, :], then
        for j in range(d):                       # row i of U = T (I − KH)ᵀ + K R Kᵀ
            for l in range(NL):
                e = (i * d + j) * NL + l
                Tr[j * NL + l] = ((Pv[e] - K0[i * NL + l] * Pv[j * NL + l])
                                  - K1[i * NL + l] * Pv[(d + j) * NL + l]) \
                    - K2[i * NL + l] * Pv[(2 * d + j) * NL + l]
        for j in range(d):
            for l in range(NL):
                U[(i * d + j) * NL + l] = (((Tr[j * NL + l]
                                             + (R0[i * NL + l] * K0[j * NL + l]
                                                - Tr[l] * K0[j * NL + l]))
                                            + (R1[i * NL + l] * K1[j * NL + l]
                                               - Tr[NL + l] * K1[j * NL + l]))
                                           + (R2[i * NL + l] * K2[j * NL + l]
                                              - Tr[2 * NL + l] * K2[j * NL + l]))
    for i in range(d):                           # P = ½(U + Uᵀ) off the diagonal
        for j in range(d):
            for l in range(NL):
                Po[(i * d + j) * NL + l] = 0.5 * (U[(i * d + j) * NL + l]
                                                  + U[(j * d + i) * NL + l])
        for l in range(NL):
            Po[(i * d + i) * NL + l] = U[(i * d + i) * NL + l]


cdef inline void _kf_pos3_block "xb_kf_pos3_block"(double* x, double* P, const double* z,
                                                  const double* R, int d, int k,
                                                  const double* phi, const double* q,
                                                  double* nis, double* loglik,
                                                  signed char* status) noexcept nogil:
    """NL consecutive tracks (x (NL, d), P (NL, d, d), z (NL, 3), R (NL, 3, 3)): the
    prediction through F = Φ ⊗ I₃ (k = 2 or 3; none for k = 0) then the position update,
    as _kf_kron_predict1 then _kf_update_sel_rows with H = [I₃ 0], to the bit. Call with
    literal d and k."""
    cdef double xv[9 * NL]
    cdef double Pv[81 * NL]
    cdef double zv[3 * NL]
    cdef double yv[3 * NL]
    cdef double Rv[9 * NL]
    cdef double xo[9 * NL]
    cdef double Po[81 * NL]
    cdef double nv[NL]
    cdef double lv[NL]
    cdef signed char ok[NL]
    cdef signed char fin[NL]
    cdef int e, l, dd = d * d
    _soa_in(x, d, d, xv)                         # transpose the block in
    _soa_in(P, dd, dd, Pv)
    _soa_in(z, 3, 3, zv)
    _soa_in(R, 9, 9, Rv)
    for l in range(NL):
        fin[l] = 1
        for e in range(3):
            if not isfinite(zv[e * NL + l]):
                fin[l] = 0
        for e in range(9):
            if not isfinite(Rv[e * NL + l]):
                fin[l] = 0
    if k:
        _kf_kron_soa(xv, Pv, k, phi, q)
    for e in range(3 * NL):                      # y = z − x[:3]
        yv[e] = zv[e] - xv[e]
    _kf_pos3_soa(xv, Pv, yv, Rv, d, xo, Po, nv, lv, ok)
    for l in range(NL):                          # outcome
        if fin[l] and ok[l]:
            status[l] = UPDATED
            nis[l] = nv[l]
            loglik[l] = lv[l]
            continue
        status[l] = SKIP_SINGULAR if fin[l] else SKIP_NONFINITE
        nis[l] = NAN
        loglik[l] = NAN
        for e in range(d):                       # the lane's state as it was (predicted
            xo[e * NL + l] = xv[e * NL + l]      # when k ≠ 0), not updated
        for e in range(dd):
            Po[e * NL + l] = Pv[e * NL + l]
    _soa_out(xo, d, x, d)                        # transpose out
    _soa_out(Po, dd, P, dd)


cdef void _kf_kron_rows(double* x, double* P, Py_ssize_t n, int k, const double* phi,
                        const double* q) noexcept nogil:
    """_kf_kron_predict1 of every track in place (F = Φ ⊗ I₃, k = 2 or 3). One track at a
    time: on its own the prediction is too short for the blocks' transposes to pay."""
    cdef Py_ssize_t t
    if k == 2:
        for t in range(n):
            _kf_kron_predict1(x + t * 6, P + t * 36, 2, phi, q, x + t * 6, P + t * 36)
    else:
        for t in range(n):
            _kf_kron_predict1(x + t * 9, P + t * 81, 3, phi, q, x + t * 9, P + t * 81)


cdef void _kf_pos3_rows(double* x, double* P, const double* z, const double* R,
                        Py_ssize_t n, int d, int k, const double* phi, const double* q,
                        double* nis, double* loglik, signed char* status) noexcept nogil:
    """The position update (H = [I₃ 0], m = 3, d = 6, 7 or 9) of every track, preceded when
    k ≠ 0 by the prediction through F = Φ ⊗ I₃ (d = 3k): blocks of NL tracks predicted
    and updated together (_kf_pos3_block), the remaining tracks by the scalar routines."""
    cdef Py_ssize_t t = 0, nb = n - n % NL
    if d == 6 and k == 2:
        while t < nb:
            _kf_pos3_block(x + t * 6, P + t * 36, z + t * 3, R + t * 9, 6, 2, phi, q,
                           nis + t, loglik + t, status + t)
            t += NL
    elif d == 6:
        while t < nb:
            _kf_pos3_block(x + t * 6, P + t * 36, z + t * 3, R + t * 9, 6, 0, phi, q,
                           nis + t, loglik + t, status + t)
            t += NL
    elif d == 7:
        while t < nb:
            _kf_pos3_block(x + t * 7, P + t * 49, z + t * 3, R + t * 9, 7, 0, phi, q,
                           nis + t, loglik + t, status + t)
            t += NL
    elif d == 9 and k == 3:
        while t < nb:
            _kf_pos3_block(x + t * 9, P + t * 81, z + t * 3, R + t * 9, 9, 3, phi, q,
                           nis + t, loglik + t, status + t)
            t += NL
    else:
        while t < nb:
            _kf_pos3_block(x + t * 9, P + t * 81, z + t * 3, R + t * 9, 9, 0, phi, q,
                           nis + t, loglik + t, status + t)
            t += NL
    if t == n:
        return
    if k:
        _kf_kron_rows(x + t * d, P + t * d * d, n - t, k, phi, q)
    if d == 6:
        _kf_update_sel_rows(x + t * 6, P + t * 36, z + t * 3, R + t * 9, n - t, 6, 3,
                            XB_LEAD, nis + t, loglik + t, status + t)
    elif d == 7:
        _kf_update_sel_rows(x + t * 7, P + t * 49, z + t * 3, R + t * 9, n - t, 7, 3,
                            XB_LEAD, nis + t, loglik + t, status + t)
    else:
        _kf_update_sel_rows(x + t * 9, P + t * 81, z + t * 3, R + t * 9, n - t, 9, 3,
                            XB_LEAD, nis + t, loglik + t, status + t)


cdef void _kf_update_p(double* x, double* P, const double* z, const double* H,
                       const double* R, Py_ssize_t n, int d, int m, double* nis,
                       double* loglik, signed char* status) noexcept nogil:
    # x (n, d), P (n, d, d), z (n, m), H (m, d), R (n, m, m) as row-major buffers
    cdef Py_ssize_t t
    cdef int i, j
    cdef double y[MAXM]
    cdef int sel[MAXM]
    cdef int is_sel
    cdef int lead = 1
    cdef double s
    cdef bint ok
    if n == 0:
        return
    is_sel = _selection(H, m, d, sel)
    if is_sel:
        for i in range(m):
            if sel[i] != i:
                lead = 0
        # compile-time sizes for position (m = 3) measurements of CV 6 / CT 7 / CA 9 states
        # (in blocks of NL tracks in AVX builds: _kf_pos3_rows)
        if XB_SOA and lead and m == 3 and (d == 6 or d == 7 or d == 9):
            _kf_pos3_rows(x, P, z, R, n, d, 0, NULL, NULL, nis, loglik, status)
        elif lead and m == 3 and d == 6:
            _kf_update_sel_rows(x, P, z, R, n, 6, 3, XB_LEAD, nis, loglik, status)
        elif lead and m == 3 and d == 7:
            _kf_update_sel_rows(x, P, z, R, n, 7, 3, XB_LEAD, nis, loglik, status)
        elif lead and m == 3 and d == 9:
            _kf_update_sel_rows(x, P, z, R, n, 9, 3, XB_LEAD, nis, loglik, status)
        else:
            _kf_update_sel_rows(x, P, z, R, n, d, m, sel, nis, loglik, status)
        return
    for t in range(n):
        ok = True
        for i in range(m):
            if not isfinite(z[t * m + i]):
                ok = False
            for j in range(m):
                if not isfinite(R[t * m * m + i * m + j]):
                    ok = False
        if not ok:
            nis[t] = NAN
            loglik[t] = NAN
            status[t] = SKIP_NONFINITE
            continue
        for i in range(m):
            s = z[t * m + i]
            for j in range(d):
                s -= H[i * d + j] * x[t * d + j]
            y[i] = s
        status[t] = _joseph(x + t * d, P + t * d * d, y, H, R + t * m * m, d, m,
                            &nis[t], &loglik[t])
        if status[t] != UPDATED:
            nis[t] = NAN
            loglik[t] = NAN


cdef void _kf_update(double[:, ::1] x, double[:, :, ::1] P, const double[:, ::1] z,
                     const double[:, ::1] H, const double[:, :, ::1] R, double[::1] nis,
                     double[::1] loglik, signed char[::1] status) noexcept nogil:
    if x.shape[0] == 0:
        return
    _kf_update_p(&x[0, 0], &P[0, 0, 0], &z[0, 0], &H[0, 0], &R[0, 0, 0], x.shape[0],
                 <int>x.shape[1], <int>z.shape[1], &nis[0], &loglik[0], &status[0])


# ---------------------------------------------------------------- fused single call
cdef enum:
    STEP_NOGIL_MIN = 16         # kf_step releases the GIL from this many tracks on


cdef enum:
    _KF_STEP_CHUNK = 64          # tracks predicted then updated while their rows are in L1


cdef void _kf_step_chunks(double* x, double* P, const double* F, const double* Q,
                          const double* z, const double* H, const double* R, Py_ssize_t n,
                          int d, int m, double* nis, double* loglik,
                          signed char* status) noexcept nogil:
    """kf_predict then kf_update of every track, a chunk of tracks at a time, so that a
    large batch streams through memory once instead of twice (each track's arithmetic is
    that of the two calls: the same bits)."""
    cdef Py_ssize_t t = 0, c
    cdef int k
    cdef int sel[MAXM]
    cdef double phi[9]
    # kinematic F = Φ ⊗ I₃ with a position measurement: both in blocks of NL tracks
    k = _kf_kron_phi(F, d, phi) if XB_SOA and m == 3 else 0
    if k and _selection(H, m, d, sel) and sel[0] == 0 and sel[1] == 1 and sel[2] == 2:
        _kf_pos3_rows(x, P, z, R, n, d, k, phi, Q, nis, loglik, status)
        return
    while t < n:
        c = n - t if n - t < _KF_STEP_CHUNK else _KF_STEP_CHUNK
        _kf_predict_p(x + t * d, P + t * d * d, c, d, F, Q)
        _kf_update_p(x + t * d, P + t * d * d, z + t * m, H, R + t * m * m, c, d, m,
                     nis + t, loglik + t, status + t)
        t += c


cdef char* _arr(object a, int typenum, int ndim, bint writable, str name) except NULL:
    """The data pointer of ``a``: a C-contiguous, aligned, native-order ndarray of
    ``typenum`` with ``ndim`` axes (and writable if asked); else an error naming it."""
    cdef cnp.ndarray arr
    if not cnp.PyArray_Check(a):
        raise TypeError(f"{name}: expected a numpy array, got {type(a).__name__}")
    arr = <cnp.ndarray>a
    if cnp.PyArray_TYPE(arr) != typenum:
        raise ValueError(f"{name}: expected dtype {cnp.PyArray_DescrFromType(typenum)}, "
                         f"got {a.dtype}")
    if cnp.PyArray_NDIM(arr) != ndim:
        raise ValueError(f"{name}: expected {ndim} axes, got shape {a.shape}")
    if not (cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISNOTSWAPPED(arr)
            and cnp.PyArray_ISALIGNED(arr)):
        raise ValueError(f"{name}: expected a C-contiguous aligned array in native byte order")
    if writable and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name}: expected a writable array")
    return <char*>cnp.PyArray_DATA(arr)


cdef inline Py_ssize_t _dim(object a, int k) noexcept:
    return cnp.PyArray_DIM(<cnp.ndarray>a, k)


# ---------------------------------------------------------------- spherical EKF
cdef void _sph_measure(const double* xi, int d, double* h, double* H) noexcept nogil:
    """h (4) and Jacobian H (4×d) of (r, az, el, ṙ) at state xi."""
    cdef double px = xi[0], py = xi[1], pz = xi[2], vx = xi[3], vy = xi[4], vz = xi[5]
    cdef double rho2 = px * px + py * py
    cdef double rho = sqrt(rho2)
    cdef double r2 = rho2 + pz * pz
    cdef double r = sqrt(r2)
    cdef double pv = px * vx + py * vy + pz * vz
    cdef int i
    for i in range(4 * d):
        H[i] = 0.0
    h[0] = r
    h[1] = atan2(px, py)
    h[2] = atan2(pz, rho)
    h[3] = pv / r if r > 0.0 else 0.0
    if r > 0.0:
        H[0] = px / r; H[1] = py / r; H[2] = pz / r
        H[3 * d + 0] = vx / r - pv * px / (r2 * r)
        H[3 * d + 1] = vy / r - pv * py / (r2 * r)
        H[3 * d + 2] = vz / r - pv * pz / (r2 * r)
        H[3 * d + 3] = px / r; H[3 * d + 4] = py / r; H[3 * d + 5] = pz / r
        if rho > 0.0:
            H[d + 0] = py / rho2
            H[d + 1] = -px / rho2
            H[2 * d + 0] = -pz * px / (rho * r2)
            H[2 * d + 1] = -pz * py / (rho * r2)
            H[2 * d + 2] = rho / r2


cdef int _select(const double[:, ::1] z, const double[:, :, ::1] R, Py_ssize_t k,
                 int* sel) noexcept nogil:
    """Usable components of measurement k (finite z and finite R among them); count or 0."""
    cdef int m = 0, a, b
    for a in range(4):
        if isfinite(z[k, a]) and isfinite(R[k, a, a]):
            sel[m] = a
            m += 1
    for a in range(m):
        for b in range(m):
            if not isfinite(R[k, sel[a], sel[b]]):
                return 0
    return m


cdef void _gather(const double[:, ::1] z, const double[:, :, ::1] R, Py_ssize_t k,
                  const int* sel, int m, const double* h, const double* Hf, int d,
                  double* y, double* Hs, double* Rs) noexcept nogil:
    """Reduced innovation y, Jacobian Hs (m×d) and covariance Rs (m×m) of measurement k."""
    cdef int a, b, c
    for a in range(m):
        c = sel[a]
        y[a] = z[k, c] - h[c]
        if c == 1:
            y[a] = wrap_angle(y[a])
        for b in range(d):
            Hs[a * d + b] = Hf[c * d + b]
        for b in range(m):
            Rs[a * m + b] = R[k, c, sel[b]]


cdef void _ekf_update_sph(double[:, ::1] x, double[:, :, ::1] P, const long long[::1] idx,
                          const double[:, ::1] z, const double[:, :, ::1] R, double[::1] nis,
                          double[::1] loglik, signed char[::1] status) noexcept nogil:
    cdef Py_ssize_t k, i
    cdef int d = <int>x.shape[1], m
    cdef int sel[4]
    cdef double h[4]
    cdef double Hf[4 * MAXD]
    cdef double Hs[4 * MAXD]
    cdef double Rs[16]
    cdef double y[4]
    for k in range(idx.shape[0]):
        i = idx[k]
        m = _select(z, R, k, sel)
        if m == 0:
            nis[k] = NAN
            loglik[k] = NAN
            status[k] = SKIP_NONFINITE
            continue
        _sph_measure(&x[i, 0], d, h, Hf)
        _gather(z, R, k, sel, m, h, Hf, d, y, Hs, Rs)
        status[k] = _joseph(&x[i, 0], &P[i, 0, 0], y, Hs, Rs, d, m, &nis[k], &loglik[k])
        if status[k] != UPDATED:
            nis[k] = NAN
            loglik[k] = NAN


cdef void _ukf_update_sph(double[:, ::1] x, double[:, :, ::1] P, const long long[::1] idx,
                          const double[:, ::1] z, const double[:, :, ::1] R, double alpha,
                          double beta, double kappa, double[::1] nis, double[::1] loglik,
                          signed char[::1] status) noexcept nogil:
    cdef Py_ssize_t k, i
    cdef int d = <int>x.shape[1], m, a, b, c, np_ = 2 * d + 1, az_col
    cdef int sel[4]
    cdef double h[4]
    cdef double Hf[4 * MAXD]
    cdef double chi[(2 * MAXD + 1) * MAXD]
    cdef double dz[(2 * MAXD + 1) * 4]
    cdef double L[MAXD * MAXD]
    cdef double A[MAXD * MAXD]
    cdef double S[16]
    cdef double Ls[16]
    cdef double Pxz[MAXD * 4]
    cdef double K[MAXD * 4]
    cdef double KS[MAXD * 4]
    cdef double zrel[4]
    cdef double ref[4]
    cdef double y[4]
    cdef double w[4]
    cdef double row[4]
    cdef double lam = alpha * alpha * (d + kappa) - d
    cdef double wm0 = lam / (d + lam), wc0 = lam / (d + lam) + 1.0 - alpha * alpha + beta
    cdef double wi = 0.5 / (d + lam), wgt, s
    cdef double* xi
    cdef double* pi
    for k in range(idx.shape[0]):
        i = idx[k]
        m = _select(z, R, k, sel)
        if m == 0:
            nis[k] = NAN
            loglik[k] = NAN
            status[k] = SKIP_NONFINITE
            continue
        xi = &x[i, 0]
        pi = &P[i, 0, 0]
        for a in range(d * d):
            A[a] = (d + lam) * pi[a]
        if cholesky(A, L, d) != 0:
            nis[k] = NAN
            loglik[k] = NAN
            status[k] = SKIP_SINGULAR
            continue
        for b in range(d):                       # sigma points χ₀, x ± L[:, j]
            chi[b] = xi[b]
        for a in range(d):
            for b in range(d):
                chi[(1 + a) * d + b] = xi[b] + L[b * d + a]
                chi[(1 + d + a) * d + b] = xi[b] - L[b * d + a]
        az_col = -1
        for c in range(m):
            if sel[c] == 1:
                az_col = c
        for a in range(np_):                     # ζ relative to ζ₀ (azimuth wrapped)
            _sph_measure(&chi[a * d], d, h, Hf)
            for c in range(m):
                if a == 0:
                    ref[c] = h[sel[c]]
                dz[a * 4 + c] = h[sel[c]] - ref[c]
                if c == az_col:
                    dz[a * 4 + c] = wrap_angle(dz[a * 4 + c])
        for c in range(m):                       # ẑ − ζ₀
            s = wm0 * dz[c]
            for a in range(1, np_):
                s += wi * dz[a * 4 + c]
            zrel[c] = s
        for a in range(np_):
            for c in range(m):
                dz[a * 4 + c] -= zrel[c]
        for b in range(m):                       # S = Σ Wc dz dzᵀ + R
            for c in range(m):
                s = wc0 * dz[b] * dz[c]
                for a in range(1, np_):
                    s += wi * dz[a * 4 + b] * dz[a * 4 + c]
                S[b * m + c] = s + R[k, sel[b], sel[c]]
        symmetrize(S, m)
        if cholesky(S, Ls, m) != 0:
            nis[k] = NAN
            loglik[k] = NAN
            status[k] = SKIP_SINGULAR
            continue
        for b in range(d):                       # Pxz = Σ Wc (χ − x) dzᵀ
            for c in range(m):
                s = 0.0
                for a in range(1, np_):
                    s += wi * (chi[a * d + b] - xi[b]) * dz[a * 4 + c]
                Pxz[b * m + c] = s
        for c in range(m):
            y[c] = (z[k, sel[c]] - ref[c]) - zrel[c]
            if c == az_col:
                y[c] = wrap_angle(y[c])
            w[c] = y[c]
        chol_solve(Ls, w, m)
        s = 0.0
        for c in range(m):
            s += y[c] * w[c]
        nis[k] = s
        s = 0.0
        for c in range(m):
            s += log(Ls[c * m + c])
        loglik[k] = -0.5 * (nis[k] + 2.0 * s + m * LOG_2PI)
        for b in range(d):                       # K = Pxz S⁻¹ row by row
            for c in range(m):
                row[c] = Pxz[b * m + c]
            chol_solve(Ls, row, m)
            for c in range(m):
                K[b * m + c] = row[c]
        for b in range(d):
            s = 0.0
            for c in range(m):
                s += K[b * m + c] * y[c]
            xi[b] += s
        mat_mul(K, S, KS, d, m, m)               # P ← sym(P − K S Kᵀ)
        for a in range(d):
            for b in range(d):
                s = 0.0
                for c in range(m):
                    s += KS[a * m + c] * K[b * m + c]
                A[a * d + b] = pi[a * d + b] - s
        for a in range(d):
            for b in range(a, d):
                s = 0.5 * (A[a * d + b] + A[b * d + a])
                pi[a * d + b] = s
                pi[b * d + a] = s
        status[k] = UPDATED


cdef enum:
    GATE_BLOCK = 256


cdef inline bint _gate_pair(const double[:, ::1] z, const double[:, :, ::1] R, Py_ssize_t k,
                            const int* sel, int m, const double* h, const double* HPH,
                            double g, double* nis, double* ll) noexcept nogil:
    """One track/detection pair of the gate: h = h(x) (4), HPH = H P Hᵀ (4×4) of the track,
    sel/m the detection's usable components. Writes NIS and log-likelihood and returns 1
    when the pair is inside the gate g; returns 0 (writing nothing) otherwise. A pair is
    rejected as soon as one component's bound y_a²/S_aa exceeds g (NIS ≥ y_a²/S_aa)."""
    cdef int a, b, c
    cdef double S[16]
    cdef double L[16]
    cdef double y[4]
    cdef double w[4]
    cdef double s
    for a in range(m):
        c = sel[a]
        y[a] = z[k, c] - h[c]
        if c == 1:
            y[a] = wrap_angle(y[a])
        if y[a] * y[a] > g * (HPH[c * 4 + c] + R[k, c, c]):
            return 0
    for a in range(m):
        for b in range(m):
            S[a * m + b] = HPH[sel[a] * 4 + sel[b]] + R[k, sel[a], sel[b]]
    symmetrize(S, m)
    if cholesky(S, L, m) != 0:
        return 0
    for a in range(m):
        w[a] = y[a]
    chol_solve(L, w, m)
    s = 0.0
    for a in range(m):
        s += y[a] * w[a]
    if s > g:
        return 0
    nis[0] = s
    s = 0.0
    for a in range(m):
        s += log(L[a * m + a])
    ll[0] = -0.5 * (nis[0] + 2.0 * s + m * LOG_2PI)
    return 1


cdef void _sph_gate(const double[:, ::1] x, const double[:, :, ::1] P, const double[:, ::1] z,
                    const double[:, :, ::1] R, const double[::1] gate, double[:, ::1] out,
                    double[:, ::1] loglik) noexcept nogil:
    # Blocks of GATE_BLOCK detections (their usable components found once per block), then
    # track-major inside a block: h(x) and H P Hᵀ (4×4) are computed once per track and
    # block; a pair then costs a sub-block plus R, a ≤4×4 Cholesky and a solve. A pair is
    # rejected as soon as one component's bound y_a²/S_aa exceeds the detection's gate
    # (NIS ≥ y_a²/S_aa for S > 0) — usually the range, the first component — before the
    # rest of the pair is built.
    cdef Py_ssize_t k, i, k0, nk = z.shape[0]
    cdef int d = <int>x.shape[1], m, kk, kb
    cdef int bsel[GATE_BLOCK * 4]
    cdef int bm[GATE_BLOCK]
    cdef double h[4]
    cdef double Hf[4 * MAXD]
    cdef double HP[4 * MAXD]
    cdef double HPH[16]
    k0 = 0
    while k0 < nk:
        kb = <int>(nk - k0) if nk - k0 < GATE_BLOCK else GATE_BLOCK
        for kk in range(kb):
            bm[kk] = _select(z, R, k0 + kk, &bsel[kk * 4])
        for i in range(x.shape[0]):
            _sph_measure(&x[i, 0], d, h, Hf)
            mat_mul(Hf, &P[i, 0, 0], HP, 4, d, d)
            mat_mul_bt(HP, Hf, HPH, 4, d, 4)
            for kk in range(kb):
                k = k0 + kk
                out[i, k] = INFINITY
                loglik[i, k] = -INFINITY
                m = bm[kk]
                if m == 0:
                    continue
                _gate_pair(z, R, k, &bsel[kk * 4], m, h, HPH, gate[k], &out[i, k],
                           &loglik[i, k])
        k0 += kb


cdef inline Py_ssize_t _lower(const double[:, ::1] z, const long long[::1] order, int c,
                             Py_ssize_t n, double v) noexcept nogil:
    """First j < n with z[order[j], c] ≥ v (order[:n] sorted by z[:, c]), else n."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if z[order[mid], c] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline Py_ssize_t _upper(const double[:, ::1] z, const long long[::1] order, int c,
                             Py_ssize_t n, double v) noexcept nogil:
    """First j < n with z[order[j], c] > v (order[:n] sorted by z[:, c]), else n."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if z[order[mid], c] <= v:
            lo = mid + 1
        else:
            hi = mid
    return lo


cdef inline Py_ssize_t _try(const double[:, ::1] z, const double[:, :, ::1] R,
                            const double[::1] gate, Py_ssize_t i, Py_ssize_t k,
                            const double* h, const double* HPH, Py_ssize_t cnt,
                            long long[::1] ti, long long[::1] dj, double[::1] nis,
                            double[::1] loglik) noexcept nogil:
    """Evaluate one candidate pair; returns the new pair count."""
    cdef int sel[4]
    cdef int m
    cdef double vn, vl
    # _gate_pair's range and azimuth tests first, each when its component is usable (a
    # pair failing either is one _gate_pair rejects), then _select and the full pair
    if isfinite(z[k, 0]) and isfinite(R[k, 0, 0]):
        vn = z[k, 0] - h[0]
        if vn * vn > gate[k] * (HPH[0] + R[k, 0, 0]):
            return cnt
    if isfinite(z[k, 1]) and isfinite(R[k, 1, 1]):
        vn = wrap_angle(z[k, 1] - h[1])
        if vn * vn > gate[k] * (HPH[5] + R[k, 1, 1]):
            return cnt
    m = _select(z, R, k, sel)
    if m and _gate_pair(z, R, k, sel, m, h, HPH, gate[k], &vn, &vl):
        if cnt < ti.shape[0]:
            ti[cnt] = i
            dj[cnt] = k
            nis[cnt] = vn
            loglik[cnt] = vl
        cnt += 1
    return cnt


cdef Py_ssize_t _sph_gate_pairs(const double[:, ::1] x, const double[:, :, ::1] P,
                                const double[:, ::1] z, const double[:, :, ::1] R,
                                const double[::1] gate, const long long[::1] order,
                                Py_ssize_t nr, const long long[::1] order_az,
                                Py_ssize_t na, long long[::1] ti, long long[::1] dj,
                                double[::1] nis, double[::1] loglik) noexcept nogil:
    # The gated pairs of _sph_gate without the n_tracks × n_dets matrix. A pair is inside
    # the gate only if y_r² ≤ g_k (H P Hᵀ_rr + R_k,rr) and wrap(y_az)² ≤ g_k (H P Hᵀ_az,az
    # + R_k,az,az) (the bounds _gate_pair tests first, for usable components). So a track
    # only needs the detections whose range lies within √(max g · (H P Hᵀ_rr + max R_rr))
    # of its predicted range — order[:nr], usable ranges sorted, by binary search — plus
    # those without a usable range (order[nr:]); or, equally complete, those whose
    # azimuth lies within the azimuth bound on the circle (order_az[:na], usable
    # azimuths wrapped to [−π, π] and sorted) plus those without one (order_az[na:]). For
    # each track the shorter of the two candidate lists is scanned. Windows are widened by
    # a relative 1e-9 (and 1e-9 m / rad) so that rounding never drops a pair. Each
    # candidate then goes through _gate_pair, the very arithmetic of _sph_gate, so NIS and
    # log-likelihoods are bit-identical to the dense kernel's. Pairs are written while
    # they fit in ti/dj/nis/loglik; the return value is the count (the caller retries
    # with larger buffers when it exceeds their length).
    cdef Py_ssize_t nk = z.shape[0], cnt = 0, i, j, k
    cdef Py_ssize_t rlo, rhi, a1, b1, a2, b2, n_r, n_a
    cdef int d = <int>x.shape[1]
    cdef double h[4]
    cdef double Hf[4 * MAXD]
    cdef double HP[4 * MAXD]
    cdef double HPH[16]
    cdef double gmax = 0.0, rmax = 0.0, amax = 0.0, half, ha, lo, hi, PI = 0.5 * TWO_PI
    for j in range(nk):
        if gate[j] > gmax:
            gmax = gate[j]
    for j in range(nr):
        k = order[j]
        if R[k, 0, 0] > rmax:
            rmax = R[k, 0, 0]
    for j in range(na):
        k = order_az[j]
        if R[k, 1, 1] > amax:
            amax = R[k, 1, 1]
    for i in range(x.shape[0]):
        _sph_measure(&x[i, 0], d, h, Hf)
        mat_mul(Hf, &P[i, 0, 0], HP, 4, d, d)
        mat_mul_bt(HP, Hf, HPH, 4, d, 4)
        # range window [rlo, rhi) of order; n_r candidates with the range-less ones
        half = sqrt(gmax * (HPH[0] + rmax)) * (1.0 + 1e-9) + 1e-9
        if isfinite(half) and isfinite(h[0]):
            rlo = _lower(z, order, 0, nr, h[0] - half)
            rhi = _upper(z, order, 0, nr, h[0] + half)
            if rhi < rlo:
                rhi = rlo
        else:
            rlo = 0
            rhi = nr
        n_r = (rhi - rlo) + (nk - nr)
        # azimuth window on the circle: [a1, b1) and [a2, b2) of order_az
        a2 = 0
        b2 = 0
        ha = sqrt(gmax * (HPH[5] + amax)) * (1.0 + 1e-9) + 1e-9
        if isfinite(ha) and isfinite(h[1]) and ha < PI:
            lo = h[1] - ha
            hi = h[1] + ha
            if lo < -PI:                    # wraps below −π: [lo + 2π, π] and [−π, hi]
                a1 = _lower(z, order_az, 1, na, lo + TWO_PI)
                b1 = na
                b2 = _upper(z, order_az, 1, a1, hi)
            elif hi > PI:                   # wraps above π: [lo, π] and [−π, hi − 2π]
                a1 = _lower(z, order_az, 1, na, lo)
                b1 = na
                b2 = _upper(z, order_az, 1, a1, hi - TWO_PI)
            else:
                a1 = _lower(z, order_az, 1, na, lo)
                b1 = _upper(z, order_az, 1, na, hi)
                if b1 < a1:
                    b1 = a1
            n_a = (b1 - a1) + (b2 - a2) + (nk - na)
        else:
            a1 = 0
            b1 = na
            n_a = nk
        if n_a < n_r:
            for j in range(a1, b1):
                cnt = _try(z, R, gate, i, order_az[j], h, HPH, cnt, ti, dj, nis, loglik)
            for j in range(a2, b2):
                cnt = _try(z, R, gate, i, order_az[j], h, HPH, cnt, ti, dj, nis, loglik)
            for j in range(na, nk):
                cnt = _try(z, R, gate, i, order_az[j], h, HPH, cnt, ti, dj, nis, loglik)
        else:
            for j in range(rlo, rhi):
                cnt = _try(z, R, gate, i, order[j], h, HPH, cnt, ti, dj, nis, loglik)
            for j in range(nr, nk):
                cnt = _try(z, R, gate, i, order[j], h, HPH, cnt, ti, dj, nis, loglik)
    return cnt


