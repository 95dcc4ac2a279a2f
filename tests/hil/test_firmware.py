"""The firmware's C99 codec (hil/firmware/src), compiled with the host C compiler, against
every golden vector and against the Python codec both ways, and the firmware plant against
the host simulator's plant.

The compiled driver (hil/firmware/test/wire_driver.c) reads commands on stdin and prints a
canonical text of what the C codec decoded or encoded (its docstring is the format); this
module builds the same text from the vectors' JSON and from Python records."""
from __future__ import annotations

import importlib.util
import json
import math
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from xband.hil.codec import Decoder, Encoder, MsgType
from xband.hil.messages import Assembler, encode_payloads
from xband.types import Commands, Detections, PlantState, Tracks

ROOT = Path(__file__).resolve().parents[2]
FW = ROOT / "hil" / "firmware"
VEC = json.loads((ROOT / "hil" / "vectors" / "vectors.json").read_text())
CC = shutil.which("gcc") or shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="no host C compiler")

_spec = importlib.util.spec_from_file_location("make_vectors",
                                               ROOT / "hil" / "vectors" / "make_vectors.py")
GEN = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(GEN)

CFLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O2", f"-I{FW / 'src'}"]


def _build(tmp: Path, name: str, sources: list[Path]) -> Path:
    exe = tmp / name
    subprocess.run([CC, *CFLAGS, *map(str, sources), "-o", str(exe), "-lm"], check=True,
                   capture_output=True, timeout=120)
    return exe


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fw")
    return _build(tmp, "wire_driver", [FW / "src" / "xband_wire.c",
                                       FW / "test" / "wire_driver.c"])


def run(driver, commands: list[str]) -> list[list[str]]:
    """Send the commands, return the output lines of each (without its final "E")."""
    p = subprocess.run([str(driver)], input="\n".join(commands) + "\n", text=True,
                       capture_output=True, timeout=120, check=True)
    out, cur = [], []
    for line in p.stdout.splitlines():
        if line == "E":
            out.append(cur)
            cur = []
        else:
            cur.append(line)
    assert len(out) == len(commands), p.stderr
    return out


# ------------------------------------------------------------------ canonical text
def f64(v) -> str:
    x = GEN.j2f(v)
    return "nan" if math.isnan(x) else struct.pack(">d", x).hex()


def hx(b: bytes) -> str:
    return b.hex() if b else "-"


def canon_body(type_name: str, body: dict, text: bytes | None = None) -> list[str]:
    t = type_name
    if t == "HELLO":
        return [str(body[k]) for k in ("min_version", "max_version", "role")] + [
            str(int(body["reply"])), str(body["max_payload"]), str(body["capabilities"]),
            hx(body["name"].encode())]
    if t == "HEARTBEAT":
        return [str(body["echo_t_ns"]), str(body["hold_ns"])]
    if t == "ERROR":
        return [str(body["code"]), hx(body["text"].encode())]
    if t in ("META", "STATS"):
        return [hx(text if text is not None else body["text"].encode())]
    out = [str(body["count"])]
    if t == "TRACKS":
        out += [str(body["dim"]), str(body["modes"])]
    for it in body["items"]:
        if t == "DETECTIONS":
            out += [f64(it[k]) for k in ("range", "az", "el", "range_rate", "snr")]
            out += [f64(v) for v in it["R_upper"]]
        elif t == "STATE":
            out += [str(it["body_id"])] + [f64(v) for k in ("pos", "vel", "acc") for v in it[k]]
        elif t == "TRACKS":
            out += [str(it["id"]), str(int(it["confirmed"]))]
            out += [f64(v) for k in ("x", "P_upper", "mode_probs") for v in it[k]]
        elif t == "COMMAND":
            out += [f64(v) for v in it["a_cmd"]] + [f64(it["t_go"]), str(int(it["saturated"]))]
    return out


def canon_record(kind: str, record) -> tuple[str, list[str]]:
    """(TYPE, body tokens) of a Python record; text records are given as bytes."""
    t = GEN.MsgType[kind.upper()].name if kind != "truth" else "STATE"
    if t in ("META", "STATS"):
        return t, canon_body(t, {}, text=record)
    return t, canon_body(t, GEN.record_to_json(kind, record))


# ------------------------------------------------------------------ the vectors
def test_self_checks(driver):
    assert run(driver, ["C"]) == [["ok"]]


