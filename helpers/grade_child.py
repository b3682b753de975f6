"""One answer graded in its own process (started by helpers.grade): limits, the course's setup, the answer, the check.

The answer and the check run in a thread of their own; the main thread holds what the answer must not reach:
the grader's token, which the verdict must carry back, and what every loaded module's and class's names stood for
before the answer ran, compared after (any change makes the row `review`). An audit hook refuses, and notes, what an
answer has no business doing: starting processes, reaching frames or memory it did not make, opening files outside
its working folder and the installed libraries, or anything at all from another thread than its own.
"""

import _thread
import collections
import enum
import json
import marshal
import os
import resource
import signal
import sys
import time
import types
import typing
from contextlib import redirect_stderr, redirect_stdout

import torch
from tqdm import tqdm

from . import exercises
from .exercises import harness
from .exercises.feedback import Feedback

MEMORY_BYTES = 6 * 2**30
CPU_SECONDS = 300
FILE_BYTES = 2**30  # the largest file an answer may write, its stderr included
PROCESSES = 4096  # counted over all of the user's processes, so generous; no process can be started anyway
GRADING_SEED = 1618033  # not the notebooks' seed: an answer tuned to what check() showed in class meets new inputs
TEXT_CHARS = 8_000  # the most of a verdict's text sent back: the reply fits the pipe's buffer
REFUSED = {"os.fork", "os.forkpty", "os.posix_spawn", "os.spawn", "os.exec", "os.system", "subprocess.Popen",
           "pty.spawn", "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
           "sys.settrace", "sys.setprofile", "ctypes.string_at", "ctypes.wstring_at", "ctypes.cdata",
           "ctypes.cdata/buffer", "ctypes.dlsym", "socket.connect", "socket.bind", "os.chdir", "os.symlink", "os.link"}
CHANGES = {"os.remove": (0,), "os.rename": (0, 1), "os.rmdir": (0,), "os.mkdir": (0,), "os.truncate": (0,),
           "shutil.rmtree": (0,), "os.chmod": (0,)}
PRIVATE = ("mem", "pagemap", "map_files", "environ", "kmem", "port")  # files under /proc and /dev that are memory
ASKERS = tuple(module.__file__ for module in (collections, typing, enum))  # ask for their caller's module name only
COURSE_CODE = os.path.dirname(os.path.realpath(__file__))  # helpers/: the checks and this grader
WRITES = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def limit() -> None:
    """Cap memory, CPU time, file size and the number of processes, so one answer cannot take the machine down."""
    for kind, value in ((resource.RLIMIT_AS, MEMORY_BYTES), (resource.RLIMIT_CPU, CPU_SECONDS),
                        (resource.RLIMIT_FSIZE, FILE_BYTES), (resource.RLIMIT_NPROC, PROCESSES)):
        resource.setrlimit(kind, (value, value))


def namespaces() -> dict[str, dict]:
    """Every loaded module's namespace and every class found in one, by name, with sys.modules itself."""
    spaces, classes = {"sys.modules": sys.modules}, set()
    for name, module in list(sys.modules.items()):
        space = getattr(module, "__dict__", None)
        if not isinstance(space, dict):
            continue
        spaces[name] = space
        for value in list(space.values()):
            if isinstance(value, type) and id(value) not in classes:
                classes.add(id(value))
                spaces[f"{value.__module__}.{value.__qualname__}"] = vars(value)
    return spaces


def settle() -> None:
    """Make now the change torch makes to each optimizer class on its first use (wrapping `step`), so that only
    the answer's own changes show."""
    classes = [torch.optim.Optimizer]
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        torch.optim.Optimizer._patch_step_function(cls.__new__(cls))


def snapshot(spaces: dict[str, dict]) -> tuple[list, list]:
    """What an answer must leave as it found it: each name that stands for code (or anything at all in the course's
    own modules) with its object, and the names each class has."""
    taken = [(name, key, space, value) for name, space in spaces.items() for key, value in list(space.items())
             if name.startswith("helpers") or callable(value) or isinstance(value, (property, classmethod,
                                                                                    staticmethod, types.ModuleType))]
    keys = [(name, space, frozenset(space)) for name, space in spaces.items() if not isinstance(space, dict)]
    return taken, keys


def replaced(taken: list, keys: list) -> list[str]:
    """The names that stand for another object than they did, or were added to a class (calls nothing an answer
    could have replaced)."""
    return [f"{name}.{key}" for name, key, space, value in taken if space.get(key, taken) is not value] + \
        [f"{name}.{key} (added)" for name, space, before in keys for key in space if key not in before]


