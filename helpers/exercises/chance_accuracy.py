"""Exercise 15: a per-token loss pairs each real token's target with that token's own class scores."""

import torch
from torch import nn

from ..data import PAD
from ..syllabus import notebook_of
from .diagnoses import altered, close
from .feedback import Feedback, first_failure, prefixed, Problem, verdict
from .harness import call, failed, isolated, LearnerError
from .hints import hint_and_solution
from .spies import matches

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Which axis of `scores` holds the classes, and on which axis does nn.functional.cross_entropy look for them? "
    "What does a model learn when each target is scored against numbers from other positions?",
    "`view` and `reshape` only cut the same numbers into another shape, in the order they are stored: scores of "
    "shape (N, T, C) viewed as (N, C, T) mix positions and classes. To move an axis, the numbers must be "
    "rearranged.",
    "Move the class axis to where cross_entropy wants it: `scores.permute(0, 2, 1)` (or `scores.transpose(1, 2)`), "
    "keeping `ignore_index=pad`; or flatten both, `scores.reshape(-1, c)` against `targets.reshape(-1)`.",
]
MARGIN = 12.0  # how much higher the confident scores put each real token's own class than every other class
# (the lengths of the sequences, classes, pad): scores (3, 6, 4), (4, 5, 3) and (2, 7, 5), each axis a size of its own;
# (3, 5, 5), as many positions as classes, so that scores with their axes in the wrong order fit too; then (4, 5, 6)
# padded with 3, all the other classes real ones, 0 among them
CASES = [([6, 2, 4], 4, PAD), ([5, 5, 1, 3], 3, PAD), ([7, 3], 5, PAD), ([2, 5, 4], 5, PAD), ([3, 5, 4, 2], 6, 3)]
SCRAMBLED = ("it pairs targets with scores from other positions or classes, so a model trained on it cannot learn "
             "which class each token has.")


