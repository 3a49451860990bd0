"""The checks every public function of cmtoy runs on its arguments, in one place.

Each check takes the argument's ``name`` (so the error can name it), returns the value
cleaned (a float array, a Python int) and raises ``TypeError`` for a value of the wrong
kind or ``ValueError`` for one of the right kind outside what is allowed, saying what
is allowed. Nothing here warns, and nothing mutates what the caller passed in.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "real_array", "real_vector", "unit_times", "count", "check_rng", "integer", "real", "finite_array",
    "choice", "flag", "two_time_model", "MAX_POINT", "MIN_STD", "MAX_STD",
]


def real_array(name, value):
    """``value`` as a float array (a scalar stays 0-d); NaN is refused. returns [*shape]"""
    arr = _float_array(name, value)
    if np.any(np.isnan(arr)):
        raise ValueError(f"{name} contains NaN")
    return arr


def real_vector(name, value):
    """A non-empty 1-D copy of ``value`` with finite entries (a scalar becomes [1]). returns [K]"""
    _refuse_text_and_bools(name, value, "a sequence of real numbers")
    try:
        arr = np.array(value, dtype=float)  # a copy: the caller's array is never touched
    except OverflowError:  # a Python int beyond the float range
        raise ValueError(f"{name} must be finite, got a number too large for a float") from None
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
    """A number of samples or points: a non-negative integer (numpy integers too, not bool).

    0 is allowed (no samples: an empty array, as numpy does); where nothing sensible can
    be made of zero points (a mean of nothing), use ``integer(name, n, low=1)``.
    """
    return integer(name, n, low=0, high=_MAX_COUNT)


def two_time_model(model, instead=""):
    """Refuse a model without ``flow_map(x, t, s)``, the two-time map that composition and the
    two-time metrics evaluate (a FlowMapModel, or cmtoy.ExactModel); ``instead`` is appended to
    the message, to say what the caller offers a one-time model instead. returns model"""
    if not callable(getattr(model, "flow_map", None)):
        raise TypeError(f"model must be a two-time model with flow_map(x, t, s) (a cmtoy.flow_maps.FlowMapModel), "
                        f"got {type(model).__name__}{instead}")
    return model


def check_rng(rng):
    """Refuse anything but a ``numpy.random.Generator``: randomness is always passed in."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(0)), got {type(rng).__name__}"
        )
    return rng


# -- scalars, finite arrays, choices and flags --------------------------------------------
# One rule for every field: Python and numpy integers are integers, Python and numpy
# floats (and integers) are reals; bool and str are neither (a TypeError naming the
# field); NaN and inf are refused in every real field (a ValueError); a bound that is
# violated is named with the value found.

def _float_array(name, value):
    """``value`` as a float array (no copy if it is one); TypeError for what is not real numbers."""
    _refuse_text_and_bools(name, value, "a real number or array of real numbers")
    try:
        return np.asarray(value, dtype=float)
    except OverflowError:  # a Python int beyond the float range
        raise ValueError(f"{name} must be finite, got a number too large for a float") from None
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number or array of real numbers, got {value!r}") from None


def _refuse_text_and_bools(name, value, wanted):
    """TypeError if ``value`` is (or holds) a str, bytes or bool, which numpy would coerce."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "iuf":
        return  # the common case, decided without a conversion
    try:
        kind = "U" if isinstance(value, (str, bytes)) else np.asarray(value).dtype.kind
    except (TypeError, ValueError):
        return  # ragged or exotic: the float conversion that follows refuses it
    if kind in "USb" or (kind == "O" and any(isinstance(v, (str, bytes, bool, np.bool_))
                                             for v in np.asarray(value, dtype=object).ravel())):
        raise TypeError(f"{name} must be {wanted}, got {value!r}")


_MAX_COUNT = int(np.iinfo(np.intp).max)  # numpy cannot size an array beyond this


def _bounds_text(low, high, low_open=False, high_open=False):
    low, high = (f"{v}" if v is None or isinstance(v, int) else f"{v:g}" for v in (low, high))
    if low != "None" and high != "None":
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low != "None":
        return f"{'>' if low_open else '>='} {low}"
    return f"{'<' if high_open else '<='} {high}"


def integer(name, value, low=None, high=None):
    """An integer field as a Python int, with low <= value <= high where given.

    Accepts int and numpy integers; refuses bool, float (even 3.0) and str with a
    TypeError, and a value out of bounds with a ValueError.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    too_low, too_high = low is not None and value < low, high is not None and value > high
    if too_low or too_high:
        if too_low and low in (0, 1):
            allowed = "a non-negative integer" if low == 0 else "a positive integer"
        elif too_high and high == _MAX_COUNT:
            allowed = f"an integer <= {_MAX_COUNT} (the largest array numpy can make)"
        else:
            allowed = f"an integer {_bounds_text(low, high)}"
        shown = repr(value) if abs(value) < 10**30 else f"an integer of {len(str(abs(value)))} digits"
        raise ValueError(f"{name} must be {allowed}, got {shown}")
    return value


def real(name, value, low=None, high=None, low_open=False, high_open=False):
    """A real field as a finite Python float, within the given bounds.

    Accepts int, float and numpy integer/float scalars (and 0-d arrays of them); refuses
    bool, str and anything else with a TypeError; NaN, inf and a value out of bounds
    (``low_open``/``high_open``: the bound itself is excluded) with a ValueError.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    try:
        value = float(value)
    except OverflowError:  # a Python int beyond the float range
        raise ValueError(f"{name} must be a finite real number, got a number too large for a float") from None
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        raise ValueError(f"{name} must be {_bounds_text(low, high, low_open, high_open)}, got {value!r}")
    return value


#: The largest magnitude of a point x (and of a mixture mean) that cmtoy computes with:
#: with stds of at least MIN_STD, a standardised point (x - m) / s and its square stay far
#: from overflow, so every density, score and quantile is finite without warnings.
MAX_POINT = 1e100
MIN_STD, MAX_STD = 1e-50, 1e50  # stds whose squares neither underflow nor overflow


def finite_array(name, value, limit=MAX_POINT):
    """``value`` as a float array with finite entries of magnitude <= ``limit``. returns [*shape]"""
    arr = _float_array(name, value)
    bad = ~(np.abs(arr) <= limit)  # True for NaN too
    if np.any(bad):
        raise ValueError(f"{name} must be finite and at most {limit:g} in magnitude, got {float(arr[bad][0])!r}")
    return arr


def choice(name, value, allowed):
    """``value`` if it is one of ``allowed`` (compared as is), else a ValueError listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value




def flag(name, value):
    """A yes/no setting: a bool (numpy's too). returns bool"""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)
