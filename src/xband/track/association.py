"""Data association: global nearest neighbour (GNN) and joint probabilistic data
association (JPDA) probabilities, over a cost / likelihood matrix of tracks × detections.

GNN (Blackman & Popoli 1999, §6.4): the one-to-one assignment minimising
Σ_assigned c_ij + Σ_unassigned-tracks g_i, where c_ij is the pair's cost (e.g. the NIS, or
−2 log likelihood) and g_i the cost of leaving track i without a detection (the gate
value: a pair costing g_i or more is never worth taking). Solved exactly: the optimum of
the rectangular assignment over [C | diag(g)], by shortest augmenting paths with dual
potentials (Jonker-Volgenant / Dijkstra) over the sparse graph of the pairs worth taking —
the ``assign`` kernel (ext/_assign.pxi; its numpy twin xband.reference.assign solves the
same problem with scipy's linear_sum_assignment).

JPDA (Fortmann, Bar-Shalom & Scheffe 1983; Bar-Shalom et al. 2001 §6.6): for a cluster
of tracks and detections sharing gates, every feasible joint event θ (each detection to at
most one track, each track at most one detection) has probability
    P(θ) ∝ Π_{(i,j)∈θ} P_D ℓ_ij / λ  ·  Π_{i unassigned in θ} (1 − P_D P_G)
with ℓ_ij the measurement likelihood and λ the clutter density; the marginal association
probabilities are β_ij = Σ_{θ ∋ (i,j)} P(θ) and β_i0 = 1 − Σ_j β_ij. Enumeration is exact
and exponential: clusters are split by connected components of the gate matrix, and a
cluster with more than ``JPDA_MAX_EVENTS`` joint events raises (callers then fall back to
GNN for that cluster) — the documented limit.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from .. import _kernels
from ..errors import InputError

JPDA_MAX_EVENTS = 200_000


def _miss(fn, miss_cost, n):
    """The miss cost per track, (n,) float64, finite."""
    if isinstance(miss_cost, (int, float)):             # the usual scalar, cheaply
        if not math.isfinite(miss_cost):
            raise InputError(f"{fn}: miss_cost must be finite, got {miss_cost}")
        return np.full(n, float(miss_cost))
    g = np.asarray(miss_cost, float)
    if g.ndim > 1 or (g.ndim == 1 and g.shape[0] not in (1, n)):
        raise InputError(f"{fn}: miss_cost must be a scalar or of shape ({n},), "
                         f"got shape {g.shape}")
    g = np.full(n, g) if g.size == 1 else np.ascontiguousarray(g)
    if not np.isfinite(g).all():
        raise InputError(f"{fn}: miss_cost must be finite")
    return g


def _assign(ti, dj, cval, g, n, k):
    """The kernel's optimal assignment over the pairs (ti, dj) of cost cval, listed by
    track (pairs not worth taking — cost not finite or not < g[ti] — are skipped there);
    returns (rows, cols) sorted by row."""
    row_ptr = ti.searchsorted(np.arange(n + 1, dtype=np.int64))   # ti is sorted
    row_to_col = np.empty(n, np.int64)
    _kernels.get("assign").assign_sparse(row_ptr, dj, cval, g, k, row_to_col)
    rows = (row_to_col >= 0).nonzero()[0]
    return rows, row_to_col[rows]


def gnn(cost: np.ndarray, miss_cost) -> tuple[np.ndarray, np.ndarray]:
    """Optimal one-to-one assignment; ``cost`` (n, k) with +inf for pairs outside the gate,
    ``miss_cost`` scalar or (n,), finite. Returns (rows, cols) of the assigned pairs,
    sorted by row.

    A pair costing at least the track's miss cost (or not finite) is never taken; the
    other pairs are handed to the sparse solver (``assign`` kernel: shortest augmenting
    paths over the pair graph, the optimum of [C | diag(g)]).
    """
    cost = np.asarray(cost, float)
    if cost.ndim != 2:
        raise InputError(f"gnn: cost must be 2-D, got shape {cost.shape}")
    n, k = cost.shape
    g = _miss("gnn", miss_cost, n)
    if n == 0 or k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # the cells worth taking, by track then detection (NaN and +inf compare False; a −inf
    # cell is listed but the solver skips every non-finite cost)
    ti, dj = np.nonzero(cost < g[:, None])
    return _assign(ti, np.ascontiguousarray(dj), cost[ti, dj], g, n, k)


def gnn_pairs(ti, dj, cost, n: int, k: int, miss_cost) -> tuple[np.ndarray, np.ndarray]:
    """``gnn`` on a sparse cost: pairs (ti[p], dj[p]) of cost[p] (sorted by track, then
    detection; every pair not listed costs +inf) among n tracks and k detections. The
    same assignment as ``gnn`` on the dense matrix holding these costs (pairs not listed
    by track are sorted first; a pair not worth taking — cost not finite or not below the
    miss cost — may be listed, it is never taken)."""
    ti = np.asarray(ti, np.int64)
    dj = np.asarray(dj, np.int64)
    cost = np.asarray(cost, float)
    if not (ti.ndim == dj.ndim == cost.ndim == 1 and ti.size == dj.size == cost.size):
        raise InputError(f"gnn_pairs: ti, dj and cost must be 1-D of one length, got "
                         f"{ti.shape}, {dj.shape}, {cost.shape}")
    g = _miss("gnn_pairs", miss_cost, n)
    if n == 0 or k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if ti.size and (ti.min() < 0 or ti.max() >= n or dj.min() < 0 or dj.max() >= k):
        raise InputError(f"gnn_pairs: pair indices outside {n} tracks × {k} detections")
    if ti.size > 1 and np.any(ti[1:] < ti[:-1]):      # not listed by track: sort them
        o = np.lexsort((dj, ti))
        ti, dj, cost = ti[o], dj[o], cost[o]
    return _assign(ti, np.ascontiguousarray(dj), np.ascontiguousarray(cost), g, n, k)


def clusters(gated: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Connected components of the bipartite gate graph: [(track indices, det indices)],
    only components holding at least one track."""
    n, k = gated.shape
    A = np.zeros((n + k, n + k), bool)
    A[:n, n:] = gated
    A[n:, :n] = gated.T
    m, lab = connected_components(csr_matrix(A), directed=False)
    out = []
    for c in range(m):
        tr = np.flatnonzero(lab[:n] == c)
        if tr.size:
            out.append((tr, np.flatnonzero(lab[n:] == c)))
    return out


