"""Exact quality measures: W1 to the target law, the consistency function's error, the
induction error, and the fixed point that consistency training converges to. (A two-time
flow map's scores, built on these, are in :mod:`cmtoy.flow_map_metrics`.)

Only a 1-D explorer can score a learned consistency function against the truth: the
target CDF F, the exact consistency function f*(t, x) = F_0^{-1}(F_t(x)) and the exact
conditional law of x_t given x_{t+dt} on one line x_0 -> x_1 are all closed forms
(see :mod:`cmtoy.interpolant`).

Shapes: ``samples: [n]``; ``dts: [m]``; ``ts: [N + 1]``, ``x: [G]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .consistency import DISTANCES, HUBER_C
from .interpolant import Interpolant
from .targets import GaussianMixture
from .validation import check_rng, choice, finite_array, integer, real, real_array, unit_times

__all__ = ["loglog_slope", "wasserstein1", "flow_map_error", "induction_error",
           "InductionError", "ct_fixed_point"]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _cdf_integral(x, mix):
    """G(x) = int_{-inf}^x F(y) dy, using int Phi(z) dz = z Phi(z) + phi(z). x: [n] -> [n]"""
    z = (x[:, None] - mix.means) / mix.stds
    return (mix.stds * (z * special.ndtr(z) + _INV_SQRT_2PI * np.exp(-0.5 * z * z))) @ mix.weights


def _sf_integral(x, mix):
    """H(x) = int_x^inf (1 - F(y)) dy, the mirror image of :func:`_cdf_integral`. x: [n] -> [n]"""
    z = (x[:, None] - mix.means) / mix.stds
    return (mix.stds * (-z * special.ndtr(-z) + _INV_SQRT_2PI * np.exp(-0.5 * z * z))) @ mix.weights


def wasserstein1(samples, target):
    """Exact Wasserstein-1 distance between the empirical law of samples and a mixture.

    In one dimension W1 = int |F_n(x) - F(x)| dx (Vallender 1974), with F_n the empirical
    CDF. F_n is the constant i/n between consecutive order statistics x_(i), x_(i+1) and F
    is monotone, so on that interval |i/n - F| changes sign at most once, at the quantile
    q_i = F^{-1}(i/n). Splitting there, each piece integrates in closed form with the
    antiderivative G of F; the two tails use G and its mirror image. No second sample
    and no grid are involved: the only error is rounding.

    Parameters
    ----------
    samples : [n]
        Finite values, n >= 1.
    target : GaussianMixture

    Returns
    -------
    float
    """
    if not isinstance(target, GaussianMixture):
        raise TypeError(f"target must be a cmtoy.GaussianMixture, got {type(target).__name__}")
    x = np.sort(finite_array("samples", samples).ravel())
    if x.size == 0:
        raise ValueError("samples is empty: W1 needs at least one sample")
    n = x.size
    c = np.arange(1, n) / n  # F_n on [x_(i), x_(i+1)], i = 1..n-1
    a, b = x[:-1], x[1:]
    q = np.clip(target.ppf(c), a, b)  # where F crosses the level c
    g_a, g_q, g_b = _cdf_integral(a, target), _cdf_integral(q, target), _cdf_integral(b, target)
    # int_a^q (c - F) + int_q^b (F - c), each >= 0 because F is monotone
    below = c * (q - a) - (g_q - g_a)
    above = (g_b - g_q) - c * (b - q)
    middle = np.sum(np.maximum(below, 0.0) + np.maximum(above, 0.0))
    tails = _cdf_integral(x[:1], target)[0] + _sf_integral(x[-1:], target)[0]
    return float(middle + tails)


def flow_map_error(model, interp, n=20_000, rng=None, seed=0):
    """Mean |f_theta(t, x) - f*(t, x)| with t ~ U[0, 1] and x ~ p_t.

    f* is the exact consistency function ``interp.flow_map(x, t, 0)``. The points are
    drawn from ``rng`` if given, else from ``numpy.random.default_rng(seed)``, so the
    same call always scores the same points.

    Parameters
    ----------
    model : callable (t [n], x [n]) -> [n], e.g. a ConsistencyModel
    interp : Interpolant
    n : int
        Number of (t, x) points, >= 1 (the mean of no points is undefined).

    Returns
    -------
    float
    """
    if not isinstance(interp, Interpolant):
        raise TypeError(f"interp must be a cmtoy.Interpolant, got {type(interp).__name__}")
    n = integer("n", n, low=1)
    rng = np.random.default_rng(integer("seed", seed, low=0)) if rng is None else rng
    check_rng(rng)
    t = rng.uniform(0.0, 1.0, n)
    x = interp.sample(rng, n, t)
    return float(np.mean(np.abs(model(t, x) - interp.flow_map(x, t, 0.0))))


@dataclass(frozen=True)
class InductionError:
    """The induction-error curve of :func:`induction_error`, ready to plot on log-log axes.

    dts: [m]; bias, spread: [m]; bias_slope, spread_slope: fitted log-log slopes.
    """

    t: float
    dts: np.ndarray  # [m] the steps dt
    bias: np.ndarray  # [m] median over x_{t+dt} of |E[f*(t, x_t) | x_{t+dt}] - f*(t+dt, x_{t+dt})|
    spread: np.ndarray  # [m] median over x_{t+dt} of the std of f*(t, x_t) given x_{t+dt}
    mean_bias: np.ndarray  # [m] mean instead of median: dominated by points near a jump of f*
    bias_slope: float  # d log(bias) / d log(dt): 2 where the dt^2 law holds (NaN with < 2 distinct dts)
    spread_slope: float  # d log(spread) / d log(dt): 1 where the spread is O(dt) (NaN likewise)


def induction_error(interp, t, dts, n=256, rng=None, seed=0, n_nodes=24):
    """How the one-step isolation target of consistency training errs, as dt shrinks.

    Consistency training (Song et al. 2023, arXiv 2303.01469, Alg. 3) pulls f(t + dt,
    x_{t+dt}) towards f(t, x_t) where both points lie on one line x_0 -> x_1. With the
    exact f*, the per-sample target f*(t, x_t) differs from f*(t + dt, x_{t+dt}) by O(dt)
    (x_t moves off the flow line), but its conditional mean given x_{t+dt} differs only
    by O(dt^2) (Song et al. 2023, Thm. 2: the isolation loss matches distillation up to
    o(dt)). Both are computed here without sampling noise. The dt^2 law holds for a
    typical x_{t+dt}, hence the medians; where f*(t, .) is nearly a jump (between
    separated modes) the bias is O(1) on a set of width O(dt), so ``mean_bias`` ~ dt.

    Given x_{t+dt} = y and x_0, the line fixes x_1, so x_t = (sigma_t / sigma_{t+dt}) y
    + (alpha_t - sigma_t alpha_{t+dt} / sigma_{t+dt}) x_0, an affine image of x_0 whose
    posterior given y is an exact mixture (``Interpolant.posterior_x0``); the moments of
    f*(t, x_t) are computed by Gauss-Hermite quadrature per component.

    Parameters
    ----------
    interp : Interpolant
    t : float in [0, 1)
    dts : [m] positive steps with t + dt <= 1, m >= 1
    n : int >= 1
        Number of points y ~ p_{t+dt} (shared across dts via their quantiles).
    n_nodes : int >= 1
        Gauss-Hermite nodes per posterior component.

    Returns
    -------
    InductionError
    """
    if not isinstance(interp, Interpolant):
        raise TypeError(f"interp must be a cmtoy.Interpolant, got {type(interp).__name__}")
    t = real("t", t, low=0.0, high=1.0, high_open=True)
    dts = np.atleast_1d(real_array("dts", dts))
    if dts.ndim != 1 or dts.size == 0 or not np.all((dts > 0) & (t + dts <= 1)):
        raise ValueError(
            f"dts must be a non-empty 1-D array of steps in (0, 1 - t] = (0, {1 - t:g}], got {dts.tolist()}"
        )
    n = integer("n", n, low=1)  # medians of no points are undefined
    n_nodes = integer("n_nodes", n_nodes, low=1)
    rng = np.random.default_rng(integer("seed", seed, low=0)) if rng is None else rng
    check_rng(rng)
    u = rng.uniform(0.0, 1.0, n)
    bias, spread, mean_bias = np.empty(dts.size), np.empty(dts.size), np.empty(dts.size)
    for i, dt in enumerate(dts):
        s = t + dt
        y = interp.ppf(s, u)  # [n] the same quantiles of p_{t+dt} for every dt
        x_t, w = _isolation_partners(interp, t, s, y, n_nodes)  # [n, K, q] each
        f_t = interp.flow_map(x_t, t, 0.0)
        mean = np.sum(w * f_t, axis=(1, 2))
        var = np.sum(w * (f_t - mean[:, None, None]) ** 2, axis=(1, 2))
        abs_bias = np.abs(mean - interp.flow_map(y, s, 0.0))
        bias[i], mean_bias[i] = np.median(abs_bias), np.mean(abs_bias)
        spread[i] = np.median(np.sqrt(var))
    return InductionError(t, dts, bias, spread, mean_bias, loglog_slope(dts, bias), loglog_slope(dts, spread))


def loglog_slope(dts, values):
    """The least-squares slope of log(values) against log(dts), over the values > 0;
    NaN where it is undefined (fewer than two distinct such dts). dts, values: [m] -> float"""
    use = values > 0
    if np.unique(dts[use]).size < 2:
        return float("nan")
    return float(np.polyfit(np.log(dts[use]), np.log(values[use]), 1)[0])


def _isolation_partners(interp, t, s, y, n_nodes):
    """Quadrature for the law of x_t given x_s = y when both lie on one line x_0 -> x_1.

    Given x_s = y and x_0, the line fixes x_1, so x_t = (sigma_t / sigma_s) y + (alpha_t -
    sigma_t alpha_s / sigma_s) x_0, an affine image of x_0, whose posterior given y is an
    exact Gaussian mixture (``Interpolant.posterior_x0``): Gauss-Hermite nodes per
    component. t < s are floats, y: [n] -> (x_t [n, K, q], weights [n, K, q] summing to 1)
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)
    weights = weights / weights.sum()  # expectations under N(0, 1)
    alpha, sigma = interp.schedule.alpha, interp.schedule.sigma
    r, m, sd = interp.posterior_x0(s, y)  # [n, K] each
    x_0 = m[..., None] + sd[..., None] * nodes
    a = sigma(t) / sigma(s)
    x_t = a * y[:, None, None] + (alpha(t) - a * alpha(s)) * x_0
    return x_t, r[..., None] * weights


