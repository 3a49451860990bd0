"""Exercise 1: the interpolant x_t = alpha_t x_0 + sigma_t x_1 and its marginal density p_t.

The student writes

- ``interpolate(x_0, x_1, t, schedule) -> x_t``  (seed eq. 2), and
- ``marginal_pdf(t, x, mixture, schedule) -> p_t(x)``: for x_0 ~ sum_k w_k N(mu_k, s_k^2)
  and x_1 ~ N(0, 1), x_t is again a mixture, component k having mean alpha_t mu_k and
  variance alpha_t^2 s_k^2 + sigma_t^2.

The references are :class:`cmtoy.Interpolant` and its ``pdf``.
"""

from __future__ import annotations

import numpy as np

from ..interpolant import Interpolant
from .checking import TIME_LIMIT, Case, Mistake, case_rng, report, run_cases, standard_settings

__all__ = ["check_interpolate", "check_marginal_pdf"]


def check_interpolate(interpolate, quiet=False, seed=None, time_limit=TIME_LIMIT):
    """Check ``interpolate(x_0, x_1, t, schedule) -> x_t``.

    x_0, x_1: [n]; t: float or [n]; returns [n]. Prints and returns a CheckResult.
    seed=None runs the cases a class sees; an int runs other random inputs and mixtures (for
    hidden grading tests). ``time_limit``: seconds the function may take over all cases.
    """
    rng = case_rng(seed, 1)
    cases = []
    for label, mixture, schedule in standard_settings(seed)[:2]:
        x_0, x_1 = mixture.sample(rng, 5), rng.standard_normal(5)
        for t in (0.0, 1.0, 0.25, rng.uniform(0.05, 0.95, 5)):
            name = "random times" if np.ndim(t) else f"t = {t:g}"
            want = schedule.alpha(t) * x_0 + schedule.sigma(t) * x_1
            cases.append(Case(f"{name}, {schedule.name} schedule", (x_0, x_1, t, schedule), want,
                              dict(x_0=x_0, x_1=x_1, t=t, schedule=schedule)))
    mistakes = [
        Mistake("alpha_t multiplies the data x_0 and sigma_t the noise x_1 (at t = 0 you must get x_0 back).",
                lambda x_0, x_1, t, sch: sch.sigma(t) * x_0 + sch.alpha(t) * x_1),
        Mistake("use the schedule's functions schedule.alpha(t) and schedule.sigma(t): 1 - t and t are only "
                "the linear schedule's.", lambda x_0, x_1, t, sch: (1 - np.asarray(t)) * x_0 + np.asarray(t) * x_1),
        Mistake("the data term is missing its alpha_t factor: x_t = alpha_t x_0 + sigma_t x_1.",
                lambda x_0, x_1, t, sch: x_0 + sch.sigma(t) * x_1),
        Mistake("the noise term is missing its sigma_t factor: x_t = alpha_t x_0 + sigma_t x_1.",
                lambda x_0, x_1, t, sch: sch.alpha(t) * x_0 + x_1),
        Mistake("wrong sign: x_t = alpha_t x_0 + sigma_t x_1 (plus, not minus).",
                lambda x_0, x_1, t, sch: sch.alpha(t) * x_0 - sch.sigma(t) * x_1),
    ]
    result = run_cases("check_interpolate", interpolate, cases, mistakes, time_limit=time_limit,
                       summary=" (t = 0 gives x_0, t = 1 gives x_1, linear and cosine schedules)")
    return report(result, quiet)


def _gaussian_mixture_pdf(x, weights, means, variances, norm=True):
    """sum_k w_k N(x; m_k, v_k). x: [n]; weights, means, variances: [K]. returns [n]"""
    x = np.asarray(x, dtype=float)[..., None]
    dens = np.exp(-0.5 * (x - means) ** 2 / variances)
    if norm:
        dens = dens / np.sqrt(2 * np.pi * variances)
    return dens @ weights


def _marginal_mistake(mean_of, var_of, weights_of=lambda mix: mix.weights, norm=True):
    """A wrong marginal density built from wrong component means / variances / weights."""
    def answer(t, x, mix, sch):
        a, s = float(sch.alpha(t)), float(sch.sigma(t))
        return _gaussian_mixture_pdf(x, weights_of(mix), mean_of(a, s, mix.means),
                                     var_of(a, s, mix.stds**2), norm)
    return answer


