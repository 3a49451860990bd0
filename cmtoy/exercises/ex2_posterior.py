"""Exercise 2: the posterior mean E[x_0 | x_t = x] and the probability-flow velocity.

The student writes

- ``posterior_mean(t, x, mixture, schedule) -> E[x_0 | x_t = x]``: given component k,
  x_0 and x_t are jointly Gaussian, so E[x_0 | x_t = x, k] = mu_k + alpha_t s_k^2 (x - m_k) / v_k
  with m_k = alpha_t mu_k, v_k = alpha_t^2 s_k^2 + sigma_t^2; these are averaged with the
  responsibilities r_k(t, x) = w_k N(x; m_k, v_k) / p_t(x);
- ``velocity(t, x, interp) -> v_t(x) = alpha'_t E[x_0 | x_t = x] + sigma'_t E[x_1 | x_t = x]``,
  the right-hand side of the probability-flow ODE (Albergo et al. 2023, arXiv 2303.08797).

The references are :meth:`cmtoy.Interpolant.posterior_mean` and :meth:`~cmtoy.Interpolant.velocity`.
"""

from __future__ import annotations

import numpy as np

from ..interpolant import Interpolant
from .checking import TIME_LIMIT, Case, Mistake, case_rng, report, run_cases, standard_settings

__all__ = ["check_posterior_mean", "check_velocity"]


def _cases(rng, make_args, seed):
    """t = 0, 1, 0.5 and a random time; x on a grid, far in both tails and at random."""
    cases = []
    for label, mixture, schedule in standard_settings(seed):
        interp = Interpolant(mixture, schedule)
        x = np.concatenate([np.linspace(-3.0, 3.0, 13), [-12.0, 15.0], rng.normal(0.0, 2.0, 4)])
        for t in (0.0, 1.0, 0.5, 0.2, float(rng.uniform(0.05, 0.95))):
            args, shown, want = make_args(t, x, interp)
            cases.append(Case(f"t = {t:.3g}, {label}", args, want, shown))
    return cases


def _posterior_mistake(gain, residual_mean, weighting="responsibilities"):
    """E[x_0 | x_t] with a wrong gain, residual or component weighting (linear-space r_k)."""
    def answer(t, x, mix, sch):
        a, s = float(sch.alpha(t)), float(sch.sigma(t))
        x = np.asarray(x, dtype=float)[:, None]
        m, v = a * mix.means, a * a * mix.stds**2 + s * s
        per_component = mix.means + gain(a, mix.stds**2) * (x - residual_mean(a, mix.means)) / v
        if weighting == "prior":
            return per_component @ mix.weights
        joint = mix.weights * np.exp(-0.5 * (x - m) ** 2 / v) / np.sqrt(v)
        return np.sum(joint * per_component, axis=-1) / np.sum(joint, axis=-1)
    return answer


