"""Exact quality measures: W1 to the target law, flow-map error, and the induction error.

Only a 1-D explorer can score a learned consistency function against the truth: the
target CDF F, the exact consistency function f*(t, x) = F_0^{-1}(F_t(x)) and the exact
conditional law of x_t given x_{t+dt} on one line x_0 -> x_1 are all closed forms
(see :mod:`cmtoy.interpolant`).

Shapes: ``samples: [n]``; ``dts: [m]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .interpolant import Interpolant, check_times
from .targets import GaussianMixture, _check_count, _check_rng

__all__ = ["wasserstein1", "flow_map_error", "induction_error", "InductionError"]

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
    x = np.sort(np.asarray(samples, dtype=float).ravel())
    if x.size == 0:
        raise ValueError("samples is empty: W1 needs at least one sample")
    if not np.all(np.isfinite(x)):
        raise ValueError("samples must be finite, got a NaN or infinite value")
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
        Number of (t, x) points.

    Returns
    -------
    float
    """
    if not isinstance(interp, Interpolant):
        raise TypeError(f"interp must be a cmtoy.Interpolant, got {type(interp).__name__}")
    n = _check_count(n)
    rng = np.random.default_rng(seed) if rng is None else rng
    _check_rng(rng)
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
    bias_slope: float  # d log(bias) / d log(dt), about 2
    spread_slope: float  # d log(spread) / d log(dt), about 1


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



    given x_{t+dt} = y and x_0, the line fixes x_1, so x_t = (sigma_t / sigma_{t+dt}) y
    + (alpha_t - sigma_t alpha_{t+dt} / sigma_{t+dt}) x_0, an affine image of x_0 whose
    posterior given y is an exact mixture (``Interpolant.posterior_x0``); its moments of
    f*(t, x_t) are computed by Gauss-Hermite quadrature per component.

    Parameters
    ----------
    interp : Interpolant
    t : float in [0, 1)
    dts : [m] positive steps with t + dt <= 1
    n : int
        Number of points y ~ p_{t+dt} (shared across dts via their quantiles).
    n_nodes : int
        Gauss-Hermite nodes per posterior component.

    Returns
    -------
    InductionError
    """
    t = float(check_times("t", t))
    dts = np.atleast_1d(np.asarray(dts, dtype=float))
    if dts.ndim != 1 or np.any(dts <= 0) or np.any(t + dts > 1):
        raise ValueError(f"dts must be a 1-D array of steps in (0, 1 - t] = (0, {1 - t:g}], got {dts}")
    rng = np.random.default_rng(seed) if rng is None else rng
    _check_rng(rng)
    u = rng.uniform(0.0, 1.0, _check_count(n))
    nodes, weights = np.polynomial.hermite_e.hermegauss(n_nodes)
    weights = weights / weights.sum()  # expectations under N(0, 1)
    alpha, sigma = interp.schedule.alpha, interp.schedule.sigma
    bias, spread, mean_bias = np.empty(dts.size), np.empty(dts.size), np.empty(dts.size)
    for i, dt in enumerate(dts):
        s = t + dt
        y = interp.ppf(s, u)  # [n] the same quantiles of p_{t+dt} for every dt
        r, m, sd = interp.posterior_x0(s, y)  # [n, K] each
        x_0 = m[..., None] + sd[..., None] * nodes  # [n, K, q]
        x_t = sigma(t) / sigma(s) * y[:, None, None] + (alpha(t) - sigma(t) * alpha(s) / sigma(s)) * x_0
        f_t = interp.flow_map(x_t, t, 0.0)  # [n, K, q]
        w = r[..., None] * weights  # [n, K, q] joint quadrature weights
        mean = np.sum(w * f_t, axis=(1, 2))
        var = np.sum(w * (f_t - mean[:, None, None]) ** 2, axis=(1, 2))
        abs_bias = np.abs(mean - interp.flow_map(y, s, 0.0))
        bias[i], mean_bias[i] = np.median(abs_bias), np.mean(abs_bias)
        spread[i] = np.median(np.sqrt(var))
    log_dt = np.log(dts)
    bias_slope = np.polyfit(log_dt, np.log(bias), 1)[0] if dts.size > 1 else np.nan
    spread_slope = np.polyfit(log_dt, np.log(spread), 1)[0] if dts.size > 1 else np.nan
    return InductionError(t, dts, bias, spread, mean_bias, float(bias_slope), float(spread_slope))
