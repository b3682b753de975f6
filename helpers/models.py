"""Models: the small networks the notebooks train (an MLP and a CNN for MNIST, a regression MLP, a GRU tagger)."""

import torch
from torch import nn

from .data import PAD


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


def mnist_cnn(channels: int = 8) -> nn.Sequential:
    """Two 3x3 convolutions (`channels`, then twice as many), each with ReLU and 2x2 max pooling, then Linear to 10."""
    return nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(channels, 2 * channels, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * channels * 7 * 7, 10),
    )


def regression_mlp(hidden: int = 32) -> nn.Sequential:
    """One input to one output through two hidden layers of `hidden` units: outputs of shape (N, 1)."""
    return nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))


class TokenTagger(nn.Module):
    """A class for every token: an embedding, a GRU reading left to right, and a linear layer scoring each token."""

    def __init__(self, tokens: int, classes: int, hidden: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(tokens + 1, hidden, padding_idx=PAD)
        self.gru = nn.GRU(hidden, hidden, batch_first=True)
        self.score = nn.Linear(hidden, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Scores of shape (N, classes, T) for tokens (N, T): the class axis second, where CrossEntropyLoss wants it."""
        states, _ = self.gru(self.embed(tokens))
        return self.score(states).permute(0, 2, 1)
