"""Each exercise check: the notebook's starter fails it, the solution passes, and so do the variants below."""

import random
import re
from importlib import import_module

import numpy as np
import pytest
import torch

import helpers
from exercise_cases import sources
from helpers import syllabus
from helpers.exercises import (EXERCISES, another_run, batch_size_loss, capstone, chance_accuracy, moving_split,
                               moving_validation)
from helpers.exercises.feedback import WIDTH
from notebook_cells import ROOT, cells, define, exercise_function, tags

CASES = {each.notebook: import_module(f"exercise_cases.{each.module}") for each in syllabus.EXERCISES}
NAMES = sorted(EXERCISES)


def module_name(notebook: str) -> str:
    return EXERCISES[notebook].__name__.rsplit(".", 1)[1]


def said(result) -> str:
    """The feedback as one line of words, however it wrapped."""
    return " ".join(repr(result).split())


@pytest.mark.parametrize("notebook", NAMES)
def test_starter_code_fails_with_the_intended_message(notebook):
    module = EXERCISES[notebook]
    starter = exercise_function(ROOT / "exercises" / f"{notebook}.ipynb", EXERCISES[notebook].check.takes)
    result = module.check(starter)
    assert not result and isinstance(result, helpers.exercises.Feedback)
    assert CASES[notebook].STARTER_SAYS in " ".join(result.headline.split())
    assert repr(result).startswith("\u274c Not yet: ")


@pytest.mark.parametrize("notebook", NAMES)
def test_solution_code_passes(notebook):
    module = EXERCISES[notebook]
    solution = exercise_function(ROOT / "solutions" / f"{notebook}.ipynb", EXERCISES[notebook].check.takes)
    result = module.check(solution)
    assert result, repr(result)
    assert repr(result).startswith("\u2705 Correct: ")


@pytest.mark.parametrize("notebook", NAMES)
def test_exercise_and_solution_differ_only_in_exercise_cells(notebook):
    exercise = cells(ROOT / "exercises" / f"{notebook}.ipynb")
    solution = cells(ROOT / "solutions" / f"{notebook}.ipynb")
    assert [(c["cell_type"], tags(c)) for c in exercise] == [(c["cell_type"], tags(c)) for c in solution]
    differ = [i for i, (a, b) in enumerate(zip(exercise, solution)) if a["source"] != b["source"]]
    assert differ and all("exercise" in tags(exercise[i]) for i in differ)


def feedback_cells(folder: str, notebook: str) -> list[dict]:
    return [c for c in cells(ROOT / folder / f"{notebook}.ipynb") if "feedback" in tags(c)]


@pytest.mark.parametrize("notebook", NAMES)
def test_exercises_are_stored_without_verdict_or_hints(notebook):
    feedback = feedback_cells("exercises", notebook)
    assert ["".join(c["source"]) for c in feedback] == [f"check({EXERCISES[notebook].check.takes})", "hint(1)"]
    for cell in feedback:
        assert cell["outputs"] == [] and "nbval-ignore-output" in tags(cell)
    text = "".join(str(c.get("outputs", "")) for c in cells(ROOT / "exercises" / f"{notebook}.ipynb"))
    assert "Not yet" not in text and "Hint 1" not in text and "Correct" not in text


@pytest.mark.parametrize("notebook", NAMES)
def test_solutions_keep_their_verdict(notebook):
    check_cell = feedback_cells("solutions", notebook)[0]
    assert "".join(check_cell["outputs"][0]["data"]["text/plain"]).startswith("\u2705 Correct:")


@pytest.mark.parametrize("notebook", NAMES)
def test_notebook_text_matches_what_runs(notebook):
    """The bare names the text promises are the ones the setup cell imports, and the intro counts the bugs."""
    notebook_cells = cells(ROOT / "exercises" / f"{notebook}.ipynb")
    intro, setup = "".join(notebook_cells[0]["source"]), "".join(notebook_cells[1]["source"])
    assert f"from helpers.exercises.{module_name(notebook)} import check, hint, solution" in setup
    assert "`hint(1)`" in intro and "`solution()`" in intro and f"`check({EXERCISES[notebook].check.takes})`" in intro
    assert re.search(r"\*\*(one|two|three)\*\*", intro), "the intro says how many things are wrong"


