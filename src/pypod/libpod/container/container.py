"""`Container`: the public, locking verbs of one container.

Each verb takes the container's lock, syncs, then calls the non-locking steps of
`lifecycle.py`.  Waiting for a process to exit (stop, wait, attach) always happens
with the lock released, so `ps`, `inspect` and conmon's cleanup process are never
blocked by a slow container.
"""

from __future__ import annotations

import os
import time
from contextlib import AbstractContextManager

from pypod.errors import (
    InUse,
    InvalidArgument,
    InvalidState,
    NoSpace,
    NoSuchContainer,
    OCIRuntimeError,
    PypodError,
    Timeout,
)
from pypod.libpod.container import lifecycle
from pypod.libpod.container.model import ContainerConfig, ContainerState
from pypod.libpod.container.model import ContainerStatus as S

TYPE_CHECKING = False  # typing (~2-3 ms with re) is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, BinaryIO, Iterable

if TYPE_CHECKING:  # pragma: no cover
    from pypod.libpod.runtime import Runtime

POLL_FIRST = 0.005
POLL_MAX = 0.1
AFTER_EXIT_MAX = 0.01  # polling cap between a process's death and conmon's exit file
KILL_WAIT = 30.0  # seconds to wait for the exit file after SIGKILL
SIGKILL, SIGTERM = 9, 15  # Linux numbers (the `signal` module and its enums are not imported for them)


