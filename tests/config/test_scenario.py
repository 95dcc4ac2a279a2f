"""Scenario files: every key validated, the one-line error names the offending key."""
from pathlib import Path

import pytest

from xband.config import default_scenario, default_scenario_text, load_scenario, parse_scenario
from xband.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_example_file_is_the_built_in_default():
    assert (ROOT / "examples" / "default.toml").read_text() == default_scenario_text()
    sc = load_scenario(ROOT / "examples" / "default.toml")
    assert sc.to_dict() == default_scenario().to_dict()


def test_empty_file_gives_the_defaults():
    sc = parse_scenario("")
    assert sc.guidance.law == "tpn" and len(sc.targets) == 1


@pytest.mark.parametrize("text, words", [
    ("[guidance]\nnav_ration = 3.0", ["[guidance]", "nav_ration", "unknown key", "nav_ratio"]),
    ("[radars]\n", ["[radars]", "unknown table"]),
    ("[guidance]\nlaw = 3", ["[guidance] law", "expected a string"]),
    ("[guidance]\nlaw = \"zem\"", ["[guidance] law", "expected one of"]),
    ("[guidance]\nnav_ratio = -1.0", ["[guidance] nav_ratio", "must be >"]),
    ("[guidance]\nnav_ratio = \"4\"", ["[guidance] nav_ratio", "expected a number"]),
    ("[guidance]\nnav_ratio = true", ["[guidance] nav_ratio", "expected a number"]),
    ("[radar]\np_detection = 1.5", ["[radar] p_detection", "<= 1.0"]),
    ("[radar]\nsigma_range_m = nan", ["[radar] sigma_range_m", "finite"]),
    ("[tracker]\nconfirm_m = 2.5", ["[tracker] confirm_m", "expected an integer"]),
    ("[tracker]\nconfirm_m = 5\nconfirm_n = 3", ["[tracker] confirm_m", "confirm_n"]),
    ("[[targets]]\nposition_m = [1.0, 2.0]", ["[[targets]] #0 position_m", "3 numbers"]),
    ("[[targets]]\nspeed = 3.0", ["[[targets]] #0 speed", "unknown key"]),
    ("[rates]\nplant_hz = 1000.0\nradar_hz = 30.0", ["[rates] radar_hz", "integer multiple"]),
    ("[interceptor]\ntarget = 2", ["[interceptor] target", "[[targets]]"]),
    ("[scenario]\nseed = -4", ["[scenario] seed", ">= 0"]),
    ("guidance = 3", ["[guidance]", "must be a table"]),
    ("[guidance\n", ["invalid TOML"]),
    # the plant keys: lag order, gravity, weave
    ("[interceptor]\nlag_order = 0", ["[interceptor] lag_order", ">= 1"]),
    ("[interceptor]\nlag_order = 9", ["[interceptor] lag_order", "<= 8"]),
    ("[interceptor]\nlag_order = 2.0", ["[interceptor] lag_order", "expected an integer"]),
    ("[interceptor]\nlag_order = 3\ntime_constant_s = 0.0",
     ["[interceptor] lag_order", "time_constant_s"]),
    ("[interceptor]\ngravity = 1", ["[interceptor] gravity", "true or false"]),
    ("[[targets]]\nmaneuver = \"zigzag\"", ["[[targets]] #0 maneuver", "step, weave"]),
    ("[[targets]]\nmaneuver = \"weave\"\nmaneuver_period_s = -2.0",
     ["[[targets]] #0 maneuver_period_s", "must be > 0"]),
    ("[[targets]]\nmaneuver = \"weave\"\nmaneuver_period_s = 0.0",
     ["[[targets]] #0 maneuver_period_s", "must be > 0"]),
    ("[[targets]]\nmaneuver = \"weave\"\nmaneuver_period_s = 3.0",
     ["[[targets]] #0 maneuver_accel_mps2", "weave", "amplitude"]),
    ("[[targets]]\n[[targets]]\nmaneuver = \"weave\"",
     ["[[targets]] #1 maneuver_accel_mps2", "amplitude"]),
])
def test_bad_scenarios_name_the_key(text, words):
    with pytest.raises(ConfigError) as info:
        parse_scenario(text, "bad.toml")
    msg = str(info.value)
    assert msg.startswith("bad.toml: ") and "\n" not in msg
    for w in words:
        assert w in msg, (w, msg)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read scenario"):
        load_scenario(tmp_path / "nope.toml")


def test_plant_keys_parse_and_default_to_the_first_order_plant():
    sc = parse_scenario("")
    ic, tg = sc.interceptor, sc.targets[0]
    assert (ic.lag_order, ic.gravity, tg.maneuver) == (1, False, "step")
    sc = parse_scenario("[interceptor]\nlag_order = 3\ngravity = true\n[[targets]]\n"
                        "maneuver = \"weave\"\nmaneuver_accel_mps2 = [0.0, 0.0, 20.0]\n"
                        "maneuver_period_s = 2.5\nmaneuver_phase_rad = 0.5")
    ic, tg = sc.interceptor, sc.targets[0]
    assert (ic.lag_order, ic.gravity) == (3, True)
    assert (tg.maneuver, tg.maneuver_period_s, tg.maneuver_phase_rad) == ("weave", 2.5, 0.5)


def test_describe_lists_the_plant_keys():
    from xband.config import describe

    text = describe()
    for key in ("lag_order = 1", "gravity = False  (bool)", "maneuver = 'step'",
                "maneuver_period_s = 4.0", "maneuver_phase_rad = 0.0"):
        assert key in text, key
