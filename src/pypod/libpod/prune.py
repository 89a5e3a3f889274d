"""Engine-wide clean-ups: `system prune`, `system reset`, `system migrate`."""

from __future__ import annotations

import os
import shutil

from pypod.errors import NotFound

TYPE_CHECKING = False  # `typing` costs ~2 ms of start-up; mypy reads this as True
if TYPE_CHECKING:  # pragma: no cover
    from pypod.libpod.runtime import Runtime

LIVE = ("running", "paused", "stopping")


def prune_containers(rt: "Runtime") -> list[str]:
    """Remove every container that is not running; returns their IDs."""
    removed: list[str] = []
    for ctr in rt.list_containers():
        if ctr.state.status in LIVE:
            continue
        try:
            removed.extend(rt.remove_container(ctr, force=False, volumes=False))
        except NotFound:
            continue
    return removed


def system_prune(rt: "Runtime", *, all_images: bool, volumes: bool) -> list[tuple[str, list[str]]]:
    """Containers, then pods, images and (with volumes) volumes; returns (title, ids) sections."""
    from pypod.libpod import imageops

    report: list[tuple[str, list[str]]] = [("Containers", prune_containers(rt))]
    pods = getattr(rt, "pods", None)
    if pods is not None and hasattr(pods, "prune"):
        report.insert(0, ("Pods", pods.prune()))
    if volumes:
        report.append(("Volumes", rt.volumes.prune()))
    report.append(("Images", imageops.prune_images(rt, all=all_images)))
    return report


def system_reset(rt: "Runtime") -> None:
    """Remove every container, pod, volume, image and network, then the roots' contents."""
    from pypod.libpod import imageops

    pods = getattr(rt, "pods", None)
    if pods is not None and hasattr(pods, "remove_all"):
        pods.remove_all()
    for ctr in rt.list_containers():
        try:
            rt.remove_container(ctr, force=True, volumes=True, timeout=0)
        except NotFound:
            continue
    for vol in rt.volumes.list():
        try:
            rt.volumes.remove(vol.name, force=True)
        except NotFound:
            continue
    imageops.remove_images(rt, [], force=True, all=True)
    networks = getattr(rt, "networks", None)
    if networks is not None and hasattr(networks, "remove_all"):
        networks.remove_all()
    cfg = rt.config
    rt.close()
    for path in (cfg.root, cfg.runroot, cfg.tmpdir):
        if os.path.isdir(path):
            for name in os.listdir(path):
                target = os.path.join(path, name)
                if os.path.isdir(target) and not os.path.islink(target):
                    shutil.rmtree(target, ignore_errors=True)
                else:
                    try:
                        os.unlink(target)
                    except OSError:
                        pass


def migrate(rt: "Runtime", *, new_runtime: str = "") -> None:
    """Stop every running container (and switch its OCI runtime when asked)."""
    for ctr in rt.list_containers():
        if ctr.state.status in LIVE:
            ctr.stop()
        if new_runtime:
            ctr.config.oci_runtime = new_runtime
            rt.db.save_container_config(ctr.id, ctr.name, ctr.config.to_dict())
    rt.events.write("system", "migrate")
