"""Run notebooks in JupyterLab in a real browser (Chromium) and check what the page shows.

    python scripts/browser_test.py                               # every notebook, exercise and solution
    python scripts/browser_test.py notebooks/01_start_here.ipynb # some of them

Starts `jupyter lab` on a free local port and, in one Chromium page, opens each notebook with File > Open
from Path, clears its outputs and runs Run > Run All Cells. A notebook fails on an error output in a cell
not tagged `raises-exception`, a code cell that never ran, "Error displaying widget" or a widget that never
loaded, an image that did not load, or a progress bar printed as text instead of drawn as a widget.
Notebooks are closed unsaved (autosave is off). A full-page screenshot of each is written to
build/browser/<folder>/<name>.png.
"""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import BrowserContext, Page, TimeoutError as PlaywrightTimeoutError, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("notebooks", "exercises", "solutions")
SCREENSHOTS = ROOT / "build" / "browser"
CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 900
START_TIMEOUT_S = 120
RUN_TIMEOUT_S = 300
STOPPED_AFTER_S = 3
WIDGET_TIMEOUT_S = 15
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none", "scrollPastEnd": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}
sys.path.insert(0, str(ROOT))
from conftest import NOTEBOOK_ENV  # noqa: E402  (the settings the notebook tests run under)

# The notebook's panel in the page; the server exposes the app as window.jupyterapp.
PANEL = "[...window.jupyterapp.shell.widgets('main')].find(w => w.context?.path === path)"

KERNEL_IDLE_JS = f"path => {PANEL}?.sessionContext.kernelDisplayStatus === 'idle'"

PROMPTS_JS = f"""path => [...{PANEL}.node.querySelectorAll('.jp-Cell')]
    .map(cell => cell.querySelector('.jp-InputPrompt')?.textContent.trim() ?? '')"""

LOADING_WIDGETS_JS = f"""path => [...{PANEL}.node.querySelectorAll('.jp-OutputArea-output')]
    .some(output => output.innerText.includes('Loading widget...'))"""

# Per cell, in page order: error outputs from the notebook's model (the page draws errors and stderr alike),
# then what the page draws.
CELLS_JS = f"""async path => {{
    const panel = {PANEL};
    const errors = panel.content.widgets.map(cell => cell.model.type !== 'code' ? [] :
        cell.model.outputs.toJSON().filter(o => o.output_type === 'error').map(o => `${{o.ename}}: ${{o.evalue}}`));
    return Promise.all([...panel.node.querySelectorAll('.jp-Cell')].map(async (cell, index) => {{
        const outputs = [...cell.querySelectorAll('.jp-OutputArea-output')];
        const images = [...cell.querySelectorAll('.jp-OutputArea-output img, .jp-RenderedMarkdown img')];
        await Promise.all(images.map(img => img.decode().catch(() => null)));
        return {{
            errors: errors[index] ?? [],
            texts: outputs.filter(o => !o.querySelector('.jupyter-widgets')).map(o => o.innerText),
            brokenImages: images.filter(img => !img.complete || img.naturalWidth === 0).length,
        }};
    }}));
}}"""

HIDDEN_HEIGHT_JS = f"""path => {{
    const scroller = {PANEL}.node.querySelector('.jp-WindowedPanel-outer');
    return scroller.scrollHeight - scroller.clientHeight;
}}"""

SCROLL_TO_TOP_JS = f"path => {{ {PANEL}.node.querySelector('.jp-WindowedPanel-outer').scrollTop = 0; }}"

CLOSE_JS = f"path => {PANEL}.dispose()"

PROGRESS_TEXT = re.compile(r"\d+%\|")
EXECUTED = re.compile(r"\[\d+\]:")


def notebook_paths(args: list[str]) -> list[str]:
    """The notebooks to run, as paths relative to the repository: the arguments, or all of them."""
    if not args:
        return [str(p.relative_to(ROOT)) for f in FOLDERS for p in sorted((ROOT / f).glob("*.ipynb"))]
    paths = [Path(a).resolve() for a in args]
    for path in paths:
        if not path.is_file() or not path.is_relative_to(ROOT):
            sys.exit(f"{path}: not a notebook inside {ROOT}")
    return [str(p.relative_to(ROOT)) for p in paths]


