"""The machinery every exercise checker shares: run a student's function on cases, explain.

A checker builds a list of :class:`Case` (inputs, a description a student can read and
the reference answer from cmtoy) and a list of :class:`Mistake` (a common wrong answer,
computed from the same inputs, and the hint that explains it). :func:`run_cases` calls
the student's function on every case and returns a :class:`CheckResult`:

- every case right: passed, with a short summary of what was checked;
- the function raised: the exception type and message, the input that triggered it and
  the last lines of the student's own traceback (never cmtoy's frames);
- the stub is not filled in (``NotImplementedError`` or ``None`` returned): says so;
- the answers agree with a known mistake on every case: that mistake's hint;
- otherwise: the first wrong case, the value expected and the value returned.

Nothing here raises for a wrong answer: a student sees a message, not a stack trace.
"""

from __future__ import annotations

import html
import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["CheckResult", "Case", "Mistake", "run_cases", "fail", "describe", "report", "standard_settings"]

_THIS_PACKAGE = os.path.dirname(os.path.abspath(__file__))


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one checker: ``passed`` and the ``message`` shown to the student."""

    name: str  # the checker, e.g. "check_marginal_pdf"
    passed: bool  # True when every case agreed with the reference
    message: str  # the pass summary, or what went wrong and a hint
    kind: str = "pass"  # "pass", "stub", "error" (raised or bad return), "hint" or "mismatch"

    def __str__(self):
        mark = "PASSED" if self.passed else "NOT YET"
        return f"{self.name}: {mark}\n{self.message}"

    def __repr__(self):
        return f"CheckResult(name={self.name!r}, passed={self.passed})"

    def _repr_html_(self):
        # the message itself is printed by the checker; the notebook gets a coloured verdict
        colour, mark = ("#1a7f37", "&#10004; passed") if self.passed else ("#b35900", "&#10008; not yet")
        tail = "" if self.passed else " (read the message above)"
        return (f'<div style="border-left: 4px solid {colour}; padding: 2px 10px;">'
                f'<b style="color: {colour}">{html.escape(self.name)}: {mark}</b>{tail}</div>')


@dataclass(frozen=True)
class Case:
    """One call of the student's function: ``fn(*args)`` should give ``expected``.

    ``expected`` is an array or a tuple of arrays (one per named output); ``label``
    says in words what the case probes ("t = 0", "far tail", ...).
    """

    label: str  # what the case probes, shown in messages
    args: tuple  # positional arguments of the student's function
    expected: Any  # reference answer: array, or tuple of arrays named by ``outputs``
    shown: dict = field(default_factory=dict)  # the inputs to print, by name


@dataclass(frozen=True)
class Mistake:
    """A common wrong answer: ``answer(*case.args)`` and the ``hint`` that explains it."""

    hint: str
    answer: Callable


def describe(value, limit=6):
    """A short readable form of an input or output value for a message."""
    if callable(value) and not isinstance(value, np.ndarray):
        return getattr(value, "__name__", type(value).__name__)
    arr = np.asarray(value) if isinstance(value, (list, tuple, np.ndarray, float, int)) else None
    if arr is None or arr.dtype == object:
        return repr(value)
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    flat = ", ".join(f"{v:.4g}" for v in arr.ravel()[:limit])
    more = ", ..." if arr.size > limit else ""
    return f"array of shape {arr.shape}: [{flat}{more}]"


def _as_outputs(value, n_outputs):
    """The student's return value as a tuple of float arrays, or a str saying why not."""
    if value is None:
        return "your function returned None: did you forget the `return` statement?"
    parts = value if n_outputs > 1 else (value,)
    if n_outputs > 1 and (not isinstance(value, (tuple, list)) or len(value) != n_outputs):
        return f"your function should return {n_outputs} arrays (a tuple), got {describe(value)}"
    try:
        return tuple(np.asarray(p, dtype=float) for p in parts)
    except (TypeError, ValueError):
        return f"your function should return numbers, got {describe(value)}"


def _mistaken_answer(mistake, case, n_outputs):
    """The mistake's answer on a case, or None where that mistake cannot happen (e.g. shapes)."""
    try:
        answer = _as_outputs(mistake.answer(*case.args), n_outputs)
    except (ValueError, TypeError, ZeroDivisionError):
        return None
    return None if isinstance(answer, str) else answer


def _close(got, want, rtol, atol):
    if got is None or want is None:
        return False
    return all(g.shape == w.shape and np.allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
               for g, w in zip(got, want))


