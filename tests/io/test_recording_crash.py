"""kill -9 a recording process at ≥ 20 random moments: every recording opens, every whole
frame written before the kill replays, and the torn tail is reported, never dropped.

The writer child is the one of tests/io/test_recording.py (imported, not copied). Half of
the trials run it as is (one ``write`` per message: a kill lands between messages); the
other half make its file write a few bytes per system call, as a slow disk or a power cut
would, so that most kills land inside a frame and leave a torn tail.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))   # also under --import-mode=append
from test_recording import CHILD, SRC, _message_ends  # noqa: E402

from xband.cli import main as cli_main  # noqa: E402
from xband.io.recording import read_recording  # noqa: E402

TRIALS = 24
BATCH = 4                     # children alive at once (2-core CI machines)
MAX_DELAY_S = 0.2             # kill within this long after the child is ready

_READY = '    print("ready", flush=True)\n'
_DRIBBLE = '''
class _Dribble:
    """The raw file, writing 1-16 bytes per call (the writer loops on partial writes)."""
    def __init__(self, f, rng):
        self.f, self.rng = f, rng
    def write(self, data):
        return self.f.write(bytes(data[:int(self.rng.integers(1, 17))]))
    def __getattr__(self, name):
        return getattr(self.f, name)
'''
assert _READY in CHILD, "tests/io/test_recording.py CHILD changed: update this test"
# the class is defined after the child's imports; the writer's raw file is wrapped once the
# header is on disk
DRIBBLE_CHILD = CHILD.replace("path, seed = ", _DRIBBLE + "path, seed = ", 1).replace(
    _READY, "    rec._f = _Dribble(rec._f, np.random.default_rng(seed + 1000))\n" + _READY)


def _check(path: Path, seed: int) -> dict:
    """Everything a killed recording must satisfy; returns what was found."""
    data = path.read_bytes()
    rec = read_recording(path)                 # opens: never raises on a torn file
    i = rec.integrity
    assert rec.header["seed"] == seed and rec.header["scenario"] == "crash"
    assert not rec.complete and rec.footer is None
    assert i.corrupt_frames == i.seq_gaps == i.bad_payloads == i.duplicates == 0
    # every whole frame (each ends with the 0x00 delimiter) was read …
    last = data.rfind(b"\x00")
    assert i.frames == data.count(b"\x00") and i.bytes == len(data)
    # … and the bytes after the last delimiter are reported as the torn tail
    assert i.torn_tail_bytes == len(data) - (last + 1)
    if i.torn_tail_bytes:
        assert f"torn_tail_bytes={i.torn_tail_bytes}" in i.summary()
    # every whole message replays; a message cut between its fragments is reported
    ends = _message_ends(data[:last + 1])
    assert len(rec.messages) == len(ends) - 1      # the header is not a message
    assert i.incomplete_messages == (1 if ends[-1] != last + 1 else 0)
    # in order and without a hole: detections k, command k, detections k+1, …
    kinds = [m.kind for m in rec.messages]
    assert kinds == ["detections", "command"] * (len(kinds) // 2) + \
        ["detections"] * (len(kinds) % 2)
    for j, msg in enumerate(rec.messages):
        k = j // 2
        assert msg.t == k / 1000
        if msg.kind == "command":
            assert msg.record.a_cmd[0, 0] == k
        else:
            assert np.array_equal(msg.record.range, k + np.arange(len(msg.record)))
    return {"torn": i.torn_tail_bytes, "incomplete": i.incomplete_messages,
            "messages": len(rec.messages)}


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs POSIX SIGKILL")
def test_sigkill_at_random_moments(tmp_path):
    rng = np.random.default_rng(20261129)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(SRC)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    found = []
    for b0 in range(0, TRIALS, BATCH):
        trials = list(range(b0, min(b0 + BATCH, TRIALS)))
        children = {}
        try:
            for trial in trials:
                code = DRIBBLE_CHILD if trial % 2 else CHILD
                children[trial] = subprocess.Popen(
                    [sys.executable, "-c", code, str(tmp_path / f"k{trial}.xrec"), str(trial)],
                    stdout=subprocess.PIPE, env=env)
            deadline = {}
            for trial, child in children.items():
                assert child.stdout.readline().strip() == b"ready", f"trial {trial} failed"
                deadline[trial] = time.monotonic() + float(rng.uniform(0.0, MAX_DELAY_S))
            for trial in sorted(deadline, key=deadline.get):
                time.sleep(max(0.0, deadline[trial] - time.monotonic()))
                os.kill(children[trial].pid, signal.SIGKILL)
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.kill()
                child.wait()
                child.stdout.close()
        for trial, child in children.items():
            assert child.returncode == -signal.SIGKILL, trial
            found.append((trial, _check(tmp_path / f"k{trial}.xrec", trial)))

    print("\n".join(f"trial {t:2d}: {f}" for t, f in found))
    assert len(found) == TRIALS >= 20
    dribbled = [f for t, f in found if t % 2]
    # kills inside a frame did happen, and were reported as torn tails
    assert sum(f["torn"] > 0 for f in dribbled) >= 3, found

    # the CLI reports the torn tail too
    trial = next((t for t, f in found if f["torn"]), None)
    assert trial is not None
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert cli_main(["replay", str(tmp_path / f"k{trial}.xrec"), "--json"]) == 0
    doc = json.loads(buf.getvalue())
    assert doc["complete"] is False
    assert doc["integrity"]["torn_tail_bytes"] == dict(found)[trial]["torn"] > 0
    assert doc["integrity"]["ok"] is False