def _poll_until(predicate, timeout: float | None, first: float = POLL_FIRST, cap: float = POLL_MAX) -> bool:  # type: ignore[no-untyped-def]
    """Call ``predicate`` with a growing interval until true (True) or the deadline (False)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = first
    while True:
        if predicate():
            return True
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(delay, left))
        else:
            time.sleep(delay)
        delay = min(delay * 2, cap)


def open_pidfd(pid: int) -> int:
    """A pidfd of ``pid`` (-1 when there is none: no such process, old kernel)."""
    if pid <= 0:
        return -1
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):
        return -1


def _wait_pidfd_or_poll(pidfd: int, predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    """`_poll_until`, but asleep on ``pidfd`` while its process lives (woken by its exit).

    The exit file follows the process's death by a few milliseconds (conmon reaps, then
    writes it), so after the wake-up the polling starts again at a millisecond, capped at
    `AFTER_EXIT_MAX`.  Without a pidfd (old kernel, process already gone when it was
    opened) this is plain polling.
    """
    if pidfd < 0:
        return _poll_until(predicate, timeout)
    import select

    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        # bounded sleeps: the predicate also notices conmon dying or another process moving on
        ready, _, _ = select.select([pidfd], [], [], min(POLL_MAX, left))
        if ready:
            break
    left = deadline - time.monotonic()
    return _poll_until(predicate, max(left, 0.0), first=0.001, cap=AFTER_EXIT_MAX)


def _pidfd_signal(pidfd: int, sig: int) -> bool:
    """Send ``sig`` through ``pidfd``; True when sent or the process is gone already."""
    import _signal  # the C module (loaded at interpreter start): no `signal` enums

    try:
        _signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        return True
    except (OSError, AttributeError):
        return False
    return True


def _wait_pid_or_poll(pid: int, predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    """`_wait_pidfd_or_poll` on a pidfd of ``pid`` opened here."""
    pidfd = open_pidfd(pid)
    try:
        return _wait_pidfd_or_poll(pidfd, predicate, timeout)
    finally:
        if pidfd >= 0:
            os.close(pidfd)


class Container:
    """One container: its immutable config, its state, and the verbs that move it."""

    def __init__(self, rt: "Runtime", config: ContainerConfig, state: ContainerState) -> None:
        self.rt = rt
        self.config = config
        self.state = state

    # --- identity and paths ---------------------------------------------------------------
    @property
    def id(self) -> str:
        return self.config.id

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def static_dir(self) -> str:
        return self.rt.config.container_static_dir(self.id)

    @property
    def run_dir(self) -> str:
        return self.rt.config.container_run_dir(self.id)

    @property
    def bundle_path(self) -> str:
        return self.static_dir

    @property
    def log_path(self) -> str:
        return self.config.log_path or os.path.join(self.static_dir, "ctr.log")

    @property
    def shm_path(self) -> str:
        return os.path.join(self.static_dir, "shm")

    @property
    def persist_dir(self) -> str:
        return os.path.join(self.rt.config.persist_dir, self.id)

    @property
    def status(self) -> str:
        return self.state.status

    def __repr__(self) -> str:
        return f"<Container {self.id[:12]} {self.name} {self.state.status}>"

    # --- database ------------------------------------------------------------------------------
    def lock(self) -> AbstractContextManager[None]:
        return self.rt.locks.lock(self.config.lock_id)

    def reload(self) -> None:
        """Re-read config and state from the database (NoSuchContainer when it is gone)."""
        config, state = self.rt.db.get_container(self.id)
        self.config = ContainerConfig.from_dict(config)
        self.state = ContainerState.from_dict(state)

    # set while a removal runs: with the graph root full, state saves may fail (the removal
    # frees the space, then deletes the row); see D4 in docs/RELIABILITY.md
    tolerate_full_disk = False

    def save(self) -> None:
        try:
            self.rt.db.save_container_state(self.id, self.state.to_dict())
        except NoSpace:
            if not self.tolerate_full_disk:
                raise

    def event(self, status: str, **extra: Any) -> None:
        try:
            self.rt.events.write(
                "container",
                status,
                id=self.id,
                name=self.name,
                image=self.config.image_name or self.config.rootfs,
                attributes=dict(self.config.labels),
                **extra,
            )
        except OSError:  # an event that cannot be written never fails the operation
            pass

    # --- verbs -------------------------------------------------------------------------------------
    def sync(self) -> None:
        """Bring the state up to date with the runtime (exit file first)."""
        with self.lock():
            lifecycle.sync(self)

    def init(self) -> None:
        """Create the container in the runtime (Configured/Exited → Created)."""
        with self.lock():
            lifecycle.sync(self)
            if self.state.status not in (S.CONFIGURED, S.EXITED, S.STOPPED):
                raise InvalidState(
                    f"container {self.id} has already been created in runtime: container state improper"
                )
            if self.state.status == S.STOPPED:
                lifecycle.cleanup(self)
            lifecycle.init(self)

    def start(self, *, _dependencies_started: bool = False) -> None:
        """Start the container, its dependencies first; a running container is left alone."""
        if not _dependencies_started:
            self.reload()
            lifecycle.start_dependencies(self)
        with self.lock():
            lifecycle.sync(self)
            if self.state.status == S.RUNNING:
                return
            missing = lifecycle.dependencies_running(self)
            if missing:
                raise InvalidState(
                    f"some dependencies of container {self.id} are not started: {','.join(missing)}: "
                    "container state improper"
                )
            self.state.restart_count = 0
            lifecycle.init_and_start(self)

    def stop(self, timeout: int | None = None) -> None:
        """Stop signal, then SIGKILL after ``timeout`` seconds; then clean up."""
        if timeout is None:
            timeout = self.config.stop_timeout
        with self.lock():
            lifecycle.sync(self)
            st = self.state
            if st.status in (S.STOPPED, S.CONFIGURED, S.EXITED):
                # Between an exit and its restart (policy "always"), a pending cleanup process
                # would start it again: the user's stop must still count.
                if not st.stopped_by_user:
                    st.stopped_by_user = True
                    self.save()
                if st.status == S.STOPPED:
                    lifecycle.cleanup(self)
                return
            if st.status in (S.UNKNOWN, S.REMOVING):
                raise InvalidState(f"cannot stop container {self.id}: it is {st.status}: container state improper")
            was_paused = st.status == S.PAUSED
            # held while we wait with the container lock released: if we die, sync sees
            # "stopping" without a holder and takes the state back from the runtime (D3)
            stopping_fd = lifecycle.hold_stopping_lock(self)
            try:
                st.status = S.STOPPING
                st.stopped_by_user = True
                self.save()
            except BaseException:
                os.close(stopping_fd)
                raise
        try:
            self._stop_process(timeout, was_paused)
            with self.lock():
                lifecycle.sync(self)
                if self.state.status == S.STOPPING:
                    # no exit file after SIGKILL and conmon alive: give up on an exit code
                    lifecycle.apply_exit(self, -1, lifecycle.now_rfc3339(), False)
                    self.save()
                if self.state.status in (S.STOPPED, S.CREATED):
                    lifecycle.cleanup(self)
                self.event("stop")
        finally:
            os.close(stopping_fd)

    def _stop_process(self, timeout: int, was_paused: bool) -> None:
        """Signal and wait, lock not held.

        The pidfd is opened before the first signal, so the wait sleeps on the process's
        death even when it dies (and is reaped) before the runtime's kill returns.
        """
        oci = self.rt.oci
        pidfd = open_pidfd(self.state.pid)
        direct = not was_paused and not self.config.pid_mode and self._own_process(pidfd)
        try:
            if timeout > 0:
                if not (direct and _pidfd_signal(pidfd, self.config.stop_signal or SIGTERM)):
                    try:
                        oci.kill(self.id, self.config.stop_signal or SIGTERM)
                    except OCIRuntimeError:
                        pass
                if was_paused:
                    self._resume_quietly()
                if self._wait_exit(timeout, pidfd):
                    return
            if not (direct and _pidfd_signal(pidfd, SIGKILL)):
                try:
                    oci.kill(self.id, SIGKILL, all=bool(self.config.pid_mode))
                except OCIRuntimeError:
                    pass
            if was_paused:
                self._resume_quietly()
            self._wait_exit(KILL_WAIT, pidfd)
        finally:
            if pidfd >= 0:
                os.close(pidfd)

    def _own_process(self, pidfd: int) -> bool:
        """Whether ``pidfd`` (opened on ``state.pid``) is this container's init process.

        Then a signal goes straight to it (`pidfd_send_signal`: what `runtime kill` does for a
        container with its own PID namespace, without a runtime process per stop).  The pidfd
        was opened first, so the process it names cannot be replaced by a reused PID: when it
        was in the container's cgroup at open time or after, the signal reaches it or nobody.
        """
        if pidfd < 0:
            return False
        marker = f"/libpod-{self.id}"
        try:
            with open(f"/proc/{self.state.pid}/cgroup", "rb") as fh:
                lines = fh.read().decode(errors="replace").splitlines()
        except OSError:
            return False
        return any(line.endswith(marker) for line in lines)

    def _resume_quietly(self) -> None:
        try:
            self.rt.oci.resume(self.id)
        except OCIRuntimeError:
            pass

    def _wait_exit(self, timeout: float, pidfd: int = -2) -> bool:
        """Until the exit file exists, conmon is gone, or someone else moved the state on."""

        def done() -> bool:
            if lifecycle.read_exit(self) is not None:
                return True
            try:
                _config, state = self.rt.db.get_container(self.id)
            except NoSuchContainer:
                return True
            if state.get("status") not in (S.STOPPING, S.RUNNING, S.PAUSED, S.CREATED):
                return True
            return not lifecycle.process_alive(int(state.get("conmon_pid") or 0), "conmon")

        if pidfd == -2:  # none given: open one now
            return _wait_pid_or_poll(self.state.pid, done, timeout)
        return _wait_pidfd_or_poll(pidfd, done, timeout)

    def kill(self, signal: int = 9) -> None:
        """Send ``signal`` to the container's init process."""
        with self.lock():
            lifecycle.sync(self)
            if self.state.status not in (S.RUNNING, S.PAUSED):
                raise InvalidState(
                    f"can only kill running containers. {self.id} is in state {S.display(self.state.status)}: "
                    "container state improper"
                )
            self.rt.oci.kill(self.id, signal)
            self.state.stopped_by_user = True
            self.save()
            self.event("kill", signal=str(signal))

    def pause(self) -> None:
        with self.lock():
            lifecycle.sync(self)
            if self.state.status == S.PAUSED:
                raise InvalidState(f'"{self.id}" is already paused: container state improper')
            if self.state.status != S.RUNNING:
                raise InvalidState(f'"{self.id}" is not running, can\'t pause: container state improper')
            self.rt.oci.pause(self.id)
            self.state.status = S.PAUSED
            self.save()
            self.event("pause")

    def unpause(self) -> None:
        with self.lock():
            lifecycle.sync(self)
            if self.state.status != S.PAUSED:
                raise InvalidState(f'"{self.id}" is not paused, can\'t unpause: container state improper')
            self.rt.oci.resume(self.id)
            self.state.status = S.RUNNING
            self.save()
            self.event("unpause")

    def restart(self, timeout: int | None = None) -> None:
        """Stop if running, then start again (dependencies first)."""
        with self.lock():
            lifecycle.sync(self)
            if self.state.status in (S.PAUSED, S.UNKNOWN, S.REMOVING):
                raise InvalidState("unable to restart a container in a paused or unknown state: container state improper")
            running = self.state.status in (S.RUNNING, S.STOPPING)
        if running:
            self.stop(timeout)
        self.reload()
        lifecycle.start_dependencies(self)
        with self.lock():
            lifecycle.sync(self)
            self.event("restart")
            self.state.restart_count = 0
            lifecycle.init_and_start(self)

    def wait(
        self,
        conditions: Iterable[str] = ("stopped", "exited"),
        timeout: float | None = None,
        interval: float = 0.25,
    ) -> int:
        """Until the state is one of ``conditions``; returns the exit code (-1 if unknown).

        "stopped" also matches exited/configured-after-run; "created" and "initialized"
        are podman's display names of configured and created.
        """
        wanted = set()
        for cond in conditions:
            c = cond.lower()
            if c == "created":
                wanted.add(S.CONFIGURED)
            elif c == "initialized":
                wanted.add(S.CREATED)
            elif c in ("stopped", "exited"):
                wanted.update((S.STOPPED, S.EXITED))
            elif c in (S.RUNNING, S.PAUSED, S.STOPPING, S.REMOVING, S.UNKNOWN, S.CONFIGURED):
                wanted.add(c)
            elif c == "healthy" or c == "unhealthy":
                wanted.add("health:" + c)
            else:
                raise InvalidArgument(f"unknown condition {cond}")
        stopped_wanted = S.STOPPED in wanted

        def reached() -> bool:
            self.sync()
            st = self.state
            if st.status in wanted or ("health:" + st.health_status) in wanted:
                return True
            # a stopped container already cleaned up to Configured (ran before) counts as stopped
            return stopped_wanted and st.status == S.CONFIGURED and st.exited

        delay_cap = max(interval, POLL_FIRST)
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = POLL_FIRST
        while not reached():
            if deadline is not None and time.monotonic() >= deadline:
                raise Timeout(f"timed out waiting for container {self.id}")
            time.sleep(delay)
            delay = min(delay * 2, delay_cap)
        return self.state.exit_code if self.state.exited or self.state.status in (S.STOPPED, S.EXITED) else -1

    def cleanup(self) -> None:
        """Runtime delete, poststop hooks, unmount; refuses while running; idempotent."""
        with self.lock():
            lifecycle.sync(self)
            lifecycle.cleanup(self)

    def remove(
        self, *, force: bool = False, volumes: bool = False, timeout: int | None = None, depend: bool = False
    ) -> list[str]:
        """Remove the container (and, with ``depend``, the containers needing it); returns removed IDs."""
        removed: list[str] = []
        with self.lock():
            try:
                lifecycle.sync(self)
            except NoSuchContainer:
                return removed
            dependents = self.rt.dependents_of(self.id)
            if dependents and not depend:
                names = ", ".join(dependents)
                raise InUse(
                    f"container {self.id} has dependent containers which must be removed before it: {names}: "
                    "container already exists"
                )
            status = self.state.status
            if status == S.UNKNOWN and not force:
                raise InvalidState(f"container {self.id} is in invalid state: container state improper")
            if status in (S.RUNNING, S.PAUSED) and not force:
                raise InvalidState(
                    f"cannot remove container {self.id} as it is {status} - running or paused containers "
                    "cannot be removed without force: container state improper"
                )
            if self.state.exec_ids and not force:
                raise InvalidState(
                    f"cannot remove container {self.id} as it has active exec sessions: container state improper"
                )
        for dep_id in dependents:
            try:
                removed += self.rt.get_container(dep_id).remove(
                    force=force, volumes=volumes, timeout=timeout, depend=True
                )
            except NoSuchContainer:
                continue
        if status in (S.RUNNING, S.PAUSED, S.STOPPING):
            try:
                self.stop(timeout)
            except NoSuchContainer:
                return removed
        with self.lock():
            try:
                lifecycle.sync(self)
            except NoSuchContainer:
                return removed
            if self.state.status in (S.RUNNING, S.PAUSED):
                raise InvalidState(f"container {self.id} was started again while being removed: container state improper")
            self.tolerate_full_disk = True  # the teardown frees the rw layer before the row goes
            try:
                if self.state.status != S.REMOVING:
                    try:
                        lifecycle.cleanup(self)
                    except NoSpace:
                        pass
                    except PypodError:
                        if not force:
                            raise
                    self.state.status = S.REMOVING
                    self.save()
                self._remove_removing(volumes)
            finally:
                self.tolerate_full_disk = False
        removed.append(self.id)
        return removed

    def _remove_removing(self, volumes: bool) -> None:
        """Delete a container in state Removing: artifacts, storage, DB row, volumes (lock held)."""
        from pypod.libpod.container.repair import teardown

        teardown(self)
        try:
            self.rt.db.remove_container(self.id)
        except NoSuchContainer:
            return
        self.event("remove")
        if volumes:
            for vol in self.config.volumes:
                if vol.get("anonymous") and vol.get("name"):
                    try:
                        self.rt.volumes.remove(vol["name"])
                    except PypodError:
                        pass

    # --- attach ----------------------------------------------------------------------------------------
    def attach_and_start(
        self,
        *,
        stdin: BinaryIO | None,
        stdout: BinaryIO | None,
        stderr: BinaryIO | None,
        detach_keys: str = "ctrl-p,ctrl-q",
        start: bool = True,
    ) -> int | None:
        """Attach to the attach socket, start the container, stream until it exits.

        Returns the exit code, or None when the user detached.  The socket is connected
        before `runtime start`, so no output is lost.
        """
        from pypod.libpod.oci import attach as attachmod

        if start and self.config.requires:
            self.reload()
            lifecycle.start_dependencies(self)
        sock = None
        with self.lock():
            lifecycle.sync(self)
            if start and self.state.status != S.RUNNING:
                if self.state.status == S.STOPPED:
                    lifecycle.cleanup(self)
                if self.state.status in (S.CONFIGURED, S.EXITED):
                    lifecycle.init(self)
                if self.state.status != S.CREATED:
                    raise InvalidState(
                        f"cannot start container {self.id} in state {self.state.status}: container state improper"
                    )
                sock = attachmod.connect_attach_socket(self.bundle_path)
                self.state.restart_count = 0
                try:
                    lifecycle.start(self)
                except BaseException:
                    sock.close()
                    raise
            elif self.state.status in (S.RUNNING, S.PAUSED, S.CREATED):
                sock = attachmod.connect_attach_socket(self.bundle_path)
            else:
                raise InvalidState(
                    "you can only attach to running containers: container state improper"
                )
        result = self._stream(sock, stdin, stdout, stderr, detach_keys)
        if result == "detached":
            return None
        return self._exit_code_after_stream()

    def _exit_code_after_stream(self) -> int:
        """The exit code once the attach stream ended (tolerates a concurrent --rm removal)."""
        deadline = time.monotonic() + KILL_WAIT
        delay = POLL_FIRST
        while True:
            try:
                with self.lock():
                    lifecycle.sync(self)
            except NoSuchContainer:
                return self._removed_exit_code()
            st = self.state
            if st.status in (S.STOPPED, S.EXITED) or (st.status == S.CONFIGURED and st.exited):
                return st.exit_code
            if time.monotonic() >= deadline:
                raise Timeout(f"timed out waiting for container {self.id} to exit")
            time.sleep(delay)
            delay = min(delay * 2, POLL_MAX)

    def _removed_exit_code(self) -> int:
        exits = self.rt.config.exits_dir
        for name in (self.id, f"{self.id}-old"):
            try:
                with open(os.path.join(exits, name), encoding="ascii") as fh:
                    return int(fh.read().strip())
            except (OSError, ValueError):
                continue
        return -1

    def rename(self, new_name: str) -> None:
        """Give the container a new name (podman: any state but Removing)."""
        from pypod.libpod.runtime import NAME_RE

        if not NAME_RE.match(new_name):
            raise InvalidArgument("names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument")
        with self.lock():
            lifecycle.sync(self)
            if self.state.status == S.REMOVING:
                raise InvalidState(f"cannot rename container {self.id}: it is being removed: container state improper")
            self.config.name = new_name
            self.rt.db.save_container_config(self.id, new_name, self.config.to_dict())
            self.event("rename")

    def _stream(self, sock, stdin, stdout, stderr, detach_keys: str) -> str:  # type: ignore[no-untyped-def]
        from pypod.libpod.oci import attach as attachmod

        keys = attachmod.parse_detach_keys(detach_keys)
        stdin_fd = attachmod._fileno(stdin) if stdin is not None else None
        restore = None
        try:
            if stdin_fd is not None and os.isatty(stdin_fd) and self.config.tty:
                restore = attachmod._make_raw(stdin_fd)
            if stdin is not None and stdin_fd is None:
                return attachmod._attach_with_thread(sock, stdin, stdout, stderr, keys)
            return attachmod._attach_loop(sock, stdin_fd, stdout, stderr, keys)
        finally:
            if restore is not None:
                restore()
            sock.close()

    # --- inspection ----------------------------------------------------------------------------------------
    def inspect(self) -> dict[str, Any]:
        """Config and state as plain data (the CLI builds podman's inspect JSON from it)."""
        with self.lock():
            lifecycle.sync(self)
        return {
            "config": self.config.to_dict(),
            "state": self.state.to_dict(),
            "static_dir": self.static_dir,
            "run_dir": self.run_dir,
            "log_path": self.log_path,
            "bundle_path": self.bundle_path,
        }


def handle_exit(rt: "Runtime", ctr_id: str) -> None:
    """conmon's exit command (`pypod container cleanup ID`): restart policy, cleanup, --rm."""
    try:
        ctr = rt.get_container(ctr_id)
        remove = False
        with ctr.lock():
            lifecycle.sync(ctr)
            if ctr.state.status in (S.RUNNING, S.PAUSED, S.STOPPING):
                return  # restarted (or being stopped) by someone else meanwhile
            if lifecycle.should_restart(ctr):
                try:
                    lifecycle.restart_by_policy(ctr)
                    return
                except PypodError as exc:
                    ctr.state.error = f"restarting by policy: {exc}"
                    ctr.save()
            # --rm: a full disk must not stop the removal that frees it (D4)
            ctr.tolerate_full_disk = ctr.config.auto_remove
            lifecycle.cleanup(ctr)
            ctr.tolerate_full_disk = False
            remove = ctr.config.auto_remove and ctr.state.status in (S.EXITED, S.CONFIGURED)
        if remove:
            ctr.remove(volumes=True)
    except (NoSuchContainer, InvalidState):
        return
