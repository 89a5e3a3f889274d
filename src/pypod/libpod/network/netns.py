"""Persistent network namespaces: a bind mount of a fresh netns on ``<runroot>/netns/netns-<uuid>``.

A forked child unshares its network namespace, brings ``lo`` up and bind-mounts
``/proc/self/ns/net`` onto the target file; no ``ip netns`` needed.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import socket
import struct

from pypod.errors import NetworkError

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

# the process's own C library (dlopen(NULL)): no `ldconfig -p` child as ctypes.util.find_library runs
_libc = ctypes.CDLL(None, use_errno=True)


def netns_dir(runroot: str) -> str:
    return os.path.join(runroot, "netns")


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


def new_netns_path(runroot: str) -> str:
    """A fresh, unused namespace file path under ``<runroot>/netns`` (nothing is created)."""
    return os.path.join(netns_dir(runroot), f"netns-{_uuid4()}")


def create_netns(runroot: str, path: str | None = None) -> str:
    """Create a network namespace with loopback up (at ``path``, from `new_netns_path`, when
    given); returns its path (for the OCI spec)."""
    directory = netns_dir(runroot)
    os.makedirs(directory, mode=0o755, exist_ok=True)
    path = path or new_netns_path(runroot)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: only raw syscalls, then _exit
        code = 0
        try:
            os.close(read_end)
            if _libc.unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET)")
            _loopback_up()
            if _libc.mount(b"/proc/self/ns/net", path.encode(), None, MS_BIND, None) != 0:
                raise OSError(ctypes.get_errno(), f"bind mount on {path}")
        except BaseException as exc:  # noqa: BLE001 - reported through the pipe
            code = 1
            with contextlib.suppress(Exception):
                os.write(write_end, str(exc).encode()[:4000])
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        message = b""
        while chunk := os.read(read_end, 4096):
            message += chunk
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise NetworkError(f"creating network namespace: {message.decode(errors='replace') or 'child failed'}")
    return path


def is_netns(path: str) -> bool:
    """True when ``path`` is a mounted network namespace."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        # NS_GET_NSTYPE ioctl (0xb703) answers CLONE_NEWNET for a net namespace
        return fcntl.ioctl(fd, 0xB703) == CLONE_NEWNET
    except OSError:
        return False
    finally:
        os.close(fd)


def remove_netns(path: str) -> None:
    """Unmount and delete a namespace file; no error when it is already gone."""
    if not path:
        return
    if _libc.umount2(path.encode(), MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise NetworkError(f"unmounting network namespace {path}: {os.strerror(err)}")
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise NetworkError(f"removing network namespace {path}: {exc.strerror}") from exc


def _uuid4() -> str:
    """A random (version 4) UUID as text, without the uuid module (platform, ~2 ms)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
