"""COBS framing (numpy twin of ext/wire.pyx): the readable specification.

Consistent Overhead Byte Stuffing (Cheshire & Baker, IEEE/ACM Trans. Networking 7(2),
1999): the data are cut at every 0x00; each piece becomes blocks of a code byte c (1…255)
followed by c − 1 non-zero bytes. A block with c < 255 stands for its bytes *and* a 0x00,
except the frame's last block; c = 255 is a full block of 254 bytes with no implied zero.
When the data end exactly after a full block no further 0x01 block is written (the
minimal form; hil/PROTOCOL.md). The encoded frame has no 0x00, so 0x00 delimits frames.

``frame_encode`` builds a whole wire frame: COBS(header ‖ payload ‖ crc32) ‖ 0x00.
"""
import struct
import zlib

import numpy as np


def cobs_encode(src, dst):
    """COBS-encode src into dst (len ≥ len(src) + ⌈len(src)/254⌉ + 1); returns bytes written."""
    n = len(src)
    code_at, o, code = 0, 1, 1
    for i in range(n):
        b = src[i]
        if b == 0:                 # close the block: its code counts the bytes + 1
            dst[code_at] = code
            code_at, o, code = o, o + 1, 1
        else:
            dst[o] = b
            o += 1
            code += 1
            if code == 0xFF:       # a full block of 254 bytes, no implied zero
                dst[code_at] = code
                if i + 1 == n:
                    return o
                code_at, o, code = o, o + 1, 1
    dst[code_at] = code
    return o


def cobs_decode(src, dst):
    """Decode one COBS frame (no delimiter) into dst (len ≥ len(src)); returns bytes written,
    or −1 − offset of the first malformed byte (a 0x00, or a code pointing past the end)."""
    n = len(src)
    if n == 0:
        return -1
    i = o = 0
    while i < n:
        code = src[i]
        if code == 0:
            return -1 - i
        end = i + code
        if end > n:
            return -1 - i
        block = bytes(src[i + 1:end])
        z = block.find(0)
        if z >= 0:
            return -1 - (i + 1 + z)
        dst[o:o + len(block)] = block
        o += len(block)
        if code != 0xFF and end < n:     # every block but a full one ends in a zero
            dst[o] = 0
            o += 1
        i = end
    return o


