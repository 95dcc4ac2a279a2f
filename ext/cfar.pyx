# cython: language_level=3
"""2-D CFAR (CA, GO, SO in O(1) per cell; OS by selection). Twin: xband/reference/cfar.py
(window geometry, edge policy, noise estimates and outputs are documented there)."""
from libc.stdint cimport int64_t

cdef enum:
    CA = 0
    GO = 1
    SO = 2
    OS = 3


cdef double _select(double* a, Py_ssize_t n, Py_ssize_t k) noexcept nogil:
    """k-th smallest (0-based) of a[0:n], in place (Wirth's selection)."""
    cdef Py_ssize_t l = 0, m = n - 1, i, j
    cdef double x, t
    while l < m:
        x = a[k]
        i = l
        j = m
        while True:
            while a[i] < x:
                i += 1
            while x < a[j]:
                j -= 1
            if i <= j:
                t = a[i]; a[i] = a[j]; a[j] = t
                i += 1
                j -= 1
            if i > j:
                break
        if j < k:
            l = i
        if k < i:
            m = j
    return a[k]


cdef Py_ssize_t _cfar_2d(const float[:, ::1] power, int gr, int gd, int tr, int td, int mode,
                         double alpha, int rank, Py_ssize_t r_lo, Py_ssize_t r_hi,
                         double[:, ::1] work, int64_t[::1] out_idx,
                         double[::1] out_noise) noexcept nogil:
    cdef Py_ssize_t M = power.shape[0], Nr = power.shape[1], cap = out_idx.shape[0]
    cdef int wr = gr + tr, wd = gd + td
    cdef Py_ssize_t N = (2 * wr + 1) * (2 * wd + 1) - (2 * gr + 1) * (2 * gd + 1)
    cdef Py_ssize_t half = N // 2
    cdef Py_ssize_t lo = r_lo if r_lo > wr else wr
    cdef Py_ssize_t hi = r_hi if r_hi < Nr - wr else Nr - wr
    cdef Py_ssize_t d, r, dd, k, cnt = 0, row_a, row_s
    cdef double* SW = &work[0, 0]
    cdef double* SG = &work[1, 0]
    cdef double* HL = &work[2, 0]
    cdef double* A = &work[3, 0]
    cdef double* B = &work[4, 0]
    cdef double* buf = &work[0, 0]
    cdef double total, lower, upper, Z, acc_a, acc_b, pv, inv_n = 1.0 / N, inv_h
    cdef const float* prow
    cdef const float* pa
    cdef const float* ps
    cdef Py_ssize_t dr, q
    if hi <= lo:
        return 0
    inv_h = 1.0 / half if half > 0 else 0.0
    if mode == OS:
        for d in range(M):
            prow = &power[d, 0]
            for r in range(lo, hi):
                k = 0
                for dd in range(-wd, wd + 1):
                    q = (d + dd) % M
                    if q < 0:
                        q += M
                    pa = &power[q, 0]
                    for dr in range(-wr, wr + 1):
                        if -gd <= dd <= gd and -gr <= dr <= gr:
                            continue
                        buf[k] = pa[r + dr]
                        k += 1
                Z = _select(buf, N, rank - 1)
                pv = prow[r]
                if pv > alpha * Z:
                    if cnt < cap:
                        out_idx[cnt] = d * Nr + r
                        out_noise[cnt] = Z
                    cnt += 1
        return cnt
    # ---- CA / GO / SO: Doppler box sums for row 0, then incremental updates
    for r in range(Nr):
        SW[r] = 0.0
        SG[r] = 0.0
        HL[r] = 0.0
    for dd in range(-wd, wd + 1):
        q = dd % M
        if q < 0:
            q += M
        pa = &power[q, 0]
        for r in range(Nr):
            SW[r] += pa[r]
            if -gd <= dd <= gd:
                SG[r] += pa[r]
            if dd < -gd:
                HL[r] += pa[r]
    for d in range(M):
        if d > 0:
            # SW: add row d+wd, drop row d-1-wd; SG likewise with gd; HL spans [d-wd, d-gd-1]
            row_a = (d + wd) % M
            row_s = (d - 1 - wd) % M
            if row_s < 0:
                row_s += M
            pa = &power[row_a, 0]
            ps = &power[row_s, 0]
            for r in range(Nr):
                SW[r] += <double>pa[r] - <double>ps[r]
            row_a = (d + gd) % M
            row_s = (d - 1 - gd) % M
            if row_s < 0:
                row_s += M
            pa = &power[row_a, 0]
            ps = &power[row_s, 0]
            for r in range(Nr):
                SG[r] += <double>pa[r] - <double>ps[r]
            if td > 0:
                row_a = (d - gd - 1) % M
                if row_a < 0:
                    row_a += M
                row_s = (d - 1 - wd) % M
                if row_s < 0:
                    row_s += M
                pa = &power[row_a, 0]
                ps = &power[row_s, 0]
                for r in range(Nr):
                    HL[r] += <double>pa[r] - <double>ps[r]
        acc_a = 0.0
        acc_b = 0.0
        A[0] = 0.0
        B[0] = 0.0
        for r in range(Nr):
            acc_a += SW[r]
            acc_b += SG[r]
            A[r + 1] = acc_a
            B[r + 1] = acc_b
        prow = &power[d, 0]
        for r in range(lo, hi):
            total = (A[r + wr + 1] - A[r - wr]) - (B[r + gr + 1] - B[r - gr])
            if mode == CA:
                Z = total * inv_n
            else:
                lower = (A[r] - A[r - wr]) - (B[r] - B[r - gr]) + HL[r]
                upper = total - lower
                if mode == GO:
                    Z = (lower if lower > upper else upper) * inv_h
                else:
                    Z = (lower if lower < upper else upper) * inv_h
            pv = prow[r]
            if pv > alpha * Z:
                if cnt < cap:
                    out_idx[cnt] = d * Nr + r
                    out_noise[cnt] = Z
                cnt += 1
    return cnt


def cfar_2d(const float[:, ::1] power, int guard_r, int guard_d, int train_r, int train_d,
            int mode, double alpha, int rank, Py_ssize_t r_lo, Py_ssize_t r_hi,
            double[:, ::1] work, int64_t[::1] out_idx, double[::1] out_noise):
    """Crossings of the 2-D CFAR → out_idx, out_noise; returns their total count."""
    cdef Py_ssize_t n
    with nogil:
        n = _cfar_2d(power, guard_r, guard_d, train_r, train_d, mode, alpha, rank, r_lo,
                     r_hi, work, out_idx, out_noise)
    return n
