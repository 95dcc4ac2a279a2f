# The cdef core of ext/assign.pyx (included there and by ext/scan.pyx): no `def`.
#
# Sparse optimal assignment with a miss cost per row (GNN data association):
#
#     minimise  Σ_{i assigned to j} c_ij  +  Σ_{i unassigned} miss_i
#
# over one-to-one assignments of n rows (tracks) to k columns (detections), where only
# the listed pairs exist (CSR: row i's columns cols[row_ptr[i]:row_ptr[i+1]] with costs
# cost[...]) and a pair whose cost is not finite or not < miss_i is never taken. This is
# the optimum of scipy's linear_sum_assignment on [C | diag(miss)] (C = +big off the
# pairs): each row i has its own dummy column k + i of cost miss_i, which keeps every row
# feasible and never competes with another row.
#
# Algorithm: shortest augmenting paths with dual potentials (Jonker & Volgenant 1987;
# Crouse 2016, "On implementing 2D rectangular assignment algorithms", which is scipy's
# rectangular_lsap.cpp), with the dense O(k) column scans replaced by Dijkstra over the
# sparse graph with an indexed binary heap. Rows are added one at a time; the search from
# a new row s stops at the first free column popped, at the latest at s's own dummy
# column (distance ≤ miss_s), so it only touches the part of s's connected component
# reachable within that distance; the dual update, the augmentation and the reset of the
# search arrays walk only the columns the search touched. Hence no explicit split into
# connected components is needed: the global solve is already per component in effect,
# O(E log E) per search over the E pairs it touches, and near-linear overall for the
# usual gate graph (most rows with 0–3 candidate columns).
#
# Dual invariant (rows already added): u_i + v_j ≤ c_ij on every pair worth taking,
# equality on the assigned ones, so the reduced costs c_ij − u_i − v_j seen by Dijkstra
# beyond the source row are ≥ 0 (the source row's own pairs may be of any sign).
#
# Ties: the heap pops the smallest distance, then a free column before an assigned one
# (the search ends sooner; scipy does the same), then the smallest column index; rows are
# added in index order. So the result is deterministic (a function of the input arrays
# only); among several optima it is not necessarily scipy's pick. A pair with
# c == miss is never taken.
#
# Names: everything here is prefixed assign_/_assign_/ASSIGN_ (it shares the includer's
# namespace).
#
# No allocation: the caller passes the workspace (assign_work_sizes gives its lengths).

from libc.math cimport isfinite, INFINITY

cdef enum:
    ASSIGN_BAD_ROW_PTR = -1     # row_ptr not non-decreasing from ≥ 0
    ASSIGN_BAD_COLUMN = -2      # a column index outside [0, k)
    ASSIGN_BAD_MISS = -3        # a miss cost that is not finite


cdef inline void assign_work_sizes(Py_ssize_t n, Py_ssize_t k, Py_ssize_t npairs,
                                   Py_ssize_t* nwork, Py_ssize_t* niwork) noexcept nogil:
    """Workspace lengths of assign_sparse: doubles u (n), v and dist (k + n each); indices
    row4col, pred, heap, heap position and touched list (k + n each). npairs is not
    needed (the heap holds each column at most once) but kept for the contract."""
    nwork[0] = n + 2 * (k + n)
    niwork[0] = 5 * (k + n)


cdef inline bint _assign_heap_less(Py_ssize_t a, Py_ssize_t b, const double* dist,
                            const Py_ssize_t* row4col) noexcept nogil:
    # order of the search: distance, then free before assigned, then column index
    if dist[a] < dist[b]:
        return True
    if dist[a] > dist[b]:
        return False
    if (row4col[a] < 0) != (row4col[b] < 0):
        return row4col[a] < 0
    return a < b


cdef inline void _assign_heap_up(Py_ssize_t* heap, Py_ssize_t* pos, Py_ssize_t h,
                          const double* dist, const Py_ssize_t* row4col) noexcept nogil:
    cdef Py_ssize_t j = heap[h]
    cdef Py_ssize_t parent, pj
    while h > 0:
        parent = (h - 1) >> 1
        pj = heap[parent]
        if not _assign_heap_less(j, pj, dist, row4col):
            break
        heap[h] = pj
        pos[pj] = h
        h = parent
    heap[h] = j
    pos[j] = h


