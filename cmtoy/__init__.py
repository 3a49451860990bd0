"""cmtoy: see how consistency models work, exactly, on one-dimensional Gaussian mixtures.

The theory is Song et al. 2023, *Consistency Models* (arXiv 2303.01469), on the
stochastic interpolant x_t = alpha_t x_0 + sigma_t x_1 of Albergo et al. 2023
(arXiv 2303.08797). In one dimension every object of the theory has a closed form,
which cmtoy computes exactly and uses as ground truth.

The modules, in reading order (one concept each; data flows down the list):

==========================  ===========================================================
``validation``              the checks every public function runs on its arguments
``targets``                 ``GaussianMixture``, the law of x_0; ``SEED_MIXTURE``
``mixture_kernels``         log-space mixture densities and CDFs, the quantile solvers
``quantile_table``          a mixture's quantiles tabulated on normal scores (fast ppf)
``schedules``               alpha_t, sigma_t and their derivatives (linear, cosine)
``interpolant``             p_t, F_t, score, posterior means, velocity, the exact flow map
``exact_flow``              the flow map h_{t->s} = F_s^{-1}(F_t(x)), solved to full precision
``mlp``                     the network F_theta: forward, hand-written backward, JVP
``optim``                   Adam, EMA, the learning-rate schedule (of a run, in blocks)
``checkpoint``              save and load arrays + JSON, atomic, without pickle
``consistency``             f_theta = c_skip x + c_out F_theta; the exact model; losses
``pairs``                   what a training step learns from: grid, curriculum, batches
``continuous``              sct and scd: the tangent d/dt f in TrigFlow coordinates, stabilisers
``flow_maps``               ``FlowMapModel`` X_theta(t, s, x) with X_theta(t, t, x) = x
``flow_map_losses``         how a flow map learns: MeanFlow, self-distillation, distillation
``divergence``              stopping a run whose loss or weights blow up, saying why
``training``                ``TrainConfig`` and ``train``, one loop for every method
``reference``               the seeded model the documentation's figures show
``sampling``                one-step and multistep sampling, flow-map composition
``metrics``                 exact W1, the consistency function's error, induction error, CT fixed point
``flow_map_metrics``        a two-time map's errors and the exact W1 of composition's law
``gradient_bias``           sct's gradient is unbiased, discrete ct's is not: measured
``cli``                     ``python -m cmtoy figures`` / ``train``
``viz``                     everything that draws (matplotlib) or wires sliders (ipywidgets)
``exercises``               the checkers of the classroom exercises
==========================  ===========================================================

``import cmtoy`` loads neither matplotlib nor ipywidgets: only ``cmtoy.viz`` does, and it
is imported explicitly (``from cmtoy.viz.widgets import ProbabilityFlowExplorer``).
"""

import importlib.abc
import sys

from .checkpoint import CheckpointError
from .consistency import ConsistencyModel, ExactModel, load_model
from .flow_map_metrics import composition_w1, two_time_error, two_time_error_grid
from .flow_maps import FlowMapModel
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
    "ExactModel",
    "FlowMapModel",
    "load_model",
    "TrainConfig",
    "METHODS",
    "train",
    "sample",
    "wasserstein1",
    "composition_w1",
    "flow_map_error",
    "two_time_error",
    "two_time_error_grid",
    "induction_error",
]

# Modules that moved into cmtoy.viz: importing one by its old name says where it went.
MOVED = {f"{__name__}.{name}": f"{__name__}.viz.{name}"
         for name in ("plotting", "figures", "learned_figures", "explorer", "widgets", "learned_widgets")}


class _MovedModuleFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            raise ModuleNotFoundError(f"{fullname} moved to {MOVED[fullname]}: import it from there", name=fullname)
        return None


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())
