"""Payload layouts of every message type, and whole messages (possibly split in frames).

``hil/PROTOCOL.md`` is the specification. Everything is little-endian; tracking and
guidance values are float64; times are int64 ns on the wire and float64 s in records.

Batch payloads (DETECTIONS, STATE, TRACKS, COMMAND) start with ``count u16`` (TRACKS then
``dim u8, modes u8``) followed by ``count`` packed items; they are built and read with numpy
structured dtypes, never one Python object per item. A batch larger than one payload is cut
on item boundaries into self-contained payloads sent as consecutive frames flagged
``FLAG_MORE`` (all but the last) and ``FLAG_CONT`` (all but the first). Text payloads
(META, STATS: a UTF-8 JSON object) are cut at arbitrary byte boundaries and joined before
parsing. HELLO, HEARTBEAT and ERROR always fit in one frame.

Whole messages:

* :func:`encode_payloads` (kind, record) → payloads; :func:`encode_message` → wire bytes.
* :func:`decode_message` (the frames of one message) → :class:`Message` (kind, t, record).
* :class:`Assembler` ``push(frame)`` → :class:`Message` or None, reassembling split
  messages; it never raises on bad input and counts what it drops.

>>> from xband.hil.codec import Encoder, Decoder
>>> wire = encode_message(Encoder(), "stats", {"frames": 3}, t=1.5)
>>> dec = Decoder(); dec.feed(wire); asm = Assembler()
>>> [asm.push(f) for f in dec]
[Message(kind='stats', t=1.5, record={'frames': 3})]
"""
from __future__ import annotations

import functools
import json
import math
import struct
import sys
from typing import Any, NamedTuple, Sequence

import numpy as np

from ..errors import ProtocolError
from ..types import Commands, Detections, PlantState, Tracks
from .codec import MAX_PAYLOAD, SEQ_MASK, Encoder, Frame, MsgType
from .control import (  # noqa: F401  (re-exported: messages is the one-stop import)
    MAX_NAME_BYTES, Cap, ErrorCode, ErrorMessage, Heartbeat, Hello, Role, decode_error,
    decode_heartbeat, decode_hello, encode_error, encode_heartbeat, encode_hello,
    negotiate_version,
)

__all__ = [
    "Role", "Cap", "ErrorCode", "Hello", "Heartbeat", "ErrorMessage", "Message", "Assembler",
    "DET_DTYPE", "STATE_DTYPE", "CMD_DTYPE", "tracks_dtype", "MAX_NAME_BYTES",
    "t_to_ns", "ns_to_t", "msg_type_of", "negotiate_version",
    "encode_detections", "decode_detections", "encode_state", "decode_state",
    "encode_tracks", "decode_tracks", "encode_commands", "decode_commands",
    "encode_json", "decode_json", "encode_meta", "decode_meta", "encode_stats", "decode_stats",
    "encode_hello", "decode_hello", "encode_heartbeat", "decode_heartbeat",
    "encode_error", "decode_error", "encode_payloads", "encode_message", "decode_message",
]

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_ONE = _U16.pack(1)
_FEW = 4                                   # batches this small skip the numpy gather
_TRACKS_HEAD = struct.Struct("<HBB")   # count, dim, modes
_MAX_COUNT = 0xFFFF

#: DETECTIONS item (120 B): range m, az rad, el rad, range_rate m/s, snr (linear), and the
#: upper triangle of R (4×4, row-major: R00 R01 R02 R03 R11 R12 R13 R22 R23 R33).
DET_DTYPE = np.dtype([("range", "<f8"), ("az", "<f8"), ("el", "<f8"), ("range_rate", "<f8"),
                      ("snr", "<f8"), ("R", "<f8", (10,))])
#: STATE item (76 B): body_id u32, pos, vel, acc (3 × f64 each, ENU, SI).
STATE_DTYPE = np.dtype([("body_id", "<u4"), ("pos", "<f8", (3,)), ("vel", "<f8", (3,)),
                        ("acc", "<f8", (3,))])
#: COMMAND item (33 B): a_cmd (3 × f64, m/s², ENU), t_go f64 (s), saturated u8 (0/1).
CMD_DTYPE = np.dtype([("a_cmd", "<f8", (3,)), ("t_go", "<f8"), ("saturated", "u1")])
_IU4 = np.triu_indices(4)


