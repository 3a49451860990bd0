"""Documentation figures of a *learned* consistency model, scored against the exact one.

Only an exact 1-D explorer can draw these: the learned f_theta next to the exact
f*(t, x) = F_0^{-1}(F_t(x)) and their difference over the whole (t, x) plane; few-step
samples over the exact target density with their exact W1; the induction error of
consistency training against dt; the fixed points that consistency training converges
to. Each function takes the model (and its training history) as arguments: drawing
never trains. The model they are drawn with for the documentation is built on the
training side, by :func:`cmtoy.reference.reference_model`, and handed in.

``model`` is a :class:`cmtoy.consistency.ConsistencyModel`, or anything with
``model(t, x) -> [*batch]`` and a ``schedule`` attribute.
"""

from __future__ import annotations

import matplotlib
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import NullFormatter
from matplotlib.figure import Figure

from ..consistency import ConsistencyModel
from ..gradient_bias import gradient_bias
from ..metrics import ct_fixed_point, induction_error, wasserstein1
from ..mlp import MLPConfig
from ..reference import compact_history
from ..sampling import sample
from .plotting import ARROW, CURVE_TIMES, LINE, finish_figure, styled, time_colors

__all__ = [
    "flow_map_learned_figure", "few_step_samples_figure", "induction_error_figure", "ct_fixed_point_figure",
    "training_curve_figure", "gradient_bias_figure",
]

STEP_TIMES = {1: (1.0,), 2: (1.0, 0.5), 4: (1.0, 0.75, 0.5, 0.25)}  # few-step sampling times


@styled
def flow_map_learned_figure(interp, model, path=None, *, x_lim=(-3.0, 3.0), n_t=200, n_x=150):
    """Left: f_theta(t, .) (dashed) over f*(t, .) (solid) at CURVE_TIMES. Right: |f_theta - f*|.

    The error map is drawn over (t, x) on a log colour scale, with the contour of the
    density p_t at 1% of its peak, so that errors where no x_t ever lands are told apart
    from errors that matter.
    """
    figure = Figure(figsize=(9.0, 3.8))
    left, right = figure.subplots(1, 2, gridspec_kw=dict(left=0.07, right=0.97, bottom=0.16,
                                                         top=0.92, wspace=0.25))
    x = np.linspace(*x_lim, 401)
    for t, color in zip(CURVE_TIMES, time_colors(len(CURVE_TIMES))):
        left.plot(x, interp.flow_map(x, t, 0.0), color=color, label=f"$t = {t:g}$")
        left.plot(x, model(np.full_like(x, t), x), color=color, linestyle="--")
    left.plot([], [], color="grey", label=r"$f^*$ exact")
    left.plot([], [], color="grey", linestyle="--", label=r"$f_\theta$ learned")
    left.set(xlim=x_lim, xlabel="$x_t$", ylabel="$x_0$", title="consistency function")
    left.legend(fontsize=10, loc="upper left", frameon=False)
    ts = (np.arange(n_t) + 0.5) / n_t
    xs = x_lim[0] + (np.arange(n_x) + 0.5) * (x_lim[1] - x_lim[0]) / n_x
    t_grid, x_grid = np.meshgrid(ts, xs)  # [n_x, n_t]
    error = np.abs(model(t_grid, x_grid) - interp.flow_map(x_grid, t_grid, 0.0))
    image = right.imshow(np.maximum(error, 1e-4), extent=(0.0, 1.0, *x_lim), origin="lower",
                         aspect="auto", norm=LogNorm(1e-3, 1.0), cmap="magma")
    p = interp.pdf(t_grid, x_grid)
    right.contour(t_grid, x_grid, p / p.max(axis=0), levels=[0.01], colors="white",
                  linewidths=0.8)
    right.set(xlabel="$t$", ylabel="$x_t$", title=r"$|f_\theta(t, x_t) - f^*(t, x_t)|$")
    figure.colorbar(image, ax=right, pad=0.02)
    return finish_figure(figure, path)


