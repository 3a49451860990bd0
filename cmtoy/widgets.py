"""Slider explorers for the notebooks: plain Python state, an Agg figure, ipywidgets on top.

Each explorer keeps its knob values in ``values`` and its figure in ``figure``.
``explorer.set(name=value, ...)`` validates the values, redraws only the artists those
knobs affect and renders the figure to PNG bytes (``explorer.png``), so tests and
benchmarks drive an explorer without a kernel. ``explorer.widget()`` wraps the same
object in ipywidgets: each control's ``observe`` calls ``set`` and the PNG goes into an
``ipywidgets.Image``, which JupyterLab shows without any plotting extension.
"""

from __future__ import annotations

import functools
import io

import ipywidgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from . import _plotting_standin as plotting
from .interpolant import Interpolant
from .targets import GaussianMixture

__all__ = ["Explorer", "ProbabilityFlowExplorer"]


def encode_png(canvas):
    """The Agg canvas as PNG bytes (zlib level 1: several times quicker than the default)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(canvas.buffer_rgba())).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


class Explorer:
    """Base class: knob values, a figure and the ipywidgets wiring.

    Subclasses define ``controls`` (name -> a function building the ipywidget for that
    knob from its current value) and ``update(changed)``, which redraws the artists that
    depend on the knobs named in ``changed``.
    """

    controls: dict = {}

    def __init__(self, **values):
        self.values = {}
        self.figure = Figure(figsize=(8.0, 5.6), dpi=90)
        FigureCanvasAgg(self.figure)
        self.png = b""
        self.message = ""
        self._image = None
        self._artists = {}  # redraw key -> artists it drew
        self._background = self._limits = None  # the blitting frame and the limits it has
        self.values.update(self.check(values))

    def check(self, values):
        """Validate knob values; returns them cleaned. Subclasses extend this."""
        unknown = sorted(set(values) - set(self.controls))
        if unknown:
            raise ValueError(f"unknown knob(s) {unknown}; this explorer has {sorted(self.controls)}")
        return dict(values)

    def set(self, **values):
        """Change some knobs, redraw what they affect and re-render ``png``.

        A value the model rejects (say, all weights zero) leaves the figure as it was and
        puts the reason in ``message``. Returns the names that changed.
        """
        cleaned = self.check(values)
        changed = {name for name, value in cleaned.items() if self.values.get(name) != value}
        if not changed:
            return changed
        previous = dict(self.values)
        self.values.update(cleaned)
        try:
            self.update(changed)
        except ValueError as error:
            self.values = previous
            self.message = str(error)
            return set()
        self.message = ""
        self.render()
        return changed

    def update(self, changed):
        raise NotImplementedError

    def render(self):
        """Draw the figure into ``png``, blitting: only the explorer's own artists are redrawn.

        The frame (axes, ticks, labels) is drawn once and kept as a background; it is
        drawn again only when some axis limits moved. Everything a ``redraw`` call added
        is drawn on top of it, axes by axes in z-order.
        """
        canvas = self.figure.canvas
        dynamic = [artist for artists in self._artists.values() for artist in artists]
        limits = [(ax.get_xlim(), ax.get_ylim()) for ax in self.figure.axes]
        if self._background is None or limits != self._limits:
            for artist in dynamic:
                artist.set_animated(True)  # left out of the full draw: they are blitted
            canvas.draw()
            self._background, self._limits = canvas.copy_from_bbox(self.figure.bbox), limits
        else:
            canvas.restore_region(self._background)
        for artist in sorted(dynamic, key=lambda a: a.get_zorder()):
            artist.axes.draw_artist(artist)
        self.png = encode_png(canvas)
        if self._image is not None:
            self._image.value = self.png

    def redraw(self, key, ax, plot, *args, **kwargs):
        """Replace the artists a previous ``plot(ax, ...)`` call under ``key`` drew on ``ax``.

        The plotting building blocks stay plain ``plot_*(ax, ...)`` functions; the explorer
        remembers which artists each one added so it can swap exactly those.
        """
        for artist in self._artists.pop(key, []):
            artist.remove()
        before = set(ax.get_children())
        plot(ax, *args, **kwargs)
        self._artists[key] = [artist for artist in ax.get_children() if artist not in before]

    def widget(self):
        """The controls, the figure as an ipywidgets.Image and a status line, in one box."""
        self._image = ipywidgets.Image(value=self.png, format="png", layout={"width": "100%", "max_width": "760px"})
        status = ipywidgets.HTML()
        controls = []
        for name, make in self.controls.items():
            control = make(self.values[name])
            control.observe(self._on_change(name, status), names="value")
            controls.append(control)
        return ipywidgets.HBox(
            [ipywidgets.VBox(controls, layout={"min_width": "330px"}), ipywidgets.VBox([self._image, status])]
        )

    def _on_change(self, name, status):
        def handler(change):
            self.set(**{name: change["new"]})
            status.value = f"<span style='color:#b00'>{self.message}</span>" if self.message else ""

        return handler


def _slider(description, low, high, step, **kwargs):
    """A factory for a FloatSlider that updates as it is dragged."""
    return lambda value: ipywidgets.FloatSlider(
        value=value, min=low, max=high, step=step, description=description,
        continuous_update=True, style={"description_width": "90px"}, **kwargs,
    )


@functools.lru_cache(maxsize=64)
def make_interpolant(means, stds, weights, schedule):
    """An Interpolant for a mixture given as tuples; cached, so returning to a setting is free."""
    components = [k for k, w in enumerate(weights) if w > 0]
    if not components:
        raise ValueError(f"at least one weight must be > 0, got weights {list(weights)}")
    mixture = GaussianMixture(
        [means[k] for k in components], [stds[k] for k in components], [weights[k] for k in components]
    )
    return Interpolant(mixture, schedule)


class ProbabilityFlowExplorer(Explorer):
    """The interpolant of a mixture of up to three components and its exact flow.

    Knobs: ``mean_k``, ``std_k``, ``weight_k`` for k = 1, 2, 3 (weight 0 switches a
    component off), ``schedule`` ("linear" or "cosine"), ``n_trajectories`` and ``t``,
    the time of the slice p_t(x) drawn over the (t, x) panel. Defaults: the seed mixture.
    """

    x_range = (-3.0, 3.0)
    ts = np.linspace(0.0, 1.0, 129)  # trajectory times; > 64 so they are solved jointly
    defaults = dict(
        mean_1=-1.0, std_1=0.1, weight_1=0.8,
        mean_2=2.0, std_2=0.1, weight_2=0.2,
        mean_3=0.5, std_3=0.3, weight_3=0.0,
        schedule="linear", n_trajectories=16, t=0.5,
    )
    controls = {
        **{f"{knob}_{k}": _slider(f"{knob} {k}", *limits)
           for k in (1, 2, 3) for knob, limits in
           (("mean", (-2.5, 2.5, 0.05)), ("std", (0.05, 1.0, 0.01)), ("weight", (0.0, 1.0, 0.05)))},
        "schedule": lambda value: ipywidgets.Dropdown(options=["linear", "cosine"], value=value, description="schedule"),
        "n_trajectories": lambda value: ipywidgets.IntSlider(value=value, min=1, max=64, description="trajectories"),
        "t": _slider("t (slice)", 0.0, 1.0, 0.01),
    }

    def __init__(self, **values):
        super().__init__(**{**self.defaults, **values})
        self.axes = plotting.make_template(self.figure)
        self.update(set(self.controls))
        self.render()

    def check(self, values):
        values = super().check(values)
        for name, value in values.items():
            if name == "schedule" and value not in ("linear", "cosine"):
                raise ValueError(f"schedule must be 'linear' or 'cosine', got {value!r}")
            elif name == "n_trajectories" and (not isinstance(value, (int, np.integer)) or value < 1):
                raise ValueError(f"n_trajectories must be an integer >= 1, got {value!r}")
            elif name != "schedule" and name != "n_trajectories":
                values[name] = float(value)
        return values

    @property
    def interpolant(self):
        v = self.values
        take = lambda knob: tuple(v[f"{knob}_{k}"] for k in (1, 2, 3))  # noqa: E731
        return make_interpolant(take("mean"), take("std"), take("weight"), v["schedule"])

    def update(self, changed):
        interp = self.interpolant  # raises ValueError on an impossible mixture
        axes, redraw = self.axes, self.redraw
        mixture_changed = bool(changed & {*self.defaults} - {"n_trajectories", "t"})
        if "schedule" in changed:
            redraw("schedule", axes.schedule, plotting.plot_schedule, interp.schedule)
        if mixture_changed:
            redraw("p0", axes.p0, plotting.plot_density, interp, 0.0, self.x_range)
            redraw("heatmap", axes.flow, plotting.plot_heatmap, interp, self.x_range)
        if mixture_changed or "n_trajectories" in changed:
            redraw("trajectories", axes.flow, plotting.plot_trajectories, self.ts, self.trajectories())
        if mixture_changed or "t" in changed:
            redraw("slice", axes.p1, plotting.plot_density, interp, self.values["t"], self.x_range)

    def trajectories(self):
        """Exact flow paths from evenly spaced noise quantiles. returns [len(ts), n_trajectories]"""
        n = self.values["n_trajectories"]
        x_1 = self.interpolant.ppf(1.0, (np.arange(n) + 0.5) / n)
        return self.interpolant.trajectories(x_1, self.ts)
