"""Each exercise check: the notebook's starter fails it, the solution passes, and so do the variants below."""

import pytest

import helpers
from helpers.exercises import (
    EXERCISES, eval_mode, loss_averaging, loss_graph, metric_reset, resume_optimizer, split_generator, zero_grad,
)
from notebook_cells import ROOT, cells, define, exercise_function, tags

FUNCTION = {"eval_mode": "evaluate", "loss_averaging": "evaluate", "zero_grad": "train_one_epoch",
            "metric_reset": "evaluate", "split_generator": "split", "loss_graph": "train_one_epoch",
            "resume_optimizer": "resume"}
STARTER_SAYS = {
    "eval_mode": "validation loss changes between two calls: is dropout still active?",
    "loss_averaging": "with 10 samples in batches of 4, 4, 2, your loss is",
    "zero_grad": "the gradient grows from step to step: gradients pile up.",
    "metric_reset": "the second evaluation reported accuracy 0.5000",
    "split_generator": "the validation set changed when a model was built before the split",
    "loss_graph": "the graphs of 5 batches were alive at once",
    "resume_optimizer": "the optimizer starts from scratch: its state is empty after resume.",
}
NAMES = sorted(EXERCISES)


def module_name(notebook: str) -> str:
    return EXERCISES[notebook].__name__.rsplit(".", 1)[1]


@pytest.mark.parametrize("notebook", NAMES)
def test_starter_code_fails_with_the_intended_message(notebook):
    module = EXERCISES[notebook]
    starter = exercise_function(ROOT / "exercises" / f"{notebook}.ipynb", FUNCTION[module_name(notebook)])
    result = module.check(starter)
    assert not result and isinstance(result, helpers.exercises.Feedback)
    assert STARTER_SAYS[module_name(notebook)] in result.headline
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
    exercise, solution = cells(ROOT / "exercises" / f"{notebook}.ipynb"), cells(ROOT / "solutions" / f"{notebook}.ipynb")
    assert [(c["cell_type"], tags(c)) for c in exercise] == [(c["cell_type"], tags(c)) for c in solution]
    differ = [i for i, (a, b) in enumerate(zip(exercise, solution)) if a["source"] != b["source"]]
    assert differ and all("exercise" in tags(exercise[i]) for i in differ)


@pytest.mark.parametrize("folder, verdict", [("exercises", "\u274c Not yet:"), ("solutions", "\u2705 Correct:")])
@pytest.mark.parametrize("notebook", NAMES)
def test_stored_feedback(notebook, folder, verdict):
    check_cell = next(c for c in cells(ROOT / folder / f"{notebook}.ipynb")
                      if c["cell_type"] == "code" and ".check(" in "".join(c["source"]))
    text = "".join(check_cell["outputs"][0]["data"]["text/plain"])
    assert text.startswith(verdict)


@pytest.mark.parametrize("module", [EXERCISES[n] for n in NAMES], ids=NAMES)
def test_misuse_raises_but_a_crashing_answer_is_feedback(module):
    with pytest.raises(TypeError, match="takes your function itself"):
        module.check({"loss": 1.0})

    def crashes(*args):
        raise KeyError("targets")

    result = module.check(crashes)
    assert not result and result.headline == "Your function raised KeyError: 'targets'"


@pytest.mark.parametrize("module", [EXERCISES[n] for n in NAMES], ids=NAMES)
def test_hints_and_solution(module, capsys):
    module.hint()
    first = capsys.readouterr().out
    assert first.startswith("Hint 1 of 3 (hint(2) says more): ")
    module.hint(99)
    assert capsys.readouterr().out.startswith("Hint 3 of 3: ")
    module.solution()
    shown = capsys.readouterr().out
    assert shown.startswith(f"Solution (from solutions/{module.NOTEBOOK}.ipynb):") and "def " in shown


# The catalogue: more ways to get each exercise wrong (rejected) and right (accepted).

EVAL_HEAD = '''
import torch
from torch import nn
from torchmetrics import MeanMetric
'''
RETURN = '    return {"loss": LOSS, **{k: v.item() for k, v in metrics.compute().items()}}\n'


