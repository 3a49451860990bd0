"""The machinery every exercise checker shares: run a student's function on cases, explain.

A checker builds a list of :class:`Case` (inputs, a description a student can read and
the reference answer from cmtoy) and a list of :class:`Mistake` (a common wrong answer,
computed from the same inputs, and the hint that explains it). :func:`run_cases` calls
the student's function on every case and returns a :class:`CheckResult`:

- every case right: passed, with a short summary of what was checked;
- the function raised: the exception type and message, the input that triggered it and
  the last lines of the student's own traceback (never cmtoy's frames);
- the stub is not filled in (``NotImplementedError`` or ``None`` returned): says so;
- the function ran past the checker's time limit: stopped, and says so (see :mod:`cmtoy.exercises.deadline`);
- a scalar or wrongly shaped answer, or several outputs in the wrong order: a hint naming
  the expected shapes (the comparisons below only ever see the right shapes);
- the answers agree with a known mistake on every case: that mistake's hint;
- otherwise: the first wrong case, the value expected and the value returned.

Nothing here raises for a wrong answer: a student sees a message, not a stack trace.
Messages stay short (arrays are summarised by their shape and first entries) and are
wrapped between words, so that a notebook never breaks a word across lines.
"""

from __future__ import annotations

import html
import os
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .deadline import StudentClock, TimeLimitExceeded
from .messages import close, describe, difference, order_hint, shape_hint, shorten, wrap

__all__ = ["CheckResult", "Case", "Mistake", "run_cases", "fail", "describe", "report", "standard_settings",
           "TIME_LIMIT"]

_THIS_PACKAGE = os.path.dirname(os.path.abspath(__file__))
TIME_LIMIT = 5.0  # seconds the student's function may take in one checker call, over all its cases


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one checker: ``passed`` and the ``message`` shown to the student."""

    name: str  # the checker, e.g. "check_marginal_pdf"
    passed: bool  # True when every case agreed with the reference
    message: str  # the pass summary, or what went wrong and a hint
    kind: str = "pass"  # "pass", "stub", "error" (raised or bad return), "timeout", "hint" or "mismatch"

    def __post_init__(self):
        object.__setattr__(self, "message", wrap(self.message))  # frozen: set once, here

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


def _student_frames(exc):
    """The traceback frames of the student's code (not cmtoy's checker frames)."""
    return [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_THIS_PACKAGE)]


def _student_traceback(exc, max_frames=3):
    """The last frames of the traceback that are the student's."""
    return "".join(traceback.format_list(_student_frames(exc)[-max_frames:])).rstrip()


def fail(name, message, kind="error"):
    """A failed CheckResult of the given kind."""
    return CheckResult(name, False, message, kind)


def _inputs(case):
    return ", ".join(f"{k} = {describe(v)}" for k, v in case.shown.items())


