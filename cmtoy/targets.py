"""One-dimensional Gaussian mixtures: the target law of x_0, with exact pdf, cdf and ppf.

A mixture with weights w_k, means mu_k and standard deviations s_k has

    p(x) = sum_k w_k N(x; mu_k, s_k^2),      F(x) = sum_k w_k Phi((x - mu_k) / s_k).

Every density and CDF is evaluated in log space by the array kernels of
:mod:`cmtoy.mixture_kernels`, so far tails and very narrow components neither underflow
nor produce warnings; the same kernels serve the marginals p_t of the interpolant (see
:mod:`cmtoy.interpolant`), whose components are Gaussians too.

Shapes: ``x: [*batch]``, ``u: [*batch]``; samples ``[n]``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .mixture_kernels import (
    _LOG_SQRT_2PI,
    _solve_signed,
    mixture_logcdf,
    mixture_logpdf,
    mixture_quantile,
    nearer_tail,
)
from .validation import check_rng, count, real_array, real_vector

__all__ = ["GaussianMixture", "SEED_MIXTURE"]


class GaussianMixture:
    """A one-dimensional Gaussian mixture, validated and normalised at construction.

    Parameters
    ----------
    means : sequence of float, [K]
    stds : sequence of float, [K]
        Standard deviations, each > 0.
    weights : sequence of float, [K], optional
        Non-negative, not all zero. They are divided by their sum (so ``[4, 1]`` means
        ``[0.8, 0.2]``); the caller's array is never modified. Default: equal weights.

    Raises
    ------
    ValueError
        Naming the offending value: empty or mismatched lengths, non-finite entries,
        a std <= 0, a negative weight, or weights that are all zero.

    Examples
    --------
    The seed page's mixture: between its two narrow modes the CDF has climbed to the
    weight of the left one.

    >>> mix = GaussianMixture(means=[-1.0, 2.0], stds=[0.1, 0.1], weights=[0.8, 0.2])
    >>> float(mix.cdf(0.5))
    0.8
    >>> mix.mean, round(mix.var, 6)
    (-0.4, 1.45)

    Weights are relative, so ``[4, 1]`` is the same mixture as ``[0.8, 0.2]``:

    >>> GaussianMixture(means=[-1.0, 2.0], stds=[0.1, 0.1], weights=[4, 1]) == mix
    True
    >>> GaussianMixture(means=[0.0], stds=[0.0])
    Traceback (most recent call last):
        ...
    ValueError: stds must all be > 0, got [0.0]
    """

    def __init__(self, means, stds, weights=None):
        means = real_vector("means", means)
        stds = real_vector("stds", stds)
        weights = np.full(means.size, 1.0) if weights is None else real_vector("weights", weights)
        if not (means.size == stds.size == weights.size):
            raise ValueError(
                f"means, stds and weights must have the same length, got "
                f"{means.size}, {stds.size} and {weights.size}"
            )
        if np.any(stds <= 0):
            raise ValueError(f"stds must all be > 0, got {stds.tolist()}")
        if np.any(weights < 0):
            raise ValueError(f"weights must all be >= 0, got {weights.tolist()}")
        if weights.sum() <= 0:
            raise ValueError(f"weights must not all be zero, got {weights.tolist()}")
        weights = weights / weights.sum()
        for arr in (means, stds, weights):
            arr.setflags(write=False)
        self.means, self.stds, self.weights = means, stds, weights
        with np.errstate(divide="ignore"):
            self.log_weights = np.log(weights)
        self.log_weights.setflags(write=False)
        self._table = None  # lazily built quantile table, see _quantile_table

    def __repr__(self):
        fmt = lambda a: "[" + ", ".join(f"{v:g}" for v in a) + "]"  # noqa: E731
        return (
            f"GaussianMixture(means={fmt(self.means)}, stds={fmt(self.stds)}, "
            f"weights={fmt(self.weights)})"
        )

    def __eq__(self, other):
        if not isinstance(other, GaussianMixture):
            return NotImplemented
        return all(
            np.array_equal(a, b)
            for a, b in [(self.means, other.means), (self.stds, other.stds), (self.weights, other.weights)]
        )

    __hash__ = None

    @property
    def n_components(self):
        return self.means.size

    @property
    def mean(self):
        """E[x] = sum_k w_k mu_k."""
        return float(self.weights @ self.means)

    @property
    def var(self):
        """Var[x] = sum_k w_k (s_k^2 + mu_k^2) - E[x]^2."""
        return float(self.weights @ (self.stds**2 + self.means**2) - self.mean**2)

    # -- sampling ---------------------------------------------------------------------

    def sample(self, rng, n):
        """Draw n independent samples.

        rng: numpy.random.Generator; n: int >= 0. returns [n]
        """
        n = count("n", n)
        check_rng(rng)
        k = rng.choice(self.n_components, size=n, p=self.weights)
        return self.means[k] + self.stds[k] * rng.standard_normal(n)

    # -- densities --------------------------------------------------------------------

    def logpdf(self, x):
        """log p(x). x: [*batch] -> [*batch]"""
        x = real_array("x", x)
        return mixture_logpdf(x, self.means, self.stds, self.log_weights)

    def pdf(self, x):
        """p(x). x: [*batch] -> [*batch]"""
        return np.exp(self.logpdf(x))

    def logcdf(self, x):
        """log F(x), accurate far into the lower tail. x: [*batch] -> [*batch]"""
        x = real_array("x", x)
        return mixture_logcdf(x, self.means, self.stds, self.log_weights)

    def logsf(self, x):
        """log(1 - F(x)), accurate far into the upper tail. x: [*batch] -> [*batch]"""
        x = real_array("x", x)
        return mixture_logcdf(x, self.means, self.stds, self.log_weights, upper=True)

    def cdf(self, x):
        """F(x). x: [*batch] -> [*batch]"""
        return np.exp(self.logcdf(x))

    def sf(self, x):
        """1 - F(x), computed without cancellation. x: [*batch] -> [*batch]"""
        return np.exp(self.logsf(x))

    def ppf(self, u):
        """The quantile function F^{-1}(u), u in [0, 1]; ppf(0) = -inf, ppf(1) = +inf.

        u: [*batch] -> [*batch]
        """
        return self.quantile_from_log(*nearer_tail(u))

    def quantile_from_log(self, log_p, upper):
        """Solve log F(y) = log_p (lower tail) or log(1 - F(y)) = log_p (``upper``).

        Working with log-probabilities of the nearer tail keeps full relative precision
        far into both tails, which the exact flow map relies on. log_p = -inf gives
        -inf (lower) or +inf (upper).

        log_p: [*batch] (<= 0); upper: [*batch] bool. returns [*batch]
        """
        log_p, upper = np.broadcast_arrays(np.asarray(log_p, float), np.asarray(upper, bool))
        out = np.where(upper, np.inf, -np.inf)
        finite = np.isfinite(log_p)
        lp, up = log_p[finite], upper[finite]
        # A table of quantiles on a uniform grid of the normal score kappa = Phi^{-1}(p):
        # the lookup is a division, not a search, and the quantile of a mixture is nearly
        # linear in kappa, so its cubic interpolant is close to the root. Where the table
        # was checked to be exact to 1e-13 the interpolant is the answer; elsewhere (near the
        # gap between modes) it starts a safeguarded Newton iteration in its bracket.
        kappa_grid, cells = self._quantile_table()
        h = kappa_grid[1] - kappa_grid[0]
        pos = (special.ndtri_exp(np.minimum(lp, 0.0)) - kappa_grid[0]) / h
        inside = (pos >= 0) & (pos <= kappa_grid.size - 1)
        j = np.clip(pos.astype(np.intp), 0, kappa_grid.size - 2)
        u = pos - j
        j += up * kappa_grid.size  # the upper-tail cells follow the lower-tail ones
        lo, hi, c_0, c_1, c_2, c_3, exact = cells.take(j, axis=0).T.copy()  # one gather per point
        guess = c_0 + u * (c_1 + u * (c_2 + u * c_3))  # the cell's cubic Hermite interpolant
        sign = 1.0 - 2.0 * up  # -1 for an upper tail
        y = sign * guess
        refine = np.flatnonzero(inside & (exact == 0.0))
        if refine.size:
            m, s = self.means[None], self.stds[None]
            lp_r, sign_r, guess_r, lo_r, hi_r = (a.take(refine) for a in (lp, sign, guess, lo, hi))
            y[refine] = sign_r * _solve_signed(lp_r, sign_r, m, s, self.log_weights, guess_r, lo_r, hi_r)
        if not np.all(inside):  # beyond the table: from the component-quantile bracket
            y[~inside] = mixture_quantile(lp[~inside], up[~inside], self.means, self.stds, self.log_weights)
        out[finite] = y
        return out

    _TABLE_KAPPA = np.linspace(-38.5, 0.0, 16385)  # p from 1e-324 to 1/2

    def _quantile_table(self):
        """Exact quantiles at the grid kappa_j of normal scores, for the lower and upper tail.

        Between grid points y(kappa) is interpolated by the cubic that matches the values
        y_j, y_{j+1} and the exact slopes dy/dkappa at both ends (cubic Hermite), in Horner
        form: on cell j, with u = (kappa - kappa_j) / h in [0, 1],
        y = c_0 + u (c_1 + u (c_2 + u c_3)).

        The error of cubic Hermite interpolation is y^(4)(xi) h^4 u^2 (1 - u)^2 / 24, largest
        at the middle of a cell unless y^(4) varies quickly there. So each cell's interpolant
        is compared with the exact quantile at its midpoint, and the cell is marked exact if
        that error and those of both neighbouring cells (which would show a nearby
        singularity, as at the gap between two modes) are at most 1e-13 (1 + |y|).

        returns (kappa [M], cells [2 M, 7]): cells[j] = (lo, hi, c_0, c_1, c_2, c_3, exact) of
        cell j of the lower tail's quantiles F^{-1}(Phi(kappa)) and cells[M + j] of the upper
        tail's -S^{-1}(Phi(kappa)) (signed coordinates), both increasing in kappa. [lo, hi]
        is [y_j, y_{j+1}] widened by 1e-12 (1 + |y_j| + |y_{j+1}|), a bracket of the root (the
        table is exact to rounding); ``exact`` is 1.0 for a cell checked as above, else 0.0.
        The last cell of each tail is a placeholder that lookups never use.
        """
        if self._table is None:
            kappa = self._TABLE_KAPPA
            log_p = special.log_ndtr(kappa)
            z = np.concatenate([np.linspace(-8, 8, 161), np.linspace(-38, 38, 77)])
            rows = []
            for signed_means in (self.means, -self.means):
                # the upper tail of the mixture is the lower tail of its mirror image;
                # bracket the grid quantiles on a y-grid dense around every component
                # (out to 38 stds, where Phi underflows) and uniform across the gaps
                around = (signed_means[:, None] + self.stds[:, None] * z).ravel()
                y = np.unique(np.concatenate([around, np.linspace(around.min(), around.max(), 512)]))
                key = mixture_logcdf(y, signed_means, self.stds, self.log_weights)
                j = np.clip(np.searchsorted(key, log_p), 1, y.size - 1)
                inside = (log_p > key[0]) & (log_p <= key[-1])
                row = np.empty_like(kappa)
                y_lo, y_hi = y[j - 1][inside], y[j][inside]
                key_lo, key_hi = key[j - 1][inside], key[j][inside]
                with np.errstate(invalid="ignore", divide="ignore"):  # log F is nearly linear
                    start = y_lo + (y_hi - y_lo) * (log_p[inside] - key_lo) / (key_hi - key_lo)
                start = np.where(np.isfinite(start), start, 0.5 * (y_lo + y_hi))
                row[inside] = mixture_quantile(
                    log_p[inside], False, signed_means, self.stds, self.log_weights, x_init=start, lo=y_lo, hi=y_hi
                )
                if not np.all(inside):
                    row[~inside] = mixture_quantile(log_p[~inside], False, signed_means, self.stds, self.log_weights)
                rows.append(row)
            signed = np.maximum.accumulate(np.stack(rows), axis=1)  # monotone despite rounding
            # dy/dkappa = phi(kappa) / p(y) on both rows (the mirrored mixture has the
            # mirrored density), in log space because phi(-38) is subnormal
            log_phi = -0.5 * kappa * kappa - _LOG_SQRT_2PI
            slope = np.stack([
                np.exp(log_phi - mixture_logpdf(row, sm, self.stds, self.log_weights))
                for row, sm in zip(signed, (self.means, -self.means))
            ])
            a, b = signed, np.roll(signed, -1, axis=1)
            d_a, d_b = (kappa[1] - kappa[0]) * slope, (kappa[1] - kappa[0]) * np.roll(slope, -1, axis=1)
            c_2, c_3 = 3.0 * (b - a) - 2.0 * d_a - d_b, 2.0 * (a - b) + d_a + d_b
            pad = 1e-12 * (1.0 + np.abs(a) + np.abs(b))
            lo, hi = a - pad, b + pad
            # the check at the midpoints u = 1/2 of the cells (the last one is a placeholder)
            log_p_mid = special.log_ndtr(kappa[:-1] + 0.5 * (kappa[1] - kappa[0]))
            exact = np.zeros_like(a)
            for row, signed_means in enumerate((self.means, -self.means)):
                mid = (a + 0.5 * (d_a + 0.5 * (c_2 + 0.5 * c_3)))[row, :-1]
                solved = mixture_quantile(log_p_mid, False, signed_means, self.stds, self.log_weights,
                                          x_init=mid, lo=lo[row, :-1], hi=hi[row, :-1])
                error = np.abs(mid - solved) / (1.0 + np.abs(solved))
                error = np.concatenate([[np.inf], error, [np.inf]])
                worst = np.maximum(np.maximum(error[:-2], error[1:-1]), error[2:])
                exact[row, :-1] = worst <= 1e-13
            cells = np.stack([lo, hi, a, d_a, c_2, c_3, exact], axis=-1).reshape(-1, 7)
            self._table = (kappa, cells)
        return self._table


#: The seed page's mixture (means -1 and 2, stds 0.1, weights 0.8 and 0.2), defined once.
SEED_MIXTURE = GaussianMixture(means=[-1.0, 2.0], stds=[0.1, 0.1], weights=[0.8, 0.2])

