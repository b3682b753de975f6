"""The loop: one training epoch, one evaluation pass, and `fit` that alternates them."""

import contextlib
import math
import re
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torchmetrics import Metric, MetricCollection
from tqdm.auto import tqdm

from .checkpoint import held, resume, save_checkpoint
from .counting import check_loss, check_shapes, counted_targets, label_problem
from .devices import same_device
from .distributed import all_sum, gather, is_main, rank, unwrap, world_size
from .history import Best, History
from .metrics import as_collection, to_floats


def train_one_epoch(model: nn.Module, loader, loss_fn: nn.Module, optimizer: torch.optim.Optimizer,
                    metrics: Metric | MetricCollection, device: torch.device, *, accumulate: int = 1,
                    max_grad_norm: float | None = None, precision: torch.dtype | None = None,
                    scaler: torch.amp.GradScaler | None = None, batch_scheduler=None,
                    epoch: int | None = None) -> dict[str, float]:
    """One pass over `loader` in train mode: the mean loss per counted target (counting.py) and each metric.

    Options: one optimizer step per `accumulate` batches (each batch's loss weighted by its share of the
    targets counted in its group), clip gradients to `max_grad_norm` (the mean norm before clipping is returned as
    grad_norm), run the forward pass in `precision` (torch.bfloat16, torch.float16) with a GradScaler for
    float16, and step `batch_scheduler` after every optimizer step. Under torchrun, `model` is wrapped in
    DistributedDataParallel and the loss and metrics cover the batches of every process."""
    device = torch.device(device)
    metrics = _start_pass(model, loss_fn, metrics, device)
    scaler = scaler if scaler is not None else torch.amp.GradScaler(device.type, enabled=False)
    autocast = _autocast(device, precision)
    _check_trainable(model, loader, accumulate)
    _check_optimizer(model, optimizer, max_grad_norm)
    model.train()
    losses, counts, norms = [], [], []
    for group in _groups(loader, accumulate, device):
        optimizer.zero_grad(set_to_none=True)
        group_counts = [counted_targets(loss_fn, targets) for _, targets in group]
        for index, ((inputs, targets), weight) in enumerate(zip(group, _weights(group_counts, device))):
            with _synced(model, last=index == len(group) - 1):
                with autocast:
                    logits = _checked_outputs(_forward(model, inputs), targets, loss_fn)
                    loss = _loss(loss_fn, logits, targets)
                scaler.scale(loss * weight if weight is not None else loss).backward()
            losses.append(loss.detach())
            _measure(metrics, logits.detach(), targets)
        counts += group_counts
        norms += _step(model, optimizer, scaler, max_grad_norm)
        if batch_scheduler is not None:
            batch_scheduler.step()
    extra = {"grad_norm": torch.stack(norms).mean()} if norms else {}
    return _summarize(losses, counts, metrics, epoch, "training", extra)


@torch.inference_mode()
def evaluate(model: nn.Module, loader, loss_fn: nn.Module, metrics: Metric | MetricCollection,
             device: torch.device, *, precision: torch.dtype | None = None,
             epoch: int | None = None) -> dict[str, float]:
    """One pass over `loader` in eval mode, recording no autograd graph: mean loss per counted target and each metric.

    Every module is put back in the mode it was in (a training loop stays in train mode)."""
    device = torch.device(device)
    model = unwrap(model)  # processes may hold different numbers of batches: no DDP synchronisation here
    metrics = _start_pass(model, loss_fn, metrics, device)
    autocast = _autocast(device, precision)
    losses, counts = [], []
    with _eval_mode(model):
        for batch in loader:
            inputs, targets = (t.to(device, non_blocking=True) for t in _inputs_targets(batch))
            counts.append(counted_targets(loss_fn, targets))
            with autocast:
                logits = _checked_outputs(_forward(model, inputs), targets, loss_fn)
                losses.append(_loss(loss_fn, logits, targets))
            _measure(metrics, logits, targets)
    return _summarize(losses, counts, metrics, epoch, "validation")


