"""Exercise 10: a whole training run with three bugs that hide behind each other."""

from ..metrics import Accuracy
from ..syllabus import notebook_of
from .diagnoses import close, epoch_loss_problem, trained_in_eval_mode, validation_problems
from .feedback import Feedback, first_failure, Problem
from .fixtures import Batch, RecordingLoss, watched_fit
from .harness import call, failed, isolated, LearnerError, read_number
from .hints import hint_and_solution
from .spies import Watch

NOTEBOOK = notebook_of(__name__)
HINTS = [
    "Which of the numbers fit reports can you recount yourself, and which state of the model does each one "
    "depend on?",
    "Recount one thing at a time: the mode of the model in every epoch, the mean loss over the samples of an "
    "epoch, the accuracy of the validation predictions alone. One bug comes from the mode validation leaves "
    "behind (exercise 8), one from how batch losses are "
    "averaged when the last batch is short (exercise 2), and one from a metric that keeps counting across "
    "phases (exercise 4).",
    "Call model.train() at the start of every epoch; sum loss.item() * len(targets) and divide by the number "
    "of samples; give validation its own metric (val_metric = metric.clone()) or reset the metric before "
    "validation.",
]
EPOCHS = 3
CASES = [(10, 6), (13, 7)]  # (training, validation) samples: batches of 4, 4, 2 and 4, 2; then 4, 4, 4, 1 and 4, 3


def train_mode_bug(watch: Watch, history: list, loss_fn: RecordingLoss) -> Problem | None:
    problem = trained_in_eval_mode(watch)
    return problem and Problem(problem.symptom, "Look at what the model's mode is when each epoch starts.")


def loss_bug(watch: Watch, history: list, loss_fn: RecordingLoss) -> Problem | None:
    problem = epoch_loss_problem(history, loss_fn)
    return problem and Problem(problem.symptom, "Every sample should count once in the mean.")


def accuracy(batches: list[Batch]) -> float:
    """The fraction of correct predictions in these batches."""
    return sum(b.correct for b in batches) / max(sum(b.size for b in batches), 1)


def explanations(loss_fn: RecordingLoss, phase: str, epoch: int, got: float) -> set[str]:
    """Which wrong ways of counting a phase's accuracy give `got`: "batches" (the mean of batch accuracies),
    "outside" (predictions of other phases counted too)."""
    batches = [b for b in loss_fn.batches if b.phase == phase and b.epoch == epoch]
    upto = loss_fn.batches[:loss_fn.batches.index(batches[-1]) + 1]
    found = set()
    if close(got, sum(b.correct / b.size for b in batches) / len(batches)):
        found.add("batches")
    if any(close(got, accuracy(seen)) for seen in ([b for b in upto if b.epoch == epoch], upto)):
        found.add("outside")
    return found


def metric_bug(watch: Watch, history: list, loss_fn: RecordingLoss) -> Problem | None:
    for phase, key in (("val", "val_accuracy"), ("train", "accuracy")):
        got = [read_number(record, key) for record in history]
        wrong = [e for e in range(1, len(history) + 1) if not close(got[e - 1], loss_fn.recount(phase, e)[2])]
        if not wrong:
            continue
        epoch, which = wrong[0], "validation" if phase == "val" else "training"
        batches = [b for b in loss_fn.batches if b.phase == phase and b.epoch == epoch]
        # the explanation that holds in every wrong epoch (one epoch alone may fit two)
        common = set.intersection(*(explanations(loss_fn, phase, e, got[e - 1]) for e in wrong))
        if "outside" in common:
            why = "The metric counted predictions from outside that phase of that epoch."
        elif "batches" in common:
            why = (f"That is the mean of the batches' accuracies: the batch of {batches[-1].size} samples weighed "
                   f"as much as a batch of {batches[0].size}. Count correct predictions and samples over the whole "
                   "phase.")
        else:
            why = f"Each of the {which} predictions of that epoch should count once, and nothing else."
        return Problem(f"Epoch {epoch}'s {key} is {got[epoch - 1]:.4f}, but the {which} predictions of that epoch "
                       f"alone score {loss_fn.recount(phase, epoch)[2]:.4f}.", why)
    return None


BUGS = [("the model trains in train mode every epoch", train_mode_bug),
        ("each loss is the mean over samples", loss_bug),
        ("each phase's accuracy counts that phase's predictions only", metric_bug)]


def trial(fit_fn, train_samples: int, val_samples: int) -> Feedback:
    """Fit a model with Dropout for 3 epochs (batches of 4) and recount every number it reports."""
    model, watch, train, val, optimizer = watched_fit(train_samples, val_samples)
    loss_fn = RecordingLoss(watch)
    try:
        history, changed = call(fit_fn, model, train, val, loss_fn, optimizer, Accuracy(), EPOCHS, model=model,
                                keeps_mode=False)
        if not isinstance(history, list) or len(history) != EPOCHS:
            raise LearnerError(f"Your function should return a list of {EPOCHS} dicts, one per epoch, got "
                               f"{history!r:.60}.")
        found = [(name, bug(watch, history, loss_fn)) for name, bug in BUGS]
    except LearnerError as error:
        return failed(error)
    remaining = [problem for _, problem in found if problem]
    fixed = [name for name, problem in found if not problem]
    others = [p for p in [watch.copied()] if p] + validation_problems(watch) + changed
    if not remaining and not others:
        return Feedback(True, "all three bugs are fixed.", ["Every number fit reports matches a recount: "
                                                            + "; ".join(fixed) + "."])
    first = remaining[0] if remaining else others.pop(0)
    details = [first.why, *(f"Also: {p.symptom} {p.why}" for p in others)]
    if fixed:
        details.append("Fixed so far: " + "; ".join(fixed) + ".")
    remain = (f"{len(remaining)} of the 3 bugs remain{'s' if len(remaining) == 1 else ''}." if remaining else
              "The 3 bugs are fixed, but something else is wrong.")
    return Feedback(False, f"{remain} {first.symptom}", details)


@isolated("fit")
def check(fit_fn) -> Feedback:
    """Fit on 10 training and 6 validation samples, then on 13 and 7, recounting every number fit reports."""
    return first_failure(trial(fit_fn, *case) for case in CASES)


hint, solution = hint_and_solution(NOTEBOOK, HINTS)
