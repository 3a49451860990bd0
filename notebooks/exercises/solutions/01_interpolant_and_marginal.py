"""Reference solutions of exercise 1 (notebooks/exercises/01_interpolant_and_marginal.ipynb)."""

import numpy as np


def interpolate(x_0, x_1, t, schedule):
    """x_t = alpha_t x_0 + sigma_t x_1 (seed eq. 2). x_0, x_1: [n]; t: float or [n]."""
    return schedule.alpha(t) * x_0 + schedule.sigma(t) * x_1


def marginal_pdf(t, x, mixture, schedule):
    """p_t(x) = sum_k w_k N(x; alpha_t mu_k, alpha_t^2 s_k^2 + sigma_t^2). t: float; x: [n]."""
    alpha, sigma = schedule.alpha(t), schedule.sigma(t)
    means = alpha * mixture.means  # [K]
    variances = alpha**2 * mixture.stds**2 + sigma**2  # [K]
    x = np.asarray(x, dtype=float)[:, None]  # [n, 1] against [K]
    densities = np.exp(-0.5 * (x - means) ** 2 / variances) / np.sqrt(2 * np.pi * variances)
    return densities @ mixture.weights  # [n]
