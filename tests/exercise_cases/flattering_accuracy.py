"""The cases of the exercise checked by helpers/exercises/flattering_accuracy.py."""

from notebook_cells import ROOT, exercise_source

from .sources import edited

STARTER_SAYS = ("Your accuracy is 0.5890 but 16 of the 46 real tokens are predicted right (0.3478).")
FIX_CODE = ["ignore_index=pad", "!= pad"]
REFERENCE = None


PADDING_STARTER = exercise_source(ROOT / "exercises" / "14_flattering_accuracy.ipynb")


PADDING_SOURCE = exercise_source(ROOT / "solutions" / "14_flattering_accuracy.ipynb")


TOKENS_TEMPLATE = '''
import torch
from torch import nn


@torch.inference_mode()
def evaluate_tokens(model, loader, pad):
    MODE
    loss_fn = nn.CrossEntropyLoss(ARGUMENTS)
    total_loss, count, correct, seen = 0.0, 0, 0, 0
    for tokens, targets in loader:
        scores = model(tokens)
        real = targets != pad
        total_loss += loss_fn(scores, targets).item() * WEIGHT
        count += COUNT
        correct += CORRECT
        seen += SEEN
    return {"loss": total_loss / count, "accuracy": correct / seen}
'''


def tokens_source(arguments="ignore_index=pad", weight="real.sum().item()", count="real.sum().item()",
                  correct="(scores.argmax(1) == targets)[real].sum().item()", seen="real.sum().item()",
                  mode="model.eval()") -> str:
    """An evaluate_tokens: loss_fn(arguments) weighted by `weight` over `count`; accuracy `correct` over `seen`."""
    return (TOKENS_TEMPLATE.replace("MODE", mode).replace("ARGUMENTS", arguments).replace("WEIGHT", weight)
            .replace("COUNT", count).replace("CORRECT", correct).replace("SEEN", seen))


EVERY_RIGHT = "(scores.argmax(1) == targets).sum().item()"


TOKEN_BATCH_MEANS = '''
import torch
from torch import nn


@torch.inference_mode()
def evaluate_tokens(model, loader, pad):
    model.eval()
    losses, accuracies = [], []
    for tokens, targets in loader:
        scores = model(tokens)
        real = targets != pad
        losses.append(nn.functional.cross_entropy(scores, targets, ignore_index=pad).item())
        accuracies.append((scores.argmax(1) == targets)[real].float().mean().item())
    return {"loss": sum(losses) / len(losses), "accuracy": sum(accuracies) / len(accuracies)}
'''


PER_SEQUENCE = '''
import torch
from torch import nn


@torch.inference_mode()
def evaluate_tokens(model, loader, pad):
    model.eval()
    losses, accuracies = [], []
    for tokens, targets in loader:
        for scores, wanted in zip(model(tokens), targets):  # scores (classes, T) of one sequence
            real = wanted != pad
            losses.append(nn.functional.cross_entropy(scores[:, real].T, wanted[real]).item())
            accuracies.append((scores.argmax(0) == wanted)[real].float().mean().item())
    return {"loss": sum(losses) / len(losses), "accuracy": sum(accuracies) / len(accuracies)}
'''


METRIC_OBJECTS = '''
import torch
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy


@torch.inference_mode()
def evaluate_tokens(model, loader, pad):
    model.eval()
    mean, accuracy = MeanMetric(), None
    for tokens, targets in loader:
        scores = model(tokens)
        if accuracy is None:
            accuracy = MulticlassAccuracy(scores.shape[1], ARGUMENTS)
        mean.update(nn.functional.cross_entropy(scores, targets, ignore_index=pad), weight=(targets != pad).sum())
        accuracy.update(scores, targets)
    return {"loss": mean.compute(), "accuracy": accuracy.compute()}
'''


MASKED = '''
import torch
from torch import nn


@torch.inference_mode()
def evaluate_tokens(model, loader, pad):
    model.eval()
    total, count, correct = 0.0, 0, 0
    for tokens, targets in loader:
        real = targets != pad
        scores, wanted = model(tokens).permute(0, 2, 1)[real], targets[real]  # (real tokens, classes)
        total += nn.functional.cross_entropy(scores, wanted, reduction="sum").item()
        count += len(wanted)
        correct += (scores.argmax(1) == wanted).sum().item()
    return {"loss": total / count, "accuracy": correct / count}
'''


