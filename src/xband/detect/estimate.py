"""From a cluster's peak cell to a measurement with its covariance.

Interpolation. Along range and along Doppler separately, the log-power parabola through the
peak cell and its two neighbours (Gaussian interpolation; bins y₋, y₀, y₊):

    δ = (ln y₋ − ln y₊) / (2 (ln y₋ − 2 ln y₀ + ln y₊)),   |δ| ≤ ½ for a true peak.

Covariance (documented formula). For an interpolator δ = f(y₋, y₀, y₊) of the powers
y_j = |s_j + n_j|², first-order error propagation gives

    var δ = 2 Σ_ij g_i g_j Re(s_i* s_j ρ_ij) = κ(μ) / SNR,     g = ∂f/∂y,

with s the noise-free response at the true offset μ, ρ the correlation of the noise between
neighbouring cells (set by the matched filter in range and by the window, and the MTI, in
Doppler) and SNR = |s₀|²/σ². κ(μ) and the interpolation bias b(μ) = f(|s|²) − μ are
computed once per chain plan from the waveform, the windows and the MTI, averaged over
μ ~ U(−½, ½):  σ²_bins = κ̄ / SNR + mean(b²). Then σ_range = σ_bins · c/(2 fs) and
σ_range_rate = σ_bins · λ·PRF/(2M).

Monopulse (see xband.radar.antenna): θ̂ = θ₃ · Re(Δ/Σ) / k_m, and to first order in the
(equal-power, independent) noises of Σ and Δ

    var θ̂ = θ₃² (1 + k_m² u²) / (2 k_m² · SNR),    u = θ̂/θ₃.

Range, angles and range rate are taken as uncorrelated: R = diag(σ_R², σ_az², σ_el², σ_ṙ²).

Range–Doppler coupling (LFM). The echo of a target with Doppler f_d carries e^{j2π f_d u}
within the pulse (u from its start). For the up-chirp s(u) = e^{jπk(u − τ/2)²}, k = B/τ,

    s(u)·e^{j2π f_d u} = e^{jπk(u − τ/2 + f_d/k)²} · const = s(u + f_d/k) · const

inside the envelope: the echo looks like the chirp *advanced* by f_d/k, so its compressed
peak comes Δt = −f_d·τ/B early, and the range reads ΔR = c·Δt/2 = c·τ·ṙ/(λ·B) off
(f_d = −2ṙ/λ: a closing target, ṙ < 0, reads short). ``coupling_range_m`` is that ΔR;
the estimate is R̂ = R_measured − ΔR(ṙ̂) with the measured (folded) range rate, and its
variance gains (c·τ/(λ·B))²·σ_ṙ². A phase code (Barker-13) has no such ridge: ΔR = 0.
The correction is right when the range rate is unambiguous; a target beyond ±v_ua is
corrected with its folded range rate (an error of c·τ·2v_ua·n/(λ·B) for n folds).
"""
from __future__ import annotations

import numpy as np

from ..radar import waveform
from .doppler import mti_matrix

MUS = np.linspace(-0.5, 0.5, 41)


def coupling_m_per_mps(params) -> float:
    """dΔR/dṙ = c·τ/(λ·B) for the up-chirp LFM (range read off per m/s of range rate),
    0 for Barker-13 (see the module doc)."""
    if params.waveform != "lfm":
        return 0.0
    from ..radar.params import C
    return C * params.pulse_width_s / (params.wavelength_m * params.bandwidth_hz)


def coupling_range_m(params, range_rate):
    """ΔR = c·τ·ṙ/(λ·B): how far an LFM echo's compressed peak reads off the true range
    (negative: short, for a closing target). Subtract it from the measured range."""
    return coupling_m_per_mps(params) * np.asarray(range_rate, dtype=np.float64)


