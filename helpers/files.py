"""Files: written whole or not at all, and held by one run at a time."""

import contextlib
import os
import re
import tempfile
from pathlib import Path


UMASK = os.umask(0o022)
os.umask(UMASK)  # read once: the permissions a file written here gets, as open() would give it


class InUse(OSError):
    """Another process holds the file."""


def write_atomically(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all: a temporary file of its own beside it, then a rename (through a
    symbolic link, to the file it points to)."""
    path = Path(os.path.realpath(path))
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes files only their owner can read
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)  # nothing half-written is left behind
        raise


def leftovers(path: str | Path) -> list[Path]:
    """The temporary files of writes to `path` that never finished (the process was killed mid-write)."""
    path = Path(os.path.realpath(path))
    mine = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")  # mkstemp's names: 8 characters
    return [other for other in path.parent.iterdir() if mine.fullmatch(other.name)]


@contextlib.contextmanager
def held(path: str | Path):
    """Hold `path` for this process inside the block; InUse when another process holds it.

    The lock is the operating system's on a file beside `path`, so a process that dies gives it up."""
    real = Path(os.path.realpath(path))  # one lock for a file, whatever link leads to it
    lock = real.with_name(f".{real.name}.lock")
    while True:
        handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            _lock(handle)
        except OSError:
            holder = _holder(handle)
            os.close(handle)
            raise InUse(f"{path} is in use by another run{holder}") from None
        with contextlib.suppress(OSError):
            if os.path.samestat(os.fstat(handle), os.stat(lock)):
                break  # not a lock file its last holder removed while this process waited to lock it
        os.close(handle)
    try:
        os.ftruncate(handle, 0)
        os.write(handle, str(os.getpid()).encode())
        yield
    finally:
        with contextlib.suppress(OSError):  # Windows keeps an open file: the next run reuses it
            lock.unlink()
        os.close(handle)


def _lock(handle: int) -> None:
    """Lock an open file without waiting; OSError when another process has it locked."""
    if os.name == "nt":
        import msvcrt
        msvcrt.locking(handle, msvcrt.LK_NBLCK, 1)
    else:
        import fcntl
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _holder(handle: int) -> str:
    """' (process N)' for the process that wrote its number into the lock file, or '' when it cannot be read."""
    with contextlib.suppress(OSError, ValueError):
        os.lseek(handle, 0, os.SEEK_SET)
        return f" (process {int(os.read(handle, 20))})"
    return ""
