# The coordinated-turn transition shared by kalman.pyx (ct_predict) and imm.pyx (the fused
# IMM prediction): f(x) and its Jacobian F (7×7) over T for x = (px, py, pz, vx, vy, vz, ω),
# with the series form for |ωT| < 1e-4 (twin: xband.reference.kalman.ct_transition).

from libc.math cimport sin, cos, fabs


cdef inline void ct_f(const double* xi, double T, double* xo, double* F) noexcept nogil:
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