def free_port() -> int:
    """A local TCP port no one is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_lab_settings(folder: Path) -> None:
    """JupyterLab settings for the test: no autosave, every cell in the page and no blank below, no news toast."""
    for plugin, values in LAB_SETTINGS.items():
        path = folder / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def wait_for_server(server: subprocess.Popen, url: str, log: Path) -> None:
    """Return once the server answers url; exit with its log if it stops or takes over a minute."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"jupyter lab exited with code {server.returncode}:\n{log.read_text()}")
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"jupyter lab did not answer {url} within a minute:\n{log.read_text()}")


def stop(server: subprocess.Popen) -> None:
    """Stop the server and its kernels; kill them if they do not stop in 20 s."""
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@dataclass
class Lab:
    """A running JupyterLab server: its address, its token, and a thread that shuts kernels down."""

    base: str
    token: str
    closer: ThreadPoolExecutor

    def api(self, path: str, method: str = "GET") -> bytes:
        """Call the server's REST API; the response body."""
        request = urllib.request.Request(f"{self.base}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request) as response:
            return response.read()

    def end_sessions(self) -> None:
        """Shut down the kernel of every open session, in the background (one that imported torch takes seconds)."""
        for session in json.loads(self.api("sessions")):
            self.closer.submit(self.api, f"sessions/{session['id']}", "DELETE")


@contextmanager
def jupyter_lab(tmp: Path, notebooks: list[str]) -> Iterator[Lab]:
    """Run `jupyter lab` serving the repository, with its settings and checkpoints kept in tmp."""
    port, token = free_port(), secrets.token_hex(16)
    write_lab_settings(tmp / "settings")
    for folder in {Path(n).parent for n in notebooks}:
        (tmp / "checkpoints" / folder).mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--ServerApp.root_dir={ROOT}",
        f"--LabApp.user_settings_dir={tmp / 'settings'}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
        f"--FileCheckpoints.root_dir={tmp / 'checkpoints'}", "--LabApp.expose_app_in_browser=True",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    env = {**NOTEBOOK_ENV, **os.environ, "JUPYTER_TOKEN": token}
    log = tmp / "server.log"
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_server(server, f"{base}/api/status?token={token}", log)
        with ThreadPoolExecutor(1) as closer:
            yield Lab(base, token, closer)
    finally:
        stop(server)


def open_lab(context: BrowserContext, lab: Lab) -> Page:
    """A new page showing JupyterLab with a fresh workspace."""
    page = context.new_page()
    page.goto(f"{lab.base}/lab?token={lab.token}&reset")
    page.get_by_role("menuitem", name="File", exact=True).wait_for(timeout=START_TIMEOUT_S * 1000)
    return page


def click_menu(page: Page, menu: str, item: str) -> None:
    """Choose item from the menu bar's menu."""
    page.get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def open_notebook(page: Page, path: str) -> None:
    """Open the notebook with File > Open from Path, and wait until its kernel is idle."""
    click_menu(page, "File", "Open from Path…")
    page.locator(".jp-Dialog input").fill(path)
    page.keyboard.press("Enter")
    try:
        page.wait_for_function(KERNEL_IDLE_JS, arg=path, timeout=START_TIMEOUT_S * 1000)
    except PlaywrightTimeoutError:
        raise TimeoutError(f"kernel not idle {START_TIMEOUT_S} s after opening the notebook") from None


def not_run(prompts: list[str], runnable: list[int]) -> list[int]:
    """The runnable cells whose prompt shows no execution count ([ ]: or [*]:)."""
    return [i for i in runnable if i < len(prompts) and not EXECUTED.fullmatch(prompts[i])]


def wait_until_run(page: Page, path: str, runnable: list[int]) -> None:
    """Wait until every runnable cell has run, or the run stopped early (nothing queued, kernel idle a while)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        prompts, idle = page.evaluate(PROMPTS_JS, path), page.evaluate(KERNEL_IDLE_JS, path)
        if (prompts, idle) != last:
            last, since = (prompts, idle), time.monotonic()
        stopped = time.monotonic() - since > STOPPED_AFTER_S
        if idle and "[*]:" not in prompts and (not not_run(prompts, runnable) or stopped):
            return
        time.sleep(0.25)
    raise TimeoutError(f"cells still running after {RUN_TIMEOUT_S} s")


def wait_for_widgets(page: Page, path: str) -> None:
    """Give widgets that are still loading some seconds to draw."""
    deadline = time.monotonic() + WIDGET_TIMEOUT_S
    while page.evaluate(LOADING_WIDGETS_JS, path) and time.monotonic() < deadline:
        time.sleep(0.25)


def never_ran(prompts: list[str], runnable: list[int]) -> list[str]:
    """The code cells that never ran, as one problem."""
    left = not_run(prompts, runnable)
    if not left:
        return []
    return [f"cell {left[0]}: never ran (prompt {prompts[left[0]]!r}), nor {len(left) - 1} cell(s) after it"]


def cell_problems(index: int, cell: dict, raises: bool) -> list[str]:
    """What is wrong with one cell's outputs as the page shows them."""
    problems = []
    if not raises:
        problems += [f"cell {index}: error output: {error}" for error in cell["errors"]]
    for text in cell["texts"]:
        first_line = next((line for line in text.splitlines() if line.strip()), "")
        if "Error displaying widget" in text:
            problems.append(f"cell {index}: {first_line.strip()}")
        elif "Loading widget..." in text:
            problems.append(f"cell {index}: widget still 'Loading widget...' after {WIDGET_TIMEOUT_S} s")
        elif PROGRESS_TEXT.search(text):
            line = next(line for line in text.splitlines() if PROGRESS_TEXT.search(line))
            problems.append(f"cell {index}: progress bar shown as text, not a widget: {line.strip()!r}")
    if cell["brokenImages"]:
        problems.append(f"cell {index}: {cell['brokenImages']} image(s) did not load")
    return problems


def screenshot(page: Page, path: str) -> None:
    """Save the whole notebook, top to bottom, as build/browser/<folder>/<name>.png."""
    out = SCREENSHOTS / Path(path).with_suffix(".png")
    out.parent.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT + page.evaluate(HIDDEN_HEIGHT_JS, path)})
    page.evaluate(SCROLL_TO_TOP_JS, path)
    page.screenshot(path=out, full_page=True)
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})


