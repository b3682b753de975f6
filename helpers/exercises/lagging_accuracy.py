"""Exercise 4: the metric counts exactly this evaluation's predictions: none from before, none lost."""

import torch
from torch import nn
from torchmetrics import MetricCollection

from ..data import TensorLoader
from ..metrics import Accuracy
from ..syllabus import notebook_of
from .diagnoses import close
from .feedback import Feedback, Problem, verdict
from .fixtures import CPU
from .harness import call, failed, isolated, LearnerError, read_number
from .hints import hint_and_solution
from .spies import Observed

NOTEBOOK = notebook_of(__name__)
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


class Spied(MetricCollection):
    """The course's metrics, recording every update, forward and compute with the number of predictions held.

    What is recorded is the metric's own state, so it does not matter how the learner empties it; a clone
    (a deep copy) records into a list of its own, so work done on a copy never counts as done on this one."""

    def __init__(self, events: list) -> None:
        super().__init__({"accuracy": Accuracy()})
        self.events = events

    def held(self) -> int:
        return int(self["accuracy"].total)

    def update(self, *args, **kwargs) -> None:
        self.events.append(("update", self.held()))
        super().update(*args, **kwargs)

    def forward(self, *args, **kwargs):
        self.events.append(("update", self.held()))
        return super().forward(*args, **kwargs)

    def compute(self):
        self.events.append(("compute", self.held()))
        return super().compute()


def diagnose(events: list, accuracy: float) -> list[Problem]:
    """What the predictions the metric held at each update and at compute() say about the learner's evaluate."""
    batches = [n for event, n in events if event == "batch"]
    updates = [n for event, n in events if event == "update"]
    computed = [n for event, n in events if event == "compute"]
    samples = sum(batches)
    if not updates:
        return [Problem("Your function never updated the metric it was given with any prediction.",
                        "The metric passed in is the one the caller reads; a metric made inside the function, "
                        "or none, leaves it empty.")]
    if not computed:
        return []  # the reported number did not come from the metric: judged by its value alone
    at_compute = computed[-1]
    if at_compute == 0:
        return [Problem("The metric was emptied after the last batch and before compute(), so compute() had "
                        f"nothing to describe (it returned {accuracy:.4f}).",
                        "compute() must see every batch of this evaluation.")]
    if updates[0] > 0 and at_compute > samples:
        return [Problem(f"Your function reported accuracy {accuracy:.4f}: the metric also counted the "
                        f"{updates[0]} predictions it held before your function was called.",
                        "One evaluation's result should describe its own data only.")]
    if at_compute > samples:
        return [Problem(f"The metric counted {at_compute} predictions for {samples} samples: some batches reached "
                        "it twice.", "Give the metric each batch's predictions once.")]
    if at_compute < samples and len(updates) < len(batches):
        given = {1: "once", 2: "twice"}.get(len(updates), f"{len(updates)} times")
        return [Problem(f"The metric was given predictions {given} for {len(batches)} batches, so it reported "
                        f"accuracy {accuracy:.4f} from {at_compute} of the {samples} predictions.",
                        "Every batch's predictions should reach the metric.")]
    if at_compute < samples:
        return [Problem(f"The metric was emptied during the loop, so compute() saw only the last {at_compute} of "
                        f"the {samples} predictions (accuracy {accuracy:.4f}).",
                        "compute() must see every batch of this evaluation.")]
    return []


@isolated("evaluate")
def check(evaluate_fn) -> Feedback:
    """Evaluate with a metric that already holds 4 wrong predictions: data with accuracy 0.8, then 0.0."""
    events: list = []
    model, metrics = argmax_model(), Spied(events)
    leftover = next(iter(predicting(4, right=0, batch_size=4)))
    metrics.update(model(leftover[0]).detach(), leftover[1])  # an earlier evaluation's predictions
    problems = []
    for n, right, expected in ((10, 8, 0.8), (6, 0, 0.0)):  # batches of 4, 4, 2, the last 2 wrong; then 4, 2
        events.clear()
        loader = Observed(predicting(n, right=right, batch_size=4),
                          each=lambda batch: events.append(("batch", len(batch[1]))))
        try:
            result, changed = call(evaluate_fn, model, loader, nn.CrossEntropyLoss(), metrics, CPU, model=model,
                                   keeps_mode=False)
            accuracy = read_number(result, "accuracy")
        except LearnerError as error:
            return failed(error)
        problems = diagnose(events, accuracy) + changed
        if not problems and not close(accuracy, expected):
            per_batch = (right >= 8 and close(accuracy, 2 / 3))
            problems.append(Problem(f"Your function reported accuracy {accuracy:.4f} where {right} of {n} "
                                    f"predictions are right ({expected:.4f}).",
                                    "That is the mean of the batches' accuracies (1, 1, 0): the last batch holds "
                                    "2 samples but counted as much as a batch of 4." if per_batch else
                                    "The metric should count every prediction of this evaluation once."))
        if problems:
            break
    return verdict(problems, "each evaluation reports its own data: every batch counted, nothing from before.",
                   ["Accuracy 0.8000, then 0.0000, with one metric object that already held predictions."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
