"""cmtoy.metrics.ct_fixed_point against independent computations (quad, brentq, f*)."""

import numpy as np
import pytest
from scipy import integrate, stats
from scipy.optimize import brentq

import cmtoy
from cmtoy.metrics import _pseudo_huber_argmin, ct_fixed_point


def _posterior_x0_pdf(interp, s, y):
    """The density of x_0 given x_s = y, from Interpolant.posterior_x0 (a mixture)."""
    r, m, sd = (a.ravel() for a in interp.posterior_x0(s, y))
    return lambda x0: float(np.sum(r * stats.norm.pdf(x0, m, sd)))


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_one_step_fixed_point_is_the_posterior_mean(schedule):
    # one step 0 -> s: f(s, x) = E[f(0, x_0) | x_s = x] = E[x_0 | x_s = x], a closed form of the interpolant
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, schedule)
    x = np.linspace(-4.0, 4.0, 801)
    np.testing.assert_allclose(ct_fixed_point(interp, [0.0, 0.6], x), interp.posterior_mean(0.6, x), atol=1e-12)


def test_two_step_fixed_point_matches_quad():
    # f_2(s, y) = E[f_1(t, x_t) | x_s = y] with f_1(t, .) = E[x_0 | x_t = .] and x_t on y's line through x_0
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)
    t, s = 0.3, 0.7
    x = np.linspace(-5.0, 5.0, 20_001)
    f = ct_fixed_point(interp, [0.0, t, s], x)
    a = t / s  # linear schedule: sigma_t / sigma_s
    for y in [-1.5, -0.4, 0.2, 0.9, 1.6]:
        pdf = _posterior_x0_pdf(interp, s, y)
        x_t = lambda x0: a * y + (1 - t - a * (1 - s)) * x0  # noqa: E731
        expected = integrate.quad(lambda x0: pdf(x0) * interp.posterior_mean(t, x_t(x0)), -3, 4, points=[-1, 2],
                                  epsabs=1e-11, limit=200)[0]
        assert np.interp(y, x, f) == pytest.approx(expected, abs=1e-6)


def test_one_step_pseudo_huber_fixed_point_is_the_argmin_of_the_expected_distance():
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)
    c, s = 0.5, 0.8
    x = np.linspace(-4.0, 4.0, 81)
    f = ct_fixed_point(interp, [0.0, s], x, distance="pseudo_huber", huber_c=c)
    for i in [10, 35, 47, 52, 70]:
        pdf = _posterior_x0_pdf(interp, s, x[i])
        slope = lambda z: integrate.quad(lambda x0: pdf(x0) * (z - x0) / np.hypot(z - x0, c), -3, 4,  # noqa: E731
                                         points=[-1, 2], epsabs=1e-12, limit=200)[0]
        assert f[i] == pytest.approx(brentq(slope, -1.5, 2.5, xtol=1e-12), abs=1e-7)


@pytest.mark.parametrize("c", [0.03, 0.3, 1.0])
def test_pseudo_huber_argmin_is_the_root_of_the_derivative(c):
    rng = np.random.default_rng(0)
    y = np.concatenate([rng.normal(-1.0, 0.1, (20, 30)), rng.normal(2.0, 0.1, (20, 18))], axis=1)  # bimodal rows
    w = rng.uniform(size=y.shape)
    w /= w.sum(axis=1, keepdims=True)
    got = _pseudo_huber_argmin(y, w, c, start=np.sum(w * y, axis=1))

    def derivative(z, j):
        r = z - y[j]
        return np.sum(w[j] * r / np.sqrt(r * r + c * c))

    expected = [brentq(derivative, y[j].min(), y[j].max(), args=(j,), xtol=1e-14) for j in range(y.shape[0])]
    np.testing.assert_allclose(got, expected, atol=1e-11)


def test_fixed_point_approaches_the_exact_consistency_function_as_n_grows():
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)
    x = np.linspace(-4.0, 4.0, 4001)
    weight = interp.pdf(1.0, x)
    exact = interp.consistency_function(1.0, x)
    errors = [np.sum(weight * np.abs(ct_fixed_point(interp, np.linspace(0, 1, n + 1), x) - exact)) / weight.sum()
              for n in (4, 16, 64)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.5 * errors[0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(ts=[0.1, 0.5]), "ts must"),
    (dict(ts=[0.0, 0.5, 0.4]), "ts must"),
    (dict(ts=[0.0]), "ts must"),
    (dict(ts=[0.0, 1.5]), "ts"),
    (dict(x=[1.0, 0.0]), "x must"),
    (dict(x=[0.0, np.nan]), "x must"),
    (dict(distance="l1"), "distance must"),
    (dict(distance="pseudo_huber", huber_c=0.0), "huber_c must"),
    (dict(n_nodes=0), "n_nodes must"),
])
def test_bad_input_is_rejected(kwargs, match):
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE)
    args = {"ts": [0.0, 0.5, 1.0], "x": np.linspace(-3, 3, 11), **kwargs}
    with pytest.raises(ValueError, match=match):
        ct_fixed_point(interp, args.pop("ts"), args.pop("x"), **args)


def test_interp_must_be_an_interpolant():
    with pytest.raises(TypeError, match="Interpolant"):
        ct_fixed_point(cmtoy.SEED_MIXTURE, [0.0, 1.0], [0.0, 1.0])
