import hashlib
from collections import Counter

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from helpers import (DATA_DIR, PAD, TensorLoader, as_tensors, mnist, mnist_loaders, noisy_wave, pad_batch, running_sum,
                     train_val_split)
from helpers.data import CHECKSUMS


def test_bundled_files_match_their_checksums():
    raw = DATA_DIR / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(CHECKSUMS)
    for name, digest in CHECKSUMS.items():
        assert hashlib.sha256((raw / name).read_bytes()).hexdigest() == digest, name


def copy_of_the_data(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in CHECKSUMS:
        (raw / name).write_bytes((DATA_DIR / "MNIST" / "raw" / name).read_bytes())
    return raw


@pytest.mark.parametrize("damage", [
    lambda data: data[:1000],  # truncated
    lambda data: b"",  # empty
    lambda data: b"\0\0\0\0" + data[4:],  # not MNIST's magic number
    lambda data: data[:-784] + bytes(reversed(data[-784:])),  # the last image's pixels changed
])
def test_a_damaged_bundled_file_is_named_with_its_fix(tmp_path, monkeypatch, damage):
    raw = copy_of_the_data(tmp_path)
    images = raw / "train-images-idx3-ubyte"
    images.write_bytes(damage(images.read_bytes()))
    monkeypatch.setattr("helpers.data.DATA_DIR", tmp_path)
    with pytest.raises(ValueError, match=rf"^{images} is not the file the course ships \(its checksum differs: "
                                         r"damaged, truncated or changed\)\. Restore it with `git checkout -- data`"):
        mnist(train=True)
    assert len(mnist(train=False)) == 1000  # the other split's files are whole


def test_rewritten_labels_are_refused(tmp_path, monkeypatch):
    raw = copy_of_the_data(tmp_path)
    labels = raw / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:8] + bytes(1000))  # every label 0
    monkeypatch.setattr("helpers.data.DATA_DIR", tmp_path)
    with pytest.raises(ValueError, match=rf"^{labels} is not the file the course ships"):
        mnist(train=False)


def test_damaged_files_elsewhere_say_how_to_fetch_them_again(tmp_path):
    raw = copy_of_the_data(tmp_path)
    (raw / "train-images-idx3-ubyte").write_bytes(b"")
    with pytest.raises(ValueError, match=rf"^The MNIST files in {raw} cannot be read \(.*\): delete them and pass "
                                         "download=True to fetch them again"):
        mnist(train=True, root=tmp_path)


@pytest.mark.parametrize("train, per_class", [(True, 400), (False, 100)])
def test_subset_is_class_balanced_and_shuffled(train, per_class):
    dataset = mnist(train=train)
    assert len(dataset) == 10 * per_class
    assert Counter(dataset.targets.tolist()) == {digit: per_class for digit in range(10)}
    first = dataset.targets[: 10 * per_class // 10]
    assert len(first.unique()) == 10  # not sorted by class
    image, label = dataset[0]
    assert image.shape == (1, 28, 28) and image.dtype == torch.float32 and isinstance(label, int)


def test_missing_files_get_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="git checkout -- data"):
        mnist(root=tmp_path)


def test_split_ignores_other_random_calls():
    dataset = TensorDataset(torch.arange(100))
    first_train, first_val = train_val_split(dataset, 20, torch.Generator().manual_seed(5))
    torch.manual_seed(0)
    torch.nn.Linear(100, 100)  # building a model draws from the global generator
    second_train, second_val = train_val_split(dataset, 20, torch.Generator().manual_seed(5))
    assert first_val.indices == second_val.indices and first_train.indices == second_train.indices
    assert len(first_val) == 20 and sorted(first_train.indices + first_val.indices) == list(range(100))
    assert train_val_split(dataset, 20, torch.Generator().manual_seed(6))[1].indices != first_val.indices


@pytest.mark.parametrize("val_size", [0, 100, -1])
def test_split_rejects_impossible_sizes(val_size):
    with pytest.raises(ValueError, match="val_size must be between 1 and 99"):
        train_val_split(TensorDataset(torch.arange(100)), val_size, torch.Generator())


def test_tensors_equal_the_per_item_transform():
    _, val = train_val_split(mnist(), 50, torch.Generator().manual_seed(0))
    images, labels = as_tensors(val)
    assert type(images) is torch.Tensor and images.shape == (50, 1, 28, 28)
    assert all(t.device.type == "meta" for t in as_tensors(val, "meta"))  # and on the device asked for
    for i in range(50):
        image, label = val[i]
        assert torch.equal(images[i], image) and labels[i] == label


