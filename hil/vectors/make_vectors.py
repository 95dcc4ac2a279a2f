#!/usr/bin/env python3
"""Generate the golden wire vectors: ``vectors.json`` and one ``<name>.bin`` per vector.

Deterministic: running it twice gives identical files, and ``tests/hil/test_vectors.py``
checks that the committed files equal what this script generates. Run from anywhere:

    python hil/vectors/make_vectors.py            # rewrite the files
    python hil/vectors/make_vectors.py --check    # exit 1 if the files are stale

The JSON is self-describing (see README.md beside it) so that the C99 codec's tests can
use it: per vector the wire bytes (``hex``), per frame the decoded header, payload and CRC,
and the decoded message. f64 values are JSON numbers written with the shortest repr that
round-trips (strtod restores them exactly); non-finite ones are the strings "NaN",
"Infinity", "-Infinity".
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "src"))

from xband.hil.codec import (  # noqa: E402
    HEADER, HEADER_SIZE, MAX_PAYLOAD, Encoder, Frame, MsgType, cobs_decode, crc32,
    encode_frame,
)
from xband.hil.messages import (  # noqa: E402
    Cap, ErrorCode, ErrorMessage, Heartbeat, Hello, Role, decode_message, encode_payloads,
)
from xband.types import Commands, Detections, PlantState, Tracks  # noqa: E402

FORMAT = "xband-wire-vectors"
_IU4 = np.triu_indices(4)


# ------------------------------------------------------------------ record <-> JSON
def f2j(x: float):
    """f64 → JSON value: a number, or "NaN" / "Infinity" / "-Infinity"."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def j2f(v) -> float:
    return float(v) if not isinstance(v, str) else float({"NaN": "nan", "Infinity": "inf",
                                                          "-Infinity": "-inf"}[v])


def _fl(a) -> list:
    return [f2j(x) for x in np.asarray(a, dtype=np.float64).ravel()]


def record_to_json(kind: str, record):
    """The JSON body of a decoded message (the wire fields, in wire order)."""
    if kind == "hello":
        return {"min_version": record.min_version, "max_version": record.max_version,
                "role": int(record.role), "reply": bool(record.reply),
                "max_payload": record.max_payload, "capabilities": int(record.capabilities),
                "name": record.name}
    if kind == "heartbeat":
        return {"echo_t_ns": record.echo_t_ns, "hold_ns": record.hold_ns}
    if kind == "error":
        return {"code": int(record.code), "text": record.text}
    if kind in ("meta", "stats"):
        return {"object": record}
    if kind == "detections":
        return {"count": len(record), "items": [
            {"range": f2j(record.range[i]), "az": f2j(record.az[i]), "el": f2j(record.el[i]),
             "range_rate": f2j(record.range_rate[i]), "snr": f2j(record.snr[i]),
             "R_upper": _fl(record.R[i][_IU4])} for i in range(len(record))]}
    if kind == "state":
        return {"count": len(record), "items": [
            {"body_id": int(record.body_id[i]), "pos": _fl(record.pos[i]),
             "vel": _fl(record.vel[i]), "acc": _fl(record.acc[i])} for i in range(len(record))]}
    if kind == "tracks":
        dim, modes = record.x.shape[1], record.mode_probs.shape[1]
        iu = np.triu_indices(dim)
        return {"count": len(record), "dim": dim, "modes": modes, "items": [
            {"id": int(record.id[i]), "confirmed": bool(record.confirmed[i]),
             "x": _fl(record.x[i]), "P_upper": _fl(record.P[i][iu]),
             "mode_probs": _fl(record.mode_probs[i])} for i in range(len(record))]}
    if kind == "command":
        return {"count": len(record), "items": [
            {"a_cmd": _fl(record.a_cmd[i]), "t_go": f2j(record.t_go[i]),
             "saturated": bool(record.saturated[i])} for i in range(len(record))]}
    raise ValueError(kind)


def _sym(upper: list, d: int) -> np.ndarray:
    iu = np.triu_indices(d)
    M = np.zeros((d, d))
    M[iu] = [j2f(v) for v in upper]
    M[(iu[1], iu[0])] = M[iu]
    return M


