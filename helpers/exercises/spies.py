"""Spies: what the learner's code did, seen from outside: forward passes, optimizer steps, passes over a loader."""

from dataclasses import dataclass

import torch
from torch import nn

from .feedback import Problem


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


class Observed:
    """A loader passed through as it is (its batches, len() and .dataset) that calls `started()` when a pass over
    it begins and `each(batch)` for every batch it yields; `.batch` is the last one."""

    def __init__(self, inner, *, started=lambda: None, each=lambda batch: None) -> None:
        self.inner, self.started, self.each, self.batch = inner, started, each, None

    def __iter__(self):
        self.started()
        for batch in self.inner:
            self.batch = batch
            self.each(batch)
            yield batch

    def __len__(self) -> int:
        return len(self.inner)

    @property
    def dataset(self):
        return self.inner.dataset


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

    def loader(self, loader, phase: str) -> Observed:
        """`loader`, marking every pass over it as `phase` (a pass over the "train" loader is a new epoch): work done
        after the loop (a loss over the epoch's collected outputs) still belongs to that phase."""
        return Observed(loader, started=lambda: self._start(phase))

    def _start(self, phase: str) -> None:
        """A pass over the `phase` loader begins."""
        self.epoch += phase == "train"
        self.phase = phase

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
