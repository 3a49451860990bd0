"""Exact W1 against scipy, the flow-map error, and the induction-error slopes of the seed page."""

import functools

import numpy as np
import pytest
import scipy.stats

import cmtoy
from cmtoy.interpolant import Interpolant
from cmtoy.metrics import flow_map_error, induction_error, wasserstein1

MIX = cmtoy.SEED_MIXTURE
HARD = cmtoy.GaussianMixture(means=[-2.0, 0.5, 3.0], stds=[0.3, 0.05, 0.6], weights=[0.5, 0.15, 0.35])


@functools.lru_cache(maxsize=None)
def quantile_grid(which):
    """The target as 400,000 mid-point quantiles: within ~1e-5 of it in W1."""
    return (MIX, HARD)[which].ppf((np.arange(400_000) + 0.5) / 400_000)


@pytest.mark.parametrize("which", [0, 1])
@pytest.mark.parametrize("shift", [0.0, 0.3])
def test_wasserstein1_matches_scipy_against_a_fine_quantile_grid(which, shift):
    target = (MIX, HARD)[which]
    rng = np.random.default_rng(1)
    samples = target.sample(rng, 2000) + shift
    grid = quantile_grid(which)
    expected = scipy.stats.wasserstein_distance(samples, grid)
    assert wasserstein1(samples, target) == pytest.approx(expected, abs=2e-5)


def test_wasserstein1_of_a_point_mass_is_the_mean_absolute_deviation():
    a = 0.5  # E|X - a| for X ~ mixture: each component's folded-normal mean
    z = (a - MIX.means) / MIX.stds
    per = MIX.stds * (z * (2 * scipy.stats.norm.cdf(z) - 1) + 2 * scipy.stats.norm.pdf(z))
    assert wasserstein1([a], MIX) == pytest.approx(per @ MIX.weights, rel=1e-12)


def test_wasserstein1_of_shifted_exact_quantiles_is_the_shift():
    u = (np.arange(10_000) + 0.5) / 10_000
    assert wasserstein1(MIX.ppf(u) + 0.25, MIX) == pytest.approx(0.25, abs=1e-3)


@pytest.mark.parametrize("bad", [[], [0.0, np.nan], [np.inf]])
def test_wasserstein1_rejects_empty_or_non_finite_samples(bad):
    with pytest.raises(ValueError, match="samples"):
        wasserstein1(bad, MIX)


def test_wasserstein1_rejects_a_target_that_is_not_a_mixture():
    with pytest.raises(TypeError, match="GaussianMixture"):
        wasserstein1([0.0], "normal")


def test_flow_map_error_is_zero_for_the_exact_consistency_function_and_not_for_identity():
    interp = Interpolant(MIX)
    exact = lambda t, x: interp.flow_map(x, t, 0.0)  # noqa: E731
    assert flow_map_error(exact, interp, n=2000) < 1e-10
    assert flow_map_error(lambda t, x: x, interp, n=2000) > 0.1
    # seeded: the same call scores the same points
    assert flow_map_error(lambda t, x: x, interp, n=500) == flow_map_error(lambda t, x: x, interp, n=500)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("t", [0.2, 0.6])
def test_induction_error_bias_shrinks_like_dt_squared_and_spread_like_dt(schedule, t):
    result = induction_error(Interpolant(MIX, schedule), t, np.geomspace(1e-3, 1e-2, 5), n=64)
    assert result.bias_slope == pytest.approx(2.0, abs=0.25)
    assert result.spread_slope == pytest.approx(1.0, abs=0.15)
    assert np.all(result.bias < result.spread)
    assert result.bias.shape == result.spread.shape == result.mean_bias.shape == (5,)


def test_induction_error_rejects_steps_beyond_t_equals_one():
    with pytest.raises(ValueError, match="dts"):
        induction_error(Interpolant(MIX), 0.9, [0.05, 0.2])
