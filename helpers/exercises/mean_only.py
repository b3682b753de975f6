"""Exercise 13: a regression step follows the mean squared error of each output against its own target."""

import numbers
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from ..syllabus import notebook_of
from .diagnoses import altered, close
from .feedback import Feedback, first_failure, prefixed, Problem, verdict
from .harness import call, failed, isolated, LearnerError
from .hints import hint_and_solution
from .spies import flat, gradient_in, matches

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Print the shapes of the model's outputs and of the targets inside your function. Are they the same? What "
    "does the loss compare when they are not?",
    "Torch broadcasts outputs of shape (N, 1) against targets of shape (N,) to (N, N), and only warns: every "
    "output is compared with every target of the batch. That loss is smallest when every output is the targets' "
    "mean.",
    "Give the two the same shape before the loss: `model(inputs).squeeze(1)` against the targets, or the outputs "
    "against `targets.unsqueeze(1)`.",
]
LR = 0.1
RIGHT_STEP = "the step of the batch's mean squared error"
# Batch sizes: in a batch of 1 every pairing, and a sum, equal the right step: the others tell; 64 is more than the
# notebook's batches of 50, so a fix that only holds for small batches shows
CASES = (5, 1, 2, 8, 64)


def wave_model() -> nn.Sequential:
    """Linear(1, 8), Tanh, Linear(8, 1): outputs of shape (N, 1), always the same, global RNG untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(2)  # its outputs fall among the targets: each wrong loss gives a step of its own
        return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))


def wave_batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n inputs (n, 1) and their noisy targets of shape (n,), as the exercise's data hands them over."""
    generator = torch.Generator().manual_seed(n)
    x = torch.rand(n, 1, generator=generator) * 6 - 3
    return x, 2 * torch.sin(2 * x[:, 0]) + x[:, 0] / 3 + 0.5 * torch.randn(n, generator=generator)


@dataclass
class Loss:
    """One loss a step may have followed: what it compares, its value and its gradient at the starting weights."""

    pairs: str  # "own", "every" or "means"
    absolute: bool
    value: float
    gradient: torch.Tensor


