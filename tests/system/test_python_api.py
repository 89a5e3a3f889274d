"""The README's "Python API" example runs as written and prints what the README says."""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pypodcli import SRC_DIR, missing_engine_parts, mounts_under, processes_mentioning, wait_for

README = Path(__file__).resolve().parent.parent.parent / "README.md"
MNT_DETACH = 2


def readme_example() -> str:
    """The first ```python block of the README's "## Python API" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README's Python API section has no ```python block"
    return match.group(1)


def _engine_processes(base: str) -> list[int]:
    """conmon, catatonit and the exit-command `python -m pypod ... container cleanup` in ``base``."""
    return processes_mentioning(base, names=("conmon", "catatonit", "python", "python3", "python3.11"))


def _clean(base: str) -> None:
    try:  # conmon's exit command may still be running: let it finish before deleting its roots
        wait_for(lambda: not _engine_processes(base), 30, message="engine processes of the example")
    except AssertionError:
        pass
    for pid in _engine_processes(base):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    libc = ctypes.CDLL(None, use_errno=True)
    for point in mounts_under(base):
        libc.umount2(point.encode(), MNT_DETACH)
    shutil.rmtree(base, ignore_errors=True)


def test_readme_python_api_example(busybox_rootfs_tar: str) -> None:
    reason = missing_engine_parts()
    if reason:
        pytest.skip(reason)
    code = readme_example()
    assert "pypod.Runtime(" in code and "ContainerConfig(" in code
    base = tempfile.mkdtemp(prefix="pa-", dir="/tmp")  # the example's tempfile.mkdtemp lands in here
    try:
        env = {**os.environ, "PYTHONPATH": SRC_DIR, "TMPDIR": base, "BUSYBOX_ROOTFS_TAR": busybox_rootfs_tar}
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                              timeout=120, cwd=base)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0] == "exit code: 7", proc.stdout
        assert re.fullmatch(r"log: hello from [0-9a-f]{12}", lines[1]), proc.stdout
        assert len(lines) == 2, proc.stdout
        # The example removed its container: nothing of it is left running or mounted.
        roots = [str(p) for p in Path(base).glob("pypod-api-*")]
        assert len(roots) == 1
        assert not list(Path(roots[0], "root", "storage", "overlay-containers").glob("*/userdata/config.json"))
        assert mounts_under(base) == []
    finally:
        _clean(base)
