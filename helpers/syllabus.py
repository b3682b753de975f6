"""The syllabus: every lesson and exercise in order, the one list the course maps, the checks and the tests read.

    python -m helpers.syllabus     # writes the maps in README.md and notebook 1, and each lesson's last cell

CONTRIBUTING.md says how to add a lesson or an exercise."""

from dataclasses import dataclass
from pathlib import Path

import nbformat

from .files import write_atomically

ROOT = Path(__file__).resolve().parent.parent
MAP_START = "<!-- The course map: written by `python -m helpers.syllabus` from helpers/syllabus.py. -->"
MAP_END = "<!-- End of the course map. -->"


@dataclass(frozen=True)
class Lesson:
    """A lesson: its notebook in notebooks/, its titles, what it teaches (README's words, then notebook 1's)."""

    notebook: str
    title: str
    short: str
    goal: str
    what: str
    minutes: str
    run: str  # the kernel time of a full run on a 2-core CPU (scripts/run_notebooks.py prints it)


@dataclass(frozen=True)
class Exercise:
    """An exercise: its notebook in exercises/ and solutions/ (its check in helpers/exercises/<name>.py, the name
    being the notebook's after its number), its title, the lesson it follows, what goes wrong."""

    notebook: str
    title: str
    after: str
    wrong: str
    minutes: str
    run: str

    @property
    def module(self) -> str:
        return self.notebook.split("_", 1)[1]


LESSONS = [
    Lesson("01_start_here", "Start here", "Start here", "check the setup; meet the data and the `helpers` package",
           "the setup, the data, where things are", "10 min", "8 s"),
    Lesson("02_seeding", "Seeding and reproducibility", "Seeding",
           "find every source of randomness and pin it; prove two runs identical",
           "every source of randomness, and how to pin each one", "25 min", "8 s"),
    Lesson("03_devices", "Device selection", "Devices", "pick CPU, CUDA or MPS; keep data where the model is",
           "CPU, CUDA or MPS, and keeping data where the model is", "15 min", "7 s"),
    Lesson("04_train_eval_loop", "The train/eval loop", "The train/eval loop",
           "build a step, an epoch and an evaluation; train vs eval mode, and back to train mode after evaluating; "
           "`no_grad` vs `inference_mode`", "one step, one epoch, train and eval mode", "30 min", "6 s"),
    Lesson("05_metrics", "Metric accumulation", "Metrics",
           "average per sample; TorchMetrics `update/compute/reset`; micro vs macro",
           "averaging per sample, TorchMetrics, micro and macro accuracy", "25 min", "6 s"),
    Lesson("06_putting_it_together", "Putting it together", "Putting it together",
           "`fit`, learning curves, the test set, `predict`, sanity checks and what they miss",
           "`fit`, learning curves, predictions, sanity checks", "20 min", "8 s"),
    Lesson("07_where_the_time_goes", "Where the time goes", "Where the time goes",
           "measuring with CPU time and counts; loader vs model time, per-image transforms, `num_workers`, reads "
           "from the device; `drop_last`, `collate_fn`, `persistent_workers`, `pin_memory`, augmentation",
           "loading vs computing, and the DataLoader's settings", "25 min", "12 s"),
    Lesson("08_checkpoints", "Checkpoints", "Checkpoints",
           "save everything a resume needs; interrupt and resume exactly; `weights_only=True`",
           "saving everything a run needs, and resuming exactly", "20 min", "11 s"),
    Lesson("09_loop_options", "Loop options", "Loop options",
           "learning-rate schedules, gradient clipping, mixed precision, early stopping",
           "schedules, clipping, mixed precision, early stopping", "20 min", "10 s"),
    Lesson("10_many_processes", "Many processes", "Many processes",
           "gradient accumulation; data parallelism with DDP and `torchrun`; `DistributedSampler`, `set_epoch`, the "
           "padding bias in validation; the whole training epoch",
           "gradient accumulation, data parallelism with `torchrun`", "25 min", "20 s"),
    Lesson("11_one_loop_any_model", "One loop, any model", "One loop, any model",
           "the same `fit` trains a CNN (beating the MLP), a regression down to its noise floor and a GRU on padded "
           "sequences; what changes (model, data, loss, metrics) and what does not; counting per target, and what "
           "padding does to a loss and an accuracy that count it",
           "a CNN, a regression and a sequence model with padding through the same `fit`", "25 min", "11 s"),
]

