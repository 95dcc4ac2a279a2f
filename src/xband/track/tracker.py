"""Scan-by-scan multi-target tracker: predict → gate → associate (GNN) → update →
delete → initiate, over arrays of tracks.

* Filter: an IMM over the configured motion models (default CV, CA and coordinated turn,
  ``[tracker] filter = "imm"``) or a single constant-velocity EKF (``filter = "ekf"``),
  all on spherical measurements with Joseph-form EKF updates (or unscented ones,
  ``update = "ukf"``, or converted-measurement ones, ``update = "cmkf"``: track.converted)
  in the batched kernels
  (track.imm, track.models, ext/kalman.pyx). Gating uses the combined estimate.
* Gating: ellipsoidal χ² gate on the normalised innovation squared, with the gate
  probability of ``[tracker] gate_probability`` and as many degrees of freedom as the
  detection has usable components.
* Association (``[tracker] association``): global nearest neighbour
  (track.association.gnn) — the assignment minimising Σ NIS/γ over gated pairs plus 1 per
  track left without a detection — or JPDA: exact association probabilities per cluster
  of shared gates (P_D, P_G, clutter density λ from the config) and the mixture-reduction
  update of every gated pair (track.imm); with JPDA a detection inside any gate starts no
  new track.
* Initiation: every unassociated detection with a finite range and angles starts a
  tentative track (position from the measurement with its converted covariance J R Jᵀ,
  velocity = the radial velocity vector, σ_v = ``init_speed_sigma_mps`` per axis).
* Confirmation: M of the last N scans with an associated detection (``confirm_m``,
  ``confirm_n``). Deletion: a tentative track that can no longer reach M of N; a confirmed
  track after ``delete_misses`` consecutive misses or when its position σ exceeds
  ``delete_sigma_m``.
* Missing components are NaN: angles (a sum-only receiver) or the range rate (a plot
  without a Doppler measurement, e.g. an ASTERIX CAT048 plot without I048/120) are left
  out of the gate and the update, and a track initiated from a plot without a range rate
  starts at zero velocity with σ_v = ``init_speed_sigma_mps``. Non-finite detections
  (NaN/inf range, ±inf anywhere, or a non-finite entry of R between present components:
  a variance or a covariance) are counted in ``stats["rejected_nonfinite"]`` and never
  touch a track.

Stable IDs: a track keeps its id from initiation to deletion; ids are never reused.

One call per scan: with GNN association and EKF updates (the defaults) the whole scan —
prediction, gate, assignment, updates, mode probabilities, confirmation, deletion and
initiation — runs in one kernel call (``scan.scan_step``, ext/scan.pyx, twin
xband.reference.scan) over the bank's packed arrays, which the tracker double-buffers;
the bank object is kept in step with them after every scan. JPDA and the unscented and
converted-measurement updates take the per-stage path below (``_step_stages``), which
computes the same steps with one kernel call per stage.
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaincinv   # not scipy.stats: its import costs ~1 s per process

from .. import _kernels
from ..config import Tracker as TrackerConfig
from ..errors import InputError
from ..radar.measure import cart_of
from ..types import Detections, Tracks
from . import filters  # noqa: F401  (status codes)
from .association import gnn, gnn_pairs
from .jpda import jpda_probabilities
from .imm import IMM, INIT_SIGMA_ACCEL, INIT_SIGMA_OMEGA, SingleModel
from .models import ModelSpec

DIM = 6
#: From this many track × detection cells on, GNN scans gate sparsely (pairs only).
SPARSE_GATE_MIN = 20_000


def make_bank(cfg: TrackerConfig):
    """The filter bank a tracker config asks for (SingleModel CV EKF or IMM)."""
    specs = {"cv": ModelSpec("cv", q=cfg.process_noise),
             "ca": ModelSpec("ca", q=cfg.accel_noise),
             "ct": ModelSpec("ct", q=cfg.process_noise, q_omega=cfg.turn_rate_noise),
             "singer": ModelSpec("singer", sigma_a=cfg.singer_sigma_mps2,
                                 tau_m=cfg.singer_tau_s)}
    if cfg.filter == "ekf":
        bank = SingleModel(specs["cv"])
    else:
        r = len(cfg.imm_models)
        stay = cfg.imm_stay_probability
        Pi = np.full((r, r), (1.0 - stay) / max(r - 1, 1))
        np.fill_diagonal(Pi, stay if r > 1 else 1.0)
        bank = IMM([specs[k] for k in cfg.imm_models], Pi)
    bank.method = cfg.update
    return bank


def _sph_pos_cov(z: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Covariance (k, 3, 3) of the Cartesian position of spherical measurements z (k, 4)
    by first-order propagation J R_pos Jᵀ, J = ∂(x, y, z)/∂(r, az, el)."""
    r, az, el = z[:, 0], z[:, 1], z[:, 2]
    ca, sa, ce, se = np.cos(az), np.sin(az), np.cos(el), np.sin(el)
    # the products of the plain formulas, shared where they coincide to the bit
    # ((-r)·c = -(r·c) exactly); J filled row-major in one stack
    rce, nrse = r * ce, -r * se
    J = np.stack([ce * sa, rce * ca, nrse * sa,
                  ce * ca, -rce * sa, nrse * ca,
                  se, np.zeros_like(r), rce], axis=1).reshape(-1, 3, 3)
    return J @ R[:, :3, :3] @ np.swapaxes(J, 1, 2)


