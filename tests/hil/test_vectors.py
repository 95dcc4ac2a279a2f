"""The golden vectors of hil/vectors/: the codec reproduces each byte for byte and decodes
each to its JSON; the committed files are what make_vectors.py generates."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from xband.hil.codec import (
    FLAG_CONT, FLAG_MORE, HEADER, MAX_PAYLOAD, Decoder, Encoder, MsgType, cobs_decode,
    cobs_encode, crc32,
)
from xband.hil.messages import Assembler, encode_json, encode_payloads

ROOT = Path(__file__).resolve().parents[2]
VEC_DIR = ROOT / "hil" / "vectors"
DOC = json.loads((VEC_DIR / "vectors.json").read_text())
VECTORS = {v["name"]: v for v in DOC["vectors"]}


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_vectors", VEC_DIR / "make_vectors.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


GEN = _load_generator()


def test_files_are_up_to_date_and_deterministic():
    doc, bins = GEN.build()
    assert GEN.render(doc) == (VEC_DIR / "vectors.json").read_text(), \
        "vectors.json is stale: run python hil/vectors/make_vectors.py"
    assert GEN.render(GEN.build()[0]) == GEN.render(doc)
    for name, data in bins.items():
        assert (VEC_DIR / f"{name}.bin").read_bytes() == data, name


def test_coverage_of_types_and_edges():
    types = {v["message"]["type"] for v in DOC["vectors"] if v["message"]}
    assert types == {m.name for m in MsgType}
    frames = [f for v in DOC["vectors"] for f in v["frames"]]
    lens = {f["header"]["payload_len"] for f in frames}
    assert {0, 2, MAX_PAYLOAD} <= lens
    assert any(f["header"]["flags"] == FLAG_MORE for f in frames)
    assert any(f["header"]["flags"] == FLAG_CONT for f in frames)
    assert any(f["header"]["seq"] == 0xFFFFFFFF for f in frames)
    assert DOC["flags"] == {"MORE": FLAG_MORE, "CONT": FLAG_CONT}


def _blocks(encoded: bytes) -> list[int]:
    codes, i = [], 0
    while encoded[i]:
        codes.append(encoded[i])
        i += encoded[i]
    return codes


def test_cobs_edge_vectors_have_the_intended_blocks():
    enc = lambda n: bytes.fromhex(VECTORS[n]["frames"][0]["encoded_hex"])  # noqa: E731
    assert _blocks(enc("cobs_run_254_at_end"))[-1] == 0xFF          # no trailing 0x01
    assert _blocks(enc("cobs_run_254_then_zero"))[-3:-1] == [0xFF, 0x01]
    assert _blocks(enc("cobs_run_255_at_end"))[-2:] == [0xFF, 0x02]
    assert len(enc("stats_max_payload")) == 4138


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_frames(name):
    v = VECTORS[name]
    wire = bytes.fromhex(v["hex"])
    assert (VEC_DIR / f"{name}.bin").read_bytes() == wire
    assert b"".join(bytes.fromhex(f["encoded_hex"]) for f in v["frames"]) == wire
    for f in v["frames"]:
        h, raw, enc = f["header"], bytes.fromhex(f["raw_hex"]), bytes.fromhex(f["encoded_hex"])
        payload = bytes.fromhex(f["payload_hex"])
        assert cobs_encode(raw) + b"\x00" == enc
        assert cobs_decode(enc[:-1]) == raw
        assert raw[:20] == HEADER.pack(h["version"], h["msg_type"], h["flags"], h["seq"],
                                       h["t_ns"], h["payload_len"])
        assert raw[20:-4] == payload and len(payload) == h["payload_len"]
        assert int(f["crc32"], 16) == crc32(raw[:-4]) == int.from_bytes(raw[-4:], "little")


@pytest.mark.parametrize("name", sorted(n for n, v in VECTORS.items() if v["message"]))
def test_vector_encodes_byte_for_byte(name):
    v = VECTORS[name]
    m, h0 = v["message"], v["frames"][0]["header"]
    kind = m["type"].lower()
    record = GEN.json_to_record(kind, m["body"], m["t_ns"])
    payloads = encode_payloads(kind, record)
    if kind in ("meta", "stats"):
        assert b"".join(encode_json(m["body"]["object"])) == m["body"]["text"].encode()
    wire = Encoder(seq=h0["seq"]).encode(MsgType[m["type"]], payloads, m["t_ns"])
    assert wire.hex() == v["hex"]


@pytest.mark.parametrize("name", sorted(VECTORS))
def test_vector_decodes_to_its_json(name):
    v = VECTORS[name]
    dec, asm = Decoder(), Assembler()
    dec.feed(bytes.fromhex(v["hex"]))
    frames = list(dec)
    msgs = [msg for f in frames if (msg := asm.push(f)) is not None]
    if v["message"] is None:
        assert frames == [] and dec.stats.unknown_types == 1 and dec.stats.errors == 0
        return
    assert [{"version": f.version, "msg_type": int(f.msg_type),
             "msg_type_name": MsgType(f.msg_type).name, "flags": f.flags, "seq": f.seq,
             "t_ns": f.t_ns, "payload_len": len(f.payload)} for f in frames] == \
        [f["header"] for f in v["frames"]]
    assert len(msgs) == 1 and dec.stats.errors == 0 and dec.pending_bytes == 0
    msg, m = msgs[0], v["message"]
    assert msg.kind == m["type"].lower() and msg.t == m["t_ns"] / 1e9
    body = GEN.record_to_json(msg.kind, msg.record)
    if msg.kind in ("meta", "stats"):
        body = {"text": b"".join(f.payload for f in frames).decode(), **body}
    assert json.loads(json.dumps(body)) == m["body"]


def test_worked_example_in_protocol_md_matches_the_vector():
    doc = (ROOT / "hil" / "PROTOCOL.md").read_text()
    flat = re.sub(r"\s+", "", doc).upper()
    v = VECTORS["heartbeat"]
    assert v["hex"].upper() in flat
    assert v["frames"][0]["raw_hex"].upper() in flat
    assert v["frames"][0]["crc32"][2:].upper() in flat
