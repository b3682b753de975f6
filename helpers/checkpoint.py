"""Checkpoints: everything a faithful resume needs, written atomically, read with weights_only=True."""

import contextlib
import errno
import io
import random
import warnings
from pathlib import Path

import torch
from torch import nn

from . import files
from .distributed import gather, is_main, rank, world_size
from .history import Best, History

FORMAT = "helpers.checkpoint/1"
KEYS = ("epoch", "history", "best", "model", "optimizer_class", "optimizer", "scheduler_class", "scheduler", "scaler",
        "random", "random_ranks")  # what a resume reads; "options" are compared when there


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that does not fit the model and optimizer at hand."""


def random_state(generator: torch.Generator | None) -> dict:
    """Python's and torch's random states (CPU, CUDA and MPS) and the loader's generator.

    NumPy's state is left out: it does not load with weights_only=True, and the loop draws nothing from it."""
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "mps": torch.mps.get_rng_state() if torch.backends.mps.is_available() else None,
            "loader": generator.get_state() if generator is not None else None}


def restore_random_state(state: dict, generator: torch.Generator | None) -> None:
    """Put back what random_state() saved (an accelerator's state only on a machine that has one)."""
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if state.get("mps") is not None and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])
    if generator is not None and state["loader"] is not None:
        generator.set_state(state["loader"])


def save_checkpoint(path: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer, epoch: int,
                    history: list[dict[str, float]], generator: torch.Generator | None = None,
                    scheduler=None, scaler=None, best: dict | None = None, options: dict | None = None) -> None:
    """Write the training state to `path` atomically: a temporary file in the same folder, then a rename.
    `options` are the settings a resume must share (fit's accumulate, max_grad_norm, step_scheduler).

    Under torchrun every process calls this (each one's random state is kept) and the main process writes."""
    path = Path(path)
    randoms = gather(random_state(generator))
    state = {
        "format": FORMAT, "epoch": epoch, "history": history, "best": best or {}, "options": options or {},
        "model": model.state_dict(), "optimizer_class": type(optimizer).__name__,
        "optimizer": optimizer.state_dict(),
        "scheduler_class": type(scheduler).__name__ if scheduler is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else {},
        "random": randoms[0], "random_ranks": randoms,
    }
    error = None
    if is_main():
        try:
            buffer = io.BytesIO()
            torch.save(state, buffer)  # in memory first, so a full disk is an OSError that names itself
            path.parent.mkdir(parents=True, exist_ok=True)
            files.write_atomically(path, buffer.getbuffer())
        except OSError as failure:
            error = _unsaved(path, epoch, failure)
    _together(error)


def _unsaved(path: Path, epoch: int, error: OSError) -> CheckpointError:
    """A failed save in one line: what the system said, what to do, and that the last save is intact."""
    fix = ("free some space on that disk, or point checkpoint= at a file on another disk"
           if error.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)) else
           "make the folder writable again, or point checkpoint= at a file in a folder you can write to"
           if error.errno in (errno.EACCES, errno.EPERM, errno.EROFS) else
           "point checkpoint= at a file on a disk that works")
    kept = f"; {path} still holds the last epoch saved" if path.is_file() else ""
    return CheckpointError(f"Cannot save epoch {epoch} to {path}: {error.strerror or error}. To go on, {fix}{kept}.")


def _together(error: CheckpointError | None) -> None:
    """Raise `error` in the process that met it and the same message in every other, so that all of them stop
    (under torchrun the others would otherwise wait for it forever)."""
    messages = gather(str(error) if error is not None else None)
    if error is not None:
        raise error
    if any(messages):
        raise CheckpointError(next(message for message in messages if message))


@contextlib.contextmanager
def held(path: str | Path | None):
    """Hold the checkpoint for this run until the block ends (nothing when `path` is None): a CheckpointError
    when another run holds it or its folder cannot take a file. Files that saves killed mid-write left are removed."""
    if path is None:
        yield
        return
    path, error, hold = Path(path), None, contextlib.ExitStack()
    if is_main() and (not path.name or path.is_dir()):
        error = CheckpointError(f"checkpoint={str(path)!r} is a folder: point checkpoint= at a file in it, e.g. "
                                f"{path / 'run.ckpt'}.")
    elif is_main():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            hold.enter_context(files.held(path))
            for stale in files.leftovers(path):
                stale.unlink(missing_ok=True)
        except files.InUse as busy:
            error = CheckpointError(f"{busy}: two runs saving to one file would overwrite each other's epochs. "
                                    "Wait for that run to end (or stop it), or point checkpoint= at another file.")
        except OSError as failure:
            error = CheckpointError(f"Cannot write the checkpoint {path}: {failure.strerror or failure}. Point "
                                    "checkpoint= at a file in a folder you can write to.")
    if error is not None:
        hold.close()  # a lock taken before the error is given back
    _together(error)
    with hold:
        yield


