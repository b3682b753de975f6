import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import course

ROOT = Path(__file__).resolve().parent.parent


def pyproject_dependencies() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def environment_pip_dependencies() -> list[str]:
    """The lines under `- pip:` in environment.yml, less the install of this repo."""
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    pip = [line.strip()[2:] for line in lines[start + 1:] if line.startswith(" " * 6 + "- ")]
    assert "-e ." in pip, "environment.yml must install this repo (-e .)"
    return [p for p in pip if p != "-e ."]


def test_the_code_passes_ruff():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise", "."],
                          cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_environment_yml_and_pyproject_pin_the_same_packages():
    assert environment_pip_dependencies() == pyproject_dependencies()
    python = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert f"  - python{python}\n" in (ROOT / "environment.yml").read_text()


def test_torch_is_pinned_exactly():
    pins = dict(re.match(r"([a-z-]+)(.*)", d).groups() for d in pyproject_dependencies())
    assert pins["torch"] == "==2.14.1" and pins["torchvision"] == "==0.29.1"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^```(?:bash|sh)\n(.*?)\n```", readme, flags=re.S | re.M)
    setup = [c for c in commands if c in ("make lab", "make test")]
    assert setup == ["make lab", "make test"], "README gives exactly the two setup commands"
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-2:] == ["make test", 'if [ -n "${CI:-}" ]; then make test-browser; fi'], \
        "CI runs the README's test command, then (with CI set) the browser test"


def test_make_lab_serves_the_whole_course_and_opens_notebook_1():
    """jupyter lab FILE would make FILE's folder the root, out of reach of exercises/ and solutions/."""
    lines = subprocess.run(["make", "--no-print-directory", "-n", "lab"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert lines[-1].endswith("course.py --venv .venv lab")
    command = course.command("lab", "python", [])
    assert command[1:4] == ["-m", "jupyter", "lab"] and f"--ServerApp.root_dir={ROOT}" in command
    assert command[-1] == str(Path("notebooks") / "01_start_here.ipynb")
    assert course.command("test", "python", ["-x"]) == ["python", "-m", "pytest", "--nbval", "-x"]


@pytest.mark.parametrize("version", [(3, 11), (3, 12), (3, 13, 1)])
def test_the_pythons_torch_supports_are_accepted(version):
    assert course.version_problem(version, "python3") is None


@pytest.mark.parametrize("version", [(3, 10), (3, 14), (2, 7)])
def test_another_python_gets_one_sentence_that_says_what_to_do(version):
    problem = course.version_problem(version, "/usr/bin/python3")
    found = f"/usr/bin/python3 is Python {version[0]}.{version[1]}"
    assert f"{found}; the course needs Python 3.11, 3.12 or 3.13" in problem
    assert "make lab PYTHON=python3.12" in problem and "\n" not in problem


def test_make_without_the_python_it_names_says_so_in_one_line(tmp_path):
    done = subprocess.run(["make", "--no-print-directory", "lab", "PYTHON=/nowhere/python3", f"VENV={tmp_path}/v"],
                          cwd=ROOT, capture_output=True, text=True)
    ours = [line for line in done.stderr.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)]
    assert done.returncode != 0 and ours == ["make: /nowhere/python3 not found: install Python 3.11, 3.12 or 3.13 "
                                             "and run again with it, e.g. make lab PYTHON=python3.12"]
    assert not (tmp_path / "v").exists()


@pytest.mark.parametrize("python, words", [
    ("#!/bin/sh\necho 3 10\n", "is Python 3.10; the course needs Python 3.11, 3.12 or 3.13"),
    (None, "exists but its Python does not start"),
])
def test_an_environment_made_by_another_python_is_named_before_pip_runs(tmp_path, python, words):
    venv = tmp_path / ".venv"
    (venv / "bin").mkdir(parents=True)
    if python is None:
        (venv / "bin" / "python").symlink_to(tmp_path / "removed-python")
    else:
        (venv / "bin" / "python").write_text(python)
        (venv / "bin" / "python").chmod(0o755)
    done = subprocess.run([sys.executable, "course.py", "--venv", str(venv), "test"], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 1 and done.stdout == "" and len(done.stderr.splitlines()) == 1
    assert words in done.stderr and "make clean" in done.stderr and "Traceback" not in done.stderr


def test_the_course_states_its_licence():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and project["license-files"] == ["LICENSE"]
    assert (ROOT / "LICENSE").read_text().startswith("MIT License\n")
    assert "## Licence" in (ROOT / "README.md").read_text()
