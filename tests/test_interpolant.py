"""The exact interpolant, checked against independent numerics (quad, solve_ivp, finite differences)."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

import cmtoy

TIMES = [0.0, 0.05, 0.3, 0.5, 0.8, 0.97, 1.0]


@pytest.fixture(params=["seed", "three"])
def interp(request, schedule, seed_mixture, three_mixture):
    mix = seed_mixture if request.param == "seed" else three_mixture
    return cmtoy.Interpolant(mix, schedule)


def test_pdf_integrates_to_one_and_cdf_matches_quad(interp):
    for t in TIMES:
        total = integrate.quad(lambda x: interp.pdf(t, x), -40, 40, points=[-3, 0, 3], limit=400)[0]
        assert total == pytest.approx(1.0, abs=1e-8)
        for x in [-1.5, 0.2, 2.5]:
            integral = integrate.quad(lambda y: interp.pdf(t, y), -40, x, points=[-3, 0], limit=400)[0]
            assert interp.cdf(t, x) == pytest.approx(integral, abs=1e-8)


def test_marginal_law_matches_samples(interp, rng):
    for t in (0.2, 0.7):
        x_t = interp.sample(rng, 20000, t)
        assert stats.kstest(x_t, lambda x: interp.cdf(t, x)).pvalue > 1e-3


def test_sample_endpoints_form_the_interpolant(interp, rng):
    t = rng.uniform(size=500)
    x_0, x_1, x_t = interp.sample_endpoints(rng, 500, t)
    np.testing.assert_array_equal(x_t, interp.schedule.alpha(t) * x_0 + interp.schedule.sigma(t) * x_1)


def test_score_is_the_derivative_of_log_pdf(interp):
    x = np.linspace(-3, 3.5, 53)
    h = 1e-5
    for t in TIMES:
        fd = (interp.logpdf(t, x + h) - interp.logpdf(t, x - h)) / (2 * h)
        np.testing.assert_allclose(interp.score(t, x), fd, rtol=1e-6, atol=1e-5)


def test_posterior_means_against_quadrature(interp):
    """E[x_0 | x_t = x] = int x_0 p(x_0) N(x; alpha x_0, sigma^2) dx_0 / p_t(x), for t in (0, 1)."""
    mix, sch = interp.target, interp.schedule
    for t in (0.1, 0.5, 0.9):
        a, s = float(sch.alpha(t)), float(sch.sigma(t))
        for x in (-1.2, 0.4, 2.1):
            like = lambda x0: mix.pdf(x0) * stats.norm.pdf(x, a * x0, s)  # noqa: E731
            grid = np.linspace(-8, 8, 400_001)  # Simpson's rule on a grid far finer than any peak
            weight = like(grid)
            m0 = integrate.simpson(grid * weight, x=grid) / integrate.simpson(weight, x=grid)
            assert interp.posterior_mean(t, x) == pytest.approx(m0, abs=1e-8)
            # x_t = alpha x_0 + sigma x_1 holds for the conditional means too
            assert a * m0 + s * interp.noise_mean(t, x) == pytest.approx(x, abs=1e-8)


def test_flow_map_agrees_with_an_ode_solver(interp):
    """h_{t->s}(x) against DOP853 integration of dx/dt = v_t(x) with tight tolerances."""
    rng = np.random.default_rng(3)
    for t, s in [(1.0, 0.0), (0.9, 0.2), (0.4, 0.0), (0.1, 0.85), (0.7, 0.69)]:
        x = interp.sample(rng, 6, t)
        exact = interp.flow_map(x, t, s)
        sol = integrate.solve_ivp(
            lambda time, y: interp.velocity(time, y), (t, s), x, method="DOP853", rtol=1e-12, atol=1e-12
        )
        np.testing.assert_allclose(exact, sol.y[:, -1], rtol=0, atol=1e-7)


def test_flow_map_composes_and_is_monotone(interp):
    x = np.linspace(-4, 4, 401)
    for t, s, r in [(1.0, 0.5, 0.0), (0.2, 0.9, 0.4), (0.6, 0.3, 1.0)]:
        direct = interp.flow_map(x, t, r)
        composed = interp.flow_map(interp.flow_map(x, t, s), s, r)
        np.testing.assert_allclose(composed, direct, atol=1e-9)
        assert np.all(np.diff(direct) > 0)


def test_velocity_is_the_time_derivative_along_a_trajectory(interp):
    x_1 = np.linspace(-2.5, 2.5, 9)
    h = 1e-5
    for t in (0.1, 0.4, 0.75):
        x_t = interp.flow_map(x_1, 1.0, t)
        fd = (interp.flow_map(x_1, 1.0, t + h) - interp.flow_map(x_1, 1.0, t - h)) / (2 * h)
        np.testing.assert_allclose(interp.velocity(t, x_t), fd, rtol=1e-6, atol=1e-6)


def test_velocity_dx_matches_finite_differences_and_the_flow_maps_stretching(interp):
    """d/dx v_t(x) against central differences of v, and against an independent fact: the
    exact map's slope is d/dx h_{t->s}(x) = p_t(x) / p_s(h), and along a trajectory
    d/ds log p_s(x_s) = -d/dx v_s(x_s) (the continuity equation)."""
    rng = np.random.default_rng(5)
    t, x = rng.uniform(0.0, 1.0, 200), rng.uniform(-4.0, 4.0, 200)
    h = 1e-6
    fd = (interp.velocity(t, x + h) - interp.velocity(t, x - h)) / (2 * h)
    np.testing.assert_allclose(interp.velocity_dx(t, x), fd, rtol=1e-6, atol=1e-6)
    assert np.ptp(fd) > 1.0  # the flow both spreads and gathers: the test is not of a constant
    x_1 = np.linspace(-2.5, 2.5, 11)
    for s in (0.15, 0.5, 0.85):
        log_density = [interp.logpdf(r, interp.flow_map(x_1, 1.0, r)) for r in (s + 1e-5, s - 1e-5)]
        np.testing.assert_allclose(interp.velocity_dx(s, interp.flow_map(x_1, 1.0, s)),
                                   -(log_density[0] - log_density[1]) / 2e-5, rtol=1e-5, atol=1e-5)


def test_trajectories_shape_and_ends(interp):
    x_1 = np.array([-1.0, 0.0, 0.8])
    ts = np.array([1.0, 0.5, 0.0])
    paths = interp.trajectories(x_1, ts)
    assert paths.shape == (3, 3)
    np.testing.assert_array_equal(paths[0], x_1)
    np.testing.assert_allclose(paths[2], interp.consistency_function(1.0, x_1))


def test_many_scattered_times_use_the_same_exact_answer(interp):
    """The vectorised multi-time path and the tabulated single-time path agree."""
    rng = np.random.default_rng(5)
    t = rng.uniform(size=30000)
    x = interp.sample(rng, 30000, t)
    f_tab = interp.flow_map(x, t, 0.0)  # one target time: tabulated path
    f_vec = interp.flow_map(x[:500], t[:500], np.full(500, 0.0) + 0.0 * t[:500])
    np.testing.assert_allclose(f_tab[:500], f_vec, atol=1e-10)
    s = rng.uniform(size=30000)  # scattered target times: the vectorised path
    back = interp.flow_map(interp.flow_map(x, t, s), s, t)
    np.testing.assert_allclose(back, x, atol=1e-8)


def test_extreme_inputs_stay_finite_without_warnings(schedule):
    mix = cmtoy.GaussianMixture([-3.0, 0.5, 40.0], [1e-4, 0.3, 2.0], [0.2, 0.5, 0.3])
    interp = cmtoy.Interpolant(mix, schedule)
    x = np.array([-1e3, -50.0, -3.0, 0.0, 0.5, 39.0, 1e3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for t in (0.0, 1e-12, 0.5, 1.0 - 1e-12, 1.0):
            for f in (interp.pdf, interp.logpdf, interp.cdf, interp.score, interp.posterior_mean, interp.velocity):
                assert np.all(np.isfinite(f(t, x))), (f.__name__, t)
            for s in (0.0, 0.3, 1.0):
                y = interp.flow_map(x, t, s)
                assert np.all(np.isfinite(y)) and np.all(np.diff(y) >= 0), (t, s, y)


def test_bad_times_are_rejected(seed_mixture):
    interp = cmtoy.Interpolant(seed_mixture)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\], got 1.5"):
        interp.pdf(1.5, 0.0)
    with pytest.raises(ValueError, match=r"s must lie in \[0, 1\], got -0.1"):
        interp.flow_map(0.0, 0.5, -0.1)
    with pytest.raises(ValueError, match="t contains NaN"):
        interp.velocity(np.nan, 0.0)
    with pytest.raises(ValueError, match="x must be finite"):
        interp.flow_map(np.inf, 0.5, 0.0)
    with pytest.raises(TypeError, match="GaussianMixture"):
        cmtoy.Interpolant([0.0, 1.0])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        interp.sample(np.random.default_rng(0), 3, np.array([0.1, 0.2]))


mixtures = st.integers(1, 4).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(-5, 5), min_size=k, max_size=k),
        st.lists(st.floats(0.01, 3), min_size=k, max_size=k),
        st.lists(st.floats(0.01, 1), min_size=k, max_size=k),
    )
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixtures, st.floats(0, 1), st.floats(0, 1), st.sampled_from(["linear", "cosine"]))
def test_properties_over_random_mixtures(params, t, s, schedule_name):
    means, stds, weights = params
    interp = cmtoy.Interpolant(cmtoy.GaussianMixture(means, stds, weights), schedule_name)
    x = np.linspace(-12, 12, 97)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for f in (interp.pdf, interp.cdf, interp.score, interp.posterior_mean, interp.velocity):
            assert np.all(np.isfinite(f(t, x)))
        y = interp.flow_map(x, t, s)
    assert np.all(np.isfinite(y))
    # monotone up to rounding: deep in a gap the map is flat to within an ulp
    assert np.all(np.diff(y) >= -4e-16 * (1 + np.abs(y[1:])))
    np.testing.assert_array_equal(interp.flow_map(x, t, t), x)
    np.testing.assert_allclose(interp.cdf(s, y), interp.cdf(t, x), atol=1e-12)
    # the lower tail keeps its relative precision far out (probabilities down to 1e-300)
    log_t, log_s = interp.marginal(t).logcdf(x[:30]), interp.marginal(s).logcdf(y[:30])
    finite = log_t > -690
    np.testing.assert_allclose(log_s[finite], log_t[finite], rtol=1e-9, atol=1e-9)


def test_flow_map_takes_scalars():
    # regression: the in-place upper-tail write failed on a 0-d x with a TypeError
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)
    y = interp.flow_map(0.5, 1.0, 0.3)
    assert np.shape(y) == () and y == interp.flow_map(np.array([0.5]), 1.0, 0.3)[0]
    assert interp.consistency_function(0.5, -0.2) == interp.flow_map(np.array([-0.2]), 0.5, 0.0)[0]
    assert interp.flow_map(np.ones((2, 3)), 0.5, np.zeros((4, 1, 1))).shape == (4, 2, 3)


def test_flow_map_far_in_the_lower_tail_of_narrow_components():
    """Found by hypothesis: a 1e-117 tail probability, where Newton on the plain CDF crawls."""
    mix = cmtoy.GaussianMixture([0, 0, 0, 5], [0.03125, 0.03125, 0.03125, 0.125], [1, 1, 1, 1])
    interp = cmtoy.Interpolant(mix, "linear")
    x = np.linspace(-12, 12, 97)
    y = interp.flow_map(x, 0.5, 0.0)
    assert np.all(np.diff(y) > 0)
    np.testing.assert_allclose(mix.logcdf(y[:20]), np.log(interp.cdf(0.5, x[:20])), rtol=1e-12)


def test_flow_map_resolves_the_gap_between_separated_modes(seed_mixture):
    """Between the modes F_t is within 1e-20 of the weight 0.8: F_t alone would map the whole
    gap to one point. The anchored CDF F_t - 0.8 keeps the digits; compare with DOP853."""
    interp = cmtoy.Interpolant(seed_mixture)
    x = np.array([0.3, 0.45, 0.6])
    exact = interp.flow_map(x, 0.1, 0.0)
    for xi, yi in zip(x, exact):
        sol = integrate.solve_ivp(
            lambda time, y: interp.velocity(time, y), (0.1, 0.0), [xi], method="DOP853", rtol=1e-13, atol=1e-13
        )
        assert yi == pytest.approx(sol.y[0, -1], abs=1e-9)
    grid = np.linspace(0.1, 0.8, 200)
    assert np.all(np.diff(interp.flow_map(grid, 0.1, 0.0)) > 0)  # no plateau


def test_blocked_evaluation_matches_single_points(seed_mixture):
    """A large batch is mapped in blocks; each block must give what a lone call gives."""
    from cmtoy import exact_flow

    interp = cmtoy.Interpolant(seed_mixture)
    rng = np.random.default_rng(11)
    n = exact_flow.CHUNK + 1234
    t = rng.uniform(size=n)
    x = interp.sample(rng, n, t)
    whole = interp.flow_map(x, t, 0.0)
    picks = rng.choice(n, size=20, replace=False)
    np.testing.assert_allclose(whole[picks], [interp.flow_map(x[i], t[i], 0.0) for i in picks], atol=1e-12)
