"""One answer graded in its own process (started by helpers.grade): limits, the course's setup, the answer, the check.

The verdict goes back through a pipe the grader opened, never through what the answer prints; the objects the
check relies on are captured before the answer runs and compared after, and any change makes the row `review`.
"""

import importlib
import io
import json
import os
import resource
import sys
from contextlib import redirect_stderr, redirect_stdout

SEEN: list[str] = []  # files the answer opened that it had no business opening
MEMORY_BYTES = 6 * 2**30
CPU_SECONDS = 300
PROCESSES = 4096  # counted over all of the user's processes, so generous; the timeout ends the rest
GRADING_SEED = 1618033  # not the notebooks' seed: an answer tuned to what check() showed in class meets new inputs


def limit() -> None:
    """Cap memory, CPU time and the number of processes, so one answer cannot take the machine down."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS))
    resource.setrlimit(resource.RLIMIT_NPROC, (PROCESSES, PROCESSES))


def watched() -> dict[str, object]:
    """The objects a check relies on, by name: what an answer must leave as it found them."""
    import torch
    import torchmetrics
    from torch import nn

    from . import exercises
    from .exercises import _common

    names = {"nn.Module.eval": nn.Module.eval, "nn.Module.train": nn.Module.train,
             "Tensor.backward": torch.Tensor.backward, "Metric.reset": torchmetrics.Metric.reset,
             "Metric.update": torchmetrics.Metric.update, "Optimizer.step": torch.optim.Optimizer.step,
             "Optimizer.zero_grad": torch.optim.Optimizer.zero_grad, "Feedback": _common.Feedback,
             "Feedback.__bool__": _common.Feedback.__bool__, "verdict": _common.verdict}
    for name, module in exercises.EXERCISES.items():
        names[f"{name}.check"] = module.check
        names[f"sys.modules[{module.__name__!r}]"] = sys.modules.get(module.__name__)
    names["sys.modules['helpers.exercises']"] = sys.modules.get("helpers.exercises")
    return names


def watch_files(home: str) -> None:
    """Note any file the answer opens among the solutions, or writes outside its working folder."""
    course = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    solutions = os.path.join(course, "solutions")

    def hook(event: str, args: tuple) -> None:
        if event != "open" or not isinstance(args[0], str):
            return
        path, mode = os.path.abspath(args[0]), str(args[1] or "r")
        writes = any(flag in mode for flag in "wax+")
        if path.startswith(solutions) or (writes and not path.startswith(home)):
            SEEN.append(f"{path} ({'to write' if writes else 'to read'})")
    sys.addaudithook(hook)


def run(job: dict) -> dict:
    """Run the setup and the answer, then the check the grader imported; the verdict as a dict."""
    module = importlib.import_module(f"helpers.exercises.{_module_name(job['notebook'])}")
    from .exercises import _common

    _common.SEED = GRADING_SEED
    check, before = module.check, watched()
    namespace = {"__name__": "__main__"}
    printed = io.StringIO()
    watch_files(os.getcwd())
    try:
        with redirect_stdout(printed), redirect_stderr(printed):
            for code in job["setup"] + job["answer"]:
                exec(compile(code, "<answer>", "exec"), namespace)
            function = namespace.get(check.takes)
            if function is None:
                first = f"the answer defines no function {check.takes}"
                return {"verdict": "error", "first_line": first, "text": first}
            feedback = check(function)
    except BaseException as error:  # noqa: BLE001  (an answer may raise anything, SystemExit included)
        first = f"{type(error).__name__}: {str(error)[:200]}"
        return {"verdict": "error", "first_line": first, "text": first}
    changed = [name for name, value in watched().items() if before[name] is not value]
    if changed:
        first = f"the answer replaced {', '.join(changed)}"
        return {"verdict": "review", "first_line": first, "text": first}
    if type(feedback) is not before["Feedback"]:
        first = f"the check returned a {type(feedback).__name__}"
        return {"verdict": "review", "first_line": first, "text": first}
    if SEEN:
        first = f"the answer opened {SEEN[0]}"
        return {"verdict": "review", "first_line": first, "text": first + "\n" + repr(feedback)}
    text = repr(feedback)
    return {"verdict": "pass" if feedback.passed else "not yet", "first_line": text.splitlines()[0], "text": text}


def _module_name(notebook: str) -> str:
    """The check module of an exercise notebook."""
    from .exercises import EXERCISES

    return EXERCISES[notebook].__name__.rsplit(".", 1)[1]


if __name__ == "__main__":
    reply_fd = int(sys.argv[1])
    job = json.loads(sys.stdin.read())
    limit()
    result = run(job)
    with os.fdopen(reply_fd, "w") as reply:
        reply.write(json.dumps(result))
    os._exit(0)
