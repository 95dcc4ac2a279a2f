"""The xband command line, run as a user runs it (a subprocess)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from xband.io.recording import read_recording

pytestmark = pytest.mark.reference_rerun
ROOT = Path(__file__).resolve().parents[2]


def xband(*args, cwd=None):
    env = dict(os.environ)
    return subprocess.run([sys.executable, "-m", "xband.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def test_demo_json(tmp_path):
    p = xband("demo", "--json", "--out", str(tmp_path), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["status"] == "intercept"
    assert 0.0 <= doc["miss_distance_m"] < 50.0
    assert 5.0 < doc["t_closest_s"] < 30.0
    expect = "reference" if os.environ.get("XBAND_KERNELS") == "reference" else "cython"
    assert doc["backend"] == expect
    for stage in ("measure", "track", "guide", "plant", "record"):
        assert doc["stages"][stage]["calls"] > 0
        assert doc["stages"][stage]["seconds"] > 0.0
    assert Path(doc["outputs"]["plot"]).stat().st_size > 10_000
    rec = read_recording(doc["outputs"]["recording"])
    assert rec.complete and rec.integrity.ok
    assert rec.header["backend"] == expect and rec.header["seed"] == doc["seed"]
    assert "[guidance]" in rec.header["scenario_toml"]
    assert len(rec.detections()) == len(rec.tracks()) == doc["scans"]
    assert len(rec.commands()) == doc["commands"]
    assert rec.footer["status"] == "intercept"
    assert rec.footer["miss_distance_m"] == doc["miss_distance_m"]


def test_demo_text_summary(tmp_path):
    p = xband("demo", "--no-record", "--no-plot", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    for words in ("miss distance", "stage", "calls", "share", "track", "guide", "plant"):
        assert words in p.stdout
    assert not list(tmp_path.iterdir())


def test_run_is_reproducible_and_seed_matters(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text((ROOT / "examples" / "default.toml").read_text())
    runs = [subprocess.Popen([sys.executable, "-m", "xband.cli", "run", str(f), "--json",
                              "--no-record", "--no-plot", *seed], stdout=subprocess.PIPE,
                             text=True) for seed in ([], [], ["--seed", "7"])]  # side by side
    a, b, c = (json.loads(p.communicate(timeout=300)[0]) for p in runs)
    assert a["miss_distance_m"] == b["miss_distance_m"]
    assert a["t_closest_s"] == b["t_closest_s"]
    assert c["miss_distance_m"] != a["miss_distance_m"]


@pytest.mark.parametrize("text, key", [
    ("[guidance]\nnav_ration = 3.0\n", "nav_ration"),
    ("[radar]\np_detection = 2.0\n", "p_detection"),
    ("[interceptor]\nspeed_mps = \"fast\"\n", "speed_mps"),
])
def test_bad_scenario_is_one_line_no_traceback(tmp_path, text, key):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    p = xband("run", str(f))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0] and "bad.toml" in lines[0]
    assert "Traceback" not in p.stderr


def test_missing_scenario_file(tmp_path):
    p = xband("run", str(tmp_path / "none.toml"))
    assert p.returncode == 2 and "none.toml" in p.stderr and "Traceback" not in p.stderr


def test_scenario_checks_a_file_and_describes_in_json(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text("[guidance]\nnav_ratio = 3.0\n")
    p = xband("scenario", str(f), "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["valid"] and doc["scenario"]["guidance"]["nav_ratio"] == 3.0
    assert doc["scenario"]["tracker"]["gate_probability"] == 0.9999     # defaults filled in
    p = xband("scenario", str(f))
    assert p.returncode == 0 and "valid scenario" in p.stdout and "nav_ratio = 3.0" in p.stdout
    full = tmp_path / "sub" / "full.toml"               # the text is itself a scenario file
    full.parent.mkdir()
    full.write_text(p.stdout)
    from xband.config import load_scenario

    assert load_scenario(full).to_dict() == load_scenario(f).to_dict()
    flights = xband("scenario", str(ROOT / "examples" / "real_flights.toml")).stdout
    full.write_text(flights)                 # trajectory paths still resolve from elsewhere
    got, want = (load_scenario(p).to_dict()
                 for p in (full, ROOT / "examples" / "real_flights.toml"))
    assert [Path(t["trajectory"]).resolve() for t in got["targets"]] == \
        [Path(t["trajectory"]).resolve() for t in want["targets"]]
    got["targets"] = want["targets"] = None
    assert got == want
    doc = json.loads(xband("scenario", "--describe", "--json").stdout)
    assert doc["tables"]["rates"]["radar_hz"]["min_exclusive"]
    f.write_text("[guidance]\nnav_ratio = 0.0\n")
    p = xband("scenario", str(f), "--json")
    assert p.returncode == 2 and p.stdout == "" and "[guidance] nav_ratio" in p.stderr


def test_scenario_name_cannot_write_outside_the_output_folder(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[scenario]\nname = "../escaped"\n')
    p = xband("run", str(f), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert p.returncode == 2 and "[scenario] name" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "escaped.png").exists() and not (tmp_path / "escaped.xrec").exists()


def test_the_demo_never_imports_scipy_stats_or_signal(tmp_path):
    """Each costs about a second per process; the chain and the tracker need neither."""
    code = ("import sys; from xband.cli import main; "
            "rc = main(['demo', '--no-record', '--no-plot', '--json']); "
            "print(sorted(m for m in ('scipy.stats', 'scipy.signal') if m in sys.modules), "
            "file=sys.stderr); sys.exit(rc)")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=tmp_path, timeout=300)
    assert p.returncode == 0, p.stderr
    assert p.stderr.strip().splitlines()[-1] == "[]"
