"""Batched Kalman filter stage API: validate, make contiguous, call the kernel.

The kernels (ext/kalman.pyx and its numpy twin xband.reference.kalman) update arrays of
tracks in place; these wrappers check shapes and dtypes and name what is wrong. Status
codes per row: 0 updated, 1 skipped (non-finite measurement), 2 skipped (S not positive
definite) — a skipped row is untouched, so a bad measurement never poisons a track.
"""
from __future__ import annotations

import numpy as np

from .. import _kernels
from ..errors import InputError

UPDATED, SKIP_NONFINITE, SKIP_SINGULAR = 0, 1, 2
MAX_DIM = 12


_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)


def _state(x, P):
    # lean path: attribute checks only (no conversions); anything unusual takes the full
    # checks below, which name what is wrong
    if (type(x) is np.ndarray and type(P) is np.ndarray and x.dtype is _F64
            and P.dtype is _F64 and x.ndim == 2):
        n, d = x.shape
        if (1 <= d <= MAX_DIM and P.shape == (n, d, d) and x.flags.carray
                and P.flags.carray):
            return n, d
    if not (isinstance(x, np.ndarray) and x.dtype == np.float64 and x.ndim == 2
            and x.flags.c_contiguous and x.flags.writeable):
        raise InputError("x: expected a writable C-contiguous float64 array (n, d)")
    n, d = x.shape
    if not 1 <= d <= MAX_DIM:
        raise InputError(f"x: state dimension must be 1..{MAX_DIM}, got {d}")
    if not (isinstance(P, np.ndarray) and P.dtype == np.float64 and P.shape == (n, d, d)
            and P.flags.c_contiguous and P.flags.writeable):
        raise InputError(f"P: expected a writable C-contiguous float64 array {(n, d, d)}")
    return n, d


def _mat(name, a, shape):
    # an array that already fits is used as it is (what np.ascontiguousarray returns too)
    if (type(a) is np.ndarray and a.dtype is _F64 and a.shape == shape
            and a.flags.c_contiguous):
        return a
    a = np.ascontiguousarray(a, np.float64)
    if a.shape != shape:
        raise InputError(f"{name}: expected shape {shape}, got {a.shape}")
    return a


def _kalman():
    mod = _kernels._state["mods"].get("kalman")
    return mod if mod is not None else _kernels.get("kalman")


def predict(x: np.ndarray, P: np.ndarray, F, Q) -> None:
    """x (n, d), P (n, d, d) ← F x, F P Fᵀ + Q, in place (F, Q shared by the batch)."""
    _, d = _state(x, P)
    _kalman().kf_predict(x, P, _mat("F", F, (d, d)), _mat("Q", Q, (d, d)))


def _measurement(n, d, z, H, R):
    """z (n, m), H (m, d), R (n, m, m) (or (m, m), shared) as contiguous float64."""
    if not (type(z) is np.ndarray and z.dtype is _F64 and z.ndim == 2
            and z.flags.c_contiguous):
        z = np.ascontiguousarray(z, np.float64)
    if z.ndim != 2 or z.shape[0] != n or not 1 <= z.shape[1] <= 4:
        raise InputError(f"z: expected shape ({n}, m) with m in 1..4, got {z.shape}")
    m = z.shape[1]
    H = _mat("H", H, (m, d))
    if not (type(R) is np.ndarray and R.dtype is _F64 and R.shape == (n, m, m)
            and R.flags.c_contiguous):
        R = np.asarray(R, np.float64)
        if R.shape == (m, m) and n == 1:     # one track: a view, no broadcast copy
            R = np.ascontiguousarray(R).reshape(1, m, m)
        else:
            try:
                R = np.ascontiguousarray(np.broadcast_to(R, (n, m, m)))
            except ValueError:
                raise InputError(f"R: expected shape {(n, m, m)} or {(m, m)}, "
                                 f"got {R.shape}") from None
    return z, H, R


def update(x: np.ndarray, P: np.ndarray, z, H, R) -> tuple[np.ndarray, np.ndarray]:
    """Linear Kalman update of every row with z (n, m), H (m, d), R (n, m, m) or (m, m).

    Returns (nis, loglik, status), each (n,)."""
    n, d = _state(x, P)
    z, H, R = _measurement(n, d, z, H, R)
    nis, loglik, status = np.empty(n), np.empty(n), np.empty(n, np.int8)
    _kalman().kf_update(x, P, z, H, R, nis, loglik, status)
    return nis, loglik, status


