"""The path through the course: the syllabus lists every notebook, the maps and each lesson's last cell are the
ones it writes, and every link leads somewhere."""

import re

import nbformat
import pytest

from helpers import syllabus
from helpers.syllabus import EXERCISES, LESSONS, Exercise, closing, notebook_map, readme_map
from notebook_cells import ROOT, cells

STALE = "run `python -m helpers.syllabus` to write it from helpers/syllabus.py"


def markdown(path) -> str:
    return "\n".join("".join(c["source"]) for c in cells(path) if c["cell_type"] == "markdown")


def stems(folder: str) -> list[str]:
    return sorted(p.stem for p in (ROOT / folder).glob("*.ipynb"))


def test_the_syllabus_lists_every_notebook_exercise_and_check():
    assert stems("notebooks") == sorted(each.notebook for each in LESSONS)
    assert stems("exercises") == stems("solutions") == sorted(each.notebook for each in EXERCISES)
    checks = sorted(p.stem for p in (ROOT / "helpers" / "exercises").glob("*.py"))
    assert {each.module for each in EXERCISES} <= set(checks)
    assert all(each.after in {lesson.notebook for lesson in LESSONS} for each in EXERCISES)


def test_the_readme_map_is_the_one_the_syllabus_writes():
    text = (ROOT / "README.md").read_text()
    start, end = text.index(syllabus.MAP_START) + len(syllabus.MAP_START), text.index(syllabus.MAP_END)
    assert text[start:end] == f"\n{readme_map()}\n", STALE


def test_notebook_1_shows_the_map_the_syllabus_writes():
    notebook = nbformat.read(ROOT / "notebooks" / f"{LESSONS[0].notebook}.ipynb", as_version=4)
    assert syllabus.map_cell(notebook).source == notebook_map(), STALE


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.notebook)
def test_every_lesson_ends_with_its_exercises_and_the_next_lesson(lesson):
    last = "".join(cells(ROOT / "notebooks" / f"{lesson.notebook}.ipynb")[-1]["source"])
    assert last == closing(lesson), STALE


def test_a_new_exercise_is_mapped_and_linked_from_its_lesson(monkeypatch):
    n = len(EXERCISES) + 1
    extra = Exercise(f"{n}_new_bug", "a new bug", "03_devices", "something new goes wrong", "5 min", "4 s")
    monkeypatch.setattr(syllabus, "EXERCISES", [*EXERCISES, extra])
    assert f"| {n} | [a new bug](exercises/{n}_new_bug.ipynb) ([solution](solutions/{n}_new_bug.ipynb)) | 3 | " \
           "something new goes wrong | 5 min | 4 s |" in syllabus.readme_map()
    assert f"| [{n}. A new bug](../exercises/{n}_new_bug.ipynb) | 3 | 5 min |" in syllabus.notebook_map()
    assert syllabus.closing(syllabus.lesson("03_devices")).startswith(
        f"Now try [exercise {n}](../exercises/{n}_new_bug.ipynb) (a new bug).\n\nNext: **[4. The train/eval loop]")
    assert extra.module == "new_bug"


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_link_between_notebooks_and_every_image_leads_somewhere(path):
    for target in re.findall(r"\]\(([^)#]+\.(?:ipynb|svg|png))\)", markdown(path)):
        assert (path.parent / target).resolve().exists(), target
    for alt in re.findall(r"!\[([^\]]*)\]\(", markdown(path)):
        assert len(alt) > 40, "an image says in words what it shows"
