# The cdef core of ext/imm.pyx (included there and by ext/scan.pyx): no `def`.
from libc.math cimport sin, cos, fabs
from _linalg cimport MAXD, mat_mul, mat_mul_bt
from _linalg cimport _kf_kron_phi, _kf_kron_predict1
from _ctturn cimport ct_f

cdef enum:
    MAXR = 8
    CT_NNZ = 18


cdef inline void _mix_gather(const double* xi, const double* pi, int di, const double* xj,
                         const double* pj, int dj, const long long* mp, double* cx,
                         double* cP) noexcept nogil:
    """Model i's state and covariance in model j's space (unbiased mixing, see the twin)."""
    cdef int a, b, sa, sb
    for a in range(dj):
        sa = <int>mp[a]
        if sa >= 0:
            cx[a] = xi[sa]
            for b in range(dj):
                sb = <int>mp[b]
                cP[a * dj + b] = pi[sa * di + sb] if sb >= 0 else 0.0
        else:
            cx[a] = xj[a]
            for b in range(dj):
                cP[a * dj + b] = pj[a * dj + b] if mp[b] < 0 else 0.0


cdef void _imm_mix(const double* x, const double* P, const long long[::1] dims,
                   const long long[:, :, ::1] maps, const double[:, ::1] Pi,
                   const double[:, ::1] mu, double* xo, double* Po,
                   double[:, ::1] cbar) noexcept nogil:
    cdef Py_ssize_t n = mu.shape[0], t
    cdef int r = <int>dims.shape[0], i, j, a, b, dj, di, dd
    cdef Py_ssize_t xoff[MAXR]
    cdef Py_ssize_t poff[MAXR]
    cdef bint ident[MAXR * MAXR]
    cdef double w[MAXR]
    cdef double c, wi, da
    cdef double x0[MAXD]
    cdef double dv[MAXD]
    cdef double cxs[MAXR * MAXD]
    cdef double cPs[MAXR * MAXD * MAXD]
    cdef double P0[MAXD * MAXD]
    cdef const double* xi
    cdef const double* xj
    cdef const double* pi
    cdef const double* pj
    cdef const double* cx
    cdef const double* cP
    cdef double* xt
    cdef double* pt
    cdef double s
    xoff[0] = 0
    poff[0] = 0
    for j in range(1, r):
        xoff[j] = xoff[j - 1] + n * dims[j - 1]
        poff[j] = poff[j - 1] + n * dims[j - 1] * dims[j - 1]
    for i in range(r):                           # model i already in model j's space
        for j in range(r):
            ident[i * MAXR + j] = dims[i] == dims[j]
            for a in range(dims[j]):
                if maps[i, j, a] != a:
                    ident[i * MAXR + j] = False
    for t in range(n):
        for j in range(r):                       # c̄_j = Σ_i Π_ij μ_i
            c = 0.0
            for i in range(r):
                c += mu[t, i] * Pi[i, j]
            cbar[t, j] = c
        for j in range(r):
            dj = <int>dims[j]
            dd = dj * dj
            xj = x + xoff[j] + t * dj
            pj = P + poff[j] + t * dd
            for i in range(r):                   # μ_{i|j}; x̃_i, P̃_i in j's space
                w[i] = Pi[i, j] * mu[t, i] / cbar[t, j]
            for a in range(dj):
                x0[a] = 0.0
            for i in range(r):                   # x0_j = Σ_i μ_{i|j} x̃_i
                di = <int>dims[i]
                xi = x + xoff[i] + t * di
                if ident[i * MAXR + j]:
                    cx = xi
                else:
                    _mix_gather(xi, P + poff[i] + t * di * di, di, xj, pj, dj, &maps[i, j, 0],
                            &cxs[i * MAXD], &cPs[i * MAXD * MAXD])
                    cx = &cxs[i * MAXD]
                wi = w[i]
                for a in range(dj):
                    x0[a] += wi * cx[a]
            for a in range(dd):
                P0[a] = 0.0
            for i in range(r):                   # P0_j = Σ_i μ_{i|j} [P̃_i + d dᵀ]
                di = <int>dims[i]
                if ident[i * MAXR + j]:
                    cx = x + xoff[i] + t * di
                    cP = P + poff[i] + t * di * di
                else:
                    cx = &cxs[i * MAXD]
                    cP = &cPs[i * MAXD * MAXD]
                wi = w[i]
                for a in range(dj):
                    dv[a] = cx[a] - x0[a]
                for a in range(dj):
                    da = dv[a]
                    for b in range(dj):
                        P0[a * dj + b] += wi * (cP[a * dj + b] + da * dv[b])
            xt = xo + xoff[j] + t * dj
            pt = Po + poff[j] + t * dd
            for a in range(dj):
                xt[a] = x0[a]
            for a in range(dj):
                for b in range(a, dj):
                    s = 0.5 * (P0[a * dj + b] + P0[b * dj + a])
                    pt[a * dj + b] = s
                    pt[b * dj + a] = s


