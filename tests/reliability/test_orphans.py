"""D21: container directories without a container row (a `create` killed between making them
and writing its row) are collected by `rm -a`; a real container's directories stay."""

from __future__ import annotations

import os

from conftest import BUSYBOX_IMAGE
from pypodcli import Pypod
from relcheck import LONG_RUNNING, assert_store_sane, leftover_container_dirs


def test_orphaned_container_dirs_collected_by_rm_all(busybox_pypod: Pypod) -> None:
    p = busybox_pypod
    keeper = p.ok("create", "--name", "keeper", BUSYBOX_IMAGE, *LONG_RUNNING.split()).out.strip()
    orphan = "ab" * 32
    made = [os.path.join(p.root, "storage", "overlay-containers", orphan, "userdata"),
            os.path.join(p.runroot, "overlay-containers", orphan, "userdata")]
    for directory in made:
        os.makedirs(directory)
        with open(os.path.join(directory, "config.json"), "w") as f:
            f.write("{}")
    p.ok("rm", "-a")  # keeper is only created, so rm -a removes it too: the second part keeps one
    assert not any(os.path.exists(os.path.dirname(d)) for d in made), leftover_container_dirs(p)
    assert keeper not in p.ok("ps", "-aq", "--no-trunc").out

    survivor = p.ok("create", "--name", "survivor", BUSYBOX_IMAGE, *LONG_RUNNING.split()).out.strip()
    for directory in made:
        os.makedirs(directory)
    p("rmi", "localhost/nosuch:latest")  # rmi always ends with the gc, also when it fails
    assert not any(os.path.exists(os.path.dirname(d)) for d in made), leftover_container_dirs(p)
    assert any(survivor in d for d in leftover_container_dirs(p)), "the real container's dirs went"
    p.ok("start", "survivor")
    p.ok("exec", "survivor", "true")
    assert_store_sane(p)
