"""Copy files into and out of a container's root filesystem without ever leaving it.

Container paths are resolved relative to the mounted root with ``openat2(RESOLVE_IN_ROOT)``
(or, where the kernel lacks it, a manual resolver that walks one component at a time on
directory fds), so absolute and ``..`` symlinks inside the container resolve inside the
container.  Data moves as a tar: the source is walked through fds (symlinks are never
followed below the source) into a temporary tar, which is then unpacked with the layer
extractor onto an fd of the resolved destination directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import stat
import tarfile
import tempfile
from dataclasses import dataclass

from pypod.errors import InvalidArgument, NotFound, StorageError

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import IO, Iterator
    from pypod.libpod.container.container import Container

RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_IN_ROOT = 0x10
_OPENAT2_NR = {"x86_64": 437, "aarch64": 437}
MAX_SYMLINKS = 40
_CHUNK = 1 << 20


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_openat2_works: bool | None = None


def _openat2(root_fd: int, path: str, flags: int) -> int:
    """openat2 with RESOLVE_IN_ROOT; raises OSError (ENOSYS when the kernel lacks it)."""
    nr = _OPENAT2_NR.get(platform.machine())
    if nr is None:
        raise OSError(errno.ENOSYS, "openat2 not available on this architecture")
    libc = ctypes.CDLL(None, use_errno=True)
    how = _OpenHow(flags | os.O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    libc.syscall.restype = ctypes.c_long
    fd = libc.syscall(
        ctypes.c_long(nr), ctypes.c_int(root_fd), os.fsencode(path), ctypes.byref(how), ctypes.c_size_t(ctypes.sizeof(how))
    )
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return int(fd)


def _manual_resolve(root_fd: int, path: str, follow_final: bool) -> int:
    """Walk ``path`` below ``root_fd`` one component at a time; returns an O_PATH fd.

    ``..`` never climbs above the root; symlinks are read and spliced in, absolute ones
    restart from the root.
    """
    stack = [os.dup(root_fd)]
    pending = [c for c in path.split("/") if c not in ("", ".")]
    links = 0
    try:
        while pending:
            comp = pending.pop(0)
            if comp == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            fd = os.open(comp, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=stack[-1])
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode) and (pending or follow_final):
                target = os.readlink(comp, dir_fd=stack[-1])
                os.close(fd)
                links += 1
                if links > MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                if target.startswith("/"):
                    for extra in stack[1:]:
                        os.close(extra)
                    del stack[1:]
                pending = [c for c in target.split("/") if c not in ("", ".")] + pending
                continue
            if pending and not stat.S_ISDIR(st.st_mode):
                os.close(fd)
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
            stack.append(fd)
        result = os.dup(stack[-1])
        return result
    finally:
        for fd in stack:
            os.close(fd)


def resolve_in_root(root: str | int, path: str, *, follow_final: bool = True) -> int:
    """An O_PATH fd of ``path`` resolved as if ``root`` were ``/`` (OSError if missing)."""
    global _openat2_works
    own = isinstance(root, str)
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) if own else int(root)  # type: ignore[arg-type]
    try:
        rel = path.lstrip("/") or "."
        if _openat2_works is not False and follow_final:
            try:
                fd = _openat2(root_fd, rel, os.O_PATH)
                _openat2_works = True
                return fd
            except OSError as exc:
                if exc.errno not in (errno.ENOSYS, errno.EPERM, errno.E2BIG, errno.EINVAL):
                    raise
                _openat2_works = False
        return _manual_resolve(root_fd, rel, follow_final)
    finally:
        if own:
            os.close(root_fd)


# --- tar of a tree walked through fds ----------------------------------------------
def _tarinfo(name: str, st: os.stat_result, linkname: str = "", *, owner: tuple[int, int] | None = None) -> tarfile.TarInfo | None:
    info = tarfile.TarInfo(name)
    mode = st.st_mode
    info.mode = stat.S_IMODE(mode)
    info.mtime = int(st.st_mtime)
    info.uid, info.gid = owner if owner is not None else (st.st_uid, st.st_gid)
    if stat.S_ISREG(mode):
        info.type, info.size = tarfile.REGTYPE, st.st_size
    elif stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type, info.linkname = tarfile.SYMTYPE, linkname
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return None  # sockets
    return info


def _add_file(tf: tarfile.TarFile, info: tarfile.TarInfo, fd: int) -> None:
    with os.fdopen(fd, "rb") as f:
        tf.addfile(info, f)


def write_tree_tar(
    src_fd: int, arcname: str, out: IO[bytes], *, owner: tuple[int, int] | None = None
) -> None:
    """Tar the file or directory behind the O_PATH fd ``src_fd`` into ``out``.

    ``arcname`` names the top entry; "" puts a directory's children at the top.
    """
    st = os.fstat(src_fd)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        if not stat.S_ISDIR(st.st_mode):
            if not arcname:
                raise InvalidArgument("cannot copy the contents of a file that is not a directory")
            info = _tarinfo(arcname, st, owner=owner)
            if info is None:
                return
            if info.isreg():
                _add_file(tf, info, os.open(f"/proc/self/fd/{src_fd}", os.O_RDONLY | os.O_CLOEXEC))
            else:
                tf.addfile(info)
            return
        dir_fd = os.open(f"/proc/self/fd/{src_fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            if arcname:
                info = _tarinfo(arcname, st, owner=owner)
                assert info is not None
                tf.addfile(info)
            for dirpath, dirnames, filenames, dfd in os.fwalk(".", dir_fd=dir_fd, follow_symlinks=False):
                dirnames.sort()
                rel_dir = "" if dirpath == "." else dirpath[2:]
                for name in sorted(dirnames + filenames):
                    rel = f"{rel_dir}/{name}" if rel_dir else name
                    full = f"{arcname}/{rel}" if arcname else rel
                    try:
                        est = os.stat(name, dir_fd=dfd, follow_symlinks=False)
                    except FileNotFoundError:
                        continue  # removed meanwhile
                    link = os.readlink(name, dir_fd=dfd) if stat.S_ISLNK(est.st_mode) else ""
                    info = _tarinfo(full, est, link, owner=owner)
                    if info is None:
                        continue
                    if info.isreg():
                        try:
                            fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
                        except OSError:
                            continue
                        real = os.fstat(fd)
                        if not stat.S_ISREG(real.st_mode) or real.st_size != info.size:
                            info.size = real.st_size if stat.S_ISREG(real.st_mode) else 0
                        _add_file(tf, info, fd)
                    else:
                        tf.addfile(info)
        finally:
            os.close(dir_fd)


def extract_into(stream: IO[bytes], dir_fd: int) -> None:
    """Unpack a tar onto the directory behind ``dir_fd`` (never following symlinks in it)."""
    from pypod.libpod.storage.archive import extract_stream

    extract_stream(stream, f"/proc/self/fd/{dir_fd}/.", whiteouts="vfs")


# --- copy semantics -------------------------------------------------------------------
@dataclass
class Endpoint:
    """One side of a copy: a container path (``container`` set) or a host path; "-" is a tar stream."""

    path: str
    container: "Container | None" = None

    @property
    def is_stream(self) -> bool:
        return self.container is None and self.path == "-"


def _not_found(ep: Endpoint, shown: str | None = None) -> NotFound:
    where = f"on container {ep.container.name}" if ep.container is not None else "on the host"
    return NotFound(f'"{shown if shown is not None else ep.path}" could not be found {where}: no such file or directory')


@contextlib.contextmanager
def _root_of(ep: Endpoint) -> Iterator[str]:
    """The directory the endpoint's path is relative to: the mounted container root or /."""
    ctr = ep.container
    if ctr is None:
        yield "/"
        return
    store = ctr.rt.store
    if ctr.config.rootfs:
        yield ctr.config.rootfs
        return
    with ctr.lock():
        merged = store.mount(ctr.config.rootfs_layer)
    try:
        yield merged
    finally:
        with ctr.lock():
            store.unmount(ctr.config.rootfs_layer)


