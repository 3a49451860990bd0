"""Slider explorers for the notebooks: plain Python state, an Agg figure, ipywidgets on top.

An explorer keeps its knob values in ``values`` and draws with the building blocks of
:mod:`cmtoy.plotting`. ``explorer.set(name=value, ...)`` validates the values, moves only
the artists those knobs affect (the ``update_*`` half of each building block) and renders
the figure to PNG bytes, ``explorer.png``: tests and benchmarks drive it without a kernel.
``explorer.widget()`` puts the same object behind ipywidgets: each control calls ``set``
and the PNG goes into an ``ipywidgets.Image``, which JupyterLab shows with no plotting
extension.

Rendering blits: the frame (axes, ticks, labels, fixed curves) is drawn once and kept as
a background; a slider move redraws only the explorer's own artists on top of it.
"""

from __future__ import annotations

import functools
import io

import ipywidgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from .interpolant import Interpolant
from .plotting import (
    LINE, figure_style, make_flow_axes, noise_quantiles, plot_density, plot_marginal, plot_paths,
    plot_schedule, update_density, update_marginal, update_paths, update_schedule,
)
from .targets import GaussianMixture

__all__ = ["Explorer", "ProbabilityFlowExplorer", "make_interpolant", "float_slider"]


def encode_png(canvas):
    """The Agg canvas as PNG bytes (zlib level 1: several times quicker than the default)."""
    buffer = io.BytesIO()
    rgb = np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])  # opaque: drop alpha
    Image.fromarray(rgb).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


class Explorer:
    """Base class: knob values, a blitted Agg figure and the ipywidgets wiring.

    Subclasses set ``defaults`` (knob -> value), ``controls`` (knob -> function building
    its ipywidget from a value), and define ``draw()``, which lays out the figure and
    fills ``artists`` (group name -> list of artists; each group belongs to one of the
    ``layers``), and
    ``update(changed)``, which moves the artists that depend on the knobs in ``changed``
    and returns the names of the groups it moved.
    """

    defaults: dict = {}
    controls: dict = {}
    layers: tuple = ()  # artist group names, bottom layer first (see render)
    figure_size = (7.0, 5.0)  # inches, the seed page's size
    dpi = 100

    def __init__(self, **values):
        self.values = self.check({**self.defaults, **values})
        self.figure = Figure(figsize=self.figure_size, dpi=self.dpi)
        FigureCanvasAgg(self.figure)
        self.artists = {}  # name -> artists the explorer moves; all else is background
        self.message = ""  # why the last set() was refused, for the status line
        self._widgets = {}  # knob -> its ipywidget, once widget() was called
        self._image = self._status = None
        self._frame, self._under = None, []  # frame key; canvas caches under each layer
        with figure_style():
            self.draw()
        self.render()

    def check(self, values):
        """Validate knob values, returning them cleaned. Subclasses extend this."""
        unknown = sorted(set(values) - set(self.defaults))
        if unknown:
            raise ValueError(f"unknown knob(s) {unknown}; this explorer has {sorted(self.defaults)}")
        return dict(values)

    def set(self, **values):
        """Change knobs, move what they affect and re-render ``png``. Returns the changed names.

        A combination the model rejects (all weights zero, say) raises ValueError inside
        ``update``; then the knobs keep their old values, the figure stays as it was and
        ``message`` says why (the widget shows it under the figure).
        """
        cleaned = self.check(values)
        changed = {name for name, value in cleaned.items() if self.values[name] != value}
        if not changed:
            return changed
        previous = dict(self.values)
        self.values.update(cleaned)
        try:
            with figure_style():
                moved = self.update(changed)
        except ValueError as error:
            self.values, self.message = previous, str(error)
            changed = set()
        else:
            self.message = ""
            self.render(moved)
        self._sync_widgets()
        return changed

    def draw(self):
        raise NotImplementedError

    def update(self, changed):
        raise NotImplementedError

    def render(self, moved=None):
        """Draw the figure into ``png``, redrawing only what moved over cached backgrounds.

        The frame (axes, ticks, labels, fixed curves) is drawn in full only when a limit
        of an axis with tick marks changed. Over it the artist groups are drawn layer by
        layer (``layers``, bottom first), and the canvas is cached under each layer, so a
        move restores the cache under the lowest layer holding a ``moved`` group and
        redraws from there up (all layers when ``moved`` is None).
        """
        canvas = self.figure.canvas
        frame = [
            (ax.get_xlim() if len(ax.get_xticks()) else None, ax.get_ylim() if len(ax.get_yticks()) else None)
            for ax in self.figure.axes
        ]
        if frame != self._frame:
            for artist in (a for artists in self.artists.values() for a in artists):
                artist.set_animated(True)  # left out of the full draw, drawn by layers below
            canvas.draw()
            self._frame, self._under = frame, [canvas.copy_from_bbox(self.figure.bbox)]
        first = next(
            (i for i, layer in enumerate(self.layers) if moved is None or set(layer) & set(moved)), len(self.layers)
        )
        first = min(first, len(self._under) - 1)
        canvas.restore_region(self._under[first])
        del self._under[first + 1:]
        for i, layer in enumerate(self.layers[first:], start=first):
            artists = [artist for name in layer for artist in self.artists[name]]
            for artist in sorted(artists, key=lambda a: a.get_zorder()):
                artist.axes.draw_artist(artist)
            if i + 1 < len(self.layers):
                self._under.append(canvas.copy_from_bbox(self.figure.bbox))
        self.png = encode_png(canvas)
        if self._image is not None:
            self._image.value = self.png

    def widget(self):
        """The controls beside the figure (an ipywidgets.Image) and a status line."""
        self._image = ipywidgets.Image(value=self.png, format="png", layout={"width": "700px"})
        self._status = ipywidgets.HTML()
        for name, make in self.controls.items():
            self._widgets[name] = make(self.values[name])
            self._widgets[name].observe(functools.partial(self._on_change, name), names="value")
        controls = ipywidgets.VBox(list(self._widgets.values()), layout={"min_width": "320px"})
        return ipywidgets.HBox([controls, ipywidgets.VBox([self._image, self._status])])

    def _on_change(self, name, change):
        self.set(**{name: change["new"]})

    def _sync_widgets(self):
        """Show knob values set from code on the controls, and the refusal message if any."""
        for name, control in self._widgets.items():
            if control.value != self.values[name]:
                control.value = self.values[name]  # its observer finds nothing changed
        if self._status is not None:
            self._status.value = f"<span style='color:#b00000'>{self.message}</span>" if self.message else ""