@styled
def few_step_samples_figure(interp, model, path=None, *, n=100_000, seed=0, x_lim=(-2.0, 3.0)):
    """Histograms of 1-, 2- and 4-step samples over the exact target density, W1 in the legend.

    W1 is exact (``cmtoy.wasserstein1`` against the target CDF); the sampling floor at
    n samples is about 1/sqrt(n) times the target's spread.
    """
    figure = Figure(figsize=(7.0, 4.0))
    ax = figure.subplots(gridspec_kw=dict(left=0.1, right=0.97, bottom=0.15, top=0.97))
    x = np.linspace(*x_lim, 1001)
    ax.fill_between(x, interp.target.pdf(x), color="0.85", label="target $p(x_0)$")
    bins = np.linspace(*x_lim, 201)
    for (steps, times), color in zip(STEP_TIMES.items(), (LINE, ARROW, "black")):
        samples = sample(model, np.random.default_rng([seed, steps]), n, times=times)
        w1 = wasserstein1(samples, interp.target)
        ax.hist(samples, bins=bins, density=True, histtype="step", color=color, linewidth=1.2,
                label=f"{steps}-step, $W_1 = {w1:.3f}$")
    ax.set(xlim=x_lim, xlabel="$x_0$", ylabel="density")
    ax.legend(fontsize=11, frameon=False)
    return finish_figure(figure, path)


@styled
def induction_error_figure(interp, path=None, *, t=0.5, dts=None, n=256, seed=0):
    """The induction error of consistency training against dt, on log-log axes.

    Plots the bias (median |E[f*(t, x_t) | x_{t+dt}] - f*(t+dt, x_{t+dt})|, slope ~2) and
    the spread (median std of f*(t, x_t) given x_{t+dt}, slope ~1) from
    ``cmtoy.metrics.induction_error``, with their fitted log-log slopes.
    """
    dts = np.geomspace(1e-4, 1e-2, 9) if dts is None else dts  # the small-dt regime
    curve = induction_error(interp, t, dts, n=n, seed=seed)
    figure = Figure(figsize=(6.0, 4.0))
    ax = figure.subplots(gridspec_kw=dict(left=0.13, right=0.97, bottom=0.15, top=0.97))
    ax.loglog(curve.dts, curve.spread, "o-", color=ARROW, markersize=4,
              label=f"spread, slope {curve.spread_slope:.2f}")
    ax.loglog(curve.dts, curve.bias, "s-", color=LINE, markersize=4,
              label=f"bias, slope {curve.bias_slope:.2f}")
    ax.loglog(curve.dts, curve.mean_bias, ":", color=LINE,
              label=r"bias, mean over $x_{t+\Delta t}$ (jumps of $f^*$)")
    ax.set(xlabel=r"$\Delta t$", ylabel=f"error of the target at $t = {t:g}$")
    ax.grid(which="major")
    ax.legend(fontsize=11, frameon=False)
    return finish_figure(figure, path)


@styled
def ct_fixed_point_figure(interp, path=None, *, ns=(16, 64, 256, 1024), model=None, x_lim=(0.3, 1.4),
                          n_x=5001, n=100_000, seed=0):
    """Where consistency training can get to: f_N(1, .) for a few grid sizes N, and f*(1, .).

    f_N is the exact fixed point of CT on the uniform grid of N steps
    (``cmtoy.metrics.ct_fixed_point``, squared distance): what a perfect optimiser of the
    CT loss would learn. Each legend entry has its exact 1-step W1 (n noise samples). With
    ``model``, its f_theta(1, .) is drawn too, to see how far training is from its floor.
    The default x_lim zooms on the seed mixture's jump between its modes.

    ns: grid sizes N >= 1; n_x: points on [-5, 5] at which f_N is computed (spacing 0.002 by
    default, coarser than benchmarks/bench_ct_fixed_point.py uses: enough for the picture,
    and quicker; see ``ct_fixed_point`` on why the spacing matters).
    """
    ns = np.asarray(ns)
    if ns.ndim != 1 or ns.size == 0 or ns.dtype.kind not in "iu" or np.any(ns < 1):
        raise ValueError(f"ns must be a non-empty list of integers >= 1, got {ns.tolist()}")
    x = np.linspace(-5.0, 5.0, n_x)  # covers x_1 ~ N(0, 1) beyond any sample of n <= 10^6
    noise = np.random.default_rng(seed).standard_normal(n)
    figure = Figure(figsize=(7.0, 4.0))
    ax = figure.subplots(gridspec_kw=dict(left=0.1, right=0.97, bottom=0.15, top=0.97))
    ax.plot(x, interp.consistency_function(1.0, x), color="black", linewidth=2.0, label="exact $f^*(1, x)$")
    for n_steps, color in zip(ns, time_colors(ns.size)):
        f_n = ct_fixed_point(interp, np.linspace(0.0, 1.0, int(n_steps) + 1), x)
        w1 = wasserstein1(np.interp(noise, x, f_n), interp.target)
        ax.plot(x, f_n, color=color, label=f"CT fixed point, $N = {n_steps}$: $W_1 = {w1:.3f}$")
    if model is not None:
        w1 = wasserstein1(model(np.ones_like(noise), noise), interp.target)
        ax.plot(x, model(np.ones_like(x), x), "--", color=LINE, label=rf"$f_\theta(1, x)$: $W_1 = {w1:.3f}$")
    zoom = interp.consistency_function(1.0, np.linspace(*x_lim, 201))
    pad = 0.25 * (zoom.max() - zoom.min())
    ax.set(xlim=x_lim, ylim=(zoom.min() - 2 * pad, zoom.max() + pad), xlabel="$x_1$", ylabel="$f(1, x_1)$")
    ax.legend(fontsize=10, frameon=False, loc="lower right")
    return finish_figure(figure, path)


