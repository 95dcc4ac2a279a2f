"""One whole GNN tracker scan per call — numpy twin of ext/scan.pyx.

The steps of xband.track.tracker's scan over a packed bank of n tracks (layout of
xband.reference.imm: the r models' states model-major; mu, cbar (n, r); book (5, ≥ n)
int64 rows id, hits, age, misses, confirmed):

1. detections: range must be finite; angles and range rate may be NaN (left out of the
   gate and the update); ±inf anywhere, or a non-finite entry of R between present
   components (a variance or a covariance), rejects the detection (counted). The gate of a detection is the χ² value of
   ``gates[dof]`` with dof its number of present components;
2. prediction over dt (when dt > 0): IMM interaction and model-matched prediction
   (``imm_mix_predict``; one model with Π = [[1]] is the plain prediction), then μ = c̄;
3. gate on the combined estimate (``imm_combine``, position and velocity block) with
   ``sph_gate``; a pair is worth taking when NIS ≤ γ and NIS/γ < 1;
4. GNN: the assignment minimising Σ NIS/γ over the pairs + 1 per track without one
   (``assign_sparse``);
5. the spherical EKF update of every model of each assigned track (``ekf_update_sph``);
   a track is hit when every model updated; its mode probabilities μ_j ∝ c̄_j Λ_j;
6. management on the updated combined estimate: hits ← (hits ≪ 1 | hit) & (2^N − 1),
   age + 1, misses (0 on a hit); confirmed when popcount(hits) ≥ M; a tentative track is
   dropped when it can no longer reach M of N, a confirmed one after ``delete_misses``
   consecutive misses or when √tr P_pos > ``delete_sigma``;
7. the survivors, compacted in order, then one new track per free detection with finite
   angles: position from the measurement, covariance J R_pos Jᵀ, velocity the radial
   velocity vector (0 without a range rate) with σ = ``init_speed_sigma`` per axis, the
   other components of each model 0 with variance ``init_var``; μ = c̄ = μ₀; ids
   next_id, next_id + 1, …

Outputs: xo, Po, muo, cbo, booko (the next state, packed for n' tracks), xc, Pc (the
combined estimates), counts (6,) = rejected, updates, skipped updates, confirmed,
deleted, initiated; returns n'.
"""
from __future__ import annotations

import numpy as np

from .assign import assign_sparse
from .imm import _views, imm_combine, imm_mix_predict
from .kalman import ekf_update_sph, sph_gate


class GnnScan:
    """The scan's constants (see ext/scan.pyx ``GnnScan``); the twin keeps no scratch."""

    def __init__(self, dims, maps, Pi, kinds, pos, mu0, init_var, gates, confirm_m,
                 confirm_n, delete_misses, delete_sigma, init_speed_sigma):
        self.args = (dims, maps, Pi, kinds, pos, mu0, init_var, gates, confirm_m, confirm_n,
                     delete_misses, delete_sigma, init_speed_sigma)
        self.dims = np.ascontiguousarray(dims, np.int64)
        self.maps = np.ascontiguousarray(maps, np.int64)
        self.Pi = np.ascontiguousarray(Pi, np.float64)
        self.kinds = np.ascontiguousarray(kinds, np.int64)
        self.pos = np.ascontiguousarray(pos, np.int64)
        self.mu0 = np.ascontiguousarray(mu0, np.float64)
        self.init_var = np.ascontiguousarray(init_var, np.float64)
        self.gates = np.ascontiguousarray(gates, np.float64)
        self.r = self.dims.shape[0]
        if not 1 <= self.r <= 8:
            raise ValueError(f"GnnScan: 1 to 8 models, got {self.r}")
        self.D = 1 + int(max(self.pos[j, :self.dims[j]].max() for j in range(self.r)))
        if (self.init_var.shape[0] != int(self.dims.sum()) or self.gates.shape[0] != 5
                or self.mu0.shape[0] != self.r):
            raise ValueError("GnnScan: init_var (Σ d_j,), gates (5,) and mu0 (r,) expected")
        if not 1 <= int(confirm_m) <= int(confirm_n) <= 62:
            raise ValueError(f"GnnScan: 1 <= confirm_m <= confirm_n <= 62 expected, got "
                             f"{confirm_m}, {confirm_n}")
        self.confirm_m, self.confirm_n = int(confirm_m), int(confirm_n)
        self.window = (1 << int(confirm_n)) - 1
        self.delete_misses, self.delete_sigma = int(delete_misses), float(delete_sigma)
        self.init_speed_var = float(init_speed_sigma) ** 2

        self.bound = self.bound_matrices = None

    def bind_buffers(self, x0, P0, mu0, cbar0, book0, x1, P1, mu1, cbar1, book1, counts,
                     key=None):
        """The two state buffers and counts for ``scan_bound`` (see ext/scan.pyx)."""
        if counts.shape[0] < 6:
            raise ValueError("GnnScan.bind_buffers: counts needs 6 entries")
        self._slots = ((x0, P0, mu0, cbar0, book0), (x1, P1, mu1, cbar1, book1))
        self._counts = counts
        self.bound = key

    def bind_matrices(self, F, Q, key=None):
        """The models' F, Q for ``scan_bound``."""
        n = int((self.dims ** 2).sum())
        if F.shape[0] != n or Q.shape[0] != n:
            raise ValueError(f"GnnScan.bind_matrices: F and Q of {n} entries expected")
        self._FQ = (F, Q)
        self.bound_matrices = key

    @property
    def dim(self):
        """Dimension of the combined (union) state."""
        return self.D


