"""Checkpointing a running container with the OCI runtime and CRIU.

The container's configuration (``config.dump``) and OCI spec (``spec.dump``) are written
to ``<static dir>/checkpoint/``, then ``<runtime> checkpoint --image-path <that dir>`` dumps
the processes.  CRIU is probed first with ``criu check``: when it cannot run, the error
says so in one line (`CriuUnavailable`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

from pypod.errors import CriuUnavailable, InvalidState, OCIRuntimeError
from pypod.libpod.container import lifecycle
from pypod.libpod.container.model import ContainerStatus as S

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from pypod.libpod.container.container import Container


def criu_problem() -> str:
    """"" when ``criu check`` passes, else why CRIU cannot be used (one line)."""
    criu = shutil.which("criu") or next(
        (p for p in ("/usr/sbin/criu", "/usr/local/sbin/criu") if os.access(p, os.X_OK)), None
    )
    if not criu:
        return "criu is not installed"
    try:
        proc = subprocess.run([criu, "check"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot run {criu} check: {exc}"
    if proc.returncode == 0:
        return ""
    lines = [line.strip() for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    first = lines[0] if lines else f"exit status {proc.returncode}"
    return f"`{criu} check` failed (exit status {proc.returncode}): {first}"


def checkpoint_dir(ctr: "Container") -> str:
    return os.path.join(ctr.static_dir, "checkpoint")


def checkpoint(
    ctr: "Container", *, leave_running: bool = False, keep: bool = False, tcp_established: bool = False
) -> None:
    """Checkpoint the running container (stopped afterwards unless ``leave_running``)."""
    with ctr.lock():
        lifecycle.sync(ctr)
        if ctr.state.status != S.RUNNING:
            raise InvalidState(
                f"\"{ctr.id}\" is not running, cannot checkpoint: container state improper"
            )
        problem = criu_problem()
        if problem:
            raise CriuUnavailable(f"checkpointing container {ctr.id} needs CRIU, which cannot run on this host: {problem}")
        target = checkpoint_dir(ctr)
        shutil.rmtree(target, ignore_errors=True)
        os.makedirs(target, mode=0o700)
        with open(os.path.join(target, "config.dump"), "w", encoding="utf-8") as fh:
            json.dump(ctr.config.to_dict(), fh, indent=1)
        shutil.copyfile(os.path.join(ctr.bundle_path, "config.json"), os.path.join(target, "spec.dump"))
        oci = ctr.rt.oci
        args = [*oci.base_args(), "checkpoint", "--image-path", target, "--work-path", ctr.static_dir]
        if leave_running:
            args.append("--leave-running")
        if tcp_established:
            args.append("--tcp-established")
        args.append(ctr.id)
        proc = subprocess.run(args, capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            from pypod.libpod.oci.runtime import runtime_message

            if not keep:
                shutil.rmtree(target, ignore_errors=True)
            msg = runtime_message(proc.stderr) or f"exit status {proc.returncode}"
            raise OCIRuntimeError(f"{oci.name} checkpoint failed: {msg.splitlines()[-1]}")
        ctr.state.checkpointed = True
        ctr.save()
        ctr.event("checkpoint")
    if not leave_running:
        ctr.wait(timeout=30)
        ctr.cleanup()
