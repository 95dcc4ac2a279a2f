/* xband wire protocol v1 — portable C99 codec. See xband_wire.h and hil/PROTOCOL.md. */
#include "xband_wire.h"

#include <string.h>

int xb_is_known_type(unsigned t) {
    return (t >= XB_HELLO && t <= XB_STATS) || (t >= XB_DETECTIONS && t <= XB_COMMAND);
}
int xb_is_batch_type(unsigned t) { return t >= XB_DETECTIONS && t <= XB_COMMAND; }
int xb_is_text_type(unsigned t) { return t == XB_META || t == XB_STATS; }

/* ---------------------------------------------------------------- little-endian fields */
uint16_t xb_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
uint32_t xb_get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)xb_get_u32(p) | ((uint64_t)xb_get_u32(p + 4) << 32);
}
int64_t xb_get_i64(const uint8_t *p) {
    uint64_t u = get_u64(p);
    int64_t v;
    memcpy(&v, &u, 8); /* two's complement on every target we support */
    return v;
}
double xb_get_f64(const uint8_t *p) {
    uint64_t u = get_u64(p);
    double d;
    memcpy(&d, &u, 8); /* IEEE 754 binary64 with the integer byte order (all common MCUs) */
    return d;
}
void xb_put_u16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
void xb_put_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static void put_u64(uint8_t *p, uint64_t v) { xb_put_u32(p, (uint32_t)v); xb_put_u32(p + 4, (uint32_t)(v >> 32)); }
void xb_put_i64(uint8_t *p, int64_t v) { uint64_t u; memcpy(&u, &v, 8); put_u64(p, u); }
void xb_put_f64(uint8_t *p, double v) { uint64_t u; memcpy(&u, &v, 8); put_u64(p, u); }

/* ---------------------------------------------------------------- CRC-32 (2.1) */
static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        crc_table[i] = c;
    }
    crc_ready = 1;
}

uint32_t xb_crc32_update(uint32_t crc, const uint8_t *p, size_t n) {
    if (!crc_ready) crc_init();
    uint32_t c = crc ^ 0xFFFFFFFFu;
    while (n--) c = crc_table[(c ^ *p++) & 0xFFu] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}
uint32_t xb_crc32(const uint8_t *p, size_t n) { return xb_crc32_update(0, p, n); }

/* ---------------------------------------------------------------- COBS (2.2) */
typedef struct { uint8_t *dst; size_t code_at, o; uint8_t code; int just_full; } cobs_enc;

static void cobs_begin(cobs_enc *e, uint8_t *dst) {
    e->dst = dst; e->code_at = 0; e->o = 1; e->code = 1; e->just_full = 0;
}
static void cobs_put(cobs_enc *e, uint8_t b) {
    e->just_full = 0;
    if (b == 0) {                         /* close the block: code = its bytes + 1 */
        e->dst[e->code_at] = e->code;
        e->code_at = e->o++;
        e->code = 1;
        return;
    }
    e->dst[e->o++] = b;
    if (++e->code == 0xFF) {              /* a full block of 254 bytes, no implied zero */
        e->dst[e->code_at] = 0xFF;
        e->code_at = e->o++;
        e->code = 1;
        e->just_full = 1;
    }
}
static size_t cobs_end(cobs_enc *e) {
    if (e->just_full) return e->o - 1;   /* data ended on a full block: no 0x01 after it */
    e->dst[e->code_at] = e->code;
    return e->o;
}

size_t xb_cobs_encode(const uint8_t *src, size_t n, uint8_t *dst) {
    cobs_enc e;
    cobs_begin(&e, dst);
    for (size_t i = 0; i < n; i++) cobs_put(&e, src[i]);
    return cobs_end(&e);
}

long xb_cobs_decode(const uint8_t *src, size_t n, uint8_t *dst) {
    size_t i = 0, o = 0;
    if (n == 0) return -1;
    while (i < n) {
        uint8_t code = src[i];
        if (code == 0) return -1 - (long)i;
        size_t end = i + code;
        if (end > n) return -1 - (long)i;
        for (size_t j = i + 1; j < end; j++) {
            if (src[j] == 0) return -1 - (long)j;
            dst[o++] = src[j];
        }
        if (code != 0xFF && end < n) dst[o++] = 0;
        i = end;
    }
    return (long)o;
}