@torch.inference_mode()
def predict(model: nn.Module, inputs: torch.Tensor, *, batch_size: int = 1024,
            probabilities: bool = True) -> torch.Tensor:
    """Class probabilities (softmax over the class axis, dim 1) for `inputs`, or with probabilities=False the
    outputs themselves (a regression's values); in eval mode without autograd, on the model's device, `batch_size`
    inputs at a time. The model is left in the mode it was in."""
    model = unwrap(model)
    if len(inputs) == 0 or batch_size < 1:
        raise ValueError(f"predict needs at least one input and a batch_size of 1 or more; got {len(inputs)} "
                         f"inputs and batch_size={batch_size}.")
    param = next(model.parameters(), None)
    if param is None:
        raise ValueError("predict runs the model on its parameters' device, but the model has no parameters: "
                         "train it first, or give it the layers that learn.")
    _check_real(model)
    device = param.device
    with _eval_mode(model):
        outputs = torch.cat([_forward(model, chunk.to(device, non_blocking=True))
                             for chunk in inputs.split(batch_size)])
    if not probabilities:
        return outputs
    if outputs.ndim < 2 or outputs.shape[1] < 2:
        raise ValueError(f"predict turns class scores of shape (N, classes) or (N, classes, T) into probabilities; "
                         f"the model returned shape {tuple(outputs.shape)}, not one score per class. For a "
                         "regression's values, or a binary classifier's logits (then apply .sigmoid()), pass "
                         "probabilities=False.")
    return outputs.softmax(dim=1)


@contextlib.contextmanager
def _eval_mode(model: nn.Module):
    """Eval mode inside the block; afterwards every module is back in the mode it was in."""
    modes = {module: module.training for module in model.modules()}
    model.eval()
    try:
        yield
    finally:
        for module, training in modes.items():
            module.training = training


def fit(model: nn.Module, train_loader, val_loader, loss_fn: nn.Module, optimizer: torch.optim.Optimizer, *,
        epochs: int, metrics: Metric | MetricCollection, device: torch.device | None = None,
        progress: bool = True, accumulate: int = 1, max_grad_norm: float | None = None,
        precision: torch.dtype | None = None, scheduler=None, step_scheduler: str = "epoch",
        patience: int | None = None, monitor: str = "val_loss", mode: str = "min",
        checkpoint: str | Path | None = None, settings: dict[str, int | float | str] | None = None) -> History:
    """Train for `epochs`, evaluating after each; data goes to the model's device unless `device` is given.

    Off unless asked for: gradient accumulation over `accumulate` batches, gradient clipping
    (max_grad_norm), mixed precision (precision=torch.bfloat16 or torch.float16), a learning-rate
    scheduler stepped per "epoch" or per optimizer step ("batch"; its lr recorded), early stopping after
    `patience` epochs without a better `monitor` (the best weights restored), and a checkpoint saved after
    every epoch and resumed from when the file exists. `settings` name what else a resume must repeat (the seed,
    the split, the batch size): saved in the checkpoint, and a resume with other values is refused. Under torchrun
    only the main process shows progress, prints and writes the checkpoint."""
    _check_options(model, epochs, patience, step_scheduler, mode, accumulate)
    _check_scheduler(scheduler, optimizer, step_scheduler)
    _check_settings(settings, checkpoint)
    device = torch.device(device) if device is not None else next(model.parameters()).device
    train_metrics, val_metrics = as_collection(metrics).clone(), as_collection(metrics).clone()
    scaler = torch.amp.GradScaler(device.type, enabled=precision == torch.float16)
    state = dict(model=unwrap(model), optimizer=optimizer, generator=getattr(train_loader, "generator", None),
                 scheduler=scheduler, scaler=scaler)
    history, best, start = History(), Best(monitor, mode), 1
    keys = _record_keys(train_metrics, max_grad_norm, scheduler)
    if patience is not None and monitor not in keys:
        raise ValueError(f"Cannot monitor {monitor!r}: each epoch records {', '.join(sorted(keys))}. Pass one of "
                         "those as monitor= (val_loss unless told otherwise).")
    options = {**(settings or {}), "accumulate": accumulate,
               **({"max_grad_norm": max_grad_norm} if max_grad_norm is not None else {}),
               **({"step_scheduler": step_scheduler} if scheduler is not None else {})}
    with held(checkpoint):  # one run at a time saves to a checkpoint
        if checkpoint is not None and Path(checkpoint).exists():
            history, best, start = resume(checkpoint, state, epochs, best, patience, keys, options)
        bar = tqdm(range(start, epochs + 1), desc="fit", unit="epoch", disable=not (progress and is_main()))
        for epoch in bar:
            lr = {"lr": optimizer.param_groups[0]["lr"]} if scheduler is not None else {}
            _set_epoch(train_loader, epoch)
            try:
                train = train_one_epoch(model, train_loader, loss_fn, optimizer, train_metrics, device,
                                        accumulate=accumulate, max_grad_norm=max_grad_norm, precision=precision,
                                        scaler=scaler, epoch=epoch,
                                        batch_scheduler=scheduler if step_scheduler == "batch" else None)
                val = evaluate(model, val_loader, loss_fn, val_metrics, device, precision=precision, epoch=epoch)
            except FloatingPointError as error:
                raise _diverged(error, history, checkpoint) from None
            history.records.append({**train, **{f"val_{name}": value for name, value in val.items()}, **lr})
            bar.set_postfix(_postfix(history.records[-1], monitor))
            if scheduler is not None and step_scheduler == "epoch":
                _step_per_epoch(scheduler, val["loss"])
            if patience is not None:
                best.update(history.records[-1], epoch, unwrap(model))
            if checkpoint is not None:
                save_checkpoint(checkpoint, epoch=epoch, history=history.records, best=best.state(), options=options,
                                **state)
            if patience is not None and epoch - best.epoch >= patience:
                break
    if patience is not None and best.weights is not None:
        unwrap(model).load_state_dict(best.weights)
    return history


