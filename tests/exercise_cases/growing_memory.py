"""The cases of the exercise checked by helpers/exercises/growing_memory.py."""

import helpers

from .sources import train_source

STARTER_SAYS = ("The losses of 5 batches were alive at once")
FIX_CODE = ["detach()", ".item()"]
REFERENCE = helpers.train_one_epoch


WRONG = {
    "total += loss": (train_source(before="total = torch.zeros(())", accumulate="total += loss * len(y)",
                                   loss="total.item() / n"), "The losses of 5 batches were alive at once"),
    "total = total + loss": (train_source(accumulate="total = total + loss * len(y)", loss="float(total) / n"),
                             "The losses of 5 batches were alive at once"),
    "a list of losses": (train_source(accumulate="kept.append(loss * len(y))", loss="float(sum(kept)) / n"),
                         "The losses of 5 batches were alive at once"),
    "outputs kept for the end of the epoch": (train_source(accumulate="total += loss.item() * len(y); "
                                                                      "kept.append(logits)"),
                                              "The model outputs of 5 batches were kept alive at once"),
    "a tensor returned with its graph": (train_source(before="total = torch.zeros(())",
                                                      accumulate="total += loss.detach() * len(y)",
                                                      loss="total / n + 0 * loss"),
                                         "The result your function returned still holds an autograd graph"),
    "detached but not weighted": (train_source(before="total = torch.zeros(())", accumulate="total += loss.detach()",
                                               loss="total.item() / n"),
                                  "The loss your function returned is"),
}


RIGHT = {
    "detach": train_source(before="total = torch.zeros(())", accumulate="total += loss.detach() * len(y)",
                           loss="total.item() / n"),
    "item": train_source(),
    "outputs kept detached": train_source(accumulate="total += loss.item() * len(y); kept.append(logits.detach())"),
    "MeanMetric": train_source(before="mean = MeanMetric()", accumulate="mean.update(loss.detach(), weight=len(y))",
                               loss="mean.compute().item()"),
    "helpers.train_one_epoch": None,
}
