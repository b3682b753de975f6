"""Exercise 9: an epoch schedule steps once per epoch, after the optimizer's steps."""

import reprlib
from dataclasses import dataclass

import torch
from ..data import TensorLoader
from ..syllabus import notebook_of
from .diagnoses import epoch_loss_problem
from .feedback import Feedback, first_failure, prefixed, Problem, verdict
from .fixtures import RecordingLoss, tiny_classifier, toy_data
from .harness import call, failed, isolated, LearnerError, read_number
from .hints import hint_and_solution
from .spies import Watch

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Record optimizer.param_groups[0]['lr'] at every optimizer step and plot it against the schedule you asked "
    "for. Where does yours change, and where should it?",
    "A scheduler counts its own step() calls, and StepLR's step_size counts epochs only if step() runs once "
    "per epoch. The first epoch should run at the starting learning rate.",
    "Move scheduler.step() out of the batch loop: call it once at the end of every epoch, after that "
    "epoch's optimizer.step() calls.",
]
LR, BATCH = 0.1, 4


@dataclass
class Case:
    """One fit the check runs: the schedule, and the loader's samples in batches of BATCH."""

    epochs: int
    step_size: int
    gamma: float
    samples: int
    done: int = 0  # epochs the scheduler had counted before fit was called (a resumed run)

    def intended(self) -> list[str]:
        """The learning rate StepLR intends for each epoch of this call."""
        return [f"{LR * self.gamma ** ((self.done + e - 1) // self.step_size):g}" for e in range(1, self.epochs + 1)]

    def schedule(self) -> str:
        return f"StepLR(step_size={self.step_size}, gamma={self.gamma})"


# The notebook's schedule over 3 batches of 4, 4 and 2 samples, then another one resumed after 2 epochs (its
# scheduler has counted 2 already), so no answer fits one shape or counts from the fit's own epoch number.
CASES = [Case(4, 2, 0.5, 10), Case(5, 3, 0.1, 7, done=2)]


def per_epoch(lrs: list[tuple[int, float]], epochs: int) -> list[str]:
    """Each epoch's learning rate, or its first and last value when it changed within the epoch."""
    shown = []
    for epoch in range(1, epochs + 1):
        values = [lr for e, lr in lrs if e == epoch]
        if not values:
            shown.append("no step")
        else:
            shown.append(f"{values[0]:g}" if values[0] == values[-1] else f"{values[0]:g}\u2192{values[-1]:g}")
    return shown


def schedule_problem(case: Case, yours: list[str], steps: int, order: list[str], counted: int) -> Problem | None:
    """A problem when the optimizer's steps did not run at the intended rates, or the scheduler did not count epochs."""
    batches = -(-case.samples // BATCH)
    if yours != case.intended() or steps != case.epochs * batches:
        early = order[:1] == ["scheduler"]
        return Problem(
            f"The learning rate per epoch was {', '.join(yours)}; {case.schedule()} intends "
            f"{', '.join(case.intended())}.",
            f"The scheduler was stepped {order.count('scheduler')} times in {case.epochs} epochs of {batches} "
            f"batches ({order.count('optimizer')} optimizer steps)"
            + (", the first time before any optimizer step." if early else "."))
    if "scheduler" not in order:
        return Problem("The learning rate followed the schedule, but the scheduler your function was given was never "
                       "stepped.",
                       "The caller chose that scheduler (its state is what a checkpoint saves): step it, rather than "
                       "setting the learning rate some other way.")
    if counted != case.done + case.epochs:
        resumed = f" (it had counted {case.done} before)" if case.done else ""
        return Problem(f"The learning rate followed the schedule, but after {case.epochs} epochs the scheduler had "
                       f"counted {counted} steps{resumed}.",
                       "Its count is what a checkpoint saves: a run resumed from it would continue the schedule from "
                       f"step {counted}, not from epoch {case.done + case.epochs}. Step it once per epoch, without "
                       "an epoch number, and let it set the learning rate.")
    return None


def history_problems(history, case: Case, loss_fn: RecordingLoss) -> list[Problem]:
    """What is wrong with the records: their number, each epoch's mean loss, and the lr each says it ran at."""
    if not isinstance(history, list) or len(history) != case.epochs:
        return [Problem(f"Your function returned {reprlib.repr(history)}, not a list of {case.epochs} records, one "
                        "per epoch.", "fit returns one dict per epoch, with its mean loss and learning rate.")]
    wrong_loss = epoch_loss_problem(history, loss_fn, keys=[("train", "loss")])
    if wrong_loss:
        return [wrong_loss]
    for epoch, (record, intended) in enumerate(zip(history, case.intended()), 1):
        lr = read_number(record, "lr")
        if f"{lr:g}" != intended:
            return [Problem(f"Epoch {epoch}'s record says lr={lr:g}, but its optimizer steps ran at {intended}.",
                            "Record the learning rate the epoch trained with: read it before the scheduler "
                            "steps at the epoch's end.")]
    return []


def trial(fit_fn, case: Case) -> Feedback:
    """Fit with SGD(lr=0.1) and StepLR; compare the lr every step used, the scheduler's count and the history."""
    model = tiny_classifier()
    watch = Watch(model)
    loader = watch.loader(TensorLoader(*toy_data(case.samples), batch_size=BATCH), "train")
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=case.step_size, gamma=case.gamma)
    for _ in range(case.done):  # a resumed run: the epochs before this call were stepped already
        optimizer.step()
        scheduler.step()
    used, order, loss_fn = [], [], RecordingLoss(watch)

    def before_optimizer_step(opt, args, kwargs) -> None:
        used.append((watch.epoch, opt.param_groups[0]["lr"]))
        order.append("optimizer")

    def scheduler_step(*args, _step=scheduler.step, **kwargs):
        order.append("scheduler")
        return _step(*args, **kwargs)

    optimizer.register_step_pre_hook(before_optimizer_step)
    scheduler.step = scheduler_step
    try:
        history, problems = call(fit_fn, model, loader, loss_fn, optimizer, scheduler, case.epochs,
                                 model=model, keeps_mode=False)
        yours = per_epoch(used, case.epochs)
        scheduled = schedule_problem(case, yours, len(used), order, scheduler.last_epoch)
        problems = [p for p in [scheduled, watch.copied()] if p] + problems
        problems += history_problems(history, case, loss_fn) if not problems else []
    except LearnerError as error:
        return failed(error)
    if problems and case.done:
        problems[0] = prefixed(problems[0], f"With a scheduler resumed after {case.done} epochs: ")
    return verdict(problems, "the learning rate followed the epoch schedule.",
                   [f"Learning rate per epoch: {', '.join(yours)}; the history records each epoch's rate and mean "
                    f"loss. Also right with {CASES[1].schedule()} over {CASES[1].epochs} epochs, resumed after "
                    f"{CASES[1].done}."])


@isolated("fit")
def check(fit_fn) -> Feedback:
    """Fit with SGD(lr=0.1) and StepLR(step_size=2, gamma=0.5) for 4 epochs, then another schedule; compare."""
    return first_failure(trial(fit_fn, case) for case in CASES)


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