def _postfix(record: dict[str, float], monitor: str) -> dict[str, str]:
    """The progress bar's figures: loss, val_loss and one metric (the monitored one, else the first validation
    metric), so the bar keeps its width on a laptop screen."""
    metric = monitor if monitor not in ("loss", "val_loss") else \
        next((key for key in record if key.startswith("val_") and key != "val_loss"), None)
    return {key: f"{record[key]:.4f}" for key in ("loss", "val_loss", metric) if key in record}


def _record_keys(metrics: MetricCollection, max_grad_norm: float | None, scheduler) -> set[str]:
    """The names each epoch's record will have: loss and metrics, their val_ twins, grad_norm and lr if used."""
    measured = {"loss", *metrics.keys(keep_base=False)}
    return (measured | {f"val_{name}" for name in measured} | ({"grad_norm"} if max_grad_norm is not None else set())
            | ({"lr"} if scheduler is not None else set()))


def _diverged(error: FloatingPointError, history: History, checkpoint: str | Path | None) -> FloatingPointError:
    """The non-finite loss error, carrying the History of the epochs that finished and saying how to go on."""
    done = len(history)
    keep = (f" {checkpoint} holds the weights after epoch {done}: fix the cause and call fit again with the same "
            "checkpoint= to continue from there." if checkpoint is not None and done else
            " Start again from new weights once the cause is fixed.")
    lost = FloatingPointError(f"{error} The model's weights have been through that epoch's steps and should not "
                              f"be kept; the {done} epochs that finished are in this error's .history.{keep}")
    lost.history = history
    return lost


def _check_options(model: nn.Module, epochs: int, patience: int | None, step_scheduler: str, mode: str,
                   accumulate: int) -> None:
    """Refuse fit's arguments that cannot mean what was asked, before any work."""
    if next(model.parameters(), None) is None:
        raise ValueError("The model has no parameters, so there is nothing to train: give fit a model with "
                         "layers that learn (nn.Linear, nn.Conv2d, ...).")
    if not _whole(epochs):
        raise ValueError(f"epochs must be a whole number, at least 1, got {epochs!r}.")
    if patience is not None and not _whole(patience):
        raise ValueError(f"patience must be at least 1 epoch without improvement (or None to train every epoch), "
                         f"got {patience}.")
    _check_accumulate(accumulate)
    if step_scheduler not in ("epoch", "batch") or mode not in ("min", "max"):
        raise ValueError(f"step_scheduler must be 'epoch' or 'batch' and mode 'min' or 'max', "
                         f"got {step_scheduler!r} and {mode!r}.")


def _check_scheduler(scheduler, optimizer: torch.optim.Optimizer, step_scheduler: str) -> None:
    """Refuse a scheduler of another optimizer (its lr would be recorded, never used), or one stepped per batch
    that follows the validation loss."""
    if scheduler is None:
        return
    if getattr(scheduler, "optimizer", optimizer) is not optimizer:
        raise ValueError("The scheduler changes another optimizer's learning rate than the one fit trains with: "
                         "build it from this optimizer, e.g. StepLR(optimizer, step_size=1).")
    if step_scheduler == "batch" and isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        raise ValueError("ReduceLROnPlateau follows the validation loss, which exists once per epoch: use "
                         "step_scheduler='epoch' with it.")


