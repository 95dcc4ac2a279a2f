# The closest-approach interpolation shared by the engagement kernels (engage, flyout):
# the cubic Hermite polynomial through the relative position and velocity at both ends of
# a step, evaluated at fraction tau of the step h (see xband/reference/engage.py).

cdef inline void hermite(double tau, double h, const double* r0, const double* v0,
                         const double* r1, const double* v1, double* p,
                         double* dp) noexcept nogil:
    cdef double t2 = tau * tau, t3 = tau * tau * tau
    cdef double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + tau
    cdef double h01 = -2 * t3 + 3 * t2, h11 = t3 - t2
    cdef double d00 = 6 * t2 - 6 * tau, d10 = 3 * t2 - 4 * tau + 1
    cdef double d01 = -6 * t2 + 6 * tau, d11 = 3 * t2 - 2 * tau
    cdef int j
    for j in range(3):
        p[j] = h00 * r0[j] + (h10 * h) * v0[j] + h01 * r1[j] + (h11 * h) * v1[j]
        dp[j] = (d00 * r0[j] + (d10 * h) * v0[j] + d01 * r1[j] + (d11 * h) * v1[j]) / h
