"""The cases of the exercise checked by helpers/exercises/chance_accuracy.py."""

from notebook_cells import ROOT, exercise_source

from .sources import edited

STARTER_SAYS = ("Given scores that give every real token's own class a score 12 higher than every other class, "
                "your loss is 5.8924; the mean cross-entropy of each real token's own scores is 0.0000.")
FIX_CODE = ["permute(", "transpose(1, 2)"]
REFERENCE = None


AXIS_STARTER = exercise_source(ROOT / "exercises" / "15_chance_accuracy.ipynb")


AXIS_SOURCE = exercise_source(ROOT / "solutions" / "15_chance_accuracy.ipynb")


def axis_source(body: str) -> str:
    """A token_loss of `scores`, `targets` and `pad` returning `body` (n, t and c are the scores' sizes)."""
    return ("from torch import nn\n\n\ndef token_loss(scores, targets, pad):\n    n, t, c = scores.shape\n"
            f"    return {body}\n")


BY_HAND = '''
def token_loss(scores, targets, pad):
    real = targets != pad
    picked = scores.log_softmax(DIM).gather(-1, targets.unsqueeze(-1)).squeeze(-1)  # each token's own class
    return -(picked * real).sum() / real.sum()
'''


SCRAMBLED = "it pairs targets with scores from other positions or classes"


CONFIDENT = ("given scores that give every real token's own class a score 12 higher than every other class, your loss "
             "is ")


UNEXPLAINED = "the check knows no mistake that gives your number."


AXIS_MARKED_BY_3 = "With scores of shape (4, 5, 6) and the padding marked by 3 (the pad argument) instead of 0: "


PERMUTED_IF_SHAPES_DIFFER = '''
from torch import nn


def token_loss(scores, targets, pad):
    n, t, c = scores.shape
    if t != c:  # (N, T, classes) -> (N, classes, T)
        scores = scores.permute(0, 2, 1)
    return nn.functional.cross_entropy(scores, targets, ignore_index=pad)
'''


