"""The tested training loop behind the course: seeding, devices, data, loop, metrics, plots."""

from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .data import DATA_DIR, TensorLoader, as_tensors, mnist, mnist_loaders, mnist_transform, train_val_split
from .devices import DEVICE_ENV, HostReads, device_name, get_default_device
from .environment import check_environment
from .history import History
from .loop import evaluate, fit, predict, train_one_epoch
from .metrics import Accuracy, classification_metrics
from .models import mnist_mlp
from .plotting import plot_history, show_digits
from .seeding import set_seed

__all__ = [
    "Accuracy", "CheckpointError", "DATA_DIR", "DEVICE_ENV", "History", "HostReads", "TensorLoader", "as_tensors",
    "check_environment", "classification_metrics", "device_name", "evaluate", "fit", "get_default_device",
    "load_checkpoint", "mnist", "mnist_loaders", "mnist_mlp", "mnist_transform", "plot_history",
    "predict", "save_checkpoint", "set_seed", "show_digits", "train_one_epoch", "train_val_split",
]
