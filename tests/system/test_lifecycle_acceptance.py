"""Acceptance points of the container life cycle, through the CLI as a user types it.

Restart policies, --requires, a simulated reboot, OCI hooks, an interactive terminal, events,
the default confinement of a container and the `system` commands. Exit codes and `logs -f`
are in test_container_cli.py.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import time
from pathlib import Path

from pypodcli import SRC_DIR, Pypod, mounts_under, processes_mentioning, wait_for

IMAGE = "localhost/busybox:latest"
DEADLINE = 60.0
MNT_DETACH = 2


def inspect(p: Pypod, name: str, template: str) -> str:
    return p.ok("inspect", "--format", template, name).out.strip()


def restarts_and_status(p: Pypod, name: str) -> tuple[int, str]:
    count, status = inspect(p, name, "{{.RestartCount}} {{.State.Status}}").split()
    return int(count), status


def test_restart_policies(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("run", "-d", "--name", "flaky", "--restart", "on-failure:3", IMAGE, "sh", "-c", "exit 1")
    p.ok("run", "-d", "--name", "always", "--restart", "always", IMAGE, "sh", "-c", "exit 0")

    wait_for(lambda: restarts_and_status(p, "flaky") == (3, "exited"), DEADLINE,
             message="on-failure:3 container restarted 3 times, then exited")  # fmt: skip
    assert inspect(p, "flaky", "{{.State.ExitCode}}") == "1"
    assert inspect(p, "flaky", "{{.RestartCount}}") == "3"

    wait_for(lambda: restarts_and_status(p, "always")[0] >= 2, DEADLINE,
             message="always container restarted at least twice")  # fmt: skip
    assert p.ok("stop", "-t", "0", "always").out == "always\n"
    stopped = restarts_and_status(p, "always")
    assert stopped[1] == "exited"
    # Watch it for a while: a container the user stopped is not restarted by its policy.
    watch_until = time.monotonic() + 3
    while time.monotonic() < watch_until:
        assert restarts_and_status(p, "always") == stopped
    assert p.ok("ps", "-q").out == ""


def test_requires_starts_dependency_and_guards_removal(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    dep = p.ok("create", "--name", "dep", IMAGE, "sleep", "1000").out.strip()
    app = p.ok("create", "--name", "app", "--requires", "dep", IMAGE, "sleep", "1000").out.strip()
    assert p.ok("start", "app").out == "app\n"
    assert inspect(p, "dep", "{{.State.Status}}") == "running"
    assert inspect(p, "app", "{{.State.Status}}") == "running"

    expected = (f"Error: container {dep} has dependent containers which must be removed before it: "
                f"{app}: container already exists")  # fmt: skip
    for args in (["rm", "dep"], ["rm", "-f", "dep"]):
        r = p(*args)
        assert r.rc == 125 and r.err.strip() == expected, r
    assert inspect(p, "dep", "{{.State.Status}}") == "running"

    assert p.ok("rm", "--depend", "-f", "-t", "0", "dep").out.split() == [app, dep]
    assert p.ok("ps", "-aq").out == ""


def _umount_lazy(path: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(path.encode(), MNT_DETACH) != 0:
        subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie is dead too
    except OSError:
        return True


def test_simulated_reboot(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("run", "-d", "--name", "up", IMAGE, "sleep", "1000")
    p.ok("create", "--name", "new", IMAGE, "echo", "again")
    ctr_pid = int(inspect(p, "up", "{{.State.Pid}}"))
    assert ctr_pid > 0

    # The "power cut": every process of the engine dies, mounts and the tmpfs run dirs vanish.
    victims = processes_mentioning(str(p.base), names=("conmon",)) + [ctr_pid]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in victims:
        wait_for(lambda: _gone(pid), 30, message=f"process {pid} killed")
    for point in mounts_under(p.root, p.runroot, p.tmpdir):
        _umount_lazy(point)
    assert mounts_under(p.root, p.runroot, p.tmpdir) == []
    shutil.rmtree(p.runroot)
    shutil.rmtree(p.tmpdir)

    rows = dict(line.split(" ", 1) for line in p.ok("ps", "-a", "--format", "{{.Names}} {{.Status}}").out.splitlines())
    assert set(rows) == {"up", "new"}
    assert rows["up"].startswith(("Exited", "Created")), rows
    assert rows["new"] == "Created", rows
    assert p.ok("ps", "-q").out == ""

    assert p.ok("start", "up", "new").out.split() == ["up", "new"]
    assert inspect(p, "up", "{{.State.Status}}") == "running"
    assert p.ok("wait", "new").out == "0\n"
    assert p.ok("logs", "new").out == "again\n"
    assert p.ok("stop", "-t", "0", "up").out == "up\n"


def test_oci_hooks(busybox_pypod: Pypod, tmp_path: Path) -> None:
    p = busybox_pypod
    hooks, out = tmp_path / "hooks", tmp_path / "out"
    hooks.mkdir()
    out.mkdir()
    scripts = {
        "precreate": f'#!/bin/sh\ntee "{out}/spec.json.tmp"\nmv "{out}/spec.json.tmp" "{out}/spec.json"\n',
        "poststop": f'#!/bin/sh\ncat > "{out}/state.json.tmp"\nmv "{out}/state.json.tmp" "{out}/state.json"\n',
    }
    for stage, body in scripts.items():
        script = tmp_path / f"{stage}.sh"
        script.write_text(body)
        script.chmod(0o755)
        hook = {"version": "1.0.0", "hook": {"path": str(script)}, "when": {"always": True}, "stages": [stage]}
        (hooks / f"{stage}.json").write_text(json.dumps(hook))

    r = p.ok("--hooks-dir", str(hooks), "run", "--rm", "--name", "hooked", IMAGE, "echo", "hooked")
    assert r.out == "hooked\n"
    spec = json.loads((out / "spec.json").read_text())
    assert spec["process"]["args"] == ["echo", "hooked"]
    wait_for(lambda: (out / "state.json").exists(), 30, message="poststop hook wrote the state")
    state = json.loads((out / "state.json").read_text())
    ids = p.ok("events", "--stream=false", "--filter", "container=hooked", "--format", "{{.ID}}").out.split()
    assert ids and state["id"] == ids[0]
    assert state["id"].startswith(spec["hostname"])
    assert state["status"] == "stopped"


def _read_until(fd: int, needle: bytes, buf: bytearray, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while needle not in buf and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: every holder of the terminal's other side is gone
                return needle in buf
            if not chunk:
                break
            buf += chunk
    return needle in buf


def test_interactive_terminal(busybox_pypod: Pypod) -> None:
    import pty

    p = busybox_pypod
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": SRC_DIR, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.Popen(p.argv("run", "-it", "--rm", IMAGE, "sh"), stdin=slave, stdout=slave,
                            stderr=slave, env=env, start_new_session=True)  # fmt: skip
    os.close(slave)
    buf = bytearray()
    try:
        os.write(master, b"echo $((6*7))\n")
        assert _read_until(master, b"42\r\n", buf, DEADLINE), bytes(buf)
        os.write(master, b"exit\n")
        _read_until(master, b"\0never\0", buf, DEADLINE)  # drain until the terminal closes
        assert proc.wait(timeout=DEADLINE) == 0, bytes(buf)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert p.ok("ps", "-aq").out == ""


def test_events_of_a_run(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    assert p("run", "--rm", "--name", "ev", IMAGE, "sh", "-c", "exit 3").rc == 3
    statuses = p.ok("events", "--stream=false", "--filter", "container=ev", "--format", "{{.Status}}").out.split()
    wanted = ["init", "start", "died", "cleanup", "remove"]
    positions = [statuses.index(s) for s in wanted if s in statuses]
    assert len(positions) == len(wanted) and positions == sorted(positions), statuses
    assert statuses[0] == "create" and statuses[-1] == "remove", statuses

    lines = p.ok("events", "--stream=false", "--filter", "container=ev", "--format", "json").out.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["Status"] for e in events] == statuses
    assert len({e["ID"] for e in events}) == 1 and len(events[0]["ID"]) == 64
    assert all(e["Type"] == "container" and e["Name"] == "ev" and e["Image"] == IMAGE for e in events)
    died = next(e for e in events if e["Status"] == "died")
    assert died["ContainerExitCode"] == 3
    assert p.ok("events", "--stream=false", "--filter", "container=nosuch").out == ""


CONFINEMENT_SCRIPT = r"""
grep -E '^(CapEff|Seccomp):' /proc/self/status
for f in /proc/keys /proc/timer_list /proc/kcore /proc/sched_debug; do
    [ -e "$f" ] && echo "size $f $(cat "$f" 2>/dev/null | wc -c)"
