"""What every exercise check shares: the feedback object, safe calls, toy models, hints and solutions."""

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

SOLUTIONS_DIR = Path(__file__).resolve().parents[2] / "solutions"
CPU = torch.device("cpu")


@dataclass
class Feedback:
    """A check's verdict: truthy only when everything holds; prints a pass/fail line, then why."""

    passed: bool
    headline: str
    details: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "\u2705 Correct:" if self.passed else "\u274c Not yet:"
        return "\n".join([f"{mark} {self.headline}", *(f"   {line}" for line in self.details)])


class LearnerError(Exception):
    """The learner's function raised: reported as feedback, never as a traceback."""


def require_function(candidate, name: str) -> None:
    """Misuse (not a wrong answer) raises: check() takes the function itself."""
    if not callable(candidate):
        raise TypeError(f"check() takes your function itself, e.g. check({name}), "
                        f"not the result of calling it (got a {type(candidate).__name__}).")


def isolated(check):
    """Run a check from a fixed seed inside torch.random.fork_rng: same verdict every time, learner's RNG untouched."""
    @functools.wraps(check)
    def wrapper(candidate) -> Feedback:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return check(candidate)
    return wrapper


def call(candidate, *args):
    """Run the learner's function, turning any exception into a LearnerError with its message."""
    try:
        return candidate(*args)
    except Exception as error:  # the learner's code may fail in any way; report it in words
        raise LearnerError(f"Your function raised {type(error).__name__}: {error}") from error


def failed(error: LearnerError) -> Feedback:
    """Feedback for a learner function that raised."""
    return Feedback(False, str(error), ["Run the cell above to see the full error, fix it, then check again."])


def read_number(result, key: str) -> float:
    """result[key] as a float, or a LearnerError saying what the function should return."""
    if not isinstance(result, dict) or key not in result:
        raise LearnerError(f"Your function should return a dict with a {key!r} entry, got {result!r}.")
    value = result[key]
    return float(value.detach() if isinstance(value, torch.Tensor) else value)


def close(value: float, expected: float) -> bool:
    """Equal up to float rounding; NaN is never close to anything."""
    return math.isclose(value, expected, rel_tol=1e-5, abs_tol=1e-6)


def tiny_classifier(*middle: nn.Module, seed: int = 0) -> nn.Sequential:
    """Linear(4, 16), the given middle layers, ReLU, Linear(16, 3): built from `seed`, global RNG untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(4, 16), *middle, nn.ReLU(), nn.Linear(16, 3))


def toy_data(n: int, seed: int = 0, spread: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """n samples of 4 features and 3 classes; with `spread`, later samples are larger and their losses differ."""
    generator = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.5, 4.0, n).unsqueeze(1) if spread else 1.0
    return torch.randn(n, 4, generator=generator) * scale, torch.randint(0, 3, (n,), generator=generator)


def hint_and_solution(notebook: str, hints: list[str]):
    """An exercise's hint(level) and solution() functions."""

    def hint(level: int = 1) -> None:
        """Print hint `level` (1 is the gentlest)."""
        level = min(max(level, 1), len(hints))
        more = f" (hint({level + 1}) says more)" if level < len(hints) else ""
        print(f"Hint {level} of {len(hints)}{more}: {hints[level - 1]}")

    def solution() -> None:
        """Print the worked solution: the exercise cells of solutions/<notebook>.ipynb."""
        path = SOLUTIONS_DIR / f"{notebook}.ipynb"
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells if "exercise" in c.get("metadata", {}).get("tags", [])]
        print(f"Solution (from solutions/{path.name}):\n")
        print("\n\n".join(code))

    return hint, solution
