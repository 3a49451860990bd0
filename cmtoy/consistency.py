"""The consistency model f_theta(t, x) and the losses that train it.

Parametrization (after Song et al. 2023, arXiv 2303.01469, Sec. 3 and App. C, written
for a general interpolant x_t = alpha_t x_0 + sigma_t x_1): with sigma_d^2 the data
variance and A_t = alpha_t^2 sigma_d^2 + sigma_t^2 = Var[x_t],

    f_theta(t, x) = c_skip(t) x + c_out(t) F_theta(t, c_in(t) x),
    c_skip = alpha_t sigma_d^2 / A_t,  c_out = sigma_t sigma_d / sqrt(A_t),  c_in = 1 / sqrt(A_t).

At t = 0, c_skip = 1 and c_out = 0, so f_theta(0, x) = x holds exactly (it is enforced,
not left to rounding), the boundary condition the seed page calls essential. c_in keeps
the network input at unit variance; c_skip x is the best linear guess of x_0 for
Gaussian data, so F_theta only learns the non-Gaussian remainder at unit scale.

Losses: the discrete-time methods (ct, cd, ict) minimise lambda_n d(f_theta(t_{n+1},
x_{t_{n+1}}), f_target(t_n, x_{t_n})) with the gradient through the online network at the
later time only; they differ in how x_{t_n} is chosen (:mod:`cmtoy.pairs`) and in the
target network (:mod:`cmtoy.training`). Gradients are hand-written: d loss / d f, then d f / d F = c_out,
then the MLP's own backward.

Shapes: ``t, x: [B]`` unless stated.
"""

from __future__ import annotations

import json

import numpy as np

from . import mlp
from .checkpoint import CheckpointError, load_params, save_params
from .interpolant import Interpolant
from .schedules import SCHEDULES, make_schedule
from .validation import finite_array, real, unit_times

__all__ = [
    "ConsistencyModel", "ExactModel", "scalings", "distance", "DISTANCES", "HUBER_C", "WEIGHTINGS", "loss_weight",
    "consistency_loss", "load_model", "LearnedModel", "MODEL_FORMATS",
]

DISTANCES = ("squared", "pseudo_huber")  # the kinds that :func:`distance` knows
# pseudo-Huber c: iCT's 0.00054 sqrt(dim) is L1-like for dim = 1, whose CT fixed point is a
# conditional median, biased away from f* (benchmarks/bench_ct_fixed_point.py)
HUBER_C = 1.0
WEIGHTINGS = ("uniform", "inverse_dt")  # the kinds that :func:`loss_weight` knows

FORMAT_VERSION = 1
_CHUNK = 16_384  # evaluate large batches in chunks to bound the activation memory


def scalings(schedule, sigma_d, t):
    """(c_skip, c_out, c_in) at times t, with exactly (1, 0, 1/sigma_d) at t = 0.

    t: [*batch] -> three arrays [*batch]
    """
    t = np.asarray(t, dtype=float)
    alpha, sigma = schedule.alpha(t), schedule.sigma(t)
    var_t = alpha * alpha * sigma_d**2 + sigma * sigma  # A_t = Var[x_t] for data variance sigma_d^2
    at_zero = t == 0  # enforce the boundary condition for any schedule, not up to rounding
    c_skip = np.where(at_zero, 1.0, alpha * sigma_d**2 / var_t)
    c_out = np.where(at_zero, 0.0, sigma * sigma_d / np.sqrt(var_t))
    c_in = 1.0 / np.sqrt(var_t)
    return c_skip, c_out, c_in