def tagged(lengths: list[int], classes: int, pad: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Targets (N, T) of the classes but `pad`, then `pad`; the mask of the real positions; random scores (N, T, C)."""
    generator = torch.Generator().manual_seed(sum(lengths) * classes)
    n, t = len(lengths), max(lengths)
    real = torch.arange(t) < torch.tensor(lengths)[:, None]
    targets = ((torch.randint(1, classes, (n, t), generator=generator) + pad) % classes).where(real, pad)
    return targets, real, torch.randn(n, t, classes, generator=generator)


def confident(scores: torch.Tensor, targets: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """`scores` with each real token's own class MARGIN above its highest other class; padded positions keep theirs."""
    own = nn.functional.one_hot(targets, scores.shape[-1]).bool() & real[..., None]
    return scores.where(~own, scores.masked_fill(own, -torch.inf).amax(-1, keepdim=True) + MARGIN)


def each(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The cross-entropy of every position (N, T), padded ones too (as the padding class)."""
    n, t, c = scores.shape
    return nn.functional.cross_entropy(scores.reshape(-1, c), targets.reshape(-1), reduction="none").view(n, t)


def wrongs(scores: torch.Tensor, targets: torch.Tensor, real: torch.Tensor, pad: int) -> dict[str, float]:
    """What the plausible wrong losses give, each with what it did."""
    n, t, c = scores.shape
    losses = each(scores, targets)
    tokens, pads = int(real.sum()), real.numel() - int(real.sum())
    total = float(losses[real].sum())
    rearranged = (f"That is the loss of the scores' numbers taken in the order they are stored, {(n, t, c)}, as if "
                  f"they were laid out {(n, c, t)}: {SCRAMBLED}" if t != c else
                  f"That is the loss of the scores left in their shape {(n, t, c)}: with {t} positions and {c} classes "
                  f"it fits, but cross_entropy took axis 1, the positions, for the classes: {SCRAMBLED}")
    found = {
        rearranged: float(nn.functional.cross_entropy(scores.reshape(n, c, t), targets, ignore_index=pad)),
        "That is the mean cross-entropy of the softmax of the scores: cross_entropy takes the raw scores and applies "
        "the softmax itself, so the softmax was applied twice.": float(each(scores.softmax(-1), targets)[real].mean()),
        "That is the cross-entropy with the softmax taken over the positions (axis 1), not over the classes: each "
        "token's score for its class was weighed against that class's scores at the other positions.":
            float(-scores.log_softmax(1).gather(-1, targets[..., None])[..., 0][real].mean()),
        f"The {pads} padded positions were scored too, as tokens of the padding class: the loss, and its "
        "gradient, count them.": float(losses.mean()),
        f"That is the sum over the {tokens} real tokens, not their mean: it grows with the batch's number of "
        "tokens.": total,
        f"That is the mean of the {len(real)} sequences' mean losses: a sequence of {int(real.sum(1).min())} "
        f"tokens counted as much as one of {int(real.sum(1).max())}.":
            float((losses * real).sum(1).div(real.sum(1)).mean()),
        f"That is the real tokens' summed loss divided by all {real.numel()} positions, the {pads} padded ones "
        "too.": total / real.numel(),
    }
    if pad != PAD:
        kept = targets != PAD  # the padded positions, and the real tokens of every class but 0
        found[f"That is the mean over the positions whose target is not {PAD}: the {pads} padded positions were "
              f"scored, and the {int((~kept).sum())} real tokens of class {PAD} left out."] = float(losses[kept].mean())
    return found


def loss_of(result) -> torch.Tensor:
    """The learner's loss as a scalar tensor with grad, or a LearnerError saying what to return."""
    if not isinstance(result, torch.Tensor):
        raise LearnerError(f"Your function returned {result!r}, not a tensor: a training loop calls backward() on "
                           "the loss, so return the tensor itself.")
    if result.numel() != 1:
        raise LearnerError(f"Your function returned a tensor of shape {tuple(result.shape)}; the loss is one "
                           "number, the mean over the real tokens.")
    if result.grad_fn is None:
        raise LearnerError("Your function returned a loss that autograd cannot trace back to the scores: "
                           "backward() on it would train nothing.")
    return result


def value_problem(got: float, scores: torch.Tensor, targets: torch.Tensor, real: torch.Tensor, pad: int,
                  sure: bool) -> Problem | None:
    """A problem when the learner's loss on these scores is not the mean cross-entropy over the real tokens."""
    expected = float(each(scores, targets)[real].mean())
    if close(got, expected) or (sure and abs(got - expected) < 0.01):  # small differences show on random scores
        return None
    why = [reason for reason, value in wrongs(scores, targets, real, pad).items() if close(got, value)]
    given = (f"Given scores that give every real token's own class a score {MARGIN:g} higher than every other class"
             if sure else "Given random scores")
    return Problem(f"{given}, your loss is {got:.4f}; the mean cross-entropy of each real token's own scores is "
                   f"{expected:.4f}.",
                   why[0] if why else "The right loss is the mean, over the real tokens, of the cross-entropy of "
                   "each token's target against its own position's class scores; the check knows no mistake that "
                   "gives your number.")


def gradient_problem(gradient: torch.Tensor | None, scores: torch.Tensor, targets: torch.Tensor,
                     real: torch.Tensor) -> Problem | None:
    """A problem when the loss's gradient w.r.t. the scores is not zero at padding and the right one elsewhere."""
    leaf = scores.clone().requires_grad_()
    each(leaf, targets)[real].mean().backward()
    gradient = gradient if gradient is not None else torch.zeros_like(scores)
    padded = gradient[~real]
    if padded.abs().max() > 0:
        return Problem(f"The gradient of your loss reached the {len(padded)} padded positions (norm "
                       f"{padded.norm():.4f} there).",
                       "Training would push the model toward predicting the padding class after every sequence's "
                       "end: padded positions must add nothing to the loss.")
    if not matches(gradient, leaf.grad):
        return Problem(f"The gradient of your loss with respect to the scores has norm {gradient.norm():.4f} at "
                       f"the real tokens; the right one has norm {leaf.grad.norm():.4f}.",
                       "Training follows this gradient, not the number your function returns.")
    return None


def trial(loss_fn, lengths: list[int], classes: int, pad: int) -> Feedback:
    """Score confident, then random scores of one shape; compare values and the gradient with the right loss."""
    targets, real, scores = tagged(lengths, classes, pad)
    shape = f"scores of shape {tuple(scores.shape)}"
    problems = []
    for probe, sure in ((confident(scores, targets, real), True), (scores, False)):
        leaf, given = probe.clone().requires_grad_(), targets.clone()  # the learner's copies; the check keeps its own
        try:
            result, changed = call(loss_fn, leaf, given, pad)
            loss = loss_of(result)
        except LearnerError as error:
            return failed(error)
        got = float(loss.detach())
        try:
            loss.backward()
        except Exception as error:  # the learner's graph may fail in any way; report it in words
            return failed(LearnerError(f"backward() on the loss your function returned raised "
                                       f"{type(error).__name__}: {error}"))
        problems = [p for p in (value_problem(got, probe, targets, real, pad, sure),
                                altered("scores", [leaf.detach()], [probe]), altered("targets", [given], [targets]))
                    if p] + changed
        if not problems and not sure:
            problems = [p for p in (gradient_problem(leaf.grad, probe, targets, real),) if p]
        if problems:
            break
    if problems and pad != PAD:
        problems[0] = prefixed(problems[0], f"With {shape} and the padding marked by {pad} (the pad argument) "
                                            f"instead of {PAD}: ")
    elif problems and lengths != CASES[0][0]:
        problems[0] = prefixed(problems[0], f"With {shape}: ")
    *others, another = [str((len(n), max(n), c)) for n, c, _ in CASES[1:-1]]
    last, classes_last, pad_last = CASES[-1]
    return verdict(problems, "each real token's target met its own class scores, and padding counted for nothing.",
                   [f"Checked {shape} given confident and random scores, the gradient too; also right for scores "
                    f"of shapes {', '.join(others)} and {another}, and with the padding marked by {pad_last} "
                    f"instead of {PAD} in scores of shape {(len(last), max(last), classes_last)}."])


@isolated("token_loss")
def check(loss_fn) -> Feedback:
    """Compare the loss and its gradient with the mean cross-entropy over the real tokens, for five cases."""
    return first_failure(trial(loss_fn, *case) for case in CASES)


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
