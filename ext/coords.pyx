# cython: language_level=3
"""Cartesian ENU ↔ spherical radar coordinates. Twin: xband/reference/coords.py."""
from libc.math cimport atan2, sqrt, sin, cos


cdef void _cart_to_sph(const double[:, ::1] pos, const double[:, ::1] vel,
                       double[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t i
    cdef double x, y, z, rho, r
    for i in range(pos.shape[0]):
        x = pos[i, 0]; y = pos[i, 1]; z = pos[i, 2]
        rho = sqrt(x * x + y * y)
        r = sqrt(rho * rho + z * z)
        out[i, 0] = r
        out[i, 1] = atan2(x, y)
        out[i, 2] = atan2(z, rho)
        if r > 0.0:
            out[i, 3] = (x * vel[i, 0] + y * vel[i, 1] + z * vel[i, 2]) / r
        else:
            out[i, 3] = 0.0


def cart_to_sph(const double[:, ::1] pos, const double[:, ::1] vel, double[:, ::1] out):
    """pos, vel (n, 3) float64 ENU → out (n, 4) = (range, az, el, range_rate), in place."""
    with nogil:
        _cart_to_sph(pos, vel, out)


cdef void _sph_to_cart(const double[:, ::1] meas, double[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t i
    cdef double ce, ux, uy, uz, r, rr
    for i in range(meas.shape[0]):
        r = meas[i, 0]; rr = meas[i, 3]
        ce = cos(meas[i, 2])
        ux = ce * sin(meas[i, 1]); uy = ce * cos(meas[i, 1]); uz = sin(meas[i, 2])
        out[i, 0] = r * ux; out[i, 1] = r * uy; out[i, 2] = r * uz
        out[i, 3] = rr * ux; out[i, 4] = rr * uy; out[i, 5] = rr * uz


def sph_to_cart(const double[:, ::1] meas, double[:, ::1] out):
    """meas (n, 4) → out (n, 6): position and radial velocity vector ṙ·û, in place."""
    with nogil:
        _sph_to_cart(meas, out)
