import pytest
import torch
from torchmetrics.classification import MulticlassAccuracy

from helpers import accuracy, classification_metrics
from helpers.metrics import as_collection, to_floats


def test_accuracy_is_the_fraction_of_correct_predictions():
    # 9 of class 0, all right; 1 of class 1, wrong: micro 0.9, macro (the default) 0.5.
    preds = torch.tensor([0] * 9 + [0])
    target = torch.tensor([0] * 9 + [1])
    assert accuracy(2)(preds, target).item() == pytest.approx(0.9)
    assert MulticlassAccuracy(num_classes=2)(preds, target).item() == pytest.approx(0.5)


def test_classification_metrics_are_named_accuracy():
    metrics = classification_metrics(3)
    metrics.update(torch.eye(3), torch.tensor([0, 1, 1]))
    assert to_floats(metrics.compute()) == pytest.approx({"accuracy": 2 / 3})


def test_as_collection_wraps_a_single_metric_and_rejects_others():
    assert list(as_collection(MulticlassAccuracy(num_classes=2)).keys()) == ["MulticlassAccuracy"]
    with pytest.raises(TypeError, match="must be a TorchMetrics Metric or MetricCollection, got dict"):
        as_collection({"accuracy": accuracy(2)})


def test_to_floats_rejects_per_class_values():
    with pytest.raises(ValueError, match=r"'recall' has shape \(3,\)"):
        to_floats({"recall": torch.ones(3)})
