"""Store.export round trips: the tar holds exactly the mounted root filesystem.

A container layer over an image layer with large files, hard links, symlinks, a fifo, a
device node, xattrs, long and non-ASCII names; the container deletes a lower file, breaks
a hard link by copy-up, makes a directory opaque and adds files.  The export (from the
detached read-only view when nothing is mounted, from the live mount otherwise, and on
vfs) must equal a walk of the mounted rootfs, read by Python's tarfile and by GNU tar,
and be byte for byte what tarfile itself writes for that tree.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import subprocess
import tarfile
import threading

import pytest

from pypod.libpod.storage.archive import write_tree_tar
from pypod.libpod.storage.store import Store


def _overlay_missing() -> str | None:
    if os.geteuid() != 0:
        return "needs root to mount overlayfs and make device nodes"
    with open("/proc/filesystems") as f:
        if "overlay" not in f.read():
            return "kernel has no overlayfs"
    return None


pytestmark = pytest.mark.skipif(_overlay_missing() is not None, reason=str(_overlay_missing()))

BIG = os.urandom(3 * 1024 * 1024 + 123)  # several write chunks, not block aligned
LONG = "deep/" + "d" * 120 + "/" + "f" * 110  # needs a PAX path


def _info(name: str, kind: bytes = tarfile.REGTYPE, **attrs: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    info.mtime = 1_600_000_000
    for key, value in attrs.items():
        setattr(info, key, value)
    return info


def _base_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        def add(info: tarfile.TarInfo, data: bytes | None = None) -> None:
            if data is not None:
                info.size = len(data)
            tf.addfile(info, io.BytesIO(data) if data is not None else None)

        for d in ("data", "other", "dev", "dir", "dir/sub", "deep", "deep/" + "d" * 120):
            add(_info(d, tarfile.DIRTYPE))
        add(_info("data/big", mtime=1_600_000_000.25, uid=1000, gid=1001), BIG)
        add(_info("data/hl1", mode=0o4755), b"linked data\n")
        add(_info("data/hl2", tarfile.LNKTYPE, linkname="data/hl1"))
        add(_info("other/hl3", tarfile.LNKTYPE, linkname="data/hl1"))
        add(_info("data/sym", tarfile.SYMTYPE, linkname="big", mode=0o777))
        add(_info("abs", tarfile.SYMTYPE, linkname="/etc/passwd", mode=0o777))
        add(_info("dangling", tarfile.SYMTYPE, linkname="nowhere/at/all", mode=0o777))
        add(_info("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666))
        add(_info("dev/loop9", tarfile.BLKTYPE, devmajor=7, devminor=9, mode=0o660))
        add(_info("fifo", tarfile.FIFOTYPE, mode=0o600))
        add(_info("gone"), b"deleted by the container")
        add(_info("dir/old"), b"hidden by the opaque dir")
        add(_info("dir/sub/older"), b"hidden too")
        add(_info("attr", pax_headers={"SCHILY.xattr.user.color": "blue"}), b"a")
        add(_info("na\u00efve \u2603"), b"unicode name")
        add(_info(LONG, uid=70000, gid=70000), b"long name")
        add(_info("empty"), b"")
        add(_info("chmodded", mode=0o600), b"mode changes in the container")
    return buf.getvalue()


def _change_container(root: str) -> None:
    os.unlink(os.path.join(root, "gone"))
    with open(os.path.join(root, "data/hl2"), "ab") as f:  # copy-up breaks the link for hl2 only
        f.write(b"changed\n")
    shutil.rmtree(os.path.join(root, "dir"))
    os.mkdir(os.path.join(root, "dir"))  # now opaque
    with open(os.path.join(root, "dir/fresh"), "wb") as f:
        f.write(b"fresh")
    os.makedirs(os.path.join(root, "new"))
    with open(os.path.join(root, "new/big2"), "wb") as f:
        f.write(BIG[::-1])
    os.link(os.path.join(root, "new/big2"), os.path.join(root, "new/big2-link"))
    os.link(os.path.join(root, "new/big2"), os.path.join(root, "other/big2-link"))
    os.symlink("../data/big", os.path.join(root, "new/sym"))
    os.chmod(os.path.join(root, "chmodded"), 0o640)
    os.chown(os.path.join(root, "chmodded"), 12, 34)
    os.setxattr(os.path.join(root, "new/big2"), "user.note", b"\xff\x00binary")
    os.utime(os.path.join(root, "new/big2"), ns=(1_700_000_000_123_456_789, 1_700_000_000_123_456_789))


def _tree(root: str) -> dict[str, tuple]:
    """Everything a tar can carry about each path below ``root``, hard links as groups."""
    out: dict[str, tuple] = {}
    inodes: dict[tuple[int, int], list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            xattrs = {k: os.getxattr(full, k, follow_symlinks=False)
                      for k in os.listxattr(full, follow_symlinks=False) if not k.startswith("trusted.overlay.")}
            if stat.S_ISREG(st.st_mode):
                with open(full, "rb") as f:
                    body: object = hashlib.sha256(f.read()).hexdigest()
                if st.st_nlink > 1:
                    inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif stat.S_ISLNK(st.st_mode):
                body = os.readlink(full)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                body = (os.major(st.st_rdev), os.minor(st.st_rdev))
            else:
                body = None
            mtime = st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) else None
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, mtime, body, xattrs)
    out["<links>"] = tuple(sorted(tuple(sorted(g)) for g in inodes.values() if len(g) > 1))
    return out


def _assert_same_tree(got: dict[str, tuple], want: dict[str, tuple]) -> None:
    """Equal trees; mtimes within 2 µs (a PAX mtime is a float of seconds)."""
    assert set(got) == set(want)
    for rel, entry in want.items():
        if rel == "<links>":
            assert got[rel] == entry
            continue
        assert got[rel][:4] + got[rel][5:] == entry[:4] + entry[5:], rel
        if entry[4] is not None:
            assert abs(got[rel][4] - entry[4]) <= 2000, rel


def _tarfile_reference(root: str) -> bytes:
    """What tarfile's own writer makes of the tree (the engine's former export)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            reldir = os.path.relpath(dirpath, root)
            for name in sorted(dirnames + filenames):
                rel = name if reldir == "." else f"{reldir}/{name}"
                full = os.path.join(dirpath, name)
                info = tf.gettarinfo(full, arcname=rel)
                info.uname = info.gname = ""
                xattrs = {f"SCHILY.xattr.{k}": os.getxattr(full, k, follow_symlinks=False).decode("utf-8", "surrogateescape")
                          for k in os.listxattr(full, follow_symlinks=False)
                          if not k.startswith(("trusted.overlay.", "user.overlay."))}
                if xattrs:
                    info.pax_headers = {**info.pax_headers, **xattrs}
                if info.isreg():
                    with open(full, "rb") as f:
                        tf.addfile(info, f)
                else:
                    tf.addfile(info)
    return buf.getvalue()


