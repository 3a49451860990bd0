"""Why continuous-time consistency training needs no teacher: its gradient is unbiased.

At fixed weights theta, four estimates of the consistency gradient are compared on the
*same* draws (t, x_0, x_1) with t ~ U[t_min, 1] (common random numbers, so that only what
differs between them is measured). All are of the form mean_i d_i grad f_theta(t_i, x_t_i),
the gradient of the continuous consistency loss in the units of f (``parametrisation=
"time"``, no normalisation, no adaptive weight):

- scd: d = df/dt along the exact velocity ``Interpolant.velocity``, the reference G;
- sct: d = df/dt along the conditional velocity v_hat = alpha' x_0 + sigma' x_1 of the pair.
  Since E[v_hat | x_t] = v(t, x_t) and df/dt is linear in the velocity, E[sct - scd] = 0:
  the batch-mean error falls like 1 / sqrt(B), to zero (Song et al. 2023, arXiv
  2303.01469, Thm. 6 and Remark 10);
- sct with the batch's velocity: d = df/dt along :func:`cmtoy.continuous.batch_velocity`,
  the exact velocity of the batch's own data (sct's default). It is unbiased too (its
  docstring says why). Where t is large every x_0 of the batch explains x_t and v_hat's
  noise averages out; near t = 0 only the pair's own x_0 does and the noise stays. So at
  every batch its error is below sct's with v_hat, and it too falls with B;
- ct per unit dt: d = (f(t, x_t) - f(t - dt, x_{t - dt})) / dt with x_{t - dt} on the same
  line x_0 -> x_1, the discrete CT loss's gradient divided by dt. It tends to sct as
  dt -> 0, but at a finite dt it is biased by O(dt): the line is not the flow line, and
  averaging over the pairs removes the first-order error only. No batch removes it.

Errors are relative to |G| (the Euclidean norm over all weights), estimated with the
largest batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .consistency import ConsistencyModel
from .continuous import batch_velocity, line_point, tangent
from .interpolant import Interpolant
from .metrics import loglog_slope
from .validation import check_rng, integer, real, real_array

__all__ = ["GradientBias", "gradient_bias"]


@dataclass(frozen=True)
class GradientBias:
    """The curves of :func:`gradient_bias`; slopes are least-squares log-log fits."""

    batches: np.ndarray  # [m] batch sizes B
    sct_error: np.ndarray  # [m] RMS over repeats of |mean_B (sct - scd)| / |G|
    sct_slope: float  # d log(sct_error) / d log(B): -1/2 for an unbiased estimate
    batch_error: np.ndarray  # [m] the same for sct with the batch's velocity, the batch its data
    batch_slope: float  # d log(batch_error) / d log(B)
    dts: np.ndarray  # [q] steps dt of the discrete CT gradient
    ct_bias: np.ndarray  # [q] |mean_n (ct(dt) - sct)| / |G| with n = n_bias draws
    ct_bias_half: np.ndarray  # [q] the same with the first n_bias / 2 draws: no smaller
    ct_slope: float  # d log(ct_bias) / d log(dt): 1 for an O(dt) bias
    gradient_norm: float  # |G|, the norm of the scd gradient


def _draws(interp, rng, n, t_min):
    t = rng.uniform(t_min, 1.0, n)
    x_0, x_1 = interp.target.sample(rng, n), rng.standard_normal(n)
    return t, x_0, x_1


def _directions(model, interp, t, x_0, x_1, dts=(), batch=False):
    """Per-sample d of each estimate and the cache of f_theta(t, x_t) for the backward pass.

    returns (cache, d_scd [n], d_sct [n], [d_ct(dt) [n] for dt in dts], d_batch [n] or None),
    d_batch the sct estimate with the velocity of the n draws' data if ``batch``
    """
    schedule, params = model.schedule, model.params
    x_t, v_hat = line_point(schedule, t, x_0, x_1)
    f, cache = model.forward(params, t, x_t)
    d_sct = tangent(model, params, t, x_t, v_hat).df_dt()
    d_batch = tangent(model, params, t, x_t, batch_velocity(schedule, t, x_t, x_0, v_hat)).df_dt() if batch else None
    d_scd = tangent(model, params, t, x_t, interp.velocity(t, x_t)).df_dt()
    d_ct = []
    for dt in dts:
        s = t - dt  # the earlier point of the pair, on the same line
        f_s = model.forward(params, s, line_point(schedule, s, x_0, x_1)[0])[0]
        d_ct.append((f - f_s) / dt)
    return cache, d_scd, d_sct, d_ct, d_batch


def gradient_bias(model, interp, *, batches=(16, 64, 256, 1024, 4096), repeats=16, dts=(0.003, 0.01, 0.03),
                  n_bias=1 << 14, t_min=0.05, rng=None, seed=0):
    """Measure the error of the sct and discrete-ct gradients against the scd gradient.

    Parameters
    ----------
    model : ConsistencyModel (its weights are the fixed theta)
    interp : Interpolant
    batches : [m] batch sizes >= 1 of the sct estimate, each drawn ``repeats`` times
    dts : [q] steps in (0, t_min] of the discrete CT gradient
    n_bias : int >= 2, draws for the CT bias and for |G|
    t_min : float in (0, 1), the smallest training time

    Returns
    -------
    GradientBias
    """
    if not isinstance(model, ConsistencyModel):
        raise TypeError(f"model must be a cmtoy.ConsistencyModel, got {type(model).__name__}")
    if not isinstance(interp, Interpolant):
        raise TypeError(f"interp must be a cmtoy.Interpolant, got {type(interp).__name__}")
    batches = np.atleast_1d(real_array("batches", batches))
    if batches.ndim != 1 or batches.size == 0 or np.any(batches < 1) or np.any(batches != np.round(batches)):
        raise ValueError(f"batches must be a non-empty 1-D array of integers >= 1, got {batches.tolist()}")
    repeats = integer("repeats", repeats, low=1)
    n_bias = integer("n_bias", n_bias, low=2)
    t_min = real("t_min", t_min, low=0.0, high=1.0, low_open=True, high_open=True)
    dts = np.atleast_1d(real_array("dts", dts))
    if dts.ndim != 1 or dts.size == 0 or not np.all((dts > 0) & (dts <= t_min)):
        raise ValueError(f"dts must be a non-empty 1-D array of steps in (0, t_min] = (0, {t_min:g}], "
                         f"got {dts.tolist()}")
    rng = np.random.default_rng(integer("seed", seed, low=0)) if rng is None else rng
    check_rng(rng)

    def gradient(cache, d):  # mean_i d_i grad f_theta(t_i, x_t_i) -> [P]
        return model.backward(model.params, cache, d / d.size).flat.astype(np.float64)

    cache, d_scd, d_sct, d_ct, _ = _directions(model, interp, *_draws(interp, rng, n_bias, t_min), dts)
    norm = float(np.linalg.norm(gradient(cache, d_scd)))
    half = n_bias // 2
    ct_bias, ct_bias_half = np.empty(dts.size), np.empty(dts.size)
    for j, d in enumerate(d_ct):
        ct_bias[j] = np.linalg.norm(gradient(cache, d - d_sct)) / norm
        first = np.where(np.arange(n_bias) < half, d - d_sct, 0.0) * (n_bias / half)  # the mean over half
        ct_bias_half[j] = np.linalg.norm(gradient(cache, first)) / norm
    sct_error, batch_error = np.empty(batches.size), np.empty(batches.size)
    for i, b in enumerate(batches.astype(int)):
        errors = []
        for _ in range(repeats):
            cache, d_scd, d_sct, _, d_batch = _directions(model, interp, *_draws(interp, rng, b, t_min), batch=True)
            errors.append([np.linalg.norm(gradient(cache, d - d_scd)) / norm for d in (d_sct, d_batch)])
        sct_error[i], batch_error[i] = np.sqrt(np.mean(np.square(errors), axis=0))
    return GradientBias(batches.astype(int), sct_error, loglog_slope(batches, sct_error), batch_error,
                        loglog_slope(batches, batch_error), dts, ct_bias, ct_bias_half, loglog_slope(dts, ct_bias),
                        norm)
