"""A real browser moves a real slider: JupyterLab + Debian's chromium, driven by Playwright.

The test starts JupyterLab on 127.0.0.1 with a test token in a temporary root holding a
copy of ``01_probability_flow.ipynb``, runs all cells from the Run menu, focuses the first
slider handle, presses ArrowRight and checks that the figure image in the output changed.
The server is stopped by its PID. No browser is ever downloaded: the test uses
``/usr/bin/chromium`` (``apt-get install chromium``) and skips where it is absent.
"""

from __future__ import annotations

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

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "01_probability_flow.ipynb"
CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-default-apps", "--no-first-run",
    "--disable-quic", "--metrics-recording-only", "--mute-audio",
]
TIMEOUT_MS = 60_000  # generous: the machine is shared; every wait is on a selector, not a sleep

if not CHROMIUM.exists():
    pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("jupyterlab")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on a free local port; yields (url, token); stopped by its PID."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["OPENBLAS_NUM_THREADS"] = "1"
    # keep Jupyter's config, runtime and data dirs out of the user's home
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR"):
        env[name] = str(tmp_path / name.lower())
    command = [
        sys.executable, "-m", "jupyterlab",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", "--ServerApp.open_browser=False",
        f"--ServerApp.root_dir={root}", "--ServerApp.allow_root=True",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}",
        f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
        "--LanguageServerManager.autodetect=False",
    ]
    write_quiet_settings(tmp_path / "settings")
    log = open(tmp_path / "jupyterlab.log", "wb")
    # no stdin: the server never waits on a terminal (it would prompt y/n on SIGINT)
    server = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                              cwd=root)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/api/status?token={token}", server, tmp_path / "jupyterlab.log")
        yield url, token
    finally:
        server.send_signal(signal.SIGTERM)  # by its PID; Jupyter shuts its kernels down, then exits
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)
        log.close()


def write_quiet_settings(settings_dir):
    """User settings that keep JupyterLab from asking: start the notebook's kernel, no news."""
    settings = {
        "@jupyterlab/notebook-extension/tracker": {"autoStartDefaultKernel": True},
        "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    }
    for name, values in settings.items():
        path = settings_dir / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def wait_until_up(status_url, server, log_path, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(status_url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)  # polling a server that is starting: there is no event to wait on
    pytest.fail(f"JupyterLab did not answer within {timeout} s:\n{log_path.read_text()[-3000:]}")


def test_slider_moves_the_figure_in_jupyterlab(lab, tmp_path):
    url, token = lab
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        try:
            move_a_slider_and_compare(page, f"{url}/lab/tree/{NOTEBOOK.name}?token={token}")
        except Exception:
            page.screenshot(path=tmp_path / "failure.png")  # left for whoever debugs a failure
            print(f"page at failure: {tmp_path / 'failure.png'}")
            raise
        finally:
            browser.close()


def move_a_slider_and_compare(page, notebook_url):
    page.goto(notebook_url)
    # the kernel is connected when the status bar reads "Python 3 (ipykernel) | Idle"
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook")
    page.get_by_text(re.compile(r"\| Idle$")).first.wait_for()
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.click(".lm-Menu-item[data-command='runmenu:run-all']")
    # every code cell has run when each input prompt shows a number, none a "*"
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
                 .every(p => /\\[\\d+\\]/.test(p.textContent))"""
    )

    figure = page.locator(".jp-OutputArea-output .widget-image").first
    figure.scroll_into_view_if_needed()
    figure.wait_for(state="visible")
    handle = page.locator(".jp-OutputArea-output .widget-slider .noUi-handle").first
    before_src = figure.get_attribute("src")
    before = figure.screenshot()

    handle.focus()
    page.keyboard.press("ArrowRight")
    # the kernel sends a new PNG, which the <img> shows under a new blob URL
    page.wait_for_function(
        "([el, src]) => el.getAttribute('src') !== src && el.complete",
        arg=[figure.element_handle(), before_src],
    )
    after = figure.screenshot()
    assert after != before, "moving the slider did not change the rendered figure"