class LearnedModel:
    """What every learned model of cmtoy holds: a schedule, the data's sigma_d and one
    network's weights, which it can swap, describe and save. Subclasses set FORMAT (the
    saved "format", see :func:`load_model`) and N_TIMES (the network's time inputs).

    Parameters
    ----------
    schedule : Schedule or str
    sigma_d : float
        Standard deviation of the data, > 0 (``sqrt(interp.target.var)``).
    params : mlp.Params
        The network weights, which carry their MLPConfig (the model keeps a reference;
        use ``with_params`` to swap).
    """

    FORMAT = N_TIMES = None

    def __init__(self, schedule, sigma_d, params):
        sigma_d = real("sigma_d", sigma_d, low=0.0, low_open=True)
        if not isinstance(params, mlp.Params):
            raise TypeError(f"params must be cmtoy.mlp.Params, got {type(params).__name__}")
        if params.config.n_times != self.N_TIMES:
            raise ValueError(f"a {type(self).__name__} needs a network of {'one time' if self.N_TIMES == 1 else 'two times'}, "
                             f"MLPConfig(n_times={self.N_TIMES}); got n_times={params.config.n_times}")
        self.schedule = make_schedule(schedule)
        self.sigma_d = sigma_d
        self.params = params

    @classmethod
    def initialise(cls, interp, config, rng):
        """A freshly initialised model for an interpolant. config: MLPConfig; rng: numpy.random.Generator"""
        return cls(interp.schedule, np.sqrt(interp.target.var), mlp.init_params(config, rng))

    def with_params(self, params):
        """The same model with other network weights (no copy of params)."""
        return type(self)(self.schedule, self.sigma_d, params)

    def __repr__(self):
        return f"{type(self).__name__}({self.schedule!r}, sigma_d={self.sigma_d:.4g}, {self.params.config!r})"

    def save(self, path, extra=None):
        """Save to an .npz file (no pickle): weights plus JSON metadata; :func:`load_model` reads it.

        extra : dict, optional JSON-serialisable metadata stored alongside (e.g. the
        training config and final metrics).
        """
        meta = {
            "format": self.FORMAT,
            "format_version": FORMAT_VERSION,
            "schedule": self.schedule.name,
            "sigma_d": self.sigma_d,
            "extra": extra or {},
        }
        json.dumps(meta)  # fail before writing anything if meta is not serialisable
        if meta["schedule"] not in SCHEDULES:
            raise ValueError(f"only the named schedules can be saved, got {self.schedule!r}")
        save_params(path, self.params, meta)

    def _in_chunks(self, evaluate, *arrays):
        """evaluate(*rows) over arrays broadcast together, _CHUNK points at a time, so that
        a large batch does not hold all its activations at once. -> [*batch]"""
        arrays = np.broadcast_arrays(*arrays)
        shape = arrays[0].shape
        flat = [a.ravel() for a in arrays]
        out = np.empty(flat[0].size)
        for i in range(0, out.size, _CHUNK):
            out[i : i + _CHUNK] = evaluate(*(a[i : i + _CHUNK] for a in flat))
        return out.reshape(shape)


class ConsistencyModel(LearnedModel):
    """f_theta(t, x) = c_skip(t) x + c_out(t) F_theta(t, c_in(t) x), F_theta an MLP.

    Parameters: see :class:`LearnedModel` (a network of one time).
    """

    FORMAT = "cmtoy.ConsistencyModel"  # the "format" of its saved metadata (see load_model)
    N_TIMES = 1

    # -- forward / backward ------------------------------------------------------------

    def forward(self, params, t, x, terms=None):
        """f_theta(t, x) and what backward needs. t, x: [B] -> (f [B], cache)

        terms: optional :meth:`time_terms` of these t, computed beforehand.
        """
        if terms is None:
            c_skip, c_out, c_in = scalings(self.schedule, self.sigma_d, t)
            features = None
        else:
            c_skip, c_out, c_in, features = terms
        net_out, net_cache = mlp.forward(params, t, c_in * x, features)  # F_theta(t, c_in x)
        return c_skip * x + c_out * net_out, (c_out, net_cache)

    def time_terms(self, params, t):
        """Everything of f_theta(t, .) that depends on t alone: (c_skip, c_out, c_in [T],
        time features [T, 2 n_fourier]). A training loop whose times lie on a fixed grid
        computes them once per grid point and passes rows of them to :meth:`forward`.
        t: [T] -> tuple of arrays indexed by time along their first axis
        """
        return (*scalings(self.schedule, self.sigma_d, t), mlp.time_features(params, t))

    def backward(self, params, cache, d_f, out=None):
        """Gradient of a loss with respect to the weights, given d loss / d f: [B] -> Params

        out: optional Params to write the gradient into (a training loop reuses one).
        """
        c_out, net_cache = cache
        d_net_out = c_out * d_f  # f = c_skip x + c_out F
        return mlp.backward(params, net_cache, d_net_out, out=out)

    def __call__(self, t, x):
        """f_theta(t, x) with the model's weights. t, x: broadcastable -> [*batch]

        The model is defined for t in [0, 1] and finite x (|x| <= 1e100): anything else
        raises ValueError (TypeError for non-numbers) instead of returning numbers.
        """
        return self._in_chunks(lambda t, x: self.forward(self.params, t, x)[0], unit_times("t", t), finite_array("x", x))


# the saved "format" -> the class built from (schedule, sigma_d, params); cmtoy.flow_maps
# adds the two-time FlowMapModel (it imports this module, so this module cannot import it)
MODEL_FORMATS = {ConsistencyModel.FORMAT: ConsistencyModel}


def load_model(path):
    """Load a model written by :meth:`LearnedModel.save`: a ConsistencyModel or a FlowMapModel.

    returns the model of the file's "format" (:data:`MODEL_FORMATS`). Raises
    FileNotFoundError if there is no such file and CheckpointError (a ValueError)
    naming the file and the problem for anything else: not a model, a missing or
    invalid metadata field, weights that do not fit or are not finite.
    """
    params, meta = load_params(path)
    if meta.get("format") not in MODEL_FORMATS or meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            path, f"not a cmtoy model ({' or '.join(MODEL_FORMATS)}) of format version {FORMAT_VERSION} "
            f"(found format={meta.get('format')!r}, version={meta.get('format_version')!r})"
        )
    missing = [key for key in ("schedule", "sigma_d") if key not in meta]
    if missing:
        raise CheckpointError(path, f"model metadata lacks {', '.join(missing)}")
    try:
        return MODEL_FORMATS[meta["format"]](meta["schedule"], meta["sigma_d"], params)
    except (TypeError, ValueError) as error:
        raise CheckpointError(path, f"invalid model metadata: {error}") from error


