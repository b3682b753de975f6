"""Counting: how many targets a batch's mean loss averaged over, the weight the loop gives that batch."""

import torch
from torch import nn
from torch.nn import functional as F

# Losses whose mean is over every element of the targets, which must have the outputs' shape.
ELEMENTWISE = (nn.BCELoss, nn.BCEWithLogitsLoss, nn.HingeEmbeddingLoss, nn.HuberLoss, nn.KLDivLoss, nn.L1Loss,
               nn.MSELoss, nn.PoissonNLLLoss, nn.SmoothL1Loss, nn.SoftMarginLoss)
ELEMENTWISE_FUNCTIONS = (F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.huber_loss, F.l1_loss,
                         F.mse_loss, F.smooth_l1_loss)
# Losses whose mean is over the samples, whatever each sample's target holds (outputs of the targets' shape).
PER_SAMPLE = (nn.MultiLabelMarginLoss, nn.MultiLabelSoftMarginLoss)


def counted_targets(loss_fn, targets: torch.Tensor) -> torch.Tensor:
    """The number of targets `loss_fn`'s mean averaged over for this batch (a weighted count for class weights).

    Class indices for CrossEntropyLoss and NLLLoss: those not equal to ignore_index; elementwise losses: every
    element; one target per sample: the samples. A loss can say for itself with a `count_targets(targets)` method."""
    if hasattr(loss_fn, "count_targets"):
        return _own_count(loss_fn, targets)
    if isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)) and not targets.is_floating_point():
        counted = targets != loss_fn.ignore_index
        if loss_fn.weight is None:
            return counted.sum()
        classes = targets.where(counted, 0).long().clamp(0, len(loss_fn.weight) - 1)  # torch names a bad label
        return (loss_fn.weight[classes] * counted).sum()
    if isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)) and targets.ndim > 1:  # probabilities, classes second
        return torch.full((), targets.numel() // targets.shape[1], device=targets.device)
    if isinstance(loss_fn, nn.KLDivLoss) and loss_fn.reduction == "batchmean":
        return torch.full((), len(targets), device=targets.device)
    if isinstance(loss_fn, ELEMENTWISE) or loss_fn in ELEMENTWISE_FUNCTIONS:
        return torch.full((), targets.numel(), device=targets.device)
    if isinstance(loss_fn, PER_SAMPLE) or targets.numel() == len(targets):
        return torch.full((), len(targets), device=targets.device)
    raise TypeError(f"The loop weights each batch by the number of targets its loss averaged over, but it cannot "
                    f"tell how {_name(loss_fn)} averages targets of shape {tuple(targets.shape)} (more than one per "
                    "sample). "
                    "Use a loss of torch.nn that does the same (e.g. nn.CrossEntropyLoss(ignore_index=PAD) for "
                    "padded tokens), or give your loss module a count_targets(targets) method that returns that "
                    "number: (targets != PAD).sum() for a mean over the real tokens, targets.numel() for a mean "
                    "over every element.")


def _own_count(loss_fn, targets: torch.Tensor) -> torch.Tensor:
    """What the loss's own count_targets(targets) says, as one number on the targets' device."""
    if not callable(loss_fn.count_targets):
        raise TypeError(f"loss_fn.count_targets is a {type(loss_fn.count_targets).__name__}; it must be a method "
                        "(or function) that takes a batch's targets and returns how many its mean averaged over.")
    count = torch.as_tensor(loss_fn.count_targets(targets))
    if count.numel() != 1 or count.is_complex() or count.device.type == "meta":
        raise ValueError(f"loss_fn.count_targets returned {count.dtype} of shape {tuple(count.shape)}; it must "
                         "return one number: how many targets the batch's mean averaged over.")
    return count.reshape(()).to(targets.device)


def check_loss(loss_fn) -> None:
    """Refuse a loss the loop cannot weight: one that does not average, or class weights of 0."""
    reduction = getattr(loss_fn, "reduction", None) or getattr(loss_fn, "keywords", {}).get("reduction", "mean")
    if reduction != "mean" and not (isinstance(loss_fn, nn.KLDivLoss) and reduction == "batchmean"):
        raise ValueError(f"loss_fn has reduction={reduction!r}; the loop weights each batch's mean loss by the "
                         "number of targets it averaged over, so use reduction='mean' (the default).")
    weight = getattr(loss_fn, "weight", None) if isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)) else None
    if weight is not None and not bool((weight > 0).all()):
        zero = torch.nonzero(weight <= 0).flatten().tolist()
        raise ValueError(f"loss_fn's class weights are 0 or less for class(es) {zero}: a batch holding only those "
                         "targets has a mean of 0 / 0 and NaN gradients. To leave a class out (padding), use "
                         f"ignore_index={zero[0]} and a positive weight instead.")


