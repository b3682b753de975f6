"""A copy of the course for a class whose exercises are graded: everything a learner needs, no worked answers.

    python scripts/student_copy.py ../course-for-my-class      # or: make student-copy DEST=../course-for-my-class

Left out: solutions/ and tests/ (its cases hold right answers to every exercise), all but the nbval settings
that `make test` reads, so the copy's lessons and exercises are still checked against their outputs. In each
exercise's check the last hint, the one that names the fix, is replaced by a line that sends the learner to the
instructor, and solution() says that the worked answers are not in this copy; the sentences and links in README.md
and the notebooks that point to them say so instead, and README.md opens with a notice that says what is left
out. Everything else is the course as committed (`git ls-files`).
"""

import ast
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LEFT_OUT = ("solutions/", "tests/")
KEPT = ("tests/nbval_sanitize.cfg",)  # read by pyproject.toml's pytest settings
WITHHELD = "In this copy of the course the last hint, the one that names the fix, is with your instructor: ask them."
REWORDED = {  # what the course says about the worked answers, and what the copy says instead
    r"`hint\(1\)`, `hint\(2\)` and `hint\(3\)` go from a question to the fix, and `solution\(\)` prints the worked "
    r"answer \(also in `solutions/[\w.]+`\)\.":
        "`hint(1)` and `hint(2)` go from a question to an explanation; the fix is with your instructor.",
    r"`hint\(1\)` asks a question; `hint\(2\)` and `hint\(3\)` say more, and only `hint\(3\)` names the fix\. "
    r"`solution\(\)` prints the worked answer\.":
        "`hint(1)` asks a question and `hint(2)` explains; the fix and the worked answer are with your instructor.",
    r"its worked answer is in `solutions/`\.": "your instructor has the worked answers.",
    r", hints and a solution in `solutions/`;": " and hints;",
    r"come with hints and a worked solution\.": "come with hints.",
    r" \(\[solution\]\(solutions/[\w.]+\)\)": "",
    r"\| exercise \(solution\) \|": "| exercise |",
    r"; `tests/`: the tests that check `helpers` and every notebook\.": ".",
}
NOTICE = ("> This copy of the course is for a class whose exercises are graded: the worked solutions, the hint that "
          "names each fix and the tests are with your instructor. Where this README speaks of them, it describes the "
          "full course.\n\n")


def tracked() -> list[str]:
    """The course's files as committed, relative to its root."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [name for name in listed.split("\0") if name]


def without_last_hint(source: str) -> str:
    """An exercise module's source with the last string of its HINTS list replaced by WITHHELD."""
    hints = next(node.value for node in ast.parse(source).body if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", None) == "HINTS")
    last, data = hints.elts[-1], source.encode()  # the parser's columns count bytes
    starts = [0]
    for line in data.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    start, end = starts[last.lineno - 1] + last.col_offset, starts[last.end_lineno - 1] + last.end_col_offset
    return (data[:start] + repr(WITHHELD).encode() + data[end:]).decode()


def reworded(text: str) -> str:
    """The text with every sentence and link that points to the worked answers replaced (REWORDED)."""
    for pattern, replacement in REWORDED.items():
        text = re.sub(pattern, replacement, text)
    return text


def is_check(name: str) -> bool:
    """Whether `name` is an exercise's check module (one with HINTS)."""
    return name.startswith("helpers/exercises/") and name.endswith(".py") and \
        "HINTS = [" in (ROOT / name).read_text()


def copy(destination: Path) -> int:
    """Write the student copy to `destination`, whole or not at all; the number of files copied."""
    if destination.exists():
        raise SystemExit(f"student_copy: {destination} exists already: name a new folder.")
    destination.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", dir=destination.parent))
    try:
        names = [name for name in tracked() if not name.startswith(LEFT_OUT) or name in KEPT]
        for name in names:
            target = work / name
            target.parent.mkdir(parents=True, exist_ok=True)
            if is_check(name):
                target.write_text(without_last_hint((ROOT / name).read_text(encoding="utf-8")), encoding="utf-8")
            elif name == "README.md" or name.endswith(".ipynb"):
                text = reworded((ROOT / name).read_text(encoding="utf-8"))
                target.write_text(NOTICE + text if name == "README.md" else text, encoding="utf-8")
            else:
                shutil.copy2(ROOT / name, target)
        work.rename(destination)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return len(names)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python scripts/student_copy.py DESTINATION (a folder that does not exist yet)")
    count = copy(Path(sys.argv[1]).resolve())
    print(f"wrote {count} files to {sys.argv[1]}: no solutions/, no tests/, the last hints and solution() withheld")
