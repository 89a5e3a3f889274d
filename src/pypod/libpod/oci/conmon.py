"""Starting conmon (which runs ``<runtime> create``) and running exec sessions.

conmon gets two SOCK_SEQPACKET socketpair ends as fds 3 (sync pipe) and 4
(start pipe).  We write one zero byte on the start pipe, reap conmon's first
process (it double-forks), then read one JSON line from the sync pipe:
``{"data": <pid>}`` on success, a negative ``data`` with ``"message"`` on failure.
"""

from __future__ import annotations

import json
import os
import time

from pypod.errors import CommandNotExecutable, CommandNotFound, OCIRuntimeError

TYPE_CHECKING = False  # typing is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    import socket
    from typing import Any, BinaryIO

    from pypod.libpod.oci.runtime import OCIRuntime

SYNC_TIMEOUT = 240.0
_NOT_FOUND = "OCI runtime attempted to invoke a command that was not found"
_PERMISSION = "OCI permission denied"
_GENERIC = "OCI runtime error"

# ConmonRequest's fields in order, with their defaults (a plain class: no dataclass to build
# at import time on every start); a list default is copied per instance.
_REQUEST_FIELDS: tuple[tuple[str, Any], ...] = (
    ("ctr_id", None), ("name", None), ("bundle", None), ("runtime_path", None), ("runtime_root", None),
    ("exit_dir", None), ("persist_dir", None), ("log_path", None), ("pid_file", None),
    ("conmon_pid_file", None), ("exit_command", []), ("terminal", False), ("stdin", False),
    ("extra_runtime_args", []), ("log_level", "error"), ("conmon_path", "conmon"),
    ("runtime_name", "runc"), ("oci_log", ""), ("log_tag", ""), ("log_size_max", 0),
)  # fmt: skip


class ConmonRequest:
    """Everything conmon needs to create one container.

    Fields (in order): ctr_id, name, bundle, runtime_path, runtime_root, exit_dir,
    persist_dir, log_path, pid_file, conmon_pid_file (required); exit_command: list[str],
    terminal, stdin, extra_runtime_args: list[str], log_level ("error"), conmon_path
    ("conmon"), runtime_name ("runc"), oci_log (runtime's JSON log, "" = none), log_tag,
    log_size_max (0).
    """

    ctr_id: str
    name: str
    bundle: str
    runtime_path: str
    runtime_root: str
    exit_dir: str
    persist_dir: str
    log_path: str
    pid_file: str
    conmon_pid_file: str
    exit_command: list[str]
    terminal: bool
    stdin: bool
    extra_runtime_args: list[str]
    log_level: str
    conmon_path: str
    runtime_name: str
    oci_log: str
    log_tag: str
    log_size_max: int

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(_REQUEST_FIELDS):
            raise TypeError(f"ConmonRequest takes at most {len(_REQUEST_FIELDS)} positional arguments")
        for index, (name, default) in enumerate(_REQUEST_FIELDS):
            if index < len(args):
                if name in kwargs:
                    raise TypeError(f"ConmonRequest got multiple values for argument {name!r}")
                value = args[index]
            elif name in kwargs:
                value = kwargs.pop(name)
            elif default is None:
                raise TypeError(f"ConmonRequest missing required argument: {name!r}")
            else:
                value = list(default) if isinstance(default, list) else default
            setattr(self, name, value)
        if kwargs:
            raise TypeError(f"ConmonRequest got an unexpected keyword argument {next(iter(kwargs))!r}")

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name, _d in _REQUEST_FIELDS)
        return f"ConmonRequest({inner})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n, _d in _REQUEST_FIELDS)

    __hash__ = None  # type: ignore[assignment]


class ConmonResult:
    """What conmon reported after `runtime create`."""

    __slots__ = ("pid", "conmon_pid")

    def __init__(self, pid: int, conmon_pid: int) -> None:
        self.pid = pid
        self.conmon_pid = conmon_pid

    def __repr__(self) -> str:
        return f"ConmonResult(pid={self.pid!r}, conmon_pid={self.conmon_pid!r})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return (self.pid, self.conmon_pid) == (other.pid, other.conmon_pid)  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]