/* ---------------------------------------------------------------- header, frame (3) */
void xb_header_write(const xb_header *h, uint8_t *out) {
    out[0] = h->version;
    out[1] = h->msg_type;
    xb_put_u16(out + 2, h->flags);
    xb_put_u32(out + 4, h->seq);
    xb_put_i64(out + 8, h->t_ns);
    xb_put_u32(out + 16, h->payload_len);
}
void xb_header_read(const uint8_t *in, xb_header *h) {
    h->version = in[0];
    h->msg_type = in[1];
    h->flags = xb_get_u16(in + 2);
    h->seq = xb_get_u32(in + 4);
    h->t_ns = xb_get_i64(in + 8);
    h->payload_len = xb_get_u32(in + 16);
}

size_t xb_frame_encode(const xb_header *h0, const uint8_t *payload, size_t n, uint8_t *out) {
    if (n > XB_MAX_PAYLOAD) return 0;
    xb_header h = *h0;
    uint8_t head[XB_HEADER_SIZE], crcb[4];
    h.payload_len = (uint32_t)n;
    xb_header_write(&h, head);
    uint32_t crc = xb_crc32_update(xb_crc32_update(0, head, sizeof head), payload, n);
    xb_put_u32(crcb, crc);
    cobs_enc e;
    cobs_begin(&e, out);
    for (size_t i = 0; i < sizeof head; i++) cobs_put(&e, head[i]);
    for (size_t i = 0; i < n; i++) cobs_put(&e, payload[i]);
    for (size_t i = 0; i < 4; i++) cobs_put(&e, crcb[i]);
    size_t m = cobs_end(&e);
    out[m] = 0;
    return m + 1;
}

/* ---------------------------------------------------------------- sender */
void xb_tx_init(xb_tx *tx, xb_write_fn write, void *ctx) {
    tx->seq = 0;
    tx->version = XB_PROTOCOL_VERSION;
    tx->max_payload = XB_MIN_PAYLOAD;
    tx->write = write;
    tx->ctx = ctx;
    tx->frames_sent = 0;
    tx->bytes_sent = 0;
}

int xb_tx_frame(xb_tx *tx, uint8_t msg_type, uint16_t flags, int64_t t_ns,
                const uint8_t *payload, size_t n) {
    if (n > tx->max_payload || n > XB_MAX_PAYLOAD) return -1;
    xb_header h = {tx->version, msg_type, flags, tx->seq, t_ns, (uint32_t)n};
    size_t m = xb_frame_encode(&h, payload, n, tx->out);
    tx->seq++;
    tx->frames_sent++;
    tx->bytes_sent += m;
    if (tx->write) tx->write(tx->ctx, tx->out, m);
    return 0;
}

int xb_tx_batch(xb_tx *tx, uint8_t msg_type, int64_t t_ns, const uint8_t *head,
                size_t head_size, const uint8_t *items, size_t count, size_t item_size) {
    static uint8_t piece[XB_MAX_PAYLOAD];  /* one sender per program: static, not stack */
    size_t limit = tx->max_payload < XB_MAX_PAYLOAD ? tx->max_payload : XB_MAX_PAYLOAD;
    if (head_size > limit || item_size == 0) return -1;
    size_t per = (limit - head_size) / item_size;
    if (per > 0xFFFF) per = 0xFFFF;
    if (count > 0 && per == 0) return -1;
    size_t k = 0;
    int frames = 0;
    do {
        size_t c = count - k < per ? count - k : per;
        memcpy(piece, head, head_size);
        xb_put_u16(piece, (uint16_t)c);
        if (c) memcpy(piece + head_size, items + k * item_size, c * item_size);
        uint16_t flags = (uint16_t)((k + c < count ? XB_FLAG_MORE : 0) | (k > 0 ? XB_FLAG_CONT : 0));
        if (xb_tx_frame(tx, msg_type, flags, t_ns, piece, head_size + c * item_size)) return -1;
        frames++;
        k += c;
    } while (k < count);
    return frames;
}

int xb_tx_text(xb_tx *tx, uint8_t msg_type, int64_t t_ns, const char *text, size_t n) {
    size_t limit = tx->max_payload < XB_MAX_PAYLOAD ? tx->max_payload : XB_MAX_PAYLOAD;
    size_t k = 0;
    int frames = 0;
    do {
        size_t c = n - k < limit ? n - k : limit;
        uint16_t flags = (uint16_t)((k + c < n ? XB_FLAG_MORE : 0) | (k > 0 ? XB_FLAG_CONT : 0));
        if (xb_tx_frame(tx, msg_type, flags, t_ns, (const uint8_t *)text + k, c)) return -1;
        frames++;
        k += c;
    } while (k < n);
    return frames;
}

