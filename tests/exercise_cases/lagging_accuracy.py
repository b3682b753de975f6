"""The cases of the exercise checked by helpers/exercises/lagging_accuracy.py."""

import helpers

from .sources import evaluate_source

STARTER_SAYS = ("the metric also counted the 4 predictions it held before your function was called")
FIX_CODE = ["metrics.reset()"]
REFERENCE = helpers.evaluate


def reset_after_compute(source: str) -> str:
    """The evaluate `source`, emptying the metric after computing its result."""
    return source.replace("    return {", "    result = metrics.compute()\n    metrics.reset()\n    return {").replace(
        "**{k: v.item() for k, v in metrics.compute().items()}", "**{k: v.item() for k, v in result.items()}")


PER_BATCH_ACCURACY = '''
import torch


@torch.inference_mode()
def evaluate(model, loader, loss_fn, metrics, device):
    metrics.reset()
    total, n, accuracies = 0.0, 0, []
    for x, y in loader:
        logits = model(x)
        total += loss_fn(logits, y).item() * len(y)
        n += len(y)
        accuracies.append(metrics(logits, y)["accuracy"].item())
    return {"loss": total / n, "accuracy": sum(accuracies) / len(accuracies)}
'''


WRONG = {
    "never reset": (evaluate_source(before="model.eval()"),
                    "the metric also counted the 4 predictions it held before your function was called"),
    "reset without the call": (evaluate_source(before="model.eval()\n    metrics.reset"),
                               "counted the 4 predictions it held before"),
    "reset after compute": (reset_after_compute(evaluate_source(before="model.eval()")),
                            "counted the 4 predictions it held before"),
    "reset every batch": (evaluate_source(before="model.eval()", in_loop="metrics.reset()"),
                          "The metric was emptied during the loop, so compute() saw only the last 2 of the 10 "
                          "predictions"),
    "reset at the end of every batch": (evaluate_source(update="metrics.update(logits, y); metrics.reset()"),
                                        "The metric was emptied after the last batch and before compute()"),
    "reset before compute": (evaluate_source(after="metrics.reset()"),
                             "The metric was emptied after the last batch and before compute()"),
    "update once, after the loop": (evaluate_source(update="", after="metrics.update(logits, y)"),
                                    "The metric was given predictions once for 3 batches"),
    "batch accuracies averaged": (PER_BATCH_ACCURACY, "the mean of the batches' accuracies (1, 1, 0)"),
    "a metric of its own": (evaluate_source(before="metrics = metrics.clone()\n    metrics.reset()"),
                            "never updated the metric it was given"),
    "every batch counted twice": (evaluate_source(update="metrics.update(logits, y); metrics(logits, y)"),
                                  "The metric counted 20 predictions for 10 samples"),
}


RIGHT = {
    "reset first": evaluate_source(),
    "each metric of the collection reset": evaluate_source(before="model.eval()\n"
                                                                  "    for metric in metrics.values(): metric.reset()"),
    "reset first, and again after compute": reset_after_compute(evaluate_source()),
    "helpers.evaluate": None,
}
