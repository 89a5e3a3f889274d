"""Image archives: load and save docker-archive and oci-archive tars, import a root filesystem.

Loading indexes a plain outer tar file in place (member offsets; contents are read where they
lie, never copied); a compressed archive or stdin is first copied out into a private temporary
directory, hashing each file.  Then the format is detected and every
blob is checked against the digest and size that name it before a layer is created.  Layers
created by a load that fails are deleted again, so nothing half-registered remains.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import posixpath
import re
import shlex
import shutil
import stat
import tarfile
import tempfile

from pypod.errors import DigestMismatch, HostileArchive, InvalidArgument, PypodError, StorageError
from pypod.libpod.storage import reference as refs

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import IO, Any, Iterable
    from pypod.libpod.storage.images import Image, ImageStore

MAX_JSON = 4 << 20
CHUNK = 1 << 20
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
REF_NAME = "org.opencontainers.image.ref.name"
_DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"BZh", b"\xfd7zXZ\x00")
UNSUPPORTED = "payload does not match any of the supported image formats (oci-archive, docker-archive)"


def go_arch() -> str:
    """The host architecture in Go's words (amd64, arm64...)."""
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "386", "armv7l": "arm"}.get(machine, machine)


def _tmp_root(images: "ImageStore") -> str:
    path = os.path.join(os.path.dirname(images.dir), "tmp")
    os.makedirs(path, exist_ok=True)
    return path


_DIR_OPEN = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _work_dir(images: "ImageStore", prefix: str) -> tuple[str, int]:
    """A private dir under storage/tmp, flocked (fd returned) so no reclaim removes it meanwhile."""
    import fcntl

    fresh = tempfile.mkdtemp(prefix="new-", dir=_tmp_root(images))
    fd = os.open(fresh, _DIR_OPEN)
    fcntl.flock(fd, fcntl.LOCK_EX)
    path = os.path.join(os.path.dirname(fresh), prefix + os.path.basename(fresh)[len("new-"):])
    os.rename(fresh, path)
    return path, fd


def reclaim_work_dirs(images: "ImageStore") -> list[str]:
    """Remove load-/save- dirs of killed commands (nobody holds their flock); return them."""
    import fcntl

    root = _tmp_root(images)
    removed = []
    for name in os.listdir(root):
        if not name.startswith(("load-", "save-")):
            continue
        path = os.path.join(root, name)
        try:
            fd = os.open(path, _DIR_OPEN)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        try:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


def _clean_name(name: str) -> str:
    name = posixpath.normpath("/" + name).lstrip("/")
    return "" if name == "." else name


class _Member:
    """One regular file of the outer archive: ``size`` bytes at ``offset`` of ``path``."""

    __slots__ = ("path", "offset", "size", "_digest")

    def __init__(self, path: str, offset: int, size: int, digest: str | None = None) -> None:
        self.path, self.offset, self.size, self._digest = path, offset, size, digest

    def open(self) -> IO[bytes]:
        return _Section(self.path, self.offset, self.size)

    def read(self) -> bytes:
        with self.open() as f:
            return f.read()

    def head(self, n: int) -> bytes:
        with self.open() as f:
            return f.read(n)

    @property
    def digest(self) -> str:
        """sha256 hex of the content, computed on first use (in place, 1 MiB reads)."""
        if self._digest is None:
            hasher = hashlib.sha256()
            with self.open() as f:
                while chunk := f.read(CHUNK):
                    hasher.update(chunk)
            self._digest = hasher.hexdigest()
        return self._digest


class _Section(io.RawIOBase):
    """Read ``size`` bytes at ``offset`` of a file; short data is an invalid archive."""

    def __init__(self, path: str, offset: int, size: int) -> None:
        super().__init__()
        self._f = open(path, "rb", buffering=0)
        self._f.seek(offset)
        self._left = size

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        n = self._left if size is None or size < 0 else min(size, self._left)
        if n <= 0:
            return b""
        data = self._f.read(n) or b""
        if not data:
            raise StorageError("invalid archive: truncated member")
        self._left -= len(data)
        return data

    def readinto(self, buf: Any) -> int:
        data = self.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._f.close()
        super().close()


