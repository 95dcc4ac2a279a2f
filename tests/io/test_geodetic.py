"""WGS-84 geodetic ↔ ECEF ↔ ENU (src/xband/io/geodetic.py) against known points to the mm.

The oracles are independent of the module: scalar closed forms with ``math`` for
geodetic → ECEF, Bowring's iteration (1976) run to convergence for ECEF → geodetic, and
pymap3d (if installed) for ENU.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xband.errors import ConfigError
from xband.io import geodetic as g
from xband.radar.measure import sph_of

A = 6378137.0
F = 1 / 298.257223563
B = A * (1 - F)
E2 = F * (2 - F)
MM = 1e-3


def _ecef_ref(lat_deg, lon_deg, h):
    """Geodetic → ECEF by the closed forms, scalar, written out independently."""
    phi, lam = math.radians(lat_deg), math.radians(lon_deg)
    n = A / math.sqrt(1 - E2 * math.sin(phi) ** 2)
    return ((n + h) * math.cos(phi) * math.cos(lam), (n + h) * math.cos(phi) * math.sin(lam),
            (n * (1 - E2) + h) * math.sin(phi))


def _geodetic_bowring(x, y, z, iters=10):
    """ECEF → geodetic by Bowring's parametric-latitude iteration, scalar (rad, rad, m)."""
    p = math.hypot(x, y)
    ep2 = E2 / (1 - E2)
    beta = math.atan2(A * z, B * p)
    for _ in range(iters):
        phi = math.atan2(z + ep2 * B * math.sin(beta) ** 3, p - E2 * A * math.cos(beta) ** 3)
        beta = math.atan2((1 - F) * math.sin(phi), math.cos(phi))
    n = A / math.sqrt(1 - E2 * math.sin(phi) ** 2)
    h = p * math.cos(phi) + z * math.sin(phi) - A * A / n
    return phi, math.atan2(y, x), h


def test_constants_are_tr8350():
    assert g.WGS84_A == 6378137.0
    assert g.WGS84_F == 1 / 298.257223563
    assert g.WGS84_B == pytest.approx(6356752.314245, abs=1e-6)      # TR8350.2 table 3.3
    assert g.WGS84_E2 == pytest.approx(6.69437999014e-3, rel=1e-11)


@pytest.mark.parametrize("lat, lon, h, xyz", [
    (0.0, 0.0, 0.0, (A, 0.0, 0.0)),
    (0.0, 90.0, 0.0, (0.0, A, 0.0)),
    (0.0, 180.0, 1000.0, (-(A + 1000.0), 0.0, 0.0)),
    (0.0, -90.0, -50.0, (0.0, -(A - 50.0), 0.0)),
    (90.0, 0.0, 0.0, (0.0, 0.0, B)),
    (-90.0, 0.0, 10000.0, (0.0, 0.0, -(B + 10000.0))),
])
def test_exact_reference_points(lat, lon, h, xyz):
    got = g.geodetic_to_ecef_deg(lat, lon, h)
    np.testing.assert_allclose(got, xyz, atol=MM)
    lat2, lon2, h2 = g.ecef_to_geodetic_deg(*xyz)
    assert lat2 == pytest.approx(lat, abs=1e-10)
    assert h2 == pytest.approx(h, abs=MM)
    if abs(lat) < 90:
        assert lon2 == pytest.approx(lon if lon != -180 else 180, abs=1e-10)


# Assorted points (45°/45°, Greenwich, Sydney, SFO at FL390, near the pole, by the
# antimeridian at 100 km, below the ellipsoid), checked against the independent scalar
# closed forms and Bowring's iteration.
POINTS = [(45.0, 45.0, 0.0), (51.4778, -0.0015, 45.0), (-33.9461, 151.1772, 6.0),
          (37.6213, -122.379, 12000.0), (89.99, 10.0, 35000.0), (-0.5, 179.9, 100000.0),
          (64.1, -21.9, -500.0)]


@pytest.mark.parametrize("lat, lon, h", POINTS)
def test_against_independent_closed_form_and_bowring(lat, lon, h):
    ref = _ecef_ref(lat, lon, h)
    np.testing.assert_allclose(g.geodetic_to_ecef_deg(lat, lon, h), ref, rtol=0, atol=MM)
    phi, lam, hh = g.ecef_to_geodetic(*ref)
    phi_b, lam_b, h_b = _geodetic_bowring(*ref)
    assert abs(float(phi) - phi_b) * A < MM
    assert abs(float(lam) - lam_b) * A < MM
    assert abs(float(hh) - h_b) < MM
    assert abs(float(hh) - h) < MM
    assert abs(math.degrees(float(phi)) - lat) * math.pi / 180 * A < MM


