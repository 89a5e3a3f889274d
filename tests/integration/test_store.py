"""Layer store on real overlayfs and vfs: layers, mounts, changes, diffs, tar round trips."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile

import pytest

from pypod.errors import DigestMismatch, HostileArchive, InUse, NoSuchLayer, StorageError
from pypod.libpod.storage.store import Store


def _overlay_missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root to mount overlayfs"
    with open("/proc/filesystems") as f:
        if "overlay" not in f.read():
            return "kernel has no overlayfs"
    return None


pytestmark = pytest.mark.skipif(_overlay_missing() is not None, reason=str(_overlay_missing()))


def reg(name, data=b"", mode=0o644, **attrs):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = 1_600_000_000
    for k, v in attrs.items():
        setattr(info, k, v)
    return info, data


def typed(name, kind, linkname="", mode=0o755, **attrs):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = mode
    info.mtime = 1_600_000_000
    for k, v in attrs.items():
        setattr(info, k, v)
    return info, None


def make_tar(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if data is not None and info.isreg() else None)
    return buf.getvalue()


BASE = [
    typed("etc", tarfile.DIRTYPE),
    reg("etc/passwd", b"root:x:0:0\n"),
    reg("etc/shadow", b"secret"),
    typed("opq", tarfile.DIRTYPE),
    reg("opq/old", b"old"),
    typed("bin", tarfile.DIRTYPE),
    reg("bin/busybox", b"\x7fELF" + b"b" * 3000, mode=0o755),
    reg("gone", b"g"),
]
TOP = [
    reg("etc/.wh.shadow"),
    reg("opq/.wh..wh..opq"),
    reg("opq/new", b"new"),
    reg("bin/su", b"su!", mode=0o4755),
    typed("bin/sh", tarfile.SYMTYPE, "busybox"),
    typed("bin/ash", tarfile.LNKTYPE, "bin/su"),
    reg("attr", b"a", pax_headers={"SCHILY.xattr.user.color": "blue"}),
    reg(".wh.gone"),
]
EXPECTED = {
    "attr": ("file", 0o644, b"a"),
    "bin": ("dir", 0o755, None),
    "bin/ash": ("file", 0o4755, b"su!"),
    "bin/busybox": ("file", 0o755, b"\x7fELF" + b"b" * 3000),
    "bin/sh": ("link", 0o777, "busybox"),
    "bin/su": ("file", 0o4755, b"su!"),
    "etc": ("dir", 0o755, None),
    "etc/passwd": ("file", 0o644, b"root:x:0:0\n"),
    "opq": ("dir", 0o755, None),
    "opq/new": ("file", 0o644, b"new"),
}


def tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            rel = os.path.relpath(full, root)
            if stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", stat.S_IMODE(st.st_mode), None)
            elif stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", stat.S_IMODE(st.st_mode), os.readlink(full))
            elif stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    out[rel] = ("file", stat.S_IMODE(st.st_mode), f.read())
            else:
                out[rel] = ("other", stat.S_IMODE(st.st_mode), st.st_rdev)
    return out


def mounts_under(path):
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


@pytest.fixture(params=["overlay", "vfs"])
def store(request, tmp_path):
    s = Store(str(tmp_path / "storage"), str(tmp_path / "run"), request.param)
    yield s
    for target in reversed(mounts_under(tmp_path)):
        os.system(f"umount -l '{target}'")
    assert not mounts_under(tmp_path), "mounts left behind"


@pytest.fixture
def layers(store):
    base = store.create_layer(None, io.BytesIO(gzip.compress(make_tar(BASE))))
    top = store.create_layer(base.id, io.BytesIO(make_tar(TOP)))
    return base, top


def test_layer_ids_and_metadata(store, layers):
    base, top = layers
    base_tar = make_tar(BASE)
    assert base.diff_id == "sha256:" + hashlib.sha256(base_tar).hexdigest()
    assert base.id == base.diff_id.split(":")[1]
    assert top.id == hashlib.sha256(f"{base.id}+{top.diff_id}".encode()).hexdigest()
    assert base.compressed_digest.startswith("sha256:") and base.uncompressed_size == len(base_tar)
    assert {l.id for l in store.layers()} == {base.id, top.id}
    assert store.layer(top.id).parent == base.id
    again = store.create_layer(None, io.BytesIO(base_tar))
    assert again.id == base.id and len(store.layers()) == 2
    if store.driver == "overlay":
        d = os.path.join(store.storage_root, "overlay", top.id)
        assert sorted(os.listdir(d)) == ["diff", "link", "lower", "merged", "work"]
        link = open(os.path.join(d, "link")).read()
        assert len(link) == 26
        assert os.readlink(os.path.join(store.storage_root, "overlay", "l", link)) == f"../{top.id}/diff"
        base_link = open(os.path.join(store.storage_root, "overlay", base.id, "link")).read()
        assert open(os.path.join(d, "lower")).read() == f"l/{base_link}"
    with pytest.raises(NoSuchLayer):
        store.layer("0" * 64)


def test_mounted_tree_matches_expected(store, layers):
    _, top = layers
    root = store.mount(top.id)
    try:
        assert tree(root) == EXPECTED
        assert os.stat(os.path.join(root, "bin/su")).st_ino == os.stat(os.path.join(root, "bin/ash")).st_ino
        assert os.getxattr(os.path.join(root, "attr"), "user.color") == b"blue"
    finally:
        assert store.unmount(top.id)
    assert not store.is_mounted(top.id)


@pytest.mark.parametrize("compression", ["plain", "gzip", "zstd"])
def test_layer_tar_round_trip(store, compression):
    import zstandard

    entries = BASE + [reg("etc/passwd", b"duplicate wins"), typed("longname/" + "x" * 150, tarfile.DIRTYPE)]
    for fmt in (tarfile.PAX_FORMAT, tarfile.GNU_FORMAT):
        data = make_tar(entries, fmt) + b"\0" * 4096  # extra trailing padding kept too
        packed = {"plain": data, "gzip": gzip.compress(data), "zstd": zstandard.ZstdCompressor().compress(data)}[compression]
        layer = store.create_layer(None, io.BytesIO(packed), compressed_digest="sha256:" + hashlib.sha256(packed).hexdigest())
        assert store.layer_tar(layer.id).read() == data
        root = store.mount(layer.id)
        try:
            with open(os.path.join(root, "etc/passwd"), "rb") as f:
                assert f.read() == b"duplicate wins"
        finally:
            store.unmount(layer.id)
        store.delete_layer(layer.id)


def test_digest_mismatch_leaves_nothing(store):
    data = gzip.compress(make_tar(BASE))
    with pytest.raises(DigestMismatch):
        store.create_layer(None, io.BytesIO(data), compressed_digest="sha256:" + "a" * 64)
    assert store.layers() == []
    assert [n for n in os.listdir(store.driver_dir) if n != "l"] == []
    assert [n for n in os.listdir(store.layers_dir) if n not in ("layers.json", "layers.lock")] == []


@pytest.mark.parametrize(
    "entries",
    [
        [reg("../../escape", b"x")],
        [typed("link", tarfile.SYMTYPE, "/"), reg("link/tmp/pwned", b"x")],
        [typed("x", tarfile.LNKTYPE, "/etc/passwd")],
    ],
    ids=["dotdot", "symlink", "hardlink"],
)
def test_hostile_layer_leaves_nothing(store, tmp_path, entries):
    with pytest.raises(HostileArchive):
        store.create_layer(None, io.BytesIO(make_tar([reg("ok", b"fine")] + entries)))
    assert store.layers() == []
    assert [n for n in os.listdir(store.driver_dir) if n != "l"] == []
    assert sorted(os.listdir(tmp_path)) == ["run", "storage"]
    assert not os.path.exists("/tmp/pwned")


def test_container_layer_changes_and_diff(store, layers):
    base, top = layers
    cid = store.create_container_layer(top.id)
    assert len(cid) == 64 and store.layer(cid).parent == top.id
    root = store.mount(cid)
    assert store.mount(cid) == root  # ref-counted
    assert store.unmount(cid) is False and store.is_mounted(cid)
    with open(os.path.join(root, "etc/hosts"), "w") as f:
        f.write("127.0.0.1 localhost\n")
    os.unlink(os.path.join(root, "etc/passwd"))
    os.unlink(os.path.join(root, "attr"))
    os.mkdir(os.path.join(root, "newdir"))
    with open(os.path.join(root, "newdir/file"), "w") as f:
        f.write("f")
    changes = store.changes(cid)
    assert ("A", "/etc/hosts") in changes and ("D", "/etc/passwd") in changes
    assert ("D", "/attr") in changes and ("A", "/newdir") in changes and ("A", "/newdir/file") in changes
    assert ("C", "/etc") in changes
    assert changes == sorted(changes, key=lambda c: c[1])
    names = tarfile.open(fileobj=store.diff_tar(cid)).getnames()
    assert {"etc/hosts", "etc/.wh.passwd", ".wh.attr", "newdir", "newdir/file"} <= set(names)
    merged = tree(root)
    # commit: the diff applied as a new layer gives the same tree
    committed = store.create_layer(top.id, store.diff_tar(cid))
    croot = store.mount(committed.id)
    try:
        assert tree(croot) == merged
    finally:
        store.unmount(committed.id)
    assert store.layer_size(cid) > 0
    assert store.unmount(cid) is True and not store.is_mounted(cid)
    with pytest.raises(InUse):
        store.delete_layer(top.id)
    store.delete_layer(committed.id)
    store.delete_layer(cid)
    store.delete_layer(top.id)
    store.delete_layer(base.id)
    assert store.layers() == []


def test_opaque_dir_in_container(store, layers):
    _, top = layers
    cid = store.create_container_layer(top.id)
    root = store.mount(cid)
    try:
        import shutil

        shutil.rmtree(os.path.join(root, "bin"))
        os.mkdir(os.path.join(root, "bin"))
        with open(os.path.join(root, "bin/only"), "w") as f:
            f.write("o")
        applied = store.create_layer(top.id, store.diff_tar(cid))
        aroot = store.mount(applied.id)
        try:
            assert sorted(os.listdir(os.path.join(aroot, "bin"))) == ["only"]
        finally:
            store.unmount(applied.id)
        assert ("D", "/bin/su") in store.changes(cid) or ("D", "/bin/busybox") in store.changes(cid)
    finally:
        store.unmount(cid, force=True)


def test_mount_force_unmount_and_delete_mounted(store, layers):
    _, top = layers
    cid = store.create_container_layer(top.id)
    store.mount(cid)
    store.mount(cid)
    with pytest.raises(InUse):
        store.delete_layer(cid)
    assert store.unmount(cid, force=True) is True
    assert not store.is_mounted(cid)
    store.delete_layer(cid)


def test_scratch_container_layer(store):
    cid = store.create_container_layer(None)
    root = store.mount(cid)
    try:
        with open(os.path.join(root, "x"), "w") as f:
            f.write("x")
        assert store.changes(cid) == [("A", "/x")]
    finally:
        store.unmount(cid)


def test_export(store, layers):
    _, top = layers
    buf = io.BytesIO()
    store.export(top.id, buf)
    buf.seek(0)
    names = set(tarfile.open(fileobj=buf).getnames())
    assert set(EXPECTED) == names
    assert not store.is_mounted(top.id)


def test_gc_removes_orphans(store, layers):
    base, _ = layers
    orphan = os.path.join(store.driver_dir, "f" * 64)
    os.makedirs(os.path.join(orphan, "diff"))
    stale_stage = os.path.join(store.driver_dir, "staging-dead")
    os.makedirs(stale_stage)
    split = os.path.join(store.layers_dir, "e" * 64 + ".tar-split.gz")
    open(split, "wb").close()
    removed = store.gc()
    assert orphan in removed and stale_stage in removed and split in removed
    assert not os.path.exists(orphan) and not os.path.exists(split)
    assert store.layer_tar(base.id).read() == make_tar(BASE)


def test_tampered_layer_detected(store, layers):
    base, _ = layers
    with open(os.path.join(store.layer_dir(base.id), "etc/passwd"), "r+b") as f:
        f.write(b"R")
    with pytest.raises(StorageError):
        store.layer_tar(base.id)


def test_unknown_parent(store):
    with pytest.raises(NoSuchLayer):
        store.create_layer("0" * 64, io.BytesIO(make_tar(BASE)))


def _mount_options(path):
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == str(path):  # newer kernels show `volatile` as fsync=volatile
                return [o.removeprefix("fsync=") for o in fields[-1].split(",")]
    return None


def test_volatile_mount_for_auto_removed_containers(store, layers):
    """`--rm` containers get podman's `volatile` overlay (no sync of the upper directory on
    unmount); the directory such a mount leaves behind never blocks the next mount."""
    if store.driver != "overlay":
        pytest.skip("volatile is an overlay option (vfs has no mount)")
    _, top = layers
    cid = store.create_container_layer(top.id)
    root = store.mount(cid, volatile=True)
    try:
        assert "volatile" in _mount_options(root)
        with open(os.path.join(root, "kept"), "w") as f:
            f.write("data")
    finally:
        store.unmount(cid)
    # the kernel refuses to mount over work/incompat/volatile; mounting again still works
    root = store.mount(cid)
    try:
        assert "volatile" not in _mount_options(root)
        with open(os.path.join(root, "kept")) as f:
            assert f.read() == "data"
    finally:
        store.unmount(cid)
    store.delete_layer(cid)
