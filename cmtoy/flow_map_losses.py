"""How a flow map X_theta(t, s, x) learns: MeanFlow, progressive self-distillation, distillation.

Each method regresses the average velocity u_theta(t, s, x_t) of
:class:`cmtoy.flow_maps.FlowMapModel` onto a target held fixed (stop-gradient), on pairs of
times 0 <= s <= t <= 1 and points x_t = alpha_t x_0 + sigma_t x_1 of the interpolant. They
differ in the target, i.e. in which property of the exact map h_{t->s} they impose:

- "meanflow" (Geng et al. 2025, arXiv 2505.13447, eq. 10): the map is constant along the
  flow, d/dt h_{t->s}(x_t) = 0 for dx_t/dt = v_t(x_t) (the *Eulerian* condition). With
  X = x - (t - s) u this is u = v - (t - s) du/dt, the total derivative taken along the
  tangent (d_t, d_s, d_x) = (1, 0, v), in cmtoy's direction of time the paper's (v, 0, 1)
  for (z, r, t). The paper's v is the conditional velocity v_hat = alpha'_t x_0 + sigma'_t x_1
  of the pair (training from data alone), so the target is u_tgt = v_hat - (t - s) (d_t u +
  v_hat d_x u), one JVP of the network, linear in v_hat; at s = t it is flow matching.
  ``velocity_estimate = "batch"`` puts the velocity of the batch's data in place of v_hat
  (:func:`cmtoy.continuous.batch_velocity`), still from data alone. The paper's adaptive
  weight 1 / (|u - u_tgt|^2 + c)^p (its Sec. 4.3, c = 1e-3) is ``adaptive_p`` (0: off).
- "psd" (Boffi, Albergo & Vanden-Eijnden 2025, arXiv 2505.18825, progressive
  self-distillation; shortcut models, Frans et al. 2024, arXiv 2410.12557, are its
  discrete form): the semigroup property h_{t->s} = h_{u->s} o h_{t->u} for s < u < t,
  with the model's own two shorter jumps as the target, and the diagonal u(t, t, x) =
  v_t(x) by flow matching (on v_hat, or with ``velocity_estimate = "batch"`` on the
  velocity of the batch's data, as for meanflow). In average velocities the
  composition's target is u_tgt = ((t - u) u(t, u, x) + (u - s) u(u, s, X(t, u, x))) / (t - s).
  No JVP.
- "fmd" (flow map distillation, Boffi et al. 2024, arXiv 2406.07507, the Lagrangian map
  distillation): the map moves with the flow in its second time, d/ds h_{t->s}(x) =
  v_s(h_{t->s}(x)) (the *Lagrangian* condition), with the exact velocity
  ``Interpolant.velocity`` as the teacher. With ``teacher_hop = 0`` in its continuous form,
  u = v_s(X) + (t - s) d_s u, one JVP along (0, 1, 0), regressed on with that right-hand
  side held fixed (``stop_gradient = True``) or, as the paper does, its residual R = d_s X -
  v_s(X) = u - (t - s) d_s u - v_s(X) minimised through both of the network's outputs and
  the teacher's point X (``stop_gradient = False``: the gradient takes d_x v_s(X),
  ``Interpolant.velocity_dx``, and the weights' effect on d_s u, ``mlp.jvp_backward``);
  with ``teacher_hop = h > 0``
  integrated over one hop: X(t, s, x) = Phi_{r->s}(X(t, r, x)) with r = min(t, s + h) and
  Phi ``teacher_substeps`` equal steps of the exact velocity's solver ``teacher_solver``
  over the hop (``pairs.teacher_step``: "heun", or "rk4", the classical Runge-Kutta
  step), so the target is the model's own jump to a time nearer the
  diagonal, where X(t, t, x) = x is exact, and a stretch of the teacher, as in
  consistency distillation. A longer hop puts fewer of the model's own jumps in the chain
  of targets from the diagonal out to (t, s), so fewer of its errors are passed on; the
  substeps keep the teacher accurate over it. At s = t either target is the
  exact velocity. It is the teacher-based reference point for the two above.
  ``teacher_form = "eulerian"`` distils the other condition of the same paper (its Eulerian
  map distillation), d/dt h_{t->s}(x_t) = 0 along the exact flow: continuous, MeanFlow's
  identity with the exact velocity v_t(x) in place of v_hat (``stop_gradient = False``:
  the residual d_t X + v_t(x) d_x X = v_t(x) - u - (t - s) du, du along (1, 0, v_t(x)),
  minimised through u and du, the paper's Eulerian loss); over one hop, X(t, s, x) =
  X(r, s, Phi_{t->r}(x)) with r = max(s, t - h): the teacher steps first, from t back to
  r, and the model's own jump from r to s follows, as in consistency distillation (its
  s = 0 slice *is* cd's target). The Lagrangian target passes the model's error at (t, r)
  through the teacher's Jacobian of x, which is large where the flow separates the modes;
  the Eulerian one takes the model's error at (r, s) as it is. Any of the held targets
  may take MeanFlow's adaptive weight (``adaptive_p``; fmd's default uses p = 1/2, which
  Geng et al. liken to iCT's pseudo-Huber loss: the one-step W1 is an L1 error of the map);
  the residual losses are the paper's plain squared ones, so they need ``adaptive_p = 0``.

The pairs (t, s): two draws of ``time_distribution`` ("uniform" on [0, 1], or "lognormal":
log(sigma_t / alpha_t) ~ N(p_mean, p_std^2), the logit-normal of the MeanFlow paper for the
linear schedule), t the later; then the first ``diagonal_share`` of each batch gets s = t,
and the first ``slice_share`` of the rest s = 0, the slice that one-step sampling uses,
and the next ``noise_share`` of the rest t = 1, the slice that sampling starts from
(the Lagrangian chain of fmd's targets runs along s at fixed t, so that the one-step map's
chain is on this slice, as the Eulerian chain of the one-step map is on s = 0).
Uniform draws reach t = 1, where the one-step map X(1, 0, .) lives, often (t has density
2t); the logit-normal rarely does. ``pair_draw = "nested"`` draws the off-diagonal pairs
otherwise: t from one draw, s uniform on [0, t]. Their density in (t, s) is 1 / t, so the
short jumps near the data, where the velocity changes fastest in t, are drawn as often as
the long ones from t = 1 (under "sorted" a pair has t < 1/4 once in sixteen). MeanFlow's
and Eulerian fmd's targets carry the map up from the diagonal along t at each s: the
s = 0 slice near t = 0 is where their chain of targets starts.

``config`` is always a resolved :class:`cmtoy.TrainConfig`. Shapes: ``t, s, x: [B]``.
"""

