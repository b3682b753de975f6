"""Checkpoints: everything a faithful resume needs, written atomically, read with weights_only=True."""

import os
import random
import tempfile
from pathlib import Path

import torch
from torch import nn

FORMAT = "helpers.checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that does not fit the model and optimizer at hand."""


def random_state(generator: torch.Generator | None) -> dict:
    """Python's and torch's random states (CPU and accelerators) and the loader's generator.

    NumPy's state is left out: it does not load with weights_only=True, and the loop draws nothing from it."""
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "loader": generator.get_state() if generator is not None else None}


def restore_random_state(state: dict, generator: torch.Generator | None) -> None:
    """Put back what random_state() saved."""
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and state["loader"] is not None:
        generator.set_state(state["loader"])


def save_checkpoint(path: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int,
                    history: list[dict[str, float]], generator: torch.Generator | None = None,
                    scheduler=None, scaler=None, best: dict | None = None) -> None:
    """Write the training state to `path` atomically: a temporary file in the same folder, then a rename."""
    path = Path(path)
    state = {
        "format": FORMAT, "epoch": epoch, "history": history, "best": best or {},
        "model": model.state_dict(), "optimizer_class": type(optimizer).__name__,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "random": random_state(generator),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(state, file)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def load_checkpoint(path: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator | None = None, scheduler=None, scaler=None) -> dict:
    """Restore what save_checkpoint wrote into the given objects; returns the epoch, history and best."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} is {'a folder' if path.is_dir() else 'missing'}, not a checkpoint file. "
                              "Point checkpoint= at a file.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load fails in many ways on a damaged file (IndexError, KeyError, OSError...)
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise CheckpointError(f"{path} cannot be read as a checkpoint (empty, truncated, or not written by "
                              f"torch.save): {first}. Delete it to start afresh.") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} was not written by helpers.save_checkpoint. Point checkpoint= at a "
                              "new file, or delete this one.")
    if state["optimizer_class"] != type(optimizer).__name__:
        raise CheckpointError(f"{path} was saved with a {state['optimizer_class']} optimizer, but this run "
                              f"uses {type(optimizer).__name__}. Resume with the same optimizer, or start afresh.")
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError) as error:
        raise CheckpointError(f"{path} does not fit this model or optimizer: "
                              f"{' '.join(str(error).split())[:300]}") from None
    for name, target in (("scheduler", scheduler), ("scaler", scaler)):
        if (target is None) != (state[name] is None):
            raise CheckpointError(f"{path} was saved {'without' if state[name] is None else 'with'} a {name}, "
                                  f"and this run has {'one' if target is not None else 'none'}.")
        if target is not None:
            target.load_state_dict(state[name])
    restore_random_state(state["random"], generator)
    return {"epoch": state["epoch"], "history": state["history"], "best": state["best"]}
