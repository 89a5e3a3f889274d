"""exec, attach, healthchecks (one scheduler per runtime), top, stats, port, checkpoint — via the CLI."""

from __future__ import annotations

import os
import select
import signal
import socket
import time

import pytest
from pypodcli import Pypod, wait_for

IMAGE = "localhost/busybox:latest"
DEADLINE = 30


def scheduler_pids(p: Pypod) -> list[int]:
    """PIDs of `healthcheck scheduler` processes of this pypod's roots."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if "healthcheck scheduler" in cmdline and p.root in cmdline and state != b"Z":
            found.append(int(entry))
    return found


@pytest.fixture
def pp(busybox_pypod: Pypod):  # type: ignore[no-untyped-def]
    """busybox_pypod, plus: no healthcheck scheduler of these roots survives the test."""
    yield busybox_pypod
    busybox_pypod("rm", "-af", "-t", "0", timeout=60)
    try:
        wait_for(lambda: not scheduler_pids(busybox_pypod), timeout=DEADLINE, message="scheduler exit")
    finally:
        for pid in scheduler_pids(busybox_pypod):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_sleeper(p: Pypod, name: str, *extra: str) -> str:
    return p.ok("run", "-d", "--name", name, *extra, IMAGE, "sleep", "1000").out.strip()


def health_status(p: Pypod, name: str) -> str:
    return p.ok("inspect", "--format", "{{.State.Health.Status}}", name).out.strip()


# --- exec ------------------------------------------------------------------------------------------
def test_exec_exit_codes_env_user_workdir_stdin(pp: Pypod, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run_sleeper(pp, "ex")
    assert pp("exec", "ex", "sh", "-c", "exit 3").rc == 3
    assert pp.ok("exec", "ex", "echo", "hi").out == "hi\n"

    out = pp.ok("exec", "-e", "FOO=bar", "ex", "sh", "-c", "echo $FOO").out
    assert out == "bar\n"
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROMFILE=yes\n")
    assert pp.ok("exec", "--env-file", str(env_file), "ex", "sh", "-c", "echo $FROMFILE").out == "yes\n"

    assert pp.ok("exec", "-u", "nobody", "ex", "id", "-u").out.strip() == "65534"
    assert pp.ok("exec", "-w", "/tmp", "ex", "pwd").out.strip() == "/tmp"

    assert pp.ok("exec", "-i", "ex", "cat", input="some input\n").out == "some input\n"
    # without -i the process gets no stdin
    assert pp.ok("exec", "ex", "cat", input="ignored\n").out == ""

    missing = pp("exec", "ex", "nosuch")
    assert missing.rc == 127, missing
    assert "executable file not found in $PATH" in missing.err
    assert "OCI runtime attempted to invoke a command that was not found" in missing.err
    # one line, as podman: the runtime's own copy of its error is not printed as well
    assert missing.err.count("\n") == 1 and missing.err.startswith("Error: "), missing.err
    not_exec = pp("exec", "ex", "/etc/passwd")
    assert not_exec.rc == 126, not_exec
    assert not_exec.err.count("\n") == 1, not_exec.err
    # the process's own stderr still arrives, whole and in order
    noisy = pp("exec", "ex", "sh", "-c", "echo out; for i in 1 2 3; do echo e$i >&2; done; exit 4")
    assert (noisy.rc, noisy.out, noisy.err) == (4, "out\n", "e1\ne2\ne3\n"), noisy

    # the session is forgotten once it ended: rm without force is not blocked by it
    assert pp.ok("inspect", "--format", "{{.State.Status}}", "ex").out.strip() == "running"


def test_exec_detached_and_stopped_container(pp: Pypod) -> None:
    run_sleeper(pp, "ex2")
    exec_id = pp.ok("exec", "-d", "ex2", "sh", "-c", "echo done > /tmp/marker").out.strip()
    assert len(exec_id) == 64 and all(c in "0123456789abcdef" for c in exec_id)
    wait_for(lambda: pp("exec", "ex2", "cat", "/tmp/marker").out == "done\n", timeout=DEADLINE,
             message="detached exec to write its marker")

    pp.ok("stop", "-t", "0", "ex2")
    stopped = pp("exec", "ex2", "true")
    assert stopped.rc == 125, stopped
    assert "can only create exec sessions on running containers: container state improper" in stopped.err
    # ended sessions were forgotten: rm without force is not refused for active exec sessions
    pp.ok("rm", "ex2")


# --- attach ------------------------------------------------------------------------------------------
def test_attach_streams_output_and_returns_exit_code(pp: Pypod) -> None:
    script = "while [ ! -e /tmp/go ]; do echo tick; sleep 0.1; done; echo finished; exit 3"
    pp.ok("run", "-d", "--name", "att", IMAGE, "sh", "-c", script)
    proc = pp.popen("attach", "--no-stdin", "att")
    try:
        seen = b""
        deadline = time.monotonic() + DEADLINE
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while b"tick" not in seen:
            left = deadline - time.monotonic()
            assert left > 0, f"attach printed nothing: {seen!r}"
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 4096)
                assert chunk, f"attach ended early: {seen!r} {proc.stderr.read()!r}"  # type: ignore[union-attr]
                seen += chunk
        pp.ok("exec", "att", "touch", "/tmp/go")
        rest, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert b"finished" in seen + rest, (seen + rest, err)
    assert proc.returncode == 3, err


def test_attach_refuses_stopped_container(pp: Pypod) -> None:
    pp.ok("create", "--name", "notrunning", IMAGE, "true")
    result = pp("attach", "notrunning")
    assert result.rc == 125
    assert "you can only attach to running containers" in result.err


# --- healthchecks ----------------------------------------------------------------------------------
def test_healthcheck_healthy_unhealthy_and_run_codes(pp: Pypod) -> None:
    run_sleeper(pp, "good", "--health-cmd", "true", "--health-interval", "1s")
    run_sleeper(pp, "bad", "--health-cmd", "false", "--health-retries", "2", "--health-interval", "1s")
    assert health_status(pp, "good") in ("starting", "healthy")
    wait_for(lambda: health_status(pp, "good") == "healthy", timeout=DEADLINE, message="good to become healthy")
    wait_for(lambda: health_status(pp, "bad") == "unhealthy", timeout=DEADLINE, message="bad to become unhealthy")
    streak = int(pp.ok("inspect", "--format", "{{.State.Health.FailingStreak}}", "bad").out)
    assert streak >= 2

    assert pp("healthcheck", "run", "good").rc == 0
    bad = pp("healthcheck", "run", "bad")
    assert (bad.rc, bad.out) == (1, "unhealthy\n"), bad

    plain_id = run_sleeper(pp, "plain")
    none = pp("healthcheck", "run", "plain")
    assert none.rc == 125
    assert f"Error: container {plain_id} has no defined healthcheck" in none.err

    pp.ok("stop", "-t", "0", "good")
    stopped = pp("healthcheck", "run", "good")
    assert stopped.rc == 125
    assert "is not running" in stopped.err


def test_one_scheduler_for_many_containers_and_it_exits(pp: Pypod) -> None:
    for name in ("hc1", "hc2", "hc3"):
        run_sleeper(pp, name, "--health-cmd", "true", "--health-interval", "1s")
    wait_for(lambda: scheduler_pids(pp), timeout=DEADLINE, message="a healthcheck scheduler")
    for name in ("hc1", "hc2", "hc3"):
        wait_for(lambda n=name: health_status(pp, n) == "healthy", timeout=DEADLINE, message=f"{name} healthy")
    assert len(scheduler_pids(pp)) == 1
    # it is detached: in a session of its own, not ours
    pid = scheduler_pids(pp)[0]
    assert os.getsid(pid) != os.getsid(0)

    pp.ok("rm", "-f", "-t", "0", "hc1", "hc2", "hc3")
    wait_for(lambda: not scheduler_pids(pp), timeout=DEADLINE, message="the scheduler to exit")


def _argv_of(pid: int) -> list[str]:
    with open(f"/proc/{pid}/cmdline", "rb") as fh:
        return fh.read().decode(errors="replace").split("\0")[:-1]


def _threads_of(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("Threads:"))


def _log_entries(p: Pypod, name: str) -> int:
    return int(p.ok("inspect", "--format", "{{len .State.Health.Log}}", name).out.strip())


def test_lean_scheduler_serves_many_containers_with_few_threads(pp: Pypod) -> None:
    names = [f"many{i}" for i in range(8)]
    for name in names:
        run_sleeper(pp, name, "--health-cmd", "true", "--health-interval", "1s")
    wait_for(lambda: scheduler_pids(pp), timeout=DEADLINE, message="a healthcheck scheduler")
    # every container checked again and again (the log keeps the last 5) by the one scheduler
    for name in names:
        wait_for(lambda n=name: _log_entries(pp, n) >= 3, timeout=DEADLINE, message=f"3 checks of {name}")
        assert health_status(pp, name) == "healthy"
    pids = scheduler_pids(pp)
    assert len(pids) == 1, pids
    argv = _argv_of(pids[0])
    # the lean bootstrap: no site, no CLI; still named "healthcheck scheduler" for ps
    assert argv[1:4] == ["-I", "-S", "-c"], argv
    assert "from pypod.libpod.healthcheck import scheduler_main" in argv[4]
    assert argv[-2:] == ["healthcheck", "scheduler"]
    # a bounded pool of check threads, not one (or two) per container
    assert _threads_of(pids[0]) <= 1 + max(4, 2 * (os.cpu_count() or 1))

    pp.ok("rm", "-f", "-t", "0", *names)
    wait_for(lambda: not scheduler_pids(pp), timeout=DEADLINE, message="the scheduler to exit")


def test_healthcheck_timeout_kills_the_test(pp: Pypod) -> None:
    run_sleeper(pp, "slow", "--health-cmd", "sleep 100", "--health-timeout", "1s", "--health-interval", "1s",
                "--health-retries", "1")
    wait_for(lambda: health_status(pp, "slow") == "unhealthy", timeout=DEADLINE, message="timed-out check")
    entry = pp.ok("inspect", "--format", "{{(index .State.Health.Log 0).ExitCode}} {{(index .State.Health.Log 0).Output}}",
                  "slow").out.strip()
    assert entry == "-1 Health check exceeded timeout of 1s", entry
    # the one-off `healthcheck run` enforces the timeout too (its own watchdog)
    start = time.monotonic()
    res = pp("healthcheck", "run", "slow", timeout=60)
    assert (res.rc, res.out) == (1, "unhealthy\n"), res
    assert time.monotonic() - start < 50  # killed at 1 s, not after `sleep 100`


def test_health_on_failure_kill(pp: Pypod) -> None:
    run_sleeper(pp, "killme", "--health-cmd", "false", "--health-retries", "1", "--health-interval", "1s",
                "--health-on-failure", "kill")
    wait_for(lambda: pp.ok("inspect", "--format", "{{.State.Status}}", "killme").out.strip() == "exited",
             timeout=DEADLINE, message="unhealthy container to be killed")
    assert pp.ok("inspect", "--format", "{{.State.ExitCode}}", "killme").out.strip() == "137"


# --- top, stats, port ----------------------------------------------------------------------------
def _free_port(kind: int) -> int:
    """A host port the kernel has free now (fixed ports may be taken on a shared host)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_top_stats_port(pp: Pypod) -> None:
    tcp, udp = _free_port(socket.SOCK_STREAM), _free_port(socket.SOCK_DGRAM)
    ctr_id = run_sleeper(pp, "mon", "-p", f"{tcp}:80", "-p", f"127.0.0.1:{udp}:90/udp")

    top = pp.ok("top", "mon").out.splitlines()
    assert top[0].split() == ["USER", "PID", "PPID", "%CPU", "ELAPSED", "TTY", "TIME", "COMMAND"]
    assert any(line.split()[0] == "root" and line.split()[1] == "1" and "sleep 1000" in line for line in top[1:])
    custom = pp.ok("top", "mon", "pid", "comm").out.splitlines()
    assert custom[0].split() == ["PID", "COMMAND"]
    assert custom[1].split() == ["1", "sleep"]

    stats = pp.ok("stats", "--no-stream").out.splitlines()
    assert stats[0].split()[:2] == ["ID", "NAME"] and "MEM USAGE / LIMIT" in stats[0]
    assert len(stats) == 2 and stats[1].split()[:2] == [ctr_id[:12], "mon"], stats
    fields = pp.ok("stats", "--no-stream", "--format", "{{.Name}} {{.PIDS}}", "mon").out
    assert fields == "mon 1\n"
    import json

    data = json.loads(pp.ok("stats", "--no-stream", "--format", "json").out)
    assert data[0]["name"] == "mon" and data[0]["pids"] == "1"

    assert pp.ok("port", "mon").out == f"80/tcp -> 0.0.0.0:{tcp}\n90/udp -> 127.0.0.1:{udp}\n"
    assert pp.ok("port", "mon", "80").out == f"0.0.0.0:{tcp}\n"
    assert pp.ok("port", "mon", "90/udp").out == f"127.0.0.1:{udp}\n"
    missing = pp("port", "mon", "81")
    assert missing.rc == 125 and 'failed to find published port "81"' in missing.err

    pp.ok("stop", "-t", "0", "mon")
    assert pp("top", "mon").rc == 125


# --- checkpoint ------------------------------------------------------------------------------------
def _criu_problem() -> str:
    from pypod.libpod.checkpoint import criu_problem

    return criu_problem()


def test_checkpoint_without_criu_gives_clear_error(pp: Pypod) -> None:
    problem = _criu_problem()
    if not problem:
        pytest.skip("CRIU works on this host: the unavailable-CRIU error cannot be produced")
    run_sleeper(pp, "cp")
    result = pp("container", "checkpoint", "cp")
    assert result.rc == 125
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result
    assert "needs CRIU, which cannot run on this host" in lines[0] and "criu check" in lines[0]
    assert pp.ok("inspect", "--format", "{{.State.Status}}", "cp").out.strip() == "running"


def test_checkpoint_success(pp: Pypod) -> None:
    if _criu_problem():
        pytest.skip("CRIU cannot run on this kernel (criu check fails)")
    run_sleeper(pp, "cp2")
    pp.ok("container", "checkpoint", "cp2")
    assert pp.ok("inspect", "--format", "{{.State.Status}}", "cp2").out.strip() == "exited"
