import pytest
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from helpers import PAD, Accuracy, classification_metrics, regression_metrics, token_metrics
from helpers.metrics import as_collection, to_floats


def test_accuracy_is_the_fraction_of_correct_predictions():
    # 9 of class 0, all right; 1 of class 1, wrong: micro 0.9, macro (TorchMetrics' default) 0.5.
    preds = torch.tensor([0] * 9 + [0])
    target = torch.tensor([0] * 9 + [1])
    assert Accuracy()(preds, target).item() == pytest.approx(0.9)
    assert MulticlassAccuracy(num_classes=2)(preds, target).item() == pytest.approx(0.5)


def test_accuracy_equals_torchmetrics_micro_average_over_batches():
    generator = torch.Generator().manual_seed(0)
    ours, theirs = Accuracy(), MulticlassAccuracy(num_classes=5, average="micro")
    for size in (7, 64, 1):
        logits, target = torch.randn(size, 5, generator=generator), torch.randint(0, 5, (size,), generator=generator)
        ours.update(logits, target)
        theirs.update(logits, target)
    assert ours.compute().item() == pytest.approx(theirs.compute().item())
    ours.reset()
    assert ours.correct == 0 and ours.total == 0


def test_classification_metrics_are_named_accuracy():
    metrics = classification_metrics()
    metrics.update(torch.eye(3), torch.tensor([0, 1, 1]))
    assert to_floats(metrics.compute()) == pytest.approx({"accuracy": 2 / 3})


def test_as_collection_wraps_a_single_metric_and_rejects_others():
    assert list(as_collection(MulticlassAccuracy(num_classes=2)).keys()) == ["MulticlassAccuracy"]
    with pytest.raises(TypeError, match="must be a TorchMetrics Metric or MetricCollection, got dict"):
        as_collection({"accuracy": Accuracy()})


def test_to_floats_rejects_per_class_values():
    with pytest.raises(ValueError, match=r"'recall' has shape \(3,\)"):
        to_floats({"recall": torch.ones(3)})


@pytest.mark.parametrize("preds, target, words", [
    (torch.randn(4, 1), torch.tensor([0.0, 1.0, 1.0, 0.0]), "integer class labels, got torch.float32"),
    (torch.randn(4, 1), torch.tensor([0, 1, 1, 0]), r"scores of shape \(4, 1\).*BinaryAccuracy"),
    (torch.randn(4, 3), torch.eye(3)[[0, 1, 2, 0]], r"One-hot targets: pass targets.argmax\(1\)"),
    (torch.randn(4), torch.tensor([0, 1, 2, 0]), r"regression outputs use helpers.regression_metrics\(\)"),
    (torch.randn(2, 4, 5), torch.randint(4, (2, 5)), r"scores per token \(N, classes, T\) helpers.token_metrics"),
    (torch.randn(4, 3), torch.tensor([0, 1, 2]), r"targets of shape \(3,\), got torch.float32 predictions of shape"),
])
def test_accuracy_refuses_inputs_it_would_score_as_zero(preds, target, words):
    metric = Accuracy()
    with pytest.raises(ValueError, match=words):
        metric.update(preds, target)
    assert metric.total == 0


def test_regression_metrics_over_batches_equal_the_whole_data_set():
    generator = torch.Generator().manual_seed(0)
    preds, target = torch.randn(20, 1, generator=generator), torch.randn(20, 1, generator=generator)
    metrics = regression_metrics()
    for p, t in zip(preds.split([7, 1, 11, 1]), target.split([7, 1, 11, 1])):
        metrics.update(p, t)
    explained = 1 - ((preds - target) ** 2).sum() / ((target - target.mean()) ** 2).sum()
    assert to_floats(metrics.compute()) == pytest.approx({"mae": (preds - target).abs().mean().item(),
                                                          "r2": explained.item()}, rel=1e-5)


def test_token_accuracy_counts_only_real_tokens():
    predicted, targets = torch.tensor([[1, 2, PAD, PAD]]), torch.tensor([[1, 1, PAD, PAD]])
    metrics = token_metrics(3)
    metrics.update(nn.functional.one_hot(predicted, 3).float().mT, targets)  # scores (1, 3 classes, 4 tokens)
    assert to_floats(metrics.compute()) == {"accuracy": 0.5}  # 0.75 with the padding counted as right
