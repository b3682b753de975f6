import copy
import math
import re
import subprocess
import sys

import pytest
import torch
from torch import nn
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy

import helpers.loop
from conftest import make_mlp
from helpers import (Accuracy, CheckpointError, History, HostReads, TensorLoader, classification_metrics, evaluate,
                     fit, predict, train_one_epoch)

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


def test_evaluate_puts_every_module_back_in_its_mode(toy_loader):
    model = make_mlp(dropout=0.5, batchnorm=True).train()
    frozen = next(m for m in model.modules() if isinstance(m, nn.BatchNorm1d)).eval()  # a module kept in eval
    evaluate(model, toy_loader, nn.CrossEntropyLoss(), Accuracy(), CPU)
    assert [m.training for m in model.modules()] == [m is not frozen for m in model.modules()]
    model.eval()
    evaluate(model, toy_loader, nn.CrossEntropyLoss(), Accuracy(), CPU)
    assert not any(m.training for m in model.modules())


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


class Samples(Metric):
    """How many samples it was given: a state that two of them in a collection can share."""

    def __init__(self) -> None:
        super().__init__()
        self.add_state("count", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        self.count += target.numel()

    def compute(self) -> torch.Tensor:
        return self.count


def test_a_collection_with_an_update_of_its_own_is_updated_through_it(toy_loader):
    class Counted(MetricCollection):
        def update(self, *args) -> None:
            self.batches = getattr(self, "batches", 0) + 1
            super().update(*args)

    metrics = Counted({"n": Samples()})
    result = evaluate(make_mlp(), toy_loader, nn.CrossEntropyLoss(), metrics, CPU)
    assert metrics.batches == 3 and result["n"] == 10
    spied, seen = MetricCollection({"n": Samples()}), []
    spied.update = lambda *args: seen.append(len(args[1]))  # a spy set on the object itself
    evaluate(make_mlp(), toy_loader, nn.CrossEntropyLoss(), spied, CPU)
    assert seen == [4, 4, 2]


def test_metrics_that_share_state_in_a_compute_group_count_each_sample_once(toy_loader):
    metrics = MetricCollection({"a": Samples(), "b": Samples()})
    metrics.update(torch.zeros(2, 3), torch.zeros(2))  # the first update finds that a and b can share their count
    assert list(metrics.compute_groups.values()) == [["a", "b"]]
    result = evaluate(make_mlp(), toy_loader, nn.CrossEntropyLoss(), metrics, CPU)
    assert (result["a"], result["b"]) == (10, 10)


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
    with pytest.raises(FloatingPointError, match=r"The training loss became nan at epoch 1, batch 2.*learning rate.*"
                                                 r"Start again from new weights"):
        fit(model, TensorLoader(x, y, batch_size=4), TensorLoader(x, y, batch_size=4), nn.CrossEntropyLoss(),
            torch.optim.SGD(model.parameters(), lr=0.1), epochs=2, metrics=Accuracy(), progress=False)


class NanAfter(nn.CrossEntropyLoss):
    """Cross-entropy that turns NaN from its `calls`-th call on (counting from 1)."""

    def __init__(self, calls: int) -> None:
        super().__init__()
        self.calls, self.seen = calls, 0

    def forward(self, logits, targets):
        self.seen += 1
        loss = super().forward(logits, targets)
        return loss * float("nan") if self.seen >= self.calls else loss


@pytest.mark.parametrize("calls, phase, batch", [(13, "training", 0), (18, "validation", 2)])
def test_a_nan_in_epoch_3_keeps_the_history_of_epochs_1_and_2(toy_loader, tmp_path, calls, phase, batch):
    model = make_mlp()  # each epoch scores 3 training batches, then 3 validation batches (4, 4, 2 samples)
    path = tmp_path / "run.ckpt"
    with pytest.raises(FloatingPointError) as caught:
        fit(model, toy_loader, toy_loader, NanAfter(calls), torch.optim.SGD(model.parameters(), lr=0.1),
            epochs=4, metrics=Accuracy(), progress=False, checkpoint=path)
    assert f"The {phase} loss became nan at epoch 3, batch {batch}" in str(caught.value)
    assert f"{path} holds the weights after epoch 2" in str(caught.value)
    assert len(caught.value.history) == 2 and caught.value.history["val_loss"][1] > 0


def test_batch_size_mismatch(toy_loader):
    model = nn.Sequential(make_mlp(), nn.Flatten(start_dim=0))  # flattens the batch away
    with pytest.raises(ValueError, match=r"returned 12 rows \(shape \(12,\)\) for a batch of 4 labels.*flatten"):
        evaluate(model, toy_loader, nn.CrossEntropyLoss(), Accuracy(), CPU)


def test_model_on_another_device(toy_loader):
    model = nn.Linear(6, 3)
    with pytest.raises(ValueError, match=r"model is on cpu but the batches are sent to cuda.*model.to\('cuda'\)"):
        evaluate(model, toy_loader, nn.CrossEntropyLoss(), Accuracy(), torch.device("cuda"))


@pytest.mark.parametrize("run", [
    lambda model, loader: fit(model, loader, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                              epochs=1, metrics=Accuracy(), progress=False),
    lambda model, loader: evaluate(model, loader, nn.CrossEntropyLoss(), Accuracy(), torch.device("meta")),
    lambda model, loader: predict(model, loader.dataset.tensors[0]),
])
def test_a_model_without_values_is_refused_before_any_work(toy_loader, run):
    with pytest.raises(ValueError, match=r"^The model's parameters are on the meta device: they have shapes but no "
                                         r"values \(weight, bias\)\. .*model\.to_empty\(device='cpu'\)"):
        run(nn.Linear(6, 3, device="meta"), toy_loader)
    partly = nn.Sequential(nn.Linear(6, 4), nn.Linear(4, 3, device="meta"))
    with pytest.raises(ValueError, match=r"no values \(1\.weight, 1\.bias\)"):
        run(partly, toy_loader)


def train_on(x, y, model=None, metrics=None):
    """One epoch of SGD over (x, y) in batches of 4."""
    model = model or make_mlp()
    return train_one_epoch(model, TensorLoader(x, y, batch_size=4), nn.CrossEntropyLoss(),
                           torch.optim.SGD(model.parameters(), lr=0.1), metrics or Accuracy(), CPU)


@pytest.mark.parametrize("labels, words", [
    (lambda y: y + 3, "The targets hold class labels 3 to 5, but the model returns 3 class scores per sample, so a "
                      "label must be 0 to 2: give the model's last layer as many outputs as there are classes"),
    (lambda y: y - 1, "The targets hold class labels -1 to 1, but"),
    (lambda y: y.float(), "CrossEntropyLoss takes class labels as whole numbers of type torch.long, but the targets "
                          "are torch.float32 of shape (4,): convert them with targets.long() where the data is made"),
    (lambda y: y.int(), "CrossEntropyLoss takes class labels as whole numbers of type torch.long, but the targets are "
                        "torch.int32"),
    (lambda y: y.unsqueeze(1), "CrossEntropyLoss takes one class label per sample, of shape (4,), but the targets have "
                               "shape (4, 1): use targets.squeeze(1) where the data is made"),
    (lambda y: nn.functional.one_hot(y, 3), "CrossEntropyLoss takes one class label per sample, of shape (4,), but "
                                            "the targets have shape (4, 3): use targets.argmax(1) for one-hot labels"),
])
def test_labels_the_loss_cannot_take_are_named_with_the_fix(toy_data, labels, words):
    x, y = toy_data
    with pytest.raises(ValueError, match=f"^{re.escape(words)}"):
        train_on(x, labels(y))


def test_a_metric_for_another_number_of_classes_is_named_with_the_fix(toy_data):
    x, y = toy_data
    metrics = MetricCollection({"acc": MulticlassAccuracy(10)})
    with pytest.raises(ValueError, match=re.escape("The metric acc was built with num_classes=10, but the model "
                                                   "returns 3 class scores per sample: build it with num_classes=3")):
        train_on(x, y, metrics=metrics)


@pytest.mark.parametrize("model, inputs, note", [
    (make_mlp, lambda x: x.long(), "The inputs are torch.int64 but the model's weights are torch.float32: make the "
                                   "inputs floating point where the data is made, e.g. inputs.float()"),
    (lambda: nn.Sequential(nn.Unflatten(1, (1, 2, 3)), nn.Conv2d(1, 2, 2), nn.Flatten(), nn.Linear(4, 3)),
     lambda x: (x * 10).abs().to(torch.uint8), "The inputs are torch.uint8 but the model's weights are torch.float32"),
    (make_mlp, lambda x: x[:, :5], "The inputs have 5 features per sample, but the first linear layer, layer '0', "
                                   "expects 6: give it in_features=5 (nn.Linear(5, 16)), or check the data."),
    (make_mlp, lambda x: x.reshape(10, 1, 2, 3), "Each sample has shape (1, 2, 3) (6 values), but a linear layer reads "
                                                 "only the last dimension (3 features) where layer '0' expects 6: "
                                                 "flatten the samples first, with nn.Flatten()"),
    (lambda: nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(5, 3)), lambda x: x,
     "The linear layer '2' expects 5 features, but the layer before it gives 8: make it nn.Linear(8, 3)"),
])
def test_inputs_a_layer_refuses_get_a_note_naming_the_fix(toy_data, model, inputs, note):
    x, y = toy_data
    with pytest.raises(RuntimeError) as raised:
        train_on(inputs(x), y, model=model())
    assert len(raised.value.__notes__) == 1 and raised.value.__notes__[0].startswith(note)


