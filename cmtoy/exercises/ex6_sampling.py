"""Exercise 6: the multistep sampler of a consistency model.

One step maps noise to data: x_1 ~ N(0, 1), x_0 = f(1, x_1). More steps trade compute
for quality (Song et al. 2023, arXiv 2303.01469, Alg. 1): for each further time tau of a
decreasing sequence, re-noise the current estimate along the interpolant (seed eq. 2),

    x_tau = alpha_tau x_0 + sigma_tau z,   z ~ N(0, 1) fresh,       then   x_0 = f(tau, x_tau).

The student writes ``multistep_sample(f, rng, n, times, schedule) -> [n]`` with
``times = (1.0, tau_2, ...)``. Drawing x_1 first and then one z per step, each with
``rng.standard_normal(n)``, reproduces the reference sample for sample; a sampler that
draws in another order is compared in distribution instead.
"""

from __future__ import annotations

import numpy as np

from ..interpolant import Interpolant
from .checking import TIME_LIMIT, Case, CheckResult, Mistake, check_seed, report, run_cases, standard_settings
from .deadline import StudentClock, TimeLimitExceeded

__all__ = ["check_multistep_sample", "reference_multistep_sample"]


def reference_multistep_sample(f, rng, n, times, schedule):
    """Multistep consistency sampling. f: callable (t, x) -> [n]; times: [m], 1.0 first. returns [n]"""
    return _sampler()(f, rng, n, times, schedule)


def _sampler(renoise=lambda a, s, x_0, z, x_1: a * x_0 + s * z, eval_time=lambda times, i: times[i],
             first=1, last_denoise=True, fresh_noise=True):
    """The multistep sampler with one part changed (for recognising mistakes)."""
    def answer(f, rng, n, times, schedule):
        x_1 = rng.standard_normal(n)
        x_0 = f(1.0, x_1)  # one step: alpha_1 = 0, so x_1 is pure noise
        for i in range(first, len(times)):
            tau = times[i]
            z = rng.standard_normal(n) if fresh_noise else x_1
            x_tau = renoise(schedule.alpha(tau), schedule.sigma(tau), x_0, z, x_1)
            if not last_denoise and i == len(times) - 1:
                return x_tau
            x_0 = f(eval_time(times, i), x_tau)
        return x_0
    return answer


def _with_seed(sampler):
    """sampler(f, rng, ...) as a function of a seed, so every call sees the same draws."""
    def call(f, seed, n, times, schedule):
        return sampler(f, np.random.default_rng(seed), n, times, schedule)
    call.__name__ = getattr(sampler, "__name__", "sampler")
    return call


def _w1_two_sample(a, b):
    """Wasserstein-1 distance between two equally large samples: mean |sorted a - sorted b|."""
    return float(np.mean(np.abs(np.sort(a) - np.sort(b))))


def _networks(interp):
    exact = interp.consistency_function
    shifted = lambda t, x: exact(t, x) + 0.5 * np.asarray(t)  # noqa: E731  (wrong by 0.5 t: the time matters)
    shifted.__name__ = "f* + 0.5 t"
    return {"exact f*": exact, "f* + 0.5 t": shifted}


def _distribution_check(name, sampler, time_limit, n=20_000, tolerance=0.03):
    """Pass if the student's samples have the reference's law (another draw order is fine)."""
    interp = Interpolant(standard_settings()[0][1], standard_settings()[0][2])
    times = (1.0, 0.6, 0.2)
    lines, clock = [], StudentClock(time_limit)
    for label, f in _networks(interp).items():
        try:
            with np.errstate(all="ignore"):
                theirs = np.asarray(clock.call(sampler, f, np.random.default_rng(123), n, times, interp.schedule),
                                    float)
        except (Exception, TimeLimitExceeded):  # the value check's verdict stands
            return None
        ours = reference_multistep_sample(f, np.random.default_rng(456), n, times, interp.schedule)
        if theirs.shape != ours.shape:
            return None
        w1 = _w1_two_sample(theirs, ours)
        if not w1 < tolerance:
            return None
        lines.append(f"W1 to the reference sampler's law with f = {label}: {w1:.3f}")
    return CheckResult(name, True, "your samples differ from the reference draw by draw (the reference "
                       "draws x_1 first, then one z per step), but their distribution matches:\n" + "\n".join(lines))


