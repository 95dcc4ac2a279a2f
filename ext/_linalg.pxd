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
