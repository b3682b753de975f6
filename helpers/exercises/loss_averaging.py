"""Exercise 2: the epoch loss is the per-sample average, whatever the batch sizes."""

import torch
from torch import nn

from ..data import TensorLoader
from ..metrics import classification_metrics
from ._common import (
    CPU, call, close, failed, Feedback, hint_and_solution, isolated, LearnerError, read_number,
    require_function, tiny_classifier, toy_data,
)

NOTEBOOK = "02_loss_averaging"
HINTS = [
    "With 10 samples in batches of 4, the batches hold 4, 4 and 2 samples. How much should each count?",
    "loss_fn returns the mean over one batch. A mean of those means gives the last, smaller batch as much "
    "weight as a full one.",
    "Accumulate `loss * len(targets)` and the number of samples, then divide the two at the end.",
]
# (samples, batch size): last batches of 2, 1, a single full batch, batches of one, and 1.
CASES = [(10, 4), (7, 3), (9, 9), (5, 1), (11, 5)]


def batch_sizes(n: int, batch_size: int) -> list[int]:
    return [min(batch_size, n - start) for start in range(0, n, batch_size)]


def wrong_averages(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int) -> dict[str, float]:
    """The numbers the classic mistakes produce, each with what it means."""
    with torch.no_grad():
        means = [nn.functional.cross_entropy(model(xb), yb).item() for xb, yb in
                 zip(x.split(batch_size), y.split(batch_size))]
    sizes = batch_sizes(len(x), batch_size)
    weighted = sum(m * s for m, s in zip(means, sizes))
    return {
        "You averaged the batch means: every batch counts the same, so the short last batch counts as much "
        "as a full one.": sum(means) / len(means),
        "You weighted each batch by its size, then divided by the number of batches instead of the number "
        "of samples.": weighted / len(means),
        "You added the batch means, then divided by the number of samples: each mean needs its batch's size "
        "as a weight first.": sum(means) / len(x),
        "You weighted every batch by the loader's batch_size, which the short last batch does not have.":
            sum(m * batch_size for m in means) / len(x),
    }


@isolated
def check(evaluate_fn) -> Feedback:
    """Compare `evaluate_fn`'s loss with the whole dataset's per-sample mean for several batchings."""
    require_function(evaluate_fn, "evaluate")
    model = tiny_classifier().eval()
    for n, batch_size in CASES:
        x, y = toy_data(n, seed=n)
        with torch.no_grad():
            expected = nn.functional.cross_entropy(model(x), y).item()
        loader = TensorLoader(x, y, batch_size=batch_size)
        try:
            result = call(evaluate_fn, model, loader, nn.CrossEntropyLoss(), classification_metrics(), CPU)
            got = read_number(result, "loss")
        except LearnerError as error:
            return failed(error)
        if not close(got, expected):
            sizes = ", ".join(map(str, batch_sizes(n, batch_size)))
            why = [reason for reason, value in wrong_averages(model, x, y, batch_size).items()
                   if close(got, value)]
            return Feedback(False, f"with {n} samples in batches of {sizes}, your loss is {got:.4f} "
                                   f"but the per-sample average is {expected:.4f}.",
                            why[:1] or ["Each sample should count once: sum loss * batch size, divide by samples."])
    return Feedback(True, "the loss is the per-sample average for every batching tried.",
                    [f"Checked {len(CASES)} batchings, including last batches of 1 and 2 samples."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
