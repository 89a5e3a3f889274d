"""Safe extraction of layer tarballs, decompression sniffing and hashing readers.

Every path is resolved one component at a time with directory file descriptors
(``O_NOFOLLOW|O_DIRECTORY``), so no symlink, ``..`` or absolute name in an archive
can make us write outside the target directory.  Anything that would is refused with
:class:`HostileArchive` naming the entry.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import stat
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, Literal

from pypod.errors import DigestMismatch, HostileArchive, NoSpace, StorageError

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 20


# --- readers -----------------------------------------------------------------
class HashingReader(io.RawIOBase):
    """Read-through wrapper computing the sha256 digest and size of what is read."""

    def __init__(self, raw: IO[bytes], algorithm: str = "sha256") -> None:
        super().__init__()
        self._raw = raw
        self.algorithm = algorithm
        self._hash = hashlib.new(algorithm)
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size if size is not None else -1)
        if data:
            self._hash.update(data)
            self.size += len(data)
        return data or b""

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def drain(self) -> None:
        """Read (and hash) the rest of the stream."""
        while self.read(_CHUNK):
            pass

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def digest(self) -> str:
        """The digest so far as ``"<algorithm>:<hex>"``."""
        return f"{self.algorithm}:{self._hash.hexdigest()}"

    def verify(self, expected: str) -> None:
        """Raise DigestMismatch unless everything read matches ``expected``."""
        algo, _, hexpart = expected.partition(":")
        if algo != self.algorithm or not hexpart:
            raise DigestMismatch(f"unsupported digest {expected!r}")
        if hexpart.lower() != self._hash.hexdigest():
            raise DigestMismatch(f"digest mismatch: expected {expected}, got {self.digest()}")


class _PrefixedReader(io.RawIOBase):
    """Give back ``prefix`` first, then the rest of ``raw``."""

    def __init__(self, prefix: bytes, raw: IO[bytes]) -> None:
        super().__init__()
        self._prefix = prefix
        self._raw = raw

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._prefix:
            if size is None or size < 0:
                data, self._prefix = self._prefix + (self._raw.read() or b""), b""
                return data
            data, self._prefix = self._prefix[:size], self._prefix[size:]
            return data
        return self._raw.read(size if size is not None else -1) or b""

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)


class _SafeDecompressed(io.RawIOBase):
    """Turn decompressor failures (truncation, corruption) into StorageError."""

    def __init__(self, inner: IO[bytes], kind: str) -> None:
        super().__init__()
        self._inner = inner
        self.kind = kind

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._inner.read(size if size is not None else -1) or b""
        except (EOFError, OSError, zlib.error, ValueError) as exc:
            if isinstance(exc, OSError) and exc.errno is not None:
                raise
            raise StorageError(f"corrupt {self.kind} stream: {exc}") from None
        except Exception as exc:  # zstandard.ZstdError, lzma.LZMAError
            raise StorageError(f"corrupt {self.kind} stream: {exc}") from None

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)


def _read_prefix(raw: IO[bytes], n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = raw.read(n - len(out))
        if not chunk:
            break
        out += chunk
    return out


def open_maybe_compressed(fileobj: IO[bytes]) -> BinaryIO:
    """Return a reader of the decompressed content (gzip, zstd, bzip2, xz or plain)."""
    prefix = _read_prefix(fileobj, 6)
    src = _PrefixedReader(prefix, fileobj)
    if prefix.startswith(b"\x1f\x8b"):
        import gzip

        return _SafeDecompressed(gzip.GzipFile(fileobj=src, mode="rb"), "gzip")  # type: ignore[return-value]
    if prefix.startswith(b"\x28\xb5\x2f\xfd"):
        import zstandard

        reader = zstandard.ZstdDecompressor().stream_reader(src, read_across_frames=True)
        return _SafeDecompressed(reader, "zstd")  # type: ignore[return-value]
    if prefix.startswith(b"BZh"):
        import bz2

        return _SafeDecompressed(bz2.BZ2File(src, "rb"), "bzip2")  # type: ignore[return-value]
    if prefix.startswith(b"\xfd7zXZ\x00"):
        import lzma

        return _SafeDecompressed(lzma.LZMAFile(src, "rb"), "xz")  # type: ignore[return-value]
    return src  # type: ignore[return-value]


class _Recorder(io.RawIOBase):
    """Pass-through reader keeping the bytes between file data, for the tar-split."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self._raw = raw
        self.pos = 0
        self._buf = bytearray()
        self._buf_start = 0
        self._drop_until = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size if size is not None else -1) or b""
        start = self.pos
        self.pos += len(data)
        keep = data
        if start < self._drop_until:
            cut = min(len(data), self._drop_until - start)
            keep = data[cut:]
            self._buf_start = start + cut
        self._buf += keep
        return data

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def discard_upto(self, p: int) -> None:
        self._drop_until = max(self._drop_until, p)
        if p <= self._buf_start:
            return
        k = min(p, self.pos) - self._buf_start
        del self._buf[:k]
        self._buf_start += k

    def take(self, a: int, b: int) -> bytes:
        if a < self._buf_start or b > self.pos:
            raise StorageError("internal error: tar-split record out of range")
        out = bytes(self._buf[a - self._buf_start : b - self._buf_start])
        self.discard_upto(b)
        return out


