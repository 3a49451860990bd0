"""Interpolation schedules (alpha_t, sigma_t) of the interpolant x_t = alpha_t x_0 + sigma_t x_1.

Seed eq. (3): alpha_0 = 1, alpha_1 = 0, sigma_0 = 0, sigma_1 = 1. A schedule provides the
two functions and their time derivatives, all vectorised: ``t: [*batch] -> [*batch]``.

To use your own schedule, subclass :class:`Schedule` and define ``alpha`` and ``sigma``;
define ``d_alpha`` and ``d_sigma`` too for exact derivatives (otherwise a fourth-order
central difference is used, accurate to about 1e-10). The boundary conditions are checked
by :meth:`Schedule.validate`, which :class:`cmtoy.Interpolant` calls at construction.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Schedule", "LinearSchedule", "CosineSchedule"]


class Schedule:
    """Base class: a pair of interpolating functions alpha_t, sigma_t on t in [0, 1]."""

    name = "custom"

    def alpha(self, t):
        """alpha_t, the weight of the data x_0. t: [*batch] -> [*batch]"""
        raise NotImplementedError(f"{type(self).__name__} must define alpha(t)")

    def sigma(self, t):
        """sigma_t, the weight of the noise x_1. t: [*batch] -> [*batch]"""
        raise NotImplementedError(f"{type(self).__name__} must define sigma(t)")

    def d_alpha(self, t):
        """d alpha_t / dt (default: fourth-order central difference). t: [*batch]"""
        return _central_difference(self.alpha, t)

    def d_sigma(self, t):
        """d sigma_t / dt (default: fourth-order central difference). t: [*batch]"""
        return _central_difference(self.sigma, t)

    def validate(self):
        """Check the boundary conditions and that the marginal never degenerates.

        Raises ValueError naming the violated condition and the value found.

        >>> class Backwards(Schedule):  # swaps data and noise
        ...     def alpha(self, t): return np.asarray(t, dtype=float)
        ...     def sigma(self, t): return 1.0 - np.asarray(t, dtype=float)
        >>> Backwards().validate()
        Traceback (most recent call last):
            ...
        ValueError: schedule Backwards violates the boundary condition alpha_0 = 1 (seed eq. 3): got 0.0
        """
        ends = {
            "alpha_0": (self.alpha(0.0), 1.0),
            "alpha_1": (self.alpha(1.0), 0.0),
            "sigma_0": (self.sigma(0.0), 0.0),
            "sigma_1": (self.sigma(1.0), 1.0),
        }
        for label, (value, want) in ends.items():
            value = float(np.asarray(value))
            if not np.isfinite(value) or abs(value - want) > 1e-12:
                raise ValueError(
                    f"schedule {type(self).__name__} violates the boundary condition "
                    f"{label} = {want:g} (seed eq. 3): got {value!r}"
                )
        t = np.linspace(0.0, 1.0, 1001)
        values = {
            "alpha": self.alpha(t), "sigma": self.sigma(t),
            "d_alpha": self.d_alpha(t), "d_sigma": self.d_sigma(t),
        }
        for label, v in values.items():
            v = np.asarray(v, dtype=float)
            if v.shape != t.shape:
                raise ValueError(
                    f"schedule {type(self).__name__}.{label}(t) must return an array shaped "
                    f"like t, got shape {v.shape} for t of shape {t.shape}"
                )
            if not np.all(np.isfinite(v)):
                raise ValueError(f"schedule {type(self).__name__}.{label}(t) is not finite on [0, 1]")
        if np.any(values["sigma"][1:] <= 0) or np.any(values["alpha"][:-1] < 0):
            raise ValueError(
                f"schedule {type(self).__name__} must have sigma_t > 0 for t > 0 and "
                f"alpha_t >= 0 for t < 1"
            )
        return self

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return type(self) is type(other)

    def __hash__(self):
        return hash(type(self))


class LinearSchedule(Schedule):
    """alpha_t = 1 - t, sigma_t = t: straight lines from x_0 to x_1 (rectified flow).

    >>> s = LinearSchedule()
    >>> float(s.alpha(0.25)), float(s.sigma(0.25)), float(s.d_alpha(0.25))
    (0.75, 0.25, -1.0)
    """

    name = "linear"

    def alpha(self, t):
        return 1.0 - np.asarray(t, dtype=float)

    def sigma(self, t):
        return np.asarray(t, dtype=float) * 1.0

    def d_alpha(self, t):
        return np.full(np.shape(t), -1.0)

    def d_sigma(self, t):
        return np.full(np.shape(t), 1.0)


class CosineSchedule(Schedule):
    """alpha_t = cos(pi t / 2), sigma_t = sin(pi t / 2): variance preserving for unit data.

    alpha_1 is exactly 0, as seed eq. (3) asks, where the textbook formula is not:

    >>> import numpy as np
    >>> float(CosineSchedule().alpha(1.0)), float(np.cos(np.pi / 2))
    (0.0, 6.123233995736766e-17)
    """

    name = "cosine"

    def alpha(self, t):
        # cos(pi/2) is 6e-17 in floating point; sin(pi (1 - t) / 2) is exactly 0 at t = 1
        return np.sin(0.5 * np.pi * (1.0 - np.asarray(t, dtype=float)))

    def sigma(self, t):
        return np.sin(0.5 * np.pi * np.asarray(t, dtype=float))

    def d_alpha(self, t):
        return -0.5 * np.pi * np.sin(0.5 * np.pi * np.asarray(t, dtype=float))

    def d_sigma(self, t):
        return 0.5 * np.pi * np.cos(0.5 * np.pi * np.asarray(t, dtype=float))


def _central_difference(f, t, h=1e-3):
    """f'(t) by the five-point stencil (error O(h^4) ~ 1e-12 for smooth f)."""
    t = np.asarray(t, dtype=float)
    return (f(t - 2 * h) - 8 * f(t - h) + 8 * f(t + h) - f(t + 2 * h)) / (12 * h)


SCHEDULES = {"linear": LinearSchedule, "cosine": CosineSchedule}


def make_schedule(name):
    """A schedule from its name ("linear" or "cosine"), or a Schedule passed through.

    Raises ValueError for an unknown name and TypeError for anything that is neither a
    name nor a Schedule instance (a Schedule class is named as such: instantiate it).
    """
    if isinstance(name, Schedule):
        return name
    if isinstance(name, type) and issubclass(name, Schedule):
        raise TypeError(f"schedule must be a Schedule instance, got the class {name.__name__}; use {name.__name__}()")
    if not isinstance(name, str):
        raise TypeError(f"schedule must be a Schedule or one of {sorted(SCHEDULES)}, got {type(name).__name__}")
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; choose one of {sorted(SCHEDULES)}")
    return SCHEDULES[name]()
