/* xband wire protocol, version 1 — portable C99 codec (no malloc, no board specifics).
 *
 * hil/PROTOCOL.md is the specification; the section numbers below refer to it.
 *   frame  = COBS(header ‖ payload ‖ crc32) ‖ 0x00                      (2)
 *   header = version u8, msg_type u8, flags u16, seq u32, t_ns i64, payload_len u32 (3, LE)
 *   crc32  = CRC-32/ISO-HDLC of header ‖ payload, u32 LE                (2.1)
 *
 * Pieces:
 *   xb_crc32, xb_cobs_encode, xb_cobs_decode           framing primitives
 *   xb_tx                                               sender: seq numbering, MORE/CONT splits
 *   xb_rx                                               receiver, byte by byte, steps 1–10 of §4
 *   xb_asm                                              reassembly of split messages (§5.2)
 *   xb_*_read / xb_*_write                              payload items (§6), packed LE via bytes
 *
 * All buffers are owned by the caller or embedded in the structs (sizes are compile-time
 * constants), so the code runs on a microcontroller with a few tens of kB of RAM; define
 * XB_RX_MAX_PAYLOAD smaller (≥ 256) to shrink the receiver.
 */
#ifndef XBAND_WIRE_H
#define XBAND_WIRE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XB_PROTOCOL_VERSION 1u
#define XB_HEADER_SIZE 20u
#define XB_CRC_SIZE 4u
#define XB_MAX_PAYLOAD 4096u
#define XB_MIN_PAYLOAD 256u
#define XB_COBS_MAX(n) ((n) + ((n) == 0 ? 1u : ((n) + 253u) / 254u))
#ifndef XB_RX_MAX_PAYLOAD
#define XB_RX_MAX_PAYLOAD XB_MAX_PAYLOAD
#endif
#define XB_RAW_MAX(p) (XB_HEADER_SIZE + (p) + XB_CRC_SIZE)
/* Largest encoded frame without its delimiter: 4137 bytes for MAX_PAYLOAD (2.3). */
#define XB_ENCODED_MAX(p) XB_COBS_MAX(XB_RAW_MAX(p))

#define XB_FLAG_MORE 0x0001u
#define XB_FLAG_CONT 0x0002u

enum xb_msg_type {
    XB_HELLO = 0x01, XB_HEARTBEAT = 0x02, XB_ERROR = 0x03, XB_META = 0x04, XB_STATS = 0x05,
    XB_DETECTIONS = 0x10, XB_STATE = 0x11, XB_TRACKS = 0x12, XB_COMMAND = 0x13
};
enum xb_role { XB_ROLE_HOST = 0, XB_ROLE_SENSOR = 1, XB_ROLE_PLANT = 2 };
enum xb_cap {
    XB_CAP_TX_DETECTIONS = 1u << 0, XB_CAP_TX_STATE = 1u << 1, XB_CAP_TX_TRACKS = 1u << 2,
    XB_CAP_TX_COMMAND = 1u << 3, XB_CAP_RX_DETECTIONS = 1u << 4, XB_CAP_RX_STATE = 1u << 5,
    XB_CAP_RX_TRACKS = 1u << 6, XB_CAP_RX_COMMAND = 1u << 7, XB_CAP_TX_STATS = 1u << 8
};
enum xb_error_code {
    XB_E_CLOSE = 0, XB_E_VERSION_MISMATCH = 1, XB_E_BAD_ROLE = 2, XB_E_PROTOCOL = 3,
    XB_E_TOO_LARGE = 4, XB_E_TIMEOUT = 5, XB_E_OVERRUN = 6, XB_E_DEVICE_FAULT = 7,
    XB_E_UNSUPPORTED = 8
};

/* Item sizes on the wire (6.4–6.7). */
#define XB_DET_SIZE 120u
#define XB_BODY_SIZE 76u
#define XB_CMD_SIZE 33u
#define XB_TRACK_SIZE(dim, modes) (9u + 8u * ((dim) + (dim) * ((dim) + 1u) / 2u + (modes)))
#define XB_HELLO_MIN_SIZE 13u
#define XB_HEARTBEAT_SIZE 16u
#define XB_MAX_NAME 64u

int xb_is_known_type(unsigned msg_type);
int xb_is_batch_type(unsigned msg_type);     /* DETECTIONS, STATE, TRACKS, COMMAND */
int xb_is_text_type(unsigned msg_type);      /* META, STATS */

