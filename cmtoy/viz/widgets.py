"""Slider explorers of the exact objects: the probability flow and the inductive step.

Each explorer is a :class:`cmtoy.viz.explorer.Explorer`: ``set(...)`` from code or
``widget()`` in a notebook (notebooks 01 and 02). Every number drawn comes from the exact
:class:`cmtoy.Interpolant`; the drawing is the building blocks of :mod:`cmtoy.viz.plotting`.
"""

from __future__ import annotations

import functools

import numpy as np

from ..interpolant import Interpolant
from ..metrics import induction_error
from ..schedules import SCHEDULES
from ..targets import SEED_MIXTURE, GaussianMixture
from .explorer import Explorer
from .knobs import Choice, Count, Grid
from .plotting import (
    ARROW, BACKGROUND, LINE, make_flow_axes, noise_quantiles, plot_density, plot_marginal,
    plot_paths, plot_points, plot_schedule, update_density, update_marginal, update_paths,
    update_schedule,
)

__all__ = ["ProbabilityFlowExplorer", "InductiveStepExplorer", "make_interpolant", "flow_paths"]


@functools.lru_cache(maxsize=64)
def make_interpolant(means, stds, weights, schedule):
    """The Interpolant of a mixture given as tuples, components of weight 0 left out.

    Cached: returning a slider to an earlier setting costs nothing. Raises ValueError
    (from GaussianMixture) for an impossible mixture, e.g. all weights zero.
    """
    keep = [k for k, w in enumerate(weights) if w > 0]
    if not keep:
        raise ValueError(f"at least one weight must be > 0, got weights {list(weights)}")
    pick = lambda values: [values[k] for k in keep]  # noqa: E731
    return Interpolant(GaussianMixture(pick(means), pick(stds), pick(weights)), schedule)


@functools.lru_cache(maxsize=64)
def flow_paths(interp, n, n_times=129):
    """Exact flow paths from n evenly spaced noise quantiles, cached per interpolant.

    :meth:`cmtoy.Interpolant.trajectories` solves the quantiles of all n_times times in
    one vectorised call, so a finer time grid costs little per slider move.
    returns (ts [n_times], paths [n_times, n])
    """
    ts = np.linspace(0.0, 1.0, n_times)
    return ts, interp.trajectories(noise_quantiles(n), ts)


