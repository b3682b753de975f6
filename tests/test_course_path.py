"""The path through the course: notebook 1's map is the README's, and every lesson links the next one and
the exercises that come after it."""

import re

import pytest

from notebook_cells import ROOT, cells

README = (ROOT / "README.md").read_text()
LESSONS = re.findall(r"^\| (\d+) \| \[[^\]]+\]\(notebooks/([^)]+)\) \|[^\n]*\| ([\d-]+ min) \| [^|]+ \|$", README, re.M)
EXERCISES = re.findall(r"^\| (\d+) \| \[[^\]]+\]\(exercises/([^)]+)\) \(\[solution\]\(solutions/\2\)\) \| (\d+) \|"
                       r"[^\n]*\| ([\d-]+ min) \| [^|]+ \|$", README, re.M)


def markdown(path) -> str:
    return "\n".join("".join(c["source"]) for c in cells(path) if c["cell_type"] == "markdown")


def test_the_readme_maps_every_notebook_and_exercise():
    assert [n for n, _, _ in LESSONS] == [str(i) for i in range(1, 12)]
    assert sorted(f for _, f, _ in LESSONS) == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert [n for n, _, _, _ in EXERCISES] == [str(i) for i in range(1, 16)]
    assert sorted(f for _, f, _, _ in EXERCISES) == sorted(p.name for p in (ROOT / "exercises").glob("*.ipynb"))


def test_notebook_1_shows_the_readme_course_map():
    text = markdown(ROOT / "notebooks" / "01_start_here.ipynb")
    lessons = re.findall(r"^\| \[\d+\.[^\]]+\]\((\d\d_[^)]+)\) \|[^\n]*\| ([\d-]+ min) \|$", text, re.M)
    exercises = re.findall(r"^\| \[\d+\.[^\]]+\]\(\.\./exercises/([^)]+)\) \| (\d+) \| ([\d-]+ min) \|$", text, re.M)
    assert lessons == [(f, t) for _, f, t in LESSONS]
    assert exercises == [(f, after, t) for _, f, after, t in EXERCISES]


@pytest.mark.parametrize("number", range(1, 12))
def test_every_lesson_ends_with_its_exercises_and_the_next_lesson(number):
    name = next(f for n, f, _ in LESSONS if n == str(number))
    last = "".join(cells(ROOT / "notebooks" / name)[-1]["source"])
    for _, exercise, after, _ in EXERCISES:
        if after == str(number):
            assert f"](../exercises/{exercise})" in last, exercise
    if number < 11:
        following = next(f for n, f, _ in LESSONS if n == str(number + 1))
        assert f"Next: **[{number + 1}." in last and f"]({following})" in last


@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_every_link_between_notebooks_leads_somewhere(path):
    for target in re.findall(r"\]\(([^)#]+\.ipynb)\)", markdown(path)):
        assert (path.parent / target).resolve().exists(), target
