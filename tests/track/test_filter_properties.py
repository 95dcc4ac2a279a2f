"""Filter properties from the literature: α-β steady state, NEES/NIS consistency, IMM vs
single models on a maneuvering target, covariance health over 10⁶ steps."""
import numpy as np
import pytest

from xband import metrics
from xband.track import filters
from xband.track.imm import IMM, SingleModel
from xband.track.models import ModelSpec, cv_matrices

pytestmark = pytest.mark.reference_rerun

H = np.hstack([np.eye(3), np.zeros((3, 3))])


def dwna(T, sv):
    """Discrete white-noise acceleration model (Bar-Shalom §6.3.2): the α-β filter's."""
    G = np.array([T * T / 2, T])
    F = np.kron(np.array([[1.0, T], [0.0, 1.0]]), np.eye(3))
    Q = np.kron(np.outer(G, G) * sv ** 2, np.eye(3))
    return F, Q


@pytest.mark.parametrize("lam", [0.05, 0.5, 2.0, 10.0])
def test_steady_state_gains_are_alpha_beta(backend, lam):
    """Kalata (1984): with tracking index λ = σ_v T²/σ_w the steady-state gains are
    α = −(λ² + 8λ − (λ + 4)√(λ² + 8λ))/8,  β = (λ² + 4λ − λ√(λ² + 8λ))/4."""
    T, sw = 0.1, 10.0
    sv = lam * sw / T ** 2
    F, Q = dwna(T, sv)
    R = np.eye(3) * sw ** 2
    x = np.zeros((1, 6))
    P = np.eye(6)[None] * 1e6
    for _ in range(5000):
        filters.predict(x, P, F, Q)
        filters.update(x, P, np.zeros((1, 3)), H, R)
    filters.predict(x, P, F, Q)
    x[:] = 0.0
    filters.update(x, P, np.ones((1, 3)), H, R)   # innovation 1 → Δx = K
    r = np.sqrt(lam * lam + 8 * lam)
    alpha = -(lam * lam + 8 * lam - (lam + 4) * r) / 8
    beta = (lam * lam + 4 * lam - lam * r) / 4
    np.testing.assert_allclose(x[0, :3], alpha, rtol=1e-9)
    np.testing.assert_allclose(x[0, 3:] * T, beta, rtol=1e-9)


def _cv_truth(rng, runs, steps, dt, q):
    F, Q = cv_matrices(dt, q)
    Lq = np.linalg.cholesky(Q)
    x = np.zeros((runs, steps, 6))
    x[:, 0, :3] = [5000.0, 8000.0, 2000.0]
    x[:, 0, 3:] = [-100.0, -150.0, 10.0]
    for k in range(1, steps):
        x[:, k] = x[:, k - 1] @ F.T + rng.standard_normal((runs, 6)) @ Lq.T
    return x


def test_cv_nees_and_nis_consistent(rng, backend):
    """Matched-model Monte Carlo: the run-averaged NEES and NIS stay in their 95 % χ²
    bands (allowing the 5 % of steps a 95 % band leaves out, with margin)."""
    runs, steps, dt, q = 100, 150, 0.1, 5.0
    truth = _cv_truth(rng, runs, steps, dt, q)
    R = np.diag([25.0, 25.0, 100.0])
    F, Q = cv_matrices(dt, q)
    x = truth[:, 0] + rng.multivariate_normal(np.zeros(6), np.diag([400.0] * 3 + [100.0] * 3), runs)
    P = np.tile(np.diag([400.0] * 3 + [100.0] * 3), (runs, 1, 1))
    x = np.ascontiguousarray(x)
    e_nees, e_nis = [], []
    for k in range(1, steps):
        filters.predict(x, P, F, Q)
        z = truth[:, k, :3] + rng.multivariate_normal(np.zeros(3), R, runs)
        nis, _, st = filters.update(x, P, z, H, R)
        assert np.all(st == 0)
        e_nis.append(nis.mean())
        e_nees.append(metrics.nees(x, P, truth[:, k]).mean())
    lo6, hi6 = metrics.chi2_band(6, runs)
    lo3, hi3 = metrics.chi2_band(3, runs)
    inside_nees = np.mean((np.array(e_nees) > lo6) & (np.array(e_nees) < hi6))
    inside_nis = np.mean((np.array(e_nis) > lo3) & (np.array(e_nis) < hi3))
    assert inside_nees > 0.88 and inside_nis > 0.88, (inside_nees, inside_nis)
    assert abs(np.mean(e_nees) - 6) < 0.3 and abs(np.mean(e_nis) - 3) < 0.15


