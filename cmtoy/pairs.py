"""What one step of a discrete-time method (ct, cd, ict) learns from: the grid, and pairs on it.

These methods train on pairs of neighbouring times t_n < t_{n+1} of a grid
0 = t_0 < ... < t_N = 1 (:func:`time_grid`) whose size N(k), its number of intervals,
grows with the training step k (:func:`grid_size`, the curriculum). A batch draws the
indices n and the endpoints x_0 ~ p_0, x_1 ~ N(0, 1) (:class:`BatchSampler`) and turns
them into the points (x_{t_n}, x_{t_{n+1}}): both on the line x_0 -> x_1 in consistency
training (Song et al. 2023, Alg. 3; :func:`isolation_pairs`), or x_{t_n} one solver step
of the probability-flow ODE back from x_{t_{n+1}} in distillation (ibid., Alg. 2;
:func:`distillation_pairs`, :func:`teacher_step`). :class:`GridMethod` puts these
together into a training method for :func:`cmtoy.train`'s one loop.

``config`` is always a resolved :class:`cmtoy.TrainConfig` (``config.resolved()``: no None).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special, stats

from .consistency import ConsistencyModel, consistency_loss, loss_weight
from .validation import integer

__all__ = ["SOLVERS", "grid_size", "time_grid", "BatchSampler", "isolation_pairs", "distillation_pairs",
           "teacher_step", "GridMethod"]

SOLVERS = ("euler", "heun", "rk4")  # teacher steps of distillation


def grid_size(config, k):
    """N(k), the number of intervals of the grid at training step k (the curriculum)."""
    s0, s1, total = config.n_min, config.n_max, config.steps
    if config.curriculum == "constant":
        return s1
    if config.curriculum == "sqrt":  # Song et al. 2023, App. C
        return min(s1, math.ceil(math.sqrt(k / total * ((s1 + 1) ** 2 - s0**2) + s0**2) - 1) + 1)
    # Song & Dhariwal 2023, Sec. 3.4: N doubles after every stage of steps_per_stage training steps
    steps_per_stage = max(1, total // (int(math.log2(s1 / s0)) + 1))
    return min(s0 * 2 ** (k // steps_per_stage), s1)


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

    def points(self):
        """The next batch of Sobol points as (u [B], x_0 [B], x_1 [B]), u uniform on (0, 1) ("qmc" only)."""
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
        u_n, x_0, x_1 = self.points()
        if p is not self._p:  # p changes only when N does: keep its cumulative sum
            self._p, self._cum_p = p, np.cumsum(p)
        n = np.minimum(np.searchsorted(self._cum_p, u_n, side="right"), p.size - 1)
        return n, x_0, x_1


def isolation_pairs(interp, config, t_early, t_late, x_0, x_1):
    """Consistency training (Song et al. 2023, Alg. 3): both points on one line x_0 -> x_1.

    t_early, t_late, x_0, x_1: [B] -> (x_early [B], x_late [B])
    """
    alpha, sigma = interp.schedule.alpha, interp.schedule.sigma
    x_late = alpha(t_late) * x_0 + sigma(t_late) * x_1  # seed eq. 2
    return alpha(t_early) * x_0 + sigma(t_early) * x_1, x_late


def distillation_pairs(interp, config, t_early, t_late, x_0, x_1):
    """Consistency distillation (ibid., Alg. 2): x_early is one teacher step back from x_late.

    t_early, t_late, x_0, x_1: [B] -> (x_early [B], x_late [B])
    """
    x_late = interp.schedule.alpha(t_late) * x_0 + interp.schedule.sigma(t_late) * x_1  # seed eq. 2
    return teacher_step(interp, config.solver, t_late, t_early, x_late), x_late


def teacher_step(interp, solver, t_from, t_to, x, substeps=1):
    """Solver steps of the probability-flow ODE from t_from back to t_to, exact velocity.

    "euler": x - dt v(t_from, x); "heun": the trapezoidal correction of that step (Karras et
    al. 2022, Alg. 1), x - dt (v(t_from, x) + v(t_to, x_euler)) / 2, with dt = t_from - t_to;
    "rk4": the classical fourth-order Runge-Kutta step, four velocities per step.
    Euler's error per step is O(dt^2), Heun's O(dt^3), RK4's O(dt^5); N solver steps from
    t = 1 are the function that consistency distillation with that teacher converges to on
    a grid of N intervals (benchmarks/bench_cd_teacher.py). ``substeps`` splits the
    interval into that many equal steps, so that a long hop (fmd's teacher) keeps a short
    step's accuracy: the error over the interval falls as substeps^-1, ^-2 and ^-4.

    t_from, t_to, x: [B] (broadcastable); substeps: a positive int -> [B]
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {SOLVERS}")
    substeps = integer("substeps", substeps, 1)
    dt = (t_from - t_to) / substeps
    start = t_from
    for i in range(1, substeps + 1):  # the last step ends at t_to itself, not at a rounding of it
        end = t_to if i == substeps else t_from - i * dt
        x = _solver_step(interp, solver, start, end, x)
        start = end
    return x


def _solver_step(interp, solver, t_from, t_to, x):
    """One step of teacher_step's solver from t_from back to t_to."""
    dt = t_from - t_to
    v_from = interp.velocity(t_from, x)
    if solver == "rk4":  # the classical Runge-Kutta step, backwards in time
        t_mid = t_from - 0.5 * dt
        v_2 = interp.velocity(t_mid, x - 0.5 * dt * v_from)
        v_3 = interp.velocity(t_mid, x - 0.5 * dt * v_2)
        v_4 = interp.velocity(t_to, x - dt * v_3)
        return x - dt * (v_from + 2.0 * v_2 + 2.0 * v_3 + v_4) / 6.0
    x_euler = x - dt * v_from
    if solver == "euler":
        return x_euler
    return x - 0.5 * dt * (v_from + interp.velocity(t_to, x_euler))


class GridMethod:
    """A discrete-time training method: a loss on pairs of neighbouring grid times.

    It is what :func:`cmtoy.train` asks of every method: ``defaults`` (a value for each
    TrainConfig field whose default is None, but max_seconds), ``initialise(interp, config,
    rng)`` (the untrained model) and ``start(interp, config, model, rng)``: an object whose
    ``loss(k, params, target, out)`` draws training step k's batch and returns (loss, grads)
    and whose ``status`` dict, if any, the progress bar shows.

    pairs: :func:`isolation_pairs` (ct, ict) or :func:`distillation_pairs` (cd).
    """

    def __init__(self, pairs, defaults):
        self.pairs, self.defaults = pairs, defaults

    def initialise(self, interp, config, rng):
        return ConsistencyModel.initialise(interp, config.mlp, rng)

    def start(self, interp, config, model, rng):
        return GridBatches(self.pairs, interp, config, model, rng)


class GridBatches:
    """The batches of one run of a :class:`GridMethod`, and their consistency loss."""

    def __init__(self, pairs, interp, config, model, rng):
        self.pairs, self.interp, self.config, self.model = pairs, interp, config, model
        self.draw = BatchSampler(config, interp.target, rng)
        self.grids = {}  # N -> (t [N + 1], p [N], what f_theta needs at the times t)
        self.status = {}  # what the progress bar shows: the grid size N

    def loss(self, k, params, target, out):
        """Loss of training step k's batch; its gradient is written into ``out``. -> (loss, grads)

        target: the weights of the stop-gradient target f_target(t_n, x_{t_n}).
        """
        config, model = self.config, self.model
        n = grid_size(config, k)
        if n not in self.grids:
            t, p = time_grid(config, self.interp.schedule, n)
            self.grids[n] = t, p, model.time_terms(params, t)
        t, p, terms = self.grids[n]
        i, x_0, x_1 = self.draw(p)
        t_early, t_late = t[i], t[i + 1]
        x_early, x_late = self.pairs(self.interp, config, t_early, t_late, x_0, x_1)
        self.status = {"N": n}
        return consistency_loss(model, params, target, t_early, x_early, t_late, x_late,
                                loss_weight(config.weighting, t_early, t_late), config.distance,
                                config.huber_c, out=out,
                                terms=(tuple(a[i] for a in terms), tuple(a[i + 1] for a in terms)))
