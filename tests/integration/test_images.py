"""Image store and archive transports against real skopeo-made archives, on overlay and vfs."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Iterator

import pytest

from pypod.errors import InvalidArgument, NoSuchImage, PypodError, StorageError
from pypod.libpod.storage.images import ImageStore
from pypod.libpod.storage.store import Store
from pypod.libpod.storage import transports

SCHEMAS = Path("/work/shared/schemas/image-spec-v1.1.1")
MTIME = 1_700_000_000


# --- building an OCI layout by hand --------------------------------------------
def _tar(entries: list[tuple]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for kind, name, *rest in entries:
            info = tarfile.TarInfo(name)
            info.mtime = MTIME
            data = None
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "file":
                content, mode, xattrs = (list(rest) + [0o644, {}][len(rest) - 1 :])[:3]
                data = content
                info.size, info.mode = len(content), mode
                if xattrs:
                    info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
            elif kind == "sym":
                info.type, info.linkname, info.mode = tarfile.SYMTYPE, rest[0], 0o777
            elif kind == "link":
                info.type, info.linkname, info.mode = tarfile.LNKTYPE, rest[0], 0o644
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


LAYERS = [
    _tar([
        ("dir", "a"), ("file", "a/f1", b"one"), ("file", "a/gone", b"x"),
        ("dir", "d"), ("file", "d/old", b"old"), ("dir", "bin"),
        ("file", "bin/su", b"#!/bin/sh\n", 0o4755),
        ("sym", "sym", "a/f1"),
        ("file", "x", b"xattr", 0o644, {"user.test": "hello"}),
    ]),
    _tar([
        ("dir", "a"), ("file", "a/.wh.gone", b""),
        ("dir", "d"), ("file", "d/.wh..wh..opq", b""), ("file", "d/new", b"new"),
        ("file", "h1", b"data"), ("link", "h2", "h1"),
    ]),
    _tar([("dir", "a"), ("file", "a/f3", b"three")]),
]


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def write_oci_layout(directory: Path, ref_name: str = "img:1", gzip_layers: bool = True) -> dict:
    """An OCI image layout with the three LAYERS; returns the config dict."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)

    def put(data: bytes) -> str:
        digest = _sha(data)
        (blobs / digest.split(":")[1]).write_bytes(data)
        return digest

    layer_descs = []
    for layer in LAYERS:
        blob = gzip.compress(layer, mtime=0) if gzip_layers else layer
        media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzip_layers else "")
        layer_descs.append({"mediaType": media, "digest": put(blob), "size": len(blob)})
    config = {
        "created": "2023-11-14T22:13:20Z",
        "architecture": transports.go_arch(),
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"test": "yes"}},
        "rootfs": {"type": "layers", "diff_ids": [_sha(layer) for layer in LAYERS]},
        "history": [{"created": "2023-11-14T22:13:20Z", "created_by": f"layer {i}"} for i in range(3)],
    }
    config_bytes = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config_bytes),
                   "size": len(config_bytes)},
        "layers": layer_descs,
    }
    manifest_bytes = json.dumps(manifest).encode()
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": put(manifest_bytes),
        "size": len(manifest_bytes), "annotations": {"org.opencontainers.image.ref.name": ref_name}}]}
    (directory / "index.json").write_text(json.dumps(index))
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    config["_id"] = hashlib.sha256(config_bytes).hexdigest()
    return config


