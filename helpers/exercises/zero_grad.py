"""Exercise 3: every optimizer step uses its own batch's gradient, and nothing left over from before."""

from dataclasses import dataclass

import torch
from torch import nn

from ..data import TensorLoader
from ..metrics import classification_metrics
from ._common import (
    batch_gradient, CPU, call, failed, Feedback, gradient_in, hint_and_solution, isolated, LearnerError,
    loss_problem, matches, Problem, read_number, RecordingLoss, tiny_classifier, toy_data, Tracking, verdict, Watch,
)

NOTEBOOK = "03_zero_grad"
HINTS = [
    "Print the gradient norm just before each optimizer step. Does it stay about the same from batch to "
    "batch, or grow? What did .grad hold before the first batch?",
    "loss.backward() adds the new gradient to whatever .grad already holds, and nothing empties it for you: "
    "not the optimizer's step, not the end of the previous epoch.",
    "Call optimizer.zero_grad() at the start of every batch, before loss.backward().",
]
BATCHES = 3


@dataclass
class Step:
    """One optimizer step: the gradient it used and the gradient of the batch it followed."""

    used: torch.Tensor
    own: torch.Tensor


def record_steps(model: nn.Module, optimizer: torch.optim.Optimizer, loader: Tracking) -> list[Step]:
    """A list that fills, at every optimizer.step(), with the gradient used and the batch's own gradient."""
    steps: list[Step] = []

    def before_step(opt, args, kwargs) -> None:
        steps.append(Step(gradient_in(model), batch_gradient(model, *loader.batch)))

    optimizer.register_step_pre_hook(before_step)
    return steps


def norms(vectors: list[torch.Tensor]) -> str:
    return ", ".join(f"{v.norm().item():.4f}" for v in vectors)


def diagnose(steps: list[Step], stale: torch.Tensor) -> list[Problem]:
    """Which steps used a gradient other than their own batch's, and what it held instead."""
    if not steps:
        return [Problem(f"The optimizer your function was given took no step in an epoch of {BATCHES} batches.",
                        "Every batch should end with a step of that optimizer, using the batch's gradient.")]
    if all(s.used.abs().max() == 0 for s in steps):
        return [Problem(f"All {len(steps)} optimizer steps saw a gradient of zero, so the parameters never moved.",
                        "The gradients were emptied after backward() had filled them and before the step "
                        "could use them.")]
    found, used, own = [], norms([s.used for s in steps]), norms([s.own for s in steps])
    piled = [i + 1 for i in range(1, len(steps)) if matches(steps[i].used, steps[i].own + steps[i - 1].used)]
    if piled:
        found.append(Problem(f"The gradient grew from step to step: norms {used}, where each batch's own gradient "
                             f"has norms {own}.",
                             f"Steps {', '.join(map(str, piled))} also carried the gradients of the batches "
                             "before them."))
    if matches(steps[0].used, steps[0].own + stale):
        found.append(Problem("The first step used the first batch's gradient plus the gradient .grad already held "
                             "when your function was called.",
                             "Gradients left from earlier work (a sanity check, the previous epoch) must not "
                             "move this epoch's first step."))
    if not found and not all(matches(s.used, s.own) for s in steps):
        found.append(Problem(f"The steps used gradients other than their batches' own: norms {used}, where each "
                             f"batch's own gradient has norms {own}.",
                             "Each step should use the gradient of the mean loss of its own batch, unchanged."))
    if len(steps) != BATCHES:
        found.append(Problem(f"The optimizer took {len(steps)} steps in an epoch of {BATCHES} batches.",
                             "Take exactly one step per batch."))
    return found


@isolated("train_one_epoch")
def check(train_fn) -> Feedback:
    """Train one epoch of 3 batches from a model whose .grad still holds an earlier gradient."""
    model = tiny_classifier()
    x, y = toy_data(12, spread=False)
    nn.functional.cross_entropy(model(x * 3), (y + 1) % 3).backward()  # gradients left by earlier work
    stale = gradient_in(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = Tracking(TensorLoader(x, y, batch_size=4))
    steps, watch = record_steps(model, optimizer, loader), Watch(model)
    loss_fn = RecordingLoss()
    try:
        result, problems = call(train_fn, model, loader, loss_fn, optimizer, classification_metrics(), CPU,
                                model=model, keeps_mode=False)
        wrong_loss = loss_problem(read_number(result, "loss"), loss_fn.recount())
    except LearnerError as error:
        return failed(error)
    problems = [p for p in [watch.copied()] if p] + diagnose(steps, stale) + problems + [p for p in [wrong_loss] if p]
    return verdict(problems, "every step used its own batch's gradient and nothing else.",
                   [f"Gradient norm at each step: {norms([s.used for s in steps])}."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
