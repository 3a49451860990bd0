"""cmtoy: see how consistency models work, exactly, on one-dimensional Gaussian mixtures.

The theory is Song et al. 2023, *Consistency Models* (arXiv 2303.01469), on the
stochastic interpolant x_t = alpha_t x_0 + sigma_t x_1 of Albergo et al. 2023
(arXiv 2303.08797). In one dimension every object of the theory has a closed form,
which cmtoy computes exactly and uses as ground truth.
"""

from .checkpoint import CheckpointError
from .interpolant import Interpolant
from .mlp import MLPConfig
from .optim import LRSchedule
from .schedules import CosineSchedule, LinearSchedule, Schedule
from .targets import SEED_MIXTURE, GaussianMixture

__version__ = "0.1.0"

__all__ = [
    "GaussianMixture",
    "SEED_MIXTURE",
    "Schedule",
    "LinearSchedule",
    "CosineSchedule",
    "Interpolant",
    "MLPConfig",
    "LRSchedule",
    "CheckpointError",
]
