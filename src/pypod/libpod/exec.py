"""Exec sessions: run another process in a running container.

The process is built from the container's own OCI spec (``<bundle>/config.json``:
environment, user, working directory, capabilities, AppArmor, no_new_privileges,
rlimits) with the caller's overrides, and run with ``<runtime> exec``.  While it
runs, the session is recorded in the database and in the container state's
``exec_ids`` (so ``rm`` without force refuses); it is removed afterwards.
"""

from __future__ import annotations

import copy
import json
import os

from pypod.errors import InvalidState, NoSuchContainer, OCIRuntimeError, PypodError
from pypod.libpod.container import lifecycle
from pypod.libpod.container.model import ContainerStatus as S

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import IO, Any, BinaryIO
    from pypod.libpod.container.container import Container
    from pypod.libpod.runtime import Runtime

    Stream = BinaryIO | IO[bytes] | int | None


def new_exec_id() -> str:
    """A random exec session ID (64 hex digits, like container IDs)."""
    return os.urandom(32).hex()


def load_spec(ctr: "Container") -> dict[str, Any]:
    """The container's OCI runtime spec (written by init)."""
    path = os.path.join(ctr.bundle_path, "config.json")
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError) as exc:
        raise OCIRuntimeError(f"cannot read the OCI spec of container {ctr.id}: {exc}") from exc


def build_process(
    spec: dict[str, Any],
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    user: str = "",
    workdir: str = "",
    tty: bool = False,
    privileged: bool = False,
    rootfs: str = "",
) -> dict[str, Any]:
    """The OCI ``process`` for an exec: the container's process with ``cmd`` and the overrides."""
    process = copy.deepcopy(spec.get("process") or {})
    process.pop("consoleSize", None)
    process["args"] = list(cmd)
    process["terminal"] = bool(tty)
    merged: dict[str, str] = {}
    for item in process.get("env") or []:
        key, _, value = item.partition("=")
        merged[key] = value
    if tty and "TERM" not in merged:
        merged["TERM"] = "xterm"
    merged.update(env or {})
    process["env"] = [f"{k}={v}" for k, v in merged.items()]
    if workdir:
        process["cwd"] = workdir
    if user:
        from pypod.libpod.spec import resolve_user

        root = rootfs or (spec.get("root") or {}).get("path", "")
        uid, gid, extra, username = resolve_user(root, user)
        process["user"] = {
            **{k: v for k, v in (process.get("user") or {}).items() if k == "umask"},
            "uid": uid,
            "gid": gid,
            "additionalGids": extra,
        }
        if username:
            process["user"]["username"] = username
    if privileged:
        caps = process.get("capabilities") or {}
        bounding = list(caps.get("bounding") or [])
        process["capabilities"] = {
            "bounding": bounding,
            "effective": list(bounding),
            "permitted": list(bounding),
            "inheritable": [],
            "ambient": [],
        }
    return process


def exec_in(
    rt: "Runtime",
    ctr: "Container",
    cmd: list[str],
    *,
    env: dict[str, str] | None = None,
    user: str = "",
    workdir: str = "",
    tty: bool = False,
    interactive: bool = False,
    detach: bool = False,
    privileged: bool = False,
    stdin: Stream = None,
    stdout: Stream = None,
    stderr: Stream = None,
    pid_file: str | None = None,
    session_id: str | None = None,
) -> int:
    """Run ``cmd`` in the running container ``ctr``; return its exit code (0 when detached).

    126/127 (`CommandNotExecutable`/`CommandNotFound`) when the command cannot be run;
    `InvalidState` (125) when the container is not running.  ``pid_file`` receives the
    process's host PID (used by healthcheck timeouts).
    """
    if not cmd:
        from pypod.errors import InvalidArgument

        raise InvalidArgument("must provide a non-empty command to start an exec session: invalid argument")
    exec_id = session_id or new_exec_id()
    with ctr.lock():
        lifecycle.sync(ctr)
        if ctr.state.status != S.RUNNING:
            raise InvalidState("can only create exec sessions on running containers: container state improper")
        spec = load_spec(ctr)
        process = build_process(
            spec, cmd, env=env, user=user, workdir=workdir, tty=tty, privileged=privileged,
            rootfs=ctr.state.mountpoint,
        )
        session = {
            "id": exec_id,
            "container_id": ctr.id,
            "command": list(cmd),
            "tty": tty,
            "interactive": interactive,
            "detach": detach,
            "state": "running",
            "started_at": lifecycle.now_rfc3339(),
        }
        rt.db.add_exec_session(exec_id, ctr.id, session)
        ctr.state.exec_ids.append(exec_id)
        ctr.save()
    ctr.event("exec", execID=exec_id)
    code = -1
    try:
        from pypod.libpod.oci.conmon import run_exec

        code = run_exec(
            rt.oci, ctr.id, process, tty=tty, interactive=interactive, detach=detach,
            pid_file=pid_file, stdin=stdin, stdout=stdout, stderr=stderr,
        )
        return code
    finally:
        _end_session(rt, ctr, exec_id)
        if not detach:
            ctr.event("exec_died", execID=exec_id, containerExitCode=code)


def _end_session(rt: "Runtime", ctr: "Container", exec_id: str) -> None:
    """Forget the session in the database and the container state."""
    try:
        with ctr.lock():
            try:
                ctr.reload()
            except NoSuchContainer:
                return
            if exec_id in ctr.state.exec_ids:
                ctr.state.exec_ids.remove(exec_id)
                ctr.save()
            try:
                rt.db.remove_exec_session(exec_id)
            except PypodError:
                pass
    except PypodError:
        pass
