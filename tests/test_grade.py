"""Grading a class: a synthetic class of students, each verdict asserted, cheating and crashing ones included."""

import copy
import csv
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from helpers.exercises import EXERCISES
from notebook_cells import ROOT

TWO, THIRTEEN = "02_batch_size_loss", "13_mean_only"


def notebook(folder: str, name: str, extra: str = "", tagged: bool = True, stored: str = "") -> dict:
    """An exercise notebook from the course's exercises/ or solutions/, with code added to its exercise cell."""
    nb = json.loads((ROOT / folder / f"{name}.ipynb").read_text())
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        tags = cell["metadata"].get("tags", [])
        if cell["cell_type"] == "code" and "exercise" in tags:
            cell["source"] = "".join(cell["source"]) + ("\n" + extra if extra else "")
        if not tagged and "exercise" in tags:
            cell["metadata"]["tags"] = [t for t in tags if t != "exercise"]
        if stored and "feedback" in tags and "check(" in "".join(cell["source"]):
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": stored}]
    return nb


def write(folder: Path, filename: str, nb: dict) -> None:
    """Put a notebook in a student's folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_text(json.dumps(nb))


# Each student: (what they hand in, as files written by code) and the verdicts they deserve.
CHEATS = {
    "fake_tick": ('print("\\u2705 Correct: the loss is the per-sample average")', "not yet", "Not yet"),
    "patched_check": ("import sys\nfrom helpers.exercises.feedback import Feedback\n"
                      "sys.modules['helpers.exercises.batch_size_loss'].check = lambda f: Feedback(True, 'ok')",
                      "review", "the answer replaced helpers.exercises.batch_size_loss.check"),
    "patched_feedback": ("from helpers.exercises.feedback import Feedback\nFeedback.__bool__ = lambda self: True",
                         "review", "the answer replaced helpers.exercises.feedback.Feedback.__bool__"),
    "patched_eval": ("import torch\ntorch.nn.Module.eval = lambda self: self", "review",
                     "the answer replaced torch.nn.modules.module.Module.eval"),
    "read_solution": ("import contextlib, io\nfrom helpers.exercises.batch_size_loss import solution\n"
                      "text = io.StringIO()\nwith contextlib.redirect_stdout(text):\n    solution()\n"
                      "exec(text.getvalue().split('\\n', 2)[2])", "review", "solutions/02_batch_size_loss.ipynb"),
    "writes_outside": ("open('/tmp/course-grader-was-here.csv', 'w').close()", "review",
                       "open /tmp/course-grader-was-here.csv to write"),
    "reads_grades": ("print(open(GRADES).read())", "review", "grades.csv to read"),
    "forges_verdict": ("import os, sys\nos.write(int(sys.argv[1]), b'{\"verdict\": \"pass\", \"first_line\": \"ok\", "
                       "\"text\": \"ok\", \"token\": \"?\"}')\nos._exit(0)", "review", "wrote its own verdict"),
    "patched_builtins": ("import builtins\nbuiltins.repr = lambda o: '\\u2705 Correct'", "review",
                         "the answer replaced builtins.repr"),
    "forks": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass", "review",
              "tried to os.fork"),
    "kills_grader": ("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", "review", "signal its own process"),
    "reads_memory": ("import gc\nfound = gc.get_objects()", "review", "tried to gc.get_objects"),
    "leaves_thread": ("import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()",
                      "review", "left a thread running"),
    "walks_frames": ("import sys\nframe = sys._getframe(0)\nwhile frame is not None:\n    frame = frame.f_back",
                     "review", "may not reach the check's or the grader's frames"),
    "folder_descriptor": ("import os, helpers\nfolder = os.open(os.path.dirname(helpers.__file__), os.O_RDONLY)\n"
                          "os.open('../solutions/02_batch_size_loss.ipynb', os.O_RDONLY, dir_fd=folder)", "review",
                          "helpers"),
    "reads_own_memory": ("open('/proc/self/mem', 'rb')", "review", "/mem (memory)"),
    "patched_math": ("import math\nmath.isclose = lambda *args, **kwargs: True", "review",
                     "the answer replaced math.isclose"),
    "added_setattr": ("from helpers.exercises.feedback import Feedback\n"
                      "Feedback.__setattr__ = lambda self, name, value: object.__setattr__(self, name, value)",
                      "review", "Feedback.__setattr__ (added)"),
    "mutates_data": ("from helpers.exercises import batch_size_loss\nbatch_size_loss.CASES[:] = [(9, 9, False)]",
                     "review", "the answer replaced helpers.exercises.batch_size_loss.CASES"),
    "swaps_code": ("from helpers.exercises import diagnoses\n"
                   "diagnoses.close.__code__ = (lambda value, expected: True).__code__", "review",
                   "object.__setattr__ __code__"),
    "global_hook": ("import torch\ntorch.nn.modules.module.register_module_forward_hook(lambda m, i, o: o)", "review",
                    "the answer replaced torch.nn.modules.module._global_forward_hooks"),
    "mode_left_on": ("from torch.overrides import TorchFunctionMode\nclass Along(TorchFunctionMode):\n"
                     "    def __torch_function__(self, func, types, args=(), kwargs=None):\n"
                     "        return func(*args, **(kwargs or {}))\nAlong().__enter__()", "review",
                     "left 1 torch mode(s) on"),
    "segfaults": ("import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)", "error", "exit status -11"),
    "exits": ("raise SystemExit(0)", "error", "SystemExit: 0"),
    "kills_itself": ("import os\nos._exit(0)", "error", "ended without a verdict"),
    "loops": ("while True:\n    pass", "timeout", "still running after 15 s"),
    "eats_memory": ("import torch\nhoard = torch.ones(20 * 2**30, dtype=torch.uint8)", "error", "allocate"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the class once: the CSV's rows by (student, exercise), the feedback folder, the printed summary."""
    root = tmp_path_factory.mktemp("class")
    submissions = root / "submissions"
    write(submissions / "right", f"{TWO}.ipynb", notebook("solutions", TWO))
    write(submissions / "right", f"{THIRTEEN}.ipynb", notebook("solutions", THIRTEEN))
    write(submissions / "right_namedtuple", f"{TWO}.ipynb",
          notebook("solutions", TWO, extra="import collections\nPair = collections.namedtuple('Pair', 'loss count')"))
    write(submissions / "wrong", f"{TWO}.ipynb", notebook("exercises", TWO, stored="\u2705 Correct: looks right"))
    write(submissions / "wrong", f"{THIRTEEN}.ipynb", notebook("exercises", THIRTEEN))
    (submissions / "nothing").mkdir()
    write(submissions / "renamed", "Copy of my homework.ipynb", notebook("solutions", TWO))
    write(submissions / "misplaced" / "week 1", f"{TWO}.ipynb", notebook("solutions", TWO))
    write(submissions / "untagged", f"{TWO}.ipynb", notebook("solutions", TWO, tagged=False))
    write(submissions / "twice", f"{TWO}.ipynb", notebook("exercises", TWO))  # the copy at the top is graded
    write(submissions / "twice" / "01 draft", f"{TWO}.ipynb", notebook("solutions", TWO))
    extra = notebook("solutions", TWO)
    extra["cells"].append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                           "source": "raise SystemExit('a cell of the student's own, after the exercise')"})
    write(submissions / "extra_cell", f"{TWO}.ipynb", extra)
    (submissions / "broken").mkdir()
    (submissions / "broken" / f"{TWO}.ipynb").write_text("{ not json")
    with zipfile.ZipFile(submissions / "zipped.zip", "w") as archive:
        archive.writestr(f"zipped/{TWO}.ipynb", json.dumps(notebook("solutions", TWO)))
    (submissions / "badzip.zip").write_bytes(b"not a zip")
    out = root / "grades"
    for name, (code, _, _) in CHEATS.items():
        code = code.replace("GRADES", repr(str(out / "grades.csv")))
        write(submissions / name, f"{TWO}.ipynb", notebook("exercises", TWO, extra=code))
    done = subprocess.run([sys.executable, "-m", "helpers.grade", str(submissions), "--out", str(out),
                           "--timeout", "15", "--jobs", "2"], capture_output=True, text=True, cwd=ROOT)
    Path("/tmp/course-grader-was-here.csv").unlink(missing_ok=True)  # the file writes_outside wrote
    assert done.returncode == 0, done.stderr[-3000:]
    with (out / "grades.csv").open(newline="") as handle:
        rows = {(r["student"], r["exercise"]): r for r in csv.DictReader(handle)}
    return rows, out, done.stdout, submissions