def json_to_record(kind: str, body, t_ns: int):
    """Inverse of :func:`record_to_json`: the record a message body describes."""
    t = t_ns / 1e9
    if kind == "hello":
        return Hello(role=body["role"], name=body["name"], capabilities=body["capabilities"],
                     max_payload=body["max_payload"], min_version=body["min_version"],
                     max_version=body["max_version"], reply=body["reply"])
    if kind == "heartbeat":
        return Heartbeat(body["echo_t_ns"], body["hold_ns"])
    if kind == "error":
        return ErrorMessage(body["code"], body["text"])
    if kind in ("meta", "stats"):
        return body["object"]
    items = body["items"]
    n = len(items)
    col = lambda key: np.array([j2f(it[key]) for it in items], dtype=np.float64)  # noqa: E731
    vec = lambda key: np.array([[j2f(v) for v in it[key]] for it in items],  # noqa: E731
                               dtype=np.float64)
    if kind == "detections":
        R = np.array([_sym(it["R_upper"], 4) for it in items]).reshape(n, 4, 4)
        return Detections(t=np.full(n, t), range=col("range"), az=col("az"), el=col("el"),
                          range_rate=col("range_rate"), snr=col("snr"), R=R)
    if kind == "state":
        return PlantState(t=np.full(n, t), body_id=[it["body_id"] for it in items],
                          pos=vec("pos").reshape(n, 3), vel=vec("vel").reshape(n, 3),
                          acc=vec("acc").reshape(n, 3))
    if kind == "tracks":
        d, m = body["dim"], body["modes"]
        return Tracks(id=np.array([it["id"] for it in items], dtype=np.int64),
                      t=np.full(n, t), x=vec("x").reshape(n, d),
                      P=np.array([_sym(it["P_upper"], d) for it in items]).reshape(n, d, d),
                      confirmed=np.array([it["confirmed"] for it in items], dtype=bool),
                      mode_probs=vec("mode_probs").reshape(n, m))
    if kind == "command":
        return Commands(t=np.full(n, t), a_cmd=vec("a_cmd").reshape(n, 3), t_go=col("t_go"),
                        saturated=np.array([it["saturated"] for it in items], dtype=bool))
    raise ValueError(kind)


# ------------------------------------------------------------------ the vectors
def _spd(rng, n: int, d: int, scale) -> np.ndarray:
    A = rng.normal(size=(n, d, d)) * np.asarray(scale)[:, None]
    return A @ A.transpose(0, 2, 1) + np.eye(d) * 1e-3


def _dets(rng, n: int, t: float) -> Detections:
    return Detections(t=np.full(n, t), range=np.round(rng.uniform(2e3, 3e4, n), 3),
                      az=rng.uniform(-np.pi, np.pi, n), el=rng.uniform(0, 0.8, n),
                      range_rate=rng.uniform(-900, 300, n), snr=rng.uniform(10, 1e4, n),
                      R=_spd(rng, n, 4, [10.0, 1e-3, 1e-3, 2.0]))


def _stats_of_size(size: int, cond, key: str = "k") -> dict:
    """The first {"k": i, "pad": "xx…"} (i = 0, 1, …) whose compact JSON is ``size`` bytes
    and whose frame (seq 0, t_ns 0) satisfies ``cond(raw)``."""
    for i in range(1_000_000):
        head = json.dumps({key: i, "pad": ""}, separators=(",", ":"))
        obj = {key: i, "pad": "x" * (size - len(head))}
        payload = encode_payloads("stats", obj)[0]
        assert len(payload) == size
        raw = encode_frame(Frame(1, MsgType.STATS, 0, 0, 0, payload))
        if cond(cobs_decode(raw[:-1])):
            return obj
    raise RuntimeError("no payload found")


