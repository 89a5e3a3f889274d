"""Healthchecks without systemd and without one resident process per container.

`run_healthcheck` runs a container's test once (through an exec session) and records the
result in its state.  Periodic checks are run by ONE scheduler process per runtime
(``pypod <globals> healthcheck scheduler``): it holds the flock ``<tmpdir>/healthcheck.lock``
(so at most one runs), writes its PID to ``<tmpdir>/healthcheck.pid``, reads the running
containers that have a healthcheck from the database, runs the due checks (one thread per
check, sharing the thread-safe database and locks), sleeps until the next one is due (a
select on a self-pipe that check threads and SIGUSR1 from `ensure_scheduler` write to),
and exits when no container needs checks.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from pypod.errors import InvalidArgument, InvalidState, NoSuchContainer, PypodError
from pypod.libpod.container import lifecycle
from pypod.libpod.container.model import ContainerStatus as S
from pypod.libpod.container.model import HealthConfig
from pypod.libpod.osutil import write_atomic

if TYPE_CHECKING:  # pragma: no cover
    from pypod.libpod.container.container import Container
    from pypod.libpod.runtime import Runtime

HEALTHY, UNHEALTHY, STARTING = "healthy", "unhealthy", "starting"
LOG_ENTRIES = 5
OUTPUT_LIMIT = 500
LOCK_NAME = "healthcheck.lock"
PID_NAME = "healthcheck.pid"
MAX_SLEEP = 60.0


# --- one check ------------------------------------------------------------------------------
def active_healthcheck(config: Any) -> HealthConfig | None:
    """The container's healthcheck, or None when it has none or it is NONE."""
    hc = config.healthcheck
    if hc is None or not hc.test or hc.test[0].upper() == "NONE":
        return None
    return hc


def test_command(hc: HealthConfig) -> list[str]:
    """The argv to exec: ``CMD a b`` → [a, b]; ``CMD-SHELL s`` → /bin/sh -c s."""
    kind = hc.test[0].upper()
    if kind == "CMD":
        return list(hc.test[1:])
    if kind == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(hc.test[1:])]
    return ["/bin/sh", "-c", " ".join(hc.test)]


def _run_test(rt: "Runtime", ctr: "Container", hc: HealthConfig) -> tuple[int, str]:
    """Exec the test with its timeout; (exit code, output). -1 on timeout."""
    import tempfile

    from pypod.libpod.exec import exec_in

    argv = test_command(hc)
    if not argv:
        raise InvalidArgument(f"container {ctr.id} has an empty healthcheck command")
    workdir = tempfile.mkdtemp(prefix="pypod-hc-")
    pid_file = os.path.join(workdir, "pid")
    timed_out = threading.Event()
    finished = threading.Event()

    def watchdog() -> None:
        if finished.wait(hc.timeout if hc.timeout > 0 else None):
            return
        timed_out.set()
        try:
            with open(pid_file, encoding="ascii") as fh:
                os.kill(int(fh.read().strip()), signal.SIGKILL)
        except (OSError, ValueError):
            pass

    guard = threading.Thread(target=watchdog, daemon=True)
    try:
        with tempfile.TemporaryFile(dir=workdir) as out:
            guard.start()
            try:
                code = exec_in(rt, ctr, argv, stdout=out, stderr=out, pid_file=pid_file)
            except PypodError as exc:
                if isinstance(exc, InvalidState):
                    raise
                code, text = exc.exit_code, str(exc)
            else:
                out.seek(0)
                text = out.read(OUTPUT_LIMIT * 4).decode(errors="replace")
            finally:
                finished.set()
                guard.join()
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    if timed_out.is_set():
        return -1, f"Health check exceeded timeout of {_seconds(hc.timeout)}"
    return code, text[:OUTPUT_LIMIT]


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _started_seconds_ago(started_at: str) -> float:
    """Seconds since an RFC 3339 (nanosecond) UTC timestamp; a large number when unknown."""
    from datetime import datetime, timezone

    if not started_at:
        return float("inf")
    text = started_at.replace("Z", "+00:00")
    main, dot, rest = text.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdecimal())
        zone = rest[len(digits):]
        text = f"{main}.{digits[:6]}{zone}"
    try:
        started = datetime.fromisoformat(text)
    except ValueError:
        return float("inf")
    if started.tzinfo is None:
        started = started.replace(tzinfo=timezone.utc)
    return time.time() - started.timestamp()


