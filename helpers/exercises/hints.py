"""Hints and solutions: graded hints, the last naming the fix, and the worked solution from solutions/."""

import json
import textwrap
from pathlib import Path

from .feedback import WIDTH

SOLUTIONS_DIR = Path(__file__).resolve().parents[2] / "solutions"


def hint_and_solution(notebook: str, hints: list[str]):
    """An exercise's hint(level) and solution() functions."""

    def hint(level: int = 1) -> None:
        """Print hint `level` (1 is the gentlest; the last one names the fix)."""
        level = min(max(level, 1), len(hints))
        more = f" (hint({level + 1}) says more)" if level < len(hints) else ""
        print(textwrap.fill(f"Hint {level} of {len(hints)}{more}: {hints[level - 1]}", WIDTH,
                            break_long_words=False, break_on_hyphens=False))

    def solution() -> None:
        """Print the worked solution: the exercise cells of solutions/<notebook>.ipynb."""
        path = SOLUTIONS_DIR / f"{notebook}.ipynb"
        if not path.is_file():  # a copy of the course made for a graded class (scripts/student_copy.py)
            print("The worked solutions are not in this copy of the course: your instructor has them.")
            return
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells
                if c["cell_type"] == "code" and "exercise" in c.get("metadata", {}).get("tags", [])]
        print(f"Solution (from solutions/{path.name}):\n")
        print("\n\n".join(code))

    return hint, solution
