"""The wire codec (xband.hil.codec / messages / control) against hil/PROTOCOL.md.

COBS against the published examples, CRC against its check value, round trips of every
message type (hypothesis), and fuzzing of the decoder: random bytes, bit flips,
truncations, duplicated and reordered frames never make it raise, every damaged frame is
counted and every intact frame after it is delivered.
"""
from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from xband.errors import ProtocolError
from xband.hil.codec import (
    FLAG_CONT, FLAG_MORE, HEADER, HEADER_SIZE, MAX_ENCODED_FRAME, MAX_PAYLOAD, Decoder,
    Encoder, Frame, MsgType, cobs_decode, cobs_encode, cobs_max_encoded_len, crc32,
    encode_frame, parse_frame,
)
from xband.hil.messages import (
    Assembler, Cap, ErrorCode, ErrorMessage, Heartbeat, Hello, Message, Role, decode_detections,
    decode_json, decode_message, decode_tracks, encode_commands, encode_detections,
    encode_error, encode_hello, encode_json, encode_message, encode_payloads, encode_state,
    encode_tracks, msg_type_of, negotiate_version, ns_to_t, t_to_ns,
)
from xband.types import Commands, Detections, PlantState, Tracks

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ---------------------------------------------------------------- COBS and CRC
SEQ254 = bytes(range(1, 255))  # 01 … FE
# Wikipedia "Consistent Overhead Byte Stuffing", examples 1–12 (same as PROTOCOL.md 2.2).
COBS_EXAMPLES = [
    (b"", b"\x01"),
    (b"\x00", b"\x01\x01"),
    (b"\x00\x00", b"\x01\x01\x01"),
    (bytes.fromhex("11220033"), bytes.fromhex("0311220233")),
    (bytes.fromhex("11223344"), bytes.fromhex("0511223344")),
    (bytes.fromhex("11000000"), bytes.fromhex("0211010101")),
    (SEQ254, b"\xff" + SEQ254),
    (b"\x00" + SEQ254, b"\x01\xff" + SEQ254),
    (bytes(range(1, 256)), b"\xff" + SEQ254 + b"\x02\xff"),
    (bytes(range(2, 256)) + b"\x00", b"\xff" + bytes(range(2, 256)) + b"\x01\x01"),
    (bytes(range(3, 256)) + b"\x00\x01", b"\xfe" + bytes(range(3, 256)) + b"\x02\x01"),
]


@pytest.mark.parametrize("raw, enc", COBS_EXAMPLES)
def test_cobs_known_vectors(raw, enc):
    assert cobs_encode(raw) == enc
    assert cobs_decode(enc) == raw


def test_cobs_decoder_accepts_paper_form_with_trailing_01():
    # Cheshire & Baker's reference StuffData appends a 0x01 block after a final full block.
    assert cobs_decode(b"\xff" + SEQ254 + b"\x01") == SEQ254


@pytest.mark.parametrize("bad, what", [(b"", "empty"), (b"\x03\x11\x00", "0x00 at offset 2"),
                                       (b"\x05\x11\x22", "truncated")])
def test_cobs_decode_errors_name_the_problem(bad, what):
    with pytest.raises(ProtocolError, match=what):
        cobs_decode(bad)


def _cobs_reference(data: bytes) -> bytes:
    """Byte-at-a-time COBS as in PROTOCOL.md 2.2 (the paper's loop, minus its final 0x01)."""
    out, block = bytearray(), bytearray()
    for b in data:
        if b == 0:
            out += bytes([len(block) + 1]) + block
            block.clear()
        else:
            block.append(b)
            if len(block) == 254:
                out += b"\xff" + block
                block.clear()
                full = True
                continue
        full = False
    if block or not data or not full:
        out += bytes([len(block) + 1]) + block
    return bytes(out)


# zero-heavy data exercises the numpy paths; long non-zero runs the 0xFF blocks
cobs_inputs = st.one_of(
    st.binary(max_size=3000),
    st.lists(st.sampled_from([0, 0, 1, 0x7F, 0xFF]), max_size=3000).map(bytes),
    st.lists(st.tuples(st.integers(0, 600), st.integers(0, 3)), max_size=12).map(
        lambda runs: b"".join(b"\x5a" * n + b"\x00" * z for n, z in runs)),
)