def test_every_vector_decodes_in_c(driver):
    vs = VEC["vectors"]
    outs = run(driver, [f"D {v['hex']}" for v in vs])
    for v, out in zip(vs, outs):
        frames = [ln for ln in out if ln.startswith("F ")]
        msgs = [ln for ln in out if ln.startswith("M ")]
        stats = dict(kv.split("=") for kv in out[-1].split()[1:])
        if v["message"] is None:                      # unknown type: counted and skipped
            assert frames == [] and msgs == [], v["name"]
            assert stats["unknown_types"] == "1"
            continue
        want = [f"F {h['version']} {h['msg_type']} {h['flags']} {h['seq']} {h['t_ns']} "
                f"{h['payload_len']} {hx(bytes.fromhex(f['payload_hex']))}"
                for f in v["frames"] for h in [f["header"]]]
        assert frames == want, v["name"]
        m = v["message"]
        body = " ".join(canon_body(m["type"], m["body"]))
        assert msgs == [f"M {VEC['msg_types'][m['type']]} {m['t_ns']} {body}"], v["name"]
        assert stats["frames_ok"] == str(len(v["frames"])) and stats["messages"] == "1"
        assert all(stats[k] == "0" for k in ("cobs_errors", "crc_errors", "seq_gaps",
                                             "incomplete_messages", "pending_bytes"))


def test_every_vector_encodes_in_c_byte_for_byte(driver):
    vs = [v for v in VEC["vectors"] if v["message"]]
    cmds = []
    for v in vs:
        m, h = v["message"], v["frames"][0]["header"]
        cmds.append(f"W {VEC['msg_types'][m['type']]} {h['seq']} {m['t_ns']} "
                    f"{VEC['max_payload']} " + " ".join(canon_body(m["type"], m["body"])))
    for v, out in zip(vs, run(driver, cmds)):
        assert out == [f"H {v['hex']}"], v["name"]


# ------------------------------------------------------------------ against the Python codec
def _random_records(rng, n_each: int):
    """(kind, record) pairs: every batch type with 0..80 items (so some split), NaN and
    ±inf values, and text, hello, heartbeat and error messages."""
    def vals(*shape):
        a = rng.normal(0.0, 1e4, shape)
        a[rng.random(shape) < 0.02] = np.nan
        a[rng.random(shape) < 0.01] = np.inf
        return a
    out = []
    for _ in range(n_each):
        k = int(rng.integers(0, 80))
        R = vals(k, 4, 4)
        R = np.triu(R) + np.triu(R, 1).transpose(0, 2, 1)
        out.append(("detections", Detections(t=np.zeros(k), range=vals(k), az=vals(k),
                                             el=vals(k), range_rate=vals(k), snr=vals(k), R=R)))
        k = int(rng.integers(0, 80))
        out.append(("state", PlantState(t=np.zeros(k), body_id=rng.integers(0, 2**32, k),
                                        pos=vals(k, 3), vel=vals(k, 3), acc=vals(k, 3))))
        k, dim, modes = int(rng.integers(0, 25)), int(rng.integers(1, 10)), int(rng.integers(1, 4))
        P = vals(k, dim, dim)
        P = np.triu(P) + np.triu(P, 1).transpose(0, 2, 1)
        out.append(("tracks", Tracks(id=rng.integers(-2**62, 2**62, k), t=np.zeros(k),
                                     x=vals(k, dim), P=P, confirmed=rng.random(k) < 0.5,
                                     mode_probs=vals(k, modes))))
        k = int(rng.integers(0, 200))
        out.append(("command", Commands(t=np.zeros(k), a_cmd=vals(k, 3), t_go=vals(k),
                                        saturated=rng.random(k) < 0.5)))
        text = json.dumps({"pad": "é" * int(rng.integers(0, 3000))}).encode()
        out.append(("stats" if rng.random() < 0.5 else "meta", text))
        out.append(("hello", GEN.Hello(role=int(rng.integers(0, 3)),
                                       name="dev-ü" * int(rng.integers(0, 10)),
                                       capabilities=int(rng.integers(0, 2**32)),
                                       max_payload=int(rng.integers(256, 4097)),
                                       min_version=1, max_version=int(rng.integers(1, 255)),
                                       reply=bool(rng.random() < 0.5))))
        out.append(("heartbeat", GEN.Heartbeat(int(rng.integers(-1, 2**62)),
                                               int(rng.integers(0, 2**40)))))
        out.append(("error", GEN.ErrorMessage(int(rng.integers(0, 9)),
                                              "oops ✗" * int(rng.integers(0, 5)))))
    return out