def _check_settings(settings: dict | None, checkpoint: str | Path | None) -> None:
    """Refuse settings that no checkpoint would keep, or that a checkpoint cannot store."""
    if settings is None:
        return
    if checkpoint is None:
        raise ValueError("settings= are kept in the checkpoint and compared on resume, but no checkpoint= is given: "
                         "pass checkpoint= too, or leave settings out.")
    odd = [name for name, value in settings.items() if not isinstance(value, (int, float, str))]
    if odd:
        raise ValueError(f"settings= holds numbers and strings (a checkpoint stores them safely), but "
                         f"{', '.join(odd)} {'is' if len(odd) == 1 else 'are'} not: pass the value itself, e.g. "
                         "settings={'seed': 0, 'batch_size': 64}.")


def _inputs_targets(batch) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch as (inputs, targets), or an error that says what the loop expects."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2:
        return batch
    seen = (f"a dict with keys {sorted(batch)}" if isinstance(batch, dict) else
            f"a {type(batch).__name__} of {len(batch)} items" if isinstance(batch, (tuple, list)) else
            f"a {type(batch).__name__}")
    raise TypeError(f"The loop expects every batch to be an (inputs, targets) pair, got {seen}. Make the "
                    "dataset's __getitem__ return (input, target).")


def _check_optimizer(model: nn.Module, optimizer: torch.optim.Optimizer, max_grad_norm: float | None) -> None:
    """Refuse an optimizer that would leave the weights alone or climb the loss, and a clipping norm below zero."""
    trained = {id(p) for group in optimizer.param_groups for p in group["params"]}
    if not any(id(p) in trained for p in model.parameters() if p.requires_grad):
        raise ValueError("The optimizer updates none of the model's parameters, so its weights would never change "
                         "(was it built from another model?): build it from this one, e.g. "
                         "torch.optim.SGD(model.parameters(), lr=0.1).")
    rates = [group["lr"] for group in optimizer.param_groups]
    if not all(isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0 for lr in rates):
        raise ValueError(f"The optimizer's learning rate is {rates[0] if len(rates) == 1 else rates}: a step would "
                         "climb the loss or make the weights NaN. Set a positive lr (e.g. 0.1 for SGD, 1e-3 "
                         "for Adam).")
    if max_grad_norm is not None and not (isinstance(max_grad_norm, (int, float)) and max_grad_norm > 0
                                          and math.isfinite(max_grad_norm)):
        raise ValueError(f"max_grad_norm is the largest gradient norm a step may use, so it must be a positive "
                         f"number; got {max_grad_norm!r}. Pass None to turn clipping off.")


def _check_trainable(model: nn.Module, loader, accumulate: int) -> None:
    """Refuse a model that cannot train: frozen, or not wrapped for several processes, or uneven shards."""
    if not any(p.requires_grad for p in model.parameters()):
        raise ValueError("Every parameter of the model has requires_grad=False, so there is nothing to train: "
                         "unfreeze the layers to train with p.requires_grad_(True).")
    _check_accumulate(accumulate)
    if world_size() == 1:
        return
    if not isinstance(model, DistributedDataParallel):
        raise ValueError(f"{world_size()} processes train this model, but it is not wrapped in "
                         "DistributedDataParallel, so their gradients would never be averaged: pass "
                         "helpers.distributed.wrap(model, device).")
    counts = gather(len(loader))
    if min(counts) != max(counts):
        raise ValueError(f"The processes hold {', '.join(map(str, counts))} training batches: each "
                         "optimizer step needs a batch from every process. Change the batch size so that the "
                         "last batch has a sample for each process, or use drop_last=True.")


def _whole(count) -> bool:
    """Whether `count` is a whole number, 1 or more (True is not a count)."""
    return isinstance(count, int) and not isinstance(count, bool) and count >= 1


def _check_accumulate(accumulate: int) -> None:
    """Refuse a number of batches per optimizer step below one."""
    if not _whole(accumulate):
        raise ValueError(f"accumulate must be a whole number of batches per optimizer step, 1 or more; got "
                         f"{accumulate!r}.")


def _groups(loader, accumulate: int, device: torch.device):
    """The loader's batches as pairs on `device`, `accumulate` at a time (the last group may be shorter)."""
    group = []
    for batch in loader:
        inputs, targets = _inputs_targets(batch)
        group.append((inputs.to(device, non_blocking=True), targets.to(device, non_blocking=True)))
        if len(group) == accumulate:
            yield group
            group = []
    if group:
        yield group


