"""Environment: does this machine have what the course needs? Plain words, and the fix when not."""

import platform
from importlib import metadata

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from .data import DATA_DIR, mnist
from .devices import device_name, get_default_device

CHECKED = ("torch", "torchvision", "torchmetrics")
FIX = "Run `make lab` from the course folder: it installs the pinned versions into .venv."
FIX_PYTHON = ", but the course needs Python {}: make its .venv with one, e.g. `make clean lab PYTHON=python3.12`."


def environment_report() -> list[tuple[bool, str]]:
    """(ok, message) for Python, the pinned core packages, the device and the bundled data."""
    pythons = SpecifierSet(metadata.metadata("helpers")["Requires-Python"])
    ok = pythons.contains(platform.python_version())
    version = ".".join(platform.python_version().split(".")[:2])
    report = [(ok, f"Python {version}" + ("" if ok else FIX_PYTHON.format(pythons)))]
    pins = {r.name: r.specifier for r in map(Requirement, metadata.requires("helpers") or [])}
    for name in CHECKED:
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            report.append((False, f"{name} is not installed. {FIX}"))
            continue
        ok = pins[name].contains(installed)
        report.append((ok, f"{name} {installed}" + ("" if ok else f", but the course needs {pins[name]}. {FIX}")))
    try:
        report.append((True, f"device: {device_name(get_default_device())}"))
    except ValueError as error:
        report.append((False, str(error)))
    try:
        report.append((True, f"data: {len(mnist(train=True)):,} training and {len(mnist(train=False)):,} "
                             f"test images in {DATA_DIR.name}/MNIST/raw"))
    except FileNotFoundError as error:
        report.append((False, str(error)))
    return report


def check_environment() -> bool:
    """Print the environment report; True when everything is in place."""
    report = environment_report()
    for ok, message in report:
        print(("\u2705 " if ok else "\u274c ") + message)
    return all(ok for ok, _ in report)
