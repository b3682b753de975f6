"""Exercise 9: an epoch schedule steps once per epoch, after the optimizer's steps."""

import torch
from torch import nn

from ..data import TensorLoader
from ._common import (
    call, failed, Feedback, hint_and_solution, isolated, LearnerError, Problem, tiny_classifier, toy_data,
    verdict, Watch,
)

NOTEBOOK = "09_scheduler"
HINTS = [
    "Record optimizer.param_groups[0]['lr'] at every optimizer step and plot it against the schedule you asked "
    "for. Where does yours change, and where should it?",
    "A scheduler counts its own step() calls, and StepLR's step_size counts epochs only if step() runs once "
    "per epoch. The first epoch should run at the starting learning rate.",
    "Move scheduler.step() out of the batch loop: call it once at the end of every epoch, after that "
    "epoch's optimizer.step() calls.",
]
EPOCHS, LR, STEP_SIZE, GAMMA = 4, 0.1, 2, 0.5


def per_epoch(lrs: list[tuple[int, float]]) -> list[str]:
    """Each epoch's learning rate, or its first and last value when it changed within the epoch."""
    shown = []
    for epoch in range(1, EPOCHS + 1):
        values = [lr for e, lr in lrs if e == epoch]
        if not values:
            shown.append("no step")
        else:
            shown.append(f"{values[0]:g}" if values[0] == values[-1] else f"{values[0]:g}\u2192{values[-1]:g}")
    return shown


@isolated("fit")
def check(fit_fn) -> Feedback:
    """Fit 4 epochs of 3 batches with SGD(lr=0.1) and StepLR(step_size=2, gamma=0.5); compare the lr used."""
    model = tiny_classifier()
    watch = Watch(model)
    loader = watch.loader(TensorLoader(*toy_data(12), batch_size=4), "train")
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=STEP_SIZE, gamma=GAMMA)
    used, order = [], []

    def before_optimizer_step(opt, args, kwargs) -> None:
        used.append((watch.epoch, opt.param_groups[0]["lr"]))
        order.append("optimizer")

    def scheduler_step(*args, _step=scheduler.step, **kwargs):
        order.append("scheduler")
        return _step(*args, **kwargs)

    optimizer.register_step_pre_hook(before_optimizer_step)
    scheduler.step = scheduler_step
    try:
        _, problems = call(fit_fn, model, loader, nn.CrossEntropyLoss(), optimizer, scheduler, EPOCHS,
                           model=model, keeps_mode=False)
    except LearnerError as error:
        return failed(error)
    problems = [p for p in [watch.copied()] if p] + problems
    intended = [f"{LR * GAMMA ** ((e - 1) // STEP_SIZE):g}" for e in range(1, EPOCHS + 1)]
    yours = per_epoch(used)
    if yours != intended or len(used) != EPOCHS * len(loader):
        early = order[:1] == ["scheduler"]
        problems.insert(0, Problem(
            f"The learning rate per epoch was {', '.join(yours)}; StepLR(step_size={STEP_SIZE}, gamma={GAMMA}) "
            f"intends {', '.join(intended)}.",
            f"The scheduler was stepped {order.count('scheduler')} times in {EPOCHS} epochs of {len(loader)} "
            f"batches ({order.count('optimizer')} optimizer steps)"
            + (", the first time before any optimizer step." if early else ".")))
    elif "scheduler" not in order:
        problems.insert(0, Problem("The learning rate followed the schedule, but the scheduler your function was given "
                                   "was never stepped.",
                                   "The caller chose that scheduler (its state is what a checkpoint saves): step it, "
                                   "rather than setting the learning rate some other way."))
    return verdict(problems, "the learning rate followed the epoch schedule.",
                   [f"Learning rate per epoch: {', '.join(yours)}."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