class Tracker:
    """Run ``step(detections)`` once per scan; it returns every live track (tentative and
    confirmed, see ``Tracks.confirmed``) at the scan time."""

    def __init__(self, cfg: TrackerConfig):
        self.cfg = cfg
        self._bank = make_bank(cfg)
        self._stale = False            # the bank lags the scan kernel's buffers
        # per-track bookkeeping in one preallocated block, grown geometrically: rows id,
        # hits (bit k: hit k scans ago, bit 0 = this scan), age (scans since initiation),
        # misses (consecutive), confirmed (0/1); columns 0..n-1 are the live tracks
        self._book = np.zeros((5, 16), np.int64)
        self._n = 0
        self.t = None
        self._next_id = 1
        self._window = (1 << cfg.confirm_n) - 1
        # χ² gate by dof: chi2.ppf(P, dof) = 2·gammaincinv(dof/2, P), as scipy.stats
        # computes it (the same bits); dof 0 has no gate
        self._gates = 2 * gammaincinv(np.arange(5) / 2, cfg.gate_probability)
        self._gates[0] = np.nan
        self.stats = {"scans": 0, "initiated": 0, "confirmed": 0, "deleted": 0,
                      "rejected_nonfinite": 0, "updates": 0, "skipped_updates": 0,
                      "jpda_fallbacks": 0}
        self._fast = cfg.association == "gnn" and cfg.update == "ekf"
        if self._fast:
            self._fast_init()

    # ------------------------------------------------------------------ helpers
    # views of the bookkeeping block (live tracks only)
    id = property(lambda self: self._book[0, :self._n])
    hits = property(lambda self: self._book[1, :self._n])
    age = property(lambda self: self._book[2, :self._n])
    misses = property(lambda self: self._book[3, :self._n])
    confirmed = property(lambda self: self._book[4, :self._n].astype(bool))

    def _keep(self, mask: np.ndarray) -> None:
        self.bank.keep(mask)
        kept = self._book[:, :self._n][:, mask]
        self._n = kept.shape[1]
        self._book[:, :self._n] = kept

    def _grow(self, m: int) -> None:
        """Room for m more tracks in the bookkeeping block (capacity doubled as needed)."""
        need = self._n + m
        cap = self._book.shape[1]
        if need > cap:
            book = np.zeros((5, max(need, 2 * cap)), np.int64)
            book[:, :self._n] = self._book[:, :self._n]
            self._book = book

    def tracks(self) -> Tracks:
        """Every live track at the last scan time (combined estimate, mode probabilities)."""
        n = self._n
        x, P, mu = self.bank.estimate()
        # fresh C-contiguous copies of arrays the tracker owns, of the documented dtypes
        # and shapes: built without Tracks' own coercion and checks (the same arrays)
        tr = Tracks.__new__(Tracks)
        tr.id = self._book[0, :n].copy()
        tr.t = np.full(n, self.t if self.t is not None else 0.0)
        tr.x, tr.P, tr.mode_probs = x.copy(), P.copy(), mu.copy()
        tr.confirmed = self._book[4, :n].astype(bool)
        return tr

    # ------------------------------------------------------------------ the loop
    def step(self, dets: Detections, t: float | None = None) -> Tracks:
        """Process one scan of detections taken at time ``t`` (default: ``dets.t[0]``)."""
        if t is None:
            if len(dets) == 0:
                raise InputError("Tracker.step: an empty scan needs its time t")
            t = float(dets.t[0])
        if not np.isfinite(t):
            raise InputError(f"Tracker.step: the scan time t must be finite, got {t}")
        if self.t is not None and t < self.t:
            raise InputError(f"Tracker.step: scan time {t} s is before the last one {self.t} s")
        if self._fast:
            return self._step_scan(dets, t)
        return self._step_stages(dets, t)

    # ------------------------------------------------------- one kernel call per scan
    def _fast_init(self) -> None:
        """The scan kernel's constants (the bank's models and the management settings)
        and the double-buffered state arrays."""
        cfg, bank = self.cfg, self._bank
        r = len(bank.models)
        if isinstance(bank, IMM):
            dims, maps, Pi = bank._dims, bank._mix_maps, bank.Pi
            kinds, pos, mu0 = bank._kinds, bank._pos, bank.mu0
        else:
            dims = np.array([bank.models[0].dim], np.int64)
            maps = np.full((1, 1, filters.MAX_DIM), -1, np.int64)
            maps[0, 0, :dims[0]] = np.arange(dims[0])
            Pi, mu0 = np.ones((1, 1)), np.ones(1)
            kinds = np.array([1 if bank.models[0].linear(1.0) is None else 0], np.int64)
            pos = np.zeros((1, filters.MAX_DIM), np.int64)
            pos[0, :dims[0]] = bank.out_pos[0]
        init_var = np.concatenate([
            [0.0 if c < 6 else (INIT_SIGMA_ACCEL if c < 9 else INIT_SIGMA_OMEGA) ** 2
             for c in m.common_index] for m in bank.models])
        self._scan = _kernels.get("scan").GnnScan(
            dims, maps, Pi, kinds, pos, mu0, init_var, self._gates, cfg.confirm_m,
            cfg.confirm_n, cfg.delete_misses, cfg.delete_sigma_m, cfg.init_speed_sigma_mps)
        self._r, self._D = r, bank.dim
        self._sd = int(dims.sum())
        self._sdd = int((dims * dims).sum())
        self._pm: dict = {}
        self._imm = isinstance(bank, IMM)
        self._kernel = _kernels.get("scan")
        self._counts = np.zeros(6, np.int64)
        self._bufs = [self._new_bufs(16), self._new_bufs(16)]
        self._cur = 0
        self._synced = None

    def _new_bufs(self, cap: int) -> dict:
        return {"x": np.empty(cap * self._sd), "P": np.empty(cap * self._sdd),
                "mu": np.empty((cap, self._r)), "cbar": np.empty((cap, self._r)),
                "book": np.zeros((5, cap), np.int64), "cap": cap}

    def _matrices(self, dt: float):
        """Every model's F and Q over dt, packed as the scan kernel takes them."""
        if self._imm:
            return self._bank._predict_matrices(dt)
        got = self._pm.get(dt)
        if got is None:
            F, Q = self._bank.models[0].linear(dt)
            got = (np.ascontiguousarray(F, np.float64).ravel(),
                   np.ascontiguousarray(Q, np.float64).ravel())
            if len(self._pm) > 16:
                self._pm.clear()
            self._pm[dt] = got
        return got

    @property
    def bank(self):
        """The filter bank (track.imm's IMM or SingleModel) holding every live track. After
        a scan of the one-call path it is brought up to date with the kernel's buffers on
        first access (views, no copies)."""
        if self._stale:
            self._sync_bank(self._n)
        return self._bank

    def _bank_marker(self) -> tuple:
        b = self._bank
        return (b.xs[0], b.Ps[0], getattr(b, "mu", None), getattr(b, "cbar", None), self._book)

    def _is_synced(self) -> bool:
        """True when the scan kernel's buffers hold the current state: the bank lags
        them, or it views them and was not changed since."""
        if self._stale:
            return True
        m = self._synced
        if m is None:
            return False
        b = self._bank
        return (b.xs[0] is m[0] and b.Ps[0] is m[1] and getattr(b, "mu", None) is m[2]
                and getattr(b, "cbar", None) is m[3] and self._book is m[4])

    def _load_bank(self) -> None:
        """Copy the bank's state into the current buffers (it was changed outside the
        scan kernel, or never synced)."""
        n, bank = self._bank.n, self._bank
        buf = self._bufs[self._cur]
        if buf["cap"] < n:
            buf = self._bufs[self._cur] = self._new_bufs(max(16, 2 * n))
        o = op = 0
        for x, P in zip(bank.xs, bank.Ps):
            d = x.shape[1]
            buf["x"][n * o:n * (o + d)] = x.ravel()
            buf["P"][n * op:n * (op + d * d)] = P.ravel()
            o, op = o + d, op + d * d
        buf["mu"][:n] = bank.mu if isinstance(bank, IMM) else 1.0
        buf["cbar"][:n] = bank.cbar if isinstance(bank, IMM) else 1.0
        buf["book"][:, :n] = self._book[:, :n]
        self._sync_bank(n)

    def _sync_bank(self, n: int) -> None:
        """Point the bank (and the bookkeeping views) at the current buffers."""
        buf, bank = self._bufs[self._cur], self._bank
        x, P = buf["x"][:n * self._sd], buf["P"][:n * self._sdd]
        if self._imm:
            bank._unpack(x, P, n)
            bank.mu, bank.cbar = buf["mu"][:n], buf["cbar"][:n]
        else:
            d = self._sd
            bank.xs, bank.Ps = [x.reshape(n, d)], [P.reshape(n, d, d)]
        bank._est = None
        self._book, self._n = buf["book"], n
        self._stale = False
        self._synced = self._bank_marker()

    def __getstate__(self):
        st = dict(self.__dict__)
        if self._fast:
            st.pop("_kernel", None)                  # a module: looked up again
            # the scan object by its constants: rebuilt from the loading machine's kernels
            # (a pickle from an AVX2 build must load where only the baseline runs)
            st["_scan"] = ("GnnScan", self._scan.args)
            st["_synced"] = None
            st["_resync"] = self._is_synced() and not self._stale
        return st

    def __setstate__(self, st):
        resync = st.pop("_resync", False)
        self.__dict__.update(st)
        if self._fast:
            self._kernel = _kernels.get("scan")
            if isinstance(self._scan, tuple):
                self._scan = self._kernel.GnnScan(*self._scan[1])
            if resync:
                self._sync_bank(self._n)

    def __deepcopy__(self, memo):
        import copy

        new = Tracker.__new__(Tracker)
        memo[id(self)] = new
        for key, val in self.__dict__.items():
            if key == "_kernel":                 # a module: shared
                new._kernel = val
            elif key != "_synced":
                setattr(new, key, copy.deepcopy(val, memo))
        new._synced = None
        if new._fast and self._is_synced() and not self._stale:
            # the copies of the buffers hold the state; point the copied bank at them
            new._sync_bank(new._n)
        if new._fast:
            new._bind_scan()                     # a copy is ready to run
        return new

    def _bind_scan(self) -> None:
        """Bind the double buffers and the counts to the scan kernel, unless they are (a
        scan_bound call then converts 4 arrays, not 17: ≈ 5 µs less per scan)."""
        sc, b0, b1, counts = self._scan, self._bufs[0], self._bufs[1], self._counts
        key = sc.bound
        if key is None or key[0] is not b0 or key[1] is not b1 or key[2] is not counts:
            sc.bind_buffers(b0["x"], b0["P"], b0["mu"], b0["cbar"], b0["book"], b1["x"],
                            b1["P"], b1["mu"], b1["cbar"], b1["book"], counts,
                            (b0, b1, counts))

    def _step_scan(self, dets: Detections, t: float) -> Tracks:
        if not self._is_synced():
            self._load_bank()
        n = self._n
        k = len(dets.range)
        z = np.empty((k, 4))                     # dets.z without np.stack's overhead
        z[:, 0], z[:, 1], z[:, 2], z[:, 3] = dets.range, dets.az, dets.el, dets.range_rate
        R = dets.R
        if not (R.dtype == np.float64 and R.flags.c_contiguous):
            R = np.ascontiguousarray(R, np.float64)
        dt = t - self.t if (self.t is not None and n and t > self.t) else 0.0
        F, Q = self._matrices(dt if dt > 0 else 1.0)
        cur = self._bufs[self._cur]
        cap = n + k
        nxt = 1 - self._cur
        out = self._bufs[nxt]
        if out["cap"] < cap:
            out = self._bufs[nxt] = self._new_bufs(max(cap, 2 * out["cap"]))
        D = self._D
        xc, Pc = np.empty((cap, D)), np.empty((cap, D, D))
        counts = self._counts
        sc = self._scan
        self._bind_scan()
        if sc.bound_matrices is not F:
            sc.bind_matrices(F, Q, F)
        n2 = self._kernel.scan_bound(sc, self._cur, n, z, R, dt, xc, Pc, self._next_id)
        self.t = t
        st = self.stats
        rej, upd, skip, conf, dele, ini = counts.tolist()
        st["rejected_nonfinite"] += rej
        st["updates"] += upd
        st["skipped_updates"] += skip
        st["confirmed"] += conf
        st["deleted"] += dele
        st["initiated"] += ini
        st["scans"] += 1
        self._next_id += ini
        self._cur = nxt
        self._book, self._n, self._stale = out["book"], n2, True    # the bank: on access
        tr = Tracks.__new__(Tracks)
        book = out["book"]
        tr.id = book[0, :n2].copy()
        tr.t = np.empty(n2)
        tr.t.fill(t)
        tr.x, tr.P = xc[:n2], Pc[:n2]
        tr.mode_probs = out["mu"][:n2].copy()
        tr.confirmed = book[4, :n2].astype(bool)
        return tr

    # ------------------------------------------------------- one kernel call per stage
    def _step_stages(self, dets: Detections, t: float) -> Tracks:
        cfg = self.cfg
        R = dets.R
        z = np.empty((R.shape[0], 4))            # dets.z without np.stack's overhead
        z[:, 0], z[:, 1], z[:, 2], z[:, 3] = dets.range, dets.az, dets.el, dets.range_rate
        # range must be there; angles and range rate may be missing (NaN: a sum-only
        # receiver, a plot without a Doppler measurement) and are then left out of the
        # gate and the update; ±inf anywhere, or a present component without a finite
        # variance, rejects the detection
        comp = np.isfinite(z)
        r_ok = np.isfinite(R)
        complete = bool(comp.all() and r_ok.all())      # the usual scan: nothing to drop
        if not complete:
            finite = (comp[:, 0] & np.all(comp | np.isnan(z), axis=1)
                      & np.all(r_ok | ~(comp[:, :, None] & comp[:, None, :]), axis=(1, 2)))
            self.stats["rejected_nonfinite"] += int((~finite).sum())
            z, R, comp = z[finite], R[finite], comp[finite]

        # predict every track to the scan time
        if self.t is not None and self.bank.n and t > self.t:
            self.bank.predict(t - self.t)
        self.t = t

        # gate and associate (GNN or JPDA)
        n, k = self.bank.n, z.shape[0]
        assigned_det = np.zeros(k, bool)
        hit = np.zeros(n, bool)
        if n and k:
            if complete:
                gate = np.full(k, self._gates[4])
            else:
                gate = self._gates[np.maximum(np.sum(comp, axis=1), 1)]
            if cfg.association == "jpda":
                nis, ll = self.bank.gate_spherical(z, R, gate, with_loglik=True)
                inside = nis <= gate[None, :]
                self._jpda(inside, ll, z, R)
                hit = inside.any(axis=1)
                assigned_det = inside.any(axis=0)
            else:
                # GNN on the NIS scaled by each detection's gate: a pair costs NIS/γ ∈ [0, 1],
                # leaving a track without a detection costs 1 (track.association.gnn).
                # Large scans form only the gated pairs (range/azimuth-window pre-gate in
                # the kernel), never the n × k matrices: the same pairs, NIS and assignment
                # as the dense path, which small scans keep (less numpy overhead there).
                if n * k >= SPARSE_GATE_MIN:
                    ti, dj, nis, _ = self.bank.gate_spherical_pairs(z, R, gate)
                    inside = nis <= gate[dj]
                    ti, dj = ti[inside], dj[inside]
                    rows, cols = gnn_pairs(ti, dj, nis[inside] / gate[dj], n, k, 1.0)
                else:
                    nis = self.bank.gate_spherical(z, R, gate)
                    cost = np.where(nis <= gate[None, :], nis / gate[None, :], np.inf)
                    rows, cols = gnn(cost, 1.0)
                if rows.size:
                    status = self.bank.update_spherical(rows, z[cols], R[cols])
                    done = status == filters.UPDATED
                    nd = int(np.count_nonzero(done))
                    self.stats["updates"] += nd
                    self.stats["skipped_updates"] += rows.size - nd
                    hit[rows[done] if nd < rows.size else rows] = True
                    assigned_det[cols] = True

        # track management, in place on the bookkeeping block
        book = self._book[:, :n]
        hits, age, misses, conf = book[1], book[2], book[3], book[4]
        hits <<= 1
        hits |= hit
        hits &= self._window
        age += 1
        misses += 1
        misses[hit] = 0
        score = np.bitwise_count(hits)
        newly = score >= cfg.confirm_m
        newly &= conf == 0
        nnew = int(np.count_nonzero(newly))
        if nnew:
            conf[newly] = 1
            self.stats["confirmed"] += nnew
        confirmed = conf.astype(bool)
        # scans seen = age + 1 (the initiating scan counts); those left in the window:
        window_left = np.maximum(cfg.confirm_n - 1 - age, 0)
        window_left += score
        drop = window_left < cfg.confirm_m
        drop &= ~confirmed                                   # hopeless tentative tracks
        if n:
            P_est = self.bank.estimate()[1]
            pos_sigma = np.sqrt(np.trace(P_est[:, :3, :3], axis1=1, axis2=2))
            lost = (misses >= cfg.delete_misses) | (pos_sigma > cfg.delete_sigma_m)
            lost &= confirmed
            drop |= lost
        ndrop = int(np.count_nonzero(drop))
        self.stats["deleted"] += ndrop
        if ndrop:
            self._keep(~drop)

        # initiate from unassociated detections with usable angles
        free = ~assigned_det & np.all(np.isfinite(z[:, :3]), axis=1)
        if free.any():
            self._initiate(z[free], R[free])
        self.stats["scans"] += 1
        return self.tracks()

    def _jpda(self, inside, ll, z, R) -> None:
        """JPDA: association probabilities per cluster (exact enumeration; a cluster too
        large for it falls back to GNN), then the bank's mixture update."""
        cfg = self.cfg
        n, k = inside.shape
        try:
            beta = jpda_probabilities(np.exp(np.clip(ll, -700, 700)), inside, cfg.p_detection,
                                      cfg.gate_probability, cfg.clutter_density)
        except InputError:
            self.stats["jpda_fallbacks"] += 1
            cost = np.where(inside, -ll, np.inf)
            miss = (np.max(cost[inside]) if inside.any() else 0.0) + 1e3   # take every pair
            rows, cols = gnn(cost, miss)
            beta = np.zeros((n, k + 1))
            beta[:, k] = 1.0
            beta[rows, cols], beta[rows, k] = 1.0, 0.0
        trk, det = np.nonzero(inside & (beta[:, :k] > 0))
        self.bank.update_jpda(trk, det, beta[trk, det], beta[:, k].copy(), z, R,
                              cfg.p_detection, cfg.gate_probability, cfg.clutter_density)
        self.stats["updates"] += int(np.unique(trk).size)

    def _initiate(self, z: np.ndarray, R: np.ndarray) -> None:
        m = z.shape[0]
        xs = cart_of(z)
        xs[:, 3:] = np.where(np.isnan(z[:, 3:4]), 0.0, xs[:, 3:])   # no range rate: v = 0
        Ps = np.zeros((m, DIM, DIM))
        Ps[:, :3, :3] = _sph_pos_cov(z, R)
        Ps[:, 3:, 3:] = np.eye(3) * self.cfg.init_speed_sigma_mps ** 2
        self.bank.add(xs, Ps)
        self._grow(m)
        new = self._book[:, self._n:self._n + m]
        new[0] = np.arange(self._next_id, self._next_id + m, dtype=np.int64)
        new[1] = 1
        new[2:] = 0
        self._n += m
        self._next_id += m
        self.stats["initiated"] += m