/* ---------------------------------------------------------------- little-endian fields */
uint16_t xb_get_u16(const uint8_t *p);
uint32_t xb_get_u32(const uint8_t *p);
int64_t xb_get_i64(const uint8_t *p);
double xb_get_f64(const uint8_t *p);
void xb_put_u16(uint8_t *p, uint16_t v);
void xb_put_u32(uint8_t *p, uint32_t v);
void xb_put_i64(uint8_t *p, int64_t v);
void xb_put_f64(uint8_t *p, double v);

/* ---------------------------------------------------------------- framing primitives */
uint32_t xb_crc32_update(uint32_t crc, const uint8_t *p, size_t n); /* start with 0 */
uint32_t xb_crc32(const uint8_t *p, size_t n);  /* xb_crc32("123456789") == 0xCBF43926 */

/* COBS-encode n bytes (canonical form of 2.2) into dst (≥ XB_COBS_MAX(n) bytes); returns
 * the encoded length (no delimiter). */
size_t xb_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst);
/* Decode one COBS frame (no delimiter) into dst (≥ n bytes). Returns the decoded length,
 * or -1 - offset of the first bad byte (a 0x00, or a code pointing past the end); -1 for
 * an empty input. Accepts the trailing 0x01 of the 1999 paper's form. */
long xb_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst);

typedef struct {
    uint8_t version;
    uint8_t msg_type;
    uint16_t flags;
    uint32_t seq;
    int64_t t_ns;
    uint32_t payload_len;
} xb_header;

void xb_header_write(const xb_header *h, uint8_t *out);
void xb_header_read(const uint8_t *in, xb_header *h);

/* Encode one whole frame (header.payload_len is taken from n) into out, which needs
 * XB_ENCODED_MAX(n) + 1 bytes; returns the bytes written including the 0x00 delimiter, or
 * 0 if n > XB_MAX_PAYLOAD. Streams the COBS encoding: no intermediate buffer. */
size_t xb_frame_encode(const xb_header *h, const uint8_t *payload, size_t n, uint8_t *out);

/* ---------------------------------------------------------------- sender */
typedef void (*xb_write_fn)(void *ctx, const uint8_t *data, size_t n);

typedef struct {
    uint32_t seq;             /* seq of the next frame */
    uint8_t version;          /* header version (the negotiated one) */
    uint32_t max_payload;     /* the peer's receive limit (256 before its HELLO) */
    xb_write_fn write;        /* called once per frame with its encoded bytes */
    void *ctx;
    uint32_t frames_sent;
    uint64_t bytes_sent;
    uint8_t out[XB_ENCODED_MAX(XB_MAX_PAYLOAD) + 1];
} xb_tx;

void xb_tx_init(xb_tx *tx, xb_write_fn write, void *ctx);
/* One frame; returns 0, or -1 if the payload exceeds max_payload. */
int xb_tx_frame(xb_tx *tx, uint8_t msg_type, uint16_t flags, int64_t t_ns,
                const uint8_t *payload, size_t n);
/* A batch message (6.4–6.7): `items` holds `count` packed wire items of `item_size`
 * bytes; `head` is the 2 (count only) or 4 (TRACKS: count, dim, modes) header bytes of
 * which the count is filled in per piece. Split as in 5.2. Returns frames sent or -1. */
int xb_tx_batch(xb_tx *tx, uint8_t msg_type, int64_t t_ns, const uint8_t *head,
                size_t head_size, const uint8_t *items, size_t count, size_t item_size);
/* A text message (META, STATS): cut in pieces of max_payload bytes. Returns frames or -1. */
int xb_tx_text(xb_tx *tx, uint8_t msg_type, int64_t t_ns, const char *text, size_t n);

/* ---------------------------------------------------------------- receiver (§4) */
typedef struct {
    uint64_t bytes, frames_ok;
    uint32_t cobs_errors, truncated, crc_errors, length_errors, oversize, version_errors,
        unknown_types, gap_events, duplicates, reordered, seq_resets;
    int64_t seq_gaps;
} xb_rx_stats;

typedef struct {
    xb_header h;
    const uint8_t *payload;   /* points into the receiver; valid until the next push */
} xb_frame;

