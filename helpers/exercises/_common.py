"""What every exercise check shares: feedback, a guarded call of the learner's function, watched models, hints."""

import functools
import json
import math
import random
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..data import TensorLoader
from ..progress import record

SOLUTIONS_DIR = Path(__file__).resolve().parents[2] / "solutions"
CPU = torch.device("cpu")
WIDTH = 88  # feedback lines wrap at word boundaries within this many columns
SEED = 2718281  # the checks seed torch with this, so a learner's own re-seeding always shows


@dataclass
class Feedback:
    """A check's verdict: truthy only when everything holds; prints a pass/fail line, then why."""

    passed: bool
    headline: str
    details: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        mark = "\u2705 Correct:" if self.passed else "\u274c Not yet:"
        wrap = functools.partial(textwrap.wrap, width=WIDTH, subsequent_indent="   ", break_long_words=False,
                                 break_on_hyphens=False)
        lines = wrap(f"{mark} {self.headline}")
        for detail in self.details:
            lines += wrap(detail, initial_indent="   ")
        return "\n".join(lines)


@dataclass
class Problem:
    """One thing a check saw go wrong: the symptom, then why it matters."""

    symptom: str
    why: str = ""


def verdict(problems: list[Problem], success: str, details: list[str]) -> Feedback:
    """Pass with `success` when nothing went wrong; otherwise lead with the first problem and list the others."""
    if not problems:
        return Feedback(True, success, details)
    first, *others = problems
    return Feedback(False, first.symptom, [first.why, *(f"Also: {p.symptom} {p.why}" for p in others)])


def prefixed(problem: Problem, prefix: str) -> Problem:
    """The problem with its symptom after `prefix` (which names the case), the symptom's first letter lowered."""
    return Problem(prefix + problem.symptom[:1].lower() + problem.symptom[1:], problem.why)


def first_failure(verdicts) -> Feedback:
    """The first failing verdict of a check's trials (run one by one, as needed), else the first trial's pass."""
    passed = None
    for feedback in verdicts:
        if not feedback:
            return feedback
        passed = passed or feedback
    return passed


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


def altered(name: str, given: list[torch.Tensor], kept: list[torch.Tensor]) -> Problem | None:
    """A problem when the learner's function changed tensors it was given: `kept` holds copies made before the call."""
    differ = [(g, k) for g, k in zip(given, kept)
              if g.shape != k.shape or g.dtype != k.dtype or not torch.equal(g.detach(), k)]
    if not differ:
        return None
    reshaped = [(g, k) for g, k in differ if g.shape != k.shape or g.dtype != k.dtype]
    if reshaped:
        g, k = reshaped[0]
        how = (f"shape {tuple(k.shape)} became {tuple(g.shape)}" if g.shape != k.shape else
               f"dtype {k.dtype} became {g.dtype}")
    else:
        how = f"{sum(int((g.detach() != k).sum()) for g, k in differ)} of their {sum(k.numel() for k in kept)} values"
    where = f", in {len(differ)} of the {len(given)} batches" if len(given) > 1 else ""
    return Problem(f"Your function changed the {name} it was given ({how}{where}).",
                   "The caller still holds them and may use them again after your function returns (a metric, a "
                   "plot, the next pass over the same data): put what you change in new tensors and leave these as "
                   "they are.")


def close(value: float, expected: float) -> bool:
    """Equal up to float rounding; NaN is never close to anything."""
    return math.isclose(value, expected, rel_tol=1e-5, abs_tol=1e-6)


def tiny_classifier(*middle: nn.Module, seed: int = 0) -> nn.Sequential:
    """Linear(4, 16), the given middle layers, ReLU, Linear(16, 3): built from `seed`, global RNG untouched."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(4, 16), *middle, nn.ReLU(), nn.Linear(16, 3))


def toy_data(n: int, seed: int = 0, spread: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """n samples of 4 features and 3 classes; with `spread`, later samples are larger and their losses differ."""
    generator = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.5, 4.0, n).unsqueeze(1) if spread else 1.0
    return torch.randn(n, 4, generator=generator) * scale, torch.randint(0, 3, (n,), generator=generator)


@dataclass
class Batch:
    """One call of a RecordingLoss: the phase and epoch, the batch's mean loss, its size, its correct predictions."""

    phase: str
    epoch: int
    loss: float
    size: int
    correct: int