def states() -> dict[str, object]:
    """What an answer could change without replacing a name: the course's own data (as marshal bytes), what its
    functions' closures hold, and torch's global module hooks and function or dispatch modes."""
    found = {"torch function modes": torch._C._len_torch_function_stack(),
             "torch dispatch modes": torch._C._len_torch_dispatch_stack()}
    found.update((f"torch.nn.modules.module.{key}", len(value)) for key, value in
                 list(vars(torch.nn.modules.module).items()) if key.startswith("_global_") and isinstance(value, dict))
    for name, module in list(sys.modules.items()):
        for key, value in list(vars(module).items()) if name.startswith("helpers") else ():
            if isinstance(value, types.FunctionType):
                found[f"{name}.{key} (closure)"] = tuple(_contents(cell) for cell in value.__closure__ or ())
            elif not callable(value):
                try:
                    found[f"{name}.{key}"] = marshal.dumps(value)
                except ValueError:  # holds objects marshal cannot write: compared by identity only
                    pass
    return found


def _contents(cell: types.CellType) -> object:
    """What a closure's cell holds (the cell itself while it is empty)."""
    try:
        return cell.cell_contents
    except ValueError:
        return cell


def _same(before: object, now: object) -> bool:
    """The same bytes or count, or a tuple of the very same objects (compared without calling an answer's code)."""
    if isinstance(now, tuple):
        return isinstance(before, tuple) and len(before) == len(now) and all(a is b for a, b in zip(before, now))
    return type(before) is type(now) and before == now


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
        return f"{event} (the answer may not start processes, reach the grader's memory or move out of its folder)"
    if _frame(event, args):
        return f"{event} (the answer may not reach the check's or the grader's frames)"
    if event == "object.__setattr__" and os.path.isfile(getattr(getattr(args[0], "__code__", None), "co_filename", "")):
        return f"{event} {args[1]} (the answer may change its own functions only)"
    if event in ("os.kill", "os.killpg") and args[0] != os.getpid():
        return f"{event} {args[0]} (the answer may signal its own process only)"
    if event in CHANGES or event == "open":
        places = CHANGES.get(event, (0,))
        paths = [os.fsdecode(args[place]) for place in places if isinstance(args[place], (str, bytes))]
        if any(not os.path.isabs(path) and ".." in path.split(os.sep) for path in paths):
            return f"{event} {paths[0]} (a relative path up out of a folder)"  # from a folder's descriptor, anywhere
    if event == "open" and isinstance(args[0], (str, bytes)):
        path = _real(args[0])
        if path.startswith(("/proc/", "/dev/")) and os.path.basename(path[:-1]) in PRIVATE:
            return f"open {path[:-1]} (memory)"
        if not path.startswith(home) and os.path.isdir(path):
            return f"open the folder {path[:-1]}"
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


def _frame(event: str, args: tuple) -> bool:
    """Whether this hands out a frame through a traceback, generator or coroutine."""
    return event == "object.__getattr__" and args[1] in ("tb_frame", "gi_frame", "cr_frame", "ag_frame")


def _asked_by_answer(given: types.FrameType, frame: types.FrameType | None, home: str) -> str | None:
    """Why `given` may not be handed to the code that asked for it (`frame`): the answer's code (made by compile, or
    a file in its folder) or a function it called directly (inspect.currentframe, traceback.walk_stack), or a frame
    of the check or the grader. The standard library asking for its caller's module (namedtuple, TypeVar, Enum) may."""
    if frame is not None and frame.f_code.co_filename in ASKERS:
        return None
    if given.f_code.co_filename == "<answer>" or given.f_code.co_filename.startswith(COURSE_CODE):
        return "sys._getframe (the answer may not reach the check's or the grader's frames)"
    for _ in range(3):
        name = frame.f_code.co_filename if frame is not None else ""
        if frame is not None and (name.startswith(home) or not os.path.isfile(name)):
            return "sys._getframe (the answer may not reach the check's or the grader's frames)"
        frame = frame.f_back if frame is not None else None
    return None


def _raw_memory(event: str, args: tuple) -> bool:
    """Whether ctypes is asked to load the interpreter or the C library (a library torch loads is fine)."""
    return event == "ctypes.dlopen" and (args[0] is None or any(name in str(args[0]) for name in
                                                                 ("libc.", "libc-", "libpython", "libSystem")))


