"""Layer store: overlay or vfs driver, layer metadata, mounts, changes and diffs.

On-disk layout (driver ``overlay``)::

    <storage_root>/overlay/<id>/{diff,link,lower|empty,work,merged}
    <storage_root>/overlay/l/<26 chars> -> ../<id>/diff
    <storage_root>/overlay-layers/layers.json      (+ layers.lock, <id>.tar-split.gz, <id>.blobs/)

Driver ``vfs`` keeps full copies in ``<storage_root>/vfs/dir/<id>`` and its metadata in
``<storage_root>/vfs-layers/``.  Mount reference counts live in
``<runroot>/storage-mounts/<id>`` under ``<runroot>/storage-mounts.lock`` so that
several processes agree.  Layers appear in ``layers.json`` only once complete: they
are extracted into a staging directory, synced, renamed into place and then recorded
(temp file + fsync + rename), all under the layers lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import _thread  # threading.RLock() makes a _thread.RLock; `threading` costs ~0.5 ms to import
import os
import stat
import time
from dataclasses import dataclass

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:
    from typing import IO, Any, BinaryIO, Callable, Iterable, Iterator
    import ctypes  # pragma: no cover
    import tarfile

from pypod.errors import InUse, InvalidArgument, NoSpace, NoSuchLayer, StorageError
from pypod.libpod.osutil import flocked, lock_held, remove_tree, write_atomic

_LINK_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_CHUNK = 1 << 20
MNT_DETACH = 2
MS_RDONLY = 1
MS_NODEV = 4


@dataclass
class Layer:
    """One layer: an image layer (from a tar) or a container's read-write layer."""

    id: str
    parent: str | None
    diff_id: str
    compressed_digest: str | None
    uncompressed_size: int
    created: str
    kind: str = "image"  # "image" | "container"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _libc() -> "ctypes.CDLL":
    import ctypes  # lazily: ~2 ms of import that listing images need not pay

    return ctypes.CDLL(None, use_errno=True)


