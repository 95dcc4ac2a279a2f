# cython: language_level=3
"""Connected components of CFAR crossings, their peaks and centroids.
Twin: xband/reference/cluster.py (connectivity, numbering and outputs documented there)."""
from libc.math cimport copysign, fmod
from libc.stdint cimport int64_t


cdef inline Py_ssize_t _find(int64_t* parent, Py_ssize_t i) noexcept nogil:
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


cdef inline Py_ssize_t _search(const int64_t* a, Py_ssize_t n, int64_t v) noexcept nogil:
    """Index of v in the sorted a[0:n], or -1."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    if lo < n and a[lo] == v:
        return lo
    return -1


cdef Py_ssize_t _cluster_peaks(const float[:, ::1] power, const int64_t[::1] idx,
                               int64_t[::1] label, int64_t[::1] peak, int64_t[::1] size,
                               double[:, ::1] centroid) noexcept nogil:
    cdef Py_ssize_t n = idx.shape[0], Nr = power.shape[1], M = power.shape[0]
    cdef Py_ssize_t i, j, a, b, c, nc = 0, k
    cdef int64_t d, r, rr, dd
    cdef int t
    cdef int DD[4]
    cdef int DR[4]
    cdef const float* pw = &power[0, 0]
    cdef int64_t* parent = &label[0] if n > 0 else NULL
    cdef double w, x
    if n == 0:
        return 0
    DD[0] = 0; DR[0] = -1
    DD[1] = -1; DR[1] = -1
    DD[2] = -1; DR[2] = 0
    DD[3] = -1; DR[3] = 1
    for i in range(n):
        parent[i] = i
    for i in range(n):
        d = idx[i] // Nr
        r = idx[i] - d * Nr
        for t in range(4):
            dd = d + DD[t]
            rr = r + DR[t]
            if dd < 0 or rr < 0 or rr >= Nr:
                continue
            j = _search(&idx[0], i, dd * Nr + rr)
            if j >= 0:
                a = _find(parent, i)
                b = _find(parent, j)
                if a != b:
                    if a < b:
                        parent[b] = a
                    else:
                        parent[a] = b
    if M > 2:                                # Doppler is circular: row M − 1 touches row 0
        i = n - 1
        while i >= 0 and idx[i] >= (M - 1) * Nr:
            r = idx[i] - (M - 1) * Nr
            for rr in range(r - 1, r + 2):
                if rr < 0 or rr >= Nr:
                    continue
                j = _search(&idx[0], n, rr)
                if j >= 0:
                    a = _find(parent, i)
                    b = _find(parent, j)
                    if a != b:
                        if a < b:
                            parent[b] = a
                        else:
                            parent[a] = b
            i -= 1
    for i in range(n):                       # full compression: parent = root (< i or i)
        parent[i] = _find(parent, i)
    for i in range(n):                       # roots become ids, in order of first index
        if parent[i] == i:
            parent[i] = nc
            size[nc] = 0
            nc += 1
        else:
            parent[i] = parent[parent[i]]
    for c in range(nc):
        size[c] = 0
        peak[c] = -1
        centroid[c, 0] = 0.0
        centroid[c, 1] = 0.0
        centroid[c, 2] = 0.0
    for i in range(n):
        c = parent[i]
        k = idx[i]
        size[c] += 1
        if peak[c] < 0 or pw[k] > pw[peak[c]]:
            peak[c] = k
    for i in range(n):                       # Doppler offsets from the peak, wrapped
        c = parent[i]
        k = idx[i]
        w = pw[k]
        d = k // Nr
        r = k - d * Nr
        dd = d - peak[c] // Nr
        if M > 2:
            if 2 * dd >= M:
                dd -= M
            elif 2 * dd < -M:
                dd += M
        centroid[c, 0] += w * dd
        centroid[c, 1] += w * r
        centroid[c, 2] += w
    for c in range(nc):
        x = <double>(peak[c] // Nr) + centroid[c, 0] / centroid[c, 2]
        if x < 0.0:
            x += M
        elif x >= M:
            x -= M
        centroid[c, 0] = x
        centroid[c, 1] /= centroid[c, 2]
    return nc


def cluster_peaks(const float[:, ::1] power, const int64_t[::1] idx, int64_t[::1] label,
                  int64_t[::1] peak, int64_t[::1] size, double[:, ::1] centroid):
    """Components of the crossings idx → label, peak, size, centroid; returns their count."""
    cdef Py_ssize_t n
    with nogil:
        n = _cluster_peaks(power, idx, label, peak, size, centroid)
    return n


# ------------------------------------------------------------------ per-CPI peak work
# The chain's glue after clustering in two calls (and one np.log between them): the same
# operations in the same order as the numpy code they replace (xband/reference/cluster.py
# documents each; the twin *is* that code), so the same bits. Scalars are computed by the
# caller exactly as the numpy expressions did (e.g. vbin ** 2 in Python).

cdef inline Py_ssize_t _wrap(Py_ssize_t i, Py_ssize_t n) noexcept nogil:
    if i < 0:
        return i + n
    if i >= n:
        return i - n
    return i


cdef Py_ssize_t _peak_cells(const float[:, ::1] power, const int64_t[::1] peak, double noise,
                            double min_snr, bint blank, int64_t ext, double psl_r,
                            double psl_d, int64_t[::1] sel, int64_t[::1] d, int64_t[::1] r,
                            double[::1] snr, float[::1] nb) noexcept nogil:
    cdef Py_ssize_t nc = peak.shape[0], Nr = power.shape[1], M = power.shape[0]
    cdef Py_ssize_t i, j, k = 0, nk = 0
    cdef int64_t di, ri, dd, dr
    cdef double v, pi, ratio
    cdef const float* pw = &power[0, 0]
    cdef bint hit
    for i in range(nc):                      # d, r = divmod(peak, Nr); snr; keep
        di = peak[i] // Nr
        d[i] = di
        r[i] = peak[i] - di * Nr
        v = <double>pw[peak[i]] / noise - 1.0
        if not (v < 1e-3):                   # np.maximum: NaN propagates
            snr[i] = v
        else:
            snr[i] = 1e-3
        sel[i] = 1 if snr[i] >= min_snr else 0
        nk += sel[i]
    if blank and nk > 1:                     # sidelobes of a stronger cluster (any j)
        for i in range(nc):
            if not sel[i]:
                continue
            pi = <double>pw[peak[i]]
            hit = False
            for j in range(nc):
                dd = d[i] - d[j]
                if dd < 0:
                    dd = -dd
                if M - dd < dd:
                    dd = M - dd
                dr = r[i] - r[j]
                if dr < 0:
                    dr = -dr
                ratio = pi / <double>pw[peak[j]]
                if ((dd <= 1 and dr > 0 and dr <= ext and ratio < psl_r)
                        or (dr <= 1 and dd > 0 and ratio < psl_d)):
                    hit = True
                    break
            if hit:
                sel[i] = 0
    for i in range(nc):                      # compact (k ≤ i: in place)
        if sel[i]:
            sel[k] = i
            d[k] = d[i]
            r[k] = r[i]
            snr[k] = snr[i]
            k += 1
    for i in range(k):                       # the interpolation's neighbours, [6][k]
        di = d[i]
        ri = r[i]
        nb[i] = pw[di * Nr + _wrap(ri - 1, Nr)]
        nb[k + i] = pw[di * Nr + ri]
        nb[2 * k + i] = pw[di * Nr + _wrap(ri + 1, Nr)]
        nb[3 * k + i] = pw[_wrap(di - 1, M) * Nr + ri]
        nb[4 * k + i] = pw[di * Nr + ri]
        nb[5 * k + i] = pw[_wrap(di + 1, M) * Nr + ri]
    return k


def peak_cells(const float[:, ::1] power, const int64_t[::1] peak, double noise,
               double min_snr, bint blank, int64_t ext, double psl_r, double psl_d,
               int64_t[::1] sel, int64_t[::1] d, int64_t[::1] r, double[::1] snr,
               float[::1] nb):
    """Cluster peaks → the kept ones (SNR ≥ min_snr, not a sidelobe) and their
    interpolation neighbours; returns their count k (see the twin)."""
    cdef Py_ssize_t k, n = peak.shape[0]
    if sel.shape[0] < n or d.shape[0] < n or r.shape[0] < n or snr.shape[0] < n \
            or nb.shape[0] < 6 * n:
        raise ValueError("peak_cells: output buffers shorter than the peaks")
    with nogil:
        k = _peak_cells(power, peak, noise, min_snr, blank, ext, psl_r, psl_d, sel, d, r,
                        snr, nb)
    return k


cdef inline float _log_parabola(float lm, float l0, float lp) noexcept nogil:
    # float32 throughout, as numpy does it on the float32 logs (a C double literal would
    # promote: the constants are floats)
    cdef float two = 2.0, half = 0.5
    cdef float den = (lm - two * l0) + lp
    cdef float x = 0.0
    if den < 0:
        x = (half * (lm - lp)) / den
    if x < -0.5:                             # np.clip: NaN propagates
        return -0.5
    if x > 0.5:
        return 0.5
    return x


cdef void _peak_estimates(const float[::1] lg, const int64_t[::1] d, const int64_t[::1] r,
                          const double[::1] snr, Py_ssize_t M, double prf, double c_rr,
                          double v_min, double period, double gate_m, double couple,
                          double t_mid, double kd, double bd, double vbin2, double kr,
                          double br, double gm2, double c2, double[:, ::1] out) noexcept nogil:
    cdef Py_ssize_t k = d.shape[0], i
    cdef float dr, dd
    cdef double f, rr, mod, rng_mid, var_v, half = M / 2.0
    for i in range(k):
        dr = _log_parabola(lg[i], lg[k + i], lg[2 * k + i])
        dd = _log_parabola(lg[3 * k + i], lg[4 * k + i], lg[5 * k + i])
        f = (<double>d[i] + <double>dd - half) * prf / <double>M
        rr = c_rr * f
        mod = fmod(rr - v_min, period)       # np.mod (npy_divmod's remainder)
        if period == 0.0:
            pass
        elif mod != 0.0:
            if (period < 0) != (mod < 0):
                mod += period
        else:
            mod = copysign(0.0, period)
        rr = v_min + mod
        rng_mid = (<double>r[i] + <double>dr) * gate_m - couple * rr
        var_v = (kd / snr[i] + bd) * vbin2
        out[0, i] = rng_mid - rr * t_mid
        out[1, i] = rr
        out[2, i] = (kr / snr[i] + br) * gm2 + c2 * var_v
        out[3, i] = var_v


def peak_estimates(const float[::1] lg, const int64_t[::1] d, const int64_t[::1] r,
                   const double[::1] snr, Py_ssize_t M, double prf, double c_rr, double v_min,
                   double period, double gate_m, double couple, double t_mid, double kd,
                   double bd, double vbin2, double kr, double br, double gm2, double c2,
                   double[:, ::1] out):
    """ln of the neighbours [6][k] → out [4, k]: range at t, range rate, their variances."""
    cdef Py_ssize_t k = d.shape[0]
    if lg.shape[0] < 6 * k or r.shape[0] < k or snr.shape[0] < k or out.shape[0] < 4 \
            or out.shape[1] < k:
        raise ValueError("peak_estimates: buffers shorter than the peaks")
    with nogil:
        _peak_estimates(lg, d, r, snr, M, prf, c_rr, v_min, period, gate_m, couple, t_mid,
                        kd, bd, vbin2, kr, br, gm2, c2, out)


cdef Py_ssize_t _sub_gather(const float[:, ::1] power, Py_ssize_t lo, Py_ssize_t hi,
                            Py_ssize_t step, float[::1] work) noexcept nogil:
    cdef Py_ssize_t M = power.shape[0], Nr = power.shape[1], p = 0, c, n = 0
    cdef const float* row
    cdef float* w = &work[0]
    while p < M:                             # range() with a variable step needs the GIL
        row = &power[0, 0] + p * Nr
        c = lo
        while c < hi:
            w[n] = row[c]
            n += 1
            c += step
        p += step
    return n


def sub_gather(const float[:, ::1] power, Py_ssize_t lo, Py_ssize_t hi, Py_ssize_t step,
               float[::1] work):
    """power[:, lo:hi][::step, ::step] in row-major order → work[:n]; returns n (the
    chain's noise level is the median of that subsample, by numpy's partition)."""
    cdef Py_ssize_t M = power.shape[0], n
    if step < 1 or lo < 0 or hi > power.shape[1] or hi <= lo or M < 1:
        raise ValueError(f"sub_gather: bad window [{lo}, {hi}) step {step}")
    n = ((M + step - 1) // step) * ((hi - lo + step - 1) // step)
    if work.shape[0] < n:
        raise ValueError(f"sub_gather: work holds {work.shape[0]} < {n} cells")
    with nogil:
        n = _sub_gather(power, lo, hi, step, work)
    return n
