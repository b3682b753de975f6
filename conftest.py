"""pytest settings shared by the unit tests and the notebook validation (pytest --nbval)."""

import os

# Stored notebook outputs come from the CPU with two threads; kernels inherit these settings, so the
# comparison means the same thing on a laptop, a 16-core server or a GPU machine (see README).
os.environ.setdefault("COURSE_DEVICE", "cpu")
os.environ.setdefault("OMP_NUM_THREADS", "2")


def pytest_collectstart(collector):
    """Leave stderr (torch warnings, progress-bar fallbacks) out of nbval's comparison."""
    if collector.fspath and collector.fspath.ext == ".ipynb":
        collector.skip_compare += ("stderr",)
