"""The wire codec, frame level, sans-I/O: bytes in, frames out, no sockets, no threads.

``hil/PROTOCOL.md`` is the specification; this module implements its framing layer:

    wire   = COBS(header ‖ payload ‖ crc32) ‖ 0x00        (one frame)
    header = version u8, msg_type u8, flags u16, seq u32, t_ns i64, payload_len u32   (20 B, LE)
    crc32  = IEEE 802.3 CRC-32 (``zlib.crc32``) of header ‖ payload, u32 little-endian

* :func:`cobs_encode` / :func:`cobs_decode` — Consistent Overhead Byte Stuffing
  (S. Cheshire and M. Baker, "Consistent Overhead Byte Stuffing", SIGCOMM 1997 /
  IEEE/ACM Trans. Networking 7(2), 1999), in its minimal form: a final block of exactly
  254 non-zero bytes is *not* followed by a ``0x01`` code byte (the Wikipedia variant).
* :class:`Frame`, :func:`encode_frame`, :func:`parse_frame` — one frame to and from bytes;
  :func:`encode_frame_into` writes one frame into a caller's buffer (header packed by
  ``struct``, then CRC-32 and COBS fused in one pass of the ``wire`` kernel's
  ``frame_encode``); :func:`encode_frames_into` many frames in one kernel call
  (``frames_encode``), headers from :meth:`Encoder.next_header`.
* :class:`Encoder` — assigns sequence numbers, sets ``FLAG_MORE`` / ``FLAG_CONT`` on the
  frames of a split message.
* :class:`Decoder` — ``feed(bytes)`` then ``next_frame()`` (h11 style). It never raises on
  bad input: every bad frame is dropped and counted in :class:`DecoderStats`, and decoding
  resynchronises at the next ``0x00``.

The payload layouts (what is inside ``Frame.payload``) live in :mod:`xband.hil.messages`.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import asdict, dataclass
from enum import IntEnum

import numpy as np


from .. import _kernels
from ..errors import ProtocolError

__all__ = [
    "PROTOCOL_VERSION", "MsgType", "FLAG_MORE", "FLAG_CONT", "MAX_PAYLOAD", "MIN_PAYLOAD",
    "HEADER", "HEADER_SIZE", "CRC_SIZE", "MAX_RAW_FRAME", "MAX_ENCODED_FRAME", "SEQ_MASK",
    "REORDER_WINDOW", "cobs_encode", "cobs_decode", "cobs_max_encoded_len", "crc32",
    "Frame", "encode_frame", "encode_frame_into", "encode_frames_into", "frame_bound",
    "frames_bound", "parse_frame", "Encoder", "Decoder", "DecoderStats",
]

#: The protocol version this module speaks (header ``version`` field).
PROTOCOL_VERSION = 1
#: Largest payload any frame may carry (bytes). A receiver may advertise less in HELLO.
MAX_PAYLOAD = 4096
#: Every receiver accepts payloads of at least this size (HELLO always fits in it).
MIN_PAYLOAD = 256
#: The header: version, msg_type, flags, seq, t_ns, payload_len — little-endian, no padding.
HEADER = struct.Struct("<BBHIqI")
HEADER_SIZE = HEADER.size  # 20
CRC_SIZE = 4
#: Header ‖ payload ‖ crc of the largest frame, before COBS (4120 bytes).
MAX_RAW_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE
SEQ_MASK = 0xFFFFFFFF
#: Receivers remember the last REORDER_WINDOW sequence numbers: a frame up to 63 behind
#: the newest is a duplicate (seen) or reordered (late, delivered); further behind, the
#: sender is taken to have restarted its sequence.
REORDER_WINDOW = 64
_WINDOW_BITS = (1 << REORDER_WINDOW) - 1

#: Flag bit 0: more frames of the same message follow (same msg_type and t_ns, seq + 1).
FLAG_MORE = 0x0001
#: Flag bit 1: this frame continues the message of the previous frame (every frame of a
#: split message but the first), so a piece whose head was lost is never taken for a whole.
FLAG_CONT = 0x0002


class MsgType(IntEnum):
    """Message type numbers (header ``msg_type``). 0 and unlisted values are reserved."""

    HELLO = 0x01
    HEARTBEAT = 0x02
    ERROR = 0x03
    META = 0x04
    STATS = 0x05
    DETECTIONS = 0x10
    STATE = 0x11
    TRACKS = 0x12
    COMMAND = 0x13
    TRUTH = 0x11  # alias of STATE: the truth of bodies, measured by the host's sensor model

    @property
    def kind(self) -> str:
        """The lower-case name used in recordings and messages: ``"detections"`` …"""
        return self.name.lower()


_KNOWN_TYPES = frozenset(int(m) for m in MsgType)
#: HELLO and ERROR have frozen layouts and are accepted whatever their header version.
_ANY_VERSION = frozenset((int(MsgType.HELLO), int(MsgType.ERROR)))


def cobs_max_encoded_len(n: int) -> int:
    """Upper bound on ``len(cobs_encode(x))`` for ``len(x) == n``: n + max(1, ⌈n/254⌉)."""
    return n + max(1, -(-n // 254))


#: Largest COBS-encoded frame, without the 0x00 delimiter (4137 bytes).
MAX_ENCODED_FRAME = cobs_max_encoded_len(MAX_RAW_FRAME)


def crc32(data: bytes) -> int:
    """CRC-32/ISO-HDLC (IEEE 802.3, as zlib): reflected, poly 0xEDB88320, init and xorout
    0xFFFFFFFF. ``crc32(b"123456789") == 0xCBF43926``."""
    return zlib.crc32(data) & 0xFFFFFFFF


def cobs_encode(data: bytes) -> bytes:
    """COBS-encode ``data``: the result contains no 0x00 byte (the delimiter is not added).

    Each block is a code byte c (1…255) followed by c − 1 non-zero data bytes; a block with
    c < 255 stands for its bytes followed by a 0x00, except the last block of the frame.
    A run of 254 non-zero bytes makes a full block (c = 255) with no implied zero; if the
    data end exactly there, no further ``0x01`` block is emitted. The byte loop is the
    ``wire`` kernel (ext/wire.pyx, numpy twin xband.reference.wire).

    >>> cobs_encode(b"\\x11\\x22\\x00\\x33").hex(" ")
    '03 11 22 02 33'
    """
    data = bytes(data)
    dst = bytearray(cobs_max_encoded_len(len(data)))
    n = _kernels.get("wire").cobs_encode(data, dst)
    del dst[n:]
    return bytes(dst)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS-encoded frame (without its 0x00 delimiter).

    Also accepts the original paper's form, which ends a frame whose last block is full with
    an extra ``0x01``. Raises :class:`ProtocolError` naming the offset on an empty input, a
    0x00 inside the frame or a code byte pointing past the end.
    """
    data = bytes(data)
    n = len(data)
    if n == 0:
        raise ProtocolError("COBS: empty frame (a COBS frame has at least one code byte)")
    dst = bytearray(n)
    got = _kernels.get("wire").cobs_decode(data, dst)
    if got >= 0:
        del dst[got:]
        return bytes(dst)
    i = -1 - got
    if data[i] == 0:
        raise ProtocolError(f"COBS: unexpected 0x00 at offset {i} inside a frame of {n} bytes")
    raise ProtocolError(
        f"COBS: code byte 0x{data[i]:02x} at offset {i} needs {data[i] - 1} bytes, "
        f"only {n - i - 1} remain (truncated frame)")


