"""An independent client of the xband wire protocol, written from hil/PROTOCOL.md alone.

Nothing here imports ``xband``: framing, header, CRC, COBS, every payload layout, the
receiver's counters (section 4), split messages (5.2) and the session (7) are implemented
from the spec's text with the standard library and numpy.  The client decodes and
re-encodes every golden vector of hil/vectors/, then runs a whole session as the HOST
against the device emulator (``python -m xband.hil.emulator --listen``, a separate process
on a TCP socket), answering each event with a COMMAND computed from the STATE it decoded.
This is the acceptance check "a client written from hil/PROTOCOL.md alone": a failure
here means the spec and the implementation disagree (or the spec is incomplete).
"""
from __future__ import annotations

import json
import math
import os
import select
import socket
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
VEC_DIR = ROOT / "hil" / "vectors"

# ---------------------------------------------------------------- constants (sections 2, 3, 5, 6)
MAX_PAYLOAD = 4096
HEADER = struct.Struct("<BBHIqI")          # version, msg_type, flags, seq, t_ns, payload_len
assert HEADER.size == 20
MORE, CONT = 0x0001, 0x0002
TYPES = {"HELLO": 0x01, "HEARTBEAT": 0x02, "ERROR": 0x03, "META": 0x04, "STATS": 0x05,
         "DETECTIONS": 0x10, "STATE": 0x11, "TRACKS": 0x12, "COMMAND": 0x13}
NAMES = {v: k for k, v in TYPES.items()}
BATCH = {"DETECTIONS", "STATE", "TRACKS", "COMMAND"}
TEXT = {"META", "STATS"}
ROLE_HOST, ROLE_SENSOR, ROLE_PLANT = 0, 1, 2
CAP = {"TX_DETECTIONS": 1 << 0, "TX_STATE": 1 << 1, "TX_TRACKS": 1 << 2, "TX_COMMAND": 1 << 3,
       "RX_DETECTIONS": 1 << 4, "RX_STATE": 1 << 5, "RX_TRACKS": 1 << 6,
       "RX_COMMAND": 1 << 7, "TX_STATS": 1 << 8}
ERR = {"CLOSE": 0, "VERSION_MISMATCH": 1, "BAD_ROLE": 2, "PROTOCOL": 3, "TOO_LARGE": 4,
       "TIMEOUT": 5, "OVERRUN": 6, "DEVICE_FAULT": 7, "UNSUPPORTED": 8}
FATAL = {1, 2, 5, 7}
HELLO_FIX = struct.Struct("<BBBBIIB")      # 13 bytes, then name
HEARTBEAT_FIX = struct.Struct("<qq")
DET_ITEM, STATE_ITEM, CMD_ITEM = 120, 76, 33


class WireError(ValueError):
    """A payload that does not decode (counted as bad_payloads by the receiver)."""


# ---------------------------------------------------------------- CRC (2.1) and COBS (2.2)
def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    out = bytearray()
    runs = bytes(data).split(b"\x00")
    for k, run in enumerate(runs):
        nonempty = len(run) > 0
        while len(run) >= 254:
            out += b"\xff" + run[:254]
            run = run[254:]
        if k == len(runs) - 1 and not run and nonempty:
            break
        out.append(len(run) + 1)
        out += run
    return bytes(out)


def cobs_decode(enc: bytes) -> bytes:
    n = len(enc)
    if n == 0:
        raise WireError("COBS: empty input")
    out = bytearray()
    i = 0
    while i < n:
        c = enc[i]
        if c == 0 or i + c > n:
            raise WireError(f"COBS: bad code {c} at {i}")
        out += enc[i + 1:i + c]
        if c < 255 and i + c < n:
            out.append(0)
        i += c
    return bytes(out)


def frame(msg_type: int, payload: bytes, seq: int, t_ns: int, flags: int = 0,
          version: int = 1) -> bytes:
    raw = HEADER.pack(version, msg_type, flags, seq & 0xFFFFFFFF, t_ns, len(payload)) + payload
    raw += struct.pack("<I", crc32(raw))
    return cobs_encode(raw) + b"\x00"


# ---------------------------------------------------------------- payload layouts (section 6)
def _f(x) -> float:
    """JSON f64 as in the vectors: numbers, or the strings NaN / Infinity / -Infinity."""
    return float(x) if not isinstance(x, str) else {"NaN": math.nan, "Infinity": math.inf,
                                                     "-Infinity": -math.inf}[x]


def _j(x: float):
    return "NaN" if math.isnan(x) else ("Infinity" if x == math.inf else
                                        "-Infinity" if x == -math.inf else x)


def _tri(n: int) -> int:
    return n * (n + 1) // 2