@pytest.mark.parametrize("module", [EXERCISES[n] for n in NAMES], ids=NAMES)
def test_misuse_raises_but_a_crashing_answer_is_feedback(module):
    with pytest.raises(TypeError, match="takes your function itself"):
        module.check({"loss": 1.0})

    def crashes(*args):
        raise KeyError("targets")

    result = module.check(crashes)
    assert not result and result.headline == "Your function raised KeyError: 'targets'"
    assert result.details == ["Run the cell above to see the full error, fix it, then check again."]


def test_an_unusable_result_is_not_called_an_error():
    result = batch_size_loss.check(lambda *args: 0.25)
    assert not result and result.headline == "Your function should return a dict with a 'loss' entry, got 0.25."
    assert result.details == ["Fix your function, run its cell, then check again."]


@pytest.mark.parametrize("module", [EXERCISES[n] for n in NAMES], ids=NAMES)
def test_hints_go_from_a_question_to_the_fix(module, capsys):
    module.hint()
    first = capsys.readouterr().out
    assert first.startswith("Hint 1 of 3 (hint(2) says more): ") and "?" in first
    module.hint(99)
    last = capsys.readouterr().out
    assert last.startswith("Hint 3 of 3: ")
    module.solution()
    shown = capsys.readouterr().out
    assert shown.startswith(f"Solution (from solutions/{module.NOTEBOOK}.ipynb):") and "def " in shown
    for line in (first + last).splitlines():
        assert len(line) <= WIDTH


@pytest.mark.parametrize("notebook", NAMES)
def test_only_the_last_hint_names_the_fix(notebook):
    module, fix = EXERCISES[notebook], CASES[notebook].FIX_CODE
    starter = exercise_function(ROOT / "exercises" / f"{notebook}.ipynb", module.check.takes)
    early = " ".join(module.HINTS[:2]) + repr(module.check(starter))
    for code in fix:
        assert code not in early, code
    assert any(code in module.HINTS[2] for code in fix)


# The catalogue: ways to get each exercise wrong (rejected, with the words that name the bug) and right, from
# tests/exercise_cases/<check>.py.
WRONG = [(EXERCISES[n], label, src, words) for n in NAMES for label, (src, words) in CASES[n].WRONG.items()]
RIGHT = [(EXERCISES[n], label, src, CASES[n].REFERENCE) for n in NAMES for label, src in CASES[n].RIGHT.items()]


def short(module) -> str:
    return module.__name__.rsplit(".", 1)[1]


def test_catalogue_is_complete():
    for notebook in NAMES:
        assert len(CASES[notebook].WRONG) >= 3 and len(CASES[notebook].RIGHT) >= 2, notebook


@pytest.mark.parametrize("module, label, source, words", WRONG,
                         ids=[f"{short(m)}: {label}" for m, label, _, _ in WRONG])
def test_wrong_variants_are_rejected_with_the_bug_named(module, label, source, words):
    result = module.check(define(source, module.check.takes))
    assert not result, repr(result)
    assert "raised" not in result.headline, repr(result)  # rejected for the bug, not because it crashed
    assert words in said(result)
    assert all(len(line) <= WIDTH for line in repr(result).splitlines())


@pytest.mark.parametrize("module, label, source, reference", RIGHT,
                         ids=[f"{short(m)}: {label}" for m, label, _, _ in RIGHT])
def test_correct_variants_are_accepted(module, label, source, reference):
    candidate = reference if source is None else define(source, module.check.takes)
    result = module.check(candidate)
    assert result, repr(result)


