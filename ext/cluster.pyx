# cython: language_level=3
"""Connected components of CFAR crossings, their peaks and centroids.
Twin: xband/reference/cluster.py (connectivity, numbering and outputs documented there)."""
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
