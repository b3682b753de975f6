"""Exercise 3: every optimizer step uses its own batch's gradient, and nothing left over from before."""

from typing import NamedTuple

import torch
from torch import nn

from ..data import TensorLoader
from ..metrics import classification_metrics
from ..syllabus import notebook_of
from .diagnoses import close, loss_problem
from .feedback import Feedback, first_failure, Problem, verdict
from .fixtures import CPU, RecordingLoss, tiny_classifier, toy_data
from .harness import call, failed, isolated, LearnerError, read_number
from .hints import hint_and_solution
from .spies import batch_gradient, gradient_in, matches, Observed, record_updates, Watch

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Print the gradient norm just before each optimizer step. Does it stay about the same from batch to "
    "batch, or grow? What did .grad hold before the first batch?",
    "loss.backward() adds the new gradient to whatever .grad already holds, and nothing empties it for you: "
    "not the optimizer's step, not the end of the previous epoch.",
    "Call optimizer.zero_grad() at the start of every batch, before loss.backward().",
]
LR = 0.1
CASES = [(12, 4), (18, 5)]  # (samples, batch size): 3 batches of 4; then 5, 5, 5 and 3, so no answer fits one shape


class Step(NamedTuple):
    """One optimizer step: the gradient it applied (read from the weights) and the gradient of its batch."""

    used: torch.Tensor
    own: torch.Tensor


def norms(vectors: list[torch.Tensor]) -> str:
    return ", ".join(f"{v.norm().item():.4f}" for v in vectors)


def diagnose(steps: list[Step], stale: torch.Tensor, batches: int) -> list[Problem]:
    """Which steps used a gradient other than their own batch's, and what it held instead."""
    if not steps:
        return [Problem(f"The optimizer your function was given took no step in an epoch of {batches} batches.",
                        "Every batch should end with a step of that optimizer, using the batch's gradient.")]
    if all(s.used.abs().max() == 0 for s in steps):
        return [Problem(f"All {len(steps)} optimizer steps saw a gradient of zero, so the parameters never moved.",
                        "The gradients were emptied after backward() had filled them and before the step "
                        "could use them.")]
    found, used, own = [], norms([s.used for s in steps]), norms([s.own for s in steps])
    piled = [i + 1 for i in range(1, len(steps)) if matches(steps[i].used, steps[i].own + steps[i - 1].used)]
    if piled:
        found.append(Problem(f"The gradient grew from step to step: norms {used}, where each batch's own gradient, "
                             f"at the weights its step started from, has norms {own}.",
                             f"Steps {', '.join(map(str, piled))} also carried the gradients of the batches "
                             "before them." if len(piled) > 1 else
                             f"Step {piled[0]} also carried the gradient of the batch before it."))
    if matches(steps[0].used, steps[0].own + stale):
        found.append(Problem("The first step used the first batch's gradient plus the gradient .grad already held "
                             "when your function was called.",
                             "Gradients left from earlier work (a sanity check, the previous epoch) must not "
                             "move this epoch's first step."))
    if not found and not all(matches(s.used, s.own) for s in steps):
        found.append(Problem(f"The steps used gradients other than their batches' own: norms {used}, where each "
                             f"batch's own gradient, at the weights its step started from, has norms {own}.",
                             "Each step should use the gradient of the mean loss of its own batch, unchanged."))
    if len(steps) != batches:
        found.append(Problem(f"The optimizer took {len(steps)} steps in an epoch of {batches} batches.",
                             "Take exactly one step per batch."))
    return found


def accuracy_problem(result: dict, loss_fn: RecordingLoss) -> Problem | None:
    """A problem when the returned accuracy is not that of the predictions the loss scored in this epoch."""
    got, expected = read_number(result, "accuracy"), loss_fn.recount()[2]
    if close(got, expected):
        return None
    return Problem(f"The accuracy your function returned is {got:.4f}; the predictions of this epoch score "
                   f"{expected:.4f}.",
                   "The metric it was given still held predictions from before the call, or counted others than "
                   "the ones the loss scored: reset it first, and update it with each batch's outputs.")


def in_eval_mode(watch: Watch) -> Problem | None:
    """A problem when the model ran batches in eval mode: it was given in eval mode and never switched back."""
    off = [s for s in watch.passes() if not s.training]
    if not off:
        return None
    how = "every batch" if len(off) == len(watch.passes()) else "some batches"
    return Problem(f"The model ran {how} in eval mode: it was in eval mode when your function was called (as a "
                   "validation leaves it).",
                   "Training runs in train mode (Dropout and BatchNorm behave differently): switch to it first.")


def trial(train_fn, samples: int, batch_size: int) -> Feedback:
    """Train one epoch from a model whose .grad still holds an earlier gradient; compare every step's gradient."""
    model = tiny_classifier()
    x, y = toy_data(samples, spread=False)
    nn.functional.cross_entropy(model(x * 3), (y + 1) % 3).backward()  # gradients left by earlier work
    stale = gradient_in(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    loader = Observed(TensorLoader(x, y, batch_size=batch_size))
    updates = record_updates(model, optimizer, LR, lambda: batch_gradient(model, *loader.batch))
    watch, loss_fn, metrics = Watch(model), RecordingLoss(), classification_metrics()
    metrics.update(torch.eye(3)[[0, 1, 2, 0]], torch.tensor([1, 2, 0, 1]))  # left from a validation: 0 of 4 right
    model.eval()  # as a validation leaves it
    try:
        result, problems = call(train_fn, model, loader, loss_fn, optimizer, metrics, CPU, model=model,
                                keeps_mode=False)
        wrong = [loss_problem(read_number(result, "loss"), loss_fn.recount()), accuracy_problem(result, loss_fn)]
    except LearnerError as error:
        return failed(error)
    steps = [Step(*update) for update in updates]
    problems = ([p for p in [watch.copied(), in_eval_mode(watch)] if p] + diagnose(steps, stale, len(loader))
                + problems + [p for p in wrong if p])
    return verdict(problems, "every step used its own batch's gradient and nothing else.",
                   [f"Gradient norm at each step of an epoch of {len(loader)} batches: "
                    f"{norms([s.used for s in steps])}."])


@isolated("train_one_epoch")
def check(train_fn) -> Feedback:
    """Train an epoch of 3 batches, then one of 4, each from a model whose .grad still holds an earlier gradient."""
    return first_failure(trial(train_fn, *case) for case in CASES)


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