_kmods = _kernels._state          # its "mods" maps a stem to the module in force
_checking = [None]      # the last kernel module seen whose kf_step checks its arguments


def step(x: np.ndarray, P: np.ndarray, F, Q, z, H, R,
         out=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``predict(x, P, F, Q)`` then ``update(x, P, z, H, R)`` in one kernel call, with the
    same results to the bit (meant for one or a few tracks per call, where the call
    overhead dominates: see benches/bench_kalman.py "kf single track").

    Same arguments and conventions as the two: x (n, d), P (n, d, d) updated in place;
    F, Q (d, d); z (n, m); H (m, d); R (n, m, m), or (m, m) shared. Returns (nis, loglik,
    status), each (n,); with ``out`` = (nis, loglik, status) (float64, float64, int8, each
    (n,), C-contiguous) written there instead of new arrays (no allocation: a loop over
    one track keeps its buffers). Arrays that already fit (float64, C-contiguous, x and
    P writable) go to the compiled kernel as they are, which checks them itself before
    writing anything; anything else is checked here (an ``InputError`` names the
    argument) and converted first."""
    k = _kmods["mods"].get("kalman")
    if k is not None and k is _checking[0]:
        try:
            if out is None:
                return k.kf_step(x, P, F, Q, z, H, R, None, None, None)
            return k.kf_step(x, P, F, Q, z, H, R, out[0], out[1], out[2])
        except (TypeError, ValueError, IndexError, KeyError):
            pass                    # nothing written: the full checks below name it
    k = _kalman()
    # the compiled kf_step checks dtype, axes, contiguity, writability and every shape
    # (the fast path above); the numpy twin checks nothing, so it always comes here
    if type(k.kf_step).__name__ != "function":
        _checking[0] = k
    n, d = _state(x, P)
    F, Q = _mat("F", F, (d, d)), _mat("Q", Q, (d, d))
    z, H, R = _measurement(n, d, z, H, R)
    if out is None:
        return k.kf_step(x, P, F, Q, z, H, R, None, None, None)
    try:
        nis, ll, st = out
    except (TypeError, ValueError):
        raise InputError("out: expected a tuple (nis, loglik, status)") from None
    for name, a, dt in (("nis", nis, _F64), ("loglik", ll, _F64),
                        ("status", st, np.dtype(np.int8))):
        if not (isinstance(a, np.ndarray) and a.dtype == dt and a.shape == (n,)
                and a.flags.c_contiguous and a.flags.writeable):
            raise InputError(f"out: {name} must be a writable C-contiguous {dt} array "
                             f"({n},)")
    return k.kf_step(x, P, F, Q, z, H, R, nis, ll, st)


#: Scaled-unscented parameters (α, β, κ) of ``update_spherical(method="ukf")``.
UKF_PARAMS = (1.0, 2.0, 0.0)


def update_spherical(x, P, idx, z, R, method: str = "ekf", ukf_params=UKF_PARAMS):
    """EKF (or, with ``method="ukf"``, unscented) update of rows ``x[idx[k]]`` with
    spherical z[k] = (range, az, el, ṙ) and R[k].

    NaN components (e.g. angles of a sum-only receiver) are left out of that update.
    Returns (nis, loglik, status), each (k,)."""
    n, d = _state(x, P)
    if d < 6:
        raise InputError(f"x: the spherical measurement needs position and velocity (d >= 6), "
                         f"got d = {d}")
    if not (type(idx) is np.ndarray and idx.dtype is _I64 and idx.flags.c_contiguous):
        idx = np.ascontiguousarray(idx, np.int64)
    k = idx.shape[0]
    if idx.ndim != 1:
        raise InputError(f"idx: expected 1-D indices into {n} tracks")
    if k:
        # strictly increasing indices (what GNN and JPDA hand over) are unique and bounded
        # by their ends: one comparison instead of min, max and np.unique
        inc = k == 1 or bool((idx[1:] > idx[:-1]).all())
        lo, hi = (idx[0], idx[k - 1]) if inc else (idx.min(), idx.max())
        if lo < 0 or hi >= n:
            raise InputError(f"idx: expected 1-D indices into {n} tracks")
        if not inc and np.unique(idx).size != k:
            raise InputError("idx: a track may be updated only once per call")
    z = _mat("z", z, (k, 4))
    R = _mat("R", R, (k, 4, 4))
    nis, loglik, status = np.empty(k), np.empty(k), np.empty(k, np.int8)
    if method == "ekf":
        _kalman().ekf_update_sph(x, P, idx, z, R, nis, loglik, status)
    elif method == "ukf":
        a, b, kap = (float(v) for v in ukf_params)
        if not (a > 0 and x.shape[1] + a * a * (x.shape[1] + kap) - x.shape[1] > 0):
            raise InputError(f"ukf_params: need alpha > 0 and d + lambda > 0, got {ukf_params}")
        _kalman().ukf_update_sph(x, P, idx, z, R, a, b, kap, nis, loglik, status)
    else:
        raise InputError(f"method: expected 'ekf' or 'ukf', got {method!r}")
    return nis, loglik, status


def _dets(z, R, gate):
    """Spherical detections z (k, 4), R (k, 4, 4) and gates (k,) as contiguous float64."""
    if not (type(z) is np.ndarray and z.dtype is _F64 and z.ndim == 2):
        z = np.ascontiguousarray(z, np.float64)
    k = z.shape[0] if z.ndim == 2 else -1
    z = _mat("z", z, (k, 4))
    R = _mat("R", R, (k, 4, 4))
    if not (type(gate) is np.ndarray and gate.dtype is _F64 and gate.shape == (k,)
            and gate.flags.c_contiguous):
        gate = np.ascontiguousarray(np.broadcast_to(np.inf if gate is None else gate, (k,)),
                                    np.float64)
    return z, R, gate


def gate_spherical(x, P, z, R, gate=None, with_loglik: bool = False):
    """NIS (n_tracks, n_dets) of every track/detection pair within the detections' gates
    ``gate`` (scalar or (n_dets,); default: no gate), +inf beyond or where unusable; with
    ``with_loglik`` also the gated pairs' log-likelihoods (−inf elsewhere)."""
    n, _ = _state(x, P)
    z, R, g = _dets(z, R, gate)
    k = z.shape[0]
    out, ll = np.empty((n, k)), np.empty((n, k))
    _kalman().sph_gate(x, P, z, R, g, out, ll)
    return (out, ll) if with_loglik else out


def _sorted_usable(v, ok):
    """Indices with finite v (and ok) by increasing v, then the others; and their count."""
    usable = np.isfinite(v) & ok
    u = np.flatnonzero(usable)
    u = u[np.argsort(v[u], kind="stable")]
    return np.concatenate([u, np.flatnonzero(~usable)]).astype(np.int64), u.size


def gate_spherical_pairs(x, P, z, R, gate=None):
    """The pairs of ``gate_spherical`` inside the gates, without the n_tracks × n_dets
    matrices: (ti, dj, nis, loglik), sorted by track then detection. The kernel tries, for
    each track, only the detections within the gate's range bound (a window of the
    detections sorted by range) or its azimuth bound (sorted by azimuth), whichever
    holds fewer (see ``sph_gate_pairs``); NIS and log-likelihoods are those of
    ``gate_spherical`` to the bit."""
    n, _ = _state(x, P)
    z, R, g = _dets(z, R, gate)
    k = z.shape[0]
    order, nr = _sorted_usable(z[:, 0], np.isfinite(R[:, 0, 0]))
    az = z[:, 1]
    with np.errstate(invalid="ignore"):
        az_ok = np.isfinite(R[:, 1, 1]) & (np.abs(az) <= np.pi)
    order_az, na = _sorted_usable(az, az_ok)
    kern = _kalman()
    cap = 4 * (n + k) + 16
    while True:
        ti, dj = np.empty(cap, np.int64), np.empty(cap, np.int64)
        nis, ll = np.empty(cap), np.empty(cap)
        cnt = kern.sph_gate_pairs(x, P, z, R, g, order, nr, order_az, na, ti, dj, nis, ll)
        if cnt <= cap:
            break
        cap = cnt
    o = np.argsort(ti[:cnt] * max(k, 1) + dj[:cnt], kind="stable")
    return ti[:cnt][o], dj[:cnt][o], nis[:cnt][o], ll[:cnt][o]
