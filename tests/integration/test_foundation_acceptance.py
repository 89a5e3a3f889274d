"""Issue 2 acceptance: every manifest, index and config pypod writes validates against the OCI
image-spec v1.1.1 schemas (import, commit, load, save --format oci-archive with several images,
save --format docker-archive's configs), and the saved blobs are named by their digests."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import warnings
from pathlib import Path
from typing import Any

import pytest

from conftest import BUSYBOX_IMAGE
from pypodcli import Pypod

SCHEMAS = Path("/work/shared/schemas/image-spec-v1.1.1")
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _validator(name: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema", reason="python package jsonschema is not installed")
    if not (SCHEMAS / name).exists():
        pytest.skip(f"{SCHEMAS} (the image-spec schemas) is missing")
    warnings.simplefilter("ignore", DeprecationWarning)
    by_file = {path.name: json.loads(path.read_text()) for path in SCHEMAS.glob("*.json")}
    store = {f"https://opencontainers.org/schema/image/{n}": doc for n, doc in by_file.items()}
    store.update({doc["id"]: doc for doc in by_file.values() if "id" in doc})
    schema = by_file[name]
    resolver = jsonschema.RefResolver(
        base_uri=schema.get("id", ""), referrer=schema, store=store,
        handlers={"https": lambda url: by_file[url.rsplit("/", 1)[1]]},
    )
    return jsonschema.Draft4Validator(schema, resolver=resolver)


def _valid(schema: str, doc: Any, what: str) -> None:
    errors = sorted(_validator(schema).iter_errors(doc), key=str)
    assert not errors, f"{what} does not validate against {schema}: {errors[0].message}\n{json.dumps(doc)}"


@pytest.fixture
def three_images(busybox_pypod: Pypod, busybox_rootfs_tar: str) -> tuple[Pypod, list[str]]:
    """busybox (imported), an import from stdin with every --change, and a commit."""
    p = busybox_pypod
    with open(busybox_rootfs_tar, "rb") as f:
        p.ok("import", "-", "localhost/changed:1", "-m", "from stdin",
             "-c", 'ENTRYPOINT ["/bin/sh", "-c"]', "-c", "CMD echo hi", "-c", "ENV A=1 B=2",
             "-c", "WORKDIR /srv", "-c", "LABEL k=v", "-c", "USER nobody", "-c", "EXPOSE 80 53/udp",
             "-c", "VOLUME /data", input=f.read())
    p.ok("run", "--name", "src", BUSYBOX_IMAGE, "sh", "-c", "echo new > /new; rm /etc/group")
    p.ok("commit", "-q", "-a", "an author", "-c", "ENV C=3", "src", "localhost/committed:1")
    return p, [BUSYBOX_IMAGE, "localhost/changed:1", "localhost/committed:1"]


def _members(path: str) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _blob(files: dict[str, bytes], digest: str) -> bytes:
    data = files[f"blobs/sha256/{digest.split(':', 1)[1]}"]
    assert "sha256:" + hashlib.sha256(data).hexdigest() == digest, f"blob {digest} does not match its name"
    return data


def test_oci_archive_of_several_images_validates(three_images: tuple[Pypod, list[str]], tmp_path: Path) -> None:
    p, names = three_images
    out = str(tmp_path / "multi-oci.tar")
    p.ok("save", "--format", "oci-archive", "-o", out, *names)
    files = _members(out)
    _valid("image-layout-schema.json", json.loads(files["oci-layout"]), "oci-layout")
    index = json.loads(files["index.json"])
    _valid("image-index-schema.json", index, "index.json")
    refs = [m["annotations"]["org.opencontainers.image.ref.name"] for m in index["manifests"]]
    assert refs == names
    for desc in index["manifests"]:
        assert desc["mediaType"] == OCI_MANIFEST
        raw = _blob(files, desc["digest"])
        assert len(raw) == desc["size"]
        manifest = json.loads(raw)
        _valid("image-manifest-schema.json", manifest, f"manifest of {desc['digest']}")
        config = json.loads(_blob(files, manifest["config"]["digest"]))
        _valid("config-schema.json", config, "config")
        assert len(config["rootfs"]["diff_ids"]) == len(manifest["layers"])
        for layer in manifest["layers"]:
            assert len(_blob(files, layer["digest"])) == layer["size"]

    # and it loads back, in a fresh store, keeping every image ID
    other = Pypod(tmp_path / "other")
    try:
        loaded = other.ok("load", "-i", out).out.split("\n")
        assert [line.removeprefix("Loaded image: ") for line in loaded if line] == names
        for name in names:
            assert (other.ok("image", "inspect", "--format", "{{.Id}}", name).out
                    == p.ok("image", "inspect", "--format", "{{.Id}}", name).out)
    finally:
        shutil.rmtree(other.base, ignore_errors=True)
    if shutil.which("skopeo"):
        proc = subprocess.run(["skopeo", "inspect", f"oci-archive:{out}:localhost/committed:1"],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["Env"][-1] == "C=3"


def test_docker_archive_configs_validate(three_images: tuple[Pypod, list[str]], tmp_path: Path) -> None:
    p, names = three_images
    out = str(tmp_path / "multi-docker.tar")
    p.ok("save", "-o", out, *names)
    files = _members(out)
    entries = json.loads(files["manifest.json"])
    assert [e["RepoTags"] for e in entries] == [[n] for n in names]
    for entry in entries:
        config = json.loads(files[entry["Config"]])
        _valid("config-schema.json", config, entry["Config"])
        assert len(entry["Layers"]) == len(config["rootfs"]["diff_ids"])


def test_stored_manifests_and_configs_validate(three_images: tuple[Pypod, list[str]]) -> None:
    """What import, commit and load record in the store (manifest + config) is valid OCI."""
    from pypod.libpod.storage.images import ImageStore
    from pypod.libpod.storage.store import Store

    p, names = three_images
    images = ImageStore(Store(os.path.join(p.root, "storage"), p.runroot, "overlay"))
    for name in names:
        image = images.resolve(name)
        _valid("image-manifest-schema.json", image.manifest, f"stored manifest of {name}")
        _valid("config-schema.json", image.config, f"stored config of {name}")
        assert hashlib.sha256(image.config_bytes).hexdigest() == image.id
    changed = images.resolve("localhost/changed:1").config
    section = changed["config"]
    assert section["Entrypoint"] == ["/bin/sh", "-c"] and section["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert section["Env"] == ["A=1", "B=2"] and section["WorkingDir"] == "/srv"
    assert section["Labels"] == {"k": "v"} and section["User"] == "nobody"
    assert section["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}} and section["Volumes"] == {"/data": {}}
    assert changed["history"][-1]["comment"] == "from stdin"
    committed = images.resolve("localhost/committed:1").config
    assert committed["author"] == "an author" and "C=3" in committed["config"]["Env"]
    assert len(committed["rootfs"]["diff_ids"]) == 2
