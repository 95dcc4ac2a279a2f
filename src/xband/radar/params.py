"""Radar parameters and their derived figures (``RadarParams``).

All quantities are SI (Hz, s, W, K, rad); decibel inputs end in ``_db``. A ``RadarParams``
is frozen: build a variant with ``dataclasses.replace`` (which re-validates).

Sampling model (the same one the SigMF ``xband:`` namespace describes, ../DESIGN.md):
each pulse repetition interval (PRI) holds ``samples_per_pri = round(fs / prf)`` complex
samples, sample 0 at the pulse's transmission, so sample n of a PRI is the delay n/fs, the
range c·n/(2 fs). The receiver is blanked while the transmitter is on (samples
0 … pulse_samples − 1), which makes the first ``blind_range`` unobservable.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from ..errors import ConfigError

#: Speed of light in vacuum (m/s) and Boltzmann's constant (J/K), CODATA 2018 exact values.
C = 299_792_458.0
K_BOLTZMANN = 1.380649e-23
#: Reference temperature T0 of the noise figure (K, IEEE Std 145).
T0 = 290.0

WAVEFORMS = ("lfm", "barker13")


def _pos(name, v):
    if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
        raise ConfigError(f"RadarParams.{name}: must be a finite number > 0, got {v!r}")


@dataclass(frozen=True)
class RadarParams:
    """A pulse-Doppler radar: carrier, waveform, sampling, CPI, link budget and antenna.

    Defaults: X band (10 GHz), 10 µs LFM of 10 MHz (time-bandwidth 100), fs 40.96 MHz,
    PRF 10 kHz (4096 samples per PRI), 128 pulses per CPI, 200 W peak, 36 dB gain with
    2° × 2° beams, 3 dB noise figure, 4 dB losses: a 1 m² target at 11 km is seen with
    ≈ 38 dB SNR after the CPI's coherent integration. Use :meth:`small` for a light CPI.
    """

    carrier_hz: float = 10.0e9
    waveform: str = "lfm"
    pulse_width_s: float = 10.0e-6
    bandwidth_hz: float = 10.0e6
    sample_rate_hz: float = 40.96e6
    prf_hz: float = 10.0e3
    pulses_per_cpi: int = 128
    peak_power_w: float = 200.0
    antenna_gain_db: float = 36.0
    beamwidth_az_rad: float = math.radians(2.0)
    beamwidth_el_rad: float = math.radians(2.0)
    monopulse_slope: float = 1.6
    noise_figure_db: float = 3.0
    losses_db: float = 4.0
    antenna_temp_k: float = 0.0

    def __post_init__(self):
        for name in ("carrier_hz", "pulse_width_s", "bandwidth_hz", "sample_rate_hz",
                     "prf_hz", "peak_power_w", "beamwidth_az_rad", "beamwidth_el_rad",
                     "monopulse_slope"):
            _pos(name, getattr(self, name))
        if self.waveform not in WAVEFORMS:
            raise ConfigError(f"RadarParams.waveform: expected one of {WAVEFORMS}, "
                              f"got {self.waveform!r}")
        if not (isinstance(self.pulses_per_cpi, int) and self.pulses_per_cpi >= 2):
            raise ConfigError(f"RadarParams.pulses_per_cpi: must be an int >= 2, "
                              f"got {self.pulses_per_cpi!r}")
        for name in ("antenna_gain_db", "noise_figure_db", "losses_db", "antenna_temp_k"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise ConfigError(f"RadarParams.{name}: must be finite, got {v!r}")
        if self.noise_figure_db < 0 or self.losses_db < 0 or self.antenna_temp_k < 0:
            raise ConfigError("RadarParams: noise_figure_db, losses_db and antenna_temp_k "
                              "must be >= 0")
        if self.bandwidth_hz > self.sample_rate_hz:
            raise ConfigError(f"RadarParams.bandwidth_hz: {self.bandwidth_hz:g} Hz exceeds the "
                              f"complex sample rate {self.sample_rate_hz:g} Hz (aliasing)")
        if 2 * self.pulse_samples >= self.samples_per_pri:
            raise ConfigError(f"RadarParams.pulse_width_s: the pulse ({self.pulse_samples} "
                              f"samples) must be shorter than half the PRI "
                              f"({self.samples_per_pri} samples)")
        if self.samples_per_pri < 16:
            raise ConfigError("RadarParams: fewer than 16 samples per PRI (fs / prf)")

    # ------------------------------------------------------------- presets
    @classmethod
    def small(cls, **kw) -> "RadarParams":
        """A light CPI for closed-loop simulation: 64 pulses × 2048 samples (fs 20.48 MHz,
        5 MHz LFM of 10 µs → 30 m resolution), PRF 10 kHz. About 8× less work than the
        default 128 × 4096."""
        base = dict(sample_rate_hz=20.48e6, bandwidth_hz=5.0e6, pulses_per_cpi=64)
        base.update(kw)
        return cls(**base)

    @classmethod
    def demo(cls, **kw) -> "RadarParams":
        """The closed-loop demo's CPI: 32 pulses × 1024 samples (fs 10.24 MHz, 5 MHz LFM of
        10 µs → 30 m resolution, 4.7 m/s velocity resolution), PRF 10 kHz: a scan (synthesis
        + detection, 3 channels) costs a few ms, so ~300 scans stay within seconds."""
        base = dict(sample_rate_hz=10.24e6, bandwidth_hz=5.0e6, pulses_per_cpi=32)
        base.update(kw)
        return cls(**base)

    # ------------------------------------------------------------- derived figures
    @property
    def wavelength_m(self) -> float:
        return C / self.carrier_hz

    @property
    def pri_s(self) -> float:
        return 1.0 / self.prf_hz

    @property
    def samples_per_pri(self) -> int:
        """Complex samples per PRI and channel: round(fs / prf)."""
        return int(round(self.sample_rate_hz / self.prf_hz))

    @property
    def pulse_samples(self) -> int:
        """Samples spanned by the transmitted pulse (also the blanked samples of a PRI)."""
        return int(math.ceil(self.pulse_width_s * self.sample_rate_hz - 1e-9))

    @property
    def effective_bandwidth_hz(self) -> float:
        """Bandwidth that sets the range resolution: B for LFM, 13/τ for Barker-13."""
        if self.waveform == "barker13":
            return 13.0 / self.pulse_width_s
        return self.bandwidth_hz

    @property
    def time_bandwidth(self) -> float:
        """Pulse-compression gain (linear): B·τ (13 for Barker-13)."""
        return self.effective_bandwidth_hz * self.pulse_width_s

    @property
    def range_resolution_m(self) -> float:
        """c / (2 B) (Barker-13: c·τ_chip / 2)."""
        return C / (2.0 * self.effective_bandwidth_hz)

    @property
    def range_gate_m(self) -> float:
        """Range spacing of samples, c / (2 fs)."""
        return C / (2.0 * self.sample_rate_hz)

    @property
    def unambiguous_range_m(self) -> float:
        """c / (2 PRF)."""
        return C / (2.0 * self.prf_hz)

    @property
    def blind_range_m(self) -> float:
        """c·τ / 2: echoes arriving while the transmitter is on are lost."""
        return C * self.pulse_samples / (2.0 * self.sample_rate_hz)

    @property
    def max_unblind_range_m(self) -> float:
        """Largest range whose echo fits wholly before the next transmission."""
        return C * (self.samples_per_pri - self.pulse_samples) / (2.0 * self.sample_rate_hz)

    @property
    def unambiguous_velocity_mps(self) -> float:
        """λ·PRF/4: radial velocities are observed folded into [−v_ua, v_ua)."""
        return self.wavelength_m * self.prf_hz / 4.0

    @property
    def velocity_resolution_mps(self) -> float:
        """λ / (2 T_cpi) (the Doppler bin spacing is 2 v_ua / M, the same)."""
        return self.wavelength_m / (2.0 * self.cpi_duration_s)

    @property
    def cpi_duration_s(self) -> float:
        return self.pulses_per_cpi / self.prf_hz

    @property
    def system_temp_k(self) -> float:
        """T_s = T_a + T0·(F − 1) + T0: the antenna plus receiver noise temperature referred
        to the antenna port. With T_a = T0 (the default 0 means "use T0") this is T0·F."""
        ta = self.antenna_temp_k if self.antenna_temp_k > 0 else T0
        return ta + T0 * (10 ** (self.noise_figure_db / 10) - 1.0)

    @property
    def noise_power_w(self) -> float:
        """k·T_s·fs: thermal noise power per complex sample (the receiver's bandwidth is
        the complex sample rate)."""
        return K_BOLTZMANN * self.system_temp_k * self.sample_rate_hz

    def to_dict(self) -> dict:
        return asdict(self)
