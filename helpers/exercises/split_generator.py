"""Exercise 5: the train/validation split depends on its seed alone, not on what ran before it."""

import torch
from torch import nn
from torch.utils.data import TensorDataset

from ._common import (
    call, failed, Feedback, hint_and_solution, isolated, LearnerError, require_function,
)

NOTEBOOK = "05_split_generator"
HINTS = [
    "Build a model, then split; split without building a model first. Same seed: same validation set?",
    "random_split draws from torch's global generator unless you hand it one. Building a model draws from "
    "that generator too.",
    "Give the split its own generator: random_split(dataset, sizes, generator=torch.Generator().manual_seed(seed)).",
]
SORTED = TensorDataset(torch.arange(40), torch.arange(40) // 10)  # 40 samples, sorted by class, 4 classes


def validation_ids(split_fn, seed: int, before=lambda: None) -> tuple[list[int], list[int]]:
    """The sample ids in the training and validation sets, after running `before`."""
    torch.manual_seed(0)
    before()
    result = call(split_fn, SORTED, 10, seed)
    try:
        train, val = result
        return [int(train[i][0]) for i in range(len(train))], [int(val[i][0]) for i in range(len(val))]
    except (TypeError, ValueError, IndexError):
        raise LearnerError(f"Your function should return (train_set, val_set), got {result!r}.") from None


@isolated
def check(split_fn) -> Feedback:
    """Split 40 class-sorted samples with several seeds, with and without a model built first."""
    require_function(split_fn, "split")
    try:
        train, val = validation_ids(split_fn, seed=1)
        _, val_after_model = validation_ids(split_fn, seed=1, before=lambda: nn.Linear(40, 40))
        _, val_other_seed = validation_ids(split_fn, seed=2)
        state = torch.get_rng_state()
        call(split_fn, SORTED, 10, 1)
        global_untouched = torch.equal(state, torch.get_rng_state())
    except LearnerError as error:
        return failed(error)
    if val != val_after_model:
        return Feedback(False, "the validation set changed when a model was built before the split (same seed).",
                        ["The split drew from torch's global generator, which building a model had moved on.",
                         "Give the split a generator of its own, seeded with `seed`."])
    if len(val) != 10 or len(train) != 30 or sorted(train + val) != list(range(40)):
        return Feedback(False, f"the split should hold 30 + 10 distinct samples, got {len(train)} + {len(val)}.",
                        ["Every sample goes to exactly one side: train gets len(dataset) - val_size."])
    classes = sorted({i // 10 for i in val})
    if len(classes) < 3:
        return Feedback(False, f"the validation set holds only classes {classes} of 4.",
                        ["The data is sorted by class: shuffle before splitting (random_split does)."])
    if val == val_other_seed:
        return Feedback(False, "seeds 1 and 2 give the same validation set: the seed is not used.",
                        ["A fresh torch.Generator() always starts from the same default seed: call "
                         ".manual_seed(seed) on it."])
    if not global_untouched:
        return Feedback(False, "the split is repeatable, but it re-seeded torch's global generator.",
                        ["Everything drawn after it (initial weights, dropout, shuffling) now restarts from that "
                         "seed. Seed a generator of its own instead of calling torch.manual_seed."])
    return Feedback(True, "the split depends on its seed alone.",
                    ["Same validation set with or without a model built first; a new seed gives a new split."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
