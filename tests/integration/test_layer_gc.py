"""Leftovers of killed commands: layer garbage collection (D7) and stale network state (D16, D8)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import pytest
from conftest import BUSYBOX_IMAGE
from pypodcli import Pypod, mounts_under

from pypod.libpod.storage.store import Store


def _tar(name: str, data: bytes) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = 1_600_000_000
        tf.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


@pytest.fixture
def store(tmp_path) -> Store:
    if os.geteuid() != 0:
        pytest.skip("needs root (overlay layer directories owned by root)")
    return Store(str(tmp_path / "storage"), str(tmp_path / "run"), "vfs")


def test_collect_keeps_referenced_chains_and_drops_the_rest(store: Store) -> None:
    base = store.create_layer(None, _tar("a", b"1"))
    top = store.create_layer(base.id, _tar("b", b"2"))
    stray = store.create_layer(None, _tar("c", b"3"))
    rw = store.create_container_layer(top.id)
    removed = store.collect_unreferenced(lambda: {rw})
    assert removed == [stray.id]
    assert {layer.id for layer in store.layers()} == {base.id, top.id, rw}
    assert not os.path.exists(store.layer_dir(stray.id))
    assert sorted(store.collect_unreferenced(lambda: set())) == sorted([base.id, top.id, rw])
    assert store.layers() == []


def test_collect_skips_while_another_process_creates(store: Store) -> None:
    stray = store.create_layer(None, _tar("c", b"3"))
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys\nfrom pypod.libpod.storage.store import Store\n"
         f"s = Store({store.storage_root!r}, {store.runroot!r}, 'vfs')\n"
         "with s.creating():\n    print('held', flush=True)\n    sys.stdin.read()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        assert store.collect_unreferenced(lambda: set()) == []
        assert [layer.id for layer in store.layers()] == [stray.id]
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert store.collect_unreferenced(lambda: set()) == [stray.id]


def test_collect_skips_inside_own_creation(store: Store) -> None:
    stray = store.create_layer(None, _tar("c", b"3"))
    with store.creating():
        assert store.collect_unreferenced(lambda: set()) == []
    assert store.collect_unreferenced(lambda: set()) == [stray.id]


def _pypod_store(p: Pypod) -> Store:
    return Store(os.path.join(p.root, "storage"), p.runroot, "overlay")


def test_rm_all_and_rmi_all_remove_layers_nobody_uses(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("create", "--name", "keep", BUSYBOX_IMAGE, "true")
    keep_layer = json.loads(p.ok("container", "inspect", "keep").out)[0]["GraphDriver"]["Data"]["UpperDir"]
    store = _pypod_store(p)
    # what a killed load (layer, no image) and a killed create (rw layer, no DB row) leave
    orphan = store.create_layer(None, _tar("orphan", b"x"))
    orphan_rw = store.create_container_layer(None)
    p.ok("rm", "-af", "-t", "0")
    ids = {layer.id for layer in store.layers()}
    assert orphan.id not in ids and orphan_rw not in ids
    assert os.path.basename(os.path.dirname(keep_layer)) not in ids  # "keep" was removed with -a
    assert len(ids) == 1  # the image's layer stays
    p.ok("create", "--name", "again", BUSYBOX_IMAGE, "true")
    stray = store.create_layer(None, _tar("stray", b"y"))
    p.ok("rmi", "-af")
    assert p.ok("images", "-q").out.split() == []
    ids = {layer.id for layer in store.layers()}
    assert stray.id not in ids
    p.ok("rm", "-af")
    p.ok("rmi", "-af")
    assert store.layers() == []


def test_rm_all_removes_namespaces_of_gone_containers(busybox_pypod: Pypod) -> None:
    from pypod.libpod.network.netns import create_netns, new_netns_path

    p = busybox_pypod
    # a netns and a setup record of a container that no longer exists (a killed run --rm)
    path = create_netns(p.runroot, new_netns_path(p.runroot))
    os.makedirs(os.path.join(p.root, "netsetup"), exist_ok=True)
    with open(os.path.join(p.root, "netsetup", "ab" * 32 + ".json"), "w") as f:
        json.dump({"netns": path, "networks": {}}, f)
    bare = create_netns(p.runroot, new_netns_path(p.runroot))  # no record at all
    try:
        p.ok("rm", "-af")
        assert not os.path.exists(path) and not os.path.exists(bare)
        assert [m for m in mounts_under(p.runroot) if "/netns/" in m] == []
        assert os.listdir(os.path.join(p.root, "netsetup")) == []
    finally:
        from pypod.libpod.network.netns import remove_netns

        remove_netns(path)
        remove_netns(bare)


def test_teardown_of_what_is_gone_is_no_error() -> None:
    from pypod.libpod.network.lifecycle import already_gone

    assert already_gone("netavark: failed to delete container veth eth0: Netlink error: No such device (os error 19)")
    assert already_gone(
        "netavark: netavark encountered multiple errors: IO error: No such file or directory (os error 2); "
        "failed to delete container veth eth0: No such device"
    )
    assert not already_gone("netavark: iptables: permission denied")
    assert not already_gone("netavark encountered multiple errors: a: No such device; b: permission denied")
