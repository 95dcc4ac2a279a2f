/* A SENSOR-role device (hil/PROTOCOL.md §7): the session state machine over the codec and
 * the plant emulator, free of board specifics. A board entry point feeds it received bytes
 * (xb_device_rx) and calls xb_device_poll often (every ms or faster) with its clock; the
 * device writes frames through the board's write function.
 *
 * Session: lone 0x00 + opening HELLO, repeated every 500 ms until the host's HELLO;
 * HEARTBEAT every 100 ms with the echo of the host's; 1 s without a valid frame → ERROR
 * TIMEOUT and back to waiting for a HELLO. Once the session is up the engagement runs on
 * the device clock: every scan period it sends DETECTIONS (the target, noise-free) then
 * STATE (body 0 the interceptor, 1 the target), both stamped with the scan time; the host
 * answers with one COMMAND of the same t_ns, applied from its receipt. After closest
 * approach it sends META {"result": …}, STATS and ERROR CLOSE.
 */
#ifndef XBAND_DEVICE_H
#define XBAND_DEVICE_H

#include "xband_plant.h"
#include "xband_wire.h"

typedef struct {
    double m0[9], tg0[9];   /* initial interceptor and target (p, v, a) */
    double tau;             /* interceptor lag, s */
    double plant_hz, radar_hz;
    double duration_s;
    double var[4];          /* measurement variances reported in R */
} xb_scenario;

/* The default engagement of xband (examples/default.toml), without the target maneuver. */
extern const xb_scenario XB_DEFAULT_SCENARIO;

enum xb_dev_state { XB_DEV_WAIT_HELLO = 0, XB_DEV_RUNNING = 1, XB_DEV_FINISHED = 2 };

typedef struct {
    xb_tx tx;
    xb_rx rx;
    xb_asm as;
    uint8_t asm_buf[1024];
    xb_hello mine, peer;
    xb_scenario sc;
    xb_plant plant;
    int state, session;
    int64_t last_hello_ns, last_hb_ns, last_rx_ns;
    int64_t peer_hb_t_ns, peer_hb_rx_ns;
    int64_t run_start_ns;   /* device clock at scan 0 */
    long k, step_r;         /* plant steps done, plant steps per scan */
    uint32_t scans, commands, late_commands, sessions;
    int64_t awaiting_t_ns;  /* t_ns of the scan whose COMMAND is awaited, -1 none */
    double speed;           /* scenario seconds per clock second (1: real time) */
} xb_device;

void xb_device_init(xb_device *d, const xb_scenario *sc, xb_write_fn write, void *ctx,
                    const char *name);
void xb_device_rx(xb_device *d, const uint8_t *data, size_t n, int64_t now_ns);
void xb_device_poll(xb_device *d, int64_t now_ns);

#endif
