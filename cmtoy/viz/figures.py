"""The seed page's figures, one function each, and the registry of all documentation figures.

Each ``*_figure`` function builds its figure from the exact interpolant (seed mixture,
linear schedule unless told otherwise), returns the ``Figure`` so that notebooks can show
it, and writes it when given a ``path`` (byte-stable and atomic:
:func:`cmtoy.viz.plotting.save_figure`). :data:`FIGURES` maps each name of
``python -m cmtoy figures --only NAME`` to its file name and function, the seed page's
figures and those of :mod:`cmtoy.viz.learned_figures`; :func:`write_figures` writes a
selection into a directory. The figures of a learned model are drawn with the model they
are handed: drawing never trains.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from ..interpolant import Interpolant
from ..schedules import LinearSchedule
from ..targets import SEED_MIXTURE
from .flow_map_figures import flow_map_error_grid_figure, flow_map_steps_figure, flow_map_trajectories_figure
from .learned_figures import (
    few_step_samples_figure, flow_map_learned_figure, gradient_bias_figure, induction_error_figure,
    training_curve_figure,
)
from .plotting import (
    BACKGROUND, LINE, finish_figure, make_flow_axes, noise_quantiles, plot_arrow, plot_density, plot_frame,
    plot_paths, plot_points, styled,
)

__all__ = [
    "FIGURES", "SEED_FIGURES", "write_figures", "check_figure_names", "needs_model", "needs_flow_map",
    "probability_flow_figure", "integration_figure", "slope_distribution_figure",
]

SLOPE_TIMES = (0.2, 0.4, 0.6, 0.8)  # the times t of slope_distribution_{0..3}


def _seed_interpolant():
    return Interpolant(SEED_MIXTURE, LinearSchedule())


@styled
def probability_flow_figure(path=None, *, interp=None, n_paths=16):
    """Seed figure 1: the density of x_t over (t, x) and exact probability-flow paths.

    ``n_paths`` white trajectories start at evenly spaced noise quantiles at t = 1 and
    follow the exact flow map h_{1->t} = F_t^{-1} o F_1 back to t = 0.
    """
    interp = _seed_interpolant() if interp is None else interp
    axes = make_flow_axes(schedule_grid=True)
    plot_frame(axes, interp)
    plot_density(axes.flow, interp)
    ts = np.linspace(0.0, 1.0, 201)
    plot_paths(axes.flow, ts, interp.trajectories(noise_quantiles(n_paths), ts),
               color="white", alpha=0.5, linewidth=1.0)
    return finish_figure(axes.figure, path)


def _through_two_points(schedule, s, x_s, t, x_t):
    """The pair (x_0, x_1) whose interpolant path passes through (s, x_s) and (t, x_t)."""
    a = np.array([[schedule.alpha(s), schedule.sigma(s)], [schedule.alpha(t), schedule.sigma(t)]])
    return np.linalg.solve(a.astype(float), [x_s, x_t])


@styled
def integration_figure(path=None, *, annotated=False, interp=None, s=0.5, t=0.7, n_paths=8):
    """Seed figure 2, one step of the inductive process (and its annotated variant).

    Two points (s, x_s) and (t, x_t), s < t, lie on one interpolant path x_0 -> x_1 (the
    straight orange line). The exact flow trajectories through them (solid from s,
    dashed from t) land at different points at t = 0: a consistency function trained
    on this pair learns f(t, x_t) from the target f(s, x_s). The points are on the top
    two of ``n_paths`` grey trajectories started at noise quantiles.

    ``annotated`` labels x_0, x_1, x_t, x_{t+dt} and draws the arrows F_t (the exact
    map of the earlier point) and f_theta (the model at the later point).
    """
    interp = _seed_interpolant() if interp is None else interp
    if not 0.0 < s < t <= 1.0:
        raise ValueError(f"need 0 < s < t <= 1, got s={s!r}, t={t!r}")
    axes = make_flow_axes(x_lim=(-2.0, 4.0) if annotated else (-3.0, 3.0), schedule_grid=annotated)
    plot_frame(axes, interp)
    ax = axes.flow
    noise = noise_quantiles(n_paths)
    x_s, x_t = interp.flow_map(noise[-1], 1.0, s), interp.flow_map(noise[-2], 1.0, t)
    x_0, x_1 = _through_two_points(interp.schedule, s, x_s, t, x_t)
    ts = np.linspace(0.0, 1.0, 201)
    style = dict(color=BACKGROUND, linewidth=1.0, zorder=1)
    plot_paths(ax, ts, interp.trajectories(noise[:-2], ts), **style)
    for start, point in ((s, x_s), (t, x_t)):  # the two chosen paths, grey after the point
        later = np.linspace(start, 1.0, 101)
        plot_paths(ax, later, interp.flow_map(point, start, later), **style)
    plot_paths(ax, ts, interp.interpolate(ts[:, None], x_0, x_1), color=LINE,
               linewidth=1.0, zorder=2)
    ends = []
    for start, point, dash in ((s, x_s, "-"), (t, x_t, "--")):
        earlier = np.linspace(0.0, start, 101)
        back = interp.flow_map(point, start, earlier)
        plot_paths(ax, earlier, back, color="black", linestyle=dash, zorder=3)
        ends.append(back[0])
    if not annotated:
        plot_points(ax, [s, t], [x_s, x_t], [r"$(s, x_s)$", r"$(t, x_t)$"], [(8, 20), (0, -20)])
        return finish_figure(axes.figure, path)
    plot_points(ax, [s, t], [x_s, x_t], [r"$x_t$", r"$x_{t+\Delta t}$"], [(0, 16), (14, 16)])
    plot_points(ax, [0.0, 0.0], ends, size=5.0)
    plot_points(ax, [0.0, 1.0], [x_0, x_1], [r"$x_0$", r"$x_1$"], [(12, 16), (-12, -20)],
                color=LINE, size=5.0)
    plot_arrow(ax, (s - 0.02, x_s + 0.2), (0.03, ends[0] + 0.1), curvature=0.4)
    plot_arrow(ax, (t - 0.03, x_t - 0.06), (0.03, ends[1] - 0.12), curvature=-0.35)
    ax.text(0.27, 2.75, r"$F_t$", ha="center", va="center")
    ax.text(0.29, -0.05, r"$f_\theta$", ha="center", va="center")
    return finish_figure(axes.figure, path)


@styled
def slope_distribution_figure(path=None, *, t=0.4, interp=None, n_lines=50, n_paths=16,
                              path_index=12, seed=0):
    """Interpolant paths x_0 -> x_1 through one point (t, x_t), x_0 from the posterior.

    The point lies on trajectory ``path_index`` of ``n_paths`` (black; the others grey).
    The ``n_lines`` orange lines are the interpolant paths of pairs (x_0, x_1) with
    x_0 ~ p(x_0 | x_t) and x_1 = (x_t - alpha_t x_0) / sigma_t: their mean slope at t is
    the flow velocity v_t(x_t), the tangent of the black trajectory (seed eq. 2 and the
    definition of v_t as E[d x_t / dt | x_t]).
    """
    interp = _seed_interpolant() if interp is None else interp
    if not 0.0 < t < 1.0:
        raise ValueError(f"t must lie in (0, 1) for posterior lines, got {t!r}")
    axes = make_flow_axes(schedule_grid=True)
    plot_frame(axes, interp)
    ax = axes.flow
    noise = noise_quantiles(n_paths)
    ts = np.linspace(0.0, 1.0, 201)
    paths = interp.trajectories(noise, ts)
    x_t = float(interp.flow_map(noise[path_index], 1.0, t))
    x_0 = interp.sample_posterior_x0(np.random.default_rng(seed), n_lines, t, x_t)
    x_1 = (x_t - interp.schedule.alpha(t) * x_0) / interp.schedule.sigma(t)
    others = np.delete(np.arange(n_paths), path_index)
    plot_paths(ax, ts, paths[:, others], color=BACKGROUND, linewidth=1.0, zorder=1)
    plot_paths(ax, ts, interp.interpolate(ts[:, None], x_0, x_1), color=LINE,
               alpha=0.5, zorder=2)
    plot_paths(ax, ts, paths[:, path_index], color="black", zorder=3)
    plot_points(ax, [t], [x_t], [r"$(t, x_t)$"], [(0, 20)], size=4.0)
    return finish_figure(axes.figure, path)


# -- the registry ----------------------------------------------------------------------


def _flow_map_learned(path, model, history):
    return flow_map_learned_figure(_seed_interpolant(), model, path)


def _few_step_samples(path, model, history):
    return few_step_samples_figure(_seed_interpolant(), model, path)


def _training_curve(path, model, history):
    return training_curve_figure(history, path)


def _induction_error(path):
    return induction_error_figure(_seed_interpolant(), path)


def _gradient_bias(path):
    return gradient_bias_figure(_seed_interpolant(), path)


def _flow_map_figure(make):
    """make(interp, model, path) as a registry entry make(path, flow_map)."""
    return lambda path, flow_map: make(_seed_interpolant(), flow_map, path)


class FigureSpec(NamedTuple):
    filename: str  # written into the output directory
    make: Callable  # make(path) -> Figure, or make(path, model, history) if needs_model
    needs_model: bool = False  # drawn with a trained model (the documentation's reference model)
    needs_flow_map: bool = False  # drawn with a trained flow map: make(path, flow_map)


FIGURES = {
    "probability_flow": FigureSpec("probability_flow.png", probability_flow_figure),
    "consistency_model_integration": FigureSpec(
        "consistency_model_integration.svg", integration_figure),
    "consistency_models_integration": FigureSpec(
        "consistency_models_integration.svg",
        functools.partial(integration_figure, annotated=True)),
    **{
        f"slope_distribution_{i}": FigureSpec(
            f"slope_distribution_{i}.svg", functools.partial(slope_distribution_figure, t=t))
        for i, t in enumerate(SLOPE_TIMES)
    },
    "induction_error": FigureSpec("induction_error.svg", _induction_error),
    "gradient_bias": FigureSpec("gradient_bias.svg", _gradient_bias),
    "flow_map_learned": FigureSpec("flow_map_learned.png", _flow_map_learned, True),
    "few_step_samples": FigureSpec("few_step_samples.svg", _few_step_samples, True),
    "training_curve": FigureSpec("training_curve.svg", _training_curve, True),
    "flow_map_trajectories": FigureSpec("flow_map_trajectories.png", _flow_map_figure(flow_map_trajectories_figure),
                                        needs_flow_map=True),
    "flow_map_error_grid": FigureSpec("flow_map_error_grid.svg", _flow_map_figure(flow_map_error_grid_figure),
                                      needs_flow_map=True),
    "flow_map_steps": FigureSpec("flow_map_steps.svg", _flow_map_figure(flow_map_steps_figure), needs_flow_map=True),
}
SEED_FIGURES = [name for name in FIGURES if name.startswith(("probability", "consistency", "slope"))]


def check_figure_names(names):
    """The names as a list (all figures when None); ValueError for an unknown one, listing the valid ones."""
    names = list(FIGURES) if names is None else list(names)
    unknown = [name for name in names if name not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure {unknown[0]!r}; valid names: {', '.join(FIGURES)}")
    return names


def needs_model(names):
    """Whether any of the named figures draws a trained model."""
    return any(FIGURES[name].needs_model for name in check_figure_names(names))


def needs_flow_map(names):
    """Whether any of the named figures draws a trained flow map."""
    return any(FIGURES[name].needs_flow_map for name in check_figure_names(names))


def write_figures(out_dir, names=None, *, model=None, history=None, flow_map=None, log=None):
    """Write the named figures (all when None) into ``out_dir``; returns the paths.

    Figures of a learned model are drawn with ``model`` and its training ``history``
    (for the documentation: :func:`cmtoy.reference.reference_model`), those of a flow map
    with ``flow_map`` (there: the same function with ``FLOW_MAP_TRAINING``); asking for one
    without them is a ValueError. Raises ValueError for an unknown name (listing the
    valid ones) and OSError when the directory cannot be created or written.
    """
    names = check_figure_names(names)
    if needs_model(names) and (model is None or history is None):
        wanted = [name for name in names if FIGURES[name].needs_model]
        raise ValueError(f"figures {wanted} draw a trained model: pass model= and history=")
    if needs_flow_map(names) and flow_map is None:
        wanted = [name for name in names if FIGURES[name].needs_flow_map]
        raise ValueError(f"figures {wanted} draw a trained flow map: pass flow_map=")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    # one BLAS thread: a matrix product summed in another order by more threads changes
    # a model's outputs in the last bits, and the figures must be byte-identical anywhere
    with threadpool_limits(1):
        for name in names:
            spec = FIGURES[name]
            written.append(out_dir / spec.filename)
            if spec.needs_model:
                spec.make(written[-1], model, history)
            elif spec.needs_flow_map:
                spec.make(written[-1], flow_map)
            else:
                spec.make(written[-1])
            if log is not None:
                log(f"wrote {written[-1]}")
    return written
