# cython: language_level=3
"""Batched closed-loop engagement stepper for Monte Carlo: guidance on truth, n-th order
binomial flight-control lag, optional gravity, target maneuvers, RK4 or Euler, closest
approach inside the step. Twin: xband/reference/flyout.py (equations and layout there).

Runs are processed in blocks of BLK, structure of arrays: every state component of a
block is a row of BLK doubles in one stack workspace W, so the per-step loops run over
runs with unit stride and the compiler vectorises them (PN/TPN/APN guidance and the
first-order-lag step are branch-free; other laws and lag orders take a generic path).
A run that ends in a call is frozen by an arithmetic blend e·new + (1 − e)·old, e ∈ {0, 1},
which is exact for finite states (a conditional store would stop the vectoriser)."""
from _cpa cimport hermite
from libc.math cimport sqrt, sin

cdef extern from *:
    """
    /* branch-free selects on doubles for the vectorised loops (if-converted by the
       compiler into compare-and-blend; no control flow in the loop body) */
    static inline double xb_pick(double e, double a, double b) { return e != 0.0 ? a : b; }
    /* e in {0, 1}: exactly a or b for finite a, b (up to the sign of a zero) */
    static inline double xb_blend(double e, double a, double b) { return e * a + (1.0 - e) * b; }
    static inline double xb_gt(double x, double y, double a, double b) { return x > y ? a : b; }
    static inline double xb_hit(double q0, double q1, double e) {
        return q0 < 0.0 ? (q1 >= 0.0 ? e : 0.0) : 0.0; }
    """
    double xb_pick(double e, double a, double b) noexcept nogil
    double xb_blend(double e, double a, double b) noexcept nogil
    double xb_gt(double x, double y, double a, double b) noexcept nogil
    double xb_hit(double q0, double q1, double e) noexcept nogil
from _guidelaw cimport guide_one, LAW_PURE_PN, LAW_TRUE_PN, LAW_AUG_PN

cdef enum:
    BLK = 32
    MAXORD = 8
    MROWS = 30          # 6 + 3 * MAXORD
    BISECTIONS = 60
    MAN_NONE = 0
    MAN_STEP = 1
    MAN_WEAVE = 2
    # rows of the packed block workspace W[NW][BLK] (one array: the compiler sees every
    # row's offset, so the fused loops need no run-time alias checks)
    R_M = 0
    R_TG = 30
    R_AC = 36
    R_MAN = 39
    R_REL0 = 45
    R_FA0 = 51
    R_FAM = 52
    R_FA1 = 53
    R_ACT = 54
    R_F1 = 55
    R_EF = 56
    R_MX = 57
    R_NS = 58
    R_AM = 59
    NW = 60


cdef inline double _man(int kind, double t, double ts, double w, double ph,
                        double thr) noexcept nogil:
    """Maneuver profile: 0 before t_start; 1 (step) or sin(ω(t − t_s) + φ) (weave) after.
    On when t − t_s ≥ thr: −tol for the value at the start of a step (right limit), +tol
    at its end (left limit), tol = 1e-6·h, so a maneuver starting on the grid is
    integrated as exactly as a smooth one."""
    if kind == MAN_NONE or t - ts < thr:
        return 0.0
    if kind == MAN_STEP:
        return 1.0
    return sin(w * (t - ts) + ph)


