"""The exact probability-flow map of a mixture interpolant, solved on its quantiles.

In one dimension flow lines never cross, so the flow keeps quantiles and the map from
time t to time s is h_{t->s}(x) = F_s^{-1}(F_t(x)) (:meth:`cmtoy.Interpolant.flow_map`).
This module computes it to full precision everywhere:

- F_t(x) is carried as the smaller of its two tail probabilities, in log space far in
  the tails, so that nothing cancels in 1 - F_t;
- between two well separated modes F_t lies within digits of a partial sum of weights
  W_k, and there the *anchored* CDF F_t - W_k is carried instead
  (:func:`cmtoy.mixture_kernels.anchored_cdf`);
- the quantile of many points at one time comes from that marginal's quantile table
  (:mod:`cmtoy.quantile_table`), scattered times from the bracketed solver
  (:func:`cmtoy.mixture_kernels.mixture_quantile`).

Every function takes validated 1-D float arrays of one length n.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .mixture_kernels import anchored_cdf, anchored_quantile, logsumexp, mixture_quantile

__all__ = ["solve", "marginal_quantile", "nearest_partial_weight"]

CHUNK = 1 << 16  # points per block: bounds the memory of the temporaries
TABLE_MIN = 4096  # at least this many points at one time s: use (and cache) its quantile table
GAP = 1e-4  # within this of a partial weight W_k, F_t has too few digits: anchor at W_k


def solve(interp, x, t, s):
    """h_{t->s}(x) = F_s^{-1}(F_t(x)) of an Interpolant. x, t, s: [n] -> [n]"""
    y = np.empty(x.shape)
    gap = np.zeros(x.shape, dtype=bool)
    k = np.zeros(x.shape, dtype=np.intp)
    # in blocks, so that a million points need tens of MB of temporaries, not a GB
    for i in range(0, x.size, CHUNK):
        block = slice(i, i + CHUNK)
        y[block], gap[block], k[block] = _solve_block(interp, x[block], t[block], s[block])
    # the few points near a partial weight W_k, all at once (one solve, not one per block)
    where = np.flatnonzero(gap)
    for i in range(0, where.size, CHUNK):
        sel = where[i : i + CHUNK]
        y[sel] = _flow_across_gap(interp, x[sel], t[sel], s[sel], k[sel])
    return y


def _solve_block(interp, x, t, s):
    """F_s^{-1}(F_t(x)) on validated 1-D arrays x, t, s: [n].

    returns (y [n], gap [n] bool, k [n]): where ``gap``, y is not accurate yet and
    :func:`_flow_across_gap` must redo it with the partial weight W_k.
    """
    means, stds = interp.components(t)
    # carry the smaller of the two tail probabilities, so that nothing cancels in 1 - F
    # (log space below ~1e-300). q_k is the smaller tail of component k, to full
    # relative precision; Phi(z_k) and Phi(-z_k) are q_k and 1 - q_k in some order.
    z = (x[..., None] - means) / stds
    q = special.ndtr(-np.abs(z))
    below = z < 0
    w = interp.target.weights
    cdf = np.where(below, q, 1.0 - q) @ w  # F_t(x)
    upper = cdf > 0.5
    p = np.where(upper, np.where(below, 1.0 - q, q) @ w, cdf)  # the upper tail without cancellation
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
    far = log_p < -690.0  # beyond ~1e-300 recompute in log space before it underflows
    if np.any(far):
        z_far = np.where(upper[far][..., None], -z[far], z[far])
        log_p[far] = logsumexp(interp.target.log_weights + special.log_ndtr(z_far))
    if interp.target.n_components == 1:
        gap, k = np.zeros(x.shape, dtype=bool), np.zeros(x.shape, dtype=np.intp)
    else:
        k, distance = nearest_partial_weight(interp.target, cdf)
        gap = distance < GAP
    if not np.any(gap):
        return marginal_quantile(interp, s, log_p, upper), gap, k
    y = np.full(x.shape, np.nan)  # gap points are left to the caller: F_t has too few digits there
    solve = ~gap
    y[solve] = marginal_quantile(interp, s[solve], log_p[solve], upper[solve])
    return y, gap, k


def nearest_partial_weight(target, cdf):
    """The partial sum of weights W_k (0 < W_k < 1) nearest to F_t, and the distance.

    Components are ordered by mean (the order alpha_t mu_k keeps for every t); W_k is
    the weight of the first k of them. Within GAP of a W_k, F_t (or 1 - F_t) loses the
    digits that say where in the gap between two modes a point lies, and
    :func:`_flow_across_gap` carries F_t - W_k instead.
    cdf: [n] F_t(x). returns (k [n] int, distance [n])
    """
    order = np.argsort(target.means, kind="stable")
    partial = np.cumsum(target.weights[order])[:-1]  # W_1 .. W_{K-1}
    distance = np.abs(np.subtract.outer(partial, cdf))  # [K - 1, n]
    return np.argmin(distance, axis=0) + 1, np.min(distance, axis=0)


def _flow_across_gap(interp, x, t, s, k):
    """h_{t->s}(x) through the anchored CDF F - W_k (see :func:`nearest_partial_weight`).

    x, t, s: [n]; k: [n] number of components, in order of their means, on the left.
    returns [n]
    """
    w = interp.target.weights
    rank = np.argsort(np.argsort(interp.target.means, kind="stable"))
    left = rank[None, :] < k[:, None]
    means_t, stds_t = interp.components(t)
    r = anchored_cdf(x, means_t, stds_t, w, left)
    means_s, stds_s = interp.components(s)
    return anchored_quantile(r, means_s, stds_s, w, left)


def marginal_quantile(interp, s, log_p, upper):
    """The point x_s whose lower (or, where ``upper``, upper) log tail probability is log_p.

    s, log_p: [*batch]; upper: [*batch] bool. returns [*batch]
    """
    s, log_p, upper = np.broadcast_arrays(s, log_p, upper)
    out = np.empty(s.shape)
    # many points at one time (s = 0 for f*, say) share that marginal's quantile
    # table; scattered times are solved together from component-quantile brackets
    if s.size >= TABLE_MIN and np.all(s == s.flat[0]):  # one time: skip the sort
        times, counts = s.flat[:1], np.array([s.size])
    else:
        times, counts = np.unique(s, return_counts=True)
    tabled = np.isin(s, times[counts >= TABLE_MIN])
    for time in times[counts >= TABLE_MIN]:
        sel = s == time
        out[sel] = interp.marginal(time).quantile_from_log(log_p[sel], upper[sel])
    rest = ~tabled & np.isfinite(log_p)
    endless = ~tabled & ~np.isfinite(log_p)  # probability 0: the point is at -inf or +inf
    out[endless] = np.where(upper[endless], np.inf, -np.inf)
    if np.any(rest):
        means, stds = interp.components(s[rest])
        out[rest] = mixture_quantile(log_p[rest], upper[rest], means, stds, interp.target.log_weights)
    return out