@dataclass(frozen=True)
class Frame:
    """One decoded frame. ``t_ns`` is int64 ns since scenario start; ``seq`` is u32;
    ``msg_type`` is a :class:`MsgType` when known, else the raw int."""

    version: int
    msg_type: int
    flags: int
    seq: int
    t_ns: int
    payload: bytes = b""

    @property
    def more(self) -> bool:
        """True when ``FLAG_MORE`` is set: the message continues in the next frame."""
        return bool(self.flags & FLAG_MORE)

    @property
    def cont(self) -> bool:
        """True when ``FLAG_CONT`` is set: this frame continues the previous one's message."""
        return bool(self.flags & FLAG_CONT)

    @property
    def t(self) -> float:
        """Frame time in seconds (float64)."""
        return self.t_ns / 1e9


def frame_bound(payload_len: int) -> int:
    """Bytes one frame of ``payload_len`` payload bytes takes at most on the wire, with its
    delimiter: COBS(header ‖ payload ‖ crc) ‖ 0x00 (the room :func:`encode_frame_into`
    needs)."""
    n = HEADER_SIZE + payload_len + CRC_SIZE
    return n + n // 254 + 2


def frames_bound(payload_lens) -> int:
    """:func:`frame_bound` summed over frames of these payload sizes."""
    return sum(frame_bound(n) for n in payload_lens)