def unreadable(error: Exception) -> str:
    """Why torch.load refused a file, in the course's words (never torch's advice to turn weights_only off)."""
    if "weights_only" in str(error) or "Weights only" in str(error):
        return ("it holds Python objects that a safe load (weights_only=True) refuses, so helpers.save_checkpoint "
                "did not write it; never load it with weights_only=False unless you wrote it yourself")
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return f"it is empty, truncated, or not written by torch.save ({first})"


def read_checkpoint(path: str | Path) -> dict:
    """Everything save_checkpoint wrote to `path`, or a CheckpointError naming the path and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path} is {'a folder' if path.is_dir() else 'missing'}, not a checkpoint file. "
                              "Point checkpoint= at a file.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch.load fails in many ways on a damaged file (IndexError, KeyError, OSError...)
        raise CheckpointError(f"{path} cannot be read as a checkpoint: {unreadable(error)}. Delete it to start "
                              "afresh, or point checkpoint= at a new file.") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} was not written by helpers.save_checkpoint. Point checkpoint= at a "
                              "new file, or delete this one.")
    missing = [key for key in KEYS if key not in state]
    if missing:
        raise CheckpointError(f"{path} claims to be a checkpoint but lacks {', '.join(missing)}, which every save "
                              "writes: it was made or changed by other code. Point checkpoint= at a new file, or "
                              "delete this one.")
    return state


def load_checkpoint(path: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer,
                    generator: torch.Generator | None = None, scheduler=None, scaler=None) -> dict:
    """Restore what save_checkpoint wrote into the given objects; returns the epoch, history and best."""
    state = read_checkpoint(path)
    restore(path, state, model=model, optimizer=optimizer, generator=generator, scheduler=scheduler, scaler=scaler)
    return {"epoch": state["epoch"], "history": state["history"], "best": state["best"]}


def restore(path: str | Path, state: dict, *, model: nn.Module, optimizer: torch.optim.Optimizer,
            generator: torch.Generator | None = None, scheduler=None, scaler=None) -> None:
    """Put a read checkpoint into the given objects, after checking it fits every one of them."""
    _check_fits(path, state, model, optimizer, scheduler, scaler)
    changed = _changed_hyperparameters(optimizer, state["optimizer"], ignore_lr=scheduler is not None)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if scaler is not None and scaler.is_enabled() and state["scaler"]:
        scaler.load_state_dict(state["scaler"])  # a scaler newly enabled (float16 from here on) starts fresh
    restore_random_state(state["random_ranks"][rank()], generator)
    if changed:
        warnings.warn(f"{path} holds the optimizer's {changed}; the checkpoint's values win, so the resumed run "
                      "continues the saved one. To train with the new values, start afresh with a new checkpoint "
                      "path.", stacklevel=3)


def _check_fits(path: str | Path, state: dict, model: nn.Module, optimizer: torch.optim.Optimizer,
                scheduler, scaler) -> None:
    """Refuse a checkpoint that does not fit, before anything has been changed."""
    if state["optimizer_class"] != type(optimizer).__name__:
        raise CheckpointError(f"{path} was saved with a {state['optimizer_class']} optimizer, but this run "
                              f"uses {type(optimizer).__name__}. Resume with the same optimizer, or start afresh.")
    mine = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    saved = {name: tuple(t.shape) for name, t in state["model"].items()}
    if mine != saved:
        only_mine, only_saved = sorted(set(mine) - set(saved)), sorted(set(saved) - set(mine))
        differ = ([f"this model has {_some(only_mine)}, the checkpoint not"] if only_mine else []) + \
                 ([f"the checkpoint has {_some(only_saved)}, this model not"] if only_saved else []) + \
                 [f"{n} is {saved[n]} saved, {mine[n]} here" for n in mine if n in saved and mine[n] != saved[n]][:3]
        raise CheckpointError(f"{path} does not fit this model: {'; '.join(differ)}. Resume with the model the "
                              "checkpoint was saved from, or start afresh.")
    sizes = [len(group["params"]) for group in optimizer.state_dict()["param_groups"]]
    saved_sizes = [len(group["params"]) for group in state["optimizer"]["param_groups"]]
    if sizes != saved_sizes:
        raise CheckpointError(f"{path} does not fit this optimizer: its parameter groups hold {saved_sizes} "
                              f"tensors, this optimizer's {sizes}. Build the optimizer as the saved run did.")
    saved_scheduler = state["scheduler_class"]
    if saved_scheduler != (type(scheduler).__name__ if scheduler is not None else None):
        has = f"a {type(scheduler).__name__}" if scheduler is not None else "none"
        raise CheckpointError(f"{path} was saved {f'with a {saved_scheduler}' if saved_scheduler else 'without a'} "
                              f"scheduler, and this run has {has}. Resume with the same scheduler, or start afresh.")
    if len(state["random_ranks"]) != world_size():
        raise CheckpointError(f"{path} was saved by {len(state['random_ranks'])} process(es) and this run has "
                              f"{world_size()}: each process's random state continues only in a run of the same "
                              "size. Resume with as many processes, or start afresh.")
    if state["scaler"] and scaler is None:
        raise CheckpointError(f"{path} was saved with float16 loss scaling (a GradScaler's state): pass scaler= "
                              "to restore it.")


def _some(names: list[str]) -> str:
    """The first three names, and how many more."""
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _changed_hyperparameters(optimizer: torch.optim.Optimizer, saved: dict, ignore_lr: bool) -> str:
    """The hyperparameters this optimizer was built with that the checkpoint's values will replace, as text."""
    changed = []
    for index, (group, stored) in enumerate(zip(optimizer.param_groups, saved["param_groups"])):
        for key, value in group.items():
            if key in ("params", "param_names") or (key == "lr" and ignore_lr) or key not in stored:
                continue
            if not _same(value, stored[key]):
                where = f" (group {index})" if len(optimizer.param_groups) > 1 else ""
                changed.append(f"{key}={stored[key]!r}{where}, not the {key}={value!r} given")
    return "; ".join(changed)


