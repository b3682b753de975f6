"""Re-run notebooks top to bottom and store their outputs, the way `make test` compares them.

    python scripts/run_notebooks.py                      # every notebook, exercise and solution
    python scripts/run_notebooks.py notebooks/02_*.ipynb # some of them

Prints each notebook's kernel time: the figures in README's course map come from here. Each notebook runs with
a progress file of its own, empty, so notebook 1 stores the progress of a learner who has not started. In
exercises/, the outputs of cells tagged `feedback` (the check's verdict, the hints) are not stored: a learner
opening an exercise sees no verdict and no hint before running those cells. A progress bar's text is stored as the
bar ended, for a reader that cannot draw its widget.
"""

import html
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("notebooks", "exercises", "solutions")
sys.path.insert(0, str(ROOT))
from conftest import NOTEBOOK_ENV  # noqa: E402  (the settings the comparison runs under)
from helpers.files import write_atomically  # noqa: E402


def finished_bars(notebook: nbformat.NotebookNode) -> None:
    """Store each progress bar's text as the bar ended, from its widget's saved state, for readers without widgets."""
    state = notebook.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for output in (output for cell in notebook.cells for output in cell.get("outputs", [])):
        view = output.get("data", {}).get("application/vnd.jupyter.widget-view+json")
        box = state.get(view["model_id"], {}) if view else {}
        if box.get("model_name") == "HBoxModel" and len(box["state"]["children"]) == 3:
            prefix, bar, suffix = (state[child.removeprefix("IPY_MODEL_")]["state"]
                                   for child in box["state"]["children"])
            filled = round(10 * bar["value"] / bar["max"]) if bar.get("max") else 0
            text = f"{prefix['value']}|{'█' * filled}{' ' * (10 - filled)}|{suffix['value']}"
            output["data"]["text/plain"] = html.unescape(text).replace("\u2007", " ")


def run(path: Path) -> float:
    """Execute one notebook in its own folder and write it back atomically; the seconds it took."""
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="course-progress-") as progress:  # each notebook starts with none
        os.environ["COURSE_PROGRESS"] = str(Path(progress) / "progress.json")
        start = time.perf_counter()
        NotebookClient(notebook, timeout=300, kernel_name="python3",
                       resources={"metadata": {"path": str(path.parent)}}).execute()
        seconds = time.perf_counter() - start
    finished_bars(notebook)
    if path.parent.name == "exercises":
        for cell in notebook.cells:
            if "feedback" in cell.metadata.get("tags", []):
                cell.outputs = []
    write_atomically(path, nbformat.writes(notebook).rstrip("\n").encode() + b"\n")
    return seconds


def main(paths: list[str]) -> None:
    os.environ.update(NOTEBOOK_ENV)
    notebooks = [Path(p).resolve() for p in paths] or sorted(p for f in FOLDERS for p in (ROOT / f).glob("*.ipynb"))
    total = 0.0
    for path in notebooks:
        seconds = run(path)
        total += seconds
        print(f"{seconds:6.1f} s  {path.relative_to(ROOT)}", flush=True)
    print(f"{total:6.1f} s  in all ({len(notebooks)} notebooks, {NOTEBOOK_ENV})")


if __name__ == "__main__":
    main(sys.argv[1:])