def test_every_student_gets_a_row_for_every_exercise(graded):
    rows, _, _, _ = graded
    students = {s for s, _ in rows}
    assert len(students) == 12 + len(CHEATS) and len(rows) == len(students) * len(EXERCISES)


@pytest.mark.parametrize("student, exercise, verdict, words", [
    ("right", TWO, "pass", "Correct"), ("right", THIRTEEN, "pass", "Correct"),
    ("wrong", TWO, "not yet", "Not yet"), ("wrong", THIRTEEN, "not yet", "Not yet"),
    ("nothing", TWO, "missing", f"no {TWO}.ipynb"),
    ("right", "01_moving_validation", "missing", "no 01_moving_validation"),
    ("renamed", TWO, "pass", "Correct"), ("right_namedtuple", TWO, "pass", "Correct"),
    ("misplaced", TWO, "pass", "Correct"), ("untagged", TWO, "pass", "Correct"),
    ("extra_cell", TWO, "pass", "Correct"), ("twice", TWO, "not yet", "Not yet"),
    ("broken", TWO, "unreadable", "is not a notebook that can be read"), ("zipped", TWO, "pass", "Correct"),
    ("badzip", TWO, "unreadable", ".zip cannot be opened"),
    *[(name, TWO, verdict, words) for name, (_, verdict, words) in CHEATS.items()],
])
def test_each_answer_gets_the_verdict_it_deserves(graded, student, exercise, verdict, words):
    row = graded[0][student, exercise]
    assert (row["verdict"], words in row["first_line"]) == (verdict, True), row


