# cython: language_level=3
"""Point-mass engagement plant over a batch of runs. Twin: xband/reference/engage.py
(dynamics, integration and the closest-approach interpolation are documented there)."""
from _cpa cimport hermite
from libc.math cimport sqrt

cdef enum:
    BISECTIONS = 60


cdef inline void _rk4_lag(double* m, const double* ac, double tau, double h) noexcept nogil:
    cdef int j
    cdef double p, v, a, k1v, k1a, k2p, k2v, k2a, k3p, k3v, k3a, k4p, k4v, k4a
    for j in range(3):
        p = m[j]; v = m[3 + j]; a = m[6 + j]
        if tau > 0.0:
            k1v = a
            k1a = (ac[j] - a) / tau
            k2p = v + 0.5 * h * k1v
            k2v = a + 0.5 * h * k1a
            k2a = (ac[j] - (a + 0.5 * h * k1a)) / tau
            k3p = v + 0.5 * h * k2v
            k3v = a + 0.5 * h * k2a
            k3a = (ac[j] - (a + 0.5 * h * k2a)) / tau
            k4p = v + h * k3v
            k4v = a + h * k3a
            k4a = (ac[j] - (a + h * k3a)) / tau
            m[j] = p + h / 6.0 * (v + 2.0 * k2p + 2.0 * k3p + k4p)
            m[3 + j] = v + h / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v)
            m[6 + j] = a + h / 6.0 * (k1a + 2.0 * k2a + 2.0 * k3a + k4a)
        else:
            m[j] = p + h * v + 0.5 * h * h * ac[j]
            m[3 + j] = v + h * ac[j]
            m[6 + j] = ac[j]


cdef void _propagate(double[:, ::1] m, double[:, ::1] tg, const double[:, ::1] a_cmd,
                     double tau, double dt, int nsteps, double t0, unsigned char[::1] done,
                     double[:, ::1] cpa) noexcept nogil:
    cdef Py_ssize_t i
    cdef int s, j, it
    cdef double r0[3]
    cdef double v0[3]
    cdef double r1[3]
    cdef double v1[3]
    cdef double p[3]
    cdef double dp[3]
    cdef double f0, f1, lo, hi, mid, q
    for i in range(m.shape[0]):
        if done[i] != 0:
            continue
        for s in range(nsteps):
            for j in range(3):
                r0[j] = tg[i, j] - m[i, j]
                v0[j] = tg[i, 3 + j] - m[i, 3 + j]
            _rk4_lag(&m[i, 0], &a_cmd[i, 0], tau, dt)
            for j in range(3):
                tg[i, j] = tg[i, j] + dt * tg[i, 3 + j] + 0.5 * dt * dt * tg[i, 6 + j]
                tg[i, 3 + j] = tg[i, 3 + j] + dt * tg[i, 6 + j]
            f0 = 0.0; f1 = 0.0
            for j in range(3):
                r1[j] = tg[i, j] - m[i, j]
                v1[j] = tg[i, 3 + j] - m[i, 3 + j]
                f0 += r0[j] * v0[j]
                f1 += r1[j] * v1[j]
            if f0 < 0.0 and f1 >= 0.0:
                lo = 0.0; hi = 1.0
                for it in range(BISECTIONS):
                    mid = 0.5 * (lo + hi)
                    hermite(mid, dt, r0, v0, r1, v1, p, dp)
                    if p[0] * dp[0] + p[1] * dp[1] + p[2] * dp[2] < 0.0:
                        lo = mid
                    else:
                        hi = mid
                mid = 0.5 * (lo + hi)
                hermite(mid, dt, r0, v0, r1, v1, p, dp)
                cpa[i, 0] = t0 + s * dt + mid * dt
                cpa[i, 1] = sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2])
                done[i] = 1
                break


def propagate(double[:, ::1] m, double[:, ::1] tg, const double[:, ::1] a_cmd, double tau,
              double dt, int nsteps, double t0, unsigned char[::1] done, double[:, ::1] cpa):
    """Advance every run with done == 0 by nsteps RK4 steps of dt from t0; in place."""
    with nogil:
        _propagate(m, tg, a_cmd, tau, dt, nsteps, t0, done, cpa)