cdef void _guide_fast(Py_ssize_t nb, double (*W)[BLK], double N, double kp, double kt,
                      double ka, double a_max, double grav) noexcept nogil:
    """PN / true PN / augmented PN over a block without branches (vectorised): the same
    equations as guide_one, with N′ ω × v_M for pure PN (= N′|v_M| ω × v̂_M)."""
    cdef Py_ssize_t i
    cdef double rx, ry, rz, vx, vy, vz, r2, ir2, ir, wx, wy, wz, ux, uy, uz, gt, gp
    cdef double ax, ay, az, am, nz, e, f, q0
    for i in range(nb):
        rx = W[R_TG + 0][i] - W[R_M + 0][i]; ry = W[R_TG + 1][i] - W[R_M + 1][i]; rz = W[R_TG + 2][i] - W[R_M + 2][i]
        vx = W[R_TG + 3][i] - W[R_M + 3][i]; vy = W[R_TG + 4][i] - W[R_M + 4][i]; vz = W[R_TG + 5][i] - W[R_M + 5][i]
        r2 = rx * rx + ry * ry + rz * rz
        nz = xb_gt(r2, 0.0, 1.0, 0.0)
        r2 = xb_gt(r2, 0.0, r2, 1.0)
        ir2 = 1.0 / r2
        ir = sqrt(ir2)
        wx = (ry * vz - rz * vy) * ir2
        wy = (rz * vx - rx * vz) * ir2
        wz = (rx * vy - ry * vx) * ir2
        ux = rx * ir; uy = ry * ir; uz = rz * ir
        gt = kt * N * (-(rx * vx + ry * vy + rz * vz) * ir)
        gp = kp * N
        e = W[R_FA0][i]
        q0 = ka * (W[R_MAN + 0][i] * ux + W[R_MAN + 1][i] * uy + W[R_MAN + 2][i] * uz) * e
        ax = (gt * (wy * uz - wz * uy) + gp * (wy * W[R_M + 5][i] - wz * W[R_M + 4][i])
              + ka * 0.5 * N * (W[R_MAN + 0][i] * e - q0 * ux))
        ay = (gt * (wz * ux - wx * uz) + gp * (wz * W[R_M + 3][i] - wx * W[R_M + 5][i])
              + ka * 0.5 * N * (W[R_MAN + 1][i] * e - q0 * uy))
        az = (gt * (wx * uy - wy * ux) + gp * (wx * W[R_M + 4][i] - wy * W[R_M + 3][i])
              + ka * 0.5 * N * (W[R_MAN + 2][i] * e - q0 * uz))
        am = sqrt(ax * ax + ay * ay + az * az) * nz
        f = xb_gt(am, a_max, a_max / am, 1.0)
        f = f * nz
        ax = ax * f; ay = ay * f; az = az * f
        e = W[R_ACT][i]
        W[R_AC + 0][i] = xb_blend(e, ax, W[R_AC + 0][i])
        W[R_AC + 1][i] = xb_blend(e, ay, W[R_AC + 1][i])
        W[R_AC + 2][i] = xb_blend(e, az + grav, W[R_AC + 2][i])
        am = xb_gt(a_max, am, am, a_max)
        W[R_AM][i] = e * am          # the peak is taken by the caller (a max here would
                                     # be a conditional store, which stops vectorisation)
        W[R_NS][i] = W[R_NS][i] + xb_gt(a_max, am, 0.0, e)


