"""The compiled IMM mixing/combination kernels equal their numpy twin (xband.reference.imm)
and a direct per-model-pair evaluation of the IMM equations, on random banks of models of
different state sizes."""
import numpy as np
import pytest

from xband._ext import imm as c_imm
from xband.reference import imm as r_imm
from xband.track.imm import IMM
from xband.track.models import ModelSpec

pytestmark = pytest.mark.reference_rerun
SIZES = [0, 1, 7, 64]
BANKS = {"cv/ca/ct": ("cv", "ca", "ct"), "cv/cv/cv": ("cv", "cv", "cv"),
         "ct/singer": ("ct", "singer"), "ca": ("ca",)}


def _bank(rng, kinds, n):
    r = len(kinds)
    Pi = rng.uniform(0.05, 1.0, (r, r)) + np.eye(r) * 3
    Pi /= Pi.sum(1, keepdims=True)
    imm = IMM([ModelSpec(k) for k in kinds], Pi)
    for j, m in enumerate(imm.models):
        d = m.dim
        A = rng.normal(size=(n, d, d))
        imm.xs[j] = np.ascontiguousarray(rng.normal(size=(n, d)) * 100)
        imm.Ps[j] = np.ascontiguousarray(A @ A.transpose(0, 2, 1) + d * np.eye(d))
    mu = rng.uniform(0.01, 1.0, (n, r))
    imm.mu = mu / mu.sum(1, keepdims=True)
    imm.cbar = imm.mu.copy()
    return imm


