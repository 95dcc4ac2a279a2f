"""The plant: exact closest approach inside a step, RK4 lag dynamics, collision course."""
import numpy as np
import pytest

from xband.errors import InputError
from xband.guide.plant import Plant, collision_course, rotate_about_z

pytestmark = pytest.mark.reference_rerun


@pytest.mark.parametrize("dt", [1e-3, 0.01, 0.1])
def test_cpa_of_straight_lines_is_exact(rng, backend, dt):
    """Unaccelerated bodies: t* = −r₀·v/|v|², miss = |r₀ + v t*| (closed form); the plant
    resolves it inside the step to round-off, whatever the step."""
    n = 50
    r0 = rng.uniform(-5e3, 5e3, (n, 3))
    v = -r0 / rng.uniform(2.0, 9.0, (n, 1)) + rng.normal(size=(n, 3)) * 30
    m = np.zeros((n, 9))
    tg = np.zeros((n, 9))
    tg[:, 0:3], tg[:, 3:6] = r0, v
    t_star = -np.einsum("ij,ij->i", r0, v) / np.einsum("ij,ij->i", v, v)
    miss = np.linalg.norm(r0 + v * t_star[:, None], axis=1)
    plant = Plant(m, tg, tau=0.0)
    t = 0.0
    while not plant.done.all():
        plant.advance(np.zeros((n, 3)), dt, 7, t)
        t += 7 * dt
    np.testing.assert_allclose(plant.cpa[:, 0], t_star, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(plant.cpa[:, 1], miss, rtol=1e-7, atol=1e-7)


def test_first_order_lag_step_response(backend):
    """a(t) = a_c (1 − e^{−t/τ}); v and p its integrals — RK4 at h = τ/100 to ~1e-9."""
    tau, ac, h, steps = 0.3, 50.0, 0.003, 400
    plant = Plant(np.zeros(9), np.r_[1e6, 0, 0, 1.0, 0, 0, 0, 0, 0], tau)
    plant.advance(np.array([[ac, 0.0, 0.0]]), h, steps, 0.0)
    t = h * steps
    a = ac * (1 - np.exp(-t / tau))
    v = ac * (t - tau * (1 - np.exp(-t / tau)))
    p = ac * (t * t / 2 - tau * t + tau * tau * (1 - np.exp(-t / tau)))
    np.testing.assert_allclose(plant.m[0, [6, 3, 0]], [a, v, p], rtol=1e-8)


def test_curved_relative_motion_cpa_matches_fine_integration(backend):
    """With accelerations the CPA from a coarse step matches a very fine step."""
    tg = np.r_[3000.0, 500, 200, -300, 0, 0, 0, 40, -10]
    m0 = np.r_[0.0, 0, 0, 300, 0, 0, 0, 0, 0]
    res = []
    for dt in (0.02, 1e-4):
        plant = Plant(m0, tg, tau=0.2)
        t = 0.0
        while not plant.done[0]:
            plant.advance(np.array([[0.0, -20.0, 5.0]]), dt, 1, t)
            t += dt
        res.append(plant.cpa[0].copy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-6, atol=1e-4)


def test_collision_course_meets_target():
    p_m, p_t, v_t, s = np.zeros(3), np.array([5e3, 8e3, 2e3]), np.array([-100, -250, 0.0]), 700
    u = collision_course(p_m, p_t, v_t, s)
    # time when the distances along the course agree
    r = p_t - p_m
    t = np.roots([v_t @ v_t - s * s, 2 * r @ v_t, r @ r])
    t = min(x.real for x in t if x.real > 0)
    np.testing.assert_allclose(p_m + s * u * t, p_t + v_t * t, atol=1e-6)


def test_rotate_about_z_turns_clockwise():
    north = np.array([0.0, 1.0, 0.0])
    np.testing.assert_allclose(rotate_about_z(north, np.pi / 2), [1.0, 0.0, 0.0], atol=1e-15)


def test_bad_plant_input():
    with pytest.raises(InputError, match="non-finite"):
        Plant(np.full(9, np.nan), np.zeros(9), 0.1)
    with pytest.raises(InputError, match="time constant"):
        Plant(np.zeros(9), np.ones(9), -1.0)
