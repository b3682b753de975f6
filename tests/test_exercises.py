"""Each exercise check: the notebook's starter fails it, the solution passes, and so do the variants below."""

import random
import re

import numpy as np
import pytest
import torch

import helpers
from helpers.exercises import (
    EXERCISES, accumulation, capstone, class_axis, eval_mode, loss_averaging, loss_graph, metric_reset, padding_count,
    regression_shape, resume_optimizer, scheduler, set_epoch, split_generator, train_mode, zero_grad,
)
from helpers.exercises.feedback import WIDTH
from notebook_cells import ROOT, cells, define, exercise_function, exercise_source, tags

FUNCTION = {"eval_mode": "evaluate", "loss_averaging": "evaluate", "zero_grad": "train_one_epoch",
            "metric_reset": "evaluate", "split_generator": "split", "loss_graph": "train_one_epoch",
            "resume_optimizer": "resume", "train_mode": "fit", "scheduler": "fit", "capstone": "fit",
            "set_epoch": "fit", "accumulation": "train_one_epoch", "regression_shape": "train_step",
            "padding_count": "evaluate_tokens", "class_axis": "token_loss"}
STARTER_SAYS = {
    "eval_mode": "Dropout was switching units off at random in 8 of the 8 batches of the two calls that found the "
                 "model in train mode. The same model on the same data gave the losses",
    "loss_averaging": "With 10 samples in batches of 4, 4, 2, your loss is",
    "zero_grad": "The gradient grew from step to step",
    "metric_reset": "the metric also counted the 4 predictions it held before your function was called",
    "split_generator": "The validation set changed when a model was built before the split",
    "loss_graph": "The losses of 5 batches were alive at once",
    "resume_optimizer": "the optimizer your function was given still holds only the 1 step it had taken before the "
                        "resume; the checkpoint holds 6",
    "train_mode": "Dropout was off in 6 of 9 training batches, all in epochs 2 and 3",
    "scheduler": "The learning rate per epoch was 0.1\u21920.05, 0.05\u21920.025",
    "capstone": "3 of the 3 bugs remain. Dropout was off in 6 of 9 training batches, all in epochs 2 and 3",
    "set_epoch": "Process 0 drew its 7 samples in the same order in all 3 epochs",
    "accumulation": "Step 2, after the epoch's last group of 2 batches (4 and 3 samples), used a gradient of norm",
    "regression_shape": "With a batch of 5: your step was that of a loss comparing each of the 5 outputs "
                        "(shape (5, 1)) "
                        "with every one of the 5 targets (shape (5,)): 5\u00d75 = 25 pairs",
    "padding_count": "Your accuracy is 0.5890 but 16 of the 46 real tokens are predicted right (0.3478).",
    "class_axis": "Given scores that give every real token's own class a score 12 higher than every other class, "
                  "your loss is 5.8924; the mean cross-entropy of each real token's own scores is 0.0000.",
}
NAMES = sorted(EXERCISES)


def module_name(notebook: str) -> str:
    return EXERCISES[notebook].__name__.rsplit(".", 1)[1]


def said(result) -> str:
    """The feedback as one line of words, however it wrapped."""
    return " ".join(repr(result).split())


@pytest.mark.parametrize("notebook", NAMES)
def test_starter_code_fails_with_the_intended_message(notebook):
    module = EXERCISES[notebook]
    starter = exercise_function(ROOT / "exercises" / f"{notebook}.ipynb", FUNCTION[module_name(notebook)])
    result = module.check(starter)
    assert not result and isinstance(result, helpers.exercises.Feedback)
    assert STARTER_SAYS[module_name(notebook)] in " ".join(result.headline.split())
    assert repr(result).startswith("\u274c Not yet: ")


@pytest.mark.parametrize("notebook", NAMES)
def test_solution_code_passes(notebook):
    module = EXERCISES[notebook]
    solution = exercise_function(ROOT / "solutions" / f"{notebook}.ipynb", FUNCTION[module_name(notebook)])
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
    assert ["".join(c["source"]) for c in feedback] == [f"check({FUNCTION[module_name(notebook)]})", "hint(1)"]
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
    assert "`hint(1)`" in intro and "`solution()`" in intro and f"`check({FUNCTION[module_name(notebook)]})`" in intro
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
    result = loss_averaging.check(lambda *args: 0.25)
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


# What only hint(3) and solution() may name: the code of each fix.
FIX_CODE = {
    eval_mode: ["model.eval()", "inference_mode", "no_grad", "model.train("],
    loss_averaging: ["* len(targets)"],
    zero_grad: ["zero_grad()"],
    metric_reset: ["metrics.reset()"],
    split_generator: ["manual_seed(seed)", "generator="],
    loss_graph: ["detach()", ".item()"],
    resume_optimizer: ["optimizer.load_state_dict", "set_rng_state", "random.setstate"],
    train_mode: ["model.train()"],
    scheduler: ["once at the end of every epoch"],
    capstone: ["model.train()", "clone()", "* len(targets)"],
    set_epoch: ["set_epoch("],
    accumulation: ["* len(targets) /"],
    regression_shape: ["squeeze(1)", "unsqueeze(1)"],
    padding_count: ["ignore_index=pad", "!= pad"],
    class_axis: ["permute(", "transpose(1, 2)"],
}


