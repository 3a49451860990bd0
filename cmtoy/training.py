"""Training a consistency model or a flow map: one loop for every method.

A *method* draws each step's batch and returns its loss and gradient; :func:`train` only
steps Adam, the EMAs, the progress bar, the history and the divergence checks. The three
discrete-time methods minimise lambda_n d(f_theta(t_{n+1}, x_{t_{n+1}}), f_target(t_n,
x_{t_n})) on neighbouring times of a grid (:mod:`cmtoy.pairs`):

- "ct": Song et al. 2023 (arXiv 2303.01469), Alg. 3, consistency training in isolation:
  x_{t_n} and x_{t_{n+1}} lie on one line x_0 -> x_1, the target is an EMA of the online
  network, and the grid size N(k) grows during training.
- "cd": ibid., Alg. 2, consistency distillation: x_{t_n} is one Heun (or Euler) step of
  the probability-flow ODE from x_{t_{n+1}} with the *exact* velocity
  ``Interpolant.velocity`` as the teacher (:func:`cmtoy.pairs.teacher_step`).
- "ict": Song & Dhariwal 2023 (arXiv 2310.14189): as "ct" but with no EMA target
  (Sec. 3.2), the pseudo-Huber distance (Sec. 3.3), weighting lambda_n = 1 / (t_{n+1} - t_n)
  (Sec. 3.5), the doubling curriculum N(k) = min(s_0 2^floor(k / K'), s_1) (Sec. 3.4) and a
  discretised log-normal distribution of the noise level log(sigma_t / alpha_t) (Sec. 3.5).

The continuous-time methods "sct" and "scd" (:mod:`cmtoy.continuous`) train on the limit
dt -> 0 of ct's and cd's losses, with the tangent d/dt f_theta along the pair's own
velocity or the exact one. The flow-map methods "meanflow", "psd" and "fmd" train a two-time
:class:`cmtoy.flow_maps.FlowMapModel` in the same loop (:mod:`cmtoy.flow_map_losses`).

A :class:`TrainConfig` keeps what the user set; None means "the method's default", filled
in by :meth:`TrainConfig.resolved` from the method's ``defaults`` in :data:`METHODS`, so
each of iCT's changes can be switched on or off separately (benchmarks/bench_training.py)
and ``dataclasses.replace(config, method="cd")`` means what it says.

Why the defaults are what they are (the measurements: README and benchmarks/results/):
ct is limited by the optimisation, not by the grid. With an exact minimiser CT on a grid
of N intervals converges to a fixed point whose W1 falls like 1 / sqrt(N)
(``cmtoy.metrics.ct_fixed_point``), far below what a run of ct reaches; so ct and ict train
a float32 network (more steps in the same time) on quasi-Monte Carlo batches (less
gradient variance per step, ``pairs.BatchSampler``). More steps of the same ct do not
help: its EMA target follows the online network so closely that, at large N, gradient
noise moves f_theta along what the loss hardly constrains, the more the longer the run;
ict and cd keep improving. ict without an EMA target ends worse, or diverges, when its
curriculum goes beyond N = 256 here, and its pseudo-Huber c is 1
(:data:`cmtoy.consistency.HUBER_C`): a smaller c makes the fixed point more like a
conditional median, which here moves it away from f*.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from . import optim
from .divergence import DivergenceCheck
from .optim import BlockedRates
from .consistency import DISTANCES, HUBER_C, WEIGHTINGS
from .continuous import ESTIMATES, PARAMETRISATIONS, ContinuousMethod
from .flow_map_losses import INTERMEDIATES, PAIR_DRAWS, TEACHER_FORMS, DistillationBatches, FlowMapMethod, MeanFlowBatches, SelfDistillationBatches
from .interpolant import Interpolant
from .metrics import flow_map_error, wasserstein1
from .mlp import MLPConfig
from .pairs import SOLVERS, GridMethod, distillation_pairs, isolation_pairs
from .sampling import sample
from .validation import choice, flag, integer, real

__all__ = ["TrainConfig", "train", "METHODS"]

_FLOAT32 = MLPConfig(dtype="float32")
_FLOW_MAP_NET = MLPConfig(dtype="float32", n_times=2, n_fourier=4)  # a network of (t, s, x)
# method name -> the method: its defaults and what draws its batches (see pairs.GridMethod).
# A new method is one more entry; the loop in train() stays as it is. A float warmup in
# the defaults (and a float tangent_warmup) is a fraction of the steps, resolved to a number of steps.
METHODS = {
    # float32 and QMC batches: more, and less noisy, steps in the same time (module doc)
    "ct": GridMethod(isolation_pairs, dict(
        steps=40_000, lr=5e-3, warmup=500, ema=0.9, distance="squared", weighting="uniform",
        time_distribution="uniform", p_mean=-1.1, p_std=2.0, n_min=10, n_max=5120, sampling="qmc", mlp=_FLOAT32)),
    # float64 and iid batches, as cd was tuned: it meets its target without them. Its one
    # Heun step of a teacher is close to the exact flow map on a much coarser grid than an
    # Euler step (benchmarks/bench_cd_teacher.py), so the curriculum stops at a small N
    # whose pairs each span a long time: fewer hops carry f(0, x) = x up to t = 1.
    "cd": GridMethod(distillation_pairs, dict(
        steps=16_000, lr=5e-3, warmup=500, ema=0.9, distance="squared", weighting="uniform",
        time_distribution="uniform", p_mean=-1.1, p_std=2.0, n_min=10, n_max=80, sampling="iid", mlp=MLPConfig())),
    # without an EMA target large steps drift: a smaller lr with a warm-up of 5% of the run;
    # and grids of 2..8 intervals teach little, so the curriculum starts at N = 16
    "ict": GridMethod(isolation_pairs, dict(
        steps=40_000, lr=1e-3, warmup=0.05, ema=0.0, distance="pseudo_huber", weighting="inverse_dt",
        time_distribution="lognormal", p_mean=-1.1, p_std=2.0, n_min=16, n_max=256, sampling="qmc", mlp=_FLOAT32)),
    # continuous time (cmtoy.continuous): a velocity from data alone (sct) or the exact one (scd).
    # Where the toy departs from Lu & Song 2024 (the module doc says why): the tangent in
    # the angle without their cos(tau) factor, no adaptive weight, and the velocity of the
    # batch's data in place of the pair's v_hat: as unbiased, and far less noisy at large
    # t, where the one-step map is learnt. With that velocity sct trains better with their
    # tangent normalisation than without (with v_hat it stalled), and so does scd.
    # Their time distribution, a warm-up of the tangent and theta- = theta.
    # float32 and QMC batches as for ct: more, and less noisy, steps in the same time.
    # scd, whose exact velocity adds no noise, ends a little better and steadier at a
    # smaller learning rate (benchmarks/bench_continuous.py --parts tuning). sct takes fewer
    # steps than scd: the batch's velocity costs a [B, B] matrix of weights per step, and
    # the default run has to fit the wall-time budget.
    "sct": ContinuousMethod("data", dict(
        steps=36_000, lr=1.5e-3, warmup=500, ema=0.0, time_distribution="lognormal", p_mean=-1.0, p_std=1.4,
        parametrisation="angle", tangent_norm=0.1, tangent_warmup=0.125, adaptive_weight=False,
        velocity_estimate="batch", sampling="qmc", mlp=MLPConfig(n_fourier=4, dtype="float32"))),
    "scd": ContinuousMethod("exact", dict(
        steps=40_000, lr=1e-3, warmup=500, ema=0.0, time_distribution="lognormal", p_mean=-1.0, p_std=1.4,
        parametrisation="angle", tangent_norm=0.1, tangent_warmup=0.125, adaptive_weight=False,
        sampling="qmc", mlp=MLPConfig(n_fourier=4, dtype="float32"))),
    # flow maps X(t, s, x) (cmtoy.flow_map_losses): uniform times reach t = 1, where the
    # one-step map lives; a learning-rate decay to 0; MeanFlow's adaptive weight off but in fmd; few
    # time features for the JVP methods, whose targets hold the network's t- or s-derivative
    # (k pi for the k-th feature); meanflow and psd learn the velocity of the batch's data,
    # as sct does (the ablation: benchmarks/bench_flow_maps.py). meanflow needs it at every
    # pair, a [B, B] matrix of weights per step, so it takes fewer steps to fit the budget
    # of the wall time. meanflow's chain of targets climbs from the diagonal along
    # t: nested pairs draw its start, the short jumps onto the data, as often as the long
    # ones, and a twentieth of them on s = 0 serves the one-step map
    "meanflow": FlowMapMethod(MeanFlowBatches, dict(
        steps=34_000, lr=1e-3, warmup=500, ema=0.0, time_distribution="uniform", p_mean=-1.1, p_std=2.0, diagonal_share=0.5,
        slice_share=0.05, noise_share=0.0, pair_draw="nested", adaptive_p=0.0, velocity_estimate="batch", mlp=_FLOW_MAP_NET)),
    # psd: a quarter of the batch on the diagonal was better than half in every column; a
    # tenth of the rest on the s = 0 slice trains both halves of the one-step map's
    # composition X(u, 0) o X(1, u) more often, and with it early jumps blow up without a
    # longer warm-up; nested pairs give up a little of the one-step map for the short jumps
    # that composition in more steps takes, so that more steps never do worse; 25,000 steps
    # (and a warm-up of a fifteenth of them) keep the run inside the wall time on
    # the slower days of this machine
    "psd": FlowMapMethod(SelfDistillationBatches, dict(
        steps=25_000, lr=3e-3, warmup=1 / 15, ema=0.0, time_distribution="uniform", p_mean=-1.1, p_std=2.0, diagonal_share=0.25,
        slice_share=0.1, noise_share=0.0, pair_draw="nested", adaptive_p=0.0, intermediate="uniform", velocity_estimate="batch",
        mlp=dataclasses.replace(_FLOW_MAP_NET, n_fourier=8))),
    # fmd's continuous (JVP) Lagrangian target feeds the network's own s-derivative back
    # and trains erratically, and the paper's residual loss (stop_gradient=False) does not
    # learn the one-step map here at all; a hop of the exact velocity does. A long hop (a
    # quarter) integrated accurately (two RK4 steps) puts few of the model's own jumps in
    # the chain of targets from the diagonal out to (t, s), so few of their errors pile up
    # in the maps that composition in more steps uses (with short Heun hops the composed
    # law got worse from 2 to 4 steps at many seeds; a coarser teacher over the long hop,
    # or fewer steps, lost the one-step map instead: benchmarks/README.md). RK4 (fourth
    # order) gets more accuracy than Heun from each call of the velocity, and those calls
    # are much of the cost of a step. The Lagrangian form is issue 20's; its chain of
    # targets runs along s at fixed t, so that
    # about a third of the pairs on t = 1 feeds the one-step map's (a quarter, and half, did
    # worse over seeds). MeanFlow's adaptive weight at p = 1/2, which Geng et al. 2025
    # (Sec. 4.3) liken to iCT's pseudo-Huber loss: the one-step map's W1 is an L1 error of
    # X(1, 0, .), and a squared loss spends the network on the few points near the mode
    # boundary that it misses by a whole mode (p = 1, and smaller p, did worse over seeds).
    # Its target needs no velocity on the diagonal, where X(t, t, x) = x holds by construction,
    # so a quarter of the batch there leaves the rest to the map; and two time features per
    # time, not four, make the network smoother in t and s, which the exact teacher's chain
    # of hops along s rewards (both, and each alone, over seeds and both BLAS kernels:
    # benchmarks/README.md). The Eulerian form (teacher_form) with pairs on the s = 0 slice
    # is the benchmarks' other reference point
    "fmd": FlowMapMethod(DistillationBatches, dict(
        steps=20_000, lr=3e-3, warmup=500, ema=0.0, time_distribution="uniform", p_mean=-1.1, p_std=2.0, diagonal_share=0.25,
        slice_share=0.0, noise_share=0.35, pair_draw="sorted", adaptive_p=0.5, teacher_hop=0.25, teacher_substeps=2, teacher_solver="rk4",
        teacher_form="lagrangian", stop_gradient=True,
        mlp=dataclasses.replace(_FLOW_MAP_NET, n_fourier=2))),
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """All training settings. None means "the method's default": see :meth:`resolved`."""

    method: str = "ct"  # a key of METHODS: "ct", "cd", "ict"; flow maps "meanflow", "psd", "fmd"
    steps: int | None = None  # optimiser steps K (None: the method's)
    batch: int = 256  # pairs per optimiser step
    seed: int = 0  # seeds the weights, the data and the noise: same seed, same model
    lr: float | None = None  # peak Adam learning rate (None: the method's)
    warmup: int | None = None  # optimiser steps of linear warm-up, at most steps - 1 (None: the method's)
    lr_decay: str = "cosine"  # after warm-up: "cosine" to zero, or "constant"
    ema: float | None = None  # target-network EMA decay mu in [0, 1); 0 = none, iCT (None: the method's)
    eval_ema: float = 0.0  # decay of a separate EMA of the weights that is returned; 0 = online
    distance: str | None = None  # "squared" or "pseudo_huber" (None: the method's)
    huber_c: float = HUBER_C  # pseudo-Huber c (see consistency.HUBER_C for why not iCT's)
    weighting: str | None = None  # lambda_n: "uniform" or "inverse_dt" = 1 / (t_{n+1} - t_n)
    time_distribution: str | None = None  # which n: "uniform" or "lognormal" in log(sigma/alpha)
    p_mean: float | None = None  # mean of log(sigma_t / alpha_t) under "lognormal" (iCT: -1.1)
    p_std: float | None = None  # std of log(sigma_t / alpha_t) under "lognormal" (iCT: 2.0)
    sampling: str | None = None  # random inputs of a batch: "iid" or "qmc" (see pairs.BatchSampler)
    curriculum: str = "doubling"  # grid size N(k): "doubling" (iCT), "sqrt" (Song et al. 2023), "constant"
    n_min: int | None = None  # grid size N (intervals) at the start of training, s_0
    n_max: int | None = None  # grid size N (intervals) at the end of training, s_1
    grid_rho: float = 1.0  # grid t_i = (i / N)^rho; rho > 1 puts more grid times near t = 0
    solver: str = "heun"  # teacher step of "cd": "heun", "euler" or "rk4" (see pairs.teacher_step)
    mlp: MLPConfig | None = None  # the network F_theta (None: the method's)
    # the stabilisers of sct and scd (cmtoy.continuous), each switched off alone:
    parametrisation: str | None = None  # tangent in "trigflow" angle (Lu & Song 2024) or cmtoy's "time"
    tangent_norm: float | None = None  # c of the tangent normalisation g / (|g| + c); 0 = off
    tangent_warmup: int | None = None  # steps of the tangent warm-up r: 0 -> 1; 0 = off
    adaptive_weight: bool | None = None  # learn the loss weight w_phi(t) (Lu & Song 2024, eq. 9)
    # sct, meanflow, psd: the velocity they learn from data alone, "conditional" (the pair's
    # v_hat) or "batch" (the velocity of the batch's data, continuous.batch_velocity)
    velocity_estimate: str | None = None
    diagonal_share: float | None = None  # flow maps: share of each batch with s = t, learnt by flow matching
    slice_share: float | None = None  # flow maps: share of the other pairs with s = 0, the one-step slice
    noise_share: float | None = None  # flow maps: share of the other pairs with t = 1, where sampling starts
    pair_draw: str | None = None  # flow maps: the other pairs' (t, s), "sorted" two draws or "nested" s ~ U(0, t)
    adaptive_p: float | None = None  # flow maps: loss weight 1 / (error^2 + 1e-3)^p (MeanFlow's); 0 = squared
    intermediate: str | None = None  # psd: the u of X(u, s) o X(t, u): "uniform" in (s, t) or "midpoint"
    teacher_hop: float | None = None  # fmd: length of its target's hop of the exact velocity; 0 = continuous (JVP)
    teacher_substeps: int | None = None  # fmd: equal solver steps of the exact velocity over each hop
    teacher_solver: str | None = None  # fmd: those steps' solver, "rk4", "heun" or "euler" (see pairs.teacher_step)
    teacher_form: str | None = None  # fmd: the "lagrangian" (hop in s) or "eulerian" (hop in t) condition
    stop_gradient: bool | None = None  # fmd, teacher_hop = 0: hold the target fixed, or (False) minimise the residual through it
    eval_every: int = 0  # optimiser steps between metric evaluations in the history; 0 = only at the end
    eval_samples: int = 20_000  # samples for each W1 in the history
    max_seconds: float | None = None  # stop early after this wall time (then steps vary)
    progress: bool = True  # show a tqdm progress bar

    def __post_init__(self):
        # validate what the user set (None: the method's default, valid already), keeping it
        # as Python numbers so that asdict(config) is JSON (saved models, the reference key)
        optional = {f.name for f in dataclasses.fields(self) if f.default is None}
        clean = {}

        def check(key, validate, *args, **kwargs):
            if getattr(self, key) is not None or key not in optional:
                clean[key] = validate(key, getattr(self, key), *args, **kwargs)

        check("method", choice, tuple(METHODS))
        for key, minimum in (("steps", 1), ("batch", 1), ("seed", 0), ("warmup", 0), ("n_min", 2),
                             ("n_max", 2), ("eval_every", 0), ("eval_samples", 1), ("tangent_warmup", 0),
                             ("teacher_substeps", 1)):
            check(key, integer, minimum)
        for key, low, high in (("lr", 0.0, None), ("p_mean", None, None), ("tangent_norm", 0.0, None),
                               ("diagonal_share", 0.0, 1.0), ("slice_share", 0.0, 1.0), ("noise_share", 0.0, 1.0), ("adaptive_p", 0.0, None), ("teacher_hop", 0.0, 1.0)):
            check(key, real, low, high)
        for key in ("ema", "eval_ema"):  # decays in [0, 1)
            check(key, real, 0.0, 1.0, high_open=True)
        for key in ("huber_c", "p_std", "grid_rho", "max_seconds"):  # scales, > 0
            check(key, real, 0.0, None, low_open=True)
        for key, allowed in (("lr_decay", ("cosine", "constant")), ("distance", DISTANCES),
                             ("weighting", WEIGHTINGS), ("time_distribution", ("uniform", "lognormal")),
                             ("sampling", ("iid", "qmc")), ("curriculum", ("doubling", "sqrt", "constant")),
                             ("solver", SOLVERS), ("parametrisation", PARAMETRISATIONS),
                             ("intermediate", INTERMEDIATES), ("teacher_form", TEACHER_FORMS), ("pair_draw", PAIR_DRAWS), ("teacher_solver", SOLVERS),
                             ("velocity_estimate", ESTIMATES)):
            check(key, choice, allowed)
        for key in ("progress", "adaptive_weight", "stop_gradient"):
            check(key, flag)
        for key, value in clean.items():
            object.__setattr__(self, key, value)
        ignored = [key for key in self.unused() if getattr(self, key) is not None]
        if ignored:
            raise ValueError(f"method {self.method!r} does not use {', '.join(ignored)}; leave "
                             f"{'it' if len(ignored) == 1 else 'them'} unset (None) for this method")
        if not isinstance(self._setting("mlp"), MLPConfig):
            raise TypeError(f"mlp must be a cmtoy.mlp.MLPConfig, got {type(self.mlp).__name__}")
        shares = self._setting("slice_share"), self._setting("noise_share")
        if None not in shares and sum(shares) > 1.0:  # the two slices share the off-diagonal pairs
            raise ValueError(f"slice_share + noise_share must be <= 1 (they divide the off-diagonal pairs), got "
                             f"slice_share={shares[0]!r}, noise_share={shares[1]!r} (method {self.method!r})")
        if self._setting("stop_gradient") is False:  # the residual loss: each setting it has no use for is 0
            for key, why in (("teacher_hop", "minimises the residual of fmd's continuous condition"),
                             ("ema", "holds no target fixed, so it has no target network"),
                             ("adaptive_p", "minimises the plain squared residual, whose weight could not be held fixed")):
                if self._setting(key) != 0:
                    raise ValueError(f"stop_gradient=False {why}: it needs {key}=0.0, got {key}={self._setting(key)!r}")
        for key in ("teacher_substeps", "teacher_solver"):  # the continuous form has no hop: another value would be ignored
            value = getattr(self, key)
            if value is not None and self._setting("teacher_hop") == 0 and value != METHODS[self.method].defaults[key]:
                raise ValueError(f"{key} integrates fmd's teacher hop, and teacher_hop=0.0 (the continuous form) "
                                 f"has none: leave {key} unset (None), got {value!r}")
        n_min, n_max = self._setting("n_min"), self._setting("n_max")
        if n_min is not None and n_max is not None and n_min > n_max:  # either may be the method's default
            raise ValueError(f"n_min must be <= n_max, got n_min={n_min}, n_max={n_max} (method {self.method!r})")

    def _setting(self, key):
        """The value of one field: the user's, or the method's default for None (None if unused)."""
        value = getattr(self, key)
        return METHODS[self.method].defaults.get(key) if value is None else value

    def unused(self):
        """The settings this config's method does not read: the fields whose default is None
        and for which the method has no default. They stay None and identify nothing."""
        return tuple(f.name for f in dataclasses.fields(self) if f.default is None
                     and f.name != "max_seconds" and f.name not in METHODS[self.method].defaults)

    def resolved(self):
        """This config with every None replaced by the method's default. returns TrainConfig

        ``train`` runs the resolved config. Configs that set the same values resolve alike,
        whichever method they were made from (``dataclasses.replace(config, method=...)``
        too). A fraction as a method's warm-up (or tangent warm-up) becomes that fraction of
        the steps, rounded down. Settings the method does not use (:meth:`unused`) stay None.
        """
        unused = self.unused()
        values = {f.name: self._setting(f.name) for f in dataclasses.fields(self)
                  if getattr(self, f.name) is None and f.name != "max_seconds" and f.name not in unused}
        for key in ("warmup", "tangent_warmup"):
            if isinstance(values.get(key), float):
                values[key] = int(values[key] * values.get("steps", self.steps))
        return dataclasses.replace(self, **values)


# -- the training loop -----------------------------------------------------------------


def evaluate(model, interp, n, seed):
    """W1 of 1- and 2-step samples and the flow-map error, on a fixed rng of its own."""
    rng = np.random.default_rng([seed, 1])
    return {
        "w1_1step": wasserstein1(sample(model, rng, n), interp.target),
        "w1_2step": wasserstein1(sample(model, rng, n, times=(1.0, 0.5)), interp.target),
        "flow_map_error": flow_map_error(model, interp, n=min(n, 5000), rng=rng),
    }


def train(interp, config=None, callback=None):
    """Train a consistency model on an interpolant, with the method ``config.method``.

    Parameters
    ----------
    interp : Interpolant
    config : TrainConfig, default TrainConfig(); its :meth:`~TrainConfig.resolved` settings run
    callback : callable(step, model, history), optional
        Called after every evaluation (every ``config.eval_every`` steps and at the end),
        e.g. to update a live plot. ``model`` is the model being trained.

    Returns
    -------
    model : ConsistencyModel, or FlowMapModel for the flow-map methods
    history : dict with "loss" [steps_done], "evals" (list of dicts with step, seconds,
        w1_1step, w1_2step, flow_map_error), "steps_done" and "seconds".

    Raises
    ------
    FloatingPointError
        If the loss or the weights become non-finite or blow up (:class:`DivergenceCheck`),
        naming the method, the step and the learning rate; no model is returned.
    """
    if not isinstance(interp, Interpolant):
        raise TypeError(f"interp must be a cmtoy.Interpolant, got {type(interp).__name__}")
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a cmtoy.TrainConfig, got {type(config).__name__}")
    with threadpool_limits(1):  # one BLAS thread is much faster for these small matrices
        return _train(interp, config.resolved(), callback)


def _train(interp, config, callback):
    method = METHODS[config.method]
    rng = np.random.default_rng(config.seed)
    model = method.initialise(interp, config, rng)
    params = model.params
    target = params.copy() if config.ema > 0 else params  # no EMA (iCT): the target is the online net
    averaged = params.copy() if config.eval_ema > 0 else params
    output = model.with_params(averaged)
    adam = optim.AdamState.zeros(params.flat.size, params.flat.dtype)
    grads = params.copy()  # the buffer every step's gradient is written into
    batches = method.start(interp, config, model, rng)
    lrs = BlockedRates(config)
    check = DivergenceCheck(config, params, lrs)
    history = {"loss": [], "evals": [], "steps_done": 0, "seconds": 0.0}
    start = time.perf_counter()

    def record(step):
        check.weights(step - 1, params, averaged)
        history["seconds"] = time.perf_counter() - start
        history["evals"].append({"step": step, "seconds": history["seconds"],
                                 **evaluate(output, interp, config.eval_samples, config.seed)})
        if callback is not None:
            callback(step, output, history)

    with tqdm(range(config.steps), disable=not config.progress, desc=f"train {config.method}") as bar:
        for k in bar:
            loss, _ = batches.loss(k, params, target, out=grads)
            check.loss(k, loss)
            optim.adam_step(params.flat, grads.flat, adam, lrs[k])
            if config.ema > 0:
                optim.ema_update(target.flat, params.flat, config.ema)
            if config.eval_ema > 0:
                optim.ema_update(averaged.flat, params.flat, config.eval_ema)
            history["loss"].append(loss)
            history["steps_done"] = k + 1
            if k % 200 == 0:
                bar.set_postfix(loss=f"{loss:.3g}", **getattr(batches, "status", {}), refresh=False)
            if (k + 1) % check.CHECK_EVERY == 0:
                check.weights(k, params)
            if config.eval_every and (k + 1) % config.eval_every == 0 and k + 1 < config.steps:
                record(k + 1)
            if config.max_seconds is not None and time.perf_counter() - start > config.max_seconds:
                break
    history["loss"] = np.asarray(history["loss"])
    record(history["steps_done"])
    return output, history
