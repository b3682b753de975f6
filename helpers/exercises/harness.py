"""The harness: the learner's function run from fixed seeds, what it raised or changed turned into words."""

import functools
import random
import sys
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..progress import record
from .feedback import Feedback, Problem

SEED = 2718281  # the checks seed torch with this, so a learner's own re-seeding always shows


class LearnerError(Exception):
    """The learner's function raised, or returned something unusable: reported as feedback, never a traceback."""


def require_function(candidate, name: str) -> None:
    """Misuse (not a wrong answer) raises: check() takes the function itself."""
    if not callable(candidate):
        raise TypeError(f"check() takes your function itself, e.g. check({name}), "
                        f"not the result of calling it (got a {type(candidate).__name__}).")


def isolated(name: str):
    """Run a check from fixed seeds with autograd on, and put every global state back: same verdict every time.

    The verdict is also recorded in the learner's progress file (helpers.progress)."""
    def decorate(check):
        @functools.wraps(check)
        def wrapper(candidate) -> Feedback:
            require_function(candidate, name)
            python, numpy, grad = random.getstate(), np.random.get_state(), torch.is_grad_enabled()
            try:
                with torch.random.fork_rng(), torch.enable_grad():
                    torch.manual_seed(SEED)
                    random.seed(SEED)  # a known state: an answer that re-seeds (with 0, say) always changes it
                    np.random.seed(SEED)
                    feedback = check(candidate)
                record(sys.modules[check.__module__].NOTEBOOK, bool(feedback))
                return feedback
            finally:
                random.setstate(python)
                np.random.set_state(numpy)
                torch.set_grad_enabled(grad)
        wrapper.takes = name  # the name of the function the exercise asks for
        return wrapper
    return decorate


@dataclass
class Globals:
    """What a learner's function should leave as it found it."""

    grad: bool
    python: tuple
    numpy: tuple
    torch_seed: int
    modes: dict[str, bool]
    params: list[torch.Tensor]

    @classmethod
    def now(cls, model: nn.Module | None) -> "Globals":
        modules = dict(model.named_modules()) if model is not None else {}
        return cls(torch.is_grad_enabled(), random.getstate(), np.random.get_state(), torch.initial_seed(),
                   {name: m.training for name, m in modules.items()},
                   list(model.parameters()) if model is not None else [])


def mode_word(training: bool) -> str:
    return "train mode" if training else "eval mode"


def changes(before: Globals, after: Globals, *, restores_random: bool = False,
            keeps_mode: bool = True) -> list[Problem]:
    """What changed between two snapshots that the function should have left alone."""
    found = []
    if before.grad and not after.grad:
        found.append(Problem("After your function returned, autograd was still switched off.",
                             "Every training step after it would compute no gradients and learn nothing: "
                             "switch autograd off only for the code inside your function."))
    if not before.grad and after.grad:
        found.append(Problem("After your function returned, autograd was switched on; it was off when your function "
                             "was called.",
                             "Put back the grad mode you found (a `with` block does), so a caller inside "
                             "torch.no_grad() stays there."))
    if not restores_random:
        if before.python != after.python:
            found.append(Problem("Your function changed the state of Python's global `random` module.",
                                 "Everything drawn from it afterwards changes too; this function needs no "
                                 "randomness from it."))
        if not all(np.array_equal(a, b) for a, b in zip(before.numpy, after.numpy)):
            found.append(Problem("Your function changed NumPy's global random state.",
                                 "Everything drawn from it afterwards changes too; this function needs no "
                                 "randomness from it."))
        if before.torch_seed != after.torch_seed:
            found.append(Problem("Your function re-seeded torch's global random generator.",
                                 "Every draw after it (initial weights, dropout masks, shuffling) restarts "
                                 "from that seed, in every cell that runs afterwards."))
    moved = [name for name, training in before.modes.items() if after.modes.get(name, training) != training]
    if moved and keeps_mode:
        was = before.modes[moved[0]]
        found.append(Problem(f"Your function left the model in {mode_word(not was)}; it was in "
                             f"{mode_word(was)} when your function was called.",
                             "Whatever runs next (a training epoch, another evaluation) then runs in the "
                             "wrong mode: leave the model in the mode you found it in."))
    if len(before.params) != len(after.params) or any(a is not b for a, b in zip(before.params, after.params)):
        found.append(Problem("Your function replaced the model's parameters with new tensors.",
                             "The optimizer still holds the old ones, so its steps would update tensors the "
                             "model no longer uses: load values into the existing parameters."))
    return found


def call(candidate, *args, model: nn.Module | None = None, restores_random: bool = False, keeps_mode: bool = True):
    """Run the learner's function: (its result, what it changed that it should not have).

    Any exception becomes a LearnerError with its message; grad mode is put back so the check can go on."""
    before = Globals.now(model)
    try:
        result = candidate(*args)
    except Exception as error:  # the learner's code may fail in any way; report it in words
        raise LearnerError(f"Your function raised {type(error).__name__}: {error}") from error
    finally:
        grad_after = torch.is_grad_enabled()
        torch.set_grad_enabled(before.grad)
    after = Globals.now(model)
    after.grad = grad_after
    return result, changes(before, after, restores_random=restores_random, keeps_mode=keeps_mode)


def failed(error: LearnerError) -> Feedback:
    """Feedback for a learner function that raised, or returned something unusable."""
    raised = error.__cause__ is not None
    return Feedback(False, str(error), ["Run the cell above to see the full error, fix it, then check again."
                                        if raised else "Fix your function, run its cell, then check again."])


def read_number(result, key: str) -> float:
    """result[key] as a float, or a LearnerError saying what the function should return."""
    if not isinstance(result, dict) or key not in result:
        article = "an" if key[0] in "aeiou" else "a"
        raise LearnerError(f"Your function should return a dict with {article} {key!r} entry, got {result!r}.")
    value = result[key]
    try:
        return float(value.detach() if isinstance(value, torch.Tensor) else value)
    except (TypeError, ValueError, RuntimeError):
        raise LearnerError(f"Your function returned {key}={value!r}, which is not a number.") from None
