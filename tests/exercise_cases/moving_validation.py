"""The cases of the exercise checked by helpers/exercises/moving_validation.py."""

import helpers

from .sources import evaluate_source

STARTER_SAYS = ("Dropout was switching units off at random in 8 of the 8 batches of the two calls that found the "
                "model in train mode. The same model on the same data gave the losses")
FIX_CODE = ["model.eval()", "inference_mode", "no_grad", "model.train("]
REFERENCE = helpers.evaluate


WRONG = {
    "no eval, no inference mode": (evaluate_source(decorator="", before="metrics.reset()"),
                                   "Dropout was switching units off at random in 8 of the 8 batches"),
    "model.eval without the call": (evaluate_source(before="model.eval\n    metrics.reset()"),
                                    "Dropout was switching units off"),
    "eval mode but autograd records": (evaluate_source(decorator=""),
                                       "Autograd recorded a graph for 8 of 8 batches of the two calls made with "
                                       "autograd on"),
    "train mode back inside the loop": (evaluate_source(in_loop="model.train()"),
                                        "Dropout was switching units off at random in 8 of the 8 batches of the "
                                        "two calls that found the model in train mode, and in 4 batches of the call "
                                        "that found it in eval mode"),
    "only Dropout switched off": (evaluate_source(before="model[2].eval()\n    metrics.reset()"),
                                  "BatchNorm normalised with each batch's own statistics, and updated its running "
                                  "statistics from the validation data, in 8 of the 8 batches"),
    "mode never restored": (evaluate_source(after=""),
                            "left the model in eval mode; it was in train mode"),
    "grad switched off for good": (evaluate_source(decorator="", before="model.eval()\n    metrics.reset()\n"
                                                                        "    torch.set_grad_enabled(False)"),
                                   "autograd was still switched off"),
    "torch re-seeded": (evaluate_source(before="torch.manual_seed(0)\n    model.eval()\n    metrics.reset()"),
                        "re-seeded torch's global random generator"),
    "Python's random re-seeded": (evaluate_source(before="random.seed(0)\n    model.eval()\n    metrics.reset()"),
                                  "changed the state of Python's global `random` module"),
    "evaluates a copy": (evaluate_source(before="model = copy.deepcopy(model).eval()\n    metrics.reset()"),
                         "12 of 12 batches went through a copy of the model"),
    "mean of batch means": (evaluate_source(accumulate="means.append(loss.item())", loss="sum(means) / len(means)"),
                            "Your loss was"),
    "grad switched on at the end": (evaluate_source(decorator="", before="torch.set_grad_enabled(False)\n"
                                                                          "    model.eval()\n    metrics.reset()",
                                                    after="model.train(was_training)\n"
                                                          "    torch.set_grad_enabled(True)"),
                                    "autograd was switched on; it was off when your function was called"),
}


RIGHT = {
    "inference_mode": evaluate_source(),
    "no_grad": evaluate_source(decorator="@torch.no_grad()"),
    "grad disabled by a decorator": evaluate_source(decorator="@torch.set_grad_enabled(False)"),
    "helpers.evaluate": None,
}
