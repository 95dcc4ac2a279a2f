# cython: language_level=3
"""Proportional-navigation commands over a batch. Twin: xband/reference/guidance.py."""
from libc.math cimport sqrt, INFINITY

cdef enum:
    LAW_PURE_PN = 1
    LAW_TRUE_PN = 2


cdef void _guidance(const double[:, ::1] rp, const double[:, ::1] rv, const double[:, ::1] mv,
                    int law, double N, double a_max, double[:, ::1] a_out, double[::1] t_go,
                    unsigned char[::1] sat) noexcept nogil:
    cdef Py_ssize_t i
    cdef double rx, ry, rz, vx, vy, vz, r2, r, wx, wy, wz, vc, ux, uy, uz, g, ax, ay, az
    cdef double am, vm
    for i in range(rp.shape[0]):
        rx = rp[i, 0]; ry = rp[i, 1]; rz = rp[i, 2]
        vx = rv[i, 0]; vy = rv[i, 1]; vz = rv[i, 2]
        r2 = rx * rx + ry * ry + rz * rz
        if r2 == 0.0:
            a_out[i, 0] = 0.0; a_out[i, 1] = 0.0; a_out[i, 2] = 0.0
            t_go[i] = 0.0
            sat[i] = 0
            continue
        r = sqrt(r2)
        wx = (ry * vz - rz * vy) / r2          # ω = r × v / r²
        wy = (rz * vx - rx * vz) / r2
        wz = (rx * vy - ry * vx) / r2
        vc = -(rx * vx + ry * vy + rz * vz) / r
        if law == LAW_TRUE_PN:
            ux = rx / r; uy = ry / r; uz = rz / r
            g = N * vc
        else:
            vm = sqrt(mv[i, 0] * mv[i, 0] + mv[i, 1] * mv[i, 1] + mv[i, 2] * mv[i, 2])
            if vm > 0.0:
                ux = mv[i, 0] / vm; uy = mv[i, 1] / vm; uz = mv[i, 2] / vm
            else:
                ux = 0.0; uy = 0.0; uz = 0.0
            g = N * vm
        ax = g * (wy * uz - wz * uy)            # g ω × u
        ay = g * (wz * ux - wx * uz)
        az = g * (wx * uy - wy * ux)
        am = sqrt(ax * ax + ay * ay + az * az)
        if am > a_max:
            g = a_max / am
            ax *= g; ay *= g; az *= g
            sat[i] = 1
        else:
            sat[i] = 0
        a_out[i, 0] = ax; a_out[i, 1] = ay; a_out[i, 2] = az
        t_go[i] = r / vc if vc > 0.0 else INFINITY


def guidance_command(const double[:, ::1] rel_pos, const double[:, ::1] rel_vel,
                     const double[:, ::1] m_vel, int law, double nav_ratio, double a_max,
                     double[:, ::1] a_out, double[::1] t_go, unsigned char[::1] sat):
    """Write a_out (n, 3), t_go (n,), sat (n,) uint8; laws 1 pure PN, 2 true PN."""
    if law != LAW_PURE_PN and law != LAW_TRUE_PN:
        raise ValueError(f"unknown guidance law code {law}")
    with nogil:
        _guidance(rel_pos, rel_vel, m_vel, law, nav_ratio, a_max, a_out, t_go, sat)