def test_45_degree_point_by_hand():
    # N(45°) = a / sqrt(1 - e²/2); X = Y = N cos45 cos45 = N/2, Z = N (1 - e²) / sqrt(2)
    n = A / math.sqrt(1 - E2 / 2)
    np.testing.assert_allclose(g.geodetic_to_ecef_deg(45.0, 45.0, 0.0),
                               (n / 2, n / 2, n * (1 - E2) / math.sqrt(2)), rtol=0, atol=MM)


def test_vectorised_round_trip_to_the_mm(rng):
    n = 20000
    lat = rng.uniform(-np.pi / 2, np.pi / 2, n)
    lon = rng.uniform(-np.pi, np.pi, n)
    h = rng.uniform(-1000.0, 100e3, n)
    x, y, z = g.geodetic_to_ecef(lat, lon, h)
    assert x.shape == (n,)
    lat2, lon2, h2 = g.ecef_to_geodetic(x, y, z)
    assert np.max(np.abs(lat2 - lat)) * A < MM
    assert np.max(np.abs(np.angle(np.exp(1j * (lon2 - lon))) * np.cos(lat))) * A < MM
    assert np.max(np.abs(h2 - h)) < MM
    # ENU round trip at a random site
    site = (0.7, -1.9, 120.0)
    e, nn, u = g.geodetic_to_enu(lat[:500], lon[:500], h[:500], *site)
    lat3, lon3, h3 = g.enu_to_geodetic(e, nn, u, *site)
    assert np.max(np.abs(lat3 - lat[:500])) * A < MM
    assert np.max(np.abs(h3 - h[:500])) < MM


@settings(max_examples=200, deadline=None)
@given(lat=st.floats(-90, 90), lon=st.floats(-180, 180), h=st.floats(-1000, 60000),
       lat0=st.floats(-89, 89), lon0=st.floats(-180, 180), h0=st.floats(-400, 5000))
def test_hypothesis_round_trips(lat, lon, h, lat0, lon0, h0):
    e, n, u = g.geodetic_to_enu_deg(lat, lon, h, lat0, lon0, h0)
    x, y, z = g.enu_to_ecef(e, n, u, math.radians(lat0), math.radians(lon0), h0)
    np.testing.assert_allclose((x, y, z), _ecef_ref(lat, lon, h), rtol=0, atol=MM)
    lat2, lon2, h2 = g.enu_to_geodetic_deg(e, n, u, lat0, lon0, h0)
    assert abs(float(lat2) - lat) * math.pi / 180 * A < MM
    assert abs(float(h2) - h) < MM
    if abs(lat) < 89.9:
        dlon = (float(lon2) - lon + 180) % 360 - 180
        assert abs(dlon) * math.pi / 180 * A * math.cos(math.radians(lat)) < MM


@pytest.mark.parametrize("lat0, lon0, h0", [(0, 0, 0), (52.0, 4.5, 30.0), (-45.0, 170.0, 800),
                                            (89.5, -60.0, 0.0)])
@pytest.mark.parametrize("up", [0.0, 1.0, 10000.0, 150e3])
def test_point_straight_above_site_is_0_0_h(lat0, lon0, h0, up):
    e, n, u = g.geodetic_to_enu_deg(lat0, lon0, h0 + up, lat0, lon0, h0)
    assert abs(float(e)) < MM and abs(float(n)) < MM
    assert float(u) == pytest.approx(up, abs=MM)


def test_enu_rotation_is_orthonormal_and_matches_vector_functions(rng):
    lat0, lon0 = 0.83, -2.1
    R = g.enu_rotation(lat0, lon0)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-15)
    assert np.linalg.det(R) == pytest.approx(1.0)
    v = rng.normal(size=(3, 50))
    np.testing.assert_allclose(np.stack(g.ecef_vector_to_enu(*v, lat0, lon0)), R @ v,
                               atol=1e-12)
    np.testing.assert_allclose(np.stack(g.enu_vector_to_ecef(*(R @ v), lat0, lon0)), v,
                               atol=1e-12)
    # up is the ellipsoid normal: the gradient direction of (X²+Y²)/a² + Z²/b²
    x, y, z = g.geodetic_to_ecef(lat0, lon0, 0.0)
    nrm = np.array([x / A ** 2, y / A ** 2, z / B ** 2])
    np.testing.assert_allclose(R[2], nrm / np.linalg.norm(nrm), atol=1e-15)


