import copy

import pytest
import torch
from torch import nn

from conftest import make_mlp
from helpers import Accuracy, History, TensorLoader, classification_metrics, evaluate, fit, train_one_epoch

CPU = torch.device("cpu")


def whole_dataset(model: nn.Module, data) -> tuple[float, float]:
    """Loss and accuracy of the whole dataset in one batch: what the epoch average must equal."""
    x, y = data
    with torch.no_grad():
        logits = model(x)
    return nn.functional.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def test_evaluate_averages_per_sample_over_an_uneven_last_batch(toy_data, toy_loader):
    model = make_mlp().eval()
    result = evaluate(model, toy_loader, nn.CrossEntropyLoss(), classification_metrics(), CPU)
    loss, acc = whole_dataset(model, toy_data)
    assert result["loss"] == pytest.approx(loss, rel=1e-6)
    assert result["accuracy"] == pytest.approx(acc)
    batch_means = [nn.functional.cross_entropy(model(x), y).item() for x, y in toy_loader]
    assert abs(sum(batch_means) / len(batch_means) - loss) > 1e-3  # the per-batch mean would be wrong here


def hand_written_epoch(model, loader, optimizer) -> list[tuple[float, int]]:
    """The textbook loop, recording each batch's loss and size."""
    seen = []
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        seen.append((loss.item(), len(y)))
    return seen


def test_train_one_epoch_matches_a_hand_written_loop(toy_data):
    ours, theirs = make_mlp(dropout=0.3, batchnorm=True), make_mlp(dropout=0.3, batchnorm=True)
    opt_ours = torch.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    for p in ours.parameters():  # stale gradients from elsewhere must be cleared, not added
        p.grad = torch.ones_like(p)
    torch.manual_seed(0)
    result = train_one_epoch(ours, TensorLoader(*toy_data, batch_size=4), nn.CrossEntropyLoss(), opt_ours,
                             Accuracy(), CPU)
    torch.manual_seed(0)
    seen = hand_written_epoch(theirs, TensorLoader(*toy_data, batch_size=4), opt_theirs)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    expected = sum(loss * n for loss, n in seen) / sum(n for _, n in seen)
    assert result["loss"] == pytest.approx(expected, rel=1e-6)
    assert set(result) == {"loss", "Accuracy"}


def test_evaluate_is_repeatable_and_touches_nothing(toy_loader):
    model = make_mlp(dropout=0.5, batchnorm=True)
    model.train()
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.5)
    state = copy.deepcopy(model.state_dict())
    first = evaluate(model, toy_loader, nn.CrossEntropyLoss(), Accuracy(), CPU)
    second = evaluate(model, toy_loader, nn.CrossEntropyLoss(), Accuracy(), CPU)
    assert first == second
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())  # BatchNorm stats included
    assert all(torch.equal(p.grad, torch.full_like(p, 0.5)) for p in model.parameters())


def test_evaluate_records_no_autograd_graph(toy_loader):
    seen = []
    model = nn.Sequential(make_mlp())
    model.register_forward_hook(lambda module, args, out: seen.append((module.training, out.requires_grad)))
    evaluate(model, toy_loader, nn.CrossEntropyLoss(), Accuracy(), CPU)
    assert seen == [(False, False)] * len(toy_loader)


def test_metrics_are_reset_at_each_call(toy_data):
    x, y = toy_data
    model = make_mlp().eval()
    right = model(x).argmax(1).detach()
    metric = Accuracy()
    all_right = evaluate(model, TensorLoader(x, right, batch_size=4), nn.CrossEntropyLoss(), metric, CPU)
    all_wrong = evaluate(model, TensorLoader(x, (right + 1) % 3, batch_size=4), nn.CrossEntropyLoss(), metric, CPU)
    assert all_right["Accuracy"] == 1.0 and all_wrong["Accuracy"] == 0.0


def test_fit_keeps_training_and_validation_metrics_apart(toy_data):
    x, y = toy_data
    model = make_mlp()
    metrics = classification_metrics()
    val_loader = TensorLoader(x[:6], y[:6], batch_size=4)
    history = fit(model, TensorLoader(x, y, batch_size=4), val_loader, nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.1), epochs=3, metrics=metrics, progress=False)
    assert len(history) == 3 and list(history.records[0]) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    fresh = evaluate(model, val_loader, nn.CrossEntropyLoss(), classification_metrics(), CPU)
    assert history["val_accuracy"][-1] == fresh["accuracy"] and history["val_loss"][-1] == fresh["loss"]
    assert metrics["accuracy"].update_count == 0  # the caller's object was cloned, never updated