def encode_items(kind: str, body: dict) -> tuple[bytes, list[bytes]]:
    """(per-piece header without count, [item bytes]) for a batch type."""
    items = []
    if kind == "DETECTIONS":
        for it in body["items"]:
            vals = [it["range"], it["az"], it["el"], it["range_rate"], it["snr"], *it["R_upper"]]
            assert len(vals) == 15
            items.append(struct.pack("<15d", *map(_f, vals)))
        return b"", items
    if kind == "STATE":
        for it in body["items"]:
            items.append(struct.pack("<I9d", it["body_id"],
                                     *map(_f, [*it["pos"], *it["vel"], *it["acc"]])))
        return b"", items
    if kind == "COMMAND":
        for it in body["items"]:
            items.append(struct.pack("<4dB", *map(_f, [*it["a_cmd"], it["t_go"]]),
                                     1 if it["saturated"] else 0))
        return b"", items
    if kind == "TRACKS":
        dim, modes = body["dim"], body["modes"]
        for it in body["items"]:
            vals = [*it["x"], *it["P_upper"], *it["mode_probs"]]
            assert len(vals) == dim + _tri(dim) + modes
            items.append(struct.pack(f"<qB{len(vals)}d", it["id"], 1 if it["confirmed"] else 0,
                                     *map(_f, vals)))
        return struct.pack("<BB", dim, modes), items
    raise KeyError(kind)


def encode_payloads(kind: str, body: dict, limit: int = MAX_PAYLOAD) -> list[bytes]:
    """The payloads of one message, split for a peer accepting ``limit`` bytes (5.2)."""
    if kind in BATCH:
        extra, items = encode_items(kind, body)
        head = 2 + len(extra)
        size = {"DETECTIONS": DET_ITEM, "STATE": STATE_ITEM, "COMMAND": CMD_ITEM}.get(kind)
        if size is None:
            size = 9 + 8 * (body["dim"] + _tri(body["dim"]) + body["modes"])
        per = min((limit - head) // size, 65535)
        if per < 1:
            raise WireError(f"{kind}: one item ({size} B) does not fit in {limit} B")
        pieces = [items[k:k + per] for k in range(0, len(items), per)] or [[]]
        return [struct.pack("<H", len(p)) + extra + b"".join(p) for p in pieces]
    if kind in TEXT:
        text = body["text"].encode("utf-8")
        return [text[k:k + limit] for k in range(0, len(text), limit)] or [b""]
    if kind == "HELLO":
        name = body["name"].encode("utf-8")
        return [HELLO_FIX.pack(body["min_version"], body["max_version"], body["role"],
                               1 if body["reply"] else 0, body["max_payload"],
                               body["capabilities"], len(name)) + name]
    if kind == "HEARTBEAT":
        return [HEARTBEAT_FIX.pack(body["echo_t_ns"], body["hold_ns"])]
    if kind == "ERROR":
        return [struct.pack("<H", body["code"]) + body["text"].encode("utf-8")]
    raise KeyError(kind)


def encode_message(kind: str, body: dict, seq: int, t_ns: int, limit: int = MAX_PAYLOAD,
                   version: int = 1) -> tuple[bytes, int]:
    """Wire bytes of a whole message and the next seq."""
    pays = encode_payloads(kind, body, limit)
    out = bytearray()
    for k, p in enumerate(pays):
        flags = (MORE if k < len(pays) - 1 else 0) | (CONT if k > 0 else 0)
        out += frame(TYPES[kind], p, seq, t_ns, flags, version)
        seq = (seq + 1) & 0xFFFFFFFF
    return bytes(out), seq


def _batch_piece(kind: str, p: bytes) -> tuple[tuple, list[dict]]:
    if len(p) < 2:
        raise WireError(f"{kind}: payload of {len(p)} B has no count")
    (count,) = struct.unpack_from("<H", p)
    if kind == "TRACKS":
        if len(p) < 4:
            raise WireError("TRACKS: no dim/modes")
        dim, modes = p[2], p[3]
        head, size = 4, 9 + 8 * (dim + _tri(dim) + modes)
        key = (dim, modes)
    else:
        head, size, key = 2, {"DETECTIONS": DET_ITEM, "STATE": STATE_ITEM,
                              "COMMAND": CMD_ITEM}[kind], ()
    if len(p) != head + count * size:
        raise WireError(f"{kind}: count {count} needs {head + count * size} B, got {len(p)}")
    items = []
    for k in range(count):
        o = head + k * size
        if kind == "DETECTIONS":
            v = struct.unpack_from("<15d", p, o)
            items.append({"range": v[0], "az": v[1], "el": v[2], "range_rate": v[3],
                          "snr": v[4], "R_upper": list(v[5:])})
        elif kind == "STATE":
            bid, *v = struct.unpack_from("<I9d", p, o)
            items.append({"body_id": bid, "pos": v[0:3], "vel": v[3:6], "acc": v[6:9]})
        elif kind == "COMMAND":
            *v, sat = struct.unpack_from("<4dB", p, o)
            items.append({"a_cmd": v[0:3], "t_go": v[3], "saturated": sat != 0})
        else:
            dim, modes = key
            n = dim + _tri(dim) + modes
            tid, conf, *v = struct.unpack_from(f"<qB{n}d", p, o)
            items.append({"id": tid, "confirmed": conf != 0, "x": v[:dim],
                          "P_upper": v[dim:dim + _tri(dim)], "mode_probs": v[dim + _tri(dim):]})
    return key, items


def decode_message(kind: str, payloads: list[bytes]) -> dict:
    """The body of a complete (reassembled) message; WireError when it does not decode."""
    if kind in BATCH:
        keys, items = set(), []
        for p in payloads:
            key, its = _batch_piece(kind, p)
            keys.add(key)
            items += its
        if len(keys) != 1:
            raise WireError(f"{kind}: pieces disagree on dim/modes {keys}")
        body = {"count": len(items)}
        if kind == "TRACKS":
            body["dim"], body["modes"] = keys.pop()
        body["items"] = items
        return body
    if kind in TEXT:
        try:
            text = b"".join(payloads).decode("utf-8")
            obj = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(
                WireError(f"non-RFC 8259 constant {c}")))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise WireError(f"{kind}: {e}") from None
        if not isinstance(obj, dict):
            raise WireError(f"{kind}: not a JSON object")
        return {"text": text, "object": obj}
    if len(payloads) != 1:
        raise WireError(f"{kind} may not be split")
    p = payloads[0]
    if kind == "HELLO":
        if len(p) < 13:
            raise WireError("HELLO too short")
        mn, mx, role, reply, maxp, caps, nlen = HELLO_FIX.unpack_from(p)
        if len(p) < 13 + nlen:
            raise WireError("HELLO name truncated")
        return {"min_version": mn, "max_version": mx, "role": role, "reply": reply != 0,
                "max_payload": maxp, "capabilities": caps,
                "name": p[13:13 + nlen].decode("utf-8", "replace")}
    if kind == "HEARTBEAT":
        if len(p) < 16:
            raise WireError("HEARTBEAT too short")
        e, h = HEARTBEAT_FIX.unpack_from(p)
        return {"echo_t_ns": e, "hold_ns": h}
    if kind == "ERROR":
        if len(p) < 2:
            raise WireError("ERROR too short")
        return {"code": struct.unpack_from("<H", p)[0],
                "text": p[2:].decode("utf-8", "replace")}
    raise KeyError(kind)


