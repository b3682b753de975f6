"""Exercise 11: with a DistributedSampler, every epoch has its own order, and the processes' shares fit together."""

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

from ._common import (
    call, failed, Feedback, hint_and_solution, isolated, LearnerError, Problem, tiny_classifier, toy_data, verdict,
)

NOTEBOOK = "11_set_epoch"
HINTS = [
    "Print the first indices the loader hands out in each epoch. Do they change from epoch to epoch? How would "
    "the sampler know which epoch it is?",
    "DistributedSampler shuffles from its seed plus an epoch number it keeps, which the DataLoader never changes. "
    "Every process must use the same number in the same epoch, so that their shares are parts of one order.",
    "At the start of every epoch, before iterating the loader, call loader.sampler.set_epoch(epoch).",
]
SAMPLES, PROCESSES, BATCH, EPOCHS = 16, 2, 4, 3


class Recorded(Dataset):
    """A dataset that hands out the samples of another and remembers the index of each, in order."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset, self.seen = dataset, []

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        self.seen.append(int(index))
        return self.dataset[index]

    def epochs(self, share: int) -> list[list[int]]:
        """The indices handed out so far, cut into epochs of `share` samples."""
        return [self.seen[start:start + share] for start in range(0, len(self.seen), share)]


def as_process(fit_fn, rank: int, data: Recorded) -> list[Problem]:
    """Call the learner's fit as process `rank` of PROCESSES would: with its sampler's share of `data`."""
    sampler = DistributedSampler(data, num_replicas=PROCESSES, rank=rank, shuffle=True, seed=0)
    model = tiny_classifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    _, problems = call(fit_fn, model, DataLoader(data, batch_size=BATCH, sampler=sampler), nn.CrossEntropyLoss(),
                       optimizer, EPOCHS, model=model, keeps_mode=False)
    return problems


def listed(numbers: list[int]) -> str:
    return ", ".join(map(str, numbers))


def repeats(epochs: list[list[int]], rank: int) -> Problem | None:
    """A problem when an epoch of process `rank` drew its samples in the order of an earlier epoch."""
    same = [e for e in range(1, len(epochs)) if epochs[e] in epochs[:e]]
    if not same:
        return None
    why = ("Nothing fails and the loss still falls, but the model meets the same batches in the same sequence "
           "every epoch, as if the data were never reshuffled.")
    if len(same) == len(epochs) - 1:
        return Problem(f"Process {rank} drew its {len(epochs[0])} samples in the same order in all {len(epochs)} "
                       f"epochs: {listed(epochs[0])}.", why)
    pairs = ", ".join(f"epoch {e + 1} repeated epoch {epochs.index(epochs[e]) + 1}" for e in same)
    return Problem(f"Process {rank} drew its samples in an order it had drawn before: {pairs} "
                   f"({listed(epochs[same[0]])}).", why)


def overlaps(shares: list[list[list[int]]]) -> Problem | None:
    """A problem when, in some epoch, the processes' shares overlap or leave samples out."""
    for epoch, drawn in enumerate(zip(*shares), 1):
        both = sorted(set(drawn[0]).intersection(*drawn[1:]))
        left = sorted(set(range(SAMPLES)).difference(*drawn))
        if both or left:
            return Problem(f"In epoch {epoch} the processes' shares did not fit together: samples "
                           f"{listed(both) or 'none'} went to both processes, and samples {listed(left) or 'none'} "
                           "to neither.",
                           "The shares are parts of one shuffled order only when every process shuffles alike: "
                           "the same seed and the same epoch number in every process.")
    return None


@isolated("fit")
def check(fit_fn) -> Feedback:
    """Fit 3 epochs as each of 2 processes over 16 samples in batches of 4; compare what every epoch drew."""
    share = SAMPLES // PROCESSES
    problems, shares = [], []
    for rank in range(PROCESSES):
        data = Recorded(TensorDataset(*toy_data(SAMPLES)))
        try:
            problems += [p for p in as_process(fit_fn, rank, data) if p not in problems]
        except LearnerError as error:
            return failed(error)
        if len(data.seen) != EPOCHS * share:
            return verdict([Problem(
                f"Process {rank} drew {len(data.seen)} samples in {EPOCHS} epochs; its share is {share} samples per "
                f"epoch ({SAMPLES} samples, {PROCESSES} processes), {EPOCHS * share} in all.",
                "Each process trains on its own share only: iterate the loader you were given, once per epoch; "
                "its DistributedSampler picks the share.")] + problems, "", [])
        shares.append(data.epochs(share))
    repeated = next(filter(None, (repeats(epochs, rank) for rank, epochs in enumerate(shares))), None)
    found = [p for p in [repeated, overlaps(shares)] if p]
    firsts = "; ".join(listed(epoch[:BATCH]) for epoch in shares[0])
    return verdict(found + problems, "every epoch drew a new order, and the processes' shares fit together.",
                   [f"Process 0's first batch in epochs 1 to {EPOCHS}: {firsts}."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
