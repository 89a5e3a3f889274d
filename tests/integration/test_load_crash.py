"""`kill -9` in the middle of loading a 150 MB image (issue 2 acceptance).

The archive is a docker-archive with one layer holding 150 MB of random data.  `pypod load`
is killed once while it copies an archive given on stdin out (work dir under storage/tmp) and once while it
extracts the layer (staging dir); after each kill no half image shows in `images`, the next
`load` succeeds, the database passes `PRAGMA integrity_check`, and no work dir, staging dir or
layer directory unknown to the layer metadata is left behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sqlite3
import tarfile
import time
from pathlib import Path

import pytest

from pypod.libpod.osutil import tree_size
from pypodcli import Pypod

SIZE = 150 * 1024 * 1024
NAME = "localhost/big:1"


class _RandomReader(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:  # type: ignore[no-untyped-def]
        n = min(len(buf), self.left)
        buf[:n] = os.urandom(n)
        self.left -= n
        return n


def _write_archive(path: Path) -> str:
    layer = path.with_suffix(".layer")
    with tarfile.open(layer, "w") as tar:
        info = tarfile.TarInfo("random.bin")
        info.size, info.mode = SIZE, 0o644
        tar.addfile(info, io.BufferedReader(_RandomReader(SIZE), 1 << 20))
    digest = hashlib.sha256()
    with open(layer, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    diff = digest.hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff}"]}}).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [NAME], "Layers": [f"{diff}/layer.tar"]}]).encode()
    with tarfile.open(path, "w") as tar:
        tar.add(str(layer), f"{diff}/layer.tar")
        for name, data in ((config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    layer.unlink()
    return diff


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("bigload") / "big.tar"
    _write_archive(path)
    return str(path)


def _kill_when(p: Pypod, archive: str, directory: str, threshold: int, stdin: bool = False) -> None:
    """Start `load`, SIGKILL it once ``directory`` holds ``threshold`` bytes (or it ended)."""
    if stdin:  # only an archive on stdin is copied out (a plain tar file is read in place)
        with open(archive, "rb") as f:
            proc = p.popen("load", "-q", stdin=f, stdout=None, stderr=None)
    else:
        proc = p.popen("load", "-q", "-i", archive, stdout=None, stderr=None)
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and tree_size(directory) < threshold:
            assert time.monotonic() < deadline, "load made no progress within 60 s"
            time.sleep(0.002)
        killed = proc.poll() is None
        if killed:
            proc.send_signal(signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    if not killed:
        pytest.skip("load finished before the kill point (machine too fast for this kill point)")


def _integrity(p: Pypod) -> None:
    db = os.path.join(p.root, "state.db")
    assert os.path.exists(db), "load did not create the database"
    con = sqlite3.connect(db, timeout=30)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()


def _leftovers(p: Pypod) -> list[str]:
    storage = os.path.join(p.root, "storage")
    found = [os.path.join("tmp", n) for n in os.listdir(os.path.join(storage, "tmp"))]
    with open(os.path.join(storage, "overlay-layers", "layers.json")) as f:
        known = {entry["id"] for entry in json.load(f)}
    for name in os.listdir(os.path.join(storage, "overlay")):
        if name != "l" and name not in known:
            found.append(os.path.join("overlay", name))
    for name in os.listdir(os.path.join(storage, "overlay-layers")):
        if name not in ("layers.json", "layers.lock") and name.split(".", 1)[0] not in known:
            found.append(os.path.join("overlay-layers", name))
    return found


@pytest.mark.parametrize("phase", ["copying-archive", "extracting-layer"])
def test_kill9_mid_load_of_150mb_image(pypod: Pypod, big_archive: str, phase: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (overlay layer store)")
    storage = os.path.join(pypod.root, "storage")
    if phase == "copying-archive":
        _kill_when(pypod, big_archive, os.path.join(storage, "tmp"), SIZE // 3, stdin=True)
    else:
        _kill_when(pypod, big_archive, os.path.join(storage, "overlay"), SIZE // 3)

    listed = pypod.ok("images", "-a", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}")
    assert listed.out.strip() == "", f"half image after kill -9:\n{listed.out}"
    assert pypod("image", "exists", NAME).rc == 1
    _integrity(pypod)

    loaded = pypod.ok("load", "-i", big_archive)
    assert loaded.out.strip() == f"Loaded image: {NAME}"
    assert pypod.ok("images", "-q").out.split() == [pypod.ok("image", "inspect", "--format", "{{.Id}}", NAME)
                                                    .out.strip()[:12]]
    _integrity(pypod)
    assert _leftovers(pypod) == [], "work/staging dirs of the killed load were not reclaimed"
    size = pypod.ok("image", "inspect", "--format", "{{.Size}}", NAME).out.strip()
    assert int(size) >= SIZE
