"""Exercise 5: the boundary-respecting parametrization and the consistency-training loss.

The student writes

- ``parametrize(F, t, x, schedule, sigma_d) -> f(t, x)``: the consistency function built
  from a free network F (Song et al. 2023, arXiv 2303.01469, Sec. 3, written for the
  interpolant x_t = alpha_t x_0 + sigma_t x_1, as in :mod:`cmtoy.consistency`):

      f(t, x) = c_skip(t) x + c_out(t) F(t, c_in(t) x),      A_t = alpha_t^2 sigma_d^2 + sigma_t^2,
      c_skip = alpha_t sigma_d^2 / A_t,   c_out = sigma_t sigma_d / sqrt(A_t),   c_in = 1 / sqrt(A_t),

  so f(0, x) = x for every F (c_skip(0) = 1, c_out(0) = 0): the boundary condition;
- ``ct_loss(f_online, f_target, x_0, x_1, t, s, schedule) -> float``: the consistency
  training loss of one batch, both points on the SAME straight line through x_0 and x_1
  (seed eq. 2), at a later time t and an earlier time s < t:

      loss = mean_i ( f_online(t_i, x_{t_i}) - f_target(s_i, x_{s_i}) )^2.

The references are written here from these formulas; the tests check they agree with
:mod:`cmtoy.consistency` (``scalings``, ``consistency_loss``).
"""

from __future__ import annotations

import numpy as np

from ..interpolant import Interpolant
from .checking import TIME_LIMIT, Case, Mistake, case_rng, report, run_cases, standard_settings

__all__ = ["check_parametrize", "check_ct_loss"]


def F_sine(t, u):
    """A stand-in for the network F(t, u), nonzero at t = 0 so a broken boundary shows."""
    return np.sin(2.0 * u) + 0.5 * t - 0.3


def F_quadratic(t, u):
    return u * u * np.cos(3.0 * t) + 1.0


def _parametrized(skip=lambda a, s, sd, A: a * sd**2 / A, out=lambda a, s, sd, A: s * sd / np.sqrt(A),
                  inp=lambda a, s, sd, A: 1.0 / np.sqrt(A), var=lambda a, s, sd: a * a * sd**2 + s * s,
                  call=lambda F, t, u: F(t, u), swap=False):
    """f = c_skip x + c_out F(t, c_in x), with any of its parts replaceable (for mistakes)."""
    def answer(F, t, x, schedule, sigma_d):
        a, s = schedule.alpha(t), schedule.sigma(t)
        A = var(a, s, sigma_d)
        c_skip, c_out, c_in = skip(a, s, sigma_d, A), out(a, s, sigma_d, A), inp(a, s, sigma_d, A)
        if swap:
            c_skip, c_out = c_out, c_skip
        return c_skip * x + c_out * call(F, t, c_in * x)
    return answer


def _boundary_diagnosis(cases, answers, wrong):
    for i in wrong:
        case = cases[i]
        t, x = case.args[1], case.args[2]
        at_zero = np.asarray(t) == 0
        if np.any(at_zero) and not np.allclose(answers[i][0][at_zero], np.asarray(x)[at_zero], atol=1e-12):
            return ("the boundary condition is broken: f(0, x) must equal x for ANY network F. At t = 0, "
                    "c_skip must be 1 and c_out must be 0 (sigma_0 = 0 makes c_out vanish).\n"
                    f"(seen on the case '{case.label}')")
    return None


def check_parametrize(parametrize, quiet=False, seed=None, time_limit=TIME_LIMIT):
    """Check ``parametrize(F, t, x, schedule, sigma_d) -> f(t, x)``. t, x: [n]; returns [n].

    F is a callable F(t, u) -> [n]. Cases: t = 0 (the boundary condition), t = 1, random
    times, two stand-in networks, sigma_d = 0.5 and 1.2, linear and cosine schedules.
    seed=None runs the cases a class sees; an int runs other random inputs (for
    hidden grading tests). ``time_limit``: seconds the function may take over all cases.
    """
    rng = case_rng(seed, 8)
    reference = _parametrized()
    cases = []
    for _, _, schedule in standard_settings(seed)[:2]:
        for F in (F_sine, F_quadratic):
            for sigma_d in (0.5, 1.2):
                x = rng.normal(0.0, 2.0, 7)
                for label, t in (("t = 0", np.zeros(7)), ("t = 1", np.ones(7)),
                                 ("random times", rng.uniform(0.0, 1.0, 7))):
                    args = (F, t, x, schedule, sigma_d)
                    cases.append(Case(f"{label}, F = {F.__name__}, sigma_d = {sigma_d}, {schedule.name} schedule",
                                      args, reference(*args),
                                      dict(F=F, t=t, x=x, schedule=schedule, sigma_d=sigma_d)))
    mistakes = [
        Mistake("c_out = sigma_t sigma_d / sqrt(A_t): without sigma_t it does not vanish at t = 0, and the "
                "boundary condition f(0, x) = x breaks.", _parametrized(out=lambda a, s, sd, A: sd / np.sqrt(A))),
        Mistake("c_skip = alpha_t sigma_d^2 / A_t: the alpha_t factor is missing (at t = 1 the skip "
                "connection must vanish, since x_1 holds no information about x_0 on its own).",
                _parametrized(skip=lambda a, s, sd, A: sd**2 / A)),
        Mistake("the network sees the scaled input c_in(t) x = x / sqrt(A_t), not x.",
                _parametrized(inp=lambda a, s, sd, A: 1.0)),
        Mistake("c_in = 1 / sqrt(A_t) and c_out = sigma_t sigma_d / sqrt(A_t): A_t is a variance, take "
                "its square root.", _parametrized(out=lambda a, s, sd, A: s * sd / A, inp=lambda a, s, sd, A: 1 / A)),
        Mistake("A_t = alpha_t^2 sigma_d^2 + sigma_t^2 (squares of alpha_t, sigma_d and sigma_t).",
                _parametrized(var=lambda a, s, sd: a * sd**2 + s)),
        Mistake("A_t = alpha_t^2 sigma_d^2 + sigma_t^2 with the data VARIANCE sigma_d^2.",
                _parametrized(var=lambda a, s, sd: a * a * sd + s * s)),
        Mistake("the network is called as F(t, u): time first, then the scaled input u = c_in x.",
                _parametrized(call=lambda F, t, u: F(u, t))),
        Mistake("c_skip multiplies x and c_out the network output: they are swapped.",
                _parametrized(swap=True)),
    ]
    result = run_cases("check_parametrize", parametrize, cases, mistakes, rtol=1e-9, atol=1e-12,
                       diagnose=_boundary_diagnosis, time_limit=time_limit,
                       summary=" (f(0, x) = x for any F; t = 1 and random times; two networks, "
                               "sigma_d = 0.5 and 1.2, linear and cosine schedules)")
    return report(result, quiet)


