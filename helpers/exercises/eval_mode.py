"""Exercise 1: evaluation runs in eval mode and records no autograd graph."""

import copy

import torch
from torch import nn

from ..loop import evaluate
from ..data import TensorLoader
from ..metrics import classification_metrics
from ._common import (
    CPU, call, close, failed, Feedback, hint_and_solution, isolated, LearnerError, read_number,
    require_function, tiny_classifier, toy_data,
)

NOTEBOOK = "01_eval_mode"
HINTS = [
    "Run your evaluate twice on the same model and data. Should the validation loss change?",
    "Dropout and BatchNorm behave differently while training. One method call on the model switches them "
    "to their evaluation behaviour; another context manager stops autograd from recording.",
    "Call model.eval() (with the parentheses) before the loop, and run the loop inside "
    "`with torch.inference_mode():` (or `torch.no_grad()`).",
]


class Probe(nn.Module):
    """Passes its input through, noting for each batch whether it ran in train mode and with autograd on."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, torch.is_grad_enabled()))
        return x


@isolated
def check(evaluate_fn) -> Feedback:
    """Run `evaluate_fn` twice on a model with Dropout and BatchNorm left in train mode."""
    require_function(evaluate_fn, "evaluate")
    probe = Probe()
    model = tiny_classifier(nn.BatchNorm1d(16), nn.Dropout(0.5), probe).train()
    loader = TensorLoader(*toy_data(20), batch_size=6)
    expected = evaluate(copy.deepcopy(model), loader, nn.CrossEntropyLoss(), classification_metrics(), CPU)["loss"]
    model.train()
    running_mean = model[1].running_mean.clone()
    args = (model, loader, nn.CrossEntropyLoss(), classification_metrics(), CPU)
    try:
        first, second = (read_number(call(evaluate_fn, *args), "loss") for _ in range(2))
    except LearnerError as error:
        return failed(error)
    in_train_mode = [i for i, (training, _) in enumerate(probe.seen) if training]
    recording = [i for i, (_, grad) in enumerate(probe.seen) if grad]
    if in_train_mode:
        symptoms = [f"The model was in train mode for {len(in_train_mode)} of {len(probe.seen)} batches."]
        if first != second:
            symptoms.append(f"The loss changed between two calls ({first:.4f}, then {second:.4f}): "
                            "Dropout still drops units at random.")
        if not torch.equal(running_mean, model[1].running_mean):
            symptoms.append("BatchNorm's running statistics moved: it normalised with each batch's own "
                            "statistics and learned from the validation data.")
        return Feedback(False, "validation loss changes between two calls: is dropout still active?",
                        symptoms + ["Switch the model to evaluation behaviour before the loop: model.eval() "
                                    "(`model.eval` without the parentheses does nothing)."])
    if recording:
        return Feedback(False, f"autograd recorded a graph for {len(recording)} of {len(probe.seen)} batches.",
                        ["Evaluation never calls backward(), so that graph only costs memory and time.",
                         "Run the loop inside `with torch.inference_mode():` or `with torch.no_grad():`."])
    if not close(first, expected):
        return Feedback(False, f"eval mode is right, but the loss is {first:.4f} where {expected:.4f} was expected.",
                        ["Average the loss per sample: weight each batch's mean by its size."])
    return Feedback(True, "eval mode for every batch, no autograd graph, and the same loss on every call.",
                    [f"Validation loss {first:.4f}, twice."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
