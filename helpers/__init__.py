"""The tested training loop behind the course: seeding, devices, data, loop, counting, metrics, plots, progress."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .counting import counted_targets
from .data import (DATA_DIR, PAD, TensorLoader, as_tensors, mnist, mnist_loaders, mnist_transform, noisy_wave,
                   pad_batch, running_sum, train_val_split)
from .devices import DEVICE_ENV, HostReads, device_name, get_default_device
from .environment import check_environment
from .history import History
from .loop import evaluate, fit, predict, train_one_epoch
from .metrics import Accuracy, classification_metrics, regression_metrics, token_metrics
from .models import TokenTagger, mnist_cnn, mnist_mlp, regression_mlp
from .plotting import plot_history, show_digits
from .progress import progress
from .seeding import set_seed

__all__ = [
    "Accuracy", "CheckpointError", "DATA_DIR", "DEVICE_ENV", "History", "HostReads", "PAD", "TensorLoader",
    "TokenTagger", "as_tensors", "check_environment", "classification_metrics", "counted_targets", "device_name",
    "evaluate", "fit", "get_default_device", "load_checkpoint", "mnist", "mnist_cnn", "mnist_loaders", "mnist_mlp",
    "mnist_transform", "noisy_wave", "pad_batch", "plot_history", "predict", "progress", "regression_metrics",
    "regression_mlp", "running_sum", "save_checkpoint", "set_seed", "show_digits", "token_metrics",
    "train_one_epoch", "train_val_split",
]
