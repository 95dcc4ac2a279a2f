"""Control messages of the wire protocol: HELLO, HEARTBEAT and ERROR, and their enums.

``hil/PROTOCOL.md`` is the specification. These three payloads have frozen layouts (later
protocol versions may only append fields, which older receivers ignore), each fits in one
frame, and they are re-exported by :mod:`xband.hil.messages`.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from ..errors import ProtocolError
from .codec import MAX_PAYLOAD, MIN_PAYLOAD

__all__ = [
    "Role", "Cap", "ErrorCode", "MAX_NAME_BYTES", "Hello", "Heartbeat", "ErrorMessage",
    "encode_hello", "decode_hello", "negotiate_version", "encode_heartbeat",
    "decode_heartbeat", "encode_error", "decode_error",
]


class Role(IntEnum):
    """HELLO ``role``: what this end of the link is."""

    HOST = 0     #: runs track + guide; sends COMMAND (and TRACKS if the peer takes them)
    SENSOR = 1   #: device stands in for the sensor: sends DETECTIONS or STATE (truth)
    PLANT = 2    #: device is the vehicle: receives COMMAND, sends STATE


class Cap(IntFlag):
    """HELLO ``capabilities`` bits: message types this side sends (TX) and accepts (RX)."""

    TX_DETECTIONS = 1 << 0
    TX_STATE = 1 << 1
    TX_TRACKS = 1 << 2
    TX_COMMAND = 1 << 3
    RX_DETECTIONS = 1 << 4
    RX_STATE = 1 << 5
    RX_TRACKS = 1 << 6
    RX_COMMAND = 1 << 7
    TX_STATS = 1 << 8


class ErrorCode(IntEnum):
    """ERROR ``code``. ``CLOSE`` is the orderly end of a session, not a failure."""

    CLOSE = 0
    VERSION_MISMATCH = 1
    BAD_ROLE = 2
    PROTOCOL = 3
    TOO_LARGE = 4
    TIMEOUT = 5
    OVERRUN = 6
    DEVICE_FAULT = 7
    UNSUPPORTED = 8


#: Longest HELLO name, in UTF-8 bytes.
MAX_NAME_BYTES = 64
_HELLO = struct.Struct("<BBBBIIB")     # min_v, max_v, role, reply, max_payload, caps, name_len
_HEARTBEAT = struct.Struct("<qq")      # echo_t_ns, hold_ns
_U16 = struct.Struct("<H")


@dataclass(frozen=True)
class Hello:
    """HELLO: who I am, which protocol versions I speak, the largest payload I accept.
    ``reply`` is False on the opening HELLO and True on a HELLO sent in answer to one."""

    role: int = Role.HOST
    name: str = ""
    capabilities: int = 0
    max_payload: int = MAX_PAYLOAD
    min_version: int = 1
    max_version: int = 1
    reply: bool = False


def encode_hello(h: Hello) -> bytes:
    """HELLO payload: min_version u8, max_version u8, role u8, reply u8, max_payload u32,
    capabilities u32, name_len u8, name (UTF-8, ≤ 64 bytes)."""
    name = h.name.encode("utf-8")
    if len(name) > MAX_NAME_BYTES:
        raise ProtocolError(f"HELLO name is {len(name)} UTF-8 bytes, at most {MAX_NAME_BYTES}")
    if not MIN_PAYLOAD <= h.max_payload <= MAX_PAYLOAD:
        raise ProtocolError(f"HELLO max_payload={h.max_payload} not in "
                            f"{MIN_PAYLOAD}..{MAX_PAYLOAD}")
    try:
        return _HELLO.pack(h.min_version, h.max_version, int(h.role), int(bool(h.reply)),
                           h.max_payload, int(h.capabilities), len(name)) + name
    except struct.error as exc:
        raise ProtocolError(f"HELLO field out of range ({h}): {exc}") from None


def decode_hello(payload: bytes) -> Hello:
    """HELLO payload → :class:`Hello` (bytes after the name are ignored: later versions)."""
    if len(payload) < _HELLO.size:
        raise ProtocolError(f"HELLO payload of {len(payload)} bytes, need ≥ {_HELLO.size}")
    vmin, vmax, role, reply, maxp, caps, nlen = _HELLO.unpack_from(payload)
    if len(payload) < _HELLO.size + nlen:
        raise ProtocolError(f"HELLO name_len={nlen} but {len(payload) - _HELLO.size} bytes")
    name = bytes(payload[_HELLO.size:_HELLO.size + nlen]).decode("utf-8", "replace")
    if role in Role._value2member_map_:
        role = Role(role)
    return Hello(role=role, name=name, capabilities=caps, max_payload=maxp,
                 min_version=vmin, max_version=vmax, reply=bool(reply))


def negotiate_version(local: Hello, remote: Hello) -> int | None:
    """The highest version both sides speak, or None (→ ERROR VERSION_MISMATCH, close)."""
    v = min(local.max_version, remote.max_version)
    return v if v >= max(local.min_version, remote.min_version) else None


@dataclass(frozen=True)
class Heartbeat:
    """HEARTBEAT: ``echo_t_ns`` is the t_ns of the last HEARTBEAT received from the peer
    (−1: none yet), ``hold_ns`` how long it was held before this one was sent (ns). The
    peer computes RTT = now − echo_t_ns − hold_ns on its own clock."""

    echo_t_ns: int = -1
    hold_ns: int = 0


def encode_heartbeat(hb: Heartbeat) -> bytes:
    """HEARTBEAT payload: echo_t_ns i64, hold_ns i64."""
    try:
        return _HEARTBEAT.pack(hb.echo_t_ns, hb.hold_ns)
    except struct.error as exc:
        raise ProtocolError(f"HEARTBEAT field out of range ({hb}): {exc}") from None


def decode_heartbeat(payload: bytes) -> Heartbeat:
    if len(payload) < _HEARTBEAT.size:
        raise ProtocolError(f"HEARTBEAT payload of {len(payload)} bytes, need 16")
    return Heartbeat(*_HEARTBEAT.unpack_from(payload))


@dataclass(frozen=True)
class ErrorMessage:
    """ERROR: ``code`` (:class:`ErrorCode`, u16) and a human-readable ``text``."""

    code: int
    text: str = ""


def encode_error(e: ErrorMessage, max_payload: int = MAX_PAYLOAD) -> bytes:
    """ERROR payload: code u16, then UTF-8 text (cut at a character boundary to fit)."""
    if not 0 <= int(e.code) <= 0xFFFF:
        raise ProtocolError(f"ERROR code {e.code} is not a u16")
    text = e.text.encode("utf-8")[:max_payload - 2].decode("utf-8", "ignore").encode("utf-8")
    return _U16.pack(int(e.code)) + text


def decode_error(payload: bytes) -> ErrorMessage:
    if len(payload) < 2:
        raise ProtocolError(f"ERROR payload of {len(payload)} bytes, need ≥ 2")
    code = _U16.unpack_from(payload)[0]
    if code in ErrorCode._value2member_map_:
        code = ErrorCode(code)
    return ErrorMessage(code, bytes(payload[2:]).decode("utf-8", "replace"))
