"""Exact scores of a two-time flow map X_theta(t, s, x) against h_{t->s} = F_s^{-1} o F_t.

The two-time error over the whole triangle 0 <= s < t <= 1 and on a grid of (t, s), and the
W1 of the law that composition sampling (``cmtoy.sample(..., chain="compose")``) draws from,
without the samples' noise. Each takes anything with ``flow_map(x, t, s)``: a
:class:`cmtoy.flow_maps.FlowMapModel`, or ``cmtoy.ExactModel``, which scores about 0.
"""

from __future__ import annotations

import numpy as np

from .interpolant import Interpolant
from .metrics import wasserstein1
from .sampling import check_sampling_times, compose, noise_quantiles
from .validation import check_rng, integer, two_time_model, unit_times

__all__ = ["composition_w1", "two_time_error", "two_time_error_grid"]


def composition_w1(model, interp, times=(1.0,), n=100_000):
    """W1 to the target of the law of composition sampling itself, without sampling noise.

    ``cmtoy.sample(model, rng, n, times, chain="compose")`` pushes n draws of x_1 ~ N(0, 1)
    through the composed map G = X(t_m, 0) o ... o X(1, t_2), and the W1 of those samples
    to the target carries their sampling noise: a floor of about n^(-1/2) that the exact
    map reads too, and a draw-to-draw spread that can order two close maps either way.
    Here the noise is the n midpoint quantiles z_k = Phi^{-1}((k + 1/2) / n) instead, and
    the result is the exact W1 (:func:`wasserstein1`) of G(z) to the target: it converges
    to W1(G#N(0, 1), target), the distance of the law the sampler draws from, much faster
    than n samples do. Why: in one dimension W1 is the L1 distance of quantile functions,
    and the point G(z_k) stands for the k-th cell of probability 1/n, on which G varies by
    some amount V_k; so the error is at most sum_k V_k / n, about the variation of G over
    the bulk divided by n, plus the two tail cells. (A Lipschitz bound says little here:
    the exact map is steep in the gap between the modes.) For a non-decreasing G the limit
    is the quantile coupling, W1(G#N(0, 1), target) = E|G(Z) - h_{1->0}(Z)|.

    model : anything with ``flow_map(x, t, s)`` (a FlowMapModel, or cmtoy.ExactModel);
    interp : Interpolant, whose target is the law scored against; times : [m], as in
    :func:`cmtoy.sample` (1.0 first, strictly decreasing in (0, 1]); n : int >= 1.
    returns float
    """
    if not isinstance(interp, Interpolant):
        raise TypeError(f"interp must be a cmtoy.Interpolant, got {type(interp).__name__}")
    two_time_model(model)
    ts = check_sampling_times(times)
    n = integer("n", n, low=1)
    return wasserstein1(compose(model, noise_quantiles(n), ts)[-1], interp.target)


def two_time_error(model, interp, n=20_000, rng=None, seed=0):
    """Mean |X_theta(t, s, x) - h_{t->s}(x)| with (t, s) uniform on 0 <= s < t <= 1 and x ~ p_t.

    The two-time counterpart of :func:`flow_map_error`, against the exact flow map
    ``interp.flow_map(x, t, s)``; (t, s) is the larger and the smaller of two uniform draws.
    The points are drawn from ``rng`` if given, else from ``numpy.random.default_rng(seed)``.

    model : anything with ``flow_map(x, t, s)`` (a FlowMapModel); interp : Interpolant;
    n : int >= 1, the number of (t, s, x) points. returns float
    """
    if not isinstance(interp, Interpolant):
        raise TypeError(f"interp must be a cmtoy.Interpolant, got {type(interp).__name__}")
    two_time_model(model)
    n = integer("n", n, low=1)
    rng = np.random.default_rng(integer("seed", seed, low=0)) if rng is None else rng
    check_rng(rng)
    a, b = rng.uniform(0.0, 1.0, (2, n))
    t, s = np.maximum(a, b), np.minimum(a, b)
    x = interp.sample(rng, n, t)
    return float(np.mean(np.abs(model.flow_map(x, t, s) - interp.flow_map(x, t, s))))


def two_time_error_grid(model, interp, ts, n=256):
    """The two-time error on a grid of times: E_{x ~ p_t} |X_theta(t, s, x) - h_{t->s}(x)|.

    For each t of ``ts`` the points x are n quantiles of p_t, F_t^{-1}((k + 1/2) / n), the
    same for every s, so the grid has no sampling noise and the same call gives the same
    numbers. Cells with s > t, where a flow map is not defined, are NaN (a heatmap leaves
    them blank); on the diagonal s = t the error is 0, since X(t, t, x) = x.

    model : anything with ``flow_map(x, t, s)``; interp : Interpolant;
    ts : [T] times in [0, 1]; n : int >= 1.
    returns [T, T], row i for t = ts[i], column j for s = ts[j]
    """
    if not isinstance(interp, Interpolant):
        raise TypeError(f"interp must be a cmtoy.Interpolant, got {type(interp).__name__}")
    two_time_model(model)
    ts = np.atleast_1d(unit_times("ts", ts))
    if ts.ndim != 1:
        raise ValueError(f"ts must be one-dimensional, got shape {ts.shape}")
    n = integer("n", n, low=1)
    grid = np.full((ts.size, ts.size), np.nan)
    u = (np.arange(n) + 0.5) / n
    for i, t in enumerate(ts):
        below = np.flatnonzero(ts <= t)
        x = np.broadcast_to(interp.ppf(t, u), (below.size, n))  # [S, n] quantiles of p_t
        s = ts[below][:, None]
        grid[i, below] = np.mean(np.abs(model.flow_map(x, t, s) - interp.flow_map(x, t, s)), axis=1)
    return grid
