"""How long the documentation figures take to regenerate, and a slider redraw.

    PYTHONPATH=. python benchmarks/bench_figures.py [--all]

Prints (1) the wall time of `python -m cmtoy figures` for the seed figures (a fresh
process, imports included: what a user waits for), (2) with --all, the same for every
figure, using the reference model cached in figures/ (copied to the temporary output
directory, so nothing is trained), and (3) the time of one in-place update of the
probability-flow picture for another interpolant (density grid + 16 exact trajectories)
and of an Agg redraw at screen resolution: a slider move has a 100 ms budget.
Targets: seed figures < 10 s, all figures < 30 s, a redraw < 100 ms.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import cmtoy  # noqa: E402
from cmtoy.reference import REFERENCE_FILE  # noqa: E402
from cmtoy.viz import figures, plotting  # noqa: E402


def time_command(names, out):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENBLAS_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "cmtoy", "figures", "--out", str(out), "--only", *names],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def time_redraw(repeats=10, n_t=200, n_x=150):
    """Median ms of (data update, full Agg draw, draw of the (t, x) panel alone)."""
    seed = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, cmtoy.LinearSchedule())
    axes = plotting.make_flow_axes()
    axes.figure.set_dpi(100)
    canvas = FigureCanvasAgg(axes.figure)
    image = plotting.plot_density(axes.flow, seed, n_t=n_t, n_x=n_x)
    ts = np.linspace(0.0, 1.0, 201)
    x_1 = plotting.noise_quantiles(16)
    lines = plotting.plot_paths(axes.flow, ts, seed.trajectories(x_1, ts), color="white")
    canvas.draw()
    update, draw, panel = [], [], []
    for k in range(repeats):
        mixture = cmtoy.GaussianMixture([-1.0, 2.0 - 0.05 * k], [0.1, 0.1], [0.8, 0.2])
        interp = cmtoy.Interpolant(mixture, cmtoy.LinearSchedule())
        start = time.perf_counter()
        plotting.update_density(image, interp)
        plotting.update_paths(lines, ts, interp.trajectories(x_1, ts))
        update.append(time.perf_counter() - start)
        start = time.perf_counter()
        canvas.draw()
        draw.append(time.perf_counter() - start)
        start = time.perf_counter()
        axes.flow.draw(canvas.get_renderer())  # what a blitting widget redraws
        panel.append(time.perf_counter() - start)
    return [1e3 * float(np.median(t)) for t in (update, draw, panel)]


def main():
    with tempfile.TemporaryDirectory() as out:
        seed_time = time_command(figures.SEED_FIGURES, out)
        print(f"seed figures ({len(figures.SEED_FIGURES)} files), python -m cmtoy figures: {seed_time:.1f} s")
        if "--all" in sys.argv:
            cached = ROOT / "figures" / REFERENCE_FILE
            if cached.exists():
                shutil.copy(cached, Path(out) / REFERENCE_FILE)
            all_time = time_command(list(figures.FIGURES), out)
            print(f"all figures ({len(figures.FIGURES)} files, model {'cached' if cached.exists() else 'TRAINED'}): "
                  f"{all_time:.1f} s")
    update, draw, panel = time_redraw()
    print(f"slider move, median of 10: data update (density 200 x 150 + 16 exact trajectories x 201 "
          f"times) {update:.0f} ms; Agg redraw of the whole figure at 100 dpi {draw:.0f} ms, "
          f"of the (t, x) panel alone {panel:.0f} ms")

if __name__ == "__main__":
    main()