def _student_traceback(exc, max_frames=3):
    """The last frames of the traceback that are not cmtoy's checker frames."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_THIS_PACKAGE)]
    return "".join(traceback.format_list(frames[-max_frames:])).rstrip()


def fail(name, message, kind="error"):
    """A failed CheckResult of the given kind."""
    return CheckResult(name, False, message, kind)


def _inputs(case):
    return ", ".join(f"{k} = {describe(v)}" for k, v in case.shown.items())


def run_cases(name, fn, cases, mistakes=(), outputs=("value",), rtol=1e-6, atol=1e-9, summary="",
              diagnose=None):
    """Run ``fn`` on every case and return the verdict (never raises for a wrong answer).

    Parameters
    ----------
    name : str
        The checker's name, shown in the verdict.
    fn : callable
        The student's function.
    cases : list of Case
    mistakes : list of Mistake
        A mistake is reported when the student's answers agree with its answers on
        every case where the student's answer is wrong.
    outputs : tuple of str
        Names of the returned arrays (one name: a single array is returned).
    rtol, atol : float
        Agreement tolerance, as in ``numpy.allclose``.
    summary : str
        What the cases covered, for the pass message.
    diagnose : callable, optional
        ``diagnose(cases, answers, wrong) -> str or None``: a hint found by looking at
        the answers themselves (e.g. a broken boundary condition), tried after the
        mistakes. ``answers`` holds one tuple of arrays per case, ``wrong`` the indices
        of the wrong cases.
    """
    if not callable(fn):
        return fail(name, f"pass your function itself to {name}, got {describe(fn)}")
    answers = []
    for case in cases:
        try:
            with np.errstate(all="ignore"):
                # copies: a function that updates its inputs in place must not change the case
                value = fn(*(a.copy() if isinstance(a, np.ndarray) else a for a in case.args))
        except NotImplementedError:
            return fail(name, f"{getattr(fn, '__name__', 'the function')} is not implemented yet: "
                              "replace `raise NotImplementedError` by your code.", "stub")
        except Exception as exc:  # the student's bug: report it with the input that caused it
            return fail(name, f"your function raised {type(exc).__name__}: {exc}\n"
                              f"on the case '{case.label}' with {_inputs(case)}\n"
                              f"{_student_traceback(exc)}")
        got = _as_outputs(value, len(outputs))
        if isinstance(got, str):
            kind = "stub" if value is None else "error"
            return fail(name, f"{got}\n(case '{case.label}' with {_inputs(case)})", kind)
        answers.append(got)

    want = [_as_outputs(case.expected, len(outputs)) for case in cases]
    wrong = [i for i, (g, w) in enumerate(zip(answers, want)) if not _close(g, w, rtol, atol)]
    if not wrong:
        return CheckResult(name, True, f"all {len(cases)} cases agree with cmtoy's reference{summary}.")

    first = cases[wrong[0]]
    where = f"(first seen on the case '{first.label}' with {_inputs(first)})"
    with np.errstate(all="ignore"):
        mistaken = [[_mistaken_answer(m, cases[i], len(outputs)) for i in wrong] for m in mistakes]
    for mistake, theirs in zip(mistakes, mistaken):
        if all(_close(answers[i], their, rtol, atol) for i, their in zip(wrong, theirs)):
            return fail(name, f"Hint: {mistake.hint}\n{where}", "hint")
    # several outputs: one hint per wrong output, where a mistake explains that output alone
    hints = []
    for j, out in enumerate(outputs if len(outputs) > 1 else ()):
        bad = [k for k, i in enumerate(wrong) if not _close(answers[i][j:j + 1], want[i][j:j + 1], rtol, atol)]
        for mistake, theirs in zip(mistakes, mistaken):
            if bad and all(theirs[k] is not None and _close(answers[wrong[k]][j:j + 1], theirs[k][j:j + 1],
                                                            rtol, atol) for k in bad):
                hints.append(f"Hint ({out}): {mistake.hint}")
                break
    if hints:
        return fail(name, "\n".join(hints + [where]), "hint")
    hint = diagnose(cases, answers, wrong) if diagnose is not None else None
    if hint:
        return fail(name, f"Hint: {hint}", "hint")
    return fail(name, _mismatch(cases[wrong[0]], answers[wrong[0]], want[wrong[0]], outputs, len(wrong), len(cases)),
                "mismatch")


def _mismatch(case, got, want, outputs, n_wrong, n_cases):
    lines = [f"{n_wrong} of {n_cases} cases disagree with cmtoy's reference; the first is "
             f"'{case.label}' with {_inputs(case)}:"]
    for out, g, w in zip(outputs, got, want):
        label = "" if len(outputs) == 1 else f"{out}: "
        if g.shape != w.shape:
            lines.append(f"  {label}expected an array of shape {w.shape}, got shape {g.shape}")
        elif not np.all(np.isfinite(g)) and np.all(np.isfinite(w)):
            lines.append(f"  {label}your answer contains NaN or inf where the reference is finite: "
                         f"got {describe(g)}")
        elif not np.allclose(g, w, rtol=1e-6, atol=1e-9):
            lines.append(f"  {label}{_difference(g, w)}")
    return "\n".join(lines)


def _difference(got, want):
    """Where two same-shaped arrays differ most, and whether the gap is a sign or a factor."""
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


def report(result, quiet):
    """Print the verdict (unless ``quiet``) and return it."""
    if not quiet:
        print(str(result))
    return result


def standard_settings():
    """The (label, mixture, schedule) triples every exact-math checker runs through.

    The seed mixture (narrow, unequal modes), a three-component mixture with unequal
    widths, and a single broad Gaussian; each under the linear and the cosine schedule.
    """
    from ..schedules import CosineSchedule, LinearSchedule
    from ..targets import SEED_MIXTURE, GaussianMixture

    mixtures = {
        "seed mixture": SEED_MIXTURE,
        "three-mode mixture": GaussianMixture(means=[-2.0, 0.5, 3.0], stds=[0.3, 0.05, 1.0],
                                              weights=[0.3, 0.5, 0.2]),
        "one Gaussian": GaussianMixture(means=[0.7], stds=[1.3]),
    }
    return [(f"{label}, {schedule.name} schedule", mixture, schedule)
            for label, mixture in mixtures.items() for schedule in (LinearSchedule(), CosineSchedule())]