def test_a_model_made_for_whole_numbers_gets_no_note_about_them(toy_data):
    model = nn.Sequential(nn.Embedding(10, 3), nn.Flatten(), nn.Linear(18, 3).double())  # float32 meets float64
    x, y = toy_data
    with pytest.raises(RuntimeError) as raised:
        train_on(x.abs().long() % 10, y, model=model)
    assert not getattr(raised.value, "__notes__", None)


def test_loss_that_does_not_average(toy_loader):
    with pytest.raises(ValueError, match="reduction='sum'.*reduction='mean'"):
        evaluate(make_mlp(), toy_loader, nn.CrossEntropyLoss(reduction="sum"), Accuracy(), CPU)


# No host synchronisation per batch: count every place a tensor becomes a Python value.

@pytest.mark.parametrize("step", ["train", "evaluate"])
def test_an_epoch_reads_the_device_once_whatever_its_number_of_batches(step):
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(64, 6, generator=generator), torch.randint(0, 3, (64,), generator=generator)
    counts = []
    for batch_size in (32, 4):  # 2 batches, then 16
        model = make_mlp(dropout=0.2, batchnorm=True)
        loader = TensorLoader(x, y, batch_size=batch_size)
        with HostReads() as reads:
            if step == "train":
                train_one_epoch(model, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                                classification_metrics(), CPU, max_grad_norm=1.0)
            else:
                evaluate(model, loader, nn.CrossEntropyLoss(), classification_metrics(), CPU)
        counts.append(reads.count)
    assert counts == [1, 1], f"host reads: {counts[0]} for 2 batches, {counts[1]} for 16"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("step", ["train", "evaluate"])