cdef double _step_o1(Py_ssize_t nb, double (*W)[BLK], const double* P, double grav,
                     double h) noexcept nogil:
    """One plant step of a block with a first-order lag, fused: old relative state and r·v,
    the interceptor s⁺ = Φ s + Γ a_c + Γ_g g per axis, the target, the new r·v and the
    commit of active runs, with no branches (vectorised). P holds Φ (row-major 3×3), Γ,
    −g·Γ_g and the target's integration weights (cp0, cpm, cv0, cvm, cv1). Returns the
    number of runs that passed closest approach (W[R_F1][i] = 1 for them)."""
    cdef Py_ssize_t i
    cdef double f00 = P[0], f01 = P[1], f02 = P[2], f10 = P[3], f11 = P[4], f12 = P[5]
    cdef double f20 = P[6], f21 = P[7], f22 = P[8], g0 = P[9], g1 = P[10], g2 = P[11]
    cdef double gz0 = P[12], gz1 = P[13], gz2 = P[14]
    cdef double cp0 = P[15], cpm = P[16], cv0 = P[17], cvm = P[18], cv1 = P[19]
    cdef double e, r0x, r0y, r0z, v0x, v0y, v0z, q0, q1, ax, ay, az, gt
    cdef double npx, npy, npz, nvx, nvy, nvz, nax, nay, naz, wx, wy, wz, ux, uy, uz
    cdef double tpx, tpy, tpz, tvx, tvy, tvz, hit_any = 0.0
    for i in range(nb):
        e = W[R_ACT][i]
        r0x = W[R_TG + 0][i] - W[R_M + 0][i]; r0y = W[R_TG + 1][i] - W[R_M + 1][i]; r0z = W[R_TG + 2][i] - W[R_M + 2][i]
        v0x = W[R_TG + 3][i] - W[R_M + 3][i]; v0y = W[R_TG + 4][i] - W[R_M + 4][i]; v0z = W[R_TG + 5][i] - W[R_M + 5][i]
        W[R_REL0 + 0][i] = r0x; W[R_REL0 + 1][i] = r0y; W[R_REL0 + 2][i] = r0z
        W[R_REL0 + 3][i] = v0x; W[R_REL0 + 4][i] = v0y; W[R_REL0 + 5][i] = v0z
        q0 = r0x * v0x + r0y * v0y + r0z * v0z
        ax = W[R_AC + 0][i]; ay = W[R_AC + 1][i]; az = W[R_AC + 2][i]
        gt = az - grav
        W[R_EF][i] += e * h * (ax * ax + ay * ay + gt * gt)
        npx = f00 * W[R_M + 0][i] + f01 * W[R_M + 3][i] + f02 * W[R_M + 6][i] + g0 * ax
        npy = f00 * W[R_M + 1][i] + f01 * W[R_M + 4][i] + f02 * W[R_M + 7][i] + g0 * ay
        npz = f00 * W[R_M + 2][i] + f01 * W[R_M + 5][i] + f02 * W[R_M + 8][i] + g0 * az + gz0
        nvx = f10 * W[R_M + 0][i] + f11 * W[R_M + 3][i] + f12 * W[R_M + 6][i] + g1 * ax
        nvy = f10 * W[R_M + 1][i] + f11 * W[R_M + 4][i] + f12 * W[R_M + 7][i] + g1 * ay
        nvz = f10 * W[R_M + 2][i] + f11 * W[R_M + 5][i] + f12 * W[R_M + 8][i] + g1 * az + gz1
        nax = f20 * W[R_M + 0][i] + f21 * W[R_M + 3][i] + f22 * W[R_M + 6][i] + g2 * ax
        nay = f20 * W[R_M + 1][i] + f21 * W[R_M + 4][i] + f22 * W[R_M + 7][i] + g2 * ay
        naz = f20 * W[R_M + 2][i] + f21 * W[R_M + 5][i] + f22 * W[R_M + 8][i] + g2 * az + gz2
        wx = W[R_MAN + 0][i]; wy = W[R_MAN + 1][i]; wz = W[R_MAN + 2][i]
        ux = W[R_FA0][i]; uy = W[R_FAM][i]; uz = W[R_FA1][i]
        tpx = W[R_TG + 0][i] + h * W[R_TG + 3][i] + cp0 * wx * ux + cpm * wx * uy
        tpy = W[R_TG + 1][i] + h * W[R_TG + 4][i] + cp0 * wy * ux + cpm * wy * uy
        tpz = W[R_TG + 2][i] + h * W[R_TG + 5][i] + cp0 * wz * ux + cpm * wz * uy
        tvx = W[R_TG + 3][i] + cv0 * wx * ux + cvm * wx * uy + cv1 * wx * uz
        tvy = W[R_TG + 4][i] + cv0 * wy * ux + cvm * wy * uy + cv1 * wy * uz
        tvz = W[R_TG + 5][i] + cv0 * wz * ux + cvm * wz * uy + cv1 * wz * uz
        q1 = ((tpx - npx) * (tvx - nvx) + (tpy - npy) * (tvy - nvy)
              + (tpz - npz) * (tvz - nvz))
        W[R_F1][i] = xb_hit(q0, q1, e)
        hit_any += W[R_F1][i]
        W[R_M + 0][i] = xb_blend(e, npx, W[R_M + 0][i])
        W[R_M + 1][i] = xb_blend(e, npy, W[R_M + 1][i])
        W[R_M + 2][i] = xb_blend(e, npz, W[R_M + 2][i])
        W[R_M + 3][i] = xb_blend(e, nvx, W[R_M + 3][i])
        W[R_M + 4][i] = xb_blend(e, nvy, W[R_M + 4][i])
        W[R_M + 5][i] = xb_blend(e, nvz, W[R_M + 5][i])
        W[R_M + 6][i] = xb_blend(e, nax, W[R_M + 6][i])
        W[R_M + 7][i] = xb_blend(e, nay, W[R_M + 7][i])
        W[R_M + 8][i] = xb_blend(e, naz, W[R_M + 8][i])
        W[R_TG + 0][i] = xb_blend(e, tpx, W[R_TG + 0][i])
        W[R_TG + 1][i] = xb_blend(e, tpy, W[R_TG + 1][i])
        W[R_TG + 2][i] = xb_blend(e, tpz, W[R_TG + 2][i])
        W[R_TG + 3][i] = xb_blend(e, tvx, W[R_TG + 3][i])
        W[R_TG + 4][i] = xb_blend(e, tvy, W[R_TG + 4][i])
        W[R_TG + 5][i] = xb_blend(e, tvz, W[R_TG + 5][i])
    return hit_any