from __future__ import annotations

import numpy as np

from .continuous import batch_velocity, line_point
from .flow_maps import FlowMapModel
from .pairs import teacher_step

__all__ = ["ADAPTIVE_C", "INTERMEDIATES", "PAIR_DRAWS", "TEACHER_FORMS", "FlowMapMethod", "log_ratio_table", "sample_times", "time_pairs",
           "average_velocity", "regression_loss",
           "MeanFlowBatches", "SelfDistillationBatches", "DistillationBatches"]

ADAPTIVE_C = 1e-3  # the c of MeanFlow's adaptive weight (Geng et al. 2025, Sec. 4.3)
INTERMEDIATES = ("uniform", "midpoint")  # psd: where u lies between s and t
PAIR_DRAWS = ("sorted", "nested")  # how the off-diagonal (t, s) are drawn: see time_pairs
TEACHER_FORMS = ("lagrangian", "eulerian")  # fmd: which condition of the exact map the teacher imposes


def log_ratio_table(schedule, n=4097):
    """(t [n], log(sigma_t / alpha_t) [n]) on a grid of (0, 1): what :func:`sample_times` inverts."""
    t = np.linspace(0.0, 1.0, n + 2)[1:-1]
    return t, np.log(schedule.sigma(t)) - np.log(schedule.alpha(t))


