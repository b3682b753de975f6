"""Train the course MLP on the bundled MNIST images from the command line, in one process or many.

    python -m helpers.train --epochs 3
    torchrun --standalone --nproc-per-node 2 -m helpers.train --epochs 3 --batch-size 32
"""

import argparse
import json
import math
import os
from pathlib import Path

import torch
from torch import nn

from . import distributed
from .checkpoint import CheckpointError, check_settings, read_checkpoint
from .data import mnist, mnist_loaders
from .devices import checked_device, get_default_device
from .files import write_atomically
from .history import History
from .loop import fit
from .metrics import classification_metrics
from .models import mnist_mlp
from .seeding import set_seed


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options; a bad value exits with a one-line error."""
    parser = argparse.ArgumentParser(prog="python -m helpers.train", description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="per process (default 64)")
    parser.add_argument("--lr", type=float, default=0.05, help="SGD's learning rate, momentum 0.9 (default 0.05)")
    parser.add_argument("--seed", type=int, default=0, help="the split, the initial weights and the order")
    parser.add_argument("--val-size", type=int, default=1000, help="validation images of the 4,000 (default 1000)")
    parser.add_argument("--accumulate", type=int, default=1, help="batches per optimizer step (default 1)")
    parser.add_argument("--checkpoint", type=Path, help="save after every epoch; resume when the file exists")
    parser.add_argument("--history-json", type=Path, help="write the per-epoch records here as a JSON list")
    parser.add_argument("--device", help="cpu, cuda, mps... (default: the best available)")
    args = parser.parse_args(argv)
    for name in ("epochs", "batch_size", "accumulate", "val_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    try:
        images = len(mnist(train=True))
    except (FileNotFoundError, ValueError) as error:  # the data files, not a flag: no usage lines
        raise SystemExit(f"{parser.prog}: error: {error}") from None
    if args.val_size >= images:
        parser.error(f"--val-size must leave images to train on: below {images}, got {args.val_size}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        parser.error(f"--lr must be a positive number, got {args.lr}")
    for flag, path in (("--checkpoint", args.checkpoint), ("--history-json", args.history_json)):
        if path is not None and (problem := unwritable(path)):
            parser.error(f"{flag} {path}: {problem}")
    if args.checkpoint is not None and args.history_json is not None and \
            args.checkpoint.resolve() == args.history_json.resolve():
        parser.error(f"--checkpoint and --history-json name the same file, {args.checkpoint}: the history would "
                     "overwrite the checkpoint. Give the history a file of its own.")
    if not 0 <= args.seed <= 2**32 - 1:
        parser.error(f"--seed must be between 0 and 2**32 - 1, got {args.seed}")
    if args.device is not None:
        try:
            args.device = checked_device(args.device, "--device")
        except ValueError as error:
            parser.error(str(error))
    return args


def unwritable(path: Path) -> str | None:
    """Why a file cannot be written at `path` (its folder made if missing), or None."""
    if path.is_dir():
        return "is a folder; name a file"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        return f"its folder cannot be made ({error.strerror or error}); name a file in a folder you can write"
    return None if os.access(path.parent, os.W_OK) else "its folder is not writable; name a file you can write"


def main(argv: list[str] | None = None) -> None:
    """Train with the parsed options, print the history and write it as JSON if asked; errors in one line."""
    args = parse(argv)
    first = os.environ.get("RANK", "0") == "0"  # torchrun's main process, known outside its process group too
    try:
        records = finished(args)
        if records is None:
            records = train(args)
        elif first:
            print(f"{args.checkpoint} already holds the {args.epochs} epoch{'s' * (args.epochs != 1)} asked for: "
                  "nothing to train.")
    except (CheckpointError, FloatingPointError, FileNotFoundError, ValueError) as error:
        raise SystemExit(f"python -m helpers.train: error: {error}" if first else 1) from None
    if first:
        print(History(records))
        if args.history_json is not None:
            write_history(args, records)


def write_history(args: argparse.Namespace, records: list[dict[str, float]]) -> None:
    """The records as JSON in --history-json, or one line that says why not and where the history still is."""
    try:
        write_atomically(args.history_json, json.dumps(records, indent=1).encode())
    except OSError as error:
        kept = (f"{args.checkpoint} holds the history: once the folder can take the file, run the same command "
                "again to write it" if args.checkpoint else "the table above is all that is kept")
        raise SystemExit(f"python -m helpers.train: error: cannot write --history-json {args.history_json}: "
                         f"{error.strerror or error}; {kept}.") from None


def settings(args: argparse.Namespace) -> dict[str, int]:
    """What a resume must repeat besides fit's own options: the seed, the split and the batch size."""
    return {"seed": args.seed, "val_size": args.val_size, "batch_size": args.batch_size}


def finished(args: argparse.Namespace) -> list[dict[str, float]] | None:
    """The history of a checkpoint that already holds the epochs asked for with these settings, or None."""
    if args.checkpoint is None or not args.checkpoint.is_file():
        return None
    saved = read_checkpoint(args.checkpoint)
    if saved["epoch"] != args.epochs:
        return None
    check_settings(args.checkpoint, saved.get("options", {}), {**settings(args), "accumulate": args.accumulate})
    return saved["history"]


def train(args: argparse.Namespace) -> list[dict[str, float]]:
    """Train as asked; under torchrun, each process trains on its share of every batch."""
    device = distributed.start(args.device or get_default_device())
    try:
        generator = set_seed(args.seed)  # the same in every process: one split, one order, one initial model
        train_loader, val_loader = mnist_loaders(args.batch_size, generator=generator, device=device,
                                                 val_size=args.val_size)
        model = distributed.wrap(mnist_mlp().to(device), device)
        torch.manual_seed(args.seed + distributed.rank())  # each process its own dropout masks, if any
        optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
        history = fit(model, train_loader, val_loader, nn.CrossEntropyLoss(), optimizer, epochs=args.epochs,
                      metrics=classification_metrics(), accumulate=args.accumulate, checkpoint=args.checkpoint,
                      settings=settings(args) if args.checkpoint is not None else None)
        return history.records
    finally:
        distributed.end()


if __name__ == "__main__":
    main()