@pytest.mark.parametrize("module", list(FIX_CODE), ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_only_the_last_hint_names_the_fix(module):
    notebook = module.NOTEBOOK
    starter = exercise_function(ROOT / "exercises" / f"{notebook}.ipynb", FUNCTION[module_name(notebook)])
    early = " ".join(module.HINTS[:2]) + repr(module.check(starter))
    for code in FIX_CODE[module]:
        assert code not in early, code
    assert any(code in module.HINTS[2] for code in FIX_CODE[module])


# The catalogue: ways to get each exercise wrong (rejected, with the words that name the bug) and right.

def edited(source: str, *changes: tuple[str, str]) -> str:
    """`source` with each (old, new) change made."""
    for old, new in changes:
        assert old in source
        source = source.replace(old, new)
    return source


EVAL_TEMPLATE = '''
import copy
import random

import torch
from torch import nn
from torchmetrics import MeanMetric

DECORATOR
def evaluate(model, loader, loss_fn, metrics, device):
    was_training = model.training
    BEFORE
    total, n, means = 0.0, 0, []
    for x, y in loader:
        IN_LOOP
        logits = model(x.to(device))
        loss = loss_fn(logits, y.to(device))
        ACCUMULATE
        UPDATE
    AFTER
    return {"loss": LOSS, **{k: v.item() for k, v in metrics.compute().items()}}
'''


def evaluate_source(decorator="@torch.inference_mode()", before="model.eval()\n    metrics.reset()", in_loop="",
                    accumulate="total += loss.item() * len(y); n += len(y)", update="metrics.update(logits, y)",
                    after="model.train(was_training)", loss="total / n"):
    return (EVAL_TEMPLATE.replace("DECORATOR", decorator).replace("BEFORE", before).replace("IN_LOOP", in_loop)
            .replace("ACCUMULATE", accumulate).replace("UPDATE", update).replace("AFTER", after)
            .replace("LOSS", loss))


EVAL_MODE_WRONG = {
    "no eval, no inference mode": (evaluate_source(decorator="", before="metrics.reset()"),
                                   "Dropout was switching units off at random in 8 of the 8 batches"),
    "model.eval without the call": (evaluate_source(before="model.eval\n    metrics.reset()"),
                                    "Dropout was switching units off"),
    "eval mode but autograd records": (evaluate_source(decorator=""),
                                       "Autograd recorded a graph for 8 of 12 batches"),
    "train mode back inside the loop": (evaluate_source(in_loop="model.train()"),
                                        "Dropout was switching units off at random in 8 of the 8 batches of the "
                                        "two calls that found the model in train mode, and in 4 batches of the call "
                                        "that found it in eval mode"),
    "only Dropout switched off": (evaluate_source(before="model[2].eval()\n    metrics.reset()"),
                                  "BatchNorm normalised with each batch's own statistics, and updated its running "
                                  "statistics from the validation data, in 8 of the 8 batches"),
    "mode never restored": (evaluate_source(after=""),
                            "left the model in eval mode; it was in train mode"),
    "grad switched off for good": (evaluate_source(decorator="", before="model.eval()\n    metrics.reset()\n"
                                                                        "    torch.set_grad_enabled(False)"),
                                   "autograd was still switched off"),
    "torch re-seeded": (evaluate_source(before="torch.manual_seed(0)\n    model.eval()\n    metrics.reset()"),
                        "re-seeded torch's global random generator"),
    "Python's random re-seeded": (evaluate_source(before="random.seed(0)\n    model.eval()\n    metrics.reset()"),
                                  "changed the state of Python's global `random` module"),
    "evaluates a copy": (evaluate_source(before="model = copy.deepcopy(model).eval()\n    metrics.reset()"),
                         "12 of 12 batches went through a copy of the model"),
    "mean of batch means": (evaluate_source(accumulate="means.append(loss.item())", loss="sum(means) / len(means)"),
                            "Your loss was"),
    "grad switched on at the end": (evaluate_source(decorator="", before="torch.set_grad_enabled(False)\n"
                                                                          "    model.eval()\n    metrics.reset()",
                                                    after="model.train(was_training)\n"
                                                          "    torch.set_grad_enabled(True)"),
                                    "autograd was switched on; it was off when your function was called"),
}
EVAL_MODE_RIGHT = {
    "inference_mode": evaluate_source(),
    "no_grad": evaluate_source(decorator="@torch.no_grad()"),
    "grad disabled by a decorator": evaluate_source(decorator="@torch.set_grad_enabled(False)"),
    "helpers.evaluate": None,
}
LOSS_WRONG = {
    "mean of batch means": (evaluate_source(accumulate="means.append(loss.item())", loss="sum(means) / len(means)"),
                            "You averaged the batch means"),
    "weighted sum over batches": (evaluate_source(loss="total / len(loader)"), "divided by the number of batches"),
    "sum of means over samples": (evaluate_source(accumulate="means.append(loss.item()); n += len(y)",
                                                  loss="sum(means) / n"),
                                  "added the batch means, then divided by the number of samples"),
    "loader batch size as weight": (evaluate_source(accumulate="total += loss.item() * loader.batch_size; n += len(y)"),
                                    "weighted every batch by the loader's batch_size"),
    "divided by the dataset's length": (evaluate_source(loss="total / len(loader.dataset)"),
                                        "with drop_last=True the loader yielded only 8 of them"),
    "a NaN loss": (evaluate_source(loss="float('nan')"), "your loss is nan"),
    "loader batch size as the count": (evaluate_source(accumulate="total += loss.item() * len(y); "
                                                                  "n += loader.batch_size"),
                                       "You counted loader.batch_size samples for every batch"),
    "the caller's loss switched to a sum": (evaluate_source(before="model.eval()\n    metrics.reset()\n"
                                                                   "    loss_fn.reduction = 'sum'",
                                                            accumulate="total += loss.item(); n += len(y)"),
                                            "Your function changed the loss function's reduction to 'sum'"),
    "grad switched off for good": (evaluate_source(decorator="", before="torch.set_grad_enabled(False)\n"
                                                                        "    model.eval()\n    metrics.reset()"),
                                   "autograd was still switched off"),
}
LOSS_RIGHT = {
    "weighted sum": evaluate_source(),
    "MeanMetric with weights": evaluate_source(before="model.eval()\n    metrics.reset()\n    mean = MeanMetric()",
                                               accumulate="mean.update(loss, weight=len(y))",
                                               loss="mean.compute().item()"),
    "sum reduction": evaluate_source(accumulate="total += nn.functional.cross_entropy(logits, y, reduction='sum')"
                                                ".item(); n += len(y)"),
    "on the device": evaluate_source(before="model.eval()\n    metrics.reset()\n    total = torch.zeros(())",
                                     accumulate="total += loss * len(y); n += len(y)", loss="total.item() / n"),
    "helpers.evaluate": None,
}
def reset_after_compute(source: str) -> str:
    """The evaluate `source`, emptying the metric after computing its result."""
    return source.replace("    return {", "    result = metrics.compute()\n    metrics.reset()\n    return {").replace(
        "**{k: v.item() for k, v in metrics.compute().items()}", "**{k: v.item() for k, v in result.items()}")


PER_BATCH_ACCURACY = '''
import torch


@torch.inference_mode()
def evaluate(model, loader, loss_fn, metrics, device):
    metrics.reset()
    total, n, accuracies = 0.0, 0, []
    for x, y in loader:
        logits = model(x)
        total += loss_fn(logits, y).item() * len(y)
        n += len(y)
        accuracies.append(metrics(logits, y)["accuracy"].item())
    return {"loss": total / n, "accuracy": sum(accuracies) / len(accuracies)}
'''
RESET_WRONG = {
    "never reset": (evaluate_source(before="model.eval()"),
                    "the metric also counted the 4 predictions it held before your function was called"),
    "reset without the call": (evaluate_source(before="model.eval()\n    metrics.reset"),
                               "counted the 4 predictions it held before"),
    "reset after compute": (reset_after_compute(evaluate_source(before="model.eval()")),
                            "counted the 4 predictions it held before"),
    "reset every batch": (evaluate_source(before="model.eval()", in_loop="metrics.reset()"),
                          "The metric was emptied during the loop, so compute() saw only the last 2 of the 10 "
                          "predictions"),
    "reset at the end of every batch": (evaluate_source(update="metrics.update(logits, y); metrics.reset()"),
                                        "The metric was emptied after the last batch and before compute()"),
    "reset before compute": (evaluate_source(after="metrics.reset()"),
                             "The metric was emptied after the last batch and before compute()"),
    "update once, after the loop": (evaluate_source(update="", after="metrics.update(logits, y)"),
                                    "The metric was given predictions once for 3 batches"),
    "batch accuracies averaged": (PER_BATCH_ACCURACY, "the mean of the batches' accuracies (1, 1, 0)"),
    "a metric of its own": (evaluate_source(before="metrics = metrics.clone()\n    metrics.reset()"),
                            "never updated the metric it was given"),
    "every batch counted twice": (evaluate_source(update="metrics.update(logits, y); metrics(logits, y)"),
                                  "The metric counted 20 predictions for 10 samples"),
}
RESET_RIGHT = {
    "reset first": evaluate_source(),
    "each metric of the collection reset": evaluate_source(before="model.eval()\n"
                                                                  "    for metric in metrics.values(): metric.reset()"),
    "reset first, and again after compute": reset_after_compute(evaluate_source()),
    "helpers.evaluate": None,
}

TRAIN_TEMPLATE = '''
import copy

import torch
from torchmetrics import MeanMetric


def train_one_epoch(model, loader, loss_fn, optimizer, metrics, device):
    model.train()
    metrics.reset()
    total, n, kept = 0.0, 0, []
    BEFORE
    for x, y in loader:
        START
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        MIDDLE
        optimizer.step()
        END
        ACCUMULATE
        n += len(y)
        metrics.update(logits.detach(), y)
    return {"loss": LOSS, **{k: v.item() for k, v in metrics.compute().items()}}
'''


def train_source(before="", start="optimizer.zero_grad()", middle="", end="",
                 accumulate="total += loss.item() * len(y)", loss="total / n"):
    return (TRAIN_TEMPLATE.replace("BEFORE", before).replace("START", start).replace("MIDDLE", middle)
            .replace("END", end).replace("ACCUMULATE", accumulate).replace("LOSS", loss))


ZERO_WRONG = {
    "never": (train_source(start=""), "The gradient grew from step to step"),
    "once before the loop": (train_source(before="optimizer.zero_grad()", start=""),
                             "The gradient grew from step to step"),
    "without the call": (train_source(start="optimizer.zero_grad"), "The gradient grew from step to step"),
    "between backward and step": (train_source(start="", middle="optimizer.zero_grad()"),
                                  "All 3 optimizer steps saw a gradient of zero"),
    "after the step": (train_source(start="", end="optimizer.zero_grad()"),
                       "The first step used the first batch's gradient plus the gradient .grad already held"),
    "trains a copy": (train_source(before="model = copy.deepcopy(model)\n"
                                          "    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)"),
                      "3 of 3 batches went through a copy of the model"),
    "backward of the summed loss": (train_source(start="optimizer.zero_grad(); loss_fn.reduction = 'mean'")
                                    .replace("loss.backward()", "(loss * len(y)).backward()"),
                                    "The steps used gradients other than their batches' own"),
    "returns nothing": (train_source().replace("    return {", "    return\n    {"),
                        "Your function should return a dict with a 'loss' entry"),
    "only for an epoch of 3 batches": (train_source(start="if len(loader) == 3: optimizer.zero_grad()"),
                                       "The gradient grew from step to step"),
    "zero_grad fixed, train mode never set": (edited(train_source(), ("    model.train()\n", "")),
                                              "The model ran every batch in eval mode"),
    "zero_grad fixed, the metric never reset": (edited(train_source(), ("    metrics.reset()\n", "")),
                                                "The accuracy your function returned is 0.1875; the predictions of "
                                                "this epoch score 0.2500."),
    "zero_grad fixed, metrics from a forward pass after the step": (
        edited(train_source(), ("metrics.update(logits.detach(), y)", "metrics.update(model(x).detach(), y)")),
        "The accuracy your function returned is"),
}
CLOSURE = ("        logits = model(x)\n        loss = loss_fn(logits, y)\n        loss.backward()\n        \n"
           "        optimizer.step()", """        def closure():
            optimizer.zero_grad()
            closure.logits = model(x)
            step_loss = loss_fn(closure.logits, y)
            step_loss.backward()
            return step_loss
        loss = optimizer.step(closure)
        logits = closure.logits""")  # forward and backward inside the step, as LBFGS needs
ZERO_RIGHT = {
    "inside the step's closure": edited(train_source(start=""), CLOSURE),
    "closure without zero_grad, emptied after the step": edited(
        train_source(start="", end="optimizer.zero_grad()", before="optimizer.zero_grad()"),
        CLOSURE, ("            optimizer.zero_grad()\n            closure.logits", "            closure.logits")),
    "first thing in the step": train_source(),
    "on the model": train_source(start="model.zero_grad(set_to_none=True)"),
    "to zeros, not None": train_source(start="optimizer.zero_grad(set_to_none=False)"),
    "helpers.train_one_epoch": None,
}
GRAPH_WRONG = {
    "total += loss": (train_source(before="total = torch.zeros(())", accumulate="total += loss * len(y)",
                                   loss="total.item() / n"), "The losses of 5 batches were alive at once"),
    "total = total + loss": (train_source(accumulate="total = total + loss * len(y)", loss="float(total) / n"),
                             "The losses of 5 batches were alive at once"),
    "a list of losses": (train_source(accumulate="kept.append(loss * len(y))", loss="float(sum(kept)) / n"),
                         "The losses of 5 batches were alive at once"),
    "outputs kept for the end of the epoch": (train_source(accumulate="total += loss.item() * len(y); "
                                                                      "kept.append(logits)"),
                                              "The model outputs of 5 batches were kept alive at once"),
    "a tensor returned with its graph": (train_source(before="total = torch.zeros(())",
                                                      accumulate="total += loss.detach() * len(y)",
                                                      loss="total / n + 0 * loss"),
                                         "The result your function returned still holds an autograd graph"),
    "detached but not weighted": (train_source(before="total = torch.zeros(())", accumulate="total += loss.detach()",
                                               loss="total.item() / n"),
                                  "The loss your function returned is"),
}
GRAPH_RIGHT = {
    "detach": train_source(before="total = torch.zeros(())", accumulate="total += loss.detach() * len(y)",
                           loss="total.item() / n"),
    "item": train_source(),
    "outputs kept detached": train_source(accumulate="total += loss.item() * len(y); kept.append(logits.detach())"),
    "MeanMetric": train_source(before="mean = MeanMetric()", accumulate="mean.update(loss.detach(), weight=len(y))",
                               loss="mean.compute().item()"),
    "helpers.train_one_epoch": None,
}

SUBSETS = "    return Subset(dataset, order[val_size:]), Subset(dataset, order[:val_size])\n"
SPLIT_HEAD = '''
import random

import torch
from torch.utils.data import Subset, random_split

SHARED = torch.Generator().manual_seed(0)


def split(dataset, val_size, seed):
    sizes = [len(dataset) - val_size, val_size]
'''
SEEDED = "torch.Generator().manual_seed(seed)"
SPLIT_WRONG = {
    "global generator": (SPLIT_HEAD + "    return random_split(dataset, sizes)\n",
                         "The validation set changed when a model was built before the split"),
    "generator seeded from the clock": (SPLIT_HEAD + ("    generator = torch.Generator()\n    generator.seed()\n"
                                                      "    return random_split(dataset, sizes, generator=generator)\n"),
                                        "Two calls with the same seed gave different validation sets. The generator "
                                        "the split drew from did not start from the seed"),
    "one module-level generator": (SPLIT_HEAD + "    return random_split(dataset, sizes, generator=SHARED)\n",
                                   "Your function draws from the generator `SHARED`, made outside it, and every "
                                   "call moves it on"),
    "unseeded generator": (SPLIT_HEAD + "    return random_split(dataset, sizes, generator=torch.Generator())\n",
                           "Seeds 1 and 2 gave the same validation set"),
    "re-seeds torch's global generator": (SPLIT_HEAD + "    torch.manual_seed(seed)\n"
                                                       "    return random_split(dataset, sizes)\n",
                                          "re-seeded torch's global random generator"),
    "re-seeds Python's random": (SPLIT_HEAD + ("    random.seed(seed)\n"
                                               "    order = random.sample(range(len(dataset)), len(dataset))\n"
                                               + SUBSETS),
                                 "changed the state of Python's global `random` module"),
    "fixed fractions instead of val_size": (SPLIT_HEAD + "    return random_split(dataset, [0.75, 0.25], "
                                                         f"generator={SEEDED})\n",
                                            "Asked for 7 validation samples out of 40, your function returned 30 "
                                            "training and 10 validation samples"),
    "no shuffle": (SPLIT_HEAD + ("    n = len(dataset) - val_size\n"
                                 "    return Subset(dataset, range(n)), Subset(dataset, range(n, len(dataset)))\n"),
                   "The validation set holds only classes [3] of the 4"),
    "overlapping sets": (SPLIT_HEAD + (f"    order = torch.randperm(len(dataset), generator={SEEDED}).tolist()\n"
                                       "    return Subset(dataset, order), Subset(dataset, order[:val_size])\n"),
                         "not each sample once"),
}
SPLIT_RIGHT = {
    "random_split with a generator": SPLIT_HEAD + f"    return random_split(dataset, sizes, generator={SEEDED})\n",
    "randperm and Subset": SPLIT_HEAD + (f"    order = torch.randperm(len(dataset), generator={SEEDED}).tolist()\n"
                                         + SUBSETS),
    "a Random of its own": SPLIT_HEAD + ("    order = random.Random(seed).sample(range(len(dataset)), len(dataset))\n"
                                         + SUBSETS),
    "helpers.train_val_split": SPLIT_HEAD + ("    import helpers\n"
                                             f"    return helpers.train_val_split(dataset, val_size, {SEEDED})\n"),
}

RESUME_HEAD = """
import random

import torch
import helpers


def resume(path, model, optimizer):
    state = torch.load(path, weights_only=True)
"""
MODEL = '    model.load_state_dict(state["model"])\n'
OPTIMIZER = '    optimizer.load_state_dict(state["optimizer"])\n'
RANDOM = '    random.setstate(state["random"]["python"])\n    torch.set_rng_state(state["random"]["torch"])\n'
NEXT = '    return state["epoch"] + 1\n'
RESUME_WRONG = {
    "model only": (RESUME_HEAD + MODEL + NEXT,
                   "the optimizer your function was given still holds only the 1 step it had taken before the "
                   "resume; the checkpoint holds 6"),
    "optimizer and random state only": (RESUME_HEAD + OPTIMIZER + RANDOM + NEXT,
                                        "the model's weights are not the ones in the checkpoint"),
    "into a new optimizer": (RESUME_HEAD + MODEL + RANDOM
                             + '    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)\n' + OPTIMIZER + NEXT,
                             "the optimizer your function was given still holds only the 1 step"),
    "optimizer state copied by hand": (RESUME_HEAD + MODEL + RANDOM
                                       + '    optimizer.state.update(state["optimizer"]["state"])\n' + NEXT,
                                       "The optimizer's state is filed under the numbers 0, 1, ... instead of under "
                                       "the model's parameters"),
    "parameters replaced (assign=True)": (RESUME_HEAD + MODEL.replace('])', '], assign=True)') + OPTIMIZER + RANDOM
                                          + NEXT,
                                          "Your function replaced the model's parameters with new tensors"),
    "only the optimizer's per-parameter state": (RESUME_HEAD + MODEL + RANDOM + (
        '    current = optimizer.state_dict()\n    current["state"] = state["optimizer"]["state"]\n'
        '    optimizer.load_state_dict(current)\n') + NEXT,
        "the optimizer your function was given has learning rate 0.02; the checkpoint saved 0.01"),
    "random state ignored": (RESUME_HEAD + MODEL + OPTIMIZER + NEXT,
                             "torch's and Python's random generators are not in the state the checkpoint saved"),
    "only torch's random state": (RESUME_HEAD + MODEL + OPTIMIZER + RANDOM.split("\n")[1] + "\n" + NEXT,
                                  "Python's random generator is not in the state the checkpoint saved"),
    "repeats the saved epoch": (RESUME_HEAD + MODEL + OPTIMIZER + RANDOM + '    return state["epoch"]\n',
                                "Your function returned 2"),
}
RESUME_RIGHT = {
    "everything saved": RESUME_HEAD + MODEL + OPTIMIZER + RANDOM + NEXT,
    "helpers.load_checkpoint": RESUME_HEAD + ('    return helpers.load_checkpoint(path, model=model, '
                                              'optimizer=optimizer)["epoch"] + 1\n'),
    "optimizer first, on the CPU": (RESUME_HEAD.replace("weights_only=True", "weights_only=True, map_location='cpu'")
                                    + RANDOM + OPTIMIZER + MODEL + '    return int(state["epoch"]) + 1\n'),
}

FIT_TEMPLATE = '''
import copy

import torch
import helpers


def fit(model, train_loader, val_loader, loss_fn, optimizer, epochs):
    history = []
    BEFORE
    for epoch in range(epochs):
        START
        total, count = 0.0, 0
        for inputs, targets in train_loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(targets)
            count += len(targets)
        VALIDATE
        history.append({"loss": total / count, "val_loss": val_loss})
    return history
'''
VALIDATE = '''EVAL
        val_total, val_count = 0.0, 0
        with GRAD:
            for inputs, targets in val_loader:
                val_total += loss_fn(VAL_MODEL(inputs), targets).item() * len(targets)
                val_count += len(targets)
        val_loss = val_total / val_count
        AFTER'''


def fit_source(before="", start="model.train()", evaluation="model.eval()", grad="torch.no_grad()",
               val_model="model", after=""):
    validate = (VALIDATE.replace("EVAL", evaluation).replace("GRAD", grad).replace("VAL_MODEL", val_model)
                .replace("AFTER", after))
    return FIT_TEMPLATE.replace("BEFORE", before).replace("START", start).replace("VALIDATE", validate)


TRAIN_MODE_WRONG = {
    "train() once before the epochs": (fit_source(before="model.train()", start=""),
                                       "Dropout was off in 6 of 9 training batches, all in epochs 2 and 3"),
    "validation in train mode": (fit_source(evaluation=""), "Dropout was on in 6 of 6 validation batches"),
    "validation records graphs": (fit_source(grad="torch.enable_grad()"),
                                  "Autograd recorded a graph for 6 of 6 validation batches"),
    "validates a copy": (fit_source(evaluation="val_model = copy.deepcopy(model).eval()", val_model="val_model"),
                         "6 of 15 batches went through a copy of the model"),
    "never validates": (fit_source().replace("for inputs, targets in val_loader:", "for inputs, targets in []:")
                        .replace("val_total / val_count", "0.0"),
                        "Your fit never went through the validation data in 3 epochs"),
    "validates on the training data": (fit_source().replace("in val_loader:", "in train_loader:"),
                                       "Your fit went through the training data 6 times in 3 epochs"),
    "train mode fixed, loss the mean of batch means": (
        edited(fit_source(), ("total += loss.item() * len(targets)", "total += loss.item()"),
               ("            count += len(targets)", "            count += 1")),
        "Epoch 1's loss is 1.7794 (the mean of the batch means); the mean over the samples it scored is 1.5231."),
    "train mode fixed, val_loss the mean of batch means": (
        edited(fit_source(), ("val_total += loss_fn(VAL_MODEL(inputs), targets).item() * len(targets)".replace(
            "VAL_MODEL", "model"), "val_total += loss_fn(model(inputs), targets).item()"),
               ("val_count += len(targets)", "val_count += 1")),
        "Epoch 1's val_loss is"),
    "train mode fixed, the last epoch's loss for every epoch": (
        edited(fit_source(), ('history.append({"loss": total / count, "val_loss": val_loss})',
                              'history.append({"loss": 1.0, "val_loss": val_loss})')),
        "Epoch 1's loss is 1.0000"),
    "train() only in the first 3 epochs": (fit_source(start="if epoch < 3: model.train()"),
                                           "Dropout was off in 3 of 12 training batches, all in epoch 4"),
}
TRAIN_MODE_RIGHT = {
    "train() every epoch": fit_source(),
    "train() after validation": fit_source(before="model.train()", start="", after="model.train()"),
    "helpers.evaluate": FIT_TEMPLATE.replace("BEFORE", "model.train()").replace("START", "").replace(
        "VALIDATE", "val_loss = helpers.evaluate(model, val_loader, loss_fn, helpers.Accuracy(), 'cpu')['loss']"),
    "val_loss over the collected outputs": edited(fit_source(), (
        """            for inputs, targets in val_loader:
                val_total += loss_fn(model(inputs), targets).item() * len(targets)
                val_count += len(targets)
        val_loss = val_total / val_count""",
        """            outputs, labels = zip(*[(model(inputs), targets) for inputs, targets in val_loader])
            val_loss = loss_fn(torch.cat(outputs), torch.cat(labels)).item()""")),
}

EPOCH_LOOP = '''
def fit(model, loader, loss_fn, optimizer, ARGUMENTS):
    history = []
    model.train()
    for epoch in range(epochs):
        EPOCH_START
        total, count = 0.0, 0
        for inputs, targets in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(targets)
            count += len(targets)
            BATCH_END
        EPOCH_END
        history.append(total / count)
    return history
'''


def epoch_loop(arguments: str, epoch_start: str, batch_end: str, epoch_end: str) -> str:
    """A plain fit taking `arguments` after the optimizer, with code at the start and end of every epoch and batch."""
    return (EPOCH_LOOP.replace("ARGUMENTS", arguments).replace("EPOCH_START", epoch_start)
            .replace("BATCH_END", batch_end).replace("EPOCH_END", epoch_end))


def scheduler_source(epoch_start="", batch_end="", epoch_end="scheduler.step()"):
    """A fit whose history records each epoch's mean loss and the learning rate it started with."""
    return edited(epoch_loop("scheduler, epochs", 'lr = optimizer.param_groups[0]["lr"]\n        ' + epoch_start,
                             batch_end, epoch_end),
                  ("history.append(total / count)", 'history.append({"loss": total / count, "lr": lr})'))


SCHEDULER_WRONG = {
    "stepped every batch": (scheduler_source(batch_end="scheduler.step()", epoch_end=""),
                            "The scheduler was stepped 12 times in 4 epochs of 3 batches (12 optimizer steps)."),
    "stepped before the epoch's optimizer steps": (scheduler_source(epoch_start="scheduler.step()", epoch_end=""),
                                                   "The learning rate per epoch was 0.1, 0.05, 0.05, 0.025"),
    "never stepped": (scheduler_source(epoch_end=""), "The scheduler was stepped 0 times in 4 epochs"),
    "a scheduler of its own": (scheduler_source(epoch_start="if epoch == 0: import torch; scheduler = "
                                                            "torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5)"),
                               "the scheduler your function was given was never stepped"),
    "lr recorded after the step": (edited(scheduler_source(), ("        scheduler.step()\n",
                                                                "        scheduler.step()\n"
                                                                "        lr = optimizer.param_groups[0]['lr']\n")),
                                   "Epoch 2's record says lr=0.05, but its optimizer steps ran at 0.1."),
    "lr from get_last_lr after the step": (edited(scheduler_source(), ("        scheduler.step()\n",
                                                                        "        scheduler.step()\n"
                                                                        "        lr = scheduler.get_last_lr()[0]\n")),
                                           "Epoch 2's record says lr=0.05"),
    "stepped every batch, lr set by hand": (scheduler_source(
        batch_end="scheduler.step()\n            optimizer.param_groups[0]['lr'] = 0.1 * 0.5 ** (epoch // 2)",
        epoch_start="optimizer.param_groups[0]['lr'] = 0.1 * 0.5 ** (epoch // 2)", epoch_end=""),
        "The learning rate followed the schedule, but after 4 epochs the scheduler had counted 12 steps."),
    "stepped at the start of every epoch but the first": (scheduler_source(epoch_start="if epoch: scheduler.step()",
                                                                           epoch_end=""),
                                                          "after 4 epochs the scheduler had counted 3 steps"),
    "the batch means averaged": (edited(scheduler_source(), ("loss.item() * len(targets)", "loss.item()"),
                                        ("count += len(targets)", "count += 1")),
                                 "Epoch 1's loss is"),
    "the notebook's schedule written out": (scheduler_source(
        epoch_start="optimizer.param_groups[0]['lr'] = [0.1, 0.1, 0.05, 0.05, 0.05][epoch]"),
        "The learning rate per epoch was 0.1, 0.1, 0.05, 0.05, 0.05; StepLR(step_size=3, gamma=0.1)"),
    "stepped with the fit's epoch number": (scheduler_source(epoch_end="scheduler.step(epoch + 1)"),
                                            "With a scheduler resumed after 2 epochs: The learning rate per epoch "
                                            "was 0.1, 0.1, 0.1, 0.01, 0.01; StepLR(step_size=3, gamma=0.1) intends "
                                            "0.1, 0.01, 0.01, 0.01, 0.001."),
    "lr worked out from StepLR's settings": (
        edited(scheduler_source(), ('lr = optimizer.param_groups[0]["lr"]',
                                    "lr = scheduler.base_lrs[0] * scheduler.gamma ** (epoch // scheduler.step_size)")),
        "With a scheduler resumed after 2 epochs: Epoch 2's record says lr=0.1, but its optimizer steps ran at 0.01."),
}
SCHEDULER_RIGHT = {
    "once per epoch": scheduler_source(),
    "after a last look at the lr": scheduler_source(epoch_end="lr = scheduler.get_last_lr()[0]; scheduler.step()"),
    "lr from get_last_lr before the step": edited(scheduler_source(), ('lr = optimizer.param_groups[0]["lr"]',
                                                                    "lr = scheduler.get_last_lr()[0]")),
}

def set_epoch_source(epoch_start="loader.sampler.set_epoch(epoch)", batch_end="", epoch_end=""):
    return epoch_loop("epochs", epoch_start, batch_end, epoch_end)


SET_EPOCH_WRONG = {
    "always epoch 0": (set_epoch_source("loader.sampler.set_epoch(0)"),
                       "Process 0 drew its 7 samples in the same order in all 3 epochs: 4, 7, 2, 9, 1, 5, 8."),
    "torch.manual_seed per epoch": (set_epoch_source("import torch; torch.manual_seed(epoch)"),
                                    "Also: Your function re-seeded torch's global random generator."),
    "set_epoch after the first batch": (set_epoch_source("", batch_end="loader.sampler.set_epoch(epoch)"),
                                        "Process 0 drew its samples in an order it had drawn before: epoch 2 "
                                        "repeated epoch 1"),
    "set_epoch(epoch) after the epoch": (set_epoch_source("", epoch_end="loader.sampler.set_epoch(epoch)"),
                                         "epoch 2 repeated epoch 1"),
    "a random epoch number": (set_epoch_source("import random; loader.sampler.set_epoch(random.randrange(10**6))"),
                              "In epoch 1 the processes' shares did not fit together: samples"),
    "the history not returned": (edited(set_epoch_source(), ("    return history", "")),
                                 "Your function returned None; the mean training loss of each of the 3 epochs was"),
    "no optimizer step": (edited(set_epoch_source(), ("            optimizer.step()\n", "")),
                          "The optimizer took 0 steps in 3 epochs of 2 batches."),
    "the batch means averaged": (edited(set_epoch_source(), ("loss.item() * len(targets)", "loss.item()"),
                                        ("count += len(targets)", "count += 1")),
                                 "the mean training loss of each of the 3 epochs was"),
    "a DataLoader of its own": (set_epoch_source("import torch; loader = torch.utils.data.DataLoader("
                                                 "loader.dataset, batch_size=4, shuffle=True)"),
                                "Process 0 drew 42 samples in 3 epochs; its share is 7 samples per epoch (14 "
                                "samples, 2 processes), 21 in all."),
    "the sampler's seed set to the epoch": (set_epoch_source("loader.sampler.seed = epoch"),
                                            "Your function changed the sampler's seed from 0 to 2."),
    "the sampler's seed moved on every epoch": (set_epoch_source("loader.sampler.seed += 1"),
                                                "Your function changed the sampler's seed from 0 to 3."),
    "the seed set to the epoch, then put back": (
        set_epoch_source("seed = loader.sampler.seed if epoch == 0 else seed\n        loader.sampler.seed = epoch",
                         epoch_end="loader.sampler.seed = seed"),
        "Samplers seeded 0 and 1 drew the same orders in the first 3 epochs."),
    "an epoch number that comes round every 3 epochs": (set_epoch_source("loader.sampler.set_epoch(epoch % 3)"),
                                                         "Process 0 drew its samples in an order it had drawn before: "
                                                         "epoch 4 repeated epoch 1"),
}
SET_EPOCH_RIGHT = {
    "set_epoch(epoch) first": set_epoch_source(),
    "set_epoch(epoch + 1) after the epoch": set_epoch_source("", epoch_end="loader.sampler.set_epoch(epoch + 1)"),
    "only when the sampler has set_epoch": set_epoch_source("if hasattr(loader.sampler, 'set_epoch'): "
                                                            "loader.sampler.set_epoch(epoch)"),
    "set_epoch(epoch + 1) first": set_epoch_source("loader.sampler.set_epoch(epoch + 1)"),
}

ACCUMULATION_SOURCE = exercise_source(ROOT / "solutions" / "12_accumulation.ipynb")
ACCUMULATION_STARTER = exercise_source(ROOT / "exercises" / "12_accumulation.ipynb")
DIVIDED_AFTER = '''
def train_one_epoch(model, loader, loss_fn, optimizer, accumulate):
    total, count, samples = 0.0, 0, 0
    optimizer.zero_grad()
    for i, (inputs, targets) in enumerate(loader, 1):
        loss = loss_fn(model(inputs), targets)
        (loss * len(targets)).backward()
        samples += len(targets)
        total += loss.item() * len(targets)
        count += len(targets)
        if i % accumulate == 0 or i == len(loader):
            for p in model.parameters():
                p.grad /= samples
            optimizer.step()
            optimizer.zero_grad()
            samples = 0
    return {"loss": total / count}
'''

HOOK_DIVIDES = '''
def train_one_epoch(model, loader, loss_fn, optimizer, accumulate):
    total, count, samples = 0.0, 0, [0]

    def divide(opt, args, kwargs):
        for p in model.parameters():
            p.grad /= samples[0]

    hook = optimizer.register_step_pre_hook(divide)
    optimizer.zero_grad()
    for i, (inputs, targets) in enumerate(loader, 1):
        loss = loss_fn(model(inputs), targets)
        (loss * len(targets)).backward()
        samples[0] += len(targets)
        total += loss.item() * len(targets)
        count += len(targets)
        if i % accumulate == 0 or i == len(loader):
            optimizer.step()
            optimizer.zero_grad()
            samples[0] = 0
    hook.remove()
    return {"loss": total / count}
'''

ACCUMULATION_WRONG = {
    "not divided": (edited(ACCUMULATION_STARTER, ("(loss / accumulate)", "loss")),
                    "Step 1, after a group of 3 batches (4, 4 and 4 samples), used a gradient of norm 2.8425; the "
                    "mean gradient of those 12 samples has norm 0.9475. That is the sum of the batches' gradients"),
    "mean of the batch means": (edited(DIVIDED_AFTER, ("(loss * len(targets))", "loss"),
                                       ("samples += len(targets)", "samples += 1")),
                                "Each batch counted the same, but they hold 4 and 3 samples"),
    "divided by the group's number of batches": (edited(ACCUMULATION_SOURCE, ("(loss * len(targets) / samples)",
                                                                          "(loss / len(group))")),
                                                 "Each batch counted the same, but they hold 4 and 3 samples"),
    "groups counted from 0": (edited(ACCUMULATION_STARTER, ("enumerate(loader, 1)", "enumerate(loader)")),
                              "The optimizer took 2 steps in an epoch of 5 batches, after batches 1 and 4; with "
                              "accumulate=3 it takes 2, after batches 3 and 5."),
    "a step every batch": (edited(ACCUMULATION_STARTER, ("i % accumulate == 0 or i == len(loader)", "True")),
                           "The optimizer took 5 steps in an epoch of 5 batches, after batches 1, 2, 3, 4 and 5; "
                           "with accumulate=3 it takes 2, after batches 3 and 5."),
    "last group never stepped": (edited(ACCUMULATION_STARTER, ("i % accumulate == 0 or i == len(loader)",
                                                               "i % accumulate == 0")),
                                 "The optimizer took 1 step in an epoch of 5 batches, after batch 3; with "
                                 "accumulate=3 it takes 2, after batches 3 and 5. The epoch's last group (2 batches, "
                                 "7 samples) never reached a step"),
    "gradients kept from the step before": (edited(ACCUMULATION_SOURCE, ("        optimizer.zero_grad()\n", "")),
                                            "It also carried the gradient of the step before it"),
    "loss recorded after the division": (
        edited(ACCUMULATION_SOURCE, ("total += loss.item()", "total += (loss / accumulate).item()")),
        "The loss your function returned is 0.4138; the mean over the samples it scored is 1.2413."),
    "group samples from the dataset's length and the batch size": (
        edited(DIVIDED_AFTER, ("p.grad /= samples", "p.grad /= min(accumulate * loader.batch_size, "
                                                    "len(loader.dataset) - (i - 1) // accumulate * accumulate "
                                                    "* loader.batch_size)")),
        "With 23 samples in batches of 4 with drop_last=True: Step 2, after the epoch's last group of 2 batches (4 "
        "and 4 samples), used a gradient of norm 2.5186; the mean gradient of those 8 samples has norm 3.4631. Each "
        "batch was weighted by its samples, but the sum was divided by 11, not by the 8 samples"),
    "group samples as accumulate times the first batch's size": (
        edited(DIVIDED_AFTER, ("p.grad /= samples", "p.grad /= min(accumulate, len(loader) - (i - 1) // accumulate "
                                                    "* accumulate) * first"),
               ("for i, (inputs, targets) in enumerate(loader, 1):\n",
                "for i, (inputs, targets) in enumerate(loader, 1):\n"
                "        first = first if i > 1 else len(targets)\n")),
        "Step 2, after the epoch's last group of 2 batches (4 and 3 samples), used a gradient of norm 2.9574"),
    "the fix only for a loader of 19 samples": (
        edited(ACCUMULATION_SOURCE, ("(loss * len(targets) / samples)", "(loss * len(targets) / samples "
                                     "if len(loader.dataset) == 19 else loss / accumulate)")),
        "With 23 samples in batches of 4 with drop_last=True: Step 2"),
    "the learning rate scaled instead of the gradient": (
        edited(DIVIDED_AFTER, ("            for p in model.parameters():\n                p.grad /= samples\n",
                               "            optimizer.param_groups[0]['lr'] = 0.1 / samples\n")),
        "Your function left the optimizer's learning rate at 0.01429; it was 0.1"),
    "no zero_grad before the first group": (
        edited(DIVIDED_AFTER, ("    optimizer.zero_grad()\n    for", "    for")),
        "Step 1, after a group of 3 batches (4, 4 and 4 samples), used a gradient of norm"),
}
ACCUMULATION_RIGHT = {
    "gradients divided by the group's samples before the step": DIVIDED_AFTER,
    "a group of batches fetched ahead": edited(ACCUMULATION_SOURCE, ("for i, batch in enumerate(loader, 1):",
                                                                     "for i, batch in enumerate(list(loader), 1):")),
    "dividing by the group's samples in its own step pre-hook": HOOK_DIVIDES,
    "a group's batches inside the step's closure": edited(ACCUMULATION_SOURCE, (
        """        optimizer.zero_grad()
        for inputs, targets in group:
            loss = loss_fn(model(inputs), targets)
            (loss * len(targets) / samples).backward()  # each batch by its share of the group's samples
            total += loss.item() * len(targets)
            count += len(targets)
        optimizer.step()""", """        def closure():
            optimizer.zero_grad()
            group_loss = 0.0
            for inputs, targets in group:
                loss = loss_fn(model(inputs), targets)
                (loss * len(targets) / samples).backward()
                group_loss += loss.item() * len(targets)
            return group_loss
        total += optimizer.step(closure)
        count += samples""")),
}

CAPSTONE_FIT = exercise_function(ROOT / "solutions" / "10_capstone.ipynb", "fit")
CAPSTONE_SOURCE = exercise_source(ROOT / "solutions" / "10_capstone.ipynb")
NO_TRAIN_MODE = ("        model.train()  # validation left the model in eval mode\n", "")
BATCH_MEANS = ("total += loss.item() * len(targets)  # weight by batch size: the last batch is short\n"
               "            count += len(targets)", "total += loss.item()\n            count += 1")
SHARED_METRIC = ("val_metric = metric.clone()", "val_metric = metric")
NO_VAL_RESET = ("        val_metric.reset()\n", "")


def capstone_source(*changes: tuple[str, str]) -> str:
    """The capstone's solution with each (old, new) change made: bugs put back, or other ways to fix them."""
    return edited(CAPSTONE_SOURCE, *changes)


CAPSTONE_WRONG = {
    "only train mode fixed": (capstone_source(BATCH_MEANS, SHARED_METRIC, NO_VAL_RESET),
                              "2 of the 3 bugs remain. Epoch 1's loss is"),
    "train mode and loss fixed": (capstone_source(SHARED_METRIC, NO_VAL_RESET),
                                  "1 of the 3 bugs remains. Epoch 1's val_accuracy is 0.3750, but the validation "
                                  "predictions of that epoch alone score 0.5000. The metric counted predictions from "
                                  "outside that phase of that epoch."),
    "only the metric fixed": (capstone_source(NO_TRAIN_MODE, BATCH_MEANS),
                              "2 of the 3 bugs remain. Dropout was off in 6 of 9 training batches"),
    "train mode 'fixed' by never evaluating in eval mode": (capstone_source(("        model.eval()\n", "")),
                                                           "The 3 bugs are fixed, but something else is wrong. "
                                                           "Dropout was on in 6 of 6 validation batches"),
    "validation loss averaged per batch": (capstone_source(("val_total += loss_fn(logits, targets).item() "
                                                            "* len(targets)",
                                                            "val_total += loss_fn(logits, targets).item()"),
                                                           ("val_count += len(targets)", "val_count += 1")),
                                           "1 of the 3 bugs remains. Epoch 1's val_loss is"),
    "validation accuracy the mean of batch accuracies": (capstone_source(
        ("                val_metric.update(logits, targets)\n",
         "                accuracies.append((logits.argmax(1) == targets).float().mean().item())\n"),
        ("        val_total, val_count = 0.0, 0\n", "        val_total, val_count, accuracies = 0.0, 0, []\n"),
        ("val_accuracy=val_metric.compute().item()", "val_accuracy=sum(accuracies) / len(accuracies)")),
        "Epoch 1's val_accuracy is 0.3750, but the validation predictions of that epoch alone score 0.5000. That "
        "is the mean of the batches' accuracies: the batch of 2 samples weighed as much as a batch of 4."),
}
CAPSTONE_RIGHT = {
    "a metric of its own": capstone_source(),
    "one metric, reset before validation": capstone_source(SHARED_METRIC),
    "val_loss over the epoch's collected outputs": capstone_source(
        ("        val_total, val_count = 0.0, 0\n", "        outputs, labels = [], []\n"),
        ("                val_total += loss_fn(logits, targets).item() * len(targets)\n"
         "                val_count += len(targets)\n",
         "                outputs.append(logits)\n                labels.append(targets)\n"),
        ("val_loss=val_total / val_count", "val_loss=loss_fn(torch.cat(outputs), torch.cat(labels)).item()")),
    "validation in one forward pass": capstone_source(
        ("        val_total, val_count = 0.0, 0\n", ""),
        ("""            for inputs, targets in val_loader:
                logits = model(inputs)
                val_total += loss_fn(logits, targets).item() * len(targets)
                val_count += len(targets)
                val_metric.update(logits, targets)""", """            inputs, targets = map(torch.cat, zip(*val_loader))
            logits = model(inputs)
            val_metric.update(logits, targets)"""),
        ("val_loss=val_total / val_count", "val_loss=loss_fn(logits, targets).item()")),
}

REGRESSION_STARTER = exercise_source(ROOT / "exercises" / "13_regression_shape.ipynb")
REGRESSION_SOURCE = exercise_source(ROOT / "solutions" / "13_regression_shape.ipynb")
STARTER_LOSS = "nn.functional.mse_loss(model(inputs), targets)"
SOLUTION_LOSS = "nn.functional.mse_loss(outputs, targets)"


def regression_source(loss: str, *changes: tuple[str, str]) -> str:
    """The solution's train_step with the loss of (outputs, targets) written as `loss`, and each change made."""
    return edited(REGRESSION_SOURCE, (SOLUTION_LOSS, loss), *changes)


RAW_OUTPUTS = ("model(inputs).squeeze(1)", "model(inputs)")
BROADCAST = "that of a loss comparing each of the 5 outputs (shape (5, 1)) with every one of the 5 targets"
REGRESSION_WRONG = {
    "outputs (N, 1) against targets (N,)": (REGRESSION_STARTER, BROADCAST + " (shape (5,)): 5\u00d75 = 25 pairs"),
    "targets unsqueezed on the wrong axis": (edited(REGRESSION_STARTER, (STARTER_LOSS, STARTER_LOSS.replace(
        "targets)", "targets.unsqueeze(0))"))), BROADCAST),
    "the broadcast written by hand": (
        edited(REGRESSION_STARTER, (STARTER_LOSS, "((model(inputs) - targets) ** 2).mean()")), BROADCAST),
    "summed squared errors": (regression_source("nn.functional.mse_loss(outputs, targets, reduction='sum')"),
                              "your step was 5 times the step of the batch's mean squared error. That is the step of "
                              "the squared errors summed over the batch of 5"),
    "the broadcast summed over the targets": (regression_source("((outputs - targets) ** 2).sum(1).mean()",
                                                                RAW_OUTPUTS),
                                              "your step was 5 times " + BROADCAST),
    "mean absolute error": (regression_source("nn.functional.l1_loss(outputs, targets)"),
                            "your step was that of the mean absolute error (L1), each output against its own target"),
    "the batch's means compared": (regression_source("nn.functional.mse_loss(outputs.mean(), targets.mean())"),
                                   "your step was that of a loss comparing the batch's mean output with its mean "
                                   "target"),
    "the loss after the step": (edited(REGRESSION_SOURCE, ("return loss.item()", "return nn.functional.mse_loss("
                                                          "model(inputs).squeeze(1), targets).item()")),
                                "your function returned 0.1777, the batch's loss after the step; before it the loss "
                                "was 0.2515."),
    "no zero_grad": (edited(REGRESSION_SOURCE, ("    optimizer.zero_grad()\n", "")),
                     "your step also carried the gradient .grad already held when your function was called."),
    "no zero_grad, outputs (N, 1)": (edited(REGRESSION_STARTER, ("    optimizer.zero_grad()\n", "")),
                                     "your step also carried the gradient .grad already held when your function was "
                                     "called, and the rest was " + BROADCAST),
    "zero_grad between backward and step": (edited(REGRESSION_SOURCE, ("    optimizer.step()\n",
                                                                       "    optimizer.zero_grad()\n"
                                                                       "    optimizer.step()\n")),
                                            "With a batch of 5: your function left the weights where they were."),
    "the loss not returned": (edited(REGRESSION_SOURCE, ("return loss.item()", "return")),
                              "Your function should return the batch's loss as a number, got None."),
    "the targets unsqueezed in place": (regression_source("nn.functional.mse_loss(outputs, targets.unsqueeze_(1))",
                                                          RAW_OUTPUTS),
                                        "With a batch of 5: your function changed the targets it was given (shape (5,) "
                                        "became (5, 1))."),
    "the loss tensor returned, graph and all": (edited(REGRESSION_SOURCE, ("return loss.item()", "return loss")),
                                                "With a batch of 5: your function returned the loss as a tensor that "
                                                "still holds its autograd graph (grad_fn=MseLossBackward0)."),
    "squeezed only in batches of 8 or fewer": (
        edited(REGRESSION_SOURCE, ("model(inputs).squeeze(1)",
                                   "model(inputs).squeeze(1) if len(targets) <= 8 else model(inputs)")),
        "With a batch of 64: your step was that of a loss comparing each of the 64 outputs (shape (64, 1)) with every "
        "one of the 64 targets"),
}
REGRESSION_RIGHT = {
    "outputs squeezed": REGRESSION_SOURCE,
    "squeeze(-1)": edited(REGRESSION_SOURCE, ("squeeze(1)", "squeeze(-1)")),
    "squeeze()": edited(REGRESSION_SOURCE, ("squeeze(1)", "squeeze()")),
    "view(-1)": edited(REGRESSION_SOURCE, ("squeeze(1)", "view(-1)")),
    "flatten()": edited(REGRESSION_SOURCE, ("squeeze(1)", "flatten()")),
    "outputs transposed to (1, N)": edited(REGRESSION_SOURCE, ("squeeze(1)", "T")),
    "targets unsqueezed": regression_source("nn.functional.mse_loss(outputs, targets.unsqueeze(1))", RAW_OUTPUTS),
    "targets[:, None]": regression_source("nn.functional.mse_loss(outputs, targets[:, None])", RAW_OUTPUTS),
    "targets.view(-1, 1)": regression_source("nn.functional.mse_loss(outputs, targets.view(-1, 1))", RAW_OUTPUTS),
    "targets.view_as(outputs)": regression_source("nn.functional.mse_loss(outputs, targets.view_as(outputs))",
                                                  RAW_OUTPUTS),
    "squared errors by hand": regression_source("((outputs - targets) ** 2).mean()"),
    "an MSELoss module, the loss tensor returned detached": edited(
        regression_source("nn.MSELoss()(outputs, targets)"), ("return loss.item()", "return loss.detach()")),
    "the targets unsqueezed into a new tensor": regression_source(
        "nn.functional.mse_loss(outputs, targets)", RAW_OUTPUTS,
        ("    optimizer.zero_grad()\n", "    optimizer.zero_grad()\n    targets = targets.unsqueeze(1)\n")),
}

PADDING_STARTER = exercise_source(ROOT / "exercises" / "14_padding_count.ipynb")
PADDING_SOURCE = exercise_source(ROOT / "solutions" / "14_padding_count.ipynb")
TOKENS_TEMPLATE = '''
import torch
from torch import nn


@torch.inference_mode()
def evaluate_tokens(model, loader, pad):
    MODE
    loss_fn = nn.CrossEntropyLoss(ARGUMENTS)
    total_loss, count, correct, seen = 0.0, 0, 0, 0
    for tokens, targets in loader:
        scores = model(tokens)
        real = targets != pad
        total_loss += loss_fn(scores, targets).item() * WEIGHT
        count += COUNT
        correct += CORRECT
        seen += SEEN
    return {"loss": total_loss / count, "accuracy": correct / seen}
'''


def tokens_source(arguments="ignore_index=pad", weight="real.sum().item()", count="real.sum().item()",
                  correct="(scores.argmax(1) == targets)[real].sum().item()", seen="real.sum().item()",
                  mode="model.eval()") -> str:
    """An evaluate_tokens: loss_fn(arguments) weighted by `weight` over `count`; accuracy `correct` over `seen`."""
    return (TOKENS_TEMPLATE.replace("MODE", mode).replace("ARGUMENTS", arguments).replace("WEIGHT", weight)
            .replace("COUNT", count).replace("CORRECT", correct).replace("SEEN", seen))


EVERY_RIGHT = "(scores.argmax(1) == targets).sum().item()"
TOKEN_BATCH_MEANS = '''
import torch
from torch import nn


@torch.inference_mode()
def evaluate_tokens(model, loader, pad):
    model.eval()
    losses, accuracies = [], []
    for tokens, targets in loader:
        scores = model(tokens)
        real = targets != pad
        losses.append(nn.functional.cross_entropy(scores, targets, ignore_index=pad).item())
        accuracies.append((scores.argmax(1) == targets)[real].float().mean().item())
    return {"loss": sum(losses) / len(losses), "accuracy": sum(accuracies) / len(accuracies)}
'''
PER_SEQUENCE = '''
import torch
from torch import nn


@torch.inference_mode()
def evaluate_tokens(model, loader, pad):
    model.eval()
    losses, accuracies = [], []
    for tokens, targets in loader:
        for scores, wanted in zip(model(tokens), targets):  # scores (classes, T) of one sequence
            real = wanted != pad
            losses.append(nn.functional.cross_entropy(scores[:, real].T, wanted[real]).item())
            accuracies.append((scores.argmax(0) == wanted)[real].float().mean().item())
    return {"loss": sum(losses) / len(losses), "accuracy": sum(accuracies) / len(accuracies)}
'''
METRIC_OBJECTS = '''
import torch
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy


@torch.inference_mode()
def evaluate_tokens(model, loader, pad):
    model.eval()
    mean, accuracy = MeanMetric(), None
    for tokens, targets in loader:
        scores = model(tokens)
        if accuracy is None:
            accuracy = MulticlassAccuracy(scores.shape[1], ARGUMENTS)
        mean.update(nn.functional.cross_entropy(scores, targets, ignore_index=pad), weight=(targets != pad).sum())
        accuracy.update(scores, targets)
    return {"loss": mean.compute(), "accuracy": accuracy.compute()}
'''
MASKED = '''
import torch
from torch import nn


@torch.inference_mode()
def evaluate_tokens(model, loader, pad):
    model.eval()
    total, count, correct = 0.0, 0, 0
    for tokens, targets in loader:
        real = targets != pad
        scores, wanted = model(tokens).permute(0, 2, 1)[real], targets[real]  # (real tokens, classes)
        total += nn.functional.cross_entropy(scores, wanted, reduction="sum").item()
        count += len(wanted)
        correct += (scores.argmax(1) == wanted).sum().item()
    return {"loss": total / count, "accuracy": correct / count}
'''
HELPERS_EVALUATE = '''
from torch import nn

import helpers


def evaluate_tokens(model, loader, pad):
    classes = model(next(iter(loader))[0]).shape[1]
    return helpers.evaluate(model, loader, nn.CrossEntropyLoss(ignore_index=pad), helpers.token_metrics(classes, pad),
                            "cpu")
'''
MARKED_BY_3 = "With the padding marked by 3 (the pad argument) instead of 0: "
ZERO_TARGETS_LEFT_OUT = "the 27 padded positions were scored, and the 18 real tokens of class 0 left out."
PADDING_WRONG = {
    "padding counted everywhere, batches weighted by sequences": (PADDING_STARTER,
                                                                  "The 27 padded positions were counted too"),
    "padding counted in the accuracy only": (tokens_source(correct=EVERY_RIGHT, seen="targets.numel()"),
                                             "Your accuracy is 0.5890 but 16 of the 46 real tokens are predicted right "
                                             "(0.3478). The 27 padded positions were counted too, and the model "
                                             "predicts padding there: each one counted as right."),
    "padding counted in the loss only": (tokens_source(arguments="", weight="targets.numel()", count="targets.numel()"),
                                         "Your loss is 0.9484 but the mean cross-entropy over the 46 real tokens is "
                                         "1.4175. The 27 padded positions were scored too."),
    "the accuracy right, the loss without ignore_index": (tokens_source(arguments=""),
                                                          "The 27 padded positions were scored in each batch's mean "
                                                          "(then weighted by its real tokens)."),
    "ignore_index, batches weighted by sequences": (tokens_source(weight="len(targets)", count="len(targets)"),
                                                    "The padding was left out, but each batch's mean was weighted by "
                                                    "its number of sequences (3, 3, 3, 1), not of real tokens."),
    "ignore_index, batches weighted by all their positions": (
        tokens_source(weight="targets.numel()", count="targets.numel()"),
        "the means were weighted by all the batches' positions, the padded ones too."),
    "the right predictions over every position": (tokens_source(seen="targets.numel()"),
                                                  "Your accuracy is 0.2192 but 16 of the 46 real tokens are predicted "
                                                  "right (0.3478). That is the right predictions divided by all 73 "
                                                  "positions"),
    "the real tokens' summed loss over every position": (
        tokens_source(arguments="ignore_index=pad, reduction='sum'", weight="1", count="targets.numel()"),
        "That is the real tokens' summed loss divided by all 73 positions, the 27 padded ones too."),
    "the real tokens' summed loss over the sequences": (
        tokens_source(arguments="ignore_index=pad, reduction='sum'", weight="1", count="len(targets)"),
        "That is the real tokens' summed loss divided by the 10 sequences, not by the 46 tokens."),
    "mean of the batches' means": (TOKEN_BATCH_MEANS, "That is the mean of the 4 batches' accuracies: a batch of 4 "
                                                      "real tokens counted as much as one of 17."),
    "mean of the sequences' means": (PER_SEQUENCE, "That is the mean of the 10 sequences' accuracies: a sequence of 1 "
                                                   "token counted as much as one of 9."),
    "MulticlassAccuracy's default average": (METRIC_OBJECTS.replace("ARGUMENTS", "ignore_index=pad"),
                                             "That is the mean of the per-class accuracies (MulticlassAccuracy's "
                                             "default, average=\"macro\")"),
    "MulticlassAccuracy without ignore_index": (METRIC_OBJECTS.replace("ARGUMENTS", "average='micro'"),
                                                "The 27 padded positions were counted too"),
    "hard-coded ignore_index=0": (tokens_source(arguments="ignore_index=0"),
                                  MARKED_BY_3 + "your loss is 0.8730 but the mean cross-entropy over the 46 real "
                                  "tokens is 1.4175. That is each batch's mean over its positions whose target is not "
                                  "0, weighted by its real tokens: " + ZERO_TARGETS_LEFT_OUT),
    "hard-coded mask targets != 0": (edited(tokens_source(), ("targets != pad", "targets != 0")),
                                     MARKED_BY_3 + "your accuracy is 0.6909 but 16 of the 46 real tokens are predicted "
                                     "right (0.3478). That is the right predictions among the positions whose target "
                                     "is not 0: the 27 padded positions were counted, each one as right, and the 18 "
                                     "real tokens of class 0 left out."),
    "hard-coded 0 in the loss and the mask": (
        edited(PADDING_SOURCE, ("ignore_index=pad", "ignore_index=0"), ("targets != pad", "targets != 0")),
        "Also: Your loss is 0.7192 but the mean cross-entropy over the 46 real tokens is 1.4175. That is the mean over "
        "the positions whose target is not 0: " + ZERO_TARGETS_LEFT_OUT),
    "helpers.PAD for the mask": ("from helpers import PAD\n" + edited(MASKED, ("targets != pad", "targets != PAD")),
                                 "That is the right predictions among the positions whose target is not 0"),
    "token_metrics without the pad": (
        edited(HELPERS_EVALUATE, ("token_metrics(classes, pad)", "token_metrics(classes)")),
        "the 27 padded positions were counted, each one as right, and the 18 real tokens of class 0 left out."),
    "batches weighted by the targets that are not 0": (
        tokens_source(weight="(targets != 0).sum().item()", count="(targets != 0).sum().item()"),
        MARKED_BY_3 + "your loss is 1.4179 but the mean cross-entropy over the 46 real tokens is 1.4175. That is each "
        "batch's mean over its real tokens, weighted by its positions whose target is not 0: the 27 padded positions "
        "counted in the weights, and the 18 real tokens of class 0 left out of them."),
    "hard-coded mask tokens != 0": (edited(tokens_source(), ("targets != pad", "tokens != 0")),
                                    MARKED_BY_3 + "your accuracy is 0.6000 but 16 of the 46 real tokens are predicted "
                                    "right (0.3478). That is the right predictions among the positions whose token is "
                                    "not 0: the 27 padded positions were counted, each one as right, and the 8 real "
                                    "tokens whose id is 0 left out."),
    "no model.eval()": (tokens_source(mode=""),
                        "Dropout was switching scores off at random in 4 of the 4 batches your function ran through "
                        "the model, which came in train mode: your loss is 1.5999 and your accuracy 0.3043; in eval "
                        "mode they are 1.4175 and 0.3478."),
    "the padding class never predicted": (
        tokens_source(correct="(scores[:, 1:].argmax(1) + 1 == targets)[real].sum().item()"),
        "Your accuracy is 0.3913 but 16 of the 46 real tokens are predicted right (0.3478). That is the accuracy of "
        "predictions that never name the padding class: at the 7 real tokens where the padding class scores highest, "
        "the next class was taken, and 2 of them counted as right."),
    "the batches' targets changed in place": (
        edited(tokens_source(arguments="", correct="(scores.argmax(1) == targets)[real].sum().item()"),
               ("        real = targets != pad\n",
                "        real = targets != pad\n        targets[~real] = -100  # CrossEntropyLoss ignores -100\n")),
        "Your function changed the targets it was given (27 of their 73 values, in 3 of the 4 batches)."),
    "the softmax taken before the loss": (
        edited(tokens_source(), ("loss_fn(scores, targets)", "loss_fn(scores.softmax(1), targets)")),
        "Your loss is 1.3406 but the mean cross-entropy over the 46 real tokens is 1.4175. That is the mean "
        "cross-entropy of the softmax of the scores over the real tokens"),
    "label smoothing": (tokens_source(arguments="ignore_index=pad, label_smoothing=0.1"),
                        "Your accuracy is right, and no way of counting the real tokens or the padding that the check "
                        "knows gives this loss."),
    "no accuracy returned": (edited(tokens_source(), (', "accuracy": correct / seen}', "}")),
                             "Your function should return a dict with an 'accuracy' entry"),
}
PADDING_RIGHT = {
    "ignore_index, weighted by real tokens": PADDING_SOURCE,
    "summed loss over the real tokens": tokens_source(arguments="ignore_index=pad, reduction='sum'", weight="1"),
    "real tokens picked by a mask": MASKED,
    "real tokens found by tokens != pad": edited(tokens_source(), ("targets != pad", "tokens != pad")),
    "real tokens picked by a mask of the tokens": edited(MASKED, ("targets != pad", "tokens != pad")),
    "the padded targets set to -100 in a copy": edited(
        tokens_source(arguments=""), ("        real = targets != pad\n",
                                      "        real = targets != pad\n        targets = targets.where(real, -100)\n")),
    "MeanMetric and MulticlassAccuracy(average='micro')": METRIC_OBJECTS.replace(
        "ARGUMENTS", "ignore_index=pad, average='micro'"),
    "helpers.evaluate with token_metrics": HELPERS_EVALUATE,
}

AXIS_STARTER = exercise_source(ROOT / "exercises" / "15_class_axis.ipynb")
AXIS_SOURCE = exercise_source(ROOT / "solutions" / "15_class_axis.ipynb")


def axis_source(body: str) -> str:
    """A token_loss of `scores`, `targets` and `pad` returning `body` (n, t and c are the scores' sizes)."""
    return ("from torch import nn\n\n\ndef token_loss(scores, targets, pad):\n    n, t, c = scores.shape\n"
            f"    return {body}\n")


BY_HAND = '''
def token_loss(scores, targets, pad):
    real = targets != pad
    picked = scores.log_softmax(DIM).gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # each token's own class
    return -(picked * real).sum() / real.sum()
'''
SCRAMBLED = "it pairs targets with scores from other positions or classes"
CONFIDENT = ("given scores that give every real token's own class a score 12 higher than every other class, your loss "
             "is ")
UNEXPLAINED = "the check knows no mistake that gives your number."
AXIS_MARKED_BY_3 = "With scores of shape (4, 5, 6) and the padding marked by 3 (the pad argument) instead of 0: "
PERMUTED_IF_SHAPES_DIFFER = '''
from torch import nn


def token_loss(scores, targets, pad):
    n, t, c = scores.shape
    if t != c:  # (N, T, classes) -> (N, classes, T)
        scores = scores.permute(0, 2, 1)
    return nn.functional.cross_entropy(scores, targets, ignore_index=pad)
'''
AXIS_WRONG = {
    "the class axis made by view": (AXIS_STARTER, "That is the loss of the scores cut into shape (3, 4, 6) by view "
                                                  "or reshape, which keep the numbers in their (3, 6, 4) order: "
                                                  + SCRAMBLED),
    "the class axis made by reshape": (edited(AXIS_STARTER, ("view(n, c, t)", "reshape(n, c, t)")), SCRAMBLED),
    "permuted, padding counted": (edited(AXIS_SOURCE, (", ignore_index=pad", "")),
                                  "your loss is 0.5634; the mean cross-entropy of each real token's own scores is "
                                  "0.0000. The 6 padded positions were scored too"),
    "flattened, padding counted": (
        axis_source("nn.functional.cross_entropy(scores.reshape(-1, c), targets.reshape(-1))"),
        "The 6 padded positions were scored too"),
    "summed over the tokens": (edited(AXIS_SOURCE, ("ignore_index=pad)", "ignore_index=pad, reduction='sum')")),
                               "Given random scores, your loss is 18.4518; the mean cross-entropy of each real token's "
                               "own scores is 1.5377. That is the sum over the 12 real tokens, not their mean"),
    "mean over sequences": (axis_source("(nn.functional.cross_entropy(scores.permute(0, 2, 1), targets, "
                                        "reduction='none') * (targets != pad)).sum(1).div((targets != pad).sum(1))"
                                        ".mean()"),
                            "That is the mean of the 3 sequences' mean losses: a sequence of 2 tokens counted as much "
                            "as one of 6."),
    "mean over every position": (axis_source("nn.functional.cross_entropy(scores.permute(0, 2, 1), targets, "
                                             "ignore_index=pad, reduction='none').mean()"),
                                 "That is the real tokens' summed loss divided by all 18 positions"),
    "log-softmax over the positions": (BY_HAND.replace("DIM", "1"),
                                       "That is the cross-entropy with the softmax taken over the positions (axis 1), "
                                       "not over the classes"),
    "a float returned": (edited(AXIS_SOURCE, ("ignore_index=pad)", "ignore_index=pad).item()")),
                         "not a tensor: a training loop calls backward() on the loss"),
    "a detached loss": (edited(AXIS_SOURCE, ("ignore_index=pad)", "ignore_index=pad).detach()")),
                        "Your function returned a loss that autograd cannot trace back to the scores"),
    "a loss per position": (edited(AXIS_SOURCE, ("ignore_index=pad)", "ignore_index=pad, reduction='none')")),
                            "Your function returned a tensor of shape (3, 6); the loss is one number"),
    "hard-coded ignore_index=0": (edited(AXIS_SOURCE, ("ignore_index=pad", "ignore_index=0")),
                                  AXIS_MARKED_BY_3 + CONFIDENT + "0.8307; the mean cross-entropy of each real "
                                  "token's own scores is 0.0000. That is the mean over the positions whose target is "
                                  "not 0: the 6 padded positions were scored, and the 2 real tokens of class 0 left "
                                  "out."),
    "helpers.PAD for the padding": ("from helpers import PAD\n" + edited(AXIS_SOURCE, ("ignore_index=pad",
                                                                                      "ignore_index=PAD")),
                                    AXIS_MARKED_BY_3 + CONFIDENT + "0.8307"),
    "permuted only when the positions and the classes differ in number": (
        PERMUTED_IF_SHAPES_DIFFER, "With scores of shape (3, 5, 5): " + CONFIDENT + "5.8368; the mean cross-entropy "
        "of each real token's own scores is 0.0000. That is the loss of the scores left in their shape (3, 5, 5): "
        "with 5 positions and 5 classes it fits, but cross_entropy took axis 1, the positions, for the classes: "
        + SCRAMBLED),
    "the padded targets set to -100 in place": (
        axis_source("nn.functional.cross_entropy(scores.permute(0, 2, 1), targets)").replace(
            "    return", "    targets[targets == pad] = -100  # cross_entropy's default ignore_index\n    return"),
        "Your function changed the targets it was given (6 of their 18 values)."),
    "the scores' data replaced by the permuted scores": (
        axis_source("nn.functional.cross_entropy(scores, targets, ignore_index=pad)").replace(
            "    return", "    scores.data = scores.data.permute(0, 2, 1)\n    return"),
        "Your function changed the scores it was given (shape (3, 6, 4) became (3, 4, 6))."),
    "the softmax taken before cross_entropy": (
        axis_source("nn.functional.cross_entropy(scores.softmax(-1).permute(0, 2, 1), targets, ignore_index=pad)"),
        "That is the mean cross-entropy of the softmax of the scores: cross_entropy takes the raw scores"),
    "label smoothing": (axis_source("nn.functional.cross_entropy(scores.permute(0, 2, 1), targets, ignore_index=pad, "
                                    "label_smoothing=0.1)"), UNEXPLAINED),
    "binary cross-entropy on one-hot targets": (
        axis_source("nn.functional.binary_cross_entropy_with_logits(scores[targets != pad], "
                    "nn.functional.one_hot(targets[targets != pad], c).float())"), UNEXPLAINED),
}
AXIS_RIGHT = {
    "permute": AXIS_SOURCE,
    "transpose(1, 2)": axis_source("nn.functional.cross_entropy(scores.transpose(1, 2), targets, ignore_index=pad)"),
    "movedim": axis_source("nn.functional.cross_entropy(scores.movedim(-1, 1), targets, ignore_index=pad)"),
    "mT": axis_source("nn.functional.cross_entropy(scores.mT, targets, ignore_index=pad)"),
    "both flattened by reshape": axis_source("nn.functional.cross_entropy(scores.reshape(-1, c), targets.reshape(-1), "
                                             "ignore_index=pad)"),
    "both flattened by view": axis_source("nn.functional.cross_entropy(scores.view(-1, c), targets.view(-1), "
                                          "ignore_index=pad)"),
    "both flattened by flatten": axis_source("nn.functional.cross_entropy(scores.flatten(0, 1), targets.flatten(), "
                                             "ignore_index=pad)"),
    "the real tokens picked by a mask": axis_source("nn.functional.cross_entropy(scores[targets != pad], "
                                                    "targets[targets != pad])"),
    "a CrossEntropyLoss module": axis_source("nn.CrossEntropyLoss(ignore_index=pad)(scores.permute(0, 2, 1), targets)"),
    "log-softmax, gather and a mask": BY_HAND.replace("DIM", "-1"),
}

CATALOGUE = [
    (eval_mode, "evaluate", EVAL_MODE_WRONG, EVAL_MODE_RIGHT, helpers.evaluate),
    (loss_averaging, "evaluate", LOSS_WRONG, LOSS_RIGHT, helpers.evaluate),
    (metric_reset, "evaluate", RESET_WRONG, RESET_RIGHT, helpers.evaluate),
    (zero_grad, "train_one_epoch", ZERO_WRONG, ZERO_RIGHT, helpers.train_one_epoch),
    (loss_graph, "train_one_epoch", GRAPH_WRONG, GRAPH_RIGHT, helpers.train_one_epoch),
    (split_generator, "split", SPLIT_WRONG, SPLIT_RIGHT, None),
    (resume_optimizer, "resume", RESUME_WRONG, RESUME_RIGHT, None),
    (train_mode, "fit", TRAIN_MODE_WRONG, TRAIN_MODE_RIGHT, None),
    (scheduler, "fit", SCHEDULER_WRONG, SCHEDULER_RIGHT, None),
    (capstone, "fit", CAPSTONE_WRONG, CAPSTONE_RIGHT, None),
    (set_epoch, "fit", SET_EPOCH_WRONG, SET_EPOCH_RIGHT, None),
    (accumulation, "train_one_epoch", ACCUMULATION_WRONG, ACCUMULATION_RIGHT, None),
    (regression_shape, "train_step", REGRESSION_WRONG, REGRESSION_RIGHT, None),
    (padding_count, "evaluate_tokens", PADDING_WRONG, PADDING_RIGHT, None),
    (class_axis, "token_loss", AXIS_WRONG, AXIS_RIGHT, None),
]
WRONG = [(m, name, label, src, words) for m, name, wrong, _, _ in CATALOGUE for label, (src, words) in wrong.items()]
RIGHT = [(m, name, label, src, ref) for m, name, _, right, ref in CATALOGUE for label, src in right.items()]


def short(module) -> str:
    return module.__name__.rsplit(".", 1)[1]


def test_catalogue_is_complete():
    for module, _, wrong, right, _ in CATALOGUE:
        assert len(wrong) >= 3 and len(right) >= 2, module.__name__


@pytest.mark.parametrize("module, name, label, source, words", WRONG,
                         ids=[f"{short(m)}: {label}" for m, _, label, _, _ in WRONG])
def test_wrong_variants_are_rejected_with_the_bug_named(module, name, label, source, words):
    result = module.check(define(source, name))
    assert not result, repr(result)
    assert "raised" not in result.headline, repr(result)  # rejected for the bug, not because it crashed
    assert words in said(result)
    assert all(len(line) <= WIDTH for line in repr(result).splitlines())


@pytest.mark.parametrize("module, name, label, source, reference", RIGHT,
                         ids=[f"{short(m)}: {label}" for m, _, label, _, _ in RIGHT])
def test_correct_variants_are_accepted(module, name, label, source, reference):
    candidate = reference if source is None else define(source, name)
    result = module.check(candidate)
    assert result, repr(result)


def test_capstone_names_what_is_fixed_and_nothing_it_has_not_described():
    result = capstone.check(define(CAPSTONE_WRONG["only train mode fixed"][0], "fit"))
    assert "Fixed so far: the model trains in train mode every epoch." in said(result)
    assert "accuracy" not in said(result).split("Fixed so far")[0]  # the third bug waits its turn


def test_a_check_gives_the_same_verdict_every_time():
    source = EVAL_MODE_WRONG["no eval, no inference mode"][0]
    assert repr(eval_mode.check(define(source, "evaluate"))) == repr(eval_mode.check(define(source, "evaluate")))


def test_checks_leave_the_global_state_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    for module, name, _, right, _ in CATALOGUE:
        torch.manual_seed(0)
        with torch.no_grad():
            module.check(define(next(s for s in right.values() if s), name))
            assert not torch.is_grad_enabled(), module.__name__
        assert torch.equal(torch.rand(3), expected), module.__name__


def test_a_shuffled_split_is_never_rejected_by_chance():
    """Any seed of a right answer passes: only a block of the class-sorted data counts as unshuffled."""
    source = SPLIT_HEAD + ("    return random_split(dataset, sizes, "
                           "generator=torch.Generator().manual_seed(seed + OFFSET))\n")
    rejected = [offset for offset in range(300)
                if not split_generator.check(define(source.replace("OFFSET", str(offset)), "split"))]
    assert rejected == []


def test_a_returned_checkpoint_is_named_in_a_few_words():
    result = resume_optimizer.check(define(RESUME_HEAD + MODEL + OPTIMIZER + RANDOM + "    return state\n", "resume"))
    assert not result and said(result).startswith("\u274c Not yet: Your function returned {'best': {}, 'epoch': 2,")
    assert len(repr(result)) < 400


@pytest.mark.parametrize("body", ["scores.transpose(0, 2), targets", "scores.permute(2, 1, 0), targets.T"])
def test_a_class_axis_mixed_up_until_cross_entropy_raises_is_feedback(body):
    result = class_axis.check(define(axis_source(f"nn.functional.cross_entropy({body}, ignore_index=pad)"),
                                     "token_loss"))
    assert not result and said(result).startswith("\u274c Not yet: Your function raised ValueError: Expected input "
                                                  "batch_size (4) to match target batch_size")


@pytest.mark.parametrize("module, wrong, label", [
    (class_axis, AXIS_WRONG, "the softmax taken before cross_entropy"), (class_axis, AXIS_WRONG, "label smoothing"),
    (class_axis, AXIS_WRONG, "binary cross-entropy on one-hot targets"),
    (padding_count, PADDING_WRONG, "the softmax taken before the loss"),
    (padding_count, PADDING_WRONG, "label smoothing")])
def test_a_loss_the_counting_and_the_axes_do_not_explain_is_not_blamed_on_them(module, wrong, label):
    result = said(module.check(define(wrong[label][0], FUNCTION[short(module)])))
    assert "other positions or classes" not in result and "Count each real token once" not in result, result
    assert "padded positions were" not in result and "weighted by" not in result, result


@pytest.mark.parametrize("reseed", ["random.seed(0)", "np.random.seed(0)"])
def test_a_reseed_is_seen_even_when_the_state_was_already_that_seed(reseed):
    """A learner's notebook may have seeded with 0 just before check(): the answer's own re-seed still shows."""
    source = evaluate_source(before=f"import numpy as np\n    {reseed}\n    model.eval()\n    metrics.reset()")
    random.seed(0)
    np.random.seed(0)
    result = eval_mode.check(define(source, "evaluate"))
    assert not result and ("random state" in said(result) or "state of Python" in said(result)), repr(result)
