"""The loop: one training epoch, one evaluation pass, and `fit` that alternates them."""

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torchmetrics import Metric, MetricCollection
from tqdm.auto import tqdm

from .checkpoint import CheckpointError, check_writable, read_checkpoint, restore, save_checkpoint
from .devices import same_device
from .metrics import as_collection, to_floats


def train_one_epoch(model: nn.Module, loader, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
                    metrics: Metric | MetricCollection, device: torch.device, *,
                    max_grad_norm: float | None = None, precision: torch.dtype | None = None,
                    scaler: torch.amp.GradScaler | None = None, batch_scheduler=None,
                    epoch: int | None = None) -> dict[str, float]:
    """One pass over `loader` in train mode: the per-sample mean loss and each metric.

    Options: clip gradients to `max_grad_norm` (the mean norm before clipping is returned as grad_norm),
    run the forward pass in `precision` (torch.bfloat16, torch.float16) with a GradScaler for float16,
    and step `batch_scheduler` after every batch."""
    device = torch.device(device)
    metrics = _prepare(model, loss_fn, metrics, device)
    scaler = scaler if scaler is not None else torch.amp.GradScaler(device.type, enabled=False)
    autocast = _autocast(device, precision)
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("Every parameter of the model has requires_grad=False, so there is nothing to train: "
                         "unfreeze the layers to train with p.requires_grad_(True).")
    model.train()
    losses, sizes, norms = [], [], []
    for batch in loader:
        inputs, targets = (t.to(device, non_blocking=True) for t in _pair(batch))
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            logits = _checked(model(inputs), targets)
            loss = loss_fn(logits, targets)
        scaler.scale(loss).backward()  # a disabled scaler passes the loss through
        if max_grad_norm is not None:
            scaler.unscale_(optimizer)
            norms.append(nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm))
        scaler.step(optimizer)
        scaler.update()
        if batch_scheduler is not None:
            batch_scheduler.step()
        losses.append(loss.detach())
        sizes.append(len(targets))
        metrics.update(logits.detach(), targets)
    extra = {"grad_norm": torch.stack(norms).mean()} if norms else {}
    return _summarize(losses, sizes, metrics, epoch, "training", extra)


@torch.inference_mode()
def evaluate(model: nn.Module, loader, loss_fn: nn.Module, metrics: Metric | MetricCollection,
             device: torch.device, *, precision: torch.dtype | None = None,
             epoch: int | None = None) -> dict[str, float]:
    """One pass over `loader` in eval mode, recording no autograd graph: mean loss and each metric.

    Every module is put back in the mode it was in (a training loop stays in train mode)."""
    device = torch.device(device)
    metrics = _prepare(model, loss_fn, metrics, device)
    autocast = _autocast(device, precision)
    modes = {module: module.training for module in model.modules()}
    model.eval()
    losses, sizes = [], []
    try:
        for batch in loader:
            inputs, targets = (t.to(device, non_blocking=True) for t in _pair(batch))
            with autocast:
                logits = _checked(model(inputs), targets)
                losses.append(loss_fn(logits, targets))
            sizes.append(len(targets))
            metrics.update(logits, targets)
    finally:
        for module, training in modes.items():
            module.training = training
    return _summarize(losses, sizes, metrics, epoch, "validation")


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
        if self.monitor not in record:
            raise ValueError(f"Cannot monitor {self.monitor!r}: the history has {sorted(record)}.")
        value = record[self.monitor]
        if self.value is None or (value < self.value if self.mode == "min" else value > self.value):
            self.value, self.epoch = value, epoch
            self.weights = {name: t.detach().clone() for name, t in model.state_dict().items()}

    def state(self) -> dict:
        """What a checkpoint keeps, to continue early stopping after a resume."""
        return {"monitor": self.monitor, "mode": self.mode, "value": self.value, "epoch": self.epoch,
                "weights": self.weights}


