"""Exercise 8: after each evaluation, training goes back to train mode."""

from torch import nn

from ._common import (
    call, failed, Feedback, hint_and_solution, isolated, LearnerError, Problem, read_number, trained_in_eval_mode,
    validation_problems, verdict, Watch, watched_fit,
)

NOTEBOOK = "08_train_mode"
HINTS = [
    "Print model.training at the start of every epoch. Is it the same in epoch 2 as in epoch 1?",
    "A module stays in the mode it was last switched to. Validation switches the model to eval mode, and "
    "nothing in your loop switches it back before the next epoch trains.",
    "Call model.train() at the start of every epoch, inside the epoch loop (or switch back right after "
    "validation, or validate with helpers.evaluate, which restores the mode).",
]
EPOCHS = 3


def diagnose(watch: Watch) -> list[Problem]:
    """What the Dropout layer saw in the training and the validation batches of every epoch."""
    found = [problem for problem in [watch.copied()] if problem]
    if watch.epoch != EPOCHS:
        return found + [Problem(f"Your fit went through the training data {watch.epoch} times in {EPOCHS} epochs.",
                                "Each epoch trains once on the training loader, then validates on the validation "
                                "loader.")]
    if not watch.passes(phase="val"):
        return found + [Problem(f"Your fit never went through the validation data in {EPOCHS} epochs.",
                                "Each epoch ends with a pass over the validation loader.")]
    return found + [p for p in [trained_in_eval_mode(watch)] if p] + validation_problems(watch)


@isolated("fit")
def check(fit_fn) -> Feedback:
    """Fit a model with Dropout for 3 epochs of 3 training and 2 validation batches, watching every pass."""
    model, watch, train, val, optimizer = watched_fit(12, 8)
    try:
        history, problems = call(fit_fn, model, train, val, nn.CrossEntropyLoss(), optimizer, EPOCHS, model=model,
                                 keeps_mode=False)
    except LearnerError as error:
        return failed(error)
    problems = diagnose(watch) + problems
    if not isinstance(history, list) or len(history) != EPOCHS:
        problems.append(Problem(f"Your function returned {history!r:.60}, not a list of {EPOCHS} records, one "
                                "per epoch.", "fit returns one dict of results per epoch."))
    else:
        try:
            for record in history:
                read_number(record, "loss"), read_number(record, "val_loss")
        except LearnerError as error:
            return failed(error)
    return verdict(problems, "every training batch ran in train mode, every validation batch in eval mode.",
                   [f"{len(watch.passes(phase='train'))} training and {len(watch.passes(phase='val'))} validation "
                    f"batches over {EPOCHS} epochs."])


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