def _new_tracks(s: GnnScan, z: np.ndarray, R: np.ndarray):
    """Per-model initial states (lists of (m, d_j), (m, d_j, d_j)) of new tracks."""
    m = z.shape[0]
    rng, az, el, rr = z[:, 0], z[:, 1], z[:, 2], z[:, 3]
    ce = np.cos(el)
    u = np.stack([ce * np.sin(az), ce * np.cos(az), np.sin(el)], axis=1)
    x6 = np.zeros((m, 6))
    x6[:, :3] = rng[:, None] * u
    x6[:, 3:] = np.where(np.isnan(rr)[:, None], 0.0, rr[:, None] * u)
    ca, sa, se = np.cos(az), np.sin(az), np.sin(el)
    rce, nrse = rng * ce, -rng * se
    J = np.stack([ce * sa, rce * ca, nrse * sa, ce * ca, -rce * sa, nrse * ca,
                  se, np.zeros_like(rng), rce], axis=1).reshape(m, 3, 3)
    P6 = np.zeros((m, 6, 6))
    P6[:, :3, :3] = J @ R[:, :3, :3] @ np.swapaxes(J, 1, 2)
    P6[:, 3:, 3:] = np.eye(3) * s.init_speed_var
    xs, Ps, o = [], [], 0
    for d in (int(v) for v in s.dims):
        x = np.zeros((m, d))
        P = np.zeros((m, d, d))
        x[:, :6], P[:, :6, :6] = x6, P6
        for a in range(6, d):
            P[:, a, a] = s.init_var[o + a]
        xs.append(x)
        Ps.append(P)
        o += d
    return xs, Ps


