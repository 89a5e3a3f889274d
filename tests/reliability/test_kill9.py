"""Kill -9 anywhere: SIGKILL a CLI command at a random moment, then check the store is sane.

Short variant: 3 trials per command.  Long variant (--run-slow): 12 per command (108+ total).
The random delays are seeded; the seed is printed (replay: PYPOD_RELIABILITY_SEED=<seed>).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator

import pytest
from conftest import BUSYBOX_IMAGE
from pypodcli import Pypod
from relcheck import (
    LONG_RUNNING,
    assert_store_sane,
    command_available,
    container_ids,
    image_ids,
    integrity_ok,
    kill_after,
    no_traceback,
    seeded_rng,
)

SHORT_TRIALS = 3
LONG_TRIALS = 12
MIN_DELAY = 0.02  # s after the start: the interpreter may still be importing
MAX_DELAY = 0.7
VICTIM = "victim"

# command -> (needs a running victim, needs a created victim, argv)
COMMANDS: dict[str, tuple[str, list[str]]] = {
    "create": ("", ["create", BUSYBOX_IMAGE, *LONG_RUNNING.split()]),
    "start": ("created", ["start", VICTIM]),
    "run -d": ("", ["run", "-d", BUSYBOX_IMAGE, *LONG_RUNNING.split()]),
    "run --rm": ("", ["run", "--rm", BUSYBOX_IMAGE, "true"]),
    "stop": ("running", ["stop", "-t", "1", VICTIM]),
    "rm": ("running", ["rm", "-f", "-t", "0", VICTIM]),
    "restart": ("running", ["restart", "-t", "0", VICTIM]),
    "load": ("", ["load", "-q", "-i", "ARCHIVE"]),
    "commit": ("running", ["commit", VICTIM, "localhost/committed:latest"]),
}


def _prepare(p: Pypod, command: str, archive: str) -> list[str]:
    victim, argv = COMMANDS[command]
    if command == "load":
        p.ok("rmi", "-af")
    elif not image_ids(p):
        p.ok("load", "-q", "-i", archive)
    if victim == "created":
        p.ok("create", "--name", VICTIM, BUSYBOX_IMAGE, *LONG_RUNNING.split())
    elif victim == "running":
        p.ok("run", "-d", "--name", VICTIM, BUSYBOX_IMAGE, *LONG_RUNNING.split())
    return [archive if a == "ARCHIVE" else a for a in argv]


def _after_trial(p: Pypod) -> None:
    """Cheap per-trial check: DB intact, CLI answers, survivors start and go away."""
    integrity_ok(p)
    image_ids(p)
    for ctr in container_ids(p):
        info = p("container", "inspect", "--format", "{{.State.Status}} {{.Config.Cmd}}", ctr)
        no_traceback(info)
        if info.rc != 0 and "no such container" in info.err:
            continue  # an exit command (--rm) removed it meanwhile
        assert info.rc == 0, info.describe()
        # D3 (fixed): a `stop` killed while waiting must not leave the container "stopping":
        # nobody holds its stopping lock any more, so sync takes the runtime's state back
        assert not info.out.startswith("stopping"), f"{ctr[:12]} left stopping:\n{info.describe()}"
        # a container left "removing" by a killed rm is not a survivor: it only has to go away
        if "sleep 1000" in info.out and info.out.split()[0] not in ("running", "paused", "removing"):
            started = p("start", ctr)
            no_traceback(started)
            assert started.rc == 0, f"survivor {ctr[:12]} ({info.out.strip()}):\n{started.describe()}"
        removed = p("rm", "-f", "-t", "0", ctr)
        no_traceback(removed)
        assert removed.rc == 0 or "no such container" in removed.err, removed.describe()


# command -> [trials, killed mid-command], summed over the module and printed at its end
TOTALS: dict[str, list[int]] = {}


@pytest.fixture(scope="module", autouse=True)
def _report_totals() -> Iterator[None]:
    yield
    if TOTALS:
        trials = sum(t for t, _ in TOTALS.values())
        killed = sum(k for _, k in TOTALS.values())
        print(f"\nkill9 total: {trials} trials, {killed} killed mid-command ("
              + ", ".join(f"{name}: {k}/{t}" for name, (t, k) in TOTALS.items()) + ")")


@pytest.fixture(scope="module")
def image_archive(busybox_rootfs_tar: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A docker-archive of localhost/busybox (so `load` can restore it quickly)."""
    from conftest import cleanup_pypod, new_pypod

    p = new_pypod()
    try:
        p.ok("import", busybox_rootfs_tar, BUSYBOX_IMAGE, "--change", 'CMD ["sh"]')
        path = str(tmp_path_factory.mktemp("kill9") / "busybox.tar")
        p.ok("save", "-o", path, BUSYBOX_IMAGE)
        return path
    finally:
        cleanup_pypod(p)


