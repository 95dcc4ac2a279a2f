"""Scenario files: every key validated, the one-line error names the offending key."""
from pathlib import Path

import pytest

from xband.config import (default_scenario, default_scenario_text, describe, describe_keys,
                          load_scenario, parse_scenario)
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
    # the name is the output files' stem; a gate probability of 1 is an unbounded gate
    ("[scenario]\nname = \"../../etc/x\"", ["[scenario] name", "path separator"]),
    ("[scenario]\nname = \"a\\u0000b\"", ["[scenario] name", "printable"]),
    ("[scenario]\nname = \"\"", ["[scenario] name", "1 to 100"]),
    ("[scenario]\nname = \".hidden\"", ["[scenario] name", "'.'"]),
    ("[scenario]\nname = \"" + "n" * 101 + "\"", ["[scenario] name", "1 to 100"]),
    ("[tracker]\ngate_probability = 1.0", ["[tracker] gate_probability", "< 1.0"]),
    ("[[targets]]\nposition_m = [0.0, 0.0, 0.0]", ["[interceptor] position_m", "on its target"]),
    ("[scenario]\nduration_s = 1979-05-27", ["[scenario] duration_s", "expected a number"]),
    ("[interceptor]\nposition_m = [nan, 0.0, 0.0]", ["[interceptor] position_m", "finite"]),
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


def test_site_table_is_optional_and_validated():
    from xband.config import site_from_toml

    assert parse_scenario("").site is None and site_from_toml("") is None
    sc = parse_scenario("[site]\nlat_deg = 52.1\nlon_deg = -0.5\nh_m = 80\n")
    assert (sc.site.lat_deg, sc.site.lon_deg, sc.site.h_m) == (52.1, -0.5, 80.0)
    assert sc.to_dict()["site"] == {"lat_deg": 52.1, "lon_deg": -0.5, "h_m": 80.0}
    assert parse_scenario("[site]\nlat_deg = 1\nlon_deg = 2\n").site.h_m == 0.0
    s = sc.site.to_site()
    assert (s.lat_deg, s.lon_deg, s.h_m) == (52.1, -0.5, 80.0)
    assert site_from_toml(sc.text) == s
    # only [site] is read: a recorded scenario with keys this version no longer knows
    assert site_from_toml("[guidance]\nold_key = 1\n" + sc.text) == s


@pytest.mark.parametrize("text, words", [
    ("[site]\nlon_deg = 2.0", ["[site] lat_deg", "required"]),
    ("[site]\nlat_deg = 2.0\nh_m = 3.0", ["[site] lon_deg", "required"]),
    ("[site]\nlat_deg = 90.5\nlon_deg = 0.0", ["[site] lat_deg", "<= 90.0"]),
    ("[site]\nlat_deg = -91.0\nlon_deg = 0.0", ["[site] lat_deg", ">= -90.0"]),
    ("[site]\nlat_deg = 0.0\nlon_deg = 400.0", ["[site] lon_deg", "<= 360.0"]),
    ("[site]\nlat_deg = 0.0\nlon_deg = 1.0\nh_m = -2e4", ["[site] h_m", ">= -12000.0"]),
    ("[site]\nlat_deg = \"52N\"\nlon_deg = 0.0", ["[site] lat_deg", "expected a number"]),
    ("[site]\nlat_deg = nan\nlon_deg = 0.0", ["[site] lat_deg", "finite"]),
    ("[site]\nlat_deg = 0.0\nlon_deg = 0.0\nalt_m = 3.0",
     ["[site] alt_m", "unknown key", "lat_deg, lon_deg, h_m"]),
    ("site = [1.0, 2.0]", ["[site]", "must be a table"]),
])
def test_bad_site_names_file_table_and_key(text, words):
    from xband.config import site_from_toml

    for parse in (parse_scenario, site_from_toml):
        with pytest.raises(ConfigError) as info:
            parse(text, "bad.toml")
        msg = str(info.value)
        assert msg.startswith("bad.toml: ") and "\n" not in msg
        for w in words:
            assert w in msg, (w, msg)


def test_describe_lists_the_site_keys():
    from xband.config import describe

    text = describe()
    assert "[site]  (optional" in text
    for key in ("lat_deg = (required)  (float in [-90.0, 90.0])",
                "lon_deg = (required)  (float in [-180.0, 360.0])",
                "h_m = 0.0  (float in [-12000.0, 1000000.0])", "WGS-84 ellipsoid"):
        assert key in text, key


def test_describe_keys_is_plain_data_with_exclusive_bounds():
    import json

    keys = describe_keys()
    json.dumps(keys)
    g = keys["tracker"]["gate_probability"]
    assert g["min"] == 0.5 and not g["min_exclusive"] and g["max"] == 1.0 and g["max_exclusive"]
    assert keys["guidance"]["law"]["choices"] == ["pp", "pn", "tpn", "apn", "ogl"]
    assert keys["site"]["lat_deg"]["required"] and keys["targets"]["position_m"]["default"]
    assert "[0.5, 1.0)" in describe()


def test_recorded_headers_skip_the_checks_added_for_running():
    """A recording's header written by an earlier xband still replays: its name need not
    be a file stem and its gate may be 1 (replay names no file after the scenario)."""
    text = ('[scenario]\nname = "a/b"\n[tracker]\ngate_probability = 1.0\n'
            '[[targets]]\nposition_m = [0.0, 0.0, 0.0]\n')
    with pytest.raises(ConfigError):
        parse_scenario(text, "rec header")
    sc = parse_scenario(text, "rec header", recorded=True)
    assert sc.scenario.name == "a/b" and sc.tracker.gate_probability == 1.0
    with pytest.raises(ConfigError, match="nav_ratio"):        # the old checks still hold
        parse_scenario("[guidance]\nnav_ratio = -1.0\n", "rec header", recorded=True)


def test_name_is_bounded_in_bytes_too():
    with pytest.raises(ConfigError, match="200 bytes"):
        parse_scenario('[scenario]\nname = "' + "\U0001F680" * 70 + '"\n', "bad.toml")
    assert parse_scenario('[scenario]\nname = "Radar Ölüdeniz 2"\n').scenario.name
