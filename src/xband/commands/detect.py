"""``xband detect``: run the I/Q detection chain on simulated CPIs or a SigMF recording.

Without ``--sigmf`` it simulates ``--cpis`` CPIs of two targets (beam on the first); with
``--sigmf FILE.sigmf-meta`` it processes every CPI of the recording (radar parameters from
its ``xband:`` namespace, see xband.io.sigmf; a sum-only recording gives NaN angles). Writes the detections CSV of DESIGN.md with ``-o`` (``t,range,azimuth,elevation,range_rate,
snr_db,sigma_range,sigma_azimuth,sigma_elevation,sigma_range_rate``, one row per detection,
t = the CPI's start time), a JSON summary with ``--json`` and the range-Doppler map of the
first CPI with the detections marked with ``--plot FILE.png``.
"""
from __future__ import annotations

NAME = "detect"
HELP = "run the I/Q detection chain (scene → cube → detections) on simulated CPIs"
ORDER = 30

CSV_HEADER = ("t,range,azimuth,elevation,range_rate,snr_db,sigma_range,sigma_azimuth,"
              "sigma_elevation,sigma_range_rate")


def add_arguments(p) -> None:
    p.add_argument("-o", "--output", metavar="DETECTIONS.csv", help="write the detections CSV")
    p.add_argument("--json", action="store_true", help="print one JSON summary")
    p.add_argument("--plot", metavar="FILE.png", help="range-Doppler map of the first CPI")
    p.add_argument("--sigmf", metavar="FILE.sigmf-meta",
                   help="process every CPI of this SigMF recording (xband: namespace)")
    p.add_argument("--cpis", type=int, default=1, help="simulated CPIs (default: %(default)s)")
    p.add_argument("--small", action="store_true", help="64 × 2048 CPI instead of 128 × 4096")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cfar", default="ca", choices=("ca", "go", "so", "os"))
    p.add_argument("--pfa", type=float, default=1e-6)
    p.add_argument("--v-min", type=float, metavar="MPS",
                   help="lower edge of the folded range-rate window [v_min, v_min + 2 v_ua) "
                        "(default: a recording's xband:v_min_mps per CPI, else −v_ua)")


def write_csv(path, dets) -> None:
    import numpy as np

    with open(path, "w", encoding="utf-8") as f:
        f.write(CSV_HEADER + "\n")
        sd = np.sqrt(np.diagonal(dets.R, axis1=1, axis2=2)) if len(dets) else np.zeros((0, 4))
        for i in range(len(dets)):
            row = [dets.t[i], dets.range[i], dets.az[i], dets.el[i], dets.range_rate[i],
                   10 * np.log10(dets.snr[i]), *sd[i]]
            f.write(",".join(repr(float(v)) for v in row) + "\n")


def run(args) -> int:
    import time

    import numpy as np

    from ..cli import print_json
    from ..detect.chain import DetectConfig, DetectionChain
    from ..errors import ConfigError
    from ..radar.params import RadarParams
    from ..radar.scene import direction_of, synthesize
    from ..types import Detections

    if args.cpis < 1:
        raise ConfigError(f"--cpis: must be >= 1, got {args.cpis}")
    if not (0.0 < args.pfa < 1.0):
        raise ConfigError(f"--pfa: must be in (0, 1), got {args.pfa}")
    if args.v_min is not None and not np.isfinite(args.v_min):
        raise ConfigError(f"--v-min: must be a finite speed (m/s), got {args.v_min}")
    if args.sigmf:
        from ..io.sigmf import read_sigmf

        rec = read_sigmf(args.sigmf)
        p = rec.params
        source = rec.cpis()
        n_cpis, origin = rec.n_cpis, str(args.sigmf)
        v_mins = [rec.v_min_of(i) for i in range(rec.n_cpis)]
    else:
        p = RadarParams.small() if args.small else RadarParams()
        rng = np.random.default_rng(args.seed)
        pos = np.array([[6000.0, 9000.0, 3000.0], [6150.0, 9050.0, 3000.0]])
        vel = np.array([[-120.0, -230.0, 0.0], [-20.0, -40.0, 0.0]])

        def simulate():
            for i in range(args.cpis):
                t = i * p.cpi_duration_s
                pi = pos + vel * t
                pt = direction_of(pi[0])
                yield synthesize(p, t, pi, vel, [1.0, 0.5], rng, pointing=pt), pt

        source, n_cpis, origin = simulate(), args.cpis, "simulation"
        v_mins = [None] * args.cpis
    chain = DetectionChain(p, DetectConfig(cfar=args.cfar, pfa=args.pfa, v_min_mps=args.v_min))
    parts, first, t_proc = [], None, 0.0
    for k, (cube, pt) in enumerate(source):
        if args.v_min is None and v_mins[k] is not None:   # the radar's window, recorded
            chain.v_min = v_mins[k]
        t0 = time.perf_counter()
        out = chain.process(cube, pt)
        t_proc += time.perf_counter() - t0
        parts.append(out.detections)
        first = first or out
    dets = Detections.concat(parts)
    t_proc = max(t_proc, 1e-9)
    if args.output:
        write_csv(args.output, dets)
    if args.plot and first is not None:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(9, 5))
        pw = 10 * np.log10(np.maximum(first.power, 1e-12) / first.noise)
        # row 0 is Doppler bin 0 (f = −PRF/2, i.e. range rate +v_ua): drawn at the top
        vua = p.unambiguous_velocity_mps
        ext = [0, pw.shape[1] * chain.gate_m / 1e3, -vua, vua]
        ax.imshow(pw, aspect="auto", extent=ext, vmin=-5, vmax=40, cmap="viridis",
                  origin="upper")
        d0 = first.detections
        # marked at the map cell (range at the CPI centre, folded range rate)
        ax.plot((d0.range + d0.range_rate * chain.t_mid) / 1e3,
                np.mod(d0.range_rate + vua, 2 * vua) - vua, "r+", ms=12)
        ax.set_xlabel("range (km)")
        ax.set_ylabel("range rate (m/s, folded)")
        ax.set_title(f"range-Doppler map, first CPI: {len(d0)} detections")
        fig.savefig(args.plot, dpi=100)
        plt.close(fig)
    n_cpis = len(parts)
    summary = {"source": origin, "cpis": n_cpis, "detections": len(dets),
               "channels": list(first.extra.get("channels", ())) if first else [],
               "pulses": p.pulses_per_cpi, "samples": p.samples_per_pri,
               "processing_s": t_proc,
               "real_time_factor": n_cpis * p.cpi_duration_s / t_proc if n_cpis else None,
               "output": args.output, "plot": args.plot}
    if args.json:
        print_json(summary)
    else:
        if not n_cpis:
            print(f"xband detect — {origin}: no complete CPI")
            return 0
        print(f"xband detect — {origin}: {n_cpis} CPI(s) of {p.pulses_per_cpi}×"
              f"{p.samples_per_pri}: {len(dets)} detections, "
              f"{1e3 * t_proc / n_cpis:.1f} ms per CPI "
              f"(real-time factor {summary['real_time_factor']:.2f})")
    return 0
