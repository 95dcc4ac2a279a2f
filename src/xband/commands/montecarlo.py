"""``xband montecarlo SCENARIO.toml --runs N``: a Monte Carlo campaign of the scenario's
engagement with per-run dispersions, on this machine (processes) or on Dask.

Run i draws from the i-th child of SeedSequence(seed), so the per-run results are the
same whatever the parallelism (``--jobs``, ``--dask``, ``--scheduler``). Writes the
per-run results (CSV), prints a summary (mean, percentiles, CEP of the miss distance) and
writes a PNG histogram/CDF. Guidance on truth uses the batched compiled stepper; a
scenario with ``[guidance] on = "noisy"/"track"`` runs the whole chain per run (slow)
unless ``--guidance-on truth`` is given.
"""
from __future__ import annotations

import argparse
from pathlib import Path

NAME = "montecarlo"
HELP = "Monte Carlo campaign of a scenario's engagement (local processes or Dask)"
ORDER = 31


def add_arguments(p) -> None:
    p.add_argument("scenario", metavar="SCENARIO.toml")
    p.add_argument("--runs", type=int, default=1000, help="number of runs (default %(default)s)")
    p.add_argument("--seed", type=int, help="root seed (default: the scenario's)")
    p.add_argument("--guidance-on", choices=["truth", "noisy", "track"],
                   help="override [guidance] on (truth: the fast batched stepper)")
    p.add_argument("--law", choices=["pp", "pn", "tpn", "apn", "ogl"])
    p.add_argument("--nav-ratio", type=float)
    p.add_argument("--lag", type=float, help="flight-control time constant (s)")
    p.add_argument("--lag-order", type=int,
                   help="binomial lag order (default: the scenario's [interceptor] lag_order)")
    p.add_argument("--integrator", choices=["rk4", "euler"], default="rk4")
    p.add_argument("--gravity", action=argparse.BooleanOptionalAction,
                   help="gravity on the interceptor (default: the scenario's)")
    p.add_argument("--maneuver", choices=["none", "step", "weave"],
                   help="target maneuver kind (default: the scenario's)")
    p.add_argument("--weave-period", type=float,
                   help="weave period (s) (default: the scenario's maneuver_period_s)")
    p.add_argument("--sigma-heading", type=float, default=0.02,
                   help="σ of the heading error dispersion (rad) (default %(default)s)")
    p.add_argument("--sigma-pos", type=float, default=50.0,
                   help="σ of the target position dispersion per axis (m) (default %(default)s)")
    p.add_argument("--start-spread", type=float, default=0.0,
                   help="maneuver start + U(0, this) (s) (default %(default)s)")
    p.add_argument("--jobs", type=int, help="local processes (default: every core)")
    p.add_argument("--dask", action="store_true", help="run on a Dask LocalCluster")
    p.add_argument("--scheduler", metavar="ADDRESS", help="run on the Dask scheduler at ADDRESS")
    p.add_argument("--out", default="xband-out", help="output directory (default %(default)s)")
    p.add_argument("--results", metavar="PATH", help="CSV path (default OUT/NAME-montecarlo.csv)")
    p.add_argument("--plot", metavar="PATH", help="PNG path (default OUT/NAME-montecarlo.png)")
    p.add_argument("--no-plot", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    import time

    from ..cli import print_json
    from ..config import load_scenario
    from ..errors import ConfigError
    from ..guide import montecarlo as mc
    from ..guide import plots
    from ..guide.study import campaign_from_scenario, guidance_from_scenario

    if args.runs < 1:
        raise ConfigError(f"--runs: must be >= 1, got {args.runs}")
    if args.seed is not None and args.seed < 0:
        raise ConfigError(f"--seed: must be >= 0, got {args.seed}")
    if args.jobs is not None and args.jobs < 1:
        raise ConfigError(f"--jobs: must be >= 1, got {args.jobs}")
    sc = load_scenario(args.scenario)
    g = guidance_from_scenario(sc, law=args.law, nav_ratio=args.nav_ratio, lag=args.lag,
                               lag_order=args.lag_order, integrator=args.integrator,
                               gravity=args.gravity, maneuver=args.maneuver)
    c = campaign_from_scenario(sc, g, args.runs, seed=args.seed, guidance_on=args.guidance_on,
                               sigma_heading=args.sigma_heading, sigma_pos=args.sigma_pos,
                               start_spread=args.start_spread, weave_period=args.weave_period)
    name = sc.scenario.name
    out = Path(args.out)
    csv = Path(args.results or out / f"{name}-montecarlo.csv")
    for d in {out, csv.parent}:           # before the campaign, not after it
        try:
            d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ConfigError(f"{d}: cannot create the output directory: "
                              f"{e.strerror or e}") from None
    prog = mc.Progress(c.runs, enabled=not args.no_progress)
    t0 = time.perf_counter()
    if args.dask or args.scheduler:
        res = mc.run_dask(c, address=args.scheduler, workers=args.jobs, progress=prog)
        where = f"dask ({args.scheduler or 'LocalCluster'})"
    else:
        res = mc.run_local(c, jobs=args.jobs, progress=prog)
        where = f"local ({args.jobs or 'all'} processes)"
    wall = time.perf_counter() - t0
    s = mc.summarize(res)
    mc.write_csv(res, csv)
    png = None
    if not args.no_plot:
        png = plots.campaign(res, s, args.plot or out / f"{name}-montecarlo.png",
                             f"xband montecarlo — {name}: {c.runs} runs, {g.law.upper()} "
                             f"N′={g.nav_ratio:g}, guidance on {c.guidance_on}")
    doc = {"scenario": name, "seed": c.seed, "guidance_on": c.guidance_on, "law": g.law,
           "lag_s": g.lag, "lag_order": g.lag_order, "gravity": g.gravity,
           "maneuver": g.maneuver, "integrator": g.integrator,
           "executor": where, "wall_seconds": wall, **s,
           "outputs": {"results": str(csv), "plot": str(png) if png else None}}
    if args.json:
        print_json(doc)
        return 0
    p = s["miss_percentiles_m"]
    print(f"xband montecarlo — scenario '{name}' ({sc.source}), {c.runs} runs, root seed "
          f"{c.seed}, guidance {g.law.upper()} N′={g.nav_ratio:g} on {c.guidance_on}, {where}")
    print(f"  status      : " + ", ".join(f"{k} {v}" for k, v in s["status_counts"].items()))
    print(f"  miss (m)    : mean {s['miss_mean_m']:.4g}, std {s['miss_std_m']:.4g}, "
          f"CEP {s['cep_m']:.4g}, p90 {p.get('p90', float('nan')):.4g}, "
          f"p95 {p.get('p95', float('nan')):.4g}, p99 {p.get('p99', float('nan')):.4g}, "
          f"max {s['miss_max_m']:.4g}")
    print(f"  flight      : mean time of flight {s['t_closest_mean_s']:.3f} s; "
          f"{100 * s['saturated_fraction']:.1f} % of runs saturated")
    print(f"  wall time   : {wall:.2f} s")
    print(f"  wrote results: {csv}")
    if png:
        print(f"  wrote plot   : {png}")
    return 0