def float_slider(description, low, high, step, readout_format=".2f"):
    """A factory for a FloatSlider that redraws while it is dragged."""
    return lambda value: ipywidgets.FloatSlider(
        value=value, min=low, max=high, step=step, description=description, readout_format=readout_format,
        continuous_update=True, style={"description_width": "90px"},
    )


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

    n_times > 64 so that the quantiles of all times are solved in one call.
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
    controls = {
        **{f"{knob}_{k}": float_slider(f"{knob} {k}", *limits)
           for k in (1, 2, 3)
           for knob, limits in (("mean", (-2.5, 2.5, 0.05)), ("std", (0.05, 1.0, 0.01)), ("weight", (0.0, 1.0, 0.05)))},
        "schedule": lambda value: ipywidgets.Dropdown(options=["linear", "cosine"], value=value, description="schedule"),
        "n_trajectories": lambda value: ipywidgets.IntSlider(value=value, min=1, max=64, description="trajectories"),
        "t": float_slider("t (slice)", 0.0, 1.0, 0.01),
    }
    # bottom first: a move redraws from the lowest layer it touches (the t slider: only the slice)
    layers = (("density",), ("schedule", "x_0"), ("paths",), ("slice",))
    x_lim = (-3.0, 3.0)
    slice_width = 0.15  # the widest point of the drawn slice p_t(x), in units of t

    def check(self, values):
        values = super().check(values)
        for name, value in values.items():
            if name == "schedule":
                if value not in ("linear", "cosine"):
                    raise ValueError(f"schedule must be 'linear' or 'cosine', got {value!r}")
            elif name == "n_trajectories":
                if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                    raise ValueError(f"n_trajectories must be an integer >= 1, got {value!r}")
                values[name] = int(value)
            else:
                values[name] = float(value)
                if name == "t" and not 0.0 <= values[name] <= 1.0:
                    raise ValueError(f"t must lie in [0, 1], got {value!r}")
        return values

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
