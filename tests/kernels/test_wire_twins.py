"""The wire kernels equal their numpy twins and the definitions: COBS byte at a time, and
the fused frame encoder (CRC-32 + COBS + delimiter) against PROTOCOL.md's composition."""
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from xband._ext import wire as c_wire
from xband.reference import wire as r_wire

pytestmark = pytest.mark.reference_rerun


def _enc(mod, data):
    dst = bytearray(len(data) + len(data) // 254 + 2)
    n = mod.cobs_encode(bytes(data), dst)
    return bytes(dst[:n])


def _dec(mod, enc):
    dst = bytearray(max(len(enc), 1))
    n = mod.cobs_decode(bytes(enc), dst)
    return bytes(dst[:n]) if n >= 0 else n


EDGES = [b"", b"\x00", b"\x00\x00", b"\x11\x22\x00\x33", bytes(range(1, 255)),
         bytes(range(1, 255)) + b"\x00", bytes(range(1, 256)), b"\x01" * 254 + b"\x00" * 3,
         b"\xff" * 600, b"\x00" * 600]


@pytest.mark.parametrize("data", EDGES)
def test_edges_identical(data):
    enc = _enc(c_wire, data)
    assert enc == _enc(r_wire, data)
    assert 0 not in enc
    assert _dec(c_wire, enc) == _dec(r_wire, enc) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_random_round_trip_identical(data):
    enc = _enc(c_wire, data)
    assert enc == _enc(r_wire, data)
    assert _dec(c_wire, enc) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=600))
def test_malformed_input_same_verdict(junk):
    assert _dec(c_wire, junk) == _dec(r_wire, junk)


def test_large_random(rng):
    data = rng.integers(0, 256, 100_000, dtype=np.uint8).tobytes()
    enc = _enc(c_wire, data)
    assert enc == _enc(r_wire, data) and _dec(c_wire, enc) == data


# ------------------------------------------------------------------ frame_encode
def _frame_ref(head, payload):
    """The frame by its definition: COBS(head ‖ payload ‖ crc32 LE) ‖ 0x00 (PROTOCOL.md)."""
    raw = head + payload
    raw += (zlib.crc32(raw) & 0xFFFFFFFF).to_bytes(4, "little")
    return _enc(r_wire, raw) + b"\x00"


def _frame(mod, head, payload, at=0, room=None):
    n = len(head) + len(payload) + 4
    dst = bytearray(b"\xaa" * (at + (n + n // 254 + 2 if room is None else room)))
    end = mod.frame_encode(head, payload, dst, at)
    return end, bytes(dst)


# payload lengths putting the frame's end on and around COBS block boundaries
# (header 20 + crc 4: 254 - 24 = 230, 508 - 24 = 484)
FRAME_EDGES = [b"", b"\x00", b"\x00" * 300, b"\xff" * 229, b"\xff" * 230, b"\xff" * 231,
               b"\x07" * 484, bytes(range(1, 256)) * 3, b"\x01" * 254 + b"\x00"]


@pytest.mark.parametrize("payload", FRAME_EDGES)
@pytest.mark.parametrize("head", [bytes(20), b"\x01\x10\x00\x00" + bytes(range(1, 17))])
def test_frame_encode_identical_to_its_definition(head, payload):
    want = _frame_ref(head, payload)
    for at in (0, 3):
        ce, cd = _frame(c_wire, head, payload, at)
        re, rd = _frame(r_wire, head, payload, at)
        assert ce == re == at + len(want)
        assert cd == rd and cd[at:ce] == want and cd[:at] == b"\xaa" * at   # prefix kept


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.binary(max_size=1500),
       st.integers(0, 40))
def test_frame_encode_random_identical(head, payload, at):
    want = _frame_ref(head, payload)
    ce, cd = _frame(c_wire, head, payload, at)
    re, rd = _frame(r_wire, head, payload, at)
    assert ce == re == at + len(want) and cd == rd and cd[at:ce] == want
    assert _dec(c_wire, cd[at:ce - 1]) == head + payload + \
        (zlib.crc32(head + payload) & 0xFFFFFFFF).to_bytes(4, "little")


def test_frame_encode_refuses_a_short_buffer():
    head, payload = bytes(20), b"\x05" * 100
    n = 124
    need = n + n // 254 + 2
    for mod in (c_wire, r_wire):
        end, dst = _frame(mod, head, payload, 5, room=need - 1)
        assert end == -1 and dst == b"\xaa" * len(dst)          # nothing written
        assert _frame(mod, head, payload, 5, room=need)[0] == 5 + len(_frame_ref(head,
                                                                                 payload))
        assert mod.frame_encode(head, payload, bytearray(400), -1) == -1


def test_crc_table_matches_zlib(rng):
    """The kernel's CRC-32 (table, byte at a time) is zlib's on random data: decoding the
    frame gives back the stored CRC."""
    for n in (0, 1, 7, 1000, 4096):
        payload = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        end, dst = _frame(c_wire, bytes(20), payload)
        raw = _dec(c_wire, dst[:end - 1])
        assert raw[-4:] == (zlib.crc32(bytes(20) + payload) & 0xFFFFFFFF).to_bytes(4, "little")


# ------------------------------------------------------------------ frames_encode
def _frames(mod, heads, payloads, at=0, room=None):
    ends = np.cumsum([len(p) for p in payloads], dtype=np.int64)
    need = sum(len(h) + len(p) + 4 + (len(h) + len(p) + 4) // 254 + 2
               for h, p in zip(heads, payloads))
    dst = bytearray(b"\xaa" * (at + (need if room is None else room)))
    end = mod.frames_encode(b"".join(heads), b"".join(payloads), ends, dst, at)
    return end, bytes(dst)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.binary(min_size=20, max_size=20), st.binary(max_size=700)),
                max_size=6), st.integers(0, 9))
def test_frames_encode_is_frame_encode_back_to_back(frames, at):
    heads = [h for h, _ in frames]
    payloads = [p for _, p in frames]
    want = b"".join(_frame_ref(h, p) for h, p in frames)
    ce, cd = _frames(c_wire, heads, payloads, at)
    re, rd = _frames(r_wire, heads, payloads, at)
    assert ce == re == at + len(want) and cd == rd and cd[at:ce] == want


def test_frames_encode_refuses_bad_ends_or_room():
    heads, payloads = [bytes(20)] * 3, [b"\x01" * 10, b"", b"\x00" * 300]
    need = sum(24 + len(p) + (24 + len(p)) // 254 + 2 for p in payloads)
    for mod in (c_wire, r_wire):
        end, dst = _frames(mod, heads, payloads, 2, room=need - 1)
        assert end == -1 and dst == b"\xaa" * len(dst)
        blob, dst = b"".join(payloads), bytearray(need + 10)
        for ends in ([10, 5, 310], [10, 10, 309], [10, 10]):   # backwards, short, heads ≠ k
            assert mod.frames_encode(bytes(60), blob, np.array(ends, np.int64), dst, 0) == -1
        assert mod.frames_encode(b"", b"", np.zeros(0, np.int64), dst, 4) == 4
