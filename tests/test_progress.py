"""A learner's progress: every check records its verdict in a file of the learner's own, and progress() lists it."""

import json
import subprocess
import sys

import pytest

import helpers
from helpers.exercises import EXERCISES, batch_size_loss
from helpers.progress import PROGRESS_ENV, progress_file
from notebook_cells import ROOT, exercise_function

NOTEBOOK = "02_batch_size_loss"


def answer(folder: str):
    """Exercise 2's function from the starter ("exercises") or the worked answer ("solutions")."""
    return exercise_function(ROOT / folder / f"{NOTEBOOK}.ipynb", "evaluate")


@pytest.fixture
def kept(tmp_path, monkeypatch):
    """The progress file of this test alone."""
    path = tmp_path / "deep" / "progress.json"
    monkeypatch.setenv(PROGRESS_ENV, str(path))
    return path


def test_a_check_records_tried_then_passed_and_keeps_the_first_pass(kept, capsys):
    assert not batch_size_loss.check(answer("exercises"))
    assert set(json.loads(kept.read_text())[NOTEBOOK]) == {"checked"}
    helpers.progress()
    shown = capsys.readouterr().out
    assert f"0 of {len(EXERCISES)} exercises passed (kept in {kept})" in shown
    states = {line.split()[0]: " ".join(line.split()[1:]) for line in shown.splitlines()[1:]}
    assert states[NOTEBOOK] == "tried, not passed yet" and states["01_moving_validation"] == "not started"
    assert batch_size_loss.check(answer("solutions"))
    first = json.loads(kept.read_text())[NOTEBOOK]["passed"]
    assert not batch_size_loss.check(answer("exercises"))
    assert json.loads(kept.read_text())[NOTEBOOK]["passed"] == first, "a later failure does not undo a pass"
    helpers.progress()
    assert f"1 of {len(EXERCISES)} exercises passed" in capsys.readouterr().out
    assert [p.name for p in kept.parent.iterdir()] == ["progress.json"], "no temporary file left behind"


@pytest.mark.parametrize("damaged", ["{not json", "[1, 2]", '{"02_batch_size_loss": 5}'])
def test_a_damaged_file_is_named_and_progress_starts_afresh(kept, damaged):
    kept.parent.mkdir()
    kept.write_text(damaged)
    with pytest.warns(UserWarning, match=f"The progress file {kept} cannot be read"):
        assert batch_size_loss.check(answer("solutions"))
    assert "passed" in json.loads(kept.read_text())[NOTEBOOK]


def test_a_progress_file_that_cannot_be_written_leaves_the_verdict_alone(tmp_path, monkeypatch):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    monkeypatch.setenv(PROGRESS_ENV, str(blocker / "progress.json"))  # its folder is a file
    with pytest.warns(UserWarning, match="Your progress could not be saved to .*; the check's verdict stands"):
        assert batch_size_loss.check(answer("solutions"))


def test_a_progress_path_that_is_a_folder_is_left_as_it_was(tmp_path, monkeypatch):
    (tmp_path / "progress").mkdir()
    monkeypatch.setenv(PROGRESS_ENV, str(tmp_path / "progress"))
    with pytest.warns(UserWarning, match="Your progress could not be saved"):
        assert batch_size_loss.check(answer("solutions"))
    assert [p.name for p in tmp_path.iterdir()] == ["progress"], "the temporary file was removed"


def test_the_command_line_prints_the_same_table(kept):
    done = subprocess.run([sys.executable, "-m", "helpers.progress"], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0
    assert done.stdout.startswith(f"0 of {len(EXERCISES)} exercises passed (kept in {kept})")


def test_the_default_file_is_in_the_users_cache_outside_the_course(monkeypatch):
    monkeypatch.delenv(PROGRESS_ENV)
    assert progress_file().parent.name == "pytorch-training-loop-course" and ROOT not in progress_file().parents
