# cython: language_level=3
"""COBS framing of wire frames (Cheshire & Baker 1999). Twin: xband/reference/wire.py.

Both functions write into a caller-owned buffer and return the number of bytes written;
``cobs_decode`` returns −1 − offset of the first bad byte on malformed input (the codec then
builds a message naming it).
"""


cdef Py_ssize_t _cobs_encode(const unsigned char[::1] src, unsigned char[::1] dst) noexcept nogil:
    cdef Py_ssize_t n = src.shape[0], i, code_at = 0, o = 1
    cdef unsigned char code = 1, b
    for i in range(n):
        b = src[i]
        if b == 0:
            dst[code_at] = code
            code_at = o
            o += 1
            code = 1
        else:
            dst[o] = b
            o += 1
            code += 1
            if code == 0xFF:
                dst[code_at] = code
                if i + 1 == n:           # data end right after a full block
                    return o
                code_at = o
                o += 1
                code = 1
    dst[code_at] = code
    return o


def cobs_encode(const unsigned char[::1] src, unsigned char[::1] dst):
    """COBS-encode src into dst (len ≥ len(src) + ⌈len(src)/254⌉ + 1); returns bytes written."""
    cdef Py_ssize_t n
    with nogil:
        n = _cobs_encode(src, dst)
    return n


cdef Py_ssize_t _cobs_decode(const unsigned char[::1] src, unsigned char[::1] dst) noexcept nogil:
    cdef Py_ssize_t n = src.shape[0], i = 0, o = 0, j, end
    cdef unsigned char code
    if n == 0:
        return -1
    while i < n:
        code = src[i]
        if code == 0:
            return -1 - i
        end = i + code
        if end > n:
            return -1 - i
        for j in range(i + 1, end):
            if src[j] == 0:
                return -1 - j
            dst[o] = src[j]
            o += 1
        if code != 0xFF and end < n:
            dst[o] = 0
            o += 1
        i = end
    return o


def cobs_decode(const unsigned char[::1] src, unsigned char[::1] dst):
    """Decode one COBS frame (no delimiter) into dst (len ≥ len(src)); returns bytes written,
    or −1 − offset of the first malformed byte."""
    cdef Py_ssize_t n
    with nogil:
        n = _cobs_decode(src, dst)
    return n


# ------------------------------------------------------------------ fused frame encoder
# CRC-32/ISO-HDLC (IEEE 802.3, zlib's): reflected, polynomial 0xEDB88320, init and xorout
# 0xFFFFFFFF; one 256-entry table, byte at a time (frames are ≤ 4 KiB).
from libc.stdint cimport int64_t, uint32_t

cdef uint32_t _CRC_TABLE[256]


cdef void _crc_init() noexcept:
    cdef uint32_t c
    cdef int i, k
    for i in range(256):
        c = <uint32_t>i
        for k in range(8):
            c = (c >> 1) ^ 0xEDB88320u if (c & 1u) else (c >> 1)
        _CRC_TABLE[i] = c


_crc_init()


cdef struct _Cobs:
    Py_ssize_t code_at    # where the current block's code byte goes
    Py_ssize_t o          # next output byte
    unsigned char code    # bytes in the current block + 1


cdef inline void _cobs_put(_Cobs* s, unsigned char* dst, unsigned char b,
                           bint last) noexcept nogil:
    """COBS one input byte (``last``: the frame's final byte, after which a full block
    gets no new code byte)."""
    if b == 0:
        dst[s.code_at] = s.code
        s.code_at = s.o
        s.o += 1
        s.code = 1
    else:
        dst[s.o] = b
        s.o += 1
        s.code += 1
        if s.code == 0xFF:
            dst[s.code_at] = s.code
            if last:
                s.code_at = -1       # the frame ends right after a full block
                return
            s.code_at = s.o
            s.o += 1
            s.code = 1


cdef inline Py_ssize_t _frame_bound(Py_ssize_t n) noexcept nogil:
    return n + n // 254 + 2


