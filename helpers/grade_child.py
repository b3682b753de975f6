"""One answer graded in its own process (started by helpers.grade): limits, the course's setup, the answer, the check.

The answer and the check run in a thread of their own; the main thread holds what the answer must not reach:
the grader's token, which the verdict must carry back, and the objects the check relies on, captured before the
answer runs and compared after (any change makes the row `review`). An audit hook refuses, and notes, what an
answer has no business doing: starting processes, reading the interpreter's memory, opening files outside its
working folder and the installed libraries, or anything at all from another thread than its own.
"""

import _thread
import builtins
import ctypes
import json
import os
import resource
import sys
import time
from contextlib import redirect_stderr, redirect_stdout

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn
from tqdm import tqdm

from . import exercises
from .exercises import _common

MEMORY_BYTES = 6 * 2**30
CPU_SECONDS = 300
FILE_BYTES = 2**30  # the largest file an answer may write, its stderr included
PROCESSES = 4096  # counted over all of the user's processes, so generous; no process can be started anyway
GRADING_SEED = 1618033  # not the notebooks' seed: an answer tuned to what check() showed in class meets new inputs
TEXT_CHARS = 8_000  # the most of a verdict's text sent back: the reply fits the pipe's buffer
REFUSED = {"os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "subprocess.Popen",
           "pty.spawn", "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
           "sys.settrace", "sys.setprofile", "ctypes.string_at", "ctypes.wstring_at", "ctypes.cdata", "socket.connect",
           "socket.bind"}
CHANGES = {"os.remove": (0,), "os.rename": (0, 1), "os.rmdir": (0,), "os.mkdir": (0,), "os.truncate": (0,),
           "shutil.rmtree": (0,), "os.link": (1,), "os.symlink": (1,), "os.chmod": (0,)}
MEMORY_FUNCTIONS = {ctypes.cast(function, ctypes.c_void_p).value for function in (ctypes.memmove, ctypes.memset)}
WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def limit() -> None:
    """Cap memory, CPU time, file size and the number of processes, so one answer cannot take the machine down."""
    for kind, value in ((resource.RLIMIT_AS, MEMORY_BYTES), (resource.RLIMIT_CPU, CPU_SECONDS),
                        (resource.RLIMIT_FSIZE, FILE_BYTES), (resource.RLIMIT_NPROC, PROCESSES)):
        resource.setrlimit(kind, (value, value))


def namespaces() -> dict[str, dict]:
    """The namespaces a check and this grader rely on, by name: what an answer must leave as it found them."""
    spaces = {"builtins": vars(builtins), "sys": vars(sys), "sys.modules": sys.modules, "torch": vars(torch),
              "torch.nn.functional": vars(F), "nn.Module": vars(nn.Module), "Tensor": vars(torch.Tensor),
              "TensorBase": vars(torch._C.TensorBase), "Optimizer": vars(torch.optim.Optimizer),
              "Metric": vars(torchmetrics.Metric), "Feedback": vars(_common.Feedback), "_common": vars(_common),
              "helpers.exercises": vars(exercises), "EXERCISES": exercises.EXERCISES, "grade_child": globals(),
              "json": vars(json), "os": vars(os), "time": vars(time)}
    spaces.update((module.__name__, vars(module)) for module in exercises.EXERCISES.values())
    return spaces


def snapshot(spaces: dict[str, dict]) -> list[tuple[str, str, dict, object]]:
    """Every name in those namespaces with the object it stands for now."""
    return [(name, key, space, value) for name, space in spaces.items() for key, value in list(space.items())]


def replaced(taken: list[tuple[str, str, dict, object]]) -> list[str]:
    """The names that no longer stand for the object they did (calls nothing an answer could have replaced)."""
    return [f"{name}.{key}" for name, key, space, value in taken if space.get(key, taken) is not value]


def readable() -> tuple[str, ...]:
    """The folders an answer may read from besides its own: the installed Python and libraries, the course's
    helpers and data, and the system's (never the course's solutions, the submissions or the grades)."""
    course = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
    folders = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix, os.path.join(course, "helpers"),
               os.path.join(course, "data"), "/dev", "/proc", "/sys", "/etc", "/usr"}
    folders |= {path for path in sys.path if "-packages" in path or path.endswith(".zip")}
    return tuple(os.path.join(os.path.realpath(folder), "") for folder in folders)


def refusal(event: str, args: tuple, home: str, folders: tuple[str, ...]) -> str | None:
    """Why the answer may not do this, or None when it may."""
    if event in REFUSED or _raw_memory(event, args):
        return f"{event} (the answer may not start processes or reach the grader's memory)"
    if event in ("os.kill", "os.killpg") and args[0] != os.getpid():
        return f"{event} {args[0]} (the answer may signal its own process only)"
    if event == "open" and isinstance(args[0], (str, bytes)):
        path = _real(args[0])
        writes = any(flag in str(args[1] or "") for flag in "wax+") or bool((args[2] or 0) & WRITES)
        if writes and not path.startswith(home) and path != os.path.join(os.devnull, ""):
            return f"open {path[:-1]} to write"
        if not writes and not path.startswith((home, *folders)):
            return f"open {path[:-1]} to read"
    for place in CHANGES.get(event, ()):
        if isinstance(args[place], (str, bytes)) and not _real(args[place]).startswith(home):
            return f"{event} {os.fsdecode(args[place])}"
    return None


