"""Reading notebooks in tests: their cells, and the functions defined in the cells tagged `exercise`."""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("notebooks", "exercises", "solutions")


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def exercise_source(path: Path) -> str:
    """The code of the notebook's exercise cell."""
    return "".join(next(c["source"] for c in cells(path) if c["cell_type"] == "code" and "exercise" in tags(c)))


def exercise_function(path: Path, name: str):
    """Run the notebook's exercise code cell on its own and return the function it defines."""
    namespace: dict = {}
    exec(compile(exercise_source(path), str(path), "exec"), namespace)
    return namespace[name]


def define(source: str, name: str):
    """The function `name` defined by a snippet of learner code."""
    namespace: dict = {}
    exec(source, namespace)
    return namespace[name]
