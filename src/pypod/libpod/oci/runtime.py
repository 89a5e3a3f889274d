"""The OCI runtime (runc, crun) as a command: start, kill, delete, pause, resume, state.

`create` is not here: conmon runs it (see `conmon.py`).  Every call runs
``<runtime> --root <state_root> <verb> ...`` and turns a failure into
`OCIRuntimeError` carrying the runtime's own message.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

from pypod.errors import OCIRuntimeError

_LOGFMT_MSG = re.compile(r'(?:^|\s)msg="((?:[^"\\]|\\.)*)"')


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
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict) and "msg" in entry:
                if entry.get("level", "error") in ("error", "fatal", "panic"):
                    messages.append(str(entry["msg"]))
                continue
        match = _LOGFMT_MSG.search(line)
        if match and "level=" in line:
            if re.search(r"level=(error|fatal|panic)", line):
                messages.append(_unescape(match.group(1)))
            continue
        messages.append(line)
    return "\n".join(messages).strip()


def _unescape(text: str) -> str:
    try:
        return json.loads(f'"{text}"')
    except ValueError:
        return text.replace('\\"', '"')


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

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run(
                [*self.base_args(), *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                check=False,
            )
        except OSError as exc:
            raise OCIRuntimeError(f"{self.name}: cannot run {self.path}: {exc.strerror}") from exc
        if check and proc.returncode != 0:
            raise OCIRuntimeError(self._error_text(proc))
        return proc

    def _error_text(self, proc: subprocess.CompletedProcess[str]) -> str:
        msg = runtime_message(proc.stderr) or runtime_message(proc.stdout)
        if not msg:
            msg = f"exit status {proc.returncode}"
        return f"{self.name}: {msg}" if not msg.startswith(self.name) else msg

    def start(self, ctr_id: str) -> None:
        """Start a created container."""
        self._run("start", ctr_id)

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