def _py_encode(kind, record, seq, t_ns, max_payload) -> bytes:
    enc = Encoder(seq=seq, max_payload=max_payload)
    mt = MsgType[kind.upper()]
    payloads = ([record[i:i + max_payload] for i in range(0, len(record), max_payload)]
                if kind in ("meta", "stats") else encode_payloads(kind, record, max_payload))
    return enc.encode(mt, payloads, t_ns)


def test_python_encodes_c_decodes_and_c_encodes_python_decodes(driver, rng):
    recs = _random_records(rng, 12)
    params = [(int(rng.integers(0, 2**32)), int(rng.integers(-2**40, 2**62)),
               int(rng.choice([512, 700, 1000, 4096]))) for _ in recs]
    wires = [_py_encode(k, r, *p) for (k, r), p in zip(recs, params)]
    canon = [canon_record(k, r) for k, r in recs]
    dec = run(driver, [f"D {w.hex()}" for w in wires])
    enc = run(driver, [f"W {int(MsgType[t])} {s} {tn} {mp} {' '.join(body)}"
                       for (t, body), (s, tn, mp) in zip(canon, params)])
    for (kind, _), (t, body), (s, tn, mp), wire, d, e in zip(recs, canon, params, wires, dec, enc):
        msgs = [ln for ln in d if ln.startswith("M ")]
        assert msgs == [f"M {int(MsgType[t])} {tn} {' '.join(body)}"], kind
        assert e == [f"H {wire.hex()}"], kind         # byte for byte the Python encoding
        frames = list(_decode_py(bytes.fromhex(e[0][2:]))[0])
        assert len(frames) == 1
        assert canon_record(kind, _text_or_record(kind, frames[0], wire)) == (t, body)


def _text_or_record(kind, msg, wire):
    if kind in ("meta", "stats"):
        dec = Decoder()
        dec.feed(wire)
        return b"".join(f.payload for f in dec)
    return msg.record


def _decode_py(data: bytes):
    dec, asm = Decoder(), Assembler()
    dec.feed(data)
    msgs, frames = [], []
    for f in dec:
        frames.append(f)
        m = asm.push(f)
        if m is not None:
            msgs.append(m)
    asm.flush()
    return msgs, frames, dec, asm