def _turning_truth(dt, steps):
    """Straight 8 s, a 4 g coordinated turn for 6 s, straight 4 s, a 2 g along-track
    acceleration for 5 s, straight again: states (steps, 6), integrated finely."""
    p, v = np.array([0.0, 0.0, 3000.0]), np.array([250.0, 0.0, 0.0])
    out = np.empty((steps, 6))
    sub = 20
    h = dt / sub
    for k in range(steps):
        out[k] = np.r_[p, v]
        for _ in range(sub):
            t = k * dt
            speed = np.linalg.norm(v)
            if 8.0 <= t < 14.0:                           # turn: a ⟂ v, 4 g
                a = 4 * 9.80665 * np.array([-v[1], v[0], 0.0]) / speed
            elif 18.0 <= t < 23.0:                        # along-track 2 g
                a = 2 * 9.80665 * v / speed
            else:
                a = np.zeros(3)
            p = p + v * h + 0.5 * a * h * h
            v = v + a * h
    return out


def test_imm_beats_every_single_model_on_a_maneuver(rng, backend):
    dt, steps, runs = 0.1, 280, 15
    truth = _turning_truth(dt, steps)
    R = np.eye(3) * 15.0 ** 2
    specs = [ModelSpec("cv", q=1.0), ModelSpec("ca", q=50.0),
             ModelSpec("ct", q=1.0, q_omega=1e-3)]
    Pi = np.full((3, 3), 0.025) + np.eye(3) * 0.925
    banks = {"imm": lambda: IMM(specs, Pi)} | {s.kind: (lambda s=s: SingleModel(s)) for s in specs}
    err = {name: [] for name in banks}
    for _ in range(runs):
        zs = truth[:, :3] + rng.normal(size=(steps, 3)) * 15.0
        for name, make in banks.items():
            bank = make()
            bank.add(np.r_[zs[0], truth[0, 3:]], np.diag([225.0] * 3 + [400.0] * 3))
            e = []
            for k in range(1, steps):
                bank.predict(dt)
                if isinstance(bank, IMM):
                    bank.update_linear(zs[k][None], H, R)
                else:
                    m = bank.models[0]
                    Hm = np.zeros((3, m.dim))
                    Hm[:, :3] = np.eye(3)
                    filters.update(bank.xs[0], bank.Ps[0], zs[k][None], Hm, R)
                e.append(bank.estimate()[0][0, :3] - truth[k, :3])
            err[name].append(e)
    rm = {name: float(np.sqrt(np.mean(np.square(v)))) for name, v in err.items()}
    assert all(rm["imm"] < rm[k] for k in ("cv", "ca", "ct")), rm


@pytest.mark.parametrize("scale", [1e-9, 1e9])
def test_covariance_stays_spd_over_a_million_steps(rng, backend, scale):
    """1,000 tracks × 1,000 predict/update cycles with tiny or huge noise (EKF, spherical)."""
    if backend == "reference":
        pytest.skip("10⁶ EKF steps take minutes on the numpy reference; compiled only")
    n = 1000
    F, Q = cv_matrices(0.05, 10.0 * scale)
    R = np.diag([25.0, 1e-6, 1e-6, 1.0]) * scale
    x = np.zeros((n, 6))
    x[:, :3] = rng.uniform(1e3, 2e4, (n, 3))
    x[:, 3:] = rng.normal(size=(n, 3)) * 100
    P = np.tile(np.diag([100.0, 100, 100, 25, 25, 25]) * scale, (n, 1, 1))
    truth = x.copy()
    idx = np.arange(n)
    from xband.radar.measure import sph_of
    for k in range(1000):
        filters.predict(x, P, F, Q)
        truth[:, :3] += truth[:, 3:] * 0.05
        z = sph_of(truth[:, :3], truth[:, 3:]) + rng.normal(size=(n, 4)) * np.sqrt(np.diag(R))
        _, _, st = filters.update_spherical(x, P, idx, z, np.broadcast_to(R, (n, 4, 4)))
        assert np.all(st == 0), k
    assert np.array_equal(P, np.swapaxes(P, 1, 2))
    assert np.all(np.linalg.eigvalsh(P) > 0)
    assert np.all(np.isfinite(x))


def test_singer_limits():
    """Singer (1970): for dt ≪ τ_m the model tends to the white-jerk CA model with
    q = 2σ_a²/τ_m; for dt ≫ τ_m the acceleration decorrelates (F_aa = e^{−dt/τ} → 0)."""
    from xband.track.models import ca_matrices, singer_matrices
    sa, tau = 20.0, 1e4
    for dt in (0.01, 0.1):
        Fs, Qs = singer_matrices(dt, sa, tau)
        Fc, Qc = ca_matrices(dt, 2 * sa * sa / tau)
        np.testing.assert_allclose(Fs, Fc, rtol=1e-4, atol=1e-9)
        np.testing.assert_allclose(Qs, Qc, rtol=1e-3, atol=1e-15)
    Fs, Qs = singer_matrices(100.0, sa, 0.5)
    assert abs(Fs[6, 6]) < 1e-80
    # the stationary acceleration variance is σ_a²: Q_aa → σ_a² (1 − e^{−2dt/τ}) → σ_a²
    np.testing.assert_allclose(Qs[6, 6], sa * sa, rtol=1e-9)
    assert np.all(np.linalg.eigvalsh(singer_matrices(0.05, sa, 3.0)[1]) > -1e-12)


