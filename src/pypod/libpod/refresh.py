"""Reboot detection: the first engine process after a boot runs the refresh, exactly once.

The tmp dir lives on a tmpfs (the run root), so ``<tmpdir>/alive`` disappears at reboot.
Under an exclusive ``flock`` on ``<tmpdir>/alive.lck`` the first process finds ``alive``
missing, runs the refresh, then creates ``alive`` (holding the boot id) atomically.
"""

from __future__ import annotations

import os

from pypod.libpod.osutil import flocked, write_atomic

TYPE_CHECKING = False  # typing (~2-3 ms with re) is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Callable

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


def ensure_refreshed(config: "EngineConfig", refresh_fn: Callable[[], None]) -> bool:
    """Run ``refresh_fn`` if this boot has not been refreshed yet; True when it ran here.

    Cheap in the common case: one ``stat`` of ``alive`` without taking the lock. If
    ``refresh_fn`` raises, ``alive`` is not created and the next process retries.
    """
    alive = config.alive_path
    if os.path.exists(alive):
        return False
    os.makedirs(config.tmpdir, mode=0o700, exist_ok=True)
    with flocked(config.alive_lock_path):
        if os.path.exists(alive):
            return False
        refresh_fn()
        write_atomic(alive, boot_id() + "\n", mode=0o600, fsync=True)
        return True