def _pseudo_huber_argmin(y, w, c, start, iterations=60):
    """Per row, the z that minimises sum_j w_j (sqrt((z - y_j)^2 + c^2) - c).

    The derivative h(z) = sum_j w_j (z - y_j) / sqrt((z - y_j)^2 + c^2) increases in z and
    changes sign inside [min y, max y], so Newton steps are kept inside a shrinking bracket
    and replaced by bisection where they leave it. y, w: [G, M]; start: [G] -> [G]
    """
    lo, hi = y.min(axis=-1), y.max(axis=-1)
    z = np.clip(start, lo, hi)
    for _ in range(iterations):
        r = z[:, None] - y
        root = np.sqrt(r * r + c * c)
        h = np.sum(w * r / root, axis=-1)
        slope = np.sum(w * c * c / root**3, axis=-1)
        lo, hi = np.where(h < 0, z, lo), np.where(h > 0, z, hi)
        newton = z - h / slope
        z_new = np.where((newton > lo) & (newton < hi), newton, 0.5 * (lo + hi))
        if np.max(np.abs(z_new - z)) <= 1e-12 * (1.0 + np.max(np.abs(z))):
            return z_new
        z = z_new
    return z


def ct_fixed_point(interp, ts, x, distance="squared", huber_c=HUBER_C, n_nodes=24):
    """The function that consistency training converges to on a time grid, at its last time.

    Consistency training in isolation (Song et al. 2023, arXiv 2303.01469, Alg. 3) on the
    grid 0 = t_0 < ... < t_N pulls f(t_{n+1}, x_{t_{n+1}}) towards f(t_n, x_{t_n}), the two
    points on one line x_0 -> x_1. With an exact minimiser it ends at the f_N with
    f_N(0, x) = x and, for every n and x,

        f_N(t_{n+1}, x) = argmin_z E[d(z, f_N(t_n, x_{t_n})) | x_{t_{n+1}} = x]:

    the conditional mean for the squared distance, and for iCT's pseudo-Huber distance
    d(z, y) = sqrt((z - y)^2 + c^2) - c (Song & Dhariwal 2023, arXiv 2310.14189) a
    compromise between mean and median. Loss weighting, time distribution and EMA target
    change how fast training gets there, not where it goes, so f_N is the best that CT and
    iCT can do with that grid; for N >= 1, f_N differs from the exact f* by a bias that
    shrinks like 1 / sqrt(N) in W1 on the seed mixture (benchmarks/bench_ct_fixed_point.py).
    Each step is computed by Gauss-Hermite quadrature over x_0's exact posterior, with f_N
    between the points x interpolated linearly (and held constant beyond them). That
    interpolation smooths f_N a little at every step, and N steps add up, so x must be
    fine where f_N is steep (between the modes); the cost of a step grows with the number
    of points. benchmarks/bench_ct_fixed_point.py uses a spacing of 1/2000.

    Parameters
    ----------
    interp : Interpolant
    ts : [N + 1] increasing times, ts[0] = 0, ts[-1] <= 1
    x : [G] increasing points at which f_N is computed; they should cover the x_t of
        interest (for t = 1, several standard deviations of p_1) finely enough to
        resolve the narrowest component
    distance : "squared" or "pseudo_huber"
    huber_c : float > 0, the pseudo-Huber c (ignored for "squared")
    n_nodes : int, Gauss-Hermite nodes per posterior component

    Returns
    -------
    [G] f_N(ts[-1], x)
    """
    if not isinstance(interp, Interpolant):
        raise TypeError(f"interp must be a cmtoy.Interpolant, got {type(interp).__name__}")
    ts = unit_times("ts", ts)
    if ts.ndim != 1 or ts.size < 2 or ts[0] != 0.0 or np.any(np.diff(ts) <= 0):
        raise ValueError(f"ts must be a 1-D array of at least 2 increasing times from 0, got {ts}")
    x = finite_array("x", x)
    if x.ndim != 1 or x.size < 2 or np.any(np.diff(x) <= 0):
        raise ValueError(f"x must be a 1-D array of at least 2 increasing finite points, got shape {x.shape}")
    choice("distance", distance, DISTANCES)
    huber_c = real("huber_c", huber_c, low=0.0, low_open=True)
    n_nodes = integer("n_nodes", n_nodes, low=1)
    f = x.copy()  # f_N(t_0, x) = x
    for t, s in zip(ts[:-1], ts[1:]):
        x_t, w = _isolation_partners(interp, float(t), float(s), x, n_nodes)
        y = np.interp(x_t, x, f).reshape(x.size, -1)  # [G, K q] the targets f_N(t_n, x_t)
        w = w.reshape(y.shape)
        f = np.sum(w * y, axis=-1)  # the conditional mean: the squared distance's argmin
        if distance == "pseudo_huber":
            f = _pseudo_huber_argmin(y, w, huber_c, start=f)
    return f