def test_no_cuda_synchronisation_per_batch(step):
    import warnings

    device = torch.device("cuda")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 6, generator=generator).to(device)
    y = torch.randint(0, 3, (64,), generator=generator).to(device)
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


# Loop options: each off by default, each changes only what it should.

def fit_toy(toy_data, epochs=3, model=None, **options):
    x, y = toy_data
    model = model or make_mlp()
    optimizer = options.pop("optimizer", None) or torch.optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, TensorLoader(x, y, batch_size=4), TensorLoader(x, y, batch_size=4), nn.CrossEntropyLoss(),
                  optimizer, epochs=epochs, metrics=classification_metrics(), progress=False, **options)
    return history, model


def test_scheduler_stepped_per_epoch_or_per_batch_is_recorded(toy_data):
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history, _ = fit_toy(toy_data, model=model, optimizer=optimizer,
                         scheduler=torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5))
    assert history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    history, _ = fit_toy(toy_data, model=model, optimizer=optimizer, step_scheduler="batch",
                         scheduler=torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5))
    assert history["lr"] == pytest.approx([0.1, 0.1 * 0.5**3, 0.1 * 0.5**6])  # 3 batches per epoch
    assert "lr" not in fit_toy(toy_data)[0].records[0]
    with pytest.raises(ValueError, match="step_scheduler must be 'epoch' or 'batch'"):
        fit_toy(toy_data, step_scheduler="step")


def test_reduce_on_plateau_gets_the_validation_loss(toy_data):
    x, y = toy_data
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # nothing improves
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=0)
    history = fit(model, TensorLoader(x, y, batch_size=4), anti_validation(toy_data), nn.CrossEntropyLoss(),
                  optimizer, epochs=3, metrics=classification_metrics(), progress=False, scheduler=plateau)
    assert history["loss"][0] != pytest.approx(history["val_loss"][0])  # the two losses tell apart
    assert plateau.best == pytest.approx(history["val_loss"][0])  # it was handed the validation loss


def test_gradient_norm_before_clipping_is_recorded(toy_data):
    x, y = toy_data
    reference = make_mlp()
    norms = []
    for xb, yb in TensorLoader(x, y, batch_size=4):  # the same steps by hand, with nothing clipped
        reference.zero_grad()
        nn.functional.cross_entropy(reference(xb), yb).backward()
        norms.append(nn.utils.clip_grad_norm_(reference.parameters(), float("inf")).item())
        torch.optim.SGD(reference.parameters(), lr=0.1).step()
    history, _ = fit_toy(toy_data, epochs=1, max_grad_norm=1e9)
    assert history["grad_norm"][0] == pytest.approx(sum(norms) / len(norms), rel=1e-5)
    assert "grad_norm" not in fit_toy(toy_data, epochs=1)[0].records[0]


