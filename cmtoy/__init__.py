"""cmtoy: see how consistency models work, exactly, on one-dimensional Gaussian mixtures.

The theory is Song et al. 2023, *Consistency Models* (arXiv 2303.01469), on the
stochastic interpolant x_t = alpha_t x_0 + sigma_t x_1 of Albergo et al. 2023
(arXiv 2303.08797). In one dimension every object of the theory has a closed form,
which cmtoy computes exactly and uses as ground truth.

Plotting (``cmtoy.plotting``, ``cmtoy.figures``) and the notebook widgets
(``cmtoy.widgets``) are imported explicitly, so ``import cmtoy`` loads neither
matplotlib nor ipywidgets.
"""

from .checkpoint import CheckpointError
from .consistency import ConsistencyModel, load_model
from .interpolant import Interpolant
from .metrics import flow_map_error, induction_error, wasserstein1
from .mlp import MLPConfig
from .optim import LRSchedule
from .sampling import sample
from .schedules import CosineSchedule, LinearSchedule, Schedule
from .targets import SEED_MIXTURE, GaussianMixture
from .training import METHODS, TrainConfig, train

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
    "ConsistencyModel",
    "load_model",
    "TrainConfig",
    "METHODS",
    "train",
    "sample",
    "wasserstein1",
    "flow_map_error",
    "induction_error",
]