def log_parabola(ym, y0, yp):
    """Offset δ of the peak of the parabola through (−1, ln ym), (0, ln y0), (1, ln yp)."""
    lm, l0, lp = np.log(ym), np.log(y0), np.log(yp)
    den = lm - 2.0 * l0 + lp
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(den < 0, 0.5 * (lm - lp) / den, 0.0)
    return np.clip(d, -0.5, 0.5)


def _grad(y):
    g = np.empty(3)
    for i in range(3):
        h = 1e-6 * y[i]
        a, b = y.copy(), y.copy()
        a[i] += h
        b[i] -= h
        g[i] = (log_parabola(*a) - log_parabola(*b)) / (2 * h)
    return g


def axis_stats(response, rho) -> tuple[float, float]:
    """(κ̄, mean b²) for an axis: ``response(mu)`` → complex (3,) noise-free samples at
    offsets −1, 0, 1 for a true offset ``mu``; ``rho`` (3, 3) noise correlation."""
    kap, b2 = [], []
    for mu in MUS:
        s = response(mu)
        y = np.abs(s) ** 2
        est = float(log_parabola(*y))
        b2.append((est - mu) ** 2)
        g = _grad(y)
        v = 2.0 * np.real(np.einsum("i,j,ij->", g * np.conj(s), g * s, rho))
        kap.append(v * y[1])
    return float(np.mean(kap)), float(np.mean(b2))


def range_stats(params, h, D: int = 1) -> tuple[float, float]:
    """Range-axis (κ̄, b²), in gates of D samples, for the matched filter h (unit energy)
    of ``params`` whose output is kept every D samples (decimated)."""
    _, lead = waveform.delay_grid(params)
    L = h.size

    def response(mu):                     # the echo as the scene makes it (band-limited)
        e = waveform.delayed(params, mu * D)[0]
        e = np.concatenate([np.zeros(2 * D, complex), e, np.zeros(2 * D, complex)])
        o = lead + 2 * D
        return np.array([np.sum(e[o + j * D:o + j * D + L] * np.conj(h)) for j in (-1, 0, 1)])

    def ac_(lag):
        if lag >= 0:
            return np.sum(np.conj(h[:h.size - lag]) * h[lag:])
        return np.conj(ac_(-lag))

    ac = {lag: ac_(lag * D) for lag in (-2, -1, 0, 1, 2)}
    rho = np.array([[ac[i - j] for j in range(3)] for i in range(3)]) / ac[0]
    return axis_stats(response, rho)


def doppler_stats(n_pulses: int, order: int, w: np.ndarray, M: int) -> tuple[float, float]:
    """Doppler-axis (κ̄, b²) for P pulses, MTI ``order``, window w (length P − order + …)
    and M bins, at a Doppler a quarter of the PRF from zero (away from the MTI notch)."""
    D = mti_matrix(n_pulses, order)
    p = np.arange(D.shape[0])
    F = np.stack([w * np.exp(-2j * np.pi * j * p / M) for j in (-1, 0, 1)])
    C = F @ (D @ D.T) @ F.conj().T
    rho = C / C[1, 1].real
    k0 = M // 4
    q = np.arange(n_pulses)

    def response(mu):
        x = np.exp(2j * np.pi * (k0 + mu) * q / M)
        y = D @ x
        return np.array([np.sum(w * y * np.exp(-2j * np.pi * (k0 + j) * p / M))
                         for j in (-1, 0, 1)])

    return axis_stats(response, rho)


def angle_from_ratio(ratio, beamwidth, slope):
    """θ̂ = θ₃ Re(Δ/Σ)/k_m."""
    return beamwidth * np.real(ratio) / slope


def angle_var(theta, snr, beamwidth, slope):
    """var θ̂ = θ₃² (1 + k_m² u²) / (2 k_m² SNR), u = θ/θ₃."""
    u = theta / beamwidth
    return beamwidth ** 2 * (1.0 + slope ** 2 * u * u) / (2.0 * slope ** 2 * snr)


