// xband SENSOR device — board entry point (Arduino framework; RP2040 Pico or STM32 Nucleo).
//
// All protocol and plant logic is the portable C99 library in hil/firmware/src; this file
// only moves bytes between the USB/UART serial port and the device state machine and gives
// it a clock. Wiring, baud rate, flashing and the expected output: hil/README.md.
#include <Arduino.h>

extern "C" {
#include "xband_device.h"
}

#ifndef XB_BOARD_NAME
#define XB_BOARD_NAME "arduino"
#endif
#ifndef XB_BAUD
#define XB_BAUD 921600
#endif

static xb_device dev;   // static: ~14 kB of buffers, never on the stack, no malloc

static void write_serial(void *, const uint8_t *data, size_t n) { Serial.write(data, n); }

static int64_t now_ns() {
    // micros() wraps after 71.6 min; extend it to 64 bits.
    static uint32_t last = 0;
    static uint64_t high = 0;
    uint32_t us = micros();
    if (us < last) high += (1ull << 32);
    last = us;
    return (int64_t)((high | us) * 1000ull);
}

void setup() {
    Serial.begin(XB_BAUD);       // USB CDC ignores the rate; a UART uses it
    pinMode(LED_BUILTIN, OUTPUT);
    xb_device_init(&dev, &XB_DEFAULT_SCENARIO, write_serial, nullptr, "xband-fw-" XB_BOARD_NAME);
}

void loop() {
    uint8_t buf[64];
    int64_t t = now_ns();
    int n = Serial.available();
    if (n > 0) {
        if (n > (int)sizeof buf) n = sizeof buf;
        n = Serial.readBytes(buf, n);
        xb_device_rx(&dev, buf, (size_t)n, t);
    }
    xb_device_poll(&dev, t);
    digitalWrite(LED_BUILTIN, dev.session ? HIGH : LOW);   // LED on while a host is attached
}
