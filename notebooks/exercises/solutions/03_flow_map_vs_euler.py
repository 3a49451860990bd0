"""Reference solutions of exercise 3 (notebooks/exercises/03_flow_map_vs_euler.ipynb)."""

import numpy as np


def flow_map(x, t, s, interp):
    """h_{t->s}(x) = F_s^{-1}(F_t(x)): the flow keeps every point at its quantile. x: [n] -> [n]"""
    return interp.ppf(s, interp.cdf(t, x))


def euler_flow(x, t, s, velocity, n_steps):
    """n_steps explicit Euler steps of dx/dtau = velocity(tau, x) from t to s. x: [n] -> [n]"""
    h = (s - t) / n_steps  # negative when going back towards the data
    x = np.asarray(x, dtype=float)
    for i in range(n_steps):
        x = x + h * velocity(t + i * h, x)  # the slope at the start of the step
    return x