def _weights(counts: list[torch.Tensor], device: torch.device) -> list:
    """Each batch's share of its group's counted targets, over every process (None: a lone batch, weight 1).

    DDP averages gradients over the processes, so each process's share is multiplied by their number."""
    total = torch.stack(counts).sum()
    if world_size() == 1:
        return [None] if len(counts) == 1 else [count / total for count in counts]
    total = all_sum(total.to(device, torch.float))
    return [count * world_size() / total for count in counts]


def _synced(model: nn.Module, last: bool):
    """DDP's no_sync() on every batch of a group but the last, so gradients are averaged once per step."""
    return model.no_sync() if isinstance(model, DistributedDataParallel) and not last else contextlib.nullcontext()


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
          max_grad_norm: float | None) -> list[torch.Tensor]:
    """One optimizer step through the scaler, after clipping; returns the norm before clipping, if clipped."""
    norms = []
    if max_grad_norm is not None:
        scaler.unscale_(optimizer)
        norms.append(nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm))
    scaler.step(optimizer)  # a disabled scaler steps the optimizer directly
    scaler.update()
    return norms


def _set_epoch(loader, epoch: int) -> None:
    """Tell a DistributedSampler the epoch, so every epoch is shuffled differently (and alike in every process)."""
    sampler = getattr(loader, "sampler", None)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)


def _step_per_epoch(scheduler, val_loss: float) -> None:
    """Step an epoch scheduler; ReduceLROnPlateau also needs the validation loss."""
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(val_loss)
    else:
        scheduler.step()


def _autocast(device: torch.device, precision: torch.dtype | None):
    """Autocast to `precision` on `device`, or a context that does nothing when precision is None."""
    return torch.autocast(device.type, dtype=precision) if precision is not None else contextlib.nullcontext()


def _start_pass(model: nn.Module, loss_fn: nn.Module, metrics: Metric | MetricCollection,
                device: torch.device) -> MetricCollection:
    """What every pass over the data does first: check the model (real, on `device`) and that the loss can be
    weighted; return the metrics on `device`, reset."""
    param = next(model.parameters(), None)
    _check_real(model)
    if param is not None and not same_device(param.device, device):
        raise ValueError(f"The model is on {param.device} but the batches are sent to {device}: "
                         f"move the model first with model.to({str(device)!r}), or pass the model's device.")
    check_loss(loss_fn)
    metrics = as_collection(metrics).to(device)
    metrics.reset()
    return metrics


def _check_real(model: nn.Module) -> None:
    """Refuse a model with parameters on the meta device: shapes without values."""
    meta = [name for name, param in model.named_parameters() if param.is_meta]
    if meta:
        raise ValueError(f"The model's parameters are on the meta device: they have shapes but no values ("
                         f"{', '.join(meta[:3])}{', ...' if len(meta) > 3 else ''}). Build the model on a real device, "
                         "or give it memory with model.to_empty(device='cpu') and then initialise its weights.")