def run_healthcheck(rt: "Runtime", ctr: "Container") -> tuple[str, int]:
    """Run the container's healthcheck once; record it; returns (health status, exit code)."""
    ctr.sync()
    hc = active_healthcheck(ctr.config)
    if hc is None:
        raise InvalidArgument(f"container {ctr.id} has no defined healthcheck")
    if ctr.state.status != S.RUNNING:
        raise InvalidState(f"container {ctr.id} is not running")
    start = lifecycle.now_rfc3339()
    try:
        code, output = _run_test(rt, ctr, hc)
    except InvalidState:
        raise InvalidState(f"container {ctr.id} is not running") from None
    end = lifecycle.now_rfc3339()
    with ctr.lock():
        try:
            lifecycle.sync(ctr)
        except NoSuchContainer:
            raise
        st = ctr.state
        if st.status != S.RUNNING:
            raise InvalidState(f"container {ctr.id} is not running")
        if code == 0:
            st.health_status = HEALTHY
            st.health_failing_streak = 0
        elif _started_seconds_ago(st.started_at) < hc.start_period:
            st.health_status = st.health_status or STARTING  # failures in the start period do not count
        else:
            st.health_failing_streak += 1
            if st.health_failing_streak >= max(hc.retries, 1):
                st.health_status = UNHEALTHY
            elif not st.health_status:
                st.health_status = STARTING
        entry = {"Start": start, "End": end, "ExitCode": code, "Output": output}
        st.health_log = (list(st.health_log) + [entry])[-LOG_ENTRIES:]
        ctr.save()
        status, streak = st.health_status, st.health_failing_streak
    ctr.event("health_status", health_status=status, health_failing_streak=streak)
    if status == UNHEALTHY and hc.on_failure not in ("", "none"):
        _on_failure(ctr, hc)
    return status, code


def _on_failure(ctr: "Container", hc: HealthConfig) -> None:
    """Apply --health-on-failure (kill, stop, restart) to an unhealthy container."""
    action = (hc.on_failure or "none").lower()
    try:
        if action == "kill":
            ctr.kill(signal.SIGKILL)
        elif action == "stop":
            ctr.stop()
        elif action == "restart":
            ctr.restart()
            with ctr.lock():
                ctr.reload()
                ctr.state.restart_count += 1
                ctr.save()
    except (InvalidState, NoSuchContainer):
        pass


def on_started(ctr: "Container") -> None:
    """Called by the lifecycle after a start: health "starting" and a scheduler running.

    The container's lock is held by the caller.
    """
    if active_healthcheck(ctr.config) is None:
        return
    ctr.state.health_status = STARTING
    ctr.state.health_failing_streak = 0
    ctr.save()
    if ctr.config.healthcheck and ctr.config.healthcheck.interval > 0:
        try:
            ensure_scheduler(ctr.rt)
        except OSError:
            pass


# --- the scheduler ----------------------------------------------------------------------------
def _lock_path(rt: "Runtime") -> str:
    return os.path.join(rt.config.tmpdir, LOCK_NAME)


def _pid_path(rt: "Runtime") -> str:
    return os.path.join(rt.config.tmpdir, PID_NAME)


