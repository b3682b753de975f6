"""Progress: which exercises a learner's checks passed, kept in a small file of their own; nothing is sent anywhere.

    python -m helpers.progress      # the same table as helpers.progress()
"""

import json
import os
import warnings
from datetime import datetime
from pathlib import Path

from .files import write_atomically

PROGRESS_ENV = "COURSE_PROGRESS"  # a file to keep the progress in, instead of the default below
DEFAULT_FILE = Path.home() / ".cache" / "pytorch-training-loop-course" / "progress.json"


def progress_file() -> Path:
    """Where the progress is kept: $COURSE_PROGRESS, else a file in the user's cache folder."""
    return Path(os.environ.get(PROGRESS_ENV) or DEFAULT_FILE)


def load() -> dict[str, dict[str, str]]:
    """Each exercise tried so far: when it was last checked and, once it passed, when it first passed."""
    try:
        records = json.loads(progress_file().read_text())
    except (FileNotFoundError, NotADirectoryError):  # nothing recorded yet (or nowhere to record it)
        return {}
    except (OSError, ValueError) as error:
        records = error
    if not isinstance(records, dict) or not all(isinstance(entry, dict) for entry in records.values()):
        why = records if isinstance(records, Exception) else "it is not what helpers.progress writes"
        warnings.warn(f"The progress file {progress_file()} cannot be read ({why}); progress starts afresh with the "
                      "next check.", stacklevel=2)
        return {}
    return records


def record(notebook: str, passed: bool) -> None:
    """Note that the exercise's check ran (and whether it passed); a file that cannot be written is warned of."""
    records = load()
    now = datetime.now().isoformat(timespec="seconds")
    entry = records.setdefault(notebook, {})
    entry["checked"] = now
    if passed:
        entry.setdefault("passed", now)
    path = progress_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(records, indent=1).encode())
    except OSError as error:
        warnings.warn(f"Your progress could not be saved to {path} ({error.strerror or error}); the check's verdict "
                      f"stands. Set {PROGRESS_ENV} to a file you can write.", stacklevel=2)


def progress() -> None:
    """Print each exercise: passed (and when), tried but not passed yet, or not started."""
    from .exercises import EXERCISES  # the exercises import this module to record their checks

    records = load()
    done = sum("passed" in records.get(name, {}) for name in EXERCISES)
    print(f"{done} of {len(EXERCISES)} exercises passed (kept in {progress_file()})")
    for name in EXERCISES:
        entry = records.get(name, {})
        state = (f"passed {entry['passed'][:16].replace('T', ' ')}" if "passed" in entry else
                 "tried, not passed yet" if entry else "not started")
        print(f"  {name:<24} {state}")


if __name__ == "__main__":
    progress()
