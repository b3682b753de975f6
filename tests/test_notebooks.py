"""The stored notebooks are a clean top-to-bottom run: what `pytest --nbval` compares against."""

import subprocess
import sys

import pytest

from notebook_cells import FOLDERS, ROOT, cells, tags

NOTEBOOKS = sorted(p for folder in FOLDERS for p in (ROOT / folder).glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_stored_outputs_come_from_one_clean_run(path):
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    counts = [c["execution_count"] for c in code]
    assert None not in counts, "a code cell was never run: regenerate with `make notebooks`"
    assert counts == list(range(1, len(code) + 1)), "cells ran out of order or the kernel was not restarted"
    for cell in code:
        errors = [o for o in cell["outputs"] if o["output_type"] == "error"]
        assert not errors or "raises-exception" in tags(cell), f"untagged error output: {errors[0]['ename']}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_plots_end_with_plt_show(path):
    for cell in cells(path):
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and ("plot_history(" in source or "show_digits(" in source):
            assert source.rstrip().endswith("plt.show()"), source


@pytest.mark.parametrize("clash", ["helpers.py", "helpers/__init__.py"])
def test_notebook_1_names_another_module_called_helpers(tmp_path, clash):
    """A learner's own helpers, found before the course's, is named by notebook 1's setup cell, not a traceback."""
    setup = next("".join(c["source"]) for c in cells(ROOT / "notebooks" / "01_start_here.ipynb")
                 if "check_environment()" in "".join(c["source"]))
    (tmp_path / clash).parent.mkdir(exist_ok=True)
    (tmp_path / clash).write_text("def my_own_helper():\n    pass\n")
    done = subprocess.run([sys.executable, "-c", setup], cwd=tmp_path, capture_output=True, text=True)
    last = done.stderr.strip().splitlines()[-1]
    assert last == (f"AssertionError: `import helpers` found {tmp_path / clash}, another module called helpers, not "
                    "the course's: rename it or take its folder off PYTHONPATH, then restart the kernel and run this "
                    "cell again.")