def scan_step(s, x, P, mu, cbar, book, z, R, F, Q, dt, xo, Po, muo, cbo, booko, xc, Pc,
              next_id, counts):
    """One GNN scan (see the module doc); returns the number of tracks after it."""
    n, r = mu.shape
    k = z.shape[0]
    dims = s.dims
    counts[:6] = 0
    # 1. detections
    comp = np.isfinite(z)
    pair = comp[:, :, None] & comp[:, None, :]
    valid = (comp[:, 0] & np.all(comp | np.isnan(z), axis=1)
             & np.all(np.isfinite(R) | ~pair, axis=(1, 2)))
    counts[0] = int(np.count_nonzero(~valid))
    gate = s.gates[np.maximum(comp.sum(axis=1), 1)]
    # 2. prediction
    if n and dt > 0.0:
        imm_mix_predict(x, P, dims, s.maps, s.Pi, mu, cbar, s.kinds, F, Q, dt)
        mu[:] = cbar
    D = s.D
    xcur, Pcur = np.zeros((n, D)), np.zeros((n, D, D))
    if n:
        imm_combine(x, P, dims, s.pos, mu, xcur, Pcur)
    # 3.–4. gate and assignment
    r2c = np.full(n, -1, np.int64)
    vi = np.flatnonzero(valid)
    if n and vi.size:
        nis, ll = np.empty((n, vi.size)), np.empty((n, vi.size))
        sph_gate(np.ascontiguousarray(xcur[:, :6]), np.ascontiguousarray(Pcur[:, :6, :6]),
                 np.ascontiguousarray(z[vi]), np.ascontiguousarray(R[vi]), gate[vi], nis, ll)
        with np.errstate(invalid="ignore"):
            cost = nis / gate[vi][None, :]
            ok = np.isfinite(nis) & (nis <= gate[vi][None, :]) & (cost < 1.0)
        ti, dj = np.nonzero(ok)
        row_ptr = np.zeros(n + 1, np.int64)
        row_ptr[1:] = np.cumsum(np.bincount(ti, minlength=n))
        if ti.size:
            assign_sparse(row_ptr, vi[dj].astype(np.int64), cost[ti, dj], np.ones(n), k, r2c)
    # 5. updates and mode probabilities
    hit = np.zeros(n, bool)
    rows = np.flatnonzero(r2c >= 0)
    assigned = np.zeros(k, bool)
    if rows.size:
        cols = r2c[rows]
        assigned[cols] = True
        xs, Ps = _views(x, P, dims, n)
        zc, Rc = np.ascontiguousarray(z[cols]), np.ascontiguousarray(R[cols])
        lls = np.empty((r, rows.size))
        sts = np.empty((r, rows.size), np.int8)
        for j in range(r):
            ekf_update_sph(xs[j], Ps[j], rows, zc, Rc, np.empty(rows.size), lls[j], sts[j])
        done = sts.max(axis=0) == 0
        counts[1] = int(np.count_nonzero(done))
        counts[2] = rows.size - counts[1]
        hit[rows[done]] = True
        if r > 1 and done.any():
            upd = rows[done]
            logw = np.log(np.maximum(cbar[upd], 1e-300)) + lls[:, done].T
            logw -= logw.max(axis=1, keepdims=True)
            w = np.exp(logw)
            mu[upd] = w / w.sum(axis=1, keepdims=True)
    if n:
        imm_combine(x, P, dims, s.pos, mu, xcur, Pcur)
    # 6. management
    hits = ((book[1, :n] << 1) | hit) & s.window
    age = book[2, :n] + 1
    misses = np.where(hit, 0, book[3, :n] + 1)
    score = np.bitwise_count(hits)
    conf = book[4, :n].copy()
    newly = (score >= s.confirm_m) & (conf == 0)
    counts[3] = int(np.count_nonzero(newly))
    conf[newly] = 1
    drop = ((np.maximum(s.confirm_n - 1 - age, 0) + score) < s.confirm_m) & (conf == 0)
    if n:
        sig = np.sqrt(Pcur[:, 0, 0] + Pcur[:, 1, 1] + Pcur[:, 2, 2])
        drop |= ((misses >= s.delete_misses) | (sig > s.delete_sigma)) & (conf == 1)
    counts[4] = int(np.count_nonzero(drop))
    keep = np.flatnonzero(~drop)
    # 7. survivors then new tracks
    free = np.flatnonzero(valid & ~assigned & np.isfinite(z[:, 1]) & np.isfinite(z[:, 2]))
    kept, nf = keep.size, free.size
    n2 = kept + nf
    counts[5] = nf
    xs_new, Ps_new = _new_tracks(s, z[free], R[free]) if nf else ([], [])
    xs_old, Ps_old = _views(x, P, dims, n)
    xs_out, Ps_out = _views(xo, Po, dims, n2)
    for j in range(r):
        xs_out[j][:kept] = xs_old[j][keep]
        Ps_out[j][:kept] = Ps_old[j][keep]
        if nf:
            xs_out[j][kept:] = xs_new[j]
            Ps_out[j][kept:] = Ps_new[j]
    muo[:kept], cbo[:kept] = mu[keep], cbar[keep]
    muo[kept:n2], cbo[kept:n2] = s.mu0, s.mu0
    booko[:, :kept] = np.stack([book[0, :n][keep], hits[keep], age[keep], misses[keep],
                                conf[keep]])
    booko[0, kept:n2] = next_id + np.arange(nf)
    booko[1, kept:n2] = 1
    booko[2:, kept:n2] = 0
    xc[:kept], Pc[:kept] = xcur[keep], Pcur[keep]
    if nf:
        tx = np.concatenate([a.ravel() for a in xs_new])
        tP = np.concatenate([a.ravel() for a in Ps_new])
        xcn, Pcn = np.zeros((nf, D)), np.zeros((nf, D, D))
        imm_combine(tx, tP, dims, s.pos, np.tile(s.mu0, (nf, 1)), xcn, Pcn)
        xc[kept:n2], Pc[kept:n2] = xcn, Pcn
    return n2


def scan_bound(s, cur, n, z, R, dt, xc, Pc, next_id):
    """scan_step on the buffers bound by ``s.bind_buffers`` and ``s.bind_matrices``: the
    bank of n tracks in slot ``cur``, the next state into the other slot."""
    if s.bound is None or s.bound_matrices is None:
        raise ValueError("scan_bound: bind_buffers and bind_matrices first")
    if cur not in (0, 1):
        raise ValueError(f"scan_bound: slot 0 or 1, got {cur}")
    (x, P, mu, cbar, book), out = s._slots[cur], s._slots[1 - cur]
    sd, sdd = int(s.dims.sum()), int((s.dims ** 2).sum())
    if n < 0 or x.shape[0] < n * sd or P.shape[0] < n * sdd or mu.shape[0] < n:
        raise ValueError(f"scan_bound: slot {cur} holds fewer than {n} tracks")
    F, Q = s._FQ
    return scan_step(s, x[:n * sd], P[:n * sdd], mu[:n], cbar[:n], book, z, R, F, Q, dt,
                     *out, xc, Pc, next_id, s._counts)