def test_mixed_precision_runs_the_forward_pass_in_bfloat16_and_stays_close(toy_data):
    seen = []
    history32, _ = fit_toy(toy_data)
    x, y = toy_data
    model = make_mlp()
    model[0].register_forward_hook(lambda module, args, out: seen.append(out.dtype))
    loader = TensorLoader(x, y, batch_size=4)
    history16 = fit(model, loader, loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                    epochs=3, metrics=classification_metrics(), progress=False, precision=torch.bfloat16)
    assert set(seen) == {torch.bfloat16}  # training and evaluation both ran under autocast
    assert history16["loss"] != history32["loss"]
    assert history16["loss"] == pytest.approx(history32["loss"], abs=0.05)


def test_float16_uses_an_active_gradient_scaler(toy_data, monkeypatch):
    scales = []
    original = torch.amp.GradScaler.scale
    monkeypatch.setattr(torch.amp.GradScaler, "scale",
                        lambda self, loss: scales.append(self.is_enabled()) or original(self, loss))
    history, _ = fit_toy(toy_data, epochs=1, precision=torch.float16)
    assert scales and all(scales) and all(map(math.isfinite, history["loss"]))


def anti_validation(toy_data):
    """Validation labels that disagree with the training labels: validation loss rises as training learns."""
    x, y = toy_data
    return TensorLoader(x, (y + 1) % 3, batch_size=4)


def test_early_stopping_restores_the_best_weights(toy_data):
    x, y = toy_data
    model = make_mlp()
    history = fit(model, TensorLoader(x, y, batch_size=4), anti_validation(toy_data), nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.5), epochs=10, metrics=classification_metrics(),
                  progress=False, patience=2)
    best = min(range(len(history)), key=lambda i: history["val_loss"][i])
    assert len(history) == best + 1 + 2 < 10  # stopped 2 epochs after the best
    one_run = make_mlp()
    fit(one_run, TensorLoader(x, y, batch_size=4), anti_validation(toy_data), nn.CrossEntropyLoss(),
        torch.optim.SGD(one_run.parameters(), lr=0.5), epochs=best + 1, metrics=classification_metrics(),
        progress=False)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), one_run.state_dict().values()))


def test_early_stopping_on_a_metric_to_maximise(toy_data):
    x, y = toy_data
    model = make_mlp()
    history = fit(model, TensorLoader(x, y, batch_size=4), anti_validation(toy_data), nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.5), epochs=6, metrics=classification_metrics(),
                  progress=False, patience=1, monitor="val_loss", mode="max")
    assert history["val_loss"] == sorted(history["val_loss"])  # rising every epoch: each one is a new best
    assert len(history) == 6  # so "max" never stops early ("min" would stop after epoch 2)


