"""The shared test helpers themselves: busybox rootfs tar, CLI wrapper, cleanup."""

from __future__ import annotations

import os
import subprocess
import tarfile
from pathlib import Path

import pytest

import conftest
from pypodcli import Pypod, build_busybox_rootfs_tar, mounts_under


def test_busybox_rootfs_tar_contents(tmp_path: Path) -> None:
    if not os.access("/bin/busybox", os.X_OK):
        pytest.skip("/bin/busybox (busybox-static) is not installed")
    first = build_busybox_rootfs_tar(tmp_path / "a.tar")
    second = build_busybox_rootfs_tar(tmp_path / "b.tar")
    assert Path(first).read_bytes() == Path(second).read_bytes()  # deterministic
    with tarfile.open(first) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["bin/busybox"].isfile() and members["bin/busybox"].mode == 0o755
    assert members["bin/sh"].issym() and members["bin/sh"].linkname == "busybox"
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    passwd = tarfile.open(first).extractfile("etc/passwd").read().decode()
    assert passwd.startswith("root:x:0:0:") and "nobody:x:65534:65534:" in passwd
    assert "etc/group" in members


def test_pypod_argv_uses_private_dirs(tmp_path: Path) -> None:
    p = Pypod(tmp_path / "x")
    argv = p.argv("ps", "-a")
    assert argv[1:3] == ["-m", "pypod"]
    assert argv[3:9] == ["--root", p.root, "--runroot", p.runroot, "--tmpdir", p.tmpdir]
    assert argv[-2:] == ["ps", "-a"]


def test_cleanup_unmounts_and_removes(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a tmpfs")
    p = conftest.new_pypod()
    assert len(p.base.as_posix()) < 30
    target = p.base / "run" / "m"
    target.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(target)], check=True)
    assert mounts_under(str(p.base)) == [str(target)]
    conftest.cleanup_pypod(p)
    assert mounts_under(str(p.base)) == []
    assert not p.base.exists()
