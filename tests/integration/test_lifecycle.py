"""The container life cycle through the in-process API (Runtime/Container), with real runc/conmon/overlay."""

from __future__ import annotations

import importlib
import io
import os
import shutil
import signal
import time
from typing import Iterator

import pytest

from busybox_runtime import busybox_runtime, is_removed, kill_engine_processes, runc_delete_all, umount_all
from pypodcli import missing_engine_parts, mounts_under, processes_mentioning, wait_for

from pypod.errors import DependencyError, InUse, InvalidState, NoSuchContainer
from pypod.libpod.container.model import ContainerConfig, ContainerStatus as S

IMAGE = "localhost/busybox:latest"
DEADLINE = 30


def _cleanup_cli_ready() -> bool:
    try:
        module = importlib.import_module("pypod.cli.commands.lifecycle")
    except ImportError:
        return False
    return hasattr(module, "cleanup_cmd")


needs_exit_command = pytest.mark.skipif(
    not _cleanup_cli_ready(), reason="`pypod container cleanup` (pypod.cli.commands.lifecycle) is not written yet"
)


@pytest.fixture
def rt(busybox_rootfs_tar: str) -> Iterator["object"]:
    reason = missing_engine_parts()
    if reason:
        pytest.skip(reason)
    with busybox_runtime(busybox_rootfs_tar, "pl-") as runtime:
        yield runtime


def make(rt, *command: str, **kwargs) -> "object":  # type: ignore[no-untyped-def]
    cfg = ContainerConfig(id="", name=kwargs.pop("name", ""), created="", image_name="busybox",
                          command=list(command) or None, **kwargs)
    return rt.create_container(cfg)


def status_of(rt, ctr_id: str) -> str:  # type: ignore[no-untyped-def]
    ctr = rt.get_container(ctr_id)
    ctr.sync()
    return ctr.state.status


def test_full_cycle_states(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "sh", "-c", "trap 'exit 7' TERM; echo ready; while :; do sleep 0.1; done")
    assert len(ctr.id) == 64 and "_" in ctr.name
    assert ctr.config.image_name == IMAGE
    assert ctr.state.status == S.CONFIGURED
    assert rt.get_container(ctr.name).id == ctr.id
    ctr.init()
    assert ctr.state.status == S.CREATED
    assert ctr.state.conmon_pid > 0 and ctr.state.pid > 0
    assert os.path.exists(os.path.join(ctr.bundle_path, "config.json"))
    assert os.path.exists(os.path.join(ctr.run_dir, "hosts"))
    ctr.start()
    assert ctr.state.status == S.RUNNING and ctr.state.started_at
    assert status_of(rt, ctr.id) == S.RUNNING
    wait_for(lambda: "ready" in open(ctr.log_path).read(), DEADLINE, message="container ready")
    ctr.stop(timeout=DEADLINE)
    assert ctr.state.status == S.EXITED
    assert ctr.state.stopped_by_user
    assert ctr.state.exit_code == 7  # its TERM trap ran
    assert not ctr.state.mounted
    ctr.cleanup()  # idempotent
    removed = ctr.remove()
    assert removed == [ctr.id]
    with pytest.raises(NoSuchContainer):
        rt.get_container(ctr.id)
    assert not os.path.exists(os.path.dirname(ctr.static_dir))
    assert not os.path.exists(os.path.dirname(ctr.run_dir))
    assert mounts_under(rt.base) == []
    wait_for(lambda: not processes_mentioning(ctr.id, names=("conmon",)), DEADLINE, message="conmon gone")


def test_exit_code(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "sh", "-c", "exit 3")
    ctr.start()
    assert ctr.wait(timeout=DEADLINE) == 3
    assert ctr.state.exit_code == 3


def test_stop_escalates_to_sigkill(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "sh", "-c", "trap '' TERM; echo ready; while true; do sleep 0.1; done")
    ctr.start()
    wait_for(lambda: "ready" in open(ctr.log_path).read(), DEADLINE, message="container ready")
    began = time.monotonic()
    ctr.stop(timeout=1)
    assert time.monotonic() - began >= 1
    assert ctr.state.exit_code == 137
    assert ctr.state.status == S.EXITED


def test_remove_running_needs_force(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "sleep", "1000")
    ctr.start()
    with pytest.raises(InvalidState):
        ctr.remove()
    assert ctr.remove(force=True, timeout=0) == [ctr.id]
    wait_for(lambda: not processes_mentioning(ctr.id, names=("conmon",)), DEADLINE, message="conmon gone")
    assert mounts_under(rt.base) == []


def test_remove_tolerates_already_removed(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "true")
    other = rt.get_container(ctr.id)
    assert ctr.remove() == [ctr.id]
    assert other.remove() == []


def test_interrupted_removal_is_repaired(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "true")
    ctr.state.status = S.REMOVING  # as if a removal crashed after saving Removing
    ctr.save()
    assert rt.get_container(ctr.id).remove() == [ctr.id]
    assert not os.path.exists(os.path.dirname(ctr.static_dir))


def test_pause_unpause_kill(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "sleep", "1000")
    ctr.start()
    ctr.pause()
    assert status_of(rt, ctr.id) == S.PAUSED
    ctr.unpause()
    assert status_of(rt, ctr.id) == S.RUNNING
    ctr.kill(signal.SIGKILL)
    assert ctr.wait(timeout=DEADLINE) == 137