def evaluate_source(setup="", before_loop="model.eval()\n    metrics.reset()", accumulate="total += loss.item() * len(y); n += len(y)",
                    loss="total / n", decorator="@torch.inference_mode()", in_loop=""):
    return (EVAL_HEAD + f'''
{decorator}
def evaluate(model, loader, loss_fn, metrics, device):
    {before_loop}
    total, n, means = 0.0, 0, []
    {setup}
    for x, y in loader:
        {in_loop}
        logits = model(x.to(device))
        loss = loss_fn(logits, y.to(device))
        {accumulate}
        metrics.update(logits, y)
''' + RETURN.replace("LOSS", loss))


EVAL_MODE_WRONG = {
    "no eval, no inference mode": evaluate_source(before_loop="metrics.reset()", decorator=""),
    "model.eval without the call": evaluate_source(before_loop="model.eval\n    metrics.reset()"),
    "eval mode but autograd records": evaluate_source(decorator=""),
    "train mode restored inside the loop": evaluate_source(in_loop="model.train()"),
}
EVAL_MODE_RIGHT = {
    "no_grad": evaluate_source(decorator="@torch.no_grad()"),
    "inference_mode": evaluate_source(),
    "grad disabled by hand": evaluate_source(decorator="@torch.set_grad_enabled(False)"),
}
LOSS_WRONG = {
    "mean of batch means": evaluate_source(accumulate="means.append(loss.item())", loss="sum(means) / len(means)"),
    "weighted sum over batches": evaluate_source(loss="total / len(loader)"),
    "sum of means over samples": evaluate_source(accumulate="means.append(loss.item()); n += len(y)", loss="sum(means) / n"),
    "loader batch size as weight": evaluate_source(accumulate="total += loss.item() * loader.batch_size; n += len(y)"),
    "a NaN loss": evaluate_source(loss="float('nan')"),
}
LOSS_RIGHT = {
    "weighted sum": evaluate_source(),
    "MeanMetric with weights": evaluate_source(setup="mean = MeanMetric()", accumulate="mean.update(loss, weight=len(y))",
                                               loss="mean.compute().item()"),
    "sum reduction": evaluate_source(accumulate="total += nn.functional.cross_entropy(logits, y, reduction='sum').item(); n += len(y)"),
    "on the device": evaluate_source(setup="total = torch.zeros(())", accumulate="total += loss * len(y); n += len(y)",
                                     loss="total.item() / n"),
}
RESET_WRONG = {
    "never reset": evaluate_source(before_loop="model.eval()"),
    "reset without the call": evaluate_source(before_loop="model.eval()\n    metrics.reset"),
    "reset every batch": evaluate_source(before_loop="model.eval()", in_loop="metrics.reset()"),
    "reset before compute": (evaluate_source(before_loop="model.eval()")
                             .replace("    return {", "    metrics.reset()\n    return {")),
}
RESET_RIGHT = {
    "reset first": evaluate_source(),
    "reset after compute": evaluate_source(before_loop="model.eval()").replace(
        RETURN.replace("LOSS", "total / n"),
        "    result = {k: v.item() for k, v in metrics.compute().items()}\n    metrics.reset()\n"
        "    return {'loss': total / n, **result}\n"),
    "helpers.evaluate": None,
}

