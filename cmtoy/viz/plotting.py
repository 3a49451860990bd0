"""The figure template of the seed page and small drawing blocks for the (t, x) plane.

The template (:class:`FlowAxes`, built by :func:`make_flow_axes`) is the layout of the
seed page's figures: the schedule strip (alpha_t solid, sigma_t dashed) on top, p(x_0) on
the left, the (t, x) plane in the middle and p(x_1) on the right, the side panels sharing
the x axis of the middle one.

Every ``plot_*`` function draws on axes it is given and returns its artists; the matching
``update_*`` function moves those artists to new data in place, which is what a slider
callback needs (no axes are cleared, no text is re-laid out). Nothing here computes more
than a density or an exact trajectory: every number comes from :class:`cmtoy.Interpolant`.

Styling goes through :data:`STYLE` inside :func:`figure_style`, never at import time. The
``make_*`` functions enter it themselves, so figures they build look the same when they
are drawn later outside the context (an ipympl canvas, an inline backend): the fonts are
named concretely and every tick is created inside the context.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from ..sampling import noise_quantiles  # the noise of the drawing blocks, shared with metrics

__all__ = [
    "STYLE", "LINE", "ARROW", "BACKGROUND", "CURVE_TIMES", "time_colors", "figure_style", "styled", "save_figure", "finish_figure", "FlowAxes", "make_flow_axes", "noise_quantiles",
    "plot_frame", "plot_paths", "update_paths", "plot_schedule", "update_schedule",
    "plot_marginal", "update_marginal", "plot_density", "update_density", "plot_points",
    "plot_arrow",
]

# The seed page's look: serif text, TeX-like math (STIX ships with matplotlib), 7 x 5 in.
STYLE = {
    # a concrete family, not the generic "serif": generic names are resolved when the
    # figure is drawn, which may happen outside this context (notebook canvases)
    "font.family": ["STIXGeneral", "DejaVu Serif"],
    "font.serif": ["STIXGeneral", "DejaVu Serif"],
    "mathtext.fontset": "stix",
    "font.size": 14,
    "lines.linewidth": 1.5,
    "axes.linewidth": 0.8,
    "grid.color": "#b0b0b0",
    "grid.linewidth": 0.8,
    "figure.figsize": (7.0, 5.0),
    "savefig.dpi": 300,
    "svg.hashsalt": "cmtoy",  # fixed ids inside SVG files: byte-stable output
    "svg.fonttype": "path",  # glyphs as paths: the file does not depend on installed fonts
}

LINE = "#ff4500"  # the straight interpolant lines x_0 -> x_1 (orangered)
ARROW = "#4169e1"  # the arrows of the annotated figure (royalblue)
BACKGROUND = "#d3d3d3"  # background trajectories (lightgray)
CURVE_TIMES = (0.1, 0.4, 0.7, 1.0)  # the times t of curves f_theta(t, .) drawn against f*(t, .)


def time_colors(n):
    """n colours for n increasing times, dark to light along viridis. returns [n, 4] RGBA"""
    return matplotlib.colormaps["viridis"](np.linspace(0.0, 0.85, n))


def figure_style():
    """The context manager applying :data:`STYLE`: ``with figure_style(): ...``."""
    return matplotlib.style.context(STYLE)


def styled(make):
    """Decorator: run a function that creates artists inside :func:`figure_style`."""

    @functools.wraps(make)
    def wrapper(*args, **kwargs):
        with figure_style():
            return make(*args, **kwargs)

    return wrapper


# The metadata keys matplotlib would fill with a date or its version, per format.
_NO_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}


def save_figure(figure, path):
    """Write ``figure`` to ``path`` (format from the suffix), byte-stable and atomically.

    Byte-stable: no dates or version strings in the metadata, and a fixed SVG hash salt
    (:data:`STYLE`). Atomic: the file is written to a temporary file in the same directory,
    then renamed over ``path``, so it appears complete or not at all. OSError propagates
    (unwritable place). returns ``path`` as a Path
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # os.open with mode 0o666 leaves the permissions to the umask, like a plain open()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        with os.fdopen(fd, "wb") as stream, figure_style():
            figure.savefig(stream, format=fmt, metadata=_NO_METADATA.get(fmt))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def finish_figure(figure, path=None):
    """The end of every ``*_figure`` function: write the figure when given a path, return it."""
    if path is not None:
        save_figure(figure, path)
    return figure


# -- the template ----------------------------------------------------------------------


