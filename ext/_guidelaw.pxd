# cython: language_level=3
# Guidance laws for one engagement, shared by ext/guidance.pyx (one command per row) and
# ext/flyout.pyx (the batched closed-loop stepper). The equations, their sources and the
# law codes are documented in the numpy twin src/xband/reference/guidance.py.
from libc.math cimport sqrt, exp, acos, INFINITY

cdef enum:
    LAW_PURE_PN = 1
    LAW_TRUE_PN = 2
    LAW_PURSUIT = 3
    LAW_AUG_PN = 4
    LAW_OGL = 5


cdef inline double ogl_gain(double x) noexcept nogil:
    """Effective navigation ratio N′(x) of the optimal law against a first-order lag.
    For x = t_go/τ < 1 the series N′ = P(x)/(x Q(x)) (21 terms each, Horner), with
    P = 6 Σ (−1)^j x^j/(j+2)!, Q = Σ c_{j+5} x^j, c_k = 12(−1)^k/(k−1)! − 3(−2)^k/k!."""
    cdef double p, q, e
    if x < 1.0:
        p = 5.338074835470344e-21
        p = p * x + -1.1743764638034756e-19
        p = p * x + 2.466190573987299e-18
        p = p * x + -4.932381147974598e-17
        p = p * x + 9.371524181151737e-16
        p = p * x + -1.6868743526073125e-14
        p = p * x + 2.867686399432431e-13
        p = p * x + -4.58829823909189e-12
        p = p * x + 6.882447358637835e-11
        p = p * x + -9.635426302092969e-10
        p = p * x + 1.252605419272086e-08
        p = p * x + -1.5031265031265032e-07
        p = p * x + 1.6534391534391535e-06
        p = p * x + -1.6534391534391536e-05
        p = p * x + 0.00014880952380952382
        p = p * x + -0.0011904761904761906
        p = p * x + 0.008333333333333333
        p = p * x + -0.05
        p = p * x + 0.25
        p = p * x + -1.0
        p = p * x + 3.0
        q = 6.489693306891931e-18
        q = q * x + -8.112094391636433e-17
        q = q * x + 9.734462210117466e-16
        q = q * x + -1.1194519442063541e-14
        q = q * x + 1.2313736510977135e-13
        q = q * x + -1.2928954760316934e-12
        q = q * x + 1.29280669317103e-11
        q = q * x + -1.2280070426013987e-10
        q = q * x + 1.104936438444842e-09
        q = q * x + -9.387658197182007e-09
        q = q * x + 7.503702940210877e-08
        q = q * x + -5.618830023591928e-07
        q = q * x + 3.921618504951838e-06
        q = q * x + -2.535273368606702e-05
        q = q * x + 0.00015061327561327563
        q = q * x + -0.0008134920634920635
        q = q * x + 0.003935185185185185
        q = q * x + -0.016666666666666666
        q = q * x + 0.05952380952380952
        q = q * x + -0.16666666666666666
        q = q * x + 0.3
        return p / (x * q)
    e = exp(-x)
    return (6.0 * x * x * (e + x - 1.0)
            / (2.0 * x * x * x + 3.0 + 6.0 * x - 6.0 * x * x - 12.0 * x * e - 3.0 * e * e))


cdef inline double tgo_estimate(double r, double vrel, double vc, double N) noexcept nogil:
    """t_go = R/|v|·(1 + θ²/(2(2N′−1))), θ the angle between −v and the LOS; +inf when
    not closing (V_c ≤ 0)."""
    cdef double c, th, k
    if vc <= 0.0 or vrel <= 0.0:
        return INFINITY
    c = vc / vrel
    if c > 1.0:
        c = 1.0
    th = acos(c)
    k = 2.0 * (2.0 * (N if N > 1.0 else 1.0) - 1.0)
    return r / vrel * (1.0 + th * th / k)


