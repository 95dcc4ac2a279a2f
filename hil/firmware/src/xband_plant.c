/* Plant emulator: see xband_plant.h (equations as in xband.reference.engage). */
#include "xband_plant.h"

#include <math.h>
#include <string.h>

void xb_plant_init(xb_plant *pl, const double m[9], const double tg[9], double tau) {
    memcpy(pl->m, m, sizeof pl->m);
    memcpy(pl->tg, tg, sizeof pl->tg);
    pl->tau = tau;
    pl->a_cmd[0] = pl->a_cmd[1] = pl->a_cmd[2] = 0.0;
    pl->done = 0;
    pl->t_cpa = pl->miss = NAN;
}

static double dot3(const double *a, const double *b) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

static void rk4_lag(double *m, const double *ac, double tau, double h) {
    for (int i = 0; i < 3; i++) {
        double p = m[i], v = m[3 + i], a = m[6 + i], c = ac[i];
        if (tau > 0.0) {
            double k1p = v, k1v = a, k1a = (c - a) / tau;
            double k2p = v + 0.5 * h * k1v, k2v = a + 0.5 * h * k1a, k2a = (c - (a + 0.5 * h * k1a)) / tau;
            double k3p = v + 0.5 * h * k2v, k3v = a + 0.5 * h * k2a, k3a = (c - (a + 0.5 * h * k2a)) / tau;
            double k4p = v + h * k3v, k4v = a + h * k3a, k4a = (c - (a + h * k3a)) / tau;
            m[i] = p + h / 6.0 * (k1p + 2.0 * k2p + 2.0 * k3p + k4p);
            m[3 + i] = v + h / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v);
            m[6 + i] = a + h / 6.0 * (k1a + 2.0 * k2a + 2.0 * k3a + k4a);
        } else {
            m[i] = p + h * v + 0.5 * h * h * c;
            m[3 + i] = v + h * c;
            m[6 + i] = c;
        }
    }
}

static void hermite(double s, double h, const double *r0, const double *v0, const double *r1,
                    const double *v1, double *p, double *dp) {
    double t2 = s * s, t3 = s * s * s;
    double h00 = 2 * t3 - 3 * t2 + 1, h10 = t3 - 2 * t2 + s, h01 = -2 * t3 + 3 * t2, h11 = t3 - t2;
    double d00 = 6 * t2 - 6 * s, d10 = 3 * t2 - 4 * s + 1, d01 = -6 * t2 + 6 * s, d11 = 3 * t2 - 2 * s;
    for (int i = 0; i < 3; i++) {
        p[i] = h00 * r0[i] + h10 * h * v0[i] + h01 * r1[i] + h11 * h * v1[i];
        dp[i] = (d00 * r0[i] + d10 * h * v0[i] + d01 * r1[i] + d11 * h * v1[i]) / h;
    }
}

void xb_plant_advance(xb_plant *pl, double dt, long nsteps, double t0) {
    for (long s = 0; s < nsteps && !pl->done; s++) {
        double r0[3], v0[3], r1[3], v1[3];
        for (int i = 0; i < 3; i++) { r0[i] = pl->tg[i] - pl->m[i]; v0[i] = pl->tg[3 + i] - pl->m[3 + i]; }
        rk4_lag(pl->m, pl->a_cmd, pl->tau, dt);
        for (int i = 0; i < 3; i++) {
            pl->tg[i] += dt * pl->tg[3 + i] + 0.5 * dt * dt * pl->tg[6 + i];
            pl->tg[3 + i] += dt * pl->tg[6 + i];
            r1[i] = pl->tg[i] - pl->m[i];
            v1[i] = pl->tg[3 + i] - pl->m[3 + i];
        }
        if (dot3(r0, v0) < 0.0 && dot3(r1, v1) >= 0.0) {
            double lo = 0.0, hi = 1.0, p[3], dp[3];
            for (int k = 0; k < 60; k++) {
                double mid = 0.5 * (lo + hi);
                hermite(mid, dt, r0, v0, r1, v1, p, dp);
                if (dot3(p, dp) < 0.0) lo = mid; else hi = mid;
            }
            double mid = 0.5 * (lo + hi);
            hermite(mid, dt, r0, v0, r1, v1, p, dp);
            pl->t_cpa = t0 + (double)s * dt + mid * dt;
            pl->miss = sqrt(dot3(p, p));
            pl->done = 1;
        }
    }
}

void xb_plant_bodies(const xb_plant *pl, xb_body out[2]) {
    const double *src[2] = {pl->m, pl->tg};
    for (int b = 0; b < 2; b++) {
        out[b].body_id = (uint32_t)b;
        memcpy(out[b].pos, src[b], 3 * sizeof(double));
        memcpy(out[b].vel, src[b] + 3, 3 * sizeof(double));
        memcpy(out[b].acc, src[b] + 6, 3 * sizeof(double));
    }
}

void xb_plant_detect(const xb_plant *pl, const double var[4], xb_detection *d) {
    const double *p = pl->tg, *v = pl->tg + 3;
    double rh = sqrt(p[0] * p[0] + p[1] * p[1]);
    double r = sqrt(rh * rh + p[2] * p[2]);
    d->range = r;
    d->az = atan2(p[0], p[1]);
    d->el = atan2(p[2], rh);
    d->range_rate = r > 0 ? dot3(p, v) / r : 0.0;
    d->snr = 100.0;
    memset(d->R, 0, sizeof d->R);
    d->R[0] = var[0];   /* R00 */
    d->R[4] = var[1];   /* R11 */
    d->R[7] = var[2];   /* R22 */
    d->R[9] = var[3];   /* R33 */
}
