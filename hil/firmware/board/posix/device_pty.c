/* The firmware's SENSOR device on a POSIX host, over a pseudo-terminal: the board entry
 * point for CI and for desk testing without a board. It opens a pty, prints the path of its
 * slave side on stdout (one line), then runs the portable device (xband_device.c) on the
 * monotonic clock until the session ends (or --seconds S have passed).
 *
 *   cc -std=c99 -O2 -Ihil/firmware/src hil/firmware/src/xband_{wire,plant,device}.c \
 *      hil/firmware/board/posix/device_pty.c -o xband-device -lm
 *   ./xband-device [--speed S] [--seconds T] &     # prints e.g. /dev/pts/7
 *   xband hil --serial /dev/pts/7
 */
#define _DEFAULT_SOURCE
#define _XOPEN_SOURCE 600
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "xband_device.h"

static int master = -1;

static void write_pty(void *ctx, const uint8_t *data, size_t n) {
    (void)ctx;
    while (n > 0) {
        ssize_t w = write(master, data, n);
        if (w <= 0) {
            struct pollfd p = {master, POLLOUT, 0};
            if (poll(&p, 1, 100) <= 0) return;  /* the host does not read: drop, as a UART */
            continue;
        }
        data += w;
        n -= (size_t)w;
    }
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    static xb_device dev;
    double seconds = 120.0, speed = 1.0;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0) seconds = atof(argv[i + 1]);
        if (strcmp(argv[i], "--speed") == 0) speed = atof(argv[i + 1]);
    }
    master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) || unlockpt(master)) { perror("pty"); return 1; }
    struct termios tio;
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY);  /* raw mode, set from the slave */
    if (slave >= 0 && tcgetattr(slave, &tio) == 0) {
        cfmakeraw(&tio);
        tcsetattr(slave, TCSANOW, &tio);
    }
    printf("%s\n", ptsname(master));
    fflush(stdout);
    xb_device_init(&dev, &XB_DEFAULT_SCENARIO, write_pty, NULL, "xband-fw-posix");
    if (speed > 0) dev.speed = speed;
    int64_t t0 = now_ns();
    while (dev.state != XB_DEV_FINISHED && now_ns() - t0 < (int64_t)(seconds * 1e9)) {
        uint8_t buf[4096];
        struct pollfd p = {master, POLLIN, 0};
        if (poll(&p, 1, 1) > 0 && (p.revents & POLLIN)) {
            ssize_t n = read(master, buf, sizeof buf);
            if (n > 0) xb_device_rx(&dev, buf, (size_t)n, now_ns());
        }
        xb_device_poll(&dev, now_ns());
    }
    usleep(200000);   /* let the host read the end of the session */
    if (slave >= 0) close(slave);
    close(master);
    return 0;
}
