"""GNN and JPDA against brute-force enumeration on small random problems."""
import itertools

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from xband.track import association
from xband.track.association import gnn, jpda_probabilities


def brute_gnn(cost, g):
    n, k = cost.shape
    best, arg = np.inf, None
    for labels in itertools.product(range(-1, k), repeat=n):        # detection per track
        used = [j for j in labels if j >= 0]
        if len(used) != len(set(used)):
            continue
        if any(j >= 0 and not cost[i, j] < g[i] for i, j in enumerate(labels)):
            continue
        tot = sum(cost[i, j] if j >= 0 else g[i] for i, j in enumerate(labels))
        if tot < best - 1e-12:
            best, arg = tot, labels
    return best, arg


def dense_lsa(cost, g):
    """scipy's linear_sum_assignment on the full [C | diag(g)] problem (C = big where a
    pair is not worth taking): the assignment gnn must reproduce."""
    n, k = cost.shape
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(cost) & (cost < g[:, None])
    big = 1e12 + 10.0 * (np.abs(cost[ok]).sum() + np.abs(g).sum())
    C = np.full((n, k + n), big)
    C[:, :k] = np.where(ok, cost, big)
    C[np.arange(n), k + np.arange(n)] = g
    r, c = linear_sum_assignment(C)
    take = c < k
    return r[take], c[take]


@pytest.mark.parametrize("trial", range(40))
def test_gnn_equals_brute_force(trial, backend):
    rng = np.random.default_rng(trial)
    n, k = rng.integers(1, 5), rng.integers(0, 5)
    cost = rng.exponential(5.0, (n, k))
    cost[rng.random((n, k)) < 0.3] = np.inf
    g = rng.uniform(3.0, 12.0, n)
    r, c = gnn(cost, g)
    got = cost[r, c].sum() + g[np.setdiff1d(np.arange(n), r)].sum()
    best, _ = brute_gnn(cost, g)
    assert got == pytest.approx(best, rel=1e-12)
    assert len(set(c)) == len(c)


@pytest.mark.parametrize("trial", range(6))
def test_gnn_large_sparse_equals_dense_scipy(trial, backend):
    """Large sparse problems: the same assignment as scipy on the full dense problem
    (continuous random costs: the optimum is unique)."""
    rng = np.random.default_rng(100 + trial)
    n, k = rng.integers(80, 300), rng.integers(80, 300)
    cost = rng.exponential(1.0, (n, k))
    cost[rng.random((n, k)) < 1.0 - 3.0 / k] = np.inf          # ~3 gated detections per track
    g = rng.uniform(0.5, 2.0, n) if trial % 2 else 1.0
    gg = np.broadcast_to(g, (n,)).astype(float)
    r1, c1 = gnn(cost, g)
    assert len(set(c1.tolist())) == len(c1) and np.all(np.diff(r1) > 0)
    assert np.all(cost[r1, c1] < gg[r1])
    r2, c2 = dense_lsa(cost, gg)
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(c1, c2)


@pytest.mark.parametrize("trial", range(8))
def test_gnn_pairs_equals_dense(trial, backend):
    """gnn_pairs on the finite cells of a cost matrix returns exactly gnn's assignment."""
    rng = np.random.default_rng(200 + trial)
    n, k = (rng.integers(1, 6), rng.integers(1, 6)) if trial < 4 else (150, 120)
    cost = rng.exponential(1.0, (n, k))
    cost[rng.random((n, k)) < (0.4 if trial < 4 else 1.0 - 3.0 / k)] = np.inf
    cost[0, 0] = np.nan if trial % 3 == 0 else cost[0, 0]    # never taken
    g = rng.uniform(0.5, 2.0, n) if trial % 2 else 1.0
    r1, c1 = gnn(np.where(np.isnan(cost), np.inf, cost), g)
    ti, dj = np.nonzero(np.isfinite(cost) | np.isnan(cost))
    r2, c2 = association.gnn_pairs(ti, dj, cost[ti, dj], n, k, g)
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(c1, c2)
    o = rng.permutation(ti.size)                  # pairs not listed by track: same answer
    r3, c3 = association.gnn_pairs(ti[o], dj[o], cost[ti, dj][o], n, k, g)
    np.testing.assert_array_equal(r1, r3)
    np.testing.assert_array_equal(c1, c3)
    best, _ = brute_gnn(np.where(np.isnan(cost), np.inf, cost), np.broadcast_to(g, (n,))) \
        if n * k <= 30 else (None, None)
    if best is not None:
        gg = np.broadcast_to(g, (n,))
        cc = np.where(np.isnan(cost), np.inf, cost)
        assert cc[r2, c2].sum() + np.delete(gg, r2).sum() == pytest.approx(best, rel=1e-12)


