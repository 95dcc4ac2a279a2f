# cython: language_level=3
"""Batched Kalman / EKF kernels over arrays of tracks. Twin: xband/reference/kalman.py
(equations, conventions and status codes are documented there).

Each `def` validates nothing (the stage modules do) and only releases the GIL around a
`cdef ... noexcept nogil` body over typed memoryviews; per-track work uses stack buffers.
"""
from libc.math cimport atan2, sqrt, isfinite, nearbyint, log, sin, cos, fabs, INFINITY, NAN

from _linalg cimport MAXD, mat_mul, mat_mul_bt, symmetrize, cholesky, chol_solve

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
cdef void _kf_predict(double[:, ::1] x, double[:, :, ::1] P, const double[:, ::1] F,
                      const double[:, ::1] Q) noexcept nogil:
    # F is shared by the batch: its non-zeros are listed once, and F P Fᵀ costs
    # 2·nnz(F)·d multiply-adds instead of 2·d³ (CV: 9 non-zeros of 36).
    cdef Py_ssize_t n = x.shape[0], t
    cdef int d = <int>x.shape[1], i, j, l, k, nnz = 0
    cdef int nz_i[MAXD * MAXD]
    cdef int nz_l[MAXD * MAXD]
    cdef double nz_v[MAXD * MAXD]
    cdef double xs[MAXD]
    cdef double FP[MAXD * MAXD]
    cdef double FPF[MAXD * MAXD]
    cdef const double* q = &Q[0, 0]
    cdef double* xt
    cdef double* pt
    cdef double s, v
    for i in range(d):
        for l in range(d):
            if F[i, l] != 0.0:
                nz_i[nnz] = i
                nz_l[nnz] = l
                nz_v[nnz] = F[i, l]
                nnz += 1
    for t in range(n):
        xt = &x[t, 0]
        pt = &P[t, 0, 0]
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


def kf_predict(double[:, ::1] x, double[:, :, ::1] P, const double[:, ::1] F,
               const double[:, ::1] Q):
    """x (n, d), P (n, d, d) ← prediction through F (d, d), Q (d, d), in place."""
    with nogil:
        _kf_predict(x, P, F, Q)


# ---------------------------------------------------------------- coordinated turn
cdef void _ct_f(const double* xi, double T, double* xo, double* F) noexcept nogil:
    """f(x) and Jacobian F (7×7) of the coordinated turn over T (see the reference)."""
    cdef double vx = xi[3], vy = xi[4], w = xi[6]
    cdef double wt = w * T, s = sin(wt), c = cos(wt), a, b, da, db
    cdef int i
    if fabs(wt) < 1e-4:
        a = T - w * w * T * T * T / 6.0
        b = w * T * T / 2.0 - w * w * w * T * T * T * T / 24.0
        da = -w * T * T * T / 3.0 + w * w * w * T * T * T * T * T / 30.0
        db = T * T / 2.0 - w * w * T * T * T * T / 8.0
    else:
        a = s / w
        b = (1.0 - c) / w
        da = (T * c * w - s) / (w * w)
        db = (T * s * w - (1.0 - c)) / (w * w)
    xo[0] = xi[0] + a * vx - b * vy
    xo[1] = xi[1] + b * vx + a * vy
    xo[2] = xi[2] + T * xi[5]
    xo[3] = c * vx - s * vy
    xo[4] = s * vx + c * vy
    xo[5] = xi[5]
    xo[6] = w
    for i in range(49):
        F[i] = 0.0
    for i in range(7):
        F[i * 7 + i] = 1.0
    F[0 * 7 + 3] = a;  F[0 * 7 + 4] = -b; F[0 * 7 + 6] = da * vx - db * vy
    F[1 * 7 + 3] = b;  F[1 * 7 + 4] = a;  F[1 * 7 + 6] = db * vx + da * vy
    F[2 * 7 + 5] = T
    F[3 * 7 + 3] = c;  F[3 * 7 + 4] = -s; F[3 * 7 + 6] = -T * s * vx - T * c * vy
    F[4 * 7 + 3] = s;  F[4 * 7 + 4] = c;  F[4 * 7 + 6] = T * c * vx - T * s * vy


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
        _ct_f(&x[t, 0], dt, xo, F)
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


def ct_predict(double[:, ::1] x, double[:, :, ::1] P, double dt, const double[:, ::1] Q):
    """Coordinated-turn EKF prediction of x (n, 7), P (n, 7, 7) over dt, in place."""
    with nogil:
        _ct_predict(x, P, dt, Q)


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
cdef int _joseph_sel(double* x, double* P, const double* y, const int* sel, const double* R,
                     int d, int m, double* nis, double* loglik) noexcept nogil:
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


cdef int _selection(const double[:, ::1] H, int* sel) noexcept nogil:
    """1 and sel[a] when every row a of H is a unit row e_sel[a] (distinct), else 0."""
    cdef int a, j, m = <int>H.shape[0], d = <int>H.shape[1], c
    for a in range(m):
        c = -1
        for j in range(d):
            if H[a, j] == 1.0 and c < 0:
                c = j
            elif H[a, j] != 0.0:
                return 0
        if c < 0:
            return 0
        sel[a] = c
        for j in range(a):
            if sel[j] == c:
                return 0
    return 1


