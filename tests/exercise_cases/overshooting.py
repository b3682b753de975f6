"""The cases of the exercise checked by helpers/exercises/overshooting.py."""

import helpers

from .sources import edited, train_source

STARTER_SAYS = ("The gradient grew from step to step")
FIX_CODE = ["zero_grad()"]
REFERENCE = helpers.train_one_epoch


WRONG = {
    "never": (train_source(start=""), "The gradient grew from step to step"),
    "once before the loop": (train_source(before="optimizer.zero_grad()", start=""),
                             "The gradient grew from step to step"),
    "without the call": (train_source(start="optimizer.zero_grad"), "The gradient grew from step to step"),
    "between backward and step": (train_source(start="", middle="optimizer.zero_grad()"),
                                  "All 3 optimizer steps saw a gradient of zero"),
    "after the step": (train_source(start="", end="optimizer.zero_grad()"),
                       "The first step used the first batch's gradient plus the gradient .grad already held"),
    "trains a copy": (train_source(before="model = copy.deepcopy(model)\n"
                                          "    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)"),
                      "3 of 3 batches went through a copy of the model"),
    "backward of the summed loss": (train_source(start="optimizer.zero_grad(); loss_fn.reduction = 'mean'")
                                    .replace("loss.backward()", "(loss * len(y)).backward()"),
                                    "The steps used gradients other than their batches' own"),
    "returns nothing": (train_source().replace("    return {", "    return\n    {"),
                        "Your function should return a dict with a 'loss' entry"),
    "only for an epoch of 3 batches": (train_source(start="if len(loader) == 3: optimizer.zero_grad()"),
                                       "The gradient grew from step to step"),
    "zero_grad fixed, train mode never set": (edited(train_source(), ("    model.train()\n", "")),
                                              "The model ran every batch in eval mode"),
    "zero_grad fixed, the metric never reset": (edited(train_source(), ("    metrics.reset()\n", "")),
                                                "The accuracy your function returned is 0.1875; the predictions of "
                                                "this epoch score 0.2500."),
    "zero_grad fixed, metrics from a forward pass after the step": (
        edited(train_source(), ("metrics.update(logits.detach(), y)", "metrics.update(model(x).detach(), y)")),
        "The accuracy your function returned is"),
}


CLOSURE = ("        logits = model(x)\n        loss = loss_fn(logits, y)\n        loss.backward()\n        \n"
           "        optimizer.step()", """        def closure():
            optimizer.zero_grad()
            closure.logits = model(x)
            step_loss = loss_fn(closure.logits, y)
            step_loss.backward()
            return step_loss
        loss = optimizer.step(closure)
        logits = closure.logits""")  # forward and backward inside the step, as LBFGS needs


RIGHT = {
    "inside the step's closure": edited(train_source(start=""), CLOSURE),
    "closure without zero_grad, emptied after the step": edited(
        train_source(start="", end="optimizer.zero_grad()", before="optimizer.zero_grad()"),
        CLOSURE, ("            optimizer.zero_grad()\n            closure.logits", "            closure.logits")),
    "first thing in the step": train_source(),
    "on the model": train_source(start="model.zero_grad(set_to_none=True)"),
    "to zeros, not None": train_source(start="optimizer.zero_grad(set_to_none=False)"),
    "helpers.train_one_epoch": None,
}
