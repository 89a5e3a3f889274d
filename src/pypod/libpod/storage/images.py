"""The image store: names, manifests and configs of the images above the layer store.

Metadata lives in ``<storage_root>/overlay-images/images.json`` (rewritten whole through a
temporary file, fsync and rename, under the ``images.lock`` file lock); each image's
manifest and config are kept verbatim in ``overlay-images/<id>/`` so that digests stay
exact.  The image ID is the sha256 of the config bytes.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field

from pypod.errors import AmbiguousName, InvalidArgument, NoSuchImage, StorageError
from pypod.libpod.osutil import flocked, write_atomic
from pypod.libpod.storage import reference as refs
from pypod.libpod.timefmt import now_rfc3339_micro, parse_time  # noqa: F401 - parse_time re-exported

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any, Iterator
    from pypod.libpod.storage.store import Store

MANIFEST_FILE = "manifest"
CONFIG_FILE = "config"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# record keys written at add time (absent from records of older pypods: computed then)
SIZE_KEY = "size"  # sum of the layers' uncompressed sizes
IMAGE_CREATED_KEY = "image-created"  # the config's "created" (the record's "created" is the load time)


@dataclass
class Image:
    """One stored image (``id`` is the config digest's hex)."""

    id: str
    names: list[str]
    digest: str
    manifest: dict[str, Any]
    config: dict[str, Any]
    layers: list[str]
    created: str
    size: int = 0
    names_history: list[str] = field(default_factory=list)
    manifest_bytes: bytes = b""
    config_bytes: bytes = b""
    loaded_at: str = ""

    @property
    def top_layer(self) -> str:
        return self.layers[-1] if self.layers else ""

    @property
    def manifest_type(self) -> str:
        return str(self.manifest.get("mediaType") or OCI_MANIFEST)

    @property
    def diff_ids(self) -> list[str]:
        return list((self.config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.config.get("config") or {}).get("Labels") or {})

    @property
    def dangling(self) -> bool:
        return not self.names


class ImageStore:
    """Images stored under ``store.storage_root``; every write holds ``images.lock``."""

    def __init__(self, store: "Store") -> None:
        self.store = store
        root = getattr(store, "storage_root", None) or getattr(store, "root")
        self.dir = os.path.join(str(root), "overlay-images")
        self.json_path = os.path.join(self.dir, "images.json")
        self.lock_path = os.path.join(self.dir, "images.lock")

    # --- persistence -------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self, exclusive: bool = True) -> Iterator[None]:
        os.makedirs(self.dir, exist_ok=True)
        with flocked(self.lock_path, shared=not exclusive):
            yield

    def _read_records(self) -> list[dict[str, Any]]:
        try:
            with open(self.json_path, "rb") as f:
                data = json.load(f)
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            raise StorageError(f"reading {self.json_path}: {exc}") from None
        return data if isinstance(data, list) else []

    def _write_records(self, records: list[dict[str, Any]]) -> None:
        write_atomic(self.json_path, json.dumps(records, separators=(",", ":")), fsync=True)
        dfd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _layer_sizes(self) -> dict[str, int]:
        try:
            return {layer.id: int(layer.uncompressed_size or 0) for layer in self.store.layers()}
        except Exception:  # noqa: BLE001 - a size is not worth failing a listing
            return {}

    def _image(self, record: dict[str, Any], sizes: dict[str, int] | None = None) -> Image:
        image_dir = os.path.join(self.dir, record["id"])
        try:
            with open(os.path.join(image_dir, MANIFEST_FILE), "rb") as f:
                manifest_bytes = f.read()
            with open(os.path.join(image_dir, CONFIG_FILE), "rb") as f:
                config_bytes = f.read()
            manifest = json.loads(manifest_bytes)
            config = json.loads(config_bytes)
        except (OSError, ValueError) as exc:
            raise StorageError(f"image {record['id']}: reading its data: {exc}") from None
        layers = list(record.get("layers") or [])
        size = record.get(SIZE_KEY)
        if not isinstance(size, int):  # a record written before sizes were stored
            if sizes is None:
                sizes = self._layer_sizes()
            size = sum(sizes.get(layer, 0) for layer in layers)
        return Image(
            id=record["id"],
            names=list(record.get("names") or []),
            digest=record.get("digest", ""),
            manifest=manifest,
            config=config,
            layers=layers,
            created=config.get("created") or record.get("created", ""),
            size=size,
            names_history=list(record.get("names-history") or []),
            manifest_bytes=manifest_bytes,
            config_bytes=config_bytes,
            loaded_at=record.get("created", ""),
        )

    # --- queries -----------------------------------------------------------------
    def list(self) -> list[Image]:
        """Every image, in storage order."""
        records = self._read_records()
        sizes = None if all(isinstance(r.get(SIZE_KEY), int) for r in records) else self._layer_sizes()
        return [self._image(r, sizes) for r in records]

    def get(self, image_id: str) -> Image:
        """The image with exactly this ID (hex, ``sha256:`` accepted)."""
        image_id = image_id.removeprefix("sha256:")
        for record in self._read_records():
            if record["id"] == image_id:
                return self._image(record)
        raise NoSuchImage(f"{image_id}: image not known")

    def exists(self, ref: str) -> bool:
        try:
            self.resolve(ref)
        except (NoSuchImage, InvalidArgument):
            return False
        return True

    def resolve(self, ref: str) -> Image:
        """Find an image by name (full or short), full ID, ``sha256:`` ID or unique ID prefix."""
        records = self._read_records()
        found = self._match(ref, records)
        if found is None:
            raise NoSuchImage(f"{ref}: image not known")
        return self._image(found)

    def _match(self, ref: str, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        text = ref.strip()
        hex_id = text.removeprefix("sha256:")
        if refs.is_hex64(hex_id):
            for record in records:
                if record["id"] == hex_id:
                    return record
        by_name: dict[str, Any] | None = None
        try:
            wanted = refs.parse(text)
        except InvalidArgument:
            wanted = None
            if not refs.looks_like_id(text):
                raise
        if wanted is not None and not text.startswith("sha256:"):
            by_name = self._match_name(wanted, records)
            if by_name is not None:
                return by_name
        if refs.looks_like_id(text):
            prefix = hex_id
            hits = [r for r in records if r["id"].startswith(prefix)]
            if len(hits) > 1:
                raise AmbiguousName(f"{ref}: ambiguous image ID prefix: it matches {len(hits)} images")
            if hits:
                return hits[0]
        return None

    @staticmethod
    def _match_name(wanted: refs.Reference, records: list[dict[str, Any]]) -> dict[str, Any] | None:
        def name_ok(stored: refs.Reference) -> bool:
            if wanted.is_short:
                return refs.matches_short(stored, wanted)
            full = refs.normalize(str(wanted))
            return stored.repository == full.repository and stored.tag == full.tag

        candidates: list[tuple[int, dict[str, Any]]] = []
        for record in records:
            for name in record.get("names") or []:
                try:
                    stored = refs.parse(name)
                except InvalidArgument:
                    continue
                if wanted.digest:
                    same_repo = (
                        refs.matches_short(refs.Reference(stored.domain, stored.path, ""), refs.Reference("", wanted.path))
                        if wanted.is_short
                        else stored.repository == refs.normalize(str(wanted)).repository
                    )
                    if same_repo and record.get("digest") == wanted.digest:
                        candidates.append((0, record))
                        break
                    continue
                if name_ok(stored):
                    rank = 0 if stored.domain == refs.LOCALHOST else 1 if stored.domain == refs.DOCKER_DOMAIN else 2
                    candidates.append((rank, record))
                    break
        if not candidates:
            return None
        candidates.sort(key=lambda item: item[0])
        return candidates[0][1]

    # --- changes -----------------------------------------------------------------
    def add_image(
        self,
        config_bytes: bytes,
        manifest_bytes: bytes,
        layers: list[str],
        names: list[str] | tuple[str, ...] = (),
    ) -> Image:
        """Register an image whose layers exist; names are taken from any image holding them."""
        try:
            config = json.loads(config_bytes)
            json.loads(manifest_bytes)
        except ValueError as exc:
            raise StorageError(f"image config or manifest is not JSON: {exc}") from None
        if not isinstance(config, dict):
            raise StorageError("image config is not a JSON object")
        import hashlib  # only here: ~2 ms of import that create/ps/inspect need not pay

        image_id = hashlib.sha256(config_bytes).hexdigest()
        digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
        with self._locked():
            records = self._read_records()
            image_dir = os.path.join(self.dir, image_id)
            record = next((r for r in records if r["id"] == image_id), None)
            if record is None:
                tmp_dir = f"{image_dir}.tmp{os.getpid()}"
                _rmtree(tmp_dir, ignore_errors=True)
                os.makedirs(tmp_dir)
                for fname, data in ((MANIFEST_FILE, manifest_bytes), (CONFIG_FILE, config_bytes)):
                    with open(os.path.join(tmp_dir, fname), "wb") as f:
                        f.write(data)
                        f.flush()
                        os.fsync(f.fileno())
                _rmtree(image_dir, ignore_errors=True)
                os.replace(tmp_dir, image_dir)
                record = {
                    "id": image_id,
                    "digest": digest,
                    "names": [],
                    "names-history": [],
                    "layer": layers[-1] if layers else "",
                    "layers": list(layers),
                    "created": now_rfc3339_micro(),
                    "big-data-names": [MANIFEST_FILE, CONFIG_FILE],
                }
                records.append(record)
            if not isinstance(record.get(SIZE_KEY), int) or IMAGE_CREATED_KEY not in record:
                # what `images` shows, so that listing reads nothing but images.json
                try:
                    sizes = {layer.id: int(layer.uncompressed_size or 0) for layer in self.store.layers()}
                except Exception:  # noqa: BLE001 - left to be computed when listed
                    sizes = None
                if sizes is not None:
                    record[SIZE_KEY] = sum(sizes.get(layer, 0) for layer in record.get("layers") or [])
                    record[IMAGE_CREATED_KEY] = str(config.get("created") or record.get("created", ""))
            for name in names:
                self._give_name(records, record, name)
            self._write_records(records)
        return self.get(image_id)

    @staticmethod
    def _give_name(records: list[dict[str, Any]], record: dict[str, Any], name: str) -> None:
        for other in records:
            if other is not record and name in (other.get("names") or []):
                other["names"] = [n for n in other["names"] if n != name]
        if name not in record["names"]:
            record["names"].append(name)
        history = [n for n in record.get("names-history") or [] if n != name]
        record["names-history"] = [name, *history]

    def tag(self, image: Image, name: str) -> str:
        """Add a name (``foo:1`` -> ``localhost/foo:1``); returns the stored name."""
        full = refs.normalize_name(name)
        if refs.parse(full).digest:
            raise InvalidArgument(f"{name}: tag by digest not supported")
        with self._locked():
            records = self._read_records()
            record = next((r for r in records if r["id"] == image.id), None)
            if record is None:
                raise NoSuchImage(f"{image.id}: image not known")
            self._give_name(records, record, full)
            self._write_records(records)
        return full

    def untag(self, image: Image, name: str) -> str:
        """Remove a name; NoSuchImage("<name>: tag not known") when the image lacks it."""
        full = refs.normalize_name(name)
        with self._locked():
            records = self._read_records()
            record = next((r for r in records if r["id"] == image.id), None)
            if record is None or full not in (record.get("names") or []):
                raise NoSuchImage(f"{full}: tag not known")
            record["names"] = [n for n in record["names"] if n != full]
            self._write_records(records)
        return full

    def delete(self, image: Image) -> None:
        """Forget the image, then remove its layers that no other image uses (top first)."""
        with self._locked():
            records = self._read_records()
            remaining = [r for r in records if r["id"] != image.id]
            if len(remaining) == len(records):
                raise NoSuchImage(f"{image.id}: image not known")
            self._write_records(remaining)
            _rmtree(os.path.join(self.dir, image.id), ignore_errors=True)
            used = {layer for r in remaining for layer in r.get("layers") or []}
            for layer in reversed(image.layers):
                if layer in used:
                    continue
                try:
                    self.store.delete_layer(layer)
                except Exception:  # noqa: BLE001 - still used (e.g. a container layer): keep it
                    break
            # staging dirs of a load/commit killed mid-way are only ever reclaimed here
            self.store.gc()

    def layers_in_use(self) -> set[str]:
        return {layer for r in self._read_records() for layer in r.get("layers") or []}


def _rmtree(path: str, ignore_errors: bool = False) -> None:
    import shutil  # only when deleting: shutil imports bz2, lzma, zlib (~2 ms)

    shutil.rmtree(path, ignore_errors=ignore_errors)