def sample_times(config, schedule, rng, n, table=None):
    """n times of ``config.time_distribution``: "uniform" on [0, 1] or "lognormal", where
    log(sigma_t / alpha_t) ~ N(p_mean, p_std^2) (the log-ratio rises from -inf at t = 0 to
    +inf at t = 1 for every valid schedule: solved for t by interpolation in ``table``,
    :func:`log_ratio_table`, then two Newton steps, d/dt log(sigma / alpha) = sigma'/sigma
    - alpha'/alpha). -> [n]"""
    if config.time_distribution == "uniform":
        return rng.uniform(0.0, 1.0, n)
    target = config.p_mean + config.p_std * rng.standard_normal(n)
    grid, log_ratio = log_ratio_table(schedule) if table is None else table
    t = np.interp(target, log_ratio, grid)
    for _ in range(2):
        g = np.log(schedule.sigma(t)) - np.log(schedule.alpha(t)) - target
        slope = schedule.d_sigma(t) / schedule.sigma(t) - schedule.d_alpha(t) / schedule.alpha(t)
        t = np.clip(t - g / slope, grid[0] * 1e-3, 1.0 - (1.0 - grid[-1]) * 1e-3)  # stay inside (0, 1)
    return t


def time_pairs(config, schedule, rng, table=None):
    """(t, s, n_diagonal): config.batch pairs with s <= t, the first n_diagonal of them s = t,
    then round(slice_share (B - n_diagonal)) of them s = 0, then round(noise_share (B -
    n_diagonal)) of them t = 1 (s kept).

    ``pair_draw``: "sorted", t and s the later and the earlier of two draws; "nested", t one
    draw and s = t w with w uniform on [0, 1] (the diagonal's t the later of two draws, as
    under "sorted", so that the diagonal is the same whichever draw).
    table: :func:`log_ratio_table` of the schedule, for "lognormal" times. returns t [B], s [B], int
    """
    a, b = sample_times(config, schedule, rng, 2 * config.batch, table).reshape(2, config.batch)
    t, s = np.maximum(a, b), np.minimum(a, b)
    n_diagonal = int(round(config.diagonal_share * config.batch))
    n_other = config.batch - n_diagonal
    if config.pair_draw == "nested":  # a's draw is t, b's is spent on the diagonal only
        t[n_diagonal:] = a[n_diagonal:]
        s[n_diagonal:] = a[n_diagonal:] * rng.uniform(0.0, 1.0, n_other)
    s[:n_diagonal] = t[:n_diagonal]
    n_slice = int(round(config.slice_share * n_other))
    s[n_diagonal:n_diagonal + n_slice] = 0.0
    start = n_diagonal + n_slice
    t[start:start + int(round(config.noise_share * n_other))] = 1.0
    return t, s, n_diagonal


def average_velocity(t, s, displacement, diagonal):
    """displacement / (t - s), the average velocity of a jump from time t back to s that
    moves a point by ``displacement`` = x_t - x_s, and ``diagonal`` (the velocity itself)
    where s = t. t, s, displacement, diagonal: [B] -> [B]"""
    gap = t - s
    return np.where(gap > 0, displacement / np.where(gap > 0, gap, 1.0), diagonal)


def regression_loss(model, params, cache, error, adaptive_p, out):
    """mean w error^2 with error = u_theta - sg(u_tgt) and the stop-gradient weight
    w = 1 / (error^2 + c)^p (p = 0: w = 1), and its gradient. error: [B] -> (loss, grads)"""
    squared = error * error
    weight = 1.0 if adaptive_p == 0 else (squared + ADAPTIVE_C) ** -adaptive_p
    loss = float(np.mean(weight * squared))
    return loss, model.backward(params, cache, 2.0 * weight * error / error.size, out=out)


class FlowMapMethod:
    """A flow-map training method for :func:`cmtoy.train` (the interface of ``pairs.GridMethod``).

    batches: the class whose instance draws each step's batch and returns (loss, grads).
    """

    def __init__(self, batches, defaults):
        self.batches, self.defaults = batches, defaults

    def initialise(self, interp, config, rng):
        return FlowMapModel.initialise(interp, config.mlp, rng)

    def start(self, interp, config, model, rng):
        return self.batches(interp, config, model, rng)


