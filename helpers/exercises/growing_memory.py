"""Exercise 6: the running loss is a number, not a tensor that chains every batch's autograd graph."""

import functools
import gc
import weakref

import torch

from ..data import TensorLoader
from ..metrics import classification_metrics
from ..syllabus import notebook_of
from .diagnoses import loss_problem
from .feedback import Feedback, Problem, verdict
from .fixtures import CPU, RecordingLoss, tiny_classifier, toy_data
from .harness import call, failed, isolated, LearnerError, read_number
from .hints import hint_and_solution

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Print the running total after the loop. Does it say grad_fn=...? What else does your loop keep from one "
    "batch to the next?",
    "A tensor that comes out of the forward pass carries its autograd graph with it. Adding it to a running "
    "total, or keeping it in a list, keeps every batch's graph alive until the epoch ends.",
    "Keep values, not graphs: add `loss.detach() * len(targets)` to the total (it stays on the device; "
    "`loss.item()` works too, but waits for the device at every batch), and keep `logits.detach()` if you need "
    "the outputs after the loop.",
]


class _Tag:
    """An object that lives exactly as long as the autograd graph it is attached to."""


def _keep(tag: _Tag, grad_outputs):
    return None


class TrackedLoss(RecordingLoss):
    """Cross-entropy that counts, at each call, how many earlier batches' graphs are still alive.

    Each batch's graph is tagged twice: at the loss, and at the model's outputs, so that outputs kept with
    their graph show up even when the loss itself was let go."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, weakref.ref]] = []
        self.most_alive = 0
        self.most_outputs = 0

    def alive(self, kind: str = "loss") -> int:
        return sum(tag() is not None for k, tag in self.tags if k == kind)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.most_alive = max(self.most_alive, self.alive("loss"))
        self.most_outputs = max(self.most_outputs, self.alive("outputs"))
        loss = super().forward(logits, targets)
        for kind, tensor in (("loss", loss), ("outputs", logits)):
            if tensor.grad_fn is not None:
                tag = _Tag()
                self.tags.append((kind, weakref.ref(tag)))
                tensor.grad_fn.register_prehook(functools.partial(_keep, tag))
        return loss


@isolated("train_one_epoch")
def check(train_fn) -> Feedback:
    """Train one epoch of 6 uneven batches, counting the batch graphs kept alive at each step and afterwards."""
    model, loss_fn = tiny_classifier(), TrackedLoss()
    loader = TensorLoader(*toy_data(22), batch_size=4)  # 5 batches of 4, then 2
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    try:
        result, problems = call(train_fn, model, loader, loss_fn, optimizer, classification_metrics(), CPU,
                                model=model, keeps_mode=False)
        loss = read_number(result, "loss")
        wrong_loss = loss_problem(loss, loss_fn.recount())
    except LearnerError as error:
        return failed(error)
    gc.collect()
    if loss_fn.most_alive > 1:
        problems.insert(0, Problem(f"The losses of {loss_fn.most_alive} batches were alive at once, each with "
                                   "the autograd graph of its batch; they should be freed batch by batch.",
                                   "Something kept each batch's loss tensor, and with it the graph that computed "
                                   "it: backward() freed the activations the graph saved, but its nodes stay until "
                                   "the epoch ends, and a loop without backward() (an evaluation without no_grad) "
                                   "would keep every batch's activations too."))
    elif loss_fn.most_outputs > 1:
        problems.insert(0, Problem(f"The model outputs of {loss_fn.most_outputs} batches were kept alive at once, "
                                   "each with the autograd graph of its batch.",
                                   "Outputs kept for the end of the epoch need only their values; with their "
                                   "graphs, what the loop keeps grows with every batch until the epoch ends."))
    elif loss_fn.alive("loss") or loss_fn.alive("outputs") or any(
            isinstance(v, torch.Tensor) and v.requires_grad for v in result.values()):
        problems.insert(0, Problem("The result your function returned still holds an autograd graph.",
                                   "A history of results would keep every epoch's graph alive: return plain "
                                   "numbers."))
    problems += [p for p in [wrong_loss] if p]
    return verdict(problems, "each batch's graph is freed before the next batch runs.",
                   [f"Epoch loss {loss:.4f}, at most one graph alive at any time."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
