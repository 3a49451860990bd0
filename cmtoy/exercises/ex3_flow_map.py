"""Exercise 3: the exact flow map by quantiles, and Euler integration of the flow ODE.

The student writes

- ``flow_map(x, t, s, interp) -> h_{t->s}(x) = F_s^{-1}(F_t(x))``: in one dimension flow
  lines never cross, so the probability flow keeps every point at its quantile;
- ``euler_flow(x, t, s, velocity, n_steps)``: n_steps explicit Euler steps of
  dx/dtau = v_tau(x) from tau = t to tau = s (either direction), step h = (s - t) / n_steps,
  x <- x + h v(tau_i, x) with tau_i = t + i h.

:func:`euler_error` measures how far Euler lands from the exact map as n_steps grows
(first order: the error halves when n_steps doubles). References:
:meth:`cmtoy.Interpolant.flow_map` and :func:`reference_euler_flow`.
"""

from __future__ import annotations

import numpy as np

from ..interpolant import Interpolant
from .checking import TIME_LIMIT, Case, Mistake, case_rng, report, run_cases, standard_settings

__all__ = ["check_flow_map", "check_euler_flow", "euler_error", "reference_euler_flow"]

_TIME_PAIRS = [(1.0, 0.0), (0.0, 1.0), (0.5, 0.5), (0.7, 0.2), (0.2, 0.9)]


def check_flow_map(flow_map, quiet=False, seed=None, time_limit=TIME_LIMIT):
    """Check ``flow_map(x, t, s, interp) -> h_{t->s}(x)``. x: [n]; t, s: float; returns [n].

    Cases: t -> s = 1 -> 0 (the consistency function), 0 -> 1, t = s (the identity),
    both directions in between; points from the 1e-9 quantile to the 1 - 1e-6 quantile.
    seed=None runs the cases a class sees; an int runs other random inputs and mixtures (for
    hidden grading tests). ``time_limit``: seconds the function may take over all cases.
    """
    rng = case_rng(seed, 5)
    u = np.array([1e-9, 1e-4, 0.01, 0.3, 0.5, 0.7, 0.99, 1 - 1e-6])
    cases = []
    for label, mixture, schedule in standard_settings(seed):
        interp = Interpolant(mixture, schedule)
        for t, s in _TIME_PAIRS + [tuple(rng.uniform(0.0, 1.0, 2))]:
            x = interp.ppf(t, np.concatenate([u, rng.uniform(0.0, 1.0, 3)]))
            cases.append(Case(f"t = {t:.3g} -> s = {s:.3g}, {label}", (x, t, s, interp),
                              interp.flow_map(x, t, s), dict(x=x, t=t, s=s, interp=interp)))
    mistakes = [
        Mistake("t and s are swapped: first F_t (where x lives, at time t), then the quantile function "
                "of the destination time s: h(x) = F_s^{-1}(F_t(x)).",
                lambda x, t, s, interp: interp.ppf(t, interp.cdf(s, x))),
        Mistake("F_t(x) is a probability, not a point: map it back with the quantile function of time s, "
                "interp.ppf(s, u).", lambda x, t, s, interp: interp.cdf(t, x)),
        Mistake("you get x back: the quantile function must be the one of the destination time s, "
                "interp.ppf(s, ...), not of time t.", lambda x, t, s, interp: np.asarray(x, dtype=float)),
    ]
    result = run_cases("check_flow_map", flow_map, cases, mistakes, rtol=1e-6, atol=1e-8, time_limit=time_limit,
                       summary=" (1 -> 0, 0 -> 1, t = s, both directions; tails from the 1e-9 "
                               "to the 1 - 1e-6 quantile; three mixtures, two schedules)")
    return report(result, quiet)


def reference_euler_flow(x, t, s, velocity, n_steps):
    """n_steps explicit Euler steps of dx/dtau = velocity(tau, x) from tau = t to tau = s.

    x: [n]; t, s: float; velocity: callable (tau, x) -> [n]; returns [n].
    """
    h = (s - t) / n_steps  # negative when integrating back towards the data
    x = np.asarray(x, dtype=float)
    for i in range(n_steps):
        x = x + h * velocity(t + i * h, x)  # explicit Euler: the slope at the start of the step
    return x


