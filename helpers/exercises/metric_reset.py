"""Exercise 4: the metric counts exactly this evaluation's predictions: none from before, none lost."""

import torch
from torch import nn
from torchmetrics import MetricCollection

from ..data import TensorLoader
from ..metrics import Accuracy
from ._common import (
    CPU, call, close, failed, Feedback, hint_and_solution, isolated, LearnerError, Problem, read_number,
    verdict,
)

NOTEBOOK = "04_metric_reset"
HINTS = [
    "Evaluate twice with the same metric object, on two different datasets. Does the second number describe "
    "the second dataset alone? And which predictions does compute() see at the end of one evaluation?",
    "A TorchMetrics object adds every update() to its state until it is told to forget, and compute() "
    "describes everything in that state: it must hold every batch of this evaluation and nothing else.",
    "Call metrics.reset() once at the start of evaluate, before the loop; call metrics.update(logits, targets) "
    "for every batch inside the loop, and metrics.compute() once after it.",
]


def predicting(n: int, right: int, batch_size: int) -> TensorLoader:
    """n samples that an argmax model gets right for the first `right` and wrong for the rest."""
    predicted = torch.arange(n) % 3
    labels = torch.where(torch.arange(n) < right, predicted, (predicted + 1) % 3)
    return TensorLoader(nn.functional.one_hot(predicted, 3).float() * 4, labels, batch_size=batch_size)


def argmax_model() -> nn.Module:
    """A linear layer that passes its input through: it predicts the largest input."""
    model = nn.Linear(3, 3)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3))
        model.bias.zero_()
    return model


class Counting:
    """A loader that tells the metric spy how many batches have been drawn."""

    def __init__(self, loader: TensorLoader, events: list) -> None:
        self.inner, self.dataset, self.events = loader, loader.dataset, events

    def __iter__(self):
        for batch in self.inner:
            self.events.append(("batch", len(batch[1])))
            yield batch

    def __len__(self) -> int:
        return len(self.inner)


class Spied(MetricCollection):
    """The course's metrics, recording every reset, update, forward and compute as (event, batch size).

    A clone (a deep copy) records into its own list, so work done on a copy never counts as done on this one."""

    def __init__(self, events: list) -> None:
        super().__init__({"accuracy": Accuracy()})
        self.events = events

    def reset(self) -> None:
        self.events.append(("reset", 0))
        super().reset()

    def update(self, *args, **kwargs) -> None:
        self.events.append(("update", 0))
        super().update(*args, **kwargs)

    def forward(self, *args, **kwargs):
        self.events.append(("forward", 0))
        return super().forward(*args, **kwargs)

    def compute(self):
        self.events.append(("compute", 0))
        return super().compute()


def diagnose(events: list, accuracy: float, batches: list[int], held: int) -> list[Problem]:
    """What the metric's calls say about where the learner resets, updates and computes."""
    names = [e for e, _ in events]
    counted = [i for i, n in enumerate(names) if n in ("update", "forward")]
    if not counted:
        return [Problem("Your function never updated the metric it was given with any prediction.",
                        "The metric passed in is the one the caller reads; a metric made inside the function, "
                        "or none, leaves it empty.")]
    last_compute = max((i for i, n in enumerate(names) if n == "compute"), default=len(names))
    resets = [i for i, n in enumerate(names) if n == "reset" and i < last_compute]
    late = [i for i in resets if i > counted[0]]
    during = f" (and {len(late) - 1} times during the loop)" if len(late) > 1 else ""
    if late and late[-1] > counted[-1]:
        return [Problem(f"The metric was emptied after the last batch{during} and before compute(), so compute() "
                        f"had nothing to describe (it returned {accuracy:.4f}).",
                        "compute() must see every batch of this evaluation.")]
    if late:
        return [Problem(f"The metric was emptied {len(late)} time{'s' if len(late) > 1 else ''} during the loop, so compute() saw only the "
                        f"last batch's {batches[-1]} predictions (accuracy {accuracy:.4f}).",
                        "compute() must see every batch of this evaluation.")]
    if not any(i < counted[0] for i in resets):
        return [Problem(f"Your function reported accuracy {accuracy:.4f}: the metric also counted the {held} "
                        "predictions it held before your function was called.",
                        "One evaluation's result should describe its own data only.")]
    if len(counted) < len(batches):
        given = {1: "once", 2: "twice"}.get(len(counted), f"{len(counted)} times")
        return [Problem(f"The metric was given predictions {given} for {len(batches)} batches, so "
                        f"it reported accuracy {accuracy:.4f} from part of the data.",
                        "Every batch's predictions should reach the metric.")]
    return []


@isolated("evaluate")
def check(evaluate_fn) -> Feedback:
    """Evaluate with a metric that already holds 4 wrong predictions: data with accuracy 0.8, then 0.0."""
    events: list = []
    model, metrics = argmax_model(), Spied(events)
    leftover = next(iter(predicting(4, right=0, batch_size=4)))
    metrics.update(model(leftover[0]).detach(), leftover[1])  # an earlier evaluation's predictions
    problems, held = [], 4
    for n, right, expected in ((10, 8, 0.8), (6, 0, 0.0)):  # batches of 4, 4, 2, the last 2 wrong; then 4, 2
        events.clear()
        loader = Counting(predicting(n, right=right, batch_size=4), events)
        try:
            result, changed = call(evaluate_fn, model, loader, nn.CrossEntropyLoss(), metrics, CPU, model=model,
                                   keeps_mode=False)
            accuracy = read_number(result, "accuracy")
        except LearnerError as error:
            return failed(error)
        batches = [size for event, size in events if event == "batch"]
        problems = diagnose(events, accuracy, batches, held) + changed
        if not problems and not close(accuracy, expected):
            per_batch = (right >= 8 and close(accuracy, 2 / 3))
            problems.append(Problem(f"Your function reported accuracy {accuracy:.4f} where {right} of {n} "
                                    f"predictions are right ({expected:.4f}).",
                                    "That is the mean of the batches' accuracies (1, 1, 0): the last batch holds "
                                    "2 samples but counted as much as a batch of 4." if per_batch else
                                    "The metric should count every prediction of this evaluation once."))
        if problems:
            break
        held = n
    return verdict(problems, "each evaluation reports its own data: every batch counted, nothing from before.",
                   ["Accuracy 0.8000, then 0.0000, with one metric object that already held predictions."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