class RecordingLoss(nn.CrossEntropyLoss):
    """Cross-entropy that records every batch it scores, tagged with the phase and epoch of an optional Watch."""

    def __init__(self, watch: "Watch | None" = None) -> None:
        super().__init__()
        self.watch, self.batches = watch, []

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = super().forward(logits, targets)
        phase, epoch = (self.watch.phase, self.watch.epoch) if self.watch else ("", 0)
        self.batches.append(Batch(phase, epoch, loss.item(), len(targets), int((logits.argmax(1) == targets).sum())))
        return loss

    def recount(self, phase: str = "", epoch: int = 0) -> tuple[float, float, float]:
        """The per-sample mean loss, the mean of batch means, and the accuracy of the batches of one phase/epoch."""
        seen = [b for b in self.batches if b.phase == phase and b.epoch == epoch]
        if not seen:
            raise LearnerError(f"Your function computed no loss{f' in the {phase} phase' if phase else ''}"
                               f"{f' of epoch {epoch}' if epoch else ''} with the loss function it was given.")
        samples = sum(b.size for b in seen)
        return (sum(b.loss * b.size for b in seen) / samples, sum(b.loss for b in seen) / len(seen),
                sum(b.correct for b in seen) / samples)


def loss_problem(got: float, recount: tuple[float, float, float], what: str = "The loss your function returned") \
        -> Problem | None:
    """A problem when a returned loss is not the per-sample mean of the batches the loss function scored."""
    mean, batch_mean, _ = recount
    if close(got, mean):
        return None
    how = " (the mean of the batch means)" if close(got, batch_mean) else ""
    return Problem(f"{what} is {got:.4f}{how}; the mean over the samples it scored is {mean:.4f}.",
                   "Weight each batch's mean loss by its number of samples: the last batch is shorter.")


def epoch_loss_problem(history: list, loss_fn: RecordingLoss, keys=(("train", "loss"), ("val", "val_loss"))) \
        -> Problem | None:
    """The first epoch record whose losses are not the per-sample means of the batches its phases scored."""
    for epoch, entry in enumerate(history, 1):
        for phase, key in keys:
            problem = loss_problem(read_number(entry, key), loss_fn.recount(phase, epoch), f"Epoch {epoch}'s {key}")
            if problem:
                return problem
    return None


class Tracking:
    """A loader that remembers the batch it yielded last."""

    def __init__(self, loader: TensorLoader) -> None:
        self.inner, self.dataset, self.batch = loader, loader.dataset, None

    def __iter__(self):
        for batch in self.inner:
            self.batch = batch
            yield batch

    def __len__(self) -> int:
        return len(self.inner)


def flat(tensors) -> torch.Tensor:
    """Tensors (a model's gradients) as one vector."""
    return torch.cat([t.reshape(-1) for t in tensors])


def gradient_in(model: nn.Module) -> torch.Tensor:
    """What the model's .grad fields hold now, as one vector (zeros where None)."""
    return flat(p.grad if p.grad is not None else torch.zeros_like(p) for p in model.parameters()).clone()


def record_updates(model: nn.Module, optimizer: torch.optim.SGD, lr: float, before_step=lambda: None) -> list:
    """A list that fills, at every step of a plain SGD `optimizer`, with (the gradient it applied, before_step()).

    The gradient applied is read from the weights, (before - after) / lr: what the step did after any closure
    and every hook the learner registered, whatever .grad held when the step began."""
    updates, pending = [], []

    def pre(opt, args, kwargs) -> None:
        pending.append((flat(p.detach() for p in model.parameters()).double(), before_step()))

    def post(opt, args, kwargs) -> None:
        weights, seen = pending.pop()
        updates.append(((weights - flat(p.detach() for p in model.parameters()).double()) / lr, seen))

    optimizer.register_step_pre_hook(pre)
    optimizer.register_step_post_hook(post)
    return updates


def batch_gradient(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The gradient of the batch's mean cross-entropy at the model's current weights, .grad left alone."""
    with torch.enable_grad():
        logits = torch.func.functional_call(model, dict(model.named_parameters()), (inputs,))
        return flat(torch.autograd.grad(nn.functional.cross_entropy(logits, targets), list(model.parameters())))


def matches(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Two gradient vectors equal up to float rounding."""
    return torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-6)


@dataclass
class Seen:
    """One forward pass of a watched module."""

    kind: str  # "model", "Dropout" or "BatchNorm1d"
    copy: bool  # run by a copy of the watched model
    training: bool
    grad: bool
    phase: str  # which watched loader the data came from last: "train", "val", or "" before any
    epoch: int  # how many times the training loader had been iterated


