"""The container commands as a user types them: podman's exit codes, messages and formats."""

from __future__ import annotations

import json
import os
import subprocess
import time

from pypodcli import Pypod, wait_for

IMAGE = "localhost/busybox:latest"


def run_d(p: Pypod, *args: str) -> str:
    return p.ok("run", "-d", *args).out.strip()


def status(p: Pypod, name: str) -> str:
    return p.ok("inspect", "--format", "{{.State.Status}}", name).out.strip()


def test_exit_codes(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    r = p("run", "--rm", IMAGE, "sh", "-c", "echo hello; exit 3")
    assert r.rc == 3, r
    assert r.out == "hello\n"
    r = p("run", "--rm", "nosuchimage", "true")
    assert r.rc == 125 and r.err.startswith("Error: "), r
    r = p("run", "--rm", IMAGE, "nosuchcmd")
    assert r.rc == 127 and "not found" in r.err, r
    r = p("run", "--rm", IMAGE, "/etc/passwd")
    assert r.rc == 126 and "permission denied" in r.err, r
    assert p.ok("ps", "-aq").out == ""  # --rm removed even the failed ones


def test_run_detached_ps_inspect_stop_rm(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    cid = run_d(p, "--name", "sleeper", "-l", "team=a", IMAGE, "sh", "-c",
                "trap '' TERM; echo ready; while :; do sleep 0.1; done")  # fmt: skip
    assert len(cid) == 64
    wait_for(lambda: "ready" in p("logs", "sleeper").out, message="container ready")

    table = p.ok("ps").out.splitlines()
    assert table[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert table[0].startswith("CONTAINER ID  IMAGE")
    assert table[1].startswith(cid[:12] + "  " + IMAGE)
    assert " Up " in table[1] and table[1].endswith("sleeper")
    assert p.ok("ps", "-q").out.split() == [cid[:12]]
    assert p.ok("ps", "-q", "--no-trunc").out.split() == [cid]
    assert p.ok("ps", "--format", "{{.Names}} {{.State}}").out == "sleeper running\n"
    assert p.ok("ps", "-a", "--filter", "label=team=a", "--format", "{{.ID}}").out.split() == [cid[:12]]
    assert p.ok("ps", "-a", "--filter", "status=exited", "-q").out == ""
    assert json.loads(p.ok("ps", "--format", "json").out)[0]["Id"] == cid
    assert status(p, "sleeper") == "running"
    data = json.loads(p.ok("inspect", "sleeper").out)
    assert data[0]["Id"] == cid and data[0]["Name"] == "sleeper"
    assert list(data[0])[:4] == ["Id", "Created", "Path", "Args"]
    assert data[0]["Config"]["Labels"] == {"team": "a"}

    r = p("rm", "sleeper")
    assert r.rc == 2 and "cannot remove container" in r.err and "without force" in r.err, r

    start = time.monotonic()
    assert p.ok("stop", "-t", "2", "sleeper").out == "sleeper\n"
    assert time.monotonic() - start >= 1.9
    assert status(p, "sleeper") == "exited"
    assert p.ok("inspect", "--format", "{{.State.ExitCode}}", "sleeper").out.strip() == "137"
    assert "Exited (137)" in p.ok("ps", "-a").out
    assert p.ok("ps", "-a", "--filter", "exited=137", "-q").out.split() == [cid[:12]]
    assert p.ok("rm", "sleeper").out == "sleeper\n"
    assert p("container", "exists", "sleeper").rc == 1


def test_errors_for_missing_and_duplicates(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("create", "--name", "dup", IMAGE, "true")
    r = p("create", "--name", "dup", IMAGE, "true")
    assert r.rc == 125 and 'the container name "dup" is already in use' in r.err, r
    r = p("stop", "nosuch")
    assert r.rc == 125 and r.err.strip() == 'Error: no container with name or ID "nosuch" found: no such container'
    assert p("stop", "-i", "nosuch").rc == 0
    r = p("inspect", "nosuch")
    assert r.rc == 125 and r.err.strip() == 'Error: inspecting object: no such object: "nosuch"'
    r = p("start", "nosuch", "dup")
    assert r.rc == 125 and "nosuch" in r.err
    assert r.out == "dup\n"
    r = p("run", "--restart", "foo", IMAGE, "true")
    assert r.rc == 125 and '"foo" is not a valid restart policy' in r.err
    r = p("run", "-v", "/nonexistent-pypod:/x", IMAGE, "true")
    assert r.rc == 125 and r.err.strip() == "Error: statfs /nonexistent-pypod: no such file or directory"


def test_logs_follow_tail_wait_start_attach_restart(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("create", "--name", "talk", IMAGE, "sh", "-c", "echo one; echo two >&2; echo three")
    r = p("start", "-a", "talk")
    assert r.rc == 0 and "one" in r.out and "three" in r.out and "two" in r.err, r
    r = p.ok("logs", "talk")
    assert r.out == "one\nthree\n" and r.err == "two\n"
    tail = p.ok("logs", "--tail", "1", "talk")  # stdout/stderr order in the file is not guaranteed
    assert (tail.out + tail.err) in ("three\n", "two\n"), tail
    assert p.ok("logs", "-n", "talk").out.startswith("talk one\n")
    assert p.ok("wait", "talk").out == "0\n"

    cid = run_d(p, "--name", "slow", IMAGE, "sh", "-c", "echo a; sleep 1; echo b; exit 4")
    follow = p("logs", "-f", "slow", timeout=60)
    assert follow.out == "a\nb\n", follow
    assert p.ok("wait", cid).out == "4\n"
    assert p.ok("logs", "--tail", "1", "slow").out == "b\n"
    assert p.ok("logs", "--tail", "0", "slow").out == ""

    p.ok("restart", "slow")
    wait_for(lambda: p("logs", "slow").out.count("a\n") >= 2, message="restarted container logs")
    assert p.ok("wait", "slow").out == "4\n"
    assert p.ok("inspect", "--format", "{{.State.ExitCode}}", "slow").out.strip() == "4"


def test_cidfile_and_replace(busybox_pypod: Pypod, tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = busybox_pypod
    cidfile = tmp_path / "cid"
    cid = p.ok("create", "--cidfile", str(cidfile), "--name", "r1", IMAGE, "true").out.strip()
    assert cidfile.read_text() == cid
    r = p("create", "--cidfile", str(cidfile), IMAGE, "true")
    assert r.rc == 125 and "container id file exists" in r.err
    cid2 = p.ok("create", "--replace", "--name", "r1", IMAGE, "true").out.strip()
    assert cid2 != cid
    assert p.ok("ps", "-aq", "--no-trunc").out.split() == [cid2]
    assert p.ok("container", "prune", "-f").out.split() == [cid2]


def test_tty_run(busybox_pypod: Pypod) -> None:
    import pty

    p = busybox_pypod
    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(
            p.argv("run", "--rm", "-it", IMAGE, "sh", "-c", "tty; exit 5"),
            stdin=slave, stdout=slave, stderr=slave, env={**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")
                                                          or os.path.join(os.path.dirname(__file__), "..", "..", "src")},
        )  # fmt: skip
        os.close(slave)
        slave = -1
        output = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        assert proc.wait(timeout=60) == 5, output
        assert b"/dev/pts/" in output, output
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)


def _mount_options(path: str) -> list[str] | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == path:  # newer kernels show `volatile` as fsync=volatile
                return [o.removeprefix("fsync=") for o in fields[-1].split(",")]
    return None


def test_rm_containers_get_a_volatile_rootfs(busybox_pypod: Pypod) -> None:
    """As podman: a container removed on exit needs no sync of its writable layer."""
    p = busybox_pypod
    auto = p.ok("run", "--rm", "-d", "--network", "none", IMAGE, "sleep", "100").out.strip()
    kept = p.ok("run", "-d", "--network", "none", IMAGE, "sleep", "100").out.strip()
    try:
        for cid, volatile in ((auto, True), (kept, False)):
            root = p.ok("mount", cid).out.strip()
            p.ok("umount", cid)
            options = _mount_options(root)
            assert options is not None, f"{root} is not mounted"
            assert ("volatile" in options) is volatile, options
        p.ok("stop", "-t", "0", kept)
        p.ok("start", kept)  # mounted again after a clean-up
        assert p.ok("inspect", "--format", "{{.State.Running}}", kept).out.strip() == "true"
    finally:
        p("rm", "-f", "-t", "0", auto, kept)
    wait_for(lambda: auto not in p.ok("ps", "-aq", "--no-trunc").out, 30, message="--rm container removed")
