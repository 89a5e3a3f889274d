"""Numbered inter-process locks on files, released by the kernel when their holder dies.

Each lock is an exclusive ``flock`` on ``<locks_dir>/<num>``. A lock is re-entrant within
one thread (a counter per thread and number); other threads of the same process and other
processes wait. Lock files are never deleted (unlinking a lock file races with waiters).
"""

from __future__ import annotations

import _thread  # threading.local is _thread._local; `threading` itself costs ~0.5 ms to import
import fcntl
import os
import time
from contextlib import AbstractContextManager, contextmanager

from pypod.errors import InvalidArgument, Timeout

TYPE_CHECKING = False  # typing (~2-3 ms with re) is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Iterator

RUNTIME_LOCK = "runtime"


class _Held:
    __slots__ = ("fd", "count")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.count = 1


class LockManager:
    """File locks under ``locks_dir`` (created 0700; lock files 0600)."""

    def __init__(self, locks_dir: str) -> None:
        self.locks_dir = locks_dir
        self._local = _thread._local()
        self._dir_ready = False

    # --- public API -----------------------------------------------------------------
    @contextmanager
    def lock(self, num: int | str, timeout: float | None = None) -> Iterator[None]:
        """Hold lock ``num`` for the ``with`` block (re-entrant in this thread)."""
        self.acquire(num, timeout=timeout)
        try:
            yield
        finally:
            self.release(num)

    def runtime_lock(self, timeout: float | None = None) -> AbstractContextManager[None]:
        """The engine-wide lock (``<locks_dir>/runtime``)."""
        return self.lock(RUNTIME_LOCK, timeout=timeout)

    def acquire(self, num: int | str, timeout: float | None = None) -> None:
        """Block until lock ``num`` is held (Timeout after ``timeout`` seconds if given)."""
        key = self._key(num)
        held = self._held().get(key)
        if held is not None:
            held.count += 1
            return
        fd = self._open(key)
        try:
            if timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            elif not self._poll(fd, timeout):
                raise Timeout(f"timed out after {timeout:g}s waiting for lock {key}")
        except BaseException:
            os.close(fd)
            raise
        self._held()[key] = _Held(fd)

    def try_lock(self, num: int | str) -> bool:
        """Take lock ``num`` if free now; True when held (then call ``release``)."""
        key = self._key(num)
        held = self._held().get(key)
        if held is not None:
            held.count += 1
            return True
        fd = self._open(key)
        if not self._try(fd):
            os.close(fd)
            return False
        self._held()[key] = _Held(fd)
        return True

    def release(self, num: int | str) -> None:
        """Undo one ``acquire``/``try_lock`` of this thread; the last one unlocks."""
        key = self._key(num)
        held_map = self._held()
        held = held_map.get(key)
        if held is None:
            raise InvalidArgument(f"lock {key} is not held by this thread")
        held.count -= 1
        if held.count == 0:
            del held_map[key]
            try:
                fcntl.flock(held.fd, fcntl.LOCK_UN)
            finally:
                os.close(held.fd)

    unlock = release

    def is_held(self, num: int | str) -> bool:
        """Whether this thread holds lock ``num``."""
        return self._key(num) in self._held()

    def path(self, num: int | str) -> str:
        return os.path.join(self.locks_dir, self._key(num))

    # --- internals ----------------------------------------------------------------------
    def _held(self) -> dict[str, _Held]:
        held = getattr(self._local, "held", None)
        if held is None:
            held = self._local.held = {}
        return held

    @staticmethod
    def _key(num: int | str) -> str:
        if isinstance(num, bool) or not isinstance(num, (int, str)):
            raise InvalidArgument(f"invalid lock number {num!r}")
        if isinstance(num, int):
            if num < 0:
                raise InvalidArgument(f"invalid lock number {num}")
            return str(num)
        if not num or "/" in num or num.startswith("."):
            raise InvalidArgument(f"invalid lock name {num!r}")
        return num

    def _open(self, key: str) -> int:
        if not self._dir_ready:
            os.makedirs(self.locks_dir, mode=0o700, exist_ok=True)
            self._dir_ready = True
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW
        try:
            return os.open(os.path.join(self.locks_dir, key), flags, 0o600)
        except FileNotFoundError:  # the directory was removed under us
            os.makedirs(self.locks_dir, mode=0o700, exist_ok=True)
            return os.open(os.path.join(self.locks_dir, key), flags, 0o600)

    @staticmethod
    def _try(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def _poll(self, fd: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            if self._try(fd):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)
