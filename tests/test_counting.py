"""The counting rule: each batch weighs as many targets as its mean loss averaged over, and the loop applies it
everywhere (one process, accumulation, torchrun), so the epoch loss is the mean over every counted target."""

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from helpers import PAD, TensorLoader, evaluate, fit, pad_batch, token_metrics, train_one_epoch
from helpers.counting import check_loss, check_shapes, counted_targets
from token_run import CLASSES, SEQUENCES, tagger

CPU = torch.device("cpu")


def token_targets(n: int = 6, length: int = 9) -> torch.Tensor:
    """Class indices 1..3 of shape (n, length), with a different number of PAD positions at the end of each row."""
    targets = torch.randint(1, CLASSES, (n, length), generator=torch.Generator().manual_seed(n))
    for row in range(n):
        targets[row, length - row:] = PAD
    return targets


@pytest.mark.parametrize("loss_fn, outputs, targets", [
    (nn.CrossEntropyLoss(), torch.randn(5, 3), torch.tensor([0, 2, 1, 1, 0])),
    (nn.CrossEntropyLoss(ignore_index=PAD), torch.randn(6, CLASSES, 9), token_targets()),
    (nn.CrossEntropyLoss(ignore_index=PAD, weight=torch.tensor([0.0, 1.0, 2.5, 0.5])), torch.randn(6, CLASSES, 9),
     token_targets()),
    (nn.NLLLoss(ignore_index=2), torch.randn(7, 3).log_softmax(1), torch.tensor([0, 2, 2, 1, 2, 0, 1])),
    (nn.CrossEntropyLoss(), torch.randn(4, 3, 5), torch.randn(4, 3, 5).softmax(1)),
    (nn.MSELoss(), torch.randn(8, 1), torch.randn(8, 1)),
    (nn.L1Loss(), torch.randn(3, 4, 2), torch.randn(3, 4, 2)),
    (nn.BCEWithLogitsLoss(pos_weight=torch.tensor([2.0, 1.0, 3.0])), torch.randn(5, 3), torch.rand(5, 3).round()),
    (nn.MultiLabelSoftMarginLoss(), torch.randn(5, 3), torch.rand(5, 3).round()),
])
def test_the_count_is_what_the_mean_divides_by(loss_fn, outputs, targets):
    count = counted_targets(loss_fn, targets)
    loss_fn.reduction = "sum"
    total = loss_fn(outputs, targets)
    loss_fn.reduction = "mean"
    assert total / count == pytest.approx(loss_fn(outputs, targets).item(), rel=1e-5)


@pytest.mark.parametrize("loss_fn, outputs, targets", [
    (nn.KLDivLoss(reduction="batchmean"), torch.randn(6, 4).log_softmax(1), torch.rand(6, 4).softmax(1)),
    (nn.HingeEmbeddingLoss(), torch.randn(5, 3), torch.randint(0, 2, (5, 3)).float() * 2 - 1),
    (nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5])), torch.randn(5, 3),
     torch.tensor([0, 2, 1, 1, 0], dtype=torch.uint8)),
])
def test_the_count_is_what_these_means_divide_by_too(loss_fn, outputs, targets):
    count = counted_targets(loss_fn, targets)
    reduction, loss_fn.reduction = loss_fn.reduction, "sum"
    total = loss_fn(outputs, targets)
    loss_fn.reduction = reduction
    assert total / count == pytest.approx(loss_fn(outputs, targets).item(), rel=1e-5)


def test_functional_losses_are_counted_and_shape_checked_like_their_modules():
    assert counted_targets(nn.functional.mse_loss, torch.zeros(4, 3)).item() == 12
    with pytest.raises(ValueError, match=r"mse_loss compares outputs and targets element by element.*\(4, 4\)"):
        check_shapes(nn.functional.mse_loss, torch.zeros(4, 1), torch.zeros(4))
    with pytest.raises(ValueError, match=r"MultiLabelSoftMarginLoss compares .* returned \(4, 1\) for targets of "
                                         r"shape \(4,\)"):
        check_shapes(nn.MultiLabelSoftMarginLoss(), torch.zeros(4, 1), torch.zeros(4))