def _syncfs(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        _libc().syncfs(fd)
    finally:
        os.close(fd)


def _rmtree(path: str) -> None:
    if os.path.lexists(path):
        if os.path.isdir(path) and not os.path.islink(path):
            remove_tree(path)  # small trees without shutil's import; errors ignored here
            if os.path.exists(path):  # e.g. immutable bits or a mount left inside: say why
                import shutil

                shutil.rmtree(path)
        else:
            os.unlink(path)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    from pypod.libpod.storage.archive import OVERLAY_OPAQUE_XATTR
    try:
        return os.getxattr(path, OVERLAY_OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


# in-flight creations of this process: lock path -> [fd, depth] (see Store.creating)
_CREATING: dict[str, list[int]] = {}
_CREATING_MUTEX = _thread.RLock()


class Store:
    """Layers on disk for one graph root, with the ``overlay`` or ``vfs`` driver."""

    def __init__(self, storage_root: str, runroot: str, driver: str = "overlay") -> None:
        if driver not in ("overlay", "vfs"):
            raise InvalidArgument(f"unknown storage driver {driver!r}: only overlay and vfs are supported")
        self.storage_root = os.path.abspath(storage_root)
        self.runroot = os.path.abspath(runroot)
        self.driver = driver
        self.layers_dir = os.path.join(self.storage_root, f"{driver}-layers")
        self.driver_dir = (
            os.path.join(self.storage_root, "overlay")
            if driver == "overlay"
            else os.path.join(self.storage_root, "vfs", "dir")
        )
        self.mounts_dir = os.path.join(self.runroot, "storage-mounts")
        for d in (self.layers_dir, self.driver_dir, self.mounts_dir):
            os.makedirs(d, 0o700, exist_ok=True)
        if driver == "overlay":
            os.makedirs(os.path.join(self.driver_dir, "l"), 0o700, exist_ok=True)
        self._lock_path = os.path.join(self.layers_dir, "layers.lock")
        self._json_path = os.path.join(self.layers_dir, "layers.json")
        self._mount_lock_path = os.path.join(self.runroot, "storage-mounts.lock")
        self._inuse_lock_path = os.path.join(self.storage_root, "layers-inuse.lock")

    # --- in-flight creations ---------------------------------------------------
    @contextlib.contextmanager
    def creating(self) -> Iterator[None]:
        """Protect layers being created from :meth:`collect_unreferenced` until the record that
        references them (image, container row) is written: a shared flock on
        ``<storage_root>/layers-inuse.lock``, held by the whole process, re-entrant; the kernel
        drops it when a killed creator dies."""
        path = self._inuse_lock_path
        with _CREATING_MUTEX:
            slot = _CREATING.get(path)
            if slot is None:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_SH)
                except BaseException:
                    os.close(fd)
                    raise
                slot = _CREATING[path] = [fd, 0]
            slot[1] += 1
        try:
            yield
        finally:
            with _CREATING_MUTEX:
                slot[1] -= 1
                if slot[1] == 0:
                    del _CREATING[path]
                    os.close(slot[0])

    @contextlib.contextmanager
    def idle(self) -> Iterator[bool]:
        """Yield True while no creation is in flight in any process (the in-use lock is held
        exclusively meanwhile, so none can start); yield False when one is, without waiting."""
        path = self._inuse_lock_path
        with _CREATING_MUTEX:
            if path in _CREATING:  # this process is creating something right now
                yield False
                return
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                yield True
            finally:
                os.close(fd)

    def collect_unreferenced(self, referenced: "Callable[[], Iterable[str]]") -> list[str]:
        """Delete complete layers that no image and no container uses; return their ids.

        ``referenced()`` gives the layer ids images and containers name (their parents are kept
        too); it is called once no creator holds :meth:`creating`.  When a creation is in flight
        (in any process) nothing is collected: the next call will.  Mounted layers are kept.
        """
        path = self._inuse_lock_path
        with _CREATING_MUTEX:
            if path in _CREATING:  # this process is creating one right now
                return []
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return []
                keep_roots = set(referenced())
                removed: list[str] = []
                with flocked(self._lock_path):
                    entries = self._load()
                    keep: set[str] = set()
                    for lid in keep_roots:
                        cur: str | None = lid
                        while cur is not None and cur in entries and cur not in keep:
                            keep.add(cur)
                            cur = entries[cur].get("parent")
                    doomed = [lid for lid in entries if lid not in keep]
                    # a mounted layer (and its ancestors) stays
                    for lid in list(doomed):
                        if self.is_mounted(lid):
                            cur = lid
                            while cur is not None and cur in entries:
                                keep.add(cur)
                                cur = entries[cur].get("parent")
                    doomed = [lid for lid in doomed if lid not in keep]
                    if not doomed:
                        return []
                    gone = {lid: entries.pop(lid) for lid in doomed}
                    self._save(entries)
                    for lid, entry in gone.items():
                        with contextlib.suppress(OSError):
                            self._remove_files(lid, entry.get("link"))
                        removed.append(lid)
                return removed
            finally:
                os.close(fd)

    # --- metadata --------------------------------------------------------------
    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self._json_path, "rb") as f:
                entries = json.load(f)
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise StorageError(f"corrupt layer metadata {self._json_path}: {exc}") from None
        return {e["id"]: e for e in entries}

    def _save(self, entries: dict[str, dict[str, Any]]) -> None:
        data = json.dumps(list(entries.values()), indent=1).encode()
        write_atomic(self._json_path, data, fsync=True)

    @staticmethod
    def _to_layer(e: dict[str, Any]) -> Layer:
        return Layer(
            id=e["id"],
            parent=e.get("parent"),
            diff_id=e.get("diff_id", ""),
            compressed_digest=e.get("compressed_digest"),
            uncompressed_size=e.get("uncompressed_size", 0),
            created=e.get("created", ""),
            kind=e.get("kind", "image"),
        )

    def _entry(self, layer_id: str) -> dict[str, Any]:
        e = self._load().get(layer_id)
        if e is None:
            raise NoSuchLayer(f"layer not known: {layer_id}")
        return e

    def layer(self, layer_id: str) -> Layer:
        """The layer with this exact id (NoSuchLayer otherwise)."""
        return self._to_layer(self._entry(layer_id))

    def layers(self) -> list[Layer]:
        """All layers, image and container ones."""
        return [self._to_layer(e) for e in self._load().values()]

    def _chain(self, layer_id: str, entries: dict[str, dict[str, Any]] | None = None) -> list[str]:
        """``layer_id`` and its ancestors, top first."""
        entries = entries if entries is not None else self._load()
        out: list[str] = []
        cur: str | None = layer_id
        while cur is not None:
            if cur not in entries:
                raise NoSuchLayer(f"layer not known: {cur}")
            if cur in out:
                raise StorageError(f"layer parent loop at {cur}")
            out.append(cur)
            cur = entries[cur].get("parent")
        return out

    def layer_dir(self, layer_id: str) -> str:
        """The directory holding the layer's files (overlay ``diff/``, vfs full copy)."""
        if self.driver == "overlay":
            return os.path.join(self.driver_dir, layer_id, "diff")
        return os.path.join(self.driver_dir, layer_id)

    # --- staging -----------------------------------------------------------------
    @contextlib.contextmanager
    def _staging(self) -> Iterator[tuple[str, str]]:
        """A staging dir (+ its blobs dir) removed unless renamed away; flock marks it live."""
        name = f"staging-{os.urandom(8).hex()}"
        stage = os.path.join(self.driver_dir, name)
        blobs = os.path.join(self.layers_dir, f"{name}.blobs")
        lock = os.path.join(self.layers_dir, f"{name}.lock")
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            os.mkdir(stage, 0o700)
            os.mkdir(blobs, 0o700)
            yield stage, blobs
        finally:
            for p in (stage, blobs):
                with contextlib.suppress(OSError):
                    _rmtree(p)
            with contextlib.suppress(OSError):
                os.unlink(lock)
            os.close(fd)

    def _prepare_root(self, stage: str, parent: str | None) -> str:
        """Create the directory the layer content goes into; return it."""
        if self.driver == "overlay":
            for sub in ("diff", "work", "merged"):
                os.mkdir(os.path.join(stage, sub), 0o755 if sub == "diff" else 0o700)
            return os.path.join(stage, "diff")
        if parent is None:
            os.chmod(stage, 0o755)
            return stage
        os.rmdir(stage)
        src = self.layer_dir(parent)
        import subprocess

        proc = subprocess.run(
            ["cp", "-a", "--reflink=auto", src, stage], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            raise StorageError(f"copying layer {parent}: {proc.stderr.strip()}")
        return stage

    def _finish_overlay_dir(self, stage: str, parent: str | None, entries: dict[str, dict[str, Any]]) -> str:
        from pypod.libpod.osutil import random_choice  # not secrets: ~4 ms of imports per create

        link = "".join(random_choice(_LINK_CHARS) for _ in range(26))
        with open(os.path.join(stage, "link"), "w") as f:
            f.write(link)
        if parent is None:
            os.mkdir(os.path.join(stage, "empty"), 0o700)
        else:
            lowers = [f"l/{entries[i]['link']}" for i in self._chain(parent, entries)]
            with open(os.path.join(stage, "lower"), "w") as f:
                f.write(":".join(lowers))
        return link

    def _commit(self, stage: str, blobs: str, entry: dict[str, Any], split: bytes | None) -> None:
        """Rename the staged layer into place and record it (caller holds the layers lock)."""
        lid = entry["id"]
        if split is not None:
            write_atomic(os.path.join(self.layers_dir, f"{lid}.tar-split.gz"), split, fsync=True)
        if os.listdir(blobs):
            os.rename(blobs, os.path.join(self.layers_dir, f"{lid}.blobs"))
        final = os.path.join(self.driver_dir, lid)
        if os.path.lexists(final):  # leftover of a crash: not in the metadata
            _rmtree(final)
        os.rename(stage, final)
        if self.driver == "overlay":
            link_path = os.path.join(self.driver_dir, "l", entry["link"])
            with contextlib.suppress(FileNotFoundError):
                os.unlink(link_path)
            os.symlink(f"../{lid}/diff", link_path)
        if entry.get("kind") != "container" or self.driver != "overlay":
            _syncfs(self.driver_dir)  # layer content must be on disk before the metadata names it
        # else an empty rw layer (a few directories and two short files): no syncfs of the whole
        # file system; the metadata write below (fsync of layers.json and its directory) commits
        # the journal those directory operations went to first
        entries = self._load()
        entries[lid] = entry
        self._save(entries)

    # --- layers ----------------------------------------------------------------
    def create_layer(
        self, parent: str | None, tar_stream: IO[bytes], *, compressed_digest: str | None = None
    ) -> Layer:
        """Apply a (maybe compressed) layer tar on ``parent``; reuse an identical layer."""
        import gzip
        import hashlib
        from pypod.libpod.storage.archive import extract_stream
        if parent is not None:
            pentry = self._entry(parent)
            if pentry.get("kind") == "container":
                raise InvalidArgument(f"layer {parent} is a container layer")
        with self.creating(), self._staging() as (stage, blobs):
            root = self._prepare_root(stage, parent)
            result = extract_stream(
                tar_stream,
                root,
                whiteouts="overlay" if self.driver == "overlay" else "vfs",
                compressed_digest=compressed_digest,
                record=True,
                blobs_dir=blobs,
            )
            diff_hex = result.diff_id.split(":", 1)[1]
            if parent is None:
                lid = diff_hex
            else:
                lid = hashlib.sha256(f"{parent}+{result.diff_id}".encode()).hexdigest()
            split = gzip.compress(
                b"".join(json.dumps(s).encode() + b"\n" for s in result.segments), compresslevel=6
            )
            with flocked(self._lock_path):
                entries = self._load()
                if lid in entries:
                    existing = entries[lid]
                    if existing.get("compressed_digest") is None and compressed_digest:
                        existing["compressed_digest"] = compressed_digest
                        self._save(entries)
                    return self._to_layer(existing)
                if parent is not None and parent not in entries:
                    raise NoSuchLayer(f"layer not known: {parent}")
                entry: dict[str, Any] = {
                    "id": lid,
                    "parent": parent,
                    "diff_id": result.diff_id,
                    "compressed_digest": compressed_digest or result.compressed_digest,
                    "uncompressed_size": result.uncompressed_size,
                    "created": _now(),
                    "kind": "image",
                }
                if self.driver == "overlay":
                    entry["link"] = self._finish_overlay_dir(stage, parent, entries)
                self._commit(stage, blobs, entry, split)
                return self._to_layer(entry)

    def create_container_layer(self, parent_layer_id: str | None) -> str:
        """Create an empty read-write layer on top of an image layer; return its id."""
        if parent_layer_id is not None:
            self._entry(parent_layer_id)
        lid = os.urandom(32).hex()
        with self.creating(), self._staging() as (stage, blobs):
            self._prepare_root(stage, parent_layer_id)
            with flocked(self._lock_path):
                entries = self._load()
                if parent_layer_id is not None and parent_layer_id not in entries:
                    raise NoSuchLayer(f"layer not known: {parent_layer_id}")
                entry: dict[str, Any] = {
                    "id": lid,
                    "parent": parent_layer_id,
                    "diff_id": "",
                    "compressed_digest": None,
                    "uncompressed_size": 0,
                    "created": _now(),
                    "kind": "container",
                }
                if self.driver == "overlay":
                    entry["link"] = self._finish_overlay_dir(stage, parent_layer_id, entries)
                self._commit(stage, blobs, entry, None)
        return lid

    def delete_layer(self, layer_id: str) -> None:
        """Remove a layer; refuse one that is the parent of another or is mounted."""
        with flocked(self._lock_path):
            entries = self._load()
            if layer_id not in entries:
                raise NoSuchLayer(f"layer not known: {layer_id}")
            children = [e["id"] for e in entries.values() if e.get("parent") == layer_id]
            if children:
                raise InUse(f"layer {layer_id} is in use by layer {children[0]}")
            if self.is_mounted(layer_id):
                raise InUse(f"layer {layer_id} is mounted")
            entry = entries.pop(layer_id)
            try:
                self._save(entries)
            except OSError as exc:
                if exc.errno != errno.ENOSPC:
                    raise
                # a full graph root (D4): the layer's own files make the room for the metadata
                self._remove_files(layer_id, entry.get("link"))
                try:
                    self._save(entries)
                except OSError as again:
                    raise NoSpace(f"deleting layer {layer_id}: no space left on device") from again
            self._remove_files(layer_id, entry.get("link"))

    def _remove_files(self, layer_id: str, link: str | None) -> None:
        if link:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(self.driver_dir, "l", link))
        for p in (
            os.path.join(self.driver_dir, layer_id),
            os.path.join(self.layers_dir, f"{layer_id}.tar-split.gz"),
            os.path.join(self.layers_dir, f"{layer_id}.blobs"),
        ):
            _rmtree(p)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.mounts_dir, layer_id))

    def gc(self) -> list[str]:
        """Remove layer directories and files that the metadata does not know; return them."""
        removed: list[str] = []
        with flocked(self._lock_path):
            entries = self._load()
            for name in os.listdir(self.driver_dir):
                if name in entries or (self.driver == "overlay" and name == "l"):
                    continue
                if name.startswith("staging-") and self._staging_alive(name):
                    continue
                _rmtree(os.path.join(self.driver_dir, name))
                removed.append(os.path.join(self.driver_dir, name))
            if self.driver == "overlay":
                ldir = os.path.join(self.driver_dir, "l")
                links = {e.get("link") for e in entries.values()}
                for name in os.listdir(ldir):
                    if name not in links or not os.path.exists(os.path.join(ldir, name)):
                        os.unlink(os.path.join(ldir, name))
                        removed.append(os.path.join(ldir, name))
            for name in os.listdir(self.layers_dir):
                if name in ("layers.json", "layers.lock"):
                    continue
                lid = name.split(".", 1)[0]
                if lid in entries:
                    continue
                if name.startswith("staging-") and self._staging_alive(lid):
                    continue
                path = os.path.join(self.layers_dir, name)
                _rmtree(path)
                removed.append(path)
        return removed

    def _staging_alive(self, name: str) -> bool:
        return lock_held(os.path.join(self.layers_dir, f"{name}.lock"))

    # --- tar-split -------------------------------------------------------------
    def layer_tar(self, layer_id: str) -> BinaryIO:
        """The layer's uncompressed tar, byte-identical to the one it was created from."""
        import base64
        import gzip
        import hashlib
        import tempfile
        entry = self._entry(layer_id)
        if entry.get("kind") == "container":
            raise InvalidArgument(f"layer {layer_id} is a container layer: use diff_tar")
        split_path = os.path.join(self.layers_dir, f"{layer_id}.tar-split.gz")
        root = self.layer_dir(layer_id)
        blobs = os.path.join(self.layers_dir, f"{layer_id}.blobs")
        out = tempfile.TemporaryFile(dir=self.storage_root)
        h = hashlib.sha256()
        try:
            with gzip.open(split_path, "rb") as split:
                for line in split:
                    seg = json.loads(line)
                    if "r" in seg:
                        data = base64.b64decode(seg["r"])
                        h.update(data)
                        out.write(data)
                        continue
                    path = os.path.join(blobs, seg["b"]) if "b" in seg else os.path.join(root, seg["f"])
                    remaining = seg["s"]
                    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
                    with os.fdopen(fd, "rb") as f:
                        while remaining:
                            chunk = f.read(min(_CHUNK, remaining))
                            if not chunk:
                                raise StorageError(f"layer {layer_id}: file {seg['f']} is shorter than recorded")
                            h.update(chunk)
                            out.write(chunk)
                            remaining -= len(chunk)
        except (OSError, ValueError, EOFError) as exc:
            out.close()
            raise StorageError(f"layer {layer_id}: cannot rebuild its tar: {exc}") from None
        if f"sha256:{h.hexdigest()}" != entry["diff_id"]:
            out.close()
            raise StorageError(f"layer {layer_id}: content changed on disk, its tar no longer matches {entry['diff_id']}")
        out.seek(0)
        return out  # type: ignore[return-value]

    # --- mounts ----------------------------------------------------------------
    def _count_path(self, layer_id: str) -> str:
        return os.path.join(self.mounts_dir, layer_id)

    def _read_count(self, layer_id: str) -> int:
        try:
            with open(self._count_path(layer_id)) as f:
                return int(f.read().strip() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def _write_count(self, layer_id: str, n: int) -> None:
        if n <= 0:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._count_path(layer_id))
        else:
            # mount counts live in the run root and mean nothing after a reboot (the mounts are
            # gone too): atomic against a killed process, without fsync
            path = self._count_path(layer_id)
            tmp = f"{path}.tmp-{os.getpid()}"
            with open(tmp, "wb") as f:
                f.write(str(n).encode())
            os.replace(tmp, path)

    def _merged(self, layer_id: str) -> str:
        if self.driver == "overlay":
            return os.path.join(self.driver_dir, layer_id, "merged")
        return self.layer_dir(layer_id)

    def _really_mounted(self, layer_id: str) -> bool:
        if self.driver != "overlay":
            return self._read_count(layer_id) > 0
        return os.path.ismount(self._merged(layer_id))

    def is_mounted(self, layer_id: str) -> bool:
        """Whether the layer is mounted (by any process)."""
        return self._read_count(layer_id) > 0 and self._really_mounted(layer_id)

    def mount(self, layer_id: str, *, volatile: bool = False) -> str:
        """Mount the layer (ref-counted) and return the path of its root filesystem.

        ``volatile`` (a container that is removed when it exits, as podman does for ``--rm``):
        the overlay skips syncing its upper directory, so the last unmount does not write
        back the whole host file system; its content is not kept across a crash, which a
        container that is removed on exit does not need.
        """
        entries = self._load()
        if layer_id not in entries:
            raise NoSuchLayer(f"layer not known: {layer_id}")
        with flocked(self._mount_lock_path):
            count = self._read_count(layer_id)
            if self.driver == "overlay":
                if count == 0 or not self._really_mounted(layer_id):
                    count = 0
                    if not self._really_mounted(layer_id):
                        self._overlay_mount(layer_id, entries, volatile)
            self._write_count(layer_id, count + 1)
        return self._merged(layer_id)

    def _overlay_mount(self, layer_id: str, entries: dict[str, dict[str, Any]], volatile: bool = False) -> None:
        e = entries[layer_id]
        base = self.driver_dir
        chain = self._chain(layer_id, entries)
        links = [os.path.join(base, "l", entries[i]["link"]) for i in chain]
        if e.get("kind") == "container":
            lowers = links[1:]
            if not lowers:
                lowers = [os.path.join(base, layer_id, "empty")]
            workdir = os.path.join(base, layer_id, "work")
            opts = (
                f"lowerdir={':'.join(lowers)},upperdir={os.path.join(base, layer_id, 'diff')},"
                f"workdir={workdir}"
            )
            # a volatile mount leaves work/work/incompat/volatile behind and the kernel refuses
            # the next mount while it exists: the container's own earlier volatile mount
            _rmtree(os.path.join(workdir, "work", "incompat", "volatile"))
            if volatile:
                opts += ",volatile"
            flags = MS_NODEV
        else:
            lowers = links
            if len(lowers) < 2:
                lowers.append(os.path.join(base, chain[-1], "empty"))
            opts = f"lowerdir={':'.join(lowers)}"
            flags = MS_NODEV | MS_RDONLY
        target = self._merged(layer_id)
        os.makedirs(target, 0o700, exist_ok=True)
        if len(opts) < 4000:
            libc = _libc()
            import ctypes

            rc = libc.mount(b"overlay", os.fsencode(target), b"overlay", ctypes.c_ulong(flags), opts.encode())
            if rc != 0 and volatile and ctypes.get_errno() == errno.EINVAL:  # a kernel before 5.10
                opts = opts.removesuffix(",volatile")
                rc = libc.mount(b"overlay", os.fsencode(target), b"overlay", ctypes.c_ulong(flags), opts.encode())
            if rc != 0:
                err = ctypes.get_errno()
                raise StorageError(f"mounting overlay for layer {layer_id}: {os.strerror(err)}")
            return
        rel = opts.replace(base + "/", "")
        mopts = rel + ",nodev" + (",ro" if flags & MS_RDONLY else "")
        import subprocess

        proc = subprocess.run(
            ["mount", "-t", "overlay", "overlay", "-o", mopts, target],
            cwd=base,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise StorageError(f"mounting overlay for layer {layer_id}: {proc.stderr.strip()}")

    def unmount(self, layer_id: str, force: bool = False) -> bool:
        """Drop one mount reference (all with ``force``); True once really unmounted."""
        self._entry(layer_id)
        with flocked(self._mount_lock_path):
            count = self._read_count(layer_id)
            count = 0 if force else max(count - 1, 0)
            if count > 0 and self._really_mounted(layer_id):
                self._write_count(layer_id, count)
                return False
            self._write_count(layer_id, 0)
            if self.driver == "overlay":
                target = self._merged(layer_id)
                while os.path.ismount(target):
                    libc = _libc()
                    if libc.umount2(os.fsencode(target), 0) != 0:
                        import ctypes

                        err = ctypes.get_errno()
                        if err == errno.EBUSY:
                            libc.umount2(os.fsencode(target), MNT_DETACH)
                        elif err not in (errno.EINVAL, errno.ENOENT):
                            raise StorageError(f"unmounting layer {layer_id}: {os.strerror(err)}")
                        else:
                            break
            return True

    # --- changes and diffs -----------------------------------------------------
    def _in_lower(self, lowers: list[str], rel: str) -> bool:
        """Whether ``rel`` exists in the view of the ``lowers`` (overlay, top first)."""
        parts = rel.split("/")
        for lower in lowers:
            # an opaque ancestor or whiteout in this lower hides everything below
            path = lower
            hidden = False
            for i, comp in enumerate(parts):
                path = os.path.join(path, comp)
                try:
                    st = os.lstat(path)
                except (FileNotFoundError, NotADirectoryError):
                    break
                if _is_whiteout(st):
                    return False
                if i == len(parts) - 1:
                    return True
                if not stat.S_ISDIR(st.st_mode):
                    return False
                if _is_opaque(path):
                    hidden = True
            if hidden:
                return False
        return False

    def changes(self, layer_id: str) -> list[tuple[str, str]]:
        """("A"|"C"|"D", "/path") for a container layer against its parent, sorted by path."""
        e = self._entry(layer_id)
        parent = e.get("parent")
        out: list[tuple[str, str]] = []
        if self.driver == "overlay":
            upper = self.layer_dir(layer_id)
            lowers = [self.layer_dir(i) for i in self._chain(parent)] if parent else []
            for dirpath, dirnames, filenames in os.walk(upper):
                reldir = os.path.relpath(dirpath, upper)
                for name in sorted(dirnames + filenames):
                    full = os.path.join(dirpath, name)
                    rel = name if reldir == "." else f"{reldir}/{name}"
                    st = os.lstat(full)
                    if _is_whiteout(st):
                        if self._in_lower(lowers, rel):
                            out.append(("D", "/" + rel))
                        continue
                    kind = "C" if self._in_lower(lowers, rel) else "A"
                    out.append((kind, "/" + rel))
                    if stat.S_ISDIR(st.st_mode) and kind == "C" and _is_opaque(full):
                        present = set(os.listdir(full))
                        for lname in self._lower_children(lowers, rel):
                            if lname not in present:
                                out.append(("D", f"/{rel}/{lname}"))
        else:
            top = self.layer_dir(layer_id)
            base = self.layer_dir(parent) if parent else None
            out = _tree_changes(base, top)
        out.sort(key=lambda c: c[1])
        return out

    def _lower_children(self, lowers: list[str], rel: str) -> set[str]:
        names: set[str] = set()
        for lower in lowers:
            d = os.path.join(lower, rel)
            with contextlib.suppress(OSError):
                for n in os.listdir(d):
                    if self._in_lower(lowers, f"{rel}/{n}"):
                        names.add(n)
        return names

    def diff_tar(self, layer_id: str) -> BinaryIO:
        """An uncompressed tar of a container layer's changes, with OCI whiteouts."""
        import tarfile
        import tempfile
        from pypod.libpod.storage.archive import WHITEOUT_OPAQUE, WHITEOUT_PREFIX
        e = self._entry(layer_id)
        out = tempfile.TemporaryFile(dir=self.storage_root)
        tf = tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT)
        try:
            if self.driver == "overlay":
                upper = self.layer_dir(layer_id)
                parent = e.get("parent")
                lowers = [self.layer_dir(i) for i in self._chain(parent)] if parent else []
                for dirpath, dirnames, filenames in os.walk(upper):
                    dirnames.sort()
                    reldir = os.path.relpath(dirpath, upper)
                    for name in sorted(dirnames + filenames):
                        full = os.path.join(dirpath, name)
                        rel = name if reldir == "." else f"{reldir}/{name}"
                        st = os.lstat(full)
                        if _is_whiteout(st):
                            if self._in_lower(lowers, rel):
                                _add_whiteout(tf, rel.rsplit("/", 1)[0] if "/" in rel else "", name, st)
                            continue
                        _add_path(tf, full, rel)
                        if stat.S_ISDIR(st.st_mode) and _is_opaque(full):
                            _add_whiteout(tf, rel, WHITEOUT_OPAQUE[len(WHITEOUT_PREFIX) :], st)
            else:
                top = self.layer_dir(layer_id)
                parent = e.get("parent")
                for kind, path in sorted(_tree_changes(self.layer_dir(parent) if parent else None, top), key=lambda c: c[1]):
                    rel = path.lstrip("/")
                    if kind == "D":
                        head, _, name = rel.rpartition("/")
                        _add_whiteout(tf, head, name, os.lstat(top))
                    else:
                        _add_path(tf, os.path.join(top, rel), rel)
            tf.close()
        except OSError as exc:  # e.g. a full graph root: one clear line, not a traceback
            out.close()
            if exc.errno == errno.ENOSPC:
                raise NoSpace(f"writing the changes of layer {layer_id}: no space left on device") from None
            raise StorageError(f"writing the changes of layer {layer_id}: {exc}") from None
        out.seek(0)
        return out  # type: ignore[return-value]

    def layer_size(self, layer_id: str) -> int:
        """Bytes used by the layer's own files (hard links counted once)."""
        self._entry(layer_id)
        root = self.layer_dir(layer_id)
        seen: set[tuple[int, int]] = set()
        total = 0
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                st = os.lstat(os.path.join(dirpath, name))
                if stat.S_ISDIR(st.st_mode):
                    continue
                key = (st.st_dev, st.st_ino)
                if key in seen:
                    continue
                seen.add(key)
                total += st.st_size
        return total

    def export(self, layer_id: str, fileobj: IO[bytes]) -> None:
        """Write a tar of the layer's full root filesystem (as mounted) to ``fileobj``.

        An overlay layer that nobody has mounted is read through a detached read-only
        overlay of its directories (see _export_view); otherwise through its mount.
        """
        from pypod.libpod.storage.archive import write_tree_tar

        view = self._export_view(layer_id)
        if view is not None:
            try:
                write_tree_tar(f"/proc/self/fd/{view}", fileobj)
            finally:
                os.close(view)
            return
        root = self.mount(layer_id)
        try:
            write_tree_tar(root, fileobj)
        finally:
            self.unmount(layer_id)

    def _export_view(self, layer_id: str) -> int | None:
        """A descriptor of a private read-only overlay of the layer's chain, or None.

        The mount is attached nowhere, so it goes away with the descriptor, even when the
        process is killed; and, having no upper directory, releasing it does not sync the
        whole upper file system as the last unmount of a read-write overlay does (which
        costs the export the writeback of everything it just wrote).  None when the layer is
        mounted already (read the live view), for vfs, or when the kernel lacks the new
        mount API or ``lowerdir+`` (Linux < 6.8): the caller mounts as usual then.
        """
        entries = self._load()
        if layer_id not in entries:
            raise NoSuchLayer(f"layer not known: {layer_id}")
        if self.driver != "overlay" or self._really_mounted(layer_id):
            return None
        chain = self._chain(layer_id, entries)
        dirs = [self.layer_dir(i) for i in chain]
        if len(dirs) < 2:  # overlay without upper wants two lower directories
            dirs.append(os.path.join(self.driver_dir, chain[-1], "empty"))
        try:
            return _detached_overlay(dirs)
        except OSError:
            return None