def encode_frames_into(dst: bytearray, at: int, heads: bytes, payloads: list,
                       ends) -> int:
    """Frame k (header, payload) pairs back to back into ``dst`` from ``at`` with one call
    of the ``wire`` kernel (``frames_encode``): ``heads`` the k 20-byte headers
    concatenated, ``payloads`` the k payloads, ``ends`` their running byte totals (int64).
    Returns the offset past the last delimiter; ``dst`` needs :func:`frames_bound` bytes.
    The bytes are those of :func:`encode_frame` frame by frame."""
    end = _kernels.get("wire").frames_encode(heads, b"".join(payloads),
                                             np.asarray(ends, np.int64), dst, at)
    if end < 0:
        raise ProtocolError(f"encode_frames_into: {len(payloads)} frames, {len(dst) - at} "
                            f"bytes of room at offset {at}; they need "
                            f"{frames_bound(len(p) for p in payloads)} (or bad ends)")
    return end


def _pack_header(version, msg_type, flags, seq, t_ns, plen, what) -> bytes:
    try:
        return HEADER.pack(version, msg_type, flags, seq, t_ns, plen)
    except struct.error as exc:
        raise ProtocolError(f"frame header out of range ({what}): {exc}") from None


def encode_frame_into(dst: bytearray, at: int, version: int, msg_type: int, flags: int,
                      seq: int, t_ns: int, payload) -> int:
    """Write one frame ``COBS(header ‖ payload ‖ crc32) ‖ 0x00`` into ``dst`` at offset
    ``at`` (the CRC and COBS in one pass of the ``wire`` kernel); returns the offset past
    its delimiter. ``dst`` must have :func:`frame_bound` (len(payload)) bytes from ``at``.
    Raises :class:`ProtocolError` on an oversized payload or out-of-range field."""
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(
            f"frame payload of {len(payload)} bytes exceeds MAX_PAYLOAD={MAX_PAYLOAD}")
    head = _pack_header(version, int(msg_type), flags, seq, t_ns, len(payload),
                        f"type {int(msg_type)}, seq {seq}, t_ns {t_ns}")
    end = _kernels.get("wire").frame_encode(head, payload, dst, at)
    if end < 0:
        raise ProtocolError(f"encode_frame_into: {len(dst) - at} bytes of room at offset "
                            f"{at}, the frame needs {frame_bound(len(payload))}")
    return end


def encode_frame(frame: Frame) -> bytes:
    """``COBS(header ‖ payload ‖ crc32) ‖ 0x00`` for one frame; ``payload_len`` is taken from
    the payload. Raises :class:`ProtocolError` on an oversized payload or out-of-range field."""
    payload = bytes(frame.payload)
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(
            f"frame payload of {len(payload)} bytes exceeds MAX_PAYLOAD={MAX_PAYLOAD}")
    head = _pack_header(frame.version, int(frame.msg_type), frame.flags, frame.seq,
                        frame.t_ns, len(payload), f"{frame!r:.120}")
    dst = bytearray(frame_bound(len(payload)))
    end = _kernels.get("wire").frame_encode(head, payload, dst, 0)
    del dst[end:]
    return bytes(dst)


def parse_frame(raw: bytes) -> Frame:
    """Check and split one *COBS-decoded* frame (header ‖ payload ‖ crc); raise
    :class:`ProtocolError` naming what is wrong (length, CRC or payload_len)."""
    if len(raw) < HEADER_SIZE + CRC_SIZE:
        raise ProtocolError(f"frame of {len(raw)} bytes is shorter than header + CRC (24)")
    got = int.from_bytes(raw[-4:], "little")
    want = crc32(raw[:-4])
    if got != want:
        raise ProtocolError(f"frame CRC mismatch: stored 0x{got:08x}, computed 0x{want:08x}")
    version, msg_type, flags, seq, t_ns, plen = HEADER.unpack_from(raw)
    if plen != len(raw) - HEADER_SIZE - CRC_SIZE:
        raise ProtocolError(
            f"frame payload_len={plen} but {len(raw) - HEADER_SIZE - CRC_SIZE} payload bytes")
    if msg_type in _KNOWN_TYPES:
        msg_type = MsgType(msg_type)
    return Frame(version, msg_type, flags, seq, t_ns, bytes(raw[HEADER_SIZE:-CRC_SIZE]))


