"""Exercise 4: a metric starts empty at every evaluation, so one call's predictions never leak into the next."""

import torch
from torch import nn

from ..data import TensorLoader
from ..metrics import classification_metrics
from ._common import (
    CPU, call, close, failed, Feedback, hint_and_solution, isolated, LearnerError, read_number,
    require_function,
)

NOTEBOOK = "04_metric_reset"
HINTS = [
    "Evaluate twice with the same metric object, on two different datasets. Does the second number describe "
    "the second dataset alone?",
    "A TorchMetrics object keeps adding every update() to its state until it is told to forget.",
    "Call metrics.reset() at the start of evaluate, before the loop (not inside it: that would keep only "
    "the last batch).",
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


@isolated
def check(evaluate_fn) -> Feedback:
    """Evaluate twice with one metric object: a dataset with accuracy 0.8, then one with accuracy 0.0."""
    require_function(evaluate_fn, "evaluate")
    model, metrics = argmax_model(), classification_metrics()
    first_data = predicting(10, right=8, batch_size=4)  # batches of 4, 4, 2; the last 2 are wrong
    second_data = predicting(6, right=0, batch_size=4)
    try:
        first = read_number(call(evaluate_fn, model, first_data, nn.CrossEntropyLoss(), metrics, CPU), "accuracy")
        second = read_number(call(evaluate_fn, model, second_data, nn.CrossEntropyLoss(), metrics, CPU), "accuracy")
    except LearnerError as error:
        return failed(error)
    if not close(first, 0.8):
        details = (["That is the accuracy of the last batch alone: the metric was reset inside the loop."]
                   if first == 0.0 else ["Update the metric with every batch's outputs and labels."])
        return Feedback(False, f"the first evaluation reported accuracy {first:.4f}; 8 of its 10 predictions "
                               "are right (0.8000).", details)
    if not close(second, 0.0):
        details = (["That is 8 right out of all 16 predictions seen so far: the metric still holds the first "
                    "call's predictions. Call metrics.reset() at the start of every evaluation."]
                   if close(second, 0.5) else ["The second result should describe the second dataset alone."])
        return Feedback(False, f"the second evaluation reported accuracy {second:.4f} on data where every "
                               "prediction is wrong (0.0000).", details)
    return Feedback(True, "each evaluation reports its own data only.",
                    [f"Accuracy {first:.4f}, then {second:.4f}, with one metric object."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
