"""The machinery of the slider explorers: knob values, a blitted Agg figure, ipywidgets.

An explorer keeps its knob values in ``values`` and draws with the building blocks of
:mod:`cmtoy.viz.plotting`. ``explorer.set(name=value, ...)`` validates the values, moves only
the artists those knobs affect (the ``update_*`` half of each building block) and renders
the figure to PNG bytes, ``explorer.png``: tests and benchmarks drive it without a kernel.
``explorer.widget()`` puts the same object behind ipywidgets: each control calls ``set``
and the PNG goes into an ``ipywidgets.Image``, which JupyterLab shows with no plotting
extension.

Rendering blits: the frame (axes, ticks, labels, fixed curves) is drawn once and kept as
a background; a move redraws only the explorer's own artists on top of it, layer by layer
from the lowest layer that moved. The explorers themselves are in :mod:`cmtoy.viz.widgets`
and :mod:`cmtoy.viz.learned_widgets`.
"""

from __future__ import annotations

import functools
import io

import ipywidgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from .plotting import figure_style

__all__ = ["Explorer", "encode_png", "float_slider"]


def encode_png(canvas):
    """The Agg canvas as PNG bytes.

    zlib level 1: every slider move encodes a frame, and the lightest compression keeps
    that small beside the redraw (benchmarks/bench_widgets.py times a move end to end).
    """
    buffer = io.BytesIO()
    rgb = np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])  # opaque: drop alpha
    Image.fromarray(rgb).save(buffer, format="png", compress_level=1)
    return buffer.getvalue()


class Explorer:
    """Base class: knob values, a blitted Agg figure and the ipywidgets wiring.

    Subclasses set ``defaults`` (knob -> value), ``controls`` (knob -> function building
    its ipywidget from a value) and ``layers``, and define two methods:

    - ``draw()`` lays out the figure and fills ``artists`` (group name -> list of the
      artists that move; each group belongs to one layer). Everything else it draws is
      background, drawn once.
    - ``update(changed)`` moves the artists that depend on the knobs named in
      ``changed`` and returns the names of the groups it moved. It raises ValueError,
      before moving anything, for a combination of knobs the model rejects.
    """

    defaults: dict = {}
    controls: dict = {}
    layers: tuple = ()  # artist group names, bottom layer first (see render)
    figure_size = (7.0, 5.0)  # inches, the seed page's size
    dpi = 100

    def __init__(self, **values):
        self.values = dict(self.defaults)  # check() may read the current values
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
        width = f"{round(self.figure_size[0] * self.dpi)}px"  # one image pixel per screen pixel
        self._image = ipywidgets.Image(value=self.png, format="png", layout={"width": width, "max_width": "100%"})
        self._status = ipywidgets.HTML()
        for name, make in self.controls.items():
            self._widgets[name] = make(self.values[name])
            self._widgets[name].observe(functools.partial(self._on_change, name), names="value")
        controls = ipywidgets.VBox(list(self._widgets.values()), layout={"min_width": "320px"})
        # the figure goes beside the controls, or below them in a narrow window
        return ipywidgets.HBox([controls, ipywidgets.VBox([self._image, self._status])],
                               layout={"flex_flow": "row wrap"})

    def _on_change(self, name, change):
        try:
            self.set(**{name: change["new"]})
        except ValueError as error:  # a value this knob never takes: say so, keep the old one
            self.message = str(error)
            self._sync_widgets()

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
