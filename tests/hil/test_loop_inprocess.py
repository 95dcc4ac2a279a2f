"""The HIL loop in one process (the emulator in a thread, the host on the pty's slave):
fast enough to rerun on the numpy reference kernels. The loop equals the simulation; a
host that answers after the deadline is counted, under both lateness policies."""
from __future__ import annotations

import threading

import pytest

from xband import pipeline
from xband.config import default_scenario, parse_scenario
from xband.hil.emulator import Emulator, PtyEndpoint
from xband.hil.link import Link
from xband.hil.loop import run_hil

pytestmark = pytest.mark.reference_rerun


def scenario(duration: float):
    text = default_scenario().text.replace("duration_s = 30.0", f"duration_s = {duration}")
    return parse_scenario(text, "<test>")


def run_pair(sc, slow_every: int = 0, slow_s: float = 0.0, **emu_kw):
    ep = PtyEndpoint()
    port = ep.open()
    emu = Emulator(sc, ep, session_timeout_s=10.0, **emu_kw)
    out = {}
    th = threading.Thread(target=lambda: out.setdefault("device", emu.run(port)), daemon=True)
    th.start()
    link = Link(ep.path)
    if slow_every:
        send, n = link.send, [0]

        def slow_send(kind, record, t, **kw):
            if kind == "command":
                n[0] += 1
                if n[0] % slow_every == 0:
                    threading.Event().wait(slow_s)      # a host overrun
            return send(kind, record, t, **kw)

        link.send = slow_send
    link.open()
    try:
        res = run_hil(sc, link, session_timeout_s=10.0, silence_timeout_s=20.0)
    finally:
        link.close()
    th.join(20.0)
    assert not th.is_alive()
    return res, out["device"]["device"]


def test_in_process_loop_equals_the_simulation():
    sc = scenario(1.5)
    res, dev = run_pair(sc, speed=0.0)
    sim = pipeline.run(sc)
    assert res.run.miss_distance_m == sim.miss_distance_m
    assert res.run.summary["commands"] == sim.summary["commands"]
    assert dev["deadline_misses"] == 0 and dev["events"] == res.host["events"]


@pytest.mark.parametrize("late", ["wait", "hold"])
def test_late_host_replies_are_deadline_misses(late):
    sc = scenario(0.5)
    # every 10th answer comes 30 ms after the STATE, past its 10 ms deadline; the grace
    # is generous so that a loaded CI machine cannot push a late answer past it
    res, dev = run_pair(sc, slow_every=10, slow_s=0.03, speed=1.0, late=late, grace_s=2.0)
    assert res.run.status == "timeout"                      # the loop completed
    assert dev["deadline_misses"] >= dev["events"] // 10 - 1 >= 3
    assert res.to_json()["deadline_misses"] == dev["deadline_misses"]
    if late == "wait":      # within the 2 s grace: applied at their events, as simulated
        assert dev["late_applied"] == dev["deadline_misses"] and dev["commands_lost"] == 0
        assert res.run.miss_distance_m == pipeline.run(sc).miss_distance_m
    else:                   # hard real time: held, the late command applies one event late
        assert dev["commands_lost"] == dev["deadline_misses"]
