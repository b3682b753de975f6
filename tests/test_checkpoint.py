import copy
import errno
import os
import pickle
import random
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

import helpers.checkpoint
import helpers.files
from conftest import make_mlp
from helpers import CheckpointError, load_checkpoint, save_checkpoint

RUN = """
import sys, torch, helpers
from torch import nn
epochs, checkpoint, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
generator = helpers.set_seed(0)
train, val = helpers.mnist_loaders(100, generator=generator, device=torch.device("cpu"), val_size=500)
model = helpers.mnist_mlp(32, dropout=0.2)
optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
history = helpers.fit(model, train, val, nn.CrossEntropyLoss(), optimizer, epochs=epochs, progress=False,
                      metrics=helpers.classification_metrics(), scheduler=scheduler, patience=10,
                      checkpoint=None if checkpoint == "-" else checkpoint)
torch.save({"history": history.records, "model": model.state_dict()}, out)
"""


def run_in_new_process(tmp_path, epochs: int, checkpoint: str, out: str) -> dict:
    script = tmp_path / "run.py"
    script.write_text(RUN)
    subprocess.run([sys.executable, str(script), str(epochs), checkpoint, str(tmp_path / out)], check=True,
                   env={**os.environ, "PYTHONHASHSEED": "0"})
    return torch.load(tmp_path / out, weights_only=True)


def test_resume_in_a_new_process_is_bit_identical(tmp_path):
    straight = run_in_new_process(tmp_path, 4, "-", "straight.pt")
    checkpoint = str(tmp_path / "run.ckpt")
    first_half = run_in_new_process(tmp_path, 2, checkpoint, "half.pt")
    resumed = run_in_new_process(tmp_path, 4, checkpoint, "resumed.pt")
    assert len(first_half["history"]) == 2 and len(resumed["history"]) == 4
    assert resumed["history"] == straight["history"]
    assert [round(r["lr"], 6) for r in resumed["history"]] == [0.05, 0.035, 0.0245, 0.01715]  # the scheduler resumed
    assert all(torch.equal(straight["model"][k], v) for k, v in resumed["model"].items())


def training_state(seed: int = 0):
    model = make_mlp(seed, dropout=0.2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 6)).sum().backward()
    optimizer.step()  # momentum buffers exist now
    return model, optimizer


def test_round_trip_restores_weights_optimizer_scheduler_and_random_state(tmp_path):
    model, optimizer = training_state()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    scheduler.step()
    generator = torch.Generator().manual_seed(3)
    random.seed(1)
    torch.manual_seed(1)
    save_checkpoint(tmp_path / "c.ckpt", model=model, optimizer=optimizer, epoch=7, history=[{"loss": 1.0}],
                    generator=generator, scheduler=scheduler)
    expected = (random.random(), torch.rand(2), torch.rand(2, generator=generator))

    other, other_optimizer = training_state(seed=1)
    other_scheduler = torch.optim.lr_scheduler.StepLR(other_optimizer, step_size=1, gamma=0.5)
    other_generator = torch.Generator()
    resumed = load_checkpoint(tmp_path / "c.ckpt", model=other, optimizer=other_optimizer,
                              generator=other_generator, scheduler=other_scheduler)
    assert resumed == {"epoch": 7, "history": [{"loss": 1.0}], "best": {}}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), other.state_dict().values()))
    assert torch.equal(optimizer.state_dict()["state"][0]["momentum_buffer"],
                       other_optimizer.state_dict()["state"][0]["momentum_buffer"])
    assert other_scheduler.get_last_lr() == scheduler.get_last_lr()
    got = (random.random(), torch.rand(2), torch.rand(2, generator=other_generator))
    assert got[0] == expected[0] and torch.equal(got[1], expected[1]) and torch.equal(got[2], expected[2])


