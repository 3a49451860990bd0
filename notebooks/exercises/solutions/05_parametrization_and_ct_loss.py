"""Reference solutions of exercise 5 (notebooks/exercises/05_parametrization_and_ct_loss.ipynb)."""

import numpy as np


def parametrize(F, t, x, schedule, sigma_d):
    """f(t, x) = c_skip(t) x + c_out(t) F(t, c_in(t) x), with f(0, x) = x. t, x: [n] -> [n]"""
    alpha, sigma = schedule.alpha(t), schedule.sigma(t)
    A = alpha**2 * sigma_d**2 + sigma**2  # Var[x_t] if the data had variance sigma_d^2
    c_skip = alpha * sigma_d**2 / A  # 1 at t = 0, 0 at t = 1
    c_out = sigma * sigma_d / np.sqrt(A)  # 0 at t = 0: the boundary condition f(0, x) = x
    c_in = 1.0 / np.sqrt(A)  # unit-variance network input
    return c_skip * x + c_out * F(t, c_in * x)


def ct_loss(f_online, f_target, x_0, x_1, t, s, schedule):
    """mean (f_online(t, x_t) - f_target(s, x_s))^2, both points on the line through x_0, x_1."""
    x_t = schedule.alpha(t) * x_0 + schedule.sigma(t) * x_1  # the later, noisier point
    x_s = schedule.alpha(s) * x_0 + schedule.sigma(s) * x_1  # the same line, earlier time s < t
    return float(np.mean((f_online(t, x_t) - f_target(s, x_s)) ** 2))
