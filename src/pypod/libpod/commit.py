"""Commit a container: its read-write layer becomes a new layer on top of its image.

The new image keeps the base image's layers, adds one layer made from the container
layer's diff (deletions as OCI whiteouts), and takes its run configuration from the
container (command, entrypoint, environment, working directory, user, labels), then
from ``--change`` instructions.  A history entry records the commit.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field

from pypod.errors import InvalidArgument, PypodError

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from typing import Any
    from pypod.libpod.container.container import Container
    from pypod.libpod.storage.images import Image

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass
class CommitOptions:
    """What `pypod commit` can ask for."""

    changes: list[str] = field(default_factory=list)
    message: str = ""
    author: str = ""
    pause: bool = False
    format: str = "oci"  # "oci" | "docker"
    warnings: list[str] = field(default_factory=list)  # filled in: what the CLI should print


def _container_section(ctr: "Container", base: dict[str, Any]) -> dict[str, Any]:
    """The image's config section updated with what the container was created with."""
    section = copy.deepcopy(base.get("config") or {})
    cfg = ctr.config
    env: dict[str, str] = {}
    for item in section.get("Env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    env.update(cfg.env or {})
    env.setdefault("PATH", DEFAULT_PATH)
    if env:
        section["Env"] = [f"{k}={v}" for k, v in env.items()]
    if cfg.entrypoint is not None:
        section["Entrypoint"] = list(cfg.entrypoint)
        if cfg.command is None:
            section.pop("Cmd", None)
    if cfg.command is not None:
        section["Cmd"] = list(cfg.command)
    if cfg.workdir:
        section["WorkingDir"] = cfg.workdir
    section.setdefault("WorkingDir", "/")
    if cfg.user:
        section["User"] = cfg.user
    if cfg.labels:
        section["Labels"] = {**(section.get("Labels") or {}), **cfg.labels}
    ports = dict(section.get("ExposedPorts") or {})
    for port in cfg.expose:
        ports[port if "/" in str(port) else f"{port}/tcp"] = {}
    for mapping in cfg.ports:
        cport = mapping.get("container_port")
        if cport:
            ports[f"{cport}/{mapping.get('protocol') or 'tcp'}"] = {}
    if ports:
        section["ExposedPorts"] = ports
    return {k: v for k, v in section.items() if v not in (None, [], {}) or k == "Cmd"}


def build_config(
    ctr: "Container", base: "Image", diff_id: str, opts: CommitOptions, created: str
) -> dict[str, Any]:
    """The new image's config: base config + container settings + changes + history."""
    from pypod.libpod.storage.transports import parse_changes

    config = copy.deepcopy(base.config)
    section = _container_section(ctr, base.config)
    parse_changes(opts.changes, section)
    config["config"] = section
    config["created"] = created
    config.setdefault("architecture", base.config.get("architecture") or "amd64")
    config.setdefault("os", "linux")
    rootfs = config.get("rootfs") or {}
    config["rootfs"] = {"type": "layers", "diff_ids": [*(rootfs.get("diff_ids") or []), diff_id]}
    if opts.author:
        config["author"] = opts.author
    else:
        config.pop("author", None)
    if opts.format == "docker":
        config["container"] = ctr.id
        if opts.message:
            config["comment"] = opts.message
    else:
        config.pop("comment", None)
    entry: dict[str, Any] = {"created": created, "created_by": "/bin/sh"}
    if opts.author:
        entry["author"] = opts.author
    entry["comment"] = f"FROM {ctr.config.image_name or base.id}"
    config["history"] = [*(config.get("history") or []), entry]
    return config


def build_manifest(images: Any, layer_ids: list[str], config_bytes: bytes, fmt: str) -> dict[str, Any]:
    """A manifest describing the layers by their uncompressed digests (as stored)."""
    store = images.store
    layers = []
    for lid in layer_ids:
        layer = store.layer(lid)
        diff = layer.diff_id if str(layer.diff_id).startswith("sha256:") else f"sha256:{layer.diff_id}"
        layers.append({
            "mediaType": DOCKER_LAYER if fmt == "docker" else OCI_LAYER,
            "digest": diff,
            "size": int(layer.uncompressed_size or 0),
        })
    return {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST if fmt == "docker" else OCI_MANIFEST,
        "config": {
            "mediaType": DOCKER_CONFIG if fmt == "docker" else OCI_CONFIG,
            "digest": "sha256:" + hashlib.sha256(config_bytes).hexdigest(),
            "size": len(config_bytes),
        },
        "layers": layers,
    }


def commit_container(ctr: "Container", reference: str | None = None, opts: CommitOptions | None = None) -> "Image":
    """Create an image from the container's current filesystem; returns the new image."""
    with ctr.rt.store.creating():  # the new layer stays safe from layer gc until the image is recorded
        return _commit_container(ctr, reference, opts)


def _commit_container(ctr: "Container", reference: str | None, opts: CommitOptions | None) -> "Image":
    from pypod.libpod.container.model import ContainerStatus as S
    from pypod.libpod.storage import reference as refs
    from pypod.libpod.timefmt import now_rfc3339_micro

    opts = opts or CommitOptions()
    if opts.format not in ("oci", "docker"):
        raise InvalidArgument(f"unrecognized image type {opts.format!r}")
    if opts.message and opts.format != "docker":
        opts.warnings.append(
            "COMMENT is not supported for OCI image format, comment msg will be ignored. Must use `docker` format"
        )
    name = refs.normalize_name(reference) if reference else None
    rt = ctr.rt
    if ctr.config.rootfs or not ctr.config.rootfs_layer:
        raise InvalidArgument(f"container {ctr.id} was created with --rootfs: it has no image to commit onto")
    base = rt.images.get(ctr.config.image_id)
    store = rt.store
    paused = False
    with ctr.lock():
        from pypod.libpod.container import lifecycle

        lifecycle.sync(ctr)
        if opts.pause and ctr.state.status == S.RUNNING:
            rt.oci.pause(ctr.id)
            paused = True
        try:
            diff = store.diff_tar(ctr.config.rootfs_layer)
        finally:
            if paused:
                rt.oci.resume(ctr.id)
    before = {layer.id for layer in store.layers()}
    layer = None
    try:
        with diff:
            layer = store.create_layer(base.top_layer or None, diff)
        diff_id = layer.diff_id if str(layer.diff_id).startswith("sha256:") else f"sha256:{layer.diff_id}"
        config = build_config(ctr, base, diff_id, opts, now_rfc3339_micro())
        config_bytes = json.dumps(config).encode()
        layer_ids = [*base.layers, layer.id]
        manifest = build_manifest(rt.images, layer_ids, config_bytes, opts.format)
        image = rt.images.add_image(config_bytes, json.dumps(manifest).encode(), layer_ids, [name] if name else [])
    except BaseException:
        if layer is not None and layer.id not in before:
            try:
                store.delete_layer(layer.id)
            except PypodError:
                pass
        raise
    ctr.event("commit")
    return image
