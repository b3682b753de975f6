"""Metrics: TorchMetrics objects that accumulate on the device and sync once per epoch."""

import torch
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy


def accuracy(num_classes: int) -> MulticlassAccuracy:
    """The fraction of correct predictions: average="micro" (TorchMetrics' default, "macro", averages per class)."""
    # validate_args=False: the argument checks read values back to the host on every update.
    return MulticlassAccuracy(num_classes=num_classes, average="micro", validate_args=False)


def classification_metrics(num_classes: int) -> MetricCollection:
    """The course's metrics for a classifier: accuracy."""
    return MetricCollection({"accuracy": accuracy(num_classes)})


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