def test_gnn_pairs_rejects_bad_input():
    with pytest.raises(association.InputError, match="pair indices"):
        association.gnn_pairs([0, 3], [0, 0], [0.1, 0.2], 2, 2, 1.0)
    with pytest.raises(association.InputError, match="one length"):
        association.gnn_pairs([0], [0, 1], [0.1], 2, 2, 1.0)
    r, c = association.gnn_pairs([], [], [], 0, 3, 1.0)
    assert r.size == c.size == 0
    with pytest.raises(association.InputError, match="miss_cost must be finite"):
        association.gnn_pairs([0], [0], [0.1], 2, 2, np.inf)
    with pytest.raises(association.InputError, match="miss_cost must be finite"):
        gnn(np.ones((2, 2)), [1.0, np.nan])
    with pytest.raises(association.InputError, match="miss_cost must be a scalar"):
        gnn(np.ones((2, 2)), [1.0, 2.0, 3.0])
    with pytest.raises(association.InputError, match="2-D"):
        gnn(np.ones(3), 1.0)


def brute_jpda(lik, gated, pd, pg, lam):
    n, k = lik.shape
    beta = np.zeros((n, k + 1))
    total = 0.0
    # enumerate detection → track labels (−1 clutter); a different parametrisation
    for labels in itertools.product(range(-1, n), repeat=k):
        tracks = [t for t in labels if t >= 0]
        if len(tracks) != len(set(tracks)):
            continue
        if any(t >= 0 and not gated[t, j] for j, t in enumerate(labels)):
            continue
        w = 1.0
        for j, t in enumerate(labels):
            if t >= 0:
                w *= pd * lik[t, j] / lam
        for t in range(n):
            if t not in tracks:
                w *= 1 - pd * pg
        total += w
        for j, t in enumerate(labels):
            if t >= 0:
                beta[t, j] += w
        for t in range(n):
            if t not in tracks:
                beta[t, k] += w
    return beta / total


@pytest.mark.parametrize("trial", range(30))
def test_jpda_matches_brute_force_and_sums_to_one(trial):
    rng = np.random.default_rng(100 + trial)
    n, k = rng.integers(1, 4), rng.integers(0, 5)
    lik = rng.exponential(1e-3, (n, k))
    gated = rng.random((n, k)) < 0.7
    beta = jpda_probabilities(lik, gated, 0.9, 0.99, 1e-4)
    np.testing.assert_allclose(beta.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(beta, brute_jpda(lik, gated, 0.9, 0.99, 1e-4), atol=1e-12)
    assert np.all(beta[:, :k][~gated] == 0)


@pytest.mark.parametrize("trial", range(30))
def test_gnn_reduction_equals_full_problem(trial, backend):
    """Tracks and detections without any pair worth taking never change the answer: the
    same assignment as scipy on the full [C | diag(g)] problem (and the brute-force cost),
    rows sorted, and such tracks and detections never assigned."""
    rng = np.random.default_rng(100 + trial)
    n, k = rng.integers(2, 6), rng.integers(2, 6)
    cost = rng.exponential(5.0, (n, k))
    cost[rng.random((n, k)) < 0.3] = np.inf
    cost[rng.integers(n)] = np.inf                       # a track with no gated detection
    cost[:, rng.integers(k)] = rng.uniform(20.0, 30.0)   # a detection costing more than g
    g = rng.uniform(3.0, 12.0, n)
    r, c = gnn(cost, g)
    ok = np.isfinite(cost) & (cost < g[:, None])
    rf, cf = dense_lsa(cost, g)                            # the unreduced problem
    assert np.array_equal(r, rf) and np.array_equal(c, cf)
    assert np.all(np.diff(r) > 0) and np.all(ok[r, c])
    got = cost[r, c].sum() + g[np.setdiff1d(np.arange(n), r)].sum()
    assert got == pytest.approx(brute_gnn(cost, g)[0], rel=1e-12)
