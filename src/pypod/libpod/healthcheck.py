"""Healthchecks without systemd and without one resident process per container.

`run_healthcheck` runs a container's test once (through an exec session) and records the
result in its state.  Periodic checks are run by ONE scheduler process per runtime
(a lean ``python -I -S -c <bootstrap> <globals> healthcheck scheduler``, see `scheduler_argv`):
it holds the flock ``<tmpdir>/healthcheck.lock`` (so at most one runs), writes its PID to
``<tmpdir>/healthcheck.pid``, reads the running containers that have a healthcheck from the
database (again on SIGUSR1 from `ensure_scheduler`, when a check finds its container gone, and
every RESCAN seconds), hands the due checks to a small pool of worker threads (sharing the
thread-safe database and locks), kills tests past their timeout, sleeps until something is due
(a select on a self-pipe that workers and signals write to), and exits when no container
needs checks.
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
RESCAN = 1.0  # seconds between two reads of the database while checks run (SIGUSR1 reads at once)
WORKERS = 4  # check threads at least (2 per core above that): runc exec runs off the GIL


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


class Watchdog:
    """Kills a test's process when its timeout passes: one thread per armed test.

    Good for a one-off `healthcheck run`; the scheduler watches every test from its own loop
    instead (no thread per check)."""

    def arm(self, pid_file: str, timeout: float) -> object:
        """Start watching; the token to give to `disarm`."""
        finished = threading.Event()
        timed_out = threading.Event()

        def watch() -> None:
            if not finished.wait(timeout if timeout > 0 else None):
                timed_out.set()
                _kill_from_pid_file(pid_file)

        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        return thread, finished, timed_out

    def disarm(self, token: object) -> bool:
        """Stop watching; True when the timeout had passed."""
        thread, finished, timed_out = token  # type: ignore[misc]
        finished.set()
        thread.join()
        return bool(timed_out.is_set())


def _kill_from_pid_file(pid_file: str) -> bool:
    """SIGKILL the process whose PID the file holds; False when the file is not written yet."""
    try:
        with open(pid_file, encoding="ascii") as fh:
            pid = int(fh.read().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    return True


def _run_test(rt: "Runtime", ctr: "Container", hc: HealthConfig, watchdog: Any = None) -> tuple[int, str]:
    """Exec the test with its timeout; (exit code, output). -1 on timeout."""
    import tempfile

    from pypod.libpod.exec import exec_in

    argv = test_command(hc)
    if not argv:
        raise InvalidArgument(f"container {ctr.id} has an empty healthcheck command")
    guard = watchdog or Watchdog()
    workdir = tempfile.mkdtemp(prefix="pypod-hc-")
    pid_file = os.path.join(workdir, "pid")
    timed_out = False
    try:
        with open(os.path.join(workdir, "out"), "w+b") as out:
            token = guard.arm(pid_file, hc.timeout)
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
                timed_out = guard.disarm(token)
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)
    if timed_out:
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


def run_healthcheck(rt: "Runtime", ctr: "Container", watchdog: Any = None) -> tuple[str, int]:
    """Run the container's healthcheck once; record it; returns (health status, exit code).

    ``watchdog`` (``arm(pid_file, timeout)``/``disarm(token)``, as `Watchdog`) enforces the
    timeout; a `Watchdog` thread when None."""
    ctr.sync()
    hc = active_healthcheck(ctr.config)
    if hc is None:
        raise InvalidArgument(f"container {ctr.id} has no defined healthcheck")
    if ctr.state.status != S.RUNNING:
        raise InvalidState(f"container {ctr.id} is not running")
    start = lifecycle.now_rfc3339()
    try:
        code, output = _run_test(rt, ctr, hc, watchdog)
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
    """``python -I -S -c <bootstrap> <global options> healthcheck scheduler``: no site, no CLI."""
    from pypod.cleanup import lean_argv

    return lean_argv("pypod.libpod.healthcheck", "scheduler_main", [*rt.config.global_args(), "healthcheck", "scheduler"])


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
    # glibc gives each thread that allocates an arena of its own (up to 8 per core), a few
    # hundred kB resident each: the scheduler's few threads share one instead
    env.setdefault("MALLOC_ARENA_MAX", "1")
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
    """ID → interval of the running containers with a periodic healthcheck (raw rows: no models)."""
    found: dict[str, float] = {}
    for config, state in rt.db.all_containers():
        if state.get("status") != S.RUNNING:
            continue
        hc = config.get("healthcheck")
        if not isinstance(hc, dict):
            continue
        test = hc.get("test") or []
        interval = hc.get("interval") or 0
        if test and str(test[0]).upper() != "NONE" and interval > 0:
            found[config["id"]] = float(interval)
    return found


class Scheduler:
    """The loop of `pypod healthcheck scheduler` (see the module docstring).

    The main thread decides what is due, enforces the tests' timeouts (it is the checks'
    `Watchdog`) and sleeps on a self-pipe; a few worker threads run the checks."""

    def __init__(self, rt: "Runtime", workers: int = 0) -> None:
        from queue import SimpleQueue

        self.rt = rt
        # a self-pipe, not an Event: the SIGUSR1 handler must not take a lock the main thread may hold
        self.wake_r, self.wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.stopping = False
        self.next_due: dict[str, float] = {}
        self.running: set[str] = set()
        self.mutex = threading.Lock()  # guards next_due, running, deadlines, rescan
        self.lock_fd: int | None = None
        self.queue: "SimpleQueue[tuple[str, float] | None]" = SimpleQueue()
        self.max_workers = workers or max(WORKERS, 2 * (os.cpu_count() or 1))
        self.workers: list[threading.Thread] = []
        self.deadlines: dict[int, list[Any]] = {}  # token → [deadline, pid file, timed out]
        self.tokens = 0
        self.rescan = True  # read the database again before the next round (a check found its container gone)
        self.pokes = 0  # SIGUSR1s received (counted by the handler, in the main thread: no lock)
        self.pokes_seen = 0
        self.scanned_at = 0.0
        self.wanted: dict[str, float] = {}

    # -- the checks' watchdog (called from worker threads) ----------------------------------------
    def arm(self, pid_file: str, timeout: float) -> object:
        with self.mutex:
            self.tokens += 1
            token = self.tokens
            if timeout > 0:
                self.deadlines[token] = [time.monotonic() + timeout, pid_file, False]
        self.wake()  # the loop's wait may end before this deadline
        return token

    def disarm(self, token: object) -> bool:
        with self.mutex:
            entry = self.deadlines.pop(token, None)  # type: ignore[call-overload]
        return bool(entry and entry[2])

    def _expire(self, now: float) -> float | None:
        """Kill the tests past their timeout (mutex held); the next deadline, None when none."""
        upcoming = None
        for entry in self.deadlines.values():
            if entry[0] <= now:
                entry[2] = True
                # the PID file is written once runc started the process: look again soon if not yet
                entry[0] = float("inf") if _kill_from_pid_file(entry[1]) else now + 0.1
            if entry[0] != float("inf") and (upcoming is None or entry[0] < upcoming):
                upcoming = entry[0]
        return upcoming

    # -- the workers ----------------------------------------------------------------------------
    def _worker(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            self._check(*item)

    def _check(self, ctr_id: str, interval: float) -> None:
        rt = self.rt  # shared: its Database and LockManager are thread-safe, and were built in run()
        gone = False
        try:
            ctr = rt.get_container(ctr_id)
            run_healthcheck(rt, ctr, self)
        except (InvalidState, NoSuchContainer, InvalidArgument):
            gone = True  # stopped, removed or without a check now: read the database again
        except PypodError:
            pass
        except Exception:  # noqa: BLE001 - one failed check must not end the scheduler
            pass
        finally:
            ctr = None
            with self.mutex:
                self.next_due[ctr_id] = time.monotonic() + interval
                self.running.discard(ctr_id)
                self.rescan = self.rescan or gone
            self.wake()

    def _submit(self, ctr_id: str, interval: float) -> None:
        """Queue a check (mutex held); one more worker while all are busy, up to max_workers."""
        self.running.add(ctr_id)
        if len(self.running) > len(self.workers) and len(self.workers) < self.max_workers:
            thread = threading.Thread(target=self._worker, daemon=True, name=f"check-{len(self.workers)}")
            self.workers.append(thread)
            thread.start()
        self.queue.put((ctr_id, interval))

    # -- the main loop --------------------------------------------------------------------------
    def _work(self) -> dict[str, float]:
        """The containers needing checks: read again when told (SIGUSR1, a check that found its
        container gone) or every RESCAN seconds, else the last answer."""
        now = time.monotonic()
        pokes = self.pokes
        with self.mutex:
            due = self.rescan or pokes != self.pokes_seen or now - self.scanned_at >= RESCAN
            self.rescan = False
        self.pokes_seen = pokes
        if due:
            try:
                self.wanted = _needing_checks(self.rt)
            except PypodError:
                self.wanted = {}
            self.scanned_at = now
        return self.wanted

    def _tick(self, wanted: dict[str, float]) -> float:
        """Start the due checks, kill the overdue tests; seconds until something is due."""
        with self.mutex:
            now = time.monotonic()
            for ctr_id in list(self.next_due):
                if ctr_id not in wanted and ctr_id not in self.running:
                    del self.next_due[ctr_id]
            for ctr_id, interval in wanted.items():
                due = self.next_due.setdefault(ctr_id, now)
                if due <= now and ctr_id not in self.running:
                    self.next_due[ctr_id] = now + interval  # rewritten when the check ends
                    self._submit(ctr_id, interval)
            pending = [due for cid, due in self.next_due.items() if cid not in self.running]
            deadline = self._expire(now)
        if deadline is not None:
            pending.append(deadline)
        if self.running or wanted:
            pending.append(self.scanned_at + RESCAN)
        return max(0.0, min(pending) - time.monotonic()) if pending else MAX_SLEEP

    def run(self) -> int:
        # handlers first: ensure_scheduler may send SIGUSR1 as soon as the lock is held
        signal.signal(signal.SIGUSR1, self._poke)
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
            try:
                while True:
                    self.queue.get_nowait()  # checks not started yet: dropped
            except Exception:  # noqa: BLE001 - queue.Empty
                pass
            for _ in self.workers:
                self.queue.put(None)
            for thread in self.workers:
                thread.join(timeout=5)
            if self.lock_fd is not None:
                self._unlock()
        return 0

    def _poke(self, *_: object) -> None:
        """SIGUSR1 (a container started): read the database again."""
        self.pokes += 1  # no lock in a signal handler: the main thread may hold it
        self.wake()

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
        self.rescan = True
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


def scheduler_main(argv: list[str] | None = None) -> int:
    """The lean scheduler process (`scheduler_argv`): global options, then ``healthcheck scheduler``."""
    _without_archive_codecs()
    try:
        from pypod.cli.main import Context, _split_globals

        options, _words = _split_globals(list(sys.argv[1:] if argv is None else argv))
        rt = Context(options, "healthcheck scheduler").runtime
    except Exception:  # noqa: BLE001 - detached, stdio on /dev/null: nobody reads a traceback
        return 125
    import gc

    gc.collect()
    gc.freeze()  # start-up objects never die: the collector stops walking them
    return run_scheduler(rt)


def _without_archive_codecs() -> None:
    """The scheduler never makes archives: keep `shutil` (imported by `tempfile`) from loading
    bz2 and lzma (their modules, extension modules and libraries: ~0.4 MB resident)."""
    for name in ("bz2", "lzma"):
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # `import name` → ImportError