/* ---------------------------------------------------------------- receiver (§4) */
void xb_rx_init(xb_rx *rx) {
    memset(&rx->st, 0, sizeof rx->st);
    rx->max_payload = XB_RX_MAX_PAYLOAD;
    rx->vmin = rx->vmax = XB_PROTOCOL_VERSION;
    xb_rx_reset(rx);
}

void xb_rx_reset(xb_rx *rx) {
    rx->len = 0;
    rx->skipping = 0;
    rx->have_last = 0;
    rx->last = 0;
    rx->seen = 1;
    rx->span = 0;
}

/* Step 9: sequence tracking. Returns 0 for a duplicate (to be dropped). */
static int track_seq(xb_rx *rx, uint32_t seq, int hello) {
    xb_rx_stats *st = &rx->st;
    if (!rx->have_last || hello) {
        rx->have_last = 1;
        rx->last = seq;
        rx->seen = 1;
        rx->span = 0;
        return 1;
    }
    uint32_t ahead = seq - rx->last, behind = rx->last - seq;
    if (behind < 64) {
        uint64_t bit = (uint64_t)1 << behind;
        if (rx->seen & bit) { st->duplicates++; return 0; }
        rx->seen |= bit;
        st->reordered++;
        if (behind <= rx->span) st->seq_gaps--;
        return 1;
    }
    if (ahead < 0x80000000u) {
        if (ahead > 1) { st->seq_gaps += ahead - 1; st->gap_events++; }
        rx->seen = ahead >= 64 ? 1 : ((rx->seen << ahead) | 1);
        rx->span += ahead;
        if (rx->span > 0xFFFFFFFFu) rx->span = 0xFFFFFFFFu;
    } else {
        st->seq_resets++;
        rx->seen = 1;
        rx->span = 0;
    }
    rx->last = seq;
    return 1;
}

static int check_chunk(xb_rx *rx, xb_frame *out) {
    xb_rx_stats *st = &rx->st;
    long n = xb_cobs_decode(rx->buf, rx->len, rx->raw);                  /* step 3 */
    if (n < 0) { st->cobs_errors++; return 0; }
    if ((size_t)n < XB_HEADER_SIZE + XB_CRC_SIZE) { st->truncated++; return 0; }  /* 4 */
    if (xb_crc32(rx->raw, (size_t)n - 4) != xb_get_u32(rx->raw + n - 4)) {       /* 5 */
        st->crc_errors++;
        return 0;
    }
    xb_header h;
    xb_header_read(rx->raw, &h);
    if (h.payload_len != (uint32_t)n - XB_HEADER_SIZE - XB_CRC_SIZE) {            /* 6 */
        st->length_errors++;
        return 0;
    }
    if (h.payload_len > rx->max_payload) { st->oversize++; return 0; }            /* 7 */
    int any_version = h.msg_type == XB_HELLO || h.msg_type == XB_ERROR;
    if (!any_version && (h.version < rx->vmin || h.version > rx->vmax)) {         /* 8 */
        st->version_errors++;
        return 0;
    }
    if (!track_seq(rx, h.seq, h.msg_type == XB_HELLO)) return 0;                 /* 9 */
    if (!xb_is_known_type(h.msg_type)) { st->unknown_types++; return 0; }        /* 10 */
    out->h = h;
    out->payload = rx->raw + XB_HEADER_SIZE;
    st->frames_ok++;
    return 1;
}

int xb_rx_push(xb_rx *rx, uint8_t byte, xb_frame *out) {
    size_t max_enc = XB_ENCODED_MAX(rx->max_payload);
    rx->st.bytes++;
    if (byte != 0) {
        if (rx->skipping) return 0;
        if (rx->len >= max_enc) {            /* step 2: no delimiter within the largest frame */
            rx->st.oversize++;
            rx->skipping = 1;
            rx->len = 0;
            return 0;
        }
        rx->buf[rx->len++] = byte;
        return 0;
    }
    int skipping = rx->skipping;
    size_t len = rx->len;
    rx->skipping = 0;
    if (skipping || len == 0) { rx->len = 0; return 0; }   /* step 1 / tail of an oversize */
    int got = check_chunk(rx, out);
    rx->len = 0;
    return got;
}

/* ---------------------------------------------------------------- reassembly (§5.2) */
void xb_asm_init(xb_asm *a, uint8_t *buf, size_t cap) {
    memset(a, 0, sizeof *a);
    a->buf = buf;
    a->cap = cap;
}