@dataclass(frozen=True)
class FlowAxes:
    """The axes of the seed page's figure template (all share the time or x axis)."""

    figure: Figure
    schedule: Axes  # top strip: alpha_t and sigma_t against t
    x_0: Axes  # left: p(x_0), density on the horizontal axis, x vertical
    flow: Axes  # middle: the (t, x) plane
    x_1: Axes  # right: p(x_1)


@styled
def make_flow_axes(figure=None, *, x_lim=(-3.0, 3.0), schedule_grid=True):
    """Lay out the template on ``figure`` (a new ``Figure`` of 7 x 5 in when None).

    The proportions are the seed page's: side panels one eighth of the middle width,
    the schedule strip one quarter of its height. The middle panel's x ticks carry
    no labels; the left panel carries the x labels for all three.

    Returns FlowAxes.
    """
    x_lim = tuple(float(v) for v in x_lim)
    if len(x_lim) != 2 or not x_lim[0] < x_lim[1]:
        raise ValueError(f"x_lim must be (low, high) with low < high, got {x_lim!r}")
    figure = Figure() if figure is None else figure
    grid = figure.add_gridspec(
        2, 3, width_ratios=(1, 8, 1), height_ratios=(1, 4),
        left=0.09, right=0.98, bottom=0.14, top=0.98, wspace=0.08, hspace=0.08,
    )
    flow = figure.add_subplot(grid[1, 1])
    x_0 = figure.add_subplot(grid[1, 0], sharey=flow)
    x_1 = figure.add_subplot(grid[1, 2], sharey=flow)
    strip = figure.add_subplot(grid[0, 1], sharex=flow)
    flow.set(xlim=(0.0, 1.0), ylim=x_lim, xlabel="$t$")
    flow.tick_params(labelleft=False)
    strip.set(ylim=(0.0, 1.1), yticks=(0.0, 1.0))
    strip.tick_params(labelbottom=False)
    strip.grid(schedule_grid)
    for side, label in ((x_0, "$p(x_0)$"), (x_1, "$p(x_1)$")):
        side.set_xlabel(label)
        side.set_xticks([])
        side.grid(axis="y")
    x_0.set_ylabel("$x$")
    x_1.tick_params(labelleft=False)
    figure.align_xlabels([x_0, flow, x_1])
    for ax in (flow, x_0, x_1, strip):  # create the ticks now, inside the style
        ax.get_xticklabels(), ax.get_yticklabels()
    return FlowAxes(figure, strip, x_0, flow, x_1)


# -- drawing blocks: each returns its artists, each has an in-place update ---------------


def plot_frame(axes, interp):
    """The parts every seed-style figure shares: the schedule strip and the two marginals. axes: FlowAxes"""
    x = np.linspace(*axes.flow.get_ylim(), 601)
    plot_schedule(axes.schedule, interp.schedule)
    plot_marginal(axes.x_0, x, interp.pdf(0.0, x))
    plot_marginal(axes.x_1, x, interp.pdf(1.0, x))


def plot_paths(ax, ts, paths, **style):
    """Draw paths over time, one line per column. ts: [m]; paths: [m, n]. returns [n] Line2D"""
    return ax.plot(ts, np.asarray(paths).reshape(len(ts), -1), **style)


def update_paths(lines, ts, paths):
    """Move the lines of :func:`plot_paths` to new paths of the same count. paths: [m, n]"""
    paths = np.asarray(paths).reshape(len(ts), -1)
    if paths.shape[1] != len(lines):
        raise ValueError(f"got {paths.shape[1]} paths for {len(lines)} lines")
    for line, path in zip(lines, paths.T):
        line.set_data(ts, path)


@styled
def plot_schedule(ax, schedule, *, n=201):
    """alpha_t (solid) and sigma_t (dashed) with their labels, on the schedule strip.

    returns (alpha_line, sigma_line, alpha_label, sigma_label)
    """
    alpha_line, = ax.plot([], [], color="black")
    sigma_line, = ax.plot([], [], color="black", linestyle="--")
    alpha_label = ax.text(0.1, 0.0, r"$\alpha_t$", ha="center", va="center")
    sigma_label = ax.text(0.9, 0.0, r"$\sigma_t$", ha="center", va="center")
    artists = (alpha_line, sigma_line, alpha_label, sigma_label)
    update_schedule(artists, schedule, n=n)
    return artists


