"""Exercise 5: the train/validation split depends on its arguments alone, not on what ran before it."""

import inspect
import random

import numpy as np
import torch
from torch import nn
from torch.utils.data import TensorDataset

from ..syllabus import notebook_of
from .feedback import Feedback, Problem, verdict
from .harness import call, failed, isolated, LearnerError
from .hints import hint_and_solution

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Call your split twice with the same seed, and once after building a model. Same validation set every "
    "time? Is every argument used?",
    "random_split draws from torch's global generator unless you hand it one, and building a model draws "
    "from that generator too. A generator made once and reused keeps moving; one made without a seed starts "
    "somewhere new.",
    "Make a new generator in every call and seed it with the argument: random_split(dataset, "
    "[len(dataset) - val_size, val_size], generator=torch.Generator().manual_seed(seed)).",
]
SORTED = TensorDataset(torch.arange(40), torch.arange(40) // 10)  # 40 samples, sorted by class, 4 classes


def ids(split_fn, val_size: int, seed: int, before=lambda: None) -> tuple[list[int], list[int], list[Problem]]:
    """The sample ids in the training and validation sets after running `before`, and what the call changed."""
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    before()
    result, changed = call(split_fn, SORTED, val_size, seed)
    try:
        train, val = result
        return [int(train[i][0]) for i in range(len(train))], [int(val[i][0]) for i in range(len(val))], changed
    except (TypeError, ValueError, IndexError):
        raise LearnerError(f"Your function should return (train_set, val_set), got {result!r}.") from None


def outside_generators(split_fn) -> list[str]:
    """Names of torch generators your function reaches from outside its own body (globals, closures)."""
    names = inspect.getclosurevars(split_fn)
    found = {**names.globals, **names.nonlocals}
    return [name for name, value in found.items() if isinstance(value, torch.Generator)]


def repeatability(split_fn, val: list[int], again: list[int], after_model: list[int]) -> list[Problem]:
    """Problems with getting the same split from the same seed."""
    if val != again:
        shared = outside_generators(split_fn)
        return [Problem("Two calls with the same seed gave different validation sets.",
                        f"Your function draws from the generator `{shared[0]}`, made outside it, and every call "
                        "moves it on." if shared else
                        "The generator the split drew from did not start from the seed: it started somewhere "
                        "new in each call.")]
    if val != after_model:
        return [Problem("The validation set changed when a model was built before the split (same seed).",
                        "The split drew from torch's global generator, which building the model had moved on.")]
    return []


def sizes_and_spread(train: list[int], val: list[int], val_size: int) -> list[Problem]:
    """Problems with how many samples each side holds and which classes the validation set sees."""
    if len(val) != val_size or len(train) != 40 - val_size or sorted(train + val) != list(range(40)):
        return [Problem(f"Asked for {val_size} validation samples out of 40, your function returned "
                        f"{len(train)} training and {len(val)} validation samples"
                        f"{'' if sorted(train + val) == list(range(40)) else ', not each sample once'}.",
                        "Every sample goes to exactly one side, and val_size says how many go to validation.")]
    if sorted(val) == list(range(min(val), min(val) + len(val))):  # a shuffled split: chance below 1 in 500,000
        classes = sorted({i // 10 for i in val})
        return [Problem(f"The validation set holds only classes {classes} of the 4: samples {min(val)} to {max(val)}, "
                        "one block of the class-sorted data.",
                        "The data is sorted by class, so an unshuffled split leaves classes out.")]
    return []


@isolated("split")
def check(split_fn) -> Feedback:
    """Split 40 class-sorted samples: twice with one seed, after building a model, with other sizes and seeds."""
    try:
        train, val, changed = ids(split_fn, 10, seed=1)
        _, again, _ = ids(split_fn, 10, seed=1)
        _, after_model, _ = ids(split_fn, 10, seed=1, before=lambda: nn.Linear(40, 40))
        _, other_seed, _ = ids(split_fn, 10, seed=2)
        problems = repeatability(split_fn, val, again, after_model) + changed
        for val_size in (10, 7, 13):
            found = sizes_and_spread(*ids(split_fn, val_size, seed=3)[:2], val_size)
            if found:
                problems += found
                break
    except LearnerError as error:
        return failed(error)
    if not problems and val == other_seed:
        problems.append(Problem("Seeds 1 and 2 gave the same validation set.",
                                "The seed argument changes nothing, so there is one split, whatever you ask."))
    return verdict(problems, "the split depends on its arguments alone.",
                   ["Same validation set on every call with one seed, with or without a model built first; "
                    "a new seed gives a new split; 7, 10 and 13 validation samples as asked."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
