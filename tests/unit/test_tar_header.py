"""The export's hand-built tar headers are byte for byte what tarfile writes."""

from __future__ import annotations

import os
import stat
import tarfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pypod.libpod.storage.archive import _entry_header

KINDS = [stat.S_IFREG, stat.S_IFDIR, stat.S_IFIFO, stat.S_IFCHR, stat.S_IFBLK]
NAME_CHARS = st.sampled_from("abcXYZ019._-/ \u00e9\u2603")


def _stat(mode: int, uid: int, gid: int, size: int, mtime: float, rdev: int, nlink: int, ino: int) -> os.stat_result:
    # (mode, ino, dev, nlink, uid, gid, size, atime, mtime, ctime) + float times, ns times, blksize, blocks, rdev
    return os.stat_result((mode, ino, 1, nlink, uid, gid, size, 0, int(mtime), 0,
                           0.0, mtime, 0.0, 0, int(mtime * 1e9), 0, 4096, 0, rdev))


def _tarfile_header(rel: str, st_: os.stat_result, kind: bytes, linkname: str) -> bytes:
    info = tarfile.TarInfo(rel)
    info.type = kind
    info.mode = st_.st_mode
    info.uid, info.gid = st_.st_uid, st_.st_gid
    info.size = st_.st_size if kind == tarfile.REGTYPE else 0
    info.mtime = st_.st_mtime
    info.linkname = linkname
    if kind in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = os.major(st_.st_rdev), os.minor(st_.st_rdev)
    info.uname = info.gname = ""
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    name=st.text(NAME_CHARS, min_size=1, max_size=130).filter(lambda n: not n.startswith("/") and "//" not in n),
    kind=st.sampled_from(KINDS),
    perm=st.integers(0, 0o7777),
    uid=st.one_of(st.integers(0, 70000), st.integers(0, 3 * 8**7)),
    gid=st.integers(0, 3 * 8**7),
    size=st.one_of(st.integers(0, 10**6), st.integers(0, 2 * 8**11)),
    mtime=st.one_of(
        st.floats(0, 4e9, allow_nan=False),
        st.integers(0, 4 * 10**9).map(float),
        st.integers(0, 4 * 10**9).map(lambda s: s + 0.5),
        st.floats(-1e6, 9e10, allow_nan=False),
    ),
    major=st.integers(0, 4095),
    minor=st.integers(0, 2**20 - 1),
    second_link=st.booleans(),
)
def test_header_matches_tarfile(tmp_path, name: str, kind: int, perm: int, uid: int, gid: int, size: int,
                                mtime: float, major: int, minor: int, second_link: bool) -> None:
    plain = tmp_path / "plain"  # a real path without xattrs: _entry_header lists them
    plain.touch()
    st_ = _stat(kind | perm, uid, gid, size, mtime, os.makedev(major, minor), 2, 7)
    links: dict[tuple[int, int], str] = {}
    if kind == stat.S_IFREG and second_link:
        links[(7, 1)] = "first/name"
    got = _entry_header(str(plain), name, st_, links)
    assert got is not None
    tar_kind = {stat.S_IFREG: tarfile.REGTYPE, stat.S_IFDIR: tarfile.DIRTYPE, stat.S_IFIFO: tarfile.FIFOTYPE,
                stat.S_IFCHR: tarfile.CHRTYPE, stat.S_IFBLK: tarfile.BLKTYPE}[kind]
    linkname = ""
    if kind == stat.S_IFREG and second_link:
        tar_kind, linkname = tarfile.LNKTYPE, "first/name"
    want = _tarfile_header(name, st_, tar_kind, linkname)
    assert got[0] == want
    assert got[1] == (size if tar_kind == tarfile.REGTYPE else 0)


def test_symlink_socket_and_xattrs(tmp_path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    os.setxattr(tmp_path / "f", "user.k", b"\xffv")
    os.symlink("t" * 150, tmp_path / "l")
    for rel in ("f", "l"):
        full = str(tmp_path / rel)
        st_ = os.lstat(full)
        header, _ = _entry_header(full, rel, st_, {})  # type: ignore[misc]
        info = tarfile.TarInfo(rel)
        info.type = tarfile.SYMTYPE if rel == "l" else tarfile.REGTYPE
        info.linkname = os.readlink(full) if rel == "l" else ""
        info.mode, info.uid, info.gid, info.mtime = st_.st_mode, st_.st_uid, st_.st_gid, st_.st_mtime
        info.size = st_.st_size if rel == "f" else 0
        info.uname = info.gname = ""
        if rel == "f":
            info.pax_headers = {"SCHILY.xattr.user.k": b"\xffv".decode("utf-8", "surrogateescape")}
        assert header == info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    import socket

    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s"))
        assert _entry_header(str(tmp_path / "s"), "s", os.lstat(tmp_path / "s"), {}) is None
    finally:
        sock.close()