EXERCISES = [
    Exercise("01_moving_validation", "validation that moves", "04_train_eval_loop",
             "validation of a model with Dropout and BatchNorm moves from call to call (two bugs)", "15 min", "5 s"),
    Exercise("02_batch_size_loss", "a loss that depends on the batch size", "05_metrics",
             "the epoch loss depends on how the data is cut into batches", "10 min", "6 s"),
    Exercise("03_overshooting", "training that overshoots", "04_train_eval_loop",
             "training overshoots: the steps grow from batch to batch", "10 min", "6 s"),
    Exercise("04_lagging_accuracy", "accuracy that lags behind", "05_metrics",
             "the accuracy lags behind the model's real one", "10 min", "5 s"),
    Exercise("05_moving_split", "a split that moves", "02_seeding",
             "the validation set changes when the model changes", "15 min", "5 s"),
    Exercise("06_growing_memory", "memory that grows through the epoch", "05_metrics",
             "what the loop keeps grows with every batch", "15 min", "5 s"),
    Exercise("07_another_run", "a resume that is not the same run", "08_checkpoints",
             "a resumed run is not the run that never stopped (two bugs)", "20 min", "6 s"),
    Exercise("08_lost_regularisation", "regularisation that disappears", "04_train_eval_loop",
             "from epoch 2 on, the model trains with Dropout off", "15 min", "5 s"),
    Exercise("09_collapsing_rate", "a learning rate that collapses", "09_loop_options",
             "the learning rate collapses within the first epoch", "15 min", "5 s"),
    Exercise("10_capstone", "debug a whole training run", "09_loop_options",
             "a whole `fit` with three bugs that hide behind each other", "30-45 min", "6 s"),
    Exercise("11_same_order", "every epoch the same order", "10_many_processes",
             "with a `DistributedSampler`, each process draws its share in the same order every epoch", "10 min",
             "7 s"),
    Exercise("12_small_step", "a step too small", "10_many_processes",
             "gradient accumulation trains unlike the larger batch it stands for", "15 min", "6 s"),
    Exercise("13_mean_only", "a regression that only learns the mean", "11_one_loop_any_model",
             "a hand-written regression step learns only the targets' mean",
             "15 min", "6 s"),
    Exercise("14_flattering_accuracy", "accuracy that counts the padding", "11_one_loop_any_model",
             "a sequence evaluation flatters the model, and its numbers change with the batch size (three bugs)",
             "15 min", "6 s"),
    Exercise("15_chance_accuracy", "a sequence model that learns nothing", "11_one_loop_any_model",
             "a sequence tagger trains without an error, but its accuracy stays at chance", "10 min", "6 s"),
]


def number(entry: Lesson | Exercise) -> int:
    """A lesson's or an exercise's number in the course, from 1."""
    return (LESSONS if isinstance(entry, Lesson) else EXERCISES).index(entry) + 1


def lesson(notebook: str) -> Lesson:
    """The lesson of that notebook."""
    return next(each for each in LESSONS if each.notebook == notebook)


def notebook_of(module: str) -> str:
    """The exercise notebook whose check is the module `module` (helpers.exercises.<name>)."""
    return next(each.notebook for each in EXERCISES if each.module == module.rsplit(".", 1)[-1])


