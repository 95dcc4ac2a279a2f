"""COBS framing (numpy twin of ext/wire.pyx): the readable specification.

Consistent Overhead Byte Stuffing (Cheshire & Baker, IEEE/ACM Trans. Networking 7(2),
1999): the data are cut at every 0x00; each piece becomes blocks of a code byte c (1…255)
followed by c − 1 non-zero bytes. A block with c < 255 stands for its bytes *and* a 0x00,
except the frame's last block; c = 255 is a full block of 254 bytes with no implied zero.
When the data end exactly after a full block no further 0x01 block is written (the
minimal form; hil/PROTOCOL.md). The encoded frame has no 0x00, so 0x00 delimits frames.
"""


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