class _Batches:
    """What every flow-map method draws: time pairs, endpoints, x_t and the conditional velocity."""

    def __init__(self, interp, config, model, rng):
        self.interp, self.config, self.model, self.rng = interp, config, model, rng
        self.table = log_ratio_table(interp.schedule) if config.time_distribution == "lognormal" else None

    def times(self):
        """This step's time pairs (:func:`time_pairs`). -> t [B], s [B], n_diagonal"""
        return time_pairs(self.config, self.interp.schedule, self.rng, self.table)

    def draw(self, diagonal_only=False):
        """-> t, s [B], n_diagonal, x_t [B], v [B]: v the velocity of ``velocity_estimate``
        (:func:`cmtoy.continuous.line_point`; v_hat = alpha'_t x_0 + sigma'_t x_1 without
        one), at the first n_diagonal pairs only if diagonal_only (v_hat at the others)"""
        rng, schedule = self.rng, self.interp.schedule
        t, s, n_diagonal = self.times()
        x_0, x_1 = self.interp.target.sample(rng, t.size), rng.standard_normal(t.size)
        x_t, v = line_point(schedule, t, x_0, x_1)
        if self.config.velocity_estimate == "batch":  # every pair's x_0 is data for the estimate
            rows = slice(0, n_diagonal) if diagonal_only else slice(None)
            v[rows] = batch_velocity(schedule, t[rows], x_t[rows], x_0, v[rows])
        return t, s, n_diagonal, x_t, v

    def online(self, params, target, t, s, x, tangent):
        """u_theta with the online weights (and the cache for its gradient), and u and its
        derivative along tangent = (d_t, d_s, d_x) with the *target* weights, the stop-gradient
        side (the same weights when there is no EMA target: one pass gives all).
        -> (u [B], u_target_weights [B], du [B], cache)"""
        model = self.model
        u_sg, du, cache = model.velocity_jvp(target, t, s, x, *tangent)
        if target is params:
            return u_sg, u_sg, du, cache
        u, cache = model.velocity(params, t, s, x)
        return u, u_sg, du, cache


class MeanFlowBatches(_Batches):
    """The batches of one "meanflow" run and their loss (module docstring)."""

    def loss(self, k, params, target, out):
        t, s, _, x_t, v = self.draw()
        u, _, du_dt, cache = self.online(params, target, t, s, x_t, (1.0, 0.0, v))
        u_target = v - (t - s) * du_dt  # MeanFlow identity, cmtoy's time direction
        return regression_loss(self.model, params, cache, u - u_target, self.config.adaptive_p, out)


class SelfDistillationBatches(_Batches):
    """The batches of one "psd" run and their loss (module docstring)."""

    def loss(self, k, params, target, out):
        model, config = self.model, self.config
        t, s, n, x_t, v = self.draw(diagonal_only=True)  # only the diagonal's target is a velocity
        u, cache = model.velocity(params, t, s, x_t)
        u_target = v.copy()  # the diagonal: flow matching
        t_off, s_off, x_off = t[n:], s[n:], x_t[n:]
        if config.intermediate == "midpoint":
            r = 0.5 * (t_off + s_off)
        else:
            r = s_off + (t_off - s_off) * self.rng.uniform(0.0, 1.0, t_off.size)
        u_first = model.velocity(target, t_off, r, x_off)[0]  # t -> r
        x_r = x_off - (t_off - r) * u_first
        u_second = model.velocity(target, r, s_off, x_r)[0]  # r -> s
        composed = (t_off - r) * u_first + (r - s_off) * u_second  # x_t - X(r, s, X(t, r, x_t))
        # where the two draws were equal (s = t), the flow-matching target stays
        u_target[n:] = average_velocity(t_off, s_off, composed, u_target[n:])
        return regression_loss(model, params, cache, u - u_target, config.adaptive_p, out)


