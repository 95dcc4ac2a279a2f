# cython: language_level=3
"""Guidance commands over a batch: pure/true/augmented PN, pure pursuit and the optimal
law against a first-order lag. Twin: xband/reference/guidance.py (equations there); the
per-engagement law is shared with ext/flyout.pyx through _guidelaw.pxd."""
from _guidelaw cimport guide_one, ogl_gain, LAW_PURE_PN, LAW_OGL


cdef void _guidance(const double[:, ::1] rp, const double[:, ::1] rv, const double[:, ::1] mv,
                    const double[:, ::1] ma, const double[:, ::1] ta, int law, double N,
                    double tau, double a_max, double[:, ::1] a_out, double[::1] t_go,
                    unsigned char[::1] sat) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(rp.shape[0]):
        guide_one(rp[i, 0], rp[i, 1], rp[i, 2], rv[i, 0], rv[i, 1], rv[i, 2],
                  mv[i, 0], mv[i, 1], mv[i, 2], ma[i, 0], ma[i, 1], ma[i, 2],
                  ta[i, 0], ta[i, 1], ta[i, 2], law, N, tau, a_max,
                  &a_out[i, 0], &t_go[i], &sat[i])


def guidance_command(const double[:, ::1] rel_pos, const double[:, ::1] rel_vel,
                     const double[:, ::1] m_vel, const double[:, ::1] m_acc,
                     const double[:, ::1] t_acc, int law, double nav_ratio, double tau,
                     double a_max, double[:, ::1] a_out, double[::1] t_go,
                     unsigned char[::1] sat):
    """Write a_out (n, 3), t_go (n,), sat (n,) uint8; law codes 1 pn, 2 tpn, 3 pp, 4 apn,
    5 ogl (see the twin)."""
    if law < LAW_PURE_PN or law > LAW_OGL:
        raise ValueError(f"unknown guidance law code {law}")
    with nogil:
        _guidance(rel_pos, rel_vel, m_vel, m_acc, t_acc, law, nav_ratio, tau, a_max, a_out,
                  t_go, sat)


def ogl_nav_ratio(const double[::1] x, double[::1] out):
    """N′(x) of the optimal law, x = t_go/τ > 0 (series below x = 1); into out."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            out[i] = ogl_gain(x[i])
