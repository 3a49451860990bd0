"""Numerical extremes that are valid input: exact answers, finite, and never a warning.

Every test here runs with warnings turned into errors, so a RuntimeWarning (overflow,
invalid value, mean of an empty slice) from a public call fails it.
"""

import numpy as np
import pytest
from scipy import stats

import cmtoy
from cmtoy import GaussianMixture, Interpolant
from cmtoy.validation import MAX_POINT, MAX_STD, MIN_STD

pytestmark = pytest.mark.filterwarnings("error")


@pytest.mark.parametrize("weights, expected", [
    ([1e308, 1e308], [0.5, 0.5]),
    ([1e308, 1e308, 1e308], [1 / 3, 1 / 3, 1 / 3]),
    ([1.5e308, 0.5e308], [0.75, 0.25]),
    ([1e-320, 3e-320], [0.25, 0.75]),  # subnormal: their sum would lose digits
    ([5e-324, 0.0], [1.0, 0.0]),
])
def test_weights_that_overflow_or_underflow_when_summed_normalise(weights, expected):
    mix = GaussianMixture([0.0, 1.0, 2.0][: len(weights)], [1.0] * len(weights), weights)
    np.testing.assert_allclose(mix.weights, expected, rtol=1e-3 if weights[0] < 1e-300 else 1e-15)
    assert mix.weights.sum() == pytest.approx(1.0, abs=1e-15)


def test_ordinary_weights_take_the_unchanged_path_bit_for_bit():
    weights = np.array([0.3, 0.7, 1.9])
    np.testing.assert_array_equal(GaussianMixture([0, 1, 2], [1, 1, 1], weights).weights, weights / weights.sum())


@pytest.mark.parametrize("stds", [[1e-200], [1e-51], [1e51], [0.1, 1e300]])
def test_stds_whose_squares_underflow_or_overflow_are_refused_with_the_reason(stds):
    with pytest.raises(ValueError, match="stds must lie in.*underflow to 0 nor overflow"):
        GaussianMixture([0.0] * len(stds), stds)


def test_means_beyond_the_point_limit_are_refused():
    with pytest.raises(ValueError, match="means must be at most 1e\\+100 in magnitude"):
        GaussianMixture([0.0, 1e101], [1.0, 1.0])


@pytest.mark.parametrize("std", [MIN_STD, 1e-20, MAX_STD])
def test_the_narrowest_and_widest_stds_give_the_target_density_at_t_0(std):
    mix = GaussianMixture([0.0], [std])
    x = np.array([-std, 0.0, 0.5 * std])
    want = stats.norm.pdf(x / std) / std
    for schedule in ("linear", "cosine"):
        interp = Interpolant(mix, schedule)
        np.testing.assert_allclose(interp.pdf(0.0, x), want, rtol=1e-12)
        np.testing.assert_allclose(mix.pdf(x), want, rtol=1e-12)
        assert np.all(np.isfinite(interp.score(0.0, x)))


FAR = np.array([-MAX_POINT, -1e50, -1e6, 1e6, 1e50, MAX_POINT])


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("t", [0.0, 1e-300, 0.3, 1.0])
def test_score_posterior_mean_and_velocity_stay_finite_far_in_the_tails(schedule, t):
    interp = Interpolant(cmtoy.SEED_MIXTURE, schedule)
    score, mean_x0, velocity = interp.score(t, FAR), interp.posterior_mean(t, FAR), interp.velocity(t, FAR)
    assert np.all(np.isfinite(score)) and np.all(np.isfinite(mean_x0)) and np.all(np.isfinite(velocity))
    assert np.all(np.sign(score) == -np.sign(FAR))  # the density falls off on both sides
    # far out the responsibility is all on the widest component (both have std 0.1 here, so
    # the one whose mean lies on that side): score = -(x - m_k) / v_k
    means, stds = interp.components(t)
    k = np.where(FAR > 0, np.argmax(means), np.argmin(means))
    np.testing.assert_allclose(score, -(FAR - means[k]) / stds[k] ** 2, rtol=1e-12)
    assert np.all(np.isfinite(interp.flow_map(FAR, t, 0.0))) and np.all(np.isfinite(interp.pdf(t, FAR)))


def test_points_beyond_the_limit_are_refused_not_turned_into_nan():
    interp = Interpolant(cmtoy.SEED_MIXTURE)
    for call in (interp.score, interp.posterior_mean, interp.velocity, interp.pdf):
        with pytest.raises(ValueError, match="x must be finite and at most 1e\\+100"):
            call(0.5, 1e101)


