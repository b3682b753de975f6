"""Code the cases of several exercises start from."""


def edited(source: str, *changes: tuple[str, str]) -> str:
    """`source` with each (old, new) change made."""
    for old, new in changes:
        assert old in source
        source = source.replace(old, new)
    return source


EVAL_TEMPLATE = '''
import copy
import random

import torch
from torch import nn
from torchmetrics import MeanMetric

DECORATOR
def evaluate(model, loader, loss_fn, metrics, device):
    was_training = model.training
    BEFORE
    total, n, means = 0.0, 0, []
    for x, y in loader:
        IN_LOOP
        logits = model(x.to(device))
        loss = loss_fn(logits, y.to(device))
        ACCUMULATE
        UPDATE
    AFTER
    return {"loss": LOSS, **{k: v.item() for k, v in metrics.compute().items()}}
'''


def evaluate_source(decorator="@torch.inference_mode()", before="model.eval()\n    metrics.reset()", in_loop="",
                    accumulate="total += loss.item() * len(y); n += len(y)", update="metrics.update(logits, y)",
                    after="model.train(was_training)", loss="total / n"):
    return (EVAL_TEMPLATE.replace("DECORATOR", decorator).replace("BEFORE", before).replace("IN_LOOP", in_loop)
            .replace("ACCUMULATE", accumulate).replace("UPDATE", update).replace("AFTER", after)
            .replace("LOSS", loss))


TRAIN_TEMPLATE = '''
import copy

import torch
from torchmetrics import MeanMetric


def train_one_epoch(model, loader, loss_fn, optimizer, metrics, device):
    model.train()
    metrics.reset()
    total, n, kept = 0.0, 0, []
    BEFORE
    for x, y in loader:
        START
        logits = model(x)
        loss = loss_fn(logits, y)
        loss.backward()
        MIDDLE
        optimizer.step()
        END
        ACCUMULATE
        n += len(y)
        metrics.update(logits.detach(), y)
    return {"loss": LOSS, **{k: v.item() for k, v in metrics.compute().items()}}
'''


def train_source(before="", start="optimizer.zero_grad()", middle="", end="",
                 accumulate="total += loss.item() * len(y)", loss="total / n"):
    return (TRAIN_TEMPLATE.replace("BEFORE", before).replace("START", start).replace("MIDDLE", middle)
            .replace("END", end).replace("ACCUMULATE", accumulate).replace("LOSS", loss))


FIT_LOOP = '''
import copy

import torch
import helpers


def fit(model, LOADERS, loss_fn, optimizer, ARGUMENTS):
    history = []
    BEFORE
    for epoch in range(epochs):
        EPOCH_START
        total, count = 0.0, 0
        for inputs, targets in TRAIN_LOADER:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(targets)
            count += len(targets)
            BATCH_END
        EPOCH_END
        history.append(RECORD)
    return history
'''


def fit_loop(*, loaders: str = "loader", arguments: str = "epochs", before: str = "model.train()",
             epoch_start: str = "", batch_end: str = "", epoch_end: str = "", record: str = "total / count") -> str:
    """A plain fit training on the first of `loaders`, with code before the epochs and around each epoch and batch."""
    replacements = {"LOADERS": loaders, "ARGUMENTS": arguments, "BEFORE": before, "EPOCH_START": epoch_start,
                    "TRAIN_LOADER": loaders.split(",")[0], "BATCH_END": batch_end, "EPOCH_END": epoch_end,
                    "RECORD": record}
    source = FIT_LOOP
    for placeholder, code in replacements.items():
        source = source.replace(placeholder, code)
    return source