cdef void _imm_combine(const double* x, const double* P, const long long[::1] dims,
                       const long long[:, ::1] pos, const double[:, ::1] mu,
                       double[:, ::1] xc, double[:, :, ::1] Pc) noexcept nogil:
    cdef Py_ssize_t n = mu.shape[0], t
    cdef int r = <int>dims.shape[0], D = <int>xc.shape[1], j, a, b, dj
    cdef Py_ssize_t xoff[MAXR]
    cdef Py_ssize_t poff[MAXR]
    cdef double xs[MAXD]
    cdef double dv[MAXD]
    cdef double Ps[MAXD * MAXD]
    cdef double Pe[MAXD * MAXD]
    cdef double m, s
    cdef const double* xj
    cdef const double* pj
    cdef const long long* p
    xoff[0] = 0
    poff[0] = 0
    for j in range(1, r):
        xoff[j] = xoff[j - 1] + n * dims[j - 1]
        poff[j] = poff[j - 1] + n * dims[j - 1] * dims[j - 1]
    for t in range(n):
        for a in range(D):                       # x = Σ_j μ_j x̂_j (0 where j lacks a)
            xs[a] = 0.0
        for j in range(r):
            dj = <int>dims[j]
            xj = x + xoff[j] + t * dj
            p = &pos[j, 0]
            m = mu[t, j]
            for a in range(D):
                dv[a] = 0.0
            for a in range(dj):
                dv[p[a]] = xj[a]
            for a in range(D):
                xs[a] += m * dv[a]
        for a in range(D * D):
            Ps[a] = 0.0
        for j in range(r):                       # P = Σ_j μ_j [P̂_j + (x̂_j − x)(x̂_j − x)ᵀ]
            dj = <int>dims[j]
            xj = x + xoff[j] + t * dj
            pj = P + poff[j] + t * dj * dj
            p = &pos[j, 0]
            m = mu[t, j]
            for a in range(D):
                dv[a] = -xs[a]
            for a in range(dj):
                dv[p[a]] = xj[a] - xs[p[a]]
            for a in range(D * D):
                Pe[a] = 0.0
            for a in range(dj):
                for b in range(dj):
                    Pe[p[a] * D + p[b]] = pj[a * dj + b]
            for a in range(D):
                for b in range(D):
                    Ps[a * D + b] += m * (Pe[a * D + b] + dv[a] * dv[b])
        for a in range(D):
            xc[t, a] = xs[a]
            for b in range(a, D):
                s = 0.5 * (Ps[a * D + b] + Ps[b * D + a])
                Pc[t, a, b] = s
                Pc[t, b, a] = s


# ---------------------------------------------------------------- fused mix + predict
# One pass over the packed bank instead of one per model plus the mixing pass into new
# buffers: per track, every model is mixed into stack buffers (the arithmetic of _imm_mix,
# in its order; a model of another state space is not gathered into a P̃_i first, its
# blocks are accumulated where they land), predicted there (the arithmetic of kalman.pyx's
# kf_predict / ct_predict, in their order; the CT Jacobian by its structural non-zeros) and
# written back in place. The same values as imm_mix followed by the predictions (the
# skipped terms are exact zeros; only the sign of an exact-zero result could differ).

cdef inline void _ct_predict1(const double* xm, const double* pm, double dt,
                              const double* q, const int* ct_i, const int* ct_l,
                              double* xt, double* pt) noexcept nogil:
    """Coordinated-turn EKF prediction of one mixed state (xm, pm) into (xt, pt).

    F P Fᵀ over the 18 structural non-zeros of the CT Jacobian (ct_i, ct_l, row-major)
    in mat_mul / mat_mul_bt's accumulation order: the products kalman.pyx's ct_predict
    forms with its dense F, less the additions of 0·p (same values; only the sign of an
    exact zero could differ)."""
    cdef int i, j, l, k
    cdef double F[49]
    cdef double FP[49]
    cdef double FPF[49]
    cdef double v, s
    ct_f(xm, dt, xt, F)
    for i in range(49):
        FP[i] = 0.0
        FPF[i] = 0.0
    for k in range(CT_NNZ):
        i = ct_i[k]; l = ct_l[k]; v = F[i * 7 + l]
        for j in range(7):
            FP[i * 7 + j] += v * pm[l * 7 + j]
    for k in range(CT_NNZ):
        j = ct_i[k]; l = ct_l[k]; v = F[j * 7 + l]
        for i in range(7):
            FPF[i * 7 + j] += FP[i * 7 + l] * v
    for i in range(7):
        for j in range(i, 7):
            s = 0.5 * ((FPF[i * 7 + j] + q[i * 7 + j]) + (FPF[j * 7 + i] + q[j * 7 + i]))
            pt[i * 7 + j] = s
            pt[j * 7 + i] = s


cdef inline void _lin_predict1(const double* xm, const double* pm, int d, int nnz,
                               const int* nz_i, const int* nz_l, const double* nz_v,
                               const double* q, double* xt, double* pt) noexcept nogil:
    """x ← F x, P ← sym(F P Fᵀ + Q) of one mixed state (xm, pm) into (xt, pt), F by its
    non-zeros (kalman.pyx's _kf_predict_rows for one row; called with a literal d)."""
    cdef int i, j, l, k
    cdef double xs[MAXD]
    cdef double FP[MAXD * MAXD]
    cdef double FPF[MAXD * MAXD]
    cdef double s, v
    for i in range(d):
        xs[i] = 0.0
    for i in range(d * d):
        FP[i] = 0.0
        FPF[i] = 0.0
    for k in range(nnz):
        i = nz_i[k]; l = nz_l[k]; v = nz_v[k]
        xs[i] += v * xm[l]
        for j in range(d):
            FP[i * d + j] += v * pm[l * d + j]
    for i in range(d):
        xt[i] = xs[i]
    for k in range(nnz):
        j = nz_i[k]; l = nz_l[k]; v = nz_v[k]
        for i in range(d):
            FPF[i * d + j] += v * FP[i * d + l]
    for i in range(d):
        for j in range(i, d):
            s = 0.5 * ((FPF[i * d + j] + q[i * d + j]) + (FPF[j * d + i] + q[j * d + i]))
            pt[i * d + j] = s
            pt[j * d + i] = s