@pytest.mark.parametrize("loss_fn, words", [
    (nn.CrossEntropyLoss(weight=torch.tensor([0.0, 1.0, 1.0])), r"class weights are 0 or less for class\(es\) \[0\]"
                                                                r".*use ignore_index=0"),
    (functools.partial(nn.functional.cross_entropy, reduction="sum"), "reduction='sum'"),
    (nn.KLDivLoss(reduction="sum"), "reduction='sum'"),
])
def test_losses_the_loop_cannot_weight_are_refused_before_any_work(loss_fn, words):
    with pytest.raises(ValueError, match=words):
        check_loss(loss_fn)
    check_loss(nn.KLDivLoss(reduction="batchmean"))


@pytest.mark.parametrize("count, words", [
    (5, r"count_targets is a int; it must be a method"),
    (lambda targets: torch.ones(3), r"count_targets returned torch.float32 of shape \(3,\); it must return one number"),
])
def test_a_count_of_ones_own_must_be_one_number(count, words):
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    loss_fn.count_targets = count
    with pytest.raises((TypeError, ValueError), match=words):
        counted_targets(loss_fn, token_targets())


def test_an_epoch_with_nothing_counted_says_so():
    tokens, targets = pad_batch(SEQUENCES[:3])
    with pytest.raises(ValueError, match="No target of the validation pass was counted: every target equals the "
                                         "loss's ignore_index"):
        evaluate(tagger(), [(tokens, torch.full_like(targets, PAD))], nn.CrossEntropyLoss(ignore_index=PAD),
                 token_metrics(CLASSES), CPU)


def test_padding_is_not_counted_and_one_label_per_sample_counts_the_samples():
    targets = token_targets()
    assert counted_targets(nn.CrossEntropyLoss(ignore_index=PAD), targets).item() == (targets != PAD).sum() == 39
    assert counted_targets(nn.CrossEntropyLoss(), targets).item() == 54
    assert counted_targets(nn.CrossEntropyLoss(), torch.tensor([3, 1, 0])).item() == 3
    assert counted_targets(lambda outputs, targets: outputs.sum(), torch.tensor([3, 1, 0])).item() == 3


def test_a_loss_the_loop_cannot_count_is_refused_with_a_way_to_tell_it():
    class TokenLoss(nn.Module):
        def forward(self, outputs, targets):
            return nn.functional.cross_entropy(outputs, targets, ignore_index=PAD)

    with pytest.raises(TypeError, match=r"cannot tell how TokenLoss averages targets of shape \(6, 9\).*"
                                        r"count_targets\(targets\) method"):
        counted_targets(TokenLoss(), token_targets())
    told = TokenLoss()
    told.count_targets = lambda targets: (targets != PAD).sum()
    assert counted_targets(told, token_targets()).item() == 39


def test_elementwise_losses_refuse_shapes_that_broadcast():
    with pytest.raises(ValueError, match=r"returned \(8, 1\) for targets of shape \(8,\): torch would broadcast them "
                                         r"to \(8, 8\).*targets.unsqueeze\(1\)"):
        check_shapes(nn.MSELoss(), torch.zeros(8, 1), torch.zeros(8))
    with pytest.raises(ValueError, match=r"returned \(8, 2\) for targets of shape \(8, 3\): make the two shapes"):
        check_shapes(nn.L1Loss(), torch.zeros(8, 2), torch.zeros(8, 3))
    check_shapes(nn.MSELoss(), torch.zeros(8, 1), torch.zeros(8, 1))
    check_shapes(nn.CrossEntropyLoss(), torch.zeros(8, 3), torch.zeros(8, dtype=torch.long))


def test_fit_refuses_a_regression_whose_targets_lack_the_output_axis():
    x = torch.randn(12, 1)
    model = nn.Linear(1, 1)
    loader = TensorLoader(x, 2 * x.squeeze(1), batch_size=4)
    with pytest.raises(ValueError, match=r"MSELoss .* returned \(4, 1\) for targets of shape \(4,\)"):
        fit(model, loader, loader, nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), epochs=1,
            metrics=token_metrics(CLASSES), progress=False)


# The proofs: padded sequences of many lengths, cut into batches in different ways.

