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

from .mixture_kernels import mixture_logcdf, mixture_logpdf, nearer_tail
from .quantile_table import QuantileTable
from .validation import MAX_POINT, MAX_STD, MIN_STD, check_rng, count, real_array, real_vector

__all__ = ["GaussianMixture", "SEED_MIXTURE"]


class GaussianMixture:
    """A one-dimensional Gaussian mixture, validated and normalised at construction.

    Parameters
    ----------
    means : sequence of float, [K]
        Each at most 1e100 in magnitude.
    stds : sequence of float, [K]
        Standard deviations, each in [1e-50, 1e50] (so that the variances s_k^2 neither
        underflow nor overflow).
    weights : sequence of float, [K], optional
        Non-negative, not all zero. They are divided by their sum (so ``[4, 1]`` means
        ``[0.8, 0.2]``, and ``[1e308, 1e308]`` means ``[0.5, 0.5]``); the caller's array is
        never modified. Default: equal weights.

    Raises
    ------
    TypeError
        For entries that are not real numbers (strings, bools, None).
    ValueError
        Naming the offending value: empty or mismatched lengths, non-finite entries,
        a std outside [1e-50, 1e50], a mean beyond 1e100, a negative weight, or weights
        that are all zero.

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
        if np.any((stds < MIN_STD) | (stds > MAX_STD)):
            raise ValueError(
                f"stds must lie in [{MIN_STD:g}, {MAX_STD:g}] (their squares, the variances, must "
                f"neither underflow to 0 nor overflow), got {stds.tolist()}"
            )
        if np.any(np.abs(means) > MAX_POINT):
            raise ValueError(f"means must be at most {MAX_POINT:g} in magnitude, got {means.tolist()}")
        if np.any(weights < 0):
            raise ValueError(f"weights must all be >= 0, got {weights.tolist()}")
        with np.errstate(over="ignore"):  # an overflowing sum is handled below
            total = weights.sum()
        if total == 0:
            raise ValueError(f"weights must not all be zero, got {weights.tolist()}")
        if not np.isfinite(total) or total < np.finfo(float).tiny:
            # the sum overflows ([1e308, 1e308]) or is subnormal: scale by the largest first
            weights = weights / weights.max()
            total = weights.sum()
        weights = weights / total
        for arr in (means, stds, weights):
            arr.setflags(write=False)
        self.means, self.stds, self.weights = means, stds, weights
        with np.errstate(divide="ignore"):
            self.log_weights = np.log(weights)
        self.log_weights.setflags(write=False)
        self._table = None  # the quantile table, built on first use by quantile_table()

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
        -inf (lower) or +inf (upper). The mixture's :class:`~cmtoy.quantile_table.QuantileTable`
        is built on the first call and answers this and every later call.

        log_p: [*batch] (<= 0); upper: [*batch] bool. returns [*batch]
        """
        log_p = real_array("log_p", log_p)
        if np.any(log_p > 0):
            raise ValueError(f"log_p must be <= 0 (a log-probability), got {float(log_p[log_p > 0].flat[0])!r}")
        return self.quantile_table().quantile(log_p, upper)

    def quantile_table(self):
        """The table of this mixture's quantiles (built once, on first use)."""
        if self._table is None:
            self._table = QuantileTable(self.means, self.stds, self.log_weights)
        return self._table


#: The seed page's mixture (means -1 and 2, stds 0.1, weights 0.8 and 0.2), defined once.
SEED_MIXTURE = GaussianMixture(means=[-1.0, 2.0], stds=[0.1, 0.1], weights=[0.8, 0.2])