typedef struct {
    uint32_t max_payload;     /* this side's advertised receive limit (≤ XB_RX_MAX_PAYLOAD) */
    uint8_t vmin, vmax;       /* accepted header versions */
    size_t len;
    int skipping;
    int have_last;
    uint32_t last;
    uint64_t seen, span;
    xb_rx_stats st;
    uint8_t buf[XB_ENCODED_MAX(XB_RX_MAX_PAYLOAD)];
    uint8_t raw[XB_RAW_MAX(XB_RX_MAX_PAYLOAD)];
} xb_rx;

void xb_rx_init(xb_rx *rx);
void xb_rx_reset(xb_rx *rx);        /* forget bytes and sequence tracking, keep stats */
/* Feed one received byte. Returns 1 and fills *out when a valid frame of a known type
 * completes (steps 1–10 of §4 applied, counters updated), else 0. Never fails. */
int xb_rx_push(xb_rx *rx, uint8_t byte, xb_frame *out);

/* ---------------------------------------------------------------- reassembly (§5.2) */
typedef struct {
    uint8_t msg_type;
    int64_t t_ns;
    uint32_t count;           /* batch types: total items */
    uint8_t dim, modes;       /* TRACKS */
    const uint8_t *data;      /* batch: the items back to back; other types: the payload */
    size_t len;
} xb_msg;

typedef struct {
    uint8_t *buf;             /* caller's storage for a message (e.g. 4096 or more bytes) */
    size_t cap;
    size_t len;
    int pending, orphan, bad;
    xb_header last;
    uint32_t count;
    uint8_t dim, modes;
    uint32_t messages, incomplete, bad_payloads;
} xb_asm;

void xb_asm_init(xb_asm *a, uint8_t *buf, size_t cap);
/* Push a frame from xb_rx_push. Returns 1 and fills *out when a message is complete and
 * well formed (out->data points into the assembler's buffer). A message that overflows
 * the buffer counts as bad_payloads. */
int xb_asm_push(xb_asm *a, const xb_frame *f, xb_msg *out);
void xb_asm_flush(xb_asm *a);       /* end of stream: an unfinished message is incomplete */

/* ---------------------------------------------------------------- payloads (§6) */
typedef struct {
    uint8_t min_version, max_version, role, reply;
    uint32_t max_payload, capabilities;
    uint8_t name_len;
    char name[XB_MAX_NAME];   /* not NUL-terminated on the wire */
} xb_hello;

typedef struct { int64_t echo_t_ns, hold_ns; } xb_heartbeat;
typedef struct { double range, az, el, range_rate, snr, R[10]; } xb_detection;
typedef struct { uint32_t body_id; double pos[3], vel[3], acc[3]; } xb_body;
typedef struct { double a_cmd[3]; double t_go; uint8_t saturated; } xb_command;

size_t xb_hello_write(const xb_hello *h, uint8_t *out);            /* returns 13 + name_len */
int xb_hello_read(const uint8_t *p, size_t n, xb_hello *h);        /* 0 ok, -1 malformed */
/* Negotiated version (7.2), or 0 when there is none. */
unsigned xb_negotiate(const xb_hello *mine, const xb_hello *peer);
size_t xb_heartbeat_write(const xb_heartbeat *hb, uint8_t *out);
int xb_heartbeat_read(const uint8_t *p, size_t n, xb_heartbeat *hb);
size_t xb_error_write(uint16_t code, const char *text, size_t text_len, uint8_t *out);

void xb_detection_write(const xb_detection *d, uint8_t *item);
void xb_detection_read(const uint8_t *item, xb_detection *d);
void xb_body_write(const xb_body *b, uint8_t *item);
void xb_body_read(const uint8_t *item, xb_body *b);
void xb_command_write(const xb_command *c, uint8_t *item);
void xb_command_read(const uint8_t *item, xb_command *c);
/* TRACKS item: P_upper holds dim(dim+1)/2 values, row-major upper triangle. */
void xb_track_write(int64_t id, uint8_t confirmed, const double *x, const double *P_upper,
                    const double *mode_probs, unsigned dim, unsigned modes, uint8_t *item);
void xb_track_read(const uint8_t *item, unsigned dim, unsigned modes, int64_t *id,
                   uint8_t *confirmed, double *x, double *P_upper, double *mode_probs);

#ifdef __cplusplus
}
#endif
#endif
