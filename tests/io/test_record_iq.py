"""``xband record-iq``: the simulated radio's CPIs of a scenario saved as SigMF replay
through ``xband detect --sigmf`` to the very detections the chain gives on the simulated
CPIs directly (bit for bit for cf32_le)."""
from __future__ import annotations

import contextlib
import io
import json

import numpy as np
import pytest

from xband.cli import main as cli_main
from xband.commands.detect import write_csv
from xband.commands.record_iq import simulate_cpis
from xband.config import default_scenario, default_scenario_text
from xband.detect.chain import DetectConfig, DetectionChain
from xband.io.sigmf import read_sigmf
from xband.types import Detections

pytest.importorskip("sigmf")
pytestmark = pytest.mark.reference_rerun
N = 3


def _cli(argv) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli_main(argv)
    return code, buf.getvalue()


@pytest.fixture(scope="module")
def simulated():
    return simulate_cpis(default_scenario(), N)


def test_replay_gives_the_detections_of_the_simulated_cpis(tmp_path, simulated):
    cubes, points, params, vmins = simulated
    assert len(cubes) == N and len(set(points)) == N      # the beam follows the target
    vua = params.unambiguous_velocity_mps
    assert all(v != -vua for v in vmins)          # the demo's velocity gate is slaved
    code, out = _cli(["record-iq", "--cpis", str(N), "-o", str(tmp_path / "demo"), "--json"])
    assert code == 0
    doc = json.loads(out)
    assert doc["cpis"] == N and doc["datatype"] == "cf32_le"
    meta = tmp_path / "demo.sigmf-meta"
    assert doc["output"] == str(meta)
    # the recording holds exactly the simulated CPIs, their times and beams
    rec = read_sigmf(meta)
    assert rec.params == params and rec.n_cpis == N
    for k, ((cube, pt), want, want_pt) in enumerate(zip(rec.cpis(), cubes, points)):
        assert np.array_equal(cube.data, want.data) and cube.t == want.t and pt == want_pt
        assert rec.v_min_of(k) == vmins[k]
    # detect --sigmf on the file == the chain on the simulated CPIs, bit for bit
    code, _ = _cli(["detect", "--sigmf", str(meta), "-o", str(tmp_path / "replay.csv")])
    assert code == 0
    chain = DetectionChain(params, DetectConfig(cfar="ca", pfa=1e-6))
    parts = []
    for c, pt, vm in zip(cubes, points, vmins):
        chain.v_min = vm                  # the radar's range-rate window of that CPI
        parts.append(chain.process(c, pt).detections)
    direct = Detections.concat(parts)
    assert len(direct) >= N                                 # the target, every CPI
    # range rates unfolded as the radar did: the demo's target closes at ≈ −250 m/s
    assert direct.range_rate[np.argmax(direct.snr)] < -150.0
    write_csv(tmp_path / "direct.csv", direct)
    assert (tmp_path / "replay.csv").read_text() == (tmp_path / "direct.csv").read_text()


def test_ci16_recording_replays_close_to_the_simulation(tmp_path, simulated):
    cubes, points, params, _ = simulated
    code, _ = _cli(["record-iq", "--cpis", "2", "--datatype", "ci16_le",
                    "-o", str(tmp_path / "q.sigmf-meta")])
    assert code == 0
    rec = read_sigmf(tmp_path / "q.sigmf-meta")
    assert rec.n_cpis == 2
    for (cube, pt), want, want_pt in zip(rec.cpis(), cubes, points):
        step = rec.full_scale / 32767
        err = np.abs(cube.data.view(np.float32) - want.data.view(np.float32))
        assert err.max() <= 0.51 * step and pt == want_pt     # half a step (+ float32)


def test_truth_model_and_bad_counts_are_refused(tmp_path, capsys):
    toml = tmp_path / "truth.toml"
    toml.write_text(default_scenario_text().replace('model = "iq"', 'model = "truth"'))
    assert cli_main(["record-iq", "--scenario", str(toml), "-o", str(tmp_path / "x")]) == 2
    assert 'model = "iq"' in capsys.readouterr().err
    assert cli_main(["record-iq", "--cpis", "0", "-o", str(tmp_path / "x")]) == 2
    assert "--cpis" in capsys.readouterr().err
