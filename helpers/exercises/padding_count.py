"""Exercise 14: a sequence evaluation counts every real token once and no padded position."""

import functools
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassAccuracy

from ..data import PAD, pad_batch
from ._common import (
    call, close, failed, Feedback, first_failure, hint_and_solution, isolated, LearnerError, Problem, read_number,
    verdict,
)

NOTEBOOK = "14_padding_count"
HINTS = [
    "Evaluate the same sequences in batches of 1, then of 32. Should the accuracy change? What sits in a batch "
    "after a sequence has ended, and what does the model predict there?",
    "Each batch is padded to its longest sequence, so the number of padded positions depends on how the sequences "
    "are batched. Neither the loss nor the accuracy should see them; and the number that weights a batch is "
    "its count of real tokens, not of sequences.",
    "Give nn.CrossEntropyLoss `ignore_index=pad`, weight each batch's loss by `(targets != pad).sum()`, and count "
    "the right predictions only where `targets != pad`; divide both sums by the total of real tokens.",
]
CLASSES = 4  # PAD and three real classes
# The scores the scripted model gives each token, a row per token (0 is PAD): it predicts PAD at padded positions,
# and each real token's class with a confidence of its own, so that every way of counting gives its own number.
SCORES = torch.tensor([[3.0, 0.0, 0.4, -0.3],
                       [-1.0, 2.0, 0.0, 0.5], [-1.0, 0.3, 1.5, 0.0], [-1.0, 0.0, 0.2, 2.5],
                       [-1.0, 1.0, 0.6, 0.0], [-1.0, 0.0, 0.9, 0.5], [-1.0, 0.4, 0.0, 1.2]])
LENGTHS = [9, 2, 3, 6, 6, 5, 1, 8, 2, 4]
# (batch size, the targets' padding): batches padded to 9, 6, 8 and 4 positions; then to 9, 8 and 4; then the first
# batches again, their targets padded with the last class and the real classes renumbered 0..2, so 0 is a real class
CASES = ((3, PAD), (4, PAD), (3, CLASSES - 1))


class Scripted(nn.Module):
    """A tagger whose scores (N, classes, T) depend on each token alone, through a fixed embedding."""

    def __init__(self, pad: int) -> None:
        super().__init__()
        self.embed = nn.Embedding.from_pretrained(SCORES.roll(pad, dims=1))  # class c of SCORES is (c + pad) here

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Scores (N, classes, T) for tokens (N, T): each token's row of SCORES, its classes moved up by pad."""
        return self.embed(tokens).permute(0, 2, 1)


