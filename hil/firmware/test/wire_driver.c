/* Test driver of the firmware codec on the host: reads commands on stdin, one per line,
 * and prints what the C codec makes of them, in a canonical text the Python tests
 * (tests/hil/test_firmware.py) produce from the vectors and from the Python codec.
 *
 *   D <hex|->                     decode a byte stream with a fresh receiver + assembler:
 *       F ver type flags seq t_ns payload_len payload_hex     per delivered frame
 *       M type t_ns <body>                                    per completed message
 *       S <counter>=<value> …                                 at the end (after flush)
 *   W type seq t_ns max_payload <body>                        encode one message:
 *       H <hex>                                               its wire bytes
 *   C                                                         self checks: prints "ok"
 *
 * <body> by type: HELLO min max role reply max_payload caps name_hex; HEARTBEAT echo hold;
 * ERROR code text_hex; META/STATS text_hex; DETECTIONS count {15 f64}; STATE count
 * {body_id 9 f64}; TRACKS count dim modes {id confirmed dim+dim(dim+1)/2+modes f64};
 * COMMAND count {4 f64, saturated}. f64 is "nan" or its 16 hex digits of IEEE bits;
 * an empty hex string is "-". Every line of output ends with "E" after each command.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xband_wire.h"

static char line[1 << 24];
static uint8_t bytes[1 << 23];
static uint8_t items[1 << 22];
static uint8_t asm_buf[1 << 22];
static uint8_t wire[1 << 23];
static size_t wire_len;
static xb_rx rx;

static void print_hex(const uint8_t *p, size_t n) {
    if (n == 0) { fputs("-", stdout); return; }
    for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
}
static unsigned nib(char c) {
    return (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
}
static size_t parse_hex(const char *s, uint8_t *out) {
    if (strcmp(s, "-") == 0) return 0;
    size_t n = strlen(s) / 2;
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(nib(s[2 * i]) << 4 | nib(s[2 * i + 1]));
    return n;
}
static void print_f64(double v) {
    if (isnan(v)) { fputs(" nan", stdout); return; }
    uint64_t u;
    memcpy(&u, &v, 8);
    printf(" %016llx", (unsigned long long)u);
}
static char *tok(void) { return strtok(NULL, " \t\r\n"); }
static double tok_f64(void) {
    char *t = tok();
    if (strcmp(t, "nan") == 0) return NAN;
    uint64_t u = strtoull(t, NULL, 16);
    double v;
    memcpy(&v, &u, 8);
    return v;
}
static long long tok_int(void) { return strtoll(tok(), NULL, 10); }

static void print_body(const xb_msg *m) {
    const uint8_t *p = m->data;
    switch (m->msg_type) {
    case XB_HELLO: {
        xb_hello h;
        xb_hello_read(p, m->len, &h);
        printf(" %u %u %u %u %lu %lu ", h.min_version, h.max_version, h.role, h.reply ? 1u : 0u,
               (unsigned long)h.max_payload, (unsigned long)h.capabilities);
        print_hex(p + 13, h.name_len);
        break;
    }
    case XB_HEARTBEAT: {
        xb_heartbeat hb;
        xb_heartbeat_read(p, m->len, &hb);
        printf(" %lld %lld", (long long)hb.echo_t_ns, (long long)hb.hold_ns);
        break;
    }
    case XB_ERROR:
        printf(" %u ", xb_get_u16(p));
        print_hex(p + 2, m->len - 2);
        break;
    case XB_META: case XB_STATS:
        fputs(" ", stdout);
        print_hex(p, m->len);
        break;
    case XB_DETECTIONS:
        printf(" %lu", (unsigned long)m->count);
        for (uint32_t i = 0; i < m->count; i++) {
            xb_detection d;
            xb_detection_read(p + i * XB_DET_SIZE, &d);
            print_f64(d.range); print_f64(d.az); print_f64(d.el); print_f64(d.range_rate);
            print_f64(d.snr);
            for (int k = 0; k < 10; k++) print_f64(d.R[k]);
        }
        break;
    case XB_STATE:
        printf(" %lu", (unsigned long)m->count);
        for (uint32_t i = 0; i < m->count; i++) {
            xb_body b;
            xb_body_read(p + i * XB_BODY_SIZE, &b);
            printf(" %lu", (unsigned long)b.body_id);
            for (int k = 0; k < 3; k++) print_f64(b.pos[k]);
            for (int k = 0; k < 3; k++) print_f64(b.vel[k]);
            for (int k = 0; k < 3; k++) print_f64(b.acc[k]);
        }
        break;
    case XB_TRACKS: {
        unsigned dim = m->dim, modes = m->modes, np = dim * (dim + 1) / 2;
        double x[255], P[255 * 128], w[255];
        printf(" %lu %u %u", (unsigned long)m->count, dim, modes);
        for (uint32_t i = 0; i < m->count; i++) {
            int64_t id;
            uint8_t conf;
            xb_track_read(p + i * XB_TRACK_SIZE(dim, modes), dim, modes, &id, &conf, x, P, w);
            printf(" %lld %u", (long long)id, conf);
            for (unsigned k = 0; k < dim; k++) print_f64(x[k]);
            for (unsigned k = 0; k < np; k++) print_f64(P[k]);
            for (unsigned k = 0; k < modes; k++) print_f64(w[k]);
        }
        break;
    }
    case XB_COMMAND:
        printf(" %lu", (unsigned long)m->count);
        for (uint32_t i = 0; i < m->count; i++) {
            xb_command c;
            xb_command_read(p + i * XB_CMD_SIZE, &c);
            for (int k = 0; k < 3; k++) print_f64(c.a_cmd[k]);
            print_f64(c.t_go);
            printf(" %u", c.saturated);
        }
        break;
    default: break;
    }
}

static void cmd_decode(const char *hex) {
    size_t n = parse_hex(hex, bytes);
    xb_asm as;
    xb_frame f;
    xb_msg m;
    xb_rx_init(&rx);
    xb_asm_init(&as, asm_buf, sizeof asm_buf);
    for (size_t i = 0; i < n; i++) {
        if (!xb_rx_push(&rx, bytes[i], &f)) continue;
        printf("F %u %u %u %lu %lld %lu ", f.h.version, f.h.msg_type, f.h.flags,
               (unsigned long)f.h.seq, (long long)f.h.t_ns, (unsigned long)f.h.payload_len);
        print_hex(f.payload, f.h.payload_len);
        fputs("\n", stdout);
        if (xb_asm_push(&as, &f, &m)) {
            printf("M %u %lld", m.msg_type, (long long)m.t_ns);
            print_body(&m);
            fputs("\n", stdout);
        }
    }
    xb_asm_flush(&as);
    xb_rx_stats *s = &rx.st;
    printf("S cobs_errors=%lu truncated=%lu crc_errors=%lu length_errors=%lu oversize=%lu "
           "version_errors=%lu unknown_types=%lu seq_gaps=%lld gap_events=%lu duplicates=%lu "
           "reordered=%lu seq_resets=%lu frames_ok=%llu messages=%lu incomplete_messages=%lu "
           "pending_bytes=%lu\n",
           (unsigned long)s->cobs_errors, (unsigned long)s->truncated, (unsigned long)s->crc_errors,
           (unsigned long)s->length_errors, (unsigned long)s->oversize,
           (unsigned long)s->version_errors, (unsigned long)s->unknown_types,
           (long long)s->seq_gaps, (unsigned long)s->gap_events, (unsigned long)s->duplicates,
           (unsigned long)s->reordered, (unsigned long)s->seq_resets,
           (unsigned long long)s->frames_ok, (unsigned long)as.messages,
           (unsigned long)as.incomplete, (unsigned long)(rx.skipping ? 1 : rx.len));
}

static void collect(void *ctx, const uint8_t *data, size_t n) {
    (void)ctx;
    memcpy(wire + wire_len, data, n);
    wire_len += n;
}

static void cmd_encode(void) {
    xb_tx tx;
    uint8_t head[4] = {0, 0, 0, 0};
    unsigned type = (unsigned)tok_int();
    xb_tx_init(&tx, collect, NULL);
    tx.seq = (uint32_t)strtoul(tok(), NULL, 10);
    int64_t t_ns = (int64_t)tok_int();
    tx.max_payload = (uint32_t)tok_int();
    wire_len = 0;
    int rc = 0;
    if (type == XB_HELLO) {
        xb_hello h;
        memset(&h, 0, sizeof h);
        h.min_version = (uint8_t)tok_int(); h.max_version = (uint8_t)tok_int();
        h.role = (uint8_t)tok_int(); h.reply = (uint8_t)tok_int();
        h.max_payload = (uint32_t)tok_int(); h.capabilities = (uint32_t)tok_int();
        h.name_len = (uint8_t)parse_hex(tok(), (uint8_t *)h.name);
        rc = xb_tx_frame(&tx, XB_HELLO, 0, t_ns, items, xb_hello_write(&h, items));
    } else if (type == XB_HEARTBEAT) {
        xb_heartbeat hb;
        hb.echo_t_ns = (int64_t)tok_int();
        hb.hold_ns = (int64_t)tok_int();
        rc = xb_tx_frame(&tx, XB_HEARTBEAT, 0, t_ns, items, xb_heartbeat_write(&hb, items));
    } else if (type == XB_ERROR) {
        uint16_t code = (uint16_t)tok_int();
        size_t n = parse_hex(tok(), bytes);
        rc = xb_tx_frame(&tx, XB_ERROR, 0, t_ns, items, xb_error_write(code, (char *)bytes, n, items));
    } else if (type == XB_META || type == XB_STATS) {
        size_t n = parse_hex(tok(), bytes);
        rc = xb_tx_text(&tx, (uint8_t)type, t_ns, (const char *)bytes, n);
    } else if (type == XB_DETECTIONS) {
        size_t count = (size_t)tok_int();
        for (size_t i = 0; i < count; i++) {
            xb_detection d;
            d.range = tok_f64(); d.az = tok_f64(); d.el = tok_f64(); d.range_rate = tok_f64();
            d.snr = tok_f64();
            for (int k = 0; k < 10; k++) d.R[k] = tok_f64();
            xb_detection_write(&d, items + i * XB_DET_SIZE);
        }
        rc = xb_tx_batch(&tx, XB_DETECTIONS, t_ns, head, 2, items, count, XB_DET_SIZE);
    } else if (type == XB_STATE) {
        size_t count = (size_t)tok_int();
        for (size_t i = 0; i < count; i++) {
            xb_body b;
            b.body_id = (uint32_t)tok_int();
            for (int k = 0; k < 3; k++) b.pos[k] = tok_f64();
            for (int k = 0; k < 3; k++) b.vel[k] = tok_f64();
            for (int k = 0; k < 3; k++) b.acc[k] = tok_f64();
            xb_body_write(&b, items + i * XB_BODY_SIZE);
        }
        rc = xb_tx_batch(&tx, XB_STATE, t_ns, head, 2, items, count, XB_BODY_SIZE);
    } else if (type == XB_TRACKS) {
        size_t count = (size_t)tok_int();
        unsigned dim = (unsigned)tok_int(), modes = (unsigned)tok_int(), np = dim * (dim + 1) / 2;
        double x[255], P[255 * 128], w[255];
        head[2] = (uint8_t)dim;
        head[3] = (uint8_t)modes;
        for (size_t i = 0; i < count; i++) {
            int64_t id = (int64_t)tok_int();
            uint8_t conf = (uint8_t)tok_int();
            for (unsigned k = 0; k < dim; k++) x[k] = tok_f64();
            for (unsigned k = 0; k < np; k++) P[k] = tok_f64();
            for (unsigned k = 0; k < modes; k++) w[k] = tok_f64();
            xb_track_write(id, conf, x, P, w, dim, modes, items + i * XB_TRACK_SIZE(dim, modes));
        }
        rc = xb_tx_batch(&tx, XB_TRACKS, t_ns, head, 4, items, count, XB_TRACK_SIZE(dim, modes));
    } else if (type == XB_COMMAND) {
        size_t count = (size_t)tok_int();
        for (size_t i = 0; i < count; i++) {
            xb_command c;
            for (int k = 0; k < 3; k++) c.a_cmd[k] = tok_f64();
            c.t_go = tok_f64();
            c.saturated = (uint8_t)tok_int();
            xb_command_write(&c, items + i * XB_CMD_SIZE);
        }
        rc = xb_tx_batch(&tx, XB_COMMAND, t_ns, head, 2, items, count, XB_CMD_SIZE);
    }
    if (rc < 0) { puts("X encode failed"); return; }
    fputs("H ", stdout);
    print_hex(wire, wire_len);
    fputs("\n", stdout);
}

static int self_checks(void) {
    static const uint8_t chk[] = "123456789";
    if (xb_crc32(chk, 9) != 0xCBF43926u) return 1;
    /* paper form: a trailing 0x01 block after a final full block decodes to nothing */
    uint8_t src[254], enc[300], dec[300];
    for (int i = 0; i < 254; i++) src[i] = (uint8_t)(i + 1);
    size_t n = xb_cobs_encode(src, 254, enc);
    if (n != 255 || enc[0] != 0xFF) return 2;
    enc[n] = 0x01;
    if (xb_cobs_decode(enc, n + 1, dec) != 254 || memcmp(dec, src, 254)) return 3;
    if (xb_cobs_decode(enc, 0, dec) != -1) return 4;
    return 0;
}

int main(void) {
    while (fgets(line, sizeof line, stdin)) {
        char *cmd = strtok(line, " \t\r\n");
        if (!cmd) continue;
        if (strcmp(cmd, "D") == 0) {
            char *h = tok();
            cmd_decode(h ? h : "-");
        } else if (strcmp(cmd, "W") == 0) {
            cmd_encode();
        } else if (strcmp(cmd, "C") == 0) {
            int rc = self_checks();
            if (rc) printf("fail %d\n", rc); else puts("ok");
        }
        puts("E");
        fflush(stdout);
    }
    return 0;
}
