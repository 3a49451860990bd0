"""The discretisation floor of consistency distillation: W1 of N teacher steps from t = 1.

Consistency distillation (Song et al. 2023, Alg. 2) on a grid of N steps pulls
f(t_{n+1}, x) towards f(t_n, teacher step of x); with an exact minimiser it ends at
f_N(1, x_1) = N teacher steps from t = 1 to t = 0 (``cmtoy.pairs.teacher_step``, exact
velocity). This script measures the 1-step W1 of that function on the uniform grid of the
linear schedule, for Euler and Heun teachers, next to the exact flow map's W1 (the
sampling floor of the same 100,000 x_1). Euler's floor falls like 1/N, Heun's like 1/N^2,
which is why cd with a Heun teacher can stop its curriculum at a small N.

    python benchmarks/bench_cd_teacher.py --n 10 20 40 80 160 1280 [--mixture hard]
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
from cmtoy.pairs import teacher_step  # noqa: E402


def teacher_w1(interp, n, solver, x_1):
    """1-step W1 of n teacher steps from t = 1 to 0 on the uniform grid. -> float"""
    ts = np.arange(n + 1) / n
    x = x_1
    for i in range(n, 0, -1):
        x = teacher_step(interp, solver, ts[i], ts[i - 1], x)
    return wasserstein1(x, interp.target)


def main(argv=None):
    from bench_training import HARD

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, nargs="+", default=[10, 20, 40, 80, 160, 1280])
    parser.add_argument("--mixture", choices=("seed", "hard"), default="seed",
                        help="the seed mixture or bench_training's harder three-component mixture")
    parser.add_argument("--samples", type=int, default=100_000)
    args = parser.parse_args(argv)
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE if args.mixture == "seed" else HARD)
    x_1 = np.random.default_rng(0).standard_normal(args.samples)
    exact = wasserstein1(interp.flow_map(x_1, 1.0, 0.0), interp.target)
    print(f"{args.mixture} mixture: {interp.target}")
    print(f"exact flow map of the same {args.samples} x_1: W1 {exact:.4f} (the sampling floor)")
    print("| N | Euler teacher | Heun teacher |")
    print("| --- | --- | --- |")
    for n in args.n:
        euler, heun = (teacher_w1(interp, n, solver, x_1) for solver in ("euler", "heun"))
        print(f"| {n} | {euler:.4f} | {heun:.4f} |", flush=True)


if __name__ == "__main__":
    main()
