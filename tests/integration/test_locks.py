"""Lock manager and reboot refresh across real processes."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from pypodcli import SRC_DIR, wait_for
from pypod.errors import Timeout
from pypod.libpod.config import EngineConfig
from pypod.libpod.lock.manager import LockManager
from pypod.libpod.refresh import boot_id, ensure_refreshed

COUNTER_WORKER = """
import sys
from pypod.libpod.lock.manager import LockManager
locks_dir, counter, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
manager = LockManager(locks_dir)
for _ in range(rounds):
    with manager.lock(7):
        with manager.lock(7):  # re-entrant inside one thread
            with open(counter, "r+") as f:
                value = int(f.read() or 0)
                f.seek(0)
                f.write(str(value + 1))
                f.truncate()
"""

HOLDER = """
import subprocess, sys
from pypod.libpod.lock.manager import LockManager
manager = LockManager(sys.argv[1])
manager.acquire(3)
# A child that outlives us must not keep the lock (descriptors are close-on-exec).
child = subprocess.Popen(["sleep", "600"], close_fds=False)
print(child.pid, flush=True)
sys.stdin.read()
"""

REFRESHER = """
import os, sys, time
from pypod.libpod.config import EngineConfig
from pypod.libpod.refresh import ensure_refreshed
tmpdir, go, log = sys.argv[1], sys.argv[2], sys.argv[3]
deadline = time.monotonic() + 60
while not os.path.exists(go):
    if time.monotonic() > deadline:
        sys.exit("never told to go")
    time.sleep(0.005)

def refresh():
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(fd, f"{os.getpid()}\\n".encode())
    os.close(fd)

cfg = EngineConfig(root=tmpdir + "/root", runroot=tmpdir + "/run", tmpdir=tmpdir + "/tmp")
print(ensure_refreshed(cfg, refresh), flush=True)
"""


def python(code: str, *args: str, **kwargs: object) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=SRC_DIR)
    return subprocess.Popen([sys.executable, "-c", code, *args], env=env, **kwargs)  # type: ignore[call-overload]


def test_eight_processes_count_exactly(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    procs = [python(COUNTER_WORKER, str(tmp_path / "locks"), str(counter), "200") for _ in range(8)]
    try:
        codes = [p.wait(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert codes == [0] * 8
    assert counter.read_text() == "1600"


def test_lock_files_are_private(tmp_path: Path) -> None:
    manager = LockManager(str(tmp_path / "locks"))
    with manager.lock(0), manager.runtime_lock():
        pass
    assert stat.S_IMODE(os.stat(tmp_path / "locks").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "locks" / "0").st_mode) == 0o600
    assert (tmp_path / "locks" / "runtime").exists()


def test_killed_holder_frees_its_lock_at_once(tmp_path: Path) -> None:
    locks_dir = str(tmp_path / "locks")
    holder = python(HOLDER, locks_dir, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    grandchild = 0
    try:
        grandchild = int(holder.stdout.readline())  # printed once the lock is held
        manager = LockManager(locks_dir)
        assert manager.try_lock(3) is False
        with pytest.raises(Timeout):
            manager.acquire(3, timeout=0.2)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        manager.acquire(3, timeout=20)  # free although the holder's child still runs
        assert os.path.exists(f"/proc/{grandchild}")
        manager.release(3)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        if grandchild:
            try:
                os.kill(grandchild, signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_reentrant_per_thread_and_exclusive_between_threads(tmp_path: Path) -> None:
    manager = LockManager(str(tmp_path / "locks"))
    manager.acquire(5)
    assert manager.try_lock(5) is True  # same thread: re-entry
    seen: list[bool] = []

    def other() -> None:
        seen.append(manager.try_lock(5))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [False]
    manager.release(5)
    assert manager.is_held(5)
    manager.release(5)
    assert not manager.is_held(5)

    got = threading.Event()
    release = threading.Event()

    def holder() -> None:
        with manager.lock(5):
            got.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    try:
        assert got.wait(30)
        assert manager.try_lock(5) is False
    finally:
        release.set()
        t.join()
    assert manager.try_lock(5) is True
    manager.release(5)


def test_refresh_runs_exactly_once_with_five_processes(tmp_path: Path) -> None:
    go, log = tmp_path / "go", tmp_path / "refreshed"
    procs = [python(REFRESHER, str(tmp_path), str(go), str(log), stdout=subprocess.PIPE, text=True) for _ in range(5)]
    try:
        go.touch()
        outputs = [p.communicate(timeout=120)[0].strip() for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert [p.returncode for p in procs] == [0] * 5
    assert sorted(outputs) == ["False"] * 4 + ["True"]
    assert len(log.read_text().splitlines()) == 1
    assert (tmp_path / "tmp" / "alive").read_text().strip() == boot_id()


def test_refresh_again_after_alive_vanishes(tmp_path: Path) -> None:
    cfg = EngineConfig(root=str(tmp_path / "r"), runroot=str(tmp_path / "rr"), tmpdir=str(tmp_path / "t"))
    calls: list[int] = []
    assert ensure_refreshed(cfg, lambda: calls.append(1)) is True
    assert ensure_refreshed(cfg, lambda: calls.append(1)) is False
    os.unlink(cfg.alive_path)  # what a reboot does to the tmpfs
    assert ensure_refreshed(cfg, lambda: calls.append(1)) is True
    assert calls == [1, 1]


def test_failed_refresh_is_retried(tmp_path: Path) -> None:
    cfg = EngineConfig(root=str(tmp_path / "r"), runroot=str(tmp_path / "rr"), tmpdir=str(tmp_path / "t"))

    def boom() -> None:
        raise RuntimeError("refresh failed")

    with pytest.raises(RuntimeError):
        ensure_refreshed(cfg, boom)
    assert not os.path.exists(cfg.alive_path)
    assert ensure_refreshed(cfg, lambda: None) is True


def test_wait_for_helper_times_out_with_message() -> None:
    with pytest.raises(AssertionError, match="the impossible"):
        wait_for(lambda: False, timeout=0.1, message="the impossible")
    assert wait_for(lambda: 42, timeout=1) == 42