def batches(loader) -> list[tuple[torch.Tensor, ...]]:
    return [tuple(batch) for batch in loader]


@pytest.mark.parametrize("shuffle", [True, False])
def test_tensor_loader_draws_what_a_dataloader_draws(shuffle):
    x, y = torch.arange(23.0).unsqueeze(1), torch.arange(23)
    ours = TensorLoader(x, y, batch_size=5, shuffle=shuffle, generator=torch.Generator().manual_seed(1))
    theirs = DataLoader(TensorDataset(x, y), batch_size=5, shuffle=shuffle, generator=torch.Generator().manual_seed(1))
    for _ in range(2):  # two epochs: the generator moves on identically
        a, b = batches(ours), batches(theirs)
        assert len(a) == len(b) == len(ours) == 5
        assert all(torch.equal(u, v) for pa, pb in zip(a, b) for u, v in zip(pa, pb))


def test_tensor_loader_without_generator_uses_the_global_one_like_a_dataloader():
    x = torch.arange(12.0)
    torch.manual_seed(3)
    ours = [b[0].tolist() for b in TensorLoader(x, batch_size=4, shuffle=True)]
    after_ours = torch.rand(1)
    torch.manual_seed(3)
    theirs = [b[0].tolist() for b in DataLoader(TensorDataset(x), batch_size=4, shuffle=True)]
    assert ours == theirs and torch.equal(after_ours, torch.rand(1))


def test_tensor_loader_batches_keep_the_layout_of_their_tensor():
    images = torch.randn(6, 3, 2, 2).to(memory_format=torch.channels_last)
    labels = torch.arange(12)[::2]  # 0, 2, ..., 10: a view of every other element, not contiguous
    loader = TensorLoader(images, labels, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0))
    x, y = next(iter(loader))
    assert x.is_contiguous(memory_format=torch.channels_last) and torch.equal(x, images[y // 2])


def test_tensor_loader_drop_last_and_errors():
    loader = TensorLoader(torch.arange(10), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [len(b[0]) for b in loader] == [4, 4]
    with pytest.raises(ValueError, match="one length"):
        TensorLoader(torch.arange(3), torch.arange(4))
    with pytest.raises(ValueError, match="batch_size must be a whole number of samples, 1 or more; got 0"):
        TensorLoader(torch.arange(3), batch_size=0)
    with pytest.raises(ValueError, match="batch_size must be a whole number of samples, 1 or more; got 2.5"):
        TensorLoader(torch.arange(3), batch_size=2.5)


def test_in_memory_and_dataloader_paths_hold_the_same_split():
    fast = mnist_loaders(500, generator=torch.Generator().manual_seed(0), device=torch.device("cpu"))
    slow = mnist_loaders(500, generator=torch.Generator().manual_seed(0), in_memory=False)
    for fast_loader, slow_loader in zip(fast, slow):
        x_fast, y_fast = fast_loader.dataset.tensors
        x_slow, y_slow = as_tensors(slow_loader.dataset)
        assert len(x_fast) == len(slow_loader.dataset)
        assert torch.equal(y_fast, y_slow) and torch.equal(x_fast, x_slow)
    assert len(fast[0].dataset) == 3000 and len(fast[1].dataset) == 1000


def test_running_sum_targets_are_the_sum_so_far_and_pad_batch_pads_both_to_the_longest():
    pairs = running_sum(50, generator=torch.Generator().manual_seed(0), lengths=(1, 6))
    assert {len(tokens) for tokens, _ in pairs} == {1, 2, 3, 4, 5, 6}
    tokens, targets = pairs[0]
    assert targets.tolist() == [sum(tokens[:i + 1].tolist()) % 3 + 1 for i in range(len(tokens))]
    assert all(PAD not in t.tolist() and PAD not in y.tolist() for t, y in pairs)
    padded_tokens, padded_targets = pad_batch(pairs[:4])
    longest = max(len(t) for t, _ in pairs[:4])
    assert padded_tokens.shape == padded_targets.shape == (4, longest)
    assert [(row != PAD).sum().item() for row in padded_targets] == [len(t) for t, _ in pairs[:4]]


def test_noisy_wave_is_the_curve_plus_noise_of_the_given_size():
    x, y = noisy_wave(20_000, generator=torch.Generator().manual_seed(0), noise=0.1)
    assert x.shape == y.shape == (20_000, 1) and -3 <= x.min() and x.max() <= 3
    noise = y - (torch.sin(2 * x) + x / 3)
    assert noise.std().item() == pytest.approx(0.1, rel=0.02) and abs(noise.mean().item()) < 0.003