@given(cobs_inputs)
@FAST
def test_cobs_round_trip_and_bound(data):
    enc = cobs_encode(data)
    assert enc == _cobs_reference(data)
    assert b"\x00" not in enc
    assert len(enc) <= cobs_max_encoded_len(len(data))
    assert cobs_decode(enc) == data


def test_crc32_check_value_and_sizes():
    assert crc32(b"123456789") == 0xCBF43926
    assert HEADER.size == HEADER_SIZE == 20
    assert MAX_ENCODED_FRAME == 4137
    big = encode_frame(Frame(1, MsgType.STATS, 0, 0, 0, b"\x01" * MAX_PAYLOAD))
    assert len(big) == 4138 and big.endswith(b"\x00")
    with pytest.raises(ProtocolError, match="exceeds MAX_PAYLOAD"):
        encode_frame(Frame(1, MsgType.STATS, 0, 0, 0, b"\x01" * (MAX_PAYLOAD + 1)))
    with pytest.raises(ProtocolError, match="out of range"):
        encode_frame(Frame(1, MsgType.STATS, 0, -1, 0, b""))


def test_encode_frame_layout_and_parse():
    f = Frame(1, MsgType.HEARTBEAT, 0, 7, -5, b"\x00" * 16)
    wire = encode_frame(f)
    assert wire[-1] == 0 and 0 not in wire[:-1]
    raw = cobs_decode(wire[:-1])
    assert raw[:HEADER_SIZE] == struct.pack("<BBHIqI", 1, 2, 0, 7, -5, 16)
    assert int.from_bytes(raw[-4:], "little") == crc32(raw[:-4])
    assert parse_frame(raw) == f
    with pytest.raises(ProtocolError, match="CRC mismatch"):
        parse_frame(raw[:-1] + bytes([raw[-1] ^ 1]))


# ---------------------------------------------------------------- strategies
f64 = st.floats(allow_nan=True, allow_infinity=True, width=64)


def _arr(shape):
    return hnp.arrays(np.float64, shape, elements=f64)


@st.composite
def detections(draw, max_n=80):
    n = draw(st.integers(0, max_n))
    upper = draw(_arr((n, 10)))
    R = np.empty((n, 4, 4))
    iu = np.triu_indices(4)
    R[:, iu[0], iu[1]] = upper
    R[:, iu[1], iu[0]] = upper
    cols = [draw(_arr(n)) for _ in range(5)]
    return Detections(np.zeros(n), *cols, R)


@st.composite
def tracks(draw):
    n, d, m = draw(st.integers(0, 20)), draw(st.integers(1, 9)), draw(st.integers(0, 3))
    iu = np.triu_indices(d)
    P = np.empty((n, d, d))
    up = draw(_arr((n, len(iu[0]))))
    P[:, iu[0], iu[1]] = up
    P[:, iu[1], iu[0]] = up
    ids = draw(hnp.arrays(np.int64, n))
    return Tracks(ids, np.zeros(n), draw(_arr((n, d))), P,
                  draw(hnp.arrays(np.bool_, n)), draw(_arr((n, m))))


@st.composite
def commands(draw):
    n = draw(st.integers(0, 150))
    return Commands(np.zeros(n), draw(_arr((n, 3))), draw(_arr(n)),
                    draw(hnp.arrays(np.bool_, n)))


@st.composite
def states(draw):
    n = draw(st.integers(0, 120))
    bid = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 2**32 - 1)))
    return PlantState(np.zeros(n), bid, draw(_arr((n, 3))), draw(_arr((n, 3))),
                      draw(_arr((n, 3))))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.text(max_size=30)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=8), c, max_size=5),
    max_leaves=20)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=8)
hellos = st.builds(Hello, role=st.sampled_from(list(Role)), name=st.text(max_size=16),
                   capabilities=st.integers(0, 2**32 - 1), max_payload=st.integers(256, 4096),
                   min_version=st.integers(0, 255), max_version=st.integers(0, 255),
                   reply=st.booleans())