TRAIN_HEAD = '''
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
    return (TRAIN_HEAD.replace("BEFORE", before).replace("START", start).replace("MIDDLE", middle)
            .replace("END", end).replace("ACCUMULATE", accumulate).replace("LOSS", loss))


ZERO_WRONG = {
    "never": train_source(start=""),
    "once before the loop": train_source(before="optimizer.zero_grad()", start=""),
    "between backward and step": train_source(start="", middle="optimizer.zero_grad()"),
    "without the call": train_source(start="optimizer.zero_grad"),
}
ZERO_RIGHT = {
    "first thing in the step": train_source(),
    "after the step": train_source(start="", end="optimizer.zero_grad()"),
    "on the model": train_source(start="model.zero_grad(set_to_none=True)"),
    "helpers.train_one_epoch": None,
}
GRAPH_WRONG = {
    "total += loss": train_source(before="total = torch.zeros(())", accumulate="total += loss * len(y)",
                                  loss="total.item() / n"),
    "total = total + loss": train_source(accumulate="total = total + loss * len(y)", loss="float(total) / n"),
    "a list of losses": train_source(accumulate="kept.append(loss * len(y))", loss="float(sum(kept)) / n"),
    "a tensor returned with its graph": train_source(before="total = torch.zeros(())", accumulate="total += loss.detach() * len(y)",
                                                     loss="total / n + 0 * loss"),
}
GRAPH_RIGHT = {
    "detach": train_source(before="total = torch.zeros(())", accumulate="total += loss.detach() * len(y)",
                           loss="total.item() / n"),
    "item": train_source(),
    "MeanMetric": train_source(before="mean = MeanMetric()", accumulate="mean.update(loss.detach(), weight=len(y))",
                               loss="mean.compute().item()"),
    "helpers.train_one_epoch": None,
}

SPLIT_HEAD = '''
import torch
from torch.utils.data import Subset, random_split


def split(dataset, val_size, seed):
    sizes = [len(dataset) - val_size, val_size]
