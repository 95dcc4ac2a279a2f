"""The records that cross stage boundaries, in flow order.

Cube → Detections → Tracks → Commands → PlantState.

Every record is a dataclass of C-contiguous numpy arrays (struct of arrays): a stage takes
and returns whole batches and never one Python object per item. The constructors coerce
dtypes, check shapes and name the field that is wrong.

Conventions (see docs/conventions.md):
* SI units everywhere: m, s, rad, m/s, m/s², W; decibels only at the edges (``*_db``).
* Local ENU Cartesian frame with the radar at the origin: x east, y north, z up.
* Azimuth from north (+y) clockwise toward east (+x), in (−π, π]; elevation up from the
  horizontal, in [−π/2, π/2].
* Spherical measurements are ordered (range, azimuth, elevation, range_rate).
* Time: float64 seconds from scenario start inside the core; int64 ns on the wire.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .errors import InputError

__all__ = ["Cube", "Detections", "Tracks", "Commands", "PlantState", "MEAS_DIM"]

#: Dimension of a spherical measurement (range, azimuth, elevation, range_rate).
MEAS_DIM = 4


def _arr(name: str, value, dtype, shape: tuple) -> np.ndarray:
    """Coerce ``value`` to a C-contiguous array of ``dtype`` and check its shape.

    ``shape`` holds ints (exact), None (any) or a str naming a shared dimension that the
    caller checks for consistency.
    """
    try:
        a = np.ascontiguousarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}: cannot convert to {np.dtype(dtype).name}: {exc}") from None
    if a.ndim != len(shape):
        raise InputError(f"{name}: expected {len(shape)}-D array {shape}, got shape {a.shape}")
    for i, (want, got) in enumerate(zip(shape, a.shape)):
        if isinstance(want, int) and want != got:
            raise InputError(f"{name}: axis {i} must have length {want}, got shape {a.shape}")
    return a


def _same_len(record: str, arrays: dict[str, np.ndarray]) -> int:
    lens = {k: v.shape[0] for k, v in arrays.items()}
    n = next(iter(lens.values()))
    bad = {k: m for k, m in lens.items() if m != n}
    if bad:
        raise InputError(f"{record}: fields have different lengths {lens}")
    return n


class _Batch:
    """Mixin: length, slicing by index array or mask, concatenation."""

    def __len__(self) -> int:
        return int(getattr(self, fields(self)[0].name).shape[0])

    def take(self, idx):
        """The sub-batch at integer indices or boolean mask ``idx`` (copies)."""
        kw = {}
        for f in fields(self):
            v = getattr(self, f.name)
            kw[f.name] = v[idx] if isinstance(v, np.ndarray) and v.ndim >= 1 else v
        return type(self)(**kw)

    def equals(self, other) -> bool:
        """Bitwise equality of every field (NaN equal to NaN)."""
        if type(other) is not type(self):
            return False
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None:
                    if a is not b:
                        return False
                    continue
                if a.shape != b.shape or a.dtype != b.dtype:
                    return False
                if not np.array_equal(a, b, equal_nan=True):
                    return False
            elif a != b:
                return False
        return True


@dataclass
class Cube:
    """One CPI of baseband I/Q: complex64 ``data[channel, pulse, sample]``.

    ``t`` is the transmission time of pulse 0 (s from scenario start); ``channels`` names
    the channels in order, e.g. ``("sum", "daz", "del")``.
    """

    data: np.ndarray
    t: float
    channels: tuple = ("sum",)

    def __post_init__(self):
        self.data = _arr("Cube.data", self.data, np.complex64, (None, None, None))
        self.t = float(self.t)
        self.channels = tuple(self.channels)
        if len(self.channels) != self.data.shape[0]:
            raise InputError(
                f"Cube.channels: {len(self.channels)} names for {self.data.shape[0]} channels"
            )


@dataclass
class Detections(_Batch):
    """One scan (CPI) of detections, n of them.

    Fields, each of length n: ``t`` (s), ``range`` (m), ``az`` (rad), ``el`` (rad),
    ``range_rate`` (m/s, negative when closing), ``snr`` (linear power ratio) and ``R``
    (n, 4, 4), the measurement covariance of (range, az, el, range_rate) in SI units.
    An unknown angle is NaN (e.g. a sum-only receiver); its variance is then NaN too.
    """

    t: np.ndarray
    range: np.ndarray
    az: np.ndarray
    el: np.ndarray
    range_rate: np.ndarray
    snr: np.ndarray
    R: np.ndarray

    def __post_init__(self):
        arrays = {}
        for name in ("t", "range", "az", "el", "range_rate", "snr"):
            arrays[name] = _arr(f"Detections.{name}", getattr(self, name), np.float64, (None,))
        n = _same_len("Detections", arrays)
        arrays["R"] = _arr("Detections.R", self.R, np.float64, (n, MEAS_DIM, MEAS_DIM))
        for k, v in arrays.items():
            setattr(self, k, v)

    @classmethod
    def trusted(cls, t, range, az, el, range_rate, snr, R) -> "Detections":
        """Detections from arrays the caller built itself and vouches for: C-contiguous
        float64, each of length n, R (n, 4, 4) — taken as they are (no copy, no check;
        the detection chain's constructor). Anything else: use ``Detections(...)``, which
        converts and validates."""
        self = object.__new__(cls)
        self.t, self.range, self.az, self.el = t, range, az, el
        self.range_rate, self.snr, self.R = range_rate, snr, R
        return self

    @classmethod
    def empty(cls, t: float = 0.0) -> "Detections":
        z = np.zeros(0)
        return cls(t=z, range=z, az=z, el=z, range_rate=z, snr=z, R=np.zeros((0, 4, 4)))

    @property
    def z(self) -> np.ndarray:
        """Measurement vectors (n, 4): range, az, el, range_rate."""
        return np.ascontiguousarray(np.stack([self.range, self.az, self.el, self.range_rate], 1))

    @classmethod
    def concat(cls, parts: list["Detections"]) -> "Detections":
        if not parts:
            return cls.empty()
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                      for f in fields(cls)})


@dataclass
class Tracks(_Batch):
    """Track estimates after one scan, n tracks with state dimension d.

    ``id`` int64 (stable across scans), ``t`` (s), ``x`` (n, d) with the state ordered
    (x, y, z, vx, vy, vz[, ax, ay, az…]) in ENU, ``P`` (n, d, d) its covariance,
    ``confirmed`` bool, ``mode_probs`` (n, m) model probabilities (m = 1 for a single filter).
    """

    id: np.ndarray
    t: np.ndarray
    x: np.ndarray
    P: np.ndarray
    confirmed: np.ndarray
    mode_probs: np.ndarray

    def __post_init__(self):
        self.id = _arr("Tracks.id", self.id, np.int64, (None,))
        n = self.id.shape[0]
        self.t = _arr("Tracks.t", self.t, np.float64, (n,))
        self.x = _arr("Tracks.x", self.x, np.float64, (n, None))
        d = self.x.shape[1]
        self.P = _arr("Tracks.P", self.P, np.float64, (n, d, d))
        self.confirmed = _arr("Tracks.confirmed", self.confirmed, np.bool_, (n,))
        self.mode_probs = _arr("Tracks.mode_probs", self.mode_probs, np.float64, (n, None))

    @classmethod
    def empty(cls, dim: int = 6, modes: int = 1) -> "Tracks":
        return cls(id=np.zeros(0, np.int64), t=np.zeros(0), x=np.zeros((0, dim)),
                   P=np.zeros((0, dim, dim)), confirmed=np.zeros(0, bool),
                   mode_probs=np.zeros((0, modes)))


@dataclass
class Commands(_Batch):
    """Guidance commands: ``t`` (s), ``a_cmd`` (n, 3) acceleration in ENU (m/s²) after
    limiting, ``t_go`` (s) estimated time to go, ``saturated`` (bool) when the limit cut it."""

    t: np.ndarray
    a_cmd: np.ndarray
    t_go: np.ndarray
    saturated: np.ndarray

    def __post_init__(self):
        self.t = _arr("Commands.t", self.t, np.float64, (None,))
        n = self.t.shape[0]
        self.a_cmd = _arr("Commands.a_cmd", self.a_cmd, np.float64, (n, 3))
        self.t_go = _arr("Commands.t_go", self.t_go, np.float64, (n,))
        self.saturated = _arr("Commands.saturated", self.saturated, np.bool_, (n,))


@dataclass
class PlantState(_Batch):
    """Kinematic truth of n bodies at time ``t`` (s): ``pos``, ``vel``, ``acc`` (n, 3) in ENU.
    ``body_id`` names them (0 the interceptor, 1… targets, in the demo)."""

    t: np.ndarray
    body_id: np.ndarray
    pos: np.ndarray
    vel: np.ndarray
    acc: np.ndarray

    def __post_init__(self):
        self.t = _arr("PlantState.t", self.t, np.float64, (None,))
        n = self.t.shape[0]
        self.body_id = _arr("PlantState.body_id", self.body_id, np.int64, (n,))
        for name in ("pos", "vel", "acc"):
            setattr(self, name, _arr(f"PlantState.{name}", getattr(self, name), np.float64, (n, 3)))
