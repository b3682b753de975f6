"""Grade a class: each student's exercise answers run by the official checks, one fresh process per answer.

    python -m helpers.grade SUBMISSIONS [--out grades] [--timeout 120] [--jobs 2]

Nothing a notebook stored (outputs, verdicts, execution counts) is read: the answer's cells tagged `exercise` run
after the course's own setup cells of that exercise, in a child process with limits, and the check the grader
imported itself judges the function they define. Not a sandbox for hostile code: see README, "For instructors".
"""

import argparse
import csv
import io
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .files import write_atomically

COURSE = Path(__file__).resolve().parent.parent
FIELDS = ["student", "exercise", "verdict", "first_line", "seconds"]
VERDICTS = ("pass", "not yet", "error", "timeout", "missing", "unreadable", "review")


@dataclass
class Row:
    """One student's result for one exercise."""

    student: str
    exercise: str
    verdict: str
    first_line: str
    seconds: float
    text: str = field(default="", compare=False)  # the check's whole verdict, for the student's feedback file


def students(submissions: Path, unpacked: Path) -> dict[str, Path | None]:
    """Each student's folder: a folder of SUBMISSIONS as it is, a .zip unpacked (member paths kept inside);
    None for a .zip that cannot be opened."""
    found = {}
    for entry in sorted(submissions.iterdir()):
        if entry.is_dir():
            found[entry.name] = entry
        elif entry.suffix == ".zip":
            target = unpacked / entry.stem
            try:
                with zipfile.ZipFile(entry) as archive:
                    for member in archive.infolist():
                        path = (target / member.filename).resolve()
                        if target.resolve() in path.parents and not member.is_dir():
                            path.parent.mkdir(parents=True, exist_ok=True)
                            path.write_bytes(archive.read(member))
                found[entry.stem] = target
            except (zipfile.BadZipFile, OSError):
                found[entry.stem] = None
    return found


def notebooks_of(folder: Path, names: list[str]) -> dict[str, tuple[Path, str]]:
    """The student's exercise notebooks by exercise name, with a note when one was renamed or moved.

    A file of another name is matched by its title cell ("# Exercise 2: ..."), as exported copies keep it."""
    found = {}
    for path in sorted(folder.rglob("*.ipynb"), key=lambda p: (p.parent != folder, str(p))):  # the top first
        if ".ipynb_checkpoints" in path.parts:
            continue
        name = path.stem if path.stem in names else _titled(path, names)
        if name is None or name in found:
            continue
        moved = "" if path.parent == folder and path.stem == name else \
            f"graded {path.relative_to(folder)} as {name}.ipynb"
        found[name] = (path, moved)
    return found


def _titled(path: Path, names: list[str]) -> str | None:
    """The exercise a notebook's title cell names, if any."""
    try:
        first = "".join(json.loads(path.read_text())["cells"][0]["source"])
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    number = re.match(r"# Exercise (\d+):", first)
    return next((name for name in names if number and name.startswith(f"{int(number[1]):02d}_")), None)


def answer_cells(path: Path, function: str) -> tuple[list[str], str]:
    """The code of the cells tagged `exercise`, or of the cells defining `function` when no cell is tagged."""
    cells = [c for c in json.loads(path.read_text())["cells"] if c.get("cell_type") == "code"]
    tagged = ["".join(c["source"]) for c in cells if "exercise" in c.get("metadata", {}).get("tags", [])]
    if tagged:
        return tagged, ""
    defining = ["".join(c["source"]) for c in cells if f"def {function}(" in "".join(c["source"])]
    return defining, "the cells tagged `exercise` were not found: graded the cells that define " + function


def setup_cells(notebook: str) -> list[str]:
    """The course's own code cells of the exercise notebook that come before its exercise cells."""
    cells = json.loads((COURSE / "exercises" / f"{notebook}.ipynb").read_text())["cells"]
    setup = []
    for cell in cells:
        if "exercise" in cell.get("metadata", {}).get("tags", []):
            break
        if cell["cell_type"] == "code":
            setup.append("".join(cell["source"]))
    return setup


def grade_one(student: str, notebook: str, found: tuple[Path, str] | None, timeout: float) -> Row:
    """Run one answer in a fresh child process and read back its verdict."""
    from .exercises import EXERCISES

    start = time.perf_counter()
    if found is None:
        return Row(student, notebook, "missing", f"no {notebook}.ipynb in the submission", 0.0)
    path, moved = found
    try:
        code, note = answer_cells(path, EXERCISES[notebook].check.takes)
    except (OSError, ValueError, KeyError, TypeError) as error:
        return Row(student, notebook, "unreadable", f"{path.name} is not a notebook that can be read ({error})", 0.0)
    token = secrets.token_hex(16)
    job = {"notebook": notebook, "setup": setup_cells(notebook), "answer": code, "token": token}
    with tempfile.TemporaryDirectory(prefix="grade-", ignore_cleanup_errors=True) as home:
        reply, stderr = _child(job, Path(home), timeout)
    seconds = round(time.perf_counter() - start, 2)
    if reply is None:
        return Row(student, notebook, "timeout", f"still running after {timeout:g} s", timeout)
    notes = "".join(f"\n\n({n})" for n in (moved, note) if n)
    if not reply:
        first = f"the answer's process ended without a verdict: {stderr[:200]}"
        return Row(student, notebook, "error", first, seconds, first + notes)
    try:
        result = json.loads(reply)
        if result.pop("token") == token and result["verdict"] in VERDICTS:
            return Row(student, notebook, result["verdict"], result["first_line"], seconds, result["text"] + notes)
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    first = "the grader's pipe held a reply the grader did not write: the answer wrote its own verdict"
    return Row(student, notebook, "review", first, seconds, first + notes)


