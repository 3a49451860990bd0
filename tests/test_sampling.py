"""One-step and multistep sampling, checked with the exact consistency function."""

import numpy as np
import pytest

import cmtoy
from cmtoy.interpolant import Interpolant
from cmtoy.metrics import wasserstein1
from cmtoy.sampling import sample


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
@pytest.mark.parametrize("times", [(1.0,), (1.0, 0.5), (1.0, 0.8, 0.3, 0.05)])
def test_sampling_with_the_exact_consistency_function_reaches_the_noise_floor(schedule, times):
    model = cmtoy.ExactModel(Interpolant(cmtoy.SEED_MIXTURE, schedule))
    x = sample(model, np.random.default_rng(0), 20_000, times=times)
    assert x.shape == (20_000,)
    assert wasserstein1(x, cmtoy.SEED_MIXTURE) < 0.02  # the floor at 2e4 samples is ~0.01


def test_multistep_renoises_along_the_interpolant():
    """With f = identity, step 2 returns alpha_t x + sigma_t z, whose variance is known."""

    class Identity:
        schedule = cmtoy.LinearSchedule()

        def __call__(self, t, x):
            return np.asarray(x, dtype=float)

    x, path = sample(Identity(), np.random.default_rng(0), 200_000, times=(1.0, 0.25), return_path=True)
    assert path.shape == (2, 200_000) and np.array_equal(path[-1], x)
    assert np.var(x) == pytest.approx(0.75**2 + 0.25**2, rel=0.02)


def test_sampling_is_reproducible_for_a_seed():
    model = cmtoy.ExactModel(Interpolant(cmtoy.SEED_MIXTURE))
    a = sample(model, np.random.default_rng(3), 100, times=(1.0, 0.5))
    b = sample(model, np.random.default_rng(3), 100, times=(1.0, 0.5))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("times", [(), (0.9,), (1.0, 0.5, 0.5), (1.0, 0.2, 0.4), (1.0, 0.0), (1.0, np.nan)])
def test_bad_sampling_times_are_rejected(times):
    model = cmtoy.ExactModel(Interpolant(cmtoy.SEED_MIXTURE))
    with pytest.raises(ValueError, match="times"):
        sample(model, np.random.default_rng(0), 10, times=times)


def test_sampling_needs_a_generator():
    with pytest.raises(TypeError, match="Generator"):
        sample(cmtoy.ExactModel(Interpolant(cmtoy.SEED_MIXTURE)), 0, 10)
