"""One-step and multistep sampling from a consistency model or a flow map.

One step (Song et al. 2023, arXiv 2303.01469, Sec. 3): draw x_1 ~ N(0, 1) and return
f_theta(1, x_1). Multistep (ibid., Alg. 1): for each further time t of a decreasing
sequence, re-noise the current estimate of x_0 along the interpolant,
x_t = alpha_t x_0 + sigma_t z with fresh z ~ N(0, 1) (seed eq. 2), and map it back
with x_0 = f_theta(t, x_t).

A two-time flow map X_theta(t, s, x) (:mod:`cmtoy.flow_maps`) can instead follow one flow
line deterministically, x <- X_theta(t_i, t_{i+1}, x) down to t = 0 (``chain="compose"``;
Boffi et al. 2024, arXiv 2406.07507): no fresh noise, so with the exact map every number
of steps gives the exact sample, and a learned map's error is what the steps add up.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .validation import check_rng, count, real_array, two_time_model

__all__ = ["sample", "noise_quantiles", "check_sampling_times", "CHAINS"]  # compose and jumps: callers validate first

CHAINS = ("renoise", "compose")  # how the steps of multistep sampling connect


def check_sampling_times(times):
    """The sampling times as a float array [m], validated.

    They must start at 1 (pure noise), be strictly decreasing and stay in (0, 1];
    otherwise a ValueError names the offending sequence (a TypeError if they are not
    real numbers).

    >>> check_sampling_times((1.0, 0.5))
    array([1. , 0.5])
    >>> check_sampling_times((1.0, 0.5, 0.7))
    Traceback (most recent call last):
        ...
    ValueError: times must be strictly decreasing in (0, 1], got [1.0, 0.5, 0.7]
    """
    ts = real_array("times", times).ravel()
    if ts.size == 0:
        raise ValueError("times is empty: give at least (1.0,) for one-step sampling")
    if ts[0] != 1.0:
        raise ValueError(f"times must start at 1.0 (pure noise), got {ts.tolist()}")
    if not np.all(np.isfinite(ts)) or np.any(ts <= 0) or np.any(np.diff(ts) >= 0):
        raise ValueError(f"times must be strictly decreasing in (0, 1], got {ts.tolist()}")
    return ts


def noise_quantiles(n):
    """n noise values x_1 at evenly spaced quantiles (i + 1/2)/n of N(0, 1). returns [n]"""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return special.ndtri((np.arange(n) + 0.5) / n)


def jumps(ts):
    """The jumps (t_i, t_{i+1}) of composition through the times ts, the last one to 0.

    ts: [m] sampling times (:func:`check_sampling_times`). returns a list of m (t, s) floats
    """
    return [(float(t), float(s)) for t, s in zip(ts, [*ts[1:], 0.0])]


def compose(model, x, ts):
    """Follow the flow map from x at ts[0] through the times ts and then to 0.

    x <- model.flow_map(x, t_i, t_{i+1}) for each of :func:`jumps`, the chain of
    ``chain="compose"``. model: anything with ``flow_map(x, t, s)``; x: [n] points at time
    ts[0]; ts: [m] validated times. returns [m, n], x after each jump, the last at t = 0
    """
    n, path = x.size, []
    for t, s in jumps(ts):
        x = model.flow_map(x, np.full(n, t), np.full(n, s))  # one jump along the flow
        path.append(x)
    return np.stack(path)


def sample(model, rng, n, times=(1.0,), return_path=False, chain="renoise"):
    """Draw n samples of x_0 with a consistency model in len(times) network evaluations.

    Parameters
    ----------
    model : ConsistencyModel
        Anything with ``model(t, x) -> [n]`` and a ``schedule``.
    rng : numpy.random.Generator
    n : int
    times : sequence of float, [m]
        1.0 first, then strictly decreasing times in (0, 1): (1.0,) is one step,
        (1.0, 0.5) two steps, as in Song et al. 2023, Alg. 1.
    return_path : bool
        Also return the estimate of x_0 after every step.
    chain : "renoise" or "compose"
        "renoise": Song et al.'s chain above. "compose": x <- model.flow_map(x, t_i, t_{i+1})
        from x_1 through the times and then to 0, for models with a ``flow_map`` (a
        FlowMapModel; also ``cmtoy.ExactModel``); the same noise x_1 as "renoise".

    Returns
    -------
    samples : [n]
    path : [m, n], only if ``return_path``; path[-1] is ``samples``. With "compose", path[i]
        is x after step i, at time times[i + 1] (0 after the last).
    """
    n = count("n", n)  # n = 0 gives an empty array, as numpy does
    check_rng(rng)
    ts = check_sampling_times(times)
    if not callable(model) or not hasattr(model, "schedule"):
        raise TypeError(f"model must be a callable with a schedule (a ConsistencyModel), got {type(model).__name__}")
    if chain not in CHAINS:
        raise ValueError(f"unknown chain {chain!r}; choose one of {CHAINS}")
    if chain == "compose":
        two_time_model(model, "; chain='compose' needs one, and chain='renoise' samples a one-time model")
        path = compose(model, rng.standard_normal(n), ts)
        return (path[-1], path) if return_path else path[-1]
    schedule = model.schedule
    x_0 = model(np.ones(n), rng.standard_normal(n))  # f(1, x_1): alpha_1 = 0, sigma_1 = 1
    path = [x_0]
    for t in ts[1:]:
        x_t = schedule.alpha(t) * x_0 + schedule.sigma(t) * rng.standard_normal(n)
        x_0 = model(np.full(n, t), x_t)
        path.append(x_0)
    return (x_0, np.stack(path)) if return_path else x_0
