"""Adam, an exponential moving average of parameters, and a learning-rate schedule.

Everything works on flat buffers (``Params.flat: [P]`` of :mod:`cmtoy.mlp`, float64 or float32), so one
optimizer step is a handful of vectorised operations over all parameters at once, instead
of a loop over layers. Updates happen in place: the buffers are the state.

Adam (Kingma & Ba 2015, *Adam: A Method for Stochastic Optimization*, Algorithm 1), with
gradient g, step counter n = 1, 2, ...::

    m_n = beta1 m_{n-1} + (1 - beta1) g           first-moment (mean) estimate
    v_n = beta2 v_{n-1} + (1 - beta2) g^2         second raw-moment estimate
    m_hat = m_n / (1 - beta1^n),  v_hat = v_n / (1 - beta2^n)      bias correction
    theta_n = theta_{n-1} - lr m_hat / (sqrt(v_hat) + eps)

The exponential moving average of the online parameters is the *target network* of
consistency training (Song et al. 2023, Alg. 3: theta^- <- stopgrad(mu theta^- + (1 - mu) theta)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .validation import choice, integer, real

__all__ = ["AdamConfig", "AdamState", "adam_step", "ema_update", "LRSchedule", "lr_schedule", "learning_rates",
           "BlockedRates"]


@dataclass(frozen=True)
class AdamConfig:
    """Adam's constants (Kingma & Ba 2015 defaults). The learning rate is passed per step."""

    beta1: float = 0.9  # decay rate of the first-moment estimate m
    beta2: float = 0.999  # decay rate of the second-moment estimate v
    eps: float = 1e-8  # added to sqrt(v_hat) so that the step stays finite where v = 0

    def __post_init__(self):
        for name in ("beta1", "beta2"):
            object.__setattr__(self, name, real(f"AdamConfig.{name}", getattr(self, name), 0.0, 1.0, high_open=True))
        object.__setattr__(self, "eps", real("AdamConfig.eps", self.eps, 0.0, None, low_open=True))


@dataclass(eq=False)
class AdamState:
    """Adam's state for one flat parameter buffer; :func:`adam_step` updates it in place.

    m, v: [P] (zeros at the start); step: the number of updates done so far.
    ``scratch: [P]`` is working memory so that a step allocates nothing.
    """

    m: np.ndarray  # first-moment estimate m_n  [P]
    v: np.ndarray  # second raw-moment estimate v_n  [P]
    step: int = 0  # n, the number of updates applied
    scratch: np.ndarray | None = None  # working memory [P], no meaning between steps

    @classmethod
    def zeros(cls, n_params, dtype=np.float64):
        """The initial state m_0 = v_0 = 0, n = 0 for a buffer of n_params entries of dtype."""
        return cls(m=np.zeros(n_params, dtype), v=np.zeros(n_params, dtype), step=0,
                   scratch=np.empty(n_params, dtype))


def adam_step(theta, grad, state, lr, config=AdamConfig()):
    """One Adam update of theta, in place (Kingma & Ba 2015, Algorithm 1).

    theta: [P] parameters (updated in place); grad: [P] gradient dL/d theta
    state: AdamState (m, v, step updated in place); lr: learning rate (> 0)
    """
    if theta.shape != grad.shape or theta.shape != state.m.shape:
        raise ValueError(
            f"adam_step: theta {theta.shape}, grad {grad.shape} and state {state.m.shape} "
            f"must have the same shape"
        )
    if not theta.dtype == grad.dtype == state.m.dtype:
        raise ValueError(
            f"adam_step: theta ({theta.dtype}), grad ({grad.dtype}) and state ({state.m.dtype}) "
            f"must have the same dtype; build the state with AdamState.zeros(n, dtype=theta.dtype)"
        )
    if not lr >= 0.0:
        raise ValueError(f"adam_step: lr must be a number >= 0, got {lr!r}")
    if state.scratch is None:
        state.scratch = np.empty_like(theta)
    b1, b2, tmp = config.beta1, config.beta2, state.scratch
    state.step += 1
    n = state.step
    np.multiply(grad, 1.0 - b1, out=tmp)  # m = beta1 m + (1 - beta1) g
    state.m *= b1
    state.m += tmp
    np.multiply(grad, grad, out=tmp)  # v = beta2 v + (1 - beta2) g^2
    tmp *= 1.0 - b2
    state.v *= b2
    state.v += tmp
    # lr m_hat / (sqrt(v_hat) + eps) = [lr / (1 - beta1^n)] m / (sqrt(v) / sqrt(1 - beta2^n) + eps)
    np.sqrt(state.v, out=tmp)
    tmp *= 1.0 / math.sqrt(1.0 - b2**n)
    tmp += config.eps
    np.divide(state.m, tmp, out=tmp)
    tmp *= lr / (1.0 - b1**n)
    theta -= tmp


