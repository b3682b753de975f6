"""Exercise 12: gradient accumulation steps with the mean gradient of each group's samples, short groups too."""

from dataclasses import dataclass

import torch
from torch import nn

from torch.utils.data import DataLoader, TensorDataset

from ..data import TensorLoader
from ..syllabus import notebook_of
from .diagnoses import loss_problem
from .feedback import Feedback, first_failure, listed, prefixed, Problem, verdict
from .fixtures import RecordingLoss, tiny_classifier, toy_data
from .harness import call, failed, isolated, LearnerError, read_number
from .hints import hint_and_solution
from .spies import batch_gradient, matches, record_updates

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Should 4 batches of 20 per step train like 1 batch of 80? What does the epoch's last group hold when the "
    "number of batches is not a multiple of 4?",
    "A step should use the gradient of the mean loss over all the samples of its group. A group's batches may "
    "be fewer than `accumulate`, and of different sizes: each batch should count by its number of samples.",
    "Collect a group's batches first and count their samples, then call (loss * len(targets) / samples)"
    ".backward() for each batch of the group before the step.",
]
ACCUMULATE, LR = 3, 0.1
# The loaders each check tries, by the sizes of their batches: the notebook's 19 samples in batches of 4 (groups of
# 3 and 2 batches); 23 in batches of 4 with drop_last=True (the dataset holds 3 samples no batch does); and a
# DataLoader whose batches are uneven inside the groups. An answer counting samples any other way fails one of them.
CASES = [("19 samples in batches of 4", [4, 4, 4, 4, 3], False),
         ("23 samples in batches of 4 with drop_last=True", [4, 4, 4, 4, 4], True),
         ("a loader whose batches hold 3, 6, 2, 5, 4, 1 and 3 samples", [3, 6, 2, 5, 4, 1, 3], False)]


@dataclass
class Step:
    """One optimizer step: the gradient it applied, each batch's own gradient in its group, the batch sizes."""

    used: torch.Tensor
    own: list[torch.Tensor]
    sizes: list[int]
    after: int  # how many samples the model had taken in forward passes

    def mean(self) -> torch.Tensor:
        """The gradient of the mean loss over the group's samples."""
        return self.weighted() / sum(self.sizes)

    def weighted(self) -> torch.Tensor:
        """The gradient of the group's summed loss: each batch's mean gradient times its samples."""
        return sum(g * n for g, n in zip(self.own, self.sizes))


def make_loader(sizes: list[int], drop_last: bool):
    """A loader yielding batches of these sizes (a TensorLoader when they are even, else a DataLoader)."""
    if len(set(sizes[:-1])) == 1 and sizes[-1] <= sizes[0]:
        extra = sizes[0] - 1 if drop_last else 0
        return TensorLoader(*toy_data(sum(sizes) + extra), batch_size=sizes[0], drop_last=drop_last)
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    batches = [list(range(start, start + n)) for start, n in zip(starts, sizes)]
    return DataLoader(TensorDataset(*toy_data(sum(sizes))), batch_sampler=batches)


def record_steps(model: nn.Module, optimizer: torch.optim.SGD, batches: list) -> list:
    """A list that fills, at every optimizer.step(), with the gradient applied and (the gradients of the step's
    group, their batch sizes, the samples forwarded so far)."""
    forwarded = []  # the size of every batch the model has taken so far

    def before_step() -> tuple:
        seen = len(forwarded)
        k = len(updates)
        group = batches[k * ACCUMULATE:(k + 1) * ACCUMULATE]
        own = [batch_gradient(model, x, y) for x, y in group]
        del forwarded[seen:]  # the check's own forward passes, just now, do not count
        return own, [len(y) for _, y in group]

    def after_step(opt, args, kwargs) -> None:
        used, seen = updates[-1]
        updates[-1] = used, (*seen, sum(forwarded))  # forwarded by the step's end: a closure's passes count too

    model.register_forward_pre_hook(lambda module, args: forwarded.append(len(args[0])))
    updates = record_updates(model, optimizer, LR, before_step)
    optimizer.register_step_post_hook(after_step)  # runs after record_updates' own post-hook
    return updates


def where(samples: list[int], sizes: list[int]) -> str:
    """Where steps came, in batches when each came at the end of one, else in samples."""
    ends = {sum(sizes[:b + 1]): b + 1 for b in range(len(sizes))}
    if all(n in ends for n in samples):
        return f"after batch{'es' * (len(samples) > 1)} {listed(ends[n] for n in samples)}"
    return f"after the first {listed(samples)} samples"