cdef void _fly(double[:, ::1] M, double[:, ::1] T, double[:, ::1] AC,
               const double[:, ::1] MAN, const double[:, ::1] phi, const double[::1] gam,
               const double[::1] gg, int law, double N, double tau, double a_max,
               double grav, int man_kind, int integ, int g_every, double dt, long k0,
               int nsteps, unsigned char[::1] status, double[::1] t_cpa, double[::1] miss,
               double[:, ::1] stats, bint guide) noexcept nogil:
    cdef Py_ssize_t n = M.shape[1], b0, nb, i
    cdef int d = phi.shape[0], order = phi.shape[0] - 2, nrow = 6 + 3 * (phi.shape[0] - 2)
    cdef int s, j, r, c, it, row_r, nact, ach
    cdef double W[NW][BLK]
    cdef double nm[MROWS][BLK]
    cdef double ag[3][BLK]
    cdef double f0[BLK]
    cdef double acc[BLK]
    cdef double (*m)[BLK]
    cdef double (*tg)[BLK]
    cdef double (*ac)[BLK]
    cdef double (*man)[BLK]
    cdef double (*rel0)[BLK]
    cdef double* act
    cdef double* f1
    cdef double* ef
    cdef double* mx
    cdef double* ns
    cdef double* fa0
    cdef double* fam
    cdef double* fa1
    cdef int idx[MAXORD + 2]
    cdef double a3[3]
    cdef double tgo
    cdef unsigned char sat
    cdef double t, h = dt, f, gz, e, am, q0, q1, lo, hi, mid, hit_any
    cdef double tol = 1e-6 * dt
    cdef double pr0[3]
    cdef double pv0[3]
    cdef double pr1[3]
    cdef double pv1[3]
    cdef double pp[3]
    cdef double dpp[3]
    cdef double kp = 1.0 if law == LAW_PURE_PN else 0.0
    cdef double kt = 1.0 if (law == LAW_TRUE_PN or law == LAW_AUG_PN) else 0.0
    cdef double ka = 1.0 if law == LAW_AUG_PN else 0.0
    cdef bint fast = law == LAW_PURE_PN or law == LAW_TRUE_PN or law == LAW_AUG_PN
    cdef double f00 = phi[0, 0], f01 = phi[0, 1], f02 = phi[0, phi.shape[0] - 1]
    cdef double f10 = phi[1, 0], f11 = phi[1, 1], f12 = phi[1, phi.shape[0] - 1]
    cdef double f20 = phi[2, 0] if phi.shape[0] == 3 else 0.0
    cdef double f21 = phi[2, 1] if phi.shape[0] == 3 else 0.0
    cdef double f22 = phi[2, 2] if phi.shape[0] == 3 else 0.0
    cdef double g0 = gam[0], g1 = gam[1], g2 = gam[2]
    cdef double gz0 = -grav * gg[0], gz1 = -grav * gg[1], gz2 = -grav * gg[2]
    cdef double cp0 = dt * dt / 6.0 if integ == 1 else 0.0
    cdef double cpm = dt * dt / 3.0 if integ == 1 else 0.0
    cdef double cv0 = dt / 6.0 if integ == 1 else dt
    cdef double cvm = 4.0 * dt / 6.0 if integ == 1 else 0.0
    cdef double cv1 = dt / 6.0 if integ == 1 else 0.0
    cdef double P[20]
    ach = 6 + 3 * (order - 1)
    m = W + R_M
    tg = W + R_TG
    ac = W + R_AC
    man = W + R_MAN
    rel0 = W + R_REL0
    act = &W[R_ACT][0]
    f1 = &W[R_F1][0]
    ef = &W[R_EF][0]
    mx = &W[R_MX][0]
    ns = &W[R_NS][0]
    fa0 = &W[R_FA0][0]
    fam = &W[R_FAM][0]
    fa1 = &W[R_FA1][0]
    P[0] = f00; P[1] = f01; P[2] = f02; P[3] = f10; P[4] = f11; P[5] = f12
    P[6] = f20; P[7] = f21; P[8] = f22; P[9] = g0; P[10] = g1; P[11] = g2
    P[12] = gz0; P[13] = gz1; P[14] = gz2
    P[15] = cp0; P[16] = cpm; P[17] = cv0; P[18] = cvm; P[19] = cv1
    b0 = -BLK
    while b0 + BLK < n:
        b0 += BLK
        nb = n - b0 if n - b0 < BLK else BLK
        nact = 0
        for i in range(nb):
            act[i] = 1.0 if status[b0 + i] == 0 else 0.0
            nact += status[b0 + i] == 0
            mx[i] = stats[0, b0 + i]; ns[i] = stats[1, b0 + i]; ef[i] = stats[2, b0 + i]
        if nact == 0:
            continue
        for c in range(nrow):
            for i in range(nb):
                m[c][i] = M[c, b0 + i]
        for c in range(6):
            for i in range(nb):
                tg[c][i] = T[c, b0 + i]
                man[c][i] = MAN[c, b0 + i]
        for c in range(3):
            for i in range(nb):
                ac[c][i] = AC[c, b0 + i]
        for i in range(BLK):
            fa0[i] = 0.0; fam[i] = 0.0; fa1[i] = 0.0
        for s in range(nsteps):
            t = (k0 + s) * h
            # ---- guidance on truth, every g_every plant steps (held in between)
            if not guide:
                pass
            elif (k0 + s) % g_every == 0 and fast:
                for i in range(nb):
                    fa0[i] = _man(man_kind, t, man[3][i], man[4][i], man[5][i], -tol)
                _guide_fast(nb, W, N, kp, kt, ka, a_max, grav)
                for i in range(nb):
                    if W[R_AM][i] > mx[i]:
                        mx[i] = W[R_AM][i]
            elif (k0 + s) % g_every == 0:
                for i in range(nb):
                    q0 = _man(man_kind, t, man[3][i], man[4][i], man[5][i], -tol)
                    guide_one(tg[0][i] - m[0][i], tg[1][i] - m[1][i], tg[2][i] - m[2][i],
                              tg[3][i] - m[3][i], tg[4][i] - m[4][i], tg[5][i] - m[5][i],
                              m[3][i], m[4][i], m[5][i],
                              m[ach][i], m[ach + 1][i], m[ach + 2][i] - grav,
                              q0 * man[0][i], q0 * man[1][i], q0 * man[2][i],
                              law, N, tau, a_max, a3, &tgo, &sat)
                    if act[i] != 0.0:
                        ac[0][i] = a3[0]; ac[1][i] = a3[1]; ac[2][i] = a3[2] + grav
                        am = a3[0] * a3[0] + a3[1] * a3[1] + a3[2] * a3[2]
                        am = sqrt(am)
                        if am > mx[i]:
                            mx[i] = am
                        ns[i] += sat
            if order == 1:
                # one fused pass per step (first-order lag): old relative state and r·v,
                # the interceptor s⁺ = Φ s + Γ a_c + Γ_g g per axis, the target, the new
                # r·v, and the commit of active runs; no branches, so it vectorises
                hit_any = 0.0
                if man_kind != MAN_NONE:
                    for i in range(nb):
                        fa0[i] = _man(man_kind, t, man[3][i], man[4][i], man[5][i], -tol)
                        fam[i] = _man(man_kind, t + 0.5 * h, man[3][i], man[4][i], man[5][i], 0.0)
                        fa1[i] = _man(man_kind, t + h, man[3][i], man[4][i], man[5][i], tol)
                hit_any = _step_o1(nb, W, P, grav, h)
            else:
                # ---- closing test before the step: f = r·v
                for i in range(nb):
                    rel0[0][i] = tg[0][i] - m[0][i]
                    rel0[1][i] = tg[1][i] - m[1][i]
                    rel0[2][i] = tg[2][i] - m[2][i]
                    rel0[3][i] = tg[3][i] - m[3][i]
                    rel0[4][i] = tg[4][i] - m[4][i]
                    rel0[5][i] = tg[5][i] - m[5][i]
                    f0[i] = (rel0[0][i] * rel0[3][i] + rel0[1][i] * rel0[4][i]
                             + rel0[2][i] * rel0[5][i])
                    ag[0][i] = ac[0][i]; ag[1][i] = ac[1][i]; ag[2][i] = ac[2][i] - grav
                    ef[i] += act[i] * h * (ag[0][i] * ag[0][i] + ag[1][i] * ag[1][i]
                                           + ag[2][i] * ag[2][i])
                # ---- interceptor: s⁺ = Φ s + Γ a_c + Γ_g (−g) per axis, s = (p, v, a_1..a_n)
                for j in range(3):
                    idx[0] = j
                    idx[1] = 3 + j
                    for c in range(order):
                        idx[2 + c] = 6 + 3 * c + j
                    gz = -grav if j == 2 else 0.0
                    for r in range(d):
                        row_r = idx[r]
                        f = gg[r] * gz
                        e = gam[r]
                        for i in range(nb):
                            acc[i] = e * ac[j][i] + f
                        for c in range(d):
                            f = phi[r, c]
                            if f != 0.0:
                                row_r = idx[c]
                                for i in range(nb):
                                    acc[i] = acc[i] + f * m[row_r][i]
                        row_r = idx[r]
                        for i in range(nb):
                            nm[row_r][i] = acc[i]
                # ---- target: exact for a constant acceleration (RK4), Euler for comparison
                if man_kind == MAN_NONE:
                    for c in range(3):
                        for i in range(nb):
                            tg[c][i] = tg[c][i] + act[i] * (h * tg[3 + c][i])
                else:
                    for i in range(nb):
                        fa0[i] = _man(man_kind, t, man[3][i], man[4][i], man[5][i], -tol)
                        fam[i] = _man(man_kind, t + 0.5 * h, man[3][i], man[4][i], man[5][i], 0.0)
                        fa1[i] = _man(man_kind, t + h, man[3][i], man[4][i], man[5][i], tol)
                    for c in range(3):
                        if integ == 1:
                            for i in range(nb):
                                q0 = man[c][i] * fa0[i]
                                q1 = man[c][i] * fam[i]
                                e = tg[c][i] + h * tg[3 + c][i] + h * h / 6.0 * (q0 + 2.0 * q1)
                                f = tg[3 + c][i] + h / 6.0 * (q0 + 4.0 * q1 + man[c][i] * fa1[i])
                                tg[c][i] = xb_pick(act[i], e, tg[c][i])
                                tg[3 + c][i] = xb_pick(act[i], f, tg[3 + c][i])
                        else:
                            for i in range(nb):
                                e = tg[c][i] + h * tg[3 + c][i]
                                f = tg[3 + c][i] + h * man[c][i] * fa0[i]
                                tg[c][i] = xb_pick(act[i], e, tg[c][i])
                                tg[3 + c][i] = xb_pick(act[i], f, tg[3 + c][i])
                for c in range(nrow):
                    for i in range(nb):
                        m[c][i] = xb_pick(act[i], nm[c][i], m[c][i])
                hit_any = 0.0
                for i in range(nb):
                    f1[i] = ((tg[0][i] - m[0][i]) * (tg[3][i] - m[3][i])
                             + (tg[1][i] - m[1][i]) * (tg[4][i] - m[4][i])
                             + (tg[2][i] - m[2][i]) * (tg[5][i] - m[5][i]))
                    f1[i] = xb_hit(f0[i], f1[i], act[i])
                    hit_any += f1[i]
            if hit_any != 0.0:
                for i in range(nb):
                    if f1[i] == 0.0:
                        continue
                    for j in range(3):
                        pr0[j] = rel0[j][i]; pv0[j] = rel0[3 + j][i]
                        pr1[j] = tg[j][i] - m[j][i]; pv1[j] = tg[3 + j][i] - m[3 + j][i]
                    lo = 0.0; hi = 1.0
                    for it in range(BISECTIONS):
                        mid = 0.5 * (lo + hi)
                        hermite(mid, h, pr0, pv0, pr1, pv1, pp, dpp)
                        if pp[0] * dpp[0] + pp[1] * dpp[1] + pp[2] * dpp[2] < 0.0:
                            lo = mid
                        else:
                            hi = mid
                    mid = 0.5 * (lo + hi)
                    hermite(mid, h, pr0, pv0, pr1, pv1, pp, dpp)
                    t_cpa[b0 + i] = t + mid * h
                    miss[b0 + i] = sqrt(pp[0] * pp[0] + pp[1] * pp[1] + pp[2] * pp[2])
                    status[b0 + i] = 1
                    act[i] = 0.0
                    nact -= 1
                if nact == 0:
                    break
        for c in range(nrow):
            for i in range(nb):
                M[c, b0 + i] = m[c][i]
        for c in range(6):
            for i in range(nb):
                T[c, b0 + i] = tg[c][i]
        for c in range(3):
            for i in range(nb):
                AC[c, b0 + i] = ac[c][i]
        for i in range(nb):
            stats[0, b0 + i] = mx[i]; stats[1, b0 + i] = ns[i]; stats[2, b0 + i] = ef[i]