def _psl(resp: np.ndarray) -> float:
    """Peak sidelobe (power, relative to the peak) of a sampled response centred at 0:
    the largest value outside the main lobe (bounded by the first minima either side)."""
    c = int(np.argmax(resp))
    lo = c
    while lo > 0 and resp[lo - 1] <= resp[lo]:
        lo -= 1
    hi = c
    while hi < resp.size - 1 and resp[hi + 1] <= resp[hi]:
        hi += 1
    side = np.concatenate([resp[:lo], resp[hi + 1:]])
    return float(side.max() / resp[c]) if side.size else 0.0


def range_psl(params, h, D: int = 1) -> float:
    """Peak range sidelobe of the compressed echo on gates of D samples (max over
    fractional offsets)."""
    _, lead = waveform.delay_grid(params)
    L = h.size
    worst = 0.0
    for mu in (0.0, 0.25, 0.5):
        e = waveform.delayed(params, mu * D)[0]
        e = np.concatenate([np.zeros(L + D, complex), e, np.zeros(L + D, complex)])
        o = lead + L + D
        lags = np.arange(-(L // D) - 1, L // D + 2) * D
        y = np.array([abs(np.sum(e[o + k:o + k + L] * np.conj(h))) ** 2 for k in lags])
        worst = max(worst, _psl(y))
    return worst


def doppler_psl(n_pulses: int, order: int, w: np.ndarray, M: int) -> float:
    """Peak Doppler sidelobe of the MTI + window + DFT (max over fractional bins)."""
    D = mti_matrix(n_pulses, order)
    k0 = M // 4
    worst = 0.0
    for mu in (0.0, 0.25, 0.5):
        y = D @ np.exp(2j * np.pi * (k0 + mu) * np.arange(n_pulses) / M)
        X = np.abs(np.fft.fft(w * y, M)) ** 2
        worst = max(worst, _psl(np.roll(X, M // 2 - k0)))
    return worst


def effective_cells(h, D: int, w: np.ndarray, M: int, guard_r: int, guard_d: int,
                    train_r: int, train_d: int) -> float:
    """N_eff = N² / Σ_ij |ρ_ij|² of the CFAR training cells of a noise-only map.

    The map's noise is correlated across range gates (the matched filter h, sampled every
    D samples) and Doppler bins (the window w, M bins), separably:
    ρ(Δr, Δd) = ρ_r(Δr)·ρ_d(Δd) with ρ_r(l) = Σ h*[k] h[k + lD] / ‖h‖² and
    ρ_d(k) = Σ w_p² e^{−j2πkp/M} / ‖w‖². The powers of complex Gaussian cells then have
    cov(P_i, P_j) = |ρ_ij|² μ², so the training mean has the variance of a mean of N_eff
    independent cells."""
    wr, wd = guard_r + train_r, guard_d + train_d
    cells = [(a, b) for a in range(-wd, wd + 1) for b in range(-wr, wr + 1)
             if not (abs(a) <= guard_d and abs(b) <= guard_r)]
    dd = np.array([c[0] for c in cells])
    dr = np.array([c[1] for c in cells])
    L = h.size

    def rho_r(lag):
        lag = abs(int(lag)) * D
        if lag >= L:
            return 0.0
        return abs(np.sum(np.conj(h[:L - lag]) * h[lag:])) / np.sum(np.abs(h) ** 2)

    p = np.arange(w.size)
    w2 = w ** 2

    def rho_d(k):
        return abs(np.sum(w2 * np.exp(-2j * np.pi * k * p / M))) / np.sum(w2)

    lr = {l: rho_r(l) ** 2 for l in range(-2 * wr, 2 * wr + 1)}
    ld = {k: rho_d(k) ** 2 for k in range(-2 * wd, 2 * wd + 1)}
    R2 = np.vectorize(lr.get)(dr[:, None] - dr[None, :])
    D2 = np.vectorize(ld.get)(dd[:, None] - dd[None, :])
    N = len(cells)
    return float(N * N / np.sum(R2 * D2))