class ReturnsTuple(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = make_mlp()

    def forward(self, x):
        return self.net(x), x


@pytest.mark.parametrize("batches, error, words", [
    ([{"image": torch.randn(4, 6), "label": torch.zeros(4, dtype=torch.long)}], TypeError,
     r"an \(inputs, targets\) pair, got a dict with keys \['image', 'label'\]"),
    ([(torch.randn(4, 6), torch.zeros(4, dtype=torch.long), torch.ones(4))], TypeError, "got a tuple of 3 items"),
])
def test_batches_that_are_not_pairs_get_a_clear_error(batches, error, words):
    model = make_mlp()
    with pytest.raises(error, match=words):
        train_one_epoch(model, batches, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                        Accuracy(), CPU)
    with pytest.raises(error, match=words):
        evaluate(model, batches, nn.CrossEntropyLoss(), Accuracy(), CPU)


def test_a_model_that_returns_a_tuple_gets_a_clear_error(toy_loader):
    with pytest.raises(TypeError, match="The model returned a tuple; the loop needs one tensor"):
        evaluate(ReturnsTuple(), toy_loader, nn.CrossEntropyLoss(), Accuracy(), CPU)


def test_a_frozen_model_gets_a_clear_error(toy_loader):
    model = make_mlp().requires_grad_(False)
    with pytest.raises(ValueError, match="Every parameter of the model has requires_grad=False"):
        train_one_epoch(model, toy_loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                        Accuracy(), CPU)


@pytest.mark.parametrize("model, options, words", [
    (nn.ReLU(), {}, "The model has no parameters"),
    (make_mlp(), {"epochs": 0}, "epochs must be a whole number, at least 1, got 0"),
    (make_mlp(), {"patience": 0}, "patience must be at least 1 epoch"),
    (make_mlp(), {"accumulate": 0}, "accumulate must be a whole number of batches"),
])
def test_fit_refuses_options_before_any_work(toy_loader, model, options, words):
    params = list(model.parameters()) or [nn.Parameter(torch.zeros(1))]
    with pytest.raises(ValueError, match=words):
        fit(model, toy_loader, toy_loader, nn.CrossEntropyLoss(), torch.optim.SGD(params, lr=0.1),
            metrics=Accuracy(), progress=False, **{"epochs": 2, **options})


@pytest.mark.parametrize("make, words", [
    (lambda model, opt: {"optimizer": torch.optim.SGD(make_mlp().parameters(), lr=0.1)},
     "The optimizer updates none of the model's parameters, so its weights would never change"),
    (lambda model, opt: opt.param_groups[0].update(lr=-0.1) or {}, "The optimizer's learning rate is -0.1"),
    (lambda model, opt: {"max_grad_norm": 0}, "so it must be a positive number; got 0. Pass None"),
    (lambda model, opt: {"max_grad_norm": -1.0}, "so it must be a positive number; got -1.0"),
    (lambda model, opt: {"scheduler": torch.optim.lr_scheduler.StepLR(torch.optim.SGD(model.parameters(), lr=0.1),
                                                                      step_size=1)},
     "The scheduler changes another optimizer's learning rate"),
    (lambda model, opt: {"scheduler": torch.optim.lr_scheduler.ReduceLROnPlateau(opt), "step_scheduler": "batch"},
     "ReduceLROnPlateau follows the validation loss, which exists once per epoch"),
    (lambda model, opt: {"epochs": 2.5}, "epochs must be a whole number, at least 1, got 2.5"),
    (lambda model, opt: {"patience": 1.5}, "patience must be at least 1 epoch"),
])
def test_fit_refuses_parts_that_would_train_silently_wrong(toy_loader, make, words):
    model, loss = make_mlp(), CountingLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    options = {"optimizer": optimizer, "epochs": 2, **make(model, optimizer)}
    with pytest.raises(ValueError, match=re.escape(words)):
        fit(model, toy_loader, toy_loader, loss, metrics=Accuracy(), progress=False, **options)
    assert loss.calls == 0


# Resuming: fit continues a checkpoint only when the call asks for that run's continuation.

def fit_saved(toy_data, path, epochs, model=None, metrics=None, loss=None, **options) -> History:
    """fit on the toy data with a checkpoint; validation disagrees with training, so val_loss rises."""
    x, y = toy_data
    model = model or make_mlp()
    return fit(model, TensorLoader(x, y, batch_size=4), anti_validation(toy_data), loss or nn.CrossEntropyLoss(),
               torch.optim.SGD(model.parameters(), lr=0.5), epochs=epochs, progress=False, checkpoint=path,
               metrics=metrics or classification_metrics(), **options)


def test_a_resume_says_which_file_and_epoch_it_continues_from(toy_data, tmp_path, capsys):
    path = tmp_path / "run.ckpt"
    fit_saved(toy_data, path, epochs=2)
    assert capsys.readouterr().out == ""
    assert len(fit_saved(toy_data, path, epochs=4)) == 4
    assert capsys.readouterr().out == f"Resuming from {path}: 2 of 4 epochs done, continuing with epoch 3.\n"


@pytest.mark.parametrize("epochs", [2, 1])
def test_a_checkpoint_that_already_holds_the_epochs_is_refused(toy_data, tmp_path, epochs):
    path = tmp_path / "run.ckpt"
    fit_saved(toy_data, path, epochs=2)
    model = make_mlp()
    with pytest.raises(CheckpointError, match=rf"{path} already holds 2 epochs and this call asks for "
                                              rf"epochs={epochs}: there is nothing to train. Ask for more epochs "
                                              r"\(epochs=3 or more\).*new file \(or delete this one\)"):
        fit_saved(toy_data, path, epochs=epochs, model=model)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), make_mlp().state_dict().values()))


def test_a_checkpoint_kept_by_another_monitor_is_refused(toy_data, tmp_path):
    path = tmp_path / "run.ckpt"
    fit_saved(toy_data, path, epochs=2, patience=5)
    with pytest.raises(CheckpointError, match=rf"{path} kept its best epoch by monitor='val_loss', mode='min'; "
                                              r"this call asks for monitor='val_accuracy', mode='max'"):
        fit_saved(toy_data, path, epochs=4, patience=5, monitor="val_accuracy", mode="max")
    with pytest.raises(CheckpointError, match=r"monitor='val_loss', mode='min'; this call asks for "
                                              r"monitor='val_loss', mode='max'"):
        fit_saved(toy_data, path, epochs=4, patience=5, mode="max")


