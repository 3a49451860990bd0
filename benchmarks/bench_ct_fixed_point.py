"""The discretisation floor of consistency training: W1 of the exact CT fixed point.

With an exact minimiser, CT on a grid 0 = t_0 < ... < t_N = 1 (Song et al. 2023, Alg. 3)
converges to the function f_N with f_N(0, x) = x and, for every n and x,

    f_N(t_{n+1}, x) = argmin_c E[d(c, f_N(t_n, x_{t_n})) | x_{t_{n+1}} = x],

where x_{t_n} and x_{t_{n+1}} lie on one line x_0 -> x_1. With the squared distance the
argmin is the conditional mean; with iCT's pseudo-Huber distance d(c, y) = sqrt((c - y)^2
+ c_H^2) - c_H (Song & Dhariwal 2023) it is the root of E[(c - y) / sqrt((c - y)^2 + c_H^2)]
= 0, a compromise between the mean and the median. The loss weighting, the time
distribution and the EMA target change how fast training gets there, not where it goes
(every pair of neighbouring times keeps a positive probability), so this is the floor of
ct and ict alike for their last N.

Given x_{t_{n+1}} = x, x_{t_n} = a x + b x_0 with a = sigma_n / sigma_{n+1}, b = alpha_n -
a alpha_{n+1}, and x_0 has a Gaussian-mixture posterior, so f_N is computed on a grid in x
by Gauss-Hermite quadrature (linear schedule) and its 1-step W1 measured exactly. On the
seed mixture, squared distance, W1 ~ 0.93 / sqrt(N).

    python benchmarks/bench_ct_fixed_point.py --n 40 160 640 2560 [--rho 1.0]
    python benchmarks/bench_ct_fixed_point.py --n 256 --huber-c 0.3 1.0 [--mixture hard]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.dirname(__file__))

import cmtoy  # noqa: E402
from cmtoy.metrics import wasserstein1  # noqa: E402


def _pseudo_huber_argmin(y, w, c, start, iterations=60):
    """Per column, the c that minimises sum_j w_j (sqrt((c - y_j)^2 + c_H^2) - c_H).

    The derivative h(c) = sum_j w_j (c - y_j) / sqrt((c - y_j)^2 + c_H^2) increases in c,
    so Newton steps are kept inside a bracket [min y, max y] and replaced by bisection
    where they leave it. y, w: [M, G]; start: [G] -> [G]
    """
    lo, hi = y.min(axis=0), y.max(axis=0)
    x = np.clip(start, lo, hi)
    for _ in range(iterations):
        r = x - y
        root = np.sqrt(r * r + c * c)
        h = np.sum(w * r / root, axis=0)
        slope = np.sum(w * c * c / root**3, axis=0)
        lo, hi = np.where(h < 0, x, lo), np.where(h > 0, x, hi)
        step = x - h / slope
        x_new = np.where((step > lo) & (step < hi), step, 0.5 * (lo + hi))
        if np.max(np.abs(x_new - x)) <= 1e-12 * (1.0 + np.max(np.abs(x))):
            return x_new
        x = x_new
    return x


def fixed_point(target, t, grid, nodes=24, huber_c=None):
    """The CT fixed point f_N(t_N, x) on a grid of x, for the time grid t (linear schedule).

    t: [N + 1] increasing from 0 (to 1 for the 1-step sampler); grid: [G] points x (f_N is
    interpolated linearly between them and held constant beyond them); huber_c: None for
    the squared distance, else the pseudo-Huber constant c_H. returns [G]
    """
    means, stds, weights = (np.asarray(a, dtype=float)[:, None] for a in (target.means, target.stds, target.weights))
    gh_x, gh_w = np.polynomial.hermite_e.hermegauss(nodes)
    gh_w = gh_w / gh_w.sum()
    f = grid.copy()  # f_N(t_0, x) = x
    for i in range(t.size - 1):
        alpha0, sigma0, alpha1, sigma1 = 1 - t[i], t[i], 1 - t[i + 1], t[i + 1]
        a = sigma0 / sigma1
        b = alpha0 - a * alpha1
        var = alpha1**2 * stds**2 + sigma1**2  # [K, 1]: Var[x_{t_{n+1}} | component]
        log_post = np.log(weights) - 0.5 * (grid - alpha1 * means) ** 2 / var - 0.5 * np.log(var)
        post = np.exp(log_post - log_post.max(0))
        post /= post.sum(0)  # [K, G]: posterior component weights
        mean = means + alpha1 * stds**2 * (grid - alpha1 * means) / var  # [K, G]
        std = np.sqrt(stds**2 * sigma1**2 / var)  # [K, 1]
        # the targets f_N(t_n, a x + b x_0) at the quadrature nodes of x_0's posterior, and their weights
        y = np.concatenate([np.interp(a * grid + b * (mean[k] + std[k] * gh_x[:, None]), grid, f)
                            for k in range(means.shape[0])])  # [K nodes, G]
        w = (post[:, None, :] * gh_w[None, :, None]).reshape(y.shape)
        f = np.sum(w * y, axis=0)  # the conditional mean: the squared distance's argmin
        if huber_c is not None:
            f = _pseudo_huber_argmin(y, w, huber_c, start=f)
    return f


def fixed_point_w1(target, n, rho=1.0, grid=np.linspace(-6.0, 6.0, 24_001), nodes=24, samples=200_000,
                   huber_c=None):
    """1-step W1 of the CT fixed point on the grid t_i = (i / n)^rho, linear schedule. -> float"""
    f = fixed_point(target, (np.arange(n + 1) / n) ** rho, grid, nodes, huber_c)
    x_1 = np.random.default_rng(0).standard_normal(samples)
    return wasserstein1(np.interp(x_1, grid, f), target)


def main(argv=None):
    from bench_training import HARD

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[40, 160, 640, 2560])
    parser.add_argument("--rho", type=float, default=1.0)
    parser.add_argument("--huber-c", type=float, nargs="*", default=[],
                        help="pseudo-Huber constants to compare with the squared distance")
    parser.add_argument("--mixture", choices=("seed", "hard"), default="seed",
                        help="the seed mixture or bench_training's harder three-component mixture")
    args = parser.parse_args(argv)
    target = cmtoy.SEED_MIXTURE if args.mixture == "seed" else HARD
    # a grid that holds every x_t of the linear schedule and resolves the narrowest component
    lo = min(-6.0, float(np.min(target.means - 6 * target.stds)))
    hi = max(6.0, float(np.max(target.means + 6 * target.stds)))
    grid = np.linspace(lo, hi, int(round((hi - lo) * 2000)) + 1)
    print(f"{args.mixture} mixture: {target}")
    print("| N | grid rho | distance | 1-step W1 of the CT fixed point | sqrt(N) W1 |")
    print("| --- | --- | --- | --- | --- |")
    for n in args.n:
        for c in [None, *args.huber_c]:
            w1 = fixed_point_w1(target, n, args.rho, grid=grid, huber_c=c)
            label = "squared" if c is None else f"pseudo-Huber c = {c:g}"
            print(f"| {n} | {args.rho:g} | {label} | {w1:.4f} | {np.sqrt(n) * w1:.2f} |", flush=True)


if __name__ == "__main__":
    main()
