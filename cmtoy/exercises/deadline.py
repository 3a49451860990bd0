"""A time limit on a student's function, so that a checker never hangs a class.

:class:`StudentClock` gives every call of the student's function what is left of one
budget (the checker's ``time_limit``, in seconds); a call that runs past it is stopped by
raising :class:`TimeLimitExceeded` inside the student's code. How it is stopped depends on
the thread the checker runs in:

- the main thread (a plain kernel, a script, pytest): a POSIX ``SIGALRM`` timer
  (``signal.setitimer``), which interrupts any Python code;
- any other thread (JupyterLab can run code on a second kernel thread; signals only
  reach the main thread): a trace function (``sys.settrace``) that looks at the clock
  on every line the student's Python code executes. It slows the student's code while
  it runs, only this thread is traced, and a debugger's trace function on this thread is
  set aside for the call and restored after it.

Both stop a Python loop that never ends (``while True: pass``). Neither can interrupt a
single call into compiled code (one enormous NumPy operation): it is stopped when it
returns to Python.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import contextmanager

__all__ = ["StudentClock", "TimeLimitExceeded"]


class TimeLimitExceeded(BaseException):
    """Raised inside the student's code when its time is up.

    A BaseException, like KeyboardInterrupt, so that a student's ``except Exception``
    cannot swallow it.
    """


@contextmanager
def _alarm(seconds):
    """SIGALRM after ``seconds``: raises TimeLimitExceeded wherever the main thread is."""
    def on_alarm(signum, frame):
        raise TimeLimitExceeded

    previous_handler = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0.0)
        signal.signal(signal.SIGALRM, previous_handler)


@contextmanager
def _traced(seconds):
    """A trace function on this thread that raises TimeLimitExceeded once ``seconds`` passed."""
    end = time.monotonic() + seconds

    def trace(frame, event, arg):
        if time.monotonic() > end:
            raise TimeLimitExceeded
        return trace  # also trace the lines of this frame

    previous = sys.gettrace()
    sys.settrace(trace)
    try:
        yield
    finally:
        sys.settrace(previous)


def _deadline(seconds):
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        return _alarm(seconds)
    return _traced(seconds)


class StudentClock:
    """One time budget shared by every call of the student's function in one checker call.

    Only the student's own calls are timed, never the checker's reference computations.
    """

    def __init__(self, time_limit):
        if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not time_limit > 0:
            raise ValueError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
        self.time_limit = float(time_limit)
        self.used = 0.0

    def call(self, fn, *args):
        """``fn(*args)``, stopped by TimeLimitExceeded when the budget runs out."""
        remaining = self.time_limit - self.used
        if remaining <= 0:
            raise TimeLimitExceeded
        start = time.perf_counter()
        try:
            with _deadline(remaining):
                return fn(*args)
        finally:
            self.used += time.perf_counter() - start
