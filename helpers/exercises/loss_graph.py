"""Exercise 6: the running loss is a number, not a tensor that chains every batch's autograd graph."""

import functools
import gc
import weakref

import torch
from torch import nn

from ..data import TensorLoader
from ..metrics import classification_metrics
from ._common import (
    CPU, call, failed, Feedback, hint_and_solution, isolated, LearnerError, read_number, require_function,
    tiny_classifier, toy_data,
)

NOTEBOOK = "06_loss_graph"
HINTS = [
    "Print the running total after the loop. Does it say grad_fn=...?",
    "`total += loss` makes total part of the autograd graph, and the graph of every batch hangs off it.",
    "Add `loss.detach()` (or `loss.item()`, which also waits for the device) instead of `loss`.",
]


class _Tag:
    """An object that lives exactly as long as the autograd graph it is attached to."""


def _keep(tag: _Tag, grad_outputs):
    return None


class TrackedLoss(nn.CrossEntropyLoss):
    """Cross-entropy that counts, at each call, how many earlier batches' graphs are still alive."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[weakref.ref] = []
        self.most_alive = 0

    def alive(self) -> int:
        return sum(tag() is not None for tag in self.tags)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.most_alive = max(self.most_alive, self.alive())
        loss = super().forward(logits, targets)
        if loss.grad_fn is not None:
            tag = _Tag()
            self.tags.append(weakref.ref(tag))
            loss.grad_fn.register_prehook(functools.partial(_keep, tag))
        return loss


def graph_size(tensor: torch.Tensor) -> int:
    """How many autograd nodes `tensor` keeps alive through its grad_fn."""
    seen, stack = set(), [tensor.grad_fn]
    while stack:
        node = stack.pop()
        if node is not None and node not in seen:
            seen.add(node)
            stack.extend(next_node for next_node, _ in node.next_functions)
    return len(seen)


@isolated
def check(train_fn) -> Feedback:
    """Train one epoch of 6 batches, counting the batch graphs kept alive at each step and afterwards."""
    require_function(train_fn, "train_one_epoch")
    model, loss_fn = tiny_classifier(), TrackedLoss()
    loader = TensorLoader(*toy_data(24), batch_size=4)
    try:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        result = call(train_fn, model, loader, loss_fn, optimizer, classification_metrics(), CPU)
        loss = read_number(result, "loss")
    except LearnerError as error:
        return failed(error)
    gc.collect()
    if loss_fn.most_alive > 1:
        return Feedback(False, f"the graphs of {loss_fn.most_alive} batches were alive at once; they should be "
                               "freed batch by batch.",
                        ["The running total holds each batch's loss *with its graph*, so memory grows with every "
                         "batch until the epoch ends.", "Accumulate loss.detach() (or loss.item())."])
    if loss_fn.alive() or isinstance(result["loss"], torch.Tensor) and result["loss"].requires_grad:
        return Feedback(False, "the returned result still holds an autograd graph.",
                        ["Return plain numbers: a history of results would keep every epoch's graph alive."])
    return Feedback(True, "each batch's graph is freed before the next batch runs.",
                    [f"Epoch loss {loss:.4f}, at most one graph alive at any time."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
