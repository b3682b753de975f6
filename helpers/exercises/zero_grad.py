"""Exercise 3: gradients are cleared at every step, so each step uses its own batch's gradient."""

import copy

import torch
from torch import nn

from ..data import TensorLoader
from ..loop import train_one_epoch
from ..metrics import classification_metrics
from ._common import (
    CPU, call, failed, Feedback, hint_and_solution, isolated, LearnerError, require_function, tiny_classifier,
    toy_data,
)

NOTEBOOK = "03_zero_grad"
HINTS = [
    "Print the gradient norm before each optimizer.step(). Does it stay about the same, or grow?",
    "loss.backward() adds the new gradient to whatever .grad already holds. Nothing empties it for you.",
    "Call optimizer.zero_grad() once per batch, before loss.backward().",
]


def record_gradient_norms(optimizer: torch.optim.Optimizer) -> list[float]:
    """A list that fills with the gradient norm seen at each optimizer.step()."""
    norms: list[float] = []

    def before_step(opt, args, kwargs) -> None:
        grads = [p.grad.flatten() for group in opt.param_groups for p in group["params"] if p.grad is not None]
        norms.append(torch.cat(grads).norm().item() if grads else 0.0)

    optimizer.register_step_pre_hook(before_step)
    return norms


def run(train_fn, model: nn.Module) -> list[float]:
    """One epoch of `train_fn` over 3 batches with plain SGD; the gradient norm at each step."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    norms = record_gradient_norms(optimizer)
    call(train_fn, model, TensorLoader(*toy_data(12, spread=False), batch_size=4), nn.CrossEntropyLoss(), optimizer,
         classification_metrics(), CPU)
    return norms


@isolated
def check(train_fn) -> Feedback:
    """Train one epoch with `train_fn` and with helpers' loop from the same start; compare the steps."""
    require_function(train_fn, "train_one_epoch")
    model = tiny_classifier()
    reference = copy.deepcopy(model)
    try:
        norms = run(train_fn, model)
    except LearnerError as error:
        return failed(error)
    expected = run(train_one_epoch, reference)
    same = all(torch.allclose(a, b, atol=1e-6) for a, b in zip(model.parameters(), reference.parameters()))
    if same and len(norms) == len(expected):
        return Feedback(True, "every step used its own batch's gradient.",
                        ["Gradient norm at each step: " + ", ".join(f"{v:.4f}" for v in norms)])
    shown = ", ".join(f"{v:.4f}" for v in norms) or "no step at all"
    details = [f"Gradient norm at each optimizer.step(): yours {shown}; "
               f"a correct loop {', '.join(f'{v:.4f}' for v in expected)}."]
    if norms and all(v == 0.0 for v in norms):
        return Feedback(False, "the parameters never moved: every step saw a zero gradient.",
                        details + ["The gradients were cleared after backward() and before step(): clear them "
                                   "before backward() instead."])
    if len(norms) > 1 and norms[0] == expected[0] and norms[-1] > expected[-1] * 1.5:
        return Feedback(False, "the gradient grows from step to step: gradients pile up.",
                        details + ["backward() adds to .grad, so from the second step on each step also "
                                   "carries the earlier batches' gradients. Call optimizer.zero_grad() every step."])
    return Feedback(False, "after one epoch the parameters differ from a correct loop's.",
                    details + ["Each step should be: zero_grad(), forward, loss, backward(), step()."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