# --- extraction ----------------------------------------------------------------
@dataclass
class ExtractResult:
    """What streaming a layer produced."""

    diff_id: str
    compressed_digest: str
    uncompressed_size: int
    segments: list[dict[str, Any]] = field(default_factory=list)


def _hostile(name: str, why: str) -> HostileArchive:
    return HostileArchive(f"refusing archive entry {name!r}: {why}")


def _clean(name: str, entry: str) -> list[str]:
    """Lexically normalise an entry name to components inside the root."""
    if "\x00" in name:
        raise _hostile(entry, "NUL byte in name")
    parts: list[str] = []
    for comp in name.split("/"):
        if comp in ("", "."):
            continue
        if comp == "..":
            if not parts:
                raise _hostile(entry, "path escapes the root")
            parts.pop()
            continue
        parts.append(comp)
    return parts


def _fd_path(fd: int, name: str | None = None) -> str:
    return f"/proc/self/fd/{fd}" + (f"/{name}" if name else "")


class _Extractor:
    """One extraction run onto ``target_dir``."""

    def __init__(self, target_dir: str, whiteouts: str, blobs_dir: str | None) -> None:
        self.whiteouts = whiteouts
        self.root_fd = os.open(target_dir, _DIR_FLAGS)
        self.blobs_dir = blobs_dir
        self.blob_count = 0
        self.created: dict[str, str] = {}  # relpath -> kind ("dir", "file", "other")
        self.live_files: dict[str, list[dict[str, Any]]] = {}
        self.dir_times: list[tuple[list[str], float]] = []

    def close(self) -> None:
        os.close(self.root_fd)

    # -- path walking
    def open_dir(self, parts: list[str], entry: str, create: bool) -> int:
        """Open the directory ``parts`` below the root without following symlinks."""
        fd = os.dup(self.root_fd)
        try:
            for i, comp in enumerate(parts):
                try:
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise _hostile(entry, f"{'/'.join(parts[: i + 1])} does not exist") from None
                    os.mkdir(comp, 0o755, dir_fd=fd)
                    self.created.setdefault("/".join(parts[: i + 1]), "implicit-dir")
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise _hostile(
                            entry, f"{'/'.join(parts[: i + 1])} is a symlink or not a directory"
                        ) from None
                    raise
                os.close(fd)
                fd = nfd
            return fd
        except BaseException:
            os.close(fd)
            raise

    def _lstat(self, dfd: int, name: str) -> os.stat_result | None:
        try:
            return os.stat(name, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def _created_under(self, rel: str) -> bool:
        prefix = rel + "/"
        return any(p.startswith(prefix) for p in self.created)

    def _remove_tree(self, dfd: int, name: str) -> None:
        st = self._lstat(dfd, name)
        if st is None:
            return
        if stat.S_ISDIR(st.st_mode):
            sub = os.open(name, _DIR_FLAGS, dir_fd=dfd)
            try:
                for child in os.listdir(sub):
                    self._remove_tree(sub, child)
            finally:
                os.close(sub)
            os.rmdir(name, dir_fd=dfd)
        else:
            os.unlink(name, dir_fd=dfd)

    def _displace(self, dfd: int, name: str, rel: str) -> None:
        """Remove a same-layer file, keeping its content if the tar-split needs it."""
        segs = self.live_files.pop(rel, None)
        if segs and self.blobs_dir is not None:
            blob = str(self.blob_count)
            self.blob_count += 1
            bfd = os.open(self.blobs_dir, _DIR_FLAGS)
            try:
                os.rename(name, blob, src_dir_fd=dfd, dst_dir_fd=bfd)
            finally:
                os.close(bfd)
            for seg in segs:
                seg["b"] = blob
        else:
            os.unlink(name, dir_fd=dfd)

    def make_room(self, dfd: int, name: str, rel: str, kind: str, entry: str) -> bool:
        """Clear ``name`` for a new entry of ``kind``; True if an existing dir is kept."""
        st = self._lstat(dfd, name)
        if st is None:
            return False
        is_dir = stat.S_ISDIR(st.st_mode)
        prev = self.created.get(rel)
        if kind == "dir" and is_dir:
            return True
        if prev is not None and prev != "whiteout":
            if prev in ("dir", "implicit-dir") or is_dir or kind == "dir":
                raise _hostile(entry, "duplicate entry changes a directory into a non-directory or back")
            if stat.S_ISREG(st.st_mode):
                self._displace(dfd, name, rel)
            else:
                os.unlink(name, dir_fd=dfd)
            return False
        if self._created_under(rel):
            raise _hostile(entry, "replaces a directory holding entries of the same layer")
        self._remove_tree(dfd, name)
        return False

    # -- metadata
    def apply_meta(self, dfd: int, name: str, info: tarfile.TarInfo, entry: str) -> None:
        xattrs = _xattrs_of(info, entry)
        if info.issym():
            os.chown(name, info.uid, info.gid, dir_fd=dfd, follow_symlinks=False)
            for key, value in xattrs.items():
                _set_xattr(_fd_path(dfd, name), key, value, entry, on_symlink=True)
            os.utime(name, (info.mtime, info.mtime), dir_fd=dfd, follow_symlinks=False)
            return
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
        try:
            path = _fd_path(fd)
            os.chown(path, info.uid, info.gid)
            os.chmod(path, info.mode & 0o7777)
            for key, value in xattrs.items():
                _set_xattr(path, key, value, entry)
            if not info.isdir():
                os.utime(path, (info.mtime, info.mtime))
        finally:
            os.close(fd)

    # -- entries
    def whiteout(self, parts: list[str], entry: str) -> None:
        base = parts[-1]
        parent = parts[:-1]
        if base == WHITEOUT_OPAQUE:
            dfd = self.open_dir(parent, entry, create=True)
            try:
                if self.whiteouts == "overlay":
                    os.setxattr(_fd_path(dfd), OVERLAY_OPAQUE_XATTR, b"y")
                else:
                    for child in os.listdir(dfd):
                        self._remove_lower(dfd, child, "/".join(parent + [child]))
            finally:
                os.close(dfd)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk ...): ignored
        target = base[len(WHITEOUT_PREFIX) :]
        if target in ("", ".", "..") or "/" in target:
            raise _hostile(entry, "invalid whiteout name")
        rel = "/".join(parent + [target])
        dfd = self.open_dir(parent, entry, create=True)
        try:
            if self.whiteouts == "overlay":
                if self.created.get(rel, "whiteout") != "whiteout":
                    return  # whiteouts only hide lower layers' content
                if self._lstat(dfd, target) is not None:
                    self._remove_tree(dfd, target)
                os.mknod(target, 0o600 | stat.S_IFCHR, os.makedev(0, 0), dir_fd=dfd)
                self.created[rel] = "whiteout"
            else:
                self._remove_lower(dfd, target, rel)
        finally:
            os.close(dfd)

    def _remove_lower(self, dfd: int, name: str, rel: str) -> None:
        """vfs: delete what a lower layer put at ``rel``, keeping this layer's entries."""
        if rel in self.created or self._created_under(rel):
            st = self._lstat(dfd, name)
            if st is not None and stat.S_ISDIR(st.st_mode):
                sub = os.open(name, _DIR_FLAGS, dir_fd=dfd)
                try:
                    for child in os.listdir(sub):
                        self._remove_lower(sub, child, rel + "/" + child)
                finally:
                    os.close(sub)
            return
        self._remove_tree(dfd, name)

    def entry(self, info: tarfile.TarInfo, tf: tarfile.TarFile, seg: dict[str, Any] | None) -> None:
        entry = info.name
        parts = _clean(info.name, entry)
        if not parts:
            if not info.isdir():
                raise _hostile(entry, "entry names the root itself")
            # "./" (as `tar -C DIR .` and umoci write it): the layer root's own metadata.
            self.apply_meta(self.root_fd, ".", info, entry)
            self.dir_times.append(([], info.mtime))
            return
        base = parts[-1]
        if base.startswith(WHITEOUT_PREFIX):
            self.whiteout(parts, entry)
            return
        if info.issparse():
            raise _hostile(entry, "sparse files are not supported")
        rel = "/".join(parts)
        dfd = self.open_dir(parts[:-1], entry, create=True)
        try:
            if info.isdir():
                kept = self.make_room(dfd, base, rel, "dir", entry)
                if not kept:
                    os.mkdir(base, 0o700, dir_fd=dfd)
                self.created[rel] = "dir"
                self.apply_meta(dfd, base, info, entry)
                self.dir_times.append((parts, info.mtime))
            elif info.isreg():
                self.make_room(dfd, base, rel, "file", entry)
                fd = os.open(
                    base,
                    os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                    0o600,
                    dir_fd=dfd,
                )
                with os.fdopen(fd, "wb") as out:
                    src = tf.extractfile(info)
                    if src is not None:
                        while chunk := src.read(_CHUNK):
                            out.write(chunk)
                self.created[rel] = "file"
                if seg is not None:
                    self.live_files.setdefault(rel, []).append(seg)
                self.apply_meta(dfd, base, info, entry)
            elif info.issym():
                self.make_room(dfd, base, rel, "other", entry)
                os.symlink(info.linkname, base, dir_fd=dfd)
                self.created[rel] = "other"
                self.apply_meta(dfd, base, info, entry)
            elif info.islnk():
                self.hardlink(info, dfd, base, rel, entry)
            elif info.ischr() or info.isblk() or info.isfifo():
                self.make_room(dfd, base, rel, "other", entry)
                if info.isfifo():
                    os.mkfifo(base, 0o600, dir_fd=dfd)
                else:
                    kind = stat.S_IFCHR if info.ischr() else stat.S_IFBLK
                    os.mknod(base, 0o600 | kind, os.makedev(info.devmajor, info.devminor), dir_fd=dfd)
                self.created[rel] = "other"
                self.apply_meta(dfd, base, info, entry)
            else:
                raise _hostile(entry, f"unsupported entry type {info.type!r}")
        finally:
            os.close(dfd)

    def hardlink(self, info: tarfile.TarInfo, dfd: int, base: str, rel: str, entry: str) -> None:
        src_parts = _clean(info.linkname, entry)
        if not src_parts:
            raise _hostile(entry, "hard link to the root")
        src_rel = "/".join(src_parts)
        if src_rel == rel:
            raise _hostile(entry, "hard link to itself")
        sfd = self.open_dir(src_parts[:-1], entry, create=False)
        try:
            st = self._lstat(sfd, src_parts[-1])
            if st is None:
                raise _hostile(entry, f"hard link target {info.linkname!r} does not exist")
            if stat.S_ISDIR(st.st_mode):
                raise _hostile(entry, "hard link to a directory")
            if self.whiteouts == "overlay" and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                raise _hostile(entry, "hard link to a whiteout")
            self.make_room(dfd, base, rel, "other", entry)
            os.link(src_parts[-1], base, src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False)
            self.created[rel] = "other"
        finally:
            os.close(sfd)

    def finish(self) -> None:
        """Set directory mtimes last (creating children changed them)."""
        for parts, mtime in reversed(self.dir_times):
            try:
                dfd = self.open_dir(parts, "/".join(parts), create=False)
            except HostileArchive:
                continue
            try:
                os.utime(_fd_path(dfd), (mtime, mtime))
            finally:
                os.close(dfd)


