"""The OCI runtime (runc, crun) as a command: start, kill, delete, pause, resume, state.

`create` is not here: conmon runs it (see `conmon.py`).  Every call runs
``<runtime> --root <state_root> <verb> ...`` and turns a failure into
`OCIRuntimeError` carrying the runtime's own message.
"""

from __future__ import annotations

import os

from pypod.errors import OCIRuntimeError
from pypod.libpod.osutil import Captured as RuntimeResult
from pypod.libpod.osutil import run_captured

TYPE_CHECKING = False  # typing is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any

_LOGFMT_MSG = None  # compiled on the first error (re is not needed on the success path)

def runtime_message(stderr: str) -> str:
    """Reduce runc/crun stderr to its message lines.

    runc's logrus text lines ``time="..." level=error msg="..."`` and its JSON
    lines ``{"level":..,"msg":..}`` become the bare ``msg``; other lines are kept.
    """
    messages: list[str] = []
    for raw in stderr.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("{"):
            import json

            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict) and "msg" in entry:
                if entry.get("level", "error") in ("error", "fatal", "panic"):
                    messages.append(str(entry["msg"]))
                continue
        match = _logfmt_msg().search(line)
        if match and "level=" in line:
            import re

            if re.search(r"level=(error|fatal|panic)", line):
                messages.append(_unescape(match.group(1)))
            continue
        messages.append(line)
    return "\n".join(messages).strip()


def _logfmt_msg():  # type: ignore[no-untyped-def]
    global _LOGFMT_MSG
    if _LOGFMT_MSG is None:
        import re

        _LOGFMT_MSG = re.compile(r'(?:^|\s)msg="((?:[^"\\]|\\.)*)"')
    return _LOGFMT_MSG


def _unescape(text: str) -> str:
    import json

    try:
        return json.loads(f'"{text}"')
    except ValueError:
        return text.replace('\\"', '"')


def _read_fifo_until_closed(fd: int, pidfd: int) -> bytes:
    """What the writer of the non-blocking fifo ``fd`` writes until it closes it; what was
    read so far once the process of ``pidfd`` is gone (b"" when it wrote nothing)."""
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    data = b""
    while True:
        ready = {ready_fd for ready_fd, _event in poller.poll()}
        if fd in ready:  # (a fifo never opened by a writer does not poll ready)
            try:
                chunk = os.read(fd, 4096)
            except BlockingIOError:
                continue
            if not chunk:
                return data  # the init closed its end: it has exec'd the container's process
            data += chunk
            continue
        if pidfd in ready:
            try:
                data += os.read(fd, 4096)
            except BlockingIOError:
                pass
            return data


class OCIRuntime:
    """One OCI runtime binary with its state directory."""

    def __init__(self, name: str, path: str, state_root: str, log_level: str = "error") -> None:
        self.name = name
        self.path = path
        self.state_root = state_root
        self.log_level = log_level

    def base_args(self) -> list[str]:
        """The runtime's global arguments (binary and --root)."""
        return [self.path, "--root", self.state_root]

    def _run(self, *args: str, check: bool = True) -> RuntimeResult:
        try:
            proc = run_captured([*self.base_args(), *args])
        except OSError as exc:
            raise OCIRuntimeError(f"{self.name}: cannot run {self.path}: {exc.strerror}") from exc
        if check and proc.returncode != 0:
            raise OCIRuntimeError(self._error_text(proc))
        return proc

    def _error_text(self, proc: RuntimeResult) -> str:
        msg = runtime_message(proc.stderr) or runtime_message(proc.stdout)
        if not msg:
            msg = f"exit status {proc.returncode}"
        return f"{self.name}: {msg}" if not msg.startswith(self.name) else msg

    def start(self, ctr_id: str, init_pid: int = 0) -> None:
        """Start a created container (``init_pid``: its init process, for the in-process path)."""
        if init_pid > 0 and self._start_through_fifo(ctr_id, init_pid):
            return
        self._run("start", ctr_id)

    def _start_through_fifo(self, ctr_id: str, init_pid: int) -> bool:
        """runc's own `start`, without a runc process: True when the container was started.

        A created runc container's init waits to open ``<state>/<id>/exec.fifo`` for writing
        (through its own descriptor of the fifo, so the name does not matter to it); `runc
        start` opens it for reading, reads until the init closes it (its exec of the
        container's process), then removes it (runc tells created from running by that file).
        This does the same, but removes the name as soon as it is open: killed half-way, it
        never leaves a running container that runc would take for a created one.  Anything
        unexpected (another runtime, no fifo, the init gone without writing, NOTIFY_SOCKET set)
        returns False, and the runtime's `start` then runs as usual and reports what happened.
        """
        if os.path.basename(self.path) != "runc" or "NOTIFY_SOCKET" in os.environ:
            return False
        fifo = os.path.join(self.state_root, ctr_id, "exec.fifo")
        try:
            pidfd = os.pidfd_open(init_pid)
        except (OSError, AttributeError):
            return False
        try:
            try:
                fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                return False
            try:
                try:
                    os.unlink(fifo)
                except FileNotFoundError:
                    pass
                data = _read_fifo_until_closed(fd, pidfd)
            finally:
                os.close(fd)
        finally:
            os.close(pidfd)
        return bool(data)

    def kill(self, ctr_id: str, sig: int | str, all: bool = False) -> None:  # noqa: A002
        """Send a signal to the container's init process (or all processes)."""
        args = ["kill"]
        if all:
            args.append("--all")
        self._run(*args, ctr_id, str(sig))

    def delete(self, ctr_id: str, force: bool = False) -> None:
        """Delete the container from the runtime; a container it does not know is not an error."""
        args = ["delete"]
        if force:
            args.append("--force")
        proc = self._run(*args, ctr_id, check=False)
        if proc.returncode != 0:
            text = self._error_text(proc)
            if "does not exist" in text or "not found" in text:
                return
            raise OCIRuntimeError(text)

    def pause(self, ctr_id: str) -> None:
        self._run("pause", ctr_id)

    def resume(self, ctr_id: str) -> None:
        self._run("resume", ctr_id)

    def state(self, ctr_id: str) -> dict[str, Any] | None:
        """The runtime's state JSON, or None when it does not know the container."""
        proc = self._run("state", ctr_id, check=False)
        if proc.returncode != 0:
            text = self._error_text(proc)
            if "does not exist" in text or "not found" in text or "no such file" in text.lower():
                return None
            raise OCIRuntimeError(text)
        import json

        try:
            return json.loads(proc.stdout)
        except ValueError as exc:
            raise OCIRuntimeError(f"{self.name}: unreadable state output: {exc}") from exc

    def exec_args(
        self,
        ctr_id: str,
        process_file: str,
        *,
        tty: bool = False,
        detach: bool = False,
        pid_file: str = "",
        log_file: str = "",
    ) -> list[str]:
        """argv for ``<runtime> exec --process FILE`` (used by `conmon.run_exec`)."""
        args = self.base_args()
        if log_file:
            args += ["--log", log_file, "--log-format", "json"]
        args += ["exec", "--process", process_file]
        if tty:
            args.append("--tty")
        if detach:
            args.append("--detach")
        if pid_file:
            args += ["--pid-file", pid_file]
        args.append(ctr_id)
        return args
