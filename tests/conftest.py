"""Fixtures for the unit tests: tiny models and data that run in milliseconds on a CPU."""

import matplotlib
import pytest
import torch
from torch import nn

from helpers import TensorLoader

matplotlib.use("Agg")


@pytest.fixture
def toy_data() -> tuple[torch.Tensor, torch.Tensor]:
    """10 samples of 6 features in 3 classes: batches of 4 leave an uneven last batch of 2."""
    generator = torch.Generator().manual_seed(0)
    return torch.randn(10, 6, generator=generator), torch.randint(0, 3, (10,), generator=generator)


@pytest.fixture
def toy_loader(toy_data) -> TensorLoader:
    return TensorLoader(*toy_data, batch_size=4)


def make_mlp(seed: int = 0, dropout: float = 0.0, batchnorm: bool = False) -> nn.Module:
    """A small classifier for 6 features and 3 classes, built from a fixed seed."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        layers = [nn.Linear(6, 16), *([nn.BatchNorm1d(16)] if batchnorm else []), nn.ReLU(),
                  *([nn.Dropout(dropout)] if dropout else []), nn.Linear(16, 3)]
        return nn.Sequential(*layers)
