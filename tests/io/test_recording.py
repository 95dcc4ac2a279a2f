"""Recordings (xband.io.recording): bit-exact round trips, torn tails at every byte offset,
corrupt frames mid-file, refusals, and real crashes (SIGKILL) of a writing process."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from xband.errors import ProtocolError, RecordingError
from xband.hil.codec import FLAG_MORE, Encoder, cobs_decode
from xband.hil.messages import encode_message
from xband.io.recording import (
    FORMAT, RecordingWriter, iter_frames, iter_messages, read_recording,
)
from xband.types import Commands, Detections, PlantState, Tracks

SRC = Path(__file__).resolve().parents[2] / "src"


def _dets(rng, n, t):
    A = rng.normal(size=(n, 4, 4))
    return Detections(np.full(n, t), rng.uniform(1e3, 3e4, n), rng.uniform(-3, 3, n),
                      rng.uniform(0, 1, n), rng.normal(0, 300, n), rng.uniform(1, 1e4, n),
                      A @ A.transpose(0, 2, 1))


def _tracks(rng, n, t, d=9, m=3):
    A = rng.normal(size=(n, d, d))
    return Tracks(rng.integers(0, 2**62, n), np.full(n, t), rng.normal(size=(n, d)),
                  A @ A.transpose(0, 2, 1), rng.random(n) < 0.5, rng.dirichlet(np.ones(m), n))


def _cmds(rng, n, t):
    return Commands(np.full(n, t), rng.normal(0, 50, (n, 3)), rng.uniform(0, 9, n),
                    rng.random(n) < 0.5)


def _state(rng, n, t):
    return PlantState(np.full(n, t), np.arange(n), *rng.normal(0, 1e3, (3, n, 3)))


def _run(rng):
    """A list of (kind, t, record) covering every record type and split batches."""
    out = []
    for k in range(6):
        t = round(0.05 * (k + 1), 3)
        out.append(("detections", t, _dets(rng, [0, 1, 5, 40, 71, 3][k], t)))
        out.append(("tracks", t, _tracks(rng, [0, 1, 9, 2, 20, 1][k], t)))
        out.append(("command", t, _cmds(rng, 1, t)))
        out.append(("state", t, _state(rng, 2, t)))
    out.append(("stats", 0.3, {"scans": 6, "mean_ms": 1.5, "nan": None}))
    out.append(("meta", 0.3, {"note": "half way", "list": [1, 2, 3]}))
    out.append(("detections", 0.35, _dets(rng, 40, 0.35)))      # split in 2 frames
    out.append(("command", 0.35, _cmds(rng, 1, 0.35)))
    return out


def _same(kind, a, b):
    return a.equals(b) if hasattr(a, "equals") else a == b


def _write(path, run, **kw):
    with RecordingWriter(path, {"scenario": "test", "seed": 3, "arr": np.arange(2)},
                         **kw) as rec:
        for kind, t, record in run:
            getattr(rec, {"detections": "write_detections", "tracks": "write_tracks",
                          "command": "write_commands", "state": "write_state",
                          "stats": "write_stats", "meta": "write_meta"}[kind])(record, t)
    return rec


@pytest.fixture
def run():
    return _run(np.random.default_rng(11))


def test_round_trip_is_bit_exact(tmp_path, run):
    path = tmp_path / "run.xrec"
    w = _write(path, run)
    rec = read_recording(path)
    assert rec.header == {"format": FORMAT, "format_version": 1, "protocol_version": 1,
                          "scenario": "test", "seed": 3, "arr": [0, 1]}
    assert rec.complete and rec.integrity.ok and rec.integrity.complete
    assert rec.footer["end"] is True and rec.footer["frames"] == w.frames - 1
    assert rec.footer["messages"] == {"detections": 7, "tracks": 6, "command": 7, "state": 6,
                                      "stats": 1, "meta": 1}
    assert len(rec.messages) == len(run)
    for (kind, t, record), msg in zip(run, rec.messages):
        assert (msg.kind, msg.t) == (kind, t)
        assert _same(kind, msg.record, record), kind
    assert [len(d) for d in rec.detections()] == [0, 1, 5, 40, 71, 3, 40]
    assert len(rec.tracks()) == len(rec.states()) == 6 and len(rec.commands()) == 7
    assert rec.stats() == [{"scans": 6, "mean_ms": 1.5, "nan": None}]
    assert rec.integrity.frames == w.frames and rec.integrity.bytes == path.stat().st_size
    streamed = list(iter_messages(path))
    assert streamed[0].record == rec.header and streamed[-1].record == rec.footer
    assert len(list(iter_frames(path, chunk_size=97))) == w.frames


def _message_ends(data: bytes) -> list[int]:
    """Byte offset just after the last frame of each message (header first)."""
    ends, pos = [], 0
    for frame_end in [i + 1 for i, b in enumerate(data) if b == 0]:
        raw = cobs_decode(data[pos:frame_end - 1])
        if not int.from_bytes(raw[2:4], "little") & FLAG_MORE:
            ends.append(frame_end)
        pos = frame_end
    return ends


def test_truncation_at_every_offset_of_the_last_frames(tmp_path, run):
    run = run[:1] + run[-4:]                         # keep it small: each cut is re-read
    src = tmp_path / "full.xrec"
    _write(src, run)
    data = src.read_bytes()
    ends = _message_ends(data)                       # header, run…, footer
    assert len(ends) == len(run) + 2
    cut_path = tmp_path / "cut.xrec"
    # every offset of the last 3 frames (footer, command, tail of the split batch) and of
    # both ends of the split batch's 4 kB head frame; inside it, every 7th byte
    head_lo, head_hi = ends[-4], data.index(b"\x00", ends[-4]) + 1
    offsets = sorted(set(range(ends[-5], head_lo + 40)) | set(range(head_lo, head_hi, 7))
                     | set(range(head_hi - 40, len(data) + 1)))
    assert len(offsets) > 1000
    for cut in offsets:
        cut_path.write_bytes(data[:cut])
        rec = read_recording(cut_path)
        whole = sum(e <= cut for e in ends)          # messages wholly inside the cut
        last_delim = data.rfind(b"\x00", 0, cut) + 1
        i = rec.integrity
        assert i.torn_tail_bytes == cut - last_delim, cut
        assert rec.complete == (cut == len(data)) == (whole == len(ends))
        assert len(rec.messages) == min(whole - 1, len(run)), cut
        pairs = list(zip(run, rec.messages))
        assert [(m.kind, m.t) for _, m in pairs] == [(kd, t) for (kd, t, _), _ in pairs]
        for (kind, _, record), msg in pairs[-3:]:
            assert _same(kind, msg.record, record)
        assert i.corrupt_frames == 0 and i.seq_gaps == 0 and i.bad_payloads == 0
        # a cut between the two frames of a split batch leaves one incomplete message
        assert i.incomplete_messages == (0 if last_delim in ends else 1), cut


def test_corrupt_byte_mid_file_is_counted_and_the_rest_replays(tmp_path, run):
    src = tmp_path / "full.xrec"
    _write(src, run)
    data = bytearray(src.read_bytes())
    ends = _message_ends(bytes(data))
    k = next(j for j in range(8, len(ends)) if data[ends[j - 1]:ends[j]].count(0) == 1)
    lo, hi = ends[k - 1], ends[k]                    # message k: a single-frame one
    bad = bytearray(data)
    bad[(lo + hi) // 2] ^= 0x5A
    (tmp_path / "bad.xrec").write_bytes(bad)
    rec = read_recording(tmp_path / "bad.xrec")
    i = rec.integrity
    assert i.corrupt_frames >= 1 and i.seq_gaps == 1 and rec.complete and not i.ok
    want = [m for j, m in enumerate(run) if j != k - 1]
    assert [(m.kind, m.t) for m in rec.messages] == [(kd, t) for kd, t, _ in want]
    for (kind, _, record), msg in zip(want, rec.messages):
        assert _same(kind, msg.record, record)
    # a damaged delimiter merges two frames: both are lost, the rest replays
    bad = bytearray(data)
    bad[hi - 1] = 0x33
    (tmp_path / "bad2.xrec").write_bytes(bad)
    rec = read_recording(tmp_path / "bad2.xrec")
    assert rec.integrity.seq_gaps == 2 and len(rec.messages) == len(run) - 2
    assert rec.complete


def test_overwrite_refused_unless_asked(tmp_path, run):
    path = tmp_path / "run.xrec"
    _write(path, run[:3])
    before = path.read_bytes()
    with pytest.raises(RecordingError, match=r"run\.xrec.*overwrite=True"):
        RecordingWriter(path, {})
    assert path.read_bytes() == before
    _write(path, run[3:5], overwrite=True)
    assert len(read_recording(path).messages) == 2


@pytest.mark.parametrize("content, match", [
    (b"", "empty file"),
    (b"time,range\n0.1,1000\n", "no whole message"),
    (bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), "not a"),
])
def test_not_a_recording(tmp_path, content, match):
    path = tmp_path / "thing.bin"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=match) as err:
        read_recording(path)
    assert "thing.bin" in str(err.value)


def test_wrong_first_message_or_format(tmp_path):
    enc = Encoder()
    path = tmp_path / "x.xrec"
    path.write_bytes(encode_message(enc, "stats", {"a": 1}, 0.0))
    with pytest.raises(RecordingError, match="first message is a STATS message"):
        read_recording(path)
    path.write_bytes(encode_message(Encoder(), "meta", {"format": "other"}, 0.0))
    with pytest.raises(RecordingError, match="format 'other'"):
        read_recording(path)
    path.write_bytes(encode_message(Encoder(), "meta", {"format": FORMAT,
                                                        "format_version": 2}, 0.0))
    with pytest.raises(RecordingError, match="format_version 2"):
        read_recording(path)
    with pytest.raises(RecordingError, match="missing.xrec"):
        read_recording(tmp_path / "missing.xrec")


def test_writer_misuse_and_abort(tmp_path, run):
    with pytest.raises(RecordingError, match="reserved"):
        RecordingWriter(tmp_path / "a.xrec", {"format": "mine"})
    with pytest.raises(RecordingError, match="cannot create"):
        RecordingWriter(tmp_path / "no" / "such" / "dir.xrec", {})
    path = tmp_path / "b.xrec"
    with pytest.raises(ZeroDivisionError):
        with RecordingWriter(path, {"seed": 1}) as w:
            w.write("detections", run[0][2], run[0][1])
            1 / 0
    rec = read_recording(path)
    assert not rec.complete and rec.footer is None
    assert rec.messages[-1].record == {"aborted": True, "error": "ZeroDivisionError: "
                                       "division by zero"}
    with pytest.raises(RecordingError, match="closed"):
        w.write_stats({}, 0.0)
    w2 = RecordingWriter(tmp_path / "c.xrec", {})
    with pytest.raises(RecordingError, match="'end' is reserved"):
        w2.write_meta({"end": True}, 0.0)
    with pytest.raises(ProtocolError, match="body_id"):
        w2.write_state(PlantState([0.0], [-1], *np.zeros((3, 1, 3))), 0.0)
    w2.flush(fsync=True)
    w2.close({"miss_distance_m": 1.5, "end": "ignored"})
    w2.close()                                       # no-op
    rec = read_recording(tmp_path / "c.xrec")
    assert rec.footer["end"] is True and rec.footer["miss_distance_m"] == 1.5
    assert rec.integrity.ok and rec.messages == []


CHILD = r"""
import sys, numpy as np
from xband.io.recording import RecordingWriter
from xband.types import Commands, Detections
path, seed = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(seed)
with RecordingWriter(path, {"scenario": "crash", "seed": seed}) as rec:
    print("ready", flush=True)
    k = 0
    while True:
        t = k / 1000
        n = int(rng.integers(0, 45))
        rec.write_detections(Detections(np.full(n, t), k + np.arange(n), np.zeros(n),
                                        np.zeros(n), np.zeros(n), np.ones(n),
                                        np.zeros((n, 4, 4))), t)
        rec.write_commands(Commands([t], [[k, 0.0, 0.0]], [1.0], [False]), t)
        k += 1
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_while_writing_leaves_a_readable_recording(tmp_path):
    rng = np.random.default_rng(5)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SRC)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    for trial in range(5):
        path = tmp_path / f"crash{trial}.xrec"
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(trial)],
                                 stdout=subprocess.PIPE, env=env)
        try:
            assert child.stdout.readline().strip() == b"ready"
            time.sleep(float(rng.uniform(0.02, 0.25)))
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            child.stdout.close()
        assert child.returncode == -signal.SIGKILL
        rec = read_recording(path)
        i = rec.integrity
        assert rec.header["seed"] == trial and not rec.complete
        assert i.corrupt_frames == i.seq_gaps == i.bad_payloads == 0
        # a kill inside a write leaves at most that write's bytes (a buffer) torn
        assert i.incomplete_messages <= 1 and i.torn_tail_bytes < (1 << 16) + (1 << 14)
        # the messages replay in order, with no hole: detections k, command k, …
        kinds = [m.kind for m in rec.messages]
        assert kinds == ["detections", "command"] * (len(kinds) // 2) + \
            ["detections"] * (len(kinds) % 2)
        for j, msg in enumerate(rec.messages):
            k = j // 2
            assert msg.t == k / 1000
            if msg.kind == "command":
                assert msg.record.a_cmd[0, 0] == k
            else:
                assert np.array_equal(msg.record.range, k + np.arange(len(msg.record)))


class _FailingOnce:
    """A raw file whose next write stores half the bytes, then fails (a full disk)."""

    def __init__(self, f):
        self.f, self.fail = f, True

    def write(self, data):
        if self.fail:
            self.fail = False
            self.f.write(data[:len(data) // 2])
            raise OSError(28, "No space left on device")
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)


def test_a_failed_write_costs_only_its_own_message(tmp_path, run):
    path = tmp_path / "disk.xrec"
    w = RecordingWriter(path, {}, buffer_size=0)          # one write per message
    w.write_commands(run[2][2], run[2][1])
    w._f = _FailingOnce(w._f)
    with pytest.raises(RecordingError, match="No space left"):
        w.write_state(run[3][2], run[3][1])
    w.write_commands(run[6][2], run[6][1])
    w.close()
    rec = read_recording(path)
    assert [m.kind for m in rec.messages] == ["command", "command"] and rec.complete
    assert rec.integrity.corrupt_frames == 1 and rec.integrity.seq_gaps == 1


def test_a_failed_flush_costs_only_the_messages_it_held(tmp_path, run):
    """Buffered (the default): the write happens at flush(); a failure there loses the
    messages of that flush only, is raised by flush(), and the next ones replay."""
    path = tmp_path / "disk.xrec"
    w = RecordingWriter(path, {})
    w.write_commands(run[2][2], run[2][1])
    w.flush()
    w.write_state(run[3][2], run[3][1])
    w.write_tracks(run[1][2], run[1][1])
    assert w.buffered_frames == 2                         # still in the buffer
    w._f = _FailingOnce(w._f)
    with pytest.raises(RecordingError, match="No space left"):
        w.flush()
    w.write_commands(run[6][2], run[6][1])
    w.close()
    rec = read_recording(path)
    assert [m.kind for m in rec.messages] == ["command", "command"] and rec.complete
    assert rec.integrity.corrupt_frames == 1 and rec.integrity.seq_gaps == 2


@pytest.mark.parametrize("buffer_size", [0, 300, 1 << 16])
def test_buffering_does_not_change_the_bytes(tmp_path, run, buffer_size):
    """The file is the same byte for byte whatever the buffer (a frame at a time, a few
    per drain, or ~100 frames framed in one kernel call), and equals the messages encoded
    one by one with encode_message (the HIL link's path)."""
    run = run * 3
    a = _write(tmp_path / "a.xrec", run, buffer_size=buffer_size)
    enc = Encoder()
    want = encode_message(enc, "meta", a.header, 0.0)
    for kind, t, record in run:
        want += encode_message(enc, kind, record, t)
    data = (tmp_path / "a.xrec").read_bytes()
    assert data.startswith(want) and data[len(want):].count(b"\x00") == 1   # + footer
    assert a.bytes == len(data) and a.frames == data.count(b"\x00")


def test_flush_puts_every_message_on_disk(tmp_path, run):
    path = tmp_path / "f.xrec"
    w = RecordingWriter(path, {"seed": 2})
    size0 = path.stat().st_size
    assert read_recording(path).header["seed"] == 2          # header on disk at once
    for kind, t, record in run[:4]:
        w.write(kind, record, t)
    assert path.stat().st_size == size0                       # buffered …
    w.flush()
    assert path.stat().st_size == w.bytes                     # … until the flush
    rec = read_recording(path)
    assert [m.kind for m in rec.messages] == [k for k, _, _ in run[:4]]
    assert not rec.complete and rec.integrity.torn_tail_bytes == 0
    w.close()


def _structured_payloads(items, head, head_size, max_payload):
    """The layout by definition: a structured array of the PROTOCOL.md item dtype, cut on
    item boundaries into ``head(count) ‖ items`` payloads of at most ``max_payload``."""
    isz, n = items.dtype.itemsize, len(items)
    per = min((max_payload - head_size) // isz, 0xFFFF)
    if n and per < 1:
        return None                         # an item does not fit: refused
    if n == 0:
        return [head(0)]
    raw = items.tobytes()
    return [head(min(per, n - k)) + raw[k * isz:min(k + per, n) * isz]
            for k in range(0, n, per)] or [head(0)]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 17, 70])
@pytest.mark.parametrize("max_payload", [4096, 256])
def test_payload_encoders_equal_the_structured_layout(rng, n, max_payload):
    """The byte-gather encoders (and their few-item paths) give exactly the bytes of the
    structured item dtypes, also when a batch is split across payloads."""
    from xband.hil import messages as M

    u16 = M._U16.pack
    d = _dets(rng, n, 0.1)
    a = np.zeros(n, M.DET_DTYPE)
    for f in ("range", "az", "el", "range_rate", "snr"):
        a[f] = getattr(d, f)
    a["R"] = d.R[:, np.triu_indices(4)[0], np.triu_indices(4)[1]]
    assert M.encode_detections(d, max_payload) == _structured_payloads(a, u16, 2, max_payload)

    s = _state(rng, n, 0.1)
    a = np.zeros(n, M.STATE_DTYPE)
    a["body_id"], a["pos"], a["vel"], a["acc"] = s.body_id, s.pos, s.vel, s.acc
    assert M.encode_state(s, max_payload) == _structured_payloads(a, u16, 2, max_payload)

    c = _cmds(rng, n, 0.1)
    a = np.zeros(n, M.CMD_DTYPE)
    a["a_cmd"], a["t_go"], a["saturated"] = c.a_cmd, c.t_go, c.saturated
    assert M.encode_commands(c, max_payload) == _structured_payloads(a, u16, 2, max_payload)

    for dim, modes in ((9, 3), (6, 1)):
        tr = _tracks(rng, n, 0.1, dim, modes)
        iu = np.triu_indices(dim)
        a = np.zeros(n, M.tracks_dtype(dim, modes))
        a["id"], a["confirmed"], a["x"] = tr.id, tr.confirmed, tr.x
        a["P"], a["mode_probs"] = tr.P[:, iu[0], iu[1]], tr.mode_probs
        want = _structured_payloads(a, lambda k: M._TRACKS_HEAD.pack(k, dim, modes), 4,
                                    max_payload)
        if want is None:
            with pytest.raises(ProtocolError, match="does not fit"):
                M.encode_tracks(tr, max_payload)
        else:
            assert M.encode_tracks(tr, max_payload) == want


# ---------------------------------------------------------------- the one-call fast path
class _Duck:
    """A record with the fields of a types.* batch, its arrays of the right dtypes but not
    C-contiguous (strided views, Fortran order): the message kernels refuse them and the
    writer's general path takes them."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _strided(a):
    """The same values as ``a``, as a non-contiguous view."""
    b = np.repeat(a, 2, axis=0)[::2]
    assert not b.flags.c_contiguous or b.size <= 1
    return b


def test_fast_path_and_general_path_write_the_same_bytes(tmp_path, rng):
    """The run loop's messages go through one kernel call each; records the kernels refuse
    (non-contiguous arrays; a big batch needing several frames) go through the general
    path: both give the bytes encode_message gives for the same values, in one file, in
    order."""
    c, s = _cmds(rng, 2, 0.1), _state(rng, 3, 0.1)
    d, tr = _dets(rng, 2, 0.1), _tracks(rng, 3, 0.1)
    big = _tracks(rng, 30, 0.1)                       # 30 IMM tracks: 4 frames of ≤ 8
    odd = [(c, _Duck(a_cmd=np.asfortranarray(c.a_cmd), t_go=_strided(c.t_go),
                     saturated=_strided(c.saturated))),
           (s, _Duck(body_id=_strided(s.body_id), pos=np.asfortranarray(s.pos), vel=s.vel,
                     acc=s.acc)),
           (d, _Duck(range=d.range, az=_strided(d.az), el=d.el, range_rate=d.range_rate,
                     snr=d.snr, R=np.asfortranarray(d.R))),
           (big, big)]
    kinds = ["command", "state", "detections", "tracks"]
    msgs = list(zip(kinds, [c, s, d, tr], [c, s, d, tr])) + \
        [(k, same, rec) for k, (same, rec) in zip(kinds, odd)]
    enc = Encoder()
    path = tmp_path / "mixed.xrec"
    w = RecordingWriter(path, {})
    want = encode_message(enc, "meta", w.header, 0.0)
    for k, (kind, same, rec) in enumerate(msgs):
        getattr(w, {"command": "write_commands", "state": "write_state",
                    "detections": "write_detections", "tracks": "write_tracks"}[kind])(
            rec, 0.1 * k)
        want += encode_message(enc, kind, same, 0.1 * k)
    assert w.buffered_frames == 11 and w.frames == 12          # + the header
    w.close()
    data = path.read_bytes()
    assert data.startswith(want) and data[len(want):].count(b"\x00") == 1
    got = read_recording(path).messages
    assert [m.kind for m in got] == kinds * 2
    fields = {"command": ("a_cmd", "t_go", "saturated"),
              "state": ("body_id", "pos", "vel", "acc"),
              "detections": ("range", "az", "el", "range_rate", "snr", "R"),
              "tracks": ("id", "confirmed", "x", "P", "mode_probs")}
    for m, (kind, same, _) in zip(got, msgs):
        for f in fields[kind]:
            np.testing.assert_array_equal(getattr(m.record, f), getattr(same, f))


def test_a_record_changed_after_the_call_is_recorded_as_it_was(tmp_path, rng):
    """Messages are encoded when written (the run loop reuses its arrays)."""
    c, s = _cmds(rng, 1, 0.1), _state(rng, 2, 0.1)
    d, tr = _dets(rng, 1, 0.1), _tracks(rng, 2, 0.1)
    keep = [x.copy() for x in (c.a_cmd, s.pos, d.range, tr.x)]
    path = tmp_path / "m.xrec"
    with RecordingWriter(path, {}) as w:
        w.write_commands(c, 0.1)
        w.write_state(s, 0.1)
        w.write_detections(d, 0.1)
        w.write_tracks(tr, 0.1)
        for a in (c.a_cmd, s.pos, d.range, tr.x):
            a[...] = -1.0
    got = [m.record for m in read_recording(path).messages]
    for rec, name, want in zip(got, ("a_cmd", "pos", "range", "x"), keep):
        np.testing.assert_array_equal(getattr(rec, name), want)


def test_bad_time_or_body_id_named_on_the_fast_path_too(tmp_path, rng):
    w = RecordingWriter(tmp_path / "e.xrec", {})
    with pytest.raises(ProtocolError, match="not representable as int64 ns"):
        w.write_commands(_cmds(rng, 1, 0.0), float("nan"))
    s = _state(rng, 2, 0.0)
    s.body_id[1] = 2**32
    with pytest.raises(ProtocolError, match="body_id"):
        w.write_state(s, 0.0)
    assert w.buffered_frames == 0
    w.close()
    with pytest.raises(RecordingError, match="closed"):
        w.write_commands(_cmds(rng, 1, 0.0), 0.0)
    assert read_recording(tmp_path / "e.xrec").messages == []
