"""WGS-84 geodetic ↔ ECEF ↔ local ENU at a radar site, vectorised over numpy arrays.

Angles: the plain functions take and return **radians** (docs/conventions.md); the
``*_deg`` twins take and return latitude and longitude in **degrees**. Heights are
**ellipsoidal** heights (m above the WGS-84 ellipsoid), not heights above mean sea level:
the two differ by the geoid undulation N (−107 m … +85 m). Every function broadcasts its
array arguments like numpy does and returns float64 arrays (0-d for scalars).

Constants (NIMA TR8350.2, *Department of Defense World Geodetic System 1984*, 3rd ed.,
2000, table 3.1): semi-major axis ``a = 6378137.0`` m, flattening ``f = 1/298.257223563``;
derived ``b = a(1 − f)``, first eccentricity squared ``e² = f(2 − f)``, second
``e'² = e²/(1 − e²)``.

Geodetic → ECEF (exact; TR8350.2 eq. 4-14), with N(φ) = a / √(1 − e² sin²φ) the prime
vertical radius of curvature::

    X = (N + h) cos φ cos λ,   Y = (N + h) cos φ sin λ,   Z = (N(1 − e²) + h) sin φ

ECEF → geodetic: the non-iterative closed form of Heikkinen (M. Heikkinen, "Geschlossene
Formeln zur Berechnung räumlicher geodätischer Koordinaten aus rechtwinkligen
Koordinaten", Z. Vermess. 107, 1982, 207–211; in English in J. Zhu, "Conversion of
Earth-centered Earth-fixed coordinates to geodetic coordinates", IEEE Trans. AES 30(3),
1994, 957–961). With p = √(X² + Y²)::

    F = 54 b² Z²,  G = p² + (1 − e²) Z² − e² (a² − b²),  c = e⁴ F p² / G³
    s = ∛(1 + c + √(c² + 2c)),  k = s + 1 + 1/s,  P = F / (3 k² G²),  Q = √(1 + 2 e⁴ P)
    r₀ = −P e² p / (1 + Q) + √(a²/2 (1 + 1/Q) − P (1 − e²) Z² / (Q (1 + Q)) − P p² / 2)
    V = √((p − e² r₀)² + (1 − e²) Z²),  z₀ = b² Z / (a V)
    φ = atan2(Z + e'² z₀, p),  λ = atan2(Y, X)

It is exact in exact arithmetic; in float64 it is good to a few 10⁻⁹ m at aircraft
altitudes (tests/io/test_geodetic.py checks < 1 mm against round trips and pymap3d from
−1 km to 100 km). The height is then taken from the well-conditioned projection
h = p cos φ + Z sin φ − a √(1 − e² sin²φ) (valid everywhere, also on the polar axis),
rather than from Heikkinen's U(1 − b²/(aV)), which is equivalent. Bowring's iterative
method (B. R. Bowring, "Transformation from spatial to geographical coordinates", Survey
Review 23(181), 1976, 323–327) gives the same results after one or two iterations; the
closed form needs no loop. Points within ~40 km of the Earth's centre are outside the
domain of both methods and are not supported.

ENU at a site (φ₀, λ₀, h₀): a Cartesian frame with its origin at the site, x east, y north,
z up along the ellipsoid normal — the radar frame of docs/conventions.md. A vector d in
ECEF maps to ENU by the rotation::

    R(φ₀, λ₀) = [[−sin λ₀,          cos λ₀,          0     ],
                 [−sin φ₀ cos λ₀,  −sin φ₀ sin λ₀,   cos φ₀],
                 [ cos φ₀ cos λ₀,   cos φ₀ sin λ₀,   sin φ₀]]

positions as R (X − X₀), velocities (free vectors) as R v. The ENU frame is the flat tangent
plane: a distant aircraft at constant altitude has a z that falls with range (≈ −d²/2R⊕,
−785 m at 100 km), as a real radar sees it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

__all__ = [
    "WGS84_A", "WGS84_F", "WGS84_B", "WGS84_E2", "WGS84_EP2",
    "geodetic_to_ecef", "ecef_to_geodetic", "ecef_to_enu", "enu_to_ecef",
    "geodetic_to_enu", "enu_to_geodetic", "enu_rotation",
    "ecef_vector_to_enu", "enu_vector_to_ecef", "local_enu_vector_to_site",
    "geodetic_to_ecef_deg", "ecef_to_geodetic_deg", "geodetic_to_enu_deg",
    "enu_to_geodetic_deg", "Site",
]

#: WGS-84 semi-major axis (m), TR8350.2 table 3.1.
WGS84_A = 6378137.0
#: WGS-84 flattening, TR8350.2 table 3.1.
WGS84_F = 1.0 / 298.257223563
#: Semi-minor axis b = a (1 − f) (m).
WGS84_B = WGS84_A * (1.0 - WGS84_F)
#: First eccentricity squared e² = f (2 − f).
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
#: Second eccentricity squared e'² = e² / (1 − e²).
WGS84_EP2 = WGS84_E2 / (1.0 - WGS84_E2)


def _f64(*xs):
    return [np.asarray(x, dtype=np.float64) for x in xs]


def geodetic_to_ecef(lat, lon, h):
    """Geodetic latitude, longitude (rad) and ellipsoidal height (m) → ECEF (X, Y, Z) (m)."""
    lat, lon, h = _f64(lat, lon, h)
    slat, clat = np.sin(lat), np.cos(lat)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * slat * slat)
    x = (n + h) * clat * np.cos(lon)
    y = (n + h) * clat * np.sin(lon)
    z = (n * (1.0 - WGS84_E2) + h) * slat
    return x, y, z


def ecef_to_geodetic(x, y, z):
    """ECEF (X, Y, Z) (m) → geodetic latitude, longitude (rad, lon in (−π, π]) and
    ellipsoidal height (m), by Heikkinen's closed form (module docstring)."""
    x, y, z = _f64(x, y, z)
    a, b, e2, ep2 = WGS84_A, WGS84_B, WGS84_E2, WGS84_EP2
    a2, b2 = a * a, b * b
    p2 = x * x + y * y
    p = np.sqrt(p2)
    z2 = z * z
    F = 54.0 * b2 * z2
    G = p2 + (1.0 - e2) * z2 - e2 * (a2 - b2)
    c = e2 * e2 * F * p2 / (G * G * G)
    s = np.cbrt(1.0 + c + np.sqrt(c * c + 2.0 * c))
    k = s + 1.0 + 1.0 / s
    P = F / (3.0 * k * k * G * G)
    Q = np.sqrt(1.0 + 2.0 * e2 * e2 * P)
    rad = 0.5 * a2 * (1.0 + 1.0 / Q) - P * (1.0 - e2) * z2 / (Q * (1.0 + Q)) - 0.5 * P * p2
    r0 = -(P * e2 * p) / (1.0 + Q) + np.sqrt(np.maximum(rad, 0.0))
    d = p - e2 * r0
    V = np.sqrt(d * d + (1.0 - e2) * z2)
    z0 = b2 * z / (a * V)
    lat = np.arctan2(z + ep2 * z0, p)
    lon = np.arctan2(y, x)
    slat, clat = np.sin(lat), np.cos(lat)
    h = p * clat + z * slat - a * np.sqrt(1.0 - e2 * slat * slat)
    return lat, lon, h