done
echo "acpi [$(ls -A /proc/acpi 2>/dev/null)]"
if mount -t tmpfs none /mnt 2>/dev/null; then echo "mount allowed"; else echo "mount refused"; fi
if echo x > /proc/sys/kernel/domainname 2>/dev/null; then echo "sysctl writable"; else echo "sysctl read-only"; fi
grep ' /proc/sys ' /proc/self/mountinfo
"""


def test_default_confinement(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    out = p.ok("run", "--rm", IMAGE, "sh", "-c", CONFINEMENT_SCRIPT).out
    lines = out.splitlines()
    assert "CapEff:\t00000000800405fb" in lines, out
    assert "Seccomp:\t2" in lines, out
    for line in lines:
        if line.startswith("size "):
            assert line.endswith(" 0"), f"masked path is readable: {line}"
    assert "acpi []" in lines, out
    assert "mount refused" in lines and "sysctl read-only" in lines, out
    proc_sys = next(line for line in lines if " /proc/sys " in line)
    assert "ro" in proc_sys.split(" /proc/sys ")[1].split()[0].split(","), proc_sys


def test_system_commands(busybox_pypod: Pypod) -> None:
    from pypod import __version__

    p = busybox_pypod
    assert p.ok("--version").out == f"pypod version {__version__}\n"
    version = p.ok("version").out
    assert version.startswith("Client:") and __version__ in version
    assert p.ok("version", "--format", "{{.Client.Version}}").out == f"{__version__}\n"

    assert p.ok("info", "--format", "{{.Store.GraphRoot}}").out == f"{p.root}\n"
    assert p.ok("info", "--format", "{{.Store.RunRoot}} {{.Host.OCIRuntime.Name}}").out.split()[0] == p.runroot
    info = json.loads(p.ok("info", "--format", "json").out)
    assert info["store"]["graphRoot"] == p.root and info["store"]["imageStore"]["number"] == 1
    assert "graphRoot: " + p.root in p.ok("info").out

    done = p.ok("run", "--name", "done", IMAGE, "true").out
    assert done == ""
    up = p.ok("run", "-d", "--name", "up", IMAGE, "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done").out.strip()
    df = p.ok("system", "df").out.splitlines()
    assert df[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert df[1].split()[:3] == ["Images", "1", "1"] and df[2].split()[:3] == ["Containers", "2", "1"], df
    assert df[3].startswith("Local Volumes")

    done_id = inspect(p, "done", "{{.Id}}")
    prune = p.ok("system", "prune", "-f").out.splitlines()
    assert prune[:2] == ["Deleted Containers", done_id] and prune[-1].startswith("Total reclaimed space: "), prune
    assert p.ok("ps", "-aq", "--no-trunc").out.split() == [up]
    assert p.ok("images", "-q").out != ""  # a tagged image in use is kept

    assert p("system", "renumber").rc == 0
    assert p.ok("stop", "-t", "0", "up").out == "up\n"  # its lock still works
    assert p.ok("start", "up").out == "up\n"
    assert p("system", "migrate").rc == 0
    assert inspect(p, "up", "{{.State.Status}}") == "exited"  # migrate stops running containers

    p.ok("volume", "create", "vol")
    assert p.ok("system", "reset", "-f").rc == 0
    assert p.ok("ps", "-aq").out == ""
    assert p.ok("images", "-q").out == ""
    assert p.ok("volume", "ls", "-q").out == ""
    assert mounts_under(p.root, p.runroot) == []
    # conmon exits just after writing the exit file that `reset` waited for
    wait_for(lambda: processes_mentioning(str(p.base)) == [], timeout=30, message="conmon to exit")