def _skopeo(*args: str) -> None:
    proc = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def archives(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if not shutil.which("skopeo"):
        pytest.skip("skopeo is not installed")
    base = tmp_path_factory.mktemp("archives")
    config = write_oci_layout(base / "layout")
    _skopeo("copy", "-q", f"oci:{base / 'layout'}:img:1", f"docker-archive:{base / 'd.tar'}:img:1")
    _skopeo("copy", "-q", f"oci:{base / 'layout'}:img:1", f"oci-archive:{base / 'o.tar'}:foo:1")
    return {"config": config, "docker": str(base / "d.tar"), "oci": str(base / "o.tar"), "base": base}


@pytest.fixture(params=["overlay", "vfs"])
def images(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ImageStore]:
    if os.geteuid() != 0:
        pytest.skip("needs root (overlay mounts, whiteout devices)")
    store = Store(str(tmp_path / "storage"), str(tmp_path / "run"), request.param)
    image_store = ImageStore(store)
    try:
        yield image_store
    finally:
        for layer in store.layers():
            while store.is_mounted(layer.id):
                if not store.unmount(layer.id, force=True):
                    break


def _tree(root: str) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            if os.path.islink(full):
                out[rel] = ("sym", os.readlink(full))
            elif os.path.isdir(full):
                out[rel] = ("dir",)
            else:
                with open(full, "rb") as f:
                    out[rel] = ("file", f.read(), st.st_mode & 0o7777)
    return out


def _check_rootfs(store: Store, top: str) -> None:
    merged = store.mount(top)
    try:
        tree = _tree(merged)
        assert tree["a/f1"][1] == b"one" and tree["a/f3"][1] == b"three"
        assert "a/gone" not in tree, "whiteout not applied"
        assert "d/old" not in tree and tree["d/new"][1] == b"new", "opaque directory not applied"
        assert tree["bin/su"][2] == 0o4755, "set-uid bit lost"
        assert tree["sym"] == ("sym", "a/f1")
        assert os.stat(os.path.join(merged, "h1")).st_ino == os.stat(os.path.join(merged, "h2")).st_ino
        assert os.getxattr(os.path.join(merged, "x"), "user.test") == b"hello"
    finally:
        store.unmount(top, force=True)


@pytest.mark.parametrize("kind,name", [("docker", "docker.io/library/img:1"), ("oci", "localhost/foo:1")])
def test_load_skopeo_archive(images: ImageStore, archives: dict, kind: str, name: str) -> None:
    assert transports.load(images, archives[kind]) == [name]
    image = images.resolve(name)
    assert image.id == archives["config"]["_id"]
    assert image.diff_ids == archives["config"]["rootfs"]["diff_ids"]
    assert images.resolve("img:1" if kind == "docker" else "foo:1").id == image.id
    assert images.resolve(image.id[:6]).id == image.id
    assert images.resolve(f"sha256:{image.id}").id == image.id
    _check_rootfs(images.store, image.top_layer)


def test_save_load_roundtrip_keeps_id(images: ImageStore, archives: dict, tmp_path: Path) -> None:
    transports.load(images, archives["oci"])
    image = images.resolve("foo:1")
    for fmt in ("docker-archive", "oci-archive"):
        out = str(tmp_path / f"{fmt}.tar")
        transports.save(images, [(image, ["localhost/foo:1"])], out, fmt)
        proc = subprocess.run(["skopeo", "inspect", f"{fmt}:{out}"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["Layers"] == image.diff_ids
        other = ImageStore(Store(str(tmp_path / f"s-{fmt}"), str(tmp_path / f"r-{fmt}"), images.store.driver))
        assert transports.load(other, out) == ["localhost/foo:1"]
        copy = other.resolve("localhost/foo:1")
        assert (copy.id, copy.diff_ids) == (image.id, image.diff_ids)


def test_delete_removes_unshared_layers(images: ImageStore, archives: dict) -> None:
    transports.load(images, archives["docker"])
    image = images.resolve("img:1")
    images.tag(image, "other:2")
    assert images.resolve("localhost/other:2").id == image.id
    images.untag(image, "other:2")
    with pytest.raises(NoSuchImage, match="tag not known"):
        images.untag(image, "other:2")
    images.delete(image)
    assert images.list() == [] and images.store.layers() == []
    with pytest.raises(NoSuchImage, match="^img:1: image not known$"):
        images.resolve("img:1")


def _validator(name: str):  # type: ignore[no-untyped-def]
    import warnings

    import jsonschema

    warnings.simplefilter("ignore", DeprecationWarning)

    store = {}
    for path in SCHEMAS.glob("*.json"):
        doc = json.loads(path.read_text())
        store[f"https://opencontainers.org/schema/image/{path.name}"] = doc
        if "id" in doc:
            store[doc["id"]] = doc
    schema = json.loads((SCHEMAS / name).read_text())
    by_file = {path.name: json.loads(path.read_text()) for path in SCHEMAS.glob("*.json")}
    resolver = jsonschema.RefResolver(
        base_uri=schema.get("id", ""), referrer=schema, store=store,
        handlers={"https": lambda url: by_file[url.rsplit("/", 1)[1]]},
    )
    return jsonschema.Draft4Validator(schema, resolver=resolver)


def test_import_validates_against_image_spec(images: ImageStore, busybox_rootfs_tar: str) -> None:
    changes = ['CMD ["sh"]', "ENTRYPOINT /bin/true", "ENV A=1 B=2", "WORKDIR /tmp", "LABEL k=v",
               "USER nobody", "EXPOSE 80", "VOLUME /data"]
    image = transports.import_rootfs(images, busybox_rootfs_tar, "bb:1", changes, "msg")
    assert image.names == ["localhost/bb:1"]
    assert image.id == hashlib.sha256(image.config_bytes).hexdigest()
    _validator("image-manifest-schema.json").validate(image.manifest)
    _validator("config-schema.json").validate(image.config)
    section = image.config["config"]
    assert section["Cmd"] == ["sh"] and section["Entrypoint"] == ["/bin/sh", "-c", "/bin/true"]
    assert section["Env"] == ["A=1", "B=2"] and section["WorkingDir"] == "/tmp"
    assert section["Labels"] == {"k": "v"} and section["User"] == "nobody"
    assert section["ExposedPorts"] == {"80/tcp": {}} and section["Volumes"] == {"/data": {}}
    with pytest.raises(InvalidArgument):
        transports.import_rootfs(images, busybox_rootfs_tar, "bb:2", ["FROB x"], "")


# --- hostile and broken archives ---------------------------------------------------
def _outer(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _docker(layers: list[bytes], diff_ids: list[str] | None = None, config: bytes | None = None,
            manifest: object = None, drop: str = "") -> bytes:
    cfg = config if config is not None else json.dumps({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids if diff_ids is not None else [_sha(x) for x in layers]},
    }).encode()
    files = {f"{hashlib.sha256(x).hexdigest()}.tar": x for x in layers}
    cfg_name = f"{hashlib.sha256(cfg).hexdigest()}.json"
    files[cfg_name] = cfg
    doc = manifest if manifest is not None else [{"Config": cfg_name, "RepoTags": ["evil:1"], "Layers": list(files)[:-1]}]
    files["manifest.json"] = json.dumps(doc).encode()
    files.pop(drop, None)
    return _outer(files)


def _oci(mutate: str) -> bytes:
    layer = _tar([("file", "ok", b"fine")])
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [_sha(layer)]}}).encode()
    blobs = {_sha(layer): layer, _sha(cfg): cfg}
    manifest = {"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": _sha(cfg), "size": len(cfg)},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _sha(layer),
                            "size": len(layer) + (1 if mutate == "size" else 0)}]}
    mbytes = json.dumps(manifest).encode()
    blobs[_sha(mbytes)] = mbytes
    if mutate == "tamper":
        blobs[_sha(layer)] = layer.replace(b"fine", b"evil")
    if mutate == "missing-manifest":
        del blobs[_sha(mbytes)]
    files = {f"blobs/sha256/{d.split(':')[1]}": b for d, b in blobs.items()}
    files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": _sha(mbytes), "size": len(mbytes)}]}).encode()
    return _outer(files)


