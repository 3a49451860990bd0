"""Benchmark: the exact consistency function f*(t, x) = flow_map(x, t, 0) at 10^6 points.

Target (issue #2): under 0.5 s on the project's 2-core machine, with error < 1e-9 against
an independent DOP853 integration of the probability-flow ODE on a subsample.

    python benchmarks/bench_exact.py [--n 1000000] [--check 200]
"""

import argparse
import os
import platform
import time

import numpy as np
from scipy.integrate import solve_ivp
from threadpoolctl import threadpool_info, threadpool_limits

import cmtoy


def machine():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    # the BLAS kernel that OpenBLAS picks for the CPU rounds its sums in its own order, and a
    # training run amplifies that into other digits: runs compare digit for digit only on the
    # same kernel. NumPy's AVX-512 loops are named too, which rules them out or in
    kernels = sorted({f"{info['internal_api']} {info.get('architecture')}" for info in threadpool_info()
                      if info.get("user_api") == "blas"})
    simd = "AVX512" if _has_avx512() else "no AVX512"
    return (f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, NumPy {np.__version__}, "
            f"BLAS {', '.join(kernels) or 'unknown'}, {simd}")


def _has_avx512():
    """Whether NumPy dispatches its loops to AVX-512 here (its private feature table, which
    NPY_DISABLE_CPU_FEATURES edits)."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:
        return False
    return bool(__cpu_features__.get("X86_V4", __cpu_features__.get("AVX512F")))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--check", type=int, default=200, help="points checked against solve_ivp")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, cmtoy.LinearSchedule())
    rng = np.random.default_rng(0)
    t = rng.uniform(0.0, 1.0, args.n)
    x = interp.sample(rng, args.n, t)

    with threadpool_limits(1):
        start = time.perf_counter()
        f = interp.flow_map(x, t, 0.0)  # includes building the quantile table of p_0 once
        first = time.perf_counter() - start
        times = []
        for _ in range(args.repeats):
            fresh = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, cmtoy.LinearSchedule())  # no warm cache
            start = time.perf_counter()
            fresh.flow_map(x, t, 0.0)
            times.append(time.perf_counter() - start)

    idx = rng.choice(args.n, size=args.check, replace=False)
    errors = []
    for i in idx:
        sol = solve_ivp(
            lambda s, y: interp.velocity(s, y), (t[i], 0.0), [x[i]], method="DOP853", rtol=1e-13, atol=1e-13
        )
        errors.append(abs(f[i] - sol.y[0, -1]))
    print(f"machine: {machine()}")
    print(f"f*(t, x) at {args.n:,} random (t, x ~ p_t) pairs of the seed mixture, one BLAS thread")
    print(f"  first call: {first:.3f} s;  median of {args.repeats} fresh calls: {np.median(times):.3f} s (min {min(times):.3f} s)")
    print(f"  max |f* - DOP853(rtol=atol=1e-13)| over {args.check} points: {max(errors):.2e}")


if __name__ == "__main__":
    main()