cdef inline void guide_one(
        double rx, double ry, double rz, double vx, double vy, double vz,
        double mvx, double mvy, double mvz, double max_, double may, double maz,
        double tax, double tay, double taz, int law, double N, double tau, double a_max,
        double* a, double* tgo, unsigned char* sat) noexcept nogil:
    """Command a[0:3] for one engagement; t_go estimate into tgo[0]; saturation flag."""
    cdef double r2, r, wx, wy, wz, vc, ux, uy, uz, g, ax, ay, az, am, vm, vrel, d
    cdef double tg, zx, zy, zz, x, e, lagk, s
    r2 = rx * rx + ry * ry + rz * rz
    if r2 == 0.0:
        a[0] = 0.0; a[1] = 0.0; a[2] = 0.0
        tgo[0] = 0.0
        sat[0] = 0
        return
    r = sqrt(r2)
    ux = rx / r; uy = ry / r; uz = rz / r
    wx = (ry * vz - rz * vy) / r2          # ω = r × v / r²
    wy = (rz * vx - rx * vz) / r2
    wz = (rx * vy - ry * vx) / r2
    vc = -(rx * vx + ry * vy + rz * vz) / r
    vrel = sqrt(vx * vx + vy * vy + vz * vz)
    tg = tgo_estimate(r, vrel, vc, N if law != LAW_OGL else 3.0)
    tgo[0] = tg
    if law == LAW_TRUE_PN or law == LAW_AUG_PN:
        g = N * vc                          # N′ V_c ω × u
        ax = g * (wy * uz - wz * uy)
        ay = g * (wz * ux - wx * uz)
        az = g * (wx * uy - wy * ux)
        if law == LAW_AUG_PN:               # + N′/2 · a_T⊥
            d = tax * ux + tay * uy + taz * uz
            ax = ax + 0.5 * N * (tax - d * ux)
            ay = ay + 0.5 * N * (tay - d * uy)
            az = az + 0.5 * N * (taz - d * uz)
    elif law == LAW_PURE_PN:
        vm = sqrt(mvx * mvx + mvy * mvy + mvz * mvz)
        if vm > 0.0:
            g = N * vm                      # N′ |v_M| ω × v̂_M
            ax = g * (wy * mvz - wz * mvy) / vm
            ay = g * (wz * mvx - wx * mvz) / vm
            az = g * (wx * mvy - wy * mvx) / vm
        else:
            ax = 0.0; ay = 0.0; az = 0.0
    elif law == LAW_PURSUIT:
        vm = sqrt(mvx * mvx + mvy * mvy + mvz * mvz)
        if vm > 0.0:
            d = (ux * mvx + uy * mvy + uz * mvz) / vm      # cos(look angle)
            g = N * vrel / r * vm                          # |v_M| · N′/(R/|v|)
            ax = g * (ux - d * mvx / vm)
            ay = g * (uy - d * mvy / vm)
            az = g * (uz - d * mvz / vm)
        else:
            ax = 0.0; ay = 0.0; az = 0.0
    else:                                   # LAW_OGL
        if tg == INFINITY:
            ax = 0.0; ay = 0.0; az = 0.0
        else:
            if tg < 1e-6:
                tg = 1e-6
            if tau > 0.0:
                x = tg / tau
                g = ogl_gain(x)
                e = exp(-x)
                lagk = tau * tau * (e + x - 1.0)
            else:
                g = 3.0
                lagk = 0.0
            # zero-effort miss with the target's acceleration and the lagged own one
            zx = rx + vx * tg + 0.5 * tax * tg * tg - lagk * max_
            zy = ry + vy * tg + 0.5 * tay * tg * tg - lagk * may
            zz = rz + vz * tg + 0.5 * taz * tg * tg - lagk * maz
            d = zx * ux + zy * uy + zz * uz
            s = g / (tg * tg)
            ax = s * (zx - d * ux)
            ay = s * (zy - d * uy)
            az = s * (zz - d * uz)
    am = sqrt(ax * ax + ay * ay + az * az)
    if am > a_max:
        g = a_max / am
        ax = ax * g; ay = ay * g; az = az * g
        sat[0] = 1
    else:
        sat[0] = 0
    a[0] = ax; a[1] = ay; a[2] = az