def check(page: Page, lab: Lab, path: str) -> list[str]:
    """Open, clear and run one notebook, screenshot it and close it unsaved; the problems found."""
    cells = json.loads((ROOT / path).read_text())["cells"]
    runnable = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    raises = {i for i, c in enumerate(cells) if "raises-exception" in c["metadata"].get("tags", [])}
    open_notebook(page, path)
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()
    click_menu(page, "Edit", "Clear Outputs of All Cells")
    click_menu(page, "Run", "Run All Cells")
    wait_until_run(page, path, runnable)
    wait_for_widgets(page, path)
    prompts = page.evaluate(PROMPTS_JS, path)
    shown = page.evaluate(CELLS_JS, path)
    screenshot(page, path)
    page.evaluate(CLOSE_JS, path)
    lab.end_sessions()
    if len(shown) != len(cells):
        return [f"the page shows {len(shown)} cells, the file has {len(cells)}"]
    problems = [p for i, cell in enumerate(shown) for p in cell_problems(i, cell, i in raises)]
    return problems + never_ran(prompts, runnable)


def main(args: list[str]) -> None:
    """Check each notebook in one browser page; exit 1 listing every problem if any."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("stopped by SIGTERM"))
    notebooks = notebook_paths(args)
    failures = {}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, jupyter_lab(Path(tmp), notebooks) as lab, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        page = open_lab(context, lab)
        for path in notebooks:
            t = time.perf_counter()
            for _ in range(2):  # the page itself timing out (a busy machine) gets a second, fresh page
                try:
                    problems = check(page, lab, path)
                    break
                except Exception as error:  # noqa: BLE001  (a notebook that hangs or breaks the page fails alone)
                    problems = [f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"]
                    page.close()
                    lab.end_sessions()
                    page = open_lab(context, lab)
                    if not isinstance(error, PlaywrightTimeoutError):
                        break
            print(f"{time.perf_counter() - t:6.1f} s  {'FAIL' if problems else 'ok':4}  {path}", flush=True)
            if problems:
                failures[path] = problems
        browser.close()
    print(f"{time.perf_counter() - start:6.1f} s  in all ({len(notebooks)} notebooks); screenshots in "
          f"{SCREENSHOTS.relative_to(ROOT)}/")
    if failures:
        sys.exit("\n".join(f"{path}: {problem}" for path, problems in failures.items() for problem in problems))


if __name__ == "__main__":
    main(sys.argv[1:])