def _xattrs_of(info: tarfile.TarInfo, entry: str) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for key, value in (info.pax_headers or {}).items():
        if not key.startswith("SCHILY.xattr."):
            continue
        name = key[len("SCHILY.xattr.") :]
        if name.startswith("trusted.overlay.") or name.startswith("user.overlay."):
            raise _hostile(entry, f"overlay control xattr {name}")
        out[name] = value.encode("utf-8", "surrogateescape")
    return out


def _set_xattr(path: str, key: str, value: bytes, entry: str, *, on_symlink: bool = False) -> None:
    """Set one xattr; ``path`` is a /proc/self/fd magic link unless ``on_symlink``."""
    try:
        os.setxattr(path, key, value, follow_symlinks=not on_symlink)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EPERM, errno.EOPNOTSUPP) and (
            on_symlink or not key.startswith("user.")
        ):
            return  # security.*/trusted.* the kernel refuses, user.* on symlinks
        raise StorageError(f"setting xattr {key} on {entry!r}: {exc.strerror}") from None


def extract_stream(
    stream: IO[bytes],
    target_dir: str,
    *,
    whiteouts: Literal["overlay", "vfs"] = "overlay",
    compressed_digest: str | None = None,
    record: bool = False,
    blobs_dir: str | None = None,
) -> ExtractResult:
    """Extract a (maybe compressed) layer tar, hashing it; the worker behind extract_layer.

    With ``record`` the result carries the tar-split segments: raw header/padding bytes
    and references to file contents left in ``target_dir`` (or moved to ``blobs_dir``).
    """
    if whiteouts not in ("overlay", "vfs"):
        raise StorageError(f"unknown whiteout mode {whiteouts!r}")
    compressed = HashingReader(stream)
    opened = open_maybe_compressed(compressed)
    # an uncompressed stream is hashed once: its bytes are the compressed and the plain ones
    plain = compressed if isinstance(opened, _PrefixedReader) else HashingReader(opened)
    rec = _Recorder(opened if plain is compressed else plain)
    ex = _Extractor(target_dir, whiteouts, blobs_dir)
    segments: list[dict[str, Any]] = []
    try:
        try:
            # 1 MiB reads: tarfile's default stream buffer (10 KiB) means ~20 reads per MiB
            # through every Python reader layer
            tf = tarfile.open(fileobj=rec, mode="r|", errorlevel=2, bufsize=_CHUNK)  # type: ignore[call-overload]
            prev_end = 0
            while True:
                info = tf.next()
                if info is None:
                    break
                raw = rec.take(prev_end, info.offset_data)
                if record:
                    segments.append({"r": base64.b64encode(raw).decode()})
                seg: dict[str, Any] | None = None
                is_data_file = (
                    info.isreg()
                    and info.size > 0
                    and not info.name.rstrip("/").rsplit("/", 1)[-1].startswith(WHITEOUT_PREFIX)
                )
                if is_data_file:
                    prev_end = info.offset_data + info.size
                    rec.discard_upto(prev_end)
                    if record:
                        seg = {"f": "/".join(_clean(info.name, info.name)), "s": info.size}
                        segments.append(seg)
                else:
                    prev_end = info.offset_data
                try:
                    ex.entry(info, tf, seg)
                except OSError as exc:
                    if exc.errno == errno.ENOSPC:
                        raise
                    raise _hostile(info.name, exc.strerror or str(exc)) from None
            while rec.read(_CHUNK):
                pass
            tail = rec.take(prev_end, rec.pos)
            if record:
                segments.append({"r": base64.b64encode(tail).decode()})
            compressed.drain()
        except tarfile.TarError as exc:
            raise HostileArchive(f"invalid tar archive: {exc}") from None
        except (EOFError, zlib.error) as exc:
            raise StorageError(f"corrupt layer stream: {exc}") from None
        except OSError as exc:
            if exc.errno == errno.ENOSPC:
                raise NoSpace(f"no space left on device while extracting: {exc.filename or ''}") from None
            if exc.errno in (errno.ENAMETOOLONG, errno.ELOOP, errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
                raise HostileArchive(f"refusing archive: {exc.strerror}") from None
            raise StorageError(f"extracting layer: {exc}") from None
        if compressed_digest is not None:
            compressed.verify(compressed_digest)
        ex.finish()
    finally:
        ex.close()
    return ExtractResult(
        diff_id=plain.digest(),
        compressed_digest=compressed.digest(),
        uncompressed_size=plain.size,
        segments=segments,
    )


def extract_layer(
    stream: IO[bytes], target_dir: str, *, whiteouts: Literal["overlay", "vfs"] = "overlay"
) -> ExtractResult:
    """Safely extract a layer tar (maybe compressed) into ``target_dir``.

    Raises HostileArchive naming the offending entry; callers extract into a staging
    directory and discard it on error.  Returns the diffID/size it computed.
    """
    return extract_stream(stream, target_dir, whiteouts=whiteouts)


# --- writer ------------------------------------------------------------------
_BLOCK = tarfile.BLOCKSIZE
_RECORD = tarfile.RECORDSIZE
_SENDFILE_MAX = 1 << 30
_SMALL_FILE = 64 << 10  # files up to this size are read and written with the headers
# errors meaning "sendfile cannot do this pair of descriptors": copy through user space instead
_NO_SENDFILE = frozenset({errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EBADF})


class _TarOut:
    """The output of write_tree_tar: a raw descriptor (file data copied by the kernel) or a file object."""

    def __init__(self, fileobj: IO[bytes]) -> None:
        self.fileobj = fileobj
        self.fd: int | None = None
        try:
            fd = fileobj.fileno()
        except (OSError, ValueError, AttributeError):  # BytesIO and friends
            fd = None
        if fd is not None:
            fileobj.flush()  # what the caller buffered goes first
            self.fd = fd
        self.pending = bytearray()  # headers and padding not yet written
        self.offset = 0  # bytes of tar produced so far
        self.sendfile = fd is not None

    def add(self, data: bytes) -> None:
        self.pending += data
        self.offset += len(data)
        if len(self.pending) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        if self.fd is None:
            self.fileobj.write(self.pending)
        else:
            view = memoryview(self.pending)
            while view:
                view = view[os.write(self.fd, view) :]
            view.release()
        self.pending.clear()

    def copy(self, src: int, size: int, name: str) -> None:
        """Append ``size`` bytes of descriptor ``src`` (from its start) and the padding after them."""
        if size <= _SMALL_FILE:  # one read into the pending buffer beats a write + sendfile pair
            data = os.read(src, size)
            while len(data) < size:
                more = os.read(src, size - len(data))
                if not more:
                    raise OSError(errno.EIO, f"unexpected end of data: {name} shrank while being archived")
                data += more
            self.add(data + bytes(-size % _BLOCK))
            return
        self.flush()
        done = 0
        if self.sendfile and self.fd is not None:
            try:
                while done < size:
                    n = os.sendfile(self.fd, src, done, min(size - done, _SENDFILE_MAX))
                    if n == 0:
                        break
                    done += n
            except OSError as exc:
                if done or exc.errno not in _NO_SENDFILE:
                    raise
                self.sendfile = False
        while done < size:
            chunk = os.pread(src, min(size - done, _CHUNK), done)
            if not chunk:
                raise OSError(errno.EIO, f"unexpected end of data: {name} shrank while being archived")
            if self.fd is None:
                self.fileobj.write(chunk)
            else:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self.fd, view) :]
            done += len(chunk)
        self.offset += size
        self.add(bytes(-size % _BLOCK))

    def close(self) -> None:
        self.add(bytes(2 * _BLOCK))
        self.add(bytes(-self.offset % _RECORD))
        self.flush()
        if self.fd is not None:
            # a buffered file object caches its position: tell it where the descriptor is now
            try:
                if self.fileobj.seekable():
                    self.fileobj.seek(os.lseek(self.fd, 0, os.SEEK_CUR))
            except (OSError, ValueError):
                pass


