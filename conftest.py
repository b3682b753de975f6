"""pytest settings shared by the unit tests and the notebook validation (pytest --nbval)."""

import os
import tempfile
from pathlib import Path

# Stored notebook outputs come from the CPU with two threads. Kernels inherit these settings, so the
# comparison means the same on a laptop, a 16-core server or a GPU machine (see README).
NOTEBOOK_ENV = {"COURSE_DEVICE": "cpu", "OMP_NUM_THREADS": "2"}
for name, value in NOTEBOOK_ENV.items():
    os.environ.setdefault(name, value)
# The checks that notebooks and tests run record progress: in a file of this run's own, not the learner's.
os.environ.setdefault("COURSE_PROGRESS", str(Path(tempfile.mkdtemp(prefix="course-progress-")) / "progress.json"))


def pytest_collectstart(collector):
    """Leave stderr (torch warnings, progress-bar fallbacks) out of nbval's comparison."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