def step_count(steps: list[Step], sizes: list[int]) -> Problem | None:
    """A problem unless the epoch stepped once per group of up to ACCUMULATE batches, the last group too."""
    groups = -(-len(sizes) // ACCUMULATE)
    expected = [sum(sizes[:(k + 1) * ACCUMULATE]) for k in range(groups)]
    at = [s.after for s in steps]
    if at == expected:
        return None
    took = f"The optimizer took {len(at)} step{'s' * (len(at) != 1)} in an epoch of {len(sizes)} batches"
    took += f", {where(at, sizes)}" if at else ""
    if at == expected[:-1]:
        last = sizes[(groups - 1) * ACCUMULATE:]
        why = (f"The epoch's last group ({len(last)} batches, {sum(last)} samples) never reached a step: its "
               "gradient was computed, then thrown away.")
    elif len(at) == len(sizes):
        why = f"That is a step per batch: accumulate={ACCUMULATE} means one step per group of up to {ACCUMULATE}."
    else:
        why = f"Step once per group of up to {ACCUMULATE} batches, the last, shorter group included."
    return Problem(f"{took}; with accumulate={ACCUMULATE} it takes {groups}, {where(expected, sizes)}.", why)


def divided_by(step: Step) -> int:
    """The whole number the step's gradient looks divided by, against the group's summed gradient (0 if none)."""
    norm = float(step.used.norm())
    return round(float(step.weighted().norm()) / norm) if norm > 0 else 0


def wrong_gradient(steps: list[Step], k: int) -> Problem | None:
    """A problem when step k did not use the mean gradient of its group's samples; says what it used instead."""
    step = steps[k]
    mean = step.mean()
    if matches(step.used, mean):
        return None
    summed, count = sum(step.own), len(step.own)
    weighted = step.weighted()
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
    elif (divisor := divided_by(step)) and matches(step.used, weighted / divisor):
        why = (f"Each batch was weighted by its samples, but the sum was divided by {divisor}, not by the "
               f"{sum(step.sizes)} samples the group holds: count the samples of the batches the loader yields "
               "(a loader may drop samples, and its batches may differ in size).")
    else:
        why = "Each step should use the gradient of the mean loss over all the samples of its group."
    return Problem(symptom, why)


def trial(train_fn, shown: str, sizes: list[int], drop_last: bool) -> Feedback:
    """Train one epoch of a loader with batches of `sizes` and accumulate=3; compare each step with its group's mean."""
    model = tiny_classifier()
    loader = make_loader(sizes, drop_last)
    x, y = next(iter(loader))
    nn.functional.cross_entropy(model(x * 3), (y + 1) % 3).backward()  # gradients left by earlier work
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    updates, loss_fn = record_steps(model, optimizer, list(loader)), RecordingLoss()
    try:
        result, problems = call(train_fn, model, loader, loss_fn, optimizer, ACCUMULATE, model=model,
                                keeps_mode=False)
        wrong_loss = loss_problem(read_number(result, "loss"), loss_fn.recount())
    except LearnerError as error:
        return failed(error)
    steps = [Step(used, *seen) for used, seen in updates]
    counted = step_count(steps, sizes)
    found = [counted] if counted else [wrong_gradient(steps, k) for k in range(len(steps))]
    problems = [p for p in found if p] + problems + [p for p in [wrong_loss] if p]
    if optimizer.param_groups[0]["lr"] != LR:
        problems.append(Problem(f"Your function left the optimizer's learning rate at "
                                f"{optimizer.param_groups[0]['lr']:.4g}; it was {LR:g} when your function was called.",
                                "Every step after this epoch (the next epoch's, a scheduler's) starts from that rate: "
                                "scale the loss or the gradients, and leave the caller's learning rate alone."))
    if problems and shown != CASES[0][0]:
        problems[0] = prefixed(problems[0], f"With {shown}: ")
    return verdict(problems, "every step used the mean gradient of its group's samples, the short last group too.",
                   [f"Groups of {listed(len(s.sizes) for s in steps)} batches, {listed(sum(s.sizes) for s in steps)} "
                    f"samples; gradient norm at each step: {', '.join(f'{s.used.norm():.4f}' for s in steps)}.",
                    f"Also right with {CASES[1][0]}, and with {CASES[2][0]}."])


@isolated("train_one_epoch")
def check(train_fn) -> Feedback:
    """Train an epoch with accumulate=3 on each of three loaders; compare each step with its group's mean gradient."""
    return first_failure(trial(train_fn, *case) for case in CASES)


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