def _euler_variant(step_time=lambda t, h, i: t + i * h, step=lambda t, s, n: (s - t) / n,
                   count=lambda n: n, sign=1.0):
    """Euler with one part changed (time of the slope, step size, step count or sign)."""
    def answer(x, t, s, velocity, n_steps):
        h = step(t, s, n_steps)
        x = np.asarray(x, dtype=float)
        for i in range(count(n_steps)):
            x = x + sign * h * velocity(step_time(t, h, i), x)
        return x
    return answer


def check_euler_flow(euler_flow, quiet=False, seed=None, time_limit=TIME_LIMIT):
    """Check ``euler_flow(x, t, s, velocity, n_steps)`` against explicit Euler, step by step.

    x: [n]; t, s: float; velocity: callable (tau, x) -> [n]; n_steps: int; returns [n].
    seed=None runs the cases a class sees; an int runs other random inputs and mixtures (for
    hidden grading tests). ``time_limit``: seconds the function may take over all cases.
    """
    rng = case_rng(seed, 6)
    cases = []
    for label, mixture, schedule in standard_settings(seed)[:4]:
        interp = Interpolant(mixture, schedule)
        for (t, s), n_steps in zip(_TIME_PAIRS + [tuple(rng.uniform(0.0, 1.0, 2))], (1, 3, 4, 7, 10, 5)):
            x = interp.sample(rng, 6, t)
            cases.append(Case(f"t = {t:.3g} -> s = {s:.3g} in {n_steps} steps, {label}",
                              (x, t, s, interp.velocity, n_steps),
                              reference_euler_flow(x, t, s, interp.velocity, n_steps),
                              dict(x=x, t=t, s=s, n_steps=n_steps, velocity=f"interp.velocity of {interp}")))
    mistakes = [
        Mistake("off by one in time: explicit Euler takes the slope at the START of each step, "
                "tau_i = t + i h for i = 0, ..., n_steps - 1 (you used the end, t + (i + 1) h).",
                _euler_variant(step_time=lambda t, h, i: t + (i + 1) * h)),
        Mistake("evaluate the velocity at the current time tau_i = t + i h, not always at the start time t.",
                _euler_variant(step_time=lambda t, h, i: t)),
        Mistake("wrong sign: the Euler step is x <- x + h v(tau, x) with h = (s - t) / n_steps, which is "
                "negative when s < t; it already carries the direction.", _euler_variant(sign=-1.0)),
        Mistake("the step must be h = (s - t) / n_steps, negative when going back from t to s < t "
                "(you always stepped forward in time).", _euler_variant(step=lambda t, s, n: abs(s - t) / n)),
        Mistake("np.linspace(t, s, n_steps) gives n_steps points, that is n_steps - 1 steps: take "
                "n_steps + 1 points.", _euler_variant(step=lambda t, s, n: (s - t) / max(n - 1, 1),
                                                      count=lambda n: n - 1)),
        Mistake("off by one in the step count: take exactly n_steps steps of size (s - t) / n_steps, "
                "ending at s.", _euler_variant(count=lambda n: n - 1)),
        Mistake("off by one in the step count: take exactly n_steps steps of size (s - t) / n_steps, "
                "ending at s.", _euler_variant(count=lambda n: n + 1)),
    ]
    result = run_cases("check_euler_flow", euler_flow, cases, mistakes, rtol=1e-9, atol=1e-10, time_limit=time_limit,
                       summary=" (1 to 10 steps, backward and forward in time, zero-length interval)")
    return report(result, quiet)


def euler_error(euler_flow, interp, n_steps_list, t=1.0, s=0.0, n_points=64):
    """Mean |euler_flow - exact flow map| over points at evenly spaced quantiles of x_t.

    euler_flow: callable as in :func:`check_euler_flow`; n_steps_list: [m] ints.
    returns [m], the error for each step count.
    """
    u = (np.arange(n_points) + 0.5) / n_points
    x = interp.ppf(t, u)
    exact = interp.flow_map(x, t, s)
    return np.array([np.mean(np.abs(euler_flow(x, t, s, interp.velocity, int(n)) - exact))
                     for n in n_steps_list])