def _extract_with_gnu_tar(data: bytes, dest: str) -> None:
    os.makedirs(dest)
    subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", "-xpf", "-", "-C", dest],
                   input=data, check=True, capture_output=True, timeout=60)


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path)]


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture(params=["overlay", "vfs"])
def container(request: pytest.FixtureRequest, tmp_path):
    store = Store(str(tmp_path / "storage"), str(tmp_path / "run"), request.param)
    try:
        base = store.create_layer(None, io.BytesIO(_base_tar()))
        cid = store.create_container_layer(base.id)
        root = store.mount(cid)
        try:
            _change_container(root)
        finally:
            store.unmount(cid)
        yield store, cid
    finally:
        for target in reversed(_mounts_under(str(tmp_path))):
            subprocess.run(["umount", "-l", target], check=False)
    assert not _mounts_under(str(tmp_path)), "mounts left behind"


def _export_to_file(store: Store, cid: str, path: str) -> bytes:
    with open(path, "wb", buffering=0) as out:
        store.export(cid, out)
    with open(path, "rb") as f:
        return f.read()


@pytest.mark.parametrize("mounted", [False, True], ids=["unmounted", "mounted"])
def test_export_equals_mounted_rootfs(container, tmp_path, monkeypatch, mounted: bool) -> None:
    store, cid = container
    fds = _open_fds()
    root = store.mount(cid)
    try:
        want = _tree(root)
        reference = _tarfile_reference(root)
        if not mounted:
            store.unmount(cid)
            assert not store.is_mounted(cid)
            view = store._export_view(cid)
            if view is not None:  # Linux >= 6.8: the export must not mount at all
                os.close(view)
                monkeypatch.setattr(store, "mount", lambda *_: pytest.fail("export mounted the layer"))
        data = _export_to_file(store, cid, str(tmp_path / "out.tar"))
    finally:
        if mounted:
            store.unmount(cid)
    assert not store.is_mounted(cid)
    assert _open_fds() == fds  # the detached view's descriptor is closed
    assert "gone" not in want and "dir/old" not in want and "dir/fresh" in want  # the setup did what it says
    # overlay's copy-up takes data/hl2 out of its link group; vfs changes the shared inode
    lower_group = ("data/hl1", "other/hl3") if store.driver == "overlay" else ("data/hl1", "data/hl2", "other/hl3")
    assert want["<links>"] == (lower_group, ("new/big2", "new/big2-link", "other/big2-link"))

    assert data == reference
    assert len(data) % tarfile.RECORDSIZE == 0
    _extract_with_gnu_tar(data, str(tmp_path / "x"))
    _assert_same_tree(_tree(str(tmp_path / "x")), want)

    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        members = {m.name: m for m in tf.getmembers()}
        assert set(members) == set(want) - {"<links>"}
        assert tf.extractfile("data/big").read() == BIG  # type: ignore[union-attr]
        assert members["new/big2"].pax_headers["SCHILY.xattr.user.note"].encode("utf-8", "surrogateescape") == b"\xff\x00binary"
        assert members["new/big2"].mtime == 1_700_000_000.123456789
        assert members["dev/null"].ischr() and members["fifo"].isfifo() and members["abs"].issym()