class Encoder:
    """Turns messages into wire bytes, numbering frames ``seq, seq + 1, …`` (mod 2³²).

    ``max_payload`` bounds every payload: :data:`MAX_PAYLOAD`, or less once the peer's HELLO
    advertised a smaller receive limit. Not thread-safe: one encoder per sender.
    """

    def __init__(self, *, seq: int = 0, version: int = PROTOCOL_VERSION,
                 max_payload: int = MAX_PAYLOAD):
        if not 0 <= seq <= SEQ_MASK:
            raise ProtocolError(f"Encoder: seq={seq} is not a u32")
        if not 1 <= max_payload <= MAX_PAYLOAD:
            raise ProtocolError(f"Encoder: max_payload={max_payload} not in 1..{MAX_PAYLOAD}")
        self.seq = seq
        self.version = version
        self.max_payload = max_payload
        self._wire = _kernels.get("wire")

    def frames(self, msg_type: int, payloads, t_ns: int, flags: int = 0) -> list[Frame]:
        """One :class:`Frame` per payload (``bytes`` or a list of them), all with ``t_ns``;
        every frame but the last carries ``FLAG_MORE``, every frame but the first
        ``FLAG_CONT``. Advances ``seq``."""
        payloads = self._checked(msg_type, payloads)
        out = []
        last = len(payloads) - 1
        for k, p in enumerate(payloads):
            f = flags & ~(FLAG_MORE | FLAG_CONT)
            f |= (FLAG_MORE if k < last else 0) | (FLAG_CONT if k > 0 else 0)
            out.append(Frame(self.version, msg_type, f, self.seq, int(t_ns), bytes(p)))
            self.seq = (self.seq + 1) & SEQ_MASK
        return out

    def _checked(self, msg_type: int, payloads) -> list:
        if isinstance(payloads, (bytes, bytearray, memoryview)):
            payloads = [payloads]
        if not payloads:
            raise ProtocolError(f"Encoder: no payload for message type {msg_type}")
        for p in payloads:
            if len(p) > self.max_payload:
                raise ProtocolError(f"Encoder: payload of {len(p)} bytes for message type "
                                    f"{msg_type} exceeds max_payload={self.max_payload}")
        return payloads

    def encode_into(self, dst: bytearray, at: int, msg_type: int, payloads, t_ns: int,
                    flags: int = 0) -> int:
        """Write the frames of one message into ``dst`` from offset ``at`` (no Frame
        objects: header pack, then CRC + COBS in one kernel pass per frame); returns the
        offset past the last delimiter. ``dst`` needs :meth:`bound` (payloads) bytes of
        room. Advances ``seq``. The bytes are exactly those of :meth:`encode`."""
        payloads = self._checked(msg_type, payloads)
        t_ns, mt = int(t_ns), int(msg_type)
        base = flags & ~(FLAG_MORE | FLAG_CONT)
        last = len(payloads) - 1
        for k, p in enumerate(payloads):
            f = base | (FLAG_MORE if k < last else 0) | (FLAG_CONT if k > 0 else 0)
            at = encode_frame_into(dst, at, self.version, mt, f, self.seq, t_ns, p)
            self.seq = (self.seq + 1) & SEQ_MASK
        return at

    def encode_one_into(self, dst: bytearray, at: int, msg_type: int, payload,
                        t_ns: int, flags: int = 0) -> int:
        """One frame (``flags`` as given) the lean way: one header pack and one kernel
        call. Returns the offset past the
        delimiter; ``dst`` needs :func:`frame_bound` (len(payload)) bytes from ``at``."""
        n = len(payload)
        if n > self.max_payload:
            raise ProtocolError(f"Encoder: payload of {n} bytes for message type "
                                f"{msg_type} exceeds max_payload={self.max_payload}")
        try:
            head = HEADER.pack(self.version, msg_type, flags, self.seq, t_ns, n)
        except struct.error as exc:
            raise ProtocolError(f"frame header out of range (type {msg_type}, seq "
                                f"{self.seq}, t_ns {t_ns}): {exc}") from None
        end = self._wire.frame_encode(head, payload, dst, at)
        if end < 0:
            raise ProtocolError(f"encode_one_into: {len(dst) - at} bytes of room at offset "
                                f"{at}, the frame needs {frame_bound(n)}")
        self.seq = (self.seq + 1) & SEQ_MASK
        return end

    def next_header(self, msg_type: int, payload_len: int, t_ns: int, flags: int = 0) -> bytes:
        """The 20-byte header of the next frame (numbered ``seq``, which advances), for a
        caller that frames later with :func:`encode_frames_into`. Raises
        :class:`ProtocolError` on an oversized payload or out-of-range field."""
        if payload_len > self.max_payload:
            raise ProtocolError(f"Encoder: payload of {payload_len} bytes for message type "
                                f"{msg_type} exceeds max_payload={self.max_payload}")
        try:
            head = HEADER.pack(self.version, msg_type, flags, self.seq, t_ns, payload_len)
        except struct.error as exc:
            raise ProtocolError(f"frame header out of range (type {msg_type}, seq "
                                f"{self.seq}, t_ns {t_ns}): {exc}") from None
        self.seq = (self.seq + 1) & SEQ_MASK
        return head

    @staticmethod
    def bound(payloads) -> int:
        """Room :meth:`encode_into` needs for these payloads (bytes, or a list of them)."""
        if isinstance(payloads, (bytes, bytearray, memoryview)):
            return frame_bound(len(payloads))
        return sum(frame_bound(len(p)) for p in payloads)

    def encode(self, msg_type: int, payloads, t_ns: int, flags: int = 0) -> bytes:
        """The wire bytes of one message (its frames concatenated, each with delimiter)."""
        payloads = self._checked(msg_type, payloads)
        dst = bytearray(self.bound(payloads))
        end = self.encode_into(dst, 0, msg_type, payloads, t_ns, flags)
        del dst[end:]
        return bytes(dst)