class ProbabilityFlowExplorer(Explorer):
    """The interpolant of a mixture of up to three Gaussians, and its exact flow.

    Knobs: ``mean_k``, ``std_k``, ``weight_k`` for k = 1, 2, 3 (weight 0 switches a
    component off), ``schedule`` ("linear" or "cosine"), ``n_trajectories`` and ``t``,
    the time of the slice p_t(x) drawn (orange) over the (t, x) panel. Defaults: the
    seed page's figure (mixture of -1 and 2, linear schedule, 16 trajectories).
    """

    defaults = dict(
        mean_1=-1.0, std_1=0.1, weight_1=0.8,
        mean_2=2.0, std_2=0.1, weight_2=0.2,
        mean_3=0.5, std_3=0.3, weight_3=0.0,
        schedule="linear", n_trajectories=16, t=0.5,
    )
    knobs = {
        **{f"{knob}_{k}": Grid(f"{knob} {k}", *limits)
           for k in (1, 2, 3)
           for knob, limits in (("mean", (-2.5, 2.5, 0.05)), ("std", (0.05, 1.0, 0.01)), ("weight", (0.0, 1.0, 0.05)))},
        "schedule": Choice("schedule", list(SCHEDULES), dropdown=True),
        "n_trajectories": Count("trajectories", 1, 64),
        "t": Grid("t (slice)", 0.0, 1.0, 0.01),
    }
    # bottom first: a move redraws from the lowest layer it touches (the t slider: only the slice)
    layers = (("density",), ("schedule", "x_0"), ("paths",), ("slice",))
    x_lim = (-3.0, 3.0)
    slice_width = 0.15  # the widest point of the drawn slice p_t(x), in units of t

    @property
    def interpolant(self):
        """The exact Interpolant behind the picture (raises ValueError if all weights are 0)."""
        knob = lambda name: tuple(self.values[f"{name}_{k}"] for k in (1, 2, 3))  # noqa: E731
        return make_interpolant(knob("mean"), knob("std"), knob("weight"), self.values["schedule"])

    @property
    def x(self):
        """The grid of x for the marginal curves. returns [601]"""
        return np.linspace(*self.x_lim, 601)

    def draw(self):
        interp = self.interpolant
        self.axes = make_flow_axes(self.figure, x_lim=self.x_lim)
        plot_marginal(self.axes.x_1, self.x, interp.pdf(1.0, self.x))  # N(0, 1): background
        self.artists["schedule"] = list(plot_schedule(self.axes.schedule, interp.schedule))
        self.artists["x_0"] = [plot_marginal(self.axes.x_0, self.x, interp.pdf(0.0, self.x))]
        self.artists["density"] = [plot_density(self.axes.flow, interp, n_t=200, n_x=150)]
        self.artists["paths"] = []
        slice_style = dict(color=LINE, linewidth=1.5, zorder=3)
        self.artists["slice"] = self.axes.flow.plot([], [], linestyle=":", **slice_style)
        self.artists["slice"] += self.axes.flow.plot([], [], **slice_style)
        self.update(set(self.defaults))

    def update(self, changed):
        interp = self.interpolant  # first: an impossible mixture raises before anything moves
        mixture = any(name[:-2] in ("mean", "std", "weight") for name in changed)
        moved = set()
        if "schedule" in changed:
            update_schedule(self.artists["schedule"], interp.schedule)
            moved.add("schedule")
        if mixture:
            update_marginal(self.artists["x_0"][0], self.x, interp.pdf(0.0, self.x))
            moved.add("x_0")
        if mixture or "schedule" in changed:
            update_density(self.artists["density"][0], interp)
            moved.add("density")
        if mixture or changed & {"schedule", "n_trajectories"}:
            self._draw_paths(*flow_paths(interp, self.values["n_trajectories"]))
            moved.add("paths")
        if mixture or changed & {"schedule", "t"}:
            t, p = self.values["t"], interp.pdf(self.values["t"], self.x)
            rule, curve = self.artists["slice"]
            rule.set_data([t, t], self.x_lim)
            curve.set_data(t + self.slice_width * p / p.max(), self.x)
            moved.add("slice")
        return moved

    def _draw_paths(self, ts, paths):
        lines = self.artists["paths"]
        if len(lines) == paths.shape[1]:
            update_paths(lines, ts, paths)
            return
        for line in lines:
            line.remove()
        self.artists["paths"] = plot_paths(self.axes.flow, ts, paths, color="white", alpha=0.5, linewidth=1.0)


@functools.lru_cache(maxsize=32)
def induction_curve(interp, t, n=64):
    """``cmtoy.metrics.induction_error`` at time t over dt in [1e-3, 1 - t], cached per t."""
    return induction_error(interp, t, np.geomspace(1e-3, 1.0 - t, 10), n=n)