def guard(seen: list[str], worker: int) -> None:
    """Refuse, and note in `seen`, what the worker thread may not do, and anything from another thread but this
    one's marshal.dumps (for `states`)."""
    home, folders, looking, main = os.path.join(os.path.realpath(os.getcwd()), ""), readable(), [], _thread.get_ident()

    def hook(event: str, args: tuple) -> None:
        if _thread.get_ident() == main and event == "marshal.dumps":
            return
        if _thread.get_ident() != worker:
            why = f"{event} from another thread"
        elif looking:  # the hook's own look at the stack, below
            return
        elif event == "sys._getframe":
            looking.append(event)
            try:
                why = _asked_by_answer(args[0], sys._getframe(1), home)
            finally:
                looking.clear()
        else:
            why = refusal(event, args, home, folders)
        if why:
            seen.append(why)
            raise PermissionError(f"grading does not allow this: {why}")
    sys.addaudithook(hook)


def run(job: dict, set_up: "_thread.LockType", armed: "_thread.LockType") -> tuple[str, str]:
    """The course's setup, then (once the guard is on) the answer and the check: a verdict and its text, both
    settled in this thread as soon as the check returns."""
    module, namespace = exercises.EXERCISES[job["notebook"]], {"__name__": "__main__"}
    try:
        with open(os.devnull, "w") as sink, redirect_stdout(sink), redirect_stderr(sink):
            try:
                for code in job["setup"]:
                    exec(compile(code, "<setup>", "exec"), namespace)
            finally:
                set_up.release()
            armed.acquire()
            for code in job["answer"]:
                exec(compile(code, "<answer>", "exec"), namespace)
            function = namespace.get(module.check.takes)
            if function is None:
                return "error", f"the answer defines no function {module.check.takes}"
            feedback = module.check(function)
            modes = torch._C._len_torch_function_stack() + torch._C._len_torch_dispatch_stack()
            if modes:
                return "review", f"the answer left {modes} torch mode(s) on (TorchFunctionMode, TorchDispatchMode)"
            if type(feedback) is not Feedback:
                return "review", f"the check returned a {type(feedback).__name__}"
            return ("pass" if feedback.passed is True else "not yet"), repr(feedback)[:TEXT_CHARS]
    except BaseException as error:  # noqa: BLE001  (an answer may raise anything, SystemExit included)
        return "error", f"{type(error).__name__}: {str(error)[:200]}"


def judge(job: dict) -> dict[str, str]:
    """Run the answer in a thread of its own while this one watches; the verdict as a dict.

    A refused action ends the grading at once; otherwise the answer's thread is judged when it has finished."""
    harness.SEED = GRADING_SEED
    tqdm.monitor_interval = 0  # no monitor thread: a thread still running after the answer means the answer started it
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # so that the answer cannot interrupt this thread
    changes, pause, seen, outcome = replaced, time.sleep, [], []
    set_up, armed, finished = _thread.allocate_lock(), _thread.allocate_lock(), _thread.allocate_lock()
    for lock in (set_up, armed, finished):
        lock.acquire()

    def work() -> None:
        try:
            outcome.append(run(job, set_up, armed))
        finally:
            finished.release()
    worker = _thread.start_new_thread(work, ())
    set_up.acquire()
    settle()
    taken, keys = snapshot(namespaces())
    held = states()
    guard(seen, worker)
    armed.release()
    while not finished.acquire(timeout=0.05) and not seen:
        pass
    for _ in range(100):  # the answer's thread ends just after it says it has finished
        if not _thread._count() or seen:
            break
        pause(0.01)
    changed = changes(taken, keys)  # first: until this says nothing was replaced, nothing else here can be trusted
    if seen:  # the answer's thread may still be running, with its output redirected
        first = f"the answer tried to {seen[0]}"
    elif changed or (changed := [name for name, value in states().items() if name in held and
                                 not _same(held[name], value)]):
        first = f"the answer replaced {', '.join(changed[:5])}"
    elif len(outcome) != 1 or _thread._count():
        first = "the answer changed the grader's result or left a thread running"
    else:
        verdict, text = outcome[0]
        return {"verdict": verdict, "first_line": text.splitlines()[0][:300] if text else "", "text": text}
    return {"verdict": "review", "first_line": first, "text": first}


def main() -> None:
    """Read the job from stdin, judge it, and write the verdict with the grader's token to the reply pipe."""
    reply_fd, job = int(sys.argv[1]), json.loads(sys.stdin.read())
    token, quote, write, end = job.pop("token"), json.encoder.encode_basestring_ascii, os.write, os._exit
    limit()
    result = {**judge(job), "token": token}  # written out with functions held from before the answer ran
    reply = ("{" + ", ".join(quote(key) + ": " + quote(value) for key, value in result.items()) + "}").encode()
    while reply:
        reply = reply[write(reply_fd, reply):]
    end(0)


if __name__ == "__main__":
    main()