class Watch:
    """Records every forward pass of a model and of its Dropout and BatchNorm layers, copies included."""

    def __init__(self, model: nn.Module) -> None:
        self.seen: list[Seen] = []
        self.phase, self.epoch = "", 0
        watched = [model, *(m for m in model.modules() if isinstance(m, (nn.Dropout, nn.BatchNorm1d)))]
        self.originals = {id(m) for m in watched}
        for module in watched:
            kind = "model" if module is model else type(module).__name__
            module.register_forward_pre_hook(self._hook(kind))  # a deepcopy keeps the hook: copies report too

    def _hook(self, kind: str):
        def record(module: nn.Module, args) -> None:
            self.seen.append(Seen(kind, id(module) not in self.originals, module.training,
                                  torch.is_grad_enabled(), self.phase, self.epoch))
        return record

    def loader(self, loader, phase: str):
        """`loader`, marking every pass over it as `phase` (a pass over the "train" loader is a new epoch)."""
        return PhaseLoader(loader, phase, self)

    def passes(self, kind: str = "model", **where) -> list[Seen]:
        """The forward passes of `kind` matching every attribute in `where`."""
        return [s for s in self.seen if s.kind == kind and all(getattr(s, k) == v for k, v in where.items())]

    def copied(self) -> Problem | None:
        """A problem when a copy of the model ran instead of the model itself."""
        copies = self.passes(copy=True)
        if not copies:
            return None
        return Problem(f"{len(copies)} of {len(self.passes())} batches went through a copy of the model, not "
                       "the model your function was given.",
                       "Whatever happens to the copy (its mode, its statistics, its training) never reaches "
                       "the model the caller keeps: work on the model you are given.")


def watched_fit(train_samples: int, val_samples: int) -> tuple:
    """A model with Dropout, its Watch, watched training and validation loaders (batches of 4), and SGD."""
    model = tiny_classifier(nn.Dropout(0.5))
    watch = Watch(model)
    train = watch.loader(TensorLoader(*toy_data(train_samples), batch_size=4), "train")
    val = watch.loader(TensorLoader(*toy_data(val_samples, seed=1), batch_size=4), "val")
    return model, watch, train, val, torch.optim.SGD(model.parameters(), lr=0.1)


def trained_in_eval_mode(watch: Watch) -> Problem | None:
    """A problem when Dropout was off in training batches: the epochs after a validation trained in eval mode."""
    train = watch.passes("Dropout", phase="train")
    off = [s for s in train if not s.training]
    if not off:
        return None
    epochs = sorted({s.epoch for s in off})
    named = f"epoch {epochs[0]}" if len(epochs) == 1 else \
        f"epochs {', '.join(map(str, epochs[:-1]))} and {epochs[-1]}"
    return Problem(f"Dropout was off in {len(off)} of {len(train)} training batches, all in {named}: from then "
                   "on, the model trained in eval mode.",
                   "The model trains without the regularisation it was built with, and nothing in the numbers "
                   "says so.")


def graphs_recorded(passes: list[Seen], batches: str = "batches") -> Problem | None:
    """A problem when autograd was on for some of these forward passes of an evaluation."""
    recording = [s for s in passes if s.grad]
    if not recording:
        return None
    return Problem(f"Autograd recorded a graph for {len(recording)} of {len(passes)} {batches}.",
                   "Evaluation never calls backward(), so every graph only costs memory and time.")


def validation_problems(watch: Watch) -> list[Problem]:
    """What the watched validation passes say against eval mode without autograd."""
    found = []
    dropout = watch.passes("Dropout", phase="val")
    on = [s for s in dropout if s.training]
    if on:
        found.append(Problem(f"Dropout was on in {len(on)} of {len(dropout)} validation batches.",
                             "Validation scores the whole model, every unit counting: it runs in eval mode."))
    return found + [p for p in [graphs_recorded(watch.passes(phase="val"), "validation batches")] if p]


@dataclass
class PhaseLoader:
    """A loader that tells a Watch which phase is running from the moment it is iterated until another one is.

    Work done after the loop (a loss over the epoch's collected outputs) still belongs to the phase."""

    inner: object
    phase: str
    watch: Watch

    def __iter__(self):
        if self.phase == "train":
            self.watch.epoch += 1
        self.watch.phase = self.phase
        yield from self.inner

    def __len__(self) -> int:
        return len(self.inner)

    @property
    def dataset(self):
        return self.inner.dataset


def hint_and_solution(notebook: str, hints: list[str]):
    """An exercise's hint(level) and solution() functions."""

    def hint(level: int = 1) -> None:
        """Print hint `level` (1 is the gentlest; the last one names the fix)."""
        level = min(max(level, 1), len(hints))
        more = f" (hint({level + 1}) says more)" if level < len(hints) else ""
        print(textwrap.fill(f"Hint {level} of {len(hints)}{more}: {hints[level - 1]}", WIDTH,
                            break_long_words=False, break_on_hyphens=False))

    def solution() -> None:
        """Print the worked solution: the exercise cells of solutions/<notebook>.ipynb."""
        path = SOLUTIONS_DIR / f"{notebook}.ipynb"
        cells = json.loads(path.read_text())["cells"]
        code = ["".join(c["source"]) for c in cells
                if c["cell_type"] == "code" and "exercise" in c.get("metadata", {}).get("tags", [])]
        print(f"Solution (from solutions/{path.name}):\n")
        print("\n\n".join(code))

    return hint, solution
