"""Isolation seen from inside default containers, and the modes of the engine's own files."""

from __future__ import annotations

import os
import stat

from conftest import BUSYBOX_IMAGE
from pypodcli import Pypod

IMG = BUSYBOX_IMAGE


def status_field(p: Pypod, name: str, *flags: str) -> str:
    out = p.ok("run", "--rm", *flags, IMG, "cat", "/proc/self/status").out
    for line in out.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} not in /proc/self/status:\n{out}")


def test_default_capabilities_and_seccomp(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    assert status_field(p, "CapEff") == "00000000800405fb"
    assert status_field(p, "Seccomp") == "2"
    assert status_field(p, "NoNewPrivs", "--security-opt", "no-new-privileges") == "1"


def test_masked_and_readonly_paths(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    script = (
        "test -z \"$(head -c 16 /proc/kcore 2>/dev/null)\" || echo KCORE;"
        "test -z \"$(ls -A /sys/firmware 2>/dev/null)\" || echo FIRMWARE;"
        "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo PROCSYS;"
        "mount -t tmpfs none /mnt 2>/dev/null && echo MOUNT;"
        "mknod /tmp/sda b 8 0 2>/dev/null && head -c 1 /tmp/sda >/dev/null 2>&1 && echo MKNOD;"
        "head -c 1 /dev/sda >/dev/null 2>&1 && echo SDA;"
        "echo done"
    )
    out = p.ok("run", "--rm", IMG, "sh", "-c", script).out.split()
    assert out == ["done"], f"isolation holes: {out}"


def test_read_only_root(busybox_pypod: Pypod) -> None:
    result = busybox_pypod("run", "--rm", "--read-only", IMG, "touch", "/x")
    assert result.rc != 0, result.describe()


def test_no_view_of_host_processes(busybox_pypod: Pypod) -> None:
    out = busybox_pypod.ok("run", "--rm", IMG, "ps", "-o", "pid,comm").out.splitlines()[1:]
    pids = [line.split()[0] for line in out if line.strip()]
    assert pids == ["1"], f"the container sees other processes: {out}"


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_state_files_not_open_to_others(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    ctr = p.ok("run", "-d", IMG, "sleep", "1000").out.strip()
    checked = []
    db = os.path.join(p.root, "state.db")
    assert _mode(db) & 0o007 == 0, f"state.db is open to others: {oct(_mode(db))}"
    paths = [os.path.join(p.tmpdir, "locks"), os.path.join(p.tmpdir, "exits"),
             os.path.join(p.root, "storage", "overlay-containers", ctr, "userdata", "attach")]
    locks = os.path.join(p.tmpdir, "locks")
    paths += [os.path.join(locks, n) for n in os.listdir(locks)]
    for path in paths:
        if os.path.lexists(path):
            mode = _mode(path)
            assert mode & 0o002 == 0, f"{path} is world-writable: {oct(mode)}"
            checked.append(path)
    assert len(checked) >= 3, checked
    p.ok("rm", "-f", "-t", "0", ctr)