cdef inline Py_ssize_t _assign_heap_pop(Py_ssize_t* heap, Py_ssize_t* pos, Py_ssize_t* size,
                                 const double* dist, const Py_ssize_t* row4col) noexcept nogil:
    cdef Py_ssize_t top = heap[0]
    cdef Py_ssize_t m = size[0] - 1
    cdef Py_ssize_t j, h, c, cj
    size[0] = m
    if m > 0:
        j = heap[m]                       # sift the last element down from the root
        h = 0
        while True:
            c = 2 * h + 1
            if c >= m:
                break
            if c + 1 < m and _assign_heap_less(heap[c + 1], heap[c], dist, row4col):
                c += 1
            cj = heap[c]
            if not _assign_heap_less(cj, j, dist, row4col):
                break
            heap[h] = cj
            pos[cj] = h
            h = c
        heap[h] = j
        pos[j] = h
    return top


cdef Py_ssize_t assign_sparse(Py_ssize_t n, Py_ssize_t k, const Py_ssize_t* row_ptr,
                              const Py_ssize_t* cols, const double* cost, const double* miss,
                              Py_ssize_t* row_to_col, double* work,
                              Py_ssize_t* iwork) noexcept nogil:
    """Optimal assignment (see the header). row_to_col[i] ← the column of row i or −1;
    returns the number of assigned rows, or a negative ASSIGN_BAD_* code (nothing
    solved, row_to_col all −1) when row_ptr, a column index or a miss cost is invalid."""
    cdef Py_ssize_t m = k + n             # columns: k real, then row i's dummy at k + i
    cdef Py_ssize_t i, j, p, s, sink, size, h, nt, t, r, nassigned
    cdef double c, d, minval, ui, di
    cdef double* u = work
    cdef double* v = work + n
    cdef double* dist = work + n + m
    cdef Py_ssize_t* row4col = iwork
    cdef Py_ssize_t* pred = iwork + m
    cdef Py_ssize_t* heap = iwork + 2 * m
    cdef Py_ssize_t* pos = iwork + 3 * m   # −1 untouched, −2 popped, ≥ 0 heap slot
    cdef Py_ssize_t* touched = iwork + 4 * m

    for i in range(n):
        row_to_col[i] = -1
    if n == 0:
        return 0
    # validate (O(n + pairs)) before writing anything else
    if row_ptr[0] < 0:
        return ASSIGN_BAD_ROW_PTR
    for i in range(n):
        if row_ptr[i + 1] < row_ptr[i]:
            return ASSIGN_BAD_ROW_PTR
        if not isfinite(miss[i]):
            return ASSIGN_BAD_MISS
    for p in range(row_ptr[0], row_ptr[n]):
        if cols[p] < 0 or cols[p] >= k:
            return ASSIGN_BAD_COLUMN

    for i in range(n):
        u[i] = 0.0
    for j in range(m):
        v[j] = 0.0
        dist[j] = INFINITY
        row4col[j] = -1
        pos[j] = -1

    for s in range(n):
        # ---- Dijkstra from the new row s over reduced costs c_ij − u_i − v_j
        nt = 0
        size = 0
        minval = 0.0
        i = s
        sink = -1
        while True:
            # relax row i's pairs worth taking and its dummy column
            ui = u[i]
            for p in range(row_ptr[i], row_ptr[i + 1] + 1):
                if p < row_ptr[i + 1]:
                    j = cols[p]
                    c = cost[p]
                    if not (c < miss[i]) or not isfinite(c):   # NaN, ±inf, ≥ miss
                        continue
                else:
                    j = k + i
                    c = miss[i]
                h = pos[j]
                if h == -2:                      # already popped (distance final)
                    continue
                d = minval + c - ui - v[j]
                if h == -1:
                    touched[nt] = j
                    nt += 1
                    dist[j] = d
                    pred[j] = i
                    heap[size] = j
                    size += 1
                    _assign_heap_up(heap, pos, size - 1, dist, row4col)
                elif d < dist[j]:
                    dist[j] = d
                    pred[j] = i
                    _assign_heap_up(heap, pos, h, dist, row4col)
            # the heap is never empty here: s's dummy column is always reachable
            j = _assign_heap_pop(heap, pos, &size, dist, row4col)
            pos[j] = -2
            minval = dist[j]
            if row4col[j] < 0:
                sink = j
                break
            i = row4col[j]

        # ---- dual update over the popped columns (and the rows they lead to), reset
        u[s] += minval
        for t in range(nt):
            j = touched[t]
            if pos[j] == -2:
                di = minval - dist[j]
                v[j] -= di
                r = row4col[j]
                if r >= 0:
                    u[r] += di
            pos[j] = -1
            dist[j] = INFINITY

        # ---- augment along the predecessor chain back to s
        j = sink
        while True:
            i = pred[j]
            row4col[j] = i
            r = row_to_col[i]
            row_to_col[i] = j
            j = r
            if i == s:
                break

    nassigned = 0
    for i in range(n):
        if row_to_col[i] >= k:
            row_to_col[i] = -1
        else:
            nassigned += 1
    return nassigned