def fly(double[:, ::1] M, double[:, ::1] T, double[:, ::1] AC, const double[:, ::1] MAN,
        const double[:, ::1] phi, const double[::1] gam, const double[::1] gg, int law,
        double nav_ratio, double tau, double a_max, double grav, int man_kind, int integrator,
        int g_every, double dt, long k0, int nsteps, unsigned char[::1] status,
        double[::1] t_cpa, double[::1] miss, double[:, ::1] stats):
    """Advance every run with status 0 by up to nsteps plant steps from step k0; in place."""
    if phi.shape[0] < 3 or phi.shape[0] > MAXORD + 2 or M.shape[0] != 6 + 3 * (phi.shape[0] - 2):
        raise ValueError("fly: lag order must be 1..8 and M must have 6 + 3·order rows")
    if g_every < 1:
        raise ValueError("fly: g_every must be >= 1")
    with nogil:
        _fly(M, T, AC, MAN, phi, gam, gg, law, nav_ratio, tau, a_max, grav, man_kind,
             integrator, g_every, dt, k0, nsteps, status, t_cpa, miss, stats, True)


def hold(double[:, ::1] M, double[:, ::1] T, double[:, ::1] AC, const double[:, ::1] MAN,
         const double[:, ::1] phi, const double[::1] gam, const double[::1] gg, double grav,
         int man_kind, int integrator, double dt, long k0, int nsteps,
         unsigned char[::1] status, double[::1] t_cpa, double[::1] miss,
         double[:, ::1] stats):
    """The plant of ``fly`` without its guidance: advance every run with status 0 by up to
    nsteps plant steps from step k0 holding the command AC (gravity compensation included),
    in place (the pipeline's plant for n-th-order lags, gravity and weaving targets)."""
    if phi.shape[0] < 3 or phi.shape[0] > MAXORD + 2 or M.shape[0] != 6 + 3 * (phi.shape[0] - 2):
        raise ValueError("hold: lag order must be 1..8 and M must have 6 + 3·order rows")
    with nogil:
        _fly(M, T, AC, MAN, phi, gam, gg, 2, 1.0, 0.0, 1.0, grav, man_kind,
             integrator, 1, dt, k0, nsteps, status, t_cpa, miss, stats, False)