def vector_specs() -> list[dict]:
    """(name, description, kind, record, t_ns, seq) of every message vector."""
    rng = np.random.default_rng(20240601)
    caps_host = Cap.TX_COMMAND | Cap.TX_TRACKS | Cap.RX_DETECTIONS | Cap.RX_STATE | Cap.TX_STATS
    caps_dev = Cap.TX_DETECTIONS | Cap.TX_STATE | Cap.RX_COMMAND | Cap.RX_TRACKS | Cap.TX_STATS
    t1 = 1_250_000_000
    z3 = np.zeros((1, 3))
    specs = [
        ("hello_host", "HELLO opening a session, from the host", "hello",
         Hello(Role.HOST, "xband-host", caps_host, MAX_PAYLOAD, 1, 1, False), 0, 0),
        ("hello_device_reply", "HELLO answering the host's, from a sensor device with a "
         "512-byte receive limit and a non-ASCII name", "hello",
         Hello(Role.SENSOR, "capteur-\u00e9", caps_dev, 512, 1, 2, True), 0, 0),
        ("heartbeat", "HEARTBEAT echoing the peer's heartbeat of t=1 s, held 250 us "
         "(the worked example of PROTOCOL.md)", "heartbeat",
         Heartbeat(1_000_000_000, 250_000), 1_100_000_000, 5),
        ("heartbeat_seq_wrap", "HEARTBEAT with seq 0xFFFFFFFF (the next frame has seq 0), "
         "nothing to echo yet, large t_ns", "heartbeat", Heartbeat(-1, 0), 2**62, 0xFFFFFFFF),
        ("error_version_mismatch", "ERROR VERSION_MISMATCH with its explanation", "error",
         ErrorMessage(ErrorCode.VERSION_MISMATCH,
                      "no common version: mine 1..1, yours 2..3"), 0, 1),
        ("error_close", "ERROR CLOSE (orderly end) with no text: a 2-byte payload", "error",
         ErrorMessage(ErrorCode.CLOSE, ""), 61_000_000_000, 610),
        ("meta_recording_header", "META: the first frame of a recording", "meta",
         {"format": "xband-recording", "format_version": 1, "protocol_version": 1,
          "scenario": "demo", "seed": 7, "xband_version": "0.1.0", "backend": "reference"},
         0, 0),
        ("stats", "STATS at the end of a run", "stats",
         {"frames_sent": 1200, "frames_received": 1199, "crc_errors": 1, "seq_gaps": 1,
          "rtt_ms": {"mean": 1.25, "max": 3.5}}, 60_000_000_000, 1201),
        ("detections_one", "DETECTIONS: one detection with a full covariance", "detections",
         _dets(rng, 1, 1.25), t1, 10),
        ("detections_sum_only_nan", "DETECTIONS from a sum-only receiver: unknown angles "
         "are NaN, and so are their variances", "detections",
         Detections(t=[1.25, 1.25], range=[12000.0, 15500.5], az=[np.nan, np.nan],
                    el=[np.nan, np.nan], range_rate=[-310.0, 12.5], snr=[250.0, 40.0],
                    R=np.array([np.diag([25.0, np.nan, np.nan, 4.0])] * 2)), t1, 11),
        ("detections_empty", "DETECTIONS: a scan with no detection (count 0)", "detections",
         Detections.empty(), t1, 12),
        ("detections_split_more", "DETECTIONS: 40 detections, 34 per frame (MORE on the "
         "first frame, CONT on the second)", "detections", _dets(rng, 40, 2.5), 2_500_000_000, 13),
        ("state_two_bodies", "STATE: interceptor (body 0) and a target (body 1)", "state",
         PlantState(t=[3.0, 3.0], body_id=[0, 1],
                    pos=[[0.0, 0.0, 1.5], [12000.0, 20000.0, 3000.0]],
                    vel=[[150.0, 400.0, 80.0], [-250.0, -10.0, 0.0]],
                    acc=[[0.0, 30.0, -9.80665], [0.0, 0.0, 0.0]]), 3_000_000_000, 20),
        ("state_zeros", "STATE: body 0 at rest at the origin: a payload of zeros, so every "
         "byte needs stuffing", "state",
         PlantState(t=[0.0], body_id=[0], pos=z3, vel=z3, acc=z3), 0, 0),
        ("tracks_cv", "TRACKS: two 6-state tracks, one mode, one tentative", "tracks",
         Tracks(id=[1, 7], t=[4.0, 4.0], x=rng.normal(0, 1000, (2, 6)),
                P=_spd(rng, 2, 6, [10.0] * 3 + [3.0] * 3), confirmed=[True, False],
                mode_probs=[[1.0], [1.0]]), 4_000_000_000, 30),
        ("tracks_imm", "TRACKS: one 9-state IMM track with 3 modes", "tracks",
         Tracks(id=[2**40 + 3], t=[4.0], x=rng.normal(0, 500, (1, 9)),
                P=_spd(rng, 1, 9, [10.0] * 3 + [3.0] * 3 + [1.0] * 3), confirmed=[True],
                mode_probs=[[0.7, 0.2, 0.1]]), 4_000_000_000, 31),
        ("tracks_empty", "TRACKS: no track (count 0, dim 6, modes 1)", "tracks",
         Tracks.empty(6, 1), 4_000_000_000, 32),
        ("command_one", "COMMAND: one saturated acceleration command", "command",
         Commands(t=[1.25], a_cmd=[[0.0, 30.0, -12.5]], t_go=[4.75], saturated=[True]),
         t1, 40),
        ("command_zeros", "COMMAND: zero command, t_go 0, not saturated: mostly zeros",
         "command", Commands(t=[0.0], a_cmd=z3, t_go=[0.0], saturated=[False]), 0, 41),
        ("stats_max_payload", "STATS whose JSON is exactly MAX_PAYLOAD = 4096 bytes: the "
         "largest frame", "stats", _stats_of_size(MAX_PAYLOAD, lambda raw: True), 0, 0),
        ("meta_split_more", "META of 5000 bytes of JSON cut at 4096 bytes: the text is "
         "joined before parsing", "meta",
         {"note": "long header", "pad": "y" * 4966}, 0, 0),
        ("cobs_run_254_at_end", "COBS edge: the frame ends with exactly 254 non-zero bytes "
         "(250 of payload + 4 of CRC): a full 0xFF block and no trailing 0x01", "stats",
         _stats_of_size(250, lambda raw: raw[19] == 0 and 0 not in raw[20:]), 0, 0),
        ("cobs_run_254_then_zero", "COBS edge: 254 non-zero payload bytes then a zero "
         "(CRC's low byte): a 0xFF block followed by a 0x01 block", "stats",
         _stats_of_size(254, lambda raw: raw[HEADER_SIZE + 254] == 0), 0, 0),
        ("cobs_run_255_at_end", "COBS edge: the frame ends with 255 non-zero bytes: "
         "a 0xFF block then a 0x02 block", "stats",
         _stats_of_size(251, lambda raw: 0 not in raw[20:]), 0, 0),
    ]
    return [dict(zip(("name", "description", "kind", "record", "t_ns", "seq"), s))
            for s in specs]


