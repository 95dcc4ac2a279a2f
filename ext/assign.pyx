# cython: language_level=3
"""Sparse optimal assignment with a miss cost per row (the GNN solver).
Twin: xband/reference/assign.py. The cdef core is ext/_assign.pxi (shared with the
whole-scan kernel); this `def` checks the arrays, allocates the workspace with numpy and
runs the solve without the GIL.
"""
import numpy as np

include "_assign.pxi"


def _assign_sparse(const long long[::1] row_ptr, const long long[::1] cols,
                  const double[::1] cost, const double[::1] miss, Py_ssize_t k,
                  long long[::1] row_to_col):
    """Optimal assignment of n = len(miss) rows to k columns over the pairs in CSR form
    (row i: cols[row_ptr[i]:row_ptr[i+1]], costs cost[...]), leaving row i unassigned at
    cost miss[i]; a pair whose cost is not finite or not < miss[i] is never taken.
    Writes row_to_col[i] = column or −1 and returns the number of assigned rows; the
    optimum of scipy's linear_sum_assignment on [C | diag(miss)]."""
    cdef Py_ssize_t n = miss.shape[0]
    cdef Py_ssize_t nw, niw, ret
    if k < 0:
        raise ValueError(f"assign_sparse: k must be >= 0, got {k}")
    if row_ptr.shape[0] != n + 1:
        raise ValueError(f"assign_sparse: row_ptr must have len(miss) + 1 = {n + 1} "
                         f"entries, got {row_ptr.shape[0]}")
    if row_to_col.shape[0] != n:
        raise ValueError(f"assign_sparse: row_to_col must have len(miss) = {n} entries, "
                         f"got {row_to_col.shape[0]}")
    if cols.shape[0] != cost.shape[0]:
        raise ValueError(f"assign_sparse: cols and cost must have one length, got "
                         f"{cols.shape[0]} and {cost.shape[0]}")
    if n == 0:
        return 0
    if row_ptr[n] > cols.shape[0]:
        raise ValueError(f"assign_sparse: row_ptr[-1] = {row_ptr[n]} exceeds the "
                         f"{cols.shape[0]} pairs")
    assign_work_sizes(n, k, cols.shape[0], &nw, &niw)
    cdef double[::1] work = np.empty(nw)
    cdef long long[::1] iwork = np.empty(niw, np.int64)
    with nogil:
        ret = assign_sparse(n, k, <const Py_ssize_t*>&row_ptr[0],
                            <const Py_ssize_t*>(&cols[0] if cols.shape[0] else NULL),
                            &cost[0] if cost.shape[0] else NULL, &miss[0],
                            <Py_ssize_t*>&row_to_col[0], &work[0], <Py_ssize_t*>&iwork[0])
    if ret == ASSIGN_BAD_ROW_PTR:
        raise ValueError("assign_sparse: row_ptr must be non-decreasing from >= 0")
    if ret == ASSIGN_BAD_COLUMN:
        raise ValueError(f"assign_sparse: a column index is outside [0, {k})")
    if ret == ASSIGN_BAD_MISS:
        raise ValueError("assign_sparse: miss costs must be finite")
    return ret


# The def cannot be named like the cdef core it wraps (Cython has one namespace per module
# and the core's name is fixed by the include contract), so it is published under the
# twin's name here.
_assign_sparse.__name__ = _assign_sparse.__qualname__ = "assign_sparse"
globals()["assign_sparse"] = _assign_sparse
del _assign_sparse