def test_gradient_clipping_bounds_the_step(toy_data):
    x, y = toy_data
    for max_norm, bounded in ((1e-3, True), (None, False)):
        model = make_mlp()
        before = torch.cat([p.detach().flatten().clone() for p in model.parameters()])
        train_one_epoch(model, TensorLoader(x, y * 0, batch_size=10), nn.CrossEntropyLoss(),
                        torch.optim.SGD(model.parameters(), lr=1.0), Accuracy(), CPU, max_grad_norm=max_norm)
        step = (torch.cat([p.detach().flatten() for p in model.parameters()]) - before).norm().item()
        assert (step <= 1e-3 + 1e-7) == bounded


def test_history_columns_and_table():
    history = History([{"loss": 1.0, "val_loss": 2.0}, {"loss": 0.5, "val_loss": 1.123456}])
    assert history["loss"] == [1.0, 0.5]
    assert repr(history).splitlines()[-1].split() == ["2", "0.5000", "1.1235"]


# Bad input: a clear error that names the problem and the fix.

def test_empty_loader(toy_data):
    x, y = toy_data
    with pytest.raises(ValueError, match="yielded no batches"):
        evaluate(make_mlp(), TensorLoader(x, y, batch_size=20, drop_last=True), nn.CrossEntropyLoss(),
                 Accuracy(), CPU)


def test_non_finite_loss_names_epoch_and_batch(toy_data):
    x, y = toy_data
    x = x.clone()
    x[9] = float("nan")  # the third batch (index 2) of 4, 4, 2
    model = make_mlp()
    with pytest.raises(FloatingPointError, match=r"loss became nan at epoch 1, batch 2.*learning rate"):
        fit(model, TensorLoader(x, y, batch_size=4), TensorLoader(x, y, batch_size=4), nn.CrossEntropyLoss(),
            torch.optim.SGD(model.parameters(), lr=0.1), epochs=2, metrics=Accuracy(), progress=False)


def test_batch_size_mismatch(toy_loader):
    model = nn.Sequential(make_mlp(), nn.Flatten(start_dim=0))  # flattens the batch away
    with pytest.raises(ValueError, match=r"returned 12 rows \(shape \(12,\)\) for a batch of 4 labels.*flatten"):
        evaluate(model, toy_loader, nn.CrossEntropyLoss(), Accuracy(), CPU)


def test_model_on_another_device(toy_loader):
    model = nn.Linear(6, 3, device="meta")
    with pytest.raises(ValueError, match=r"model is on meta but the batches are sent to cpu.*model.to\('cpu'\)"):
        evaluate(model, toy_loader, nn.CrossEntropyLoss(), Accuracy(), CPU)


def test_loss_that_does_not_average(toy_loader):
    with pytest.raises(ValueError, match="reduction='sum'.*reduction='mean'"):
        evaluate(make_mlp(), toy_loader, nn.CrossEntropyLoss(reduction="sum"), Accuracy(), CPU)


# No host synchronisation per batch: count every place a tensor becomes a Python value.

def count_host_reads(monkeypatch) -> list[str]:
    reads = []
    for name in ("item", "tolist", "__bool__", "__float__", "__int__", "__index__", "numpy"):
        original = getattr(torch.Tensor, name)

        def spy(self, *args, _original=original, _name=name, **kwargs):
            reads.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, spy)
    return reads


@pytest.mark.parametrize("step", ["train", "evaluate"])
def test_host_reads_do_not_grow_with_the_number_of_batches(monkeypatch, step):
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 6, generator=generator), torch.randint(0, 3, (64,), generator=generator)
    counts = []
    for batch_size in (32, 4):  # 2 batches, then 16
        model = make_mlp(dropout=0.2, batchnorm=True)
        loader = TensorLoader(x, y, batch_size=batch_size)
        reads = count_host_reads(monkeypatch)
        if step == "train":
            train_one_epoch(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                            classification_metrics(), CPU, max_grad_norm=1.0)
        else:
            evaluate(model, loader, nn.CrossEntropyLoss(), classification_metrics(), CPU)
        monkeypatch.undo()
        counts.append(len(reads))
    assert counts[0] == counts[1], f"host reads: {counts[0]} for 2 batches, {counts[1]} for 16"
    assert counts[0] >= 1  # the spy works: the epoch's result is read once


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("step", ["train", "evaluate"])
def test_no_cuda_synchronisation_per_batch(step):
    import warnings

    device = torch.device("cuda")
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 6, generator=generator).to(device), torch.randint(0, 3, (64,), generator=generator).to(device)
    counts = []
    for batch_size in (32, 4):  # 2 batches, then 16
        model = make_mlp(dropout=0.2, batchnorm=True).to(device)
        loader = TensorLoader(x, y, batch_size=batch_size)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                if step == "train":
                    train_one_epoch(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                                    classification_metrics(), device, max_grad_norm=1.0)
                else:
                    evaluate(model, loader, nn.CrossEntropyLoss(), classification_metrics(), device)
            finally:
                torch.cuda.set_sync_debug_mode("default")
        counts.append(sum("synchroniz" in str(w.message) for w in caught))
    assert counts[0] == counts[1], f"synchronisations: {counts[0]} for 2 batches, {counts[1]} for 16"