cdef inline void _mix_acc_blocks(const double* cx, const double* pi, int di,
                                 const double* pj, int dj, int ns, const int* sh_a,
                                 const int* sh_s, int no, const int* ow, const double* x0,
                                 double wi, double* P0) noexcept nogil:
    """_mix_acc of model i expressed in model j's space without forming P̃_i: the shared
    block from P_i, the block of the components model i lacks from P_j, and 0 between
    them (written 0.0 + …, the very sum _mix_acc forms, so the same bits)."""
    cdef int p, q, a, b, sa
    cdef double da
    cdef double dv[MAXD]
    for a in range(dj):
        dv[a] = cx[a] - x0[a]
    for p in range(ns):
        a = sh_a[p]
        sa = sh_s[p]
        da = dv[a]
        for q in range(ns):
            b = sh_a[q]
            P0[a * dj + b] += wi * (pi[sa * di + sh_s[q]] + da * dv[b])
        for q in range(no):
            b = ow[q]
            P0[a * dj + b] += wi * (0.0 + da * dv[b])
    for p in range(no):
        a = ow[p]
        da = dv[a]
        for q in range(ns):
            b = sh_a[q]
            P0[a * dj + b] += wi * (0.0 + da * dv[b])
        for q in range(no):
            b = ow[q]
            P0[a * dj + b] += wi * (pj[a * dj + b] + da * dv[b])


cdef inline void _imm_mix_acc_lead(const double* cx, const double* pi, int di,
                                   const double* pj, int dj, int ns, const double* x0,
                                   double wi, double* P0) noexcept nogil:
    """_mix_acc_blocks when the shared components are model j's first ns, at the same
    index in model i (sh_a = sh_s = 0 … ns−1, ow = ns … dj−1: the kinematic models
    CV/CA/CT/Singer mixed into one another). The same element sums in the same order;
    called with literal dj and ns so that the rows vectorise."""
    cdef int a, b
    cdef double da
    cdef double dv[MAXD]
    for a in range(dj):
        dv[a] = cx[a] - x0[a]
    for a in range(ns):
        da = dv[a]
        for b in range(ns):
            P0[a * dj + b] += wi * (pi[a * di + b] + da * dv[b])
        for b in range(ns, dj):
            P0[a * dj + b] += wi * (0.0 + da * dv[b])
    for a in range(ns, dj):
        da = dv[a]
        for b in range(ns):
            P0[a * dj + b] += wi * (0.0 + da * dv[b])
        for b in range(ns, dj):
            P0[a * dj + b] += wi * (pj[a * dj + b] + da * dv[b])


cdef inline void _imm_sym_into(const double* A, double* B, int d) noexcept nogil:
    """B[i, j] = 0.5 (A[i, j] + A[j, i]) for every element (call with a literal d)."""
    cdef int i, j
    for i in range(d):
        for j in range(d):
            B[i * d + j] = 0.5 * (A[i * d + j] + A[j * d + i])


cdef inline void _imm_ct_predict_rows(const double* xm, const double* pm, double dt,
                                      const double* qt, double* xt,
                                      double* pt) noexcept nogil:
    """_ct_predict1 with the Jacobian's structure written out: F P by rows of P, and
    F P Fᵀ as rows of F (F P)ᵀ — the columns of F P, taken from its transpose — each
    element the same sum over the structural non-zeros in the same order (pm is exactly
    symmetric, as the mixing leaves it; not needed for the values, which are those of
    _ct_predict1 whatever pm). qt is Qᵀ (7×7)."""
    cdef int i, j
    cdef double F[49]
    cdef double FP[49]
    cdef double G[49]
    cdef double H[49]
    cdef double f0, f1, f2, f3, s
    ct_f(xm, dt, xt, F)
    # FP = F P, row i = Σ_l F[i, l] P[l, :] over row i's non-zeros, l increasing
    f0 = F[3]; f1 = F[4]; f2 = F[6]
    for j in range(7):
        FP[j] = (((0.0 + F[0] * pm[j]) + f0 * pm[21 + j]) + f1 * pm[28 + j]) + f2 * pm[42 + j]
    f0 = F[10]; f1 = F[11]; f2 = F[13]
    for j in range(7):
        FP[7 + j] = (((0.0 + F[8] * pm[7 + j]) + f0 * pm[21 + j]) + f1 * pm[28 + j]) \
            + f2 * pm[42 + j]
    f0 = F[19]
    for j in range(7):
        FP[14 + j] = (0.0 + F[16] * pm[14 + j]) + f0 * pm[35 + j]
    f0 = F[24]; f1 = F[25]; f2 = F[27]
    for j in range(7):
        FP[21 + j] = ((0.0 + f0 * pm[21 + j]) + f1 * pm[28 + j]) + f2 * pm[42 + j]
    f0 = F[31]; f1 = F[32]; f2 = F[34]
    for j in range(7):
        FP[28 + j] = ((0.0 + f0 * pm[21 + j]) + f1 * pm[28 + j]) + f2 * pm[42 + j]
    for j in range(7):
        FP[35 + j] = 0.0 + F[40] * pm[35 + j]
    for j in range(7):
        FP[42 + j] = 0.0 + F[48] * pm[42 + j]
    for i in range(7):                           # G = (F P)ᵀ
        for j in range(7):
            G[j * 7 + i] = FP[i * 7 + j]
    # H = (F P Fᵀ)ᵀ: H[j, :] = Σ_l F[j, l] G[l, :] (= FPF[:, j] of _ct_predict1)
    f0 = F[3]; f1 = F[4]; f2 = F[6]
    for i in range(7):
        H[i] = (((0.0 + G[i] * F[0]) + G[21 + i] * f0) + G[28 + i] * f1) + G[42 + i] * f2
    f0 = F[10]; f1 = F[11]; f2 = F[13]
    for i in range(7):
        H[7 + i] = (((0.0 + G[7 + i] * F[8]) + G[21 + i] * f0) + G[28 + i] * f1) \
            + G[42 + i] * f2
    f0 = F[19]
    for i in range(7):
        H[14 + i] = (0.0 + G[14 + i] * F[16]) + G[35 + i] * f0
    f0 = F[24]; f1 = F[25]; f2 = F[27]
    for i in range(7):
        H[21 + i] = ((0.0 + G[21 + i] * f0) + G[28 + i] * f1) + G[42 + i] * f2
    f0 = F[31]; f1 = F[32]; f2 = F[34]
    for i in range(7):
        H[28 + i] = ((0.0 + G[21 + i] * f0) + G[28 + i] * f1) + G[42 + i] * f2
    for i in range(7):
        H[35 + i] = 0.0 + G[35 + i] * F[40]
    for i in range(7):
        H[42 + i] = 0.0 + G[42 + i] * F[48]
    for i in range(49):                          # P = sym(F P Fᵀ + Q), FPF[i, j] = H[j, i]:
        H[i] = H[i] + qt[i]                      # M = H + Qᵀ (contiguous, qt = Qᵀ), then
    _imm_sym_into(H, pt, 7)                      # ½(M[j, i] + M[i, j]) for every element


