"""``xband record-iq``: save the simulated radio's CPIs of a scenario as a SigMF recording.

The scenario (the demo's by default, ``--scenario FILE.toml``) runs its closed loop exactly
as ``xband run`` does, and the first ``--cpis`` CPIs its I/Q sensor synthesises — one per
scan, with the beam on the engaged target — are written to ``-o FILE.sigmf-meta`` (or a
base name; default ``xband-out/<scenario name>.sigmf-meta`` + ``.sigmf-data``) in the
``xband:`` namespace (xband.io.sigmf): radar parameters in the global metadata, one
annotation per CPI with its sample range, index, time and beam pointing. ``--datatype``
``cf32_le`` (default, bit-exact) or ``ci16_le`` (quantised to ``xband:full_scale``).

``xband detect --sigmf FILE.sigmf-meta`` then replays them: for cf32_le it gives the very
detections (bit for bit) that the detection chain gives on the simulated CPIs directly.
The scenario needs ``[radar] model = "iq"`` (the truth-plus-noise model has no I/Q).
"""
from __future__ import annotations

NAME = "record-iq"
HELP = "write the simulated radio's CPIs of a scenario to SigMF (replay: detect --sigmf)"
ORDER = 31


def add_arguments(p) -> None:
    p.add_argument("--scenario", metavar="SCENARIO.toml",
                   help="scenario file (default: the demo's, examples/default.toml)")
    p.add_argument("--cpis", type=int, default=10,
                   help="CPIs (scans) to record, from the start (default: %(default)s)")
    p.add_argument("-o", "--output", metavar="FILE.sigmf-meta",
                   help="SigMF meta path or base name (default: xband-out/NAME.sigmf-meta)")
    p.add_argument("--datatype", choices=("cf32_le", "ci16_le"), default="cf32_le",
                   help="sample format (default: %(default)s)")
    p.add_argument("--seed", type=int, help="override [scenario] seed")
    p.add_argument("--json", action="store_true", help="print one JSON summary")


def simulate_cpis(sc, n: int) -> tuple[list, list, object, list]:
    """The first ``n`` CPIs the scenario's I/Q sensor synthesises in its closed loop:
    (cubes, pointings (az, el) per CPI, RadarParams, the chain's range-rate window lower
    edge v_min per CPI — moved by a slaved velocity gate). Fewer if the run ends first."""
    from .. import pipeline
    from ..errors import ConfigError
    from ..timing import StageTimer

    if sc.radar.model != "iq":
        raise ConfigError(f"[radar] model = {sc.radar.model!r} has no I/Q to record; "
                          f"record-iq needs model = \"iq\"")
    rng_meas, rng_guid = pipeline.rngs(sc)
    timer = StageTimer()
    eng = pipeline.Engagement(sc, rng_meas, timer)
    host = pipeline.Host(sc, rng_guid, timer)
    chain = eng.sensor.chain
    cubes, points, vmins = [], [], []
    process = chain.process

    def tap(cube, pointing):                  # the sensor's chain sees every CPI
        cubes.append(cube)
        points.append((float(pointing[0]), float(pointing[1])))
        vmins.append(float(chain.v_min))
        return process(cube, pointing)

    chain.process = tap
    try:
        while not eng.finished and len(cubes) < n:
            pipeline.step_event(eng, host)
    finally:
        del chain.process                     # back to the class's method
    return cubes[:n], points[:n], eng.sensor.params, vmins[:n]


def run(args) -> int:
    import time
    from dataclasses import replace
    from pathlib import Path

    from ..cli import print_json
    from ..config import default_scenario, load_scenario
    from ..errors import ConfigError
    from ..io.sigmf import write_sigmf

    if args.cpis < 1:
        raise ConfigError(f"--cpis: must be >= 1, got {args.cpis}")
    sc = load_scenario(args.scenario) if args.scenario else default_scenario()
    if args.seed is not None:
        if args.seed < 0:
            raise ConfigError(f"--seed: must be >= 0, got {args.seed}")
        sc = replace(sc, scenario=replace(sc.scenario, seed=args.seed))
    t0 = time.perf_counter()
    cubes, points, params, vmins = simulate_cpis(sc, args.cpis)
    if not cubes:
        raise ConfigError(f"scenario {sc.scenario.name!r} ends before its first scan")
    out = Path(args.output) if args.output else Path("xband-out") / f"{sc.scenario.name}"
    meta = write_sigmf(out, cubes, params, datatype=args.datatype, pointing=points, v_min=vmins,
                       description=f"xband record-iq: scenario {sc.scenario.name!r}, "
                                   f"seed {sc.scenario.seed}, {len(cubes)} CPIs")
    data = meta.with_name(meta.name[:-len(".sigmf-meta")] + ".sigmf-data")
    summary = {"output": str(meta), "data": str(data), "scenario": sc.scenario.name,
               "seed": sc.scenario.seed, "cpis": len(cubes), "datatype": args.datatype,
               "channels": list(cubes[0].channels), "pulses": params.pulses_per_cpi,
               "samples": params.samples_per_pri, "bytes": data.stat().st_size,
               "t_first_s": cubes[0].t, "t_last_s": cubes[-1].t,
               "seconds": time.perf_counter() - t0}
    if args.json:
        print_json(summary)
    else:
        short = f" (the run ended after {len(cubes)})" if len(cubes) < args.cpis else ""
        print(f"xband record-iq — {sc.scenario.name}: {len(cubes)} CPI(s){short} of "
              f"{len(cubes[0].channels)}×{params.pulses_per_cpi}×{params.samples_per_pri} "
              f"({args.datatype}, {summary['bytes'] / 2**20:.1f} MiB), t = "
              f"{cubes[0].t:.3f}…{cubes[-1].t:.3f} s → {meta}\n"
              f"replay: xband detect --sigmf {meta}")
    return 0
