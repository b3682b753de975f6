"""The cases of the exercise checked by helpers/exercises/lost_regularisation.py."""

from .sources import edited, fit_loop

STARTER_SAYS = ("Dropout was off in 6 of 9 training batches, all in epochs 2 and 3")
FIX_CODE = ["model.train()"]
REFERENCE = None


RECORD = '{"loss": total / count, "val_loss": val_loss}'
VALIDATE = '''EVAL
        val_total, val_count = 0.0, 0
        with GRAD:
            for inputs, targets in val_loader:
                val_total += loss_fn(VAL_MODEL(inputs), targets).item() * len(targets)
                val_count += len(targets)
        val_loss = val_total / val_count
        AFTER'''


def fit_source(before="", start="model.train()", evaluation="model.eval()", grad="torch.no_grad()",
               val_model="model", after=""):
    validate = (VALIDATE.replace("EVAL", evaluation).replace("GRAD", grad).replace("VAL_MODEL", val_model)
                .replace("AFTER", after))
    return fit_loop(loaders="train_loader, val_loader", before=before, epoch_start=start, epoch_end=validate,
                    record=RECORD)


WRONG = {
    "train() once before the epochs": (fit_source(before="model.train()", start=""),
                                       "Dropout was off in 6 of 9 training batches, all in epochs 2 and 3"),
    "validation in train mode": (fit_source(evaluation=""), "Dropout was on in 6 of 6 validation batches"),
    "validation records graphs": (fit_source(grad="torch.enable_grad()"),
                                  "Autograd recorded a graph for 6 of 6 validation batches"),
    "validates a copy": (fit_source(evaluation="val_model = copy.deepcopy(model).eval()", val_model="val_model"),
                         "6 of 15 batches went through a copy of the model"),
    "never validates": (fit_source().replace("for inputs, targets in val_loader:", "for inputs, targets in []:")
                        .replace("val_total / val_count", "0.0"),
                        "Your fit never went through the validation data in 3 epochs"),
    "validates on the training data": (fit_source().replace("in val_loader:", "in train_loader:"),
                                       "Your fit went through the training data 6 times in 3 epochs"),
    "train mode fixed, loss the mean of batch means": (
        edited(fit_source(), ("total += loss.item() * len(targets)", "total += loss.item()"),
               ("            count += len(targets)", "            count += 1")),
        "Epoch 1's loss is 1.7794 (the mean of the batch means); the mean over the samples it scored is 1.5231."),
    "train mode fixed, val_loss the mean of batch means": (
        edited(fit_source(), ("val_total += loss_fn(VAL_MODEL(inputs), targets).item() * len(targets)".replace(
            "VAL_MODEL", "model"), "val_total += loss_fn(model(inputs), targets).item()"),
               ("val_count += len(targets)", "val_count += 1")),
        "Epoch 1's val_loss is"),
    "train mode fixed, the last epoch's loss for every epoch": (
        edited(fit_source(), ('history.append({"loss": total / count, "val_loss": val_loss})',
                              'history.append({"loss": 1.0, "val_loss": val_loss})')),
        "Epoch 1's loss is 1.0000"),
    "train() only in the first 3 epochs": (fit_source(start="if epoch < 3: model.train()"),
                                           "Dropout was off in 3 of 12 training batches, all in epoch 4"),
}


RIGHT = {
    "train() every epoch": fit_source(),
    "train() after validation": fit_source(before="model.train()", start="", after="model.train()"),
    "helpers.evaluate": fit_loop(loaders="train_loader, val_loader", epoch_end="val_loss = helpers.evaluate("
                                 "model, val_loader, loss_fn, helpers.Accuracy(), 'cpu')['loss']", record=RECORD),
    "val_loss over the collected outputs": edited(fit_source(), (
        """            for inputs, targets in val_loader:
                val_total += loss_fn(model(inputs), targets).item() * len(targets)
                val_count += len(targets)
        val_loss = val_total / val_count""",
        """            outputs, labels = zip(*[(model(inputs), targets) for inputs, targets in val_loader])
            val_loss = loss_fn(torch.cat(outputs), torch.cat(labels)).item()""")),
}