_TYPES = {
    stat.S_IFREG: tarfile.REGTYPE, stat.S_IFDIR: tarfile.DIRTYPE, stat.S_IFLNK: tarfile.SYMTYPE,
    stat.S_IFIFO: tarfile.FIFOTYPE, stat.S_IFCHR: tarfile.CHRTYPE, stat.S_IFBLK: tarfile.BLKTYPE,
}
_MAX7 = 8**7  # what an 8-byte octal field holds (uid, gid, device numbers)
_MAX11 = 8**11  # what a 12-byte one holds (size, mtime)
_PAX_BLOCKS: dict[int, bytes] = {}  # pax header block by records length


def _ustar_block(name: bytes, mode: int, uid: int, gid: int, size: int, mtime: int, kind: bytes,
                 linkname: bytes, dev: bytes) -> bytes:
    """One ustar header block, as tarfile lays it out (empty uname/gname and prefix)."""
    block = bytearray(b"".join((
        name.ljust(100, b"\0"), b"%07o\0" % mode, b"%07o\0" % uid, b"%07o\0" % gid,
        b"%011o\0" % size, b"%011o\0" % mtime, b"        ", kind, linkname.ljust(100, b"\0"),
        tarfile.POSIX_MAGIC, bytes(64), dev, bytes(167),
    )))
    block[148:155] = b"%06o\0" % sum(block)
    return bytes(block)