def enu_rotation(lat0, lon0) -> np.ndarray:
    """The rotation matrix R (…, 3, 3), rows (east, north, up), from ECEF to the ENU frame
    at geodetic latitude/longitude (rad); broadcasts over array arguments."""
    lat0, lon0 = _f64(lat0, lon0)
    sl, cl = np.sin(lat0), np.cos(lat0)
    so, co = np.sin(lon0), np.cos(lon0)
    zero = np.zeros_like(sl * so)
    rows = [[-so + zero, co + zero, zero],
            [-sl * co, -sl * so, cl + zero],
            [cl * co, cl * so, sl + zero]]
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def ecef_vector_to_enu(vx, vy, vz, lat0, lon0):
    """Rotate a free ECEF vector (a velocity, a displacement) into ENU axes at (lat0, lon0)
    (rad). Returns (e, n, u)."""
    vx, vy, vz, lat0, lon0 = _f64(vx, vy, vz, lat0, lon0)
    sl, cl = np.sin(lat0), np.cos(lat0)
    so, co = np.sin(lon0), np.cos(lon0)
    e = -so * vx + co * vy
    t = co * vx + so * vy
    n = -sl * t + cl * vz
    u = cl * t + sl * vz
    return e, n, u


def enu_vector_to_ecef(ve, vn, vu, lat0, lon0):
    """Rotate a free ENU vector at (lat0, lon0) (rad) into ECEF axes (the transpose of
    :func:`ecef_vector_to_enu`). Returns (X, Y, Z) components."""
    ve, vn, vu, lat0, lon0 = _f64(ve, vn, vu, lat0, lon0)
    sl, cl = np.sin(lat0), np.cos(lat0)
    so, co = np.sin(lon0), np.cos(lon0)
    t = -sl * vn + cl * vu
    x = -so * ve + co * t
    y = co * ve + so * t
    z = cl * vn + sl * vu
    return x, y, z


def ecef_to_enu(x, y, z, lat0, lon0, h0):
    """ECEF point(s) (m) → ENU (m) at the site (lat0, lon0 rad, h0 m)."""
    x0, y0, z0 = geodetic_to_ecef(lat0, lon0, h0)
    x, y, z = _f64(x, y, z)
    return ecef_vector_to_enu(x - x0, y - y0, z - z0, lat0, lon0)


def enu_to_ecef(e, n, u, lat0, lon0, h0):
    """ENU point(s) (m) at the site (lat0, lon0 rad, h0 m) → ECEF (m)."""
    x0, y0, z0 = geodetic_to_ecef(lat0, lon0, h0)
    dx, dy, dz = enu_vector_to_ecef(e, n, u, lat0, lon0)
    return x0 + dx, y0 + dy, z0 + dz