def update_schedule(artists, schedule, *, n=201):
    """Redraw the artists of :func:`plot_schedule` for another schedule."""
    alpha_line, sigma_line, alpha_label, sigma_label = artists
    t = np.linspace(0.0, 1.0, n)
    alpha_line.set_data(t, schedule.alpha(t))
    sigma_line.set_data(t, schedule.sigma(t))
    # each label sits under its own curve, near the end where that curve is high
    alpha_label.set_y(float(schedule.alpha(0.1)) - 0.28)
    sigma_label.set_y(float(schedule.sigma(0.9)) - 0.28)


def plot_marginal(ax, x, p, **style):
    """A density p(x) drawn sideways on a side panel (x vertical). x, p: [n]. returns Line2D"""
    line, = ax.plot([], [], **{"color": "black", **style})
    update_marginal(line, x, p)
    return line


def update_marginal(line, x, p):
    """Move the line of :func:`plot_marginal` to a new density and rescale its panel."""
    line.set_data(p, x)
    line.axes.set_xlim(0.0, 1.05 * float(np.max(p)))


def _density_grid(interp, extent, shape):
    """p_t(x) on the cell centres of an image. extent: (t0, t1, x0, x1); shape: (n_x, n_t)"""
    t0, t1, x0, x1 = extent
    n_x, n_t = shape
    t = t0 + (np.arange(n_t) + 0.5) * (t1 - t0) / n_t
    x = x0 + (np.arange(n_x) + 0.5) * (x1 - x0) / n_x
    return interp.pdf(t[None, :], x[:, None])  # [n_x, n_t]


def _banded_norm(p_max, n_levels):
    """Colour bands at halvings of the density: the contour levels of log p_t.

    Bands from the top take the colour map down by a factor 0.65 each (the two highest
    share its top colour), so the low-density tails stay readable, as on the seed page.
    """
    bounds = np.concatenate([[0.0], p_max * 2.0 ** np.arange(1 - n_levels, 1)])
    from_top = np.arange(n_levels - 1, -1, -1)
    shade = np.minimum(1.0, 0.65 ** (from_top - 1.0))
    shade[0] = 0.0  # below the lowest level: the colour map's bottom
    return ListedColormap(matplotlib.colormaps["viridis"](shade)), BoundaryNorm(bounds, n_levels)


def plot_density(ax, interp, *, n_t=400, n_x=300, n_levels=9):
    """Heatmap of the marginal density p_t(x) over the axes' (t, x) limits.

    Bands of the colour map are halvings of the density (the look of contour levels of
    log p_t), so both the sharp target at t = 0 and the wide noise at t = 1 show. The
    grid is n_t x n_x cell centres; :func:`update_density` recomputes it in place.

    returns AxesImage
    """
    (t0, t1), (x0, x1) = ax.get_xlim(), ax.get_ylim()
    image = ax.imshow(
        np.zeros((n_x, n_t)), extent=(t0, t1, x0, x1), origin="lower", aspect="auto",
        interpolation="bilinear", interpolation_stage="data", zorder=0,
    )
    update_density(image, interp, n_levels=n_levels)
    return image


def update_density(image, interp, *, n_levels=9):
    """Recompute the heatmap of :func:`plot_density` for another interpolant."""
    p = _density_grid(interp, image.get_extent(), image.get_array().shape)
    cmap, norm = _banded_norm(float(p.max()), n_levels)
    image.set_data(p)
    image.set(cmap=cmap, norm=norm)


@styled
def plot_points(ax, t, x, labels=(), offsets=(), *, color="black", size=6.0):
    """Dots at (t, x) with optional labels shifted by ``offsets`` (in points).

    t, x: [n]; labels: up to n strings; offsets: (dx, dy) per label.
    returns (Line2D of the dots, [Text of each label])
    """
    dots, = ax.plot(t, x, linestyle="none", marker="o", markersize=size, color=color, zorder=4)
    texts = [
        ax.annotate(label, (ti, xi), xytext=off, textcoords="offset points",
                    ha="center", va="center")
        for ti, xi, label, off in zip(np.atleast_1d(t), np.atleast_1d(x), labels, offsets)
    ]
    return dots, texts


@styled
def plot_arrow(ax, start, end, *, curvature=0.5, color=ARROW):
    """A curved arrow from ``start`` to ``end`` (data points (t, x)). returns Annotation

    ``curvature`` bends it (matplotlib's arc3 ``rad``; positive bends to the right of
    the direction of travel when the axes are square).
    """
    return ax.annotate(
        "", xy=end, xytext=start,
        arrowprops=dict(arrowstyle="->,head_length=0.6,head_width=0.3", color=color, lw=1.2,
                        shrinkA=0.0, shrinkB=0.0, connectionstyle=f"arc3,rad={curvature}"),
    )
