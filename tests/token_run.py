"""Padded sequences and a tagger for test_counting.py, and what it runs under torchrun: an evaluation and one
step accumulated over every batch of each process's share of the sequences."""

import json
import sys
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader

from helpers import PAD, TokenTagger, distributed, evaluate, pad_batch, running_sum, token_metrics, train_one_epoch
from helpers.data import ShardSampler

CLASSES = 4  # running_sum's three classes and PAD
SEQUENCES = running_sum(23, generator=torch.Generator().manual_seed(3), lengths=(1, 17))


def tagger() -> TokenTagger:
    """The same small tagger every time."""
    torch.manual_seed(0)
    return TokenTagger(8, CLASSES, hidden=8)


def main(out: Path) -> None:
    """Evaluate, then take one step on every batch of this process's share; the main process writes the results."""
    device = distributed.start(torch.device("cpu"))
    model = distributed.wrap(tagger(), device)
    batches = DataLoader(SEQUENCES, 4, sampler=ShardSampler(SEQUENCES, shuffle=False), collate_fn=pad_batch)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    val = evaluate(model, batches, loss_fn, token_metrics(CLASSES), device)
    train = train_one_epoch(model, batches, loss_fn, torch.optim.SGD(model.parameters(), lr=1.0),
                            token_metrics(CLASSES), device, accumulate=len(batches))
    if distributed.is_main():
        weights = {name: value.tolist() for name, value in distributed.unwrap(model).state_dict().items()}
        out.write_text(json.dumps({"loss": train["loss"], "val_loss": val["loss"], "weights": weights}))
    distributed.end()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