def geodetic_to_enu(lat, lon, h, lat0, lon0, h0):
    """Geodetic point(s) (rad, rad, m) → ENU (m) at the site (lat0, lon0 rad, h0 m)."""
    return ecef_to_enu(*geodetic_to_ecef(lat, lon, h), lat0, lon0, h0)


def enu_to_geodetic(e, n, u, lat0, lon0, h0):
    """ENU point(s) (m) at the site (lat0, lon0 rad, h0 m) → geodetic (rad, rad, m)."""
    return ecef_to_geodetic(*enu_to_ecef(e, n, u, lat0, lon0, h0))


def local_enu_vector_to_site(ve, vn, vu, lat, lon, lat0, lon0):
    """A vector given in the local ENU axes at (lat, lon) — e.g. an aircraft's velocity
    from ground speed, track and vertical rate — expressed in the ENU axes of the site
    (lat0, lon0) (all rad): rotate to ECEF, then into the site's frame."""
    return ecef_vector_to_enu(*enu_vector_to_ecef(ve, vn, vu, lat, lon), lat0, lon0)


# ------------------------------------------------------------------ degree twins
def geodetic_to_ecef_deg(lat_deg, lon_deg, h):
    """:func:`geodetic_to_ecef` with latitude and longitude in degrees."""
    return geodetic_to_ecef(np.radians(lat_deg), np.radians(lon_deg), h)


def ecef_to_geodetic_deg(x, y, z):
    """:func:`ecef_to_geodetic` returning latitude and longitude in degrees."""
    lat, lon, h = ecef_to_geodetic(x, y, z)
    return np.degrees(lat), np.degrees(lon), h


def geodetic_to_enu_deg(lat_deg, lon_deg, h, lat0_deg, lon0_deg, h0):
    """:func:`geodetic_to_enu` with all latitudes and longitudes in degrees."""
    return geodetic_to_enu(np.radians(lat_deg), np.radians(lon_deg), h,
                           np.radians(lat0_deg), np.radians(lon0_deg), h0)


def enu_to_geodetic_deg(e, n, u, lat0_deg, lon0_deg, h0):
    """:func:`enu_to_geodetic` with the site and the result's lat/lon in degrees."""
    lat, lon, h = enu_to_geodetic(e, n, u, np.radians(lat0_deg), np.radians(lon0_deg), h0)
    return np.degrees(lat), np.degrees(lon), h


@dataclass(frozen=True)
class Site:
    """A radar site: geodetic latitude and longitude in degrees, ellipsoidal height in m.

    ``Site.parse("52.1,-0.5,80")`` reads the ``--site LAT,LON,ALT`` form of the CLI.
    """

    lat_deg: float
    lon_deg: float
    h_m: float = 0.0

    def __post_init__(self):
        for name in ("lat_deg", "lon_deg", "h_m"):
            v = getattr(self, name)
            if not isinstance(v, (int, float, np.floating, np.integer)) or not np.isfinite(v):
                raise ConfigError(f"site {name}: expected a finite number, got {v!r}")
        if not -90.0 <= self.lat_deg <= 90.0:
            raise ConfigError(f"site lat_deg: {self.lat_deg} is outside [-90, 90] degrees")
        if not -180.0 <= self.lon_deg <= 360.0:
            raise ConfigError(f"site lon_deg: {self.lon_deg} is outside [-180, 360] degrees")
        if not -12000.0 <= self.h_m <= 1.0e6:
            raise ConfigError(f"site h_m: {self.h_m} m is outside [-12000, 1e6] m")

    @classmethod
    def parse(cls, text: str, what: str = "--site") -> "Site":
        """``"LAT,LON[,ALT]"`` (degrees, degrees, metres) → Site; ConfigError naming
        ``what`` otherwise."""
        parts = [s.strip() for s in str(text).split(",")]
        if len(parts) not in (2, 3):
            raise ConfigError(f"{what}: expected LAT,LON,ALT (degrees, degrees, metres), "
                              f"got {text!r}")
        try:
            vals = [float(s) for s in parts]
        except ValueError:
            raise ConfigError(f"{what}: expected LAT,LON,ALT as numbers (degrees, degrees, "
                              f"metres), got {text!r}") from None
        try:
            return cls(*vals)
        except ConfigError as exc:
            raise ConfigError(f"{what}: {exc}") from None

    @property
    def lat(self) -> float:
        """Latitude (rad)."""
        return float(np.radians(self.lat_deg))

    @property
    def lon(self) -> float:
        """Longitude (rad)."""
        return float(np.radians(self.lon_deg))

    def to_enu_deg(self, lat_deg, lon_deg, h):
        """Geodetic point(s) in degrees and m → ENU (e, n, u) at this site (m)."""
        return geodetic_to_enu(np.radians(lat_deg), np.radians(lon_deg), h,
                               self.lat, self.lon, self.h_m)

    def from_enu_deg(self, e, n, u):
        """ENU point(s) at this site (m) → geodetic (lat_deg, lon_deg, h)."""
        return enu_to_geodetic_deg(e, n, u, self.lat_deg, self.lon_deg, self.h_m)