def _real(path: str | bytes) -> str:
    """The path with links resolved and a closing separator, so that a folder counts as inside itself."""
    return os.path.join(os.path.realpath(os.fsdecode(path)), "")


def _raw_memory(event: str, args: tuple) -> bool:
    """Whether ctypes is asked for the interpreter itself, the C library, or raw memory (a library torch loads is not)."""
    if event == "ctypes.dlopen":
        return args[0] is None or any(name in str(args[0]) for name in ("libc.", "libc-", "libpython", "libSystem"))
    if event == "ctypes.dlsym":
        return str(args[1]).startswith(("Py", "_Py"))
    return event == "ctypes.call_function" and args[0] in MEMORY_FUNCTIONS


def guard(seen: list[str], worker: int) -> None:
    """Refuse, and note in `seen`, what the worker thread may not do, and anything at all from another thread."""
    home, folders = os.path.join(os.path.realpath(os.getcwd()), ""), readable()

    def hook(event: str, args: tuple) -> None:
        why = refusal(event, args, home, folders) if _thread.get_ident() == worker else f"{event} from another thread"
        if why:
            seen.append(why)
            raise PermissionError(f"grading does not allow this: {why}")
    sys.addaudithook(hook)


def run(job: dict) -> tuple[object, str]:
    """Run the setup and the answer, then the check; the check's feedback, or why there is none."""
    module = exercises.EXERCISES[job["notebook"]]
    namespace = {"__name__": "__main__"}
    try:
        with open(os.devnull, "w") as sink, redirect_stdout(sink), redirect_stderr(sink):
            for code in job["setup"] + job["answer"]:
                exec(compile(code, "<answer>", "exec"), namespace)
            function = namespace.get(module.check.takes)
            if function is None:
                return None, f"the answer defines no function {module.check.takes}"
            return module.check(function), ""
    except BaseException as error:  # noqa: BLE001  (an answer may raise anything, SystemExit included)
        return None, f"{type(error).__name__}: {str(error)[:200]}"


def judge(job: dict) -> dict:
    """Run the answer in a thread of its own while this one watches; the verdict as a dict.

    A refused action ends the grading at once; otherwise the answer's thread is judged when it has finished."""
    _common.SEED = GRADING_SEED
    tqdm.monitor_interval = 0  # no monitor thread: a thread still running after the answer means the answer started it
    taken, changes, pause, seen, outcome = snapshot(namespaces()), replaced, time.sleep, [], []
    started, finished = _thread.allocate_lock(), _thread.allocate_lock()
    started.acquire()
    finished.acquire()

    def work() -> None:
        started.acquire()  # waits for the guard
        try:
            outcome.append(run(job))
        finally:
            finished.release()
    guard(seen, _thread.start_new_thread(work, ()))
    started.release()
    while not finished.acquire(timeout=0.05) and not seen:
        pass
    for _ in range(100):  # the answer's thread ends just after it says it has finished
        if not _thread._count() or seen:
            break
        pause(0.01)
    changed = changes(taken)  # first: until this says nothing was replaced, nothing else here can be trusted
    if seen:  # the answer's thread may still be running, with its output redirected
        first = f"the answer tried to {seen[0]}"
    elif changed:
        first = f"the answer replaced {', '.join(changed[:5])}"
    elif len(outcome) != 1 or _thread._count():
        first = "the answer changed the grader's result or left a thread running"
    elif outcome[0][1]:
        return {"verdict": "error", "first_line": outcome[0][1], "text": outcome[0][1]}
    elif type(outcome[0][0]) is not _common.Feedback:
        first = f"the check returned a {type(outcome[0][0]).__name__}"
    else:
        text = repr(outcome[0][0])[:TEXT_CHARS]
        return {"verdict": "pass" if outcome[0][0].passed else "not yet",
                "first_line": text.splitlines()[0][:300], "text": text}
    return {"verdict": "review", "first_line": first, "text": first}


def main() -> None:
    """Read the job from stdin, judge it, and write the verdict with the grader's token to the reply pipe."""
    reply_fd, job = int(sys.argv[1]), json.loads(sys.stdin.read())
    token, dumps, write, end = job.pop("token"), json.dumps, os.write, os._exit  # held here, out of the answer's reach
    limit()
    reply = dumps({**judge(job), "token": token}, ensure_ascii=False).encode()
    while reply:
        reply = reply[write(reply_fd, reply):]
    end(0)


if __name__ == "__main__":
    main()
