"""What one training step learns from: the grid of times, and pairs of points on it.

Every method trains on pairs of neighbouring times t_n < t_{n+1} of a discretisation
0 = t_0 < ... < t_N = 1 (:func:`time_grid`) whose number of steps N(k) grows with the
training step k (:func:`n_steps`, the curriculum). A batch draws the indices n and the
endpoints x_0 ~ p_0, x_1 ~ N(0, 1) (:class:`BatchSampler`) and turns them into the points
(x_{t_n}, x_{t_{n+1}}) (:func:`make_pairs`): both on the line x_0 -> x_1 in consistency
training (Song et al. 2023, Alg. 3), or x_{t_n} one teacher step of the probability-flow
ODE back from x_{t_{n+1}} in distillation (ibid., Alg. 2; :func:`teacher_step`).

The settings come from a :class:`cmtoy.TrainConfig`; :func:`cmtoy.train` runs the loop.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special, stats

__all__ = ["SOLVERS", "n_steps", "time_grid", "BatchSampler", "make_pairs", "teacher_step"]

SOLVERS = ("euler", "heun")  # teacher steps of distillation


def n_steps(config, k):
    """N(k), the number of discretisation steps at training step k."""
    s0, s1, total = config.n_min, config.n_max, config.steps
    if config.curriculum == "constant":
        return s1
    if config.curriculum == "sqrt":  # Song et al. 2023, App. C
        return min(s1, math.ceil(math.sqrt(k / total * ((s1 + 1) ** 2 - s0**2) + s0**2) - 1) + 1)
    stage = max(1, total // (int(math.log2(s1 / s0)) + 1))  # Song & Dhariwal 2023, Sec. 3.4
    return min(s0 * 2 ** (k // stage), s1)


def time_grid(config, schedule, n):
    """The grid 0 = t_0 < ... < t_N = 1 and the probabilities p_n of the pair (t_n, t_{n+1}).

    returns (t [N + 1], p [N])
    """
    t = (np.arange(n + 1) / n) ** config.grid_rho
    if config.time_distribution == "uniform":
        return t, np.full(n, 1.0 / n)
    # Song & Dhariwal 2023, Sec. 3.5: p_n proportional to the mass that a normal law of
    # log(sigma / alpha) puts between the neighbouring noise levels
    with np.errstate(divide="ignore"):
        log_ratio = np.log(schedule.sigma(t)) - np.log(schedule.alpha(t))
    cdf = special.ndtr((log_ratio - config.p_mean) / config.p_std)
    p = np.diff(cdf)
    return t, p / p.sum()


class BatchSampler:
    """Draws the random inputs of each batch: the step indices n and the endpoints x_0, x_1.

    "iid": independent draws from ``rng``. "qmc": randomised quasi-Monte Carlo, which
    Buchholz, Wenzel & Mandt 2018 (*Quasi-Monte Carlo variational inference*, ICML) show
    lowers the variance of stochastic gradients: one scrambled Sobol sequence in four
    dimensions (scipy.stats.qmc.Sobol, seeded from ``rng``) whose consecutive blocks of
    ``batch`` points are mapped by inverse CDFs to (n, the mixture component of x_0, the
    standardised x_0 within it, x_1). Every point is still uniform on [0, 1]^4, so each
    pair keeps the law of the "iid" draws and the loss stays unbiased; but a block of 2^m
    points fills [0, 1]^4 evenly, so a batch covers the times, both modes and the tails
    in the right proportions and its gradient varies less between steps. (With a batch
    that is not a power of 2 the blocks are less even but the draws still unbiased.)
    """

    def __init__(self, config, target, rng):
        self.config, self.target, self.rng = config, target, rng
        if config.sampling == "qmc":
            self.engine = stats.qmc.Sobol(d=4, scramble=True, seed=rng)
            self.cum_weights = np.cumsum(target.weights)
            self._p, self._cum_p = None, None  # the last p and its cumulative sum
            # the points do not depend on p: map them to (u_n, x_0, x_1) for many batches at
            # once (the same values as batch by batch, with less overhead per step)
            self._per_block = max(1, self._BLOCK_POINTS // config.batch)
            self._block, self._used = None, self._per_block

    _BLOCK_POINTS = 16_384

    def _next_points(self):
        """The next batch of Sobol points as (u_n [B], x_0 [B], x_1 [B])."""
        if self._used == self._per_block:
            with warnings.catch_warnings():  # scipy warns about a count that is not a power of 2
                warnings.simplefilter("ignore", UserWarning)
                u = np.clip(self.engine.random(self._per_block * self.config.batch), 1e-12, 1.0 - 1e-12)
            k = np.minimum(np.searchsorted(self.cum_weights, u[:, 1], side="right"), self.cum_weights.size - 1)
            x_0 = self.target.means[k] + self.target.stds[k] * special.ndtri(u[:, 2])
            self._block = (u[:, 0].copy(), x_0, special.ndtri(u[:, 3]))
            self._used = 0
        rows = slice(self._used * self.config.batch, (self._used + 1) * self.config.batch)
        self._used += 1
        return tuple(a[rows] for a in self._block)

    def __call__(self, p):
        """Indices n with probabilities p: [N], and the endpoints. -> (n [B], x_0 [B], x_1 [B])"""
        config, rng = self.config, self.rng
        if config.sampling == "iid":  # the rng calls, in the order, of every earlier iid model
            n = rng.choice(p.size, size=config.batch, p=p)
            return n, self.target.sample(rng, config.batch), rng.standard_normal(config.batch)
        u_n, x_0, x_1 = self._next_points()
        if p is not self._p:  # p changes only when N does: keep its cumulative sum
            self._p, self._cum_p = p, np.cumsum(p)
        n = np.minimum(np.searchsorted(self._cum_p, u_n, side="right"), p.size - 1)
        return n, x_0, x_1


def make_pairs(config, interp, rng, t_early, t_late, x_0=None, x_1=None):
    """Points (x_{t_n}, x_{t_{n+1}}) of one batch. t_early, t_late: [B] -> (x_early, x_late)

    x_0, x_1 : [B], optional: the endpoints of each pair; drawn from ``rng`` if not given.
    """
    alpha, sigma = interp.schedule.alpha, interp.schedule.sigma
    if x_0 is None:
        x_0 = interp.target.sample(rng, t_late.size)
        x_1 = rng.standard_normal(t_late.size)
    x_late = alpha(t_late) * x_0 + sigma(t_late) * x_1  # seed eq. 2
    if config.method != "cd":  # isolation: the same x_0, x_1 at the earlier time
        return alpha(t_early) * x_0 + sigma(t_early) * x_1, x_late
    return teacher_step(interp, config.solver, t_late, t_early, x_late), x_late  # distillation


def teacher_step(interp, solver, t_from, t_to, x):
    """One step of the probability-flow ODE from t_from back to t_to with the exact velocity.

    "euler": x - dt v(t_from, x); "heun": the trapezoidal correction of that step (Karras et
    al. 2022, Alg. 1), x - dt (v(t_from, x) + v(t_to, x_euler)) / 2, with dt = t_from - t_to.
    Euler's error per step is O(dt^2), Heun's O(dt^3); N steps of either from t = 1 are the
    function that consistency distillation with that teacher converges to on an N-step grid
    (benchmarks/bench_cd_teacher.py).

    t_from, t_to, x: [B] (broadcastable) -> [B]
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {SOLVERS}")
    dt = t_from - t_to
    v_from = interp.velocity(t_from, x)
    x_euler = x - dt * v_from
    if solver == "euler":
        return x_euler
    return x - 0.5 * dt * (v_from + interp.velocity(t_to, x_euler))