def check_shapes(loss_fn, outputs: torch.Tensor, targets: torch.Tensor) -> None:
    """Refuse outputs and targets of different shapes for a loss that compares them element by element, and float
    labels for a loss that takes class indices."""
    if isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)):
        _check_labels(loss_fn, outputs, targets)
    elementwise = isinstance(loss_fn, ELEMENTWISE + PER_SAMPLE) or loss_fn in ELEMENTWISE_FUNCTIONS
    if not elementwise or outputs.shape == targets.shape:
        return
    try:
        shape = tuple(torch.broadcast_shapes(outputs.shape, targets.shape))
    except RuntimeError:
        raise ValueError(f"{_name(loss_fn)} compares outputs and targets element by element, but the model "
                         f"returned {tuple(outputs.shape)} for targets of shape {tuple(targets.shape)}: make the two "
                         "shapes equal.") from None
    fix = ("targets.unsqueeze(1) where the data is made (or outputs.squeeze(1) in forward)"
           if outputs.shape == (*targets.shape, 1) else "reshape one of them")
    raise ValueError(f"{_name(loss_fn)} compares outputs and targets element by element, but the model "
                     f"returned {tuple(outputs.shape)} for targets of shape {tuple(targets.shape)}: torch would "
                     f"broadcast them to {shape}, comparing outputs with other samples' targets, and the model would "
                     f"learn little more than their mean. Give the targets the outputs' shape: {fix}.")


def _check_labels(loss_fn, outputs: torch.Tensor, targets: torch.Tensor) -> None:
    """Refuse labels CrossEntropyLoss or NLLLoss would reject with torch's words: their type, or one axis too many."""
    probabilities = isinstance(loss_fn, nn.CrossEntropyLoss) and targets.is_floating_point() \
        and targets.shape == outputs.shape
    if probabilities or targets.dtype in (torch.long, torch.uint8) and targets.ndim != outputs.ndim:
        return
    if targets.ndim == outputs.ndim and not targets.is_floating_point():
        fix = "targets.squeeze(1)" if targets.shape[1:2] == (1,) else "targets.argmax(1) for one-hot labels"
        raise ValueError(f"{_name(loss_fn)} takes one class label per sample, of shape {(len(targets),)}, but the "
                         f"targets have shape {tuple(targets.shape)}: use {fix} where the data is made.")
    also = (" (float targets are read as class probabilities when shaped like the outputs, "
            f"{tuple(outputs.shape)})" if isinstance(loss_fn, nn.CrossEntropyLoss) else "")
    raise ValueError(f"{_name(loss_fn)} takes class labels as whole numbers of type torch.long, but the targets are "
                     f"{targets.dtype} of shape {tuple(targets.shape)}: convert them with targets.long() where the "
                     f"data is made{also}.")


def label_problem(loss_fn, outputs: torch.Tensor, targets: torch.Tensor) -> str | None:
    """What is wrong with class labels that a loss refused (labels outside the model's classes), or None."""
    if not isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)) or targets.is_floating_point() or outputs.ndim < 2:
        return None
    labels, classes = targets[targets != loss_fn.ignore_index], outputs.shape[1]
    if len(labels) == 0 or 0 <= int(labels.min()) and int(labels.max()) < classes:
        return None
    return (f"The targets hold class labels {int(labels.min())} to {int(labels.max())}, but the model returns "
            f"{classes} class scores per sample, so a label must be 0 to {classes - 1}: give the model's last layer "
            "as many outputs as there are classes, or number the labels from 0.")


def _name(loss_fn) -> str:
    """The loss's class name, or a function's own name."""
    return getattr(loss_fn, "__name__", type(loss_fn).__name__)
