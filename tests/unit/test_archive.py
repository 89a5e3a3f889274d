"""Safe layer extraction: hostile archives are refused and nothing lands outside."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import stat
import tarfile
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pypod.errors import DigestMismatch, HostileArchive, StorageError
from pypod.libpod.storage.archive import HashingReader, extract_layer, extract_stream, open_maybe_compressed

IS_ROOT = os.geteuid() == 0


# --- helpers -------------------------------------------------------------------
def reg(name: str, data: bytes = b"", mode: int = 0o644, **attrs: object) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    for k, v in attrs.items():
        setattr(info, k, v)
    return info, data


def typed(name: str, kind: bytes, linkname: str = "", mode: int = 0o755, **attrs: object) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = mode
    for k, v in attrs.items():
        setattr(info, k, v)
    return info, None


def make_tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in entries:
            tf.addfile(info, io.BytesIO(data) if data is not None and info.isreg() else None)
    return buf.getvalue()


def snapshot(path: str) -> dict[str, tuple[int, int, bytes | str | None]]:
    """Every entry below ``path`` with its type, mode and content."""
    out: dict[str, tuple[int, int, bytes | str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            st_ = os.lstat(full)
            content: bytes | str | None = None
            if stat.S_ISREG(st_.st_mode):
                with open(full, "rb") as f:
                    content = f.read()
            elif stat.S_ISLNK(st_.st_mode):
                content = os.readlink(full)
            out[os.path.relpath(full, path)] = (st_.st_mode, st_.st_mtime_ns, content)
    return out


@pytest.fixture
def area(tmp_path):
    """tmp/target (extraction root) next to tmp/sentinel (must stay untouched)."""
    target = tmp_path / "target"
    sentinel = tmp_path / "sentinel"
    target.mkdir()
    sentinel.mkdir()
    (sentinel / "file").write_text("keep")
    (sentinel / "keep").write_text("keep")
    (sentinel / "dir").mkdir()
    (sentinel / "dir" / "inner").write_text("inner")
    before = snapshot(str(sentinel))
    yield target, sentinel
    assert snapshot(str(sentinel)) == before, "something was written outside the target"
    assert sorted(os.listdir(tmp_path)) == ["sentinel", "target"]


def extract(data: bytes, target, whiteouts: str = "overlay") -> None:
    extract_layer(io.BytesIO(data), str(target), whiteouts=whiteouts)  # type: ignore[arg-type]


# --- hostile archives ------------------------------------------------------------
def hostile_cases(sentinel: str) -> dict[str, list]:
    return {
        "dotdot": [reg("../pwned", b"x")],
        "dotdot-inner": [reg("a/../../pwned", b"x")],
        "dotdot-sentinel": [reg("../sentinel/file", b"overwritten")],
        "symlink-then-write": [typed("link", tarfile.SYMTYPE, sentinel), reg("link/pwned", b"x")],
        "relative-symlink-then-write": [typed("link", tarfile.SYMTYPE, "../sentinel"), reg("link/file", b"x")],
        "symlink-then-dir": [typed("link", tarfile.SYMTYPE, sentinel), typed("link/sub", tarfile.DIRTYPE)],
        "symlink-etc-hardlink": [typed("etc", tarfile.SYMTYPE, sentinel), typed("x", tarfile.LNKTYPE, "etc/file")],
        "hardlink-outside": [typed("x", tarfile.LNKTYPE, "../sentinel/file")],
        "hardlink-absolute-outside": [typed("x", tarfile.LNKTYPE, sentinel + "/file")],
        "hardlink-missing": [typed("x", tarfile.LNKTYPE, "nothing-here")],
        "hardlink-to-dir": [typed("d", tarfile.DIRTYPE), typed("x", tarfile.LNKTYPE, "d")],
        "symlink-loop": [
            typed("a", tarfile.SYMTYPE, "b"),
            typed("b", tarfile.SYMTYPE, "a"),
            reg("a/x", b"x"),
        ],
        "whiteout-dotdot": [reg("../.wh.keep")],
        "whiteout-through-symlink": [typed("d", tarfile.SYMTYPE, sentinel), reg("d/.wh.keep")],
        "opaque-through-symlink": [typed("d", tarfile.SYMTYPE, sentinel + "/dir"), reg("d/.wh..wh..opq")],
        "whiteout-empty-name": [reg(".wh.")],
        "whiteout-dot": [reg(".wh..")],
        "whiteout-dotdot-name": [reg(".wh...")],
        "device-dotdot": [typed("../dev0", tarfile.CHRTYPE, mode=0o600, devmajor=1, devminor=3)],
        "fifo-through-symlink": [typed("d", tarfile.SYMTYPE, sentinel), typed("d/fifo", tarfile.FIFOTYPE)],
        "very-long-name": [reg("a" * 300, b"x")],
        "very-long-path-component": [reg("d/" + "b" * 256 + "/f", b"x")],
        "root-entry": [reg(".", b"x")],
        "duplicate-file-to-dir": [reg("x", b"file"), typed("x", tarfile.DIRTYPE)],
        "duplicate-dir-to-file": [typed("y", tarfile.DIRTYPE), reg("y/z", b"z"), reg("y", b"file")],
        "file-as-parent": [reg("f", b"x"), reg("f/child", b"x")],
        "overlay-xattr": [reg("f", b"x", pax_headers={"SCHILY.xattr.trusted.overlay.redirect": "/x"})],
    }


HOSTILE_NAMES = sorted(hostile_cases("/s"))


@pytest.mark.skipif(not IS_ROOT, reason="needs root (chown/mknod during extraction)")
@pytest.mark.parametrize("whiteouts", ["overlay", "vfs"])
@pytest.mark.parametrize("case", HOSTILE_NAMES)
def test_hostile_archive_refused(area, case, whiteouts):
    target, sentinel = area
    data = make_tar(hostile_cases(str(sentinel))[case])
    with pytest.raises(HostileArchive) as exc:
        extract(data, target, whiteouts)
    assert "\n" not in str(exc.value)


def test_hostile_message_names_the_entry(area):
    target, _ = area
    with pytest.raises(HostileArchive, match=r"\.\./pwned"):
        extract(make_tar([reg("../pwned", b"x")]), target)


def test_absolute_names_are_made_relative(area):
    target, sentinel = area
    extract(make_tar([reg(str(sentinel) + "/file", b"inside"), reg("/abs", b"a")]), target)
    assert (target / str(sentinel).lstrip("/") / "file").read_bytes() == b"inside"
    assert (target / "abs").read_bytes() == b"a"


def test_replacing_planted_symlink_does_not_follow_it(area):
    target, sentinel = area
    extract(make_tar([typed("f", tarfile.SYMTYPE, str(sentinel / "file")), reg("f", b"new")]), target)
    assert (target / "f").read_bytes() == b"new"
    assert not (target / "f").is_symlink()


def test_hardlink_to_symlink_links_the_symlink_itself(area):
    target, sentinel = area
    extract(make_tar([typed("s", tarfile.SYMTYPE, str(sentinel / "file")), typed("h", tarfile.LNKTYPE, "s")]), target)
    assert os.readlink(target / "h") == str(sentinel / "file")


def test_truncated_gzip(area):
    target, _ = area
    data = gzip.compress(make_tar([reg("f", os.urandom(200_000))]))
    with pytest.raises(StorageError):
        extract(data[: len(data) // 2], target)


def test_truncated_tar(area):
    target, _ = area
    data = make_tar([reg("f", b"y" * 5000)])
    with pytest.raises(StorageError):
        extract(data[:2048], target)


def test_garbage_is_refused(area):
    target, _ = area
    with pytest.raises(StorageError):
        extract(b"\x1f\x8bnot really gzip" * 10, target)
    with pytest.raises(StorageError):
        extract(b"", target)


def test_digest_mismatch(area):
    target, _ = area
    data = gzip.compress(make_tar([reg("f", b"x")]))
    with pytest.raises(DigestMismatch):
        extract_stream(io.BytesIO(data), str(target), compressed_digest="sha256:" + "0" * 64)


# --- correct extraction ------------------------------------------------------------
@pytest.mark.skipif(not IS_ROOT, reason="needs root (chown/mknod/trusted xattrs)")
def test_overlay_whiteouts_and_metadata(tmp_path):
    data = make_tar(
        [
            typed("etc", tarfile.DIRTYPE, mode=0o755, mtime=1000),
            reg("etc/.wh.shadow"),
            typed("opq", tarfile.DIRTYPE),
            reg("opq/.wh..wh..opq"),
            reg("opq/new", b"n"),
            reg("bin/su", b"su", mode=0o4755, uid=0, gid=0, mtime=1234),
            reg("data", b"d", uid=1000, gid=1001, pax_headers={"SCHILY.xattr.user.test": "v\u00e9"}),
            typed("hl", tarfile.LNKTYPE, "data"),
            typed("sl", tarfile.SYMTYPE, "/etc/passwd"),
            typed("fifo", tarfile.FIFOTYPE, mode=0o600),
            typed("null", tarfile.CHRTYPE, mode=0o666, devmajor=1, devminor=3),
        ]
    )
    res = extract_stream(io.BytesIO(data), str(tmp_path), whiteouts="overlay")
    import hashlib

    assert res.diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    wh = os.lstat(tmp_path / "etc" / "shadow")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == 0
    assert os.getxattr(tmp_path / "opq", "trusted.overlay.opaque") == b"y"
    su = os.lstat(tmp_path / "bin" / "su")
    assert stat.S_IMODE(su.st_mode) == 0o4755 and su.st_mtime == 1234
    d = os.lstat(tmp_path / "data")
    assert (d.st_uid, d.st_gid, d.st_nlink) == (1000, 1001, 2)
    assert os.getxattr(tmp_path / "data", "user.test") == "vé".encode()
    assert os.readlink(tmp_path / "sl") == "/etc/passwd"
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert os.lstat(tmp_path / "null").st_rdev == os.makedev(1, 3)
    assert os.lstat(tmp_path / "etc").st_mtime == 1000


@pytest.mark.skipif(not IS_ROOT, reason="needs root (chown)")
def test_vfs_whiteouts_delete_lower_content(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "shadow").write_text("s")
    (tmp_path / "opq").mkdir()
    (tmp_path / "opq" / "old").write_text("o")
    data = make_tar([reg("etc/.wh.shadow"), reg("opq/keep", b"k"), reg("opq/.wh..wh..opq")])
    extract(data, tmp_path, "vfs")
    assert not (tmp_path / "etc" / "shadow").exists()
    assert sorted(os.listdir(tmp_path / "opq")) == ["keep"]


def test_compression_detection():
    data = make_tar([reg("f", b"hello")])
    import bz2
    import lzma

    import zstandard

    for packed in (data, gzip.compress(data), zstandard.ZstdCompressor().compress(data), bz2.compress(data), lzma.compress(data)):
        assert open_maybe_compressed(io.BytesIO(packed)).read() == data


def test_hashing_reader():
    r = HashingReader(io.BytesIO(b"abc"))
    assert r.read() == b"abc"
    assert r.digest() == "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    r.verify(r.digest())
    with pytest.raises(DigestMismatch):
        r.verify("sha256:" + "1" * 64)


# --- property test -------------------------------------------------------------------
_COMPONENTS = st.sampled_from(["..", ".", "a", "b", "l", ".wh.a", ".wh..wh..opq", ".wh.", "", "/", "c" * 260])
_NAMES = st.lists(_COMPONENTS, min_size=1, max_size=5).map("/".join)
_ENTRY = st.tuples(st.sampled_from(["file", "dir", "sym", "lnk", "fifo"]), _NAMES, _NAMES)


@pytest.mark.skipif(not IS_ROOT, reason="needs root (chown during extraction)")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=st.lists(_ENTRY, min_size=1, max_size=6), whiteouts=st.sampled_from(["overlay", "vfs"]))
def test_random_names_only_typed_errors(entries, whiteouts):
    base = tempfile.mkdtemp(prefix="pypod-prop-")
    try:
        target = os.path.join(base, "target")
        sentinel = os.path.join(base, "sentinel")
        os.mkdir(target)
        os.mkdir(sentinel)
        with open(os.path.join(sentinel, "a"), "w") as f:
            f.write("keep")
        members = []
        for kind, name, other in entries:
            if kind == "file":
                members.append(reg(name, b"data"))
            elif kind == "dir":
                members.append(typed(name, tarfile.DIRTYPE))
            elif kind == "sym":
                members.append(typed(name, tarfile.SYMTYPE, other.replace("l", "../sentinel")))
            elif kind == "lnk":
                members.append(typed(name, tarfile.LNKTYPE, other))
            else:
                members.append(typed(name, tarfile.FIFOTYPE))
        before = snapshot(sentinel)
        try:
            data = make_tar(members)
        except (ValueError, tarfile.TarError):
            return
        try:
            extract_layer(io.BytesIO(data), target, whiteouts=whiteouts)  # type: ignore[arg-type]
        except StorageError:
            pass
        assert snapshot(sentinel) == before
        assert sorted(os.listdir(base)) == ["sentinel", "target"]
    finally:
        shutil.rmtree(base)