# ---------------------------------------------------------------- receiver (sections 4, 5.2)
COUNTERS = ("cobs_errors", "truncated", "crc_errors", "length_errors", "oversize",
            "version_errors", "unknown_types", "seq_gaps", "gap_events", "duplicates",
            "reordered", "seq_resets", "incomplete_messages", "bad_payloads")


class Receiver:
    """Byte stream in, (header, kind, body) messages out, with every section-4 counter."""

    def __init__(self, max_payload: int = MAX_PAYLOAD, versions=(1,)):
        self.max_payload = max_payload
        self.versions = set(versions)
        self.max_chunk = 24 + max_payload + -(-(24 + max_payload) // 254)
        self.buf = bytearray()
        self.skipping = False
        self.c = dict.fromkeys(COUNTERS, 0)
        self.frames = 0
        self.last = None
        self.seen = 0
        self.span = 0
        self.pending = None        # [kind, t_ns, last_seq, [payloads], first header]
        self.broken = False
        self.headers: list[tuple] = []

    def feed(self, data: bytes) -> list[tuple]:
        out = []
        for b in _split_keep(data):
            if b == b"\x00":
                if self.skipping:
                    self.skipping = False
                else:
                    out += self._chunk(bytes(self.buf))
                self.buf.clear()
                continue
            if self.skipping:
                continue
            self.buf += b
            if len(self.buf) > self.max_chunk:
                self.c["oversize"] += 1
                self.buf.clear()
                self.skipping = True
        return out

    def _chunk(self, chunk: bytes) -> list[tuple]:
        if not chunk:
            return []
        if len(chunk) > self.max_chunk:
            self.c["oversize"] += 1
            return []
        try:
            raw = cobs_decode(chunk)
        except WireError:
            self.c["cobs_errors"] += 1
            return []
        if len(raw) < 24:
            self.c["truncated"] += 1
            return []
        if crc32(raw[:-4]) != struct.unpack_from("<I", raw, len(raw) - 4)[0]:
            self.c["crc_errors"] += 1
            return []
        hdr = HEADER.unpack_from(raw)
        version, mtype, flags, seq, t_ns, plen = hdr
        if plen != len(raw) - 24:
            self.c["length_errors"] += 1
            return []
        if plen > self.max_payload:
            self.c["oversize"] += 1
            return []
        if version not in self.versions and mtype not in (TYPES["HELLO"], TYPES["ERROR"]):
            self.c["version_errors"] += 1
            return []
        if not self._track(seq, mtype == TYPES["HELLO"]):
            return []
        self.frames += 1
        self.headers.append(hdr)
        if mtype not in NAMES:
            self.c["unknown_types"] += 1
            return []
        return self._assemble(hdr, raw[20:-4])

    def _track(self, seq: int, hello: bool) -> bool:
        M = 1 << 32
        if hello or self.last is None:
            self.last, self.seen, self.span = seq, 1, 0
            return True
        ahead, behind = (seq - self.last) % M, (self.last - seq) % M
        if behind < 64 and (self.seen >> behind) & 1:
            self.c["duplicates"] += 1
            return False
        if behind < 64:
            self.seen |= 1 << behind
            self.c["reordered"] += 1
            if behind <= self.span:
                self.c["seq_gaps"] -= 1
            return True
        if ahead < (1 << 31):
            if ahead > 1:
                self.c["seq_gaps"] += ahead - 1
                self.c["gap_events"] += 1
            self.seen = ((self.seen << ahead) | 1) & ((1 << 64) - 1)
            self.span += ahead
            self.last = seq
            return True
        self.c["seq_resets"] += 1
        self.last, self.seen, self.span = seq, 1, 0
        return True

    def _assemble(self, hdr, payload: bytes) -> list[tuple]:
        version, mtype, flags, seq, t_ns, plen = hdr
        kind = NAMES[mtype]
        if not flags & CONT:
            if self.pending is not None:
                self.c["incomplete_messages"] += 1
            self.pending, self.broken = None, False
            if flags & MORE:
                self.pending = [kind, t_ns, seq, [payload], hdr]
                return []
            return self._finish(hdr, kind, [payload], flags)
        if self.broken:
            return []
        p = self.pending
        if p is None or p[0] != kind or p[1] != t_ns or (p[2] + 1) & 0xFFFFFFFF != seq:
            self.c["incomplete_messages"] += 1
            self.pending, self.broken = None, True
            return []
        p[2] = seq
        p[3].append(payload)
        if flags & MORE:
            return []
        self.pending = None
        return self._finish(p[4], kind, p[3], flags)

    def _finish(self, hdr, kind, payloads, flags) -> list[tuple]:
        if kind in ("HELLO", "HEARTBEAT", "ERROR") and (len(payloads) > 1 or flags & (MORE | CONT)):
            self.c["bad_payloads"] += 1
            return []
        try:
            body = decode_message(kind, payloads)
        except (WireError, struct.error):
            self.c["bad_payloads"] += 1
            return []
        return [(hdr, kind, body)]

    def end(self):
        if self.pending is not None:
            self.c["incomplete_messages"] += 1
            self.pending = None


def _split_keep(data: bytes):
    """Yield runs of non-zero bytes and single zero bytes."""
    start = 0
    while True:
        z = data.find(b"\x00", start)
        if z < 0:
            if start < len(data):
                yield data[start:]
            return
        if z > start:
            yield data[start:z]
        yield b"\x00"
        start = z + 1


# ---------------------------------------------------------------- vectors (section 10)
DOC = json.loads((VEC_DIR / "vectors.json").read_text())
VECTORS = {v["name"]: v for v in DOC["vectors"]}


def _same(a, b) -> bool:
    """Deep equality of decoded bodies with the vectors' JSON (NaN == "NaN", exact floats)."""
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in b)
    if isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(b, str) and b in ("NaN", "Infinity", "-Infinity"):
        return isinstance(a, float) and _j(a) == b
    if isinstance(b, bool) or isinstance(a, bool):
        return a is b or a == b and type(a) is type(b)
    if isinstance(b, float) or isinstance(a, float):
        return float(a) == float(b) and not (isinstance(a, float) and math.isnan(a))
    return a == b


