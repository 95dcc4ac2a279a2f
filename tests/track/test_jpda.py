"""Fast JPDA association probabilities (xband.track.jpda): the same β as the per-cluster
enumeration of track.association and as a brute-force enumeration over detection labels,
on scans mixing isolated tracks (closed form) and clusters of tracks sharing detections."""
import itertools

import numpy as np
import pytest

from xband.errors import InputError
from xband.track import association, jpda


def brute(lik, gated, pd, pg, lam):
    """Every detection → track labelling (−1 clutter), each track at most once."""
    n, k = lik.shape
    beta = np.zeros((n, k + 1))
    total = 0.0
    for labels in itertools.product(range(-1, n), repeat=k):
        tr = [t for t in labels if t >= 0]
        if len(tr) != len(set(tr)) or any(t >= 0 and not gated[t, j]
                                           for j, t in enumerate(labels)):
            continue
        w = np.prod([pd * lik[t, j] / lam for j, t in enumerate(labels) if t >= 0])
        w *= (1 - pd * pg) ** (n - len(tr))
        total += w
        for j, t in enumerate(labels):
            if t >= 0:
                beta[t, j] += w
        for t in set(range(n)) - set(tr):
            beta[t, k] += w
    return beta / total


def _scan(rng, n, k, p_gate, shared_tracks):
    """Likelihoods and a gate where most tracks own their detections (block diagonal) and
    ``shared_tracks`` tracks also gate a few detections of others."""
    lik = rng.exponential(1e-3, (n, k))
    gated = np.zeros((n, k), bool)
    own = np.array_split(rng.permutation(k), n)
    for i, cols in enumerate(own):
        gated[i, cols] = rng.random(cols.size) < p_gate
    if n > 20:              # large scans: track i also gates one of track i + 1's detections
        for i in rng.choice(np.arange(0, n - 1, 2), size=shared_tracks, replace=False):
            if own[i + 1].size:
                gated[i, rng.choice(own[i + 1])] = True
    else:
        for i in rng.choice(n, size=min(shared_tracks, n), replace=False):
            gated[i, rng.choice(k, size=min(2, k), replace=False)] = True
    return lik, gated


@pytest.mark.parametrize("trial", range(12))
def test_equals_enumeration_and_brute_force(trial):
    rng = np.random.default_rng(500 + trial)
    n, k = int(rng.integers(1, 5)), int(rng.integers(0, 6))
    lik, gated = _scan(rng, n, k, 0.8, int(rng.integers(0, 3)))
    lik[rng.random((n, k)) < 0.1] = 0.0                 # zero likelihood: never associated
    args = (0.9, 0.99, 1e-4)
    beta = jpda.jpda_probabilities(lik, gated, *args)
    np.testing.assert_allclose(beta, association.jpda_probabilities(lik, gated, *args),
                               rtol=1e-12, atol=1e-15)
    if k:
        np.testing.assert_allclose(beta, brute(lik, gated & (lik > 0), *args), atol=1e-12)
    np.testing.assert_allclose(beta.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(beta[:, :k].sum(axis=0) <= 1 + 1e-12)
    assert np.all(beta[:, :k][~(gated & (lik > 0))] == 0)


def test_large_scan_mixed_clusters(rng):
    """300 tracks × 200 detections, mostly isolated tracks plus clusters: the same β as
    the enumeration (the closed form is the single-track enumeration)."""
    lik, gated = _scan(rng, 300, 200, 0.6, 25)
    args = (0.85, 0.999, 1e-6)
    a = association.jpda_probabilities(lik, gated, *args)
    b = jpda.jpda_probabilities(lik, gated, *args)
    np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-15)
    assert (a != 0).sum() > 300 and (gated & (lik > 0)).sum(axis=0).max() > 1   # both paths


def test_pda_closed_form():
    """One track, three detections: β_j = w_j / (1 − P_D P_G + Σ w), w_j = P_D ℓ_j / λ."""
    lik = np.array([[2e-4, 5e-5, 1e-3]])
    pd, pg, lam = 0.9, 0.95, 1e-4
    w = pd * lik[0] / lam
    den = 1 - pd * pg + w.sum()
    beta = jpda.jpda_probabilities(lik, np.ones((1, 3), bool), pd, pg, lam)
    np.testing.assert_allclose(beta[0], np.r_[w, 1 - pd * pg] / den, rtol=1e-14)


def test_empty_and_bad_input():
    assert jpda.jpda_probabilities(np.zeros((0, 3)), np.zeros((0, 3), bool), 0.9, 0.9,
                                   1e-4).shape == (0, 4)
    np.testing.assert_array_equal(jpda.jpda_probabilities(np.zeros((2, 0)), np.zeros((2, 0)),
                                                          0.9, 0.9, 1e-4), [[1.0], [1.0]])
    with pytest.raises(InputError, match="p_d"):
        jpda.jpda_probabilities(np.ones((1, 1)), np.ones((1, 1)), 0.0, 0.9, 1e-4)
    with pytest.raises(InputError, match="shape"):
        jpda.jpda_probabilities(np.ones((2, 1)), np.ones((1, 2)), 0.9, 0.9, 1e-4)


def test_tracker_with_fast_jpda_same_tracks(monkeypatch):
    """The whole JPDA tracker on a crossing-targets-in-clutter scene: the same tracks with
    track.jpda as with the enumeration (what swapping the call in tracker.py changes)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches"))
    import _peers_scene as scn
    import xband.track.tracker as tracker_mod

    scene = scn.crossing_scene(scans=30)
    out = []
    for fn in (association.jpda_probabilities, jpda.jpda_probabilities):
        monkeypatch.setattr(tracker_mod, "jpda_probabilities", fn)
        tr = scn.xband_tracker("ekf", association="jpda")
        last = None
        for k in range(len(scene.times)):
            last = tr.step(scene.scans[k], float(scene.times[k]))
        out.append((last, dict(tr.stats)))
    (a, sa), (b, sb) = out
    assert sa == sb and sa["confirmed"] > 0
    np.testing.assert_allclose(b.x, a.x, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(b.id, a.id)