def _open(root: str, ep: Endpoint, path: str, follow_final: bool = True) -> int:
    if ep.container is None:
        return os.open(path if path.startswith("/") else os.path.abspath(path), os.O_PATH | os.O_CLOEXEC | (0 if follow_final else os.O_NOFOLLOW))
    return resolve_in_root(root, path, follow_final=follow_final)


def _split_contents(path: str) -> tuple[str, bool]:
    """("/dir", True) for "/dir/." (copy the contents), else (path, False)."""
    if path == "." or path.endswith("/."):
        return (path[:-1] or ".", True)
    return path, False


def copy(src: Endpoint, dest: Endpoint, *, stdin: IO[bytes] | None = None, stdout: IO[bytes] | None = None) -> None:
    """Copy ``src`` to ``dest`` with docker-cp semantics; one side is a container or a stream."""
    with contextlib.ExitStack() as stack:
        spool = stack.enter_context(tempfile.TemporaryFile())
        # --- source to tar
        if src.is_stream:
            if stdin is None:
                raise InvalidArgument("no standard input to copy from")
            while chunk := stdin.read(_CHUNK):
                spool.write(chunk)
            src_is_dir, src_name, contents = True, "", True
        else:
            src_root = stack.enter_context(_root_of(src))
            path, contents = _split_contents(src.path)
            try:
                sfd = _open(src_root, src, path)
            except OSError as exc:
                if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                    raise _not_found(src) from None
                raise StorageError(f"{src.path}: {exc.strerror}") from None
            try:
                src_is_dir = stat.S_ISDIR(os.fstat(sfd).st_mode)
                if contents and not src_is_dir:
                    raise InvalidArgument(f'"{src.path}" is not a directory')
                src_name = os.path.basename(path.rstrip("/"))
                if dest.is_stream:
                    write_tree_tar(sfd, "" if contents else src_name, spool, owner=None)
                    spool.seek(0)
                    out = stdout if stdout is not None else os.fdopen(os.dup(1), "wb")
                    while chunk := spool.read(_CHUNK):
                        out.write(chunk)
                    out.flush()
                    return
            except BaseException:
                os.close(sfd)
                raise
        # --- decide where the tar goes on the destination
        dest_root = stack.enter_context(_root_of(dest))
        dpath = dest.path
        try:
            dfd = _open(dest_root, dest, dpath)
        except OSError as exc:
            if exc.errno not in (errno.ENOENT,):
                if not src.is_stream:
                    os.close(sfd)
                if exc.errno in (errno.ENOTDIR, errno.ELOOP):
                    raise _not_found(dest) from None
                raise StorageError(f"{dest.path}: {exc.strerror}") from None
            dfd = -1
        try:
            dest_is_dir = dfd >= 0 and stat.S_ISDIR(os.fstat(dfd).st_mode)
            if src.is_stream:
                if not dest_is_dir:
                    raise InvalidArgument("destination must be a directory when copying from stdin")
                target_fd, arc = dfd, ""
            elif dest_is_dir:
                target_fd = dfd
                arc = "" if contents else src_name
            else:
                if dfd < 0 and dpath.endswith("/"):
                    raise _not_found(dest)
                if src_is_dir and dfd >= 0:
                    raise InvalidArgument("destination must be a directory when copying a directory")
                parent, base = os.path.split(dpath.rstrip("/"))
                if not base or base in (".", ".."):
                    raise _not_found(dest)
                try:
                    target_fd = _open(dest_root, dest, parent or ("/" if dpath.startswith("/") else "."))
                except OSError:
                    raise _not_found(dest, parent or dpath) from None
                if not stat.S_ISDIR(os.fstat(target_fd).st_mode):
                    os.close(target_fd)
                    raise _not_found(dest, parent)
                arc = base
                if src_is_dir:
                    contents = False
            try:
                if not src.is_stream:
                    owner = (0, 0) if dest.container is not None else None
                    if src_is_dir and not arc:
                        write_tree_tar(sfd, "", spool, owner=owner)
                    else:
                        write_tree_tar(sfd, arc, spool, owner=owner)
                spool.seek(0)
                dir_fd = os.open(f"/proc/self/fd/{target_fd}", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
                try:
                    extract_into(spool, dir_fd)
                finally:
                    os.close(dir_fd)
            finally:
                if target_fd != dfd:
                    os.close(target_fd)
        finally:
            if dfd >= 0:
                os.close(dfd)
            if not src.is_stream:
                os.close(sfd)


def parse_endpoint(rt, text: str) -> Endpoint:  # type: ignore[no-untyped-def]
    """``CTR:PATH`` names a container path; anything else (with a / before any :) is a host path."""
    if text == "-":
        return Endpoint("-")
    name, sep, path = text.partition(":")
    if not sep or "/" in name or text.startswith((".", "/")):
        return Endpoint(text)
    if not name:
        raise InvalidArgument("name or ID cannot be empty")
    try:
        ctr = rt.get_container(name)
    except NotFound:
        raise NotFound(f'container "{name}" does not exist') from None
    return Endpoint(path or "/", ctr)


__all__ = ["Endpoint", "copy", "extract_into", "parse_endpoint", "resolve_in_root", "write_tree_tar"]
