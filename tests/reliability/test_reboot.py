"""Reboot: kill every monitor and container process, unmount, wipe the run root and tmp dir.

Then 5 commands at once: the refresh must run exactly once, containers come back as
exited/created, `start --all` starts them again, nothing of the old boot is left.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

import pytest
from conftest import BUSYBOX_IMAGE, _umount_lazy
from pypodcli import Pypod, mounts_under, processes_mentioning, wait_for
from relcheck import LONG_RUNNING, assert_store_sane, kill_after, no_traceback, seeded_rng


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _thaw(pid: int) -> None:
    """A reboot kills paused processes too: thaw their freezer cgroup so SIGKILL lands."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return
    for line in lines:
        _num, controllers, path = line.split(":", 2)
        if "freezer" in controllers.split(","):
            state = f"/sys/fs/cgroup/freezer{path}/freezer.state"
        elif controllers == "":
            state = f"/sys/fs/cgroup/unified{path}/cgroup.freeze"
        else:
            continue
        try:
            with open(state, "w") as f:
                f.write("THAWED" if state.endswith("freezer.state") else "0")
        except OSError:
            pass


def _simulate_reboot(p: Pypod, container_pids: list[int]) -> None:
    for pid in container_pids:
        _thaw(pid)
    for pid in processes_mentioning(str(p.base), names=("conmon",)) + container_pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    wait_for(lambda: not any(_pid_alive(pid) for pid in container_pids), timeout=30,
             message="container processes to die")
    for point in mounts_under(p.root, p.runroot):
        _umount_lazy(point)
    assert mounts_under(p.root, p.runroot) == []
    shutil.rmtree(p.runroot)
    shutil.rmtree(p.tmpdir)


def _refresh_events(p: Pypod) -> int:
    path = os.path.join(p.tmpdir, "events", "events.log")
    count = 0
    with open(path) as f:
        for line in f:
            if line.strip():
                event = json.loads(line)
                count += event.get("Status") == "refresh"
    return count


def test_reboot_refreshes_once(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    rng, _seed = seeded_rng("reboot")
    sleep = LONG_RUNNING.split()
    p.ok("run", "-d", "--name", "always", "--restart", "always", BUSYBOX_IMAGE, *sleep)
    p.ok("run", "-d", "--name", "plain", BUSYBOX_IMAGE, *sleep)
    p.ok("run", "-d", "--name", "paused", BUSYBOX_IMAGE, *sleep)
    p.ok("pause", "paused")
    p.ok("create", "--name", "created", BUSYBOX_IMAGE, *sleep)
    pids = [int(p.ok("inspect", "--format", "{{.State.Pid}}", n).out) for n in ("always", "plain", "paused")]
    # a container being created when the power goes
    kill_after(p.popen("create", "--name", "inflight", BUSYBOX_IMAGE, *sleep, stdout=subprocess.DEVNULL),
               rng.uniform(0.1, 0.6))

    _simulate_reboot(p, pids)

    procs = [p.popen("ps", "-a") for _ in range(5)]
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        assert b"Traceback" not in err, err.decode()
    assert _refresh_events(p) == 1, "refresh must run exactly once after a reboot"
    p.ok("ps", "-a")
    assert _refresh_events(p) == 1, "refresh ran again without a reboot"

    statuses = dict(line.split() for line in p.ok("ps", "-a", "--format", "{{.Names}} {{.State}}").out.splitlines())
    for name in ("always", "plain", "paused"):
        assert statuses[name] in ("exited", "stopped"), statuses
    assert statuses["created"] in ("created", "configured"), statuses
    exits = os.path.join(p.tmpdir, "exits")
    assert not os.path.isdir(exits) or os.listdir(exits) == [], "stale exit files after refresh"

    started = p("start", "--all")
    no_traceback(started)
    assert started.rc == 0, started.describe()
    running = p.ok("ps", "--format", "{{.Names}}").out.split()
    for name in ("always", "plain", "paused", "created"):
        assert name in running, f"{name} did not come back with start --all: {running}"
    p.ok("exec", "always", "true")
    assert_store_sane(p)
    print("reboot: 1 simulated reboot (4 containers + 1 being created), refresh ran once")


@pytest.mark.slow
def test_reboot_repeated(busybox_pypod: Pypod) -> None:
    """Three reboots in a row, each with running containers."""
    p = busybox_pypod
    for _ in range(3):
        p.ok("run", "-d", "--restart", "always", BUSYBOX_IMAGE, *LONG_RUNNING.split())
        ids = p.ok("ps", "-q", "--no-trunc").out.split()
        pids = [int(p.ok("inspect", "--format", "{{.State.Pid}}", i).out) for i in ids]
        _simulate_reboot(p, pids)
        p.ok("ps", "-a")
        assert _refresh_events(p) == 1
        p.ok("start", "--all")
    assert_store_sane(p)
    print("reboot: 3 simulated reboots in a row, refresh ran once after each")
