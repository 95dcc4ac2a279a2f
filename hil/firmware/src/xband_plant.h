/* The plant emulator of the firmware: one interceptor against one target, portable C99.
 *
 * The same model as xband.reference.engage (the host simulator): interceptor (p, v, a)
 * with a first-order flight-control lag of time constant tau, integrated by RK4 with the
 * command held over a step; target with constant acceleration, integrated exactly.
 * Closest approach is found inside the step where the range stops closing (cubic Hermite
 * interpolation of the relative position, 60 bisections). A noise-free radar turns the
 * target into a detection (range, azimuth from north clockwise, elevation, range rate).
 * No malloc, no board specifics; doubles throughout (use an FPU board: RP2040 emulates
 * them in ROM, STM32F4/G4/H7 class is faster with FPU-backed float64 via libm).
 */
#ifndef XBAND_PLANT_H
#define XBAND_PLANT_H

#include "xband_wire.h"

typedef struct {
    double m[9];      /* interceptor p, v, a (ENU, SI) */
    double tg[9];     /* target p, v, a */
    double tau;       /* lag time constant, s (0: none) */
    double a_cmd[3];  /* command held */
    int done;         /* closest approach passed */
    double t_cpa, miss;
} xb_plant;

void xb_plant_init(xb_plant *pl, const double m[9], const double tg[9], double tau);
/* Advance nsteps steps of dt from time t0 under the held command. */
void xb_plant_advance(xb_plant *pl, double dt, long nsteps, double t0);
/* Truth of both bodies (0 the interceptor, 1 the target). */
void xb_plant_bodies(const xb_plant *pl, xb_body out[2]);
/* A noise-free detection of the target, with the diagonal covariance `var[4]`. */
void xb_plant_detect(const xb_plant *pl, const double var[4], xb_detection *d);

#endif