def _child(job: dict, home: Path, timeout: float) -> tuple[str | None, str]:
    """Run helpers.grade_child on the job in `home`: its reply (None after the timeout) and its last line of stderr."""
    read, write = os.pipe()
    env = {"HOME": str(home), "TMPDIR": str(home), "PATH": os.environ.get("PATH", ""), "OMP_NUM_THREADS": "1",
           "COURSE_DEVICE": "cpu", "COURSE_PROGRESS": str(home / "progress.json"), "PYTHONPATH": str(COURSE),
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1", "MPLBACKEND": "Agg"}
    with (home / ".stderr").open("w+b") as stderr:
        child = subprocess.Popen([sys.executable, "-m", "helpers.grade_child", str(write)], cwd=home, env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr,
                                 pass_fds=(write,), start_new_session=True)
        os.close(write)
        try:
            child.communicate(json.dumps(job).encode(), timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            os.close(read)
            return None, ""
        with os.fdopen(read) as pipe:
            reply = pipe.read()
        stderr.seek(max(0, stderr.seek(0, os.SEEK_END) - 2000))
        last = stderr.read().decode(errors="replace").strip().splitlines()[-1:]
    return reply, last[0] if last else f"exit status {child.returncode}"


def write_rows(path: Path, rows: list[Row]) -> None:
    """The CSV, whole or not at all."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(FIELDS)
    writer.writerows(astuple(row)[:len(FIELDS)] for row in rows)
    write_atomically(path, text.getvalue().encode())


def write_feedback(folder: Path, student: str, rows: list[Row]) -> None:
    """One Markdown file for the student: each exercise's verdict in full."""
    parts = [f"# Feedback for {student}\n"]
    for row in sorted(rows, key=lambda r: r.exercise):
        parts.append(f"## {row.exercise}: {row.verdict}\n\n```\n{row.text or row.first_line}\n```\n")
    (folder / f"{student}.md").write_text("\n".join(parts))


def summary(rows: list[Row], names: list[str]) -> list[str]:
    """Per exercise: how many passed, and the most common first line of the answers that did not."""
    lines = []
    for notebook in names:
        mine = [row for row in rows if row.exercise == notebook]
        passed = sum(row.verdict == "pass" for row in mine)
        common = Counter(row.first_line for row in mine if row.verdict == "not yet").most_common(1)
        lines.append(f"{notebook:<24} {passed}/{len(mine)} pass" + (f"; most often: {common[0][0]}" if common else ""))
    return lines


def main(argv: list[str] | None = None) -> None:
    """Grade every student's answers to every exercise; write grades.csv and print a summary."""
    from .exercises import EXERCISES

    parser = argparse.ArgumentParser(prog="python -m helpers.grade", description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path)
    parser.add_argument("--out", type=Path, default=Path("grades"))
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    if os.name != "posix":
        parser.error("grading needs the process limits of Linux or macOS: run it there, or in WSL on Windows")
    if not args.submissions.exists():
        parser.error(f"{args.submissions} does not exist: give the folder that holds one entry per student")
    if not args.submissions.is_dir():
        parser.error(f"{args.submissions} is a file, not a folder: give the folder that holds one entry per student")
    args.out.mkdir(parents=True, exist_ok=True)
    csv_path = args.out / "grades.csv"
    done = []
    if csv_path.exists():
        with csv_path.open(newline="") as handle:
            done = [Row(r["student"], r["exercise"], r["verdict"], r["first_line"], float(r["seconds"]))
                    for r in csv.DictReader(handle)]
    finished = {(row.student, row.exercise) for row in done}
    with tempfile.TemporaryDirectory() as unpacked:
        class_ = students(args.submissions, Path(unpacked))
        if not class_:
            parser.error(f"{args.submissions} holds no student folders or .zip files")
        names = list(EXERCISES)
        done += [Row(name, notebook, "unreadable", "the student's .zip cannot be opened", 0.0)
                 for name, folder in class_.items() if folder is None
                 for notebook in names if (name, notebook) not in finished]
        write_rows(csv_path, done)
        found = {name: notebooks_of(folder, names) for name, folder in class_.items() if folder is not None}
        jobs = [(name, notebook, found[name].get(notebook)) for name in found for notebook in names
                if (name, notebook) not in finished]
        with ThreadPoolExecutor(args.jobs) as pool:
            for row in tqdm(pool.map(lambda job: grade_one(*job, args.timeout), jobs), total=len(jobs),
                            desc="grading", unit="answer"):
                done.append(row)
                write_rows(csv_path, done)
    feedback = args.out / "feedback"
    feedback.mkdir(exist_ok=True)
    for student in {row.student for row in done}:
        write_feedback(feedback, student, [row for row in done if row.student == student])
    print("\n".join(summary(done, list(EXERCISES))))


if __name__ == "__main__":
    main()
