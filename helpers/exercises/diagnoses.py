"""Diagnoses several checks share: from what was observed to the problem, in words."""

import math

import torch

from .feedback import listed, Problem
from .fixtures import RecordingLoss
from .harness import read_number
from .spies import Seen, Watch


def close(value: float, expected: float) -> bool:
    """Equal up to float rounding; NaN is never close to anything."""
    return math.isclose(value, expected, rel_tol=1e-5, abs_tol=1e-6)


def altered(name: str, given: list[torch.Tensor], kept: list[torch.Tensor]) -> Problem | None:
    """A problem when the learner's function changed tensors it was given: `kept` holds copies made before the call."""
    differ = [(g, k) for g, k in zip(given, kept)
              if g.shape != k.shape or g.dtype != k.dtype or not torch.equal(g.detach(), k)]
    if not differ:
        return None
    reshaped = [(g, k) for g, k in differ if g.shape != k.shape or g.dtype != k.dtype]
    if reshaped:
        g, k = reshaped[0]
        how = (f"shape {tuple(k.shape)} became {tuple(g.shape)}" if g.shape != k.shape else
               f"dtype {k.dtype} became {g.dtype}")
    else:
        how = f"{sum(int((g.detach() != k).sum()) for g, k in differ)} of their {sum(k.numel() for k in kept)} values"
    where = f", in {len(differ)} of the {len(given)} batches" if len(given) > 1 else ""
    return Problem(f"Your function changed the {name} it was given ({how}{where}).",
                   "The caller still holds them and may use them again after your function returns (a metric, a "
                   "plot, the next pass over the same data): put what you change in new tensors and leave these as "
                   "they are.")


def loss_problem(got: float, recount: tuple[float, float, float], what: str = "The loss your function returned") \
        -> Problem | None:
    """A problem when a returned loss is not the per-sample mean of the batches the loss function scored."""
    mean, batch_mean, _ = recount
    if close(got, mean):
        return None
    how = " (the mean of the batch means)" if close(got, batch_mean) else ""
    return Problem(f"{what} is {got:.4f}{how}; the mean over the samples it scored is {mean:.4f}.",
                   "Weight each batch's mean loss by its number of samples: the last batch is shorter.")


def epoch_loss_problem(history: list, loss_fn: RecordingLoss, keys=(("train", "loss"), ("val", "val_loss"))) \
        -> Problem | None:
    """The first epoch record whose losses are not the per-sample means of the batches its phases scored."""
    for epoch, entry in enumerate(history, 1):
        for phase, key in keys:
            problem = loss_problem(read_number(entry, key), loss_fn.recount(phase, epoch), f"Epoch {epoch}'s {key}")
            if problem:
                return problem
    return None


def trained_in_eval_mode(watch: Watch) -> Problem | None:
    """A problem when Dropout was off in training batches: the epochs after a validation trained in eval mode."""
    train = watch.passes("Dropout", phase="train")
    off = [s for s in train if not s.training]
    if not off:
        return None
    epochs = sorted({s.epoch for s in off})
    named = f"epoch{'s' * (len(epochs) > 1)} {listed(epochs)}"
    return Problem(f"Dropout was off in {len(off)} of {len(train)} training batches, all in {named}: from then "
                   "on, the model trained in eval mode.",
                   "The model trains without the regularisation it was built with, and nothing in the numbers "
                   "says so.")


def graphs_recorded(passes: list[Seen], batches: str = "batches") -> Problem | None:
    """A problem when autograd was on for some of these forward passes of an evaluation."""
    recording = [s for s in passes if s.grad]
    if not recording:
        return None
    return Problem(f"Autograd recorded a graph for {len(recording)} of {len(passes)} {batches}.",
                   "Evaluation never calls backward(), so every graph only costs memory and time.")


def validation_problems(watch: Watch) -> list[Problem]:
    """What the watched validation passes say against eval mode without autograd."""
    found = []
    dropout = watch.passes("Dropout", phase="val")
    on = [s for s in dropout if s.training]
    if on:
        found.append(Problem(f"Dropout was on in {len(on)} of {len(dropout)} validation batches.",
                             "Validation scores the whole model, every unit counting: it runs in eval mode."))
    return found + [p for p in [graphs_recorded(watch.passes(phase="val"), "validation batches")] if p]