void xb_asm_flush(xb_asm *a) {
    if (a->pending) a->incomplete++;
    a->pending = 0;
}

static size_t item_size_of(unsigned type, unsigned dim, unsigned modes) {
    switch (type) {
    case XB_DETECTIONS: return XB_DET_SIZE;
    case XB_STATE: return XB_BODY_SIZE;
    case XB_COMMAND: return XB_CMD_SIZE;
    default: return XB_TRACK_SIZE(dim, modes);
    }
}

/* Append one frame's payload to the pending message; sets a->bad on a malformed piece. */
static void asm_add(xb_asm *a, const xb_frame *f, int first) {
    const uint8_t *p = f->payload;
    size_t n = f->h.payload_len;
    unsigned t = f->h.msg_type;
    if (xb_is_batch_type(t)) {
        size_t hs = t == XB_TRACKS ? 4 : 2;
        if (n < hs) { a->bad = 1; return; }
        unsigned c = xb_get_u16(p);
        unsigned dim = t == XB_TRACKS ? p[2] : 0, modes = t == XB_TRACKS ? p[3] : 0;
        if (first) { a->dim = (uint8_t)dim; a->modes = (uint8_t)modes; }
        else if (dim != a->dim || modes != a->modes) { a->bad = 1; return; }
        size_t isz = item_size_of(t, dim, modes);
        if (n != hs + (size_t)c * isz) { a->bad = 1; return; }
        if (a->len + n - hs > a->cap) { a->bad = 1; return; }
        memcpy(a->buf + a->len, p + hs, n - hs);
        a->len += n - hs;
        a->count += c;
    } else {
        if (a->len + n > a->cap) { a->bad = 1; return; }
        memcpy(a->buf + a->len, p, n);
        a->len += n;
    }
}

static int single_ok(unsigned t, const uint8_t *p, size_t n) {
    if (t == XB_HELLO) { xb_hello h; return xb_hello_read(p, n, &h) == 0; }
    if (t == XB_HEARTBEAT) return n >= XB_HEARTBEAT_SIZE;
    if (t == XB_ERROR) return n >= 2;
    return 1;
}

int xb_asm_push(xb_asm *a, const xb_frame *f, xb_msg *out) {
    int frames_in_msg;
    if (f->h.flags & XB_FLAG_CONT) {
        if (!(a->pending && f->h.msg_type == a->last.msg_type && f->h.t_ns == a->last.t_ns
              && f->h.seq == (uint32_t)(a->last.seq + 1u))) {
            if (a->pending || !a->orphan) a->incomplete++;
            a->pending = 0;
            a->orphan = 1;
            return 0;
        }
        asm_add(a, f, 0);
        a->pending++;
    } else {
        xb_asm_flush(a);
        a->orphan = 0;
        a->len = 0;
        a->count = 0;
        a->bad = 0;
        a->pending = 1;
        asm_add(a, f, 1);
    }
    a->last = f->h;
    if (f->h.flags & XB_FLAG_MORE) return 0;
    frames_in_msg = a->pending;
    a->pending = 0;
    unsigned t = f->h.msg_type;
    if (a->bad || (!xb_is_batch_type(t) && !xb_is_text_type(t)
                   && (frames_in_msg != 1 || !single_ok(t, a->buf, a->len)))) {
        a->bad_payloads++;
        return 0;
    }
    out->msg_type = (uint8_t)t;
    out->t_ns = f->h.t_ns;
    out->count = a->count;
    out->dim = a->dim;
    out->modes = a->modes;
    out->data = a->buf;
    out->len = a->len;
    a->messages++;
    return 1;
}

/* ---------------------------------------------------------------- payloads (§6) */
size_t xb_hello_write(const xb_hello *h, uint8_t *out) {
    unsigned nl = h->name_len > XB_MAX_NAME ? XB_MAX_NAME : h->name_len;
    out[0] = h->min_version;
    out[1] = h->max_version;
    out[2] = h->role;
    out[3] = h->reply;
    xb_put_u32(out + 4, h->max_payload);
    xb_put_u32(out + 8, h->capabilities);
    out[12] = (uint8_t)nl;
    memcpy(out + 13, h->name, nl);
    return 13 + nl;
}

