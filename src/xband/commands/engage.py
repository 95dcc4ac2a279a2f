"""``xband engage``: one engagement from the classic study flags or a scenario file.

Examples::

    xband engage --law pn --nav-ratio 4 --lag 0.5 --heading-error -0.35
    xband engage --law apn --target-accel 30 --lag 0 --json
    xband engage examples/default.toml --guidance-on track

Flags alone: interceptor at the origin, target at ``--range`` due north flying head-on
at ``--target-speed``; launch on the collision course turned by ``--heading-error``;
``--target-accel`` is a step at t = 0 normal to the line of sight (east). With guidance
on truth the engagement is flown by the batched stepper (all laws, maneuvers, lag orders,
gravity, integrators); on ``noisy`` or ``track`` it goes through the multi-rate chain of
xband.pipeline (radar measurements, tracker, guidance, plant; all of these but Euler).
With a scenario, the maneuver, lag order and gravity are the scenario's
(``[[targets]] maneuver``, ``maneuver_period_s``, ``[interceptor] lag_order``,
``gravity``) unless the flags override them.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

NAME = "engage"
HELP = "one intercept engagement from study flags (--law, --lag, --heading-error, …) or a scenario"
ORDER = 30


def add_arguments(p) -> None:
    p.add_argument("scenario", nargs="?", metavar="SCENARIO.toml",
                   help="take the geometry, rates and defaults from this scenario")
    p.add_argument("--law", choices=["pp", "pn", "tpn", "apn", "ogl"],
                   help="guidance law (default: tpn, or the scenario's)")
    p.add_argument("--nav-ratio", type=float, help="effective navigation ratio N′ (default 4)")
    p.add_argument("--lag", type=float, help="flight-control time constant (s), 0 for none "
                   "(default 0, or the scenario's)")
    p.add_argument("--heading-error", type=float, help="launch heading error (rad) (default -0.35)")
    p.add_argument("--target-accel", type=float,
                   help="target maneuver (m/s²) normal to the line of sight: a step at t = 0, or "
                        "the amplitude of --maneuver weave")
    p.add_argument("--speed", type=float, help="interceptor speed (m/s) (default 900)")
    p.add_argument("--target-speed", type=float, help="target speed (m/s) (default 300)")
    p.add_argument("--range", type=float, help="initial range (m) (default 12000)")
    p.add_argument("--rate", type=float, help="plant integration rate (Hz) (default 1000)")
    p.add_argument("--guidance-on", choices=["truth", "noisy", "track"],
                   help="what guidance sees (default: truth; the scenario's with a scenario)")
    p.add_argument("--seed", type=int, help="root seed (noisy/track) (default: the scenario's)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    g = p.add_argument_group("more study options")
    g.add_argument("--maneuver", choices=["none", "step", "weave"],
                   help="target maneuver kind (default: step if --target-accel is given)")
    g.add_argument("--weave-period", type=float, help="weave period (s) (default 4, or the "
                   "scenario's [[targets]] maneuver_period_s)")
    g.add_argument("--lag-order", type=int, help="binomial lag order n (1..8) (default 1, or "
                   "the scenario's [interceptor] lag_order)")
    g.add_argument("--integrator", choices=["rk4", "euler"], default="rk4")
    g.add_argument("--gravity", action=argparse.BooleanOptionalAction,
                   help="gravity on the interceptor, compensated by the autopilot (default "
                   "off, or the scenario's [interceptor] gravity)")
    g.add_argument("--accel-limit", type=float, help="lateral acceleration limit (m/s²) "
                   "(default 300)")
    g.add_argument("--guidance-rate", type=float, help="guidance command rate (Hz) "
                   "(default: --rate; 100 Hz on noisy/track)")
    g.add_argument("--duration", type=float, help="time limit (s) (default 60)")
    g.add_argument("--out", default="xband-out", help="directory of the PNG (default: %(default)s)")
    g.add_argument("--plot", metavar="PATH", help="PNG path (default: OUT/engage.png)")
    g.add_argument("--no-plot", action="store_true")


def _num(name, v, lo=None, zero_ok=False, allow_neg=False):
    from ..errors import ConfigError

    if v is None:
        return None
    if not math.isfinite(v):
        raise ConfigError(f"--{name}: must be finite, got {v!r}")
    if not allow_neg and (v < 0 or (v == 0 and not zero_ok)):
        raise ConfigError(f"--{name}: must be {'>= 0' if zero_ok else '> 0'}, got {v!r}")
    return float(v)


def run(args) -> int:
    from dataclasses import replace

    from .. import pipeline
    from ..cli import print_json
    from ..errors import ConfigError
    from ..guide import plots
    from ..guide.engagement import Engagement, Guidance, simulate
    from ..guide.study import (apply_guidance, engagement_from_scenario, guidance_from_scenario,
                               scenario_from_flags)

    for name in ("nav-ratio", "speed", "range", "rate", "accel-limit", "guidance-rate",
                 "duration", "weave-period"):
        _num(name, getattr(args, name.replace("-", "_")))
    _num("target-speed", args.target_speed, zero_ok=True)
    _num("lag", args.lag, zero_ok=True)
    _num("heading-error", args.heading_error, allow_neg=True)
    _num("target-accel", args.target_accel, allow_neg=True)
    if args.heading_error is not None and abs(args.heading_error) > math.pi:
        raise ConfigError(f"--heading-error: must be within ±pi rad, got {args.heading_error}")
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed: must be >= 0, got {args.seed}")
    maneuver = args.maneuver
    if maneuver is None and args.target_accel:
        maneuver = "step"
    if not args.scenario and maneuver in ("step", "weave") and not args.target_accel:
        raise ConfigError(f"--maneuver {maneuver}: needs a nonzero --target-accel "
                          f"({'the weave amplitude' if maneuver == 'weave' else 'the step'}, "
                          "m/s²)")
    if args.lag_order is not None and not 1 <= args.lag_order <= 8:
        raise ConfigError(f"--lag-order: must be an integer in [1, 8], got {args.lag_order}")
    common = dict(lag_order=args.lag_order, integrator=args.integrator, gravity=args.gravity)

    if args.scenario:
        from ..config import load_scenario

        sc = load_scenario(args.scenario)
        on = args.guidance_on or sc.guidance.on
        seed = sc.scenario.seed if args.seed is None else args.seed
        g = guidance_from_scenario(sc, law=args.law, nav_ratio=args.nav_ratio, lag=args.lag,
                                   rate=args.rate, guidance_rate=args.guidance_rate,
                                   accel_limit=args.accel_limit, maneuver=maneuver, **common)
        label = Path(args.scenario).stem
        if on == "truth":
            eng = engagement_from_scenario(sc, g, heading_error=args.heading_error,
                                           weave_period=args.weave_period)
            if args.duration:
                eng = replace(eng, duration=args.duration)
        else:
            ic = sc.interceptor
            tgts = list(sc.targets)
            ti = ic.target
            if args.target_accel is not None:
                tgts[ti] = replace(tgts[ti], maneuver_accel_mps2=[args.target_accel, 0.0, 0.0])
            pl_sc = replace(
                sc, scenario=replace(sc.scenario, seed=seed,
                                     duration_s=args.duration or sc.scenario.duration_s),
                rates=replace(sc.rates, plant_hz=g.plant_hz,
                              guidance_hz=args.guidance_rate or sc.rates.guidance_hz),
                targets=tuple(tgts),
                interceptor=replace(ic, time_constant_s=g.lag, accel_limit_mps2=g.accel_limit,
                                    heading_error_rad=(ic.heading_error_rad
                                                       if args.heading_error is None
                                                       else args.heading_error)),
                guidance=replace(sc.guidance, law=g.law, nav_ratio=g.nav_ratio, on=on))
            pl_sc = apply_guidance(pl_sc, g, weave_period=args.weave_period)
    else:
        on = args.guidance_on or "truth"
        seed = 20261129 if args.seed is None else args.seed
        rate = args.rate or 1000.0
        law = args.law or "tpn"
        lag = 0.0 if args.lag is None else args.lag
        accel_limit = args.accel_limit or 300.0
        nav = args.nav_ratio or 4.0
        he = -0.35 if args.heading_error is None else args.heading_error
        label = "engage"
        common.update(lag_order=1 if args.lag_order is None else args.lag_order,
                      gravity=bool(args.gravity))
        weave_period = 4.0 if args.weave_period is None else args.weave_period
        if on == "truth":
            g = Guidance(law=law, nav_ratio=nav, accel_limit=accel_limit, lag=lag, plant_hz=rate,
                         guidance_hz=args.guidance_rate or rate, maneuver=maneuver or "none",
                         **common)
            eng = Engagement(guidance=g, speed=args.speed or 900.0,
                             target_speed=300.0 if args.target_speed is None else args.target_speed,
                             range=args.range or 12000.0, heading_error=he,
                             target_accel=args.target_accel or 0.0,
                             weave_period=weave_period, duration=args.duration or 60.0)
        else:
            g = Guidance(law=law, nav_ratio=nav, accel_limit=accel_limit, lag=lag, plant_hz=rate,
                         guidance_hz=args.guidance_rate or min(rate, 100.0),
                         maneuver=maneuver or "none", **common)
            pl_sc = scenario_from_flags(
                law=law, nav_ratio=nav, lag=lag, heading_error=he,
                target_accel=args.target_accel or 0.0, speed=args.speed or 900.0,
                target_speed=300.0 if args.target_speed is None else args.target_speed,
                rng_m=args.range or 12000.0, rate=rate, guidance_rate=g.guidance_hz,
                guidance_on=on, seed=seed, accel_limit=accel_limit,
                duration=args.duration or 60.0)
            pl_sc = apply_guidance(pl_sc, g, weave_period=weave_period)
    if on != "truth":
        r = pipeline.run(pl_sc)
        doc = {"status": r.status, "miss_distance_m": r.miss_distance_m,
               "t_closest_s": r.t_closest_s, "max_accel_cmd": r.summary["max_accel_cmd"],
               "saturated": r.summary["saturated"],
               "saturated_commands": r.summary["saturated_commands"]}
        history = r.history
        extra = {"scans": r.summary["scans"], "tracks_confirmed": r.summary["tracks_confirmed"],
                 "designations": r.summary["designations"]}
    else:
        res = simulate(eng)
        doc = res.to_json()
        history = res.history
        extra = {}
    doc.update(law=g.law, nav_ratio=g.nav_ratio, lag_s=g.lag, lag_order=g.lag_order,
               guidance_on=on, plant_hz=g.plant_hz, guidance_hz=g.guidance_hz,
               maneuver=g.maneuver,
               integrator=g.integrator, gravity=g.gravity, accel_limit=g.accel_limit,
               seed=seed, **extra)
    plot_path = None
    if not args.no_plot:
        plot_path = Path(args.plot or Path(args.out) / f"{label}.png")
        plots.engagement(history, plot_path,
                         f"xband engage — {g.law.upper()} N′={g.nav_ratio:g}, τ={g.lag:g} s, "
                         f"guidance on {on}", doc["miss_distance_m"], doc["t_closest_s"])
    doc["plot"] = str(plot_path) if plot_path else None
    if args.json:
        print_json(doc)
        return 0
    print(f"xband engage — {g.law.upper()} N′={g.nav_ratio:g}, lag τ={g.lag:g} s "
          f"(order {g.lag_order}), guidance on {on}, plant {g.plant_hz:g} Hz, "
          f"guidance {g.guidance_hz:g} Hz")
    print(f"  result        : {doc['status']}")
    print(f"  miss distance : {doc['miss_distance_m']:.4g} m")
    print(f"  time of flight: {doc['t_closest_s']:.4f} s")
    print(f"  peak command  : {doc['max_accel_cmd']:.1f} m/s² ({doc['max_accel_cmd'] / 9.80665:.1f} g)"
          f" — limit {g.accel_limit:g} m/s², {doc['saturated_commands']} saturated commands")
    if plot_path:
        print(f"  wrote plot    : {plot_path}")
    return 0
