"""Stopping a training run that diverges, with a message that says what happened.

:class:`DivergenceCheck` judges a run against its own start: the loss of the untrained
model and the norm of the initial weights. :func:`cmtoy.train` asks it about every step's
loss and, every CHECK_EVERY steps, about the weights; a run that fails raises
FloatingPointError naming the method, the step and its learning rate, and returns no model.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["DivergenceCheck"]


class DivergenceCheck:
    """Stops a run whose loss or weights blow up, judged against the run's own start.

    The loss must be finite at every step, and a running mean of it must stay below
    LOSS_GROWTH times the loss of the untrained model: the consistency losses fall as
    training goes on. Every CHECK_EVERY steps, before each evaluation and after the last
    step, the weights must be finite and their norm below WEIGHT_GROWTH times its start.
    Adam moves a weight by up to about the learning rate each step, whatever the gradient's
    scale, so a learning rate far too large shows in the weights even where the loss stays
    finite: default runs stay within a few times their initial norm, while such a rate
    multiplies it within a few hundred steps. (Every step, the check would be one more pass
    over all weights per step.)
    """

    LOSS_GROWTH = 1e6
    WEIGHT_GROWTH = 100.0
    CHECK_EVERY = 100
    RUNNING = 0.99  # decay of the running mean of the loss

    def __init__(self, config, params, lrs):
        self.method, self.lrs = config.method, lrs
        self.norm_0 = self.norm(params.flat)
        self.loss_0 = self.running = None

    @staticmethod
    def norm(flat):
        with np.errstate(over="ignore"):
            return float(np.linalg.norm(flat.astype(np.float64)))

    def fail(self, k, what):
        raise FloatingPointError(f"the {self.method} run diverged at step {k} (learning rate {self.lrs[k]:.3g}, "
                                 f"peak {self.lrs.peak:.3g}): {what}; try a smaller TrainConfig.lr or a "
                                 f"longer warm-up")

    def loss(self, k, loss):
        """Check the loss of step k, before its update."""
        if not math.isfinite(loss) and k == 0:  # before any update: not the learning rate's doing
            raise FloatingPointError(f"the {self.method} loss of the untrained model is {loss} (step 0, before "
                                     f"any update): check the target and the settings")
        if not math.isfinite(loss):
            self.fail(k, f"the loss became {loss}")
        if self.loss_0 is None:
            self.loss_0 = self.running = loss
        self.running = self.RUNNING * self.running + (1.0 - self.RUNNING) * loss
        if self.loss_0 > 0 and self.running > self.LOSS_GROWTH * self.loss_0:
            self.fail(k, f"the running mean of the loss grew from {self.loss_0:.3g} to {self.running:.3g}, "
                         f"more than {self.LOSS_GROWTH:g} times")

    def weights(self, k, *params):
        """Check the weights after the update of step k."""
        for p in params:
            norm = self.norm(p.flat)
            if not np.all(np.isfinite(p.flat)):
                self.fail(k, "the weights became non-finite")
            if not norm <= self.WEIGHT_GROWTH * self.norm_0:
                self.fail(k, f"the norm of the weights grew from {self.norm_0:.3g} to {norm:.3g}, "
                             f"more than {self.WEIGHT_GROWTH:g} times")
