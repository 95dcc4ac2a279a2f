"""Filter banks over a batch of tracks: one motion model (``SingleModel``) or an
interacting multiple model estimator (``IMM``), with the same small API so the tracker
does not care which it drives.

IMM (Blom & Bar-Shalom 1988; Bar-Shalom, Li & Kirubarajan 2001, §11.6.6), per track, with
r models, mode probabilities μ and the Markov transition matrix Π, Π[i, j] = P(model j at
k+1 | model i at k) (rows sum to 1 — FilterPy's ``IMMEstimator`` uses the same matrix,
whatever its docstring says; tests/oracle/test_filterpy.py pins it):

1. mixing:     c̄_j = Σ_i Π_ij μ_i,   μ_{i|j} = Π_ij μ_i / c̄_j
               x0_j = Σ_i μ_{i|j} x̃_i,   P0_j = Σ_i μ_{i|j} [P̃_i + (x̃_i − x0_j)(x̃_i − x0_j)ᵀ]
2. model-matched prediction and update of each model (batched kernels);
3. mode update:  μ_j ∝ c̄_j Λ_j with Λ_j the measurement likelihood N(y_j; 0, S_j)
   (computed in the log domain; a track without a measurement keeps μ_j = c̄_j);
4. output:       x = Σ_j μ_j x̂_j,   P = Σ_j μ_j [P̂_j + (x̂_j − x)(x̂_j − x)ᵀ].

Models of different state size (CV 6, CT 7, CA/Singer 9) share the leading position and
velocity. **Mixing** expresses model i in model j's space by *unbiased mixing*: the
components j has and i lacks (e.g. CA's acceleration when mixing from CV) are taken from
model j's own estimate, with model j's covariance block and no cross-covariance with the
shared components (Yuan, Bar-Shalom & Tian, "Heterogeneous track-to-track fusion", 2012,
§III; the usual alternative, padding with zeros, biases CA toward zero acceleration every
step). The **output** is in the union space of the models' components, in the order
x y z vx vy vz [ax ay az] [ω]; there a model without a component contributes the value 0
with zero variance, which is what CV (a = 0, ω = 0) and CT (a = ω × v, not a state) mean.

Mixing (1.) with the model-matched prediction (2.), the linear update of every model
(2., ``update_linear`` with a selection H6 such as position), and the output (4.) run in
one batched kernel call each (``imm_mix_predict``, ``imm_update_sel``, ``imm_combine``:
ext/imm.pyx, twin xband.reference.imm) over the models' states packed in one buffer,
mixed, predicted and updated in place; ``xs[j]``/``Ps[j]`` are views into it (re-packed
after add, keep or JPDA).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import _kernels
from ..errors import ConfigError, InputError
from . import converted, filters
from .models import ModelSpec, ct_noise

#: Most models an IMM bank takes (the kernels' stack buffers, ext/imm.pyx MAXR).
MAX_MODELS = 8

#: Initial σ of the components a new track cannot observe: acceleration (m/s²), ω (rad/s).
INIT_SIGMA_ACCEL = 30.0
INIT_SIGMA_OMEGA = 0.1


def _selection(H6):
    """The state indices (m,) int64 that H6 (m, 6) selects (each row a distinct unit row),
    else None."""
    if H6.shape[0] < 1 or H6.shape[0] > 4:
        return None
    one = H6 == 1.0
    if not (np.all(one.sum(axis=1) == 1) and np.all((H6 == 0.0) | one)):
        return None
    sel = np.argmax(one, axis=1).astype(np.int64)
    return sel if np.unique(sel).size == sel.size else None


class _Bank:
    """Shared state handling: per-model arrays xs[j] (n, d_j), Ps[j] (n, d_j, d_j)."""

    #: spherical update: "ekf" or "ukf" (see track.filters.update_spherical), or "cmkf"
    #: (the converted-measurement filter, track.converted.update_spherical)
    method = "ekf"

    def _sph_update(self, x, P, idx, z, R):
        if self.method == "cmkf":
            return converted.update_spherical(x, P, idx, z, R)
        return filters.update_spherical(x, P, idx, z, R, method=self.method)

    def __init__(self, models: Sequence[ModelSpec]):
        self.models = list(models)
        if not self.models:
            raise ConfigError("a filter needs at least one motion model")
        self.xs = [np.zeros((0, m.dim)) for m in self.models]
        self.Ps = [np.zeros((0, m.dim, m.dim)) for m in self.models]
        self.union = np.unique(np.concatenate([m.common_index for m in self.models]))
        self.out_pos = [np.searchsorted(self.union, m.common_index) for m in self.models]

    @property
    def n(self) -> int:
        return self.xs[0].shape[0]

    @property
    def dim(self) -> int:
        return int(self.union.size)

    def _init_model(self, j: int, x6: np.ndarray, P6: np.ndarray):
        m = self.models[j]
        k = x6.shape[0]
        x = np.zeros((k, m.dim))
        P = np.zeros((k, m.dim, m.dim))
        x[:, :6], P[:, :6, :6] = x6, P6
        for a, c in enumerate(m.common_index):
            if c >= 6:
                P[:, a, a] = (INIT_SIGMA_ACCEL if c < 9 else INIT_SIGMA_OMEGA) ** 2
        return x, P

    def add(self, x6: np.ndarray, P6: np.ndarray) -> None:
        """Start k tracks from position/velocity estimates x6 (k, 6), P6 (k, 6, 6)."""
        x6 = np.asarray(x6, np.float64).reshape(-1, 6)
        P6 = np.asarray(P6, np.float64).reshape(-1, 6, 6)
        for j in range(len(self.models)):
            x, P = self._init_model(j, x6, P6)
            self.xs[j] = np.ascontiguousarray(np.concatenate([self.xs[j], x]))
            self.Ps[j] = np.ascontiguousarray(np.concatenate([self.Ps[j], P]))
        self._added(x6.shape[0])
        self._est = None

    def keep(self, mask: np.ndarray) -> None:
        """Drop the tracks where ``mask`` is False."""
        self.xs = [np.ascontiguousarray(x[mask]) for x in self.xs]
        self.Ps = [np.ascontiguousarray(P[mask]) for P in self.Ps]
        self._kept(mask)
        self._est = None

    def _update_models(self, idx, z, R):
        """Update every model's rows idx; returns loglik (r, k) and status (r, k)."""
        lls, sts = [], []
        for j in range(len(self.models)):
            _, ll, st = self._sph_update(self.xs[j], self.Ps[j], idx, z, R)
            lls.append(ll)
            sts.append(st)
        return np.array(lls).reshape(len(self.models), -1), np.array(sts).reshape(len(self.models), -1)

    def gate_spherical(self, z, R, gate=None, with_loglik: bool = False):
        """NIS (n, k) of every track/detection pair within ``gate`` on the combined
        position/velocity estimate (and their log-likelihoods with ``with_loglik``)."""
        x, P, _ = self.estimate()
        return filters.gate_spherical(np.ascontiguousarray(x[:, :6]),
                                      np.ascontiguousarray(P[:, :6, :6]), z, R, gate,
                                      with_loglik)

    def gate_spherical_pairs(self, z, R, gate=None):
        """The gated pairs of ``gate_spherical`` (ti, dj, nis, loglik), sorted by track
        then detection, without the dense matrices (filters.gate_spherical_pairs)."""
        x, P, _ = self.estimate()
        return filters.gate_spherical_pairs(np.ascontiguousarray(x[:, :6]),
                                            np.ascontiguousarray(P[:, :6, :6]), z, R, gate)

    def _mixture_models(self, trk, det, beta, beta0, z, R):
        """JPDA/PDA update of every model by mixture reduction.

        For each (track, detection) hypothesis the model is updated with that detection
        (the batched kernel over all pairs at once); the track's new estimate is the
        moment-matched mixture of the no-detection prior (weight β₀) and the hypotheses
        (weights β), x = Σ βₕ xₕ, P = Σ βₕ [Pₕ + (xₕ − x)(xₕ − x)ᵀ]. This is the JPDA
        update of Fortmann et al. (1983) and reduces to its closed form when every
        detection has the same R; it stays exact for per-detection covariances.
        Returns per model (loglik (p,), ok (p,)) of the pair updates."""
        trk = np.asarray(trk, np.int64)
        if trk.size < 2 or bool((trk[1:] >= trk[:-1]).all()):   # sorted (np.nonzero order)
            tracks = trk[np.r_[True, trk[1:] != trk[:-1]]] if trk.size else trk
        else:
            tracks = np.unique(trk)
        out = []
        for j in range(len(self.models)):
            xh = np.ascontiguousarray(self.xs[j][trk])
            Ph = np.ascontiguousarray(self.Ps[j][trk])
            _, ll, st = self._sph_update(xh, Ph, np.arange(len(trk)), z[det], R[det])
            ok = st == filters.UPDATED
            w = np.where(ok, beta, 0.0)
            n = self.n
            tot = beta0.copy()
            np.add.at(tot, trk, w)
            tot = np.where(tot > 0, tot, 1.0)
            x0, P0 = self.xs[j], self.Ps[j]
            xm = beta0[:, None] * x0
            np.add.at(xm, trk, w[:, None] * xh)
            xm /= tot[:, None]
            d0 = x0 - xm
            Pm = beta0[:, None, None] * (P0 + d0[:, :, None] * d0[:, None, :])
            dh = xh - xm[trk]
            np.add.at(Pm, trk, w[:, None, None] * (Ph + dh[:, :, None] * dh[:, None, :]))
            Pm /= tot[:, None, None]
            sel = np.zeros(n, bool)
            sel[tracks] = True
            self.xs[j] = np.ascontiguousarray(np.where(sel[:, None], xm, x0))
            Pm = 0.5 * (Pm + np.swapaxes(Pm, 1, 2))
            self.Ps[j] = np.ascontiguousarray(np.where(sel[:, None, None], Pm, P0))
            out.append((ll, ok))
        return tracks, out


