"""The stochastic interpolant x_t = alpha_t x_0 + sigma_t x_1 of a Gaussian mixture, exactly.

With x_0 ~ sum_k w_k N(mu_k, s_k^2) and x_1 ~ N(0, 1) independent (seed eq. 2), the
marginal p_t is again a mixture, component k having

    mean  m_k(t) = alpha_t mu_k,        variance  v_k(t) = alpha_t^2 s_k^2 + sigma_t^2,

so the density, CDF, score, posterior means and probability-flow velocity are closed
forms. Given component k, (x_0, x_t) and (x_1, x_t) are jointly Gaussian, which gives

    E[x_0 | x_t = x, k] = mu_k + alpha_t s_k^2 (x - m_k) / v_k,
    E[x_1 | x_t = x, k] = sigma_t (x - m_k) / v_k,

and E[. | x_t = x] averages them with the responsibilities r_k(t, x) = w_k N_k(x) / p_t(x).
The probability-flow ODE dx/dt = v_t(x) (Albergo et al. 2023, arXiv 2303.08797) has

    v_t(x) = alpha'_t E[x_0 | x_t = x] + sigma'_t E[x_1 | x_t = x].

In one dimension flow lines never cross, so the flow preserves quantiles and the flow
map is h_{t->s}(x) = F_s^{-1}(F_t(x)); the exact consistency function of Song et al.
2023 (arXiv 2303.01469) is f*(t, x) = h_{t->0}(x). No ODE solver is involved.

Shapes: ``t`` and ``x`` broadcast against each other like NumPy; results have the
broadcast shape ``[*batch]``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from . import exact_flow
from .mixture_kernels import component_logpdf, logsumexp, mixture_logcdf, mixture_quantile, nearer_tail
from .schedules import make_schedule
from .targets import GaussianMixture
from .validation import check_rng, count, finite_array, real, unit_times

__all__ = ["Interpolant"]

_FAR_LOG_P = -1e8  # below this log p_t(x), the responsibilities are renormalised (see _responsibilities)


class Interpolant:
    """The interpolant of a target mixture and a schedule, with every quantity exact.

    Parameters
    ----------
    target : GaussianMixture
        The law of x_0.
    schedule : Schedule or str, default LinearSchedule()
        The pair (alpha_t, sigma_t); "linear" and "cosine" are accepted by name. Its
        boundary conditions are validated here.
    """

    def __init__(self, target, schedule=None):
        if not isinstance(target, GaussianMixture):
            raise TypeError(f"target must be a cmtoy.GaussianMixture, got {type(target).__name__}")
        schedule = make_schedule("linear" if schedule is None else schedule)  # TypeError/ValueError
        self.target = target
        self.schedule = schedule.validate()
        self._marginals = {}  # time -> GaussianMixture, so quantile tables are built once

    def __getstate__(self):
        return {"target": self.target, "schedule": self.schedule}

    def __setstate__(self, state):
        self.__init__(state["target"], state["schedule"])

    def __repr__(self):
        return f"Interpolant({self.target!r}, {self.schedule!r})"

    # -- the marginal mixture at time t -------------------------------------------------

    def components(self, t):
        """Means m_k(t) and standard deviations sqrt(v_k(t)) of the marginal's components.

        t: [*batch] -> (means [*batch, K], stds [*batch, K])
        """
        t = unit_times("t", t)
        a = self.schedule.alpha(t)
        s = self.schedule.sigma(t)
        mu, sd = self.target.means, self.target.stds
        # built component-major, [K, *batch], and returned as its transposed view: arithmetic
        # on [n, K] arrays then runs along the long axis n in memory, not along the short K
        means = np.multiply.outer(mu, a)
        stds = np.sqrt(np.multiply.outer(sd * sd, a * a) + s * s)
        return np.moveaxis(means, 0, -1), np.moveaxis(stds, 0, -1)

    def marginal(self, t):
        """The marginal law of x_t at one time t, as a GaussianMixture."""
        t = unit_times("t", t)
        if t.ndim != 0:
            raise ValueError(f"marginal(t) takes one time, got an array of shape {t.shape}")
        key = float(t)
        if key not in self._marginals:
            if len(self._marginals) >= 512:
                self._marginals.clear()
            means, stds = self.components(t)
            self._marginals[key] = GaussianMixture(means, stds, self.target.weights)
        return self._marginals[key]

    def _broadcast(self, t, x):
        """t in [0, 1] and finite x with |x| <= MAX_POINT, broadcast against each other."""
        t = unit_times("t", t)
        x = finite_array("x", x)
        return np.broadcast_arrays(t, x)

    def _responsibilities(self, t, x):
        """The responsibilities r_k(t, x) = w_k N_k(x) / p_t(x), and what they were computed from.

        t, x: broadcast arrays [*batch].
        returns (r [*batch, K], log p_t(x) [*batch], means m_k(t) [*batch, K], stds sqrt(v_k(t)) [*batch, K]);
        the callers reuse the component means and stds instead of recomputing them.
        """
        means, stds = self.components(t)
        log_joint = component_logpdf(x, means, stds, self.target.log_weights)
        log_p = logsumexp(log_joint)
        r = np.exp(log_joint - log_p[..., None])
        far = log_p < _FAR_LOG_P
        if np.any(far):
            # |log p| so large that its rounding swamps the log-weights, so r need not sum
            # to 1 (two equal log_joint give r = 1 each): normalise by the sum explicitly
            shifted = np.exp(log_joint[far] - np.max(log_joint[far], axis=-1, keepdims=True))
            r[far] = shifted / np.sum(shifted, axis=-1, keepdims=True)
        return r, log_p, means, stds

    # -- densities ---------------------------------------------------------------------

    def logpdf(self, t, x):
        """log p_t(x). t, x: broadcastable -> [*batch]"""
        t, x = self._broadcast(t, x)
        return self._responsibilities(t, x)[1]

    def pdf(self, t, x):
        """p_t(x), the density of x_t. t, x: broadcastable -> [*batch]"""
        return np.exp(self.logpdf(t, x))

    def cdf(self, t, x):
        """F_t(x) = P(x_t <= x). t, x: broadcastable -> [*batch]"""
        t, x = self._broadcast(t, x)
        means, stds = self.components(t)
        return np.exp(mixture_logcdf(x, means, stds, self.target.log_weights))

    def ppf(self, t, u):
        """F_t^{-1}(u). t, u: broadcastable, u in [0, 1] -> [*batch]"""
        t = unit_times("t", t)
        return exact_flow.marginal_quantile(self, t, *nearer_tail(u))

    def score(self, t, x):
        """d/dx log p_t(x) = -sum_k r_k (x - m_k) / v_k. t, x: broadcastable -> [*batch]"""
        t, x = self._broadcast(t, x)
        r, _, means, stds = self._responsibilities(t, x)
        return -np.sum(r * (x[..., None] - means) / stds**2, axis=-1)

    # -- conditional expectations and the flow -------------------------------------------

    def posterior_mean(self, t, x):
        """E[x_0 | x_t = x]. t, x: broadcastable -> [*batch]"""
        t, x = self._broadcast(t, x)
        return self._posterior_means(t, x)[0]

    def noise_mean(self, t, x):
        """E[x_1 | x_t = x]. t, x: broadcastable -> [*batch]"""
        t, x = self._broadcast(t, x)
        return self._posterior_means(t, x)[1]

    def _posterior_means(self, t, x):
        r, _, _, mean_x0, mean_x1 = self._component_means(t, x)
        return np.sum(r * mean_x0, axis=-1), np.sum(r * mean_x1, axis=-1)

    def _component_means(self, t, x):
        """Each component's E[x_0 | x, k] and E[x_1 | x, k], both linear in x.

        t, x: broadcast arrays [*batch]. returns (r, v_k(t), (x - m_k) / v_k, E[x_0 | x, k],
        E[x_1 | x, k]), each [*batch, K] (r the responsibilities)
        """
        r, _, means, stds = self._responsibilities(t, x)
        a = self.schedule.alpha(t)[..., None]
        s = self.schedule.sigma(t)[..., None]
        var = stds**2
        residual = (x[..., None] - means) / var  # (x - m_k) / v_k
        mean_x0 = self.target.means + a * self.target.stds**2 * residual
        mean_x1 = s * residual
        return r, var, residual, mean_x0, mean_x1

    def posterior_x0(self, t, x):
        """The law of x_0 given x_t = x, as (weights, means, stds) of a mixture.

        Component k has weight r_k(t, x), mean E[x_0 | x_t = x, k] and variance
        s_k^2 sigma_t^2 / v_k(t). t, x: broadcastable -> three arrays [*batch, K]
        """
        t, x = self._broadcast(t, x)
        r, _, means, stds = self._responsibilities(t, x)
        a = self.schedule.alpha(t)[..., None]
        s = self.schedule.sigma(t)[..., None]
        sd0 = self.target.stds
        mean_x0 = self.target.means + a * sd0**2 * (x[..., None] - means) / stds**2
        return r, mean_x0, sd0 * s / stds

    def sample_posterior_x0(self, rng, n, t, x_t):
        """Draw n samples of x_0 given x_t at one time t > 0 (the law of :meth:`posterior_x0`).

        Each sample and the point (t, x_t) define one interpolant path x_0 -> x_1 through it;
        the mean slope of those paths at t is the flow velocity v_t(x_t).
        rng: numpy.random.Generator; t, x_t: scalars. returns [n]
        """
        t, x_t = real("t", t, low=0.0, high=1.0), float(finite_array("x_t", x_t))
        if t == 0.0:
            raise ValueError("t must be > 0: at t = 0, x_0 = x_t is known exactly")
        weights, means, stds = self.posterior_x0(t, x_t)
        return GaussianMixture(means, stds, weights).sample(rng, n)

    def velocity(self, t, x):
        """The probability-flow ODE right-hand side v_t(x) = alpha'_t E[x_0|x] + sigma'_t E[x_1|x].

        t, x: broadcastable -> [*batch]
        """
        t, x = self._broadcast(t, x)
        mean_x0, mean_x1 = self._posterior_means(t, x)
        return self.schedule.d_alpha(t) * mean_x0 + self.schedule.d_sigma(t) * mean_x1

    def velocity_dx(self, t, x):
        """d/dx v_t(x), the rate at which the probability flow spreads (> 0) or gathers (< 0)
        neighbouring points as t grows.

        With component k's velocity v_k(x) = alpha'_t E[x_0 | x, k] + sigma'_t E[x_1 | x, k],
        linear in x with slope c_k = (alpha'_t alpha_t s_k^2 + sigma'_t sigma_t) / v_k(t), and
        the responsibilities' derivative d r_k / dx = r_k (g_k - sum_j r_j g_j), g_k = -(x -
        m_k) / v_k the component's score: d/dx v = sum_k r_k c_k + sum_k r_k (g_k - g) v_k(x).
        t, x: broadcastable -> [*batch]
        """
        t, x = self._broadcast(t, x)
        r, var, residual, mean_x0, mean_x1 = self._component_means(t, x)  # residual = -g_k
        a, s = self.schedule.alpha(t)[..., None], self.schedule.sigma(t)[..., None]
        d_a, d_s = self.schedule.d_alpha(t)[..., None], self.schedule.d_sigma(t)[..., None]
        v_k = d_a * mean_x0 + d_s * mean_x1
        slope_k = (d_a * a * self.target.stds**2 + d_s * s) / var
        spread = residual - np.sum(r * residual, axis=-1, keepdims=True)  # -(g_k - g)
        return np.sum(r * slope_k, axis=-1) - np.sum(r * spread * v_k, axis=-1)

    # -- exact flow map ------------------------------------------------------------------

    def flow_map(self, x, t, s):
        """The exact probability-flow map h_{t->s}(x) = F_s^{-1}(F_t(x)).

        Follows the flow line through (t, x) to time s (either direction). The exact
        consistency function is f*(t, x) = flow_map(x, t, 0). Both tail probabilities are
        carried in log space, so points far in the tails map accurately. Returns x
        itself where t == s.

        x, t, s: broadcastable -> [*batch]

        Examples
        --------
        At s = t the flow map is the identity, bit for bit (the boundary condition a
        consistency model must meet at t = 0, here at every t):

        >>> import numpy as np
        >>> from cmtoy import SEED_MIXTURE, Interpolant
        >>> interp = Interpolant(SEED_MIXTURE)
        >>> x = np.array([-1.5, 0.0, 2.5])
        >>> bool(np.all(interp.flow_map(x, 0.4, 0.4) == x))
        True

        The map keeps quantiles, F_s(h_{t->s}(x)) = F_t(x), and going back undoes it:

        >>> y = interp.flow_map(x, 1.0, 0.3)
        >>> bool(np.allclose(interp.cdf(0.3, y), interp.cdf(1.0, x)))
        True
        >>> bool(np.allclose(interp.flow_map(y, 0.3, 1.0), x))
        True

        So f*(1, 0) is the data's median, -1 + 0.1 Phi^{-1}(0.5 / 0.8), inside the heavier mode:

        >>> round(float(interp.flow_map(0.0, 1.0, 0.0)), 4)
        -0.9681
        """
        t, x = self._broadcast(t, x)
        s = unit_times("s", s)
        t, x, s = np.broadcast_arrays(t, x, s)
        shape = x.shape
        t, x, s = t.ravel(), x.ravel(), s.ravel()  # 1-D, so that scalars can be written into
        y = exact_flow.solve(self, x, t, s)
        return np.where(t == s, x, y).reshape(shape)

    def consistency_function(self, t, x):
        """The exact consistency function f*(t, x) = h_{t->0}(x). t, x: broadcastable"""
        return self.flow_map(x, t, 0.0)

    def trajectories(self, x_1, ts):
        """Exact probability-flow paths started from the noise values x_1 at t = 1.

        x_1: [n]; ts: [m] times in [0, 1]. returns [m, n], row i holding the points at ts[i].
        """
        x_1 = np.atleast_1d(finite_array("x_1", x_1))
        ts = np.atleast_1d(unit_times("ts", ts))
        if x_1.ndim != 1 or ts.ndim != 1:
            raise ValueError(f"x_1 and ts must be one-dimensional, got shapes {x_1.shape} and {ts.shape}")
        # one broadcast call: the quantiles of every time are solved in one vectorised
        # iteration, rather than in one call (and perhaps one quantile table) per time
        return self.flow_map(x_1[None, :], 1.0, ts[:, None])

    # -- sampling --------------------------------------------------------------------------

    def interpolate(self, t, x_0, x_1):
        """The interpolant x_t = alpha_t x_0 + sigma_t x_1 (seed eq. 2) of given endpoints.

        t, x_0, x_1: broadcastable, e.g. t [m, 1] against x_0, x_1 [n] for m points on
        each of n paths. returns [*batch]

        Examples
        --------
        On the linear schedule the path from x_0 to x_1 is a straight line:

        >>> from cmtoy import SEED_MIXTURE, Interpolant
        >>> Interpolant(SEED_MIXTURE, "linear").interpolate([[0.0], [0.5], [1.0]], [-1.0, 2.0], [1.0, 0.0])
        array([[-1.,  2.],
               [ 0.,  1.],
               [ 1.,  0.]])
        """
        t = unit_times("t", t)
        return self.schedule.alpha(t) * finite_array("x_0", x_0) + self.schedule.sigma(t) * finite_array("x_1", x_1)

    def sample_endpoints(self, rng, n, t):
        """Draw x_0 ~ target, x_1 ~ N(0, 1) and form x_t = alpha_t x_0 + sigma_t x_1 (seed eq. 2).

        rng: numpy.random.Generator; n: int; t: scalar or [n].
        returns (x_0 [n], x_1 [n], x_t [n])
        """
        n = count("n", n)
        check_rng(rng)
        t = unit_times("t", t)
        if t.ndim and t.shape != (n,):
            raise ValueError(f"t must be a scalar or have shape ({n},), got shape {t.shape}")
        x_0 = self.target.sample(rng, n)
        x_1 = rng.standard_normal(n)
        return x_0, x_1, self.interpolate(t, x_0, x_1)

    def sample(self, rng, n, t):
        """Draw n samples of x_t. rng: numpy.random.Generator; t: scalar or [n]. returns [n]"""
        return self.sample_endpoints(rng, n, t)[2]
