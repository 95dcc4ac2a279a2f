"""Targets that follow a recorded trajectory (``[[targets]] trajectory = "truth.csv"``)."""
import numpy as np
import pytest

from xband import pipeline
from xband.config import parse_scenario
from xband.errors import ConfigError
from xband.io.adsb import write_truth

pytestmark = pytest.mark.reference_rerun

P0, V0, A = np.array([6000.0, 9000.0, 3000.0]), np.array([-120.0, -230.0, 0.0]), \
    np.array([8.0, -4.0, 0.0])

BASE = """
[radar]
model = "truth"
[guidance]
on = "{on}"
[[targets]]
{target}
"""


def _write(path, t, gap=None):
    if gap is not None:
        t = t[(t < gap[0]) | (t > gap[1])]
    pos = P0 + V0 * t[:, None] + 0.5 * A * t[:, None] ** 2
    vel = V0 + A * t[:, None]
    write_truth(path, t, np.ones(len(t), np.int64) * 7, pos, vel)


def _kinematic(on):
    tgt = (f"position_m = {P0.tolist()}\nvelocity_mps = {V0.tolist()}\n"
           f"maneuver_accel_mps2 = {A.tolist()}\nmaneuver_start_s = 0.0")
    return pipeline.run(parse_scenario(BASE.format(on=on, target=tgt)))


@pytest.mark.parametrize("on", ["truth", "track"])
def test_trajectory_target_matches_the_same_kinematic_target(tmp_path, on):
    _write(tmp_path / "truth.csv", np.arange(0.0, 40.0, 0.5))
    sc_text = BASE.format(on=on, target='trajectory = "truth.csv"')
    f = tmp_path / "s.toml"
    f.write_text(sc_text)
    from xband.config import load_scenario
    r = pipeline.run(load_scenario(f))             # the path is relative to the file
    k = _kinematic(on)
    assert r.status == k.status == "intercept"
    tol = 1e-3 if on == "truth" else 3.0
    assert abs(r.miss_distance_m - k.miss_distance_m) < tol
    assert abs(r.t_closest_s - k.t_closest_s) < 1e-3


def test_trajectory_gap_ends_the_engagement(tmp_path):
    _write(tmp_path / "truth.csv", np.arange(0.0, 40.0, 0.5), gap=(5.0, 40.0))
    sc = parse_scenario(BASE.format(on="truth", target=f'trajectory = "{tmp_path}/truth.csv"'))
    r = pipeline.run(sc)
    assert r.status == "target_lost" and 4.0 < r.t_closest_s <= 4.5    # last sample: 4.5 s


def test_trajectory_must_cover_the_start(tmp_path):
    _write(tmp_path / "truth.csv", np.arange(3.0, 40.0, 0.5))
    sc = parse_scenario(BASE.format(on="truth", target=f'trajectory = "{tmp_path}/truth.csv"'))
    with pytest.raises(ConfigError, match="trajectory.*does not cover t = 0"):
        pipeline.run(sc)
    sc = parse_scenario(BASE.format(on="truth", target=f'trajectory = "{tmp_path}/none.csv"'))
    with pytest.raises(ConfigError, match="trajectory"):
        pipeline.run(sc)