# --- detached overlay (export) ----------------------------------------------------
# new mount API; numbers shared by all architectures since Linux 5.2
_SYS_FSOPEN, _SYS_FSCONFIG, _SYS_FSMOUNT = 430, 431, 432
_FSOPEN_CLOEXEC = _FSMOUNT_CLOEXEC = 1
_FSCONFIG_SET_STRING, _FSCONFIG_CMD_CREATE = 1, 6
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_NOSUID, _MOUNT_ATTR_NODEV = 0x1, 0x2, 0x4


def _detached_overlay(lowers: list[str]) -> int:
    """A mount descriptor of a read-only overlay of ``lowers`` (top first), attached nowhere."""
    import ctypes

    syscall = _libc().syscall
    syscall.restype = ctypes.c_long

    def call(*args: Any) -> int:
        ret = int(syscall(*args))
        if ret < 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        return ret

    fs = call(_SYS_FSOPEN, b"overlay", _FSOPEN_CLOEXEC)
    try:
        for lower in lowers:
            call(_SYS_FSCONFIG, fs, _FSCONFIG_SET_STRING, b"lowerdir+", os.fsencode(lower), 0)
        call(_SYS_FSCONFIG, fs, _FSCONFIG_CMD_CREATE, None, None, 0)
        attrs = _MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV
        return call(_SYS_FSMOUNT, fs, _FSMOUNT_CLOEXEC, attrs)
    finally:
        os.close(fs)