class SingleModel(_Bank):
    """One motion model, EKF (or KF) per track; ``estimate`` gives mode probability 1."""

    def __init__(self, model: ModelSpec):
        super().__init__([model])

    def _added(self, k):
        pass

    def _kept(self, mask):
        pass

    def predict(self, dt: float) -> None:
        if self.n:
            self.models[0].predict(self.xs[0], self.Ps[0], dt)

    def update_spherical(self, idx, z, R) -> np.ndarray:
        """Update tracks idx (k,) with spherical z (k, 4), R (k, 4, 4); returns status (k,)."""
        _, st = self._update_models(idx, z, R)
        return st[0]

    def estimate(self):
        return self.xs[0], self.Ps[0], np.ones((self.n, 1))

    def update_jpda(self, trk, det, beta, beta0, z, R, p_d, p_g, clutter_density) -> None:
        """JPDA update: pairs (trk[h], det[h]) with probabilities beta[h]; beta0 (n,) the
        no-detection probability of every track (1 for tracks without pairs)."""
        self._mixture_models(trk, det, beta, beta0, z, R)


class IMM(_Bank):
    """Interacting multiple models over a batch of tracks (see the module documentation).

    ``models``: the ModelSpecs; ``transition``: Π (r, r), rows summing to 1;
    ``mu0``: initial mode probabilities (r,) of a new track (default uniform).

    >>> from xband.track.models import ModelSpec
    >>> imm = IMM([ModelSpec("cv", q=1.0), ModelSpec("ct", q=1.0, q_omega=1e-3)],
    ...           [[0.95, 0.05], [0.05, 0.95]])
    >>> imm.add(np.zeros(6), np.eye(6) * 100.0)
    >>> imm.predict(0.1); x, P, mu = imm.estimate(); x.shape, mu.round(3).tolist()
    ((1, 7), [[0.5, 0.5]])
    """

    def __init__(self, models: Sequence[ModelSpec], transition, mu0=None):
        super().__init__(models)
        r = len(self.models)
        if r > MAX_MODELS:
            raise ConfigError(f"IMM: at most {MAX_MODELS} motion models, got {r}")
        Pi = np.asarray(transition, np.float64)
        if Pi.shape != (r, r) or np.any(Pi < 0) or not np.allclose(Pi.sum(1), 1.0, atol=1e-12):
            raise ConfigError(f"IMM transition matrix: expected ({r}, {r}) with non-negative "
                              f"rows summing to 1, got {Pi.tolist()}")
        self.Pi = Pi
        mu0 = np.full(r, 1.0 / r) if mu0 is None else np.asarray(mu0, np.float64)
        if mu0.shape != (r,) or np.any(mu0 < 0) or not np.isclose(mu0.sum(), 1.0):
            raise ConfigError(f"IMM mu0: expected {r} probabilities summing to 1, got {mu0}")
        self.mu0 = mu0
        self.mu = np.zeros((0, r))
        self.cbar = np.zeros((0, r))
        # index maps for mixing model i into model j's space
        self._maps = {}
        for j, mj in enumerate(self.models):
            for i, mi in enumerate(self.models):
                ci = list(mi.common_index)
                shared = [a for a, c in enumerate(mj.common_index) if c in ci]
                src = [ci.index(mj.common_index[a]) for a in shared]
                own = [a for a, c in enumerate(mj.common_index) if c not in ci]
                self._maps[i, j] = (np.array(shared), np.array(src), np.array(own))
        # the same maps and the output positions as the kernels take them (xband.reference.imm)
        self._dims = np.array([m.dim for m in self.models], np.int64)
        self._mix_maps = np.full((r, r, filters.MAX_DIM), -1, np.int64)
        for (i, j), (shared, src, _) in self._maps.items():
            if shared.size:
                self._mix_maps[i, j, shared] = src
        self._pos = np.zeros((r, filters.MAX_DIM), np.int64)
        for j, p in enumerate(self.out_pos):
            self._pos[j, :p.size] = p
        self._buf = None
        self._kinds = np.array([1 if m.linear(1.0) is None else 0 for m in self.models],
                               np.int64)
        self._pmats = {}

    def _predict_matrices(self, dt: float):
        """Every model's F and Q over dt packed as imm_mix_predict takes them (model j's
        d_j × d_j at Σ_{i<j} d_i²; CT: F unused, Q = ct_noise), cached per dt."""
        got = self._pmats.get(dt)
        if got is None:
            Fs, Qs = [], []
            for m in self.models:
                lin = m.linear(dt)
                if lin is None:
                    Fs.append(np.zeros(m.dim * m.dim))
                    Qs.append(ct_noise(dt, m.q, m.q_omega).ravel())
                else:
                    Fs.append(lin[0].ravel())
                    Qs.append(lin[1].ravel())
            got = (np.ascontiguousarray(np.concatenate(Fs)),
                   np.ascontiguousarray(np.concatenate(Qs)))
            if len(self._pmats) > 16:
                self._pmats.clear()
            self._pmats[dt] = got
        return got

    def _unpack(self, xbuf, Pbuf, n):
        """Per-model views (n, d_j), (n, d_j, d_j) of packed buffers (model-major)."""
        xs, Ps, xo, po = [], [], 0, 0
        for d in self._dims.tolist():
            xs.append(xbuf[n * xo:n * (xo + d)].reshape(n, d))
            Ps.append(Pbuf[n * po:n * (po + d * d)].reshape(n, d, d))
            xo, po = xo + d, po + d * d
        self.xs, self.Ps = xs, Ps
        self._buf = (xbuf, Pbuf, tuple(xs + Ps))

    def _packed(self):
        """The model states as the kernels take them: one packed buffer for the states
        and one for the covariances, ``self.xs[j]``/``self.Ps[j]`` being views into them.
        Re-packs (one copy) when a model's array was replaced (add, keep, JPDA) or is no
        longer a view of the buffers (e.g. after a deep copy)."""
        b = self._buf
        if b is not None:
            xbuf, Pbuf, views = b
            r = len(self.models)
            cur = self.xs + self.Ps
            # the views' base is the array that owns the memory: the buffer itself, or
            # the array it is a slice of (the tracker's scan buffers)
            ox = xbuf if xbuf.base is None else xbuf.base
            oP = Pbuf if Pbuf.base is None else Pbuf.base
            if (len(cur) == len(views) and all(a is v for a, v in zip(cur, views))
                    and all(a.base is ox for a in cur[:r])
                    and all(a.base is oP for a in cur[r:])):
                return xbuf, Pbuf
        n = self.n
        xbuf = np.concatenate([np.ravel(x) for x in self.xs]).astype(np.float64, copy=False)
        Pbuf = np.concatenate([np.ravel(P) for P in self.Ps]).astype(np.float64, copy=False)
        self._unpack(xbuf, Pbuf, n)
        return xbuf, Pbuf

    def _added(self, k):
        self.mu = np.concatenate([self.mu, np.tile(self.mu0, (k, 1))])
        self.cbar = np.concatenate([self.cbar, np.tile(self.mu0, (k, 1))])

    def _kept(self, mask):
        self.mu = self.mu[mask]
        self.cbar = self.cbar[mask]

    def _predict(self, dt: float) -> None:
        """Mix (interaction) and predict every model over dt, in place, in one pass over
        the packed bank (one batched kernel call: xband.reference.imm.imm_mix_predict —
        the arithmetic of imm_mix followed by each model's kf_predict / ct_predict, same
        bits)."""
        if not self.n:
            return
        n, r = self.n, len(self.models)
        dt = float(dt)
        if not np.isfinite(dt):
            raise InputError(f"dt: expected a finite time step, got {dt}")
        xbuf, Pbuf = self._packed()
        F, Q = self._predict_matrices(dt)
        cbar = np.empty((n, r))
        _kernels.get("imm").imm_mix_predict(xbuf, Pbuf, self._dims, self._mix_maps, self.Pi,
                                            np.ascontiguousarray(self.mu, np.float64), cbar,
                                            self._kinds, F, Q, dt)
        self.cbar = cbar
        self.mu = cbar.copy()              # the mode probabilities until a measurement

    def _mode_update(self, idx, ll, st):
        ok = np.all(st == filters.UPDATED, axis=0)
        if not ok.any():
            return
        rows = idx[ok]
        logw = np.log(np.maximum(self.cbar[rows], 1e-300)) + ll[:, ok].T   # (k, r)
        logw -= logw.max(axis=1, keepdims=True)
        mu = np.exp(logw)
        self.mu[rows] = mu / mu.sum(axis=1, keepdims=True)

    def _mode_update_all(self, ll, st):
        """_mode_update of every track from loglik (r, n) and the tracks' status (n,): the
        same operations on every element (log, +, max, −, exp, Σ, /), on the (r, n)
        layout when every track updated, where the max and the sum over the r ≤ 7 models
        are taken row by row in numpy's order for a row that short (sequential), without
        the gathers and the short-axis reductions."""
        ok = st == filters.UPDATED
        r = ll.shape[0]
        if ok.all() and r <= 7:
            logw = np.empty_like(ll)
            np.maximum(self.cbar.T, 1e-300, out=logw)
            np.log(logw, out=logw)
            logw += ll
            m = logw[0].copy()
            for j in range(1, r):
                np.maximum(m, logw[j], out=m)
            logw -= m
            np.exp(logw, out=logw)
            tot = logw[0].copy()
            for j in range(1, r):
                tot += logw[j]
            logw /= tot
            self.mu[...] = logw.T
            return
        rows = np.flatnonzero(ok)
        if not rows.size:
            return
        logw = np.log(np.maximum(self.cbar[rows], 1e-300)) + ll[:, rows].T
        logw -= logw.max(axis=1, keepdims=True)
        mu = np.exp(logw)
        self.mu[rows] = mu / mu.sum(axis=1, keepdims=True)

    def _update_spherical(self, idx, z, R) -> np.ndarray:
        """Update tracks idx with spherical z (k, 4), R (k, 4, 4) in every model and the
        mode probabilities; returns status (k,) (0 when every model updated)."""
        idx = np.ascontiguousarray(idx, np.int64)
        ll, st = self._update_models(idx, z, R)
        self._mode_update(idx, ll, st)
        return st.max(axis=0)

    def _update_jpda(self, trk, det, beta, beta0, z, R, p_d, p_g, clutter_density) -> None:
        """IMM-JPDA update: every model by mixture reduction (see ``_mixture_models``), and
        the mode probabilities by the PDA mode likelihood (Bar-Shalom, Li & Kirubarajan
        2001, §11.7.4 for the IMM-PDAF): Λ_j = 1 − P_D P_G + (P_D/λ) Σ_h ℓ_{j,h}, the sum
        over the track's gated detections."""
        tracks, per_model = self._mixture_models(trk, det, beta, beta0, z, R)
        if not tracks.size:
            return
        r = len(self.models)
        lam = np.empty((tracks.size, r))
        pos = np.searchsorted(tracks, trk)
        for j, (ll, ok) in enumerate(per_model):
            s = np.zeros(tracks.size)
            np.add.at(s, pos, np.where(ok, np.exp(np.clip(ll, -700, 700)), 0.0))
            lam[:, j] = (1.0 - p_d * p_g) + p_d / clutter_density * s
        logw = np.log(np.maximum(self.cbar[tracks], 1e-300)) + np.log(np.maximum(lam, 1e-300))
        logw -= logw.max(axis=1, keepdims=True)
        mu = np.exp(logw)
        self.mu[tracks] = mu / mu.sum(axis=1, keepdims=True)

    def _update_linear(self, z, H6, R) -> np.ndarray:
        """Update every track with a linear measurement z (n, m) = H6 x[:6] + noise, R (n, m,
        m) or (m, m), H6 (m, 6) acting on position/velocity; returns status (n,).

        When H6 selects state components (unit rows, e.g. position [I₃ 0]) every model
        of every track is updated in one batched kernel call (``imm_update_sel``, the
        arithmetic of kf_update model by model: the same bits); any other H6 takes one
        ``filters.update`` per model."""
        H6 = np.asarray(H6, np.float64)
        if H6.ndim != 2 or H6.shape[1] != 6:
            raise InputError(f"H6: expected shape (m, 6), got {H6.shape}")
        sel = _selection(H6)
        if sel is not None:
            n, r = self.n, len(self.models)
            z, _, R = filters._measurement(n, 6, z, H6, R)
            nis, ll = np.empty((r, n)), np.empty((r, n))
            st = np.empty((r, n), np.int8)
            if n:
                xbuf, Pbuf = self._packed()
                _kernels.get("imm").imm_update_sel(xbuf, Pbuf, self._dims, sel, z, R, nis,
                                                   ll, st)
            st = st.max(axis=0)
            self._mode_update_all(ll, st)
            return st
        lls, sts = [], []
        for j, m in enumerate(self.models):
            H = np.zeros((H6.shape[0], m.dim))
            H[:, :6] = H6
            _, ll, st = filters.update(self.xs[j], self.Ps[j], z, H, R)
            lls.append(ll)
            sts.append(st)
        ll, st = np.array(lls), np.array(sts)
        self._mode_update(np.arange(self.n), ll, st)
        return st.max(axis=0)

    def _changed(self):
        self._est = None

    def estimate(self):
        """Combined (x (n, D), P (n, D, D), μ (n, r)) in the union space of the models
        (computed once per change of the bank's state; treat the arrays as read-only)."""
        if getattr(self, "_est", None) is None:
            self._est = self._combine()
        return self._est

    def _combine(self):
        n, D = self.n, self.dim
        x, P = np.zeros((n, D)), np.zeros((n, D, D))
        if n:
            xbuf, Pbuf = self._packed()
            _kernels.get("imm").imm_combine(xbuf, Pbuf, self._dims, self._pos,
                                            np.ascontiguousarray(self.mu, np.float64), x, P)
        return x, P, self.mu.copy()

    # every method that changes the state drops the cached estimate
    def predict(self, dt: float) -> None:
        self._changed()
        self._predict(dt)

    def update_spherical(self, idx, z, R) -> np.ndarray:
        self._changed()
        return self._update_spherical(idx, z, R)

    def update_linear(self, z, H6, R) -> np.ndarray:
        self._changed()
        return self._update_linear(z, H6, R)

    def update_jpda(self, *args) -> None:
        self._changed()
        self._update_jpda(*args)