HELPERS_EVALUATE = '''
from torch import nn

import helpers


def evaluate_tokens(model, loader, pad):
    classes = model(next(iter(loader))[0]).shape[1]
    return helpers.evaluate(model, loader, nn.CrossEntropyLoss(ignore_index=pad), helpers.token_metrics(classes, pad),
                            "cpu")
'''


MARKED_BY_3 = "With the padding marked by 3 (the pad argument) instead of 0: "


ZERO_TARGETS_LEFT_OUT = "the 27 padded positions were scored, and the 18 real tokens of class 0 left out."


WRONG = {
    "padding counted everywhere, batches weighted by sequences": (PADDING_STARTER,
                                                                  "The 27 padded positions were counted too"),
    "padding counted in the accuracy only": (tokens_source(correct=EVERY_RIGHT, seen="targets.numel()"),
                                             "Your accuracy is 0.5890 but 16 of the 46 real tokens are predicted right "
                                             "(0.3478). The 27 padded positions were counted too, and the model "
                                             "predicts padding there: each one counted as right."),
    "padding counted in the loss only": (tokens_source(arguments="", weight="targets.numel()", count="targets.numel()"),
                                         "Your loss is 0.9484 but the mean cross-entropy over the 46 real tokens is "
                                         "1.4175. The 27 padded positions were scored too."),
    "the accuracy right, the loss without ignore_index": (tokens_source(arguments=""),
                                                          "The 27 padded positions were scored in each batch's mean "
                                                          "(then weighted by its real tokens)."),
    "ignore_index, batches weighted by sequences": (tokens_source(weight="len(targets)", count="len(targets)"),
                                                    "The padding was left out, but each batch's mean was weighted by "
                                                    "its number of sequences (3, 3, 3, 1), not of real tokens."),
    "ignore_index, batches weighted by all their positions": (
        tokens_source(weight="targets.numel()", count="targets.numel()"),
        "the means were weighted by all the batches' positions, the padded ones too."),
    "the right predictions over every position": (tokens_source(seen="targets.numel()"),
                                                  "Your accuracy is 0.2192 but 16 of the 46 real tokens are predicted "
                                                  "right (0.3478). That is the right predictions divided by all 73 "
                                                  "positions"),
    "the real tokens' summed loss over every position": (
        tokens_source(arguments="ignore_index=pad, reduction='sum'", weight="1", count="targets.numel()"),
        "That is the real tokens' summed loss divided by all 73 positions, the 27 padded ones too."),
    "the real tokens' summed loss over the sequences": (
        tokens_source(arguments="ignore_index=pad, reduction='sum'", weight="1", count="len(targets)"),
        "That is the real tokens' summed loss divided by the 10 sequences, not by the 46 tokens."),
    "mean of the batches' means": (TOKEN_BATCH_MEANS, "That is the mean of the 4 batches' accuracies: a batch of 4 "
                                                      "real tokens counted as much as one of 17."),
    "mean of the sequences' means": (PER_SEQUENCE, "That is the mean of the 10 sequences' accuracies: a sequence of 1 "
                                                   "token counted as much as one of 9."),
    "MulticlassAccuracy's default average": (METRIC_OBJECTS.replace("ARGUMENTS", "ignore_index=pad"),
                                             "That is the mean of the per-class accuracies (MulticlassAccuracy's "
                                             "default, average=\"macro\")"),
    "MulticlassAccuracy without ignore_index": (METRIC_OBJECTS.replace("ARGUMENTS", "average='micro'"),
                                                "The 27 padded positions were counted too"),
    "hard-coded ignore_index=0": (tokens_source(arguments="ignore_index=0"),
                                  MARKED_BY_3 + "your loss is 0.8730 but the mean cross-entropy over the 46 real "
                                  "tokens is 1.4175. That is each batch's mean over its positions whose target is not "
                                  "0, weighted by its real tokens: " + ZERO_TARGETS_LEFT_OUT),
    "hard-coded mask targets != 0": (edited(tokens_source(), ("targets != pad", "targets != 0")),
                                     MARKED_BY_3 + "your accuracy is 0.6909 but 16 of the 46 real tokens are predicted "
                                     "right (0.3478). That is the right predictions among the positions whose target "
                                     "is not 0: the 27 padded positions were counted, each one as right, and the 18 "
                                     "real tokens of class 0 left out."),
    "hard-coded 0 in the loss and the mask": (
        edited(PADDING_SOURCE, ("ignore_index=pad", "ignore_index=0"), ("targets != pad", "targets != 0")),
        "Also: Your loss is 0.7192 but the mean cross-entropy over the 46 real tokens is 1.4175. That is the mean over "
        "the positions whose target is not 0: " + ZERO_TARGETS_LEFT_OUT),
    "helpers.PAD for the mask": ("from helpers import PAD\n" + edited(MASKED, ("targets != pad", "targets != PAD")),
                                 "That is the right predictions among the positions whose target is not 0"),
    "token_metrics without the pad": (
        edited(HELPERS_EVALUATE, ("token_metrics(classes, pad)", "token_metrics(classes)")),
        "the 27 padded positions were counted, each one as right, and the 18 real tokens of class 0 left out."),
    "batches weighted by the targets that are not 0": (
        tokens_source(weight="(targets != 0).sum().item()", count="(targets != 0).sum().item()"),
        MARKED_BY_3 + "your loss is 1.4179 but the mean cross-entropy over the 46 real tokens is 1.4175. That is each "
        "batch's mean over its real tokens, weighted by its positions whose target is not 0: the 27 padded positions "
        "counted in the weights, and the 18 real tokens of class 0 left out of them."),
    "hard-coded mask tokens != 0": (edited(tokens_source(), ("targets != pad", "tokens != 0")),
                                    MARKED_BY_3 + "your accuracy is 0.6000 but 16 of the 46 real tokens are predicted "
                                    "right (0.3478). That is the right predictions among the positions whose token is "
                                    "not 0: the 27 padded positions were counted, each one as right, and the 8 real "
                                    "tokens whose id is 0 left out."),
    "no model.eval()": (tokens_source(mode=""),
                        "Dropout was switching scores off at random in 4 of the 4 batches your function ran through "
                        "the model, which came in train mode: your loss is 1.5999 and your accuracy 0.3043; in eval "
                        "mode they are 1.4175 and 0.3478."),
    "the padding class never predicted": (
        tokens_source(correct="(scores[:, 1:].argmax(1) + 1 == targets)[real].sum().item()"),
        "Your accuracy is 0.3913 but 16 of the 46 real tokens are predicted right (0.3478). That is the accuracy of "
        "predictions that never name the padding class: at the 7 real tokens where the padding class scores highest, "
        "the next class was taken, and 2 of them counted as right."),
    "the batches' targets changed in place": (
        edited(tokens_source(arguments="", correct="(scores.argmax(1) == targets)[real].sum().item()"),
               ("        real = targets != pad\n",
                "        real = targets != pad\n        targets[~real] = -100  # CrossEntropyLoss ignores -100\n")),
        "Your function changed the targets it was given (27 of their 73 values, in 3 of the 4 batches)."),
    "the softmax taken before the loss": (
        edited(tokens_source(), ("loss_fn(scores, targets)", "loss_fn(scores.softmax(1), targets)")),
        "Your loss is 1.3406 but the mean cross-entropy over the 46 real tokens is 1.4175. That is the mean "
        "cross-entropy of the softmax of the scores over the real tokens"),
    "label smoothing": (tokens_source(arguments="ignore_index=pad, label_smoothing=0.1"),
                        "Your accuracy is right, and no way of counting the real tokens or the padding that the check "
                        "knows gives this loss."),
    "no accuracy returned": (edited(tokens_source(), (', "accuracy": correct / seen}', "}")),
                             "Your function should return a dict with an 'accuracy' entry"),
}


RIGHT = {
    "ignore_index, weighted by real tokens": PADDING_SOURCE,
    "summed loss over the real tokens": tokens_source(arguments="ignore_index=pad, reduction='sum'", weight="1"),
    "real tokens picked by a mask": MASKED,
    "real tokens found by tokens != pad": edited(tokens_source(), ("targets != pad", "tokens != pad")),
    "real tokens picked by a mask of the tokens": edited(MASKED, ("targets != pad", "tokens != pad")),
    "the padded targets set to -100 in a copy": edited(
        tokens_source(arguments=""), ("        real = targets != pad\n",
                                      "        real = targets != pad\n        targets = targets.where(real, -100)\n")),
    "MeanMetric and MulticlassAccuracy(average='micro')": METRIC_OBJECTS.replace(
        "ARGUMENTS", "ignore_index=pad, average='micro'"),
    "helpers.evaluate with token_metrics": HELPERS_EVALUATE,
}
