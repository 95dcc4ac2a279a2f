"""Sparse optimal assignment with a miss cost per row — numpy/scipy twin of ext/assign.pyx.

GNN data association (Blackman & Popoli 1999, §6.4) over n rows (tracks) and k columns
(detections):

    minimise  Σ_{i assigned to j} c_ij  +  Σ_{i unassigned} miss_i

over one-to-one assignments, where only the listed pairs exist: row i's candidate columns
are ``cols[row_ptr[i]:row_ptr[i+1]]`` with costs ``cost[...]`` (CSR), and a pair whose
cost is not finite or not < miss_i is never taken. This is exactly the rectangular
assignment problem [C | diag(miss)] (C = +big off the pairs: row i's own dummy column
k + i costs miss_i, so every row is feasible), solved here with scipy's
``linear_sum_assignment`` (Crouse 2016's shortest augmenting path, a Jonker-Volgenant
variant). The compiled twin runs the same shortest augmenting paths over the sparse graph
(Dijkstra with potentials) instead of dense rows.

Rows and columns without a pair worth taking are left out (such a row keeps its miss, such
a column stays free: the same optimum); the rest is solved as one dense problem when small,
else one problem per connected component of the pair graph (the optimum decomposes over
them). On ties between optima the two twins may pick different (equally optimal)
assignments.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

#: Up to this many cells (rows × columns with a pair worth taking) one dense problem.
DENSE_MAX = 300_000


def _dense(cost, g, ok):
    """[C | diag(g)] assignment of one (sub)problem; ``ok`` marks the pairs worth taking.
    Returns (rows, cols) of the pairs taken."""
    n, k = cost.shape
    big = 1e12 + 10.0 * (np.abs(cost[ok]).sum() + np.abs(g).sum())   # never worth taking
    C = np.full((n, k + n), big)
    C[:, :k] = np.where(ok, cost, big)
    C.reshape(-1)[k::k + n + 1] = g                   # C[i, k + i] = g[i]
    r, c = linear_sum_assignment(C)
    take = (c < k) & (C[r, c] < big)
    return r[take], c[take]


def assign_sparse(row_ptr, cols, cost, miss, k, row_to_col):
    """Optimal assignment of n = len(miss) rows to k columns over the CSR pairs, a row left
    unassigned costing miss[i]. Writes row_to_col[i] = column or −1 (int64, (n,)) and
    returns the number of assigned rows."""
    row_ptr = np.asarray(row_ptr)
    cols = np.asarray(cols)
    cost = np.asarray(cost, float)
    miss = np.asarray(miss, float)
    n = miss.shape[0]
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
    row_to_col[:] = -1
    if row_ptr[0] < 0 or np.any(np.diff(row_ptr) < 0):
        raise ValueError("assign_sparse: row_ptr must be non-decreasing from >= 0")
    if not np.all(np.isfinite(miss)):
        raise ValueError("assign_sparse: miss costs must be finite")
    a, b = int(row_ptr[0]), int(row_ptr[n])
    dj = cols[a:b].astype(np.int64)
    if dj.size and (dj.min() < 0 or dj.max() >= k):
        raise ValueError(f"assign_sparse: a column index is outside [0, {k})")
    ti = np.repeat(np.arange(n), np.diff(row_ptr))
    cv = cost[a:b]
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(cv) & (cv < miss[ti])        # pairs worth taking
    ti, dj, cv = ti[ok], dj[ok], cv[ok]
    if ti.size == 0:
        return 0
    # keep the cheapest of duplicated pairs (the kernel relaxes both: the same optimum)
    o = np.lexsort((cv, dj, ti))
    ti, dj, cv = ti[o], dj[o], cv[o]
    first = np.r_[True, (ti[1:] != ti[:-1]) | (dj[1:] != dj[:-1])]
    ti, dj, cv = ti[first], dj[first], cv[first]

    if np.unique(ti).size * np.unique(dj).size <= DENSE_MAX:
        groups = [np.arange(ti.size)]
    else:                                  # one problem per connected component
        A = csr_matrix((np.ones(ti.size, np.int8), (ti, n + dj)), shape=(n + k, n + k))
        _, lab = connected_components(A, directed=False)
        comp = lab[ti]
        order = np.argsort(comp, kind="stable")
        cs = comp[order]
        starts = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]])
        groups = np.split(order, starts[1:])
    for sel in groups:                     # the pairs of one (sub)problem
        tr, ri = np.unique(ti[sel], return_inverse=True)
        de, ci = np.unique(dj[sel], return_inverse=True)
        sub = np.full((tr.size, de.size), np.inf)          # only the ok pairs are read
        sub[ri, ci] = cv[sel]
        sub_ok = np.zeros((tr.size, de.size), bool)
        sub_ok[ri, ci] = True
        r, c = _dense(sub, miss[tr], sub_ok)
        row_to_col[tr[r]] = de[c]
    return int(np.count_nonzero(row_to_col >= 0))
