"""Metrics: TorchMetrics objects that accumulate on the device and sync once per epoch."""

import torch
from torchmetrics import MeanAbsoluteError, Metric, MetricCollection, R2Score
from torchmetrics.classification import MulticlassAccuracy

from .data import PAD


class Accuracy(Metric):
    """The fraction of correct predictions.

    TorchMetrics calls this MulticlassAccuracy(average="micro"); that class's default, "macro", averages per class."""

    full_state_update = False
    higher_is_better = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("correct", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
        self.add_state("total", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """Count the correct predictions; `preds` holds scores (N, classes) or class indices (N,)."""
        _check_classes(preds, target)
        predicted = preds.argmax(dim=-1) if preds.ndim == target.ndim + 1 else preds
        # add_ in place: `self.correct += ...` would also re-assign the attribute, which costs more than the sum.
        self.correct.add_((predicted == target).sum())
        self.total.add_(target.numel())

    def compute(self) -> torch.Tensor:
        return self.correct.float() / self.total


def _check_classes(preds: torch.Tensor, target: torch.Tensor) -> None:
    """Accuracy compares class indices: refuse inputs where that comparison would silently mean nothing."""
    if target.is_floating_point() or target.dtype == torch.bool:
        raise ValueError(f"Accuracy needs integer class labels, got {target.dtype} targets of shape "
                         f"{tuple(target.shape)}. One-hot targets: pass targets.argmax(1); a 0/1 target with one "
                         "output per sample: use torchmetrics.classification.BinaryAccuracy.")
    if preds.ndim == target.ndim + 1 and preds.shape[-1] == 1:
        raise ValueError(f"Accuracy got scores of shape {tuple(preds.shape)}: one output per sample is a binary "
                         "classifier, and argmax over one column is always 0. Use "
                         "torchmetrics.classification.BinaryAccuracy.")
    if preds.ndim == target.ndim + 1 and preds.shape[:-1] == target.shape:
        return
    if preds.shape == target.shape and not preds.is_floating_point():
        return
    raise ValueError(f"Accuracy needs class scores (N, classes) or class indices (N,) for targets of shape "
                     f"{tuple(target.shape)}, got {preds.dtype} predictions of shape {tuple(preds.shape)}. For "
                     "regression outputs use helpers.regression_metrics(); for scores per token (N, classes, T) "
                     "helpers.token_metrics(classes), which leaves the padding out.")


def classification_metrics() -> MetricCollection:
    """The course's metrics for a classifier: accuracy."""
    return MetricCollection({"accuracy": Accuracy()})


def regression_metrics() -> MetricCollection:
    """The course's metrics for a regression: mean absolute error (in the targets' units) and R²."""
    return MetricCollection({"mae": MeanAbsoluteError(), "r2": R2Score()})


def token_metrics(classes: int, ignore_index: int = PAD) -> MetricCollection:
    """The course's metrics for a class per token: the accuracy over the tokens whose target is not `ignore_index`.

    Scores (N, classes, T) against targets (N, T), as CrossEntropyLoss takes them."""
    return MetricCollection({"accuracy": MulticlassAccuracy(classes, average="micro", ignore_index=ignore_index)})


def as_collection(metrics: Metric | MetricCollection) -> MetricCollection:
    """A MetricCollection, wrapping a single metric (its name becomes the metric's class name)."""
    if isinstance(metrics, MetricCollection):
        return metrics
    if isinstance(metrics, Metric):
        return MetricCollection([metrics])
    raise TypeError(f"metrics must be a TorchMetrics Metric or MetricCollection, got {type(metrics).__name__}.")


def to_floats(values: dict[str, torch.Tensor]) -> dict[str, float]:
    """Scalar tensors to Python floats in one host transfer."""
    for name, value in values.items():
        if value.numel() != 1:
            raise ValueError(f"Metric {name!r} has shape {tuple(value.shape)}; the loop records scalars "
                             "(for per-class scores pick average='micro' or 'macro').")
    stacked = torch.stack([v.detach().reshape(()).float() for v in values.values()])
    return dict(zip(values, stacked.tolist()))
