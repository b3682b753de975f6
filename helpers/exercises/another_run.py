"""Exercise 7: a resume restores the optimizer and the random state too, not only the model."""

import random
import reprlib
import tempfile
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import save_checkpoint
from ..data import TensorLoader
from ..loop import train_one_epoch
from ..metrics import classification_metrics
from ..syllabus import notebook_of
from .feedback import Feedback, Problem, verdict
from .fixtures import CPU, tiny_classifier, toy_data
from .harness import call, failed, isolated, LearnerError
from .hints import hint_and_solution

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Print optimizer.state_dict()['state'] right after your resume, and torch.rand(1) right after a resume "
    "and right after the save. What else did the checkpoint store besides the model?",
    "Adam keeps a step count and running averages of each gradient and its square, in the optimizer you are "
    "given, filed under each parameter. Dropout draws from torch's global random generator, a dataset's "
    "augmentation often from Python's random module: the checkpoint saved both states under 'random'.",
    "Load into the objects you were given: model.load_state_dict(state['model']), "
    "optimizer.load_state_dict(state['optimizer']), then random.setstate(state['random']['python']) and "
    "torch.set_rng_state(state['random']['torch']); return state['epoch'] + 1.",
]
EPOCHS_SAVED, LR = 2, 0.01


def same(a, b) -> bool:
    """Equal nested dicts, lists and tensors."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    return a == b


def one_epoch(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """One epoch of helpers' loop over 24 toy samples in 3 unshuffled batches."""
    train_one_epoch(model, TensorLoader(*toy_data(24), batch_size=8), nn.CrossEntropyLoss(), optimizer,
                    classification_metrics(), CPU)


def new_process() -> tuple[nn.Module, torch.optim.Optimizer]:
    """What a restarted script holds before its resume: other weights, an Adam with another learning rate and a step
    of its own, other random states."""
    model = tiny_classifier(nn.Dropout(0.3), seed=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR * 2)  # the saved run's lr may have been changed since
    nn.functional.cross_entropy(model(torch.ones(2, 4)), torch.zeros(2, dtype=torch.long)).backward()
    optimizer.step()
    optimizer.zero_grad()
    torch.manual_seed(99)
    random.seed(99)
    return model, optimizer


def optimizer_problems(model: nn.Module, optimizer: torch.optim.Optimizer, saved_steps: int) -> list[Problem]:
    """What is wrong with the optimizer state after the resume."""
    if any(not isinstance(key, torch.Tensor) for key in optimizer.state):
        return [Problem("The optimizer's state is filed under the numbers 0, 1, ... instead of under the model's "
                        "parameters.",
                        "Adam looks each parameter's state up by the parameter itself, so its next step finds "
                        "nothing there and starts from scratch.")]
    steps = sorted({int(optimizer.state[p]["step"]) if p in optimizer.state else 0 for p in model.parameters()})
    if steps != [saved_steps]:
        held = ("still holds only the 1 step it had taken before the resume" if steps == [1] else
                f"holds {' or '.join(map(str, steps))} steps of history")
        return [Problem(f"After your resume, the optimizer your function was given {held}; the checkpoint holds "
                        f"{saved_steps}.",
                        "Adam's step count and running averages set the size of its next steps: without the "
                        "saved ones, training goes on differently from the run that never stopped.")]
    lr = optimizer.param_groups[0]["lr"]
    if lr != LR:
        return [Problem(f"After your resume, the optimizer your function was given has learning rate {lr:g}; the "
                        f"checkpoint saved {LR:g}.",
                        "The optimizer's state dict holds its hyperparameters too (a scheduler may have changed "
                        "them): load all of it.")]
    return []


def random_problems(saved: dict) -> list[Problem]:
    """Which global random generators were not put back in their saved state."""
    lost = [name for name, same_state in (("torch's", torch.equal(torch.get_rng_state(), saved["torch"])),
                                          ("Python's", random.getstate() == saved["python"])) if not same_state]
    if not lost:
        return []
    drawn = {"torch's": "Dropout masks (and a loader's shuffle, when it has no generator of its own)",
             "Python's": "anything drawn with Python's random module (a dataset's augmentation, random.shuffle)"}
    return [Problem(f"After your resume, {' and '.join(lost)} random generator{'s are' if len(lost) > 1 else ' is'} "
                    "not in the state the checkpoint saved.",
                    f"From here on, {', and '.join(drawn[name] for name in lost)}{',' if len(lost) > 1 else ''} "
                    "would differ from the run that never stopped: the resumed run is not the same run.")]


@isolated("resume")
def check(resume_fn) -> Feedback:
    """Train two epochs with Adam and Dropout, save, resume into a restarted script's objects, and compare."""
    model = tiny_classifier(nn.Dropout(0.3))
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    for _ in range(EPOCHS_SAVED):
        one_epoch(model, optimizer)
    saved_steps = int(optimizer.state_dict()["state"][0]["step"])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.ckpt"
        save_checkpoint(path, model=model, optimizer=optimizer, epoch=EPOCHS_SAVED, history=[])
        saved = torch.load(path, weights_only=True)
        one_epoch(model, optimizer)  # the run that never stopped
        fresh, fresh_optimizer = new_process()
        try:
            next_epoch, problems = call(resume_fn, path, fresh, fresh_optimizer, model=fresh, restores_random=True)
        except LearnerError as error:
            return failed(error)
    if not same(saved["model"], fresh.state_dict()):
        problems.insert(0, Problem("After your resume, the model's weights are not the ones in the checkpoint.",
                                   "Training would go on from other weights than the ones saved."))
    problems += optimizer_problems(fresh, fresh_optimizer, saved_steps) + random_problems(saved["random"])
    if next_epoch != EPOCHS_SAVED + 1:
        problems.append(Problem(f"Your function returned {reprlib.repr(next_epoch)}; the checkpoint holds epoch "
                                f"{EPOCHS_SAVED}, so training continues with epoch {EPOCHS_SAVED + 1}.",
                                "Returning the saved epoch would train it twice." if next_epoch == EPOCHS_SAVED else
                                "The next epoch is the one after the epoch the checkpoint saved."))
    if not problems:
        one_epoch(fresh, fresh_optimizer)
        if not all(torch.allclose(a, b) for a, b in zip(model.parameters(), fresh.parameters())):
            problems.append(Problem("One more epoch after your resume ends with other weights than the run that "
                                    "never stopped.", "Something the checkpoint saved was not restored."))
    return verdict(problems, "the model, the optimizer and the random state continue exactly where they stopped.",
                   [f"Weights, Adam's {saved_steps} steps and running averages, and the random state restored; "
                    f"one more epoch matches the run that never stopped."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
