"""The cases of the exercise checked by helpers/exercises/capstone.py."""

from notebook_cells import ROOT, exercise_function, exercise_source

from .sources import edited

STARTER_SAYS = ("3 of the 3 bugs remain. Dropout was off in 6 of 9 training batches, all in epochs 2 and 3")
FIX_CODE = ["model.train()", "clone()", "* len(targets)"]
REFERENCE = None


CAPSTONE_FIT = exercise_function(ROOT / "solutions" / "10_capstone.ipynb", "fit")


CAPSTONE_SOURCE = exercise_source(ROOT / "solutions" / "10_capstone.ipynb")


NO_TRAIN_MODE = ("        model.train()  # validation left the model in eval mode\n", "")


BATCH_MEANS = ("total += loss.item() * len(targets)  # weight by batch size: the last batch is short\n"
               "            count += len(targets)", "total += loss.item()\n            count += 1")


SHARED_METRIC = ("val_metric = metric.clone()", "val_metric = metric")


NO_VAL_RESET = ("        val_metric.reset()\n", "")


def capstone_source(*changes: tuple[str, str]) -> str:
    """The capstone's solution with each (old, new) change made: bugs put back, or other ways to fix them."""
    return edited(CAPSTONE_SOURCE, *changes)


WRONG = {
    "only train mode fixed": (capstone_source(BATCH_MEANS, SHARED_METRIC, NO_VAL_RESET),
                              "2 of the 3 bugs remain. Epoch 1's loss is"),
    "train mode and loss fixed": (capstone_source(SHARED_METRIC, NO_VAL_RESET),
                                  "1 of the 3 bugs remains. Epoch 1's val_accuracy is 0.3750, but the validation "
                                  "predictions of that epoch alone score 0.5000. The metric counted predictions from "
                                  "outside that phase of that epoch."),
    "only the metric fixed": (capstone_source(NO_TRAIN_MODE, BATCH_MEANS),
                              "2 of the 3 bugs remain. Dropout was off in 6 of 9 training batches"),
    "train mode 'fixed' by never evaluating in eval mode": (capstone_source(("        model.eval()\n", "")),
                                                           "The 3 bugs are fixed, but something else is wrong. "
                                                           "Dropout was on in 6 of 6 validation batches"),
    "validation loss averaged per batch": (capstone_source(("val_total += loss_fn(logits, targets).item() "
                                                            "* len(targets)",
                                                            "val_total += loss_fn(logits, targets).item()"),
                                                           ("val_count += len(targets)", "val_count += 1")),
                                           "1 of the 3 bugs remains. Epoch 1's val_loss is"),
    "validation accuracy the mean of batch accuracies": (capstone_source(
        ("                val_metric.update(logits, targets)\n",
         "                accuracies.append((logits.argmax(1) == targets).float().mean().item())\n"),
        ("        val_total, val_count = 0.0, 0\n", "        val_total, val_count, accuracies = 0.0, 0, []\n"),
        ("val_accuracy=val_metric.compute().item()", "val_accuracy=sum(accuracies) / len(accuracies)")),
        "Epoch 1's val_accuracy is 0.3750, but the validation predictions of that epoch alone score 0.5000. That "
        "is the mean of the batches' accuracies: the batch of 2 samples weighed as much as a batch of 4."),
}


RIGHT = {
    "a metric of its own": capstone_source(),
    "one metric, reset before validation": capstone_source(SHARED_METRIC),
    "val_loss over the epoch's collected outputs": capstone_source(
        ("        val_total, val_count = 0.0, 0\n", "        outputs, labels = [], []\n"),
        ("                val_total += loss_fn(logits, targets).item() * len(targets)\n"
         "                val_count += len(targets)\n",
         "                outputs.append(logits)\n                labels.append(targets)\n"),
        ("val_loss=val_total / val_count", "val_loss=loss_fn(torch.cat(outputs), torch.cat(labels)).item()")),
    "validation in one forward pass": capstone_source(
        ("        val_total, val_count = 0.0, 0\n", ""),
        ("""            for inputs, targets in val_loader:
                logits = model(inputs)
                val_total += loss_fn(logits, targets).item() * len(targets)
                val_count += len(targets)
                val_metric.update(logits, targets)""", """            inputs, targets = map(torch.cat, zip(*val_loader))
            logits = model(inputs)
            val_metric.update(logits, targets)"""),
        ("val_loss=val_total / val_count", "val_loss=loss_fn(logits, targets).item()")),
}
