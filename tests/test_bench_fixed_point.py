"""The CT fixed point of benchmarks/bench_ct_fixed_point.py against independent computations."""

import os
import sys

import numpy as np
import pytest
from scipy.optimize import brentq

import cmtoy

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))
from bench_ct_fixed_point import _pseudo_huber_argmin, fixed_point  # noqa: E402


def test_one_step_fixed_point_is_the_posterior_mean():
    # one step 0 -> s: f(s, x) = E[f(0, x_0) | x_s = x] = E[x_0 | x_s = x], in closed form in the interpolant
    grid = np.linspace(-4.0, 4.0, 801)
    f = fixed_point(cmtoy.SEED_MIXTURE, np.array([0.0, 0.6]), grid)
    exact = cmtoy.Interpolant(cmtoy.SEED_MIXTURE).posterior_mean(0.6, grid)
    np.testing.assert_allclose(f, exact, atol=1e-12)


@pytest.mark.parametrize("c", [0.03, 0.3, 1.0])
def test_pseudo_huber_argmin_is_the_root_of_the_derivative(c):
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal(-1.0, 0.1, (30, 20)), rng.normal(2.0, 0.1, (18, 20))])  # bimodal targets
    w = rng.uniform(size=y.shape)
    w /= w.sum(axis=0)
    got = _pseudo_huber_argmin(y, w, c, start=np.sum(w * y, axis=0))

    def derivative(z, j):
        r = z - y[:, j]
        return np.sum(w[:, j] * r / np.sqrt(r * r + c * c))

    expected = [brentq(derivative, y[:, j].min(), y[:, j].max(), args=(j,), xtol=1e-14) for j in range(y.shape[1])]
    np.testing.assert_allclose(got, expected, atol=1e-11)
