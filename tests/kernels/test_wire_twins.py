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


# ------------------------------------------------------------------ whole messages
# command_frame / state_frame / detections_frame / tracks_frame: one message framed from
# the record's arrays; equal to its definition — the payload of xband.hil.messages, the
# header of PROTOCOL.md (<BBHIqI), then the frame — and the two twins equal each other,
# also in what they refuse.
from xband.hil import messages as M  # noqa: E402
from xband.hil.codec import HEADER, MsgType  # noqa: E402
from xband.types import Commands, Detections, PlantState, Tracks  # noqa: E402

SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1e308, 2.0 ** -1074])


def _cmds(rng, n):
    return Commands(t=np.zeros(n), a_cmd=rng.normal(0, 50, (n, 3)), t_go=rng.uniform(0, 9, n),
                    saturated=rng.random(n) < 0.5)


def _state(rng, n):
    return PlantState(t=np.zeros(n), body_id=rng.integers(0, 2 ** 32, n),
                      pos=rng.normal(0, 1e4, (n, 3)), vel=rng.normal(0, 300, (n, 3)),
                      acc=rng.normal(0, 30, (n, 3)))


def _dets(rng, n):
    A = rng.normal(0, 1, (n, 4, 4))
    return Detections(t=np.zeros(n), range=rng.uniform(0, 3e4, n), az=rng.uniform(-3, 3, n),
                      el=rng.uniform(0, 1, n), range_rate=rng.normal(0, 200, n),
                      snr=rng.uniform(1, 1e4, n), R=A @ A.transpose(0, 2, 1))


def _tracks(rng, n, dim=9, modes=3):
    A = rng.normal(0, 1, (n, dim, dim))
    return Tracks(id=rng.integers(0, 2 ** 62, n), t=np.zeros(n), x=rng.normal(0, 1e3, (n, dim)),
                  P=A @ A.transpose(0, 2, 1), confirmed=rng.random(n) < 0.5,
                  mode_probs=rng.dirichlet(np.ones(modes), n))


_FIELDS = {"command": ("a_cmd", "t_go", "saturated"), "state": ("body_id", "pos", "vel", "acc"),
           "detections": ("range", "az", "el", "range_rate", "snr", "R"),
           "tracks": ("id", "confirmed", "x", "P", "mode_probs")}


def _args(kind, rec):
    return tuple(getattr(rec, f) for f in _FIELDS[kind])


_KERNEL = {"command": "command_frame", "state": "state_frame",
           "detections": "detections_frame", "tracks": "tracks_frame"}
_TYPE = {"command": MsgType.COMMAND, "state": MsgType.STATE,
         "detections": MsgType.DETECTIONS, "tracks": MsgType.TRACKS}


def _message(mod, kind, rec, *, at=0, room=None, flags=0, seq=7, t_ns=123_456_789,
             max_payload=4096, version=1):
    size = at + (room if room is not None else 5000 + 300 * len(_args(kind, rec)[0]))
    dst = bytearray(b"\xaa" * size)
    end = getattr(mod, _KERNEL[kind])(dst, at, version, flags, seq, t_ns, *_args(kind, rec),
                                      max_payload)
    return end, bytes(dst)


def _message_ref(kind, rec, flags=0, seq=7, t_ns=123_456_789, version=1):
    (payload,) = M.encode_payloads(kind, rec)
    return _frame_ref(HEADER.pack(version, int(_TYPE[kind]), flags, seq, t_ns, len(payload)),
                      payload)


@pytest.mark.parametrize("kind, make", [("command", _cmds), ("state", _state),
                                        ("detections", _dets), ("tracks", _tracks)])
@pytest.mark.parametrize("n", [0, 1, 2, 5, 20])
def test_message_frames_equal_their_definition(rng, kind, make, n):
    rec = make(rng, n)
    if len(M.encode_payloads(kind, rec)) > 1:        # 20 IMM tracks: 9 604 B > 4 096
        for mod in (c_wire, r_wire):                 # refused: the caller splits it
            end, dst = _message(mod, kind, rec)
            assert end == -2 and set(dst) == {0xaa}
        return
    for at in (0, 5):
        for flags, seq, t_ns in ((0, 7, 123_456_789), (3, 2 ** 32 - 1, -2 ** 63),
                                 (0xFFFF, 0, 2 ** 63 - 1)):
            want = _message_ref(kind, rec, flags, seq, t_ns)
            ce, cd = _message(c_wire, kind, rec, at=at, flags=flags, seq=seq, t_ns=t_ns)
            re, rd = _message(r_wire, kind, rec, at=at, flags=flags, seq=seq, t_ns=t_ns)
            assert ce == re == at + len(want)
            assert cd == rd and cd[at:ce] == want and cd[:at] == b"\xaa" * at


