"""Fixtures: the small models, data and recording loss the checks run the learner's code on."""

from dataclasses import dataclass

import torch
from torch import nn

from ..data import TensorLoader
from .harness import LearnerError
from .spies import Watch

CPU = torch.device("cpu")


def tiny_classifier(*middle: nn.Module, seed: int = 0) -> nn.Sequential:
    """Linear(4, 16), the given middle layers, ReLU, Linear(16, 3): built from `seed`, global RNG untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(4, 16), *middle, nn.ReLU(), nn.Linear(16, 3))


def toy_data(n: int, seed: int = 0, spread: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """n samples of 4 features and 3 classes; with `spread`, later samples are larger and their losses differ."""
    generator = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.5, 4.0, n).unsqueeze(1) if spread else 1.0
    return torch.randn(n, 4, generator=generator) * scale, torch.randint(0, 3, (n,), generator=generator)


@dataclass
class Batch:
    """One call of a RecordingLoss: the phase and epoch, the batch's mean loss, its size, its correct predictions."""

    phase: str
    epoch: int
    loss: float
    size: int
    correct: int


class RecordingLoss(nn.CrossEntropyLoss):
    """Cross-entropy that records every batch it scores, tagged with the phase and epoch of an optional Watch."""

    def __init__(self, watch: "Watch | None" = None) -> None:
        super().__init__()
        self.watch, self.batches = watch, []

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = super().forward(logits, targets)
        phase, epoch = (self.watch.phase, self.watch.epoch) if self.watch else ("", 0)
        self.batches.append(Batch(phase, epoch, loss.item(), len(targets), int((logits.argmax(1) == targets).sum())))
        return loss

    def recount(self, phase: str = "", epoch: int = 0) -> tuple[float, float, float]:
        """The per-sample mean loss, the mean of batch means, and the accuracy of the batches of one phase/epoch."""
        seen = [b for b in self.batches if b.phase == phase and b.epoch == epoch]
        if not seen:
            raise LearnerError(f"Your function computed no loss{f' in the {phase} phase' if phase else ''}"
                               f"{f' of epoch {epoch}' if epoch else ''} with the loss function it was given.")
        samples = sum(b.size for b in seen)
        return (sum(b.loss * b.size for b in seen) / samples, sum(b.loss for b in seen) / len(seen),
                sum(b.correct for b in seen) / samples)


def watched_fit(train_samples: int, val_samples: int) -> tuple:
    """A model with Dropout, its Watch, watched training and validation loaders (batches of 4), and SGD."""
    model = tiny_classifier(nn.Dropout(0.5))
    watch = Watch(model)
    train = watch.loader(TensorLoader(*toy_data(train_samples), batch_size=4), "train")
    val = watch.loader(TensorLoader(*toy_data(val_samples, seed=1), batch_size=4), "val")
    return model, watch, train, val, torch.optim.SGD(model.parameters(), lr=0.1)