cdef inline void _imm_mix_rows(const double* const* cxp, const double* const* cpp,
                               const int* dis, const bint* idj, int r, const double* w,
                               const double* x0, const double* pj, int dj,
                               double* P0) noexcept nogil:
    """P0 = Σ_i w_i [P̃_i + (x̃_i − x0)(x̃_i − x0)ᵀ] row by row, for a model j into which
    every model i is either already in j's space (idj[i]: P̃_i is model i's covariance
    cpp[i]) or shares j's first 6 components (the kinematic models: P̃_i is model i's
    leading 6×6 block, j's own block for the rest, 0 between). Each element is the sum
    _mix_acc / _mix_acc_blocks form — 0.0 + w_0(p + d·d) + w_1(…) …, i increasing —
    accumulated in a local row (which, unlike P0 against P, the compiler knows to alias
    nothing, so the rows vectorise). Call with a literal dj."""
    cdef int i, a, b
    cdef double dv[MAXR * MAXD]
    cdef double acc[MAXD]
    cdef const double* src
    cdef const double* dvi
    cdef double da, wi
    for i in range(r):
        for a in range(dj):
            dv[i * MAXD + a] = cxp[i][a] - x0[a]
    for a in range(dj):
        for b in range(dj):
            acc[b] = 0.0
        for i in range(r):
            dvi = &dv[i * MAXD]
            da = dvi[a]
            wi = w[i]
            if idj[i]:
                src = cpp[i] + a * dj
                for b in range(dj):
                    acc[b] += wi * (src[b] + da * dvi[b])
            elif a < 6:
                src = cpp[i] + a * dis[i]
                for b in range(6):
                    acc[b] += wi * (src[b] + da * dvi[b])
                for b in range(6, dj):
                    acc[b] += wi * (0.0 + da * dvi[b])
            else:
                src = pj + a * dj
                for b in range(6):
                    acc[b] += wi * (0.0 + da * dvi[b])
                for b in range(6, dj):
                    acc[b] += wi * (src[b] + da * dvi[b])
        for b in range(dj):
            P0[a * dj + b] = acc[b]


cdef inline void _mix_acc(const double* cx, const double* cP, const double* x0, double wi,
                          int dj, double* P0) noexcept nogil:
    """P0 += wi [cP + (cx − x0)(cx − x0)ᵀ] (called with a literal dj)."""
    cdef int a, b
    cdef double da
    cdef double dv[MAXD]
    for a in range(dj):
        dv[a] = cx[a] - x0[a]
    for a in range(dj):
        da = dv[a]
        for b in range(dj):
            P0[a * dj + b] += wi * (cP[a * dj + b] + da * dv[b])


# ---------------------------------------------------------------- four tracks at a time
# _imm_mix_predict on blocks of NL tracks in structure-of-arrays form (element e of lane l
# at [e * NL + l], as _kalman.pxi's blocks): when every model is mixed row-wise
# (_imm_mix_rows: each model i already in model j's space or sharing j's first 6
# components), has 6, 7 or 9 components and is predicted through F = Φ ⊗ I₃ (CV, CA,
# Singer) or is the coordinated turn, a block's models are transposed in once, mixed and
# predicted lane by lane with exactly the scalar operations in the scalar order (so the
# loops over the lanes vectorise and the results are the same bits) and transposed out.

cdef enum:
    SOA_MAXP = 256              # Σ_j d_j² of a bank the blocks take (CV+CA+CT: 166)
    SOA_MAXX = 32               # Σ_j d_j

cdef extern from *:
    """
    static inline void xb_imm_mix_soa(double const *const *, double const *const *,
                                      int const *, int const *, int, double const *, int,
                                      int, double *, double *)
                                      __attribute__((always_inline));
    """