# --- tar writing helpers ---------------------------------------------------------
def _add_path(tf: tarfile.TarFile, full: str, rel: str) -> None:
    info = tf.gettarinfo(full, arcname=rel)
    if info is None:  # sockets
        return
    info.uname = info.gname = ""
    xattrs: dict[str, str] = {}
    with contextlib.suppress(OSError):
        for key in os.listxattr(full, follow_symlinks=False):
            if key.startswith(("trusted.overlay.", "user.overlay.")):
                continue
            value = os.getxattr(full, key, follow_symlinks=False)
            xattrs[f"SCHILY.xattr.{key}"] = value.decode("utf-8", "surrogateescape")
    if xattrs:
        info.pax_headers = {**info.pax_headers, **xattrs}
    if info.isreg():
        with open(full, "rb") as f:
            tf.addfile(info, f)
    else:
        tf.addfile(info)


def _add_whiteout(tf: tarfile.TarFile, reldir: str, name: str, st: os.stat_result) -> None:
    import tarfile
    from pypod.libpod.storage.archive import WHITEOUT_PREFIX
    wh = f"{WHITEOUT_PREFIX}{name}"
    info = tarfile.TarInfo(f"{reldir}/{wh}" if reldir else wh)
    info.mode = 0o600
    info.mtime = int(st.st_mtime)
    tf.addfile(info)


