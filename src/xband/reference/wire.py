"""COBS framing (numpy twin of ext/wire.pyx): the readable specification.

Consistent Overhead Byte Stuffing (Cheshire & Baker, IEEE/ACM Trans. Networking 7(2),
1999): the data are cut at every 0x00; each piece becomes blocks of a code byte c (1…255)
followed by c − 1 non-zero bytes. A block with c < 255 stands for its bytes *and* a 0x00,
except the frame's last block; c = 255 is a full block of 254 bytes with no implied zero.
When the data end exactly after a full block no further 0x01 block is written (the
minimal form; hil/PROTOCOL.md). The encoded frame has no 0x00, so 0x00 delimits frames.

``frame_encode`` builds a whole wire frame: COBS(header ‖ payload ‖ crc32) ‖ 0x00.
"""
import zlib


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