WRONG = {
    "the class axis made by view": (AXIS_STARTER, "That is the loss of the scores' numbers taken in the order they "
                                                  "are stored, (3, 6, 4), as if they were laid out (3, 4, 6): "
                                                  + SCRAMBLED),
    "the class axis made by reshape": (edited(AXIS_STARTER, ("view(n, c, t)", "reshape(n, c, t)")), SCRAMBLED),
    "permuted, padding counted": (edited(AXIS_SOURCE, (", ignore_index=pad", "")),
                                  "your loss is 0.5634; the mean cross-entropy of each real token's own scores is "
                                  "0.0000. The 6 padded positions were scored too"),
    "flattened, padding counted": (
        axis_source("nn.functional.cross_entropy(scores.reshape(-1, c), targets.reshape(-1))"),
        "The 6 padded positions were scored too"),
    "summed over the tokens": (edited(AXIS_SOURCE, ("ignore_index=pad)", "ignore_index=pad, reduction='sum')")),
                               "Given random scores, your loss is 18.4518; the mean cross-entropy of each real token's "
                               "own scores is 1.5377. That is the sum over the 12 real tokens, not their mean"),
    "mean over sequences": (axis_source("(nn.functional.cross_entropy(scores.permute(0, 2, 1), targets, "
                                        "reduction='none') * (targets != pad)).sum(1).div((targets != pad).sum(1))"
                                        ".mean()"),
                            "That is the mean of the 3 sequences' mean losses: a sequence of 2 tokens counted as much "
                            "as one of 6."),
    "mean over every position": (axis_source("nn.functional.cross_entropy(scores.permute(0, 2, 1), targets, "
                                             "ignore_index=pad, reduction='none').mean()"),
                                 "That is the real tokens' summed loss divided by all 18 positions"),
    "log-softmax over the positions": (BY_HAND.replace("DIM", "1"),
                                       "That is the cross-entropy with the softmax taken over the positions (axis 1), "
                                       "not over the classes"),
    "a float returned": (edited(AXIS_SOURCE, ("ignore_index=pad)", "ignore_index=pad).item()")),
                         "not a tensor: a training loop calls backward() on the loss"),
    "a detached loss": (edited(AXIS_SOURCE, ("ignore_index=pad)", "ignore_index=pad).detach()")),
                        "Your function returned a loss that autograd cannot trace back to the scores"),
    "a loss per position": (edited(AXIS_SOURCE, ("ignore_index=pad)", "ignore_index=pad, reduction='none')")),
                            "Your function returned a tensor of shape (3, 6); the loss is one number"),
    "hard-coded ignore_index=0": (edited(AXIS_SOURCE, ("ignore_index=pad", "ignore_index=0")),
                                  AXIS_MARKED_BY_3 + CONFIDENT + "0.8307; the mean cross-entropy of each real "
                                  "token's own scores is 0.0000. That is the mean over the positions whose target is "
                                  "not 0: the 6 padded positions were scored, and the 2 real tokens of class 0 left "
                                  "out."),
    "helpers.PAD for the padding": ("from helpers import PAD\n" + edited(AXIS_SOURCE, ("ignore_index=pad",
                                                                                      "ignore_index=PAD")),
                                    AXIS_MARKED_BY_3 + CONFIDENT + "0.8307"),
    "permuted only when the positions and the classes differ in number": (
        PERMUTED_IF_SHAPES_DIFFER, "With scores of shape (3, 5, 5): " + CONFIDENT + "5.8368; the mean cross-entropy "
        "of each real token's own scores is 0.0000. That is the loss of the scores left in their shape (3, 5, 5): "
        "with 5 positions and 5 classes it fits, but cross_entropy took axis 1, the positions, for the classes: "
        + SCRAMBLED),
    "the padded targets set to -100 in place": (
        axis_source("nn.functional.cross_entropy(scores.permute(0, 2, 1), targets)").replace(
            "    return", "    targets[targets == pad] = -100  # cross_entropy's default ignore_index\n    return"),
        "Your function changed the targets it was given (6 of their 18 values)."),
    "the scores' data replaced by the permuted scores": (
        axis_source("nn.functional.cross_entropy(scores, targets, ignore_index=pad)").replace(
            "    return", "    scores.data = scores.data.permute(0, 2, 1)\n    return"),
        "Your function changed the scores it was given (shape (3, 6, 4) became (3, 4, 6))."),
    "the softmax taken before cross_entropy": (
        axis_source("nn.functional.cross_entropy(scores.softmax(-1).permute(0, 2, 1), targets, ignore_index=pad)"),
        "That is the mean cross-entropy of the softmax of the scores: cross_entropy takes the raw scores"),
    "label smoothing": (axis_source("nn.functional.cross_entropy(scores.permute(0, 2, 1), targets, ignore_index=pad, "
                                    "label_smoothing=0.1)"), UNEXPLAINED),
    "binary cross-entropy on one-hot targets": (
        axis_source("nn.functional.binary_cross_entropy_with_logits(scores[targets != pad], "
                    "nn.functional.one_hot(targets[targets != pad], c).float())"), UNEXPLAINED),
}


RIGHT = {
    "permute": AXIS_SOURCE,
    "transpose(1, 2)": axis_source("nn.functional.cross_entropy(scores.transpose(1, 2), targets, ignore_index=pad)"),
    "movedim": axis_source("nn.functional.cross_entropy(scores.movedim(-1, 1), targets, ignore_index=pad)"),
    "mT": axis_source("nn.functional.cross_entropy(scores.mT, targets, ignore_index=pad)"),
    "both flattened by reshape": axis_source("nn.functional.cross_entropy(scores.reshape(-1, c), targets.reshape(-1), "
                                             "ignore_index=pad)"),
    "both flattened by view": axis_source("nn.functional.cross_entropy(scores.view(-1, c), targets.view(-1), "
                                          "ignore_index=pad)"),
    "both flattened by flatten": axis_source("nn.functional.cross_entropy(scores.flatten(0, 1), targets.flatten(), "
                                             "ignore_index=pad)"),
    "the real tokens picked by a mask": axis_source("nn.functional.cross_entropy(scores[targets != pad], "
                                                    "targets[targets != pad])"),
    "a CrossEntropyLoss module": axis_source("nn.CrossEntropyLoss(ignore_index=pad)(scores.permute(0, 2, 1), targets)"),
    "log-softmax, gather and a mask": BY_HAND.replace("DIM", "-1"),
}
