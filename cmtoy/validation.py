"""The checks every public function of cmtoy runs on its arguments, in one place.

Each check takes the argument's ``name`` (so the error can name it), returns the value
cleaned (a float array, a Python int) and raises ``TypeError`` for a value of the wrong
kind or ``ValueError`` for one of the right kind outside what is allowed, saying what
is allowed. Nothing here warns, and nothing mutates what the caller passed in.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["real_array", "real_vector", "unit_times", "count", "check_rng"]


def real_array(name, value):
    """``value`` as a float array (a scalar stays 0-d); NaN is refused. returns [*shape]"""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or array of real numbers, got {value!r}") from None
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} contains NaN")
    return arr


def real_vector(name, value):
    """A non-empty 1-D copy of ``value`` with finite entries (a scalar becomes [1]). returns [K]"""
    try:
        arr = np.array(value, dtype=float)  # a copy: the caller's array is never touched
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of real numbers, got {value!r}") from None
    if arr.ndim == 0:
        arr = arr[None]
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a mixture needs at least one component")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {arr.tolist()}")
    return arr


def unit_times(name, t):
    """Times of the interpolant as a float array, each in [0, 1]. returns [*shape]"""
    t = real_array(name, t)
    if np.any((t < 0) | (t > 1)):
        bad = t[(t < 0) | (t > 1)].ravel()[0]
        raise ValueError(f"{name} must lie in [0, 1], got {float(bad)!r}")
    return t


def count(name, n):
    """A number of samples or points: a non-negative integer (numpy integers too, not bool)."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {n!r}")
    return int(n)


def check_rng(rng):
    """Refuse anything but a ``numpy.random.Generator``: randomness is always passed in."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)), got {type(rng).__name__}"
        )
    return rng



# -- settings of the config dataclasses (TrainConfig, MLPConfig, AdamConfig, LRSchedule) ----
# A setting is one number or one name. NumPy scalars count as the Python numbers they hold;
# bool, though an int to Python, is never a count or a rate; NaN and inf are never a setting.

__all__ += ["integer", "real", "choice", "flag"]


def integer(name, value, minimum=None):
    """An integer setting (numpy integers too, not bool), ``>= minimum`` if given. returns int"""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        kind = {0: "a non-negative integer", 1: "a positive integer"}.get(minimum, f"an integer >= {minimum}")
        raise ValueError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def real(name, value, low=None, high=None, *, low_open=False, high_open=False):
    """A finite real setting (ints and numpy scalars too, not bool) in [low, high]. returns float

    ``low_open`` / ``high_open`` exclude the bound itself; None means no bound.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not np.isfinite(value) or too_low or too_high:
        left = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
        right = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
        where = "" if low is None and high is None else f" in {left}, {right}"
        raise ValueError(f"{name} must be a finite number{where}, got {value!r}")
    return value


def choice(name, value, allowed):
    """One of the names in ``allowed`` (strings only). returns value"""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; choose one of {tuple(allowed)}")
    return value


def flag(name, value):
    """A yes/no setting: a bool (numpy's too). returns bool"""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