def check_multistep_sample(multistep_sample, quiet=False, seed=None, time_limit=TIME_LIMIT):
    """Check ``multistep_sample(f, rng, n, times, schedule) -> [n]``.

    f: callable (t, x) -> [n] (t a float or an array); rng: numpy.random.Generator;
    times: sequence starting at 1.0, decreasing. Cases: one step, two steps (the seed
    page's 1.0, 0.5), four steps, a batch of one, the exact f* and a deliberately wrong f.
    seed=None runs the cases a class sees; an int runs other random inputs and mixtures (for
    hidden grading tests). ``time_limit``: seconds the function may take over all cases.
    """
    cases, settings = [], standard_settings(seed)
    first_seed = 10 if check_seed(seed) is None else 1000 * (seed + 1)
    for label, mixture, schedule in (settings[0], settings[3]):
        interp = Interpolant(mixture, schedule)
        for f_label, f in _networks(interp).items():
            for times, n in (((1.0,), 6), ((1.0, 0.5), 6), ((1.0, 0.7, 0.4, 0.1), 6), ((1.0, 0.3), 1)):
                case_seed = first_seed + len(cases)
                args = (f, case_seed, n, times, schedule)
                cases.append(Case(f"{len(times)} step(s), f = {f_label}, {label}", args,
                                  _with_seed(_sampler())(*args),
                                  dict(f=f_label, rng=f"numpy.random.default_rng({case_seed})", n=n, times=times,
                                       schedule=schedule)))
    mistakes = [Mistake(hint, _with_seed(sampler)) for hint, sampler in [
        ("re-noise before every further step: x_tau = alpha_tau x_0 + sigma_tau z with fresh z; "
         "feeding the previous estimate of x_0 straight back into f skips the point of multistep sampling.",
         _sampler(renoise=lambda a, s, x_0, z, x_1: x_0)),
        ("the re-noised point on the interpolant is alpha_tau x_0 + sigma_tau z: the alpha_tau factor is "
         "missing (x_0 + sigma z is the variance-exploding form of Song et al., where alpha = 1).",
         _sampler(renoise=lambda a, s, x_0, z, x_1: x_0 + s * z)),
        ("alpha_tau multiplies the estimate x_0 and sigma_tau the fresh noise z: they are swapped.",
         _sampler(renoise=lambda a, s, x_0, z, x_1: s * x_0 + a * z)),
        ("draw FRESH noise z ~ N(0, 1) at every step (rng.standard_normal(n)); reusing x_1 correlates "
         "the steps.", _sampler(fresh_noise=False)),
        ("off by one in time: after re-noising to time tau, evaluate f at that same tau, f(tau, x_tau).",
         _sampler(eval_time=lambda times, i: times[i - 1])),
        ("times[0] = 1.0 is the first, one-step jump from pure noise; the re-noising loop runs over "
         "times[1:] only.", _sampler(first=0)),
        ("use every time in `times`: you returned the one-step sample f(1, x_1) whatever the times.",
         _sampler(first=1 << 30)),
        ("the last step must end with the denoising f(tau, x_tau): you returned the re-noised point x_tau.",
         _sampler(last_denoise=False)),
    ]]
    student = _with_seed(multistep_sample) if callable(multistep_sample) else multistep_sample
    result = run_cases("check_multistep_sample", student, cases, mistakes, rtol=1e-10, atol=1e-12,
                       summary=" draw for draw (1, 2 and 4 steps, a batch of one, exact and wrong f, two settings)",
                       time_limit=time_limit)
    if result.kind == "mismatch":
        result = _distribution_check(result.name, multistep_sample, time_limit) or result
    return report(result, quiet)
