"""The student copy: the course without solutions, tests or the hints that name a fix, and its checks still work."""

import ast
import os
import subprocess
import sys

import pytest

from helpers.exercises import EXERCISES
from notebook_cells import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import student_copy  # noqa: E402


@pytest.fixture(scope="module")
def copied(tmp_path_factory):
    destination = tmp_path_factory.mktemp("class") / "course"
    student_copy.copy(destination)
    return destination


def hints(path) -> list[str]:
    tree = ast.parse(path.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", None) == "HINTS")
    return ast.literal_eval(node.value)


def test_the_copy_leaves_out_the_answers(copied):
    assert not (copied / "solutions").exists() and os.listdir(copied / "tests") == ["nbval_sanitize.cfg"]
    assert (copied / "exercises" / "01_moving_validation.ipynb").is_file() and (copied / "Makefile").is_file()
    for module in EXERCISES.values():
        name = module.__name__.rsplit(".", 1)[1]
        mine, theirs = hints(copied / "helpers" / "exercises" / f"{name}.py"), module.HINTS
        assert mine[:-1] == theirs[:-1] and mine[-1] == student_copy.WITHHELD, name


def test_in_the_copy_the_checks_run_and_the_answers_are_withheld(copied):
    script = ("from notebook_cells import exercise_function\n"
              "from helpers.exercises import overshooting\n"
              "overshooting.hint(3)\novershooting.solution()\n"
              "starter = exercise_function(__import__('pathlib').Path('exercises/03_overshooting.ipynb'), "
              "'train_one_epoch')\n"
              "print(bool(overshooting.check(starter)))\n")
    env = {**os.environ, "PYTHONPATH": f"{copied}{os.pathsep}{ROOT / 'tests'}", "COURSE_PROGRESS": str(copied / "p")}
    done = subprocess.run([sys.executable, "-c", script], cwd=copied, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert " ".join(done.stdout.split()) == (f"Hint 3 of 3: {student_copy.WITHHELD} The worked solutions are not "
                                             "in this copy of the course: your instructor has them. False")


def test_an_existing_folder_is_not_overwritten(tmp_path):
    (tmp_path / "course").mkdir()
    with pytest.raises(SystemExit, match="exists already: name a new folder"):
        student_copy.copy(tmp_path / "course")
    assert os.listdir(tmp_path) == ["course"]


def test_the_copy_does_not_send_learners_to_the_answers(copied):
    for notebook in (copied / "notebooks").glob("*.ipynb"):
        assert "solutions/" not in notebook.read_text(encoding="utf-8"), notebook.name
    for notebook in (copied / "exercises").glob("*.ipynb"):
        text = notebook.read_text(encoding="utf-8")
        assert not [pointer for pointer in ("solutions/", "solution()", "hint(3)") if pointer in text], notebook.name
    readme = (copied / "README.md").read_text(encoding="utf-8")
    assert readme.startswith(student_copy.NOTICE) and "](solutions/" not in readme
    assert "](solutions/" in (ROOT / "README.md").read_text(encoding="utf-8")
    stuck = (copied / "exercises" / "03_overshooting.ipynb").read_text(encoding="utf-8")
    assert "`hint(1)` and `hint(2)` go from a question to an explanation; the fix is with your instructor." in stuck


def test_the_copy_validates_its_notebooks(copied):
    env = {**os.environ, "PYTHONPATH": str(copied), "COURSE_PROGRESS": str(copied / "p")}
    done = subprocess.run([sys.executable, "-m", "pytest", "--nbval", "-q", "exercises/03_overshooting.ipynb"],
                          cwd=copied, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]
