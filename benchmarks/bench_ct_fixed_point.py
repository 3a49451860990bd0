"""The discretisation floor of consistency training: W1 of the exact CT fixed point.

With squared distance and an exact minimiser, CT on a grid 0 = t_0 < ... < t_N = 1
(Song et al. 2023, Alg. 3) converges to f_N(t_{n+1}, x) = E[f_N(t_n, x_{t_n}) | x_{t_{n+1}} = x],
f_N(0, x) = x, where x_{t_n} and x_{t_{n+1}} lie on one line x_0 -> x_1. Given x_{t_{n+1}} = x,
x_{t_n} = a x + b x_0 with a = sigma_n / sigma_{n+1}, b = alpha_n - a alpha_{n+1}, and x_0 has a
Gaussian-mixture posterior, so f_N is computed here on a grid in x by Gauss-Hermite quadrature
(linear schedule, seed mixture) and its 1-step W1 measured exactly. It prints how far any
training run with N steps can get; on the seed mixture W1 ~ 0.93 / sqrt(N).

    python benchmarks/bench_ct_fixed_point.py --n 40 160 640 2560 [--rho 1.0]
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))

import cmtoy  # noqa: E402
from cmtoy.metrics import wasserstein1  # noqa: E402


def fixed_point_w1(target, n, rho=1.0, grid=np.linspace(-6.0, 6.0, 24_001), nodes=24, samples=200_000):
    """1-step W1 of the CT fixed point on the grid t_i = (i / n)^rho, linear schedule. -> float"""
    means, stds, weights = (np.asarray(a, dtype=float)[:, None] for a in (target.means, target.stds, target.weights))
    gh_x, gh_w = np.polynomial.hermite_e.hermegauss(nodes)
    gh_w = gh_w / gh_w.sum()
    t = (np.arange(n + 1) / n) ** rho
    f = grid.copy()  # f_N(t_0, x) = x
    for i in range(n):
        alpha0, sigma0, alpha1, sigma1 = 1 - t[i], t[i], 1 - t[i + 1], t[i + 1]
        a = sigma0 / sigma1
        b = alpha0 - a * alpha1
        var = alpha1**2 * stds**2 + sigma1**2  # [K, 1]: Var[x_{t_{n+1}} | component]
        log_post = np.log(weights) - 0.5 * (grid - alpha1 * means) ** 2 / var - 0.5 * np.log(var)
        post = np.exp(log_post - log_post.max(0))
        post /= post.sum(0)  # [K, G]: posterior component weights
        mean = means + alpha1 * stds**2 * (grid - alpha1 * means) / var  # [K, G]
        std = np.sqrt(stds**2 * sigma1**2 / var)  # [K, 1]
        new = np.zeros_like(grid)
        for k in range(means.shape[0]):
            x_0 = mean[k] + std[k] * gh_x[:, None]  # [nodes, G]
            new += post[k] * (gh_w[:, None] * np.interp(a * grid + b * x_0, grid, f)).sum(0)
        f = new
    x_1 = np.random.default_rng(0).standard_normal(samples)
    return wasserstein1(np.interp(x_1, grid, f), target)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[40, 160, 640, 2560])
    parser.add_argument("--rho", type=float, default=1.0)
    args = parser.parse_args(argv)
    print("| N | grid rho | 1-step W1 of the CT fixed point | sqrt(N) W1 |")
    print("| --- | --- | --- | --- |")
    for n in args.n:
        w1 = fixed_point_w1(cmtoy.SEED_MIXTURE, n, args.rho)
        print(f"| {n} | {args.rho:g} | {w1:.4f} | {np.sqrt(n) * w1:.2f} |", flush=True)


if __name__ == "__main__":
    main()
