"""The cases of the exercise checked by helpers/exercises/mean_only.py."""

from notebook_cells import ROOT, exercise_source

from .sources import edited

STARTER_SAYS = ("With a batch of 5: your step was that of a loss comparing each of the 5 outputs "
                "(shape (5, 1)) "
                "with every one of the 5 targets (shape (5,)): 5\u00d75 = 25 pairs")
FIX_CODE = ["squeeze(1)", "unsqueeze(1)"]
REFERENCE = None


REGRESSION_STARTER = exercise_source(ROOT / "exercises" / "13_mean_only.ipynb")


REGRESSION_SOURCE = exercise_source(ROOT / "solutions" / "13_mean_only.ipynb")


STARTER_LOSS = "nn.functional.mse_loss(model(inputs), targets)"


SOLUTION_LOSS = "nn.functional.mse_loss(outputs, targets)"


def regression_source(loss: str, *changes: tuple[str, str]) -> str:
    """The solution's train_step with the loss of (outputs, targets) written as `loss`, and each change made."""
    return edited(REGRESSION_SOURCE, (SOLUTION_LOSS, loss), *changes)


RAW_OUTPUTS = ("model(inputs).squeeze(1)", "model(inputs)")


BROADCAST = "that of a loss comparing each of the 5 outputs (shape (5, 1)) with every one of the 5 targets"


WRONG = {
    "outputs (N, 1) against targets (N,)": (REGRESSION_STARTER, BROADCAST + " (shape (5,)): 5\u00d75 = 25 pairs"),
    "targets unsqueezed on the wrong axis": (edited(REGRESSION_STARTER, (STARTER_LOSS, STARTER_LOSS.replace(
        "targets)", "targets.unsqueeze(0))"))), BROADCAST),
    "the broadcast written by hand": (
        edited(REGRESSION_STARTER, (STARTER_LOSS, "((model(inputs) - targets) ** 2).mean()")), BROADCAST),
    "summed squared errors": (regression_source("nn.functional.mse_loss(outputs, targets, reduction='sum')"),
                              "your step was 5 times the step of the batch's mean squared error. That is the step of "
                              "the squared errors summed over the batch of 5"),
    "the broadcast summed over the targets": (regression_source("((outputs - targets) ** 2).sum(1).mean()",
                                                                RAW_OUTPUTS),
                                              "your step was 5 times " + BROADCAST),
    "mean absolute error": (regression_source("nn.functional.l1_loss(outputs, targets)"),
                            "your step was that of the mean absolute error (L1), each output against its own target"),
    "the batch's means compared": (regression_source("nn.functional.mse_loss(outputs.mean(), targets.mean())"),
                                   "your step was that of a loss comparing the batch's mean output with its mean "
                                   "target"),
    "the loss after the step": (edited(REGRESSION_SOURCE, ("return loss.item()", "return nn.functional.mse_loss("
                                                          "model(inputs).squeeze(1), targets).item()")),
                                "your function returned 0.1777, the batch's loss after the step; before it the loss "
                                "was 0.2515."),
    "no zero_grad": (edited(REGRESSION_SOURCE, ("    optimizer.zero_grad()\n", "")),
                     "your step also carried the gradient .grad already held when your function was called."),
    "no zero_grad, outputs (N, 1)": (edited(REGRESSION_STARTER, ("    optimizer.zero_grad()\n", "")),
                                     "your step also carried the gradient .grad already held when your function was "
                                     "called, and the rest was " + BROADCAST),
    "zero_grad between backward and step": (edited(REGRESSION_SOURCE, ("    optimizer.step()\n",
                                                                       "    optimizer.zero_grad()\n"
                                                                       "    optimizer.step()\n")),
                                            "With a batch of 5: your function left the weights where they were."),
    "the loss not returned": (edited(REGRESSION_SOURCE, ("return loss.item()", "return")),
                              "Your function should return the batch's loss as a number, got None."),
    "the targets unsqueezed in place": (regression_source("nn.functional.mse_loss(outputs, targets.unsqueeze_(1))",
                                                          RAW_OUTPUTS),
                                        "With a batch of 5: your function changed the targets it was given (shape (5,) "
                                        "became (5, 1))."),
    "the loss tensor returned, graph and all": (edited(REGRESSION_SOURCE, ("return loss.item()", "return loss")),
                                                "With a batch of 5: your function returned the loss as a tensor that "
                                                "still holds its autograd graph (grad_fn=MseLossBackward0)."),
    "squeezed only in batches of 8 or fewer": (
        edited(REGRESSION_SOURCE, ("model(inputs).squeeze(1)",
                                   "model(inputs).squeeze(1) if len(targets) <= 8 else model(inputs)")),
        "With a batch of 64: your step was that of a loss comparing each of the 64 outputs (shape (64, 1)) with every "
        "one of the 64 targets"),
}


RIGHT = {
    "outputs squeezed": REGRESSION_SOURCE,
    "squeeze(-1)": edited(REGRESSION_SOURCE, ("squeeze(1)", "squeeze(-1)")),
    "squeeze()": edited(REGRESSION_SOURCE, ("squeeze(1)", "squeeze()")),
    "view(-1)": edited(REGRESSION_SOURCE, ("squeeze(1)", "view(-1)")),
    "flatten()": edited(REGRESSION_SOURCE, ("squeeze(1)", "flatten()")),
    "outputs transposed to (1, N)": edited(REGRESSION_SOURCE, ("squeeze(1)", "T")),
    "targets unsqueezed": regression_source("nn.functional.mse_loss(outputs, targets.unsqueeze(1))", RAW_OUTPUTS),
    "targets[:, None]": regression_source("nn.functional.mse_loss(outputs, targets[:, None])", RAW_OUTPUTS),
    "targets.view(-1, 1)": regression_source("nn.functional.mse_loss(outputs, targets.view(-1, 1))", RAW_OUTPUTS),
    "targets.view_as(outputs)": regression_source("nn.functional.mse_loss(outputs, targets.view_as(outputs))",
                                                  RAW_OUTPUTS),
    "squared errors by hand": regression_source("((outputs - targets) ** 2).mean()"),
    "an MSELoss module, the loss tensor returned detached": edited(
        regression_source("nn.MSELoss()(outputs, targets)"), ("return loss.item()", "return loss.detach()")),
    "the targets unsqueezed into a new tensor": regression_source(
        "nn.functional.mse_loss(outputs, targets)", RAW_OUTPUTS,
        ("    optimizer.zero_grad()\n", "    optimizer.zero_grad()\n    targets = targets.unsqueeze(1)\n")),
}