def fit(model: nn.Module, train_loader, val_loader, loss_fn: nn.Module, optimizer: torch.optim.Optimizer, *,
        epochs: int, metrics: Metric | MetricCollection, device: torch.device | None = None,
        progress: bool = True, max_grad_norm: float | None = None, precision: torch.dtype | None = None,
        scheduler=None, step_scheduler: str = "epoch", patience: int | None = None, monitor: str = "val_loss",
        mode: str = "min", checkpoint: str | Path | None = None) -> History:
    """Train for `epochs`, evaluating after each; data goes to the model's device unless `device` is given.

    Off unless asked for: gradient clipping (max_grad_norm), mixed precision (precision=torch.bfloat16
    or torch.float16), a learning-rate scheduler stepped per "epoch" or per "batch" (its lr recorded),
    early stopping after `patience` epochs without a better `monitor` (the best weights restored), and
    a checkpoint saved after every epoch and resumed from when the file exists."""
    _check_options(model, epochs, patience, step_scheduler, mode)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    train_metrics, val_metrics = as_collection(metrics).clone(), as_collection(metrics).clone()
    scaler = torch.amp.GradScaler(device.type, enabled=precision == torch.float16)
    state = dict(model=model, optimizer=optimizer, generator=getattr(train_loader, "generator", None),
                 scheduler=scheduler, scaler=scaler)
    history, best, start = History(), Best(monitor, mode), 1
    if checkpoint is not None:
        check_writable(checkpoint)
        if Path(checkpoint).exists():
            keys = _record_keys(train_metrics, max_grad_norm, scheduler)
            history, best, start = _resume(checkpoint, state, epochs, best, patience, keys)
    bar = tqdm(range(start, epochs + 1), desc="fit", unit="epoch", disable=not progress)
    for epoch in bar:
        lr = {"lr": optimizer.param_groups[0]["lr"]} if scheduler is not None else {}
        try:
            train = train_one_epoch(model, train_loader, loss_fn, optimizer, train_metrics, device,
                                    max_grad_norm=max_grad_norm, precision=precision, scaler=scaler, epoch=epoch,
                                    batch_scheduler=scheduler if step_scheduler == "batch" else None)
            val = evaluate(model, val_loader, loss_fn, val_metrics, device, precision=precision, epoch=epoch)
        except FloatingPointError as error:
            raise _lost(error, history, checkpoint) from None
        history.records.append({**train, **{f"val_{name}": value for name, value in val.items()}, **lr})
        bar.set_postfix({name: f"{value:.4f}" for name, value in history.records[-1].items()})
        if scheduler is not None and step_scheduler == "epoch":
            _step_per_epoch(scheduler, val["loss"])
        if patience is not None:
            best.update(history.records[-1], epoch, model)
        if checkpoint is not None:
            save_checkpoint(checkpoint, epoch=epoch, history=history.records, best=best.state(), **state)
        if patience is not None and epoch - best.epoch >= patience:
            break
    if patience is not None and best.weights is not None:
        model.load_state_dict(best.weights)
    return history


def _resume(path: str | Path, parts: dict, epochs: int, best: Best, patience: int | None,
            keys: set[str]) -> tuple[History, Best, int]:
    """Continue the run saved at `path`, after checking that this call asks for its continuation."""
    saved = read_checkpoint(path)
    _check_continues(path, saved, epochs, best, patience, keys)
    restore(path, saved, **parts)
    done = saved["epoch"]
    print(f"Resuming from {path}: {done} of {epochs} epochs done, continuing with epoch {done + 1}.")
    stored = Best(**saved["best"])
    return History(saved["history"]), stored if stored.value is not None else best, done + 1


def _check_continues(path: str | Path, saved: dict, epochs: int, best: Best, patience: int | None,
                     keys: set[str]) -> None:
    """Refuse a checkpoint that this call would not continue as asked: finished, or another run's settings."""
    done, stored = saved["epoch"], Best(**saved["best"])
    fresh = "point checkpoint= at a new file (or delete this one) to train afresh"
    if done >= epochs:
        raise CheckpointError(f"{path} already holds {done} epochs and this call asks for epochs={epochs}: there "
                              f"is nothing to train. Ask for more epochs (epochs={done + 1} or more) to continue, "
                              f"or {fresh}.")
    if patience is not None and stored.value is not None:
        if (stored.monitor, stored.mode) != (best.monitor, best.mode):
            raise CheckpointError(f"{path} kept its best epoch by monitor={stored.monitor!r}, mode={stored.mode!r}; "
                                  f"this call asks for monitor={best.monitor!r}, mode={best.mode!r}. Continue with "
                                  f"the same monitor and mode, or {fresh}.")
        if done - stored.epoch >= patience:
            raise CheckpointError(f"{path} stopped early: {stored.monitor} has not improved since epoch "
                                  f"{stored.epoch} of {done} (patience={patience}). Raise patience to continue, "
                                  f"or {fresh}.")
    recorded = set(saved["history"][-1]) if saved["history"] else keys
    if recorded != keys:
        differ = [f"{verb} {', '.join(sorted(names))}" for verb, names in
                  (("adds", keys - recorded), ("drops", recorded - keys)) if names]
        raise CheckpointError(f"{path} was written by a run that recorded other values: this call "
                              f"{' and '.join(differ)}, so its history would mix two kinds of record. Use the "
                              f"same metrics, max_grad_norm and scheduler to continue, or {fresh}.")


def _record_keys(metrics: MetricCollection, max_grad_norm: float | None, scheduler) -> set[str]:
    """The names each epoch's record will have: loss and metrics, their val_ twins, grad_norm and lr if used."""
    measured = {"loss", *metrics.keys(keep_base=False)}
    return (measured | {f"val_{name}" for name in measured} | ({"grad_norm"} if max_grad_norm is not None else set())
            | ({"lr"} if scheduler is not None else set()))