@styled
def training_curve_figure(history, path=None):
    """The loss (means over blocks of steps) and the exact metrics during training.

    history: as returned by ``cmtoy.train`` or :func:`cmtoy.reference.compact_history`.
    """
    history = compact_history(history)
    figure = Figure(figsize=(7.0, 5.0))
    top, bottom = figure.subplots(2, 1, sharex=True, gridspec_kw=dict(
        left=0.12, right=0.97, bottom=0.11, top=0.97, hspace=0.08))
    top.semilogy(history["loss_steps"], history["loss"], color="black")
    top.set(ylabel="loss")
    steps = [e["step"] for e in history["evals"]]
    for key, label, color in (("w1_1step", "1-step $W_1$", LINE),
                              ("w1_2step", "2-step $W_1$", ARROW),
                              ("flow_map_error", r"$E|f_\theta - f^*|$", "black")):
        bottom.semilogy(steps, [e[key] for e in history["evals"]], "o-", markersize=3,
                        color=color, label=label)
    bottom.set(xlabel="training step", ylabel="exact metric")
    bottom.legend(fontsize=11, frameon=False)
    for ax in (top, bottom):
        ax.grid(which="major")
    return finish_figure(figure, path)


@styled
def gradient_bias_figure(interp, path=None, *, model=None, seed=0, **measure):
    """Why sct needs no teacher: its gradient error falls like 1 / sqrt(B); ct's bias stays.

    Left: the batch-mean error of the sct gradient against the scd gradient (exact
    velocity) as the batch B grows, with the pair's own velocity v_hat (unbiased) and
    with the velocity of the batch's data (unbiased too, less noise), and, dashed, the bias of the discrete CT gradient per
    unit dt, which no batch removes. Right: that bias against dt, with its fitted slope,
    for two numbers of draws (it does not shrink with them). All at fixed weights: ``model``,
    or a freshly initialised network (``seed``); ``measure`` goes to
    :func:`cmtoy.gradient_bias.gradient_bias`.
    """
    if model is None:
        model = ConsistencyModel.initialise(interp, MLPConfig(), np.random.default_rng(seed))
    result = gradient_bias(model, interp, seed=seed, **measure)
    figure = Figure(figsize=(10.0, 4.0))
    left, right = figure.subplots(1, 2, gridspec_kw=dict(left=0.11, right=0.98, bottom=0.15, top=0.9, wspace=0.34))
    left.loglog(result.batches, result.sct_error, "o-", color=LINE, markersize=4, label="sct, the pair's $\\hat v$")
    left.loglog(result.batches, result.batch_error, "^-", color=ARROW, markersize=4, label="sct, the batch's velocity")
    for dt, bias, color in zip(result.dts, result.ct_bias, time_colors(result.dts.size)):
        left.axhline(bias, linestyle="--", color=color)
        left.text(result.batches[-1], bias * 1.06, f"ct, $\\Delta t$ = {dt:g}", ha="right", va="bottom",
                  fontsize=10, color=color)
    left.set(xlabel="batch size $B$", ylabel="gradient error, relative to scd",
             title=f"sct $-$ scd: slope {result.sct_slope:.2f}",
             ylim=(0.7 * min(result.sct_error.min(), result.batch_error.min(), result.ct_bias.min()),
                   1.5 * max(result.sct_error.max(), result.ct_bias.max())))
    left.legend(fontsize=10, frameon=False, loc="lower left")
    right.loglog(result.dts, result.ct_bias, "s-", color=ARROW, markersize=4, label="all draws")
    right.loglog(result.dts, result.ct_bias_half, "x", color=LINE, markersize=7, label="half of them")
    right.set(xlabel=r"$\Delta t$", ylabel="bias of ct per unit $\\Delta t$",
              title=f"ct bias: slope {result.ct_slope:.2f}")
    right.legend(fontsize=10, frameon=False, loc="upper left")
    for ax in (left, right):
        ax.grid(which="major")
        ax.xaxis.set_minor_formatter(NullFormatter())
    return finish_figure(figure, path)
