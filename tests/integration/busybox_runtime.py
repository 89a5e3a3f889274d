"""A library Runtime in private directories with the busybox image, for in-process life-cycle tests.

`busybox_runtime(tar, prefix)` yields the Runtime (its directories under ``runtime.base``) and,
whatever the test did, removes its containers, runc states, conmon/runc processes and mounts.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
from typing import Any, Iterator

from pypodcli import mounts_under, processes_mentioning

IMAGE = "localhost/busybox:latest"


def umount_all(base: str) -> None:
    for point in mounts_under(base):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30)


def kill_engine_processes(base: str) -> None:
    for pid in processes_mentioning(base, names=("conmon", "runc")):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def runc_delete_all(runroot: str) -> None:
    state_root = os.path.join(runroot, "runc")
    if os.path.isdir(state_root):
        for ctr_id in os.listdir(state_root):
            subprocess.run(["runc", "--root", state_root, "delete", "--force", ctr_id], capture_output=True, timeout=30)


def is_removed(runtime: Any, ctr_id: str) -> bool:
    """Whether the container is gone from the runtime (for wait_for)."""
    from pypod.errors import NoSuchContainer

    try:
        runtime.get_container(ctr_id)
    except NoSuchContainer:
        return True
    return False


@contextlib.contextmanager
def busybox_runtime(rootfs_tar: str, prefix: str, *, working_dir: str = "") -> Iterator[Any]:
    from pypod.libpod.runtime import Runtime

    base = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    runtime = Runtime(root=f"{base}/root", runroot=f"{base}/run", tmpdir=f"{base}/tmp", storage_driver="overlay")
    runtime.base = base  # type: ignore[attr-defined]
    try:
        with open(rootfs_tar, "rb") as fh:
            layer = runtime.store.create_layer(None, fh)
        image_config: dict[str, Any] = {
            "Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        }
        if working_dir:
            image_config["WorkingDir"] = working_dir
        config = {
            "architecture": "amd64",
            "os": "linux",
            "config": image_config,
            "rootfs": {"type": "layers", "diff_ids": [f"sha256:{layer.diff_id.removeprefix('sha256:')}"]},
        }
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "layers": []}
        runtime.images.add_image(json.dumps(config).encode(), json.dumps(manifest).encode(), [layer.id], [IMAGE])
        yield runtime
    finally:
        try:
            for ctr in runtime.list_containers():
                try:
                    ctr.remove(force=True, timeout=0)
                except Exception:  # noqa: BLE001 - best effort at teardown
                    pass
        except Exception:  # noqa: BLE001
            pass
        runtime.close()
        runc_delete_all(f"{base}/run")
        kill_engine_processes(base)
        umount_all(base)
        shutil.rmtree(base, ignore_errors=True)
