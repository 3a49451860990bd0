"""TEMPORARY stand-in for cmtoy.plotting (branch figures) so the widgets can be wired; deleted on merge."""
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure


@dataclass
class FlowTemplate:
    figure: Figure
    schedule: object
    p0: object
    flow: object
    p1: object


def make_template(figure=None):
    figure = figure or Figure(figsize=(8, 5.6))
    grid = figure.add_gridspec(2, 3, width_ratios=[1, 8, 1], height_ratios=[1, 4], hspace=0.08, wspace=0.05)
    flow = figure.add_subplot(grid[1, 1])
    return FlowTemplate(figure, figure.add_subplot(grid[0, 1], sharex=flow), figure.add_subplot(grid[1, 0], sharey=flow),
                        flow, figure.add_subplot(grid[1, 2], sharey=flow))


def plot_schedule(ax, schedule):
    t = np.linspace(0, 1, 101)
    ax.plot(t, schedule.alpha(t), "k-")
    ax.plot(t, schedule.sigma(t), "k--")


def plot_density(ax, interp, t, x_range=(-3, 3)):
    x = np.linspace(*x_range, 400)
    ax.plot(interp.pdf(t, x), x, "k-")


def plot_heatmap(ax, interp, x_range=(-3, 3)):
    t = np.linspace(0, 1, 200)
    x = np.linspace(*x_range, 300)
    p = interp.pdf(t[None, :], x[:, None])
    ax.imshow(p, origin="lower", extent=(0, 1, *x_range), aspect="auto", vmax=np.quantile(p, 0.99))
    ax.set_xlim(0, 1)
    ax.set_ylim(*x_range)


def plot_trajectories(ax, ts, paths):
    ax.plot(ts, paths, color="w", lw=1, alpha=0.8)