@pytest.mark.parametrize("failure, fix", [
    (OSError(errno.ENOSPC, "No space left on device"), "free some space on that disk, or point checkpoint= at a file "
                                                       "on another disk"),
    (PermissionError(errno.EACCES, "Permission denied"), "make the folder writable again, or point checkpoint= at"),
])
def test_a_save_that_fails_midway_leaves_the_previous_checkpoint(tmp_path, monkeypatch, failure, fix):
    model, optimizer = training_state()
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=1, history=[])
    before = path.read_bytes()

    def fail(handle):  # the bytes are in the temporary file; making them durable fails, as a full disk would
        assert os.fstat(handle).st_size > 0
        raise failure

    monkeypatch.setattr(helpers.files.os, "fsync", fail)
    with pytest.raises(CheckpointError, match=rf"^Cannot save epoch 2 to {path}: {failure.strerror}\. To go on, "
                                              rf"{fix}.*; {path} still holds the last epoch saved\.$"):
        save_checkpoint(path, model=model, optimizer=optimizer, epoch=2, history=[])
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.ckpt"], "no temporary file is left behind"


def test_truncated_checkpoint(tmp_path):
    model, optimizer = training_state()
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=1, history=[])
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CheckpointError, match=rf"{path} cannot be read as a checkpoint.*Delete it"):
        load_checkpoint(path, model=model, optimizer=optimizer)


@pytest.mark.parametrize("damage", ["empty", "random bytes", "text", "cut at every 997th byte"])
def test_every_unreadable_file_is_a_checkpoint_error_naming_it(tmp_path, damage):
    model, optimizer = training_state()
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=1, history=[])
    whole = path.read_bytes()
    damaged = {"empty": [b""], "random bytes": [random.Random(0).randbytes(5000)], "text": [b"epoch = 3\n"],
               "cut at every 997th byte": [whole[:n] for n in range(1, len(whole), 997)]}[damage]
    for content in damaged:
        path.write_bytes(content)
        with pytest.raises(CheckpointError, match=rf"{path} cannot be read as a checkpoint"):
            load_checkpoint(path, model=model, optimizer=optimizer)


def test_a_folder_is_not_a_checkpoint(tmp_path):
    model, optimizer = training_state()
    with pytest.raises(CheckpointError, match=rf"{tmp_path} is a folder, not a checkpoint file"):
        load_checkpoint(tmp_path, model=model, optimizer=optimizer)


def test_a_checkpoint_without_the_keys_every_save_writes_is_refused(tmp_path):
    model, optimizer = training_state()
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=1, history=[])
    state = torch.load(path, weights_only=True)
    del state["random_ranks"], state["model"]
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=rf"^{path} claims to be a checkpoint but lacks model, random_ranks, "
                                              "which every save writes"):
        load_checkpoint(path, model=model, optimizer=optimizer)


