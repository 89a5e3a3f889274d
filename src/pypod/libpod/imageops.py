"""Image operations above the image store: inspect, remove, prune, history."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pypod.errors import InUse, NoSuchImage, PypodError
from pypod.libpod.storage import reference as refs

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any
    from pypod.libpod.runtime import Runtime
    from pypod.libpod.storage.images import Image
    from pypod.libpod.storage.store import Store

IN_USE_HINT = "image is in use by a container: consider listing external containers and force-removing image"


def _clean(value: Any) -> Any:
    """Drop empty values from a config section (podman shows only what is set)."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v not in (None, "", [], {})}
    return value


def _comment(config: dict[str, Any]) -> str:
    if config.get("comment"):
        return str(config["comment"])
    history = config.get("history") or []
    if len(history) == 1 and isinstance(history[0], dict):
        return str(history[0].get("comment") or "")
    return ""


def repo_digests(image: "Image") -> list[str]:
    """``repository@digest`` for each repository the image is named in."""
    out: list[str] = []
    for name in image.names:
        try:
            repo = refs.parse(name).repository
        except PypodError:
            continue
        entry = f"{repo}@{image.digest}"
        if image.digest and entry not in out:
            out.append(entry)
    return out


def repo_tags(image: "Image") -> list[str]:
    return [n for n in image.names if "@" not in n]


def graph_driver(store: "Store | None", image: "Image") -> dict[str, Any]:
    """GraphDriver section: overlay Lower/Upper/WorkDir of the top layer."""
    if store is None:
        return {"Name": "", "Data": {}}
    driver = getattr(store, "driver", "overlay")
    data: dict[str, str] = {}
    if image.layers:
        base = store.driver_dir
        top = image.layers[-1]
        if driver == "overlay":
            lowers = [os.path.join(base, layer, "diff") for layer in reversed(image.layers[:-1])]
            if lowers:
                data["LowerDir"] = ":".join(lowers)
            data["UpperDir"] = os.path.join(base, top, "diff")
            data["WorkDir"] = os.path.join(base, top, "work")
        else:
            data["Dir"] = os.path.join(base, top)
    return {"Name": driver, "Data": data}


def inspect_image(image: "Image", store: "Store | None" = None) -> dict[str, Any]:
    """podman's ``image inspect`` document for one image."""
    config = image.config
    section = config.get("config") or {}
    labels = section.get("Labels") or None
    return {
        "Id": image.id,
        "Digest": image.digest,
        "RepoTags": repo_tags(image),
        "RepoDigests": repo_digests(image),
        "Parent": "",
        "Comment": _comment(config),
        "Created": config.get("created") or image.created,
        "Config": _clean(dict(section)),
        "Version": config.get("docker_version", ""),
        "Author": config.get("author", ""),
        "Architecture": config.get("architecture", ""),
        "Os": config.get("os", ""),
        "Size": image.size,
        "VirtualSize": image.size,
        "GraphDriver": graph_driver(store, image),
        "RootFS": {"Type": (config.get("rootfs") or {}).get("type", "layers"), "Layers": image.diff_ids},
        "Labels": labels,
        "Annotations": image.manifest.get("annotations") or {},
        "ManifestType": image.manifest_type,
        "User": section.get("User", ""),
        "History": config.get("history") or [],
        "NamesHistory": image.names_history,
    }