def frame_encode(head, payload, dst, at):
    """Write the wire frame ``COBS(head ‖ payload ‖ crc32) ‖ 0x00`` into ``dst[at:]``;
    returns the offset just past the delimiter, or −1 if ``dst`` lacks room (it needs
    n + ⌊n/254⌋ + 2 bytes after ``at``, n = len(head) + len(payload) + 4).

    crc32 is CRC-32/ISO-HDLC (IEEE 802.3, zlib's) of ``head ‖ payload``, stored u32
    little-endian (hil/PROTOCOL.md); the compiled twin fuses the CRC and COBS in one pass.
    """
    raw = bytes(head) + bytes(payload)
    raw += (zlib.crc32(raw) & 0xFFFFFFFF).to_bytes(4, "little")
    n = len(raw)
    if at < 0 or at + n + n // 254 + 2 > len(dst):
        return -1
    tmp = bytearray(n + n // 254 + 1)
    k = cobs_encode(raw, tmp)
    dst[at:at + k] = tmp[:k]
    dst[at + k] = 0                 # the delimiter
    return at + k + 1


def frames_encode(heads, blob, ends, dst, at):
    """Write k frames back to back into ``dst[at:]``: frame j is ``COBS(head_j ‖ payload_j
    ‖ crc32) ‖ 0x00`` with head_j the j-th of k equal slices of ``heads`` and payload_j
    ``blob[ends[j−1]:ends[j]]`` (ends[−1] = 0, ends[k−1] = len(blob)). Returns the offset
    past the last delimiter, or −1 (nothing written) on inconsistent ends or too little
    room (the sum of the frames' n + ⌊n/254⌋ + 2)."""
    heads, blob, ends = bytes(heads), bytes(blob), [int(e) for e in ends]
    k = len(ends)
    if k == 0:
        return at if 0 <= at <= len(dst) and not blob else -1
    nh = len(heads) // k
    if at < 0 or nh * k != len(heads) or ends[-1] != len(blob):
        return -1
    starts = [0] + ends[:-1]
    if any(b < a for a, b in zip(starts, ends)):
        return -1
    need = sum((nh + b - a + 4) + (nh + b - a + 4) // 254 + 2 for a, b in zip(starts, ends))
    if at + need > len(dst):
        return -1
    for j, (a, b) in enumerate(zip(starts, ends)):
        at = frame_encode(heads[j * nh:(j + 1) * nh], blob[a:b], dst, at)
    return at


# ------------------------------------------------------------------ whole messages
_HEADER = struct.Struct("<BBHIqI")       # version, msg_type, flags, seq, t_ns, payload_len
_COMMAND, _STATE = 0x13, 0x11


def _message_frame(dst, at, version, msg_type, flags, seq, t_ns, payload, max_payload):
    if len(payload) > max_payload:
        return -2
    n = _HEADER.size + len(payload) + 4
    if at < 0 or at + n + n // 254 + 2 > len(dst):
        return -1
    head = _HEADER.pack(version, msg_type, flags, seq, t_ns, len(payload))
    return frame_encode(head, payload, dst, at)


def command_frame(dst, at, version, flags, seq, t_ns, a_cmd, t_go, saturated, max_payload):
    """Write the one-frame COMMAND message of n commands (``a_cmd`` (n, 3), ``t_go`` (n,),
    ``saturated`` (n,) bool/u8) into ``dst[at:]``: header (version, type 0x13, flags, seq,
    t_ns, payload length) ‖ ``count u16`` ‖ n × (a_cmd f8×3, t_go f8, saturated u8) ‖
    crc32, COBS-encoded, then 0x00. Returns the offset past the delimiter; −1 if ``dst``
    lacks room (frame_bound of the payload), −2 (nothing written) if the shapes disagree or
    the payload (2 + 33 n bytes) exceeds ``max_payload`` or 65535 items (the caller then
    splits the message)."""
    a_cmd, t_go = np.asarray(a_cmd, "<f8"), np.asarray(t_go, "<f8")
    sat = np.asarray(saturated).astype(bool).astype("u1")
    n = len(t_go)
    if a_cmd.shape != (n, 3) or sat.shape != (n,) or n > 0xFFFF:
        return -2
    items = np.zeros(n, [("a_cmd", "<f8", (3,)), ("t_go", "<f8"), ("saturated", "u1")])
    items["a_cmd"], items["t_go"], items["saturated"] = a_cmd, t_go, sat
    return _message_frame(dst, at, version, _COMMAND, flags, seq, t_ns,
                          struct.pack("<H", n) + items.tobytes(), max_payload)


def state_frame(dst, at, version, flags, seq, t_ns, body_id, pos, vel, acc, max_payload):
    """Write the one-frame STATE message of n bodies (``body_id`` (n,) int64, ``pos``,
    ``vel``, ``acc`` (n, 3)) into ``dst[at:]``: header (type 0x11) ‖ ``count u16`` ‖ n ×
    (body_id u32, pos, vel, acc f8×3 each) ‖ crc32, COBS-encoded, then 0x00. Returns the
    offset past the delimiter; −1 if ``dst`` lacks room, −2 if the shapes disagree or the
    payload (2 + 76 n bytes) exceeds ``max_payload`` or 65535 items, −3 if a body_id is
    outside u32 (nothing written on any error)."""
    bid = np.asarray(body_id, np.int64)
    pos, vel, acc = (np.asarray(a, "<f8") for a in (pos, vel, acc))
    n = len(bid)
    if any(a.shape != (n, 3) for a in (pos, vel, acc)) or n > 0xFFFF \
            or 2 + 76 * n > max_payload:
        return -2
    if n and (bid.min() < 0 or bid.max() > 0xFFFFFFFF):
        return -3
    items = np.zeros(n, [("body_id", "<u4"), ("pos", "<f8", (3,)), ("vel", "<f8", (3,)),
                         ("acc", "<f8", (3,))])
    items["body_id"], items["pos"], items["vel"], items["acc"] = bid, pos, vel, acc
    return _message_frame(dst, at, version, _STATE, flags, seq, t_ns,
                          struct.pack("<H", n) + items.tobytes(), max_payload)


def detections_frame(dst, at, version, flags, seq, t_ns, rng, az, el, range_rate, snr, R,
                     max_payload):
    """Write the one-frame DETECTIONS message of n plots (``rng``, ``az``, ``el``,
    ``range_rate``, ``snr`` (n,), ``R`` (n, 4, 4)) into ``dst[at:]``: header (type 0x10) ‖
    ``count u16`` ‖ n × (range, az, el, range_rate, snr, upper triangle of R row-major:
    f8 × 15) ‖ crc32, COBS-encoded, then 0x00. Returns the offset past the delimiter; −1 if
    ``dst`` lacks room, −2 if the shapes disagree or the payload (2 + 120 n bytes) exceeds
    ``max_payload`` or 65535 items (nothing written on any error)."""
    cols = [np.asarray(a, "<f8") for a in (rng, az, el, range_rate, snr)]
    R = np.asarray(R, "<f8")
    n = len(cols[0])
    if any(c.shape != (n,) for c in cols) or R.shape != (n, 4, 4) or n > 0xFFFF:
        return -2
    iu = np.triu_indices(4)
    items = np.concatenate([np.stack(cols, axis=1), R[:, iu[0], iu[1]]], axis=1)
    return _message_frame(dst, at, version, 0x10, flags, seq, t_ns,
                          struct.pack("<H", n) + items.astype("<f8").tobytes(), max_payload)


def tracks_frame(dst, at, version, flags, seq, t_ns, ids, confirmed, x, P, mode_probs,
                 max_payload):
    """Write the one-frame TRACKS message of n tracks (``ids`` (n,) int64, ``confirmed``
    (n,) bool/u8, ``x`` (n, dim), ``P`` (n, dim, dim), ``mode_probs`` (n, modes)) into
    ``dst[at:]``: header (type 0x12) ‖ ``count u16, dim u8, modes u8`` ‖ n × (id i8,
    confirmed u8, x f8 × dim, upper triangle of P row-major, mode_probs f8 × modes) ‖
    crc32, COBS-encoded, then 0x00. Returns the offset past the delimiter; −1 if ``dst``
    lacks room, −2 if the shapes disagree, dim or modes exceed 255, or the payload exceeds
    ``max_payload`` or 65535 items (nothing written on any error)."""
    ids, conf = np.asarray(ids, np.int64), np.asarray(confirmed).astype(bool)
    x, P, mu = (np.asarray(a, "<f8") for a in (x, P, mode_probs))
    n = len(ids)
    if x.ndim != 2 or mu.ndim != 2 or conf.shape != (n,) or len(x) != n or len(mu) != n:
        return -2
    dim, modes = x.shape[1], mu.shape[1]
    if P.shape != (n, dim, dim) or dim > 255 or modes > 255 or n > 0xFFFF:
        return -2
    iu = np.triu_indices(dim)
    items = np.zeros(n, [("id", "<i8"), ("confirmed", "u1"), ("x", "<f8", (dim,)),
                         ("P", "<f8", (len(iu[0]),)), ("mode_probs", "<f8", (modes,))])
    items["id"], items["confirmed"], items["x"] = ids, conf, x
    items["P"], items["mode_probs"] = P[:, iu[0], iu[1]], mu
    return _message_frame(dst, at, version, 0x12, flags, seq, t_ns,
                          struct.pack("<HBB", n, dim, modes) + items.tobytes(), max_payload)