def _same(a, b) -> bool:
    """Whether two hyperparameter values are equal (numbers, tuples or tensors)."""
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return torch.equal(torch.as_tensor(a), torch.as_tensor(b))
    return a == b


def resume(path: str | Path, parts: dict, epochs: int, best: Best, patience: int | None,
            keys: set[str], options: dict) -> tuple[History, Best, int]:
    """Continue the run saved at `path`, after checking that this call asks for its continuation."""
    saved = read_checkpoint(path)
    _check_continues(path, saved, epochs, best, patience, keys)
    check_settings(path, saved.get("options", {}), options)
    restore(path, saved, **parts)
    done = saved["epoch"]
    if is_main():
        print(f"Resuming from {path}: {done} of {epochs} epochs done, continuing with epoch {done + 1}.")
    stored = Best(**saved["best"])
    return History(saved["history"]), stored if stored.value is not None else best, done + 1


def _check_continues(path: str | Path, saved: dict, epochs: int, best: Best, patience: int | None,
                     keys: set[str]) -> None:
    """Refuse a checkpoint that this call would not continue as asked: finished, or another run's settings."""
    done, stored = saved["epoch"], Best(**saved["best"])
    fresh = "point checkpoint= at a new file (or delete this one) to train afresh"
    if done >= epochs:
        raise CheckpointError(f"{path} already holds {done} epoch{'s' * (done != 1)} and this call asks for "
                              f"epochs={epochs}: there "
                              f"is nothing to train. Ask for more epochs (epochs={done + 1} or more) to continue, "
                              f"or {fresh}.")
    if patience is not None and stored.value is not None:
        if (stored.monitor, stored.mode) != (best.monitor, best.mode):
            raise CheckpointError(f"{path} kept its best epoch by monitor={stored.monitor!r}, mode={stored.mode!r}; "
                                  f"this call asks for monitor={best.monitor!r}, mode={best.mode!r}. Continue with "
                                  f"the same monitor and mode, or {fresh}.")
        if done - stored.epoch >= patience:
            raise CheckpointError(f"{path} stopped early: {stored.monitor} has not improved since epoch "
                                  f"{stored.epoch} of {done} (patience={patience}). Raise patience to continue, "
                                  f"or {fresh}.")
    recorded = set(saved["history"][-1]) if saved["history"] else keys
    if recorded != keys:
        differ = [f"{verb} {', '.join(sorted(names))}" for verb, names in
                  (("adds", keys - recorded), ("drops", recorded - keys)) if names]
        raise CheckpointError(f"{path} was written by a run that recorded other values: this call "
                              f"{' and '.join(differ)}, so its history would mix two kinds of record. Use the "
                              f"same metrics, max_grad_norm and scheduler to continue, or {fresh}.")


def check_settings(path: str | Path, saved: dict, options: dict) -> None:
    """Refuse to continue a run whose epochs were trained with other settings than this call asks for."""
    differ = [name for name in sorted(saved.keys() & options.keys()) if saved[name] != options[name]]
    if differ:
        was, now = (", ".join(f"{name}={values[name]!r}" for name in differ) for values in (saved, options))
        raise CheckpointError(f"{path} was trained with {was}; this call asks for {now}, so its epochs would not "
                              "continue the same run. Continue with the saved settings, or point checkpoint= at a "
                              "new file (or delete this one) to train afresh.")
