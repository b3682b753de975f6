"""Counting: how many targets a batch's mean loss averaged over, the weight the loop gives that batch."""

import torch
from torch import nn

# Losses whose mean is over every element of the targets, which must have the outputs' shape.
ELEMENTWISE = (nn.BCELoss, nn.BCEWithLogitsLoss, nn.HuberLoss, nn.KLDivLoss, nn.L1Loss, nn.MSELoss,
               nn.PoissonNLLLoss, nn.SmoothL1Loss, nn.SoftMarginLoss)
# Losses whose mean is over the samples, whatever each sample's target holds.
PER_SAMPLE = (nn.MultiLabelMarginLoss, nn.MultiLabelSoftMarginLoss)


def counted_targets(loss_fn, targets: torch.Tensor) -> torch.Tensor:
    """The number of targets `loss_fn`'s mean averaged over for this batch (a weighted count for class weights).

    Class indices for CrossEntropyLoss and NLLLoss: those not equal to ignore_index; elementwise losses: every
    element; one target per sample: the samples. A loss can say for itself with a `count_targets(targets)` method."""
    if hasattr(loss_fn, "count_targets"):
        return torch.as_tensor(loss_fn.count_targets(targets), device=targets.device)
    if isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)) and not targets.is_floating_point():
        counted = targets != loss_fn.ignore_index
        if loss_fn.weight is None:
            return counted.sum()
        return (loss_fn.weight[targets.where(counted, 0)] * counted).sum()
    if isinstance(loss_fn, (nn.CrossEntropyLoss, nn.NLLLoss)):  # class probabilities, the class axis second
        return torch.full((), targets.numel() // targets.shape[1], device=targets.device)
    if isinstance(loss_fn, ELEMENTWISE):
        return torch.full((), targets.numel(), device=targets.device)
    if isinstance(loss_fn, PER_SAMPLE) or targets.numel() == len(targets):
        return torch.full((), len(targets), device=targets.device)
    name = getattr(loss_fn, "__name__", type(loss_fn).__name__)
    raise TypeError(f"The loop weights each batch by the number of targets its loss averaged over, but it cannot "
                    f"tell how {name} averages targets of shape {tuple(targets.shape)} (more than one per sample). "
                    "Tell it with a count_targets(targets) method or attribute on the loss that returns that number: "
                    "targets.numel() for a mean over every element, len(targets) for a mean over samples.")


def check_shapes(loss_fn, outputs: torch.Tensor, targets: torch.Tensor) -> None:
    """Refuse outputs and targets of different shapes for a loss that compares them element by element."""
    if not isinstance(loss_fn, ELEMENTWISE) or outputs.shape == targets.shape:
        return
    try:
        shape = tuple(torch.broadcast_shapes(outputs.shape, targets.shape))
    except RuntimeError:
        raise ValueError(f"{type(loss_fn).__name__} compares outputs and targets element by element, but the model "
                         f"returned {tuple(outputs.shape)} for targets of shape {tuple(targets.shape)}: make the two "
                         "shapes equal.") from None
    fix = ("targets.unsqueeze(1) where the data is made (or outputs.squeeze(1) in forward)"
           if outputs.shape == (*targets.shape, 1) else "reshape one of them")
    raise ValueError(f"{type(loss_fn).__name__} compares outputs and targets element by element, but the model "
                     f"returned {tuple(outputs.shape)} for targets of shape {tuple(targets.shape)}: torch would "
                     f"broadcast them to {shape}, comparing outputs with other samples' targets, and the model would "
                     f"learn little more than their mean. Give the targets the outputs' shape: {fix}.")
