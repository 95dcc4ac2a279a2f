"""The four-track blocks of ext/_kalman.pxi and ext/_imm.pxi (structure of arrays, taken in
the AVX2 builds ext/isa/kalman_avx2.pyx and imm_avx2.pyx only) give the same bits as the
one-track routines of the baseline builds: kf_step, kf_update, imm_mix_predict and
imm_update_sel, with batch sizes that leave every possible tail (n mod 4), and rows whose
measurement is not finite or whose innovation covariance is not positive definite at
every lane position of a block."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

from xband import _kernels
from xband._ext import imm as base_imm
from xband._ext import kalman as base_kf
from xband.track.imm import IMM
from xband.track.models import ModelSpec, cv_matrices


def _avx2(stem):
    try:
        mod = importlib.import_module(f"xband._ext.{stem}_avx2")
    except ImportError:
        pytest.skip(f"no AVX2 build of {stem} on this platform (x86-64 only)")
    if not _kernels._cpu_has_avx2():
        pytest.skip("this CPU has no AVX2")
    return mod


SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 13, 17, 18, 19, 64]


def _same(a, b):
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and u.shape == v.shape
        assert np.array_equal(u, v, equal_nan=True), "results differ"
        if u.dtype.kind == "f":     # and the bits (signs of zeros) of every non-NaN value;
            # a NaN result may differ in its sign bit: the compiler may swap the operands of
            # a commutative + or ×, which picks which NaN operand propagates
            ok = ~np.isnan(u)
            assert np.array_equal(u[ok].view(np.int64), v[ok].view(np.int64))


def _tracks(rng, n, d):
    A = rng.normal(size=(n, d, d))
    x = rng.normal(size=(n, d)) * 100
    P = A @ A.transpose(0, 2, 1) * 10 + d * np.eye(d)
    return np.ascontiguousarray(x), np.ascontiguousarray(P)


def _measurements(rng, x, bad):
    """z near x[:, :3], a random SPD R per row; rows of ``bad`` spoilt in turn: NaN z,
    infinite R, S not positive definite (R far negative)."""
    n = x.shape[0]
    B = rng.normal(size=(n, 3, 3))
    R = B @ B.transpose(0, 2, 1) + np.eye(3) * 4
    z = x[:, :3] + rng.normal(size=(n, 3)) * 5
    for k, i in enumerate(bad):
        if i < n:
            if k % 3 == 0:
                z[i, (k // 3) % 3] = np.nan
            elif k % 3 == 1:
                R[i, 2, 1] = np.inf
            else:
                R[i] = -1e9 * np.eye(3)
    return np.ascontiguousarray(z), np.ascontiguousarray(R)


def _F(model, d, dt=0.1):
    if model == "cv":
        return cv_matrices(dt, 3.0)
    if model == "ca":
        phi = np.array([[1.0, dt, dt * dt / 2], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
        Q = np.kron(np.diag([0.01, 0.1, 1.0]), np.eye(3))
        return np.kron(phi, np.eye(3)), Q
    rng = np.random.default_rng(5)                  # a general F (no Φ ⊗ I₃ structure)
    return np.eye(d) + rng.normal(size=(d, d)) * 0.05, np.eye(d) * 0.5


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("model,d", [("cv", 6), ("ca", 9), ("general", 6), ("general", 7)])
def test_kf_step_blocks_same_bits(rng, n, model, d):
    avx = _avx2("kalman")
    F, Q = _F(model, d)
    x0, P0 = _tracks(rng, n, d)
    z, R = _measurements(rng, x0, bad=[1, 6, 11, 0, 7, 9])
    H = np.hstack([np.eye(3), np.zeros((3, d - 3))])
    out = []
    for mod in (base_kf, avx):
        x, P = x0.copy(), P0.copy()
        res = [mod.kf_step(x, P, F, Q, z, H, R, None, None, None) for _ in range(3)]
        out.append([x, P] + [a for r in res for a in r])
    _same(*out)
    assert n <= 2 or (out[0][4] == 0).any()         # some rows updated


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("d", [6, 7, 9])
@pytest.mark.parametrize("H_kind", ["pos", "vel", "dense"])
def test_kf_update_blocks_same_bits(rng, n, d, H_kind):
    avx = _avx2("kalman")
    x0, P0 = _tracks(rng, n, d)
    z, R = _measurements(rng, x0, bad=[3, 4, 10, 2])
    H = np.zeros((3, d))
    if H_kind == "pos":
        H[:, :3] = np.eye(3)
    elif H_kind == "vel":
        H[:, 3:6] = np.eye(3)
    else:
        H = rng.normal(size=(3, d))
    out = []
    for mod in (base_kf, avx):
        x, P = x0.copy(), P0.copy()
        nis, ll, st = np.empty(n), np.empty(n), np.empty(n, np.int8)
        mod.kf_update(x, P, z, H, R, nis, ll, st)
        out.append([x, P, nis, ll, st])
    _same(*out)


BANKS = {"cv/ca/ct": ("cv", "ca", "ct"), "cv/cv/cv": ("cv", "cv", "cv"),
         "ct/singer": ("ct", "singer"), "ca": ("ca",), "ct": ("ct",)}


def _bank(rng, kinds, n):
    r = len(kinds)
    Pi = rng.uniform(0.05, 1.0, (r, r)) + np.eye(r) * 3
    Pi /= Pi.sum(1, keepdims=True)
    specs = [ModelSpec(k, q_omega=1e-3) if k == "ct" else ModelSpec(k) for k in kinds]
    imm = IMM(specs, Pi)
    for j, m in enumerate(imm.models):
        x, P = _tracks(rng, n, m.dim)
        if m.kind == "ct":                          # turn rates on both sides of the
            x[:, 6] = rng.normal(size=n) * 0.3      # series form's threshold
            x[::3, 6] = rng.normal(size=x[::3, 6].shape) * 1e-6
        imm.xs[j], imm.Ps[j] = x, P
    mu = rng.uniform(0.01, 1.0, (n, r))
    imm.mu = mu / mu.sum(1, keepdims=True)
    imm.cbar = imm.mu.copy()
    return imm


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bank", list(BANKS))
def test_imm_mix_predict_blocks_same_bits(rng, n, bank):
    avx = _avx2("imm")
    imm = _bank(rng, BANKS[bank], n)
    xbuf, Pbuf = imm._packed()
    F, Q = imm._predict_matrices(0.2)
    r = len(imm.models)
    out = []
    for mod in (base_imm, avx):
        x, P, cbar = xbuf.copy(), Pbuf.copy(), np.empty((n, r))
        mod.imm_mix_predict(x, P, imm._dims, imm._mix_maps, imm.Pi, imm.mu, cbar,
                            imm._kinds, F, Q, 0.2)
        out.append([x, P, cbar])
    _same(*out)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bank", ["cv/ca/ct", "ct/singer"])
@pytest.mark.parametrize("sel", [(0, 1, 2), (1, 0, 2), (3, 4, 5)])
def test_imm_update_sel_blocks_same_bits(rng, n, bank, sel):
    avx = _avx2("imm")
    imm = _bank(rng, BANKS[bank], n)
    xbuf, Pbuf = imm._packed()
    r = len(imm.models)
    z, R = _measurements(rng, imm.xs[0][:, list(sel)] if n else np.zeros((0, 3)),
                         bad=[5, 2, 8, 1])
    out = []
    for mod in (base_imm, avx):
        x, P = xbuf.copy(), Pbuf.copy()
        nis, ll, st = np.empty((r, n)), np.empty((r, n)), np.empty((r, n), np.int8)
        mod.imm_update_sel(x, P, imm._dims, np.array(sel, np.int64), z, R, nis, ll, st)
        out.append([x, P, nis, ll, st])
    _same(*out)


def test_imm_cycle_loaded_variant_same_bits(rng, monkeypatch):
    """The whole IMM cycle through the Python wrappers (the loader's pick) equals the
    baseline build's."""
    _avx2("imm")
    _avx2("kalman")
    n = 37
    res = []
    for isa in ("baseline", "avx2"):
        monkeypatch.setenv("XBAND_ISA", isa)
        _kernels.set_backend("cython")
        assert _kernels.get("imm").__name__.endswith("_avx2") == (isa == "avx2")
        imm = _bank(np.random.default_rng(3), ("cv", "ca", "ct"), n)
        H = np.hstack([np.eye(3), np.zeros((3, 3))])
        z = imm.xs[0][:, :3] + 1.0
        R = np.diag([25.0, 16.0, 9.0])
        for _ in range(4):
            imm.predict(0.1)
            imm.update_linear(z, H, R)
        x, P, mu = imm.estimate()
        res.append([x, P, mu])
    monkeypatch.delenv("XBAND_ISA")
    _kernels.set_backend()
    _same(*res)


@pytest.mark.parametrize("stem", ["kalman", "imm", "scan"])
def test_blocks_are_on_in_the_avx2_builds_only(stem):
    """The comparisons above test the blocks only if the AVX2 builds take them."""
    base = importlib.import_module(f"xband._ext.{stem}")
    assert base._SOA_BLOCKS is False
    assert _avx2(stem)._SOA_BLOCKS is True