def readme_map() -> str:
    """README's two tables: the lessons, then the exercises."""
    rows = ["| # | notebook | learning goal | time | run |", "|---|---|---|---|---|"]
    rows += [f"| {number(each)} | [{each.title}](notebooks/{each.notebook}.ipynb) | {each.goal} | {each.minutes} | "
             f"{each.run} |" for each in LESSONS]
    rows += ["", "| # | exercise (solution) | after notebook | what goes wrong | time | run |",
             "|---|---|---|---|---|---|"]
    rows += [f"| {number(each)} | [{each.title}](exercises/{each.notebook}.ipynb) ([solution](solutions/"
             f"{each.notebook}.ipynb)) | {number(lesson(each.after))} | {each.wrong} | {each.minutes} | {each.run} |"
             for each in EXERCISES]
    return "\n".join(rows)


def notebook_map() -> str:
    """Notebook 1's course map cell."""
    rows = ["## The course map", "",
            "Work through the lessons in order. Each one ends with a link to the next lesson and to the exercises",
            "that practise it; the times are for reading and running the cells.", "",
            "| lesson | what you learn | time |", "|---|---|---|"]
    rows += [f"| [{number(each)}. {each.short}]({each.notebook}.ipynb) | {each.what} | {each.minutes} |"
             for each in LESSONS]
    rows += ["", "Each exercise hands you a loop with a bug in it; its worked answer is in `solutions/`.", "",
             "| exercise | after lesson | time |", "|---|---|---|"]
    rows += [f"| [{number(each)}. {each.title[0].upper() + each.title[1:]}](../exercises/{each.notebook}.ipynb) | "
             f"{number(lesson(each.after))} | {each.minutes} |" for each in EXERCISES]
    return "\n".join(rows)


def closing(lesson: Lesson) -> str:
    """A lesson's last cell: the exercises that follow it, then the next lesson."""
    links = [f"[exercise {number(each)}](../exercises/{each.notebook}.ipynb) ({each.title})"
             for each in EXERCISES if each.after == lesson.notebook]
    parts = [f"Now try {', '.join(links[:-1]) + ' and ' if len(links) > 1 else ''}{links[-1]}."] if links else []
    if lesson is LESSONS[-1]:
        parts.append(f"That is the end of the lessons: the [course map]({LESSONS[0].notebook}.ipynb) in notebook 1 "
                     "lists them all.")
    else:
        following = LESSONS[number(lesson)]
        parts.append(f"Next: **[{number(following)}. {following.title}]({following.notebook}.ipynb)**: "
                     f"{following.what}.")
    return "\n\n".join(parts)


def write() -> list[str]:
    """Write the maps and the lessons' last cells from the lists above; the files that changed."""
    changed = []
    readme = ROOT / "README.md"
    text = readme.read_text()
    start, end = text.index(MAP_START) + len(MAP_START), text.index(MAP_END)
    if text[start:end] != f"\n{readme_map()}\n":
        readme.write_text(f"{text[:start]}\n{readme_map()}\n{text[end:]}")
        changed.append("README.md")
    for each in LESSONS:
        path = ROOT / "notebooks" / f"{each.notebook}.ipynb"
        notebook = nbformat.read(path, as_version=4)
        cells = {id(notebook.cells[-1]): closing(each)}
        if each is LESSONS[0]:
            cells[id(map_cell(notebook))] = notebook_map()
        stale = [cell for cell in notebook.cells if id(cell) in cells and cell.source != cells[id(cell)]]
        for cell in stale:
            cell.source = cells[id(cell)]
        if stale:
            write_atomically(path, nbformat.writes(notebook).rstrip("\n").encode() + b"\n")
            changed.append(f"notebooks/{path.name}")
    return changed


def map_cell(notebook) -> dict:
    """Notebook 1's course map cell."""
    return next(cell for cell in notebook.cells if cell.source.startswith("## The course map"))


if __name__ == "__main__":
    print("\n".join(f"wrote {name}" for name in write()) or "the maps were up to date")