def test_spec_constants():
    assert crc32(b"123456789") == 0xCBF43926
    assert DOC["msg_types"] == TYPES
    assert DOC["flags"] == {"MORE": MORE, "CONT": CONT}
    assert DOC["max_payload"] == MAX_PAYLOAD and DOC["protocol_version"] == 1
    # the COBS table of 2.2, both ways
    r = bytes(range(1, 255))
    table = [(b"", "01"), (b"\x00", "01 01"), (b"\x00\x00", "01 01 01"),
             (bytes.fromhex("11220033"), "03 11 22 02 33"),
             (bytes.fromhex("11223344"), "05 11 22 33 44"),
             (bytes.fromhex("11000000"), "02 11 01 01 01"),
             (r, "FF" + r.hex()), (b"\x00" + r, "01 FF" + r.hex()),
             (r + b"\xff", "FF" + r.hex() + "02 FF"),
             (bytes(range(2, 256)) + b"\x00", "FF" + bytes(range(2, 256)).hex() + "01 01"),
             (bytes(range(3, 256)) + b"\x00\x01", "FE" + bytes(range(3, 256)).hex() + "02 01")]
    for data, enc in table:
        enc = bytes.fromhex(enc)
        assert cobs_encode(data) == enc, data.hex()
        assert cobs_decode(enc) == data
    # the paper's form: an extra 0x01 after a trailing full block decodes to the same bytes
    assert cobs_decode(b"\xff" + r + b"\x01") == r
    for bad in (b"", b"\x00", b"\x05\x11"):
        with pytest.raises(WireError):
            cobs_decode(bad)
    # sizes of 2.3: the largest frame is 4138 bytes on the wire
    assert len(frame(0x05, b"\x01" * MAX_PAYLOAD, 0, 0)) == 4138