@dataclass
class DecoderStats:
    """What a :class:`Decoder` saw. Errors count dropped frames; ``seq_gaps`` counts frames
    that never arrived (from sequence numbers), so one lost frame may show as an error *and*
    a gap."""

    bytes: int = 0            #: bytes fed
    frames_ok: int = 0        #: frames delivered by next_frame()
    cobs_errors: int = 0      #: chunk between delimiters is not valid COBS
    truncated: int = 0        #: decoded frame shorter than header + CRC (24 bytes)
    crc_errors: int = 0       #: CRC-32 mismatch
    length_errors: int = 0    #: payload_len disagrees with the frame length (CRC was good)
    oversize: int = 0         #: longer than the largest frame, or payload above max_payload
    version_errors: int = 0   #: header version outside the accepted range
    unknown_types: int = 0    #: valid frame of an unknown msg_type, skipped
    seq_gaps: int = 0         #: frames missing: skipped by sequence jumps and not come late
    gap_events: int = 0       #: number of forward sequence jumps
    duplicates: int = 0       #: frame whose seq was already received (window of 64), dropped
    reordered: int = 0        #: frame arriving after a later one (within 64), delivered
    seq_resets: int = 0       #: sequence restarted without a HELLO (large backward jump)

    @property
    def errors(self) -> int:
        """Frames dropped as corrupt or invalid (not counting unknown types or duplicates)."""
        return (self.cobs_errors + self.truncated + self.crc_errors + self.length_errors
                + self.oversize + self.version_errors)

    def as_dict(self) -> dict:
        return asdict(self)


