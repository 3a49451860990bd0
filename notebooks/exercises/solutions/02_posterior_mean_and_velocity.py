"""Reference solutions of exercise 2 (notebooks/exercises/02_posterior_mean_and_velocity.ipynb)."""

import numpy as np
from scipy.special import softmax


def posterior_mean(t, x, mixture, schedule):
    """E[x_0 | x_t = x] for a Gaussian-mixture target. t: float; x: [n] -> [n]"""
    alpha, sigma = schedule.alpha(t), schedule.sigma(t)
    x = np.asarray(x, dtype=float)[:, None]  # [n, 1] against the K components
    means = alpha * mixture.means  # m_k, [K]
    variances = alpha**2 * mixture.stds**2 + sigma**2  # v_k, [K]
    # responsibilities r_k = w_k N(x; m_k, v_k) / p_t(x), from log densities so that
    # nothing underflows far in the tails
    log_joint = np.log(mixture.weights) - 0.5 * (x - means) ** 2 / variances - 0.5 * np.log(variances)
    r = softmax(log_joint, axis=-1)  # [n, K]
    # E[x_0 | x_t = x, k] = mu_k + Cov(x_0, x_t | k) / Var(x_t | k) (x - m_k)
    per_component = mixture.means + alpha * mixture.stds**2 * (x - means) / variances  # [n, K]
    return np.sum(r * per_component, axis=-1)


def velocity(t, x, interp):
    """v_t(x) = alpha'_t E[x_0 | x_t = x] + sigma'_t E[x_1 | x_t = x]. t: float; x: [n] -> [n]"""
    schedule = interp.schedule
    return schedule.d_alpha(t) * interp.posterior_mean(t, x) + schedule.d_sigma(t) * interp.noise_mean(t, x)