def test_worked_example_of_section_8():
    body = {"echo_t_ns": 1_000_000_000, "hold_ns": 250_000}
    wire, _ = encode_message("HEARTBEAT", body, seq=5, t_ns=1_100_000_000)
    assert wire.hex(" ").upper() == (
        "03 01 02 01 02 05 01 01 01 04 AB 90 41 01 01 01 02 10 01 01 "
        "01 04 CA 9A 3B 01 01 01 04 90 D0 03 01 01 01 01 05 67 F6 07 58 00")
    assert wire.hex() == VECTORS["heartbeat"]["hex"]
    assert wire == (VEC_DIR / "heartbeat.bin").read_bytes()


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_decodes(name):
    vec = VECTORS[name]
    wire = bytes.fromhex(vec["hex"])
    assert wire == (VEC_DIR / f"{name}.bin").read_bytes()
    rx = Receiver()
    msgs = rx.feed(wire)
    rx.end()
    # frame by frame: header, payload, CRC, raw and encoded bytes
    assert len(rx.headers) == len(vec["frames"])
    for hdr, fr in zip(rx.headers, vec["frames"]):
        h = fr["header"]
        assert hdr == (h["version"], h["msg_type"], h["flags"], h["seq"], h["t_ns"],
                       h["payload_len"])
        assert NAMES.get(h["msg_type"]) == (h["msg_type_name"] if h["msg_type"] in NAMES
                                            else None) or h["msg_type"] not in NAMES
        raw = bytes.fromhex(fr["raw_hex"])
        assert raw[20:-4].hex() == fr["payload_hex"]
        assert crc32(raw[:-4]) == int(fr["crc32"], 16)
        assert cobs_encode(raw) + b"\x00" == bytes.fromhex(fr["encoded_hex"])
    counters = {k: v for k, v in rx.c.items() if v}
    if vec["message"] is None:
        assert msgs == [] and counters == {"unknown_types": 1}
        return
    assert counters == {}
    assert len(msgs) == 1
    hdr, kind, body = msgs[0]
    assert kind == vec["message"]["type"]
    assert hdr[4] == vec["message"]["t_ns"]
    assert _same(body, vec["message"]["body"]), name


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_encodes(name):
    vec = VECTORS[name]
    f0 = vec["frames"][0]["header"]
    if vec["message"] is None:      # unknown type: frame it from the header and payload alone
        wire = b"".join(frame(f["header"]["msg_type"], bytes.fromhex(f["payload_hex"]),
                              f["header"]["seq"], f["header"]["t_ns"], f["header"]["flags"],
                              f["header"]["version"]) for f in vec["frames"])
    else:
        m = vec["message"]
        assert m["t_ns"] == f0["t_ns"]
        wire, _ = encode_message(m["type"], m["body"], f0["seq"], f0["t_ns"],
                                 limit=DOC["max_payload"], version=f0["version"])
    assert wire.hex() == vec["hex"], name


def test_receiver_counters_on_damaged_streams():
    """Section 4 on a hand-made stream: corruption, loss, duplicate, reorder, broken split."""
    st = {"count": 1, "items": [{"body_id": 0, "pos": [1.0, 2.0, 3.0], "vel": [0.0] * 3,
                                 "acc": [0.0] * 3}]}
    fr = [encode_message("STATE", st, seq=s, t_ns=s)[0] for s in range(10)]
    bad = bytearray(fr[2])
    bad[5] ^= 0x40                                   # CRC error (COBS still valid)
    rx = Receiver()
    got = rx.feed(b"\x00" + fr[0] + fr[1] + bytes(bad) + fr[4] + fr[3] + fr[3] + fr[5]
                  + b"\x02\x01\x00" + fr[9])
    assert [h[3] for h, _, _ in got] == [0, 1, 4, 3, 5, 9]
    c = rx.c
    assert (c["crc_errors"], c["reordered"], c["duplicates"], c["truncated"]) == (1, 1, 1, 1)
    assert c["seq_gaps"] == 1 + 3 and c["gap_events"] == 2   # frame 2, then 6..8
    # a split message missing its middle piece: counted once, the tail dropped
    det = {"count": 80, "items": [{"range": float(k), "az": 0.0, "el": 0.0, "range_rate": 0.0,
                                   "snr": 1.0, "R_upper": [1.0] * 10} for k in range(80)]}
    wire, _ = encode_message("DETECTIONS", det, seq=100, t_ns=7)
    parts = wire.split(b"\x00")[:-1]
    assert len(parts) == 3
    rx = Receiver()
    assert rx.feed(parts[0] + b"\x00" + parts[2] + b"\x00") == []
    assert rx.c["incomplete_messages"] == 1
    rx = Receiver()
    (m,) = rx.feed(wire)
    assert m[2]["count"] == 80 and m[2]["items"][79]["range"] == 79.0
    # an over-long chunk is dropped and the receiver resynchronises at the next 0x00
    rx = Receiver()
    got = rx.feed(b"\x01" * 5000 + b"\x00" + fr[0])
    assert rx.c["oversize"] == 1 and len(got) == 1


