"""Training a consistency model: consistency training (CT), distillation (CD) and iCT.

Every method draws a pair of neighbouring times t_n < t_{n+1} from a discretisation
0 = t_0 < ... < t_N = 1 and minimises lambda_n d(f_theta(t_{n+1}, x_{t_{n+1}}),
f_target(t_n, x_{t_n})) (:func:`cmtoy.consistency.consistency_loss`):

- "ct": Song et al. 2023 (arXiv 2303.01469), Alg. 3, consistency training in isolation:
  x_{t_n} and x_{t_{n+1}} lie on one line x_0 -> x_1 (the same x_0, x_1), the target is an
  EMA of the online network, and the number of steps N(k) grows during training.
- "cd": ibid., Alg. 2, consistency distillation: x_{t_n} is one Heun (or Euler) step of
  the probability-flow ODE from x_{t_{n+1}} with the *exact* velocity
  ``Interpolant.velocity`` as the teacher (:func:`cmtoy.pairs.teacher_step`).
- "ict": Song & Dhariwal 2023 (arXiv 2310.14189): as "ct" but with no EMA target
  (Sec. 3.2), the pseudo-Huber distance (Sec. 3.3), weighting lambda_n = 1 / (t_{n+1} - t_n)
  (Sec. 3.5), the doubling curriculum N(k) = min(s_0 2^floor(k / K'), s_1) (Sec. 3.4) and a
  discretised log-normal distribution of the noise level log(sigma_t / alpha_t) (Sec. 3.5).

Settings left unset (None) in :class:`TrainConfig` take the method's defaults, so each
of iCT's changes can be switched on or off separately (see benchmarks/bench_training.py).
The defaults were tuned on the seed mixture for a budget of about 60 s on two cores;
what was measured, and which of iCT's changes help on this toy, is in the README.

What limits ct there is the optimisation, not the discretisation: with an exact
minimiser, CT on a uniform grid of N steps converges to a fixed point whose 1-step W1 is
about 0.93 / sqrt(N) (0.037 at N = 640, 0.019 at N = 2560; ``cmtoy.metrics.ct_fixed_point``),
far below the ~0.06 that 25,000 float64 steps of ct reach. So ct and ict default to a
float32 network (about twice the steps per second) and quasi-Monte Carlo batches
(``sampling="qmc"``, less variance per step); cd keeps float64 and iid batches. More
steps of the same ct config do not help: its EMA target (0.9) follows the online network
so closely that, at large N, gradient noise moves f_theta along what the loss hardly
constrains, the more the longer the run (at 4x the default steps one of two seeds drifts
to W1 ~ 0.3; README, "--parts longer"); ict and cd keep improving. ict is
limited by both: without an EMA target it ends worse, or diverges, when its curriculum
goes beyond N = 256 here, and at N = 256 the fixed point of its pseudo-Huber loss has W1
0.067 with c = 0.3 and 0.059 with c = 1 (the squared distance's: 0.059), hence
``huber_c = 1``: a smaller c makes the fixed point more like a conditional median, and
here moves it away from f*. Note that on the uniform grid (grid_rho = 1) all steps of one
stage have the same dt, so the 1/dt weighting only rescales the loss between stages,
which Adam largely undoes; it matters on a non-uniform grid (grid_rho != 1), as on iCT's
Karras grid.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from . import optim
from .consistency import DISTANCES, HUBER_C, ConsistencyModel, consistency_loss
from .interpolant import Interpolant
from .metrics import flow_map_error, wasserstein1
from .mlp import MLPConfig
from .pairs import SOLVERS, BatchSampler, make_pairs, n_steps, time_grid
from .sampling import sample

__all__ = ["TrainConfig", "train", "METHODS"]

METHODS = ("ct", "cd", "ict")
_CHOICES = {
    "distance": DISTANCES,
    "weighting": ("uniform", "inverse_dt"),
    "time_distribution": ("uniform", "lognormal"),
    "curriculum": ("doubling", "sqrt", "constant"),
    "solver": SOLVERS,
    "lr_decay": ("cosine", "constant"),
    "sampling": ("iid", "qmc"),
}
# method -> defaults of the settings left as None (tuned on the seed mixture, see the README).
# ct and ict train a float32 network on quasi-Monte Carlo batches: about 1.8x more steps per
# second and lower-variance gradients; in ~45 s on two idle cores that takes the 1-step W1
# of ct from 0.059-0.078 to 0.044-0.054 (seeds 0-4) and of ict from ~0.10 to 0.088-0.097.
# ict's pseudo-Huber c = 1 (see the module doc), a smaller learning rate (1e-3) with a
# longer warm-up and a curriculum that starts at N = 16 take it to 0.073-0.086 (seeds 0-4):
# without an EMA target, steps that are too large drift, and N = 2..8 teach little.
# cd keeps the float64 network and iid batches it was tuned with: it meets its target
# without them. Its teacher is one Heun step: N Heun steps from t = 1 are within the
# sampling floor of the exact flow map from N = 40 on, where N Euler steps need N ~ 1280
# (benchmarks/bench_cd_teacher.py), so cd's curriculum stops at N = 80, and every pair
# then spans 16x the time of a pair at N = 1280: fewer hops carry f(0, x) = x up to t = 1.
# That takes cd from 0.025 (Euler, N -> 1280, 20,000 steps) to ~0.015 in 16,000 steps.
_FLOAT32 = MLPConfig(dtype="float32")
_METHOD_DEFAULTS = {
    "ct": dict(steps=40_000, lr=5e-3, warmup=500, ema=0.9, distance="squared", weighting="uniform",
               time_distribution="uniform", n_min=10, n_max=5120, sampling="qmc", mlp=_FLOAT32),
    "cd": dict(steps=16_000, lr=5e-3, warmup=500, ema=0.9, distance="squared", weighting="uniform",
               time_distribution="uniform", n_min=10, n_max=80, sampling="iid", mlp=MLPConfig()),
    # a float warmup is a fraction of the steps: ict warms up for 5% (2,000 of 40,000)
    "ict": dict(steps=40_000, lr=1e-3, warmup=0.05, ema=0.0, distance="pseudo_huber", weighting="inverse_dt",
                time_distribution="lognormal", n_min=16, n_max=256, sampling="qmc", mlp=_FLOAT32),
}


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """All training settings. None means "the default of the method" (see the module doc).

    None fields are resolved at construction, so ``dataclasses.replace(config, method="cd")``
    keeps the first method's resolved values; build a new TrainConfig to switch methods.
    """

    method: str = "ct"  # "ct", "cd" or "ict"
    steps: int | None = None  # optimiser steps K (ct, ict: 40,000 float32; cd: 16,000 float64: < 60 s on 2 idle cores)
    batch: int = 256  # pairs per step
    seed: int = 0  # seeds the weights, the data and the noise: same seed, same model
    lr: float | None = None  # peak Adam learning rate (ct, cd: 5e-3; ict: 1e-3)
    warmup: int | None = None  # steps of linear warm-up of the learning rate, at most steps - 1 (ct, cd: 500; ict: 5% of steps)
    lr_decay: str = "cosine"  # after warm-up: "cosine" to zero, or "constant"
    ema: float | None = None  # target-network EMA decay mu in [0, 1) (ct, cd: 0.9); 0 = none (iCT)
    eval_ema: float = 0.0  # decay of a separate EMA of the weights that is returned; 0 = online
    distance: str | None = None  # "squared" or "pseudo_huber"
    huber_c: float = HUBER_C  # pseudo-Huber c (see consistency.HUBER_C for why not iCT's)
    weighting: str | None = None  # lambda_n: "uniform" or "inverse_dt" = 1 / (t_{n+1} - t_n)
    time_distribution: str | None = None  # which n: "uniform" or "lognormal" in log(sigma/alpha)
    p_mean: float = -1.1  # mean of log(sigma_t / alpha_t) under "lognormal" (iCT: -1.1)
    p_std: float = 2.0  # std of log(sigma_t / alpha_t) under "lognormal" (iCT: 2.0)
    sampling: str | None = None  # random inputs of a batch: "iid" (cd) or "qmc" (ct, ict; see pairs.BatchSampler)
    curriculum: str = "doubling"  # N(k): "doubling" (iCT), "sqrt" (Song et al. 2023), "constant"
    n_min: int | None = None  # N at the start of training, s_0 (ct, cd: 10; ict: 16)
    n_max: int | None = None  # N at the end of training, s_1 (ct: 5120; cd: 80; ict: 256)
    grid_rho: float = 1.0  # grid t_i = (i / N)^rho; rho > 1 puts more steps near t = 0
    solver: str = "heun"  # teacher step of "cd": "heun" or "euler" (see pairs.teacher_step)
    mlp: MLPConfig | None = None  # the network F_theta (ct, ict: float32 MLPConfig; cd: MLPConfig())
    eval_every: int = 0  # steps between metric evaluations in the history; 0 = only at the end
    eval_samples: int = 20_000  # samples for each W1 in the history
    max_seconds: float | None = None  # stop early after this wall time (then steps vary)
    progress: bool = True  # show a tqdm progress bar

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose one of {METHODS}")
        defaults = _METHOD_DEFAULTS[self.method]
        for key, value in defaults.items():
            if getattr(self, key) is None and key != "warmup":  # warmup may depend on steps
                object.__setattr__(self, key, value)
        for key, allowed in _CHOICES.items():
            if getattr(self, key) not in allowed:
                raise ValueError(f"unknown {key} {getattr(self, key)!r}; choose one of {allowed}")
        for key in ("steps", "batch", "n_min", "n_max", "eval_samples"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{key} must be a positive integer, got {value!r}")
        if self.warmup is None:  # now that steps is known to be valid
            warmup = defaults["warmup"]
            object.__setattr__(self, "warmup", warmup if isinstance(warmup, int) else int(warmup * self.steps))
        for key in ("warmup", "eval_every", "seed"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{key} must be a non-negative integer, got {value!r}")
        if self.n_min > self.n_max:
            raise ValueError(f"n_min must be <= n_max, got n_min={self.n_min}, n_max={self.n_max}")
        if not (math.isfinite(self.lr) and self.lr >= 0):
            raise ValueError(f"lr must be a finite number >= 0, got {self.lr!r}")
        for key in ("ema", "eval_ema"):
            if not 0.0 <= getattr(self, key) < 1.0:
                raise ValueError(f"{key} must lie in [0, 1), got {getattr(self, key)!r}")
        for key in ("huber_c", "p_std", "grid_rho"):
            if not (math.isfinite(getattr(self, key)) and getattr(self, key) > 0):
                raise ValueError(f"{key} must be a finite number > 0, got {getattr(self, key)!r}")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be None or > 0, got {self.max_seconds!r}")
        if not isinstance(self.mlp, MLPConfig):
            raise TypeError(f"mlp must be a cmtoy.mlp.MLPConfig, got {type(self.mlp).__name__}")
        if self.n_min < 2:  # the largest step dt = 1 / n_min must lie in (0, 1)
            raise ValueError(f"n_min must be >= 2 so that every step dt = 1/N lies in (0, 1), got {self.n_min}")


# -- the training loop -----------------------------------------------------------------


def evaluate(model, interp, n, seed):
    """W1 of 1- and 2-step samples and the flow-map error, on a fixed rng of its own."""
    rng = np.random.default_rng([seed, 1])
    return {
        "w1_1step": wasserstein1(sample(model, rng, n), interp.target),
        "w1_2step": wasserstein1(sample(model, rng, n, times=(1.0, 0.5)), interp.target),
        "flow_map_error": flow_map_error(model, interp, n=min(n, 5000), rng=rng),
    }


def learning_rates(config):
    """The learning rate of every step: linear warm-up, then cosine decay to 0 or constant. -> [steps]"""
    warmup = min(config.warmup, config.steps - 1)
    schedule = optim.LRSchedule(config.lr, warmup, config.lr_decay, total_steps=config.steps)
    return schedule(np.arange(config.steps))


def train(interp, config=None, callback=None):
    """Train a consistency model on an interpolant.

    Parameters
    ----------
    interp : Interpolant
    config : TrainConfig, default TrainConfig()
    callback : callable(step, model, history), optional
        Called after every evaluation (every ``config.eval_every`` steps and at the end),
        e.g. to update a live plot. ``model`` is the model being trained.

    Returns
    -------
    model : ConsistencyModel
    history : dict with "loss" [steps_done], "evals" (list of dicts with step, seconds,
        w1_1step, w1_2step, flow_map_error), "steps_done" and "seconds".

    Raises
    ------
    FloatingPointError
        If the loss becomes non-finite, naming the step and the learning rate.
    """
    if not isinstance(interp, Interpolant):
        raise TypeError(f"interp must be a cmtoy.Interpolant, got {type(interp).__name__}")
    config = TrainConfig() if config is None else config
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a cmtoy.TrainConfig, got {type(config).__name__}")
    with threadpool_limits(1):  # one BLAS thread is much faster for these small matrices
        return _train(interp, config, callback)


def _train(interp, config, callback):
    rng = np.random.default_rng(config.seed)
    model = ConsistencyModel.initialise(interp, config.mlp, rng)
    params = model.params
    target = params.copy() if config.ema > 0 else params  # iCT: the target is the online net
    averaged = params.copy() if config.eval_ema > 0 else params
    output = model.with_params(averaged)
    adam = optim.AdamState.zeros(params.flat.size, params.flat.dtype)
    grads = params.copy()  # the buffer every step's gradient is written into
    grids = {}
    draw = BatchSampler(config, interp.target, rng)
    lrs = learning_rates(config)
    history = {"loss": [], "evals": [], "steps_done": 0, "seconds": 0.0}
    start = time.perf_counter()

    def record(step):
        history["seconds"] = time.perf_counter() - start
        history["evals"].append({"step": step, "seconds": history["seconds"],
                                 **evaluate(output, interp, config.eval_samples, config.seed)})
        if callback is not None:
            callback(step, output, history)

    bar = tqdm(range(config.steps), disable=not config.progress, desc=f"train {config.method}")
    for k in bar:
        n = n_steps(config, k)
        if n not in grids:  # the grid, its probabilities and what f_theta needs at its times
            grid, p = time_grid(config, interp.schedule, n)
            grids[n] = grid, p, model.time_terms(params, grid)
        grid, p, terms = grids[n]
        i, x_0, x_1 = draw(p)
        t_early, t_late = grid[i], grid[i + 1]
        terms_early, terms_late = tuple(a[i] for a in terms), tuple(a[i + 1] for a in terms)
        x_early, x_late = make_pairs(config, interp, rng, t_early, t_late, x_0, x_1)
        weight = 1.0 / (t_late - t_early) if config.weighting == "inverse_dt" else np.ones(config.batch)
        loss, _ = consistency_loss(model, params, target, t_early, x_early, t_late, x_late,
                                   weight, config.distance, config.huber_c, out=grads,
                                   terms=(terms_early, terms_late))
        lr = lrs[k]
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"the {config.method} loss became {loss} at step {k} (learning rate {lr:.3g}); "
                f"try a smaller TrainConfig.lr or a longer warm-up"
            )
        optim.adam_step(params.flat, grads.flat, adam, lr)
        if config.ema > 0:
            optim.ema_update(target.flat, params.flat, config.ema)
        if config.eval_ema > 0:
            optim.ema_update(averaged.flat, params.flat, config.eval_ema)
        history["loss"].append(loss)
        history["steps_done"] = k + 1
        if k % 200 == 0:
            bar.set_postfix(loss=f"{loss:.3g}", N=n, refresh=False)
        if config.eval_every and (k + 1) % config.eval_every == 0 and k + 1 < config.steps:
            record(k + 1)
        if config.max_seconds is not None and time.perf_counter() - start > config.max_seconds:
            break
    bar.close()
    history["loss"] = np.asarray(history["loss"])
    record(history["steps_done"])
    return output, history