def _direct_mix(imm):
    """The IMM interaction written per model pair (unbiased mixing, see track.imm)."""
    r = len(imm.models)
    cbar = imm.mu @ imm.Pi
    w = imm.Pi[None, :, :] * imm.mu[:, :, None] / cbar[:, None, :]
    out = []
    for j in range(r):
        conv = []
        for i in range(r):
            shared, src, own = imm._maps[i, j]
            x = imm.xs[j].copy()
            P = np.zeros_like(imm.Ps[j])
            x[:, shared] = imm.xs[i][:, src]
            P[:, shared[:, None], shared[None, :]] = imm.Ps[i][:, src[:, None], src[None, :]]
            if own.size:
                P[:, own[:, None], own[None, :]] = imm.Ps[j][:, own[:, None], own[None, :]]
            conv.append((x, P))
        x0 = sum(w[:, i, j, None] * conv[i][0] for i in range(r))
        P0 = sum(w[:, i, j, None, None] * (conv[i][1] + (conv[i][0] - x0)[:, :, None]
                                           * (conv[i][0] - x0)[:, None, :]) for i in range(r))
        out.append((x0, 0.5 * (P0 + np.swapaxes(P0, 1, 2))))
    return cbar, out


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bank", list(BANKS))
def test_imm_mix(rng, n, bank):
    imm = _bank(rng, BANKS[bank], n)
    xbuf, Pbuf = imm._packed()
    r = len(imm.models)
    outs = []
    for mod in (c_imm, r_imm):
        xo, Po, cb = np.full_like(xbuf, np.nan), np.full_like(Pbuf, np.nan), np.empty((n, r))
        mod.imm_mix(xbuf, Pbuf, imm._dims, imm._mix_maps, imm.Pi, imm.mu, xo, Po, cb)
        outs.append((xo, Po, cb))
    (xa, Pa, ca), (xb, Pb, cb) = outs
    np.testing.assert_allclose(xa, xb, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(Pa, Pb, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(ca, cb, rtol=1e-13)
    if n:
        cbar, direct = _direct_mix(imm)
        np.testing.assert_allclose(ca, cbar, rtol=1e-13)
        imm._unpack(xa, Pa, n)
        for j, (x0, P0) in enumerate(direct):
            np.testing.assert_allclose(imm.xs[j], x0, rtol=1e-12, atol=1e-10)
            np.testing.assert_allclose(imm.Ps[j], P0, rtol=1e-12, atol=1e-9)
            np.testing.assert_array_equal(imm.Ps[j], np.swapaxes(imm.Ps[j], 1, 2))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bank", list(BANKS))
def test_imm_combine(rng, n, bank):
    imm = _bank(rng, BANKS[bank], n)
    xbuf, Pbuf = imm._packed()
    D = imm.dim
    outs = []
    for mod in (c_imm, r_imm):
        x, P = np.full((n, D), np.nan), np.full((n, D, D), np.nan)
        mod.imm_combine(xbuf, Pbuf, imm._dims, imm._pos, imm.mu, x, P)
        outs.append((x, P))
    np.testing.assert_allclose(outs[0][0], outs[1][0], rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(outs[0][1], outs[1][1], rtol=1e-12, atol=1e-9)
    if n:                                  # direct: embed, weight, spread of the means
        x = np.zeros((n, D))
        emb = []
        for j, p in enumerate(imm.out_pos):
            xe, Pe = np.zeros((n, D)), np.zeros((n, D, D))
            xe[:, p] = imm.xs[j]
            Pe[:, p[:, None], p[None, :]] = imm.Ps[j]
            emb.append((xe, Pe))
            x += imm.mu[:, j, None] * xe
        P = sum(imm.mu[:, j, None, None] * (Pe + (xe - x)[:, :, None] * (xe - x)[:, None, :])
                for j, (xe, Pe) in enumerate(emb))
        np.testing.assert_allclose(outs[0][0], x, rtol=1e-12, atol=1e-10)
        np.testing.assert_allclose(outs[0][1], P, rtol=1e-12, atol=1e-9)
        np.testing.assert_array_equal(outs[0][1], np.swapaxes(outs[0][1], 1, 2))


def test_packed_views_survive_copies(rng):
    """A deep copy (the benches snapshot trackers) or a replaced model array re-packs."""
    import copy

    imm = _bank(rng, BANKS["cv/ca/ct"], 5)
    imm.predict(0.1)
    twin = copy.deepcopy(imm)
    twin.xs[0][:] += 1.0                   # in place on the copy's (no longer view) arrays
    twin.predict(0.1)
    imm.xs[0][:] += 1.0
    imm.predict(0.1)
    for a, b in zip(imm.estimate()[:2], twin.estimate()[:2]):
        np.testing.assert_allclose(a, b, rtol=1e-13)
    imm.xs[1] = imm.xs[1].copy()
    imm.xs[1][:] = 0.0
    imm._changed()
    x = imm.estimate()[0]                  # combined from the replaced array
    np.testing.assert_allclose(x[:, :6], sum(imm.mu[:, j, None] * imm.xs[j][:, :6]
                                             for j in (0, 2)))
    assert imm.xs[1].base is imm._buf[0]


def _predict_inputs(imm, dt):
    F, Q = imm._predict_matrices(dt)
    return imm._kinds, F, Q


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bank", list(BANKS))
def test_imm_mix_predict(rng, n, bank):
    """The fused kernel equals its twin (imm_mix, then each model's reference prediction)
    and, bit for bit, the compiled imm_mix followed by the compiled kf_predict/ct_predict
    (the path it replaces), CT turn rates on both sides of the series branch."""
    from xband._ext import kalman as c_kalman

    imm = _bank(rng, BANKS[bank], n)
    for j, m in enumerate(imm.models):
        if m.kind == "ct" and n:
            om = rng.normal(size=n) * 0.3
            om[::3] = rng.normal(size=om[::3].size) * 1e-6      # |ωT| < 1e-4: series
            imm.xs[j][:, 6] = om
    xbuf, Pbuf = imm._packed()
    r, dt = len(imm.models), 0.7
    kinds, F, Q = _predict_inputs(imm, dt)
    outs = []
    for mod in (c_imm, r_imm):
        x, P, cb = xbuf.copy(), Pbuf.copy(), np.full((n, r), np.nan)
        mod.imm_mix_predict(x, P, imm._dims, imm._mix_maps, imm.Pi, imm.mu, cb, kinds, F, Q,
                            dt)
        outs.append((x, P, cb))
    (xa, Pa, ca), (xb, Pb, cb) = outs
    np.testing.assert_allclose(xa, xb, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(Pa, Pb, rtol=1e-11, atol=1e-8)
    np.testing.assert_allclose(ca, cb, rtol=1e-13)
    # the unfused compiled path
    xo, Po, c2 = np.empty_like(xbuf), np.empty_like(Pbuf), np.empty((n, r))
    c_imm.imm_mix(xbuf, Pbuf, imm._dims, imm._mix_maps, imm.Pi, imm.mu, xo, Po, c2)
    imm._unpack(xo, Po, n)
    for j, m in enumerate(imm.models):
        lin = m.linear(dt)
        if n and lin is None:
            c_kalman.ct_predict(imm.xs[j], imm.Ps[j], dt, _ct_q(imm, j, dt))
        elif n:
            c_kalman.kf_predict(imm.xs[j], imm.Ps[j], lin[0], lin[1])
    np.testing.assert_array_equal(xa, xo)
    np.testing.assert_array_equal(Pa, Po)
    np.testing.assert_array_equal(ca, c2)


def _ct_q(imm, j, dt):
    from xband.track.models import ct_noise

    m = imm.models[j]
    return ct_noise(dt, m.q, m.q_omega)


def test_imm_predict_inputs(rng):
    """Bad input is named: too many models for the kernels' buffers, a non-finite dt."""
    from xband.errors import ConfigError, InputError
    from xband.track.imm import MAX_MODELS

    with pytest.raises(ConfigError, match="at most"):
        IMM([ModelSpec("cv")] * (MAX_MODELS + 1), np.eye(MAX_MODELS + 1))
    imm = _bank(rng, BANKS["cv/ca/ct"], 3)
    with pytest.raises(InputError, match="dt"):
        imm.predict(float("nan"))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("bank", list(BANKS))
@pytest.mark.parametrize("sel", [(0, 1, 2), (3, 4), (2, 0, 1, 5)])
def test_imm_update_sel(rng, n, bank, sel):
    """Every model's linear update in one call equals the numpy twin up to round-off and,
    bit for bit, one compiled kf_update per model (the path it replaces), with its skipped
    rows: non-finite z or R (every model), S not positive definite."""
    from xband._ext import kalman as c_kalman

    imm = _bank(rng, BANKS[bank], n)
    xbuf, Pbuf = imm._packed()
    r, m = len(imm.models), len(sel)
    sel = np.array(sel, np.int64)
    z = imm.xs[0][:, sel] + rng.normal(size=(n, m)) * 30.0
    A = rng.normal(size=(n, m, m))
    R = np.ascontiguousarray(A @ A.transpose(0, 2, 1) * 25.0 + 10.0 * np.eye(m))
    if n > 5:
        z[1, m - 1] = np.nan
        R[2, 0, 1] = np.inf
        R[3, 0, 0] = -1e12                 # S not positive definite in every model
    outs = []
    for mod in (c_imm, r_imm):
        x, P = xbuf.copy(), Pbuf.copy()
        nis, ll, st = np.full((r, n), 7.0), np.full((r, n), 7.0), np.full((r, n), 9, np.int8)
        mod.imm_update_sel(x, P, imm._dims, sel, z, R, nis, ll, st)
        outs.append((x, P, nis, ll, st))
    (xa, Pa, na, la, sa), (xb, Pb, nb, lb, sb) = outs
    np.testing.assert_array_equal(sa, sb)
    np.testing.assert_allclose(xa, xb, rtol=1e-12, atol=1e-8)
    np.testing.assert_allclose(Pa, Pb, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(na, nb, rtol=1e-9)
    np.testing.assert_allclose(la, lb, rtol=1e-9)
    imm._unpack(xbuf.copy(), Pbuf.copy(), n)           # per model, compiled kf_update
    for j, mdl in enumerate(imm.models):
        H = np.zeros((m, mdl.dim))
        H[np.arange(m), sel] = 1.0
        nis, ll, st = np.empty(n), np.empty(n), np.empty(n, np.int8)
        if n:
            c_kalman.kf_update(imm.xs[j], imm.Ps[j], z, H, R, nis, ll, st)
        for a, b in ((nis, na[j]), (ll, la[j]), (st, sa[j])):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(imm._buf[0], xa)
    np.testing.assert_array_equal(imm._buf[1], Pa)
    if n > 5:
        assert np.all(sa[:, 1:3] == 1) and np.all(sa[:, 3] == 2) and np.all(sa[:, 4:] == 0)
        assert np.all(np.isnan(na[:, 1:4])) and np.all(np.isnan(la[:, 1:4]))
