"""Array kernels of one-dimensional Gaussian mixtures, in log space, and their quantile solvers.

A mixture with weights w_k, means mu_k and standard deviations s_k has

    p(x) = sum_k w_k N(x; mu_k, s_k^2),      F(x) = sum_k w_k Phi((x - mu_k) / s_k).

These functions take the component arrays themselves rather than a mixture object, so the
same code serves the target law (:class:`cmtoy.GaussianMixture`) and the marginals p_t of
the interpolant (:class:`cmtoy.Interpolant`), whose component means and stds vary with t.
Densities and CDFs are evaluated in log space (log-sum-exp over components and
``scipy.special.log_ndtr``), so far tails and very narrow components neither underflow nor
produce warnings; quantiles are solved by a safeguarded Newton iteration (:func:`_newton`).

Shapes: ``x: [*batch]``; component arrays ``means, stds: [*batch, K]`` broadcast against
``x[..., None]``; ``log_weights: [K]``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .validation import real_array

LOG_SQRT_2PI = 0.5 * np.log(2.0 * np.pi)  # log of the normal density's constant, shared
_SQRT_2PI = np.sqrt(2.0 * np.pi)


def logsumexp(a):
    """log sum_k exp(a_k) over the last axis. a: [*batch, K] -> [*batch]

    Pairwise ``np.logaddexp`` over the (few) components: stable for -inf entries, and
    with K small, K - 1 element-wise passes cost less than a general reduction, which
    needs a maximum, a shifted exp, a sum and a log over the whole [*batch, K] array.
    """
    out = a[..., 0]
    for k in range(1, a.shape[-1]):
        out = np.logaddexp(out, a[..., k])
    return out


def component_logpdf(x, means, stds, log_weights):
    """log(w_k N(x; m_k, s_k^2)) for every component.

    x: [*batch]; means, stds: [*batch, K] (or broadcastable); log_weights: [K]
    returns [*batch, K]
    """
    with np.errstate(over="ignore"):  # far beyond the components z^2 = inf: log density -inf, exactly
        z = (x[..., None] - means) / stds
        return log_weights - 0.5 * z * z - np.log(stds) - LOG_SQRT_2PI


def mixture_logpdf(x, means, stds, log_weights):
    """log p(x) of a mixture. Shapes as :func:`component_logpdf`; returns [*batch]."""
    return logsumexp(component_logpdf(x, means, stds, log_weights))


def mixture_logcdf(x, means, stds, log_weights, upper=False):
    """log F(x) (or log(1 - F(x)) when ``upper``), accurate in both tails.

    The upper tail is computed directly from Phi(-z), never as 1 - F, so it keeps its
    relative precision. Shapes as :func:`component_logpdf`; returns [*batch].
    """
    with np.errstate(over="ignore"):  # z = +-inf far away: log_ndtr gives the limits 0 and -inf
        z = (x[..., None] - means) / stds
    if upper:
        z = -z
    return logsumexp(log_weights + special.log_ndtr(z))


def _logcdf_and_logpdf(x, means, stds, log_weights):
    """(log F(x), log p(x)) from one standardisation z = (x - m_k) / s_k."""
    z = (x[..., None] - means) / stds
    log_f = logsumexp(log_weights + special.log_ndtr(z))
    log_p = logsumexp(log_weights - 0.5 * z * z - np.log(stds) - LOG_SQRT_2PI)
    return log_f, log_p


def length_unit(stds):
    """The length u in the solvers' tolerances 1e-15 (u + |y|): 1, unless a component is
    narrower than 1e-3, when it is 1e3 s_min. The tolerances of a mixture of very narrow
    components then scale with its width, so its quantiles are as precise relative to the
    width as those of a unit mixture; every wider mixture is solved exactly as before.

    stds: any shape -> float
    """
    return min(1.0, 1e3 * float(np.min(stds)))


def mixture_quantile(log_p, upper, means, stds, log_weights, x_init=None, lo=None, hi=None):
    """Solve log F(y) = log_p (or log(1 - F(y)) = log_p where ``upper``) for y.

    The default bracket comes from the component quantiles: if every component CDF is at
    most p at y then so is their weighted mean, hence the root lies between the smallest
    and the largest component quantile q_k = m_k + s_k Phi^{-1}(p). See
    :func:`solve_signed` for the iteration.

    log_p: [*batch] (<= 0); upper: [*batch] bool; means, stds: [*batch, K] or [K];
    x_init, lo, hi: optional [*batch] starting point and bracket (in x).
    returns y: [*batch]
    """
    log_p, upper = np.broadcast_arrays(np.asarray(log_p, float), np.asarray(upper, bool))
    shape = log_p.shape
    log_p, upper = log_p.ravel(), upper.ravel()
    if np.ndim(means) == 1 and np.ndim(stds) == 1:  # one mixture for every point
        m, s = np.asarray(means, float)[None], np.asarray(stds, float)[None]
    else:
        k = np.shape(means)[-1]
        m = np.broadcast_to(means, shape + (k,)).reshape(-1, k)
        s = np.broadcast_to(stds, shape + (k,)).reshape(-1, k)
    sign = np.where(upper, -1.0, 1.0)  # in signed coordinates an upper tail is a lower one

    if lo is None or hi is None:
        z_p = special.ndtri_exp(np.minimum(log_p, 0.0))[:, None]
        q = sign[:, None] * m + s * z_p  # component quantiles, signed coordinates
        lo, hi = q.min(axis=-1), q.max(axis=-1)
    else:  # the caller's bracket, in x; convert to signed coordinates
        lo, hi = np.broadcast_to(lo, shape).ravel(), np.broadcast_to(hi, shape).ravel()
        lo, hi = np.where(upper, -hi, lo), np.where(upper, -lo, hi)
    y0 = 0.5 * (lo + hi) if x_init is None else sign * np.broadcast_to(x_init, shape).ravel()
    # Far from the root, Newton on the convex lower tail of F crawls (steps of about
    # s_k / |z|), while log F is nearly linear there: without a close start, use the log.
    y = solve_signed(log_p, sign, m, s, log_weights, y0, lo, hi, plain_ok=x_init is not None, unit=length_unit(s))
    return (sign * y).reshape(shape)


def _newton(evaluate, y, lo, hi, data, max_iter=1200, unit=1.0):
    """Safeguarded Newton iteration for an increasing g(y) = 0, one root per point.

    ``evaluate(y, **data) -> (g, step, curvature)`` gives g, the Newton step g / g' and
    |g'' / 2 g'| (inf where unknown). Every iterate stays inside a bracket [lo, hi] known to
    contain the root; a step that would leave it, or that does not at least halve the
    previous one (a nearly flat CDF between modes), is replaced by bisection, as in
    Numerical Recipes' rtsafe. A point is done when the a-posteriori error estimate of its
    last Newton step, curvature * step^2 with a safety factor of 100, is below 1e-14, when
    the step itself is negligible, or when the bracket has closed. Converged points leave
    the working set, and so do their entries of the ``data`` arrays, which hold the points
    on their last axis (an array whose last axis has length 1 is shared by all points).

    y, lo, hi: [n]; data: arrays [..., n] or [..., 1]. returns y: [n]
    Bisection alone closes a bracket of 2e100 (two modes MAX_POINT apart) to 1e-15 in
    under 400 steps, so max_iter is only reached through a bug.
    Raises RuntimeError if some point has not converged after max_iter steps (a bug).
    """
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    y = np.clip(y, lo, hi)
    out = np.empty_like(y)
    last = hi - lo  # size of each point's previous step
    idx = None  # positions of the working points in ``out``; None: all points, in order
    for _ in range(max_iter):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            g, step, curvature = evaluate(y, **data)
            lo = np.where(g < 0, y, lo)
            hi = np.where(g > 0, y, hi)
            y_new = y - step
            size = np.abs(step)
            newton = (lo <= y_new) & (y_new <= hi) & (size <= 0.5 * last)  # False where NaN
            exact = g == 0
            y_new = np.where(newton, y_new, 0.5 * (lo + hi))
            y_new = np.where(exact, y, y_new)
            scale = unit + np.abs(y_new)  # see length_unit
            certified = (size <= 1e-3 * scale) & (100.0 * curvature * size * size <= 1e-14 * scale)
            done = (newton & (certified | (size <= 1e-13 * scale))) | (hi - lo <= 1e-15 * scale) | exact
        if idx is None:
            out[:] = y_new
        else:
            out[idx] = y_new  # the points not done yet are overwritten later
        keep = np.flatnonzero(~done)
        if keep.size == 0:
            return out
        n_working = done.size
        last = np.where(newton, size, 0.5 * (hi - lo))[keep]
        idx = keep if idx is None else idx[keep]
        y, lo, hi = y_new[keep], lo[keep], hi[keep]
        data = {k: v[..., keep] if v.shape[-1] == n_working else v for k, v in data.items()}
    raise RuntimeError(f"quantile iteration did not converge for {idx.size} points; please report")


def solve_signed(log_p, sign, m, s, log_weights, y, lo, hi, plain_ok=True, unit=1.0):
    """Solve log F(y) = log_p in signed coordinates by :func:`_newton`.

    In signed coordinates the upper tail of a point with sign -1 is the lower tail of the
    mirrored mixture (means sign * m_k), so one iteration serves both tails. With a close
    start (``plain_ok``) and above p ~ 1e-300 it works on the plain CDF (``ndtr``,
    accurate to rounding there, and cheaper), otherwise on the log-CDF.

    log_p, sign, y, lo, hi: [n]; m, s: [n, K] or [1, K] (shared). returns y: [n]
    """
    weights = np.exp(log_weights)
    plain = (log_p > -690.0) & plain_ok

    # component-major arrays [K, n] (or [K, 1]), so that the arithmetic runs along the points
    def evaluate(y, signed_m, s, log_p, p, plain):
        inv_s = 1.0 / s
        z = (y - signed_m) * inv_s  # [K, n]
        # Newton on g(y) = F(y) - p (plain) or log F(y) - log p (far tails)
        bump = np.exp(-0.5 * z * z) * inv_s  # sqrt(2 pi) N(y; m_k, s_k^2)
        dens = weights @ bump
        g = weights @ special.ndtr(z) - p
        step = _SQRT_2PI * g / dens
        curvature = np.abs(weights @ (bump * z * inv_s) / (2.0 * dens))  # |g'' / 2 g'|
        if not np.all(plain):
            far = ~plain
            s_far = s if s.shape[-1] == 1 else s[:, far]
            log_f, log_dens = _logcdf_and_logpdf(y[far], signed_m[:, far].T, s_far.T, log_weights)
            g[far] = log_f - log_p[far]
            step[far] = g[far] * np.exp(log_f - log_dens)
            curvature[far] = np.inf
        return g, step, curvature

    p = np.exp(np.where(plain, log_p, 0.0))
    data = dict(signed_m=m.T * sign, s=s.T, log_p=log_p, p=p, plain=plain)
    return _newton(evaluate, y, lo, hi, data, unit=unit)


def anchored_cdf(x, means, stds, weights, left):
    """F(x) - W, with W the total weight of the components marked ``left``, without cancellation.

    Between two well separated modes F(x) is within 1e-20 of a partial sum of weights W,
    so F itself (or 1 - F) carries no digits of where x lies in the gap. Written as

        F(x) - W = sum_{j not left} w_j Phi(z_j) - sum_{j left} w_j Phi(-z_j),

    every term is a small tail probability computed to full relative precision.

    x: [n]; means, stds: [n, K]; weights: [K]; left: [n, K] bool. returns [n]
    """
    z = (x[:, None] - means) / stds
    return np.sum(weights * np.where(left, -special.ndtr(-z), special.ndtr(z)), axis=-1)


def anchored_quantile(r, means, stds, weights, left):
    """Solve F(y) - W = r (see :func:`anchored_cdf`) for y, to rounding, by :func:`_newton`
    (between modes the density can be so small that Newton alone would stall).

    r: [n]; means, stds: [n, K]; weights: [K]; left: [n, K] bool. returns y: [n]
    """
    lo = np.min(means - 40.0 * stds, axis=-1)  # F - W < r there (r lies in (-W, 1 - W))
    hi = np.max(means + 40.0 * stds, axis=-1)

    def evaluate(y, r, means, stds, left):  # [K, n] arrays: :func:`_newton` keeps points last
        means, stds, left = means.T, stds.T, left.T
        z = (y[:, None] - means) / stds
        g = anchored_cdf(y, means, stds, weights, left) - r
        dens = (np.exp(-0.5 * z * z) / stds) @ weights / _SQRT_2PI
        return g, g / dens, np.full(y.shape, np.inf)

    data = dict(r=r, means=means.T, stds=stds.T, left=left.T)
    return _newton(evaluate, 0.5 * (lo + hi), lo, hi, data, unit=length_unit(stds))


def nearer_tail(u):
    """Probabilities u in [0, 1] as (log of the nearer tail probability, is it the upper tail).

    u: [*batch] -> (log_p [*batch], upper [*batch] bool)
    """
    u = real_array("u", u)
    if np.any((u < 0) | (u > 1)):
        raise ValueError(f"u must lie in [0, 1], got values in [{u.min()}, {u.max()}]")
    upper = u > 0.5
    with np.errstate(divide="ignore"):
        return np.where(upper, np.log1p(-u), np.log(u)), upper