def conmon_args(req: ConmonRequest) -> list[str]:
    """conmon's argv, in podman's order."""
    args = [
        req.conmon_path, "--api-version", "1",
        "-c", req.ctr_id, "-u", req.ctr_id,
        "-r", req.runtime_path, "-b", req.bundle,
        "-p", req.pid_file, "-n", req.name,
        "--exit-dir", req.exit_dir, "--persist-dir", req.persist_dir,
        "--full-attach",
    ]
    for arg in ["--root", req.runtime_root, *req.extra_runtime_args]:
        args += ["--runtime-arg", arg]
    args += ["-l", f"k8s-file:{req.log_path}", "--log-level", _conmon_level(req.log_level)]
    if req.log_size_max > 0:
        args += ["--log-size-max", str(req.log_size_max)]
    if req.oci_log:
        args += ["--runtime-arg", "--log-format=json", "--runtime-arg", "--log",
                 f"--runtime-arg={req.oci_log}"]
    if req.log_tag:
        args += ["--log-tag", req.log_tag]
    if req.terminal:
        args.append("-t")
    elif req.stdin:
        args.append("-i")
    args += ["--conmon-pidfile", req.conmon_pid_file]
    if req.exit_command:
        args += ["--exit-command", req.exit_command[0]]
        for arg in req.exit_command[1:]:
            args += ["--exit-command-arg", arg]
    return args


def _conmon_level(level: str) -> str:
    return level if level in ("debug", "info", "warn", "error", "fatal", "panic") else "error"


def start_conmon(req: ConmonRequest) -> ConmonResult:
    """Run conmon, which creates the container; return the container's and conmon's PIDs."""
    import _socket

    # a missing binary would otherwise surface as a silent sync-pipe failure
    if not _executable(req.conmon_path):
        raise OCIRuntimeError(f'could not find a working conmon binary (configured "{req.conmon_path}"): invalid argument')
    if not _executable(req.runtime_path):
        raise OCIRuntimeError(f'OCI runtime "{req.runtime_path}" not found: invalid argument')
    for d in (req.exit_dir, req.persist_dir):
        os.makedirs(d, exist_ok=True)
    if req.oci_log:
        _unlink(req.oci_log)
    # the C socket type (socket.py's wrapper and its enums are not needed for two socketpairs)
    parent_sync, child_sync = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    parent_start, child_start = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET)
    try:
        pid = _spawn_with_fds(conmon_args(req), child_sync.fileno(), child_start.fileno())
        child_sync.close()
        child_start.close()
        try:
            parent_start.send(b"\0")
        except OSError:
            pass  # conmon died early: the sync pipe read reports it
        os.waitpid(pid, 0)
        message = _read_sync(parent_sync, SYNC_TIMEOUT)
    finally:
        for s in (parent_sync, child_sync, parent_start, child_start):
            s.close()
    if message is None:
        raise OCIRuntimeError(f"conmon failed to create container {req.ctr_id}: no reply on the sync pipe")
    data = message.get("data", message.get("pid", -1))
    if not isinstance(data, int) or data <= 0:
        text = _failure_text(req, str(message.get("message", "")))
        raise classify_runtime_error(req.runtime_name, text)
    conmon_pid = _read_pid(req.conmon_pid_file)
    return ConmonResult(pid=data, conmon_pid=conmon_pid)


CONMON_ENV = ("PATH", "HOME", "TMPDIR", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "CONTAINERS_CONF",
              "CONTAINERS_CONF_OVERRIDE", "STORAGE_DRIVER")