def _events(n, k, gated):
    """Every feasible joint event: an array a (n,) with a[i] = detection of track i or −1."""
    a = np.full(n, -1)
    used = np.zeros(k, bool)
    count = [0]

    def rec(i):
        if i == n:
            count[0] += 1
            if count[0] > JPDA_MAX_EVENTS:
                raise InputError(f"jpda: cluster of {n} tracks × {k} detections has more than "
                                 f"{JPDA_MAX_EVENTS} joint events")
            yield a.copy()
            return
        a[i] = -1
        yield from rec(i + 1)
        for j in np.flatnonzero(gated[i]):
            if not used[j]:
                used[j] = True
                a[i] = j
                yield from rec(i + 1)
                used[j] = False
        a[i] = -1

    yield from rec(0)


def jpda_probabilities(lik: np.ndarray, gated: np.ndarray, p_d: float, p_g: float,
                       clutter_density: float) -> np.ndarray:
    """Marginal association probabilities β (n, k + 1): β[i, j] for detection j, β[i, k]
    for "no detection". ``lik`` (n, k) measurement likelihoods; ``gated`` (n, k) bool."""
    lik = np.asarray(lik, float)
    gated = np.asarray(gated, bool) & (lik > 0)
    n, k = lik.shape
    if not (0 < p_d <= 1 and 0 < p_g <= 1 and clutter_density > 0):
        raise InputError("jpda: need 0 < p_d, p_g <= 1 and clutter_density > 0")
    beta = np.zeros((n, k + 1))
    beta[:, k] = 1.0
    for tr, de in clusters(gated):
        g = gated[np.ix_(tr, de)]
        w_pair = p_d * lik[np.ix_(tr, de)] / clutter_density
        w_miss = 1.0 - p_d * p_g
        ev = np.array(list(_events(len(tr), len(de), g)))
        # event weight in the log domain
        logw = np.zeros(len(ev))
        for i in range(len(tr)):
            ai = ev[:, i]
            hit = ai >= 0
            logw[hit] += np.log(w_pair[i, ai[hit]])
            logw[~hit] += np.log(w_miss) if w_miss > 0 else -np.inf
        logw -= logw.max()
        w = np.exp(logw)
        w /= w.sum()
        for i, ti in enumerate(tr):
            ai = ev[:, i]
            beta[ti, k] = w[ai < 0].sum()
            for jj, dj in enumerate(de):
                beta[ti, dj] = w[ai == jj].sum()
    return beta
