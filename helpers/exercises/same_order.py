"""Exercise 11: with a DistributedSampler, every epoch has its own order, and the processes' shares fit together."""

import reprlib

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

from ..syllabus import notebook_of
from .diagnoses import close
from .feedback import Feedback, Problem, verdict
from .fixtures import Batch, RecordingLoss, tiny_classifier, toy_data
from .harness import call, failed, isolated, LearnerError
from .hints import hint_and_solution

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Print the first indices the loader hands out in each epoch. Do they change from epoch to epoch? How would "
    "the sampler know which epoch it is?",
    "DistributedSampler shuffles from its seed plus an epoch number it keeps, which the DataLoader never changes. "
    "Every process must use the same number in the same epoch, so that their shares are parts of one order.",
    "At the start of every epoch, before iterating the loader, call loader.sampler.set_epoch(epoch).",
]
SAMPLES, PROCESSES, BATCH, EPOCHS = 14, 2, 4, 3  # each process: batches of 4 and 3 per epoch
SEEDS = (0, 1)  # the samplers' seed in the notebook's setting, then another one, for EPOCHS + 1 epochs


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


def as_process(fit_fn, rank: int, data: Recorded, seed: int, epochs: int) -> tuple[list[Problem], list[Problem]]:
    """Call the learner's fit as process `rank` would, with its share of `data`: (how it trained, what it changed)."""
    sampler = DistributedSampler(data, num_replicas=PROCESSES, rank=rank, shuffle=True, seed=seed)
    model = tiny_classifier()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    steps, loss_fn = [], RecordingLoss()
    optimizer.register_step_pre_hook(lambda opt, args, kwargs: steps.append(opt))
    history, changed = call(fit_fn, model, DataLoader(data, batch_size=BATCH, sampler=sampler), loss_fn, optimizer,
                            epochs, model=model, keeps_mode=False)
    if sampler.seed != seed:
        changed.append(Problem(f"Your function changed the sampler's seed from {seed} to {sampler.seed}.",
                               "The seed is the caller's choice: with it replaced, runs started from different "
                               "seeds draw the same orders. Tell the sampler the epoch instead; it shuffles from "
                               "its seed and the epoch together."))
    return training(history, len(steps), loss_fn.batches, epochs), changed


def number(value) -> float | None:
    """A loss as a float, or None when it is not a number."""
    try:
        return float(value.detach() if isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError, RuntimeError):
        return None


