"""Plotting: learning curves and digits, with matplotlib."""

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from .loop import History


def plot_history(history: History, best: int | None = None) -> Figure:
    """One panel per quantity (loss, then each metric): training solid with dots, validation dashed with squares
    (told apart without colour), and a dotted line at epoch `best` when given (early stopping's best epoch)."""
    names = [key for key in history.records[0] if not key.startswith("val_")]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.2), squeeze=False)
    epochs = range(1, len(history) + 1)
    for ax, name in zip(axes[0], names):
        ax.plot(epochs, history[name], marker="o", label="training")
        if f"val_{name}" in history.records[0]:
            ax.plot(epochs, history[f"val_{name}"], marker="s", linestyle="--", label="validation")
        if best is not None:
            ax.axvline(best, color="0.4", linestyle=":", label=f"best epoch ({best})")
        ax.set(title=name, xlabel="epoch")
        ax.legend()
    fig.tight_layout()
    return fig


def show_digits(images: torch.Tensor, labels: torch.Tensor, predictions: torch.Tensor | None = None,
                ncols: int = 8) -> Figure:
    """A grid of digits titled with their label (and the prediction, when given)."""
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i].detach().cpu().squeeze().numpy(), cmap="gray_r")
            title = f"label {int(labels[i])}" + (f"\npred {int(predictions[i])}" if predictions is not None else "")
            ax.set_title(title, fontsize=8)
    fig.tight_layout()
    return fig