# --- containers using images -------------------------------------------------
def _field(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def containers_by_image(rt: "Runtime") -> dict[str, list[str]]:
    """Image ID -> IDs of the containers created from it."""
    out: dict[str, list[str]] = {}
    for config, _state in rt.db.all_containers():
        image_id = _field(config, "image_id")
        if image_id:
            out.setdefault(str(image_id), []).append(str(_field(config, "id")))
    return out


@dataclass
class RemoveReport:
    """What ``remove_images`` did, in podman's order, and the errors it met."""

    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list[PypodError] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return self.errors[-1].exit_code if self.errors else 0


def _delete_image(rt: "Runtime", image: "Image", force: bool, users: dict[str, list[str]], report: RemoveReport) -> None:
    ctrs = users.get(image.id, [])
    if ctrs:
        if not force:
            raise InUse(f"image used by {ctrs[0]}: {IN_USE_HINT}", exit_code=2)
        for ctr_id in ctrs:
            rt.remove_container(rt.get_container(ctr_id), force=True)
        users.pop(image.id, None)
    rt.images.delete(image)
    report.untagged.extend(image.names)
    report.deleted.append(image.id)


def remove_images(rt: "Runtime", names: list[str], *, force: bool = False, all: bool = False) -> RemoveReport:  # noqa: A002
    """``podman rmi``: untag a name of a multi-named image, else delete the image.

    Missing images are errors with exit code 1 (ignored with ``force``); an image used by a
    container is refused with exit code 2 unless ``force`` removes those containers first.
    """
    report = RemoveReport()
    users = containers_by_image(rt)
    store = rt.images
    if all:
        targets = [(img, None) for img in store.list()]
    else:
        targets = []
        for name in names:
            try:
                targets.append((store.resolve(name), name))
            except NoSuchImage as exc:
                if not force:
                    report.errors.append(NoSuchImage(str(exc), exit_code=1))
            except PypodError as exc:
                report.errors.append(exc)
    done: set[str] = set()
    for image, name in targets:
        if image.id in done:
            continue
        try:
            if name is not None and len(image.names) > 1 and not _names_id(image, name):
                full = _matching_name(image, name)
                if full:
                    store.untag(image, full)
                    report.untagged.append(full)
                    continue
            if name is not None and len(image.names) > 1 and not force:
                raise PypodError(
                    f'unable to delete image "{image.id}" by ID with more than one tag '
                    f"([{' '.join(image.names)}]): please force removal"
                )
            _delete_image(rt, image, force, users, report)
            done.add(image.id)
        except PypodError as exc:
            report.errors.append(exc)
    # also reclaim layers and staging dirs of a load/commit/create killed mid-way (D7)
    collect_layers(rt)
    return report


_ROOTFS_LAYER = None  # compiled lazily: '"rootfs_layer":"<64 hex>"' inside a raw DB row


def referenced_layers(rt: "Runtime") -> set[str]:
    """Layer ids some image or container uses: image layers and containers' rw layers.

    Container rows are read raw so that a row that no longer decodes still protects its layer;
    a row whose layer cannot be told at all raises StorageError (then nothing is collected).
    """
    import json
    import re

    from pypod.errors import StorageError

    global _ROOTFS_LAYER
    if _ROOTFS_LAYER is None:
        _ROOTFS_LAYER = re.compile(r'"rootfs_layer"\s*:\s*"([0-9a-f]{64})"')
    used: set[str] = set(rt.images.layers_in_use())
    read = getattr(rt.db, "_read", None)
    if read is None:
        return used | {c.get("rootfs_layer") or "" for c, _s in rt.db.all_containers()} - {""}
    for (text,) in read("SELECT config FROM containers"):
        try:
            cfg = json.loads(text)
            layer = cfg.get("rootfs_layer") or "" if isinstance(cfg, dict) else None
        except (ValueError, TypeError):
            layer = None
        if layer is None:
            found = _ROOTFS_LAYER.search(text if isinstance(text, str) else str(text))
            if found is None:
                raise StorageError("a container record is unreadable: keeping every layer")
            layer = found.group(1)
        if layer:
            used.add(layer)
    return used


def collect_layers(rt: "Runtime") -> list[str]:
    """Layer garbage collection: delete layers no image and no container uses (left by a killed
    load/commit/create), then half-written layer files; returns the deleted layer ids.

    Layers being created right now are safe (``Store.creating``); any error keeps everything.
    """
    removed: list[str] = []
    try:
        removed = rt.store.collect_unreferenced(lambda: referenced_layers(rt))
    except PypodError:
        pass
    try:
        rt.store.gc()
    except (PypodError, OSError):
        pass
    collect_container_dirs(rt)
    return removed


def collect_container_dirs(rt: "Runtime") -> list[str]:
    """Delete ``overlay-containers/<id>`` directories (graph and run root) that no container
    row names: left by a `create`/`run` killed after making them but before writing its row
    (D21).  Skipped while a creation is in flight (``Store.idle``) or on any read error;
    a directory with a mount below it is kept.  Returns the removed directories."""
    import shutil

    bases = {os.path.dirname(os.path.dirname(rt.config.container_static_dir("x" * 64))),
             os.path.dirname(os.path.dirname(rt.config.container_run_dir("x" * 64)))}
    candidates = [os.path.join(base, name) for base in bases if os.path.isdir(base)
                  for name in os.listdir(base) if len(name) == 64]
    if not candidates:
        return []
    removed: list[str] = []
    try:
        with rt.store.idle() as idle:
            if not idle:
                return []
            read = getattr(rt.db, "_read", None)
            if read is not None:
                known = {row[0] for row in read("SELECT id FROM containers")}
            else:
                known = {c.get("id") for c, _s in rt.db.all_containers()} | set(rt.db.corrupt_containers)
            with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
                mounts = [line.split()[4] for line in fh if len(line.split()) > 4]
            for directory in candidates:
                if os.path.basename(directory) in known:
                    continue
                if any(m == directory or m.startswith(directory + "/") for m in mounts):
                    continue
                shutil.rmtree(directory, ignore_errors=True)
                removed.append(directory)
    except (PypodError, OSError):
        return removed
    return removed


def _names_id(image: "Image", name: str) -> bool:
    text = name.removeprefix("sha256:")
    return refs.looks_like_id(name) and image.id.startswith(text) and not _matching_name(image, name)


def _matching_name(image: "Image", name: str) -> str | None:
    """The stored name of ``image`` that ``name`` refers to, if it refers by name."""
    try:
        wanted = refs.parse(name)
    except PypodError:
        return None
    for stored_name in image.names:
        stored = refs.parse(stored_name)
        if wanted.is_short and refs.matches_short(stored, wanted):
            return stored_name
        if not wanted.is_short and str(refs.normalize(name)) == stored_name:
            return stored_name
    return None


def prune_images(rt: "Runtime", all: bool = False, keep: Any = None) -> list[str]:  # noqa: A002
    """Delete dangling images (every unused one with ``all``); returns the deleted IDs.

    ``keep(image) -> bool``, when given, spares the images it returns True for (prune filters).
    """
    deleted: list[str] = []
    users = containers_by_image(rt)
    for image in rt.images.list():
        if image.id in users or (keep is not None and keep(image)):
            continue
        if all or image.dangling:
            rt.images.delete(image)
            deleted.append(image.id)
    collect_layers(rt)
    return deleted


def history(image: "Image", store: "Store | None" = None) -> list[dict[str, Any]]:
    """Rows of ``podman history``, newest first: id, created, created_by, size, comment."""
    sizes: dict[str, int] = {}
    if store is not None:
        for layer_id in image.layers:
            try:
                sizes[layer_id] = int(store.layer(layer_id).uncompressed_size or 0)
            except PypodError:
                sizes[layer_id] = 0
    entries = [h for h in image.config.get("history") or [] if isinstance(h, dict)]
    if not entries:
        entries = [{"created": image.created} for _ in image.layers] or [{"created": image.created}]
    rows: list[dict[str, Any]] = []
    layer_index = 0
    for entry in entries:
        size = 0
        if not entry.get("empty_layer"):
            if layer_index < len(image.layers):
                size = sizes.get(image.layers[layer_index], 0)
            layer_index += 1
        rows.append({
            "id": "<missing>",
            "created": entry.get("created") or "",
            "created_by": entry.get("created_by") or "",
            "size": size,
            "comment": entry.get("comment") or "",
            "tags": [],
        })
    rows.reverse()
    if rows:
        rows[0]["id"] = image.id
        rows[0]["tags"] = list(image.names)
    return rows
