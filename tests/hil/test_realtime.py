"""``xband hil --rt-priority``: SCHED_FIFO for the host (and the emulator it starts), with
a clear error naming the fix when the OS refuses. The policy call itself is faked: the
tests must not change the scheduling of a shared CI machine."""
from __future__ import annotations

import os

import pytest

from xband.commands.hil import set_realtime
from xband.errors import ConfigError, HardwareError


def test_rt_priority_sets_sched_fifo(monkeypatch):
    calls = []
    monkeypatch.setattr(os, "sched_setscheduler",
                        lambda pid, pol, prm: calls.append((pid, pol, prm.sched_priority)),
                        raising=False)
    set_realtime(10)
    assert calls == [(0, os.SCHED_FIFO, 10)]
    with pytest.raises(ConfigError, match="1..99"):
        set_realtime(0)


def test_rt_priority_refused_names_the_fix(monkeypatch):
    def refuse(*a):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse, raising=False)
    with pytest.raises(HardwareError, match="CAP_SYS_NICE.*ulimit -r"):
        set_realtime(10)