def _lost(error: FloatingPointError, history: History, checkpoint: str | Path | None) -> FloatingPointError:
    """The non-finite loss error, carrying the History of the epochs that finished and saying how to go on."""
    done = len(history)
    keep = (f" {checkpoint} holds the weights after epoch {done}: fix the cause and call fit again with the same "
            "checkpoint= to continue from there." if checkpoint is not None and done else
            " Start again from new weights once the cause is fixed.")
    lost = FloatingPointError(f"{error} The model's weights have been through that epoch's steps and should not "
                              f"be kept; the {done} epochs that finished are in this error's .history.{keep}")
    lost.history = history
    return lost


def _check_options(model: nn.Module, epochs: int, patience: int | None, step_scheduler: str, mode: str) -> None:
    """Refuse fit's arguments that cannot mean what was asked, before any work."""
    if next(model.parameters(), None) is None:
        raise ValueError("The model has no parameters, so there is nothing to train: give fit a model with "
                         "layers that learn (nn.Linear, nn.Conv2d, ...).")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}.")
    if patience is not None and patience < 1:
        raise ValueError(f"patience must be at least 1 epoch without improvement (or None to train every epoch), "
                         f"got {patience}.")
    if step_scheduler not in ("epoch", "batch") or mode not in ("min", "max"):
        raise ValueError(f"step_scheduler must be 'epoch' or 'batch' and mode 'min' or 'max', "
                         f"got {step_scheduler!r} and {mode!r}.")


def _pair(batch) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch as (inputs, targets), or an error that says what the loop expects."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch
    seen = (f"a dict with keys {sorted(batch)}" if isinstance(batch, dict) else
            f"a {type(batch).__name__} of {len(batch)} items" if isinstance(batch, (tuple, list)) else
            f"a {type(batch).__name__}")
    raise TypeError(f"The loop expects every batch to be an (inputs, targets) pair, got {seen}. Make the "
                    "dataset's __getitem__ return (input, target).")


def _step_per_epoch(scheduler, val_loss: float) -> None:
    """Step an epoch scheduler; ReduceLROnPlateau also needs the validation loss."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(val_loss)
    else:
        scheduler.step()


def _autocast(device: torch.device, precision: torch.dtype | None):
    """Autocast to `precision` on `device`, or a context that does nothing when precision is None."""
    return torch.autocast(device.type, dtype=precision) if precision is not None else contextlib.nullcontext()


def _prepare(model: nn.Module, loss_fn: nn.Module, metrics: Metric | MetricCollection,
             device: torch.device) -> MetricCollection:
    """Check the model sits on `device` and the loss averages; return the metrics there, reset."""
    param = next(model.parameters(), None)
    if param is not None and not same_device(param.device, device):
        raise ValueError(f"The model is on {param.device} but the batches are sent to {device}: "
                         f"move the model first with model.to({str(device)!r}), or pass the model's device.")
    if getattr(loss_fn, "reduction", "mean") != "mean":
        raise ValueError(f"loss_fn has reduction={loss_fn.reduction!r}; the loop weights each batch's mean "
                         "loss by its size, so use reduction='mean' (the default).")
    metrics = as_collection(metrics).to(device)
    metrics.reset()
    return metrics


def _checked(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The model's output, after checking it is one tensor with one row per label."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"The model returned a {type(logits).__name__}; the loop needs one tensor of scores per "
                        "batch. Return only the logits from forward, or wrap the model in a module that does.")
    if logits.shape[0] != targets.shape[0]:
        raise ValueError(f"The model returned {logits.shape[0]} rows (shape {tuple(logits.shape)}) for a batch "
                         f"of {targets.shape[0]} labels. Keep the batch dimension first: flatten with "
                         "x.flatten(start_dim=1), not x.view(-1).")
    return logits


def _summarize(losses: list[torch.Tensor], sizes: list[int], metrics: MetricCollection, epoch: int | None,
               phase: str, extra: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
    """The per-sample mean loss, the metrics and any `extra` values, read back to the host once."""
    if not losses:
        raise ValueError("The loader yielded no batches: is its dataset empty, or is drop_last=True "
                         "with a batch size larger than the dataset?")
    batch_losses = torch.stack(losses).float()
    weights = torch.tensor(sizes, dtype=batch_losses.dtype, device=batch_losses.device)
    mean_loss = (batch_losses * weights).sum() / weights.sum()
    values = to_floats({"loss": mean_loss, **metrics.compute(), **(extra or {})})
    if not math.isfinite(values["loss"]):
        bad = int(torch.nonzero(~torch.isfinite(batch_losses))[0])
        where = f"epoch {epoch}, batch {bad}" if epoch is not None else f"batch {bad}"
        raise FloatingPointError(f"The {phase} loss became {batch_losses[bad].item()} at {where}. Lower the "
                                 "learning rate, clip gradients (max_grad_norm=1.0), or check the inputs for NaN.")
    return values