def sequences(pad: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Sequences of LENGTHS tokens 1..6, each with a target class among the CLASSES - 1 that are not `pad`."""
    generator = torch.Generator().manual_seed(14)
    return [(torch.randint(1, len(SCORES), (n,), generator=generator),
             (torch.randint(1, CLASSES, (n,), generator=generator) + pad) % CLASSES) for n in LENGTHS]


def collate(pairs: list[tuple[torch.Tensor, torch.Tensor]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """pad_batch, with the targets padded with `pad` (the tokens still with PAD, which no real token is)."""
    tokens, targets = pad_batch(pairs)
    return tokens, targets.masked_fill(tokens == PAD, pad)


@dataclass
class Batch:
    """One padded batch: each position's loss, whether it was predicted right, which positions are real, targets."""

    losses: torch.Tensor
    right: torch.Tensor
    real: torch.Tensor
    targets: torch.Tensor


def ratio(part, whole) -> float:
    """part / whole as a float, from numbers or one-element tensors."""
    return float(part) / float(whole)


def counts(batches: list[Batch]) -> tuple[int, int, int]:
    """Real tokens, padded positions and right predictions among the real tokens."""
    real = sum(int(b.real.sum()) for b in batches)
    positions = sum(b.real.numel() for b in batches)
    return real, positions - real, sum(int(b.right[b.real].sum()) for b in batches)


def accuracy_wrongs(batches: list[Batch], scores: torch.Tensor, targets: torch.Tensor, pad: int) -> dict[str, float]:
    """What the plausible ways of counting the accuracy give, each with what it did."""
    real, pads, right = counts(batches)
    sizes = [len(b.real) for b in batches]
    batch_accuracy = [ratio(b.right[b.real].sum(), b.real.sum()) for b in batches]
    per_sequence = [ratio(row[mask].sum(), mask.sum()) for b in batches for row, mask in zip(b.right, b.real)]
    smallest, largest = min(int(b.real.sum()) for b in batches), max(int(b.real.sum()) for b in batches)
    return {
        f"The {pads} padded positions were counted too, and the model predicts padding there: each one counted "
        "as right.": ratio(sum(b.right.sum() for b in batches), real + pads),
        f"That is the right predictions divided by all {real + pads} positions, the {pads} padded ones too, not by "
        f"the {real} real tokens.": ratio(right, real + pads),
        f"That is the mean of the {len(batches)} batches' accuracies: a batch of {smallest} real tokens counted "
        f"as much as one of {largest}.": sum(batch_accuracy) / len(batches),
        "That is the batches' accuracies weighted by their numbers of sequences, not of real tokens.":
            sum(a * n for a, n in zip(batch_accuracy, sizes)) / sum(sizes),
        f"That is the mean of the {len(per_sequence)} sequences' accuracies: a sequence of {min(LENGTHS)} token "
        f"counted as much as one of {max(LENGTHS)}.": sum(per_sequence) / len(per_sequence),
        "That is the mean of the batches' accuracies over all their positions: the padded positions counted, and "
        "each batch as much as any other.": sum(ratio(b.right.sum(), b.right.numel()) for b in batches) / len(batches),
        "That is the mean of the per-class accuracies (MulticlassAccuracy's default, average=\"macro\"): each "
        "class counts the same, however many tokens it has.":
            MulticlassAccuracy(CLASSES, ignore_index=pad)(scores, targets).item(),
        "That is the mean of the per-class accuracies, the padding class among them (MulticlassAccuracy's "
        "default, average=\"macro\").": MulticlassAccuracy(CLASSES)(scores, targets).item(),
    }


def loss_wrongs(batches: list[Batch]) -> dict[str, float]:
    """What the plausible ways of averaging the loss give, each with what it did."""
    real, pads, _ = counts(batches)
    sizes = [len(b.real) for b in batches]
    all_means = [float(b.losses.mean()) for b in batches]
    real_means = [float(b.losses[b.real].mean()) for b in batches]
    real_sum = sum(float(b.losses[b.real].sum()) for b in batches)
    per_sequence = [float(row[mask].mean()) for b in batches for row, mask in zip(b.losses, b.real)]
    smallest, largest = min(int(b.real.sum()) for b in batches), max(int(b.real.sum()) for b in batches)
    return {
        f"The {pads} padded positions were scored too.": sum(float(b.losses.sum()) for b in batches) / (real + pads),
        f"The {pads} padded positions were scored too, and each batch's mean was weighted by its number of "
        "sequences.": sum(m * n for m, n in zip(all_means, sizes)) / sum(sizes),
        f"The {pads} padded positions were scored too, and the batches' means averaged as equals.":
            sum(all_means) / len(batches),
        f"The {pads} padded positions were scored in each batch's mean (then weighted by its real tokens).":
            sum(m * int(b.real.sum()) for m, b in zip(all_means, batches)) / real,
        f"The padding was left out, but each batch's mean was weighted by its number of sequences "
        f"({', '.join(map(str, sizes))}), not of real tokens.":
            sum(m * n for m, n in zip(real_means, sizes)) / sum(sizes),
        "The padding was left out of each batch's mean, but the means were weighted by all the batches' positions, "
        "the padded ones too.": sum(m * b.real.numel() for m, b in zip(real_means, batches)) / (real + pads),
        f"That is the mean of the {len(batches)} batches' means: a batch of {smallest} real tokens counted as much "
        f"as one of {largest}.": sum(real_means) / len(batches),
        f"That is the mean of the {len(per_sequence)} sequences' mean losses: a sequence of {min(LENGTHS)} token "
        f"counted as much as one of {max(LENGTHS)}.": sum(per_sequence) / len(per_sequence),
        f"That is the real tokens' summed loss divided by all {real + pads} positions, the {pads} padded ones too.":
            real_sum / (real + pads),
        f"That is the real tokens' summed loss divided by the {sum(sizes)} sequences, not by the {real} tokens.":
            real_sum / sum(sizes),
    }


def pad_taken_for_zero(batches: list[Batch]) -> tuple[dict[str, float], dict[str, float]]:
    """What the loss and the accuracy give where PAD (0), not `pad`, is taken for the padding, with what it did."""
    real, pads, _ = counts(batches)
    kept = [b.targets != PAD for b in batches]  # the padded positions, and the real tokens of every class but 0
    total = sum(int(k.sum()) for k in kept)
    left = f"the {pads} padded positions were {{}}, and the {real + pads - total} real tokens of class {PAD} left out."
    return ({f"That is the mean over the positions whose target is not PAD ({PAD}): {left.format('scored')}":
                 sum(float(b.losses[k].sum()) for b, k in zip(batches, kept)) / total,
             f"That is each batch's mean over its positions whose target is not PAD ({PAD}), weighted by its real "
             f"tokens: {left.format('scored')}":
                 sum(float(b.losses[k].mean()) * int(b.real.sum()) for b, k in zip(batches, kept)) / real},
            {f"That is the right predictions among the positions whose target is not PAD ({PAD}): "
             f"{left.format('counted, each one as right')}":
                 ratio(sum(b.right[k].sum() for b, k in zip(batches, kept)), total)})


def problem(kind: str, got: float, expected: float, truth: str, wrongs: dict[str, float],
            otherwise: str) -> Problem | None:
    """A problem naming the way of counting that gives `got` (else saying `otherwise`), when it is not `expected`."""
    if close(got, expected):
        return None
    why = [reason for reason, value in wrongs.items() if close(got, value)]
    return Problem(f"Your {kind} is {got:.4f} but {truth}.", why[0] if why else otherwise)


def trial(evaluate_fn, batch_size: int, pad: int) -> Feedback:
    """Evaluate the scripted tagger on LENGTHS sequences in batches of `batch_size`, targets padded with `pad`."""
    model, data = Scripted(pad), sequences(pad)
    loader = DataLoader(data, batch_size=batch_size, collate_fn=functools.partial(collate, pad=pad))
    batches, all_scores, all_targets = [], [], []
    with torch.no_grad():
        for tokens, targets in loader:
            scores = model(tokens).permute(0, 2, 1).reshape(-1, CLASSES)  # a row per position
            losses = nn.functional.cross_entropy(scores, targets.reshape(-1), reduction="none")
            batches.append(Batch(losses.view_as(targets), scores.argmax(1).view_as(targets) == targets,
                                 targets != pad, targets))
            all_scores.append(scores)
            all_targets.append(targets.reshape(-1))
    real, pads, right = counts(batches)
    expected_loss = sum(float(b.losses[b.real].sum()) for b in batches) / real
    try:
        result, problems = call(evaluate_fn, model, loader, pad, model=model, keeps_mode=False)
        accuracy, loss = read_number(result, "accuracy"), read_number(result, "loss")
    except LearnerError as error:
        return failed(error)
    scores, targets = torch.cat(all_scores), torch.cat(all_targets)
    loss_zero, accuracy_zero = pad_taken_for_zero(batches) if pad != PAD else ({}, {})
    otherwise = ("Count each real token once, and no padded position." if pad == PAD else
                 f"The same sequences with the targets padded with PAD ({PAD}) gave the right numbers, so your "
                 f"function takes PAD for the padding; here {PAD} is a real class and the padding is {pad}.")
    found = [problem("accuracy", accuracy, right / real,
                     f"{right} of the {real} real tokens are predicted right ({right / real:.4f})",
                     accuracy_zero | accuracy_wrongs(batches, scores, targets, pad), otherwise),
             problem("loss", loss, expected_loss,
                     f"the mean cross-entropy over the {real} real tokens is {expected_loss:.4f}",
                     loss_zero | loss_wrongs(batches), otherwise)]
    problems = [p for p in found if p] + problems
    if problems and pad != PAD:
        problems[0] = Problem(f"With the targets padded with {pad} (the pad argument) instead of PAD ({PAD}): "
                              f"{problems[0].symptom}", problems[0].why)
    elif problems and batch_size != CASES[0][0]:
        problems[0] = Problem(f"With batches of {batch_size} sequences: {problems[0].symptom}", problems[0].why)
    return verdict(problems, "the loss and the accuracy count every real token once and no padded position.",
                   [f"{real} real tokens and {pads} padded positions in batches of {CASES[0][0]} sequences; also "
                    f"right in batches of {CASES[1][0]}, and with the targets padded with {CASES[2][1]} instead of "
                    f"PAD ({PAD})."])


@isolated("evaluate_tokens")
def check(evaluate_fn) -> Feedback:
    """Batches of 3, then of 4 sequences padded with PAD; then of 3, the targets padded with 3 and 0 a real class."""
    return first_failure(trial(evaluate_fn, batch_size, pad) for batch_size, pad in CASES)


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
