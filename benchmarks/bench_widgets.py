"""Slider latency of every explorer of notebooks 01, 02, 04 and 05, headless.

For each slider, up to 50 moves: the time from setting the value to a finished canvas
draw encoded as the PNG the notebook shows (``explorer.set``), median and 90th
percentile. The target is a median under 100 ms. Moves step through values of the
slider as a drag does, back and forth where a slider has few values (then a revisit
finds the samples of notebook 04 or the curves of notebook 02 in their caches, as it
does in the notebook). Notebook 03's sliders draw nothing until Train; notebook 05's are
timed after its default run (trained once, before the moves).

Run from the repository root:

    python benchmarks/bench_widgets.py            # 50 moves per slider
    python benchmarks/bench_widgets.py --moves 10
    python benchmarks/bench_widgets.py --only 05     # the sliders whose label starts with 05

Timings depend on the load of the machine; the machine and its load are printed.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.dirname(__file__))

from bench_exact import machine  # noqa: E402

from cmtoy.viz.flow_map_widgets import FlowMapExplorer  # noqa: E402
from cmtoy.viz.learned_widgets import SamplingExplorer, classroom_model  # noqa: E402
from cmtoy.viz.widgets import InductiveStepExplorer, ProbabilityFlowExplorer  # noqa: E402


@functools.lru_cache(maxsize=1)
def trained_flow_map_explorer():
    """Notebook 05's explorer after its default run (trained once for all its sliders)."""
    explorer = FlowMapExplorer()
    explorer.train()
    return explorer


def flow_map_explorer(**values):
    """The trained explorer of notebook 05, its other knobs put back to ``values``."""
    explorer = trained_flow_map_explorer()
    explorer.set(**{**dict(t=1.0, s=0.0, n_steps=1), **values})
    return explorer


def grid(low, step, n):
    """n values low, low + step, ... rounded as a slider's readout. returns [n]"""
    return np.round(low + step * np.arange(n), 10)


# (label, explorer, knob, the values n moves step through: a drag, no value twice)
MOVES = [
    ("01 t (time slice)", ProbabilityFlowExplorer, "t", lambda n: grid(0.05, 0.01, n)),
    ("01 mean 1 (mixture)", ProbabilityFlowExplorer, "mean_1", lambda n: grid(-2.0, 0.05, n)),
    ("01 std 2 (mixture)", ProbabilityFlowExplorer, "std_2", lambda n: grid(0.1, 0.01, n)),
    ("01 trajectories", ProbabilityFlowExplorer, "n_trajectories", lambda n: 8 + np.arange(n)),
    ("02 t", InductiveStepExplorer, "t", lambda n: np.resize(grid(0.05, 0.05, 15), n)),
    ("02 dt", InductiveStepExplorer, "dt", lambda n: np.resize([0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2], n)),
    ("02 x_1", InductiveStepExplorer, "x_1", lambda n: grid(-2.5, 0.05, n)),
    ("04 steps", lambda: SamplingExplorer(classroom_model()), "n_evals", lambda n: np.resize(np.r_[2:9, 7:0:-1], n)),
    ("04 first time", lambda: SamplingExplorer(classroom_model(), n_evals=2), "t_mid", lambda n: grid(0.05, 0.05, 19)[:n]),
    ("05 from t", flow_map_explorer, "t", lambda n: np.resize(np.r_[grid(0.95, -0.05, 19), grid(0.1, 0.05, 19)], n)),
    ("05 to s", flow_map_explorer, "s", lambda n: np.resize(np.r_[grid(0.05, 0.05, 19), grid(0.9, -0.05, 19)], n)),
    ("05 sampling steps", flow_map_explorer, "n_steps", lambda n: np.resize(np.r_[2:9, 7:0:-1], n)),
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
    parser.add_argument("--only", default="", help="time only the sliders whose label starts with this")
    args = parser.parse_args()
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.2f}")
    print(f"{args.moves} moves per slider, time from set() to the encoded PNG of a finished draw\n")
    print("| slider | median (ms) | 90th percentile (ms) |")
    print("|---|---|---|")
    every = []
    with threadpool_limits(1):
        for label, make, knob, values in MOVES:
            if not label.startswith(args.only):
                continue
            explorer = make()
            seconds = time_moves(explorer, knob, values(args.moves))
            every.append(seconds)
            print(f"| {label} | {1e3 * np.median(seconds):.0f} | {1e3 * np.quantile(seconds, 0.9):.0f} |")
    every = np.concatenate(every)
    print(f"| all moves | {1e3 * np.median(every):.0f} | {1e3 * np.quantile(every, 0.9):.0f} |")
    print("\nrerun: python benchmarks/bench_widgets.py")


if __name__ == "__main__":
    main()
