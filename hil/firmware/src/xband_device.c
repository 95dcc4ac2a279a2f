/* SENSOR-role device: see xband_device.h. */
#include "xband_device.h"

#include <stdio.h>
#include <string.h>

const xb_scenario XB_DEFAULT_SCENARIO = {
    /* interceptor at the radar, 600 m/s towards the target's collision course */
    {0.0, 0.0, 0.0, 180.0, 560.0, 130.0, 0.0, 0.0, 0.0},
    {6000.0, 9000.0, 3000.0, -120.0, -230.0, 0.0, 0.0, 0.0, 0.0},
    0.2, 1000.0, 20.0, 30.0,
    {25.0, 1e-6, 1e-6, 1.0},
};

#define HELLO_PERIOD_NS 500000000LL
#define HB_PERIOD_NS 100000000LL
#define TIMEOUT_NS 1000000000LL

static void send_hello(xb_device *d, int reply, int64_t now) {
    uint8_t p[XB_HELLO_MIN_SIZE + XB_MAX_NAME];
    xb_hello h = d->mine;
    h.reply = (uint8_t)reply;
    size_t n = xb_hello_write(&h, p);
    uint8_t v = d->tx.version;
    d->tx.version = XB_PROTOCOL_VERSION;   /* HELLO frames carry version 1 (7.2) */
    xb_tx_frame(&d->tx, XB_HELLO, 0, now, p, n);
    d->tx.version = v;
    d->last_hello_ns = now;
}

static void send_error(xb_device *d, uint16_t code, const char *text, int64_t t) {
    uint8_t p[128];
    size_t n = strlen(text);
    if (n > sizeof p - 2) n = sizeof p - 2;
    xb_tx_frame(&d->tx, XB_ERROR, 0, t, p, xb_error_write(code, text, n, p));
}

void xb_device_init(xb_device *d, const xb_scenario *sc, xb_write_fn write, void *ctx,
                    const char *name) {
    memset(d, 0, sizeof *d);
    xb_tx_init(&d->tx, write, ctx);
    xb_rx_init(&d->rx);
    xb_asm_init(&d->as, d->asm_buf, sizeof d->asm_buf);
    d->sc = *sc;
    d->mine.min_version = d->mine.max_version = XB_PROTOCOL_VERSION;
    d->mine.role = XB_ROLE_SENSOR;
    d->mine.max_payload = sizeof d->asm_buf;
    d->mine.capabilities = XB_CAP_TX_DETECTIONS | XB_CAP_TX_STATE | XB_CAP_RX_COMMAND | XB_CAP_TX_STATS;
    d->mine.name_len = (uint8_t)strlen(name);
    if (d->mine.name_len > XB_MAX_NAME) d->mine.name_len = XB_MAX_NAME;
    memcpy(d->mine.name, name, d->mine.name_len);
    d->rx.max_payload = sizeof d->asm_buf;
    d->last_hello_ns = INT64_MIN / 2;
    d->peer_hb_t_ns = -1;
    d->awaiting_t_ns = -1;
    d->speed = 1.0;
    d->state = XB_DEV_WAIT_HELLO;
    xb_plant_init(&d->plant, sc->m0, sc->tg0, sc->tau);
    d->step_r = (long)(sc->plant_hz / sc->radar_hz + 0.5);
}

static void on_message(xb_device *d, const xb_msg *m, int64_t now) {
    if (m->msg_type == XB_HELLO) {
        xb_hello h;
        xb_hello_read(m->data, m->len, &h);
        unsigned v = xb_negotiate(&d->mine, &h);
        if (!v) { send_error(d, XB_E_VERSION_MISMATCH, "no common version", now); return; }
        if (h.role != XB_ROLE_HOST) { send_error(d, XB_E_BAD_ROLE, "a sensor needs a host", now); return; }
        d->peer = h;
        d->tx.max_payload = h.max_payload < XB_MAX_PAYLOAD ? h.max_payload : XB_MAX_PAYLOAD;
        if (!h.reply) {                   /* the peer (re)starts: forget session state */
            d->peer_hb_t_ns = -1;
            send_hello(d, 1, now);
        }
        d->tx.version = (uint8_t)v;
        if (!d->session) d->sessions++;
        d->session = 1;
        if (d->state == XB_DEV_WAIT_HELLO) {
            d->state = XB_DEV_RUNNING;
            d->run_start_ns = now;
        }
    } else if (m->msg_type == XB_HEARTBEAT) {
        xb_heartbeat hb;
        xb_heartbeat_read(m->data, m->len, &hb);
        d->peer_hb_t_ns = m->t_ns;
        d->peer_hb_rx_ns = now;
    } else if (m->msg_type == XB_COMMAND && m->count > 0) {
        xb_command c;
        xb_command_read(m->data, &c);     /* one interceptor: the first item */
        memcpy(d->plant.a_cmd, c.a_cmd, sizeof c.a_cmd);
        d->commands++;
        if (m->t_ns != d->awaiting_t_ns) d->late_commands++;
        d->awaiting_t_ns = -1;
    } else if (m->msg_type == XB_ERROR) {
        d->session = 0;                   /* CLOSE or fatal: wait for a new HELLO */
    }
}