def losses(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> list[Loss]:
    """The right loss first, then the pairings and error kinds a step may follow instead."""
    params = dict(model.named_parameters())
    found = []
    for pairs, absolute in (("own", False), ("own", True), ("every", False), ("every", True), ("means", False)):
        outputs = torch.func.functional_call(model, params, (x,))
        if pairs == "own":
            errors = outputs[:, 0] - y
        elif pairs == "every":
            errors = outputs - y  # (N, 1) against (N,): every output with every target
        else:
            errors = outputs.mean() - y.mean()
        loss = (errors.abs() if absolute else errors ** 2).mean()
        found.append(Loss(pairs, absolute, loss.item(), flat(torch.autograd.grad(loss, list(params.values())))))
    return found


def scale(used: torch.Tensor, gradient: torch.Tensor) -> float | None:
    """The factor s with used == s * gradient, when there is one."""
    norm = float(gradient.double().norm())
    if norm == 0:
        return None
    s = float(used.double() @ gradient.double()) / norm ** 2
    return s if s > 0 and matches(used, gradient * s) else None


def times(s: float) -> str:
    """A factor in words: a whole number when it is one."""
    return f"{round(s)}" if abs(s - round(s)) < 1e-3 else f"{s:.3g}"


def described(loss: Loss, s: float, n: int) -> tuple[str, str]:
    """The step a known loss gives, `s` times over, in words: (what it was, why it matters)."""
    if loss.pairs == "every":
        what = (f"that of a loss comparing each of the {n} outputs (shape ({n}, 1)) with every one of the {n} "
                f"targets (shape ({n},)): {n}\u00d7{n} = {n * n} pairs, not the {n} pairs of an output and its own "
                "target")
        centre = "median" if loss.absolute else "mean"
        why = (f"Such a loss is smallest when every output is the same number, the {centre} of the batch's targets: "
               "the model learns that and nothing else.")
    elif loss.pairs == "means":
        what = "that of a loss comparing the batch's mean output with its mean target"
        why = "Only the mean of the outputs is pulled toward the targets: the model learns their mean and nothing else."
    elif loss.absolute:
        what = "that of the mean absolute error (L1), each output against its own target"
        why = ("The exercise trains on the mean squared error: L1 pushes every output by the sign of its error "
               "alone, and fits the median, not the mean.")
    else:
        what, why = "", ""
    if loss.pairs != "own" and loss.absolute:
        what += ", with absolute errors (L1) instead of squared ones"
    if abs(s - 1) > 1e-3:
        what = f"{times(s)} times {what or RIGHT_STEP}"
        if loss.pairs == "own" and not loss.absolute:
            why = (f"That is the step of the squared errors summed over the batch of {n}: it grows with the batch "
                   "size, so a learning rate that suits one batch size overshoots at another." if round(s) == n else
                   "One step should follow the gradient of the mean over the batch, not a multiple of it.")
    return what, why


def diagnose(used: torch.Tensor, stale: torch.Tensor, found: list[Loss], n: int) -> tuple[Problem | None, float]:
    """What the applied gradient says (None when it is the right step), and the value of the loss it followed."""
    right = found[0]
    if matches(used, right.gradient):
        return None, right.value
    batch = f"With a batch of {n}: "
    if used.abs().max() == 0:
        return Problem(batch + "your function left the weights where they were.",
                       "It should take one step of the optimizer it was given, on the gradient of this batch's "
                       "mean squared error."), right.value
    for carried in (False, True):
        for loss in found:
            s = scale(used - stale if carried else used, loss.gradient)
            if s is None:
                continue
            what, why = described(loss, s, n)
            if carried:
                return Problem(batch + "your step also carried the gradient .grad already held when your function "
                               "was called" + (f", and the rest was {what}." if what else "."),
                               "Gradients add up in .grad until something empties them: gradients left by earlier "
                               "work must not move this step." + (f" {why}" if why else "")), s * loss.value
            return Problem(f"{batch}your step was {what}.", why), s * loss.value
    return Problem(f"{batch}your step followed a gradient of norm {used.norm():.4f}; the gradient of the batch's mean "
                   f"squared error, each output against its own target, has norm {right.gradient.norm():.4f}.",
                   "One step should follow the gradient of the mean squared error of this batch."), right.value


def returned(result) -> float:
    """The learner's returned loss as a float, or a LearnerError saying what to return."""
    if isinstance(result, torch.Tensor) and result.numel() == 1:
        return float(result.detach())
    if isinstance(result, numbers.Real) and not isinstance(result, bool):
        return float(result)
    raise LearnerError(f"Your function should return the batch's loss as a number, got {result!r}.")


def graph_kept(result) -> Problem | None:
    """A problem when the returned loss is a tensor that still holds its autograd graph."""
    if not (isinstance(result, torch.Tensor) and result.requires_grad):
        return None
    return Problem("Your function returned the loss as a tensor that still holds its autograd graph "
                   f"(grad_fn={type(result.grad_fn).__name__}).",
                   "The caller keeps what every step returns (to average the epoch's losses, to plot them), and each "
                   "such tensor keeps its step's whole graph alive: the memory leak of exercise 6. Return a number.")


def loss_problem(got: float, followed: float, right: float, after: float, n: int) -> Problem | None:
    """A problem when the returned number is neither the loss before the step nor that of the loss the step took."""
    if close(got, right) or close(got, followed):
        return None
    if close(got, after):
        return Problem(f"With a batch of {n}: your function returned {got:.4f}, the batch's loss after the step; "
                       f"before it the loss was {right:.4f}.",
                       "Return the loss the step was computed from, before the optimizer moved the weights.")
    return Problem(f"With a batch of {n}: your function returned {got:.4f}; the batch's mean squared error before the "
                   f"step is {right:.4f}.", "Return the loss the step was computed from, as a number.")


def trial(train_fn, n: int) -> Feedback:
    """One step on a batch of n from weights whose .grad holds an earlier gradient; compare it with the right step."""
    model = wave_model()
    x, y = wave_batch(n)
    nn.functional.mse_loss(model(x * 2)[:, 0], -y).backward()  # a gradient left by earlier work
    stale = gradient_in(model)
    found = losses(model, x, y)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    before = flat(p.detach() for p in model.parameters()).double()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch warns when mse_loss broadcasts
            given = x.clone(), y.clone()
            result, problems = call(train_fn, model, optimizer, *given, model=model, keeps_mode=False)
        got = returned(result)
    except LearnerError as error:
        return failed(error)
    used = ((before - flat(p.detach() for p in model.parameters()).double()) / LR).float()
    with torch.no_grad():
        after = nn.functional.mse_loss(model(x)[:, 0], y).item()
    step, followed = diagnose(used, stale, found, n)
    wrong = loss_problem(got, followed, found[0].value, after, n)
    touched = [altered(name, [tensor], [copy]) for name, tensor, copy in zip(("inputs", "targets"), given, (x, y))]
    problems = [p for p in (step, wrong) if p] + \
        [prefixed(p, f"With a batch of {n}: ") for p in (graph_kept(result), *touched) if p] + problems
    return verdict(problems, "every step followed the mean squared error of its batch, each output against its own "
                             "target, and returned the loss before the step.",
                   [f"Checked batches of {', '.join(map(str, CASES[:-1]))} and {CASES[-1]} samples, each from "
                    "weights whose .grad held an earlier gradient; the inputs and targets left as they were given."])


@isolated("train_step")
def check(train_fn) -> Feedback:
    """One step on batches of 5, 1, 2, 8 and 64 samples; compare each step and returned loss with the right ones."""
    return first_failure(trial(train_fn, n) for n in CASES)


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