def _run_trials(p: Pypod, command: str, archive: str, trials: int) -> None:
    if command == "commit" and not command_available(p, "commit"):
        pytest.skip("`pypod commit` is not implemented yet (cli/commands/storagecmds.py missing)")
    rng, _seed = seeded_rng(f"kill9[{command}]")
    # one uninterrupted run first: the kill moments are spread over the command's own duration
    # (many commands finish in ~0.1 s, a fixed 0.08-0.7 s window would rarely hit them)
    argv = _prepare(p, command, archive)
    began = time.monotonic()
    p.ok(*argv)
    duration = time.monotonic() - began
    _after_trial(p)
    latest = min(MAX_DELAY, max(0.1, 1.1 * duration))
    killed = 0
    for trial in range(trials):
        argv = _prepare(p, command, archive)
        delay = rng.uniform(MIN_DELAY, latest)
        was_killed, rc, err = kill_after(p.popen(*argv, stdout=subprocess.DEVNULL), delay)
        killed += was_killed
        assert "Traceback" not in err, f"trial {trial} ({command}, {delay:.3f}s):\n{err}"
        assert was_killed or rc == 0, f"trial {trial}: pypod {' '.join(argv)} -> rc={rc}\n{err}"
        _after_trial(p)
    print(f"kill9[{command}]: {trials} trials, {killed} killed mid-command "
          f"(delays {MIN_DELAY}-{latest:.2f} s; one uninterrupted run took {duration:.2f} s)")
    total = TOTALS.setdefault(f"{command} x{trials}", [0, 0])
    total[0] += trials
    total[1] += killed
    assert_store_sane(p, start_survivors=True)


@pytest.mark.parametrize("command", list(COMMANDS))
def test_kill9_short(busybox_pypod: Pypod, image_archive: str, command: str) -> None:
    _run_trials(busybox_pypod, command, image_archive, SHORT_TRIALS)


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_kill9_long(busybox_pypod: Pypod, image_archive: str, command: str) -> None:
    _run_trials(busybox_pypod, command, image_archive, LONG_TRIALS)


def test_killed_stop_is_not_left_stopping(busybox_pypod: Pypod) -> None:
    """D3: `stop -t 30` killed while it waits; the container is running again, start/stop work."""
    from pypodcli import wait_for

    p = busybox_pypod
    p.ok("run", "-d", "--name", VICTIM, BUSYBOX_IMAGE, *LONG_RUNNING.split())
    stopper = p.popen("stop", "-t", "30", VICTIM, stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: p.ok("container", "inspect", "--format", "{{.State.Status}}", VICTIM).out.strip()
                 == "stopping",
                 timeout=30, message="the container to be stopping")
    finally:
        stopper.kill()
        stopper.communicate(timeout=60)
    status = p.ok("container", "inspect", "--format", "{{.State.Status}}", VICTIM).out.strip()
    assert status == "running", status
    p.ok("start", VICTIM)
    p.ok("exec", VICTIM, "true")
    p.ok("stop", "-t", "0", VICTIM)
    assert p.ok("container", "inspect", "--format", "{{.State.Status}}", VICTIM).out.strip() == "exited"
    assert_store_sane(p, start_survivors=True)