class Decoder:
    """Sans-I/O frame decoder for the stream of *one* sender (a link's far end or a file).

    ``feed(data)`` appends bytes; ``next_frame()`` returns the next good :class:`Frame` or
    None when more bytes are needed; iterating drains the buffered frames. Bad input never
    raises: the chunk up to the next 0x00 is dropped and counted in ``stats``.

    ``max_payload``: the receive limit this side advertised (≤ MAX_PAYLOAD).
    ``versions``: (min, max) header versions accepted; HELLO and ERROR frames are accepted
    with any version. A HELLO restarts sequence tracking (the peer began a new session).
    """

    def __init__(self, *, max_payload: int = MAX_PAYLOAD,
                 versions: tuple[int, int] = (PROTOCOL_VERSION, PROTOCOL_VERSION)):
        self.max_payload = int(max_payload)
        self.versions = (int(versions[0]), int(versions[1]))
        self._max_encoded = cobs_max_encoded_len(HEADER_SIZE + self.max_payload + CRC_SIZE)
        self._buf = bytearray()
        self._start = 0          # first unconsumed byte of _buf
        self._skipping = False   # inside an oversized chunk: drop until the next 0x00
        self._dropped = 0        # bytes of the current chunk already discarded
        self._last_seq: int | None = None
        self._mask = 1
        self._span = 0
        self.stats = DecoderStats()

    @property
    def pending_bytes(self) -> int:
        """Bytes received after the last 0x00 (an unfinished frame, or a torn tail)."""
        return len(self._buf) - self._start + self._dropped

    def reset(self) -> None:
        """Forget buffered bytes and sequence tracking (a reopened link); keep ``stats``."""
        self._buf.clear()
        self._start, self._skipping, self._dropped = 0, False, 0
        self._last_seq, self._mask, self._span = None, 1, 0

    def feed(self, data: bytes) -> None:
        """Append received bytes (any split: byte by byte or many frames at once)."""
        self.stats.bytes += len(data)
        self._buf += data

    def __iter__(self):
        while (f := self.next_frame()) is not None:
            yield f

    def next_frame(self) -> Frame | None:
        """The next valid frame, or None if the buffered bytes hold no complete frame."""
        buf = self._buf
        while True:
            i = buf.find(0, self._start)
            if i < 0:
                self._compact()
                return None
            chunk = bytes(buf[self._start:i])
            self._start = i + 1
            skipping, self._skipping, self._dropped = self._skipping, False, 0
            if skipping or not chunk:
                continue  # tail of an oversized chunk, or an empty frame (padding)
            if len(chunk) > self._max_encoded:
                self.stats.oversize += 1
                continue
            frame = self._check(chunk)
            if frame is not None:
                self.stats.frames_ok += 1
                return frame

    def _compact(self) -> None:
        if self._start:
            del self._buf[:self._start]
            self._start = 0
        if len(self._buf) > self._max_encoded:  # no delimiter within the largest frame
            if not self._skipping:
                self.stats.oversize += 1
                self._skipping = True
            self._dropped += len(self._buf)
            self._buf.clear()

    def _check(self, chunk: bytes) -> Frame | None:
        st = self.stats
        try:
            raw = cobs_decode(chunk)
        except ProtocolError:
            st.cobs_errors += 1
            return None
        if len(raw) < HEADER_SIZE + CRC_SIZE:
            st.truncated += 1
            return None
        if int.from_bytes(raw[-4:], "little") != crc32(raw[:-4]):
            st.crc_errors += 1
            return None
        version, msg_type, flags, seq, t_ns, plen = HEADER.unpack_from(raw)
        if plen != len(raw) - HEADER_SIZE - CRC_SIZE:
            st.length_errors += 1
            return None
        if plen > self.max_payload:
            st.oversize += 1
            return None
        if msg_type not in _ANY_VERSION and not self.versions[0] <= version <= self.versions[1]:
            st.version_errors += 1
            return None
        if not self._track_seq(seq, msg_type == MsgType.HELLO):
            return None
        if msg_type not in _KNOWN_TYPES:
            st.unknown_types += 1
            return None
        return Frame(version, MsgType(msg_type), flags, seq, t_ns,
                     raw[HEADER_SIZE:-CRC_SIZE])

    def _track_seq(self, seq: int, hello: bool) -> bool:
        """Update the sequence statistics; False for a duplicate (to be dropped).

        ``_mask`` bit i is set when seq ``last − i`` was received (a sliding window as in
        IPsec anti-replay, RFC 4303 §3.4.3); ``_span`` is how far ``last`` is past the seq
        tracking began at, so a late frame is known to have been counted missing.
        """
        st = self.stats
        if self._last_seq is None or hello:
            self._last_seq, self._mask, self._span = seq, 1, 0
            return True
        ahead = (seq - self._last_seq) & SEQ_MASK
        behind = (-ahead) & SEQ_MASK
        if behind < REORDER_WINDOW:
            bit = 1 << behind
            if self._mask & bit:
                st.duplicates += 1
                return False
            self._mask |= bit
            st.reordered += 1
            if behind <= self._span:
                st.seq_gaps -= 1  # it had been counted missing when the sequence jumped
            return True
        if ahead < 0x80000000:
            if ahead > 1:
                st.seq_gaps += ahead - 1
                st.gap_events += 1
            self._mask = ((self._mask << ahead) | 1) & _WINDOW_BITS
            self._span = min(self._span + ahead, SEQ_MASK)
        else:
            st.seq_resets += 1
            self._mask, self._span = 1, 0
        self._last_seq = seq
        return True
