"""Exercise 7: a resume restores the optimizer too, not only the model."""

import tempfile
from pathlib import Path

import torch
from torch import nn

from ..checkpoint import save_checkpoint
from ..data import TensorLoader
from ..loop import train_one_epoch
from ..metrics import classification_metrics
from ._common import (
    CPU, call, failed, Feedback, hint_and_solution, isolated, LearnerError, require_function, tiny_classifier,
    toy_data,
)

NOTEBOOK = "07_resume_optimizer"
HINTS = [
    "Print optimizer.state_dict()['state'] right after your resume. Is anything in it?",
    "Adam keeps a step count and running averages of each gradient and its square. They live in the "
    "optimizer, not in the model, and the checkpoint saved them under 'optimizer'.",
    "Load both: model.load_state_dict(state['model']) and optimizer.load_state_dict(state['optimizer']), "
    "then continue from state['epoch'] + 1.",
]


def same(a, b) -> bool:
    """Equal nested dicts, lists and tensors."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    return a == b


@isolated
def check(resume_fn) -> Feedback:
    """Train two epochs with Adam, save a checkpoint, resume into a fresh model and optimizer, compare."""
    require_function(resume_fn, "resume")
    model = tiny_classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = TensorLoader(*toy_data(24), batch_size=8)
    for _ in range(2):
        train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, classification_metrics(), CPU)
    steps = int(optimizer.state_dict()["state"][0]["step"])
    fresh = tiny_classifier(seed=1)
    fresh_optimizer = torch.optim.Adam(fresh.parameters(), lr=0.01)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.ckpt"
        save_checkpoint(path, model=model, optimizer=optimizer, epoch=2, history=[])
        try:
            next_epoch = call(resume_fn, path, fresh, fresh_optimizer)
        except LearnerError as error:
            return failed(error)
    if not same(model.state_dict(), fresh.state_dict()):
        return Feedback(False, "the model's weights after resume are not the saved ones.",
                        ["Load state['model'] into the model with model.load_state_dict."])
    if not fresh_optimizer.state_dict()["state"]:
        return Feedback(False, "the optimizer starts from scratch: its state is empty after resume.",
                        [f"The saved Adam had taken {steps} steps and kept running averages of every gradient; "
                         "the resumed one has none, so from here on it trains differently from the run that "
                         "never stopped.", "Load state['optimizer'] into the optimizer as well."])
    if not same(optimizer.state_dict(), fresh_optimizer.state_dict()):
        return Feedback(False, "the optimizer's state after resume differs from the saved one.",
                        ["Load state['optimizer'] into the optimizer that training continues with."])
    if next_epoch != 3:
        return Feedback(False, f"resume returned {next_epoch!r}; the checkpoint holds epoch 2, so training "
                               "continues with epoch 3.",
                        ["Return state['epoch'] + 1: returning the saved epoch would train it twice."])
    return Feedback(True, "the model and the optimizer continue exactly where they stopped.",
                    [f"Weights, Adam's {steps} steps and its running averages restored; next epoch 3."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
