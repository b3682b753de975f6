"""Exercise 12: gradient accumulation steps with the mean gradient of each group's samples, short groups too."""

from dataclasses import dataclass

import torch
from torch import nn

from ..data import TensorLoader
from ._common import (
    batch_gradient, call, failed, Feedback, gradient_in, hint_and_solution, isolated, LearnerError, loss_problem,
    matches, Problem, read_number, RecordingLoss, tiny_classifier, toy_data, verdict,
)

NOTEBOOK = "12_accumulation"
HINTS = [
    "Should 4 batches of 20 per step train like 1 batch of 80? What does the epoch's last group hold when the "
    "number of batches is not a multiple of 4?",
    "A step should use the gradient of the mean loss over all the samples of its group. A group's batches may "
    "be fewer than `accumulate`, and of different sizes: each batch should count by its number of samples.",
    "Collect a group's batches first and count their samples, then call (loss * len(targets) / samples)"
    ".backward() for each batch of the group before the step.",
]
SAMPLES, BATCH, ACCUMULATE = 19, 4, 3  # batches of 4, 4, 4, 4 and 3 samples: groups of 3 and 2 batches
BATCHES = -(-SAMPLES // BATCH)
GROUPS = -(-BATCHES // ACCUMULATE)


@dataclass
class Step:
    """One optimizer step: the gradient it used, each batch's own gradient in its group, the batch sizes."""

    used: torch.Tensor
    own: list[torch.Tensor]
    sizes: list[int]
    after: int  # how many samples the model had taken in forward passes

    def mean(self) -> torch.Tensor:
        """The gradient of the mean loss over the group's samples."""
        return sum(g * n for g, n in zip(self.own, self.sizes)) / sum(self.sizes)


def record_steps(model: nn.Module, optimizer: torch.optim.Optimizer, batches: list) -> list[Step]:
    """A list that fills, at every optimizer.step(), with the gradient used and those of the step's group."""
    steps: list[Step] = []
    forwarded = []  # the size of every batch the model has taken so far

    def before_step(opt, args, kwargs) -> None:
        after, seen = sum(forwarded), len(forwarded)
        group = batches[len(steps) * ACCUMULATE:(len(steps) + 1) * ACCUMULATE]
        steps.append(Step(gradient_in(model), [batch_gradient(model, x, y) for x, y in group],
                          [len(y) for _, y in group], after))
        del forwarded[seen:]  # the check's own forward passes, just now, do not count

    model.register_forward_pre_hook(lambda module, args: forwarded.append(len(args[0])))
    optimizer.register_step_pre_hook(before_step)
    return steps


def listed(numbers) -> str:
    numbers = [str(n) for n in numbers]
    return numbers[0] if len(numbers) == 1 else f"{', '.join(numbers[:-1])} and {numbers[-1]}"


def where(samples: list[int]) -> str:
    """Where steps came, in batches when each came at the end of one, else in samples."""
    ends = {min((b + 1) * BATCH, SAMPLES): b + 1 for b in range(BATCHES)}
    if all(n in ends for n in samples):
        return f"after batch{'es' * (len(samples) > 1)} {listed(ends[n] for n in samples)}"
    return f"after the first {listed(samples)} samples"


def step_count(steps: list[Step]) -> Problem | None:
    """A problem unless the epoch stepped once per group of up to ACCUMULATE batches, the last group too."""
    expected = [min((k + 1) * ACCUMULATE * BATCH, SAMPLES) for k in range(GROUPS)]
    at = [s.after for s in steps]
    if at == expected:
        return None
    took = f"The optimizer took {len(at)} step{'s' * (len(at) != 1)} in an epoch of {BATCHES} batches"
    took += f", {where(at)}" if at else ""
    if at == expected[:-1]:
        why = (f"The epoch's last group ({BATCHES - at[-1] // BATCH} batches, {SAMPLES - at[-1]} samples) never "
               "reached a step: its gradient was computed, then thrown away.")
    elif len(at) == BATCHES:
        why = f"That is a step per batch: accumulate={ACCUMULATE} means one step per group of up to {ACCUMULATE}."
    else:
        why = f"Step once per group of up to {ACCUMULATE} batches, the last, shorter group included."
    return Problem(f"{took}; with accumulate={ACCUMULATE} it takes {GROUPS}, {where(expected)}.", why)


def wrong_gradient(steps: list[Step], k: int) -> Problem | None:
    """A problem when step k did not use the mean gradient of its group's samples; says what it used instead."""
    step = steps[k]
    mean = step.mean()
    if matches(step.used, mean):
        return None
    summed, count = sum(step.own), len(step.own)
    group = f"a group of {count} batches" if count == ACCUMULATE else f"the epoch's last group of {count} batches"
    symptom = (f"Step {k + 1}, after {group} ({listed(step.sizes)} samples), used a gradient of norm "
               f"{step.used.norm():.4f}; the mean gradient of those {sum(step.sizes)} samples has norm "
               f"{mean.norm():.4f}.")
    right_before = all(matches(s.used, s.mean()) for s in steps[:k])
    if k and any(matches(step.used - steps[k - 1].used, g) for g in (mean, summed / ACCUMULATE, summed / count)):
        why = "It also carried the gradient of the step before it, still in .grad when this group began."
    elif matches(step.used, summed / ACCUMULATE) and right_before and k:
        why = (f"The full groups' steps were right. This group holds {count} batches, yet each batch's gradient "
               f"came in at 1/{ACCUMULATE} of its size, as if the group held {ACCUMULATE}.")
    elif matches(step.used, summed / count):
        why = (f"Each batch counted the same, but they hold {listed(step.sizes)} samples: the samples of the "
               "smaller batch weighed more than the others.")
    elif matches(step.used, summed):
        why = "That is the sum of the batches' gradients: the step grows with the number of batches in the group."
    else:
        why = "Each step should use the gradient of the mean loss over all the samples of its group."
    return Problem(symptom, why)


@isolated("train_one_epoch")
def check(train_fn) -> Feedback:
    """Train one epoch of 19 samples in batches of 4 with accumulate=3; compare each step with its group's mean."""
    model = tiny_classifier()
    loader = TensorLoader(*toy_data(SAMPLES), batch_size=BATCH)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    steps, loss_fn = record_steps(model, optimizer, list(loader)), RecordingLoss()
    try:
        result, problems = call(train_fn, model, loader, loss_fn, optimizer, ACCUMULATE, model=model,
                                keeps_mode=False)
        wrong_loss = loss_problem(read_number(result, "loss"), loss_fn.recount())
    except LearnerError as error:
        return failed(error)
    counted = step_count(steps)
    found = [counted] if counted else [wrong_gradient(steps, k) for k in range(len(steps))]
    return verdict([p for p in found if p] + problems + [p for p in [wrong_loss] if p],
                   "every step used the mean gradient of its group's samples, the short last group too.",
                   [f"Groups of {listed(len(s.sizes) for s in steps)} batches, {listed(sum(s.sizes) for s in steps)} "
                    f"samples; gradient norm at each step: {', '.join(f'{s.used.norm():.4f}' for s in steps)}."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
