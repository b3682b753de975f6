"""Exercise 14: a sequence evaluation counts every real token once and no padded position."""

import functools
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader
from torchmetrics.classification import MulticlassAccuracy

from ..data import PAD
from ..syllabus import notebook_of
from .diagnoses import altered, close
from .feedback import Feedback, first_failure, prefixed, Problem, verdict
from .harness import call, failed, isolated, LearnerError, read_number
from .hints import hint_and_solution
from .spies import Watch

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Evaluate the same sequences in batches of 1, then of 32. Should the accuracy change? What sits in a batch "
    "after a sequence has ended, and what does the model predict there?",
    "Each batch is padded to its longest sequence, so the number of padded positions depends on how the sequences "
    "are batched. Neither the loss nor the accuracy should see them; and the number that weights a batch is "
    "its count of real tokens, not of sequences.",
    "Give nn.CrossEntropyLoss `ignore_index=pad`, weight each batch's loss by `(targets != pad).sum()`, and count "
    "the right predictions only where `targets != pad`; divide both sums by the total of real tokens.",
]
CLASSES = 4  # the padding class and three real classes
# The scores the scripted model gives each token, a row per token (row 0 is the padding token): it predicts the
# padding class at padded positions and, at the real tokens, a class with a confidence of each token's own, so that
# every way of counting gives its own number. Token 5 puts the padding class narrowly first, as a half-trained
# tagger may: an accuracy that never predicts the padding class scores it otherwise.
SCORES = torch.tensor([[3.0, 0.0, 0.4, -0.3],
                       [-1.0, 2.0, 0.0, 0.5], [-1.0, 0.3, 1.5, 0.0], [-1.0, 0.0, 0.2, 2.5],
                       [-1.0, 1.0, 0.6, 0.0], [1.0, 0.0, 0.9, 0.5], [-1.0, 0.4, 0.0, 1.2]])
TOKENS = len(SCORES)  # the padding token and six real ones
LENGTHS = [9, 2, 3, 6, 6, 5, 1, 8, 2, 4]
# (batch size, pad): batches padded to 9, 6, 8 and 4 positions; then to 9, 8 and 4; then the first batches again,
# tokens and targets padded with 3, every token id and class moved up by 3 (so 0 is a real token and a real class)
CASES = ((3, PAD), (4, PAD), (3, 3))


class Scripted(nn.Module):
    """A tagger whose scores (N, classes, T) depend on each token alone, through a fixed embedding, then Dropout."""

    def __init__(self, pad: int) -> None:
        super().__init__()
        # token (t + pad) % TOKENS gets the scores of token t in SCORES, its class c moved to (c + pad) % CLASSES
        self.embed = nn.Embedding.from_pretrained(SCORES.roll(pad, dims=1).roll(pad, dims=0))
        self.drop = nn.Dropout(0.5)  # in train mode, it changes the scores: an evaluation must switch it off

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Scores (N, classes, T) for tokens (N, T)."""
        return self.drop(self.embed(tokens)).permute(0, 2, 1)


def sequences(pad: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Sequences of LENGTHS tokens, none of them `pad`, each with a target class among the CLASSES - 1 not `pad`."""
    generator = torch.Generator().manual_seed(14)
    return [((torch.randint(1, TOKENS, (n,), generator=generator) + pad) % TOKENS,
             (torch.randint(1, CLASSES, (n,), generator=generator) + pad) % CLASSES) for n in LENGTHS]


def collate(pairs: list[tuple[torch.Tensor, torch.Tensor]], pad: int, handed: list | None = None) \
        -> tuple[torch.Tensor, torch.Tensor]:
    """Tokens and targets (N, T), both padded with `pad` to the batch's longest; with `handed`, kept there, copied."""
    tokens, targets = (pad_sequence(list(column), batch_first=True, padding_value=pad) for column in zip(*pairs))
    if handed is not None:
        handed.append(((tokens, targets), (tokens.clone(), targets.clone())))
    return tokens, targets


