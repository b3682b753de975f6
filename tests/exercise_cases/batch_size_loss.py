"""The cases of the exercise checked by helpers/exercises/batch_size_loss.py."""

import helpers

from .sources import evaluate_source

STARTER_SAYS = ("With 10 samples in batches of 4, 4, 2, your loss is")
FIX_CODE = ["* len(targets)"]
REFERENCE = helpers.evaluate


WRONG = {
    "mean of batch means": (evaluate_source(accumulate="means.append(loss.item())", loss="sum(means) / len(means)"),
                            "You averaged the batch means"),
    "weighted sum over batches": (evaluate_source(loss="total / len(loader)"), "divided by the number of batches"),
    "sum of means over samples": (evaluate_source(accumulate="means.append(loss.item()); n += len(y)",
                                                  loss="sum(means) / n"),
                                  "added the batch means, then divided by the number of samples"),
    "loader batch size as weight": (evaluate_source(accumulate="total += loss.item() * loader.batch_size; n += len(y)"),
                                    "weighted every batch by the loader's batch_size"),
    "divided by the dataset's length": (evaluate_source(loss="total / len(loader.dataset)"),
                                        "with drop_last=True the loader yielded only 8 of them"),
    "a NaN loss": (evaluate_source(loss="float('nan')"), "your loss is nan"),
    "loader batch size as the count": (evaluate_source(accumulate="total += loss.item() * len(y); "
                                                                  "n += loader.batch_size"),
                                       "You counted loader.batch_size samples for every batch"),
    "the caller's loss switched to a sum": (evaluate_source(before="model.eval()\n    metrics.reset()\n"
                                                                   "    loss_fn.reduction = 'sum'",
                                                            accumulate="total += loss.item(); n += len(y)"),
                                            "Your function changed the loss function's reduction to 'sum'"),
    "grad switched off for good": (evaluate_source(decorator="", before="torch.set_grad_enabled(False)\n"
                                                                        "    model.eval()\n    metrics.reset()"),
                                   "autograd was still switched off"),
}


RIGHT = {
    "weighted sum": evaluate_source(),
    "MeanMetric with weights": evaluate_source(before="model.eval()\n    metrics.reset()\n    mean = MeanMetric()",
                                               accumulate="mean.update(loss, weight=len(y))",
                                               loss="mean.compute().item()"),
    "sum reduction": evaluate_source(accumulate="total += nn.functional.cross_entropy(logits, y, reduction='sum')"
                                                ".item(); n += len(y)"),
    "on the device": evaluate_source(before="model.eval()\n    metrics.reset()\n    total = torch.zeros(())",
                                     accumulate="total += loss * len(y); n += len(y)", loss="total.item() / n"),
    "helpers.evaluate": None,
}
