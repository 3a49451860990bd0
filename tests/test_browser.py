"""The notebooks in a real browser: JupyterLab (default settings) + Debian's chromium, via Playwright.

What a class sees is checked, not just that something changed. For every notebook the
test starts from a fresh kernel, runs all cells from the Run menu, checks that no cell
shows an error, and then, for every explorer on the page, reads the values its controls
*show* (slider readouts, selected options, text inputs), builds a fresh explorer in the
test process with those values (by setting the same controls of a fresh widget, as a
browser does) and compares its PNG pixel for pixel with the image the page shows. Then it
moves one slider per explorer with the keyboard (notebook 03: a slider, then the Train
button) and compares again. A figure that contradicts its sliders (a race between two
kernel threads, a slider that rounds the value it was given) fails here.

JupyterLab runs with its default settings (widget messages on a second kernel thread,
``commsOverSubshells``), on 127.0.0.1 with a test token in a temporary root holding copies
of the notebooks; it is stopped by its PID. No browser is downloaded: the test uses
``/usr/bin/chromium`` (``apt-get install chromium``) and skips where it is absent. The
machinery (``lab``, ``open_browser``, ``run_all``, ``explorer_outputs`` ...) also serves
``benchmarks/bench_browser.py``.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import pathlib
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--no-first-run",
    "--disable-quic", "--metrics-recording-only", "--mute-audio",
]
TIMEOUT_MS = 180_000  # generous: the machine is shared; every wait is on a condition, not a sleep
SETTLE_SECONDS = 30.0  # how long a page may take to show the kernel's last picture

# what a kernel imports and the test process must import alike to render the same pixels
with contextlib.suppress(ImportError):
    import ipywidgets
    from PIL import Image
    from threadpoolctl import threadpool_limits


# --- the server --------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def jupyter_lab(workdir, notebooks):
    """A JupyterLab server with its default settings on a free local port; yields (url, token).

    workdir: an empty folder for the server's root (copies of ``notebooks``), config and log.
    The server is stopped by its PID (SIGTERM: Jupyter shuts its kernels down, then exits).
    """
    root = workdir / "root"
    root.mkdir()
    for path in notebooks:
        shutil.copy(path, root / path.name)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["OPENBLAS_NUM_THREADS"] = "1"
    # keep Jupyter's config, runtime and data dirs out of the user's home
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(workdir / name.lower())
    command = [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.workspaces_dir={workdir / 'workspaces'}",
        f"--LabApp.user_settings_dir={workdir / 'settings'}",
        "--LanguageServerManager.autodetect=False",
    ]
    write_quiet_settings(workdir / "settings")
    log_path = workdir / "jupyterlab.log"
    with open(log_path, "wb") as log:
        # no stdin: the server never waits on a terminal (it would prompt y/n on SIGINT)
        server = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, cwd=root)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_up(f"{url}/api/status?token={token}", server, log_path)
            yield url, token
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait(timeout=15)


def write_quiet_settings(settings_dir):
    """User settings that keep JupyterLab from asking (start the notebook's kernel, no news).

    Nothing that changes how widgets or kernels work: those keep JupyterLab's defaults.
    """
    settings = {
        "@jupyterlab/notebook-extension/tracker": {"autoStartDefaultKernel": True},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }
    for name, values in settings.items():
        path = settings_dir / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def wait_until_up(status_url, server, log_path, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(status_url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # polling a server that is starting: there is no event to wait on
    raise RuntimeError(f"JupyterLab did not answer within {timeout} s:\n{log_path.read_text()[-3000:]}")


def shut_down_kernels(url, token):
    """Stop every kernel of the server (a finished notebook leaves the CPUs to the next)."""
    with urllib.request.urlopen(f"{url}/api/kernels?token={token}", timeout=10) as response:
        kernels = json.load(response)
    for kernel in kernels:
        request = urllib.request.Request(f"{url}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
        with contextlib.suppress(OSError):
            urllib.request.urlopen(request, timeout=30).close()


# --- the page ----------------------------------------------------------------------------


@contextlib.contextmanager
def open_browser(playwright, width, height):
    """Debian's chromium, headless, with one page of the given viewport; yields the page."""
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    try:
        page = browser.new_page(viewport={"width": width, "height": height})
        page.set_default_timeout(TIMEOUT_MS)
        yield page
    finally:
        browser.close()


def notebook_url(url, token, name):
    """The notebook in a workspace of its own: no tab of an earlier notebook is restored."""
    return f"{url}/lab/workspaces/{pathlib.Path(name).stem}/tree/{name}?reset&token={token}"


def run_all(page, notebook_url):
    """Open a notebook, wait for its kernel, run all cells from the Run menu and wait for the end."""
    page.goto(notebook_url)
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook")
    # the kernel is connected when the status bar reads "Python 3 (ipykernel) | Idle"
    page.get_by_text(re.compile(r"\| Idle$")).first.wait_for()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.click(".lm-Menu-item[data-command='runmenu:run-all']")
    # every code cell has run when each input prompt shows a number, none a "*"
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                 .every(p => /\\[\\d+\\]/.test(p.textContent))"""
    )
    page.get_by_text(re.compile(r"\| Idle$")).first.wait_for()


def error_outputs(page):
    """The text of every error output (tracebacks and stderr) and every widget that failed."""
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()
    failed = page.get_by_text("Error displaying widget").all_inner_texts()
    return errors + failed


def explorer_outputs(page):
    """One locator per explorer on the page (an output holding a widget image), in page order."""
    return page.locator(".jp-OutputArea-output:has(.widget-image)")


READ_CONTROLS = """(root) => {
    const shown = {};
    for (const box of root.querySelectorAll('.widget-inline-hbox')) {
        if (box.classList.contains('widget-progress')) continue;
        const label = box.querySelector('.widget-label');
        if (!label || !label.textContent.trim()) continue;
        const readout = box.querySelector('.widget-readout');
        const select = box.querySelector('select');
        const input = box.querySelector('input');
        shown[label.textContent.trim()] = readout ? readout.textContent.trim()
            : select ? select.options[select.selectedIndex].text : input ? input.value : null;
    }
    return shown;
}"""

READ_IMAGE = """async (img) => {
    const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
    let text = '';
    for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
    return btoa(text);
}"""


def shown_state(output):
    """(what each control shows: description -> text, the figure as RGB [h, w, 3]) of one explorer."""
    image = output.locator(".widget-image").first
    image.wait_for(state="visible")
    page = output.page
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image.element_handle())
    controls = output.evaluate(READ_CONTROLS)
    rgb = decode_png(base64.b64decode(image.evaluate(READ_IMAGE)))
    return controls, rgb


def decode_png(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def controls_of(box):
    """The value controls (with a description) inside an explorer's widget. yields widgets"""
    for child in getattr(box, "children", ()):
        if isinstance(child, ipywidgets.Box):
            yield from controls_of(child)
        elif isinstance(child, (ipywidgets.ValueWidget,)) and not isinstance(
                child, (ipywidgets.Image, ipywidgets.HTML, ipywidgets.IntProgress)) and child.description:
            yield child


def show_on(control, text):
    """Set a control of the test process to what the page's control shows (as the browser would)."""
    if isinstance(control, ipywidgets.widgets.widget_selection._Selection):
        control.label = text
        return
    text = text.replace("\N{MINUS SIGN}", "-").replace(",", "")  # d3-format's minus, thousands
    if isinstance(control.value, int):
        control.value = int(text)
    else:
        control.value = float(text)


def fresh_png(make, shown):
    """An explorer built in the test process and set, through its widget, to what the page shows.

    make(): a fresh explorer; shown: description -> shown text. Knobs that depend on each
    other (t + dt <= 1) may be refused in one order, so the controls are set in rounds.
    returns (the explorer, its figure as RGB [h, w, 3])
    """
    with threadpool_limits(1):  # as the kernel (OPENBLAS_NUM_THREADS=1): the same float rounding
        explorer = make()
        controls = {c.description: c for c in controls_of(explorer.widget())}
        assert set(controls) == set(shown), f"the page shows controls {sorted(shown)}, the explorer has {sorted(controls)}"
        for _ in range(3):
            for name, text in shown.items():
                show_on(controls[name], text)
        if hasattr(explorer, "train"):  # its figure shows a run: train with the shown settings
            explorer.train()
        return explorer, decode_png(explorer.png)


def assert_same_picture(page_rgb, fresh_rgb, shown, where, tmp_path):
    if page_rgb.shape == fresh_rgb.shape and np.array_equal(page_rgb, fresh_rgb):
        return
    stem = re.sub(r"\W+", "_", where)
    Image.fromarray(page_rgb).save(tmp_path / f"{stem}_page.png")
    Image.fromarray(fresh_rgb).save(tmp_path / f"{stem}_fresh.png")
    differ = (np.mean(np.any(page_rgb != fresh_rgb, axis=-1)) if page_rgb.shape == fresh_rgb.shape
              else f"shape {page_rgb.shape} != {fresh_rgb.shape}")
    pytest.fail(f"{where}: the figure is not a render of the values its controls show {shown}; "
                f"fraction of pixels that differ: {differ} (images in {tmp_path})")


def wait_for_agreement(output, make, where, tmp_path, timeout=SETTLE_SECONDS):
    """Wait until the explorer's figure equals a fresh render of what its controls show.

    The page may still be receiving the kernel's last messages, so a disagreement is
    re-read until ``timeout``; one that lasts is a figure that contradicts its sliders.
    """
    deadline = time.monotonic() + timeout
    while True:
        shown, page_rgb = shown_state(output)
        _, fresh_rgb = fresh_png(make, shown)
        if (page_rgb.shape == fresh_rgb.shape and np.array_equal(page_rgb, fresh_rgb)) or time.monotonic() > deadline:
            assert_same_picture(page_rgb, fresh_rgb, shown, where, tmp_path)
            return shown
        output.page.wait_for_timeout(1000)  # a page that is still updating: look again


def press_key_on_slider(output, description, key):
    """Focus the handle of the slider labelled ``description`` and press ``key`` once."""
    box = output.locator(".widget-inline-hbox", has=output.page.locator(".widget-label", has_text=description)).first
    handle = box.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    handle.focus()
    output.page.keyboard.press(key)


# --- what each notebook shows ------------------------------------------------------------


def flow_explorer():
    from cmtoy.viz.widgets import ProbabilityFlowExplorer
    return ProbabilityFlowExplorer()


def step_explorer():
    from cmtoy.viz.widgets import InductiveStepExplorer
    return InductiveStepExplorer()


def training_explorer():
    from cmtoy.viz.learned_widgets import TrainingExplorer
    return TrainingExplorer()


def sampling_explorer():
    from cmtoy.viz.learned_widgets import SamplingExplorer, classroom_model
    return SamplingExplorer(classroom_model())


def exact_sampling_explorer():
    import cmtoy
    from cmtoy.viz.learned_widgets import SamplingExplorer
    interp = cmtoy.Interpolant(cmtoy.SEED_MIXTURE, "linear")
    return SamplingExplorer(cmtoy.ExactModel(interp), interp)


def flow_map_explorer():
    from cmtoy.viz.flow_map_widgets import FlowMapExplorer
    return FlowMapExplorer()


# notebook -> its explorers in page order: (fresh explorer, the slider to move, the key)
NOTEBOOKS = {
    "01_probability_flow.ipynb": [(flow_explorer, "t (slice)", "ArrowRight")],
    "02_inductive_step.ipynb": [(step_explorer, "x_1", "ArrowRight")],
    "03_training.ipynb": [(training_explorer, "steps", "ArrowLeft")],
    "04_few_step_sampling.ipynb": [(sampling_explorer, "steps", "ArrowRight"),
                                   (exact_sampling_explorer, "steps", "ArrowRight")],
    "05_flow_maps.ipynb": [(flow_map_explorer, "sampling steps", "ArrowLeft")],
}
# what the notebooks' own cells set after the explorer is shown: the page must keep it
# (a control's browser side that sends a stale value back would undo it)
SET_BY_CODE = {
    "01_probability_flow.ipynb": [{"t (slice)": "0.25", "mean 2": "1.50"}],
    "02_inductive_step.ipynb": [{"t": "0.40", "Δt": "0.002", "x_0": "-1.00", "x_1": "1.20"}],
    "04_few_step_sampling.ipynb": [{"steps": "4", "first time": "0.30"}, {}],
    "05_flow_maps.ipynb": [{"sampling steps": "8"}],
}


# --- the tests ---------------------------------------------------------------------------

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("jupyterlab")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """One JupyterLab server for all notebooks; yields (url, token)."""
    with jupyter_lab(tmp_path_factory.mktemp("lab"), [NOTEBOOK_DIR / name for name in NOTEBOOKS]) as server:
        yield server


@pytest.fixture(scope="module")
def playwright():
    with sync_api.sync_playwright() as playwright:
        yield playwright


@pytest.mark.parametrize("name", list(NOTEBOOKS), ids=[name[:2] for name in NOTEBOOKS])
def test_every_explorer_shows_what_its_sliders_say(lab, playwright, name, tmp_path):
    url, token = lab
    with open_browser(playwright, 1366, 768) as page:
        try:
            run_all(page, notebook_url(url, token, name))
            assert not error_outputs(page), f"{name} shows errors after Run All:\n" + "\n".join(error_outputs(page))
            outputs = explorer_outputs(page)
            specs = NOTEBOOKS[name]
            assert outputs.count() == len(specs), f"{name}: {outputs.count()} explorers shown, expected {len(specs)}"
            for index, (make, slider, key) in enumerate(specs):
                output = outputs.nth(index)
                output.scroll_into_view_if_needed()
                where = f"{name} explorer {index + 1}"
                shown = wait_for_agreement(output, make, f"{where} after Run All", tmp_path)
                expected = SET_BY_CODE.get(name, [{}] * len(specs))[index]
                assert {k: shown[k] for k in expected} == expected, f"{where}: the page lost what code set"
                before = shown_state(output)[0]
                press_key_on_slider(output, slider, key)
                page.wait_for_function(
                    "([root, text]) => { const b = [...root.querySelectorAll('.widget-inline-hbox')]"
                    ".find(b => b.querySelector('.widget-label')?.textContent.trim() === text[0]);"
                    "return b && b.querySelector('.widget-readout').textContent.trim() !== text[1]; }",
                    arg=[output.element_handle(), [slider, before[slider]]],
                )
                if make is training_explorer:
                    press_train(output)
                wait_for_agreement(output, make, f"{where} after {key} on {slider!r}", tmp_path)
            assert not error_outputs(page), f"{name} shows errors after the moves:\n" + "\n".join(error_outputs(page))
        except Exception:
            page.screenshot(path=tmp_path / "failure.png")  # left for whoever debugs a failure
            print(f"page at failure: {tmp_path / 'failure.png'}")
            raise
        finally:
            shut_down_kernels(url, token)


def press_train(output):
    """Click Train and wait until the run is over: a new status line and the button enabled again."""
    button = output.get_by_role("button", name="Train")
    status = output.locator(".widget-html").first
    before = status.inner_text()
    button.click()
    output.page.wait_for_function(
        "([b, s, before]) => !b.disabled && s.innerText !== before && /W1|rror|diverg/.test(s.innerText)",
        arg=[button.element_handle(), status.element_handle(), before],
    )