def test_a_run_without_early_stopping_may_continue_with_it(toy_data, tmp_path):
    path = tmp_path / "run.ckpt"
    fit_saved(toy_data, path, epochs=2)
    history = fit_saved(toy_data, path, epochs=6, patience=1, monitor="val_loss", mode="max")
    assert len(history) == 6  # val_loss rises every epoch: with this call's mode="max" each epoch is a new best


def test_a_run_that_stopped_early_is_not_continued(toy_data, tmp_path):
    path = tmp_path / "run.ckpt"
    assert len(fit_saved(toy_data, path, epochs=10, patience=2)) == 3  # val_loss is lowest after epoch 1
    with pytest.raises(CheckpointError, match=rf"{path} stopped early: val_loss has not improved since epoch 1 "
                                              r"of 3 \(patience=2\). Raise patience to continue"):
        fit_saved(toy_data, path, epochs=10, patience=2)
    assert len(fit_saved(toy_data, path, epochs=10, patience=3)) == 4


@pytest.mark.parametrize("options, words", [
    ({"metrics": Accuracy()}, "this call adds Accuracy, val_Accuracy and drops accuracy, val_accuracy"),
    ({"max_grad_norm": 1.0}, "this call adds grad_norm,"),
])
def test_a_checkpoint_that_recorded_other_values_is_refused(toy_data, tmp_path, options, words):
    path = tmp_path / "run.ckpt"
    fit_saved(toy_data, path, epochs=2)
    with pytest.raises(CheckpointError, match=rf"{path} was written by a run that recorded other values: {words}"):
        fit_saved(toy_data, path, epochs=4, **options)


@pytest.mark.parametrize("before, after, words", [
    ({}, {"accumulate": 2}, "was trained with accumulate=1; this call asks for accumulate=2"),
    ({"max_grad_norm": 1.0}, {"max_grad_norm": 5.0}, "was trained with max_grad_norm=1.0; this call asks for "
                                                      "max_grad_norm=5.0"),
])
def test_a_resume_with_other_training_settings_is_refused(toy_data, tmp_path, before, after, words):
    path = tmp_path / "run.ckpt"
    fit_saved(toy_data, path, epochs=1, **before)
    with pytest.raises(CheckpointError, match=re.escape(f"{path} {words}, so its epochs would not continue")):
        fit_saved(toy_data, path, epochs=2, **after)
    assert len(fit_saved(toy_data, path, epochs=2, **before)) == 2


def test_settings_a_resume_must_repeat_are_kept_in_the_checkpoint(toy_data, tmp_path):
    path = tmp_path / "run.ckpt"
    fit_saved(toy_data, path, epochs=1, settings={"seed": 0, "split": "a"})
    with pytest.raises(CheckpointError, match=re.escape(f"{path} was trained with seed=0; this call asks for seed=1, "
                                                        "so its epochs would not continue the same run")):
        fit_saved(toy_data, path, epochs=2, settings={"seed": 1, "split": "a"})
    assert len(fit_saved(toy_data, path, epochs=2, settings={"seed": 0, "split": "a"})) == 2


@pytest.mark.parametrize("checkpoint, settings, words", [
    (None, {"seed": 0}, "no checkpoint= is given: pass checkpoint= too, or leave settings out"),
    ("run.ckpt", {"seed": 0, "data": [1, 2]}, "but data is not: pass the value itself"),
])
def test_settings_that_cannot_be_kept_are_refused(toy_data, tmp_path, checkpoint, settings, words):
    x, y = toy_data
    model = make_mlp()
    with pytest.raises(ValueError, match=re.escape(words)):
        fit(model, TensorLoader(x, y), TensorLoader(x, y), nn.CrossEntropyLoss(),
            torch.optim.SGD(model.parameters(), lr=0.5), epochs=1, metrics=Accuracy(), progress=False,
            checkpoint=checkpoint and tmp_path / checkpoint, settings=settings)


def test_a_checkpoint_in_use_by_another_run_is_refused_before_any_work(toy_data, tmp_path):
    path = tmp_path / "run.ckpt"
    fit_saved(toy_data, path, epochs=1)
    saved = path.read_bytes()
    other = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    assert other.stdout.readline() == "held\n"
    loss = CountingLoss()
    with pytest.raises(CheckpointError, match=re.escape(f"{path} is in use by another run (process {other.pid}): two "
                                                        "runs saving to one file would overwrite each other's epochs. "
                                                        "Wait for that run to end")):
        fit_saved(toy_data, path, epochs=3, loss=loss)
    other.communicate("")
    assert loss.calls == 0 and path.read_bytes() == saved
    assert len(fit_saved(toy_data, path, epochs=3)) == 3