int xb_hello_read(const uint8_t *p, size_t n, xb_hello *h) {
    if (n < XB_HELLO_MIN_SIZE) return -1;
    h->min_version = p[0];
    h->max_version = p[1];
    h->role = p[2];
    h->reply = p[3];
    h->max_payload = xb_get_u32(p + 4);
    h->capabilities = xb_get_u32(p + 8);
    h->name_len = p[12];
    if (n < 13u + h->name_len) return -1;
    size_t keep = h->name_len > XB_MAX_NAME ? XB_MAX_NAME : h->name_len;
    memcpy(h->name, p + 13, keep);
    return 0;
}

unsigned xb_negotiate(const xb_hello *mine, const xb_hello *peer) {
    unsigned v = mine->max_version < peer->max_version ? mine->max_version : peer->max_version;
    unsigned lo = mine->min_version > peer->min_version ? mine->min_version : peer->min_version;
    return v >= lo ? v : 0;
}

size_t xb_heartbeat_write(const xb_heartbeat *hb, uint8_t *out) {
    xb_put_i64(out, hb->echo_t_ns);
    xb_put_i64(out + 8, hb->hold_ns);
    return XB_HEARTBEAT_SIZE;
}
int xb_heartbeat_read(const uint8_t *p, size_t n, xb_heartbeat *hb) {
    if (n < XB_HEARTBEAT_SIZE) return -1;
    hb->echo_t_ns = xb_get_i64(p);
    hb->hold_ns = xb_get_i64(p + 8);
    return 0;
}
size_t xb_error_write(uint16_t code, const char *text, size_t n, uint8_t *out) {
    xb_put_u16(out, code);
    memcpy(out + 2, text, n);
    return 2 + n;
}

static void put_f64s(uint8_t *p, const double *v, unsigned n) {
    for (unsigned i = 0; i < n; i++) xb_put_f64(p + 8 * i, v[i]);
}
static void get_f64s(const uint8_t *p, double *v, unsigned n) {
    for (unsigned i = 0; i < n; i++) v[i] = xb_get_f64(p + 8 * i);
}

void xb_detection_write(const xb_detection *d, uint8_t *it) {
    xb_put_f64(it, d->range);
    xb_put_f64(it + 8, d->az);
    xb_put_f64(it + 16, d->el);
    xb_put_f64(it + 24, d->range_rate);
    xb_put_f64(it + 32, d->snr);
    put_f64s(it + 40, d->R, 10);
}
void xb_detection_read(const uint8_t *it, xb_detection *d) {
    d->range = xb_get_f64(it);
    d->az = xb_get_f64(it + 8);
    d->el = xb_get_f64(it + 16);
    d->range_rate = xb_get_f64(it + 24);
    d->snr = xb_get_f64(it + 32);
    get_f64s(it + 40, d->R, 10);
}
void xb_body_write(const xb_body *b, uint8_t *it) {
    xb_put_u32(it, b->body_id);
    put_f64s(it + 4, b->pos, 3);
    put_f64s(it + 28, b->vel, 3);
    put_f64s(it + 52, b->acc, 3);
}
void xb_body_read(const uint8_t *it, xb_body *b) {
    b->body_id = xb_get_u32(it);
    get_f64s(it + 4, b->pos, 3);
    get_f64s(it + 28, b->vel, 3);
    get_f64s(it + 52, b->acc, 3);
}
void xb_command_write(const xb_command *c, uint8_t *it) {
    put_f64s(it, c->a_cmd, 3);
    xb_put_f64(it + 24, c->t_go);
    it[32] = c->saturated ? 1 : 0;
}
void xb_command_read(const uint8_t *it, xb_command *c) {
    get_f64s(it, c->a_cmd, 3);
    c->t_go = xb_get_f64(it + 24);
    c->saturated = it[32] ? 1 : 0;
}
void xb_track_write(int64_t id, uint8_t confirmed, const double *x, const double *P,
                    const double *w, unsigned dim, unsigned modes, uint8_t *it) {
    unsigned np = dim * (dim + 1) / 2;
    xb_put_i64(it, id);
    it[8] = confirmed ? 1 : 0;
    put_f64s(it + 9, x, dim);
    put_f64s(it + 9 + 8 * dim, P, np);
    put_f64s(it + 9 + 8 * (dim + np), w, modes);
}
void xb_track_read(const uint8_t *it, unsigned dim, unsigned modes, int64_t *id,
                   uint8_t *confirmed, double *x, double *P, double *w) {
    unsigned np = dim * (dim + 1) / 2;
    *id = xb_get_i64(it);
    *confirmed = it[8] ? 1 : 0;
    get_f64s(it + 9, x, dim);
    get_f64s(it + 9 + 8 * dim, P, np);
    get_f64s(it + 9 + 8 * (dim + np), w, modes);
}
