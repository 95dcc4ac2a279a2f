"""JPDA marginal association probabilities, fast where the scan allows it.

Same contract and results as ``xband.track.association.jpda_probabilities`` (to rounding:
≤ 1e-15 relative here, the sums run in another order): β (n, k + 1) with β[i, j] the
probability that detection j is track i's and β[i, k] that none is, from the measurement
likelihoods ``lik`` (n, k), the gate ``gated`` (n, k), P_D, P_G and the clutter density λ
(Fortmann, Bar-Shalom & Scheffe 1983): a joint event's weight is the product over its
tracks of P_D ℓ_ij / λ (track i takes detection j) or 1 − P_D P_G (track i takes none).

Most clusters of a real scan hold one track — every tentative track started by clutter,
every confirmed track away from the others: a track none of whose gated detections lies in
another track's gate is a cluster by itself, and its probabilities are the PDA's closed
form, β_ij = w_ij / (w_0 + Σ_j w_ij), β_i0 = w_0 / (…). Those tracks are done together in
a few array operations (in the log domain, as the enumeration). Only the tracks that share
a detection go through the exact per-cluster enumeration of
``association.jpda_probabilities`` (with its documented size limit, ``JPDA_MAX_EVENTS``;
beyond it the same InputError, on which the tracker falls back to GNN).

At 50 targets + 50 false alarms per scan (benches/bench_peers.py, ``xband-ekf-jpda``) every
cluster of the steady scans is a single track.
"""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from . import association


def jpda_probabilities(lik: np.ndarray, gated: np.ndarray, p_d: float, p_g: float,
                       clutter_density: float) -> np.ndarray:
    """Marginal association probabilities β (n, k + 1) (see the module documentation);
    the signature and results of ``association.jpda_probabilities``."""
    lik = np.asarray(lik, float)
    gated = np.asarray(gated, bool)
    if lik.ndim != 2 or gated.shape != lik.shape:
        raise InputError(f"jpda: lik and gated must be (n, k) of one shape, got {lik.shape} "
                         f"and {gated.shape}")
    if not (0 < p_d <= 1 and 0 < p_g <= 1 and clutter_density > 0):
        raise InputError("jpda: need 0 < p_d, p_g <= 1 and clutter_density > 0")
    gated = gated & (lik > 0)
    n, k = lik.shape
    beta = np.zeros((n, k + 1))
    beta[:, k] = 1.0
    if n == 0 or k == 0:
        return beta
    deg = np.count_nonzero(gated, axis=0)
    alone = ~np.any(gated & (deg > 1)[None, :], axis=1)   # no detection shared
    w_miss = 1.0 - p_d * p_g
    lw_miss = np.log(w_miss) if w_miss > 0 else -np.inf
    ia = np.flatnonzero(alone & gated.any(axis=1))
    if ia.size:
        g = gated[ia]
        with np.errstate(divide="ignore"):
            lw = np.where(g, np.log(p_d * lik[ia] / clutter_density), -np.inf)
        m = np.maximum(lw.max(axis=1), lw_miss)
        w = np.exp(lw - m[:, None])
        w0 = np.exp(lw_miss - m)
        tot = w0 + w.sum(axis=1)
        beta[ia, :k] = w / tot[:, None]
        beta[ia, k] = w0 / tot
    shared = np.flatnonzero(~alone)
    if shared.size:
        de = np.flatnonzero(gated[shared].any(axis=0))
        sub = association.jpda_probabilities(lik[np.ix_(shared, de)],
                                             gated[np.ix_(shared, de)], p_d, p_g,
                                             clutter_density)
        beta[np.ix_(shared, de)] = sub[:, :-1]
        beta[shared, k] = sub[:, -1]
    return beta