# ---------------------------------------------------------------- the session (section 7)
class HostClient:
    """A HOST on a byte stream (a socket): HELLO, heartbeats, COMMAND per event, closing."""

    def __init__(self, sock: socket.socket, max_payload: int = MAX_PAYLOAD):
        self.sock = sock
        self.t0 = time.monotonic_ns()
        self.seq = 0
        self.rx = Receiver(max_payload)
        self.max_payload = max_payload
        self.caps = CAP["TX_COMMAND"] | CAP["RX_DETECTIONS"] | CAP["RX_STATE"] | CAP["TX_STATS"]
        self.peer = None
        self.version = None
        self.peer_limit = 256
        self.last_hb = None          # (peer t_ns, own receipt time)
        self.rtts: list[int] = []
        self.frames_sent = 0
        self.log: list[tuple[str, int, dict]] = []
        self.closed_by_peer = False
        self.errors: list[dict] = []

    def now(self) -> int:
        return time.monotonic_ns() - self.t0

    def send(self, kind: str, body: dict, t_ns: int | None = None):
        if kind not in ("HELLO", "ERROR") and self.version is None:
            raise AssertionError(f"{kind} before the session is established")
        t = self.now() if t_ns is None else t_ns
        wire, nseq = encode_message(kind, body, self.seq, t, self.peer_limit,
                                    version=self.version or 1)
        self.frames_sent += (nseq - self.seq) & 0xFFFFFFFF
        self.seq = nseq
        self.sock.sendall(wire)

    def hello(self, reply: bool):
        self.send("HELLO", {"min_version": 1, "max_version": 1, "role": ROLE_HOST,
                            "reply": reply, "max_payload": self.max_payload,
                            "capabilities": self.caps, "name": "spec-client"})

    def heartbeat(self):
        if self.last_hb is None:
            self.send("HEARTBEAT", {"echo_t_ns": -1, "hold_ns": 0})
        else:
            peer_t, got = self.last_hb
            self.send("HEARTBEAT", {"echo_t_ns": peer_t, "hold_ns": self.now() - got})

    def poll(self, timeout: float) -> list[tuple]:
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return []
        try:
            data = self.sock.recv(65536)
        except OSError:                  # a pty whose other end closed: EIO
            data = b""
        if not data:
            self.closed_by_peer = True
            return []
        out = []
        for hdr, kind, body in self.rx.feed(data):
            out.append((hdr, kind, body))
            self.log.append((kind, hdr[4], body))
            if kind == "HELLO":
                v = min(1, body["max_version"])
                assert v >= max(1, body["min_version"]), body
                assert body["role"] in (ROLE_SENSOR, ROLE_PLANT), body
                self.peer, self.version = body, v
                self.peer_limit = body["max_payload"]
                if not body["reply"]:
                    self.last_hb = None
                    self.hello(reply=True)
            elif kind == "HEARTBEAT":
                self.last_hb = (hdr[4], self.now())
                if body["echo_t_ns"] >= 0:
                    self.rtts.append(self.now() - body["echo_t_ns"] - body["hold_ns"])
            elif kind == "ERROR":
                self.errors.append(body)
        return out


def _pursuit(state: dict) -> dict:
    """Proportional navigation (N = 4) from the decoded STATE, limited to 40 g."""
    bodies = {it["body_id"]: it for it in state["items"]}
    if 0 not in bodies or len(bodies) < 2:
        return {"count": 0, "items": []}
    m = bodies[0]
    tgt = bodies[min(k for k in bodies if k != 0)]
    r = np.subtract(tgt["pos"], m["pos"])
    v = np.subtract(tgt["vel"], m["vel"])
    rr = float(r @ r)
    if rr <= 0.0:
        return {"count": 0, "items": []}
    omega = np.cross(r, v) / rr
    vc = -float(r @ v) / math.sqrt(rr)
    a = 4.0 * vc * np.cross(omega, r / math.sqrt(rr))
    lim = 40 * 9.80665
    n = float(np.linalg.norm(a))
    sat = n > lim
    if sat:
        a *= lim / n
    t_go = math.sqrt(rr) / vc if vc > 0 else 0.0
    return {"count": 1, "items": [{"a_cmd": [float(x) for x in a], "t_go": t_go,
                                   "saturated": bool(sat)}]}