cdef inline void _imm_mix_soa "xb_imm_mix_soa"(const double* const* Xs,
                                              const double* const* Ps, const int* dis,
                                              const bint* idj, int r, const double* w,
                                              int j, int dj, double* mx,
                                              double* mP) noexcept nogil:
    """_imm_mix_rows (and the symmetrisation into mP) of model j on the NL lanes of a
    block: Xs[i], Ps[i] model i's states and covariances (SoA), w (r·NL) the mixing
    weights μ_{i|j} per lane, idj[i] whether model i is in j's space (else it shares j's
    first 6 components) → mx (dj·NL), mP (dj·dj·NL). Call with a literal dj."""
    cdef double cxs[MAXR * MAXD * NL]
    cdef double dv[MAXR * MAXD * NL]
    cdef double A[MAXD * MAXD * NL]
    cdef const double* cxp[MAXR]
    cdef const double* src
    cdef const double* dvi
    cdef const double* wi
    cdef double* row
    cdef int i, a, b, l, e
    for e in range(dj * NL):
        mx[e] = 0.0
    for i in range(r):                           # x̃_i in j's space; x0 = Σ_i μ_{i|j} x̃_i
        if idj[i]:
            cxp[i] = Xs[i]
        else:
            for e in range(6 * NL):
                cxs[i * MAXD * NL + e] = Xs[i][e]
            for e in range(6 * NL, dj * NL):
                cxs[i * MAXD * NL + e] = Xs[j][e]
            cxp[i] = &cxs[i * MAXD * NL]
        wi = w + i * NL
        for a in range(dj):
            for l in range(NL):
                mx[a * NL + l] += wi[l] * cxp[i][a * NL + l]
    for i in range(r):
        for e in range(dj * NL):
            dv[i * MAXD * NL + e] = cxp[i][e] - mx[e]
    for a in range(dj):                          # P0 row a = Σ_i μ_{i|j} [P̃_i + d dᵀ]
        row = &A[a * dj * NL]
        for e in range(dj * NL):
            row[e] = 0.0
        for i in range(r):
            dvi = &dv[i * MAXD * NL]
            wi = w + i * NL
            if idj[i]:
                src = Ps[i] + a * dj * NL
                for b in range(dj):
                    for l in range(NL):
                        row[b * NL + l] += wi[l] * (src[b * NL + l]
                                                    + dvi[a * NL + l] * dvi[b * NL + l])
            elif a < 6:
                src = Ps[i] + a * dis[i] * NL
                for b in range(6):
                    for l in range(NL):
                        row[b * NL + l] += wi[l] * (src[b * NL + l]
                                                    + dvi[a * NL + l] * dvi[b * NL + l])
                for b in range(6, dj):
                    for l in range(NL):
                        row[b * NL + l] += wi[l] * (0.0 + dvi[a * NL + l] * dvi[b * NL + l])
            else:
                src = Ps[j] + a * dj * NL
                for b in range(6):
                    for l in range(NL):
                        row[b * NL + l] += wi[l] * (0.0 + dvi[a * NL + l] * dvi[b * NL + l])
                for b in range(6, dj):
                    for l in range(NL):
                        row[b * NL + l] += wi[l] * (src[b * NL + l]
                                                    + dvi[a * NL + l] * dvi[b * NL + l])
    for a in range(dj):                          # mP = ½(P0 + P0ᵀ), every element
        for b in range(dj):
            for l in range(NL):
                mP[(a * dj + b) * NL + l] = 0.5 * (A[(a * dj + b) * NL + l]
                                                   + A[(b * dj + a) * NL + l])


cdef inline void _imm_ct_predict_soa(double* xv, double* Pv, double dt,
                                     const double* qt) noexcept nogil:
    """_imm_ct_predict_rows on the NL lanes of a block, in place (xv (7·NL), Pv (49·NL)):
    ct_f lane by lane, then the same sums over the Jacobian's structural non-zeros in the
    same order (FPF[i, j] formed as H[j, i] there: the same products and additions)."""
    cdef double xl[7]
    cdef double xo[7]
    cdef double Fl[49]
    cdef double F[49 * NL]
    cdef double FP[49 * NL]
    cdef double H[49 * NL]
    cdef int i, j, l, e
    for l in range(NL):                          # x ← f(x), F its Jacobian, lane by lane
        for e in range(7):
            xl[e] = xv[e * NL + l]
        ct_f(xl, dt, xo, Fl)
        for e in range(7):
            xv[e * NL + l] = xo[e]
        for e in range(49):
            F[e * NL + l] = Fl[e]
    # FP = F P, row i = Σ_l F[i, l] P[l, :] over row i's non-zeros, l increasing
    for j in range(7):
        for l in range(NL):
            e = j * NL + l
            FP[e] = (((0.0 + F[0 * NL + l] * Pv[e]) + F[3 * NL + l] * Pv[21 * NL + e])
                     + F[4 * NL + l] * Pv[28 * NL + e]) + F[6 * NL + l] * Pv[42 * NL + e]
            FP[7 * NL + e] = (((0.0 + F[8 * NL + l] * Pv[7 * NL + e])
                               + F[10 * NL + l] * Pv[21 * NL + e])
                              + F[11 * NL + l] * Pv[28 * NL + e]) \
                + F[13 * NL + l] * Pv[42 * NL + e]
            FP[14 * NL + e] = (0.0 + F[16 * NL + l] * Pv[14 * NL + e]) \
                + F[19 * NL + l] * Pv[35 * NL + e]
            FP[21 * NL + e] = ((0.0 + F[24 * NL + l] * Pv[21 * NL + e])
                               + F[25 * NL + l] * Pv[28 * NL + e]) \
                + F[27 * NL + l] * Pv[42 * NL + e]
            FP[28 * NL + e] = ((0.0 + F[31 * NL + l] * Pv[21 * NL + e])
                               + F[32 * NL + l] * Pv[28 * NL + e]) \
                + F[34 * NL + l] * Pv[42 * NL + e]
            FP[35 * NL + e] = 0.0 + F[40 * NL + l] * Pv[35 * NL + e]
            FP[42 * NL + e] = 0.0 + F[48 * NL + l] * Pv[42 * NL + e]
    # H[j, i] = FPF[i, j] = Σ_l FP[i, l] F[j, l] over row j's non-zeros, l increasing
    for i in range(7):
        for l in range(NL):
            e = i * 7 * NL + l                   # FP[i, 0] of lane l
            H[i * NL + l] = (((0.0 + FP[e] * F[0 * NL + l]) + FP[e + 3 * NL] * F[3 * NL + l])
                             + FP[e + 4 * NL] * F[4 * NL + l]) + FP[e + 6 * NL] * F[6 * NL + l]
            H[(7 + i) * NL + l] = (((0.0 + FP[e + NL] * F[8 * NL + l])
                                    + FP[e + 3 * NL] * F[10 * NL + l])
                                   + FP[e + 4 * NL] * F[11 * NL + l]) \
                + FP[e + 6 * NL] * F[13 * NL + l]
            H[(14 + i) * NL + l] = (0.0 + FP[e + 2 * NL] * F[16 * NL + l]) \
                + FP[e + 5 * NL] * F[19 * NL + l]
            H[(21 + i) * NL + l] = ((0.0 + FP[e + 3 * NL] * F[24 * NL + l])
                                    + FP[e + 4 * NL] * F[25 * NL + l]) \
                + FP[e + 6 * NL] * F[27 * NL + l]
            H[(28 + i) * NL + l] = ((0.0 + FP[e + 3 * NL] * F[31 * NL + l])
                                    + FP[e + 4 * NL] * F[32 * NL + l]) \
                + FP[e + 6 * NL] * F[34 * NL + l]
            H[(35 + i) * NL + l] = 0.0 + FP[e + 5 * NL] * F[40 * NL + l]
            H[(42 + i) * NL + l] = 0.0 + FP[e + 6 * NL] * F[48 * NL + l]
    for i in range(7):                           # M = H + Qᵀ; P = ½(M[i, j] + M[j, i])
        for j in range(7):
            for l in range(NL):
                Pv[(i * 7 + j) * NL + l] = 0.5 * ((H[(i * 7 + j) * NL + l] + qt[i * 7 + j])
                                                  + (H[(j * 7 + i) * NL + l] + qt[j * 7 + i]))


