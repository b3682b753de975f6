import re
import subprocess
import tomllib
from pathlib import Path

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


def test_environment_yml_and_pyproject_pin_the_same_packages():
    assert environment_pip_dependencies() == pyproject_dependencies()
    assert "python=3.11" in (ROOT / "environment.yml").read_text()


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
    command = next(line for line in lines if "/jupyter lab " in line)
    assert f'--ServerApp.root_dir="{ROOT}"' in command
    assert command.split()[1:2] == ["lab"] and command.endswith(" notebooks/01_start_here.ipynb")