def training(history, steps: int, scored: list[Batch], epochs: int) -> list[Problem]:
    """What went wrong besides the order: a step per batch, and the history of per-epoch mean losses."""
    per_epoch, found = -(-SAMPLES // PROCESSES // BATCH), []
    if steps != epochs * per_epoch:
        found.append(Problem(f"The optimizer took {steps} steps in {epochs} epochs of {per_epoch} batches.",
                             "Training takes one optimizer step per batch."))
    drawn = [scored[e * per_epoch:(e + 1) * per_epoch] for e in range(epochs)]
    means = [sum(b.loss * b.size for b in e) / max(sum(b.size for b in e), 1) for e in drawn]
    got = [number(v) for v in history] if isinstance(history, (list, tuple)) else []
    if len(got) != epochs or not all(v is not None and close(v, m) for v, m in zip(got, means)):
        found.append(Problem(f"Your function returned {reprlib.repr(history)}; the mean training loss of each of the "
                             f"{epochs} epochs was {', '.join(f'{m:.4f}' for m in means)}.",
                             "Return the history: one number per epoch, the mean loss over its samples."))
    return found


def in_order(numbers: list[int]) -> str:
    """Sample numbers in the order drawn, comma-separated."""
    return ", ".join(map(str, numbers))


def repeats(epochs: list[list[int]], rank: int) -> Problem | None:
    """A problem when an epoch of process `rank` drew its samples in the order of an earlier epoch."""
    same = [e for e in range(1, len(epochs)) if epochs[e] in epochs[:e]]
    if not same:
        return None
    if len(same) == len(epochs) - 1:
        return Problem(f"Process {rank} drew its {len(epochs[0])} samples in the same order in all {len(epochs)} "
                       f"epochs: {in_order(epochs[0])}.",
                       "Nothing fails and the loss still falls, but the model meets the same batches in the same "
                       "sequence every epoch, as if the data were never reshuffled. (check gives your function "
                       "loaders of its own: work with the loader your function is given.)")
    pairs = ", ".join(f"epoch {e + 1} repeated epoch {epochs.index(epochs[e]) + 1}" for e in same)
    return Problem(f"Process {rank} drew its samples in an order it had drawn before: {pairs} "
                   f"({in_order(epochs[same[0]])}).",
                   "Nothing fails, but in that epoch the model meets the same batches in the same sequence as in "
                   "an earlier one: the reshuffle came one epoch late, or not at all.")


def overlaps(shares: list[list[list[int]]]) -> Problem | None:
    """A problem when, in some epoch, the processes' shares overlap or leave samples out."""
    for epoch, drawn in enumerate(zip(*shares), 1):
        both = sorted(set(drawn[0]).intersection(*drawn[1:]))
        left = sorted(set(range(SAMPLES)).difference(*drawn))
        if both or left:
            return Problem(f"In epoch {epoch} the processes' shares did not fit together: samples "
                           f"{in_order(both) or 'none'} went to both processes, and samples {in_order(left) or 'none'} "
                           "to neither.",
                           "The shares are parts of one shuffled order only when every process shuffles alike: "
                           "the same seed and the same epoch number in every process.")
    return None


def run(fit_fn, seed: int, epochs: int) -> tuple[list[list[list[int]]], list[Problem]]:
    """Fit as each of the processes from samplers seeded `seed`: (what each process drew per epoch, problems)."""
    share = SAMPLES // PROCESSES
    problems, shares = [], []
    for rank in range(PROCESSES):
        data = Recorded(TensorDataset(*toy_data(SAMPLES)))
        trained, changed = as_process(fit_fn, rank, data, seed, epochs)
        problems += [p for p in changed if p not in problems]
        if len(data.seen) != epochs * share:
            return shares, [Problem(
                f"Process {rank} drew {len(data.seen)} samples in {epochs} epochs; its share is {share} samples per "
                f"epoch ({SAMPLES} samples, {PROCESSES} processes), {epochs * share} in all.",
                "Each process trains on its own share only: iterate the loader you were given, once per epoch; "
                "its DistributedSampler picks the share.")] + problems
        problems += trained if rank == 0 else []
        shares.append(data.epochs(share))
    repeated = next(filter(None, (repeats(epochs, rank) for rank, epochs in enumerate(shares))), None)
    return shares, [p for p in [repeated, overlaps(shares)] if p] + problems


@isolated("fit")
def check(fit_fn) -> Feedback:
    """Fit 3 epochs as each of 2 processes over 14 samples in batches of 4, then 4 from another seed; compare."""
    try:
        shares, problems = run(fit_fn, SEEDS[0], EPOCHS)
        if not problems:
            other, problems = run(fit_fn, SEEDS[1], EPOCHS + 1)
            if not problems and other[0][:EPOCHS] == shares[0]:
                problems.append(Problem(
                    f"Samplers seeded {SEEDS[0]} and {SEEDS[1]} drew the same orders in the first {EPOCHS} epochs.",
                    "The caller's seed changed nothing: every run would see the same sequence of batches. Keep the "
                    "sampler's seed and tell it the epoch."))
    except LearnerError as error:
        return failed(error)
    firsts = "; ".join(in_order(epoch[:BATCH]) for epoch in shares[0]) if shares else ""
    return verdict(problems, "every epoch drew a new order, and the processes' shares fit together.",
                   [f"Process 0's first batch in epochs 1 to {EPOCHS}: {firsts}; another seed drew other orders."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