def _same(a: os.stat_result, b: os.stat_result, pa: str, pb: str) -> bool:
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return False
    if (a.st_mode, a.st_uid, a.st_gid) != (b.st_mode, b.st_uid, b.st_gid):
        return False
    if stat.S_ISLNK(a.st_mode):
        return os.readlink(pa) == os.readlink(pb)
    if stat.S_ISCHR(a.st_mode) or stat.S_ISBLK(a.st_mode):
        return a.st_rdev == b.st_rdev
    if stat.S_ISDIR(a.st_mode):
        return a.st_mtime_ns == b.st_mtime_ns
    return a.st_size == b.st_size and a.st_mtime_ns == b.st_mtime_ns


def _tree_changes(base: str | None, top: str) -> list[tuple[str, str]]:
    """Compare two full trees (vfs): additions, changes and top-most deletions."""
    out: list[tuple[str, str]] = []

    def walk(rel: str) -> None:
        tdir = os.path.join(top, rel) if rel else top
        bdir = (os.path.join(base, rel) if rel else base) if base else None
        tnames = set(os.listdir(tdir))
        bnames: set[str] = set()
        if bdir is not None:
            with contextlib.suppress(OSError):
                if os.path.isdir(bdir) and not os.path.islink(bdir):
                    bnames = set(os.listdir(bdir))
        for name in sorted(tnames | bnames):
            r = f"{rel}/{name}" if rel else name
            tp = os.path.join(tdir, name)
            if name not in tnames:
                out.append(("D", "/" + r))
                continue
            tst = os.lstat(tp)
            if name not in bnames:
                out.append(("A", "/" + r))
                if stat.S_ISDIR(tst.st_mode):
                    walk_added(r)
                continue
            bp = os.path.join(bdir, name)  # type: ignore[arg-type]
            bst = os.lstat(bp)
            if not _same(tst, bst, tp, bp):
                out.append(("C", "/" + r))
            if stat.S_ISDIR(tst.st_mode):
                if stat.S_ISDIR(bst.st_mode):
                    walk(r)
                else:
                    walk_added(r)

    def walk_added(rel: str) -> None:
        for dirpath, dirnames, filenames in os.walk(os.path.join(top, rel)):
            sub = os.path.relpath(dirpath, top)
            for name in dirnames + filenames:
                out.append(("A", f"/{sub}/{name}"))

    walk("")
    return out
