"""Slider latency in a real browser: key press to new image, every slider of every explorer.

Starts JupyterLab with its default settings (as ``tests/test_browser.py`` does, whose
machinery this reuses), opens each notebook in Debian's chromium at 1920x1080, runs all
cells, and for every slider of every explorer presses ArrowRight ``--moves`` times and
then ArrowLeft as often (the other way round for a slider at the top of its range), timing in the page from the keydown event to the moment the
figure's ``<img>`` holds the kernel's new PNG, decoded. Prints the median and the
90th percentile per slider; the target is a median of at most 100 ms. A slider that
does not change the picture (a component of weight 0, a first time with one step) is
given up after two presses. Notebook 03's sliders draw nothing until Train, so they
are left out; notebook 05's training sliders (steps, learning rate) draw nothing until
Train either, and show as such.

Run from the repository root:

    python benchmarks/bench_browser.py               # 5 moves each way per slider
    python benchmarks/bench_browser.py --moves 10 --notebooks 01 02

Timings depend on the load of the machine; the machine and its load are printed.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_exact import machine  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402
from test_browser import (  # noqa: E402
    NOTEBOOK_DIR, explorer_outputs, jupyter_lab, notebook_url, open_browser, run_all, shut_down_kernels,
)

NOTEBOOKS = ["01_probability_flow.ipynb", "02_inductive_step.ipynb", "04_few_step_sampling.ipynb", "05_flow_maps.ipynb"]

# The floor under every slider: a slider whose observer only swaps between two PNGs of
# notebook 01's figure, drawn beforehand. What it takes is the widget messages, the PNG's
# transfer and its decoding, with no work in the kernel.
FLOOR = "00_round_trip.ipynb"
FLOOR_CELL = """import ipywidgets
from cmtoy.viz.widgets import ProbabilityFlowExplorer
explorer = ProbabilityFlowExplorer()
pngs = []
for t in (0.25, 0.5):
    explorer.set(t=t)
    pngs.append(explorer.png)
image = ipywidgets.Image(value=pngs[0], format="png")
slider = ipywidgets.IntSlider(value=0, min=0, max=20, description="round trip")
slider.observe(lambda change: setattr(image, "value", pngs[change["new"] % 2]), names="value")
ipywidgets.HBox([ipywidgets.VBox([slider]), image])"""


def write_floor_notebook(folder):
    """The notebook of the round-trip floor, in ``folder``. returns its path"""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(FLOOR_CELL)])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = pathlib.Path(folder) / FLOOR
    nbformat.write(notebook, path)
    return path

# resolves with the ms from the next keydown to the figure showing a new, decoded PNG (or null)
ARM = """([img, timeout]) => {
    window.__latency = new Promise(resolve => {
        let t0 = null;
        const down = () => { t0 = performance.now(); };
        document.addEventListener('keydown', down, {capture: true, once: true});
        const observer = new MutationObserver(async () => {
            observer.disconnect();
            await img.decode().catch(() => {});
            resolve(performance.now() - t0);
        });
        observer.observe(img, {attributes: true, attributeFilter: ['src']});
        setTimeout(() => { observer.disconnect(); resolve(null); }, timeout);
    });
}"""


def slider_latencies(output, moves, timeout_ms=5_000):
    """Yields (slider description, [ms of each move that drew]) for every slider of one explorer."""
    page = output.page
    image = output.locator(".widget-image").first.element_handle()
    sliders = output.locator(".widget-slider")
    for index in range(sliders.count()):
        box = sliders.nth(index)
        name = box.locator(".widget-label").first.inner_text().strip()
        handle = box.locator(".noUi-handle").first
        handle.scroll_into_view_if_needed()
        handle.focus()
        drew, missed = [], 0
        keys = ["ArrowRight"] * moves + ["ArrowLeft"] * moves
        press = 0
        while press < len(keys):
            page.evaluate(ARM, [image, timeout_ms])
            page.keyboard.press(keys[press])
            ms = page.evaluate("() => window.__latency")
            if ms is not None:
                drew.append(ms)
            missed = 0 if ms is not None else missed + 1
            press += 1
            if missed == 2 and press == 2 and keys[0] == "ArrowRight":  # at the top of its range:
                keys, press, missed = ["ArrowLeft"] * moves + ["ArrowRight"] * moves, 0, 0  # down, then back
            elif missed == 2:  # the picture does not depend on it now (mean 3 at weight 3 = 0)
                break
        yield name, drew


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=5, help="key presses each way per slider")
    parser.add_argument("--notebooks", nargs="*", default=None, help="notebook numbers, e.g. 01 04")
    args = parser.parse_args()
    names = [n for n in [FLOOR, *NOTEBOOKS] if args.notebooks is None or n[:2] in args.notebooks]
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.2f}")
    print(f"chromium 1920x1080, JupyterLab default settings; {args.moves} presses each way per slider\n")
    print("| notebook | explorer | slider | moves that drew | median (ms) | 90th percentile (ms) |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as source, tempfile.TemporaryDirectory() as workdir:
        paths = [write_floor_notebook(source) if n == FLOOR else NOTEBOOK_DIR / n for n in names]
        measure(names, paths, pathlib.Path(workdir), args.moves)
    print("\nrerun: python benchmarks/bench_browser.py   (notebook 00: the round-trip floor, no kernel work)")


def measure(names, paths, workdir, moves):
    """Print a table row per slider of every explorer of the notebooks."""
    with jupyter_lab(workdir, paths) as (url, token), sync_playwright() as playwright:
        for name in names:
            with open_browser(playwright, 1920, 1080) as page:
                run_all(page, notebook_url(url, token, name))
                outputs = explorer_outputs(page)
                for index in range(outputs.count()):
                    for slider, ms in slider_latencies(outputs.nth(index), moves):
                        cells = (f"{np.median(ms):.0f} | {np.quantile(ms, 0.9):.0f}" if ms else "– | –")
                        print(f"| {name[:2]} | {index + 1} | {slider} | {len(ms)} / {2 * moves} | {cells} |",
                              flush=True)
            shut_down_kernels(url, token)


if __name__ == "__main__":
    main()