class _Unpacked:
    """The regular files of an outer archive, by their (link-resolved) names."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.files: dict[str, _Member] = {}
        self.links: dict[str, str] = {}

    def find(self, name: str) -> _Member | None:
        name = _clean_name(name)
        for _ in range(16):
            if name in self.files:
                return self.files[name]
            if name not in self.links:
                return None
            name = self.links[name]
        return None

    def need(self, name: str, what: str) -> _Member:
        found = self.find(name)
        if found is None:
            raise HostileArchive(f"invalid archive: {what} {name!r} is missing from the archive")
        return found

    def read_json(self, name: str, what: str) -> tuple[Any, bytes]:
        member = self.need(name, what)
        if member.size > MAX_JSON:
            raise HostileArchive(f"invalid archive: {what} {name!r} is too large ({member.size} bytes)")
        data = member.read()
        try:
            return json.loads(data), data
        except ValueError:
            raise HostileArchive(f"invalid archive: {what} {name!r} is not valid JSON") from None


def _add_link(out: _Unpacked, name: str, info: tarfile.TarInfo) -> None:
    if info.issym():
        out.links[name] = _clean_name(posixpath.join(posixpath.dirname(name), info.linkname))
    elif info.islnk():
        out.links[name] = _clean_name(info.linkname)


def _index_in_place(path: str, stream: IO[bytes]) -> _Unpacked | None:
    """Index a plain (uncompressed) tar file by member offsets, reading no file content.

    None when the file is compressed or not seekable: the caller then copies it out.
    """
    try:
        st = os.fstat(stream.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        head = os.pread(stream.fileno(), 6, 0)
    except (OSError, AttributeError, ValueError):
        return None
    if head.startswith(_COMPRESSED_MAGIC):
        return None
    out = _Unpacked("")
    try:
        tf = tarfile.open(fileobj=stream, mode="r:")
    except (tarfile.TarError, EOFError, OSError):
        raise StorageError(UNSUPPORTED) from None
    try:
        for info in tf:
            name = _clean_name(info.name)
            if not name:
                continue
            if info.isreg():
                if info.offset_data + info.size > st.st_size:
                    raise StorageError(f"invalid archive: {name!r} is truncated")
                out.files[name] = _Member(path, info.offset_data, info.size)
            else:
                _add_link(out, name, info)
    except (tarfile.TarError, EOFError) as exc:
        if not out.files:
            raise StorageError(UNSUPPORTED) from None
        raise StorageError(f"invalid archive: truncated or corrupt tar: {exc}") from None
    except OSError as exc:
        raise StorageError(f"reading archive: {exc}") from None
    if not out.files:
        raise StorageError(UNSUPPORTED)
    return out


def _unpack(stream: IO[bytes], directory: str) -> _Unpacked:
    """Copy the regular files of a (maybe compressed, maybe unseekable) archive out, hashing them."""
    from pypod.libpod.storage.archive import open_maybe_compressed

    out = _Unpacked(directory)
    try:
        tf = tarfile.open(fileobj=open_maybe_compressed(stream), mode="r|", bufsize=CHUNK)  # type: ignore[arg-type]
    except (tarfile.TarError, EOFError, OSError, StorageError):
        raise StorageError(UNSUPPORTED) from None
    try:
        for index, info in enumerate(tf):
            name = _clean_name(info.name)
            if not name:
                continue
            if info.isreg():
                local = os.path.join(directory, f"f{index}")
                hasher = hashlib.sha256()
                size = 0
                src = tf.extractfile(info)
                assert src is not None
                with open(local, "wb") as dst:
                    while chunk := src.read(CHUNK):
                        hasher.update(chunk)
                        dst.write(chunk)
                        size += len(chunk)
                if size != info.size:
                    raise StorageError(f"invalid archive: {name!r} is truncated")
                out.files[name] = _Member(local, 0, size, hasher.hexdigest())
            else:
                _add_link(out, name, info)
    except (tarfile.TarError, EOFError, zlib_error()) as exc:
        if not out.files:
            raise StorageError(UNSUPPORTED) from None
        raise StorageError(f"invalid archive: truncated or corrupt tar: {exc}") from None
    except PypodError:
        raise
    except OSError as exc:
        raise StorageError(f"reading archive: {exc}") from None
    if not out.files:
        raise StorageError(UNSUPPORTED)
    return out


def zlib_error() -> type[BaseException]:
    import zlib

    return zlib.error


# --- load --------------------------------------------------------------------
def load(images: "ImageStore", source: str | IO[bytes]) -> list[str]:
    """Load every image of a docker-archive or oci-archive; returns the loaded names.

    An image without a name is reported as ``sha256:<id>``.
    """
    # what a load or save killed earlier left behind: its work dir and layer staging dirs
    reclaim_work_dirs(images)
    images.store.gc()
    tmp, tmp_fd = _work_dir(images, "load-")
    try:
        if isinstance(source, str):
            try:
                stream: IO[bytes] = open(source, "rb")
            except FileNotFoundError:
                raise StorageError(f"stat {source}: no such file or directory") from None
            except IsADirectoryError:
                raise StorageError(f"{source}: is a directory: {UNSUPPORTED}") from None
        else:
            stream = source
        try:
            # a plain tar file is read in place; a compressed archive or stdin is copied out first
            found = _index_in_place(source, stream) if isinstance(source, str) else None
            unpacked = found if found is not None else _unpack(stream, tmp)
        finally:
            if isinstance(source, str):
                stream.close()
        if unpacked.find("manifest.json") is not None:
            plans = _plan_docker(unpacked)
        elif unpacked.find("index.json") is not None:
            plans = _plan_oci(unpacked)
        else:
            raise StorageError(UNSUPPORTED)
        loaded: list[str] = []
        for plan in plans:
            with images.store.creating():  # layers stay safe from layer gc until the image is recorded
                image = _commit(images, unpacked, plan)
            loaded.extend(plan["names"] or [f"sha256:{image.id}"])
        return loaded
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(tmp_fd)


def _check_config(config: Any, what: str) -> list[str]:
    if not isinstance(config, dict):
        raise HostileArchive(f"invalid archive: {what} is not a JSON object")
    rootfs = config.get("rootfs")
    if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids"), list):
        raise HostileArchive(f"invalid archive: {what} has no rootfs.diff_ids")
    diff_ids = rootfs["diff_ids"]
    for diff in diff_ids:
        if not isinstance(diff, str) or not _DIGEST_RE.match(diff):
            raise HostileArchive(f"invalid archive: {what} has an invalid diff ID {diff!r}")
    return diff_ids


def _plan_docker(unpacked: _Unpacked) -> list[dict[str, Any]]:
    manifest, _raw = unpacked.read_json("manifest.json", "manifest")
    if not isinstance(manifest, list) or not manifest:
        raise HostileArchive("invalid archive: manifest.json does not list any image")
    plans = []
    for entry in manifest:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise HostileArchive("invalid archive: manifest.json entry without a Config")
        layers = entry.get("Layers") or []
        if not isinstance(layers, list) or not all(isinstance(x, str) for x in layers):
            raise HostileArchive("invalid archive: manifest.json entry with invalid Layers")
        config, config_bytes = unpacked.read_json(entry["Config"], "config")
        diff_ids = _check_config(config, f"config {entry['Config']!r}")
        stem = posixpath.basename(entry["Config"]).removesuffix(".json")
        if re.fullmatch(r"[a-f0-9]{64}", stem) and stem != hashlib.sha256(config_bytes).hexdigest():
            raise DigestMismatch(f"invalid archive: config {entry['Config']!r} does not match its digest")
        if len(layers) != len(diff_ids):
            raise HostileArchive(
                f"invalid archive: image has {len(layers)} layers but its config lists {len(diff_ids)} diff IDs"
            )
        names = []
        for tag in entry.get("RepoTags") or []:
            try:
                names.append(refs.docker_name(str(tag)))
            except InvalidArgument:
                raise HostileArchive(f"invalid archive: invalid RepoTag {tag!r}") from None
        layer_descs = []
        for name, diff in zip(layers, diff_ids):
            member = unpacked.need(name, "layer")
            # an uncompressed layer's blob digest is its diff ID, checked while it is extracted;
            # only a compressed one is hashed beforehand (in place)
            plain = member._digest is None and not member.head(6).startswith(_COMPRESSED_MAGIC)
            digest = diff if plain else f"sha256:{member.digest}"
            layer_descs.append({"file": name, "diff_id": diff, "blob_digest": digest, "size": member.size})
        manifest_doc = {
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "size": len(config_bytes),
                       "digest": "sha256:" + hashlib.sha256(config_bytes).hexdigest()},
            "layers": [
                {"mediaType": DOCKER_LAYER if d["blob_digest"] == d["diff_id"] else DOCKER_LAYER_GZIP,
                 "size": d["size"], "digest": d["blob_digest"]}
                for d in layer_descs
            ],
        }
        plans.append({
            "config_bytes": config_bytes,
            "manifest_bytes": json.dumps(manifest_doc, indent=3).encode(),
            "layers": layer_descs,
            "names": names,
        })
    return plans


def _blob(unpacked: _Unpacked, desc: Any, what: str) -> tuple[str, str, int]:
    if not isinstance(desc, dict) or not isinstance(desc.get("digest"), str) or not _DIGEST_RE.match(desc["digest"]):
        raise HostileArchive(f"invalid archive: {what} descriptor has no valid sha256 digest")
    name = "blobs/sha256/" + desc["digest"].split(":", 1)[1]
    found = unpacked.need(name, what)
    if isinstance(desc.get("size"), int) and desc["size"] != found.size:
        raise DigestMismatch(f"invalid archive: {what} blob {desc['digest']} has size {found.size}, expected {desc['size']}")
    if "sha256:" + found.digest != desc["digest"]:
        raise DigestMismatch(f"invalid archive: {what} blob {desc['digest']} does not match its digest")
    return found


def _blob_json(unpacked: _Unpacked, desc: Any, what: str) -> tuple[Any, bytes]:
    member = _blob(unpacked, desc, what)
    if member.size > MAX_JSON:
        raise HostileArchive(f"invalid archive: {what} is too large ({member.size} bytes)")
    data = member.read()
    try:
        return json.loads(data), data
    except ValueError:
        raise HostileArchive(f"invalid archive: {what} {desc['digest']} is not valid JSON") from None


def _pick_manifests(unpacked: _Unpacked, index: Any, depth: int = 0) -> list[tuple[dict[str, Any], str | None]]:
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise HostileArchive("invalid archive: index.json has no manifests list")
    picked: list[tuple[dict[str, Any], str | None]] = []
    for desc in index["manifests"]:
        if not isinstance(desc, dict):
            raise HostileArchive("invalid archive: invalid descriptor in index.json")
        ref_name = (desc.get("annotations") or {}).get(REF_NAME)
        if desc.get("mediaType") in (OCI_INDEX, DOCKER_LIST):
            if depth > 2:
                raise HostileArchive("invalid archive: image indexes nested too deeply")
            nested, _ = _blob_json(unpacked, desc, "index")
            inner = _pick_manifests(unpacked, nested, depth + 1)
            arch = [m for m in inner if (m[0].get("platform") or {}).get("architecture") in (None, go_arch())]
            if arch:
                picked.append((arch[0][0], ref_name or arch[0][1]))
            continue
        picked.append((desc, ref_name))
    return picked


def _plan_oci(unpacked: _Unpacked) -> list[dict[str, Any]]:
    index, _raw = unpacked.read_json("index.json", "index")
    plans = []
    for desc, ref_name in _pick_manifests(unpacked, index):
        manifest, manifest_bytes = _blob_json(unpacked, desc, "manifest")
        if not isinstance(manifest, dict) or not isinstance(manifest.get("layers", []), list):
            raise HostileArchive("invalid archive: manifest is not an image manifest")
        config, config_bytes = _blob_json(unpacked, manifest.get("config"), "config")
        diff_ids = _check_config(config, "config")
        layers = manifest.get("layers") or []
        if len(layers) != len(diff_ids):
            raise HostileArchive(
                f"invalid archive: manifest has {len(layers)} layers but the config lists {len(diff_ids)} diff IDs"
            )
        layer_descs = []
        for layer_desc, diff in zip(layers, diff_ids):
            _blob(unpacked, layer_desc, "layer")
            name = "blobs/sha256/" + layer_desc["digest"].split(":", 1)[1]
            layer_descs.append({"file": name, "diff_id": diff, "blob_digest": layer_desc["digest"], "size": layer_desc.get("size")})
        names = []
        if isinstance(ref_name, str) and ref_name:
            try:
                names.append(refs.normalize_name(ref_name))
            except InvalidArgument:
                names = []
        plans.append({"config_bytes": config_bytes, "manifest_bytes": manifest_bytes, "layers": layer_descs, "names": names})
    return plans


def _hex(digest: str) -> str:
    return digest.split(":", 1)[-1]


def _check_diff(layer: Any, expected_diff: str) -> None:
    got = layer.diff_id if str(layer.diff_id).startswith("sha256:") else f"sha256:{layer.diff_id}"
    if got != expected_diff:
        raise DigestMismatch(f"invalid archive: layer diff ID mismatch: expected {expected_diff}, got {got}")


def _commit(images: "ImageStore", unpacked: _Unpacked, plan: dict[str, Any]) -> "Image":
    store = images.store
    before = {layer.id for layer in store.layers()}
    created: list[str] = []
    try:
        parent: str | None = None
        layer_ids: list[str] = []
        for desc in plan["layers"]:
            member = unpacked.need(desc["file"], "layer")
            compressed = desc["blob_digest"] if desc["blob_digest"] != desc["diff_id"] else None
            with member.open() as f:
                layer = store.create_layer(parent, f, compressed_digest=compressed)
            if layer.id not in before:
                created.append(layer.id)
            _check_diff(layer, desc["diff_id"])
            layer_ids.append(layer.id)
            parent = layer.id
        return images.add_image(plan["config_bytes"], plan["manifest_bytes"], layer_ids, plan["names"])
    except BaseException:
        for layer_id in reversed(created):
            try:
                store.delete_layer(layer_id)
            except Exception:  # noqa: BLE001 - best effort; the original error matters
                pass
        raise


# --- save --------------------------------------------------------------------
def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o444
    info.mtime = 0
    tar.addfile(info, io.BytesIO(data))


def _spool_layer(images: "ImageStore", layer_id: str, tmpdir: str) -> tuple[str, str, int]:
    """Copy a layer's uncompressed tar to a temporary file; (path, sha256 hex, size)."""
    path = os.path.join(tmpdir, layer_id)
    hasher = hashlib.sha256()
    size = 0
    src = images.store.layer_tar(layer_id)
    try:
        with open(path, "wb") as dst:
            while chunk := src.read(CHUNK):
                hasher.update(chunk)
                dst.write(chunk)
                size += len(chunk)
    finally:
        src.close()
    return path, hasher.hexdigest(), size