i64 = st.integers(-2**63, 2**63 - 1)
RECORDS = {
    "detections": detections(), "tracks": tracks(), "command": commands(), "state": states(),
    "meta": json_objects, "stats": json_objects, "hello": hellos,
    "heartbeat": st.builds(Heartbeat, i64, i64),
    "error": st.builds(ErrorMessage, st.integers(0, 0xFFFF), st.text(max_size=100)),
}


def _with_t(record, t):
    """The record as decoded: batch times replaced by the message time."""
    if isinstance(record, (Detections, Tracks, Commands, PlantState)):
        record.t = np.full(len(record), t)
    return record


def _same(kind, got, want):
    if kind in ("detections", "tracks", "command", "state"):
        return got.equals(want)
    if kind == "error":
        return got.code == want.code and got.text == want.text
    return got == want


def _receive(wire: bytes, chunks=None):
    dec, asm = Decoder(), Assembler()
    if chunks is None:
        dec.feed(wire)
        msgs = [m for f in dec if (m := asm.push(f)) is not None]
    else:
        msgs, i = [], 0
        for c in chunks:
            dec.feed(wire[i:i + c])
            i += c
            msgs += [m for f in dec if (m := asm.push(f)) is not None]
        dec.feed(wire[i:])
        msgs += [m for f in dec if (m := asm.push(f)) is not None]
    return msgs, dec, asm