def test_imm_nees_consistent_on_markov_switching_truth(rng, backend):
    """Matched-model Monte Carlo for the IMM: truth from the same two CV modes (quiet and
    manoeuvring process noise) switching by the same Markov chain; the run-averaged NEES
    stays mostly inside its 95 % band and its time average near the dimension."""
    runs, steps, dt = 100, 120, 0.1
    qs = [0.5, 200.0]
    Pi = np.array([[0.95, 0.05], [0.10, 0.90]])
    Ls = [np.linalg.cholesky(cv_matrices(dt, q)[1]) for q in qs]
    F = cv_matrices(dt, 1.0)[0]
    R = np.eye(3) * 100.0
    mode = np.zeros(runs, int)
    truth = np.zeros((runs, 6))
    truth[:, :3] = [4000.0, 6000.0, 1500.0]
    truth[:, 3:] = [-80.0, -120.0, 0.0]
    P0 = np.diag([400.0] * 3 + [100.0] * 3)
    imm = IMM([ModelSpec("cv", q=q) for q in qs], Pi, mu0=[0.9, 0.1])
    imm.add(truth + rng.multivariate_normal(np.zeros(6), P0, runs),
            np.tile(P0, (runs, 1, 1)))
    avg = []
    for k in range(steps):
        mode = np.where(rng.random(runs) < Pi[mode, 1], 1, 0)
        w = rng.standard_normal((runs, 6))
        noise = np.where(mode[:, None] == 0, w @ Ls[0].T, w @ Ls[1].T)
        truth = truth @ F.T + noise
        z = truth[:, :3] + rng.multivariate_normal(np.zeros(3), R, runs)
        imm.predict(dt)
        assert np.all(imm.update_linear(z, H, R) == 0)
        x, P, _ = imm.estimate()
        if k >= 10:
            avg.append(metrics.nees(x, P, truth).mean())
    lo, hi = metrics.chi2_band(6, runs)
    inside = np.mean((np.array(avg) > lo) & (np.array(avg) < hi))
    # the IMM is an approximation (a Gaussian in place of a mixture): most, not 95 %,
    # of the steps fall in the band
    assert inside > 0.65, (inside, np.mean(avg))
    assert lo < np.mean(avg) < hi        # the time average inside the per-step band


@pytest.mark.parametrize("kinds", [("cv", "ca", "ct"), ("cv", "cv", "cv"), ("ct", "singer")])
def test_imm_update_linear_one_call_equals_per_model(rng, backend, kinds, monkeypatch):
    """IMM.update_linear with a selection H6 (one imm_update_sel call for every model and
    the mode probabilities on the (r, n) layout) gives, to the bit, the states,
    covariances and mode probabilities of one filters.update per model and the gathered
    mode update (the path a general H6 takes), over predict/update cycles with skipped
    tracks (non-finite z, an indefinite S) mixed in."""
    import xband.track.imm as imm_mod

    n, r = 40, len(kinds)
    Pi = np.full((r, r), 0.1 / (r - 1)) + np.eye(r) * (0.9 - 0.1 / (r - 1))
    banks = [IMM([ModelSpec(k, q=5.0) for k in kinds], Pi) for _ in range(2)]
    x6 = np.hstack([rng.uniform(-5e3, 5e3, (n, 3)), rng.uniform(-100, 100, (n, 3))])
    for b in banks:
        b.add(x6, np.tile(np.diag([400.0] * 3 + [100.0] * 3), (n, 1, 1)))
    H6 = np.hstack([np.eye(3), np.zeros((3, 3))])
    for k in range(6):
        z = x6[:, :3] + rng.normal(size=(n, 3)) * 20.0 + k * x6[:, 3:] * 0.5
        R = np.tile(np.diag([400.0, 225.0, 100.0]), (n, 1, 1))
        if k % 2:
            z[3 + k] = np.nan
            R[10 + k, 1, 1] = -1e12
        st = []
        for b, fast in zip(banks, (True, False)):
            b.predict(0.5)
            if not fast:
                monkeypatch.setattr(imm_mod, "_selection", lambda H: None)
            st.append(b.update_linear(z, H6, R))
            monkeypatch.undo()
        np.testing.assert_array_equal(st[0], st[1])
        if k % 2:
            assert st[0][3 + k] == filters.SKIP_NONFINITE
            assert st[0][10 + k] == filters.SKIP_SINGULAR
        for a, b in zip(banks[0].xs + banks[0].Ps, banks[1].xs + banks[1].Ps):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(banks[0].mu, banks[1].mu)
    assert not np.array_equal(banks[0].mu, banks[0].cbar)      # the modes did update
