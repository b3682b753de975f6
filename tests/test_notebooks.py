"""The stored notebooks are a clean top-to-bottom run: what `pytest --nbval` compares against."""

import pytest

from notebook_cells import FOLDERS, ROOT, cells, tags

NOTEBOOKS = sorted(p for folder in FOLDERS for p in (ROOT / folder).glob("*.ipynb"))


def test_the_course_has_its_notebooks():
    names = [p.relative_to(ROOT).as_posix() for p in NOTEBOOKS]
    assert len([n for n in names if n.startswith("notebooks/")]) == 11
    assert len([n for n in names if n.startswith("exercises/")]) == 15
    assert len([n for n in names if n.startswith("solutions/")]) == 15


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