@pytest.mark.parametrize("kind", sorted(RECORDS))
@given(data=st.data())
@FAST
def test_round_trip_every_message_type(kind, data):
    record = data.draw(RECORDS[kind])
    t_ns = data.draw(i64)
    seq = data.draw(st.integers(0, 2**32 - 1))
    max_payload = data.draw(st.sampled_from([256, 700, MAX_PAYLOAD]))
    if kind == "tracks":  # one track item must fit (9 + 8·(d + d(d+1)/2 + m) bytes)
        d, m = record.x.shape[1], record.mode_probs.shape[1]
        max_payload = max(max_payload, 4 + 9 + 8 * (d + d * (d + 1) // 2 + m))
    enc = Encoder(seq=seq, max_payload=max_payload)
    wire = enc.encode(msg_type_of(kind), encode_payloads(kind, record, max_payload), t_ns)
    chunks = data.draw(st.lists(st.integers(0, 300), max_size=5))
    msgs, dec, asm = _receive(wire, chunks)
    assert len(msgs) == 1, dec.stats
    msg = msgs[0]
    assert msg.kind == kind and msg.t == ns_to_t(t_ns)
    assert _same(kind, msg.record, _with_t(record, msg.t))
    st_ = dec.stats
    assert st_.errors == st_.seq_gaps == st_.duplicates == 0
    assert st_.frames_ok == (enc.seq - seq) % 2**32 and asm.incomplete == 0


def test_batches_split_on_item_boundaries():
    d = Detections(np.zeros(40), np.arange(40.0), *np.zeros((4, 40)), np.zeros((40, 4, 4)))
    payloads = encode_detections(d)
    assert [len(p) for p in payloads] == [2 + 34 * 120, 2 + 6 * 120]
    assert [int.from_bytes(p[:2], "little") for p in payloads] == [34, 6]
    assert len(encode_detections(d, max_payload=256)) == 20
    assert encode_detections(Detections.empty()) == [b"\x00\x00"]
    c = Commands(np.zeros(125), np.zeros((125, 3)), np.zeros(125), np.zeros(125, bool))
    assert [len(p) for p in encode_commands(c)] == [2 + 124 * 33, 2 + 33]
    frames = Encoder().frames(MsgType.DETECTIONS, payloads, 5)
    assert [f.flags for f in frames] == [FLAG_MORE, FLAG_CONT]
    assert decode_message(frames).record.range.tolist() == list(range(40))
    assert decode_detections(payloads[1], 2.0).range.tolist() == list(range(34, 40))
    imm = Tracks([1], [0.0], np.zeros((1, 9)), np.zeros((1, 9, 9)), [True], [[1, 0, 0]])
    with pytest.raises(ProtocolError, match="does not fit"):
        encode_tracks(imm, max_payload=256)
    assert len(encode_tracks(imm, max_payload=469)) == 1


def test_decoded_arrays_are_owned_and_writable():
    d = Detections(np.zeros(1), [1.0], [0.1], [0.2], [-3.0], [10.0], np.eye(4)[None])
    got = decode_detections(encode_detections(d)[0], 0.5)
    for name in ("t", "range", "az", "el", "range_rate", "snr", "R"):
        a = getattr(got, name)
        assert a.flags.writeable and a.flags.c_contiguous and a.dtype == np.float64
    assert got.t.tolist() == [0.5]


def test_payload_layout_errors_are_named():
    with pytest.raises(ProtocolError, match="count 2 needs 242 bytes, got 122"):
        decode_detections(b"\x02\x00" + bytes(120), 0.0)
    with pytest.raises(ProtocolError, match="shorter than its 4-byte header"):
        decode_tracks(b"\x00", 0.0)
    with pytest.raises(ProtocolError, match="body_id"):
        encode_state(PlantState([0.0], [-1], np.zeros((1, 3)), np.zeros((1, 3)),
                                np.zeros((1, 3))))
    with pytest.raises(ProtocolError, match="JSON object"):
        encode_json([1, 2])
    with pytest.raises(ProtocolError, match="not UTF-8 JSON"):
        decode_json(b"{nope")
    with pytest.raises(ProtocolError, match="must be a JSON object"):
        decode_json(b"[1]")
    with pytest.raises(ProtocolError, match="name"):
        encode_hello(Hello(name="x" * 65))
    with pytest.raises(ProtocolError, match="max_payload"):
        encode_hello(Hello(max_payload=100))
    with pytest.raises(ProtocolError, match="unknown message kind"):
        msg_type_of("nonsense")
    with pytest.raises(ProtocolError, match="int64 ns"):
        t_to_ns(float("nan"))


def test_json_payloads_take_numpy_and_non_finite():
    (p,) = encode_json({"a": np.float32(1.5), "b": np.arange(3), "c": float("nan"),
                        "d": (1, 2), "e": np.int64(7)})
    assert decode_json(p) == {"a": 1.5, "b": [0, 1, 2], "c": None, "d": [1, 2], "e": 7}


def test_error_text_is_cut_at_a_character_boundary():
    p = encode_error(ErrorMessage(ErrorCode.PROTOCOL, "é" * 200), max_payload=257)
    assert len(p) <= 257
    p[2:].decode("utf-8")  # still valid UTF-8


def test_time_conversion_round_trips_short_decimals():
    for t in (0.0, 0.1, 1.25, 1e-9, 61.000000001, -2.5, 3600.123456789):
        assert ns_to_t(t_to_ns(t)) == t


def test_version_negotiation():
    a = Hello(min_version=1, max_version=3)
    assert negotiate_version(a, Hello(min_version=2, max_version=5)) == 3
    assert negotiate_version(a, Hello(min_version=1, max_version=1)) == 1
    assert negotiate_version(a, Hello(min_version=4, max_version=5)) is None
    assert Cap.TX_DETECTIONS | Cap.RX_COMMAND == 0x81


# ---------------------------------------------------------------- decoder behaviour
def _frames(n, seq0=0, t0=0):
    """n single-frame messages of assorted types, seq0, seq0 + 1, …"""
    enc, out = Encoder(seq=seq0), []
    for k in range(n):
        kind = ("heartbeat", "stats", "command")[k % 3]
        rec = {"heartbeat": Heartbeat(k, 1), "stats": {"k": k},
               "command": Commands([0.0], [[k, 0.0, 1.0]], [2.0], [False])}[kind]
        out.append(encode_message(enc, kind, rec, (t0 + k) * 1e-3))
    return out


def test_stream_byte_by_byte_equals_all_at_once():
    wire = b"".join(_frames(30))
    a, _, _ = _receive(wire)
    b, dec, _ = _receive(wire, [1] * len(wire))
    assert len(a) == len(b) == 30 and dec.stats.frames_ok == 30
    assert [m.kind for m in a] == [m.kind for m in b]


def test_duplicates_reorder_gaps_wrap_and_hello_rebase():
    fr = _frames(6, seq0=2**32 - 3)          # seqs wrap: …FD FE FF 00 01 02
    wire = fr[0] + fr[1] + fr[1] + fr[3] + fr[2] + fr[2] + fr[5]    # fr[4] is lost
    msgs, dec, _ = _receive(wire)
    s = dec.stats
    # fr[2] came late (not lost, delivered once), fr[1] and fr[2] repeated, fr[4] missing
    assert (s.duplicates, s.reordered, s.seq_gaps, s.gap_events) == (2, 1, 1, 2)
    assert len(msgs) == 5
    hello = Encoder(seq=0).encode(MsgType.HELLO, encode_hello(Hello()), 0)
    msgs, dec, _ = _receive(b"".join(_frames(3, seq0=500)) + hello + b"".join(_frames(2, 1)))
    assert dec.stats.seq_gaps == dec.stats.seq_resets == 0 and len(msgs) == 6
    msgs, dec, _ = _receive(b"".join(_frames(3, seq0=50000)) + b"".join(_frames(2, 0)))
    assert dec.stats.seq_resets == 1 and len(msgs) == 5


def test_unknown_type_version_length_and_size_errors_are_counted():
    good = _frames(1) + _frames(1, seq0=2)   # seq 0 and 2; the unknown type is seq 1
    unknown = encode_frame(Frame(1, 0x7F, 0, 1, 0, b"xyz"))
    v2_data = encode_frame(Frame(2, MsgType.STATS, 0, 2, 0, b"{}"))
    v9_hello = encode_frame(Frame(9, MsgType.HELLO, 0, 0, 0, encode_hello(Hello())))
    raw = HEADER.pack(1, MsgType.STATS, 0, 1, 0, 5) + b"{}"          # says 5, has 2
    bad_len = cobs_encode(raw + crc32(raw).to_bytes(4, "little")) + b"\x00"
    short = cobs_encode(b"\x01" * 10) + b"\x00"
    msgs, dec, _ = _receive(good[0] + unknown + good[1] + v2_data + bad_len + short + v9_hello)
    s = dec.stats
    assert (s.unknown_types, s.version_errors, s.length_errors, s.truncated) == (1, 1, 1, 1)
    assert s.seq_gaps == s.duplicates == 0
    assert [m.kind for m in msgs] == ["heartbeat", "heartbeat", "hello"]
    small = Decoder(max_payload=256)
    small.feed(encode_message(Encoder(), "stats", {"x": "y" * 300}, 0))
    assert small.next_frame() is None and small.stats.oversize == 1


def test_garbage_without_delimiter_is_bounded_and_resyncs():
    dec = Decoder()
    dec.feed(b"\x55" * 20000)
    assert dec.next_frame() is None and len(dec._buf) <= MAX_ENCODED_FRAME
    dec.feed(b"\x55" * 100 + b"\x00" + b"".join(_frames(3)))
    got = list(dec)
    assert len(got) == 3 and dec.stats.oversize == 1 and dec.pending_bytes == 0


@given(st.binary(max_size=5000), st.lists(st.integers(1, 700), max_size=8))
@FAST
def test_random_bytes_never_raise(data, chunks):
    dec, asm = Decoder(), Assembler()
    i = 0
    for c in chunks + [len(data)]:
        dec.feed(data[i:i + c])
        i += c
        for f in dec:
            asm.push(f)
    asm.flush()
    assert dec.stats.bytes == len(data)


def _damage(rng, frame: bytes) -> bytes:
    """A damaged copy of one encoded frame, its delimiter kept intact."""
    body = bytearray(frame[:-1])
    how = rng.integers(3)
    if how == 0:                                     # flip 1–3 bits
        for _ in range(rng.integers(1, 4)):
            i = rng.integers(len(body))
            body[i] ^= 1 << rng.integers(8)
    elif how == 1:                                   # truncate (keep ≥ 1 byte)
        del body[rng.integers(1, len(body)):]
    else:                                            # drop bytes in the middle
        i = rng.integers(len(body))
        del body[i:i + rng.integers(1, 10)]
    return bytes(body) + b"\x00"


@pytest.mark.parametrize("seed", range(25))
def test_fuzz_damaged_duplicated_reordered_frames(seed):
    rng = np.random.default_rng(seed)
    frames = _frames(40, seq0=int(rng.integers(2**32)))
    damaged = set(rng.choice(40, size=int(rng.integers(1, 8)), replace=False).tolist())
    order, k = [], 0
    while k < 40:                                    # a few adjacent swaps
        if k < 38 and rng.random() < 0.08 and not {k, k + 1} & damaged:
            order += [k + 1, k]
            k += 2
        else:
            order.append(k)
            k += 1
    wire, dups = bytearray(), 0
    for k in order:
        wire += _damage(rng, frames[k]) if k in damaged else frames[k]
        if k not in damaged and rng.random() < 0.05:
            wire += frames[k]
            dups += 1
    chunks = rng.integers(1, 500, size=20).tolist()
    msgs, dec, asm = _receive(bytes(wire), chunks)
    s = dec.stats
    got = [m.record for m in msgs]
    assert len(msgs) == 40 - len(damaged), s     # every intact frame, once
    assert s.duplicates == dups
    assert s.errors >= len(damaged)                 # every damaged frame counted
    first = next(k for k in order if k not in damaged)           # tracking starts here
    last = max(k for k in range(40) if k not in damaged)
    assert s.seq_gaps == sum(first < k < last for k in damaged)  # …and known to be missing
    assert asm.bad_payloads == asm.incomplete == 0
    want = [k for k in order if k not in damaged]
    assert [_key(r) for r in got] == [_key(_expected(k)) for k in want]


def _expected(k):
    return {0: Heartbeat(k, 1), 1: {"k": k}, 2: ("command", k)}[k % 3]


def _key(r):
    if isinstance(r, Commands):
        return ("command", int(r.a_cmd[0, 0]))
    return r


def test_every_single_bit_flip_is_caught_and_next_frame_survives():
    a, b = _frames(2)
    for i in range(len(a) - 1):
        for bit in range(8):
            bad = bytearray(a)
            bad[i] ^= 1 << bit
            msgs, dec, _ = _receive(bytes(bad) + b)
            assert [m.record for m in msgs if m.kind == "stats"] == [{"k": 1}]
            assert len(msgs) == 1 and dec.stats.errors >= 1


# ---------------------------------------------------------------- assembly
def test_assembler_abandons_broken_runs_and_counts():
    d = Detections(np.zeros(70), np.arange(70.0), *np.zeros((4, 70)), np.zeros((70, 4, 4)))
    enc = Encoder()
    first = enc.frames(MsgType.DETECTIONS, encode_detections(d), 10)       # 3 frames
    second = enc.frames(MsgType.DETECTIONS, encode_detections(d), 20)
    asm = Assembler()
    out = [asm.push(f) for f in [first[0], first[2]] + second]           # lost a fragment
    assert asm.incomplete == 1 and out[-1].record.range.tolist() == list(range(70))
    assert sum(m is not None for m in out) == 1
    asm.push(second[0])
    asm.flush()
    assert asm.incomplete == 2 and asm.pending == 0
    assert [f.flags for f in first] == [FLAG_MORE, FLAG_MORE | FLAG_CONT, FLAG_CONT]
    asm = Assembler()                                # the head is lost: the tail pieces
    assert [asm.push(f) for f in first[1:]] == [None, None]        # are not a message
    assert asm.incomplete == 1 and asm.messages == 0
    assert asm.push(second[0]) is None and asm.incomplete == 1
    hb = Encoder().frames(MsgType.HEARTBEAT, [b"\x00" * 16] * 2, 0)     # MORE on HEARTBEAT
    assert [asm.push(f) for f in hb] == [None, None] and asm.bad_payloads == 1
    badcount = Frame(1, MsgType.COMMAND, 0, 9, 0, b"\x05\x00")
    assert asm.push(badcount) is None and asm.bad_payloads == 2


def test_encode_message_uses_encoder_limits_and_seq():
    enc = Encoder(seq=10, max_payload=300)
    wire = encode_message(enc, "stats", {"pad": "z" * 700}, 1.5)
    assert enc.seq == 13                                            # 3 frames
    msgs, dec, _ = _receive(wire)
    assert msgs == [Message("stats", 1.5, {"pad": "z" * 700})]
    assert [m.msg_type for m in msgs] == [MsgType.STATS]