def _damaged_stream(rng, n_frames: int) -> bytes:
    """Frames of every kind (some split), then damage: bit flips, truncations, deleted and
    duplicated frames, swapped neighbours, random garbage, an oversized run, a seq jump."""
    enc = Encoder(seq=int(rng.integers(0, 2**32)))
    frames = []
    recs = _random_records(rng, max(1, n_frames // 8))
    for kind, rec in recs:
        data = (_py_encode(kind, rec, enc.seq, int(rng.integers(0, 2**40)), 4096))
        enc.seq = (enc.seq + data.count(0)) & 0xFFFFFFFF
        frames += [c + b"\x00" for c in data.split(b"\x00")[:-1]]
    out = []
    i = 0
    while i < len(frames):
        f = bytearray(frames[i])
        r = rng.random()
        if r < 0.05 and len(f) > 2:
            f[int(rng.integers(0, len(f) - 1))] ^= 1 << int(rng.integers(0, 8))
        elif r < 0.08:
            f = f[:int(rng.integers(0, len(f)))] + b"\x00"
        elif r < 0.11:
            f = bytearray()                               # lost
        elif r < 0.14:
            f = f + f                                     # duplicated
        elif r < 0.17 and i + 1 < len(frames):
            f = bytearray(frames[i + 1]) + f              # reordered
            i += 1
        elif r < 0.19:
            f = bytearray(rng.integers(0, 256, int(rng.integers(1, 60))).astype(np.uint8)) + f
        elif r < 0.2:
            f = bytearray(b"\x01" * 5000) + f             # oversize run
        out.append(bytes(f))
        i += 1
    return b"".join(out)


def test_c_and_python_receivers_agree_on_damaged_streams(driver, rng):
    streams = [_damaged_stream(rng, 200) for _ in range(6)]
    streams.append(bytes(rng.integers(0, 256, 20000).astype(np.uint8)))   # pure noise
    outs = run(driver, [f"D {hx(s)}" for s in streams])
    seen = {}
    for s, out in zip(streams, outs):
        msgs, frames, dec, asm = _decode_py(s)
        cf = [ln for ln in out if ln.startswith("F ")]
        want = [f"F {f.version} {int(f.msg_type)} {f.flags} {f.seq} {f.t_ns} {len(f.payload)} "
                f"{hx(f.payload)}" for f in frames]
        assert cf == want
        stats = dict(kv.split("=") for kv in out[-1].split()[1:])
        py = dec.stats.as_dict()
        for k in ("cobs_errors", "truncated", "crc_errors", "length_errors", "oversize",
                  "version_errors", "unknown_types", "seq_gaps", "gap_events", "duplicates",
                  "reordered", "seq_resets"):
            assert int(stats[k]) == py[k], k
            seen[k] = seen.get(k, 0) + py[k]
        assert int(stats["frames_ok"]) == py["frames_ok"]
        assert int(stats["incomplete_messages"]) == asm.incomplete
        # text messages are not JSON-checked in C, so C may deliver more; batches agree
        cm = [ln for ln in out if ln.startswith("M ") and int(ln.split()[1]) >= 0x10]
        pm = [ln for ln in (f"M {int(MsgType[m.kind.upper()])} {round(m.t * 1e9)} "
                            + " ".join(canon_record(m.kind, m.record)[1]) for m in msgs
                            if MsgType[m.kind.upper()] >= 0x10)]
        assert len(cm) == len(pm)
    for k in ("cobs_errors", "crc_errors", "oversize", "seq_gaps", "duplicates", "reordered"):
        assert seen[k] > 0, f"the damaged streams never exercised {k}"


# ------------------------------------------------------------------ the plant
PLANT_MAIN = r"""
#include <stdio.h>
#include "xband_plant.h"
int main(void) {
    double m[9], tg[9], a[3], tau, dt; long n;
    if (scanf("%lf %lf %ld", &tau, &dt, &n) != 3) return 1;
    for (int i = 0; i < 9; i++) scanf("%lf", &m[i]);
    for (int i = 0; i < 9; i++) scanf("%lf", &tg[i]);
    for (int i = 0; i < 3; i++) scanf("%lf", &a[i]);
    xb_plant pl; xb_plant_init(&pl, m, tg, tau);
    for (int i = 0; i < 3; i++) pl.a_cmd[i] = a[i];
    xb_plant_advance(&pl, dt, n, 0.0);
    for (int i = 0; i < 9; i++) printf("%.17g ", pl.m[i]);
    printf("%d %.17g %.17g\n", pl.done, pl.t_cpa, pl.miss);
    return 0;
}
"""


def test_firmware_plant_matches_the_host_plant(tmp_path):
    from xband.guide.plant import Plant

    (tmp_path / "plant_main.c").write_text(PLANT_MAIN)
    exe = _build(tmp_path, "plant", [FW / "src" / "xband_plant.c", FW / "src" / "xband_wire.c",
                                     tmp_path / "plant_main.c"])
    m = np.array([0, 0, 0, 180.0, 560.0, 130.0, 0, 0, 0])
    tg = np.array([6000.0, 9000.0, 3000.0, -120.0, -230.0, 0.0, 0, 0, 0])
    a = np.array([5.0, -20.0, 3.0])
    for tau, n in ((0.2, 2000), (0.0, 500), (0.2, 20000)):
        text = f"{tau!r} 0.001 {n} " + " ".join(repr(float(x)) for x in [*m, *tg, *a])
        got = subprocess.run([str(exe)], input=text, capture_output=True, text=True,
                             timeout=60, check=True).stdout.split()
        pl = Plant(m, tg, tau)
        pl.advance(a[None, :], 0.001, n, 0.0)
        np.testing.assert_allclose([float(x) for x in got[:9]], pl.m[0], rtol=1e-9, atol=1e-6)
        assert int(got[9]) == int(pl.done[0])
        if pl.done[0]:
            assert float(got[10]) == pytest.approx(pl.cpa[0, 0], abs=1e-9)
            assert float(got[11]) == pytest.approx(pl.cpa[0, 1], rel=1e-6, abs=1e-6)


def test_firmware_builds_with_warnings_as_errors_and_no_malloc(tmp_path):
    for src in (FW / "src").glob("*.c"):
        subprocess.run([CC, *CFLAGS, "-Wconversion", "-Wshadow", "-c", str(src), "-o",
                        str(tmp_path / (src.stem + ".o"))], check=True, capture_output=True,
                       timeout=120)
        text = src.read_text()
        assert "malloc" not in text and "free(" not in text, src
