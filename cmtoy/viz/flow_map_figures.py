"""Documentation figures of a learned two-time flow map X_theta(t, s, x), scored against the exact one.

The exact flow map h_{t->s} = F_s^{-1} o F_t is known for every pair of times, so a learned
flow map can be drawn over it and scored everywhere: its trajectories s -> X_theta(1, s, x_1)
over the exact flow lines of the seed's probability-flow figure, its mean error on the
(t, s) triangle, and the W1 of its samples against the number of steps, composing the map
(no fresh noise) or re-noising its s = 0 slice (Song et al. 2023, Alg. 1), beside the exact
map. Each function takes the model as an argument: drawing never trains (the documentation's
flow map is built by :func:`cmtoy.reference.reference_model` with
:data:`cmtoy.reference.FLOW_MAP_TRAINING`).

``model`` is a :class:`cmtoy.flow_maps.FlowMapModel`, or anything with
``flow_map(x, t, s)``, ``model(t, x)`` and a ``schedule``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ..consistency import ExactModel
from ..flow_map_metrics import two_time_error_grid
from ..metrics import wasserstein1
from ..sampling import sample
from .plotting import ARROW, LINE, finish_figure, make_flow_axes, noise_quantiles, plot_density, plot_frame, plot_paths, styled

__all__ = ["flow_map_trajectories_figure", "flow_map_error_grid_figure", "flow_map_steps_figure", "STEPS"]

STEPS = (1, 2, 4, 8)  # numbers of sampling steps of flow_map_steps_figure


@styled
def flow_map_trajectories_figure(interp, model, path=None, *, n_paths=12):
    """The learned trajectories s -> X_theta(1, s, x_1) (dashed) over the exact flow lines (white).

    The paths start at ``n_paths`` evenly spaced noise quantiles x_1, as in the seed's
    probability-flow figure; each learned point is one jump of the map from t = 1, not a
    step of an ODE solver, so where a dashed line leaves its white one the map is wrong.
    """
    axes = make_flow_axes(schedule_grid=True)
    plot_frame(axes, interp)
    plot_density(axes.flow, interp)
    ts = np.linspace(0.0, 1.0, 101)
    x_1 = noise_quantiles(n_paths)
    plot_paths(axes.flow, ts, interp.trajectories(x_1, ts), color="white", alpha=0.7, linewidth=1.2)
    plot_paths(axes.flow, ts, model.flow_map(x_1[None, :], 1.0, ts[:, None]), color=LINE, linewidth=1.2,
               linestyle="--")
    return finish_figure(axes.figure, path)


@styled
def flow_map_error_grid_figure(interp, model, path=None, *, n_t=41, n=256):
    """The mean error E_{x ~ p_t} |X_theta(t, s, x) - h_{t->s}(x)| over the (t, s) triangle, log colours.

    From :func:`cmtoy.flow_map_metrics.two_time_error_grid` (n quantiles of p_t per t, no sampling
    noise); above the diagonal a flow map is undefined and the cells stay blank. The
    one-step map is the corner t = 1, s = 0.
    """
    ts = np.linspace(0.0, 1.0, n_t)
    grid = two_time_error_grid(model, interp, ts, n=n)  # [t, s]
    figure = Figure(figsize=(5.5, 4.5))
    ax = figure.subplots(gridspec_kw=dict(left=0.13, right=0.95, bottom=0.13, top=0.92))
    step = ts[1] - ts[0]
    off_diagonal = grid[np.tril_indices(n_t, -1)]
    image = ax.imshow(np.maximum(grid.T, 1e-4), origin="lower", aspect="equal", cmap="magma",
                      extent=(-step / 2, 1 + step / 2, -step / 2, 1 + step / 2),
                      norm=LogNorm(1e-3, max(1e-2, float(off_diagonal.max()))))
    ax.set(xlabel="$t$ (from)", ylabel="$s$ (to)", title=r"$E\,|X_\theta(t, s, x_t) - h_{t\to s}(x_t)|$")
    figure.colorbar(image, ax=ax, pad=0.02)
    return finish_figure(figure, path)


@styled
def flow_map_steps_figure(interp, model, path=None, *, steps=STEPS, n=100_000, seed=0):
    """Exact W1 of n samples against the number of steps: composition, re-noising, the exact map.

    Steps at uniform times 1, 1 - 1/k, ..., 1/k. Composition (``chain="compose"``) of the
    exact map gives the exact sample at any number of steps, so its line is the sampling
    floor of n samples; the re-noising chain of the exact map is exact too.
    """
    figure = Figure(figsize=(6.0, 4.0))
    ax = figure.subplots(gridspec_kw=dict(left=0.13, right=0.97, bottom=0.15, top=0.97))
    exact = ExactModel(interp)
    lines = ((model, "compose", LINE, "o-", r"$X_\theta$ composed"),
             (model, "renoise", ARROW, "s-", r"$X_\theta(\cdot, 0, \cdot)$ re-noised"),
             (exact, "compose", "black", ":", "exact map (sampling floor)"))
    for which, chain, color, marker, label in lines:
        w1 = [wasserstein1(sample(which, np.random.default_rng([seed, k]), n, times=np.linspace(1.0, 0.0, k + 1)[:-1],
                                  chain=chain), interp.target) for k in steps]
        ax.semilogy(steps, w1, marker, color=color, markersize=4, label=label)
    ax.set(xscale="log", xticks=steps, xticklabels=[str(k) for k in steps], xlabel="sampling steps",
           ylabel="exact $W_1$ to the target")
    ax.minorticks_off()
    ax.grid(which="major")
    ax.legend(fontsize=11, frameon=False)
    return finish_figure(figure, path)
