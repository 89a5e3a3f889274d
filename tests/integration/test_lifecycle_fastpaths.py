"""The life cycle's fast paths keep the slow paths' behaviour (real runc/conmon/overlay).

In-process `runc start` (exec fifo), signals through a pidfd in `stop`, the exit command that
ends early when a `stop`/`rm` has already cleaned up, and the image config read from files.
"""

from __future__ import annotations

import os
import time
from typing import Iterator

import pytest

from busybox_runtime import busybox_runtime, is_removed
from pypodcli import missing_engine_parts, mounts_under, processes_mentioning, wait_for

from pypod.cleanup import HANDLED_HINT, _already_handled
from pypod.libpod.container.model import ContainerConfig, ContainerStatus as S

IMAGE = "localhost/busybox:latest"
DEADLINE = 30


@pytest.fixture
def rt(busybox_rootfs_tar: str) -> Iterator["object"]:
    reason = missing_engine_parts()
    if reason:
        pytest.skip(reason)
    with busybox_runtime(busybox_rootfs_tar, "pf-", working_dir="/tmp") as runtime:
        yield runtime


def make(rt, *command: str, **kwargs) -> "object":  # type: ignore[no-untyped-def]
    cfg = ContainerConfig(id="", name=kwargs.pop("name", ""), created="", image_name="busybox",
                          command=list(command) or None, **kwargs)
    return rt.create_container(cfg)


def _log(ctr) -> str:  # type: ignore[no-untyped-def]
    try:
        with open(ctr.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()
    except OSError:
        return ""


def test_start_without_a_runc_process_leaves_runc_running_state(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "sh", "-c", "echo started; sleep 1000")
    ctr.start()
    assert ctr.state.status == S.RUNNING
    state = rt.oci.state(ctr.id)
    assert state is not None and state["status"] == "running"
    assert not os.path.exists(os.path.join(rt.oci.state_root, ctr.id, "exec.fifo"))
    wait_for(lambda: "started" in _log(ctr), DEADLINE, message="the container's output")
    ctr.start()  # already running: nothing to do, no error
    ctr.stop(timeout=0)
    assert rt.get_container(ctr.id).state.exit_code == 137


def test_start_of_a_missing_command_still_fails_127(rt) -> None:  # type: ignore[no-untyped-def]
    from pypod.errors import CommandNotFound

    ctr = make(rt, "/no/such/binary")
    with pytest.raises(CommandNotFound):
        ctr.start()


def test_stop_signal_reaches_the_process(rt) -> None:  # type: ignore[no-untyped-def]
    script = 'trap "echo got-term; exit 7" TERM; echo ready; while :; do sleep 0.05; done'
    ctr = make(rt, "sh", "-c", script)
    ctr.start()
    wait_for(lambda: "ready" in _log(ctr), DEADLINE, message="the trap to be set")
    ctr.stop(timeout=20)
    done = rt.get_container(ctr.id)
    assert done.state.status == S.EXITED
    assert done.state.exit_code == 7
    assert "got-term" in _log(ctr)


def test_stop_then_exit_command_finds_nothing_to_do(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "sleep", "1000")
    ctr.start()
    ctr.stop(timeout=0)
    exits = rt.config.exits_dir
    assert not os.path.exists(os.path.join(exits, ctr.id))  # retired last by the clean-up
    assert os.path.exists(os.path.join(exits, f"{ctr.id}-old"))
    # conmon's exit command (hinted) ends, and the container stays as stop left it
    wait_for(lambda: not processes_mentioning(rt.base, names=("conmon",)), DEADLINE, message="conmon to exit")
    again = rt.get_container(ctr.id)
    assert again.state.status == S.EXITED and again.state.exit_code == 137
    assert not again.state.mounted
    assert mounts_under(rt.base) == []


def test_auto_removed_container_stopped_by_the_user_is_removed_by_the_exit_command(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "sleep", "1000", auto_remove=True)
    ctr.start()
    ctr.stop(timeout=0)

    wait_for(lambda: is_removed(rt, ctr.id), DEADLINE, message="the exit command to remove the --rm container")
    assert mounts_under(rt.base) == []


def test_exit_command_carries_the_hint_unless_a_restart_policy_applies(rt) -> None:  # type: ignore[no-untyped-def]
    from pypod.libpod.container.lifecycle import exit_command

    plain = make(rt, "true")
    argv = exit_command(plain)
    i = argv.index(HANDLED_HINT)
    assert argv[i + 1] == os.path.join(rt.config.locks_dir, str(plain.config.lock_id))
    assert argv[i + 2] == ""
    assert argv[-1] == plain.id
    removed = make(rt, "true", auto_remove=True)
    assert exit_command(removed)[i + 2] == os.path.dirname(removed.static_dir)
    restarting = make(rt, "true", restart_policy="always")
    assert HANDLED_HINT not in exit_command(restarting)


def test_image_config_read_from_files_matches_the_image_store(rt) -> None:  # type: ignore[no-untyped-def]
    from pypod.libpod.container import lifecycle

    ctr = make(rt, "true")
    expected = dict(rt.images.get(ctr.config.image_id).config)
    assert lifecycle.image_config(ctr) == expected
    assert lifecycle.image_config(ctr) == expected  # cached
    ctr.config.image_id = "0" * 64
    assert lifecycle.image_config(ctr) == {}


# --- the exit command's early end, without the engine ------------------------------------------------
def _exit_roots(tmp_path, ctr_id: str) -> tuple[list[str], str]:  # type: ignore[no-untyped-def]
    tmp = tmp_path / "tmp"
    (tmp / "exits").mkdir(parents=True)
    (tmp / "persist" / ctr_id).mkdir(parents=True)
    (tmp / "locks").mkdir()
    lock = tmp / "locks" / "3"
    lock.write_text("")
    return ["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"), "--tmpdir", str(tmp), ctr_id], str(lock)