def _spawn_with_fds(argv: list[str], sync_fd: int, start_fd: int) -> int:
    """posix_spawn argv with sync_fd at 3 and start_fd at 4, stdio on /dev/null."""
    import fcntl

    high_sync = fcntl.fcntl(sync_fd, fcntl.F_DUPFD_CLOEXEC, 100)
    high_start = fcntl.fcntl(start_fd, fcntl.F_DUPFD_CLOEXEC, 100)
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    # a small environment, as podman gives conmon: it stays resident for the container's life
    # (the copy lives on its stack) and is what runc and the exit command see; the exit
    # command needs only the variables that pick pypod's configuration
    env = {k: os.environ[k] for k in CONMON_ENV if k in os.environ}
    env.update({"_OCI_SYNCPIPE": "3", "_OCI_STARTPIPE": "4"})
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    try:
        return os.posix_spawn(
            argv[0] if os.sep in argv[0] else _which(argv[0]),
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, devnull, 1),
                (os.POSIX_SPAWN_DUP2, devnull, 2),
                (os.POSIX_SPAWN_DUP2, high_sync, 3),
                (os.POSIX_SPAWN_DUP2, high_start, 4),
            ],
            setsid=True,
        )
    except OSError as exc:
        raise OCIRuntimeError(f"cannot start conmon {argv[0]}: {exc.strerror}") from exc
    finally:
        os.close(high_sync)
        os.close(high_start)
        os.close(devnull)


def _which(name: str) -> str:
    import shutil

    found = shutil.which(name)
    if not found:
        raise OCIRuntimeError(f"could not find {name} in $PATH")
    return found


def _executable(name: str) -> bool:
    """`shutil.which(name)` is not None, without importing shutil for the usual absolute path."""
    if os.sep in name:
        return os.access(name, os.F_OK | os.X_OK) and not os.path.isdir(name)
    import shutil

    return shutil.which(name) is not None


def _read_sync(sock: "socket.socket", timeout: float) -> dict[str, Any] | None:
    """One JSON message from conmon's sync pipe, or None when conmon closed it."""
    import select

    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise OCIRuntimeError("timed out waiting for conmon's reply on the sync pipe")
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            continue
        data = sock.recv(65536)
        if not data:
            return None
        for line in data.decode(errors="replace").splitlines():
            line = line.strip()
            if line:
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if isinstance(msg, dict):
                    return msg


def _failure_text(req: ConmonRequest, conmon_message: str) -> str:
    """The runtime's words for a failed create: the JSON oci-log first, then conmon's message."""
    from pypod.libpod.oci.runtime import runtime_message

    if req.oci_log:
        try:
            with open(req.oci_log, encoding="utf-8", errors="replace") as fh:
                text = runtime_message(fh.read())
        except OSError:
            text = ""
        if text:
            return text.splitlines()[-1]
    return runtime_message(conmon_message) or conmon_message.strip() or "container create failed"


def classify_runtime_error(runtime_name: str, text: str) -> OCIRuntimeError:
    """Map runtime words to podman's error classes (127, 126 or 125)."""
    text = text.strip().rstrip("\n")
    prefix = "" if text.startswith(f"{runtime_name}: ") else f"{runtime_name}: "
    lowered = text.lower()
    if "executable file not found" in lowered or "no such file or directory" in lowered:
        return CommandNotFound(f"{prefix}{text}: {_NOT_FOUND}")
    if "permission denied" in lowered:
        return CommandNotExecutable(f"{prefix}{text}: {_PERMISSION}")
    return OCIRuntimeError(f"{prefix}{text}: {_GENERIC}")


def _read_pid(path: str) -> int:
    try:
        with open(path, encoding="ascii") as fh:
            return int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# --- exec sessions -----------------------------------------------------------