def test_foreign_file(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(make_mlp().state_dict(), path)
    model, optimizer = training_state()
    with pytest.raises(CheckpointError, match=rf"{path} was not written by helpers.save_checkpoint"):
        load_checkpoint(path, model=model, optimizer=optimizer)


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    pickled = ("raw.ckpt", lambda obj, path: path.write_bytes(pickle.dumps(obj)))
    for name, write in (pickled, ("saved.ckpt", torch.save)):
        write({"format": helpers.checkpoint.FORMAT, "x": Payload()}, tmp_path / name)
        model, optimizer = training_state()
        with pytest.raises(CheckpointError, match="cannot be read as a checkpoint") as refused:
            load_checkpoint(tmp_path / name, model=model, optimizer=optimizer)
        assert not marker.exists(), f"loading {name} ran the code it names"
        assert "never load it with weights_only=False unless you wrote it yourself" in str(refused.value)
        assert "will likely succeed" not in str(refused.value) and "\n" not in str(refused.value)


def test_a_link_to_a_text_file_is_refused_in_the_course_words_and_left_alone(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("epoch = 3\n")
    (tmp_path / "run.ckpt").symlink_to(text)
    model, optimizer = training_state()
    with pytest.raises(CheckpointError, match=rf"{tmp_path / 'run.ckpt'} cannot be read as a checkpoint") as refused:
        load_checkpoint(tmp_path / "run.ckpt", model=model, optimizer=optimizer)
    assert "weights_only=False" not in str(refused.value).replace("never load it with weights_only=False", "")
    assert text.read_text() == "epoch = 3\n"


def test_mismatched_model_or_optimizer(tmp_path):
    model, optimizer = training_state()
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=1, history=[])
    wider = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 3))
    with pytest.raises(CheckpointError, match=rf"{path} does not fit this model: 0.weight is \(16, 6\) saved, "
                                              r"\(32, 6\) here; 0.bias is \(16,\) saved, \(32,\) here"):
        load_checkpoint(path, model=wider, optimizer=torch.optim.SGD(wider.parameters(), lr=0.1))
    other = make_mlp(batchnorm=True)
    with pytest.raises(CheckpointError, match=r"does not fit this model: this model has 1.bias, 1.num_batches_"
                                              r"tracked, 1.running_mean and 2 more, the checkpoint not\. "):
        load_checkpoint(path, model=other, optimizer=torch.optim.SGD(other.parameters(), lr=0.1))
    with pytest.raises(CheckpointError, match="saved with a SGD optimizer, but this run uses Adam"):
        load_checkpoint(path, model=model, optimizer=torch.optim.Adam(model.parameters()))
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1)
    with pytest.raises(CheckpointError, match="saved without a scheduler, and this run has a StepLR"):
        load_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler)
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=1, history=[], scheduler=scheduler)
    other = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    with pytest.raises(CheckpointError, match="saved with a StepLR scheduler, and this run has a ExponentialLR"):
        load_checkpoint(path, model=model, optimizer=optimizer, scheduler=other)
    with pytest.raises(CheckpointError, match="saved with a StepLR scheduler, and this run has none"):
        load_checkpoint(path, model=model, optimizer=optimizer)


def test_a_load_that_fails_changes_nothing(tmp_path):
    model, optimizer = training_state()
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=1, history=[])
    other, _ = training_state(seed=1)
    split = torch.optim.SGD([{"params": other[0].parameters()}, {"params": other[3].parameters()}], lr=0.1)
    weights, optimizer_state = copy.deepcopy(other.state_dict()), copy.deepcopy(split.state_dict())
    random_before = torch.get_rng_state()
    with pytest.raises(CheckpointError, match=r"does not fit this optimizer: its parameter groups hold \[4\] "
                                              r"tensors, this optimizer's \[2, 2\]"):
        load_checkpoint(path, model=other, optimizer=split)
    assert all(torch.equal(weights[k], v) for k, v in other.state_dict().items()), "the model was changed"
    assert split.state_dict() == optimizer_state and torch.equal(torch.get_rng_state(), random_before)


def test_parts_saved_empty_or_disabled_need_not_be_passed(tmp_path):
    model, optimizer = training_state()
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=1, history=[],
                    scaler=torch.amp.GradScaler("cpu", enabled=False))  # what fit saves without float16
    assert load_checkpoint(path, model=model, optimizer=optimizer)["epoch"] == 1
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=2, history=[], scaler=torch.amp.GradScaler("cpu"))
    with pytest.raises(CheckpointError, match="saved with float16 loss scaling.*pass scaler="):
        load_checkpoint(path, model=model, optimizer=optimizer)


def test_a_changed_learning_rate_is_named_and_the_checkpoint_wins(tmp_path):
    model, optimizer = training_state()  # SGD, lr=0.1, momentum=0.9
    path = tmp_path / "c.ckpt"
    save_checkpoint(path, model=model, optimizer=optimizer, epoch=1, history=[])
    slower = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    with pytest.warns(UserWarning, match=rf"{path} holds the optimizer's lr=0.1, not the lr=0.05 given; the "
                                         "checkpoint's values win"):
        load_checkpoint(path, model=model, optimizer=slower)
    assert slower.param_groups[0]["lr"] == 0.1


