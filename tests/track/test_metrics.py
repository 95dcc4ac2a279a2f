"""Metrics against definitions: GOSPA/OSPA by brute force, χ² bands, continuity counts."""
import itertools

import numpy as np
import pytest

from xband import metrics


def brute_gospa(X, Y, c, p, alpha):
    m, n = len(X), len(Y)
    if m > n:
        X, Y, m, n = Y, X, n, m
    best = np.inf
    for perm in itertools.permutations(range(n), m):
        s = sum(min(np.linalg.norm(X[i] - Y[j]), c) ** p for i, j in enumerate(perm))
        best = min(best, s)
    if m == 0:
        best = 0.0
    return (best + c ** p / alpha * (n - m)) ** (1 / p)


@pytest.mark.parametrize("trial", range(25))
def test_gospa_brute_force(trial):
    rng = np.random.default_rng(trial)
    X = rng.uniform(0, 100, (rng.integers(0, 5), 2))
    Y = rng.uniform(0, 100, (rng.integers(0, 5), 2))
    for c, p, a in ((20.0, 2.0, 2.0), (50.0, 1.0, 1.0), (10.0, 3.0, 2.0)):
        got = metrics.gospa(X, Y, c, p, a)
        assert got["gospa"] == pytest.approx(brute_gospa(X, Y, c, p, a), rel=1e-12, abs=1e-12)
        if a == 2.0:   # the α = 2 decomposition adds up
            total = got["localisation"] + c ** p / 2 * (got["missed"] + got["false"])
            assert total ** (1 / p) == pytest.approx(got["gospa"], rel=1e-12)


def test_ospa_known_values():
    assert metrics.ospa(np.zeros((0, 2)), np.zeros((0, 2))) == 0.0
    assert metrics.ospa([[0, 0]], np.zeros((0, 2)), c=7.0) == 7.0
    assert metrics.ospa([[0, 0]], [[3, 4]], c=100.0, p=1) == pytest.approx(5.0)
    # one matched at distance 3, one cardinality error: ((3 + c)/2)
    assert metrics.ospa([[0, 0]], [[3, 0], [50, 50]], c=10.0, p=1) == pytest.approx(6.5)


def test_chi2_band_contains_mean():
    lo, hi = metrics.chi2_band(4, 50)
    assert lo < 4 < hi and hi - lo < 2.0


def test_continuity_counts_swaps_and_breaks():
    t = np.repeat(np.arange(6.0), 2)
    ids = np.tile([1, 2], 6)
    pos = np.stack([np.tile([0.0, 100.0], 6), np.zeros(12)], 1)
    tr_t, tr_id, tr_pos = [], [], []
    for k in range(6):
        if k == 3:
            continue                                  # both tracks missing at t=3: 2 breaks
        a, b = (10, 20) if k < 4 else (20, 10)        # ids swap at t=4: 2 swaps
        tr_t += [k, k]
        tr_id += [a, b]
        tr_pos += [[1.0, 0.0], [101.0, 0.0]]
    out = metrics.track_continuity(t, ids, pos, tr_t, tr_id, np.array(tr_pos), gate=10.0)
    assert out["breaks"] == 2 and out["swaps"] == 2
    assert out["coverage"] == pytest.approx(10 / 12)
