"""Open or test the course on Linux, macOS or Windows: `python course.py lab` or `python course.py test`.

Creates the virtual environment .venv with the Python that runs this script when it is missing, installs the
course into it (again when pyproject.toml is newer), then starts JupyterLab at notebook 1 or runs every test.
`make lab` and `make test` run this script. It runs on any Python 3, so that one the course cannot use gets a
sentence that says what to do rather than an error from pip.
"""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))


def supported():
    """The oldest and newest Python the course runs on, from pyproject.toml's requires-python (">=3.11,<3.14")."""
    with open(os.path.join(ROOT, "pyproject.toml")) as handle:
        low, high = re.search(r'requires-python = ">=3\.(\d+),<3\.(\d+)"', handle.read()).groups()
    return (3, int(low)), (3, int(high) - 1)


OLDEST, NEWEST = supported()
SUPPORTED = "Python " + ", ".join("3.%d" % minor for minor in range(OLDEST[1], NEWEST[1])) + " or 3.%d" % NEWEST[1]


def stop(message):
    """End with one line on stderr, no traceback."""
    sys.stderr.write("course.py: " + message + "\n")
    sys.exit(1)


def venv_python(venv):
    """The Python inside a virtual environment, on Windows or elsewhere."""
    if os.name == "nt":
        return os.path.join(venv, "Scripts", "python.exe")
    return os.path.join(venv, "bin", "python")


def version_problem(version, python):
    """Why `python` (of that version) cannot run the course, or None when it can."""
    if OLDEST <= tuple(version[:2]) <= NEWEST:
        return None
    return ("%s is Python %d.%d; the course needs %s. Install one (python.org, or your package manager) and "
            "run again with it, e.g. `make lab PYTHON=python3.12`, or `py -3.12 course.py lab` on Windows."
            % (python, version[0], version[1], SUPPORTED))


def venv_version(venv):
    """The (major, minor) version of the environment's Python, or None when it does not start."""
    try:
        out = subprocess.run([venv_python(venv), "-c", "import sys; print(*sys.version_info[:2])"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return tuple(int(part) for part in out.stdout.split()) if out.returncode == 0 else None


def environment(venv):
    """The environment's Python, after creating it and installing the course when needed."""
    python, marker = venv_python(venv), os.path.join(venv, ".installed")
    if os.path.isdir(venv):
        version = venv_version(venv)
        if version is None:
            stop("%s exists but its Python does not start (was the Python that made it removed or upgraded?). "
                 "Delete the folder (`make clean`) and run again." % venv)
        problem = version_problem(version, python)
        if problem:
            stop(problem + " Delete %s (`make clean`) first: another Python made it." % venv)
    else:
        problem = version_problem(sys.version_info, sys.executable)
        if problem:
            stop(problem)
        if subprocess.run([sys.executable, "-m", "venv", venv]).returncode != 0:
            stop("%s could not create %s (the lines above say why; on Debian or Ubuntu, install the python3-venv "
                 "package of that version)." % (sys.executable, venv))
    if not os.path.exists(marker) or os.path.getmtime(marker) < os.path.getmtime(os.path.join(ROOT, "pyproject.toml")):
        for command in (["-m", "pip", "install", "--upgrade", "pip"], ["-m", "pip", "install", "-e", ROOT]):
            if subprocess.run([python] + command).returncode != 0:
                stop("installing the course into %s failed (the lines above say why)." % venv)
        open(marker, "w").close()
    return python


def command(action, python, args):
    """The command that opens the course (lab) or runs every test (test, with more arguments for pytest)."""
    if action == "lab":
        root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # containers run as root
        notebook = os.path.join("notebooks", "01_start_here.ipynb")
        return [python, "-m", "jupyter", "lab"] + root + ["--ServerApp.root_dir=" + ROOT, notebook]
    return [python, "-m", "pytest", "--nbval"] + args


def main(argv):
    """[--venv FOLDER] lab | test [pytest arguments] | setup (only creates and installs the environment)."""
    venv = os.path.join(ROOT, ".venv")
    if argv[:1] == ["--venv"] and len(argv) > 1:
        venv, argv = os.path.abspath(argv[1]), argv[2:]
    if not argv or argv[0] not in ("lab", "test", "setup"):
        stop("say what to do: `python course.py lab` opens the course, `python course.py test` runs every test.")
    python = environment(venv)
    if argv[0] == "setup":
        return 0
    return subprocess.run(command(argv[0], python, argv[1:]), cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