def loader(batch_size: int, *, shuffle: bool = False, extra: int = 0) -> DataLoader:
    """The sequences in batches, padded to each batch's longest plus `extra` positions of PAD."""
    def collate(pairs):
        return tuple(nn.functional.pad(t, (0, extra), value=PAD) for t in pad_batch(pairs))
    return DataLoader(SEQUENCES, batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(batch_size),
                      collate_fn=collate)


def all_at_once(model: nn.Module) -> torch.Tensor:
    """The mean cross-entropy over every real token of every sequence, in one batch."""
    tokens, targets = pad_batch(SEQUENCES)
    return nn.functional.cross_entropy(model(tokens), targets, ignore_index=PAD)


LAYOUTS = [dict(batch_size=1), dict(batch_size=4), dict(batch_size=7, shuffle=True), dict(batch_size=5, extra=6),
           dict(batch_size=23)]


@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
def test_the_epoch_loss_is_the_mean_over_real_tokens_whatever_the_batching(layout):
    model = tagger()
    with torch.no_grad():
        expected = all_at_once(model).item()
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    assert evaluate(model, loader(**layout), loss_fn, token_metrics(CLASSES), CPU)["loss"] == \
        pytest.approx(expected, rel=1e-6)
    frozen = torch.optim.SGD(model.parameters(), lr=0.0)
    assert train_one_epoch(model, loader(**layout), loss_fn, frozen, token_metrics(CLASSES), CPU)["loss"] == \
        pytest.approx(expected, rel=1e-6)


def test_a_batch_of_nothing_but_padding_adds_nothing():
    model = tagger()
    tokens, targets = pad_batch(SEQUENCES[:5])
    batches = [(tokens, targets), (tokens[:2], torch.full_like(targets[:2], PAD))]  # its mean loss is 0 / 0: NaN
    with torch.no_grad():
        expected = nn.functional.cross_entropy(model(tokens), targets, ignore_index=PAD).item()
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    assert evaluate(model, batches, loss_fn, token_metrics(CLASSES), CPU)["loss"] == pytest.approx(expected, rel=1e-6)
    frozen = torch.optim.SGD(model.parameters(), lr=0.0)
    assert train_one_epoch(model, batches, loss_fn, frozen, token_metrics(CLASSES), CPU)["loss"] == \
        pytest.approx(expected, rel=1e-6)


def test_token_accuracy_leaves_the_padding_out():
    model = tagger()
    tokens, targets = pad_batch(SEQUENCES)
    with torch.no_grad():
        right = (model(tokens).argmax(1) == targets)[targets != PAD].float().mean().item()
    result = evaluate(model, loader(5, extra=6), nn.CrossEntropyLoss(ignore_index=PAD), token_metrics(CLASSES), CPU)
    assert result["accuracy"] == pytest.approx(right)


def one_step_on_everything(lr: float) -> dict[str, torch.Tensor]:
    """The weights after one SGD step on the mean loss over every real token."""
    model = tagger()
    all_at_once(model).backward()
    torch.optim.SGD(model.parameters(), lr=lr).step()
    return model.state_dict()


@pytest.mark.parametrize("batch_size", [3, 5, 23])
def test_accumulating_every_batch_steps_as_one_batch_of_every_token(batch_size):
    model = tagger()
    batches = loader(batch_size, extra=2)
    train_one_epoch(model, batches, nn.CrossEntropyLoss(ignore_index=PAD), torch.optim.SGD(model.parameters(), lr=1.0),
                    token_metrics(CLASSES), CPU, accumulate=len(batches))
    expected = one_step_on_everything(lr=1.0)
    assert all(torch.allclose(value, expected[name], atol=1e-6) for name, value in model.state_dict().items())


def test_two_processes_count_the_tokens_of_both(tmp_path):
    out = tmp_path / "tokens.json"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                           str(Path(__file__).with_name("token_run.py")), str(out)], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    model = tagger()
    with torch.no_grad():
        expected = all_at_once(model).item()
    assert result["val_loss"] == pytest.approx(expected, rel=1e-6)
    assert result["loss"] == pytest.approx(expected, rel=1e-6)
    stepped = one_step_on_everything(lr=1.0)
    assert all(torch.allclose(torch.tensor(result["weights"][name]), value, atol=1e-6)
               for name, value in stepped.items())