def run_cases(name, fn, cases, mistakes=(), outputs=("value",), rtol=1e-6, atol=1e-9, summary="",
              diagnose=None, diagnose_error=None, time_limit=TIME_LIMIT):
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
    diagnose_error : callable, optional
        ``diagnose_error(exc, frames) -> str or None``: a hint for an exception the
        student's code raised (``frames``: the student's traceback frames, innermost last).
    time_limit : float
        Seconds the student's function may take over all cases together.
    """
    if not callable(fn):
        return fail(name, f"pass your function itself to {name}, got {describe(fn)}")
    clock = StudentClock(time_limit)
    want = [_as_outputs(case.expected, len(outputs)) for case in cases]
    answers = []
    for case, expected in zip(cases, want):
        try:
            with np.errstate(all="ignore"):
                # copies: a function that updates its inputs in place must not change the case
                value = clock.call(fn, *(a.copy() if isinstance(a, np.ndarray) else a for a in case.args))
        except TimeLimitExceeded:
            return fail(name, f"your function took longer than {time_limit:g} s and was stopped, on the case "
                              f"'{case.label}' with {_inputs(case)}. Is there a loop that never ends "
                              "(a `while` whose condition never changes)?", "timeout")
        except NotImplementedError:
            return fail(name, f"{getattr(fn, '__name__', 'the function')} is not implemented yet: "
                              "replace `raise NotImplementedError` by your code.", "stub")
        except Exception as exc:  # the student's bug: report it with the input that caused it
            hint = diagnose_error(exc, _student_frames(exc)) if diagnose_error is not None else None
            return fail(name, (f"Hint: {hint}\n" if hint else "")
                        + f"your function raised {type(exc).__name__}: {shorten(str(exc), 200)}\n"
                          f"on the case '{case.label}' with {_inputs(case)}\n{_student_traceback(exc)}")
        got = _as_outputs(value, len(outputs))
        if isinstance(got, str):
            kind = "stub" if value is None else "error"
            return fail(name, f"{got}\n(case '{case.label}' with {_inputs(case)})", kind)
        bad_shape = shape_hint(got, expected, outputs)
        if bad_shape:
            return fail(name, f"Hint: {bad_shape}\n(case '{case.label}' with {_inputs(case)})", "hint")
        answers.append(got)

    wrong = [i for i, (g, w) in enumerate(zip(answers, want)) if not close(g, w, rtol, atol)]
    if not wrong:
        return CheckResult(name, True, f"all {len(cases)} cases agree with cmtoy's reference{summary}.")

    first = cases[wrong[0]]
    where = f"(first seen on the case '{first.label}' with {_inputs(first)})"
    order = order_hint([answers[i] for i in wrong], [want[i] for i in wrong], outputs, rtol, atol)
    if order:
        return fail(name, f"Hint: {order}\n{where}", "hint")
    with np.errstate(all="ignore"):
        mistaken = [[_mistaken_answer(m, cases[i], len(outputs)) for i in wrong] for m in mistakes]
    for mistake, theirs in zip(mistakes, mistaken):
        if all(close(answers[i], their, rtol, atol) for i, their in zip(wrong, theirs)):
            return fail(name, f"Hint: {mistake.hint}\n{where}", "hint")
    # several outputs: one hint per wrong output, where a mistake explains that output alone
    hints = []
    for j, out in enumerate(outputs if len(outputs) > 1 else ()):
        bad = [k for k, i in enumerate(wrong) if not close(answers[i][j:j + 1], want[i][j:j + 1], rtol, atol)]
        for mistake, theirs in zip(mistakes, mistaken):
            if bad and all(theirs[k] is not None and close(answers[wrong[k]][j:j + 1], theirs[k][j:j + 1],
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
        if not np.all(np.isfinite(g)) and np.all(np.isfinite(w)):
            lines.append(f"  {label}your answer contains NaN or inf where the reference is finite: "
                         f"got {describe(g)}")
        elif not np.allclose(g, w, rtol=1e-6, atol=1e-9):
            lines.append(f"  {label}{difference(g, w)}")
    return "\n".join(lines)


def report(result, quiet):
    """Print the verdict (unless ``quiet``) and return it."""
    if not quiet:
        print(str(result))
    return result


def standard_settings(seed=None):
    """The (label, mixture, schedule) triples every exact-math checker runs through.

    seed : None or int
        None: the seed mixture (narrow, unequal modes), a three-component mixture with
        unequal widths and a single broad Gaussian, the settings a class sees. An int:
        three other mixtures drawn from that seed (three, two and one components), for
        grading tests a student has not seen.

    Each mixture comes under the linear and the cosine schedule (mixture by mixture).
    """
    from ..schedules import CosineSchedule, LinearSchedule
    from ..targets import SEED_MIXTURE, GaussianMixture

    if seed is None:
        mixtures = {
            "seed mixture": SEED_MIXTURE,
            "three-mode mixture": GaussianMixture(means=[-2.0, 0.5, 3.0], stds=[0.3, 0.05, 1.0],
                                                  weights=[0.3, 0.5, 0.2]),
            "one Gaussian": GaussianMixture(means=[0.7], stds=[1.3]),
        }
    else:
        rng = np.random.default_rng(check_seed(seed))
        mixtures = {}
        for k in (3, 2, 1):
            mixture = GaussianMixture(means=np.sort(rng.uniform(-3.0, 3.0, k)), stds=rng.uniform(0.05, 1.0, k),
                                      weights=rng.dirichlet(np.full(k, 2.0)))
            mixtures[f"{k}-component mixture of seed {seed}"] = mixture
    return [(f"{label}, {schedule.name} schedule", mixture, schedule)
            for label, mixture in mixtures.items() for schedule in (LinearSchedule(), CosineSchedule())]


def check_seed(seed):
    """The seed as an int, or a ValueError naming it (seeds are non-negative ints or None)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be None (the class's cases) or a non-negative int, got {seed!r}")
    return int(seed)


def case_rng(seed, default):
    """The generator of a checker's random inputs: its own default seed, or the grader's ``seed``."""
    return np.random.default_rng(default if check_seed(seed) is None else (default, int(seed)))