class InductiveStepExplorer(Explorer):
    """One step of the inductive process (the seed page's second figure), exactly.

    Knobs: ``t``, ``dt`` and the pair (``x_0``, ``x_1``). The points x_t and x_{t+dt}
    lie on one interpolant line x_0 -> x_1 (orange, seed eq. 2). Consistency training
    (Song et al. 2023, Alg. 3) asks f(t + dt, x_{t+dt}) to equal f(t, x_t); the exact
    flow lines through the two points (solid from t, dashed from t + dt) show where each
    really lands at t = 0. The right panel plots the gap between the two landing
    points against dt (black; the dot is the current dt) over the typical induction
    error at this t (``cmtoy.metrics.induction_error``: spread ~ dt, bias ~ dt^2).
    """

    defaults = dict(t=0.5, dt=0.2, x_0=2.0, x_1=-0.2)
    knobs = {
        "t": Grid("t", 0.05, 0.95, 0.05),
        # nice values from 1e-3 to 0.5: each reads back exactly as set
        "dt": Choice("Δt", [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5]),
        "x_0": Grid("x_0", -2.5, 2.5, 0.05),
        "x_1": Grid("x_1", -3.0, 3.0, 0.05),
    }
    figure_size = (10.0, 5.0)
    layers = (("curves",), ("pair",))  # the reference curves move only with t

    def draw(self):
        self.interp = interp = Interpolant(SEED_MIXTURE, "linear")
        left, right = self.figure.subfigures(1, 2, width_ratios=(7.0, 3.0))
        self.axes = axes = make_flow_axes(left)
        x = np.linspace(*axes.flow.get_ylim(), 601)
        plot_schedule(axes.schedule, interp.schedule)
        plot_marginal(axes.x_0, x, interp.pdf(0.0, x))
        plot_marginal(axes.x_1, x, interp.pdf(1.0, x))
        plot_density(axes.flow, interp, n_t=200, n_x=150)
        ts = np.linspace(0.0, 1.0, 129)
        plot_paths(axes.flow, ts, interp.trajectories(noise_quantiles(12), ts), color=BACKGROUND,
                   linewidth=0.8, alpha=0.6, zorder=1)
        self.error_axes = ax = right.add_subplot(right.add_gridspec(left=0.3, right=0.95, bottom=0.14, top=0.98)[0])
        ax.set(xscale="log", yscale="log", xlim=(1e-3, 1.0), ylim=(1e-7, 10.0),
               xlabel=r"$\Delta t$", ylabel="gap at $t = 0$")
        ax.grid(which="major")
        flow = axes.flow
        self.artists["curves"] = [
            *ax.plot([], [], color=ARROW, label="spread (typical)"),
            *ax.plot([], [], color=LINE, label="bias (typical)"),
        ]
        self.artists["pair"] = [
            *plot_paths(flow, [0.0, 1.0], [[0.0], [0.0]], color=LINE, linewidth=1.2, zorder=2),
            *plot_paths(flow, [0.0, 1.0], [[0.0], [0.0]], color="black", zorder=3),
            *plot_paths(flow, [0.0, 1.0], [[0.0], [0.0]], color="black", linestyle="--", zorder=3),
            plot_points(flow, [0.0, 0.0], [0.0, 0.0])[0],  # x_t and x_{t+dt}
            plot_points(flow, [0.0, 0.0], [0.0, 0.0], size=5.0)[0],  # where their flow lines land
            plot_points(flow, [0.0, 1.0], [0.0, 0.0], color=LINE, size=5.0)[0],  # x_0 and x_1
            *ax.plot([], [], color="black", label="this pair"),
            *ax.plot([], [], "o", color="black"),
        ]
        ax.legend(fontsize=10, loc="lower right", frameon=False)
        self.update(set(self.defaults))

    def update(self, changed):
        v = self.values
        t, dt, x_0, x_1 = v["t"], v["dt"], v["x_0"], v["x_1"]
        if t + dt > 1.0:
            raise ValueError(f"t + dt must be <= 1, got t = {t:g}, dt = {dt:g}")
        moved = {"pair"}
        if "t" in changed:
            curve = induction_curve(self.interp, t)
            spread, bias = self.artists["curves"]
            spread.set_data(curve.dts, curve.spread)
            bias.set_data(curve.dts, curve.bias)
            moved.add("curves")
        line, solid, dashed, points, ends, pair_ends, gap_curve, gap_dot = self.artists["pair"]
        ts = np.linspace(0.0, 1.0, 129)
        update_paths([line], ts, self.interp.interpolate(ts[:, None], x_0, x_1))
        landings = []
        for back, start in ((solid, t), (dashed, t + dt)):
            earlier = np.linspace(0.0, start, 101)
            path = self.interp.flow_map(self.on_line([start]), start, earlier)
            update_paths([back], earlier, path)
            landings.append(path[0])
        points.set_data([t, t + dt], self.on_line([t, t + dt]))
        ends.set_data([0.0, 0.0], landings)
        pair_ends.set_data([0.0, 1.0], [x_0, x_1])
        dts = np.geomspace(1e-3, 1.0 - t, 40)
        gap_curve.set_data(dts, self.landing_gap(dts))
        gap_dot.set_data([dt], [abs(landings[1] - landings[0])])
        return moved

    def warm_up_work(self):
        """The reference curves of the times one notch away from t, then of every t (costly, cached)."""
        grid = [self.knobs["t"].check("t", 0.05 * k) for k in range(1, 20)]
        nearest = sorted(grid, key=lambda t: abs(t - self._values["t"]))
        return [functools.partial(induction_curve, self.interp, t) for t in nearest]

    def on_line(self, s):
        """x_s = alpha_s x_0 + sigma_s x_1 on the current pair's line. s: [m] -> [m]"""
        return self.interp.interpolate(np.asarray(s, dtype=float), self.values["x_0"], self.values["x_1"])

    def landing_gap(self, dts):
        """|f*(t + dt, x_{t+dt}) - f*(t, x_t)| along the current line. dts: [m] -> [m]"""
        t, dts = self.values["t"], np.asarray(dts, dtype=float)
        f_t = self.interp.flow_map(self.on_line([t]), t, 0.0)
        return np.abs(self.interp.flow_map(self.on_line(t + dts), t + dts, 0.0) - f_t)
