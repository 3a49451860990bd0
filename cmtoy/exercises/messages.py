"""How a checker words what it found: short, readable, wrapped between words.

Arrays are summarised by their shape and first entries, never printed whole; every
message line is wrapped at ``WIDTH`` characters between words; a wrong shape, a scalar
where an array belongs and outputs in the wrong order each get their own hint.
"""

from __future__ import annotations

import itertools
import textwrap

import numpy as np

__all__ = ["WIDTH", "close", "wrap", "shorten", "describe", "shape_hint", "order_hint", "difference"]

WIDTH = 88  # message lines are wrapped at this many characters, between words


def close(got, want, rtol, atol):
    """Whether two tuples of arrays agree, shape for shape (NaN agrees with NaN; None agrees with nothing)."""
    if got is None or want is None:
        return False
    return all(g.shape == w.shape and np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
               for g, w in zip(got, want))


def wrap(message, width=WIDTH):
    """The message with every line wrapped between words (never inside one), indents kept."""
    lines = []
    for line in message.splitlines():
        if len(line) <= width:
            lines.append(line)
            continue
        indent = line[:len(line) - len(line.lstrip())]
        lines += textwrap.wrap(line, width, subsequent_indent=indent + "  ", break_long_words=False,
                               break_on_hyphens=False)
    return "\n".join(lines)


def shorten(text, limit=100):
    """The text, cut to at most ``limit`` characters."""
    return text if len(text) <= limit else text[:limit - 5] + " ..."


def describe(value, limit=3):
    """A short readable form of an input or output value: arrays by shape and first entries."""
    if callable(value) and not isinstance(value, np.ndarray):
        return getattr(value, "__name__", type(value).__name__)
    try:
        arr = np.asarray(value) if isinstance(value, (list, tuple, np.ndarray, float, int, np.number)) else None
    except ValueError:  # ragged nesting
        arr = None
    if arr is None or arr.dtype == object or arr.dtype.kind not in "biuf":
        return shorten(repr(value))
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    flat = ", ".join(f"{v:.4g}" for v in arr.ravel()[:limit])
    more = ", ..." if arr.size > limit else ""
    return f"array of shape {arr.shape}: [{flat}{more}]"


def shape_hint(got, want, outputs):
    """What is wrong with the shapes of the student's outputs, or None when they are right.

    got, want: tuples of arrays, one per name in ``outputs`` (the student's, the reference's).
    """
    shapes, wanted = [g.shape for g in got], [w.shape for w in want]
    if shapes == wanted:
        return None
    if len(outputs) > 1 and sorted(shapes) == sorted(wanted):
        names = [[out for out, w in zip(outputs, wanted) if w == s] for s in shapes]
        return _wrong_order([n[0] for n in names] if all(len(n) == 1 for n in names) else None, outputs)
    lines = []
    for out, g, w in zip(outputs, got, want):
        label = f"{out}: " if len(outputs) > 1 else ""
        if g.shape == w.shape:
            continue
        if g.ndim == 0:
            lines.append(f"{label}you returned a single number ({float(g):.4g}), but the answer is an array of "
                         f"shape {w.shape}" + (": compute it for every entry of the inputs (NumPy works "
                                               "elementwise), without summing or averaging." if w.ndim == 1 else "."))
        elif w.ndim == 0:
            lines.append(f"{label}the answer is a single number, but you returned an array of shape {g.shape}: "
                         "reduce it to one number (e.g. the mean over the batch).")
        elif g.size == w.size:
            lines.append(f"{label}expected an array of shape {w.shape}, got shape {g.shape}: the right entries in "
                         "the wrong layout? (a transposed array, or an axis added with [:, None] and kept)")
        else:
            lines.append(f"{label}expected an array of shape {w.shape}, got shape {g.shape}.")
    return "\n".join(lines)


def _wrong_order(returned, outputs):
    """The hint for outputs returned in another order; ``returned``: their names as returned, or None."""
    expected = ", ".join(outputs)
    if returned is None:
        return f"your outputs are right but in the wrong order: return them as ({expected})."
    return f"you returned ({', '.join(returned)}): return them in the order ({expected})."


def order_hint(answers, want, outputs, rtol, atol):
    """The wrong-order hint when one reordering of every answer is the reference, else None.

    answers, want: lists (one entry per case) of tuples of arrays, one array per output.
    """
    n = len(outputs)
    for order in itertools.permutations(range(n)):
        if list(order) != list(range(n)) and all(
                close(tuple(got[k] for k in order), w, rtol, atol) for got, w in zip(answers, want)):
            returned = [None] * n
            for j, k in enumerate(order):  # the student's k-th output is output j
                returned[k] = outputs[j]
            return _wrong_order(returned, outputs)
    return None


def difference(got, want):
    """Where two same-shaped arrays differ most, and whether the gap is a sign or a factor.

    got, want: [*shape], the same shape.
    """
    gap = np.abs(got - want) / (1e-9 + np.abs(want))
    i = np.unravel_index(np.argmax(gap), want.shape)
    where = f" at index {tuple(int(j) for j in i)}" if want.ndim else ""
    text = f"largest difference{where}: expected {want[i]:.6g}, got {got[i]:.6g}"
    big = np.abs(want) > 1e-6 * np.abs(want).max() if want.size and np.abs(want).max() > 0 else None
    if big is not None and np.any(big):
        ratio = got[big] / want[big]
        if np.ptp(ratio) < 1e-6 * np.abs(ratio).mean() and abs(ratio.mean() + 1) < 1e-6:
            text += "\n  your answer is the reference with the opposite sign: check the signs."
        elif np.ptp(ratio) < 1e-6 * np.abs(ratio).mean():
            text += f"\n  your answer is the reference times {ratio.mean():.6g} here: a missing or extra factor?"
    return text
