"""Models: the small MNIST classifier the notebooks train."""

from torch import nn


def mnist_mlp(hidden: int = 128, *, dropout: float = 0.0, batchnorm: bool = False) -> nn.Sequential:
    """Flatten, Linear(784, hidden), optional BatchNorm1d, ReLU, optional Dropout, Linear(hidden, 10)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, hidden),
        *([nn.BatchNorm1d(hidden)] if batchnorm else []),
        nn.ReLU(),
        *([nn.Dropout(dropout)] if dropout else []),
        nn.Linear(hidden, 10),
    )