@dataclass
class Batch:
    """One padded batch: each position's loss, raw and after a softmax, whether it is right, whether it is real."""

    losses: torch.Tensor
    softmax_losses: torch.Tensor
    right: torch.Tensor
    real: torch.Tensor
    tokens: torch.Tensor
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
    taken = targets != pad
    said_pad = taken & (scores.argmax(1) == pad)  # real tokens whose top score is the padding class
    runner_up = scores.index_fill(1, torch.tensor([pad]), -torch.inf).argmax(1) == targets
    saved = int(runner_up[said_pad].sum())
    return {
        f"That is the accuracy of predictions that never name the padding class: at the {int(said_pad.sum())} real "
        f"tokens where the padding class scores highest, the next class was taken, and {saved} of them counted as "
        "right.": ratio(runner_up[taken].sum(), real),
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
        "That is the mean cross-entropy of the softmax of the scores over the real tokens: cross-entropy takes the "
        "raw scores and applies the softmax itself, so the softmax was applied twice.":
            sum(float(b.softmax_losses[b.real].sum()) for b in batches) / real,
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


def zero_taken_for_padding(batches: list[Batch]) -> tuple[dict[str, float], dict[str, float]]:
    """What the loss and the accuracy give where 0, not `pad`, marks the padding in the targets or the tokens."""
    real, pads, _ = counts(batches)
    loss, accuracy = {}, {}
    for which, named in (("target", f"of class {PAD}"), ("token", f"whose id is {PAD}")):
        kept = [getattr(b, f"{which}s") != PAD for b in batches]  # the padded positions, and the real tokens not 0
        total = sum(int(k.sum()) for k in kept)
        where = f"positions whose {which} is not {PAD}"
        lost = f"the {real + pads - total} real tokens {named}"
        loss |= {f"That is the mean over the {where}: the {pads} padded positions were scored, and {lost} left out.":
                 sum(float(b.losses[k].sum()) for b, k in zip(batches, kept)) / total,
                 f"That is each batch's mean over its {where}, weighted by its real tokens: the {pads} padded "
                 f"positions were scored, and {lost} left out.":
                     sum(float(b.losses[k].mean()) * int(b.real.sum()) for b, k in zip(batches, kept)) / real,
                 f"That is each batch's mean over its real tokens, weighted by its {where}: the {pads} padded "
                 f"positions counted in the weights, and {lost} left out of them.":
                     sum(float(b.losses[b.real].mean()) * int(k.sum()) for b, k in zip(batches, kept)) / total}
        accuracy[f"That is the right predictions among the {where}: the {pads} padded positions were counted, "
                 f"each one as right, and {lost} left out."] = \
            ratio(sum(b.right[k].sum() for b, k in zip(batches, kept)), total)
    return loss, accuracy


def named(got: float, wrongs: dict[str, float]) -> str | None:
    """The first of the known wrong ways that gives `got`, if one does."""
    return next((reason for reason, value in wrongs.items() if close(got, value)), None)


def problem(kind: str, got: float, expected: float, truth: str, wrongs: dict[str, float],
            otherwise: str) -> Problem | None:
    """A problem naming the way of counting that gives `got` (else saying `otherwise`), when it is not `expected`."""
    if close(got, expected):
        return None
    return Problem(f"Your {kind} is {got:.4f} but {truth}.", named(got, wrongs) or otherwise)


def unexplained(kind: str, other: str, other_right: bool, pad: int) -> str:
    """What to say of a wrong `kind` (loss or accuracy) that no known way of counting gives."""
    if pad != PAD:
        return f"The same sequences padded with {PAD} gave the right numbers; here {PAD} is a real token and class."
    known = f"no way of counting the real tokens or the padding that the check knows gives this {kind}."
    return f"Your {other} is right, and {known}" if other_right else known[0].upper() + known[1:]


def dropout_problem(watch: Watch, loss: float, accuracy: float, expected_loss: float,
                    expected_accuracy: float) -> Problem | None:
    """A problem when Dropout was on in some of the evaluation's forward passes: what the wrong numbers come from."""
    on, passes = watch.passes("Dropout", training=True), watch.passes("Dropout")
    if not on:
        return None
    return Problem(f"Dropout was switching scores off at random in {len(on)} of the {len(passes)} batches your "
                   f"function ran through the model, which came in train mode: your loss is {loss:.4f} and your "
                   f"accuracy {accuracy:.4f}; in eval mode they are {expected_loss:.4f} and {expected_accuracy:.4f}.",
                   "An evaluation measures the whole model, every unit counting, and gives the same numbers at "
                   "every call: it runs in eval mode, whatever mode the caller left the model in.")


def trial(evaluate_fn, batch_size: int, pad: int) -> Feedback:
    """Evaluate the scripted tagger on LENGTHS sequences in batches of `batch_size`, all padded with `pad`."""
    model, data = Scripted(pad).eval(), sequences(pad)
    batches, all_scores, all_targets = [], [], []
    with torch.no_grad():
        for start in range(0, len(data), batch_size):
            tokens, targets = collate(data[start:start + batch_size], pad)
            scores = model(tokens).permute(0, 2, 1).reshape(-1, CLASSES)  # a row per position
            losses, softmax_losses = (nn.functional.cross_entropy(s, targets.reshape(-1), reduction="none")
                                      .view_as(targets) for s in (scores, scores.softmax(1)))
            batches.append(Batch(losses, softmax_losses, scores.argmax(1).view_as(targets) == targets,
                                 targets != pad, tokens, targets))
            all_scores.append(scores)
            all_targets.append(targets.reshape(-1))
    real, pads, right = counts(batches)
    expected_loss = sum(float(b.losses[b.real].sum()) for b in batches) / real
    handed = []
    loader = DataLoader(data, batch_size=batch_size, collate_fn=functools.partial(collate, pad=pad, handed=handed))
    watch = Watch(model.train())  # as a training loop leaves it
    try:
        result, problems = call(evaluate_fn, model, loader, pad, model=model, keeps_mode=False)
        accuracy, loss = read_number(result, "accuracy"), read_number(result, "loss")
    except LearnerError as error:
        return failed(error)
    given, kept = zip(*handed) if handed else ((), ())
    problems = [p for p in (altered(name, [b[i] for b in given], [c[i] for c in kept])
                            for i, name in enumerate(("tokens", "targets"))) if p] + problems
    scores, targets = torch.cat(all_scores), torch.cat(all_targets)
    loss_zero, accuracy_zero = zero_taken_for_padding(batches) if pad != PAD else ({}, {})
    accuracy_known = accuracy_zero | accuracy_wrongs(batches, scores, targets, pad)
    loss_known = loss_zero | loss_wrongs(batches)
    accuracy_right, loss_right = close(accuracy, right / real), close(loss, expected_loss)
    unknown = (not accuracy_right and not named(accuracy, accuracy_known)) or \
        (not loss_right and not named(loss, loss_known))
    dropout = dropout_problem(watch, loss, accuracy, expected_loss, right / real) if unknown else None
    found = [dropout] if dropout else [
        problem("accuracy", accuracy, right / real,
                f"{right} of the {real} real tokens are predicted right ({right / real:.4f})", accuracy_known,
                unexplained("accuracy", "loss", loss_right, pad)),
        problem("loss", loss, expected_loss,
                f"the mean cross-entropy over the {real} real tokens is {expected_loss:.4f}", loss_known,
                unexplained("loss", "accuracy", accuracy_right, pad))]
    problems = [p for p in found if p] + problems
    if problems and pad != PAD:
        problems[0] = prefixed(problems[0], f"With the padding marked by {pad} (the pad argument) instead of {PAD}: ")
    elif problems and batch_size != CASES[0][0]:
        problems[0] = prefixed(problems[0], f"With batches of {batch_size} sequences: ")
    return verdict(problems, "the loss and the accuracy count every real token once and no padded position.",
                   [f"{real} real tokens and {pads} padded positions in batches of {CASES[0][0]} sequences, the "
                    f"model handed over in train mode; also right in batches of {CASES[1][0]}, and with the padding "
                    f"marked by {CASES[2][1]} instead of {PAD}, where {PAD} is a real token and a real class."])


@isolated("evaluate_tokens")
def check(evaluate_fn) -> Feedback:
    """Batches of 3, then of 4 sequences padded with 0; then of 3 padded with 3, where 0 is a real token and class."""
    return first_failure(trial(evaluate_fn, batch_size, pad) for batch_size, pad in CASES)


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