def test_export_to_a_file_object_pipe_and_append_fd(container, tmp_path) -> None:
    """Without a descriptor (BytesIO), into a pipe and with O_APPEND (no sendfile): same bytes."""
    store, cid = container
    want = _export_to_file(store, cid, str(tmp_path / "out.tar"))

    buf = io.BytesIO(b"prefix")
    buf.seek(0, io.SEEK_END)
    store.export(cid, buf)
    assert buf.getvalue() == b"prefix" + want

    r, w = os.pipe()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(b"".join(iter(lambda: os.read(r, 1 << 16), b""))))
    reader.start()
    try:
        with open(w, "wb") as pipe:  # buffered: what is buffered goes first
            pipe.write(b"head")
            store.export(cid, pipe)
    finally:
        reader.join(30)
        os.close(r)
    assert got == [b"head" + want]

    path = str(tmp_path / "append.tar")
    with open(path, "wb") as f:
        f.write(b"x" * 10)
    with open(path, "ab") as out:
        store.export(cid, out)
        assert out.tell() == 10 + len(want)
    with open(path, "rb") as f:
        assert f.read() == b"x" * 10 + want


@pytest.mark.parametrize("real_size", [4, 300_000], ids=["small-read", "large-sendfile"])
def test_write_tree_tar_of_a_shrinking_file_fails(tmp_path, real_size: int) -> None:
    """A file that is shorter than its stat said cannot silently yield a corrupt tar."""
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "f").write_bytes(b"d" * real_size)
    real_lstat = os.lstat

    def lying_lstat(path, *args, **kwargs):  # type: ignore[no-untyped-def]
        st = real_lstat(path, *args, **kwargs)
        if str(path).endswith("/f"):
            fields = list(st)
            fields[stat.ST_SIZE] = real_size + 5000
            return os.stat_result(fields)
        return st

    with open(tmp_path / "out.tar", "wb", buffering=0) as out:
        os.lstat = lying_lstat  # type: ignore[assignment]
        try:
            with pytest.raises(OSError, match="unexpected end of data"):
                write_tree_tar(str(tmp_path / "t"), out)
        finally:
            os.lstat = real_lstat  # type: ignore[assignment]


def test_replace_keeps_rename_semantics(tmp_path) -> None:
    from pypod.cli.commands.storagecmds import _replace

    dest, tmp = tmp_path / "out.tar", tmp_path / "out.tar.tmp"
    tmp.write_bytes(b"new")
    _replace(str(tmp), str(dest))  # no destination yet
    assert dest.read_bytes() == b"new" and not tmp.exists()
    tmp.write_bytes(b"newer")
    _replace(str(tmp), str(dest))  # over a file
    assert dest.read_bytes() == b"newer" and not tmp.exists()
    target = tmp_path / "target"
    target.write_bytes(b"keep")
    dest.unlink()
    dest.symlink_to(target)
    tmp.write_bytes(b"over the link")
    _replace(str(tmp), str(dest))  # the link is replaced, its target untouched
    assert not dest.is_symlink() and dest.read_bytes() == b"over the link" and target.read_bytes() == b"keep"
    (tmp_path / "adir").mkdir()
    tmp.write_bytes(b"x")
    with pytest.raises(OSError):
        _replace(str(tmp), str(tmp_path / "adir"))
    assert (tmp_path / "adir").is_dir()
