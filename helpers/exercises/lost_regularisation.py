"""Exercise 8: after each evaluation, training goes back to train mode."""

from ..syllabus import notebook_of
from .diagnoses import epoch_loss_problem, trained_in_eval_mode, validation_problems
from .feedback import Feedback, first_failure, Problem, verdict
from .fixtures import RecordingLoss, watched_fit
from .harness import call, failed, isolated, LearnerError
from .hints import hint_and_solution
from .spies import Watch

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Print model.training at the start of every epoch. Is it the same in epoch 2 as in epoch 1?",
    "A module stays in the mode it was last switched to. Validation switches the model to eval mode, and "
    "nothing in your loop switches it back before the next epoch trains.",
    "Call model.train() at the start of every epoch, inside the epoch loop (or switch back right after "
    "validation, or validate with helpers.evaluate, which restores the mode).",
]
EPOCHS = (3, 4)  # the notebook's 3 epochs, then 4, so that no answer fits one number of epochs


def diagnose(watch: Watch, epochs: int) -> list[Problem]:
    """What the Dropout layer saw in the training and the validation batches of every epoch."""
    found = [problem for problem in [watch.copied()] if problem]
    if watch.epoch != epochs:
        return found + [Problem(f"Your fit went through the training data {watch.epoch} times in {epochs} epochs.",
                                "Each epoch trains once on the training loader, then validates on the validation "
                                "loader.")]
    if not watch.passes(phase="val"):
        return found + [Problem(f"Your fit never went through the validation data in {epochs} epochs.",
                                "Each epoch ends with a pass over the validation loader.")]
    return found + [p for p in [trained_in_eval_mode(watch)] if p] + validation_problems(watch)


def history_problems(history, loss_fn: RecordingLoss, epochs: int) -> list[Problem]:
    """What is wrong with the records fit returned: their number, and each epoch's per-sample mean losses."""
    if not isinstance(history, list) or len(history) != epochs:
        return [Problem(f"Your function returned {history!r:.60}, not a list of {epochs} records, one per epoch.",
                        "fit returns one dict of results per epoch.")]
    return [p for p in [epoch_loss_problem(history, loss_fn)] if p]


def trial(fit_fn, epochs: int) -> Feedback:
    """Fit a model with Dropout for `epochs` epochs of 3 training and 2 validation batches, watching every pass."""
    model, watch, train, val, optimizer = watched_fit(10, 6)
    loss_fn = RecordingLoss(watch)
    try:
        history, problems = call(fit_fn, model, train, val, loss_fn, optimizer, epochs, model=model,
                                 keeps_mode=False)
        problems = diagnose(watch, epochs) + problems
        problems += history_problems(history, loss_fn, epochs) if not problems else []
    except LearnerError as error:
        return failed(error)
    return verdict(problems, "every training batch ran in train mode, every validation batch in eval mode.",
                   [f"{len(watch.passes(phase='train'))} training and {len(watch.passes(phase='val'))} validation "
                    f"batches over {epochs} epochs; each epoch's loss and val_loss are the means over its samples."])


@isolated("fit")
def check(fit_fn) -> Feedback:
    """Fit a model with Dropout for 3 epochs, then for 4, watching every pass."""
    return first_failure(trial(fit_fn, epochs) for epochs in EPOCHS)


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