def test_already_handled_only_without_exit_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    args, lock = _exit_roots(tmp_path, "c1")
    assert _already_handled(lock, "", args)
    exit_file = tmp_path / "tmp" / "exits" / "c1"
    exit_file.write_text("0")
    assert not _already_handled(lock, "", args)
    exit_file.unlink()
    (tmp_path / "tmp" / "persist" / "c1" / "exit").write_text("0")
    assert not _already_handled(lock, "", args)


def test_already_handled_needs_the_auto_removed_container_gone(tmp_path) -> None:  # type: ignore[no-untyped-def]
    args, lock = _exit_roots(tmp_path, "c2")
    gone = tmp_path / "root" / "storage" / "overlay-containers" / "c2"
    gone.mkdir(parents=True)
    assert not _already_handled(lock, str(gone), args)
    gone.rmdir()
    assert _already_handled(lock, str(gone), args)


def test_already_handled_in_doubt_answers_no(tmp_path) -> None:  # type: ignore[no-untyped-def]
    args, lock = _exit_roots(tmp_path, "c3")
    assert not _already_handled(str(tmp_path / "no-such-lock"), "", args)
    no_tmpdir = [a for a in args if a not in ("--tmpdir", str(tmp_path / "tmp"))]
    assert not _already_handled(lock, "", no_tmpdir)


def test_already_handled_waits_for_the_container_lock(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import fcntl
    import threading

    args, lock = _exit_roots(tmp_path, "c4")
    exit_file = tmp_path / "tmp" / "exits" / "c4"
    exit_file.write_text("0")
    fd = os.open(lock, os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)  # a `stop` cleaning up
    answer: list[bool] = []
    waiter = threading.Thread(target=lambda: answer.append(_already_handled(lock, "", args)))
    waiter.start()
    try:
        time.sleep(0.2)  # not a synchronisation: only gives the waiter a chance to answer too early
        assert answer == []
        exit_file.unlink()  # the clean-up's last step
    finally:
        os.close(fd)  # releases the lock
    waiter.join(DEADLINE)
    assert answer == [True]
