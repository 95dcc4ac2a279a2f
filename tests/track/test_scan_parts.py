"""The whole-scan kernel's combined estimate (ext/scan.pyx `_combine1`) on banks whose
models hold the combined components in another order.

`_combine1` reads a model's leading components that are the combined state's own leading
components (its identity prefix) without the inverse map, and the common shapes with
their sizes as constants; the other components through the map. Reordering the combined
components beyond position and velocity (which the gate and the deletion test read)
changes which path each entry takes but not its arithmetic, so the scan must give the
same states and decisions, and the combined estimates permuted, bit for bit.
"""
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

from xband import _kernels

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches"))
import _peers_scene as scn  # noqa: E402


def _modules():
    mods = [importlib.import_module("xband._ext.scan")]
    try:
        avx = importlib.import_module("xband._ext.scan_avx2")
    except ImportError:
        return mods
    if _kernels._cpu_has_avx2():
        mods.append(avx)
    return mods


def _step(mod, args, tr, d, t):
    """One scan_step of `mod` on tracker tr's current state (copied) with GnnScan(*args)."""
    n = tr._n
    cur = tr._bufs[tr._cur]
    state = [cur["x"][:n * tr._sd].copy(), cur["P"][:n * tr._sdd].copy(),
             cur["mu"][:n].copy(), cur["cbar"][:n].copy(), cur["book"].copy()]
    z = np.ascontiguousarray(np.stack([d.range, d.az, d.el, d.range_rate], 1))
    R = np.ascontiguousarray(d.R, np.float64)
    dt = t - tr.t if (tr.t is not None and n and t > tr.t) else 0.0
    F, Q = tr._matrices(dt if dt > 0 else 1.0)
    cap = n + z.shape[0]
    out = tr._new_bufs(cap)
    D = mod.GnnScan(*args).dim
    xc, Pc = np.full((cap, D), np.nan), np.full((cap, D, D), np.nan)
    counts = np.zeros(6, np.int64)
    n2 = mod.scan_step(mod.GnnScan(*args), *state, z, R, F, Q, dt, out["x"], out["P"],
                       out["mu"], out["cbar"], out["book"], xc, Pc, tr._next_id, counts)
    return n2, out, xc[:n2], Pc[:n2], counts


@pytest.mark.parametrize("perm_tail", [(9, 6, 7, 8), (7, 9, 8, 6), (8, 7, 6, 9)])
def test_reordered_union_gives_the_same_bits(perm_tail):
    if _kernels.backend() == "reference":
        pytest.skip("the compiled scan's paths")
    tr = scn.xband_tracker("imm")
    args = tr._scan.args
    D = tr._scan.dim
    assert D == 10                                # CV, CA, CT: x y z vx vy vz ax ay az ω
    perm = np.array(list(range(6)) + list(perm_tail))   # combined c → c'
    dims, pos = np.asarray(args[0]), np.array(args[4])
    for j in range(pos.shape[0]):
        pos[j, :dims[j]] = perm[pos[j, :dims[j]]]
    args_p = args[:4] + (pos,) + args[5:]
    scene = scn.random_scene(10, 10.0, 12, seed=3)
    for d, t in zip(scene.scans, scene.times):
        t = float(t)
        for mod in _modules():
            n2, out, xc, Pc, cnt = _step(mod, args, tr, d, t)
            m2, out_p, xc_p, Pc_p, cnt_p = _step(mod, args_p, tr, d, t)
            assert n2 == m2
            np.testing.assert_array_equal(cnt, cnt_p)
            for key, part in (("x", np.s_[:n2 * tr._sd]), ("P", np.s_[:n2 * tr._sdd]),
                              ("mu", np.s_[:n2]), ("cbar", np.s_[:n2]),
                              ("book", np.s_[:, :n2])):
                np.testing.assert_array_equal(out[key][part], out_p[key][part])
            np.testing.assert_array_equal(xc_p[:, perm], xc)
            np.testing.assert_array_equal(Pc_p[:, perm][:, :, perm], Pc)
        tr.step(d, t)
    assert tr._n > 0