class ExactModel:
    """The exact consistency function f*(t, x) = h_{t->0}(x) of an interpolant, as a model.

    It answers what a :class:`ConsistencyModel` answers (``model(t, x)``, ``schedule``,
    ``forward``), so sampling, metrics, figures and losses take it in the place of a
    learned model: sampling with it gives the best any model can do at the same times
    (its W1 is the sampling floor of n samples), and its consistency loss is the loss of
    a perfect model. It has no weights: ``params`` is ignored and there is no gradient.
    """

    def __init__(self, interp):
        if not isinstance(interp, Interpolant):
            raise TypeError(f"interp must be a cmtoy.Interpolant, got {type(interp).__name__}")
        self.interp = interp

    def __repr__(self):
        return f"ExactModel({self.interp!r})"

    @property
    def schedule(self):
        return self.interp.schedule

    def __call__(self, t, x):
        """f*(t, x). t, x: broadcastable -> [*batch]"""
        return self.interp.flow_map(x, t, 0.0)

    def flow_map(self, x, t, s):
        """The exact flow map h_{t->s}(x), as a two-time model's ``flow_map``. x, t, s: broadcastable"""
        return self.interp.flow_map(x, t, s)

    def forward(self, params, t, x, terms=None):
        """(f*(t, x) [B], None): the signature of :meth:`ConsistencyModel.forward`."""
        return self(t, x), None

    def backward(self, params, cache, d_f, out=None):
        """None: the exact model has no weights, so a loss has no gradient to give."""
        return None


# -- losses ------------------------------------------------------------------------------


def distance(diff, kind, huber_c=HUBER_C):
    """d(f_online, f_target) as a function of diff = f_online - f_target, and its derivative.

    "squared": d = diff^2 (Song et al. 2023). "pseudo_huber": d = sqrt(diff^2 + c^2) - c
    (Song & Dhariwal 2023, arXiv 2310.14189, Sec. 3.3), quadratic below c and linear above,
    so rare large differences (across a jump of f*) do not dominate the gradient.

    diff: [B] -> (d [B], d_diff [B])
    """
    if kind == "squared":
        return diff * diff, 2.0 * diff
    if kind == "pseudo_huber":
        root = np.sqrt(diff * diff + huber_c * huber_c)
        return root - huber_c, diff / root
    raise ValueError(f"unknown distance {kind!r}; choose one of {DISTANCES}")


def loss_weight(kind, t_early, t_late):
    """lambda_n of each pair: "uniform" 1, or "inverse_dt" 1 / (t_{n+1} - t_n).

    "inverse_dt" is iCT's (Song & Dhariwal 2023, Sec. 3.5): the loss of a pair falls with
    its dt, and the weight evens out how much the steps of different sizes count. On a
    uniform grid every pair of one curriculum stage has the same dt, so it only rescales
    the loss from stage to stage (which Adam largely undoes); it matters on a non-uniform
    grid (``grid_rho != 1``).

    t_early, t_late: [B] -> [B]
    """
    if kind == "uniform":
        return np.ones(t_late.size)
    if kind == "inverse_dt":
        return 1.0 / (t_late - t_early)
    raise ValueError(f"unknown weighting {kind!r}; choose one of {WEIGHTINGS}")


def consistency_loss(model, params, target_params, t_early, x_early, t_late, x_late, weight,
                     kind="squared", huber_c=HUBER_C, out=None, terms=(None, None)):
    """The consistency loss of one batch and its gradient with respect to params.

    loss = mean_i weight_i d(f_params(t_late, x_late)_i, f_target(t_early, x_early)_i),
    with the target held fixed (stop-gradient): target_params is the EMA network for CT and
    CD (Song et al. 2023, Alg. 2-3) and a frozen copy of params for iCT.

    t_early, x_early, t_late, x_late, weight: [B]; out: optional Params for the gradient;
    terms: optional (early, late) :meth:`ConsistencyModel.time_terms` of t_early and t_late.
    returns (loss float, grads Params)
    """
    # the optional arguments are passed only when given, so any object with forward(params,
    # t, x) and backward(params, cache, d_f) can stand in for the model
    early, late = (() if given is None else (given,) for given in terms)
    f_target = model.forward(target_params, t_early, x_early, *early)[0]
    f_online, cache = model.forward(params, t_late, x_late, *late)
    d, d_diff = distance(f_online - f_target, kind, huber_c)
    loss = float(np.mean(weight * d))
    d_f = weight * d_diff / t_late.size  # d loss / d f_online
    return loss, model.backward(params, cache, d_f, **({} if out is None else {"out": out}))
