"""Fixtures shared by every test: private pypod roots, the busybox image, slow-test switch."""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from pypodcli import (  # noqa: E402
    Pypod,
    build_busybox_rootfs_tar,
    missing_engine_parts,
    mounts_under,
    processes_mentioning,
)

BUSYBOX_IMAGE = "localhost/busybox:latest"
SLOW_REASON = "long variant: run with --run-slow"
MNT_DETACH = 2


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-slow", action="store_true", default=False, help="run tests marked slow")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: long variants, run with --run-slow")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-slow"):
        return
    skip_slow = pytest.mark.skip(reason=SLOW_REASON)
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip_slow)


def _cli_available() -> bool:
    try:
        return importlib.util.find_spec("pypod.cli.main") is not None
    except ImportError:
        return False


def _umount_lazy(path: str) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.umount2(path.encode(), MNT_DETACH) == 0:
            return
    except OSError:
        pass
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def _delete_runtime_leftovers(runroot: str) -> None:
    """Force-delete containers the OCI runtime still knows in this run root."""
    for runtime in ("runc", "crun"):
        state_root = os.path.join(runroot, runtime)
        binary = shutil.which(runtime)
        if not binary or not os.path.isdir(state_root):
            continue
        for ctr_id in os.listdir(state_root):
            try:
                subprocess.run(
                    [binary, "--root", state_root, "delete", "--force", ctr_id],
                    capture_output=True,
                    timeout=30,
                )
            except (OSError, subprocess.SubprocessError):
                pass


def cleanup_pypod(p: Pypod) -> None:
    """Best-effort removal of everything a test started in ``p``'s roots."""
    if _cli_available():
        try:
            p("rm", "-af", "-t", "0", timeout=60)
        except (OSError, subprocess.SubprocessError):
            pass
    _delete_runtime_leftovers(p.runroot)
    # conmon's exit command (`python -m pypod ... container cleanup`) may still be running and
    # would re-create the roots after rmtree: kill conmon first, then those processes.
    for names in (("conmon", "catatonit"), ("python", "python3", "python3.11")):
        for pid in processes_mentioning(str(p.base), names=names):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    for point in mounts_under(str(p.base)):
        _umount_lazy(point)
    shutil.rmtree(p.base, ignore_errors=True)


def new_pypod() -> Pypod:
    """A Pypod in a fresh, short directory (unix socket paths must stay under 108 bytes)."""
    return Pypod(tempfile.mkdtemp(prefix="pp-", dir="/tmp"))


@pytest.fixture
def pypod() -> Iterator[Pypod]:
    """The CLI with fresh private --root/--runroot/--tmpdir; everything is cleaned at teardown."""
    p = new_pypod()
    try:
        yield p
    finally:
        cleanup_pypod(p)


@pytest.fixture(scope="session")
def busybox_rootfs_tar(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Path of an uncompressed tar of a minimal busybox root filesystem."""
    if not os.access("/bin/busybox", os.X_OK):
        pytest.skip("/bin/busybox (busybox-static) is not installed")
    return build_busybox_rootfs_tar(tmp_path_factory.mktemp("busybox") / "rootfs.tar")


@pytest.fixture
def engine_parts() -> None:
    """Skip unless runc, conmon, busybox and overlayfs are all available."""
    reason = missing_engine_parts()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def busybox_pypod(pypod: Pypod, busybox_rootfs_tar: str) -> Pypod:
    """A pypod whose store holds localhost/busybox:latest (imported with `pypod import`)."""
    reason = missing_engine_parts()
    if reason:
        pytest.skip(reason)
    if not _cli_available():
        pytest.skip("pypod CLI (pypod.cli.main) is not written yet")
    result = pypod("import", busybox_rootfs_tar, BUSYBOX_IMAGE, "--change", 'CMD ["sh"]')
    if result.rc != 0:
        pytest.fail(f"importing {BUSYBOX_IMAGE} failed:\n{result.describe()}")
    return pypod
