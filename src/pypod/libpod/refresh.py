"""Reboot detection: the first engine process after a boot runs the refresh, exactly once.

The tmp dir lives on a tmpfs (the run root), so ``<tmpdir>/alive`` disappears at reboot.
Under an exclusive ``flock`` on ``<tmpdir>/alive.lck`` the first process finds ``alive``
missing, runs the refresh, then creates ``alive`` (holding the boot id) atomically.
"""

from __future__ import annotations

import fcntl
import os
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    from pypod.libpod.config import EngineConfig

BOOT_ID_PATH = "/proc/sys/kernel/random/boot_id"


def boot_id() -> str:
    """This boot's id ("" when the kernel does not expose one)."""
    try:
        with open(BOOT_ID_PATH) as f:
            return f.read().strip()
    except OSError:
        return ""


def _write_atomically(path: str, data: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, data.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def ensure_refreshed(config: "EngineConfig", refresh_fn: Callable[[], None]) -> bool:
    """Run ``refresh_fn`` if this boot has not been refreshed yet; True when it ran here.

    Cheap in the common case: one ``stat`` of ``alive`` without taking the lock. If
    ``refresh_fn`` raises, ``alive`` is not created and the next process retries.
    """
    alive = config.alive_path
    if os.path.exists(alive):
        return False
    os.makedirs(config.tmpdir, mode=0o700, exist_ok=True)
    fd = os.open(config.alive_lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.path.exists(alive):
            return False
        refresh_fn()
        _write_atomically(alive, boot_id() + "\n")
        return True
    finally:
        os.close(fd)  # closing the only descriptor releases the flock
