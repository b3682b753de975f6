"""Exercise 10: a whole training run with three bugs that hide behind each other."""

from dataclasses import dataclass

import torch
from torch import nn

from ..data import TensorLoader
from ..metrics import Accuracy
from ._common import (
    call, close, failed, Feedback, hint_and_solution, isolated, LearnerError, Problem, read_number,
    tiny_classifier, toy_data, Watch,
)

NOTEBOOK = "10_capstone"
HINTS = [
    "Which numbers can you recount yourself? Check one at a time: the mode of the model in every epoch, the "
    "mean loss over the samples of an epoch, the accuracy of the validation predictions alone.",
    "One bug comes from the mode validation leaves behind (exercise 8), one from how batch losses are "
    "averaged when the last batch is short (exercise 2), and one from a metric that keeps counting across "
    "phases (exercise 4).",
    "Call model.train() at the start of every epoch; sum loss.item() * len(targets) and divide by the number "
    "of samples; give validation its own metric (val_metric = metric.clone()) or reset the metric before "
    "validation.",
]
EPOCHS = 3


@dataclass
class Batch:
    """One call of the loss function: which phase and epoch, its mean loss, size, and correct predictions."""

    phase: str
    epoch: int
    loss: float
    size: int
    correct: int


class RecordingLoss(nn.CrossEntropyLoss):
    """Cross-entropy that records every batch it scores, tagged with the watched phase and epoch."""

    def __init__(self, watch: Watch) -> None:
        super().__init__()
        self.watch, self.batches = watch, []

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = super().forward(logits, targets)
        self.batches.append(Batch(self.watch.phase, self.watch.epoch, loss.item(), len(targets),
                                  int((logits.argmax(1) == targets).sum())))
        return loss


def epoch_values(batches: list[Batch], phase: str, epoch: int) -> tuple[float, float, float]:
    """The per-sample mean loss, the mean of batch means, and the accuracy of one phase of one epoch."""
    seen = [b for b in batches if b.phase == phase and b.epoch == epoch]
    samples = sum(b.size for b in seen)
    return (sum(b.loss * b.size for b in seen) / samples, sum(b.loss for b in seen) / len(seen),
            sum(b.correct for b in seen) / samples)


def train_mode_bug(watch: Watch, history, batches) -> Problem | None:
    off = [s for s in watch.passes("Dropout", phase="train") if not s.training]
    if not off:
        return None
    first = min(s.epoch for s in off)
    return Problem(f"From epoch {first} on, Dropout was off in {len(off)} training batches: the model trained "
                   "in eval mode.", "Look at what the model's mode is when each epoch starts.")


def loss_bug(watch: Watch, history, batches) -> Problem | None:
    for epoch, record in enumerate(history, 1):
        mean, batch_mean, _ = epoch_values(batches, "train", epoch)
        got = read_number(record, "loss")
        if not close(got, mean):
            how = " (the mean of the batch means)" if close(got, batch_mean) else ""
            return Problem(f"Epoch {epoch}'s training loss is {got:.4f}{how}; the mean over its samples is "
                           f"{mean:.4f}.", "The last training batch is shorter than the others.")
    return None


def metric_bug(watch: Watch, history, batches) -> Problem | None:
    for epoch, record in enumerate(history, 1):
        for phase, key in (("val", "val_accuracy"), ("train", "accuracy")):
            expected, got = epoch_values(batches, phase, epoch)[2], read_number(record, key)
            if not close(got, expected):
                which = "validation" if phase == "val" else "training"
                return Problem(f"Epoch {epoch}'s {key} is {got:.4f}, but the {which} predictions of that epoch "
                               f"alone score {expected:.4f}.",
                               "The metric counted predictions from outside that phase of that epoch.")
    return None


BUGS = [("the model trains in train mode every epoch", train_mode_bug),
        ("the training loss is the mean over samples", loss_bug),
        ("each phase's accuracy counts that phase's predictions only", metric_bug)]


@isolated("fit")
def check(fit_fn) -> Feedback:
    """Fit a model with Dropout for 3 epochs (batches of 4, 4, 2) and recount every number it reports."""
    model = tiny_classifier(nn.Dropout(0.5))
    watch = Watch(model)
    train = watch.loader(TensorLoader(*toy_data(10), batch_size=4), "train")
    val = watch.loader(TensorLoader(*toy_data(6, seed=1), batch_size=4), "val")
    loss_fn = RecordingLoss(watch)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    try:
        history, changed = call(fit_fn, model, train, val, loss_fn, optimizer, Accuracy(), EPOCHS, model=model,
                                keeps_mode=False)
        if not isinstance(history, list) or len(history) != EPOCHS:
            raise LearnerError(f"Your function should return a list of {EPOCHS} dicts, one per epoch, got "
                               f"{history!r:.60}.")
        found = [(name, bug(watch, history, loss_fn.batches)) for name, bug in BUGS]
    except LearnerError as error:
        return failed(error)
    remaining = [problem for _, problem in found if problem]
    fixed = [name for name, problem in found if not problem]
    others = [p for p in [watch.copied()] if p] + changed
    if not remaining and not others:
        return Feedback(True, "all three bugs are fixed.", ["Every number fit reports matches a recount: "
                                                            + "; ".join(fixed) + "."])
    first = remaining[0] if remaining else others.pop(0)
    details = [first.why, *(f"Also: {p.symptom} {p.why}" for p in others)]
    if fixed:
        details.append("Fixed so far: " + "; ".join(fixed) + ".")
    remain = f"{len(remaining)} of the 3 bugs remain{'s' if len(remaining) == 1 else ''}."
    return Feedback(False, f"{remain} {first.symptom}", details)


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
