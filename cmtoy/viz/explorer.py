"""The machinery of the slider explorers: knobs, a blitted Agg figure, ipywidgets, one lock.

An explorer keeps its knob values in ``values`` and draws with the building blocks of
:mod:`cmtoy.viz.plotting`. ``explorer.set(name=value, ...)`` validates the values, moves only
the artists those knobs affect (the ``update_*`` half of each building block) and renders
the figure to PNG bytes, ``explorer.png``: tests and benchmarks drive it without a kernel.
``explorer.widget()`` puts the same object behind ipywidgets: each control calls ``set``
and the PNG goes into an ``ipywidgets.Image``, which JupyterLab shows with no plotting
extension.

Each knob is a :class:`cmtoy.viz.knobs.Knob`: the one description of the values it may
take, used both to validate ``set`` and to build its control (:mod:`cmtoy.viz.knobs`).

Threads: JupyterLab delivers widget messages on a second kernel thread
(``commsOverSubshells``) while a cell may call ``set`` on the main one, and the Train
button of notebook 03 runs there too. Everything that reads or changes the knobs, the
artists, the canvas or the widgets holds the explorer's ``lock`` (reentrant: a control
changed under it calls ``set`` again), so the picture is always that of the knobs.

Rendering blits: the frame (axes, ticks, labels, fixed curves) is drawn once and kept as
a background; a move redraws only the explorer's own artists on top of it, layer by layer
from the lowest layer that moved. The explorers themselves are in :mod:`cmtoy.viz.widgets`
and :mod:`cmtoy.viz.learned_widgets`.
"""

from __future__ import annotations

import functools
import html
import struct
import threading
import weakref
import zlib

import ipywidgets
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .knobs import Knob
from .plotting import figure_style

__all__ = ["Explorer", "encode_png", "status_line"]

CONTROLS_WIDTH = 300  # px: the column of controls beside the figure
# the figure: never wider than its pixels, shrunk to the space beside the controls, and
# never taller than a laptop window leaves under JupyterLab's bars
FIGURE_MAX_HEIGHT = "calc(100vh - 140px)"
FIGURE_MIN_WIDTH = 400  # px: in a narrower window the figure goes below the controls
REST_SECONDS = 0.3  # how long the sliders rest before the warm-up computes (a drag needs the CPU)


def _png_chunk(kind, data):
    """One PNG chunk: length, type, data and the CRC-32 of type and data (PNG spec, sec. 5.3)."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(canvas):
    """The Agg canvas as PNG bytes: 8-bit RGB, every row unfiltered, zlib level 1.

    Every slider move encodes a frame, so the encoding must cost little beside the
    redraw. A general encoder tries a filter per row; on a plot of flat colours and thin
    lines the unfiltered rows compress about as well, and much sooner
    (benchmarks/bench_widgets.py times a move end to end).
    """
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]  # opaque: drop alpha
    height, width, _ = rgb.shape
    rows = np.zeros((height, 1 + 3 * width), dtype=np.uint8)  # a leading 0 per row: filter "none"
    rows[:, 1:] = rgb.reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, truecolour, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1)) + _png_chunk(b"IEND", b""))


def _warm_up(explorer_ref, moved):
    """Keep an explorer's caches ahead of its sliders (``Explorer.warm_up_work``), in the background.

    explorer_ref: a weak reference (the thread ends with the explorer); moved: the Event
    its set() sets. Once the sliders rest for REST_SECONDS the work is done in order; a
    new move restarts it from the new knobs.
    """
    while True:
        if not moved.wait(timeout=10.0):
            if explorer_ref() is None:
                return
            continue
        moved.clear()
        while moved.wait(timeout=REST_SECONDS):  # still moving: wait for a rest
            moved.clear()
        explorer = explorer_ref()
        if explorer is None:
            return
        with explorer.lock:
            work = explorer.warm_up_work()
        for call in work:
            if moved.is_set():
                break
            call()
        explorer = work = call = None  # no reference kept while waiting: the explorer may go


def status_line(text_html, color="inherit"):
    """HTML of a status line: compact lines (an HTML widget's default line height is a row's)."""
    return f"<div style='line-height:1.35;color:{color}'>{text_html}</div>"


class Explorer:
    """Base class: knob values, a blitted Agg figure, the ipywidgets wiring and the lock.

    Subclasses set ``defaults`` (knob -> value), ``knobs`` (knob -> :class:`Knob`) and
    ``layers``, and define two methods:

    - ``draw()`` lays out the figure and fills ``artists`` (group name -> list of the
      artists that move; each group belongs to one layer). Everything else it draws is
      background, drawn once.
    - ``update(changed)`` moves the artists that depend on the knobs named in
      ``changed`` and returns the names of the groups it moved. It raises ValueError
      for a combination of knobs the model rejects.

    A subclass may extend ``check(values)`` with conditions between knobs.
    """

    defaults: dict = {}
    knobs: dict = {}
    layers: tuple = ()  # artist group names, bottom layer first (see render)
    figure_size = (7.0, 5.0)  # inches, the seed page's size
    dpi = 100

    def __init__(self, **values):
        self.lock = threading.RLock()  # one at a time: knobs, artists, canvas, widgets
        self._values = dict(self.defaults)  # check() may read the current values
        self._values = self.check({**self.defaults, **values})
        self.figure = Figure(figsize=self.figure_size, dpi=self.dpi)
        FigureCanvasAgg(self.figure)
        self.artists = {}  # name -> artists the explorer moves; all else is background
        self.message = ""  # why the last set() was refused, for the status line
        self._widgets = {}  # knob -> its ipywidget, once widget() was called
        self._image = self._status = None
        self._moved = None  # set by set(): wakes the warm-up thread, once a widget is shown
        self._frame, self._under = None, []  # frame key; canvas caches under each layer
        with figure_style():
            self.draw()
        self.render()

    @property
    def values(self):
        """A copy of the knob values (knob -> value): what the figure and the controls show."""
        with self.lock:
            return dict(self._values)

    def check(self, values):
        """Validate knob values with their knobs' rules, returning them cleaned (snapped)."""
        unknown = sorted(set(values) - set(self.defaults))
        if unknown:
            raise ValueError(f"unknown knob(s) {unknown}; this explorer has {sorted(self.defaults)}")
        return {name: self.knobs[name].check(name, value) for name, value in values.items()}

    def set(self, **values):
        """Change knobs, move what they affect and re-render ``png``. Returns the changed names.

        Atomic: if anything fails, the knobs, the controls and the figure keep their
        previous state and ``message`` (the status line beside the figure) says why. A
        value no control can show raises ValueError; a combination the model rejects
        (all weights zero, say) returns an empty set; any other error is raised.
        """
        with self.lock:
            try:
                cleaned = self.check(values)
            except ValueError as error:
                self._refuse(error)
                raise
            changed = {name for name, value in cleaned.items() if self._values[name] != value}
            if not changed:
                return changed
            previous, rendering = dict(self._values), False
            self._values.update(cleaned)
            try:
                with figure_style():
                    moved = self.update(changed)
                rendering = True
                self.render(moved)
            except Exception as error:
                self._values = previous
                with figure_style():
                    self.update(changed)  # put back what had moved (it drew these values before)
                if rendering:
                    self._frame = None  # the canvas may be half drawn: the next render starts afresh
                self._refuse(error)
                if not isinstance(error, ValueError):
                    raise
                return set()
            self.message = ""
            self._sync_widgets()
            if self._moved is not None:
                self._moved.set()  # the warm-up starts again from these knobs
            return changed

    def _refuse(self, error):
        self.message = str(error)
        self._sync_widgets()

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
        redraws from there up (all layers when ``moved`` is None). The image control gets
        the finished PNG only.
        """
        with self.lock:
            canvas = self.figure.canvas
            frame = [
                (ax.get_xlim() if len(ax.get_xticks()) else None, ax.get_ylim() if len(ax.get_yticks()) else None)
                for ax in self.figure.axes
            ]
            if frame != self._frame:
                for artist in (a for artists in self.artists.values() for a in artists):
                    artist.set_animated(True)  # left out of the full draw, drawn by layers below
                canvas.draw()
                self._frame, self._under, moved = frame, [canvas.copy_from_bbox(self.figure.bbox)], None
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

    def widget(self, extra=()):
        """The controls, the status line and ``extra`` widgets in a column beside the figure.

        The figure is an ipywidgets.Image that takes the width left beside the controls
        and at most the height of the window, never more than its own pixels, so a
        slider and the picture are seen at once from 1366x768 with the file browser
        open; in a window too narrow for both, the figure goes below the controls.
        """
        with self.lock:
            width, height = (round(size * self.dpi) for size in self.figure_size)
            self._image = ipywidgets.Image(value=self.png, format="png", layout={
                "width": "auto", "height": "auto", "max_width": f"min(100%, {width}px)",
                "max_height": FIGURE_MAX_HEIGHT, "object_fit": "contain", "object_position": "left top",
                "flex": f"1 1 {FIGURE_MIN_WIDTH}px", "min_width": "0"})  # min_width: else it never shrinks
            self._status = ipywidgets.HTML(layout={"width": "100%"})
            self._widgets = {}
            for name, knob in self.knobs.items():
                self._widgets[name] = knob.make(self._values[name])
                self._widgets[name].observe(functools.partial(self._on_change, name), names="value")
            controls = ipywidgets.VBox([*self._widgets.values(), *extra, self._status],
                                       layout={"width": f"{CONTROLS_WIDTH}px", "flex": f"0 0 {CONTROLS_WIDTH}px"})
            box = ipywidgets.HBox([controls, self._image],
                                  layout={"align_items": "flex-start", "width": "100%", "flex_flow": "row wrap"})
            box.add_class("cmtoy-explorer")
            self._sync_widgets()
            if self._moved is None and type(self).warm_up_work is not Explorer.warm_up_work:
                self._moved = threading.Event()
                threading.Thread(target=_warm_up, args=(weakref.ref(self), self._moved), daemon=True,
                                 name=f"cmtoy {type(self).__name__} warm-up").start()
                self._moved.set()
            return box

    def warm_up_work(self):
        """What to compute ahead of the sliders, nearest first: a list of calls that fill caches.

        Called under the lock; the calls run outside it, in a background thread, once a
        widget is shown and whenever the sliders rest. They must only fill caches whose
        entries do not depend on who computes them (a slider's own draw may compute the
        same entry meanwhile). The base class has none.
        """
        return []

    def _on_change(self, name, change):
        """A control moved (in the browser, or under ``_sync_widgets``): set its knob."""
        with self.lock:
            try:
                self.set(**{name: change["new"]})
            except ValueError:
                pass  # set() put the control back and the status line says why

    def status_html(self):
        """The status line beside the figure: why the last change was refused, if it was."""
        return status_line(html.escape(self.message), color="#b00000") if self.message else ""

    def _sync_widgets(self):
        """Show the knob values on the controls (their observers find nothing changed) and the status."""
        with self.lock:
            for name, control in self._widgets.items():
                if control.value != self._values[name]:
                    control.value = self._values[name]
            if self._status is not None:
                self._status.value = self.status_html()
