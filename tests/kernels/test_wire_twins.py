"""The COBS kernel equals its numpy twin and the byte-at-a-time definition."""
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