def save(
    images: "ImageStore",
    items: Iterable[tuple["Image", list[str]]],
    dest: str | IO[bytes],
    fmt: str = "docker-archive",
) -> None:
    """Write images (each with the names to record) to ``dest`` as docker-archive or oci-archive."""
    if fmt not in ("docker-archive", "oci-archive"):
        raise InvalidArgument(f"unknown format {fmt!r}: use docker-archive or oci-archive")
    items = list(items)
    tmpdir, tmp_fd = _work_dir(images, "save-")
    out: IO[bytes]
    tmp_dest = None
    try:
        if isinstance(dest, str):
            tmp_dest = f"{dest}.pypod-tmp{os.getpid()}"
            out = open(tmp_dest, "wb")
        else:
            out = dest
        try:
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                if fmt == "docker-archive":
                    _save_docker(images, items, tar, tmpdir)
                else:
                    _save_oci(images, items, tar, tmpdir)
        finally:
            if tmp_dest is not None:
                out.flush()
                os.fsync(out.fileno())
                out.close()
        if tmp_dest is not None:
            os.replace(tmp_dest, dest)  # type: ignore[arg-type]
            tmp_dest = None
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
        os.close(tmp_fd)
        if tmp_dest is not None:
            try:
                os.unlink(tmp_dest)
            except OSError:
                pass