cdef void _imm_mix_predict_soa(double* x, double* P, Py_ssize_t t, int r,
                               const int* dis, const Py_ssize_t* xoff,
                               const Py_ssize_t* poff, const bint* identt,
                               const double[:, ::1] Pi, const double[:, ::1] mu,
                               double[:, ::1] cbar, const long long[::1] kinds,
                               const int* kk, const double* phi, const int* fo,
                               const double* Q, const double* qts,
                               double dt) noexcept nogil:
    """_imm_mix_predict of the NL tracks t … t+NL−1 (see the section comment; the caller
    checked that the bank qualifies)."""
    cdef double Xs[SOA_MAXX * NL]
    cdef double Ps[SOA_MAXP * NL]
    cdef double mx[SOA_MAXX * NL]
    cdef double mP[SOA_MAXP * NL]
    cdef double w[MAXR * NL]
    cdef const double* xsp[MAXR]
    cdef const double* psp[MAXR]
    cdef int so[MAXR]
    cdef int sp[MAXR]
    cdef int i, j, l, e, dj, dd
    cdef double c
    so[0] = 0
    sp[0] = 0
    for j in range(1, r):
        so[j] = so[j - 1] + dis[j - 1] * NL
        sp[j] = sp[j - 1] + dis[j - 1] * dis[j - 1] * NL
    for j in range(r):                           # transpose every model of the block in
        dj = dis[j]
        dd = dj * dj
        xsp[j] = &Xs[so[j]]
        psp[j] = &Ps[sp[j]]
        _soa_in(x + xoff[j] + t * dj, dj, dj, &Xs[so[j]])
        _soa_in(P + poff[j] + t * dd, dd, dd, &Ps[sp[j]])
    for l in range(NL):                          # c̄_j = Σ_i Π_ij μ_i
        for j in range(r):
            c = 0.0
            for i in range(r):
                c += mu[t + l, i] * Pi[i, j]
            cbar[t + l, j] = c
    for j in range(r):                           # mix every model (before any is predicted)
        dj = dis[j]
        for i in range(r):
            for l in range(NL):
                w[i * NL + l] = Pi[i, j] * mu[t + l, i] / cbar[t + l, j]
        if dj == 6:
            _imm_mix_soa(xsp, psp, dis, &identt[j * MAXR], r, w, j, 6, &mx[so[j]],
                         &mP[sp[j]])
        elif dj == 7:
            _imm_mix_soa(xsp, psp, dis, &identt[j * MAXR], r, w, j, 7, &mx[so[j]],
                         &mP[sp[j]])
        else:
            _imm_mix_soa(xsp, psp, dis, &identt[j * MAXR], r, w, j, 9, &mx[so[j]],
                         &mP[sp[j]])
    for j in range(r):                           # predict every model; transpose out
        dj = dis[j]
        dd = dj * dj
        if kinds[j] == 1:
            _imm_ct_predict_soa(&mx[so[j]], &mP[sp[j]], dt, &qts[j * 49])
        elif kk[j] == 2:
            _kf_kron_soa(&mx[so[j]], &mP[sp[j]], 2, &phi[j * 9], Q + fo[j])
        else:
            _kf_kron_soa(&mx[so[j]], &mP[sp[j]], 3, &phi[j * 9], Q + fo[j])
        _soa_out(&mx[so[j]], dj, x + xoff[j] + t * dj, dj)
        _soa_out(&mP[sp[j]], dd, P + poff[j] + t * dd, dd)


