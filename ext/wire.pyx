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
