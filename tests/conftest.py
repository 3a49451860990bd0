"""Shared fixtures: the seed mixture and a harder three-component mixture."""

import numpy as np
import pytest

import cmtoy

THREE = dict(means=[-2.0, 0.3, 3.0], stds=[0.2, 0.05, 0.7], weights=[0.5, 0.2, 0.3])


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def seed_mixture():
    return cmtoy.SEED_MIXTURE


@pytest.fixture
def three_mixture():
    return cmtoy.GaussianMixture(**THREE)


@pytest.fixture(params=["linear", "cosine"])
def schedule(request):
    return {"linear": cmtoy.LinearSchedule(), "cosine": cmtoy.CosineSchedule()}[request.param]
