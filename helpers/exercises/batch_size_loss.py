"""Exercise 2: the epoch loss is the per-sample average over the samples seen, whatever the batch sizes."""

import torch
from torch import nn

from ..data import TensorLoader
from ..metrics import classification_metrics
from ..syllabus import notebook_of
from .diagnoses import close
from .feedback import Feedback, Problem, verdict
from .fixtures import CPU, tiny_classifier, toy_data
from .harness import call, failed, isolated, LearnerError, read_number
from .hints import hint_and_solution

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "With 10 samples in batches of 4, the batches hold 4, 4 and 2 samples. How much should each count?",
    "loss_fn returns the mean over one batch. A mean of those means gives the last, smaller batch as much "
    "weight as a full one.",
    "Accumulate `loss.item() * len(targets)` and `len(targets)` for every batch, then divide the two sums "
    "at the end (not by len(loader.dataset): a loader may drop samples).",
]
# (samples, batch size, drop_last): last batches of 2, 1, one full batch, batches of one, 1, and a dropped 3.
CASES = [(10, 4, False), (7, 3, False), (9, 9, False), (5, 1, False), (11, 5, False), (11, 4, True)]


def batch_sizes(n: int, batch_size: int, drop_last: bool) -> list[int]:
    """The sizes of the batches a loader yields."""
    sizes = [min(batch_size, n - start) for start in range(0, n, batch_size)]
    return sizes[:-1] if drop_last and sizes[-1] < batch_size else sizes


def wrong_averages(means: list[float], sizes: list[int], n: int, batch_size: int) -> dict[str, float]:
    """The numbers the classic mistakes produce from the batch means, each with what it means."""
    weighted, seen = sum(m * s for m, s in zip(means, sizes)), sum(sizes)
    wrong = {
        "You averaged the batch means: every batch counts the same, so the short last batch counts as much "
        "as a full one.": sum(means) / len(means),
        "You weighted each batch by its size, then divided by the number of batches instead of the number "
        "of samples.": weighted / len(means),
        "You added the batch means, then divided by the number of samples: each mean needs its batch's size "
        "as a weight first.": sum(means) / seen,
        "You weighted every batch by the loader's batch_size, which the short last batch does not have.":
            sum(m * batch_size for m in means) / seen,
        "You counted loader.batch_size samples for every batch, but the short last batch holds fewer: count "
        "the samples each batch really has.": weighted / (len(sizes) * batch_size),
    }
    if seen < n:
        wrong[f"You divided by all {n} samples of the dataset, but with drop_last=True the loader yielded only "
              f"{seen} of them: divide by the samples your loop actually saw."] = weighted / n
    return wrong


@isolated("evaluate")
def check(evaluate_fn) -> Feedback:
    """Compare `evaluate_fn`'s loss with the per-sample mean over the batches seen, for several batchings."""
    model = tiny_classifier().eval()
    for n, batch_size, drop_last in CASES:
        x, y = toy_data(n, seed=n)
        sizes = batch_sizes(n, batch_size, drop_last)
        with torch.no_grad():
            means = [nn.functional.cross_entropy(model(xb), yb).item()
                     for xb, yb in zip(x.split(batch_size), y.split(batch_size))][:len(sizes)]
        expected = sum(m * s for m, s in zip(means, sizes)) / sum(sizes)
        loader, loss_fn = TensorLoader(x, y, batch_size=batch_size, drop_last=drop_last), nn.CrossEntropyLoss()
        try:
            result, problems = call(evaluate_fn, model, loader, loss_fn, classification_metrics(), CPU, model=model)
            got = read_number(result, "loss")
        except LearnerError as error:
            return failed(error)
        if loss_fn.reduction != "mean":
            problems.append(Problem(f"Your function changed the loss function's reduction to {loss_fn.reduction!r}.",
                                    "The caller trains with that same loss function: a function that evaluates "
                                    "must leave it as it was."))
        if not close(got, expected):
            shown = ", ".join(map(str, sizes)) + (f" (drop_last=True left out the last {n - sum(sizes)})"
                                                   if drop_last else "")
            why = [reason for reason, value in wrong_averages(means, sizes, n, batch_size).items()
                   if close(got, value)]
            problems.insert(0, Problem(f"With {n} samples in batches of {shown}, your loss is {got:.4f} but the "
                                       f"per-sample average is {expected:.4f}.",
                                       why[0] if why else "Each sample the loop sees should count once."))
        if problems:
            return verdict(problems, "", [])
    return Feedback(True, "the loss is the per-sample average for every batching tried.",
                    [f"Checked {len(CASES)} batchings, including last batches of 1 and 2 samples and a loader "
                     "with drop_last=True."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
