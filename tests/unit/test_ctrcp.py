"""Container path resolution stays inside the root (openat2 and the manual fallback)."""

from __future__ import annotations

import os

import pytest

from pypod.libpod import ctrcp


@pytest.fixture
def root(tmp_path):  # type: ignore[no-untyped-def]
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "etc" / "passwd").write_text("container\n")
    (r / "dir").mkdir()
    os.symlink("/etc", r / "abs")
    os.symlink("../../../../etc/passwd", r / "dir" / "rel")
    os.symlink("/nonexistent-host-dir", r / "dangling")
    os.symlink("loop2", r / "loop1")
    os.symlink("loop1", r / "loop2")
    return str(r)


def _read(fd: int) -> str:
    try:
        with open(f"/proc/self/fd/{fd}") as f:
            return f.read()
    finally:
        os.close(fd)


@pytest.mark.parametrize("mode", ["openat2", "manual"])
def test_symlinks_resolve_inside_root(root: str, mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if mode == "manual":
        monkeypatch.setattr(ctrcp, "_openat2_works", False)
    assert _read(ctrcp.resolve_in_root(root, "/abs/passwd")) == "container\n"
    assert _read(ctrcp.resolve_in_root(root, "/dir/rel")) == "container\n"
    assert _read(ctrcp.resolve_in_root(root, "/../../etc/passwd")) == "container\n"
    with pytest.raises(FileNotFoundError):
        ctrcp.resolve_in_root(root, "/dangling")
    with pytest.raises(OSError):
        ctrcp.resolve_in_root(root, "/loop1")
    fd = ctrcp.resolve_in_root(root, "/abs", follow_final=False)
    try:
        assert os.readlink(f"/proc/self/fd/{fd}") == os.path.join(root, "abs")
    finally:
        os.close(fd)
