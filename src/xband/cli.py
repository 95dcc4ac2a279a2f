"""The ``xband`` command line.

Subcommands: ``demo`` (the built-in default engagement), ``run SCENARIO.toml``,
``scenario``, and one per module of ``xband.commands`` (see its docstring). Each
prints a readable summary, or with ``--json`` one JSON object on stdout. Errors print one
line ``xband: error: …`` on stderr and exit with status 2 (1 for an interrupted run).
"""
from __future__ import annotations

import argparse
import importlib
import json
import math
import pkgutil
import platform
import sys
import time
from pathlib import Path

from . import __version__
from .errors import XbandError

EXIT_ERROR = 2


def _clean(obj):
    """JSON-safe copy: non-finite floats become null, numpy scalars plain Python."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, (str, bytes)):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _add_run_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument("--out", metavar="DIR", default="xband-out",
                   help="directory for the plot and the recording (default: %(default)s)")
    p.add_argument("--record", metavar="PATH", help="recording path (default: DIR/NAME.xrec)")
    p.add_argument("--no-record", action="store_true", help="do not write a recording")
    p.add_argument("--plot", metavar="PATH", help="plot path (default: DIR/NAME.png)")
    p.add_argument("--no-plot", action="store_true", help="do not write the PNG")
    p.add_argument("--seed", type=int, help="override [scenario] seed")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="xband", allow_abbrev=False,
        description="Pulse-Doppler radar → tracks → intercept guidance, in simulation and "
                    "in the loop with hardware.")
    ap.add_argument("--version", action="version", version=f"xband {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    p = sub.add_parser("demo", allow_abbrev=False, help="run the built-in default engagement end to end")
    _add_run_flags(p)
    p = sub.add_parser("run", allow_abbrev=False, help="run the engagement of a scenario file (TOML)")
    p.add_argument("scenario", metavar="SCENARIO.toml")
    _add_run_flags(p)
    p = sub.add_parser("scenario", allow_abbrev=False,
                       help="print the default scenario, check a scenario file, or describe "
                            "every key",
                       description="With no file: print the built-in default scenario (TOML). "
                                   "With SCENARIO.toml: validate it and print every key's "
                                   "value, defaults filled in. --describe: every key's type, "
                                   "range and meaning.")
    p.add_argument("scenario", metavar="SCENARIO.toml", nargs="?",
                   help="a scenario file to validate (default: the built-in one)")
    p.add_argument("--describe", action="store_true", help="every key with type and range")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    for mod in _plugin_commands():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP, allow_abbrev=False)
        mod.add_arguments(p)
        p.set_defaults(_plugin=mod)
    return ap


def _plugin_commands() -> list:
    """The modules of xband.commands (see its docstring), in their ORDER."""
    from . import commands

    mods = [importlib.import_module(f"{commands.__name__}.{m.name}")
            for m in pkgutil.iter_modules(commands.__path__) if not m.name.startswith("_")]
    return sorted(mods, key=lambda m: (getattr(m, "ORDER", 100), m.NAME))


def print_json(doc: dict) -> None:
    """Print ``doc`` as one line of JSON on stdout (non-finite floats become null)."""
    print(json.dumps(_clean(doc)))


def _header(sc, backend: str, argv) -> dict:
    import numpy

    return {"scenario_name": sc.scenario.name, "scenario_source": sc.source,
            "scenario_toml": sc.text, "seed": sc.scenario.seed, "backend": backend,
            "xband_version": __version__, "numpy_version": numpy.__version__,
            "python_version": platform.python_version(), "argv": list(argv),
            "created_unix_s": time.time()}


def _run(sc, args, argv) -> int:
    from . import _kernels, pipeline

    if args.seed is not None:
        from dataclasses import replace

        if args.seed < 0:
            raise XbandError(f"--seed: must be >= 0, got {args.seed}")
        sc = replace(sc, scenario=replace(sc.scenario, seed=args.seed))
    backend = _kernels.backend()
    out = Path(args.out)
    name = sc.scenario.name
    rec_path = None if args.no_record else Path(args.record or out / f"{name}.xrec")
    plot_path = None if args.no_plot else Path(args.plot or out / f"{name}.png")
    recorder = None
    if rec_path is not None:
        from .io.recording import RecordingWriter

        rec_path.parent.mkdir(parents=True, exist_ok=True)
        recorder = RecordingWriter(rec_path, _header(sc, backend, argv), overwrite=True)
    t0 = time.perf_counter()
    try:
        result = pipeline.run(sc, recorder=recorder)
    except BaseException as exc:
        if recorder is not None:           # no end marker: the recording reads as interrupted
            recorder.abort(f"{type(exc).__name__}: {exc}")
        raise
    wall = time.perf_counter() - t0
    if recorder is not None:
        recorder.close({"end": True, "status": result.status,
                        "miss_distance_m": result.miss_distance_m,
                        "t_closest_s": result.t_closest_s})
    if plot_path is not None:
        from . import plots

        plots.engagement(result, plot_path,
                         f"xband — {name}: {sc.guidance.law.upper()} N′={sc.guidance.nav_ratio}"
                         f" on {sc.guidance.on}")
    outputs = {"recording": str(rec_path) if rec_path else None,
               "plot": str(plot_path) if plot_path else None}
    if args.json:
        doc = result.to_json()
        doc.update(wall_seconds=wall, outputs=outputs)
        print(json.dumps(_clean(doc), indent=None, sort_keys=False))
        return 0
    s = result.summary
    print(f"xband {args.command} — scenario '{name}' ({sc.source}), seed {sc.scenario.seed}, "
          f"kernels: {result.backend}")
    flt = (f"IMM({'/'.join(m.upper() for m in sc.tracker.imm_models)})"
           if sc.tracker.filter == "imm" else "CV EKF")
    radar = ("I/Q CPI → detection chain" if sc.radar.model == "iq"
             else "truth+noise measurements")
    print(f"  chain     : {radar} → {flt}/{sc.tracker.association.upper()} tracker → "
          f"{sc.guidance.law.upper()} "
          f"N′={sc.guidance.nav_ratio:g} on {sc.guidance.on} → interceptor "
          f"(τ={sc.interceptor.time_constant_s:g} s, |a|≤{sc.interceptor.accel_limit_mps2:g} m/s²)")
    print(f"  result    : {result.status}; miss distance {result.miss_distance_m:.3f} m "
          f"at t = {result.t_closest_s:.4f} s")
    print(f"  radar     : {s['scans']} scans, {s['detections']} detections "
          f"(targets + false alarms)")
    print(f"  tracker   : {s['tracks_confirmed']} confirmed, {s['tracks_deleted']} deleted, "
          f"designated track {s['designated_track']}")
    print(f"  guidance  : {s['commands']} commands, {s['saturated_commands']} saturated, "
          f"peak {s['max_accel_cmd']:.1f} m/s²")
    print(f"  wall time : {wall:.3f} s for {result.t_closest_s:.2f} s simulated")
    print()
    print("\n".join("  " + line for line in result.timer.table().splitlines()))
    print()
    for k, v in outputs.items():
        if v:
            print(f"  wrote {k}: {v}")
    return 0


def _scenario(args) -> int:
    """``xband scenario``: the default file, a checked file's values, or every key described."""
    from .config import (default_scenario, default_scenario_text, describe, describe_keys,
                         load_scenario)

    if args.describe:
        if args.scenario:
            raise XbandError("scenario: give SCENARIO.toml or --describe, not both")
        if args.json:
            print_json({"tables": describe_keys()})
        else:
            print(describe())
        return 0
    if args.scenario is None and not args.json:
        print(default_scenario_text(), end="\n")
        return 0
    sc = load_scenario(args.scenario) if args.scenario else default_scenario()
    from .pipeline import _trajectory

    for i, tgt in enumerate(sc.targets):         # trajectory files are read and checked too
        if tgt.trajectory:
            _trajectory(i, tgt, sc.source)
    if args.json:
        print_json({"source": sc.source, "valid": True, "scenario": sc.to_dict()})
        return 0
    # Valid TOML: the file with every default filled in, itself a scenario file.
    print(f"# {sc.source}: valid scenario '{sc.scenario.name}' ({len(sc.targets)} "
          f"target{'s' if len(sc.targets) != 1 else ''}, seed {sc.scenario.seed}); "
          f"every key, defaults filled in")
    for table, values in sc.to_dict().items():
        rows = values if isinstance(values, list) else [values]
        for row in rows:
            print(f"\n[[{table}]]" if isinstance(values, list) else f"\n[{table}]")
            for k, v in row.items():
                if k == "trajectory" and v:      # absolute: the output may be saved anywhere
                    v = str(Path(v).resolve())
                print(f"{k} = {json.dumps(v, ensure_ascii=False)}")
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        if getattr(args, "_plugin", None) is not None:
            return int(args._plugin.run(args) or 0)
        if args.command == "scenario":
            return _scenario(args)
        from .config import default_scenario, load_scenario

        sc = default_scenario() if args.command == "demo" else load_scenario(args.scenario)
        return _run(sc, args, argv)
    except XbandError as exc:
        print(f"xband: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("xband: interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:              # e.g. `xband demo | head`: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:               # an output path that cannot be made or written
        where = exc.filename if exc.filename is not None else ""
        print(f"xband: error: {where}{': ' if where else ''}{exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