def _header_json(f: Frame) -> dict:
    name = MsgType(f.msg_type).name if f.msg_type in MsgType._value2member_map_ else None
    return {"version": f.version, "msg_type": int(f.msg_type), "msg_type_name": name,
            "flags": f.flags, "seq": f.seq, "t_ns": f.t_ns, "payload_len": len(f.payload)}


def _frame_json(f: Frame) -> dict:
    enc = encode_frame(f)
    raw = HEADER.pack(f.version, int(f.msg_type), f.flags, f.seq, f.t_ns, len(f.payload))
    raw += f.payload
    crc = crc32(raw)
    raw += crc.to_bytes(4, "little")
    return {"header": _header_json(f), "payload_hex": f.payload.hex(), "crc32": f"0x{crc:08x}",
            "raw_hex": raw.hex(), "encoded_hex": enc.hex()}


def build() -> tuple[dict, dict[str, bytes]]:
    """The vectors document and the .bin file contents, by name."""
    vectors, bins = [], {}
    for s in vector_specs():
        kind = s["kind"]
        enc = Encoder(seq=s["seq"])
        frames = enc.frames(MsgType[kind.upper()], encode_payloads(kind, s["record"]),
                            s["t_ns"])
        wire = b"".join(encode_frame(f) for f in frames)
        msg = decode_message(frames)
        body = record_to_json(kind, msg.record)
        if kind in ("meta", "stats"):
            body = {"text": b"".join(f.payload for f in frames).decode("utf-8"), **body}
        vectors.append({"name": s["name"], "description": s["description"],
                        "hex": wire.hex(), "frames": [_frame_json(f) for f in frames],
                        "message": {"type": kind.upper(), "t_ns": s["t_ns"], "body": body}})
        bins[s["name"]] = wire
    # An unknown message type with an empty payload: a receiver counts it and skips it.
    f = Frame(1, 0x7F, 0, 3, 0, b"")
    vectors.append({"name": "unknown_type_empty_payload",
                    "description": "msg_type 0x7F (unassigned) with an empty payload: valid "
                    "framing and CRC; a receiver counts it as an unknown type and skips it",
                    "hex": encode_frame(f).hex(), "frames": [_frame_json(f)], "message": None})
    bins[vectors[-1]["name"]] = encode_frame(f)
    doc = {"format": FORMAT, "format_version": 1, "protocol_version": 1,
           "generator": "hil/vectors/make_vectors.py", "spec": "hil/PROTOCOL.md",
           "msg_types": {m.name: int(m) for m in MsgType},
           "flags": {"MORE": 1, "CONT": 2}, "max_payload": MAX_PAYLOAD, "vectors": vectors}
    return doc, bins


def render(doc: dict) -> str:
    return json.dumps(doc, indent=1, ensure_ascii=True) + "\n"


def main(argv: list[str]) -> int:
    doc, bins = build()
    files = {HERE / "vectors.json": render(doc).encode("ascii")}
    files.update({HERE / f"{name}.bin": data for name, data in bins.items()})
    if "--check" in argv:
        stale = [p.name for p, d in files.items() if not p.exists() or p.read_bytes() != d]
        for p in stale:
            print(f"stale: {p}")
        return 1 if stale else 0
    for p, d in files.items():
        p.write_bytes(d)
    print(f"wrote {len(doc['vectors'])} vectors to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
