"""The loop: one training epoch, one evaluation pass, and `fit` that alternates them."""

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torchmetrics import Metric, MetricCollection
from tqdm.auto import tqdm

from .checkpoint import load_checkpoint, save_checkpoint
from .devices import same_device
from .metrics import as_collection, to_floats


def train_one_epoch(model: nn.Module, loader, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
                    metrics: Metric | MetricCollection, device: torch.device, *,
                    max_grad_norm: float | None = None, epoch: int | None = None) -> dict[str, float]:
    """One pass over `loader` in train mode: the per-sample mean loss and each metric."""
    metrics = _prepare(model, loss_fn, metrics, device)
    model.train()
    losses, sizes = [], []
    for inputs, targets in loader:
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        optimizer.zero_grad(set_to_none=True)
        logits = _checked(model(inputs), targets)
        loss = loss_fn(logits, targets)
        loss.backward()
        if max_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        losses.append(loss.detach())
        sizes.append(len(targets))
        metrics.update(logits.detach(), targets)
    return _summarize(losses, sizes, metrics, epoch)


@torch.inference_mode()
def evaluate(model: nn.Module, loader, loss_fn: nn.Module, metrics: Metric | MetricCollection,
             device: torch.device, *, epoch: int | None = None) -> dict[str, float]:
    """One pass over `loader` in eval mode, recording no autograd graph: mean loss and each metric."""
    metrics = _prepare(model, loss_fn, metrics, device)
    model.eval()
    losses, sizes = [], []
    for inputs, targets in loader:
        inputs, targets = inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)
        logits = _checked(model(inputs), targets)
        losses.append(loss_fn(logits, targets))
        sizes.append(len(targets))
        metrics.update(logits, targets)
    return _summarize(losses, sizes, metrics, epoch)


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


def fit(model: nn.Module, train_loader, val_loader, loss_fn: nn.Module, optimizer: torch.optim.Optimizer, *,
        epochs: int, metrics: Metric | MetricCollection, device: torch.device | None = None,
        progress: bool = True, max_grad_norm: float | None = None, checkpoint: str | Path | None = None) -> History:
    """Train for `epochs`, evaluating after each; data goes to the model's device unless `device` is given.

    With `checkpoint`, the state is saved there after every epoch, and a run that finds the file resumes
    from it: the same epochs, the same numbers, as if it had never stopped."""
    device = torch.device(device) if device is not None else next(model.parameters()).device
    train_metrics, val_metrics = as_collection(metrics).clone(), as_collection(metrics).clone()
    generator = getattr(train_loader, "generator", None)
    history, start = History(), 1
    if checkpoint is not None and Path(checkpoint).exists():
        resumed = load_checkpoint(checkpoint, model=model, optimizer=optimizer, generator=generator)
        history, start = History(resumed["history"]), resumed["epoch"] + 1
    bar = tqdm(range(start, epochs + 1), desc="fit", unit="epoch", disable=not progress)
    for epoch in bar:
        train = train_one_epoch(model, train_loader, loss_fn, optimizer, train_metrics, device,
                                max_grad_norm=max_grad_norm, epoch=epoch)
        val = evaluate(model, val_loader, loss_fn, val_metrics, device, epoch=epoch)
        history.records.append({**train, **{f"val_{name}": value for name, value in val.items()}})
        bar.set_postfix({name: f"{value:.4f}" for name, value in history.records[-1].items()})
        if checkpoint is not None:
            save_checkpoint(checkpoint, model=model, optimizer=optimizer, epoch=epoch, history=history.records,
                            generator=generator)
    return history


def _prepare(model: nn.Module, loss_fn: nn.Module, metrics: Metric | MetricCollection,
             device: torch.device) -> MetricCollection:
    """Check the model sits on `device` and the loss averages; return the metrics there, reset."""
    param = next(model.parameters(), None)
    if param is not None and not same_device(param.device, device):
        raise ValueError(f"The model is on {param.device} but the batches are sent to {torch.device(device)}: "
                         f"move the model first with model.to({str(torch.device(device))!r}), "
                         "or pass the model's device.")
    if getattr(loss_fn, "reduction", "mean") != "mean":
        raise ValueError(f"loss_fn has reduction={loss_fn.reduction!r}; the loop weights each batch's mean "
                         "loss by its size, so use reduction='mean' (the default).")
    metrics = as_collection(metrics).to(device)
    metrics.reset()
    return metrics


def _checked(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The model's output, after checking it has one row per label."""
    if logits.shape[0] != targets.shape[0]:
        raise ValueError(f"The model returned {logits.shape[0]} rows (shape {tuple(logits.shape)}) for a batch "
                         f"of {targets.shape[0]} labels. Keep the batch dimension first: flatten with "
                         "x.flatten(start_dim=1), not x.view(-1).")
    return logits


def _summarize(losses: list[torch.Tensor], sizes: list[int], metrics: MetricCollection,
               epoch: int | None) -> dict[str, float]:
    """The per-sample mean loss and the metrics, read back to the host once."""
    if not losses:
        raise ValueError("The loader yielded no batches: is its dataset empty, or is drop_last=True "
                         "with a batch size larger than the dataset?")
    batch_losses = torch.stack(losses).float()
    weights = torch.tensor(sizes, dtype=batch_losses.dtype, device=batch_losses.device)
    mean_loss = (batch_losses * weights).sum() / weights.sum()
    values = to_floats({"loss": mean_loss, **metrics.compute()})
    if not math.isfinite(values["loss"]):
        bad = int(torch.nonzero(~torch.isfinite(batch_losses))[0])
        where = f"epoch {epoch}, batch {bad}" if epoch is not None else f"batch {bad}"
        raise FloatingPointError(f"The loss became {batch_losses[bad].item()} at {where}. Lower the learning "
                                 "rate, clip gradients (max_grad_norm=1.0), or check the inputs for NaN.")
    return values