def check_marginal_pdf(marginal_pdf, quiet=False, seed=None, time_limit=TIME_LIMIT):
    """Check ``marginal_pdf(t, x, mixture, schedule) -> p_t(x)``.

    t: float; x: [n]; returns [n]. Cases: t = 0 (the target), t = 1 (N(0, 1)), interior
    and random times, points far in the tails, three mixtures, two schedules.
    seed=None runs the cases a class sees; an int runs other random inputs and mixtures (for
    hidden grading tests). ``time_limit``: seconds the function may take over all cases.
    """
    rng = case_rng(seed, 2)
    cases = []
    for label, mixture, schedule in standard_settings(seed):
        interp = Interpolant(mixture, schedule)
        x = np.concatenate([np.linspace(-4.0, 4.0, 17), [-40.0, 25.0], rng.normal(0.0, 2.0, 4)])
        for t in (0.0, 1.0, 0.5, float(rng.uniform(0.05, 0.95))):
            cases.append(Case(f"t = {t:.3g}, {label}", (t, x, mixture, schedule), interp.pdf(t, x),
                              dict(t=t, x=x, mixture=mixture, schedule=schedule)))
    m, v = (lambda a, s, mu: a * mu), (lambda a, s, var: a * a * var + s * s)
    mistakes = [
        Mistake("the component means of p_t are alpha_t mu_k, not mu_k: the data is scaled by alpha_t.",
                _marginal_mistake(lambda a, s, mu: mu, v)),
        Mistake("the data part of the variance is alpha_t^2 s_k^2 (alpha_t squared, it scales x_0).",
                _marginal_mistake(m, lambda a, s, var: var + s * s)),
        Mistake("the data part of the variance is alpha_t^2 s_k^2 (squared alpha_t, not alpha_t).",
                _marginal_mistake(m, lambda a, s, var: a * var + s * s)),
        Mistake("the noise adds variance sigma_t^2 to every component: v_k = alpha_t^2 s_k^2 + sigma_t^2.",
                _marginal_mistake(m, lambda a, s, var: a * a * var)),
        Mistake("the noise variance is sigma_t^2, not sigma_t.",
                _marginal_mistake(m, lambda a, s, var: a * a * var + s)),
        Mistake("variances add, standard deviations do not: the component std is "
                "sqrt(alpha_t^2 s_k^2 + sigma_t^2), not alpha_t s_k + sigma_t.",
                _marginal_mistake(m, lambda a, s, var: (a * np.sqrt(var) + s) ** 2)),
        Mistake("alpha_t and sigma_t are swapped: alpha_t scales the data, sigma_t the noise.",
                _marginal_mistake(lambda a, s, mu: s * mu, lambda a, s, var: s * s * var + a * a)),
        Mistake("weight component k by the mixture weight w_k (mixture.weights), not equally.",
                _marginal_mistake(m, v, lambda mix: np.full(mix.n_components, 1.0 / mix.n_components))),
        Mistake("the mixture weights are missing: p_t(x) = sum_k w_k N(x; m_k, v_k), each component "
                "weighted by w_k = mixture.weights[k] (without them p_t integrates to the number of "
                "components, not to 1).", _marginal_mistake(m, v, lambda mix: np.ones(mix.n_components))),
        Mistake("the Gaussian density needs its normalisation 1 / sqrt(2 pi v_k).",
                _marginal_mistake(m, v, norm=False)),
        Mistake("the Gaussian density is exp(-(x - m)^2 / (2 v)) / sqrt(2 pi v) with v the VARIANCE; "
                "you used the standard deviation where the variance belongs.",
                _marginal_mistake(m, lambda a, s, var: np.sqrt(a * a * var + s * s))),
    ]
    result = run_cases("check_marginal_pdf", marginal_pdf, cases, mistakes, atol=1e-12, time_limit=time_limit,
                       summary=" (t = 0 is the target, t = 1 is N(0, 1); tails at x = -40 and 25; "
                               "three mixtures, linear and cosine schedules)")
    return report(result, quiet)