@functools.lru_cache(maxsize=64)
def tracks_dtype(dim: int, modes: int) -> np.dtype:
    """TRACKS item: id i64, confirmed u8, x[dim], P upper triangle row-major
    [dim(dim+1)/2], mode_probs[modes] (f64). Size 9 + 8·(dim + dim(dim+1)/2 + modes) B."""
    return np.dtype([("id", "<i8"), ("confirmed", "u1"), ("x", "<f8", (dim,)),
                     ("P", "<f8", (dim * (dim + 1) // 2,)), ("mode_probs", "<f8", (modes,))])


# ---------------------------------------------------------------- time and kinds
def t_to_ns(t: float) -> int:
    """Seconds (float) → int64 ns on the wire, rounded to the nearest ns."""
    t = float(t)
    if -9.2e9 < t < 9.2e9:                  # False for NaN too
        return round(t * 1e9)               # round(float) is the int nearest (ties to even)
    raise ProtocolError(f"time t={t!r} s is not representable as int64 ns")


def ns_to_t(t_ns: int) -> float:
    """int64 ns → float64 s (correctly rounded: short decimal times round-trip exactly)."""
    return t_ns / 1e9


_ALIASES = {"commands": MsgType.COMMAND, "truth": MsgType.STATE, "states": MsgType.STATE}


def msg_type_of(kind) -> MsgType:
    """:class:`MsgType` from a MsgType, its number or its name (``"detections"``; also
    ``"commands"``, ``"truth"``)."""
    try:
        if isinstance(kind, str):
            k = kind.lower()
            return _ALIASES.get(k) or MsgType[k.upper()]
        return MsgType(kind)
    except (KeyError, ValueError):
        raise ProtocolError(f"unknown message kind {kind!r}; expected one of "
                            f"{[m.kind for m in MsgType]}") from None


# ---------------------------------------------------------------- batches
# Encoding never fills a structured array field by field (each numpy call on a small batch
# costs about a microsecond): the record's arrays are concatenated as raw little-endian
# bytes, field after field (one ``tobytes`` each), and one gather with a cached index
# reorders those bytes into packed items — interleaving the fields and keeping only the
# upper triangle of each covariance in the same pass. A single item needs no gather when
# no triangle is cut out. The bytes are exactly those of the structured dtypes above
# (DET_DTYPE …), which decoding uses.
_LE = sys.byteorder == "little"
_GATHER: dict[tuple, np.ndarray] = {}
_GATHER_MAX = 256                          # cached (layout, n) index arrays …
_GATHER_N = 64                             # … for batches of up to this many items


def _raw(a: np.ndarray) -> bytes:
    """The little-endian bytes of ``a`` (C order); the records hold float64, int64 and bool
    arrays (types.py), whose bytes are the wire's f8, i8 and u8 (0/1) as they are."""
    return a.tobytes() if _LE else a.astype(a.dtype.newbyteorder("<")).tobytes()


def _gather_index(key: tuple, n: int, fields) -> np.ndarray:
    """Byte index that turns field-after-field bytes into n packed items. ``fields()``:
    per field (source bytes per item, byte offsets kept within an item's source block)."""
    idx = _GATHER.get((key, n))
    if idx is None:
        rows, base, i = [], 0, np.arange(n)[:, None]
        for width, keep in fields():
            rows.append(base + i * width + keep[None, :])
            base += n * width
        idx = np.concatenate(rows, axis=1).ravel()
        if n <= _GATHER_N:                  # small batches (the hot case) are cached
            if len(_GATHER) >= _GATHER_MAX:
                _GATHER.clear()
            _GATHER[(key, n)] = idx
    return idx


def _all_bytes(width: int) -> np.ndarray:
    return np.arange(width)


def _tri_bytes(dim: int) -> np.ndarray:
    """Byte offsets, within a row-major float64 dim × dim matrix, of its upper triangle."""
    iu = np.triu_indices(dim)
    return ((iu[0] * dim + iu[1])[:, None] * 8 + np.arange(8)[None, :]).ravel()


def _pack(key: tuple, n: int, fields, parts: list, gather: bool) -> bytes:
    """Packed items from the field-after-field bytes ``parts`` (see :func:`_gather_index`)."""
    raw = b"".join(parts)
    if not gather:
        return raw
    return np.frombuffer(raw, np.uint8).take(_gather_index(key, n, fields)).tobytes()


def _split(items: bytes, n: int, isz: int, head, head_size: int, max_payload: int,
           what: str) -> list:
    """Cut ``n`` packed items of ``isz`` bytes into self-contained payloads
    ``head(count) ‖ items``."""
    if n == 0:
        return [head(0)]
    per = min((max_payload - head_size) // isz, _MAX_COUNT)
    if per < 1:
        raise ProtocolError(f"{what}: one item of {isz} bytes does not fit in a payload of "
                            f"max_payload={max_payload} bytes")
    if n <= per:
        return [head(n) + items]
    return [head(min(per, n - k)) + items[k * isz:min(k + per, n) * isz]
            for k in range(0, n, per)]


def _body(payload: bytes, head: struct.Struct, isz_of, what: str):
    """Check one batch payload; return (header fields, item bytes)."""
    if len(payload) < head.size:
        raise ProtocolError(f"{what} payload of {len(payload)} bytes is shorter than its "
                            f"{head.size}-byte header")
    fields = head.unpack_from(payload)
    need = head.size + fields[0] * isz_of(fields)
    if len(payload) != need:
        raise ProtocolError(f"{what} payload: count {fields[0]} needs {need} bytes, "
                            f"got {len(payload)}")
    return fields, payload[head.size:]


def _f8(a) -> np.ndarray:
    return np.array(a, dtype=np.float64, order="C")  # always an owned, writable copy


def _det_fields():
    return ((8, _all_bytes(8)),) * 5 + ((128, _tri_bytes(4)),)


def encode_detections(dets: Detections, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """DETECTIONS payloads: ``count u16`` then ``count`` × :data:`DET_DTYPE`. Only the upper
    triangle of each R is sent (R must be symmetric). ``dets.t`` is not sent: the frame
    carries the scan time."""
    n = dets.range.shape[0]
    items = _pack("det", n, _det_fields, [
        _raw(dets.range), _raw(dets.az), _raw(dets.el), _raw(dets.range_rate),
        _raw(dets.snr), _raw(dets.R)], True)
    return _split(items, n, DET_DTYPE.itemsize, _U16.pack, 2, max_payload, "DETECTIONS")


def _build_detections(items: bytes, key, t: float) -> Detections:
    a = np.frombuffer(items, DET_DTYPE)
    n = len(a)
    R = np.empty((n, 4, 4))
    R[:, _IU4[0], _IU4[1]] = a["R"]
    R[:, _IU4[1], _IU4[0]] = a["R"]
    return Detections(t=np.full(n, float(t)), range=_f8(a["range"]), az=_f8(a["az"]),
                      el=_f8(a["el"]), range_rate=_f8(a["range_rate"]), snr=_f8(a["snr"]), R=R)


def _det_items(payload: bytes):
    (n,), items = _body(payload, _U16, lambda f: DET_DTYPE.itemsize, "DETECTIONS")
    return (), items


def decode_detections(payload: bytes, t: float) -> Detections:
    """One DETECTIONS payload → :class:`Detections`, every ``t`` set to ``t`` (s)."""
    return _build_detections(_det_items(payload)[1], (), t)


def _state_fields():
    return ((4, _all_bytes(4)),) + ((24, _all_bytes(24)),) * 3


def encode_state(state: PlantState, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """STATE (truth) payloads: ``count u16`` then ``count`` × :data:`STATE_DTYPE`;
    ``body_id`` must fit in u32."""
    bid = state.body_id
    n = bid.shape[0]
    ids = bid.tolist() if n <= 64 else None  # a Python min/max beats numpy's here
    if n:
        lo, hi = (min(ids), max(ids)) if ids is not None else (int(bid.min()), int(bid.max()))
        if lo < 0 or hi > SEQ_MASK:
            raise ProtocolError(f"STATE: body_id must be in 0..{SEQ_MASK} (u32), got "
                                f"{lo}..{hi}")
    if _LE and n <= _FEW and 2 + 76 * n <= max_payload:   # a few bodies: bytes slicing
        pos, vel, acc = state.pos.tobytes(), state.vel.tobytes(), state.acc.tobytes()
        return [_U16.pack(n) + b"".join(
            [_U32.pack(b) + pos[24 * i:24 * i + 24] + vel[24 * i:24 * i + 24]
             + acc[24 * i:24 * i + 24] for i, b in enumerate(ids)])]
    items = _pack("state", n, _state_fields, [
        bid.astype("<u4").tobytes(), _raw(state.pos), _raw(state.vel), _raw(state.acc)],
        n > 1)
    return _split(items, n, STATE_DTYPE.itemsize, _U16.pack, 2, max_payload, "STATE")


def _state_items(payload: bytes):
    return (), _body(payload, _U16, lambda f: STATE_DTYPE.itemsize, "STATE")[1]


def _build_state(items: bytes, key, t: float) -> PlantState:
    a = np.frombuffer(items, STATE_DTYPE)
    return PlantState(t=np.full(len(a), float(t)), body_id=a["body_id"].astype(np.int64),
                      pos=_f8(a["pos"]), vel=_f8(a["vel"]), acc=_f8(a["acc"]))


def decode_state(payload: bytes, t: float) -> PlantState:
    """One STATE payload → :class:`PlantState` at time ``t`` (s)."""
    return _build_state(_state_items(payload)[1], (), t)


def encode_tracks(tracks: Tracks, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """TRACKS payloads: ``count u16, dim u8, modes u8`` then ``count`` ×
    :func:`tracks_dtype` (dim, modes). Only the upper triangle of each P is sent."""
    n, dim = tracks.x.shape
    modes = tracks.mode_probs.shape[1]
    if dim > 255 or modes > 255:
        raise ProtocolError(f"TRACKS: dim={dim} and modes={modes} must each be ≤ 255")
    def fields():
        return ((8, _all_bytes(8)), (1, _all_bytes(1)), (8 * dim, _all_bytes(8 * dim)),
                (8 * dim * dim, _tri_bytes(dim)), (8 * modes, _all_bytes(8 * modes)))

    items = _pack(("tracks", dim, modes), n, fields, [
        _raw(tracks.id), _raw(tracks.confirmed), _raw(tracks.x), _raw(tracks.P),
        _raw(tracks.mode_probs)], True)
    return _split(items, n, tracks_dtype(dim, modes).itemsize,
                  lambda c: _TRACKS_HEAD.pack(c, dim, modes), _TRACKS_HEAD.size,
                  max_payload, "TRACKS")


def _tracks_items(payload: bytes):
    (n, dim, modes), items = _body(payload, _TRACKS_HEAD,
                                   lambda f: tracks_dtype(f[1], f[2]).itemsize, "TRACKS")
    return (dim, modes), items


def _build_tracks(items: bytes, key, t: float) -> Tracks:
    dim, modes = key
    a = np.frombuffer(items, tracks_dtype(dim, modes))
    n = len(a)
    iu = np.triu_indices(dim)
    P = np.empty((n, dim, dim))
    P[:, iu[0], iu[1]] = a["P"]
    P[:, iu[1], iu[0]] = a["P"]
    return Tracks(id=a["id"].astype(np.int64), t=np.full(n, float(t)), x=_f8(a["x"]), P=P,
                  confirmed=a["confirmed"] != 0, mode_probs=_f8(a["mode_probs"]))


def decode_tracks(payload: bytes, t: float) -> Tracks:
    """One TRACKS payload → :class:`Tracks`, every ``t`` set to ``t`` (s)."""
    key, items = _tracks_items(payload)
    return _build_tracks(items, key, t)


def _cmd_fields():
    return ((24, _all_bytes(24)), (8, _all_bytes(8)), (1, _all_bytes(1)))


def encode_commands(cmds: Commands, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """COMMAND payloads: ``count u16`` then ``count`` × :data:`CMD_DTYPE`."""
    n = cmds.t_go.shape[0]
    if n == 1 and _LE and max_payload >= 35:     # one command: its fields back to back
        return [_ONE + cmds.a_cmd.tobytes() + cmds.t_go.tobytes() + cmds.saturated.tobytes()]
    items = _pack("cmd", n, _cmd_fields, [
        _raw(cmds.a_cmd), _raw(cmds.t_go), _raw(cmds.saturated)], n > 1)
    return _split(items, n, CMD_DTYPE.itemsize, _U16.pack, 2, max_payload, "COMMAND")


def _cmd_items(payload: bytes):
    return (), _body(payload, _U16, lambda f: CMD_DTYPE.itemsize, "COMMAND")[1]


def _build_commands(items: bytes, key, t: float) -> Commands:
    a = np.frombuffer(items, CMD_DTYPE)
    return Commands(t=np.full(len(a), float(t)), a_cmd=_f8(a["a_cmd"]), t_go=_f8(a["t_go"]),
                    saturated=a["saturated"] != 0)


def decode_commands(payload: bytes, t: float) -> Commands:
    """One COMMAND payload → :class:`Commands`, every ``t`` set to ``t`` (s)."""
    return _build_commands(_cmd_items(payload)[1], (), t)


# ---------------------------------------------------------------- JSON text
def _clean(o):
    """JSON-ready copy: numpy scalars/arrays to Python, tuples to lists, NaN/±inf to None."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple, set, frozenset)):
        return [_clean(v) for v in o]
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    if isinstance(o, np.generic):
        o = o.item()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    if o is None or isinstance(o, (str, int, float, bool)):
        return o
    return str(o)  # paths, enums' str, datetimes: their text form


def encode_json(obj: dict, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """META / STATS payloads: a JSON object (RFC 8259) as compact UTF-8, cut in pieces of
    at most ``max_payload`` bytes. Non-finite floats are written as ``null``."""
    if not isinstance(obj, dict):
        raise ProtocolError(f"META/STATS must be a JSON object (dict), got {type(obj).__name__}")
    text = json.dumps(_clean(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    data = text.encode("utf-8")
    return [data[k:k + max_payload] for k in range(0, len(data), max_payload)]


def decode_json(payload: bytes) -> dict:
    """The JSON object of a META / STATS payload (all pieces joined)."""
    try:
        obj = json.loads(bytes(payload).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"META/STATS payload is not UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"META/STATS payload must be a JSON object, got "
                            f"{type(obj).__name__}")
    return obj


encode_meta = encode_stats = encode_json
decode_meta = decode_stats = decode_json


# ---------------------------------------------------------------- whole messages
class Message(NamedTuple):
    """One decoded message: ``kind`` (``"detections"`` …, see :class:`MsgType`), ``t`` (s)
    and the record (Detections, Tracks, Commands, PlantState, dict, Hello, Heartbeat or
    ErrorMessage)."""

    kind: str
    t: float
    record: Any

    @property
    def msg_type(self) -> MsgType:
        return MsgType[self.kind.upper()]


# kind → (encode(record, max_payload) → list[bytes], items(payload) → (key, bytes), build)
_BATCH = {
    MsgType.DETECTIONS: (encode_detections, _det_items, _build_detections),
    MsgType.STATE: (encode_state, _state_items, _build_state),
    MsgType.TRACKS: (encode_tracks, _tracks_items, _build_tracks),
    MsgType.COMMAND: (encode_commands, _cmd_items, _build_commands),
}
_ENCODE = {mt: v[0] for mt, v in _BATCH.items()}
_TEXT = {MsgType.META, MsgType.STATS}
_SINGLE = {
    MsgType.HELLO: (lambda r, m: [encode_hello(r)], decode_hello),
    MsgType.HEARTBEAT: (lambda r, m: [encode_heartbeat(r)], decode_heartbeat),
    MsgType.ERROR: (lambda r, m: [encode_error(r, m)], decode_error),
}


def encode_payloads(kind, record, max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    """The payload(s) of one message of ``kind`` (see :func:`msg_type_of`)."""
    enc = _ENCODE.get(kind)                  # a MsgType of a batch: straight to its encoder
    if enc is not None:
        return enc(record, max_payload)
    mt = msg_type_of(kind)
    if mt in _BATCH:
        return _BATCH[mt][0](record, max_payload)
    if mt in _TEXT:
        return encode_json(record, max_payload)
    return _SINGLE[mt][0](record, max_payload)


def encode_message(encoder: Encoder, kind, record, t: float) -> bytes:
    """Wire bytes of one message at time ``t`` (s), split in frames as needed and numbered
    by ``encoder`` (whose ``max_payload`` bounds each payload)."""
    mt = msg_type_of(kind)
    return encoder.encode(mt, encode_payloads(mt, record, encoder.max_payload), t_to_ns(t))


def decode_message(frames: Sequence[Frame]) -> Message:
    """The frames of one message (a split run, or a single frame) → :class:`Message`.
    Raises :class:`ProtocolError` if they do not form one well-formed message."""
    frames = list(frames)
    if not frames:
        raise ProtocolError("decode_message: no frames")
    f0 = frames[0]
    for k, f in enumerate(frames):
        if f.msg_type != f0.msg_type or f.t_ns != f0.t_ns:
            raise ProtocolError(f"decode_message: frame {k} (type {f.msg_type}, t_ns {f.t_ns}) "
                                f"does not continue type {f0.msg_type} at t_ns {f0.t_ns}")
        if f.more != (k < len(frames) - 1) or f.cont != (k > 0):
            raise ProtocolError(f"decode_message: frame {k} of {len(frames)} has FLAG_MORE="
                                f"{f.more}, FLAG_CONT={f.cont}")
    try:
        mt = MsgType(f0.msg_type)
    except ValueError:
        raise ProtocolError(f"decode_message: unknown msg_type {f0.msg_type}") from None
    t = ns_to_t(f0.t_ns)
    if mt in _BATCH:
        _, items_of, build = _BATCH[mt]
        parts = [items_of(f.payload) for f in frames]
        key = parts[0][0]
        if any(p[0] != key for p in parts):
            raise ProtocolError(f"{mt.name}: fragments disagree on (dim, modes): "
                                f"{[p[0] for p in parts]}")
        return Message(mt.kind, t, build(b"".join(p[1] for p in parts), key, t))
    if mt in _TEXT:
        return Message(mt.kind, t, decode_json(b"".join(f.payload for f in frames)))
    if len(frames) != 1:
        raise ProtocolError(f"{mt.name} must fit in one frame, got {len(frames)}")
    return Message(mt.kind, t, _SINGLE[mt][1](f0.payload))


class Assembler:
    """Reassembles split messages (``FLAG_MORE`` / ``FLAG_CONT`` runs); never raises on bad
    input.

    ``push(frame)`` returns the completed :class:`Message` or None. A run is broken — its
    message dropped and counted once in ``incomplete`` — when a frame without ``FLAG_CONT``
    arrives before its end, when a ``FLAG_CONT`` frame does not continue it (other type or
    t_ns, or a seq gap: a piece was lost; the following pieces are dropped too), or at
    :meth:`flush`. A message whose payloads do not decode is counted in ``bad_payloads``.
    Partial batches are never delivered.
    """

    def __init__(self, *, max_frames: int = 65536):
        self.max_frames = max_frames
        self._pending: list[Frame] = []
        self._orphan = False  # dropping the remaining pieces of a broken message
        self.messages = 0
        self.incomplete = 0
        self.bad_payloads = 0

    @property
    def pending(self) -> int:
        """Frames held for an unfinished message."""
        return len(self._pending)

    def push(self, frame: Frame) -> Message | None:
        p = self._pending
        if frame.cont:
            if not (p and len(p) < self.max_frames and frame.msg_type == p[-1].msg_type
                    and frame.t_ns == p[-1].t_ns and frame.seq == (p[-1].seq + 1) & SEQ_MASK):
                if p or not self._orphan:
                    self.incomplete += 1
                self._pending, self._orphan = [], True
                return None
            p.append(frame)
        else:
            self.flush()
            self._orphan = False
            self._pending = p = [frame]
        if frame.more:
            return None
        self._pending = []
        try:
            msg = decode_message(p)
        except ProtocolError:
            self.bad_payloads += 1
            return None
        self.messages += 1
        return msg

    def flush(self) -> None:
        """Abandon an unfinished message (end of stream), counting it as incomplete."""
        if self._pending:
            self.incomplete += 1
            self._pending = []

    def stats(self) -> dict:
        return {"messages": self.messages, "incomplete_messages": self.incomplete,
                "bad_payloads": self.bad_payloads}