void xb_device_rx(xb_device *d, const uint8_t *data, size_t n, int64_t now) {
    xb_frame f;
    xb_msg m;
    for (size_t i = 0; i < n; i++) {
        if (!xb_rx_push(&d->rx, data[i], &f)) continue;
        d->last_rx_ns = now;
        if (xb_asm_push(&d->as, &f, &m)) on_message(d, &m, now);
    }
}

static void send_scan(xb_device *d, int64_t t_ns) {
    xb_detection det;
    xb_body b[2];
    uint8_t items[2 * XB_BODY_SIZE], head[2] = {0, 0};
    xb_plant_detect(&d->plant, d->sc.var, &det);
    xb_detection_write(&det, items);
    xb_tx_batch(&d->tx, XB_DETECTIONS, t_ns, head, 2, items, 1, XB_DET_SIZE);
    xb_plant_bodies(&d->plant, b);
    xb_body_write(&b[0], items);
    xb_body_write(&b[1], items + XB_BODY_SIZE);
    xb_tx_batch(&d->tx, XB_STATE, t_ns, head, 2, items, 2, XB_BODY_SIZE);
    d->scans++;
    d->awaiting_t_ns = t_ns;
}

static void finish(xb_device *d, int64_t t_ns) {
    char text[256];
    int n = snprintf(text, sizeof text,
                     "{\"result\":{\"status\":\"%s\",\"miss_distance_m\":%.17g,\"t_closest_s\":%.17g}}",
                     d->plant.done ? "intercept" : "timeout", d->plant.done ? d->plant.miss : -1.0,
                     d->plant.done ? d->plant.t_cpa : (double)t_ns / 1e9);
    xb_tx_text(&d->tx, XB_META, t_ns, text, (size_t)n);
    n = snprintf(text, sizeof text,
                 "{\"frames_sent\":%lu,\"frames_received\":%lu,\"crc_errors\":%lu,\"seq_gaps\":%ld,"
                 "\"scans\":%lu,\"commands\":%lu,\"late_commands\":%lu}",
                 (unsigned long)d->tx.frames_sent + 2, (unsigned long)d->rx.st.frames_ok,
                 (unsigned long)d->rx.st.crc_errors, (long)d->rx.st.seq_gaps,
                 (unsigned long)d->scans, (unsigned long)d->commands, (unsigned long)d->late_commands);
    xb_tx_text(&d->tx, XB_STATS, t_ns, text, (size_t)n);
    send_error(d, XB_E_CLOSE, "", t_ns);
    d->state = XB_DEV_FINISHED;
}

void xb_device_poll(xb_device *d, int64_t now) {
    if (d->state == XB_DEV_FINISHED) return;
    if (!d->session) {
        if (now - d->last_hello_ns >= HELLO_PERIOD_NS) {
            static const uint8_t zero = 0;
            if (d->tx.write) d->tx.write(d->tx.ctx, &zero, 1);  /* flush the peer's receiver */
            d->tx.max_payload = XB_MIN_PAYLOAD;
            send_hello(d, 0, now);
        }
        return;
    }
    if (now - d->last_rx_ns > TIMEOUT_NS) {
        send_error(d, XB_E_TIMEOUT, "nothing received for 1 s", now);
        d->session = 0;
        return;
    }
    if (now - d->last_hb_ns >= HB_PERIOD_NS) {
        uint8_t p[XB_HEARTBEAT_SIZE];
        xb_heartbeat hb = {d->peer_hb_t_ns, d->peer_hb_t_ns >= 0 ? now - d->peer_hb_rx_ns : 0};
        xb_tx_frame(&d->tx, XB_HEARTBEAT, 0, now, p, xb_heartbeat_write(&hb, p));
        d->last_hb_ns = now;
    }
    /* the engagement on the device clock: plant step k is due at run_start + k·dt; a scan
     * is sent every step_r steps; a late poll catches up (at most 100 steps per call) */
    double dt = 1.0 / d->sc.plant_hz;
    for (int n = 0; n < 100; n++) {
        int64_t t_ns = (int64_t)((double)d->k * dt * 1e9 + 0.5);
        if (now < d->run_start_ns + (int64_t)((double)t_ns / d->speed)) return;
        if (d->plant.done || (double)d->k * dt >= d->sc.duration_s) { finish(d, t_ns); return; }
        if (d->k % d->step_r == 0) send_scan(d, t_ns);
        xb_plant_advance(&d->plant, dt, 1, (double)d->k * dt);
        d->k++;
    }
}