def test_requires_starts_dependency(rt) -> None:  # type: ignore[no-untyped-def]
    dep = make(rt, "sleep", "1000", name="dep")
    ctr = make(rt, "sleep", "1000", requires=["dep"])
    assert ctr.config.requires == [dep.id]
    ctr.start()
    assert status_of(rt, dep.id) == S.RUNNING
    assert status_of(rt, ctr.id) == S.RUNNING
    with pytest.raises(InUse):
        rt.remove_container(dep, force=True, timeout=0)
    removed = rt.remove_container(dep.id, force=True, timeout=0, depend=True)
    assert set(removed) == {dep.id, ctr.id}


def test_dependency_cycle_refused(rt) -> None:  # type: ignore[no-untyped-def]
    a = make(rt, "sleep", "1000", name="a")
    b = make(rt, "sleep", "1000", name="b", requires=["a"])
    a.config.requires = [b.id]  # a cycle cannot be created through create: make one by hand
    rt.db.save_container_config(a.id, a.name, a.config.to_dict())
    with pytest.raises(DependencyError, match="cycle"):
        b.start()
    assert status_of(rt, a.id) == S.CONFIGURED


def test_dependency_failure_reported(rt) -> None:  # type: ignore[no-untyped-def]
    bad = make(rt, "/nonexistent-command", name="bad")
    ctr = make(rt, "sleep", "1000", requires=["bad"])
    with pytest.raises(DependencyError, match=bad.id):
        ctr.start()
    assert status_of(rt, ctr.id) == S.CONFIGURED


def test_command_not_found_is_127(rt) -> None:  # type: ignore[no-untyped-def]
    from pypod.errors import CommandNotFound

    ctr = make(rt, "/nonexistent-command")
    with pytest.raises(CommandNotFound):
        ctr.start()
    assert status_of(rt, ctr.id) == S.CONFIGURED
    assert mounts_under(rt.base) == []


@needs_exit_command
def test_restart_on_failure(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "sh", "-c", "exit 1", restart_policy="on-failure", restart_retries=3)
    ctr.start()

    def finished() -> bool:
        c = rt.get_container(ctr.id)
        c.sync()
        return c.state.restart_count == 3 and c.state.status == S.EXITED

    try:
        wait_for(finished, DEADLINE, message="three restarts, then exited")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; state: {rt.get_container(ctr.id).state}") from None
    final = rt.get_container(ctr.id)
    assert final.state.exit_code == 1


@needs_exit_command
def test_restart_always_and_user_stop(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "sh", "-c", "sleep 0.2; exit 0", restart_policy="always")
    ctr.start()
    wait_for(lambda: rt.get_container(ctr.id).state.restart_count >= 2, DEADLINE, message="two restarts")
    ctr.stop(timeout=0)
    assert status_of(rt, ctr.id) in (S.EXITED, S.STOPPED)
    assert rt.get_container(ctr.id).state.stopped_by_user


@needs_exit_command
def test_exit_command_cleans_up_and_auto_removes(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "true")
    ctr.start()
    wait_for(lambda: rt.get_container(ctr.id).state.status == S.EXITED, DEADLINE, message="cleanup by exit command")
    assert mounts_under(rt.base) == []
    gone = make(rt, "true", auto_remove=True)
    gone.start()

    wait_for(lambda: is_removed(rt, gone.id), DEADLINE, message="--rm container removed by the exit command")


def test_attach_and_start_gets_all_output(rt) -> None:  # type: ignore[no-untyped-def]
    ctr = make(rt, "sh", "-c", "echo out; echo err >&2; exit 5")
    out, err = io.BytesIO(), io.BytesIO()
    code = ctr.attach_and_start(stdin=None, stdout=out, stderr=err)
    assert code == 5
    assert out.getvalue() == b"out\n"
    assert err.getvalue() == b"err\n"


def test_refresh_after_reboot(rt) -> None:  # type: ignore[no-untyped-def]
    from pypod.libpod.runtime import Runtime

    running = make(rt, "sleep", "1000", name="running")
    running.start()
    created = make(rt, "sleep", "1000", name="initialized")
    created.init()
    configured = make(rt, "true", name="configured")
    cfg = rt.config
    rt.close()
    # "reboot": every process and mount gone, the tmpfs run root and tmpdir wiped
    kill_engine_processes(rt.base)
    wait_for(lambda: not processes_mentioning(rt.base, names=("conmon",)), DEADLINE, message="conmon gone")
    for pid in processes_mentioning(running.id, names=("sleep",)):
        os.kill(pid, signal.SIGKILL)
    runc_delete_all(cfg.runroot)
    umount_all(rt.base)
    for directory in (cfg.runroot, cfg.tmpdir):
        shutil.rmtree(directory, ignore_errors=True)

    after = Runtime(root=cfg.root, runroot=cfg.runroot, tmpdir=cfg.tmpdir, storage_driver="overlay")
    try:
        states = {c.name: c.state for c in after.list_containers()}
        assert states["running"].status == S.EXITED
        assert states["initialized"].status == S.CONFIGURED
        assert states["configured"].status == S.CONFIGURED
        assert all(s.pid == 0 and s.conmon_pid == 0 and not s.mounted for s in states.values())
        again = after.get_container("running")
        again.start()
        assert status_of(after, again.id) == S.RUNNING
        again.stop(timeout=0)
    finally:
        after.close()