cdef Py_ssize_t _frame_put(const unsigned char* head, Py_ssize_t nh,
                           const unsigned char* payload, Py_ssize_t npl,
                           unsigned char* d, Py_ssize_t at) noexcept nogil:
    """One frame at d[at:] (room checked by the caller); returns the end offset."""
    cdef Py_ssize_t i
    cdef uint32_t crc = 0xFFFFFFFFu
    cdef unsigned char b
    cdef _Cobs s
    s.code_at = at
    s.o = at + 1
    s.code = 1
    for i in range(nh):                      # one pass: CRC and COBS of header ‖ payload
        b = head[i]
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
        _cobs_put(&s, d, b, False)
    for i in range(npl):
        b = payload[i]
        crc = _CRC_TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
        _cobs_put(&s, d, b, False)
    crc ^= 0xFFFFFFFFu
    for i in range(4):                       # the CRC, u32 little-endian
        _cobs_put(&s, d, <unsigned char>((crc >> (8 * i)) & 0xFF), i == 3)
    if s.code_at >= 0:
        d[s.code_at] = s.code
    d[s.o] = 0                               # the delimiter
    return s.o + 1


cdef Py_ssize_t _frame_encode(const unsigned char[::1] head, const unsigned char[::1] payload,
                              unsigned char[::1] dst, Py_ssize_t at) noexcept nogil:
    cdef Py_ssize_t nh = head.shape[0], npl = payload.shape[0]
    if at < 0 or at + _frame_bound(nh + npl + 4) > dst.shape[0]:
        return -1
    return _frame_put(&head[0] if nh else NULL, nh, &payload[0] if npl else NULL, npl,
                      &dst[0], at)


def frame_encode(const unsigned char[::1] head, const unsigned char[::1] payload,
                 unsigned char[::1] dst, Py_ssize_t at):
    """Write the wire frame ``COBS(head ‖ payload ‖ crc32) ‖ 0x00`` into ``dst[at:]``;
    returns the offset just past the delimiter, or −1 if ``dst`` lacks room (it needs
    n + ⌊n/254⌋ + 2 bytes after ``at``, n = len(head) + len(payload) + 4)."""
    cdef Py_ssize_t end
    with nogil:
        end = _frame_encode(head, payload, dst, at)
    return end


cdef Py_ssize_t _frames_encode(const unsigned char[::1] heads, const unsigned char[::1] blob,
                               const int64_t[::1] ends, unsigned char[::1] dst,
                               Py_ssize_t at) noexcept nogil:
    cdef Py_ssize_t k = ends.shape[0], nh, j, a = 0, b, need = at, o = at
    if k == 0:
        return at if 0 <= at <= dst.shape[0] and blob.shape[0] == 0 else -1
    nh = heads.shape[0] // k
    if at < 0 or nh * k != heads.shape[0] or ends[k - 1] != blob.shape[0]:
        return -1
    for j in range(k):                       # check everything before writing anything
        b = ends[j]
        if b < a:
            return -1
        need += _frame_bound(nh + (b - a) + 4)
        a = b
    if need > dst.shape[0]:
        return -1
    a = 0
    for j in range(k):
        b = ends[j]
        o = _frame_put(&heads[j * nh] if nh else NULL, nh,
                       &blob[a] if b > a else NULL, b - a, &dst[0], o)
        a = b
    return o


def frames_encode(const unsigned char[::1] heads, const unsigned char[::1] blob,
                  const int64_t[::1] ends, unsigned char[::1] dst, Py_ssize_t at):
    """Write k frames back to back into ``dst[at:]``: frame j is ``COBS(head_j ‖ payload_j
    ‖ crc32) ‖ 0x00`` with head_j the j-th of k equal slices of ``heads`` and payload_j
    ``blob[ends[j−1]:ends[j]]`` (ends[−1] = 0, ends[k−1] = len(blob)). Returns the offset
    past the last delimiter, or −1 (nothing written) on inconsistent ends or too little
    room (the sum of the frames' n + ⌊n/254⌋ + 2)."""
    cdef Py_ssize_t end
    with nogil:
        end = _frames_encode(heads, blob, ends, dst, at)
    return end