cdef void _kf_update(double[:, ::1] x, double[:, :, ::1] P, const double[:, ::1] z,
                     const double[:, ::1] H, const double[:, :, ::1] R, double[::1] nis,
                     double[::1] loglik, signed char[::1] status) noexcept nogil:
    cdef Py_ssize_t n = x.shape[0], t
    cdef int d = <int>x.shape[1], m = <int>z.shape[1], i, j
    cdef double y[MAXM]
    cdef int sel[MAXM]
    cdef int is_sel = _selection(H, sel)
    cdef double s
    cdef bint ok
    for t in range(n):
        ok = True
        for i in range(m):
            if not isfinite(z[t, i]):
                ok = False
            for j in range(m):
                if not isfinite(R[t, i, j]):
                    ok = False
        if not ok:
            nis[t] = NAN
            loglik[t] = NAN
            status[t] = SKIP_NONFINITE
            continue
        if is_sel:
            for i in range(m):
                y[i] = z[t, i] - x[t, sel[i]]
            status[t] = _joseph_sel(&x[t, 0], &P[t, 0, 0], y, sel, &R[t, 0, 0], d, m,
                                    &nis[t], &loglik[t])
        else:
            for i in range(m):
                s = z[t, i]
                for j in range(d):
                    s -= H[i, j] * x[t, j]
                y[i] = s
            status[t] = _joseph(&x[t, 0], &P[t, 0, 0], y, &H[0, 0], &R[t, 0, 0], d, m,
                                &nis[t], &loglik[t])
        if status[t] != UPDATED:
            nis[t] = NAN
            loglik[t] = NAN


def kf_update(double[:, ::1] x, double[:, :, ::1] P, const double[:, ::1] z,
              const double[:, ::1] H, const double[:, :, ::1] R, double[::1] nis,
              double[::1] loglik, signed char[::1] status):
    """Linear update of every row: z (n, m), H (m, d), R (n, m, m); x, P in place;
    nis (n,), loglik (n,), status (n,) int8 written."""
    with nogil:
        _kf_update(x, P, z, H, R, nis, loglik, status)


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


def ekf_update_sph(double[:, ::1] x, double[:, :, ::1] P, const long long[::1] idx,
                   const double[:, ::1] z, const double[:, :, ::1] R, double[::1] nis,
                   double[::1] loglik, signed char[::1] status):
    """EKF update of rows x[idx[k]] with spherical z[k] (4,), R[k] (4, 4); in place;
    nis (k,), loglik (k,), status (k,) int8 written. See the reference for conventions."""
    with nogil:
        _ekf_update_sph(x, P, idx, z, R, nis, loglik, status)


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


def ukf_update_sph(double[:, ::1] x, double[:, :, ::1] P, const long long[::1] idx,
                   const double[:, ::1] z, const double[:, :, ::1] R, double alpha,
                   double beta, double kappa, double[::1] nis, double[::1] loglik,
                   signed char[::1] status):
    """Unscented update of rows x[idx[k]] with spherical z[k], R[k]; in place. Scaled sigma
    points (alpha, beta, kappa); see the reference for the equations."""
    with nogil:
        _ukf_update_sph(x, P, idx, z, R, alpha, beta, kappa, nis, loglik, status)


cdef enum:
    GATE_BLOCK = 256


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
    cdef int d = <int>x.shape[1], m, a, b, c, kk, kb
    cdef int bsel[GATE_BLOCK * 4]
    cdef int bm[GATE_BLOCK]
    cdef int* sel
    cdef double h[4]
    cdef double Hf[4 * MAXD]
    cdef double HP[4 * MAXD]
    cdef double HPH[16]
    cdef double S[16]
    cdef double L[16]
    cdef double y[4]
    cdef double w[4]
    cdef double s, g
    cdef bint far
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
                sel = &bsel[kk * 4]
                g = gate[k]
                far = False
                for a in range(m):
                    c = sel[a]
                    y[a] = z[k, c] - h[c]
                    if c == 1:
                        y[a] = wrap_angle(y[a])
                    if y[a] * y[a] > g * (HPH[c * 4 + c] + R[k, c, c]):
                        far = True
                        break
                if far:
                    continue
                for a in range(m):
                    for b in range(m):
                        S[a * m + b] = HPH[sel[a] * 4 + sel[b]] + R[k, sel[a], sel[b]]
                symmetrize(S, m)
                if cholesky(S, L, m) != 0:
                    continue
                for a in range(m):
                    w[a] = y[a]
                chol_solve(L, w, m)
                s = 0.0
                for a in range(m):
                    s += y[a] * w[a]
                if s > g:
                    continue
                out[i, k] = s
                s = 0.0
                for a in range(m):
                    s += log(L[a * m + a])
                loglik[i, k] = -0.5 * (out[i, k] + 2.0 * s + m * LOG_2PI)
        k0 += kb


def sph_gate(const double[:, ::1] x, const double[:, :, ::1] P, const double[:, ::1] z,
             const double[:, :, ::1] R, const double[::1] gate, double[:, ::1] out,
             double[:, ::1] loglik):
    """out (n_tracks, n_dets) ← NIS of every track/detection pair inside detection k's gate
    ``gate[k]`` (+inf beyond it or where unusable); loglik ← log N(y; 0, S) of the gated
    pairs (−inf elsewhere)."""
    with nogil:
        _sph_gate(x, P, z, R, gate, out, loglik)