HOLD = """
import sys
import helpers
with helpers.checkpoint.held(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_monitor_that_is_not_recorded_is_refused_before_any_work(toy_data):
    x, y = toy_data
    loss, model = CountingLoss(), make_mlp()
    with pytest.raises(ValueError, match=re.escape("Cannot monitor 'val_acc': each epoch records Accuracy, "
                                                   "loss, val_Accuracy, val_loss. Pass one of those as monitor=")):
        fit(model, TensorLoader(x, y, batch_size=4), TensorLoader(x, y, batch_size=4), loss,
            torch.optim.SGD(model.parameters(), lr=0.5), epochs=2, metrics=Accuracy(), progress=False, patience=1,
            monitor="val_acc")
    assert loss.calls == 0


@pytest.mark.parametrize("before, after", [(None, torch.float16), (torch.float16, None),
                                           (torch.float16, torch.bfloat16)])
def test_precision_may_change_on_resume(toy_data, tmp_path, before, after):
    path = tmp_path / "run.ckpt"
    fit_saved(toy_data, path, epochs=1, precision=before)
    history = fit_saved(toy_data, path, epochs=2, precision=after)
    assert len(history) == 2 and all(map(math.isfinite, history["loss"]))


def test_fit_checks_the_checkpoint_can_be_written_before_the_first_epoch(toy_data, tmp_path):
    (tmp_path / "notes.txt").write_text("a file, not a folder")
    loss = CountingLoss()
    x, y = toy_data
    model = make_mlp()
    with pytest.raises(CheckpointError, match=rf"Cannot write the checkpoint {tmp_path}/notes.txt/run.ckpt: .*"
                                              "a folder you can write to"):
        fit(model, TensorLoader(x, y, batch_size=4), TensorLoader(x, y, batch_size=4), loss,
            torch.optim.SGD(model.parameters(), lr=0.5), epochs=2, metrics=Accuracy(), progress=False,
            checkpoint=tmp_path / "notes.txt" / "run.ckpt")
    assert loss.calls == 0


class CountingLoss(nn.CrossEntropyLoss):
    """Cross-entropy that counts its calls."""

    calls = 0

    def forward(self, logits, targets):
        self.calls += 1
        return super().forward(logits, targets)


# Gradient accumulation: k batches per optimizer step equal one batch k times larger.

@pytest.mark.parametrize("batch_size, accumulate", [(2, 3), (4, 1), (1, 6)])
def test_accumulated_batches_equal_one_larger_batch_even_when_the_last_group_is_short(toy_data, batch_size,
                                                                                       accumulate):
    x, y = toy_data  # 10 samples: batches of 2 in groups of 3 give groups of 6 and 4 samples
    big, small = make_mlp(), make_mlp()
    scheduler_steps = []
    results = []
    for model, loader, k in ((big, TensorLoader(x, y, batch_size=batch_size * accumulate), 1),
                             (small, TensorLoader(x, y, batch_size=batch_size), accumulate)):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        results.append(train_one_epoch(model, loader, nn.CrossEntropyLoss(), optimizer, classification_metrics(),
                                       CPU, accumulate=k, batch_scheduler=scheduler))
        scheduler_steps.append(scheduler.last_epoch)
    assert results[0] == pytest.approx(results[1], rel=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(big.parameters(), small.parameters()))
    assert scheduler_steps[0] == scheduler_steps[1] == math.ceil(10 / (batch_size * accumulate))  # per step


def test_accumulation_that_averages_batches_equally_would_differ(toy_data):
    x, y = toy_data  # the groups hold 6 and 4 samples: equal weights per batch are wrong only in the last one
    model, naive = make_mlp(), make_mlp()
    optimizer = torch.optim.SGD(naive.parameters(), lr=0.5)
    for start in (0, 6):
        optimizer.zero_grad()
        for i in range(start, min(start + 6, 10), 2):
            (nn.functional.cross_entropy(naive(x[i:i + 2]), y[i:i + 2]) / 3).backward()
        optimizer.step()
    train_one_epoch(model, TensorLoader(x, y, batch_size=2), nn.CrossEntropyLoss(),
                    torch.optim.SGD(model.parameters(), lr=0.5), Accuracy(), CPU, accumulate=3)
    assert not all(torch.allclose(a, b, atol=1e-4) for a, b in zip(model.parameters(), naive.parameters()))


@pytest.mark.parametrize("accumulate", [0, 1.5, True])
def test_accumulate_must_be_a_whole_number_of_batches(toy_loader, accumulate):
    model = make_mlp()
    with pytest.raises(ValueError, match=rf"accumulate must be a whole number of batches.*got {accumulate!r}"):
        train_one_epoch(model, toy_loader, nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1),
                        Accuracy(), CPU, accumulate=accumulate)


@pytest.mark.parametrize("monitor, mode, shown", [("val_loss", "min", ["loss", "val_loss", "val_accuracy"]),
                                                  ("val_second", "max", ["loss", "val_loss", "val_second"])])
def test_the_progress_bar_shows_the_losses_and_one_metric(toy_data, monkeypatch, monitor, mode, shown):
    """Four or more figures squeeze the bar to a few pixels on a laptop screen."""
    postfixes = []

    class Bar(list):
        """A stand-in for tqdm that keeps what fit puts after the bar."""

        def __init__(self, iterable, **options) -> None:
            super().__init__(iterable)

        def set_postfix(self, figures: dict) -> None:
            postfixes.append(figures)

    monkeypatch.setattr(helpers.loop, "tqdm", Bar)
    x, y = toy_data
    model = make_mlp()
    history = fit(model, TensorLoader(x, y, batch_size=4), TensorLoader(x, y, batch_size=4), nn.CrossEntropyLoss(),
                  torch.optim.SGD(model.parameters(), lr=0.1), epochs=2, monitor=monitor, mode=mode, patience=5,
                  metrics=MetricCollection({"accuracy": Accuracy(), "second": Accuracy()}))
    assert [list(p) for p in postfixes] == [shown, shown]
    assert [{k: float(v) for k, v in p.items()} == pytest.approx({k: r[k] for k in shown}, abs=1e-4)
            for p, r in zip(postfixes, history.records)] == [True, True]


def test_predict_gives_probabilities_in_eval_mode_and_leaves_the_mode_alone(toy_data):
    x, _ = toy_data
    model = nn.Sequential(nn.Linear(x.shape[1], 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 3)).train()
    probabilities = helpers.predict(model, x)
    assert model.training and all(m.training for m in model.modules()), "the caller's train mode is kept"
    assert torch.equal(probabilities, helpers.predict(model, x)), "Dropout is off: the same answer every time"
    assert not probabilities.requires_grad and probabilities.shape == (len(x), 3)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(len(x)))
    with torch.no_grad():
        assert torch.allclose(probabilities, model.eval()(x).softmax(dim=1))
    assert torch.allclose(helpers.predict(model, x, batch_size=3), probabilities, atol=1e-6)


@pytest.mark.parametrize("inputs, batch_size, words", [
    (torch.zeros(0, 4), 8, "at least one input"), (torch.zeros(5, 4), 0, "batch_size=0"),
])
def test_predict_refuses_what_it_cannot_score(inputs, batch_size, words):
    with pytest.raises(ValueError, match=words):
        helpers.predict(nn.Linear(4, 3), inputs, batch_size=batch_size)


@pytest.mark.parametrize("model, shape", [(nn.Sequential(nn.Linear(4, 1), nn.Flatten(0)), r"\(5,\)"),
                                          (nn.Linear(4, 1), r"\(5, 1\)")])
def test_predict_needs_class_scores_and_offers_a_regression_its_values(model, shape):
    with pytest.raises(ValueError, match=rf"into probabilities; the model returned shape {shape}, not one score per "
                                         r"class. For a regression's values, or a binary classifier's logits \(then "
                                         r"apply .sigmoid\(\)\), pass probabilities=False."):
        helpers.predict(model, torch.zeros(5, 4))
    with torch.no_grad():
        assert torch.equal(helpers.predict(model, torch.ones(5, 4), probabilities=False), model(torch.ones(5, 4)))


def test_predict_refuses_a_model_without_parameters():
    with pytest.raises(ValueError, match="the model has no parameters"):
        helpers.predict(nn.Flatten(), torch.zeros(5, 4))


def test_a_model_that_returns_one_number_for_the_batch_is_refused(toy_loader):
    with pytest.raises(ValueError, match=r"The model returned 0 rows \(shape \(\)\) for a batch of 4 labels"):
        evaluate(nn.Sequential(nn.Linear(6, 1), Sum()), toy_loader, nn.CrossEntropyLoss(), Accuracy(), CPU)


class Sum(nn.Module):
    """The sum of its input: one number for a whole batch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum()


def test_predict_gives_each_token_its_class_probabilities():
    model = helpers.TokenTagger(8, 4).eval()
    tokens = helpers.pad_batch(helpers.running_sum(5, generator=torch.Generator().manual_seed(0)))[0]
    probabilities = helpers.predict(model, tokens, batch_size=2)
    assert probabilities.shape == (5, 4, tokens.shape[1])
    with torch.no_grad():
        assert torch.allclose(probabilities, model(tokens).softmax(dim=1), atol=1e-6)

