"""Invariants the reliability suites check after injecting a fault.

``assert_store_sane(p)`` is the one full check: the database is intact, the CLI answers,
surviving containers can be started and removed, and removing everything leaves nothing
behind (no container, image, mount, monitor process, held lock or orphaned layer).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import random
import sqlite3
import subprocess
import time

from pypodcli import Pypod, Result, mounts_under, processes_mentioning, wait_for

LONG_RUNNING = "sleep 1000"


def seeded_rng(name: str) -> tuple[random.Random, int]:
    """A Random seeded from $PYPOD_RELIABILITY_SEED or the clock; the seed is printed."""
    seed = int(os.environ.get("PYPOD_RELIABILITY_SEED") or time.time_ns() % 1_000_000_007)
    print(f"{name}: seed {seed} (replay with PYPOD_RELIABILITY_SEED={seed})")
    return random.Random(seed), seed


def command_available(p: Pypod, *words: str) -> bool:
    """True when ``pypod WORDS --help`` is a known command (the CLI may still be growing)."""
    result = p(*words, "--help", timeout=60)
    return result.rc == 0 and "Traceback" not in result.err


def no_traceback(result: Result) -> None:
    assert "Traceback" not in result.err, result.describe()


def integrity_ok(p: Pypod) -> None:
    db = os.path.join(p.root, "state.db")
    if not os.path.exists(db):
        return
    con = sqlite3.connect(db, timeout=30)
    try:
        rows = con.execute("PRAGMA integrity_check").fetchall()
    finally:
        con.close()
    assert rows == [("ok",)], f"state.db integrity_check: {rows}"


def container_ids(p: Pypod) -> list[str]:
    result = p("ps", "-aq", "--no-trunc")
    no_traceback(result)
    assert result.rc == 0, result.describe()
    return result.out.split()


def image_ids(p: Pypod) -> list[str]:
    result = p("images", "-q")
    no_traceback(result)
    assert result.rc == 0, result.describe()
    return result.out.split()


def inspect_one(p: Pypod, ctr: str) -> dict | None:
    result = p("container", "inspect", ctr)
    if result.rc != 0:
        return None
    data = json.loads(result.out)
    return data[0] if data else None


def _keeps_running(info: dict) -> bool:
    cmd = (info.get("Config") or {}).get("Cmd") or []
    return " ".join(cmd) == LONG_RUNNING


def held_locks(p: Pypod) -> list[str]:
    """Lock files in <tmpdir>/locks that someone (not us) holds."""
    held = []
    locks_dir = os.path.join(p.tmpdir, "locks")
    if not os.path.isdir(locks_dir):
        return held
    for name in os.listdir(locks_dir):
        path = os.path.join(locks_dir, name)
        if not os.path.isfile(path):
            continue
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                held.append(path)
        finally:
            os.close(fd)
    return held


def orphaned_storage(p: Pypod) -> list[str]:
    """Layer directories and container dirs that the metadata does not know."""
    storage = os.path.join(p.root, "storage")
    orphans: list[str] = []
    for driver, driver_dir, meta_dir in (
        ("overlay", os.path.join(storage, "overlay"), os.path.join(storage, "overlay-layers")),
        ("vfs", os.path.join(storage, "vfs", "dir"), os.path.join(storage, "vfs-layers")),
    ):
        if not os.path.isdir(driver_dir):
            continue
        try:
            with open(os.path.join(meta_dir, "layers.json")) as f:
                known = {e["id"] for e in json.load(f)}
        except FileNotFoundError:
            known = set()
        for name in os.listdir(driver_dir):
            if name == "l" and driver == "overlay":
                continue
            if name not in known:
                orphans.append(os.path.join(driver_dir, name))
        if os.path.isdir(meta_dir):
            for name in os.listdir(meta_dir):
                if name in ("layers.json", "layers.lock") or name.endswith(".tmp"):
                    continue
                if name.split(".", 1)[0] not in known:
                    orphans.append(os.path.join(meta_dir, name))
    return orphans


def known_layers(p: Pypod) -> list[str]:
    """Layer IDs recorded in the layer metadata."""
    ids: list[str] = []
    for meta_dir in ("overlay-layers", "vfs-layers"):
        try:
            with open(os.path.join(p.root, "storage", meta_dir, "layers.json")) as f:
                ids += [e["id"] for e in json.load(f)]
        except FileNotFoundError:
            continue
    return ids


def leftover_container_dirs(p: Pypod) -> list[str]:
    found = []
    for base in (os.path.join(p.root, "storage", "overlay-containers"),
                 os.path.join(p.root, "storage", "vfs-containers"),
                 os.path.join(p.runroot, "overlay-containers")):
        if os.path.isdir(base):
            found += [os.path.join(base, n) for n in os.listdir(base) if len(n) == 64]
    return found


def assert_store_sane(p: Pypod, *, start_survivors: bool = True) -> None:
    """The full after-fault check (see the module docstring)."""
    integrity_ok(p)
    ids = container_ids(p)
    image_ids(p)
    if start_survivors:
        for ctr in ids:
            info = inspect_one(p, ctr)
            if info is None or not _keeps_running(info):
                continue
            status = (info.get("State") or {}).get("Status")
            if status in ("paused",):
                p.ok("unpause", ctr)
            elif status != "running":
                started = p("start", ctr)
                no_traceback(started)
                assert started.rc == 0, f"survivor {ctr[:12]} ({status}) cannot start:\n{started.describe()}"
            removed = p("rm", "-f", "-t", "0", ctr)
            assert removed.rc == 0 or "no such container" in removed.err, removed.describe()
    rm_all = p("rm", "-af", "-t", "0")
    no_traceback(rm_all)
    assert rm_all.rc == 0, rm_all.describe()
    rmi_all = p("rmi", "-af")
    no_traceback(rmi_all)
    assert rmi_all.rc == 0, rmi_all.describe()
    assert container_ids(p) == [], "containers left after rm -af"
    assert image_ids(p) == [], "images left after rmi -af"
    integrity_ok(p)
    # conmon and its exit command finish asynchronously after rm: wait with a deadline
    wait_for(lambda: not processes_of(p), timeout=60,
             message=f"conmon/runc/cleanup processes of {p.base} to exit")
    assert not processes_mentioning(str(p.base), names=("conmon", "runc", "runc:[2:INIT]"))
    # the graph root itself may be a test's tmpfs (test_faults); anything below it may not
    mounts = [m for m in mounts_under(p.root, p.runroot) if m != os.path.realpath(p.root)]
    assert mounts == [], f"mounts left (netns ones: D16): {mounts}"
    assert held_locks(p) == [], f"locks still held: {held_locks(p)}"
    assert orphaned_storage(p) == [], f"orphaned layer data: {orphaned_storage(p)}"
    assert known_layers(p) == [], f"unreferenced layers left after rm -af/rmi -af (D7): {known_layers(p)}"
    assert leftover_container_dirs(p) == [], f"container dirs left: {leftover_container_dirs(p)}"


def kill_after(proc: subprocess.Popen, delay: float) -> tuple[bool, int, str]:
    """SIGKILL ``proc`` after ``delay`` s unless it finished; (killed, exit code, stderr)."""
    try:
        _out, err = proc.communicate(timeout=delay)
        return False, proc.returncode, (err or b"").decode(errors="replace")
    except subprocess.TimeoutExpired:
        proc.kill()
        _out, err = proc.communicate(timeout=60)
        return True, proc.returncode, (err or b"").decode(errors="replace")


def processes_of(p: Pypod) -> list[int]:
    """PIDs of processes (other than us) whose command line mentions p's directories."""
    me = os.getpid()
    needle = str(p.base).encode()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if needle in f.read():
                    pids.append(int(entry))
        except OSError:
            continue
    return pids