def _scenario(tmp_path: Path) -> Path:
    """The default engagement made cheap for a test: truth measurement model, 20 Hz
    guidance (about 280 events instead of 1 400)."""
    text = (ROOT / "examples" / "default.toml").read_text()
    text = text.replace('model = "iq"', 'model = "truth"', 1)
    text = text.replace("guidance_hz = 100.0", "guidance_hz = 20.0", 1)
    out = tmp_path / "client.toml"
    out.write_text(text)
    return out


class PtyStream:
    """The slave side of the emulator's pty, raw mode, with the socket calls HostClient uses."""

    def __init__(self, path: str):
        import termios
        import tty
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd, termios.TCSANOW)

    def fileno(self) -> int:
        return self.fd

    def sendall(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view):]

    def recv(self, n: int) -> bytes:
        return os.read(self.fd, n)

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@pytest.fixture
def emulators(tmp_path):
    """``start(*args)`` launches ``python -m xband.hil.emulator --listen`` (unpaced) at
    once and returns a ``connect()`` that waits for it to listen and returns the socket;
    several emulators start in parallel (their imports take most of the time)."""
    procs = []
    scenario = _scenario(tmp_path)

    def start(*extra, pty: bool = False):
        # --listen on port 0: the emulator binds a free port itself and prints it (no race
        # between picking a port here and binding it there)
        where = ["--pty"] if pty else ["--listen", "127.0.0.1:0"]
        proc = subprocess.Popen([sys.executable, "-m", "xband.hil.emulator", *where,
                                 "--speed", "0", "--scenario", str(scenario), *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        procs.append(proc)

        def connect():
            # the emulator prints {"port": "/dev/pts/N" or null, "link": URL, ...} once it
            # serves
            line = proc.stdout.readline()
            if not line:
                pytest.fail(f"emulator: not serving ({proc.stderr.read().decode()[-2000:]})")
            info = json.loads(line)
            if pty:
                return PtyStream(info["port"])
            port = int(info["link"].rpartition(":")[2])
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=0.2)
                except OSError:
                    time.sleep(0.05)
                    continue
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                return sock
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"emulator did not listen: rc={proc.returncode} "
                        f"{err.decode()[-2000:]}")
        connect.proc = proc
        return connect

    yield start
    for proc in procs:
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run_session(proc, sock, guidance: bool) -> dict:
    """Play the HOST of sections 7.1-7.6 until the device closes; returns what was seen."""
    host = HostClient(sock)
    sock.sendall(b"\x00")                                 # flush the peer's receiver (7.1)
    host.hello(reply=False)
    t_hello = t_hb = time.monotonic()
    events: dict[int, dict] = {}       # t_ns -> {"DETECTIONS": body, "STATE": body}
    answered: list[int] = []
    meta = stats = None
    close_at = None                    # when we answered the device's CLOSE
    after_close: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not host.closed_by_peer:
        now = time.monotonic()
        if close_at is not None and now - close_at > 1.5:
            break
        if host.version is None and now - t_hello >= 0.5:   # repeat HELLO every 500 ms
            host.hello(reply=False)
            t_hello = now
        if host.version is not None and now - t_hb >= 0.1 and close_at is None:
            host.heartbeat()                                  # every 100 ms (7.3)
            t_hb = now
        for hdr, kind, body in host.poll(0.02):
            t_ns = hdr[4]
            if close_at is not None:
                after_close.append(kind)
                continue
            if kind in ("DETECTIONS", "STATE"):
                assert host.version is not None, f"{kind} before HELLO"
                events.setdefault(t_ns, {})[kind] = body
                if kind == "STATE" or not host.peer["capabilities"] & CAP["TX_STATE"]:
                    cmd = (_pursuit(body) if guidance and kind == "STATE"
                           else {"count": 0, "items": []})
                    host.send("COMMAND", cmd, t_ns=t_ns)      # one COMMAND per event
                    answered.append(t_ns)
            elif kind == "META":
                meta = body["object"]
            elif kind == "STATS":
                stats = body["object"]
            elif kind == "ERROR":
                assert body["code"] == ERR["CLOSE"], body
                # 7.6: the peer ended the session: answer with STATS, then CLOSE
                mine = {"frames_sent": host.frames_sent, "frames_received": host.rx.frames,
                        "messages_received": len(host.log), **host.rx.c}
                host.send("STATS", {"text": json.dumps(mine)})
                host.send("ERROR", {"code": ERR["CLOSE"], "text": ""})
                close_at = time.monotonic()
    host.rx.end()
    return {"host": host, "events": events, "answered": answered, "meta": meta,
            "stats": stats, "close_at": close_at, "after_close": after_close}