def _pax_mtime(mtime: float) -> bytes:
    """The pax extended header carrying a float mtime in full, as tarfile writes it."""
    value = str(mtime).encode()
    length = len(value) + 8  # "mtime" + " " + "=" + "\n"
    n = p = 0
    while True:
        n = length + len(str(p))
        if n == p:
            break
        p = n
    record = b"%d mtime=%s\n" % (p, value)
    head = _PAX_BLOCKS.get(len(record))
    if head is None:
        head = _PAX_BLOCKS[len(record)] = _ustar_block(
            b"././@PaxHeader", 0, 0, 0, len(record), 0, tarfile.XHDTYPE, b"", bytes(16))
    return head + record.ljust(_BLOCK, b"\0")


def _xattr_headers(full: str) -> dict[str, str]:
    try:
        keys = os.listxattr(full, follow_symlinks=False)
    except OSError:
        return {}
    xattrs: dict[str, str] = {}
    for key in keys:
        if key.startswith(("trusted.overlay.", "user.overlay.")):
            continue
        try:
            value = os.getxattr(full, key, follow_symlinks=False)
        except OSError:
            continue
        xattrs[f"SCHILY.xattr.{key}"] = value.decode("utf-8", "surrogateescape")
    return xattrs


def _entry_header(full: str, rel: str, st: os.stat_result, links: dict[tuple[int, int], str]) -> tuple[bytes, int] | None:
    """The tar header of one path from its lstat result and the size of the data after it.

    Byte for byte what ``tarfile`` (PAX format, float mtime, empty user and group
    names) writes; the common case is built here directly, the rest by TarInfo.tobuf.
    None for sockets and the like.
    """
    mode = st.st_mode
    kind = _TYPES.get(stat.S_IFMT(mode))
    if kind is None:
        return None
    size = 0
    linkname = ""
    if kind == tarfile.REGTYPE:
        size = st.st_size
        if st.st_nlink > 1:
            first = links.setdefault((st.st_ino, st.st_dev), rel)
            if first != rel:
                kind, linkname, size = tarfile.LNKTYPE, first, 0
    elif kind == tarfile.SYMTYPE:
        linkname = os.readlink(full)
    elif kind == tarfile.DIRTYPE and not rel.endswith("/"):
        rel += "/"
    devmajor = devminor = 0
    if kind == tarfile.CHRTYPE or kind == tarfile.BLKTYPE:
        devmajor, devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    xattrs = _xattr_headers(full)
    mtime = st.st_mtime
    whole = round(mtime)
    if (not xattrs and len(rel) <= 100 and len(linkname) <= 100 and rel.isascii() and linkname.isascii()
            and st.st_uid < _MAX7 and st.st_gid < _MAX7 and size < _MAX11 and 0 <= whole < _MAX11
            and devmajor < _MAX7 and devminor < _MAX7):
        dev = b"%07o\0%07o\0" % (devmajor, devminor) if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE) else bytes(16)
        try:
            name_b, link_b = rel.encode("ascii"), linkname.encode("ascii")
        except UnicodeEncodeError:  # isascii() was true: cannot happen, but stay exact
            pass
        else:
            return _pax_mtime(mtime) + _ustar_block(
                name_b, mode & 0o7777, st.st_uid, st.st_gid, size, whole, kind, link_b, dev), size
    info = tarfile.TarInfo(rel)
    info.type = kind
    info.size = size
    info.linkname = linkname
    info.devmajor, info.devminor = devmajor, devminor
    info.mode = mode
    info.uid = st.st_uid
    info.gid = st.st_gid
    info.mtime = mtime
    info.uname = info.gname = ""
    info.pax_headers = xattrs
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"), size


def write_tree_tar(root: str, fileobj: IO[bytes]) -> None:
    """Write a PAX tar of everything below ``root`` (symlinks not followed) to ``fileobj``.

    Entries come in ``os.walk`` order, each directory's names sorted; hard-linked files
    after the first become link entries; sockets are left out, as are overlay's private
    xattrs.  When ``fileobj`` has a descriptor the headers are written to it directly
    and file contents copied by the kernel (sendfile), so nothing is read into Python.
    """
    out = _TarOut(fileobj)
    links: dict[tuple[int, int], str] = {}
    prefix_len = len(root.rstrip("/")) + 1
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        reldir = dirpath[prefix_len:]
        for name in sorted(dirnames + filenames):
            full = os.path.join(dirpath, name)
            rel = f"{reldir}/{name}" if reldir else name
            try:
                st = os.lstat(full)
            except FileNotFoundError:  # removed while we walk (a running container)
                continue
            entry = _entry_header(full, rel, st, links)
            if entry is None:
                continue
            header, size = entry
            if size == 0:
                out.add(header)
                continue
            src = os.open(full, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
            try:
                out.add(header)
                out.copy(src, size, rel)
            finally:
                os.close(src)
    out.close()
