"""Schedules: boundary conditions, derivatives against finite differences, custom subclasses."""

import numpy as np
import pytest

import cmtoy


def test_boundary_conditions(schedule):
    assert schedule.alpha(0.0) == 1.0 and schedule.alpha(1.0) == 0.0
    assert schedule.sigma(0.0) == 0.0 and schedule.sigma(1.0) == 1.0


def test_derivatives_match_central_differences(schedule):
    t = np.linspace(0.01, 0.99, 37)
    h = 1e-6
    for f, df in [(schedule.alpha, schedule.d_alpha), (schedule.sigma, schedule.d_sigma)]:
        fd = (f(t + h) - f(t - h)) / (2 * h)
        np.testing.assert_allclose(df(t), fd, rtol=1e-7, atol=1e-8)


def test_vectorised_shapes(schedule):
    t = np.zeros((3, 4))
    for f in (schedule.alpha, schedule.sigma, schedule.d_alpha, schedule.d_sigma):
        assert np.shape(f(t)) == (3, 4)


class Quadratic(cmtoy.Schedule):
    """alpha = (1 - t)^2, sigma = t (2 - t): a valid custom schedule without derivatives."""

    def alpha(self, t):
        return (1.0 - np.asarray(t)) ** 2

    def sigma(self, t):
        t = np.asarray(t)
        return t * (2.0 - t)


def test_custom_schedule_gets_accurate_default_derivatives():
    sched = Quadratic()
    t = np.linspace(0, 1, 11)
    np.testing.assert_allclose(sched.d_alpha(t), -2 * (1 - t), atol=1e-10)
    np.testing.assert_allclose(sched.d_sigma(t), 2 - 2 * t, atol=1e-10)
    ip = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, sched)  # validates
    assert np.isfinite(ip.velocity(0.5, 0.3))


class Broken(cmtoy.Schedule):
    def alpha(self, t):
        return 1.0 - 0.5 * np.asarray(t)  # alpha_1 = 0.5: violates seed eq. (3)

    def sigma(self, t):
        return np.asarray(t) * 1.0


class BrokenSigma(cmtoy.Schedule):
    def alpha(self, t):
        return 1.0 - np.asarray(t)

    def sigma(self, t):
        return 0.1 + 0.9 * np.asarray(t)  # sigma_0 = 0.1


def test_boundary_violations_are_named():
    with pytest.raises(ValueError, match=r"alpha_1 = 0 .*got 0.5"):
        cmtoy.Interpolant(cmtoy.SEED_MIXTURE, Broken())
    with pytest.raises(ValueError, match=r"sigma_0 = 0 .*got 0.1"):
        cmtoy.Interpolant(cmtoy.SEED_MIXTURE, BrokenSigma())


def test_schedule_by_name_and_unknown_name():
    assert isinstance(cmtoy.Interpolant(cmtoy.SEED_MIXTURE, "cosine").schedule, cmtoy.CosineSchedule)
    with pytest.raises(ValueError, match=r"unknown schedule 'sqrt'.*'cosine', 'linear'"):
        cmtoy.Interpolant(cmtoy.SEED_MIXTURE, "sqrt")


def test_a_schedule_that_is_neither_a_name_nor_an_instance_is_a_type_error():
    with pytest.raises(TypeError, match=r"Schedule instance, got the class LinearSchedule; use LinearSchedule\(\)"):
        cmtoy.Interpolant(cmtoy.SEED_MIXTURE, cmtoy.LinearSchedule)
    with pytest.raises(TypeError, match="schedule must be a Schedule or one of .*got int"):
        cmtoy.Interpolant(cmtoy.SEED_MIXTURE, 3)