'''
SPLIT_WRONG = {
    "global generator": SPLIT_HEAD + "    return random_split(dataset, sizes)\n",
    "unseeded generator": SPLIT_HEAD + "    return random_split(dataset, sizes, generator=torch.Generator())\n",
    "re-seeds the global generator": SPLIT_HEAD + "    torch.manual_seed(seed)\n    return random_split(dataset, sizes)\n",
    "no shuffle": SPLIT_HEAD + "    n = len(dataset) - val_size\n    return Subset(dataset, range(n)), Subset(dataset, range(n, len(dataset)))\n",
    "overlapping sets": SPLIT_HEAD + ("    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()\n"
                                      "    return Subset(dataset, order), Subset(dataset, order[:val_size])\n"),
}
SPLIT_RIGHT = {
    "random_split with a generator": SPLIT_HEAD + ("    generator = torch.Generator().manual_seed(seed)\n"
                                                   "    return random_split(dataset, sizes, generator=generator)\n"),
    "randperm and Subset": SPLIT_HEAD + ("    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()\n"
                                         "    return Subset(dataset, order[val_size:]), Subset(dataset, order[:val_size])\n"),
    "helpers.train_val_split": SPLIT_HEAD + ("    import helpers\n"
                                             "    return helpers.train_val_split(dataset, val_size, torch.Generator().manual_seed(seed))\n"),
}

RESUME_HEAD = """
import torch
import helpers


def resume(path, model, optimizer):
    state = torch.load(path, weights_only=True)
"""
RESUME_WRONG = {
    "model only": RESUME_HEAD + '    model.load_state_dict(state["model"])\n    return state["epoch"] + 1\n',
    "optimizer only": RESUME_HEAD + '    optimizer.load_state_dict(state["optimizer"])\n    return state["epoch"] + 1\n',
    "into a new optimizer": RESUME_HEAD + ('    model.load_state_dict(state["model"])\n'
                                           '    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)\n'
                                           '    optimizer.load_state_dict(state["optimizer"])\n'
                                           '    return state["epoch"] + 1\n'),
    "repeats the saved epoch": RESUME_HEAD + ('    model.load_state_dict(state["model"])\n'
                                              '    optimizer.load_state_dict(state["optimizer"])\n'
                                              '    return state["epoch"]\n'),
}
RESUME_RIGHT = {
    "both state dicts": RESUME_HEAD + ('    model.load_state_dict(state["model"])\n'
                                       '    optimizer.load_state_dict(state["optimizer"])\n'
                                       '    return state["epoch"] + 1\n'),
    "helpers.load_checkpoint": RESUME_HEAD + ('    return helpers.load_checkpoint(path, model=model, '
                                              'optimizer=optimizer)["epoch"] + 1\n'),
    "optimizer first, on the CPU": RESUME_HEAD.replace("weights_only=True", "weights_only=True, map_location='cpu'") + (
        '    optimizer.load_state_dict(state["optimizer"])\n'
        '    model.load_state_dict(state["model"])\n'
        '    return int(state["epoch"]) + 1\n'),
}

CATALOGUE = [
    (eval_mode, "evaluate", EVAL_MODE_WRONG, EVAL_MODE_RIGHT, helpers.evaluate),
    (loss_averaging, "evaluate", LOSS_WRONG, LOSS_RIGHT, helpers.evaluate),
    (metric_reset, "evaluate", RESET_WRONG, RESET_RIGHT, helpers.evaluate),
    (zero_grad, "train_one_epoch", ZERO_WRONG, ZERO_RIGHT, helpers.train_one_epoch),
    (loss_graph, "train_one_epoch", GRAPH_WRONG, GRAPH_RIGHT, helpers.train_one_epoch),
    (split_generator, "split", SPLIT_WRONG, SPLIT_RIGHT, None),
    (resume_optimizer, "resume", RESUME_WRONG, RESUME_RIGHT, None),
]
WRONG = [(m, name, label, src) for m, name, wrong, _, _ in CATALOGUE for label, src in wrong.items()]
RIGHT = [(m, name, label, src, ref) for m, name, _, right, ref in CATALOGUE for label, src in right.items()]


def test_catalogue_is_complete():
    for module, _, wrong, right, _ in CATALOGUE:
        assert len(wrong) >= 3 and len(right) >= 2, module.__name__


@pytest.mark.parametrize("module, name, label, source", WRONG,
                         ids=[f"{m.__name__.rsplit('.', 1)[1]}: {label}" for m, _, label, _ in WRONG])
def test_wrong_variants_are_rejected(module, name, label, source):
    result = module.check(define(source, name))
    assert not result, repr(result)
    assert "raised" not in result.headline, repr(result)  # rejected for the bug, not because it crashed


@pytest.mark.parametrize("module, name, label, source, reference", RIGHT,
                         ids=[f"{m.__name__.rsplit('.', 1)[1]}: {label}" for m, _, label, _, _ in RIGHT])
def test_correct_variants_are_accepted(module, name, label, source, reference):
    candidate = reference if source is None else define(source, name)
    result = module.check(candidate)
    assert result, repr(result)


def test_eval_mode_names_the_missing_call_and_the_graph():
    no_call = eval_mode.check(define(EVAL_MODE_WRONG["model.eval without the call"], "evaluate"))
    assert "without the parentheses" in repr(no_call)
    graph = eval_mode.check(define(EVAL_MODE_WRONG["eval mode but autograd records"], "evaluate"))
    assert graph.headline == "autograd recorded a graph for 8 of 8 batches."


def test_loss_averaging_names_each_mistake():
    said = {label: repr(loss_averaging.check(define(source, "evaluate"))) for label, source in LOSS_WRONG.items()}
    assert "You averaged the batch means" in said["mean of batch means"]
    assert "divided by the number of batches" in said["weighted sum over batches"]
    assert "added the batch means, then divided by the number of samples" in said["sum of means over samples"]
    assert "the loader's batch_size" in said["loader batch size as weight"]


def test_other_checks_name_their_symptoms():
    assert "last batch alone" in repr(metric_reset.check(define(RESET_WRONG["reset every batch"], "evaluate")))
    assert "never moved" in zero_grad.check(define(ZERO_WRONG["between backward and step"], "train_one_epoch")).headline
    assert "seed is not used" in split_generator.check(define(SPLIT_WRONG["unseeded generator"], "split")).headline
    assert "re-seeded" in split_generator.check(define(SPLIT_WRONG["re-seeds the global generator"], "split")).headline
    assert "only classes" in split_generator.check(define(SPLIT_WRONG["no shuffle"], "split")).headline
    returned = loss_graph.check(define(GRAPH_WRONG["a tensor returned with its graph"], "train_one_epoch"))
    assert returned.headline == "the returned result still holds an autograd graph."


def test_checks_leave_the_global_random_state_alone():
    import torch
    torch.manual_seed(0)
    expected = torch.rand(3)
    for module, name, _, right, reference in CATALOGUE:
        torch.manual_seed(0)
        module.check(define(next(s for s in right.values() if s), name))
        assert torch.equal(torch.rand(3), expected), module.__name__