def test_a_scheduled_learning_rate_is_not_a_change(tmp_path):
    model, optimizer = training_state()
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    optimizer.step()
    scheduler.step()  # lr 0.05 now; a new run builds the optimizer with 0.1 again
    save_checkpoint(tmp_path / "c.ckpt", model=model, optimizer=optimizer, epoch=1, history=[], scheduler=scheduler)
    again = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_checkpoint(tmp_path / "c.ckpt", model=model, optimizer=again,
                        scheduler=torch.optim.lr_scheduler.StepLR(again, step_size=1, gamma=0.5))
    assert again.param_groups[0]["lr"] == 0.05


def test_a_run_removes_what_killed_saves_of_its_checkpoint_left_and_nothing_else(tmp_path):
    crashed, others = [".c.ckpt.k2j4x9ab.tmp", ".c.ckpt.0a9_b123.tmp"], [".c.ckpt.best.k2j4x9ab.tmp", "c.ckpt.notes"]
    for name in crashed + others:
        (tmp_path / name).write_bytes(b"half a checkpoint")
    with helpers.checkpoint.held(tmp_path / "c.ckpt"):
        assert sorted(os.listdir(tmp_path)) == sorted([".c.ckpt.lock", *others])
    assert sorted(os.listdir(tmp_path)) == sorted(others)


def test_numpy_state_is_not_saved(tmp_path):
    model, optimizer = training_state()
    save_checkpoint(tmp_path / "c.ckpt", model=model, optimizer=optimizer, epoch=1, history=[])
    state = torch.load(tmp_path / "c.ckpt", weights_only=True)
    assert set(state["random"]) == {"python", "torch", "cuda", "mps", "loader"}


def test_an_apple_gpu_random_state_is_saved_and_restored(tmp_path, monkeypatch):
    """On a Mac, MPS draws (dropout masks on the GPU) have their own generator: a resume must restore it too."""
    saved_state, restored = torch.tensor([7, 8, 9], dtype=torch.uint8), []
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(torch.mps, "get_rng_state", lambda: saved_state.clone())
    monkeypatch.setattr(torch.mps, "set_rng_state", restored.append)
    model, optimizer = training_state()
    save_checkpoint(tmp_path / "c.ckpt", model=model, optimizer=optimizer, epoch=1, history=[])
    assert torch.equal(torch.load(tmp_path / "c.ckpt", weights_only=True)["random"]["mps"], saved_state)
    load_checkpoint(tmp_path / "c.ckpt", model=model, optimizer=optimizer)
    assert len(restored) == 1 and torch.equal(restored[0], saved_state)


def test_the_gradient_scaler_state_comes_back(tmp_path):
    model = make_mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    saved = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=7)
    save_checkpoint(tmp_path / "run.ckpt", model=model, optimizer=optimizer, epoch=1, history=[], scaler=saved)
    fresh = torch.amp.GradScaler("cpu")  # 65536 and 2000 by default
    load_checkpoint(tmp_path / "run.ckpt", model=model, optimizer=optimizer, scaler=fresh)
    assert fresh.get_scale() == 1024.0 and fresh.get_growth_interval() == 7


@pytest.mark.parametrize("folder", [".", ""])
def test_a_folder_is_refused_as_the_checkpoint_to_write(tmp_path, monkeypatch, folder):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match=r"^checkpoint='\.' is a folder: point checkpoint= at a file in it, "
                                              r"e\.g\. run\.ckpt\.$"):
        with helpers.checkpoint.held(folder):
            pass
    assert os.listdir(tmp_path) == []


def test_a_checkpoint_that_cannot_be_tidied_is_refused_and_let_go(tmp_path, monkeypatch):
    def fails(path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(helpers.files, "leftovers", fails)
    with pytest.raises(CheckpointError, match="Cannot write the checkpoint .*c.ckpt: Permission denied"):
        with helpers.checkpoint.held(tmp_path / "c.ckpt"):
            pass
    monkeypatch.undo()
    with helpers.checkpoint.held(tmp_path / "c.ckpt"):  # the lock taken before the error was given back
        pass
