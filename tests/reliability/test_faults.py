"""Faults of the parts: missing runtime/conmon, a full graph root, a corrupt DB row, a lost layer."""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import tarfile

import pytest
from conftest import BUSYBOX_IMAGE
from pypodcli import Pypod, Result
from relcheck import LONG_RUNNING, assert_store_sane, command_available, image_ids


def one_clear_line(result: Result, *words: str) -> None:
    """rc 125, stderr is exactly one `Error: ...` line containing ``words``."""
    assert result.rc == 125, result.describe()
    lines = [line for line in result.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.describe()
    for word in words:
        assert word in lines[0], result.describe()


def test_missing_runtime(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    result = p("--runtime", "/nonexistent/runc", "run", "--rm", BUSYBOX_IMAGE, "true")
    one_clear_line(result, "/nonexistent/runc")
    p.ok("run", "--rm", BUSYBOX_IMAGE, "true")
    assert_store_sane(p, start_survivors=False)


def test_missing_conmon(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    result = p("--conmon", "/nonexistent", "run", "-d", BUSYBOX_IMAGE, *LONG_RUNNING.split())
    one_clear_line(result, "/nonexistent")
    p.ok("run", "--rm", BUSYBOX_IMAGE, "true")
    assert_store_sane(p, start_survivors=False)


@pytest.fixture
def small_root(pypod: Pypod, busybox_rootfs_tar: str) -> Pypod:
    """A pypod whose graph root is a 20 MB tmpfs holding localhost/busybox."""
    os.makedirs(pypod.root, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", pypod.root],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (needs root and CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    result = pypod("import", busybox_rootfs_tar, BUSYBOX_IMAGE, "--change", 'CMD ["sh"]')
    if result.rc != 0:
        pytest.fail(result.describe())
    return pypod  # the pypod fixture's cleanup unmounts everything under its base


def _big_rootfs_tar(path: str, size: int) -> str:
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("big.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return path


def test_full_graph_root(small_root: Pypod, tmp_path) -> None:
    p = small_root
    before = image_ids(p)
    big = _big_rootfs_tar(str(tmp_path / "big.tar"), 24 * 1024 * 1024)
    result = p("import", big, "localhost/big:latest")
    one_clear_line(result, "no space left on device")
    assert image_ids(p) == before, "a half-written image is listed"

    p.ok("run", "-d", "--name", "keeper", BUSYBOX_IMAGE, *LONG_RUNNING.split())
    if command_available(p, "commit"):
        p.ok("run", "--name", "filler", BUSYBOX_IMAGE, "dd", "if=/dev/urandom", "of=/f", "bs=1M", "count=12")
        committed = p("commit", "filler", "localhost/filled:latest")
        assert committed.rc == 0 or "no space left on device" in committed.err, committed.describe()
        if committed.rc != 0:
            one_clear_line(committed, "no space left on device")
            assert image_ids(p) == before
        p.ok("rm", "filler")
    writer = p("run", "--rm", BUSYBOX_IMAGE, "dd", "if=/dev/zero", "of=/fill", "bs=1M", "count=40")
    assert writer.rc != 0 and "Traceback" not in writer.err, writer.describe()
    # D4 (fixed): the filler's --rm removal freed the space; the engine answers and works again
    assert "disk is full" not in writer.err, writer.describe()
    p.ok("ps", "-a")
    p.ok("exec", "keeper", "true")
    p.ok("run", "--rm", BUSYBOX_IMAGE, "true")
    assert_store_sane(p)


def test_corrupt_db_row(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    good = p.ok("create", "--name", "good", BUSYBOX_IMAGE, *LONG_RUNNING.split()).out.strip()
    bad = p.ok("create", "--name", "bad", BUSYBOX_IMAGE, *LONG_RUNNING.split()).out.strip()
    con = sqlite3.connect(os.path.join(p.root, "state.db"), timeout=30)
    with con:
        con.execute("UPDATE containers SET config = ? WHERE id = ?", ("{not json", bad))
    con.close()
    p.ok("start", "good")
    p.ok("exec", "good", "true")
    p.ok("inspect", good)
    # D5: listings leave the broken row out with one warning line naming it
    listing = p.ok("ps", "-a", "--no-trunc")
    assert good in listing.out and bad not in listing.out, listing.describe()
    warnings = [line for line in listing.err.splitlines() if line.strip()]
    assert len(warnings) == 1 and bad in warnings[0] and "corrupt" in warnings[0], listing.describe()
    for argv in (["inspect", bad], ["start", bad]):
        one_clear_line(p(*argv))
    p.ok("rm", "-f", "bad")  # by name: row, name, lock number and storage go
    one_clear_line(p("inspect", bad), "no such")
    assert bad not in p.ok("ps", "-a", "--no-trunc").out
    p.ok("create", "--name", "bad", BUSYBOX_IMAGE, "true")  # the name is free again
    p.ok("stop", "-t", "0", "good")
    p.ok("ps", "-a")
    assert_store_sane(p)


def test_deleted_layer_directory(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    p.ok("create", "--name", "victim", BUSYBOX_IMAGE, *LONG_RUNNING.split())
    p.ok("run", "-d", "--name", "other", BUSYBOX_IMAGE, *LONG_RUNNING.split())
    info = json.loads(p.ok("container", "inspect", "victim").out)[0]
    upper = info["GraphDriver"]["Data"]["UpperDir"]
    assert os.path.isabs(upper), info["GraphDriver"]  # D15: absolute like podman's
    layer_dir = os.path.dirname(upper)
    assert layer_dir.startswith(os.path.join(p.root, "storage") + os.sep), info["GraphDriver"]
    assert os.path.isdir(layer_dir), info["GraphDriver"]
    subprocess.run(["rm", "-rf", layer_dir], check=True)
    one_clear_line(p("start", "victim"))
    p.ok("rm", "-f", "victim")
    p.ok("exec", "other", "true")
    assert_store_sane(p)