SENTINEL = "/tmp/pypod-images-sentinel"
GOOD = _tar([("file", "ok", b"fine")])


def _hostile_cases() -> dict[str, bytes]:
    escape = _tar([("file", "../../../../../../../tmp/pypod-images-sentinel/pwned", b"x")])
    via_symlink = _tar([("sym", "evil", SENTINEL), ("file", "evil/pwned", b"x")])
    valid = _docker([GOOD])
    return {
        "missing-config": _docker([GOOD], drop=f"{hashlib.sha256(json.dumps({'architecture': 'amd64', 'os': 'linux', 'rootfs': {'type': 'layers', 'diff_ids': [_sha(GOOD)]}}).encode()).hexdigest()}.json"),
        "config-not-json": _docker([GOOD], config=b"{not json"),
        "more-layers-than-diff-ids": _docker([GOOD, _tar([("file", "b", b"2")])], diff_ids=[_sha(GOOD)]),
        "diff-id-mismatch": _docker([GOOD], diff_ids=["sha256:" + "0" * 64]),
        "truncated": valid[: len(valid) // 2],
        "not-a-tar": os.urandom(4096),
        "manifest-not-list": _docker([GOOD], manifest={"Config": "x"}),
        "bad-diff-id": _docker([GOOD], diff_ids=["md5:1234"]),
        "path-escape": _docker([escape]),
        "symlink-escape": _docker([via_symlink]),
        "hostile-second-layer": _docker([GOOD, via_symlink]),
        "oci-missing-manifest": _oci("missing-manifest"),
        "oci-tampered-blob": _oci("tamper"),
        "oci-size-mismatch": _oci("size"),
    }


@pytest.mark.parametrize("case", sorted(_hostile_cases()))
def test_hostile_archive_refused(images: ImageStore, tmp_path: Path, case: str) -> None:
    shutil.rmtree(SENTINEL, ignore_errors=True)
    os.makedirs(SENTINEL)
    try:
        path = tmp_path / f"{case}.tar"
        path.write_bytes(_hostile_cases()[case])
        with pytest.raises(PypodError) as info:
            transports.load(images, str(path))
        assert isinstance(info.value, StorageError), repr(info.value)
        message = str(info.value)
        assert message and "\n" not in message
        assert os.listdir(SENTINEL) == [], "an archive wrote outside the store"
        assert images.list() == [], "half-registered image"
        assert images.store.layers() == [], "layers of a failed load were left behind"
    finally:
        shutil.rmtree(SENTINEL, ignore_errors=True)
