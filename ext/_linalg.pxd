# Small dense linear algebra for d <= MAXD, on row-major double buffers.
# All helpers are `cdef inline ... noexcept nogil` and allocate nothing: callers pass
# stack arrays of size MAXD*MAXD. Matrices are row-major: A[i*n + j].
from libc.math cimport sqrt

cdef enum:
    MAXD = 12

cdef inline void mat_mul(const double* A, const double* B, double* C,
                         int n, int k, int m) noexcept nogil:
    """C (n×m) = A (n×k) · B (k×m).

    Row-axpy order (C[i,:] += A[i,l]·B[l,:]): the m accumulators of a row are
    independent, so the loop is not bound by the latency of one long sum and vectorises.
    """
    cdef int i, j, l
    cdef double a
    for i in range(n * m):
        C[i] = 0.0
    for i in range(n):
        for l in range(k):
            a = A[i * k + l]
            for j in range(m):
                C[i * m + j] += a * B[l * m + j]

cdef inline void mat_mul_bt(const double* A, const double* B, double* C,
                            int n, int k, int m) noexcept nogil:
    """C (n×m) = A (n×k) · Bᵀ, with B stored m×k (row-axpy order, see mat_mul)."""
    cdef int i, j, l
    cdef double a
    for i in range(n * m):
        C[i] = 0.0
    for i in range(n):
        for l in range(k):
            a = A[i * k + l]
            for j in range(m):
                C[i * m + j] += a * B[j * k + l]

cdef inline void symmetrize(double* A, int n) noexcept nogil:
    """A ← (A + Aᵀ)/2 in place."""
    cdef int i, j
    cdef double s
    for i in range(n):
        for j in range(i + 1, n):
            s = 0.5 * (A[i * n + j] + A[j * n + i])
            A[i * n + j] = s
            A[j * n + i] = s

cdef inline int cholesky(const double* A, double* L, int n) noexcept nogil:
    """Lower Cholesky factor L of SPD A (n×n). Returns 0, or -1 if A is not positive definite."""
    cdef int i, j, k
    cdef double s
    for i in range(n):
        for j in range(n):
            L[i * n + j] = 0.0
    for j in range(n):
        s = A[j * n + j]
        for k in range(j):
            s -= L[j * n + k] * L[j * n + k]
        if not (s > 0.0):
            return -1
        L[j * n + j] = sqrt(s)
        for i in range(j + 1, n):
            s = A[i * n + j]
            for k in range(j):
                s -= L[i * n + k] * L[j * n + k]
            L[i * n + j] = s / L[j * n + j]
    return 0

cdef inline void chol_solve(const double* L, double* b, int n) noexcept nogil:
    """Solve (L Lᵀ) x = b in place (b ← x)."""
    cdef int i, k
    cdef double s
    for i in range(n):
        s = b[i]
        for k in range(i):
            s -= L[i * n + k] * b[k]
        b[i] = s / L[i * n + i]
    for i in range(n - 1, -1, -1):
        s = b[i]
        for k in range(i + 1, n):
            s -= L[k * n + i] * b[k]
        b[i] = s / L[i * n + i]


# ---------------------------------------------------------------- kinematic transitions
# F = Φ ⊗ I₃ for the kinematic models with the state ordered x y z vx vy vz [ax ay az]:
# CV (Φ 2×2), CA and Singer (Φ 3×3), Φ upper triangular. kalman.pyx's kf_predict and
# imm.pyx's fused prediction take this path when F has that structure: the products over
# F's non-zeros (the general path) in the same order, with the structure known at compile
# time (k literal), so the same values to the bit.

cdef inline int _kf_kron_phi(const double* F, int d, double* phi) noexcept nogil:
    """k (2 or 3) and Φ (k×k, row-major) when F (d×d) = Φ ⊗ I₃ with Φ upper triangular
    and every upper entry non-zero (the non-zeros of F are then exactly Φ's), else 0."""
    cdef int k, a, b, c, e
    cdef double v
    if d == 6:
        k = 2
    elif d == 9:
        k = 3
    else:
        return 0
    for a in range(k):
        for b in range(k):
            v = F[(3 * a) * d + 3 * b]
            if b < a:
                if v != 0.0:
                    return 0
            elif not (v != 0.0):
                return 0
            phi[a * k + b] = v
            for c in range(3):
                for e in range(3):
                    if c == e:
                        if not (F[(3 * a + c) * d + 3 * b + e] == v):
                            return 0
                    elif F[(3 * a + c) * d + 3 * b + e] != 0.0:
                        return 0
    return k


cdef inline void _kf_kron_predict1(const double* xm, const double* pm, int k,
                                   const double* phi, const double* q, double* xt,
                                   double* pt) noexcept nogil:
    """x ← F x, P ← sym(F P Fᵀ + Q) for F = Φ ⊗ I₃ (see _kf_kron_phi), from (xm, pm) into
    (xt, pt) (they may be the same buffers). Call with a literal k. Every element is the
    sum the general non-zero path forms — 0.0 + Φ_aa·p + Φ_a,a+1·p′ + …, in increasing
    column order — so the results are bit-identical to it."""
    cdef int d = 3 * k, a, b, c, i, j
    cdef double xs[9]
    cdef double FP[81]
    cdef double FPF[81]
    cdef double v
    for a in range(k):                           # x ← F x,  FP = F P (rows of length d)
        for c in range(3):
            i = 3 * a + c
            v = phi[a * k + a]
            xs[i] = 0.0 + v * xm[i]
            for j in range(d):
                FP[i * d + j] = 0.0 + v * pm[i * d + j]
            for b in range(a + 1, k):
                v = phi[a * k + b]
                xs[i] += v * xm[3 * b + c]
                for j in range(d):
                    FP[i * d + j] += v * pm[(3 * b + c) * d + j]
    for i in range(d):
        xt[i] = xs[i]
    for i in range(d):                           # FPF = FP Fᵀ, row by row in blocks of 3
        for a in range(k):
            v = phi[a * k + a]
            for c in range(3):
                FPF[i * d + 3 * a + c] = 0.0 + v * FP[i * d + 3 * a + c]
            for b in range(a + 1, k):
                v = phi[a * k + b]
                for c in range(3):
                    FPF[i * d + 3 * a + c] += v * FP[i * d + 3 * b + c]
    for i in range(d * d):                       # P = sym(F P Fᵀ + Q): F P Fᵀ + Q first
        FPF[i] = FPF[i] + q[i]                   # (contiguous), then every element as
    for i in range(d):                           # ½((FPFᵀ+Q)ᵢⱼ + (FPFᵀ+Q)ⱼᵢ) (the pair's
        for j in range(d):                       # sum commutes: both triangles get the
            pt[i * d + j] = 0.5 * (FPF[i * d + j] + FPF[j * d + i])      # same value)
