"""Feedback: a check's verdict, the problems it saw, and how it prints."""

import functools
import textwrap
from dataclasses import dataclass, field

WIDTH = 88  # feedback lines wrap at word boundaries within this many columns


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
        wrap = functools.partial(textwrap.wrap, width=WIDTH, subsequent_indent="   ", break_long_words=False,
                                 break_on_hyphens=False)
        lines = wrap(f"{mark} {self.headline}")
        for detail in self.details:
            lines += wrap(detail, initial_indent="   ")
        return "\n".join(lines)


@dataclass
class Problem:
    """One thing a check saw go wrong: the symptom, then why it matters."""

    symptom: str
    why: str = ""


def listed(items) -> str:
    """Items in words: "4", "4 and 3", "4, 4 and 2"."""
    items = [str(item) for item in items]
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def verdict(problems: list[Problem], success: str, details: list[str]) -> Feedback:
    """Pass with `success` when nothing went wrong; otherwise lead with the first problem and list the others."""
    if not problems:
        return Feedback(True, success, details)
    first, *others = problems
    return Feedback(False, first.symptom, [first.why, *(f"Also: {p.symptom} {p.why}" for p in others)])


def prefixed(problem: Problem, prefix: str) -> Problem:
    """The problem with its symptom after `prefix` (which names the case), the symptom's first letter lowered."""
    return Problem(prefix + problem.symptom[:1].lower() + problem.symptom[1:], problem.why)


def first_failure(verdicts) -> Feedback:
    """The first failing verdict of a check's trials (run one by one, as needed), else the first trial's pass."""
    passed = None
    for feedback in verdicts:
        if not feedback:
            return feedback
        passed = passed or feedback
    return passed
