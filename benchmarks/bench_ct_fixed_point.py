"""The discretisation floor of consistency training: W1 of the exact CT fixed point.

The fixed point itself is ``cmtoy.metrics.ct_fixed_point`` (its docstring has the
equations): with an exact minimiser, CT on a grid of N steps (Song et al. 2023, Alg. 3)
ends there whatever its loss weighting, time distribution and EMA target, so it is the
floor of ct and ict alike for their last N. This script measures its 1-step W1 exactly,
on the linear schedule; the last column, sqrt(N) W1, stays nearly constant where the
floor follows the 1/sqrt(N) law. Results: benchmarks/results/bench_ct_fixed_point.md.

    python benchmarks/bench_ct_fixed_point.py --n 40 160 640 2560 [--rho 1.0 0.5]
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
from cmtoy.metrics import ct_fixed_point, wasserstein1  # noqa: E402


def fixed_point_w1(target, n, rho=1.0, grid=np.linspace(-6.0, 6.0, 24_001), nodes=24, samples=200_000,
                   huber_c=None):
    """1-step W1 of the CT fixed point on the grid t_i = (i / n)^rho, linear schedule. -> float"""
    distance = "squared" if huber_c is None else "pseudo_huber"
    f = ct_fixed_point(cmtoy.Interpolant(target), (np.arange(n + 1) / n) ** rho, grid, distance,
                       1.0 if huber_c is None else huber_c, nodes)
    x_1 = np.random.default_rng(0).standard_normal(samples)
    return wasserstein1(np.interp(x_1, grid, f), target)


def main(argv=None):
    from bench_training import HARD

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[40, 160, 640, 2560])
    parser.add_argument("--rho", type=float, nargs="+", default=[1.0],
                        help="grid exponents: t_i = (i / N)^rho (rho < 1 puts more steps near t = 1)")
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
        for rho in args.rho:
            for c in [None, *args.huber_c]:
                w1 = fixed_point_w1(target, n, rho, grid=grid, huber_c=c)
                label = "squared" if c is None else f"pseudo-Huber c = {c:g}"
                print(f"| {n} | {rho:g} | {label} | {w1:.4f} | {np.sqrt(n) * w1:.2f} |", flush=True)


if __name__ == "__main__":
    main()
