"""Small OS helpers shared by the engine: atomic file writes, flock'd files, process liveness."""

from __future__ import annotations

import contextlib
import os

TYPE_CHECKING = False  # typing (~2-3 ms with re) is not imported at run time; mypy reads it as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Iterator


def write_atomic(path: str, data: bytes | str, *, mode: int = 0o644, fsync: bool = False) -> None:
    """Replace ``path`` with ``data`` in one rename (readers see the old or the new file, never half).

    With ``fsync`` the data and the rename reach the disk before returning (the directory is synced too).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = f"{path}.tmp-{os.getpid()}-{os.urandom(4).hex()}"  # unique per thread too
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        try:
            os.fchmod(fd, mode)  # not narrowed by the umask
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if fsync:
        dfd = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@contextlib.contextmanager
def flocked(path: str, *, shared: bool = False) -> Iterator[int]:
    """Hold ``flock`` on ``path`` (created 0600 if missing) for the block; yields the descriptor.

    The kernel releases the lock when the holder dies, so a killed process leaves no stale lock.
    """
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)  # closing the only descriptor releases the lock


def process_alive(pid: int, comm: str = "") -> bool:
    """Whether ``pid`` exists and is not a zombie (and, given ``comm``, runs a program of that name)."""
    if pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read()
    except OSError:
        return False
    # "<pid> (<comm>) <state> ..."
    close = stat.rfind(b")")
    state = stat[close + 2 : close + 3]
    if state in (b"Z", b"X"):
        return False
    if comm:
        name = stat[stat.find(b"(") + 1 : close].decode(errors="replace")
        return name == comm
    return True


def tree_size(path: str) -> int:
    """Bytes of the regular files and links under ``path`` (apparent sizes; unreadable entries skipped)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def random_choice(items: str | tuple[str, ...] | list[str]) -> str:
    """A uniform choice from the kernel's random bytes, as ``secrets.choice`` (rejection sampling,
    no modulo bias), without importing ``secrets`` (random, hmac, hashlib: ~4 ms per command)."""
    bits = (len(items) - 1).bit_length()
    while True:
        index = int.from_bytes(os.urandom((bits + 7) // 8), "big") >> (-bits % 8)
        if index < len(items):
            return items[index]


_SIGPIPE, _SIGXFSZ = 13, 25  # reset to default in the child, like subprocess (Linux numbers)


class Captured:
    """What one helper process did: exit code, stdout and stderr (text)."""

    __slots__ = ("returncode", "stdout", "stderr")

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_captured(argv: list[str], *, input: bytes = b"", timeout: float | None = None) -> Captured:  # noqa: A002
    """Run ``argv`` with ``input`` on its stdin, capturing stdout and stderr; wait for it.

    A `posix_spawn` (vfork) and a poll loop instead of `subprocess.run`: no subprocess,
    selectors or locale import and no fork of the whole interpreter, for the runtime and
    netavark calls of every container.  ``input`` must fit in a pipe (64 KiB).  OSError when
    the program cannot be started; TimeoutError (the process killed) after ``timeout`` s.
    """
    import select
    import time

    if len(input) > 65536:
        raise ValueError("run_captured: input larger than a pipe")
    in_r, in_w = os.pipe2(os.O_CLOEXEC)
    out_r, out_w = os.pipe2(os.O_CLOEXEC)
    err_r, err_w = os.pipe2(os.O_CLOEXEC)
    try:
        if input:
            os.write(in_w, input)
        os.close(in_w)
        spawn = os.posix_spawn if os.sep in argv[0] else os.posix_spawnp
        pid = spawn(
            argv[0], argv, os.environ,
            file_actions=[(os.POSIX_SPAWN_DUP2, in_r, 0), (os.POSIX_SPAWN_DUP2, out_w, 1),
                          (os.POSIX_SPAWN_DUP2, err_w, 2)],
            setsigdef=(_SIGPIPE, _SIGXFSZ),
        )  # fmt: skip
    except BaseException:
        for fd in (out_r, err_r):
            os.close(fd)
        raise
    finally:
        for fd in (in_r, out_w, err_w):
            os.close(fd)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    deadline = None if timeout is None else time.monotonic() + timeout
    timed_out = False
    try:
        poller = select.poll()
        for fd in chunks:
            poller.register(fd, select.POLLIN)
        open_fds = 2
        while open_fds:
            wait_ms = None if deadline is None else max(0, int((deadline - time.monotonic()) * 1000))
            events = poller.poll(wait_ms)
            if not events and deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                os.kill(pid, 9)
                break
            for fd, _event in events:
                data = os.read(fd, 65536)
                if data:
                    chunks[fd].append(data)
                else:
                    poller.unregister(fd)
                    open_fds -= 1
    finally:
        os.close(out_r)
        os.close(err_r)
        while True:
            try:
                _pid, status = os.waitpid(pid, 0)
                break
            except ChildProcessError:
                status = 0
                break
            except InterruptedError:  # pragma: no cover - PEP 475 retries
                continue
    if timed_out:
        raise TimeoutError(f"{argv[0]} did not finish within {timeout:.0f}s")
    return Captured(
        os.waitstatus_to_exitcode(status),
        b"".join(chunks[out_r]).decode(errors="replace"),
        b"".join(chunks[err_r]).decode(errors="replace"),
    )


def remove_tree(path: str) -> None:
    """`shutil.rmtree(path, ignore_errors=True)`; small trees (three levels, e.g. a container's
    <id>/userdata/shm, a staging directory) without importing shutil (bz2, lzma: ~2 ms), by the
    same symlink-safe descriptor walk; deeper ones are finished by shutil."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    except OSError:
        fd = -1
    if fd >= 0:
        try:
            done = _empty_dir_fd(fd, 3)
        except OSError:
            done = False
        finally:
            os.close(fd)
        if done:
            try:
                os.rmdir(path)
                return
            except FileNotFoundError:
                return
            except OSError:
                pass
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _empty_dir_fd(fd: int, depth: int) -> bool:
    """Remove what the directory ``fd`` holds, ``depth`` levels at most (False: deeper, left)."""
    with os.scandir(fd) as entries:
        names = [(e.name, e.is_dir(follow_symlinks=False)) for e in entries]
    for name, is_dir in names:
        if not is_dir:
            os.unlink(name, dir_fd=fd)
            continue
        if depth <= 0:
            return False
        sub = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        try:
            if not _empty_dir_fd(sub, depth - 1):
                return False
        finally:
            os.close(sub)
        os.rmdir(name, dir_fd=fd)
    return True


def lock_held(path: str) -> bool:
    """Whether a live process holds a flock on ``path`` (the kernel drops a dead one's).

    Probes with a non-blocking exclusive lock; a missing file is no holder, and any doubt
    other than "free" answers True (callers then leave the holder's work alone).
    """
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the probe's own lock
    return False