cdef void _imm_mix_predict(double* x, double* P, const long long[::1] dims,
                           const long long[:, :, ::1] maps, const double[:, ::1] Pi,
                           const double[:, ::1] mu, double[:, ::1] cbar,
                           const long long[::1] kinds, const double* F, const double* Q,
                           double dt) noexcept nogil:
    cdef Py_ssize_t n = mu.shape[0], t, t0
    cdef int r = <int>dims.shape[0], i, j, a, b, dj, di, dd, l, k
    cdef bint soa
    cdef Py_ssize_t xoff[MAXR]
    cdef Py_ssize_t poff[MAXR]
    cdef int fo[MAXR]
    cdef int nnz[MAXR]
    cdef int kk[MAXR]
    cdef double qts[MAXR * 49]
    cdef double phi[MAXR * 9]
    cdef int nz_i[MAXR * MAXD * MAXD]
    cdef int nz_l[MAXR * MAXD * MAXD]
    cdef double nz_v[MAXR * MAXD * MAXD]
    cdef bint ident[MAXR * MAXR]
    cdef bint lead[MAXR * MAXR]
    cdef bint identt[MAXR * MAXR]
    cdef bint fastj[MAXR]
    cdef int dis[MAXR]
    cdef const double* cxp[MAXR]
    cdef const double* cpp[MAXR]
    cdef int ct_i[CT_NNZ]
    cdef int ct_l[CT_NNZ]
    cdef int ns[MAXR * MAXR]
    cdef int no[MAXR * MAXR]
    cdef int sh_a[MAXR * MAXR * MAXD]
    cdef int sh_s[MAXR * MAXR * MAXD]
    cdef int ow[MAXR * MAXR * MAXD]
    cdef double w[MAXR]
    cdef double c, wi
    cdef double x0[MAXD]
    cdef double cxs[MAXR * MAXD]
    cdef double mx[MAXR * MAXD]
    cdef double mP[MAXR * MAXD * MAXD]
    cdef double* P0
    cdef double* pm
    cdef double A0[MAXD * MAXD]
    cdef const double* xi
    cdef const double* xj
    cdef const double* pj
    cdef const double* cx
    cdef const double* cP
    cdef double s
    xoff[0] = 0
    poff[0] = 0
    fo[0] = 0
    for j in range(1, r):
        xoff[j] = xoff[j - 1] + n * dims[j - 1]
        poff[j] = poff[j - 1] + n * dims[j - 1] * dims[j - 1]
        fo[j] = fo[j - 1] + <int>(dims[j - 1] * dims[j - 1])
    for i in range(r):
        for j in range(r):
            ident[i * MAXR + j] = dims[i] == dims[j]
            for a in range(dims[j]):
                if maps[i, j, a] != a:
                    ident[i * MAXR + j] = False
    for j in range(r):                           # the linear models' F by its non-zeros
        dj = <int>dims[j]
        nnz[j] = 0
        kk[j] = 0
        if kinds[j] == 1:                        # CT: Qᵀ (see _imm_ct_predict_rows)
            for a in range(7):
                for l in range(7):
                    qts[j * 49 + a * 7 + l] = Q[fo[j] + l * 7 + a]
        if kinds[j] == 0:
            kk[j] = _kf_kron_phi(F + fo[j], dj, &phi[j * 9])
            for a in range(dj):
                for l in range(dj):
                    if F[fo[j] + a * dj + l] != 0.0:
                        k = j * MAXD * MAXD + nnz[j]
                        nz_i[k] = a
                        nz_l[k] = l
                        nz_v[k] = F[fo[j] + a * dj + l]
                        nnz[j] += 1
    k = 0                                        # the CT Jacobian's structural non-zeros
    for a in range(7):
        for l in range(7):
            if (a == l and a != 3 and a != 4) or (a < 2 and (l == 3 or l == 4 or l == 6)) \
                    or (a == 2 and l == 5) or ((a == 3 or a == 4) and l >= 3 and l != 5):
                ct_i[k] = a
                ct_l[k] = l
                k += 1
    for i in range(r):                           # compact index lists (see _mix_acc_blocks)
        for j in range(r):
            ns[i * MAXR + j] = 0
            no[i * MAXR + j] = 0
            lead[i * MAXR + j] = True
            for a in range(dims[j]):
                if maps[i, j, a] >= 0 and (maps[i, j, a] != a or
                                           (a > 0 and maps[i, j, a - 1] < 0)):
                    lead[i * MAXR + j] = False      # not shared 0 … ns−1, then own
            for a in range(dims[j]):
                k = (i * MAXR + j) * MAXD
                if maps[i, j, a] >= 0:
                    sh_a[k + ns[i * MAXR + j]] = a
                    sh_s[k + ns[i * MAXR + j]] = <int>maps[i, j, a]
                    ns[i * MAXR + j] += 1
                else:
                    ow[k + no[i * MAXR + j]] = a
                    no[i * MAXR + j] += 1
    for j in range(r):                           # row-wise mixing applies (_imm_mix_rows)
        fastj[j] = dims[j] >= 6
        dis[j] = <int>dims[j]
        for i in range(r):
            identt[j * MAXR + i] = ident[i * MAXR + j]
            if not (ident[i * MAXR + j] or (lead[i * MAXR + j] and ns[i * MAXR + j] == 6)):
                fastj[j] = False
    # blocks of NL tracks when the whole bank qualifies (see _imm_mix_predict_soa)
    soa = XB_SOA and r <= MAXR
    a = 0
    b = 0
    for j in range(r):
        a += dis[j]
        b += dis[j] * dis[j]
        if not (fastj[j] and ((kinds[j] == 1 and dis[j] == 7)
                              or (kinds[j] == 0 and kk[j] * 3 == dis[j]))):
            soa = False
    t0 = 0
    if soa and a <= SOA_MAXX and b <= SOA_MAXP:
        while t0 + NL <= n:
            _imm_mix_predict_soa(x, P, t0, r, dis, xoff, poff, identt, Pi, mu, cbar, kinds,
                                 kk, phi, fo, Q, qts, dt)
            t0 += NL
    for t in range(t0, n):
        for j in range(r):                       # c̄_j = Σ_i Π_ij μ_i
            c = 0.0
            for i in range(r):
                c += mu[t, i] * Pi[i, j]
            cbar[t, j] = c
        for j in range(r):                       # mix every model into mx, mP (_imm_mix)
            dj = <int>dims[j]
            dd = dj * dj
            xj = x + xoff[j] + t * dj
            pj = P + poff[j] + t * dd
            for i in range(r):
                w[i] = Pi[i, j] * mu[t, i] / cbar[t, j]
            for a in range(dj):
                x0[a] = 0.0
            for i in range(r):
                di = <int>dims[i]
                xi = x + xoff[i] + t * di
                if ident[i * MAXR + j]:
                    cx = xi
                else:
                    k = (i * MAXR + j) * MAXD
                    cx = &cxs[i * MAXD]
                    for a in range(ns[i * MAXR + j]):
                        cxs[i * MAXD + sh_a[k + a]] = xi[sh_s[k + a]]
                    for a in range(no[i * MAXR + j]):
                        cxs[i * MAXD + ow[k + a]] = xj[ow[k + a]]
                wi = w[i]
                for a in range(dj):
                    x0[a] += wi * cx[a]
            P0 = &mP[j * MAXD * MAXD]
            if fastj[j]:                         # every model i in j's space or leading
                for i in range(r):
                    di = <int>dims[i]
                    cxp[i] = x + xoff[i] + t * di if ident[i * MAXR + j] else &cxs[i * MAXD]
                    cpp[i] = P + poff[i] + t * di * di
                P0 = A0                          # (sum into A0, symmetrised into mP below)
                if dj == 6:
                    _imm_mix_rows(cxp, cpp, dis, &identt[j * MAXR], r, w, x0, pj, 6, P0)
                elif dj == 7:
                    _imm_mix_rows(cxp, cpp, dis, &identt[j * MAXR], r, w, x0, pj, 7, P0)
                elif dj == 9:
                    _imm_mix_rows(cxp, cpp, dis, &identt[j * MAXR], r, w, x0, pj, 9, P0)
                else:
                    _imm_mix_rows(cxp, cpp, dis, &identt[j * MAXR], r, w, x0, pj, dj, P0)
            else:
                for a in range(dd):
                    P0[a] = 0.0
            for i in range(r):
                if fastj[j]:
                    break
                di = <int>dims[i]
                if not ident[i * MAXR + j] and lead[i * MAXR + j] \
                        and ns[i * MAXR + j] == 6:
                    xi = &cxs[i * MAXD]
                    cP = P + poff[i] + t * di * di
                    if dj == 6:
                        _imm_mix_acc_lead(xi, cP, di, pj, 6, 6, x0, w[i], P0)
                    elif dj == 7:
                        _imm_mix_acc_lead(xi, cP, di, pj, 7, 6, x0, w[i], P0)
                    elif dj == 9:
                        _imm_mix_acc_lead(xi, cP, di, pj, 9, 6, x0, w[i], P0)
                    else:
                        _imm_mix_acc_lead(xi, cP, di, pj, dj, 6, x0, w[i], P0)
                    continue
                if not ident[i * MAXR + j]:
                    k = (i * MAXR + j) * MAXD
                    _mix_acc_blocks(&cxs[i * MAXD], P + poff[i] + t * di * di, di, pj, dj,
                                    ns[i * MAXR + j], &sh_a[k], &sh_s[k], no[i * MAXR + j],
                                    &ow[k], x0, w[i], P0)
                    continue
                cx = x + xoff[i] + t * di
                cP = P + poff[i] + t * di * di
                if dj == 6:
                    _mix_acc(cx, cP, x0, w[i], 6, P0)
                elif dj == 7:
                    _mix_acc(cx, cP, x0, w[i], 7, P0)
                elif dj == 9:
                    _mix_acc(cx, cP, x0, w[i], 9, P0)
                else:
                    _mix_acc(cx, cP, x0, w[i], dj, P0)
            for a in range(dj):
                mx[j * MAXD + a] = x0[a]
            if fastj[j]:                         # sym into mP, every element (the pair's
                pm = &mP[j * MAXD * MAXD]        # sum commutes: the same two values)
                if dj == 6:
                    _imm_sym_into(A0, pm, 6)
                elif dj == 7:
                    _imm_sym_into(A0, pm, 7)
                elif dj == 9:
                    _imm_sym_into(A0, pm, 9)
                else:
                    _imm_sym_into(A0, pm, dj)
                continue
            for a in range(dj):                  # sym, in place (each pair read once)
                for b in range(a, dj):
                    s = 0.5 * (P0[a * dj + b] + P0[b * dj + a])
                    P0[a * dj + b] = s
                    P0[b * dj + a] = s
        for j in range(r):                       # predict each mixed model, write back
            dj = <int>dims[j]
            if kinds[j] == 1:
                _imm_ct_predict_rows(&mx[j * MAXD], &mP[j * MAXD * MAXD], dt, &qts[j * 49],
                                     x + xoff[j] + t * dj, P + poff[j] + t * dj * dj)
            elif kk[j] == 2:
                _kf_kron_predict1(&mx[j * MAXD], &mP[j * MAXD * MAXD], 2, &phi[j * 9],
                                  Q + fo[j], x + xoff[j] + t * dj, P + poff[j] + t * dj * dj)
            elif kk[j] == 3:
                _kf_kron_predict1(&mx[j * MAXD], &mP[j * MAXD * MAXD], 3, &phi[j * 9],
                                  Q + fo[j], x + xoff[j] + t * dj, P + poff[j] + t * dj * dj)
            elif dj == 6:
                _lin_predict1(&mx[j * MAXD], &mP[j * MAXD * MAXD], 6, nnz[j],
                              &nz_i[j * MAXD * MAXD], &nz_l[j * MAXD * MAXD],
                              &nz_v[j * MAXD * MAXD], Q + fo[j],
                              x + xoff[j] + t * dj, P + poff[j] + t * dj * dj)
            elif dj == 9:
                _lin_predict1(&mx[j * MAXD], &mP[j * MAXD * MAXD], 9, nnz[j],
                              &nz_i[j * MAXD * MAXD], &nz_l[j * MAXD * MAXD],
                              &nz_v[j * MAXD * MAXD], Q + fo[j],
                              x + xoff[j] + t * dj, P + poff[j] + t * dj * dj)
            else:
                _lin_predict1(&mx[j * MAXD], &mP[j * MAXD * MAXD], dj, nnz[j],
                              &nz_i[j * MAXD * MAXD], &nz_l[j * MAXD * MAXD],
                              &nz_v[j * MAXD * MAXD], Q + fo[j],
                              x + xoff[j] + t * dj, P + poff[j] + t * dj * dj)


