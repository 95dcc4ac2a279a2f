"""Crash-safe recordings of a run: the wire format itself, appended to a file.

A recording is a plain concatenation of encoded frames exactly as on the HIL link
(``hil/PROTOCOL.md``, section "Recordings"): the first message is a META whose JSON holds
``"format": "xband-recording"``, ``"format_version": 1`` and the run header; the last, when
the run finished cleanly, is a META with ``"end": true`` and the counts. A message is
encoded and framed when it is written — the run loop's per-guidance-step COMMAND and STATE
in one call of the ``wire`` kernel each (payload packed from the record's arrays, header,
CRC-32 and COBS in one pass, straight into the writer's buffer), the others as payloads
packed by :mod:`xband.hil.messages` then framed by the kernel — and the waiting frames go
to the file with one unbuffered ``write`` at every :meth:`RecordingWriter.flush` (the run
loop flushes once per scan) or once ``buffer_size`` encoded bytes wait. A killed process
therefore leaves whole frames followed by at most one torn write: the messages since the
last flush are lost, nothing before them. Reading never fails on damage: a torn tail,
a corrupt frame or a lost fragment is counted in :class:`Integrity` and every whole message
before and after it replays.

>>> import tempfile, os, numpy as np
>>> from xband.types import Commands
>>> path = os.path.join(tempfile.mkdtemp(), "run.xrec")
>>> with RecordingWriter(path, {"scenario": "demo", "seed": 1}) as rec:
...     rec.write_commands(Commands(t=[0.1], a_cmd=[[0, 30, 0]], t_go=[4.0],
...                                 saturated=[False]), t=0.1)
>>> r = read_recording(path)
>>> r.header["seed"], r.complete, r.commands()[0].a_cmd.tolist()
(1, True, [[0.0, 30.0, 0.0]])
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .. import _kernels
from ..errors import RecordingError
from ..hil.codec import (
    FLAG_CONT, FLAG_MORE, MAX_PAYLOAD, PROTOCOL_VERSION, SEQ_MASK, Decoder, Encoder, Frame,
    MsgType, frame_bound,
)
from ..hil.messages import Assembler, Message, encode_payloads, msg_type_of, t_to_ns
from ..types import Commands, Detections, PlantState, Tracks

__all__ = ["FORMAT", "FORMAT_VERSION", "RecordingWriter", "Recording", "Integrity",
           "read_recording", "iter_frames", "iter_messages"]

FORMAT = "xband-recording"
FORMAT_VERSION = 1
_RESERVED_HEADER = ("format", "format_version", "end")
_CHUNK = 1 << 16
# message types as plain ints (struct packs them faster than the IntEnum)
_DET, _TRK, _CMD, _STA = (int(m) for m in (MsgType.DETECTIONS, MsgType.TRACKS,
                                           MsgType.COMMAND, MsgType.STATE))
#: Default write buffer: frames are written at each flush() or once this many bytes wait.
BUFFER_SIZE = 1 << 16
#: Free room kept after the buffered frames: one frame of the largest payload.
_ROOM = frame_bound(MAX_PAYLOAD)
_LE = sys.byteorder == "little"            # the kernels take the arrays' bytes as they are
# what a kernel raises on arrays it cannot take (wrong dtype, not C-contiguous, missing)
_NOT_ARRAYS = (TypeError, ValueError, AttributeError, BufferError)


def _general(*args) -> int:
    """Stands for a message kernel where it cannot be used: every message framed by the
    general path."""
    return -4


class RecordingWriter:
    """Write a run to ``path`` as wire frames; a context manager.

    ``header``: the run header (scenario, seed, versions, backend …), stored in the first
    META frame after ``format``, ``format_version`` and ``protocol_version``; it must not
    use those keys nor ``end``. An existing ``path`` is refused with
    :class:`RecordingError` unless ``overwrite=True``. ``fsync``: fsync the file on
    :meth:`close` (the default) so that a clean recording survives a power cut.

    ``buffer_size``: encoded frames wait in memory and go to the file in one ``write`` at
    :meth:`flush` (call it at least once per scan/CPI: the run loop does) or as soon as
    this many bytes wait; ``0`` writes every message at once (one ``write`` each). The
    header is on disk when the constructor returns.

    Times ``t`` are float64 s from scenario start (sent as int64 ns). Leaving the ``with``
    block on an exception writes what is buffered, then a META ``{"aborted": true,
    "error": …}`` and no end marker, so the recording reads as interrupted.
    """

    def __init__(self, path, header: dict, *, overwrite: bool = False, fsync: bool = True,
                 buffer_size: int = BUFFER_SIZE):
        self.path = Path(path)
        if not isinstance(header, dict):
            raise RecordingError(f"{self.path}: header must be a dict, got "
                                 f"{type(header).__name__}")
        bad = [k for k in _RESERVED_HEADER if k in header]
        if bad:
            raise RecordingError(f"{self.path}: header keys {bad} are reserved by the format")
        try:
            self._f = open(self.path, "wb" if overwrite else "xb", buffering=0)
        except FileExistsError:
            raise RecordingError(f"{self.path}: file exists; pass overwrite=True to replace "
                                 f"it") from None
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot create: {exc.strerror}") from None
        self.fsync = fsync
        self.buffer_size = max(0, int(buffer_size))
        self._enc = Encoder()
        self._wire = wire = _kernels.get("wire")
        self._version, self._max_payload = self._enc.version, self._enc.max_payload
        # the one-call message kernels (they take the arrays' bytes as they are: on a
        # big-endian host every message takes the general path)
        self._k_det, self._k_trk, self._k_cmd, self._k_sta = (
            (wire.detections_frame, wire.tracks_frame, wire.command_frame, wire.state_frame)
            if _LE else (_general,) * 4)
        # the encoded frames waiting for the next drain, back to back: every message is
        # framed (CRC-32 + COBS) into it when written, so a drain is one ``write``
        self._buf = bytearray(min(self.buffer_size, 1 << 22) + 2 * _ROOM)
        self._n = 0                        # bytes of _buf in use
        self._nf = 0                       # frames waiting in _buf
        self.frames = 0                    #: frames written so far (buffered included)
        self.bytes = 0                     #: bytes handed to the file so far
        self.counts: dict[str, int] = {}   #: messages written per kind (header excluded)
        self._t = 0.0
        self.header = {"format": FORMAT, "format_version": FORMAT_VERSION,
                       "protocol_version": PROTOCOL_VERSION, **header}
        self._write("meta", self.header, 0.0, count=False)
        self._drain()                      # the header is on disk from the start

    # -------------------------------------------------------------- writing
    @property
    def closed(self) -> bool:
        return self._f is None

    @property
    def buffered_frames(self) -> int:
        """Frames waiting for the next :meth:`flush`."""
        return self._nf

    def _room(self, need: int) -> None:
        """Make ``need`` free bytes after the frames in use."""
        if len(self._buf) - self._n < need:
            self._buf += bytes(max(need + _ROOM, len(self._buf)))

    def _queued(self, frames: int, kind: str, t: float, count: bool) -> None:
        """Book ``frames`` frames just framed into the buffer; drain when it is full."""
        self._nf += frames
        self.frames += frames
        self._t = t
        if count:
            self.counts[kind] = self.counts.get(kind, 0) + 1
        if self._n >= self.buffer_size:
            self._drain()

    def _write(self, kind: str, record, t: float, count: bool = True,
               mt: int | None = None) -> None:
        """Encode the message now (the record may change after the call) and frame it into
        the buffer; it reaches the file at the next drain."""
        if self._f is None:
            raise RecordingError(f"{self.path}: recording is closed")
        if mt is None:
            mt = int(msg_type_of(kind))
        enc = self._enc
        payloads = encode_payloads(mt, record, enc.max_payload)
        t_ns = t_to_ns(t)
        last = len(payloads) - 1
        heads = [enc.next_header(mt, len(p), t_ns, (FLAG_MORE if k < last else 0)
                                 | (FLAG_CONT if k > 0 else 0))
                 for k, p in enumerate(payloads)]
        self._room(sum(frame_bound(len(p)) for p in payloads))
        encode = self._wire.frame_encode
        n = self._n
        for h, p in zip(heads, payloads):
            n = encode(h, p, self._buf, n)
        self._n = n
        self._queued(last + 1, kind, t, count)

    def _drain(self) -> None:
        """Write the waiting frames with one ``write`` (it loops only on a partial write)."""
        if not self._nf:
            return
        n = self._n
        view = memoryview(self._buf)[:n]
        try:
            while view:
                view = view[self._f.write(view):]
        except OSError as exc:
            # the frames are lost; the next ones start after a 0x00 that ends the frame
            # this write left unfinished, so that it costs only itself
            self._buf[0] = 0
            self._n, self._nf = 1, 0
            raise RecordingError(f"{self.path}: write failed: {exc.strerror}") from None
        finally:
            view.release()
        self._n, self._nf = 0, 0
        self.bytes += n

    def write(self, kind: str, record, t: float) -> None:
        """Write one message of ``kind`` (``"detections"``, ``"tracks"``, ``"command"``,
        ``"state"``, ``"stats"``, ``"meta"`` …) at time ``t`` (s)."""
        if kind == "meta" and isinstance(record, dict) and "end" in record:
            raise RecordingError(f"{self.path}: META key 'end' is reserved for the footer "
                                 f"written by close()")
        self._write(kind, record, t)

    # The run loop's messages (detections and tracks per scan, command and state per
    # guidance step): one kernel call packs the payload from the record's arrays and frames
    # it into the buffer, which has room for one more frame whenever fewer than
    # buffer_size bytes wait (it holds buffer_size + 2 · _ROOM, for buffer_size up to
    # 4 MiB; beyond, a refusal for room grows it on the general path). A message that needs
    # several frames, a closed recording, or arrays the kernel refuses (end < 0, or an
    # exception naming the argument) take the general path: same bytes, or the error.
    def _framed(self, end: int, kind: str, record, t: float, mt: int) -> None:
        if end < 0 or self._f is None:
            self._write(kind, record, t, mt=mt)
            return
        self._n = end
        self._enc.seq = (self._enc.seq + 1) & SEQ_MASK
        self._nf += 1
        self.frames += 1
        self._t = t
        self.counts[kind] = self.counts.get(kind, 0) + 1
        if end >= self.buffer_size:
            self._drain()

    def write_detections(self, dets: Detections, t: float) -> None:
        """One scan of detections at scan time ``t`` (s); ``dets.t`` is not stored."""
        try:
            t = float(t)
            end = self._k_det(self._buf, self._n, self._version, 0, self._enc.seq,
                              round(t * 1e9) if -9.2e9 < t < 9.2e9 else t_to_ns(t),
                              dets.range, dets.az, dets.el, dets.range_rate, dets.snr, dets.R,
                              self._max_payload)
        except _NOT_ARRAYS:
            end = -4
        self._framed(end, "detections", dets, t, _DET)

    def write_tracks(self, tracks: Tracks, t: float) -> None:
        """The track set after the scan at ``t`` (s)."""
        try:
            t = float(t)
            end = self._k_trk(self._buf, self._n, self._version, 0, self._enc.seq,
                              round(t * 1e9) if -9.2e9 < t < 9.2e9 else t_to_ns(t),
                              tracks.id, tracks.confirmed, tracks.x, tracks.P,
                              tracks.mode_probs, self._max_payload)
        except _NOT_ARRAYS:
            end = -4
        self._framed(end, "tracks", tracks, t, _TRK)

    def write_commands(self, cmds: Commands, t: float) -> None:
        """Guidance commands issued at ``t`` (s)."""
        enc = self._enc
        try:
            t = float(t)
            end = self._k_cmd(self._buf, self._n, self._version, 0, enc.seq,
                              round(t * 1e9) if -9.2e9 < t < 9.2e9 else t_to_ns(t),
                              cmds.a_cmd, cmds.t_go, cmds.saturated, self._max_payload)
        except _NOT_ARRAYS:
            end = -4
        if end < 0 or self._f is None:      # (_framed, inlined: once per guidance step)
            self._write("command", cmds, t, mt=_CMD)
            return
        self._n = end
        enc.seq = (enc.seq + 1) & SEQ_MASK
        self._nf += 1
        self.frames += 1
        self._t = t
        c = self.counts
        c["command"] = c.get("command", 0) + 1
        if end >= self.buffer_size:
            self._drain()

    def write_state(self, state: PlantState, t: float) -> None:
        """Plant truth (bodies' pos/vel/acc) at ``t`` (s)."""
        enc = self._enc
        try:
            t = float(t)
            end = self._k_sta(self._buf, self._n, self._version, 0, enc.seq,
                              round(t * 1e9) if -9.2e9 < t < 9.2e9 else t_to_ns(t),
                              state.body_id, state.pos, state.vel, state.acc,
                              self._max_payload)
        except _NOT_ARRAYS:
            end = -4
        if end < 0 or self._f is None:
            self._write("state", state, t, mt=_STA)
            return
        self._n = end
        enc.seq = (enc.seq + 1) & SEQ_MASK
        self._nf += 1
        self.frames += 1
        self._t = t
        c = self.counts
        c["state"] = c.get("state", 0) + 1
        if end >= self.buffer_size:
            self._drain()

    def write_stats(self, stats: dict, t: float) -> None:
        """A STATS JSON object (counters, timings) at ``t`` (s)."""
        self.write("stats", stats, t)

    def write_meta(self, meta: dict, t: float) -> None:
        """A free-form META JSON object (not ``end``: that is the footer's) at ``t`` (s)."""
        self.write("meta", meta, t)

    def flush(self, fsync: bool = False) -> None:
        """Write the buffered frames to the file (one ``write``): a crash after it keeps
        every message written so far. ``fsync=True`` also forces them to stable storage
        (a power cut then keeps them too)."""
        if self._f is not None:
            self._drain()
            self._f.flush()
            if fsync:
                os.fsync(self._f.fileno())

    def close(self, footer: dict | None = None) -> None:
        """Write the end META (``end``, ``frames`` and ``messages`` counts, then the keys of
        ``footer``; the format's keys win) and close. Closing twice is a no-op."""
        if self._f is None:
            return
        foot = {"end": True, "frames": self.frames, "messages": dict(self.counts)}
        foot.update({k: v for k, v in (footer or {}).items() if k not in foot})
        try:
            self._write("meta", foot, self._t, count=False)
            self.flush(fsync=self.fsync)
        finally:
            self._f.close()
            self._f = None

    def abort(self, reason: str = "") -> None:
        """Close without an end marker, after a META ``{"aborted": true, "error": reason}``
        (best effort): the recording then reads as interrupted."""
        if self._f is None:
            return
        try:
            self._write("meta", {"aborted": True, "error": reason}, self._t)
            self._drain()
        except Exception:  # noqa: BLE001 - already failing; keep what is on disk
            pass
        finally:
            self._f.close()
            self._f = None

    def __enter__(self) -> "RecordingWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(f"{exc_type.__name__}: {exc}")


# ------------------------------------------------------------------ reading
@dataclass
class Integrity:
    """What reading a recording found. ``frames``: valid frames read; ``messages``: whole
    messages replayed (header and footer excluded). Error counts are frames dropped;
    ``seq_gaps`` the frames missing by sequence number; ``torn_tail_bytes`` the bytes after
    the last 0x00 (a frame cut by a crash); ``complete`` is True when the end marker was
    read."""

    bytes: int = 0
    frames: int = 0
    messages: int = 0
    cobs_errors: int = 0
    crc_errors: int = 0
    truncated: int = 0
    length_errors: int = 0
    oversize: int = 0
    version_errors: int = 0
    unknown_types: int = 0
    seq_gaps: int = 0
    duplicates: int = 0
    reordered: int = 0
    incomplete_messages: int = 0
    bad_payloads: int = 0
    torn_tail_bytes: int = 0
    complete: bool = False

    @property
    def corrupt_frames(self) -> int:
        """Frames dropped as damaged (COBS, CRC, length, size or version)."""
        return (self.cobs_errors + self.crc_errors + self.truncated + self.length_errors
                + self.oversize + self.version_errors)

    @property
    def ok(self) -> bool:
        """Complete, and nothing damaged, missing or torn."""
        return (self.complete and not self.corrupt_frames and not self.seq_gaps
                and not self.incomplete_messages and not self.bad_payloads
                and not self.torn_tail_bytes)

    def summary(self) -> str:
        state = "complete" if self.complete else "interrupted (no end marker)"
        parts = [f"{self.frames} frames, {self.messages} messages, {state}"]
        for name in ("corrupt_frames", "seq_gaps", "incomplete_messages", "bad_payloads",
                     "unknown_types", "duplicates", "torn_tail_bytes"):
            v = getattr(self, name)
            if v:
                parts.append(f"{name}={v}")
        return "; ".join(parts)


@dataclass
class Recording:
    """A recording read back: the run ``header`` and ``footer`` (None if the run was
    interrupted), the other ``messages`` in file order as (kind, t, record) with split
    batches reassembled, and the ``integrity`` report."""

    path: Path
    header: dict
    footer: dict | None
    messages: list[Message] = field(default_factory=list)
    integrity: Integrity = field(default_factory=Integrity)

    @property
    def complete(self) -> bool:
        """True when the run finished cleanly (the end marker is present)."""
        return self.footer is not None

    def of_kind(self, kind: str) -> list:
        """Records of one kind, in file order."""
        return [m.record for m in self.messages if m.kind == kind]

    def times(self, kind: str) -> list[float]:
        """Message times (s) of one kind, in file order."""
        return [m.t for m in self.messages if m.kind == kind]

    def detections(self) -> list[Detections]:
        """One :class:`Detections` per recorded scan."""
        return self.of_kind("detections")

    def tracks(self) -> list[Tracks]:
        return self.of_kind("tracks")

    def commands(self) -> list[Commands]:
        return self.of_kind("command")

    def states(self) -> list[PlantState]:
        return self.of_kind("state")

    def stats(self) -> list[dict]:
        return self.of_kind("stats")


def iter_frames(path, chunk_size: int = _CHUNK) -> Iterator[Frame]:
    """Stream the valid frames of a file of wire frames (damaged ones are skipped)."""
    yield from _Scan(path, chunk_size).frames()


def iter_messages(path, chunk_size: int = _CHUNK) -> Iterator[Message]:
    """Stream the whole messages of a recording, header and footer META included."""
    yield from _Scan(path, chunk_size).messages()


class _Scan:
    """One pass over a file: a Decoder and an Assembler, reporting into an Integrity."""

    def __init__(self, path, chunk_size: int = _CHUNK):
        self.path = Path(path)
        self.chunk_size = chunk_size
        self.decoder = Decoder()
        self.assembler = Assembler()

    def frames(self) -> Iterator[Frame]:
        try:
            f = open(self.path, "rb")
        except OSError as exc:
            raise RecordingError(f"{self.path}: cannot open: {exc.strerror}") from None
        with f:
            while chunk := f.read(self.chunk_size):
                self.decoder.feed(chunk)
                yield from self.decoder

    def messages(self) -> Iterator[Message]:
        for frame in self.frames():
            msg = self.assembler.push(frame)
            if msg is not None:
                yield msg
        self.assembler.flush()

    def integrity(self) -> Integrity:
        s, a = self.decoder.stats, self.assembler
        return Integrity(
            bytes=s.bytes, frames=s.frames_ok, messages=a.messages, cobs_errors=s.cobs_errors,
            crc_errors=s.crc_errors, truncated=s.truncated, length_errors=s.length_errors,
            oversize=s.oversize, version_errors=s.version_errors,
            unknown_types=s.unknown_types, seq_gaps=s.seq_gaps, duplicates=s.duplicates,
            reordered=s.reordered, incomplete_messages=a.incomplete,
            bad_payloads=a.bad_payloads, torn_tail_bytes=self.decoder.pending_bytes)


def _check_header(path: Path, msg: Message | None, scan: _Scan) -> dict:
    """The run header, or RecordingError naming the file and what was found instead."""
    what = "an xband recording starts with a META frame holding format 'xband-recording'"
    if msg is None:
        st = scan.decoder.stats
        if st.bytes == 0:
            raise RecordingError(f"{path}: empty file, not a recording ({what})")
        raise RecordingError(f"{path}: not a recording: no whole message in {st.bytes} bytes "
                             f"({st.errors} damaged frames; {what})")
    if msg.kind != "meta" or msg.record.get("format") != FORMAT:
        hint = ""
        if scan.decoder.stats.errors:
            hint = f" ({scan.decoder.stats.errors} damaged frames before it: header lost?)"
        found = (f"META with format {msg.record.get('format')!r}" if msg.kind == "meta"
                 else f"a {msg.kind.upper()} message")
        raise RecordingError(f"{path}: not an xband recording: first message is {found}"
                             f"{hint}; {what}")
    version = msg.record.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise RecordingError(f"{path}: format_version {version!r} is not supported "
                             f"(this reader reads up to {FORMAT_VERSION})")
    return msg.record


def read_recording(path) -> Recording:
    """Read a whole recording. Damage (torn tail, corrupt frames, lost fragments) is
    reported in ``Recording.integrity``, never raised; a file that is not a recording
    raises :class:`RecordingError` naming ``path``."""
    scan = _Scan(path)
    it = scan.messages()
    try:
        header = _check_header(scan.path, next(it, None), scan)
        footer, messages = None, []
        for msg in it:
            if msg.kind == "meta" and msg.record.get("end") is True:
                footer = msg.record
            else:
                messages.append(msg)
    finally:
        it.close()  # closes the file at once, also when the header is refused
    integ = scan.integrity()
    integ.messages = len(messages)
    integ.complete = footer is not None
    return Recording(scan.path, header, footer, messages, integ)