def test_the_target_density_and_cdf_take_any_real_x_with_their_exact_limits():
    mix = GaussianMixture([0.0, 1.0], [MIN_STD, 1.0])
    x = np.array([-np.inf, -1e308, -1e200, 1e200, 1e308, np.inf])
    assert np.all(mix.pdf(x) == 0.0)
    np.testing.assert_array_equal(mix.cdf(x), [0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(mix.logpdf(x), -np.inf)


@pytest.mark.parametrize("means, stds", [
    ([-1e100, 1e100], [1.0, 1.0]),
    ([-1e6, 1e6], [1e-3, 1e-3]),
    ([-1e100, 0.0, 1e100], [MIN_STD, MAX_STD, 1.0]),
    ([-1e100, 1e100], [MIN_STD, MIN_STD]),
    ([-1e10, -1e10 + 1, 1e10], [1.0, 0.01, 1e3]),
])
def test_means_far_apart_solve_their_quantiles(means, stds):
    mix = GaussianMixture(means, stds)
    u = np.array([0.0, 1e-300, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-16, 1.0])
    q = mix.ppf(u)  # no "please report": the bisection has the steps a 2e100 bracket needs
    assert q[0] == -np.inf and q[-1] == np.inf and np.all(np.isfinite(q[1:-1]))
    assert np.all(np.diff(q) >= 0)
    # the quantile is right to the solver's tolerance, 1e-12 (1 + |y|): F crosses u within
    # it (at 1e100 that is wider than a std of 1, and F is a step there)
    tolerance = 1e-12 * (1.0 + np.abs(q[1:-1]))
    below, above = q[1:-1] - tolerance, q[1:-1] + tolerance
    assert np.all(mix.cdf(below) <= u[1:-1] * (1 + 1e-9)) and np.all(mix.cdf(above) >= u[1:-1] * (1 - 1e-9))
    interp = Interpolant(mix)
    x = np.array([-1.0, 0.0, 2.0])
    assert np.all(np.isfinite(interp.flow_map(x, 0.5, 0.0))) and np.all(np.isfinite(interp.flow_map(x, 0.0, 1.0)))


def test_degenerate_counts_are_refused_where_zero_makes_no_sense_and_allowed_where_it_does():
    interp = Interpolant(cmtoy.SEED_MIXTURE)
    exact = cmtoy.ExactModel(interp)
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        cmtoy.flow_map_error(exact, interp, n=0)  # a mean of nothing
    with pytest.raises(ValueError, match="dts must be a non-empty"):
        cmtoy.induction_error(interp, 0.5, [])
    with pytest.raises(ValueError, match="samples is empty"):
        cmtoy.wasserstein1([], cmtoy.SEED_MIXTURE)
    rng = np.random.default_rng(0)
    assert cmtoy.SEED_MIXTURE.sample(rng, 0).shape == (0,)  # zero samples: empty, as numpy
    assert interp.sample(rng, 0, 0.5).shape == (0,)
    assert cmtoy.sample(exact, rng, 0).shape == (0,)


@pytest.mark.parametrize("std", [1e-3, 1e-8, 1e-20, MIN_STD])
def test_quantiles_of_narrow_mixtures_are_precise_relative_to_their_width(std):
    """The solvers' tolerances scale with the narrowest component below 1e-3 (length_unit),
    so a mixture 1e-50 wide is solved as precisely, in its own units, as one 1 wide."""
    u = np.array([1e-10, 0.01, 0.3, 0.5, 0.7, 0.99])
    one = GaussianMixture([0.0], [std])
    np.testing.assert_allclose(one.ppf(u) / std, stats.norm.ppf(u), rtol=1e-13, atol=1e-13)
    two = GaussianMixture([0.0, 5 * std], [std, 2 * std], [0.3, 0.7])
    np.testing.assert_allclose(two.cdf(two.ppf(u)), u, rtol=1e-12)
    interp = Interpolant(two)
    x = np.linspace(-3, 8, 12) * std
    there = interp.flow_map(x, 0.0, 1e-3 * std)  # a short flow and back
    np.testing.assert_allclose(interp.flow_map(there, 1e-3 * std, 0.0) / std, x / std, atol=1e-12)


def test_mixtures_at_least_1e_3_wide_keep_the_unit_tolerances():
    from cmtoy.mixture_kernels import length_unit

    assert length_unit(cmtoy.SEED_MIXTURE.stds) == 1.0 and length_unit([1e-3, 5.0]) == 1.0
    assert length_unit([1e-6, 1.0]) == pytest.approx(1e-3)