def test_message_frames_keep_every_bit_of_special_values(rng):
    """NaN, ±0, ±inf and subnormals go through as their bytes (no conversion)."""
    c = _cmds(rng, 8)
    c.a_cmd[:, 0], c.t_go[:] = SPECIAL, SPECIAL[::-1]
    s = _state(rng, 8)
    s.pos[:, 1], s.acc[:, 2] = SPECIAL, SPECIAL
    s.body_id[:2] = [0, 2 ** 32 - 1]                         # the u32 range's ends
    d = _dets(rng, 8)
    d.el[:], d.R[:, 0, 3] = SPECIAL, SPECIAL
    tr = _tracks(rng, 8, dim=6, modes=1)
    tr.x[:, 5], tr.P[:, 2, 4] = SPECIAL, SPECIAL
    for kind, rec in (("command", c), ("state", s), ("detections", d), ("tracks", tr)):
        want = _message_ref(kind, rec)
        assert _message(c_wire, kind, rec)[0] == len(want)
        assert _message(c_wire, kind, rec)[1][:len(want)] == want
        assert _message(r_wire, kind, rec)[1][:len(want)] == want


@pytest.mark.parametrize("dim, modes", [(0, 0), (1, 1), (3, 2), (6, 1), (9, 3), (12, 4)])
def test_tracks_frame_any_dim_and_modes(rng, dim, modes):
    tr = _tracks(rng, 3, dim, modes)
    want = _message_ref("tracks", tr)
    for mod in (c_wire, r_wire):
        end, dst = _message(mod, "tracks", tr)
        assert end == len(want) and dst[:end] == want


@pytest.mark.parametrize("kind, make", [("command", _cmds), ("state", _state),
                                        ("detections", _dets), ("tracks", _tracks)])
def test_message_frames_refuse_without_writing(rng, kind, make):
    """−1: too little room; −2: over max_payload (the caller splits the message) or
    shapes that disagree; nothing written either way, same verdict from both twins."""
    rec = make(rng, 3)
    want = _message_ref(kind, rec)
    n = HEADER.size + len(M.encode_payloads(kind, rec)[0]) + 4
    bound = n + n // 254 + 2
    for mod in (c_wire, r_wire):
        end, dst = _message(mod, kind, rec, at=3, room=bound - 1)
        assert end == -1 and dst == b"\xaa" * len(dst)
        assert _message(mod, kind, rec, at=3, room=bound)[0] == 3 + len(want)
        plen = len(M.encode_payloads(kind, rec)[0])
        end, dst = _message(mod, kind, rec, max_payload=plen - 1)
        assert end == -2 and set(dst) == {0xaa}
        assert _message(mod, kind, rec, max_payload=plen)[0] == len(want)
        args = list(_args(kind, rec))
        args[-1] = args[-1][:2]                               # one array a row short
        dst = bytearray(b"\xaa" * 4000)
        assert getattr(mod, _KERNEL[kind])(dst, 0, 1, 0, 0, 0, *args, 4096) == -2
        assert set(dst) == {0xaa}


def test_state_frame_refuses_body_ids_outside_u32(rng):
    for bad in (-1, 2 ** 32):
        s = _state(rng, 3)
        s.body_id[1] = bad
        for mod in (c_wire, r_wire):
            end, dst = _message(mod, "state", s)
            assert end == -3 and set(dst) == {0xaa}


def test_compiled_message_frames_name_a_wrong_argument(rng):
    """The compiled kernels take arrays through numpy's C API: a wrong dtype, order or
    kind raises naming the argument (the recorder then takes its general path)."""
    c = _cmds(rng, 2)
    dst = bytearray(4000)
    for args, words in [
            ((c.a_cmd.astype(np.float32), c.t_go, c.saturated), "a_cmd: expected dtype"),
            ((np.asfortranarray(c.a_cmd), c.t_go, c.saturated), "a_cmd: expected a C-cont"),
            ((c.a_cmd, list(c.t_go), c.saturated), "t_go: expected a numpy array"),
            ((c.a_cmd, c.t_go, c.saturated.astype(np.int64)), "saturated: expected dtype"),
            ((c.a_cmd[None], c.t_go, c.saturated), "a_cmd: expected 2 axes")]:
        with pytest.raises((TypeError, ValueError), match=words):
            c_wire.command_frame(dst, 0, 1, 0, 0, 0, *args, 4096)
    with pytest.raises(TypeError, match="dst: expected a bytearray"):
        c_wire.command_frame(memoryview(dst), 0, 1, 0, 0, 0, c.a_cmd, c.t_go, c.saturated,
                             4096)
    sw = c.t_go.astype(">f8")
    with pytest.raises(ValueError, match="t_go: expected a C-contiguous array in native"):
        c_wire.command_frame(dst, 0, 1, 0, 0, 0, c.a_cmd, sw, c.saturated, 4096)
