"""Tracking performance metrics: RMSE, NEES/NIS with χ² consistency bands, OSPA, GOSPA,
track breaks and identity swaps against truth.

References:
* NEES/NIS and their χ² acceptance regions: Bar-Shalom, Li & Kirubarajan (2001), §5.4.2.
* OSPA: Schuhmacher, Vo & Vo, "A consistent metric for performance evaluation of
  multi-object filters", IEEE TSP 56(8), 2008.
* GOSPA: Rahmathullah, García-Fernández & Svensson, "Generalized optimal sub-pattern
  assignment metric", FUSION 2017 (α = 2 splits into localisation, missed and false terms).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import gammaincinv

from .errors import InputError


def rmse(est, truth, axis=0) -> np.ndarray:
    """Root-mean-square error of est − truth along ``axis`` (e.g. over Monte Carlo runs)."""
    e = np.asarray(est, float) - np.asarray(truth, float)
    return np.sqrt(np.mean(e * e, axis=axis))


def nees(x_est, P, x_true) -> np.ndarray:
    """Normalised estimation error squared εₖ = (x − x̂)ᵀ P⁻¹ (x − x̂), shape (...,)."""
    e = np.asarray(x_true, float) - np.asarray(x_est, float)
    return np.einsum("...i,...i->...", e, np.linalg.solve(P, e[..., None])[..., 0])


def nis(innovation, S) -> np.ndarray:
    """Normalised innovation squared yᵀ S⁻¹ y, shape (...,)."""
    y = np.asarray(innovation, float)
    return np.einsum("...i,...i->...", y, np.linalg.solve(S, y[..., None])[..., 0])


def chi2_band(dof: int, runs: int = 1, prob: float = 0.95) -> tuple[float, float]:
    """Two-sided ``prob`` acceptance interval of the average of ``runs`` independent
    χ²(dof) values (the N-run average NEES or NIS): [χ²_lo(N·dof), χ²_hi(N·dof)] / N."""
    # chi2.ppf(q, k) = 2·gammaincinv(k/2, q) (scipy.stats' own formula, without its import)
    lo = 2 * gammaincinv(dof * runs / 2, (1 - prob) / 2) / runs
    hi = 2 * gammaincinv(dof * runs / 2, (1 + prob) / 2) / runs
    return float(lo), float(hi)


def _dist(X, Y) -> np.ndarray:
    X = np.asarray(X, float).reshape(len(X), -1) if len(X) else np.zeros((0, 1))
    Y = np.asarray(Y, float).reshape(len(Y), -1) if len(Y) else np.zeros((0, X.shape[1]))
    if X.shape[1] != Y.shape[1] and len(X) and len(Y):
        raise InputError(f"metric: point dimensions differ ({X.shape[1]} vs {Y.shape[1]})")
    if not len(X) or not len(Y):
        return np.zeros((len(X), len(Y)))
    return np.sqrt(((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1))


def ospa(X, Y, c: float = 100.0, p: float = 1.0) -> float:
    """OSPA distance between point sets X (m, d) and Y (n, d), cut-off c, order p."""
    if c <= 0 or p < 1:
        raise InputError(f"ospa: need c > 0 and p >= 1, got c={c}, p={p}")
    m, n = len(X), len(Y)
    if m == 0 and n == 0:
        return 0.0
    if m == 0 or n == 0:
        return float(c)
    D = np.minimum(_dist(X, Y), c) ** p
    r, k = linear_sum_assignment(D)
    big = max(m, n)
    return float(((D[r, k].sum() + c ** p * abs(m - n)) / big) ** (1.0 / p))


def gospa(X, Y, c: float = 100.0, p: float = 2.0, alpha: float = 2.0) -> dict:
    """GOSPA between truth X (m, d) and estimates Y (n, d).

    d = (min_π Σ d_c(xᵢ, y_π(i))^p + c^p/α · |m − n|)^(1/p) with d_c = min(d, c).
    With α = 2 this equals min over partial assignments of (Σ_assigned d^p + c^p/2 ·
    (missed + false))^(1/p), and the returned dict splits it: ``localisation``, ``missed``
    and ``false`` (counts) and their p-th-power contributions. Keys: ``gospa``,
    ``localisation``, ``missed``, ``false``, ``assigned``.
    """
    if c <= 0 or p < 1 or not 0 < alpha <= 2:
        raise InputError(f"gospa: need c > 0, p >= 1, 0 < alpha <= 2; got {c}, {p}, {alpha}")
    m, n = len(X), len(Y)
    D = _dist(X, Y)
    if m and n:
        Dc = np.minimum(D, c) ** p
        r, k = linear_sum_assignment(Dc)
        total = Dc[r, k].sum() + c ** p / alpha * abs(m - n)
        real = D[r, k] < c                     # pairs that count as assigned (α = 2 view)
        loc = float((D[r, k][real] ** p).sum())
        assigned = int(real.sum())
    else:
        total, loc, assigned = c ** p / alpha * abs(m - n), 0.0, 0
    return {"gospa": float(total ** (1.0 / p)), "localisation": loc,
            "missed": m - assigned, "false": n - assigned, "assigned": assigned}


def track_continuity(times, truth_ids, truth_pos, track_times, track_ids, track_pos,
                     gate: float) -> dict:
    """Track breaks and identity swaps against truth.

    At every time, truths and tracks (confirmed, as rows) are assigned one to one by
    minimum total distance among pairs closer than ``gate`` (m). Per truth, its sequence of
    assigned track ids gives: a **swap** each time the id differs from the previous assigned
    one, a **break** each time a truth assigned at one time is unassigned at the next time it
    exists. Inputs are row-wise tables: (times, truth_ids, truth_pos (k, d)) and (track_times,
    track_ids, track_pos (l, d)). Returns ``{"swaps", "breaks", "coverage"}`` (coverage: the
    fraction of truth rows with an assigned track).
    """
    times = np.asarray(times, float)
    truth_ids = np.asarray(truth_ids)
    truth_pos = np.asarray(truth_pos, float)
    track_times = np.asarray(track_times, float)
    track_ids = np.asarray(track_ids)
    track_pos = np.asarray(track_pos, float)
    last = {}
    swaps = breaks = covered = 0
    for t in np.unique(times):
        a = np.flatnonzero(times == t)
        b = np.flatnonzero(track_times == t)
        got = {}
        if a.size and b.size:
            D = _dist(truth_pos[a], track_pos[b])
            cost = np.where(D < gate, D, 1e12)
            r, k = linear_sum_assignment(cost)
            for i, j in zip(r, k):
                if D[i, j] < gate:
                    got[truth_ids[a[i]]] = track_ids[b[j]]
        for tid in truth_ids[a]:
            prev = last.get(tid, (None, False))
            if tid in got:
                covered += 1
                if prev[0] is not None and prev[0] != got[tid]:
                    swaps += 1
                last[tid] = (got[tid], True)
            else:
                if prev[1]:
                    breaks += 1
                last[tid] = (prev[0], False)
    return {"swaps": swaps, "breaks": breaks, "coverage": covered / max(len(times), 1)}