def _try_lock(path: str) -> int | None:
    """An fd holding the exclusive flock on ``path``, or None when someone else holds it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    return fd


def scheduler_pid(rt: "Runtime") -> int:
    """PID of the live scheduler, 0 when none runs."""
    fd = _try_lock(_lock_path(rt))
    if fd is not None:
        os.close(fd)
        return 0
    try:
        with open(_pid_path(rt), encoding="ascii") as fh:
            return int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def scheduler_argv(rt: "Runtime") -> list[str]:
    return [sys.executable, "-m", "pypod", *rt.config.global_args(), "healthcheck", "scheduler"]


def ensure_scheduler(rt: "Runtime") -> None:
    """Start the scheduler unless one is alive; wake the live one so it sees new containers."""
    pid = scheduler_pid(rt)
    if pid > 0:
        try:
            os.kill(pid, signal.SIGUSR1)
        except OSError:
            pass
        return
    _spawn_detached(scheduler_argv(rt))


def _spawn_detached(argv: list[str]) -> None:
    """Double fork: the grandchild runs ``argv`` in a new session, stdio on /dev/null, no inherited fds."""
    env = dict(os.environ)
    src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = env.get("PYTHONPATH", "")
    if src not in path.split(os.pathsep):
        env["PYTHONPATH"] = src + (os.pathsep + path if path else "")
    pid = os.fork()
    if pid == 0:  # child: only async-signal-safe-ish work until exec
        try:
            os.setsid()
            if os.fork() == 0:
                try:
                    devnull = os.open(os.devnull, os.O_RDWR)
                    for fd in (0, 1, 2):
                        os.dup2(devnull, fd)
                    os.closerange(3, 65536)
                    os.execve(argv[0], argv, env)
                finally:
                    os._exit(127)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


def _needing_checks(rt: "Runtime") -> dict[str, float]:
    """ID → interval of the running containers with a periodic healthcheck."""
    from pypod.libpod.container.model import ContainerConfig

    found: dict[str, float] = {}
    for config, state in rt.db.all_containers():
        if state.get("status") != S.RUNNING:
            continue
        hc = active_healthcheck(ContainerConfig.from_dict(config))
        if hc is not None and hc.interval > 0:
            found[config["id"]] = float(hc.interval)
    return found


class Scheduler:
    """The loop of `pypod healthcheck scheduler` (see the module docstring)."""

    def __init__(self, rt: "Runtime") -> None:
        self.rt = rt
        # a self-pipe, not an Event: the SIGUSR1 handler must not take a lock the main thread may hold
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.stopping = False
        self.next_due: dict[str, float] = {}
        self.running: dict[str, threading.Thread] = {}
        self.mutex = threading.Lock()  # guards next_due and running (check threads update them)
        self.lock_fd: int | None = None

    def _check(self, ctr_id: str, interval: float) -> None:
        rt = self.rt  # shared: its Database and LockManager are thread-safe, and were built in run()
        try:
            ctr = rt.get_container(ctr_id)
            run_healthcheck(rt, ctr)
        except PypodError:
            pass
        except Exception:  # noqa: BLE001 - one failed check must not end the scheduler
            pass
        finally:
            with self.mutex:
                self.next_due[ctr_id] = time.monotonic() + interval
                self.running.pop(ctr_id, None)
            self.wake()

    def _work(self) -> dict[str, float]:
        try:
            return _needing_checks(self.rt)
        except PypodError:
            return {}

    def _tick(self, wanted: dict[str, float]) -> float:
        """Start the due checks; seconds until the next one."""
        with self.mutex:
            return self._tick_locked(wanted)

    def _tick_locked(self, wanted: dict[str, float]) -> float:
        now = time.monotonic()
        for ctr_id in list(self.next_due):
            if ctr_id not in wanted and ctr_id not in self.running:
                del self.next_due[ctr_id]
        for ctr_id, interval in wanted.items():
            due = self.next_due.setdefault(ctr_id, now)
            if due <= now and ctr_id not in self.running:
                thread = threading.Thread(target=self._check, args=(ctr_id, interval), daemon=True)
                self.running[ctr_id] = thread
                self.next_due[ctr_id] = now + interval  # rewritten when the check ends
                thread.start()
        pending = [due for cid, due in self.next_due.items() if cid not in self.running]
        return max(0.0, min(pending) - time.monotonic()) if pending else MAX_SLEEP

    def run(self) -> int:
        # handlers first: ensure_scheduler may send SIGUSR1 as soon as the lock is held
        signal.signal(signal.SIGUSR1, lambda *_: self.wake())
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.lock_fd = _try_lock(_lock_path(self.rt))
        if self.lock_fd is None:
            return 0  # another scheduler is alive
        self._write_pid()
        # build the lazy parts once, in this thread, before check threads share them
        for part in ("config", "db", "locks", "oci", "events"):
            try:
                getattr(self.rt, part)
            except PypodError:
                pass
        try:
            while not self.stopping:
                self._drain()  # before looking: a wake-up from now on cuts the wait short
                if not os.path.isdir(self.rt.config.tmpdir):
                    break  # the engine's directories were removed
                wanted = self._work()
                with self.mutex:
                    busy = bool(self.running)
                if not wanted and not busy:
                    if self._release_and_recheck():
                        continue
                    break
                sleep = self._tick(wanted)
                self._wait(min(sleep, MAX_SLEEP))
        finally:
            with self.mutex:
                threads = list(self.running.values())
            for thread in threads:
                thread.join(timeout=5)
            if self.lock_fd is not None:
                self._unlock()
        return 0

    def _stop(self, *_: object) -> None:
        self.stopping = True
        self.wake()

    def wake(self) -> None:
        """Cut the main loop's wait short (safe in a signal handler and from threads)."""
        try:
            os.write(self.wake_w, b"w")
        except OSError:
            pass  # the pipe is full: a wake-up is pending anyway

    def _drain(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except OSError:
            pass

    def _wait(self, timeout: float) -> None:
        import select

        try:
            select.select([self.wake_r], [], [], timeout)
        except InterruptedError:
            pass

    def _write_pid(self) -> None:
        write_atomic(_pid_path(self.rt), str(os.getpid()))

    def _unlock(self) -> None:
        try:
            os.unlink(_pid_path(self.rt))
        except OSError:
            pass
        assert self.lock_fd is not None
        os.close(self.lock_fd)
        self.lock_fd = None

    def _release_and_recheck(self) -> bool:
        """Give up the lock, then look once more: a container started meanwhile may have seen
        the lock held and relied on us.  True when we took the lock back to go on."""
        self._unlock()
        if not self._work():
            return False
        self.lock_fd = _try_lock(_lock_path(self.rt))
        if self.lock_fd is None:
            return False  # a new scheduler took over
        self._write_pid()
        return True


def run_scheduler(rt: "Runtime") -> int:
    """The body of `pypod healthcheck scheduler`."""
    return Scheduler(rt).run()