def _ct_variant(online_time="t", target_time="s", target_point="s", same_net=False, reduce=np.mean,
                dist=np.square, post=lambda v: v):
    """The CT loss with one part changed, for recognising mistakes."""
    def answer(f_online, f_target, x_0, x_1, t, s, schedule):
        times = dict(t=t, s=s)
        x_t = schedule.alpha(t) * x_0 + schedule.sigma(t) * x_1
        x_s = schedule.alpha(s) * x_0 + schedule.sigma(s) * x_1
        points = dict(t=x_t, s=x_s)
        online = f_online(times[online_time], points[online_time])
        target = (f_online if same_net else f_target)(times[target_time], points[target_point])
        return post(float(reduce(dist(online - target))))
    return answer


def check_ct_loss(ct_loss, quiet=False, seed=None, time_limit=TIME_LIMIT):
    """Check ``ct_loss(f_online, f_target, x_0, x_1, t, s, schedule) -> float``.

    f_online, f_target: callables (t, x) -> [n]; x_0, x_1, t, s: [n] with s < t.
    Cases: a small and a large gap t - s, s = 0 (where the target is x_0 itself),
    t = 1, the exact consistency function as both networks, two schedules.
    seed=None runs the cases a class sees; an int runs other random inputs and mixtures (for
    hidden grading tests). ``time_limit``: seconds the function may take over all cases.
    """
    rng = case_rng(seed, 9)
    cases = []
    for label, mixture, schedule in standard_settings(seed)[:4]:
        interp = Interpolant(mixture, schedule)
        exact = interp.consistency_function
        online = lambda t, x, f=exact: f(t, x) + 0.3 * np.asarray(t) * np.sin(3.0 * x)  # noqa: E731
        target = lambda t, x, f=exact: f(t, x) - 0.2 * np.asarray(t) * np.cos(x)  # noqa: E731
        online.__name__, target.__name__ = "f_online (f* + a perturbation)", "f_target (f* - another)"
        x_0, x_1 = mixture.sample(rng, 8), rng.standard_normal(8)
        t_rand = rng.uniform(0.1, 1.0, 8)
        for name, t, s, nets in (
            ("random t, s = t - 0.05", t_rand, t_rand - 0.05, (online, target)),
            ("s = 0, t = 0.1", np.full(8, 0.1), np.zeros(8), (online, target)),
            ("t = 1, s = 0.5", np.ones(8), np.full(8, 0.5), (online, target)),
            ("exact f* as both networks", t_rand, t_rand * 0.5, (exact, exact)),
        ):
            args = (*nets, x_0, x_1, t, s, schedule)
            cases.append(Case(f"{name}, {label}", args, _ct_variant()(*args),
                              dict(f_online=nets[0], f_target=nets[1], x_0=x_0, x_1=x_1, t=t, s=s,
                                   schedule=schedule)))
    mistakes = [
        Mistake("the online network f_online sees the LATER, noisier point (t, x_t); the target network "
                "the earlier point (s, x_s), s < t.", _ct_variant(online_time="s", target_time="t", target_point="t")),
        Mistake("the target side uses f_target (the EMA / stop-gradient copy), not f_online.",
                _ct_variant(same_net=True)),
        Mistake("off by one in time: evaluate the target at the earlier time s, together with x_s.",
                _ct_variant(target_time="t")),
        Mistake("both points lie on the SAME line through x_0 and x_1: x_s = alpha_s x_0 + sigma_s x_1, "
                "at time s (you used x_t for the target).", _ct_variant(target_point="t")),
        Mistake("the loss is the MEAN over the batch of the squared difference, not the sum.",
                _ct_variant(reduce=np.sum)),
        Mistake("square the difference (the squared l2 distance), not its absolute value.",
                _ct_variant(dist=np.abs)),
        Mistake("no square root: the loss is the mean squared difference itself.",
                _ct_variant(post=np.sqrt)),
        Mistake("no factor 1/2 here: the loss is mean((f_online - f_target)^2).",
                _ct_variant(post=lambda v: 0.5 * v)),
    ]
    result = run_cases("check_ct_loss", ct_loss, cases, mistakes, rtol=1e-8, atol=1e-12, time_limit=time_limit,
                       summary=" (small and large gaps, s = 0, t = 1, the exact f* as both networks)")
    return report(result, quiet)
