"""Scenario files and CLI flags → engagements, campaigns and pipeline scenarios."""
from __future__ import annotations

from dataclasses import replace

from ..errors import ConfigError
from .engagement import Engagement, Guidance
from .montecarlo import Campaign


def guidance_from_scenario(sc, *, law=None, nav_ratio=None, lag=None, rate=None,
                           guidance_rate=None, lag_order=None, integrator="rk4", gravity=None,
                           maneuver=None, accel_limit=None) -> Guidance:
    """The scenario's guidance and plant settings; a keyword that is not None overrides
    the scenario's value (the CLI flags)."""
    tgt = sc.targets[sc.interceptor.target]
    ic = sc.interceptor
    if maneuver is None:
        maneuver = ("weave" if tgt.maneuver == "weave"
                    else "step" if any(tgt.maneuver_accel_mps2) else "none")
    lag_order = ic.lag_order if lag_order is None else lag_order
    gravity = ic.gravity if gravity is None else bool(gravity)
    plant_hz = rate or sc.rates.plant_hz
    g_hz = guidance_rate or (sc.rates.guidance_hz if rate is None else plant_hz)
    return Guidance(law=law or sc.guidance.law,
                    nav_ratio=nav_ratio if nav_ratio is not None else sc.guidance.nav_ratio,
                    accel_limit=accel_limit or sc.interceptor.accel_limit_mps2,
                    lag=lag if lag is not None else sc.interceptor.time_constant_s,
                    lag_order=lag_order, integrator=integrator, gravity=gravity,
                    plant_hz=plant_hz, guidance_hz=g_hz, maneuver=maneuver)


def engagement_from_scenario(sc, g: Guidance, heading_error=None,
                             weave_period=None) -> Engagement:
    """The scenario's engaged target and interceptor as explicit states (truth guidance)."""
    from ..pipeline import _initial_interceptor

    ic = sc.interceptor
    if heading_error is not None:
        sc = replace(sc, interceptor=replace(ic, heading_error_rad=heading_error))
    m0 = _initial_interceptor(sc)
    tgt = sc.targets[sc.interceptor.target]
    return Engagement(guidance=g, speed=sc.interceptor.speed_mps,
                      states=(m0[0:3], m0[3:6], tgt.position_m, tgt.velocity_mps),
                      target_accel_vec=tuple(tgt.maneuver_accel_mps2),
                      maneuver_start=tgt.maneuver_start_s, duration=sc.scenario.duration_s,
                      weave_period=tgt.maneuver_period_s if weave_period is None else weave_period,
                      weave_phase=tgt.maneuver_phase_rad)


def campaign_from_scenario(sc, g: Guidance, runs: int, *, seed=None, guidance_on=None,
                           sigma_heading=0.02, sigma_pos=50.0, start_spread=0.0,
                           weave_period=None) -> Campaign:
    ic, tgt = sc.interceptor, sc.targets[sc.interceptor.target]
    weave_period = tgt.maneuver_period_s if weave_period is None else weave_period
    on = guidance_on or sc.guidance.on
    if on != "truth":
        # each run goes through the pipeline: give it the campaign's plant and guidance
        sc = apply_guidance(sc, g, weave_period=weave_period)
    return Campaign(guidance=g, m_pos=tuple(ic.position_m), speed=ic.speed_mps,
                    t_pos=tuple(tgt.position_m), t_vel=tuple(tgt.velocity_mps),
                    heading_error=ic.heading_error_rad,
                    target_accel=tuple(tgt.maneuver_accel_mps2),
                    maneuver_start=tgt.maneuver_start_s, weave_period=weave_period,
                    duration=sc.scenario.duration_s, runs=runs,
                    seed=sc.scenario.seed if seed is None else seed,
                    sigma_heading=sigma_heading, sigma_pos=sigma_pos, start_spread=start_spread,
                    guidance_on=on, scenario=sc)


def apply_guidance(sc, g: Guidance, *, weave_period=None):
    """The scenario with the law, gain, lag (time constant and order), acceleration limit,
    gravity and engaged-target maneuver kind of ``g``: what the pipeline (guidance on
    noisy/track) runs when CLI flags override the scenario. Its plant integrates with RK4
    only; a weave needs a nonzero amplitude (the target's ``maneuver_accel_mps2``)."""
    if g.integrator != "rk4":
        raise ConfigError(f"--integrator {g.integrator}: the pipeline plant (guidance on "
                          "noisy/track) integrates with RK4 only; use --guidance-on truth")
    ti = sc.interceptor.target
    tgts = list(sc.targets)
    t = tgts[ti]
    if g.maneuver == "none":
        t = replace(t, maneuver="step", maneuver_accel_mps2=[0.0, 0.0, 0.0])
    elif g.maneuver == "step":
        t = replace(t, maneuver="step")
    else:
        if not any(t.maneuver_accel_mps2):
            raise ConfigError("maneuver weave: needs a nonzero amplitude (the target's "
                              "maneuver_accel_mps2, or --target-accel)")
        period = t.maneuver_period_s if weave_period is None else float(weave_period)
        if not (period > 0 and period < float("inf")):
            raise ConfigError(f"weave period: must be > 0, got {period!r}")
        t = replace(t, maneuver="weave", maneuver_period_s=period)
    tgts[ti] = t
    return replace(sc, targets=tuple(tgts),
                   interceptor=replace(sc.interceptor, time_constant_s=g.lag,
                                       lag_order=g.lag_order, gravity=g.gravity,
                                       accel_limit_mps2=g.accel_limit),
                   guidance=replace(sc.guidance, law=g.law, nav_ratio=g.nav_ratio))


def scenario_from_flags(*, law, nav_ratio, lag, heading_error, target_accel, speed,
                        target_speed, rng_m, rate, guidance_rate, guidance_on, seed,
                        accel_limit, duration):
    """The study geometry of ``Engagement`` as a pipeline scenario (radar at the
    interceptor's launch point), for guidance on noisy measurements or on the tracker."""
    from ..config import default_scenario

    sc = default_scenario()
    k = max(1, round(rate / sc.rates.radar_hz))        # scans near 20 Hz, on the plant grid
    ratio = rate / guidance_rate
    if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
        raise ConfigError(f"--guidance-rate: --rate ({rate}) must be an integer multiple of "
                          f"it, got {guidance_rate}")
    tgt = replace(sc.targets[0], position_m=[0.0, float(rng_m), 0.0],
                  velocity_mps=[0.0, -float(target_speed), 0.0],
                  maneuver_accel_mps2=[float(target_accel), 0.0, 0.0], maneuver_start_s=0.0)
    return replace(
        sc,
        scenario=replace(sc.scenario, name="engage", seed=seed, duration_s=duration),
        rates=replace(sc.rates, plant_hz=rate, guidance_hz=guidance_rate, radar_hz=rate / k),
        targets=(tgt,),
        interceptor=replace(sc.interceptor, position_m=[0.0, 0.0, 0.0], speed_mps=speed,
                            heading_error_rad=heading_error, time_constant_s=lag,
                            accel_limit_mps2=accel_limit, target=0),
        guidance=replace(sc.guidance, law=law, nav_ratio=nav_ratio, on=guidance_on))