def test_session_with_the_emulator(emulators):
    """The whole SENSOR session of 7.1-7.6 as the HOST, on a TCP socket, unpaced: HELLO,
    heartbeats, a proportional-navigation COMMAND in reply to every event's STATE, the
    result META, STATS and CLOSE both ways; nothing lost or corrupt either way.  A second
    run, over the emulator's pty (raw mode), answers every event with an empty COMMAND
    ("keep"): the device flies its launch
    command and misses the manoeuvring target, so the first run's hit is the client's
    commands' doing."""
    conn_pn, conn_keep = emulators(), emulators(pty=True)    # a socket, then a pty
    with conn_pn() as sock:
        run = _run_session(conn_pn.proc, sock, guidance=True)
    assert run["host"].closed_by_peer               # the device closed its end after CLOSE
    with conn_keep() as sock:
        keep = _run_session(conn_keep.proc, sock, guidance=False)
    host, events, answered = run["host"], run["events"], run["answered"]
    stats, meta = run["stats"], run["meta"]

    assert host.peer is not None and host.peer["role"] == ROLE_SENSOR and host.version == 1
    assert host.peer["capabilities"] & CAP["RX_COMMAND"]
    assert run["close_at"] is not None, f"no ERROR CLOSE; last messages {host.log[-3:]}"
    assert set(run["after_close"]) <= {"HEARTBEAT"}, run["after_close"]
    # every event answered exactly once, in time order; STATE holds body 0 and a target
    assert len(events) > 50 and answered == sorted(events)
    assert any("DETECTIONS" in e for e in events.values())
    for e in events.values():
        assert {it["body_id"] for it in e["STATE"]["items"]} >= {0, 1}
    # the end of the engagement: result META, then STATS, then CLOSE (7.4, 7.6)
    kinds = [k for k, _, _ in host.log if k != "HEARTBEAT"]
    assert kinds[-3:] == ["META", "STATS", "ERROR"], kinds[-6:]
    res = meta["result"]
    assert {"status", "miss_distance_m", "t_closest_s"} <= res.keys(), res
    # the device applied the commands: PN on exact truth hits (see the "keep" run below)
    assert res["status"] == "intercept" and res["miss_distance_m"] < 5.0, res
    # a clean link both ways: nothing lost, nothing corrupt, every command in time
    bad = {k: v for k, v in host.rx.c.items() if v}
    assert bad == {}, bad
    for key in ("crc_errors", "cobs_errors", "seq_gaps", "bad_payloads", "version_errors",
                "incomplete_messages", "commands_lost", "deadline_misses"):
        assert stats.get(key, 0) == 0, (key, stats)
    if "events" in stats:                        # the emulator's own count (docs/hil.md)
        assert stats["events"] == len(events)
    # heartbeats flowed and were echoed: round-trip times on our own clock
    assert host.rtts and all(0 <= r < 1e9 for r in host.rtts)
    print(f"events {len(events)}, result {res}, rtt median "
          f"{np.median(host.rtts) / 1e6:.2f} ms")

    kres = keep["meta"]["result"]
    assert keep["close_at"] is not None and keep["answered"] == sorted(keep["events"])
    assert {k: v for k, v in keep["host"].rx.c.items() if v} == {}
    assert kres["miss_distance_m"] > 50.0, kres
    assert keep["stats"].get("empty_commands", len(keep["events"])) == len(keep["events"])


def test_session_refused(emulators):
    """7.2 / 7.4: no common version, or two devices: the device answers one ERROR (header
    version 1, whatever was negotiated) naming the problem, and sends nothing else — no
    HELLO, no HEARTBEAT, no data."""
    cases = [({"min_version": 2, "max_version": 3}, ERR["VERSION_MISMATCH"], ("1..1", "2..3")),
             ({"role": ROLE_SENSOR}, ERR["BAD_ROLE"], ())]
    conns = [emulators("--session-timeout", "1") for _ in cases]
    for (hello, code, words), connect in zip(cases, conns):
        with connect() as sock:
            rx = Receiver()
            body = {"min_version": 1, "max_version": 1, "role": ROLE_HOST, "reply": False,
                    "max_payload": 4096, "capabilities": 312, "name": "spec-client", **hello}
            sock.sendall(b"\x00" + encode_message("HELLO", body, 0, 0)[0])
            got, t0 = [], time.monotonic()
            while time.monotonic() - t0 < 0.6:
                r, _, _ = select.select([sock], [], [], 0.05)
                if r:
                    data = sock.recv(65536)
                    if not data:
                        break
                    got += rx.feed(data)
        assert [k for _, k, _ in got] == ["ERROR"], got
        hdr, _, err = got[0]
        assert hdr[0] == 1 and err["code"] == code
        assert all(w in err["text"] for w in words), err