def run_exec(
    runtime: "OCIRuntime",
    ctr_id: str,
    process: dict[str, Any],
    *,
    tty: bool = False,
    interactive: bool = False,
    detach: bool = False,
    exit_file: str | None = None,
    pid_file: str | None = None,
    stdin: BinaryIO | int | None = None,
    stdout: BinaryIO | int | None = None,
    stderr: BinaryIO | int | None = None,
) -> int:
    """Run ``<runtime> exec --process`` in a running container.

    Without `detach`: the process shares our stdio (or the given streams) and its
    exit code is returned (also written to `exit_file`, if given).  With
    `detach`: the process runs in the background and 0 is returned (its pid in
    `pid_file`).  A command that cannot be found or executed raises
    `CommandNotFound`/`CommandNotExecutable`.
    """
    if detach and tty:
        raise OCIRuntimeError("detached exec with a terminal is not supported")
    process = dict(process)
    process["terminal"] = bool(tty)
    import tempfile  # exec only: start/stop need not import it (random, shutil)

    workdir = tempfile.mkdtemp(prefix="pypod-exec-")
    try:
        spec_path = os.path.join(workdir, "process.json")
        log_path = os.path.join(workdir, "runtime.log")
        with open(spec_path, "w", encoding="utf-8") as fh:
            json.dump(process, fh)
        relay = None
        if stderr is None and not tty and not detach:
            # runc prints its own failure on its stderr, which the process shares: hold the
            # stream back until the process has started (runc writes the pid file then)
            pid_file = pid_file or os.path.join(workdir, "exec.pid")
            relay = _StderrRelay(pid_file)
            stderr = relay.write_fd
        argv = runtime.exec_args(
            ctr_id, spec_path, tty=tty, detach=detach, pid_file=pid_file or "", log_file=log_path
        )
        import subprocess  # exec only

        if detach:
            stdin = stdout = stderr = subprocess.DEVNULL
        elif not interactive and not tty:
            stdin = subprocess.DEVNULL
        try:
            proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr)
        finally:
            if relay is not None:
                relay.spawned()
        code = proc.wait()
        failure = _exec_failure(log_path)
        if relay is not None:
            relay.finish(drop_unstarted=bool(failure) and (code == 255 or code < 0))
        if failure and (code == 255 or code < 0 or detach and code != 0):
            raise classify_runtime_error(runtime.name, failure)
        if code < 0:
            code = 128 - code
        if detach and code != 0:
            raise OCIRuntimeError(f"{runtime.name}: exec failed with exit status {code}")
        if exit_file and not detach:
            with open(exit_file, "w", encoding="ascii") as fh:
                fh.write(str(code))
        return code
    finally:
        import shutil

        shutil.rmtree(workdir, ignore_errors=True)


class _StderrRelay:
    """Copies an exec'd process's stderr to ours, minus the runtime's own failure message.

    Everything written before the runtime created the pid file (the process has started) is
    held back; if the exec then fails, that text is the runtime's error, which the caller
    reports as one ``Error:`` line instead.
    """

    def __init__(self, pid_file: str) -> None:
        import threading

        self.pid_file = pid_file
        self.read_fd, self.write_fd = os.pipe()
        self._held = bytearray()
        self._started = False
        self._drop = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._copy, daemon=True)
        self._thread.start()

    def spawned(self) -> None:
        """The child has its copy of the write end: ours goes, so EOF comes with its exit."""
        os.close(self.write_fd)

    def _copy(self) -> None:
        import select

        try:
            while True:
                ready, _, _ = select.select([self.read_fd], [], [], 0.005 if not self._started else None)
                if not self._started and os.path.exists(self.pid_file):
                    self._started = True
                    self._write(bytes(self._held))
                    self._held.clear()
                if not ready:
                    continue
                data = os.read(self.read_fd, 65536)
                if not data:
                    break
                if self._started:
                    self._write(data)
                else:
                    self._held += data
        finally:
            self._done.set()

    @staticmethod
    def _write(data: bytes) -> None:
        while data:
            try:
                data = data[os.write(2, data):]
            except OSError:
                return

    def finish(self, *, drop_unstarted: bool) -> None:
        """After the runtime exited: print what was held back unless it was the runtime's error.

        EOF normally follows the process's exit at once; a background child that keeps the
        stream open is not waited for (its later output is copied while pypod still runs).
        """
        if not self._done.wait(0.2):
            if not self._started and not drop_unstarted:
                self._started = True  # the copier writes from now on
                self._write(bytes(self._held))
                self._held.clear()
            return
        if self._held and not drop_unstarted:
            self._write(bytes(self._held))
        os.close(self.read_fd)


def _exec_failure(log_path: str) -> str:
    from pypod.libpod.oci.runtime import runtime_message

    try:
        with open(log_path, encoding="utf-8", errors="replace") as fh:
            text = runtime_message(fh.read())
    except OSError:
        return ""
    return text.splitlines()[-1] if text else ""
