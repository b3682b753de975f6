"""Files written whole or not at all, and held by one process at a time."""

import os
import signal
import subprocess
import sys

import pytest

from helpers.files import InUse, held, leftovers, write_atomically

HOLD = """
import sys
from helpers.files import held
with held(sys.argv[1]):
    print("held", flush=True)
    sys.stdin.read()
"""


def test_a_write_replaces_the_file_whole_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "h.json"
    path.write_text("old")
    write_atomically(path, b"new")
    assert path.read_bytes() == b"new" and os.listdir(tmp_path) == ["h.json"]


def test_a_link_planted_where_a_temporary_file_could_go_is_not_followed(tmp_path):
    target = tmp_path / "precious"
    target.write_text("keep me")
    for name in (".h.json.tmp", ".h.json.tmp.tmp"):  # the fixed names a simpler write would use
        (tmp_path / name).symlink_to(target)
    write_atomically(tmp_path / "h.json", b"[]")
    assert target.read_text() == "keep me" and (tmp_path / "h.json").read_bytes() == b"[]"


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "h.json"
    path.write_text("old")

    def fail(*_):
        raise OSError("no rename")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="no rename"):
        write_atomically(path, b"new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["h.json"]


def test_leftovers_are_only_the_unfinished_writes_of_that_file(tmp_path):
    mine = [".c.ckpt.k2j4x9ab.tmp", ".c.ckpt.0a9_b123.tmp"]
    others = [".c.ckpt.best.k2j4x9ab.tmp", ".other.ckpt.k2j4x9ab.tmp", "c.ckpt.notes", ".c.ckpt.lock", ".c.ckpt.x.tmp"]
    for name in mine + others:
        (tmp_path / name).write_text("half")
    assert sorted(p.name for p in leftovers(tmp_path / "c.ckpt")) == sorted(mine)


def holder(path) -> subprocess.Popen:
    """Another process that holds `path` until its stdin closes."""
    child = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    assert child.stdout.readline() == "held\n"
    return child


def test_a_held_file_is_refused_to_another_process_until_it_lets_go(tmp_path):
    path = tmp_path / "run.ckpt"
    child = holder(path)
    with pytest.raises(InUse, match=rf"^{path} is in use by another run \(process {child.pid}\)$"):
        with held(path):
            pass
    child.communicate("")
    with held(path):
        assert (tmp_path / ".run.ckpt.lock").read_text() == str(os.getpid())
    assert os.listdir(tmp_path) == [], "the lock file goes with the run"


def test_a_killed_holder_lets_go(tmp_path):
    path = tmp_path / "run.ckpt"
    child = holder(path)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    with held(path):
        pass


def test_a_link_is_written_through_and_held_as_the_file_it_points_to(tmp_path):
    (tmp_path / "real.ckpt").write_bytes(b"old")
    (tmp_path / "link.ckpt").symlink_to(tmp_path / "real.ckpt")
    child = holder(tmp_path / "real.ckpt")
    with pytest.raises(InUse, match="link.ckpt is in use by another run"):
        with held(tmp_path / "link.ckpt"):
            pass
    child.communicate("")
    write_atomically(tmp_path / "link.ckpt", b"new")
    assert (tmp_path / "link.ckpt").is_symlink() and (tmp_path / "real.ckpt").read_bytes() == b"new"
