"""Continuous-time consistency training (sCT) and distillation (sCD).

In the limit dt -> 0 of the discrete consistency loss, its gradient becomes

    grad E[ w(t) f_theta(t, x_t) . d/dt f_theta-(t, x_t) ],   d/dt f = df/dt + df/dx v,

with theta- = stopgrad(theta) (Song et al. 2023, arXiv 2303.01469, Thm. 6 and Remark 10;
Lu & Song 2024, arXiv 2410.11081, Sec. 2.2 and eq. 8). It is *linear in the velocity* v:
the conditional velocity v_hat = alpha'_t x_0 + sigma'_t x_1 of one pair ("sct") has the
same expected gradient as the exact probability-flow velocity E[v_hat | x_t] ("scd",
:meth:`Interpolant.velocity`), so consistency training has no discretisation bias at all.
One forward-mode JVP of the network (:func:`cmtoy.mlp.jvp`) gives the tangent, and the
update is a squared distance to a stop-gradient target: no second derivatives.

Unbiased is not enough, though: near t = 1, where the one-step map f(1, .) is learnt,
v_hat's noise is as large as the data's spread. sct's default therefore takes the
velocity of the batch's own data (:func:`batch_velocity`, ``velocity_estimate="batch"``),
still from data alone and still unbiased, with far less noise there.

**TrigFlow coordinates for any schedule.** With sigma_d the data std, write
alpha_t x_0 + sigma_t x_1 = r_t (cos tau_t x_0 + sin tau_t sigma_d x_1), i.e.

    tau_t = atan2(sigma_t, sigma_d alpha_t),   r_t = sqrt(alpha_t^2 + sigma_t^2 / sigma_d^2),

so y = x / r_t is Lu & Song's TrigFlow variable at angle tau (their z = sigma_d x_1), and
cmtoy's scalings (:func:`cmtoy.consistency.scalings`) are exactly theirs:
c_skip x = cos tau y, c_out = sigma_d sin tau, c_in x = y / sigma_d, so that

    f_theta(t, x) = cos tau y + sigma_d sin tau F_theta(t, y / sigma_d)

(their F with the opposite sign). Following their eq. 8, the tangent is taken in tau and
weighted by cos tau:

    g = cos tau df-/dtau = cos^2 tau (dy/dtau + sigma_d F-) - r cos tau sin tau (y - sigma_d dF-/dtau),

and the loss is (F_theta - F- + g)^2, whose gradient at theta = theta- is 2 g dF/dtheta.
r is the tangent warm-up (0 -> 1 over the first ``tangent_warmup`` steps), and the
stabilisers are each a :class:`cmtoy.TrainConfig` setting:

- ``parametrisation``: "trigflow" (above); "angle", the same with g = df-/dtau, without
  the factor cos tau; or "time": the tangent df-/dt in cmtoy's own time and the loss
  (f_theta - f- + g)^2 in the units of f. Why "angle" can matter: at theta = theta- the
  update moves F against g, and g contains the transport term cos tau sin tau sigma_d dF/dtau,
  so training carries the boundary condition f(0, x) = x up the flow lines at a speed
  proportional to cos tau sin tau, which vanishes at t = 1: the one-step map f(1, .) is
  the last and slowest to converge. Without the factor the speed is proportional to
  sin tau, largest there.
  (In an image model f(1, .) matters less: few-step samplers refine it, and the images
  at the largest noise level are noise.)
- ``tangent_norm`` c: g <- g / (|g| + c) (their Sec. 4.2); 0 switches it off. Their |g| is
  a norm over all the dimensions of an image; in one dimension it is |g| itself, so the
  normalised tangent is nearly sign(g) wherever |g| >> c: each sample's step no longer
  grows with its tangent. It is not linear in v, so it biases the gradient of a noisy
  estimate of v: with v_hat that bias stalls training, with the batch's velocity (less
  noise) the normalisation helps (``benchmarks/bench_continuous.py`` measures both);
- ``tangent_warmup``: steps of the warm-up r; 0 switches it off;
- ``adaptive_weight``: the loss e^{w_phi(t)} (F_theta - F- + g)^2 - w_phi(t) with a small
  learned w_phi (:class:`AdaptiveWeight`, their eq. 9), which evens out the loss over times;
- ``time_distribution``: "lognormal" in log(sigma_t / alpha_t) = log(sigma_d tan tau), their
  proposal p(tau) with tan tau = e^xi / sigma_d, xi ~ N(p_mean, p_std); or "uniform" t;
- ``velocity_estimate``: "batch" (above) or "conditional", the pair's own v_hat as in
  the paper;
- the time embedding: ``mlp=MLPConfig(n_fourier=...)``, few and low frequencies, so that
  dF/dt stays bounded (their Sec. 4.1 on c_noise(t) = t and low-frequency embeddings).

Shapes: ``t, x: [B]`` unless stated.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from . import mlp, optim
from .consistency import ConsistencyModel
from .pairs import BatchSampler
from .validation import choice, real

__all__ = ["PARAMETRISATIONS", "ESTIMATES", "line_point", "batch_velocity", "trig_coordinates", "tangent",
           "AdaptiveWeight", "ContinuousMethod",
           "continuous_gradient", "TimeSampler"]

PARAMETRISATIONS = ("trigflow", "angle", "time")
ESTIMATES = ("conditional", "batch")  # the velocity of training from data alone (line_point)
VELOCITIES = ESTIMATES + ("exact",)


def line_point(schedule, t, x_0, x_1, velocity="conditional"):
    """The point x_t = alpha_t x_0 + sigma_t x_1 of the line x_0 -> x_1 (seed eq. 2) and an
    estimate of the probability-flow velocity there from data alone.

    velocity: "conditional", the velocity of the pair's own line, v_hat = alpha'_t x_0 +
    sigma'_t x_1, whose mean given x_t is the exact v(t, x_t); or "batch", the velocity of
    the batch's data, :func:`batch_velocity`, with the same mean and much less noise at
    large t.

    t, x_0, x_1: [B] -> (x_t [B], v [B])
    """
    choice("velocity", velocity, ESTIMATES)
    x_t = schedule.alpha(t) * x_0 + schedule.sigma(t) * x_1
    v_hat = schedule.d_alpha(t) * x_0 + schedule.d_sigma(t) * x_1
    return x_t, (v_hat if velocity == "conditional" else batch_velocity(schedule, t, x_t, x_0, v_hat))


def batch_velocity(schedule, t, x_t, x_0, v_hat, rows=1024):
    """The probability-flow velocity at x_t of the batch's own data x_0: the stable target
    field of Xu et al. 2023 (arXiv 2302.00670), here for the velocity instead of the score.

    Given x_t, the conditional velocity is v_hat = alpha' x_0 + sigma' (x_t - alpha x_0) / sigma,
    so the exact velocity is v = alpha' D + sigma' (x_t - alpha D) / sigma with the denoiser
    D = E[x_0 | x_t]. Here D_i is the posterior mean of x_0 over the batch's data,
    sum_j w_ij x_0^j with w_ij proportional to exp(-(x_t^i - alpha_i x_0^j)^2 / (2 sigma_i^2)),
    so v_i is the weighted mean of the conditional velocities of the lines from every x_0^j
    of the batch through x_t^i, its own pair's among them. Where t is large, every x_0^j
    explains x_t^i and the noise of x_0 given x_t averages out; as t -> 0 its own pair's
    weight tends to 1 and v_i -> v_hat_i (where sigma_t = 0 it is v_hat). It trains from
    data alone, as v_hat does, and it is unbiased, as v_hat is: given x_t^i and the batch's
    data as a set, w_ij / sum_j w_ij is the posterior probability that x_0^j is the one x_t^i
    was drawn from (the others are independent draws of p_0), so D_i = E[x_0^i | x_t^i, the
    set] and E[D_i | x_t^i] = E[x_0 | x_t^i]. Leaving the pair's own x_0 out would bias it.
    (With sct's QMC batches the draws are not independent, so this holds only nearly.)
    :func:`cmtoy.gradient_bias.gradient_bias` measures what it does to sct's gradient.

    The weights are computed in float32, which is plenty for a weighted mean and several
    times faster than float64 on a training step's [B, B] matrix.

    t, x_t, v_hat: [M]; x_0: [B], the batch's data; rows: points per block of the [rows, B]
    weight matrix -> [M]
    """
    alpha, sigma = schedule.alpha(t), schedule.sigma(t)
    noisy = sigma > 0
    scale = np.where(noisy, sigma, 1.0)
    slope, y = (alpha / scale).astype(np.float32), (x_t / scale).astype(np.float32)  # z_ij = y_i - slope_i x_0^j
    data = np.asarray(x_0, dtype=np.float32)
    denoised = np.empty(x_t.shape)
    for start in range(0, x_t.size, rows):
        block = slice(start, start + rows)
        z = np.multiply.outer(slope[block], data)
        np.subtract(y[block, None], z, out=z)
        np.square(z, out=z)
        z -= z.min(axis=1, keepdims=True)  # the largest weight is e^0 = 1
        z *= -0.5
        np.exp(z, out=z)
        denoised[block] = (z @ data) / z.sum(axis=1)
    v = schedule.d_alpha(t) * denoised + schedule.d_sigma(t) * (x_t - alpha * denoised) / scale
    return np.where(noisy, v, v_hat)


def trig_coordinates(schedule, sigma_d, t):
    """tau_t, r_t and their time derivatives (module doc). t: [B] -> four arrays [B]

    tau' = sigma_d (sigma' alpha - sigma alpha') / (sigma_d^2 alpha^2 + sigma^2), from
    d atan2(s, a) = (a ds - s da) / (a^2 + s^2); r' = (alpha alpha' + sigma sigma' / sigma_d^2) / r.
    """
    alpha, sigma = schedule.alpha(t), schedule.sigma(t)
    d_alpha, d_sigma = schedule.d_alpha(t), schedule.d_sigma(t)
    tau = np.arctan2(sigma, sigma_d * alpha)
    r = np.sqrt(alpha * alpha + (sigma / sigma_d) ** 2)
    d_tau = sigma_d * (d_sigma * alpha - sigma * d_alpha) / ((sigma_d * alpha) ** 2 + sigma * sigma)
    d_r = (alpha * d_alpha + sigma * d_sigma / sigma_d**2) / r
    return tau, r, d_tau, d_r


class Tangent:
    """f_theta and its derivative along a path at (t, x) with velocity v = dx/dt, in parts.

    The fields, all [B]: ``tau``, ``d_tau`` (dtau/dt), ``r`` (module doc), ``F`` (the network's output),
    ``velocity_part`` = cos tau (dy/dtau + sigma_d F) and ``network_part`` =
    -sin tau (y - sigma_d dF/dtau), so that df/dtau = velocity_part + network_part and
    df/dt = d_tau df/dtau. (The warm-up scales network_part.)
    """

    __slots__ = ("tau", "d_tau", "r", "F", "velocity_part", "network_part")

    def __init__(self, **parts):
        for name, value in parts.items():
            setattr(self, name, value)

    def df_dt(self):
        """d/dt f_theta(t, x_t) along the path. -> [B]"""
        return self.d_tau * (self.velocity_part + self.network_part)


def tangent(model, params, t, x, v, return_cache=False):
    """d/dt f_theta(t, x_t) along a path through x at time t with dx/dt = v. -> :class:`Tangent`

    One JVP of the network: with y = x / r and the input y / sigma_d of F_theta(t, .), the
    path moves the network's inputs by dt/dtau = 1 / tau' and d(y / sigma_d)/dtau, where
    dy/dtau = (v / r - x r' / r^2) / tau'. Valid for 0 < t <= 1 (tau' > 0 there for the
    schedules cmtoy validates). model: ConsistencyModel; params: its weights or a target's.
    return_cache: also return the cache of :func:`cmtoy.mlp.forward` at these inputs, for
    :func:`cmtoy.mlp.backward` when params are the weights being trained.
    """
    sigma_d = model.sigma_d
    tau, r, d_tau, d_r = trig_coordinates(model.schedule, sigma_d, t)
    y = x / r
    dy_dtau = (v / r - x * d_r / (r * r)) / d_tau
    F, dF_dtau, *cache = mlp.jvp(params, t, y / sigma_d, 1.0 / d_tau, dy_dtau / sigma_d, return_cache=return_cache)
    cos, sin = np.cos(tau), np.sin(tau)
    parts = Tangent(tau=tau, d_tau=d_tau, r=r, F=F, velocity_part=cos * (dy_dtau + sigma_d * F),
                    network_part=-sin * (y - sigma_d * dF_dtau))
    return (parts, cache[0]) if return_cache else parts


class AdaptiveWeight:
    """w_phi(t) = phi . [1, sin(k pi t), cos(k pi t)]_{k=1..K}: the learned log-weight of
    Lu & Song 2024, eq. 9, here one linear layer on a low-frequency embedding of t.

    The loss e^{w} D - w of a sample with squared distance D is smallest at w = -log D, so
    w_phi(t) learns -log E[D | t] and the weighted loss e^{w} D has about unit size at
    every t; the -w term keeps w from running to -infinity. phi: [2K + 1].
    """

    K = 4

    def __init__(self):
        self.phi = np.zeros(2 * self.K + 1)

    def features(self, t):
        """[1, sin(k pi t), cos(k pi t)]. t: [B] -> [B, 2K + 1]"""
        k_pi_t = np.multiply.outer(t, np.pi * np.arange(1, self.K + 1))
        return np.hstack([np.ones((t.size, 1)), np.sin(k_pi_t), np.cos(k_pi_t)])

    def loss(self, phi, features, D):
        """mean(e^w D - w) and its gradients in D and phi. features: [B, 2K + 1]; D: [B]

        returns (loss float, dL/dD [B], dL/dphi [2K + 1])
        """
        w = features @ phi  # (B,)
        e_w = np.exp(w)
        d_w = (e_w * D - 1.0) / D.size  # d/dw (e^w D - w) / B
        return float(np.mean(e_w * D - w)), e_w / D.size, features.T @ d_w


class TimeSampler:
    """Training times t in (0, 1]: "uniform", or "lognormal" in log(sigma_t / alpha_t).

    The log-normal law is drawn by inverting its CDF Phi((log(sigma_t / alpha_t) - p_mean) / p_std)
    in t, tabulated once on a fine grid of t (piecewise linear in between), which works for
    any schedule whose sigma_t / alpha_t grows with t.
    """

    GRID = 1 << 14

    def __init__(self, config, schedule):
        self.kind = config.time_distribution
        if self.kind == "lognormal":
            t = np.linspace(0.0, 1.0, self.GRID + 1)
            with np.errstate(divide="ignore"):
                log_ratio = np.log(schedule.sigma(t)) - np.log(schedule.alpha(t))
            self.t, self.cdf = t, special.ndtr((log_ratio - config.p_mean) / config.p_std)

    def __call__(self, u):
        """Times for uniforms u in (0, 1). u: [B] -> t [B]"""
        if self.kind == "uniform":
            return 1.0 - u  # in (0, 1] for u in [0, 1), never 0 where the tangent is not defined
        return np.interp(u, self.cdf, self.t)


def continuous_gradient(model, params, target, interp, t, x_0, x_1, *, velocity, parametrisation="trigflow",
                        tangent_norm=0.0, warmup_ratio=1.0, out=None):
    """The continuous-time consistency loss terms of one batch, before any adaptive weight.

    velocity: "conditional" (v_hat = alpha' x_0 + sigma' x_1) or "batch" (:func:`batch_velocity`),
    sct's estimates from data alone; or "exact" (scd).
    returns (D [B], backward): D the squared distance (F_theta - F- + g)^2 per sample (in
    the units of f for "time"), and ``backward(d_D)`` the gradient in params of sum(d_D D).
    """
    choice("velocity", velocity, VELOCITIES)
    choice("parametrisation", parametrisation, PARAMETRISATIONS)
    tangent_norm = real("tangent_norm", tangent_norm, 0.0)
    warmup_ratio = real("warmup_ratio", warmup_ratio, 0.0, 1.0)
    x_t, v = line_point(model.schedule, t, x_0, x_1, "conditional" if velocity == "exact" else velocity)
    if velocity == "exact":
        v = interp.velocity(t, x_t)
    if target is params:  # theta- = theta: the JVP's primal pass is the forward pass of the loss
        parts, cache = tangent(model, params, t, x_t, v, return_cache=True)
        F = parts.F
    else:
        parts = tangent(model, target, t, x_t, v)
        F, cache = mlp.forward(params, t, x_t / (parts.r * model.sigma_d))
    df_dtau = parts.velocity_part + warmup_ratio * parts.network_part
    if parametrisation == "trigflow":
        g, scale = np.cos(parts.tau) * df_dtau, 1.0  # Lu & Song, eq. 8
    elif parametrisation == "angle":
        g, scale = df_dtau, 1.0  # the same without cos(tau), which vanishes at t = 1
    else:
        g, scale = parts.d_tau * df_dtau, model.sigma_d * np.sin(parts.tau)  # df/dt; df/dF = c_out
    if tangent_norm > 0:
        g = g / (np.abs(g) + tangent_norm)
    diff = scale * (F - parts.F) + g  # the target F- - g / scale is held fixed
    D = diff * diff

    def backward(d_D):
        return mlp.backward(params, cache, 2.0 * d_D * diff * scale, out=out)

    return D, backward


class ContinuousMethod:
    """A continuous-time method for :func:`cmtoy.train`: "sct" or "scd" (module doc).

    The interface of :class:`cmtoy.pairs.GridMethod`: ``defaults``, ``initialise`` and
    ``start``, whose ``loss(k, params, target, out)`` draws step k's batch.
    """

    def __init__(self, velocity, defaults):
        # velocity: "exact" (scd), or "data" (sct): the estimate that config.velocity_estimate names
        self.velocity, self.defaults = velocity, defaults

    def initialise(self, interp, config, rng):
        return ConsistencyModel.initialise(interp, config.mlp, rng)

    def start(self, interp, config, model, rng):
        velocity = "exact" if self.velocity == "exact" else config.velocity_estimate
        return ContinuousBatches(velocity, interp, config, model, rng)


class ContinuousBatches:
    """The batches of one sct or scd run. The adaptive weight's phi is this run's own,
    stepped by an Adam of its own at the run's learning rate."""

    def __init__(self, velocity, interp, config, model, rng):
        self.velocity, self.interp, self.config, self.model, self.rng = velocity, interp, config, model, rng
        self.times = TimeSampler(config, interp.schedule)
        self.qmc = BatchSampler(config, interp.target, rng) if config.sampling == "qmc" else None
        self.weight = AdaptiveWeight() if config.adaptive_weight else None
        if self.weight is not None:
            self.adam = optim.AdamState.zeros(self.weight.phi.size)
            self.rates = optim.BlockedRates(config)
        self.status = {}

    def loss(self, k, params, target, out):
        """Loss of training step k's batch; its gradient is written into ``out``. -> (loss, grads)

        A run that blows up overflows here first (e^w): the loss comes out inf or NaN, and
        :class:`cmtoy.divergence.DivergenceCheck` stops the run with its message instead of
        NumPy's warnings.
        """
        with np.errstate(over="ignore", invalid="ignore"):
            return self._loss(k, params, target, out)

    def _loss(self, k, params, target, out):
        config, rng = self.config, self.rng
        if self.qmc is not None:  # quasi-Monte Carlo (t, x_0, x_1): less gradient variance per step
            u, x_0, x_1 = self.qmc.points()
        else:
            u, x_0, x_1 = rng.random(config.batch), self.interp.target.sample(rng, config.batch), \
                rng.standard_normal(config.batch)
        t = self.times(u)
        ratio = min(1.0, (k + 1) / config.tangent_warmup) if config.tangent_warmup else 1.0
        D, backward = continuous_gradient(self.model, params, target, self.interp, t, x_0, x_1,
                                          velocity=self.velocity, parametrisation=config.parametrisation,
                                          tangent_norm=config.tangent_norm, warmup_ratio=ratio, out=out)
        if self.weight is None:
            return float(np.mean(D)), backward(np.full(D.size, 1.0 / D.size))
        loss, d_D, d_phi = self.weight.loss(self.weight.phi, self.weight.features(t), D)
        optim.adam_step(self.weight.phi, d_phi, self.adam, self.rates[k])
        return loss, backward(d_D)