def _forward(model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """model(inputs); when a layer refuses the batch's type or shape, the error gets a note naming the fix."""
    try:
        return model(inputs)
    except RuntimeError as error:
        note = _input_problem(model, inputs, str(error))
        if note is not None:
            error.add_note(note)
        raise


def _input_problem(model: nn.Module, inputs: torch.Tensor, message: str) -> str | None:
    """What a layer's error says about the inputs (whole numbers, or another number of features), or None."""
    weight = next((p for p in model.parameters() if p.is_floating_point()), None)
    embeds = any(isinstance(m, (nn.Embedding, nn.EmbeddingBag)) for m in model.modules())
    if weight is not None and not embeds and not inputs.is_floating_point() and \
            ("type" in message or "not implemented for" in message):
        return (f"The inputs are {inputs.dtype} but the model's weights are {weight.dtype}: make the inputs floating "
                "point where the data is made, e.g. inputs.float() (images of whole numbers 0 to 255: "
                "images.float() / 255, or helpers.mnist_transform()).")
    shapes = re.search(r"shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x\d+\)", message)
    return _features_problem(model, inputs, int(shapes.group(2)), int(shapes.group(3))) if shapes else None


def _features_problem(model: nn.Module, inputs: torch.Tensor, got: int, expected: int) -> str:
    """Which linear layer refused how many features, and the fix that suits where it sits."""
    linears = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    name, layer = next(((n, m) for n, m in linears if m.in_features == expected), ("", None))
    called = f"layer {name!r}" if name else "the model"
    if layer is None:
        return (f"A linear layer got {got} features per sample where it expects {expected}; the batch's inputs have "
                f"shape {tuple(inputs.shape)}.")
    if layer is not linears[0][1]:
        return (f"The linear {called} expects {expected} features, but the layer before it gives {got}: make it "
                f"nn.Linear({got}, {layer.out_features}), or change the layer before.")
    values = inputs[0].numel()
    if inputs.ndim > 2:
        resize = f", and give {called} in_features={values}" if values != expected else ""
        return (f"Each sample has shape {tuple(inputs.shape[1:])} ({values} values), but a linear layer reads only "
                f"the last dimension ({got} features) where {called} expects {expected}: flatten the samples first, "
                f"with nn.Flatten() as the model's first layer or x.flatten(start_dim=1){resize}.")
    return (f"The inputs have {got} features per sample, but the first linear layer, {called}, expects {expected}: "
            f"give it in_features={got} (nn.Linear({got}, {layer.out_features})), or check the data.")


def _loss(loss_fn, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """loss_fn(outputs, targets); labels outside the model's classes are named instead of torch's index error."""
    try:
        return loss_fn(outputs, targets)
    except (IndexError, RuntimeError):
        problem = label_problem(loss_fn, outputs, targets)
        if problem is None:
            raise
    raise ValueError(problem)


def _measure(metrics: MetricCollection, outputs: torch.Tensor, targets: torch.Tensor) -> None:
    """Update the metrics with a batch; a metric built for another number of classes than the model scores is named."""
    try:
        return metrics.update(outputs, targets)
    except ValueError:
        wrong = {name: metric.num_classes for name, metric in metrics.items(keep_base=True, copy_state=False)
                 if outputs.ndim > 1 and getattr(metric, "num_classes", None) not in (None, outputs.shape[1])}
        if not wrong:
            raise
    (name, classes), scores = next(iter(wrong.items())), outputs.shape[1]
    raise ValueError(f"The metric {name} was built with num_classes={classes}, but the model returns {scores} class "
                     f"scores per sample: build it with num_classes={scores}, or give the model's last layer "
                     f"{classes} outputs.")


def _checked_outputs(logits: torch.Tensor, targets: torch.Tensor, loss_fn) -> torch.Tensor:
    """The model's output, after checking it is one tensor with one row per label, shaped for the loss."""
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"The model returned a {type(logits).__name__}; the loop needs one tensor of scores per "
                        "batch. Return only the logits from forward, or wrap the model in a module that does.")
    rows = len(logits) if logits.ndim else 0
    if rows != targets.shape[0]:
        raise ValueError(f"The model returned {rows} rows (shape {tuple(logits.shape)}) for a batch "
                         f"of {targets.shape[0]} labels. Keep the batch dimension first: flatten with "
                         "x.flatten(start_dim=1), not x.view(-1).")
    check_shapes(loss_fn, logits, targets)
    return logits


def _summarize(losses: list[torch.Tensor], counts: list[torch.Tensor], metrics: MetricCollection,
               epoch: int | None, phase: str, extra: dict[str, torch.Tensor] | None = None) -> dict[str, float]:
    """The mean loss per counted target, the metrics and any `extra` values, read back to the host once."""
    if not losses:
        raise ValueError("The loader yielded no batches: is its dataset empty, or is drop_last=True "
                         "with a batch size larger than the dataset?")
    batch_losses = torch.stack(losses).float()
    weights = torch.stack(counts).to(batch_losses.device, batch_losses.dtype)
    weighted = (batch_losses * weights).where(weights > 0, 0)  # a batch with nothing counted (all padding): 0, not NaN
    total = all_sum(torch.stack([weighted.sum(), weights.sum()]))  # over every process
    values = to_floats({"loss": total[0] / total[1], **metrics.compute(), **(extra or {})})
    if not math.isfinite(values["loss"]) and total[1].item() == 0:
        raise ValueError(f"No target of the {phase} pass was counted: every target equals the loss's ignore_index "
                         "(or its count_targets returned 0). Check that the padding value and ignore_index agree.")
    if not math.isfinite(values["loss"]):
        bad = torch.nonzero(~torch.isfinite(weighted)).flatten().tolist()
        where = (f"batch {bad[0]}" if bad else "a batch of another process") + \
                (f" of process {rank()}" if bad and world_size() > 1 else "")
        became = f"became {batch_losses[bad[0]].item()}" if bad else "became non-finite"
        raise FloatingPointError(f"The {phase} loss {became} at {f'epoch {epoch}, ' if epoch is not None else ''}"
                                 f"{where}. Lower the learning rate, clip gradients (max_grad_norm=1.0), or check "
                                 "the inputs for NaN.")
    return values