def test_students_read_what_was_found_and_the_summary_counts_passes(graded):
    _, out, printed, _ = graded
    assert f"graded Copy of my homework.ipynb as {TWO}.ipynb" in (out / "feedback" / "renamed.md").read_text()
    assert "the cells tagged `exercise` were not found" in (out / "feedback" / "untagged.md").read_text()
    assert f"{TWO:<24} 7/{12 + len(CHEATS)} pass; most often: \u274c Not yet" in printed


def test_a_run_started_again_grades_only_the_rows_that_are_not_there(graded):
    rows, out, _, submissions = graded
    kept = [r for key, r in rows.items() if key != ("right", TWO)]
    with (out / "grades.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(kept[0]))
        writer.writeheader()
        writer.writerows(kept)
    done = subprocess.run([sys.executable, "-m", "helpers.grade", str(submissions), "--out", str(out)],
                          capture_output=True, text=True, cwd=ROOT)
    with (out / "grades.csv").open(newline="") as handle:
        again = {(r["student"], r["exercise"]): r for r in csv.DictReader(handle)}
    assert done.returncode == 0 and again.keys() == rows.keys() and again["right", TWO]["verdict"] == "pass"
    assert "| 1/1 [" in done.stderr and all(again[key] == row for key, row in rows.items() if key != ("right", TWO))


@pytest.mark.parametrize("make, words", [
    (lambda p: p, "does not exist"), (lambda p: (p.write_text("x"), p)[1], "is a file, not a folder"),
    (lambda p: p.mkdir() or p, "holds no student folders or .zip files"),
])
def test_bad_input_is_one_line(tmp_path, make, words):
    path = make(tmp_path / "submissions")
    done = subprocess.run([sys.executable, "-m", "helpers.grade", str(path), "--out", str(tmp_path / "g")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr
