"""The knobs of the slider explorers: what values each may take, and the control that sets it.

A knob is the one description of a knob's values, used both to validate
``Explorer.set`` and to build its ipywidgets control, so code and slider accept the same
values and a slider reads back exactly the value the explorer holds (no slider rounds
3e-3 to 3.16e-3). A slider that sends float noise (0.45000000000000007) is snapped to its
grid.
"""

from __future__ import annotations

import math
import numbers

import ipywidgets

__all__ = ["Knob", "Grid", "Count", "Choice", "STYLE"]

STYLE = {"description_width": "104px"}  # the labels of every control: room for "sampling steps"


class Knob:
    """The values one knob may take and the control that sets it: one source for both.

    ``check(name, value)`` returns the value as the explorer keeps it or raises ValueError
    naming the knob, the value and what is allowed; ``make(value)`` builds the control.
    """

    def __init__(self, description, continuous=True):
        self.description = description
        self.continuous = continuous  # redraw while a slider is dragged, not only on release

    def check(self, name, value):
        raise NotImplementedError

    def make(self, value):
        raise NotImplementedError

    def _common(self):
        return dict(description=self.description, style=STYLE, layout={"width": "100%"})


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


class Grid(Knob):
    """A slider over low, low + step, ..., high (rounded to ``decimals``); values snap to that grid.

    Only float noise is snapped (-1.4500000000000002 is -1.45): a value between grid
    points is refused, so what code sets is what the slider shows. The control is a
    slider over the grid's values, not a FloatSlider: a FloatSlider's browser side
    recomputes low + k step in its own floats and, when that differs from the value it
    was sent (-0.2 against -0.20000000000000018), sends its own back; arriving after a
    cell's set(), that echo undid it. A selection slider sends an index.
    """

    def __init__(self, description, low, high, step, decimals=2, continuous=True):
        super().__init__(description, continuous)
        self.low, self.high, self.step, self.decimals = low, high, step, decimals
        self.values = tuple(round(low + k * step, decimals) for k in range(round((high - low) / step) + 1))

    def check(self, name, value):
        if _is_real(value):
            k = round((value - self.low) / self.step)
            if 0 <= k < len(self.values) and abs(value - self.values[k]) <= 1e-9 * self.step:
                return self.values[k]
        raise ValueError(f"{name} must be a multiple of {self.step:g} in [{self.low:g}, {self.high:g}] "
                         f"(the values of its slider), got {value!r}")

    def make(self, value):
        options = [(f"{v:.{self.decimals}f}", v) for v in self.values]
        return ipywidgets.SelectionSlider(options=options, value=value, continuous_update=self.continuous,
                                          **self._common())


class Count(Knob):
    """An integer in [low, high] in steps of ``step``: a slider, or a text box (``text=True``)."""

    def __init__(self, description, low, high, step=1, text=False, continuous=True):
        super().__init__(description, continuous)
        self.low, self.high, self.step, self.text = low, high, step, text

    def check(self, name, value):
        if (isinstance(value, numbers.Integral) and not isinstance(value, bool)
                and self.low <= value <= self.high and (value - self.low) % self.step == 0):
            return int(value)
        every = f" in steps of {self.step}" if self.step != 1 else ""
        raise ValueError(f"{name} must be an integer in [{self.low}, {self.high}]{every}, got {value!r}")

    def make(self, value):
        if self.text:
            return ipywidgets.BoundedIntText(value=value, min=self.low, max=self.high, **self._common())
        return ipywidgets.IntSlider(value=value, min=self.low, max=self.high, step=self.step,
                                    continuous_update=self.continuous, **self._common())


class Choice(Knob):
    """One of a fixed list of values: a slider over them (ordered numbers) or a dropdown.

    label(value) -> the text the control shows (default ``format(value, "g")``). A float
    within rounding of an option is that option.
    """

    def __init__(self, description, options, label=None, dropdown=False, continuous=True):
        super().__init__(description, continuous)
        self.options, self.dropdown = tuple(options), dropdown
        self.label = label or (lambda value: value if isinstance(value, str) else format(value, "g"))

    def check(self, name, value):
        for option in self.options:
            if isinstance(option, str):
                if value == option:
                    return option
            elif _is_real(value) and abs(value - option) <= 1e-9 * abs(option):
                return option
        shown = ", ".join(repr(o) if isinstance(o, str) else self.label(o) for o in self.options)
        raise ValueError(f"{name} must be one of {shown} (the values of its control), got {value!r}")

    def make(self, value):
        options = [(self.label(option), option) for option in self.options]
        if self.dropdown:
            return ipywidgets.Dropdown(options=options, value=value, **self._common())
        return ipywidgets.SelectionSlider(options=options, value=value, continuous_update=self.continuous,
                                          **self._common())
