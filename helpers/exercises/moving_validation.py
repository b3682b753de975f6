"""Exercise 1: evaluation runs in eval mode, records no autograd graph, and leaves the model's mode alone."""

import copy

import torch
from torch import nn

from ..data import TensorLoader
from ..loop import evaluate
from ..metrics import classification_metrics
from ..syllabus import notebook_of
from .diagnoses import close, graphs_recorded
from .feedback import Feedback, Problem, verdict
from .fixtures import CPU, tiny_classifier, toy_data
from .harness import call, failed, isolated, LearnerError, read_number
from .hints import hint_and_solution
from .spies import Watch

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Run your evaluate twice on the same model and data. Should the validation loss change? And does "
    "anything in the model need a graph for backward() during validation?",
    "Dropout and BatchNorm behave differently while training; one method call on the model switches them "
    "to their evaluation behaviour, and a context manager stops autograd from recording. Remember which mode "
    "the model was in, so you can put it back.",
    "Keep `was_training = model.training`, call `model.eval()` (with the parentheses) before the loop, run the "
    "loop inside `with torch.inference_mode():` (or `torch.no_grad()`), and end with "
    "`model.train(was_training)`.",
]


def where(passes: list, from_train_mode: int) -> str:
    """Which batches a layer ran in train mode: those of the calls that found the model in train mode, or eval."""
    in_train = sum(s.training for s in passes[:from_train_mode])
    in_eval = sum(s.training for s in passes[from_train_mode:])
    said = [f"{in_train} of the {from_train_mode} batches of the two calls that found the model in train mode"
            ] if in_train else []
    said += [f"{in_eval} batches of the call that found it in eval mode"] if in_eval else []
    return ", and in ".join(said)


def diagnose(watch: Watch, losses: list[float], from_train_mode: int) -> list[Problem]:
    """What the forward passes seen during the calls say about the learner's evaluate.

    The first `from_train_mode` passes of each layer come from the calls that found the model in train mode."""
    found = [problem for problem in [watch.copied()] if problem]
    dropout, norm, batches = watch.passes("Dropout"), watch.passes("BatchNorm1d"), watch.passes()
    if any(s.training for s in dropout):
        moved = "" if losses[0] == losses[1] else (f" The same model on the same data gave the losses "
                                                   f"{losses[0]:.4f}, then {losses[1]:.4f}.")
        found.append(Problem(f"Dropout was switching units off at random in {where(dropout, from_train_mode)}.{moved}",
                             "In evaluation every unit should count, so that the same model scores the same "
                             "on the same data."))
    if any(s.training for s in norm):
        found.append(Problem(f"BatchNorm normalised with each batch's own statistics, and updated its running "
                             f"statistics from the validation data, in {where(norm, from_train_mode)}.",
                             "Evaluating changed the model, and each score depended on which images shared a "
                             "batch."))
    recorded = (graphs_recorded(batches[:from_train_mode], "batches of the two calls made with autograd on")
                or graphs_recorded(batches))  # the third call finds autograd off: a graph there was switched on
    return found + [p for p in [recorded] if p]


@isolated("evaluate")
def check(evaluate_fn) -> Feedback:
    """Call `evaluate_fn` twice on a train-mode model with BatchNorm and Dropout, then in eval mode under no_grad."""
    model = tiny_classifier(nn.BatchNorm1d(16), nn.Dropout(0.5))
    loader = TensorLoader(*toy_data(20), batch_size=6)
    expected = evaluate(copy.deepcopy(model), loader, nn.CrossEntropyLoss(), classification_metrics(), CPU)["loss"]
    watch, problems, losses, from_train_mode = Watch(model), [], [], 0
    try:
        for training in (True, True, False):  # the last call comes from an eval-mode caller inside no_grad
            model.train(training)
            with torch.set_grad_enabled(training):
                result, changed = call(evaluate_fn, model, loader, nn.CrossEntropyLoss(), classification_metrics(),
                                       CPU, model=model)
            losses.append(read_number(result, "loss"))
            if training:
                from_train_mode = len(watch.passes("Dropout"))
            problems += [p for p in changed if p not in problems]
    except LearnerError as error:
        return failed(error)
    problems = diagnose(watch, losses, from_train_mode) + problems
    if not problems and not all(close(loss, expected) for loss in losses):
        problems.append(Problem(f"Your loss was {losses[0]:.4f}; the per-sample mean over the data is "
                                f"{expected:.4f}.", "Weight each batch's mean loss by its number of samples."))
    return verdict(problems, "eval mode for every batch, no autograd graph, the same loss on every call, and "
                             "the model left in the mode it was in.",
                   [f"Validation loss {losses[0]:.4f}, three times."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