class DistillationBatches(_Batches):
    """The batches of one "fmd" run and their loss (module docstring)."""

    def loss(self, k, params, target, out):
        eulerian = self.config.teacher_form == "eulerian"
        if self.config.teacher_hop > 0:
            return self.hop_loss(params, target, out, eulerian)
        t, s, _, x_t, _ = self.draw()
        if not self.config.stop_gradient:
            return self.residual_loss(params, t, s, x_t, eulerian, out)
        if eulerian:  # MeanFlow's identity with the exact velocity
            v_t = self.interp.velocity(t, x_t)
            u, _, du_dt, cache = self.online(params, target, t, s, x_t, (1.0, 0.0, v_t))
            u_target = v_t - (t - s) * du_dt
        else:
            u, u_sg, du_ds, cache = self.online(params, target, t, s, x_t, (0.0, 1.0, 0.0))
            x_s = x_t - (t - s) * u_sg  # X(t, s, x_t), the point the teacher's velocity is taken at
            u_target = self.interp.velocity(s, x_s) + (t - s) * du_ds  # Lagrangian condition
        return regression_loss(self.model, params, cache, u - u_target, self.config.adaptive_p, out)

    def residual_loss(self, params, t, s, x_t, eulerian, out):
        """mean R^2 of the continuous condition's residual R, differentiated through all of it
        (Boffi et al. 2024's losses; no target network: a stop-gradient is what it does without).
        Lagrangian R = u - (t - s) d_s u - v_s(X), X = x - (t - s) u; Eulerian R = v_t(x) - u -
        (t - s) du, du along (1, 0, v_t(x)). On the diagonal s = t both are flow matching."""
        model, gap = self.model, t - s
        if eulerian:
            v_t = self.interp.velocity(t, x_t)
            u, du, cache = model.velocity_jvp(params, t, s, x_t, 1.0, 0.0, v_t)
            residual = v_t - u - gap * du
            d_u, d_du = -1.0, -gap  # dR/du, dR/d(du)
        else:
            u, du, cache = model.velocity_jvp(params, t, s, x_t, 0.0, 1.0, 0.0)
            x_s = x_t - gap * u
            residual = u - gap * du - self.interp.velocity(s, x_s)
            d_u, d_du = 1.0 + gap * self.interp.velocity_dx(s, x_s), -gap  # X moves with u
        d_residual = 2.0 * residual / residual.size
        loss = float(np.mean(residual * residual))
        return loss, model.jvp_backward(params, cache, d_residual * d_u, d_residual * d_du, out=out)

    def hop_loss(self, params, target, out, eulerian):
        """The condition over one teacher hop of length h, the model's jump on the rest of (s, t):
        Lagrangian X(t, s, x) = Phi_{r->s}(X(t, r, x)), r = min(t, s + h); Eulerian
        X(t, s, x) = X(r, s, Phi_{t->r}(x)), r = max(s, t - h)."""
        model, hop, substeps = self.model, self.config.teacher_hop, self.config.teacher_substeps
        solver = self.config.teacher_solver
        t, s, _, x_t, _ = self.draw()
        u, cache = model.velocity(params, t, s, x_t)
        if eulerian:
            r = np.maximum(s, t - hop)  # the teacher's hop ends here, the model's jump starts
            x_r = teacher_step(self.interp, solver, t, r, x_t, substeps)  # exact-velocity steps t -> r
            x_s = x_r - (r - s) * model.velocity(target, r, s, x_r)[0]  # X(r, s, x_r); x_r itself when r = s
        else:
            r = np.minimum(t, s + hop)  # the model's jump ends here, nearer the diagonal
            x_r = x_t - (t - r) * model.velocity(target, t, r, x_t)[0]  # X(t, r, x_t); x_t itself when r = t
            x_s = teacher_step(self.interp, solver, r, s, x_r, substeps)  # exact-velocity steps r -> s
        u_target = average_velocity(t, s, x_t - x_s, self.interp.velocity(t, x_t))  # the exact velocity at s = t
        return regression_loss(model, params, cache, u - u_target, self.config.adaptive_p, out)
