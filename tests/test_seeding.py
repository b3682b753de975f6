import os
import random

import numpy as np
import pytest
import torch
from torch import nn

from helpers import classification_metrics, fit, mnist_loaders, set_seed


def draws() -> tuple:
    return random.random(), float(np.random.rand()), torch.rand(3).tolist()


def test_same_seed_same_draws_from_python_numpy_and_torch():
    set_seed(7)
    first = draws()
    set_seed(7)
    assert draws() == first
    set_seed(8)
    assert draws() != first


def test_returned_generator_is_seeded_and_independent_of_the_global_one():
    a = set_seed(3)
    torch.rand(100)  # global draws do not touch the returned generator
    b = torch.Generator().manual_seed(3)
    assert torch.equal(torch.rand(5, generator=a), torch.rand(5, generator=b))


def test_deterministic_flags(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    set_seed(0)
    assert torch.are_deterministic_algorithms_enabled()
    assert torch.is_deterministic_algorithms_warn_only_enabled()
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    set_seed(0, deterministic=False, benchmark=True)
    assert not torch.are_deterministic_algorithms_enabled()
    assert not torch.backends.cudnn.deterministic and torch.backends.cudnn.benchmark
    set_seed(0)


def short_run(seed: int) -> tuple[list[dict[str, float]], list[torch.Tensor]]:
    generator = set_seed(seed)
    train_loader, val_loader = mnist_loaders(100, generator=generator, device=torch.device("cpu"))
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, epochs=2,
                  metrics=classification_metrics(), progress=False)
    return history.records, [p.detach().clone() for p in model.parameters()]


def test_two_runs_with_the_same_seed_are_bit_identical():
    records_a, params_a = short_run(11)
    torch.rand(1000)  # unrelated random calls between the runs change nothing
    records_b, params_b = short_run(11)
    assert records_a == records_b
    assert all(torch.equal(a, b) for a, b in zip(params_a, params_b))
    records_c, _ = short_run(12)
    assert records_c != records_a


@pytest.mark.parametrize("seed, error, words", [
    (-1, ValueError, "between 0 and 2\\*\\*32 - 1"), (2**32, ValueError, "got 4294967296"),
    ("42", TypeError, "an integer such as 42, got str '42'"), (True, TypeError, "got bool True"),
    (1.0, TypeError, "got float"),
])
def test_bad_seeds_are_refused_before_anything_is_seeded(seed, error, words):
    random.seed(5)
    expected = random.random()
    random.seed(5)
    with pytest.raises(error, match=words):
        set_seed(seed)
    assert random.random() == expected  # Python's generator was left alone


def test_the_largest_numpy_seed_is_accepted():
    set_seed(2**32 - 1)
    set_seed(np.int64(3))
