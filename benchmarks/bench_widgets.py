"""Slider latency of the probability-flow explorer (notebook 01), headless.

For each kind of slider, 50 moves: the time from setting the value to a finished canvas
draw encoded as the PNG the notebook shows (``ProbabilityFlowExplorer.set``), median and
90th percentile. The target is a median under 100 ms. Moves cycle through distinct
values so that no cache returns a previous result.

Run from the repository root:

    python benchmarks/bench_widgets.py            # 50 moves per slider
    python benchmarks/bench_widgets.py --moves 10

Timings depend on the load of the machine; the machine and its load are printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.dirname(__file__))

from bench_exact import machine  # noqa: E402

from cmtoy.viz.widgets import ProbabilityFlowExplorer  # noqa: E402

# (label, knob, the values n moves step through: a drag, small steps, no value twice)
MOVES = [
    ("t (time slice)", "t", lambda n: np.linspace(0.05, 0.95, n)),
    ("mean 1 (mixture)", "mean_1", lambda n: np.linspace(-1.5, -0.5, n)),
    ("std 2 (mixture)", "std_2", lambda n: np.linspace(0.1, 0.6, n)),
    ("trajectories", "n_trajectories", lambda n: 8 + np.arange(n)),
]


def time_moves(explorer, knob, values):
    """Seconds of each explorer.set(knob=value). returns [len(values)]"""
    seconds = []
    for value in values:
        start = time.perf_counter()
        explorer.set(**{knob: value.item()})
        seconds.append(time.perf_counter() - start)
    return np.array(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=50, help="moves per slider")
    args = parser.parse_args()
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.2f}")
    print(f"{args.moves} moves per slider, time from set() to the encoded PNG of a finished draw\n")
    print("| slider | median (ms) | 90th percentile (ms) |")
    print("|---|---|---|")
    every = []
    with threadpool_limits(1):
        for label, knob, values in MOVES:
            explorer = ProbabilityFlowExplorer()
            seconds = time_moves(explorer, knob, values(args.moves))
            every.append(seconds)
            print(f"| {label} | {1e3 * np.median(seconds):.0f} | {1e3 * np.quantile(seconds, 0.9):.0f} |")
    every = np.concatenate(every)
    print(f"| all moves | {1e3 * np.median(every):.0f} | {1e3 * np.quantile(every, 0.9):.0f} |")
    print("\nrerun: python benchmarks/bench_widgets.py")


if __name__ == "__main__":
    main()