def _layer_files(images: "ImageStore", image: "Image", tmpdir: str) -> list[tuple[str, str, int]]:
    files = []
    for layer_id, diff in zip(image.layers, image.diff_ids):
        path, hexdigest, size = _spool_layer(images, layer_id, tmpdir)
        if f"sha256:{hexdigest}" != diff:
            raise DigestMismatch(f"layer {layer_id}: stored content does not match diff ID {diff}")
        files.append((path, hexdigest, size))
    return files


def _save_docker(images: "ImageStore", items: list[tuple["Image", list[str]]], tar: tarfile.TarFile, tmpdir: str) -> None:
    manifest = []
    repositories: dict[str, dict[str, str]] = {}
    written: set[str] = set()
    for image, names in items:
        layer_names = []
        for path, hexdigest, _size in _layer_files(images, image, tmpdir):
            name = f"{hexdigest}.tar"
            if name not in written:
                tar.add(path, arcname=name, filter=_plain)
                written.add(name)
            os.unlink(path)
            layer_names.append(name)
        config_name = f"{image.id}.json"
        if config_name not in written:
            _add_bytes(tar, config_name, image.config_bytes)
            written.add(config_name)
        manifest.append({"Config": config_name, "RepoTags": list(names), "Layers": layer_names})
        for name in names:
            repo, tag = refs.split_name(name)
            if layer_names:
                repositories.setdefault(repo, {})[tag] = layer_names[-1].removesuffix(".tar")
    _add_bytes(tar, "manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
    _add_bytes(tar, "repositories", json.dumps(repositories, separators=(",", ":")).encode())


def _plain(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mode = 0o444
    info.mtime = 0
    return info


def _save_oci(images: "ImageStore", items: list[tuple["Image", list[str]]], tar: tarfile.TarFile, tmpdir: str) -> None:
    _add_bytes(tar, "oci-layout", b'{"imageLayoutVersion": "1.0.0"}')
    written: set[str] = set()
    index_entries = []

    def blob(data: bytes) -> dict[str, Any]:
        hexdigest = hashlib.sha256(data).hexdigest()
        if hexdigest not in written:
            _add_bytes(tar, f"blobs/sha256/{hexdigest}", data)
            written.add(hexdigest)
        return {"digest": f"sha256:{hexdigest}", "size": len(data)}

    for image, names in items:
        layers = []
        for path, hexdigest, size in _layer_files(images, image, tmpdir):
            if hexdigest not in written:
                tar.add(path, arcname=f"blobs/sha256/{hexdigest}", filter=_plain)
                written.add(hexdigest)
            os.unlink(path)
            layers.append({"mediaType": OCI_LAYER, "digest": f"sha256:{hexdigest}", "size": size})
        config_desc = {"mediaType": OCI_CONFIG, **blob(image.config_bytes)}
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc, "layers": layers}
        manifest_desc = {"mediaType": OCI_MANIFEST, **blob(json.dumps(manifest).encode())}
        for name in names or [None]:
            entry = dict(manifest_desc)
            if name:
                entry["annotations"] = {REF_NAME: name}
            index_entries.append(entry)
    index = {"schemaVersion": 2, "manifests": index_entries}
    _add_bytes(tar, "index.json", json.dumps(index).encode())


# --- import ------------------------------------------------------------------
def parse_changes(changes: Iterable[str], config: dict[str, Any]) -> None:
    """Apply Dockerfile-style ``--change`` instructions to an OCI ``config`` section."""
    for change in changes:
        text = change.strip()
        word, _, value = text.partition(" ")
        if "=" in word and not value:  # "CMD=..." form
            word, _, value = text.partition("=")
        instr = word.upper()
        value = value.strip()

        def exec_form() -> list[str]:
            if value.startswith("["):
                try:
                    parsed = json.loads(value)
                except ValueError:
                    parsed = None
                if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
                    return parsed
            return ["/bin/sh", "-c", value]

        def pairs() -> list[tuple[str, str]]:
            items = shlex.split(value)
            if items and "=" not in items[0] and len(items) >= 2:
                return [(items[0], " ".join(items[1:]))]
            out = []
            for item in items:
                key, eq, val = item.partition("=")
                if not key:
                    raise InvalidArgument(f"invalid change {change!r}: empty key")
                out.append((key, val))
            return out

        if instr == "CMD":
            config["Cmd"] = exec_form()
        elif instr == "ENTRYPOINT":
            config["Entrypoint"] = exec_form()
        elif instr == "ENV":
            env = [e for e in config.get("Env") or []]
            for key, val in pairs():
                env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={val}"]
            config["Env"] = env
        elif instr == "LABEL":
            labels = dict(config.get("Labels") or {})
            labels.update(dict(pairs()))
            config["Labels"] = labels
        elif instr == "WORKDIR":
            config["WorkingDir"] = value
        elif instr == "USER":
            config["User"] = value
        elif instr == "STOPSIGNAL":
            config["StopSignal"] = value
        elif instr in ("EXPOSE", "VOLUME"):
            key = "ExposedPorts" if instr == "EXPOSE" else "Volumes"
            entries = exec_form() if value.startswith("[") else shlex.split(value)
            if entries[:2] == ["/bin/sh", "-c"]:
                entries = shlex.split(value)
            found = dict(config.get(key) or {})
            for entry in entries:
                if instr == "EXPOSE" and "/" not in entry:
                    entry += "/tcp"
                found[entry] = {}
            config[key] = found
        elif instr == "ONBUILD":
            continue
        else:
            raise InvalidArgument(f'invalid change "{change}" - invalid instruction {word}')


def import_rootfs(
    images: "ImageStore",
    source: str | IO[bytes],
    reference: str | None = None,
    changes: Iterable[str] = (),
    message: str = "",
    created: str | None = None,
) -> "Image":
    """Create a one-layer image from a root filesystem tar (plain, gzip, zstd...).

    ``created`` (RFC 3339) is the image's creation time; default now.
    """
    with images.store.creating():  # the layer stays safe from layer gc until the image is recorded
        return _import_rootfs(images, source, reference, changes, message, created)


def _import_rootfs(
    images: "ImageStore",
    source: str | IO[bytes],
    reference: str | None,
    changes: Iterable[str],
    message: str,
    created: str | None = None,
) -> "Image":
    from pypod.libpod.timefmt import now_rfc3339_micro

    name = refs.normalize_name(reference) if reference else None
    section: dict[str, Any] = {}
    parse_changes(changes, section)
    store = images.store
    stream: IO[bytes]
    if isinstance(source, str):
        try:
            stream = open(source, "rb")
        except OSError as exc:
            raise StorageError(f"opening {source}: {exc.strerror.lower() if exc.strerror else exc}") from None
    else:
        stream = source
    before = {layer.id for layer in store.layers()}
    layer = None
    try:
        layer = store.create_layer(None, stream)
        diff = layer.diff_id if str(layer.diff_id).startswith("sha256:") else f"sha256:{layer.diff_id}"
        created = created or now_rfc3339_micro()
        config = {
            "created": created,
            "architecture": go_arch(),
            "os": "linux",
            "config": section,
            "rootfs": {"type": "layers", "diff_ids": [diff]},
            "history": [{
                "created": created,
                "created_by": f"/bin/sh -c #(nop) ADD file:{_hex(diff)} in /",
                "comment": message or "imported from tarball",
            }],
        }
        config_bytes = json.dumps(config).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": "sha256:" + hashlib.sha256(config_bytes).hexdigest(),
                       "size": len(config_bytes)},
            "layers": [{"mediaType": OCI_LAYER, "digest": diff, "size": layer.uncompressed_size}],
        }
        return images.add_image(config_bytes, json.dumps(manifest).encode(), [layer.id], [name] if name else [])
    except BaseException:
        if layer is not None and layer.id not in before:
            try:
                store.delete_layer(layer.id)
            except Exception:  # noqa: BLE001
                pass
        raise
    finally:
        if isinstance(source, str):
            stream.close()