def test_capstone_names_what_is_fixed_and_nothing_it_has_not_described():
    result = capstone.check(define(CASES["10_capstone"].WRONG["only train mode fixed"][0], "fit"))
    assert "Fixed so far: the model trains in train mode every epoch." in said(result)
    assert "accuracy" not in said(result).split("Fixed so far")[0]  # the third bug waits its turn


def test_a_check_gives_the_same_verdict_every_time():
    source = CASES["01_moving_validation"].WRONG["no eval, no inference mode"][0]
    first, second = (moving_validation.check(define(source, "evaluate")) for _ in range(2))
    assert repr(first) == repr(second)


def test_checks_leave_the_global_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    for notebook in NAMES:
        module = EXERCISES[notebook]
        torch.manual_seed(0)
        with torch.no_grad():
            module.check(define(next(s for s in CASES[notebook].RIGHT.values() if s), module.check.takes))
            assert not torch.is_grad_enabled(), module.__name__
        assert torch.equal(torch.rand(3), expected), module.__name__


def test_a_shuffled_split_is_never_rejected_by_chance():
    """Any seed of a right answer passes: only a block of the class-sorted data counts as unshuffled."""
    source = CASES["05_moving_split"].SPLIT_HEAD + ("    return random_split(dataset, sizes, "
                                                    "generator=torch.Generator().manual_seed(seed + OFFSET))\n")
    rejected = [offset for offset in range(300)
                if not moving_split.check(define(source.replace("OFFSET", str(offset)), "split"))]
    assert rejected == []


def test_a_returned_checkpoint_is_named_in_a_few_words():
    resume = CASES["07_another_run"]
    result = another_run.check(define(resume.RESUME_HEAD + resume.MODEL + resume.OPTIMIZER + resume.RANDOM
                                      + "    return state\n", "resume"))
    assert not result and said(result).startswith("\u274c Not yet: Your function returned {'best': {}, 'epoch': 2,")
    assert len(repr(result)) < 400


@pytest.mark.parametrize("body", ["scores.transpose(0, 2), targets", "scores.permute(2, 1, 0), targets.T"])
def test_a_class_axis_mixed_up_until_cross_entropy_raises_is_feedback(body):
    source = CASES["15_chance_accuracy"].axis_source(f"nn.functional.cross_entropy({body}, ignore_index=pad)")
    result = chance_accuracy.check(define(source, "token_loss"))
    assert not result and said(result).startswith("\u274c Not yet: Your function raised ValueError: Expected input "
                                                  "batch_size (4) to match target batch_size")


@pytest.mark.parametrize("notebook, label", [
    ("15_chance_accuracy", "the softmax taken before cross_entropy"), ("15_chance_accuracy", "label smoothing"),
    ("15_chance_accuracy", "binary cross-entropy on one-hot targets"),
    ("14_flattering_accuracy", "the softmax taken before the loss"), ("14_flattering_accuracy", "label smoothing")])
def test_a_loss_the_counting_and_the_axes_do_not_explain_is_not_blamed_on_them(notebook, label):
    module, wrong = EXERCISES[notebook], CASES[notebook].WRONG
    result = said(module.check(define(wrong[label][0], module.check.takes)))
    assert "other positions or classes" not in result and "Count each real token once" not in result, result
    assert "padded positions were" not in result and "weighted by" not in result, result


@pytest.mark.parametrize("reseed", ["random.seed(0)", "np.random.seed(0)"])
def test_a_reseed_is_seen_even_when_the_state_was_already_that_seed(reseed):
    """A learner's notebook may have seeded with 0 just before check(): the answer's own re-seed still shows."""
    source = sources.evaluate_source(before=f"import numpy as np\n    {reseed}\n    model.eval()\n    metrics.reset()")
    random.seed(0)
    np.random.seed(0)
    result = moving_validation.check(define(source, "evaluate"))
    assert not result and ("random state" in said(result) or "state of Python" in said(result)), repr(result)