def test_azimuth_convention_north_is_zero_east_is_plus_half_pi():
    # due north along the site's meridian
    lat0, lon0, h0 = 47.0, 8.0, 400.0
    p = np.stack(g.geodetic_to_enu_deg(47.2, 8.0, 5000.0, lat0, lon0, h0))
    m = sph_of(p, np.zeros(3))[0]
    assert abs(m[1]) < 1e-12
    assert p[1] > 0
    # due east of an equatorial site, on the equator
    p = np.stack(g.geodetic_to_enu_deg(0.0, 0.3, 3000.0, 0.0, 0.0, 0.0))
    m = sph_of(p, np.zeros(3))[0]
    assert m[1] == pytest.approx(np.pi / 2, abs=1e-12)
    # and a point 10 km east in the site's tangent plane, through geodetic and back
    lat, lon, h = g.enu_to_geodetic_deg(10000.0, 0.0, 0.0, lat0, lon0, h0)
    p = np.stack(g.geodetic_to_enu_deg(lat, lon, h, lat0, lon0, h0))
    m = sph_of(p, np.zeros(3))[0]
    assert m[1] == pytest.approx(np.pi / 2, abs=1e-9)
    assert float(lon) > lon0
    # a velocity due north at the site is (0, v, 0) and az 0 as a direction
    ve, vn, vu = g.local_enu_vector_to_site(0.0, 100.0, 0.0, math.radians(lat0),
                                            math.radians(lon0), math.radians(lat0),
                                            math.radians(lon0))
    np.testing.assert_allclose([ve, vn, vu], [0, 100, 0], atol=1e-12)


def test_local_velocity_rotates_into_site_frame():
    # an aircraft 1° east of an equatorial site flying due north: still north at the site,
    # while "up" at the aircraft tilts east in the site frame by 1°
    ve, vn, vu = g.local_enu_vector_to_site(0.0, 200.0, 10.0, 0.0, math.radians(1.0), 0.0,
                                            0.0)
    assert float(vn) == pytest.approx(200.0, abs=1e-9)
    assert float(ve) == pytest.approx(10.0 * math.sin(math.radians(1.0)), abs=1e-9)
    assert float(vu) == pytest.approx(10.0 * math.cos(math.radians(1.0)), abs=1e-9)


def test_against_pymap3d():
    pm = pytest.importorskip("pymap3d")
    site = (52.3, 4.76, -3.0)
    for lat, lon, h in POINTS[:4] + [(52.9, 5.9, 11000.0), (51.8, 3.1, 300.0)]:
        np.testing.assert_allclose(g.geodetic_to_enu_deg(lat, lon, h, *site),
                                   pm.geodetic2enu(lat, lon, h, *site), rtol=0, atol=MM)
        np.testing.assert_allclose(g.geodetic_to_ecef_deg(lat, lon, h),
                                   pm.geodetic2ecef(lat, lon, h), rtol=0, atol=MM)


def test_site_parse_and_errors():
    s = g.Site.parse("52.5, -1.25, 80")
    assert (s.lat_deg, s.lon_deg, s.h_m) == (52.5, -1.25, 80.0)
    assert g.Site.parse("10,20").h_m == 0.0
    with pytest.raises(ConfigError, match="--site.*LAT,LON,ALT"):
        g.Site.parse("52.5")
    with pytest.raises(ConfigError, match="--site.*numbers"):
        g.Site.parse("north,1,2")
    with pytest.raises(ConfigError, match="--site: site lat_deg.*outside"):
        g.Site.parse("95,1,2")
    e, n, u = s.to_enu_deg(52.5, -1.25, 1080.0)
    assert float(u) == pytest.approx(1000.0, abs=MM)
    lat, lon, h = s.from_enu_deg(0.0, 0.0, 1000.0)
    assert (float(lat), float(lon), float(h)) == pytest.approx((52.5, -1.25, 1080.0),
                                                               abs=1e-9)