def ema_update(target, online, decay):
    """target <- decay target + (1 - decay) online, in place. target, online: [P]

    Written as target -= (1 - decay) (target - online): one pass, no temporary beyond one
    [P] array. decay in [0, 1]: 1 freezes the target, 0 copies the online parameters.
    """
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"ema_update: decay must be in [0, 1], got {decay!r}")
    diff = np.subtract(target, online)
    diff *= 1.0 - decay
    target -= diff


@dataclass(frozen=True)
class LRSchedule:
    """Learning rate at each step: linear warm-up, then constant or a cosine decay.

    ``lr(n)`` for the 0-based step n::

        n < warmup_steps:         base_lr (n + 1) / warmup_steps
        decay == "constant":      base_lr
        decay == "cosine":        final_lr + (base_lr - final_lr) (1 + cos(pi p)) / 2,
                                  p = (n - warmup_steps) / (total_steps - warmup_steps), clipped to 1

    (cosine decay: Loshchilov & Hutter 2017, *SGDR*, without restarts).
    """

    base_lr: float = 1e-3  # peak learning rate, reached at the end of the warm-up
    warmup_steps: int = 0  # steps of linear warm-up from base_lr / warmup_steps to base_lr
    decay: str = "constant"  # "constant" or "cosine" after the warm-up
    total_steps: int | None = None  # the step at which the cosine reaches final_lr ("cosine" only)
    final_lr: float = 0.0  # learning rate at total_steps ("cosine" only)

    def __post_init__(self):
        for name in ("base_lr", "final_lr"):
            object.__setattr__(self, name, real(f"LRSchedule.{name}", getattr(self, name), 0.0))
        w = integer("LRSchedule.warmup_steps", self.warmup_steps, 0)
        object.__setattr__(self, "warmup_steps", w)
        choice("LRSchedule.decay", self.decay, ("constant", "cosine"))
        if self.decay == "cosine":
            if self.total_steps is None:
                raise ValueError("LRSchedule.total_steps is needed for a cosine decay: the step it ends at")
            object.__setattr__(self, "total_steps", integer("LRSchedule.total_steps", self.total_steps, w + 1))
        elif self.total_steps is not None:
            object.__setattr__(self, "total_steps", integer("LRSchedule.total_steps", self.total_steps, 1))

    def __call__(self, step):
        """The learning rate at 0-based step(s). step: [*batch] integers >= 0 -> [*batch] floats"""
        n = np.asarray(step, dtype=np.float64)
        if np.any(n < 0):
            raise ValueError(f"LRSchedule: steps must be >= 0, got {step!r}")
        lr = np.full_like(n, self.base_lr)
        if self.decay == "cosine":
            p = np.minimum((n - self.warmup_steps) / (self.total_steps - self.warmup_steps), 1.0)
            lr = self.final_lr + (self.base_lr - self.final_lr) * 0.5 * (1.0 + np.cos(np.pi * p))
        if self.warmup_steps > 0:
            lr = np.where(n < self.warmup_steps, self.base_lr * (n + 1) / self.warmup_steps, lr)
        return lr if lr.ndim else float(lr)


def lr_schedule(config):
    """The learning-rate schedule of a training run: linear warm-up, then cosine decay to 0 or constant.

    config: a cmtoy.TrainConfig (resolved here). returns LRSchedule
    """
    config = config.resolved()
    warmup = min(config.warmup, config.steps - 1)
    return LRSchedule(config.lr, warmup, config.lr_decay, total_steps=config.steps)


def learning_rates(config):
    """The learning rate of every step (:func:`lr_schedule`). -> [steps]"""
    return lr_schedule(config)(np.arange(config.resolved().steps))


class BlockedRates:
    """``rates[k]``, the learning rate of step k, computed a block of steps at a time.

    A run of very many steps that ``max_seconds`` stops early never holds one float per
    step it does not take; each block holds the same numbers as :func:`learning_rates`.
    """

    BLOCK = 4096

    def __init__(self, config):
        self.schedule, self.steps, self.peak = lr_schedule(config), config.steps, config.lr
        self.first, self.rates = None, None

    def __getitem__(self, k):
        first = k - k % self.BLOCK
        if first != self.first:
            self.first = first
            self.rates = self.schedule(np.arange(first, min(first + self.BLOCK, self.steps)))
        return self.rates[k - first]
