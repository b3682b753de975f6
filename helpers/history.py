"""History and Best: what fit records per epoch, and the best epoch early stopping keeps."""

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class History:
    """One record per epoch: loss, val_loss, each metric and its val_ twin."""

    records: list[dict[str, float]] = field(default_factory=list)

    def __getitem__(self, key: str) -> list[float]:
        return [record[key] for record in self.records]

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        keys = list(self.records[0]) if self.records else []
        rows = [" ".join(f"{k:>12}" for k in ["epoch", *keys])]
        rows += [" ".join([f"{i:>12}", *(f"{r[k]:>12.4f}" for k in keys)]) for i, r in enumerate(self.records, 1)]
        return "\n".join(rows)


@dataclass
class Best:
    """The best value of a monitored history entry so far, the epoch that reached it, and its weights."""

    monitor: str = "val_loss"
    mode: str = "min"
    value: float | None = None
    epoch: int = 0
    weights: dict[str, torch.Tensor] | None = None

    def update(self, record: dict[str, float], epoch: int, model: nn.Module) -> None:
        """Keep a copy of the weights when `record` beats the best so far."""
        value = record[self.monitor]
        if self.value is None or (value < self.value if self.mode == "min" else value > self.value):
            self.value, self.epoch = value, epoch
            self.weights = {name: t.detach().clone() for name, t in model.state_dict().items()}

    def state(self) -> dict:
        """What a checkpoint keeps, to continue early stopping after a resume."""
        return {"monitor": self.monitor, "mode": self.mode, "value": self.value, "epoch": self.epoch,
                "weights": self.weights}
