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
from libc.stdint cimport int64_t, uint32_t, uint64_t

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


# ------------------------------------------------------------------ whole messages
# DETECTIONS, TRACKS, COMMAND and STATE in one frame each (the run loop's messages: per
# scan and per guidance step), packed from the record's arrays straight into the frame:
# header ‖ payload go through the CRC and COBS byte by byte as they are produced, with no
# payload or header bytes object in between. The payload bytes are those of
# hil/messages.py (DET_DTYPE, tracks_dtype, CMD_DTYPE, STATE_DTYPE items after the count).
#
# These are called once per message with one to a few items, so the per-call cost is the
# cost: the arrays are taken through numpy's C API (type, dtype, byte order, C order and
# ndim checked, then the data pointer; ≈ 10× cheaper than acquiring a typed memoryview
# each) and ``dst`` must be a bytearray (its storage used in place). An argument of the
# wrong kind raises TypeError/ValueError naming it; the caller then takes its general path.
cimport numpy as cnp
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_Check, PyByteArray_GET_SIZE
from libc.stdint cimport uint8_t, uint16_t

cnp.import_array()


cdef const char* _data(object a, int typenum, int ndim, str name) except NULL:
    """The data pointer of ``a``: a C-contiguous, native-order ndarray of ``typenum`` (bool
    also taken for u8) with ``ndim`` axes."""
    cdef cnp.ndarray arr
    cdef int t
    if not cnp.PyArray_Check(a):
        raise TypeError(f"{name}: expected a numpy array, got {type(a).__name__}")
    arr = <cnp.ndarray>a
    t = cnp.PyArray_TYPE(arr)
    if not (t == typenum or (typenum == cnp.NPY_UINT8 and t == cnp.NPY_BOOL)):
        raise ValueError(f"{name}: expected dtype {cnp.PyArray_DescrFromType(typenum)}, "
                         f"got {a.dtype}")
    if cnp.PyArray_NDIM(arr) != ndim:
        raise ValueError(f"{name}: expected {ndim} axes, got shape {a.shape}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(arr) or not cnp.PyArray_ISNOTSWAPPED(arr):
        raise ValueError(f"{name}: expected a C-contiguous array in native byte order")
    return <const char*>cnp.PyArray_DATA(arr)


cdef inline Py_ssize_t _dim(object a, int k) noexcept:
    return cnp.PyArray_DIM(<cnp.ndarray>a, k)


cdef unsigned char* _dst(object dst) except NULL:
    if not PyByteArray_Check(dst):
        raise TypeError(f"dst: expected a bytearray, got {type(dst).__name__}")
    if PyByteArray_GET_SIZE(dst) == 0:
        raise ValueError("dst: empty")
    return <unsigned char*>PyByteArray_AS_STRING(dst)


cdef struct _FW:
    uint32_t crc
    _Cobs s


cdef inline void _fw_bytes(_FW* w, unsigned char* d, const char* p,
                           Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned char b
    for i in range(n):
        b = <unsigned char>p[i]
        w.crc = _CRC_TABLE[(w.crc ^ b) & 0xFF] ^ (w.crc >> 8)
        _cobs_put(&w.s, d, b, False)


cdef inline void _fw_le(_FW* w, unsigned char* d, uint64_t v, int nbytes) noexcept nogil:
    """An unsigned integer, little-endian, ``nbytes`` wide."""
    cdef int i
    cdef unsigned char b
    for i in range(nbytes):
        b = <unsigned char>((v >> (8 * i)) & 0xFF)
        w.crc = _CRC_TABLE[(w.crc ^ b) & 0xFF] ^ (w.crc >> 8)
        _cobs_put(&w.s, d, b, False)


cdef inline void _fw_start(_FW* w, unsigned char* d, Py_ssize_t at, uint8_t version,
                           uint8_t msg_type, uint16_t flags, uint32_t seq, int64_t t_ns,
                           uint32_t plen) noexcept nogil:
    """Begin a frame at d[at:] with its 20-byte header (PROTOCOL.md: <BBHIqI)."""
    w.crc = 0xFFFFFFFFu
    w.s.code_at = at
    w.s.o = at + 1
    w.s.code = 1
    _fw_le(w, d, version, 1)
    _fw_le(w, d, msg_type, 1)
    _fw_le(w, d, flags, 2)
    _fw_le(w, d, seq, 4)
    _fw_le(w, d, <uint64_t>t_ns, 8)
    _fw_le(w, d, plen, 4)


cdef inline Py_ssize_t _fw_finish(_FW* w, unsigned char* d) noexcept nogil:
    """The CRC (u32 LE), the last code byte and the delimiter; returns the end offset."""
    cdef int i
    cdef uint32_t crc = w.crc ^ 0xFFFFFFFFu
    for i in range(4):
        _cobs_put(&w.s, d, <unsigned char>((crc >> (8 * i)) & 0xFF), i == 3)
    if w.s.code_at >= 0:
        d[w.s.code_at] = w.s.code
    d[w.s.o] = 0
    return w.s.o + 1


cdef inline bint _no_room(Py_ssize_t size, Py_ssize_t at, Py_ssize_t plen) noexcept nogil:
    return at < 0 or at + _frame_bound(20 + plen + 4) > size


cdef Py_ssize_t _command_frame(unsigned char* d, Py_ssize_t size, Py_ssize_t at,
                               uint8_t version, uint16_t flags, uint32_t seq, int64_t t_ns,
                               Py_ssize_t n, const char* a_cmd, const char* t_go,
                               const char* sat, Py_ssize_t max_payload) noexcept nogil:
    cdef Py_ssize_t i, plen = 2 + 33 * n
    cdef _FW w
    if n > 0xFFFF or plen > max_payload:
        return -2
    if _no_room(size, at, plen):
        return -1
    _fw_start(&w, d, at, version, 0x13, flags, seq, t_ns, <uint32_t>plen)
    _fw_le(&w, d, <uint64_t>n, 2)
    for i in range(n):
        _fw_bytes(&w, d, a_cmd + 24 * i, 24)
        _fw_bytes(&w, d, t_go + 8 * i, 8)
        _fw_le(&w, d, 1 if sat[i] else 0, 1)
    return _fw_finish(&w, d)


def command_frame(dst, Py_ssize_t at, uint8_t version, uint16_t flags, uint32_t seq,
                  int64_t t_ns, a_cmd, t_go, saturated, Py_ssize_t max_payload):
    """Write the one-frame COMMAND message of n commands (``a_cmd`` (n, 3), ``t_go`` (n,)
    float64, ``saturated`` (n,) bool/u8) into the bytearray ``dst`` at ``at``: header
    (version, type 0x13, flags, seq, t_ns, payload length) ‖ ``count u16`` ‖ n × (a_cmd
    f8×3, t_go f8, saturated u8) ‖ crc32, COBS-encoded, then 0x00. Returns the offset past
    the delimiter; −1 if ``dst`` lacks room (frame_bound of the payload), −2 (nothing
    written) if the shapes disagree or the payload (2 + 33 n bytes) exceeds ``max_payload``
    or 65535 items (the caller then splits the message)."""
    cdef unsigned char* d = _dst(dst)
    cdef Py_ssize_t size = PyByteArray_GET_SIZE(dst), end
    cdef const char* pa = _data(a_cmd, cnp.NPY_FLOAT64, 2, "a_cmd")
    cdef const char* pt = _data(t_go, cnp.NPY_FLOAT64, 1, "t_go")
    cdef const char* ps = _data(saturated, cnp.NPY_UINT8, 1, "saturated")
    cdef Py_ssize_t n = _dim(t_go, 0)
    if _dim(a_cmd, 0) != n or _dim(a_cmd, 1) != 3 or _dim(saturated, 0) != n:
        return -2
    with nogil:
        end = _command_frame(d, size, at, version, flags, seq, t_ns, n, pa, pt, ps,
                             max_payload)
    return end


cdef Py_ssize_t _state_frame(unsigned char* d, Py_ssize_t size, Py_ssize_t at,
                             uint8_t version, uint16_t flags, uint32_t seq, int64_t t_ns,
                             Py_ssize_t n, const int64_t* body_id, const char* pos,
                             const char* vel, const char* acc,
                             Py_ssize_t max_payload) noexcept nogil:
    cdef Py_ssize_t i, plen = 2 + 76 * n
    cdef _FW w
    if n > 0xFFFF or plen > max_payload:
        return -2
    for i in range(n):
        if body_id[i] < 0 or body_id[i] > <int64_t>0xFFFFFFFF:
            return -3
    if _no_room(size, at, plen):
        return -1
    _fw_start(&w, d, at, version, 0x11, flags, seq, t_ns, <uint32_t>plen)
    _fw_le(&w, d, <uint64_t>n, 2)
    for i in range(n):
        _fw_le(&w, d, <uint64_t>body_id[i], 4)
        _fw_bytes(&w, d, pos + 24 * i, 24)
        _fw_bytes(&w, d, vel + 24 * i, 24)
        _fw_bytes(&w, d, acc + 24 * i, 24)
    return _fw_finish(&w, d)


def state_frame(dst, Py_ssize_t at, uint8_t version, uint16_t flags, uint32_t seq,
                int64_t t_ns, body_id, pos, vel, acc, Py_ssize_t max_payload):
    """Write the one-frame STATE message of n bodies (``body_id`` (n,) int64, ``pos``,
    ``vel``, ``acc`` (n, 3) float64) into the bytearray ``dst`` at ``at``: header (type
    0x11) ‖ ``count u16`` ‖ n × (body_id u32, pos, vel, acc f8×3 each) ‖ crc32,
    COBS-encoded, then 0x00. Returns the offset past the delimiter; −1 if ``dst`` lacks
    room, −2 if the shapes disagree or the payload (2 + 76 n bytes) exceeds ``max_payload``
    or 65535 items, −3 if a body_id is outside u32 (nothing written on any error)."""
    cdef unsigned char* d = _dst(dst)
    cdef Py_ssize_t size = PyByteArray_GET_SIZE(dst), end, k
    cdef const int64_t* pb = <const int64_t*>_data(body_id, cnp.NPY_INT64, 1, "body_id")
    cdef const char* pp = _data(pos, cnp.NPY_FLOAT64, 2, "pos")
    cdef const char* pv = _data(vel, cnp.NPY_FLOAT64, 2, "vel")
    cdef const char* pc = _data(acc, cnp.NPY_FLOAT64, 2, "acc")
    cdef Py_ssize_t n = _dim(body_id, 0)
    for a in (pos, vel, acc):
        if _dim(a, 0) != n or _dim(a, 1) != 3:
            return -2
    with nogil:
        end = _state_frame(d, size, at, version, flags, seq, t_ns, n, pb, pp, pv, pc,
                           max_payload)
    return end


cdef Py_ssize_t _detections_frame(unsigned char* d, Py_ssize_t size, Py_ssize_t at,
                                  uint8_t version, uint16_t flags, uint32_t seq,
                                  int64_t t_ns, Py_ssize_t n, const char* rng,
                                  const char* az, const char* el, const char* rr,
                                  const char* snr, const char* R,
                                  Py_ssize_t max_payload) noexcept nogil:
    cdef Py_ssize_t i, r, plen = 2 + 120 * n
    cdef _FW w
    if n > 0xFFFF or plen > max_payload:
        return -2
    if _no_room(size, at, plen):
        return -1
    _fw_start(&w, d, at, version, 0x10, flags, seq, t_ns, <uint32_t>plen)
    _fw_le(&w, d, <uint64_t>n, 2)
    for i in range(n):
        _fw_bytes(&w, d, rng + 8 * i, 8)
        _fw_bytes(&w, d, az + 8 * i, 8)
        _fw_bytes(&w, d, el + 8 * i, 8)
        _fw_bytes(&w, d, rr + 8 * i, 8)
        _fw_bytes(&w, d, snr + 8 * i, 8)
        for r in range(4):                   # the upper triangle of R, row-major
            _fw_bytes(&w, d, R + 128 * i + 8 * (5 * r), 8 * (4 - r))
    return _fw_finish(&w, d)


def detections_frame(dst, Py_ssize_t at, uint8_t version, uint16_t flags, uint32_t seq,
                     int64_t t_ns, rng, az, el, range_rate, snr, R, Py_ssize_t max_payload):
    """Write the one-frame DETECTIONS message of n plots (``rng``, ``az``, ``el``,
    ``range_rate``, ``snr`` (n,), ``R`` (n, 4, 4) float64) into the bytearray ``dst`` at
    ``at``: header (type 0x10) ‖ ``count u16`` ‖ n × (range, az, el, range_rate, snr,
    upper triangle of R row-major: f8 × 15) ‖ crc32, COBS-encoded, then 0x00. Returns the
    offset past the delimiter; −1 if ``dst`` lacks room, −2 if the shapes disagree or the
    payload (2 + 120 n bytes) exceeds ``max_payload`` or 65535 items (nothing written on
    any error)."""
    cdef unsigned char* d = _dst(dst)
    cdef Py_ssize_t size = PyByteArray_GET_SIZE(dst), end
    cdef const char* p0 = _data(rng, cnp.NPY_FLOAT64, 1, "rng")
    cdef const char* p1 = _data(az, cnp.NPY_FLOAT64, 1, "az")
    cdef const char* p2 = _data(el, cnp.NPY_FLOAT64, 1, "el")
    cdef const char* p3 = _data(range_rate, cnp.NPY_FLOAT64, 1, "range_rate")
    cdef const char* p4 = _data(snr, cnp.NPY_FLOAT64, 1, "snr")
    cdef const char* pR = _data(R, cnp.NPY_FLOAT64, 3, "R")
    cdef Py_ssize_t n = _dim(rng, 0)
    if (_dim(az, 0) != n or _dim(el, 0) != n or _dim(range_rate, 0) != n
            or _dim(snr, 0) != n or _dim(R, 0) != n or _dim(R, 1) != 4 or _dim(R, 2) != 4):
        return -2
    with nogil:
        end = _detections_frame(d, size, at, version, flags, seq, t_ns, n, p0, p1, p2, p3,
                                p4, pR, max_payload)
    return end


cdef Py_ssize_t _tracks_frame(unsigned char* d, Py_ssize_t size, Py_ssize_t at,
                              uint8_t version, uint16_t flags, uint32_t seq, int64_t t_ns,
                              Py_ssize_t n, Py_ssize_t dim, Py_ssize_t modes,
                              const int64_t* ids, const char* conf, const char* x,
                              const char* P, const char* mu,
                              Py_ssize_t max_payload) noexcept nogil:
    cdef Py_ssize_t i, r, isz, plen
    cdef _FW w
    if dim > 255 or modes > 255 or n > 0xFFFF:
        return -2
    isz = 9 + 8 * (dim + dim * (dim + 1) // 2 + modes)
    plen = 4 + isz * n
    if plen > max_payload:
        return -2
    if _no_room(size, at, plen):
        return -1
    _fw_start(&w, d, at, version, 0x12, flags, seq, t_ns, <uint32_t>plen)
    _fw_le(&w, d, <uint64_t>n, 2)
    _fw_le(&w, d, <uint64_t>dim, 1)
    _fw_le(&w, d, <uint64_t>modes, 1)
    for i in range(n):
        _fw_le(&w, d, <uint64_t>ids[i], 8)
        _fw_le(&w, d, 1 if conf[i] else 0, 1)
        _fw_bytes(&w, d, x + 8 * dim * i, 8 * dim)
        for r in range(dim):                 # the upper triangle of P, row-major
            _fw_bytes(&w, d, P + 8 * (dim * dim * i + (dim + 1) * r), 8 * (dim - r))
        _fw_bytes(&w, d, mu + 8 * modes * i, 8 * modes)
    return _fw_finish(&w, d)


def tracks_frame(dst, Py_ssize_t at, uint8_t version, uint16_t flags, uint32_t seq,
                 int64_t t_ns, ids, confirmed, x, P, mode_probs, Py_ssize_t max_payload):
    """Write the one-frame TRACKS message of n tracks (``ids`` (n,) int64, ``confirmed``
    (n,) bool/u8, ``x`` (n, dim), ``P`` (n, dim, dim), ``mode_probs`` (n, modes) float64)
    into the bytearray ``dst`` at ``at``: header (type 0x12) ‖ ``count u16, dim u8, modes
    u8`` ‖ n × (id i8, confirmed u8, x f8 × dim, upper triangle of P row-major, mode_probs
    f8 × modes) ‖ crc32, COBS-encoded, then 0x00. Returns the offset past the delimiter;
    −1 if ``dst`` lacks room, −2 if the shapes disagree, dim or modes exceed 255, or the
    payload exceeds ``max_payload`` or 65535 items (nothing written on any error)."""
    cdef unsigned char* d = _dst(dst)
    cdef Py_ssize_t size = PyByteArray_GET_SIZE(dst), end
    cdef const int64_t* pi = <const int64_t*>_data(ids, cnp.NPY_INT64, 1, "ids")
    cdef const char* pc = _data(confirmed, cnp.NPY_UINT8, 1, "confirmed")
    cdef const char* px = _data(x, cnp.NPY_FLOAT64, 2, "x")
    cdef const char* pP = _data(P, cnp.NPY_FLOAT64, 3, "P")
    cdef const char* pm = _data(mode_probs, cnp.NPY_FLOAT64, 2, "mode_probs")
    cdef Py_ssize_t n = _dim(ids, 0), dim = _dim(x, 1), modes = _dim(mode_probs, 1)
    if (_dim(confirmed, 0) != n or _dim(x, 0) != n or _dim(P, 0) != n
            or _dim(mode_probs, 0) != n or _dim(P, 1) != dim or _dim(P, 2) != dim):
        return -2
    with nogil:
        end = _tracks_frame(d, size, at, version, flags, seq, t_ns, n, dim, modes, pi, pc,
                            px, pP, pm, max_payload)
    return end