def check_posterior_mean(posterior_mean, quiet=False, seed=None, time_limit=TIME_LIMIT):
    """Check ``posterior_mean(t, x, mixture, schedule) -> E[x_0 | x_t = x]``.

    t: float; x: [n]; returns [n]. At t = 0 the answer is x itself, at t = 1 the target's
    mean; far in the tails the responsibilities must be computed without underflow.
    seed=None runs the cases a class sees; an int runs other random inputs and mixtures (for
    hidden grading tests). ``time_limit``: seconds the function may take over all cases.
    """
    def make_args(t, x, interp):
        mix, sch = interp.target, interp.schedule
        return (t, x, mix, sch), dict(t=t, x=x, mixture=mix, schedule=sch), interp.posterior_mean(t, x)

    right_gain, right_mean = (lambda a, var: a * var), (lambda a, mu: a * mu)
    mistakes = [
        Mistake("average the component means with the responsibilities r_k(t, x) = w_k N(x; m_k, v_k) / p_t(x), "
                "not with the prior weights w_k: x_t tells which component x_0 came from.",
                _posterior_mistake(right_gain, right_mean, weighting="prior")),
        Mistake("the gain of the Gaussian posterior is Cov(x_0, x_t) / Var(x_t) = alpha_t s_k^2 / v_k: "
                "the alpha_t factor is missing.",
                _posterior_mistake(lambda a, var: var, right_mean)),
        Mistake("the residual is x - m_k with the component mean of x_t, m_k = alpha_t mu_k, not x - mu_k.",
                _posterior_mistake(right_gain, lambda a, mu: mu)),
        Mistake("wrong sign: E[x_0 | x_t = x, k] = mu_k + alpha_t s_k^2 (x - m_k) / v_k moves towards x.",
                _posterior_mistake(lambda a, var: -a * var, right_mean)),
        Mistake("far in the tails every Gaussian density underflows to 0 and the responsibilities become "
                "0 / 0 = NaN. Compute them from log densities: log r_k = log w_k + log N_k - logsumexp_j(...), "
                "e.g. with scipy.special.softmax of the log joint densities over k.",
                _posterior_mistake(right_gain, right_mean)),
        Mistake("this is E[x_1 | x_t = x], the noise, not the data x_0.",
                lambda t, x, mix, sch: Interpolant(mix, sch).noise_mean(t, x)),
    ]
    cases = _cases(case_rng(seed, 3), make_args, seed)
    result = run_cases("check_posterior_mean", posterior_mean, cases, mistakes, rtol=1e-7, atol=1e-9,
                       time_limit=time_limit,
                       summary=" (t = 0 returns x, t = 1 the target mean; tails at x = -12 and 15; "
                               "three mixtures, linear and cosine schedules)")
    return report(result, quiet)


def check_velocity(velocity, quiet=False, seed=None, time_limit=TIME_LIMIT):
    """Check ``velocity(t, x, interp) -> v_t(x)``, the probability-flow ODE right-hand side.

    t: float; x: [n]; returns [n]. The student may use ``interp.posterior_mean``,
    ``interp.noise_mean`` and ``interp.schedule`` (but not ``interp.velocity``).
    seed=None runs the cases a class sees; an int runs other random inputs and mixtures (for
    hidden grading tests). ``time_limit``: seconds the function may take over all cases.
    """
    def make_args(t, x, interp):
        return (t, x, interp), dict(t=t, x=x, interp=interp), interp.velocity(t, x)

    def combine(first, second):
        def answer(t, x, interp):
            e_0, e_1 = interp.posterior_mean(t, x), interp.noise_mean(t, x)
            return first(interp.schedule, t) * e_0 + second(interp.schedule, t) * e_1
        return answer

    d_alpha, d_sigma = (lambda sch, t: sch.d_alpha(t)), (lambda sch, t: sch.d_sigma(t))

    def noise_by_division(t, x, interp):
        a, s = interp.schedule.alpha(t), interp.schedule.sigma(t)
        e_0 = interp.posterior_mean(t, x)
        return interp.schedule.d_alpha(t) * e_0 + interp.schedule.d_sigma(t) * (x - a * e_0) / s

    mistakes = [
        Mistake("wrong sign: v_t(x) = alpha'_t E[x_0 | x_t] + sigma'_t E[x_1 | x_t] points from data to noise "
                "as t grows.", lambda t, x, interp: -interp.velocity(t, x)),
        Mistake("the velocity uses the time DERIVATIVES alpha'_t = schedule.d_alpha(t) and "
                "sigma'_t = schedule.d_sigma(t); with alpha_t and sigma_t you get x back.",
                combine(lambda sch, t: sch.alpha(t), lambda sch, t: sch.sigma(t))),
        Mistake("alpha'_t goes with E[x_0 | x_t] and sigma'_t with E[x_1 | x_t]: they are swapped.",
                combine(d_sigma, d_alpha)),
        Mistake("at t = 0, sigma_t = 0 and (x - alpha_t E[x_0|x_t]) / sigma_t is 0 / 0: use "
                "interp.noise_mean(t, x), which is exact at every t.", noise_by_division),
    ]
    cases = _cases(case_rng(seed, 4), make_args, seed)
    result = run_cases("check_velocity", velocity, cases, mistakes, rtol=1e-7, atol=1e-9, time_limit=time_limit,
                       summary=" (t = 0 to 1, tails at x = -12 and 15, three mixtures, two schedules)")
    return report(result, quiet)
