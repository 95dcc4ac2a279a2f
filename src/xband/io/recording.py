"""Crash-safe recordings of a run: the wire format itself, appended to a file.

A recording is a plain concatenation of encoded frames exactly as on the HIL link
(``hil/PROTOCOL.md``, section "Recordings"): the first message is a META whose JSON holds
``"format": "xband-recording"``, ``"format_version": 1`` and the run header; the last, when
the run finished cleanly, is a META with ``"end": true`` and the counts. A message's
payloads are packed from the record's arrays when it is written; at every
:meth:`RecordingWriter.flush` — the run loop flushes once per scan — or once
``buffer_size`` payload bytes wait, the waiting frames (their headers packed and numbered
when written) are framed in one call of the ``wire`` kernel — CRC-32 and COBS of each
frame in one pass — and go to the file with one unbuffered ``write``. A killed process therefore
leaves whole frames followed by at most one torn write: the messages since the last flush
are lost, nothing before them. Reading never fails on damage: a torn tail,
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..errors import RecordingError
from ..hil.codec import (
    FLAG_CONT, FLAG_MORE, PROTOCOL_VERSION, Decoder, Encoder, Frame, MsgType,
    encode_frames_into,
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
        self._buf = bytearray(1 << 14)      # the encoded frames of one drain
        # messages waiting for the next drain, as single-frame payloads: framed all at once
        self._pl: list[bytes] = []         # payloads waiting for the next drain …
        self._hd: list[bytes] = []         # … their headers (numbered when written) …
        self._ends: list[int] = []         # … and running payload byte totals
        self._waiting = 0                  # payload bytes waiting
        self.frames = 0                    #: frames written so far (buffered included)
        self.bytes = 0                     #: bytes handed to the file so far
        self.counts: dict[str, int] = {}   #: messages written per kind (header excluded)
        self._t = 0.0
        self._torn = False
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
        return len(self._pl)

    def _write(self, kind: str, record, t: float, count: bool = True,
               mt: int | None = None) -> None:
        """Encode the payloads now (the record may change after the call) and queue them;
        their frames are built and written at the next drain."""
        if self._f is None:
            raise RecordingError(f"{self.path}: recording is closed")
        if mt is None:
            mt = int(msg_type_of(kind))
        enc = self._enc
        payloads = encode_payloads(mt, record, enc.max_payload)
        t_ns = t_to_ns(t)
        last = len(payloads) - 1
        if not last:
            p = payloads[0]
            self._hd.append(enc.next_header(mt, len(p), t_ns))
            self._pl.append(p)
            self._waiting += len(p)
            self._ends.append(self._waiting)
        else:
            heads = [enc.next_header(mt, len(p), t_ns, (FLAG_MORE if k < last else 0)
                                     | (FLAG_CONT if k > 0 else 0))
                     for k, p in enumerate(payloads)]
            for h, p in zip(heads, payloads):
                self._hd.append(h)
                self._pl.append(p)
                self._waiting += len(p)
                self._ends.append(self._waiting)
        self.frames += last + 1
        self._t = t
        if count:
            self.counts[kind] = self.counts.get(kind, 0) + 1
        if self._waiting >= self.buffer_size:
            self._drain()

    def _drain(self) -> None:
        """Frame the waiting messages (one kernel call) and write them with one ``write``
        (it loops only on a partial write)."""
        if not self._pl:
            return
        pl, hd, ends = self._pl, self._hd, self._ends
        k, w = len(pl), self._waiting
        self._pl, self._hd, self._ends, self._waiting = [], [], [], 0
        # ≥ Σ frame_bound(n_i) = Σ (n_i + 24) + ⌊(n_i + 24)/254⌋ + 2; + 1: a 0x00 after a
        # torn frame
        need = 1 + w + 26 * k + (w + 24 * k) // 254
        if need > len(self._buf):
            self._buf = bytearray(need + (1 << 14))
        at = 0
        if self._torn:                      # end the frame a failed write left unfinished,
            self._buf[0] = 0                # so that it costs only itself
            at = 1
        n = encode_frames_into(self._buf, at, b"".join(hd), pl, ends)
        view = memoryview(self._buf)[:n]
        try:
            while view:
                view = view[self._f.write(view):]
        except OSError as exc:
            self._torn = True
            raise RecordingError(f"{self.path}: write failed: {exc.strerror}") from None
        finally:
            view.release()
        self._torn = False
        self.bytes += n

    def write(self, kind: str, record, t: float) -> None:
        """Write one message of ``kind`` (``"detections"``, ``"tracks"``, ``"command"``,
        ``"state"``, ``"stats"``, ``"meta"`` …) at time ``t`` (s)."""
        if kind == "meta" and isinstance(record, dict) and "end" in record:
            raise RecordingError(f"{self.path}: META key 'end' is reserved for the footer "
                                 f"written by close()")
        self._write(kind, record, t)

    def write_detections(self, dets: Detections, t: float) -> None:
        """One scan of detections at scan time ``t`` (s); ``dets.t`` is not stored."""
        self._write("detections", dets, t, mt=_DET)

    def write_tracks(self, tracks: Tracks, t: float) -> None:
        """The track set after the scan at ``t`` (s)."""
        self._write("tracks", tracks, t, mt=_TRK)

    def write_commands(self, cmds: Commands, t: float) -> None:
        """Guidance commands issued at ``t`` (s)."""
        self._write("command", cmds, t, mt=_CMD)

    def write_state(self, state: PlantState, t: float) -> None:
        """Plant truth (bodies' pos/vel/acc) at ``t`` (s)."""
        self._write("state", state, t, mt=_STA)

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

